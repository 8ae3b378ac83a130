/*
 * The page's requests: `fetch`, `XMLHttpRequest` and `navigator.sendBeacon`
 * (contract §7, "Network").
 *
 * Installed when `reel.js` runs (boot.js), so a library that keeps a
 * reference to `fetch` at load still goes through it; while no recording
 * is under way every wrapper only calls the original. Reel's own requests
 * never pass here: transport.js and wasm.js send with the `fetch` captured
 * in builtins.js before these wrappers exist.
 *
 * Transparency (what `tests/tests/network_transparency.rs` checks): each
 * wrapper calls the original with the page's own `this` and arguments and
 * hands back what it returned or threw. `fetch` returns the original
 * promise chained once (`then(p, ok, fail)` with the captured `then`): it
 * settles one microtask later, with the same value or the same error, and
 * stays unhandled if the page does not handle it. A response body is read
 * (for its size or its text) from a `clone()`, taken before the page sees
 * the response; a `Request` body only from a clone taken before `fetch`
 * consumes it. XHR is observed through listeners added on the object, and
 * nothing it does or fires is changed. Nothing here throws into the page.
 *
 * Privacy: the URL goes over raw with the names `networkQueryAllow` keeps;
 * headers and bodies only for URLs matching `networkDetailUrls`, minus the
 * credential headers and `networkRedactHeaders`. The wasm half
 * (`recorder/src/netmask.rs`) masks query values, secret-looking body
 * fields, drops credential headers again and cuts everything to size.
 */
import {
  W,
  defProp,
  each,
  hasOwn,
  indexOf,
  lower,
  mmin,
  perfNow,
  push,
  rApply,
  reTest,
  sslice,
  then,
  toJSON,
  un,
} from './builtins.js';
import { currentRecording } from './api.js';
import { enqueue } from './queue.js';
import { warn } from './report.js';
import { now } from './session.js';

/** Bodies handed to the wasm half are cut here (it masks, then cuts to 64 KiB). */
var BODY_CAP = 256 * 1024;
/** Headers per list. */
var HEADER_CAP = 64;
/** Never recorded, whatever the options say. */
var CREDENTIAL_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];

var Req = W.Request,
  Res = W.Response,
  Hdrs = W.Headers,
  URLC = W.URL,
  USP = W.URLSearchParams,
  FD = W.FormData,
  BlobC = W.Blob,
  AB = W.ArrayBuffer,
  XHR = W.XMLHttpRequest;
var reqClone = Req && un(Req.prototype.clone),
  reqText = Req && un(Req.prototype.text),
  resClone = Res && un(Res.prototype.clone),
  resText = Res && un(Res.prototype.text),
  hdrsForEach = Hdrs && un(Hdrs.prototype.forEach),
  hdrsGet = Hdrs && un(Hdrs.prototype.get),
  fdForEach = FD && un(FD.prototype.forEach),
  abIsView = AB && AB.isView;
var xhrGetAll = XHR && un(XHR.prototype.getAllResponseHeaders),
  xhrGetHeader = XHR && un(XHR.prototype.getResponseHeader),
  xhrOn = un(W.EventTarget.prototype.addEventListener);
var SP = String.prototype,
  sIndexOf = un(SP.indexOf),
  sSplit = un(SP.split),
  sTrim = un(SP.trim),
  uspAppend = USP && un(USP.prototype.append);
var xhrState = new WeakMap();
var installed = false;

/** Calls a native `f` with `self` and `args` (see `pageOriginCaller`). */
var callNative = rApply;

/**
 * Installs the wrappers, once per page. `muted`: `reel.js` is a
 * cross-origin script loaded without CORS (no `crossorigin` attribute).
 */
export function installNetwork(muted) {
  if (installed) return;
  installed = true;
  try {
    if (muted) callNative = pageOriginCaller() || rApply;
    wrapFetch();
    wrapXhr();
    wrapBeacon();
  } catch (e) {
    warn(e);
  }
}

