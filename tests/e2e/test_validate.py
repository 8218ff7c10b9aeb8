"""test_validate.py: `levee validate` as a user runs it: messages that name the source, line, event
and field; each error rule and warning rule; --strict; --json; input forms; exit statuses."""
import json
import os
import tempfile
import unittest

from lv import canvas_example, caliper_example, compact, mutate, run

ENTRY = canvas_example("discussion_entry_created")
TOPIC = canvas_example("discussion_topic_created")
CALIPER_ENTRY = caliper_example("discussion_entry_created")


class InTempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.cwd = os.getcwd()
        os.chdir(self.dir.name)

    def tearDown(self):
        os.chdir(self.cwd)
        self.dir.cleanup()

    def write(self, name, lines):
        with open(name, "w", newline="") as f:
            f.write("".join(l if l.endswith("\n") else l + "\n" for l in lines))
        return name


class TestMessages(InTempDir):
    def test_the_documented_message_shape(self):
        bad = mutate(ENTRY, "body/created_at", "2019-07-03 23:12:34")
        self.write("events.ndjson", [compact(ENTRY), compact(ENTRY), compact(bad)])
        r = run("validate", "events.ndjson")
        self.assertEqual(r.code, 1)
        self.assertEqual(r.diag_lines(), [
            'events.ndjson:3: discussion_entry_created: /body/created_at: '
            '"2019-07-03 23:12:34" has no UTC offset'])
        self.assertIn("3 events in 3 documents: 2 valid, 1 rejected", r.err)

    def test_json_diagnostics(self):
        bad = mutate(ENTRY, "body/created_at", "2019-07-03 23:12:34")
        self.write("events.ndjson", [compact(bad)])
        r = run("validate", "--json", "events.ndjson")
        self.assertEqual(r.code, 1)
        self.assertEqual(r.json_diags(), [{
            "source": "events.ndjson", "line": 1, "severity": "error",
            "event": "discussion_entry_created", "path": "/body/created_at",
            "message": '"2019-07-03 23:12:34" has no UTC offset'}])

    def test_stdin_is_named(self):
        r = run("validate", input="not json\n")
        self.assertEqual(r.code, 1)
        self.assertTrue(r.diag_lines()[0].startswith("<stdin>:1: not JSON:"), r.err)
        r2 = run("validate", "-", input="not json\n")
        self.assertEqual(r2.diag_lines(), r.diag_lines())

    def test_line_numbers_follow_pretty_documents(self):
        pretty = json.dumps(ENTRY, indent=2)
        bad = json.dumps(mutate(ENTRY, "body/discussion_entry_id", "x1"), indent=2)
        self.write("mixed.json", [pretty, "", bad])
        r = run("validate", "mixed.json")
        first_lines = pretty.count("\n") + 1
        self.assertEqual(r.code, 1)
        self.assertEqual(len(r.diag_lines()), 1)
        self.assertTrue(r.diag_lines()[0].startswith(
            "mixed.json:%d: discussion_entry_created: /body/discussion_entry_id:" % (first_lines + 2)), r.err)

    def test_crlf_input(self):
        self.write("crlf.ndjson", [compact(ENTRY) + "\r\n", compact(TOPIC) + "\r\n"])
        r = run("validate", "--strict", "crlf.ndjson")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("2 events in 2 documents: 2 valid, 0 rejected", r.err)

    def test_valid_rest_is_processed(self):
        self.write("e.ndjson", [compact(ENTRY), "{broken", compact(TOPIC)])
        r = run("normalize", "e.ndjson")
        self.assertEqual(r.code, 1)
        self.assertEqual([x["event"] for x in r.records()], ["discussion_entry_created", "discussion_topic_created"])
        self.assertEqual(len(r.diag_lines()), 1)
        self.assertTrue(r.diag_lines()[0].startswith("e.ndjson:2: not JSON:"))


