/*
 * `window.Reel`: the public API.
 *
 * Nothing here throws into the host page: every call returns a settled
 * value or a Promise that resolves; an internal error is reported once per
 * kind (report.js), never thrown.
 */
import { P, rApply, then } from './builtins.js';
import { takeEarly } from './errors.js';
import { normalize } from './options.js';
import { Recording } from './recording.js';
import { forgetVisitor } from './insights.js';
import { join } from './crossframe.js';
import { fetchConfig, merge, sampled } from './remote.js';
import { warn } from './report.js';
import { OPTOUT_KEY } from './session.js';
import { load, save } from './storage.js';

var current = null;
var pendingConsent = null;
var consentGranted = false;
var origin = location.origin;

/** The recording under way, if any (the page-API hooks forward to it). */
export function currentRecording() {
  return current;
}

/** Where `reel.js` came from: the default endpoint. */
export function setOrigin(o) {
  origin = o;
}

/** Global Privacy Control or Do Not Track, when the embedder honours them. */
function doNotTrack() {
  try {
    return navigator.globalPrivacyControl === true || navigator.doNotTrack === '1';
  } catch (_) {
    return false;
  }
}

function begin(opts) {
  current = new Recording(opts);
  return current.started;
}

/** A public call: an error inside is reported, never thrown; `fallback`
 *  is returned instead. */
function guard(fn, fallback) {
  return function () {
    try {
      return rApply(fn, null, arguments);
    } catch (e) {
      warn(e);
      return fallback;
    }
  };
}

/** A public call that returns a Promise: it always resolves (to
 *  `fallback` when something failed inside). */
function guardAsync(fn, fallback) {
  return async function () {
    try {
      return await rApply(fn, null, arguments);
    } catch (e) {
      warn(e);
      return fallback;
    }
  };
}

var starting = null;

export var start = guardAsync(function (options) {
  var opts = normalize(options, origin);
  if (!opts.ingestKey) throw new Error('Reel.start needs an ingestKey');
  if (current) return current.started;
  // The project's settings first (remote.js), once for concurrent calls;
  // a `stop()` meanwhile cancels.
  if (!starting) {
    var p = (starting = then(fetchConfig(opts.endpoint, opts.ingestKey), function (cfg) {
      var proceed = function (link) {
        if (starting !== p) return null;
        starting = null;
        if (current) return current.started;
        if (cfg && !link && !sampled(cfg)) return (takeEarly(), null);
        if (cfg) opts = normalize(merge(options, cfg), origin);
        opts.frame = link;
        return go(opts);
      };
      // In a cross-origin frame: into the parent's session if its
      // recorder takes us in (crossframe.js), sampled with it. No async
      // function here: its promise would be resolved through the page's
      // own (maybe broken) `Promise.prototype.then`, unhandled.
      var joining = join(opts.ingestKey, cfg && cfg.origins);
      return joining ? then(joining, proceed) : proceed(null);
    }));
  }
  return starting;
}, null);

function go(opts) {
  if (opts.respectDoNotTrack && doNotTrack()) {
    takeEarly(); // nothing of this page is recorded
    // and nothing kept: a visitor id from a visit before Do Not Track
    // (or Global Privacy Control) was turned on is forgotten.
    forgetVisitor();
    return null;
  }
  // Opted out (remembered) or waiting for consent: nothing is recorded
  // or stored until `Reel.consent(true)`.
  if (load('localStorage', OPTOUT_KEY) || (opts.requireConsent && !consentGranted)) {
    takeEarly();
    return new P(function (resolve) {
      pendingConsent = { opts: opts, resolve: resolve };
    });
  }
  return begin(opts);
}

export var stop = guardAsync(function () {
  starting = null;
  var c = current;
  current = null;
  return c && c.stop(false);
});

export var flush = guardAsync(function () {
  return current && current.flush();
});

export var sessionId = guard(function () {
  return current ? current.sessionId : null;
}, null);

export var event = guard(function (name, data) {
  if (current) current.event(name, data);
});

export var identify = guard(function (userId, traits) {
  if (current) current.identify(userId, traits);
});

export var consent = guard(function (granted) {
  consentGranted = !!granted;
  if (granted) {
    save('localStorage', OPTOUT_KEY, null);
    if (pendingConsent && !current) {
      var p = pendingConsent;
      pendingConsent = null;
      then(begin(p.opts), p.resolve, function (e) {
        warn(e);
        p.resolve(null);
      });
    }
  }
});

export var optOut = guardAsync(function () {
  save('localStorage', OPTOUT_KEY, true);
  consentGranted = false;
  var c = current;
  current = null;
  if (c) {
    // Started again only by `consent(true)`, with the same options.
    pendingConsent = { opts: c.opts, resolve: function () {} };
    return c.stop(true);
  }
});

/** `window.Reel`. */
export var Reel = {
  __reel: true,
  start: start,
  stop: stop,
  flush: flush,
  sessionId: sessionId,
  event: event,
  identify: identify,
  consent: consent,
  optOut: optOut,
};
