/*
 * Frames and shadow roots: the recorded trees beyond the page's document.
 *
 * An open shadow root is recorded as the first child of its host, a
 * same-origin frame's document as its iframe's child; each is observed
 * like the page, and a frame's window gets the page-API hooks and the
 * listeners. A frame that navigates has its new document recorded in
 * place of the old one.
 */
import { moObserve, push, pushAll } from './builtins.js';
import { idOf } from './ids.js';
import { listenDoc } from './listeners.js';
import { drainMutations, OBSERVE } from './mutations.js';
import { patchWindow } from './pagehooks.js';
import { ctxOf, insideBlocked, textCtx } from './privacy.js';
import { now } from './session.js';
import { flushLate, serialize } from './snapshot.js';
import { adoptEvents } from './stylesheets.js';
import { enqueue } from './queue.js';

/** The node above `n` across shadow roots and same-origin frames. */
export function up(n) {
  if (n.parentNode) return n.parentNode;
  if (n.host) return n.host;
  if (n.nodeType === 9 && n !== document) {
    try {
      return n.defaultView && n.defaultView.frameElement;
    } catch (_) {
      return null;
    }
  }
  return null;
}

/** Is `node` in a tree this recording observes (the page, an open
 *  shadow root of it, a same-origin frame's document)? */
// A connected node's shadow-including root is its node document
// (inserting a node adopts it), so no climb through shadow hosts.
export function recorded(r, node) {
  if (!node.isConnected) return false;
  var d = node.nodeType === 9 ? node : node.ownerDocument;
  return d === document || r.observedRoots.has(d);
}

/** A frame's document when it is same-origin (readable), else null. */
export function frameDoc(el) {
  try {
    var d = el.contentDocument;
    return d && d.documentElement !== undefined ? d : null;
  } catch (_) {
    return null;
  }
}

/** Starts observing a document or shadow root, and queues its adopted
 *  stylesheets (after the nodes being serialised). */
export function watchRoot(r, root, id) {
  if (root.adoptedStyleSheets && root.adoptedStyleSheets.length) pushAll(r.late, adoptEvents(r, root, id));
  if (r.observedRoots.has(root)) return;
  r.observedRoots.add(root);
  if (r.observer) moObserve(r.observer, root, OBSERVE);
  if (root.nodeType === 9 && root !== document) {
    push(r.docs, root);
    patchWindow(root.defaultView);
    listenDoc(r, root);
  }
}

/** The hooked `attachShadow`: an open shadow root attached to a recorded
 *  host is added as its first child. */
export function onShadow(r, host, root) {
  drainMutations(r);
  var hid = idOf(r, host);
  if (!hid || !root || root.mode !== 'open' || r.blocked.has(host) || insideBlocked(r, host) || !recorded(r, host))
    return;
  var nodes = [];
  serialize(r, root, hid, textCtx(host, ctxOf(r, host)), nodes, null);
  var t = now(r);
  enqueue(r, { k: 'mut', t: t, add: [{ p: hid, n: 0, nodes: nodes }] });
  flushLate(r, t);
}

/** A same-origin frame navigated: its new document replaces the old. */
export function onFrameLoad(r, el) {
  var id = idOf(r, el);
  if (!id || r.blocked.has(el) || !recorded(r, el)) return;
  var d = frameDoc(el);
  var old = r.frameDocs.get(el);
  // A cross-origin frame's document is its own recorder's (crossframe.js).
  if (d === (old || null)) return;
  drainMutations(r);
  var t = now(r);
  var ev = { k: 'mut', t: t, rem: old && idOf(r, old) ? [idOf(r, old)] : [], add: [] };
  if (d) {
    r.frameDocs.set(el, d);
    var nodes = [];
    serialize(r, d, id, ctxOf(r, el), nodes, null);
    push(ev.add, { p: id, n: 0, nodes: nodes });
  } else {
    r.frameDocs.delete(el);
  }
  enqueue(r, ev);
  flushLate(r, t);
}
