#!/usr/bin/env python3
"""run.py: runs levee's end-to-end tests (tests/e2e/test_*.py) against a built binary.

usage: tests/e2e/run.py --levee build/levee [-k PATTERN] [-v]
"""
import argparse
import os
import sys
import unittest


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levee", required=True, help="path to the levee binary under test")
    parser.add_argument("-k", dest="pattern", help="only tests whose name contains this")
    parser.add_argument("-v", action="store_true", help="list each test")
    parser.add_argument("--sanitized", action="store_true",
                        help="the binary is built with ASan/UBSan: memory figures are not meaningful and "
                             "heavy tests run smaller")
    args = parser.parse_args()
    os.environ["LEVEE"] = os.path.abspath(args.levee)
    if args.sanitized:
        os.environ["LEVEE_SANITIZED"] = "1"
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.discover(here, pattern="test_*.py", top_level_dir=here)
    if args.pattern:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTests(keep(t))
                elif args.pattern in t.id():
                    out.addTest(t)
            return out
        suite = keep(suite)
    result = unittest.TextTestRunner(verbosity=2 if args.v else 1).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
