"""test_serve.py: `levee serve` on loopback, as Canvas and people use it: every input form, every
error status, signed payloads, tokens, the live tail, metrics, health, the API, configuration,
graceful stop, and a kill -9 in the middle of concurrent posts (nothing acknowledged is lost)."""
import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest

import events as E
import jwt_util
from lv import SANITIZED, caliper_example, canvas_example, compact, mutate, run
from server import Server, ServerTestCase, keep_posting

ENTRY = canvas_example("discussion_entry_created")
NOW = int(time.time())


class ServeTest(ServerTestCase):
    pass


class TestReceiving(ServeTest):
    def test_each_input_form(self):
        s = self.serve()
        # a canvas event, whatever the Content-Type says
        status, body = s.post("/events", compact(ENTRY), content_type="text/plain")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"rejected": [], "accepted": 1})
        # pretty-printed, as in the docs
        self.assertEqual(s.post("/events", json.dumps(canvas_example("conversation_created"), indent=2))[0], 200)
        # a Caliper envelope
        self.assertEqual(s.post("/events", json.dumps(caliper_example("discussion_topic_created")))[0], 200)
        # an NDJSON batch
        batch = E.ndjson(E.course_story())
        status, body = s.post("/events", batch, content_type="application/x-ndjson")
        self.assertEqual((status, json.loads(body)["accepted"]), (200, 16))
        st = s.wait_applied(19)
        self.assertEqual(st["events"], 19)
        self.assertEqual(st["by_format"], {"canvas": 18, "caliper": 1})
        # and it is queryable, the same as from the command line
        status, topic = s.get_json("/api/topics/123456")
        self.assertEqual(status, 200)
        self.assertEqual(topic["topic"]["title"], "Photosynthesis (week 2)")

    def test_invalid_input_is_400_and_kept(self):
        s = self.serve()
        bad = compact(mutate(ENTRY, "body/created_at", "2019-07-03 23:12:34"))
        status, body = s.post("/events", bad)
        self.assertEqual(status, 400)
        answer = json.loads(body)
        self.assertEqual(answer["accepted"], 0)
        [rej] = answer["rejected"]
        self.assertEqual(rej["event"], "discussion_entry_created")
        self.assertEqual(rej["errors"], [{"path": "/body/created_at", "message": '"2019-07-03 23:12:34" has no UTC offset'}])
        # a batch with a bad line: the good ones are kept, the answer lists the bad one
        batch = compact(ENTRY) + "\n{oops\n" + compact(canvas_example("conversation_created")) + "\n"
        status, body = s.post("/events", batch, content_type="application/x-ndjson")
        self.assertEqual(status, 400)
        answer = json.loads(body)
        self.assertEqual(answer["accepted"], 2)
        self.assertEqual([r["document"] for r in answer["rejected"]], [2])
        self.assertIn("not JSON", answer["rejected"][0]["errors"][0]["message"])
        st = s.wait_applied(4)
        self.assertEqual((st["events"], st["dead_letters"]), (2, 2))
        s.stop()
        dead = run("export", "--db", self.db, "--dead-letters").out
        self.assertEqual(dead, bad + "\n{oops\n")

    def test_error_statuses(self):
        s = self.serve()
        big = compact(mutate(ENTRY, "body/text", "x" * 1000100))
        self.assertEqual(s.post("/events", big)[0], 413)
        self.assertEqual(s.post("/events", b"\x89PNG\r\n\x1a\n", content_type="image/png")[0], 415)
        self.assertEqual(s.post("/events", "")[0], 400)
        self.assertEqual(s.get("/events")[0], 405)
        self.assertEqual(s.post("/api/stats", "{}")[0], 405)
        self.assertEqual(s.get("/api/nothing")[0], 404)
        self.assertEqual(s.get("/api/topics/42")[0], 404)
        self.assertEqual(s.get("/api/topics/abc")[0], 400)  # not an id at all (docs/api.md)
        self.assertEqual(s.get("/api/courses/565?since=yesterday")[0], 400)
        self.assertEqual(s.get("/no/such/page")[0], 404)

    def test_schema_drift_is_seen_at_once(self):
        s = self.serve()  # a store the server creates
        event = {"metadata": {"event_name": "course_completed", "event_time": "2024-09-02T10:00:00Z"}, "body": {}}
        self.assertEqual(s.post("/events", compact(event))[0], 200)
        st = s.wait_applied(1)
        self.assertEqual(st["drift"], [{"event": "course_completed", "field": None, "format": "canvas", "count": 1,
                                        "first_seen": "2024-09-02T10:00:00.000Z",
                                        "last_seen": "2024-09-02T10:00:00.000Z"}])

    def test_unsupported_content_is_kept_as_a_dead_letter(self):
        s = self.serve("--ingest-token", "in-secret", "--api-token", "api-secret")
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
        # from a sender without the token: refused, nothing kept
        self.assertEqual(s.post("/events", png, content_type="image/png")[0], 401)
        # from an authenticated sender: 415, and the body is kept byte for byte, as everything else is
        status, body = s.post("/events?token=in-secret", png, content_type="image/png")
        self.assertEqual(status, 415)
        self.assertIn("kept as a dead letter", json.loads(body)["error"])
        # larger than an event may be: only its size is kept
        self.assertEqual(s.post("/events?token=in-secret", b"<" + b"x" * 1000100, content_type="text/xml")[0], 415)
        st = s.wait_applied(2, token="api-secret")
        self.assertEqual((st["events"], st["dead_letters"]), (0, 2))
        status, text = s.get("/metrics?token=api-secret")
        rejected = sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith("levee_events_rejected_total"))
        self.assertEqual(rejected, 2)
        s.stop()
        dead = run("export", "--db", self.db, "--dead-letters")
        self.assertEqual(dead.code, 0, dead.err)
        self.assertEqual(dead.out_bytes, png + b"\n")  # the oversized one is kept as its size only
        self.assertIn("not JSON", run("validate", input=dead.out_bytes).err)

    def test_broken_connections_do_not_take_it_down(self):
        s = self.serve()
        # a request cut off in the middle of its body, and one that is not HTTP at all
        sock = socket.create_connection((s.host, s.port), timeout=5)
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n{\"metadata\":")
        sock.close()
        sock = socket.create_connection((s.host, s.port), timeout=5)
        sock.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        try:
            sock.recv(100)
        except OSError:
            pass
        sock.close()
        self.assertEqual(s.post("/events", compact(ENTRY))[0], 200)
        self.assertEqual(s.get("/healthz"), (200, '{"status":"ok"}\n'))


