// The people page (contract §8): a recorded person's sessions (support),
// an export of everything held about them (access requests) and their
// erasure (admins). Plain JS over `/api/v1/people/{user_id}`.

import { request, showStatus } from './admin-common.js';

const form = document.getElementById('reel-person-form');
const input = document.getElementById('reel-user');
const exportBtn = document.getElementById('reel-export');
const eraseBtn = document.getElementById('reel-erase');
const table = document.getElementById('reel-person-sessions');
const tbody = table.querySelector('tbody');
const empty = document.getElementById('reel-empty');

let shown = null; // the user id whose sessions are listed

const path = (user, rest = '') => `/api/v1/people/${encodeURIComponent(user)}${rest}`;

function cell(tr, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function duration(ms) {
  const s = Math.floor((ms || 0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function show(user) {
  showStatus('');
  try {
    const data = await (await request('GET', path(user, '/sessions'))).json();
    shown = user;
    tbody.replaceChildren();
    for (const s of data.sessions) {
      const tr = document.createElement('tr');
      cell(tr, new Date(s.started_at).toLocaleString());
      cell(tr, duration(s.duration_ms), 'num');
      cell(tr, s.urls[0] || '', 'url');
      cell(tr, s.project || '');
      cell(tr, String(s.event_count), 'num');
      const a = document.createElement('a');
      a.href = `/sessions/${s.id}`;
      a.textContent = 'Watch';
      cell(tr, '', 'actions').appendChild(a);
      tbody.appendChild(tr);
    }
    table.hidden = data.sessions.length === 0;
    empty.hidden = data.sessions.length !== 0;
    exportBtn.disabled = eraseBtn.disabled = data.sessions.length === 0;
  } catch (e) {
    showStatus(e.message, true);
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const user = input.value.trim();
  if (user) show(user);
});

exportBtn.addEventListener('click', async () => {
  if (!shown) return;
  try {
    const blob = await (await request('GET', path(shown, '/export'))).blob();
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'reel-person-export.json';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    showStatus('Export downloaded.');
  } catch (e) {
    showStatus(e.message, true);
  }
});

eraseBtn.addEventListener('click', async () => {
  if (!shown) return;
  const typed = prompt(`This deletes every session of ${shown}, for good. Type the user id to confirm.`);
  if (typed !== shown) return;
  try {
    const data = await (await request('DELETE', path(shown))).json();
    showStatus(`Erased ${data.deleted_sessions} session(s).`);
    await show(shown);
  } catch (e) {
    showStatus(e.message, true);
  }
});

const initial = new URLSearchParams(location.search).get('user');
if (initial) {
  input.value = initial;
  show(initial);
}
