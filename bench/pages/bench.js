/*
 * The in-page half of reel-bench. Each workload page loads this first (in
 * <head>), then defines `window.setup` (run at load, before any recorder:
 * the DOM the first snapshot sees) and `window.workload` (what the page does
 * while recorded; absent when the bench drives input over CDP).
 *
 * The bench calls, each in its own Runtime.evaluate:
 *   bench.start(mode, cfg)  load the recorder's script(s) and start it
 *   bench.run()             run the workload, then let two frames pass
 *   bench.finish()          make the recorder send everything it captured
 *
 * Recorders are loaded by start(), not by a <script> tag, so that their
 * download, parse and compile fall inside the measured window for both.
 */
(function () {
  'use strict';

  var rr = { buf: [], events: 0, packedChars: 0, posts: 0, inflight: [], errors: [], timer: 0, stop: null };

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement('script');
      s.src = src;
      s.onload = function () {
        resolve();
      };
      s.onerror = function () {
        reject(new Error('could not load ' + src));
      };
      document.head.appendChild(s);
    });
  }

  function frames(n) {
    return new Promise(function (resolve) {
      function step() {
        if (--n <= 0) resolve();
        else requestAnimationFrame(step);
      }
      requestAnimationFrame(step);
    });
  }

  /* rrweb as its docs show it: packFn: pack on every event, the buffer
   * POSTed as JSON every few seconds (5 s here, as Reel seals a chunk at
   * most 5 s after its first event) and once more at the end. */
  function rrwebSend(run) {
    if (!rr.buf.length) return;
    var body = JSON.stringify({ events: rr.buf });
    rr.buf = [];
    rr.posts++;
    var p = fetch('/sink?run=' + encodeURIComponent(run), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: body,
    }).then(
      function (r) {
        if (!r.ok) rr.errors.push('sink answered ' + r.status);
      },
      function (e) {
        rr.errors.push(String(e));
      },
    );
    rr.inflight.push(p);
  }

  /* Profiling only (REEL_BENCH_PROFILE): time the calls into Reel's wasm
   * half, and JSON.stringify, by wrapping them. Importing the wasm glue by
   * the URL reel.js uses gives the very module instance reel.js will use. */
  var timings = { stringify: 0, stringifyCalls: 0 };
  async function timeReelCrossings(glue) {
    var m = await import(glue);
    ['push', 'tick', 'flush', 'page_hidden'].forEach(function (name) {
      var f = m.Recorder.prototype[name];
      if (!f) return;
      timings[name] = 0;
      timings[name + 'Calls'] = 0;
      m.Recorder.prototype[name] = function () {
        var t0 = performance.now();
        try {
          return f.apply(this, arguments);
        } finally {
          timings[name] += performance.now() - t0;
          timings[name + 'Calls']++;
        }
      };
    });
    var stringify = JSON.stringify;
    JSON.stringify = function () {
      var t0 = performance.now();
      try {
        return stringify.apply(JSON, arguments);
      } finally {
        timings.stringify += performance.now() - t0;
        timings.stringifyCalls++;
      }
    };
  }

  var bench = {
    mode: 'none',

    start: async function (mode, cfg) {
      bench.mode = mode;
      bench.run_id = cfg.run;
      bench.reelOrigin = cfg.reelOrigin;
      bench.reelGlue = cfg.reelGlue;
      if (mode === 'rrweb') {
        await loadScript('/npm/record/umd/record.min.js');
        var packer = await import('/npm/packer/dist/pack.js');
        rr.stop = window.rrwebRecord.record({
          emit: function (event) {
            rr.buf.push(event);
            rr.events++;
            rr.packedChars += event.length;
          },
          packFn: packer.pack,
          // Reel masks every field by default; ask rrweb for the same.
          maskAllInputs: true,
        });
        rr.timer = setInterval(function () {
          rrwebSend(cfg.run);
        }, 5000);
        return { events: rr.events };
      }
      if (mode === 'reel') {
        if (cfg.profile) await timeReelCrossings(cfg.reelGlue);
        await loadScript(cfg.reelScript);
        var s = await window.Reel.start({
          endpoint: cfg.reelOrigin,
          ingestKey: cfg.ingestKey,
          maskAllText: false,
          blockSelector: null,
          maskTextSelector: null,
        });
        if (!s) throw new Error('Reel.start resolved to ' + JSON.stringify(s));
        return { sessionId: window.Reel.sessionId() };
      }
      return {};
    },

    run: async function () {
      if (window.workload) await window.workload();
      await frames(2);
    },

    finish: async function () {
      if (bench.mode === 'rrweb') {
        rrwebSend(bench.run_id);
        await Promise.all(rr.inflight);
        return { events: rr.events, packedChars: rr.packedChars, posts: rr.posts, errors: rr.errors };
      }
      if (bench.mode === 'reel') {
        await window.Reel.flush();
        // The recorder's wasm memory, which JSHeapUsedSize does not count:
        // importing the module again gives the instance reel.js loaded, and
        // its init returns the already-instantiated exports.
        var m = await import(bench.reelGlue);
        var exports = await m.default();
        return {
          sessionId: window.Reel.sessionId(),
          wasmMemory: exports.memory.buffer.byteLength,
          timings: timings,
        };
      }
      return {};
    },
  };
  window.bench = bench;

  window.benchSleep = function (ms) {
    return new Promise(function (r) {
      setTimeout(r, ms);
    });
  };

  window.addEventListener('load', function () {
    try {
      if (window.setup) window.setup();
    } finally {
      window.benchReady = true;
    }
  });
})();
