/*
 * Cross-origin frames by message passing (issue 14), both sides.
 *
 * A recorder in a frame whose parent it cannot read says `hello` to the
 * parent with its ingest key (public: it is in every page) and a nonce
 * for this document. The parent's recorder answers only when the key is
 * its own and the message comes from the window of a frame element it
 * records (not blocked), to that window's origin, with the element's
 * node id and a block of node ids for the frame (`reel_shared::frames`).
 * The frame then records its document as that element's child, with ids
 * from the block, and posts its sealed chunks (masked by its own wasm:
 * the parent page may listen to every message) to the parent's origin
 * only; the parent keeps each as one opaque event. No answer within
 * JOIN_MS, or a parent origin the project does not list: the frame
 * records a session of its own.
 *
 * When the page's session rotates (recording.js), the page welcomes each
 * joined frame again with the new session's id; the frame rotates into
 * it, opening it with a full snapshot of its document under the same
 * element, in the same block. Each chunk a frame posts names the session
 * it was recorded for: the page keeps one of its previous session there
 * (sealed before the frame heard), and welcomes again a frame that names
 * any session but the current one, so the old session stays whole and
 * the new one gets the frame's document before any change of it.
 */
import { P, U8, indexOf, on, random, reTest, setI, clearI, setT } from './builtins.js';
import { recorded } from './frames.js';
import { idOf } from './ids.js';
import { insideBlocked, isBlocked } from './privacy.js';
import { enqueue } from './queue.js';
import { retire, rotate } from './recording.js';
import { SID, now } from './session.js';

/** How long a frame waits for its parent's recorder: a parent starting
 *  at the same time (its config fetch, its snapshot walk) answers well
 *  within it, and a standalone frame starts recording no later. */
var JOIN_MS = 1000;
/** `reel_shared::frames::FIRST_BASE` and `BLOCK`. */
var FIRST_BASE = 2147483648,
  BLOCK = 16777216;

/** The frame's side: resolves to the parent's answer `{f, b, s, w, o}`
 *  (frame element id, id base, the parent's session id, which
 *  `Reel.sessionId()` then gives, parent window, its origin), or null. */
export function join(key, origins) {
  var w = window.parent;
  try {
    // Top, or a readable parent, which records us as its own.
    if (w === window || w.document) return null;
  } catch (_) {
    /* another origin */
  }
  var n = random();
  return new P(function (resolve) {
    var timer;
    var done = function (v) {
      if (!timer) return;
      clearI(timer);
      timer = 0;
      resolve(v);
      if (v)
        on(window, 'pagehide', function () {
          w.postMessage({ reel: 'bye', n: n }, v.o);
        });
    };
    var hello = function () {
      w.postMessage({ reel: 'hello', key: key, n: n }, '*');
    };
    timer = setI(hello, 100);
    hello();
    setT(done, JOIN_MS, null);
    on(window, 'message', function (e) {
      var d = e.data;
      if (
        e.source === w &&
        d &&
        d.reel === 'welcome' &&
        reTest(SID, d.s) &&
        (!origins || indexOf(origins, e.origin) >= 0)
      )
        done({ f: d.f, b: d.b, s: d.s, w: w, o: e.origin });
    });
  });
}

/** A message to this recorder: on the page's side from one of its
 *  frames' recorders; on a joined frame's side from its page's, which
 *  welcomes it again into a new session when its own rotates. */
export function onFrameMessage(r, e) {
  var d = e.data,
    src = e.source,
    f = r.frame,
    l = r.xf.get(src);
  if (!d || !src) return;
  if (f) {
    // Follow the page (recording.js): our document opens its new session.
    if (src === f.w && e.origin === f.o && d.reel === 'welcome' && d.s !== r.sessionId && reTest(SID, d.s))
      rotate(r, d.s);
    return;
  }
  if (d.reel === 'hello' && d.key === r.opts.ingestKey) {
    var el = frameOf(r, src),
      id = el && idOf(r, el);
    if (!id) return;
    if (!l || l.n !== d.n) {
      if (r.xk > 126) return;
      if (l) enqueue(r, { k: 'mut', t: now(r), rem: [l.b] });
      r.xf.set(src, (l = { f: id, b: FIRST_BASE + r.xk++ * BLOCK, o: e.origin, n: d.n }));
    }
    welcome(r, src, l);
  } else if (l && l.o === e.origin) {
    if (d.reel === 'chunk' && d.c instanceof U8) {
      if (d.s === r.sessionId) enqueue(r, { k: 'frame', t: now(r), f: l.f, b: l.b, c: d.c });
      else {
        // Sealed before the frame heard of our rotation: into the
        // session it was recorded for, if that is the last one; the
        // frame is told (again) where we are now.
        var o = r.prev;
        if (o && o.s === d.s) {
          o.r.frame(l.f, l.b, now(r), d.c);
          retire(r, o);
        }
        welcome(r, src, l);
      }
    } else if (d.reel === 'bye' && d.n === l.n) {
      enqueue(r, { k: 'mut', t: now(r), rem: [l.b] });
      r.xf.delete(src);
    }
  }
}

/** Tells frame window `w` (only it, at its origin) its element, its id
 *  block and this page's session. */
export function welcome(r, w, l) {
  w.postMessage({ reel: 'welcome', f: l.f, b: l.b, s: r.sessionId }, l.o);
}

/** The recorded, unblocked cross-origin frame element showing window `w`. */
function frameOf(r, w) {
  for (var i = 0; i < r.docs.length; i++) {
    var fs = r.docs[i].querySelectorAll('iframe,frame');
    for (var j = 0; j < fs.length; j++) {
      var el = fs[j];
      if (el.contentWindow === w && recorded(r, el) && !isBlocked(r, el) && !insideBlocked(r, el)) return el;
    }
  }
  return null;
}
