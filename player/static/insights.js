// The insights page (contract §6): a click heatmap and a scroll map over a
// replayed frame of the page, a funnel builder, and the most frustrating
// targets, all for the segment the filters describe. The numbers come
// from `/api/v1/insights/*`; the frame is a session replayed by the
// player's own wasm in insights-frame.html (the replay inside it is
// sandboxed, as in the player), laid out at the chosen width.

import { buildFilters, fromQuery, wireSegments } from '/player/segments.js';

const $ = (id) => document.getElementById(id);
const status = $('reel-status');
const urlInput = $('ins-url');
const widthSelect = $('ins-width');
const frameSelect = $('ins-frame-session');
const frame = $('ins-frame');
const canvasBox = $('ins-canvas');
const heat = $('ins-heat');
const marks = $('ins-marks');
const fold = $('ins-fold');
const frameNote = $('ins-frame-note');
const summary = $('ins-summary');
const moreFilters = $('reel-filters-more');
const moreToggle = $('reel-more-filters');
const moreCount = $('reel-more-count');

/** What the page shows; mirrored in the address (`?view=&page=&width=`). */
const state = {
  view: 'heatmap',
  url: '',
  width: 1280,
  clicks: null,
  scroll: null,
  funnel: null,
  frameId: null,
  frameUrl: null,
  frameWidth: 0,
  /** Each point as placed on the frame (for the overlay and for tests). */
  placed: [],
};

/** Bumped by every refresh: an older answer arriving late is dropped. */
let generation = 0;

function showStatus(text, error) {
  status.textContent = text;
  status.className = error ? 'reel-status reel-error' : 'reel-status';
  status.hidden = !text;
}

async function api(path, init) {
  const resp = await fetch(path, { credentials: 'same-origin', ...init });
  if (resp.status === 401) throw new Error('your sign-in has expired: reload the page to sign in again');
  if (!resp.ok) {
    let msg = `the server answered ${resp.status}`;
    try {
      const body = await resp.json();
      if (body && body.error) msg = body.error;
    } catch (_) {}
    throw new Error(msg);
  }
  return resp.json();
}

const filters = buildFilters($('reel-filters-main'), moreFilters, {
  exclude: ['url'],
  onChange: () => refresh(),
});

function query(extra) {
  return new URLSearchParams({ ...filters.values(), ...extra });
}

