/*
 * Labels and selectors for what a user acts on.
 *
 * A click, an input or a key press is recorded with the target's `label`
 * (what a person would call it: its accessible name, else its visible
 * text) and a `selector` that finds it again, so the player can list
 * "Clicked “Load orders”" and the server can turn a session into steps and
 * a Playwright spec. Both are computed only for those events, from the DOM
 * as it is at that moment.
 *
 * Privacy: a label is built from text the recording already holds (text
 * nodes, `aria-label`, `title`, `alt`, `placeholder`, a button's value),
 * never from a field's value; when any of that text is masked (its node is
 * under `data-reel-mask`, `maskTextSelector` or `maskAllText`), the label
 * is flagged masked and the wasm half replaces it with the mask; text in a
 * blocked subtree is never read, and a blocked target has no label at all.
 * The selector may carry attribute values (`data-testid`, `id`, `name`)
 * but no text, except in its role form, which is used only when the label
 * is not masked.
 *
 * Selector forms, most robust first, each used only when it matches this
 * one element in its document (or shadow root) at the time:
 * `[data-testid="…"]` (also `data-test-id`, `data-test`, `data-cy`),
 * `#id` (ids that do not look generated), `role=button[name="…"]` (an
 * ARIA role and the exact accessible name, Playwright's `getByRole`),
 * `input[name="…"]`, then a short CSS path with `:nth-of-type`.
 */
import { un, W, push, join, sslice, lower, reTest } from './builtins.js';
import { warn } from './report.js';

var SP = String.prototype;
var sreplace = un(SP.replace),
  strim = un(SP.trim),
  ssplit = un(SP.split);
var cssEscape = W.CSS && W.CSS.escape;

/** Labels are cut to this many characters (then end in `…`). */
export var MAX_LABEL = 80;
/** Text nodes and elements a label's text walk visits at most. */
var WALK_BUDGET = 400;
/** Past this many elements, a CSS path is not shortened (each lookup
 *  would cost milliseconds): the path as built is unique already. */
var BIG_PAGE = 5000;
/** Elements of one role compared when checking a role + name is unique. */
var ROLE_CANDIDATES = 150;

export var TEST_ID_ATTRS = ['data-testid', 'data-test-id', 'data-test', 'data-cy'];

/** What a click on `el` acts on: its nearest interactive ancestor (a click
 *  on the icon inside a button is a click on the button), else `el`. */
var ACTIONABLE =
  'button,a[href],input,select,textarea,summary,label,option,[role=button],[role=link],' +
  '[role=checkbox],[role=radio],[role=switch],[role=tab],[role=menuitem],[role=menuitemcheckbox],' +
  '[role=menuitemradio],[role=option],[role=treeitem],[contenteditable=""],[contenteditable=true]';

export function actionable(el) {
  try {
    return (el.closest && el.closest(ACTIONABLE)) || el;
  } catch (_) {
    return el;
  }
}

/** Whitespace collapsed, trimmed, capped at [`MAX_LABEL`] characters. */
export function collapse(s) {
  s = strim(sreplace(s, /\s+/g, ' '));
  return s.length > MAX_LABEL ? strim(sslice(s, 0, MAX_LABEL - 1)) + '…' : s;
}

function attr(el, name) {
  var v = el.getAttribute(name);
  return v === null ? '' : v;
}

var INPUT_ROLES = {
  button: 'button',
  submit: 'button',
  reset: 'button',
  image: 'button',
  checkbox: 'checkbox',
  radio: 'radio',
  range: 'slider',
  number: 'spinbutton',
  search: 'searchbox',
  email: 'textbox',
  tel: 'textbox',
  text: 'textbox',
  url: 'textbox',
  '': 'textbox',
};
var TAG_ROLES = {
  button: 'button',
  textarea: 'textbox',
  h1: 'heading',
  h2: 'heading',
  h3: 'heading',
  h4: 'heading',
  h5: 'heading',
  h6: 'heading',
  option: 'option',
  summary: 'button',
  li: 'listitem',
  nav: 'navigation',
  dialog: 'dialog',
};

/** The element's ARIA role (explicit, else the implicit one of its tag
 *  for the tags people act on), or `''`. As Playwright's `getByRole`
 *  sees it for these tags; a password field has none. */
export function roleOf(el) {
  var r = strim(attr(el, 'role'));
  if (r) return lower(ssplit(r, ' ')[0]);
  var tag = el.localName;
  if (tag === 'input') {
    var ty = lower(attr(el, 'type'));
    return INPUT_ROLES[ty] || '';
  }
  if (tag === 'select') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
  if (tag === 'a' || tag === 'area') return el.hasAttribute('href') ? 'link' : '';
  if (tag === 'img') return attr(el, 'alt') === '' && el.hasAttribute('alt') ? '' : 'img';
  return TAG_ROLES[tag] || '';
}

