"""test_retention.py: `levee prune`, `levee serve --retain` and `levee forget` as an operator uses them:
pruning while the server takes posts touches nothing newer than the limit and leaves nothing older,
the store answers as a rebuild from what remains would (levee check agrees), the freed pages go back
to the file system; forgetting a person leaves no trace of them in export, search, queries, dead
letters or the store's file bytes, and their events sent again are not stored."""
import json
import os
import sqlite3
import threading
import unittest
import time

import events as E
import pg
from lv import canvas_example, compact, run
from server import ServerTestCase

DAY = 86400000
LIMIT_DAYS = 30


def stored(db, *args):
    r = run("export", "--db", db, *args)
    assert r.code == 0, r.err
    return [json.loads(l) for l in r.out.splitlines() if l.strip()]


def event_ms(doc):
    from datetime import datetime
    return int(datetime.strptime(doc["metadata"]["event_time"], "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000)


class RetentionTest(ServerTestCase):
    def check(self, db=None):
        r = run("check", "--db", db or self.db, "-q")
        self.assertEqual(r.code, 0, r.out + r.err)

    def ingest(self, events, db=None):
        path = self.path("in.ndjson")
        with open(path, "w") as f:
            f.write(E.ndjson(events))
        r = run("ingest", "--db", db or self.db, path)
        self.assertIn(r.code, (0, 1), r.err)
        return r

    def query(self, what, ident):
        r = run("query", what, ident, "--db", self.db, "--json")
        return r.code, (json.loads(r.out) if r.code == 0 else None)

    def test_prune_while_serving(self):
        now = int(time.time() * 1000)
        old, new = now - 200 * DAY, now - 2 * DAY
        c = 565
        base = [
            # a topic whose every event is old: it goes
            E.topic("discussion_topic_created", 100, c, old, "Old topic"),
            E.entry(1001, 100, 7, c, old + 1000, "<p>an old post</p>"),
            # a topic created long ago, edited recently: the recent version stays and is current
            E.topic("discussion_topic_created", 200, c, old, "First title", updated_ms=old),
            E.topic("discussion_topic_updated", 200, c, new, "Second title", updated_ms=new),
            # an old post with a recent reply: the reply stays, under a parent that is gone
            E.entry(2001, 200, 7, c, old + 2000, "<p>old question</p>"),
            E.entry(2002, 200, 8, c, new + 2000, "<p>recent answer</p>", parent=2001, role="TeacherEnrollment"),
            # a conversation begun long ago with a recent message: it stays, begun by nobody known
            E.conversation_created(300, 7, old),
            E.message(300, 3001, 7, old + 5),
            E.message(300, 3002, 8, new),
            E.conversation_created(400, 9, old),
        ]
        self.ingest(base)
        s = self.serve("--retain", "%dd" % LIMIT_DAYS, "--retain-every", "1s")
        # load: recent posts (never touched) and old ones (pruned at the next round), side by side
        acked_new, acked_old, lock, stop = [], [], threading.Lock(), threading.Event()

        def post(recent, out, t):
            conn = s.connection(timeout=15)
            i = 0
            while not stop.is_set():
                ms = (now - DAY if recent else old) + i
                eid = (5 if recent else 6) * 10 ** 6 + t * 10 ** 4 + i
                e = E.entry(eid, 200, 20 + t, c, ms, "<p>load %d</p>" % i)
                conn.request("POST", "/events", body=json.dumps(e), headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    return
                with lock:
                    out.append(eid)
                i += 1

        threads = [threading.Thread(target=post, args=(True, acked_new, 0)),
                   threading.Thread(target=post, args=(True, acked_new, 1)),
                   threading.Thread(target=post, args=(False, acked_old, 2))]
        for t in threads:
            t.start()
        try:
            # the old topic goes while the posts go on
            deadline = time.time() + 60
            while time.time() < deadline:
                status, _ = s.get("/api/topics/%s" % E.glob(100))
                if status == 404:
                    break
                time.sleep(0.1)
            self.assertEqual(status, 404, "the old topic was not pruned while the server took posts")
            while len(acked_new) < 200 and time.time() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertGreater(len(acked_old), 0)
        # every post acknowledged is applied, and a round after that prunes the old ones
        s.wait_applied(0)
        deadline = time.time() + 60
        while time.time() < deadline:
            st = s.get_json("/api/stats")[1]
            if st["events"] == len(base) - 7 + len(acked_new):
                break
            time.sleep(0.1)
        self.assertEqual(s.stop(), 0)

        docs = stored(self.db)
        limit = now - LIMIT_DAYS * DAY
        self.assertEqual([d for d in docs if event_ms(d) < limit], [], "events older than the limit are left")
        entries = {int(d["body"]["discussion_entry_id"]) for d in docs if "discussion_entry_id" in d["body"]}
        self.assertEqual(set(acked_new) - entries, set(), "an acknowledged recent post was erased")
        self.assertEqual(entries & set(acked_old), set())
        self.assertIn(2002, entries)
        self.check()

        code, t = self.query("topic", E.glob(200))
        self.assertEqual(code, 0)
        self.assertEqual(t["topic"]["title"], "Second title")
        self.assertEqual(len(t["history"]), 1)
        code, _ = self.query("topic", E.glob(100))
        self.assertNotEqual(code, 0)
        self.assertEqual(json.loads(run("stats", "--db", self.db, "--json").out)["events"], len(docs))
        code, cv = self.query("conversation", "300")
        self.assertEqual(code, 0)
        self.assertEqual([m.get("message_id") for m in cv["timeline"] if m.get("message_id")], [E.glob(3002)])
        code, _ = self.query("conversation", "400")
        self.assertNotEqual(code, 0)
        r = run("forget", "--db", self.db, "--receipts", "--json")
        receipts = [json.loads(l) for l in r.out.splitlines()]
        self.assertTrue(receipts and all(x["action"] == "prune" for x in receipts))
        self.assertEqual(sum(x["events"] for x in receipts), 7 + len(acked_old))

    def test_prune_gives_space_back(self):
        sim = self.path("term.ndjson")
        self.assertEqual(run("simulate", "--days", "10", "--courses", "2", "--to", sim).code, 0)
        self.assertEqual(run("ingest", "--db", self.db, sim).code, 0)
        before = os.path.getsize(self.db)
        events = json.loads(run("stats", "--db", self.db, "--json").out)["events"]
        r = run("prune", "--db", self.db, "--before", "2024-09-07", "--json")
        self.assertEqual(r.code, 0, r.err)
        done = json.loads(r.out)
        self.assertGreater(done["events"], 0)
        self.assertLess(done["events"], events)
        run("stats", "--db", self.db)  # (a reader checkpoints nothing; the size is the file's own)
        self.assertLess(os.path.getsize(self.db), before * 0.8)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA freelist_count").fetchone()[0], 0)
        con.close()
        self.check()
        left = stored(self.db)
        self.assertEqual(len(left), events - done["events"])
        self.assertTrue(all(d["metadata"]["event_time"] >= "2024-09-07" for d in left))

    def test_prune_dead_letters_and_everything(self):
        self.ingest([E.entry(1, 2, 3, 565, E.T0, "<p>x</p>"), {"metadata": {"event_name": "discussion_entry_created"}}])
        self.assertEqual(len(stored(self.db, "--dead-letters")), 1)
        r = run("prune", "--db", self.db, "--before", "1d", "--json")  # received now: kept
        self.assertEqual(json.loads(r.out)["dead_letters"], 0)
        self.assertEqual(json.loads(r.out)["events"], 1)  # its event time is in 2024
        r = run("prune", "--db", self.db, "--before", "2999-01-01", "--json")
        self.assertEqual(json.loads(r.out)["dead_letters"], 1)
        self.assertEqual(stored(self.db, "--dead-letters"), [])
        st = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual((st["events"], st["dead_letters"]), (0, 0))
        self.check()

    def test_prune_usage(self):
        self.ingest([E.entry(1, 2, 3, 565, E.T0, "<p>x</p>")])
        r = run("prune", "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn("--before", r.err)
        r = run("prune", "--db", self.db, "--before", "soon")
        self.assertEqual(r.code, 2)
        self.assertIn("'soon'", r.err)


class ForgetTest(ServerTestCase):
    USER = 42
    LOGIN = "user42@example.edu"
    SIS = "SIS-4242-XQ"

    def person(self, doc):
        if doc["metadata"].get("user_id") == E.glob(self.USER):
            doc["metadata"]["user_sis_id"] = self.SIS
        return doc

    def story(self):
        c, u = 565, self.USER
        ev = [
            E.topic("discussion_topic_created", 10, c, E.T0, "Cells"),
            E.entry(11, 10, u, c, E.T0 + 1000, "<p>mitochondria zygomorphic</p>"),
            E.entry(12, 10, 8, c, E.T0 + 2000, "<p>a reply to the forgotten</p>", parent=11),
            E.entry(13, 10, 8, c, E.T0 + 3000, "<p>another post</p>"),
            E.conversation_created(20, 8, E.T0),
            E.message(20, 21, 8, E.T0 + 10),
            E.message(20, 22, u, E.T0 + 20),
            E.conversation_created(30, u, E.T0 + 30),
            E.message(30, 31, u, E.T0 + 40),
        ]
        return [self.person(e) for e in ev]

    def ingest(self, events):
        path = self.path("in.ndjson")
        with open(path, "w") as f:
            f.write(E.ndjson(events))
        return run("ingest", "--db", self.db, path)

    def test_forget_leaves_no_trace(self):
        story = self.story()
        bad = self.person(E.entry(14, 10, self.USER, 565, E.T0 + 5000, "<p>broken</p>"))
        del bad["body"]["discussion_topic_id"]  # rejected: kept as a dead letter, naming them
        self.ingest(story + [bad])
        everything = run("export", "--db", self.db).out + run("export", "--db", self.db, "--dead-letters").out
        self.assertIn(self.LOGIN, everything)  # they were there
        self.assertIn(self.SIS, everything)
        r = run("forget", "--db", self.db, "--user", str(self.USER), "--json")
        self.assertEqual(r.code, 0, r.err)
        done = json.loads(r.out)
        self.assertEqual((done["events"], done["dead_letters"]), (4, 1))

        for args in ((), ("--dead-letters",)):
            out = run("export", "--db", self.db, *args).out
            for trace in (self.LOGIN, self.SIS, E.glob(self.USER), '"user_id":"42"', '"author_id":"42"'):
                self.assertNotIn(trace, out)
        self.assertEqual(len(stored(self.db)), len(story) - 4)
        r = run("search", "--db", self.db, "--json", "zygomorphic")
        self.assertEqual(json.loads(r.out)["results"], [])
        r = run("query", "user", str(self.USER), "--db", self.db, "--json")
        self.assertNotIn("mitochondria", r.out)
        self.assertNotIn('"id":"%s"' % E.glob(11), r.out)
        t = json.loads(run("query", "topic", E.glob(10), "--db", self.db, "--json").out)
        flat = json.dumps(t)
        self.assertIn(E.glob(12), flat)  # the reply stays
        self.assertIn("[removed]", flat)
        self.assertNotIn("mitochondria", flat)
        self.assertNotEqual(run("query", "conversation", "30", "--db", self.db).code, 0)
        cv = json.loads(run("query", "conversation", "20", "--db", self.db, "--json").out)
        self.assertEqual([m.get("message_id") for m in cv["timeline"] if m.get("message_id")], [E.glob(21)])
        r = run("check", "--db", self.db, "-q")
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assert_not_in_store(self.LOGIN, self.SIS)
        receipts = run("forget", "--db", self.db, "--receipts", "--json").out
        (receipt,) = [json.loads(l) for l in receipts.splitlines()]
        self.assertEqual(receipt["action"], "forget")
        self.assertEqual(sorted(receipt), ["action", "at", "before", "dead_letters", "documents", "events", "id",
                                           "took_ms"])  # counts and times: nothing about the person
        self.assertEqual((receipt["events"], receipt["dead_letters"]), (4, 1))
        for trace in (self.LOGIN, self.SIS, E.glob(self.USER)):
            self.assertNotIn(trace, receipts)

    def assert_not_in_store(self, *texts):
        """The file itself, and its write-ahead log."""
        for name in (self.db, self.db + "-wal"):
            if os.path.exists(name):
                with open(name, "rb") as f:
                    raw = f.read()
                for t in texts:
                    self.assertNotIn(t.encode(), raw, name)

    def test_retried_event_not_stored_again(self):
        story = self.story()
        self.ingest(story)
        self.assertEqual(run("forget", "--db", self.db, "--user", E.glob(self.USER), "-q").code, 0)
        n = len(stored(self.db))
        r = self.ingest([story[1], story[6]])  # Canvas sends them again
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(len(stored(self.db)), n)
        self.assertEqual(stored(self.db, "--dead-letters"), [])
        s = self.serve()
        status, _ = s.post("/events", json.dumps(story[1]))
        self.assertEqual(status, 200)  # acknowledged, so that Canvas stops sending it
        status, _ = s.post("/events", json.dumps(E.entry(99, 10, 8, 565, E.T0 + 9000, "<p>someone else</p>")))
        self.assertEqual(status, 200)
        s.wait_applied(n + 1)
        self.assertEqual(s.stop(), 0)
        self.assertNotIn(self.LOGIN, run("export", "--db", self.db).out)
        docs = stored(self.db)
        self.assertEqual(len(docs), n + 1)
        self.assertIn("99", [d["body"].get("discussion_entry_id") for d in docs])

    def test_forget_usage(self):
        self.ingest(self.story())
        self.assertEqual(run("forget", "--db", self.db).code, 2)
        r = run("forget", "--db", self.db, "--user", "jdoe")
        self.assertEqual(r.code, 2)
        self.assertIn("'jdoe'", r.err)


# ---- the same on PostgreSQL ----

class OnPostgreSQL:
    """Runs a test class against a fresh database of the run's PostgreSQL cluster (tests/e2e/pg.py)."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.db = self.cluster.new_database()
        self.dbname = self.db.rsplit("/", 1)[1]

    def psql(self, sql):
        return self.cluster.psql(sql, self.dbname)

    def assert_not_in_store(self, *texts):
        """Every row of every levee table, as text (the raw documents are compressed: export shows those)."""
        tables = [t for t in self.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split()]
        self.assertIn("events", " ".join(tables))
        for table in tables:
            for t in texts:
                n = self.psql("SELECT count(*) FROM %s r WHERE r::text LIKE '%%%s%%'" % (table, t)).strip()
                self.assertEqual(n, "0", "%s holds %s" % (table, t))


def sqlite_only(why):
    return unittest.skip("SQLite only: " + why)


class RetentionTestOnPostgreSQL(OnPostgreSQL, RetentionTest):
    test_prune_gives_space_back = sqlite_only("the file's size and free pages")(
        RetentionTest.test_prune_gives_space_back)

    def test_prune_drops_empty_months(self):
        base = canvas_example("conversation_created")
        docs = []
        for n, t in enumerate(("2024-01-03T10:00:00Z", "2024-01-20T10:00:00Z", "2024-02-10T10:00:00Z",
                               "2024-03-05T10:00:00Z", "2024-09-01T10:00:00Z")):
            d = json.loads(json.dumps(base))
            d["metadata"]["event_time"] = t
            d["body"]["conversation_id"] = str(700 + n)
            docs.append(compact(d))
        path = self.path("months.ndjson")
        with open(path, "w") as f:
            f.write("\n".join(docs) + "\n")
        self.assertEqual(run("ingest", "--db", self.db, path).code, 0)
        parts = lambda: self.psql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                  " WHERE i.inhparent = 'events'::regclass ORDER BY 1").split()
        self.assertEqual(parts(), ["events_202401", "events_202402", "events_202403", "events_202409"])
        # March is only partly before the limit: its partition stays, with what is newer
        r = run("prune", "--db", self.db, "--before", "2024-03-06", "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(json.loads(r.out)["events"], 4)
        self.assertEqual(parts(), ["events_202403", "events_202409"])
        self.assertEqual(len(stored(self.db)), 1)
        self.check()
        # a late event of a dropped month makes its partition again
        with open(path, "w") as f:
            f.write(docs[0] + "\n")
        self.assertEqual(run("ingest", "--db", self.db, path).code, 0)
        self.assertIn("events_202401", parts())
        self.assertEqual(len(stored(self.db)), 2)


class ForgetTestOnPostgreSQL(OnPostgreSQL, ForgetTest):
    def test_retried_event_not_stored_again_by_ingest(self):
        story = self.story()
        self.ingest(story)
        self.assertEqual(run("forget", "--db", self.db, "--user", E.glob(self.USER), "-q").code, 0)
        n = len(stored(self.db))
        r = self.ingest([story[1], story[6]])
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(len(stored(self.db)), n)
        self.assertEqual(stored(self.db, "--dead-letters"), [])
        self.assert_not_in_store(self.LOGIN, self.SIS)
