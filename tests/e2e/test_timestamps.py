"""test_timestamps.py: every timestamp form of docs/events.md's table through `levee validate`,
`normalize`, `ingest` + `export`/`query`, in every timestamp field of both formats, with the UTC
instants checked against Python's datetime, computed independently of levee."""
import datetime as dt
import json
import os
import random
import re
import tempfile
import unittest

from lv import ROOT, caliper_example, canvas_example, compact, mutate, run

ENTRY = canvas_example("discussion_entry_created")
TOPIC = canvas_example("discussion_topic_created")
CALIPER = caliper_example("discussion_entry_created")
UTC = dt.timezone.utc

# Canvas's documented course_updated example (doc/api/data_services/json/canvas/event-types/
# course_updated.json), whose event_time and updated_at are Ruby's Time#to_s: outside the model, it
# must be kept, not dead-lettered.
COURSE_UPDATED = {
    "metadata": {
        "event_name": "course_updated", "event_time": "2019-11-05 07:38:00 -0800",
        "job_id": "1020020528469291", "job_tag": "SIS::CSV::ImportRefactored#run_parallel_importer",
        "producer": "canvas", "root_account_id": "21070000000000001",
        "root_account_lti_guid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs.oxana.instructure.com",
        "root_account_uuid": "VicYj3cu5BIFpoZhDVU4DZumnlBrWi1grgJEzADs"},
    "body": {
        "account_id": "12340000000012", "course_id": "12340000000056", "created_at": "2019-11-05T13:38:00.218Z",
        "name": "Linear Algebra", "updated_at": "2019-11-05 07:38:00 -0800",
        "uuid": "a1b2c3c4z9x8a1s2q5w6p9o8i7u6y5t6a2s3d4f5", "workflow_state": "available"}}


def ymd_hms(t, sep="T"):
    """YYYY-MM-DD hh:mm:ss with a four-digit year (strftime's %Y does not pad years below 1000)."""
    return "%04d-%02d-%02d%s%02d:%02d:%02d" % (t.year, t.month, t.day, sep, t.hour, t.minute, t.second)


