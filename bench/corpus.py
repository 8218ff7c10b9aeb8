"""corpus.py: the one corpus every benchmark reads: a simulated institution from `levee simulate`
(seed 1, 100 courses, 3000 users; the number of days chosen so there are at least --events events,
100 days for a million) followed by one generated discussion of 10,000 entries (gen_thread.py), for
the reply-tree query. Rebuilt on every run (it takes seconds and depends on the levee build)."""
import json
import math
import os
import re
import sys

from harness import BenchError, Corpus, log, run_checked

SEED, COURSES, USERS = 1, 100, 3000
DAYS_PER_MILLION = 100     # about 1,010,000 events with seed 1


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 24)
            if not chunk:
                return n
            n += chunk.count(b"\n")


def simulate(ctx, path, days):
    argv = [ctx.levee, "simulate", "--seed", str(SEED), "--courses", str(COURSES), "--users", str(USERS),
            "--days", str(days), "--to", path]
    proc = run_checked(argv, label="corpus")
    m = re.search(r"levee simulate: (\d+) events? written", proc.stderr.decode("utf-8", "replace"))
    if not m:
        raise BenchError("corpus: no summary line from `%s`" % ctx.command(argv))
    return argv, int(m.group(1))


def build(ctx, thread_entries=10000):
    path = os.path.join(ctx.out_dir, "corpus.ndjson")
    days = max(1, math.ceil(DAYS_PER_MILLION * ctx.events / 1_000_000))
    while True:
        log("corpus: levee simulate --days %d" % days)
        argv, simulated = simulate(ctx, path, days)
        if simulated >= ctx.events:
            break
        days = math.ceil(days * ctx.events / max(simulated, 1) * 1.02) + 1
    commands = [ctx.command(argv)]

    gen = [sys.executable, os.path.join(ctx.root, "bench", "gen_thread.py"), "--entries", str(thread_entries)]
    log("corpus: appending a thread of %d entries" % thread_entries)
    with open(path, "ab") as out:
        proc = run_checked(gen, label="corpus", stdout=out)
    info = json.loads(proc.stderr.decode().split("gen_thread: ", 1)[1])
    commands.append(ctx.command(["python3"] + gen[1:]) + " >> " + ctx.show(path))

    events = count_lines(path)
    if events != simulated + thread_entries + 1:
        raise BenchError("corpus: %s has %d lines, expected %d simulated events + %d thread events"
                         % (path, events, simulated, thread_entries + 1))
    size = os.path.getsize(path)
    log("corpus: %d events, %.0f MB" % (events, size / 1e6))
    return Corpus(path=path, events=events, simulated=simulated, thread_entries=thread_entries,
                  bytes=size, commands=commands, thread=info)
