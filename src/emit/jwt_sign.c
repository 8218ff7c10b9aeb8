/* jwt_sign.c: RS256 JWTs and the JWKS that verifies them, for delivering signed events the way
 * Canvas's HTTPS subscriptions do. Keys are read with OpenSSL (libcrypto); levee only writes JWTs
 * here, it never parses them. */
#include "levee/sign.h"

#include "levee/base64.h"
#include "levee/crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lv_sign_key {
    EVP_PKEY *pkey;
    char *kid;
};

/* No passphrase prompt: an encrypted key is refused with a message instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

lv_status lv_sign_key_from_pem(lv_sign_key **out, const char *pem, size_t len, const char *kid,
                               const char *name, lv_error *err)
{
    *out = NULL;
    lv_status loaded = lv_crypto_load(err);
    if (loaded != LV_OK)
        return loaded;
    if (!kid || !*kid)
        return lv_fail(err, LV_EINVAL, "a signing key needs a key id (kid) for the JWT header");
    if (len > (1u << 20))
        return lv_fail(err, LV_ETOOBIG, "%s is %zu bytes, too large to be a PEM private key", name, len);
    BIO *bio = lv_crypto()->BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return lv_fail(err, LV_EINTERNAL, "OpenSSL could not allocate a buffer for %s", name);
    EVP_PKEY *pkey = lv_crypto()->PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    lv_crypto()->BIO_free(bio);
    if (!pkey) {
        unsigned long e = lv_crypto()->ERR_peek_last_error();
        lv_crypto()->ERR_clear_error();
        bool encrypted = memmem(pem, len, "ENCRYPTED", 9) != NULL;
        if (encrypted)
            return lv_fail(err, LV_EINVAL, "%s is an encrypted private key; give levee an unencrypted one "
                           "(openssl pkey -in %s -out plain.pem)", name, name);
        const char *why = e && lv_crypto()->ERR_reason_error_string(e) ? lv_crypto()->ERR_reason_error_string(e) : "nothing readable";
        return lv_fail(err, LV_EINVAL, "%s holds no PEM private key (OpenSSL: %s); make one with "
                       "'openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem'",
                       name, why);
    }
    if (lv_crypto()->EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        lv_crypto()->EVP_PKEY_free(pkey);
        return lv_fail(err, LV_EINVAL, "%s is not an RSA key; RS256, which Canvas signs with, needs one", name);
    }
    int bits = lv_crypto()->EVP_PKEY_get_bits(pkey);
    if (bits < 2048) {
        lv_crypto()->EVP_PKEY_free(pkey);
        return lv_fail(err, LV_EINVAL, "%s is a %d-bit RSA key; RS256 needs at least 2048 bits", name, bits);
    }
    lv_sign_key *k = lv_xcalloc(1, sizeof *k);
    k->pkey = pkey;
    k->kid = lv_xstrdup(kid);
    *out = k;
    return LV_OK;
}

lv_status lv_sign_key_load(lv_sign_key **out, const char *path, const char *kid, lv_error *err)
{
    *out = NULL;
    lv_buf b;
    lv_buf_init(&b);
    lv_status st = lv_read_file(path, "private key", 1u << 20, &b, err);
    if (st == LV_OK)
        st = lv_sign_key_from_pem(out, b.data, b.len, kid, path, err);
    lv_buf_free(&b);
    return st;
}

void lv_sign_key_free(lv_sign_key *key)
{
    if (!key)
        return;
    lv_crypto()->EVP_PKEY_free(key->pkey);
    free(key->kid);
    free(key);
}

lv_status lv_jwt_sign(const lv_sign_key *key, const char *json, size_t len, int64_t iat,
                      int64_t lifetime_s, lv_buf *out, lv_error *err)
{
    while (len && (json[len - 1] == '\n' || json[len - 1] == ' '))
        len--;
    if (len < 2 || json[0] != '{' || json[len - 1] != '}')
        return lv_fail(err, LV_EINVAL, "only a JSON object can be a JWT's claims");
    size_t start = out->len;
    lv_buf part;
    lv_buf_init(&part);
    lv_buf_puts(&part, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":");
    lv_json_quote(&part, key->kid, strlen(key->kid));
    lv_buf_putc(&part, '}');
    lv_base64url((const unsigned char *)part.data, part.len, out);
    lv_buf_putc(out, '.');
    lv_buf_reset(&part);
    /* The event's members, then the registered claims. */
    bool empty = true;
    for (size_t i = 1; i + 1 < len && empty; i++)
        empty = json[i] == ' ' || json[i] == '\n' || json[i] == '\t' || json[i] == '\r';
    lv_buf_append(&part, json, len - 1);
    lv_buf_printf(&part, "%s\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld}", empty ? "" : ",", LV_JWT_ISSUER,
                  (long long)iat, (long long)(iat + lifetime_s));
    lv_base64url((const unsigned char *)part.data, part.len, out);
    lv_buf_free(&part);

    size_t sig_len = (size_t)lv_crypto()->EVP_PKEY_get_size(key->pkey);
    unsigned char *sig = lv_xmalloc(sig_len + 1);
    EVP_MD_CTX *ctx = lv_crypto()->EVP_MD_CTX_new();
    bool ok = ctx && lv_crypto()->EVP_DigestSignInit(ctx, NULL, lv_crypto()->EVP_sha256(), NULL, key->pkey) == 1 &&
              lv_crypto()->EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)out->data + start, out->len - start) == 1;
    lv_crypto()->EVP_MD_CTX_free(ctx);
    if (!ok) {
        free(sig);
        lv_crypto()->ERR_clear_error();
        out->len = start;
        out->data[start] = '\0';
        return lv_fail(err, LV_EINTERNAL, "OpenSSL could not sign the JWT with key %s", key->kid);
    }
    lv_buf_putc(out, '.');
    lv_base64url(sig, sig_len, out);
    free(sig);
    return LV_OK;
}

static void put_bignum(lv_jw *w, const char *name, const EVP_PKEY *pkey, const char *param)
{
    BIGNUM *bn = NULL;
    lv_buf b64;
    lv_buf_init(&b64);
    if (lv_crypto()->EVP_PKEY_get_bn_param(pkey, param, &bn) == 1) {
        int n = (lv_crypto()->BN_num_bits(bn) + 7) / 8; /* BN_num_bytes, a macro over BN_num_bits */
        unsigned char *bytes = lv_xmalloc((size_t)n + 1);
        lv_crypto()->BN_bn2bin(bn, bytes);
        lv_base64url(bytes, (size_t)n, &b64);
        free(bytes);
        lv_crypto()->BN_free(bn);
    }
    lv_jw_kv_str(w, name, b64.data ? b64.data : "", b64.len);
    lv_buf_free(&b64);
}

void lv_jwks_write(const lv_sign_key *key, lv_jw *w)
{
    lv_jw_obj_open(w);
    lv_jw_key(w, "keys");
    lv_jw_arr_open(w);
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "kty", "RSA");
    lv_jw_kv_cstr(w, "kid", key->kid);
    lv_jw_kv_cstr(w, "use", "sig");
    lv_jw_kv_cstr(w, "alg", "RS256");
    put_bignum(w, "n", key->pkey, OSSL_PKEY_PARAM_RSA_N);
    put_bignum(w, "e", key->pkey, OSSL_PKEY_PARAM_RSA_E);
    lv_jw_obj_close(w);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
}
