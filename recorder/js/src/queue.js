/*
 * The queue of raw events between the capture layer and the wasm half.
 *
 * Events wait here (as plain objects) until the wasm half is loaded and a
 * drain hands them over, one JSON batch of about DRAIN_SLICE nodes per
 * crossing, so a burst of changes never makes one long task of encoding.
 * Compression of the open chunk is spread over tasks the same way.
 */
import { P, clearT, each, push, setT, splice, toJSON } from './builtins.js';
import { later, warn } from './report.js';
import { now } from './session.js';

export var DRAIN_SLICE = 3000;

export function enqueue(r, ev) {
  if (r.stopped) return;
  // During the snapshot's walk, events wait to follow the snapshot.
  if (r.walking && ev.k !== 'meta' && ev.k !== 'snap-part') {
    push(r.walking.held, ev);
    return;
  }
  push(r.queue, ev);
  if (!r.queueTimer)
    r.queueTimer = later(function () {
      drain(r);
    }, 100);
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
 * DRAIN_SLICE nodes; the rest follows in a later task. `all` drains the
 * whole queue now (flush, page hidden).
 */
export function drain(r, all) {
  if (r.queueTimer) {
    clearT(r.queueTimer);
    r.queueTimer = 0;
  }
  while (r.wasm && r.queue.length) {
    pushSlice(r);
    if (!all && r.queue.length) {
      r.queueTimer = later(function () {
        drain(r);
      }, 0);
      return;
    }
  }
  if (r.frame && r.wasm) r.wasm.tick(now(r));
}

/** Hands the wasm half the oldest DRAIN_SLICE of the queue. */
function pushSlice(r) {
  var queue = r.queue,
    wasm = r.wasm;
  var n = 0,
    w = 0;
  var ev = queue[0];
  // A cross-origin frame's chunk (crossframe.js) crosses as bytes.
  if (ev.k === 'frame') {
    splice(queue, 0, 1);
    try {
      wasm.r.frame(ev.f, ev.b, ev.t, ev.c);
    } catch (e) {
      warn(e);
    }
    return;
  }
  while (n < queue.length && queue[n].k !== 'frame' && (n === 0 || w + weight(queue[n]) <= DRAIN_SLICE))
    w += weight(queue[n++]);
  var batch = splice(queue, 0, n);
  try {
    wasm.r.push(toJSON(batch), now(r));
  } catch (e) {
    warn(e);
    // One event that cannot be handed over must not cost the others.
    if (n > 1)
      each(batch, function (ev) {
        try {
          wasm.r.push(toJSON([ev]), now(r));
        } catch (e2) {
          warn(e2);
        }
      });
  }
  compressLater(r);
}

/**
 * Resolves once everything queued is in the wasm half and compressed
 * but for the last block: one slice, or one block of compression, per
 * task, so that `flush()` after a big snapshot is not one long task.
 */
export function settle(r) {
  return new P(function (resolve) {
    (function step() {
      var more = false;
      try {
        if (r.wasm && r.queue.length) {
          pushSlice(r);
          more = true;
        } else more = !!(r.wasm && r.wasm.r.work());
      } catch (e) {
        warn(e);
      }
      if (more) setT(step, 0);
      else resolve();
    })();
  });
}

/**
 * Compresses the open chunk a frame (~128 KB encoded) per task, between
 * the page's own tasks, so that sealing it is short whatever its size.
 */
function compressLater(r) {
  if (r.workTimer) return;
  r.workTimer = later(function work() {
    r.workTimer = 0;
    var more = false;
    try {
      more = !!(r.wasm && r.wasm.r.work());
    } catch (e) {
      warn(e);
    }
    if (more) r.workTimer = later(work, 0);
  }, 0);
}
