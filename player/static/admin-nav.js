// The admin links in a page's nav, for admins only. The list comes from
// `GET /api/v1/auth/me` (`admin_pages`, the server's `ui::ADMIN_PAGES`), so
// a new admin page appears here without an edit to this file. Links a page
// already has are left alone; the current page is marked.

async function adminNav() {
  const nav = document.querySelector('.reel-nav');
  if (!nav) return;
  let me;
  try {
    const res = await fetch('/api/v1/auth/me', { credentials: 'same-origin' });
    if (!res.ok) return;
    me = await res.json();
  } catch {
    return;
  }
  const have = new Set([...nav.querySelectorAll('a')].map((a) => a.getAttribute('href')));
  for (const page of me.admin_pages || []) {
    if (have.has(page.href)) continue;
    const a = document.createElement('a');
    a.href = page.href;
    a.textContent = page.label;
    a.className = 'reel-nav-admin';
    if (location.pathname === page.href) a.setAttribute('aria-current', 'page');
    nav.append(a);
  }
  const who = document.getElementById('reel-me');
  if (who) {
    // Your own account (the password form) is one click away.
    const a = document.createElement('a');
    a.href = '/account';
    a.textContent = `${me.name} (${me.role})`;
    who.replaceChildren(a);
  }
  document.documentElement.dataset.reelRole = me.role;
}

adminNav();
