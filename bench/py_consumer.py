#!/usr/bin/env python3
"""py_consumer.py: the Python reference consumer `levee ingest` is measured against, written the way
institutions write their own Live Events consumer: json + sqlite3 from the standard library, one row
per event holding its raw JSON and its metadata (event name, event time, context and user) in indexed
columns, WAL with synchronous=NORMAL, rows inserted in transactions of 10,000. The indexes exist
before the first row, as in a consumer that runs as a service. It keeps no state beyond the rows:
no duplicate detection, no dead letters, no reply trees.

usage: bench/py_consumer.py --db PATH FILE
Prints "py_consumer: N events" to stderr.
"""
import argparse
import json
import sqlite3
import sys

BATCH = 10000

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    event_name TEXT NOT NULL,
    event_time TEXT NOT NULL,
    context_type TEXT,
    context_id TEXT,
    user_id TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_name_time ON events (event_name, event_time);
CREATE INDEX IF NOT EXISTS events_context ON events (context_id);
CREATE INDEX IF NOT EXISTS events_user ON events (user_id);
"""

INSERT = ("INSERT INTO events (event_name, event_time, context_type, context_id, user_id, raw) "
          "VALUES (?, ?, ?, ?, ?, ?)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("file")
    args = parser.parse_args()

    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)

    n = 0
    batch = []
    with open(args.file, "r", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            event = json.loads(line)
            meta = event.get("metadata") or {}
            batch.append((meta.get("event_name"), meta.get("event_time"), meta.get("context_type"),
                          meta.get("context_id"), meta.get("user_id"), line))
            if len(batch) >= BATCH:
                db.execute("BEGIN")
                db.executemany(INSERT, batch)
                db.execute("COMMIT")
                n += len(batch)
                batch.clear()
    if batch:
        db.execute("BEGIN")
        db.executemany(INSERT, batch)
        db.execute("COMMIT")
        n += len(batch)
    db.close()
    print("py_consumer: %d events" % n, file=sys.stderr)


if __name__ == "__main__":
    main()
