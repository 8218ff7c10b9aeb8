"""test_pg_disk_full.py: PostgreSQL's disk fills under `levee serve`. The store's database lives in a
tablespace on a small tmpfs mounted by the test; events are POSTed until writing fails. Then: 503s
with Retry-After, `/readyz` failing with a sentence naming the full disk (and mostly staying so: the
probe writes what failed again, since an empty transaction commits on a full disk); once the tmpfs is
made larger the node takes events again by itself; every acknowledged event is stored exactly once.
Skipped, with the reason, where PostgreSQL is not installed or the test cannot mount a tmpfs (it
needs root)."""
import collections
import os
import shutil
import subprocess
import threading
import time
import unittest

import pg
from lv import SANITIZED
from server import ServerTestCase
import test_pg_nodes  # (the module, not its classes: the loader would run them here again)

SLOW = 3 if SANITIZED else 1


def _mount(where, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", where],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)


def _can_mount():
    """None when a tmpfs can be mounted here, else why not."""
    if os.geteuid() != 0:
        return "mounting a tmpfs for PostgreSQL's tablespace needs root"
    if not shutil.which("mount") or not shutil.which("umount"):
        return "mount(8) is not installed"
    probe = os.path.join(os.environ.get("TMPDIR", "/tmp"), "levee-mount-probe-%d" % os.getpid())
    os.makedirs(probe, exist_ok=True)
    try:
        r = _mount(probe, "1m")
        if r.returncode != 0:
            return "cannot mount a tmpfs: %s" % r.stdout.decode(errors="replace").strip()
        subprocess.run(["umount", probe], check=True, timeout=30)
        return None
    finally:
        os.rmdir(probe)


class DiskFullTest(ServerTestCase):
    load = test_pg_nodes.NodesTest.load

    @classmethod
    def setUpClass(cls):
        pg.shared_or_skip()  # (the shared cluster tells whether PostgreSQL can run here)
        why = _can_mount()
        if why:
            raise unittest.SkipTest(why)

    def setUp(self):
        super().setUp()
        os.chmod(self.dir.name, 0o755)  # the postgres user reaches its tablespace through it
        self.mnt = self.path("small")
        os.makedirs(self.mnt)
        r = _mount(self.mnt, "6m")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.mounted = True
        self.cluster = None
        self.addCleanup(self._release)  # (when setUp fails past here; after tearDown, nothing is left to do)
        # a cluster of its own: the tablespace and the mount go with it
        self.cluster = pg.Cluster()
        ts = os.path.join(self.mnt, "ts")
        os.makedirs(ts)
        if self.cluster.as_user:
            shutil.chown(ts, "postgres", "postgres")
        self.cluster.psql("CREATE TABLESPACE small LOCATION '%s'" % ts)
        self.cluster.psql("CREATE DATABASE full_db TABLESPACE small")
        self.db = self.cluster.url("full_db")

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        self._release()
        super().tearDown()

    def _release(self):
        """Stops the cluster, then unmounts its tablespace's tmpfs (before the test's directory is removed)."""
        if self.cluster:
            self.cluster.stop()
            self.cluster = None
        if self.mounted:
            subprocess.run(["umount", self.mnt], timeout=30)
            self.mounted = False

    def test_a_full_disk_answers_503_until_space_is_freed_and_loses_nothing(self):
        node = self.serve("--no-deliver")
        stop = threading.Event()
        result = {}
        acked = []
        ready = collections.Counter()
        reasons = set()

        watcher = threading.Thread(target=test_pg_nodes.watch_ready, args=(node, stop, ready, reasons))
        watcher.start()
        loader = threading.Thread(target=lambda: result.update(zip(("acked", "statuses", "retry"),
                                                                   self.load([node], 4, 0, stop=stop, acked=acked))))
        loader.start()
        try:
            # the tablespace fills: the node refuses events and says why, and goes on refusing
            full = lambda: any("is full" in r for r in reasons)
            self.assertTrue(pg.wait_until(full, 180 * SLOW), "readyz never said the disk was full: %s" % reasons)
            # refused while the disk is full: the probes (after 100, 200, 400, 800 ms ...) write what failed
            # again, so a probe ends the refusal only when such writes fit again (the room the rolled-back
            # rows left in the tables' pages can take a few: those are stored, and acknowledged, for real)
            oks, refusals = ready[200], ready[503]
            time.sleep(2.0)
            self.assertGreater(ready[503] - refusals, ready[200] - oks, "readyz mostly said ready while the disk "
                               "was full: %d times ready, %d not" % (ready[200] - oks, ready[503] - refusals))
            status, text = node.get("/readyz")
            self.assertEqual(status, 503, text)
            self.assertIn("the disk of the PostgreSQL server of", text)
            at_full = len(acked)
            # space is freed: the node takes events again by itself
            r = subprocess.run(["mount", "-o", "remount,size=256m", self.mnt], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertTrue(pg.wait_until(lambda: node.get("/readyz")[0] == 200, 30 * SLOW))
            self.assertTrue(pg.wait_until(lambda: len(acked) > at_full + 20, 30 * SLOW))
        finally:
            stop.set()
            loader.join(90)
            watcher.join(10)
        statuses, retry = result["statuses"], result["retry"]
        self.assertGreater(statuses[503], 0, statuses)
        self.assertTrue(all(v and v.isdigit() for v in retry), retry)
        node.stop()
        ids = collections.Counter(test_pg_nodes.stored_entry_ids(self.db))
        self.assertEqual([i for i in acked if ids[i] != 1], [])
        self.assertGreater(len(acked), 0)


if __name__ == "__main__":
    unittest.main()
