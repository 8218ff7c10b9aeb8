/* tls.c: HTTPS for `levee serve` with libmicrohttpd's own TLS (GnuTLS). It loads --tls-cert and
 * --tls-key (checking that they are PEM and that the key is the certificate's), hands them to
 * libmicrohttpd through a certificate callback, and on SIGHUP loads them again and swaps them in for
 * new handshakes without touching open connections (Let's Encrypt renewals).
 *
 * Keeping credentials alive: GnuTLS neither copies nor frees what the callback returns, and a
 * session may refer to it until it ends. Each loaded generation counts the connections that started
 * while it was current; a connection holds the generation current at its start, and its handshake
 * uses that one or a newer one. Generations are freed oldest first, once replaced and no longer
 * held: so the one a connection uses outlives the connection. */
#include "serve.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* TLS 1.3 and 1.2 only; ephemeral (EC)DH key exchange only (forward secrecy); AEAD ciphers only
 * (AES-GCM, ChaCha20-Poly1305: no CBC, no RC4, no 3DES); GnuTLS's SECURE192 and SECURE128 levels
 * (at least 128-bit security, no SHA-1 signatures); renegotiation only the safe kind (RFC 5746). */
#define TLS_PRIORITIES                                                                                       \
    "SECURE192:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:" \
    "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD:%SAFE_RENEGOTIATION"

#define TLS_MAX_CHAIN 16                   /* certificates in --tls-cert (the server's and its CAs) */
#define TLS_MAX_FILE ((size_t)1 << 20)     /* a certificate chain or a key is a few kilobytes */

/* The GnuTLS functions levee calls, from the library libmicrohttpd itself links (levee/dynlib.h). */
#define LV_GNUTLS_FUNCTIONS(X)                                                                              \
    X(gnutls_strerror) X(gnutls_pcert_list_import_x509_raw) X(gnutls_pcert_deinit) X(gnutls_privkey_init)   \
    X(gnutls_privkey_deinit) X(gnutls_privkey_import_x509_raw) X(gnutls_pubkey_init) X(gnutls_pubkey_deinit) \
    X(gnutls_pubkey_import_privkey) X(gnutls_pubkey_get_key_id) X(gnutls_x509_crt_init)                    \
    X(gnutls_x509_crt_deinit) X(gnutls_x509_crt_import) X(gnutls_x509_crt_get_serial)                      \
    X(gnutls_x509_crt_get_expiration_time)

typedef struct lv_gnutls_api {
    LV_GNUTLS_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_gnutls_api;

static lv_gnutls_api gt;

lv_status sv_gnutls_load(lv_error *err); /* loads gt (once) */
LV_DYNLIB_LOADER(sv_gnutls_load, gt, LV_GNUTLS_FUNCTIONS, "libgnutls.so.30", "libgnutls30")

/* One loaded certificate chain and its key. */
typedef struct creds {
    gnutls_pcert_st chain[TLS_MAX_CHAIN];
    unsigned n_chain;
    gnutls_privkey_t key;
    size_t held;         /* connections that started while this was current and are still open */
    struct creds *newer; /* the generation loaded after this one */
} creds;

struct sv_tls {
    const char *cert_path, *key_path;
    pthread_mutex_t lock;
    creds *oldest, *current; /* a list from oldest to current, by newer */
};

/* GnuTLS's certificate callback takes no pointer of the application's: one server per process. */
static sv_tls *the_tls;

static void creds_free(creds *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n_chain; i++)
        gt.gnutls_pcert_deinit(&c->chain[i]);
    if (c->key)
        gt.gnutls_privkey_deinit(c->key);
    free(c);
}

/* Whether the private key is the certificate's: the same public key (compared by its SHA-256 key id). */
static lv_status check_pair(sv_tls *t, creds *c, lv_error *err)
{
    gnutls_pubkey_t pub;
    int rc = gt.gnutls_pubkey_init(&pub);
    if (rc < 0)
        return lv_fail(err, LV_EINTERNAL, "GnuTLS cannot make a public key: %s", gt.gnutls_strerror(rc));
    unsigned char want[64], have[64];
    size_t nwant = sizeof want, nhave = sizeof have;
    rc = gt.gnutls_pubkey_import_privkey(pub, c->key, 0, 0);
    if (rc >= 0)
        rc = gt.gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, have, &nhave);
    gt.gnutls_pubkey_deinit(pub);
    if (rc < 0)
        return lv_fail(err, LV_EINVAL, "cannot read the public half of the TLS key %s: %s", t->key_path,
                       gt.gnutls_strerror(rc));
    rc = gt.gnutls_pubkey_get_key_id(c->chain[0].pubkey, GNUTLS_KEYID_USE_SHA256, want, &nwant);
    if (rc < 0)
        return lv_fail(err, LV_EINVAL, "cannot read the public key of the TLS certificate %s: %s", t->cert_path,
                       gt.gnutls_strerror(rc));
    if (nwant != nhave || memcmp(want, have, nwant) != 0)
        return lv_fail(err, LV_EINVAL, "the TLS key %s is not the key of the certificate %s (the first certificate "
                       "in the file); give the private key that was made with it (certbot: privkey.pem beside "
                       "fullchain.pem)", t->key_path, t->cert_path);
    return LV_OK;
}

