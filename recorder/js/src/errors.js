/*
 * Console messages, uncaught errors and unhandled rejections.
 *
 * Errors raised before a recording has begun (the page's own scripts
 * failing while `reel.js`, loaded first in `<head>` without `defer`, waits
 * for the document and the wasm half) are caught by listeners installed
 * the moment `reel.js` runs (`listenEarly`), kept in a bounded buffer (in
 * the order they came), and handed to the first recording that begins
 * (`takeEarly`), which records them right after its first snapshot, at
 * the snapshot's time.
 */
import { W, indexOf, join, off, on, push, sslice, toJSON, toStr } from './builtins.js';
import { enqueue } from './queue.js';
import { now } from './session.js';

export var MAX_TEXT = 1024;
/** Console messages per recording. */
export var CONSOLE_BUDGET = 1000;
/** Errors kept from before the recording began. */
export var EARLY_MAX = 32;

/**
 * A console argument as bounded text: strings as they are, errors by
 * name and message, objects as JSON with cycles and depth cut, so a
 * self-referencing object or a huge array can never blow up the page.
 */
export function stringify(v) {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return (v.name || 'Error') + ': ' + v.message;
  if (v === null || typeof v !== 'object') return String(v);
  var seen = [];
  var budget = 200;
  try {
    return (
      toJSON(v, function (k, x) {
        if (--budget < 0) return undefined;
        if (x && typeof x === 'object') {
          if (x.nodeType) return '[' + (x.nodeName || 'node') + ']';
          if (indexOf(seen, x) >= 0 || seen.length > 20) return '[…]';
          push(seen, x);
        }
        return typeof x === 'function' || typeof x === 'symbol' || typeof x === 'bigint' ? String(x) : x;
      }) || String(v)
    );
  } catch (_) {
    try {
      return toStr(v);
    } catch (_2) {
      return '[object]';
    }
  }
}

export function clip(s) {
  s = String(s);
  return s.length > MAX_TEXT ? sslice(s, 0, MAX_TEXT) + '…' : s;
}

/** The hooked `console[level](...args)`. */
export function onConsole(r, level, args) {
  if (r.consoleBudget <= 0) return;
  r.consoleBudget--;
  var parts = [];
  var len = 0;
  for (var i = 0; i < args.length && len < MAX_TEXT; i++) {
    var s = stringify(args[i]);
    push(parts, s);
    len += s.length + 1;
  }
  enqueue(r, { k: 'console', t: now(r), level: level, text: clip(join(parts, ' ')) });
}

/** An `error` event as a raw event at `t`; null for a resource failing to
 *  load (not a script error). */
function uncaught(e, t) {
  if (!e || !(e.message || e.error)) return null;
  var err = e.error;
  return {
    k: 'err',
    t: t,
    kind: 'uncaught',
    msg: clip(e.message || stringify(err)),
    src: e.filename ? clip(e.filename + ':' + e.lineno + ':' + e.colno) : null,
    stack: err && err.stack ? clip(String(err.stack)) : null,
  };
}

/** An `unhandledrejection` event as a raw event at `t`. */
function rejection(e, t) {
  var reason = e.reason;
  return {
    k: 'err',
    t: t,
    kind: 'rejection',
    msg: clip(stringify(reason)),
    src: null,
    stack: reason && reason.stack ? clip(String(reason.stack)) : null,
  };
}

export function onError(r, e) {
  var ev = uncaught(e, now(r));
  if (ev) enqueue(r, ev);
}

export function onRejection(r, e) {
  enqueue(r, rejection(e, now(r)));
}

/* ---------------- before the recording begins ---------------- */

var early = null;

function keep(ev) {
  if (ev && early && early.list && early.list.length < EARLY_MAX) push(early.list, ev);
}

/** Starts catching errors for the first recording: called synchronously
 *  when `reel.js` runs. */
export function listenEarly() {
  if (early) return;
  var onErr = function (e) {
    try {
      keep(uncaught(e, 0)); // timed by the recording (see above)
    } catch (_) {
      /* never thrown into the page */
    }
  };
  var onRej = function (e) {
    try {
      keep(rejection(e, 0));
    } catch (_) {
      /* never thrown into the page */
    }
  };
  early = { list: [], onErr: onErr, onRej: onRej };
  on(W, 'error', onErr, false);
  on(W, 'unhandledrejection', onRej, false);
}

/** Stops catching early errors and returns those caught (oldest first). */
export function takeEarly() {
  var e = early;
  if (!e) return [];
  early = { list: null };
  off(W, 'error', e.onErr, false);
  off(W, 'unhandledrejection', e.onRej, false);
  return e.list || [];
}
