/*
 * The user's interactions: listeners on every recorded document (mouse,
 * touch, scroll, fields, focus, selection, media, frame loads) and on the
 * window (resize, visibility, page hide), all passive and capturing,
 * removed when the recording stops.
 */
import { each, keys, on, push, setT, sslice } from './builtins.js';
import { onFrameMessage } from './crossframe.js';
import { onError, onRejection } from './errors.js';
import { onFrameLoad, recorded } from './frames.js';
import { idOf } from './ids.js';
import { actionable, describe, keyName } from './labels.js';
import { MEDIA, onMedia, onToggle } from './media.js';
import { clickFacts, depth, pageChanged } from './insights.js';
import { ctxOf, fieldDesc, insideBlocked, isBlocked, M_MASK } from './privacy.js';
import { enqueue } from './queue.js';
import { pageHidden, rotate } from './recording.js';
import { later, safe, warn } from './report.js';
import { now } from './session.js';

/** Adds a listener that is removed when the recording stops; an error in
 *  it is reported, never thrown. */
export function listen(r, target, type, fn, capture) {
  var wrapped = safe(function (e) {
    return fn(r, e);
  });
  var o = { capture: !!capture, passive: true };
  on(target, type, wrapped, o);
  push(r.listeners, [target, type, wrapped, o]);
}

/** The real target of an event, inside open shadow roots. */
export function targetOf(e) {
  var p = e.composedPath && e.composedPath();
  return p && p.length ? p[0] : e.target;
}

/** The user did something: a session idle too long ends here. */
function active(r) {
  var t = now(r);
  if (r.lastActivity && t - r.lastActivity > r.idleMs) rotate(r);
  r.lastActivity = t;
}

/** Sends the mouse positions gathered so far. */
export function flushMoves(r) {
  if (r.moves && r.moves.pos.length) enqueue(r, r.moves);
  r.moves = null;
}

function onMouseMove(r, e) {
  var t = now(r);
  if (t - r.lastMoveAt < 50) return;
  active(r);
  r.lastMoveAt = t;
  if (!r.moves) r.moves = { k: 'move', t: t, pos: [] };
  push(r.moves.pos, [e.clientX, e.clientY, t - r.moves.t]);
  if (t - r.moves.t >= 500 || r.moves.pos.length >= 50) flushMoves(r);
}

/** What `js/src/labels.js` needs of this recording's privacy rules: is a
 *  node's text masked, is an element blocked (or, `deep`, inside a
 *  blocked one). One per event, its memo shared by the event's lookups. */
function labelEnv(r) {
  var memo = new Map();
  return {
    masked: function (node) {
      return (ctxOf(r, node, memo) & M_MASK) !== 0;
    },
    blocked: function (el, deep) {
      return r.blocked.has(el) || isBlocked(r, el) || (!!deep && insideBlocked(r, el));
    },
  };
}

/** The label and selector of a field, remembered for a second: typing
 *  sends an input event per key, and the field's label does not change
 *  between two keys. */
function describeField(r, el, ev, t) {
  if (!r.fieldLabels) r.fieldLabels = new WeakMap();
  var c = r.fieldLabels.get(el);
  if (!c || t - c.t > 1000) {
    c = describe(el, labelEnv(r), { t: t });
    r.fieldLabels.set(el, c);
  }
  if (c.lab !== undefined) ev.lab = c.lab;
  if (c.lm) ev.lm = c.lm;
  if (c.sel !== undefined) ev.sel = c.sel;
  return ev;
}

function onMouse(r, e) {
  active(r);
  flushMoves(r);
  var tg = targetOf(e);
  var ev = { k: 'mouse', t: now(r), kind: e.type, id: idOf(r, tg), x: e.clientX, y: e.clientY };
  // Labels for what a person calls a click, not for every press.
  if (e.type !== 'mousedown' && e.type !== 'mouseup') {
    var el = actionable(tg);
    describe(el, labelEnv(r), ev);
    clickFacts(r, e, tg, el, ev);
  }
  enqueue(r, ev);
}

/** A named key (Enter, Escape, Tab, arrows…, with modifiers) pressed:
 *  recorded with its target's label; printable characters never are. */
function onKey(r, e) {
  active(r);
  var key = keyName(e);
  if (!key) return;
  var tg = targetOf(e);
  enqueue(r, describe(tg, labelEnv(r), { k: 'key', t: now(r), id: idOf(r, tg), key: key }));
}

function onTouch(r, e) {
  var t = now(r);
  var kind = sslice(e.type, 5);
  if (kind === 'move' && t - r.lastTouchAt < 50) return;
  r.lastTouchAt = t;
  active(r);
  var pts = [];
  for (var i = 0; i < e.touches.length; i++) push(pts, [e.touches[i].clientX, e.touches[i].clientY]);
  enqueue(r, { k: 'touch', t: t, kind: kind, pts: pts });
}

/** Sends the scroll positions of what scrolled since the last time. */
export function flushScrolls(r) {
  r.scrollTimer = 0;
  var t = now(r);
  r.scrolled.forEach(function (target) {
    var id = idOf(r, target);
    if (!id) return;
    if (target.nodeType === 9) {
      var w = target.defaultView;
      var ev = { k: 'scroll', t: t, id: id, x: w ? w.scrollX : 0, y: w ? w.scrollY : 0 };
      if (target === document) ev.d = depth();
      if (w) enqueue(r, ev);
    } else {
      enqueue(r, { k: 'scroll', t: t, id: id, x: target.scrollLeft, y: target.scrollTop });
    }
  });
  r.scrolled.clear();
}

