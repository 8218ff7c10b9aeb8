// run.mjs: browser tests of the web page `levee serve` offers, in headless Chromium (Debian's chromium,
// driven over CDP by playwright-core). It seeds a small store (levee simulate + levee ingest), starts
// `levee serve` on 127.0.0.1 (and a second one with --api-token), posts the events the checks need
// (a hostile entry, a topic with 3,000 entries, live events), and checks what a person would see.
// Screenshots go to build/artifacts/web/. Every wait is bounded; the servers and the browser this
// script started are killed by pid when it ends, whether the checks pass or not.
//
//   node tests/web/run.mjs --levee build/levee [--chromium /usr/bin/chromium] [--artifacts DIR] [--keep]

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// ---- options ----

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const LEVEE = path.resolve(option('levee', path.join(repo, 'build', 'levee')));
const CHROMIUM = option('chromium', '/usr/bin/chromium');
const ARTIFACTS = path.resolve(option('artifacts', path.join(repo, 'build', 'artifacts', 'web')));
const KEEP = process.argv.includes('--keep');
const TOKEN = 'web-test-token-7f3a';

// ---- processes this script started, killed on every way out ----

const started = []; // {name, child, group}
function killAll(signal = 'SIGKILL') {
  for (const p of started) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    try {
      if (p.group) process.kill(-p.child.pid, signal);
      else p.child.kill(signal);
    } catch {
      // already gone
    }
  }
}
process.on('exit', () => {
  killAll('SIGKILL');
  if (S.tmp && !KEEP) fs.rmSync(S.tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll('SIGKILL');
    process.exit(130);
  });
}
// the whole run must end: a hung browser or server cannot keep `make test` waiting
const watchdog = setTimeout(() => {
  console.error('web tests: still running after 180 s; killing the browser and servers');
  killAll('SIGKILL');
  process.exit(1);
}, 180000);
watchdog.unref();

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms); }),
  ]);
}

/** Runs a command to completion (bounded), returning stdout. */
function run(cmd, args, { input, timeout = 60000 } = {}) {
  return execFileSync(cmd, args, { input, timeout, maxBuffer: 256 << 20, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Starts `levee serve` on 127.0.0.1:0 and resolves to its base URL once it logs that it listens. */
async function startServer(name, db, extra = []) {
  const child = spawn(LEVEE, ['serve', '--db', db, '--listen', '127.0.0.1:0', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  const entry = { name, child, group: false, log: '' };
  started.push(entry);
  const url = await withTimeout(new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      entry.log += chunk;
      const m = /msg=listening url=(http:\/\/127\.0\.0\.1:\d+\/)/.exec(entry.log);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`levee serve (${name}) exited with ${code} before listening:\n${entry.log}`)));
    child.on('error', reject);
  }), 15000, `levee serve (${name})`);
  entry.url = url;
  return entry;
}

async function stopServer(entry) {
  if (entry.child.exitCode !== null) return;
  const exited = new Promise((resolve) => entry.child.once('exit', resolve));
  entry.child.kill('SIGTERM');
  await withTimeout(exited, 5000, `stopping ${entry.name}`).catch(() => entry.child.kill('SIGKILL'));
}

/** Starts Chromium with a fresh profile and connects to it over the DevTools protocol. */
async function startBrowser(profile) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'];
  // its own process group, so its renderers and helpers go with it
  const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const entry = { name: 'chromium', child, group: true, log: '' };
  started.push(entry);
  const ws = await withTimeout(new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      if (entry.log.length < 100000) entry.log += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(entry.log);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`chromium exited with ${code}:\n${entry.log.slice(-2000)}`)));
    child.on('error', reject);
  }), 20000, 'starting chromium');
  entry.browser = await chromium.connectOverCDP(ws, { timeout: 15000 });
  return entry;
}

// ---- events, built the way Canvas sends them (tests/e2e/events.py): metadata ids global, body ids local ----

let SHARD = 2107n;
let ROOT = '21070000000000001';
const glob = (local) => String(SHARD * 10n ** 13n + BigInt(local));
const iso = (ms) => new Date(ms).toISOString();
const isoSeconds = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function meta(name, ms, user, course, role = 'StudentEnrollment') {
  const m = {
    root_account_id: ROOT, event_name: name, event_time: iso(ms), producer: 'canvas',
    hostname: 'test.instructure.com', request_id: `req-${name}-${ms}`, http_method: 'POST',
  };
  if (user != null) Object.assign(m, { user_id: glob(user), user_login: `user${user}@example.edu` });
  if (course != null) Object.assign(m, { context_type: 'Course', context_id: glob(course), context_role: role });
  return m;
}

function topicEvent(topicId, course, ms, title, body) {
  return {
    metadata: meta('discussion_topic_created', ms, 1, course, 'TeacherEnrollment'),
    body: {
      assignment_id: null, body, context_id: String(course), context_type: 'Course', discussion_topic_id: String(topicId),
      is_announcement: false, lock_at: null, title, updated_at: isoSeconds(ms), workflow_state: 'active',
    },
  };
}

function entryEvent(entryId, topicId, user, course, ms, text, parent = null) {
  const body = {
    created_at: isoSeconds(ms), discussion_entry_id: String(entryId), discussion_topic_id: String(topicId),
    text, user_id: String(user),
  };
  if (parent != null) body.parent_discussion_entry_id = String(parent);
  return { metadata: meta('discussion_entry_created', ms, user, course), body };
}

function conversationEvent(conversation, user, ms, name = 'conversation_created') {
  return { metadata: meta(name, ms, user), body: { conversation_id: String(conversation), updated_at: isoSeconds(ms) } };
}

function messageEvent(message, conversation, user, ms) {
  return {
    metadata: meta('conversation_message_created', ms, user),
    body: { author_id: String(user), conversation_id: String(conversation), created_at: isoSeconds(ms), message_id: String(message) },
  };
}

/**
 * One event of every kind the page has a summary for, in a course of its own, with the summary the live
 * tail must show for it (the kind's subject from /api/catalog picks the summary).
 */
function oneOfEachKind(course, topicId, conversation, ms) {
  const topic = topicEvent(topicId, course, ms, 'Catalog topic', '<p>About the catalog.</p>');
  const updated = topicEvent(topicId, course, ms + 1000, 'Catalog topic, renamed', '<p>About the catalog.</p>');
  updated.metadata = meta('discussion_topic_updated', ms + 1000, 1, course, 'TeacherEnrollment');
  const entry = entryEvent(7710001, topicId, 800701, course, ms + 2000, '<p>A pangolinesque post.</p>');
  const submitted = entryEvent(7710002, topicId, 800702, course, ms + 3000, '<p>A graded reply.</p>', 7710001);
  submitted.metadata = meta('discussion_entry_submitted', ms + 3000, 800702, course);
  Object.assign(submitted.body, { assignment_id: '4401', submission_id: '4402' });
  return [
    [topic, /^New topic “Catalog topic” \(active\)$/],
    [updated, /^Updated topic “Catalog topic, renamed” \(active\)$/],
    [entry, /posted in topic \d+: A pangolinesque post\.$/],
    [submitted, /replied in topic \d+: A graded reply\.$/],
    [conversationEvent(conversation, 800701, ms + 4000), /started conversation \d+$/],
    [messageEvent(8800001, conversation, 800702, ms + 5000), /wrote in conversation \d+$/],
    [conversationEvent(conversation, 800701, ms + 6000, 'conversation_forwarded'), /added people to conversation \d+$/],
  ];
}

/** Records the page's requests for the event catalog. */
function catalogRequests(page) {
  const asked = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/api/catalog') asked.push(r.url());
  });
  return asked;
}

