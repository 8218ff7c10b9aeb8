"""test_pg_lock_table.py: PostgreSQL's lock table filled by another session. The lock table is shared
by every session of the server and has a fixed size (max_locks_per_transaction x max_connections);
levee's own transactions end before they hold a quarter of it, but another application can fill the
rest. Here a psql session takes session-level advisory locks until the server says "out of shared
memory", and holds them. Then: `levee ingest` cannot even connect (a new session needs a lock) and
says so in a sentence naming the lock table and what to do; `levee serve`, connected before, answers
503 with Retry-After and the same reason, and stays ready; once the session ends both store
everything, each event once. (How a round is split into smaller transactions when it fills one is
tests/unit/test_committer.c's.) A cluster of its own: nothing else may need locks while its table is
full."""
import json
import os
import subprocess
import unittest

import events as E
import pg
from lv import run
from server import ServerTestCase
import test_pg_nodes  # (the module, not its classes: the loader would run them here again)


class LockHolder:
    """A psql session holding as many advisory locks as the server's lock table takes."""

    def __init__(self, cluster):
        self.proc = subprocess.Popen([os.path.join(cluster.bindir, "psql"), "-X", "-q", "-A", "-t", "-h", "127.0.0.1",
                                      "-p", str(cluster.port), "-U", "postgres", "-d", "postgres"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # session-level advisory locks outlive the failed statement: the table stays full
        self.proc.stdin.write("DO $$ BEGIN FOR i IN 1..50000000 LOOP PERFORM pg_advisory_lock(i); END LOOP; END $$;\n"
                              "SELECT 'filled';\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()  # (blocks until the loop has failed: bounded by the table's size)
        if line.strip() != "filled":
            self.release()
            raise AssertionError("psql did not fill the lock table: %r %s" % (line, self.proc.stderr.read()))

    def release(self):
        """Ends the session: its locks go with it."""
        if self.proc.stdin.closed:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(60)
        self.proc.stdout.close()
        self.proc.stderr.close()


class TestLockTableFull(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        pg.shared_or_skip()  # (the shared cluster tells whether PostgreSQL can run here)

    def setUp(self):
        super().setUp()
        self.cluster = pg.Cluster()
        self.addCleanup(self.cluster.stop)
        self.db = self.cluster.new_database()
        self.holder = None

    def tearDown(self):
        if self.holder:
            self.holder.release()
        super().tearDown()

    def test_a_full_lock_table_is_refused_with_what_to_do_and_nothing_is_lost(self):
        t0 = 1725148800000  # 2024-09-01
        first = [E.conversation_created(8000000 + i, 100 + i % 40, t0 + i * 1000) for i in range(50)]
        r = run("ingest", "--db", self.db, input=E.ndjson(first))
        self.assertEqual(r.code, 0, r.err)
        node = self.serve("--no-deliver")
        self.assertEqual(node.get("/readyz")[0], 200)

        self.holder = LockHolder(self.cluster)
        self.assertIn("out of shared memory", self.holder.proc.stderr.readline())

        # the command line: a sentence that says what is full and what to do
        more = [E.conversation_created(8100000 + i, 100 + i % 40, t0 + i * 1000) for i in range(200)]
        text = E.ndjson(more)
        r = run("ingest", "--db", self.db, input=text)
        self.assertNotEqual(r.code, 0)
        self.assertIn("out of shared memory", r.err)
        self.assertIn("its lock table, max_locks_per_transaction x max_connections entries, is full", r.err)
        self.assertIn("raise max_locks_per_transaction", r.err)

        # the server: 503 with Retry-After, the reason in the answer; a busy server is not a broken one. (The
        # failed fill's own transaction may have left a few entries free: a batch of entries of 100 topics
        # needs more locks than that.)
        posted = [test_pg_nodes.entry(i, topic=9100 + i) for i in range(100)]
        batch = "".join(json.dumps(doc) + "\n" for doc in posted)
        ndjson = {"Content-Type": "application/x-ndjson"}
        status, body, headers = node.request("POST", "/events", batch, ndjson)
        self.assertEqual(status, 503, body)
        self.assertIn("Retry-After", headers)
        self.assertIn("lock table", body)
        self.assertEqual(node.get("/readyz")[0], 200)

        # the session ends: everything goes in, the refused events too, each once
        self.holder.release()
        status, body, _ = node.request("POST", "/events", batch, ndjson)
        self.assertEqual(status, 200, body)
        r = run("ingest", "--db", self.db, input=text)
        self.assertEqual(r.code, 0, r.err)
        node.stop()
        st = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual(st["events"], len(first) + len(more) + len(posted))
        exported = run("export", "--db", self.db).out.splitlines()
        self.assertEqual(len(exported), len(set(exported)))
        self.assertEqual(len(exported), len(first) + len(more) + len(posted))


if __name__ == "__main__":
    unittest.main()
