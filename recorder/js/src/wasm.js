/*
 * Where the wasm half lives, and how it is loaded.
 *
 * The one place that names the recorder's wasm-bindgen glue and its wasm
 * module. `cargo xtask dist` rewrites the two literal paths below to the
 * versioned URLs it publishes, so keep them literal and keep them here.
 *
 * The glue is imported, the module compiled with the captured fetch and
 * WebAssembly, and instantiated synchronously (the glue's async init would
 * use the page's `fetch` and `then`). Only `await` on native promises:
 * unlike `.then` and resolving a promise with a promise, it does not look
 * up the page's `then`.
 */
import { bodyBytes, compileWasm, fetchFn, then } from './builtins.js';

var GLUE_PATH = '/recorder/reel_recorder.js';
var WASM_PATH = '/recorder/reel_recorder_bg.wasm';

/** The glue's and the module's URLs on the server at `origin`. */
export function wasmUrls(origin) {
  return { glue: origin + GLUE_PATH, wasm: origin + WASM_PATH };
}

var loaded = null;

/** The wasm half's module (the glue's exports), loaded once per page. */
export async function loadWasm(origin) {
  if (loaded) return loaded;
  var urls = wasmUrls(origin);
  // Left to the browser by application bundlers (the npm package).
  var glue = import(/* webpackIgnore: true */ /* @vite-ignore */ urls.glue);
  // Not `compileStreaming`: it resolves a promise with the Response's
  // promise, which goes through the page's `Promise.prototype.then`.
  // `priority: 'low'`: the module is fetched only once recording starts
  // (never while `reel.js` loads), and then yields the network to the
  // page's own images, styles and scripts (a hint; browsers without it
  // ignore it). Compiling is asynchronous, off the main thread.
  var res = await fetchFn(urls.wasm, { credentials: 'omit', priority: 'low' });
  var mod = await compileWasm(await bodyBytes(res));
  then(glue, null, function () {
    /* reported below */
  });
  var m = await glue;
  m.initSync({ module: mod });
  return (loaded = m);
}
