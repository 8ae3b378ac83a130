// The sessions list. Plain JS: it only fetches JSON and builds a table.
// Requests are same-origin with the cookie set at sign-in. The filters
// (contract §6) and saved segments come from segments.js, shared with the
// insights page; `?ids=a,b,…` (a funnel's drop-off) lists those sessions.

import { buildFilters, fromQuery, wireSegments } from '/player/segments.js';

const PAGE = 50;
const tbody = document.querySelector('#reel-sessions tbody');
const more = document.getElementById('reel-more');
const empty = document.getElementById('reel-empty');
const status = document.getElementById('reel-status');
const moreFilters = document.getElementById('reel-filters-more');
const moreToggle = document.getElementById('reel-more-filters');
const moreCount = document.getElementById('reel-more-count');
const idsBar = document.getElementById('reel-ids');

let cursor = null;
let generation = 0; // a newer search makes older responses moot

// Session ids from a funnel's drop-off (at most 100, contract §6).
const ids = (new URLSearchParams(location.search).get('ids') || '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => /^[0-9a-f]{32}$/i.test(s))
  .slice(0, 100);

function showStatus(text, error) {
  status.textContent = text;
  status.className = error ? 'reel-status reel-error' : 'reel-status';
  status.hidden = !text;
}

function formatDuration(ms) {
  const s = Math.floor((ms || 0) / 1000);
  const h = Math.floor(s / 3600),
    m = Math.floor(s / 60) % 60,
    r = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

function formatDate(v) {
  const d = new Date(v);
  return isNaN(d) ? String(v ?? '') : d.toLocaleString();
}

function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function pill(text, cls, title) {
  const span = document.createElement('span');
  span.className = `reel-pill ${cls}`;
  span.textContent = text;
  if (title) span.title = title;
  return span;
}

const cap = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** Where the visit came from: a campaign, else the referrer's host. */
function source(s) {
  if (s.utm_source) return s.utm_source + (s.utm_medium ? ` / ${s.utm_medium}` : '');
  if (!s.referrer) return 'Direct';
  try {
    return new URL(s.referrer).host || s.referrer;
  } catch (_) {
    return s.referrer;
  }
}

function addRow(s) {
  const tr = document.createElement('tr');
  tr.dataset.id = s.id;
  const href = `/sessions/${encodeURIComponent(s.id)}`;
  const started = cell(tr, '');
  const link = document.createElement('a');
  link.href = href;
  link.textContent = formatDate(s.started_at);
  started.appendChild(link);
  cell(tr, formatDuration(s.duration_ms), 'num');
  const urls = Array.isArray(s.urls) ? s.urls : [];
  const first = cell(tr, urls[0] || '—', 'url');
  first.title = urls.join('\n');
  cell(tr, String(s.page_count ?? urls.length), 'num');
  cell(tr, String(s.click_count ?? 0), 'num');
  const errors = cell(tr, String(s.error_count ?? 0), 'num');
  if (s.error_count > 0) errors.classList.add('reel-has-errors');
  const signals = cell(tr, '', 'signals');
  for (const [n, text, cls] of [
    [s.rage_click_count, 'rage', 'reel-pill-rage'],
    [s.dead_click_count, 'dead', 'reel-pill-dead'],
    [s.error_click_count, 'error', 'reel-pill-error'],
  ]) {
    if (n > 0) signals.append(pill(`${n} ${text}`, cls, `${n} ${text} click${n === 1 ? '' : 's'}`), ' ');
  }
  if (!signals.childNodes.length) signals.textContent = '—';
  const device = cell(tr, cap(s.device) || '—', 'device');
  const sys = [s.browser, s.os].filter(Boolean).join(' · ');
  if (sys) {
    const small = document.createElement('small');
    small.textContent = sys;
    device.append(document.createElement('br'), small);
  }
  const src = cell(tr, source(s), 'source');
  src.title = [
    s.referrer && `referrer: ${s.referrer}`,
    s.utm_source && `utm_source: ${s.utm_source}`,
    s.utm_medium && `utm_medium: ${s.utm_medium}`,
    s.utm_campaign && `utm_campaign: ${s.utm_campaign}`,
  ]
    .filter(Boolean)
    .join('\n');
  const visitor = cell(tr, '', 'visitor');
  if (s.new_visitor === true) visitor.append(pill('New', 'reel-pill-new'));
  else if (s.new_visitor === false) visitor.append(pill('Returning', 'reel-pill-returning'));
  else visitor.textContent = '—';
  if (s.visitor_id) visitor.title = `visitor ${s.visitor_id}`;
  cell(tr, s.user_id || '—');
  const actions = cell(tr, '', 'actions');
  const open = document.createElement('a');
  open.href = href;
  open.textContent = 'Replay';
  open.className = 'reel-button';
  const del = document.createElement('button');
  del.type = 'button';
  del.textContent = 'Delete';
  del.className = 'reel-danger';
  del.addEventListener('click', () => remove(s.id, tr, del));
  actions.append(open, ' ', del);
  tbody.appendChild(tr);
}

async function remove(id, row, button) {
  if (!confirm(`Delete session ${id}? This cannot be undone.`)) return;
  button.disabled = true;
  try {
    const resp = await fetch(`/api/v1/sessions/${encodeURIComponent(id)}`, {
      method: 'DELETE',
      credentials: 'same-origin',
    });
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    row.remove();
    if (!tbody.children.length && more.hidden) empty.hidden = false;
  } catch (err) {
    button.disabled = false;
    showStatus(`Could not delete ${id}: ${err.message}`, true);
  }
}

const filters = buildFilters(document.getElementById('reel-filters-main'), moreFilters, {
  onChange: () => load(true),
});

function showMoreCount() {
  const n = filters.countMore();
  moreCount.textContent = String(n);
  moreCount.hidden = n === 0;
}

async function load(reset) {
  const mine = reset ? ++generation : generation;
  if (reset) cursor = null;
  showMoreCount();
  const set = filters.values();
  const params = new URLSearchParams({ limit: String(PAGE), ...set });
  if (ids.length) params.set('ids', ids.join(','));
  const filtered = Object.keys(set).length > 0;
  if (!reset && cursor) params.set('cursor', cursor);
  more.disabled = true;
  try {
    const resp = await fetch(`/api/v1/sessions?${params}`, { credentials: 'same-origin' });
    if (resp.status === 401 || resp.status === 403) {
      showStatus('Your sign-in has expired. Reload the page to sign in again.', true);
      return;
    }
    if (!resp.ok) {
      let msg = `the server answered ${resp.status}`;
      try {
        msg = (await resp.json()).error || msg;
      } catch (_) {}
      throw new Error(msg);
    }
    const body = await resp.json();
    if (mine !== generation) return;
    const items = Array.isArray(body) ? body : body.sessions || [];
    if (reset) tbody.replaceChildren();
    items.forEach(addRow);
    cursor = Array.isArray(body) ? null : body.next_cursor || null;
    more.hidden = !cursor;
    empty.textContent = filtered || ids.length ? 'No sessions match these filters.' : 'No sessions recorded yet.';
    empty.hidden = tbody.children.length > 0;
    showStatus('', false);
  } catch (err) {
    if (mine === generation) showStatus(`Could not load sessions: ${err.message}`, true);
  } finally {
    more.disabled = false;
  }
}

moreToggle.addEventListener('click', () => {
  moreFilters.hidden = !moreFilters.hidden;
  moreToggle.setAttribute('aria-expanded', String(!moreFilters.hidden));
});
document.getElementById('reel-search').addEventListener('submit', (e) => {
  e.preventDefault();
  load(true);
});
more.addEventListener('click', () => load(false));

wireSegments(
  {
    select: document.getElementById('reel-segment'),
    toggle: document.getElementById('reel-segment-save'),
    form: document.getElementById('reel-segment-form'),
    name: document.getElementById('reel-segment-name'),
    remove: document.getElementById('reel-segment-delete'),
    note: document.getElementById('reel-segment-note'),
  },
  filters,
  () => {
    if (filters.countMore()) moreFilters.hidden = false;
    load(true);
  },
);

// Filters in the address (`/?url=…&device=mobile`), as the insights page
// links here.
filters.set(fromQuery(location.search, filters.keys()));
if (filters.countMore()) {
  moreFilters.hidden = false;
  moreToggle.setAttribute('aria-expanded', 'true');
}
if (ids.length) {
  document.getElementById('reel-ids-text').textContent =
    `Showing the ${ids.length} session${ids.length === 1 ? '' : 's'} picked on the insights page.`;
  idsBar.hidden = false;
}
load(true);