/** A seeded pseudo-random generator (mulberry32), so the big topic is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- state shared by the checks ----

const S = {
  tmp: '', server: null, tokenServer: null, browser: null,
  sim: {}, big: {}, hostile: {},
};

async function post(base, events, query = '') {
  const ndjson = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const response = await withTimeout(fetch(`${base}events${query}`, {
    method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: ndjson,
  }), 15000, 'POST /events');
  const text = await response.text();
  assert.equal(response.status, 200, `POST /events answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

async function getJson(base, pathAndQuery, token) {
  const response = await withTimeout(fetch(`${base}api${pathAndQuery}`, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  }), 10000, `GET /api${pathAndQuery}`);
  return { status: response.status, body: await response.json() };
}

/** Polls until check() returns a truthy value (events are applied to the store just after their 2xx). */
async function eventually(what, check, timeoutMs = 20000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await check().catch((e) => { last = e; return null; });
    if (last) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const localOf = (id) => String(BigInt(id) % 10n ** 13n);
const digits = (text) => text.replace(/\D/g, '');

// ---- pages ----

const openPages = [];
/**
 * A fresh browser context and page that records console errors and uncaught exceptions.
 * allow: patterns of console errors a check expects (e.g. the 401 the token prompt starts from).
 */
async function openPage({ width = 1280, height = 900, allow = [] } = {}) {
  const context = await S.browser.browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  page.setDefaultNavigationTimeout(15000);
  const errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.some((re) => re.test(m.text()))) errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  const handle = { context, page, errors };
  openPages.push(handle);
  return handle;
}

async function shot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage, timeout: 15000 });
}

function assertNoErrors(handle) {
  assert.deepEqual(handle.errors, [], `the page logged errors:\n${handle.errors.join('\n')}`);
}

afterEach(async () => {
  while (openPages.length) {
    const { context } = openPages.pop();
    await withTimeout(context.close(), 5000, 'closing a browser context').catch(() => {});
  }
});

// ---- setup and teardown ----

before(async () => {
  for (const [what, file] of [['levee', LEVEE], ['chromium', CHROMIUM]]) {
    assert.ok(fs.existsSync(file), `${what} not found at ${file}`);
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) if (f.endsWith('.png') || f.endsWith('.log')) fs.rmSync(path.join(ARTIFACTS, f));
  S.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'levee-web-'));

  // a small simulated institution, ingested
  const simFile = path.join(S.tmp, 'sim.ndjson');
  fs.writeFileSync(simFile, run(LEVEE, ['simulate', '--seed', '11', '--days', '4', '--courses', '3', '--users', '60']));
  const first = JSON.parse(fs.readFileSync(simFile, 'utf8').split('\n', 1)[0]);
  ROOT = first.metadata.root_account_id;
  SHARD = BigInt(ROOT) / 10n ** 13n;
  const db = path.join(S.tmp, 'levee.db');
  run(LEVEE, ['ingest', '--db', db, simFile]);
  // schema drift: an event outside the model with a field the catalog does not know, twice
  const drift = [1, 2].map((day) => JSON.stringify({
    metadata: { event_name: 'asset_accessed', event_time: `2024-09-0${day}T12:00:00Z`, brand_new_field: 'x' }, body: {} }));
  run(LEVEE, ['ingest', '--db', db], { input: drift.join('\n') + '\n' });

  const [server, tokenServer, browser] = await Promise.all([
    startServer('main', db),
    startServer('with --api-token', path.join(S.tmp, 'token.db'), ['--api-token', TOKEN]),
    startBrowser(path.join(S.tmp, 'profile')),
  ]);
  Object.assign(S, { server, tokenServer, browser });
  const base = server.url;

  // what the seeded store holds, as the API says
  const courses = (await getJson(base, '/courses')).body.courses;
  assert.ok(courses.length >= 2, 'the simulation should give at least two courses');
  const busiest = [...courses].sort((a, b) => b.events - a.events)[0];
  const course = (await getJson(base, `/courses/${busiest.course_id}`)).body;
  const topTopic = [...course.topics].sort((a, b) => b.entries - a.entries)[0];
  const topic = (await getJson(base, `/topics/${topTopic.discussion_topic_id}`)).body;
  S.sim = { courses, busiest, course, topic };

  // a topic with 3,000 entries in a course of its own: 150 threads, replies to earlier entries,
  // one reply chain 120 deep, one entry holding a word nothing else has
  const rnd = prng(20240911);
  const bigCourse = 990001;
  const bigTopic = 990001;
  const t0 = Date.UTC(2024, 8, 10, 8, 0, 0);
  const events = [topicEvent(bigTopic, bigCourse, t0, 'Large thread: 3,000 entries', '<p>Every reply in one place.</p>')];
  const ids = [];
  const chainFrom = 2880;
  for (let i = 0; i < 3000; i++) {
    const id = 5000001 + i;
    let parent = null;
    if (i >= chainFrom) parent = ids[i - 1];
    else if (i >= 150) parent = ids[Math.floor(i * rnd())];
    const word = i === 2222 ? ' marsupialgram' : '';
    events.push(entryEvent(id, bigTopic, 800000 + Math.floor(rnd() * 300), bigCourse, t0 + (i + 1) * 60000,
      `<p>Entry ${i + 1} of the large thread${word}. <em>Reply</em> text.</p>`, parent));
    ids.push(id);
  }
  await post(base, events);
  S.big = { course: glob(bigCourse), topic: glob(bigTopic), deepest: glob(ids[2999]), needle: glob(ids[2222]) };

  // a hostile entry in the seeded topic: every trick must come out inert
  const hostile = [
    '<p>Harmless <strong>bold</strong> and <em>xylophonic</em> words.</p>',
    '<img src="x" onerror="window.__pwned=1" alt="cat">',
    '<script>window.__pwned=2</script>',
    '<a href="javascript:window.__pwned=3">js link</a>',
    '<a href="https://example.org/ok" onclick="window.__pwned=4">ok link</a>',
    '<iframe src="https://example.org/frame"></iframe>',
    '<p style="color:red" onmouseover="window.__pwned=5">styled paragraph</p>',
    '<svg><script>window.__pwned=6</script></svg><style>body{display:none}</style>',
    '<form action="https://example.org"><input value="x"><button>Send</button></form>',
  ].join('');
  const topicLocal = localOf(topic.topic.discussion_topic_id);
  const courseLocal = localOf(busiest.course_id);
  await post(base, [entryEvent(7700001, topicLocal, 800999, courseLocal, Date.parse(`${busiest.last_day}T12:00:00Z`), hostile)]);
  S.hostile = { entry: glob(7700001), topic: topic.topic.discussion_topic_id };

  await eventually('the posted events to be in the store', async () => {
    const big = await getJson(base, `/topics/${S.big.topic}`);
    const safe = await getJson(base, '/search?q=xylophonic');
    return big.status === 200 && big.body.entry_count === 3000 && safe.body.results?.length === 1;
  }, 30000);
});

after(async () => {
  if (S.browser?.browser) await withTimeout(S.browser.browser.close(), 5000, 'closing chromium').catch(() => {});
  const chromiumEntry = started.find((p) => p.name === 'chromium');
  if (chromiumEntry) {
    try {
      process.kill(-chromiumEntry.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const entry of started.filter((p) => p.name !== 'chromium')) {
    await stopServer(entry);
    fs.writeFileSync(path.join(ARTIFACTS, `server-${entry.name.replace(/\W+/g, '-')}.log`), entry.log);
  }
  if (S.tmp && !KEEP) fs.rmSync(S.tmp, { recursive: true, force: true });
  else if (S.tmp) console.log(`# kept ${S.tmp}`);
});

// ---- checks ----

test('the courses page lists every seeded course and the header shows the statistics', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  await page.goto(`${S.server.url}#/courses`);
  const courses = (await getJson(S.server.url, '/courses')).body.courses;
  await page.locator('.cards > li').nth(courses.length - 1).waitFor();
  assert.equal(await page.locator('.cards > li').count(), courses.length);
  for (const c of courses) {
    const card = page.locator(`.cards > li[data-course="${c.course_id}"]`);
    assert.match(await card.innerText(), new RegExp(`Course ${localOf(c.course_id)}\\b`));
    assert.match(digits(await card.locator('.card-stats').innerText()), new RegExp(`^${c.events}${c.topics}${c.users}$`));
  }
  const stats = (await getJson(S.server.url, '/stats')).body;
  await page.locator('#stats-line a strong').waitFor();
  assert.equal(digits(await page.locator('#stats-line a strong').innerText()), String(stats.events));
  assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), 'Courses');
  assert.equal(await page.title(), 'Courses · levee');
  await shot(page, 'courses');
  assertNoErrors(h);
});

