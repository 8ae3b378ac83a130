/*
 * Serialising the DOM: the full snapshot, and the subtrees that mutations
 * add (`serialize`).
 *
 * The full snapshot is walked in slices of SNAP_SLICE_MS, so a big page
 * costs several short tasks, not one long one. The observer runs from
 * the start: if the page changes anything while the walk is under way
 * (`walking.dirty`), the walk starts over and finishes in one go, which
 * is consistent by construction, and the records it saw are dropped
 * (the snapshot shows their result). Events captured meanwhile wait in
 * `walking.held` and follow the snapshot. Anything that needs the
 * recording complete (flush, a marker, a CSSOM hook, stop) finishes the
 * walk first, in one go.
 */
import { P, clearT, moTake, perfNow, push, pushAll, reTest, setT, slice } from './builtins.js';
import { frameDoc, watchRoot } from './frames.js';
import { assignId } from './ids.js';
import { pageFacts } from './insights.js';
import { inMultiple } from './listeners.js';
import { captureAnims, mediaEvent } from './media.js';
import { M_BLOCK, M_MASK, M_SENSITIVE, M_UNMASK, isBlocked, matches, rootCtx, textCtx } from './privacy.js';
import { enqueue } from './queue.js';
import { warn } from './report.js';
import { now } from './session.js';
import { rulesText, stylesheetText } from './stylesheets.js';

var SVG_NS = 'http://www.w3.org/2000/svg',
  MATH_NS = 'http://www.w3.org/1998/Math/MathML';
/** Nodes per part when a big snapshot goes to the wasm half in parts. */
var SNAP_PART = 2000;
/** The full snapshot's walk, per task. */
var SNAP_SLICE_MS = 12;

/**
 * Serialises `root` and its subtree as a flat pre-order list, iteratively
 * (a 10,000-deep page must not overflow the stack). An open shadow root
 * comes first among its host's children, a same-origin frame's document
 * as its iframe's child. `fresh` collects the nodes serialised, so later
 * records about them are not sent twice.
 */
export function serialize(r, root, parentId, ctx, out, fresh) {
  walk(r, [root, parentId, ctx], out, fresh, Infinity);
}

/** The loop of `serialize`, resumable: stops once `perfNow()`
 *  passes `deadline` (checked every 256 nodes) and returns whether it
 *  finished; `stack` then holds where to go on. */
function walk(r, stack, out, fresh, deadline) {
  var opts = r.opts,
    late = r.late;
  var n = 0;
  while (stack.length) {
    if ((++n & 255) === 0 && perfNow() > deadline) return false;
    var ctx = stack.pop(),
      pid = stack.pop(),
      node = stack.pop();
    var type = node.nodeType;
    if (type !== 1 && type !== 3 && type !== 4 && type !== 8 && type !== 9 && type !== 10 && type !== 11) continue;
    if (type === 11 && !node.host) continue; // a plain fragment
    var id = assignId(r, node);
    if (fresh) fresh.add(node);
    var rn = { id: id, p: pid, k: type };
    var childCtx = ctx;
    var skipChildren = false;
    var inner = null;
    if (type === 1) {
      var el = node;
      rn.tag = el.localName;
      if (el.namespaceURI === SVG_NS) rn.ns = 'svg';
      else if (el.namespaceURI === MATH_NS) rn.ns = 'math';
      if (isBlocked(r, el)) {
        r.blocked.add(el);
        var rect = el.getBoundingClientRect();
        rn.m = M_BLOCK;
        rn.bw = rect.width;
        rn.bh = rect.height;
        push(out, rn);
        continue;
      }
      if (el.hasAttribute('data-reel-mask') || matches(el, opts.maskTextSelector)) childCtx |= M_MASK;
      if (el.hasAttribute('data-reel-unmask')) childCtx |= M_UNMASK;
      var attrs = el.attributes,
        a = [];
      for (var i = 0; i < attrs.length; i++) push(a, [attrs[i].name, attrs[i].value]);
      if (a.length) rn.a = a;
      var m = childCtx;
      var tag = rn.tag;
      if (tag === 'input') {
        if (el.type === 'password') r.sensitive.add(el);
        if (el.type === 'checkbox' || el.type === 'radio') rn.c = el.checked;
        else rn.v = el.value;
      } else if (tag === 'textarea' || tag === 'select') {
        rn.v = el.value;
      } else if (tag === 'option') {
        var msel = inMultiple(el);
        if (msel) {
          rn.c = el.selected;
          rn.ac = msel.getAttribute('autocomplete') || '';
        }
      } else if (tag === 'link') {
        var css = stylesheetText(el);
        if (css !== null) rn.css = css;
      } else if (tag === 'style') {
        // A sheet filled by insertRule (CSS-in-JS) has no text to copy.
        if (el.sheet && !reTest(/\S/, el.textContent)) {
          var txt = rulesText(el.sheet);
          if (txt) push(late, { k: 'sheet', t: 0, node: id, op: 'rep', text: txt });
        }
      } else if (tag === 'script') {
        skipChildren = true; // script text is never needed: nothing runs in the replay
      } else if (tag === 'iframe' || tag === 'frame') {
        inner = frameDoc(el);
        if (inner) r.frameDocs.set(el, inner);
      } else if ((tag === 'video' || tag === 'audio') && el.currentTime) {
        push(late, mediaEvent(r, el, id, 'seek'));
      }
      // Scroll offsets force a layout: read them for the full snapshot
      // only (a node just added is almost never scrolled yet), and only
      // where there is content to scroll (children, a shadow tree, or
      // a field's own text): most elements of a big page are leaves.
      if (
        !fresh &&
        (el.firstChild || el.shadowRoot || tag === 'textarea' || tag === 'input') &&
        (el.scrollTop || el.scrollLeft)
      )
        push(late, { k: 'scroll', t: 0, id: id, x: el.scrollLeft, y: el.scrollTop });
      if (el.popover && el.matches(':popover-open')) push(late, { k: 'pop', t: 0, id: id, o: true });
      if (r.sensitive.has(el)) m |= M_SENSITIVE;
      if (m) rn.m = m;
      if (!skipChildren && el.shadowRoot && el.shadowRoot.mode === 'open') {
        // Pushed after the children, so popped (serialised) first.
        var sr = el.shadowRoot;
        push(out, rn);
        for (var c0 = node.lastChild; c0; c0 = c0.previousSibling) push(stack, c0, id, childCtx);
        push(stack, sr, id, childCtx);
        continue;
      }
    } else if (type === 3 || type === 4 || type === 8) {
      rn.x = node.data;
      var tm = textCtx(node.parentNode, ctx);
      if (tm) rn.m = tm;
    } else if (type === 10) {
      rn.x = node.name;
      rn.pub_id = node.publicId;
      rn.sys_id = node.systemId;
    } else if (type === 9 || type === 11) {
      watchRoot(r, node, id);
    }
    push(out, rn);
    if (skipChildren) continue;
    for (var c = node.lastChild; c; c = c.previousSibling) push(stack, c, id, type === 1 ? childCtx : ctx);
    if (inner) push(stack, inner, id, childCtx);
  }
  return true;
}

