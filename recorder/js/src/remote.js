/*
 * The project's recorder settings, from the server (`GET /api/v1/config`,
 * contract §8): a team changes sampling or masking without touching its
 * pages. Fetched once per start, cached by the browser (the server sends
 * max-age and an ETag). The page's own options (the tag's attributes,
 * `Reel.start`'s argument) win where it sets them; a failed or slow fetch
 * leaves them as they are: the page records with its own options.
 */
import { P, bodyText, fetchFn, fromJSON, random, setT, then } from './builtins.js';
import { OPTIONS } from './options.js';
import { SESSION_KEY } from './session.js';
import { load } from './storage.js';

/** The settings for `key` from `endpoint`, or null (after at most 3 s). */
export function fetchConfig(endpoint, key) {
  return new P(function (resolve) {
    var fail = function () {
      resolve(null);
    };
    setT(fail, 3000);
    try {
      then(
        fetchFn(endpoint + '/api/v1/config?key=' + encodeURIComponent(key), { credentials: 'omit' }),
        function (res) {
          if (res.ok)
            then(
              bodyText(res),
              function (t) {
                resolve(fromJSON(t));
              },
              fail,
            );
          else fail();
        },
        fail,
      );
    } catch (_) {
      fail();
    }
  });
}

/** `given` with the project's settings `cfg` where `given` leaves an option unset. */
export function merge(given, cfg) {
  var out = {},
    k;
  for (k in given) out[k] = given[k];
  for (var i = 0; i < OPTIONS.length; i++) {
    k = OPTIONS[i].name;
    if (out[k] === undefined && cfg[k] !== undefined && cfg[k] !== null) out[k] = cfg[k];
  }
  return out;
}

/** Whether this visit is recorded at the project's sample rate: a tab whose
 *  session goes on (it was sampled in) always is; nothing is stored to say
 *  that a visit was left out. */
export function sampled(cfg) {
  var rate = Number(cfg.sampleRate);
  return !(rate < 1) || !!load('sessionStorage', SESSION_KEY) || random() < rate;
}