test('a course dashboard draws its activity chart and lists its topics and unanswered posts', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  const { busiest } = S.sim;
  const course = (await getJson(S.server.url, `/courses/${busiest.course_id}`)).body;
  await page.goto(`${S.server.url}#/course/${busiest.course_id}`);
  await page.locator('.chart-svg .bar').first().waitFor();
  // one bar group per day from the first active day to the last, gaps included
  const span = [course.activity[0].day, course.activity[course.activity.length - 1].day];
  const days = Math.round((Date.parse(span[1]) - Date.parse(span[0])) / 86400000) + 1;
  assert.equal(await page.locator('.chart-svg g.day').count(), days);
  const kinds = new Set(course.activity.flatMap((d) => Object.keys(d.events)));
  assert.equal(await page.locator('.legend li').count(), kinds.size);
  const drawn = await page.locator('.chart-svg .bar').count();
  const expected = course.activity.reduce((n, d) => n + Object.values(d.events).filter((v) => v > 0).length, 0);
  assert.equal(drawn, expected, 'one bar segment per day and kind with events');
  // the keyboard reads the chart out
  await page.locator('.chart-svg').focus();
  await page.keyboard.press('Home');
  const firstDay = course.activity[0];
  assert.match(await page.locator('.chart-readout').innerText(), new RegExp(`${firstDay.total} events`));
  // topics, with their reply counts
  const rows = page.locator('#topics tbody tr');
  assert.equal(await rows.count(), course.topics.length);
  for (const t of course.topics) {
    const row = rows.filter({ has: page.locator(`a[href="#/topic/${t.discussion_topic_id}"]`) });
    assert.equal(await row.count(), 1, `a row for topic ${t.title}`);
    assert.equal(digits(await row.locator('td').first().innerText()), String(t.entries));
  }
  // unanswered student posts with how long they have waited
  const unanswered = page.locator('#unanswered .unanswered-item');
  if (course.unanswered_count > 0) {
    assert.equal(await unanswered.count(), Math.min(10, course.unanswered.length));
    assert.match(await unanswered.first().locator('.wait').innerText(), /waiting\s*\d+ (years?|days?|h|min|s)\b/i);
    const more = page.locator('#unanswered button.show-more');
    if (course.unanswered_count > 10) {
      await more.click();
      await page.waitForFunction(() => document.querySelectorAll('#unanswered .unanswered-item').length > 10);
    }
  }
  assert.equal(digits(await page.locator('.figure', { hasText: 'Unanswered' }).locator('dd').first().innerText()), String(course.unanswered_count));
  await shot(page, 'course');
  // a narrow window: nothing sticks out sideways
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a narrow window`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'course-narrow', { fullPage: false });
  assertNoErrors(h);
});

test('a topic shows its title, body and reply tree, nested and oldest first', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  const { topic } = S.sim;
  await page.goto(`${S.server.url}#/topic/${topic.topic.discussion_topic_id}`);
  await page.locator('.threads > .entry').first().waitFor();
  assert.equal(await page.locator('h1').innerText(), topic.topic.title);
  const threads = page.locator('.threads > .entry');
  const apiThreads = (await getJson(S.server.url, `/topics/${topic.topic.discussion_topic_id}`)).body.entries;
  assert.equal(await threads.count(), Math.min(20, apiThreads.length));
  // the first thread is the API's first entry, by the same author
  const first = threads.first().locator(':scope > .entry-card');
  assert.equal(await first.getAttribute('id'), `entry-${apiThreads[0].id}`);
  assert.match(await first.locator('.entry-head').innerText(), new RegExp(`User ${localOf(apiThreads[0].user_id)}`));
  // oldest first
  const times = await threads.evaluateAll((lis) => lis.map((li) => li.querySelector(':scope > .entry-card time').getAttribute('datetime')));
  assert.deepEqual(times, [...times].sort());
  // replies are nested under their parents
  const withReplies = apiThreads.find((e) => e.replies.length > 0);
  assert.ok(withReplies, 'the seeded topic has replies');
  const reply = page.locator(`#entry-${withReplies.replies[0].id}`);
  const parentLi = page.locator(`.entry[data-id="${withReplies.id}"]`);
  if (!(await reply.count())) {
    await parentLi.locator(':scope > .entry-card .toggle').click();
  }
  await reply.waitFor();
  assert.equal(await parentLi.locator(`:scope > ol.replies > .entry > #entry-${withReplies.replies[0].id}`).count(), 1);
  // entry HTML keeps its formatting
  assert.ok(await page.locator('.entry-body :is(p, em, strong, blockquote)').count() > 0, 'entry HTML is rendered');
  // collapsing and expanding with the keyboard
  const toggle = parentLi.locator(':scope > .entry-card .toggle');
  await toggle.focus();
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.ok(await reply.isHidden());
  await page.keyboard.press('Enter');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.ok(await reply.isVisible());
  await shot(page, 'topic');
  assertNoErrors(h);
});

test('HTML from users is shown safely: no script runs, nothing loads, only safe links remain', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  await page.goto(`${S.server.url}#/topic/${S.hostile.topic}?entry=${S.hostile.entry}`);
  const card = page.locator(`#entry-${S.hostile.entry}`);
  await card.waitFor();
  const body = card.locator('.entry-body');
  await body.locator('text=styled paragraph').hover();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(await body.locator('strong').innerText(), 'bold');
  assert.equal(await body.locator('em').innerText(), 'xylophonic');
  assert.equal(await page.locator('.user-html :is(script, img, iframe, svg, style, form, input, button, [style], [onclick], [onerror], [onmouseover])').count(), 0);
  const links = await body.locator('a').evaluateAll((as) => as.map((a) => ({ href: a.getAttribute('href'), rel: a.rel, text: a.textContent })));
  assert.deepEqual(links, [{ href: 'https://example.org/ok', rel: 'noopener noreferrer nofollow', text: 'ok link' }],
    'only the https link stays a link, with rel=noopener');
  const text = await body.innerText();
  assert.match(text, /js link/, 'the unsafe link keeps its text');
  assert.match(text, /\[image: cat\]/, 'the image is named in text');
  assert.doesNotMatch(text, /__pwned/);
  assert.ok(await card.evaluate((el) => el.classList.contains('target') && document.activeElement === el), 'the linked entry is focused');
  await shot(page, 'entry-safety', { fullPage: false });
  assertNoErrors(h);
});

