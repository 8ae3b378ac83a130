// Loads the player. The page's CSP allows no inline script, so this is the
// one entry point; the wasm module's start function does the rest (it sets
// up window.reelPlayer before loading the session).
import init from '/player/reel_player.js';
import { wire } from '/player/controls.js';

try {
  await init({ module_or_path: '/player/reel_player_bg.wasm' });
  wire();
} catch (err) {
  console.error('reel: the player could not start', err);
  const status = document.getElementById('reel-status');
  if (status) {
    status.textContent = 'The player could not start: ' + err;
    status.className = 'reel-status reel-error';
    status.hidden = false;
  }
}
