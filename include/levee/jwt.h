/* levee/jwt.h (stage: receive): verifying signed deliveries. With "Sign Payload" on, Canvas posts each event as a
 * compact JWT signed with RS256, its key named by `kid` in the header and published in a JWKS that
 * rotates monthly. levee accepts RS256 only (never "none", never HMAC), looks the key up by kid,
 * refuses any crit header (it supports no JWS extension), checks exp, nbf and iss (exp, nbf and iat
 * must be numbers of seconds from 0 to 253402300799, the end of year 9999), and hands back the claims
 * exactly as they were signed. */
#ifndef LEVEE_JWT_H
#define LEVEE_JWT_H

#include "levee/common.h"

typedef struct lv_jwks lv_jwks;

/* Reads a JWKS ({"keys": [...]}); RSA keys of at least 2048 bits for signing are kept, others are
 * skipped. Fails when no usable key remains, and when two RSA signing keys (kty "RSA", use "sig" or
 * none, alg "RS256" or none) have the same kid, naming it: a token names its key by kid alone. name is
 * how messages refer to it (a path). */
lv_status lv_jwks_parse(const char *json, size_t len, const char *name, lv_jwks **out, lv_error *err);
lv_status lv_jwks_load(const char *path, lv_jwks **out, lv_error *err);
size_t lv_jwks_count(const lv_jwks *keys);
void lv_jwks_free(lv_jwks *keys);

/* Whether a request body looks like a compact JWT (three base64url parts separated by dots). */
bool lv_jwt_looks_like(const char *text, size_t len);

typedef struct lv_jwt_policy {
    const char *issuer; /* required iss (NULL: not checked) */
    int64_t now;        /* seconds since the epoch */
    int64_t leeway;     /* seconds of clock skew allowed for exp and nbf */
} lv_jwt_policy;

/* Verifies token against keys and the policy; on success appends the payload (the claims JSON,
 * exactly as signed) to payload. A token is refused when its header has a crit member (RFC 7515
 * section 4.1.11), or when its exp, nbf or iat claim is present but not a JSON number from 0 to
 * 253402300799 (a fraction is allowed: exp counts its integer part, nbf the next whole second). The
 * error says why a token is refused. */
lv_status lv_jwt_verify(const lv_jwks *keys, const char *token, size_t len, const lv_jwt_policy *policy,
                        lv_buf *payload, lv_error *err);

#endif
