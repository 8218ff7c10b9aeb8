"""test_subscriptions.py: subscriptions (issue 13, docs/subscriptions.md) end to end: the real `levee
serve`, `levee deliver` and `levee subscriptions` delivering to HTTP targets on loopback (targets.py):
each payload form, Standard Webhooks signatures checked with Python's hmac, JWTs verified by a second
levee, filters, retries, Retry-After, dead letters, 410, pause and resume, replay and redeliver,
isolation, strict order, kill -9 under load, two deliverers on one store, the JSON API and the metrics.
TestTargets checks the targets themselves first (it needs no levee)."""
import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import events as E
import pg
import jwt_util
import targets as T
from lv import SANITIZED, caliper_example, canvas_example, compact, levee_path, run
from server import ServerTestCase, keep_posting

# waits are bounded polls; the sanitized binary is slower, so it gets longer bounds (never a threshold)
SLOW = 3 if SANITIZED else 1
WAIT = 15 * SLOW
FAST = ("--retry-min", "100ms", "--retry-max", "1s")
HOUR = 3600 * 1000


def entries(n, first=1, course=565, topic=5000, ms=E.T0, step=1000):
    return [E.entry(first + i, topic, 1000 + i % 50, course, ms + i * step, "<p>post %d</p>" % (first + i))
            for i in range(n)]


def entry_id(body):
    """The local entry id of a delivered canvas body."""
    return json.loads(body)["body"]["discussion_entry_id"]


