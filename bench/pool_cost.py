"""pool_cost.py: what running levee through pgbouncer in transaction mode costs (docs/operations.md,
"pgbouncer"). On one throwaway PostgreSQL cluster (tests/e2e/pg.py's, with PostgreSQL's durable defaults,
more memory and WAL, and autovacuum off so that it does not land in one run's figures) and two pgbouncers
in front of it (session and transaction mode, tests/e2e/pg.py's Bouncer), the same simulated corpus is
ingested into a new database each way:

  direct, session          levee's default on a direct connection: named prepared statements
  direct, transaction      levee_pool_mode=transaction without a pooler: unnamed statements and the
                           settings sent with each transaction, so levee's own cost alone
  pgbouncer session        pool_mode = session, levee_pool_mode=session: prepared statements
  pgbouncer transaction    pool_mode = transaction, levee_pool_mode left to auto (which finds it)

then every topic's reply tree is asked for once, one `levee query` each, and one `levee serve` node on a
new database takes POSTS events from 8 connections at once (its group commits, a few events each), each
way. For each it reports the wall time, the CPU the server's processes used (the postmaster's own and its
reaped children's, plus the live children's, from /proc), pgbouncer's and levee's (the commands', not the
serve node's).

usage: python3 bench/pool_cost.py --levee build/levee [--days 14 --courses 6 --users 240] [--runs 2]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "e2e"))
import pg  # noqa: E402  (tests/e2e/pg.py)
import threading  # noqa: E402

POSTS = 2000

SETTINGS = ["max_connections=50", "shared_buffers=256MB", "max_wal_size=4GB", "checkpoint_timeout=30min",
            "autovacuum=off"]
TICK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # after the name: state ppid ... utime(14) stime(15) cutime(16) cstime(17), counted from 1 with pid
    return int(fields[1]), [int(x) for x in fields[11:15]]


def server_cpu(postmaster):
    """Seconds of CPU the cluster's processes used so far."""
    _, (u, s, cu, cs) = proc_stat(postmaster)
    total = u + s + cu + cs
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid, (u, s, _, _) = proc_stat(int(name))
            except (OSError, IndexError):
                continue
            if ppid == postmaster:
                total += u + s
    return total / TICK


def own_cpu(pid):
    _, (u, s, _, _) = proc_stat(pid)
    return (u + s) / TICK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(cluster, bouncers, fn):
    time.sleep(1.0)  # what the last run left (a backend exiting) settles
    s0, b0, l0, t0 = server_cpu(cluster.postmaster), [own_cpu(b.proc.pid) for b in bouncers], children_cpu(), time.time()
    fn()
    time.sleep(1.0)
    wall = time.time() - t0 - 1.0
    return {"wall": wall, "server": server_cpu(cluster.postmaster) - s0,
            "pgbouncer": sum(own_cpu(b.proc.pid) for b in bouncers) - sum(b0), "levee": children_cpu() - l0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--levee", required=True)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--courses", type=int, default=6)
    ap.add_argument("--users", type=int, default=240)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    levee = os.path.abspath(args.levee)
    os.environ["LEVEE"] = levee  # for tests/e2e/server.py
    from server import Server
    from test_pg_nodes import Poster, entry
    work = tempfile.mkdtemp(prefix="levee-pool-cost-")
    corpus = os.path.join(work, "corpus.ndjson")
    subprocess.run([levee, "simulate", "--days", str(args.days), "--courses", str(args.courses), "--users",
                    str(args.users), "--seed", "14", "--to", corpus], check=True, stderr=subprocess.DEVNULL)
    with open(corpus) as f:
        lines = f.read().splitlines()
    topics = sorted({json.loads(x)["body"]["discussion_topic_id"] for x in lines
                     if json.loads(x).get("body", {}).get("discussion_topic_id")})
    cluster = pg.Cluster(settings=SETTINGS)
    with open(os.path.join(cluster.data, "postmaster.pid")) as f:
        cluster.postmaster = int(f.readline())
    session = pg.Bouncer(cluster, pool_mode="session", pool_size=20)  # a serve node holds several for good
    transaction = pg.Bouncer(cluster, pool_mode="transaction", pool_size=4)
    bouncers = [session, transaction]
    ways = [("direct, session", lambda db: cluster.url(db)),
            ("direct, transaction", lambda db: cluster.url(db) + "?levee_pool_mode=transaction"),
            ("pgbouncer session", lambda db: session.url(db) + "?levee_pool_mode=session"),
            ("pgbouncer transaction", lambda db: transaction.url(db))]
    results = {name: [] for name, _ in ways}
    try:
        n = 0
        for run in range(args.runs):
            for name, url in ways:
                n += 1
                db = "cost_%d" % n
                cluster.psql("CREATE DATABASE %s" % db)
                loc = url(db)

                def ingest():
                    subprocess.run([levee, "ingest", "-q", "--db", loc, corpus], check=True)

                def queries():
                    for t in topics:
                        subprocess.run([levee, "query", "topic", t, "--db", loc, "--json"], check=True,
                                       stdout=subprocess.DEVNULL)
                n += 1
                cluster.psql("CREATE DATABASE cost_%d" % n)
                node = Server(url("cost_%d" % n))

                def posts():
                    def work(t):
                        p = Poster(node)
                        for i in range(t, POSTS, 8):
                            status, _ = p.post(entry(i))
                            if status != 200:
                                raise RuntimeError("POST answered %d" % status)
                    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                try:
                    serving = measure(cluster, bouncers, posts)
                finally:
                    node.stop()
                results[name].append((measure(cluster, bouncers, ingest), measure(cluster, bouncers, queries),
                                      serving))
                print("run %d, %s: %s" % (run + 1, name, results[name][-1]), file=sys.stderr)
    finally:
        for b in bouncers:
            b.stop()
        cluster.stop()
    print("%d events, %d topics' reply trees, %d events POSTed; the best of %d runs (by server CPU)\n"
          % (len(lines), len(topics), POSTS, args.runs))
    print("| way | ingest: wall s | server CPU s | per event µs | pgbouncer CPU s | levee CPU s "
          "| queries: wall s | server CPU s | per query ms | serve: events/s | server CPU per event µs "
          "| pgbouncer µs |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, _ in ways:
        ing = min((r[0] for r in results[name]), key=lambda m: m["server"])
        qs = min((r[1] for r in results[name]), key=lambda m: m["server"])
        sv = min((r[2] for r in results[name]), key=lambda m: m["server"])
        print("| %s | %.1f | %.2f | %.0f | %.2f | %.2f | %.1f | %.2f | %.2f | %.0f | %.0f | %.0f |" % (
            name, ing["wall"], ing["server"], ing["server"] / len(lines) * 1e6, ing["pgbouncer"], ing["levee"],
            qs["wall"], qs["server"], qs["server"] / len(topics) * 1e3, POSTS / sv["wall"],
            sv["server"] / POSTS * 1e6, sv["pgbouncer"] / POSTS * 1e6))


if __name__ == "__main__":
    main()
