#!/usr/bin/env python3
"""run.py: runs levee's end-to-end tests (tests/e2e/test_*.py) against a built binary.

usage: tests/e2e/run.py --levee build/levee [-k PATTERN] [-v] [-j JOBS]

With -j above 1 (the default is LEVEE_TEST_JOBS, else 3) each test class runs in its own process,
several at once, the slowest first: most of the suite's time is bounded waits (a kill -9 and its
recovery, a lease to expire, a queue's poll, a Retry-After), which overlap well even on two cores.
Every test starts its own servers on free ports in its own temporary directory, so classes share
nothing. A class's output is printed whole when it ends; the summary at the end names every class
that failed. The time each class took is kept in build/e2e-times.json to order the next run.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def load(pattern, module=None):
    sys.path.insert(0, HERE)
    if module:
        suite = unittest.defaultTestLoader.loadTestsFromName(module)
    else:
        suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if not pattern:
        return suite

    def keep(s):
        out = unittest.TestSuite()
        for t in s:
            if isinstance(t, unittest.TestSuite):
                out.addTests(keep(t))
            elif pattern in t.id():
                out.addTest(t)
        return out
    return keep(suite)


def run_here(args):
    suite = load(args.pattern, args.module)
    result = unittest.TextTestRunner(verbosity=2 if args.v else 1).run(suite)
    return 0 if result.wasSuccessful() else 1


def classes_with_tests(pattern):
    """'module.Class' of every test class holding a test to run, in file order."""
    names = []

    def walk(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                walk(t)
            elif isinstance(t, unittest.loader._FailedTest):
                names.append(t.id().split(".", 1)[1])  # a module that does not import: run it to see why
            else:
                name = t.id().rsplit(".", 1)[0]
                if name not in names:
                    names.append(name)
    walk(load(pattern))
    return names


def run_parallel(args):
    times_path = os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "e2e-times.json")
    try:
        with open(times_path) as f:
            past = json.load(f)
    except (OSError, ValueError):
        past = {}
    waiting = sorted(classes_with_tests(args.pattern), key=lambda m: -past.get(m, 30.0))
    running = {}  # module -> (process, output file, start)
    failed, took = [], {}
    cmd = [sys.executable, os.path.abspath(__file__), "--levee", os.environ["LEVEE"]]
    if args.v:
        cmd.append("-v")
    if args.pattern:
        cmd += ["-k", args.pattern]
    outdir = os.environ.get("TMPDIR", "/tmp")
    started = time.monotonic()
    while waiting or running:
        while waiting and len(running) < args.jobs:
            m = waiting.pop(0)
            out = open(os.path.join(outdir, f"levee-e2e-{os.getpid()}-{m}.log"), "w+")
            p = subprocess.Popen(cmd + ["--module", m], stdout=out, stderr=subprocess.STDOUT)
            running[m] = (p, out, time.monotonic())
        time.sleep(0.2)
        for m, (p, out, t0) in list(running.items()):
            if p.poll() is None:
                continue
            del running[m]
            took[m] = round(time.monotonic() - t0, 1)
            out.seek(0)
            text = out.read()
            out.close()
            os.unlink(out.name)
            status = "ok" if p.returncode == 0 else "FAILED"
            if p.returncode != 0:
                failed.append(m)
            print(f"== {m}: {status} in {took[m]} s", flush=True)
            if p.returncode != 0 or args.v:
                sys.stdout.write(text)
            else:
                # The last line of unittest's summary ("OK", "OK (skipped=2)").
                tail = [line for line in text.splitlines() if line.strip()]
                if tail:
                    print("   " + tail[-2] + " · " + tail[-1], flush=True)
    if not args.pattern:
        try:
            os.makedirs(os.path.dirname(times_path), exist_ok=True)
            with open(times_path, "w") as f:
                json.dump({**past, **took}, f, indent=1, sort_keys=True)
        except OSError:
            pass
    total = round(time.monotonic() - started, 1)
    if failed:
        print(f"e2e: {len(failed)} of {len(took)} test classes FAILED in {total} s: {', '.join(failed)}")
        return 1
    print(f"e2e: all {len(took)} test classes passed in {total} s ({args.jobs} at a time)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levee", required=True, help="path to the levee binary under test")
    parser.add_argument("-k", dest="pattern", help="only tests whose name contains this")
    parser.add_argument("-v", action="store_true", help="list each test")
    parser.add_argument("-j", dest="jobs", type=int, default=int(os.environ.get("LEVEE_TEST_JOBS", "3")),
                        help="test classes run at once (1: all in this process, in order)")
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--sanitized", action="store_true",
                        help="the binary is built with ASan/UBSan: memory figures are not meaningful and "
                             "heavy tests run smaller")
    args = parser.parse_args()
    os.environ["LEVEE"] = os.path.abspath(args.levee)
    if args.sanitized:
        os.environ["LEVEE_SANITIZED"] = "1"
    if args.module or args.jobs <= 1:
        sys.exit(run_here(args))
    sys.exit(run_parallel(args))


if __name__ == "__main__":
    main()
