"""test_copy.py: levee copy (issue 14, docs/operations.md "Copying a store") end to end: a simulated store
with dead letters, duplicates, a person forgotten and subscriptions in several states (delivery dead
letters, events waiting for another attempt, recent attempts, a paused one with a replay under way, an id
left by a removed one) copied SQLite -> PostgreSQL -> SQLite and SQLite -> SQLite; on every side the
export byte-identical, the stats equal (but for the bytes each engine's files take), every query's JSON
byte-identical, the receipts and the subscriptions equal, levee check sound (the derived state agrees
with a rebuild), the forgotten person's events still refused and the subscriptions still signing with
their secrets under the same webhook-ids. A copy killed with kill -9 and run again ends the same as an
uninterrupted one, into PostgreSQL and out of it; on a terminal a copy draws a progress bar to 100%; and
the refusals. PostgreSQL classes run against a throwaway server (tests/e2e/pg.py) and are skipped with the
reason when it is not installed."""
import base64
import hashlib
import hmac
import json
import os
import pty
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

import pg
import targets as T
from lv import SANITIZED, levee_path, run
from server import Server, keep_posting

SLOW = 3 if SANITIZED else 1
SEED = 23
# two rejected documents: an event whose fields are wrong, and a document cut short
BROKEN = b'{"metadata": {"event_name": "discussion_entry_created"}, "body": {"discussion_entry_id": "x"}}\n' \
         b'{"not": "an event"\n'


def out(*args, expect=0, input=None):
    r = run(*args, input=input)
    assert r.code == expect, (args, r.code, r.err)
    return r


def simulated(days, seed=SEED):
    return out("simulate", "--days", str(days), "--seed", str(seed), "--courses", "3", "--users", "90").out_bytes


def ids_in(text):
    """The topics, conversations, courses and users the events are about (local ids, as in the documents)."""
    topics, conversations, courses, users = set(), set(), set(), set()
    for line in text.splitlines():
        doc = json.loads(line)
        body, meta = doc.get("body", {}), doc["metadata"]
        if body.get("discussion_topic_id"):
            topics.add(body["discussion_topic_id"])
        if body.get("conversation_id"):
            conversations.add(body["conversation_id"])
        if meta.get("context_type") == "Course" and meta.get("context_id"):
            courses.add(meta["context_id"])
        if meta.get("user_id"):
            users.add(meta["user_id"])
    return sorted(topics), sorted(conversations), sorted(courses), sorted(users)


def entry_poster(text):
    """A user who posted entries (body user_id of a discussion_entry_created), and a document of theirs."""
    for line in text.splitlines():
        doc = json.loads(line)
        if doc["metadata"].get("event_name") == "discussion_entry_created" and doc["body"].get("user_id"):
            return doc["body"]["user_id"], line
    raise AssertionError("the simulated events have no entry")


