"""test_backup.py: `levee backup`, `restore` and `check` as an operator uses them: a backup taken while
`levee serve` takes a steady stream of posts holds every event applied before it began and checks
sound; restore refuses while a server holds the store, and a restored store gets back, from the
journal, what was acknowledged after the backup; check exits 0 on a sound store and 1 naming each
problem of a damaged one (a flipped byte in a raw document, a deleted topic row, a damaged page, a
truncated journal, a derived row that disagrees with a rebuild); rebuild gives back the answers
the store gave before its derived state was damaged."""
import json
import os
import pty
import sqlite3
import subprocess
import threading
import time

import events as E
from lv import SANITIZED, levee_path, run
from server import ServerTestCase, keep_posting


def entry_ids(db):
    """The discussion entries a store's documents hold (levee export: the stored bytes)."""
    r = run("export", "--db", db)
    assert r.code == 0, r.err
    ids = []
    for line in r.out.splitlines():
        doc = json.loads(line)
        body = doc.get("body", {})
        if "discussion_entry_id" in body:
            ids.append(int(body["discussion_entry_id"]))
    return ids


def posted(ids):
    """The entries keep_posting made (the simulated term's entries have twins: created and submitted)."""
    return [i for i in ids if 10 ** 6 <= i < 2 * 10 ** 6]


