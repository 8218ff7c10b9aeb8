/* test_sign.c: JWT signing for delivery: RS256 signatures that
 * OpenSSL verifies with the key's public half, claims appended to the event, the JWKS, and keys
 * refused with a reason; and the HTTP poster refusing what is not an http(s) URL. */
#include "testing.h"

#include <stdlib.h>
#include <unistd.h>

#include "levee/post.h"
#include "levee/sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

static char *new_rsa_pem(unsigned bits, EVP_PKEY **keep)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    assert_non_null(pkey);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = malloc((size_t)n + 1);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    BIO_free(bio);
    if (keep)
        *keep = pkey;
    else
        EVP_PKEY_free(pkey);
    return pem;
}

static size_t b64url_decode(const char *s, size_t len, unsigned char *out)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *p = strchr(alphabet, s[i]);
        assert_non_null(p);
        acc = acc << 6 | (uint32_t)(p - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static void test_signs_verifiable_jwts(void **state)
{
    (void)state;
    EVP_PKEY *pkey;
    char *pem = new_rsa_pem(2048, &pkey);
    lv_sign_key *key;
    lv_error err;
    assert_int_equal(lv_sign_key_from_pem(&key, pem, strlen(pem), "k\"1", "test.pem", &err), LV_OK);
    lv_buf jwt;
    lv_buf_init(&jwt);
    const char event[] = "{\"metadata\":{\"event_name\":\"x\"},\"body\":{}}\n";
    assert_int_equal(lv_jwt_sign(key, event, strlen(event), 1700000000, 3600, &jwt, &err), LV_OK);
    char *dot1 = strchr(jwt.data, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    assert_non_null(dot2);
    unsigned char buf[4096];
    size_t n = b64url_decode(jwt.data, (size_t)(dot1 - jwt.data), buf);
    assert_int_equal(n, strlen("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k\\\"1\"}"));
    assert_memory_equal(buf, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k\\\"1\"}", n);
    n = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf);
    const char want[] = "{\"metadata\":{\"event_name\":\"x\"},\"body\":{},\"iss\":\"https://live-events.canvas."
                        "instructure.com\",\"iat\":1700000000,\"exp\":1700003600}";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    /* OpenSSL verifies the signature over header.payload with the public key */
    unsigned char sig[1024];
    size_t sig_len = b64url_decode(dot2 + 1, strlen(dot2 + 1), sig);
    assert_int_equal(sig_len, 256);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt.data, (size_t)(dot2 - jwt.data)), 1);
    sig[10] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    assert_int_not_equal(EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt.data, (size_t)(dot2 - jwt.data)), 1);
    EVP_MD_CTX_free(ctx);

    /* an empty object gets the claims without a stray comma; a non-object is refused */
    lv_buf_reset(&jwt);
    assert_int_equal(lv_jwt_sign(key, "{}", 2, 5, 10, &jwt, &err), LV_OK);
    n = b64url_decode(strchr(jwt.data, '.') + 1, (size_t)(strrchr(jwt.data, '.') - strchr(jwt.data, '.') - 1), buf);
    assert_memory_equal(buf, "{\"iss\":", 7);
    assert_int_equal(lv_jwt_sign(key, "[1]", 3, 5, 10, &jwt, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "JSON object"));

    /* the JWKS holds the public key */
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jwks_write(key, w);
    lv_jw_free(w);
    assert_non_null(strstr(out.data, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\\\"1\",\"use\":\"sig\",\"alg\":\"RS256\",\"n\":\""));
    assert_non_null(strstr(out.data, "\"e\":\"AQAB\"}]}"));
    lv_buf_free(&out);
    lv_buf_free(&jwt);
    lv_sign_key_free(key);
    EVP_PKEY_free(pkey);
    free(pem);
}

static void test_refuses_unusable_keys(void **state)
{
    (void)state;
    lv_sign_key *key = (lv_sign_key *)1;
    lv_error err;
    assert_int_equal(lv_sign_key_from_pem(&key, "hello", 5, "k", "x.pem", &err), LV_EINVAL);
    assert_null(key);
    assert_non_null(strstr(err.msg, "x.pem holds no PEM private key"));
    char *pem = new_rsa_pem(1024, NULL);
    assert_int_equal(lv_sign_key_from_pem(&key, pem, strlen(pem), "k", "small.pem", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "1024-bit RSA key"));
    assert_int_equal(lv_sign_key_from_pem(&key, pem, strlen(pem), "", "small.pem", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "key id"));
    free(pem);
    assert_int_equal(lv_sign_key_load(&key, "/nonexistent/key.pem", "k", &err), LV_EIO);
    assert_non_null(strstr(err.msg, "cannot open the private key /nonexistent/key.pem"));
    /* a file far larger than any key is refused, not read whole or cut short */
    char big[256];
    int fd = make_temp(big, sizeof big, "bigkey", false);
    assert_int_equal(ftruncate(fd, (2 << 20)), 0);
    close(fd);
    assert_int_equal(lv_sign_key_load(&key, big, "k", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "is over 1048576 bytes"));
    assert_null(key);
    unlink(big);
    lv_sign_key_free(NULL);
}

static void test_poster_wants_http_urls(void **state)
{
    (void)state;
    lv_post_options o;
    lv_post_options_init(&o);
    assert_int_equal(o.retries, 3);
    assert_int_equal(o.timeout_ms, 15000);
    lv_poster *p = (lv_poster *)1;
    lv_error err;
    assert_int_equal(lv_poster_new(&p, "ftp://example.edu/x", &o, &err), LV_EINVAL);
    assert_null(p);
    assert_non_null(strstr(err.msg, "'ftp://example.edu/x' is not an http:// or https:// URL"));
    assert_int_equal(lv_poster_new(&p, "http://127.0.0.1:9/events", &o, &err), LV_OK);
    lv_poster_free(p);
    lv_poster_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signs_verifiable_jwts),
        cmocka_unit_test(test_refuses_unusable_keys),
        cmocka_unit_test(test_poster_wants_http_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
