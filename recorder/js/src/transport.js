/*
 * Sending: one session's wasm recorder (`r`: its queue of sealed chunks,
 * its queue of large assets, and what to drop) and the POSTing of those
 * queues, one request at a time, oldest first, with the captured fetch,
 * retried with backoff and jitter. Assets go before chunks: a chunk never
 * refers to an asset the server was not offered first.
 */
import { bodyText, clearT, fetchFn, fromJSON, indexOf, mmin, random, sleep, then } from './builtins.js';
import { later, safe, warn } from './report.js';

export function Link(mod, opts, session) {
  var r = (this.r = new mod.Recorder(session.id, session.seq || 0));
  if (opts.maxBufferBytes > 0) r.set_buffer_limit(opts.maxBufferBytes);
  // In a cross-origin frame, sealed chunks go to the parent's recorder,
  // marked with the session they were recorded for; large assets are
  // offered (for the parent's session) as usual.
  var f = opts.frame;
  var s = (this.s = session.id);
  var sbase = opts.endpoint + '/api/v1/sessions/' + s;
  var base = sbase + '/chunks/';
  var busy = false,
    failures = 0,
    retry = 0,
    lost = 0,
    stopped = false;

  /** POSTs `body` to `url`; `done(status, response)`, 0 when there was no
   *  answer. */
  function send(url, body, type, keepalive, done) {
    try {
      then(
        fetchFn(url, {
          method: 'POST',
          body: body,
          keepalive: keepalive,
          mode: 'cors',
          credentials: 'omit',
          headers: { 'Content-Type': type, 'X-Reel-Key': opts.ingestKey },
        }),
        function (res) {
          done(res.status, res);
        },
        function () {
          done(0);
        },
      );
    } catch (e) {
      done(0);
    }
  }

  /** POSTs one chunk; `done(status)`, 0 when there was no answer. */
  function post(seq, bytes, keepalive, done) {
    if (f) return (f.w.postMessage({ reel: 'chunk', c: bytes, s: s }, f.o), done(200));
    send(base + seq, bytes, 'application/octet-stream', keepalive, done);
  }

  /** Offers the oldest queued asset (the server records that this session
   *  uses it) and uploads it if the server lacks it; `done(status)`. */
  function offer(hash, done) {
    send(sbase + '/assets', '{"hashes":["' + hash + '"]}', 'application/json', false, function (status, res) {
      if (status !== 200) return done(status);
      then(
        bodyText(res),
        function (text) {
          var missing;
          try {
            missing = indexOf(fromJSON(text).missing, hash) >= 0;
          } catch (e) {
            return done(0);
          }
          if (!missing) return done(200);
          send(sbase + '/asset-uploads/' + hash, r.asset_body(), 'application/zstd', false, done);
        },
        function () {
          done(0);
        },
      );
    });
  }

  /** After an answer: go on at once or back off. */
  function next(go) {
    if (go) {
      failures = 0;
      pump();
      return;
    }
    failures++;
    retry = later(
      function () {
        retry = 0;
        pump();
      },
      mmin(500 * (1 << mmin(failures, 6)), 30000) * (0.5 + random() * 0.5),
    );
  }

  function pump() {
    if (busy || retry || stopped) return;
    var hash = r.asset_hash();
    if (hash) {
      busy = true;
      offer(
        hash,
        safe(function (status) {
          busy = false;
          var refused = status >= 400 && status < 500 && status !== 408 && status !== 429;
          if (refused) warn('the server refused an asset (' + status + ')');
          // A refused asset is left out of the replay, not retried.
          if (refused || (status >= 200 && status < 300)) r.asset_done();
          next(refused || (status >= 200 && status < 300));
        }),
      );
      return;
    }
    var seq = r.begin_send();
    if (seq < 0) return;
    busy = true;
    post(
      seq,
      r.chunk(0),
      false,
      safe(function (status) {
        busy = false;
        if (status >= 400 && status < 500 && status !== 408 && status !== 429)
          warn('the server refused a chunk (' + status + ')');
        var go = r.sent(seq, status);
        if (r.lost > lost) {
          lost = r.lost;
          warn('server unreachable: the oldest recording was dropped to bound memory');
        }
        next(go);
      }),
    );
  }

  this.tick = function (t) {
    try {
      r.tick(t);
      if (f) r.seal(); // the parent stamps what it receives: no waiting
    } catch (e) {
      warn(e);
    }
    pump();
  };

  /** Resolves once every chunk sealed so far is acknowledged (or lost). */
  this.flush = async function () {
    var target;
    try {
      target = r.seal();
    } catch (e) {
      warn(e);
      target = r.next_seq - 1;
    }
    // An explicit flush does not wait out a backoff.
    if (retry) {
      clearT(retry);
      retry = 0;
    }
    pump();
    while (!stopped && !r.done_through(target)) await sleep(20);
  };

  /** The page is going away: hand what fits to keepalive requests, which
   *  outlive the page (browsers allow 64 KiB of them in flight); the
   *  server's deduplication makes a chunk sent both ways harmless. */
  this.hidden = function () {
    try {
      r.seal();
    } catch (e) {
      warn(e);
    }
    var budget = 60 * 1024;
    for (var i = 0, seq; (seq = r.chunk_seq(i)) >= 0; i++) {
      var bytes = r.chunk(i);
      if (bytes.length > budget) break;
      budget -= bytes.length;
      post(seq, bytes, true, function () {});
    }
    pump();
  };

  this.stop = function () {
    stopped = true;
    if (retry) clearT(retry);
  };
}
