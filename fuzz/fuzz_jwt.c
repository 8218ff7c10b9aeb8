/* fuzz_jwt.c: JWT verification and JWKS parsing on arbitrary bytes. The first byte picks the target;
 * a token is verified against a real key, so the whole header/claims/signature path is reached. Nothing
 * arbitrary may verify, and every refusal says why. */
#include "levee/jwt.h"
#include "levee/sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lv_jwks *keys;

static void make_keys(void)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    lv_sign_key *key;
    lv_error err;
    if (lv_sign_key_from_pem(&key, pem, (size_t)len, "k1", "fuzz", &err) != LV_OK)
        abort();
    lv_buf jwks;
    lv_buf_init(&jwks);
    lv_jw *w = lv_jw_new(&jwks, false);
    lv_jwks_write(key, w);
    lv_jw_free(w);
    if (lv_jwks_parse(jwks.data, jwks.len, "fuzz", &keys, &err) != LV_OK)
        abort();
    lv_buf_free(&jwks);
    lv_sign_key_free(key);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys)
        make_keys();
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    lv_error err = { 0 };
    if (data[0] & 1) {
        lv_jwks *k = NULL;
        if (lv_jwks_parse(text, len, "fuzz", &k, &err) == LV_OK)
            lv_jwks_free(k);
        else if (!err.msg[0])
            abort();
    } else {
        lv_buf payload;
        lv_buf_init(&payload);
        lv_jwt_policy p = { .issuer = NULL, .now = 1700000000, .leeway = 60 };
        (void)lv_jwt_looks_like(text, len);
        if (lv_jwt_verify(keys, text, len, &p, &payload, &err) == LV_OK)
            abort(); /* a forged token verified */
        if (!err.msg[0])
            abort();
        lv_buf_free(&payload);
    }
    return 0;
}
