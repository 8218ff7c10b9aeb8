// views.js: the page's views other than the topic and the live tail: the courses, a course's dashboard,
// a conversation's timeline, a user's posts, search and the store's statistics. Each view is an async
// function of the router's context (ctx: params, query, signal, render, setTitle, reload).

import { apiGet } from './api.js';
import { kindLabel, kindClass } from './catalog.js';
import { activityChart } from './chart.js';
import {
  h, fmtInt, fmtDay, fmtDuration, fmtBytes, fmtDateTime, timeEl, plural, localId, shardedId, userLink, courseLink,
  highlight, prefixTerms, nextDay, truncate,
} from './dom.js';
import { htmlToText } from './sanitize.js';
import { pageHead, section, empty, figures, scrollTable, moreButton, badge } from './ui.js';

const PAGE = 100;

let coursesCache = null;
/** The courses list, fetched once per page load for pickers (search and tail filters). */
export async function courseOptions() {
  coursesCache ??= apiGet('/courses', {}).then((d) => d.courses ?? []).catch((e) => {
    coursesCache = null;
    throw e;
  });
  return coursesCache;
}

export function courseSelect(name, id, selected, courses) {
  const select = h('select', { name, id },
    h('option', { value: '' }, 'All courses'),
    courses.map((c) => h('option', { value: c.course_id, selected: c.course_id === selected }, `Course ${localId(c.course_id)}`)));
  if (selected && !courses.some((c) => c.course_id === selected)) {
    select.append(h('option', { value: selected, selected: true }, `Course ${localId(selected)}`));
  }
  return select;
}

function dayRange(first, last) {
  if (!first) return 'no activity';
  return first === last ? fmtDay(first, 'long') : `${fmtDay(first, 'short')} – ${fmtDay(last, 'long')}`;
}

// ---- courses ----

export async function coursesView(ctx) {
  ctx.setTitle('Courses');
  const data = await apiGet('/courses', {}, ctx);
  const courses = data.courses ?? [];
  coursesCache = Promise.resolve(courses);
  const head = pageHead('Courses', { sub: courses.length ? `${plural(courses.length, 'course', 'courses')} with events in the store` : null });
  if (!courses.length) {
    ctx.render(head, empty('No courses yet.', h('p', { class: 'muted' },
      'Courses appear here once Canvas (or `levee simulate --to URL`) posts discussion or conversation events to this server’s /events.')));
    return;
  }
  const maxEvents = Math.max(...courses.map((c) => c.events), 1);
  const cards = h('ul', { class: 'cards', 'aria-label': 'Courses' }, courses.map((c) => h('li', { 'data-course': c.course_id },
    h('a', { class: 'card', href: `#/course/${c.course_id}` },
      h('span', { class: 'card-title' }, `Course ${localId(c.course_id)}`),
      h('span', { class: 'card-id' }, shardedId(c.course_id)),
      h('span', { class: 'card-meter', 'aria-hidden': 'true' }, h('meter', { min: 0, max: maxEvents, value: c.events })),
      h('span', { class: 'card-stats' },
        h('span', null, h('strong', null, fmtInt(c.events)), ' events'),
        h('span', null, h('strong', null, fmtInt(c.topics)), ' topics'),
        h('span', null, h('strong', null, fmtInt(c.users)), ' users')),
      h('span', { class: 'card-foot' }, dayRange(c.first_day, c.last_day))))));
  const nodes = [head];
  if (courses.length > 8) {
    const status = h('p', { class: 'muted', role: 'status' });
    const input = h('input', { type: 'search', id: 'course-filter', placeholder: 'e.g. 7374', autocomplete: 'off' });
    input.addEventListener('input', () => {
      const want = input.value.trim();
      let shown = 0;
      for (const li of cards.children) {
        const id = li.dataset.course;
        const match = !want || id.includes(want) || localId(id).includes(want);
        li.hidden = !match;
        if (match) shown++;
      }
      status.textContent = want ? `${plural(shown, 'course matches', 'courses match')}` : '';
    });
    nodes.push(h('div', { class: 'toolbar' }, h('label', { for: 'course-filter' }, 'Find a course by id'), input, status));
  }
  nodes.push(cards);
  ctx.render(...nodes);
}

