// Segment filters (contract §6) and saved segments, shared by the sessions
// list and the insights page: one table of filters, the controls built
// from it, their values as the API's query parameters, and the saved
// segments (`/api/v1/segments`) that store and restore those values.

/**
 * Every filter the UI offers, in order. `key` is the API's query
 * parameter; `id` the control's element id (the list's older ids are kept
 * for whoever drives the page); `more` puts it behind "More filters".
 * Kinds: `text` (a substring or a name), `date` (RFC 3339 from a local
 * date and time), `seconds` (sent as milliseconds), `check` (`true` when
 * ticked), `select` (one of `options`, empty for any).
 */
export const FILTERS = [
  { key: 'url', id: 'reel-url', kind: 'text', label: 'URL contains…', aria: 'Filter by URL' },
  { key: 'user', id: 'reel-user', kind: 'text', label: 'User', aria: 'Filter by user' },
  { key: 'since', id: 'reel-since', kind: 'date', label: 'From', aria: 'Started after' },
  { key: 'until', id: 'reel-until', kind: 'date', label: 'To', aria: 'Started before' },
  { key: 'min_duration_ms', id: 'reel-min', kind: 'seconds', label: 'Min', aria: 'Minimum duration in seconds' },
  { key: 'has_errors', id: 'reel-errors', kind: 'check', label: 'Has errors' },
  {
    key: 'device',
    id: 'reel-device',
    kind: 'select',
    label: 'Device',
    more: true,
    options: [
      ['', 'Any device'],
      ['desktop', 'Desktop'],
      ['tablet', 'Tablet'],
      ['mobile', 'Mobile'],
    ],
  },
  { key: 'browser', id: 'reel-browser', kind: 'text', label: 'Browser', more: true, aria: 'Browser' },
  { key: 'os', id: 'reel-os', kind: 'text', label: 'OS', more: true, aria: 'Operating system' },
  { key: 'referrer', id: 'reel-referrer', kind: 'text', label: 'Referrer contains…', more: true, aria: 'Referrer' },
  { key: 'utm_source', id: 'reel-utm-source', kind: 'text', label: 'utm_source', more: true, aria: 'UTM source' },
  { key: 'visited', id: 'reel-visited', kind: 'text', label: 'Visited page…', more: true, aria: 'Visited a page' },
  { key: 'event', id: 'reel-event', kind: 'text', label: 'Custom event', more: true, aria: 'Custom event name' },
  {
    key: 'new_visitor',
    id: 'reel-new-visitor',
    kind: 'select',
    label: 'Visitor',
    more: true,
    options: [
      ['', 'New or returning'],
      ['true', 'New visitors'],
      ['false', 'Returning visitors'],
    ],
  },
  { key: 'visitor', id: 'reel-visitor', kind: 'text', label: 'Visitor id', more: true, aria: 'Visitor id' },
  { key: 'project', id: 'reel-project', kind: 'text', label: 'Project', more: true, aria: 'Project' },
  { key: 'has_rage_clicks', id: 'reel-rage', kind: 'check', label: 'Rage clicks' },
  { key: 'has_dead_clicks', id: 'reel-dead', kind: 'check', label: 'Dead clicks', more: true },
  { key: 'has_error_clicks', id: 'reel-error-clicks', kind: 'check', label: 'Error clicks', more: true },
];

/** The API's query parameters for `datetime-local` values (local time). */
function iso(v) {
  const d = new Date(v);
  return isNaN(d) ? null : d.toISOString();
}

