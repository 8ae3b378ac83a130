// The projects page (admins; contract §8): each site's ingest keys,
// allowed origins, sample rate, retention and privacy options. Plain JS
// over `/api/v1/projects`, same-origin with the sign-in cookie.

import { api, el, showStatus } from './admin-common.js';

const tbody = document.querySelector('#reel-projects tbody');
const form = document.getElementById('reel-project-form');
const title = document.getElementById('reel-form-title');
const submit = document.getElementById('p-submit');
const cancel = document.getElementById('p-cancel');
const $ = (id) => document.getElementById(id);

let editing = null; // the project being edited, or null for a new one

function privacyText(p) {
  const parts = [];
  if (p.mask_all_text) parts.push('all text masked');
  if (p.mask_text_selector) parts.push(`mask ${p.mask_text_selector}`);
  if (p.block_selector) parts.push(`block ${p.block_selector}`);
  if (p.require_consent) parts.push('consent required');
  return parts.join('; ') || 'recorder defaults';
}

function keyList(p) {
  const ul = el('ul', null, 'reel-keys');
  if (p.default) {
    ul.appendChild(el('li', 'the --ingest-key flags', 'reel-small'));
    return ul;
  }
  for (const k of p.ingest_keys || []) {
    const li = el('li');
    li.appendChild(el('span', k.key, k.revoked_at ? 'reel-key revoked' : 'reel-key'));
    if (!k.revoked_at) {
      const b = el('button', 'Revoke', 'reel-danger');
      b.type = 'button';
      b.addEventListener('click', () => revoke(p, k.key));
      li.appendChild(b);
    }
    ul.appendChild(li);
  }
  return ul;
}

function row(p) {
  const tr = el('tr');
  const name = el('td');
  name.appendChild(el('div', p.name));
  name.appendChild(el('div', p.id, 'reel-small reel-key'));
  tr.appendChild(name);
  tr.appendChild(el('td', p.default ? 'any (not checked)' : p.origins.join(', ') || 'any'));
  tr.appendChild(el('td', `${Math.round(p.sample_rate * 100)}%`, 'num'));
  tr.appendChild(el('td', p.retention_days == null ? 'server' : `${p.retention_days} d`, 'num'));
  tr.appendChild(el('td', privacyText(p.privacy || {})));
  const keys = el('td');
  keys.appendChild(keyList(p));
  tr.appendChild(keys);
  const actions = el('td', null, 'actions');
  const edit = el('button', 'Edit');
  edit.type = 'button';
  edit.addEventListener('click', () => startEdit(p));
  actions.appendChild(edit);
  if (!p.default) {
    const add = el('button', 'New key');
    add.type = 'button';
    add.addEventListener('click', () => newKey(p));
    actions.appendChild(add);
  }
  tr.appendChild(actions);
  return tr;
}

async function load() {
  try {
    const data = await api('GET', '/api/v1/projects');
    tbody.replaceChildren(...data.projects.map(row));
  } catch (e) {
    showStatus(`Could not load the projects: ${e.message}`, true);
  }
}

function startEdit(p) {
  editing = p;
  title.textContent = `Edit ${p.name}`;
  submit.textContent = 'Save';
  cancel.hidden = false;
  $('p-name').value = p.name;
  $('p-origins').value = p.origins.join('\n');
  $('p-origins').disabled = !!p.default;
  $('p-sample').value = p.sample_rate;
  $('p-retention').value = p.retention_days ?? '';
  const pr = p.privacy || {};
  $('p-mask-sel').value = pr.mask_text_selector || '';
  $('p-block-sel').value = pr.block_selector || '';
  $('p-mask-all').checked = !!pr.mask_all_text;
  $('p-consent').checked = !!pr.require_consent;
  $('p-name').focus();
}

function resetForm() {
  editing = null;
  form.reset();
  $('p-origins').disabled = false;
  title.textContent = 'New project';
  submit.textContent = 'Create project';
  cancel.hidden = true;
}

function formBody() {
  const text = (id) => $(id).value.trim() || null;
  const retention = $('p-retention').value.trim();
  const body = {
    name: $('p-name').value.trim(),
    sample_rate: Number($('p-sample').value),
    retention_days: retention ? Number(retention) : null,
    privacy: {
      mask_all_text: $('p-mask-all').checked || null,
      mask_text_selector: text('p-mask-sel'),
      block_selector: text('p-block-sel'),
      require_consent: $('p-consent').checked || null,
    },
  };
  if (!editing || !editing.default) {
    body.origins = $('p-origins')
      .value.split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return body;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    if (editing) {
      await api('PATCH', `/api/v1/projects/${encodeURIComponent(editing.id)}`, formBody());
      showStatus(`Saved ${$('p-name').value}.`);
    } else {
      const p = await api('POST', '/api/v1/projects', formBody());
      showStatus(`Created ${p.name}. Its ingest key: ${p.ingest_key}`);
    }
    resetForm();
    await load();
  } catch (e) {
    showStatus(e.message, true);
  }
});

cancel.addEventListener('click', resetForm);

async function newKey(p) {
  try {
    await api('POST', `/api/v1/projects/${encodeURIComponent(p.id)}/keys`);
    showStatus(`A new key for ${p.name}.`);
    await load();
  } catch (e) {
    showStatus(e.message, true);
  }
}

async function revoke(p, key) {
  if (!confirm(`Revoke this key of ${p.name}? Pages that use it stop being recorded.`)) return;
  try {
    await api('DELETE', `/api/v1/projects/${encodeURIComponent(p.id)}/keys/${encodeURIComponent(key)}`);
    showStatus(`Revoked a key of ${p.name}.`);
    await load();
  } catch (e) {
    showStatus(e.message, true);
  }
}

load();