def utc_text(t):
    """levee's record form of an aware datetime: UTC, milliseconds, Z."""
    t = t.astimezone(UTC)
    return ymd_hms(t) + ".%03dZ" % (t.microsecond // 1000)


def offset_parts(minutes):
    sign = "-" if minutes < 0 else "+"
    return sign, abs(minutes) // 60, abs(minutes) % 60


# Each form: how to write a local time with an offset, and whether levee should warn.
def rfc3339(local, off):
    s, h, m = offset_parts(off)
    return ymd_hms(local) + ".%03d%s%02d:%02d" % (local.microsecond // 1000, s, h, m)


def rfc3339_z(local, off):
    return ymd_hms(local) + "Z" if off == 0 else rfc3339(local, off)


def ruby(local, off):
    s, h, m = offset_parts(off)
    return ymd_hms(local, " ") + " %s%02d%02d" % (s, h, m)


def ruby_inspect(local, off):
    s, h, m = offset_parts(off)
    return ymd_hms(local, " ") + ".%03d %s%02d%02d" % (local.microsecond // 1000, s, h, m)


def comma(local, off):
    return rfc3339(local, off).replace(".", ",", 1)


def basic_offset(local, off):
    s, h, m = offset_parts(off)
    return ymd_hms(local) + "%s%02d%02d" % (s, h, m)


SILENT = [rfc3339, rfc3339_z, ruby, ruby_inspect]
NOTED = [comma, basic_offset]


def random_instants(seed, n):
    """(utc datetime, offset minutes) pairs over years 0002-9997, whole milliseconds."""
    rng = random.Random(seed)
    lo = dt.datetime(2, 1, 1, tzinfo=UTC).timestamp()
    hi = dt.datetime(9997, 12, 31, tzinfo=UTC).timestamp()
    out = []
    for _ in range(n):
        ms = rng.randrange(int(lo * 1000), int(hi * 1000))
        t = dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=ms)
        out.append((t, rng.choice([0, -360, -480, 330, 345, -1439, 1439, 60, -210, rng.randrange(-1439, 1440)])))
    return out


def local_of(t, off):
    return t.astimezone(dt.timezone(dt.timedelta(minutes=off))).replace(tzinfo=None)


def ndjson(docs):
    return "".join(compact(d) + "\n" for d in docs)


class TimestampTest(unittest.TestCase):
    def normalize(self, docs, *args, expect=0):
        r = run("normalize", *args, input=ndjson(docs))
        self.assertEqual(r.code, expect, r.err)
        return r, r.records()

    def diags(self, docs, *args):
        r = run("validate", "--json", *args, input=ndjson(docs))
        return r, r.json_diags()


class TestCanvasForms(TimestampTest):
    def test_documented_ruby_form_is_kept_outside_the_model(self):
        r, diags = self.diags([COURSE_UPDATED])
        self.assertEqual(r.code, 0, r.err)
        # the only diagnostic is the usual one for an event outside the model: nothing on the times
        self.assertEqual([d["path"] for d in diags], ["/metadata/event_name"])
        _, [rec] = self.normalize([COURSE_UPDATED])
        want = dt.datetime.strptime("2019-11-05 07:38:00 -0800", "%Y-%m-%d %H:%M:%S %z")
        self.assertEqual(rec["time"], utc_text(want))
        self.assertEqual(rec["time"], "2019-11-05T15:38:00.000Z")
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "levee.db")
            r = run("ingest", "--db", db, input=compact(COURSE_UPDATED) + "\n")
            self.assertEqual(r.code, 0, r.err)
            self.assertIn("stored 1, duplicates 0, rejected 0, outside the model 1", r.err)
            self.assertEqual(run("export", "--db", db, "--dead-letters").out, "")
            out = run("export", "--db", db, "--since", "2019-11-05T15:38:00Z", "--until", "2019-11-05T15:38:00.001Z")
            self.assertEqual(out.out, compact(COURSE_UPDATED) + "\n")

    def test_ruby_form_in_every_field_of_a_modeled_event(self):
        doc = mutate(mutate(ENTRY, "metadata/event_time", "2019-11-01 12:11:03 -0700"),
                     "body/created_at", "2019-07-03 23:12:34 UTC")
        topic = mutate(mutate(TOPIC, "body/lock_at", "2019-11-05 05:38:00.218 -0800"),
                       "body/updated_at", "2019-11-05 19:08:00 +0530")
        r, diags = self.diags([doc, topic], "--strict")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(diags, [])
        _, [e, t] = self.normalize([doc, topic])
        parse = lambda s: dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S %z")
        self.assertEqual(e["time"], utc_text(parse("2019-11-01 12:11:03 -0700")))
        self.assertEqual(e["body"]["created_at"], "2019-07-03T23:12:34.000Z")
        self.assertEqual(t["body"]["lock_at"], "2019-11-05T13:38:00.218Z")
        self.assertEqual(t["body"]["updated_at"], utc_text(parse("2019-11-05 19:08:00 +0530")))

    def test_documented_examples_still_clean(self):
        docs = [canvas_example(n) for n in ("conversation_created", "conversation_forwarded",
                                            "conversation_message_created", "discussion_entry_created",
                                            "discussion_entry_submitted", "discussion_topic_created",
                                            "discussion_topic_updated")]
        docs.append(CALIPER)
        r, diags = self.diags(docs, "--strict")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(diags, [])


class TestAgainstPython(TimestampTest):
    """Random instants, written in each form at random offsets, must come back as Python's UTC."""

    def test_every_form_in_every_field(self):
        cases = []
        for n, (t, off) in enumerate(random_instants(18, 240)):
            form = (SILENT + NOTED)[n % (len(SILENT) + len(NOTED))]
            if form is basic_offset and off == 0:
                form = comma
            text = form(local_of(t, off), off)
            cases.append((t, text, form in NOTED))
        # canvas: event_time and created_at of an entry, lock_at of a topic; Caliper: eventTime
        docs, kinds = [], []
        for i, (t, text, noted) in enumerate(cases):
            k = i % 4
            if k == 0:
                docs.append(mutate(ENTRY, "metadata/event_time", text))
            elif k == 1:
                docs.append(mutate(ENTRY, "body/created_at", text))
            elif k == 2:
                docs.append(mutate(TOPIC, "body/lock_at", text))
            else:
                docs.append(mutate(CALIPER, "data/0/eventTime", text))
            kinds.append(k)
        r, recs = self.normalize(docs)
        self.assertEqual(len(recs), len(cases))
        paths = ["/metadata/event_time", "/body/created_at", "/body/lock_at", "/data/0/eventTime"]
        for (t, text, noted), k, rec in zip(cases, kinds, recs):
            got = {0: rec["time"], 1: rec["body"].get("created_at"), 2: rec["body"].get("lock_at"), 3: rec["time"]}[k]
            # ms precision: the Python instant is whole milliseconds (rfc3339_z drops them: compare to the second)
            want = t if "." in text or "," in text else t.replace(microsecond=0)
            self.assertEqual(got, utc_text(want), text)
            warnings = [w for w in rec.get("warnings", []) if w["path"] == paths[k]]
            if noted:
                self.assertEqual(len(warnings), 1, (text, rec.get("warnings")))
                self.assertTrue(warnings[0]["message"].startswith('"%s" ' % text))
                self.assertTrue(warnings[0]["message"].endswith("read as " + got))
            else:
                self.assertEqual(warnings, [], text)

    def test_offsets_beyond_midnight_and_calendar_edges(self):
        instants = [dt.datetime(2019, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), dt.datetime(2020, 2, 29, 0, 0, tzinfo=UTC),
                    dt.datetime(2000, 3, 1, 0, 30, tzinfo=UTC), dt.datetime(1969, 12, 31, 23, 59, 59, 1000, tzinfo=UTC),
                    dt.datetime(1900, 2, 28, 23, 0, tzinfo=UTC), dt.datetime(1, 1, 2, 12, 0, tzinfo=UTC),
                    dt.datetime(9999, 12, 30, 12, 0, tzinfo=UTC)]
        docs, want = [], []
        for t in instants:
            for off in (-1439, -720, -1, 0, 1, 345, 1439):
                for form in SILENT:
                    docs.append(mutate(ENTRY, "metadata/event_time", form(local_of(t, off), off)))
                    exact = form in (rfc3339, ruby_inspect) or (form is rfc3339_z and off != 0)
                    want.append(utc_text(t if exact else t.replace(microsecond=0)))
        _, recs = self.normalize(docs, "--strict")
        self.assertEqual([r["time"] for r in recs], want)


class TestEdges(TimestampTest):
    def test_years_at_the_edges(self):
        ok = {  # local text -> UTC, computed by hand where Python's datetime (years 1-9999) cannot
            "0000-01-01T00:00:00Z": "0000-01-01T00:00:00.000Z",
            "0000-01-01T00:00:00-01:00": "0000-01-01T01:00:00.000Z",
            "0001-01-01T00:00:00+00:01": "0000-12-31T23:59:00.000Z",
            "0001-01-01 00:59:59 +0100": "0000-12-31T23:59:59.000Z",
            "9999-12-31T20:00:59.999-03:59": "9999-12-31T23:59:59.999Z",
            "9999-12-31 15:59:59 -0800": "9999-12-31T23:59:59.000Z",
            "9998-12-31T23:00:00-01:00": utc_text(dt.datetime(9999, 1, 1, tzinfo=UTC)),
        }
        docs = [mutate(ENTRY, "metadata/event_time", k) for k in ok]
        _, recs = self.normalize(docs, "--strict")
        self.assertEqual([r["time"] for r in recs], list(ok.values()))
        refused = {
            "0000-01-01T00:30:00+01:00": "-0001-12-31T23:30:00Z",
            "0000-01-01 00:00:00 +2359": "-0001-12-31T00:01:00Z",
            "9999-12-31T23:30:00-01:00": "10000-01-01T00:30:00Z",
            "9999-12-31 16:00:00 -0800": "10000-01-01T00:00:00Z",
            "9999-12-31T23:59:60Z": "10000-01-01T00:00:00Z",
        }
        for field in ("metadata/event_time", "body/created_at"):
            docs = [mutate(ENTRY, field, k) for k in refused]
            r, diags = self.diags(docs)
            self.assertEqual(r.code, 1)
            self.assertEqual([d["path"] for d in diags], ["/" + field] * len(refused))
            for d, (k, utc) in zip(diags, refused.items()):
                self.assertEqual(d["severity"], "error")
                self.assertEqual(d["message"], '"%s" is %s in UTC, outside the years 0000-9999 that an RFC 3339 '
                                               "time can write; refused rather than stored as another instant" % (k, utc))
            r, recs = self.normalize(docs, expect=1)
            self.assertEqual(recs, [])
        # kept as dead letters, never stored with a wrong time
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "levee.db")
            text = ndjson(docs)
            r = run("ingest", "--db", db, input=text)
            self.assertEqual(r.code, 1)
            self.assertIn("stored 0, duplicates 0, rejected %d" % len(refused), r.err)
            self.assertEqual(run("export", "--db", db, "--dead-letters").out, text)
            self.assertEqual(run("export", "--db", db).out, "")

    def test_leap_second(self):
        leaps = {"2016-12-31T23:59:60Z": "2017-01-01T00:00:00.000Z",
                 "2016-12-31T15:59:60.500-08:00": "2017-01-01T00:00:00.000Z",
                 "2015-07-01 05:29:60 +0530": "2015-07-01T00:00:00.000Z"}
        docs = [mutate(ENTRY, "body/created_at", k) for k in leaps]
        _, recs = self.normalize(docs)
        self.assertEqual([r["body"]["created_at"] for r in recs], list(leaps.values()))
        for rec, k in zip(recs, leaps):
            [w] = rec["warnings"]
            self.assertEqual(w["path"], "/body/created_at")
            self.assertIn('"%s" is a leap second' % k, w["message"])
        # --strict rejects what is only noted
        self.normalize(docs, "--strict", expect=1)
        # a :60 where no leap second can be is refused, naming the UTC moment
        r, [d] = self.diags([mutate(ENTRY, "metadata/event_time", "2019-01-01T23:59:60Z")])
        self.assertEqual(r.code, 1)
        self.assertEqual((d["severity"], d["path"]), ("error", "/metadata/event_time"))
        self.assertIn("names a leap second at 2019-01-01T23:59:60Z", d["message"])

    def test_same_rules_in_every_field_and_format(self):
        """A comma fraction and a leap second are warnings, the same sentence, wherever they appear."""
        for value, fragment, utc in (("2019-11-01T19:11:03,933Z", "has a comma before its fraction of a second",
                                      "2019-11-01T19:11:03.933Z"),
                                     ("2016-12-31T23:59:60Z", "is a leap second", "2017-01-01T00:00:00.000Z")):
            docs = [mutate(ENTRY, "metadata/event_time", value), mutate(ENTRY, "body/created_at", value),
                    mutate(TOPIC, "body/lock_at", value), mutate(TOPIC, "body/updated_at", value),
                    mutate(CALIPER, "data/0/eventTime", value), mutate(CALIPER, "sendTime", value),
                    mutate(COURSE_UPDATED, "metadata/event_time", value)]
            paths = ["/metadata/event_time", "/body/created_at", "/body/lock_at", "/body/updated_at",
                     "/data/0/eventTime", "/sendTime", "/metadata/event_time"]
            r, diags = self.diags(docs)
            self.assertEqual(r.code, 0, r.err)
            timed = [d for d in diags if d["path"] in paths and d["path"] != "/metadata/event_name"]
            self.assertEqual([d["path"] for d in timed], paths)
            for d in timed:
                self.assertEqual(d["severity"], "warning")
                self.assertEqual(d["message"], '"%s" %s%s; read as %s' % (
                    value, fragment, " (ISO 8601, not RFC 3339)" if "comma" in fragment else
                    ", which a count of milliseconds since 1970 cannot hold, so it is read as the next day's "
                    "first instant", utc))
            r, _ = self.diags(docs, "--strict")
            self.assertEqual(r.code, 1)


