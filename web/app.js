// app.js: the page's entry point: the hash router (#/courses, #/course/ID, #/topic/ID, #/conversation/ID,
// #/user/ID, #/search?q=, #/live, #/stats, #/subscriptions, #/subscriptions/ID), the statistics line in the
// header, and the token prompt (the API token, or the admin token the subscriptions need).
// The event catalog (catalog.js) is fetched when the page starts; each view waits for it before it draws.

import { apiGet, getToken, setToken, takeTokenFromUrl, onUnauthorized } from './api.js';
import { catalogReady, loadCatalog } from './catalog.js';
import { h, fmtInt, fmtDateTime } from './dom.js';
import { liveView } from './live.js';
import { subscriptionsView, subscriptionView } from './subscriptions.js';
import { topicView } from './topic.js';
import { errorPanel, loading } from './ui.js';
import {
  coursesView, courseView, conversationView, userView, searchView, statsView, notFoundView,
} from './views.js';

const ROUTES = [
  [/^\/?$/, coursesView, 'courses'],
  [/^\/courses\/?$/, coursesView, 'courses'],
  [/^\/course\/(\d{1,20})$/, courseView, 'courses'],
  [/^\/topic\/(\d{1,20})$/, topicView, 'courses'],
  [/^\/conversation\/(\d{1,20})$/, conversationView, ''],
  [/^\/user\/(\d{1,20})$/, userView, ''],
  [/^\/search$/, searchView, 'search'],
  [/^\/live$/, liveView, 'live'],
  [/^\/stats$/, statsView, 'stats'],
  [/^\/subscriptions\/?$/, subscriptionsView, 'subscriptions'],
  [/^\/subscriptions\/(\d{1,18})$/, subscriptionView, 'subscriptions'],
];

const main = document.getElementById('main');
const statsLine = document.getElementById('stats-line');
let current = null; // {path, query, controller, leave: [], handle}

