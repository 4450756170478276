// The web view's entry: who is signed in, the header, the router and the
// login page. Pages are functions (main, params) → dispose.

import { h, tick, errorBox } from './dom.js';
import { getJSON, postJSON, onUnauthorized, setPageKey, HTTPError } from './api.js';
import { overviewPage } from './pages/overview.js';
import { jobPage } from './pages/job.js';
import { cronJobPage } from './pages/cronjob.js';
import { nodesPage, nodePage } from './pages/node.js';

const main = document.getElementById('main');
const header = document.getElementById('top');
let dispose = null;
let me = null;

const routes = [
  [/^\/ui\/?$/, () => overviewPage],
  [/^\/ui\/jobs\/([^/]+)\/([^/]+)$/, (m) => (el) => jobPage(el, { ns: m[1], name: m[2] })],
  [/^\/ui\/cronjobs\/([^/]+)\/([^/]+)$/, (m) => (el) => cronJobPage(el, { ns: m[1], name: m[2] })],
  [/^\/ui\/nodes\/?$/, () => nodesPage],
  [/^\/ui\/nodes\/([^/]+)$/, (m) => (el) => nodePage(el, { name: m[1] })],
];

function route() {
  dispose?.();
  dispose = null;
  const path = location.pathname;
  if (path === '/ui/login') {
    history.replaceState(null, '', '/ui/');
    return route();
  }
  main.replaceChildren();
  markNav(path);
  for (const [re, page] of routes) {
    const m = re.exec(path);
    if (m) {
      const decoded = [m[0], ...m.slice(1).map(decodeURIComponent)];
      dispose = page(decoded)(main) || null;
      return;
    }
  }
  main.append(h('h1', null, 'Not found'), h('p', null, 'No page here. ', h('a', { href: '/ui/', 'data-link': true }, 'Back to the overview.')));
}

export function navigate(href) {
  history.pushState(null, '', href);
  route();
  window.scrollTo(0, 0);
}

function markNav(path) {
  for (const a of header.querySelectorAll('nav a')) {
    const target = a.getAttribute('href');
    a.classList.toggle('current', target === '/ui/' ? path === '/ui/' || path.startsWith('/ui/jobs') || path.startsWith('/ui/cronjobs') : path.startsWith(target));
  }
}

function drawHeader() {
  header.replaceChildren(
    h('a', { class: 'brand', href: '/ui/', 'data-link': true }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'batchd'),
    h('nav', null,
      h('a', { href: '/ui/', 'data-link': true }, 'Overview'),
      h('a', { href: '/ui/nodes', 'data-link': true }, 'Nodes')),
    h('span', { class: 'spacer' }),
    ...(me ? [
      h('span', { class: 'who', title: (me.groups || []).join(', ') }, me.user),
      h('button', { type: 'button', class: 'link-button', onclick: signOut }, 'Sign out')] : []),
  );
}

async function signOut() {
  try { await postJSON('/ui/api/logout', {}); } catch { /* signed out anyway */ }
  setPageKey(null);
  me = null;
  showLogin('Signed out.');
}

function showLogin(message, error) {
  dispose?.();
  dispose = null;
  me = null;
  drawHeader();
  header.querySelector('nav').hidden = true;
  const token = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const err = h('div', { class: 'login-error' });
  if (error) err.append(errorBox(error));
  const form = h('form', { class: 'login-form', id: 'login-form' },
    h('label', { for: 'token' }, 'Bearer token'),
    token,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.replaceChildren();
    try {
      await signIn({ token: token.value.trim() });
    } catch (x) {
      err.append(errorBox(x));
    }
  });
  main.replaceChildren(h('section', { class: 'card login', id: 'login' },
    h('h1', null, 'Sign in to batchd'),
    message ? h('p', { class: 'notice' }, message) : null,
    h('p', null, 'Run ', h('code', null, 'batchd ui'), ' on the machine (it uses your kubeconfig) and open the one-time link it prints, or paste a bearer token the API server accepts.'),
    form, err,
    h('p', { class: 'muted small' }, 'The view only reads, as you: what you see is what your identity may list and watch. Secrets are never read.')));
  token.focus();
}

async function signIn(body) {
  me = await postJSON('/ui/api/session', body);
  setPageKey(me.pageKey);
  delete me.pageKey;
  const next = sessionStorage.getItem('batchd-next') || '/ui/';
  sessionStorage.removeItem('batchd-next');
  history.replaceState(null, '', next);
  drawHeader();
  route();
}

async function boot() {
  onUnauthorized(() => {
    if (me) showLogin('Your session has ended (it expired, or the server restarted): sign in again.');
  });
  document.addEventListener('click', (e) => {
    const a = e.target.closest?.('a[data-link]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute('href'));
  });
  window.addEventListener('popstate', () => { if (me) route(); });
  setInterval(() => tick(main), 1000);

  const params = new URLSearchParams(location.search);
  const code = location.pathname === '/ui/login' ? params.get('code') : null;
  if (code) {
    // The code leaves the address bar at once; it works only once anyway.
    history.replaceState(null, '', '/ui/login');
    main.replaceChildren(h('p', { class: 'muted' }, 'Signing in…'));
    try {
      await signIn({ code });
    } catch (e) {
      showLogin(null, e);
    }
    return;
  }
  try {
    me = await getJSON('/ui/api/whoami');
  } catch (e) {
    if (!(e instanceof HTTPError) || e.status !== 401) throw e;
    if (location.pathname !== '/ui/' && location.pathname !== '/ui/login') sessionStorage.setItem('batchd-next', location.pathname);
    showLogin();
    return;
  }
  drawHeader();
  route();
}

boot().catch((e) => main.replaceChildren(errorBox(e)));
