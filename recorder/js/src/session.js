/*
 * The session: its id, sequence and times kept in the tab's
 * sessionStorage (so it continues across navigations), its clock, and the
 * claim that keeps a duplicated tab from sharing it.
 */
import { BC, dateNow, floor, perf, perfNow, reTest } from './builtins.js';
import { warn } from './report.js';
import { load, randomHex, save } from './storage.js';

export var SESSION_KEY = 'reel.session';
export var OPTOUT_KEY = 'reel.optout';
/** A session id. */
export var SID = /^[0-9a-f]{32}$/;

export function newSession(t) {
  var s = { id: randomHex(16), seq: 0, last: 0, start: t };
  save('sessionStorage', SESSION_KEY, s);
  return s;
}

/** The tab's session if it is still live (not idle too long, not too
 *  old), or a new one. */
export function continueSession(r) {
  var s = load('sessionStorage', SESSION_KEY);
  var t = dateNow();
  if (
    s &&
    typeof s.id === 'string' &&
    reTest(SID, s.id) &&
    t - (s.last || 0) < r.idleMs &&
    t - (s.start || t) < r.maxMs
  ) {
    if (!s.start) s.start = t;
    return s;
  }
  return newSession(t);
}

export function persist(r) {
  if (r.frame) return;
  if (r.wasm) r.session.seq = r.wasm.r.next_seq;
  r.session.last = r.lastT;
  save('sessionStorage', SESSION_KEY, r.session);
}

/** Milliseconds since the epoch, never decreasing within a session. */
export function now(r) {
  var t = floor(perf.timeOrigin + perfNow());
  if (t > r.lastT) r.lastT = t;
  return r.lastT;
}

/**
 * A duplicated tab copies sessionStorage, and with it the session: both
 * tabs would then write the same sequence numbers. Each recorder claims
 * its session on a BroadcastChannel; a live tab already holding it
 * answers, and the newcomer starts a session of its own.
 */
export function claim(r) {
  if (r.frame) return;
  try {
    if (!r.channel && typeof BC === 'function') {
      var channel = (r.channel = new BC('reel.sessions'));
      channel.onmessage = function (e) {
        try {
          var d = e.data || {};
          if (d.tab === r.tabId || d.sid !== r.session.id) return;
          if (d.q) channel.postMessage({ a: 1, sid: r.session.id, tab: r.tabId });
          else if (d.a && d.sid === r.claimed) r.conflict = true;
        } catch (err) {
          warn(err);
        }
      };
    }
    r.claimed = r.session.id;
    if (r.channel) r.channel.postMessage({ q: 1, sid: r.session.id, tab: r.tabId });
  } catch (e) {
    warn(e);
  }
}
