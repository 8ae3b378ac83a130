// The personal API tokens page: make a token (shown once), list and revoke
// them. Admins see everyone's. Plain JS over `/api/v1/tokens`.

import { api, button, el, showSecret, showStatus, when } from './admin-common.js';

const tbody = document.querySelector('#reel-tokens tbody');
const empty = document.getElementById('reel-empty');
const secret = document.getElementById('reel-secret');

function row(t) {
  const tr = el('tr');
  tr.dataset.id = t.id;
  const actions = el('td');
  const box = el('div', null, 'reel-row-actions');
  box.append(
    button(
      'Revoke',
      async () => {
        if (!confirm(`Revoke "${t.name}"? Whatever uses it stops working now.`)) return;
        try {
          await api('DELETE', `/api/v1/tokens/${t.id}`);
          showStatus(`"${t.name}" revoked.`);
          await load();
        } catch (e) {
          showStatus(e.message, true);
        }
      },
      'reel-danger',
    ),
  );
  actions.append(box);
  tr.append(
    el('td', t.name),
    el('td', t.owner),
    el('td', t.role || 'none'),
    el('td', when(t.created_at)),
    el('td', t.id, 'reel-mono'),
    actions,
  );
  return tr;
}

async function load() {
  try {
    const { tokens } = await api('GET', '/api/v1/tokens');
    tbody.replaceChildren(...tokens.map(row));
    empty.hidden = tokens.length > 0;
  } catch (e) {
    showStatus(e.message, true);
  }
}

document.getElementById('reel-token-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = document.getElementById('t-name');
  try {
    const r = await api('POST', '/api/v1/tokens', { name: name.value });
    showSecret(secret, `Token "${r.name}" (${r.role}), shown once:`, r.token);
    showStatus('');
    name.value = '';
    await load();
  } catch (e) {
    showStatus(e.message, true);
  }
});

load();
