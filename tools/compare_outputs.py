#!/usr/bin/env python3
"""compare_outputs.py: shows that two levee binaries answer byte for byte the same.

What it is for: before and after a restructuring (files moved, modules split, the store's internal
interface changed) the output of every command and every HTTP answer must not change. This runs
the same fixed script of commands and requests against an old binary and a new one, each in its
own temporary directory with its own store and servers, and compares the two sides item by item.

How to run it (from the repository root; Python 3 standard library only):

    tools/compare_outputs.py --old /work/baseline/levee --new build/levee
    tools/compare_outputs.py --old /work/baseline/levee --new /work/baseline/levee   # self-check
    options: --events N   size of the simulated corpus (default 40000 events)
             --days N     days simulated to start with (default 20; grown to reach --events)
             --keep DIR   keep the corpus, both sides' stores, logs and every record under DIR
                          (records/NNNN, one file per item, in the order run)
             -v           print a unified diff (truncated) of the first difference of each item

It prints one line per item, "same" or "DIFFERENT", then a summary; the exit status is 0 only when
every item is identical (1 when some differ, 2 when the tool itself could not run).

The script:
  1. builds a corpus, once, with the OLD binary (so both sides read the same bytes): `simulate --seed
     7 --courses 6 --users 300 --days D` where D starts at 20 and grows until there are --events
     events (the first N lines are kept); a Caliper slice of the same institution (its first days'
     events in the other format) and one of another seed; every file under
     tests/fixtures/canvas-docs and tests/fixtures/caliper-spec-v1p1 as it is (documentation
     wrappers, entities and events outside the model: dead letters and warnings), the example
     payloads of canvas-docs one per line, and hand-made bad lines (not JSON, bad fields, an id
     over 2^64, an oversized line > 1,000,000 bytes, duplicates, a CRLF line, a pretty-printed
     document, warnings only, a truncated document at the end). With openssl on PATH it also
     makes an RSA key and signed events for the --jwks server.
  2. with each binary, in its own directory (the binary is copied there first, so a rebuild while
     this runs does not matter; paths given to levee are relative, so messages name the same
     paths on both sides): validate, normalize, convert, catalog, simulate, ingest, stats, export,
     query (ids discovered in the old side's store: courses, the largest topics, deleted ones,
     announcements, updated ones, conversations, users; global and local ids; windows, limits,
     offsets), search, error cases, help and --version; each item is exit status + stdout +
     stderr (+ files the command wrote).
  3. `levee serve` on that store (every GET route of docs/api.md with good and bad parameters,
     unknown ids, 404 and 405 routes, /healthz, /readyz, /metrics, the web page and every file it
     links, found by following links and imports), a fresh server receiving POST /events (every
     input form and error status; the live tail; simulate --to URL), a server with tokens, and,
     with openssl, a server verifying signed events. Each answer is status, headers and body.

Normalisations (applied identically to both sides; everything else is compared byte for byte):
  - timings: the "seconds" member of `ingest --json` is removed; in the summary lines of ingest
    ("N events in T s, R events/s") and simulate ("in T s (R events/s)") T and R become <T>, <R>.
  - waiting times that run until the present (`query course` and /api/courses/ID with neither
    --until/until nor --now/now): each "waiting_seconds" is replaced by "<now - created_at>" only
    after checking that it equals the wall clock during that run minus created_at (2 s slack);
    in the table, the waiting column is replaced by <waiting> after checking each cell the same
    way (the width of that column depends on the values). Every other query gives --now (or
    until) so that it is compared exactly.
  - HTTP: the Date header is dropped (other headers are compared, in order); the port of each
    server becomes <PORT> wherever it appears (the listening line, bodies, logs).
  - /metrics: the values of the *_duration_seconds histogram buckets and sums are timings and
    become <t>; levee_commit_duration_seconds_count (how many group commits: how many requests
    share one fsync depends on timing) becomes <group commits>; every other series, the request
    counts and levee_commit_records_total included, is compared.
  - serve logs (stderr): time= / "time": stamps and duration_ms become <T>, the port <PORT>. The
    access log (msg=request, one line per request) is compared as a sorted list after the other
    messages (compared in order): a request's line is written when its connection completes, on
    whichever thread answered (queries run on workers), so its position is thread timing. A live
    tail's line is level=warn ended=early or level=info depending on whether its stream had ended
    when the daemon stopped: it becomes level=<info|warn> without ended=.
  - the live tail (SSE): ": keepalive" comments (sent on a timer) are dropped.
  - signed simulate output (JWTs): iat and exp depend on the clock and the signature on them, so
    each JWT is compared as its decoded header and claims with iat/exp replaced (after checking
    exp - iat == 3600) and the length of its signature, not its bytes.
  - absolute paths: the side's directory becomes <SIDE> and the run's root <ROOT> (levee is given
    relative paths, so this is only a safety net for messages that make paths absolute).
Nothing else is normalised: stats --json (bytes_on_disk included), export bytes, dead letters, the
order of every list, error messages and exit statuses must all be the same.
"""
import argparse
import base64
import difflib
import glob
import hashlib
import http.client
import json
import math
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FIXTURES = os.path.join(REPO, "tests", "fixtures")
FIXTURE_DIRS = ("canvas-docs", "caliper-spec-v1p1")

