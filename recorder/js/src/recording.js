/*
 * One recording of one page: its state, and its lifecycle (begin, the
 * once-a-second tick, session rotation, flush, page hide, stop).
 *
 * The state lives on the Recording object (`r`), which every capture
 * module takes as its first argument; the modules hold no state of their
 * own, so a recording stopped while its start is still under way cannot
 * disturb the next one.
 */
import {
  MO,
  P,
  clearI,
  clearT,
  dateNow,
  each,
  indexOf,
  mmax,
  moObserve,
  moStop,
  off,
  on,
  push,
  pushAll,
  rApply,
  setI,
  sleep,
  splice,
  sslice,
  then,
  toJSON,
} from './builtins.js';
import { welcome } from './crossframe.js';
import { CONSOLE_BUDGET, onConsole, takeEarly } from './errors.js';
import { onShadow } from './frames.js';
import { firstFold, forgetVisitor, horizon, pageChanged } from './insights.js';
import { fieldChanged, flushMoves, flushScrolls, listenDoc, listenWindow } from './listeners.js';
import { captureAnims, captureCanvases } from './media.js';
import { drainMutations, OBSERVE, onMutations } from './mutations.js';
import { patchWindow } from './pagehooks.js';
import { drain, enqueue, settle } from './queue.js';
import { warn } from './report.js';
import { SESSION_KEY, claim, continueSession, newSession, now, persist } from './session.js';
import { completeSnapshot, endWalk, snapshot, snapshotTaken } from './snapshot.js';
import { randomHex, save } from './storage.js';
import { checkAdopted, onAdopt, onSheetDelete, onSheetInsert, onSheetReplace, sheetFixes } from './stylesheets.js';
import { Link } from './transport.js';
import { loadWasm } from './wasm.js';

/** The hooked page APIs (pagehooks.js), by name. */
var HOOKS = {
  console: onConsole,
  sheetInsert: onSheetInsert,
  sheetDelete: onSheetDelete,
  sheetReplace: onSheetReplace,
  adopt: onAdopt,
  shadow: onShadow,
  field: fieldChanged,
  pre: drainMutations,
  dialog: pageChanged,
};

export function Recording(opts) {
  var r = this;
  r.opts = opts;
  // In a cross-origin frame recorded into its parent's session
  // (crossframe.js): ids from the parent's block, no session of its own.
  var f = (r.frame = opts.frame);
  // This page's connected cross-origin frames, by window, and the blocks given.
  r.xf = new Map();
  r.xk = 0;
  r.idleMs = opts.idleTimeoutMs;
  r.maxMs = opts.maxSessionMs;
  // Nodes (ids.js, privacy.js).
  r.ids = new WeakMap();
  r.nextId = f ? f.b : 1;
  r.blocked = new WeakSet();
  r.sensitive = new WeakSet();
  // The queue and the wasm half (queue.js, transport.js).
  r.queue = [];
  r.queueTimer = 0;
  r.workTimer = 0;
  r.wasm = null;
  r.oldWasm = [];
  // The last rotated-away session's recorder: a joined frame's chunks
  // sealed before it heard of the rotation still go there (crossframe.js).
  r.prev = null;
  r.wasmModule = null;
  // Lifecycle.
  r.tickTimer = 0;
  r.canvasTimer = 0;
  r.observer = null;
  r.listeners = [];
  r.stopped = false;
  r.lastT = 0;
  r.lastActivity = 0;
  // Recorded trees (frames.js) and stylesheets (stylesheets.js).
  r.observedRoots = new WeakSet();
  r.docs = [];
  r.frameDocs = new WeakMap();
  r.sheetIds = new WeakMap();
  r.nextSheet = r.nextId;
  r.sentSheets = new WeakSet();
  r.adoptedRoots = [];
  r.adoptedKey = new WeakMap();
  // Snapshot and mutations (snapshot.js, mutations.js).
  r.late = [];
  r.early = null;
  r.walking = null;
  r.pending = null;
  r.pendingTimer = 0;
  r.resync = false;
  // Interactions (listeners.js, media.js, errors.js).
  r.moves = null;
  r.lastMoveAt = 0;
  r.lastTouchAt = 0;
  r.scrolled = new Set();
  r.scrollTimer = 0;
  r.resizeTimer = 0;
  r.selTimer = 0;
  r.lastField = new WeakMap();
  r.lastCanvas = new WeakMap();
  r.sentAnims = new WeakSet();
  r.consoleBudget = CONSOLE_BUDGET;
  // The session (session.js).
  r.tabId = randomHex(8);
  r.channel = null;
  r.conflict = false;
  r.claimed = null;
  r.session = f ? joined(f.s) : continueSession(r);
  r.lastT = r.session.last || 0;
  r.sessionId = r.session.id;

  var domReady =
    document.readyState === 'loading'
      ? new P(function (resolve) {
          on(document, 'DOMContentLoaded', resolve, { once: true });
        })
      : null;
  // Only `await` on promises of our own: unlike `.then`, it does not go
  // through the page's `Promise.prototype.then`.
  r.started = (async function () {
    try {
      return await startNow(r, domReady);
    } catch (e) {
      warn(e);
      return null;
    }
  })();
}

