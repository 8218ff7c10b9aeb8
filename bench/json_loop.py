#!/usr/bin/env python3
"""json_loop.py: the Python baseline for `levee normalize`: read NDJSON one line at a time, parse it
with json.loads and write it back with json.dumps, compact, as `jq -c .` does. Standard library only,
one process, one thread.

usage: bench/json_loop.py FILE > /dev/null
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: json_loop.py FILE")
    out = sys.stdout
    loads, dumps = json.loads, json.dumps
    n = 0
    with open(sys.argv[1], "rb") as f:
        for line in f:
            if line.strip():
                out.write(dumps(loads(line), ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
                n += 1
    out.flush()
    print("json_loop: %d documents" % n, file=sys.stderr)


if __name__ == "__main__":
    main()
