"""test_pgbouncer.py: levee through pgbouncer (Debian's, 1.18) in transaction mode, in front of a
throwaway PostgreSQL (tests/e2e/pg.py), with a pool of two server connections that every client shares:
ingests at once, every query's JSON byte-identical to the same events stored directly, levee serve on two
nodes with concurrent POSTs, node B's live tail, a subscription delivered (its lease taken by one node),
prune, forget, check and rebuild; and the location's settings (levee_schema, levee_pool_mode) with the
sentences for what a pooler cannot pass on. Skipped with the reason when PostgreSQL or pgbouncer is not
installed."""
import collections
import json
import subprocess
import threading
import time
import unittest

import events as E
import pg
import targets as T
import test_pg
from lv import SANITIZED, levee_path, run
from server import ServerTestCase
from test_pg_nodes import Poster, entry, stored_entry_ids

SLOW = 3 if SANITIZED else 1
POOL = 2  # server connections pgbouncer opens to the database, for every client of the test


def simulated(days, courses, users, seed):
    r = run("simulate", "--days", str(days), "--seed", str(seed), "--courses", str(courses), "--users", str(users))
    assert r.code == 0, r.err
    return r.out


class BouncerTest(test_pg.PgTest):
    bouncer = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = pg.Bouncer.missing()
        if why:
            raise unittest.SkipTest(why)
        cls.bouncer = pg.Bouncer(cls.cluster, pool_mode="transaction", pool_size=POOL)

    @classmethod
    def tearDownClass(cls):
        if cls.bouncer:
            cls.bouncer.stop()

    def databases(self, schema="lv"):
        """A fresh database, as (direct URL, URL through pgbouncer with levee_schema=schema), and its name."""
        direct = self.cluster.new_database()
        name = direct.rsplit("/", 1)[1]
        through = self.bouncer.url(name) + ("?levee_schema=" + schema if schema else "")
        return direct, through, name

    def server_connections(self, name):
        """How many connections the database has on the server (pgbouncer's, and any direct one)."""
        return int(self.cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'" % name))

    def compare(self, a, b, text):
        """Every question's JSON, byte for byte, the stats and search (test_pg's comparison)."""
        test_pg.TestSameAnswersAsSQLite.compare(self, a, b, text)


class TestThroughPgbouncer(BouncerTest):
    def test_ingests_at_once_and_every_answer_as_stored_directly(self):
        text = simulated(6, 3, 60, seed=21)
        lines = text.splitlines(keepends=True)
        f = self.write("sim.ndjson", text)
        rev = self.write("rev.ndjson", "".join(lines[::-1]))
        direct_db, _, _ = self.databases()
        # the first events alone first: enough for the compression dictionary, which each of several
        # writers starting on a store without one would train for itself
        head = self.write("head.ndjson", "".join(lines[:1000]))
        direct = direct_db + "?options=-csearch_path%3Dlv"
        for p in (head, f, rev, f):
            self.ingest(direct, p)
        _, through, name = self.databases()
        self.ingest(through, head)
        # three ingests at once through two server connections: a statement prepared on one would be
        # missing on the other (or already there for the next client)
        procs = [subprocess.Popen([levee_path(), "ingest", "-q", "--db", through, p], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE) for p in (f, rev, f)]
        peak = 0
        while any(p.poll() is None for p in procs):
            peak = max(peak, self.server_connections(name) - 1)  # the psql asking
            time.sleep(0.05)
        results = [(p.wait(timeout=300), p.stderr.read().decode()) for p in procs]
        for p in procs:
            p.stderr.close()
        for code, err in results:
            # writers in opposite orders may deadlock: PostgreSQL ends one, which says so and is run again
            if code != 0:
                self.assertEqual(code, 2, err)
                self.assertIn("another writer", err)
                self.ingest(through, rev)
        self.assertLessEqual(peak, POOL)
        # the statements prepared in a transaction went with it: none is left on the server connections
        for _ in range(2 * POOL):
            self.assertEqual(self.bouncer.query(name, "SELECT count(*) FROM pg_prepared_statements"), "0")
        # the tables are in the schema levee_schema named, nothing in public
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM lv.levee_meta", name).strip(), "1")
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", name).strip(),
                         "0")
        st = json.loads(self.out("stats", "--db", through, "--json"))
        self.assertEqual(st["events"], len(lines))
        self.assertEqual(st["duplicates"], 2 * len(lines) + 1000)
        # the same answers as the store written directly, whoever asks through which way
        self.compare(direct, through, text)
        self.assertEqual(sorted(run("export", "--db", through).out.splitlines(keepends=True)), sorted(lines))
        # (in the order they arrived, which the ingests at once decided)
        self.assertEqual(sorted(run("export", "--db", through, "--event", "discussion_entry_created").out.splitlines()),
                         sorted(run("export", "--db", direct, "--event", "discussion_entry_created").out.splitlines()))
        # and the store written through pgbouncer is checked and rebuilt through it
        r = run("check", "--db", through)
        self.assertEqual(r.code, 0, r.err)
        r = run("rebuild", "--db", through)
        self.assertEqual(r.code, 0, r.err)
        topics, _, courses, _ = test_pg.ids_in(text)
        for q in [("query", "topic", t) for t in topics[:10]] + [("query", "course", c, "--until", "2024-10-01") for c in courses]:
            self.assertEqual(run(*q, "--db", through, "--json").out_bytes, run(*q, "--db", direct, "--json").out_bytes)

    def test_prune_and_forget_answer_as_on_the_store_written_directly(self):
        # a simulated term, and an entry of August: its month's partition is emptied by the prune
        august = E.ndjson([E.entry(99001, 99000, 4242, 565, E.T0 - 30 * 86400 * 1000, "<p>in August</p>")])
        text = simulated(8, 2, 40, seed=4) + august
        f = self.write("sim.ndjson", text)
        direct_db, _, _ = self.databases()
        direct = direct_db + "?options=-csearch_path%3Dlv"
        _, through, name = self.databases()
        self.ingest(direct, f)
        self.ingest(through, f)

        def months():
            return self.cluster.psql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                     " WHERE i.inhparent = 'lv.events'::regclass ORDER BY 1", name).split()
        self.assertEqual(months(), ["events_202408", "events_202409"])
        _, _, _, users = test_pg.ids_in(text)
        user = users[len(users) // 2]
        outs = []
        for db in (direct, through):
            r = run("prune", "--db", db, "--before", "2024-09-05", "--json")
            self.assertEqual(r.code, 0, r.err)
            pruned = json.loads(r.out)
            r = run("forget", "--db", db, "--user", str(user), "--json")
            self.assertEqual(r.code, 0, r.err)
            outs.append((pruned["events"], json.loads(r.out)["events"]))
        self.assertEqual(outs[0], outs[1])
        self.assertGreater(outs[0][0], 0)
        self.assertGreater(outs[0][1], 0)
        # the month the prune emptied is dropped (September stays: it has events after the limit)
        self.assertEqual(months(), ["events_202409"])
        remaining = run("export", "--db", direct).out
        self.assertEqual(run("export", "--db", through).out, remaining)
        self.compare(direct, through, remaining)
        receipts = [json.loads(line)["action"] for line in
                    self.out("forget", "--receipts", "--db", through, "--json").splitlines()]
        self.assertEqual(receipts, ["prune", "forget"])


class TestServeThroughPgbouncer(ServerTestCase):
    """Two levee serve nodes through one pgbouncer in transaction mode."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()
        why = pg.Bouncer.missing()
        if why:
            raise unittest.SkipTest(why)
        cls.bouncer = pg.Bouncer(cls.cluster, pool_mode="transaction", pool_size=POOL)

    @classmethod
    def tearDownClass(cls):
        cls.bouncer.stop()

    def setUp(self):
        super().setUp()
        direct = self.cluster.new_database()
        self.name = direct.rsplit("/", 1)[1]
        self.db = self.bouncer.url(self.name) + "?levee_schema=hub"
        self.targets = []

    def tearDown(self):
        for t in self.targets:
            t.stop()
        super().tearDown()

    def test_two_nodes_posts_tail_and_a_subscription(self):
        t = T.Target(T.always(204)).start()
        self.targets.append(t)
        r = run("subscriptions", "add", "--url", t.url, "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        a, b = self.serve(), self.serve()
        # node B's tail, open before the events arrive
        conn = b.connection(timeout=15)
        conn.request("GET", "/api/tail")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        time.sleep(0.3)
        n = 240
        both = set(range(0, n, 6))  # sent to both nodes at the same moment
        results = collections.Counter()
        lock = threading.Lock()

        def send(server, i, gate=None):
            if gate:
                gate.wait(10)
            status, _ = Poster(server).post(entry(i, topic=7200 + i % 3))
            with lock:
                results[status] += 1

        def work(k):
            for i in range(k, n, 6):
                if i in both:
                    gate = threading.Barrier(2)
                    pair = [threading.Thread(target=send, args=(s, i, gate)) for s in (a, b)]
                    for p in pair:
                        p.start()
                    for p in pair:
                        p.join(30)
                else:
                    send(a if i % 2 else b, i)

        ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for th in ts:
            th.start()
        for th in ts:
            th.join(120)
        self.assertEqual(results, {200: n + len(both)})
        want = {2 * 10 ** 6 + i for i in range(n)}
        # every event stored once
        self.assertEqual(collections.Counter(stored_entry_ids(self.db)), collections.Counter(want))
        stats = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual((stats["events"], stats["duplicates"]), (n, len(both)))
        # node B's tail showed every event, whichever node received it, each once
        seen = []
        deadline = time.time() + 20 * SLOW
        while len(seen) < n and time.time() < deadline:
            line = resp.readline().decode()  # (the stream is chunked: not resp.fp)
            if line.startswith("data: "):
                seen.append(int(json.loads(line[6:])["body"]["discussion_entry_id"]) % 10 ** 13)  # global to local
        conn.close()
        self.assertEqual(sorted(seen), sorted(want))
        # the subscription: every event delivered, by one node at a time
        def delivered():
            got = collections.Counter()
            for req in t.snapshot():
                got[int(json.loads(req.body)["body"]["discussion_entry_id"])] += 1
            return got
        T.wait_for(lambda: want <= set(delivered()), timeout=60 * SLOW, interval=0.2,
                   message=lambda: "delivered %d of %d" % (len(want & set(delivered())), len(want)))
        self.assertEqual(set(delivered()), want)
        # the lease is held by one of the nodes
        owners = self.cluster.psql("SELECT count(*) FROM hub.subscriptions WHERE lease_owner IS NOT NULL",
                                   self.name).strip()
        self.assertEqual(owners, "1")
        # the topics written by both nodes at once hold every one of their entries
        for topic in range(7200, 7203):
            r = run("query", "topic", str(topic), "--db", self.db, "--json")
            self.assertEqual(r.code, 0, r.err)
            tree = json.loads(r.out)
            self.assertEqual(len(tree["entries"]), len([i for i in range(n) if i % 3 == topic - 7200]))
        # and the server never had more connections of levee's than the pool
        self.assertLessEqual(int(self.cluster.psql("SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
                                                   % self.name)) - 1, POOL)


class TestLocationSettings(BouncerTest):
    def test_options_search_path_through_pgbouncer_is_refused_with_what_to_do(self):
        _, through, name = self.databases(schema=None)
        r = run("ingest", "--db", self.bouncer.url(name, options="-csearch_path=lv"), input=E.ndjson(E.course_story()))
        self.assertEqual(r.code, 2)
        self.assertIn("levee_schema=NAME", r.err)
        self.assertNotIn("check that the server runs", r.err)

    def test_levee_schema_directly_is_the_search_path_schema(self):
        direct, _, name = self.databases()
        self.ingest(direct + "?levee_schema=Term%202024", input=E.ndjson(E.course_story()))
        self.assertEqual(self.cluster.psql('SELECT count(*) FROM "Term 2024".topics', name).strip(), "2")
        kv = "host=127.0.0.1 port=%d user=postgres dbname=%s levee_schema='Term 2024'" % (self.cluster.port, name)
        a = self.out("query", "topic", "123456", "--db", kv, "--json")
        self.assertEqual(json.loads(a)["topic"]["discussion_topic_id"], str(E.glob(123456)))
        # the same through pgbouncer
        b = self.out("query", "topic", "123456", "--db", self.bouncer.url(name) + "?levee_schema=Term%202024", "--json")
        self.assertEqual(a, b)

    def test_settings_levee_does_not_know_are_refused(self):
        direct, _, _ = self.databases()
        for loc, words in ((direct + "?levee_pool_mode=statement", "one of auto (the default), session or transaction"),
                           (direct + "?levee_schemas=x", "levee does not know"),
                           (direct + "?levee_schema=", "is empty")):
            r = run("stats", "--db", loc)
            self.assertEqual(r.code, 2, loc)
            self.assertIn(words, r.err)


if __name__ == "__main__":
    unittest.main()