test('the sanitizer keeps only its allowlist against known attack markup', { timeout: 20000 }, async () => {
  const h = await openPage();
  const { page } = h;
  await page.goto(`${S.server.url}#/stats`);
  await page.locator('h1').waitFor();
  const cases = [
    // [input, text the result must show (or null), html the result must be exactly (or null)]
    ['<scr<script>ipt>window.__pwned=1</script>', null, null],
    ['<a href="jAvAsCrIpT:window.__pwned=1">x</a>', 'x', 'x'],
    ['<a href=" javascript:window.__pwned=1">x</a>', 'x', 'x'],
    ['<a href="java&#x09;script:window.__pwned=1">x</a>', 'x', 'x'],
    ['<a href="data:text/html,<script>window.__pwned=1</script>">x</a>', 'x', 'x'],
    ['<a href="/courses/1/files/2">file</a>', 'file', 'file'],
    ['<a href="https://ok.example/?a=1&amp;b=2" target="_self" rel="opener" onclick="window.__pwned=1">ok</a>', 'ok',
      '<a href="https://ok.example/?a=1&amp;b=2" rel="noopener noreferrer nofollow" target="_blank">ok</a>'],
    ['<img src=x onerror=window.__pwned=1>', '[image]', '[image]'],
    ['<img src="https://cdn.example/cat.png" alt="a cat">', '[image: a cat]', null],
    ['<svg><a href="https://x.example"><text>t</text></a><script>window.__pwned=1</script></svg>after', 'after', 'after'],
    ['<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1>', '', ''],
    ['<noscript><p title="</noscript><img src=x onerror=window.__pwned=1>">', null, null],
    ['<style>body{display:none}</style><p style="color:red" class="x" id="y" onclick="window.__pwned=1">t</p>', 't', '<p>t</p>'],
    ['<table><tr><td colspan="2" onmouseover="window.__pwned=1">c</td><td rowspan="x">d</td></tr></table>', 'cd',
      '<table><tr><td colspan="2">c</td><td>d</td></tr></table>'],
    ['&lt;script&gt;window.__pwned=1&lt;/script&gt; &eacute;l&egrave;ve &#233; &#x1F600;', '<script>window.__pwned=1</script> élève é 😀', null],
    ['<!-- <script>window.__pwned=1</script> -->kept', 'kept', 'kept'],
    ['<![CDATA[<script>window.__pwned=1</script>]]>', null, null],
    ['<input autofocus onfocus="window.__pwned=1"><form action="https://x.example"><button formaction="javascript:window.__pwned=1">X</button>in form</form>', 'in form', 'in form'],
    ['<iframe src="https://x.example" srcdoc="<script>window.__pwned=1</script>"></iframe>', '', ''],
    ['<h1>Big</h1><p>one<p>two<ul><li>a<li>b</ul>', null, '<p class="user-heading">Big</p><p>one</p><p>two</p><ul><li>a</li><li>b</li></ul>'],
    ['<p>unclosed <b>bold <i>both</p> after', null, null],
    [`${'<div>'.repeat(200)}deep${'</div>'.repeat(200)}`, 'deep', null],
    ['<a href="mailto:t@example.edu">mail</a><p title="say &quot;hi&quot;">q</p>', 'mailq', null],
    ['<video src="https://v.example/a.mp4"><source src="x"><p>fallback</p></video>', '[video]', null],
    ['<details open ontoggle="window.__pwned=1"><summary>s</summary>d</details>', 'sd', 'sd'],
    ['<p>a < b and c > d, 3<4</p>', 'a < b and c > d, 3<4', null],
    ['<a href="https://x.example/"<img src=x onerror=window.__pwned=1>>y</a>', null, null],
  ];
  const results = await page.evaluate(async (inputs) => {
    const { sanitizeHtml, htmlToText } = await import('/sanitize.js');
    const allowed = new Set(['P', 'BR', 'HR', 'DIV', 'SPAN', 'B', 'STRONG', 'I', 'EM', 'U', 'S', 'STRIKE', 'DEL', 'INS', 'MARK',
      'SMALL', 'SUB', 'SUP', 'CODE', 'PRE', 'KBD', 'SAMP', 'BLOCKQUOTE', 'Q', 'CITE', 'ABBR', 'UL', 'OL', 'LI', 'DL', 'DT', 'DD',
      'TABLE', 'CAPTION', 'THEAD', 'TBODY', 'TFOOT', 'TR', 'TH', 'TD', 'FIGURE', 'FIGCAPTION', 'A']);
    const attrs = new Set(['href', 'title', 'start', 'colspan', 'rowspan', 'rel', 'target', 'class']);
    const host = document.createElement('div');
    document.body.append(host);
    return inputs.map(([html]) => {
      const box = document.createElement('div');
      box.append(sanitizeHtml(html));
      host.append(box);
      const problems = [];
      for (const el of box.querySelectorAll('*')) {
        if (!allowed.has(el.tagName)) problems.push(`element ${el.tagName}`);
        for (const a of el.attributes) {
          if (!attrs.has(a.name)) problems.push(`attribute ${a.name} on ${el.tagName}`);
        }
        const href = el.getAttribute('href');
        if (href !== null && !/^(https?:|mailto:)/.test(href)) problems.push(`href ${href}`);
        if (el.hasAttribute('class') && !['user-heading', 'media-link'].includes(el.className)) problems.push(`class ${el.className}`);
      }
      return { html: box.innerHTML, text: box.textContent, preview: htmlToText(html), problems };
    });
  }, cases);
  results.forEach((r, i) => {
    const [input, text, html] = cases[i];
    assert.deepEqual(r.problems, [], `sanitizing ${input}`);
    if (text !== null) assert.equal(r.text, text, `the text of ${input}`);
    if (html !== null) assert.equal(r.html, html, `the markup made from ${input}`);
    if (text !== null) assert.equal(r.preview.replace(/\s/g, ''), text.replace(/\s/g, ''), `the preview text of ${input}`);
  });
  await page.waitForTimeout(200);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing ran');
  assertNoErrors(h);
});

test('search finds a post by a word only it holds, highlights it and links to the entry', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  await page.goto(`${S.server.url}#/courses`);
  await page.locator('.cards').waitFor();
  await page.locator('#quick-q').fill('Xylophonic');
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/search\?q=Xylophonic$/);
  const results = page.locator('.results > .result');
  await results.first().waitFor();
  assert.equal(await results.count(), 1);
  assert.equal((await results.first().locator('.snippet mark').allInnerTexts()).join(' '), 'xylophonic');
  const link = results.first().locator('a.result-title');
  assert.equal(await link.getAttribute('href'), `#/topic/${S.hostile.topic}?entry=${S.hostile.entry}`);
  await shot(page, 'search');
  await link.click();
  const card = page.locator(`#entry-${S.hostile.entry}`);
  await card.waitFor();
  assert.ok(await card.evaluate((el) => el.classList.contains('target')));
  // a word from the seeded data, without its accents, in one course
  const word = S.sim.topic.topic.title.split(/[^\p{L}]+/u).filter((w) => w.length >= 5).sort((a, b) => b.length - a.length)[0];
  assert.ok(word, 'the seeded topic title has a word to search for');
  const plain = word.normalize('NFD').replace(/\p{M}/gu, '');
  await page.goto(`${S.server.url}#/search?q=${encodeURIComponent(plain)}&course=${S.sim.busiest.course_id}`);
  await results.first().waitFor();
  const api = (await getJson(S.server.url, `/search?q=${encodeURIComponent(plain)}&course=${S.sim.busiest.course_id}&limit=50`)).body;
  assert.equal(await results.count(), api.results.length);
  assert.ok(await page.locator('.results mark').count() > 0, 'the word is highlighted, accents or not');
  assert.equal(await page.locator('#search-course').inputValue(), S.sim.busiest.course_id);
  assertNoErrors(h);
});