CMD_TIMEOUT = 120          # seconds for any one levee command
HTTP_TIMEOUT = 30          # seconds for any one HTTP request
START_TIMEOUT = 20         # seconds for levee serve to say it listens
STOP_TIMEOUT = 30          # seconds for levee serve to stop after SIGTERM
APPLY_TIMEOUT = 20         # seconds for posted events to reach the store
SIDE_BUDGET = 600          # seconds for one side: past it, each command gets 1 s (a hung binary)
NOW = "2024-12-01T00:00:00Z"   # --now / now= for course queries: waiting times are then exact
SIM = ["--seed", "7", "--courses", "6", "--users", "300"]
COMMANDS = ["validate", "normalize", "convert", "serve", "ingest", "query", "search", "export",
            "stats", "catalog", "simulate", "help"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class ToolError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# normalisation helpers

def parse_utc(text):
    """Seconds since the epoch of levee's "2024-09-02T02:33:18.000Z" (always UTC, Z)."""
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z$", text or "")
    if not m:
        return None
    import calendar
    secs = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
    return secs + (float(m.group(7)) if m.group(7) else 0.0)


WAIT_JSON_RE = re.compile(rb'"waiting_seconds":-?\d+')


def norm_waiting_json(data, t0, t1):
    """waiting_seconds (until the present) -> a placeholder, when each is now - created_at."""
    try:
        doc = json.loads(data)
    except ValueError:
        return data
    items = doc.get("unanswered") if isinstance(doc, dict) else None
    if not items:
        return data
    for it in items:
        created = parse_utc(it.get("created_at"))
        w = it.get("waiting_seconds")
        if created is None or not isinstance(w, int):
            return data
        if not (t0 - created - 2 <= w <= t1 - created + 2):
            return data
    return WAIT_JSON_RE.sub(b'"waiting_seconds":"<now - created_at>"', data)


WAIT_CELL_RE = re.compile(r"^(\d+) (d|h) (\d+) (h|min) *$")


def norm_waiting_table(data, t0, t1):
    """The waiting column of the unanswered table (until the present) -> <waiting>, when each
    cell is the time from its posted minute to the wall clock of the run."""
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    out = list(lines)
    for i, line in enumerate(lines):
        if not line.startswith("Student posts no teacher or TA has answered"):
            continue
        if i + 2 >= len(lines):
            break
        dashes = lines[i + 2]
        spans = [m.span() for m in re.finditer(r"-+", dashes)]
        if len(spans) < 3:
            break
        start, next_start = spans[1][0], spans[2][0]
        ok = True
        j = i + 3
        while j < len(lines) and lines[j] and not re.match(r"^\d+ unanswered", lines[j]):
            row = lines[j]
            cell = row[start:next_start]
            m = WAIT_CELL_RE.match(cell)
            posted = row[:16]
            created = parse_utc(posted.replace(" ", "T") + ":00Z")
            if not m or created is None:
                ok = False
                break
            a, ua, b, ub = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            secs = a * 86400 + b * 3600 if ua == "d" else a * 3600 + b * 60
            lo = t0 - (created + 60) - (3600 if ua == "d" else 60) - 2
            hi = t1 - created + 2
            if not (lo <= secs <= hi):
                ok = False
                break
            j += 1
        if not ok:
            break
        for k in range(i + 1, j):
            row = lines[k]
            out[k] = row[:start] + "<waiting>" + "  " + row[next_start:]
    return "\n".join(out).encode("utf-8", "surrogateescape")


INGEST_SECONDS_RE = re.compile(rb',"seconds":-?[0-9.eE+-]+')
INGEST_SUMMARY_RE = re.compile(rb"events in [0-9.]+ s, [0-9.]+ events/s")
SIM_SUMMARY_RE = re.compile(rb"in [0-9.]+ s \([0-9.]+ events/s\)")
LOG_TIME_RE = re.compile(rb"time=\S+")
LOG_MS_RE = re.compile(rb"duration_ms=[0-9.]+")
JLOG_TIME_RE = re.compile(rb'"time":"[^"]*"')
JLOG_MS_RE = re.compile(rb'"duration_ms":"?[0-9.]+"?')
METRIC_TIMING_RE = re.compile(rb"^(levee_\w+_duration_seconds_(?:bucket|sum)\S*) \S+$", re.M)
METRIC_COMMITS_RE = re.compile(rb"^(levee_commit_duration_seconds_count\S*) \S+$", re.M)


def norm_ingest(out, err):
    return INGEST_SECONDS_RE.sub(b"", out), INGEST_SUMMARY_RE.sub(b"events in <T> s, <R> events/s", err)


def norm_sim_summary(out, err):
    return out, SIM_SUMMARY_RE.sub(b"in <T> s (<R> events/s)", err)


def norm_serve_log(data):
    data = LOG_TIME_RE.sub(b"time=<T>", data)
    data = LOG_MS_RE.sub(b"duration_ms=<T>", data)
    data = JLOG_TIME_RE.sub(b'"time":"<T>"', data)
    return JLOG_MS_RE.sub(b'"duration_ms":"<T>"', data)


def split_serve_log(data):
    """The other messages in their order, then the access log (a line per request) sorted: a
    request's line is written when its connection completes, on whichever thread answered it
    (queries run on workers), so the order of those lines, and how they interleave with the
    other messages, depends on thread timing. A live
    tail's line says level=warn ended=early or level=info depending on whether the stream had
    ended when the daemon stopped: both become level=<info|warn>, without ended=."""
    access, other = [], []
    for line in data.split(b"\n"):
        if b" msg=request " in line or b'"msg":"request"' in line:
            if b"path=/api/tail" in line or b'"path":"/api/tail' in line:
                line = re.sub(rb"level=\w+", b"level=<info|warn>", line)
                line = re.sub(rb'"level":"\w+"', b'"level":"<info|warn>"', line)
                line = line.replace(b" ended=early", b"").replace(b',"ended":"early"', b"")
            access.append(line)
        else:
            other.append(line)
    return b"\n".join(other) + b"\n--- access log (sorted)\n" + b"\n".join(sorted(access))


def norm_metrics(data):
    data = METRIC_TIMING_RE.sub(rb"\1 <t>", data)
    return METRIC_COMMITS_RE.sub(rb"\1 <group commits>", data)


def b64url_json(part):
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    return json.loads(raw)


def norm_jwt_lines(out, err):
    """Signed simulate output: each JWT as header + claims, iat/exp checked and replaced."""
    lines = []
    for line in out.decode("ascii", "replace").splitlines():
        parts = line.split(".")
        if len(parts) != 3:
            lines.append("not a JWT: " + line)
            continue
        try:
            head, claims = b64url_json(parts[0]), b64url_json(parts[1])
        except (ValueError, UnicodeDecodeError) as e:
            lines.append("undecodable JWT: %s" % type(e).__name__)
            continue
        iat, exp = claims.get("iat"), claims.get("exp")
        if isinstance(iat, int) and isinstance(exp, int) and exp - iat == 3600:
            claims["iat"], claims["exp"] = "<iat>", "<iat + 3600>"
        lines.append(json.dumps(head, sort_keys=False) + " " + json.dumps(claims, sort_keys=False, ensure_ascii=False)
                     + " signature: %d bytes" % len(base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))))
    return ("\n".join(lines) + "\n").encode(), err


# ---------------------------------------------------------------------------------------------
# one side: a binary, its directory, its records

