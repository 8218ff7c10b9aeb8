"""test_store.py: `levee ingest`, `export`, `stats`, `query`, `search` against a real store:
nothing lost, raw bytes exact, duplicates recognised, dead letters kept, state the same whatever
the arrival order, local and global ids joined, and a kill -9 in the middle of an ingest.

One suite, two engines: every class runs against an SQLite file, and again (the *OnPostgreSQL classes
at the end) against a fresh database of a throwaway PostgreSQL server (tests/e2e/pg.py), skipped with
the reason when PostgreSQL is not installed (scripts/deps.sh test installs it)."""
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

import events as E
import pg
from lv import SANITIZED, canvas_example, caliper_example, compact, levee_path, mutate, run


class StoreTest(unittest.TestCase):
    ENGINE = "sqlite"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.db = self.store("levee.db")

    def store(self, name):
        """A new, empty store's location (a file in the test's directory)."""
        return os.path.join(self.dir.name, name)

    def missing_store(self):
        """A location where no store is."""
        return self.path("nope.db")

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, text):
        p = self.path(name)
        with open(p, "w", newline="") as f:
            f.write(text)
        return p

    def ingest(self, *files, input=None, expect=0, db=None):
        r = run("ingest", "--db", db or self.db, *files, input=input)
        self.assertEqual(r.code, expect, r.err)
        return r

    def stats(self, db=None):
        r = run("stats", "--db", db or self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        return json.loads(r.out)

    def query(self, *args, db=None):
        r = run("query", *args, "--db", db or self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        return json.loads(r.out)


class TestKeeping(StoreTest):
    def test_summary_and_stats(self):
        story = E.course_story()
        r = self.ingest(self.write("story.ndjson", E.ndjson(story)))
        self.assertIn("stored 16, duplicates 0, rejected 0, outside the model 0", r.err)
        st = self.stats()
        self.assertEqual(st["events"], 16)
        self.assertEqual(st["duplicates"], 0)
        self.assertEqual(st["dead_letters"], 0)
        self.assertEqual(st["outside_model"], 0)
        self.assertEqual(st["by_event"]["discussion_entry_created"], {"canvas": 5, "caliper": 0, "total": 5})
        self.assertEqual(st["by_event"]["discussion_entry_submitted"]["total"], 2)
        self.assertEqual(st["first_event_time"], E.iso(E.T0))
        for key in ("events", "duplicates", "dead_letters", "outside_model", "by_event", "bytes_per_event"):
            self.assertIn(key, st)
        self.assertGreater(st["bytes_per_event"], 0)

    def test_export_is_byte_identical(self):
        story = E.ndjson(E.course_story())
        pretty = json.dumps(canvas_example("conversation_forwarded"), indent=2)
        caliper = json.dumps(caliper_example("discussion_entry_created"))
        crlf = compact(canvas_example("discussion_topic_updated")) + "\r\n"
        text = story + pretty + "\n" + caliper + "\n" + crlf
        self.ingest(self.write("in.ndjson", text))
        out = run("export", "--db", self.db)
        self.assertEqual(out.code, 0, out.err)
        # every document comes back exactly, in arrival order, one per line
        want = story + pretty + "\n" + caliper + "\n" + crlf.rstrip("\r\n") + "\n"
        self.assertEqual(out.out, want)

    def test_export_filters(self):
        self.ingest(self.write("story.ndjson", E.ndjson(E.course_story())))
        entries = run("export", "--db", self.db, "--event", "discussion_entry_submitted").out.splitlines()
        self.assertEqual([json.loads(l)["body"]["discussion_entry_id"] for l in entries], ["1001", "1002"])
        since = run("export", "--db", self.db, "--since", E.iso(E.T0 + 600000)).out.splitlines()
        self.assertEqual(len(since), 5)  # the conversation
        until = run("export", "--db", self.db, "--until", E.iso(E.T0 + 60000)).out.splitlines()
        self.assertEqual(len(until), 2)  # the two topics
        course = run("export", "--db", self.db, "--course", "565").out.splitlines()
        self.assertEqual(len(course), 11)  # the course's events, not the conversation
        self.assertEqual(run("export", "--db", self.db, "--course", E.glob(565)).out.splitlines(), course)

    def test_reingest_changes_only_duplicates(self):
        f = self.write("story.ndjson", E.ndjson(E.course_story()))
        self.ingest(f)
        before = self.stats()
        export_before = run("export", "--db", self.db).out
        topic_before = self.query("topic", "123456")
        r = self.ingest(f)
        self.assertIn("stored 0, duplicates 16, rejected 0", r.err)
        after = self.stats()
        self.assertEqual(after["duplicates"], 16)
        for key in ("events", "dead_letters", "by_event", "first_event_time", "last_event_time"):
            self.assertEqual(after[key], before[key], key)
        self.assertEqual(run("export", "--db", self.db).out, export_before)
        self.assertEqual(self.query("topic", "123456"), topic_before)

    def test_store_of_schema_1_is_upgraded_in_place(self):
        # Schema 1 (levee before the (time, hash) dedupe key) made events unique by hash alone. A store
        # of that shape is made here from a current one, as that levee wrote it.
        f = self.write("story.ndjson", E.ndjson(E.course_story()))
        self.ingest(f)
        export_before = run("export", "--db", self.db).out
        topic_before = self.query("topic", "123456")
        db = sqlite3.connect(self.db)
        db.executescript(
            "BEGIN;"
            "CREATE TABLE old (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, name INTEGER NOT NULL,"
            " format INTEGER NOT NULL, time INTEGER NOT NULL, context_id INTEGER, user_id INTEGER, doc INTEGER,"
            " raw BLOB, raw_len INTEGER, dict INTEGER, received INTEGER NOT NULL);"
            "INSERT INTO old SELECT id, hash, name, format, time, context_id, user_id, doc, raw, raw_len, dict, received"
            " FROM events; DROP TABLE events; ALTER TABLE old RENAME TO events;"
            # the first schema-1 stores had a narrower index of a topic's entries
            "DROP INDEX entries_topic; CREATE INDEX entries_topic ON entries (topic, created_at);"
            "DROP INDEX entries_event;"  # schema 8's
            "DROP TABLE drift; DROP TABLE subscriptions; DROP TABLE sub_pending; DROP TABLE sub_dead; DROP TABLE sub_attempts;"
            "DROP TABLE event_about; DROP TABLE forgotten; DROP TABLE receipts; DROP TABLE removed_entries;"
            "DROP TABLE sub_replays; DELETE FROM marks WHERE name = 'about_indexed'; PRAGMA user_version = 1; COMMIT;")
        db.close()
        # a reader does not change it; the first writer upgrades it, and nothing is lost or doubled
        self.assertEqual(self.query("topic", "123456"), topic_before)
        r = self.ingest(f)
        self.assertIn("stored 0, duplicates 16, rejected 0", r.err)
        db = sqlite3.connect(self.db)
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 8)
        indexes = [r[0] for r in db.execute("SELECT sql FROM sqlite_schema WHERE type = 'index'"
                                            " AND tbl_name = 'events' AND sql IS NOT NULL")]
        self.assertEqual(indexes, ["CREATE UNIQUE INDEX events_dedup ON events (time, hash)"])
        entries_topic = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'entries_topic'").fetchone()[0]
        self.assertEqual(entries_topic, "CREATE INDEX entries_topic ON entries (topic, created_at, parent, user_id, role)")
        entries_event = db.execute("SELECT sql FROM sqlite_schema WHERE name = 'entries_event'").fetchone()[0]
        self.assertEqual(entries_event, "CREATE INDEX entries_event ON entries (topic, event)")
        self.assertEqual(db.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        db.close()
        self.assertEqual(run("export", "--db", self.db).out, export_before)
        # what its events are about was not recorded: the first prune rebuilds it, once, and says so
        r = run("prune", "--db", self.db, "--before", "2000-01-01")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("rebuilding its derived state first", r.err)
        self.assertNotIn("rebuilding", run("prune", "--db", self.db, "--before", "2000-01-01").err)
        self.assertEqual(run("check", "--db", self.db, "-q").code, 0)
        self.assertEqual(self.query("topic", "123456"), topic_before)
        r = self.ingest(input=compact(mutate(canvas_example("discussion_entry_created"), "body/text", "<p>new</p>"))
                        + "\n")
        self.assertIn("stored 1, duplicates 0", r.err)

    def test_store_of_schema_2_counts_drift_from_its_events(self):
        # Schema 2 (levee before schema drift was counted) had no drift table: the upgrade counts the
        # event names outside the model from the events stored; unknown fields from then on.
        outside = [compact({"metadata": {"event_name": "asset_accessed", "event_time": t}, "body": {}})
                   for t in ("2024-01-02T03:04:05Z", "2024-03-01T00:00:00Z")]
        self.ingest(input="\n".join(outside) + "\n")
        db = sqlite3.connect(self.db)
        db.executescript("BEGIN; DROP TABLE drift; DROP TABLE subscriptions; DROP TABLE sub_pending; DROP TABLE sub_dead; DROP TABLE sub_attempts;"
                         " DROP TABLE event_about; DROP TABLE forgotten; DROP TABLE receipts; DROP TABLE removed_entries;"
                         " DROP TABLE sub_replays; ALTER TABLE events DROP COLUMN webhook_hash; DROP INDEX entries_event;"
                         " PRAGMA user_version = 2; COMMIT;")
        db.close()
        self.assertEqual(self.stats()["drift"], [])  # a reader does not upgrade it, and reads none
        entry = mutate(canvas_example("discussion_entry_created"), "body/reactions", {"like": 1})
        self.ingest(input=compact(entry) + "\n")
        self.assertEqual(self.stats()["drift"], [
            {"event": "asset_accessed", "field": None, "format": "canvas", "count": 2,
             "first_seen": "2024-01-02T03:04:05.000Z", "last_seen": "2024-03-01T00:00:00.000Z"},
            {"event": "discussion_entry_created", "field": "/body/reactions", "format": "canvas", "count": 1,
             "first_seen": entry["metadata"]["event_time"], "last_seen": entry["metadata"]["event_time"]}])

    def test_reformatted_delivery_is_a_duplicate(self):
        e = canvas_example("discussion_entry_created")
        self.ingest(input=compact(e) + "\n")
        r = self.ingest(input=json.dumps(e, indent=3) + "\n")
        self.assertIn("stored 0, duplicates 1", r.err)
        # a different event is not
        r = self.ingest(input=compact(mutate(e, "body/text", "<p>other</p>")) + "\n")
        self.assertIn("stored 1, duplicates 0", r.err)

    def test_dead_letters_are_kept_exactly(self):
        good = compact(canvas_example("conversation_created"))
        bad1 = compact(mutate(canvas_example("discussion_entry_created"), "body/created_at", "yesterday"))
        bad2 = '{"metadata": {"event_name": "x"'
        r = self.ingest(input="\n".join([good, bad1, bad2, good]) + "\n", expect=1)
        self.assertIn("stored 1, duplicates 1, rejected 2", r.err)
        self.assertEqual(self.stats()["dead_letters"], 2)
        dead = run("export", "--db", self.db, "--dead-letters")
        self.assertEqual(dead.out, bad1 + "\n" + bad2 + "\n")
        # re-running the same input reports the same rejections and exit status as the first run,
        # and keeps each dead letter once
        r = self.ingest(input="\n".join([good, bad1, bad2, good]) + "\n", expect=1)
        self.assertIn("stored 0, duplicates 2, rejected 2", r.err)
        self.assertEqual(self.stats()["dead_letters"], 2)
        self.assertEqual(run("export", "--db", self.db, "--dead-letters").out, bad1 + "\n" + bad2 + "\n")

    def test_events_outside_the_model_are_kept_with_metadata(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "canvas-docs", "canvas", "metadata.json")) as f:
            examples = [e["payload"] for e in json.load(f)["examples"]]
        text = "".join(compact(e) + "\n" for e in examples)
        r = self.ingest(input=text)
        self.assertIn("stored 9, duplicates 0, rejected 0, outside the model 9", r.err)
        st = self.stats()
        self.assertEqual(st["outside_model"], 9)
        self.assertEqual(st["by_event"]["asset_accessed"]["total"], 5)
        self.assertEqual(run("export", "--db", self.db).out, text)
        # indexed metadata: the course's activity counts them
        course = self.query("course", "565")
        events = {k: v for d in course["activity"] for k, v in d["events"].items()}
        self.assertEqual(events.get("asset_accessed"), 1)
        self.assertEqual(events.get("grade_change"), 1)

    def test_schema_drift_is_counted_with_first_and_last_seen(self):
        def outside(t, **meta):
            return compact({"metadata": {"event_name": "asset_accessed", "event_time": t, **meta}, "body": {"x": 1}})
        entry = mutate(canvas_example("discussion_entry_created"), "body/reactions", {"like": 2})
        entry["body"]["a~b/c"] = 1
        topic = caliper_example("discussion_topic_created")
        docs = [outside("2024-05-01T10:00:00Z", new_meta="1"), outside("2024-05-03T10:00:00+02:00"),
                compact(entry), compact(topic)]
        self.ingest(input="\n".join(docs) + "\n")
        self.ingest(input="\n".join(docs) + "\n")  # duplicates are not counted again
        self.ingest(input=outside("2024-04-01T00:00:00Z") + "\n")  # an older one widens the span
        st = self.stats()
        when = entry["metadata"]["event_time"]
        # newest first seen first; an event's own name outside the model has field null; a member's
        # name is a JSON pointer token (RFC 6901: ~ and / escaped); metadata fields count for every event
        want = [
            {"event": "asset_accessed", "field": "/metadata/new_meta", "format": "canvas", "count": 1,
             "first_seen": "2024-05-01T10:00:00.000Z", "last_seen": "2024-05-01T10:00:00.000Z"},
            {"event": "asset_accessed", "field": None, "format": "canvas", "count": 3,
             "first_seen": "2024-04-01T00:00:00.000Z", "last_seen": "2024-05-03T08:00:00.000Z"},
        ]
        entry_drift = [{"event": "discussion_entry_created", "field": f, "format": "canvas", "count": 1,
                        "first_seen": when, "last_seen": when} for f in ("/body/a~0b~1c", "/body/reactions")]
        self.assertEqual(sorted(st["drift"], key=lambda d: (d["first_seen"], d["field"] or "")),
                         sorted(want + entry_drift, key=lambda d: (d["first_seen"], d["field"] or "")))
        firsts = [d["first_seen"] for d in st["drift"]]
        self.assertEqual(firsts, sorted(firsts, reverse=True))
        self.assertEqual(st["drift_count"], 4)
        text = run("stats", "--db", self.db).out
        self.assertIn("Schema drift", text)
        self.assertIn("/metadata/new_meta", text)

    def test_db_from_environment(self):
        env = dict(os.environ, LEVEE_DB=self.db)
        r = run("ingest", input=compact(canvas_example("conversation_created")) + "\n", env=env)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("into " + self.db, r.err)
        self.assertEqual(json.loads(run("stats", "--json", env=env).out)["events"], 1)

    def test_missing_store_is_a_clear_error(self):
        r = run("query", "topic", "1", "--db", self.missing_store())
        self.assertEqual(r.code, 2)
        self.assertIn("there is no store at", r.err)
        self.assertIn("levee ingest --db", r.err)


class TestState(StoreTest):
    def test_topic_tree_and_history(self):
        self.ingest(input=E.ndjson(E.course_story()))
        t = self.query("topic", "123456")
        topic = t["topic"]
        self.assertEqual(topic["title"], "Photosynthesis (week 2)")           # latest by updated_at
        self.assertEqual(topic["body"], "<p>How do plants make food?</p>")
        self.assertEqual(topic["assignment_id"], E.glob(777))
        self.assertEqual(topic["context_id"], E.glob(565))
        self.assertEqual(topic["created_at"], E.iso(E.T0))
        self.assertEqual(topic["created_by"], E.glob(1))
        self.assertEqual(topic["versions"], 3)
        self.assertIsNotNone(topic["lock_at"])
        self.assertEqual([h["event"] for h in t["history"]],
                         ["discussion_topic_created", "discussion_topic_updated", "discussion_topic_updated"])
        self.assertEqual(t["history"][1]["changes"], {"title": "Photosynthesis (week 2)"})
        self.assertEqual(set(t["history"][2]["changes"]), {"body", "lock_at"})
        # the tree: 1001 <- 1003 (teacher) <- 1004 <- 1005, and 1002 alone, oldest first
        entries = t["entries"]
        self.assertEqual([e["id"] for e in entries], [E.glob(1001), E.glob(1002)])
        first = entries[0]
        self.assertEqual(set(first), {"id", "user_id", "created_at", "text", "replies", "role", "assignment_id",
                                      "submission_id"})
        self.assertEqual(first["submission_id"], E.glob(9001))
        self.assertEqual(first["user_id"], E.glob(50))
        chain = [first["replies"][0]["id"], first["replies"][0]["replies"][0]["id"],
                 first["replies"][0]["replies"][0]["replies"][0]["id"]]
        self.assertEqual(chain, [E.glob(1003), E.glob(1004), E.glob(1005)])
        self.assertEqual(t["entry_count"], 5)

    def test_arrival_order_does_not_matter(self):
        story = E.course_story()
        reference = None
        rng = random.Random(7)
        orders = [list(reversed(story))] + [rng.sample(story, len(story)) for _ in range(4)]
        for n, order in enumerate(orders):
            db = self.store("perm%d.db" % n)
            self.ingest(input=E.ndjson(order), db=db)
            answers = (self.query("topic", "123456", db=db), self.query("conversation", "31", db=db),
                       self.query("course", "565", "--until", E.iso(E.T0 + 10 ** 9), db=db))
            if reference is None:
                reference = answers
                self.assertEqual(answers[0]["topic"]["title"], "Photosynthesis (week 2)")
            else:
                self.assertEqual(answers, reference, "arrival order %d" % n)

    def test_every_event_twice_in_one_file_is_stored_once(self):
        # one batch holding each event of the story twice (an engine may put a batch's events, and its
        # entries, in one statement): the same state as the story once, each twin a duplicate
        story = E.course_story()
        once = self.store("once.db")
        self.ingest(input=E.ndjson(story), db=once)
        self.ingest(input=E.ndjson(story + list(reversed(story))))
        st = self.stats()
        self.assertEqual((st["events"], st["duplicates"]), (len(story), len(story)))
        for q in (("topic", "123456"), ("conversation", "31"), ("course", "565", "--until", E.iso(E.T0 + 10 ** 9))):
            self.assertEqual(self.query(*q), self.query(*q, db=once), q)
        r = run("search", "chlorophyll", "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(sorted(x["entry_id"] for x in json.loads(r.out)["results"]), [E.glob(1001), E.glob(1003)])

    def test_entries_of_one_millisecond_go_by_id(self):
        # The index orders a millisecond's entries by parent and user, not id: here it gives 2005..2001
        # (users 10..50 reversed), and the tree must still list them by id, replies under 2001 too.
        ms = E.T0 + 5000
        posts = [E.entry(2000 + k, 123456, 60 - 10 * k, 565, ms, "<p>same moment %d</p>" % k) for k in range(1, 6)]
        replies = [E.entry(2010 + k, 123456, 60 - 10 * k, 565, ms, "<p>reply %d</p>" % k, parent=2001)
                   for k in range(1, 4)]
        self.ingest(input=E.ndjson(list(reversed(posts + replies))))
        t = self.query("topic", "123456")
        self.assertEqual([e["id"] for e in t["entries"]], [E.glob(2000 + k) for k in range(1, 6)])
        self.assertEqual([e["id"] for e in t["entries"][0]["replies"]], [E.glob(2010 + k) for k in range(1, 4)])

    def test_a_deep_thread_is_drawn_as_a_table(self):
        # 150 replies, each to the one before: the tree is cut at 100 levels (the rest listed under the
        # 100th), and the table shows every entry (the table's reading of the answer must allow its depth)
        chain = [E.entry(3000, 123456, 11, 565, E.T0, "<p>level 0</p>")]
        chain += [E.entry(3000 + k, 123456, 11 + k % 5, 565, E.T0 + k * 1000, "<p>level %d</p>" % k, parent=2999 + k)
                  for k in range(1, 150)]
        self.ingest(input=E.ndjson(chain))
        t = self.query("topic", "123456")
        self.assertEqual(t["entry_count"], 150)
        r = run("query", "topic", "123456", "--db", self.db)
        self.assertEqual(r.code, 0, r.err)
        for k in (0, 99, 100, 149):
            self.assertIn("level %d" % k, r.out)

    def test_reply_before_parent_then_parent(self):
        story = E.course_story()
        reply = [e for e in story if e["body"].get("discussion_entry_id") == "1005"]
        self.ingest(input=E.ndjson(reply))
        t = self.query("topic", "123456")
        self.assertTrue(t["entries"][0]["parent_missing"])
        self.assertEqual(t["entries"][0]["parent_id"], E.glob(1004))
        self.ingest(input=E.ndjson(story))
        t = self.query("topic", "123456")
        self.assertNotIn("parent_missing", json.dumps(t))

    def test_local_and_global_ids_meet(self):
        self.ingest(input=E.ndjson(E.course_story()))
        self.assertEqual(self.query("topic", "123456"), self.query("topic", E.glob(123456)))
        self.assertEqual(self.query("user", "50"), self.query("user", E.glob(50)))
        # the entry's body user (local 50) is the metadata user (global)
        user = self.query("user", "50")
        self.assertEqual([e["id"] for e in user["entries"]], [E.glob(1001)])
        self.assertEqual([m["message_id"] for m in user["messages"]], [E.glob(401)])
        self.assertEqual([c["conversation_id"] for c in user["conversations_started"]], [E.glob(31)])

    def test_conversation_timeline(self):
        self.ingest(input=E.ndjson(E.course_story()))
        c = self.query("conversation", "31")
        self.assertEqual(c["conversation"]["created_by"], E.glob(50))
        self.assertEqual([(x["type"], x.get("message_id")) for x in c["timeline"]],
                         [("message", E.glob(401)), ("message", E.glob(402)), ("forwarded", None),
                          ("message", E.glob(403))])
        self.assertEqual(c["timeline"][1]["author_id"], E.glob(2))
        self.assertEqual(c["message_count"], 3)
        self.assertEqual(c["forward_count"], 1)

    def test_course_summary(self):
        self.ingest(input=E.ndjson(E.course_story()))
        now = E.T0 + 3600 * 1000
        c = self.query("course", "565", "--now", E.iso(now))
        topics = {t["title"]: t for t in c["topics"]}
        self.assertEqual(topics["Photosynthesis (week 2)"]["entries"], 5)
        self.assertTrue(topics["Photosynthesis (week 2)"]["graded"])
        self.assertTrue(topics["Welcome"]["is_announcement"])
        self.assertEqual(c["users_by_role"]["StudentEnrollment"]["users"], 3)
        self.assertEqual(c["users_by_role"]["TeacherEnrollment"]["users"], 2)
        self.assertEqual(c["activity"][0]["day"], "2024-09-02")
        self.assertEqual(c["activity"][0]["events"]["discussion_entry_created"], 5)
        # 1001 was answered by the teacher; 1002, 1004 and 1005 were not
        unanswered = [(u["entry_id"], u["waiting_seconds"]) for u in c["unanswered"]]
        self.assertEqual(unanswered, [(E.glob(1002), 3600 - 120), (E.glob(1004), 3600 - 240),
                                      (E.glob(1005), 3600 - 300)])
        # a window
        c = self.query("course", "565", "--since", E.iso(E.T0 + 200000), "--until", E.iso(E.T0 + 260000))
        self.assertEqual([u["entry_id"] for u in c["unanswered"]], [E.glob(1004)])
        self.assertEqual(topics["Photosynthesis (week 2)"]["discussion_topic_id"], E.glob(123456))

    def test_not_found(self):
        self.ingest(input=E.ndjson(E.course_story()))
        for args in (("topic", "42"), ("conversation", "42"), ("course", "42"), ("user", "42")):
            r = run("query", *args, "--db", self.db)
            self.assertEqual(r.code, 1, args)
            self.assertIn("there is no" if args[0] != "user" else "has posted and sent nothing", r.err)

    def test_tables_on_terminal(self):
        self.ingest(input=E.ndjson(E.course_story()))
        r = run("query", "topic", "123456", "--db", self.db)
        self.assertEqual(r.code, 0)
        self.assertTrue(r.out.startswith("Photosynthesis (week 2)\n"))
        self.assertIn("      - ", r.out)  # a reply three levels down
        self.assertIn("Respiration happens at night.", r.out)
        r = run("query", "course", "565", "--db", self.db)
        self.assertIn("Student posts no teacher or TA has answered", r.out)
        r = run("stats", "--db", self.db)
        self.assertIn("discussion_entry_created", r.out)


class TestSearch(StoreTest):
    def test_finds_posts_and_topics(self):
        self.ingest(input=E.ndjson(E.course_story()))
        r = run("search", "chlorophyll", "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        res = json.loads(r.out)["results"]
        self.assertEqual({x["entry_id"] for x in res}, {E.glob(1001), E.glob(1003)})
        self.assertIn("Chlorophyll absorbs light.", [x["snippet"] for x in res])
        self.assertTrue(all(x["course_id"] == E.glob(565) for x in res))
        # HTML is stripped and entities decoded before indexing
        res = json.loads(run("search", "water", "--db", self.db, "--json").out)["results"]
        self.assertEqual(res[0]["snippet"], "Glucose is made from CO 2 & water.")
        # topic titles and bodies, as they are now
        res = json.loads(run("search", "food", "--db", self.db, "--json").out)["results"]
        self.assertEqual([(x["kind"], x["topic_id"]) for x in res], [("topic", E.glob(123456))])
        self.assertEqual(json.loads(run("search", "eat", "--db", self.db, "--json").out)["results"], [])
        # a course filter, a prefix, several words
        self.assertEqual(json.loads(run("search", "chlorophyll", "--course", "999", "--db", self.db, "--json").out)["results"], [])
        res = json.loads(run("search", "respir*", "--db", self.db, "--json").out)["results"]
        self.assertEqual([x["entry_id"] for x in res], [E.glob(1005)])
        res = json.loads(run("search", "night", "respiration", "--db", self.db, "--json").out)["results"]
        self.assertEqual([x["entry_id"] for x in res], [E.glob(1005)])

    def test_punctuation_cannot_break_the_query(self):
        self.ingest(input=E.ndjson(E.course_story()))
        for text in ('"unbalanced', "AND OR NOT", "chlorophyll)", "col:umn", "*", "a-b"):
            r = run("search", text, "--db", self.db, "--json")
            self.assertIn(r.code, (0, 2), text)
            if r.code == 2:
                self.assertIn("no words to search for", r.err)

    def test_text_output(self):
        self.ingest(input=E.ndjson(E.course_story()))
        r = run("search", "chlorophyll", "--db", self.db)
        self.assertIn('in "Photosynthesis (week 2)"', r.out)


class TestCrashSafety(StoreTest):
    def big_input(self, n):
        story = []
        for i in range(n):
            story.append(E.entry(100000 + i, 5000 + i % 300, 1000 + i % 700, 565 + i % 5, E.T0 + i * 1000,
                                 "<p>post %d %s</p>" % (i, "lorem ipsum " * (i % 40))))
        return self.write("big.ndjson", E.ndjson(story))

    # events in the kill -9 test: enough for the ingest to commit (every 50,000) before it is killed
    KILL_EVENTS = 300000

    def test_kill_9_then_rerun_completes(self):
        n = 100000 if SANITIZED else self.KILL_EVENTS
        path = self.big_input(n)
        proc = subprocess.Popen([levee_path(), "ingest", "-q", "--db", self.db, path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # wait until something is committed, then kill it hard
        deadline = time.time() + 60
        committed = 0
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
            r = run("stats", "--db", self.db, "--json")
            if r.code == 0:
                committed = json.loads(r.out)["events"]
                if committed > 0:
                    break
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
        st = self.stats()
        self.assertLessEqual(st["events"], n)
        if killed:
            self.assertLess(st["events"], n, "the ingest finished before it could be killed")
        # the store is consistent: what it counts is what it exports
        self.assertEqual(len(run("export", "--db", self.db).out.splitlines()), st["events"])
        r = self.ingest(path)
        st2 = self.stats()
        self.assertEqual(st2["events"], n)
        self.assertEqual(st2["duplicates"], st["events"])
        out = run("export", "--db", self.db).out
        with open(path) as f:
            self.assertEqual(out, f.read())

    def max_rss(self, path, db):
        r = subprocess.run(["/usr/bin/env", "python3", "-c",
                            "import resource,subprocess,sys;"
                            "subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL);"
                            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
                            levee_path(), "ingest", "-q", "--db", db, path],
                           stdout=subprocess.PIPE, check=True)
        return int(r.stdout) * 1024

    @unittest.skipIf(SANITIZED, "AddressSanitizer's shadow memory and quarantine are not levee's memory use")
    def test_bounded_memory_on_a_large_file(self):
        # Memory must not grow with the input: it streams. Three times the input, about the same memory.
        small = self.big_input(100000)
        os.rename(small, self.path("small.ndjson"))
        small = self.path("small.ndjson")
        large = self.big_input(300000)
        grown = os.path.getsize(large) - os.path.getsize(small)
        rss_small = self.max_rss(small, self.store("small.db"))
        rss_large = self.max_rss(large, self.store("large.db"))
        self.assertGreater(grown, 100 * 2 ** 20)
        self.assertLess(rss_large - rss_small, grown / 4, (rss_small, rss_large, grown))
        self.assertLess(rss_large, 400 * 2 ** 20)


# ---- the same suite on PostgreSQL ----

class OnPostgreSQL:
    """Runs a StoreTest class against PostgreSQL: each store is a fresh database of the run's cluster."""
    ENGINE = "postgresql"

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()
        super().setUpClass()

    def store(self, name):
        return self.cluster.new_database()

    def missing_store(self):
        return self.cluster.new_database()


def sqlite_only(why):
    return unittest.skip("SQLite only: " + why)


class TestKeepingOnPostgreSQL(OnPostgreSQL, TestKeeping):
    test_store_of_schema_1_is_upgraded_in_place = sqlite_only("a schema-1 SQLite file")(
        TestKeeping.test_store_of_schema_1_is_upgraded_in_place)
    test_store_of_schema_2_counts_drift_from_its_events = sqlite_only("a schema-2 SQLite file")(
        TestKeeping.test_store_of_schema_2_counts_drift_from_its_events)


class TestStateOnPostgreSQL(OnPostgreSQL, TestState):
    pass


class TestSearchOnPostgreSQL(OnPostgreSQL, TestSearch):
    pass


class TestCrashSafetyOnPostgreSQL(OnPostgreSQL, TestCrashSafety):
    # a per-statement engine stores fewer events a second: a smaller input still commits before the kill
    KILL_EVENTS = 120000
    test_bounded_memory_on_a_large_file = sqlite_only("the memory of a process that keeps the store's pages")(
        TestCrashSafety.test_bounded_memory_on_a_large_file)


if __name__ == "__main__":
    unittest.main()
