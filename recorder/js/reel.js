/*
 * Reel recorder: the script tag an embedding page loads.
 *
 * This file is the page-side half of the recorder. It defines `window.Reel`
 * at once, captures the DOM and the user's interactions in plain JavaScript
 * (where each DOM access is cheap), and hands its findings, one JSON batch
 * at a time, to the wasm half (`/recorder/reel_recorder.js`), which masks,
 * encodes, compresses and sends them.
 *
 * Invariants:
 * - Nothing here throws into the host page: every entry point, listener,
 *   observer and timer callback is wrapped; a public call returns a settled
 *   value or a Promise that resolves; an internal error is reported once per
 *   kind through the `console.warn` captured at load, never thrown.
 * - Built-ins: every global and prototype method the recording leans on
 *   that a page could replace (JSON, Array methods, Object.keys, Promise's
 *   `then`, fetch, timers, clocks, addEventListener, MutationObserver,
 *   crypto, storage, WebAssembly, console.warn) is captured when this file
 *   first runs, and only the captured ones are used. Not covered: Map/Set
 *   methods, String methods, and the DOM's own getters (a page that breaks
 *   `Node.prototype` breaks itself first); the wasm glue's TextEncoder and
 *   TextDecoder, read when the glue loads (at the first `Reel.start`).
 * - Node ids: a node gets an id when first serialised and keeps it while it
 *   moves; ids are never reused within a page.
 * - Order: DOM mutations are serialised in the MutationObserver callback;
 *   `Reel.event()` first drains pending mutation records, so a custom event
 *   always sorts after the DOM changes made before it.
 * - Raw values (typed text) go only to the wasm half, which applies the
 *   masking rules before anything is encoded; nothing leaves the browser
 *   unmasked.
 */