/**
 * A caller compiled as the document's own code. Chrome mutes what a muted
 * (cross-origin, non-CORS) script starts: a `fetch` promise created by a
 * call from `reel.js` that the page leaves unhandled fires no
 * `unhandledrejection`, and an exception it throws reaches `onerror` as
 * "Script error.". Called through this, the native functions run from the
 * page's origin, as without the recorder. An event-handler attribute of a
 * detached element is such code (nothing enters the document); where the
 * page's CSP forbids inline handlers the getter gives null and the calls
 * stay direct.
 */
function pageOriginCaller() {
  try {
    var d = document.createElement('div');
    d.setAttribute('onclick', 'var a = Reflect.apply; return function (f, s, x) { return a(f, s, x); };');
    var h = d.onclick;
    return typeof h === 'function' ? h.call(d) : null;
  } catch (_) {
    return null;
  }
}

/** The recording to report to, if any. */
function recording() {
  var r = currentRecording();
  return r && !r.stopped ? r : null;
}

/* ---------------- what the options allow ---------------- */

function absolute(u) {
  try {
    var x = new URLC(u, document.baseURI);
    x.username = '';
    x.password = '';
    return x.href;
  } catch (_) {
    return String(u);
  }
}

/** Whether `url` matches `networkDetailUrls` (substrings or RegExps). */
function detailed(r, url) {
  var pats = r.opts.networkDetailUrls || [];
  for (var i = 0; i < pats.length; i++) {
    var p = pats[i];
    if (p instanceof RegExp) {
      p.lastIndex = 0;
      if (reTest(p, url)) return true;
    } else if (typeof p === 'string' && p && sIndexOf(url, p) >= 0) return true;
  }
  return false;
}

/** Whether a header may be recorded. */
function headerAllowed(r, name) {
  var n = lower(String(name));
  if (indexOf(CREDENTIAL_HEADERS, n) >= 0) return false;
  var redact = r.opts.networkRedactHeaders || [];
  for (var i = 0; i < redact.length; i++) if (lower(String(redact[i])) === n) return false;
  return true;
}

function addHeader(r, list, name, value) {
  if (list.length < HEADER_CAP && headerAllowed(r, name)) push(list, [String(name), sslice(String(value), 0, 4096)]);
}

/** A `Headers`, an array of pairs or a record, as pairs. */
function headerList(r, h) {
  var out = [];
  if (!h) return out;
  try {
    var hs = h instanceof Hdrs ? h : new Hdrs(h);
    hdrsForEach(hs, function (v, k) {
      addHeader(r, out, k, v);
    });
  } catch (_) {
    /* the page's fetch reports a bad header list itself */
  }
  return out;
}

function contentTypeOf(h) {
  try {
    if (!h) return '';
    var hs = h instanceof Hdrs ? h : new Hdrs(h);
    return hdrsGet(hs, 'content-type') || '';
  } catch (_) {
    return '';
  }
}

/** UTF-8 length of a string. */
function utf8Len(s) {
  // A long body is measured natively rather than in a loop on the page's
  // thread.
  if (s.length > 65536 && BlobC) return new BlobC([s]).size;
  var n = s.length;
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c >= 0x800) {
      // A surrogate pair (two units) is 4 bytes; other units 3.
      n += c >= 0xd800 && c <= 0xdbff ? 1 : 2;
      if (c >= 0xd800 && c <= 0xdbff) i++;
    } else if (c >= 0x80) n += 1;
  }
  return n;
}

/**
 * What a request body is: `{bytes, text, type}` (each possibly null),
 * `text` only when `detail`. Reads nothing asynchronous.
 */
function bodyInfo(body, detail) {
  var out = { bytes: null, text: null, type: '' };
  if (body === undefined || body === null) return out;
  if (typeof body === 'string') {
    out.bytes = utf8Len(body);
    out.type = 'text/plain';
    if (detail) out.text = sslice(body, 0, BODY_CAP);
  } else if (USP && body instanceof USP) {
    var s = String(body);
    out.bytes = utf8Len(s);
    out.type = 'application/x-www-form-urlencoded';
    if (detail) out.text = sslice(s, 0, BODY_CAP);
  } else if (FD && body instanceof FD) {
    out.type = 'application/x-www-form-urlencoded';
    if (detail) {
      var parts = new USP();
      fdForEach(body, function (v, k) {
        uspAppend(parts, k, typeof v === 'string' ? v : '[file]');
      });
      out.text = sslice(String(parts), 0, BODY_CAP);
    }
  } else if (BlobC && body instanceof BlobC) {
    out.bytes = body.size;
    out.type = body.type || '';
  } else if (AB && (body instanceof AB || abIsView(body))) {
    out.bytes = body.byteLength;
  }
  return out;
}

