/*
 * The entry of the npm package `reel-recorder` (built by `cargo xtask
 * dist` into target/npm/): the same recorder as `reel.js`, as an ES module
 * for application bundles. Importing it does what loading `reel.js` does
 * (captures the built-ins, starts catching errors raised before
 * `start`, defines `window.Reel` when no other copy did); its named
 * exports are `window.Reel`'s members. The wasm half is loaded from the
 * server named by `start({ endpoint })`.
 */
import '../src/boot.js';

export { start, stop, flush, sessionId, event, identify, consent, optOut } from '../src/api.js';
