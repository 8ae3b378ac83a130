// The members page (admins; contract §8): add a member (the password is
// made by the server and shown once), change a role, give a new password,
// remove. Plain JS over `/api/v1/members`.

import { api, button, el, showSecret, showStatus, when } from './admin-common.js';

const tbody = document.querySelector('#reel-members tbody');
const empty = document.getElementById('reel-empty');
const secret = document.getElementById('reel-secret');
const ROLES = ['viewer', 'member', 'admin'];

function roleSelect(m) {
  const s = el('select');
  s.setAttribute('aria-label', `Role of ${m.email}`);
  for (const r of ROLES) {
    const o = el('option', r);
    o.value = r;
    o.selected = r === m.role;
    s.append(o);
  }
  s.addEventListener('change', async () => {
    try {
      await api('PATCH', `/api/v1/members/${encodeURIComponent(m.email)}`, { role: s.value });
      showStatus(`${m.email} is now a ${s.value}.`);
    } catch (e) {
      showStatus(e.message, true);
      s.value = m.role;
    }
  });
  return s;
}

function row(m) {
  const tr = el('tr');
  tr.dataset.email = m.email;
  const role = el('td');
  role.append(roleSelect(m));
  const actions = el('td');
  const box = el('div', null, 'reel-row-actions');
  box.append(
    button('New password', async () => {
      if (!confirm(`Give ${m.email} a new password? Their sign-ins end now.`)) return;
      try {
        const r = await api('POST', `/api/v1/members/${encodeURIComponent(m.email)}/password`);
        showSecret(secret, `New password for ${r.email} (shown once):`, r.password);
      } catch (e) {
        showStatus(e.message, true);
      }
    }),
    button(
      'Remove',
      async () => {
        if (!confirm(`Remove ${m.email}? Their sign-ins and tokens end now.`)) return;
        try {
          await api('DELETE', `/api/v1/members/${encodeURIComponent(m.email)}`);
          showStatus(`${m.email} removed.`);
          await load();
        } catch (e) {
          showStatus(e.message, true);
        }
      },
      'reel-danger',
    ),
  );
  actions.append(box);
  tr.append(el('td', m.email), role, el('td', when(m.created_at)), actions);
  return tr;
}

async function load() {
  try {
    const { members } = await api('GET', '/api/v1/members');
    tbody.replaceChildren(...members.map(row));
    empty.hidden = members.length > 0;
  } catch (e) {
    showStatus(e.message, true);
  }
}

document.getElementById('reel-member-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const email = document.getElementById('m-email');
  const role = document.getElementById('m-role');
  try {
    const r = await api('POST', '/api/v1/members', { email: email.value, role: role.value });
    showSecret(secret, `Password for ${r.email} (${r.role}), shown once:`, r.password);
    showStatus('');
    email.value = '';
    await load();
  } catch (e) {
    showStatus(e.message, true);
  }
});

load();