def check_binary(path, wait=120):
    """Waits (bounded) until path is an executable that answers --version; returns its bytes."""
    deadline = time.time() + wait
    last = "missing"
    tries = 0
    while True:
        try:
            with open(path, "rb") as f:
                data = f.read()
            r = subprocess.run([path, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=10)
            with open(path, "rb") as f:
                again = f.read()
            if r.returncode == 0 and r.stdout.startswith(b"levee") and again == data:
                return data
            last = "--version exited %d" % r.returncode
        except (OSError, subprocess.TimeoutExpired) as e:
            last = str(e)
        if time.time() > deadline:
            raise ToolError("%s is not a working levee binary (%s)" % (path, last))
        if tries % 5 == 0:
            log("waiting for %s (%s), at most %d s more" % (path, last, deadline - time.time()))
        tries += 1
        time.sleep(2)


class Side:
    def __init__(self, label, binary, root, corpus):
        self.label = label
        self.root = root
        self.dir = os.path.join(root, label)
        os.makedirs(self.dir)
        self.bin = os.path.join(self.dir, "levee")
        data = check_binary(binary)
        with open(self.bin, "wb") as f:
            f.write(data)
        os.chmod(self.bin, 0o755)
        self.sha256 = hashlib.sha256(data).hexdigest()
        os.symlink(corpus, os.path.join(self.dir, "corpus"))
        self.recdir = os.path.join(self.dir, "records")
        os.makedirs(self.recdir)
        self.items = {}
        self.order = []
        self.servers = []
        self.deadline = time.time() + SIDE_BUDGET

    # -- records
    def record(self, name, data):
        if name in self.items:
            n = 2
            while "%s #%d" % (name, n) in self.items:
                n += 1
            name = "%s #%d" % (name, n)
        path = os.path.join(self.recdir, "%04d" % len(self.order))
        with open(path, "wb") as f:
            f.write(data)
        self.items[name] = (hashlib.sha256(data).hexdigest(), path)
        self.order.append(name)

    def paths(self, data):
        return data.replace(self.dir.encode(), b"<SIDE>").replace(self.root.encode(), b"<ROOT>")

    # -- commands
    def run(self, args, stdin=None, timeout=CMD_TIMEOUT, env=None):
        """Runs levee (argv[0] "levee") in the side's directory: (status, stdout, stderr, t0, t1)."""
        t0 = time.time()
        timeout = max(1, min(timeout, int(self.deadline - t0)))
        kw = {}
        if isinstance(stdin, str):
            fin = open(os.path.join(self.dir, stdin), "rb")
            kw["stdin"] = fin
        else:
            fin = None
            kw["input"] = stdin if stdin is not None else b""
        try:
            p = subprocess.run(["levee"] + list(args), executable=self.bin, cwd=self.dir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, env=env, **kw)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout after %ss" % timeout, e.stdout or b"", e.stderr or b""
        finally:
            if fin:
                fin.close()
        return rc, out, err, t0, time.time()

    def cmd(self, args, name=None, stdin=None, norm=None, tnorm=None, files=(), timeout=CMD_TIMEOUT, anorm=None):
        """One item: a command's exit status, stdout and stderr (and files it wrote). norm(out, err)
        and tnorm(out, t0, t1) normalise the output, anorm(bytes) the command line shown."""
        rc, out, err, t0, t1 = self.run(args, stdin=stdin, timeout=timeout)
        out, err = self.paths(out), self.paths(err)
        if norm:
            out, err = norm(out, err)
        if tnorm:
            out = tnorm(out, t0, t1)
        data = [b"$ levee " + " ".join(shlex.quote(a) for a in args).encode()]
        if anorm:
            data[0] = anorm(data[0])
        if isinstance(stdin, str):
            data[0] += b" < " + stdin.encode()
        elif stdin:
            data[0] += b" < (%d bytes, sha256 %s)" % (len(stdin), hashlib.sha256(stdin).hexdigest().encode())
        data.append(b"exit status: " + str(rc).encode())
        data.append(b"--- stdout (%d bytes)" % len(out))
        data.append(out)
        data.append(b"--- stderr (%d bytes)" % len(err))
        data.append(err)
        for f in files:
            p = os.path.join(self.dir, f)
            try:
                with open(p, "rb") as fh:
                    content = self.paths(fh.read())
                data.append(b"--- file %s (%d bytes)" % (f.encode(), len(content)))
                data.append(content)
            except OSError as e:
                data.append(b"--- file %s: %s" % (f.encode(), type(e).__name__.encode()))
        self.record(name or label_of(args, stdin), b"\n".join(data))
        return rc, out, err

    def json_of(self, args):
        """A command's stdout as JSON (for discovery; not an item)."""
        rc, out, err, _, _ = self.run(args)
        try:
            return json.loads(out)
        except ValueError:
            raise ToolError("levee %s did not answer JSON (exit %s): %s" % (" ".join(args), rc, err[:300]))

    def lines_of(self, args):
        rc, out, err, _, _ = self.run(args)
        return [json.loads(l) for l in out.splitlines() if l.strip()]


def label_of(args, stdin=None):
    text = " ".join(a if len(a) < 60 else a[:57] + "..." for a in args)
    text = text.replace("corpus/", "")
    if isinstance(stdin, str):
        text += " < " + stdin.replace("corpus/", "")
    elif stdin is not None:
        text += " < (stdin)"
    return text


# ---------------------------------------------------------------------------------------------
# levee serve

class Server:
    def __init__(self, side, db, *args, name="serve"):
        self.side = side
        self.name = name
        self.log = []
        self.url = None
        self.port = None
        self.ok = False
        self.args = ["serve", "--db", db, "--listen", "127.0.0.1:0"] + list(args)
        self.proc = subprocess.Popen(["levee"] + self.args, executable=side.bin, cwd=side.dir,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        side.servers.append(self)
        self._started = threading.Event()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._started.wait(START_TIMEOUT) or self.proc.poll() is not None and not self.url:
            self.kill()
            return
        for line in self.log:
            if "msg=listening" in line or '"msg":"listening"' in line:
                try:
                    self.url = json.loads(line)["url"] if line.startswith("{") else \
                        re.search(r"url=(http://\S+)", line).group(1)
                except (ValueError, KeyError, AttributeError):
                    pass
        if not self.url:
            self.kill()
            return
        parsed = urllib.parse.urlparse(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        self.ok = True

    def _read_log(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.log.append(line)
            if "msg=listening" in line or '"msg":"listening"' in line:
                self._started.set()
        self._started.set()

    def norm(self, data):
        data = self.side.paths(data)
        if self.port:
            data = data.replace(b"127.0.0.1:%d" % self.port, b"127.0.0.1:<PORT>")
            data = data.replace(b"localhost:%d" % self.port, b"localhost:<PORT>")
        return data

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def item(self, method, path, body=None, headers=None, name=None, tnorm=None, bnorm=None):
        """One item: an HTTP answer's status, headers (but Date) and body."""
        label = name or "%s %s %s" % (self.name, method, path if len(path) < 90 else path[:87] + "...")
        if body is not None:
            label += " (%d bytes%s)" % (len(body), ", " + headers["Content-Type"] if headers and "Content-Type" in headers else "")
        if not self.ok:
            self.side.record(label, b"server did not start")
            return None, None
        t0 = time.time()
        try:
            status, reason, hdrs, data = self.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as e:
            self.side.record(label, b"%s %s\nrequest failed: %s" % (method.encode(), path.encode(),
                                                                      type(e).__name__.encode()))
            return None, None
        t1 = time.time()
        data = self.norm(data)
        if tnorm:
            data = tnorm(data, t0, t1)
        if bnorm:
            data = bnorm(data)
        out = [b"%s %s" % (method.encode(), path.encode()), b"status %d %s" % (status, reason.encode())]
        for k, v in hdrs:
            if k.lower() != "date":
                out.append(self.norm(("%s: %s" % (k, v)).encode("latin-1", "replace")))
        out.append(b"--- body (%d bytes)" % len(data))
        out.append(data)
        self.side.record(label, b"\n".join(out))
        return status, data

    def stop(self):
        """SIGTERM by pid, bounded wait; an item with the exit status and the normalised log."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            code = "did not stop within %ss of SIGTERM" % STOP_TIMEOUT
        self._reader.join(5)
        text = self.norm("\n".join(self.log).encode())
        text = split_serve_log(norm_serve_log(text))
        self.side.record("%s log and exit status" % self.name,
                         b"$ levee " + " ".join(self.args).encode() + b"\nexit status: " + str(code).encode()
                         + b"\n--- stderr\n" + text)
        return code

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


class Tail:
    """A raw GET /api/tail (HTTP/1.0: the stream is the body, until the connection closes)."""

    def __init__(self, server, query):
        self.server = server
        self.query = query
        self.buf = b""
        self.sock = None
        if not server.ok:
            return
        try:
            self.sock = socket.create_connection((server.host, server.port), timeout=HTTP_TIMEOUT)
            self.sock.sendall(b"GET /api/tail%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % query.encode())
            self.read_until(lambda b: b"\r\n\r\n" in b and b"retry:" in b, 5)
        except OSError:
            self.close()

    def read_until(self, done, timeout, idle=None):
        deadline = time.time() + timeout
        last = time.time()
        while self.sock and not done(self.buf) and time.time() < deadline:
            if idle and time.time() - last > idle:
                break
            r, _, _ = select.select([self.sock], [], [], 0.1)
            if r:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
                last = time.time()

    def events(self):
        return self.buf.count(b"\nid: ") + self.buf.startswith(b"id: ")

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def record(self, side, name):
        head, _, body = self.buf.partition(b"\r\n\r\n")
        lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"date:")]
        if b"transfer-encoding: chunked" in head.lower():
            body = dechunk(body)
        body = re.sub(rb"(?m)^: keepalive\n\n", b"", body)
        side.record(name, b"GET /api/tail%s\n" % self.query.encode() + self.server.norm(b"\n".join(lines))
                    + b"\n--- stream\n" + self.server.norm(body))


def dechunk(data):
    out, i = b"", 0
    while i < len(data):
        j = data.find(b"\r\n", i)
        if j < 0:
            break
        try:
            n = int(data[i:j].split(b";")[0], 16)
        except ValueError:
            break
        out += data[j + 2:j + 2 + n]
        i = j + 2 + n + 2
        if n == 0:
            break
    return out


# ---------------------------------------------------------------------------------------------
# the corpus

def compact(doc):
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def build_corpus(binary, cdir, want_events, days0):
    os.makedirs(cdir)
    bin_data = check_binary(binary)
    bpath = os.path.join(cdir, ".levee-corpus-builder")
    with open(bpath, "wb") as f:
        f.write(bin_data)
    os.chmod(bpath, 0o755)

    def sim(args):
        p = subprocess.run([bpath, "simulate", "-q"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CMD_TIMEOUT)
        if p.returncode != 0:
            raise ToolError("levee simulate %s failed: %s" % (" ".join(args), p.stderr.decode()[:500]))
        return p.stdout

    days = days0
    while True:
        out = sim(SIM + ["--days", str(days)])
        lines = out.splitlines(keepends=True)
        if len(lines) >= want_events or days >= 3660:
            break
        days = min(3660, max(days + 1, math.ceil(days * want_events / max(1, len(lines)) * 1.05)))
    lines = lines[:want_events]
    with open(os.path.join(cdir, "sim.ndjson"), "wb") as f:
        f.writelines(lines)
    with open(os.path.join(cdir, "head.ndjson"), "wb") as f:
        f.writelines(lines[:3000])
    cal_days = max(1, min(days, 3))
    with open(os.path.join(cdir, "caliper.ndjson"), "wb") as f:
        f.write(sim(SIM + ["--days", str(cal_days), "--format", "caliper"]))
    with open(os.path.join(cdir, "caliper2.ndjson"), "wb") as f:
        f.write(sim(["--seed", "8", "--courses", "2", "--users", "60", "--days", "5", "--format", "caliper"]))

    # the fixture files, as they are
    for d in FIXTURE_DIRS:
        src = os.path.join(FIXTURES, d)
        if not os.path.isdir(src):
            raise ToolError("no fixtures at %s" % src)
        shutil.copytree(src, os.path.join(cdir, "fixtures", d))
    # the example payloads of Canvas's documentation, one per line
    examples = []
    for path in sorted(glob.glob(os.path.join(cdir, "fixtures", "canvas-docs", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for ex in doc.get("examples") or []:
            if isinstance(ex, dict) and "payload" in ex:
                examples.append(ex["payload"])
    with open(os.path.join(cdir, "docs-examples.ndjson"), "wb") as f:
        for ex in examples:
            f.write(compact(ex) + b"\n")
    canvas_entry = next(e for e in examples if isinstance(e, dict) and
                        e.get("metadata", {}).get("event_name") == "discussion_entry_created")
    with open(os.path.join(cdir, "entry.json"), "wb") as f:
        f.write(json.dumps(canvas_entry, indent=2, ensure_ascii=False).encode() + b"\n")
    caliper_env = next(e for e in examples if isinstance(e, dict) and "data" in e)
    with open(os.path.join(cdir, "caliper-entry.json"), "wb") as f:
        f.write(compact(caliper_env) + b"\n")

    # hand-made bad lines
    docs = [json.loads(l) for l in lines[:400]]
    entries = [i for i, d in enumerate(docs) if d.get("metadata", {}).get("event_name") == "discussion_entry_created"]
    e0 = json.loads(lines[entries[0]])

    def mutated(path, value, delete=False, base=e0):
        d = json.loads(json.dumps(base))
        cur = d
        parts = path.split("/")
        for p in parts[:-1]:
            cur = cur[p]
        if delete:
            del cur[parts[-1]]
        else:
            cur[parts[-1]] = value
        return compact(d)

    big = json.loads(json.dumps(e0))
    big["body"]["text"] = "<p>" + "oversized " * 110000 + "</p>"
    bad = [
        b"this is not JSON at all",
        b'{"metadata": {"event_name": "discussion_entry_created", "event_time": "yesterday"}, "body": {}}',
        mutated("body/discussion_entry_id", "12abc"),
        mutated("body/user_id", 12.5),
        mutated("body/discussion_topic_id", "99999999999999999999999"),
        mutated("metadata/event_time", "2024-02-30T10:00:00Z"),
        mutated("metadata/event_time", "2024-09-03 10:00:00"),
        mutated("body/discussion_topic_id", None, delete=True),
        compact(big),                                   # > 1,000,000 bytes
        lines[0].rstrip(b"\n"),                         # a duplicate of the corpus's first line
        mutated("body/user_id", 12.5),                  # a duplicate of a bad line above
        lines[1].rstrip(b"\n") + b"\r",                 # a CRLF line
        b"[1, 2, 3]",
        b'"just a string"',
        b"",
        b"   ",
        b'{"metadata":{"event_name":"asset_accessed","event_time":"2024-09-03T10:00:00Z",'
        b'"root_account_id":"70350000000000001"},"body":{"asset_id":"1","asset_type":"course"}}',
        mutated("body/favourite_colour", "blue"),                     # an unknown field: warning
        mutated("metadata/context_role", "WizardEnrollment"),         # unknown enumeration value
        mutated("body/text", "<p>" + "long text " * 900 + "</p>"),    # over 8192 characters
        mutated("metadata/event_time", "2024-09-03T12:00:00.5+02:00"),
        mutated("body/discussion_entry_id", "4242"),                  # a local id
        json.dumps(canvas_entry, indent=2).encode(),                  # pretty-printed, several lines
        b'{"sensor":"x","sendTime":"2024-09-03T10:00:00Z","dataVersion":"http://purl.imsglobal.org/ctx/caliper/v1p0","data":[]}',
        b'{"sensor":"x","sendTime":"2024-09-03T10:00:00Z","dataVersion":"http://purl.imsglobal.org/ctx/caliper/v1p1","data":[{"type":"MessageEvent"}]}',
        b'{"metadata":{"event_name":"discussion_entry_created"',    # truncated, at the end
    ]
    with open(os.path.join(cdir, "bad.ndjson"), "wb") as f:
        for l in bad:
            f.write(l + (b"\n" if not l.endswith(b"\r") else b"\n"))
    with open(os.path.join(cdir, "oversized.json"), "wb") as f:
        f.write(compact(big))

    # documents to POST to a fresh server
    posts = {
        "canvas": compact(canvas_entry),
        "pretty": json.dumps(canvas_entry, indent=2).encode(),
        "caliper": compact(caliper_env),
        "batch": b"".join(lines[100:160]) + b"{oops\n" + lines[160],
        "bad": mutated("body/created_at", "2019-07-03 23:12:34"),
        "outside": open(os.path.join(cdir, "fixtures", "caliper-spec-v1p1", "caliperEventMessagePosted.json"), "rb").read(),
        "envelope-batch": open(os.path.join(cdir, "fixtures", "caliper-spec-v1p1", "caliperEnvelopeEventBatch.json"), "rb").read(),
        "oversized": compact(big),
        "docs-batch": open(os.path.join(cdir, "docs-examples.ndjson"), "rb").read(),
        "bad-lines": open(os.path.join(cdir, "bad.ndjson"), "rb").read(),
    }
    with open(os.path.join(cdir, "posts.json"), "w") as f:
        json.dump({k: base64.b64encode(v).decode() for k, v in posts.items()}, f)

    # an RSA key and signed events for the --jwks server
    signed = False
    if shutil.which("openssl"):
        key = os.path.join(cdir, "key.pem")
        p = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", key], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        if p.returncode == 0:
            r = subprocess.run([bpath, "simulate", "--print-jwks", "--sign-key", key, "--kid", "k1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
            r2 = subprocess.run([bpath, "simulate", "-q", "--seed", "5", "--courses", "1", "--users", "4",
                                 "--days", "1", "--sign-key", key, "--kid", "k1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
            r3 = subprocess.run([bpath, "simulate", "-q", "--seed", "5", "--courses", "1", "--users", "4",
                                 "--days", "1", "--sign-key", key, "--kid", "other"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_TIMEOUT)
            if r.returncode == 0 and r2.returncode == 0 and r3.returncode == 0 and r2.stdout:
                with open(os.path.join(cdir, "jwks.json"), "wb") as f:
                    f.write(r.stdout)
                with open(os.path.join(cdir, "signed.jwt"), "wb") as f:
                    f.write(r2.stdout)
                with open(os.path.join(cdir, "signed-other-kid.jwt"), "wb") as f:
                    f.write(r3.stdout)
                signed = True
    os.remove(bpath)
    info = {"days": days, "events": len(lines), "caliper_days": cal_days, "signed": signed,
            "fixtures": sorted(os.path.relpath(p, cdir) for p in glob.glob(os.path.join(cdir, "fixtures", "**", "*"),
                                                                           recursive=True) if os.path.isfile(p))}
    with open(os.path.join(cdir, "info.json"), "w") as f:
        json.dump(info, f)
    return info


# ---------------------------------------------------------------------------------------------
# the script run on each side

def ingest_items(side, info):
    C = "corpus/"
    main = [C + "sim.ndjson", C + "caliper.ndjson", C + "caliper2.ndjson", C + "docs-examples.ndjson"] + \
           ["corpus/" + p for p in info["fixtures"]] + [C + "bad.ndjson"]
    side.cmd(["ingest", "--db", "store.db", "--json"] + main, name="ingest (the whole corpus) --json",
             norm=norm_ingest)
    side.cmd(["ingest", "--db", "store.db", C + "docs-examples.ndjson", C + "caliper.ndjson"],
             name="ingest again (duplicates)", norm=norm_ingest)
    side.cmd(["ingest", "--db", "stdin.db", "--json", "-"], stdin=C + "bad.ndjson", norm=norm_ingest)
    side.cmd(["ingest", "--db", "strict.db", "--strict", "--json", C + "docs-examples.ndjson", C + "bad.ndjson",
              C + "caliper2.ndjson"], norm=norm_ingest)
    side.cmd(["ingest", "--db", "quiet.db", "-q", C + "head.ndjson"], norm=norm_ingest)
    side.cmd(["ingest", "--db", "no/such/dir/x.db", C + "head.ndjson"], norm=norm_ingest)
    side.cmd(["ingest", "--db", "missing-input.db", C + "no-such-file.ndjson"], norm=norm_ingest)
    side.cmd(["ingest", "--bogus"], norm=norm_ingest)


def discover(side):
    """Ids to ask about, found in the (old side's) store."""
    ids = {}
    courses = [c["course_id"] for c in side.json_of(["query", "courses", "--db", "store.db", "--json"])["courses"]]
    ids["courses"] = courses
    ids["events"] = sorted(side.json_of(["stats", "--db", "store.db", "--json"]).get("by_event", {}).keys())
    topics = []
    course_docs = {}
    for c in courses:
        d = side.json_of(["query", "course", c, "--db", "store.db", "--json", "--limit", "100000", "--now", NOW])
        course_docs[c] = d
        for t in d.get("topics", []):
            topics.append((t.get("entries") or 0, t["discussion_topic_id"], t.get("workflow_state"),
                           t.get("is_announcement"), c))
    by_size = sorted(topics, key=lambda t: (-t[0], t[1]))
    chosen = []

    def add(lst, v):
        if v and v not in lst:
            lst.append(v)
    for t in by_size[:2]:
        add(chosen, t[1])
    add(chosen, next((t[1] for t in by_size if t[2] == "deleted"), None))
    add(chosen, next((t[1] for t in by_size if t[3]), None))
    add(chosen, next((t[1] for t in reversed(by_size) if t[0] > 0), None))
    updated = side.lines_of(["export", "--db", "store.db", "--event", "discussion_topic_updated"])
    if updated:
        add(chosen, updated[0].get("body", {}).get("discussion_topic_id"))
    ids["topics"] = chosen
    ids["largest_topic"] = by_size[0][1] if by_size else None
    ids["largest_course"] = courses[0] if courses else None
    convs = [d.get("body", {}).get("conversation_id") for d in
             side.lines_of(["export", "--db", "store.db", "--event", "conversation_created"])]
    convs = [c for c in convs if c]
    cs = []
    for c in (convs[:1] + convs[len(convs) // 2:len(convs) // 2 + 1] + convs[-1:]):
        add(cs, c)
    fwd = side.lines_of(["export", "--db", "store.db", "--event", "conversation_forwarded"])
    if fwd:
        add(cs, fwd[0].get("body", {}).get("conversation_id"))
    ids["conversations"] = cs
    users = []
    if ids["largest_topic"]:
        t = side.json_of(["query", "topic", ids["largest_topic"], "--db", "store.db", "--json"])
        add(users, (t.get("topic") or {}).get("created_by"))
        ents = t.get("entries") or []
        if ents:
            add(users, ents[0].get("user_id"))
            add(users, ents[-1].get("user_id"))
    if courses:
        un = course_docs[courses[0]].get("unanswered") or []
        if un:
            add(users, un[0].get("user_id"))
    msgs = side.lines_of(["export", "--db", "store.db", "--event", "conversation_message_created"])
    if msgs:
        add(users, msgs[0].get("body", {}).get("author_id"))
    ids["users"] = users
    words = []
    for t in by_size[:1]:
        title = next((x["title"] for x in course_docs[t[4]]["topics"] if x["discussion_topic_id"] == t[1]), "")
        for w in re.findall(r"[^\W\d_]{5,}", title):
            add(words, w.lower())
    ids["words"] = words[:2]
    return ids


def local(i):
    """The local form of a global id (shard * 10^13 + local)."""
    return str(int(i) % 10 ** 13)


def cli_items(side, info, ids):
    C = "corpus/"
    fixtures = ["corpus/" + p for p in info["fixtures"]]
    # help, version, unknown commands
    side.cmd(["--help"])
    side.cmd(["-h"])
    side.cmd(["--version"])
    side.cmd([])
    side.cmd(["help"])
    side.cmd(["frobnicate"])
    side.cmd(["help", "frobnicate"])
    for c in COMMANDS:
        side.cmd(["help", c])
        side.cmd([c, "--help"])
    side.cmd(["query", "-h"])
    side.cmd(["catalog"])
    side.cmd(["catalog", "extra"])

    # validate / normalize
    inputs = [C + "sim.ndjson", C + "caliper.ndjson", C + "caliper2.ndjson", C + "docs-examples.ndjson",
              C + "bad.ndjson", C + "entry.json"]
    for f in inputs:
        for extra in ([], ["--json"], ["--strict"]):
            side.cmd(["validate"] + extra + [f])
    side.cmd(["validate", "-q", C + "bad.ndjson"])
    side.cmd(["validate", "--strict", "--json", C + "bad.ndjson", C + "docs-examples.ndjson"])
    side.cmd(["validate"] + fixtures, name="validate (every fixture file)")
    side.cmd(["validate", "--json"] + fixtures, name="validate --json (every fixture file)")
    side.cmd(["validate", "--strict"] + fixtures, name="validate --strict (every fixture file)")
    side.cmd(["validate"], stdin=C + "bad.ndjson")
    side.cmd(["validate", "-", C + "entry.json"], stdin=C + "docs-examples.ndjson")
    side.cmd(["validate", C + "no-such-file.ndjson"])
    side.cmd(["validate", "--bogus"])
    for f in inputs:
        side.cmd(["normalize", f])
    side.cmd(["normalize", "--json", C + "bad.ndjson"])
    side.cmd(["normalize", "--strict", C + "bad.ndjson"])
    side.cmd(["normalize", "--strict", "--json", C + "docs-examples.ndjson"])
    side.cmd(["normalize", "-q", C + "caliper.ndjson"])
    side.cmd(["normalize"] + fixtures, name="normalize (every fixture file)")
    side.cmd(["normalize"], stdin=C + "caliper2.ndjson")

    # convert
    side.cmd(["convert", "--to", "caliper", C + "head.ndjson"])
    side.cmd(["convert", "--to", "caliper", C + "docs-examples.ndjson"])
    side.cmd(["convert", "--to", "caliper", "--pretty", C + "docs-examples.ndjson"])
    side.cmd(["convert", "--to", "caliper", C + "caliper2.ndjson"])
    side.cmd(["convert", "--to", "caliper", "--json", C + "bad.ndjson"])
    side.cmd(["convert", "--to", "caliper", "--strict", C + "bad.ndjson"])
    side.cmd(["convert", "--to", "caliper", C + "entry.json"])
    side.cmd(["convert", "--to", "canvas", C + "caliper.ndjson"])
    side.cmd(["convert", "--to", "canvas", C + "caliper2.ndjson"])
    side.cmd(["convert", "--to", "canvas", "--pretty", C + "caliper-entry.json"])
    side.cmd(["convert", "--to", "canvas", C + "docs-examples.ndjson"])
    side.cmd(["convert", "--to", "canvas", C + "head.ndjson"])
    side.cmd(["convert", "--to", "canvas", C + "bad.ndjson"])
    side.cmd(["convert", "--to", "canvas"] + [f for f in fixtures if "caliper-spec" in f],
             name="convert --to canvas (every caliper-spec fixture)")
    side.cmd(["convert", "--to", "caliper"] + [f for f in fixtures if "canvas-docs" in f],
             name="convert --to caliper (every canvas-docs fixture)")
    rc, out, err = side.cmd(["convert", "--to", "caliper", "-q", C + "docs-examples.ndjson"])
    side.cmd(["convert", "--to", "canvas"], stdin=out, name="convert --to canvas < (its own --to caliper output)")
    side.cmd(["convert", C + "entry.json"])
    side.cmd(["convert", "--to", "xml", C + "entry.json"])

    # simulate
    days = str(info["days"])
    side.cmd(["simulate"] + SIM + ["--days", days], name="simulate (the corpus command)", norm=norm_sim_summary)
    side.cmd(["simulate"] + SIM + ["--days", str(info["caliper_days"]), "--format", "caliper"],
             name="simulate --format caliper (the corpus slice)", norm=norm_sim_summary)
    side.cmd(["simulate"], norm=norm_sim_summary)
    side.cmd(["simulate", "-q", "--seed", "3", "--courses", "2", "--users", "20", "--days", "2", "--start", "2025-01-06"],
             norm=norm_sim_summary)
    side.cmd(["simulate", "--seed", "4", "--courses", "1", "--users", "10", "--days", "2",
              "--start", "2024-09-02T08:00:00-05:00", "--format", "caliper"], norm=norm_sim_summary)
    side.cmd(["simulate", "--seed", "9", "--courses", "3", "--users", "40", "--days", "3", "--to", "sim-out.ndjson"],
             norm=norm_sim_summary, files=["sim-out.ndjson"])
    for bad in (["--courses", "0"], ["--users", "1"], ["--days", "0"], ["--format", "xml"], ["--seed", "x"],
                ["--start", "tomorrow"], ["--bogus"], ["--sign-key", "corpus/no-such-key.pem", "--kid", "k"],
                ["--print-jwks"]):
        side.cmd(["simulate", "--days", "1"] + bad, norm=norm_sim_summary)
    if info["signed"]:
        side.cmd(["simulate", "--print-jwks", "--sign-key", C + "key.pem", "--kid", "k1"])
        side.cmd(["simulate", "--seed", "5", "--courses", "1", "--users", "4", "--days", "1",
                  "--sign-key", C + "key.pem", "--kid", "k1"],
                 norm=lambda o, e: norm_sim_summary(*norm_jwt_lines(o, e)))

    # stats
    for db in ("store.db", "stdin.db", "strict.db", "quiet.db"):
        side.cmd(["stats", "--db", db])
        side.cmd(["stats", "--db", db, "--json"])
    side.cmd(["stats", "--db", "no-such-store.db"])
    side.cmd(["stats", "--db", "store.db", "extra"])
    side.cmd(["stats", "--db", "store.db", "--bogus"])

    # export
    side.cmd(["export", "--db", "store.db"])
    side.cmd(["export", "--db", "store.db", "--dead-letters"])
    side.cmd(["export", "--db", "strict.db", "--dead-letters"])
    side.cmd(["export", "--db", "stdin.db"])
    side.cmd(["export", "--db", "stdin.db", "--dead-letters"])
    for e in ids["events"] + ["no_such_event"]:
        side.cmd(["export", "--db", "store.db", "--event", e])
    side.cmd(["export", "--db", "store.db", "--since", "2024-09-10"])
    side.cmd(["export", "--db", "store.db", "--until", "2024-09-04"])
    side.cmd(["export", "--db", "store.db", "--since", "2024-09-05T12:00:00+02:00", "--until", "2024-09-06T00:00:00Z"])
    side.cmd(["export", "--db", "store.db", "--since", "2019-01-01", "--until", "2020-01-01"])
    for c in ids["courses"][:3]:
        side.cmd(["export", "--db", "store.db", "--course", c])
    if ids["largest_course"]:
        c = ids["largest_course"]
        side.cmd(["export", "--db", "store.db", "--course", local(c)])
        side.cmd(["export", "--db", "store.db", "--course", c, "--event", "discussion_entry_created",
                  "--since", "2024-09-05", "--until", "2024-09-12"])
    side.cmd(["export", "--db", "store.db", "--course", "99999999"])
    side.cmd(["export", "--db", "store.db", "--course", "abc"])
    side.cmd(["export", "--db", "store.db", "--since", "yesterday"])
    side.cmd(["export", "--db", "store.db", "--dead-letters", "--event", "discussion_entry_created"])
    side.cmd(["export", "--db", "no-such-store.db"])
    side.cmd(["export", "--db", "store.db", "extra"])

    # query
    side.cmd(["query", "courses", "--db", "store.db"])
    side.cmd(["query", "courses", "--db", "store.db", "--json"])
    side.cmd(["query", "courses", "--db", "strict.db", "--json"])
    for i, c in enumerate(ids["courses"]):
        side.cmd(["query", "course", c, "--db", "store.db", "--now", NOW])
        side.cmd(["query", "course", c, "--db", "store.db", "--json", "--now", NOW])
        if i < 2:
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--limit", "100000", "--now", NOW])
            side.cmd(["query", "course", c, "--db", "store.db", "--since", "2024-09-05", "--until", "2024-09-12"])
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--since", "2024-09-05", "--until", "2024-09-12"])
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--until", "2024-09-20", "--limit", "5", "--offset", "3"])
            side.cmd(["query", "course", c, "--db", "store.db", "--limit", "5", "--offset", "10", "--now", NOW])
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--since", "2024-09-15T00:00:00-07:00", "--now", NOW])
            side.cmd(["query", "course", local(c), "--db", "store.db", "--json", "--now", NOW])
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--offset", "100000", "--now", NOW])
            side.cmd(["query", "course", c, "--db", "store.db", "--json", "--limit", "0", "--now", NOW])
    if ids["largest_course"]:
        c = ids["largest_course"]
        side.cmd(["query", "course", c, "--db", "store.db"], tnorm=norm_waiting_table,
                 name="query course %s (waiting until now)" % c)
        side.cmd(["query", "course", c, "--db", "store.db", "--json"], tnorm=norm_waiting_json,
                 name="query course %s --json (waiting until now)" % c)
        for bad in (["--limit", "x"], ["--limit", "100001"], ["--offset", "-1"], ["--since", "2024-13-01"],
                    ["--until", "noon"], ["--course", c], ["--bogus"]):
            side.cmd(["query", "course", c, "--db", "store.db"] + bad)
    for t in ids["topics"]:
        side.cmd(["query", "topic", t, "--db", "store.db"])
        side.cmd(["query", "topic", t, "--db", "store.db", "--json"])
    if ids["topics"]:
        side.cmd(["query", "topic", local(ids["topics"][0]), "--db", "store.db", "--json"])
    for cv in ids["conversations"]:
        side.cmd(["query", "conversation", cv, "--db", "store.db"])
        side.cmd(["query", "conversation", cv, "--db", "store.db", "--json"])
    if ids["conversations"]:
        side.cmd(["query", "conversation", local(ids["conversations"][0]), "--db", "store.db"])
    for i, u in enumerate(ids["users"]):
        side.cmd(["query", "user", u, "--db", "store.db"])
        side.cmd(["query", "user", u, "--db", "store.db", "--json"])
        if i < 2:
            side.cmd(["query", "user", u, "--db", "store.db", "--json", "--since", "2024-09-05", "--until", "2024-09-20"])
            side.cmd(["query", "user", u, "--db", "store.db", "--limit", "3", "--offset", "2"])
            side.cmd(["query", "user", u, "--db", "store.db", "--json", "--limit", "3", "--offset", "2"])
            side.cmd(["query", "user", local(u), "--db", "store.db", "--json"])
    for what in ("topic", "conversation", "course", "user"):
        side.cmd(["query", what, "99999999", "--db", "store.db"])
        side.cmd(["query", what, "99999999", "--db", "store.db", "--json"])
        side.cmd(["query", what, "abc", "--db", "store.db"])
        side.cmd(["query", what, "--db", "store.db"])
    side.cmd(["query", "topic", "99999999999999999999999", "--db", "store.db"])
    side.cmd(["query", "topic", "-5", "--db", "store.db"])
    side.cmd(["query", "topic", "1", "2", "--db", "store.db"])
    side.cmd(["query", "courses", "extra", "--db", "store.db"])
    side.cmd(["query", "entries", "1", "--db", "store.db"])
    side.cmd(["query"])
    side.cmd(["query", "courses", "--db", "no-such-store.db"])
    side.cmd(["query", "topic", ids["topics"][0] if ids["topics"] else "1", "--db", "no-such-store.db"])

    # search
    words = ids["words"] + ["canción", "cancion", '"muddiest point"', "subj*", "reflection", "entropy",
                            "xyzzyplughquux"]
    for w in words:
        side.cmd(["search", w, "--db", "store.db"])
        side.cmd(["search", w, "--db", "store.db", "--json"])
    c = ids["largest_course"] or "1"
    for w in words[:3]:
        side.cmd(["search", w, "--db", "store.db", "--course", c])
        side.cmd(["search", w, "--db", "store.db", "--course", local(c), "--json"])
    side.cmd(["search", "the", "study", "--db", "store.db", "--json", "--limit", "7", "--offset", "5"])
    side.cmd(["search", "the", "--db", "store.db", "--since", "2024-09-10", "--until", "2024-09-12", "--limit", "20"])
    side.cmd(["search", "photosynthesis", "--db", "store.db", "--json"])
    side.cmd(["search", "--db", "store.db"])
    side.cmd(["search", "the", "--db", "store.db", "--course", "abc"])
    side.cmd(["search", "the", "--db", "store.db", "--course", "99999999", "--json"])
    side.cmd(["search", "the", "--db", "store.db", "--limit", "many"])
    side.cmd(["search", "!!!", "--db", "store.db", "--json"])
    side.cmd(["search", "the", "--db", "no-such-store.db"])


def crawl_links(body, base):
    """Local files a page or script links: href/src, CSS url(), JS import ... from '...'."""
    text = body.decode("utf-8", "replace")
    found = re.findall(r'(?:href|src)="([^"#][^"]*)"', text)
    found += re.findall(r"""(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{0,2}/[^'"\s]+)['"]""", text)
    found += re.findall(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""", text)
    out = []
    for f in found:
        if f.startswith(("http:", "https:", "data:", "mailto:", "//")) or not re.match(r"^[\w./-]+$", f):
            continue
        path = urllib.parse.urljoin(base, f).split("#")[0].split("?")[0]
        if path.startswith("/") and path not in out:
            out.append(path)
    return out


def api_items(srv, ids, side):
    """Every GET of docs/api.md on the ingested store."""
    srv.item("GET", "/healthz")
    srv.item("GET", "/readyz")
    srv.item("GET", "/api/stats")
    srv.item("GET", "/api/courses")
    srv.item("GET", "/api/courses/")
    for i, c in enumerate(ids["courses"]):
        srv.item("GET", "/api/courses/%s?now=%s" % (c, NOW))
        if i < 2:
            srv.item("GET", "/api/courses/%s?now=%s&limit=100000" % (c, NOW))
            srv.item("GET", "/api/courses/%s?since=2024-09-05&until=2024-09-12" % c)
            srv.item("GET", "/api/courses/%s?until=2024-09-20&limit=5&offset=3" % c)
            srv.item("GET", "/api/courses/%s?since=2024-09-15T00:00:00-07:00&now=%s" % (c, NOW))
            srv.item("GET", "/api/courses/%s?now=%s" % (local(c), NOW))
    if ids["largest_course"]:
        c = ids["largest_course"]
        srv.item("GET", "/api/courses/%s" % c, tnorm=norm_waiting_json,
                 name="serve GET /api/courses/%s (waiting until now)" % c)
        for q in ("limit=x", "limit=100001", "offset=-3", "since=2024-13-01", "until=noon", "now=later"):
            srv.item("GET", "/api/courses/%s?%s" % (c, q))
    for t in ids["topics"]:
        srv.item("GET", "/api/topics/%s" % t)
    if ids["topics"]:
        srv.item("GET", "/api/topics/%s" % local(ids["topics"][0]))
    for cv in ids["conversations"]:
        srv.item("GET", "/api/conversations/%s" % cv)
    if ids["conversations"]:
        srv.item("GET", "/api/conversations/%s" % local(ids["conversations"][0]))
    for i, u in enumerate(ids["users"]):
        srv.item("GET", "/api/users/%s" % u)
        if i < 2:
            srv.item("GET", "/api/users/%s?since=2024-09-05&until=2024-09-20" % u)
            srv.item("GET", "/api/users/%s?limit=3&offset=2" % u)
            srv.item("GET", "/api/users/%s" % local(u))
    if ids["users"]:
        srv.item("GET", "/api/users/%s?limit=-1" % ids["users"][0])
    for what in ("courses", "topics", "conversations", "users"):
        srv.item("GET", "/api/%s/99999999" % what)
        srv.item("GET", "/api/%s/abc" % what)
        srv.item("GET", "/api/%s/99999999999999999999999" % what)
    srv.item("GET", "/api/topics/")
    srv.item("GET", "/api/topics/1/2")
    words = ids["words"] + ["canción", "cancion", '"muddiest point"', "subj*", "xyzzyplughquux"]
    c = ids["largest_course"] or "1"
    for w in words:
        q = urllib.parse.quote(w)
        srv.item("GET", "/api/search?q=%s" % q)
    for w in words[:2]:
        q = urllib.parse.quote(w)
        srv.item("GET", "/api/search?q=%s&course=%s" % (q, c))
        srv.item("GET", "/api/search?q=%s&course=%s&limit=5&offset=2" % (q, local(c)))
    srv.item("GET", "/api/search?q=the&since=2024-09-10&until=2024-09-12&limit=20")
    srv.item("GET", "/api/search?q=the+study&limit=7&offset=5")
    srv.item("GET", "/api/search")
    srv.item("GET", "/api/search?q=")
    srv.item("GET", "/api/search?q=the&course=abc")
    srv.item("GET", "/api/search?q=the&course=99999999")
    srv.item("GET", "/api/search?q=the&limit=many")
    srv.item("GET", "/api/search?q=the&since=yesterday")
    srv.item("GET", "/api/nope")
    srv.item("GET", "/api/")
    srv.item("GET", "/api/tail?course=abc")
    srv.item("GET", "/nothing-here.js")
    srv.item("GET", "/index.html")
    srv.item("HEAD", "/api/stats")
    srv.item("POST", "/api/stats", body=b"{}", headers={"Content-Type": "application/json"})
    srv.item("DELETE", "/api/courses")
    srv.item("PUT", "/")
    srv.item("GET", "/events")
    # the web page and every file it links, following links and imports
    queue, seen = ["/"], []
    while queue and len(seen) < 100:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.append(path)
        status, body = srv.item("GET", path, name="serve GET %s (web page)" % path)
        if status == 200 and body:
            for p in crawl_links(body, path):
                if p not in seen and p not in queue:
                    queue.append(p)
    side.record("web page: the files it links", "\n".join(seen).encode())
    time.sleep(0.2)   # the last request is counted once its answer has been sent
    srv.item("GET", "/metrics", bnorm=norm_metrics)


def wait_applied(side, db, target):
    """Until the store holds target documents (events + duplicates + dead letters), by asking the
    command line (no HTTP request, so the server's counters do not depend on the wait)."""
    deadline = time.time() + APPLY_TIMEOUT
    last, stable_since = None, time.time()
    while time.time() < deadline:
        rc, out, err, _, _ = side.run(["stats", "--db", db, "--json"], timeout=30)
        try:
            st = json.loads(out)
            n = st["events"] + st["duplicates"] + st["dead_letters"]
        except (ValueError, KeyError, TypeError):
            n, st = -1, None
        if n >= target:
            return
        if out != last:
            last, stable_since = out, time.time()
        elif time.time() - stable_since > 5:
            return
        time.sleep(0.1)


def serve_items(side, info, ids):
    posts = {k: base64.b64decode(v) for k, v in json.load(open(os.path.join(side.dir, "corpus", "posts.json"))).items()}

    # 1. the ingested store
    srv = Server(side, "store.db", name="serve store.db")
    side.record("serve store.db: listening line",
                srv.norm(norm_serve_log(b"\n".join(l.encode() for l in srv.log[:1]))))
    api_items(srv, ids, side)
    srv.stop()
    side.cmd(["stats", "--db", "store.db", "--json"], name="stats --db store.db --json (after serve)")

    # 2. a fresh store receiving events
    srv = Server(side, "post.db", name="serve post.db")
    srv.item("GET", "/readyz")
    srv.item("GET", "/api/stats")
    srv.item("GET", "/api/courses")
    tails = [Tail(srv, ""), Tail(srv, "?event=discussion_entry_created"),
             Tail(srv, "?event=discussion_topic_created&course=21070000000000565")]
    js = {"Content-Type": "application/json"}
    nd = {"Content-Type": "application/x-ndjson"}
    target = tail_target = 0
    plan = [("canvas", js), ("canvas", js), ("pretty", {"Content-Type": "text/plain"}), ("caliper", js),
            ("batch", nd), ("bad", js), ("outside", js), ("envelope-batch", js), ("oversized", js),
            ("oversized", nd), ("docs-batch", nd), ("docs-batch", js), ("bad-lines", nd)]
    for key, headers in plan:
        status, body = srv.item("POST", "/events", body=posts[key], headers=headers,
                                name="serve post.db POST /events %s (%s)" % (key, headers["Content-Type"]))
        try:
            a = json.loads(body)
            target += a.get("accepted", 0) + len(a.get("rejected", []))
            tail_target += a.get("accepted", 0)
        except (TypeError, ValueError, AttributeError):
            pass
    for body, headers, what in ((b"", js, "empty"), (b" \n\t ", js, "whitespace"), (b"hello", js, "not JSON"),
                                (b"{not json", js, "broken JSON"), (b"aaa.bbb.ccc", js, "a JWT without --jwks"),
                                (b"\x00\x01binary", {"Content-Type": "application/octet-stream"}, "binary")):
        srv.item("POST", "/events", body=body, headers=headers, name="serve post.db POST /events %s" % what)
    srv.item("GET", "/events")
    srv.item("PUT", "/events", body=posts["canvas"], headers=js)
    if srv.ok:
        rc, out, err = side.cmd(["simulate", "--seed", "11", "--courses", "1", "--users", "6", "--days", "1",
                                 "--to", srv.url.rstrip("/") + "/events"],
                                name="simulate --to URL (serve post.db)",
                                norm=lambda o, e: norm_sim_summary(srv.norm(o), srv.norm(e)), anorm=srv.norm)
        sent = sum(1 for _ in side.run(["simulate", "-q", "--seed", "11", "--courses", "1", "--users", "6",
                                        "--days", "1"])[1].splitlines())
        target += sent
        tail_target += sent
    tails[0].read_until(lambda b: tails[0].events() >= tail_target, 10, idle=2)
    # the filtered streams: as many of the event as the unfiltered one got (the course filter: until idle)
    n_entries = tails[0].buf.count(b"\nevent: discussion_entry_created\n")
    tails[1].read_until(lambda b: b.count(b"\nevent: discussion_entry_created\n") >= n_entries, 10, idle=3)
    tails[2].read_until(lambda b: False, 5, idle=1.5)
    wait_applied(side, "post.db", target)
    time.sleep(0.2)
    srv.item("GET", "/metrics", bnorm=norm_metrics)
    for i, t in enumerate(tails):
        t.close()
        t.record(side, "serve post.db GET /api/tail%s (live tail)" % t.query)
    srv.item("GET", "/api/stats")
    srv.item("GET", "/api/courses")
    srv.item("GET", "/api/courses/21070000000000565?now=%s" % NOW)
    srv.item("GET", "/api/topics/123456")
    srv.item("GET", "/api/search?q=photosynthesis")
    srv.stop()
    side.cmd(["stats", "--db", "post.db", "--json"])
    side.cmd(["export", "--db", "post.db"])
    side.cmd(["export", "--db", "post.db", "--dead-letters"])
    # the journal was applied on stop: a restart has nothing to replay
    srv = Server(side, "post.db", name="serve post.db (restarted)")
    side.record("serve post.db (restarted): listening line",
                srv.norm(norm_serve_log(b"\n".join(l.encode() for l in srv.log[:1]))))
    srv.item("GET", "/readyz")
    srv.item("GET", "/api/stats")
    srv.stop()

    # 3. tokens (JSON logs, no access log)
    srv = Server(side, "tokens.db", "--ingest-token", "in-secret", "--api-token", "api-secret",
                 "--log-format", "json", "--access-log", "false", name="serve tokens.db")
    srv.item("GET", "/healthz")
    srv.item("GET", "/readyz")
    srv.item("GET", "/api/stats")
    srv.item("GET", "/api/stats?token=wrong")
    srv.item("GET", "/api/stats?token=in-secret")
    srv.item("GET", "/api/stats", headers={"Authorization": "Bearer wrong"},
             name="serve tokens.db GET /api/stats (Bearer wrong)")
    srv.item("GET", "/metrics")
    srv.item("GET", "/api/tail")
    srv.item("GET", "/")
    srv.item("POST", "/events", body=posts["canvas"], headers=js, name="serve tokens.db POST /events (no token)")
    srv.item("POST", "/events?token=api-secret", body=posts["canvas"], headers=js)
    srv.item("POST", "/events?token=in-secret", body=posts["canvas"], headers=js)
    srv.item("POST", "/events", body=posts["caliper"], headers=dict(js, Authorization="Bearer in-secret"),
             name="serve tokens.db POST /events caliper (Bearer in-secret)")
    wait_applied(side, "tokens.db", 2)
    srv.item("GET", "/api/stats?token=api-secret")
    srv.item("GET", "/api/topics/123456", headers={"Authorization": "Bearer api-secret"},
             name="serve tokens.db GET /api/topics/123456 (Bearer api-secret)")
    srv.stop()

    # 4. signed events
    if info["signed"]:
        srv = Server(side, "signed.db", "--jwks", "corpus/jwks.json", "--require-signature", name="serve signed.db")
        jwts = open(os.path.join(side.dir, "corpus", "signed.jwt"), "rb").read().split()
        other = open(os.path.join(side.dir, "corpus", "signed-other-kid.jwt"), "rb").read().split()
        text = {"Content-Type": "application/jwt"}
        for i, j in enumerate(jwts[:5]):
            srv.item("POST", "/events", body=j, headers=text, name="serve signed.db POST /events signed #%d" % i)
        if jwts:
            srv.item("POST", "/events", body=jwts[0], headers=text, name="serve signed.db POST /events signed again")
            h, c, s = jwts[0].split(b".")
            srv.item("POST", "/events", body=h + b"." + c + b"." + s[::-1], headers=text,
                     name="serve signed.db POST /events bad signature")
            srv.item("POST", "/events", body=b"eyJhbGciOiJIUzI1NiJ9." + c + b"." + s, headers=text,
                     name="serve signed.db POST /events HS256 header")
        if other:
            srv.item("POST", "/events", body=other[0], headers=text, name="serve signed.db POST /events unknown kid")
        srv.item("POST", "/events", body=posts["canvas"], headers=js, name="serve signed.db POST /events unsigned")
        srv.stop()
        side.cmd(["stats", "--db", "signed.db", "--json"])
        side.cmd(["query", "courses", "--db", "signed.db", "--json"])
    side.cmd(["stats", "--db", "tokens.db", "--json"])
    side.cmd(["export", "--db", "tokens.db"])


def run_side(side, info, ids_holder):
    ingest_items(side, info)
    if ids_holder.get("ids") is None:
        ids_holder["ids"] = discover(side)
    ids = ids_holder["ids"]
    cli_items(side, info, ids)
    serve_items(side, info, ids)


# ---------------------------------------------------------------------------------------------
# comparing

def first_difference(a_path, b_path, context=3, max_lines=40):
    with open(a_path, "rb") as f:
        a = f.read().decode("utf-8", "replace").split("\n")
    with open(b_path, "rb") as f:
        b = f.read().decode("utf-8", "replace").split("\n")
    i = 0
    n = min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    lo = max(0, i - context)

    def cut(l):
        return l if len(l) <= 300 else l[:300] + "...(%d chars)" % len(l)
    wa = [cut(l) for l in a[lo:i + 12]]
    wb = [cut(l) for l in b[lo:i + 12]]
    if i < n and (len(a[i]) > 300 or len(b[i]) > 300):
        # a long line (JSON): show it around its first differing character
        c = next((k for k in range(min(len(a[i]), len(b[i]))) if a[i][k] != b[i][k]), min(len(a[i]), len(b[i])))
        s0 = max(0, c - 100)
        wa[i - lo] = "...(from char %d) %s ...(%d chars)" % (s0, a[i][s0:c + 200], len(a[i]))
        wb[i - lo] = "...(from char %d) %s ...(%d chars)" % (s0, b[i][s0:c + 200], len(b[i]))
    diff = list(difflib.unified_diff(wa, wb, "old", "new", lineterm="", n=context))
    # line numbers of the window are relative: say where it starts
    out = ["    (first difference at line %d of the record)" % (i + 1)]
    out += ["    " + l for l in diff[:max_lines]]
    if len(diff) > max_lines:
        out.append("    ... (diff truncated)")
    return "\n".join(out)


def compare(old, new, verbose):
    names = list(old.order) + [n for n in new.order if n not in old.items]
    same = different = 0
    diffs = []
    for name in names:
        a, b = old.items.get(name), new.items.get(name)
        if a and b and a[0] == b[0]:
            same += 1
            print("same       %s" % name)
            continue
        different += 1
        diffs.append(name)
        why = "" if a and b else " (only on the %s side)" % ("old" if a else "new")
        print("DIFFERENT  %s%s" % (name, why))
        if verbose and a and b:
            print(first_difference(a[1], b[1]))
    return same, different, diffs


def main():
    ap = argparse.ArgumentParser(description="Compare the outputs of two levee binaries (see the docstring).")
    ap.add_argument("--old", required=True, help="the reference binary (e.g. /work/baseline/levee)")
    ap.add_argument("--new", required=True, help="the binary under development (e.g. build/levee)")
    ap.add_argument("--events", type=int, default=40000, help="events in the simulated corpus (default 40000)")
    ap.add_argument("--days", type=int, default=20, help="days simulated to start with (default 20)")
    ap.add_argument("--keep", metavar="DIR", help="keep everything under DIR (created; must not exist)")
    ap.add_argument("-v", "--verbose", action="store_true", help="a unified diff of each difference")
    args = ap.parse_args()
    if args.events < 1000:
        ap.error("--events must be at least 1000")
    start = time.time()
    if args.keep:
        if os.path.exists(args.keep) and (not os.path.isdir(args.keep) or os.listdir(args.keep)):
            ap.error("--keep %s: it exists and is not an empty directory" % args.keep)
        root = os.path.abspath(args.keep)
        os.makedirs(root, exist_ok=True)
    else:
        root = tempfile.mkdtemp(prefix="levee-compare-")
    root = os.path.realpath(root)
    sides = []
    code = 2
    try:
        for binary in (args.old, args.new):    # both usable (bounded wait) before any work
            check_binary(os.path.abspath(binary))
        log("corpus: building with %s ..." % args.old)
        info = build_corpus(os.path.abspath(args.old), os.path.join(root, "corpus"), args.events, args.days)
        log("corpus: %d events (%d days), %d fixture files%s" % (info["events"], info["days"], len(info["fixtures"]),
                                                                ", signed events" if info["signed"] else ""))
        ids_holder = {}
        for label, binary in (("old", args.old), ("new", args.new)):
            t = time.time()
            side = Side(label, os.path.abspath(binary), root, os.path.join(root, "corpus"))
            sides.append(side)
            log("%s: %s (sha256 %s)" % (label, binary, side.sha256[:16]))
            run_side(side, info, ids_holder)
            log("%s: %d items in %.1f s" % (label, len(side.order), time.time() - t))
        same, different, diffs = compare(sides[0], sides[1], args.verbose)
        elapsed = time.time() - start
        print()
        print("summary: %d items compared: %d same, %d DIFFERENT (old %s, new %s; corpus %d events; %.0f s)"
              % (same + different, same, different, args.old, args.new, info["events"], elapsed))
        if different:
            print("different: " + "; ".join(diffs[:20]) + (" ..." if len(diffs) > 20 else ""))
        code = 0 if different == 0 else 1
    except ToolError as e:
        print("compare_outputs: %s" % e, file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("compare_outputs: interrupted", file=sys.stderr)
        code = 2
    except Exception:
        import traceback
        traceback.print_exc()
        code = 2
    finally:
        for side in sides:
            for s in side.servers:
                s.kill()
        if args.keep:
            log("kept: %s" % root)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
