/*
 * Internal errors: reported, never thrown into the page.
 *
 * Every entry point, listener, observer and timer callback runs wrapped;
 * an error is logged once per kind (its message), at most 20 kinds, with
 * the `console.warn` captured at load. `busy()` is true while the recorder
 * itself is running code that could reach a hooked page API (so its own
 * console call is not recorded as the page's).
 */
import { consoleWarn, setT } from './builtins.js';

var depth = 0;
var warned = Object.create(null),
  warnings = 0;

export function busy() {
  return depth > 0;
}
export function enter() {
  depth++;
}
export function leave() {
  depth--;
}

/** Reports an internal error once per kind (its message), at most 20 kinds. */
export function warn(e) {
  depth++;
  try {
    var m = String(e && e.message ? e.message : e);
    if (!warned[m] && warnings++ < 20) {
      warned[m] = 1;
      consoleWarn('[reel]', m);
    }
  } catch (_) {
    /* nothing to do */
  }
  depth--;
}

/** `fn` as a timer or listener callback: an error in it is reported, never thrown. */
export function safe(fn) {
  return function (a) {
    try {
      return fn(a);
    } catch (e) {
      warn(e);
    }
  };
}

export function later(fn, ms) {
  return setT(safe(fn), ms);
}
