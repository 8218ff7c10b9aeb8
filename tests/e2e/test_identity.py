"""test_identity.py: an event is one event whatever its spelling. levee drops a duplicate by the hash of
the event's identity; members the catalog does not know and bodies outside the model count as values
(members in name order at every depth, strings decoded, numbers by value), so the same event sent again
with its members reordered, its strings escaped otherwise or its numbers written otherwise is stored
once, and an event whose value differs is stored.

The stores made before (SQLite schema 6, PostgreSQL 3) are upgraded in place: every event whose key
changes gets the new one, and deliveries keep the webhook-id they had. The SQLite store upgraded here
is tests/fixtures/identity-v6/v6.db.gz, made by the schema-6 levee itself (make_fixture.py there says
how), with the fault in it: the respelled copies stored a second time. A PostgreSQL store of schema 3
is made here from a current one with SQL, its keys set to those the schema-6 levee gave the same events
(hashes.tsv, from the same run): a test cannot run the old program, and a second implementation of its
hashing here would test itself."""
import copy
import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import pg
import targets as T
from lv import levee_path, run

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "identity-v6")
EVENTS = os.path.join(FIXTURE, "events.ndjson")
RESPELLED = os.path.join(FIXTURE, "respelled.ndjson")


def old_rows():
    """The schema-6 store's event rows: (row, time ms, key hex, webhook-id it was delivered under or None)."""
    with open(os.path.join(FIXTURE, "hashes.tsv")) as f:
        return [(int(r), int(t), k, None if w == "-" else w) for r, t, k, w in (line.split() for line in f)]