class TestStore(TimestampTest):
    def test_ingest_keeps_instants_and_bytes(self):
        cases = random_instants(7, 40)
        docs, want = [], []
        for n, (t, off) in enumerate(cases):
            form = (SILENT + NOTED)[n % 6]
            if form is basic_offset and off == 0:
                form = comma
            text = form(local_of(t, off), off)
            # distinct entries (ids), so none is a duplicate of another
            doc = mutate(mutate(ENTRY, "metadata/event_time", text), "body/discussion_entry_id", str(5000 + n))
            docs.append(doc)
            want.append(t if "." in text or "," in text else t.replace(microsecond=0))
        topic_ruby = mutate(mutate(TOPIC, "body/lock_at", "2019-11-05 05:38:00 -0800"),
                            "body/updated_at", "2019-11-05 13:38:00.218 UTC")
        with tempfile.TemporaryDirectory() as d:
            db = os.path.join(d, "levee.db")
            r = run("ingest", "--db", db, input=ndjson(docs + [topic_ruby]))
            self.assertEqual(r.code, 0, r.err)
            self.assertIn("stored %d, duplicates 0, rejected 0" % (len(docs) + 1), r.err)
            # each event is exactly in the one-millisecond window of its Python instant
            for doc, t in zip(docs, want):
                lo = utc_text(t)
                hi = utc_text(t + dt.timedelta(milliseconds=1))
                out = run("export", "--db", db, "--event", "discussion_entry_created", "--since", lo, "--until", hi)
                self.assertEqual(out.code, 0, out.err)
                self.assertEqual(out.out, compact(doc) + "\n", lo)
            stats = json.loads(run("stats", "--db", db, "--json").out)
            instants = [utc_text(t) for t in want] + ["2019-11-01T19:11:18.208Z"]
            self.assertEqual(stats["first_event_time"], min(instants))
            self.assertEqual(stats["last_event_time"], max(instants))
            topic = json.loads(run("query", "topic", TOPIC["body"]["discussion_topic_id"], "--db", db, "--json").out)
            self.assertEqual(topic["topic"]["lock_at"], "2019-11-05T13:38:00.000Z")
            self.assertEqual(topic["topic"]["updated_at"], "2019-11-05T13:38:00.218Z")


