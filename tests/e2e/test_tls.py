"""test_tls.py: `levee serve --tls-cert FILE --tls-key FILE`, HTTPS with libmicrohttpd's own TLS, as
Canvas's delivery (which posts only to https:// URLs) and an operator see it: events posted with curl
and Python over TLS 1.3 and TLS 1.2 are stored; TLS 1.0 and 1.1 are refused; a certificate for
another name is refused by the client; SIGHUP puts a renewed certificate in place for new connections
while a kept-alive one goes on; a bad renewal keeps the certificate in use; startup errors name the
file. The kill -9 test and the JWT tests are run again over TLS (the same tests, with tls = True).
Every certificate is made by the test with the openssl command, in its temporary directory."""
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import events as E
import test_jwt_claims as J
import test_serve as S
from lv import run
from server import ServerTestCase


def entry(i):
    return E.entry(9000 + i, 5000, 1000 + i, 565, E.T0 + i, "<p>over TLS %d</p>" % i)


def stored_entry_ids(db):
    out = run("export", "--db", db).out
    return sorted(int(json.loads(l)["body"]["discussion_entry_id"]) for l in out.splitlines())


class TlsTest(ServerTestCase):
    tls = True

    def curl(self, s, *args, body=None):
        """curl verifying with the test CA (-v: its TLS line is in the error output)."""
        cmd = ["curl", "-sS", "-v", "--max-time", "20", "--cacert", self.ca.cert, *args]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", "@-"]
        return subprocess.run(cmd, input=body, capture_output=True, text=True, timeout=60)

    def wait_log(self, s, text, after=0, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for line in s.log[after:]:
                if text in line:
                    return line
            time.sleep(0.05)
        self.fail("the log never said %r:\n%s" % (text, "\n".join(s.log)))

    def serial_seen(self, s, **versions):
        """The serial number of the certificate a fresh connection is shown (hex, as openssl writes it)."""
        with socket.create_connection((s.host, s.port), timeout=10) as raw:
            with self.ca.context(**versions).wrap_socket(raw, server_hostname=s.host) as tls:
                return tls.getpeercert()["serialNumber"]


class TestReceivingOverTls(TlsTest):
    def test_curl_and_python_post_over_tls_1_3_and_1_2_and_the_events_are_stored(self):
        s = self.serve()
        self.assertTrue(s.url.startswith("https://127.0.0.1:"), s.url)
        url = s.url + "events"
        for i, (flags, want) in enumerate([(["--tlsv1.3"], "TLSv1.3"), (["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2")]):
            p = self.curl(s, *flags, "-w", "%{http_code}", url, body=json.dumps(entry(i)))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(p.stdout.endswith("200"), p.stdout)
            self.assertIn("SSL connection using " + want, p.stderr)
        for i, version in [(2, ssl.TLSVersion.TLSv1_3), (3, ssl.TLSVersion.TLSv1_2)]:
            conn = s.connection(context=self.ca.context(minimum_version=version, maximum_version=version))
            conn.request("POST", "/events", body=json.dumps(entry(i)), headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200, resp.read())
            resp.read()
            self.assertEqual(conn.sock.version(), version.name.replace("_", "."))
            # the same connection is kept alive for the next request
            sock = conn.sock
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
            self.assertIs(conn.sock, sock)
            conn.close()
        st = s.wait_applied(4)
        self.assertEqual(st["events"], 4)
        self.assertEqual(s.stop(), 0)
        self.assertEqual(stored_entry_ids(self.db), [9000, 9001, 9002, 9003])

    def test_tls_1_0_and_1_1_are_refused(self):
        s = self.serve()
        old = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]

        def old_client(version):
            ctx = self.ca.context(minimum_version=version, maximum_version=version)
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers TLS 1.0/1.1 only at level 0
            return ctx

        # the client can speak these versions: a Python server that allows them agrees on them
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.minimum_version = ssl.TLSVersion.TLSv1
        server_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        server_ctx.load_cert_chain(*self.server_cert)
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)

        def accept(n):
            for _ in range(n):
                c, _ = listener.accept()
                try:
                    server_ctx.wrap_socket(c, server_side=True).close()
                except (OSError, ssl.SSLError):
                    c.close()

        t = threading.Thread(target=accept, args=(len(old),), daemon=True)
        t.start()
        for version in old:
            with socket.create_connection(listener.getsockname(), timeout=10) as raw:
                with old_client(version).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    self.assertEqual(tls.version(), version.name.replace("_", "."))
        t.join(10)
        # levee refuses them
        for version in old:
            with self.subTest(version=version.name):
                with socket.create_connection((s.host, s.port), timeout=10) as raw:
                    with self.assertRaises(ssl.SSLError):
                        old_client(version).wrap_socket(raw, server_hostname="127.0.0.1")
        p = self.curl(s, "--tlsv1.1", "--tls-max", "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", s.url + "healthz")
        self.assertNotEqual(p.returncode, 0, p.stdout)
        # and still serves the versions it supports
        self.assertEqual(s.get("/healthz")[0], 200)

    def test_a_certificate_for_another_name_is_refused_by_the_client(self):
        cert, key = self.ca.issue("other", 7, names=("DNS:events.other.example",))
        s = self.serve("--tls-cert", cert, "--tls-key", key, ca=self.ca)
        p = self.curl(s, s.url + "events", body=json.dumps(entry(0)))
        self.assertEqual(p.returncode, 60, p.stderr)  # curl: the peer's certificate cannot be verified
        self.assertIn("127.0.0.1", p.stderr)
        with self.assertRaises(ssl.SSLCertVerificationError) as cm:
            s.post("/events", json.dumps(entry(1)))
        self.assertIn("IP address mismatch", str(cm.exception))
        # a client that asks for the name on the certificate gets through
        p = self.curl(s, "--resolve", "events.other.example:%d:127.0.0.1" % s.port,
                      "https://events.other.example:%d/events" % s.port, body=json.dumps(entry(2)))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(s.stop(), 0)  # (the stop applies the journal)
        self.assertEqual(stored_entry_ids(self.db), [9002])

    def test_listening_off_loopback_still_needs_the_tokens(self):
        s = self.serve(listen="0.0.0.0:0", expect_start=False)
        self.assertEqual(s.proc.wait(30), 2)
        s._lines.join(5)
        self.assertTrue(any("refusing to listen on 0.0.0.0:0 without tokens" in l for l in s.log), s.log)


