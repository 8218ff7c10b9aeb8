/* jwt.c: RS256 JWT verification against a JWKS, with OpenSSL for the RSA keys and signatures and
 * levee's JSON parser for the header and claims. */
#include "levee/jwt.h"

#include "levee/base64.h"
#include "levee/crypto.h"
#include "levee/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct jwk {
    char *kid;
    EVP_PKEY *key;
} jwk;

struct lv_jwks {
    jwk *keys;
    size_t n;
};

static BIGNUM *bignum_from_b64(const lv_json *v)
{
    if (!v || v->type != LV_JSON_STRING)
        return NULL;
    lv_buf raw;
    lv_buf_init(&raw);
    BIGNUM *bn = NULL;
    if (lv_base64url_decode(v->str, v->len, &raw) && raw.len)
        bn = lv_crypto()->BN_bin2bn((const unsigned char *)raw.data, (int)raw.len, NULL);
    lv_buf_free(&raw);
    return bn;
}

static EVP_PKEY *rsa_public_key(BIGNUM *n, BIGNUM *e)
{
    OSSL_PARAM_BLD *bld = lv_crypto()->OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (bld && lv_crypto()->OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        lv_crypto()->OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) && (params = lv_crypto()->OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = lv_crypto()->EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && lv_crypto()->EVP_PKEY_fromdata_init(ctx) > 0 &&
        lv_crypto()->EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    lv_crypto()->EVP_PKEY_CTX_free(ctx);
    lv_crypto()->OSSL_PARAM_free(params);
    lv_crypto()->OSSL_PARAM_BLD_free(bld);
    return pkey;
}

lv_status lv_jwks_parse(const char *json, size_t len, const char *name, lv_jwks **out, lv_error *err)
{
    lv_arena a;
    lv_arena_init(&a, 8192);
    lv_json *root;
    lv_error perr;
    if (lv_json_parse(&a, json, len, &root, &perr) != LV_OK) {
        lv_arena_free(&a);
        return lv_fail(err, LV_EINVAL, "%s is not a JWKS: %s", name, perr.msg);
    }
    const lv_json *keys = lv_json_get(root, "keys");
    if (!keys || keys->type != LV_JSON_ARRAY) {
        lv_arena_free(&a);
        return lv_fail(err, LV_EINVAL, "%s is not a JWKS: it has no \"keys\" array", name);
    }
    lv_jwks *set = lv_xcalloc(1, sizeof *set);
    for (const lv_json *k = keys->child; k; k = k->next) {
        const lv_json *kty = lv_json_get(k, "kty"), *kid = lv_json_get(k, "kid");
        const lv_json *use = lv_json_get(k, "use"), *alg = lv_json_get(k, "alg");
        if (!lv_json_str_is(kty, "RSA") || !kid || kid->type != LV_JSON_STRING)
            continue;
        if ((use && !lv_json_str_is(use, "sig")) || (alg && !lv_json_str_is(alg, "RS256")))
            continue;
        BIGNUM *n = bignum_from_b64(lv_json_get(k, "n")), *e = bignum_from_b64(lv_json_get(k, "e"));
        EVP_PKEY *pkey = n && e && lv_crypto()->BN_num_bits(n) >= 2048 ? rsa_public_key(n, e) : NULL;
        lv_crypto()->BN_free(n);
        lv_crypto()->BN_free(e);
        if (!pkey)
            continue;
        set->keys = lv_xrealloc(set->keys, (set->n + 1) * sizeof *set->keys);
        set->keys[set->n].kid = lv_xstrndup(kid->str, kid->len);
        set->keys[set->n].key = pkey;
        set->n++;
    }
    lv_arena_free(&a);
    if (set->n == 0) {
        lv_jwks_free(set);
        return lv_fail(err, LV_EINVAL, "%s has no usable key (RSA, at least 2048 bits, for RS256 "
                       "signatures, with a kid)", name);
    }
    *out = set;
    return LV_OK;
}

lv_status lv_jwks_load(const char *path, lv_jwks **out, lv_error *err)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_status st = lv_read_file(path, "JWKS", 1u << 20, &b, err);
    if (st == LV_OK)
        st = lv_jwks_parse(b.data, b.len, path, out, err);
    lv_buf_free(&b);
    return st;
}

size_t lv_jwks_count(const lv_jwks *keys)
{
    return keys ? keys->n : 0;
}

void lv_jwks_free(lv_jwks *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n; i++) {
        free(keys->keys[i].kid);
        lv_crypto()->EVP_PKEY_free(keys->keys[i].key);
    }
    free(keys->keys);
    free(keys);
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool lv_jwt_looks_like(const char *text, size_t len)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    size_t dots = 0, run = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '.') {
            if (run == 0 && dots < 2)
                return false;
            dots++;
            run = 0;
        } else if (b64_char(text[i])) {
            run++;
        } else {
            return false;
        }
    }
    return dots == 2 && len > 10;
}

static bool claim_time(const lv_json *claims, const char *name, int64_t *value)
{
    const lv_json *v = lv_json_get(claims, name);
    if (!v || v->type != LV_JSON_NUMBER)
        return false;
    char *end;
    double d = strtod(v->str, &end);
    *value = (int64_t)d;
    return true;
}