class TestErrorRules(InTempDir):
    """Each error rule: the event is rejected, and the message names the field."""

    def check(self, doc, path, fragment, event="discussion_entry_created"):
        text = doc if isinstance(doc, str) else compact(doc)
        self.write("e.ndjson", [text])
        r = run("validate", "--json", "e.ndjson")
        self.assertEqual(r.code, 1, r.err)
        diags = [d for d in r.json_diags() if d["severity"] == "error"]
        self.assertTrue(diags, r.err)
        self.assertEqual(diags[0]["path"], path, diags)
        self.assertIn(fragment, diags[0]["message"])
        self.assertEqual(diags[0]["event"], event)
        self.assertIn("0 valid, 1 rejected", r.err)

    def test_not_json(self):
        self.check('{"metadata": {"event_name": "x",}}', "", "not JSON", event=None)

    def test_not_an_object(self):
        self.check("[1, 2, 3]", "", "not an object", event=None)

    def test_no_event_name(self):
        self.check(mutate(ENTRY, "metadata/event_name", delete=True), "/metadata/event_name", "is missing", event=None)

    def test_no_event_time(self):
        self.check(mutate(ENTRY, "metadata/event_time", delete=True), "/metadata/event_time", "is missing")

    def test_timestamp_without_offset(self):
        self.check(mutate(ENTRY, "body/created_at", "2019-07-03T23:12:34"), "/body/created_at", "has no UTC offset")

    def test_impossible_date(self):
        self.check(mutate(ENTRY, "metadata/event_time", "2019-02-29T19:11:03.933Z"), "/metadata/event_time",
                   "impossible date (February 2019 has 28 days)")

    def test_id_not_decimal(self):
        self.check(mutate(ENTRY, "body/discussion_entry_id", "2134567abc"), "/body/discussion_entry_id",
                   '"2134567abc" is not a decimal id')

    def test_id_too_large(self):
        self.check(mutate(ENTRY, "metadata/user_id", "92233720368547758070"), "/metadata/user_id",
                   "does not fit in a 64-bit id")

    def test_known_field_wrong_type(self):
        self.check(mutate(TOPIC, "body/is_announcement", "no"), "/body/is_announcement",
                   'expected true or false, got the string "no"', event="discussion_topic_created")

    def test_missing_required_body_id(self):
        self.check(mutate(ENTRY, "body/discussion_topic_id", delete=True), "/body/discussion_topic_id",
                   "is missing; every discussion_entry_created event needs it")

    def test_caliper_missing_required_property(self):
        self.check(mutate(CALIPER_ENTRY, "data/0/actor", delete=True), "/data/0/actor",
                   "every Caliper event needs it")

    def test_caliper_wrong_data_version(self):
        self.check(mutate(CALIPER_ENTRY, "dataVersion", "http://purl.imsglobal.org/ctx/caliper/v1p2"),
                   "/dataVersion", "is not Caliper 1.1")

    def test_over_a_million_bytes(self):
        doc = mutate(ENTRY, "body/text", "x" * 1000001)
        self.check(doc, "", "refuse events over 1000000 bytes", event=None)


class TestWarningRules(InTempDir):
    """Each warning rule: the event is valid and kept; --strict rejects it."""

    def check(self, doc, path, fragment):
        self.write("e.ndjson", [compact(doc)])
        r = run("validate", "--json", "e.ndjson")
        self.assertEqual(r.code, 0, r.err)
        warnings = [d for d in r.json_diags() if d["severity"] == "warning"]
        self.assertEqual([w["path"] for w in warnings], [path])
        self.assertIn(fragment, warnings[0]["message"])
        strict = run("validate", "--strict", "e.ndjson")
        self.assertEqual(strict.code, 1)
        self.assertIn("0 valid, 1 rejected", strict.err)
        # the text form says it is a warning
        text = run("validate", "e.ndjson")
        self.assertIn(": warning: ", text.diag_lines()[0])

    def test_event_outside_the_model(self):
        self.check(mutate(ENTRY, "metadata/event_name", "submission_created"), "/metadata/event_name",
                   "outside levee's model")

    def test_unknown_field(self):
        self.check(mutate(ENTRY, "body/reactions", 3), "/body/reactions", "kept as is")

    def test_unknown_enumeration_value(self):
        self.check(mutate(TOPIC, "body/workflow_state", "locked"), "/body/workflow_state",
                   '"locked" is not one of the documented values')

    def test_text_over_8192_characters(self):
        self.check(mutate(ENTRY, "body/text", "é" * 8193), "/body/text", "is 8193 characters long")

    def test_8192_characters_is_fine(self):
        self.write("e.ndjson", [compact(mutate(ENTRY, "body/text", "é" * 8192))])
        self.assertEqual(run("validate", "--strict", "e.ndjson").code, 0)


if __name__ == "__main__":
    unittest.main()
