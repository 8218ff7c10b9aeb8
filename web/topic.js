// topic.js: the topic view: the topic's title, state and body, the history of its versions, and its reply
// tree (tree.js) with a finder that searches every entry, drawn or not. A link to one entry
// (#/topic/ID?entry=EID) opens the tree down to that entry without reloading the topic.

import { apiGet } from './api.js';
import { kindInfo } from './catalog.js';
import { h, fmtInt, timeEl, plural, localId, shardedId, userLink, courseLink, truncate, highlight } from './dom.js';
import { sanitizeHtml, htmlToText } from './sanitize.js';
import { ReplyTree } from './tree.js';
import { pageHead, section, figures, badge } from './ui.js';

const FIELD_NAMES = {
  title: 'title', body: 'body', workflow_state: 'state', is_announcement: 'announcement', lock_at: 'locks at',
  assignment_id: 'assignment', context_id: 'course', context_type: 'context type', updated_at: 'updated at',
};

function changeValue(key, value) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, 'none');
  if (key === 'body') return h('span', { class: 'change-text' }, truncate(htmlToText(String(value)), 300) || '(empty)');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (key === 'context_id') return courseLink(String(value));
  if (key.endsWith('_id') && /^\d+$/.test(String(value))) return shardedId(String(value));
  if (key.endsWith('_at')) return timeEl(String(value));
  return String(value);
}

function historyList(history) {
  return h('ol', { class: 'history' }, history.map((v) => {
    // the catalog's first topic kind creates the topic, the later ones update it (catalog.js)
    const kind = kindInfo(v.event);
    const changes = Object.entries(v.changes ?? {});
    return h('li', null,
      h('p', null, h('strong', null, kind ? (kind.first ? 'Created' : 'Updated') : h('code', null, v.event ?? 'version')), ' by ',
        v.user_id && v.user_id !== '0' ? userLink(v.user_id) : h('span', { class: 'muted' }, 'Canvas itself (no user: a background job such as a course copy)'),
        ' · ', timeEl(v.event_time)),
      changes.length ? h('dl', { class: 'changes' }, changes.map(([key, value]) => h('div', null,
        h('dt', null, FIELD_NAMES[key] ?? key), h('dd', null, changeValue(key, value))))) : h('p', { class: 'muted' }, 'No field changed.'));
  }));
}

function topicStateBadges(t) {
  return [
    t.is_announcement ? badge('announcement', 'badge-info') : badge('discussion', 'badge-muted'),
    t.workflow_state ? badge(t.workflow_state, t.workflow_state === 'active' ? 'badge-ok' : 'badge-warn') : null,
    t.assignment_id ? badge('graded', 'badge-graded') : null,
    t.lock_at ? badge(Date.parse(t.lock_at) < Date.now() ? 'locked' : 'locks later', 'badge-muted') : null,
  ];
}

function finder(tree) {
  const input = h('input', { type: 'search', id: 'find-in-topic', autocomplete: 'off', placeholder: 'a word, or a user id' });
  const status = h('p', { class: 'muted', role: 'status' });
  const results = h('ol', { class: 'find-results' });
  let timer = 0;
  const run = () => {
    const q = input.value.trim();
    if (q.length < 2) {
      status.textContent = q ? 'Type at least two characters.' : '';
      results.replaceChildren();
      return;
    }
    const { found, count } = tree.find(q, 30);
    const words = q.split(/\s+/);
    status.textContent = count ? `${plural(count, 'entry matches', 'entries match')}${count > found.length ? `; the first ${found.length} are listed` : ''}.` : 'No entry matches.';
    results.replaceChildren(...found.map((f) => h('li', null, h('button', {
      type: 'button', class: 'find-hit',
      onclick: () => tree.expandTo(f.id),
    }, h('span', { class: 'find-who' }, `User ${localId(f.entry.user_id)}`), ' ', highlight(f.excerpt, words, words)))));
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(run, 180);
  });
  const form = h('form', { class: 'finder', role: 'search', 'aria-label': 'Find in this topic' },
    h('label', { for: 'find-in-topic' }, 'Find in this topic'), input, status, results);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    run();
  });
  return form;
}

export async function topicView(ctx) {
  const data = await apiGet(`/topics/${ctx.params[0]}`, {}, ctx);
  const t = data.topic ?? {};
  const id = t.discussion_topic_id ?? ctx.params[0];
  const title = t.title || `Topic ${localId(id)}`;
  ctx.setTitle(title);
  const entries = data.entries ?? [];
  const tree = new ReplyTree(id, entries);
  const people = new Set();
  for (const node of tree.info.values()) people.add(node.entry.user_id);

  const head = pageHead(title, {
    kicker: h('span', null, t.context_id ? courseLink(t.context_id) : 'Topic', ' › ', t.is_announcement ? 'Announcement' : 'Discussion topic'),
    sub: h('span', { class: 'topic-meta' }, topicStateBadges(t), ' Created ', timeEl(t.created_at),
      t.created_by ? [' by ', userLink(t.created_by)] : null,
      t.updated_at && t.updated_at !== t.created_at ? [' · updated ', timeEl(t.updated_at)] : null,
      t.lock_at ? [' · locks ', timeEl(t.lock_at)] : null),
  });
  const body = h('div', { class: 'topic-body user-html' });
  if (t.body) body.append(sanitizeHtml(t.body));
  else body.append(h('p', { class: 'muted' }, 'This topic has no text.'));

  const summary = figures([
    ['Entries', data.entry_count ?? tree.total],
    ['Threads', entries.length],
    ['People', people.size],
    ['Deepest reply chain', entries.length ? tree.maxDepth + 1 : 0],
    ['Versions', t.versions ?? (data.history ?? []).length],
  ]);

  const historySection = (data.history ?? []).length
    ? h('details', { class: 'panel history-panel' }, h('summary', null, h('h2', null, `History (${plural(data.history.length, 'version', 'versions')})`)),
      historyList(data.history))
    : null;

  const repliesSection = section(`Replies`, {
    id: 'replies',
    note: tree.total > 150 ? `${fmtInt(tree.total)} entries: threads and replies open a page at a time.` : 'Oldest first.',
  }, tree.total > 20 ? finder(tree) : null, tree.element);

  ctx.render(head, h('article', { class: 'panel topic-panel', 'aria-label': 'Topic text' }, body), summary, historySection, repliesSection);

  const entry = ctx.query.get('entry');
  if (entry && tree.expandTo(entry, { focus: false })) ctx.focus(tree.info.get(entry).state.card, { scroll: true });

  return {
    update(query) {
      const target = query.get('entry');
      if (!target) return false;
      if (!tree.expandTo(target)) return false;
      return true;
    },
  };
}