function parseHash() {
  const raw = (location.hash.startsWith('#') ? location.hash.slice(1) : '') || '/courses';
  const q = raw.indexOf('?');
  let path = q < 0 ? raw : raw.slice(0, q);
  try {
    path = decodeURIComponent(path);
  } catch {
    // a malformed escape: match the path as it is (it will be "not found")
  }
  return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function markNav(section) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route({ force = false } = {}) {
  let { path, query } = parseHash();
  if (!path.startsWith('/')) {
    if (current) return; // an in-page anchor, not a route
    path = '/courses';
    query = new URLSearchParams();
  }
  let match = null;
  let view = notFoundView;
  let nav = '';
  for (const [pattern, fn, section] of ROUTES) {
    match = pattern.exec(path);
    if (match) {
      view = fn;
      nav = section;
      break;
    }
  }
  // the same view with only its query changed: let the view follow the change if it can
  if (!force && current && current.path === path && current.handle?.update && current.handle.update(query)) {
    current.query = query;
    return;
  }
  if (current) {
    current.controller.abort();
    for (const fn of current.leave) fn();
  }
  const controller = new AbortController();
  const state = { path, query, controller, leave: [], handle: null, focused: false };
  current = state;
  markNav(nav);
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(loading());
  const ctx = {
    params: match ? match.slice(1) : [],
    query,
    signal: controller.signal,
    setTitle: (title) => { document.title = `${title} · levee`; },
    render: (...nodes) => {
      if (current !== state) return;
      main.replaceChildren(...nodes.filter(Boolean));
    },
    focus: (el, { scroll = false } = {}) => {
      state.focused = true;
      el.focus({ preventScroll: !scroll });
      if (scroll) el.scrollIntoView({ block: 'center' });
    },
    go: (hash) => {
      if (location.hash === hash) route({ force: true });
      else location.hash = hash;
    },
    replaceUrl: (hash) => history.replaceState(history.state, '', hash),
    reload: () => route({ force: true }),
    onLeave: (fn) => state.leave.push(fn),
  };
  try {
    // the event catalog, fetched once (views name and colour kinds by it); without it they still draw
    await catalogReady();
    if (controller.signal.aborted || current !== state) return;
    state.handle = (await view(ctx)) ?? null;
  } catch (err) {
    if (controller.signal.aborted || current !== state) return;
    if (err?.kind === 'abort') return;
    document.title = 'levee';
    main.replaceChildren(errorPanel(err, { retry: () => route({ force: true }), askToken: () => askToken(err) }));
    if (err?.kind !== 'auth') console.warn('levee:', err);
  } finally {
    if (current === state) main.removeAttribute('aria-busy');
  }
  if (current !== state) return;
  if (!state.focused) {
    const heading = main.querySelector('h1, h2');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
}

// ---- statistics in the header ----

let statsTimer = 0;
async function refreshStats() {
  clearTimeout(statsTimer);
  try {
    const s = await apiGet('/stats');
    const span = s.first_event_time
      ? ` · ${fmtDateTime(s.first_event_time)} – ${fmtDateTime(s.last_event_time)}` : '';
    statsLine.replaceChildren(
      h('a', { href: '#/stats' }, h('strong', null, fmtInt(s.events)), ' events'),
      ` · ${fmtInt(s.duplicates)} duplicates · `,
      h('span', { class: s.dead_letters ? 'warn' : '' }, `${fmtInt(s.dead_letters)} dead letters`),
      span);
    statsLine.hidden = false;
  } catch (err) {
    statsLine.textContent = err.kind === 'auth' ? 'Statistics need the API token.' : 'Statistics unavailable.';
  }
  statsTimer = setTimeout(refreshStats, document.hidden ? 120000 : 30000);
}

// ---- the token prompt ----

// What the prompt says for each token: the API token reads the store, the admin token (a different one)
// manages subscriptions.
const TOKEN_TEXT = {
  api: {
    title: 'API token needed', label: 'API token', name: 'API token', flag: '--api-token',
    why: 'The server was started with --api-token. Enter that token to see its data. It is kept for this browser tab only.',
  },
  admin: {
    title: 'Admin token needed', label: 'Admin token', name: 'admin token', flag: '--admin-token',
    why: 'Managing subscriptions needs the token the server was started with as --admin-token (not the API token). It is kept for this browser tab only.',
  },
};

const dialog = document.getElementById('token-dialog');
const tokenForm = document.getElementById('token-form');
const tokenInput = document.getElementById('token-input');
const tokenWhy = document.getElementById('token-why');
const tokenTitle = document.getElementById('token-title');
const tokenLabel = document.querySelector('label[for="token-input"]');
const tokenSubmit = tokenForm.querySelector('button[type="submit"]');
let asking = null; // the scope asked for while the prompt is open

function askToken(err) {
  if (asking) return;
  const scope = err?.scope === 'admin' ? 'admin' : 'api';
  const text = TOKEN_TEXT[scope];
  asking = scope;
  dialog.dataset.scope = scope;
  const had = getToken(scope);
  tokenTitle.textContent = text.title;
  tokenLabel.textContent = text.label;
  tokenSubmit.textContent = 'Use this token';
  tokenWhy.textContent = had
    ? `The server refused the ${text.name} this page has. Check it (${text.flag}) and enter it again.`
    : text.why;
  if (err?.message && had) tokenWhy.append(h('span', { class: 'muted' }, ` (levee says: ${err.message})`));
  tokenInput.value = '';
  tokenInput.removeAttribute('aria-invalid');
  dialog.showModal();
  tokenInput.focus();
}

tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) {
    tokenInput.setAttribute('aria-invalid', 'true');
    tokenInput.focus();
    return;
  }
  tokenInput.removeAttribute('aria-invalid');
  const scope = asking ?? 'api';
  setToken(value, scope);
  asking = null;
  dialog.close('ok');
  route({ force: true });
  if (scope === 'api') refreshStats();
});
document.getElementById('token-cancel').addEventListener('click', () => {
  asking = null;
  dialog.close('cancel');
});
dialog.addEventListener('cancel', () => {
  asking = null;
});

onUnauthorized((err) => askToken(err));

// ---- start ----

document.querySelector('.skip').addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});

document.getElementById('quick-search').addEventListener('submit', (e) => {
  e.preventDefault();
  const q = e.target.elements.q.value.trim();
  if (!q) return;
  e.target.elements.q.value = '';
  const hash = `#/search?q=${encodeURIComponent(q)}`;
  if (location.hash === hash) route({ force: true });
  else location.hash = hash;
});

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshStats();
});

takeTokenFromUrl();
loadCatalog();
window.addEventListener('hashchange', () => route());
route();
refreshStats();