/** The raw record of one request, sent to the recording once it settled. */
function report(r, q) {
  try {
    if (r.stopped) return;
    var t = now(r);
    var ev = {
      k: 'net',
      t: t,
      kind: q.kind,
      method: q.method,
      url: q.url,
      st: q.status,
      dur: mmin(perfNow() - q.start, 2147483647),
      qb: q.reqBytes,
      sb: q.resBytes,
      fail: q.failure,
      qa: r.opts.networkQueryAllow || [],
      rqh: q.reqHeaders,
      rsh: q.resHeaders,
      rqb: q.reqBody,
      rsb: q.resBody,
      rqt: q.reqType,
      rst: q.resType,
    };
    enqueue(r, ev);
  } catch (e) {
    warn(e);
  }
}

function newRequest(r, kind, method, url) {
  var abs = absolute(url);
  return {
    r: r,
    kind: kind,
    method: String(method || 'GET'),
    url: abs,
    detail: detailed(r, abs),
    start: perfNow(),
    status: 0,
    reqBytes: null,
    resBytes: null,
    failure: null,
    reqHeaders: [],
    resHeaders: [],
    reqBody: null,
    resBody: null,
    reqType: '',
    resType: '',
    // Asynchronous parts still to come (a Request body's text).
    waiting: 0,
    settled: false,
  };
}

/** Reports `q` once it settled and nothing is left to read. */
function finish(q) {
  if (q.settled && q.waiting === 0 && !q.reported) {
    q.reported = true;
    report(q.r, q);
  }
}

function failureOf(e) {
  var name = e && e.name;
  if (name === 'AbortError') return 'abort';
  if (name === 'TimeoutError') return 'timeout';
  return 'network error' + (e && e.message ? ': ' + sslice(String(e.message), 0, 200) : '');
}

/* ---------------- fetch ---------------- */

function wrapFetch() {
  var orig = W.fetch;
  if (typeof orig !== 'function') return;
  // `length` 1 and the name `fetch`, like the original.
  W.fetch = function fetch(input) {
    var r = recording();
    var q = null;
    if (r) {
      try {
        q = fetchStart(r, input, arguments.length > 1 ? arguments[1] : undefined);
      } catch (e) {
        warn(e);
        q = null;
      }
    }
    var p = callNative(orig, this, arguments);
    if (!q) return p;
    try {
      // The failure is observed on a branch of its own, which handles it;
      // the page gets `p` chained with no rejection handler of ours, so
      // a rejection the page leaves unhandled reaches it as before (a
      // rethrow from this cross-origin script would be muted: Chrome then
      // fires no `unhandledrejection` at all).
      then(p, null, function (err) {
        try {
          q.failure = failureOf(err);
          q.settled = true;
          finish(q);
        } catch (e) {
          warn(e);
        }
      });
      return then(p, function (res) {
        try {
          fetchResponse(q, res);
        } catch (e) {
          warn(e);
        }
        return res;
      });
    } catch (e) {
      warn(e);
      return p;
    }
  };
  named(W.fetch, 'fetch');
}

/** Gives a wrapper its original's name (a minifier renames functions). */
function named(f, name) {
  try {
    defProp(f, 'name', { value: name, configurable: true });
  } catch (_) {
    /* cosmetic */
  }
}

