"""simulator.py: issue 5's benchmark: events generated per second by `levee simulate` to /dev/null, in
canvas and Caliper form, measured by bench_simulate.py (one process from start to exit, building the
institution included)."""
import json

from harness import BenchError, Check, Observe, Section, log, num, python, run_checked, secs, table


def run(ctx):
    extra = ["--repeat", str(ctx.runs)]
    if ctx.quick:
        extra += ["--days", "5"]
    rows, checks = [], []
    for fmt in ("canvas", "caliper"):
        argv, shown = python(ctx, "bench_simulate.py", "--levee", ctx.levee, "--format", fmt, *extra)
        log("levee simulate --format %s" % fmt)
        with Observe() as o:
            out = run_checked(argv, label="bench_simulate").stdout.decode()
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise BenchError("bench_simulate.py printed no result: %r" % out)
        log("levee simulate --format %s: %d events/s (other processes %.2f CPU s in %.1f s)"
            % (fmt, r["events_per_s"], o.others, o.elapsed))
        sim_cmd = ctx.command([ctx.levee, "simulate", *r["args"].split(), "--format", fmt, "--to", "/dev/null"])
        rows.append([fmt, "`%s`" % sim_cmd, num(r["events"]), secs(r["seconds"]),
                     ", ".join(secs(x) for x in r.get("runs", [])), "%.0f%%" % (100 * o.others / o.elapsed),
                     num(r["events_per_s"])])
        checks.append(Check(5, "events generated per second, %s format" % fmt,
                            "%s events/s" % num(r["events_per_s"]), None))
    bench_cmd = ctx.command(python(ctx, "bench_simulate.py", "--levee", ctx.levee, "--format", "canvas|caliper",
                                   *extra)[1])
    body = ("Measured by `%s`: each run of the command timed whole, from start to exit, building the simulated "
            "institution included; the best of %d runs counts. Caliper has only the two kinds Canvas documents "
            "in Caliper, so fewer events come out of the same simulation; each of them also costs a SHA-1 (its "
            "Caliper id).\n\n" % (bench_cmd, ctx.runs))
    body += table(["format", "command", "events", "best s", "runs (s)", "others' CPU", "events/s"], rows,
                  ["---", "---", "--:", "--:", "--:", "--:", "--:"])
    return Section("Simulator: events generated per second (issue 5)", body, checks)
