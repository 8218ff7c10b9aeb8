/* http.c: the HTTP side of `levee serve` that every route shares: listening addresses, answers with
 * their headers, tokens (compared in constant time, exactly as given), the checks made on a
 * request's headers before its body is read, the query string copied for worker threads, and the
 * embedded web page. */
#include "serve.h"

#include "levee/crypto.h"
#include "levee/text.h"
#include "levee/web.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

double sv_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- addresses ---- */

/* Splits "ADDR:PORT" / "[V6]:PORT" / ":PORT" into host and port. */
static bool split_listen(const char *listen, char *host, size_t host_size, char *port, size_t port_size)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1] || strlen(colon + 1) >= port_size)
        return false;
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen >= host_size)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    strcpy(port, colon + 1);
    for (const char *p = port; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

bool sv_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

lv_status sv_listen_resolve(const char *listen, struct sockaddr_storage *out, socklen_t *len, lv_error *err)
{
    char host[256], port[16];
    if (!split_listen(listen, host, sizeof host, port, sizeof port))
        return lv_fail(err, LV_EINVAL, "--listen %s is not ADDRESS:PORT (e.g. 127.0.0.1:8080)", listen);
    struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(*host ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return lv_fail(err, LV_EINVAL, "--listen %s: %s", listen, gai_strerror(rc));
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return LV_OK;
}

bool lv_listen_is_loopback(const char *listen)
{
    struct sockaddr_storage sa;
    socklen_t len;
    return sv_listen_resolve(listen, &sa, &len, NULL) == LV_OK && sv_is_loopback((struct sockaddr *)&sa);
}

/* ---- answers ---- */

void sv_common_headers(struct MHD_Response *resp)
{
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    lv_mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

enum MHD_Result sv_queue(struct MHD_Connection *c, request *r, int status, struct MHD_Response *resp)
{
    enum MHD_Result ret = lv_mhd.MHD_queue_response(c, (unsigned)status, resp);
    lv_mhd.MHD_destroy_response(resp);
    r->status = status;
    if (ret == MHD_YES && !r->answered) {
        r->answered = true;
        atomic_fetch_add(&r->server->answering, 1);
    }
    return ret;
}

enum MHD_Result sv_reply(struct MHD_Connection *c, request *r, int status, const char *type, lv_buf *body)
{
    size_t len;
    char *data = lv_buf_detach(body, &len);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    sv_common_headers(resp);
    if (status == 405)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->is_events ? "POST" : "GET");
    if (status == 401)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 503)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    if (r->phase == SV_NEW)
        /* answered from the headers, before any body was read: the connection cannot carry another
         * request (what follows on it would be read as one) */
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return sv_queue(c, r, status, resp);
}

enum MHD_Result sv_reply_error(struct MHD_Connection *c, request *r, int status, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lv_buf body, clean;
    lv_buf_init(&body);
    lv_buf_init(&clean);
    lv_utf8_clean(msg, strlen(msg), &clean); /* it may quote the request's path: valid UTF-8 only */
    lv_buf_puts(&body, "{\"error\":");
    lv_json_quote(&body, clean.data ? clean.data : "", clean.len);
    lv_buf_free(&clean);
    lv_buf_puts(&body, "}\n");
    return sv_reply(c, r, status, "application/json", &body);
}

/* ---- tokens ---- */

/* Equal in constant time whatever the lengths: both sides are hashed and the digests compared. */
static bool token_equal(const char *given, size_t given_len, const char *want)
{
    unsigned char a[32], b[32];
    unsigned int n = 0;
    const lv_crypto_api *k = lv_crypto();
    if (!k->EVP_Digest(given, given_len, a, &n, k->EVP_sha256(), NULL) ||
        !k->EVP_Digest(want, strlen(want), b, &n, k->EVP_sha256(), NULL))
        return false;
    return k->CRYPTO_memcmp(a, b, sizeof a) == 0;
}

typedef struct token_search {
    const char *want;
    bool found;
} token_search;

/* The query string's "token" parameter, by its exact name, with its whole value (a NUL inside the
 * value, from %00, makes it a different token). */
static enum MHD_Result find_token(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                  const char *value, size_t value_size)
{
    (void)kind;
    token_search *t = cls;
    if (key_size == 5 && memcmp(key, "token", 5) == 0 && value && token_equal(value, value_size, t->want))
        t->found = true;
    return MHD_YES;
}

size_t sv_content_length(struct MHD_Connection *c, bool *known)
{
    const char *v = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *known = v != NULL;
    return v ? (size_t)strtoull(v, NULL, 10) : 0;
}

bool sv_authorized(struct MHD_Connection *c, const char *want)
{
    if (!want)
        return true;
    token_search t = { want, false };
    lv_mhd.MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, find_token, &t);
    if (t.found)
        return true;
    const char *auth = NULL;
    size_t auth_len = 0;
    if (lv_mhd.MHD_lookup_connection_value_n(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
                                             strlen(MHD_HTTP_HEADER_AUTHORIZATION), &auth, &auth_len) != MHD_YES ||
        !auth)
        return false;
    return auth_len > 7 && memcmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, auth_len - 7, want);
}