test('the live tail shows newly posted events on top, and its filter holds', { timeout: 40000 }, async () => {
  const h = await openPage();
  const { page } = h;
  const base = S.server.url;
  await page.goto(`${base}#/live`);
  await page.locator('.tail-status[data-state="live"]').waitFor();
  const topicLocal = localOf(S.hostile.topic);
  const courseLocal = localOf(S.sim.busiest.course_id);
  const now = Date.now();
  await post(base, [entryEvent(7700101, topicLocal, 800501, courseLocal, now, '<p>A quokkalicious reply.</p>')]);
  const rows = page.locator('.tail > .tail-row');
  await rows.filter({ hasText: 'quokkalicious' }).waitFor({ timeout: 10000 });
  await post(base, [conversationEvent(660001, 800501, now + 1000)]);
  await page.waitForFunction(() => document.querySelector('.tail > .tail-row')?.dataset.event === 'conversation_created', null, { timeout: 10000 });
  assert.match(await rows.nth(1).innerText(), /quokkalicious/, 'the older event moved down');
  assert.equal(await rows.first().locator(`a[href="#/conversation/${glob(660001)}"]`).count(), 1);
  await shot(page, 'live');
  // only conversations started: a discussion entry posted before the next conversation must not show
  await page.locator('#tail-event').selectOption('conversation_created');
  await page.waitForURL(/#\/live\?event=conversation_created$/);
  await page.locator('.tail-status[data-state="live"]').waitFor();
  assert.equal(await rows.count(), 0, 'changing the filter starts afresh');
  await post(base, [entryEvent(7700102, topicLocal, 800502, courseLocal, now + 2000, '<p>A wombatish reply.</p>')]);
  await post(base, [conversationEvent(660002, 800502, now + 3000)]);
  await rows.filter({ has: page.locator(`a[href="#/conversation/${glob(660002)}"]`) }).waitFor({ timeout: 10000 });
  assert.equal(await rows.filter({ hasText: 'wombatish' }).count(), 0);
  assert.equal(await rows.count(), 1);
  // paused: events wait, then appear on resume
  await page.locator('button', { hasText: 'Pause' }).click();
  await post(base, [conversationEvent(660003, 800503, now + 4000)]);
  await page.locator('.tail-counts', { hasText: '1 held while paused' }).waitFor({ timeout: 10000 });
  assert.equal(await rows.count(), 1);
  await page.locator('button', { hasText: 'Resume' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.tail > .tail-row').length === 2, null, { timeout: 5000 });
  assertNoErrors(h);
});

test('the page names, orders and colours event kinds by /api/catalog, asked once', { timeout: 40000 }, async () => {
  const base = S.server.url;
  const { status, body: catalog } = await getJson(base, '/catalog');
  assert.equal(status, 200);
  assert.ok(catalog.kinds.length >= 7, 'the catalog lists the modeled kinds');
  const index = new Map(catalog.kinds.map((k, i) => [k.name, i]));
  const label = new Map(catalog.kinds.map((k) => [k.name, k.label]));
  const h = await openPage();
  const { page } = h;
  const asked = catalogRequests(page);
  await page.goto(`${base}#/live`);
  await page.locator('.tail-status[data-state="live"]').waitFor();
  // the event filter lists the catalog's kinds in its order, by their labels
  const options = await page.locator('#tail-event option').evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(options, [['', 'All events'], ...catalog.kinds.map((k) => [k.name, k.label])]);
  // each event is labelled and coloured by its kind, and summarised by what the kind is about
  const course = 990002;
  const events = oneOfEachKind(course, 990002, 660501, Date.now());
  await post(base, events.map(([e]) => e));
  const rows = page.locator('.tail > .tail-row');
  await page.waitForFunction((n) => document.querySelectorAll('.tail > .tail-row').length >= n, events.length, { timeout: 10000 });
  for (const [e, summary] of events) {
    const name = e.metadata.event_name;
    assert.ok(index.has(name), `the catalog has ${name}`);
    const row = rows.filter({ has: page.locator(`.tail-summary`, { hasText: summary }) });
    assert.equal(await row.count(), 1, `one row summarised as ${summary}`);
    assert.equal(await row.getAttribute('data-event'), name);
    const pill = row.locator('.kind-pill');
    assert.equal(await pill.innerText(), label.get(name));
    assert.equal(await pill.getAttribute('class'), `kind-pill k${Math.min(index.get(name), 7)}`);
  }
  await shot(page, 'live-kinds');
  // the course's chart: its legend names the kinds by the catalog's labels, in its order, and each bar
  // has its kind's colour
  await page.evaluate((id) => { location.hash = `#/course/${id}`; }, glob(course));
  await page.locator('.chart-svg .bar').first().waitFor();
  const activity = (await getJson(base, `/courses/${glob(course)}`)).body.activity;
  const present = [...new Set(activity.flatMap((d) => Object.keys(d.events)))].sort((a, b) => index.get(a) - index.get(b));
  assert.ok(present.length >= 4, 'the course has topics created and updated, entries posted and submitted');
  assert.deepEqual(await page.locator('.legend li').allInnerTexts(), present.map((k) => label.get(k)));
  const bars = await page.locator('.chart-svg .bar').evaluateAll((rs) => rs.map((r) => [r.dataset.kind, r.getAttribute('class')]));
  for (const [kind, cls] of bars) assert.equal(cls, `bar k${index.get(kind)}`, `the colour of ${kind}`);
  // the statistics name each kind and give its label
  await page.evaluate(() => { location.hash = '#/stats'; });
  await page.locator('#by-event tbody tr').first().waitFor();
  const entryRow = page.locator('#by-event tbody tr', { has: page.locator('code', { hasText: /^discussion_entry_created$/ }) });
  assert.match(await entryRow.locator('th').innerText(), new RegExp(`discussion_entry_created\\s+${label.get('discussion_entry_created')}`));
  assert.deepEqual(asked, [`${base}api/catalog`], 'the page asks for the catalog once, when it starts');
  assertNoErrors(h);
});

test('the page shows the labels and order the catalog gives, not its own', { timeout: 30000 }, async () => {
  const base = S.server.url;
  const real = (await getJson(base, '/catalog')).body;
  // the catalog turned around, with labels of its own
  const doctored = { ...real, kinds: [...real.kinds].reverse().map((k, i) => ({ ...k, label: `kind ${i}: ${k.label.toUpperCase()}` })) };
  const index = new Map(doctored.kinds.map((k, i) => [k.name, i]));
  const label = new Map(doctored.kinds.map((k) => [k.name, k.label]));
  const h = await openPage();
  const { page } = h;
  const asked = catalogRequests(page);
  await page.route('**/api/catalog', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(doctored) }));
  const { busiest } = S.sim;
  await page.goto(`${base}#/course/${busiest.course_id}`);
  await page.locator('.chart-svg .bar').first().waitFor();
  const activity = (await getJson(base, `/courses/${busiest.course_id}`)).body.activity;
  const present = [...new Set(activity.flatMap((d) => Object.keys(d.events)))].sort((a, b) => index.get(a) - index.get(b));
  assert.deepEqual(await page.locator('.legend li').allInnerTexts(), present.map((k) => label.get(k)));
  const swatches = await page.locator('.legend .swatch').evaluateAll((ss) => ss.map((s) => s.getAttribute('class')));
  assert.deepEqual(swatches, present.map((k) => `swatch k${index.get(k)}`));
  // the bars of a day are stacked in the catalog's order, its first kind at the bottom
  const stacks = await page.locator('.chart-svg g.day').evaluateAll((gs) => gs.map((g) => [...g.querySelectorAll('.bar')]
    .map((r) => [r.dataset.kind, Number(r.getAttribute('y'))])));
  for (const stack of stacks) {
    const order = stack.map(([k]) => index.get(k));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), 'bars in catalog order');
    const ys = stack.map(([, y]) => y);
    assert.deepEqual(ys, [...ys].sort((a, b) => b - a), 'each later kind drawn above the one before');
  }
  await page.locator('nav a', { hasText: 'Live tail' }).click();
  await page.locator('.tail-status[data-state="live"]').waitFor();
  const options = await page.locator('#tail-event option').evaluateAll((os) => os.slice(1).map((o) => o.textContent));
  assert.deepEqual(options, doctored.kinds.map((k) => k.label));
  assert.equal(asked.length, 1, 'the catalog is asked for once');
  assertNoErrors(h);
});