class TestSignatures(ServeTest):
    def setUp(self):
        super().setUp()
        self.key = jwt_util.make_key(self.path("key.pem"))
        self.other = jwt_util.make_key(self.path("other.pem"))
        self.jwks = jwt_util.write_jwks(self.path("jwks.json"), [jwt_util.jwk(self.key, "2026-11")])
        self.claims = dict(ENTRY, iss="https://live-events.canvas.instructure.com", iat=NOW, exp=NOW + 3600)

    def test_signed_events(self):
        s = self.serve("--jwks", self.jwks)
        good = jwt_util.sign(self.key, self.claims, "2026-11")
        status, body = s.post("/events", good, content_type="application/jwt")
        self.assertEqual(status, 200, body)
        cases = {
            "wrong key": (jwt_util.sign(self.other, self.claims, "2026-11"), "does not verify"),
            "alg none": (jwt_util.sign(self.key, self.claims, "2026-11", alg="none"), "only RS256"),
            "HS256": (jwt_util.sign(self.key, self.claims, "2026-11", alg="HS256"), "only RS256"),
            "expired": (jwt_util.sign(self.key, dict(self.claims, exp=NOW - 3600), "2026-11"), "expired"),
            "not yet": (jwt_util.sign(self.key, dict(self.claims, nbf=NOW + 3600), "2026-11"), "not valid for another"),
            "issuer": (jwt_util.sign(self.key, dict(self.claims, iss="https://evil.example"), "2026-11"), "issuer"),
            "unknown kid": (jwt_util.sign(self.key, self.claims, "2025-01"), "no key in the JWKS has kid"),
        }
        for name, (token, why) in cases.items():
            with self.subTest(case=name):
                status, body = s.post("/events", token, content_type="application/jwt")
                self.assertEqual(status, 401, body)
                self.assertIn(why, json.loads(body)["error"])
        self.assertTrue(s.wait_log(lambda l: "msg=refused" in l and "expired" in l), s.log[-20:])
        st = s.wait_applied(1)
        self.assertEqual(st["events"], 1)
        # the stored event is the claims as signed; its JWT claims do not make it a different event
        self.assertEqual(s.post("/events", compact(ENTRY))[0], 200)
        time.sleep(0.5)
        s.stop()
        exported = run("export", "--db", self.db).out.splitlines()
        self.assertEqual(len(exported), 1)
        self.assertEqual(json.loads(exported[0])["iss"], "https://live-events.canvas.instructure.com")
        self.assertEqual(json.loads(run("stats", "--db", self.db, "--json").out)["duplicates"], 1)
        # refused requests are counted
        status, _ = run("stats", "--db", self.db).code, None

    def test_require_signature_and_reload(self):
        s = self.serve("--jwks", self.jwks, "--require-signature")
        status, body = s.post("/events", compact(ENTRY))
        self.assertEqual(status, 401)
        self.assertIn("accepts only signed events", body)
        # keys rotate: a token signed with a new key is refused until SIGHUP reloads the JWKS
        token = jwt_util.sign(self.other, self.claims, "2026-12")
        self.assertEqual(s.post("/events", token)[0], 401)
        jwt_util.write_jwks(self.jwks, [jwt_util.jwk(self.key, "2026-11"), jwt_util.jwk(self.other, "2026-12")])
        os.kill(s.proc.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and sum("loaded the JWKS" in l for l in s.log) < 2:
            time.sleep(0.05)
        self.assertEqual(s.post("/events", token)[0], 200)

    def test_signed_event_without_jwks_is_refused(self):
        s = self.serve()
        status, body = s.post("/events", jwt_util.sign(self.key, self.claims, "2026-11"))
        self.assertEqual(status, 401)
        self.assertIn("no JWKS", body)


class TestAccess(ServeTest):
    def test_tokens(self):
        s = self.serve("--ingest-token", "in-secret", "--api-token", "api-secret")
        self.assertEqual(s.post("/events", compact(ENTRY))[0], 401)
        self.assertEqual(s.post("/events?token=wrong", compact(ENTRY))[0], 401)
        self.assertEqual(s.post("/events?token=in-secret", compact(ENTRY))[0], 200)
        self.assertEqual(s.post("/events", compact(ENTRY), headers={"Authorization": "Bearer in-secret"})[0], 200)
        self.assertEqual(s.get("/api/stats")[0], 401)
        self.assertEqual(s.get("/api/stats?token=in-secret")[0], 401)  # the ingest token is not the API token
        self.assertEqual(s.get("/api/stats", {"Authorization": "Bearer api-secret"})[0], 200)
        self.assertEqual(s.get("/metrics?token=api-secret")[0], 200)
        self.assertEqual(s.get("/healthz")[0], 200)  # health checks need no token
        self.assertEqual(s.get("/")[0], 200)         # nor the page (it asks for the API token)

    def test_no_public_listening_without_tokens(self):
        s = self.serve(listen="0.0.0.0:0", expect_start=False)
        code = s.proc.wait(timeout=20)
        s._lines.join(5)
        self.assertEqual(code, 2)
        self.assertTrue(any("refusing to listen on 0.0.0.0:0 without tokens" in l for l in s.log), s.log)

    def test_configuration_file_and_environment(self):
        conf = self.path("levee.conf")
        with open(conf, "w") as f:
            f.write("# levee\ningest-token = from-file\napi-token = \"api-file\"\nlog-format = json\n")
        env = dict(os.environ, LEVEE_API_TOKEN="api-from-env")
        s = self.serve("--config", conf, env=env)
        self.assertEqual(s.post("/events?token=from-file", compact(ENTRY))[0], 200)
        self.assertEqual(s.get("/api/stats?token=api-file")[0], 401)  # the environment wins over the file
        self.assertEqual(s.get("/api/stats?token=api-from-env")[0], 200)
        self.assertTrue(any(l.startswith("{") and '"msg":"listening"' in l for l in s.log))
        with open(conf, "w") as f:
            f.write("colour = blue\n")
        r = run("serve", "--config", conf, "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn('there is no setting "colour"', r.err)


class TestStreams(ServeTest):
    def read_events(self, resp, n, timeout=15):
        got, deadline, buf = [], time.time() + timeout, b""
        while len(got) < n and time.time() < deadline:
            chunk = resp.readline()
            if not chunk:
                break
            buf += chunk
            if chunk == b"\n" and buf.strip():
                block = buf.decode()
                buf = b""
                data = [l[6:] for l in block.splitlines() if l.startswith("data: ")]
                if data:
                    got.append(json.loads(data[0]))
        return got

    def test_live_tail(self):
        s = self.serve()
        conn = http.client.HTTPConnection(s.host, s.port, timeout=15)
        conn.request("GET", "/api/tail?event=discussion_entry_created&course=565")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Type"), "text/event-stream")
        self.assertEqual(resp.readline(), b": levee live tail\n")
        s.post("/events", E.ndjson(E.course_story()), content_type="application/x-ndjson")
        got = self.read_events(resp, 5)
        conn.close()
        self.assertEqual([g["body"]["discussion_entry_id"] for g in got],
                         [E.glob(1001), E.glob(1002), E.glob(1003), E.glob(1004), E.glob(1005)])
        self.assertTrue(all(g["event"] == "discussion_entry_created" for g in got))

    def test_metrics_and_health(self):
        s = self.serve()
        s.post("/events", compact(ENTRY))
        s.post("/events", compact(ENTRY))
        s.post("/events", compact(mutate(ENTRY, "body/user_id", "x")))
        s.wait_applied(2)  # one event (the second is a duplicate) and one dead letter
        status, text = s.get("/metrics")
        self.assertEqual(status, 200)
        lines = text.splitlines()
        metric = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in lines if l and not l.startswith("#")}
        self.assertEqual(metric['levee_events_received_total{event="discussion_entry_created",format="canvas"}'], 2)
        self.assertEqual(metric['levee_events_stored_total{event="discussion_entry_created",format="canvas"}'], 1)
        self.assertEqual(metric['levee_events_duplicate_total{event="discussion_entry_created",format="canvas"}'], 1)
        self.assertEqual(metric['levee_events_rejected_total{event="discussion_entry_created",format="canvas"}'], 1)
        self.assertEqual(metric['levee_http_requests_total{route="events",status="2xx"}'], 2)
        self.assertGreaterEqual(metric['levee_commit_duration_seconds_count{}'], 3)
        self.assertEqual(metric['levee_commit_records_total'], 3)  # every document, the rejected one too
        self.assertIn('levee_http_request_duration_seconds_bucket{route="events",le="+Inf"}', metric)
        self.assertIn("levee_queue_depth_bytes", metric)
        self.assertTrue(all(l.startswith("levee_") for l in lines if l and not l.startswith("#")))
        self.assertEqual(s.get_json("/readyz"), (200, {"status": "ok"}))


class TestLifecycle(ServeTest):
    def test_sigterm_finishes_and_keeps_everything(self):
        s = self.serve()
        self.assertEqual(s.post("/events", E.ndjson(E.course_story()), content_type="application/x-ndjson")[0], 200)
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertTrue(any("msg=stopped" in l for l in s.log))
        # everything acknowledged is in the store after the stop
        self.assertEqual(json.loads(run("stats", "--db", self.db, "--json").out)["events"], 16)

    def test_api_matches_the_command_line(self):
        s = self.serve()
        s.post("/events", E.ndjson(E.course_story()), content_type="application/x-ndjson")
        s.wait_applied(16)
        for path, args in (("/api/topics/123456", ("query", "topic", "123456")),
                           ("/api/conversations/31", ("query", "conversation", "31")),
                           ("/api/users/50", ("query", "user", "50", "--now", "2030-01-01")),
                           ("/api/courses", ("query", "courses")),
                           ("/api/search?q=chlorophyll", ("search", "chlorophyll"))):
            with self.subTest(path=path):
                api = s.get_json(path + ("&" if "?" in path else "?") + "now=2030-01-01")[1]
                cli = json.loads(run(*args, "--db", self.db, "--json").out)
                if "user" in path:
                    cli.pop("since", None), api.pop("since", None)
                self.assertEqual(api, cli)
        status, course = s.get_json("/api/courses/565?now=2024-09-02T19:00:00Z&limit=1")
        self.assertEqual(len(course["topics"]), 1)
        self.assertEqual(len(course["unanswered"]), 1)
        self.assertEqual(course["unanswered_count"], 3)

    def test_kill_9_under_concurrent_load_loses_nothing_acknowledged(self):
        s = self.serve("--access-log", "false")
        acked, lock, stop = [], threading.Lock(), threading.Event()
        n_threads = 16

        def client(t):
            keep_posting(s, t, stop, acked, lock)

        threads = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        time.sleep(3 if SANITIZED else 1.5)
        s.kill()  # kill -9 in the middle of the load
        stop.set()
        for t in threads:
            t.join(15)
        self.assertGreater(len(acked), 100)
        # restart: the journal is replayed into the store
        s2 = self.serve()
        st = s2.wait_applied(len(acked), timeout=120)
        # ready once the whole journal is applied: events written to it but not acknowledged before the
        # kill come after the acknowledged ones, so readiness may follow a moment later
        deadline = time.time() + 60
        while True:
            status, why = s2.get_json("/readyz")
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200, why)
        s2.stop()
        stored = [json.loads(l)["body"]["discussion_entry_id"] for l in run("export", "--db", self.db).out.splitlines()]
        self.assertEqual(len(stored), len(set(stored)), "an event is stored twice")
        missing = set(acked) - set(stored)
        self.assertEqual(missing, set(), "%d acknowledged events are missing" % len(missing))
        self.assertEqual(st["dead_letters"], 0)


if __name__ == "__main__":
    unittest.main()
