/* test_jwt.c: RS256 verification against a JWKS: a good token, and each way a token is refused
 * (tampering, algorithms other than RS256, unknown or missing kid, exp, nbf, iss; exp, nbf and iat
 * that are not NumericDates in range; any crit header); JWKS refusals (a duplicate kid); base64url.
 * Tokens with chosen headers and claims are signed here with OpenSSL directly, so their signatures
 * are valid and only the checks under test can refuse them. */
#include "testing.h"

#include "levee/base64.h"
#include "levee/jwt.h"
#include "levee/sign.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

typedef struct fixture {
    lv_sign_key *key;
    EVP_PKEY *pkey; /* the same key, to sign tokens with any header and claims */
    lv_jwks *jwks;
} fixture;

/* A new 2048-bit RSA key named kid; *pkey_out (when not NULL) receives its OpenSSL form. */
static lv_sign_key *new_key_pkey(const char *kid, EVP_PKEY **pkey_out)
{
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    if (!pkey)
        fail_msg("cannot make an RSA key");
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    lv_sign_key *key = NULL;
    lv_error err;
    if (lv_sign_key_from_pem(&key, pem, (size_t)len, kid, "test key", &err) != LV_OK)
        fail_msg("%s", err.msg);
    BIO_free(bio);
    if (pkey_out)
        *pkey_out = pkey;
    else
        EVP_PKEY_free(pkey);
    return key;
}

static lv_sign_key *new_key(const char *kid)
{
    return new_key_pkey(kid, NULL);
}

/* The JWKS text for key (as levee simulate publishes it). */
static char *jwks_text(const lv_sign_key *key)
{
    lv_buf jwks;
    lv_buf_init(&jwks);
    lv_jw *w = lv_jw_new(&jwks, false);
    lv_jwks_write(key, w);
    lv_jw_free(w);
    return lv_buf_detach(&jwks, NULL);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->key = new_key_pkey("k1", &f->pkey);
    char *jwks = jwks_text(f->key);
    lv_error err;
    if (lv_jwks_parse(jwks, strlen(jwks), "test", &f->jwks, &err) != LV_OK)
        fail_msg("%s", err.msg);
    free(jwks);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    lv_sign_key_free(f->key);
    EVP_PKEY_free(f->pkey);
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

/* header_json.claims_json, base64url, signed with RS256 by the fixture's key: a valid signature. */
static char *signed_token(fixture *f, const char *header_json, const char *claims_json)
{
    lv_buf t;
    lv_buf_init(&t);
    lv_base64url((const unsigned char *)header_json, strlen(header_json), &t);
    lv_buf_putc(&t, '.');
    lv_base64url((const unsigned char *)claims_json, strlen(claims_json), &t);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, f->pkey) != 1 ||
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)t.data, t.len) != 1)
        fail_msg("cannot sign a test token");
    EVP_MD_CTX_free(md);
    lv_buf_putc(&t, '.');
    lv_base64url(sig, siglen, &t);
    return lv_buf_detach(&t, NULL);
}

static const char header_k1[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";

/* The claims of an event with `extra` (members, e.g. "\"exp\":1") after iss. */
static char *claims_with(const char *extra)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_buf_printf(&b, "{\"metadata\":{\"event_name\":\"x\"},\"body\":{},\"iss\":\"%s\"%s%s}", LV_JWT_ISSUER,
                  *extra ? "," : "", extra);
    return lv_buf_detach(&b, NULL);
}

/* Whether a validly signed token with header and the claims `extra` is accepted at now. */
static void expect_accepted(fixture *f, const char *header, const char *extra, int64_t now)
{
    char *c = claims_with(extra);
    char *t = signed_token(f, header, c);
    lv_buf payload;
    lv_buf_init(&payload);
    lv_error err = { 0 };
    lv_status st = verify(f, t, now, LV_JWT_ISSUER, &payload, &err);
    if (st != LV_OK)
        fprintf(stderr, "claims %s at %lld refused: %s\n", c, (long long)now, err.msg);
    assert_int_equal(st, LV_OK);
    assert_int_equal(payload.len, strlen(c));
    assert_memory_equal(payload.data, c, payload.len);
    lv_buf_free(&payload);
    free(t);
    free(c);
}

/* Whether it is refused at now with a message containing every one of why (NULL-terminated). */
static void expect_claims_refused(fixture *f, const char *header, const char *extra, int64_t now, const char *why, ...)
{
    char *c = claims_with(extra);
    char *t = signed_token(f, header, c);
    va_list ap;
    va_start(ap, why);
    for (const char *w = why; w; w = va_arg(ap, const char *))
        expect_refused(f, t, now, LV_JWT_ISSUER, w);
    va_end(ap);
    free(t);
    free(c);
}

#define NOW 1700000100
#define MUST "it must be a number of seconds since 1970, from 0 to 253402300799 (the end of year 9999)"

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