test('without the catalog the page still works and names kinds as they are', { timeout: 30000 }, async () => {
  const base = S.server.url;
  const h = await openPage({ allow: [/status of 500/] });
  const { page } = h;
  const asked = catalogRequests(page);
  await page.route('**/api/catalog', (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"no catalog today"}' }));
  const { busiest } = S.sim;
  await page.goto(`${base}#/course/${busiest.course_id}`);
  await page.locator('.chart-svg .bar').first().waitFor();
  const activity = (await getJson(base, `/courses/${busiest.course_id}`)).body.activity;
  const present = [...new Set(activity.flatMap((d) => Object.keys(d.events)))].sort((a, b) => a.localeCompare(b));
  assert.deepEqual(await page.locator('.legend li').allInnerTexts(), present, 'raw names, by name');
  const expected = activity.reduce((n, d) => n + Object.values(d.events).filter((v) => v > 0).length, 0);
  assert.equal(await page.locator('.chart-svg .bar').count(), expected);
  await shot(page, 'course-no-catalog', { fullPage: false });
  await page.locator('nav a', { hasText: 'Live tail' }).click();
  await page.locator('.tail-status[data-state="live"]').waitFor();
  assert.deepEqual(await page.locator('#tail-event option').allInnerTexts(), ['All events']);
  await post(base, [conversationEvent(660601, 800801, Date.now())]);
  const row = page.locator(`.tail > .tail-row[data-event="conversation_created"]`);
  await row.waitFor({ timeout: 10000 });
  assert.equal(await row.locator('.kind-pill').innerText(), 'conversation_created');
  assert.match(await row.locator('.tail-summary').innerText(), /User \d+: conversation_created$/);
  assert.equal(asked.length, 1, 'a catalog the server failed to give is not asked for again by every view');
  assertNoErrors(h);
});

test('a topic with 3,000 entries opens fast, stays responsive, and reaches any entry', { timeout: 40000 }, async () => {
  const h = await openPage();
  const { page } = h;
  await page.goto(`${S.server.url}#/courses`);
  await page.locator('.cards').waitFor();
  await page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: 'longtask', buffered: false });
  });
  const t0 = Date.now();
  await page.evaluate((id) => { location.hash = `#/topic/${id}`; }, S.big.topic);
  await page.locator('.threads > .entry').first().waitFor();
  const openMs = Date.now() - t0;
  const drawn = await page.locator('.entry-card').count();
  assert.ok(drawn >= 20 && drawn <= 400, `${drawn} entries drawn at first: the tree must draw a bounded part of 3,000`);
  assert.match(await page.locator('.figure', { hasText: 'Entries' }).innerText(), /3,?000/);
  // the page answers at once
  const frameMs = await page.evaluate(() => new Promise((resolve) => {
    const start = performance.now();
    requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
  }));
  assert.ok(frameMs < 500, `a frame took ${frameMs} ms after opening`);
  // more threads, a page at a time
  const more = page.locator('.threads > li.more button');
  const before = await page.locator('.threads > .entry').count();
  const t1 = Date.now();
  await more.click();
  await page.waitForFunction((n) => document.querySelectorAll('.threads > .entry').length > n, before);
  const moreMs = Date.now() - t1;
  // the deepest entry (a reply chain 120 deep) is reached through the link
  const t2 = Date.now();
  await page.evaluate((args) => { location.hash = `#/topic/${args.topic}?entry=${args.entry}`; }, { topic: S.big.topic, entry: S.big.deepest });
  const deepest = page.locator(`#entry-${S.big.deepest}`);
  await deepest.waitFor();
  const deepMs = Date.now() - t2;
  assert.ok(await deepest.evaluate((el) => document.activeElement === el), 'the deepest entry is focused');
  assert.ok(await deepest.isVisible());
  // the finder looks through entries that are not drawn
  await page.locator('#find-in-topic').fill('marsupialgram');
  const hit = page.locator('.find-results .find-hit');
  await hit.first().waitFor();
  assert.equal(await hit.count(), 1);
  await hit.click();
  await page.locator(`#entry-${S.big.needle}.target`).waitFor();
  const longest = await page.evaluate(() => window.__longest);
  const total = await page.locator('.entry-card').count();
  console.log(`# large topic: opened in ${openMs} ms with ${drawn} entries drawn; next page ${moreMs} ms; deepest entry ${deepMs} ms; longest task ${Math.round(longest)} ms; ${total} drawn in the end`);
  assert.ok(openMs < 8000, `opening took ${openMs} ms`);
  assert.ok(moreMs < 2000 && deepMs < 3000, `showing more took ${moreMs} ms, the deepest entry ${deepMs} ms`);
  assert.ok(longest < 2500, `the main thread was blocked for ${longest} ms at once`);
  assert.ok(total < 1000, `${total} entries drawn after the walk`);
  await shot(page, 'topic-large', { fullPage: false });
  assertNoErrors(h);
});

test('a user page and a conversation timeline show what the API holds', { timeout: 30000 }, async () => {
  const h = await openPage();
  const { page } = h;
  const base = S.server.url;
  // someone who started a conversation in the seeded data
  const messages = S.sim.topic.entries.map((e) => e.user_id);
  let user = null;
  let data = null;
  for (const id of messages) {
    data = (await getJson(base, `/users/${id}`)).body;
    if (data.conversations_started?.length) {
      user = id;
      break;
    }
  }
  assert.ok(user, 'a seeded user started a conversation');
  await page.goto(`${base}#/user/${user}`);
  await page.locator('#user-entries .post').first().waitFor();
  assert.equal(await page.locator('h1').innerText(), `User ${localOf(user)}`);
  assert.equal(await page.locator('#user-entries .post').count(), data.entries.length);
  const conversation = data.conversations_started[0].conversation_id;
  await shot(page, 'user');
  await page.locator(`#user-started a[href="#/conversation/${conversation}"]`).click();
  await page.locator('.timeline .tl-item').first().waitFor();
  const api = (await getJson(base, `/conversations/${conversation}`)).body;
  assert.equal(await page.locator('.timeline .tl-item').count(), api.timeline.length);
  assert.equal(await page.locator('.timeline .tl-message').count(), api.message_count);
  assert.match(await page.locator('h1').innerText(), new RegExp(`Conversation ${localOf(conversation)}`));
  await shot(page, 'conversation');
  await page.goto(`${base}#/stats`);
  const stats = (await getJson(base, '/stats')).body;
  await page.locator('#by-event tbody tr').first().waitFor();
  assert.equal(await page.locator('#by-event tbody tr').count(), Object.keys(stats.by_event).length);
  assert.equal(digits(await page.locator('.figure', { hasText: 'Events stored' }).locator('dd').first().innerText()), String(stats.events));
  // schema drift: a row per drift entry, as the API lists them, the field named or "the event itself"
  assert.equal(stats.drift.length, 2);
  const driftRows = page.locator('#drift tbody tr');
  assert.equal(await driftRows.count(), stats.drift.length);
  for (const [i, d] of stats.drift.entries()) {
    const cells = await driftRows.nth(i).locator('th, td').allInnerTexts();
    assert.equal(cells[0], d.event);
    assert.equal(cells[1], d.field ?? 'the event itself');
    assert.equal(digits(cells[3]), String(d.count));
    assert.equal(await driftRows.nth(i).locator('time').first().getAttribute('datetime'), d.first_seen);
  }
  await shot(page, 'stats');
  assertNoErrors(h);
});

test('API errors are shown in plain words', { timeout: 20000 }, async () => {
  const h = await openPage({ allow: [/status of 404/] });
  const { page } = h;
  await page.goto(`${S.server.url}#/topic/${glob(123456789)}`);
  const panel = page.locator('.error-panel[role="alert"]');
  await panel.waitFor();
  assert.match(await panel.innerText(), /Not found[\s\S]*there is no discussion topic/);
  await page.goto(`${S.server.url}#/no/such/view`);
  await page.locator('h1', { hasText: 'There is no such page' }).waitFor();
  await page.goto(`${S.server.url}#/search?q=${encodeURIComponent('zzqqxxnothing')}`);
  await page.locator('.empty', { hasText: 'Try fewer words' }).waitFor();
  await shot(page, 'search-empty', { fullPage: false });
  assertNoErrors(h);
});

