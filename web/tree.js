// tree.js: a topic's reply tree, made to stay fast with thousands of entries. Nothing is drawn until it
// is needed: threads and replies appear a page at a time, subtrees beyond the first levels start
// collapsed, and each burst of drawing has a budget of entries, so the page holds a few hundred entries
// however large the topic is. Any entry can still be reached: expandTo() opens the path to it, and
// find() looks through every entry's text without drawing them.

import { h, timeEl, userLink, roleName, isStaffRole, plural, fold, truncate, localId } from './dom.js';
import { sanitizeHtml, htmlToText } from './sanitize.js';

const TOP_PAGE = 20;      // threads drawn at first and per "show more"
const REPLY_PAGE = 10;    // replies drawn per list at a time
const AUTO_DEPTH = 3;     // levels opened by themselves while the budget lasts
const FIRST_BUDGET = 150; // entries drawn when the topic opens
const MORE_BUDGET = 80;   // entries drawn per click
const FLAT_DEPTH = 6;     // deeper replies stop indenting and say whom they answer

export class ReplyTree {
  /**
   * topicId: for permalinks; entries: the API's nested reply tree (each entry has replies: [...]).
   */
  constructor(topicId, entries) {
    this.topicId = topicId;
    this.info = new Map(); // id -> {entry, parent, depth, index (among siblings), size (descendants), state, text}
    this.maxDepth = 0;
    this.total = 0;
    // index the tree without recursion: a reply chain can be thousands deep
    const order = [];
    const stack = [];
    for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i], null, 0, i]);
    while (stack.length) {
      const [entry, parent, depth, index] = stack.pop();
      const node = { entry, parent, depth, index, size: 0, state: null, text: null };
      this.info.set(entry.id, node);
      order.push(node);
      if (depth > this.maxDepth) this.maxDepth = depth;
      const replies = Array.isArray(entry.replies) ? entry.replies : [];
      for (let i = replies.length - 1; i >= 0; i--) stack.push([replies[i], node, depth + 1, i]);
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      if (node.parent) node.parent.size += node.size + 1;
    }
    this.total = order.length;
    this.element = h('div', { class: 'tree' });
    if (!entries.length) {
      this.element.append(h('p', { class: 'empty' }, 'No replies yet.'));
      return;
    }
    const ol = h('ol', { class: 'threads', 'aria-label': 'Replies' });
    this.element.append(ol);
    this.top = new ChildList(this, entries, 0, ol);
    this.top.showMore(this.top.gaps[0], TOP_PAGE, { left: FIRST_BUDGET });
  }

  drawEntry(entry, depth, budget) {
    budget.left--;
    const node = this.info.get(entry.id);
    const replies = Array.isArray(entry.replies) ? entry.replies : [];
    const headId = `entry-head-${entry.id}`;
    const role = roleName(entry.role);
    const head = h('header', { class: 'entry-head', id: headId },
      userLink(entry.user_id),
      role ? h('span', { class: ['badge', isStaffRole(entry.role) ? 'badge-staff' : 'badge-role'] }, role) : null,
      entry.submission_id ? h('span', { class: 'badge badge-graded', title: `submission ${localId(entry.submission_id)}` }, 'graded') : null,
      h('a', { class: 'permalink', href: `#/topic/${this.topicId}?entry=${entry.id}`, title: 'Link to this entry' }, timeEl(entry.created_at)),
      depth >= FLAT_DEPTH && node.parent
        ? h('span', { class: 'reply-to' }, '↪ replying to ', userLink(node.parent.entry.user_id)) : null);
    const body = h('div', { class: 'entry-body user-html' });
    if (typeof entry.text === 'string' && entry.text !== '') body.append(sanitizeHtml(entry.text));
    else body.append(h('p', { class: 'muted' }, '(no text)'));
    const card = h('article', {
      class: ['entry-card', isStaffRole(entry.role) && 'staff'], id: `entry-${entry.id}`, tabindex: '-1', 'aria-labelledby': headId,
    }, head, body);
    const li = h('li', { class: 'entry', 'data-id': entry.id }, card);
    const state = { li, card, button: null, ol: null, list: null, open: false };
    node.state = state;
    if (replies.length) {
      const listId = `replies-${entry.id}`;
      state.ol = h('ol', { class: ['replies', depth + 1 >= FLAT_DEPTH && 'flat'], id: listId, hidden: true });
      state.button = h('button', {
        type: 'button', class: 'toggle', 'aria-expanded': 'false', 'aria-controls': listId,
        onclick: () => (state.open ? this.collapse(node) : this.expand(node, { left: MORE_BUDGET })),
      });
      this.label(node);
      card.append(h('footer', { class: 'entry-foot' }, state.button));
      li.append(state.ol);
      if (depth + 1 < AUTO_DEPTH && budget.left > 0) this.expand(node, budget);
    }
    return li;
  }

  label(node) {
    const { state, entry, size } = node;
    const n = entry.replies.length;
    const words = state.open ? `Hide ${n === 1 ? 'the reply' : `${n} replies`}` : plural(n, 'reply', 'replies');
    state.button.textContent = size > n && !state.open ? `${words} (${plural(size, 'entry', 'entries')} in this thread)` : words;
  }

  expand(node, budget) {
    const { state } = node;
    if (!state.list) {
      state.list = new ChildList(this, node.entry.replies, node.depth + 1, state.ol);
      state.list.showMore(state.list.gaps[0], REPLY_PAGE, budget);
    }
    state.ol.hidden = false;
    state.open = true;
    state.button.setAttribute('aria-expanded', 'true');
    this.label(node);
  }

  collapse(node) {
    const { state } = node;
    state.ol.hidden = true;
    state.open = false;
    state.button.setAttribute('aria-expanded', 'false');
    this.label(node);
  }

  /** Opens every level down to the entry, draws it, scrolls to it and focuses it. False if unknown. */
  expandTo(id, { focus = true } = {}) {
    const target = this.info.get(id);
    if (!target) return false;
    const path = [];
    for (let n = target; n; n = n.parent) path.unshift(n);
    let list = this.top;
    for (const node of path) {
      list.ensure(node.index);
      if (node === target) break;
      if (!node.state.list || !node.state.open) this.expand(node, { left: 0 });
      list = node.state.list;
    }
    const card = target.state.card;
    for (const old of this.element.querySelectorAll('.entry-card.target')) old.classList.remove('target');
    card.classList.add('target');
    if (focus) {
      card.focus({ preventScroll: true });
      card.scrollIntoView({ block: 'center' });
    }
    return true;
  }

  /** Entries whose text or author matches the words, in tree order; at most limit of them. */
  find(query, limit = 50) {
    const needle = fold(query.trim());
    const found = [];
    let count = 0;
    if (!needle) return { found, count };
    for (const node of this.info.values()) {
      if (node.text === null) node.text = htmlToText(node.entry.text);
      node.folded ??= fold(node.text);
      if (node.folded.includes(needle) || localId(node.entry.user_id) === needle) {
        count++;
        if (found.length < limit) {
          const at = node.folded.indexOf(needle);
          const from = Math.max(0, at - 40);
          found.push({ id: node.entry.id, entry: node.entry, excerpt: truncate((from ? '…' : '') + node.text.slice(from), 160) });
        }
      }
    }
    return { found, count };
  }
}