/** A hooked page API was called (pagehooks.js). */
Recording.prototype.hook = function (name, args) {
  if (this.stopped) return;
  // A hooked change (a shadow root, a CSSOM edit, a field set by
  // script) during the snapshot's walk: finish the walk first.
  if (this.walking) completeSnapshot(this);
  var a = [this];
  pushAll(a, args);
  rApply(HOOKS[name], null, a);
};

Recording.prototype.event = function (name, data) {
  recordEvent(this, name, data);
};

Recording.prototype.identify = function (userId, traits) {
  var json = null;
  if (traits !== undefined) {
    try {
      json = toJSON(traits);
    } catch (e) {
      warn(e);
    }
  }
  enqueue(this, {
    k: 'identify',
    t: now(this),
    user: sslice(String(userId), 0, 256),
    traits: json === undefined ? null : json,
  });
};

Recording.prototype.flush = function () {
  return flush(this);
};

Recording.prototype.stop = function (discard) {
  return stop(this, discard);
};

async function startNow(r, domReady) {
  await domReady;
  if (r.stopped) return null;
  claim(r);
  begin(r);
  var mod = loadWasm(r.opts.endpoint);
  then(mod, null, function () {
    /* awaited below */
  });
  await sleep(60); // the claim's window
  r.wasmModule = await mod;
  if (r.stopped) return null;
  await sheetFixes(r); // stylesheets.js: texts read again, into the snapshot
  if (r.stopped) return null;
  if (r.conflict) {
    r.conflict = false;
    rotate(r);
  }
  r.wasm = new Link(r.wasmModule, r.opts, r.session);
  drain(r);
  r.wasm.tick(now(r));
  persist(r);
  // The contract: `start` resolves once the first full snapshot is
  // taken (its walk may span several tasks).
  await snapshotTaken(r);
  return { sessionId: r.sessionId };
}

function begin(r) {
  r.observer = new MO(function (records) {
    if (r.walking) {
      r.walking.dirty = true;
      return;
    }
    try {
      onMutations(r, records, true);
    } catch (e) {
      warn(e);
      r.resync = true;
    }
  });
  push(r.docs, document);
  r.observedRoots.add(document);
  moObserve(r.observer, document, OBSERVE);
  patchWindow(window);
  // Errors raised before now (errors.js) follow the first snapshot, at its
  // time (snapshot.js): a replay seeking to one shows the page, not the
  // empty frame before the recording began.
  r.early = takeEarly();
  snapshot(r);
  firstFold(r);
  listenDoc(r, document);
  listenWindow(r);
  r.lastActivity = now(r);
  r.tickTimer = setI(function () {
    try {
      var t = now(r);
      if (t - r.session.start >= r.maxMs) rotate(r);
      // Changes that failed to serialise are not lost: a new full
      // snapshot records the page as it is now.
      if (r.resync) {
        r.resync = false;
        snapshot(r);
      }
      checkAdopted(r);
      if (!r.walking) captureAnims(r);
      drain(r);
      if (r.wasm) {
        r.wasm.tick(horizon(r, t));
        persist(r);
      }
    } catch (e) {
      warn(e);
    }
  }, 1000);
  if (r.opts.canvasIntervalMs > 0) {
    r.canvasTimer = setI(
      function () {
        try {
          captureCanvases(r);
        } catch (e) {
          warn(e);
        }
      },
      mmax(100, r.opts.canvasIntervalMs),
    );
  }
}

