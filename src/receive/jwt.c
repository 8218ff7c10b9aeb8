/* jwt.c: RS256 JWT verification against a JWKS, with OpenSSL for the RSA keys and signatures and
 * levee's JSON parser for the header and claims. A JWKS that gives two RS256 keys one kid is refused
 * at load. A token is refused when its header has a crit member (levee supports no JWS extension,
 * RFC 7515 section 4.1.11), or when its exp, nbf or iat claim is not a JSON number of seconds from 0
 * to the end of year 9999 (RFC 7519 NumericDate); those numbers are read exactly from their text,
 * never through a double. */
#include "levee/jwt.h"

#include "levee/base64.h"
#include "levee/crypto.h"
#include "levee/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The latest NumericDate accepted: 9999-12-31T23:59:59Z. */
#define NUMERIC_DATE_MAX INT64_C(253402300799)

typedef struct jwk {
    char *kid;
    EVP_PKEY *key;
} jwk;

struct lv_jwks {
    jwk *keys;
    size_t n;
};

/* Appends s for a message: printable ASCII as it is, any other byte as '?', at most max bytes of it
 * (then "..."), so that what a token or a JWKS holds cannot garble a log line or a reply. */
static void put_shown(lv_buf *b, const char *s, size_t len, size_t max)
{
    for (size_t i = 0; i < len && i < max; i++)
        lv_buf_putc(b, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
    if (len > max)
        lv_buf_puts(b, "...");
}

/* What a JSON value is, for a message: "a string", "null", "true", ... */
static const char *json_kind(const lv_json *v)
{
    switch (v->type) {
    case LV_JSON_NULL: return "null";
    case LV_JSON_BOOL: return v->boolean ? "true" : "false";
    case LV_JSON_NUMBER: return "a number";
    case LV_JSON_STRING: return "a string";
    case LV_JSON_ARRAY: return "an array";
    case LV_JSON_OBJECT: return "an object";
    case LV_JSON_RAW: return "a value nested too deep to be read";
    }
    return "a value";
}

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
    lv_status loaded = lv_crypto_load(err);
    if (loaded != LV_OK)
        return loaded;
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
    /* the entries that offer an RS256 key, with their positions in "keys" (from 1), to find a kid
     * given twice: a token names its key by kid alone, so two such keys with one kid are ambiguous
     * (keys of another kty may share a kid, RFC 7517 section 4.5: levee never uses them) */
    const lv_json **seen = NULL;
    size_t *seen_at = NULL, nseen = 0, at = 0;
    lv_status st = LV_OK;
    for (const lv_json *k = keys->child; k && st == LV_OK; k = k->next) {
        at++;
        const lv_json *kty = lv_json_get(k, "kty"), *kid = lv_json_get(k, "kid");
        const lv_json *use = lv_json_get(k, "use"), *alg = lv_json_get(k, "alg");
        if (!lv_json_str_is(kty, "RSA") || !kid || kid->type != LV_JSON_STRING)
            continue;
        if ((use && !lv_json_str_is(use, "sig")) || (alg && !lv_json_str_is(alg, "RS256")))
            continue;
        for (size_t i = 0; i < nseen; i++) {
            if (seen[i]->len == kid->len && memcmp(seen[i]->str, kid->str, kid->len) == 0) {
                lv_buf shown;
                lv_buf_init(&shown);
                put_shown(&shown, kid->str, kid->len, 60);
                lv_buf_putc(&shown, '\0');
                st = lv_fail(err, LV_EINVAL, "%s has two keys with kid \"%s\" (entries %zu and %zu of \"keys\"): "
                             "a token names its key by kid, so each kid must be unique; remove or rename one",
                             name, shown.data, seen_at[i], at);
                lv_buf_free(&shown);
                break;
            }
        }
        if (st != LV_OK)
            break;
        seen = lv_xrealloc(seen, (nseen + 1) * sizeof *seen);
        seen_at = lv_xrealloc(seen_at, (nseen + 1) * sizeof *seen_at);
        seen[nseen] = kid;
        seen_at[nseen++] = at;
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
    free(seen);
    free(seen_at);
    if (st != LV_OK) {
        lv_arena_free(&a);
        lv_jwks_free(set);
        return st;
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

/* How a JSON number's text compares with the NumericDates levee accepts (0 .. NUMERIC_DATE_MAX). */
typedef enum date_form { DATE_OK, DATE_NEGATIVE, DATE_TOO_LARGE, DATE_MALFORMED } date_form;

/* Reads the text of a JSON number (-?int(.frac)?([eE][+-]?exp)?) exactly, in decimal, without a
 * double: on DATE_OK, *whole is its integer part (0 .. NUMERIC_DATE_MAX) and *fraction whether it
 * has a nonzero fractional part. Any length of digits and any exponent are safe. */
static date_form numeric_date(const char *s, size_t len, int64_t *whole, bool *fraction)
{
    size_t i = 0;
    bool negative = i < len && s[i] == '-';
    if (negative)
        i++;
    size_t int_at = i;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t nint = i - int_at, frac_at = i, nfrac = 0;
    if (nint == 0)
        return DATE_MALFORMED;
    if (i < len && s[i] == '.') {
        frac_at = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        nfrac = i - frac_at;
        if (nfrac == 0)
            return DATE_MALFORMED;
    }
    int64_t exp10 = 0; /* kept within +-10^9: beyond that only the sign of the exponent matters */
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool minus = i < len && s[i] == '-';
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t exp_at = i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            if (exp10 < 1000000000)
                exp10 = exp10 * 10 + (s[i] - '0');
        if (i == exp_at)
            return DATE_MALFORMED;
        if (minus)
            exp10 = -exp10;
    }
    if (i != len)
        return DATE_MALFORMED;
    /* the digits, integer part then fraction, as one sequence; the decimal point comes after
     * `point` of them (point may be negative, or beyond the last digit) */
    size_t ndigits = nint + nfrac, first = 0;
#define DIGIT(k) ((k) < nint ? s[int_at + (k)] : (k) < ndigits ? s[frac_at + (k) - nint] : '0')
    while (first < ndigits && DIGIT(first) == '0')
        first++;
    *whole = 0;
    *fraction = false;
    if (first == ndigits)
        return DATE_OK; /* zero, whatever its sign and exponent */
    if (negative)
        return DATE_NEGATIVE;
    int64_t point = (int64_t)nint + exp10 - (int64_t)first; /* integer digits from the first nonzero one */
    if (point > 12) /* NUMERIC_DATE_MAX has 12 digits */
        return DATE_TOO_LARGE;
    size_t k = first;
    for (; point > 0; point--, k++)
        *whole = *whole * 10 + (DIGIT(k) - '0');
    for (; k < ndigits && !*fraction; k++)
        *fraction = DIGIT(k) != '0';
#undef DIGIT
    if (*whole > NUMERIC_DATE_MAX || (*whole == NUMERIC_DATE_MAX && *fraction))
        return DATE_TOO_LARGE;
    return DATE_OK;
}

/* Reads the NumericDate claim `name` when the claims have it (*present): a JSON number of seconds
 * since 1970, perhaps with a fraction (RFC 7519 section 2), as its integer part and whether it has a
 * fraction. Refuses, with a sentence naming the claim, any other JSON value and any number outside
 * 0 .. NUMERIC_DATE_MAX. */
static lv_status claim_date(const lv_json *claims, const char *name, bool *present, int64_t *whole, bool *fraction,
                            lv_error *err)
{
    const lv_json *v = lv_json_get(claims, name);
    *present = v != NULL;
    *whole = 0;
    *fraction = false;
    if (!v)
        return LV_OK;
    static const char must[] = "it must be a number of seconds since 1970, from 0 to 253402300799 (the end of year "
                               "9999), as RFC 7519 defines a NumericDate";
    lv_buf shown;
    lv_buf_init(&shown);
    lv_status st = LV_OK;
    if (v->type != LV_JSON_NUMBER) {
        if (v->type == LV_JSON_STRING) {
            lv_buf_puts(&shown, " (\"");
            put_shown(&shown, v->str, v->len, 40);
            lv_buf_puts(&shown, "\")");
        }
        lv_buf_putc(&shown, '\0');
        st = lv_fail(err, LV_EINVAL, "the JWT's %s claim is %s%s; %s", name, json_kind(v), shown.data, must);
    } else {
        date_form form = numeric_date(v->str, v->len, whole, fraction);
        put_shown(&shown, v->str, v->len, 40);
        lv_buf_putc(&shown, '\0');
        if (form == DATE_NEGATIVE)
            st = lv_fail(err, LV_EINVAL, "the JWT's %s claim %s is before 1970; %s", name, shown.data, must);
        else if (form == DATE_TOO_LARGE)
            st = lv_fail(err, LV_EINVAL, "the JWT's %s claim %s is after the year 9999; %s", name, shown.data, must);
        else if (form == DATE_MALFORMED)
            st = lv_fail(err, LV_EINVAL, "the JWT's %s claim %s is not a JSON number; %s", name, shown.data, must);
    }
    lv_buf_free(&shown);
    return st;
}

/* The header parameters that JWS itself defines (RFC 7515 section 4.1; RFC 7518 defines no more for
 * JWS): crit must not list them. */
static const char *const jws_params[] = { "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit" };

/* RFC 7515 section 4.1.11: a recipient must refuse a JWS whose crit lists an extension it does not
 * understand. levee understands none, so a well-formed crit is refused too, naming what it lists. */
static lv_status check_crit(const lv_json *header, lv_error *err)
{
    const lv_json *crit = lv_json_get(header, "crit");
    if (!crit)
        return LV_OK;
    if (crit->type != LV_JSON_ARRAY)
        return lv_fail(err, LV_EINVAL, "the JWT's header has a crit member that is %s, not a list of header "
                       "parameter names (RFC 7515 section 4.1.11); the token is refused", json_kind(crit));
    if (!crit->child)
        return lv_fail(err, LV_EINVAL, "the JWT's header has an empty crit list, which RFC 7515 section 4.1.11 "
                       "forbids; the sender must leave crit out when no extension is critical");
    for (const lv_json *e = crit->child; e; e = e->next)
        if (e->type != LV_JSON_STRING)
            return lv_fail(err, LV_EINVAL, "the JWT's crit list holds %s, not a header parameter name (RFC 7515 "
                           "section 4.1.11); the token is refused", json_kind(e));
    lv_buf names;
    lv_buf_init(&names);
    lv_status st = LV_OK;
    for (const lv_json *e = crit->child; e && st == LV_OK; e = e->next) {
        for (size_t i = 0; i < sizeof jws_params / sizeof jws_params[0]; i++) {
            if (lv_json_str_is(e, jws_params[i])) {
                st = lv_fail(err, LV_EINVAL, "the JWT's crit list names \"%s\", a header parameter of JWS itself, "
                             "which RFC 7515 section 4.1.11 forbids; the token is refused", jws_params[i]);
                break;
            }
        }
    }
    if (st == LV_OK) {
        size_t count = 0;
        for (const lv_json *e = crit->child; e; e = e->next, count++) {
            if (count == 4) {
                lv_buf_printf(&names, " and %zu more", crit->len - count);
                break;
            }
            lv_buf_puts(&names, count ? ", \"" : "\"");
            put_shown(&names, e->str, e->len, 40);
            lv_buf_putc(&names, '"');
        }
        lv_buf_putc(&names, '\0');
        st = lv_fail(err, LV_EINVAL, "the JWT's header marks the extension%s %s as critical (crit), and levee "
                     "supports no JWS extension, so it must refuse the token (RFC 7515 section 4.1.11); the "
                     "sender must sign without %s", crit->len > 1 ? "s" : "", names.data,
                     crit->len > 1 ? "them" : "it");
    }
    lv_buf_free(&names);
    return st;
}

lv_status lv_jwt_verify(const lv_jwks *keys, const char *token, size_t len, const lv_jwt_policy *policy,
                        lv_buf *payload, lv_error *err)
{
    lv_status loaded = lv_crypto_load(err);
    if (loaded != LV_OK)
        return loaded;
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
    if ((st = check_crit(h, err)) != LV_OK)
        goto done;
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
    /* exp: refused once now is past it (a fraction of a second does not extend it: its integer part);
     * nbf: refused while now is before it (a fraction counts as a whole second more); iat is not
     * compared with now, but a malformed one is refused like the others */
    bool has_exp, has_nbf, has_iat, exp_frac, nbf_frac, iat_frac;
    int64_t exp_s, nbf_s, iat_s;
    if ((st = claim_date(c, "exp", &has_exp, &exp_s, &exp_frac, err)) != LV_OK ||
        (st = claim_date(c, "nbf", &has_nbf, &nbf_s, &nbf_frac, err)) != LV_OK ||
        (st = claim_date(c, "iat", &has_iat, &iat_s, &iat_frac, err)) != LV_OK)
        goto done;
    if (nbf_frac)
        nbf_s++; /* at most NUMERIC_DATE_MAX: a fraction of the last second is out of range */
    if (has_exp && policy->now > exp_s + policy->leeway) {
        st = lv_fail(err, LV_EINVAL, "the JWT expired %lld seconds ago", (long long)(policy->now - exp_s));
        goto done;
    }
    if (has_nbf && policy->now + policy->leeway < nbf_s) {
        st = lv_fail(err, LV_EINVAL, "the JWT is not valid for another %lld seconds", (long long)(nbf_s - policy->now));
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
