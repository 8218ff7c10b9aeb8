"""test_conformance.py: every example Canvas and IMS publish is read as documented. Every example
of every event type in Canvas's docs files (canvas and Caliper formats) validates without an
error, is kept by a fresh store (none rejected, no dead letters) and comes back from export
byte-identical to its bytes in the docs file; a docs file that is not JSON as published is
reported as not JSON. The modelled examples (docs files and spec pages) validate strictly and
normalize to the values their documentation states; every IMS Caliper 1.1 file that holds an
event or envelope is read without error. Expected values are computed here independently of
levee (Python's json and datetime, the shard arithmetic of DOMAIN.md). The same run over
../shared/fixtures is skipped when it is absent."""
import glob
import json
import os
import re
import tempfile
import unittest
from datetime import datetime, timezone

from lv import FIXTURES, SHARED, compact, run

SHARD_FACTOR = 10 ** 13
TIME_FIELDS = {"event_time", "created_at", "updated_at", "lock_at"}
# Canvas object ids: a local id is made global on the root account's shard (DOMAIN.md).
SHARDED_IDS = {"root_account_id", "user_id", "user_account_id", "real_user_id", "context_id", "context_account_id",
               "conversation_id", "author_id", "message_id", "discussion_entry_id", "discussion_topic_id",
               "parent_discussion_entry_id", "assignment_id", "submission_id"}
KEPT_IDS = {"job_id", "developer_key_id"}
MODELED = {"conversation_created", "conversation_forwarded", "conversation_message_created",
           "discussion_entry_created", "discussion_entry_submitted", "discussion_topic_created",
           "discussion_topic_updated"}
CALIPER_MODELED = {"discussion_entry_created", "discussion_topic_created"}
PAYLOAD_KEY = re.compile(r'"payload"\s*:\s*')


def utc(ts):
    dt = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def expected_value(name, value, shard):
    if value is None:
        return None
    if name in TIME_FIELDS:
        return utc(value)
    if name in SHARDED_IDS:
        i = int(value)
        return str(shard * SHARD_FACTOR + i if i < SHARD_FACTOR and shard else i)
    if name in KEPT_IDS:
        return str(int(value))
    return value


def expected_record(canvas_event):
    meta = canvas_event["metadata"]
    shard = int(meta["root_account_id"]) // SHARD_FACTOR if "root_account_id" in meta else 0
    want = {"event": meta["event_name"], "format": "canvas", "time": utc(meta["event_time"]),
            "metadata": {k: expected_value(k, v, shard) for k, v in meta.items()}}
    if meta["event_name"] in MODELED:
        want["body"] = {k: expected_value(k, v, shard) for k, v in canvas_event["body"].items()}
    else:
        want["body"] = canvas_event.get("body")
    return want


class NotJSON(Exception):
    """A docs file that is not JSON as published (Canvas's docs have some)."""


def raw_examples(path):
    """The examples of one docs file as (payload, its exact bytes in the file), in file order.
    The bytes are the payload value as it stands in the file, from its '{' to its '}'.
    Raises NotJSON when the file does not parse as JSON."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
        examples = [e["payload"] for e in json.loads(text)["examples"]]
    except ValueError as e:
        raise NotJSON(str(e)) from e
    decoder = json.JSONDecoder()
    spans, pos = [], 0
    for want in examples:
        m = PAYLOAD_KEY.search(text, pos)
        assert m, "%s: no \"payload\" key for example %d" % (path, len(spans) + 1)
        doc, end = decoder.raw_decode(text, m.end())
        assert doc == want, "%s: the span found for example %d is not that example" % (path, len(spans) + 1)
        spans.append((want, text[m.end():end].encode("utf-8")))
        pos = end
    return spans


def split_documents(data):
    """A stream of JSON documents (as levee export writes them) as their exact bytes."""
    text = data.decode("utf-8")
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos == len(text):
            return [d.encode("utf-8") for d in docs]
        _, end = decoder.raw_decode(text, pos)
        docs.append(text[pos:end])
        pos = end


def identity(doc):
    """What makes two documents the same event: their decoded values (architecture.md)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def payloads_in_text(text):
    """The JSON payload examples in a spec page: every top-level object that starts a line."""
    decoder = json.JSONDecoder()
    found, pos = [], 0
    while True:
        at = text.find("{", pos)
        if at < 0:
            return found
        if at > 0 and text[at - 1] != "\n":
            pos = at + 1
            continue
        try:
            doc, end = decoder.raw_decode(text, at)
            found.append(doc)
            pos = end
        except json.JSONDecodeError:
            pos = at + 1