function isField(el) {
  var tag = el.localName;
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag !== 'input') return false;
  var ty = lower(attr(el, 'type'));
  return !(ty === 'button' || ty === 'submit' || ty === 'reset' || ty === 'image' || ty === 'hidden');
}

var INLINE = {
  a: 1,
  abbr: 1,
  b: 1,
  bdi: 1,
  bdo: 1,
  cite: 1,
  code: 1,
  data: 1,
  dfn: 1,
  em: 1,
  font: 1,
  i: 1,
  kbd: 1,
  label: 1,
  mark: 1,
  q: 1,
  s: 1,
  samp: 1,
  small: 1,
  span: 1,
  strong: 1,
  sub: 1,
  sup: 1,
  time: 1,
  u: 1,
  var: 1,
};

/**
 * The walk over `node`'s text for a label: text nodes in document order,
 * `alt` of images, skipping what is never label text (scripts, styles,
 * fields and their options, whose text is a value, hidden subtrees) and
 * blocked subtrees. Bounded by [`WALK_BUDGET`] nodes and twice the label's
 * length in characters. `acc.masked` is set when a text read is masked.
 */
function textOf(node, env, acc) {
  var parts = [],
    len = 0,
    budget = WALK_BUDGET;
  function visit(n) {
    if (budget-- <= 0 || len > 2 * MAX_LABEL) return;
    if (n.nodeType === 3) {
      var d = n.data;
      if (strim(d)) {
        if (env.masked(n)) acc.masked = true;
        push(parts, d);
        len += d.length;
      }
      return;
    }
    if (n.nodeType !== 1 && n.nodeType !== 11) return;
    if (n.nodeType === 1) {
      var tag = n.localName;
      if (
        tag === 'script' ||
        tag === 'style' ||
        tag === 'template' ||
        tag === 'noscript' ||
        tag === 'select' ||
        tag === 'textarea' ||
        tag === 'option' ||
        tag === 'datalist'
      )
        return;
      if (attr(n, 'aria-hidden') === 'true' || n.hidden) return;
      if (env.blocked(n)) return;
      if (tag === 'img' || (tag === 'input' && lower(attr(n, 'type')) === 'image')) {
        var alt = attr(n, 'alt');
        if (strim(alt)) {
          if (env.masked(n)) acc.masked = true;
          push(parts, ' ' + alt + ' ');
          len += alt.length;
        }
        return;
      }
      if (tag === 'input') {
        var ty = lower(attr(n, 'type'));
        if (ty === 'button' || ty === 'submit' || ty === 'reset') {
          var v = attr(n, 'value');
          if (strim(v)) {
            if (env.masked(n)) acc.masked = true;
            push(parts, ' ' + v + ' ');
            len += v.length;
          }
        }
        return;
      }
      if (n.shadowRoot) {
        visit(n.shadowRoot);
        return;
      }
    }
    for (var c = n.firstChild; c; c = c.nextSibling) {
      visit(c);
      if (budget <= 0) break;
    }
    // Block-level boxes read as spaces ("<p>Total</p><p>12</p>" is
    // "Total 12"); inline ones do not ("Sub<b>total</b>").
    if (n.nodeType === 1 && !INLINE[n.localName]) push(parts, ' ');
  }
  visit(node);
  return join(parts, '');
}

/** Reads an attribute of `el` as label text (masked with `el`'s text). */
function fromAttr(el, name, env, acc) {
  var v = strim(attr(el, name));
  if (v && env.masked(el)) acc.masked = true;
  return v;
}

/**
 * The accessible name of `el`, simplified from the W3C algorithm to the
 * sources pages use: `aria-labelledby`, `aria-label`, the field's labels
 * (`<label for>` or a wrapping label), `alt`, a button's value, the text
 * of a button or link (or any element's visible text), `title`,
 * `placeholder`. `{text, masked}`, or `null` when there is none or `el` is
 * blocked. `env`: `masked(node)` (is its text masked?) and `blocked(el)`
 * (is it, or is it inside, a blocked subtree?).
 */
