/*
 * Every option of `Reel.start(options)`, in one table.
 *
 * The script tag takes the same options as `data-*` attributes, named
 * from the option (camelCase to kebab-case: `idleTimeoutMs` is
 * `data-idle-timeout-ms`). The README's options table and the npm
 * package's TypeScript types are checked against (or generated from) this
 * table (what each option does is said once, in the README's table; the
 * bundle carries no prose), so an option added here is added everywhere.
 *
 * Types: `boolean` (the tag's `"true"`), `number` (a positive number;
 * anything else means the default), `string`, `selector` (a CSS selector
 * or none), `url` (trailing slashes dropped), `list` (an array of strings;
 * on the tag, comma-separated), `patterns` (a `list` whose items may also
 * be RegExps).
 *
 * This module reads nothing from the page, so build scripts can import it.
 */

export var OPTIONS = [
  { name: 'endpoint', type: 'url', def: null },
  { name: 'ingestKey', type: 'string', def: '' },
  { name: 'maskAllText', type: 'boolean', def: false },
  { name: 'maskTextSelector', type: 'selector', def: null },
  { name: 'blockSelector', type: 'selector', def: null },
  { name: 'requireConsent', type: 'boolean', def: false },
  {
    name: 'respectDoNotTrack',
    type: 'boolean',
    def: false,
  },
  {
    name: 'idleTimeoutMs',
    type: 'number',
    def: 30 * 60 * 1000,
  },
  { name: 'maxSessionMs', type: 'number', def: 4 * 60 * 60 * 1000 },
  { name: 'canvasIntervalMs', type: 'number', def: 0 },
  {
    name: 'maxBufferBytes',
    type: 'number',
    def: 0,
  },
  { name: 'networkQueryAllow', type: 'list', def: [] },
  { name: 'networkDetailUrls', type: 'patterns', def: [] },
  { name: 'networkRedactHeaders', type: 'list', def: [] },
];

/** The script tag's attribute for an option: `idleTimeoutMs` → `data-idle-timeout-ms`. */
export function attributeName(name) {
  return (
    'data-' +
    name.replace(/[A-Z]/g, function (c) {
      return '-' + c.toLowerCase();
    })
  );
}

var isArray = Array.isArray;

/** An array option's items as strings (RegExps kept for `patterns`), by
 *  plain loops: `Reel.start` may run after the page replaced Array methods. */
function items(v, patterns) {
  if (!isArray(v)) return null;
  var out = [];
  for (var i = 0; i < v.length; i++) out[out.length] = patterns && v[i] instanceof RegExp ? v[i] : String(v[i]);
  return out;
}

/** The tag's comma-separated list, items trimmed, empty ones dropped. */
function splitList(s) {
  var out = [],
    cur = '';
  for (var i = 0; i <= s.length; i++) {
    var c = i < s.length ? s[i] : ',';
    if (c !== ',') cur += c;
    else {
      cur = cur.trim();
      if (cur) out[out.length] = cur;
      cur = '';
    }
  }
  return out;
}

/** One option's value from what the caller gave (`v`, undefined when not given). */
function value(o, v, fromTag) {
  switch (o.type) {
    case 'boolean':
      return fromTag ? v === 'true' : v === undefined ? o.def : !!v;
    case 'number': {
      var n = Number(v);
      return n > 0 ? n : o.def;
    }
    case 'list':
    case 'patterns':
      // `patterns`: substrings or RegExps; the tag gives comma-separated substrings.
      if (fromTag) return v ? splitList(v) : o.def;
      return items(v, o.type === 'patterns') || o.def;
    case 'string':
      return v ? String(v) : o.def;
    default:
      // selector, url: a non-empty string, or the default
      return v ? String(v) : o.def;
  }
}

/**
 * The options in full, each normalised to its type, from `Reel.start`'s
 * argument. `origin` is where `reel.js` came from (the default endpoint).
 */
export function normalize(given, origin) {
  var g = given || {};
  var out = {};
  for (var i = 0; i < OPTIONS.length; i++) {
    var o = OPTIONS[i];
    out[o.name] = value(o, g[o.name], false);
  }
  out.endpoint = String(out.endpoint || origin).replace(/\/+$/, '');
  return out;
}

/** The options given on the script tag as `data-*` attributes (those present). */
export function fromTag(el) {
  var out = {};
  for (var i = 0; i < OPTIONS.length; i++) {
    var o = OPTIONS[i];
    var v = el.getAttribute(attributeName(o.name));
    if (v !== null) out[o.name] = value(o, v, true);
  }
  return out;
}