/** `2026-12-04T10:30` for a `datetime-local` control, from RFC 3339. */
function localInput(v) {
  const d = new Date(v);
  if (isNaN(d)) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` + `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

function control(f) {
  let input;
  if (f.kind === 'select') {
    input = document.createElement('select');
    for (const [value, text] of f.options) {
      const o = document.createElement('option');
      o.value = value;
      o.textContent = text;
      input.appendChild(o);
    }
    input.setAttribute('aria-label', f.label);
  } else {
    input = document.createElement('input');
    if (f.kind === 'check') input.type = 'checkbox';
    else if (f.kind === 'date') input.type = 'datetime-local';
    else if (f.kind === 'seconds') {
      input.type = 'number';
      input.min = '0';
      input.step = '1';
      input.placeholder = 's';
    } else {
      input.type = 'search';
      input.placeholder = f.label;
      input.autocomplete = 'off';
    }
    if (f.aria) input.setAttribute('aria-label', f.aria);
  }
  input.id = f.id;
  input.dataset.filter = f.key;
  if (f.kind === 'check') {
    const label = document.createElement('label');
    label.append(input, ' ', f.label);
    return [label, input];
  }
  if (f.kind === 'date' || f.kind === 'seconds') {
    const label = document.createElement('label');
    label.append(f.label, ' ', input);
    if (f.kind === 'seconds') label.append(' s');
    return [label, input];
  }
  return [input, input];
}

/**
 * Builds the filter controls into `main` (the first filters) and `more`
 * (the rest, shown by the "More filters" toggle), leaving out `exclude`.
 * `onChange` runs after an edit (typing settles for 250 ms first).
 * Returns `{values, set, clear, count}`.
 */
export function buildFilters(main, more, { exclude = [], onChange }) {
  const inputs = new Map();
  let timer = null;
  const changed = (now) => {
    clearTimeout(timer);
    if (now) onChange();
    else timer = setTimeout(onChange, 250);
  };
  for (const f of FILTERS) {
    if (exclude.includes(f.key)) continue;
    const [wrap, input] = control(f);
    (f.more && more ? more : main).appendChild(wrap);
    inputs.set(f.key, [f, input]);
    if (f.kind === 'text' || f.kind === 'seconds') input.addEventListener('input', () => changed(false));
    else input.addEventListener('change', () => changed(true));
  }
  /** The filters set, as the API's query parameters (strings). */
  const values = () => {
    const out = {};
    for (const [key, [f, input]] of inputs) {
      if (f.kind === 'check') {
        if (input.checked) out[key] = 'true';
      } else if (f.kind === 'date') {
        const v = input.value && iso(input.value);
        if (v) out[key] = v;
      } else if (f.kind === 'seconds') {
        const n = Number(input.value);
        if (input.value && n > 0) out[key] = String(Math.round(n * 1000));
      } else {
        const v = input.value.trim();
        if (v) out[key] = v;
      }
    }
    return out;
  };
  /** Puts `vals` (query parameters, as `values` gives) in the controls;
   *  every other filter is cleared. Unknown keys are returned. */
  const set = (vals) => {
    const rest = {};
    for (const [k, v] of Object.entries(vals || {})) if (!inputs.has(k)) rest[k] = v;
    for (const [key, [f, input]] of inputs) {
      const v = vals && vals[key] != null ? String(vals[key]) : '';
      if (f.kind === 'check') input.checked = v === 'true';
      else if (f.kind === 'date') input.value = v ? localInput(v) : '';
      else if (f.kind === 'seconds') input.value = v ? String(Number(v) / 1000) : '';
      else input.value = v;
    }
    return rest;
  };
  /** How many of the filters behind "More filters" are set. */
  const countMore = () => {
    const v = values();
    return FILTERS.filter((f) => f.more && v[f.key] != null).length;
  };
  return { values, set, countMore, keys: () => [...inputs.keys()] };
}

/** Reads the filters in a page's query string (`?device=mobile&…`). */
export function fromQuery(search, keys) {
  const q = new URLSearchParams(search);
  const out = {};
  for (const k of keys) {
    const v = q.get(k);
    if (v != null && v !== '') out[k] = v;
  }
  return out;
}

async function api(path, init) {
  const resp = await fetch(path, { credentials: 'same-origin', ...init });
  if (!resp.ok) {
    let msg = `the server answered ${resp.status}`;
    try {
      const body = await resp.json();
      if (body && body.error) msg = body.error;
    } catch (_) {}
    const err = new Error(msg);
    err.status = resp.status;
    throw err;
  }
  return resp.status === 204 ? null : resp.json();
}

/**
 * Saved segments: a select to apply one, and a small form to save the
 * current filters under a name or delete the chosen one. `els`:
 * `{select, toggle, form, name, remove, note}`; `filters`: what
 * [`buildFilters`] returned; `onApply` runs after a segment is applied.
 */
export function wireSegments(els, filters, onApply) {
  let segments = [];
  const note = (text, error) => {
    els.note.textContent = text;
    els.note.classList.toggle('reel-error-text', !!error);
  };
  const fill = (chosen) => {
    els.select.replaceChildren();
    const none = document.createElement('option');
    none.value = '';
    none.textContent = segments.length ? 'Saved segments…' : 'No saved segments';
    els.select.appendChild(none);
    for (const s of segments) {
      const o = document.createElement('option');
      o.value = s.id;
      o.textContent = s.name;
      els.select.appendChild(o);
    }
    els.select.value = chosen || '';
    els.remove.disabled = !els.select.value;
  };
  const load = async (chosen) => {
    try {
      const body = await api('/api/v1/segments');
      segments = Array.isArray(body && body.segments) ? body.segments : [];
      fill(chosen);
    } catch (err) {
      fill('');
      els.select.disabled = true;
      els.select.title = `Saved segments are unavailable: ${err.message}`;
    }
  };
  els.select.addEventListener('change', () => {
    els.remove.disabled = !els.select.value;
    const s = segments.find((x) => x.id === els.select.value);
    if (!s) return;
    filters.set(s.filters || {});
    onApply(s);
  });
  els.toggle.addEventListener('click', () => {
    const open = els.form.hidden;
    els.form.hidden = !open;
    els.toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      note('', false);
      els.name.focus();
    }
  });
  els.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = els.name.value.trim();
    if (!name) return;
    try {
      const s = await api('/api/v1/segments', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, filters: filters.values() }),
      });
      els.name.value = '';
      els.form.hidden = true;
      els.toggle.setAttribute('aria-expanded', 'false');
      await load(s && s.id);
    } catch (err) {
      note(err.status === 403 ? 'Saving segments needs the member role.' : `Could not save: ${err.message}`, true);
    }
  });
  els.remove.addEventListener('click', async () => {
    const s = segments.find((x) => x.id === els.select.value);
    if (!s) return;
    try {
      await api(`/api/v1/segments/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      await load('');
    } catch (err) {
      els.select.title = `Could not delete: ${err.message}`;
    }
  });
  load('');
  return { reload: load };
}
