/*
 * The entry of the npm package `reel-recorder` (built by `cargo xtask
 * dist` into target/npm/): the same recorder as `reel.js`, as an ES module
 * for application bundles. Importing it does what loading `reel.js` does
 * (captures the built-ins, starts catching errors raised before
 * `start`, defines `window.Reel` when no other copy did); its named
 * exports are `window.Reel`'s members. The wasm half is loaded from the
 * server named by `start({ endpoint })`.
 *
 * A page records once: when a `reel.js` tag (or another copy of this
 * package) defined `window.Reel` first, the exports forward to it.
 */
import '../src/boot.js';
import { Reel } from '../src/api.js';

function reel() {
  var w = window.Reel;
  return w && w.__reel ? w : Reel;
}

export function start(options) {
  return reel().start(options);
}
export function stop() {
  return reel().stop();
}
export function flush() {
  return reel().flush();
}
export function sessionId() {
  return reel().sessionId();
}
export function event(name, data) {
  return reel().event(name, data);
}
export function identify(userId, traits) {
  return reel().identify(userId, traits);
}
export function consent(granted) {
  return reel().consent(granted);
}
export function optOut() {
  return reel().optOut();
}
