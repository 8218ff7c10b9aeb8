"""test_faults.py: `levee serve` on an operator's bad day and against an attacker (issue 17), on the real
server on loopback: a second server on the same store, a journal damaged by hand, SIGTERM under
keep-alive load and live tails, a full disk and a locked store that recover by themselves, large
bodies before the token, searches and batches that would cost too much, the live tail's resume,
HTTP framing, and the headers and parameters the API promises."""
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import unittest

import events as E
from lv import SANITIZED, canvas_example, compact, run
from server import ServerTestCase, keep_posting

ENTRY = canvas_example("discussion_entry_created")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def entries(n, first=1, course=565, topic=5000, text="<p>post %d</p>"):
    return [E.entry(first + i, topic, 1000 + i % 50, course, E.T0 + i * 1000, text % (first + i)) for i in range(n)]


def raw_http(host, port, data, shutdown=False, timeout=10):
    """Sends bytes on a fresh connection and returns everything the server answers."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if shutdown:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not shutdown and b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if m and len(body) >= int(m.group(1)):
                    break
        return out
    finally:
        s.close()


def status_of(response):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", response)
    return int(m.group(1)) if m else None


class FaultTest(ServerTestCase):
    def stored_ids(self, db=None):
        out = run("export", "--db", db or self.db).out.splitlines()
        return [json.loads(l)["body"]["discussion_entry_id"] for l in out]


class TestTwoProcesses(FaultTest):
    def test_a_second_server_on_the_store_is_refused(self):
        first = self.serve()
        self.assertEqual(first.post("/events", compact(ENTRY))[0], 200)
        second = self.serve(expect_start=False)
        code = second.proc.wait(timeout=30)
        second._lines.join(5)
        self.assertEqual(code, 2)
        said = "\n".join(second.log)
        self.assertIn("in use by another levee serve", said)
        self.assertIn("pid %d" % first.proc.pid, said)
        # the first is unharmed: it still takes events and stores them
        batch = E.ndjson(entries(50, first=10))
        self.assertEqual(first.post("/events", batch, content_type="application/x-ndjson")[0], 200)
        first.wait_applied(51)
        self.assertEqual(first.stop(), 0)
        self.assertEqual(len(self.stored_ids()), 51)

    def test_ingest_beside_a_running_server_works(self):
        s = self.serve()
        batch = E.ndjson(entries(200, first=1))
        path = os.path.join(self.dir.name, "more.ndjson")
        with open(path, "w") as f:
            f.write(E.ndjson(entries(200, first=1000)))
        poster = threading.Thread(target=lambda: s.post("/events", batch, content_type="application/x-ndjson"))
        poster.start()
        r = run("ingest", "--db", self.db, path, timeout=120)
        poster.join(30)
        self.assertEqual(r.code, 0, r.err)
        s.wait_applied(400)
        self.assertEqual(s.stop(), 0)
        ids = self.stored_ids()
        self.assertEqual(len(ids), 400)
        self.assertEqual(len(set(ids)), 400)

    def test_a_journal_damaged_by_hand_is_recovered_up_to_the_damage(self):
        s = self.serve()
        docs = entries(40, first=1)
        for d in docs:  # one record per document
            self.assertEqual(s.post("/events", compact(d))[0], 200)
        self.assertEqual(s.stop(), 0)
        # the store goes; the journal (its last segment is kept) becomes the only copy
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.db + suffix):
                os.remove(self.db + suffix)
        jdir = self.db + ".journal"
        [seg] = [f for f in os.listdir(jdir) if f.endswith(".log")]
        path = os.path.join(jdir, seg)
        with open(path, "r+b") as f:
            data = f.read()
            at = data.index(b'"discussion_entry_id":"20"')  # inside the 20th record
            f.seek(at)
            f.write(b"\xff" * 12)
        s2 = self.serve()
        st = s2.wait_applied(39, timeout=60)
        self.assertEqual(st["events"], 39)
        self.assertEqual(s2.get_json("/readyz")[0], 200)
        status, metrics = s2.get("/metrics")
        self.assertRegex(metrics, r"levee_journal_damaged_bytes_total [1-9]")
        self.assertEqual(s2.stop(), 0)
        said = "\n".join(s2.log)
        self.assertIn("damaged", said)
        kept = os.listdir(os.path.join(jdir, "damaged"))
        self.assertEqual(len(kept), 1, kept)
        ids = set(self.stored_ids())
        self.assertEqual(ids, {str(i) for i in range(1, 41)} - {"20"})


class TestStopUnderLoad(FaultTest):
    RUNS = int(os.environ.get("LEVEE_STOP_RUNS", "20" if not SANITIZED else "3"))

    def one_run(self, n):
        db = os.path.join(self.dir.name, "stop%d.db" % n)
        s = self.serve("--access-log", "false", db=db)
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def client(t):
            keep_posting(s, t, stop, acked, lock)

        def tail():
            conn = http.client.HTTPConnection(s.host, s.port, timeout=15)
            try:
                conn.request("GET", "/api/tail")
                resp = conn.getresponse()
                while resp.read(4096):
                    pass
            except (OSError, http.client.HTTPException):
                pass

        def asker(path):
            conn = http.client.HTTPConnection(s.host, s.port, timeout=15)
            while not stop.is_set():
                try:
                    conn.request("GET", path)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status not in (200, 404, 503):
                        questions_failed.append((path, resp.status))
                except (OSError, http.client.HTTPException):
                    return

        questions_failed = []
        threads = [threading.Thread(target=client, args=(t,)) for t in range(32)]
        threads += [threading.Thread(target=tail) for _ in range(20)]
        threads += [threading.Thread(target=asker, args=(p,)) for p in ("/api/search?q=post", "/api/stats",
                                                                          "/api/courses/565", "/api/search?q=of")]
        for t in threads:
            t.start()
        time.sleep(1.0)
        code = s.stop(signal.SIGTERM, timeout=60)
        stop.set()
        for t in threads:
            t.join(20)
        self.assertEqual(code, 0, "run %d: exit %s\n%s" % (n, code, "\n".join(s.log[-20:])))
        self.assertFalse(any("MHD_stop_daemon" in l or "panic" in l.lower() for l in s.log), s.log[-20:])
        self.assertGreater(len(acked), 0)
        self.assertEqual(questions_failed, [])
        # every acknowledged event is in the store when the server has exited (applied before exit)
        r = run("stats", "--db", db, "--json")
        self.assertEqual(r.code, 0, r.err)
        stored = set(self.stored_ids(db))
        missing = set(acked) - stored
        self.assertEqual(missing, set(), "run %d: %d acknowledged events missing" % (n, len(missing)))

    def test_sigterm_under_keepalive_load_tails_and_questions_exits_0_every_time(self):
        for n in range(self.RUNS):
            self.one_run(n)


@unittest.skipUnless(os.geteuid() == 0, "needs root to mount a small tmpfs (the full-disk test)")
class TestFullDisk(FaultTest):
    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.dir.name, "small")
        os.mkdir(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", self.mnt], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.decode().strip())

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        super().tearDown()

    def test_full_disk_then_freed_space_recovers_without_restart(self):
        db = os.path.join(self.mnt, "levee.db")
        s = self.serve("--access-log", "false", db=db)
        filler = os.path.join(self.mnt, "filler")
        # fill the disk, leaving the server a little room
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        statuses = []
        i = 0
        rss_before = None
        for i in range(400):
            status, _ = s.post("/events", compact(E.entry(10 ** 5 + i, 5000, 1000, 565, E.T0 + i, "<p>%s</p>" % ("x" * 2000))))
            statuses.append(status)
            if status == 503 and rss_before is None:
                rss_before = rss_kb(s.proc.pid)
        self.assertIn(503, statuses)
        self.assertNotIn(500, statuses)
        # while stuck, memory stays bounded
        for j in range(200):
            s.post("/events", compact(E.entry(10 ** 6 + j, 5000, 1000, 565, E.T0 + j, "<p>%s</p>" % ("y" * 2000))))
        if not SANITIZED:
            self.assertLess(rss_kb(s.proc.pid) - rss_before, 20 * 1024)
        status, ready = s.get_json("/readyz")
        self.assertEqual(status, 503, ready)
        # free space: it recovers by itself
        os.remove(filler)
        deadline = time.time() + 60
        ok = False
        while time.time() < deadline and not ok:
            ok = s.post("/events", compact(E.entry(10 ** 7, 5000, 1000, 565, E.T0, "<p>after</p>")))[0] == 200
            time.sleep(0.2)
        self.assertTrue(ok, "still refusing after space was freed:\n" + "\n".join(s.log[-10:]))
        deadline = time.time() + 60
        while time.time() < deadline and s.get_json("/readyz")[0] != 200:
            time.sleep(0.2)
        self.assertEqual(s.get_json("/readyz")[0], 200)
        status, metrics = s.get("/metrics")
        self.assertRegex(metrics, r"levee_journal_failures_total [1-9]")
        self.assertRegex(metrics, r"levee_journal_recoveries_total [1-9]")
        acked = sum(1 for x in statuses if x == 200) + 1
        self.assertEqual(s.stop(), 0)
        self.assertGreaterEqual(len(self.stored_ids(db)), acked)


class TestLockedStore(FaultTest):
    def test_a_write_lock_held_elsewhere_past_the_busy_timeout_is_waited_out(self):
        """Another process holds the store's write lock longer than SQLite's busy wait (10 s): the
        applier says it is retrying (/readyz 503) and does not give up; once the lock is released
        everything is stored. The lock is held until the test has seen the retrying state (at most
        60 s), so a slow machine cannot release it before the applier got there."""
        s = self.serve("--access-log", "false")
        self.assertEqual(s.post("/events", compact(ENTRY))[0], 200)
        s.wait_applied(1)
        held, release = threading.Event(), threading.Event()

        def hold():
            conn = sqlite3.connect(self.db, timeout=30, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(60)
            conn.execute("ROLLBACK")
            conn.close()

        locker = threading.Thread(target=hold)
        locker.start()
        held.wait(30)
        try:
            batch = E.ndjson(entries(300, first=100))
            self.assertEqual(s.post("/events", batch, content_type="application/x-ndjson")[0], 200)
            # the applier says it is waiting, and does not give up
            deadline = time.time() + 55
            saw_retrying = False
            while time.time() < deadline and not saw_retrying:
                status, ready = s.get_json("/readyz")
                saw_retrying = status == 503 and "retry" in ready.get("reason", "")
                time.sleep(0.5)
            self.assertTrue(saw_retrying)
        finally:
            release.set()
        locker.join(30)
        st = s.wait_applied(301, timeout=90)
        self.assertEqual(st["events"], 301)
        self.assertEqual(s.get_json("/readyz")[0], 200)
        status, metrics = s.get("/metrics")
        self.assertRegex(metrics, r"levee_store_retries_total [1-9]")
        self.assertRegex(metrics, r"levee_store_recoveries_total [1-9]")
        self.assertEqual(s.stop(), 0)


class TestStoreMovedAway(FaultTest):
    def test_a_store_renamed_under_the_server_stops_writing_and_loses_nothing(self):
        """The store's file renamed while levee serve has it open (an operator's mv, a cleanup script):
        levee does not go on writing into a file nobody will read; /readyz says why; what was
        acknowledged meanwhile stays in the journal, and is applied once the file is back."""
        s = self.serve("--access-log", "false")
        self.assertEqual(s.post("/events", E.ndjson(entries(10)), content_type="application/x-ndjson")[0], 200)
        s.wait_applied(10)
        aside = self.db + ".moved"
        os.rename(self.db, aside)
        self.assertEqual(s.post("/events", E.ndjson(entries(20, first=100)), content_type="application/x-ndjson")[0],
                         200)
        deadline = time.time() + 30
        ready = (200, {})
        while time.time() < deadline:
            ready = s.get_json("/readyz")
            if ready[0] == 503:
                break
            time.sleep(0.2)
        self.assertEqual(ready[0], 503, ready)
        self.assertIn("was moved or deleted while levee had it open", ready[1].get("reason", ""))
        s.stop()
        self.assertTrue(any("was moved or deleted while levee had it open" in line for line in s.log), s.log[-5:])
        # (the write-ahead log stayed at the store's path, beside where the file goes back)
        os.rename(aside, self.db)
        s = self.serve("--access-log", "false")
        st = s.wait_applied(30)
        self.assertEqual(st["events"], 30)
        self.assertEqual(s.stop(), 0)


class TestBeforeTheToken(FaultTest):
    def test_large_unauthenticated_bodies_are_refused_from_the_headers(self):
        s = self.serve("--ingest-token", "in-secret-1", "--api-token", "api-secret-1")
        before = rss_kb(s.proc.pid)
        size = 60 << 20
        answers = []

        def attacker():
            c = socket.create_connection((s.host, s.port), timeout=15)
            try:
                c.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                          b"Content-Length: %d\r\n\r\n" % size)
                sent = 0
                chunk = b"{}\n" * 20000
                try:
                    while sent < size:
                        c.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass  # the server closed: it will not read the rest
                c.settimeout(5)
                try:
                    answers.append(c.recv(4096))
                except OSError:
                    answers.append(b"")
            finally:
                c.close()

        threads = [threading.Thread(target=attacker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        after = rss_kb(s.proc.pid)
        if not SANITIZED:
            self.assertLess(after - before, 32 * 1024, "RSS grew from %d to %d kB" % (before, after))
        self.assertTrue(any(status_of(a) == 401 for a in answers), answers[:2])
        self.assertEqual(s.get_json("/healthz")[0], 200)

    def test_content_length_over_the_limit_is_413_before_the_body(self):
        s = self.serve()
        out = raw_http(s.host, s.port, b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
                                       b"Content-Length: 999999999999\r\n\r\n")
        self.assertEqual(status_of(out), 413, out[:200])


class TestCosts(FaultTest):
    def test_huge_searches_are_bounded_and_others_are_answered_meanwhile(self):
        s = self.serve()
        batch = E.ndjson(entries(300, first=1, text="<p>photosynthesis and chlorophyll %d</p>"))
        self.assertEqual(s.post("/events", batch, content_type="application/x-ndjson")[0], 200)
        s.wait_applied(300)
        words = "+".join("w%d" % i for i in range(5000))  # about 28 kB: within what a request line may be
        results = []

        def search():
            t0 = time.time()
            status, _ = s.get("/api/search?q=" + words)
            results.append((status, time.time() - t0))

        threads = [threading.Thread(target=search) for _ in range(3)]
        for t in threads:
            t.start()
        t0 = time.time()
        status, _ = s.get_json("/api/stats")
        stats_seconds = time.time() - t0
        for t in threads:
            t.join(60)
        self.assertEqual(status, 200)
        self.assertLess(stats_seconds, 10)
        for status, seconds in results:
            self.assertIn(status, (400, 414, 503))
            self.assertLess(seconds, 30)
        # a hundred words: the answer says how many levee takes
        status, body = s.get_json("/api/search?q=" + "+".join("w%d" % i for i in range(100)))
        self.assertEqual(status, 400)
        self.assertIn("at most 32", body["error"])
        status, body = s.get_json("/api/search?q=photosynthesis")
        self.assertEqual(status, 200)
        self.assertEqual(len(body["results"]), 100)

    def test_a_batch_of_junk_lines_is_bounded(self):
        s = self.serve()
        before = rss_kb(s.proc.pid)
        junk = b"{}\n" * ((16 << 20) // 3)
        status, body = s.post("/events", junk, content_type="application/x-ndjson")
        self.assertEqual(status, 413)
        self.assertLess(len(body), 4096)
        self.assertIn("smaller batches", body)
        # a batch within the limit answers with a bounded list of what was rejected
        junk = b"{}\n" * 20000
        status, body = s.post("/events", junk, content_type="application/x-ndjson")
        answer = json.loads(body)
        self.assertEqual(status, 400)
        self.assertEqual(len(answer["rejected"]), 100)
        self.assertEqual(answer["rejected_count"], 20000)
        self.assertLess(len(body), 64 * 1024)
        if not SANITIZED:
            self.assertLess(rss_kb(s.proc.pid) - before, 200 * 1024)
        self.assertEqual(s.stop(), 0)


class TestTailResume(FaultTest):
    def test_events_posted_while_nobody_listens_are_resumed(self):
        s = self.serve()
        first = E.entry(1, 5000, 1000, 565, E.T0, "<p>first</p>")
        self.assertEqual(s.post("/events", compact(first))[0], 200)
        # nobody listens: these still enter the tail
        for i in range(2, 6):
            self.assertEqual(s.post("/events", compact(E.entry(i, 5000, 1000, 565, E.T0 + i, "<p>%d</p>" % i)))[0], 200)
        conn = http.client.HTTPConnection(s.host, s.port, timeout=10)
        conn.request("GET", "/api/tail", headers={"Last-Event-ID": "1"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("X-Content-Type-Options"), "nosniff")
        got = []
        deadline = time.time() + 10
        while len(got) < 4 and time.time() < deadline:
            line = resp.readline().decode()
            if line.startswith("data: "):
                got.append(json.loads(line[6:])["body"]["discussion_entry_id"])
        conn.close()
        self.assertEqual(got, [E.glob(i) for i in range(2, 6)])


class TestFraming(FaultTest):
    def test_two_different_content_lengths_are_400(self):
        s = self.serve()
        body = compact(ENTRY).encode()
        out = raw_http(s.host, s.port, b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                                       b"Content-Length: 5\r\n\r\n" % len(body) + body)
        self.assertEqual(status_of(out), 400, out[:300])
        self.assertEqual(s.wait_applied(0)["events"], 0)

    def test_http_1_1_without_host_is_400(self):
        s = self.serve()
        out = raw_http(s.host, s.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertEqual(status_of(out), 400, out[:300])

    def test_a_chunked_post_then_half_close_is_answered(self):
        s = self.serve()
        body = compact(ENTRY).encode()
        req = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
               + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        out = raw_http(s.host, s.port, req, shutdown=True)
        self.assertEqual(status_of(out), 200, out[:300])
        self.assertEqual(s.wait_applied(1)["events"], 1)


class TestHeadersAndParameters(FaultTest):
    def test_the_page_cannot_be_framed_and_sends_no_referrer(self):
        s = self.serve()
        status, _, headers = s.request("GET", "/")
        self.assertEqual(status, 200)
        csp = headers["Content-Security-Policy"]
        for directive in ("frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):
            self.assertIn(directive, csp)
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        self.assertEqual(headers["Referrer-Policy"], "no-referrer")

    def test_bad_ids_and_parameters_are_400(self):
        s = self.serve()
        self.assertEqual(s.post("/events", compact(ENTRY))[0], 200)
        s.wait_applied(1)
        for path in ("/api/topics/abc", "/api/topics/12x", "/api/courses/-1", "/api/users/1.5",
                     "/api/conversations/99999999999999999999999", "/api/search?q=x&course=abc"):
            status, body = s.get_json(path)
            self.assertEqual(status, 400, (path, body))
            self.assertIn("error", body)
        status, body = s.get_json("/api/courses/565?until=2024-02-30")
        self.assertEqual(status, 400)
        self.assertNotIn("time of day", body["error"])
        self.assertIn("30", body["error"])

    def test_tokens_are_matched_exactly(self):
        s = self.serve("--ingest-token", "in-secret-1", "--api-token", "api-secret-1")
        self.assertEqual(s.get("/api/stats?token=api-secret-1")[0], 200)
        self.assertEqual(s.get("/api/stats?TOKEN=api-secret-1")[0], 401)
        self.assertEqual(s.get("/api/stats?token=api-secret-1%00junk")[0], 401)
        self.assertEqual(s.get("/api/stats?token=api-secret-")[0], 401)
        self.assertEqual(s.get("/api/stats", {"Authorization": "Bearer api-secret-1"})[0], 200)
        self.assertEqual(s.get("/api/stats", {"Authorization": "bearer api-secret-1 "})[0], 401)

    def test_weak_tokens_are_refused_at_start(self):
        for token in (" ", "short", "with space inside"):
            s = self.serve("--api-token", token, expect_start=False)
            self.assertEqual(s.proc.wait(timeout=30), 2, token)
            s._lines.join(5)
            self.assertTrue(any("--api-token must be at least" in l for l in s.log), s.log)


if __name__ == "__main__":
    unittest.main()