def verify_webhook(secret, headers, body, now=None):
    """Standard Webhooks verification, written from the specification (not from levee's code): True when
    one of the v1 signatures is HMAC-SHA256, keyed with the secret's base64 part, over id.timestamp.body."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs((now or time.time()) - int(ts)) > 300:
        return False
    want = base64.b64encode(hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest())
    return any(hmac.compare_digest(want.decode(), s.split(",", 1)[1])
               for s in headers["webhook-signature"].split() if s.startswith("v1,"))


def new_secret(seed):
    return "whsec_" + base64.b64encode(hashlib.sha256(seed.encode()).digest()[:24]).decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def email_date(text):
    return email.utils.parsedate_to_datetime(text).timestamp()


def metric_samples(text):
    """Prometheus text: [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        if m:
            labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out.append((m.group(1), labels, float(m.group(3))))
    return out


SUB_KEYS = {"id", "name", "url", "filter", "form", "signing", "headers", "parallel", "policy", "state", "reason",
            "created", "lag", "counts", "last_success", "last_error"}


class SubscriptionTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.targets = []
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
        for s in self.servers:  # a held or hung target would make a SIGTERM wait for its timeout
            if s.proc.poll() is None:
                s.kill()
        for t in self.targets:
            t.stop()
        super().tearDown()

    def target(self, policy=None, path="/hook"):
        t = T.Target(policy, path).start()
        self.targets.append(t)
        return t

    def subs(self, *args, expect=0, db=None):
        r = run("subscriptions", *args, "--db", db or self.db, "--json")
        self.assertEqual(r.code, expect, "levee subscriptions %s: %s" % (" ".join(args), r.err))
        return r

    def add(self, url, *opts, db=None):
        sub = json.loads(self.subs("add", "--url", url, *opts, db=db).out)
        self.assertIsInstance(sub["id"], int)
        return sub

    def show(self, sid, db=None):
        return json.loads(self.subs("show", str(sid), db=db).out)

    def dead_letters(self, sid, db=None):
        return json.loads(self.subs("dead-letters", str(sid), db=db).out)["dead_letters"]

    def settle(self, sid, timeout=WAIT, db=None, **counts):
        """Waits until `show` reports these counts (and nothing pending when pending is not given)."""
        want = dict(counts)
        want.setdefault("pending", 0)
        last = {}

        def ok():
            last["sub"] = self.show(sid, db)
            return all(last["sub"]["counts"].get(k) == v for k, v in want.items())
        T.wait_for(ok, timeout, interval=0.1,
                   message=lambda: "subscription %s counts %r, wanted %r (state %s, lag %r, last error %r)" % (
                       sid, last["sub"]["counts"], want, last["sub"].get("state"), last["sub"].get("lag"),
                       last["sub"].get("last_error")))
        return last["sub"]

    def post_all(self, server, docs):
        bodies = []
        for d in docs:
            body = d if isinstance(d, bytes) else (d.encode() if isinstance(d, str) else compact(d).encode())
            status, text = server.post("/events", body)
            self.assertEqual(status, 200, text)
            bodies.append(body)
        return bodies

    def deliver(self, *args, db=None):
        """Starts `levee deliver` (its log in a file: a pipe nobody reads would fill and block it)."""
        log = self.path("deliver-%d.log" % len(self.procs))
        with open(log, "wb") as f:
            p = subprocess.Popen([levee_path(), "deliver", "--db", db or self.db, *args],
                                 stdout=subprocess.DEVNULL, stderr=f)
        p.log = log
        self.procs.append(p)
        return p

    def stop_proc(self, p):
        """SIGTERM to a process this test started; its exit status and its log."""
        os.kill(p.pid, signal.SIGTERM)
        code = p.wait(timeout=30 * SLOW)
        with open(p.log, "rb") as f:
            return code, f.read().decode("utf-8", "replace")

    def tool(self, cmd, *args, input=None):
        r = run(cmd, *args, input=input)
        self.assertEqual(r.code, 0, r.err)
        return r.out


class TestTargets(unittest.TestCase):
    """The targets answer as their policies say, record what a test reads, and never wait unbounded."""

    def send(self, target, body=b"{}", headers=None, timeout=10):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(target.url, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read(), dict(e.headers)

    def test_targets_always_204_records_the_request(self):
        with T.Target(path="/in") as t:
            status, body, _ = self.send(t, b'{"a":1}', {"webhook-id": "msg_1", "X-Extra": "yes"})
            self.assertEqual((status, body), (204, b""))
            [r] = t.snapshot()
            self.assertEqual((r.method, r.path, r.body, r.key, r.attempt), ("POST", "/in", b'{"a":1}', "msg_1", 1))
            self.assertEqual(r.headers["x-extra"], "yes")
            self.assertEqual((r.outcome, r.status), ("answered", 204))
            self.assertLessEqual(r.received, r.answered)
            self.assertEqual(len(t.delivered()), 1)

    def test_targets_fail_first_counts_each_webhook_id(self):
        for status in (500, 503, 408):
            with T.Target(T.fail_first(2, status)) as t:
                got = [self.send(t, b"x", {"webhook-id": k})[0] for k in ("a", "b", "a", "a", "b", "b", "a")]
                self.assertEqual(got, [status, status, status, 204, status, 204, 204])
                self.assertEqual([r.attempt for r in t.by_key()["a"]], [1, 2, 3, 4])
                self.assertEqual(t.delivered_keys(), {"a", "b"})
        with T.Target(T.fail_first(1, 500)) as t:  # no webhook-id: the body is the key
            self.assertEqual([self.send(t, b)[0] for b in (b"p", b"q", b"p")], [500, 500, 204])

    def test_targets_retry_after_in_seconds_or_as_a_date(self):
        with T.Target(T.fail_first(1, 429, retry_after=7)) as t:
            status, _, headers = self.send(t)
            self.assertEqual((status, headers["Retry-After"]), (429, "7"))
        with T.Target(T.fail_first(1, 503, retry_after=("date", 30))) as t:
            status, _, headers = self.send(t)
            self.assertEqual(status, 503)
            when = email_date(headers["Retry-After"])
            self.assertTrue(time.time() + 25 < when < time.time() + 35, headers["Retry-After"])

    def test_targets_fixed_4xx_and_410(self):
        with T.Target(T.always(400, b"bad " * 500)) as t:
            status, body, _ = self.send(t)
            self.assertEqual((status, body), (400, b"bad " * 500))
        with T.Target(T.gone()) as t:
            self.assertEqual(self.send(t)[0], 410)

    def test_targets_slow_and_held(self):
        with T.Target(T.slow(0.3)) as t:
            self.assertEqual(self.send(t)[0], 204)
            [r] = t.snapshot()
            self.assertGreaterEqual(r.answered - r.received, 0.3)
        with T.Target(T.held()) as t:
            result = {}
            th = threading.Thread(target=lambda: result.setdefault("s", self.send(t)[0]))
            th.start()
            T.wait_for(lambda: t.count() == 1, 5)
            self.assertEqual(t.snapshot()[0].outcome, "pending")  # still held
            self.assertEqual(t.concurrent, 1)
            t.release()
            th.join(10)
            self.assertEqual(result["s"], 204)
            T.wait_for(lambda: t.concurrent == 0, 5)

    def test_targets_hang_until_the_client_gives_up(self):
        with T.Target(T.hang()) as t:
            with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
                self.send(t, timeout=0.5)
            T.wait_for(lambda: t.snapshot()[0].outcome == "hung", 5)
            self.assertIsNone(t.snapshot()[0].status)

    def test_targets_close_the_connection(self):
        with T.Target(T.close()) as t:
            conn = http.client.HTTPConnection("127.0.0.1", int(t.url.split(":")[2].split("/")[0]), timeout=5)
            conn.request("POST", "/hook", body=b"{}")
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
                conn.getresponse()
            conn.close()
            self.assertEqual(t.snapshot()[0].outcome, "closed")

    def test_targets_record_overlapping_webhook_ids(self):
        with T.Target(T.held()) as t:
            threads = [threading.Thread(target=self.send, args=(t, b"x", {"webhook-id": k}))
                       for k in ("same", "same", "other")]
            for th in threads:
                th.start()
            T.wait_for(lambda: t.count() == 3, 5)
            self.assertEqual(t.max_concurrent, 3)
            t.release()
            for th in threads:
                th.join(10)
            self.assertEqual(t.overlaps, [("same", 2)])

    def test_targets_read_chunked_bodies(self):
        with T.Target() as t:
            port = int(t.url.split(":")[2].split("/")[0])
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/hook", body=iter([b"ab", b"cde"]), encode_chunked=True,
                         headers={"Transfer-Encoding": "chunked"})
            self.assertEqual(conn.getresponse().status, 204)
            conn.close()
            self.assertEqual(t.snapshot()[0].body, b"abcde")

    def test_targets_wait_for_is_bounded(self):
        start = time.monotonic()
        with self.assertRaisesRegex(AssertionError, "never"):
            T.wait_for(lambda: False, 0.2, message=lambda: "never")
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(T.wait_for(lambda: 42, 1), 42)

    def test_targets_verifier_accepts_the_documented_example_and_refuses_changes(self):
        # the Standard Webhooks specification's own test vector
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                   "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
        body = b'{"test": 2432232314}'
        self.assertTrue(verify_webhook(secret, headers, body, now=1614265330))
        self.assertFalse(verify_webhook(secret, headers, body + b" ", now=1614265330))
        self.assertFalse(verify_webhook(new_secret("other"), headers, body, now=1614265330))
        self.assertFalse(verify_webhook(secret, headers, body, now=1614265330 + 3600))


class TestPayloadForms(SubscriptionTest):
    def test_canvas_form_is_the_bytes_as_received(self):
        t = self.target()
        sub = self.add(t.url)
        self.assertEqual((sub["form"], sub["signing"], sub["state"]), ("canvas", "none", "active"))
        s = self.serve()
        # raw UTF-8 beside a \u escape of the same letter: a re-serialization would change one of them
        compact_entry = compact(E.entry(1, 5000, 50, 565, E.T0, "<p>XX</p>")).encode().replace(
            b"XX", "caf\u00e9 caf\\u00e9".encode())
        pretty_topic = json.dumps(canvas_example("discussion_topic_created"), indent=2).encode()
        spaced = b'{ "metadata" : ' + json.dumps(E.message(31, 401, 50, E.T0)["metadata"]).encode() + \
            b', "body": ' + json.dumps(E.message(31, 401, 50, E.T0)["body"]).encode() + b' }'
        caliper = compact(caliper_example("discussion_entry_created")).encode()
        self.post_all(s, [compact_entry, pretty_topic, spaced, caliper])
        got = t.wait_delivered(4, WAIT)
        bodies = [r.body for r in got]
        for raw in (compact_entry, pretty_topic, spaced):  # exactly as posted, not re-serialized
            self.assertIn(raw, bodies)
        with open(self.path("caliper.json"), "wb") as f:
            f.write(caliper)
        converted = json.loads(self.tool("convert", "--to", "canvas", self.path("caliper.json")))
        self.assertIn(converted, [json.loads(b) for b in bodies if b not in (compact_entry, pretty_topic, spaced)])
        for r in got:
            self.assertEqual((r.method, r.path), ("POST", "/hook"))
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertRegex(r.headers["user-agent"], r"^levee/\d")
        shown = self.settle(sub["id"], delivered=4)
        self.assertEqual(shown["lag"]["events"], 0)
        self.assertEqual(len(t.snapshot()), 4)  # one request per event

    def test_caliper_form(self):
        t = self.target()
        sub = self.add(t.url, "--form", "caliper")
        s = self.serve()
        entry = E.entry(7, 5000, 50, 565, E.T0, "<p>seven</p>")
        topic = E.topic("discussion_topic_created", 5000, 565, E.T0 - 1000, "Seven")
        caliper = compact(caliper_example("discussion_entry_created")).encode()
        conversation = E.conversation_created(31, 50, E.T0)  # Canvas documents no Caliper form for it
        self.post_all(s, [entry, topic, caliper, conversation])
        sub = self.settle(sub["id"], delivered=3, skipped=1)
        bodies = [r.body for r in t.delivered()]
        self.assertEqual(len(bodies), 3)
        self.assertIn(caliper, bodies)  # a one-event envelope: its bytes as received
        with open(self.path("in.ndjson"), "w") as f:
            f.write(E.ndjson([entry, topic]))
        want = [json.loads(l) for l in self.tool("convert", "--to", "caliper", self.path("in.ndjson")).splitlines()]
        self.assertCountEqual([json.loads(b) for b in bodies if b != caliper], want)
        self.assertFalse(any(b"conversation" in b for b in bodies))

    def test_record_form_is_levee_normalize(self):
        t = self.target()
        sub = self.add(t.url, "--form", "record")
        s = self.serve()
        docs = E.course_story()[:6] + [caliper_example("discussion_topic_created")]
        self.post_all(s, docs)
        self.settle(sub["id"], delivered=len(docs))
        with open(self.path("in.ndjson"), "w") as f:
            f.write(E.ndjson(docs))
        want = [json.loads(l) for l in self.tool("normalize", self.path("in.ndjson")).splitlines()]
        got = [json.loads(r.body) for r in t.delivered()]
        self.assertCountEqual(got, want)
        self.assertTrue(all(g["metadata"]["context_id"] == E.glob(565) for g in got if "context_id" in g["metadata"]))


class TestSignatures(SubscriptionTest):
    def test_standard_webhooks_with_a_generated_secret(self):
        t = self.target()
        sub = self.add(t.url, "--secret", "new")
        secret = sub["secret"]
        self.assertRegex(secret, r"^whsec_[A-Za-z0-9+/]+={0,2}$")
        self.assertGreaterEqual(len(base64.b64decode(secret[6:])), 24)
        self.assertEqual(sub["signing"], "webhooks")
        s = self.serve()
        before = time.time()
        self.post_all(s, entries(3))
        got = t.wait_delivered(3, WAIT)
        for r in got:
            self.assertTrue(verify_webhook(secret, r.headers, r.body), r.headers)
            self.assertRegex(r.headers["webhook-id"], r"^msg_%d_\S+$" % sub["id"])
            self.assertTrue(before - 5 <= int(r.headers["webhook-timestamp"]) <= time.time() + 5)
            # the verifier can fail: another secret, or a changed body
            self.assertFalse(verify_webhook(new_secret("not it"), r.headers, r.body))
            self.assertFalse(verify_webhook(secret, r.headers, r.body.replace(b"post", b"Post")))
        self.assertEqual(len({r.headers["webhook-id"] for r in got}), 3)
        # the secret is printed once: never again
        for args in (("show", str(sub["id"])), ("list",)):
            self.assertNotIn(secret[6:], self.subs(*args).out)

    def test_rotation_signs_with_both_secrets_until_the_old_expires(self):
        t = self.target()
        old, new = new_secret("old"), new_secret("new")
        sub = self.add(t.url, "--secret", old)
        self.assertNotIn("secret", sub)  # given, not generated: nothing to print
        keep = 6 * SLOW  # long enough for serve to start and deliver the first event
        rotated = self.subs("rotate", str(sub["id"]), "--secret", new, "--keep-old", "%ds" % keep).out
        rotated_at = time.time()
        self.assertNotIn(old[6:], rotated)
        s = self.serve()
        self.post_all(s, entries(1))
        [r] = t.wait_delivered(1, WAIT)
        sigs = r.headers["webhook-signature"].split()
        self.assertEqual(len(sigs), 2, r.headers["webhook-signature"])
        for secret in (old, new):
            self.assertTrue(verify_webhook(secret, r.headers, r.body))
            # each signature is one secret's: exactly one of the two verifies alone
            alone = [verify_webhook(secret, dict(r.headers, **{"webhook-signature": sig}), r.body) for sig in sigs]
            self.assertEqual(alone.count(True), 1)
        # once --keep-old has passed, only the new secret signs
        T.wait_for(lambda: time.time() > rotated_at + keep + 1, keep + 5)
        self.post_all(s, entries(1, first=2))
        T.wait_for(lambda: len(t.delivered()) == 2, WAIT)
        last = t.delivered()[-1]
        self.assertEqual(len(last.headers["webhook-signature"].split()), 1)
        self.assertTrue(verify_webhook(new, last.headers, last.body))
        self.assertFalse(verify_webhook(old, last.headers, last.body))

    def test_jwt_form_verified_by_a_second_levee(self):
        key = jwt_util.make_key(self.path("key.pem"))
        jwks = self.tool("simulate", "--print-jwks", "--sign-key", key, "--kid", "hub-1")
        with open(self.path("jwks.json"), "w") as f:
            f.write(jwks)
        b_db = self.path("b.db")
        b = self.serve("--jwks", self.path("jwks.json"), "--require-signature", db=b_db)
        sub = self.add(b.url.rstrip("/") + "/events", "--sign-key", key, "--kid", "hub-1", *FAST)
        self.assertEqual(sub["signing"], "jwt")
        self.assertNotIn(key, self.subs("show", str(sub["id"])).out)  # key paths are never shown back
        seen = self.target()  # what goes over the wire, for a look at the tokens themselves
        watch = self.add(seen.url, "--sign-key", key, "--kid", "hub-1")
        a = self.serve()
        story = E.course_story() + [caliper_example("discussion_entry_created")]
        self.post_all(a, story)
        with open(self.path("caliper.json"), "w") as f:
            f.write(compact(story[-1]))
        # the claims are the canvas form: the events as posted, the Caliper one converted
        want = story[:-1] + [json.loads(self.tool("convert", "--to", "canvas", self.path("caliper.json")))]
        self.settle(sub["id"], delivered=len(story))
        self.settle(watch["id"], delivered=len(story))
        claims_seen = []
        for r in seen.delivered():
            self.assertEqual(r.headers["content-type"], "application/jwt")
            head, claims, _ = r.body.decode().split(".")
            self.assertEqual(json.loads(b64url_decode(head)), {"alg": "RS256", "typ": "JWT", "kid": "hub-1"})
            claims = json.loads(b64url_decode(claims))
            self.assertEqual(claims.pop("iss"), "https://live-events.canvas.instructure.com")
            self.assertEqual(claims.pop("exp") - claims.pop("iat"), 3600)
            claims_seen.append(claims)
        self.assertCountEqual(claims_seen, want)
        b.wait_applied(len(story))
        a_docs = [json.loads(l) for l in run("export", "--db", self.db).out.splitlines()]
        b_docs = [json.loads(l) for l in run("export", "--db", b_db).out.splitlines()]
        self.assertEqual(len(b_docs), len(story))
        for d in b_docs:  # B stored the claims as signed: the event beside iss, iat and exp
            self.assertEqual(d.pop("iss"), "https://live-events.canvas.instructure.com")
            self.assertEqual(d.pop("exp") - d.pop("iat"), 3600)
        a_docs[-1] = want[-1]  # A keeps the Caliper envelope as received; B got its canvas form
        self.assertCountEqual(b_docs, a_docs)
        st = json.loads(run("stats", "--db", b_db, "--json").out)
        self.assertEqual((st["events"], st["dead_letters"]), (len(story), 0))


class TestFilters(SubscriptionTest):
    def test_event_globs_courses_and_source_format(self):
        cases = {
            "discussion": ("--events", "discussion_*"),
            "entries": ("--events", "discussion_entry_created,conversation_message_create?"),
            "course565": ("--course", "565"),
            "course566": ("--course", E.glob(566)),
            "caliper": ("--source-format", "caliper"),
            "all": (),
        }
        tg = {name: self.target() for name in cases}
        subs = {name: self.add(tg[name].url, *opts) for name, opts in cases.items()}
        s = self.serve()
        docs = {
            "e565": E.entry(1, 5000, 50, 565, E.T0, "<p>a</p>"),
            "e566": E.entry(2, 6000, 51, 566, E.T0, "<p>b</p>"),
            "t566": E.topic("discussion_topic_updated", 6000, 566, E.T0, "B"),
            "msg": E.message(31, 401, 50, E.T0),
            "conv": E.conversation_created(31, 50, E.T0),
            "cal565": caliper_example("discussion_entry_created"),
            "other": {"metadata": dict(E.meta("wiki_page_created", E.T0, 50, 565)), "body": {"wiki_page_id": "9"}},
        }
        raw = dict(zip(docs, self.post_all(s, list(docs.values()))))
        want = {
            "discussion": {"e565", "e566", "t566", "cal565"},
            "entries": {"e565", "e566", "msg", "cal565"},
            "course565": {"e565", "cal565", "other"},
            "course566": {"e566", "t566"},
            "caliper": {"cal565"},
            "all": set(docs),
        }
        by_body = {v: k for k, v in raw.items()}
        for name in cases:
            self.settle(subs[name]["id"], delivered=len(want[name]))
            got = set()
            for r in tg[name].delivered():
                if r.body in by_body:
                    got.add(by_body[r.body])
                else:  # the canvas form of the Caliper input
                    self.assertEqual(json.loads(r.body)["metadata"]["event_name"], "discussion_entry_created")
                    got.add("cal565")
            self.assertEqual(got, want[name], name)
            self.assertEqual(len(tg[name].snapshot()), len(want[name]), name)


class TestRetries(SubscriptionTest):
    def test_a_target_failing_n_times_then_succeeding(self):
        policies = {"500": T.fail_first(3, 500), "503": T.fail_first(3, 503), "408": T.fail_first(3, 408),
                    "429": T.fail_first(3, 429)}
        tg = {k: self.target(p) for k, p in policies.items()}
        subs = {k: self.add(t.url, *FAST, "--secret", new_secret(k)) for k, t in tg.items()}
        # a connection closed without an answer, and no answer at all (the attempt times out), are failures too
        closing = self.target(None)
        hanging = self.target(None)
        # (its 204 closes the connection too: libcurl silently resends on a reused connection that dies
        # before answering, and that resend would count as one more attempt here)
        closing.policy = lambda t, r: (T.Answer(close=True) if r.attempt <= 2 else
                                       T.Answer(204, {"Connection": "close"}))
        hanging.policy = lambda t, r: T.Answer(hang=True) if r.attempt <= 1 else T.Answer(204)
        subs["close"] = self.add(closing.url, *FAST, "--secret", new_secret("close"))
        subs["hang"] = self.add(hanging.url, *FAST, "--timeout", "500ms", "--secret", new_secret("hang"))
        tg["close"], tg["hang"] = closing, hanging
        attempts = {"500": 4, "503": 4, "408": 4, "429": 4, "close": 3, "hang": 2}
        s = self.serve()
        self.post_all(s, entries(2))
        for k, t in tg.items():
            shown = self.settle(subs[k]["id"], delivered=2, failed_attempts=2 * (attempts[k] - 1), dead_letters=0)
            by = t.by_key()
            self.assertEqual(len(by), 2, k)  # the same webhook-id on every attempt of an event
            for key, reqs in by.items():
                self.assertEqual(len(reqs), attempts[k], (k, reqs))
                self.assertEqual(len({r.body for r in reqs}), 1)
                self.assertEqual(reqs[-1].status, 204)
                for r in reqs:  # every attempt signed afresh
                    self.assertTrue(verify_webhook(new_secret(k), r.headers, r.body))
            self.assertIsNotNone(shown["last_error"], k)

    def test_retry_after_is_honoured_in_seconds_and_as_a_date_up_to_retry_max(self):
        seconds = self.target(T.fail_first(1, 429, retry_after=2))
        date = self.target(T.fail_first(1, 503, retry_after=("date", 3)))
        capped = self.target(T.fail_first(1, 429, retry_after=3600))
        subs = [self.add(t.url, "--retry-min", "100ms", "--retry-max", "5s") for t in (seconds, date)]
        subs.append(self.add(capped.url, "--retry-min", "100ms", "--retry-max", "1s"))
        s = self.serve()
        self.post_all(s, entries(1))
        for t, sub in zip((seconds, date, capped), subs):
            self.settle(sub["id"], delivered=1)
            first, second = t.snapshot()
            self.assertEqual(first.key, second.key)
            if t is seconds:  # without Retry-After, the wait would be about retry-min (100 ms)
                self.assertGreaterEqual(second.received - first.answered, 2.0 - 0.05)
            elif t is date:  # an HTTP date 3 s ahead, to the second
                self.assertGreaterEqual(second.received - first.answered, 1.0)
            # capped: an hour asked, retry-max (1 s) honoured: settle() above got it within its bound

    def test_a_4xx_goes_to_the_dead_letters_at_once(self):
        answer = b'{"error": "schema mismatch"}' + b" " * 3000 + b"END"
        t = self.target(T.always(400, answer))
        sub = self.add(t.url, *FAST)
        s = self.serve()
        self.post_all(s, entries(2))
        shown = self.settle(sub["id"], delivered=0, dead_letters=2)
        self.assertEqual(len(t.snapshot()), 2)  # one attempt each: never retried
        dls = self.dead_letters(sub["id"])
        self.assertEqual(len(dls), 2)
        for d in dls:
            self.assertLessEqual({"event", "event_id", "event_time", "attempts", "status", "answer", "error",
                                  "first_attempt", "last_attempt"}, set(d))
            self.assertEqual((d["event"], d["status"], d["attempts"]), ("discussion_entry_created", 400, 1))
            self.assertTrue(d["answer"].startswith('{"error": "schema mismatch"}'))
            self.assertLessEqual(len(d["answer"].encode()), 1024)  # the first kilobyte
            self.assertNotIn("END", d["answer"])
        self.assertEqual(shown["state"], "active")  # a refused event does not stop the subscription
        self.assertEqual({d["event_time"] for d in dls}, {E.iso(E.T0), E.iso(E.T0 + 1000)})

    def test_410_gone_disables_the_subscription(self):
        t = self.target(T.gone())
        sub = self.add(t.url, *FAST)
        s = self.serve()
        self.post_all(s, entries(1))
        T.wait_for(lambda: self.show(sub["id"])["state"] == "disabled", WAIT)
        shown = self.show(sub["id"])
        self.assertIn("410", shown["reason"])
        self.assertIn("Gone", shown["reason"])
        self.post_all(s, entries(2, first=10))
        T.wait_for(lambda: self.show(sub["id"])["lag"]["events"] == 3, WAIT)
        self.assertEqual(len(t.snapshot()), 1)  # nothing more was sent to it
        t.policy = T.always(204)
        self.subs("resume", str(sub["id"]))
        self.settle(sub["id"], delivered=3)
        self.assertEqual({entry_id(r.body) for r in t.delivered()}, {"1", "10", "11"})
        self.assertEqual(self.show(sub["id"])["state"], "active")

    def test_max_age_turns_a_failing_event_into_a_dead_letter(self):
        t = self.target(T.always(503, b"down for maintenance"))
        sub = self.add(t.url, "--retry-min", "100ms", "--retry-max", "500ms", "--max-age", "2s")
        s = self.serve()
        self.post_all(s, entries(1))
        self.settle(sub["id"], delivered=0, dead_letters=1)
        [d] = self.dead_letters(sub["id"])
        reqs = t.snapshot()
        self.assertGreaterEqual(len(reqs), 2)  # it was retried before being given up
        self.assertEqual(len({r.key for r in reqs}), 1)
        self.assertEqual((d["status"], d["attempts"], d["answer"]), (503, len(reqs), "down for maintenance"))
        self.assertEqual(self.show(sub["id"])["state"], "active")

    def test_a_target_failing_everything_for_disable_after_is_disabled(self):
        t = self.target(T.always(503))
        sub = self.add(t.url, "--retry-min", "100ms", "--retry-max", "300ms", "--max-age", "1h",
                       "--disable-after", "2s")
        s = self.serve()
        self.post_all(s, entries(1))
        T.wait_for(lambda: self.show(sub["id"])["state"] == "disabled", WAIT, interval=0.1)
        shown = self.show(sub["id"])
        self.assertTrue(shown["reason"], shown)  # says why
        self.assertGreaterEqual(len(t.snapshot()), 2)
        self.assertEqual(shown["counts"]["dead_letters"], 0)  # still within --max-age: kept, not given up
        t.policy = T.always(204)
        self.subs("resume", str(sub["id"]))
        self.settle(sub["id"], delivered=1)


class TestControl(SubscriptionTest):
    def test_pause_and_resume(self):
        paused, control = self.target(), self.target()
        sub = self.add(paused.url)
        ctl = self.add(control.url)
        self.assertEqual(json.loads(self.subs("pause", str(sub["id"])).out)["state"], "paused")
        s = self.serve()
        self.post_all(s, entries(5))
        self.settle(ctl["id"], delivered=5)  # delivery ran ...
        T.wait_for(lambda: self.show(sub["id"])["lag"]["events"] == 5, WAIT)
        self.assertEqual(paused.snapshot(), [])  # ... and sent nothing to the paused one
        self.assertEqual(self.show(sub["id"])["state"], "paused")
        self.assertEqual(json.loads(self.subs("resume", str(sub["id"])).out)["state"], "active")
        self.settle(sub["id"], delivered=5)
        self.assertEqual({entry_id(r.body) for r in paused.delivered()}, {str(i) for i in range(1, 6)})

    def test_replay_a_window_by_event_time(self):
        t = self.target()
        sub = self.add(t.url, "--secret", new_secret("replay"))
        s = self.serve()
        docs = entries(6, step=HOUR)  # event times T0, T0+1h, ... T0+5h
        self.post_all(s, docs)
        self.settle(sub["id"], delivered=6)
        first = {entry_id(r.body): r for r in t.delivered()}
        out = json.loads(self.subs("replay", str(sub["id"]), "--since", E.iso(E.T0 + 2 * HOUR),
                                   "--until", E.iso(E.T0 + 4 * HOUR)).out)
        self.assertEqual(out, {"queued": 2, "more": False})
        T.wait_for(lambda: len(t.delivered()) == 8, WAIT)
        again = t.delivered()[6:]
        self.assertEqual({entry_id(r.body) for r in again}, {"3", "4"})  # [since, until): T0+2h and T0+3h
        for r in again:
            self.assertEqual(r.headers["webhook-id"], first[entry_id(r.body)].headers["webhook-id"])
            self.assertEqual(r.body, first[entry_id(r.body)].body)
            self.assertTrue(verify_webhook(new_secret("replay"), r.headers, r.body))
        self.settle(sub["id"])  # nothing left pending

    def test_replay_of_a_window_bigger_than_a_chunk_is_walked_to_its_end(self):
        # A replay is recorded as a window and delivery queues its events a chunk (256) at a time: a
        # window of 600 stored events, 400 of them the subscription's (its course), comes back whole,
        # each of the 400 once more with its webhook-id, none of the others.
        t = self.target()
        sub = self.add(t.url, "--course", "565", "--parallel", "8")
        s = self.serve()
        mine = entries(400, course=565, ms=E.T0, step=1000)
        others = entries(200, first=401, course=777, ms=E.T0 + 500, step=2000)
        status, text = s.post("/events", "\n".join(compact(d) for d in mine + others).encode() + b"\n")
        self.assertEqual(status, 200, text)
        self.settle(sub["id"], delivered=400)
        first = {entry_id(r.body): r.headers["webhook-id"] for r in t.delivered()}
        self.assertEqual(len(first), 400)
        out = json.loads(self.subs("replay", str(sub["id"]), "--since", E.iso(E.T0),
                                   "--until", E.iso(E.T0 + 1000 * 1000)).out)
        self.assertEqual(out, {"queued": 400, "more": False})
        T.wait_for(lambda: len(t.delivered()) >= 800, WAIT)
        self.settle(sub["id"], delivered=800)
        again = t.delivered()[400:]
        self.assertEqual(sorted(int(entry_id(r.body)) for r in again), list(range(1, 401)))
        for r in again:
            self.assertEqual(r.headers["webhook-id"], first[entry_id(r.body)])

    def test_redeliver_sends_the_dead_letters_again(self):
        t = self.target(T.always(422, b"not today"))
        sub = self.add(t.url, "--secret", new_secret("redeliver"), *FAST)
        s = self.serve()
        self.post_all(s, entries(3))
        self.settle(sub["id"], dead_letters=3)
        ids = {r.key: r.body for r in t.snapshot()}
        t.policy = T.always(204)
        self.assertEqual(json.loads(self.subs("redeliver", str(sub["id"])).out), {"queued": 3})
        self.settle(sub["id"], delivered=3, dead_letters=0)
        self.assertEqual({r.key: r.body for r in t.delivered()}, ids)  # the same webhook-ids and bodies
        self.assertEqual(self.dead_letters(sub["id"]), [])
        # those that fail again come back
        t.policy = T.always(400, b"still not")
        self.post_all(s, entries(1, first=50))
        self.settle(sub["id"], dead_letters=1)
        [before] = self.dead_letters(sub["id"])
        self.assertEqual(json.loads(self.subs("redeliver", str(sub["id"])).out), {"queued": 1})

        def settled_again():  # its second attempt is recorded, and it is a dead letter again
            tried = [a for a in self.show(sub["id"])["attempts"] if a["event_id"] == before["event_id"]]
            return len(tried) == 2 and len(self.dead_letters(sub["id"])) == 1
        T.wait_for(settled_again, WAIT, interval=0.1)
        tries = [r for r in t.snapshot() if entry_id(r.body) == "50"]
        self.assertEqual(len(tries), 2)
        self.assertEqual(tries[0].key, tries[1].key)
        [d] = self.dead_letters(sub["id"])
        self.assertEqual((d["event_id"], d["status"], d["answer"]), (before["event_id"], 400, "still not"))

    def test_since_and_from_start_backfill_and_a_new_subscription_starts_at_the_next_event(self):
        with open(self.path("old.ndjson"), "w") as f:
            f.write(E.ndjson(entries(3)))
        self.tool("ingest", "--db", self.db, self.path("old.ndjson"))
        # a whole second after the old events arrived and before the new ones do
        mark = int(time.time()) + 1
        T.wait_for(lambda: time.time() >= mark + 0.1, 5)
        with open(self.path("new.ndjson"), "w") as f:
            f.write(E.ndjson(entries(2, first=10)))
        self.tool("ingest", "--db", self.db, self.path("new.ndjson"))
        nxt, start, since = self.target(), self.target(), self.target()
        s_next = self.add(nxt.url)
        s_start = self.add(start.url, "--from-start")
        s_since = self.add(since.url, "--since", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mark)))
        with open(self.path("later.ndjson"), "w") as f:
            f.write(E.ndjson(entries(1, first=20)))
        self.tool("ingest", "--db", self.db, self.path("later.ndjson"))
        d = self.deliver()
        self.settle(s_start["id"], delivered=6)
        self.settle(s_since["id"], delivered=3)
        self.settle(s_next["id"], delivered=1)
        self.assertEqual({entry_id(r.body) for r in nxt.delivered()}, {"20"})
        self.assertEqual({entry_id(r.body) for r in since.delivered()}, {"10", "11", "20"})
        self.assertEqual(len(start.delivered_keys()), 6)
        code, err = self.stop_proc(d)
        self.assertEqual(code, 0, err)

    def test_list_show_remove(self):
        t = self.target()
        a = self.add(t.url, "--name", "warehouse", "--events", "discussion_*", "--course", "565",
                     "--header", "Authorization: Bearer s3cr3t-value", "--parallel", "2", *FAST)
        b = self.add(t.url)
        # the URL's host by default, with its port (two targets on one machine stay apart)
        self.assertEqual(b["name"], urllib.parse.urlparse(t.url).netloc)
        listed = json.loads(self.subs("list").out)["subscriptions"]
        self.assertEqual([x["id"] for x in listed], [a["id"], b["id"]])
        shown = self.show(a["id"])
        self.assertTrue(SUB_KEYS <= set(shown), SUB_KEYS - set(shown))
        self.assertEqual((shown["name"], shown["url"], shown["parallel"]), ("warehouse", t.url, 2))
        self.assertEqual(shown["filter"]["events"], ["discussion_*"])
        self.assertEqual(shown["headers"], ["Authorization"])
        self.assertEqual((shown["policy"]["retry_min_ms"], shown["policy"]["retry_max_ms"]), (100, 1000))
        self.assertEqual(shown["policy"]["timeout_ms"], 15000)
        self.assertEqual(shown["policy"]["max_age_ms"], 3 * 86400 * 1000)
        self.assertEqual(shown["policy"]["disable_after_ms"], 5 * 86400 * 1000)
        self.assertIn("attempts", shown)
        for args in (("show", str(a["id"])), ("list",)):
            self.assertNotIn("s3cr3t-value", self.subs(*args).out)
        self.subs("remove", str(a["id"]))
        self.assertEqual([x["id"] for x in json.loads(self.subs("list").out)["subscriptions"]], [b["id"]])
        r = run("subscriptions", "show", str(a["id"]), "--db", self.db, "--json")
        self.assertNotEqual(r.code, 0)
        self.assertIn(str(a["id"]), r.err)
        bad = run("subscriptions", "add", "--url", "ftp://127.0.0.1/x", "--db", self.db)
        self.assertEqual(bad.code, 2)
        self.assertIn("ftp://127.0.0.1/x", bad.err)
        bad = run("subscriptions", "add", "--url", t.url, "--form", "xml", "--db", self.db)
        self.assertEqual(bad.code, 2)
        self.assertIn("form", bad.err)
        self.assertIn("canvas, caliper or record", bad.err)  # what it may be