/** Queues the events that must follow the snapshot or add just built
 *  (`r.late`), at `t`. */
export function flushLate(r, t) {
  var l = r.late;
  r.late = [];
  for (var i = 0; i < l.length; i++) {
    l[i].t = t;
    enqueue(r, l[i]);
  }
}

/** Ends the walk `w` (done, replaced or abandoned): whoever waits on
 *  it (`Reel.start`) goes on. */
export function endWalk(r, w) {
  if (!w) return;
  if (r.walking === w) r.walking = null;
  w.resolve();
}

/** Resolves once no snapshot walk is under way. */
export async function snapshotTaken(r) {
  while (r.walking) await r.walking.done;
}

/** Starts a full snapshot: a Meta event now, the walk over the next tasks. */
export function snapshot(r) {
  var t = now(r);
  r.pending = null; // the snapshot has them
  var meta = {
    k: 'meta',
    t: t,
    href: location.href,
    title: document.title || '',
    w: innerWidth,
    h: innerHeight,
    ua: navigator.userAgent,
  };
  // A frame's document joins its parent's page: no page of its own.
  if (!r.frame) {
    pageFacts(r, meta);
    enqueue(r, meta);
  }
  endWalk(r, r.walking); // a new snapshot supersedes one under way
  var w = (r.walking = {
    stack: [document, r.frame ? r.frame.f : 0, rootCtx(r)],
    nodes: [],
    held: [],
    dirty: false,
    timer: 0,
  });
  w.done = new P(function (resolve) {
    w.resolve = resolve;
  });
  r.late = [];
  // What must follow the first snapshot at its time: errors raised
  // before the recording began (recording.js).
  if (r.early) {
    pushAll(r.late, r.early);
    r.early = null;
  }
  (function step() {
    w.timer = 0;
    if (r.walking !== w) return;
    if (!w.dirty && !walk(r, w.stack, w.nodes, null, perfNow() + SNAP_SLICE_MS)) {
      w.timer = setT(function () {
        try {
          step();
        } catch (e) {
          warn(e);
          endWalk(r, w);
        }
      }, 0);
      return;
    }
    completeSnapshot(r);
  })();
}

/** Finishes the walk under way now (starting over if the page changed
 *  since it began), and sends the snapshot and what was held. */
export function completeSnapshot(r) {
  var w = r.walking;
  if (!w) return;
  if (w.timer) clearT(w.timer);
  if (r.observer && moTake(r.observer).length) w.dirty = true;
  if (w.dirty) {
    // `late` keeps what the first pass queued: constructed sheets are
    // sent once (the restart would not queue them again), and the rest
    // is state set again, harmless twice.
    w.nodes = [];
    walk(r, [document, r.frame ? r.frame.f : 0, rootCtx(r)], w.nodes, null, Infinity);
    if (r.observer) moTake(r.observer);
  } else {
    walk(r, w.stack, w.nodes, null, Infinity);
  }
  endWalk(r, w);
  var t = now(r),
    nodes = w.nodes;
  // A big page goes to the wasm half in parts, each handed over (and
  // converted) in its own task; the last part is the snapshot event.
  var at = 0;
  // A frame's document is added under its frame element, as frames.js
  // adds a same-origin frame's.
  if (r.frame) enqueue(r, { k: 'mut', t: t, add: [{ p: r.frame.f, n: 0, nodes: nodes }] });
  else {
    for (; nodes.length - at > SNAP_PART; at += SNAP_PART)
      enqueue(r, { k: 'snap-part', nodes: slice(nodes, at, at + SNAP_PART) });
    enqueue(r, { k: 'snap', t: t, nodes: at ? slice(nodes, at) : nodes, sx: scrollX, sy: scrollY });
  }
  flushLate(r, t);
  captureAnims(r, true);
  for (var i = 0; i < w.held.length; i++) enqueue(r, w.held[i]);
}