enum MHD_Result sv_refuse(server *s, struct MHD_Connection *c, request *r, const char *why)
{
    lv_metrics_count(s->metrics, LV_M_REFUSED, NULL, 0, LV_FORMAT_CANVAS, 1);
    lv_log(LV_LOG_WARN, "refused", "remote", r->remote, "path", r->path, "reason", why, NULL);
    return sv_reply_error(c, r, 401, "%s", why);
}

/* ---- headers ---- */

typedef struct length_headers {
    unsigned count;
    bool differ, bad;
    unsigned long long first;
} length_headers;

static enum MHD_Result count_lengths(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
    (void)kind;
    length_headers *h = cls;
    if (key_size != 14 || strncasecmp(key, "Content-Length", 14) != 0)
        return MHD_YES;
    unsigned long long v = 0;
    bool ok = value && value_size > 0 && value_size <= 19;
    for (size_t i = 0; ok && i < value_size; i++) {
        if (value[i] < '0' || value[i] > '9')
            ok = false;
        else
            v = v * 10 + (unsigned)(value[i] - '0');
    }
    if (!ok)
        h->bad = true;
    else if (h->count && v != h->first)
        h->differ = true;
    if (h->count++ == 0)
        h->first = v;
    return MHD_YES;
}

int sv_check_headers(server *s, struct MHD_Connection *c, request *r, char *why, size_t size)
{
    length_headers h = { 0 };
    lv_mhd.MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_lengths, &h);
    if (h.bad || h.differ || h.count > 1) {
        /* a proxy in front may have taken the other length: the body's end is ambiguous (smuggling) */
        snprintf(why, size, h.bad ? "the request's Content-Length is not a number of bytes"
                                  : "the request has %u Content-Length headers; send one", h.count);
        return 400;
    }
    if (!r->is_events)
        return h.count && h.first > SV_API_BODY_LIMIT ? (snprintf(why, size, "this route takes no body"), 413) : 0;
    /* POST /events: refuse what would be refused anyway before reading a byte of the body */
    if (!sv_authorized(c, s->cfg->ingest_token)) {
        snprintf(why, size, "this server needs an ingest token: ?token=... or Authorization: Bearer ...");
        return 401;
    }
    if (h.count && h.first > s->cfg->max_batch_bytes) {
        snprintf(why, size, "the request is %llu bytes; levee accepts an event of at most %d bytes and an NDJSON "
                 "batch of at most %zu bytes", h.first, LV_EVENT_MAX_BYTES, s->cfg->max_batch_bytes);
        return 413;
    }
    if (h.count && h.first > SV_SINGLE_BODY_LIMIT) {
        const char *type = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncmp(type, "application/x-ndjson", 20) != 0) {
            snprintf(why, size, "the event is %llu bytes; Canvas and levee refuse events over %d bytes (send "
                     "batches as application/x-ndjson)", h.first, LV_EVENT_MAX_BYTES);
            return 413;
        }
    }
    if (h.count && atomic_load(&s->body_bytes) + h.first > SV_BODY_BUDGET) {
        snprintf(why, size, "levee is holding as many request bodies as it allows (%zu MB); try again shortly",
                 SV_BODY_BUDGET >> 20);
        return 503;
    }
    return 0;
}

/* ---- the query string, for worker threads ---- */

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                const char *value, size_t value_size)
{
    (void)kind;
    request *r = cls;
    if (r->n_args >= 64)
        return MHD_NO;
    r->args = lv_xrealloc(r->args, (r->n_args + 2) * sizeof *r->args);
    r->args[r->n_args++] = lv_xstrndup(key, key_size);
    /* a value holding a NUL (%00) is kept whole up to it: such a value is never a valid id or time */
    r->args[r->n_args++] = value ? lv_xstrndup(value, value_size) : lv_xstrdup("");
    return MHD_YES;
}

void sv_copy_args(struct MHD_Connection *c, request *r)
{
    lv_mhd.MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, copy_arg, r);
}

const char *sv_arg(void *ctx, const char *name)
{
    request *r = ctx;
    for (size_t i = 0; i + 1 < r->n_args; i += 2)
        if (strcmp(r->args[i], name) == 0)
            return r->args[i + 1];
    return NULL;
}

/* ---- the web page ---- */

enum MHD_Result sv_page(struct MHD_Connection *c, request *r, const char *url)
{
    const lv_web_asset *a = lv_web_find(url);
    if (!a)
        return sv_reply_error(c, r, 404, "there is nothing at %s", url);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    lv_mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    lv_mhd.MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    lv_mhd.MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    lv_mhd.MHD_add_response_header(resp, "Content-Security-Policy",
                                   "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self';"
                                   " img-src 'self' data:; frame-ancestors 'none'; base-uri 'none';"
                                   " form-action 'self'; object-src 'none'");
    return sv_queue(c, r, 200, resp);
}
