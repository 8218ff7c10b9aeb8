// catalog.js: the event kinds as the server's catalog names them (GET /api/catalog, fetched once when the
// page starts and kept): their order, which is the chart's stacking order and the colour classes k0..k7,
// their labels for people, and what each kind's events are about (its subject: entry, topic, conversation,
// message). The page spells no kind name itself. Without the catalog (an older server, a failed call) kinds
// are shown by their raw names and coloured in the order the page first meets them.

import { apiGet } from './api.js';

const COLOURS = 7; // k0..k6 for the catalog's kinds in order; k7 for every other kind
const WAIT_MS = 5000; // how long a view waits for the catalog before drawing without it

let kinds = []; // [{name, label, family, subject, caliper, fields, index, first}], in catalog order
let byName = new Map();
let metadata = [];
let pending = null; // the call in flight, or its outcome once it settled
const met = new Map(); // without the catalog: name -> the order the page met it in

function text(v) {
  return typeof v === 'string' ? v : '';
}

function adopt(catalog) {
  const list = [];
  const names = new Set();
  const subjects = new Set();
  for (const k of Array.isArray(catalog?.kinds) ? catalog.kinds : []) {
    const name = text(k?.name);
    if (!name || names.has(name)) continue;
    names.add(name);
    const subject = text(k.subject);
    list.push(Object.freeze({
      name,
      label: text(k.label) || name,
      family: text(k.family),
      subject,
      caliper: k.caliper === true,
      fields: Object.freeze(Array.isArray(k.fields) ? k.fields.filter((f) => typeof f === 'string') : []),
      index: list.length,
      // Whether the kind brings the thing into being (a conversation started, a topic created, an entry
      // posted), as the catalog's action says; a catalog without actions: the first kind of a subject.
      first: typeof k.action === 'string' ? k.action === 'created' : subject !== '' && !subjects.has(subject),
    }));
    if (subject) subjects.add(subject);
  }
  kinds = Object.freeze(list);
  byName = new Map(list.map((k) => [k.name, k]));
  metadata = Object.freeze(Array.isArray(catalog?.metadata) ? catalog.metadata.filter((f) => typeof f === 'string') : []);
}

/**
 * Fetches the catalog once and keeps it. A call refused for the token, or not answered, is tried again
 * by the next caller (the token prompt or the server may fix it); any other failure stands for this page
 * load. Resolves to the kinds (empty without the catalog); never rejects.
 */
export function loadCatalog() {
  pending ??= apiGet('/catalog').then((catalog) => {
    adopt(catalog);
    return kinds;
  }, (err) => {
    if (err?.kind === 'auth' || err?.kind === 'network') pending = null;
    if (err?.kind !== 'auth') console.warn('levee: no event catalog; kinds are shown by their names:', err?.message ?? err);
    return kinds;
  });
  return pending;
}

/** Resolves once the catalog is known or could not be had, or after ms (the call goes on); never rejects. */
export function catalogReady(ms = WAIT_MS) {
  let timer = 0;
  return Promise.race([loadCatalog(), new Promise((resolve) => { timer = setTimeout(resolve, ms); })])
    .finally(() => clearTimeout(timer));
}

/** The catalog's kinds in catalog order (empty until it is known, or without it). */
export function catalogKinds() {
  return kinds;
}

/** The metadata field names every event may carry, in catalog order. */
export function catalogMetadata() {
  return metadata;
}

/** The catalog's entry for a kind, or null for a kind it does not have (or without the catalog). */
export function kindInfo(name) {
  return byName.get(name) ?? null;
}

/** A kind's label for people; its raw name when the catalog does not have it. */
export function kindLabel(name) {
  return byName.get(name)?.label ?? name;
}

function rank(name) {
  const kind = byName.get(name);
  if (kind) return kind.index;
  if (kinds.length) return Infinity;
  if (!met.has(name)) met.set(name, met.size);
  return met.get(name);
}

/** Orders kind names as the catalog does; kinds it does not have come after, by name. */
export function compareKinds(a, b) {
  const ra = byName.has(a) ? byName.get(a).index : Infinity;
  const rb = byName.has(b) ? byName.get(b).index : Infinity;
  return ra === rb ? a.localeCompare(b) : ra < rb ? -1 : 1;
}

/** The colour class of a kind: k0..k6 by catalog order, k7 for every kind outside it. */
export function kindClass(name) {
  return `k${Math.min(rank(name), COLOURS)}`;
}
