// The audit log page (admins; contract §8): who did what, when and from
// where, newest first, a page at a time. Plain JS over `/api/v1/audit`.

import { api, el, showStatus, when } from './admin-common.js';

const tbody = document.querySelector('#reel-audit tbody');
const empty = document.getElementById('reel-empty');
const more = document.getElementById('reel-more');
const since = document.getElementById('a-since');
let cursor = null;

function row(e) {
  const tr = el('tr');
  tr.dataset.action = e.action;
  const session = el('td');
  if (e.session_id) {
    const a = el('a', e.session_id.slice(0, 8), 'reel-mono');
    a.href = `/sessions/${e.session_id}`;
    a.title = e.session_id;
    session.append(a);
  }
  tr.append(
    el('td', when(e.at)),
    el('td', e.actor),
    el('td', e.action, 'reel-mono'),
    session,
    el('td', e.detail),
    el('td', e.address || '', 'reel-mono'),
  );
  return tr;
}

async function load(append) {
  const q = new URLSearchParams({ limit: '100' });
  if (since.value) q.set('since', new Date(since.value).toISOString());
  if (append && cursor) q.set('cursor', cursor);
  try {
    const r = await api('GET', `/api/v1/audit?${q}`);
    const rows = r.entries.map(row);
    if (append) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    cursor = r.next_cursor;
    more.hidden = !cursor;
    empty.hidden = tbody.children.length > 0;
  } catch (e) {
    showStatus(e.message, true);
  }
}

document.getElementById('reel-audit-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  load(false);
});
more.addEventListener('click', () => load(true));

load(false);