/**
 * Ends the session (idle too long, too old, or a duplicated tab) and
 * starts a new one in place: what was captured goes to the old session,
 * and the new one opens with its own Meta and full snapshot. A joined
 * cross-origin frame rotates only when its page's recorder says so
 * (crossframe.js), into the page's new session `s`, opening it with its
 * document; the page tells its joined frames.
 */
export function rotate(r, s) {
  if (r.stopped || (r.frame && !s)) return;
  drainMutations(r);
  flushMoves(r);
  drain(r, true);
  if (r.wasm) retire(r, (r.prev = r.wasm));
  if (!r.wasm) r.queue = []; // not sent yet: the new snapshot covers it
  r.session = s ? joined(s) : newSession(dateNow());
  r.sessionId = r.session.id;
  r.lastT = 0;
  if (r.wasm) r.wasm = new Link(r.wasmModule, r.opts, r.session);
  snapshot(r);
  firstFold(r);
  persist(r);
  r.lastActivity = now(r);
  claim(r);
  r.xf.forEach(function (l, w) {
    welcome(r, w, l);
  });
}

/** A frame's session is its page's: it never ends by itself. */
function joined(s) {
  return { id: s, seq: 0, start: 1e15 };
}

/** Sends what `old` (a rotated-away session's recorder) holds; `flush`
 *  waits for it meanwhile. */
export function retire(r, old) {
  push(r.oldWasm, old);
  then(old.flush(), function () {
    splice(r.oldWasm, indexOf(r.oldWasm, old), 1);
  });
}

/** `Reel.event`: a marker, after every DOM change made before it. */
function recordEvent(r, name, data) {
  drainMutations(r);
  checkAdopted(r);
  flushMoves(r);
  if (r.scrollTimer) {
    clearT(r.scrollTimer);
    flushScrolls(r);
  }
  var json = null;
  if (data !== undefined) {
    try {
      json = toJSON(data);
    } catch (e) {
      warn(e);
    }
    if (json && json.length > 65536) {
      warn('event data over 64 KiB dropped');
      json = null;
    }
  }
  // The phases at the marker's own time: a seek to it sets them as they were.
  var t = now(r);
  captureAnims(r, true, t);
  enqueue(r, { k: 'custom', t: t, name: sslice(String(name), 0, 256), data: json === undefined ? null : json });
  // A marker is a point in time: nothing recorded after it shares its
  // millisecond, so seeking to a marker shows the page exactly as marked.
  r.lastT += 1;
}

async function flush(r) {
  await r.started;
  drainMutations(r);
  flushMoves(r);
  if (r.scrollTimer) {
    clearT(r.scrollTimer);
    flushScrolls(r);
  }
  await settle(r);
  // Whatever arrived while settling is in the seal too, and so is a
  // session that rotated away meanwhile (its recorder still sending).
  drain(r, true);
  if (!r.wasm) return;
  var all = [r.wasm.flush()];
  persist(r);
  each(r.oldWasm, function (o) {
    push(all, o.flush());
  });
  for (var i = 0; i < all.length; i++) await all[i];
}

/** The page is being hidden or left: everything captured goes out now. */
export function pageHidden(r) {
  drainMutations(r);
  flushMoves(r);
  drain(r, true);
  if (r.wasm) {
    r.wasm.hidden();
    persist(r);
  }
}

/** Stops observing. `discard` drops what is not yet sent (opt-out). */
async function stop(r, discard) {
  if (r.stopped) return;
  if (discard) endWalk(r, r.walking);
  else {
    try {
      await flush(r);
    } catch (e) {
      warn(e);
    }
  }
  r.stopped = true;
  endWalk(r, r.walking);
  if (r.observer) moStop(r.observer);
  r.observer = null;
  each(r.listeners, function (l) {
    off(l[0], l[1], l[2], l[3]);
  });
  r.listeners = [];
  clearI(r.tickTimer);
  clearI(r.canvasTimer);
  clearT(r.signalTimer);
  clearT(r.queueTimer);
  if (r.channel) {
    try {
      r.channel.close();
    } catch (_) {
      /* closed */
    }
    r.channel = null;
  }
  r.queue = [];
  if (discard) {
    save('sessionStorage', SESSION_KEY, null);
    forgetVisitor();
    if (r.wasm) r.wasm.stop();
    r.wasm = null;
  }
}
