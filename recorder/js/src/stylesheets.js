/*
 * Stylesheets: the text of `<link>` and CSS-in-JS sheets, CSSOM edits
 * (`insertRule`, `deleteRule`, `replace`, `replaceSync`, hooked on the
 * prototypes), and constructed sheets adopted by documents and shadow
 * roots, each sent in full once and referred to by number after.
 */
import { P, bodyText, each, fetchFn, join, push, setT, then } from './builtins.js';
import { idOf } from './ids.js';
import { drainMutations } from './mutations.js';
import { enqueue } from './queue.js';
import { now } from './session.js';

/** A sheet's rules as text; null when cross-origin (kept by URL). */
export function rulesText(sheet) {
  var rules;
  try {
    rules = sheet.cssRules;
  } catch (_) {
    return null;
  }
  var out = [];
  for (var i = 0; i < rules.length; i++) push(out, rules[i].cssText);
  return join(out, '\n');
}

/*
 * Chrome serialises a shorthand holding var() as empty longhands
 * (`font-style: ; ...`) when a later declaration of the rule overrides one
 * of its longhands (rustdoc: `font: 1rem/1.5 var(--font-family);
 * font-feature-settings: ...`), and no CSSOM call gives the value back: the
 * replay would drop the declaration. For such a `<link>` sheet the file's
 * own text is read (from the HTTP cache, as a rule), put into the first
 * snapshot before it leaves the page (`sheetFixes`) and reused after.
 */
var originals = new WeakMap(),
  asked = new WeakSet(),
  pending = [],
  fixed = [];

export function stylesheetText(el) {
  var s = el.sheet;
  if (!s) return null;
  var t = originals.get(s) || rulesText(s);
  if (t && s.href && !asked.has(s) && t.indexOf(': ;') >= 0) {
    asked.add(s);
    var got = then(fetchFn(s.href), function (res) {
      return res.ok ? bodyText(res) : null;
    });
    push(
      pending,
      then(
        got,
        function (src) {
          if (!src) return;
          originals.set(s, src);
          push(fixed, [t, src]);
        },
        function () {},
      ),
    );
  }
  return t;
}

/** Waits (at most 2 s) for the sheets being read again and puts their
 *  texts into the snapshot still queued. */
export async function sheetFixes(r) {
  var list = pending;
  if (!list.length) return;
  pending = [];
  await new P(function (done) {
    var left = list.length;
    setT(done, 2000);
    each(list, function (p) {
      then(p, step, step);
    });
    function step() {
      if (--left === 0) done();
    }
  });
  drainMutations(r);
  each(fixed, function (f) {
    each(r.queue, function (e) {
      if (e.k === 'snap' || e.k === 'snap-part')
        each(e.nodes, function (n) {
          if (n.css === f[0]) n.css = f[1];
        });
    });
  });
  fixed = [];
}

/** `ev` naming `sheet` (by its owner node or its number), or null when
 *  the sheet is not recorded. */
function sheetRef(r, sheet, ev) {
  if (!sheet) return null;
  var owner = sheet.ownerNode;
  if (owner) {
    var id = idOf(r, owner);
    if (!id || r.blocked.has(owner)) return null;
    ev.node = id;
    return ev;
  }
  var n = r.sheetIds.get(sheet);
  if (!n || !r.sentSheets.has(sheet)) return null; // sent in full when adopted
  ev.cs = n;
  return ev;
}

/** Indexes from the sheet down to `rule` (a grouping rule). */
function rulePath(rule) {
  var path = [];
  for (var x = rule; x; x = x.parentRule) {
    var list = x.parentRule ? x.parentRule.cssRules : x.parentStyleSheet && x.parentStyleSheet.cssRules;
    if (!list) return null;
    var i = Array.prototype.indexOf.call(list, x);
    if (i < 0) return null;
    path.unshift(i);
  }
  return path;
}

/** The events that give `root` (recorded as `id`) its adopted sheets:
 *  each sheet's text the first time, then the list of numbers. */
export function adoptEvents(r, root, id) {
  var out = [],
    list = [];
  var sheets = root.adoptedStyleSheets || [];
  for (var i = 0; i < sheets.length; i++) {
    var s = sheets[i];
    var n = r.sheetIds.get(s);
    if (!n) {
      n = r.nextSheet++;
      r.sheetIds.set(s, n);
    }
    if (!r.sentSheets.has(s)) {
      r.sentSheets.add(s);
      push(out, { k: 'sheet', t: 0, cs: n, op: 'rep', text: rulesText(s) || '' });
    }
    push(list, n);
  }
  push(out, { k: 'adopt', t: 0, root: id, sheets: list });
  if (!r.adoptedKey.has(root)) push(r.adoptedRoots, root);
  r.adoptedKey.set(root, join(list));
  return out;
}

/**
 * `adoptedStyleSheets` is also changed in place (`push`, `splice`),
 * which no setter sees: roots that ever adopted are re-checked on each
 * tick and their list re-sent when it changed.
 */
export function checkAdopted(r) {
  each(r.adoptedRoots, function (root) {
    var id = idOf(r, root);
    var sheets = root.adoptedStyleSheets || [];
    var key = [];
    for (var i = 0; i < sheets.length; i++) push(key, r.sheetIds.get(sheets[i]) || -1);
    if (!id || join(key) === r.adoptedKey.get(root)) return;
    var t = now(r);
    each(adoptEvents(r, root, id), function (e) {
      e.t = t;
      enqueue(r, e);
    });
  });
}

/* The hooked CSSOM calls (see pagehooks.js). */

export function onSheetInsert(r, sheet, rule, index) {
  drainMutations(r);
  var ev = sheetRef(r, sheet, { k: 'sheet', t: now(r), op: 'ins', i: index >>> 0 });
  if (!ev) return;
  var list = rule ? rule.cssRules : sheet.cssRules;
  var path = rule ? rulePath(rule) : [];
  var inserted = list && list[index >>> 0];
  if (!path || !inserted) return;
  ev.path = path;
  ev.rule = inserted.cssText;
  enqueue(r, ev);
}

export function onSheetDelete(r, sheet, rule, index) {
  drainMutations(r);
  var ev = sheetRef(r, sheet, { k: 'sheet', t: now(r), op: 'del', i: index >>> 0 });
  var path = rule ? rulePath(rule) : [];
  if (ev && path) {
    ev.path = path;
    enqueue(r, ev);
  }
}

export function onSheetReplace(r, sheet) {
  drainMutations(r);
  var ev = sheetRef(r, sheet, { k: 'sheet', t: now(r), op: 'rep', text: rulesText(sheet) || '' });
  if (ev) enqueue(r, ev);
}

export function onAdopt(r, root) {
  drainMutations(r);
  var id = idOf(r, root);
  if (!id) return;
  var t = now(r);
  each(adoptEvents(r, root, id), function (e) {
    e.t = t;
    enqueue(r, e);
  });
}
