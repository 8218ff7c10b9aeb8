"""deliver.py: issue 13's benchmark: subscriptions delivering stored events onward.

1. Deliveries per second: a store holding N events of the corpus (`levee ingest`), S subscriptions
   added with --from-start and --parallel P to one loopback target answering 204 (bench/target_204.c),
   then `levee deliver --db` timed from its start until the target has received N*S POSTs; side by
   side in the same run with the floor (bench/floor_deliver.c: the same N bodies POSTed S times through
   libcurl multi, P in flight per "subscription", nothing else), timed the same way, for S = 1 and 16.
   The target's own ceiling (wrk, 64 connections) shows it is not what limits either. Each delivery
   is bounded by a time limit: a run that has not finished by then counts what the target received.
2. Time from acknowledgement to delivery: `levee serve` with one subscription to the target, and a
   client (floor_deliver --rate) POSTing one event per request at a steady 2,000 per second over
   several connections; for each event, the time the target received it less the time the client
   had its 2xx answer (both CLOCK_REALTIME on this machine; events matched by a hash of the body,
   which the canvas form delivers byte for byte as received).
"""
import json
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

from harness import BenchError, Check, Section, log, machine_busy, num, ratio, remove_store, run_checked, self_cpu, table
from service import Server

# P: requests in flight per subscription. 16 rather than the default 4: a backfill to a fast target is
# the case where a user raises it, and the floor with 16 in flight is at the target's ceiling
# (with 4 it is not: each answer's round trip is then part of what is measured).
PARALLEL = 16
SUBS = (1, 16)
EVENTS = {1: 50_000, 16: 10_000}          # per subscription: N*S deliveries in each run
QUICK_EVENTS = {1: 5_000, 16: 1_000}
TIME_LIMIT_S = 60                        # a run not finished by then counts what was received
QUICK_TIME_LIMIT_S = 15
FLOOR_SHARE = 0.7

LAT_RATE = 2000                          # events per second
LAT_SECONDS = 20
QUICK_LAT_SECONDS = 4
LAT_CONNECTIONS = 8
LAT_P99_MS = 50
LAT_DRAIN_S = 30                         # after the client is done, how long to wait for the last deliveries


def tools(ctx):
    build = os.path.dirname(os.path.abspath(ctx.built))
    paths = [os.path.join(build, "bench", name) for name in ("floor_deliver", "target_204")]
    subprocess.run(["make", "--no-print-directory", "-s", "-C", ctx.root, "BUILD=" + build] + paths, check=True,
                   stdout=subprocess.DEVNULL)
    return paths


def bodies(ctx, n, name):
    """The first n events of the corpus (simulated ones: the generated thread comes after them), one a line."""
    path = os.path.join(ctx.out_dir, name)
    with open(ctx.corpus.path, "rb") as src, open(path, "wb") as out:
        for i, line in enumerate(src):
            if i == n:
                break
            out.write(line)
        else:
            raise BenchError("deliver: the corpus has fewer than %d events" % n)
    return path


def base_store(ctx, n, path_bodies):
    db = os.path.join(ctx.out_dir, "deliver-base-%d.db" % n)
    remove_store(db)
    run_checked([ctx.levee, "ingest", "-q", "--db", db, path_bodies], label="levee ingest")
    stats = json.loads(run_checked([ctx.levee, "stats", "--json", "--db", db], label="levee stats").stdout)
    if stats["events"] != n:
        raise BenchError("deliver: the store holds %d events of the %d ingested" % (stats["events"], n))
    return db


def copy_store(base, path):
    """A fresh copy of the base store (SQLite's backup API: consistent whatever the WAL holds)."""
    remove_store(path)
    src, dst = sqlite3.connect(base), sqlite3.connect(path)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