/* The first certificate's serial number (hex) and expiry, for the log. */
static void describe(const creds *c, char *serial, size_t size, time_t *expires)
{
    snprintf(serial, size, "?");
    *expires = 0;
    gnutls_x509_crt_t crt;
    if (gt.gnutls_x509_crt_init(&crt) < 0)
        return;
    unsigned char raw[64];
    size_t n = sizeof raw;
    if (gt.gnutls_x509_crt_import(crt, &c->chain[0].cert, GNUTLS_X509_FMT_DER) >= 0) {
        if (gt.gnutls_x509_crt_get_serial(crt, raw, &n) >= 0 && n * 2 < size) {
            for (size_t i = 0; i < n; i++)
                snprintf(serial + 2 * i, size - 2 * i, "%02x", raw[i]);
        }
        *expires = gt.gnutls_x509_crt_get_expiration_time(crt);
    }
    gt.gnutls_x509_crt_deinit(crt);
}

/* Reads both files and checks them; on success *out is a new generation (held by nothing yet). */
static lv_status load(sv_tls *t, creds **out, lv_error *err)
{
    *out = NULL;
    lv_buf cert, key;
    lv_buf_init(&cert);
    lv_buf_init(&key);
    creds *c = lv_xcalloc(1, sizeof *c);
    lv_status st = lv_read_file(t->cert_path, "TLS certificate", TLS_MAX_FILE, &cert, err);
    if (st == LV_OK)
        st = lv_read_file(t->key_path, "TLS key", TLS_MAX_FILE, &key, err);
    if (st == LV_OK) {
        gnutls_datum_t d = { (unsigned char *)cert.data, (unsigned)cert.len };
        unsigned n = TLS_MAX_CHAIN;
        int rc = gt.gnutls_pcert_list_import_x509_raw(c->chain, &n, &d, GNUTLS_X509_FMT_PEM,
                                                      GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
        if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
            st = lv_fail(err, LV_EINVAL, "the TLS certificate %s holds more than %d certificates; give the "
                         "server's certificate and its intermediates only", t->cert_path, TLS_MAX_CHAIN);
        else if (rc < 0 || n == 0)
            st = lv_fail(err, LV_EINVAL, "the TLS certificate %s is not a PEM certificate (a \"-----BEGIN "
                         "CERTIFICATE-----\" block; certbot: fullchain.pem): %s", t->cert_path,
                         rc < 0 ? gt.gnutls_strerror(rc) : "none found");
        else
            c->n_chain = n;
    }
    if (st == LV_OK) {
        int rc = gt.gnutls_privkey_init(&c->key);
        if (rc < 0) {
            c->key = NULL;
            st = lv_fail(err, LV_EINTERNAL, "GnuTLS cannot make a private key: %s", gt.gnutls_strerror(rc));
        }
    }
    if (st == LV_OK) {
        gnutls_datum_t d = { (unsigned char *)key.data, (unsigned)key.len };
        int rc = gt.gnutls_privkey_import_x509_raw(c->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (rc < 0)
            st = lv_fail(err, LV_EINVAL, "the TLS key %s is not an unencrypted PEM private key (a \"-----BEGIN "
                         "PRIVATE KEY-----\" block; certbot: privkey.pem): %s", t->key_path, gt.gnutls_strerror(rc));
    }
    if (st == LV_OK)
        st = check_pair(t, c, err);
    /* key bytes do not linger in freed memory */
    if (key.data)
        memset(key.data, 0, key.len);
    lv_buf_free(&key);
    lv_buf_free(&cert);
    if (st != LV_OK) {
        creds_free(c);
        return st;
    }
    struct stat sb;
    if (stat(t->key_path, &sb) == 0 && (sb.st_mode & S_IROTH)) {
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", (unsigned)(sb.st_mode & 07777));
        lv_log(LV_LOG_WARN, "the TLS key can be read by every user of this machine; make it readable by levee's "
               "user only (chmod 600, or 640 with group ssl-cert)", "path", t->key_path, "mode", mode, NULL);
    }
    char serial[96], until[32] = "?", chain[16];
    time_t expires;
    describe(c, serial, sizeof serial, &expires);
    struct tm tm;
    if (expires > 0 && gmtime_r(&expires, &tm))
        strftime(until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(chain, sizeof chain, "%u", c->n_chain);
    lv_log(LV_LOG_INFO, "loaded the TLS certificate", "path", t->cert_path, "serial", serial, "not_after", until,
           "certificates", chain, NULL);
    if (expires > 0 && expires < time(NULL))
        lv_log(LV_LOG_WARN, "the TLS certificate has expired: clients will refuse it until it is renewed", "path",
               t->cert_path, "not_after", until, NULL);
    *out = c;
    return LV_OK;
}

/* Frees replaced generations that nothing holds, oldest first (lock held). */
static void prune(sv_tls *t)
{
    while (t->oldest != t->current && t->oldest->held == 0) {
        creds *c = t->oldest;
        t->oldest = c->newer;
        creds_free(c);
    }
}

/* gnutls_certificate_retrieve_function2: the current generation, for a handshake. */
static int retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    (void)session;
    (void)req_ca_rdn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    sv_tls *t = the_tls;
    if (!t)
        return -1;
    pthread_mutex_lock(&t->lock);
    creds *c = t->current;
    *pcert = c->chain;
    *pcert_length = c->n_chain;
    *privkey = c->key;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

lv_status sv_tls_open(const char *cert, const char *key, sv_tls **out, lv_error *err)
{
    *out = NULL;
    if (lv_mhd.MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return lv_fail(err, LV_EUNSUPPORTED, "this libmicrohttpd was built without TLS, so --tls-cert cannot be "
                       "served; install Debian's libmicrohttpd12 (built with GnuTLS), or serve plain HTTP behind a "
                       "reverse proxy (docs/operations.md)");
    if (lv_mhd.MHD_is_feature_supported(MHD_FEATURE_HTTPS_CERT_CALLBACK) != MHD_YES)
        return lv_fail(err, LV_EUNSUPPORTED, "this libmicrohttpd cannot take a TLS certificate callback (it needs "
                       "GnuTLS 3), which reloading the certificate on SIGHUP relies on; install Debian's "
                       "libmicrohttpd12, or serve plain HTTP behind a reverse proxy (docs/operations.md)");
    lv_status st = sv_gnutls_load(err);
    if (st != LV_OK)
        return st;
    if (the_tls)
        return lv_fail(err, LV_EINTERNAL, "levee serves TLS for one server per process");
    sv_tls *t = lv_xcalloc(1, sizeof *t);
    t->cert_path = cert;
    t->key_path = key;
    creds *c;
    st = load(t, &c, err);
    if (st != LV_OK) {
        free(t);
        return st;
    }
    pthread_mutex_init(&t->lock, NULL);
    t->oldest = t->current = c;
    the_tls = t;
    *out = t;
    return LV_OK;
}

lv_status sv_tls_reload(sv_tls *t, lv_error *err)
{
    creds *c;
    lv_status st = load(t, &c, err);
    if (st != LV_OK)
        return st;
    pthread_mutex_lock(&t->lock);
    t->current->newer = c;
    t->current = c;
    prune(t);
    pthread_mutex_unlock(&t->lock);
    return LV_OK;
}

void sv_tls_options(sv_tls *t, struct MHD_OptionItem items[3])
{
    (void)t;
    /* a function pointer travels in the option array's pointer slot, as libmicrohttpd reads it there */
    gnutls_certificate_retrieve_function2 *cb = retrieve;
    void *ptr;
    memcpy(&ptr, &cb, sizeof ptr);
    items[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, ptr };
    items[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES };
    items[2] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
}

void sv_tls_connection_started(sv_tls *t, void **socket_ctx)
{
    pthread_mutex_lock(&t->lock);
    t->current->held++;
    *socket_ctx = t->current;
    pthread_mutex_unlock(&t->lock);
}

void sv_tls_connection_closed(sv_tls *t, void **socket_ctx)
{
    creds *c = *socket_ctx;
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    c->held--;
    prune(t);
    pthread_mutex_unlock(&t->lock);
    *socket_ctx = NULL;
}

void sv_tls_free(sv_tls *t)
{
    if (!t)
        return;
    the_tls = NULL;
    for (creds *c = t->oldest, *next; c; c = next) {
        next = c->newer;
        creds_free(c);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}
