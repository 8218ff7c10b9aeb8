"""test_utf8.py: text that is not valid UTF-8 (overlong forms, encoded surrogates, code points past U+10FFFF,
bytes F5..FF, cut sequences) or holds a lone surrogate escape, through the real binary: validate, normalize,
convert, ingest and export, query, and POST /events. Every output levee writes must decode with Python's strict
UTF-8 decoder and parse as JSON; the ill-formed part is U+FFFD, a warning names the field, and the raw archive
gives back the bytes as they came. Also the nesting limit (64 levels): an event outside the model that nests
deeper is kept whole, a modelled one is refused with a message (and kept as a dead letter).

The store's cases (TestStore, TestServe) run against an SQLite file, and again (TestStoreOnPostgreSQL,
TestServeOnPostgreSQL) against a fresh database of a throwaway PostgreSQL server (tests/e2e/pg.py), skipped
with the reason when PostgreSQL is not installed."""
import http.client
import json
import os
import tempfile
import unittest

import pg
from lv import caliper_example, canvas_example, compact, run
from server import ServerTestCase

MARK = "<p>test this discussion</p>"
ENTRY = compact(canvas_example("discussion_entry_created")).encode()
CALIPER = compact(caliper_example("discussion_entry_created")).encode()
USER = "21070000000098765"

# What goes between the quotes of a JSON string, and the text levee must keep for it: for raw bytes,
# Python's own decoder with errors="replace" (Unicode's maximal-subpart rule) is the oracle.
RAW = {
    "overlong_2": b"\xc0\xaf",
    "overlong_3": b"\xe0\x80\xaf",
    "overlong_4": b"\xf0\x80\x80\xaf",
    "surrogate": b"\xed\xa0\x80",
    "beyond_10ffff": b"\xf4\x90\x80\x80",
    "f5_ff": b"\xf5\xfe\xff",
    "cut_short": b"\xe2\x82",
    "cut_at_end_of_4": b"\xf0\x9f\x98",
    "stray_continuation": b"\x80\xbf",
}
ESCAPED = {
    "lone_high": (b"\\ud800", "\ufffd"),
    "lone_low": (b"\\udc00", "\ufffd"),
    "high_then_not_low": (b"\\ud800\\u0041", "\ufffdA"),
    "high_then_high_pair": (b"\\ud800\\ud83d\\ude00", "\ufffd\U0001F600"),
}


def cases():
    for name, raw in RAW.items():
        yield name, raw, raw.decode("utf-8", "replace")
    for name, (raw, want) in ESCAPED.items():
        yield name, raw, want


def entry_with(raw):
    """Canvas's documented discussion_entry_created with `raw` inside its body text."""
    return ENTRY.replace(MARK.encode(), b"<p>" + raw + b"</p>")


def strict(data):
    """data as JSON documents, one per line, after a strict UTF-8 decode (raises on any ill-formed byte)."""
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def strings(doc):
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from strings(v)


def raw_run(*args, input=None):
    """run() keeps the raw output bytes too: the checks here decode them strictly."""
    import subprocess
    from lv import levee_path
    return subprocess.run([levee_path(), *args], input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)