export function nameOf(el, env) {
  if (env.blocked(el, true)) return null;
  var acc = { masked: false };
  var text = '';
  var ids = strim(attr(el, 'aria-labelledby'));
  if (ids) {
    var doc = el.getRootNode ? el.getRootNode() : el.ownerDocument;
    var list = ssplit(ids, /\s+/),
      out = [];
    for (var i = 0; i < list.length && i < 8; i++) {
      var ref = doc.getElementById ? doc.getElementById(list[i]) : null;
      if (ref && !env.blocked(ref, true)) push(out, textOf(ref, env, acc));
    }
    text = collapse(join(out, ' '));
  }
  if (!text) text = collapse(fromAttr(el, 'aria-label', env, acc));
  var field = isField(el);
  if (!text && field && el.labels) {
    var labels = [];
    for (var j = 0; j < el.labels.length && j < 4; j++) {
      if (!env.blocked(el.labels[j], true)) push(labels, textOf(el.labels[j], env, acc));
    }
    text = collapse(join(labels, ' '));
  }
  var tag = el.localName;
  if (!text && (tag === 'img' || (tag === 'input' && lower(attr(el, 'type')) === 'image'))) {
    text = collapse(fromAttr(el, 'alt', env, acc));
  }
  if (!text && tag === 'input' && !field) {
    var ty = lower(attr(el, 'type'));
    text = collapse(fromAttr(el, 'value', env, acc));
    if (!text && ty === 'submit') text = 'Submit';
    if (!text && ty === 'reset') text = 'Reset';
  }
  // Never the text inside a field (a textarea's text is its value).
  if (!text && !field && tag !== 'input') text = collapse(textOf(el, env, acc));
  if (!text) text = collapse(fromAttr(el, 'title', env, acc));
  if (!text && field) text = collapse(fromAttr(el, 'placeholder', env, acc));
  if (!text) return null;
  return { text: text, masked: acc.masked };
}

/* ---------------- selectors ---------------- */

