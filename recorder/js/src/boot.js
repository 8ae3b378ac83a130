/*
 * The entry point of `reel.js` (bundled as an IIFE by `cargo xtask dist`).
 *
 * Runs synchronously where the tag is: captures the built-ins (by
 * importing them first), starts catching errors the page's own scripts
 * raise before recording begins, defines `window.Reel`, and honours the
 * one-tag embed: `<script src=".../reel.js" data-ingest-key="KEY">` with
 * every option of options.js as a `data-*` attribute.
 */
import './builtins.js';
import { Reel, setOrigin, start } from './api.js';
import { listenEarly } from './errors.js';
import { installNetwork } from './network.js';
import { fromTag } from './options.js';

(function () {
  if (window.Reel && window.Reel.__reel) return;
  var script = document.currentScript;
  var scriptUrl = script && script.src ? script.src : '';
  var origin = scriptUrl ? new URL(scriptUrl).origin : location.origin;
  setOrigin(origin);
  // A page that calls `Reel.start` itself gets the errors from before
  // its call too.
  listenEarly();
  // The page's requests (network.js), wrapped before its scripts run.
  installNetwork(!!scriptUrl && origin !== location.origin && !(script && script.crossOrigin));
  window.Reel = Reel;
  if (script && script.getAttribute && script.getAttribute('data-ingest-key')) start(fromTag(script));
})();