function fetchStart(r, input, init) {
  var isReq = Req && input instanceof Req;
  // A URL, a Location or an anchor: its `href`; other objects are not
  // stringified here (their `toString` is the page's, fetch calls it).
  var url = isReq
    ? input.url
    : input && typeof input === 'object'
      ? typeof input.href === 'string'
        ? input.href
        : ''
      : input;
  var method = init && init.method !== undefined ? init.method : isReq ? input.method : 'GET';
  var q = newRequest(r, 'fetch', String(method), url);
  var hasInitBody = init && init.body !== undefined && init.body !== null;
  if (hasInitBody) {
    var b = bodyInfo(init.body, q.detail);
    q.reqBytes = b.bytes;
    q.reqBody = b.text;
    q.reqType = b.type;
  }
  if (q.detail) {
    q.reqHeaders = headerList(r, init && init.headers !== undefined ? init.headers : isReq ? input.headers : null);
    var ct = contentTypeOf(init && init.headers !== undefined ? init.headers : isReq ? input.headers : null);
    if (ct) q.reqType = ct;
    // A Request's own body, read from a clone taken before fetch uses it.
    var copy = null;
    try {
      if (!hasInitBody && isReq && input.body && !input.bodyUsed) copy = reqClone(input);
    } catch (_) {
      copy = null; // fetch reports an unusable Request itself
    }
    if (copy) {
      q.waiting++;
      then(
        reqText(copy),
        function (text) {
          q.reqBody = sslice(text, 0, BODY_CAP);
          q.reqBytes = utf8Len(text);
          q.waiting--;
          finish(q);
        },
        function () {
          q.waiting--;
          finish(q);
        },
      );
    }
  }
  return q;
}

function fetchResponse(q, res) {
  q.status = res.status;
  var headers = res.headers;
  var len = hdrsGet(headers, 'content-length');
  if (len !== null && len !== '' && !(Number(len) < 0)) q.resBytes = Number(len);
  q.resType = hdrsGet(headers, 'content-type') || '';
  if (q.detail) {
    q.resHeaders = headerList(q.r, headers);
    // An opaque response has no body to read.
    if (res.type !== 'opaque' && res.body && !res.bodyUsed) {
      q.waiting++;
      then(
        resText(resClone(res)),
        function (text) {
          q.resBody = sslice(text, 0, BODY_CAP);
          if (q.resBytes === null) q.resBytes = utf8Len(text);
          q.waiting--;
          finish(q);
        },
        function (err) {
          q.failure = failureOf(err);
          q.waiting--;
          finish(q);
        },
      );
    }
  }
  q.settled = true;
  finish(q);
}

/* ---------------- XMLHttpRequest ---------------- */

function wrapXhr() {
  if (!XHR) return;
  var XP = XHR.prototype;
  var origOpen = XP.open,
    origSend = XP.send,
    origSetHeader = XP.setRequestHeader;
  if (typeof origOpen !== 'function' || typeof origSend !== 'function') return;

  XP.open = function open(method, url) {
    var result = callNative(origOpen, this, arguments);
    try {
      // An `async` given (even `undefined`) is converted to a boolean;
      // omitted, it is true.
      var async = arguments.length > 2 ? !!arguments[2] : true;
      xhrState.set(this, {
        method: String(method),
        url: url,
        async: async,
        headers: [],
        q: null,
        listening: xhrListening(this),
      });
    } catch (e) {
      warn(e);
    }
    return result;
  };
  named(XP.open, 'open');

  if (typeof origSetHeader === 'function') {
    XP.setRequestHeader = function setRequestHeader(name, value) {
      var result = callNative(origSetHeader, this, arguments);
      try {
        var s = xhrState.get(this);
        if (s) push(s.headers, [name, value]);
      } catch (e) {
        warn(e);
      }
      return result;
    };
    named(XP.setRequestHeader, 'setRequestHeader');
  }

  XP.send = function send() {
    var xhr = this;
    var q;
    try {
      q = xhrStart(xhr, arguments.length > 0 ? arguments[0] : null);
    } catch (e) {
      warn(e);
      q = null;
    }
    try {
      return callNative(origSend, xhr, arguments);
    } finally {
      // A synchronous request is over when send returns (or throws).
      if (q && q.sync) {
        try {
          xhrEnd(xhr, q, null);
        } catch (e) {
          warn(e);
        }
      }
    }
  };
  named(XP.send, 'send');
}

