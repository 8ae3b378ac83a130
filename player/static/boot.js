// Loads the player. The page's CSP allows no inline script, so this is the
// one entry point; the wasm module's start function does the rest (it sets
// up window.reelPlayer before loading the session).
import init from '/player/reel_player.js';
import { wire } from '/player/controls.js';
import { wireSupport } from '/player/support.js';

// A trap in the wasm that runs no panic hook (running out of memory, say),
// or any other uncaught failure while the session loads, must not leave
// "Loading session…" on the page forever. (A panic is reported by the
// wasm's own hook, with its message; this does not overwrite it.)
function failed(reason) {
  const status = document.getElementById('reel-status');
  if (!status || status.classList.contains('reel-error')) return;
  const loading = !status.hidden && status.textContent.startsWith('Loading');
  if (!loading) return;
  const msg = reason && reason.message ? reason.message : String(reason);
  status.textContent = 'This session could not be replayed: ' + msg;
  status.className = 'reel-status reel-error';
  status.hidden = false;
}
window.addEventListener('error', (e) => failed(e.error || e.message));
window.addEventListener('unhandledrejection', (e) => failed(e.reason));

try {
  await init({ module_or_path: '/player/reel_player_bg.wasm' });
  wire();
  wireSupport();
} catch (err) {
  console.error('reel: the player could not start', err);
  const status = document.getElementById('reel-status');
  if (status) {
    status.textContent = 'The player could not start: ' + err;
    status.className = 'reel-status reel-error';
    status.hidden = false;
  }
}
