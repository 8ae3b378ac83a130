/*
 * Privacy: which nodes are blocked, and the mask bits each node carries to
 * the wasm half, which applies the masking rules before anything is
 * encoded (raw values go nowhere else; nothing leaves the browser
 * unmasked).
 */
import { lower, push } from './builtins.js';
import { up } from './frames.js';

// Context bits; keep in sync with recorder/src/raw.rs (`flags`).
export var M_MASK = 1,
  M_UNMASK = 2,
  M_BLOCK = 4,
  M_SENSITIVE = 8,
  M_TEXTAREA = 16;

/** Attributes whose values the wasm half masks like a field's text. */
export var MASKABLE_ATTRS = { value: 1, placeholder: 1, title: 1, alt: 1, 'aria-label': 1, 'aria-description': 1 };

export function matches(el, sel) {
  try {
    return !!sel && el.matches(sel);
  } catch (_) {
    return false;
  }
}

export function isBlocked(r, el) {
  return el.hasAttribute('data-reel-block') || matches(el, r.opts.blockSelector);
}

/** Is `node` inside an element this recording blocked? */
export function insideBlocked(r, node) {
  for (var n = up(node); n; n = up(n)) if (n.nodeType === 1 && r.blocked.has(n)) return true;
  return false;
}

/** The mask bits a document's root starts with. */
export function rootCtx(r) {
  return r.opts.maskAllText ? M_MASK : 0;
}

/** The context bits an element passes to its content, looking through
 *  shadow roots and frames (the snapshot inherits them the same way). */
export function ctxOf(r, node, memo) {
  var m = inherited(r, node, memo || new Map());
  var el = node.nodeType === 1 ? node : node.parentElement;
  if (el && r.sensitive.has(el)) m |= M_SENSITIVE;
  return m;
}

/** The mask bits `node` inherits from itself and its ancestors, with
 *  `memo` remembering them for every node on the way: shared across a
 *  batch of mutations, a batch touching thousands of texts climbs each
 *  ancestor once. */
function inherited(r, node, memo) {
  var path = [],
    m;
  for (var n = node; n; n = up(n)) {
    m = memo.get(n);
    if (m !== undefined) break;
    push(path, n);
  }
  if (m === undefined) m = rootCtx(r);
  for (var i = path.length - 1; i >= 0; i--) {
    var x = path[i];
    if (x.nodeType === 1) {
      if (x.hasAttribute('data-reel-mask') || matches(x, r.opts.maskTextSelector)) m |= M_MASK;
      if (x.hasAttribute('data-reel-unmask')) m |= M_UNMASK;
    }
    memo.set(x, m);
  }
  return m;
}

/** The bits of a text node under `parent`: style and script text is never
 *  masked, a textarea's is a field's value. */
export function textCtx(parent, ctx) {
  if (!parent || parent.nodeType !== 1) return ctx;
  var tag = parent.localName;
  if (tag === 'style' || tag === 'script') return ctx & ~M_MASK;
  if (tag === 'textarea') return ctx | M_TEXTAREA;
  return ctx;
}

/** Adds what the masking rules need to know about a field to `ev`. */
export function fieldDesc(r, el, ev) {
  ev.tag = el.localName;
  ev.type = lower(el.getAttribute('type') || 'text');
  ev.ac = lower(el.getAttribute('autocomplete') || '');
  var m = ctxOf(r, el);
  if (m) ev.m = m;
  return ev;
}
