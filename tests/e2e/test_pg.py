"""test_pg.py: what is particular to the PostgreSQL engine: the JSON of every query byte-identical to the
SQLite engine's on the same simulated events (whatever the arrival order), several writers at once, the
schema chosen with search_path, monthly partitions, a newer schema refused, passwords never shown, the
sentences for a server that cannot be reached, backups with pg_dump and pg_restore, passwords from
PGPASSWORD and password files on a server that asks for them, and search ranked by relevance. The store
suite itself runs on PostgreSQL too (test_store.py's *OnPostgreSQL classes). Against a throwaway server
(tests/e2e/pg.py); skipped with the reason when PostgreSQL is not installed."""
import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest

import events as E
import pg
from lv import SANITIZED, canvas_example, compact, levee_path, run
from server import Server


class PgTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, text):
        with open(self.path(name), "w", newline="") as f:
            f.write(text)
        return self.path(name)

    def ingest(self, db, *files, input=None, expect=0):
        r = run("ingest", "--db", db, *files, input=input)
        self.assertEqual(r.code, expect, r.err)
        return r

    def out(self, *args):
        r = run(*args)
        self.assertEqual(r.code, 0, (args, r.err))
        return r.out


def simulated(days=14, seed=11):
    r = run("simulate", "--days", str(days), "--seed", str(seed), "--courses", "4", "--users", "120")
    assert r.code == 0, r.err
    return r.out


def ids_in(text):
    """The topics, conversations, courses and users the events are about (canvas form: body ids local)."""
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


