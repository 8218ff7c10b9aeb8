"""sqs.py: issue 15's SQS benchmark: `levee pull --drain` against a floor, on the same queue contents.

The queue is local-aws-sqs (tests/sqs, from npm: the emulator the tests use), in a node process of its own
on 127.0.0.1. Before each run the queue is filled with the same M messages: the first M events of the corpus,
one per message, with the string attributes event_name and event_time as Canvas sends them. Then either
`levee pull --drain --receivers R` into a new store, or the floor (bench/floor_sqs.c: the same receives and
deletes through libcurl multi, R in flight, signed by libcurl's CURLOPT_AWS_SIGV4 as levee signs them, and
nothing else: no decoding, no store), each timed from start to exit. Both end the way --drain does: at the
first receive that finds the queue empty (a 1 s poll), once what they hold is deleted. Runs alternate, the
best counting. The emulator's own CPU time during each run is read from /proc, to show when it is the limit.
"""
import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from harness import BenchError, Check, Observe, Section, log, num, ratio, remove_store, table, wait_quiet

MESSAGES = 20_000
QUICK_MESSAGES = 2_000
RECEIVERS = (3, 8)
TARGET = 0.5
ENV = {"AWS_ACCESS_KEY_ID": "AKIDLEVEEBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1"}


def call(endpoint, action, body):
    req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + action})
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read()
    return json.loads(text) if text else {}


