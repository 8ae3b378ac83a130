// What support staff use beside the replay (issue 17): the drawer under the
// stage with the Network panel (a waterfall; failed requests marked and
// filterable), the errors with their stacks, the comments (listed, added
// at the playhead, shown on the timeline), the details of a selected row,
// and the Share button. Plain JS on window.reelPlayer and the API, like
// controls.js, whose virtual lists the network and error panels reuse.
//
// A shared replay (opened with ?share=TOKEN, no sign-in) is read-only:
// no sharing, no new comments, no way back to the sessions list.

import { addPanel, fmt, PANEL, refresh } from '/player/controls.js';

const sessionId = (location.pathname.match(/\/sessions\/([0-9a-f]{32})/) || [])[1] || '';
const shared = new URLSearchParams(location.search).has('share');
const api = (path) => `/api/v1/sessions/${sessionId}${path}`;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text; // recorded text: never as HTML
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function duration(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/// The error of a failed API call, from its JSON body where there is one.
async function failure(res) {
  try {
    const j = await res.json();
    if (j && j.error) return j.error;
  } catch (_) {
    /* not JSON */
  }
  return `the server answered ${res.status}`;
}

// --- The drawer: tabs, panes and the details of the selected row ---------

const drawer = {
  open: null,
  select(name) {
    const body = document.getElementById('reel-drawer-body');
    if (!body) return;
    const open = this.open === name ? null : name;
    this.open = open;
    body.hidden = open === null;
    for (const tab of document.querySelectorAll('#reel-drawer [role=tab]')) {
      const on = tab.dataset.pane === open;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.classList.toggle('reel-on', on);
    }
    for (const pane of document.querySelectorAll('#reel-drawer .reel-pane')) {
      pane.hidden = pane.dataset.pane !== open;
    }
    showDetail(null);
    // The lists were laid out while hidden (no height): again, now.
    window.dispatchEvent(new Event('resize'));
  },
};

/// Shows `detail` (a title and [label, text] sections) beside the pane, or
/// hides the box for null.
function showDetail(detail) {
  const box = document.getElementById('reel-detail');
  if (!box) return;
  box.replaceChildren();
  box.hidden = !detail;
  if (!detail) return;
  const head = el('div', 'reel-detail-head');
  head.append(el('strong', 'reel-detail-title', detail.title));
  const close = el('button', 'reel-detail-close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Close the details');
  close.addEventListener('click', () => showDetail(null));
  head.append(close);
  box.append(head);
  for (const [label, text] of detail.sections) {
    if (text === null || text === undefined || text === '') continue;
    box.append(el('h3', '', label), el('pre', '', text));
  }
  if (detail.note) box.append(el('p', 'reel-detail-note', detail.note));
}

function headers(list) {
  return (list || []).map(([k, v]) => `${k}: ${v}`).join('\n');
}

function networkDetail(d) {
  const failed = d.status === 0 || d.status >= 400;
  const summary = [
    `${d.method} ${d.url}`,
    `${d.kind}, status ${d.status || 'failed'}${d.failure ? ` (${d.failure})` : ''}`,
    `took ${duration(d.duration_ms)}, started at ${fmt(d.start)}`,
    [
      d.request_bytes != null ? `sent ${bytes(d.request_bytes)}` : '',
      d.response_bytes != null ? `received ${bytes(d.response_bytes)}` : '',
    ]
      .filter(Boolean)
      .join(', '),
  ]
    .filter(Boolean)
    .join('\n');
  const captured =
    d.request_headers.length || d.response_headers.length || d.request_body != null || d.response_body != null;
  return {
    title: failed ? 'Failed request' : 'Request',
    sections: [
      ['Summary', summary],
      ['Request headers', headers(d.request_headers)],
      ['Request body', d.request_body],
      ['Response headers', headers(d.response_headers)],
      ['Response body', d.response_body],
    ],
    note: captured
      ? null
      : "Headers and bodies are recorded only for URLs listed in the recorder's networkDetailUrls option.",
  };
}

function errorDetail(d) {
  return {
    title: d.kind === 'unhandled_rejection' ? 'Unhandled rejection' : 'Error',
    sections: [
      ['Message', d.message],
      ['Source', d.source],
      ['Stack', d.stack || 'No stack was recorded.'],
    ],
  };
}

function selectRow(state, b) {
  for (const other of state.list.querySelectorAll('button.reel-selected')) {
    other.classList.remove('reel-selected');
  }
  b.classList.add('reel-selected');
}

// --- Network: a waterfall row per request ---------------------------------

function networkRow(p, e, i, generation, state) {
  const n = e.net;
  const failed = n.status === 0 || n.status >= 400;
  const li = el('li', `reel-entry reel-net${failed ? ' reel-net-failed' : ''}`);
  li.dataset.generation = String(generation);
  const b = el('button');
  b.type = 'button';
  b.dataset.t = String(e.t);
  b.dataset.row = String(i);
  b.title = `${n.method} ${n.url}`;
  const d = Math.max(1, p.duration());
  const bar = el('span', 'reel-net-bar');
  bar.style.left = `${(n.start / d) * 100}%`;
  bar.style.width = `max(2px, ${(n.duration_ms / d) * 100}%)`;
  const track = el('span', 'reel-net-track');
  track.append(bar);
  b.append(
    el('span', 'reel-entry-time', fmt(n.start)),
    el('span', 'reel-net-status', n.status ? String(n.status) : 'failed'),
    el('span', 'reel-net-method', n.method),
    el('span', 'reel-net-url', n.url),
    el('span', 'reel-net-kind', n.kind),
    el('span', 'reel-net-duration', duration(n.duration_ms)),
    el('span', 'reel-net-size', bytes(n.response_bytes)),
    track,
  );
  if (failed) b.setAttribute('aria-label', `failed: ${n.method} ${n.url}`);
  // Seeks to when the request settled: what the page did with the answer.
  b.addEventListener('click', () => {
    p.seek(e.t);
    selectRow(state, b);
    const detail = p.detail(state.which, i);
    if (detail) showDetail(networkDetail(detail));
  });
  li.append(b);
  return li;
}

function errorRow(p, e, i, generation, state) {
  const li = el('li', 'reel-entry reel-entry-error');
  li.dataset.generation = String(generation);
  const b = el('button');
  b.type = 'button';
  b.dataset.t = String(e.t);
  b.dataset.row = String(i);
  b.title = e.text;
  b.append(el('span', 'reel-entry-time', fmt(e.t)), el('span', 'reel-entry-text', e.text));
  if (e.detail) b.append(el('span', 'reel-entry-badge', 'stack'));
  b.addEventListener('click', () => {
    p.seek(e.t);
    selectRow(state, b);
    const detail = p.detail(state.which, i);
    if (detail) showDetail(errorDetail(detail));
  });
  li.append(b);
  return li;
}

function counts(p) {
  const set = (id, text) => {
    const c = document.getElementById(id);
    if (c) c.textContent = text;
  };
  const requests = p.rowCount(PANEL.network);
  const failed = p.rowCount(PANEL.networkFailed);
  set('reel-network-count', requests ? `${requests}${failed ? ` · ${failed} failed` : ''}` : '');
  const errors = p.rowCount(PANEL.errors);
  set('reel-errors-count', errors ? String(errors) : '');
}

// --- Comments -------------------------------------------------------------

let comments = [];

function drawComments(p) {
  const list = document.getElementById('reel-comments');
  if (!list) return;
  list.replaceChildren();
  for (const c of comments) {
    const li = el('li', 'reel-comment');
    const b = el('button');
    b.type = 'button';
    b.dataset.t = String(c.t);
    b.append(
      el('span', 'reel-entry-time', fmt(c.t)),
      el('span', 'reel-comment-author', c.author),
      el('span', 'reel-comment-text', c.text),
    );
    b.title = `${c.author}, ${new Date(c.at).toLocaleString()}`;
    b.addEventListener('click', () => p.seek(c.t));
    li.append(b);
    list.append(li);
  }
  const empty = document.getElementById('reel-comments-empty');
  if (empty) empty.hidden = comments.length > 0;
  const count = document.getElementById('reel-comments-count');
  if (count) count.textContent = comments.length ? String(comments.length) : '';
  p.setComments(comments.map((c) => ({ t: c.t, text: `${c.author}: ${c.text}` })));
}

async function fetchComments() {
  const res = await fetch(api('/comments'), { credentials: 'same-origin' });
  if (!res.ok) throw new Error(await failure(res));
  return (await res.json()).comments || [];
}

async function loadComments(p) {
  comments = await fetchComments();
  drawComments(p);
}

/// Fetches the comments while the session loads, and shows them the moment
/// it has (if they are in by then: within the same `ready` callback, so
/// whoever awaits `ready` after this sees their markers).
function commentsOnReady(p) {
  const sayFailed = (err) => {
    const note = document.getElementById('reel-comment-note');
    if (note) note.textContent = `Comments could not be loaded: ${err.message || err}`;
  };
  let got = null;
  const early = fetchComments().then((list) => {
    got = list;
    return list;
  });
  early.catch(() => {});
  // A session that fails to load says so itself: nothing to add here.
  p.ready.then(
    () => {
      if (got) {
        comments = got;
        drawComments(p);
        return;
      }
      early.then((list) => {
        comments = list;
        drawComments(p);
      }, sayFailed);
    },
    () => {},
  );
}

function wireCommentForm(p) {
  const form = document.getElementById('reel-comment-form');
  const text = document.getElementById('reel-comment-text');
  const at = document.getElementById('reel-comment-at');
  const note = document.getElementById('reel-comment-note');
  if (!form || !text) return;
  if (shared) {
    form.hidden = true;
    return;
  }
  // The button says where the comment goes: the playhead, kept current.
  setInterval(() => {
    if (at) at.textContent = fmt(p.currentTime());
  }, 250);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const t = Math.floor(p.currentTime());
    const body = JSON.stringify({ t, text: text.value });
    if (note) note.textContent = '';
    const res = await fetch(api('/comments'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (!res.ok) {
      if (note) note.textContent = await failure(res);
      return;
    }
    text.value = '';
    await loadComments(p);
  });
}

// --- Share ----------------------------------------------------------------

function wireShare() {
  const button = document.getElementById('reel-share-button');
  const box = document.getElementById('reel-share');
  if (!button || !box) return;
  if (shared) {
    button.hidden = true;
    return;
  }
  const create = document.getElementById('reel-share-create');
  const expiry = document.getElementById('reel-share-expiry');
  const out = document.getElementById('reel-share-url');
  const made = document.getElementById('reel-share-made');
  const copy = document.getElementById('reel-share-copy');
  const revoke = document.getElementById('reel-share-revoke');
  const note = document.getElementById('reel-share-note');
  let token = null;
  let tokenId = null;
  const say = (text) => {
    if (note) note.textContent = text;
  };
  // Every live link of the session (made here or earlier, by anyone), each
  // revocable by its id: a token is shown once, when it is made.
  const revokeBy = async (tokenOrId) => {
    const res = await fetch(`/api/v1/shares/${tokenOrId}`, { method: 'DELETE', credentials: 'same-origin' });
    if (!res.ok) {
      say(await failure(res));
      return false;
    }
    say('The link was revoked: it opens nothing any more.');
    return true;
  };
  const listLinks = async () => {
    const active = document.getElementById('reel-share-active');
    const list = document.getElementById('reel-share-list');
    if (!active || !list) return;
    const res = await fetch(api('/shares'), { credentials: 'same-origin' });
    if (!res.ok) return;
    const links = (await res.json()).shares || [];
    list.replaceChildren();
    for (const l of links) {
      const li = el('li');
      li.dataset.id = l.id;
      const until = new Date(l.expires_at).toLocaleString();
      const b = el('button', 'reel-danger', 'Revoke');
      b.type = 'button';
      b.addEventListener('click', async () => {
        if (await revokeBy(l.id)) {
          if (l.id === tokenId) {
            token = null;
            out.value = '';
            made.hidden = true;
          }
          await listLinks();
        }
      });
      li.append(el('span', '', `until ${until}, by ${l.created_by}`), b);
      list.append(li);
    }
    active.hidden = links.length === 0;
  };
  button.addEventListener('click', () => {
    box.hidden = !box.hidden;
    button.setAttribute('aria-expanded', box.hidden ? 'false' : 'true');
    if (!box.hidden) listLinks();
  });
  create.addEventListener('click', async () => {
    say('');
    const res = await fetch(api('/shares'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ expires_in_s: Number(expiry.value) }),
    });
    if (!res.ok) {
      say(await failure(res));
      return;
    }
    const link = await res.json();
    token = link.token;
    tokenId = link.id;
    out.value = link.url;
    made.hidden = false;
    say(
      `Anyone with this link can watch this session, and nothing else, until ${new Date(link.expires_at).toLocaleString()}.`,
    );
    out.focus();
    out.select();
    await listLinks();
  });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(out.value);
      say('Link copied.');
    } catch (_) {
      out.select();
      say('Select the link and copy it.');
    }
  });
  revoke.addEventListener('click', async () => {
    if (!token || !(await revokeBy(token))) return;
    token = null;
    out.value = '';
    made.hidden = true;
    await listLinks();
  });
}

// --- Wiring -----------------------------------------------------------------

export function wireSupport() {
  const p = window.reelPlayer;
  if (!p) return;
  if (shared) {
    document.body.classList.add('reel-shared');
    const back = document.querySelector('.reel-back');
    if (back) back.hidden = true;
  }
  for (const tab of document.querySelectorAll('#reel-drawer [role=tab]')) {
    tab.addEventListener('click', () => drawer.select(tab.dataset.pane));
  }
  const network = addPanel(p, 'reel-network', PANEL.network, networkRow);
  addPanel(p, 'reel-errors', PANEL.errors, errorRow);
  const failedOnly = document.getElementById('reel-network-failed');
  if (failedOnly && network) {
    failedOnly.addEventListener('change', () => {
      network.which = failedOnly.checked ? PANEL.networkFailed : PANEL.network;
      network.scroller.scrollTop = 0;
      showDetail(null);
      refresh(network);
    });
  }
  window.addEventListener('reel:timeline', () => counts(p));
  counts(p);
  wireCommentForm(p);
  wireShare();
  commentsOnReady(p);
}
