"""harness.py: what every benchmark module shares: the context of a run, timing a command, the machine,
and the pieces of Markdown the report is made of. Standard library only.

A benchmark module has one function, run(ctx) -> Section; bench/run.py lists the modules in the order
their sections appear in docs/benchmarks.md.
"""
import os
import platform
import re
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import List, Optional


class BenchError(Exception):
    """A command failed or gave a wrong result; the run stops and nothing is written."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


@dataclass
class Corpus:
    path: str
    events: int            # documents (one event each) in the file
    simulated: int         # of which from `levee simulate`
    thread_entries: int    # of which entries of the generated thread (plus its topic)
    bytes: int
    commands: List[str]    # how it was made, as shell commands
    thread: dict           # gen_thread's info: topic_id, course_id, top_level, max_depth, ...


@dataclass
class Context:
    root: str
    levee: str
    floor: str
    out_dir: str
    events: int
    runs: int
    quick: bool
    built: str = ""        # the levee that was given; `levee` is a copy of it taken at the start
    corpus: Optional[Corpus] = None

    def show(self, path):
        """A path as the report shows it: relative to the repository when inside it."""
        ap = os.path.abspath(path)
        if ap == os.devnull:
            return ap
        rel = os.path.relpath(ap, self.root)
        return ap if rel.startswith("..") else rel

    def command(self, argv, stdout=None):
        """The shell command a reader would type for argv (paths made relative), with its redirection."""
        parts = [self.show(a) if os.path.isabs(a) else a for a in argv]
        text = shlex.join(parts)
        if stdout:
            text += " > " + stdout
        return text


@dataclass
class Check:
    """One target of an issue, as the summary shows it."""
    issue: int
    target: str
    measured: str
    met: bool


@dataclass
class Section:
    title: str
    body: str
    checks: List[Check] = field(default_factory=list)


@dataclass
class Timing:
    command: str
    runs: List[float]
    cpu: List[float]        # user + system seconds of the command, per run
    others: List[float]     # CPU seconds other processes used during each run
    stderr: str = ""        # of the best run

    @property
    def best(self):
        return min(self.runs)

    @property
    def best_cpu(self):
        return self.cpu[self.runs.index(self.best)]

    @property
    def best_others(self):
        return self.others[self.runs.index(self.best)]

    def rate(self, events):
        return events / self.best


def machine_busy():
    """CPU seconds the whole machine has spent busy (all CPUs, from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def self_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# CPU seconds used by other processes during every timed run, and the time of those runs.
OTHERS = {"cpu": 0.0, "seconds": 0.0}


class Observe:
    """Around a command (and what it starts): its wall time, its CPU time and the CPU time other
    processes used meanwhile (the machine's busy time less ours), added to OTHERS."""

    def __enter__(self):
        self.r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.m0, self.s0 = machine_busy(), self_cpu()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.t0
        m1, s1 = machine_busy(), self_cpu()
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = (r1.ru_utime - self.r0.ru_utime) + (r1.ru_stime - self.r0.ru_stime)
        self.others = 0.0
        if self.m0 is not None and m1 is not None:
            self.others = max(0.0, (m1 - self.m0) - self.cpu - (s1 - self.s0))
        OTHERS["cpu"] += self.others
        OTHERS["seconds"] += self.elapsed
        return False


DISTURBED = 0.10   # a run is disturbed when other processes used more than this share of one CPU during it
QUIET_WAIT = 5     # seconds to wait at most for the machine to be quiet before a timed run


def disturbed(others, elapsed):
    return others > DISTURBED * elapsed


def wait_quiet(ctx):
    """Waits (at most QUIET_WAIT s) until other processes have used under DISTURBED of a CPU for a second.
    Not in a quick run, which is a smoke test."""
    if ctx.quick:
        return
    deadline = time.monotonic() + QUIET_WAIT
    while time.monotonic() < deadline:
        m0, s0 = machine_busy(), self_cpu()
        if m0 is None:
            return
        time.sleep(1)
        if (machine_busy() - m0) - (self_cpu() - s0) < DISTURBED:
            return


def measure(ctx, argv, *, label, stdout_null=True, show_redirect=True, before=None, ok=(0,), runs=None,
            shown=None):
    """Runs argv `runs` times (at least twice unless told), timing each with time.perf_counter around
    subprocess.run; `before` is called before each run, untimed (e.g. to remove a store), then
    wait_quiet(). The best (shortest) run counts; every run is kept. When other processes disturbed the
    best run, the command runs once more (not in a quick run). Fails on an exit status outside `ok`. Standard output goes to
    /dev/null (shown as `> /dev/null` in the command unless show_redirect is false, for commands that
    write nothing there); `shown` is argv as the report shows it, when it differs."""
    runs = runs or ctx.runs
    command = ctx.command(shown or argv, os.devnull if stdout_null and show_redirect else None)
    times, cpus, others, err = [], [], [], ""
    while True:
        if len(times) >= runs:
            b = times.index(min(times))
            if len(times) > runs or ctx.quick or not disturbed(others[b], times[b]):
                break
            log("%s: the best run was disturbed by other processes; one more run" % label)
        if before:
            before()
        wait_quiet(ctx)
        with Observe() as o:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL if stdout_null else subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        elapsed, cpu, other = o.elapsed, o.cpu, o.others
        stderr = proc.stderr.decode("utf-8", "replace")
        if proc.returncode not in ok:
            raise BenchError("%s: `%s` exited with %d:\n%s" % (label, command, proc.returncode, stderr[-2000:]))
        log("%s [%d]: %.2f s (CPU %.2f s; other processes %.2f CPU s)" % (label, len(times) + 1, elapsed, cpu, other))
        if not times or elapsed < min(times):
            err = stderr
        times.append(elapsed)
        cpus.append(cpu)
        others.append(other)
    return Timing(command, times, cpus, others, err)


def python(ctx, script, *args):
    """(argv, shown): a Python script run by this interpreter, shown as `python3 script ...`."""
    path = os.path.join(ctx.root, "bench", script)
    return [sys.executable, path, *args], ["python3", path, *args]


def run_checked(argv, *, label, stdout=subprocess.PIPE, ok=(0,)):
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    if proc.returncode not in ok:
        raise BenchError("%s: `%s` exited with %d:\n%s" % (label, shlex.join(argv), proc.returncode,
                                                         proc.stderr.decode("utf-8", "replace")[-2000:]))
    return proc


def remove_store(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.remove(path + suffix)
        except FileNotFoundError:
            pass


def store_bytes(path):
    return sum(os.path.getsize(path + s) for s in ("", "-wal", "-shm") if os.path.exists(path + s))


# ---- the machine ----

def _first_line(argv):
    try:
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10).stdout
        return out.decode("utf-8", "replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine(ctx):
    cpu = "unknown"
    cores_per_socket = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith("cpu cores") and cores_per_socket is None:
                    cores_per_socket = int(line.split(":", 1)[1])
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = "%.1f GiB" % (kb / 1024 / 1024)
    except (OSError, AttributeError):
        pass
    os_name = platform.system()
    try:
        with open("/etc/os-release") as f:
            os_name = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M).group(1)
    except (OSError, AttributeError):
        pass
    import sqlite3
    commit = _first_line(["git", "-C", ctx.root, "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "--no-optional-locks", "-C", ctx.root, "status", "--porcelain",
                            "--untracked-files=no"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "cores_per_socket": cores_per_socket,
        "memory": mem,
        "os": os_name,
        "kernel": platform.release(),
        "levee": _first_line([ctx.levee, "--version"]),
        "commit": commit + (" with uncommitted changes" if dirty.strip() else ""),
        "cc": _first_line([os.environ.get("CC", "cc"), "--version"]),
        "python": "%s (%s)" % (platform.python_version(), sys.executable),
        "python_sqlite": sqlite3.sqlite_version,
        "jq": _first_line(["jq", "--version"]),
        "hyperfine": _first_line(["hyperfine", "--version"]),
    }


# ---- Markdown ----

def num(x):
    """1234567 -> 1,234,567; 0.5 -> 0.5."""
    if isinstance(x, int):
        return "{:,}".format(x)
    return "{:,.0f}".format(x) if x >= 100 else "{:,.2f}".format(x)


def secs(x):
    return "%.2f" % x


def ratio(x):
    return "%.1fx" % x if x >= 10 else "%.2fx" % x


def met(flag):
    return "**met**" if flag else "**not met**"


def table(header, rows, align=None):
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def runs_text(t):
    return ", ".join(secs(r) for r in t.runs)
