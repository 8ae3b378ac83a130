/*
 * Built-ins the recording leans on, captured when `reel.js` first runs.
 *
 * A page may replace any global or prototype method later (a polyfill, a
 * framework, a hostile script); the recorder uses only the copies taken
 * here. `un(f)(self, a)` is `f.call(self, a)` without looking up `call`
 * later. Not covered: Map/Set methods and the DOM's own getters (a page
 * that breaks `Node.prototype` breaks itself first), and the wasm glue's
 * TextEncoder and TextDecoder, read when the glue loads.
 */

export var W = window;
var FP = Function.prototype,
  AP = Array.prototype,
  OP = Object.prototype;
export var un = FP.bind.bind(FP.call);
export var push = un(AP.push),
  splice = un(AP.splice),
  slice = un(AP.slice),
  indexOf = un(AP.indexOf),
  join = un(AP.join),
  sort = un(AP.sort);
var SP = String.prototype;
export var sslice = un(SP.slice),
  lower = un(SP.toLowerCase),
  reTest = un(RegExp.prototype.test);
export var rApply = Reflect.apply,
  keys = Object.keys,
  hasOwn = un(OP.hasOwnProperty),
  toStr = un(OP.toString);
export var getDesc = Object.getOwnPropertyDescriptor,
  defProp = Object.defineProperty;
export var toJSON = JSON.stringify,
  fromJSON = JSON.parse;
export var P = Promise,
  then = un(P.prototype.then);
export var setT = setTimeout.bind(W),
  clearT = clearTimeout.bind(W),
  setI = setInterval.bind(W),
  clearI = clearInterval.bind(W);
export var fetchFn = W.fetch.bind(W),
  bodyBytes = un(Response.prototype.arrayBuffer),
  bodyText = un(Response.prototype.text);
var WA = W.WebAssembly;
export var compileWasm = WA.compile.bind(WA);
export var perf = performance,
  perfNow = perf.now.bind(perf),
  dateNow = Date.now;
export var random = Math.random,
  floor = Math.floor,
  mmin = Math.min,
  mmax = Math.max;
export var rnd = crypto.getRandomValues.bind(crypto);
var ET = EventTarget.prototype;
export var on = un(ET.addEventListener),
  off = un(ET.removeEventListener);
export var MO = MutationObserver;
var MOP = MO.prototype;
export var moObserve = un(MOP.observe),
  moTake = un(MOP.takeRecords),
  moStop = un(MOP.disconnect);
var ST = W.Storage && Storage.prototype;
export var getItem = un(ST.getItem),
  setItem = un(ST.setItem),
  removeItem = un(ST.removeItem);
export var consoleWarn = console.warn.bind(console);
export var BC = W.BroadcastChannel,
  U8 = Uint8Array;

export function each(a, f) {
  for (var i = 0; i < a.length; i++) f(a[i]);
}
export function pushAll(a, b) {
  for (var i = 0; i < b.length; i++) push(a, b[i]);
}
export function sleep(ms) {
  return new P(function (r) {
    setT(r, ms);
  });
}
