"""targets.py: small HTTP targets on 127.0.0.1 for the subscription tests: each records every request
it gets (time received, method, path, headers, body bytes) and answers by a policy the test sets (and
may change while it runs): always 204, fail the first N attempts of each webhook-id, a fixed status,
410 Gone, slow, held until released, never answering, closing the connection. Every wait is bounded."""
import email.utils
import hashlib
import http.server
import select
import socket
import threading
import time

# No request is held longer than this, whatever the policy says (a test that forgets to release a
# target still ends).
MAX_HOLD = 60.0


def wait_for(predicate, timeout=15.0, interval=0.02, message=None):
    """Polls predicate until it returns a true value (returned) or timeout seconds pass: then raises
    AssertionError with message (a string, or a callable giving one, evaluated at the end)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError("waited %.1f s in vain: %s" % (timeout, text or "the condition never held"))
        time.sleep(interval)


class Request:
    """One request as the target read it. headers: names in lower case (the last value of a name given
    twice). attempt: 1 for the first request with this key (webhook-id, else the body's hash), 2 ..."""

    def __init__(self, received, method, path, headers, body):
        self.received = received  # time.time() when the request's headers were read
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.attempt = 0
        self.status = None  # what the target answered (None: no answer, see outcome)
        self.outcome = "pending"  # "answered", "closed", "hung", "client gone"
        self.answered = None  # time.time() when the answer was sent or the connection dropped

    @property
    def key(self):
        return self.headers.get("webhook-id") or "sha256:" + hashlib.sha256(self.body).hexdigest()

    def __repr__(self):
        return "<%s %s key=%s attempt=%d %s %s>" % (self.method, self.path, self.key, self.attempt,
                                                   self.outcome, self.status)


class Answer:
    """What a policy tells the target to do: wait `delay` seconds (or, with `hold`, until the target is
    released), then answer status with headers and body; or `hang` (never answer: wait until the client
    closes the connection) or `close` (drop the connection without answering)."""

    def __init__(self, status=204, headers=None, body=b"", delay=0.0, hold=False, hang=False, close=False):
        self.status, self.headers, self.body = status, dict(headers or {}), body
        self.delay, self.hold, self.hang, self.close = delay, hold, hang, close


# Policies: callables (target, request) -> Answer. request.attempt counts the requests with its key.

def always(status=204, body=b"", headers=None):
    return lambda target, request: Answer(status, headers, body)


def fail_first(n, status=500, retry_after=None, then=204, only=None):
    """Fails the first n attempts of each key (of each key `only(request)` accepts, when given) with
    status, then answers `then`. retry_after: seconds (an int: sent as is), or ("date", seconds): sent as
    an HTTP date that many seconds from now."""
    def policy(target, request):
        if request.attempt <= n and (only is None or only(request)):
            headers = {}
            if isinstance(retry_after, tuple):
                headers["Retry-After"] = email.utils.formatdate(time.time() + retry_after[1], usegmt=True)
            elif retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            return Answer(status, headers, b'{"error":"failing on purpose"}')
        return Answer(then)
    return policy


def gone():
    return always(410, b"this endpoint is gone")


def slow(seconds, status=204):
    return lambda target, request: Answer(status, delay=seconds)


def held(status=204):
    """Holds every request until target.release() (or MAX_HOLD), then answers status."""
    return lambda target, request: Answer(status, hold=True)


def hang():
    return lambda target, request: Answer(hang=True)


def close():
    return lambda target, request: Answer(close=True)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self):
        target = self.server.target
        received = time.time()
        headers = {k.lower(): v for k, v in self.headers.items()}
        req = Request(received, self.command, self.path, headers, self._read_body())
        answer = target._arrive(req)
        try:
            self._respond(target, req, answer)
        finally:
            target._leave(req)

    def _respond(self, target, req, answer):
        if answer.close:
            req.outcome, req.answered = "closed", time.time()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer.hang:
            # never answers: waits (bounded) until the client gives up and closes, or the target stops
            deadline = time.monotonic() + MAX_HOLD
            while time.monotonic() < deadline and not target._stopping.is_set():
                readable, _, _ = select.select([self.connection], [], [], 0.05)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    break
            req.outcome, req.answered = "hung", time.time()
            self.close_connection = True
            return
        if answer.hold:
            target._released.wait(MAX_HOLD)
        if answer.delay:
            target._stopping.wait(min(answer.delay, MAX_HOLD))
        body = answer.body.encode() if isinstance(answer.body, str) else answer.body
        # recorded before the answer goes out, so that a client that has it also sees it recorded
        req.status, req.outcome, req.answered = answer.status, "answered", time.time()
        try:
            self.send_response(answer.status)
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            req.outcome = "client gone"
            self.close_connection = True

    do_POST = do_PUT = do_GET = do_DELETE = _handle


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        """A client that resets or drops its connection (a levee killed mid-request, an attempt timed
        out) is part of what the tests do: not worth a traceback. Anything else is reported."""
        import sys
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class Target:
    """An HTTP server on 127.0.0.1 (a free port) answering by `policy` (may be changed at any time),
    recording every request. Use as a context manager, or start() and stop()."""

    def __init__(self, policy=None, path="/hook"):
        self.policy = policy or always(204)
        self.lock = threading.Lock()
        self.requests = []
        self.attempts = {}  # key -> requests so far
        self.in_flight = {}  # key -> requests being answered now
        self.overlaps = []  # (key, count in flight) each time a key was in flight twice at once
        self.concurrent = 0
        self.max_concurrent = 0
        self._released = threading.Event()
        self._stopping = threading.Event()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.target = self
        self.url = "http://127.0.0.1:%d%s" % (self.httpd.server_address[1], path)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._started = False

    def start(self):
        self._thread.start()
        self._started = True
        return self

    def stop(self):
        self._stopping.set()
        self._released.set()
        if self._started:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def release(self):
        """Lets every held request (policy held()) be answered, and the ones after it at once."""
        self._released.set()

    def _arrive(self, req):
        with self.lock:
            n = self.attempts.get(req.key, 0) + 1
            self.attempts[req.key] = n
            req.attempt = n
            self.requests.append(req)
            now = self.in_flight.get(req.key, 0) + 1
            self.in_flight[req.key] = now
            if now > 1:
                self.overlaps.append((req.key, now))
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
            policy = self.policy
        return policy(self, req)

    def _leave(self, req):
        with self.lock:
            self.in_flight[req.key] -= 1
            self.concurrent -= 1

    # what the tests read

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def count(self):
        with self.lock:
            return len(self.requests)

    def answered(self, status=None):
        """The requests answered (with this status, when given)."""
        return [r for r in self.snapshot() if r.outcome == "answered" and (status is None or r.status == status)]

    def delivered(self):
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.snapshot() if r.outcome == "answered" and 200 <= r.status < 300]

    def delivered_keys(self):
        return {r.key for r in self.delivered()}

    def by_key(self):
        out = {}
        for r in self.snapshot():
            out.setdefault(r.key, []).append(r)
        return out

    def wait_requests(self, n, timeout=15.0):
        wait_for(lambda: self.count() >= n, timeout,
                 message=lambda: "%s got %d requests, not %d" % (self.url, self.count(), n))
        return self.snapshot()

    def wait_delivered(self, n, timeout=15.0):
        """Waits until n distinct keys were answered 2xx; returns the 2xx requests."""
        wait_for(lambda: len(self.delivered_keys()) >= n, timeout,
                 message=lambda: "%s answered 2xx for %d distinct webhook-ids, not %d (requests: %r)"
                 % (self.url, len(self.delivered_keys()), n, self.snapshot()[-10:]))
        return self.delivered()
