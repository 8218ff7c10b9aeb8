"""server.py: the real `levee serve` for tests: started on a free port on 127.0.0.1, its log collected,
stopped (or killed) by its own pid only, with bounded waits everywhere; over plain HTTP, or over HTTPS
with a certificate from a test CA made with the openssl command (TestCA)."""
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from lv import levee_path


class TestCA:
    """A certificate authority made with the openssl command in a directory, and the server
    certificates it signs (EC P-256 keys, valid for two days)."""

    def __init__(self, directory, name="levee test CA"):
        self.dir = directory
        self.cert = os.path.join(directory, "ca.pem")
        self.key = os.path.join(directory, "ca.key")
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", self.key, "-out", self.cert, "-subj", "/CN=" + name, "-days", "2",
                      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")

    def _openssl(self, *args):
        p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), p.stderr))

    def new_key(self, path):
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        os.chmod(path, 0o600)
        return path

    def issue(self, name, serial, names=("IP:127.0.0.1", "DNS:localhost"), key=None):
        """Writes NAME.pem (a certificate with this serial number and these subject alternative names)
        and NAME.key (a new key, or the key file given) in the directory; returns their paths."""
        cert = os.path.join(self.dir, name + ".pem")
        csr = os.path.join(self.dir, name + ".csr")
        ext = os.path.join(self.dir, name + ".ext")
        key = key or self.new_key(os.path.join(self.dir, name + ".key"))
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    "subjectAltName=%s\n" % ",".join(names))
        self._openssl("req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + names[-1].split(":", 1)[1])
        self._openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-set_serial", str(serial),
                      "-days", "2", "-extfile", ext, "-out", cert)
        return cert, key

    def context(self, **versions):
        """A client context that trusts only this CA (minimum_version=, maximum_version= may be given)."""
        ctx = ssl.create_default_context(cafile=self.cert)
        for k, v in versions.items():
            setattr(ctx, k, v)
        return ctx


class Server:
    def __init__(self, db, *args, env=None, listen="127.0.0.1:0", expect_start=True, ca=None):
        self.db = db
        self.ca = ca  # the TestCA whose certificate the server presents, when it serves HTTPS
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
                self.url = json.loads(line)["url"] if line.startswith("{") else re.search(r"url=(https?://[^ ]+)", line).group(1)
            except (StopIteration, AttributeError, ValueError, KeyError):
                self.kill()
                raise AssertionError("levee serve started without saying where:\n" + "\n".join(self.log))
            parsed = urllib.parse.urlparse(self.url)
            self.scheme, self.host, self.port = parsed.scheme, parsed.hostname, parsed.port

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.append(line)
            if "msg=listening" in line or '"msg":"listening"' in line:
                self._started.set()

    def wait_log(self, pred, timeout=30):
        """Whether a line of the server's log satisfies pred within timeout seconds: the server writes its
        log from a thread of its own, after the answer, and this process reads it from a thread too."""
        deadline = time.time() + timeout
        while True:
            if any(pred(line) for line in list(self.log)):
                return True
            if time.time() >= deadline:
                return False
            time.sleep(0.02)

    def connection(self, timeout=30, context=None):
        """A new (kept-alive) connection to the server: HTTPS verified with the test CA when it serves TLS."""
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=context or self.ca.context())
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        conn = self.connection(timeout)
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
    stopped at the end. With tls = True (a subclass's attribute) every server serves HTTPS with a
    certificate for 127.0.0.1 from a test CA (self.ca), and the helpers speak HTTPS to it."""

    tls = False

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.db = os.path.join(self.dir.name, "levee.db")
        self.servers = []
        if self.tls:
            self.ca = TestCA(self.dir.name)
            self.server_cert = self.ca.issue("server", 1)  # (certificate, key) for 127.0.0.1 and localhost

    def tearDown(self):
        for s in self.servers:
            if s.proc.poll() is None:
                s.stop()
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def serve(self, *args, db=None, **kw):
        if self.tls and "--tls-cert" not in args and "--tls-key" not in args:
            args = (*args, "--tls-cert", self.server_cert[0], "--tls-key", self.server_cert[1])
            kw.setdefault("ca", self.ca)
        s = Server(db or self.db, *args, **kw)
        self.servers.append(s)
        return s


def keep_posting(server, t, stop, acked, lock):
    """Posts distinct entries on one kept-alive connection until stop is set or the server stops
    answering 200 or 400; appends the entry ids it got 200 for to acked."""
    import events as E
    conn = server.connection(timeout=15)
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