// ---- a course ----

function sortableTable(label, columns, rows, initial) {
  // columns: [{key, title, num, value(row), cell(row)}]
  let sortKey = initial.key;
  let dir = initial.dir;
  const tbody = h('tbody');
  const headers = columns.map((col) => {
    const th = h('th', { scope: 'col', class: col.num ? 'num' : '' });
    if (col.value) {
      const button = h('button', { type: 'button', class: 'sort' }, col.title);
      button.addEventListener('click', () => {
        dir = sortKey === col.key ? -dir : (col.num ? -1 : 1);
        sortKey = col.key;
        fill();
      });
      th.append(button);
    } else {
      th.textContent = col.title;
    }
    return th;
  });
  const fill = () => {
    const col = columns.find((c) => c.key === sortKey);
    const sorted = [...rows].sort((a, b) => {
      const x = col.value(a);
      const y = col.value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    headers.forEach((th, i) => {
      if (columns[i].key === sortKey) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
    tbody.replaceChildren(...sorted.map((row) => h('tr', null, columns.map((c, i) =>
      h(i === 0 ? 'th' : 'td', { class: c.num ? 'num' : '', scope: i === 0 ? 'row' : undefined }, c.cell(row))))));
  };
  const table = h('table', { class: 'data' }, h('caption', { class: 'visually-hidden' }, label),
    h('thead', null, h('tr', null, headers)), tbody);
  fill();
  return {
    element: scrollTable(label, table),
    add(more) {
      rows.push(...more);
      fill();
    },
  };
}

function topicBadges(t) {
  return [
    t.is_announcement ? badge('announcement', 'badge-info') : null,
    t.graded ? badge('graded', 'badge-graded') : null,
    t.workflow_state && t.workflow_state !== 'active' ? badge(t.workflow_state, 'badge-muted') : null,
  ];
}

function waitClass(seconds) {
  return seconds > 7 * 86400 ? 'wait wait-long' : seconds > 2 * 86400 ? 'wait wait-mid' : 'wait';
}

/** The API cuts previews at a length, mid-word at times: say so with an ellipsis. */
function previewText(text) {
  const trimmed = text.trimEnd();
  return trimmed.length >= 150 && !/[.!?…]$/.test(trimmed) ? `${trimmed}…` : trimmed;
}

function unansweredItem(u) {
  return h('li', { class: 'unanswered-item' },
    h('div', { class: 'unanswered-main' },
      h('a', { href: `#/topic/${u.topic_id}?entry=${u.entry_id}`, class: 'unanswered-topic' }, u.topic_title || `Topic ${localId(u.topic_id)}`),
      h('p', { class: 'preview' }, u.preview ? previewText(u.preview) : h('span', { class: 'muted' }, '(no text)')),
      h('p', { class: 'meta' }, userLink(u.user_id), ' posted ', timeEl(u.created_at))),
    h('p', { class: waitClass(u.waiting_seconds), title: `${fmtInt(u.waiting_seconds)} seconds` },
      h('span', { class: 'wait-label' }, 'waiting'), h('strong', null, fmtDuration(u.waiting_seconds))));
}

export async function courseView(ctx) {
  const id = ctx.params[0];
  const from = ctx.query.get('from') || '';
  const to = ctx.query.get('to') || '';
  const windowParams = { since: from, until: to ? nextDay(to) : '' };
  const data = await apiGet(`/courses/${id}`, { ...windowParams, limit: PAGE }, ctx);
  const courseId = data.course_id;
  ctx.setTitle(`Course ${localId(courseId)}`);

  const rangeForm = h('form', { class: 'range', 'aria-label': 'Period' },
    h('div', { class: 'field' }, h('label', { for: 'range-from' }, 'From'),
      h('input', { type: 'date', id: 'range-from', name: 'from', value: from })),
    h('div', { class: 'field' }, h('label', { for: 'range-to' }, 'Through'),
      h('input', { type: 'date', id: 'range-to', name: 'to', value: to })),
    h('button', { type: 'submit' }, 'Show period'),
    from || to ? h('a', { href: `#/course/${courseId}`, class: 'button-link' }, 'All time') : null);
  rangeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    const f = rangeForm.elements.from.value;
    const t = rangeForm.elements.to.value;
    if (f) q.set('from', f);
    if (t) q.set('to', t);
    const qs = q.toString();
    ctx.go(`#/course/${courseId}${qs ? `?${qs}` : ''}`);
  });

  const activity = data.activity ?? [];
  const events = activity.reduce((sum, d) => sum + (d.total ?? 0), 0);
  const roles = Object.entries(data.users_by_role ?? {});
  const users = roles.reduce((sum, [, r]) => sum + (r.users ?? 0), 0);
  const topics = data.topics ?? [];
  const unanswered = data.unanswered ?? [];
  const period = from || to
    ? `${from ? fmtDay(from, 'long') : 'the start'} to ${to ? fmtDay(to, 'long') : 'now'}`
    : activity.length ? dayRange(activity[0].day, activity[activity.length - 1].day) : 'no activity yet';

  const head = pageHead(`Course ${localId(courseId)}`, {
    kicker: 'Course dashboard',
    sub: h('span', null, `Canvas id ${shardedId(courseId)} · ${period}`),
  });

  const summary = figures([
    ['Events', events],
    ['Active users', users, roles.map(([role, r]) => `${fmtInt(r.users)} ${roleLabel(role, r.users)}`).join(', ') || null],
    ['Topics', topics.length >= PAGE ? `${fmtInt(topics.length)}+` : topics.length],
    ['Unanswered student posts', data.unanswered_count ?? unanswered.length],
  ]);

  const chart = section('Activity per day', { id: 'activity', className: 'chart-panel', note: 'Events per UTC day, stacked by kind.' },
    activityChart(activity, { title: 'Events per day by kind' }));

  // topics
  const topicColumns = [
    { key: 'title', title: 'Topic', value: (t) => (t.title || '').toLowerCase(),
      cell: (t) => h('span', { class: 'topic-cell' }, h('a', { href: `#/topic/${t.discussion_topic_id}` }, t.title || `Topic ${localId(t.discussion_topic_id)}`), ' ', topicBadges(t)) },
    { key: 'entries', title: 'Replies', num: true, value: (t) => t.entries ?? 0, cell: (t) => fmtInt(t.entries) },
    { key: 'last', title: 'Last reply', value: (t) => t.last_entry_at || '', cell: (t) => (t.last_entry_at ? timeEl(t.last_entry_at) : h('span', { class: 'muted' }, 'none')) },
    { key: 'created', title: 'Created', value: (t) => t.created_at || '', cell: (t) => timeEl(t.created_at) },
  ];
  let topicsBody;
  if (!topics.length) {
    topicsBody = empty('No topics in this period.');
  } else {
    const table = sortableTable('Topics', topicColumns, [...topics], { key: 'entries', dir: -1 });
    topicsBody = h('div', null, table.element);
    if (topics.length >= PAGE) {
      let offset = topics.length;
      topicsBody.append(moreButton('Show more topics', async () => {
        const more = await apiGet(`/courses/${courseId}`, { ...windowParams, limit: PAGE, offset });
        offset += more.topics.length;
        table.add(more.topics);
        return more.topics.length < PAGE;
      }));
    }
  }
  const topicsSection = section('Topics', { id: 'topics', note: 'Sorted by replies; select a column to sort by it.' }, topicsBody);

  // unanswered
  const total = data.unanswered_count ?? unanswered.length;
  let unansweredBody;
  if (!unanswered.length) {
    unansweredBody = empty('Every student post in this period has an answer from a teacher or TA.');
  } else {
    // the first answer holds up to PAGE posts: show them ten at a time, then ask the server for more
    const loaded = [...unanswered];
    let fetched = loaded.length;
    let shown = Math.min(10, loaded.length);
    const list = h('ol', { class: 'unanswered' }, loaded.slice(0, shown).map(unansweredItem));
    const counter = h('p', { class: 'muted', role: 'status' });
    const count = () => { counter.textContent = `Showing ${fmtInt(shown)} of ${fmtInt(total)}.`; };
    count();
    unansweredBody = h('div', null, list, counter);
    if (shown < total) {
      unansweredBody.append(moreButton('Show more unanswered posts', async () => {
        if (shown >= loaded.length && fetched < total) {
          const more = await apiGet(`/courses/${courseId}`, { ...windowParams, limit: PAGE, offset: fetched });
          loaded.push(...more.unanswered);
          fetched += more.unanswered.length;
          if (!more.unanswered.length) fetched = total;
        }
        const next = loaded.slice(shown, shown + 20);
        list.append(...next.map(unansweredItem));
        shown += next.length;
        count();
        return shown >= total || (shown >= loaded.length && fetched >= total);
      }));
    }
  }
  const unansweredSection = section('Unanswered student posts', {
    id: 'unanswered',
    note: `Student posts no teacher or TA has replied to, oldest first; waiting ${to ? `until ${fmtDay(to, 'long')} ends` : 'until now'}.`,
  }, unansweredBody);

  const rolesSection = roles.length ? section('Active users by role', { id: 'roles' }, scrollTable('Users by role',
    h('table', { class: 'data' }, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Role'),
      h('th', { scope: 'col', class: 'num' }, 'Users'), h('th', { scope: 'col', class: 'num' }, 'Events'))),
    h('tbody', null, roles.map(([role, r]) => h('tr', null, h('th', { scope: 'row' }, role),
      h('td', { class: 'num' }, fmtInt(r.users)), h('td', { class: 'num' }, fmtInt(r.events)))))))) : null;

  const searchLink = h('a', { class: 'button-link', href: `#/search?course=${courseId}` }, 'Search this course');
  const liveLink = h('a', { class: 'button-link', href: `#/live?course=${courseId}` }, 'Live events');
  head.append(h('div', { class: 'page-actions' }, searchLink, liveLink));

  ctx.render(head, rangeForm, summary, chart, topicsSection, unansweredSection, rolesSection);
}

