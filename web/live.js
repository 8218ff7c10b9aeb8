// live.js: the live tail: events as levee commits them (GET /api/tail, Server-Sent Events), newest on top,
// filtered by event name and course, with pause, clear and a cap on how many stay on the page. The event
// filter lists the kinds of the server's catalog (catalog.js), by their labels.

import { openTail } from './api.js';
import { catalogKinds, kindInfo, kindLabel, kindClass } from './catalog.js';
import { h, fmtInt, timeEl, localId, userLink, courseLink, truncate } from './dom.js';
import { htmlToText } from './sanitize.js';
import { courseOptions, courseSelect } from './views.js';
import { pageHead } from './ui.js';

const CAPS = [50, 200, 1000];

/**
 * One line saying what an event did, by what the catalog says its kind is about (its subject). Of a
 * subject's kinds, the catalog's first brings the thing into being (kindInfo().first): a topic created
 * rather than updated, a conversation started rather than forwarded. A kind the catalog does not have
 * (or every kind, without the catalog) is named as it is.
 */
function summary(record) {
  const b = record.body ?? {};
  const m = record.metadata ?? {};
  const kind = kindInfo(record.event);
  const topic = (id, text) => h('a', { href: `#/topic/${id}` }, text);
  const conversation = () => h('a', { href: `#/conversation/${b.conversation_id}` }, `conversation ${localId(b.conversation_id)}`);
  switch (kind?.subject) {
    case 'entry':
      return [userLink(b.user_id ?? m.user_id), b.parent_discussion_entry_id ? ' replied in ' : ' posted in ',
        h('a', { href: `#/topic/${b.discussion_topic_id}?entry=${b.discussion_entry_id}` }, `topic ${localId(b.discussion_topic_id)}`),
        b.text ? h('span', { class: 'tail-text' }, `: ${truncate(htmlToText(b.text), 200)}`) : null];
    case 'topic':
      return [kind.first ? 'New ' : 'Updated ', b.is_announcement ? 'announcement ' : 'topic ',
        topic(b.discussion_topic_id, `“${b.title ?? localId(b.discussion_topic_id)}”`),
        b.workflow_state ? ` (${b.workflow_state})` : null];
    case 'conversation':
      return [userLink(m.user_id), kind.first ? ' started ' : ' added people to ', conversation()];
    case 'message':
      return [userLink(b.author_id ?? m.user_id), ' wrote in ', conversation()];
    default:
      return [m.user_id ? userLink(m.user_id) : null, m.user_id ? ': ' : null, h('code', null, record.event ?? 'event')];
  }
}

function row(ev) {
  let record = null;
  try {
    record = JSON.parse(ev.data);
  } catch {
    // shown raw below
  }
  const name = record?.event ?? ev.event;
  const course = record?.metadata?.context_type === 'Course' ? record.metadata.context_id : record?.body?.context_id;
  return h('li', { class: 'tail-row', 'data-event': name },
    h('div', { class: 'tail-head' },
      h('span', { class: `kind-pill ${kindClass(name)}` }, kindLabel(name)),
      record?.format ? h('span', { class: 'badge badge-muted' }, record.format) : null,
      course ? courseLink(course) : null,
      h('span', { class: 'tail-time' }, record?.time ? timeEl(record.time) : null)),
    h('p', { class: 'tail-summary' }, record ? summary(record) : 'An event the page could not read.'),
    h('details', { class: 'raw' }, h('summary', null, 'Canonical record'), h('pre', null, ev.data)));
}