class TestDeliveryGuarantees(SubscriptionTest):
    def test_a_slow_target_does_not_delay_a_fast_one(self):
        slow, fast = self.target(T.held()), self.target()
        s_slow = self.add(slow.url, "--parallel", "2", *FAST)
        s_fast = self.add(fast.url)
        s = self.serve()
        self.post_all(s, entries(20))
        slow.wait_requests(1, WAIT)
        self.settle(s_fast["id"], delivered=20)
        # the fast target has everything while the slow one still holds its first requests
        self.assertEqual(slow.answered(), [])
        self.assertLessEqual(len(slow.snapshot()), 2)
        slow.release()
        self.settle(s_slow["id"], delivered=20, timeout=2 * WAIT)
        self.assertLessEqual(slow.max_concurrent, 2)

    def test_parallel_1_delivers_strictly_in_arrival_order(self):
        third = compact(entries(3)[2]).encode()
        t = self.target(T.fail_first(2, 503, only=lambda r: r.body == third))
        sub = self.add(t.url, "--parallel", "1", *FAST)
        s = self.serve()
        posted = self.post_all(s, entries(30))
        self.settle(sub["id"], delivered=30)
        reqs = t.snapshot()
        self.assertEqual(t.max_concurrent, 1)
        self.assertEqual([r.body for r in t.delivered()], posted)  # strictly in arrival order
        # the failing third event held the ones behind it until it got through
        self.assertEqual([r.body for r in reqs[:5]], posted[:2] + [third] * 3)

    def test_kill_9_under_load_then_restart_loses_nothing(self):
        a, b = self.target(), self.target(T.slow(0.01))
        # signed, so that each request carries its webhook-id
        self.add(a.url, "--secret", new_secret("a"))
        self.add(b.url, "--parallel", "1", "--secret", new_secret("b"))
        s = self.serve()
        stop, acked, lock = threading.Event(), [], threading.Lock()
        posters = [threading.Thread(target=keep_posting, args=(s, i, stop, acked, lock)) for i in range(3)]
        for p in posters:
            p.start()
        want = 50 if SANITIZED else 150
        try:
            T.wait_for(lambda: len(acked) >= want and a.count() > 0 and b.count() > 0, 30 * SLOW)
        finally:
            s.kill()  # kill -9, mid-load
            stop.set()
            for p in posters:
                p.join(30)
        with lock:
            acked_ids = set(acked)
        s2 = self.serve()
        # every acknowledged event reaches each subscription at least once (the leases the dead process
        # held are taken over 30 s after it stopped renewing them: the bound allows for that)
        for name, t in (("a", a), ("b", b)):
            T.wait_for(lambda: acked_ids <= {entry_id(r.body) for r in t.delivered()}, 90 * SLOW, interval=0.2,
                       message=lambda: "%s misses %d acknowledged events" %
                       (name, len(acked_ids - {entry_id(r.body) for r in t.delivered()})))
        for name, t in (("a", a), ("b", b)):
            ids = [entry_id(r.body) for r in t.delivered()]
            dups = len(ids) - len(set(ids))
            keys = {}
            for r in t.delivered():  # a duplicate carries its first delivery's webhook-id
                keys.setdefault(entry_id(r.body), set()).add(r.key)
            self.assertTrue(all(len(k) == 1 for k in keys.values()))
            print("\nkill -9 under load: subscription %s: %d acknowledged, %d delivered, %d duplicates"
                  % (name, len(acked_ids), len(ids), dups))
        self.assertEqual(s2.stop(), 0)

    def test_sigterm_with_attempts_in_flight_then_restart_delivers_them(self):
        t = self.target(T.held())
        sub = self.add(t.url, "--secret", new_secret("term"), *FAST)
        s = self.serve()
        self.post_all(s, entries(3))
        t.wait_requests(1, WAIT)
        self.assertEqual(s.stop(timeout=30 * SLOW), 0)  # in-flight attempts finished or left to retry
        t.policy = T.always(204)
        t.release()
        self.serve()
        self.settle(sub["id"], delivered=3)
        self.assertEqual({entry_id(r.body) for r in t.delivered()}, {"1", "2", "3"})

    def test_two_deliverers_on_one_store_never_deliver_one_event_at_once(self):
        t = self.target(T.slow(0.02))
        # one target for the three: webhook-ids (signed subscriptions carry them) tell them apart
        subs = [self.add(t.url, "--parallel", "4", "--secret", new_secret(str(i)), *FAST) for i in range(3)]
        with open(self.path("in.ndjson"), "w") as f:
            f.write(E.ndjson(entries(40)))
        self.tool("ingest", "--db", self.db, self.path("in.ndjson"))
        d1, d2 = self.deliver(), self.deliver()
        for sub in subs:
            self.settle(sub["id"], delivered=40, timeout=60 * SLOW)
        self.assertEqual(len(t.delivered_keys()), 120)
        self.assertEqual(t.overlaps, [])  # no webhook-id was ever in flight twice at once
        for d in (d1, d2):
            code, err = self.stop_proc(d)
            self.assertEqual(code, 0, err)

    def test_a_lease_is_taken_over_early_only_from_a_dead_process_of_the_same_place(self):
        """A lease names its owner's host, pid namespace, boot and pid. A deliverer takes a lease over
        before it expires only when that owner ran where it runs and its pid is gone: two containers
        sharing a store may have one host name, and a pid of the other's namespace proves nothing."""
        t = self.target()
        sub = self.add(t.url, "--from-start")
        with open(self.path("in.ndjson"), "w") as f:
            f.write(E.ndjson(entries(3)))
        self.tool("ingest", "--db", self.db, self.path("in.ndjson"))
        ns = os.readlink("/proc/self/ns/pid").split("[", 1)[1].rstrip("]")
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read()[:8]
        host = socket.gethostname().replace(":", "_").replace("~", "_")

        def lease(owner):
            until = int(time.time() * 1000) + 600000
            if hasattr(self, "cluster"):  # the same row on PostgreSQL
                self.cluster.psql("UPDATE subscriptions SET lease_owner = '%s', lease_until = %d WHERE id = %d"
                                  % (owner, until, int(sub["id"])), self.db.rsplit("/", 1)[1])
                return
            db = sqlite3.connect(self.db)
            db.execute("UPDATE subscriptions SET lease_owner = ?, lease_until = ? WHERE id = ?",
                       (owner, until, int(sub["id"])))
            db.commit()
            db.close()

        # another pid namespace, same host name and boot, pid 999999 not alive here: held for its 10 minutes
        lease("%s~%s~%s:999999:deadbeef" % (host, "4026530000" if ns != "4026530000" else "4026530001", boot))
        d = self.deliver()
        time.sleep(3 * SLOW)
        self.assertEqual(t.snapshot(), [])
        self.assertEqual(self.stop_proc(d)[0], 0)
        # the same place, pid gone: taken over at once
        lease("%s~%s~%s:999999:deadbeef" % (host, ns, boot))
        d = self.deliver()
        self.settle(sub["id"], delivered=3)
        self.assertEqual(self.stop_proc(d)[0], 0)
        self.assertEqual(len(t.delivered_keys()), 3)

    def test_serve_no_deliver_leaves_delivery_to_levee_deliver(self):
        t = self.target()
        sub = self.add(t.url)
        s = self.serve("--no-deliver")
        self.post_all(s, entries(5))
        s.wait_applied(5)
        T.wait_for(lambda: self.show(sub["id"])["lag"]["events"] == 5, WAIT)
        self.assertEqual(t.snapshot(), [])
        d = self.deliver()
        self.settle(sub["id"], delivered=5)
        code, err = self.stop_proc(d)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(t.delivered_keys()), 5)