class Target:
    """target_204 on a free port, started and stopped by its pid."""

    def __init__(self, exe, expect=0, log_path=None):
        argv = [exe, "0"] + (["--expect", str(expect)] if expect else []) + (["--log", log_path] if log_path else [])
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening "):
            self.proc.kill()
            self.proc.wait()
            raise BenchError("deliver: the target did not start")
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d/" % self.port

    def reached(self, deadline):
        """The time (Unix seconds) the expected POST arrived, or None at the deadline."""
        fd = self.proc.stdout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                line = fd.readline().decode()
                if not line:
                    raise BenchError("deliver: the target stopped")
                if line.startswith("reached "):
                    return int(line.split()[2]) / 1e6

    def count(self):
        with urllib.request.urlopen(self.url + "count", timeout=10) as r:
            return int(r.read())

    def stop(self):
        """Stops it; returns its CPU seconds."""
        self.proc.send_signal(signal.SIGTERM)
        cpu = reap(self.proc)
        self.proc.stdout.close()
        if self.proc.returncode != 0:
            raise BenchError("deliver: the target exited with %d" % self.proc.returncode)
        return cpu


def reap(proc):
    """Waits for a child and returns its CPU seconds (user + system)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def others_since(m0, s0, own_cpu, elapsed):
    m1, s1 = machine_busy(), self_cpu()
    if m0 is None or m1 is None:
        return 0.0
    return max(0.0, (m1 - m0) - (s1 - s0) - own_cpu) / max(elapsed, 1e-9)


def run_levee(ctx, target_exe, base, s, n, limit):
    db = os.path.join(ctx.out_dir, "deliver.db")
    copy_store(base, db)
    target = Target(target_exe, expect=n * s)
    try:
        for _ in range(s):
            run_checked([ctx.levee, "subscriptions", "add", "--db", db, "--url", target.url, "--from-start",
                         "--parallel", str(PARALLEL), "--json"], label="levee subscriptions add")
        m0, s0 = machine_busy(), self_cpu()
        t0 = time.time()
        proc = subprocess.Popen([ctx.levee, "deliver", "--db", db, "-q"], stdin=subprocess.DEVNULL)
        t1 = target.reached(t0 + limit)
        done = t1 is not None
        if not done:
            t1 = time.time()
        received = target.count()
        proc.send_signal(signal.SIGTERM)
        cpu = reap(proc)
        elapsed = time.time() - t0
        if proc.returncode != 0:
            raise BenchError("deliver: levee deliver exited with %d" % proc.returncode)
        subs = json.loads(run_checked([ctx.levee, "subscriptions", "list", "--json", "--db", db],
                                      label="levee subscriptions list").stdout)["subscriptions"]
    finally:
        target_cpu = target.stop()
    others = others_since(m0, s0, cpu + target_cpu, elapsed)
    delivered = sum(x["counts"]["delivered"] for x in subs)
    failed = sum(x["counts"]["failed_attempts"] for x in subs)
    if failed or (done and any(x["counts"]["delivered"] != n for x in subs)):
        raise BenchError("deliver: after the run the subscriptions count %d delivered and %d failed attempts, "
                         "expected %d each and none failed" % (delivered, failed, n))
    seconds = t1 - t0
    return {"seconds": seconds, "received": received, "done": done, "rate": (n * s if done else received) / seconds,
            "cpu": cpu, "others": others, "recorded": delivered, "target_cpu": target_cpu}


def run_floor(ctx, floor_exe, target_exe, path_bodies, s, n, limit):
    target = Target(target_exe, expect=n * s)
    try:
        argv = [floor_exe, "--subs", str(s), "--parallel", str(PARALLEL), target.url, path_bodies, str(n)]
        m0, s0 = machine_busy(), self_cpu()
        t0 = time.time()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        t1 = target.reached(t0 + limit)
        err = proc.stderr.read().decode()
        cpu = reap(proc)
        elapsed = time.time() - t0
        if proc.returncode != 0 or t1 is None:
            raise BenchError("deliver: the floor failed (exit %d): %s" % (proc.returncode, err.strip()))
    finally:
        target_cpu = target.stop()
    others = others_since(m0, s0, cpu + target_cpu, elapsed)
    seconds = t1 - t0
    return {"seconds": seconds, "rate": n * s / seconds, "cpu": cpu, "others": others, "done": True,
            "target_cpu": target_cpu,
            "command": ctx.command([floor_exe, "--subs", str(s), "--parallel", str(PARALLEL), "http://127.0.0.1:PORT/",
                                    path_bodies, str(n)])}


def target_ceiling(ctx, target_exe, seconds):
    """The target's own rate under wrk (2 threads, 64 connections, bench/post.lua's bodies)."""
    target = Target(target_exe)
    try:
        out = run_checked(["wrk", "-t2", "-c64", "-d%ds" % seconds, "-s", os.path.join(ctx.root, "bench", "post.lua"),
                           target.url + "events"], label="wrk").stdout.decode()
    finally:
        target.stop()
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


STAGE_FAMILIES = (("levee_event_stage_seconds", "stage"), ("levee_store_step_seconds", "step"),
                  ("levee_delivery_step_seconds", "step"))


def histogram_quantile(buckets, q):
    """The q-quantile (0..1) of cumulative Prometheus buckets [(le, count)], interpolated within its
    bucket as Prometheus' histogram_quantile does; for the last (+Inf) bucket, its lower bound."""
    total = buckets[-1][1] if buckets else 0
    if not total:
        return 0.0
    rank, lo, below = q * total, 0.0, 0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lo
            return lo + (le - lo) * (rank - below) / max(count - below, 1)
        lo, below = le, count
    return lo


