"""server.py: the real `levee serve` for tests: started on a free port on 127.0.0.1, its log collected,
stopped (or killed) by its own pid only, with bounded waits everywhere."""
import http.client
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from lv import levee_path


class Server:
    def __init__(self, db, *args, env=None, listen="127.0.0.1:0", expect_start=True):
        self.db = db
        self.log = []
        self.url = None
        self.proc = subprocess.Popen([levee_path(), "serve", "--db", db, "--listen", listen, *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self._lines = threading.Thread(target=self._read_log, daemon=True)
        self._started = threading.Event()
        self._lines.start()
        if expect_start:
            if not self._started.wait(20):
                self.kill()
                raise AssertionError("levee serve did not start:\n" + "\n".join(self.log))
            try:
                line = next(l for l in self.log if "msg=listening" in l or '"msg":"listening"' in l)
                self.url = json.loads(line)["url"] if line.startswith("{") else re.search(r"url=(http://[^ ]+)", line).group(1)
            except (StopIteration, AttributeError, ValueError, KeyError):
                self.kill()
                raise AssertionError("levee serve started without saying where:\n" + "\n".join(self.log))
            parsed = urllib.parse.urlparse(self.url)
            self.host, self.port = parsed.hostname, parsed.port

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.append(line)
            if "msg=listening" in line or '"msg":"listening"' in line:
                self._started.set()

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, data.decode("utf-8", "replace"), dict(resp.getheaders())
        finally:
            conn.close()

    def post(self, path, body, content_type="application/json", headers=None):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        status, text, _ = self.request("POST", path, body, h)
        return status, text

    def get(self, path, headers=None):
        status, text, _ = self.request("GET", path, None, headers)
        return status, text

    def get_json(self, path, headers=None):
        status, text = self.get(path, headers)
        return status, json.loads(text)

    def wait_applied(self, events, timeout=30, token=None):
        """Waits until the store holds `events` events (the journal is applied in the background)."""
        deadline = time.time() + timeout
        path = "/api/stats" + ("?token=" + token if token else "")
        while time.time() < deadline:
            status, st = self.get_json(path)
            if status == 200 and st["events"] + st["dead_letters"] >= events:
                return st
            time.sleep(0.05)
        raise AssertionError("the store did not reach %d events in %ss" % (events, timeout))

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._lines.join(5)
        return code

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._lines.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


class ServerTestCase(unittest.TestCase):
    """A test with a temporary directory holding its store (self.db), and the servers it starts, each
    stopped at the end."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.dir.name, "levee.db")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def serve(self, *args, db=None, **kw):
        s = Server(db or self.db, *args, **kw)
        self.servers.append(s)
        return s


def keep_posting(server, t, stop, acked, lock):
    """Posts distinct entries on one kept-alive connection until stop is set or the server stops
    answering 200 or 400; appends the entry ids it got 200 for to acked."""
    import events as E
    conn = http.client.HTTPConnection(server.host, server.port, timeout=15)
    i = 0
    while not stop.is_set():
        e = E.entry(10 ** 6 + t * 10 ** 4 + i, 5000 + t, 1000 + t, 565, E.T0 + i, "<p>post %d of %d</p>" % (i, t))
        try:
            conn.request("POST", "/events", body=json.dumps(e), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            return
        if resp.status == 200:
            with lock:
                acked.append(e["body"]["discussion_entry_id"])
        elif resp.status != 400:
            return
        i += 1