class TestApiAndMetrics(SubscriptionTest):
    TOKEN = "admin-0123456789abcdef"

    def api(self, s, method, path, body=None, token=TOKEN):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        status, text, _ = s.request(method, path, json.dumps(body) if body is not None else None, headers)
        return status, (json.loads(text) if text.strip() else None)

    def test_without_admin_token_the_routes_are_refused(self):
        s = self.serve()
        status, body = self.api(s, "GET", "/api/subscriptions", token=None)
        self.assertEqual(status, 403)
        self.assertIn("--admin-token", body["error"])
        self.assertEqual(self.api(s, "POST", "/api/subscriptions", {"url": "http://127.0.0.1:1/"})[0], 403)

    def test_the_json_api(self):
        t = self.target()
        s = self.serve("--admin-token", self.TOKEN)
        self.assertEqual(self.api(s, "GET", "/api/subscriptions", token=None)[0], 401)
        self.assertEqual(self.api(s, "GET", "/api/subscriptions", token="wrong-token-123")[0], 401)
        self.assertEqual(self.api(s, "GET", "/api/subscriptions"), (200, {"subscriptions": []}))
        status, body = self.api(s, "POST", "/api/subscriptions", {"name": "no url"})
        self.assertEqual(status, 400)
        self.assertIn("url", body["error"])
        status, sub = self.api(s, "POST", "/api/subscriptions", {
            "url": t.url, "name": "lrs", "events": ["discussion_*"], "courses": [E.glob(565)], "form": "record",
            "secret": "new", "headers": ["X-Api-Key: k3y-value"], "parallel": 2, "retry_min_ms": 100,
            "retry_max_ms": 1000})
        self.assertEqual(status, 201, sub)
        secret = sub.pop("secret")
        self.assertTrue(secret.startswith("whsec_"))
        self.assertTrue(SUB_KEYS <= set(sub), SUB_KEYS - set(sub))  # members added later do no harm
        self.assertEqual((sub["name"], sub["url"], sub["form"], sub["signing"], sub["state"], sub["parallel"]),
                         ("lrs", t.url, "record", "webhooks", "active", 2))
        self.assertEqual(sub["filter"]["events"], ["discussion_*"])
        self.assertEqual(sub["headers"], ["X-Api-Key"])
        self.assertLessEqual({"timeout_ms", "retry_min_ms", "retry_max_ms", "max_age_ms", "disable_after_ms"},
                             set(sub["policy"]))
        self.assertLessEqual({"events", "oldest_seconds"}, set(sub["lag"]))
        self.assertLessEqual({"delivered", "failed_attempts", "skipped", "dead_letters", "pending"},
                             set(sub["counts"]))
        sid = sub["id"]
        self.assertEqual(s.get_json("/api/subscriptions?token=" + self.TOKEN)[0], 200)
        self.post_all(s, entries(2) + [E.conversation_created(31, 50, E.T0)])
        T.wait_for(lambda: self.api(s, "GET", "/api/subscriptions/%d" % sid)[1]["counts"]["delivered"] == 2, WAIT)
        for r in t.delivered():
            self.assertEqual(r.headers["x-api-key"], "k3y-value")
            self.assertTrue(verify_webhook(secret, r.headers, r.body))
        status, one = self.api(s, "GET", "/api/subscriptions/%d" % sid)
        self.assertEqual(status, 200)
        self.assertEqual(len(one["attempts"]), 2)
        for a in one["attempts"]:
            self.assertLessEqual({"time", "event", "event_id", "status", "latency_ms", "error"}, set(a))
            self.assertEqual((a["event"], a["status"]), ("discussion_entry_created", 204))
        self.assertEqual(self.api(s, "POST", "/api/subscriptions/%d/pause" % sid)[1]["state"], "paused")
        self.assertEqual(self.api(s, "POST", "/api/subscriptions/%d/resume" % sid)[1]["state"], "active")
        self.assertEqual(self.api(s, "POST", "/api/subscriptions/%d/replay" % sid,
                                  {"since": E.iso(E.T0), "until": E.iso(E.T0 + 1000)}), (200, {"queued": 1, "more": False}))
        T.wait_for(lambda: len(t.delivered()) == 3, WAIT)
        self.assertEqual(self.api(s, "POST", "/api/subscriptions/%d/redeliver" % sid), (200, {"queued": 0}))
        self.assertEqual(self.api(s, "GET", "/api/subscriptions/%d/dead-letters" % sid), (200, {"dead_letters": []}))
        # secrets and header values are never shown back
        for path in ("/api/subscriptions", "/api/subscriptions/%d" % sid):
            text = s.request("GET", path, None, {"Authorization": "Bearer " + self.TOKEN})[1]
            self.assertNotIn(secret[6:], text)
            self.assertNotIn("k3y-value", text)
        self.assertEqual(self.api(s, "DELETE", "/api/subscriptions/%d" % sid), (204, None))
        self.assertEqual(self.api(s, "GET", "/api/subscriptions/%d" % sid)[0], 404)
        self.assertEqual(self.api(s, "GET", "/api/subscriptions"), (200, {"subscriptions": []}))

    def test_metrics(self):
        ok, refused = self.target(), self.target(T.always(400))
        a = self.add(ok.url, "--name", "ok")
        b = self.add(refused.url, "--name", "refused")
        c = self.add(ok.url, "--name", "caliper", "--form", "caliper")
        s = self.serve()
        self.post_all(s, entries(2) + [E.conversation_created(31, 50, E.T0)])
        self.settle(a["id"], delivered=3)
        self.settle(b["id"], dead_letters=3)
        self.settle(c["id"], delivered=2, skipped=1)
        status, text = s.get("/metrics")
        self.assertEqual(status, 200)
        samples = metric_samples(text)

        def value(name, sub, **labels):
            found = [v for n, l, v in samples if n == name and l.get("subscription") in (str(sub["id"]), sub["name"])
                     and all(l.get(k) == w for k, w in labels.items())]
            self.assertEqual(len(found), 1, "%s %s %r in:\n%s" % (name, sub["name"], labels,
                                                                  "\n".join(x for x in text.splitlines()
                                                                            if "deliver" in x)))
            return found[0]
        self.assertEqual(value("levee_deliveries_total", a, outcome="delivered"), 3)
        self.assertEqual(value("levee_deliveries_total", b, outcome="dead_letter"), 3)
        self.assertEqual(value("levee_deliveries_total", c, outcome="skipped"), 1)
        self.assertEqual(value("levee_deliveries_total", c, outcome="delivered"), 2)
        self.assertEqual(value("levee_delivery_attempts_total", a, result="2xx"), 3)
        self.assertEqual(value("levee_delivery_attempts_total", b, result="4xx"), 3)
        self.assertEqual(value("levee_delivery_lag_events", a), 0)
        self.assertEqual(value("levee_delivery_oldest_undelivered_seconds", a), 0)
        counts = [v for n, l, v in samples if n == "levee_delivery_seconds_count"]
        self.assertEqual(sum(counts), 5)  # the deliveries (2xx) of a and c
        self.assertTrue(any(n == "levee_delivery_seconds_bucket" and l.get("le") == "+Inf" for n, l, v in samples))


if __name__ == "__main__":
    unittest.main()


class OnPostgreSQL:
    """Runs a SubscriptionTest class against PostgreSQL: the store is a fresh database of the run's cluster."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = pg.shared_or_skip()
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.db = self.cluster.new_database()


class TestFiltersOnPostgreSQL(OnPostgreSQL, TestFilters):
    pass


class TestDeliveryGuaranteesOnPostgreSQL(OnPostgreSQL, TestDeliveryGuarantees):
    pass


class TestControlOnPostgreSQL(OnPostgreSQL, TestControl):
    pass