export async function liveView(ctx) {
  ctx.setTitle('Live tail');
  const courses = await courseOptions().catch(() => []);
  const state = {
    event: ctx.query.get('event') ?? '',
    course: ctx.query.get('course') ?? '',
    cap: CAPS.includes(Number(ctx.query.get('cap'))) ? Number(ctx.query.get('cap')) : 200,
    paused: false,
    received: 0,
    missed: 0,
  };
  const eventSelect = h('select', { id: 'tail-event', name: 'event' }, h('option', { value: '' }, 'All events'),
    catalogKinds().map(({ name, label }) => h('option', { value: name, selected: name === state.event, title: name }, label)));
  if (state.event && !kindInfo(state.event)) eventSelect.append(h('option', { value: state.event, selected: true }, state.event));
  const courseSel = courseSelect('course', 'tail-course', state.course, courses);
  const capSelect = h('select', { id: 'tail-cap', name: 'cap' }, CAPS.map((n) => h('option', { value: n, selected: n === state.cap }, `${n} newest`)));
  const pauseButton = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Pause');
  const clearButton = h('button', { type: 'button' }, 'Clear');
  const status = h('p', { class: 'tail-status', role: 'status', 'data-state': 'connecting' }, 'Connecting…');
  const counts = h('p', { class: 'muted tail-counts' });
  const list = h('ol', { class: 'tail', 'aria-label': 'Events, newest first', 'aria-live': 'off' });
  const emptyNote = h('div', { class: 'empty tail-empty' }, h('p', null, 'Waiting for events.'),
    h('p', { class: 'muted' }, 'New events show up here the moment levee commits them; nothing older is replayed.'));

  const form = h('form', { class: 'tail-filters', 'aria-label': 'Filters' },
    h('div', { class: 'field' }, h('label', { for: 'tail-event' }, 'Event'), eventSelect),
    h('div', { class: 'field' }, h('label', { for: 'tail-course' }, 'Course'), courseSel),
    h('div', { class: 'field' }, h('label', { for: 'tail-cap' }, 'Keep'), capSelect),
    h('div', { class: 'field buttons' }, pauseButton, clearButton));
  form.addEventListener('submit', (e) => e.preventDefault());

  let pending = [];
  let frame = 0;
  const showCounts = () => {
    const held = state.paused && pending.length ? ` · ${fmtInt(pending.length)} held while paused` : '';
    const missed = state.missed ? ` · ${fmtInt(state.missed)} missed (the stream fell behind)` : '';
    counts.textContent = `${fmtInt(state.received)} received · ${fmtInt(list.children.length)} shown${held}${missed}`;
  };
  const flush = () => {
    frame = 0;
    if (state.paused || !pending.length) {
      showCounts();
      return;
    }
    const batch = pending.slice(-state.cap);
    pending = [];
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) fragment.append(row(batch[i]));
    list.prepend(fragment);
    while (list.children.length > state.cap) list.lastElementChild.remove();
    emptyNote.hidden = list.children.length > 0;
    showCounts();
  };
  const schedule = () => {
    if (!frame) frame = requestAnimationFrame(flush);
  };

  let stream = null;
  const setStatus = (kind, text) => {
    status.dataset.state = kind;
    status.textContent = text;
  };
  const connect = () => {
    stream?.close();
    stream = openTail({ event: state.event, course: state.course }, {
      onState: (s) => {
        if (s === 'live') setStatus('live', 'Live: receiving new events');
        else if (s === 'retrying') setStatus('retrying', 'Connection lost; reconnecting…');
        else setStatus('connecting', 'Connecting…');
      },
      onEvent: (ev) => {
        state.received++;
        pending.push(ev);
        if (pending.length > state.cap) pending.splice(0, pending.length - state.cap);
        schedule();
      },
      onMissed: (n) => {
        state.missed += n;
        schedule();
      },
      onError: (err) => {
        setStatus('error', err.kind === 'auth' ? 'The server refused the API token; enter it to follow events.' : `The tail was refused: ${err.message}`);
      },
    });
  };
  const refilter = () => {
    state.event = eventSelect.value;
    state.course = courseSel.value;
    const q = new URLSearchParams();
    if (state.event) q.set('event', state.event);
    if (state.course) q.set('course', state.course);
    if (state.cap !== 200) q.set('cap', String(state.cap));
    ctx.replaceUrl(`#/live${q.size ? `?${q}` : ''}`);
    list.replaceChildren();
    pending = [];
    emptyNote.hidden = false;
    showCounts();
    connect();
  };
  eventSelect.addEventListener('change', refilter);
  courseSel.addEventListener('change', refilter);
  capSelect.addEventListener('change', () => {
    state.cap = Number(capSelect.value);
    while (list.children.length > state.cap) list.lastElementChild.remove();
    const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
    if (state.cap !== 200) q.set('cap', String(state.cap));
    else q.delete('cap');
    ctx.replaceUrl(`#/live${q.size ? `?${q}` : ''}`);
    showCounts();
  });
  pauseButton.addEventListener('click', () => {
    state.paused = !state.paused;
    pauseButton.setAttribute('aria-pressed', String(state.paused));
    pauseButton.textContent = state.paused ? 'Resume' : 'Pause';
    schedule();
  });
  clearButton.addEventListener('click', () => {
    list.replaceChildren();
    pending = [];
    emptyNote.hidden = false;
    showCounts();
  });

  ctx.render(pageHead('Live tail', { sub: 'Events as levee commits them, newest on top.' }), form,
    h('div', { class: 'tail-bar' }, status, counts), emptyNote, list);
  showCounts();
  connect();
  ctx.onLeave(() => {
    stream?.close();
    if (frame) cancelAnimationFrame(frame);
  });
}
