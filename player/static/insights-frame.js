// Starts the player's wasm in the insights page's frame (see
// insights-frame.html). The wasm's start function reads `?session=`,
// loads that session and sets up `window.reelPlayer`.
import init from '/player/reel_player.js';

try {
  await init({ module_or_path: '/player/reel_player_bg.wasm' });
} catch (err) {
  window.reelFrameError = String((err && err.message) || err);
}