lv_status lv_jwt_verify(const lv_jwks *keys, const char *token, size_t len, const lv_jwt_policy *policy,
                        lv_buf *payload, lv_error *err)
{
    while (len && (token[len - 1] == '\n' || token[len - 1] == '\r' || token[len - 1] == ' '))
        len--;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
    if (!dot1 || !dot2 || memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)))
        return lv_fail(err, LV_EINVAL, "not a JWT: a JWT has three parts separated by dots");
    lv_buf header, claims, sig;
    lv_buf_init(&header);
    lv_buf_init(&claims);
    lv_buf_init(&sig);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_status st = LV_OK;
    lv_json *h = NULL, *c = NULL;
    const jwk *key = NULL;
    if (!lv_base64url_decode(token, (size_t)(dot1 - token), &header) ||
        !lv_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims) ||
        !lv_base64url_decode(dot2 + 1, (size_t)(token + len - dot2 - 1), &sig)) {
        st = lv_fail(err, LV_EINVAL, "not a JWT: its parts are not base64url");
        goto done;
    }
    if (lv_json_parse(&a, header.data ? header.data : "", header.len, &h, NULL) != LV_OK || h->type != LV_JSON_OBJECT) {
        st = lv_fail(err, LV_EINVAL, "not a JWT: its header is not a JSON object");
        goto done;
    }
    const lv_json *alg = lv_json_get(h, "alg"), *kid = lv_json_get(h, "kid");
    if (!lv_json_str_is(alg, "RS256")) {
        st = lv_fail(err, LV_EINVAL, "the JWT is signed with %s%.*s%s; only RS256 is accepted",
                     alg && alg->type == LV_JSON_STRING ? "\"" : "",
                     alg && alg->type == LV_JSON_STRING ? (int)(alg->len > 20 ? 20 : alg->len) : 13,
                     alg && alg->type == LV_JSON_STRING ? alg->str : "no algorithm",
                     alg && alg->type == LV_JSON_STRING ? "\"" : "");
        goto done;
    }
    if (!kid || kid->type != LV_JSON_STRING) {
        st = lv_fail(err, LV_EINVAL, "the JWT's header names no key (kid)");
        goto done;
    }
    for (size_t i = 0; keys && i < keys->n && !key; i++)
        if (strlen(keys->keys[i].kid) == kid->len && memcmp(keys->keys[i].kid, kid->str, kid->len) == 0)
            key = &keys->keys[i];
    if (!key) {
        st = lv_fail(err, LV_EINVAL, "no key in the JWKS has kid \"%.*s\" (keys rotate monthly: reload "
                     "the JWKS with SIGHUP)", (int)(kid->len > 60 ? 60 : kid->len), kid->str);
        goto done;
    }
    EVP_MD_CTX *md = lv_crypto()->EVP_MD_CTX_new();
    int ok = md && lv_crypto()->EVP_DigestVerifyInit(md, NULL, lv_crypto()->EVP_sha256(), NULL, key->key) == 1 &&
             lv_crypto()->EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len, (const unsigned char *)token,
                              (size_t)(dot2 - token)) == 1;
    lv_crypto()->EVP_MD_CTX_free(md);
    if (!ok) {
        st = lv_fail(err, LV_EINVAL, "the JWT's signature does not verify with key \"%s\"", key->kid);
        goto done;
    }
    if (lv_json_parse(&a, claims.data ? claims.data : "", claims.len, &c, NULL) != LV_OK || c->type != LV_JSON_OBJECT) {
        st = lv_fail(err, LV_EINVAL, "the JWT's claims are not a JSON object");
        goto done;
    }
    int64_t t;
    if (claim_time(c, "exp", &t) && policy->now > t + policy->leeway) {
        st = lv_fail(err, LV_EINVAL, "the JWT expired %lld seconds ago", (long long)(policy->now - t));
        goto done;
    }
    if (claim_time(c, "nbf", &t) && policy->now + policy->leeway < t) {
        st = lv_fail(err, LV_EINVAL, "the JWT is not valid for another %lld seconds", (long long)(t - policy->now));
        goto done;
    }
    if (policy->issuer) {
        const lv_json *iss = lv_json_get(c, "iss");
        if (!lv_json_str_is(iss, policy->issuer)) {
            st = lv_fail(err, LV_EINVAL, "the JWT's issuer is %s%.*s%s, not %s", iss && iss->type == LV_JSON_STRING ? "\"" : "",
                         iss && iss->type == LV_JSON_STRING ? (int)(iss->len > 80 ? 80 : iss->len) : 7,
                         iss && iss->type == LV_JSON_STRING ? iss->str : "missing",
                         iss && iss->type == LV_JSON_STRING ? "\"" : "", policy->issuer);
            goto done;
        }
    }
    lv_buf_append(payload, claims.data, claims.len);
done:
    lv_buf_free(&header);
    lv_buf_free(&claims);
    lv_buf_free(&sig);
    lv_arena_free(&a);
    return st;
}
