/*
 * DOM mutations: MutationObserver records turned into mutation events.
 *
 * Records are serialised in the observer's callback. `Reel.event()` (and
 * anything else that needs the recording up to date) first drains pending
 * records (`drainMutations`), so a custom event always sorts after the DOM
 * changes made before it.
 */
import { each, moTake, push, pushAll, sort } from './builtins.js';
import { completeSnapshot, flushLate, serialize } from './snapshot.js';
import { recorded } from './frames.js';
import { idOf } from './ids.js';
import { MASKABLE_ATTRS, ctxOf, fieldDesc, insideBlocked, textCtx } from './privacy.js';
import { DRAIN_SLICE, enqueue } from './queue.js';
import { later, warn } from './report.js';
import { now } from './session.js';

export var OBSERVE = { childList: true, subtree: true, attributes: true, characterData: true };
/** Nodes serialised per task in a burst of adds. */
var ADD_BUDGET = 600;
/** Attribute and text changes read in the observer's callback; past
 *  this, they are read in a later task. */
var DEFER_CHANGES = 500;

/**
 * Orders roots that share a parent in document order (each add's `next`
 * sibling must already be recorded, so they are serialised last first);
 * parents in first-seen order. By index in the parent, one pass over its
 * children: `compareDocumentPosition` walks the sibling list, so sorting
 * thousands of siblings with it is quadratic.
 */
function sortRoots(roots) {
  var byParent = new Map();
  each(roots, function (n) {
    var list = byParent.get(n.parentNode);
    if (!list) byParent.set(n.parentNode, (list = []));
    push(list, n);
  });
  var out = [];
  byParent.forEach(function (list, parent) {
    if (list.length > 1) {
      var at = new Map();
      var i = 0;
      for (var c = parent.firstChild; c; c = c.nextSibling) at.set(c, i++);
      sort(list, function (a, b) {
        return at.get(a) - at.get(b);
      });
    }
    pushAll(out, list);
  });
  return out;
}

/**
 * Turns one batch of MutationRecords into one mutation event: removes,
 * then added subtrees (serialised as they are now, in reverse document
 * order so each one's next sibling already exists when it is applied),
 * then attribute and text changes of nodes that were not just added.
 *
 * `spread`: called by the observer, so a big batch may be finished in
 * later tasks; otherwise (a drain: a marker, flush, a hook) it is finished
 * now, with whatever an earlier batch left pending.
 */
export function onMutations(r, records, spread) {
  if (r.stopped || (!records.length && !r.pending)) return;
  var t = now(r);
  var rem = [],
    remSeen = new Set();
  var added = new Set();
  var attrs = new Map();
  var texts = new Set();
  for (var i = 0; i < records.length; i++) {
    var rec = records[i],
      type = rec.type;
    if (type === 'childList') {
      // Each NodeList read is a call into the browser: once per record.
      var gone = rec.removedNodes,
        came = rec.addedNodes;
      for (var j = 0, nj = gone.length; j < nj; j++) {
        var id = idOf(r, gone[j]);
        if (id && !remSeen.has(id)) {
          remSeen.add(id);
          push(rem, id);
        }
      }
      for (var k = 0, nk = came.length; k < nk; k++) added.add(came[k]);
    } else if (type === 'attributes') {
      var names = attrs.get(rec.target);
      if (!names) attrs.set(rec.target, (names = new Set()));
      names.add(rec.attributeName);
    } else if (type === 'characterData') {
      texts.add(rec.target);
    }
  }

  // Attribute and text changes deferred by an earlier batch are read
  // now, with this one's (they read current values either way).
  var pending = r.pending;
  if (pending) {
    pending.attrs.forEach(function (names, el) {
      var mine = attrs.get(el);
      if (!mine) attrs.set(el, names);
      else
        names.forEach(function (n) {
          mine.add(n);
        });
    });
    pending.texts.forEach(function (n) {
      texts.add(n);
    });
  }

  // The roots to serialise: connected, under a recorded parent, not
  // inside a blocked element, and not inside another root.
  var roots = [];
  var rootSet = new Set();
  // Climb past unrecorded ancestors, so a node whose parent was never
  // serialised is still recorded, by recording that parent. Each climb
  // remembers where it ended for every node it passed: a chain of new
  // nodes (appended one into the other) then costs its length once,
  // not its length squared.
  var tops = new Map();
  function topOf(n) {
    var path = [];
    while (n.parentNode && !idOf(r, n.parentNode)) {
      var known = tops.get(n);
      if (known !== undefined) {
        n = known;
        break;
      }
      push(path, n);
      n = n.parentNode;
    }
    for (var i = 0; i < path.length; i++) tops.set(path[i], n);
    return n;
  }
  added.forEach(function (n) {
    if (!recorded(r, n)) return;
    n = topOf(n);
    if (!n.parentNode || rootSet.has(n)) return;
    if (r.blocked.has(n.parentNode) || insideBlocked(r, n)) return;
    rootSet.add(n);
    push(roots, n);
  });
  var kept = [];
  each(roots, function (n) {
    for (var p = n.parentNode; p; p = p.parentNode) if (rootSet.has(p)) return;
    push(kept, n);
  });
  roots = sortRoots(kept);
  var fresh = new Set();
  var add = [];
  // Roots left over from an earlier batch go first, as they are now:
  // records since then that touch them describe what this serialises.
  if (pending) {
    serializePending(r, Infinity, add, fresh, remSeen, rootSet);
    r.pending = null;
  }
  // The last roots first (an add's `next` sibling must be recorded);
  // past the budget, the rest waits for the next task.
  var budget = spread ? ADD_BUDGET : Infinity;
  var x = roots.length - 1;
  for (; x >= 0 && budget > 0; x--) {
    // A root inside a pending one was just serialised with it.
    if (!fresh.has(roots[x])) budget -= addRoot(r, roots[x], add, fresh, remSeen, rootSet);
  }
  if (x >= 0 || (spread && attrs.size + texts.size > DEFER_CHANGES)) {
    // A big batch: the rest of the adds, then the attribute and text
    // reads, go out from later tasks (see `continuePending`).
    var next = (r.pending = { roots: [], attrs: attrs, texts: texts, fresh: fresh });
    for (var q = 0; q <= x; q++) push(next.roots, roots[q], roots[q].parentNode);
    attrs = new Map();
    texts = new Set();
    if (!r.pendingTimer)
      r.pendingTimer = later(function () {
        continuePending(r);
      }, 0);
  }

  var ch = changes(r, attrs, texts, fresh),
    attr = ch.attr,
    text = ch.text;
  if (rem.length || add.length || attr.length || text.length) {
    // A huge batch goes out as consecutive events (removes, slices of
    // the adds in order, then attributes and texts): the player applies
    // them to the same result, and each can be drained in its own task.
    var part = { k: 'mut', t: t, rem: rem, add: [], attr: [], text: [] },
      size = 0;
    for (var y = 0; y < add.length; y++) {
      if (size && size + add[y].nodes.length > DRAIN_SLICE) {
        enqueue(r, part);
        part = { k: 'mut', t: t, rem: [], add: [], attr: [], text: [] };
        size = 0;
      }
      push(part.add, add[y]);
      size += add[y].nodes.length;
    }
    part.attr = attr;
    part.text = text;
    enqueue(r, part);
  }
  flushLate(r, t);
}

