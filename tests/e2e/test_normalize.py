"""test_normalize.py: levee's canonical record: its shape, UTC times, exact ids, local ids made
global, unknown fields kept, and the same record from both formats."""
import json
import unittest

from lv import caliper_example, canvas_example, compact, mutate, run

ENTRY = canvas_example("discussion_entry_created")


def normalize(doc, *args):
    text = doc if isinstance(doc, str) else compact(doc)
    r = run("normalize", *args, input=text)
    return r, r.records()


class TestRecord(unittest.TestCase):
    def test_shape(self):
        r, [rec] = normalize(ENTRY)
        self.assertEqual(r.code, 0)
        self.assertEqual(list(rec), ["event", "format", "time", "metadata", "body"])
        self.assertEqual(rec["event"], "discussion_entry_created")
        self.assertEqual(rec["format"], "canvas")
        self.assertEqual(rec["time"], "2019-11-01T19:11:03.933Z")
        self.assertEqual(len(r.out.splitlines()), 1)

    def test_offsets_become_utc(self):
        _, [rec] = normalize(canvas_example("conversation_forwarded"))
        self.assertEqual(rec["body"]["updated_at"], "2020-03-30T17:18:51.000Z")  # was 11:18:51-06:00
        doc = mutate(ENTRY, "metadata/event_time", "2019-11-01T14:11:03.933-05:00")
        _, [rec] = normalize(doc)
        self.assertEqual(rec["time"], "2019-11-01T19:11:03.933Z")
        doc = mutate(ENTRY, "body/created_at", "2019-07-04T04:42:34+05:30")
        _, [rec] = normalize(doc)
        self.assertEqual(rec["body"]["created_at"], "2019-07-03T23:12:34.000Z")

    def test_local_ids_join_global_ids(self):
        _, [rec] = normalize(ENTRY)
        # body user 98765 is metadata user 21070000000098765 (shard 2107 of the root account)
        self.assertEqual(rec["body"]["user_id"], "21070000000098765")
        self.assertEqual(rec["body"]["user_id"], rec["metadata"]["user_id"])
        self.assertEqual(rec["body"]["discussion_topic_id"], "21070000000123456")
        self.assertEqual(rec["body"]["parent_discussion_entry_id"], "21070000000062152")

    def test_ids_stay_exact_above_2_53(self):
        raw = compact(ENTRY).replace('"user_id":"21070000000098765"', '"user_id":21070000000098765')
        raw = raw.replace('"discussion_entry_id":"2134567"', '"discussion_entry_id":9007199254740993')
        self.assertIn("21070000000098765,", raw)
        r, [rec] = normalize(raw)
        self.assertEqual(r.code, 0, r.err)
        # parse the output without floats: the ids are strings
        self.assertIn('"user_id":"21070000000098765"', r.out)
        self.assertEqual(rec["body"]["discussion_entry_id"], "9007199254740993")  # 2^53 + 1

    def test_unknown_fields_are_kept_with_warnings(self):
        doc = mutate(mutate(ENTRY, "body/reactions", {"like": [1, 2]}), "metadata/datacenter", "us-east")
        r, [rec] = normalize(doc)
        self.assertEqual(r.code, 0)
        self.assertEqual(rec["body"]["reactions"], {"like": [1, 2]})
        self.assertEqual(rec["metadata"]["datacenter"], "us-east")
        self.assertEqual(sorted(w["path"] for w in rec["warnings"]), ["/body/reactions", "/metadata/datacenter"])

    def test_nulls_are_kept(self):
        doc = mutate(canvas_example("discussion_topic_updated"), "body/lock_at", None)
        _, [rec] = normalize(doc)
        self.assertIsNone(rec["body"]["lock_at"])
        self.assertNotIn("warnings", rec)

    def test_outside_the_model_is_kept_as_is(self):
        doc = {"metadata": {"event_name": "grade_change", "event_time": "2019-11-01T00:07:59.125-07:00",
                            "root_account_id": "21070000000000001"},
               "body": {"grade": "A", "score": 9.5, "nested": {"a": [None, True]}}}
        r, [rec] = normalize(doc)
        self.assertEqual(r.code, 0)
        self.assertEqual(rec["event"], "grade_change")
        self.assertEqual(rec["time"], "2019-11-01T07:07:59.125Z")
        self.assertEqual(rec["body"], doc["body"])

    def test_both_formats_give_comparable_records(self):
        # The canvas entry, converted to Caliper by levee, normalizes to the same values for every
        # field the Caliper form carries.
        canvas_rec = normalize(ENTRY)[1][0]
        caliper = run("convert", "--to", "caliper", input=compact(ENTRY)).out
        caliper_rec = normalize(caliper)[1][0]
        self.assertEqual(caliper_rec["format"], "caliper")
        self.assertEqual(caliper_rec["event"], canvas_rec["event"])
        self.assertEqual(caliper_rec["time"], canvas_rec["time"])
        for key, value in caliper_rec["metadata"].items():
            self.assertEqual(value, canvas_rec["metadata"][key], key)
        for key in ("discussion_entry_id", "discussion_topic_id", "parent_discussion_entry_id", "text", "user_id"):
            self.assertEqual(caliper_rec["body"][key], canvas_rec["body"][key], key)
        # and what Caliper does not carry is absent, not invented
        self.assertNotIn("created_at", caliper_rec["body"])
        self.assertNotIn("http_method", caliper_rec["metadata"])

    def test_caliper_envelope_with_several_events(self):
        env = caliper_example("discussion_entry_created")
        second = json.loads(json.dumps(env["data"][0]))
        second["object"]["id"] = "urn:instructure:canvas:discussionEntry:2134568"
        second["object"]["extensions"]["com.instructure.canvas"]["entity_id"] = "2134568"
        env["data"].append(second)
        r, recs = normalize(env)
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual([x["body"]["discussion_entry_id"] for x in recs], ["21070000002134567", "21070000002134568"])


if __name__ == "__main__":
    unittest.main()
