"""test_conformance.py: every example Canvas and IMS publish is read as documented. Canvas's
examples (docs files and spec pages) validate strictly and normalize to the values their
documentation states; every IMS Caliper 1.1 file that holds an event or envelope is read without
error. Expected values are computed here independently of levee (Python's datetime and the shard
arithmetic of DOMAIN.md). The same run over ../shared/fixtures is skipped when it is absent."""
import glob
import json
import os
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

    def docs_payloads(self, fmt):
        out = []
        for path in sorted(glob.glob(os.path.join(self.root, "canvas-docs", fmt, "event-types", "*.json"))):
            with open(path) as f:
                out += [(os.path.basename(path), e["payload"]) for e in json.load(f)["examples"]]
        return out

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
        payloads = self.docs_payloads("canvas")
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
        payloads = self.docs_payloads("caliper")
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


@unittest.skipUnless(os.path.isdir(os.path.join(SHARED, "fixtures")), "../shared/fixtures is absent")
class TestSharedFixtures(Conformance, unittest.TestCase):
    root = os.path.join(SHARED, "fixtures")


if __name__ == "__main__":
    unittest.main()
