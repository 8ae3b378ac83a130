/*
 * What insights (contract §6) need of the page that the events do not say
 * on their own: the referrer and visitor id with each page's Meta, the
 * session's previous pages (for u-turns), where a click fell in its
 * target's box, the top document's scroll depth, and what the wasm half's
 * signal detector (`reel_shared::signals`, the one implementation of the
 * rules) cannot see: whether a click's target is a field or plain text,
 * changes no event records (a dialog), and the time passing after a click.
 */
import { W, clearT, lower, mmin, push, reTest, splice } from './builtins.js';
import { idOf } from './ids.js';
import { drain, enqueue } from './queue.js';
import { later } from './report.js';
import { now } from './session.js';
import { load, randomHex, save } from './storage.js';

export var VISITOR_KEY = 'reel.visitor';

/** A click is decided (dead or not) this long after it, plus a margin. */
var SIGNAL_WAIT_MS = 1100;
var styleOf = W.getComputedStyle.bind(W);

/**
 * The visitor: a random id kept in the page's own localStorage, and the
 * session that created it (so a session knows it brought a new visitor).
 * Only a running recording asks, and one runs only where the page lets
 * Reel keep anything (after consent under `requireConsent`, not under an
 * honoured Do Not Track: api.js). Null where storage keeps nothing.
 */
function visitor(r) {
  var v = load('localStorage', VISITOR_KEY);
  if (v && typeof v.id === 'string' && reTest(/^[0-9a-f]{32}$/, v.id)) return v;
  v = { id: randomHex(16), s: r.sessionId };
  save('localStorage', VISITOR_KEY, v);
  var kept = load('localStorage', VISITOR_KEY);
  return kept && kept.id === v.id ? v : null;
}

/** Opting out forgets the visitor too. */
export function forgetVisitor() {
  save('localStorage', VISITOR_KEY, null);
}

/**
 * Adds the page's facts to its Meta (`m`, snapshot.js): the referrer, the
 * visitor, and the session's pages before this one (`pu`, at most two, and
 * `pt`, when the last was shown), which the session keeps (session.js
 * persists `r.session`).
 */
export function pageFacts(r, m) {
  m.ref = document.referrer || '';
  var v = visitor(r);
  if (v) {
    m.vid = v.id;
    m.nv = v.s === r.sessionId ? 1 : 0;
  }
  var pg = r.session.pg || (r.session.pg = []);
  var last = pg[pg.length - 1];
  if (!last || last[0] !== m.href) push(pg, [m.href, m.t]);
  if (pg.length > 3) splice(pg, 0, pg.length - 3);
  var pu = [];
  for (var i = 0; i < pg.length - 1; i++) push(pu, pg[i][0]);
  if (pu.length) {
    m.pu = pu;
    m.pt = pg[pg.length - 2][1];
  }
}

/** The top document's scroll depth: thousandths of the page's height whose
 *  bottom edge is in view. */
export function depth() {
  var se = document.scrollingElement || document.documentElement;
  var h = se ? se.scrollHeight : 0;
  return h > 0 ? mmin(1000, ((W.scrollY + W.innerHeight) / h) * 1000) : 1000;
}

/** The first fold: the top document's scroll position and depth as the
 *  page is first shown (after the snapshot, which holds it). */
export function firstFold(r) {
  var id = idOf(r, document);
  if (id) enqueue(r, { k: 'scroll', t: now(r), id: id, x: W.scrollX, y: W.scrollY, d: depth() });
}

var BUTTONS = { button: 1, submit: 1, reset: 1, image: 1 };
var CLICKABLE =
  'a[href],button,summary,label,[onclick],[role=button],[role=link],[role=tab],[role=menuitem],' +
  '[role=option],[role=checkbox],[role=radio],[role=switch],[role=treeitem]';

/** A click that cannot be a dead click: into a field, on plain text (no
 *  interactive element around it, no pointer cursor, text of its own), or
 *  beside everything. */
function inert(tg) {
  if (!tg || tg.nodeType !== 1) return true;
  var tag = tg.localName;
  if (tag === 'html' || tag === 'body') return true;
  if (tag === 'textarea' || tag === 'select' || tag === 'option' || tg.isContentEditable) return true;
  if (tag === 'input') return !BUTTONS[lower(tg.type || '')];
  if (tg.closest(CLICKABLE) || styleOf(tg).cursor === 'pointer') return false;
  for (var n = tg.firstChild; n; n = n.nextSibling) if (n.nodeType === 3 && reTest(/\S/, n.data)) return true;
  return false;
}

/**
 * A click's facts on its raw event `ev`: where it fell in the border box
 * of `el`, what its label and selector name (`bx`, `by`, thousandths), and
 * for a click, `nd` when it cannot be a dead click; then a tick of the
 * detector once the click's second is over, so a dead click is decided
 * then rather than at the next event.
 */
export function clickFacts(r, e, tg, el, ev) {
  if (el && el.nodeType === 1) {
    var b = el.getBoundingClientRect();
    if (b.width > 0) ev.bx = ((e.clientX - b.left) / b.width) * 1000;
    if (b.height > 0) ev.by = ((e.clientY - b.top) / b.height) * 1000;
  }
  if (e.type !== 'click') return;
  if (inert(tg)) ev.nd = 1;
  r.clickAt = ev.t;
  clearT(r.signalTimer);
  r.signalTimer = later(function () {
    signalTick(r);
  }, SIGNAL_WAIT_MS);
}

/** The page changed where no event says so yet (a dialog, a scroll whose
 *  position is recorded a little later): the detector hears of it now,
 *  when a click waits on it. */
export function pageChanged(r) {
  if (r.clickAt && now(r) - r.clickAt <= SIGNAL_WAIT_MS) enqueue(r, { k: 'chg', t: now(r) });
}

function signalTick(r) {
  r.signalTimer = 0;
  if (r.stopped || !r.wasm) return;
  drain(r, true);
  r.wasm.tick(horizon(r, now(r)));
}

/** `t`, or earlier if an event captured before it has not reached the
 *  wasm half yet (still queued, or held during a snapshot's walk): the
 *  detector decides nothing past it. */
export function horizon(r, t) {
  var lists = [r.queue, r.walking ? r.walking.held : []];
  for (var j = 0; j < 2; j++) for (var i = 0; i < lists[j].length; i++) if (lists[j][i].t < t) t = lists[j][i].t;
  return t;
}
