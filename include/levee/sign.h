/* levee/sign.h (stage: emit): signing events as Canvas's HTTPS delivery does when "Sign Payload" is on: the POST
 * body is a compact JWT (RS256, the key's id in the header) whose claims are the event's members
 * plus iss, iat and exp; the public keys are published as a JWKS (docs/simulate.md). */
#ifndef LEVEE_SIGN_H
#define LEVEE_SIGN_H

#include "levee/json.h"

#define LV_JWT_ISSUER "https://live-events.canvas.instructure.com"

typedef struct lv_sign_key lv_sign_key;

/* Reads an RSA private key (PEM: "PRIVATE KEY" or "RSA PRIVATE KEY", not encrypted) of at least
 * 2048 bits, as RS256 requires, and names it kid. `name` is how errors refer to the key (a path). */
lv_status lv_sign_key_from_pem(lv_sign_key **out, const char *pem, size_t len, const char *kid,
                               const char *name, lv_error *err);
lv_status lv_sign_key_load(lv_sign_key **out, const char *path, const char *kid, lv_error *err);
void lv_sign_key_free(lv_sign_key *key);

/* Appends the compact JWT (header.payload.signature, base64url without padding) for a JSON object:
 * the payload is the object with "iss", "iat" and "exp" (iat + lifetime_s) added after its members.
 * Fails with LV_EINVAL when json is not an object's text. */
lv_status lv_jwt_sign(const lv_sign_key *key, const char *json, size_t len, int64_t iat,
                      int64_t lifetime_s, lv_buf *out, lv_error *err);

/* Writes the JWKS holding the key's public half: {"keys":[{"kty":"RSA","kid",...,"n","e"}]}. */
void lv_jwks_write(const lv_sign_key *key, lv_jw *w);

#endif