function roleLabel(role, n) {
  const names = { StudentEnrollment: ['student', 'students'], TeacherEnrollment: ['teacher', 'teachers'], TaEnrollment: ['TA', 'TAs'],
    DesignerEnrollment: ['designer', 'designers'], ObserverEnrollment: ['observer', 'observers'] };
  const pair = names[role];
  return pair ? pair[n === 1 ? 0 : 1] : role;
}

// ---- a conversation ----

export async function conversationView(ctx) {
  const data = await apiGet(`/conversations/${ctx.params[0]}`, {}, ctx);
  const c = data.conversation ?? {};
  const id = c.conversation_id ?? ctx.params[0];
  ctx.setTitle(`Conversation ${localId(id)}`);
  const timeline = data.timeline ?? [];
  const head = pageHead(`Conversation ${localId(id)}`, {
    kicker: 'Conversation',
    sub: h('span', null, 'Started by ', userLink(c.created_by), ' ', timeEl(c.created_at), ' · last updated ', timeEl(c.updated_at)),
  });
  const summary = figures([
    ['Messages', data.message_count ?? timeline.filter((t) => t.type === 'message').length],
    ['Forwards', data.forward_count ?? timeline.filter((t) => t.type === 'forwarded').length],
    ['People', new Set(timeline.map((t) => t.author_id ?? t.user_id).filter(Boolean)).size],
  ]);
  const items = timeline.map((t) => {
    if (t.type === 'message') {
      return h('li', { class: 'tl-item tl-message' },
        h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-body' },
          h('p', null, h('strong', null, 'Message'), ' ', h('span', { class: 'muted' }, `#${localId(t.message_id)}`), ' from ', userLink(t.author_id)),
          h('p', { class: 'meta' }, timeEl(t.created_at ?? t.event_time))));
    }
    if (t.type === 'forwarded') {
      return h('li', { class: 'tl-item tl-forward' },
        h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
        h('div', { class: 'tl-body' },
          h('p', null, h('strong', null, 'Forwarded'), ': ', userLink(t.user_id), ' added people to the conversation'),
          h('p', { class: 'meta' }, timeEl(t.updated_at ?? t.event_time))));
    }
    return h('li', { class: 'tl-item' }, h('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
      h('div', { class: 'tl-body' }, h('p', null, t.type ?? 'event'), h('p', { class: 'meta' }, timeEl(t.event_time))));
  });
  ctx.render(head, summary,
    section('Timeline', { id: 'timeline', note: 'Live Events say who wrote when, not what: message text is not part of them.' },
      items.length ? h('ol', { class: 'timeline' }, items) : empty('No messages yet.')));
}

