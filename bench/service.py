"""service.py: issue 4's benchmark: durable events per second through `levee serve`, single events POSTed
over keep-alive connections by wrk (64 connections, 2 threads, bench/post.lua: every request a distinct
event), side by side in the same run with the floor: the same HTTP library (libmicrohttpd, configured
as levee configures it) answering 204 without doing anything (bench/floor_http.c), and a second
baseline: the same program holding each request until its body is written and fsynced in groups.
Then the same over HTTPS (issue 15): `levee serve --tls-cert --tls-key` against the TLS floor, the
same program answering 204 over libmicrohttpd's TLS with the same certificate (an EC P-256 key made
with openssl in bench/out/tls/) and levee's protocol and cipher priorities.

Each server is measured `runs` times, alternating the baselines and levee, each run on a fresh store; the best
run counts. wrk runs on the same 2-core machine as the server, so both compete with it for the CPUs
alike. After each levee run the server is stopped with SIGTERM (which applies its journal to the store)
and the store is checked: every request that got a 2xx must be stored, none twice."""
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

from harness import BenchError, Check, Observe, Section, log, num, ratio, remove_store, run_checked, table

CONNECTIONS = 64
THREADS = 2
DURATION_S = 15
QUICK_DURATION_S = 3
WARMUP_S = 2
EVENTS_TARGET = 40_000
FLOOR_SHARE = 0.5
TLS_FLOOR_SHARE = 0.5


def build_floor(ctx):
    build = os.path.dirname(os.path.abspath(ctx.built))
    path = os.path.join(build, "bench", "floor_http")
    subprocess.run(["make", "--no-print-directory", "-s", "-C", ctx.root, "BUILD=" + build, path], check=True,
                   stdout=subprocess.DEVNULL)
    return path