class Emulator:
    def __init__(self, ctx):
        script = os.path.join(ctx.root, "tests", "sqs", "server.mjs")
        if not os.path.isdir(os.path.join(ctx.root, "tests", "sqs", "node_modules", "local-aws-sqs")):
            raise BenchError("local-aws-sqs is not installed: run `cd tests/sqs && npm ci` (make bench does)")
        self.proc = subprocess.Popen(["node", script, "0"], cwd=ctx.out_dir, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("local-aws-sqs did not start")
        self.endpoint = "http://127.0.0.1:%d/" % json.loads(line)["port"]

    def cpu(self):
        """The emulator's user + system CPU seconds so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def fill(endpoint, queue, entries):
    def send(i):
        out = call(endpoint, "SendMessageBatch", {"QueueUrl": queue, "Entries": entries[i:i + 10]})
        if len(out.get("Successful", [])) != len(entries[i:i + 10]):
            raise BenchError("the emulator did not take a batch: %s" % str(out)[:300])
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(send, range(0, len(entries), 10)))


def visible(endpoint, queue):
    a = call(endpoint, "GetQueueAttributes", {"QueueUrl": queue, "AttributeNames": [
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def timed(ctx, emu, argv, label):
    wait_quiet(ctx)
    env = dict(os.environ, **ENV)
    c0 = emu.cpu()
    with Observe() as o:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    c1 = emu.cpu()
    if proc.returncode != 0:
        raise BenchError("%s exited with %d: %s" % (label, proc.returncode, proc.stderr.decode()[-1500:]))
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    emu_cpu = c1 - c0
    log("%s: %.2f s (CPU %.2f s; emulator %.2f s; other processes %.2f CPU s)"
        % (label, o.elapsed, o.cpu, emu_cpu, max(0.0, o.others - emu_cpu)))
    return {"seconds": o.elapsed, "cpu": o.cpu, "emulator": emu_cpu, "others": max(0.0, o.others - emu_cpu),
            "out": out}


def run(ctx):
    build = os.path.dirname(os.path.abspath(ctx.built))
    floor = os.path.join(build, "bench", "floor_sqs")
    subprocess.run(["make", "--no-print-directory", "-s", "-C", ctx.root, "BUILD=" + build, floor], check=True,
                   stdout=subprocess.DEVNULL)
    m = QUICK_MESSAGES if ctx.quick else MESSAGES
    entries = []
    with open(ctx.corpus.path) as f:
        for line in f:
            if len(entries) == m:
                break
            meta = json.loads(line).get("metadata", {})
            entries.append({"Id": str(len(entries) % 10), "MessageBody": line.rstrip("\n"), "MessageAttributes": {
                k: {"DataType": "String", "StringValue": meta.get(k, "")} for k in ("event_name", "event_time")}})
    emu = Emulator(ctx)
    db = os.path.join(ctx.out_dir, "sqs.db")
    try:
        queue = call(emu.endpoint, "CreateQueue", {"QueueName": "canvas-live-events-bench",
                                                   "Attributes": {"VisibilityTimeout": "60"}})["QueueUrl"]
        results = {}
        for r in RECEIVERS:
            levee_argv = [ctx.levee, "pull", "--sqs", queue, "--sqs-endpoint", emu.endpoint, "--db", db, "--drain",
                          "--receivers", str(r), "-q", "--json"]
            floor_argv = [floor, "--endpoint", emu.endpoint, "--queue", queue, "--receivers", str(r)]
            runs = {"levee": [], "floor": []}
            for i in range(ctx.runs):
                for who, argv in (("levee", levee_argv), ("floor", floor_argv)):
                    remove_store(db)
                    fill(emu.endpoint, queue, entries)
                    t = timed(ctx, emu, argv, "%s, %d receivers [%d]" % (who, r, i + 1))
                    done = t["out"]["deleted"]
                    if done != m or (who == "levee" and t["out"]["stored"] != m) or visible(emu.endpoint, queue):
                        raise BenchError("%s with %d receivers deleted %d of %d messages: %s"
                                         % (who, r, done, m, t["out"]))
                    runs[who].append(t)
            results[r] = {k: min(v, key=lambda t: t["seconds"]) for k, v in runs.items()}
            results[r]["all"] = runs
            results[r]["argv"] = (ctx.command(levee_argv), ctx.command(floor_argv))
    finally:
        emu.stop()
        remove_store(db)

    rows, checks = [], []
    for r in RECEIVERS:
        lv, fl = results[r]["levee"], results[r]["floor"]
        lrate, frate = m / lv["seconds"], m / fl["seconds"]
        rows.append([r, num(lrate), num(frate), ratio(lrate / frate),
                     "%.2f s, %.2f s" % (lv["seconds"], fl["seconds"]),
                     "%.0f%%, %.0f%%" % (100 * lv["cpu"] / lv["seconds"], 100 * fl["cpu"] / fl["seconds"]),
                     "%.0f%%, %.0f%%" % (100 * lv["emulator"] / lv["seconds"], 100 * fl["emulator"] / fl["seconds"]),
                     "%.0f%%, %.0f%%" % (100 * lv["others"] / lv["seconds"], 100 * fl["others"] / fl["seconds"])])
        checks.append(Check(15, "`levee pull` at least %.1fx the floor's messages/s, %d receivers" % (TARGET, r),
                            "%s vs %s messages/s: %s" % (num(lrate), num(frate), ratio(lrate / frate)),
                            lrate / frate >= TARGET))
    body = __doc__.split("\n", 2)[2].strip() + "\n\n"
    body += "%s messages per run; %d runs of each, alternating, the best counting. Commands, for %d receivers:\n\n" % (
        num(m), ctx.runs, RECEIVERS[0])
    body += "```\n%s\n%s\n```\n\n" % results[RECEIVERS[0]]["argv"]
    body += ("(the queue URL and endpoint are the emulator's, on a free port; AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
             "and AWS_REGION set to test values, which the emulator does not check).\n\n")
    body += table(["receivers", "levee pull, messages/s", "floor, messages/s", "levee / floor", "time (levee, floor)",
                   "CPU, as a share of one (levee, floor)", "emulator's CPU (during levee, floor)",
                   "others' CPU (levee, floor)"], rows, ["--:", "--:", "--:", "--:", "--:", "--:", "--:", "--:"])
    lv, fl = results[RECEIVERS[-1]]["levee"], results[RECEIVERS[-1]]["floor"]
    body += ("\nWhere the time goes, with %d receivers: levee used %.0f us of CPU per message (decoding, dedupe keys, "
             "compression, SQLite with its search index, and the same requests), the floor %.0f us; the emulator (one "
             "node process) used %.0f%% of one CPU during the floor's best run and %.0f%% during levee's, so it is "
             "not saturated: each receiver waits on its requests' round trips, and levee's receivers also on their "
             "batch's commit. Other processes on the machine used %.0f%% and %.0f%% of a CPU during those runs: on a "
             "machine whose CPUs are shared, levee's larger CPU share per message is what such load slows most.\n"
             % (RECEIVERS[-1], 1e6 * lv["cpu"] / m, 1e6 * fl["cpu"] / m, 100 * fl["emulator"] / fl["seconds"],
                100 * lv["emulator"] / lv["seconds"], 100 * lv["others"] / lv["seconds"],
                100 * fl["others"] / fl["seconds"]))
    body += "\nEvery run (seconds):\n\n"
    body += table(["receivers", "levee pull", "floor"],
                  [[r, ", ".join("%.2f" % t["seconds"] for t in results[r]["all"]["levee"]),
                    ", ".join("%.2f" % t["seconds"] for t in results[r]["all"]["floor"])] for r in RECEIVERS])
    return Section("SQS: messages received and stored per second (issue 15)", body, checks)


if __name__ == "__main__":
    sys.exit("run it through bench/run.py --only sqs")
