/*
 * Media and canvas: `<video>`/`<audio>` playback state, (opt-in, at
 * the embedder's `canvasIntervalMs`) bitmaps of 2D canvases, the phases
 * of CSS animations, and popovers shown or hidden.
 */
import { each } from './builtins.js';
import { idOf } from './ids.js';
import { insideBlocked } from './privacy.js';
import { enqueue } from './queue.js';
import { now } from './session.js';
import { targetOf } from './listeners.js';
import { drainMutations } from './mutations.js';

/** The media events, by the DOM event that causes each. */
export var MEDIA = { play: 'play', pause: 'pause', seeked: 'seek', ratechange: 'rate', volumechange: 'volume' };

export function mediaEvent(r, el, id, action) {
  return {
    k: 'media',
    t: now(r),
    id: id,
    a: action,
    time: el.currentTime || 0,
    rate: el.playbackRate,
    muted: el.muted,
    vol: el.volume,
  };
}

export function onMedia(r, e) {
  var el = targetOf(e);
  var id = idOf(r, el);
  if (id && !r.blocked.has(el)) enqueue(r, mediaEvent(r, el, id, MEDIA[e.type]));
}

/** Sends each recorded canvas whose bitmap changed since the last time. */
export function captureCanvases(r) {
  each(r.docs, function (d) {
    var list = d.querySelectorAll('canvas');
    for (var i = 0; i < list.length; i++) {
      var c = list[i],
        id = idOf(r, c);
      if (!id || r.blocked.has(c) || insideBlocked(r, c) || !c.width || !c.height) continue;
      var url;
      try {
        url = c.toDataURL('image/webp', 0.7);
      } catch (_) {
        continue; // tainted
      }
      if (r.lastCanvas.get(c) === url) continue;
      r.lastCanvas.set(c, url);
      enqueue(r, { k: 'canvas', t: now(r), id: id, url: url });
    }
  });
}

/** The phases of the page's CSS animations: all of them (a snapshot, a
 *  marker, at its `t`), else those not sent since (the tick). The player
 *  moves each on from there, so one phase per animation is enough. */
export function captureAnims(r, all, t) {
  t = t || now(r);
  each(r.docs, function (d) {
    var list = d.getAnimations ? d.getAnimations() : [];
    for (var i = 0; i < list.length; i++) {
      var a = list[i],
        e = a.effect,
        id = e && e.target && idOf(r, e.target);
      if (!id || a.animationName === undefined || (!all && r.sentAnims.has(a))) continue;
      r.sentAnims.add(a);
      enqueue(r, {
        k: 'anim',
        t: t,
        id: id,
        name: a.animationName,
        ps: e.pseudoElement,
        time: a.currentTime,
        p: a.playState === 'paused',
      });
    }
  });
}

/** A popover was shown or hidden: a state no attribute holds. */
export function onToggle(r, e) {
  var el = targetOf(e),
    id = idOf(r, el);
  if (!id || !e.newState || !el.popover) return;
  drainMutations(r);
  enqueue(r, { k: 'pop', t: now(r), id: id, o: e.newState === 'open' });
}
