"""test_jwt_claims.py: `levee serve --jwks FILE` and validly signed JWTs that must still be refused:
exp, nbf or iat that is not a NumericDate (a JSON number of seconds from 0 to 253402300799, the end
of year 9999), and any crit header (levee supports no JWS extension, RFC 7515 section 4.1.11). Each
is answered 401 with a sentence saying why and nothing of it is stored, while valid tokens (also
with fractional dates) get 200. A JWKS that gives one kid to two keys is refused at start and on
SIGHUP (the keys loaded before are kept)."""
import json
import os
import signal
import time
import unittest

import jwt_util
from lv import canvas_example, compact, mutate, run
from server import ServerTestCase

ENTRY = canvas_example("discussion_entry_created")
ISS = "https://live-events.canvas.instructure.com"
KID = "2026-11"
MUST = "it must be a number of seconds since 1970, from 0 to 253402300799 (the end of year 9999)"


class JwtClaimsTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.key = jwt_util.make_key(self.path("key.pem"))
        self.jwks = jwt_util.write_jwks(self.path("jwks.json"), [jwt_util.jwk(self.key, KID)])
        self.now = int(time.time())
        self.serial = 0

    def event(self):
        """A distinct event each time (its own entry id), so that a refused token, had it been stored,
        would be an event of its own and not a duplicate of an accepted one."""
        self.serial += 1
        return mutate(ENTRY, "body/discussion_entry_id", str(7000000 + self.serial))

    def claims_text(self, members):
        """The claims JSON text: an event, iss, and members (JSON text such as '"exp":1e300')."""
        text = compact(dict(self.event(), iss=ISS))
        return text[:-1] + ("," + members if members else "") + "}"

    def token(self, members, header=None):
        return jwt_util.sign_text(self.key, self.claims_text(members), KID, header)


class TestClaims(JwtClaimsTest):
    def test_claims_that_are_not_numeric_dates_are_refused(self):
        s = self.serve("--jwks", self.jwks)
        later = self.now + 3600
        cases = {
            "exp string": ('"exp":"%d"' % later, "the JWT's exp claim is a string (\"%d\"); %s" % (later, MUST)),
            "nbf string": ('"nbf":"%d"' % self.now, "the JWT's nbf claim is a string (\"%d\"); %s" % (self.now, MUST)),
            "iat string": ('"iat":"%d"' % self.now, "the JWT's iat claim is a string"),
            "exp bool": ('"exp":true', "the JWT's exp claim is true; " + MUST),
            "nbf bool": ('"nbf":false', "the JWT's nbf claim is false; " + MUST),
            "exp null": ('"exp":null', "the JWT's exp claim is null; " + MUST),
            "nbf null": ('"nbf":null', "the JWT's nbf claim is null; " + MUST),
            "exp object": ('"exp":{"seconds":%d}' % later, "the JWT's exp claim is an object"),
            "nbf 1e300": ('"nbf":1e300', "the JWT's nbf claim 1e300 is after the year 9999; " + MUST),
            "exp 1e300": ('"exp":1e300', "the JWT's exp claim 1e300 is after the year 9999"),
            "exp -1e300": ('"exp":-1e300', "the JWT's exp claim -1e300 is before 1970; " + MUST),
            "exp huge integer": ('"exp":99999999999999999999999',
                                 "the JWT's exp claim 99999999999999999999999 is after the year 9999"),
            "exp year 10000": ('"exp":253402300800', "the JWT's exp claim 253402300800 is after the year 9999"),
            "nbf negative": ('"nbf":-1', "the JWT's nbf claim -1 is before 1970"),
        }
        for name, (members, why) in cases.items():
            with self.subTest(case=name):
                status, body = s.post("/events", self.token(members), content_type="application/jwt")
                self.assertEqual(status, 401, body)
                self.assertIn(why, json.loads(body)["error"])
        self.assertTrue(s.wait_log(lambda l: "msg=refused" in l and "1e300 is after the year 9999" in l), s.log[-20:])
        # still accepted: a token in range, with fractional dates as RFC 7519 allows
        for members in ('"iat":%d,"exp":%d' % (self.now, later),
                        '"iat":%d.25,"nbf":%d.5,"exp":%d.5' % (self.now, self.now - 10, later),
                        '"exp":%de-1' % (later * 10)):
            with self.subTest(valid=members):
                status, body = s.post("/events", self.token(members), content_type="application/jwt")
                self.assertEqual(status, 200, body)
                self.assertEqual(json.loads(body)["accepted"], 1)
        self.assert_stored_only(s, 3)

    def test_expiry_still_checked(self):
        s = self.serve("--jwks", self.jwks)
        status, body = s.post("/events", self.token('"exp":%d.5' % (self.now - 3600)))
        self.assertEqual(status, 401, body)
        self.assertIn("the JWT expired", json.loads(body)["error"])
        status, body = s.post("/events", self.token('"nbf":%d.5' % (self.now + 3600)))
        self.assertEqual(status, 401, body)
        self.assertIn("the JWT is not valid for another", json.loads(body)["error"])
        self.assertEqual(s.post("/events", self.token('"exp":%d' % (self.now + 3600)))[0], 200)
        self.assert_stored_only(s, 1)

    def assert_stored_only(self, s, accepted):
        """The store holds exactly the accepted events: nothing refused became an event, a duplicate or
        a dead letter (refused tokens were posted first; the journal is applied in order)."""
        st = s.wait_applied(accepted)
        self.assertEqual((st["events"], st["dead_letters"]), (accepted, 0))
        s.stop()
        self.assertEqual(len(run("export", "--db", self.db).out.splitlines()), accepted)
        stats = json.loads(run("stats", "--db", self.db, "--json").out)
        self.assertEqual((stats["events"], stats["duplicates"], stats["dead_letters"]), (accepted, 0, 0))