(function () {
  'use strict';
  if (window.Reel && window.Reel.__reel) return;

  /* Built-ins, captured now (see the invariants). `un(f)(self, a)` is
   * `f.call(self, a)` without looking up `call` later. */
  var W = window, FP = Function.prototype, AP = Array.prototype, OP = Object.prototype, M = Math;
  var un = FP.bind.bind(FP.call);
  var push = un(AP.push), splice = un(AP.splice), slice = un(AP.slice), indexOf = un(AP.indexOf);
  var join = un(AP.join), sort = un(AP.sort);
  var SP = String.prototype, sslice = un(SP.slice), lower = un(SP.toLowerCase), reTest = un(RegExp.prototype.test);
  var rApply = Reflect.apply, keys = Object.keys, hasOwn = un(OP.hasOwnProperty), toStr = un(OP.toString);
  var getDesc = Object.getOwnPropertyDescriptor, defProp = Object.defineProperty;
  var toJSON = JSON.stringify, fromJSON = JSON.parse;
  var P = Promise, then = un(P.prototype.then);
  var setT = setTimeout.bind(W), clearT = clearTimeout.bind(W), setI = setInterval.bind(W), clearI = clearInterval.bind(W);
  var fetchFn = W.fetch.bind(W), bodyBytes = un(Response.prototype.arrayBuffer);
  var WA = W.WebAssembly, compileWasm = WA.compile.bind(WA);
  var perf = performance, perfNow = perf.now.bind(perf), dateNow = Date.now;
  var random = M.random, floor = M.floor, mmin = M.min;
  var rnd = crypto.getRandomValues.bind(crypto);
  var ET = EventTarget.prototype, on = un(ET.addEventListener), off = un(ET.removeEventListener);
  var MO = MutationObserver, MOP = MO.prototype;
  var moObserve = un(MOP.observe), moTake = un(MOP.takeRecords), moStop = un(MOP.disconnect);
  var ST = W.Storage && Storage.prototype, getItem = un(ST.getItem), setItem = un(ST.setItem), removeItem = un(ST.removeItem);
  var consoleWarn = console.warn.bind(console);
  var BC = W.BroadcastChannel, U8 = Uint8Array;
  function each(a, f) { for (var i = 0; i < a.length; i++) f(a[i]); }
  function pushAll(a, b) { for (var i = 0; i < b.length; i++) push(a, b[i]); }
  function sleep(ms) { return new P(function (r) { setT(r, ms); }); }
  /** `fn` as a timer or listener callback: an error in it is reported, never thrown. */
  function safe(fn) { return function (a) { try { return fn(a); } catch (e) { warn(e); } }; }
  function later(fn, ms) { return setT(safe(fn), ms); }

  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : '';
  var ORIGIN = scriptUrl ? new URL(scriptUrl).origin : location.origin;

  // Context bits; keep in sync with recorder/src/raw.rs (`flags`).
  var M_MASK = 1, M_UNMASK = 2, M_BLOCK = 4, M_SENSITIVE = 8, M_TEXTAREA = 16;
  var SVG_NS = 'http://www.w3.org/2000/svg', MATH_NS = 'http://www.w3.org/1998/Math/MathML';
  var SESSION_KEY = 'reel.session', OPTOUT_KEY = 'reel.optout';
  var IDLE_MS = 30 * 60 * 1000, MAX_SESSION_MS = 4 * 60 * 60 * 1000;
  var CONSOLE_LEVELS = ['debug', 'log', 'info', 'warn', 'error'];
  var MAX_TEXT = 1024;
  var DRAIN_SLICE = 3000;
  var SNAP_PART = 2000;
  var ADD_BUDGET = 600;
  var DEFER_CHANGES = 500; // attribute and text changes read in the callback // nodes serialised per task in a burst of adds
  var SNAP_SLICE_MS = 12; // the full snapshot's walk, per task
  var MASKABLE_ATTRS = { value: 1, placeholder: 1, title: 1, alt: 1, 'aria-label': 1, 'aria-description': 1 };

  var inReel = 0;
  /** Reports an internal error once per kind (its message), at most 20 kinds. */
  var warned = Object.create(null), warnings = 0;
  function warn(e) {
    inReel++;
    try {
      var m = String(e && e.message ? e.message : e);
      if (!warned[m] && warnings++ < 20) { warned[m] = 1; consoleWarn('[reel]', m); }
    } catch (_) { /* nothing to do */ }
    inReel--;
  }

  /**
   * A console argument as bounded text: strings as they are, errors by
   * name and message, objects as JSON with cycles and depth cut, so a
   * self-referencing object or a huge array can never blow up the page.
   */
  function stringify(v) {
    if (typeof v === 'string') return v;
    if (v instanceof Error) return (v.name || 'Error') + ': ' + v.message;
    if (v === null || typeof v !== 'object') return String(v);
    var seen = [];
    var budget = 200;
    try {
      return toJSON(v, function (k, x) {
        if (--budget < 0) return undefined;
        if (x && typeof x === 'object') {
          if (x.nodeType) return '[' + (x.nodeName || 'node') + ']';
          if (indexOf(seen, x) >= 0 || seen.length > 20) return '[…]';
          push(seen, x);
        }
        return typeof x === 'function' || typeof x === 'symbol' || typeof x === 'bigint' ? String(x) : x;
      }) || String(v);
    } catch (_) {
      try { return toStr(v); } catch (_2) { return '[object]'; }
    }
  }
  function clip(s) { s = String(s); return s.length > MAX_TEXT ? sslice(s, 0, MAX_TEXT) + '…' : s; }

  // The Storage objects' getters (on the window itself), read when used:
  // reading them throws where storage is blocked.
  var storages = {};
  each(['localStorage', 'sessionStorage'], function (k) {
    try { var d = getDesc(W, k); storages[k] = d && d.get && un(d.get); } catch (_) { /* none */ }
  });
  function storage(kind) {
    try { return storages[kind] ? storages[kind](W) : null; } catch (_) { return null; }
  }
  function load(kind, key) {
    try { var s = storage(kind); var v = s && getItem(s, key); return v ? fromJSON(v) : null; } catch (_) { return null; }
  }
  function save(kind, key, value) {
    try { var s = storage(kind); if (s) { if (value === null) removeItem(s, key); else setItem(s, key, toJSON(value)); } } catch (_) { /* private mode */ }
  }

  function randomHex(bytes) {
    var a = new U8(bytes);
    rnd(a);
    var s = '';
    for (var i = 0; i < a.length; i++) s += (a[i] < 16 ? '0' : '') + a[i].toString(16);
    return s;
  }

  /** The wasm half: its glue imported, its module compiled with the
   *  captured fetch and WebAssembly, and instantiated synchronously (the
   *  glue's async init would use the page's `fetch` and `then`). Only
   *  `await` on native promises: unlike `.then` and resolving a promise
   *  with a promise, it does not look up the page's `then`. */
  var wasmModule = null;
  async function loadWasm(origin) {
    if (wasmModule) return wasmModule;
    var glue = import(origin + '/recorder/reel_recorder.js');
    // Not `compileStreaming`: it resolves a promise with the Response's
    // promise, which goes through the page's `Promise.prototype.then`.
    var res = await fetchFn(origin + '/recorder/reel_recorder_bg.wasm', { credentials: 'omit' });
    var mod = await compileWasm(await bodyBytes(res));
    then(glue, null, function () { /* reported below */ });
    var m = await glue;
    m.initSync({ module: mod });
    return (wasmModule = m);
  }

  function matches(el, sel) {
    try { return !!sel && el.matches(sel); } catch (_) { return false; }
  }
  function closest(el, sel) {
    try { return !!sel && !!el.closest(sel); } catch (_) { return false; }
  }

  /* ------------------------------------------------------------------ */
  /* Hooks into page APIs: installed once per window, forwarding to the  */
  /* current recording (no-ops when none). Each wrapper calls the        */
  /* original first and returns its result, so the page sees no change.  */
  /* ------------------------------------------------------------------ */

  var patchedWindows = new WeakSet();

  function hook(name, args) {
    if (!current || inReel) return;
    inReel++;
    try { current.hook(name, args); } catch (e) { warn(e); }
    inReel--;
  }

  function wrapMethod(proto, name, after, before) {
    var orig = proto && hasOwn(proto, name) && proto[name];
    if (typeof orig !== 'function') return;
    proto[name] = function () {
      if (before) before();
      var r = rApply(orig, this, arguments);
      after(this, arguments, r);
      return r;
    };
  }

  function wrapSetter(proto, name, after) {
    var d = proto && getDesc(proto, name);
    if (!d || !d.set || !d.configurable) return;
    var set = un(d.set);
    defProp(proto, name, {
      configurable: true, enumerable: d.enumerable, get: d.get,
      set: function (v) { set(this, v); after(this); },
    });
  }

  function patchWindow(win) {
    try {
      if (!win || patchedWindows.has(win)) return;
      patchedWindows.add(win);
      var con = win.console;
      if (con) {
        each(CONSOLE_LEVELS, function (level) {
          var orig = con[level];
          if (typeof orig !== 'function') return;
          con[level] = function () {
            hook('console', [level, arguments]);
            return rApply(orig, this, arguments);
          };
        });
      }
      // DOM changes made before a CSSOM edit are recorded before it (a
      // <style> added and filled in one task must exist first, empty).
      var pre = function () { hook('pre', []); };
      var CSS = win.CSSStyleSheet && win.CSSStyleSheet.prototype;
      wrapMethod(CSS, 'insertRule', function (sheet, a, r) { hook('sheetInsert', [sheet, null, r]); }, pre);
      wrapMethod(CSS, 'deleteRule', function (sheet, a) { hook('sheetDelete', [sheet, null, a[0]]); }, pre);
      wrapMethod(CSS, 'replaceSync', function (sheet) { hook('sheetReplace', [sheet]); }, pre);
      wrapMethod(CSS, 'replace', function (sheet, a, r) {
        if (r instanceof P) then(r, function () { hook('sheetReplace', [sheet]); }, function () {});
      });
      var GR = win.CSSGroupingRule && win.CSSGroupingRule.prototype;
      wrapMethod(GR, 'insertRule', function (rule, a, r) { hook('sheetInsert', [rule.parentStyleSheet, rule, r]); }, pre);
      wrapMethod(GR, 'deleteRule', function (rule, a) { hook('sheetDelete', [rule.parentStyleSheet, rule, a[0]]); }, pre);
      each([win.Document, win.ShadowRoot], function (C) {
        wrapSetter(C && C.prototype, 'adoptedStyleSheets', function (root) { hook('adopt', [root]); });
      });
      wrapMethod(win.Element && win.Element.prototype, 'attachShadow', function (host, a, root) { hook('shadow', [host, root]); });
      var fields = [['HTMLInputElement', ['value', 'checked']], ['HTMLTextAreaElement', ['value']],
        ['HTMLSelectElement', ['value', 'selectedIndex']], ['HTMLOptionElement', ['selected']]];
      each(fields, function (f) {
        var C = win[f[0]];
        each(f[1], function (prop) {
          wrapSetter(C && C.prototype, prop, function (el) { hook('field', [el]); });
        });
      });
    } catch (e) { warn(e); }
  }

  /* ------------------------------------------------------------------ */
  /* One recording of one page.                                          */
  /* ------------------------------------------------------------------ */

  function Recording(opts) {
    var self = this;
    self.opts = opts;
    var ids = new WeakMap();
    var nextId = 1;
    var blocked = new WeakSet();
    var sensitive = new WeakSet();
    var queue = [];
    var queueTimer = 0;
    var tickTimer = 0;
    var canvasTimer = 0;
    var observer = null;
    var listeners = [];
    var wasm = null;
    var oldWasm = [];
    var stopped = false;
    var lastT = 0;
    var observedRoots = new WeakSet();
    var docs = [];              // recorded documents (main, then same-origin iframes)
    var frameDocs = new WeakMap(); // iframe element -> the document recorded for it
    var sheetIds = new WeakMap();  // constructed sheet -> number
    var nextSheet = 1;
    var sentSheets = new WeakSet();
    var consoleBudget = 1000;
    var lastActivity = 0;
    var idleMs = opts.idleTimeoutMs > 0 ? opts.idleTimeoutMs : IDLE_MS;
    var maxMs = opts.maxSessionMs > 0 ? opts.maxSessionMs : MAX_SESSION_MS;
    var tabId = randomHex(8);
    var channel = null;
    var conflict = false;

    var session = continueSession();
    lastT = session.last || 0;
    self.sessionId = session.id;

    function newSession(t) {
      var s = { id: randomHex(16), seq: 0, last: 0, start: t };
      save('sessionStorage', SESSION_KEY, s);
      return s;
    }

    function continueSession() {
      var s = load('sessionStorage', SESSION_KEY);
      var t = dateNow();
      if (s && typeof s.id === 'string' && reTest(/^[0-9a-f]{32}$/, s.id) && t - (s.last || 0) < idleMs &&
        t - (s.start || t) < maxMs) {
        if (!s.start) s.start = t;
        return s;
      }
      return newSession(t);
    }

    function persist() {
      if (wasm) session.seq = wasm.r.next_seq;
      session.last = lastT;
      save('sessionStorage', SESSION_KEY, session);
    }

    /** Milliseconds since the epoch, never decreasing within a session. */
    function now() {
      var t = floor(perf.timeOrigin + perfNow());
      if (t > lastT) lastT = t;
      return lastT;
    }

    function idOf(node) { return ids.get(node) || 0; }
    function assignId(node) {
      var id = ids.get(node);
      if (!id) { id = nextId++; ids.set(node, id); }
      return id;
    }

    function enqueue(ev) {
      if (stopped) return;
      if (walking && ev.k !== 'meta' && ev.k !== 'snap-part') { push(walking.held, ev); return; }
      push(queue, ev);
      if (!queueTimer) queueTimer = later(drain, 100);
    }

    /** How much work an event is to encode and convert, roughly in nodes. */
    function weight(ev) {
      if (ev.k === 'snap' || ev.k === 'snap-part') return ev.nodes.length;
      if (ev.k !== 'mut') return 1;
      var w = (ev.attr ? ev.attr.length : 0) + (ev.text ? ev.text.length : 0) + (ev.rem ? ev.rem.length : 0);
      for (var i = 0; ev.add && i < ev.add.length; i++) w += ev.add[i].nodes.length;
      return w;
    }

    /**
     * Hands queued events to the wasm half, one crossing per slice of about
     * DRAIN_SLICE nodes; the rest follows in a later task, so a burst of
     * changes never makes one long task of encoding. `all` drains the whole
     * queue now (flush, page hidden).
     */
    function drain(all) {
      if (queueTimer) { clearT(queueTimer); queueTimer = 0; }
      while (wasm && queue.length) {
        pushSlice();
        if (!all && queue.length) { queueTimer = later(drain, 0); return; }
      }
    }

    /** Hands the wasm half the oldest DRAIN_SLICE of the queue. */
    function pushSlice() {
      var n = 0, w = 0;
      while (n < queue.length && (n === 0 || w + weight(queue[n]) <= DRAIN_SLICE)) w += weight(queue[n++]);
      var batch = splice(queue, 0, n);
      try { wasm.r.push(toJSON(batch), now()); } catch (e) {
        warn(e);
        // One event that cannot be handed over must not cost the others.
        if (n > 1) each(batch, function (ev) { try { wasm.r.push(toJSON([ev]), now()); } catch (e2) { warn(e2); } });
      }
      compressLater();
    }

    /**
     * Resolves once everything queued is in the wasm half and compressed
     * but for the last block: one slice, or one block of compression, per
     * task, so that `flush()` after a big snapshot is not one long task.
     */
    function settle() {
      return new P(function (resolve) {
        (function step() {
          var more = false;
          try {
            if (wasm && queue.length) { pushSlice(); more = true; }
            else more = !!(wasm && wasm.r.work());
          } catch (e) { warn(e); }
          if (more) setT(step, 0); else resolve();
        })();
      });
    }

    /**
     * Compresses the open chunk a frame (~128 KB encoded) per task, between
     * the page's own tasks, so that sealing it is short whatever its size.
     */
    var workTimer = 0;
    function compressLater() {
      if (workTimer) return;
      workTimer = later(function work() {
        workTimer = 0;
        var more = false;
        try { more = !!(wasm && wasm.r.work()); } catch (e) { warn(e); }
        if (more) workTimer = later(work, 0);
      }, 0);
    }

    /* ---------------- serialisation ---------------- */

    function isBlocked(el) {
      return el.hasAttribute('data-reel-block') || matches(el, opts.blockSelector);
    }

    /** The node above `n` across shadow roots and same-origin frames. */
    function up(n) {
      if (n.parentNode) return n.parentNode;
      if (n.host) return n.host;
      if (n.nodeType === 9 && n !== document) {
        try { return n.defaultView && n.defaultView.frameElement; } catch (_) { return null; }
      }
      return null;
    }

    /** The context bits an element passes to its content, looking through
     *  shadow roots and frames (the snapshot inherits them the same way). */
    function ctxOf(node, memo) {
      var m = inherited(node, memo || new Map());
      var el = node.nodeType === 1 ? node : node.parentElement;
      if (el && sensitive.has(el)) m |= M_SENSITIVE;
      return m;
    }

    /** The mask bits `node` inherits from itself and its ancestors, with
     *  `memo` remembering them for every node on the way: shared across a
     *  batch of mutations, a batch touching thousands of texts climbs each
     *  ancestor once. */
    function inherited(node, memo) {
      var path = [], m;
      for (var n = node; n; n = up(n)) {
        m = memo.get(n);
        if (m !== undefined) break;
        push(path, n);
      }
      if (m === undefined) m = opts.maskAllText ? M_MASK : 0;
      for (var i = path.length - 1; i >= 0; i--) {
        var x = path[i];
        if (x.nodeType === 1) {
          if (x.hasAttribute('data-reel-mask') || matches(x, opts.maskTextSelector)) m |= M_MASK;
          if (x.hasAttribute('data-reel-unmask')) m |= M_UNMASK;
        }
        memo.set(x, m);
      }
      return m;
    }

    function textCtx(parent, ctx) {
      if (!parent || parent.nodeType !== 1) return ctx;
      var tag = parent.localName;
      if (tag === 'style' || tag === 'script') return ctx & ~M_MASK;
      if (tag === 'textarea') return ctx | M_TEXTAREA;
      return ctx;
    }

    function rulesText(sheet) {
      var rules;
      try { rules = sheet.cssRules; } catch (_) { return null; } // cross-origin: kept by URL
      var out = [];
      for (var i = 0; i < rules.length; i++) push(out, rules[i].cssText);
      return join(out, '\n');
    }

    function stylesheetText(el) {
      return el.sheet ? rulesText(el.sheet) : null;
    }

    function frameDoc(el) {
      try {
        var d = el.contentDocument;
        return d && d.documentElement !== undefined ? d : null;
      } catch (_) { return null; }
    }

    var late = []; // events that must follow the snapshot or add being built

    /**
     * Serialises `root` and its subtree as a flat pre-order list, iteratively
     * (a 10,000-deep page must not overflow the stack). An open shadow root
     * comes first among its host's children, a same-origin frame's document
     * as its iframe's child. `fresh` collects the nodes serialised, so later
     * records about them are not sent twice.
     */
    function serialize(root, parentId, rootCtx, out, fresh) {
      walk([root, parentId, rootCtx], out, fresh, Infinity);
    }

    /** The loop of `serialize`, resumable: stops once `perfNow()`
     *  passes `deadline` (checked every 256 nodes) and returns whether it
     *  finished; `stack` then holds where to go on. */
    function walk(stack, out, fresh, deadline) {
      var n = 0;
      while (stack.length) {
        if ((++n & 255) === 0 && perfNow() > deadline) return false;
        var ctx = stack.pop(), pid = stack.pop(), node = stack.pop();
        var type = node.nodeType;
        if (type !== 1 && type !== 3 && type !== 4 && type !== 8 && type !== 9 && type !== 10 && type !== 11) continue;
        if (type === 11 && !node.host) continue; // a plain fragment
        var id = assignId(node);
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
          if (isBlocked(el)) {
            blocked.add(el);
            var r = el.getBoundingClientRect();
            rn.m = M_BLOCK; rn.bw = r.width; rn.bh = r.height;
            push(out, rn);
            continue;
          }
          if (el.hasAttribute('data-reel-mask') || matches(el, opts.maskTextSelector)) childCtx |= M_MASK;
          if (el.hasAttribute('data-reel-unmask')) childCtx |= M_UNMASK;
          var attrs = el.attributes, a = [];
          for (var i = 0; i < attrs.length; i++) push(a, [attrs[i].name, attrs[i].value]);
          if (a.length) rn.a = a;
          var m = childCtx;
          var tag = rn.tag;
          if (tag === 'input') {
            if (el.type === 'password') sensitive.add(el);
            if (el.type === 'checkbox' || el.type === 'radio') rn.c = el.checked;
            else rn.v = el.value;
          } else if (tag === 'textarea' || tag === 'select') {
            rn.v = el.value;
          } else if (tag === 'option') {
            var msel = inMultiple(el);
            if (msel) { rn.c = el.selected; rn.ac = msel.getAttribute('autocomplete') || ''; }
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
            if (inner) frameDocs.set(el, inner);
          } else if ((tag === 'video' || tag === 'audio') && el.currentTime) {
            push(late, mediaEvent(el, id, 'seek'));
          }
          // Scroll offsets force a layout: read them for the full snapshot
          // only (a node just added is almost never scrolled yet), and only
          // where there is content to scroll (children, a shadow tree, or
          // a field's own text): most elements of a big page are leaves.
          if (!fresh && (el.firstChild || el.shadowRoot || tag === 'textarea' || tag === 'input') &&
              (el.scrollTop || el.scrollLeft)) push(late, { k: 'scroll', t: 0, id: id, x: el.scrollLeft, y: el.scrollTop });
          if (sensitive.has(el)) m |= M_SENSITIVE;
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
          rn.x = node.name; rn.pub_id = node.publicId; rn.sys_id = node.systemId;
        } else if (type === 9 || type === 11) {
          watchRoot(node, id);
        }
        push(out, rn);
        if (skipChildren) continue;
        for (var c = node.lastChild; c; c = c.previousSibling) push(stack, c, id, type === 1 ? childCtx : ctx);
        if (inner) push(stack, inner, id, childCtx);
      }
      return true;
    }

    /** Starts observing a document or shadow root, and queues its adopted
     *  stylesheets (after the nodes being serialised). */
    function watchRoot(root, id) {
      if (root.adoptedStyleSheets && root.adoptedStyleSheets.length) pushAll(late, adoptEvents(root, id));
      if (observedRoots.has(root)) return;
      observedRoots.add(root);
      if (observer) moObserve(observer, root, OBSERVE);
      if (root.nodeType === 9 && root !== document) {
        push(docs, root);
        patchWindow(root.defaultView);
        listenDoc(root);
      }
    }

    function flushLate(t) {
      var l = late;
      late = [];
      for (var i = 0; i < l.length; i++) { l[i].t = t; enqueue(l[i]); }
    }

    /*
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
    var walking = null;

    /** Ends the walk `w` (done, replaced or abandoned): whoever waits on
     *  it (`Reel.start`) goes on. */
    function endWalk(w) {
      if (!w) return;
      if (walking === w) walking = null;
      w.resolve();
    }

    /** Resolves once no snapshot walk is under way. */
    async function snapshotTaken() {
      while (walking) await walking.done;
    }

    function snapshot() {
      var t = now();
      pending = null; // the snapshot has them
      enqueue({ k: 'meta', t: t, href: location.href, title: document.title || '', w: innerWidth, h: innerHeight, ua: navigator.userAgent });
      endWalk(walking); // a new snapshot supersedes one under way
      var w = walking = { stack: [document, 0, opts.maskAllText ? M_MASK : 0], nodes: [], held: [], dirty: false, timer: 0 };
      w.done = new P(function (resolve) { w.resolve = resolve; });
      late = [];
      (function step() {
        w.timer = 0;
        if (walking !== w) return;
        if (!w.dirty && !walk(w.stack, w.nodes, null, perfNow() + SNAP_SLICE_MS)) {
          w.timer = setT(function () { try { step(); } catch (e) { warn(e); endWalk(w); } }, 0);
          return;
        }
        completeSnapshot();
      })();
    }

    /** Finishes the walk under way now (starting over if the page changed
     *  since it began), and sends the snapshot and what was held. */
    function completeSnapshot() {
      var w = walking;
      if (!w) return;
      if (w.timer) clearT(w.timer);
      if (observer && moTake(observer).length) w.dirty = true;
      if (w.dirty) {
        // `late` keeps what the first pass queued: constructed sheets are
        // sent once (the restart would not queue them again), and the rest
        // is state set again, harmless twice.
        w.nodes = [];
        walk([document, 0, opts.maskAllText ? M_MASK : 0], w.nodes, null, Infinity);
        if (observer) moTake(observer);
      } else {
        walk(w.stack, w.nodes, null, Infinity);
      }
      endWalk(w);
      var t = now(), nodes = w.nodes;
      // A big page goes to the wasm half in parts, each handed over (and
      // converted) in its own task; the last part is the snapshot event.
      var at = 0;
      for (; nodes.length - at > SNAP_PART; at += SNAP_PART) enqueue({ k: 'snap-part', nodes: slice(nodes, at, at + SNAP_PART) });
      enqueue({ k: 'snap', t: t, nodes: at ? slice(nodes, at) : nodes, sx: scrollX, sy: scrollY });
      flushLate(t);
      for (var i = 0; i < w.held.length; i++) enqueue(w.held[i]);
    }

    /* ---------------- stylesheets ---------------- */

    function sheetRef(sheet, ev) {
      if (!sheet) return null;
      var owner = sheet.ownerNode;
      if (owner) {
        var id = idOf(owner);
        if (!id || blocked.has(owner)) return null;
        ev.node = id;
        return ev;
      }
      var n = sheetIds.get(sheet);
      if (!n || !sentSheets.has(sheet)) return null; // sent in full when adopted
      ev.cs = n;
      return ev;
    }

    /** Indexes from the sheet down to `rule` (a grouping rule). */
    function rulePath(rule) {
      var path = [];
      for (var r = rule; r; r = r.parentRule) {
        var list = r.parentRule ? r.parentRule.cssRules : r.parentStyleSheet && r.parentStyleSheet.cssRules;
        if (!list) return null;
        var i = Array.prototype.indexOf.call(list, r);
        if (i < 0) return null;
        path.unshift(i);
      }
      return path;
    }

    function adoptEvents(root, id) {
      var out = [], list = [];
      var sheets = root.adoptedStyleSheets || [];
      for (var i = 0; i < sheets.length; i++) {
        var s = sheets[i];
        var n = sheetIds.get(s);
        if (!n) { n = nextSheet++; sheetIds.set(s, n); }
        if (!sentSheets.has(s)) {
          sentSheets.add(s);
          push(out, { k: 'sheet', t: 0, cs: n, op: 'rep', text: rulesText(s) || '' });
        }
        push(list, n);
      }
      push(out, { k: 'adopt', t: 0, root: id, sheets: list });
      if (!adoptedKey.has(root)) push(adoptedRoots, root);
      adoptedKey.set(root, join(list));
      return out;
    }

    /**
     * `adoptedStyleSheets` is also changed in place (`push`, `splice`),
     * which no setter sees: roots that ever adopted are re-checked on each
     * tick and their list re-sent when it changed.
     */
    var adoptedRoots = [], adoptedKey = new WeakMap();
    function checkAdopted() {
      each(adoptedRoots, function (root) {
        var id = idOf(root);
        var sheets = root.adoptedStyleSheets || [];
        var key = [];
        for (var i = 0; i < sheets.length; i++) push(key, sheetIds.get(sheets[i]) || -1);
        if (!id || join(key) === adoptedKey.get(root)) return;
        var t = now();
        each(adoptEvents(root, id), function (e) { e.t = t; enqueue(e); });
      });
    }

    var hooks = {
      console: function (level, args) {
        if (consoleBudget <= 0) return;
        consoleBudget--;
        var parts = [];
        var len = 0;
        for (var i = 0; i < args.length && len < MAX_TEXT; i++) {
          var s = stringify(args[i]);
          push(parts, s);
          len += s.length + 1;
        }
        enqueue({ k: 'console', t: now(), level: level, text: clip(join(parts, ' ')) });
      },
      sheetInsert: function (sheet, rule, index) {
        drainMutations();
        var ev = sheetRef(sheet, { k: 'sheet', t: now(), op: 'ins', i: index >>> 0 });
        if (!ev) return;
        var list = rule ? rule.cssRules : sheet.cssRules;
        var path = rule ? rulePath(rule) : [];
        var inserted = list && list[index >>> 0];
        if (!path || !inserted) return;
        ev.path = path;
        ev.rule = inserted.cssText;
        enqueue(ev);
      },
      sheetDelete: function (sheet, rule, index) {
        drainMutations();
        var ev = sheetRef(sheet, { k: 'sheet', t: now(), op: 'del', i: index >>> 0 });
        var path = rule ? rulePath(rule) : [];
        if (ev && path) { ev.path = path; enqueue(ev); }
      },
      sheetReplace: function (sheet) {
        drainMutations();
        var ev = sheetRef(sheet, { k: 'sheet', t: now(), op: 'rep', text: rulesText(sheet) || '' });
        if (ev) enqueue(ev);
      },
      adopt: function (root) {
        drainMutations();
        var id = idOf(root);
        if (!id) return;
        var t = now();
        each(adoptEvents(root, id), function (e) { e.t = t; enqueue(e); });
      },
      shadow: function (host, root) {
        drainMutations();
        var hid = idOf(host);
        if (!hid || !root || root.mode !== 'open' || blocked.has(host) || insideBlocked(host) || !recorded(host)) return;
        var nodes = [];
        serialize(root, hid, textCtx(host, ctxOf(host)), nodes, null);
        var t = now();
        enqueue({ k: 'mut', t: t, add: [{ p: hid, n: 0, nodes: nodes }] });
        flushLate(t);
      },
      field: function (el) { fieldChanged(el); },
      pre: function () { drainMutations(); },
    };
    this.hook = function (name, args) {
      if (stopped) return;
      // A hooked change (a shadow root, a CSSOM edit, a field set by
      // script) during the snapshot's walk: finish the walk first.
      if (walking) completeSnapshot();
      rApply(hooks[name], null, args);
    };

    /* ---------------- mutations ---------------- */

    var OBSERVE = { childList: true, subtree: true, attributes: true, characterData: true };

    /** Is `node` in a tree this recording observes (the page, an open
     *  shadow root of it, a same-origin frame's document)? */
    // A connected node's shadow-including root is its node document
    // (inserting a node adopts it), so no climb through shadow hosts.
    function recorded(node) {
      if (!node.isConnected) return false;
      var d = node.nodeType === 9 ? node : node.ownerDocument;
      return d === document || observedRoots.has(d);
    }

    function insideBlocked(node) {
      for (var n = up(node); n; n = up(n)) if (n.nodeType === 1 && blocked.has(n)) return true;
      return false;
    }

    function fieldDesc(el, ev) {
      ev.tag = el.localName;
      ev.type = lower(el.getAttribute('type') || 'text');
      ev.ac = lower(el.getAttribute('autocomplete') || '');
      var m = ctxOf(el);
      if (m) ev.m = m;
      return ev;
    }

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
        if (!list) byParent.set(n.parentNode, list = []);
        push(list, n);
      });
      var out = [];
      byParent.forEach(function (list, parent) {
        if (list.length > 1) {
          var at = new Map();
          var i = 0;
          for (var c = parent.firstChild; c; c = c.nextSibling) at.set(c, i++);
          sort(list, function (a, b) { return at.get(a) - at.get(b); });
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
     */
    /** `spread`: called by the observer, so a big batch may be finished
     *  in later tasks; otherwise (a drain: a marker, flush, a hook) it is
     *  finished now, with whatever an earlier batch left pending. */
    function onMutations(records, spread) {
      if (stopped || (!records.length && !pending)) return;
      var t = now();
      var rem = [], remSeen = new Set();
      var added = new Set();
      var attrs = new Map();
      var texts = new Set();
      for (var i = 0; i < records.length; i++) {
        var r = records[i], type = r.type;
        if (type === 'childList') {
          // Each NodeList read is a call into the browser: once per record.
          var gone = r.removedNodes, came = r.addedNodes;
          for (var j = 0, nj = gone.length; j < nj; j++) {
            var id = idOf(gone[j]);
            if (id && !remSeen.has(id)) { remSeen.add(id); push(rem, id); }
          }
          for (var k = 0, nk = came.length; k < nk; k++) added.add(came[k]);
        } else if (type === 'attributes') {
          var names = attrs.get(r.target);
          if (!names) attrs.set(r.target, names = new Set());
          names.add(r.attributeName);
        } else if (type === 'characterData') {
          texts.add(r.target);
        }
      }

      // Attribute and text changes deferred by an earlier batch are read
      // now, with this one's (they read current values either way).
      if (pending) {
        pending.attrs.forEach(function (names, el) {
          var mine = attrs.get(el);
          if (!mine) attrs.set(el, names);
          else names.forEach(function (n) { mine.add(n); });
        });
        pending.texts.forEach(function (n) { texts.add(n); });
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
        while (n.parentNode && !idOf(n.parentNode)) {
          var known = tops.get(n);
          if (known !== undefined) { n = known; break; }
          push(path, n);
          n = n.parentNode;
        }
        for (var i = 0; i < path.length; i++) tops.set(path[i], n);
        return n;
      }
      added.forEach(function (n) {
        if (!recorded(n)) return;
        n = topOf(n);
        if (!n.parentNode || rootSet.has(n)) return;
        if (blocked.has(n.parentNode) || insideBlocked(n)) return;
        rootSet.add(n);
        push(roots, n);
      });
      var kept = [];
      each(roots, function (n) {
        for (var p = n.parentNode; p; p = p.parentNode) if (rootSet.has(p)) return;
        push(kept, n);
      });
      roots = kept;
      roots = sortRoots(roots);
      var fresh = new Set();
      var add = [];
      // Roots left over from an earlier batch go first, as they are now:
      // records since then that touch them describe what this serialises.
      if (pending) {
        serializePending(Infinity, add, fresh, remSeen, rootSet);
        pending = null;
      }
      // The last roots first (an add's `next` sibling must be recorded);
      // past the budget, the rest waits for the next task.
      var budget = spread ? ADD_BUDGET : Infinity;
      var x = roots.length - 1;
      for (; x >= 0 && budget > 0; x--) {
        // A root inside a pending one was just serialised with it.
        if (!fresh.has(roots[x])) budget -= addRoot(roots[x], add, fresh, remSeen, rootSet);
      }
      if (x >= 0 || (spread && attrs.size + texts.size > DEFER_CHANGES)) {
        // A big batch: the rest of the adds, then the attribute and text
        // reads, go out from later tasks (see `continuePending`).
        pending = { roots: [], attrs: attrs, texts: texts, fresh: fresh };
        for (var q = 0; q <= x; q++) push(pending.roots, roots[q], roots[q].parentNode);
        attrs = new Map();
        texts = new Set();
        if (!pendingTimer) pendingTimer = later(continuePending, 0);
      }

      var ch = changes(attrs, texts, fresh), attr = ch.attr, text = ch.text;
      if (rem.length || add.length || attr.length || text.length) {
        // A huge batch goes out as consecutive events (removes, slices of
        // the adds in order, then attributes and texts): the player applies
        // them to the same result, and each can be drained in its own task.
        var part = { k: 'mut', t: t, rem: rem, add: [], attr: [], text: [] }, size = 0;
        for (var y = 0; y < add.length; y++) {
          if (size && size + add[y].nodes.length > DRAIN_SLICE) {
            enqueue(part);
            part = { k: 'mut', t: t, rem: [], add: [], attr: [], text: [] };
            size = 0;
          }
          push(part.add, add[y]);
          size += add[y].nodes.length;
        }
        part.attr = attr;
        part.text = text;
        enqueue(part);
      }
      flushLate(t);
    }

    /**
     * Serialises one added root into an add; returns how many nodes. Its
     * `next` sibling is the first after it already recorded and staying
     * put: not one this batch removes or has yet to add.
     */
    function addRoot(root, add, fresh, remSeen, rootSet) {
      var next = root.nextSibling;
      while (next && !(idOf(next) && (fresh.has(next) || !(remSeen.has(idOf(next)) || rootSet.has(next))))) next = next.nextSibling;
      var nodes = [];
      var parent = root.parentNode;
      serialize(root, idOf(parent), textCtx(parent, ctxOf(parent)), nodes, fresh);
      if (nodes.length) push(add, { p: idOf(parent), n: next ? idOf(next) : 0, nodes: nodes });
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
    var pending = null, pendingTimer = 0, resync = false;
    function serializePending(budget, add, fresh, remSeen, rootSet) {
      var list = pending.roots;
      while (list.length && budget > 0) {
        var parent = list.pop(), root = list.pop();
        if (root.parentNode !== parent || !idOf(parent) || !recorded(root)) continue;
        budget -= addRoot(root, add, fresh, remSeen, rootSet);
      }
    }
    function continuePending() {
      pendingTimer = 0;
      if (!pending || stopped) { pending = null; return; }
      var t = now(), p = pending;
      try {
        if (p.roots.length) {
          var add = [];
          serializePending(ADD_BUDGET, add, p.fresh, new Set(), new Set());
          if (add.length) enqueue({ k: 'mut', t: t, rem: [], add: add, attr: [], text: [] });
        } else {
          pending = null;
          var ch = changes(p.attrs, p.texts, p.fresh);
          if (ch.attr.length || ch.text.length) enqueue({ k: 'mut', t: t, rem: [], add: [], attr: ch.attr, text: ch.text });
        }
      } catch (e) { warn(e); pending = null; resync = true; }
      flushLate(t);
      if (pending) pendingTimer = later(continuePending, 0);
    }

    /** The attribute and text changes of a batch, as they read now; nodes
     *  in `fresh` were just serialised whole. */
    function changes(attrs, texts, fresh) {
      var attr = [];
      attrs.forEach(function (names, el) {
        var id = idOf(el);
        if (!id || fresh.has(el) || blocked.has(el) || !recorded(el)) return;
        names.forEach(function (name) {
          var ev = { id: id, name: name, v: el.getAttribute(name) };
          if (MASKABLE_ATTRS[name]) fieldDesc(el, ev);
          push(attr, ev);
        });
      });
      var text = [];
      var memo = new Map();
      texts.forEach(function (n) {
        var id = idOf(n);
        if (!id || fresh.has(n) || !recorded(n)) return;
        var ev = { id: id, v: n.data };
        var m = textCtx(n.parentNode, ctxOf(n, memo));
        if (m) ev.m = m;
        push(text, ev);
      });
      return { attr: attr, text: text };
    }

    function drainMutations() {
      if (walking) completeSnapshot();
      if (observer) onMutations(moTake(observer));
    }

    /** A same-origin frame navigated: its new document replaces the old. */
    function onFrameLoad(el) {
      var id = idOf(el);
      if (!id || blocked.has(el) || !recorded(el)) return;
      var d = frameDoc(el);
      var old = frameDocs.get(el);
      if (d === old) return;
      drainMutations();
      var t = now();
      var ev = { k: 'mut', t: t, rem: old && idOf(old) ? [idOf(old)] : [], add: [] };
      if (d) {
        frameDocs.set(el, d);
        var nodes = [];
        serialize(d, id, ctxOf(el), nodes, null);
        push(ev.add, { p: id, n: 0, nodes: nodes });
      } else {
        frameDocs.delete(el);
      }
      enqueue(ev);
      flushLate(t);
    }

    /* ---------------- interactions ---------------- */

    function listen(target, type, fn, capture) {
      var wrapped = safe(fn);
      var o = { capture: !!capture, passive: true };
      on(target, type, wrapped, o);
      push(listeners, [target, type, wrapped, o]);
    }

    /** The real target of an event, inside open shadow roots. */
    function targetOf(e) {
      var p = e.composedPath && e.composedPath();
      return p && p.length ? p[0] : e.target;
    }

    function active() {
      var t = now();
      if (lastActivity && t - lastActivity > idleMs) rotate('idle');
      lastActivity = t;
    }

    var moves = null, lastMoveAt = 0;
    function flushMoves() {
      if (moves && moves.pos.length) enqueue(moves);
      moves = null;
    }
    function onMouseMove(e) {
      var t = now();
      if (t - lastMoveAt < 50) return;
      active();
      lastMoveAt = t;
      if (!moves) moves = { k: 'move', t: t, pos: [] };
      push(moves.pos, [e.clientX, e.clientY, t - moves.t]);
      if (t - moves.t >= 500 || moves.pos.length >= 50) flushMoves();
    }
    function onMouse(e) {
      active();
      flushMoves();
      enqueue({ k: 'mouse', t: now(), kind: e.type, id: idOf(targetOf(e)), x: e.clientX, y: e.clientY });
    }

    var lastTouchAt = 0;
    function onTouch(e) {
      var t = now();
      var kind = sslice(e.type, 5);
      if (kind === 'move' && t - lastTouchAt < 50) return;
      lastTouchAt = t;
      active();
      var pts = [];
      for (var i = 0; i < e.touches.length; i++) push(pts, [e.touches[i].clientX, e.touches[i].clientY]);
      enqueue({ k: 'touch', t: t, kind: kind, pts: pts });
    }

    var scrolled = new Set(), scrollTimer = 0;
    function flushScrolls() {
      scrollTimer = 0;
      var t = now();
      scrolled.forEach(function (target) {
        var id = idOf(target);
        if (!id) return;
        if (target.nodeType === 9) {
          var w = target.defaultView;
          if (w) enqueue({ k: 'scroll', t: t, id: id, x: w.scrollX, y: w.scrollY });
        } else {
          enqueue({ k: 'scroll', t: t, id: id, x: target.scrollLeft, y: target.scrollTop });
        }
      });
      scrolled.clear();
    }
    function onScroll(e) {
      var tg = targetOf(e);
      var d = tg.nodeType === 9 ? tg : tg.ownerDocument;
      var target = tg === d || tg === d.documentElement || tg === d.scrollingElement ? d : tg;
      scrolled.add(target);
      if (!scrollTimer) scrollTimer = setT(function () { try { flushScrolls(); } catch (err) { warn(err); } }, 100);
    }

    var resizeTimer = 0;
    function onResize() {
      if (resizeTimer) return;
      resizeTimer = later(function () {
        resizeTimer = 0;
        enqueue({ k: 'vp', t: now(), w: innerWidth, h: innerHeight });
      }, 200);
    }

    /** The `<select multiple>` an option belongs to, if any: only there is
     *  each option's `selected` state worth recording (a single select's
     *  value says it all). */
    function inMultiple(opt) {
      var sel = opt.parentNode;
      if (sel && sel.localName === 'optgroup') sel = sel.parentNode;
      return sel && sel.localName === 'select' && sel.multiple ? sel : null;
    }

    /** Records a form field's live state (typed, or set by script). */
    function fieldChanged(el) {
      if (!el || el.nodeType !== 1) return;
      if (el.localName === 'option') { el = inMultiple(el); if (!el) return; }
      var tag = el.localName;
      if (tag !== 'input' && tag !== 'textarea' && tag !== 'select') return;
      var id = idOf(el);
      if (!id || blocked.has(el) || insideBlocked(el) || !recorded(el)) return;
      if (el.type === 'password') sensitive.add(el);
      var check = el.type === 'checkbox' || el.type === 'radio';
      // `input` then `change`, or a framework re-setting the same value on
      // every render, record one event.
      var opts = tag === 'select' && el.multiple ? el.options : null;
      var key = check ? String(el.checked) : 'v' + el.value;
      for (var i = 0; opts && i < opts.length; i++) key += opts[i].selected ? '1' : '0';
      if (lastField.get(el) === key) return;
      lastField.set(el, key);
      var t = now();
      var ev = fieldDesc(el, { k: 'input', t: t, id: id });
      if (check) ev.c = el.checked;
      else ev.v = el.value;
      enqueue(ev);
      // Each option's state (kept or dropped by the select's masking rule,
      // which the option events carry through the select's description).
      for (var j = 0; opts && j < opts.length; j++) {
        var oid = idOf(opts[j]);
        if (!oid) continue;
        var oe = fieldDesc(el, { k: 'input', t: t, id: oid, c: opts[j].selected });
        oe.tag = 'option';
        enqueue(oe);
      }
    }
    var lastField = new WeakMap();

    function onInput(e) {
      active();
      fieldChanged(targetOf(e));
    }

    function onFocus(e) {
      var id = idOf(targetOf(e));
      if (id) enqueue({ k: 'focus', t: now(), id: id, f: e.type === 'focusin' });
    }

    var selTimer = 0;
    function onSelection() {
      if (selTimer) return;
      selTimer = setT(function () {
        selTimer = 0;
        try {
          var s = document.getSelection();
          if (!s) return;
          var a = idOf(s.anchorNode), f = idOf(s.focusNode);
          enqueue({ k: 'sel', t: now(), a: a, ao: s.anchorOffset, f: f, fo: s.focusOffset });
        } catch (err) { warn(err); }
      }, 100);
    }

    function mediaEvent(el, id, action) {
      return { k: 'media', t: now(), id: id, a: action, time: el.currentTime || 0, rate: el.playbackRate, muted: el.muted, vol: el.volume };
    }
    var MEDIA = { play: 'play', pause: 'pause', seeked: 'seek', ratechange: 'rate', volumechange: 'volume' };
    function onMedia(e) {
      var el = targetOf(e);
      var id = idOf(el);
      if (id && !blocked.has(el)) enqueue(mediaEvent(el, id, MEDIA[e.type]));
    }

    function onFrameLoadEvent(e) {
      var el = e.target;
      if (el && el.nodeType === 1 && (el.localName === 'iframe' || el.localName === 'frame')) onFrameLoad(el);
    }

    function onVisibility() {
      enqueue({ k: 'vis', t: now(), v: document.visibilityState !== 'hidden' });
      if (document.visibilityState === 'hidden') self.pageHidden();
    }

    function onError(e) {
      if (!e || !(e.message || e.error)) return; // a resource failing to load, not a script error
      var err = e.error;
      enqueue({
        k: 'err', t: now(), kind: 'uncaught', msg: clip(e.message || stringify(err)),
        src: e.filename ? clip(e.filename + ':' + e.lineno + ':' + e.colno) : null,
        stack: err && err.stack ? clip(String(err.stack)) : null,
      });
    }
    function onRejection(e) {
      var r = e.reason;
      enqueue({
        k: 'err', t: now(), kind: 'rejection', msg: clip(stringify(r)), src: null,
        stack: r && r.stack ? clip(String(r.stack)) : null,
      });
    }

    /** Listeners every recorded document needs. */
    function listenDoc(d) {
      listen(d, 'mousemove', onMouseMove, true);
      each(['mousedown', 'mouseup', 'click', 'dblclick', 'contextmenu'], function (t) { listen(d, t, onMouse, true); });
      each(['touchstart', 'touchmove', 'touchend', 'touchcancel'], function (t) { listen(d, t, onTouch, true); });
      listen(d, 'scroll', onScroll, true);
      listen(d, 'input', onInput, true);
      listen(d, 'change', onInput, true);
      listen(d, 'focusin', onFocus, true);
      listen(d, 'focusout', onFocus, true);
      listen(d, 'keydown', active, true);
      listen(d, 'load', onFrameLoadEvent, true);
      each(keys(MEDIA), function (t) { listen(d, t, onMedia, true); });
    }

    function captureCanvases() {
      each(docs, function (d) {
        var list = d.querySelectorAll('canvas');
        for (var i = 0; i < list.length; i++) {
          var c = list[i], id = idOf(c);
          if (!id || blocked.has(c) || insideBlocked(c) || !c.width || !c.height) continue;
          var url;
          try { url = c.toDataURL('image/webp', 0.7); } catch (_) { continue; } // tainted
          if (lastCanvas.get(c) === url) continue;
          lastCanvas.set(c, url);
          enqueue({ k: 'canvas', t: now(), id: id, url: url });
        }
      });
    }
    var lastCanvas = new WeakMap();

    /* ---------------- lifecycle ---------------- */

    function begin() {
      observer = new MO(function (records) {
        if (walking) { walking.dirty = true; return; }
        try { onMutations(records, true); } catch (e) { warn(e); resync = true; }
      });
      push(docs, document);
      observedRoots.add(document);
      moObserve(observer, document, OBSERVE);
      patchWindow(window);
      snapshot();
      listenDoc(document);
      listen(window, 'resize', onResize, false);
      listen(document, 'selectionchange', onSelection, false);
      listen(document, 'visibilitychange', onVisibility, false);
      listen(window, 'pagehide', function () { self.pageHidden(); }, false);
      listen(window, 'error', onError, false);
      listen(window, 'unhandledrejection', onRejection, false);
      lastActivity = now();
      tickTimer = setI(function () {
        try {
          var t = now();
          if (t - session.start >= maxMs) rotate('max');
          // Changes that failed to serialise are not lost: a new full
          // snapshot records the page as it is now.
          if (resync) { resync = false; snapshot(); }
          checkAdopted();
          drain();
          if (wasm) { wasm.tick(t); persist(); }
        } catch (e) { warn(e); }
      }, 1000);
      if (opts.canvasIntervalMs > 0) {
        canvasTimer = setI(function () { try { captureCanvases(); } catch (e) { warn(e); } }, M.max(100, opts.canvasIntervalMs));
      }
    }

    /**
     * Ends the session (idle too long, too old, or a duplicated tab) and
     * starts a new one in place: what was captured goes to the old session,
     * and the new one opens with its own Meta and full snapshot.
     */
    function rotate(why) {
      if (stopped) return;
      drainMutations();
      flushMoves();
      drain(true);
      if (wasm) {
        var old = wasm;
        push(oldWasm, old);
        then(old.flush(), function () { splice(oldWasm, indexOf(oldWasm, old), 1); });
      }
      if (!wasm) queue = []; // not sent yet: the new snapshot covers it
      session = newSession(dateNow());
      self.sessionId = session.id;
      lastT = 0;
      if (wasm) wasm = new Link(wasmModuleRef, opts, session);
      snapshot();
      persist();
      lastActivity = now();
      claim();
      void why;
    }

    var wasmModuleRef = null;

    /**
     * A duplicated tab copies sessionStorage, and with it the session: both
     * tabs would then write the same sequence numbers. Each recorder claims
     * its session on a BroadcastChannel; a live tab already holding it
     * answers, and the newcomer starts a session of its own.
     */
    function claim() {
      try {
        if (!channel && typeof BC === 'function') {
          channel = new BC('reel.sessions');
          channel.onmessage = function (e) {
            try {
              var d = e.data || {};
              if (d.tab === tabId || d.sid !== session.id) return;
              if (d.q) channel.postMessage({ a: 1, sid: session.id, tab: tabId });
              else if (d.a && d.sid === claimed) conflict = true;
            } catch (err) { warn(err); }
          };
        }
        claimed = session.id;
        if (channel) channel.postMessage({ q: 1, sid: session.id, tab: tabId });
      } catch (e) { warn(e); }
    }
    var claimed = null;

    var domReady = document.readyState === 'loading'
      ? new P(function (resolve) { on(document, 'DOMContentLoaded', resolve, { once: true }); })
      : null;

    // Only `await` on promises of our own: unlike `.then`, it does not go
    // through the page's `Promise.prototype.then`.
    this.started = (async function () {
      try { return await startNow(); } catch (e) { warn(e); return null; }
    })();
    async function startNow() {
      await domReady;
      if (stopped) return null;
      claim();
      begin();
      var mod = loadWasm(opts.endpoint);
      then(mod, null, function () { /* awaited below */ });
      await sleep(60); // the claim's window
      wasmModuleRef = await mod;
      if (stopped) return null;
      if (conflict) { conflict = false; rotate('duplicate'); }
      wasm = new Link(wasmModuleRef, opts, session);
      drain();
      wasm.tick(now());
      persist();
      // The contract: `start` resolves once the first full snapshot is
      // taken (its walk may span several tasks).
      await snapshotTaken();
      return { sessionId: self.sessionId };
    }

    this.event = function (name, data) {
      drainMutations();
      checkAdopted();
      flushMoves();
      if (scrollTimer) { clearT(scrollTimer); flushScrolls(); }
      var json = null;
      if (data !== undefined) {
        try { json = toJSON(data); } catch (e) { warn(e); }
        if (json && json.length > 65536) { warn('event data over 64 KiB dropped'); json = null; }
      }
      enqueue({ k: 'custom', t: now(), name: sslice(String(name), 0, 256), data: json === undefined ? null : json });
      // A marker is a point in time: nothing recorded after it shares its
      // millisecond, so seeking to a marker shows the page exactly as marked.
      lastT += 1;
    };

    this.identify = function (userId, traits) {
      var json = null;
      if (traits !== undefined) { try { json = toJSON(traits); } catch (e) { warn(e); } }
      enqueue({ k: 'identify', t: now(), user: sslice(String(userId), 0, 256), traits: json === undefined ? null : json });
    };

    this.flush = async function () {
      await self.started;
      drainMutations();
      flushMoves();
      if (scrollTimer) { clearT(scrollTimer); flushScrolls(); }
      await settle();
      // Whatever arrived while settling is in the seal too, and so is a
      // session that rotated away meanwhile (its recorder still sending).
      drain(true);
      if (!wasm) return;
      var all = [wasm.flush()];
      persist();
      each(oldWasm, function (o) { push(all, o.flush()); });
      for (var i = 0; i < all.length; i++) await all[i];
    };

    this.pageHidden = function () {
      drainMutations();
      flushMoves();
      drain(true);
      if (wasm) { wasm.hidden(); persist(); }
    };

    /** Stops observing. `discard` drops what is not yet sent (opt-out). */
    this.stop = async function (discard) {
      if (stopped) return;
      if (discard) endWalk(walking);
      else {
        try { await self.flush(); } catch (e) { warn(e); }
      }
      stopped = true;
      endWalk(walking);
      if (observer) moStop(observer);
      observer = null;
      each(listeners, function (l) { off(l[0], l[1], l[2], l[3]); });
      listeners = [];
      clearI(tickTimer);
      clearI(canvasTimer);
      clearT(queueTimer);
      if (channel) { try { channel.close(); } catch (_) { /* closed */ } channel = null; }
      queue = [];
      if (discard) { save('sessionStorage', SESSION_KEY, null); if (wasm) wasm.stop(); wasm = null; }
    };
  }

  /**
   * One session's wasm recorder (`r`: its queue of sealed chunks, and
   * what to drop) and the sending of that queue: one request at a time,
   * oldest first, with the captured fetch, retried with backoff and jitter.
   */
  function Link(mod, opts, session) {
    var r = this.r = new mod.Recorder(session.id, session.seq || 0);
    if (opts.maxBufferBytes > 0) r.set_buffer_limit(opts.maxBufferBytes);
    var base = opts.endpoint + '/api/v1/sessions/' + session.id + '/chunks/';
    var busy = false, failures = 0, retry = 0, lost = 0, stopped = false;

    /** POSTs one chunk; `done(status)`, 0 when there was no answer. */
    function post(seq, bytes, keepalive, done) {
      try {
        then(fetchFn(base + seq, {
          method: 'POST', body: bytes, keepalive: keepalive, mode: 'cors', credentials: 'omit',
          headers: { 'Content-Type': 'application/octet-stream', 'X-Reel-Key': opts.ingestKey },
        }), function (res) { done(res.status); }, function () { done(0); });
      } catch (e) { done(0); }
    }

    function pump() {
      if (busy || retry || stopped) return;
      var seq = r.begin_send();
      if (seq < 0) return;
      busy = true;
      post(seq, r.chunk(0), false, safe(function (status) {
        busy = false;
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) warn('the server refused a chunk (' + status + ')');
        var go = r.sent(seq, status);
        if (r.lost > lost) { lost = r.lost; warn('server unreachable: the oldest recording was dropped to bound memory'); }
        if (go) { failures = 0; pump(); return; }
        failures++;
        retry = later(function () { retry = 0; pump(); }, mmin(500 * (1 << mmin(failures, 6)), 30000) * (0.5 + random() * 0.5));
      }));
    }

    this.tick = function (t) {
      try { r.tick(t); } catch (e) { warn(e); }
      pump();
    };

    /** Resolves once every chunk sealed so far is acknowledged (or lost). */
    this.flush = async function () {
      var target = -1;
      try { target = r.seal(); } catch (e) { warn(e); target = r.next_seq - 1; }
      // An explicit flush does not wait out a backoff.
      if (retry) { clearT(retry); retry = 0; }
      pump();
      while (!stopped && !r.done_through(target)) await sleep(20);
    };

    /** The page is going away: hand what fits to keepalive requests, which
     *  outlive the page (browsers allow 64 KiB of them in flight); the
     *  server's deduplication makes a chunk sent both ways harmless. */
    this.hidden = function () {
      try { r.seal(); } catch (e) { warn(e); }
      var budget = 60 * 1024;
      for (var i = 0, seq; (seq = r.chunk_seq(i)) >= 0; i++) {
        var bytes = r.chunk(i);
        if (bytes.length > budget) break;
        budget -= bytes.length;
        post(seq, bytes, true, function () {});
      }
      pump();
    };

    this.stop = function () { stopped = true; if (retry) clearT(retry); };
  }

  /* ------------------------------------------------------------------ */
  /* window.Reel                                                          */
  /* ------------------------------------------------------------------ */

  var current = null;
  var pendingConsent = null;
  var consentGranted = false;

  function normalize(o) {
    o = o || {};
    return {
      endpoint: String(o.endpoint || ORIGIN).replace(/\/+$/, ''),
      ingestKey: String(o.ingestKey || ''),
      maskAllText: !!o.maskAllText,
      blockSelector: o.blockSelector || null,
      maskTextSelector: o.maskTextSelector || null,
      requireConsent: !!o.requireConsent,
      respectDoNotTrack: !!o.respectDoNotTrack,
      idleTimeoutMs: Number(o.idleTimeoutMs) || 0,
      maxSessionMs: Number(o.maxSessionMs) || 0,
      canvasIntervalMs: Number(o.canvasIntervalMs) || 0,
      maxBufferBytes: Number(o.maxBufferBytes) || 0,
    };
  }

  /** Global Privacy Control or Do Not Track, when the embedder honours them. */
  function doNotTrack() {
    try { return navigator.globalPrivacyControl === true || navigator.doNotTrack === '1'; } catch (_) { return false; }
  }

  function begin(opts) {
    current = new Recording(opts);
    return current.started;
  }

  /** A public call: an error inside is reported, never thrown; `fallback`
   *  is returned instead. */
  function guard(fn, fallback) {
    return function () {
      try { return rApply(fn, null, arguments); } catch (e) { warn(e); return fallback; }
    };
  }
  /** A public call that returns a Promise: it always resolves (to
   *  `fallback` when something failed inside). */
  function guardAsync(fn, fallback) {
    return async function () {
      try { return await rApply(fn, null, arguments); } catch (e) { warn(e); return fallback; }
    };
  }

  var Reel = {
    __reel: true,
    start: guardAsync(function (options) {
      var opts = normalize(options);
      if (!opts.ingestKey) throw new Error('Reel.start needs an ingestKey');
      if (current) return current.started;
      if (opts.respectDoNotTrack && doNotTrack()) return null;
      // Opted out (remembered) or waiting for consent: nothing is recorded
      // or stored until `Reel.consent(true)`.
      if (load('localStorage', OPTOUT_KEY) || (opts.requireConsent && !consentGranted)) {
        return new P(function (resolve) { pendingConsent = { opts: opts, resolve: resolve }; });
      }
      return begin(opts);
    }, null),
    stop: guardAsync(function () {
      var c = current;
      current = null;
      return c && c.stop(false);
    }),
    flush: guardAsync(function () { return current && current.flush(); }),
    sessionId: guard(function () { return current ? current.sessionId : null; }, null),
    event: guard(function (name, data) { if (current) current.event(name, data); }),
    identify: guard(function (userId, traits) { if (current) current.identify(userId, traits); }),
    consent: guard(function (granted) {
      consentGranted = !!granted;
      if (granted) {
        save('localStorage', OPTOUT_KEY, null);
        if (pendingConsent && !current) {
          var p = pendingConsent;
          pendingConsent = null;
          then(begin(p.opts), p.resolve, function (e) { warn(e); p.resolve(null); });
        }
      }
    }),
    optOut: guardAsync(function () {
      save('localStorage', OPTOUT_KEY, true);
      consentGranted = false;
      var c = current;
      current = null;
      if (c) {
        // Started again only by `consent(true)`, with the same options.
        pendingConsent = { opts: c.opts, resolve: function () {} };
        return c.stop(true);
      }
    }),
  };
  window.Reel = Reel;

  // The one-tag embed: <script src=".../reel.js" data-ingest-key="KEY">.
  if (script && script.dataset && script.dataset.ingestKey) {
    var d = script.dataset;
    Reel.start({
      endpoint: ORIGIN,
      ingestKey: d.ingestKey,
      maskAllText: d.maskAllText === 'true',
      blockSelector: d.blockSelector || null,
      maskTextSelector: d.maskTextSelector || null,
      requireConsent: d.requireConsent === 'true',
      respectDoNotTrack: d.respectDoNotTrack === 'true',
      canvasIntervalMs: Number(d.canvasIntervalMs) || 0,
      maxBufferBytes: Number(d.maxBufferBytes) || 0,
    });
  }
})();