class TestReload(TlsTest):
    def renew(self, serial, key=None):
        """Renews the certificate in place as certbot does: the new files are written beside the old
        ones, then moved over them."""
        cert, new_key = self.ca.issue("renewed", serial, key=key)
        os.replace(cert, self.server_cert[0])
        if new_key != self.server_cert[1]:
            os.replace(new_key, self.server_cert[1])

    def test_sighup_puts_a_renewed_certificate_in_place_and_open_connections_go_on(self):
        s = self.serve()
        self.assertEqual(self.serial_seen(s), "01")
        kept = s.connection()
        kept.request("POST", "/events", body=json.dumps(entry(0)), headers={"Content-Type": "application/json"})
        resp = kept.getresponse()
        self.assertEqual(resp.status, 200, resp.read())
        resp.read()
        sock = kept.sock
        for serial, hexa in [(2, "02"), (3, "03")]:
            self.renew(serial)
            n = len(s.log)
            os.kill(s.proc.pid, signal.SIGHUP)
            self.wait_log(s, "serial=%s" % hexa, after=n)
            # a fresh connection (TLS 1.3 and 1.2) is shown the new certificate
            self.assertEqual(self.serial_seen(s), hexa)
            self.assertEqual(self.serial_seen(s, maximum_version=ssl.TLSVersion.TLSv1_2), hexa)
            # the kept-alive connection is the same one, still on the first certificate, and still works
            kept.request("POST", "/events", body=json.dumps(entry(serial)),
                         headers={"Content-Type": "application/json"})
            resp = kept.getresponse()
            self.assertEqual(resp.status, 200, resp.read())
            resp.read()
            self.assertIs(kept.sock, sock)
            self.assertEqual(kept.sock.getpeercert()["serialNumber"], "01")
            status, text = s.post("/events", json.dumps(entry(10 + serial)))
            self.assertEqual(status, 200, text)
        kept.close()
        s.wait_applied(5)
        self.assertEqual(s.stop(), 0)  # (under ASan: no leak of the replaced certificates)
        self.assertEqual(stored_entry_ids(self.db), [9000, 9002, 9003, 9012, 9013])

    def test_a_bad_renewal_keeps_the_certificate_in_use(self):
        s = self.serve()
        cert, key = self.server_cert
        good_cert, good_key = open(cert).read(), open(key).read()
        cases = [
            ("a key that is not the certificate's", lambda: os.replace(self.ca.new_key(self.path("stray.key")), key),
             "the TLS key %s is not the key of the certificate %s" % (key, cert)),
            ("a certificate file that is not PEM", lambda: open(cert, "w").write("renewal in progress\n"),
             "the TLS certificate %s is not a PEM certificate" % cert),
            ("a missing key", lambda: os.remove(key), "cannot open the TLS key %s: No such file" % key),
        ]
        for name, damage, why in cases:
            with self.subTest(case=name):
                damage()
                n = len(s.log)
                os.kill(s.proc.pid, signal.SIGHUP)
                line = self.wait_log(s, "cannot reload the TLS certificate", after=n)
                self.assertIn(why, line)
                self.assertIn("level=error", line)
                self.assertEqual(self.serial_seen(s), "01")
                self.assertEqual(s.post("/events", json.dumps(entry(len(s.log))))[0], 200)
                with open(cert, "w") as f:
                    f.write(good_cert)
                with open(key, "w") as f:
                    f.write(good_key)
        self.assertEqual(s.stop(), 0)


