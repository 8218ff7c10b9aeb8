/* fuzz_sign_key.c: the signing-key reader (`levee simulate --sign-key`) on arbitrary bytes. It must
 * refuse with a message or accept an RSA key that then signs a JWT of three base64url parts and
 * writes a JWKS, without leaking either way. */
#include "levee/sign.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_sign_key *key;
    lv_error err;
    if (lv_sign_key_from_pem(&key, (const char *)data, size, "fuzz", "input", &err) != LV_OK) {
        if (key || !err.msg[0])
            abort();
        return 0;
    }
    lv_buf jwt;
    lv_buf_init(&jwt);
    if (lv_jwt_sign(key, "{\"a\":1}", 7, 1, 1, &jwt, &err) != LV_OK)
        abort();
    int dots = 0;
    for (size_t i = 0; i < jwt.len; i++) {
        char c = jwt.data[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            abort();
    }
    if (dots != 2)
        abort();
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jwks_write(key, w);
    lv_jw_free(w);
    if (!strstr(out.data, "\"kty\":\"RSA\""))
        abort();
    lv_buf_free(&out);
    lv_buf_free(&jwt);
    lv_sign_key_free(key);
    return 0;
}