/** One list of siblings (the threads, or one entry's replies), drawn in runs with "show more" gaps between. */
class ChildList {
  constructor(tree, items, depth, ol) {
    this.tree = tree;
    this.items = items;
    this.depth = depth;
    this.ol = ol;
    this.gaps = [];
    if (items.length) {
      const gap = { start: 0, end: items.length, li: null };
      gap.li = this.gapItem(gap);
      ol.append(gap.li);
      this.gaps.push(gap);
    }
  }

  gapItem(gap) {
    const li = h('li', { class: 'more' });
    this.labelGap(gap, li);
    return li;
  }

  labelGap(gap, li = gap.li) {
    const n = gap.end - gap.start;
    const page = this.depth === 0 ? TOP_PAGE : REPLY_PAGE;
    const noun = (k) => (this.depth === 0 ? (k === 1 ? 'thread' : 'threads') : (k === 1 ? 'reply' : 'replies'));
    const trailing = gap.end === this.items.length; // nothing drawn after it
    let text;
    if (trailing) text = n > page ? `Show ${page} more ${noun(page)} (${n} not shown yet)` : `Show ${n} more ${noun(n)}`;
    else text = n > page ? `Show ${page} of ${n} hidden ${noun(n)}` : `Show ${n} hidden ${noun(n)}`;
    li.replaceChildren(h('button', {
      type: 'button', class: 'show-more', onclick: () => this.showMore(gap, page, { left: MORE_BUDGET }, true),
    }, text));
  }

  /** Draws items [from, to) out of the gap, leaving gaps before and after if anything is left there. */
  drawRange(gap, from, to, budget, focusFirst = false) {
    const fragment = document.createDocumentFragment();
    const at = this.gaps.indexOf(gap);
    const before = from > gap.start ? { start: gap.start, end: from, li: null } : null;
    const after = to < gap.end ? { start: to, end: gap.end, li: null } : null;
    const replacements = [before, after].filter(Boolean);
    this.gaps.splice(at, 1, ...replacements);
    if (before) {
      before.li = this.gapItem(before);
      fragment.append(before.li);
    }
    let first = null;
    for (let i = from; i < to; i++) {
      const li = this.tree.drawEntry(this.items[i], this.depth, budget);
      first ??= li;
      fragment.append(li);
    }
    if (after) {
      after.li = this.gapItem(after);
      fragment.append(after.li);
    }
    const hadFocus = gap.li.contains(document.activeElement);
    gap.li.replaceWith(fragment);
    for (const g of this.gaps) this.labelGap(g);
    if (focusFirst && hadFocus && first) first.querySelector('.entry-card').focus();
  }

  showMore(gap, count, budget, focusFirst = false) {
    this.drawRange(gap, gap.start, Math.min(gap.end, gap.start + count), budget, focusFirst);
  }

  /** Makes sure the item at index is drawn (with a few neighbours), wherever it is in the list. */
  ensure(index) {
    const gap = this.gaps.find((g) => index >= g.start && index < g.end);
    if (!gap) return;
    const from = index - gap.start < 3 ? gap.start : index - 2;
    this.drawRange(gap, from, Math.min(gap.end, index + 3), { left: 0 });
  }
}
