"""jwt_util.py: RSA keys, a JWKS and JWTs for tests, made with the openssl command line tool (not
with levee's own signing code), so that verification is checked against an independent signer."""
import base64
import json
import os
import subprocess


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_key(path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def jwk(key_path, kid):
    out = subprocess.run(["openssl", "rsa", "-in", key_path, "-noout", "-modulus"], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
    n = bytes.fromhex(out.strip().split("=", 1)[1])
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64url(n), "e": b64url(b"\x01\x00\x01")}


def write_jwks(path, keys):
    with open(path, "w") as f:
        json.dump({"keys": keys}, f)
    return path


def sign(key_path, claims, kid, alg="RS256", header=None):
    h = {"alg": alg, "typ": "JWT", "kid": kid}
    if header:
        h.update(header)
    signing_input = (b64url(json.dumps(h, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    if alg == "none":
        return signing_input + "."
    if alg == "HS256":
        import hashlib
        import hmac
        return signing_input + "." + b64url(hmac.new(b"secret", signing_input.encode(), hashlib.sha256).digest())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=signing_input.encode(),
                         check=True, stdout=subprocess.PIPE).stdout
    return signing_input + "." + b64url(sig)


def sign_text(key_path, claims_text, kid, header=None):
    """An RS256 JWT whose claims are claims_text exactly as given (so that numbers such as 1e300 or
    99999999999999999999999 reach the verifier as written), with header members added to the header."""
    h = {"alg": "RS256", "typ": "JWT", "kid": kid}
    if header:
        h.update(header)
    signing_input = b64url(json.dumps(h, separators=(",", ":")).encode()) + "." + b64url(claims_text.encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_path], input=signing_input.encode(),
                         check=True, stdout=subprocess.PIPE).stdout
    return signing_input + "." + b64url(sig)
