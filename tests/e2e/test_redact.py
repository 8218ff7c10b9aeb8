"""test_redact.py: redaction at intake (`--redact FIELDS`, `--redact-key FILE`) on levee ingest, levee serve and
levee pull, checked as an operator would: the chosen personal fields are in no byte of the store file, its -wal,
the server's journal or its log (the bytes are searched for every value the input held; the same input stored
without redaction shows those bytes can be found, in the compression dictionary and the journal), while
queries, search and counts answer as before; a keyed hash is HMAC-SHA256 of the value as Python's hmac computes
it, the same across runs and stores, so a redacted event sent again is a duplicate; and access tokens in URLs
are scrubbed from what levee logs."""
import glob
import hashlib
import hmac
import json
import os
import re
import shutil
import tempfile
import unittest

from lv import run
from server import ServerTestCase
from test_sqs import SqsTestCase

PERSONAL = ("user_login", "user_sis_id", "client_ip", "user_agent", "session_id")
ALL = ",".join(PERSONAL) + ",url_query"
SECRET = "7~SECRETCANVASTOKEN"
KEY = "an-operator-key-0123456789abcdef"


def simulated(*args):
    r = run("simulate", "-q", "--days", "20", "--courses", "2", "--users", "40", *args)
    assert r.code == 0, r.err
    return r.out


def with_token_url(text):
    """The first canvas event again, with a url whose query carries an access token and a referrer with a query."""
    doc = json.loads(text.splitlines()[0])
    doc["metadata"]["url"] = "https://northfield.instructure.com/api/v1/courses/1?per_page=5&access_token=" + SECRET
    doc["metadata"]["referrer"] = "https://northfield.instructure.com/courses/1?module_item_id=77"
    doc["metadata"]["event_time"] = "2024-09-30T10:00:00.000Z"
    return json.dumps(doc)


def personal_values(text):
    """Every value of a personal field in the input, canvas or Caliper, as text."""
    out = set()
    for line in text.splitlines():
        doc = json.loads(line)
        if "metadata" in doc:
            out.update(doc["metadata"].get(k) for k in PERSONAL)
            continue
        for ev in doc["data"]:
            ext = ev["actor"].get("extensions", {}).get("com.instructure.canvas", {})
            out.update(ext.get(k) for k in ("user_login", "user_sis_id"))
            ext = ev.get("extensions", {}).get("com.instructure.canvas", {})
            out.update(ext.get(k) for k in ("client_ip", "user_agent"))
            if "session" in ev:
                out.add(ev["session"]["id"].rsplit(":", 1)[1])
    out.discard(None)
    out.add(SECRET)
    return {v for v in out if len(v) >= 6}  # a short value ("1") could match any bytes


def found_in(paths, values):
    data = b"".join(open(p, "rb").read() for p in paths if os.path.isfile(p))
    return sorted(v for v in values if v.encode() in data)


def store_files(db):
    return [db, db + "-wal", db + "-shm"] + glob.glob(db + ".journal/*.log")


class RedactIngestTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="levee-redact-")
        self.input = os.path.join(self.dir, "events.ndjson")
        canvas = simulated()
        self.text = canvas + with_token_url(canvas) + "\n" + simulated("--format", "caliper")
        with open(self.input, "w") as f:
            f.write(self.text)
        self.values = personal_values(self.text)
        self.key = os.path.join(self.dir, "redact.key")
        with open(self.key, "w") as f:
            f.write(KEY + "\n")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def ingest(self, db, *args):
        r = run("ingest", "--db", db, *args, self.input)
        self.assertEqual(r.code, 0, r.err)
        return r

    def test_removed_fields_are_in_no_byte_of_the_store_and_answers_stay(self):
        plain, redacted = os.path.join(self.dir, "plain.db"), os.path.join(self.dir, "redacted.db")
        self.ingest(plain)
        self.ingest(redacted, "--redact", ALL)
        # the control: stored as received, personal values can be read in the file's bytes (documents are
        # compressed, and the dictionary's training samples have logins, ids and addresses overwritten, so
        # only some are: those in the few documents stored before a dictionary, and user agents and URLs)
        self.assertGreater(len(found_in(store_files(plain), self.values)), 0)
        self.assertEqual(found_in(store_files(redacted), self.values), [])
        exported = run("export", "--db", redacted).out
        self.assertEqual(found_in_text(exported, self.values), [])
        # gone as members (a null, which holds nothing, is kept), in both forms
        for field in PERSONAL:
            self.assertFalse(re.search('"%s":"' % field, exported), field)
        self.assertFalse("access_token" in exported)
        self.assertFalse('"session":' in exported)
        self.assertIn('"url":"https://northfield.instructure.com/api/v1/courses/1"', exported)
        self.assertIn('"referrer":"https://northfield.instructure.com/courses/1"', exported)
        # the questions people ask get the same answers
        for args in (["stats", "--json"], ["query", "courses", "--json"], ["search", "the", "--json"]):
            a, b = run(*args, "--db", plain), run(*args, "--db", redacted)
            self.assertEqual(a.code, 0, a.err)
            if args[0] == "stats":
                sa, sb = json.loads(a.out), json.loads(b.out)
                self.assertEqual(sa["events"], sb["events"])
                self.assertEqual(sa["dead_letters"], sb["dead_letters"])
            else:
                self.assertEqual(a.out, b.out)
        self.assertEqual(run("check", "--db", redacted).code, 0)

    def test_keyed_hash_is_hmac_sha256_stable_across_runs_and_dedupes(self):
        one, two = os.path.join(self.dir, "one.db"), os.path.join(self.dir, "two.db")
        args = ("--redact", "client_ip,session_id,user_login,url_query", "--redact-key", self.key)
        self.ingest(one, *args)
        again = json.loads(run("ingest", "--db", one, "--json", *args, self.input).out)
        self.assertEqual(again["stored"], 0)  # the same input redacted the same way: duplicates
        self.assertGreater(again["duplicates"], 2000)
        self.ingest(two, *args)
        a, b = run("export", "--db", one).out, run("export", "--db", two).out
        self.assertEqual(a, b)
        first = next(m for m in (json.loads(l).get("metadata", {}) for l in self.text.splitlines()) if "client_ip" in m)
        mac = hmac.new(KEY.encode(), first["client_ip"].encode(), hashlib.sha256).hexdigest()[:32]
        self.assertIn('"client_ip":"%s"' % mac, a)
        self.assertNotIn(first["client_ip"], a)
        query = "per_page=5&access_token=" + SECRET
        mac = hmac.new(KEY.encode(), query.encode(), hashlib.sha256).hexdigest()[:32]
        self.assertIn("/api/v1/courses/1?%s" % mac, a)
        self.assertNotIn(SECRET, a)
        self.assertIn('"user_agent":"Mozilla', a)  # not chosen: kept

    def test_refused_lists_and_keys_are_said(self):
        db = os.path.join(self.dir, "x.db")
        r = run("ingest", "--db", db, "--redact", "user_id", self.input)
        self.assertEqual(r.code, 2)
        self.assertIn("user_id cannot be redacted", r.err)
        r = run("pull", "--sqs", "http://127.0.0.1:9/1/q", "--redact", "client_ip,nope")
        self.assertEqual(r.code, 2)
        self.assertIn('levee cannot redact "nope"', r.err)
        with open(os.path.join(self.dir, "short.key"), "w") as f:
            f.write("abc\n")
        r = run("ingest", "--db", db, "--redact", "client_ip", "--redact-key", os.path.join(self.dir, "short.key"),
                self.input)
        self.assertEqual(r.code, 2)
        self.assertIn("a key needs at least 16", r.err)
        r = run("ingest", "--db", db, "--redact-key", self.key, self.input)
        self.assertEqual(r.code, 2)
        self.assertIn("--redact-key FILE goes with --redact FIELDS", r.err)
        self.assertFalse(os.path.exists(db))


def found_in_text(text, values):
    return sorted(v for v in values if v in text)


class RedactServeTest(ServerTestCase):
    def test_serve_redacts_before_the_journal_and_logs_no_token(self):
        canvas = simulated("--days", "3")
        text = canvas + with_token_url(canvas) + "\n" + simulated("--days", "3", "--format", "caliper")
        values = personal_values(text)
        config = self.path("levee.conf")
        with open(config, "w") as f:
            f.write("redact = %s\n" % ALL)
        s = self.serve("--config", config, "--ingest-token", "ingest-secret-123",
                       "--sqs", "http://127.0.0.1:9/123456789012/q?access_token=" + SECRET,
                       "--sqs-endpoint", "http://127.0.0.1:9/", env=dict(os.environ, AWS_ACCESS_KEY_ID="a",
                                                                          AWS_SECRET_ACCESS_KEY="b",
                                                                          AWS_REGION="us-east-1"))
        lines = text.splitlines()
        for i in range(0, len(lines), 50):
            status, answer = s.post("/events?token=ingest-secret-123&access_token=" + SECRET,
                                    "\n".join(lines[i:i + 50]) + "\n", "application/x-ndjson")
            self.assertEqual(status, 200, answer)
        status, _ = s.get("/api/nothing?access_token=" + SECRET)
        self.assertEqual(status, 404)
        # acknowledged, so in the journal; then applied to the store: neither holds a personal value
        self.assertEqual(found_in(store_files(self.db), values), [])
        s.wait_applied(len(lines))
        self.assertEqual(found_in(store_files(self.db), values), [])
        self.assertEqual(s.stop(), 0)
        self.assertEqual(found_in(store_files(self.db), values), [])
        log = "\n".join(s.log)
        self.assertIn("redacting at intake", log)
        self.assertIn("msg=request method=POST path=/events", log)
        self.assertIn("access_token=[redacted]", log)  # the queue's URL, as the SQS receiver logs it
        self.assertNotIn(SECRET, log)
        self.assertNotIn("ingest-secret-123", log)
        exported = run("export", "--db", self.db).out
        self.assertEqual(len(exported.splitlines()), len(lines))
        self.assertEqual(found_in_text(exported, values), [])


class RedactPullTest(SqsTestCase):
    def test_pull_stores_messages_redacted(self):
        q = self.emulator.create_queue("canvas-live-events-redact")
        bodies = self.simulate("--days", "2")
        self.emulator.send(q, bodies)
        values = personal_values("\n".join(bodies))
        r = self.pull(q, "--drain", "--redact", ALL)
        self.assertEqual(r.code, 0, r.err)
        exported = run("export", "--db", self.db).out
        self.assertEqual(len(exported.splitlines()), len(bodies))
        self.assertEqual(found_in_text(exported, values), [])
        self.assertEqual(found_in(store_files(self.db), values), [])


if __name__ == "__main__":
    unittest.main()