// ---- a user ----

export async function userView(ctx) {
  const data = await apiGet(`/users/${ctx.params[0]}`, { limit: PAGE }, ctx);
  const id = data.user_id ?? ctx.params[0];
  ctx.setTitle(`User ${localId(id)}`);
  const entries = data.entries ?? [];
  const topics = data.topics ?? [];
  const messages = data.messages ?? [];
  const started = data.conversations_started ?? [];
  const head = pageHead(`User ${localId(id)}`, { kicker: 'User', sub: `Canvas id ${shardedId(id)}` });
  const capped = (list) => (list.length >= PAGE ? `${fmtInt(list.length)}+` : list.length);
  const summary = figures([
    ['Entries posted', capped(entries)], ['Topics created', capped(topics)],
    ['Messages sent', capped(messages)], ['Conversations started', capped(started)],
  ]);
  const entryItem = (e) => h('li', { class: 'post' },
    h('a', { href: `#/topic/${e.topic_id}?entry=${e.id}` }, e.topic_title || `Topic ${localId(e.topic_id)}`),
    ' ', e.parent_id ? badge('reply', 'badge-muted') : null,
    h('p', { class: 'preview' }, truncate(htmlToText(e.text), 240) || h('span', { class: 'muted' }, '(no text)')),
    h('p', { class: 'meta' }, courseLink(e.course_id), ' · ', timeEl(e.created_at)));
  const topicItem = (t) => h('li', { class: 'post' },
    h('a', { href: `#/topic/${t.discussion_topic_id ?? t.topic_id}` }, t.title || `Topic ${localId(t.discussion_topic_id ?? t.topic_id)}`),
    h('p', { class: 'meta' }, t.course_id ?? t.context_id ? [courseLink(t.course_id ?? t.context_id), ' · '] : null, timeEl(t.created_at)));
  const conversationItem = (c) => h('li', null,
    h('a', { href: `#/conversation/${c.conversation_id}` }, `Conversation ${localId(c.conversation_id)}`), ' ', timeEl(c.created_at));
  const byConversation = new Map();
  for (const m of messages) {
    const entry = byConversation.get(m.conversation_id) ?? { n: 0, last: '' };
    entry.n++;
    if ((m.created_at ?? '') > entry.last) entry.last = m.created_at;
    byConversation.set(m.conversation_id, entry);
  }
  ctx.render(head, summary,
    h('div', { class: 'columns' },
      section('Entries posted', { id: 'user-entries' }, entries.length ? h('ol', { class: 'posts' }, entries.map(entryItem)) : empty('No entries.')),
      h('div', null,
        section('Topics created', { id: 'user-topics' }, topics.length ? h('ol', { class: 'posts' }, topics.map(topicItem)) : empty('No topics.')),
        section('Conversations started', { id: 'user-started' }, started.length ? h('ul', { class: 'plain' }, started.map(conversationItem)) : empty('None.')),
        section('Messages sent', { id: 'user-messages' }, byConversation.size
          ? h('ul', { class: 'plain' }, [...byConversation].map(([cid, v]) => h('li', null,
            h('a', { href: `#/conversation/${cid}` }, `Conversation ${localId(cid)}`), ` · ${plural(v.n, 'message', 'messages')}, last `, timeEl(v.last))))
          : empty('No messages.')))));
}