static void test_claim_types(void **state)
{
    fixture *f = *state;
    expect_accepted(f, header_k1, "\"iat\":1700000000,\"exp\":1700003600,\"nbf\":1700000000", NOW);
    static const char *const names[] = { "exp", "nbf", "iat" };
    for (size_t i = 0; i < 3; i++) {
        char extra[96], why[64];
        snprintf(extra, sizeof extra, "\"%s\":\"1700003600\"", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is a string (\"1700003600\"); ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, MUST, NULL);
        snprintf(extra, sizeof extra, "\"%s\":true", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is true; ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, MUST, NULL);
        snprintf(extra, sizeof extra, "\"%s\":false", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is false; ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, NULL);
        snprintf(extra, sizeof extra, "\"%s\":null", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is null; ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, MUST, NULL);
        snprintf(extra, sizeof extra, "\"%s\":[1700003600]", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is an array; ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, NULL);
        snprintf(extra, sizeof extra, "\"%s\":{\"t\":1}", names[i]);
        snprintf(why, sizeof why, "the JWT's %s claim is an object; ", names[i]);
        expect_claims_refused(f, header_k1, extra, NOW, why, NULL);
    }
    /* a string whose bytes would garble a message is shown with '?' for them, and cut short */
    expect_claims_refused(f, header_k1, "\"exp\":\"\\u0001\\n0123456789012345678901234567890123456789\"", NOW,
                          "is a string (\"??01234567890123456789012345678901234567...\")", NULL);
}

static void test_claim_ranges(void **state)
{
    fixture *f = *state;
    expect_claims_refused(f, header_k1, "\"nbf\":1e300", NOW, "the JWT's nbf claim 1e300 is after the year 9999; ", MUST, NULL);
    expect_claims_refused(f, header_k1, "\"exp\":1e300", NOW, "the JWT's exp claim 1e300 is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":-1e300", NOW, "the JWT's exp claim -1e300 is before 1970; ", MUST, NULL);
    expect_claims_refused(f, header_k1, "\"nbf\":-1e300", NOW, "the JWT's nbf claim -1e300 is before 1970", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":99999999999999999999999", NOW,
                          "the JWT's exp claim 99999999999999999999999 is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":-99999999999999999999999", NOW, "is before 1970", NULL);
    expect_claims_refused(f, header_k1, "\"iat\":1e400", NOW, "the JWT's iat claim 1e400 is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":1E+999999999999999999999", NOW, "is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"nbf\":-1", NOW, "the JWT's nbf claim -1 is before 1970", NULL);
    expect_claims_refused(f, header_k1, "\"nbf\":-0.5", NOW, "is before 1970", NULL);
    /* the edges: the last second of year 9999 is a NumericDate, the next one is not */
    expect_accepted(f, header_k1, "\"exp\":253402300799", NOW);
    expect_accepted(f, header_k1, "\"exp\":2.53402300799e11", NOW);
    expect_claims_refused(f, header_k1, "\"exp\":253402300800", NOW, "253402300800 is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":253402300799.000001", NOW, "is after the year 9999", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":2534023008e2", NOW, "is after the year 9999", NULL);
    /* 0, in any spelling, is in range (and long past) */
    expect_claims_refused(f, header_k1, "\"exp\":0", NOW, "the JWT expired 1700000100 seconds ago", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":-0.0e5", NOW, "the JWT expired 1700000100 seconds ago", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":0e999999999999", NOW, "expired 1700000100 seconds ago", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":1e-300", NOW, "expired 1700000100 seconds ago", NULL);
    expect_accepted(f, header_k1, "\"iat\":0,\"nbf\":1e-300", NOW);
    /* a number too long to show is cut short in the message */
    expect_claims_refused(f, header_k1, "\"nbf\":123456789012345678901234567890123456789012345678901234567890", NOW,
                          "nbf claim 1234567890123456789012345678901234567890... is after the year 9999", NULL);
}

static void test_fractional_dates(void **state)
{
    fixture *f = *state;
    /* RFC 7519 NumericDates may have a fraction, written in any JSON form */
    expect_accepted(f, header_k1, "\"iat\":1700000000.25,\"exp\":1700003600.5,\"nbf\":1699999999.999", NOW);
    expect_accepted(f, header_k1, "\"exp\":1.7000036e9", NOW);
    expect_accepted(f, header_k1, "\"exp\":17000036000E-1", NOW);
    expect_accepted(f, header_k1, "\"exp\":0.0000017000036e15", NOW);
    /* exp 1700000000.5 with 60 s of leeway: valid up to 1700000060, refused from 1700000061 */
    expect_accepted(f, header_k1, "\"exp\":1700000000.5", 1700000060);
    expect_claims_refused(f, header_k1, "\"exp\":1700000000.5", 1700000061, "the JWT expired 61 seconds ago", NULL);
    expect_claims_refused(f, header_k1, "\"exp\":17000000005e-1", 1700000061, "the JWT expired 61 seconds ago", NULL);
    /* nbf 1700000000.5: refused while now + leeway is before it, valid from 1700000001 - 60 */
    expect_claims_refused(f, header_k1, "\"nbf\":1700000000.5", 1699999940, "not valid for another 61 seconds", NULL);
    expect_accepted(f, header_k1, "\"nbf\":1700000000.5", 1699999941);
    expect_accepted(f, header_k1, "\"nbf\":1700000000", 1699999940);
}

static void test_crit(void **state)
{
    fixture *f = *state;
    /* the same claims are accepted without crit: only the header refuses these tokens */
    expect_accepted(f, header_k1, "\"exp\":1700003600", NOW);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"exp-ext\"],\"exp-ext\":1}", "\"exp\":1700003600",
                          NOW, "the JWT's header marks the extension \"exp-ext\" as critical (crit)",
                          "levee supports no JWS extension", "sign without it", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"b64\",\"x\"],\"b64\":false,\"x\":1}", "", NOW,
                          "marks the extensions \"b64\", \"x\" as critical", "sign without them", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]}", "", NOW,
                          "marks the extensions \"a\", \"b\", \"c\", \"d\" and 2 more as critical", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[]}", "", NOW,
                          "the JWT's header has an empty crit list, which RFC 7515 section 4.1.11 forbids", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":\"exp-ext\",\"exp-ext\":1}", "", NOW,
                          "the JWT's header has a crit member that is a string, not a list of header parameter names",
                          NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":{}}", "", NOW,
                          "crit member that is an object, not a list", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":null}", "", NOW,
                          "crit member that is null, not a list", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\",7],\"x\":1}", "", NOW,
                          "the JWT's crit list holds a number, not a header parameter name", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x\",\"alg\"],\"x\":1}", "", NOW,
                          "the JWT's crit list names \"alg\", a header parameter of JWS itself", NULL);
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"x5t#S256\"]}", "", NOW,
                          "crit list names \"x5t#S256\"", NULL);
    /* a name with bytes that would garble a message is shown with '?' */
    expect_claims_refused(f, "{\"alg\":\"RS256\",\"kid\":\"k1\",\"crit\":[\"a\\nb\\u0000c\"]}", "", NOW,
                          "marks the extension \"a?b?c\" as critical", NULL);
}

