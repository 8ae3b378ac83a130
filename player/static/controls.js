// The player's chrome beyond the timeline: side panels (events, console;
// support.js adds network and errors on the same virtual lists), idle
// shading on the timeline, keyboard shortcuts and the "copy link" button. Plain JS on top of window.reelPlayer: none of it is on the
// replay's hot path, and keeping it out of the wasm keeps that small.
//
// Keyboard (when no form control has the focus):
//   Space          play / pause
//   ← / →          5 s back / forward
//   Shift+← / →    previous / next marker
//   1 2 3 4 5      speed 1×, 2×, 4×, 8×, 16×

const SPEEDS = [1, 2, 4, 8, 16];
const STEP_MS = 5000;

export function fmt(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  const h = Math.floor(s / 3600),
    m = Math.floor(s / 60) % 60,
    r = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

// The side panels are virtual: a session can have a million lines, and a
// million rows of DOM freeze the tab. Each list holds only the rows in view
// (plus a margin), all ROW_H tall; padding above and below stands for the
// rest, so the scrollbar and scrolling behave as if every row were there.
// A row is rebuilt only when it comes into view (a focused row stays while
// it is in view), and the lines come from the wasm a window at a time.
const ROW_H = 24;
const MARGIN_ROWS = 20;
// Chromium lays out at most ~33M px: past this, a scroll position maps to
// rows proportionally instead of 1:1.
const MAX_PX = 16_000_000;

const panels = [];
let builtins = false;

// Which list a panel shows, as reelPlayer.rowCount/rows/rowsUntil take it.
export const PANEL = { events: 0, console: 1, network: 2, networkFailed: 3, errors: 4 };

/// A virtual list of panel `which`'s lines in `<ol id=id>`, each line made
/// by `makeRow(p, line, index, generation, state)`; redrawn with the others.
export function addPanel(p, id, which, makeRow) {
  const list = document.getElementById(id);
  if (!list) return null;
  // The list scrolls inside its parent, whose height the page sets: the
  // padding standing for the rows out of view is scrolled content there.
  const scroller = list.parentElement || list;
  const state = {
    p,
    list,
    scroller,
    which,
    makeRow: makeRow || entryRow,
    rows: new Map(),
    generation: 0,
    pending: false,
  };
  scroller.addEventListener('scroll', () => schedule(state), { passive: true });
  panels.push(state);
  return state;
}

/// Remakes every row of a panel (its lines changed, or which list it shows).
export function refresh(state) {
  state.generation += 1;
  layout(state);
}

function schedule(state) {
  if (state.pending) return;
  state.pending = true;
  requestAnimationFrame(() => {
    state.pending = false;
    layout(state);
  });
}

/// Which rows are in view: [first, end) and the padding above them.
function windowOf(state, n) {
  const { scroller } = state;
  const view = scroller.clientHeight || ROW_H * 20;
  const full = n * ROW_H;
  const total = Math.min(full, MAX_PX);
  const fit = Math.ceil(view / ROW_H);
  const top = Math.min(scroller.scrollTop, Math.max(0, total - view));
  let first;
  if (full === total) {
    first = Math.floor(top / ROW_H);
  } else {
    first = Math.floor((top / Math.max(1, total - view)) * Math.max(0, n - fit));
  }
  const from = Math.max(0, first - MARGIN_ROWS);
  const end = Math.min(n, first + fit + MARGIN_ROWS);
  const above = full === total ? from * ROW_H : Math.max(0, top - (first - from) * ROW_H);
  return { from, end, above, total };
}

function layout(state) {
  const { p, list, which } = state;
  const n = p.rowCount(which);
  const { from, end, above, total } = windowOf(state, n);
  const lines = end > from ? p.rows(which, from, end) || [] : [];
  const keep = new Map();
  const children = [];
  lines.forEach((e, k) => {
    const i = from + k;
    let li = state.rows.get(i);
    if (!li || li.dataset.generation !== String(state.generation)) {
      li = state.makeRow(p, e, i, state.generation, state);
    }
    keep.set(i, li);
    children.push(li);
  });
  // Keep the focused row's element if it stays in view (its focus too).
  const same = children.length === list.children.length && children.every((c, k) => list.children[k] === c);
  if (!same) {
    const focused = document.activeElement;
    list.replaceChildren(...children);
    if (focused && !focused.isConnected && focused.dataset && focused.dataset.row) {
      const again = keep.get(Number(focused.dataset.row));
      const b = again && again.querySelector('button');
      if (b) b.focus({ preventScroll: true });
    }
  }
  state.rows = keep;
  list.style.paddingTop = `${above}px`;
  list.style.paddingBottom = `${Math.max(0, total - above - children.length * ROW_H)}px`;
  highlight(state);
}

/// Marks the rows at or before the playhead ("past"), the last of them
/// "current".
function highlight(state) {
  const { p, list, which } = state;
  const until = p.rowsUntil(which, p.currentTime());
  for (const b of list.querySelectorAll('button[data-row]')) {
    const i = Number(b.dataset.row);
    b.classList.toggle('reel-past', i < until);
    b.classList.toggle('reel-current', i === until - 1);
  }
}

function entryRow(p, e, i, generation) {
  const li = document.createElement('li');
  li.className = `reel-entry reel-entry-${e.kind}`;
  li.dataset.generation = String(generation);
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.t = String(e.t);
  b.dataset.row = String(i);
  const time = document.createElement('span');
  time.className = 'reel-entry-time';
  time.textContent = fmt(e.t);
  const kind = document.createElement('span');
  kind.className = 'reel-entry-kind';
  kind.textContent = e.kind.replace('_', ' ');
  const text = document.createElement('span');
  text.className = 'reel-entry-text';
  text.textContent = e.text; // recorded text: never as HTML
  b.title = e.text;
  b.append(time, kind, text);
  b.addEventListener('click', () => p.seek(e.t));
  li.appendChild(b);
  return li;
}

function drawPanels(p) {
  if (!builtins) {
    builtins = true;
    addPanel(p, 'reel-events', PANEL.events);
    addPanel(p, 'reel-console', PANEL.console);
  }
  // The lines may have changed (a rebuilt timeline): rows are remade.
  for (const s of panels) refresh(s);
  const count = document.getElementById('reel-error-count');
  if (count) {
    const n = p.errorCount();
    count.textContent = n ? `${n} error${n > 1 ? 's' : ''}` : '';
  }
}

function drawIdle(p) {
  const layer = document.getElementById('reel-idle');
  if (!layer) return;
  const d = p.duration();
  layer.replaceChildren();
  if (!(d > 0)) return;
  for (const [from, to] of p.idle() || []) {
    const span = document.createElement('div');
    span.className = 'reel-idle-span';
    span.style.left = `${(from / d) * 100}%`;
    span.style.width = `${((to - from) / d) * 100}%`;
    span.title = `Inactive ${fmt(from)}–${fmt(to)}`;
    layer.appendChild(span);
  }
}

/// Highlights the panel lines at or before the playhead (the last one is
/// "current"), a few times a second.
function follow(p) {
  let last = -1;
  setInterval(() => {
    const t = p.currentTime();
    if (t === last) return;
    last = t;
    for (const s of panels) highlight(s);
  }, 250);
}

function linkAt(t) {
  const u = new URL(location.href);
  const share = u.searchParams.get('share');
  u.search = '';
  u.hash = '';
  // A shared replay's link keeps opening it for whoever has the share.
  if (share) u.searchParams.set('share', share);
  u.searchParams.set('t', String(Math.floor(t)));
  return u.toString();
}

async function copyLink(p) {
  const link = linkAt(p.currentTime());
  const note = document.getElementById('reel-copied');
  let ok = false;
  try {
    await navigator.clipboard.writeText(link);
    ok = true;
  } catch (_) {
    // No clipboard permission (or not a secure context): show the link so
    // it can be copied by hand.
  }
  if (note) {
    note.dataset.link = link;
    note.textContent = ok ? 'Link copied' : link;
    note.title = link;
  }
}

function inControl(target) {
  return target instanceof Element && target.closest('input, select, textarea, [contenteditable]') !== null;
}

function onKey(p, e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || inControl(e.target)) return;
  const t = p.currentTime();
  if (e.key === ' ' || e.code === 'Space') {
    e.preventDefault();
    if (p.playing()) p.pause();
    else p.play();
  } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    e.preventDefault();
    const forward = e.key === 'ArrowRight';
    if (e.shiftKey) {
      // Strictly after / before, with a little slack so that repeated
      // presses step marker by marker.
      const next = p.markerNear(t, forward);
      if (next !== null && next !== undefined) p.seek(next);
    } else {
      p.seek(Math.min(p.duration(), Math.max(0, t + (forward ? STEP_MS : -STEP_MS))));
    }
  } else if (/^[1-5]$/.test(e.key)) {
    e.preventDefault();
    p.setSpeed(SPEEDS[Number(e.key) - 1]);
  }
}

export function wire() {
  const p = window.reelPlayer;
  if (!p) return;
  const redraw = () => {
    drawPanels(p);
    drawIdle(p);
  };
  window.addEventListener('reel:timeline', redraw);
  window.addEventListener('resize', () => panels.forEach(schedule));
  redraw();
  follow(p);
  document.addEventListener('keydown', (e) => onKey(p, e));
  const copy = document.getElementById('reel-copy');
  if (copy) copy.addEventListener('click', () => copyLink(p));
}