function fmtPct(n, of) {
  if (!of) return '0 %';
  const p = (100 * n) / of;
  return `${p >= 10 || p === 0 ? Math.round(p) : p.toFixed(1)} %`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function pill(text, cls, title) {
  const span = document.createElement('span');
  span.className = `reel-pill ${cls}`;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

function signalPills(t) {
  const out = [];
  if (t.rage_clicks > 0) out.push(pill(`${t.rage_clicks} rage`, 'reel-pill-rage', 'rage clicks'));
  if (t.dead_clicks > 0) out.push(pill(`${t.dead_clicks} dead`, 'reel-pill-dead', 'dead clicks'));
  if (t.error_clicks > 0) out.push(pill(`${t.error_clicks} error`, 'reel-pill-error', 'error clicks'));
  return out;
}

/** A page's URL without its query and fragment: the heatmap's unit. */
function pageOf(u) {
  try {
    const x = new URL(u);
    return x.origin + x.pathname;
  } catch (_) {
    return String(u || '');
  }
}

// ---------------------------------------------------------------------
// The address and the tabs

function saveAddress() {
  const q = new URLSearchParams(filters.values());
  q.set('view', state.view);
  if (state.url) q.set('page', state.url);
  q.set('width', String(state.width));
  history.replaceState(null, '', `/insights?${q}`);
}

function showView(view) {
  state.view = view;
  for (const tab of document.querySelectorAll('.ins-tabs [role=tab]')) {
    const on = tab.dataset.view === view;
    tab.classList.toggle('reel-on', on);
    tab.setAttribute('aria-selected', String(on));
  }
  const pageView = view === 'heatmap' || view === 'scroll';
  $('ins-page').hidden = !pageView;
  $('ins-funnel').hidden = view !== 'funnel';
  $('ins-frustration').hidden = view !== 'frustration';
  $('ins-targets-panel').hidden = view !== 'heatmap';
  $('ins-scroll-panel').hidden = view !== 'scroll';
  $('ins-show-dots').parentElement.hidden = view !== 'heatmap';
  heat.hidden = view !== 'heatmap';
  marks.hidden = view !== 'heatmap';
  fold.hidden = view !== 'scroll';
  saveAddress();
}

// ---------------------------------------------------------------------
// Pages the segment's sessions saw: the choices for the page URL

async function loadPages() {
  const body = await api(`/api/v1/sessions?${query({ limit: '200' })}`);
  const items = Array.isArray(body) ? body : body.sessions || [];
  const counts = new Map();
  for (const s of items) {
    const seen = new Set((Array.isArray(s.urls) ? s.urls : []).map(pageOf));
    for (const u of seen) counts.set(u, (counts.get(u) || 0) + 1);
  }
  const pages = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const list = $('ins-urls');
  list.replaceChildren();
  for (const [u, n] of pages) {
    const o = document.createElement('option');
    o.value = u;
    o.label = `${plural(n, 'session')}`;
    list.appendChild(o);
  }
  return pages;
}

// ---------------------------------------------------------------------
// The replayed frame

/** The same roles as the recorder's `role=…[name=…]` selectors
 *  (recorder/js/src/labels.js). */
const ROLE_QUERY = {
  button: 'button,input[type=button],input[type=submit],input[type=reset],input[type=image],summary,[role=button]',
  link: 'a[href],area[href],[role=link]',
  checkbox: 'input[type=checkbox],[role=checkbox]',
  radio: 'input[type=radio],[role=radio]',
  textbox:
    'input:not([type]),input[type=text],input[type=email],input[type=tel],input[type=url],input[type=""],textarea,[role=textbox]',
  searchbox: 'input[type=search],[role=searchbox]',
  combobox: 'select,[role=combobox]',
  listbox: 'select,[role=listbox]',
  slider: 'input[type=range],[role=slider]',
  spinbutton: 'input[type=number],[role=spinbutton]',
  tab: '[role=tab]',
  menuitem: '[role=menuitem]',
  option: 'option,[role=option]',
  switch: '[role=switch]',
};

function accessibleName(el) {
  const aria = el.getAttribute('aria-label');
  if (aria && aria.trim()) return aria.trim();
  const by = el.getAttribute('aria-labelledby');
  if (by) {
    const text = by
      .split(/\s+/)
      .map((id) => el.ownerDocument.getElementById(id))
      .filter(Boolean)
      .map((e) => e.textContent)
      .join(' ');
    if (text.trim()) return text.replace(/\s+/g, ' ').trim();
  }
  if (el.localName === 'input' && /^(button|submit|reset)$/i.test(el.type) && el.value) return el.value;
  if (el.getAttribute('alt')) return el.getAttribute('alt');
  const text = (el.textContent || '').replace(/\s+/g, ' ').trim();
  if (text) return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  return el.getAttribute('title') || el.getAttribute('placeholder') || '';
}

/** The element a recorded selector names in the replayed document. */
function resolve(doc, selector) {
  if (!selector) return null;
  const m = /^role=([a-z]+)\[name="((?:[^"\\]|\\.)*)"\]$/.exec(selector);
  try {
    if (m) {
      const name = m[2].replace(/\\(.)/g, '$1');
      for (const el of doc.querySelectorAll(ROLE_QUERY[m[1]] || `[role="${m[1]}"]`)) {
        if (accessibleName(el) === name) return el;
      }
      return null;
    }
    return doc.querySelector(selector);
  } catch (_) {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits for `f()` to be truthy (checked every 50 ms, up to `ms`). */
async function until(f, ms) {
  for (let waited = 0; waited < ms; waited += 50) {
    const v = f();
    if (v) return v;
    await sleep(50);
  }
  return f();
}

function replayDoc() {
  try {
    const inner = frame.contentDocument && frame.contentDocument.getElementById('reel-replay');
    return (inner && inner.contentDocument) || null;
  } catch (_) {
    return null;
  }
}

/** When the page was shown in that session: from its navigation marker to
 *  the next; the frame is the page just before its first click there (as
 *  the visitor saw it when acting), else as it was before it was left. */
function momentOf(markers, url, duration) {
  const navs = markers.filter((m) => m.kind === 'navigation');
  // Marker names are URLs cut at a length (ending in `…`).
  const shows = (name) => name.includes(url) || (name.endsWith('…') && url.startsWith(name.slice(0, -1)));
  const i = navs.findIndex((m) => shows(String(m.name)));
  if (i < 0) return Math.max(0, duration - 1);
  const from = navs[i].t;
  const to = i + 1 < navs.length ? navs[i + 1].t : duration + 1;
  const click = markers.find((m) => (m.kind === 'click' || m.kind === 'rage_click') && m.t > from && m.t < to);
  return click ? Math.max(from, click.t - 1) : Math.max(from, to - 1);
}

/** Loads session `id` into the frame and shows `url` as it was recorded. */
async function loadFrame(id, url) {
  state.frameId = id;
  state.frameUrl = null;
  frameNote.textContent = 'Replaying the page…';
  frameNote.hidden = false;
  frame.style.width = `${state.width}px`;
  frame.style.height = '720px';
  frame.src = `/player/insights-frame.html?session=${encodeURIComponent(id)}`;
  await new Promise((r) => frame.addEventListener('load', r, { once: true }));
  const win = frame.contentWindow;
  const player = await until(() => win.reelPlayer || win.reelFrameError, 20000);
  if (!player || typeof player === 'string') throw new Error(player || 'the player did not start in the frame');
  await player.ready;
  const markers = player.markers() || [];
  await player.seek(momentOf(markers, url, player.duration()));
  state.frameUrl = url;
  frameNote.hidden = true;
}

/** Sizes the frame to the chosen width and the page's full height, and
 *  scales it to fit the stage. */
function layoutFrame() {
  const w = state.width;
  frame.style.width = `${w}px`;
  let h = 720;
  for (let pass = 0; pass < 2; pass++) {
    frame.style.height = `${h}px`;
    // Reading the replay's size lays it out at this size (no animation
    // frame needed: a tab in the background gets none).
    const doc = replayDoc();
    const el = doc && (doc.scrollingElement || doc.documentElement);
    const full = el ? Math.max(el.scrollHeight, doc.body ? doc.body.scrollHeight : 0) : h;
    const next = Math.min(Math.max(full, 400), 8000);
    if (next === h) break;
    h = next;
  }
  canvasBox.style.width = `${w}px`;
  canvasBox.style.height = `${h}px`;
  const room = $('ins-stage').clientWidth - 2;
  const scale = Math.min(1, room / w);
  canvasBox.style.transform = `scale(${scale})`;
  canvasBox.parentElement.style.setProperty('--ins-h', `${h * scale}px`);
  canvasBox.parentElement.style.setProperty('--ins-w', `${w * scale}px`);
  state.frameWidth = w;
  return { w, h, scale };
}

// ---------------------------------------------------------------------
// The heat layer

/** 256 colours from cold to hot. */
const PALETTE = (() => {
  const c = document.createElement('canvas');
  c.width = 256;
  c.height = 1;
  const g = c.getContext('2d');
  const grad = g.createLinearGradient(0, 0, 256, 0);
  grad.addColorStop(0.0, '#2b59ff');
  grad.addColorStop(0.35, '#00d0ff');
  grad.addColorStop(0.55, '#3ee06b');
  grad.addColorStop(0.75, '#ffe11a');
  grad.addColorStop(1.0, '#ff2a1a');
  g.fillStyle = grad;
  g.fillRect(0, 0, 256, 1);
  return g.getImageData(0, 0, 256, 1).data;
})();

/** The colours of player.css / insights.css for each signal. */
const SIGNAL_COLOURS = { rage: '#e03131', dead: '#7048e8', error: '#d9480f' };

/** The heat layer is drawn at half resolution: a blur needs no more. */
const HEAT_SCALE = 0.5;

function drawHeat(points, w, h, dots) {
  heat.width = Math.ceil(w * HEAT_SCALE);
  heat.height = Math.ceil(h * HEAT_SCALE);
  heat.style.width = `${w}px`;
  heat.style.height = `${h}px`;
  const ctx = heat.getContext('2d');
  ctx.clearRect(0, 0, heat.width, heat.height);
  if (!points.length) return;
  const r = 26 * HEAT_SCALE;
  const stamp = document.createElement('canvas');
  stamp.width = stamp.height = Math.ceil(2 * r);
  const s = stamp.getContext('2d');
  const grad = s.createRadialGradient(r, r, 0, r, r, r);
  grad.addColorStop(0, 'rgba(0,0,0,1)');
  grad.addColorStop(1, 'rgba(0,0,0,0)');
  s.fillStyle = grad;
  s.fillRect(0, 0, stamp.width, stamp.height);
  ctx.globalAlpha = 0.3;
  for (const p of points) ctx.drawImage(stamp, p.x * HEAT_SCALE - r, p.y * HEAT_SCALE - r);
  ctx.globalAlpha = 1;
  const img = ctx.getImageData(0, 0, heat.width, heat.height);
  const d = img.data;
  let max = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > max) max = d[i];
  const k = max ? 255 / max : 0;
  for (let i = 0; i < d.length; i += 4) {
    const a = Math.min(255, Math.round(d[i + 3] * k));
    if (a < 6) {
      d[i + 3] = 0;
      continue;
    }
    d[i] = PALETTE[a * 4];
    d[i + 1] = PALETTE[a * 4 + 1];
    d[i + 2] = PALETTE[a * 4 + 2];
    d[i + 3] = Math.min(210, 50 + a);
  }
  ctx.putImageData(img, 0, 0);
  if (dots) {
    ctx.fillStyle = 'rgba(20, 20, 30, .75)';
    for (const p of points) {
      ctx.beginPath();
      ctx.arc(p.x * HEAT_SCALE, p.y * HEAT_SCALE, 1.6, 0, 2 * Math.PI);
      ctx.fill();
    }
    // Rage, dead and error clicks ringed in their colours.
    ctx.lineWidth = 1.5;
    for (const p of points) {
      if (!p.kind) continue;
      ctx.strokeStyle = SIGNAL_COLOURS[p.kind];
      ctx.beginPath();
      ctx.arc(p.x * HEAT_SCALE, p.y * HEAT_SCALE, 5, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
}

/** A point's position in the box, as a fraction: the API gives
 *  thousandths (0..1000) or fractions (0..1). */
function frac(v) {
  if (v == null) return 0.5;
  const n = Number(v);
  if (!isFinite(n)) return 0.5;
  return Math.min(1, Math.max(0, n > 1 ? n / 1000 : n));
}

function boxOf(el, doc) {
  const r = el.getBoundingClientRect();
  const se = doc.scrollingElement || doc.documentElement;
  return { left: r.left + se.scrollLeft, top: r.top + se.scrollTop, width: r.width, height: r.height };
}

/** Places the points and marks on the frame; returns how many landed. */
function drawOverlay(w, h) {
  const doc = replayDoc();
  const clicks = state.clicks;
  marks.replaceChildren();
  state.placed = [];
  if (!doc || !clicks) {
    drawHeat([], w, h, false);
    return 0;
  }
  const boxes = new Map();
  const box = (sel) => {
    if (!boxes.has(sel)) {
      const el = resolve(doc, sel);
      boxes.set(sel, el ? boxOf(el, doc) : null);
    }
    return boxes.get(sel);
  };
  const pts = [];
  for (const p of clicks.points || []) {
    const b = box(p.selector);
    if (!b) {
      state.placed.push({ selector: p.selector, placed: false });
      continue;
    }
    const x = b.left + frac(p.x) * b.width;
    const y = b.top + frac(p.y) * b.height;
    const kind = p.rage ? 'rage' : p.error ? 'error' : p.dead ? 'dead' : '';
    pts.push({ x, y, kind });
    state.placed.push({ selector: p.selector, placed: true, x, y, box: b, kind });
  }
  drawHeat(pts, w, h, $('ins-show-dots').checked);
  (clicks.targets || []).forEach((t, i) => {
    const b = box(t.selector);
    if (!b) return;
    const frustrated = t.rage_clicks > 0 || t.dead_clicks > 0 || t.error_clicks > 0;
    if (i >= 10 && !frustrated) return;
    const m = document.createElement('div');
    m.className = `ins-mark${frustrated ? ' ins-mark-frustrated' : ''}`;
    m.dataset.rank = String(i + 1);
    m.style.left = `${b.left}px`;
    m.style.top = `${b.top}px`;
    m.style.width = `${b.width}px`;
    m.style.height = `${b.height}px`;
    const tag = document.createElement('span');
    tag.className = 'ins-mark-tag';
    tag.textContent = String(i + 1);
    m.appendChild(tag);
    if (frustrated) {
      const f = document.createElement('span');
      f.className = 'ins-mark-signals';
      f.append(...signalPills(t));
      m.appendChild(f);
    }
    marks.appendChild(m);
  });
  return pts.length;
}

function highlight(selector) {
  for (const m of marks.querySelectorAll('.ins-mark')) m.classList.remove('ins-mark-hover');
  if (selector == null) return;
  const t = (state.clicks.targets || []).findIndex((x) => x.selector === selector);
  const m = marks.querySelector(`.ins-mark[data-rank="${t + 1}"]`);
  if (m) {
    m.classList.add('ins-mark-hover');
    m.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }
}

function fillTargets() {
  const tbody = document.querySelector('#ins-targets tbody');
  tbody.replaceChildren();
  const doc = replayDoc();
  const targets = (state.clicks && state.clicks.targets) || [];
  targets.slice(0, 50).forEach((t, i) => {
    const tr = document.createElement('tr');
    tr.dataset.selector = t.selector || '';
    const rank = document.createElement('td');
    rank.innerHTML = '<span class="ins-rank"></span>';
    rank.firstChild.textContent = String(i + 1);
    const name = document.createElement('td');
    name.className = 'ins-target';
    const label = document.createElement('div');
    label.textContent = t.label || '(no label)';
    const sel = document.createElement('code');
    sel.textContent = t.selector || '';
    name.append(label, sel);
    if (doc && !resolve(doc, t.selector)) {
      tr.classList.add('ins-missing');
      name.title = 'Not on this frame: choose another session to replay from';
    }
    const clicks = document.createElement('td');
    clicks.className = 'num';
    clicks.textContent = String(t.clicks ?? 0);
    const sessions = document.createElement('td');
    sessions.className = 'num';
    sessions.textContent = String(t.sessions ?? 0);
    const sig = document.createElement('td');
    sig.append(...signalPills(t));
    tr.append(rank, name, clicks, sessions, sig);
    tr.addEventListener('mouseenter', () => highlight(t.selector));
    tr.addEventListener('mouseleave', () => highlight(null));
    tbody.appendChild(tr);
  });
  if (!targets.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.colSpan = 5;
    td.className = 'reel-empty';
    td.textContent = 'No clicks on this page in this segment.';
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
}

// ---------------------------------------------------------------------
// The scroll map

function fillScroll(h) {
  const sc = state.scroll;
  const list = $('ins-scroll-bars');
  list.replaceChildren();
  fold.replaceChildren();
  const n = (sc && sc.sessions) || 0;
  const avg = sc && sc.avg_time_ms ? ` They spent ${Math.round(sc.avg_time_ms / 1000)} s on it on average.` : '';
  $('ins-scroll-total').textContent = n
    ? `${plural(n, 'session')} saw this page.${avg} Each bar: how many scrolled at least that far down it.`
    : 'No session in this segment saw this page.';
  const depth = ((sc && sc.depth) || []).slice().sort((a, b) => a.percent - b.percent);
  for (const d of depth) {
    const li = document.createElement('li');
    li.className = 'ins-bar';
    li.dataset.percent = String(d.percent);
    li.dataset.sessions = String(d.sessions);
    const label = document.createElement('span');
    label.className = 'ins-bar-label';
    label.textContent = `${d.percent} %`;
    const track = document.createElement('span');
    track.className = 'ins-bar-track';
    const fill = document.createElement('span');
    fill.className = 'ins-bar-fill';
    fill.style.width = n ? `${(100 * d.sessions) / n}%` : '0';
    track.appendChild(fill);
    const value = document.createElement('span');
    value.className = 'ins-bar-value';
    value.textContent = `${d.sessions} · ${fmtPct(d.sessions, n)}`;
    li.append(label, track, value);
    list.appendChild(li);
  }
  // Over the page: warm where most people got to, cold where few did,
  // with a line at each tenth.
  if (!n || !depth.length) return;
  const stops = depth.map((d) => {
    const f = d.sessions / n;
    const hue = Math.round(240 * (1 - f));
    return `hsla(${hue}, 90%, 55%, ${0.12 + 0.2 * f}) ${d.percent}%`;
  });
  fold.style.background = `linear-gradient(to bottom, ${stops.join(', ')})`;
  fold.style.height = `${h}px`;
  for (const d of depth) {
    if (d.percent === 0) continue;
    const line = document.createElement('div');
    line.className = 'ins-fold-line';
    line.style.top = `${(d.percent / 100) * h}px`;
    const tag = document.createElement('span');
    tag.textContent = `${fmtPct(d.sessions, n)} of sessions reached ${d.percent} %`;
    line.appendChild(tag);
    fold.appendChild(line);
  }
}

// ---------------------------------------------------------------------
// Refreshing the page views

async function chooseFrames(url, mine) {
  const body = await api(`/api/v1/sessions?${query({ visited: url, limit: '20' })}`);
  if (mine !== generation) return null;
  const items = Array.isArray(body) ? body : body.sessions || [];
  const want = state.width >= 1024 ? 'desktop' : state.width >= 600 ? 'tablet' : 'mobile';
  items.sort((a, b) => (b.device === want) - (a.device === want));
  const keep = frameSelect.value;
  frameSelect.replaceChildren();
  for (const s of items) {
    const o = document.createElement('option');
    o.value = s.id;
    const when = new Date(s.started_at);
    o.textContent = `${isNaN(when) ? s.id.slice(0, 8) : when.toLocaleString()}${s.device ? ` · ${s.device}` : ''}`;
    frameSelect.appendChild(o);
  }
  if (items.some((s) => s.id === keep)) frameSelect.value = keep;
  return frameSelect.value || null;
}

async function refreshPage() {
  const mine = ++generation;
  const url = state.url;
  document.body.dataset.insPage = 'loading';
  if (!url) {
    frameNote.textContent = 'Choose a page to see where people clicked.';
    frameNote.hidden = false;
    document.body.dataset.insPage = 'empty';
    return;
  }
  const [clicks, scroll, frameId] = await Promise.all([
    api(`/api/v1/insights/clicks?${query({ url })}`),
    api(`/api/v1/insights/scroll?${query({ url })}`),
    chooseFrames(url, mine),
  ]);
  if (mine !== generation) return;
  state.clicks = clicks;
  state.scroll = scroll;
  summary.textContent = `${plural(clicks.sessions || 0, 'session')} · ${plural(
    (clicks.points || []).length,
    'click',
  )}${clicks.truncated ? ' (the most recent; more were left out)' : ''} on pages matching “${url}”`;
  if (!frameId) {
    frameNote.textContent = 'No recorded session in this segment shows this page.';
    frameNote.hidden = false;
    frame.removeAttribute('src');
    state.frameId = null;
  } else if (frameId !== state.frameId || url !== state.frameUrl) {
    try {
      await loadFrame(frameId, url);
    } catch (err) {
      // The numbers stand without the picture.
      frameNote.textContent = `The page could not be replayed from this session: ${err.message}`;
      frameNote.hidden = false;
    }
    if (mine !== generation) return;
  }
  const { w, h } = layoutFrame();
  if (mine !== generation) return;
  const placed = drawOverlay(w, h);
  fillTargets();
  fillScroll(h);
  document.body.dataset.insPlaced = String(placed);
  document.body.dataset.insPage = 'ready';
}

async function refreshFrustration() {
  const mine = ++generation;
  document.body.dataset.insFrustration = 'loading';
  const url = state.url;
  $('ins-frustration-url').textContent = url ? `“${url}”` : '(choose a page on the heatmap tab)';
  if (!url) {
    document.querySelector('#ins-frustrating tbody').replaceChildren();
    document.body.dataset.insFrustration = 'empty';
    return;
  }
  const clicks = await api(`/api/v1/insights/clicks?${query({ url })}`);
  if (mine !== generation) return;
  const score = (t) => (t.rage_clicks || 0) + (t.dead_clicks || 0) + (t.error_clicks || 0);
  const bad = (clicks.targets || []).filter((t) => score(t) > 0).sort((a, b) => score(b) - score(a));
  const tbody = document.querySelector('#ins-frustrating tbody');
  tbody.replaceChildren();
  for (const t of bad) {
    const tr = document.createElement('tr');
    tr.dataset.selector = t.selector || '';
    const name = document.createElement('td');
    name.className = 'ins-target';
    name.textContent = t.label || '(no label)';
    const sel = document.createElement('td');
    const code = document.createElement('code');
    code.textContent = t.selector || '';
    sel.appendChild(code);
    tr.append(name, sel);
    for (const [n, cls] of [
      [t.rage_clicks, 'reel-pill-rage'],
      [t.dead_clicks, 'reel-pill-dead'],
      [t.error_clicks, 'reel-pill-error'],
    ]) {
      const td = document.createElement('td');
      td.className = 'num';
      if (n > 0) td.appendChild(pill(String(n), cls));
      else td.textContent = '0';
      tr.appendChild(td);
    }
    for (const n of [t.clicks, t.sessions]) {
      const td = document.createElement('td');
      td.className = 'num';
      td.textContent = String(n ?? 0);
      tr.appendChild(td);
    }
    const go = document.createElement('td');
    go.className = 'actions';
    const a = document.createElement('a');
    a.className = 'reel-button';
    a.textContent = 'Sessions';
    const q = new URLSearchParams(filters.values());
    if (url) q.set('visited', url);
    q.set(t.rage_clicks > 0 ? 'has_rage_clicks' : t.dead_clicks > 0 ? 'has_dead_clicks' : 'has_error_clicks', 'true');
    a.href = `/?${q}`;
    go.appendChild(a);
    tr.appendChild(go);
    tbody.appendChild(tr);
  }
  $('ins-frustrating-empty').hidden = bad.length > 0;
  document.body.dataset.insFrustration = 'ready';
}

// ---------------------------------------------------------------------
// The funnel

const STEP_KINDS = [
  ['url', 'Visited URL containing'],
  ['event', 'Custom event named'],
  ['click', 'Clicked label'],
];

function addStep(kind, value) {
  const ol = $('ins-steps');
  const li = document.createElement('li');
  li.className = 'ins-step';
  const n = document.createElement('span');
  n.className = 'ins-step-n';
  const sel = document.createElement('select');
  sel.className = 'ins-step-kind';
  sel.setAttribute('aria-label', 'Step kind');
  for (const [v, text] of STEP_KINDS) {
    const o = document.createElement('option');
    o.value = v;
    o.textContent = text;
    sel.appendChild(o);
  }
  sel.value = kind || 'url';
  const input = document.createElement('input');
  input.className = 'ins-step-value';
  input.type = 'text';
  input.required = true;
  input.setAttribute('aria-label', 'Step value');
  input.value = value || '';
  const setList = () => {
    if (sel.value === 'url') input.setAttribute('list', 'ins-urls');
    else input.removeAttribute('list');
    input.placeholder = sel.value === 'url' ? '/checkout' : sel.value === 'event' ? 'signup' : 'Add to cart';
  };
  setList();
  sel.addEventListener('change', setList);
  const del = document.createElement('button');
  del.type = 'button';
  del.className = 'ins-step-remove';
  del.textContent = '✕';
  del.title = 'Remove this step';
  del.setAttribute('aria-label', 'Remove this step');
  del.addEventListener('click', () => {
    li.remove();
    numberSteps();
  });
  li.append(n, sel, input, del);
  ol.appendChild(li);
  numberSteps();
}

function numberSteps() {
  const steps = [...document.querySelectorAll('.ins-step')];
  steps.forEach((li, i) => {
    li.querySelector('.ins-step-n').textContent = String(i + 1);
    li.querySelector('.ins-step-remove').disabled = steps.length <= 1;
  });
}

function readSteps() {
  return [...document.querySelectorAll('.ins-step')].map((li) => ({
    kind: li.querySelector('.ins-step-kind').value,
    value: li.querySelector('.ins-step-value').value.trim(),
  }));
}

function stepName(s) {
  const kind = STEP_KINDS.find(([k]) => k === s.kind);
  return `${kind ? kind[1] : s.kind} “${s.value}”`;
}

function idsLink(ids, text, cls) {
  const a = document.createElement('a');
  a.className = cls;
  a.textContent = text;
  if (ids && ids.length) a.href = `/?ids=${ids.join(',')}`;
  else a.setAttribute('aria-disabled', 'true');
  return a;
}

async function runFunnel() {
  const steps = readSteps();
  const chart = $('ins-funnel-chart');
  if (steps.some((s) => !s.value)) {
    chart.textContent = 'Every step needs a value.';
    return;
  }
  document.body.dataset.insFunnel = 'loading';
  const body = {
    steps: steps.map((s) => ({ [s.kind]: s.value })),
    filters: filters.values(),
  };
  const within = $('ins-within').value;
  if (within) body.within_ms = Number(within);
  const res = await api('/api/v1/insights/funnel', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  state.funnel = res;
  const counts = (res.steps || []).map((s) => s.sessions || 0);
  const first = counts[0] || 0;
  chart.replaceChildren();
  const overall = document.createElement('p');
  overall.className = 'ins-funnel-overall';
  overall.textContent = first
    ? `${fmtPct(counts[counts.length - 1], first)} of ${plural(first, 'session')} completed all ${plural(
        counts.length,
        'step',
      )}.`
    : 'No session in this segment did the first step.';
  chart.appendChild(overall);
  const row = document.createElement('div');
  row.className = 'ins-funnel-row';
  (res.steps || []).forEach((s, i) => {
    if (i > 0) {
      const drop = document.createElement('div');
      drop.className = 'ins-drop';
      const lost = counts[i - 1] - counts[i];
      const conv = document.createElement('span');
      conv.className = 'ins-drop-conv';
      conv.textContent = `→ ${fmtPct(counts[i], counts[i - 1])}`;
      const link = idsLink(s.dropped_ids, `${lost} dropped`, 'ins-dropoff');
      link.dataset.step = String(i);
      link.title = `Open the sessions that did step ${i} and not step ${i + 1}`;
      const pct = document.createElement('span');
      pct.className = 'ins-drop-pct';
      pct.textContent = `${fmtPct(lost, counts[i - 1])} drop-off`;
      drop.append(conv, link, pct);
      row.appendChild(drop);
    }
    const col = document.createElement('div');
    col.className = 'ins-funnel-step';
    col.dataset.sessions = String(counts[i]);
    const num = document.createElement('div');
    num.className = 'ins-funnel-count';
    num.textContent = String(counts[i]);
    const pct = document.createElement('div');
    pct.className = 'ins-funnel-pct';
    pct.textContent = i === 0 ? 'sessions' : `${fmtPct(counts[i], first)} of step 1`;
    const track = document.createElement('div');
    track.className = 'ins-funnel-track';
    const bar = document.createElement('div');
    bar.className = 'ins-funnel-bar';
    bar.style.height = first ? `${(100 * counts[i]) / first}%` : '0';
    track.appendChild(bar);
    const label = document.createElement('div');
    label.className = 'ins-funnel-label';
    label.textContent = `${i + 1}. ${stepName(steps[i] || { kind: '', value: '' })}`;
    const open = idsLink(s.session_ids, 'Sessions', 'ins-funnel-sessions');
    col.append(num, pct, track, label, open);
    row.appendChild(col);
  });
  chart.appendChild(row);
  document.body.dataset.insFunnel = 'ready';
}

// ---------------------------------------------------------------------
// Wiring

async function refresh() {
  const n = filters.countMore();
  moreCount.textContent = String(n);
  moreCount.hidden = n === 0;
  saveAddress();
  try {
    showStatus('', false);
    if (state.view === 'heatmap' || state.view === 'scroll') await refreshPage();
    else if (state.view === 'frustration') await refreshFrustration();
    else if (state.view === 'funnel' && state.funnel) await runFunnel();
  } catch (err) {
    showStatus(`Could not load insights: ${err.message}`, true);
    document.body.dataset.insPage = 'error';
  }
}

for (const tab of document.querySelectorAll('.ins-tabs [role=tab]')) {
  tab.addEventListener('click', () => {
    const before = state.view;
    showView(tab.dataset.view);
    const pageViews = ['heatmap', 'scroll'];
    // The heatmap and the scroll map share one frame and one answer.
    if (!(pageViews.includes(before) && pageViews.includes(state.view))) refresh();
  });
}
urlInput.addEventListener('change', () => {
  state.url = urlInput.value.trim();
  refresh();
});
widthSelect.addEventListener('change', () => {
  state.width = Number(widthSelect.value) || 1280;
  refresh();
});
frameSelect.addEventListener('change', async () => {
  try {
    await loadFrame(frameSelect.value, state.url);
    await refresh();
  } catch (err) {
    showStatus(`Could not replay that session: ${err.message}`, true);
  }
});
$('ins-show-dots').addEventListener('change', () => {
  if (state.frameWidth) drawOverlay(state.frameWidth, parseFloat(canvasBox.style.height) || 720);
});
window.addEventListener('resize', () => {
  if (state.frameId && !$('ins-page').hidden) layoutFrame();
});
moreToggle.addEventListener('click', () => {
  moreFilters.hidden = !moreFilters.hidden;
  moreToggle.setAttribute('aria-expanded', String(!moreFilters.hidden));
});
$('reel-search').addEventListener('submit', (e) => {
  e.preventDefault();
  refresh();
});
$('ins-add-step').addEventListener('click', () => addStep('url', ''));
$('ins-funnel-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  try {
    showStatus('', false);
    await runFunnel();
  } catch (err) {
    $('ins-funnel-chart').textContent = `Could not compute the funnel: ${err.message}`;
    document.body.dataset.insFunnel = 'error';
  }
});

wireSegments(
  {
    select: $('reel-segment'),
    toggle: $('reel-segment-save'),
    form: $('reel-segment-form'),
    name: $('reel-segment-name'),
    remove: $('reel-segment-delete'),
    note: $('reel-segment-note'),
  },
  filters,
  () => {
    if (filters.countMore()) moreFilters.hidden = false;
    refresh();
  },
);

/** For tests and the curious: what the page placed and computed. */
window.reelInsights = {
  state: () => ({
    view: state.view,
    url: state.url,
    width: state.width,
    frame: state.frameId,
    placed: state.placed,
    clicks: state.clicks,
    scroll: state.scroll,
    funnel: state.funnel,
  }),
};

async function start() {
  const q = new URLSearchParams(location.search);
  filters.set(fromQuery(location.search, filters.keys()));
  if (filters.countMore()) {
    moreFilters.hidden = false;
    moreToggle.setAttribute('aria-expanded', 'true');
  }
  const width = Number(q.get('width'));
  if ([...widthSelect.options].some((o) => Number(o.value) === width)) {
    widthSelect.value = String(width);
    state.width = width;
  }
  const view = q.get('view');
  showView(['heatmap', 'scroll', 'funnel', 'frustration'].includes(view) ? view : 'heatmap');
  let pages = [];
  try {
    pages = await loadPages();
  } catch (err) {
    showStatus(`Could not list the recorded pages: ${err.message}`, true);
  }
  state.url = q.get('page') || (pages[0] && pages[0][0]) || '';
  urlInput.value = state.url;
  addStep('url', pages[0] ? pageOf(pages[0][0]) : '');
  addStep('url', pages[1] ? pageOf(pages[1][0]) : '');
  await refresh();
}

start();