class TestStartup(TlsTest):
    def start_fails(self, *args):
        s = self.serve(*args, expect_start=False)
        self.assertEqual(s.proc.wait(30), 2)
        s._lines.join(5)
        return "\n".join(s.log)

    def test_startup_errors_name_the_file_and_exit_2(self):
        cert, key = self.server_cert
        other_cert, other_key = self.ca.issue("other", 2)
        not_pem = self.path("notes.txt")
        with open(not_pem, "w") as f:
            f.write("this is not a certificate\n")
        missing = self.path("missing.pem")
        cases = {
            "no key": (["--tls-cert", cert], "--tls-cert %s is given without --tls-key" % cert),
            "no certificate": (["--tls-key", key], "--tls-key %s is given without --tls-cert" % key),
            "missing certificate": (["--tls-cert", missing, "--tls-key", key],
                                    "cannot open the TLS certificate %s: No such file or directory" % missing),
            "missing key": (["--tls-cert", cert, "--tls-key", missing],
                            "cannot open the TLS key %s: No such file or directory" % missing),
            "unreadable key (a directory)": (["--tls-cert", cert, "--tls-key", self.dir.name],
                                             "cannot read the TLS key %s" % self.dir.name),
            "certificate not PEM": (["--tls-cert", not_pem, "--tls-key", key],
                                    "the TLS certificate %s is not a PEM certificate" % not_pem),
            "key not PEM": (["--tls-cert", cert, "--tls-key", not_pem],
                            "the TLS key %s is not an unencrypted PEM private key" % not_pem),
            "key of another certificate": (["--tls-cert", cert, "--tls-key", other_key],
                                           "the TLS key %s is not the key of the certificate %s" % (other_key, cert)),
        }
        for name, (args, why) in cases.items():
            with self.subTest(case=name):
                log = self.start_fails(*args)
                self.assertIn("levee serve: " + why, log)
        self.assertFalse(os.path.exists(self.db), "a refused start created the store")

    def test_a_key_readable_by_others_is_warned_about(self):
        s = self.serve()
        self.assertFalse(any("can be read by every user" in l for l in s.log), s.log)
        s.stop()
        os.chmod(self.server_cert[1], 0o644)
        s = self.serve()
        line = self.wait_log(s, "can be read by every user")
        self.assertIn("level=warn", line)
        self.assertIn("mode=0644", line)
        self.assertEqual(s.get("/healthz")[0], 200)


# The kill -9 test and the JWT tests, over TLS: the same tests, with every server on HTTPS.
class TestCrashOverTls(S.ServeTest):
    tls = True
    test_kill_9_under_concurrent_load_loses_nothing_acknowledged = \
        S.TestLifecycle.test_kill_9_under_concurrent_load_loses_nothing_acknowledged


class TestJwtClaimsOverTls(J.TestClaims):
    tls = True


class TestJwtTailOverTls(J.TestSignedInTheTail):
    tls = True


class TestJwtCritOverTls(J.TestCrit):
    tls = True


class TestJwtDuplicateKidOverTls(J.TestDuplicateKid):
    tls = True


if __name__ == "__main__":
    unittest.main()