class TestSignedInTheTail(JwtClaimsTest):
    def test_a_signed_event_reaches_the_live_tail(self):
        # the tail keeps the claims (the event) of a signed request, not its token
        s = self.serve("--jwks", self.jwks)
        later = self.now + 3600
        status, body = s.post("/events", self.token('"iat":%d,"exp":%d' % (self.now, later)),
                              content_type="application/jwt")
        self.assertEqual(status, 200, body)
        conn = s.connection(timeout=10)
        conn.request("GET", "/api/tail", headers={"Last-Event-ID": "0"})
        resp = conn.getresponse()
        record = None
        deadline = time.time() + 10
        while record is None and time.time() < deadline:
            line = resp.readline().decode()
            if line.startswith("data: "):
                record = json.loads(line[6:])
        conn.close()
        self.assertIsNotNone(record)
        self.assertEqual(record["event"], "discussion_entry_created")
        self.assertTrue(record["body"]["discussion_entry_id"].endswith(str(7000000 + self.serial)))


class TestCrit(JwtClaimsTest):
    def test_crit_is_refused(self):
        s = self.serve("--jwks", self.jwks)
        exp = '"exp":%d' % (self.now + 3600)
        cases = {
            "unknown extension": ({"crit": ["exp-ext"], "exp-ext": 1},
                                  "the JWT's header marks the extension \"exp-ext\" as critical (crit), and levee "
                                  "supports no JWS extension"),
            "two extensions": ({"crit": ["b64", "zip2"], "b64": False, "zip2": 1},
                               "marks the extensions \"b64\", \"zip2\" as critical"),
            "empty list": ({"crit": []}, "the JWT's header has an empty crit list, which RFC 7515 section 4.1.11 forbids"),
            "not an array": ({"crit": "exp-ext", "exp-ext": 1},
                             "the JWT's header has a crit member that is a string, not a list of header parameter names"),
            "not strings": ({"crit": [1]}, "the JWT's crit list holds a number, not a header parameter name"),
            "a JWS parameter": ({"crit": ["kid"]}, "the JWT's crit list names \"kid\", a header parameter of JWS itself"),
        }
        for name, (header, why) in cases.items():
            with self.subTest(case=name):
                status, body = s.post("/events", self.token(exp, header), content_type="application/jwt")
                self.assertEqual(status, 401, body)
                self.assertIn(why, json.loads(body)["error"])
        # the same claims without crit are accepted
        status, body = s.post("/events", self.token(exp), content_type="application/jwt")
        self.assertEqual(status, 200, body)
        st = s.wait_applied(1)
        self.assertEqual((st["events"], st["dead_letters"]), (1, 0))


class TestDuplicateKid(JwtClaimsTest):
    def test_jwks_with_a_kid_twice_is_refused_at_start(self):
        other = jwt_util.make_key(self.path("other.pem"))
        dup = jwt_util.write_jwks(self.path("dup.json"), [jwt_util.jwk(self.key, KID), jwt_util.jwk(other, KID)])
        s = self.serve("--jwks", dup, expect_start=False)
        code = s.proc.wait(timeout=20)
        s._lines.join(5)
        self.assertEqual(code, 2)
        self.assertTrue(any('dup.json has two keys with kid "2026-11" (entries 1 and 2 of "keys")' in l
                            and "remove or rename one" in l for l in s.log), s.log)

    def test_reload_with_a_kid_twice_keeps_the_keys(self):
        s = self.serve("--jwks", self.jwks)
        self.assertEqual(s.post("/events", self.token('"exp":%d' % (self.now + 3600)))[0], 200)
        other = jwt_util.make_key(self.path("other.pem"))
        jwt_util.write_jwks(self.jwks, [jwt_util.jwk(self.key, KID), jwt_util.jwk(other, KID)])
        os.kill(s.proc.pid, signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not any("cannot reload the JWKS" in l for l in s.log):
            time.sleep(0.05)
        # (the log is logfmt: the reason's quotes are escaped)
        self.assertTrue(any("cannot reload the JWKS; keeping the keys loaded before" in l and
                            'two keys with kid \\"2026-11\\"' in l for l in s.log), s.log)
        # the keys loaded before still verify
        self.assertEqual(s.post("/events", self.token('"exp":%d' % (self.now + 3600)))[0], 200)
        # and a token from the other key is refused, naming the key it does not verify with
        status, body = s.post("/events", jwt_util.sign_text(other, self.claims_text(""), KID))
        self.assertEqual(status, 401, body)
        self.assertIn("does not verify with key \"2026-11\"", json.loads(body)["error"])


if __name__ == "__main__":
    unittest.main()