def stage_quantiles(metrics):
    """{(family, label): {"n", "p50", "p99", "top"}} in ms from levee serve's /metrics (the time of each
    stage of an event's way, and of the steps that hold up the applier and the delivery thread); top is
    the upper bound of the highest non-empty bucket."""
    raw = {}
    for line in metrics.splitlines():
        for family, key in STAGE_FAMILIES:
            if line.startswith(family + "_bucket{"):
                label = line.split(key + '="', 1)[1].split('"', 1)[0]
                le = line.split('le="', 1)[1].split('"', 1)[0]
                raw.setdefault((family, label), []).append((float("inf") if le == "+Inf" else float(le),
                                                             int(float(line.rsplit(" ", 1)[1]))))
    out = {}
    for k, buckets in raw.items():
        buckets.sort()
        n = buckets[-1][1] if buckets else 0
        top, prev = 0.0, 0
        for le, count in buckets:
            if count > prev:
                top = le
            prev = count
        out[k] = {"n": n, "p50": 1000 * histogram_quantile(buckets, 0.5), "p99": 1000 * histogram_quantile(buckets, 0.99),
                  "top": 1000 * top}
    return out


def thread_times(pid):
    """{thread name: (CPU seconds, seconds runnable but waiting for a CPU)} of a process's threads over
    their lives (/proc/PID/task/TID/schedstat; threads of one name added up): how long the scheduler
    kept each stage's thread from running on this shared machine. {} where the kernel keeps no
    schedstat."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                run_ns, wait_ns = [int(x) for x in f.read().split()[:2]]
        except (OSError, ValueError):
            continue
        cpu, wait = out.get(name, (0.0, 0.0))
        out[name] = (cpu + run_ns / 1e9, wait + wait_ns / 1e9)
    return out


def run_latency(ctx, floor_exe, target_exe, seconds):
    m = LAT_RATE * seconds
    path_bodies = bodies(ctx, m, "deliver-latency.ndjson")
    db = os.path.join(ctx.out_dir, "deliver-latency.db")
    remove_store(db)
    shutil.rmtree(db + ".journal", ignore_errors=True)
    tlog, clog = os.path.join(ctx.out_dir, "deliver-target.log"), os.path.join(ctx.out_dir, "deliver-client.log")
    target = Target(target_exe, log_path=tlog)
    try:
        run_checked([ctx.levee, "subscriptions", "add", "--db", db, "--url", target.url, "--parallel", str(PARALLEL),
                     "--json"], label="levee subscriptions add")
        server = Server([ctx.levee, "serve", "--db", db, "--listen", "127.0.0.1:0", "--access-log", "false"], "stderr")
        try:
            argv = [floor_exe, "--rate", str(LAT_RATE), "--parallel", str(LAT_CONNECTIONS), "--log", clog,
                    "http://127.0.0.1:%d/events" % server.port, path_bodies, str(m)]
            m0, s0 = machine_busy(), self_cpu()
            t0 = time.time()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            client_err = proc.stderr.read().decode().strip()
            client_cpu = reap(proc)
            if proc.returncode != 0:
                raise BenchError("deliver: the paced client failed (exit %d): %s" % (proc.returncode, client_err))
            acks = {}
            with open(clog) as f:
                for line in f:
                    h, at, status = line.split()[:3]
                    if 200 <= int(status) < 300:
                        acks[h] = int(at)
            deadline = time.time() + LAT_DRAIN_S
            while target.count() < len(acks) and time.time() < deadline:
                time.sleep(0.2)
            elapsed = time.time() - t0
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server.port, timeout=10) as r:
                metrics = r.read().decode()
            threads = thread_times(server.proc.pid)
        finally:
            server.proc.send_signal(signal.SIGTERM)
            serve_cpu = reap(server.proc)
            server.rest.wait()
        if server.proc.returncode != 0:
            raise BenchError("deliver: levee serve exited with %d after SIGTERM" % server.proc.returncode)
    finally:
        target_cpu = target.stop()
    # the CPU the measured processes used (their whole lives: serve's start and stop included)
    others = others_since(m0, s0, client_cpu + serve_cpu + target_cpu, elapsed)
    first = {}
    received = 0
    with open(tlog) as f:
        for line in f:
            h, at = line.split()
            received += 1
            at = int(at)
            if h not in first or at < first[h]:
                first[h] = at
    # an event not delivered within LAT_DRAIN_S of the client's end counts as infinitely late
    missing = sum(1 for h in acks if h not in first)
    lat = sorted([(first[h] - acks[h]) / 1000.0 for h in acks if h in first] + [float("inf")] * missing)
    if not lat:
        raise BenchError("deliver: levee serve acknowledged none of the %d events" % m)
    hist = {}
    for line in metrics.splitlines():
        if line.startswith("levee_delivery_seconds_bucket"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            hist[le] = int(float(line.rsplit(" ", 1)[1]))
    stages = stage_quantiles(metrics)
    return {"events": m, "acked": len(acks), "received": received, "missing": missing, "duplicates": received - len(first),
            "p50": percentile(lat, 50), "p90": percentile(lat, 90), "p99": percentile(lat, 99),
            "max": lat[-1], "min": lat[0], "delivered_max": max([x for x in lat if x != float("inf")], default=0.0), "client": client_err, "others": others, "hist": hist,
            "stages": stages, "threads": threads, "serve_cpu": serve_cpu, "client_cpu": client_cpu, "target_cpu": target_cpu, "elapsed": elapsed,
            "command": ctx.command([floor_exe, "--rate", str(LAT_RATE), "--parallel", str(LAT_CONNECTIONS), "--log",
                                    clog, "http://127.0.0.1:PORT/events", path_bodies, str(m)])}


def run(ctx):
    floor_exe, target_exe = tools(ctx)
    events = QUICK_EVENTS if ctx.quick else EVENTS
    limit = QUICK_TIME_LIMIT_S if ctx.quick else TIME_LIMIT_S
    n_max = max(events.values())
    path_bodies = bodies(ctx, n_max, "deliver-bodies.ndjson")
    log("deliver: the target's ceiling (wrk)")
    ceiling = target_ceiling(ctx, target_exe, 3 if ctx.quick else 10)
    log("deliver: target_204 answers %.0f requests/s under wrk" % ceiling)
    results = {}
    for s in SUBS:
        n = events[s]
        nb = path_bodies if n == n_max else bodies(ctx, n, "deliver-bodies-%d.ndjson" % n)
        base = base_store(ctx, n, nb)
        fl, lv = [], []
        for i in range(max(ctx.runs, 1)):
            log("deliver: floor, %d subscription(s) x %d events [%d]" % (s, n, i + 1))
            fl.append(run_floor(ctx, floor_exe, target_exe, nb, s, n, limit))
            log("deliver: floor %.0f deliveries/s" % fl[-1]["rate"])
            log("deliver: levee deliver, %d subscription(s) x %d events [%d]" % (s, n, i + 1))
            lv.append(run_levee(ctx, target_exe, base, s, n, limit))
            log("deliver: levee deliver %.0f deliveries/s%s" % (lv[-1]["rate"], "" if lv[-1]["done"] else
                " (not finished in %d s: %d of %d received)" % (limit, lv[-1]["received"], n * s)))
        results[s] = {"n": n, "floor": fl, "levee": lv, "bodies": nb}
    lat_seconds = QUICK_LAT_SECONDS if ctx.quick else LAT_SECONDS
    log("deliver: latency, %d events/s for %d s into levee serve with one subscription" % (LAT_RATE, lat_seconds))
    lat = run_latency(ctx, floor_exe, target_exe, lat_seconds)
    log("deliver: acknowledgement to delivery p50 %s, p99 %s; %d not delivered"
        % (ms(lat["p50"]), ms(lat["p99"]), lat["missing"]))
    return section(ctx, ceiling, results, lat, limit)


def ms(x, unit=" ms"):
    return "%.1f%s" % (x, unit) if x != float("inf") else "not delivered"


def share_text(x):
    return ratio(x) if x >= 0.01 else "%.3fx" % x


def section(ctx, ceiling, results, lat, limit):
    rows, checks, notes = [], [], []
    for s, r in results.items():
        bf = max(r["floor"], key=lambda x: x["rate"])
        bl = max(r["levee"], key=lambda x: x["rate"])
        share = bl["rate"] / bf["rate"]
        for label, runs, b in (("floor: the bodies through libcurl multi, nothing else (`bench/floor_deliver.c`)",
                                r["floor"], bf),
                               ("`levee deliver`", r["levee"], bl)):
            rows.append(["%d" % s, num(r["n"] * s), label, num(b["rate"]), ", ".join(num(x["rate"]) for x in runs),
                         "%.2f" % b["seconds"] + ("" if b["done"] else " (limit)"), "%.2f" % b["cpu"], "%.2f" % b["target_cpu"],
                         "%.0f%%" % (100 * b["others"]), share_text(b["rate"] / bf["rate"])])
        if not bl["done"]:
            notes.append("With %d subscription(s), `levee deliver` had not finished within the %d s limit: the "
                         "target had received %s of the %s deliveries (the store recorded %s delivered); its rate "
                         "is what it received divided by the limit." % (s, limit, num(bl["received"]),
                                                                         num(r["n"] * s), num(bl["recorded"])))
        checks.append(Check(13, "`levee deliver` at least %.1fx the floor's rate, %d subscription%s" %
                            (FLOOR_SHARE, s, "" if s == 1 else "s"),
                            "%s (%s vs %s deliveries/s)" % (share_text(share), num(bl["rate"]), num(bf["rate"])),
                            share >= FLOOR_SHARE))
    ok = lat["p99"] < LAT_P99_MS

    checks.append(Check(13, "acknowledgement to delivery p99 under %d ms at %s events/s, one subscription"
                        % (LAT_P99_MS, num(LAT_RATE)), "p50 %s, p99 %s" % (ms(lat["p50"]), ms(lat["p99"])) + (
                            "; %s of %s events not delivered %d s after the last acknowledgement"
                            % (num(lat["missing"]), num(lat["acked"]), LAT_DRAIN_S) if lat["missing"] else ""), ok))
    first = results[SUBS[0]]
    body = ("### Deliveries per second\n\n"
            "A store holding the corpus's first N events (`levee ingest`; N = %s for one subscription, %s for 16), "
            "S subscriptions added with `levee subscriptions add --url http://127.0.0.1:PORT/ --from-start "
            "--parallel %d`, all to one loopback target, `bench/target_204.c` (libmicrohttpd configured as levee "
            "serve configures it, answering 204 to every POST and counting them); then `levee deliver --db "
            "bench/out/deliver.db -q` is timed from its start until the target has received N x S POSTs (the "
            "target notes the time of the last). --parallel %d rather than the default 4: a backfill to a fast "
            "target is when a user raises it, and with 4 each answer's round trip, not the sender, is much of "
            "what is measured. The floor is the same bodies POSTed S times through libcurl multi, %d in flight "
            "per subscription, one thread, nothing else (no store, no cursor, no attempt records), timed the same "
            "way; its command for one subscription is `%s`. The target alone answers %s requests/s under wrk "
            "(2 threads, 64 connections, 1.9 KB bodies), above every rate below: it is not what limits them. "
            "Floor and levee run alternately, %d time(s) each, the best counting; each levee run starts from a copy "
            "of the same store, and after it `levee subscriptions list` must count N delivered per subscription "
            "and no failed attempt. A run not finished within %d s counts what the target received by then. The "
            "sender, the target and the harness share the machine's 2 CPUs; \"others' CPU\" is what processes other "
            "than these used during the run, as a share of one CPU (from /proc/stat). \"/ floor\" is the row's rate divided "
            "by the floor's for the same N and S.\n\n"
            % (num(results[1]["n"]), num(results[16]["n"]), PARALLEL, PARALLEL, PARALLEL, bf_command(first),
               num(ceiling), max(ctx.runs, 1), limit))
    body += table(["S", "deliveries", "sender", "best /s", "runs /s", "s", "sender CPU s", "target CPU s",
                   "others' CPU", "/ floor"], rows, ["--:", "--:", "---", "--:", "--:", "--:", "--:", "--:", "--:", "--:"])
    if notes:
        body += "\n" + " ".join(notes) + "\n"
    h = lat["hist"]
    under = h.get("0.05", 0) / max(h.get("+Inf", 1), 1)
    body += ("\n### From acknowledgement to delivery\n\n"
             "`levee serve` on a new store with one subscription (`--parallel %d`) to the same target; a client "
             "(`%s`: the paced mode of the floor program) POSTs %s distinct events of the corpus, one per request, "
             "at a steady %s per second over up to %d connections (%s). For each event: the time the target had "
             "received it whole, less the time the client had levee's 2xx answer (both CLOCK_REALTIME on this "
             "machine, in microseconds; events matched by a hash of the body, which the canvas form delivers "
             "byte for byte as received). %s of %s events acknowledged, %s POSTs received by the target "
             "(%s duplicates). CPU: levee serve %.1f s, the client %.1f s, the target %.1f s over %.1f s; other "
             "processes (not the benchmark's) used %.0f%% of a CPU meanwhile.\n\n"
             % (PARALLEL, lat["command"], num(lat["events"]), num(LAT_RATE), LAT_CONNECTIONS,
                lat["client"].replace("floor_deliver: ", "its summary: "), num(lat["acked"]), num(lat["events"]),
                num(lat["received"]), num(lat["duplicates"]), lat["serve_cpu"], lat["client_cpu"], lat["target_cpu"],
                lat["elapsed"], 100 * lat["others"]))
    body += table(["p50 ms", "p90 ms", "p99 ms", "max ms", "min ms", "target"], [[
        ms(lat["p50"], ""), ms(lat["p90"], ""), ms(lat["p99"], ""), ms(lat["max"], ""), ms(lat["min"], ""),
        "p99 under %d ms: %s" % (LAT_P99_MS, "**met**" if ok else "**not met**")]],
        ["--:", "--:", "--:", "--:", "--:", "---"])
    if lat["missing"]:
        body += ("\n%s of the %s acknowledged events had not reached the target %d s after the client's last "
                 "answer (when the benchmark stops waiting); they count as infinitely late in the percentiles "
                 "(\"not delivered\"). The latest delivery that did arrive came %.1f ms after its "
                 "acknowledgement.\n" % (num(lat["missing"]), num(lat["acked"]), LAT_DRAIN_S, lat["delivered_max"]))
    body += ("\nlevee's own histogram (`levee_delivery_seconds` at /metrics, from the journal's acknowledgement to "
             "the 2xx) puts %.0f%% of the deliveries within 50 ms.\n" % (100 * under))
    body += stage_text(lat)
    return Section("Subscriptions: deliveries per second and time to delivery (issue 13)", body, checks)


STAGE_ROWS = (
    ("levee_event_stage_seconds", "journal", "received, to acknowledged (appended to the journal until its fsync)"),
    ("levee_event_stage_seconds", "store", "acknowledged, to stored (the applier's commit)"),
    ("levee_event_stage_seconds", "queued", "acknowledged, to its delivery request started"),
    ("levee_event_stage_seconds", "request", "the request, to the target's 2xx"),
    ("levee_event_stage_seconds", "delivered", "acknowledged, to delivered"),
)
STEP_ROWS = (("levee_store_step_seconds", s) for s in ("read", "prepare", "begin", "write", "commit", "train", "sync",
                                                      "release", "sync_aside", "release_aside"))


def stage_text(lat):
    """Where the time went, from levee serve's own histograms at the end of the run, and how long its threads
    waited for a CPU."""
    st = lat.get("stages") or {}
    if not st:
        return ""
    rows = []
    for fam, label, what in STAGE_ROWS:
        v = st.get((fam, label))
        if v:
            rows.append(["`%s`" % label, what, num(v["n"]), "%.1f" % v["p50"], "%.1f" % v["p99"], "%.1f" % v["top"]])
    text = ("\nThe same events in levee's own stage histograms (`levee_event_stage_seconds` at /metrics, read at the "
            "end of the run; percentiles interpolated within buckets as Prometheus does, \"top\" the upper bound of "
            "the highest bucket used; the stages overlap: `queued` contains `store`, `delivered` contains `queued` "
            "and `request`):\n\n")
    text += table(["stage", "from, to", "events", "p50 ms", "p99 ms", "top ms"], rows, ["---", "---", "--:", "--:", "--:", "--:"])
    steps = []
    for fam, label in STEP_ROWS:
        v = st.get((fam, label))
        if v and v["n"]:
            steps.append(["`%s`" % label, num(v["n"]), "%.2f" % v["p50"], "%.2f" % v["p99"], "%.1f" % v["top"]])
    for label in ("read", "flush", "reload"):
        v = st.get(("levee_delivery_step_seconds", label))
        if v and v["n"]:
            steps.append(["delivery `%s`" % label, num(v["n"]), "%.2f" % v["p50"], "%.2f" % v["p99"], "%.1f" % v["top"]])
    if steps:
        text += ("\nThe steps that hold up storing (`levee_store_step_seconds`: each turn of the applier; `sync_aside` "
                 "and `release_aside` run on the sync thread, storing going on) and the delivery thread "
                 "(`levee_delivery_step_seconds`):\n\n")
        text += table(["step", "times", "p50 ms", "p99 ms", "top ms"], steps, ["---", "--:", "--:", "--:", "--:"])
    th = lat.get("threads") or {}
    names = [n for n in ("levee-journal", "MHD-worker", "levee-apply", "levee-deliver", "levee-dread", "levee-dckpt",
                         "levee-sync") if n in th]
    if names:
        text += ("\nlevee serve's threads over the run (`/proc/PID/task/*/schedstat`: CPU time, and time spent runnable "
                 "but waiting for a CPU of the machine's two, which other processes shared): %s.\n"
                 % "; ".join("%s %.1f s CPU, %.1f s waiting" % (n, th[n][0], th[n][1]) for n in names))
    return text


def bf_command(r):
    return max(r["floor"], key=lambda x: x["rate"])["command"]


if __name__ == "__main__":
    sys.exit("deliver.py is run by bench/run.py (python3 bench/run.py --only deliver)")