class TestDocsTable(TimestampTest):
    def test_every_example_in_the_docs_table_does_what_the_table_says(self):
        with open(os.path.join(ROOT, "docs", "events.md")) as f:
            doc = f.read()
        section = doc.split("**Timestamps.**", 1)[1].split("\n\n")[1]
        rows = [r for r in section.splitlines() if r.startswith("| ") and not r.startswith("| form")]
        self.assertGreaterEqual(len(rows), 10)
        seen = set()
        for row in rows:
            cells = [c.strip() for c in row.strip("|").split(" | ")]
            self.assertEqual(len(cells), 3, row)
            examples = re.findall(r"`([^`]+)`", cells[1])
            self.assertTrue(examples, row)
            outcome = cells[2]
            for ex in examples:
                r, diags = self.diags([mutate(ENTRY, "body/created_at", ex)])
                mine = [d for d in diags if d["path"] == "/body/created_at"]
                if outcome.startswith("accepted silently"):
                    self.assertEqual((r.code, mine), (0, []), ex)
                elif outcome.startswith("accepted with a warning"):
                    self.assertEqual(r.code, 0, ex)
                    self.assertEqual([d["severity"] for d in mine], ["warning"], ex)
                else:
                    self.assertTrue(outcome.startswith("refused"), row)
                    self.assertEqual(r.code, 1, ex)
                    self.assertEqual([d["severity"] for d in mine], ["error"], ex)
                seen.add(outcome.split(",")[0].split(":")[0])
        self.assertEqual(seen, {"accepted silently", "accepted with a warning", "refused"})


if __name__ == "__main__":
    unittest.main()
