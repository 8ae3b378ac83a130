// The player's chrome beyond the timeline: side panels (events, console),
// idle shading on the timeline, keyboard shortcuts and the "copy link"
// button. Plain JS on top of window.reelPlayer: none of it is on the
// replay's hot path, and keeping it out of the wasm keeps that small.
//
// Keyboard (when no form control has the focus):
//   Space          play / pause
//   ← / →          5 s back / forward
//   Shift+← / →    previous / next marker
//   1 2 3 4 5      speed 1×, 2×, 4×, 8×, 16×

const SPEEDS = [1, 2, 4, 8, 16];
const STEP_MS = 5000;

function fmt(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

function entryRow(p, e) {
  const li = document.createElement('li');
  li.className = `reel-entry reel-entry-${e.kind}`;
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.t = String(e.t);
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
  const entries = p.entries() || [];
  const events = document.getElementById('reel-events');
  const consoleList = document.getElementById('reel-console');
  if (events) events.replaceChildren(...entries.filter((e) => !e.console).map((e) => entryRow(p, e)));
  if (consoleList) consoleList.replaceChildren(...entries.filter((e) => e.console).map((e) => entryRow(p, e)));
  const count = document.getElementById('reel-error-count');
  if (count) {
    const n = entries.filter((e) => e.console && e.kind === 'error').length;
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
    for (const list of document.querySelectorAll('.reel-entries')) {
      let current = null;
      for (const b of list.querySelectorAll('button[data-t]')) {
        const past = Number(b.dataset.t) <= t;
        b.classList.toggle('reel-past', past);
        if (past) current = b;
        b.classList.remove('reel-current');
      }
      if (current) current.classList.add('reel-current');
    }
  }, 250);
}

function linkAt(t) {
  const u = new URL(location.href);
  u.search = '';
  u.hash = '';
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
  return target instanceof Element &&
    (target.closest('input, select, textarea, [contenteditable]') !== null);
}

function onKey(p, e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || inControl(e.target)) return;
  const t = p.currentTime();
  if (e.key === ' ' || e.code === 'Space') {
    e.preventDefault();
    if (p.playing()) p.pause(); else p.play();
  } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    e.preventDefault();
    const forward = e.key === 'ArrowRight';
    if (e.shiftKey) {
      const times = [...new Set((p.markers() || []).map((m) => m.t))].sort((a, b) => a - b);
      // Strictly after / before, with a little slack so that repeated
      // presses step marker by marker.
      const next = forward ? times.find((m) => m > t + 1) : times.reverse().find((m) => m < t - 1);
      if (next !== undefined) p.seek(next);
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
  const redraw = () => { drawPanels(p); drawIdle(p); };
  window.addEventListener('reel:timeline', redraw);
  redraw();
  follow(p);
  document.addEventListener('keydown', (e) => onKey(p, e));
  const copy = document.getElementById('reel-copy');
  if (copy) copy.addEventListener('click', () => copyLink(p));
}
