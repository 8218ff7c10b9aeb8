"""event_core.py: issue 2's benchmark: `levee validate` and `levee normalize` over the corpus, side by
side with `jq -c .` and a Python json.loads/json.dumps loop (json_loop.py) on the same file. Each is
one process; levee, jq and the loop each run on one thread."""
from harness import Check, Section, measure, met, num, python, ratio, runs_text, secs, table

TARGETS = [  # (levee command, baseline, at least)
    ("normalize", "jq", 8),
    ("normalize", "python", 3),
    ("validate", "jq", 15),
]


def run(ctx):
    c = ctx.corpus
    loop, loop_shown = python(ctx, "json_loop.py", c.path)
    t = {
        "validate": measure(ctx, [ctx.levee, "validate", "-q", c.path], label="levee validate",
                            show_redirect=False),
        "normalize": measure(ctx, [ctx.levee, "normalize", "-q", c.path], label="levee normalize"),
        "jq": measure(ctx, ["jq", "-c", ".", c.path], label="jq -c ."),
        "python": measure(ctx, loop, label="python json loop", shown=loop_shown),
    }
    names = {"validate": "levee validate", "normalize": "levee normalize", "jq": "jq -c .",
             "python": "Python json.loads/json.dumps loop"}

    rows = []
    for key in ("validate", "normalize", "jq", "python"):
        x = t[key]
        rows.append([names[key], "`%s`" % x.command, secs(x.best), runs_text(x), secs(x.best_cpu),
                     secs(x.best_others), num(round(x.rate(c.events))), num(c.bytes / x.best / 1e6),
                     ratio(x.best / t["validate"].best), ratio(x.best / t["normalize"].best)])
    body = ("On the whole corpus (%s events, %s MB). Each command is one process; levee, jq and the "
            "Python loop each run on one thread (CPU time close to wall time). The last two columns are "
            "levee's throughput divided by the row's.\n\n" % (num(c.events), num(c.bytes / 1e6)))
    body += table(["", "command", "best s", "runs (s)", "CPU s", "others' CPU s", "events/s", "MB/s",
                   "levee validate / this", "levee normalize / this"], rows,
                  ["---", "---", "--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:"])

    checks, trows = [], []
    for mine, base, want in TARGETS:
        r = t[base].best / t[mine].best
        checks.append(Check(2, "`levee %s` at least %dx %s" % (mine, want, names[base]),
                            "%s (%s vs %s events/s)" % (ratio(r), num(round(t[mine].rate(c.events))),
                                                         num(round(t[base].rate(c.events)))), r >= want))
        trows.append(["levee %s / %s" % (mine, names[base]), "at least %dx" % want, ratio(r), met(r >= want)])
    body += "\n" + table(["ratio", "target", "measured", ""], trows, ["---", "--:", "--:", "---"])
    return Section("Event core: validate and normalize (issue 2)", body, checks)
