"""test_sqs.py: `levee pull --sqs` and `levee simulate --sqs` against a local SQS-compatible server
(local-aws-sqs from npm, tests/sqs, which speaks SQS's JSON protocol), started by each test on a free port
of 127.0.0.1 in its temporary directory and stopped by pid: events sent as Canvas sends them are stored
exactly as sent and deleted from the queue; a message that is not an event is kept as a dead letter and
deleted; a message sent twice is stored once; levee pull killed with SIGKILL at random moments under load
loses nothing and doubles nothing once run again; the server stopped and started again mid-run is
waited for with backoff, and said; wrong credentials are reported in a sentence.

local-aws-sqs does not check signatures, so the credential tests put a verifying proxy in front of it
(AuthProxy): it checks every request's AWS Signature Version 4 with an implementation written here from
AWS's description (hashlib and hmac), which is itself checked against AWS's published SigV4 test-suite
vectors, answers as AWS does when the key or the signature is wrong, and forwards the rest. The same
vectors are also checked against the curl command's --aws-sigv4, which is the libcurl that levee loads."""
import hashlib
import hmac
import http.server
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from lv import ROOT, SANITIZED, levee_path, run

SQS_DIR = os.path.join(ROOT, "tests", "sqs")
ACCOUNT = "123456789012"
KEY_ID = "AKIDLEVEETEST"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYLEVEEKEY"


def sqs_call(endpoint, action, body, timeout=30):
    req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS." + action})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
    return json.loads(text) if text else {}


class Emulator:
    """local-aws-sqs in a node process of its own, on 127.0.0.1 (a free port, or the one given)."""

    def __init__(self, directory, port=0):
        script = os.path.join(SQS_DIR, "server.mjs")
        if not os.path.isdir(os.path.join(SQS_DIR, "node_modules", "local-aws-sqs")):
            raise AssertionError("local-aws-sqs is not installed: run `cd tests/sqs && npm ci` (make e2e does)")
        self.proc = subprocess.Popen(["node", script, str(port)], cwd=directory, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("local-aws-sqs did not start: " + self.proc.stderr.read())
        self.port = json.loads(line)["port"]
        self.endpoint = "http://127.0.0.1:%d/" % self.port

    def create_queue(self, name, visibility=30):
        out = sqs_call(self.endpoint, "CreateQueue", {"QueueName": name,
                                                      "Attributes": {"VisibilityTimeout": str(visibility)}})
        return out["QueueUrl"]

    def counts(self, queue):
        a = sqs_call(self.endpoint, "GetQueueAttributes", {
            "QueueUrl": queue, "AttributeNames": ["ApproximateNumberOfMessages",
                                                  "ApproximateNumberOfMessagesNotVisible"]})["Attributes"]
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def send(self, queue, bodies):
        for i in range(0, len(bodies), 10):
            entries = [{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i:i + 10])]
            out = sqs_call(self.endpoint, "SendMessageBatch", {"QueueUrl": queue, "Entries": entries})
            assert len(out.get("Successful", [])) == len(entries), out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


# ---- AWS Signature Version 4, written from AWS's description, to check levee's requests ----

