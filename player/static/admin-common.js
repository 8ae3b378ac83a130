// What the admin pages share: calling the API (same origin, with the
// sign-in cookie), building elements, the status line, dates.

const status = document.getElementById('reel-status');

export function showStatus(text, error) {
  status.textContent = text;
  status.className = error ? 'reel-status reel-error' : 'reel-status';
  status.hidden = !text;
}

// The response to an API call (`body` sent as JSON), or an Error saying
// why it failed: the server's `{"error": ...}`, else the status.
export async function request(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new Error(data.error || `${res.status} ${res.statusText}`);
  }
  return res;
}

// An API call's JSON answer (`{}` when it has none).
export async function api(method, path, body) {
  const res = await request(method, path, body);
  return res.json().catch(() => ({}));
}

export function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

export function button(text, onClick, cls) {
  const b = el('button', text, cls);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

export function when(rfc3339) {
  const d = new Date(rfc3339);
  return Number.isNaN(d.getTime()) ? rfc3339 : d.toLocaleString();
}

// Shows a secret once, with a copy button, in the box `box`.
export function showSecret(box, label, secret) {
  box.replaceChildren(el('span', label), el('code', secret));
  const copy = button('Copy', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = 'Copied';
    } catch {
      copy.textContent = 'Select and copy it';
    }
  });
  box.append(copy);
  box.hidden = false;
}