class BackupTest(ServerTestCase):
    def simulated(self, db=None, days=3, courses=2):
        sim = self.path("term.ndjson")
        r = run("simulate", "--days", str(days), "--courses", str(courses), "--to", sim)
        self.assertEqual(r.code, 0, r.err)
        r = run("ingest", "--db", db or self.db, sim)
        self.assertEqual(r.code, 0, r.err)

    def check(self, db, expect=0):
        r = run("check", "--db", db, "-q")
        self.assertEqual(r.code, expect, r.out + r.err)
        return [l for l in r.out.splitlines() if l]

    def posting(self, server, threads=4):
        acked, lock, stop = [], threading.Lock(), threading.Event()
        ts = [threading.Thread(target=keep_posting, args=(server, t, stop, acked, lock)) for t in range(threads)]
        for t in ts:
            t.start()
        return acked, lock, stop, ts

    def wait_entries(self, server, ids, threads, timeout=60):
        """Waits until the server's store holds every entry in ids (keep_posting's thread t posts to topic
        5000 + t, given by its global id: the store holds two shards); ids are local, the store's are global."""
        want = {int(i) for i in ids}
        deadline = time.time() + timeout
        while time.time() < deadline:
            have = set()
            for t in range(threads):
                status, topic = server.get_json("/api/topics/%s" % E.glob(5000 + t))
                if status == 200:
                    have |= {int(e["id"]) % 10 ** 13 for e in topic["entries"]}
            if want <= have:
                return
            time.sleep(0.05)
        self.fail("the store did not hold every acknowledged entry in %ss" % timeout)

    def wait_acked(self, acked, lock, n, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with lock:
                if len(acked) >= n:
                    return list(acked)
            time.sleep(0.02)
        self.fail("fewer than %d posts were acknowledged in %ss" % (n, timeout))


class TestBackup(BackupTest):
    def test_backup_under_load_then_restore(self):
        self.simulated(days=3 if SANITIZED else 20, courses=4)
        if not SANITIZED:  # larger than one step of the copy (8 MB): the server commits between steps
            self.assertGreater(os.path.getsize(self.db), 8 << 20)
        base = run("stats", "--db", self.db, "--json")
        base_events = json.loads(base.out)["events"]
        s = self.serve()
        acked, lock, stop, threads = self.posting(s)
        try:
            before = self.wait_acked(acked, lock, 50 if SANITIZED else 200)
            # every post acknowledged so far is applied before the backup begins
            self.wait_entries(s, before, threads=4)
            backup = self.path("backup.db")
            r = run("backup", "--db", self.db, "--to", backup)
            self.assertEqual(r.code, 0, r.err)
            self.assertIn("verified", r.err)
            self.wait_acked(acked, lock, len(before) + 20)  # the server kept taking posts meanwhile
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        with lock:
            all_acked = list(acked)
        s.wait_applied(base_events + len(all_acked))
        # the copy is consistent and holds what was applied before it began, each once
        self.assertEqual(self.check(backup), [])
        in_backup = posted(entry_ids(backup))
        self.assertEqual(len(in_backup), len(set(in_backup)))
        self.assertEqual({int(i) for i in before} - set(in_backup), set())
        # SQLite agrees on its own
        con = sqlite3.connect("file:%s?mode=ro" % backup, uri=True)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        con.close()

        # a second backup to the same name is refused, and leaves the first alone
        size = os.path.getsize(backup)
        r = run("backup", "--db", self.db, "--to", backup)
        self.assertEqual(r.code, 2)
        self.assertIn("--force", r.err)
        self.assertEqual(os.path.getsize(backup), size)

        # restore refuses while the server holds the store
        r = run("restore", "--from", backup, "--db", self.db)
        self.assertEqual(r.code, 2, r.err)
        self.assertIn("stop that server", r.err)
        self.assertEqual(s.stop(), 0)

        # restored, the store is the backup; the journal gives back what came after it
        r = run("restore", "--from", backup, "--db", self.db)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("levee serve applies them", r.err)
        self.assertEqual(sorted(posted(entry_ids(self.db))), sorted(in_backup))
        self.assertEqual(self.check(self.db), [])
        s = self.serve()
        s.wait_applied(base_events + len(all_acked))
        s.stop()
        restored = posted(entry_ids(self.db))
        self.assertEqual({int(i) for i in all_acked} - set(restored), set())
        self.assertEqual(len(restored), len(set(restored)))
        self.assertEqual(self.check(self.db), [])

    def test_progress_on_a_terminal(self):
        self.simulated(days=2)
        master, slave = pty.openpty()
        try:
            proc = subprocess.run([levee_path(), "backup", "--db", self.db, "--to", self.path("tty.db")],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=120)
            os.close(slave)
            slave = None
            shown = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                shown += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(proc.returncode, 0)
        self.assertIn(b"copying [##############################] 100%", shown)
        # not on a pipe
        r = run("backup", "--db", self.db, "--to", self.path("pipe.db"))
        self.assertNotIn("copying [", r.err)

    def test_refuses_to_overwrite_a_store(self):
        self.simulated(days=1)
        r = run("backup", "--db", self.db, "--to", self.db, "--force")
        self.assertEqual(r.code, 2)
        self.assertIn("is the store being copied", r.err)
        r = run("restore", "--from", self.db, "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn("is the store itself", r.err)
        self.assertEqual(self.check(self.db), [])

    def test_restore_into_a_new_place(self):
        self.simulated(days=2)
        backup = self.path("copy.db")
        self.assertEqual(run("backup", "--db", self.db, "--to", backup, "-q").code, 0)
        fresh = self.path("elsewhere.db")
        r = run("restore", "--from", backup, "--db", fresh)
        self.assertEqual(r.code, 0, r.err)
        a = run("query", "courses", "--db", self.db, "--json")
        b = run("query", "courses", "--db", fresh, "--json")
        self.assertEqual(a.code, 0, a.err)
        self.assertEqual(a.out, b.out)
        self.assertEqual(self.check(fresh), [])
        # a server started on it takes events
        s = self.serve(db=fresh)
        status, _ = s.post("/events", json.dumps(E.entry(777001, 5000, 1000, 565, E.T0, "<p>after</p>")))
        self.assertEqual(status, 200)
        s.stop()
        self.assertIn(777001, entry_ids(fresh))

    def test_restore_sets_a_journal_behind_the_backup_aside(self):
        s = self.serve()
        for i in range(30):
            status, _ = s.post("/events", json.dumps(E.entry(500 + i, 5000, 1000, 565, E.T0 + i, "<p>a %d</p>" % i)))
            self.assertEqual(status, 200)
        self.assertEqual(s.stop(), 0)
        backup = self.path("a.db")
        self.assertEqual(run("backup", "--db", self.db, "--to", backup, "-q").code, 0)
        other = self.path("b.db")  # another store, whose journal is shorter than the backup's position
        s = self.serve(db=other)
        status, _ = s.post("/events", json.dumps(E.entry(900, 5000, 1000, 565, E.T0, "<p>b</p>")))
        self.assertEqual(status, 200)
        self.assertEqual(s.stop(), 0)
        r = run("restore", "--from", backup, "--db", other)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("the journal was behind the backup", r.err)
        aside = [n for n in os.listdir(self.dir.name) if n.startswith("b.db.journal.before-restore-")]
        self.assertEqual(len(aside), 1, os.listdir(self.dir.name))
        self.assertEqual(self.check(other), [])
        # served, the restored store takes new events and applies them
        s = self.serve(db=other)
        status, _ = s.post("/events", json.dumps(E.entry(901, 5000, 1000, 565, E.T0 + 1, "<p>after</p>")))
        self.assertEqual(status, 200)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(sorted(entry_ids(other)), list(range(500, 530)) + [901])
        self.assertEqual(self.check(other), [])

    def test_restore_refuses_a_damaged_backup(self):
        self.simulated(days=2)
        backup = self.path("copy.db")
        self.assertEqual(run("backup", "--db", self.db, "--to", backup, "-q").code, 0)
        con = sqlite3.connect(backup)
        con.execute("DELETE FROM topics WHERE id = (SELECT min(id) FROM topics)")
        con.commit()
        con.close()
        before = open(self.db, "rb").read()
        r = run("restore", "--from", backup, "--db", self.db)
        self.assertEqual(r.code, 1, r.err)
        self.assertIn("has no row", r.out)
        self.assertEqual(open(self.db, "rb").read(), before)


class TestCheck(BackupTest):
    def test_sound_store(self):
        self.simulated()
        r = run("check", "--db", self.db)
        self.assertEqual(r.code, 0, r.out + r.err)
        self.assertEqual(r.out, "")
        self.assertIn("is sound", r.err)

    def test_missing_store_is_a_usage_error(self):
        r = run("check", "--db", self.path("nothing.db"))
        self.assertEqual(r.code, 2)
        self.assertIn("no store", r.err)

    def test_flipped_document_bytes(self):
        self.simulated(days=2)
        con = sqlite3.connect(self.db)
        row, raw = con.execute("SELECT id, raw FROM events WHERE doc IS NULL ORDER BY id LIMIT 1 OFFSET 10").fetchone()
        raw = bytearray(raw)
        for i in range(len(raw) // 3, len(raw) // 3 + 4):
            raw[i] ^= 0x5A
        con.execute("UPDATE events SET raw = ? WHERE id = ?", (bytes(raw), row))
        con.commit()
        con.close()
        problems = self.check(self.db, expect=1)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("event row %d" % row, problems[0])

    def test_deleted_topic_row(self):
        self.simulated(days=2)
        con = sqlite3.connect(self.db)
        topic = con.execute("SELECT id FROM topics WHERE created_at IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
        con.execute("DELETE FROM topics WHERE id = ?", (topic,))
        con.commit()
        con.close()
        problems = self.check(self.db, expect=1)
        self.assertTrue(problems)
        self.assertTrue(all("discussion topic %d has no row" % topic in p for p in problems), problems)

    def test_damaged_page(self):
        self.simulated()
        con = sqlite3.connect(self.db)
        page = con.execute("SELECT max(pageno) FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf'").fetchone()[0]
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        con.close()
        with open(self.db, "r+b") as f:  # the page's header and cell pointers
            f.seek((page - 1) * page_size)
            f.write(b"\xa5" * 512)
        problems = self.check(self.db, expect=1)
        self.assertTrue(problems)
        self.assertTrue(any("integrity check" in p or "damaged" in p for p in problems), problems)

    def test_truncated_journal(self):
        s = self.serve()
        for i in range(20):
            status, _ = s.post("/events", json.dumps(E.entry(900 + i, 5000, 1000, 565, E.T0 + i, "<p>%d</p>" % i)))
            self.assertEqual(status, 200)
        s.wait_applied(20)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(self.check(self.db), [])
        journal = self.db + ".journal"
        segment = os.path.join(journal, sorted(n for n in os.listdir(journal) if n.endswith(".log"))[-1])
        size = os.path.getsize(segment)
        with open(segment, "r+b") as f:
            f.truncate(size - 7)
        problems = self.check(self.db, expect=1)
        self.assertIn("torn record", problems[0])
        self.assertIn(os.path.basename(segment), problems[0])
        # the cut took records the store had applied: a server would now write below that position,
        # so it refuses to start, and says what to do
        self.assertEqual(len(problems), 2, problems)
        self.assertIn("applied the journal up to offset", problems[1])
        r = subprocess.run([levee_path(), "serve", "--db", self.db, "--listen", "127.0.0.1:0"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("the journal %s ends at offset" % journal, r.stderr)
        self.assertIn("move it aside (levee starts a new one at the store's position)", r.stderr)
        os.rename(journal, journal + ".aside")
        s = self.serve()
        status, _ = s.post("/events", json.dumps(E.entry(990, 5000, 1000, 565, E.T0 + 99, "<p>after</p>")))
        self.assertEqual(status, 200)
        s.wait_applied(21)
        self.assertEqual(s.stop(), 0)
        self.assertIn(990, entry_ids(self.db))

    def test_torn_journal_end(self):
        s = self.serve()
        status, _ = s.post("/events", json.dumps(E.entry(900, 5000, 1000, 565, E.T0, "<p>one</p>")))
        self.assertEqual(status, 200)
        s.wait_applied(1)
        self.assertEqual(s.stop(), 0)
        journal = self.db + ".journal"
        segment = os.path.join(journal, sorted(n for n in os.listdir(journal) if n.endswith(".log"))[-1])
        with open(segment, "ab") as f:  # a crash in the middle of writing a record: its start only
            f.write(b"LVJ1\x00\x10\x00\x00")
        problems = self.check(self.db, expect=1)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("torn record", problems[0])

    def test_damaged_journal_record(self):
        s = self.serve()
        for i in range(20):
            status, _ = s.post("/events", json.dumps(E.entry(900 + i, 5000, 1000, 565, E.T0 + i, "<p>%d</p>" % i)))
            self.assertEqual(status, 200)
        s.wait_applied(20)
        self.assertEqual(s.stop(), 0)
        journal = self.db + ".journal"
        segment = os.path.join(journal, sorted(n for n in os.listdir(journal) if n.endswith(".log"))[-1])
        with open(segment, "r+b") as f:
            f.seek(os.path.getsize(segment) // 2)
            f.write(b"\x00\x01\x02\x03")
        problems = self.check(self.db, expect=1)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("damaged bytes", problems[0])

    def test_check_while_serving(self):
        self.simulated(days=2)
        s = self.serve()
        acked, lock, stop, threads = self.posting(s, threads=2)
        try:
            self.wait_acked(acked, lock, 30)
            r = run("check", "--db", self.db)
            self.assertEqual(r.code, 0, r.out + r.err)
            self.assertIn("a server holds it", r.err)
        finally:
            stop.set()
            for t in threads:
                t.join(30)

    def test_several_problems_each_named(self):
        self.simulated(days=2)
        con = sqlite3.connect(self.db)
        topic = con.execute("SELECT id FROM topics WHERE created_at IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
        con.execute("DELETE FROM topics WHERE id = ?", (topic,))
        con.execute("UPDATE counts SET n = n + 3")
        con.commit()
        con.close()
        problems = self.check(self.db, expect=1)
        self.assertTrue(any("discussion topic %d has no row" % topic in p for p in problems), problems)
        self.assertTrue(any(p.startswith("the counts say") for p in problems), problems)

    def test_derived_row_that_disagrees(self):
        self.simulated(days=2)
        con = sqlite3.connect(self.db)
        topic = con.execute("SELECT id FROM topics WHERE title IS NOT NULL ORDER BY id LIMIT 1").fetchone()[0]
        con.execute("UPDATE topics SET title = 'Not what Canvas sent' WHERE id = ?", (topic,))
        con.commit()
        con.close()
        problems = self.check(self.db, expect=1)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("topics: the row %d of %s differs from a rebuild" % (topic, self.db), problems[0])
        self.assertIn("Not what Canvas sent", problems[0])
        # the copies the comparison made are gone
        self.assertEqual(sorted(n for n in os.listdir(self.dir.name) if ".check-" in n), [])
        # without the rebuild, nothing else disagrees
        self.assertEqual(run("check", "--db", self.db, "--no-rebuild").code, 0)


class TestRebuild(BackupTest):
    def answers(self, topic, course):
        out = []
        # a fixed clock: how long a post has waited for an answer grows with it
        for args in (("query", "topic", str(topic)), ("query", "course", str(course), "--now", "2025-01-01T00:00:00Z"),
                     ("query", "courses"),
                     ("search", "the"), ("stats",)):
            r = run(*args, "--db", self.db, "--json")
            self.assertEqual(r.code, 0, r.err)
            answer = json.loads(r.out)
            if args == ("stats",):
                # the file's size is not state: derived rows written again in another order (an ingest
                # puts a batch's events, then its entries; a rebuild replays event by event) take other pages
                answer.pop("bytes_on_disk")
                answer.pop("bytes_per_event")
            out.append(answer)
        return out

    def test_rebuild_restores_derived_state(self):
        self.simulated()
        con = sqlite3.connect(self.db)
        topic, course = con.execute("SELECT id, context_id FROM topics WHERE created_at IS NOT NULL AND id IN "
                                    "(SELECT topic FROM entries) ORDER BY id LIMIT 1").fetchone()
        con.close()
        before = self.answers(topic, course)
        con = sqlite3.connect(self.db)
        con.execute("DELETE FROM topics WHERE id = ?", (topic,))
        con.execute("DELETE FROM entries WHERE topic = ?", (topic,))
        con.execute("UPDATE activity SET n = n * 2")
        con.execute("DELETE FROM conversations")
        con.execute("DELETE FROM search_docs")
        con.commit()
        con.close()
        self.assertNotEqual(run("query", "topic", str(topic), "--db", self.db, "--json").code, 0)
        r = run("query", "course", str(course), "--now", "2025-01-01T00:00:00Z", "--db", self.db, "--json")
        self.assertNotEqual(json.loads(r.out), before[1])
        self.assertTrue(self.check(self.db, expect=1))
        r = run("rebuild", "--db", self.db)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("recomputed the derived state", r.err)
        self.assertEqual(self.answers(topic, course), before)
        self.assertEqual(self.check(self.db), [])

    def test_rebuild_changes_nothing_on_a_sound_store(self):
        self.simulated(days=2)
        con = sqlite3.connect(self.db)
        topic, course = con.execute("SELECT id, context_id FROM topics WHERE created_at IS NOT NULL "
                                    "ORDER BY id LIMIT 1").fetchone()
        con.close()
        before = self.answers(topic, course)
        self.assertEqual(run("rebuild", "--db", self.db, "-q").code, 0)
        self.assertEqual(self.answers(topic, course), before)

    def test_rebuild_refuses_while_serving(self):
        self.simulated(days=1)
        s = self.serve()
        r = run("rebuild", "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn("stop that server", r.err)
        s.stop()

    def test_rebuild_stops_at_a_damaged_document(self):
        self.simulated(days=1)
        con = sqlite3.connect(self.db)
        row = con.execute("SELECT id FROM events WHERE doc IS NULL ORDER BY id LIMIT 1 OFFSET 3").fetchone()[0]
        con.execute("UPDATE events SET raw = x'00112233' WHERE id = ?", (row,))
        con.commit()
        con.close()
        before = run("query", "courses", "--db", self.db, "--json").out
        r = run("rebuild", "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn("event row %d" % row, r.err)
        self.assertEqual(run("query", "courses", "--db", self.db, "--json").out, before)


if __name__ == "__main__":
    import unittest
    unittest.main()