class TestText(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def test_validate_warns_and_names_the_field(self):
        for name, raw, _ in cases():
            with self.subTest(name):
                p = raw_run("validate", "--json", input=entry_with(raw))
                self.assertEqual(p.returncode, 0, p.stderr)  # kept: a warning, not an error
                diags = [json.loads(l) for l in p.stderr.decode("utf-8").splitlines() if l.startswith("{")]
                text = [d for d in diags if d["path"] == "/body/text"]
                self.assertEqual(len(text), 1, diags)
                self.assertEqual(text[0]["severity"], "warning")
                self.assertIn("not valid UTF-8", text[0]["message"])
                self.assertIn("U+FFFD", text[0]["message"])
                # --strict makes the warning an error, as with every warning
                self.assertEqual(raw_run("validate", "--strict", input=entry_with(raw)).returncode, 1)

    def test_validate_says_what_is_wrong(self):
        want = {
            "overlong_2": "overlong form", "surrogate": "encoded UTF-16 surrogate",
            "beyond_10ffff": "beyond U+10FFFF", "cut_short": "cut short", "stray_continuation": "no lead byte",
            "lone_high": "lone high surrogate", "lone_low": "lone low surrogate",
        }
        for name, raw, _ in cases():
            if name in want:
                with self.subTest(name):
                    r = run("validate", input=entry_with(raw))
                    line = [l for l in r.diag_lines() if "/body/text" in l]
                    self.assertEqual(len(line), 1, r.err)
                    self.assertIn(want[name], line[0])

    def test_text_diagnostics_are_valid_utf8(self):
        # messages quote the start of long names and texts: never half a character
        name = "a" * 79 + "\u00e9"
        doc = json.dumps({"metadata": {"event_name": name, "event_time": "2019-11-01T19:11:03Z"},
                          "body": {"t": "x" * 96 + "\u00e9" * 5}}, ensure_ascii=False).encode()
        for args in (("validate",), ("validate", "--json"), ("normalize",)):
            p = raw_run(*args, input=doc)
            p.stderr.decode("utf-8")
            strict(p.stdout)
        for _, raw, _ in cases():
            p = raw_run("validate", input=entry_with(raw))
            self.assertIn("/body/text: the text is not valid UTF-8", p.stderr.decode("utf-8"))

    def test_normalize_writes_valid_utf8_with_fffd(self):
        for name, raw, want in cases():
            with self.subTest(name):
                p = raw_run("normalize", input=entry_with(raw))
                self.assertEqual(p.returncode, 0, p.stderr)
                (rec,) = strict(p.stdout)
                self.assertEqual(rec["body"]["text"], "<p>" + want + "</p>")
                self.assertIn("/body/text", [w["path"] for w in rec["warnings"]])
                p.stderr.decode("utf-8")  # the diagnostics too

    def test_convert_writes_valid_utf8(self):
        for name, raw, want in cases():
            with self.subTest(name):
                # canvas to Caliper: the entry's text is the Message's body
                p = raw_run("convert", "--to", "caliper", input=entry_with(raw))
                self.assertEqual(p.returncode, 0, p.stderr)
                (env,) = strict(p.stdout)
                self.assertEqual(env["data"][0]["object"]["body"], "<p>" + want + "</p>")
                # canvas to canvas: the document as levee holds it
                p = raw_run("convert", "--to", "canvas", input=entry_with(raw))
                self.assertEqual(p.returncode, 0, p.stderr)
                (doc,) = strict(p.stdout)
                self.assertEqual(doc["body"]["text"], "<p>" + want + "</p>")
                # Caliper to canvas, and to Caliper again
                cal = CALIPER.replace(MARK.encode(), b"<p>" + raw + b"</p>")
                for to in ("canvas", "caliper"):
                    p = raw_run("convert", "--to", to, "--pretty", input=cal)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    doc = json.loads(p.stdout.decode("utf-8"))
                    self.assertIn("<p>" + want + "</p>", list(strings(doc)))
                r = run("validate", input=cal)
                self.assertTrue(any("/data/0/object/body" in l and "not valid UTF-8" in l for l in r.diag_lines()),
                                r.err)

    def test_member_names_and_events_outside_the_model(self):
        doc = (b'{"metadata":{"event_name":"asset_accessed","event_time":"2019-11-01T19:11:03Z",'
               b'"root_account_id":"21070000000000001"},"body":{"asset_name":"a\xed\xa0\x80",'
               b'"k\xc0":["\\udfff",{"x\\ud800y":1}]}}')
        p = raw_run("normalize", input=doc)
        self.assertEqual(p.returncode, 0, p.stderr)
        (rec,) = strict(p.stdout)
        self.assertEqual(rec["body"]["asset_name"], "a\ufffd\ufffd\ufffd")
        self.assertEqual(rec["body"]["k\ufffd"], ["\ufffd", {"x\ufffdy": 1}])
        paths = [w["path"] for w in rec["warnings"]]
        for path in ("/body/asset_name", "/body/k\ufffd", "/body/k\ufffd/0", "/body/k\ufffd/1/x\ufffdy"):
            self.assertIn(path, paths)


def nested(name, levels, inner=b"1"):
    """A canvas event named `name` whose body member x is `levels` arrays deep around `inner`."""
    return (b'{"metadata":{"event_name":"' + name + b'","event_time":"2019-11-01T19:11:03Z",'
            b'"root_account_id":"21070000000000001"},"body":{"x":' + b"[" * levels + inner + b"]" * levels +
            b',"y":"after"}}')


class TestNesting(unittest.TestCase):
    def test_outside_the_model_kept_whole(self):
        doc = nested(b"asset_accessed", 100, b'{"k":"v\\u00e9\xc0"}')
        p = raw_run("normalize", input=doc)
        self.assertEqual(p.returncode, 0, p.stderr)
        (rec,) = strict(p.stdout)
        x = rec["body"]["x"]
        for _ in range(100):
            self.assertEqual(len(x), 1)
            x = x[0]
        self.assertEqual(x, {"k": "v\u00e9\ufffd"})
        self.assertEqual(rec["body"]["y"], "after")
        deep = [w for w in rec["warnings"] if "nested deeper than 64 levels" in w["message"]]
        self.assertEqual(len(deep), 1, rec["warnings"])
        self.assertEqual(deep[0]["path"], "/body/x" + "/0" * 62)
        self.assertEqual(deep[0]["severity"], "warning")

    def test_as_deep_as_the_size_limit_allows(self):
        levels = (1000000 - 200) // 2
        doc = nested(b"asset_accessed", levels)
        self.assertLessEqual(len(doc), 1000000)
        p = raw_run("validate", input=doc)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = raw_run("normalize", input=doc)
        self.assertEqual(p.returncode, 0, p.stderr[-500:])
        out = p.stdout.decode("utf-8")
        # too deep for Python's own parser to read back: the nesting is checked by counting
        self.assertIn("[" * levels + "1" + "]" * levels, out)
        self.assertIn('"y":"after"', out)

    def test_modelled_event_refused_with_a_message(self):
        doc = nested(b"discussion_entry_created", 65)
        r = run("validate", input=doc)
        self.assertEqual(r.code, 1, r.err)
        line = [l for l in r.diag_lines() if "nested deeper than 64 levels" in l]
        self.assertEqual(len(line), 1, r.err)
        self.assertIn("/body/x" + "/0" * 62 + ":", line[0])
        self.assertIn("refuses that in the events it models", line[0])
        # at the limit (64 levels: the document, its body and 62 arrays) it is only an unknown field
        r = run("validate", input=nested(b"discussion_entry_created", 62))
        self.assertFalse([l for l in r.diag_lines() if "nested deeper" in l], r.err)


class TestStore(unittest.TestCase):
    """What the store keeps and answers (ingest, export, query, search): on an SQLite file here, on a fresh
    PostgreSQL database in TestStoreOnPostgreSQL (store() is the one difference)."""
    # what a text holding JSON's \u0000 reads as from the store: the NUL itself (operations.md: PostgreSQL's
    # text cannot hold NUL, it answers U+FFFD; the raw document keeps it on both)
    NUL = "\u0000"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.db = self.store()

    def tearDown(self):
        self.dir.cleanup()

    def store(self):
        """A new, empty store's location."""
        return os.path.join(self.dir.name, "levee.db")

    def file(self, name, data):
        p = os.path.join(self.dir.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_ingest_keeps_the_raw_bytes_and_answers_in_valid_utf8(self):
        # every ill-formed case, and a NUL, in the text of an entry each, after a word to search for
        texts = [(raw, want) for _, raw, want in cases()] + [(b"\\u0000", self.NUL)]
        docs = [entry_with(b"probe " + raw).replace(b'"2134567"', b'"%d"' % (9000 + i))
                for i, (raw, _) in enumerate(texts)]
        db = self.db
        src = self.file("in.ndjson", b"\n".join(docs) + b"\n")
        p = raw_run("ingest", "--db", db, src)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"stored %d" % len(docs), p.stderr)
        # the raw archive is byte-exact: export gives back what came in, ill-formed bytes and all
        p = raw_run("export", "--db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(sorted(p.stdout.splitlines()), sorted(docs))
        # what levee answers from the store is valid UTF-8, with U+FFFD where the text was ill-formed
        p = raw_run("query", "user", USER, "--json", "--db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        (answer,) = strict(p.stdout)
        self.assertEqual(sorted(e["text"] for e in answer["entries"]),
                         sorted("<p>probe " + want + "</p>" for _, want in texts))
        p = raw_run("query", "user", USER, "--db", db)  # the table a person reads
        self.assertEqual(p.returncode, 0, p.stderr)
        p.stdout.decode("utf-8")
        # search finds every one of them, its snippets valid UTF-8 too
        p = raw_run("search", "probe", "--json", "--db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        (found,) = strict(p.stdout)
        self.assertEqual(sorted(r["entry_id"] for r in found["results"]),
                         sorted("2107000000%07d" % (9000 + i) for i in range(len(docs))))
        for r in found["results"]:
            self.assertIn("probe", r["snippet"])
        # re-ingesting the export finds the same events: duplicates, nothing new
        p = raw_run("ingest", "--db", db, self.file("again.ndjson", b"\n".join(docs) + b"\n"))
        self.assertIn(b"duplicates %d" % len(docs), p.stderr)
        self.assertEqual(json.loads(run("stats", "--db", db, "--json").out)["events"], len(docs))

    def test_deep_event_outside_the_model_kept_byte_for_byte(self):
        # kept in the store as any event outside the model (TestNesting: what normalize makes of it)
        doc = nested(b"asset_accessed", 100, b'{"k":"v\\u00e9\xc0"}')
        p = raw_run("ingest", "--db", self.db, input=doc)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"stored 1", p.stderr)
        self.assertIn(b"outside the model 1", p.stderr)
        self.assertEqual(raw_run("export", "--db", self.db).stdout, doc + b"\n")

    def test_too_deep_modelled_event_is_a_dead_letter(self):
        doc = nested(b"discussion_entry_created", 65)
        p = raw_run("ingest", "--db", self.db, input=doc)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"stored 0, duplicates 0, rejected 1", p.stderr)
        p = raw_run("export", "--db", self.db, "--dead-letters")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, doc + b"\n")  # kept exactly, to be sent again once fixed
        self.assertEqual(raw_run("export", "--db", self.db).stdout, b"")
        st = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual((st["events"], st["dead_letters"]), (0, 1))


class TestServe(ServerTestCase):
    def test_post_events_and_answers(self):
        s = self.serve()
        n = 0
        for i, (name, raw, _) in enumerate(cases()):
            body = entry_with(raw).replace(b'"2134567"', b'"%d"' % (8000 + i))
            status, text = s.post("/events", body)
            self.assertEqual(status, 200, (name, text))
            self.assertEqual(json.loads(text)["accepted"], 1)
            n += 1
        s.wait_applied(n)
        conn = http.client.HTTPConnection(s.host, s.port, timeout=30)
        try:
            conn.request("GET", "/api/users/" + USER)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        self.assertEqual(resp.status, 200)
        (answer,) = strict(data)
        self.assertEqual(sorted(e["text"] for e in answer["entries"]),
                         sorted("<p>" + want + "</p>" for _, _, want in cases()))


# ---- the store's cases on PostgreSQL ----

class TestStoreOnPostgreSQL(pg.OnSharedCluster, TestStore):
    NUL = "\ufffd"

    def store(self):
        return self.cluster.new_database()


class TestServeOnPostgreSQL(pg.OnSharedCluster, TestServe):
    def setUp(self):
        super().setUp()
        self.db = self.cluster.new_database()


if __name__ == "__main__":
    unittest.main()