def verify_webhook(secret, headers, body):
    """Standard Webhooks: one v1 signature is HMAC-SHA256 (keyed with the secret's base64 part) of id.timestamp.body."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg = ("%s.%s." % (headers["webhook-id"], headers["webhook-timestamp"])).encode() + body
    want = base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(want, s.split(",", 1)[1])
               for s in headers["webhook-signature"].split() if s.startswith("v1,"))


def subscriptions(db, ranks):
    """Every subscription as `levee subscriptions show` gives it, but for the age of the oldest event not
    delivered (it grows with the clock), with its delivery dead letters; the event rows they name given as
    their rank in arrival order (ranks: row -> rank), which is the same event in both stores."""
    listed = json.loads(out("subscriptions", "list", "--db", db, "--json").out)["subscriptions"]
    subs = []
    for s in listed:
        shown = json.loads(out("subscriptions", "show", str(s["id"]), "--db", db, "--json").out)
        del shown["lag"]["oldest_seconds"]
        dead = json.loads(out("subscriptions", "dead-letters", str(s["id"]), "--db", db, "--json").out)
        for row in shown.get("attempts", []) + dead.get("dead_letters", []):
            row["event_id"] = ranks[row["event_id"]]
        subs.append((shown, dead))
    return subs


def on_a_terminal(*args):
    """Runs levee with its stderr a pseudo-terminal's (stdout a pipe): (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    shown = b""
    try:
        p = subprocess.Popen([levee_path(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        slave = None
        while True:  # read as it draws: the terminal's buffer is not to fill up
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last writer closed it
                break
            if not chunk:
                break
            shown += chunk
        p.communicate(timeout=300)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return p.returncode, shown


class CopyTest(unittest.TestCase):
    """A source store built once per class: simulated events, duplicates, dead letters, a person forgotten,
    subscriptions delivered to a target that refuses everything (400: delivery dead letters at once)."""

    DAYS = 6

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="levee-copy-")
        cls.text = simulated(cls.DAYS)
        cls.src = os.path.join(cls.tmp, "source.db")
        sim = os.path.join(cls.tmp, "sim.ndjson")
        with open(sim, "wb") as f:
            f.write(cls.text)
        out("ingest", "--db", cls.src, "-q", sim)
        lines = cls.text.splitlines(keepends=True)
        dup = run("ingest", "--db", cls.src, "-q", input=b"".join(lines[:25]))
        assert dup.code == 0, dup.err
        dead = run("ingest", "--db", cls.src, "-q", input=BROKEN)
        assert dead.code == 1, dead.err
        cls.forgotten, cls.forgotten_doc = entry_poster(cls.text.decode())
        # documents holding two events each (Caliper envelopes): one keeps both, one loses its first to the
        # prune below (its bytes move to the row of the event that stays)
        others = [json.loads(l) for l in cls.text.decode().splitlines()
                  if '"discussion_entry_created"' in l and json.loads(l)["body"].get("user_id") != cls.forgotten]
        first_day = others[0]["metadata"]["event_time"][:10]
        later = [d for d in others if d["metadata"]["event_time"][:10] > "2024-09-03"]
        pair = ([others[0], later[-1]], [later[0], later[len(later) // 2]])
        for n, docs in enumerate(pair):
            envs = []
            for k, d in enumerate(docs):
                d = json.loads(json.dumps(d))
                d["body"]["discussion_entry_id"] = str(9000000 + 10 * n + k)
                d["body"]["text"] = "<p>one of two in a document, %d</p>" % (10 * n + k)
                envs.append(json.loads(out("convert", "--to", "caliper", "-", input=json.dumps(d)).out))
            envs[0]["data"] += envs[1]["data"]
            r = run("ingest", "--db", cls.src, "-q", "--json", input=json.dumps(envs[0]) + "\n")
            assert r.code == 0 and json.loads(r.out)["stored"] == 2, (r.out, r.err)
        assert first_day < "2024-09-03", first_day
        out("prune", "--before", "2024-09-03", "--db", cls.src, "-q")
        out("forget", "--user", str(cls.forgotten), "--db", cls.src, "-q")
        cls.target = T.Target(T.always(400)).start()
        fast = ("--retry-min", "100ms", "--retry-max", "1s")
        a = json.loads(out("subscriptions", "add", "--db", cls.src, "--url", cls.target.url, "--from-start",
                           "--events", "discussion_entry_*", "--secret", "new", *fast, "--json").out)
        cls.secret = a["secret"]
        gone = json.loads(out("subscriptions", "add", "--db", cls.src, "--url", cls.target.url, "--json").out)
        out("subscriptions", "remove", str(gone["id"]), "--db", cls.src)
        paused = json.loads(out("subscriptions", "add", "--db", cls.src, "--url", "http://127.0.0.1:9/never",
                                "--from-start", "--json").out)
        out("subscriptions", "pause", str(paused["id"]), "--db", cls.src)
        out("subscriptions", "replay", str(paused["id"]), "--db", cls.src, "--since", "2024-09-03", "--until",
            "2024-09-05")
        conv = json.loads(out("subscriptions", "add", "--db", cls.src, "--url", cls.target.url, "--from-start",
                              "--events", "conversation_*", *fast, "--json").out)
        cls.sub_ids = (a["id"], paused["id"], conv["id"])
        # delivered until every event of the two active ones was tried (and refused)
        d = subprocess.Popen([levee_path(), "deliver", "--db", cls.src, "-q"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            def settled():
                for sid in (a["id"], conv["id"]):
                    s = json.loads(run("subscriptions", "show", str(sid), "--db", cls.src, "--json").out)
                    if s["lag"]["events"] or s["counts"]["pending"] or not s["counts"]["dead_letters"]:
                        return False
                return True
            T.wait_for(settled, timeout=30 * SLOW, interval=0.1, message="delivery did not settle")
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait(timeout=30)
        # the conversation subscription's dead letters waiting for another attempt (nobody delivers now)
        out("subscriptions", "redeliver", str(conv["id"]), "--db", cls.src)

    @classmethod
    def tearDownClass(cls):
        cls.target.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="levee-copy-t-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def copy(self, src, dst, *more, expect=0):
        r = run("copy", "--from", src, "--to", dst, *more, timeout=300)
        self.assertEqual(r.code, expect, r.err)
        return r

    def assertSameStore(self, a, b, search=True):
        """What a user sees of a and b is the same."""
        self.assertEqual(run("export", "--db", a).out_bytes, run("export", "--db", b).out_bytes)
        self.assertEqual(run("export", "--db", a, "--dead-letters").out_bytes,
                         run("export", "--db", b, "--dead-letters").out_bytes)
        sa, sb = (json.loads(out("stats", "--db", x, "--json").out) for x in (a, b))
        for st in (sa, sb):  # the bytes each engine's files take, and its compression dictionaries, are its own
            for key in [k for k in st if ("bytes" in k and "raw" not in k) or k == "dictionaries"]:
                del st[key]
        self.assertEqual(sa, sb)
        self.assertGreater(sa["duplicates"], 0)
        self.assertGreater(sa["dead_letters"], 0)
        topics, conversations, courses, users = ids_in(self.text.decode())
        questions = [("query", "courses")] + [("query", "topic", t) for t in topics]
        questions += [("query", "conversation", c) for c in conversations[:15]]
        questions += [("query", "course", c, "--until", "2024-10-01") for c in courses]
        questions += [("query", "user", u, "--limit", "20") for u in users[:15] + [self.forgotten]]
        if search:
            questions += [("search", w, "--limit", "1000") for w in ("photosynthesis", "week*", '"I think"')]
        for q in questions:
            x, y = run(*q, "--db", a, "--json"), run(*q, "--db", b, "--json")
            self.assertEqual((x.code, x.out_bytes), (y.code, y.out_bytes), q)
        self.assertEqual(out("forget", "--receipts", "--db", a, "--json").out,
                         out("forget", "--receipts", "--db", b, "--json").out)
        self.assertEqual(subscriptions(a, self.ranks(a)), subscriptions(b, self.ranks(b)))

    def ranks(self, db):
        """Each event row of db -> its rank in arrival order."""
        if db.startswith("postgresql://"):
            rows = self.cluster.psql("SELECT id FROM events ORDER BY id", database=db.rsplit("/", 1)[1]).split()
        else:
            with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
                rows = [r[0] for r in c.execute("SELECT id FROM events ORDER BY id")]
            c.close()
        return {int(r): i for i, r in enumerate(rows)}

    def sql(self, db, query):
        """The rows of a query of the SQLite store db."""
        with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
            rows = c.execute(query).fetchall()
        c.close()
        return rows

    def documents(self, db):
        """How many event rows of the SQLite store db keep their document's bytes."""
        return self.sql(db, "SELECT count(*) FROM events WHERE doc IS NULL")[0][0]

    def assertSound(self, db):
        r = run("check", "--db", db, timeout=300)
        self.assertEqual(r.code, 0, r.out + r.err)

    def assertForgottenRefused(self, db):
        before = json.loads(out("stats", "--db", db, "--json").out)["events"]
        r = run("ingest", "--db", db, "--json", input=self.forgotten_doc.encode() + b"\n")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(json.loads(r.out.splitlines()[-1])["stored"], 0)
        self.assertEqual(json.loads(out("stats", "--db", db, "--json").out)["events"], before)

    def assertStillSigns(self, db):
        """The first subscription's secret and webhook-ids came along: redelivered from db, its dead letters
        are signed with the secret given when it was added, under the webhook-ids the source's attempts had."""
        sid = self.sub_ids[0]
        before = {r.key for r in self.target.snapshot() if r.headers.get("webhook-id", "").startswith("msg_")}
        with T.Target(T.always(204)) as ok:
            spec = json.loads(out("subscriptions", "show", str(sid), "--db", db, "--json").out)
            want = spec["counts"]["dead_letters"]
            self.assertGreater(want, 0)
            # the same subscription, pointed at a target that accepts: its url is settings, the secret stays
            rows = json.loads(out("subscriptions", "redeliver", str(sid), "--db", db, "--json").out)
            self.assertEqual(rows["queued"], want)
            self.retarget(db, sid, ok.url)
            d = subprocess.Popen([levee_path(), "deliver", "--db", db, "-q"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            try:
                T.wait_for(lambda: len({r.key for r in ok.snapshot()}) >= want, timeout=30 * SLOW,
                           message=lambda: "%d of %d delivered" % (len(ok.snapshot()), want))
            finally:
                d.send_signal(signal.SIGTERM)
                d.wait(timeout=30)
            got = ok.snapshot()
            self.assertTrue(all(verify_webhook(self.secret, r.headers, r.body) for r in got))
            self.assertLessEqual({r.key for r in got}, before)

    def retarget(self, db, sid, url):
        """Points subscription sid of db at url, as an operator moving a target would: in its settings."""
        if db.startswith("postgresql://"):
            self.cluster.psql("UPDATE subscriptions SET spec = jsonb_set(spec::jsonb, '{url}', to_jsonb('%s'::text))::text"
                              " WHERE id = %d" % (url, sid), database=db.rsplit("/", 1)[1])
        else:
            with sqlite3.connect(db) as c:
                c.execute("UPDATE subscriptions SET spec = json_set(spec, '$.url', ?) WHERE id = ?", (url, sid))
            c.close()

    def kill_midway(self, src, dst, count, *more):
        """Starts a copy and kills it (SIGKILL) once some of its transactions are committed: True when it was
        cut short, False when it had finished before it could be caught."""
        p = subprocess.Popen([levee_path(), "copy", "--from", src, "--to", dst, *more], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60 * SLOW
        try:
            while time.monotonic() < deadline and p.poll() is None:
                if count() > 0:
                    break
                time.sleep(0.002)
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGSTOP)
                n = count()
                p.kill()
                p.wait(timeout=30)
                return 0 < n
            p.wait(timeout=30)
        return False


def sqlite_events(path):
    try:
        with sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=1) as c:
            return c.execute("SELECT count(*) FROM events").fetchone()[0]
    except sqlite3.Error:
        return 0


class TestCopySQLite(CopyTest):
    """SQLite to SQLite: the same store, resumable, and the refusals."""

    def test_copy_is_the_same_store(self):
        dst = self.path("copy.db")
        r = self.copy(self.src, dst)
        events, documents = (int(x) for x in re.search(r"(\d+) events \((\d+) documents\)", r.err).groups())
        self.assertEqual(events - documents, 1)  # the envelope that kept both its events still holds them once
        self.assertEqual(self.documents(dst), documents)
        self.assertEqual(self.documents(self.src), documents)
        # the entries levee forget erased, whose replies show under "[removed]"
        removed = self.sql(self.src, "SELECT id, topic FROM removed_entries ORDER BY id")
        self.assertTrue(removed)
        self.assertEqual(self.sql(dst, "SELECT id, topic FROM removed_entries ORDER BY id"), removed)
        self.assertSameStore(self.src, dst)
        self.assertSound(dst)
        self.assertForgottenRefused(dst)
        # run again: nothing to do, and it says so
        r = self.copy(self.src, dst)
        self.assertIn("complete copy", r.err)
        self.assertSameStore(self.src, dst)
        self.assertStillSigns(dst)
        # a subscription added afterwards gets a new id, after every id the source ever gave
        new = json.loads(out("subscriptions", "add", "--db", dst, "--url", "http://127.0.0.1:9/n", "--json").out)
        self.assertGreater(new["id"], max(self.sub_ids))

    def test_kill_9_then_resume_ends_as_an_uninterrupted_copy(self):
        whole = self.path("whole.db")
        self.copy(self.src, whole)
        for attempt in range(5):
            dst = self.path("cut%d.db" % attempt)
            if self.kill_midway(self.src, dst, lambda: sqlite_events(dst), "--commit-every", "20"):
                break
        else:
            self.fail("the copy always finished before it could be killed")
        cut = sqlite_events(dst)
        self.assertLess(cut, sqlite_events(self.src))
        r = self.copy(self.src, dst, "--commit-every", "20")
        self.assertIn("continued a copy cut short after %d events" % cut, r.err)
        self.assertSameStore(whole, dst)
        self.assertSameStore(self.src, dst)
        self.assertSound(dst)

    def test_a_source_levee_serve_writes_to(self):
        """The copy is the source at one moment: while a server stores events, its events are a beginning of
        the source's, in order, and sound; events stored after that moment are in the source only."""
        live = self.path("live.db")
        shutil.copy(self.src, live)
        st = json.loads(out("stats", "--db", live, "--json").out)
        before, dead = st["events"], st["dead_letters"]
        server = Server(live, "--no-deliver")
        stop, acked, lock = threading.Event(), [], threading.Lock()
        posters = [threading.Thread(target=keep_posting, args=(server, t, stop, acked, lock)) for t in range(2)]
        try:
            for p in posters:
                p.start()
            server.wait_applied(before + dead + 50, timeout=30 * SLOW)
            dst = self.path("copy.db")
            self.copy(live, dst)
            T.wait_for(lambda: len(acked) > 200, timeout=30 * SLOW, message="the server stopped acknowledging")
        finally:
            stop.set()
            for p in posters:
                p.join(timeout=30)
            server.stop()
        copied = json.loads(out("stats", "--db", dst, "--json").out)["events"]
        now = json.loads(out("stats", "--db", live, "--json").out)["events"]
        self.assertGreaterEqual(copied, before + 50)
        self.assertGreater(now, copied)
        a, b = run("export", "--db", live).out_bytes, run("export", "--db", dst).out_bytes
        self.assertTrue(a.startswith(b) and b.endswith(b"\n"))
        self.assertSound(dst)
        r = self.copy(live, dst, expect=2)
        self.assertIn("the source has changed since", r.err)

    def test_refusals(self):
        # the same store
        r = self.copy(self.src, self.src, expect=2)
        self.assertIn("same store", r.err)
        # a store that holds something else
        other = self.path("other.db")
        self.assertEqual(run("ingest", "--db", other, "-q", input=self.text.splitlines(keepends=True)[0]).code, 0)
        r = self.copy(self.src, other, expect=2)
        self.assertIn("is not empty", r.err)
        self.assertIn("not a copy levee copy made", r.err)
        self.assertEqual(json.loads(out("stats", "--db", other, "--json").out)["events"], 1)
        # a store a server uses (it has a journal)
        served = self.path("served.db")
        os.mkdir(served + ".journal")
        r = self.copy(self.src, served, expect=2)
        self.assertIn("levee serve uses", r.err)
        self.assertFalse(os.path.exists(served))
        # no source
        r = self.copy(self.path("nothing.db"), self.path("x.db"), expect=2)
        self.assertIn("does not exist", r.err)
        self.assertFalse(os.path.exists(self.path("x.db")))
        # a copy cut short, whose source then lost events (levee prune): refused, not mixed
        src = self.path("changing.db")
        shutil.copy(self.src, src)
        dst = self.path("cut.db")
        for attempt in range(5):
            if os.path.exists(dst):
                os.unlink(dst)
            if self.kill_midway(src, dst, lambda: sqlite_events(dst), "--commit-every", "20"):
                break
        else:
            self.fail("the copy always finished before it could be killed")
        out("prune", "--before", "2024-09-04", "--db", src, "-q")
        r = self.copy(src, dst, expect=2)
        self.assertIn("copy cut short, but not of", r.err)
        # a complete copy whose source changed since
        done = self.path("done.db")
        self.copy(self.src, done)
        r = self.copy(src, done, expect=2)
        self.assertIn("a complete copy made earlier, but not of", r.err)
        # a complete copy of another store with as many rows
        lines = self.text.splitlines(keepends=True)
        one, two, into = self.path("one.db"), self.path("two.db"), self.path("into.db")
        self.assertEqual(run("ingest", "--db", one, "-q", input=b"".join(lines[:100])).code, 0)
        self.assertEqual(run("ingest", "--db", two, "-q", input=b"".join(lines[1:101])).code, 0)
        self.copy(one, into)
        r = self.copy(two, into, expect=2)
        self.assertIn("a complete copy made earlier, but not of", r.err)
        self.assertIn("is not the source's event", r.err)
        self.assertEqual(run("export", "--db", into).out_bytes, b"".join(lines[:100]))
        # usage
        r = run("copy", "--from", self.src)
        self.assertEqual(r.code, 2)
        self.assertIn("--to DST is required", r.err)
        r = run("copy", "--from", self.src, "--to", self.path("y.db"), "--commit-every", "0")
        self.assertEqual(r.code, 2)
        self.assertIn("--commit-every", r.err)


class TestCopyPostgreSQL(CopyTest):
    """SQLite -> PostgreSQL -> SQLite, a copy into PostgreSQL and one out of it killed midway, and the progress
    bar of a copy into PostgreSQL."""

    DAYS = 4

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()
        super().setUpClass()

    def pg_events(self, url):
        try:
            return int(self.cluster.psql("SELECT count(*) FROM events", database=url.rsplit("/", 1)[1]).strip() or 0)
        except RuntimeError:
            return 0

    def test_round_trip(self):
        mid = self.cluster.new_database()
        back = self.path("back.db")
        self.copy(self.src, mid)
        self.assertSameStore(self.src, mid, search=False)  # search ranks are each engine's own
        self.assertSound(mid)
        self.assertForgottenRefused(mid)
        self.copy(mid, back)
        self.assertSameStore(self.src, back)
        self.assertSound(back)
        self.assertForgottenRefused(back)
        self.assertStillSigns(mid)
        # a subscription added afterwards gets a new id, after every id the source gave
        new = json.loads(out("subscriptions", "add", "--db", mid, "--url", "http://127.0.0.1:9/n", "--json").out)
        self.assertGreater(new["id"], max(self.sub_ids))

    def test_kill_9_then_resume_into_postgresql(self):
        for attempt in range(5):
            dst = self.cluster.new_database()
            if self.kill_midway(self.src, dst, lambda: self.pg_events(dst), "--commit-every", "50"):
                break
        else:
            self.fail("the copy always finished before it could be killed")
        cut = self.pg_events(dst)
        r = self.copy(self.src, dst)
        self.assertIn("continued a copy cut short after %d events" % cut, r.err)
        self.assertSameStore(self.src, dst, search=False)
        self.assertSound(dst)

    def test_kill_9_then_resume_out_of_postgresql(self):
        mid = self.cluster.new_database()
        self.copy(self.src, mid)
        for attempt in range(5):
            dst = self.path("cut%d.db" % attempt)
            if self.kill_midway(mid, dst, lambda: sqlite_events(dst), "--commit-every", "20"):
                break
        else:
            self.fail("the copy always finished before it could be killed")
        cut = sqlite_events(dst)
        self.assertLess(cut, self.pg_events(mid))
        r = self.copy(mid, dst, "--commit-every", "20")
        self.assertIn("continued a copy cut short after %d events" % cut, r.err)
        self.assertSameStore(mid, dst, search=False)  # search ranks are each engine's own
        self.assertSameStore(self.src, dst)  # SQLite again: search too
        self.assertSound(dst)
        self.assertForgottenRefused(dst)

    def test_progress_on_a_terminal(self):
        # a source of its own, larger than the class's: the bar is drawn every 1024 rows, and at the end
        src = self.path("big.db")
        out("ingest", "--db", src, "-q", input=simulated(12))
        out("ingest", "--db", src, "-q", input=BROKEN, expect=1)
        st = json.loads(out("stats", "--db", src, "--json").out)
        total = st["events"] + st["dead_letters"]  # what the copy goes through, row by row
        self.assertGreater(total, 2048)
        dst = self.cluster.new_database()
        code, shown = on_a_terminal("copy", "--from", src, "--to", dst)
        self.assertEqual(code, 0, shown)
        text = shown.decode()
        bars = re.findall(r"\rcopying \[([# ]{30})\] +(\d+)%  (\d+) of (\d+) ", text)
        self.assertTrue(bars, text)
        self.assertEqual(bars[-1], ("#" * 30, "100", str(total), str(total)), text)
        done = [int(b[2]) for b in bars]
        self.assertLess(done[0], total, text)  # drawn while it copies, not only at the end
        self.assertEqual(done, sorted(done))
        self.assertEqual({b[3] for b in bars}, {str(total)})
        # the bar ends its line, and the summary follows on the next
        self.assertRegex(text, r"100%%  %d of %d \r?\nlevee copy: copied " % (total, total))
        self.assertEqual(json.loads(out("stats", "--db", dst, "--json").out)["events"], st["events"])
        # -q on a terminal, and a stderr that is not a terminal: no bar
        code, shown = on_a_terminal("copy", "--from", src, "--to", self.cluster.new_database(), "-q")
        self.assertEqual(code, 0, shown)
        self.assertEqual(shown, b"")
        r = self.copy(src, self.cluster.new_database())
        self.assertNotIn("copying [", r.err)
        self.assertIn("levee copy: copied ", r.err)


if __name__ == "__main__":
    unittest.main()
