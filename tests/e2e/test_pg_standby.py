"""test_pg_standby.py: levee and a hot standby. A standby made with pg_basebackup -R from a cluster of the
test's own, fed by streaming replication on the loopback, answers the commands that read (the same
answers as its primary, once it has replayed what the primary committed), and refuses at once, in a
sentence that says where to go, every command that writes: `levee ingest`, and `levee serve`, which would
otherwise start, answer its first POST 503 and fail /readyz for good (docs/operations.md, "Read
replicas")."""
import json
import os
import shutil
import subprocess
import unittest

import events as E
import pg
from lv import run
from server import Server


class Standby:
    """A hot standby of a cluster, in a directory of the cluster's, on a port of its own."""

    def __init__(self, primary):
        self.primary = primary
        self.data = os.path.join(primary.dir, "standby")
        self.log = os.path.join(primary.dir, "standby.log")
        self.port = pg._free_port()
        primary._run([os.path.join(primary.bindir, "pg_basebackup"), "-D", self.data, "-R", "-X", "stream",
                      "-c", "fast", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "--no-sync"],
                     timeout=120)
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c hot_standby=on" % (self.port, primary.dir)
        primary._run([os.path.join(primary.bindir, "pg_ctl"), "-D", self.data, "-l", self.log, "-o", opts, "-w",
                      "-t", "60", "start"], timeout=90)

    def url(self, database):
        return "postgresql://postgres@127.0.0.1:%d/%s" % (self.port, database)

    def psql(self, sql, database):
        r = subprocess.run([os.path.join(self.primary.bindir, "psql"), "-X", "-q", "-A", "-t", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return r.stdout.decode().strip()

    def stop(self):
        try:
            self.primary._run([os.path.join(self.primary.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate",
                               "-w", "-t", "60", "stop"], timeout=90)
        finally:
            shutil.rmtree(self.data, ignore_errors=True)


class TestStandby(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg.shared_or_skip()  # (the shared cluster tells whether PostgreSQL can run here)
        cls.primary = pg.Cluster()
        try:
            cls.db = cls.primary.new_database()
            r = run("ingest", "--db", cls.db, input=E.ndjson(E.course_story()))
            assert r.code == 0, r.err
            cls.standby = Standby(cls.primary)
        except Exception:
            cls.primary.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.standby.stop()
        finally:
            cls.primary.stop()

    def on_standby(self):
        return self.standby.url(self.db.rsplit("/", 1)[1])

    def test_the_commands_that_read_answer_as_the_primary_does(self):
        # what the primary commits reaches the standby (replayed)
        more = [E.conversation_created(7100000 + i, 100 + i, 1725148800000 + i * 1000) for i in range(5)]
        r = run("ingest", "--db", self.db, input=E.ndjson(more))
        self.assertEqual(r.code, 0, r.err)
        name = self.db.rsplit("/", 1)[1]
        stats = lambda db: json.loads(run("stats", "--json", "--db", db).out)["events"]
        self.assertTrue(pg.wait_until(lambda: stats(self.on_standby()) == stats(self.db), 30))
        self.assertEqual(self.standby.psql("SELECT pg_is_in_recovery()", name), "t")
        for q in (("query", "topic", "123456", "--json"), ("query", "conversation", "7100002", "--json"),
                  ("search", "conversation", "--json"), ("export",)):
            a, b = run(*q, "--db", self.db), run(*q, "--db", self.on_standby())
            self.assertEqual(b.code, 0, (q, b.err))
            self.assertEqual(a.out_bytes, b.out_bytes, q)

    def test_a_writer_is_refused_at_once_with_where_to_go(self):
        r = run("ingest", "--db", self.on_standby(), input=E.ndjson(E.course_story()))
        self.assertEqual(r.code, 2, r.err)
        self.assertIn("is a standby server (in recovery), which takes no writes; give levee the primary's location",
                      r.err)
        self.assertNotIn("run the same ingest again", r.err)
        # levee serve does not start (it would answer 503 from its first POST on, and stay not ready)
        server = Server(self.on_standby(), "--no-deliver", expect_start=False)
        try:
            code = server.proc.wait(60)
        finally:
            if server.proc.poll() is None:
                server.kill()
        self.assertNotEqual(code, 0)
        self.assertTrue(pg.wait_until(lambda: any("is a standby server" in l for l in server.log), 10), server.log)


if __name__ == "__main__":
    unittest.main()
