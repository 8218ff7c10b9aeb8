"""test_simulate.py: `levee simulate`: every simulated event is valid in both formats; the model keeps
Canvas's invariants (replies after their parents, conversation events after the conversation,
submissions paired with entries on graded topics, topic updates that change something, Canvas's
text cut, varied offsets, event_time order); output is deterministic; delivery to a URL posts one
event per request, retries failures, and signs JWTs that verify against --print-jwks."""
import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from datetime import datetime

from lv import levee_path, run

SMALL = ("--days", "3", "--courses", "2", "--users", "30")
MEDIUM = ("--days", "7", "--courses", "3", "--users", "80", "--seed", "11")
SHARD_FACTOR = 10 ** 13
TOPIC_FIELDS = ("assignment_id", "body", "context_id", "context_type", "is_announcement", "lock_at",
                "title", "workflow_state")


def utc(ts):
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def simulate(*args, timeout=120):
    r = run("simulate", "-q", *args, timeout=timeout)
    if r.code != 0:
        raise AssertionError("levee simulate %s failed (%d): %s" % (" ".join(args), r.code, r.err))
    return r


class Simulated(unittest.TestCase):
    """One medium simulation shared by the invariant tests."""

    @classmethod
    def setUpClass(cls):
        cls.out = simulate(*MEDIUM).out
        cls.events = [json.loads(line) for line in cls.out.splitlines()]
        cls.root = int(cls.events[0]["metadata"]["root_account_id"])
        cls.shard = cls.root // SHARD_FACTOR

    def of(self, name):
        return [e for e in self.events if e["metadata"]["event_name"] == name]

    def test_every_kind_is_simulated(self):
        names = {e["metadata"]["event_name"] for e in self.events}
        self.assertEqual(names, {"conversation_created", "conversation_forwarded", "conversation_message_created",
                                 "discussion_entry_created", "discussion_entry_submitted",
                                 "discussion_topic_created", "discussion_topic_updated"})

    def test_canvas_events_pass_strict_validation(self):
        r = run("validate", "--strict", input=self.out)
        self.assertEqual(r.code, 0, r.err[-2000:])
        self.assertIn("%d valid, 0 rejected, 0 warnings" % len(self.events), r.err)

    def test_caliper_events_pass_strict_validation_and_are_the_documented_kinds(self):
        out = simulate(*MEDIUM, "--format", "caliper").out
        docs = [json.loads(line) for line in out.splitlines()]
        kinds = {(d["data"][0]["type"], d["data"][0]["action"]) for d in docs}
        self.assertEqual(kinds, {("MessageEvent", "Posted"), ("ThreadEvent", "Created")})
        want = len(self.of("discussion_entry_created")) + len(self.of("discussion_topic_created"))
        self.assertEqual(len(docs), want)
        r = run("validate", "--strict", input=out)
        self.assertEqual(r.code, 0, r.err[-2000:])
        self.assertIn("%d valid, 0 rejected, 0 warnings" % len(docs), r.err)
        # The same events, read back: Caliper and canvas agree on what happened.
        canvas = run("normalize", input=self.out).records()
        caliper = run("normalize", input=out).records()
        ids = lambda recs, name, field: [r["body"][field] for r in recs if r["event"] == name]
        self.assertEqual(ids(canvas, "discussion_entry_created", "discussion_entry_id"),
                         ids(caliper, "discussion_entry_created", "discussion_entry_id"))

    def test_events_are_in_event_time_order(self):
        times = [utc(e["metadata"]["event_time"]) for e in self.events]
        self.assertEqual(times, sorted(times))
        for e in self.events:
            self.assertRegex(e["metadata"]["event_time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_a_reply_follows_its_parent_in_the_same_topic(self):
        topic_of = {}
        replies = 0
        for e in self.of("discussion_entry_created"):
            b = e["body"]
            parent = b.get("parent_discussion_entry_id")
            if parent is not None:
                replies += 1
                self.assertIn(parent, topic_of, "reply %s before its parent" % b["discussion_entry_id"])
                self.assertEqual(topic_of[parent], b["discussion_topic_id"])
            self.assertNotIn(b["discussion_entry_id"], topic_of)
            topic_of[b["discussion_entry_id"]] = b["discussion_topic_id"]
        self.assertGreater(replies, 10)
        # nested: some replies answer replies
        parents = {e["body"]["discussion_entry_id"]: e["body"].get("parent_discussion_entry_id")
                   for e in self.of("discussion_entry_created")}
        self.assertTrue(any(parents.get(p) for p in parents.values() if p))

    def test_entries_only_in_topics_created_earlier(self):
        topics = set()
        for e in self.events:
            name, b = e["metadata"]["event_name"], e["body"]
            if name == "discussion_topic_created":
                topics.add(int(b["discussion_topic_id"]) % SHARD_FACTOR)
            elif name.startswith("discussion_entry"):
                self.assertIn(int(b["discussion_topic_id"]), topics)

    def test_conversation_events_follow_the_conversation(self):
        created = set()
        forwarded = 0
        for i, e in enumerate(self.events):
            name, b = e["metadata"]["event_name"], e["body"]
            if name == "conversation_created":
                self.assertNotIn(b["conversation_id"], created)
                created.add(b["conversation_id"])
            elif name in ("conversation_forwarded", "conversation_message_created"):
                self.assertIn(b["conversation_id"], created, "%s before the conversation" % name)
            if name == "conversation_forwarded":
                forwarded += 1
                # the system message about the added users, in the same request
                same = [x for x in self.events[i + 1:i + 6]
                        if x["metadata"].get("request_id") == e["metadata"]["request_id"]]
                self.assertTrue(same and same[0]["metadata"]["event_name"] == "conversation_message_created")
                self.assertEqual(same[0]["body"]["conversation_id"], b["conversation_id"])
        self.assertGreater(forwarded, 0)
        # usually no context_* on conversation events
        conv = [e for e in self.events if e["metadata"]["event_name"].startswith("conversation")]
        with_context = [e for e in conv if "context_id" in e["metadata"]]
        self.assertLess(len(with_context), len(conv) / 2)

    def test_submissions_pair_with_entries_on_graded_topics(self):
        graded = {}  # local topic id -> assignment id, from topic events
        for e in self.events:
            if e["metadata"]["event_name"].startswith("discussion_topic"):
                b = e["body"]
                graded[int(b["discussion_topic_id"]) % SHARD_FACTOR] = b["assignment_id"]
        created = {}
        for e in self.events:
            name, b, m = e["metadata"]["event_name"], e["body"], e["metadata"]
            if name == "discussion_entry_created":
                created[b["discussion_entry_id"]] = e
            elif name == "discussion_entry_submitted":
                entry = created.get(b["discussion_entry_id"])
                self.assertIsNotNone(entry, "submitted before created")
                self.assertEqual(entry["metadata"]["request_id"], m["request_id"])
                for field in ("created_at", "discussion_topic_id", "text", "user_id"):
                    self.assertEqual(entry["body"][field], b[field])
                self.assertEqual(entry["body"].get("parent_discussion_entry_id"), b.get("parent_discussion_entry_id"))
                self.assertIsNotNone(graded.get(int(b["discussion_topic_id"])))
                self.assertEqual(b["assignment_id"], graded[int(b["discussion_topic_id"])])
                self.assertRegex(b["submission_id"], r"^\d+$")
                self.assertEqual(m["context_role"], "StudentEnrollment")
        self.assertGreater(len(self.of("discussion_entry_submitted")), 5)
        # one student, one assignment: one submission id
        sub = {}
        for e in self.of("discussion_entry_submitted"):
            key = (e["body"]["user_id"], e["body"]["assignment_id"])
            self.assertEqual(sub.setdefault(key, e["body"]["submission_id"]), e["body"]["submission_id"])

    def test_topic_updates_follow_creation_and_change_something(self):
        state = {}
        for e in self.events:
            name, b = e["metadata"]["event_name"], e["body"]
            if not name.startswith("discussion_topic"):
                continue
            tid = b["discussion_topic_id"]
            now = tuple(json.dumps(b.get(f)) for f in TOPIC_FIELDS)
            if name == "discussion_topic_created":
                self.assertNotIn(tid, state)
            else:
                self.assertIn(tid, state, "update of a topic never created")
                self.assertNotEqual(state[tid], now, "update that changes only updated_at")
            state[tid] = now
        updates = self.of("discussion_topic_updated")
        self.assertGreater(len(updates), 3)
        states = {(e["metadata"]["event_name"], e["body"]["workflow_state"]) for e in self.events
                  if e["metadata"]["event_name"].startswith("discussion_topic")}
        for want in (("discussion_topic_created", "unpublished"), ("discussion_topic_created", "post_delayed"),
                     ("discussion_topic_updated", "active")):
            self.assertIn(want, states)

    def test_body_timestamps_are_whole_seconds_in_varied_offsets(self):
        offsets = set()
        for e in self.events:
            for f in ("created_at", "updated_at", "lock_at"):
                v = e["body"].get(f)
                if v is None:
                    continue
                m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$", v)
                self.assertIsNotNone(m, v)
                offsets.add(m.group(1))
                if f == "created_at":
                    self.assertLessEqual(utc(v), utc(e["metadata"]["event_time"]))
        self.assertGreaterEqual(len(offsets), 3, offsets)
        self.assertIn("Z", offsets)  # background jobs write UTC

    def test_metadata_as_canvas_sets_it(self):
        requests = {}
        for e in self.events:
            m, b, name = e["metadata"], e["body"], e["metadata"]["event_name"]
            self.assertEqual(int(m["root_account_id"]), self.root)
            self.assertTrue(m["root_account_lti_guid"].startswith(m["root_account_uuid"] + "."))
            if "job_id" in m:
                self.assertIn(m["job_tag"], ("Canvas::Migration::Worker::CourseCopyWorker#perform",
                                             "DiscussionTopic#update_based_on_date"))
                for f in ("user_id", "request_id", "session_id", "url", "http_method"):
                    self.assertNotIn(f, m)
                continue
            for f in ("user_id", "user_login", "user_account_id", "request_id", "hostname", "http_method",
                      "user_agent", "client_ip", "url"):
                self.assertIn(f, m, name)
            self.assertTrue(m["url"].startswith("https://%s/" % m["hostname"]))
            for f in ("user_id", "user_account_id", "context_id", "context_account_id", "real_user_id"):
                if m.get(f) is not None:
                    self.assertEqual(int(m[f]) // SHARD_FACTOR, self.shard, f)
            # body ids local, but a topic's own id global
            for f, v in b.items():
                if f.endswith("_id") and v is not None:
                    is_global = int(v) >= SHARD_FACTOR
                    self.assertEqual(is_global, name.startswith("discussion_topic") and f == "discussion_topic_id",
                                     "%s %s=%s" % (name, f, v))
            if name.startswith("discussion"):
                self.assertIn("context_role", m)
                # the API path names the context (the GraphQL endpoint does not; its page does)
                where = m["referrer"] if m["url"].endswith("/api/graphql") else m["url"]
                self.assertIn("/%s/" % ("groups" if m["context_type"] == "Group" else "courses"), where)
            if name.startswith("discussion_entry"):
                self.assertEqual(m["http_method"], "POST")
                self.assertEqual(int(m["user_id"]) % SHARD_FACTOR, int(b["user_id"]))
            if m.get("developer_key_id"):
                self.assertIsNone(m["referrer"])
            # one request: one user, one session
            key = (m["user_id"], m.get("session_id"), m["url"])
            self.assertEqual(requests.setdefault(m["request_id"], key), key)
        roles = {e["metadata"].get("context_role") for e in self.events}
        for role in ("StudentEnrollment", "TeacherEnrollment", "GroupMembership"):
            self.assertIn(role, roles)
        self.assertTrue(any("developer_key_id" in e["metadata"] for e in self.events))
        self.assertTrue(any(e["metadata"].get("time_zone") is None and "user_id" in e["metadata"]
                            for e in self.events))
        sessions = {e["metadata"].get("session_id") for e in self.events} - {None}
        self.assertGreater(len(sessions), 20)


class Text(unittest.TestCase):
    def test_long_texts_are_cut_as_canvas_cuts(self):
        out = simulate("--days", "10", "--courses", "4", "--users", "150", "--seed", "5").out
        cut = 0
        unicode_seen = False
        for line in out.splitlines():
            b = json.loads(line)["body"]
            for f in ("text", "body", "title"):
                t = b.get(f)
                if not t:
                    continue
                unicode_seen |= any(ord(ch) > 127 for ch in t)
                self.assertLessEqual(len(t), 8192)
                if len(t) > 8000 and t.endswith("..."):
                    cut += 1
                    kept = t[:-3]
                    # Rails' truncate(8192, separator: " "): at most 8189 characters, backed up to
                    # the last space (so the kept text never ends in one), then "..."
                    self.assertLessEqual(len(kept), 8189)
                    self.assertGreater(len(kept), 8189 - 120)
                    self.assertFalse(kept.endswith(" "))
        self.assertGreater(cut, 0)
        self.assertTrue(unicode_seen)


class Determinism(unittest.TestCase):
    def test_same_seed_same_bytes_different_seed_different_bytes(self):
        a = simulate(*SMALL, "--seed", "42").out
        b = simulate(*SMALL, "--seed", "42").out
        c = simulate(*SMALL, "--seed", "43").out
        self.assertGreater(len(a), 1000)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        ca = simulate(*SMALL, "--seed", "42", "--format", "caliper").out
        self.assertEqual(ca, simulate(*SMALL, "--seed", "42", "--format", "caliper").out)

    def test_to_file_writes_what_stdout_gets(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "events.ndjson")
            r = run("simulate", *SMALL, "--to", path)
            self.assertEqual(r.code, 0, r.err)
            self.assertIn("events written to %s" % path, r.err)
            with open(path) as f:
                self.assertEqual(f.read(), simulate(*SMALL).out)

    def test_start_moves_the_simulation(self):
        out = simulate("--days", "1", "--courses", "1", "--users", "20", "--start", "2025-01-13T08:00:00-05:00").out
        times = [utc(json.loads(line)["metadata"]["event_time"]) for line in out.splitlines()]
        self.assertTrue(times)
        self.assertGreaterEqual(min(times), utc("2025-01-13T13:00:00Z"))
        self.assertLess(max(times), utc("2025-01-14T13:01:00Z"))

    def test_rate_paces_the_output(self):
        n = len(simulate("--days", "1", "--courses", "1", "--users", "12").out.splitlines())
        self.assertGreater(n, 3)
        rate = max(20, n * 4)  # about a quarter of a second in all
        t0 = time.monotonic()
        r = run("simulate", "-q", "--days", "1", "--courses", "1", "--users", "12", "--rate", str(rate))
        elapsed = time.monotonic() - t0
        self.assertEqual(r.code, 0, r.err)
        self.assertEqual(len(r.out.splitlines()), n)
        self.assertGreaterEqual(elapsed, (n - 1) / rate * 0.9)

    def test_live_mode_dates_events_by_the_wall_clock(self):
        """--speed F: the simulated clock starts now and runs F times as fast; no event is sent
        before its time on that clock (so with --live, F = 1, none is dated ahead of the wall
        clock). F is high so that any hour of the day yields events within seconds."""
        speed = 600
        t0 = time.time()
        proc = subprocess.Popen([levee_path(), "simulate", "-q", "--speed", str(speed), "--courses", "50",
                                 "--users", "3000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = []
        try:
            for line in proc.stdout:
                received = time.time()
                seen.append((utc(json.loads(line)["metadata"]["event_time"]).timestamp(), received))
                if len(seen) == 20 or received - t0 > 60:
                    break
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.assertEqual(len(seen), 20)
        for event_time, received in seen:
            self.assertGreaterEqual(event_time, t0 - 1)  # the simulation starts now, not at --start's default
            self.assertLessEqual(event_time, t0 + speed * (received - t0) + 1)  # never sent ahead of its time
        self.assertGreater(seen[-1][0], seen[0][0])

    def test_live_mode_refuses_a_second_pace(self):
        for args, message in ((["--live", "--rate", "3"], "--rate and --live (or --speed) are two different paces"),
                              (["--live", "--start", "2024-09-02"], "it takes no --start"),
                              (["--speed", "0"], "--speed must be a number above 0")):
            r = run("simulate", *args)
            self.assertEqual(r.code, 2, r.err)
            self.assertIn(message, r.err)


class UsageErrors(unittest.TestCase):
    def check(self, args, message):
        r = run("simulate", *args)
        self.assertEqual(r.code, 2, r.err)
        self.assertIn(message, r.err)
        self.assertEqual(r.out, "")

    def test_bad_options_are_named(self):
        self.check(["--users", "1"], "--users must be a whole number from 2 to 1000000, not '1'")
        self.check(["--courses", "x"], "--courses must be a whole number from 1 to 100000, not 'x'")
        self.check(["--days", "-3"], "--days must be a whole number from 1 to 3660, not '-3'")
        self.check(["--seed", "1.5"], "--seed must be a whole number")
        self.check(["--format", "xapi"], "--format must be canvas or caliper, not 'xapi'")
        self.check(["--rate", "0"], "--rate must be a number of events per second above 0")
        self.check(["--start", "2024-02-30"], "--start must be a date")
        self.check(["--start", "2024-09-02 10:00:00"], "has no UTC offset")
        self.check(["--kid", "k1"], "--sign-key and --kid go together")
        self.check(["--print-jwks"], "--print-jwks needs --sign-key PEM and --kid ID")
        self.check(["--bogus"], "unknown option '--bogus'")
        self.check(["--users"], "--users needs a value")
        self.check(["events.ndjson"], "takes no file names")
        self.check(["--to", "/nonexistent/dir/x.ndjson"], "cannot create /nonexistent/dir/x.ndjson")

    def test_bad_keys_are_explained(self):
        with tempfile.TemporaryDirectory() as d:
            self.check(["--sign-key", os.path.join(d, "none.pem"), "--kid", "k", "--print-jwks"], "cannot open")
            junk = os.path.join(d, "junk.pem")
            with open(junk, "w") as f:
                f.write("not a key\n")
            self.check(["--sign-key", junk, "--kid", "k", "--print-jwks"], "holds no PEM private key")
            if shutil.which("openssl"):
                small = os.path.join(d, "small.pem")
                subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024",
                                "-out", small], check=True, capture_output=True)
                self.check(["--sign-key", small, "--kid", "k", "--print-jwks"], "1024-bit RSA key")
                ec = os.path.join(d, "ec.pem")
                subprocess.run(["openssl", "genpkey", "-algorithm", "ED25519", "-out", ec], check=True,
                               capture_output=True)
                self.check(["--sign-key", ec, "--kid", "k", "--print-jwks"], "is not an RSA key")


# ---- delivery over HTTP ----

class Recorder(http.server.BaseHTTPRequestHandler):
    """Records each POST; answers 500 to the bodies the server was told to fail."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per keep-alive answer

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        srv = self.server
        with srv.lock:
            srv.posts.append((self.path, self.headers.get("Content-Type"), body))
            srv.connections.add(self.client_address)
            n = srv.seen.get(body, 0)
            srv.seen[body] = n + 1
            if n == 0:
                srv.order.append(body)
            fail = srv.fail(srv.order.index(body), body, n)
        code = 500 if fail else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, fail=lambda index, body, attempt: False):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
        self.httpd.posts, self.httpd.seen, self.httpd.order = [], {}, []
        self.httpd.connections = set()
        self.httpd.lock = threading.Lock()
        self.httpd.fail = fail
        self.httpd.daemon_threads = True
        self.url = self.httpd.url = "http://127.0.0.1:%d/events" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self.httpd

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rs256_verify(jwt, jwk):
    """RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 8.2.2), with Python's integers."""
    head, payload, sig = jwt.split(".")
    n = int.from_bytes(b64url_decode(jwk["n"]), "big")
    e = int.from_bytes(b64url_decode(jwk["e"]), "big")
    k = (n.bit_length() + 7) // 8
    s = int.from_bytes(b64url_decode(sig), "big")
    if len(b64url_decode(sig)) != k or s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420")
    t = digest_info + hashlib.sha256((head + "." + payload).encode()).digest()
    return em == b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t


class Delivery(unittest.TestCase):
    def test_one_post_per_event_on_one_connection(self):
        want = simulate(*SMALL).out.splitlines()
        with Server() as srv:
            r = run("simulate", *SMALL, "--to", srv.url, timeout=60)
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("%d events sent to" % len(want), r.err)
        self.assertIn("0 failed", r.err)
        self.assertEqual([p[2].decode() for p in srv.posts], want)
        self.assertTrue(all(p[0] == "/events" and p[1] == "application/json" for p in srv.posts))
        self.assertEqual(len(srv.connections), 1)

    def test_failures_are_retried_then_reported(self):
        # the 2nd event fails once (then gets through); the 4th fails every time
        def fail(index, body, attempt):
            return (index == 1 and attempt == 0) or index == 3
        args = ("--days", "1", "--courses", "1", "--users", "12")
        want = simulate(*args).out.splitlines()
        self.assertGreater(len(want), 5)
        with Server(fail) as srv:
            r = run("simulate", *args, "--to", srv.url, timeout=60)
        self.assertEqual(r.code, 1, r.err)
        self.assertEqual(srv.seen[want[1].encode()], 2)
        self.assertEqual(srv.seen[want[3].encode()], 4)  # 1 + 3 retries
        self.assertIn("was not delivered to %s: it answered HTTP 500 after 4 attempts" % srv.url, r.err)
        self.assertIn("%d events sent to %s, 1 failed, 4 retries" % (len(want) - 1, srv.url), r.err)
        self.assertEqual(srv.order, [w.encode() for w in want])  # and it went on

    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl command")
    def test_signed_events_verify_against_the_jwks(self):
        with tempfile.TemporaryDirectory() as d:
            key = os.path.join(d, "key.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", key], check=True, capture_output=True)
            r = run("simulate", "--print-jwks", "--sign-key", key, "--kid", "2024-09")
            self.assertEqual(r.code, 0, r.err)
            jwks = json.loads(r.out)
            self.assertEqual(len(jwks["keys"]), 1)
            jwk = jwks["keys"][0]
            self.assertEqual((jwk["kty"], jwk["kid"], jwk["alg"], jwk["use"]), ("RSA", "2024-09", "RS256", "sig"))
            modulus = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True,
                                     capture_output=True).stdout.decode().strip().split("=")[1]
            self.assertEqual(int(modulus, 16), int.from_bytes(b64url_decode(jwk["n"]), "big"))

            want = simulate(*SMALL).out.splitlines()
            before = int(time.time())
            with Server() as srv:
                r = run("simulate", *SMALL, "--sign-key", key, "--kid", "2024-09", "--to", srv.url, timeout=60)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(len(srv.posts), len(want))
            for (path, ctype, body), event in zip(srv.posts, want):
                token = body.decode()
                self.assertEqual(ctype, "application/jwt")
                self.assertRegex(token, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
                header = json.loads(b64url_decode(token.split(".")[0]))
                self.assertEqual(header, {"alg": "RS256", "typ": "JWT", "kid": "2024-09"})
                self.assertTrue(rs256_verify(token, jwk))
                claims = json.loads(b64url_decode(token.split(".")[1]))
                self.assertEqual(claims.pop("iss"), "https://live-events.canvas.instructure.com")
                iat, exp = claims.pop("iat"), claims.pop("exp")
                self.assertTrue(before - 5 <= iat <= time.time() + 5)
                self.assertEqual(exp - iat, 3600)
                self.assertEqual(claims, json.loads(event))
            # the verifier can fail: a changed payload does not verify
            h, p, s = srv.posts[0][2].decode().split(".")
            forged = base64.urlsafe_b64encode(b'{"metadata":{}}').decode().rstrip("=")
            self.assertFalse(rs256_verify(".".join((h, forged, s)), jwk))


if __name__ == "__main__":
    unittest.main()