static void test_jwks_duplicate_kid(void **state)
{
    (void)state;
    lv_sign_key *a = new_key("2026-11"), *b = new_key("2026-11");
    char *ja = jwks_text(a), *jb = jwks_text(b);
    /* {"keys":[A]} and {"keys":[B]} -> {"keys":[A,{EC},B]} */
    size_t prefix = strlen("{\"keys\":[");
    assert_memory_equal(ja, "{\"keys\":[", prefix);
    lv_buf both;
    lv_buf_init(&both);
    lv_buf_append(&both, ja, strlen(ja) - 2);
    lv_buf_puts(&both, ",{\"kty\":\"EC\",\"kid\":\"x\"},");
    lv_buf_puts(&both, jb + prefix);
    lv_jwks *k = NULL;
    lv_error err;
    assert_int_equal(lv_jwks_parse(both.data, both.len, "jwks.json", &k, &err), LV_EINVAL);
    assert_null(k);
    assert_string_equal(err.msg, "jwks.json has two keys with kid \"2026-11\" (entries 1 and 3 of \"keys\"): a token "
                                 "names its key by kid, so each kid must be unique; remove or rename one");
    /* the same key twice under one kid is refused too */
    lv_buf_reset(&both);
    lv_buf_append(&both, ja, strlen(ja) - 2);
    lv_buf_putc(&both, ',');
    lv_buf_puts(&both, ja + prefix);
    assert_int_equal(lv_jwks_parse(both.data, both.len, "jwks.json", &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "two keys with kid \"2026-11\" (entries 1 and 2"));
    /* a key of another type may share the kid (RFC 7517 section 4.5): levee never uses it */
    lv_buf_reset(&both);
    lv_buf_append(&both, ja, strlen(ja) - 2);
    lv_buf_puts(&both, ",{\"kty\":\"EC\",\"kid\":\"2026-11\",\"crv\":\"P-256\"},"
                       "{\"kty\":\"RSA\",\"kid\":\"2026-11\",\"use\":\"enc\"}]}");
    assert_int_equal(lv_jwks_parse(both.data, both.len, "jwks.json", &k, &err), LV_OK);
    assert_int_equal(lv_jwks_count(k), 1);
    lv_jwks_free(k);
    /* distinct kids, as Canvas's rotating JWKS publishes them, are fine */
    lv_sign_key_free(b);
    b = new_key("2026-12");
    free(jb);
    jb = jwks_text(b);
    lv_buf_reset(&both);
    lv_buf_append(&both, ja, strlen(ja) - 2);
    lv_buf_putc(&both, ',');
    lv_buf_puts(&both, jb + prefix);
    assert_int_equal(lv_jwks_parse(both.data, both.len, "jwks.json", &k, &err), LV_OK);
    assert_int_equal(lv_jwks_count(k), 2);
    lv_jwks_free(k);
    lv_buf_free(&both);
    free(ja);
    free(jb);
    lv_sign_key_free(a);
    lv_sign_key_free(b);
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
        cmocka_unit_test_setup_teardown(test_claim_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fractional_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crit, setup, teardown),
        cmocka_unit_test(test_jwks_refusals),
        cmocka_unit_test(test_jwks_duplicate_kid),
        cmocka_unit_test(test_base64url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
