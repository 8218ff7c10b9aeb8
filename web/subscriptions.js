// subscriptions.js: the Subscriptions views (#/subscriptions and #/subscriptions/ID): where levee delivers
// the events it keeps (docs/subscriptions.md). The list gives each subscription's state, lag, success rate
// and last error; one subscription adds its settings, recent attempts and delivery dead letters, with
// buttons to pause, resume, replay a window and send the dead letters again. Everything comes from
// /api/subscriptions, which needs the admin token (api.js's 'admin' scope), not the API token.

import { apiGet, apiPost } from './api.js';
import { kindLabel, kindClass } from './catalog.js';
import { h, fmtInt, fmtDuration, fmtDateTime, timeEl, plural } from './dom.js';
import { pageHead, section, empty, figures, scrollTable, badge, moreButton } from './ui.js';

const ADMIN = { scope: 'admin' };
const DEAD_SHOWN = 20; // dead letters drawn at first; the rest a "show more" away

const RATE_HINT = 'delivered ÷ (delivered + failed attempts), since it was created';

// ---- small pieces ----

function stateBadge(sub) {
  const kind = sub.state === 'active' ? 'badge-ok' : sub.state === 'disabled' ? 'badge-danger' : 'badge-warn';
  return h('span', { class: `badge state ${kind}`, 'data-state': sub.state }, sub.state);
}

/** The share of attempts that succeeded, from the subscription's counts (null before any attempt). */
function successRate(counts) {
  const delivered = counts?.delivered ?? 0;
  const failed = counts?.failed_attempts ?? 0;
  return delivered + failed > 0 ? delivered / (delivered + failed) : null;
}

function fmtRate(rate) {
  if (rate === null) return '–';
  const pct = rate * 100;
  return `${pct === 100 || pct === 0 ? pct.toFixed(0) : pct.toFixed(pct >= 99 || pct < 1 ? 2 : 1)}%`;
}

function rateCell(sub) {
  const rate = successRate(sub.counts);
  const c = sub.counts ?? {};
  const cls = rate === null ? 'rate' : rate >= 0.99 ? 'rate rate-ok' : rate >= 0.5 ? 'rate rate-mid' : 'rate rate-bad';
  return h('span', { class: cls, title: `${fmtInt(c.delivered)} delivered, ${fmtInt(c.failed_attempts)} failed attempts: ${RATE_HINT}` },
    fmtRate(rate));
}

function lagEvents(lag) {
  return `${fmtInt(lag?.events ?? 0)}${lag?.more ? '+' : ''}`;
}

function lagCell(sub) {
  const lag = sub.lag ?? {};
  return h('span', { class: 'lag' },
    h('strong', null, lagEvents(lag)), ` ${(lag.events ?? 0) === 1 && !lag.more ? 'event' : 'events'}`,
    typeof lag.oldest_seconds === 'number'
      ? h('span', { class: 'lag-age' }, `oldest waiting ${fmtDuration(lag.oldest_seconds)}`) : null);
}

function errorText(text) {
  return text ? h('span', { class: 'last-error' }, text) : h('span', { class: 'muted' }, 'none');
}

/** Milliseconds as a duration for people: "500 ms", "15 s", "3 days". */
function fmtMs(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  return ms < 1000 ? `${fmtInt(ms)} ms` : fmtDuration(ms / 1000);
}

function statusBadge(status) {
  if (status === null || status === undefined) return badge('no answer', 'badge-danger');
  const kind = status >= 200 && status < 300 ? 'badge-ok' : status >= 500 || status === 408 || status === 429 ? 'badge-warn' : 'badge-danger';
  return badge(String(status), kind);
}

/** An event as the catalog names it (its label, coloured by kind), with its number in the store. */
function eventCell(name, id) {
  return h('span', { class: 'event-cell' },
    name ? h('span', { class: `kind-pill ${kindClass(name)}`, title: name }, kindLabel(name)) : h('span', { class: 'muted' }, 'unknown event'),
    ' ', h('span', { class: 'muted', title: 'the event’s number in the store’s arrival order' }, `#${fmtInt(id)}`));
}

/** What the page shows when the server does not manage subscriptions over HTTP (no --admin-token). */
function notManaged(ctx, err) {
  ctx.setTitle('Subscriptions');
  ctx.render(pageHead('Subscriptions', { sub: 'Where levee delivers the events it keeps.' }),
    h('div', { class: 'notice-panel', role: 'alert' },
      h('h2', null, 'This server does not manage subscriptions over HTTP'),
      h('p', null, 'It was started without --admin-token, so /api/subscriptions is turned off and this page cannot show or change subscriptions.'),
      h('p', null, 'To manage them here, restart it with ', h('code', null, 'levee serve --admin-token TOKEN'),
        ' (make a token with ', h('code', null, 'openssl rand -hex 32'), '). On the server’s machine, ',
        h('code', null, 'levee subscriptions list'), ' works without it.'),
      h('p', { class: 'muted' }, `levee says: ${err.message}`)));
}

