"""test_pg_nodes.py: several `levee serve` nodes on one PostgreSQL store. Concurrent POSTs split over two
nodes, some events sent to both at the same moment (stored once); kill -9 of a node mid-load (every
acknowledged event stored exactly once); PostgreSQL stopped and started again mid-load (503 with
Retry-After and /readyz failing meanwhile, then recovery, nothing acknowledged lost); node B's live tail shows what node A
received; a subscription fed by two nodes delivers every event to its target at least once (duplicates
counted and reported); the node holding a subscription's lease killed while events keep arriving, and
the other node taking it over (at once when the dead holder ran on this machine, after the 30 s lease
when it looks like another machine), every stored event delivered. Against throwaway servers
(tests/e2e/pg.py); skipped with the reason when PostgreSQL is not installed."""
import collections
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import events as E
import pg
import targets as T
from lv import SANITIZED, run
from server import ServerTestCase

SLOW = 3 if SANITIZED else 1


def entry(i, topic=None):
    """Entry i of a few shared topics (so that nodes write the same topics' rows at once)."""
    topic = topic if topic is not None else 7000 + i % 5
    return E.entry(2 * 10 ** 6 + i, topic, 100 + i % 17, 565, E.T0 + i * 1000, "<p>entry %d</p>" % i)


def stored_entry_ids(db):
    """The entry id of every stored event, with repetitions (an event stored twice would show twice)."""
    r = run("export", "--db", db)
    assert r.code == 0, r.err
    ids = []
    for line in r.out.splitlines():
        doc = json.loads(line)
        ids.append(int(doc["body"]["discussion_entry_id"]))
    return ids


def count_entries(tree):
    """How many entries a reply tree (levee query topic --json) holds, replies included."""
    n = 0
    for e in tree.get("entries", tree.get("replies", [])):
        n += 1 + count_entries(e)
    return n


def watch_ready(server, stop, ready, reasons=None):
    """Until stop is set, asks the server's /readyz every 50 ms: counts each status in ready (a Counter),
    and adds the answer of each refusal to reasons (a set) when given."""
    while not stop.is_set():
        try:
            status, text = server.get("/readyz")
            ready[status] += 1
            if status != 200 and reasons is not None:
                reasons.add(text)
        except OSError:
            pass
        time.sleep(0.05)