function onScroll(r, e) {
  var tg = targetOf(e);
  var d = tg.nodeType === 9 ? tg : tg.ownerDocument;
  var target = tg === d || tg === d.documentElement || tg === d.scrollingElement ? d : tg;
  r.scrolled.add(target);
  if (!r.scrollTimer) pageChanged(r);
  if (!r.scrollTimer)
    r.scrollTimer = setT(function () {
      try {
        flushScrolls(r);
      } catch (err) {
        warn(err);
      }
    }, 100);
}

function onResize(r) {
  if (r.resizeTimer) return;
  r.resizeTimer = later(function () {
    r.resizeTimer = 0;
    enqueue(r, { k: 'vp', t: now(r), w: innerWidth, h: innerHeight });
  }, 200);
}

/** The `<select multiple>` an option belongs to, if any: only there is
 *  each option's `selected` state worth recording (a single select's
 *  value says it all). */
export function inMultiple(opt) {
  var sel = opt.parentNode;
  if (sel && sel.localName === 'optgroup') sel = sel.parentNode;
  return sel && sel.localName === 'select' && sel.multiple ? sel : null;
}

/** Records a form field's live state (typed, or set by script). Only
 *  the user's edits (`user`: an `input` or `change` event) carry a label
 *  and selector: a value the page's script set has none, which is how a
 *  reproduction tells it from typing. */
export function fieldChanged(r, el, user) {
  if (!el || el.nodeType !== 1) return;
  if (el.localName === 'option') {
    el = inMultiple(el);
    if (!el) return;
  }
  var tag = el.localName;
  if (tag !== 'input' && tag !== 'textarea' && tag !== 'select') return;
  var id = idOf(r, el);
  if (!id || r.blocked.has(el) || insideBlocked(r, el) || !recorded(r, el)) return;
  if (el.type === 'password') r.sensitive.add(el);
  var check = el.type === 'checkbox' || el.type === 'radio';
  // `input` then `change`, or a framework re-setting the same value on
  // every render, record one event; but the user's edit is recorded (with
  // its label) even when the page's script set that value just before.
  var opts = tag === 'select' && el.multiple ? el.options : null;
  var key = check ? String(el.checked) : 'v' + el.value;
  for (var i = 0; opts && i < opts.length; i++) key += opts[i].selected ? '1' : '0';
  var last = r.lastField.get(el);
  if (last === 'u' + key || (!user && last === 's' + key)) return;
  r.lastField.set(el, (user ? 'u' : 's') + key);
  var t = now(r);
  var ev = fieldDesc(r, el, { k: 'input', t: t, id: id });
  if (user) describeField(r, el, ev, t);
  if (check) ev.c = el.checked;
  else ev.v = el.value;
  enqueue(r, ev);
  // Each option's state (kept or dropped by the select's masking rule,
  // which the option events carry through the select's description).
  for (var j = 0; opts && j < opts.length; j++) {
    var oid = idOf(r, opts[j]);
    if (!oid) continue;
    var oe = fieldDesc(r, el, { k: 'input', t: t, id: oid, c: opts[j].selected });
    oe.tag = 'option';
    enqueue(r, oe);
  }
}

function onInput(r, e) {
  active(r);
  fieldChanged(r, targetOf(e), true);
}

function onFocus(r, e) {
  var id = idOf(r, targetOf(e));
  if (id) enqueue(r, { k: 'focus', t: now(r), id: id, f: e.type === 'focusin' });
}

function onSelection(r) {
  if (r.selTimer) return;
  r.selTimer = setT(function () {
    r.selTimer = 0;
    try {
      var s = document.getSelection();
      if (!s) return;
      var a = idOf(r, s.anchorNode),
        f = idOf(r, s.focusNode);
      enqueue(r, { k: 'sel', t: now(r), a: a, ao: s.anchorOffset, f: f, fo: s.focusOffset });
    } catch (err) {
      warn(err);
    }
  }, 100);
}

function onFrameLoadEvent(r, e) {
  var el = e.target;
  if (el && el.nodeType === 1 && (el.localName === 'iframe' || el.localName === 'frame')) onFrameLoad(r, el);
}

function onVisibility(r) {
  enqueue(r, { k: 'vis', t: now(r), v: document.visibilityState !== 'hidden' });
  if (document.visibilityState === 'hidden') pageHidden(r);
}

/** Listeners every recorded document needs. */
export function listenDoc(r, d) {
  listen(r, d, 'mousemove', onMouseMove, true);
  each(['mousedown', 'mouseup', 'click', 'dblclick', 'contextmenu'], function (t) {
    listen(r, d, t, onMouse, true);
  });
  each(['touchstart', 'touchmove', 'touchend', 'touchcancel'], function (t) {
    listen(r, d, t, onTouch, true);
  });
  listen(r, d, 'scroll', onScroll, true);
  listen(r, d, 'input', onInput, true);
  listen(r, d, 'change', onInput, true);
  listen(r, d, 'focusin', onFocus, true);
  listen(r, d, 'focusout', onFocus, true);
  listen(r, d, 'keydown', onKey, true);
  listen(r, d, 'load', onFrameLoadEvent, true);
  each(keys(MEDIA), function (t) {
    listen(r, d, t, onMedia, true);
  });
  listen(r, d, 'toggle', onToggle, true);
}

/** Listeners on the page's window and document, once per recording. */
export function listenWindow(r) {
  listen(r, window, 'resize', onResize, false);
  listen(r, document, 'selectionchange', onSelection, false);
  listen(r, document, 'visibilitychange', onVisibility, false);
  listen(r, window, 'pagehide', pageHidden, false);
  listen(r, window, 'error', onError, false);
  listen(r, window, 'unhandledrejection', onRejection, false);
  listen(r, window, 'message', onFrameMessage, false);
}