test('with --api-token, the page asks for the token, refuses a wrong one, and then works', { timeout: 40000 }, async () => {
  const base = S.tokenServer.url;
  const h = await openPage({ allow: [/status of 401/] });
  const { page } = h;
  await page.goto(`${base}#/courses`);
  const dialog = page.locator('#token-dialog[open]');
  await dialog.waitFor();
  assert.match(await page.locator('.error-panel').innerText(), /needs an API token/);
  await shot(page, 'token-prompt', { fullPage: false });
  await page.locator('#token-input').fill('not-the-token');
  await page.keyboard.press('Enter');
  await page.locator('#token-why', { hasText: 'refused' }).waitFor();
  assert.ok(await dialog.isVisible(), 'the prompt comes back after a wrong token');
  await page.locator('#token-input').fill(TOKEN);
  await page.locator('#token-form button[type="submit"]').click();
  await page.locator('.empty', { hasText: 'No courses yet' }).waitFor();
  assert.ok(await page.locator('#token-dialog').evaluate((d) => !d.open));
  assert.equal(await page.evaluate(() => sessionStorage.getItem('levee.apiToken')), TOKEN);
  await page.locator('#stats-line a strong').waitFor();
  assert.equal(await page.locator('#stats-line a strong').innerText(), '0');
  // the live tail carries the token too
  await page.locator('nav a', { hasText: 'Live tail' }).click();
  await page.locator('.tail-status[data-state="live"]').waitFor();
  const catalog = (await getJson(base, '/catalog', TOKEN)).body;
  assert.deepEqual(await page.locator('#tail-event option').allInnerTexts(), ['All events', ...catalog.kinds.map((k) => k.label)],
    'the catalog refused before the token came is asked for again with it');
  await post(base, [conversationEvent(660100, 800600, Date.now())]);
  await page.locator(`.tail-row a[href="#/conversation/${glob(660100)}"]`).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('.tail-row .kind-pill').first().innerText(), catalog.kinds.find((k) => k.name === 'conversation_created').label);
  await shot(page, 'token-live', { fullPage: false });

  // a token in the page's address is taken, kept and removed from the address bar
  const h2 = await openPage();
  await h2.page.goto(`${base}?token=${TOKEN}#/stats`);
  await h2.page.locator('#by-event tbody tr').first().waitFor();
  assert.doesNotMatch(h2.page.url(), /token=/);
  assert.equal(await h2.page.locator('#token-dialog').evaluate((d) => d.open), false);
  assertNoErrors(h2);
  // the only errors the first page logged are the 401s it started from
  assert.equal((await getJson(base, '/stats')).status, 401, 'the server really needs the token');
  assert.equal((await getJson(base, '/catalog')).status, 401, 'the catalog needs the token too');
  assertNoErrors(h);
});

// ---- subscriptions ----

const ADMIN_TOKEN = 'web-test-admin-token-91c2';

/** A delivery target on 127.0.0.1:0 that answers by path (/ok 204, /fail 500, /bad 400) and keeps what came. */
async function startTarget() {
  const answers = { '/ok': [204, ''], '/fail': [500, 'the warehouse is down'], '/bad': [400, '{"error":"the target does not take this payload"}'] };
  const received = []; // {path, id (webhook-id), body}
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, id: req.headers['webhook-id'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
      const [status, text] = answers[req.url] ?? [404, 'no such target'];
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(text);
    });
  });
  await withTimeout(new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  }), 5000, 'starting the delivery target');
  const url = `http://127.0.0.1:${server.address().port}`;
  const close = () => withTimeout(new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }), 5000, 'stopping the delivery target').catch(() => {});
  return { url, received, close, at: (p) => received.filter((r) => r.path === p) };
}