class TestSameAnswersAsSQLite(PgTest):
    """The JSON of every question, byte for byte, from both engines on the same events."""

    def compare(self, sqlite_db, pg_db, text):
        topics, conversations, courses, users = ids_in(text)
        self.assertGreater(len(topics), 5)
        questions = [("query", "courses")]
        questions += [("query", "topic", t) for t in topics]
        questions += [("query", "conversation", c) for c in conversations[:40]]
        for c in courses:
            questions += [("query", "course", c, "--until", "2024-10-01"),
                          ("query", "course", c, "--since", "2024-09-05", "--until", "2024-09-09", "--limit", "3",
                           "--offset", "1")]
        questions += [("query", "user", u, "--limit", "20") for u in users[:40]]
        for q in questions:
            a = run(*q, "--db", sqlite_db, "--json")
            b = run(*q, "--db", pg_db, "--json")
            self.assertEqual((a.code, a.out_bytes), (b.code, b.out_bytes), q)
        # the stats, but for the bytes each engine's files take
        a = json.loads(self.out("stats", "--db", sqlite_db, "--json"))
        b = json.loads(self.out("stats", "--db", pg_db, "--json"))
        for st in (a, b):
            for key in [k for k in st if "bytes" in k and "raw" not in k]:
                del st[key]
        self.assertEqual(a, b)
        self.assertEqual(self.out("stats", "--db", sqlite_db).splitlines()[:3],
                         self.out("stats", "--db", pg_db).splitlines()[:3])
        # search: the same matches, with the same snippets; ranks are each engine's own
        for words in ("photosynthesis", "week*", "evid*", '"I think"', "zzzznothing"):
            a = json.loads(self.out("search", words, "--db", sqlite_db, "--json", "--limit", "1000"))
            b = json.loads(self.out("search", words, "--db", pg_db, "--json", "--limit", "1000"))
            for res in (a, b):
                for x in res["results"]:
                    del x["rank"]
                res["results"].sort(key=lambda x: json.dumps(x, sort_keys=True))
            self.assertLess(len(a["results"]), 1000, words)  # all of them, not each engine's best 1000
            self.assertEqual(a, b, words)

    def test_every_query_is_byte_identical(self):
        text = simulated()
        f = self.write("sim.ndjson", text)
        sqlite_db = self.path("levee.db")
        pg_db = self.cluster.new_database()
        self.ingest(sqlite_db, f)
        self.ingest(pg_db, f)
        self.compare(sqlite_db, pg_db, text)
        # the export is the input, byte for byte, from both
        self.assertEqual(run("export", "--db", pg_db).out_bytes, text.encode())
        self.assertEqual(run("export", "--db", sqlite_db).out_bytes, text.encode())
        for args in (("--event", "discussion_entry_created"), ("--since", "2024-09-05", "--until", "2024-09-08")):
            self.assertEqual(run("export", "--db", pg_db, *args).out_bytes,
                             run("export", "--db", sqlite_db, *args).out_bytes)

    def test_a_running_server_answers_course_summaries_as_sqlite_does(self):
        # One kept-alive connection, so one database connection: its prepared reads are used again, and
        # a summary's reads sent ahead together are answered in turn; a course that is not there (404)
        # and other questions between them leave nothing read ahead for the next one.
        text = simulated(days=7, seed=13)
        f = self.write("sim.ndjson", text)
        sqlite_db = self.path("levee.db")
        pg_db = self.cluster.new_database()
        self.ingest(sqlite_db, f)
        self.ingest(pg_db, f)
        topics, _, courses, _ = ids_in(text)
        paths = []
        for c in courses:
            paths += ["/api/courses/%s?now=2024-09-10T00:00:00Z" % c,
                      "/api/courses/%s?since=2024-09-03&until=2024-09-06&limit=2&offset=1&now=2024-09-10T00:00:00Z" % c,
                      "/api/courses/999999?now=2024-09-10T00:00:00Z",
                      "/api/courses/%s?now=2024-09-10T00:00:00Z" % c,
                      "/api/topics/%s" % topics[0]]
        answers = {}
        for db in (sqlite_db, pg_db):
            with Server(db, "--no-deliver", "--access-log", "false") as s:
                conn = s.connection()
                got = []
                for _ in range(3):
                    for path in paths:
                        conn.request("GET", path)
                        resp = conn.getresponse()
                        got.append((path, resp.status, resp.read()))
                conn.close()
                answers[db] = got
        self.assertEqual([(p, st) for p, st, _ in answers[pg_db]].count(("/api/courses/999999?now=2024-09-10T00:00:00Z", 404)),
                         3 * len(courses))
        for a, b in zip(answers[sqlite_db], answers[pg_db]):
            if a[1] == 404:  # its sentence names each store
                a, b = a[:2], b[:2]
            self.assertEqual(a, b, a[0])

    def test_any_arrival_order_gives_the_same_answers(self):
        text = simulated(days=7, seed=5)
        lines = text.splitlines(keepends=True)
        sqlite_db = self.path("levee.db")
        self.ingest(sqlite_db, self.write("sim.ndjson", text))
        rng = random.Random(3)
        shuffled = lines[:]
        rng.shuffle(shuffled)
        # reversed, shuffled, and in two halves the second one first
        for n, order in enumerate([lines[::-1], shuffled, lines[len(lines) // 2:] + lines[:len(lines) // 2]]):
            pg_db = self.cluster.new_database()
            self.ingest(pg_db, self.write("order%d.ndjson" % n, "".join(order)))
            self.compare(sqlite_db, pg_db, text)


class TestPlannerKnowsTheLoad(PgTest):
    """A load of many events (levee ingest, levee copy) ends with VACUUM (ANALYZE) of levee's tables, so
    the questions asked right after it are planned for the tables as they are, not as empty ones (until
    autovacuum comes by, a minute or more later); a small load leaves it to autovacuum."""

    TABLES = ("entries", "topics", "search_docs", "event_about", "messages", "participants")

    def stats(self, db, schema="public"):
        rows = self.cluster.psql("SELECT relname, last_vacuum IS NOT NULL, last_analyze IS NOT NULL"
                                 " FROM pg_stat_user_tables WHERE schemaname = '%s'" % schema, db)
        return {r.split("|")[0]: r.split("|")[1:] for r in rows.split()}

    def test_a_bulk_load_is_analyzed_and_a_small_one_is_not(self):
        text = run("simulate", "--days", "35", "--seed", "3", "--courses", "4", "--users", "150").out
        lines = text.splitlines(keepends=True)
        self.assertGreaterEqual(len(lines), 10000)  # LV_ANALYZE_EVENTS
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        big = url + "?options=-csearch_path%3Dterm_big"  # VACUUM names each table with its schema
        self.ingest(big, self.write("big.ndjson", text))
        seen = self.stats(db, "term_big")
        for t in self.TABLES:
            self.assertEqual(seen[t], ["t", "t"], t)
        # the planner's count of the entries is the table's, right after the ingest
        n = self.cluster.psql("SELECT count(*) FROM term_big.entries", db).strip()
        self.assertGreater(int(n), 1000)
        self.assertEqual(self.cluster.psql("SELECT reltuples::bigint FROM pg_class WHERE oid = 'term_big.entries'::regclass",
                                           db).strip(), n)
        parts = self.cluster.psql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                  " WHERE i.inhparent = 'term_big.events'::regclass", db).split()
        self.assertTrue(parts)
        for part in parts:
            self.assertEqual(seen[part], ["t", "t"], part)

        small = url + "?options=-csearch_path%3Dterm_small"
        self.ingest(small, self.write("small.ndjson", "".join(lines[:2000])))
        seen = self.stats(db, "term_small")
        for t in self.TABLES:
            self.assertEqual(seen[t], ["f", "f"], t)  # autovacuum's own runs are last_autoanalyze

        # a copy of many events into PostgreSQL is analyzed too
        sqlite = self.path("big.db")
        self.ingest(sqlite, self.path("big.ndjson"))
        copied = url + "?options=-csearch_path%3Dterm_copy"
        r = run("copy", "--from", sqlite, "--to", copied, "-q")
        self.assertEqual(r.code, 0, r.err)
        seen = self.stats(db, "term_copy")
        for t in self.TABLES:
            self.assertEqual(seen[t], ["t", "t"], t)


class TestSeveralWriters(PgTest):
    def test_two_ingests_at_once_store_each_event_once(self):
        text = simulated(days=5, seed=8)
        lines = text.splitlines(keepends=True)
        f = self.write("sim.ndjson", text)
        rev = self.write("rev.ndjson", "".join(lines[::-1]))
        sqlite_db = self.path("levee.db")
        self.ingest(sqlite_db, f)
        pg_db = self.cluster.new_database()
        self.ingest(pg_db, input=lines[0])  # the schema exists before they start
        procs = [subprocess.Popen([levee_path(), "ingest", "-q", "--db", pg_db, p], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE) for p in (f, f, rev)]
        results = [(p.wait(timeout=600), p.stderr.read().decode()) for p in procs]
        for p in procs:
            p.stderr.close()
        for code, err in results:
            # writers in opposite orders may deadlock: PostgreSQL ends one, which says so and is run again
            if code != 0:
                self.assertEqual(code, 2, err)
                self.assertIn("another writer", err)
                self.ingest(pg_db, rev)
        st = json.loads(self.out("stats", "--db", pg_db, "--json"))
        self.assertEqual(st["events"], len(lines))
        self.assertEqual(st["duplicates"], 3 * len(lines) - len(lines) + 1)
        topics, conversations, courses, _ = ids_in(text)
        self.assertTrue(topics and conversations and courses)
        questions = [("query", "topic", t) for t in topics] + [("query", "conversation", c) for c in conversations]
        questions += [("query", "course", c, "--until", "2024-10-01") for c in courses]
        for q in questions:
            a, b = run(*q, "--db", sqlite_db, "--json"), run(*q, "--db", pg_db, "--json")
            self.assertEqual(a.code, 0, (q, a.err))
            self.assertEqual(a.out_bytes, b.out_bytes, q)
        self.assertEqual(sorted(run("export", "--db", pg_db).out.splitlines(keepends=True)), sorted(lines))

    def test_two_first_writers_on_an_empty_database(self):
        """Two ingests started together on a new, empty database: both succeed, the schema is made once (the
        store has the tables and settings one writer alone makes), every event is stored once."""
        text = simulated(days=2, seed=5)
        lines = text.splitlines(keepends=True)
        f = self.write("sim.ndjson", text)
        alone = self.cluster.new_database()
        self.ingest(alone, f)

        def catalog(db):
            name = db.rsplit("/", 1)[1]
            return (self.cluster.psql("SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN"
                                      " ('pg_catalog', 'information_schema') ORDER BY 1, 2", name),
                    self.cluster.psql("SELECT key, value FROM levee_meta ORDER BY 1", name),
                    self.cluster.psql("SELECT name, value FROM marks ORDER BY 1", name))
        for attempt in range(3):  # the race is in the first moments of a new database: a few of them
            db = self.cluster.new_database()
            procs = [subprocess.Popen([levee_path(), "ingest", "--json", "--db", db, f], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for _ in range(2)]
            results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
            for out, err, code in results:
                self.assertEqual(code, 0, err.decode())
            said = [json.loads(out.decode().splitlines()[-1]) for out, _, _ in results]
            self.assertEqual(sum(x["stored"] for x in said), len(lines), said)
            self.assertEqual(sum(x["duplicates"] for x in said), len(lines), said)
            st = json.loads(self.out("stats", "--db", db, "--json"))
            self.assertEqual((st["events"], st["duplicates"], st["dead_letters"]), (len(lines), len(lines), 0))
            self.assertEqual(catalog(db), catalog(alone))
            self.assertEqual(sorted(run("export", "--db", db).out.splitlines(keepends=True)), sorted(lines))
            r = run("check", "--db", db, "-q")
            self.assertEqual(r.code, 0, r.out + r.err)


class TestLockTable(PgTest):
    """Each topic and conversation a transaction writes is locked until it ends, and PostgreSQL keeps those
    locks in one table of fixed size shared by all its sessions (max_locks_per_transaction x max_connections:
    3,200 on the tests' server). A load that touches more conversations than that at once is committed in
    as many transactions as it needs instead of failing with "out of shared memory" (as an ingest of the
    1M-event benchmark corpus did, 150,000 events in)."""

    CONVERSATIONS = 12000  # in one ingest's transaction of 50,000 events, had levee not ended it sooner

    def test_a_load_of_more_conversations_than_the_lock_table_holds_is_stored(self):
        table = self.cluster.psql("SELECT current_setting('max_locks_per_transaction')::int"
                                  " * current_setting('max_connections')::int").strip()
        self.assertLess(int(table), self.CONVERSATIONS)
        t0 = 1725148800000  # 2024-09-01
        events = [E.conversation_created(9000000 + i, 100 + i % 300, t0 + i * 1000) for i in range(self.CONVERSATIONS)]
        text = E.ndjson(events)
        f = self.write("conversations.ndjson", text)
        pg_db = self.cluster.new_database()
        r = self.ingest(pg_db, f)
        self.assertNotIn("out of shared memory", r.err)
        st = json.loads(self.out("stats", "--db", pg_db, "--json"))
        self.assertEqual(st["events"], self.CONVERSATIONS)
        self.assertEqual(st["dead_letters"], 0)
        sqlite_db = self.path("levee.db")
        self.ingest(sqlite_db, f)
        for conv in (9000000, 9000000 + self.CONVERSATIONS // 2, 9000000 + self.CONVERSATIONS - 1):
            q = ("query", "conversation", str(conv), "--json")
            a = run(*q, "--db", pg_db)
            self.assertEqual(a.code, 0, a.err)
            self.assertEqual(a.out_bytes, run(*q, "--db", sqlite_db).out_bytes, conv)
        self.assertEqual(sorted(run("export", "--db", pg_db).out.splitlines(keepends=True)),
                         sorted(text.splitlines(keepends=True)))
        # a rebuild of such a store is one transaction, and so is levee check's (rolled back): they lock the
        # topics and conversations tables, not each of them (both failed with "out of shared memory")
        r = run("rebuild", "--db", pg_db)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("recomputed the derived state", r.err)
        r = run("check", "--db", pg_db)
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assertIn("derived state agrees with a rebuild", r.out + r.err)
        self.assertEqual(a.out_bytes, run(*q, "--db", pg_db).out_bytes)  # the last conversation, after the rebuild
        # a copy of such a store into PostgreSQL too
        copied = self.cluster.new_database()
        r = run("copy", "--from", sqlite_db, "--to", copied, "-q")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(json.loads(self.out("stats", "--db", copied, "--json"))["events"], self.CONVERSATIONS)


class TestPostgreSQLStore(PgTest):
    def test_schema_of_the_users_choice(self):
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        a = url + "?options=-csearch_path%3Dterm_a"
        b = url + "?options=-csearch_path%3Dterm_b"
        self.ingest(a, input=E.ndjson(E.course_story()))
        self.ingest(b, input=compact(canvas_example("conversation_created")) + "\n")
        self.assertEqual(json.loads(self.out("stats", "--db", a, "--json"))["events"], 16)
        self.assertEqual(json.loads(self.out("stats", "--db", b, "--json"))["events"], 1)
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM term_a.topics", db).strip(), "2")
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM term_b.topics", db).strip(), "0")
        # nothing went into public
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db).strip(),
                         "0")
        # a reader does not make a schema: there is no store there
        r = run("stats", "--db", url + "?options=-csearch_path%3Dterm_c")
        self.assertEqual(r.code, 2)
        self.assertIn("there is no store at", r.err)
        self.assertIn("ingest events into it first", r.err)

    def test_keyword_value_location(self):
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        kv = "host=%s port=%d user=postgres dbname=%s" % (self.cluster.dir, self.cluster.port, db)
        self.ingest(kv, input=E.ndjson(E.course_story()))
        self.assertEqual(json.loads(self.out("query", "topic", "123456", "--db", kv, "--json")),
                         json.loads(self.out("query", "topic", "123456", "--db", url, "--json")))

    def test_events_are_partitioned_by_month(self):
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        base = canvas_example("conversation_created")
        docs = []
        for n, t in enumerate(("2024-01-31T23:59:59.999Z", "2024-02-01T00:00:00Z", "2024-02-29T12:00:00Z",
                               "2023-12-15T08:00:00+02:00", "1999-12-31T23:00:00+02:00")):
            d = json.loads(json.dumps(base))
            d["metadata"]["event_time"] = t
            d["body"]["conversation_id"] = str(100 + n)
            docs.append(compact(d))
        self.ingest(url, input="\n".join(docs) + "\n")
        parts = self.cluster.psql("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
                                  " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
                                  " ORDER BY 1", db).split("\n")
        names = [p.split("|")[0] for p in parts if p]
        self.assertEqual(names, ["events_199912", "events_202312", "events_202401", "events_202402"])
        counts = self.cluster.psql("SELECT tableoid::regclass, count(*) FROM events GROUP BY 1 ORDER BY 1", db)
        self.assertIn("events_202402|2", counts)
        self.assertIn("events_202401|1", counts)
        # an old month goes at once: detached and dropped, its events are no longer exported
        self.cluster.psql("ALTER TABLE events DETACH PARTITION events_199912; DROP TABLE events_199912", db)
        self.assertEqual(len(run("export", "--db", url).out.splitlines()), 4)
        # a month whose partition was dropped is made again when its events come back
        self.ingest(url, input=docs[4] + "\n")
        self.assertEqual(len(run("export", "--db", url).out.splitlines()), 5)

    def test_a_newer_schema_is_refused(self):
        url = self.cluster.new_database()
        self.ingest(url, input=E.ndjson(E.course_story()))
        self.cluster.psql("UPDATE levee_meta SET value = 99 WHERE key = 'schema'", url.rsplit("/", 1)[1])
        for args in (("stats", "--db", url), ("ingest", "--db", url)):
            r = run(*args, input="")
            self.assertEqual(r.code, 2, args)
            self.assertIn("written by a newer levee (schema 99; this one reads 6); upgrade levee", r.err)

    def test_a_schema_1_store_is_upgraded(self):
        # schema 1 (levee before erasure): no erasure tables and no about mark; a reader reads it as it is,
        # a writer upgrades it in one transaction and then stores and answers as before
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        self.ingest(url, input=E.ndjson(E.course_story()))
        before = self.out("query", "topic", "123456", "--db", url, "--json")
        self.cluster.psql("DROP TABLE event_about, forgotten, receipts, removed_entries, sub_replays;"
                          " DROP INDEX events_doc; ALTER TABLE events DROP COLUMN webhook_hash;"
                          " DROP INDEX entries_topic;"
                          " CREATE INDEX entries_topic ON entries (topic, created_at) INCLUDE (parent, user_id, role);"
                          " ALTER TABLE participants DROP CONSTRAINT participants_pkey,"
                          " ADD PRIMARY KEY (context_id, day, user_id, role);"
                          " DELETE FROM marks WHERE name = 'about_indexed';"
                          " UPDATE levee_meta SET value = 1 WHERE key = 'schema'", db)
        self.assertEqual(self.out("query", "topic", "123456", "--db", url, "--json"), before)
        self.assertEqual(self.cluster.psql("SELECT value FROM levee_meta WHERE key = 'schema'", db).strip(), "1")
        self.ingest(url, input=compact(canvas_example("conversation_created")) + "\n")
        self.assertEqual(self.cluster.psql("SELECT value FROM levee_meta WHERE key = 'schema'", db).strip(), "6")
        self.assertIn("INCLUDE (id, parent, user_id, role)",
                      self.cluster.psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'entries_topic'", db))
        # a course summary's participants by role come from the key alone
        self.assertIn("INCLUDE (n)",
                      self.cluster.psql("SELECT indexdef FROM pg_indexes WHERE indexname = 'participants_pkey'", db))
        self.assertIn("Index Only Scan", self.cluster.psql(
            "SET enable_seqscan = off; SET enable_bitmapscan = off; EXPLAIN SELECT role, count(DISTINCT user_id), sum(n)"
            " FROM participants WHERE context_id = 1 AND day >= 0 AND day <= 1 GROUP BY role", db))
        # and a summary answers as before the upgrade
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM forgotten", db).strip(), "0")
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM sub_replays", db).strip(), "0")
        # the events stored before the upgrade are not known to be about anything yet: the mark says so
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM marks WHERE name = 'about_indexed'", db).strip(), "0")
        self.assertEqual(self.out("query", "topic", "123456", "--db", url, "--json"), before)

    def test_a_new_store_knows_what_its_events_are_about(self):
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        self.ingest(url, input=E.ndjson(E.course_story()))
        self.assertEqual(self.cluster.psql("SELECT value FROM marks WHERE name = 'about_indexed'", db).strip(), "1")
        self.assertNotEqual(self.cluster.psql("SELECT count(*) FROM event_about", db).strip(), "0")

    def test_check_and_rebuild(self):
        url = self.cluster.new_database()
        db = url.rsplit("/", 1)[1]
        self.ingest(url, input=E.ndjson(E.course_story()))
        r = run("check", "--db", url)
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assertIn("derived state agrees with a rebuild", r.err)
        # a derived row that disagrees with the events is found, and levee rebuild mends it
        self.cluster.psql("UPDATE topics SET title = 'tampered' WHERE id = (SELECT min(id) FROM topics)", db)
        r = run("check", "--db", url)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("topics: the row", r.out)
        self.assertIn("'tampered'", r.out)
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM topics WHERE title = 'tampered'", db).strip(), "1")
        r = run("rebuild", "--db", url)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(run("check", "--db", url).code, 0)
        # with amcheck installed, its index checks run too
        self.cluster.psql("CREATE EXTENSION amcheck", db)
        self.assertEqual(run("check", "--db", url, "--no-rebuild").code, 0)
        # a stored document that no longer decompresses
        self.cluster.psql("UPDATE events SET raw = '\\x00112233'::bytea WHERE id = (SELECT min(id) FROM events)", db)
        r = run("check", "--db", url)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("cannot be read back", r.out)

    def test_backup_points_at_postgresql_tools(self):
        url = self.cluster.new_database()
        self.ingest(url, input=E.ndjson(E.course_story()))
        r = run("backup", "--db", url, "--to", self.path("copy.db"))
        self.assertEqual(r.code, 2)
        self.assertIn("pg_dump", r.err)
        self.assertIn("pg_basebackup", r.err)
        self.assertFalse(os.path.exists(self.path("copy.db")))

    def test_a_write_sent_without_waiting_that_fails_fails_the_ingest(self):
        # writes that need no answer go out in libpq's pipeline mode, with the next statement that needs
        # one: the failure of such a write (here the search index, which this user may not write) is
        # still said with its own sentence, and nothing of the transaction holding it is stored
        url = self.cluster.new_database()
        name = url.rsplit("/", 1)[1]
        self.ingest(url, input=E.ndjson(E.course_story()))
        before = self.out("export", "--db", url)
        role = "lv_noindex_" + name
        self.cluster.psql("CREATE ROLE %s LOGIN; GRANT USAGE ON SCHEMA public TO %s;"
                          " GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s;"
                          " GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %s;"
                          " REVOKE INSERT, UPDATE ON search_docs FROM %s" % ((role,) * 5), name)
        limited = self.cluster.url(name, user=role)
        new = E.ndjson([E.entry(1100 + i, 123456, 53, 565, E.T0 + 500000 + i * 1000, "<p>Leaves are green %d.</p>" % i)
                        for i in range(3)])
        r = run("ingest", "--db", limited, input=new)
        self.assertNotEqual(r.code, 0, r.err)
        self.assertIn("cannot index text for search", r.err)
        self.assertIn("may not do this", r.err)
        self.assertEqual(self.out("export", "--db", url), before)
        # with the right given back, the same events are stored
        self.cluster.psql("GRANT INSERT, UPDATE ON search_docs TO %s" % role, name)
        self.ingest(limited, input=new)
        self.assertEqual(len(self.out("export", "--db", url).splitlines()), len(before.splitlines()) + 3)

    def test_a_server_lost_mid_ingest_ends_it_and_its_summary_counts_only_what_is_stored(self):
        # the server goes away with a transaction open: levee ingest stops reading (it used to read and
        # prepare the rest of its input, each batch larger than the last, and seemed to hang), says
        # what to do, and its summary counts what is committed, not what the lost transaction held
        cluster = pg.Cluster()
        self.addCleanup(cluster.stop)
        url = cluster.new_database()
        lines = simulated(days=5, seed=8).splitlines(keepends=True)
        half = len(lines) // 2
        self.ingest(url, input="".join(lines[:half]))
        p = subprocess.Popen([levee_path(), "ingest", "--json", "--db", url, "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdin.write("".join(lines[half:]).encode())
        p.stdin.flush()
        cluster._run([os.path.join(cluster.bindir, "pg_ctl"), "-D", cluster.data, "-m", "immediate", "-w", "stop"],
                     timeout=90)
        # then far more input than levee holds in its queues: it must stop taking it
        chunk = "".join(lines).encode()
        sent, total = 0, 40 * len(chunk)
        try:
            while sent < total:
                p.stdin.write(chunk)
                sent += len(chunk)
            p.stdin.close()
        except BrokenPipeError:
            pass
        out, err = p.communicate(timeout=300)
        err = err.decode()
        self.assertEqual(p.returncode, 2, err)
        self.assertLess(sent, total, "levee ingest read all of its input after its store had failed")
        self.assertIn("was lost", err)
        self.assertIn("run the same ingest again", err)
        summary = json.loads(out)
        self.assertEqual(summary["stored"], 0, summary)
        cluster.restart()
        self.assertEqual(json.loads(self.out("stats", "--db", url, "--json"))["events"], half)
        r = self.ingest(url, input="".join(lines), expect=0)
        self.assertEqual(json.loads(self.out("stats", "--db", url, "--json"))["events"], len(lines), r.err)

    def test_a_schema_with_other_tables_is_refused(self):
        url = self.cluster.new_database()
        self.cluster.psql("CREATE TABLE events (x int)", url.rsplit("/", 1)[1])
        r = run("ingest", "--db", url, input=E.ndjson(E.course_story()))
        self.assertEqual(r.code, 2)
        self.assertIn("has tables that are not levee's", r.err)
        self.assertIn("options=-csearch_path=NAME", r.err)

    def test_passwords_are_never_shown(self):
        # the test server trusts every connection, so any password is accepted, and must never be printed
        url = self.cluster.new_database(password="s3cr3t-pw")
        r = self.ingest(url, input=E.ndjson(E.course_story()))
        self.assertNotIn("s3cr3t-pw", r.err)
        self.assertIn("into postgresql://postgres@127.0.0.1:%d/" % self.cluster.port, r.err)
        db = url.rsplit("/", 1)[1]
        for loc in (url + "?sslmode=disable&password=other-s3cret",
                    "host=127.0.0.1 port=%d user=postgres password='it s3cret' dbname=%s" % (self.cluster.port, db)):
            r = run("ingest", "--db", loc, input=E.ndjson(E.course_story()))
            self.assertEqual(r.code, 0, r.err)
            self.assertNotIn("s3cret", r.err)
        # and not in the sentence of a failure
        bad = "postgresql://postgres:s3cr3t-pw@127.0.0.1:%d/nosuchdb" % self.cluster.port
        r = run("stats", "--db", bad)
        self.assertEqual(r.code, 2)
        self.assertNotIn("s3cr3t-pw", r.err)
        self.assertIn("cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1", r.err)
        self.assertIn("nosuchdb", r.err)
        # nor in what levee serve logs (its "listening" line names the store), in either form of location
        kv = "host=127.0.0.1 port=%d user=postgres password=kv-s3cret dbname=%s" % (self.cluster.port, db)
        for loc in (url, kv):
            server = Server(loc, "--no-deliver", "--retain", "30d")
            try:
                self.assertEqual(server.get("/readyz")[0], 200)
            finally:
                server.stop()
            logged = "\n".join(server.log)
            self.assertIn("msg=listening", logged)
            self.assertIn("127.0.0.1", logged)
            self.assertNotIn("s3cr3t-pw", logged)
            self.assertNotIn("kv-s3cret", logged)
        # nor in what levee deliver says when it starts
        proc = subprocess.Popen([levee_path(), "deliver", "--db", url], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            first = proc.stderr.readline()
        finally:
            proc.terminate()
            rest = proc.communicate(timeout=60)[1]
        self.assertIn("delivering the subscriptions of postgresql://postgres@127.0.0.1", first)
        self.assertNotIn("s3cr3t-pw", first + rest)
        # nor in levee copy's refusal to copy a store into itself
        r = run("copy", "--from", url, "--to", url)
        self.assertEqual(r.code, 2)
        self.assertIn("name the same store", r.err)
        self.assertNotIn("s3cr3t-pw", r.err)

    def test_a_server_that_cannot_be_reached_is_a_clear_error(self):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = "postgresql://postgres@127.0.0.1:%d/levee?connect_timeout=5" % port
        for args in (("stats", "--db", url), ("ingest", "--db", url), ("query", "topic", "1", "--db", url)):
            r = run(*args, input="")
            self.assertEqual(r.code, 2, args)
            self.assertIn("cannot connect to PostgreSQL at " + url, r.err)
            self.assertIn("check that the server runs", r.err)

    def test_damaged_documents_are_reported_as_damage(self):
        url = self.cluster.new_database()
        self.ingest(url, input=E.ndjson(E.course_story()))
        self.cluster.psql("UPDATE events SET raw = '\\x00010203' WHERE id = (SELECT min(id) FROM events"
                          " WHERE raw IS NOT NULL)", url.rsplit("/", 1)[1])
        r = run("export", "--db", url)
        self.assertEqual(r.code, 2)
        self.assertIn("cannot be read back", r.err)
        self.assertIn("the store is damaged", r.err)

    def test_subscriptions_are_kept_and_a_replay_is_queued(self):
        url = self.cluster.new_database()
        self.ingest(url, input=E.ndjson(E.course_story()))
        r = run("subscriptions", "add", "--db", url, "--url", "http://127.0.0.1:9/hook", "--json")
        self.assertEqual(r.code, 0, r.err)
        sub = json.loads(r.out)
        r = run("subscriptions", "replay", str(sub["id"]), "--since", "2000-01-01", "--db", url)
        self.assertEqual(r.code, 0, r.err)
        r = run("subscriptions", "show", str(sub["id"]), "--db", url, "--json")
        self.assertEqual(r.code, 0, r.err)
        shown = json.loads(r.out)
        self.assertEqual(shown["url"], "http://127.0.0.1:9/hook")
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM sub_replays", url.rsplit("/", 1)[1]).strip(), "1")
        r = run("subscriptions", "remove", str(sub["id"]), "--db", url)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM sub_replays", url.rsplit("/", 1)[1]).strip(), "0")

    def test_subscriptions_are_kept_on_postgresql(self):
        url = self.cluster.new_database()
        self.ingest(url, input=E.ndjson(E.course_story()))
        r = run("subscriptions", "add", "--url", "http://127.0.0.1:9/hook", "--from-start", "--db", url, "--json")
        self.assertEqual(r.code, 0, r.err)
        sid = json.loads(r.out)["id"]
        r = run("subscriptions", "list", "--db", url, "--json")
        self.assertEqual(r.code, 0, r.err)
        subs = json.loads(r.out)["subscriptions"]
        self.assertEqual([s["id"] for s in subs], [sid])
        self.assertEqual(subs[0]["lag"]["events"], len(E.course_story()))  # nothing delivered yet
        self.assertEqual(run("subscriptions", "remove", str(sid), "--db", url).code, 0)


class TestPgDumpAndRestore(PgTest):
    """Backups of a PostgreSQL store as docs/operations.md says to take them: `pg_dump -Fc -n levee` of the
    schema the store is in, `pg_restore` into a new, empty database. The restored store reads as the
    original does (sound, the same export, stats, answers and subscriptions), and goes on storing: its
    sequences and unique keys came back with it. (The bytes on disk differ: a restore packs the tables.)"""

    def tool(self, name, *args):
        r = subprocess.run([os.path.join(self.cluster.bindir, name), "-h", "127.0.0.1", "-p", str(self.cluster.port),
                            "-U", "postgres", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(r.returncode, 0, "%s: %s" % (name, r.stderr.decode(errors="replace")))
        return r

    def stats(self, loc):
        st = json.loads(self.out("stats", "--db", loc, "--json"))
        for key in ("bytes_on_disk", "bytes_per_event"):
            del st[key]
        return st

    def test_pg_dump_and_pg_restore_give_back_a_store_that_reads_and_writes_as_before(self):
        text = simulated(days=14, seed=5)
        url = self.cluster.new_database()
        source = url + "?levee_schema=levee"
        self.ingest(source, input=text)
        r = run("subscriptions", "add", "--url", "http://127.0.0.1:9/hook", "--from-start", "--db", source, "--json")
        self.assertEqual(r.code, 0, r.err)
        dump = self.path("levee.dump")
        self.tool("pg_dump", "-Fc", "-n", "levee", "-f", dump, url.rsplit("/", 1)[1])
        self.assertGreater(os.path.getsize(dump), 0)
        restored_url = self.cluster.new_database()
        restored = restored_url + "?levee_schema=levee"
        self.assertEqual(self.cluster.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'levee'",
                                           restored_url.rsplit("/", 1)[1]).strip(), "0")
        self.tool("pg_restore", "--exit-on-error", "-d", restored_url.rsplit("/", 1)[1], dump)

        r = run("check", "--db", restored)
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assertIn("is sound", r.err)
        self.assertIn("derived state agrees with a rebuild", r.err)
        exported = run("export", "--db", restored)
        self.assertEqual(exported.code, 0, exported.err)
        self.assertEqual(exported.out_bytes, text.encode())
        self.assertEqual(exported.out_bytes, run("export", "--db", source).out_bytes)
        self.assertEqual(self.stats(restored), self.stats(source))
        self.assertGreater(self.stats(restored)["dictionaries"], 0)  # the trained dictionaries came along
        topics, conversations, courses, users = ids_in(text)
        questions = [("query", "courses")] + [("query", "topic", t) for t in topics[:30]]
        questions += [("query", "conversation", c) for c in conversations[:15]]
        questions += [("query", "course", c, "--until", "2024-10-01") for c in courses]
        questions += [("query", "user", u, "--limit", "20") for u in users[:15]]
        questions += [("search", w, "--limit", "50") for w in ("photosynthesis", "week*", '"I think"')]
        for q in questions:
            a, b = run(*q, "--db", source, "--json"), run(*q, "--db", restored, "--json")
            self.assertEqual(a.code, 0, (q, a.err))
            self.assertEqual((b.code, b.out_bytes), (a.code, a.out_bytes), q)
        # the subscription, its cursor and its lag (the age of the oldest event waiting is counted from now)
        subs = []
        for loc in (source, restored):
            listed = json.loads(self.out("subscriptions", "list", "--db", loc, "--json"))["subscriptions"]
            for sub in listed:
                sub["lag"].pop("oldest_seconds")
            subs.append(listed)
        self.assertEqual(subs[1], subs[0])
        self.assertEqual([(x["id"], x["lag"]["events"]) for x in subs[1]], [(1, len(text.splitlines()))])

        # it goes on storing: new events are stored after the old ones (the sequences came back: they are
        # written first, since each duplicate refused would draw a number too), as in the original
        new = E.ndjson([E.entry(880000 + i, 880, 60 + i, 565, E.T0 + 40 * 86400000 + i * 1000,
                                "<p>After the restore %d.</p>" % i) for i in range(5)])
        for loc in (restored, source):
            r = self.ingest(loc, "--json", input=new)
            self.assertEqual(json.loads(r.out)["stored"], 5, r.err)
        after = run("export", "--db", restored).out_bytes
        self.assertEqual(after, text.encode() + new.encode())
        self.assertEqual(after, run("export", "--db", source).out_bytes)
        # and the old events are duplicates (the unique keys came back)
        for loc in (restored, source):
            r = self.ingest(loc, "--json", input=text)
            self.assertEqual((json.loads(r.out)["stored"], json.loads(r.out)["duplicates"]),
                             (0, len(text.splitlines())), loc)
        self.assertEqual(run("export", "--db", restored).out_bytes, after)
        self.assertEqual(self.stats(restored), self.stats(source))
        self.assertEqual(json.loads(self.out("search", "restore", "--db", restored, "--json"))["results"],
                         json.loads(self.out("search", "restore", "--db", source, "--json"))["results"])
        self.assertEqual(len(json.loads(self.out("search", "restore", "--db", restored, "--json"))["results"]), 5)
        # and a new subscription gets the next id, not one the dump holds
        r = run("subscriptions", "add", "--url", "http://127.0.0.1:9/other", "--db", restored, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(json.loads(r.out)["id"], 2)
        self.assertEqual(run("check", "--db", restored).code, 0)


class TestPasswordAuthentication(unittest.TestCase):
    """A cluster of its own that asks for passwords (scram-sha-256 on 127.0.0.1, but for the harness's
    postgres user): libpq's own ways of giving one, as docs/operations.md ("Passwords") says, work with
    levee; none given is levee's sentence naming the ways; the password is never printed."""

    PASSWORD = "Pw-7qXz-levee-91"

    @classmethod
    def setUpClass(cls):
        pg.shared_or_skip()  # (the shared cluster tells whether PostgreSQL can run here)
        cls.cluster = pg.Cluster()
        try:
            hba = os.path.join(cls.cluster.data, "pg_hba.conf")
            with open(hba, "w") as f:
                f.write("local all all trust\n"
                        "host all postgres 127.0.0.1/32 trust\n"
                        "host all all 127.0.0.1/32 scram-sha-256\n")
            if cls.cluster.as_user:
                shutil.chown(hba, "postgres", "postgres")
            cls.cluster.psql("SET password_encryption = 'scram-sha-256';"
                             " CREATE ROLE levee_pw LOGIN PASSWORD '%s'" % cls.PASSWORD)
            cls.cluster.psql("CREATE DATABASE levee_pw_db OWNER levee_pw")
            cls.cluster.psql("SELECT pg_reload_conf()")
            rules = cls.cluster.psql("SELECT user_name, auth_method FROM pg_hba_file_rules WHERE type = 'host'")
            assert rules.split() == ["{postgres}|trust", "{all}|scram-sha-256"], rules
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.loc = "postgresql://levee_pw@127.0.0.1:%d/levee_pw_db" % self.cluster.port
        # no password from anywhere but what each test gives: no PG* variables, a home without .pgpass
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env["HOME"] = self.dir.name

    def run_as(self, env, *args, input=None):
        r = run(*args, input=input, env=env)
        for text in (r.out, r.err):
            self.assertNotIn(self.PASSWORD, text, args)
        return r

    def refused(self, env, why):
        for args in (("stats", "--db", self.loc), ("ingest", "--db", self.loc, "--json")):
            r = self.run_as(env, *args, input=E.ndjson(E.course_story()))
            self.assertEqual(r.code, 2, (args, r.err))
            self.assertIn("cannot connect to PostgreSQL at %s (" % self.loc, r.err)
            self.assertIn(why, r.err)
            self.assertIn("the location, user and password (~/.pgpass or PGPASSFILE)", r.err)
            if "--json" in args:  # the summary: nothing stored, in the time it took (it once said the
                said = json.loads(r.out)  # time since the machine started)
                self.assertEqual(said["stored"], 0)
                self.assertLess(said["seconds"], 60, said)
            else:
                self.assertEqual(r.out, "")

    def stored(self, env):
        """Ingests the course story (once stored, then all duplicates) and reads the stats back."""
        r = self.run_as(env, "ingest", "--db", self.loc, "--json", input=E.ndjson(E.course_story()))
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("into %s" % self.loc, r.err)
        summary = json.loads(r.out)
        self.assertEqual(summary["stored"] + summary["duplicates"], len(E.course_story()))
        for args in (("stats", "--db", self.loc, "--json"), ("stats", "--db", self.loc)):
            r = self.run_as(env, *args)
            self.assertEqual(r.code, 0, r.err)
        st = json.loads(self.run_as(env, "stats", "--db", self.loc, "--json").out)
        self.assertEqual(st["events"], len(E.course_story()))
        return summary

    def pgpass(self, path, mode=0o600, password=None):
        with open(path, "w") as f:
            f.write("127.0.0.1:%d:*:levee_pw:%s\n" % (self.cluster.port, password or self.PASSWORD))
        os.chmod(path, mode)
        return path

    def test_without_a_password_the_sentence_says_where_to_put_one(self):
        self.refused(self.env, "no password supplied")
        # a wrong one is refused by the server, and not shown either
        env = dict(self.env, PGPASSWORD="wrong-Pw-3311")
        self.refused(env, 'password authentication failed for user "levee_pw"')
        self.assertNotIn("wrong-Pw-3311", run("stats", "--db", self.loc, env=env).err)
        # a password file others may read is ignored (libpq's rule: mode 0600 or less), with libpq's warning
        f = self.pgpass(self.path("readable.pgpass"), 0o644)
        r = self.run_as(dict(self.env, PGPASSFILE=f), "stats", "--db", self.loc)
        self.assertEqual(r.code, 2, r.err)
        self.assertIn("has group or world access", r.err)
        self.assertIn("no password supplied", r.err)

    def test_pgpassword_from_the_environment(self):
        self.stored(dict(self.env, PGPASSWORD=self.PASSWORD))
        # what levee serve logs, given the password the same way
        server = Server(self.loc, "--no-deliver", env=dict(self.env, PGPASSWORD=self.PASSWORD))
        try:
            self.assertEqual(server.get("/readyz")[0], 200)
            status, st = server.get_json("/api/stats")
            self.assertEqual((status, st["events"]), (200, len(E.course_story())))
        finally:
            server.stop()
        logged = "\n".join(server.log)
        self.assertIn("msg=listening", logged)
        self.assertNotIn(self.PASSWORD, logged)

    def test_a_password_file_named_by_pgpassfile(self):
        f = self.pgpass(self.path("levee.pgpass"))
        self.stored(dict(self.env, PGPASSFILE=f))
        # and ~/.pgpass, where libpq looks without PGPASSFILE
        self.pgpass(os.path.join(self.dir.name, ".pgpass"))
        self.stored(self.env)
        # a file with another password for this server and user is what libpq sends: refused
        self.pgpass(f, password="not-the-Pw-77")
        self.refused(dict(self.env, PGPASSFILE=f), 'password authentication failed for user "levee_pw"')

    def test_a_password_in_the_location_is_used_and_never_shown(self):
        loc = "postgresql://levee_pw:%s@127.0.0.1:%d/levee_pw_db" % (self.PASSWORD, self.cluster.port)
        r = self.run_as(self.env, "ingest", "--db", loc, "--json", input=E.ndjson(E.course_story()))
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("into %s" % self.loc, r.err)
        r = self.run_as(self.env, "stats", "--db", loc, "--json")
        self.assertEqual((r.code, json.loads(r.out)["events"]), (0, len(E.course_story())), r.err)

    def path(self, name):
        return os.path.join(self.dir.name, name)


class TestSearchRanking(PgTest):
    """Search on PostgreSQL ranks by relevance (docs/operations.md: ts_rank, a title's words weighing more
    than a text's, negated so that lower is better; best first, docs/api.md), and its matches and snippets
    are the SQLite engine's. A topic whose title holds the word comes before the entries and the topic that
    mention it once in a long text, whatever the order they arrived in. (Snippets are windows of the text
    around the word, the word not marked: docs/api.md promises a snippet, no marks.)"""

    WORD = "chlorophyll"

    def long_text(self, n):
        before = " ".join("filler%d words about many other things" % i for i in range(40 + n))
        after = " ".join("more%d padding text follows here" % i for i in range(40))
        return "<p>%s and once %s appears here %s</p>" % (before, self.WORD, after)

    def story(self):
        c = 565
        ev = [E.topic("discussion_topic_created", 4343, c, E.T0, "General questions", "<p>Ask here.</p>"),
              E.topic("discussion_topic_created", 4444, c, E.T0 + 1000, "Reading list", self.long_text(0))]
        ev += [E.entry(5000 + i, 4343, 50 + i, c, E.T0 + 60000 * (i + 1), self.long_text(i + 1)) for i in range(3)]
        # the topic named after the word arrives neither first nor last
        ev.append(E.topic("discussion_topic_created", 4242, c, E.T0 + 300000, "Chlorophyll basics",
                          "<p>Read chapter two.</p>"))
        ev += [E.entry(5100 + i, 4343, 60 + i, c, E.T0 + 400000 + 60000 * i, self.long_text(i + 4)) for i in range(3)]
        return ev

    def search(self, db, *args):
        return json.loads(self.out("search", *args, "--db", db, "--json"))

    def test_a_title_ranks_above_a_single_mention_in_a_long_text(self):
        text = E.ndjson(self.story())
        pg_db = self.cluster.new_database()
        sqlite_db = self.path("levee.db")
        self.ingest(pg_db, input=text)
        self.ingest(sqlite_db, input=text)
        for query in (self.WORD, "Chlorophyll", "chloro*"):
            res = self.search(pg_db, query)
            results = res["results"]
            self.assertEqual(len(results), 8, query)
            best = results[0]
            self.assertEqual((best["kind"], best["topic_title"]), ("topic", "Chlorophyll basics"), query)
            self.assertTrue(best["topic_id"].endswith("4242"), best)
            ranks = [r["rank"] for r in results]
            self.assertEqual(ranks, sorted(ranks), "not best first: %s" % ranks)
            self.assertTrue(all(r < 0 for r in ranks), ranks)  # negated ts_rank: lower is better
            self.assertLess(ranks[0], ranks[1], "the title's match weighs no more than a text's: %s" % ranks)
            # ranked before the limit is applied: the best of all, not of the first found
            self.assertEqual(self.search(pg_db, query, "--limit", "1")["results"], results[:1])
            self.assertEqual(self.search(pg_db, query, "--offset", "1")["results"], results[1:])
            # the snippets: the title and its text; for a long text, a window around the word, cut at words
            self.assertEqual(best["snippet"], "Chlorophyll basics: Read chapter two.")
            for r in results[1:]:
                snippet = r["snippet"]
                self.assertIn(" once %s appears here " % self.WORD, snippet, r)
                self.assertTrue(snippet.startswith("...") and snippet.endswith("..."), snippet)
                self.assertLess(len(snippet), 400, snippet)
            # the SQLite engine finds the same, with the same snippets, and also puts the title first
            lite = self.search(sqlite_db, query)
            self.assertEqual(lite["results"][0]["topic_title"], "Chlorophyll basics")

            def without_rank(rs):
                return sorted((json.dumps({k: v for k, v in r.items() if k != "rank"}, sort_keys=True) for r in rs))
            self.assertEqual(without_rank(results), without_rank(lite["results"]), query)
            self.assertEqual((res["query"], res["terms"]), (lite["query"], lite["terms"]))


if __name__ == "__main__":
    unittest.main()