def documents(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def compact(doc):
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


class IdentityTest:
    """The tests of both engines (a mixin: TestIdentity and TestIdentityOnPostgreSQL run them)."""
    ENGINE = "sqlite"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.db = self.store("levee.db")
        self.targets = []
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        for t in self.targets:
            t.stop()
        self.dir.cleanup()

    def store(self, name):
        return os.path.join(self.dir.name, name)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, docs):
        p = self.path(name)
        with open(p, "w") as f:
            f.write("".join(d if isinstance(d, str) else compact(d) + "\n" for d in docs))
        return p

    def ingest(self, *files, db=None):
        r = run("ingest", "--db", db or self.db, *files)
        self.assertEqual(r.code, 0, r.err)
        return r.err

    def stats(self, db=None):
        r = run("stats", "--db", db or self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        return json.loads(r.out)

    def counts(self, db):
        """levee stats but for the bytes each engine's files take and its compression dictionaries."""
        return {k: v for k, v in self.stats(db).items() if k not in ("bytes_on_disk", "bytes_per_event", "dictionaries")}

    def check(self, db=None):
        r = run("check", "--db", db or self.db)
        self.assertEqual(r.code, 0, r.out + r.err)

    def keys(self, db):
        """(time, key hex, webhook key hex or None) of each event row, in row order."""
        raise NotImplementedError

    def version(self, db):
        raise NotImplementedError

    def deliver(self, db):
        """Starts `levee deliver` on db (stopped by tearDown)."""
        log = open(self.path("deliver.log"), "wb")
        p = subprocess.Popen([levee_path(), "deliver", "--db", db, "-q"], stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        self.procs.append(p)
        return p

    def target(self):
        t = T.Target().start()
        self.targets.append(t)
        return t

    def wait_delivered(self, target, n):
        T.wait_for(lambda: len(target.delivered()) >= n, 60,
                   message=lambda: "delivered %d of %d" % (len(target.delivered()), n))
        return [r.headers["webhook-id"] for r in target.delivered()]

    # ---- the same event, spelled otherwise ----

    def test_the_same_events_reordered_and_respelled_are_stored_once(self):
        self.assertIn("stored 7, duplicates 0", self.ingest(EVENTS))
        export = run("export", "--db", self.db).out
        # members reversed at every depth, \u00e9 for é, \/ for /, 3 as 30e-1, 1.5 as 1.50e0, -0.0 as -0.00e0
        self.assertIn("stored 0, duplicates 7", self.ingest(RESPELLED))
        # and spelled the canonical way: members sorted, numbers shortest, no escapes but the needed ones
        canonical = [json.dumps(d, separators=(",", ":"), sort_keys=True, ensure_ascii=False).replace("-0.0", "0")
                     for d in documents(EVENTS)]
        self.assertIn("stored 0, duplicates 7", self.ingest(self.write("canonical.ndjson", [c + "\n" for c in canonical])))
        st = self.stats()
        self.assertEqual((st["events"], st["duplicates"]), (7, 14))
        self.assertEqual(run("export", "--db", self.db).out, export)  # the bytes first received, once each
        self.check()

    def test_an_event_whose_value_differs_is_another_event(self):
        self.ingest(EVENTS)
        asset, entry, _, topic, envelope = documents(EVENTS)
        changed = []
        for doc, path, value in [
                (asset, ["metadata", "x_trace", "hops", 1, "ms"], 1.51),       # a number, deep in metadata
                (asset, ["body", "detail", "scores"], [2.5, 100, -0.0]),        # an array's order
                (asset, ["body", "detail", "title"], "Cafe / Syllabus"),        # a string
                (asset, ["body", "detail", "flags", "seen"], None),             # null is not false
                (asset, ["body", "detail", "flags", "extra"], 0),              # a member more
                (entry, ["body", "x_flags", "weights", 1], 0.250001),           # an unknown body member
                (entry, ["metadata", "x_proxy", "hop"], "3"),                   # "3" is not 3
                (topic, ["body", "x_origin", "v"], 3),
                (envelope, ["data", 2, "object", "name"], "Another page")]:     # an event outside the model
            d = copy.deepcopy(doc)
            cur = d
            for step in path[:-1]:
                cur = cur[step]
            cur[path[-1]] = value
            changed.append(d)
        for i, d in enumerate(changed):
            out = self.ingest(self.write("changed-%d.ndjson" % i, [d]))
            self.assertIn("stored 1, duplicates %d" % (2 if d is changed[-1] else 0), out, "change %d" % i)
        # a member given twice is kept twice, in its order: which one counts is up to the reader
        twice = compact(entry).replace('"x_proxy":{', '"x_proxy":{"hop":4,', 1)
        self.assertIn("stored 1", self.ingest(self.write("twice.ndjson", [twice + "\n"])))
        swapped = compact(entry).replace('"x_proxy":{', '"x_proxy":{"hop":3,', 1).replace('"hop":3}', '"hop":4}', 1)
        self.assertIn("stored 1", self.ingest(self.write("swapped.ndjson", [swapped + "\n"])))
        self.check()

    # ---- stores made before ----

    def assert_upgraded(self, db, old):
        """db was upgraded: every event keyed as a new store keys it, but rows stored twice before; the
        key each had before kept for webhook-id."""
        fresh = self.store("fresh.db")
        self.ingest(EVENTS, db=fresh)
        now = {t: k for t, k, _ in self.keys(fresh)}
        rows = self.keys(db)
        self.assertEqual(len(rows), len(old))
        first = set()
        for (t, key, webhook), (_, old_t, old_key, _) in zip(rows, old):
            self.assertEqual(t, old_t)
            if t in first:  # the second copy of an event, stored before the upgrade: as it was
                self.assertEqual((key, webhook), (old_key, None))
                continue
            first.add(t)
            self.assertEqual(key, now[t])
            self.assertEqual(webhook, None if key == old_key else old_key)
        self.assertEqual(sum(1 for _, k, w in rows if w), 6)  # all but the entry with nothing unknown

class TestIdentity(IdentityTest, unittest.TestCase):
    def test_a_schema_6_store_is_rekeyed_and_drops_the_old_events_sent_again(self):
        with gzip.open(os.path.join(FIXTURE, "v6.db.gz")) as src, open(self.db, "wb") as dst:
            shutil.copyfileobj(src, dst)
        old = old_rows()
        self.assertEqual(self.version(self.db), 6)
        self.assertEqual(self.stats()["events"], 13)  # a reader reads it as it is, and changes nothing
        self.assertEqual(self.version(self.db), 6)
        # the first writer upgrades it; then both spellings are duplicates
        self.assertIn("stored 0, duplicates 7", self.ingest(EVENTS))
        self.assertEqual(self.version(self.db), 8)
        self.assertIn("stored 0, duplicates 7", self.ingest(RESPELLED))
        self.assertEqual(self.stats()["events"], 13)
        self.assert_upgraded(self.db, old)
        self.check()
        # levee copy carries the keys as they are: the second copies keep their old key (not taken for
        # damage), and the key each webhook-id is made of goes with its event
        copied = self.path("copied.db")
        r = run("copy", "--from", self.db, "--to", copied)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.keys(copied), self.keys(self.db))
        self.assertEqual(run("export", "--db", copied).out_bytes, run("export", "--db", self.db).out_bytes)
        # and its derived state is what a rebuild from its rows gives (topic versions keyed as the rows are)
        self.check(copied)
        self.assertEqual(self.stats(copied), self.stats())
        # the subscription the old levee delivered to: what it sent again carries the same webhook-ids
        t = self.target()
        con = sqlite3.connect(self.db)
        spec = json.loads(con.execute("SELECT spec FROM subscriptions WHERE id = 1").fetchone()[0])
        spec["url"] = t.url
        con.execute("UPDATE subscriptions SET spec = ? WHERE id = 1", (json.dumps(spec),))
        con.commit()
        con.close()
        self.deliver(self.db)
        # rows 8-13 (the second copies, stored after the old levee's deliverer stopped), first time
        first = self.wait_delivered(t, 6)
        self.assertEqual(sorted(first), sorted("msg_1_" + k for r, _, k, _ in old if r > 7))
        r = run("subscriptions", "replay", "1", "--since", "2000-01-01", "--db", self.db)
        self.assertEqual(r.code, 0, r.err)
        again = self.wait_delivered(t, 6 + 13)[6:]
        before = [w for _, _, _, w in old if w]
        self.assertEqual(len(before), 7)
        self.assertEqual(sorted(again), sorted(before + first))

    def test_an_upgraded_store_copied_to_postgresql_is_sound_and_keeps_its_webhook_ids(self):
        cluster = pg.Cluster.shared()
        if cluster is None:
            self.skipTest(pg.SKIP)
        with gzip.open(os.path.join(FIXTURE, "v6.db.gz")) as src, open(self.db, "wb") as dst:
            shutil.copyfileobj(src, dst)
        old = old_rows()
        self.assertIn("stored 0, duplicates 7", self.ingest(EVENTS))  # upgraded to schema 7
        url = cluster.new_database()
        r = run("copy", "--from", self.db, "--to", url)
        self.assertEqual(r.code, 0, r.err)
        self.check(url)
        self.assertEqual(self.counts(url), self.counts(self.db))
        self.assertEqual(run("export", "--db", url).out_bytes, run("export", "--db", self.db).out_bytes)
        keys = cluster.psql("SELECT time, encode(hash, 'hex'), coalesce(encode(webhook_hash, 'hex'), '-')"
                            " FROM events ORDER BY id", database=url.rsplit("/", 1)[1])
        self.assertEqual([(int(t), k, None if w == "-" else w) for t, k, w in (l.split("|") for l in keys.split())],
                         self.keys(self.db))
        # delivered from PostgreSQL, then replayed there: each event under the id made of the key its
        # webhook-id was made of before the upgrade (or of its own key when it was not re-keyed)
        t = self.target()
        r = run("subscriptions", "add", "--db", url, "--url", t.url, "--form", "record", "--from-start",
                "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--json")
        self.assertEqual(r.code, 0, r.err)
        sub = json.loads(r.out)["id"]
        want = sorted("msg_%d_%s" % (sub, w or k) for _, k, w in self.keys(self.db))
        self.deliver(url)
        self.assertEqual(sorted(self.wait_delivered(t, 13)), want)
        r = run("subscriptions", "replay", str(sub), "--since", "2000-01-01", "--db", url)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(sorted(self.wait_delivered(t, 26)[13:]), want)

    def keys(self, db):
        con = sqlite3.connect(db)
        rows = [(t, k.hex(), w.hex() if w else None)
                for t, k, w in con.execute("SELECT time, hash, webhook_hash FROM events ORDER BY id")]
        con.close()
        return rows

    def version(self, db):
        con = sqlite3.connect(db)
        v = con.execute("PRAGMA user_version").fetchone()[0]
        con.close()
        return v


class TestIdentityOnPostgreSQL(IdentityTest, unittest.TestCase):
    ENGINE = "postgresql"

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()

    def store(self, name):
        return self.cluster.new_database()

    def psql(self, db, sql):
        return self.cluster.psql(sql, database=db.rsplit("/", 1)[1])

    def keys(self, db):
        out = self.psql(db, "SELECT time, encode(hash, 'hex'), coalesce(encode(webhook_hash, 'hex'), '-')"
                            " FROM events ORDER BY id")
        return [(int(t), k, None if w == "-" else w) for t, k, w in (line.split("|") for line in out.split())]

    def version(self, db):
        return int(self.psql(db, "SELECT value FROM levee_meta WHERE key = 'schema'"))

    def test_a_schema_3_store_is_rekeyed_and_drops_the_old_events_sent_again(self):
        # schema 3 from a current store: the keys the schema-6 levee gave these events (the first seven
        # rows of its store), the topic's versions keyed alike, and no webhook_hash column
        self.ingest(EVENTS)
        old = [r for r in old_rows() if r[3]]
        sql = ["BEGIN"]
        for _, t, k, _ in old:
            sql.append("UPDATE events SET hash = '\\x%s' WHERE time = %d" % (k, t))
            sql.append("UPDATE topic_versions SET hash = '\\x%s' WHERE time = %d" % (k, t))
            sql.append("UPDATE topics SET version_hash = '\\x%s' WHERE version_time = %d" % (k, t))
        sql += ["ALTER TABLE events DROP COLUMN webhook_hash", "UPDATE levee_meta SET value = 3 WHERE key = 'schema'",
                "COMMIT"]
        self.psql(self.db, "; ".join(sql))
        self.assertEqual(self.version(self.db), 3)
        self.assertEqual(self.stats()["events"], 7)  # a reader reads it as it is
        self.assertIn("stored 0, duplicates 7", self.ingest(RESPELLED))
        self.assertEqual(self.version(self.db), 6)  # rekeyed (4), then schema 5 and 6
        self.assertIn("stored 0, duplicates 7", self.ingest(EVENTS))
        self.assert_upgraded(self.db, old)
        self.check()
        # delivered after the upgrade, each event carries the webhook-id the old levee gave it
        t = self.target()
        r = run("subscriptions", "add", "--db", self.db, "--url", t.url, "--form", "record", "--from-start",
                "--secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        self.assertEqual(r.code, 0, r.err)
        self.deliver(self.db)
        sent = self.wait_delivered(t, 7)
        self.assertEqual(sorted(sent), sorted(w for _, _, _, w in old))
        # a replay reads each event back by its row: it is sent again under the same webhook-id
        sub = json.loads(run("subscriptions", "list", "--db", self.db, "--json").out)["subscriptions"][0]["id"]
        r = run("subscriptions", "replay", str(sub), "--since", "2000-01-01", "--db", self.db)
        self.assertEqual(r.code, 0, r.err)
        again = self.wait_delivered(t, 14)[7:]
        self.assertEqual(sorted(again), sorted(sent))


if __name__ == "__main__":
    unittest.main()
