/*
 * The page's Web Storage and random ids, through the captured built-ins.
 *
 * The Storage objects' getters (on the window itself) are read when used:
 * reading them throws where storage is blocked, and then nothing is kept.
 */
import { W, U8, each, fromJSON, getDesc, getItem, removeItem, rnd, setItem, toJSON, un } from './builtins.js';

var storages = {};
each(['localStorage', 'sessionStorage'], function (k) {
  try {
    var d = getDesc(W, k);
    storages[k] = d && d.get && un(d.get);
  } catch (_) {
    /* none */
  }
});

function storage(kind) {
  try {
    return storages[kind] ? storages[kind](W) : null;
  } catch (_) {
    return null;
  }
}

/** The JSON value kept under `key`, or null. */
export function load(kind, key) {
  try {
    var s = storage(kind);
    var v = s && getItem(s, key);
    return v ? fromJSON(v) : null;
  } catch (_) {
    return null;
  }
}

/** Keeps `value` as JSON under `key`; null removes it. */
export function save(kind, key, value) {
  try {
    var s = storage(kind);
    if (s) {
      if (value === null) removeItem(s, key);
      else setItem(s, key, toJSON(value));
    }
  } catch (_) {
    /* private mode */
  }
}

/** `bytes` random bytes as lowercase hex. */
export function randomHex(bytes) {
  var a = new U8(bytes);
  rnd(a);
  var s = '';
  for (var i = 0; i < a.length; i++) s += (a[i] < 16 ? '0' : '') + a[i].toString(16);
  return s;
}
