/* levee/base64.h (stage: common): base64url without padding (RFC 7515), as JWTs and JWKS use it; the coding itself
 * is OpenSSL's. */
#ifndef LEVEE_BASE64_H
#define LEVEE_BASE64_H

#include "levee/common.h"

/* Appends data in base64url without padding. */
void lv_base64url(const unsigned char *data, size_t len, lv_buf *out);
/* Appends the bytes that base64url text (padding optional) stands for; false if it is not base64url. */
bool lv_base64url_decode(const char *text, size_t len, lv_buf *out);

#endif
