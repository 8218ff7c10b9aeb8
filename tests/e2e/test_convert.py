"""test_convert.py: `levee convert`: the Caliper form Canvas sends, field for field; replyTo for
replies; ids derived from content; refusals for events with no Caliper form; back to canvas."""
import json
import unittest

from lv import caliper_example, canvas_example, compact, mutate, run


def flatten(doc, prefix=""):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from flatten(v, prefix + "/" + k)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from flatten(v, prefix + "/" + str(i))
    else:
        yield prefix, doc


def convert(doc, to, *args):
    r = run("convert", "--to", to, *args, input=doc if isinstance(doc, str) else compact(doc))
    return r, r.records()


class TestToCaliper(unittest.TestCase):
    def test_entry_matches_canvas_forum_page(self):
        r, [env] = convert(canvas_example("discussion_entry_created"), "caliper")
        self.assertEqual(r.code, 0, r.err)
        ours = dict(flatten(env))
        theirs = dict(flatten(caliper_example("discussion_entry_created")))
        differing = {k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)}
        # Only the event id (derived), sendTime, and the reply's parent differ.
        self.assertEqual(differing, {"/data/0/id", "/sendTime", "/data/0/object/replyTo/id",
                                     "/data/0/object/replyTo/type"})
        self.assertEqual(ours["/data/0/object/replyTo/id"], "urn:instructure:canvas:discussionEntry:62152")
        self.assertEqual(list(env["data"][0]), list(caliper_example("discussion_entry_created")["data"][0]))

    def test_top_level_entry_has_no_reply_to(self):
        doc = mutate(canvas_example("discussion_entry_created"), "body/parent_discussion_entry_id", delete=True)
        _, [env] = convert(doc, "caliper")
        self.assertNotIn("replyTo", env["data"][0]["object"])

    def test_topic_round_trip_reproduces_canvas_example(self):
        example = caliper_example("discussion_topic_created")
        r, [canvas] = convert(example, "canvas")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(run("validate", "--strict", input=compact(canvas)).code, 0)
        _, [back] = convert(canvas, "caliper")
        ours, theirs = dict(flatten(back)), dict(flatten(example))
        self.assertEqual({k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k)},
                         {"/data/0/id", "/sendTime"})

    def test_id_is_derived_from_content(self):
        entry = canvas_example("discussion_entry_created")
        _, [a] = convert(entry, "caliper")
        _, [b] = convert(json.dumps(entry, indent=4), "caliper")  # same event, pretty-printed
        _, [c] = convert(mutate(entry, "body/text", "<p>edited</p>"), "caliper")
        self.assertRegex(a["data"][0]["id"], r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(a["data"][0]["id"], b["data"][0]["id"])
        self.assertNotEqual(a["data"][0]["id"], c["data"][0]["id"])

    def test_events_without_caliper_form_are_refused(self):
        for event in ("conversation_created", "conversation_forwarded", "conversation_message_created",
                      "discussion_entry_submitted", "discussion_topic_updated"):
            with self.subTest(event=event):
                r, out = convert(canvas_example(event), "caliper")
                self.assertEqual(r.code, 1)
                self.assertEqual(out, [])
                self.assertEqual(r.diag_lines(), ["<stdin>:1: %s: has no Caliper form: Canvas documents Caliper "
                                                  "only for discussion_entry_created and discussion_topic_created" % event])

    def test_mixed_input_converts_what_it_can(self):
        text = "\n".join(compact(canvas_example(e)) for e in ("conversation_created", "discussion_entry_created"))
        r, out = convert(text, "caliper")
        self.assertEqual(r.code, 1)
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0]["data"][0]["type"], "MessageEvent")

    def test_pretty(self):
        r = run("convert", "--to", "caliper", "--pretty", input=compact(canvas_example("discussion_entry_created")))
        self.assertEqual(r.code, 0)
        self.assertTrue(r.out.startswith('{\n  "sensor": "http://oxana.instructure.com/",\n'))
        json.loads(r.out)


class TestToCanvas(unittest.TestCase):
    def test_caliper_entry_to_canvas(self):
        r, [canvas] = convert(caliper_example("discussion_entry_created"), "canvas")
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(canvas["metadata"]["event_name"], "discussion_entry_created")
        self.assertEqual(canvas["metadata"]["user_id"], "21070000000098765")
        self.assertEqual(canvas["body"], {"discussion_entry_id": "2134567", "discussion_topic_id": "123456",
                                          "text": "<p>test this discussion</p>", "user_id": "98765"})
        self.assertEqual(run("validate", "--strict", input=compact(canvas)).code, 0)

    def test_canvas_round_trip_keeps_carried_fields(self):
        original = canvas_example("discussion_entry_created")
        _, [env] = convert(original, "caliper")
        _, [back] = convert(env, "canvas")
        for key, value in back["metadata"].items():
            self.assertEqual(value, original["metadata"][key], key)
        for key, value in back["body"].items():
            self.assertEqual(value, original["body"][key], key)
        carried_meta = {"root_account_id", "root_account_uuid", "root_account_lti_guid", "event_name", "event_time",
                        "user_id", "user_login", "user_sis_id", "context_type", "context_id", "context_role",
                        "request_id", "session_id", "hostname", "user_agent", "client_ip", "url", "referrer",
                        "producer"}
        self.assertEqual(set(back["metadata"]), carried_meta & set(original["metadata"]))
        self.assertEqual(set(back["body"]), set(original["body"]) - {"created_at"})

    def test_caliper_outside_model_has_no_canvas_form(self):
        event = {"@context": "http://purl.imsglobal.org/ctx/caliper/v1p1", "id": "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c",
                 "type": "SessionEvent", "actor": "https://example.edu/users/1", "action": "LoggedIn",
                 "object": "https://example.edu", "eventTime": "2017-11-15T10:15:00.000Z"}
        r, out = convert(event, "canvas")
        self.assertEqual(r.code, 1)
        self.assertEqual(out, [])
        self.assertIn("SessionEvent.LoggedIn: is a Caliper event outside levee's model, so it has no canvas form", r.err)

    def test_canvas_input_passes_through(self):
        entry = canvas_example("conversation_created")
        _, [out] = convert(entry, "canvas")
        self.assertEqual(out, entry)


if __name__ == "__main__":
    unittest.main()
