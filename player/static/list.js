// The sessions list. Plain JS: it only fetches JSON and builds a table.
// Requests are same-origin with the cookie set at sign-in.

const PAGE = 50;
const tbody = document.querySelector('#reel-sessions tbody');
const more = document.getElementById('reel-more');
const empty = document.getElementById('reel-empty');
const status = document.getElementById('reel-status');
const search = document.getElementById('reel-url');
const user = document.getElementById('reel-user');
const since = document.getElementById('reel-since');
const until = document.getElementById('reel-until');
const minDur = document.getElementById('reel-min');
const hasErrors = document.getElementById('reel-errors');
const rage = document.getElementById('reel-rage');

let cursor = null;
let generation = 0; // a newer search makes older responses moot

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
  cell(tr, String(urls.length), 'num');
  cell(tr, String(s.click_count ?? 0), 'num');
  const errors = cell(tr, String(s.error_count ?? 0), 'num');
  if (s.error_count > 0) errors.classList.add('reel-has-errors');
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

async function load(reset) {
  const mine = reset ? ++generation : generation;
  if (reset) cursor = null;
  const params = new URLSearchParams({ limit: String(PAGE) });
  const url = search.value.trim();
  if (url) params.set('url', url);
  if (user.value.trim()) params.set('user', user.value.trim());
  // datetime-local is local time without a zone; the API wants RFC 3339.
  const iso = (v) => {
    const d = new Date(v);
    return isNaN(d) ? null : d.toISOString();
  };
  if (since.value && iso(since.value)) params.set('since', iso(since.value));
  if (until.value && iso(until.value)) params.set('until', iso(until.value));
  const min = Number(minDur.value);
  if (minDur.value && min > 0) params.set('min_duration_ms', String(Math.round(min * 1000)));
  if (hasErrors.checked) params.set('has_errors', 'true');
  const filtered =
    url ||
    params.has('user') ||
    params.has('since') ||
    params.has('until') ||
    params.has('min_duration_ms') ||
    params.has('has_errors');
  if (!reset && cursor) params.set('cursor', cursor);
  more.disabled = true;
  try {
    const resp = await fetch(`/api/v1/sessions?${params}`, { credentials: 'same-origin' });
    if (resp.status === 401 || resp.status === 403) {
      showStatus('Your sign-in has expired. Reload the page to sign in again.', true);
      return;
    }
    if (!resp.ok) throw new Error(`the server answered ${resp.status}`);
    const body = await resp.json();
    if (mine !== generation) return;
    const items = Array.isArray(body) ? body : body.sessions || [];
    if (reset) tbody.replaceChildren();
    items.forEach(addRow);
    if (rage.checked) await markRage();
    cursor = Array.isArray(body) ? null : body.next_cursor || null;
    more.hidden = !cursor;
    empty.textContent = filtered || rage.checked ? 'No sessions match these filters.' : 'No sessions recorded yet.';
    empty.hidden = tbody.children.length > 0;
    showStatus('', false);
  } catch (err) {
    if (mine === generation) showStatus(`Could not load sessions: ${err.message}`, true);
  } finally {
    more.disabled = false;
  }
}

// Rage clicks are not in the session index: with the box ticked, each
// listed session's events are fetched and rows without 3+ clicks within a
// second in one spot are hidden. Client-side, so it only filters what is
// loaded (50 at a time), never the whole store.
async function markRage() {
  for (const tr of tbody.querySelectorAll('tr:not([data-rage])')) {
    const id = tr.dataset.id;
    let found;
    try {
      const resp = await fetch(`/api/v1/sessions/${encodeURIComponent(id)}/events`, { credentials: 'same-origin' });
      const events = resp.ok ? await resp.json() : [];
      const clicks = [];
      for (const e of events) {
        const m = e && e.data && e.data.Mouse;
        if (m && m.kind === 'Click') clicks.push([e.t, m.x, m.y]);
      }
      found = clicks.some(
        ([t, x, y], i) =>
          clicks.slice(i, i + 10).filter(([t2, x2, y2]) => t2 - t <= 1000 && Math.hypot(x2 - x, y2 - y) <= 30).length >=
          3,
      );
    } catch (_) {
      /* unknown: keep it visible */ found = true;
    }
    tr.dataset.rage = found ? 'yes' : 'no';
  }
  for (const tr of tbody.children) tr.hidden = rage.checked && tr.dataset.rage === 'no';
}

let timer = null;
for (const el of [search, user, minDur]) {
  el.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(true), 250);
  });
}
for (const el of [since, until, hasErrors]) el.addEventListener('change', () => load(true));
rage.addEventListener('change', async () => {
  if (rage.checked) await markRage();
  else for (const tr of tbody.children) tr.hidden = false;
});
document.getElementById('reel-search').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(timer);
  load(true);
});
more.addEventListener('click', () => load(false));

const initial = new URLSearchParams(location.search).get('url');
if (initial) search.value = initial;
load(true);
