// The member's own account page: change their password
// (`POST /api/v1/account/password`, the current one required).

import { api, showStatus } from './admin-common.js';

const form = document.getElementById('reel-password-form');
const current = document.getElementById('p-current');
const fresh = document.getElementById('p-new');
const again = document.getElementById('p-again');

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  if (fresh.value !== again.value) {
    showStatus('The new passwords differ.', true);
    return;
  }
  try {
    const r = await api('POST', '/api/v1/account/password', {
      current_password: current.value,
      new_password: fresh.value,
    });
    form.reset();
    const n = r.signins_ended;
    showStatus(`Password changed. ${n} other sign-in${n === 1 ? '' : 's'} ended.`);
  } catch (err) {
    showStatus(err.message, true);
  }
});
