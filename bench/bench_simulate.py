#!/usr/bin/env python3
"""bench_simulate.py: how fast `levee simulate` generates events: a simulated term of about a million
events written to /dev/null, timed from start to exit (building the institution included). Prints one
JSON line: {"bench", "format", "events", "seconds", "events_per_s", "args", "runs"}. bench/run.py calls it;
it can also be run alone.

usage: bench/bench_simulate.py [--levee build/levee] [--format canvas|caliper] [--repeat N]
                              [--courses N] [--users N] [--days N]   (a smaller run: bench/run.py --quick)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

# About 1,000,000 canvas events (seed 1): 100 courses, 3000 users, 100 days.
COURSES, USERS, DAYS = 100, 3000, 100


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levee", default=os.path.join(root, "build", "levee"))
    parser.add_argument("--format", default="canvas", choices=("canvas", "caliper"))
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest counts (default 3)")
    parser.add_argument("--courses", type=int, default=COURSES)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--days", type=int, default=DAYS)
    args = parser.parse_args()
    sim_args = ["--seed", "1", "--courses", str(args.courses), "--users", str(args.users), "--days", str(args.days)]
    cmd = [args.levee, "simulate", *sim_args, "--format", args.format, "--to", os.devnull]
    best = None
    events = None
    runs = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
        elapsed = time.perf_counter() - t0
        err = proc.stderr.decode("utf-8", "replace")
        if proc.returncode != 0:
            sys.exit("bench_simulate: %s failed (%d): %s" % (" ".join(cmd), proc.returncode, err))
        m = re.search(r"levee simulate: (\d+) events? written", err)
        if not m:
            sys.exit("bench_simulate: no summary line from levee simulate: %s" % err)
        events = int(m.group(1))
        runs.append(round(elapsed, 3))
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"bench": "simulate", "format": args.format, "events": events,
                      "seconds": round(best, 3), "events_per_s": round(events / best),
                      "args": " ".join(sim_args), "runs": runs}))


if __name__ == "__main__":
    main()