/** Whether our listeners are on `xhr` already (it may be opened again). */
function xhrListening(xhr) {
  var s = xhrState.get(xhr);
  return !!(s && s.listening);
}

function xhrStart(xhr, body) {
  var s = xhrState.get(xhr);
  var r = recording();
  if (!s || !r) return null;
  var q = newRequest(r, 'xhr', s.method, s.url);
  q.sync = !s.async;
  var b = bodyInfo(body, q.detail);
  if (body !== null && body !== undefined && typeof body === 'object' && body.nodeType === 9) {
    b = { bytes: null, text: null, type: 'application/xml' };
  }
  q.reqBytes = b.bytes;
  q.reqBody = b.text;
  q.reqType = b.type;
  if (q.detail) {
    each(s.headers, function (h) {
      addHeader(r, q.reqHeaders, h[0], h[1]);
      if (lower(String(h[0])) === 'content-type') q.reqType = String(h[1]);
    });
  }
  s.q = q;
  if (!s.listening) {
    s.listening = true;
    var mark = function (why) {
      return function () {
        var cur = xhrState.get(xhr);
        if (cur && cur.q) cur.q.failure = why;
      };
    };
    xhrOn(xhr, 'error', mark('network error'), false);
    xhrOn(xhr, 'abort', mark('abort'), false);
    xhrOn(xhr, 'timeout', mark('timeout'), false);
    xhrOn(
      xhr,
      'loadend',
      function (e) {
        try {
          var cur = xhrState.get(xhr);
          if (cur && cur.q && !cur.q.sync) xhrEnd(xhr, cur.q, e);
        } catch (err) {
          warn(err);
        }
      },
      false,
    );
  }
  return q;
}

function xhrEnd(xhr, q, e) {
  if (q.reported) return;
  var s = xhrState.get(xhr);
  if (s && s.q === q) s.q = null;
  q.status = xhr.status;
  if (q.status === 0 && !q.failure) q.failure = 'network error';
  if (q.failure) q.status = 0;
  var type = xhr.responseType;
  if (e && typeof e.loaded === 'number' && !q.failure) q.resBytes = e.loaded;
  if (!q.failure) {
    q.resType = xhrGetHeader(xhr, 'content-type') || '';
    var text = null;
    if (type === '' || type === 'text') text = xhr.responseText;
    else if (type === 'json' && q.detail) {
      try {
        text = toJSON(xhr.response);
      } catch (_) {
        text = null;
      }
    }
    if (q.resBytes === null && typeof text === 'string') q.resBytes = utf8Len(text);
    if (q.detail) {
      if (typeof text === 'string') q.resBody = sslice(text, 0, BODY_CAP);
      var all = xhrGetAll(xhr) || '';
      var lines = sSplit(all, '\r\n');
      for (var i = 0; i < lines.length; i++) {
        var at = sIndexOf(lines[i], ':');
        if (at > 0) addHeader(q.r, q.resHeaders, sslice(lines[i], 0, at), sTrim(sslice(lines[i], at + 1)));
      }
    }
  }
  q.settled = true;
  finish(q);
}

/* ---------------- sendBeacon ---------------- */

function wrapBeacon() {
  var N = W.Navigator && W.Navigator.prototype;
  var orig = N && hasOwn(N, 'sendBeacon') && N.sendBeacon;
  if (typeof orig !== 'function') return;
  N.sendBeacon = function sendBeacon(url) {
    var queued = callNative(orig, this, arguments);
    try {
      var r = recording();
      if (r) {
        var q = newRequest(r, 'beacon', 'POST', url);
        var b = bodyInfo(arguments.length > 1 ? arguments[1] : null, q.detail);
        q.reqBytes = b.bytes;
        q.reqBody = b.text;
        q.reqType = b.type;
        if (!queued) q.failure = 'not queued';
        q.settled = true;
        finish(q);
      }
    } catch (e) {
      warn(e);
    }
    return queued;
  };
  named(N.sendBeacon, 'sendBeacon');
}
