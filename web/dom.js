// dom.js: small helpers the views share: building elements without HTML strings, formatting numbers,
// times, durations and Canvas ids for people, and highlighting search terms in plain text.

const SVG_NS = 'http://www.w3.org/2000/svg';

function applyProps(el, props) {
  if (!props) return;
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'value' || key === 'checked' || key === 'selected') el[key] = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
}

function appendChildren(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** An HTML element: h('a', {href: '#/x', class: 'y'}, 'text', otherNode). Strings become text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** An SVG element, the same way. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

// ---- numbers and times ----

const intFormat = new Intl.NumberFormat();
export function fmtInt(n) {
  return typeof n === 'number' && Number.isFinite(n) ? intFormat.format(n) : '–';
}

/** "1 reply", "3 replies" */
export function plural(n, one, many) {
  return `${fmtInt(n)} ${n === 1 ? one : many}`;
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? fmtInt(n) : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });
const longDayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

function parseTime(iso) {
  if (typeof iso !== 'string') return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** A <time> element showing an instant in the reader's zone, with the exact UTC time as its tooltip. */
export function timeEl(iso, { style = 'datetime' } = {}) {
  const d = parseTime(iso);
  if (!d) return h('span', { class: 'muted' }, '–');
  const text = style === 'time' ? timeFormat.format(d) : style === 'relative' ? fmtRelative(d) : dateTimeFormat.format(d);
  return h('time', { datetime: iso, title: iso }, text);
}

export function fmtDateTime(iso) {
  const d = parseTime(iso);
  return d ? dateTimeFormat.format(d) : '–';
}

export function fmtRelative(d) {
  const seconds = (d.getTime() - Date.now()) / 1000;
  const abs = Math.abs(seconds);
  const steps = [[60, 'second', 1], [3600, 'minute', 60], [86400, 'hour', 3600], [86400 * 30, 'day', 86400],
    [86400 * 365, 'month', 86400 * 30], [Infinity, 'year', 86400 * 365]];
  for (const [limit, unit, size] of steps) {
    if (abs < limit) return relative.format(Math.round(seconds / size), unit);
  }
  return '';
}

/** A UTC day "2024-09-02" as "Mon, 2 Sep" (style 'short': "2 Sep", 'long': "2 Sep 2024"). */
export function fmtDay(day, style = 'weekday') {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms)) return day;
  const f = style === 'short' ? shortDayFormat : style === 'long' ? longDayFormat : dayFormat;
  return f.format(new Date(ms));
}

/** Seconds as the two largest units: "45 s", "12 min", "3 h 20 min", "5 days 3 h", "2 years 81 days". */
export function fmtDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '–';
  const units = [['year', 'years', 365 * 86400], ['day', 'days', 86400], ['h', 'h', 3600], ['min', 'min', 60], ['s', 's', 1]];
  const parts = [];
  let rest = Math.floor(seconds);
  for (const [one, many, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${n === 1 ? one : many}`);
    if (parts.length > 0 && (parts.length === 2 || n === 0 || size === 1)) break; // the largest unit and the next
  }
  return parts.length ? parts.join(' ') : '0 s';
}

/** The next UTC day after "YYYY-MM-DD". */
export function nextDay(day) {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return new Date(ms + 86400000).toISOString().slice(0, 10);
}

// ---- Canvas ids ----

const SHARD_FACTOR = 10n ** 13n;

/** A global Canvas id's local part ("69370000000059257" -> "59257"); the id itself if it is not one. */
export function localId(id) {
  if (typeof id !== 'string' || !/^\d{1,20}$/.test(id)) return String(id ?? '');
  try {
    const big = BigInt(id);
    return big >= SHARD_FACTOR ? String(big % SHARD_FACTOR) : id;
  } catch {
    return id;
  }
}

/** Canvas's own notation for a global id: "6937~59257". */
export function shardedId(id) {
  if (typeof id !== 'string' || !/^\d{1,20}$/.test(id)) return String(id ?? '');
  const big = BigInt(id);
  return big >= SHARD_FACTOR ? `${big / SHARD_FACTOR}~${big % SHARD_FACTOR}` : id;
}

const ROLES = {
  StudentEnrollment: 'Student', TeacherEnrollment: 'Teacher', TaEnrollment: 'TA',
  DesignerEnrollment: 'Designer', ObserverEnrollment: 'Observer',
};
export function roleName(role) {
  return ROLES[role] ?? role ?? '';
}

export function isStaffRole(role) {
  return role === 'TeacherEnrollment' || role === 'TaEnrollment' || role === 'DesignerEnrollment';
}

// ---- links ----

export function userLink(id) {
  if (!id || id === '0') return h('span', { class: 'muted' }, 'Canvas (no user)');
  return h('a', { href: `#/user/${id}`, class: 'user', title: `user ${shardedId(id)}` }, `User ${localId(id)}`);
}

export function courseLink(id) {
  if (!id) return h('span', { class: 'muted' }, 'no course');
  return h('a', { href: `#/course/${id}`, title: `course ${shardedId(id)}` }, `Course ${localId(id)}`);
}

// ---- search terms ----

/** Text folded the way levee's index folds it: lower case, diacritics removed. */
export function fold(text) {
  return text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/**
 * A fragment showing text with the words that match the search terms in <mark>. A word matches a term
 * when they are equal once folded, or when it starts with a term the query used as a prefix ("photo*").
 */
export function highlight(text, terms, prefixes = []) {
  const exact = new Set(terms.map(fold));
  const starts = prefixes.map(fold).filter(Boolean);
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const m of String(text).matchAll(WORD)) {
    const word = fold(m[0]);
    if (!exact.has(word) && !starts.some((p) => word.startsWith(p))) continue;
    if (m.index > last) fragment.append(text.slice(last, m.index));
    fragment.append(h('mark', null, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

/** The words of a query written with a trailing * (prefix searches). */
export function prefixTerms(query) {
  return [...String(query).matchAll(/([\p{L}\p{N}\p{M}]+)\*/gu)].map((m) => m[1]);
}

export function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1).trimEnd()}…` : text;
}