async function adminFetch(base, method, pathname, body) {
  const response = await withTimeout(fetch(`${base}api${pathname}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  }), 10000, `${method} /api${pathname}`);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** The JSON of the next answer the page gets to GET pathname (what it draws from). */
function nextAnswer(page, pathname) {
  return page.waitForResponse((r) => new URL(r.url()).pathname === pathname && r.request().method() === 'GET' && r.status() === 200,
    { timeout: 10000 }).then((r) => r.json());
}

test('without --admin-token, the Subscriptions view says how to turn it on', { timeout: 20000 }, async () => {
  const h = await openPage({ allow: [/status of 403/] });
  const { page } = h;
  await page.goto(`${S.server.url}#/subscriptions`);
  const notice = page.locator('.notice-panel[role="alert"]');
  await notice.waitFor();
  assert.match(await notice.innerText(), /started without --admin-token[\s\S]*levee serve --admin-token TOKEN/);
  const said = (await getJson(S.server.url, '/subscriptions')).body.error;
  assert.match(await notice.innerText(), new RegExp(`levee says: ${said.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the server’s own sentence is shown');
  assert.equal(await page.locator('#token-dialog').evaluate((d) => d.open), false, 'no token can help: the page does not ask for one');
  assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), 'Subscriptions');
  await shot(page, 'subscriptions-not-managed', { fullPage: false });
  assertNoErrors(h);
});

test('the Subscriptions view shows state, lag, success rate, attempts and dead letters, and pauses, resumes and replays', { timeout: 60000 }, async () => {
  const target = await startTarget();
  try {
    const server = await startServer('with --admin-token', path.join(S.tmp, 'subs.db'), ['--admin-token', ADMIN_TOKEN]);
    const base = server.url;
    const fast = { retry_min_ms: 100, retry_max_ms: 300 };
    const subs = {};
    for (const [key, name] of [['ok', 'Warehouse'], ['fail', 'Early alerts'], ['bad', 'Caliper store']]) {
      const made = await adminFetch(base, 'POST', '/subscriptions', { url: `${target.url}/${key}`, name, ...fast });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      subs[key] = made.body.id;
    }
    // four conversation events in a window of their own (event times), then one outside it
    const t0 = Date.UTC(2024, 9, 1, 10, 0, 0);
    const inWindow = [0, 1, 2, 3].map((i) => conversationEvent(661000 + i, 800900 + i, t0 + i * 60000));
    await post(base, [...inWindow, conversationEvent(661009, 800909, t0 + 3 * 3600000)]);
    const show = async (id) => (await adminFetch(base, 'GET', `/subscriptions/${id}`)).body;
    await eventually('deliveries, retries and dead letters', async () => {
      const [ok, fail, bad] = await Promise.all([show(subs.ok), show(subs.fail), show(subs.bad)]);
      return ok.counts.delivered === 5 && fail.counts.failed_attempts >= 5 && fail.counts.pending === 5 && bad.counts.dead_letters === 5;
    });

    // no admin token yet: the page asks for it (a 401, not the API token's prompt)
    const h = await openPage({ allow: [/status of 401/] });
    const { page } = h;
    await page.goto(`${base}#/subscriptions`);
    const dialog = page.locator('#token-dialog[open]');
    await dialog.waitFor();
    assert.equal(await page.locator('#token-title').innerText(), 'Admin token needed');
    assert.equal(await page.locator('label[for="token-input"]').innerText(), 'Admin token');
    assert.match(await page.locator('.error-panel').innerText(), /needs the admin token/);
    await shot(page, 'subscriptions-token', { fullPage: false });
    // a wrong one is refused, and the page says so
    await page.locator('#token-input').fill('not-the-admin-token');
    await page.keyboard.press('Enter');
    await page.locator('#token-why', { hasText: 'refused the admin token' }).waitFor();
    assert.ok(await dialog.isVisible(), 'the prompt comes back after a wrong token');
    // the right one: the list, drawn from the answer the page got
    const listed = nextAnswer(page, '/api/subscriptions');
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.keyboard.press('Enter');
    const list = (await listed).subscriptions;
    await page.locator('table.subs tbody tr').nth(2).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('levee.adminToken')), ADMIN_TOKEN);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('levee.apiToken')), null, 'the admin token is not the API token');
    assert.doesNotMatch(page.url(), /token/, 'the token is not in the address');
    assert.equal(await page.locator('table.subs tbody tr').count(), 3);
    for (const s of list) {
      const row = page.locator(`table.subs tbody tr[data-sub="${s.id}"]`);
      assert.equal(await row.locator('.sub-name').innerText(), s.name);
      assert.equal(await row.locator('.sub-url').innerText(), s.url);
      assert.equal(await row.locator('.badge.state').textContent(), s.state);
      assert.equal(await row.locator('.badge.state').getAttribute('data-state'), s.state);
      assert.equal(digits(await row.locator('.lag strong').innerText()), String(s.lag.events));
      const rate = s.counts.delivered + s.counts.failed_attempts ? Math.round((100 * s.counts.delivered) / (s.counts.delivered + s.counts.failed_attempts)) : null;
      assert.equal(await row.locator('.rate').innerText(), rate === null ? '–' : `${rate}%`);
      assert.match(await row.locator('.rate').getAttribute('title'), /delivered ÷ \(delivered \+ failed attempts\)/);
      assert.equal(await row.locator('.error-cell').innerText(), s.last_error ?? 'none');
    }
    const byId = new Map(list.map((s) => [s.id, s]));
    assert.equal(byId.get(subs.ok).last_error, null);
    assert.match(byId.get(subs.fail).last_error, /HTTP 500/);
    assert.match(byId.get(subs.bad).last_error, /HTTP 400/);
    assert.equal(byId.get(subs.fail).lag.events, 5, 'the failing target has every event waiting');
    assert.match(await page.locator('#subscriptions .note').innerText(), /Success rate: delivered ÷ \(delivered \+ failed attempts\)/);
    await shot(page, 'subscriptions');

    // one subscription: its attempts and dead letters, as the API gives them
    const shown = nextAnswer(page, `/api/subscriptions/${subs.bad}`);
    const deadShown = nextAnswer(page, `/api/subscriptions/${subs.bad}/dead-letters`);
    await page.locator(`table.subs tr[data-sub="${subs.bad}"] a.sub-name`).click();
    const [bad, { dead_letters: dead }] = await Promise.all([shown, deadShown]);
    await page.locator('#dead-letters tbody tr').first().waitFor();
    assert.equal(await page.locator('h1').innerText(), 'Caliper store');
    assert.equal(await page.title(), 'Subscription Caliper store · levee');
    const attemptRows = page.locator('#attempts tbody tr');
    assert.equal(await attemptRows.count(), bad.attempts.length);
    const catalog = (await getJson(base, '/catalog')).body;
    const label = new Map(catalog.kinds.map((k) => [k.name, k.label]));
    for (const [i, a] of bad.attempts.entries()) {
      const cells = attemptRows.nth(i).locator('td');
      assert.equal(await attemptRows.nth(i).getAttribute('data-event-id'), String(a.event_id));
      assert.equal(await cells.nth(0).locator('time').getAttribute('datetime'), a.time);
      assert.equal(await cells.nth(1).locator('.kind-pill').innerText(), label.get(a.event));
      assert.equal(await cells.nth(2).innerText(), String(a.status));
      assert.equal(digits(await cells.nth(3).innerText()), String(a.latency_ms));
      assert.equal(await cells.nth(4).innerText(), a.error);
    }
    assert.equal(dead.length, 5);
    const deadRows = page.locator('#dead-letters tbody tr');
    assert.equal(await deadRows.count(), dead.length);
    for (const [i, d] of dead.entries()) {
      const row = deadRows.nth(i);
      assert.equal(await row.getAttribute('data-event-id'), String(d.event_id));
      assert.equal(await row.locator('td').nth(1).locator('time').getAttribute('datetime'), d.event_time);
      assert.equal(await row.locator('td').nth(2).innerText(), '400');
      assert.equal(digits(await row.locator('td').nth(3).innerText()), String(d.attempts));
    }
    const answer = deadRows.first().locator('details.answer');
    await answer.locator('summary').click();
    assert.equal(await answer.locator('pre').innerText(), dead[0].answer);
    assert.equal(dead[0].answer, '{"error":"the target does not take this payload"}');
    assert.equal(digits(await page.locator('.figure', { hasText: 'Dead letters' }).locator('dd').first().innerText()), String(bad.counts.dead_letters));
    assert.equal(await page.locator('.figure', { hasText: 'Success rate' }).locator('dd').first().innerText(), '0%');
    assert.match(await page.locator('.figure', { hasText: 'Success rate' }).innerText(), /delivered ÷ \(delivered \+ failed attempts\)/);
    await shot(page, 'subscription-dead-letters');
    // the dead letters sent again: the target refuses them again, and they come back
    const badBefore = target.at('/bad').length;
    await page.locator('#redeliver-button').click();
    await page.locator('.action-status', { hasText: /^Queued 5 dead letters to send again/ }).waitFor();
    await eventually('the dead letters at the target again', async () => target.at('/bad').length >= badBefore + dead.length);
    await eventually('the dead letters back', async () => {
      const [again, back] = await Promise.all([show(subs.bad), adminFetch(base, 'GET', `/subscriptions/${subs.bad}/dead-letters`)]);
      return again.counts.pending === 0 && back.body.dead_letters.length === dead.length;
    });
    await page.locator('#sub-refresh').click();
    await page.locator('.action-status', { hasText: /^Refreshed/ }).waitFor();
    assert.equal(await deadRows.count(), dead.length);

    // the healthy one: pause with the keyboard, resume with the pointer; the API agrees each time
    await page.evaluate((id) => { location.hash = `#/subscriptions/${id}`; }, subs.ok);
    await page.locator('h1', { hasText: 'Warehouse' }).waitFor();
    const toggle = page.locator('#sub-toggle');
    const status = page.locator('.action-status');
    assert.equal(await status.getAttribute('aria-live'), 'polite');
    assert.equal(await toggle.innerText(), 'Pause delivery');
    assert.ok(await page.locator('#redeliver-button').isHidden(), 'no dead letters: nothing to send again');
    await toggle.focus();
    await page.keyboard.press('Enter');
    await page.locator('.figure .badge.state[data-state="paused"]').waitFor();
    assert.match(await status.innerText(), /^Paused/);
    assert.equal(await toggle.innerText(), 'Resume delivery');
    assert.ok(await toggle.evaluate((b) => document.activeElement === b), 'the focus stays on the button');
    assert.equal((await show(subs.ok)).state, 'paused');
    await shot(page, 'subscription-paused', { fullPage: false });
    await toggle.click();
    await page.locator('.figure .badge.state[data-state="active"]').waitFor();
    assert.match(await status.innerText(), /^Resumed/);
    assert.equal((await show(subs.ok)).state, 'active');

    // replay the window of the four events: the page says how many were queued, and they come again
    const localValue = (ms) => page.evaluate((t) => {
      const d = new Date(t);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    }, ms);
    const before = target.at('/ok').length;
    assert.equal(before, 5, 'each event was delivered once before the replay');
    await page.locator('#replay-since').fill(await localValue(t0 - 60000));
    await page.locator('#replay-until').fill(await localValue(t0 + 3600000));
    const replayed = page.waitForResponse((r) => new URL(r.url()).pathname === `/api/subscriptions/${subs.ok}/replay`, { timeout: 10000 });
    await page.locator('#replay-button').click();
    const replayAnswer = await (await replayed).json();
    assert.equal(replayAnswer.queued, inWindow.length);
    await status.filter({ hasText: /^Queued 4 events/ }).waitFor();
    await shot(page, 'subscription-replayed', { fullPage: false });
    await eventually('the replayed events at the target', async () => target.at('/ok').length >= before + inWindow.length);
    const firstIds = target.at('/ok').slice(0, before).map((r) => r.id);
    const again = target.at('/ok').slice(before).map((r) => r.id);
    assert.equal(again.length, inWindow.length, 'only the window is sent again');
    for (const id of again) assert.ok(firstIds.includes(id), `the replay keeps webhook-id ${id}`);
    // an empty window is refused in the page
    await page.locator('#replay-until').fill(await localValue(t0 - 120000));
    await page.locator('#replay-button').click();
    await status.filter({ hasText: 'until must come after since' }).waitFor();
    assert.equal(await page.locator('#replay-until').getAttribute('aria-invalid'), 'true');
    await shot(page, 'subscription');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'subscription-dark', { fullPage: false });
    await page.emulateMedia({ colorScheme: 'light' });

    // a narrow window: nothing sticks out sideways
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => { location.hash = '#/subscriptions'; });
    await page.locator('table.subs tbody tr').first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow}px wider than a narrow window`);
    await shot(page, 'subscriptions-narrow', { fullPage: false });
    await page.evaluate((id) => { location.hash = `#/subscriptions/${id}`; }, subs.fail);
    await page.locator('#attempts tbody tr').first().waitFor();
    const overflowOne = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflowOne <= 1, `a subscription's page is ${overflowOne}px wider than a narrow window`);
    await shot(page, 'subscription-narrow');
    await page.locator('#attempts').scrollIntoViewIfNeeded();
    await shot(page, 'subscription-narrow-attempts', { fullPage: false });
    assertNoErrors(h);
  } finally {
    await target.close();
  }
});