class Server:
    """A server process started by this benchmark, on 127.0.0.1 with a port the kernel chose; stopped by
    its pid."""

    def __init__(self, argv, ready, timeout=30):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.port = None
        deadline = time.monotonic() + timeout
        stream = self.proc.stdout if ready == "stdout" else self.proc.stderr
        while time.monotonic() < deadline:
            line = stream.readline().decode("utf-8", "replace")
            if not line:
                break
            m = re.search(r"listening (\d+)", line) or re.search(r"url=https?://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.proc.kill()
            self.proc.wait()
            raise BenchError("`%s` did not start listening" % " ".join(argv))
        # the rest of the server's output is drained so that it never blocks on a full pipe
        self.rest = subprocess.Popen(["cat"], stdin=stream, stdout=subprocess.DEVNULL)

    def stop(self, timeout=300):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise BenchError("the server did not stop within %d s of SIGTERM" % timeout)
        self.rest.wait()
        return code


RUNS = [0]  # wrk runs so far: each gets its own number, so its events are new to the server
RUNS_LOCK = threading.Lock()  # wrk runs may start at once (bench/pg.py's two nodes)


def tls_files(ctx):
    """A self-signed certificate for 127.0.0.1 and its key (EC P-256, as certbot makes by default), made
    with openssl once per benchmark run; wrk does not verify certificates."""
    d = os.path.join(ctx.out_dir, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    run_checked(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1", "-days", "2",
                 "-addext", "subjectAltName=IP:127.0.0.1"], label="openssl")
    os.chmod(key, 0o600)
    return cert, key


def negotiated(port):
    """The TLS version and cipher an OpenSSL client with default settings (as wrk is) agrees on."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # wrk does not verify either
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            return "%s with %s" % (tls.version(), tls.cipher()[0])


def wrk(ctx, port, seconds, scheme="http", connections=CONNECTIONS, threads=THREADS, path=None):
    """wrk for `seconds`: POSTs of distinct events (bench/post.lua, a new run number each time), or GETs of
    `path` when given; its figures."""
    with RUNS_LOCK:
        RUNS[0] += 1
        run = RUNS[0]
    argv = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency"]
    if path is None:
        argv += ["-s", os.path.join(ctx.root, "bench", "post.lua"), "%s://127.0.0.1:%d/events" % (scheme, port), "--",
                 str(run)]
    else:
        argv.append("%s://127.0.0.1:%d%s" % (scheme, port, path))
    with Observe() as o:
        out = run_checked(argv, label="wrk").stdout.decode()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = wrk_latency(out)
    shown = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency"]
    shown += (["-s", "bench/post.lua", "%s://127.0.0.1:PORT/events" % scheme] if path is None
              else ["'%s://127.0.0.1:PORT%s'" % (scheme, path)])
    return {"requests": requests, "rate": rate, "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else "", "latency_ms": lat, "others": o.others,
            "elapsed": o.elapsed, "command": " ".join(shown)}


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_latency(out):
    """wrk's latency figures in ms: mean, stdev and max from its thread stats, and the 50/90/99th
    percentiles from --latency."""
    lat = {}
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", out)
    if m:
        lat["mean"] = float(m.group(1)) * UNIT_MS[m.group(2)]
        lat["stdev"] = float(m.group(3)) * UNIT_MS[m.group(4)]
        lat["max"] = float(m.group(5)) * UNIT_MS[m.group(6)]
    for q in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % q, out, re.M)
        if m:
            lat[q] = float(m.group(1)) * UNIT_MS[m.group(2)]
    return lat


def run_floor(ctx, floor, seconds, durable=False, tls=None):
    argv = [floor, "--tls", *tls, "0"] if tls else [floor, "0"]
    scheme = "https" if tls else "http"
    if durable:
        journal = os.path.join(ctx.out_dir, "floor-journal")
        argv.append(journal)
    server = Server(argv, "stdout")
    try:
        wrk(ctx, server.port, WARMUP_S, scheme)
        r = wrk(ctx, server.port, seconds, scheme)
    finally:
        server.stop()
        if durable:
            os.unlink(journal)
    return r


def run_levee(ctx, seconds, tls=None):
    db = os.path.join(ctx.out_dir, "http.db")
    remove_store(db)
    subprocess.run(["rm", "-rf", db + ".journal"], check=True)
    argv = [ctx.levee, "serve", "--db", db, "--listen", "127.0.0.1:0", "--access-log", "false"]
    if tls:
        argv += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    scheme = "https" if tls else "http"
    server = Server(argv, "stderr")
    try:
        warm = wrk(ctx, server.port, WARMUP_S, scheme)
        r = wrk(ctx, server.port, seconds, scheme)
        if tls:
            r["tls"] = negotiated(server.port)
    except BaseException:
        server.proc.kill()
        server.proc.wait()
        raise
    t0 = time.monotonic()
    code = server.stop()
    r["stop_s"] = time.monotonic() - t0
    if code != 0:
        raise BenchError("levee serve exited with %d after SIGTERM" % code)
    stats = json.loads(run_checked([ctx.levee, "stats", "--json", "--db", db], label="levee stats").stdout)
    ok = warm["requests"] - warm["non2xx"] + r["requests"] - r["non2xx"]
    stored = stats["events"]
    if stored < ok or stats["duplicates"] != 0:
        raise BenchError("levee serve answered 2xx to %d events but the store holds %d (%d duplicates)"
                         % (ok, stored, stats["duplicates"]))
    r["stored"] = stored
    r["acknowledged"] = ok
    return r


def run(ctx):
    floor = build_floor(ctx)
    seconds = QUICK_DURATION_S if ctx.quick else DURATION_S
    tls = tls_files(ctx)
    results = {"floor": [], "durable": [], "levee": [], "floor_tls": [], "durable_tls": [], "levee_tls": []}
    for i in range(max(ctx.runs, 1)):
        log("HTTP floor [%d]: wrk %d s" % (i + 1, seconds))
        results["floor"].append(run_floor(ctx, floor, seconds))
        log("HTTP floor [%d]: %.0f requests/s" % (i + 1, results["floor"][-1]["rate"]))
        log("HTTP floor with group-committed fsync [%d]: wrk %d s" % (i + 1, seconds))
        results["durable"].append(run_floor(ctx, floor, seconds, durable=True))
        log("HTTP floor with group-committed fsync [%d]: %.0f requests/s" % (i + 1, results["durable"][-1]["rate"]))
        log("levee serve [%d]: wrk %d s" % (i + 1, seconds))
        results["levee"].append(run_levee(ctx, seconds))
        r = results["levee"][-1]
        log("levee serve [%d]: %.0f durable events/s, p99 %.1f ms; %d stored"
            % (i + 1, r["rate"], r["latency_ms"].get("99", float("nan")), r["stored"]))
        log("HTTPS floor [%d]: wrk %d s" % (i + 1, seconds))
        results["floor_tls"].append(run_floor(ctx, floor, seconds, tls=tls))
        log("HTTPS floor [%d]: %.0f requests/s" % (i + 1, results["floor_tls"][-1]["rate"]))
        log("HTTPS floor with group-committed fsync [%d]: wrk %d s" % (i + 1, seconds))
        results["durable_tls"].append(run_floor(ctx, floor, seconds, durable=True, tls=tls))
        log("HTTPS floor with group-committed fsync [%d]: %.0f requests/s"
            % (i + 1, results["durable_tls"][-1]["rate"]))
        log("levee serve over HTTPS [%d]: wrk %d s" % (i + 1, seconds))
        results["levee_tls"].append(run_levee(ctx, seconds, tls=tls))
        r = results["levee_tls"][-1]
        log("levee serve over HTTPS [%d]: %.0f durable events/s, p99 %.1f ms; %d stored"
            % (i + 1, r["rate"], r["latency_ms"].get("99", float("nan")), r["stored"]))
    for name, rs in results.items():
        bad = [r for r in rs if r["non2xx"] or r["socket_errors"]]
        if bad:
            raise BenchError("%s: %d responses were not 2xx (socket errors: %s)"
                             % (name, bad[0]["non2xx"], bad[0]["socket_errors"] or "none"))
    best = {name: max(rs, key=lambda r: r["rate"]) for name, rs in results.items()}
    lv, fl = best["levee"], best["floor"]
    share = lv["rate"] / fl["rate"]
    lv_tls, fl_tls = best["levee_tls"], best["floor_tls"]
    tls_share = lv_tls["rate"] / fl_tls["rate"]

    rows = []
    for name, label, what in (("floor", "floor: libmicrohttpd answering 204 (`bench/floor_http.c`)",
                               "requests/s"),
                              ("durable", "baseline: the floor holding each request until its body is written "
                                          "and fsynced, in groups (`floor_http PORT FILE`)", "requests/s"),
                              ("levee", "`levee serve`: decoded, validated, journaled durably, then stored",
                               "durable events/s"),
                              ("floor_tls", "HTTPS: TLS floor: libmicrohttpd answering 204 over TLS "
                                            "(`floor_http --tls CERT KEY PORT`)", "requests/s"),
                              ("durable_tls", "HTTPS: baseline: the TLS floor holding each request until its body "
                                              "is written and fsynced (`floor_http --tls CERT KEY PORT FILE`)",
                               "requests/s"),
                              ("levee_tls", "HTTPS: `levee serve --tls-cert --tls-key`: the same work over TLS",
                               "durable events/s")):
        b = best[name]
        lat = b["latency_ms"]
        rows.append([label, num(b["rate"]), ", ".join(num(r["rate"]) for r in results[name]),
                     "%.2f" % lat.get("50", float("nan")), "%.2f" % lat.get("90", float("nan")),
                     "%.2f" % lat.get("99", float("nan")), "%.0f%%" % (100 * b["others"] / b["elapsed"])])
    body = ("Each request POSTs one distinct `discussion_entry_created` event in canvas format (%s bytes of "
            "JSON, as Canvas sends it: full metadata, an entry of realistic length), over %d keep-alive "
            "connections from %d wrk threads, for %d s after a %d s warm-up; the command is `%s`. A 2xx from "
            "levee means the event is durable: its journal record was fsynced (many requests share one fsync); "
            "the store is written from the journal in the background. The floor is the same HTTP library, "
            "configured as levee configures it, answering 204 without reading what it was sent; the second "
            "baseline is the same program appending each body to a file and answering once a committer "
            "thread has written and fdatasync'ed it (one write and fsync for all the bodies waiting, as "
            "levee's journal does). The servers are measured alternately, %d times each, the best run counting; wrk shares the 2 CPUs with "
            "the server it measures, in both cases. After each levee run the server was stopped with SIGTERM "
            "(it applies the rest of its journal to the store: %.1f s in the best run) and `levee stats` "
            "checked that every acknowledged event was stored once (best run: %s acknowledged, %s stored, "
            "0 duplicates).\n\n"
            % (num(post_bytes(ctx)), CONNECTIONS, THREADS, seconds, WARMUP_S, lv["command"], max(ctx.runs, 1),
               lv["stop_s"], num(lv["acknowledged"]), num(lv["stored"])))
    body += table(["server", "best /s", "runs /s", "p50 ms", "p90 ms", "p99 ms", "others' CPU"], rows,
                  ["---", "--:", "--:", "--:", "--:", "--:", "--:"])
    durable = best["durable"]["rate"]
    body += ("\nlevee reaches %s of the floor's rate, and %s of the floor's rate with nothing added but "
             "durability (the second baseline: what is left between it and levee is levee's own work per "
             "request: decoding, validating, journal records, metrics).\n" % (ratio(share), ratio(lv["rate"] / durable)))
    body += ("\nOver HTTPS (an OpenSSL client with default settings, as wrk is, and levee agree on %s; the "
             "handshakes happen once per connection, in the warm-up), levee reaches %s of the TLS floor's rate, "
             "%s of the TLS floor's rate with nothing added but durability, and %s of its own rate over plain "
             "HTTP; the TLS floor reaches %s of the plain floor's.\n"
             % (lv_tls["tls"], ratio(tls_share), ratio(lv_tls["rate"] / best["durable_tls"]["rate"]), ratio(lv_tls["rate"] / lv["rate"]),
                ratio(fl_tls["rate"] / fl["rate"])))
    checks = [
        Check(4, "`levee serve` at least %s durable events/s (64 connections)" % num(EVENTS_TARGET),
              "%s events/s, p99 %.1f ms" % (num(lv["rate"]), lv["latency_ms"].get("99", float("nan"))),
              lv["rate"] >= EVENTS_TARGET),
        Check(4, "`levee serve` at least half the floor's rate",
              "%s (%s vs %s requests/s)" % (ratio(share), num(lv["rate"]), num(fl["rate"])), share >= FLOOR_SHARE),
        Check(15, "`levee serve` over HTTPS at least half the TLS floor's rate (64 connections)",
              "%s (%s durable events/s vs %s requests/s)" % (ratio(tls_share), num(lv_tls["rate"]), num(fl_tls["rate"])),
              tls_share >= TLS_FLOOR_SHARE),
    ]
    return Section("Service: durable events per second over HTTP and HTTPS (issues 4 and 15)", body, checks)


def post_bytes(ctx):
    """The size of one request body post.lua sends (the event with its id filled in)."""
    return len(_sample_body(ctx).encode())


def _sample_body(ctx):
    with open(os.path.join(ctx.root, "bench", "post.lua")) as f:
        src = f.read()
    parts = re.findall(r"'((?:[^'\\]|\\.)*)'", src[src.index("local template"):src.index("local headers")])
    template = "".join(parts).replace("\\\\", "\\")
    return template.replace("%03d", "000").replace("%012d", "0" * 12).replace("%d", "100000001")