class Conformance:
    """Checks over one fixtures directory (the project's copy, or ../shared/fixtures)."""
    root = None
    # How many event types' docs files the directory holds per format (None: whatever it holds).
    docs_files_expected = None

    def docs_files(self, fmt):
        return sorted(glob.glob(os.path.join(self.root, "canvas-docs", fmt, "event-types", "*.json")))

    def docs_payloads(self, fmt, names):
        """The examples of the docs files of the given event types (all of them must be there)."""
        out = []
        for name in sorted(names):
            path = os.path.join(self.root, "canvas-docs", fmt, "event-types", name + ".json")
            with open(path) as f:
                out += [(os.path.basename(path), e["payload"]) for e in json.load(f)["examples"]]
        return out

    def every_docs_example(self):
        """(label, payload, exact bytes) of every example of every docs file of both formats,
        and the labels of the files that are not JSON as published."""
        examples, not_json = [], []
        for fmt in ("canvas", "caliper"):
            files = self.docs_files(fmt)
            if self.docs_files_expected:
                self.assertEqual(len(files), self.docs_files_expected[fmt], fmt)
            for path in files:
                label = "%s/%s" % (fmt, os.path.basename(path))
                try:
                    spans = raw_examples(path)
                except NotJSON:
                    not_json.append((label, path))
                    continue
                self.assertTrue(spans, label)
                for n, (payload, raw) in enumerate(spans, 1):
                    examples.append(("%s example %d" % (label, n), payload, raw))
        return examples, not_json

    def test_every_docs_example_validates(self):
        examples, not_json = self.every_docs_example()
        for label, _, raw in examples:
            with self.subTest(example=label):
                r = run("validate", "--json", input=raw)
                errors = [d for d in r.json_diags() if d["severity"] != "warning"]
                self.assertEqual(errors, [], label)
                self.assertEqual(r.code, 0, r.err)
                self.assertIn(" 0 rejected", r.err)
        # A docs file that is not JSON as published is levee's to refuse, saying so.
        for label, path in not_json:
            with self.subTest(not_json=label):
                r = run("validate", "--json", path)
                self.assertEqual(r.code, 1, r.err)
                diags = r.json_diags()
                self.assertTrue(diags, r.err)
                self.assertEqual(diags[0]["severity"], "error")
                self.assertTrue(diags[0]["message"].startswith("not JSON: "), diags[0])

    def test_every_docs_example_is_kept_and_exported_byte_identical(self):
        examples, _ = self.every_docs_example()
        self.assertTrue(examples)
        # The same event twice would be one event: expect one per distinct decoded document.
        first = {}
        for label, payload, raw in examples:
            first.setdefault(identity(payload), (label, raw))
        kept = list(first.values())
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "docs.db")
            source = os.path.join(tmp, "docs-examples.json")
            with open(source, "wb") as f:
                f.write(b"\n".join(raw for _, _, raw in examples) + b"\n")
            r = run("ingest", "--db", db, "--json", source)
            # Which examples became dead letters, by name (levee's reasons are on stderr).
            dead = run("export", "--db", db, "--dead-letters")
            self.assertEqual(dead.code, 0, dead.err)
            by_raw = {raw: label for label, _, raw in examples}
            rejected = [by_raw.get(d, d[:80]) for d in split_documents(dead.out.encode("utf-8"))]
            self.assertEqual(rejected, [], r.err)
            summary = json.loads(r.out)
            self.assertEqual((summary["documents"], summary["rejected"]), (len(examples), 0), r.err)
            self.assertEqual((summary["stored"], summary["duplicates"]),
                             (len(kept), len(examples) - len(kept)), r.err)
            self.assertEqual(r.code, 0, r.err)
            stats = json.loads(run("stats", "--db", db, "--json").out)
            self.assertEqual((stats["events"], stats["dead_letters"]), (len(kept), 0))
            exported = run("export", "--db", db)
            self.assertEqual(exported.code, 0, exported.err)
            out = exported.out.encode("utf-8")
            # Which examples did not come back as they are in the docs file, by name.
            back = set(split_documents(out))
            missing = [label for label, raw in kept if raw not in back]
            self.assertEqual(missing, [], "not exported byte-identical")
            # One document a line, in the order they arrived, each exactly as in the docs file.
            self.assertEqual(out, b"".join(raw + b"\n" for _, raw in kept))

    def assert_normalizes_as_documented(self, payload):
        r = run("normalize", "--strict", input=compact(payload))
        self.assertEqual(r.code, 0, r.err)
        [record] = r.records()
        want = expected_record(payload)
        self.assertEqual(record["event"], want["event"])
        self.assertEqual(record["time"], want["time"])
        self.assertEqual(record["metadata"], want["metadata"])
        self.assertEqual(record["body"], want["body"])

    def test_canvas_docs_examples(self):
        payloads = self.docs_payloads("canvas", MODELED)
        self.assertEqual(len(payloads), 7)
        for name, payload in payloads:
            with self.subTest(example=name):
                self.assert_normalizes_as_documented(payload)

    def test_canvas_metadata_examples_outside_the_model(self):
        with open(os.path.join(self.root, "canvas-docs", "canvas", "metadata.json")) as f:
            examples = [e["payload"] for e in json.load(f)["examples"]]
        self.assertEqual(len(examples), 9)
        r = run("normalize", input="\n".join(compact(e) for e in examples))
        self.assertEqual(r.code, 0, r.err)
        records = r.records()
        self.assertEqual(len(records), 9)
        for payload, record in zip(examples, records):
            want = expected_record(payload)
            self.assertEqual(record["metadata"], want["metadata"])
            self.assertEqual(record["body"], payload["body"])  # kept as is
            self.assertEqual([w["path"] for w in record["warnings"]], ["/metadata/event_name"])

    def test_caliper_docs_examples(self):
        payloads = self.docs_payloads("caliper", CALIPER_MODELED)
        self.assertEqual(len(payloads), 2)
        for name, payload in payloads:
            with self.subTest(example=name):
                r = run("normalize", "--strict", input=compact(payload))
                self.assertEqual(r.code, 0, r.err)
                [record] = r.records()
                event = payload["data"][0]
                self.assertEqual(record["format"], "caliper")
                self.assertEqual(record["caliper_id"], event["id"])
                self.assertEqual(record["time"], utc(event["eventTime"]))
                canvas = event["extensions"]["com.instructure.canvas"]
                self.assertEqual(record["metadata"]["request_id"], canvas["request_id"])
                self.assertEqual(record["metadata"]["url"], canvas["request_url"])
                self.assertEqual(record["metadata"]["user_id"], event["actor"]["extensions"]["com.instructure.canvas"]["entity_id"])
                self.assertEqual(record["metadata"]["session_id"], event["session"]["id"].rsplit(":", 1)[1])
                obj_id = int(event["object"]["extensions"]["com.instructure.canvas"]["entity_id"])
                if event["type"] == "MessageEvent":
                    self.assertEqual(record["event"], "discussion_entry_created")
                    self.assertEqual(record["body"]["discussion_entry_id"], str(2107 * SHARD_FACTOR + obj_id))
                    self.assertEqual(record["body"]["text"], event["object"]["body"])
                    self.assertEqual(record["metadata"]["context_role"], "StudentEnrollment")
                else:
                    self.assertEqual(record["event"], "discussion_topic_created")
                    self.assertEqual(record["body"]["discussion_topic_id"], str(obj_id))
                    self.assertEqual(record["body"]["title"], event["object"]["name"])
                    self.assertIs(record["body"]["is_announcement"], True)
                    self.assertEqual(record["metadata"]["context_role"], "TeacherEnrollment")

    def test_spec_page_examples(self):
        pages = sorted(glob.glob(os.path.join(self.root, "..", "seeds", "*.txt")) if self.root != FIXTURES
                       else glob.glob(os.path.join(FIXTURES, "spec-pages", "*.txt")))
        self.assertEqual(len(pages), 5)
        total = 0
        for page in pages:
            with open(page, encoding="utf-8", errors="replace") as f:
                payloads = payloads_in_text(f.read())
            self.assertTrue(payloads, page)
            for payload in payloads:
                total += 1
                with self.subTest(page=os.path.basename(page), n=total):
                    if "metadata" in payload:
                        self.assert_normalizes_as_documented(payload)
                    else:
                        r = run("validate", "--strict", input=compact(payload))
                        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(total, 13)  # 3 + 1 + 3 conversation, 4 discussion, 2 forum

    def test_ims_caliper_files(self):
        files = sorted(glob.glob(os.path.join(self.root, "caliper-spec-v1p1", "caliperE*.json")))
        holding_events = [f for f in files if not os.path.basename(f).startswith("caliperEntity")]
        self.assertEqual(len(holding_events), 58)
        for path in holding_events:
            with self.subTest(file=os.path.basename(path)):
                r = run("validate", "--json", path)
                self.assertEqual(r.code, 0, r.err)
                for d in r.json_diags():
                    self.assertEqual(d["severity"], "warning")
                    self.assertTrue(any(m in d["message"] for m in ("outside the model", "outside levee's model",
                                                                    "not an event")), d)
        # Every one of them is read: the events are counted, none rejected.
        r = run("normalize", *holding_events)
        self.assertEqual(r.code, 0)
        self.assertIn("60 events in 58 documents: 60 valid, 0 rejected", r.err)
        self.assertEqual(len(r.records()), 60)


class TestProjectFixtures(Conformance, unittest.TestCase):
    root = FIXTURES
    docs_files_expected = {"canvas": 82, "caliper": 32}


@unittest.skipUnless(os.path.isdir(os.path.join(SHARED, "fixtures")), "../shared/fixtures is absent")
class TestSharedFixtures(Conformance, unittest.TestCase):
    root = os.path.join(SHARED, "fixtures")


if __name__ == "__main__":
    unittest.main()