// ---- search ----

function resultItem(r, terms, prefixes) {
  const isEntry = r.kind === 'entry';
  const href = isEntry ? `#/topic/${r.topic_id}?entry=${r.entry_id}` : `#/topic/${r.topic_id}`;
  return h('li', { class: 'result' },
    h('p', { class: 'result-head' }, badge(isEntry ? 'entry' : 'topic', isEntry ? 'badge-role' : 'badge-info'), ' ',
      h('a', { href, class: 'result-title' }, highlight(r.topic_title || `Topic ${localId(r.topic_id)}`, terms, prefixes))),
    h('p', { class: 'snippet' }, highlight(r.snippet ?? '', terms, prefixes)),
    h('p', { class: 'meta' }, r.user_id ? userLink(r.user_id) : null, r.user_id ? ' · ' : null, courseLink(r.course_id), ' · ', timeEl(r.created_at)));
}

export async function searchView(ctx) {
  const q = (ctx.query.get('q') ?? '').trim();
  const course = ctx.query.get('course') ?? '';
  ctx.setTitle(q ? `Search: ${q}` : 'Search');
  const [courses, data] = await Promise.all([
    courseOptions().catch(() => []),
    q ? apiGet('/search', { q, course, limit: 50 }, ctx) : Promise.resolve(null),
  ]);
  const input = h('input', { type: 'search', id: 'search-q', name: 'q', value: q, required: true, autocomplete: 'off', placeholder: 'words, "a phrase", photo*' });
  const form = h('form', { class: 'search-form', role: 'search' },
    h('div', { class: 'field grow' }, h('label', { for: 'search-q' }, 'Search entries and topics'), input),
    h('div', { class: 'field' }, h('label', { for: 'search-course' }, 'In'), courseSelect('course', 'search-course', course, courses)),
    h('button', { type: 'submit', class: 'primary' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    p.set('q', form.elements.q.value.trim());
    if (form.elements.course.value) p.set('course', form.elements.course.value);
    ctx.go(`#/search?${p}`);
  });
  const head = pageHead('Search', { sub: 'Every word must match; "quoted words" match as a phrase; end a word with * to match its beginning. Accents and case do not matter.' });
  if (!q) {
    ctx.render(head, form);
    ctx.focus(input);
    return;
  }
  const nodes = [head, form];
  if (/^\d{1,20}$/.test(q)) {
    nodes.push(h('p', { class: 'id-jump' }, `${q} looks like a Canvas id. Open it as: `,
      h('a', { href: `#/topic/${q}` }, 'topic'), ' · ', h('a', { href: `#/conversation/${q}` }, 'conversation'), ' · ',
      h('a', { href: `#/user/${q}` }, 'user'), ' · ', h('a', { href: `#/course/${q}` }, 'course')));
  }
  const results = data.results ?? [];
  const terms = data.terms ?? [];
  const prefixes = prefixTerms(q);
  const heading = h('h2', { id: 'results-title', tabindex: '-1' },
    results.length ? `${results.length >= 50 ? 'First ' : ''}${plural(results.length, 'result', 'results')} for “${q}”` : `Nothing matches “${q}”`);
  const list = h('ol', { class: 'results', 'aria-labelledby': 'results-title' }, results.map((r) => resultItem(r, terms, prefixes)));
  const body = [heading];
  if (!results.length) {
    body.push(empty(course ? 'Nothing in this course matches. Try all courses, fewer words, or a word with * at its end.'
      : 'Try fewer words, another spelling, or a word with * at its end (e.g. photo*).'));
  } else {
    body.push(list);
    if (results.length >= 50) {
      let offset = results.length;
      body.push(moreButton('Show more results', async () => {
        const more = await apiGet('/search', { q, course, limit: 50, offset });
        list.append(...more.results.map((r) => resultItem(r, terms, prefixes)));
        offset += more.results.length;
        heading.textContent = `${plural(offset, 'result', 'results')} for “${q}”`;
        return more.results.length < 50;
      }));
    }
  }
  nodes.push(h('section', { class: 'panel', 'aria-labelledby': 'results-title' }, body));
  ctx.render(...nodes);
  ctx.focus(heading);
}

// ---- statistics ----

export async function statsView(ctx) {
  ctx.setTitle('Statistics');
  const s = await apiGet('/stats', {}, ctx);
  const head = pageHead('Statistics', { sub: s.first_event_time ? `Events from ${fmtDateTime(s.first_event_time)} to ${fmtDateTime(s.last_event_time)}` : 'The store is empty.' });
  const summary = figures([
    ['Events stored', s.events],
    ['Duplicates recognised', s.duplicates],
    ['Dead letters', s.dead_letters, 'rejected input, kept as received'],
    ['Outside the model', s.outside_model ?? 0, 'kept as they came'],
    ['On disk', fmtBytes(s.bytes_on_disk), s.bytes_per_event ? `${fmtBytes(Math.round(s.bytes_per_event))} per event` : null],
  ]);
  const byEvent = Object.entries(s.by_event ?? {}).sort((a, b) => b[1].total - a[1].total);
  const max = Math.max(1, ...byEvent.map(([, v]) => v.total));
  const table = byEvent.length ? scrollTable('Events by name and format', h('table', { class: 'data' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Event'), h('th', { scope: 'col', class: 'num' }, 'canvas'),
      h('th', { scope: 'col', class: 'num' }, 'Caliper'), h('th', { scope: 'col', class: 'num' }, 'Total'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Share')))),
    h('tbody', null, byEvent.map(([name, v]) => h('tr', null,
      h('th', { scope: 'row' }, h('span', { class: `swatch ${kindClass(name)}`, 'aria-hidden': 'true' }), ' ', h('code', null, name),
        h('span', { class: 'muted' }, ` ${kindLabel(name) !== name ? kindLabel(name) : ''}`)),
      h('td', { class: 'num' }, fmtInt(v.canvas)), h('td', { class: 'num' }, fmtInt(v.caliper)), h('td', { class: 'num' }, fmtInt(v.total)),
      h('td', { class: 'share' }, h('meter', { min: 0, max, value: v.total, 'aria-label': `${name} share` }))))))) : empty('No events yet.');
  ctx.render(head, summary, section('Events by name and format', { id: 'by-event' }, table), driftSection(s));
}

// What Canvas sent that the catalog does not model: event names and fields, newest first, so an
// operator sees when Canvas adds something.
function driftSection(s) {
  const drift = s.drift ?? [];
  const note = 'Event names outside the model and fields the catalog does not know, with when they were first and last seen (event times). They are kept as they came.';
  if (!drift.length) return section('Schema drift', { id: 'drift', note }, empty('Nothing outside the catalog: every event name and field stored is modelled.'));
  const more = s.drift_count > drift.length ? h('p', { class: 'muted' }, `${fmtInt(drift.length)} of ${fmtInt(s.drift_count)} listed.`) : null;
  const table = scrollTable('Schema drift', h('table', { class: 'data' },
    h('thead', null, h('tr', null, ['Event', 'Field', 'Format', 'Events', 'First seen', 'Last seen'].map((t, i) =>
      h('th', { scope: 'col', class: i === 3 ? 'num' : null }, t)))),
    h('tbody', null, drift.map((d) => h('tr', null,
      h('th', { scope: 'row' }, h('code', null, d.event)),
      h('td', null, d.field === null ? h('span', { class: 'muted' }, 'the event itself') : h('code', null, d.field)),
      h('td', null, d.format === 'caliper' ? 'Caliper' : 'canvas'),
      h('td', { class: 'num' }, fmtInt(d.count)),
      h('td', null, timeEl(d.first_seen)), h('td', null, timeEl(d.last_seen)))))));
  return section('Schema drift', { id: 'drift', note }, table, more);
}

// ---- not found ----

export async function notFoundView(ctx) {
  ctx.setTitle('Not found');
  ctx.render(pageHead('There is no such page'), h('p', null, 'The address does not match any view. ',
    h('a', { href: '#/courses' }, 'Go to the courses'), '.'));
}
