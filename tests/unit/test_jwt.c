/* test_jwt.c: RS256 verification against a JWKS: a good token, and each way a token is refused
 * (tampering, algorithms other than RS256, unknown or missing kid, exp, nbf, iss); base64url. */
#include "testing.h"

#include "levee/base64.h"
#include "levee/jwt.h"
#include "levee/sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

typedef struct fixture {
    lv_sign_key *key;
    lv_jwks *jwks;
} fixture;

static lv_sign_key *new_key(const char *kid)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    lv_sign_key *key = NULL;
    lv_error err;
    if (lv_sign_key_from_pem(&key, pem, (size_t)len, kid, "test key", &err) != LV_OK)
        fail_msg("%s", err.msg);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return key;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->key = new_key("k1");
    lv_buf jwks;
    lv_buf_init(&jwks);
    lv_jw *w = lv_jw_new(&jwks, false);
    lv_jwks_write(f->key, w);
    lv_jw_free(w);
    lv_error err;
    if (lv_jwks_parse(jwks.data, jwks.len, "test", &f->jwks, &err) != LV_OK)
        fail_msg("%s", err.msg);
    lv_buf_free(&jwks);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lv_sign_key_free(f->key);
    lv_jwks_free(f->jwks);
    free(f);
    return 0;
}

static const char claims[] = "{\"metadata\":{\"event_name\":\"x\"},\"body\":{}}";

static char *token(const lv_sign_key *key, int64_t iat, int64_t lifetime)
{
    lv_buf out;
    lv_buf_init(&out);
    lv_error err;
    if (lv_jwt_sign(key, claims, strlen(claims), iat, lifetime, &out, &err) != LV_OK)
        fail_msg("%s", err.msg);
    return lv_buf_detach(&out, NULL);
}

static lv_status verify(fixture *f, const char *t, int64_t now, const char *issuer, lv_buf *payload, lv_error *err)
{
    lv_jwt_policy p = { .issuer = issuer, .now = now, .leeway = 60 };
    return lv_jwt_verify(f->jwks, t, strlen(t), &p, payload, err);
}

static void expect_refused(fixture *f, const char *t, int64_t now, const char *issuer, const char *why)
{
    lv_buf payload;
    lv_buf_init(&payload);
    lv_error err;
    assert_int_equal(verify(f, t, now, issuer, &payload, &err), LV_EINVAL);
    if (!strstr(err.msg, why))
        fprintf(stderr, "refusal '%s' lacks '%s'\n", err.msg, why);
    assert_non_null(strstr(err.msg, why));
    assert_int_equal(payload.len, 0);
    lv_buf_free(&payload);
}

/* A token with its header replaced (the signature then covers the old header). */
static char *with_header(const char *t, const char *header_json)
{
    lv_buf out;
    lv_buf_init(&out);
    lv_base64url((const unsigned char *)header_json, strlen(header_json), &out);
    lv_buf_puts(&out, strchr(t, '.'));
    return lv_buf_detach(&out, NULL);
}

static void test_good_token(void **state)
{
    fixture *f = *state;
    char *t = token(f->key, 1700000000, 3600);
    assert_true(lv_jwt_looks_like(t, strlen(t)));
    lv_buf payload;
    lv_buf_init(&payload);
    lv_error err;
    assert_int_equal(verify(f, t, 1700000100, LV_JWT_ISSUER, &payload, &err), LV_OK);
    assert_non_null(strstr(payload.data, "\"metadata\":{\"event_name\":\"x\"}"));
    assert_non_null(strstr(payload.data, "\"iss\":\"https://live-events.canvas.instructure.com\""));
    lv_buf_free(&payload);
    free(t);
}

static void test_refusals(void **state)
{
    fixture *f = *state;
    char *t = token(f->key, 1700000000, 3600);
    expect_refused(f, t, 1700000000 + 3600 + 61, LV_JWT_ISSUER, "expired 61 seconds ago");
    expect_refused(f, t, 1700000100, "https://other.example", "issuer");
    /* tampered: one character of the payload changed */
    char *bad = strdup(t);
    char *dot = strchr(bad, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    expect_refused(f, bad, 1700000100, NULL, "does not verify");
    free(bad);
    char *none = with_header(t, "{\"alg\":\"none\",\"kid\":\"k1\"}");
    expect_refused(f, none, 1700000100, NULL, "only RS256");
    free(none);
    char *hs = with_header(t, "{\"alg\":\"HS256\",\"kid\":\"k1\"}");
    expect_refused(f, hs, 1700000100, NULL, "only RS256");
    free(hs);
    char *nokid = with_header(t, "{\"alg\":\"RS256\"}");
    expect_refused(f, nokid, 1700000100, NULL, "names no key");
    free(nokid);
    free(t);
    /* a token from another key with the same name */
    lv_sign_key *other = new_key("k1");
    t = token(other, 1700000000, 3600);
    expect_refused(f, t, 1700000100, NULL, "does not verify with key \"k1\"");
    free(t);
    lv_sign_key_free(other);
    other = new_key("k2");
    t = token(other, 1700000000, 3600);
    expect_refused(f, t, 1700000100, NULL, "no key in the JWKS has kid \"k2\"");
    free(t);
    lv_sign_key_free(other);
    expect_refused(f, "a.b", 0, NULL, "three parts");
    expect_refused(f, "a!.b.c", 0, NULL, "not base64url");
    assert_false(lv_jwt_looks_like("{\"metadata\":1}", 14));
    assert_false(lv_jwt_looks_like("a..b", 4));
}

static void test_jwks_refusals(void **state)
{
    (void)state;
    lv_jwks *k;
    lv_error err;
    assert_int_equal(lv_jwks_parse("[]", 2, "x.json", &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "x.json is not a JWKS"));
    const char *weak = "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                       "{\"kty\":\"EC\",\"kid\":\"b\"}]}";
    assert_int_equal(lv_jwks_parse(weak, strlen(weak), "x.json", &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "no usable key"));
    assert_int_equal(lv_jwks_load("/nonexistent/jwks.json", &k, &err), LV_EIO);
}

static void test_base64url(void **state)
{
    (void)state;
    static const struct { const char *plain, *coded; } v[] = {
        { "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg" },
        { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" }, /* RFC 4648, unpadded */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lv_buf b;
        lv_buf_init(&b);
        lv_base64url((const unsigned char *)v[i].plain, strlen(v[i].plain), &b);
        assert_string_equal(b.data ? b.data : "", v[i].coded);
        lv_buf_reset(&b);
        assert_true(lv_base64url_decode(v[i].coded, strlen(v[i].coded), &b));
        assert_int_equal(b.len, strlen(v[i].plain));
        assert_memory_equal(b.data ? b.data : "", v[i].plain, b.len);
        lv_buf_free(&b);
    }
    lv_buf b;
    lv_buf_init(&b);
    assert_true(lv_base64url_decode("Zm8=", 4, &b)); /* padding tolerated */
    assert_false(lv_base64url_decode("Z", 1, &b));
    assert_false(lv_base64url_decode("Zm+v", 4, &b)); /* standard base64 is not base64url */
    lv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test(test_jwks_refusals),
        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