/**
 * Serialises one added root into an add; returns how many nodes. Its
 * `next` sibling is the first after it already recorded and staying
 * put: not one this batch removes or has yet to add.
 */
function addRoot(r, root, add, fresh, remSeen, rootSet) {
  var next = root.nextSibling;
  while (next && !(idOf(r, next) && (fresh.has(next) || !(remSeen.has(idOf(r, next)) || rootSet.has(next)))))
    next = next.nextSibling;
  var nodes = [];
  var parent = root.parentNode;
  serialize(r, root, idOf(r, parent), textCtx(parent, ctxOf(r, parent)), nodes, fresh);
  if (nodes.length) push(add, { p: idOf(r, parent), n: next ? idOf(r, next) : 0, nodes: nodes });
  return nodes.length;
}

/*
 * A burst is spread over several tasks. The mutation event from the
 * observer's callback carries the removes and the last roots' adds (up
 * to ADD_BUDGET nodes); the other roots (`pending.roots`: root, the
 * parent it had, ...; document order) go out from the end in later
 * tasks, then the attribute and text changes, read then (their current
 * values, which is what the replay needs). Any new batch (or anything
 * that must see the recording up to date: markers, flush, CSSOM hooks)
 * first serialises what is pending, as it is then, and takes over its
 * attribute and text changes, so the replay never applies a later
 * record before an earlier add. A pending root that moved or left since
 * is skipped: its own records say where it went.
 */
function serializePending(r, budget, add, fresh, remSeen, rootSet) {
  var list = r.pending.roots;
  while (list.length && budget > 0) {
    var parent = list.pop(),
      root = list.pop();
    if (root.parentNode !== parent || !idOf(r, parent) || !recorded(r, root)) continue;
    budget -= addRoot(r, root, add, fresh, remSeen, rootSet);
  }
}

function continuePending(r) {
  r.pendingTimer = 0;
  if (!r.pending || r.stopped) {
    r.pending = null;
    return;
  }
  var t = now(r),
    p = r.pending;
  try {
    if (p.roots.length) {
      var add = [];
      serializePending(r, ADD_BUDGET, add, p.fresh, new Set(), new Set());
      if (add.length) enqueue(r, { k: 'mut', t: t, rem: [], add: add, attr: [], text: [] });
    } else {
      r.pending = null;
      var ch = changes(r, p.attrs, p.texts, p.fresh);
      if (ch.attr.length || ch.text.length)
        enqueue(r, { k: 'mut', t: t, rem: [], add: [], attr: ch.attr, text: ch.text });
    }
  } catch (e) {
    warn(e);
    r.pending = null;
    r.resync = true;
  }
  flushLate(r, t);
  if (r.pending)
    r.pendingTimer = later(function () {
      continuePending(r);
    }, 0);
}

/** The attribute and text changes of a batch, as they read now; nodes
 *  in `fresh` were just serialised whole. */
function changes(r, attrs, texts, fresh) {
  var attr = [];
  attrs.forEach(function (names, el) {
    var id = idOf(r, el);
    if (!id || fresh.has(el) || r.blocked.has(el) || !recorded(r, el)) return;
    names.forEach(function (name) {
      var ev = { id: id, name: name, v: el.getAttribute(name) };
      if (MASKABLE_ATTRS[name]) fieldDesc(r, el, ev);
      push(attr, ev);
    });
  });
  var text = [];
  var memo = new Map();
  texts.forEach(function (n) {
    var id = idOf(r, n);
    if (!id || fresh.has(n) || !recorded(r, n)) return;
    var ev = { id: id, v: n.data };
    var m = textCtx(n.parentNode, ctxOf(r, n, memo));
    if (m) ev.m = m;
    push(text, ev);
  });
  return { attr: attr, text: text };
}

/** Brings the recording up to date: finishes a snapshot's walk and turns
 *  every record still waiting in the observer into events now. */
export function drainMutations(r) {
  if (r.walking) completeSnapshot(r);
  if (r.observer) onMutations(r, moTake(r.observer));
}