def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sigv4(secret, method, path, headers, signed, payload, amz_date, region, service):
    """The signature of a request with an empty query string. headers: lower-case name -> value."""
    canonical_headers = "".join("%s:%s\n" % (h, " ".join(headers[h].strip().split())) for h in signed)
    request = "\n".join([method, path, "", canonical_headers, ";".join(signed),
                         hashlib.sha256(payload).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part)
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


# From AWS's SigV4 test suite (aws-sig-v4-test-suite: get-vanilla, post-vanilla, post-x-www-form-urlencoded),
# whose requests go to example.amazonaws.com, region us-east-1, service "service", at 20150830T123600Z.
VECTOR_KEY = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
VECTORS = [
    ("GET", {}, b"", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("POST", {}, b"", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("POST", {"content-type": "application/x-www-form-urlencoded"}, b"Param1=value1",
     "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
]


class AuthProxy:
    """Checks each request's SigV4 signature (key KEY_ID, secret SECRET, region, service sqs, and the
    session token when one is expected) and answers as AWS does when it is wrong; forwards the rest to
    the emulator. Counts the requests it verified."""

    def __init__(self, upstream, region="us-east-1", token=None):
        self.verified = 0
        self.refused = []
        self.tokens_seen = set()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # levee gave the request up (it is stopping)

            def refuse(self, code, message):
                proxy.refused.append(code)
                self.answer(403 if code != "IncompleteSignature" else 400, json.dumps(
                    {"__type": "com.amazon.coral.service#" + code, "message": message}).encode())

            def do_POST(self):
                payload = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                auth = headers.get("authorization", "")
                if not auth.startswith("AWS4-HMAC-SHA256 "):
                    return self.refuse("MissingAuthenticationToken", "Request is missing Authentication Token")
                parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
                key, day, reg, service, term = parts["Credential"].split("/")
                signed = parts["SignedHeaders"].split(";")
                amz_date = headers.get("x-amz-date", "")
                if key != KEY_ID:
                    return self.refuse("InvalidClientTokenId",
                                       "The security token included in the request is invalid.")
                if (reg, service, term, day) != (region, "sqs", "aws4_request", amz_date[:8]) or \
                        "host" not in signed or "x-amz-date" not in signed:
                    return self.refuse("IncompleteSignature", "The credential scope is not right: " + auth)
                if token is not None and (headers.get("x-amz-security-token") != token or
                                          "x-amz-security-token" not in signed):
                    return self.refuse("InvalidClientTokenId", "The security token is missing or not signed.")
                want = sigv4(SECRET, "POST", self.path, headers, signed, payload, amz_date, reg, service)
                if not hmac.compare_digest(want, parts["Signature"]):
                    return self.refuse("SignatureDoesNotMatch",
                                       "The request signature we calculated does not match the signature you "
                                       "provided.")
                proxy.verified += 1
                proxy.tokens_seen.add(headers.get("x-amz-security-token"))
                req = urllib.request.Request(upstream, data=payload, method="POST", headers={
                    "Content-Type": headers["content-type"], "X-Amz-Target": headers["x-amz-target"]})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        self.answer(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self.answer(e.code, e.read())

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = "http://127.0.0.1:%d/" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class RoleCredentials:
    """A fake of the two places AWS hands a role's temporary credentials out on 127.0.0.1: the EC2 instance
    metadata service (IMDSv2: a session token by PUT, then the role's name, then its credentials, each
    GET carrying the token) and a container's credentials endpoint (ECS, EKS: one GET, with an
    Authorization header when one is set). Each credentials answer has a new session token, valid for
    `lifetime` seconds; what was asked is recorded."""

    def __init__(self, role="levee-reader", lifetime=3600, authorization=None):
        self.asked = []
        self.tokens = []
        self.requests = 0
        self.expires = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, body):
                body = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def credentials(self):
                # the same token until it expires, then a new one (as AWS rotates a role's session)
                with fake.lock:
                    fake.requests += 1
                    if not fake.tokens or time.time() >= fake.expires:
                        fake.tokens.append("IQoJb3JpZ2luX2VjEXAMPLE%d" % len(fake.tokens))
                        fake.expires = int(time.time()) + lifetime
                    token, expires = fake.tokens[-1], fake.expires
                return json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": KEY_ID,
                                   "SecretAccessKey": SECRET, "Token": token,
                                   "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))})

            def do_PUT(self):
                fake.asked.append(("PUT", self.path))
                if self.path != "/latest/api/token" or "X-aws-ec2-metadata-token-ttl-seconds" not in self.headers:
                    return self.answer(400, "")
                self.answer(200, "IMDS-SESSION-TOKEN")

            def do_GET(self):
                fake.asked.append(("GET", self.path))
                if self.path.startswith("/latest/"):
                    if self.headers.get("X-aws-ec2-metadata-token") != "IMDS-SESSION-TOKEN":
                        return self.answer(401, "")
                    base = "/latest/meta-data/iam/security-credentials/"
                    if self.path == base:
                        return self.answer(200 if role else 404, role + "\n" if role else "")
                    if role and self.path == base + role:
                        return self.answer(200, self.credentials())
                    return self.answer(404, "")
                if self.path == "/v2/credentials/task":
                    if authorization and self.headers.get("Authorization") != authorization:
                        return self.answer(403, "")
                    return self.answer(200, self.credentials())
                self.answer(404, "")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fetched(self):
        return self.requests

    def stop(self):
        self.server.shutdown()
        self.server.server_close()



def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class FakeSts:
    """A fake of STS's Query API on 127.0.0.1: AssumeRoleWithWebIdentity (unsigned: the web identity token is
    the proof) and AssumeRole (signed with SigV4 by the source credentials, checked with sigv4() above). It
    hands out KEY_ID and SECRET with a new session token each time, valid for `lifetime` seconds, in STS's
    XML; a token or role other than the expected ones gets STS's ErrorResponse. What was asked is recorded."""

    def __init__(self, role_arn, web_token=None, source_key=None, source_secret=None, lifetime=3600,
                 region="us-east-1"):
        self.calls = []
        self.tokens = []
        self.web_token = web_token
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, xml):
                body = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def error(self, status, code, message):
                self.answer(status, '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                            "<Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                            "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"
                            % (code, message))

            def do_POST(self):
                payload = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = {k: v[0] for k, v in urllib.parse.parse_qs(payload.decode()).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                action = form.get("Action")
                fake.calls.append({"action": action, "form": form, "signed": "authorization" in headers,
                                   "token": headers.get("x-amz-security-token")})
                if form.get("Version") != "2011-06-15" or form.get("RoleArn") != role_arn or \
                        not form.get("RoleSessionName"):
                    return self.error(403, "AccessDenied", "Not authorized to perform sts:%s" % action)
                if action == "AssumeRoleWithWebIdentity":
                    if "authorization" in headers:
                        return self.error(400, "InvalidAction", "AssumeRoleWithWebIdentity is not signed")
                    if form.get("WebIdentityToken") != fake.web_token:
                        return self.error(400, "InvalidIdentityToken", "Couldn't retrieve verification key "
                                          "from your identity provider")
                elif action == "AssumeRole":
                    auth = headers.get("authorization", "")
                    parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(",")) \
                        if auth.startswith("AWS4-HMAC-SHA256 ") else {}
                    cred = parts.get("Credential", "////").split("/")
                    signed = parts.get("SignedHeaders", "").split(";")
                    if cred[0] != source_key or cred[2:4] != [region, "sts"]:
                        return self.error(403, "InvalidClientTokenId", "The security token included in the "
                                          "request is invalid.")
                    want = sigv4(source_secret, "POST", self.path, headers, signed, payload,
                                 headers.get("x-amz-date", ""), region, "sts")
                    if not hmac.compare_digest(want, parts.get("Signature", "")):
                        return self.error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                                          "does not match the signature you provided.")
                else:
                    return self.error(400, "InvalidAction", "Could not find operation %s" % action)
                token = "FwoGZXIvYXdzSTS%d" % len(fake.tokens)
                fake.tokens.append(token)
                self.answer(200, '<%sResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n'
                            "  <%sResult>\n    <Credentials>\n      <SessionToken>%s</SessionToken>\n"
                            "      <SecretAccessKey>%s</SecretAccessKey>\n"
                            "      <Expiration>%s</Expiration>\n      <AccessKeyId>%s</AccessKeyId>\n"
                            "    </Credentials>\n    <AssumedRoleUser><Arn>%s/levee</Arn>"
                            "<AssumedRoleId>AROA:levee</AssumedRoleId></AssumedRoleUser>\n  </%sResult>\n"
                            "  <ResponseMetadata><RequestId>ad4156e9</RequestId></ResponseMetadata>\n"
                            "</%sResponse>\n" % (action, action, token, SECRET, iso(time.time() + lifetime),
                                                 KEY_ID, role_arn, action, action))

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class FakeSsoPortal:
    """A fake of IAM Identity Center's portal on 127.0.0.1: GetRoleCredentials
    (GET /federation/credentials?role_name=..&account_id=.., the cached login's token in
    x-amz-sso_bearer_token), answering KEY_ID and SECRET with a session token; another token gets 401. It
    is also the OIDC service's CreateToken (POST /token, grant refresh_token): the client and refresh
    token `aws sso login` registered get a new access token (and refresh token), which the portal then takes."""

    def __init__(self, bearer, role, account, lifetime=3600):
        self.calls = []
        self.renewals = []
        self.bearers = {bearer}
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                fake.calls.append((url.path, query, self.headers.get("x-amz-sso_bearer_token")))
                if self.headers.get("x-amz-sso_bearer_token") not in fake.bearers:
                    return self.answer(401, {"message": "Session token not found or invalid"})
                if url.path != "/federation/credentials" or query != {"role_name": role, "account_id": account}:
                    return self.answer(403, {"message": "No access"})
                self.answer(200, {"roleCredentials": {"accessKeyId": KEY_ID, "secretAccessKey": SECRET,
                                                      "sessionToken": "IQoJSSOSESSION",
                                                      "expiration": int((time.time() + lifetime) * 1000)}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                fake.renewals.append(body)
                if self.path != "/token" or body.get("grantType") != "refresh_token" or \
                        body.get("clientId") != "levee-client" or body.get("clientSecret") != "client-secret" or \
                        body.get("refreshToken") != "aorRefreshToken%d" % (len(fake.bearers) - 1):
                    return self.answer(400, {"error": "invalid_grant", "error_description": "no such grant"})
                token = "aoaRenewedAccessToken%d" % len(fake.bearers)
                fake.bearers.add(token)
                self.answer(200, {"accessToken": token, "expiresIn": 3600, "tokenType": "Bearer",
                                  "refreshToken": "aorRefreshToken%d" % (len(fake.bearers) - 1)})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# credential_process: a small program that prints the credentials as the AWS CLI expects them, counting its
# runs in a file; its lifetime (seconds, 0: no Expiration) and a failure are its arguments.
CREDENTIAL_PROCESS = r"""import json, sys, time
runs, lifetime = sys.argv[1], int(sys.argv[2])
with open(runs, "a") as f:
    f.write("run\n")
if len(sys.argv) > 3:
    sys.stderr.write(sys.argv[3] + "\n")
    sys.exit(1)
n = sum(1 for _ in open(runs))
out = {"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "IQoJPROCESS%%d" %% n}
if lifetime:
    out["Expiration"] = time.strftime("%%Y-%%m-%%dT%%H:%%M:%%SZ", time.gmtime(time.time() + lifetime))
print(json.dumps(out))
"""


class SqsTestCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="levee-sqs-")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.emulators = []
        self.procs = []
        self.emulator = self.start_emulator()
        self.db = os.path.join(self.dir, "levee.db")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)
        for e in self.emulators:
            e.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_emulator(self, port=0):
        e = Emulator(self.dir, port)
        self.emulators.append(e)
        return e

    def env(self, **extra):
        """The environment of a levee run: no AWS settings but these (HOME is the test's own)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(HOME=self.home, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
                   AWS_EC2_METADATA_DISABLED="true")  # no test asks 169.254.169.254 unless it means to
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}

    def pull(self, queue, *args, endpoint=None, env=None, timeout=120):
        return run("pull", "--sqs", queue, "--sqs-endpoint", endpoint or self.emulator.endpoint, "--db", self.db,
                   *args, env=env or self.env(), timeout=timeout)

    def start_pull(self, queue, *args, stderr=None):
        # The emulator answers a long poll only once it holds the 10 messages asked for: short polls keep
        # the tests' waits short (SQS itself answers as soon as it has one).
        p = subprocess.Popen([levee_path(), "pull", "--sqs", queue, "--sqs-endpoint", self.emulator.endpoint,
                              "--db", self.db, "--wait-time-seconds", "2", *args], env=self.env(), stdout=subprocess.DEVNULL,
                             stderr=stderr or subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def simulate(self, *args):
        r = run("simulate", "-q", *args)
        self.assertEqual(r.code, 0, r.err)
        return r.out.splitlines()

    def exported(self, *args):
        if not os.path.exists(self.db):
            return []  # levee pull has not stored anything yet
        r = run("export", "--db", self.db, *args)
        if r.code != 0 and "there is no store at" in r.err:
            return []  # levee pull is creating it right now
        self.assertEqual(r.code, 0, r.err)
        return r.out.splitlines()

    def stats(self):
        r = run("stats", "--db", self.db, "--json")
        self.assertEqual(r.code, 0, r.err)
        return json.loads(r.out)


class PullTest(SqsTestCase):
    def test_events_sent_as_canvas_sends_them_are_stored_as_sent_and_deleted(self):
        q = self.emulator.create_queue("canvas-live-events")
        args = ("--days", "10", "--courses", "2", "--users", "20")
        r = run("simulate", *args, "--sqs", q, "--sqs-endpoint", self.emulator.endpoint, env=self.env())
        self.assertEqual(r.code, 0, r.err)
        sent = self.simulate(*args)
        self.assertIn("%d events sent to %s" % (len(sent), q), r.err)
        caliper = self.simulate("--days", "3", "--format", "caliper", "--seed", "7")
        self.emulator.send(q, caliper)
        # each message carries event_name and event_time as Canvas's do
        peek = sqs_call(self.emulator.endpoint, "ReceiveMessage", {
            "QueueUrl": q, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"], "VisibilityTimeout": 0})
        self.assertTrue(peek["Messages"])
        for m in peek["Messages"]:
            body = json.loads(m["Body"])
            if "metadata" in body:
                attrs = m["MessageAttributes"]
                self.assertEqual(attrs["event_name"], {"DataType": "String",
                                                       "StringValue": body["metadata"]["event_name"]})
                self.assertEqual(attrs["event_time"]["StringValue"], body["metadata"]["event_time"])
        r = self.pull(q, "--drain")
        self.assertEqual(r.code, 0, r.err)
        total = len(sent) + len(caliper)
        self.assertIn("received %d messages: stored %d events, duplicates 0, dead letters 0" % (total, total), r.err)
        self.assertEqual(sorted(self.exported()), sorted(sent + caliper))
        self.assertEqual(self.emulator.counts(q), (0, 0), "every stored message is deleted")

    def test_a_poison_message_is_kept_as_a_dead_letter_and_deleted(self):
        q = self.emulator.create_queue("poison")
        good = self.simulate("--days", "1")
        self.emulator.send(q, ["this is not JSON {", good[0]])
        r = self.pull(q, "--drain")
        self.assertEqual(r.code, 1, r.err)  # some input was rejected, as levee ingest says it
        self.assertIn("dead letters 1", r.err)
        self.assertEqual(self.exported(), [good[0]])
        self.assertEqual(self.exported("--dead-letters"), ["this is not JSON {"])
        self.assertEqual(self.emulator.counts(q), (0, 0), "the poison message is deleted once kept")

    def test_a_message_delivered_twice_is_stored_once(self):
        q = self.emulator.create_queue("twice")
        ev = self.simulate("--days", "1")[:3]
        self.emulator.send(q, ev + ev[:1])
        r = self.pull(q, "--drain")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("stored 3 events, duplicates 1", r.err)
        self.assertEqual(sorted(self.exported()), sorted(ev))

    def test_killed_at_random_moments_loses_nothing_and_doubles_nothing(self):
        q = self.emulator.create_queue("crash", visibility=2)
        sent = self.simulate("--days", "8" if SANITIZED else "30", "--courses", "3", "--users", "40")
        self.emulator.send(q, sent)
        rng = random.Random(15)
        kills = 0
        for _ in range(8):
            p = self.start_pull(q, "-q")
            time.sleep(rng.uniform(0.3, 1.5))
            if p.poll() is None:
                p.kill()  # SIGKILL: between a receive and its delete, a commit and its delete, anywhere
                kills += 1
            p.wait(timeout=30)
        self.assertGreater(kills, 0)
        self.assertGreater(len(self.exported()), 0, "the killed runs stored something")
        # what the killed runs held comes back after its visibility timeout; drain until nothing is left
        deadline = time.time() + 120
        while True:
            r = self.pull(q, "--drain", "-q")
            self.assertIn(r.code, (0,), r.err)
            if self.emulator.counts(q) == (0, 0):
                break
            self.assertLess(time.time(), deadline, "the queue never emptied")
            time.sleep(0.5)
        stored = self.exported()
        self.assertEqual(len(stored), len(set(stored)), "nothing doubled")
        self.assertEqual(sorted(stored), sorted(sent), "nothing lost")
        stats = self.stats()
        self.assertEqual((stats["events"], stats["dead_letters"]), (len(sent), 0))

    def test_visibility_is_extended_while_a_batch_waits_for_the_store(self):
        q = self.emulator.create_queue("slow-store", visibility=2)
        r = self.pull(q, "--drain")  # makes the store
        self.assertEqual(r.code, 0, r.err)
        sent = self.simulate("--days", "3")[:25]
        # another process holds the store's write lock for three visibility timeouts (SQLite makes levee
        # wait up to 10 s for it): unless levee extends the visibility of what it holds, SQS hands the same
        # messages to its other receivers meanwhile
        db = sqlite3.connect(self.db, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        self.emulator.send(q, sent)
        p = subprocess.Popen([levee_path(), "pull", "--sqs", q, "--sqs-endpoint", self.emulator.endpoint, "--db",
                              self.db, "--drain", "--json", "-q"], env=self.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.procs.append(p)
        deadline = time.time() + 30
        # (local-aws-sqs counts the messages in flight in ApproximateNumberOfMessages too)
        while self.emulator.counts(q)[1] != len(sent):  # all received, waiting for the store
            self.assertLess(time.time(), deadline, "levee never received the messages: %r" % (self.emulator.counts(q),))
            time.sleep(0.1)
        time.sleep(6)
        self.assertEqual(self.emulator.counts(q)[1], len(sent), "the messages became visible again while levee "
                         "held them")
        db.execute("COMMIT")
        db.close()
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        summary = json.loads(out)
        self.assertEqual((summary["received"], summary["stored"], summary["duplicates"], summary["deleted"]),
                         (len(sent), len(sent), 0, len(sent)), "each message was received once")
        self.assertEqual(sorted(self.exported()), sorted(sent))
        self.assertEqual(self.emulator.counts(q), (0, 0))

    def test_the_server_stopped_and_started_again_mid_run_is_waited_for(self):
        q = self.emulator.create_queue("restart")
        log = open(os.path.join(self.dir, "pull.err"), "w+")
        first = self.simulate("--days", "2", "--seed", "1")
        self.emulator.send(q, first)
        p = self.start_pull(q, stderr=log)

        def wait_for(cond, what, timeout=60):
            deadline = time.time() + timeout
            while not cond():
                self.assertLess(time.time(), deadline, what)
                time.sleep(0.2)

        def said(text):
            log.flush()
            with open(log.name) as f:
                return text in f.read()

        wait_for(lambda: len(self.exported()) == len(first), "the first events were not stored")
        port = self.emulator.port
        self.emulator.stop()
        self.emulators.remove(self.emulator)
        wait_for(lambda: said("cannot reach SQS at %s" % self.emulator.endpoint), "levee never said it cannot reach SQS")
        self.assertTrue(said("trying again in"))
        self.assertIsNone(p.poll(), "levee pull gave up")
        self.emulator = self.start_emulator(port)  # in-memory: the queue is made again, empty
        self.assertEqual(self.emulator.create_queue("restart"), q)
        second = self.simulate("--days", "2", "--seed", "2")
        self.emulator.send(q, second)
        wait_for(lambda: len(self.exported()) == len(first) + len(second), "the events sent after the restart "
                 "were not stored", timeout=90)
        wait_for(lambda: said("receiving from %s again" % q), "levee never said it reached SQS again")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertEqual(sorted(self.exported()), sorted(first + second))
        with open(log.name) as f:
            self.assertIn("received %d messages" % (len(first) + len(second)), f.read())
        log.close()

    def test_signed_messages_are_verified_or_left_in_the_queue(self):
        q = self.emulator.create_queue("signed-events", visibility=1)
        key = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                       check=True, capture_output=True, timeout=60)
        jwks = os.path.join(self.dir, "jwks.json")
        with open(jwks, "w") as f:
            f.write(run("simulate", "--sign-key", key, "--kid", "k1", "--print-jwks").out)
        small = ("--days", "1", "--courses", "1", "--users", "8")
        r = run("simulate", *small, "--sign-key", key, "--kid", "k1", "--sqs", q, "--sqs-endpoint",
                self.emulator.endpoint, env=self.env())
        self.assertEqual(r.code, 0, r.err)
        plain = self.simulate(*small)
        # without the keys, a signed message is not taken: it stays for a levee that can verify it
        r = self.pull(q, "--drain", "--receivers", "1")
        self.assertEqual(r.code, 0, r.err)
        self.assertIn("is signed (a JWT) but levee has no JWKS to verify it: it stays in the queue; run levee pull "
                      "with --jwks FILE", r.err)
        self.assertIn("left in the queue %d; deleted 0" % len(plain), r.err)
        self.assertEqual(self.exported(), [])
        time.sleep(0.5)
        # with them, the claims are stored: the events as they were signed
        deadline = time.time() + 60
        while len(self.exported()) < len(plain):
            self.assertLess(time.time(), deadline, "the signed events were never stored")
            r = self.pull(q, "--drain", "--jwks", jwks)
            self.assertEqual(r.code, 0, r.err)
        # (what is stored is the claims as signed: the event, and the JWT's own iss, iat and exp)
        claims = [json.loads(d) for d in self.exported()]
        self.assertTrue(all(c["iss"] == "https://live-events.canvas.instructure.com" for c in claims))
        events = [{k: v for k, v in c.items() if k not in ("iss", "iat", "exp")} for c in claims]
        key_of = lambda e: json.dumps(e, sort_keys=True)
        self.assertEqual(sorted(map(key_of, events)), sorted(key_of(json.loads(p)) for p in plain))
        self.assertEqual(self.emulator.counts(q), (0, 0))

    def test_levee_serve_receives_from_the_queue_too(self):
        """levee serve --sqs: one process takes HTTP posts and the queue; the queue's messages are
        stored, deleted, counted in /metrics, and a SIGTERM stops both cleanly."""
        from server import Server
        q = self.emulator.create_queue("canvas-live-events-serve")
        args = ("--days", "3", "--courses", "2", "--users", "20")
        r = run("simulate", *args, "--sqs", q, "--sqs-endpoint", self.emulator.endpoint, env=self.env())
        self.assertEqual(r.code, 0, r.err)
        sent = self.simulate(*args)
        s = Server(self.db, "--sqs", q, "--sqs-endpoint", self.emulator.endpoint, "--sqs-wait-time-seconds", "2",
                   env=self.env())
        try:
            self.assertEqual(s.post("/events", sent[0])[0], 200)  # HTTP still works beside it (a duplicate)
            deadline = time.time() + 60
            while time.time() < deadline and self.emulator.counts(q) != (0, 0):
                time.sleep(0.2)
            self.assertEqual(self.emulator.counts(q), (0, 0))
            st = s.wait_applied(len(sent))
            self.assertEqual(st["events"], len(sent))
            # the counts reach /metrics a moment after the queue is empty (a few times a second)
            deadline = time.time() + 30
            while True:
                status, text = s.get("/metrics")
                self.assertEqual(status, 200)
                metric = {l.rsplit(" ", 1)[0]: float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                          if l.startswith("levee_sqs_")}
                if metric["levee_sqs_messages_deleted_total"] >= len(sent) or time.time() > deadline:
                    break
                time.sleep(0.2)
            self.assertEqual(metric["levee_sqs_messages_deleted_total"], len(sent))
            self.assertEqual(metric["levee_sqs_messages_failed_total"], 0)
            self.assertTrue(any("receiving from SQS" in line for line in s.log))
        finally:
            code = s.stop()
        self.assertEqual(code, 0)
        self.assertEqual(sorted(self.exported()), sorted(sent))

    def test_a_queue_that_does_not_exist_is_named(self):
        q = self.emulator.endpoint + ACCOUNT + "/no-such-queue"
        r = self.pull(q, "--drain")
        self.assertEqual(r.code, 2)
        self.assertIn("there is no queue %s" % q, r.err)

    def test_usage_errors(self):
        r = run("pull", "--db", self.db)
        self.assertEqual(r.code, 2)
        self.assertIn("--sqs QUEUE_URL is required", r.err)
        r = run("pull", "--sqs", "ftp://example/q", env=self.env())
        self.assertEqual(r.code, 2)
        self.assertIn("is not an SQS queue URL", r.err)
        env = self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
        r = run("pull", "--sqs", "https://sqs.eu-west-1.amazonaws.com/%s/q" % ACCOUNT, "--db", self.db, env=env)
        self.assertEqual(r.code, 2)
        self.assertIn("there are no AWS credentials for", r.err)
        self.assertIn(os.path.join(self.home, ".aws", "credentials"), r.err)
        for wait in ("21", "-1", "x", ""):
            r = run("pull", "--sqs", "https://sqs.eu-west-1.amazonaws.com/%s/q" % ACCOUNT, "--wait-time-seconds", wait)
            self.assertEqual(r.code, 2)
            self.assertIn("--wait-time-seconds takes a number from 0 to 20, not '%s'" % wait, r.err)
        r = run("serve", "--sqs-wait-time-seconds", "5")
        self.assertEqual(r.code, 2)
        self.assertIn("--sqs-wait-time-seconds goes with --sqs QUEUE_URL", r.err)


class SignatureTest(SqsTestCase):
    def test_the_verifier_agrees_with_aws_published_vectors(self):
        for method, extra, payload, signed, want in VECTORS:
            headers = {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z", **extra}
            self.assertEqual(sigv4(VECTOR_KEY[1], method, "/", headers, signed.split(";"), payload,
                                   "20150830T123600Z", "us-east-1", "service"), want)

    def test_libcurl_signs_aws_published_vectors(self):
        """The curl command's --aws-sigv4 is libcurl's signer, the one levee uses (CURLOPT_AWS_SIGV4); an
        X-Amz-Date header fixes the date, as the vectors need. The request is caught by a local listener."""
        seen = []

        class Catch(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_one(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                seen.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            do_GET = do_POST = handle_one

        srv = http.server.HTTPServer(("127.0.0.1", 0), Catch)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            for method, extra, payload, signed, want in VECTORS:
                cmd = ["curl", "-sS", "--max-time", "20", "-X", method, "--connect-to",
                       "example.amazonaws.com:80:127.0.0.1:%d" % srv.server_address[1],
                       "--aws-sigv4", "aws:amz:us-east-1:service", "-u", ":".join(VECTOR_KEY),
                       "-H", "X-Amz-Date: 20150830T123600Z"]
                for k, v in extra.items():
                    cmd += ["-H", "%s: %s" % (k, v)]
                if payload:
                    cmd += ["--data-binary", payload.decode()]
                subprocess.run(cmd + ["http://example.amazonaws.com/"], check=True, timeout=60)
                self.assertEqual(seen[-1], "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                                 "aws4_request, SignedHeaders=%s, Signature=%s" % (signed, want))
        finally:
            srv.shutdown()
            srv.server_close()

    def test_levee_signs_every_request_so_that_an_independent_verifier_accepts_it(self):
        q = self.emulator.create_queue("signed")
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            r = run("simulate", "--days", "2", "--sqs", q, "--sqs-endpoint", proxy.endpoint, env=self.env())
            self.assertEqual(r.code, 0, r.err)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(proxy.refused, [])
            self.assertGreater(proxy.verified, 3)  # sends, attributes, receives and deletes
            self.assertEqual(sorted(self.exported()), sorted(self.simulate("--days", "2")))
        finally:
            proxy.stop()

    def test_a_session_token_is_sent_and_signed(self):
        q = self.emulator.create_queue("token")
        proxy = AuthProxy(self.emulator.endpoint, token="FQoGZXIvYXdzEXAMPLETOKEN//+=")
        try:
            self.emulator.send(q, self.simulate("--days", "1"))
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.env(AWS_SESSION_TOKEN="wrong"))
            self.assertEqual(r.code, 2)
            self.assertIn("SQS refused the credentials for %s (InvalidClientTokenId): check AWS_ACCESS_KEY_ID, "
                          "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN" % q, r.err)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint,
                          env=self.env(AWS_SESSION_TOKEN="FQoGZXIvYXdzEXAMPLETOKEN//+="))
            self.assertEqual(r.code, 0, r.err)
            self.assertNotIn("FQoGZXIvYXdzEXAMPLETOKEN", r.err)
        finally:
            proxy.stop()

    def role_env(self, **extra):
        """No keys and no profile: what is left is a role."""
        return self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_EC2_METADATA_DISABLED=None, **extra)

    def test_the_instance_role_is_used_when_nothing_else_is_set(self):
        q = self.emulator.create_queue("instance-role")
        roles = RoleCredentials()
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint,
                          env=self.role_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=roles.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            # IMDSv2: a session token first, then the role, then its credentials, all with the token
            self.assertEqual(roles.asked[:3], [("PUT", "/latest/api/token"),
                                               ("GET", "/latest/meta-data/iam/security-credentials/"),
                                               ("GET", "/latest/meta-data/iam/security-credentials/levee-reader")])
            self.assertGreater(proxy.verified, 0)
            self.assertEqual(proxy.refused, [])
            for secret in [SECRET] + roles.tokens:
                self.assertNotIn(secret, r.err)
        finally:
            proxy.stop()
            roles.stop()

    def test_a_role_session_token_is_signed_into_every_request(self):
        q = self.emulator.create_queue("role-token")
        roles = RoleCredentials()
        # the proxy insists on the first token the role hands out
        proxy = AuthProxy(self.emulator.endpoint, token="IQoJb3JpZ2luX2VjEXAMPLE0")
        try:
            self.emulator.send(q, self.simulate("--days", "1"))
            r = self.pull(q, "--drain", "--receivers", "1", endpoint=proxy.endpoint,
                          env=self.role_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=roles.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(proxy.refused, [])
        finally:
            proxy.stop()
            roles.stop()

    def test_the_container_role_with_its_authorization_token(self):
        q = self.emulator.create_queue("container-role")
        roles = RoleCredentials(authorization="Bearer pod-identity-token")
        proxy = AuthProxy(self.emulator.endpoint)
        token_file = os.path.join(self.dir, "eks-pod-identity-token")
        with open(token_file, "w") as f:
            f.write("Bearer pod-identity-token\n")
        try:
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            full = roles.url + "/v2/credentials/task"
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.role_env(
                AWS_CONTAINER_CREDENTIALS_FULL_URI=full, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=token_file))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertNotIn("pod-identity-token", r.err)
            # a wrong authorization token: the endpoint refuses, and levee says where it asked
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.role_env(
                AWS_CONTAINER_CREDENTIALS_FULL_URI=full, AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer stale"))
            self.assertEqual(r.code, 2)
            self.assertIn("there are no AWS credentials for %s: %s answered HTTP 403" % (q, full), r.err)
            self.assertNotIn("Bearer stale", r.err)
        finally:
            proxy.stop()
            roles.stop()

    def test_expiring_role_credentials_are_fetched_again(self):
        q = self.emulator.create_queue("role-expiry")
        roles = RoleCredentials(lifetime=3)
        proxy = AuthProxy(self.emulator.endpoint)
        log = open(os.path.join(self.dir, "pull.err"), "w+")
        try:
            p = subprocess.Popen([levee_path(), "pull", "--sqs", q, "--sqs-endpoint", proxy.endpoint, "--db", self.db,
                                  "--receivers", "1", "--wait-time-seconds", "1"],
                                 env=self.role_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=roles.url),
                                 stdout=subprocess.DEVNULL, stderr=log)
            self.procs.append(p)
            # the role's session rotates every 3 s: requests go on, signed with the new token
            deadline = time.time() + 60
            while "IQoJb3JpZ2luX2VjEXAMPLE1" not in proxy.tokens_seen and time.time() < deadline and p.poll() is None:
                time.sleep(0.2)
            self.assertIn("IQoJb3JpZ2luX2VjEXAMPLE1", proxy.tokens_seen, "the credentials were not fetched again "
                          "as they expired")
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            while len(self.exported()) < len(sent) and time.time() < deadline:
                time.sleep(0.2)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual(proxy.refused, [])
        finally:
            log.close()
            proxy.stop()
            roles.stop()

    def test_an_instance_without_a_role_is_named(self):
        q = self.emulator.create_queue("no-role")
        roles = RoleCredentials(role=None)
        try:
            r = self.pull(q, "--drain", env=self.role_env(AWS_EC2_METADATA_SERVICE_ENDPOINT=roles.url))
            self.assertEqual(r.code, 2)
            self.assertIn("this instance has no IAM role", r.err)
        finally:
            roles.stop()

    def test_wrong_credentials_are_reported_in_a_sentence_without_the_secret(self):
        q = self.emulator.create_queue("wrong")
        self.emulator.send(q, self.simulate("--days", "1"))
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.env(AWS_ACCESS_KEY_ID="AKIDSOMEONEELSE"))
            self.assertEqual(r.code, 2)
            self.assertIn("levee pull: SQS refused the credentials for %s (InvalidClientTokenId): check "
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" % q, r.err)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint,
                          env=self.env(AWS_SECRET_ACCESS_KEY="not-the-secret-at-all"))
            self.assertEqual(r.code, 2)
            self.assertIn("SQS refused the signature of the request to %s (SignatureDoesNotMatch): check the "
                          "secret key in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY and the region 'us-east-1'" % q,
                          r.err)
            self.assertNotIn("not-the-secret-at-all", r.err + r.out)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.env(AWS_REGION="eu-west-1"))
            self.assertEqual(r.code, 2)
            self.assertIn("IncompleteSignature", r.err)
            self.assertEqual(self.emulator.counts(q)[0], len(self.simulate("--days", "1")), "nothing was received")
            self.assertEqual(self.exported(), [])
        finally:
            proxy.stop()

    def test_credentials_and_region_from_a_profile(self):
        q = self.emulator.create_queue("profile")
        aws = os.path.join(self.home, ".aws")
        os.makedirs(aws)
        with open(os.path.join(aws, "credentials"), "w") as f:
            f.write("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = nope\n\n"
                    "[canvas]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (KEY_ID, SECRET))
        with open(os.path.join(aws, "config"), "w") as f:
            f.write("[default]\nregion = us-west-2\n\n[profile canvas]\nregion = ca-central-1\ns3 =\n"
                    "  region = nowhere\n")
        self.emulator.send(q, self.simulate("--days", "1"))
        proxy = AuthProxy(self.emulator.endpoint, region="ca-central-1")
        try:
            env = self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, AWS_REGION=None, AWS_PROFILE="canvas")
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=env)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(self.simulate("--days", "1")))
            env["AWS_PROFILE"] = "default"
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=env)
            self.assertEqual(r.code, 2)
            self.assertIn("SQS refused the credentials for %s (InvalidClientTokenId): check aws_access_key_id and "
                          "aws_secret_access_key of the profile 'default' in %s" % (q, os.path.join(aws, "credentials")),
                          r.err)
        finally:
            proxy.stop()


class CredentialChainTest(SqsTestCase):
    """The sources of the AWS SDKs' chain that need more than a file: a web identity exchanged at STS (from the
    environment, from a profile; its token file read again at each renewal), a role assumed with a source
    profile's keys (signed AssumeRole), credential_process (renewed before its Expiration), IAM Identity
    Center (the login `aws sso login` cached, exchanged at the portal); each pulls from the emulator through
    the verifying proxy, which sees the credentials the source handed out."""
    ROLE = "arn:aws:iam::123456789012:role/levee-reader"

    def chain_env(self, **extra):
        """No keys: the chain goes on to the source the test sets up."""
        return self.env(AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None, **extra)

    def write_config(self, text, credentials=None):
        aws = os.path.join(self.home, ".aws")
        os.makedirs(aws, exist_ok=True)
        with open(os.path.join(aws, "config"), "w") as f:
            f.write(text)
        if credentials is not None:
            with open(os.path.join(aws, "credentials"), "w") as f:
                f.write(credentials)

    def token_file(self, token):
        path = os.path.join(self.dir, "web-identity-token")
        with open(path + ".new", "w") as f:
            f.write(token + "\n")
        os.replace(path + ".new", path)  # as the kubelet rotates it
        return path

    def pull_through(self, proxy, queue, env, *args):
        r = self.pull(queue, "--drain", *args, endpoint=proxy.endpoint, env=env)
        self.assertEqual(proxy.refused, [])
        return r

    def background_pull(self, proxy, queue, env):
        log = open(os.path.join(self.dir, "pull.err"), "w+")
        p = subprocess.Popen([levee_path(), "pull", "--sqs", queue, "--sqs-endpoint", proxy.endpoint, "--db",
                              self.db, "--receivers", "2", "--wait-time-seconds", "1"], env=env,
                             stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(p)
        return p, log

    def wait(self, cond, what, p=None, timeout=60):
        deadline = time.time() + timeout
        while not cond() and time.time() < deadline and (p is None or p.poll() is None):
            time.sleep(0.2)
        self.assertTrue(cond(), what)

    def test_a_web_identity_from_the_environment_is_exchanged_at_sts(self):
        q = self.emulator.create_queue("web-identity")
        sts = FakeSts(self.ROLE, web_token="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJsZXZlZSJ9.c2lnLTE")
        proxy = AuthProxy(self.emulator.endpoint, token="FwoGZXIvYXdzSTS0")
        try:
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            env = self.chain_env(AWS_WEB_IDENTITY_TOKEN_FILE=self.token_file(sts.web_token), AWS_ROLE_ARN=self.ROLE,
                                 AWS_ROLE_SESSION_NAME="levee-test", AWS_ENDPOINT_URL_STS=sts.url)
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            # one exchange for the four clients (control and three receivers), unsigned, with the file's token
            self.assertEqual(len(sts.calls), 1, sts.calls)
            call = sts.calls[0]
            self.assertEqual(call["action"], "AssumeRoleWithWebIdentity")
            self.assertFalse(call["signed"])
            self.assertEqual(call["form"]["WebIdentityToken"], sts.web_token)
            self.assertEqual(call["form"]["RoleArn"], self.ROLE)
            self.assertEqual(call["form"]["RoleSessionName"], "levee-test")
            self.assertGreater(proxy.verified, 3)
            self.assertEqual(proxy.tokens_seen, {"FwoGZXIvYXdzSTS0"})
            for secret in (sts.web_token, SECRET, "FwoGZXIvYXdzSTS0"):
                self.assertNotIn(secret, r.err)
            # a token STS does not take: its refusal, said with what to check, and nothing received
            self.emulator.send(q, sent[:3])
            env["AWS_WEB_IDENTITY_TOKEN_FILE"] = self.token_file("eyJ.stale.token")
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 2)
            self.assertIn("there are no AWS credentials for %s: STS at %s/ refused to assume the role %s with the "
                          "web identity token in %s (HTTP 400): InvalidIdentityToken" %
                          (q, sts.url, self.ROLE, env["AWS_WEB_IDENTITY_TOKEN_FILE"]), r.err)
            self.assertNotIn("eyJ.stale.token", r.err)
            self.assertEqual(self.emulator.counts(q)[0], 3)
            # one of the two settings alone is named
            r = self.pull_through(proxy, q, self.chain_env(AWS_ROLE_ARN=self.ROLE))
            self.assertEqual(r.code, 2)
            self.assertIn("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not", r.err)
        finally:
            proxy.stop()
            sts.stop()

    def test_the_token_file_is_read_again_when_the_role_is_renewed(self):
        q = self.emulator.create_queue("web-identity-renewal")
        sts = FakeSts(self.ROLE, web_token="eyJ.first.token", lifetime=3)
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            env = self.chain_env(AWS_WEB_IDENTITY_TOKEN_FILE=self.token_file("eyJ.first.token"),
                                 AWS_ROLE_ARN=self.ROLE, AWS_ENDPOINT_URL_STS=sts.url)
            p, log = self.background_pull(proxy, q, env)
            self.wait(lambda: "FwoGZXIvYXdzSTS0" in proxy.tokens_seen, "the first role session was not used", p)
            # the identity provider rotates the token; STS takes only the new one from now on
            sts.web_token = "eyJ.second.token"
            self.token_file("eyJ.second.token")
            self.wait(lambda: "FwoGZXIvYXdzSTS1" in proxy.tokens_seen, "the role was not renewed with the new "
                      "token as its session expired", p)
            tokens = [c["form"]["WebIdentityToken"] for c in sts.calls]
            self.assertEqual(tokens[0], "eyJ.first.token")
            self.assertIn("eyJ.second.token", tokens)
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            self.wait(lambda: len(self.exported()) >= len(sent), "the events were not stored")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual(proxy.refused, [])
            log.seek(0)
            text = log.read()
            self.assertNotIn("eyJ.", text)
            log.close()
        finally:
            proxy.stop()
            sts.stop()

    def test_a_web_identity_from_a_profile(self):
        q = self.emulator.create_queue("web-identity-profile")
        sts = FakeSts(self.ROLE, web_token="eyJ.profile.token")
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            token = self.token_file("eyJ.profile.token")
            self.write_config("[profile irsa]\nrole_arn = %s\nweb_identity_token_file = %s\n"
                              "role_session_name = from-profile\n" % (self.ROLE, token))
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            r = self.pull_through(proxy, q, self.chain_env(AWS_PROFILE="irsa", AWS_ENDPOINT_URL_STS=sts.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual([(c["action"], c["form"]["RoleSessionName"]) for c in sts.calls],
                             [("AssumeRoleWithWebIdentity", "from-profile")])
            # the environment's keys come first in the chain: STS is not asked
            self.emulator.send(q, sent[:2])
            r = self.pull_through(proxy, q, self.env(AWS_PROFILE="irsa", AWS_ENDPOINT_URL_STS=sts.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(len(sts.calls), 1)
        finally:
            proxy.stop()
            sts.stop()

    def test_a_role_assumed_with_a_source_profile_signs_its_assume_role(self):
        q = self.emulator.create_queue("assume-role")
        sts = FakeSts(self.ROLE, source_key="AKIDSOURCEPROFILE", source_secret="source/secret+key")
        proxy = AuthProxy(self.emulator.endpoint, token="FwoGZXIvYXdzSTS0")
        try:
            self.write_config("[profile reader]\nrole_arn = %s\nsource_profile = base\nexternal_id = canvas-1\n"
                              "region = us-east-1\n" % self.ROLE,
                              "[base]\naws_access_key_id = AKIDSOURCEPROFILE\n"
                              "aws_secret_access_key = source/secret+key\n")
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            r = self.pull_through(proxy, q, self.chain_env(AWS_PROFILE="reader", AWS_ENDPOINT_URL_STS=sts.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual([(c["action"], c["signed"], c["form"].get("ExternalId")) for c in sts.calls],
                             [("AssumeRole", True, "canvas-1")])
            self.assertNotIn("source/secret+key", r.err)
            # the source profile's secret is wrong: STS refuses the signature, and says so
            self.write_config("[profile reader]\nrole_arn = %s\nsource_profile = base\n" % self.ROLE,
                              "[base]\naws_access_key_id = AKIDSOURCEPROFILE\naws_secret_access_key = wrong\n")
            r = self.pull_through(proxy, q, self.chain_env(AWS_PROFILE="reader", AWS_ENDPOINT_URL_STS=sts.url))
            self.assertEqual(r.code, 2)
            self.assertIn("refused to assume the role %s with the profile 'base' in %s (HTTP 403): "
                          "SignatureDoesNotMatch" % (self.ROLE, os.path.join(self.home, ".aws", "credentials")), r.err)
        finally:
            proxy.stop()
            sts.stop()

    def test_a_role_assumed_with_the_container_role_as_its_credential_source(self):
        q = self.emulator.create_queue("credential-source")
        roles = RoleCredentials()
        sts = FakeSts(self.ROLE, source_key=KEY_ID, source_secret=SECRET)
        proxy = AuthProxy(self.emulator.endpoint, token="FwoGZXIvYXdzSTS0")
        try:
            self.write_config("[profile reader]\nrole_arn = %s\ncredential_source = EcsContainer\n"
                              "region = us-east-1\n" % self.ROLE)
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            env = self.chain_env(AWS_PROFILE="reader", AWS_ENDPOINT_URL_STS=sts.url,
                                 AWS_CONTAINER_CREDENTIALS_FULL_URI=roles.url + "/v2/credentials/task")
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            # the container's credentials, with their session token, signed the AssumeRole; the role's
            # session signed every SQS request
            self.assertEqual([(c["action"], c["signed"], c["token"]) for c in sts.calls],
                             [("AssumeRole", True, roles.tokens[0])])
            self.assertEqual(proxy.tokens_seen, {"FwoGZXIvYXdzSTS0"})
            self.assertNotIn(SECRET, r.err)
            # the instance's role as the source, with the metadata service turned off: said, nothing asked
            self.write_config("[profile reader]\nrole_arn = %s\ncredential_source = Ec2InstanceMetadata\n"
                              "region = us-east-1\n" % self.ROLE)
            asked = len(roles.asked)
            r = self.pull(q, "--drain", endpoint=proxy.endpoint, env=self.chain_env(
                AWS_PROFILE="reader", AWS_ENDPOINT_URL_STS=sts.url, AWS_EC2_METADATA_DISABLED="true"))
            self.assertEqual(r.code, 2)
            self.assertIn("the profile 'reader' takes its credential_source from the instance metadata service, "
                          "but AWS_EC2_METADATA_DISABLED is true", r.err)
            self.assertEqual(len(roles.asked), asked)
            self.assertEqual(len(sts.calls), 1)
        finally:
            proxy.stop()
            sts.stop()
            roles.stop()

    def test_credential_process_is_run_and_run_again_before_its_credentials_expire(self):
        q = self.emulator.create_queue("credential-process")
        folder = os.path.join(self.dir, "a folder")  # a path with a space, quoted as the AWS CLI documents
        os.makedirs(folder)
        script = os.path.join(folder, "creds.py")
        with open(script, "w") as f:
            f.write(CREDENTIAL_PROCESS % (KEY_ID, SECRET))
        runs = os.path.join(self.dir, "runs")
        proxy = AuthProxy(self.emulator.endpoint)
        try:
            self.write_config('[profile helper]\ncredential_process = python3 "%s" %s 3\n' % (script, runs))
            env = self.chain_env(AWS_PROFILE="helper")
            p, log = self.background_pull(proxy, q, env)
            self.wait(lambda: "IQoJPROCESS1" in proxy.tokens_seen, "the process's credentials were not used", p)
            self.wait(lambda: "IQoJPROCESS2" in proxy.tokens_seen, "the process was not run again as its "
                      "credentials expired", p)
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            self.wait(lambda: len(self.exported()) >= len(sent), "the events were not stored")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), 0)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual(proxy.refused, [])
            log.close()
            # credentials without Expiration are the process's for good: run once for all the clients
            os.remove(runs)
            self.write_config('[profile helper]\ncredential_process = python3 "%s" %s 0\n' % (script, runs))
            self.emulator.send(q, sent[:3])
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 0, r.err)
            with open(runs) as f:
                self.assertEqual(len(f.readlines()), 1)
            # a process that fails: its status and the first line it wrote on stderr
            self.write_config('[profile helper]\ncredential_process = python3 "%s" %s 0 "the vault is sealed"\n'
                              % (script, runs))
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 2)
            self.assertIn("there are no AWS credentials for %s: the credential_process python3 of the profile "
                          "'helper' in %s exited with status 1: the vault is sealed" %
                          (q, os.path.join(self.home, ".aws", "config")), r.err)
            self.write_config('[profile helper]\ncredential_process = python3 "%s\n' % script)
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 2)
            self.assertIn("the command has a double quote that is not closed", r.err)
        finally:
            proxy.stop()

    def test_an_iam_identity_center_login_is_exchanged_at_the_portal(self):
        q = self.emulator.create_queue("sso")
        portal = FakeSsoPortal("aoaAAAAAGSSOACCESSTOKEN", "LeveeReader", ACCOUNT)
        proxy = AuthProxy(self.emulator.endpoint, token="IQoJSSOSESSION")
        cache = os.path.join(self.home, ".aws", "sso", "cache")
        os.makedirs(cache)

        def login(key, expires):
            # as `aws sso login` writes it: the file named by the SHA-1 of the session's name (or start URL)
            name = hashlib.sha1(key.encode()).hexdigest() + ".json"
            with open(os.path.join(cache, name), "w") as f:
                json.dump({"startUrl": "https://d-90670ca891.awsapps.com/start", "region": "us-east-1",
                           "accessToken": "aoaAAAAAGSSOACCESSTOKEN", "expiresAt": iso(expires)}, f)
            return os.path.join(cache, name)

        try:
            config = ("[profile sso]\nsso_session = levee-sso\nsso_account_id = %s\n"
                      "sso_role_name = LeveeReader\nregion = us-east-1\n\n[sso-session levee-sso]\n"
                      "sso_start_url = https://d-90670ca891.awsapps.com/start\nsso_region = us-east-1\n"
                      "sso_registration_scopes = sso:account:access\n" % ACCOUNT)
            self.write_config(config)
            login("levee-sso", time.time() + 3600)
            sent = self.simulate("--days", "1")
            self.emulator.send(q, sent)
            env = self.chain_env(AWS_PROFILE="sso", AWS_ENDPOINT_URL_SSO=portal.url,
                                 AWS_ENDPOINT_URL_SSO_OIDC=portal.url)
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(sorted(self.exported()), sorted(sent))
            self.assertEqual(portal.calls, [("/federation/credentials", {"role_name": "LeveeReader",
                                                                          "account_id": ACCOUNT},
                                             "aoaAAAAAGSSOACCESSTOKEN")])
            self.assertNotIn("aoaAAAAAGSSOACCESSTOKEN", r.err)
            # the login has expired: the command that renews it
            login("levee-sso", time.time() - 60)
            self.emulator.send(q, sent[:2])
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 2)
            self.assertIn("the IAM Identity Center login of the profile 'sso' expired at", r.err)
            self.assertIn("run `aws sso login --profile sso`", r.err)
            self.assertEqual(len(portal.calls), 1)
            # the older form, without sso_session: the cache file is named by the start URL
            self.write_config(config + "[profile legacy]\nsso_start_url = https://d-90670ca891.awsapps.com/start\n"
                              "sso_region = us-east-1\nsso_account_id = %s\nsso_role_name = LeveeReader\n" % ACCOUNT)
            r = self.pull_through(proxy, q, self.chain_env(AWS_PROFILE="legacy", AWS_ENDPOINT_URL_SSO=portal.url))
            self.assertEqual(r.code, 2)
            self.assertIn("there is no IAM Identity Center login cached for the profile 'legacy'", r.err)
            login("https://d-90670ca891.awsapps.com/start", time.time() + 3600)
            r = self.pull_through(proxy, q, self.chain_env(AWS_PROFILE="legacy", AWS_ENDPOINT_URL_SSO=portal.url))
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(self.emulator.counts(q), (0, 0))

            # an sso_session's login about to expire (or expired) is renewed with its refresh token, as the AWS
            # CLI does, and written back to the cache for the next run
            path = login("levee-sso", time.time() + 60)
            with open(path) as f:
                cached = json.load(f)
            cached.update(clientId="levee-client", clientSecret="client-secret", refreshToken="aorRefreshToken0",
                          registrationExpiresAt=iso(time.time() + 86400 * 30))
            with open(path, "w") as f:
                json.dump(cached, f)
            self.emulator.send(q, sent[:2])
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 0, r.err)
            self.assertEqual(len(portal.renewals), 1)
            self.assertEqual(portal.calls[-1][2], "aoaRenewedAccessToken1")
            with open(path) as f:
                saved = json.load(f)
            self.assertEqual(saved["accessToken"], "aoaRenewedAccessToken1")
            self.assertEqual(saved["refreshToken"], "aorRefreshToken1")
            self.assertGreater(time.mktime(time.strptime(saved["expiresAt"], "%Y-%m-%dT%H:%M:%SZ")) -
                               time.mktime(time.gmtime()), 3000)
            self.assertEqual((saved["clientId"], saved["startUrl"]), ("levee-client", cached["startUrl"]))
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            for secret in ("aorRefreshToken", "client-secret", "aoaRenewedAccessToken"):
                self.assertNotIn(secret, r.err)
            # a refresh token the service no longer takes, on an expired login: the renewal's refusal, and the
            # command to run
            saved.update(expiresAt=iso(time.time() - 60), refreshToken="aorRevoked")
            with open(path, "w") as f:
                json.dump(saved, f)
            r = self.pull_through(proxy, q, env)
            self.assertEqual(r.code, 2)
            self.assertIn("and could not be renewed (the IAM Identity Center OIDC service at %s/token answered "
                          "HTTP 400: invalid_grant): run `aws sso login --profile sso`" % portal.url, r.err)
        finally:
            proxy.stop()
            portal.stop()



if __name__ == "__main__":
    unittest.main()
