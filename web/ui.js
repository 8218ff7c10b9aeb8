// ui.js: the pieces every view is built from: page headings, sections, loading, empty and error states,
// summary figures, "show more" buttons and scrollable tables.

import { h, fmtInt } from './dom.js';

/** The view's heading (focused after navigation) with an optional line under it. */
export function pageHead(title, { kicker, sub, actions } = {}) {
  return h('div', { class: 'page-head' },
    h('div', { class: 'page-head-text' },
      kicker ? h('p', { class: 'kicker' }, kicker) : null,
      h('h1', { tabindex: '-1' }, title),
      sub ? h('p', { class: 'sub' }, sub) : null),
    actions ? h('div', { class: 'page-actions' }, actions) : null);
}

export function section(title, { id, note, className } = {}, ...content) {
  const headingId = id ? `${id}-title` : undefined;
  return h('section', { class: ['panel', className], id, 'aria-labelledby': headingId },
    h('div', { class: 'panel-head' }, h('h2', { id: headingId }, title), note ? h('p', { class: 'note' }, note) : null),
    ...content);
}

export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(text, ...more) {
  return h('div', { class: 'empty' }, h('p', null, text), ...more);
}

/** Figures in a row: [[label, value, hint?], ...] */
export function figures(items) {
  return h('dl', { class: 'figures' }, items.filter(Boolean).map(([label, value, hint]) =>
    h('div', { class: 'figure' }, h('dt', null, label), h('dd', null, typeof value === 'number' ? fmtInt(value) : value),
      hint ? h('dd', { class: 'hint' }, hint) : null)));
}

/** A wide table in a region that scrolls sideways on narrow screens (and can be scrolled with keys). */
export function scrollTable(label, table) {
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': label }, table);
}

/** What went wrong, in plain words, with a way to try again. */
export function errorPanel(err, { what = 'This page could not be loaded', retry, askToken } = {}) {
  let title = what;
  let detail = err?.message || String(err);
  const actions = [];
  if (err?.kind === 'auth' && err.scope === 'admin') {
    title = 'Managing subscriptions needs the admin token';
    detail = 'The server was started with --admin-token: the page must send that token (not the API token) to show and change subscriptions. Enter it here; it is kept for this browser tab only.';
    if (askToken) actions.push(h('button', { type: 'button', class: 'primary', onclick: askToken }, 'Enter the admin token'));
  } else if (err?.kind === 'auth') {
    title = 'This levee server needs an API token';
    detail = 'The server was started with --api-token, so the page must send that token. Open the page with ?token=... in its address, or enter the token here.';
    if (askToken) actions.push(h('button', { type: 'button', class: 'primary', onclick: askToken }, 'Enter the API token'));
  } else if (err?.kind === 'network') {
    detail = 'The levee server did not answer. Check that `levee serve` is still running, then try again.';
  } else if (err?.status === 404) {
    title = 'Not found';
    detail = `levee says: ${err.message}`;
  } else if (err?.status === 400) {
    title = 'The request was refused';
    detail = `levee says: ${err.message}`;
  } else if (err?.status >= 500) {
    detail = `The server failed while answering: ${err.message}`;
  } else if (err?.kind !== 'http') {
    detail = `Something went wrong in the page: ${detail}`;
  }
  if (retry && err?.kind !== 'auth') actions.push(h('button', { type: 'button', onclick: retry }, 'Try again'));
  return h('div', { class: 'error-panel', role: 'alert' },
    h('h2', null, title), h('p', null, detail), actions.length ? h('div', { class: 'actions' }, actions) : null);
}

/** A button that loads the next page of a list and appends it; hides itself when done. */
export function moreButton(label, load) {
  const status = h('span', { class: 'more-status', role: 'status' });
  const button = h('button', { type: 'button', class: 'show-more' }, label);
  const wrap = h('div', { class: 'more-row' }, button, status);
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.textContent = 'Loading…';
    try {
      const done = await load();
      status.textContent = '';
      if (done) wrap.remove();
      else button.disabled = false;
    } catch (err) {
      button.disabled = false;
      status.textContent = `Could not load more: ${err.message}`;
    }
  });
  return wrap;
}

export function badge(text, kind = '') {
  return h('span', { class: `badge ${kind}` }, text);
}
