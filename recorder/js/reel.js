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
 * - Nothing here throws into the host page: every entry point and listener
 *   is wrapped, and a failure stops the recording rather than the page.
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

  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : '';
  var ORIGIN = scriptUrl ? new URL(scriptUrl).origin : location.origin;

  // Context bits; keep in sync with recorder/src/raw.rs (`flags`).
  var M_MASK = 1, M_UNMASK = 2, M_BLOCK = 4, M_SENSITIVE = 8, M_TEXTAREA = 16;
  var SVG_NS = 'http://www.w3.org/2000/svg', MATH_NS = 'http://www.w3.org/1998/Math/MathML';
  var SESSION_KEY = 'reel.session', OPTOUT_KEY = 'reel.optout';
  var IDLE_MS = 30 * 60 * 1000;
  var MASKABLE_ATTRS = { value: 1, placeholder: 1, title: 1, alt: 1, 'aria-label': 1, 'aria-description': 1 };

  function warn(e) {
    try { console.warn('[reel]', e && e.message ? e.message : e); } catch (_) { /* nothing to do */ }
  }

  function storage(kind) {
    try { return window[kind]; } catch (_) { return null; }
  }
  function load(kind, key) {
    try { var s = storage(kind); var v = s && s.getItem(key); return v ? JSON.parse(v) : null; } catch (_) { return null; }
  }
  function save(kind, key, value) {
    try { var s = storage(kind); if (s) { if (value === null) s.removeItem(key); else s.setItem(key, JSON.stringify(value)); } } catch (_) { /* private mode */ }
  }

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    var s = '';
    for (var i = 0; i < a.length; i++) s += (a[i] < 16 ? '0' : '') + a[i].toString(16);
    return s;
  }

  var wasmModule = null;
  function loadWasm(origin) {
    if (!wasmModule) {
      wasmModule = import(origin + '/recorder/reel_recorder.js').then(function (m) {
        return m.default({ module_or_path: origin + '/recorder/reel_recorder_bg.wasm' }).then(function () { return m; });
      });
      wasmModule.catch(function () { wasmModule = null; });
    }
    return wasmModule;
  }

  function matches(el, sel) {
    try { return !!sel && el.matches(sel); } catch (_) { return false; }
  }
  function closest(el, sel) {
    try { return !!sel && !!el.closest(sel); } catch (_) { return false; }
  }

  /* ------------------------------------------------------------------ */
  /* One recording of one page.                                          */
  /* ------------------------------------------------------------------ */

  function Recording(opts) {
    var self = this;
    var ids = new WeakMap();
    var nextId = 1;
    var blocked = new WeakSet();
    var sensitive = new WeakSet();
    var queue = [];
    var queueTimer = 0;
    var tickTimer = 0;
    var observer = null;
    var listeners = [];
    var wasm = null;
    var stopped = false;
    var lastT = 0;

    var session = continueSession();
    lastT = session.last || 0;
    self.sessionId = session.id;

    function continueSession() {
      var s = load('sessionStorage', SESSION_KEY);
      var t = Date.now();
      if (s && typeof s.id === 'string' && /^[0-9a-f]{32}$/.test(s.id) && t - (s.last || 0) < IDLE_MS) return s;
      s = { id: randomHex(16), seq: 0, last: 0 };
      save('sessionStorage', SESSION_KEY, s);
      return s;
    }

    function persist() {
      if (wasm) session.seq = wasm.next_seq;
      session.last = lastT;
      save('sessionStorage', SESSION_KEY, session);
    }

    /** Milliseconds since the epoch, never decreasing within a session. */
    function now() {
      var t = Math.floor(performance.timeOrigin + performance.now());
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
      queue.push(ev);
      if (!queueTimer) queueTimer = setTimeout(drain, 100);
    }

    /** Hands queued events to the wasm half in one crossing. */
    function drain() {
      if (queueTimer) { clearTimeout(queueTimer); queueTimer = 0; }
      if (!wasm || !queue.length) return;
      var batch = JSON.stringify(queue);
      queue = [];
      try { wasm.push(batch, now()); } catch (e) { warn(e); }
    }

    /* ---------------- serialisation ---------------- */

    function isBlocked(el) {
      return el.hasAttribute('data-reel-block') || matches(el, opts.blockSelector);
    }

    /** The context bits an element passes to its content. */
    function ctxOf(node) {
      var el = node.nodeType === 1 ? node : node.parentElement;
      var m = opts.maskAllText ? M_MASK : 0;
      if (!el) return m;
      if (el.closest('[data-reel-mask]') || closest(el, opts.maskTextSelector)) m |= M_MASK;
      if (el.closest('[data-reel-unmask]')) m |= M_UNMASK;
      if (sensitive.has(el)) m |= M_SENSITIVE;
      return m;
    }

    function textCtx(parent, ctx) {
      if (!parent || parent.nodeType !== 1) return ctx;
      var tag = parent.localName;
      if (tag === 'style' || tag === 'script') return ctx & ~M_MASK;
      if (tag === 'textarea') return ctx | M_TEXTAREA;
      return ctx;
    }

    function stylesheetText(el) {
      var sheet = el.sheet;
      if (!sheet) return null;
      var rules;
      try { rules = sheet.cssRules; } catch (_) { return null; } // cross-origin: kept by URL
      var out = [];
      for (var i = 0; i < rules.length; i++) out.push(rules[i].cssText);
      return out.join('\n');
    }

    /**
     * Serialises `root` and its subtree as a flat pre-order list, iteratively
     * (a 10,000-deep page must not overflow the stack). `fresh` collects the
     * nodes serialised, so later records about them are not sent twice.
     */
    function serialize(root, parentId, rootCtx, out, fresh) {
      var stack = [root, parentId, rootCtx];
      while (stack.length) {
        var ctx = stack.pop(), pid = stack.pop(), node = stack.pop();
        var type = node.nodeType;
        if (type !== 1 && type !== 3 && type !== 4 && type !== 8 && type !== 9 && type !== 10) continue;
        var id = assignId(node);
        if (fresh) fresh.add(node);
        var rn = { id: id, p: pid, k: type };
        var childCtx = ctx;
        var skipChildren = false;
        if (type === 1) {
          var el = node;
          rn.tag = el.localName;
          if (el.namespaceURI === SVG_NS) rn.ns = 'svg';
          else if (el.namespaceURI === MATH_NS) rn.ns = 'math';
          if (isBlocked(el)) {
            blocked.add(el);
            var r = el.getBoundingClientRect();
            rn.m = M_BLOCK; rn.bw = r.width; rn.bh = r.height;
            out.push(rn);
            continue;
          }
          if (el.hasAttribute('data-reel-mask') || matches(el, opts.maskTextSelector)) childCtx |= M_MASK;
          if (el.hasAttribute('data-reel-unmask')) childCtx |= M_UNMASK;
          var attrs = el.attributes, a = [];
          for (var i = 0; i < attrs.length; i++) a.push([attrs[i].name, attrs[i].value]);
          if (a.length) rn.a = a;
          var m = childCtx;
          var tag = rn.tag;
          if (tag === 'input') {
            if (el.type === 'password') sensitive.add(el);
            if (el.type === 'checkbox' || el.type === 'radio') rn.c = el.checked;
            else rn.v = el.value;
          } else if (tag === 'textarea' || tag === 'select') {
            rn.v = el.value;
          } else if (tag === 'link') {
            var css = stylesheetText(el);
            if (css !== null) rn.css = css;
          } else if (tag === 'script') {
            skipChildren = true; // script text is never needed: nothing runs in the replay
          }
          if (sensitive.has(el)) m |= M_SENSITIVE;
          if (m) rn.m = m;
        } else if (type === 3 || type === 4 || type === 8) {
          rn.x = node.data;
          var tm = textCtx(node.parentNode, ctx);
          if (tm) rn.m = tm;
        } else if (type === 10) {
          rn.x = node.name; rn.pub_id = node.publicId; rn.sys_id = node.systemId;
        }
        out.push(rn);
        if (skipChildren) continue;
        for (var c = node.lastChild; c; c = c.previousSibling) stack.push(c, id, type === 1 ? childCtx : ctx);
      }
    }

    function snapshot() {
      var t = now();
      enqueue({ k: 'meta', t: t, href: location.href, title: document.title || '', w: innerWidth, h: innerHeight, ua: navigator.userAgent });
      var nodes = [];
      serialize(document, 0, opts.maskAllText ? M_MASK : 0, nodes, null);
      enqueue({ k: 'snap', t: t, nodes: nodes, sx: scrollX, sy: scrollY });
    }

    /* ---------------- mutations ---------------- */

    function inDocument(node) {
      return node.isConnected && node.ownerDocument === document;
    }

    function insideBlocked(node) {
      for (var n = node.parentNode; n; n = n.parentNode) if (n.nodeType === 1 && blocked.has(n)) return true;
      return false;
    }

    function fieldDesc(el, ev) {
      ev.tag = el.localName;
      ev.type = (el.getAttribute('type') || 'text').toLowerCase();
      ev.ac = (el.getAttribute('autocomplete') || '').toLowerCase();
      var m = ctxOf(el);
      if (m) ev.m = m;
      return ev;
    }

    /**
     * Turns one batch of MutationRecords into one mutation event: removes,
     * then added subtrees (serialised as they are now, in reverse document
     * order so each one's next sibling already exists when it is applied),
     * then attribute and text changes of nodes that were not just added.
     */
    function onMutations(records) {
      if (stopped || !records.length) return;
      var t = now();
      var rem = [], remSeen = new Set();
      var added = new Set();
      var attrs = new Map();
      var texts = new Set();
      for (var i = 0; i < records.length; i++) {
        var r = records[i];
        if (r.type === 'childList') {
          for (var j = 0; j < r.removedNodes.length; j++) {
            var id = idOf(r.removedNodes[j]);
            if (id && !remSeen.has(id)) { remSeen.add(id); rem.push(id); }
          }
          for (var k = 0; k < r.addedNodes.length; k++) added.add(r.addedNodes[k]);
        } else if (r.type === 'attributes') {
          var names = attrs.get(r.target);
          if (!names) attrs.set(r.target, names = new Set());
          names.add(r.attributeName);
        } else if (r.type === 'characterData') {
          texts.add(r.target);
        }
      }

      // The roots to serialise: connected, under a recorded parent, not
      // inside a blocked element, and not inside another root.
      var roots = [];
      var rootSet = new Set();
      added.forEach(function (n) {
        if (!inDocument(n)) return;
        // Climb past unrecorded ancestors, so a node whose parent was never
        // serialised is still recorded, by recording that parent.
        while (n.parentNode && !idOf(n.parentNode)) n = n.parentNode;
        if (!n.parentNode || rootSet.has(n)) return;
        if (blocked.has(n.parentNode) || insideBlocked(n)) return;
        rootSet.add(n);
        roots.push(n);
      });
      roots = roots.filter(function (n) {
        for (var p = n.parentNode; p; p = p.parentNode) if (rootSet.has(p)) return false;
        return true;
      });
      roots.sort(function (a, b) {
        return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
      });
      var fresh = new Set();
      var add = [];
      for (var x = roots.length - 1; x >= 0; x--) {
        var root = roots[x];
        var next = root.nextSibling;
        while (next && !idOf(next)) next = next.nextSibling;
        var nodes = [];
        var parent = root.parentNode;
        serialize(root, idOf(parent), textCtx(parent, ctxOf(parent)), nodes, fresh);
        if (nodes.length) add.push({ p: idOf(parent), n: next ? idOf(next) : 0, nodes: nodes });
      }

      var attr = [];
      attrs.forEach(function (names, el) {
        var id = idOf(el);
        if (!id || fresh.has(el) || blocked.has(el) || !inDocument(el)) return;
        names.forEach(function (name) {
          var ev = { id: id, name: name, v: el.getAttribute(name) };
          if (MASKABLE_ATTRS[name]) fieldDesc(el, ev);
          attr.push(ev);
        });
      });
      var text = [];
      texts.forEach(function (n) {
        var id = idOf(n);
        if (!id || fresh.has(n) || !inDocument(n)) return;
        var ev = { id: id, v: n.data };
        var m = textCtx(n.parentNode, ctxOf(n));
        if (m) ev.m = m;
        text.push(ev);
      });
      if (rem.length || add.length || attr.length || text.length) {
        enqueue({ k: 'mut', t: t, rem: rem, add: add, attr: attr, text: text });
      }
    }

    function drainMutations() {
      if (observer) onMutations(observer.takeRecords());
    }

    /* ---------------- interactions ---------------- */

    function listen(target, type, fn, capture) {
      var wrapped = function (e) {
        try { fn(e); } catch (err) { warn(err); }
      };
      var o = { capture: !!capture, passive: true };
      target.addEventListener(type, wrapped, o);
      listeners.push([target, type, wrapped, o]);
    }

    var moves = null, lastMoveAt = 0;
    function flushMoves() {
      if (moves && moves.pos.length) enqueue(moves);
      moves = null;
    }
    function onMouseMove(e) {
      var t = now();
      if (t - lastMoveAt < 50) return;
      lastMoveAt = t;
      if (!moves) moves = { k: 'move', t: t, pos: [] };
      moves.pos.push([e.clientX, e.clientY, t - moves.t]);
      if (t - moves.t >= 500 || moves.pos.length >= 50) flushMoves();
    }
    function onMouse(e) {
      flushMoves();
      enqueue({ k: 'mouse', t: now(), kind: e.type, id: idOf(e.target), x: e.clientX, y: e.clientY });
    }

    var scrolled = new Set(), scrollTimer = 0;
    function flushScrolls() {
      scrollTimer = 0;
      var t = now();
      scrolled.forEach(function (target) {
        var id = idOf(target);
        if (!id) return;
        if (target === document) enqueue({ k: 'scroll', t: t, id: id, x: scrollX, y: scrollY });
        else enqueue({ k: 'scroll', t: t, id: id, x: target.scrollLeft, y: target.scrollTop });
      });
      scrolled.clear();
    }
    function onScroll(e) {
      var target = e.target === document || e.target === document.documentElement || e.target === document.scrollingElement ? document : e.target;
      scrolled.add(target);
      if (!scrollTimer) scrollTimer = setTimeout(function () { try { flushScrolls(); } catch (err) { warn(err); } }, 100);
    }

    var resizeTimer = 0;
    function onResize() {
      if (resizeTimer) return;
      resizeTimer = setTimeout(function () {
        resizeTimer = 0;
        enqueue({ k: 'vp', t: now(), w: innerWidth, h: innerHeight });
      }, 200);
    }

    function onInput(e) {
      var el = e.target;
      if (!el || el.nodeType !== 1) return;
      var tag = el.localName;
      if (tag !== 'input' && tag !== 'textarea' && tag !== 'select') return;
      var id = idOf(el);
      if (!id || blocked.has(el) || insideBlocked(el)) return;
      if (el.type === 'password') sensitive.add(el);
      var ev = fieldDesc(el, { k: 'input', t: now(), id: id });
      if (el.type === 'checkbox' || el.type === 'radio') ev.c = el.checked;
      else ev.v = el.value;
      enqueue(ev);
    }

    function onHidden() {
      if (document.visibilityState === 'hidden') self.pageHidden();
    }

    /* ---------------- lifecycle ---------------- */

    function begin() {
      snapshot();
      observer = new MutationObserver(function (records) {
        try { onMutations(records); } catch (e) { warn(e); }
      });
      observer.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
      listen(document, 'mousemove', onMouseMove, true);
      ['mousedown', 'mouseup', 'click', 'dblclick', 'contextmenu'].forEach(function (t) { listen(document, t, onMouse, true); });
      listen(document, 'scroll', onScroll, true);
      listen(window, 'resize', onResize, false);
      listen(document, 'input', onInput, true);
      listen(document, 'change', onInput, true);
      listen(document, 'visibilitychange', onHidden, false);
      listen(window, 'pagehide', function () { self.pageHidden(); }, false);
      tickTimer = setInterval(function () {
        try {
          drain();
          if (wasm) { wasm.tick(now()); persist(); }
        } catch (e) { warn(e); }
      }, 1000);
    }

    var domReady = document.readyState === 'loading'
      ? new Promise(function (resolve) { document.addEventListener('DOMContentLoaded', resolve, { once: true }); })
      : Promise.resolve();

    this.started = domReady.then(function () {
      if (stopped) return;
      begin();
      return loadWasm(opts.endpoint).then(function (m) {
        if (stopped) return;
        wasm = new m.Recorder(opts.endpoint, opts.ingestKey, session.id, session.seq || 0);
        drain();
        wasm.tick(now());
        persist();
      });
    }).then(function () { return { sessionId: self.sessionId }; });

    this.event = function (name, data) {
      drainMutations();
      flushMoves();
      var json = null;
      if (data !== undefined) {
        try { json = JSON.stringify(data); } catch (e) { warn(e); }
        if (json && json.length > 65536) { warn('event data over 64 KiB dropped'); json = null; }
      }
      enqueue({ k: 'custom', t: now(), name: String(name).slice(0, 256), data: json === undefined ? null : json });
    };

    this.identify = function (userId, traits) {
      var json = null;
      if (traits !== undefined) { try { json = JSON.stringify(traits); } catch (e) { warn(e); } }
      enqueue({ k: 'identify', t: now(), user: String(userId).slice(0, 256), traits: json === undefined ? null : json });
    };

    this.flush = function () {
      return self.started.then(function () {
        drainMutations();
        flushMoves();
        if (scrollTimer) { clearTimeout(scrollTimer); flushScrolls(); }
        drain();
        if (!wasm) return;
        var p = wasm.flush();
        persist();
        return p;
      }).then(function () { return undefined; });
    };

    this.pageHidden = function () {
      drainMutations();
      flushMoves();
      drain();
      if (wasm) { wasm.page_hidden(); persist(); }
    };

    /** Stops observing. `discard` drops what is not yet sent (opt-out). */
    this.stop = function (discard) {
      if (stopped) return Promise.resolve();
      var done = discard ? Promise.resolve() : self.flush().catch(warn);
      return done.then(function () {
        stopped = true;
        if (observer) observer.disconnect();
        observer = null;
        listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2], l[3]); });
        listeners = [];
        clearInterval(tickTimer);
        clearTimeout(queueTimer);
        queue = [];
        if (discard) { save('sessionStorage', SESSION_KEY, null); wasm = null; }
      });
    };
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
    };
  }

  function begin(opts) {
    current = new Recording(opts);
    return current.started;
  }

  function guard(fn, fallback) {
    return function () {
      try { return fn.apply(null, arguments); } catch (e) { warn(e); return fallback; }
    };
  }

  var Reel = {
    __reel: true,
    start: guard(function (options) {
      var opts = normalize(options);
      if (!opts.ingestKey) return Promise.reject(new Error('Reel.start needs an ingestKey'));
      if (current) return current.started;
      if (load('localStorage', OPTOUT_KEY)) return Promise.resolve(null);
      if (opts.requireConsent && !consentGranted) {
        return new Promise(function (resolve) { pendingConsent = { opts: opts, resolve: resolve }; });
      }
      return begin(opts).catch(function (e) { warn(e); return null; });
    }, Promise.resolve(null)),
    stop: guard(function () {
      var c = current;
      current = null;
      return c ? c.stop(false) : Promise.resolve();
    }, Promise.resolve()),
    flush: guard(function () {
      return current ? current.flush() : Promise.resolve();
    }, Promise.resolve()),
    sessionId: guard(function () { return current ? current.sessionId : null; }, null),
    event: guard(function (name, data) { if (current) current.event(name, data); }),
    identify: guard(function (userId, traits) { if (current) current.identify(userId, traits); }),
    consent: guard(function (granted) {
      consentGranted = !!granted;
      if (granted) {
        save('localStorage', OPTOUT_KEY, null);
        if (pendingConsent) {
          var p = pendingConsent;
          pendingConsent = null;
          begin(p.opts).then(p.resolve, function (e) { warn(e); p.resolve(null); });
        }
      }
    }),
    optOut: guard(function () {
      save('localStorage', OPTOUT_KEY, true);
      pendingConsent = null;
      var c = current;
      current = null;
      return c ? c.stop(true) : Promise.resolve();
    }, Promise.resolve()),
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
    });
  }
})();