function quote(v) {
  return '"' + sreplace(sreplace(v, /\\/g, '\\\\'), /"/g, '\\"') + '"';
}
function escId(id) {
  if (cssEscape) return cssEscape(id);
  return sreplace(id, /[^a-zA-Z0-9_-]/g, function (c) {
    return '\\' + c;
  });
}

function count(root, sel) {
  try {
    return root.querySelectorAll(sel).length;
  } catch (_) {
    return 0;
  }
}

/** Ids that frameworks generate (`:r1:`, `ember123`, `mui-4`, uuids,
 *  long digit runs) change between visits: no use to find it again. */
export function generatedId(id) {
  return (
    reTest(/[:\s]|\d{3,}|^\d|[0-9a-f]{8,}/i, id) ||
    reTest(/^(ember|ext-|yui|mui-|radix-|headlessui-|react-|rc-|__|ng-|v-|el-|uid|id-?\d)/i, id)
  );
}

var ROLE_QUERY = {
  button: 'button,input[type=button],input[type=submit],input[type=reset],input[type=image],summary,[role=button]',
  link: 'a[href],area[href],[role=link]',
  checkbox: 'input[type=checkbox],[role=checkbox]',
  radio: 'input[type=radio],[role=radio]',
  textbox:
    'input:not([type]),input[type=text],input[type=email],input[type=tel],input[type=url],input[type=""],textarea,[role=textbox]',
  searchbox: 'input[type=search],[role=searchbox]',
  combobox: 'select,[role=combobox]',
  listbox: 'select,[role=listbox]',
  slider: 'input[type=range],[role=slider]',
  spinbutton: 'input[type=number],[role=spinbutton]',
  tab: '[role=tab]',
  menuitem: '[role=menuitem]',
  option: 'option,[role=option]',
  switch: '[role=switch]',
};

/** Is `el` the one element of its role with exactly this name in `root`? */
function uniqueByRole(el, role, text, root, env) {
  var q = ROLE_QUERY[role];
  if (!q) return false;
  // Elements of its tag, counted from the document's live (cached) list,
  // bound the candidates before any selector is run.
  var doc = el.ownerDocument;
  if (doc.getElementsByTagName(el.localName).length > ROLE_CANDIDATES) return false;
  var list;
  try {
    list = root.querySelectorAll(q);
  } catch (_) {
    return false;
  }
  if (list.length > ROLE_CANDIDATES) return false;
  var same = 0;
  for (var i = 0; i < list.length; i++) {
    var c = list[i];
    if (c !== el && roleOf(c) !== role) continue;
    var n = c === el ? { text: text } : nameOf(c, env);
    if (n && n.text === text && ++same > 1) return false;
  }
  return same === 1;
}

/** One step of a CSS path: the tag, with `:nth-of-type` among siblings. */
function step(el) {
  var tag = el.localName;
  var p = el.parentElement;
  if (!p) return tag;
  var n = 0,
    at = 0;
  for (var c = p.firstElementChild; c; c = c.nextElementSibling) {
    if (c.localName === tag) {
      n++;
      if (c === el) at = n;
    }
  }
  return n > 1 ? tag + ':nth-of-type(' + at + ')' : tag;
}

/**
 * A selector that finds `el` again (see the forms in this file's doc);
 * `name` is its label from [`nameOf`]. Unique in `el`'s document or
 * shadow root at the time, or `null` when nothing is (an element no
 * longer in the page).
 */
export function selectorOf(el, name, env) {
  if (!el.isConnected) return null;
  var root = el.getRootNode();
  for (var i = 0; i < TEST_ID_ATTRS.length; i++) {
    var tv = el.getAttribute(TEST_ID_ATTRS[i]);
    if (tv) {
      var ts = '[' + TEST_ID_ATTRS[i] + '=' + quote(tv) + ']';
      if (count(root, ts) === 1) return ts;
    }
  }
  var id = el.id;
  if (id && !generatedId(id)) {
    var is = '#' + escId(id);
    if (count(root, is) === 1) return is;
  }
  var role = roleOf(el);
  if (role && name && !name.masked && sslice(name.text, -1) !== '…' && uniqueByRole(el, role, name.text, root, env)) {
    return 'role=' + role + '[name=' + quote(name.text) + ']';
  }
  var nm = el.getAttribute('name');
  if (nm) {
    var ns = el.localName + '[name=' + quote(nm) + ']';
    if (count(root, ns) === 1) return ns;
  }
  // A CSS path: from `el` up to the nearest ancestor with a usable id or
  // test id (or the root), `:nth-of-type` wherever a sibling shares the
  // tag, so unique by construction; then the shortest of its last three
  // steps that is unique already (at most three lookups, none on a big
  // page, where each costs milliseconds).
  var steps = [],
    anchor = null;
  for (var a = el, depth = 0; a && depth < 32; a = a.parentElement, depth++) {
    if (a !== el && (anchor = anchorOf(a, root))) break;
    push(steps, step(a));
  }
  var full = '';
  for (var k = steps.length - 1; k >= 0; k--) full += (full ? ' > ' : '') + steps[k];
  if (anchor) full = anchor + ' > ' + full;
  var big = el.ownerDocument.getElementsByTagName('*').length > BIG_PAGE;
  for (var n = 1; n <= 3 && n < steps.length && !big; n++) {
    var tail = '';
    for (var j = n - 1; j >= 0; j--) tail += (tail ? ' > ' : '') + steps[j];
    if (count(root, tail) === 1) return tail;
  }
  // Anchored, or climbed to the document's root: unique as built.
  if (anchor || (!a && root.nodeType === 9)) return full;
  return count(root, full) === 1 ? full : null;
}

/** `#id` or `[data-testid="…"]` of `a` when it finds `a` alone. */
function anchorOf(a, root) {
  for (var k = 0; k < TEST_ID_ATTRS.length; k++) {
    var av = a.getAttribute(TEST_ID_ATTRS[k]);
    if (av) {
      var t = '[' + TEST_ID_ATTRS[k] + '=' + quote(av) + ']';
      if (count(root, t) === 1) return t;
    }
  }
  if (a.id && !generatedId(a.id)) {
    var i = '#' + escId(a.id);
    if (count(root, i) === 1) return i;
  }
  return null;
}

/**
 * The label and selector of an event's target, as the raw event's `lab`
 * (text), `lm` (1 when masked) and `sel`: set on `ev`, which is returned.
 * Nothing is set for a blocked target, nor for the page as a whole (a key
 * pressed with nothing focused, a click beside everything).
 */
export function describe(el, env, ev) {
  if (!el || el.nodeType !== 1 || el.localName === 'body' || el.localName === 'html') return ev;
  // A label that cannot be made must not cost the event itself.
  try {
    var name = nameOf(el, env);
    var sel = env.blocked(el, true) ? null : selectorOf(el, name, env);
    if (name) {
      ev.lab = name.text;
      if (name.masked) ev.lm = 1;
    }
    if (sel) ev.sel = sel;
  } catch (e) {
    warn(e);
  }
  return ev;
}

/** Named keys recorded as key presses; a printable character never is. */
var NAMED_KEYS = {
  Enter: 1,
  Escape: 1,
  Tab: 1,
  ArrowUp: 1,
  ArrowDown: 1,
  ArrowLeft: 1,
  ArrowRight: 1,
  Backspace: 1,
  Delete: 1,
  Home: 1,
  End: 1,
  PageUp: 1,
  PageDown: 1,
};

/** The key press as Playwright writes it (`Shift+Tab`, `Control+Enter`),
 *  or `null` for keys not recorded (printable characters, modifiers
 *  alone, repeats, IME composition). */
export function keyName(e) {
  if (!e || e.repeat || e.isComposing || !NAMED_KEYS[e.key]) return null;
  var mods = [];
  if (e.ctrlKey) push(mods, 'Control');
  if (e.altKey) push(mods, 'Alt');
  if (e.metaKey) push(mods, 'Meta');
  if (e.shiftKey) push(mods, 'Shift');
  push(mods, e.key);
  return join(mods, '+');
}