def cpu_seconds(pid):
    """The CPU time (user + system) a process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Poster:
    """Posts events on one kept-alive connection; records what was acknowledged and every other answer."""

    def __init__(self, server):
        self.server = server
        self.conn = None

    def post(self, event):
        """The status (0 when the connection failed) and the headers of the answer."""
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = self.server.connection(timeout=30)
                self.conn.request("POST", "/events", body=json.dumps(event),
                                  headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return resp.status, dict(resp.getheaders())
            except (OSError, http.client.HTTPException):
                if self.conn:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return 0, {}
        return 0, {}


class NodesTest(ServerTestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()

    def setUp(self):
        super().setUp()
        self.db = self.cluster.new_database()
        self.targets = []

    def tearDown(self):
        for s in self.servers:  # a killed node is not stopped twice
            if s.proc.poll() is None:
                s.stop()
        for t in self.targets:
            t.stop()
        super().tearDown()

    def nodes(self, *args):
        return self.serve(*args), self.serve(*args)

    def load(self, servers, threads, seconds, first=0, stop=None, acked=None):
        """Posts distinct events from `threads` threads spread over the servers for `seconds` (or until stop
        is set); returns (acknowledged ids, statuses Counter, Retry-After values seen with 503). acked, when
        given, is the list the acknowledged ids are appended to as they come."""
        acked, statuses, retry_after = acked if acked is not None else [], collections.Counter(), []
        lock = threading.Lock()
        stop = stop or threading.Event()

        def work(t):
            p = Poster(servers[t % len(servers)])
            i = 0
            while not stop.is_set():
                n = first + t * 10 ** 5 + i
                status, headers = p.post(entry(n))
                with lock:
                    statuses[status] += 1
                    if status == 200:
                        acked.append(2 * 10 ** 6 + n)
                    elif status == 503:
                        retry_after.append(headers.get("Retry-After"))
                if status != 200:
                    time.sleep(0.05)
                i += 1

        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        if seconds:
            time.sleep(seconds)
            stop.set()
        for t in ts:
            t.join(60)
        return acked, statuses, retry_after


class TestTwoNodes(NodesTest):
    def test_concurrent_posts_over_two_nodes_with_some_sent_to_both_are_stored_once(self):
        a, b = self.nodes()
        n = 300
        both = set(range(0, n, 4))  # every fourth event goes to both nodes at the same moment
        results = collections.Counter()
        lock = threading.Lock()

        def send(server, i, gate=None):
            if gate:
                gate.wait(10)
            status, _ = Poster(server).post(entry(i))
            with lock:
                results[status] += 1

        def work(k):
            for i in range(k, n, 6):
                if i in both:
                    gate = threading.Barrier(2)
                    pair = [threading.Thread(target=send, args=(s, i, gate)) for s in (a, b)]
                    for t in pair:
                        t.start()
                    for t in pair:
                        t.join(30)
                else:
                    send(a if i % 2 else b, i)

        ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(results, {200: n + len(both)})
        ids = stored_entry_ids(self.db)
        self.assertEqual(collections.Counter(ids), collections.Counter(2 * 10 ** 6 + i for i in range(n)))
        stats = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual(stats["events"], n)
        self.assertEqual(stats["duplicates"], len(both))
        # the topics written by both nodes at once hold every one of their entries
        for topic in range(7000, 7005):
            r = run("query", "topic", str(topic), "--db", self.db, "--json")
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(count_entries(json.loads(r.out)), len([i for i in range(n) if i % 5 == topic - 7000]))

    def test_kill_9_of_one_node_mid_load_loses_nothing_acknowledged(self):
        a, b = self.nodes()
        stop = threading.Event()
        result = {}
        loader = threading.Thread(target=lambda: result.update(zip(("acked", "statuses", "retry"),
                                                                   self.load([a, b], 8, 0, stop=stop))))
        loader.start()
        time.sleep(1.5 * SLOW)
        a.kill()  # SIGKILL, whatever it was committing
        time.sleep(1.0 * SLOW)
        stop.set()
        loader.join(90)
        acked = result["acked"]
        self.assertGreater(len(acked), 50)
        ids = collections.Counter(stored_entry_ids(self.db))
        self.assertEqual([i for i in acked if ids[i] != 1], [])  # every acknowledged event, exactly once
        self.assertEqual([i for i, c in ids.items() if c > 1], [])
        # the survivor goes on answering
        self.assertEqual(Poster(b).post(entry(9 * 10 ** 5))[0], 200)

    def test_tail_of_node_b_shows_what_node_a_received(self):
        a, b = self.nodes()
        conn = b.connection(timeout=15)
        conn.request("GET", "/api/tail")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        time.sleep(0.3)  # the stream is open before the events arrive
        posted = [entry(i, topic=7100) for i in range(5)]
        for e in posted:
            self.assertEqual(Poster(a).post(e)[0], 200)
        seen = []
        deadline = time.time() + 10 * SLOW
        while len(seen) < len(posted) and time.time() < deadline:
            line = resp.fp.readline().decode()
            if line.startswith("data: "):
                seen.append(int(json.loads(line[6:])["body"]["discussion_entry_id"]) % 10 ** 13)  # global to local
        conn.close()
        self.assertEqual(seen, [int(e["body"]["discussion_entry_id"]) for e in posted])

    def test_a_subscription_fed_by_two_nodes_delivers_every_event(self):
        t = T.Target(T.always(204)).start()
        self.targets.append(t)
        r = run("subscriptions", "add", "--url", t.url, "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        a, b = self.nodes()
        acked, statuses, _ = self.load([a, b], 6, 2.0 * SLOW)
        self.assertEqual(set(statuses), {200})
        want = set(acked)

        def delivered():
            got = collections.Counter()
            for req in t.snapshot():
                got[int(json.loads(req.body)["body"]["discussion_entry_id"])] += 1
            return got
        T.wait_for(lambda: want <= set(delivered()), timeout=60 * SLOW, interval=0.2,
                   message=lambda: "delivered %d of %d" % (len(want & set(delivered())), len(want)))
        got = delivered()
        duplicates = sum(c - 1 for c in got.values())
        sys.stderr.write("\n  two nodes, one subscription: %d events, %d delivered, %d duplicates\n"
                         % (len(want), sum(got.values()), duplicates))
        self.assertEqual(set(got), want)


def other_host_levee(directory, hostname):
    """A script that runs levee in a UTS namespace of its own whose host name is `hostname` (unshare --uts,
    which needs root): a lease it takes names another place, as a levee on another machine sharing the
    store would. unshare and sh exec in turn, so the script's pid is levee's. None when this machine
    cannot make such a namespace."""
    try:
        probe = subprocess.run(["unshare", "--uts", "hostname", hostname], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if probe.returncode != 0:
        return None
    path = os.path.join(directory, "levee-on-%s" % hostname)
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec unshare --uts sh -c 'hostname \"$0\" && exec \"$@\"' %s %s \"$@\"\n"
                % (hostname, os.environ["LEVEE"]))
    os.chmod(path, 0o755)
    return path


class TestLeaseTakeover(NodesTest):
    """Two nodes deliver one subscription, one at a time by its lease (lease_owner "PLACE:PID:RANDOM",
    lease_until in ms in the subscriptions table); the node holding it is killed with SIGKILL while events
    keep arriving, and the other one takes it over: every stored event reaches the target at least once.
    The second test makes the dead holder look like another machine, so the survivor has to wait the 30 s
    lease out: it takes about 30 s."""

    def setUp(self):
        super().setUp()
        self.dbname = self.db.rsplit("/", 1)[1]
        self.target = T.Target(T.always(204)).start()
        self.targets.append(self.target)
        r = run("subscriptions", "add", "--url", self.target.url, "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        self.sub = json.loads(r.out)["id"]

    def lease(self):
        """(the pid named by the lease's owner or None, lease_until in ms, the owner)."""
        row = self.cluster.psql("SELECT coalesce(lease_owner, ''), lease_until FROM subscriptions WHERE id = %d"
                                % self.sub, self.dbname).strip()
        owner, until = row.rsplit("|", 1)
        parts = owner.split(":")
        pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        return pid, int(until), owner

    def holder(self, nodes):
        pid = self.lease()[0]
        return next((n for n in nodes if n.proc.pid == pid), None)

    def delivered(self):
        got = collections.Counter()
        for req in self.target.delivered():
            got[int(json.loads(req.body)["body"]["discussion_entry_id"])] += 1
        return got

    def feed(self, servers, stop, acked):
        """One thread per server posting distinct events, about 40 a second each, until stop is set."""
        lock = threading.Lock()

        def work(k, server):
            p = Poster(server)
            i = 0
            while not stop.is_set():
                n = 3 * 10 ** 6 + k * 10 ** 5 + i
                status, _ = p.post(entry(n))
                if status == 200:
                    with lock:
                        acked.append(2 * 10 ** 6 + n)
                i += 1
                stop.wait(0.025 if status == 200 else 0.1)
            if p.conn:
                p.conn.close()
        ts = [threading.Thread(target=work, args=(k, s)) for k, s in enumerate(servers)]
        for t in ts:
            t.start()
        return ts

    def finish(self, survivor, acked, label):
        """Waits (bounded) until every stored event was delivered; checks it, and reports duplicates."""
        stored = stored_entry_ids(self.db)
        self.assertEqual(len(stored), len(set(stored)))
        self.assertTrue(set(acked) <= set(stored), "acknowledged but not stored")
        want = set(stored)
        T.wait_for(lambda: want <= set(self.delivered()), timeout=60 * SLOW, interval=0.2,
                   message=lambda: "delivered %d of the %d stored events; lease %r"
                   % (len(want & set(self.delivered())), len(want), self.lease()))
        got = self.delivered()
        self.assertEqual(set(got), want)  # every stored event, and nothing that is not stored
        duplicates = sum(c - 1 for c in got.values())
        sys.stderr.write("\n  %s: %d events stored, %d requests answered 2xx, %d duplicates\n"
                         % (label, len(want), sum(got.values()), duplicates))
        # what a user would look at: the survivor holds the subscription and nothing is left to deliver
        self.assertEqual(self.lease()[0], survivor.proc.pid)
        self.assertTrue(survivor.wait_log(lambda l: "delivering subscription %d" % self.sub in l, 10))

        def lag():
            r = run("subscriptions", "show", str(self.sub), "--db", self.db, "--json")
            self.assertEqual(r.code, 0, r.err)
            shown = json.loads(r.out)
            return shown if shown["lag"]["events"] == 0 and shown["state"] == "active" else None
        shown = T.wait_for(lag, timeout=15 * SLOW, interval=0.2, message="the lag did not come down to 0")
        self.assertGreaterEqual(shown["counts"]["delivered"], len(want))
        return duplicates

    def test_the_surviving_node_takes_over_a_killed_holders_subscription(self):
        nodes = self.nodes()
        stop, acked = threading.Event(), []
        feeders = self.feed(nodes, stop, acked)
        try:
            holder = T.wait_for(lambda: self.holder(nodes), timeout=15 * SLOW, interval=0.1,
                                message=lambda: "no node holds the lease: %r" % (self.lease(),))
            T.wait_for(lambda: len(self.delivered()) >= 40, timeout=30 * SLOW, interval=0.1,
                       message="too little delivered before the kill")
            survivor = nodes[1] if holder is nodes[0] else nodes[0]
            holder.kill()  # SIGKILL, with attempts in flight
            killed_at = time.time()
            before = len(self.delivered())
            # the survivor takes the lease over (at the latest 30 s after it was last renewed)
            T.wait_for(lambda: self.lease()[0] == survivor.proc.pid, timeout=45 * SLOW, interval=0.1,
                       message=lambda: "the survivor did not take the lease over: %r" % (self.lease(),))
            took = time.time() - killed_at
            # and delivers what goes on arriving
            T.wait_for(lambda: len(self.delivered()) > before + 40, timeout=30 * SLOW, interval=0.1,
                       message="nothing delivered after the takeover")
        finally:
            stop.set()
            for t in feeders:
                t.join(30)
        sys.stderr.write("\n  lease taken over %.1f s after the kill\n" % took)
        self.finish(survivor, acked, "holder killed, survivor on the same machine")

    def test_a_holder_on_another_machine_is_waited_out_then_taken_over(self):
        wrapper = other_host_levee(self.dir.name, "levee-other-host")
        if wrapper is None:
            self.skipTest("cannot run levee in a UTS namespace of its own here (unshare --uts needs root)")
        real = os.environ["LEVEE"]
        os.environ["LEVEE"] = wrapper  # Server starts levee_path(), read from the environment
        try:
            far = self.serve()
        finally:
            os.environ["LEVEE"] = real
        T.wait_for(lambda: self.lease()[0] == far.proc.pid, timeout=15 * SLOW, interval=0.1,
                   message=lambda: "the first node did not take the lease: %r" % (self.lease(),))
        self.assertTrue(self.lease()[2].startswith("levee-other-host~"), self.lease())
        near = self.serve()
        stop, acked = threading.Event(), []
        feeders = self.feed([far, near], stop, acked)
        try:
            T.wait_for(lambda: len(self.delivered()) >= 40, timeout=30 * SLOW, interval=0.1,
                       message="too little delivered before the kill")
            far.kill()
            _, until, owner = self.lease()
            time.sleep(1.0)  # what the dead node had sent before its connections were cut has arrived
            before = len(self.target.snapshot())
            # events go on arriving at the survivor; until the lease runs out nobody delivers them
            while time.time() * 1000 < until - 1500:
                self.assertEqual(self.lease()[2], owner)
                time.sleep(0.5)
            self.assertEqual(len(self.target.snapshot()), before, "delivered while the dead node's lease held")
            self.assertGreater(len(acked), 0)
            # then the survivor takes it over, soon after it expired
            T.wait_for(lambda: self.lease()[0] == near.proc.pid, timeout=max(0, until / 1000 - time.time()) + 15 * SLOW,
                       interval=0.1, message=lambda: "the survivor did not take the lease over: %r" % (self.lease(),))
            late = time.time() - until / 1000
            T.wait_for(lambda: len(self.target.snapshot()) > before + 40, timeout=30 * SLOW, interval=0.1,
                       message="nothing delivered after the takeover")
        finally:
            stop.set()
            for t in feeders:
                t.join(30)
        sys.stderr.write("\n  lease taken over %.1f s after it expired\n" % late)
        self.assertLess(late, 10 * SLOW)
        self.finish(near, acked, "holder on another machine killed, lease waited out")


class OwnClusterTest(NodesTest):
    """Nodes on a cluster of the class's own (SETTINGS: its server settings, None for the tests'), which
    its tests may stop, crash and start again without disturbing the other tests."""

    SETTINGS = None

    @classmethod
    def setUpClass(cls):
        pg.shared_or_skip()  # (the shared cluster tells whether PostgreSQL can run here)
        cls.cluster = pg.Cluster(settings=cls.SETTINGS)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()


class TestPostgreSQLRestart(OwnClusterTest):

    def test_postgresql_restarted_mid_load_answers_503_then_recovers_losing_nothing(self):
        a, b = self.nodes()
        stop = threading.Event()
        result = {}
        live = []
        ready = collections.Counter()

        watcher = threading.Thread(target=watch_ready, args=(a, stop, ready))
        watcher.start()
        loader = threading.Thread(target=lambda: result.update(zip(("acked", "statuses", "retry"),
                                                                   self.load([a, b], 6, 0, stop=stop, acked=live))))
        loader.start()
        time.sleep(1.0 * SLOW)
        # down until both nodes say so (a restart alone can be over between two looks at /readyz)
        self.cluster.pause()
        try:
            self.assertTrue(pg.wait_until(lambda: a.get("/readyz")[0] == 503 and b.get("/readyz")[0] == 503,
                                          30 * SLOW))
            # while the database is down the nodes wait between their tries: they do not spin (the live
            # tail's reader once retried at once, thousands of times a second, a CPU each)
            before_cpu = [cpu_seconds(n.proc.pid) for n in (a, b)]
            time.sleep(2.0)
            used = [cpu_seconds(n.proc.pid) - c for n, c in zip((a, b), before_cpu)]
            self.assertLess(sum(used), 0.5, "CPU seconds of each node in 2 s with the database down: %s" % used)
        finally:
            self.cluster.resume()
        # both nodes come back by themselves
        self.assertTrue(pg.wait_until(lambda: a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200, 30 * SLOW))
        before = len(live)
        time.sleep(1.0 * SLOW)
        stop.set()
        loader.join(90)
        watcher.join(10)
        acked, statuses, retry = result["acked"], result["statuses"], result["retry"]
        self.assertGreater(statuses[503], 0, statuses)
        self.assertTrue(all(v and v.isdigit() for v in retry), retry)
        self.assertGreater(ready[503], 0, ready)
        self.assertGreater(len(acked), before)  # acknowledged again after the restart
        ids = collections.Counter(stored_entry_ids(self.db))
        self.assertEqual([i for i in acked if ids[i] != 1], [])


class TestPostgreSQLCrash(OwnClusterTest):
    """A cluster of its own that keeps what it commits (fsync on) but whose transactions, by default, do not
    wait for their commit to reach the disk (synchronous_commit off, the WAL written every 10 s), crashed
    under load (pg_ctl stop -m immediate). A node answers 2xx only once its transaction's commit is flushed
    (it turns synchronous_commit on in the transaction itself, whatever the server's default), so every
    acknowledged event is there after the server recovers from its WAL."""

    SETTINGS = ["max_connections=50", "shared_buffers=32MB", "synchronous_commit=off", "wal_writer_delay=10s",
                "wal_writer_flush_after=1GB"]

    def test_a_crash_of_postgresql_loses_nothing_acknowledged(self):
        a, b = self.nodes()
        stop = threading.Event()
        result = {}
        live = []
        loader = threading.Thread(target=lambda: result.update(zip(("acked", "statuses", "retry"),
                                                                   self.load([a, b], 6, 0, stop=stop, acked=live))))
        loader.start()
        try:
            self.assertTrue(pg.wait_until(lambda: len(live) >= 200, 60 * SLOW), "too few events acknowledged")
            self.cluster.crash()
            at_crash = len(live)
            self.cluster.resume()
            self.assertTrue(pg.wait_until(lambda: a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200,
                                          30 * SLOW))
            self.assertTrue(pg.wait_until(lambda: len(live) > at_crash + 20, 30 * SLOW))
        finally:
            stop.set()
            loader.join(90)
        acked = result["acked"]
        ids = collections.Counter(stored_entry_ids(self.db))
        self.assertEqual([i for i in acked if ids[i] != 1], [], "acknowledged but not stored once, of %d "
                         "acknowledged (%d before the crash)" % (len(acked), at_crash))


if __name__ == "__main__":
    unittest.main()