function isNotManaged(err) {
  return err?.kind === 'http' && err.status === 403;
}

/** A live region for what an action did (announced, and kept across refreshes). */
function actionStatus() {
  return h('p', { class: 'action-status', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
}

function say(status, text, kind = 'ok') {
  status.dataset.kind = kind;
  status.textContent = text;
}

/**
 * Runs an action for a button, once at a time. The button is marked busy with aria-disabled rather than
 * disabled, so that it keeps the keyboard focus while the request is out.
 */
async function busy(button, fn) {
  if (button.getAttribute('aria-disabled') === 'true') return;
  button.setAttribute('aria-disabled', 'true');
  try {
    await fn();
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

function failure(what, err) {
  if (err?.kind === 'auth') return `Could not ${what}: the server refused the admin token. Enter it again and retry.`;
  if (err?.kind === 'network') return `Could not ${what}: the levee server did not answer.`;
  return `Could not ${what}: levee says: ${err?.message ?? err}`;
}

// ---- the list ----

function listTable(subs) {
  const head = ['Subscription', 'State', 'Lag', 'Success rate', 'Last error', 'Last delivered'];
  return scrollTable('Subscriptions', h('table', { class: 'data subs' },
    h('caption', { class: 'visually-hidden' }, 'Subscriptions'),
    h('thead', null, h('tr', null, head.map((t, i) => h('th', { scope: 'col', class: i === 2 || i === 3 ? 'num' : null }, t)))),
    h('tbody', null, subs.map((s) => h('tr', { 'data-sub': String(s.id) },
      h('th', { scope: 'row' },
        h('a', { href: `#/subscriptions/${s.id}`, class: 'sub-name' }, s.name || `Subscription ${s.id}`),
        h('span', { class: 'sub-url' }, s.url)),
      h('td', { class: 'state-cell' }, stateBadge(s), s.reason ? h('span', { class: 'reason' }, s.reason) : null),
      h('td', { class: 'num lag-cell' }, lagCell(s)),
      h('td', { class: 'num rate-cell' }, rateCell(s)),
      h('td', { class: 'error-cell' }, errorText(s.last_error)),
      h('td', { class: 'success-cell' }, s.last_success ? timeEl(s.last_success) : h('span', { class: 'muted' }, 'never')))))));
}

function listSummary(subs) {
  const count = (state) => subs.filter((s) => s.state === state).length;
  const sum = (f) => subs.reduce((n, s) => n + (f(s) ?? 0), 0);
  const stopped = count('paused') + count('disabled');
  return figures([
    ['Subscriptions', subs.length],
    ['Active', count('active')],
    ['Paused or disabled', stopped, stopped ? `${fmtInt(count('paused'))} paused, ${fmtInt(count('disabled'))} disabled` : null],
    ['Undelivered events', sum((s) => s.lag?.events), 'matching events not delivered yet'],
    ['Dead letters', sum((s) => s.counts?.dead_letters), 'given up on, kept to send again'],
  ]);
}

export async function subscriptionsView(ctx) {
  ctx.setTitle('Subscriptions');
  let data;
  try {
    data = await apiGet('/subscriptions', {}, { ...ADMIN, signal: ctx.signal });
  } catch (err) {
    if (isNotManaged(err)) return notManaged(ctx, err);
    throw err;
  }
  const updated = h('span', { class: 'updated' });
  const refresh = h('button', { type: 'button', id: 'subs-refresh' }, 'Refresh');
  const head = pageHead('Subscriptions', {
    sub: h('span', null, 'Where levee delivers the events it keeps, each to its own target. ', updated),
    actions: refresh,
  });
  const body = h('div', { class: 'subs-body' });
  const status = actionStatus();
  const fill = (d) => {
    const subs = d.subscriptions ?? [];
    updated.textContent = `Updated ${fmtDateTime(new Date().toISOString())}.`;
    if (!subs.length) {
      body.replaceChildren(empty('No subscriptions yet.', h('p', { class: 'muted' },
        'Add one with ', h('code', null, 'levee subscriptions add --url URL'), ' or POST /api/subscriptions; docs/subscriptions.md says how.')));
      return;
    }
    body.replaceChildren(listSummary(subs), section('All subscriptions', {
      id: 'subscriptions',
      note: `Lag: matching events not delivered yet, and how long the oldest has waited. Success rate: ${RATE_HINT}.`,
    }, listTable(subs)));
  };
  refresh.addEventListener('click', () => busy(refresh, async () => {
    try {
      fill(await apiGet('/subscriptions', {}, { ...ADMIN, signal: ctx.signal }));
      say(status, 'Refreshed.');
    } catch (err) {
      if (err?.kind !== 'abort') say(status, failure('refresh', err), 'error');
    }
  }));
  fill(data);
  ctx.render(head, status, body);
}

// ---- one subscription ----

function settingsList(sub) {
  const f = sub.filter ?? {};
  const p = sub.policy ?? {};
  const list = (items, none, fn = (x) => h('code', null, x)) => (items?.length
    ? h('span', { class: 'chips' }, items.map((x) => h('span', { class: 'chip' }, fn(x)))) : h('span', { class: 'muted' }, none));
  const eventName = (name) => h('code', { title: kindLabel(name) !== name ? kindLabel(name) : null }, name);
  const rows = [
    ['Target', h('code', { class: 'sub-url' }, sub.url)],
    ['Events', list(f.events, 'every event', eventName)],
    ['Courses', list(f.courses, 'every course')],
    ['Arrived as', f.source_format ?? h('span', { class: 'muted' }, 'any format')],
    ['Payload form', h('code', null, sub.form)],
    ['Signing', { none: 'none', webhooks: 'Standard Webhooks (HMAC-SHA256)', jwt: 'JWT (RS256), as Canvas signs' }[sub.signing] ?? sub.signing],
    ['Extra headers', list(sub.headers, 'none')],
    ['In flight at once', sub.parallel === 1 ? '1 (strictly in arrival order)' : fmtInt(sub.parallel)],
    ['Timeout', fmtMs(p.timeout_ms)],
    ['Wait between attempts', `${fmtMs(p.retry_min_ms)} to ${fmtMs(p.retry_max_ms)}`],
    ['Retried for', fmtMs(p.max_age_ms)],
    ['Disabled after failing for', fmtMs(p.disable_after_ms)],
    ['Created', timeEl(sub.created)],
  ];
  return h('dl', { class: 'settings' }, rows.map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
}

function detailSummary(sub) {
  const c = sub.counts ?? {};
  const lag = sub.lag ?? {};
  return figures([
    ['State', h('span', { class: 'figure-state' }, stateBadge(sub)), sub.reason],
    ['Lag', `${lagEvents(lag)} ${(lag.events ?? 0) === 1 && !lag.more ? 'event' : 'events'}`,
      typeof lag.oldest_seconds === 'number' ? `oldest waiting ${fmtDuration(lag.oldest_seconds)}` : 'nothing waiting'],
    ['Success rate', fmtRate(successRate(c)), RATE_HINT],
    ['Delivered', c.delivered, c.skipped ? `${plural(c.skipped, 'event', 'events')} skipped: no form of it to send` : null],
    ['Failed attempts', c.failed_attempts, c.pending ? `${plural(c.pending, 'event', 'events')} queued to send (retries and replays)` : null],
    ['Dead letters', c.dead_letters],
  ]);
}

function attemptsTable(attempts) {
  if (!attempts.length) return empty('No attempts yet.', h('p', { class: 'muted' }, 'Each event the filter matches is sent as it arrives.'));
  const head = ['Time', 'Event', 'Status', 'Latency', 'Error'];
  return scrollTable('Recent attempts', h('table', { class: 'data attempts' },
    h('caption', { class: 'visually-hidden' }, 'Recent attempts, newest first'),
    h('thead', null, h('tr', null, head.map((t, i) => h('th', { scope: 'col', class: i === 3 ? 'num' : null }, t)))),
    h('tbody', null, attempts.map((a) => h('tr', { 'data-event-id': String(a.event_id) },
      h('td', { class: 'when' }, timeEl(a.time)),
      h('td', null, eventCell(a.event, a.event_id)),
      h('td', null, statusBadge(a.status)),
      h('td', { class: 'num' }, `${fmtInt(a.latency_ms)} ms`),
      h('td', { class: 'attempt-error' }, errorText(a.error)))))));
}

function deadRow(d) {
  return h('tr', { 'data-event-id': String(d.event_id) },
    h('td', null, eventCell(d.event, d.event_id)),
    h('td', { class: 'when' }, timeEl(d.event_time)),
    h('td', null, statusBadge(d.status)),
    h('td', { class: 'num' }, fmtInt(d.attempts)),
    h('td', { class: 'dead-error' }, errorText(d.error),
      d.answer ? h('details', { class: 'answer' }, h('summary', null, 'The target’s answer'), h('pre', null, d.answer)) : null),
    h('td', { class: 'when' }, timeEl(d.last_attempt)));
}

function deadTable(dead, total) {
  if (!dead.length) return empty('No dead letters.', h('p', { class: 'muted' }, 'An event goes here when the target refuses it (a 4xx) or it has been retried for the whole retry period.'));
  const head = ['Event', 'Event time', 'Status', 'Attempts', 'Error', 'Last attempt'];
  const tbody = h('tbody', null, dead.slice(0, DEAD_SHOWN).map(deadRow));
  const table = scrollTable('Delivery dead letters', h('table', { class: 'data dead' },
    h('caption', { class: 'visually-hidden' }, 'Delivery dead letters'),
    h('thead', null, h('tr', null, head.map((t, i) => h('th', { scope: 'col', class: i === 3 ? 'num' : null }, t)))), tbody));
  // the API lists the first 1,000; the count is of them all
  const capped = total > dead.length
    ? h('p', { class: 'muted' }, `The server lists the first ${fmtInt(dead.length)} of ${fmtInt(total)}; `,
      h('code', null, 'levee subscriptions dead-letters ID'), ' lists them all.') : null;
  if (dead.length <= DEAD_SHOWN) return capped ? h('div', null, table, capped) : table;
  let shown = DEAD_SHOWN;
  return h('div', null, table, capped, moreButton(`Show all ${fmtInt(dead.length)} dead letters`, async () => {
    tbody.append(...dead.slice(shown, shown + 100).map(deadRow));
    shown += 100;
    return shown >= dead.length;
  }));
}

/** "2024-09-02T10:00:00" in the reader's zone, for a datetime-local input. */
function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function zoneName() {
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes < 0 ? '−' : '+';
  const abs = Math.abs(minutes);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return `${zone ? `${zone}, ` : ''}UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

function replayForm(id, status, refresh) {
  const since = h('input', { type: 'datetime-local', id: 'replay-since', name: 'since', step: '1', required: true, 'aria-describedby': 'replay-hint' });
  const until = h('input', { type: 'datetime-local', id: 'replay-until', name: 'until', step: '1', 'aria-describedby': 'replay-hint' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'replay-button' }, 'Replay this window');
  const form = h('form', { class: 'replay-form', 'aria-labelledby': 'replay-title', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'replay-since' }, 'Since (event time)'), since),
    h('div', { class: 'field' }, h('label', { for: 'replay-until' }, 'Until (optional)'), until),
    h('div', { class: 'field buttons' }, submit));
  const hint = h('p', { class: 'note', id: 'replay-hint' },
    `Sends again every stored event whose event time is from since up to (not including) until, that the filter matches, with the same webhook-id, whatever was delivered before. Times are in your time zone (${zoneName()}).`);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    since.removeAttribute('aria-invalid');
    until.removeAttribute('aria-invalid');
    const from = since.value ? new Date(since.value) : null;
    const to = until.value ? new Date(until.value) : null;
    if (!from || Number.isNaN(from.getTime())) {
      since.setAttribute('aria-invalid', 'true');
      say(status, 'Choose the date and time the window starts at (since).', 'error');
      since.focus();
      return;
    }
    if (to && (Number.isNaN(to.getTime()) || to <= from)) {
      until.setAttribute('aria-invalid', 'true');
      say(status, 'The window is empty: until must come after since (or be left empty for “until now”).', 'error');
      until.focus();
      return;
    }
    const span = `from ${fmtDateTime(from.toISOString())}${to ? ` until ${fmtDateTime(to.toISOString())}` : ' on'}`;
    await busy(submit, async () => {
      say(status, `Replaying the events ${span}…`, 'busy');
      try {
        const body = { since: from.toISOString() };
        if (to) body.until = to.toISOString();
        const answer = await apiPost(`/subscriptions/${id}/replay`, body, ADMIN);
        // more: the window holds more than levee counted before answering; all of it is sent
        const n = answer.more ? `${fmtInt(answer.queued)}+ events` : plural(answer.queued, 'event', 'events');
        say(status, `Queued ${n} ${span} to send again.`);
        await refresh();
      } catch (err) {
        say(status, failure('replay', err), 'error');
      }
    });
  });
  return { form, hint, since, until };
}

export async function subscriptionView(ctx) {
  const id = ctx.params[0];
  const load = () => Promise.all([
    apiGet(`/subscriptions/${id}`, {}, { ...ADMIN, signal: ctx.signal }),
    apiGet(`/subscriptions/${id}/dead-letters`, {}, { ...ADMIN, signal: ctx.signal }),
  ]);
  let sub;
  let dead;
  try {
    [sub, { dead_letters: dead = [] }] = await load();
  } catch (err) {
    if (isNotManaged(err)) return notManaged(ctx, err);
    throw err;
  }

  const status = actionStatus();
  const updated = h('span', { class: 'updated' });
  const toggle = h('button', { type: 'button', id: 'sub-toggle', class: 'primary' });
  const refreshButton = h('button', { type: 'button', id: 'sub-refresh' }, 'Refresh');
  const back = h('a', { class: 'button-link', href: '#/subscriptions' }, 'All subscriptions');
  const title = h('h1', { tabindex: '-1' });
  const url = h('code', { class: 'sub-url' });
  const head = h('div', { class: 'page-head' },
    h('div', { class: 'page-head-text' }, h('p', { class: 'kicker' }, `Subscription ${id}`), title,
      h('p', { class: 'sub' }, url, ' · ', updated)),
    h('div', { class: 'page-actions' }, toggle, refreshButton, back));
  const summary = h('div');
  const settings = h('div');
  const attempts = h('div');
  const deadBody = h('div');
  const redeliver = h('button', { type: 'button', id: 'redeliver-button', class: 'show-more' }, 'Send them again');
  let refresh = async () => {};
  const replay = replayForm(id, status, () => refresh());

  const fill = (s, d) => {
    sub = s;
    ctx.setTitle(`Subscription ${s.name || s.id}`);
    title.textContent = s.name || `Subscription ${s.id}`;
    url.textContent = s.url;
    updated.textContent = `Updated ${fmtDateTime(new Date().toISOString())}.`;
    toggle.textContent = s.state === 'active' ? 'Pause delivery' : 'Resume delivery';
    toggle.dataset.action = s.state === 'active' ? 'pause' : 'resume';
    summary.replaceChildren(detailSummary(s));
    settings.replaceChildren(settingsList(s));
    attempts.replaceChildren(attemptsTable(s.attempts ?? []));
    deadBody.replaceChildren(deadTable(d, s.counts?.dead_letters ?? d.length));
    redeliver.hidden = !d.length;
  };
  refresh = async () => {
    const [s, { dead_letters: d = [] }] = await load();
    fill(s, d);
  };

  toggle.addEventListener('click', () => busy(toggle, async () => {
    const action = toggle.dataset.action;
    say(status, action === 'pause' ? 'Pausing…' : 'Resuming…', 'busy');
    try {
      const s = await apiPost(`/subscriptions/${id}/${action}`, undefined, ADMIN);
      say(status, s.state === 'active' ? 'Resumed: delivery goes on from where it stopped.'
        : 'Paused: nothing is sent until it is resumed; events keep arriving and wait.');
      await refresh();
    } catch (err) {
      say(status, failure(action, err), 'error');
    }
  }));
  refreshButton.addEventListener('click', () => busy(refreshButton, async () => {
    try {
      await refresh();
      say(status, 'Refreshed.');
    } catch (err) {
      if (err?.kind !== 'abort') say(status, failure('refresh', err), 'error');
    }
  }));
  redeliver.addEventListener('click', () => busy(redeliver, async () => {
    say(status, 'Queuing the dead letters…', 'busy');
    try {
      const answer = await apiPost(`/subscriptions/${id}/redeliver`, undefined, ADMIN);
      say(status, `Queued ${plural(answer.queued, 'dead letter', 'dead letters')} to send again; those that fail again come back here.`);
      await refresh();
    } catch (err) {
      say(status, failure('send the dead letters again', err), 'error');
    }
  }));

  fill(sub, dead);
  // a default window for the replay: the last hour
  replay.since.value = localInputValue(new Date(Date.now() - 3600000));

  const deadSection = h('section', { class: 'panel', id: 'dead-letters', 'aria-labelledby': 'dead-letters-title' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'dead-letters-title' }, 'Delivery dead letters'),
      h('p', { class: 'note' }, 'Events given up on, with the target’s last answer.'), redeliver),
    deadBody);
  ctx.render(head, status, summary,
    h('div', { class: 'columns' },
      section('Replay a window', { id: 'replay', note: null }, replay.form, replay.hint),
      section('Settings', { id: 'settings', note: 'Secrets and keys are never shown back.' }, settings)),
    section('Recent attempts', { id: 'attempts', note: 'The last 20, newest first.' }, attempts),
    deadSection);
}
