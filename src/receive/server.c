/* server.c: `levee serve` on libmicrohttpd (an epoll loop on two event threads; a request waiting for
 * its journal commit or a query is suspended, so it holds up no one). POST /events: authenticate, recognise the form from
 * the body (canvas or Caliper JSON, a signed JWT, NDJSON), validate, journal durably (group commit),
 * answer. Everything else reads: the JSON API from a pool of read-only store connections, the live
 * tail, metrics, health, and the embedded web page. */
#include "levee/server.h"

#include "levee/api.h"
#include "levee/applier.h"
#include "levee/crypto.h"
#include "levee/id.h"
#include "levee/journal.h"
#include "levee/jwt.h"
#include "levee/metrics.h"
#include "levee/stream.h"
#include "levee/tail.h"
#include "levee/web.h"
#include "mhd_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READERS 8
#define QUERY_WORKERS 3
#define EVENT_THREADS 2
#define TAIL_KEEPALIVE_MS 15000
#define SINGLE_BODY_LIMIT (LV_EVENT_MAX_BYTES + 4096)
/* Acknowledged but not yet applied: beyond this, new events get 503 until the store catches up. */
#define BACKLOG_LIMIT ((uint64_t)1 << 30)

void lv_server_config_init(lv_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db = "levee.db";
    cfg->listen = "127.0.0.1:8080";
    cfg->issuer = "https://live-events.canvas.instructure.com";
    cfg->log_format = LV_LOG_LOGFMT;
    cfg->access_log = true;
    cfg->max_batch_bytes = (size_t)64 << 20;
}

typedef struct server {
    const lv_server_config *cfg;
    struct MHD_Daemon *daemon;
    lv_store *writer;
    lv_journal *journal;
    lv_applier *applier;
    uint64_t recovery_target; /* journal end when the server started: ready once applied */
    pthread_mutex_t pool_lock;
    pthread_cond_t pool_free;
    lv_store *idle[READERS];
    size_t n_idle, n_open;
    pthread_rwlock_t jwks_lock;
    lv_jwks *jwks;
    lv_metrics *metrics;
    lv_tail *tail;
    _Atomic uint64_t connections;
    atomic_bool stopping;
    /* Suspended connections, resumed when what they wait for is done: a journal commit, a query
     * answered by a worker, a new event for a live tail. Each list has its own lock, taken around
     * both suspending and resuming so that a resume can never come before its suspend. */
    pthread_mutex_t wait_lock;
    struct commit_wait *commits;
    size_t n_commits, cap_commits;
    struct MHD_Connection **tails;
    size_t n_tails, cap_tails;
    pthread_mutex_t job_lock;
    pthread_cond_t job_ready;
    struct query_job *jobs;
    size_t n_jobs, cap_jobs;
    size_t busy_jobs;
    pthread_t workers[QUERY_WORKERS];
    size_t n_workers;
} server;

typedef struct commit_wait {
    struct MHD_Connection *c;
    uint64_t ticket;
} commit_wait;

typedef struct query_job {
    struct MHD_Connection *c;
    struct request *r;
} query_job;

typedef struct pending_tail {
    char *event;
    size_t event_len;
    uint64_t course;
    char *json;
    size_t json_len;
} pending_tail;

enum phase { P_NEW, P_COMMIT, P_QUERY };

typedef struct request {
    enum phase phase;
    struct timespec start;
    lv_buf body;
    bool too_big;
    bool is_events;
    const char *route;
    int status;
    char remote[64];
    char method[8];
    char *path;
    unsigned accepted, rejected;
    /* an answer computed before the connection was suspended, sent when it is resumed */
    int deferred_status;
    const char *deferred_type;
    lv_buf deferred;
    uint64_t ticket;
    pending_tail *published;
    size_t n_published;
    /* the query string, copied for a worker thread */
    char **args;
    size_t n_args;
} request;

static void wake_tails(server *s);

static double since(const struct timespec *t0)
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

static bool sockaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a);
    }
    return false;
}

static lv_status resolve_listen(const char *listen, struct sockaddr_storage *out, socklen_t *len, lv_error *err)
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
    return resolve_listen(listen, &sa, &len, NULL) == LV_OK && sockaddr_is_loopback((struct sockaddr *)&sa);
}

/* ---- responses ---- */

static enum MHD_Result reply(struct MHD_Connection *c, request *r, int status, const char *type, lv_buf *body)
{
    size_t len;
    char *data = lv_buf_detach(body, &len);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    lv_mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 405)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->is_events ? "POST" : "GET");
    if (status == 401)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (status == 503)
        lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
    enum MHD_Result ret = lv_mhd.MHD_queue_response(c, (unsigned)status, resp);
    lv_mhd.MHD_destroy_response(resp);
    r->status = status;
    return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, request *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result reply_error(struct MHD_Connection *c, request *r, int status, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lv_buf body;
    lv_buf_init(&body);
    lv_buf_puts(&body, "{\"error\":");
    lv_json_quote(&body, msg, strlen(msg));
    lv_buf_puts(&body, "}\n");
    return reply(c, r, status, "application/json", &body);
}

/* ---- authentication ---- */

static bool token_matches(const char *given, const char *want)
{
    size_t n = strlen(want);
    return given && strlen(given) == n && lv_crypto()->CRYPTO_memcmp(given, want, n) == 0;
}

/* A token from ?token= or "Authorization: Bearer ..." equal to want (or no token configured). */
static bool authorized(struct MHD_Connection *c, const char *want)
{
    if (!want)
        return true;
    const char *q = lv_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (token_matches(q, want))
        return true;
    const char *auth = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return auth && strncmp(auth, "Bearer ", 7) == 0 && token_matches(auth + 7, want);
}

/* ---- POST /events ---- */

static void rejected_json(lv_jw *w, unsigned doc, long line, const lv_event *ev)
{
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "document", doc);
    lv_jw_kv_int(w, "line", line);
    lv_jw_key(w, "event");
    if (ev->name)
        lv_jw_str(w, ev->name, ev->name_len);
    else
        lv_jw_null(w);
    lv_jw_key(w, "errors");
    lv_jw_arr_open(w);
    for (const lv_diag *d = ev->diags; d; d = d->next) {
        if (d->severity != LV_ERROR)
            continue;
        lv_jw_obj_open(w);
        lv_jw_kv_cstr(w, "path", d->path);
        lv_jw_kv_cstr(w, "message", d->message);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
}

static void free_published(request *r)
{
    for (size_t i = 0; i < r->n_published; i++) {
        free(r->published[i].event);
        free(r->published[i].json);
    }
    free(r->published);
    r->published = NULL;
    r->n_published = 0;
}

/* The events are durable (or cannot be): publish them to live tails and answer. */
static enum MHD_Result finish_commit(server *s, struct MHD_Connection *c, request *r)
{
    lv_error err;
    if (lv_journal_durable(s->journal) < r->ticket) {
        lv_journal_broken(s->journal, &err);
        lv_log(LV_LOG_ERROR, "cannot journal events", "reason", err.msg, NULL);
        free_published(r);
        return reply_error(c, r, 503, "levee cannot store events right now: %s", err.msg);
    }
    for (size_t i = 0; i < r->n_published; i++)
        lv_tail_publish(s->tail, r->published[i].event, r->published[i].event_len, r->published[i].course,
                        r->published[i].json, r->published[i].json_len);
    if (r->n_published)
        wake_tails(s);
    free_published(r);
    return reply(c, r, r->deferred_status, r->deferred_type, &r->deferred);
}

static enum MHD_Result refuse(server *s, struct MHD_Connection *c, request *r, const char *why)
{
    lv_metrics_count(s->metrics, LV_M_REFUSED, NULL, 0, LV_FORMAT_CANVAS, 1);
    lv_log(LV_LOG_WARN, "refused", "remote", r->remote, "reason", why, NULL);
    return reply_error(c, r, 401, "%s", why);
}

static enum MHD_Result ingest(server *s, struct MHD_Connection *c, request *r)
{
    if (!authorized(c, s->cfg->ingest_token))
        return refuse(s, c, r, "this server needs an ingest token: ?token=... or Authorization: Bearer ...");
    uint64_t backlog = lv_journal_backlog(s->journal, lv_applier_offset(s->applier));
    if (backlog > BACKLOG_LIMIT)
        return reply_error(c, r, 503, "levee is behind storing events (%llu MB waiting); try again shortly",
                           (unsigned long long)(backlog >> 20));
    if (r->too_big)
        return reply_error(c, r, 413, "the request is larger than levee accepts (an event at most %d bytes; "
                                      "an NDJSON batch at most %zu bytes)", LV_EVENT_MAX_BYTES, s->cfg->max_batch_bytes);
    const char *body = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')) {
        body++;
        len--;
    }
    if (len == 0)
        return reply_error(c, r, 400, "the request has no body; post an event");
    lv_buf claims;
    lv_buf_init(&claims);
    bool signed_event = lv_jwt_looks_like(body, len);
    if (signed_event) {
        lv_error err;
        pthread_rwlock_rdlock(&s->jwks_lock);
        lv_status st;
        if (!s->jwks) {
            st = lv_fail(&err, LV_EINVAL, "this event is signed (a JWT) but levee has no JWKS to verify it; "
                                          "start levee serve with --jwks FILE");
        } else {
            lv_jwt_policy policy = { .issuer = s->cfg->issuer, .now = lv_now_ms() / 1000, .leeway = 60 };
            st = lv_jwt_verify(s->jwks, body, len, &policy, &claims, &err);
        }
        pthread_rwlock_unlock(&s->jwks_lock);
        if (st != LV_OK) {
            lv_buf_free(&claims);
            return refuse(s, c, r, err.msg);
        }
        body = claims.data;
        len = claims.len;
    } else if (s->cfg->require_signature) {
        return refuse(s, c, r, "this server accepts only signed events (JWTs); the request is not signed");
    } else if (body[0] != '{' && body[0] != '[') {
        return reply_error(c, r, 415, "unsupported content: levee accepts a canvas event or Caliper envelope "
                                      "(JSON), a signed event (JWT) or NDJSON");
    }
    if (!signed_event && r->body.len > SINGLE_BODY_LIMIT) {
        const char *type = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncmp(type, "application/x-ndjson", 20) != 0)
            return reply_error(c, r, 413, "the event is %zu bytes; Canvas and levee refuse events over %d bytes "
                                          "(send batches as application/x-ndjson)", r->body.len, LV_EVENT_MAX_BYTES);
    }

    /* Frame and validate every document; journal them all (rejected ones become dead letters). */
    lv_reader *reader = lv_reader_open_memory(body, len, "request");
    lv_arena arena;
    lv_arena_init(&arena, 1 << 16);
    lv_buf out, record, source;
    lv_buf_init(&out);
    lv_buf_init(&record);
    lv_buf_init(&source);
    lv_buf_printf(&source, "http %s", r->remote);
    lv_jw *w = lv_jw_new(&out, false);
    bool tail = lv_tail_listened(s->tail);
    pending_tail *published = NULL;
    size_t n_published = 0, cap_published = 0;
    lv_jw_obj_open(w);
    lv_jw_key(w, "rejected");
    lv_jw_arr_open(w);
    uint64_t ticket = 0;
    unsigned docs = 0;
    bool oversized = false;
    lv_chunk chunk;
    lv_doc doc;
    lv_error err;
    while (lv_stream_next(reader, &arena, NULL, &chunk, &doc, &err) == LV_OK) {
        docs++;
        lv_buf_reset(&record);
        if (chunk.too_big) {
            char size[32];
            snprintf(size, sizeof size, "%zu", chunk.len);
            oversized = true;
            lv_journal_doc_encode(&record, source.data, docs, size, strlen(size));
            ticket = lv_journal_append(s->journal, LV_JOURNAL_OVERSIZED, record.data, record.len);
        } else {
            lv_journal_doc_encode(&record, source.data, docs, chunk.text, chunk.len);
            ticket = lv_journal_append(s->journal, LV_JOURNAL_DOCUMENT, record.data, record.len);
        }
        for (size_t i = 0; i < doc.n_events; i++) {
            const lv_event *ev = &doc.events[i];
            if (ev->is_entity && !ev->rejected)
                continue;
            if (ev->rejected) {
                r->rejected++;
                lv_metrics_count(s->metrics, LV_M_REJECTED, ev->name, ev->name_len, ev->format, 1);
                rejected_json(w, docs, chunk.line, ev);
                continue;
            }
            r->accepted++;
            lv_metrics_count(s->metrics, LV_M_RECEIVED, ev->name, ev->name_len, ev->format, 1);
            if (tail) {
                lv_buf rec;
                lv_buf_init(&rec);
                lv_jw *rw = lv_jw_new(&rec, false);
                lv_record_write(rw, ev);
                lv_jw_free(rw);
                if (n_published == cap_published) {
                    cap_published = cap_published ? cap_published * 2 : 8;
                    published = lv_xrealloc(published, cap_published * sizeof *published);
                }
                pending_tail *p = &published[n_published++];
                p->event = lv_xstrndup(ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
                p->event_len = ev->name ? ev->name_len : 0;
                p->course = lv_event_course(ev);
                p->json = lv_buf_detach(&rec, &p->json_len);
            }
        }
        lv_arena_reset(&arena);
    }
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "accepted", r->accepted);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    lv_reader_close(reader);
    lv_arena_free(&arena);
    lv_buf_free(&record);
    lv_buf_free(&source);
    lv_buf_free(&claims);
    if (docs == 0) {
        lv_buf_free(&out);
        free(published);
        return reply_error(c, r, 400, "the request holds no JSON document");
    }
    /* Answer once the journal holds it durably: suspend until the flusher says so. */
    lv_buf_putc(&out, '\n');
    r->deferred = out;
    r->deferred_status = oversized ? 413 : r->rejected ? 400 : 200;
    r->deferred_type = "application/json";
    r->published = published;
    r->n_published = n_published;
    r->ticket = ticket;
    r->phase = P_COMMIT;
    pthread_mutex_lock(&s->wait_lock);
    if (lv_journal_durable(s->journal) < ticket && !lv_journal_broken(s->journal, NULL)) {
        lv_mhd.MHD_suspend_connection(c);
        if (s->n_commits == s->cap_commits) {
            s->cap_commits = s->cap_commits ? s->cap_commits * 2 : 64;
            s->commits = lv_xrealloc(s->commits, s->cap_commits * sizeof *s->commits);
        }
        s->commits[s->n_commits++] = (commit_wait){ c, ticket };
        pthread_mutex_unlock(&s->wait_lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&s->wait_lock);
    return finish_commit(s, c, r);
}

/* After the flusher's sync: resume every request whose events are now durable (or all of them if
 * the journal cannot be written: they answer 503). Called on the flusher's thread. */
static void on_durable(void *ctx, const lv_journal_commit *commit)
{
    server *s = ctx;
    uint64_t durable = commit->durable;
    if (commit->records)
        lv_metrics_commit(s->metrics, commit->seconds, commit->records);
    bool broken = lv_journal_broken(s->journal, NULL);
    pthread_mutex_lock(&s->wait_lock);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_commits; i++) {
        if (s->commits[i].ticket <= durable || broken)
            lv_mhd.MHD_resume_connection(s->commits[i].c);
        else
            s->commits[kept++] = s->commits[i];
    }
    s->n_commits = kept;
    pthread_mutex_unlock(&s->wait_lock);
}

/* ---- reading ---- */

static lv_store *take_reader(server *s, lv_error *err)
{
    pthread_mutex_lock(&s->pool_lock);
    for (;;) {
        if (s->n_idle) {
            lv_store *st = s->idle[--s->n_idle];
            pthread_mutex_unlock(&s->pool_lock);
            return st;
        }
        if (s->n_open < READERS) {
            s->n_open++;
            pthread_mutex_unlock(&s->pool_lock);
            lv_store *st;
            lv_store_options o = { .read_only = true };
            if (lv_store_open(s->cfg->db, &o, &st, err) != LV_OK) {
                pthread_mutex_lock(&s->pool_lock);
                s->n_open--;
                pthread_cond_signal(&s->pool_free);
                pthread_mutex_unlock(&s->pool_lock);
                return NULL;
            }
            return st;
        }
        pthread_cond_wait(&s->pool_free, &s->pool_lock);
    }
}

static void give_reader(server *s, lv_store *st)
{
    pthread_mutex_lock(&s->pool_lock);
    s->idle[s->n_idle++] = st;
    pthread_cond_signal(&s->pool_free);
    pthread_mutex_unlock(&s->pool_lock);
}

/* The query string as copied for a worker (MHD's own copy is only safe on its threads). */
static const char *param(void *ctx, const char *name)
{
    request *r = ctx;
    for (size_t i = 0; i + 1 < r->n_args; i += 2)
        if (strcmp(r->args[i], name) == 0)
            return r->args[i + 1];
    return NULL;
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    request *r = cls;
    if (r->n_args >= 64)
        return MHD_NO;
    r->args = lv_xrealloc(r->args, (r->n_args + 2) * sizeof *r->args);
    r->args[r->n_args++] = lv_xstrdup(key);
    r->args[r->n_args++] = lv_xstrdup(value ? value : "");
    return MHD_YES;
}

/* Queries can take milliseconds: a worker answers them while the connection is suspended, so the
 * event threads keep serving. */
static enum MHD_Result api(server *s, struct MHD_Connection *c, request *r)
{
    if (!authorized(c, s->cfg->api_token))
        return refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    lv_mhd.MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, copy_arg, r);
    r->phase = P_QUERY;
    pthread_mutex_lock(&s->job_lock);
    lv_mhd.MHD_suspend_connection(c);
    if (s->n_jobs == s->cap_jobs) {
        s->cap_jobs = s->cap_jobs ? s->cap_jobs * 2 : 16;
        s->jobs = lv_xrealloc(s->jobs, s->cap_jobs * sizeof *s->jobs);
    }
    s->jobs[s->n_jobs++] = (query_job){ c, r };
    pthread_cond_signal(&s->job_ready);
    pthread_mutex_unlock(&s->job_lock);
    return MHD_YES;
}

static void *query_worker(void *arg)
{
    server *s = arg;
    pthread_setname_np(pthread_self(), "levee-query");
    pthread_mutex_lock(&s->job_lock);
    for (;;) {
        while (s->n_jobs == 0 && !atomic_load(&s->stopping))
            pthread_cond_wait(&s->job_ready, &s->job_lock);
        if (s->n_jobs == 0)
            break;
        query_job job = s->jobs[0];
        memmove(s->jobs, s->jobs + 1, (s->n_jobs - 1) * sizeof *s->jobs);
        s->n_jobs--;
        s->busy_jobs++;
        pthread_mutex_unlock(&s->job_lock);
        request *r = job.r;
        lv_error err;
        lv_store *st = take_reader(s, &err);
        lv_buf_init(&r->deferred);
        if (!st) {
            r->deferred_status = 503;
            lv_buf_puts(&r->deferred, "{\"error\":");
            lv_json_quote(&r->deferred, err.msg, strlen(err.msg));
            lv_buf_puts(&r->deferred, "}");
        } else {
            r->deferred_status = lv_api_answer(st, r->path + 4, param, r, &r->deferred);
            give_reader(s, st);
        }
        lv_buf_putc(&r->deferred, '\n');
        r->deferred_type = "application/json";
        pthread_mutex_lock(&s->job_lock);
        s->busy_jobs--;
        lv_mhd.MHD_resume_connection(job.c); /* last: the request is the event thread's again */
    }
    pthread_mutex_unlock(&s->job_lock);
    return NULL;
}

/* ---- live tail ---- */

typedef struct tail_stream {
    server *s;
    struct MHD_Connection *c;
    uint64_t next;
    char *event;
    lv_tail_filter filter;
    lv_buf pending;
    size_t sent;
    struct timespec last_write;
} tail_stream;

/* Resumes every suspended live tail (new events, a keepalive due, or shutting down). */
static void wake_tails(server *s)
{
    pthread_mutex_lock(&s->wait_lock);
    for (size_t i = 0; i < s->n_tails; i++)
        lv_mhd.MHD_resume_connection(s->tails[i]);
    s->n_tails = 0;
    pthread_mutex_unlock(&s->wait_lock);
}

/* Never blocks an event thread: with nothing to send, the stream suspends until woken. */
static ssize_t tail_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    tail_stream *t = cls;
    server *s = t->s;
    if (t->sent >= t->pending.len) {
        lv_buf_reset(&t->pending);
        t->sent = 0;
        int n = lv_tail_read(s->tail, &t->next, &t->filter, &t->pending, 0);
        if (n < 0 || atomic_load(&s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (t->pending.len == 0 && since(&t->last_write) * 1000 >= TAIL_KEEPALIVE_MS)
            lv_buf_puts(&t->pending, ": keepalive\n\n");
        if (t->pending.len == 0) {
            pthread_mutex_lock(&s->wait_lock);
            /* an event published since the read above would be missed: look once more */
            if (lv_tail_next(s->tail) > t->next) {
                pthread_mutex_unlock(&s->wait_lock);
                return 0;
            }
            lv_mhd.MHD_suspend_connection(t->c);
            if (s->n_tails == s->cap_tails) {
                s->cap_tails = s->cap_tails ? s->cap_tails * 2 : 16;
                s->tails = lv_xrealloc(s->tails, s->cap_tails * sizeof *s->tails);
            }
            s->tails[s->n_tails++] = t->c;
            pthread_mutex_unlock(&s->wait_lock);
            return 0;
        }
    }
    size_t n = t->pending.len - t->sent;
    if (n > max)
        n = max;
    memcpy(buf, t->pending.data + t->sent, n);
    t->sent += n;
    clock_gettime(CLOCK_MONOTONIC, &t->last_write);
    return (ssize_t)n;
}

static void tail_free(void *cls)
{
    tail_stream *t = cls;
    lv_tail_unsubscribe(t->s->tail);
    lv_buf_free(&t->pending);
    free(t->event);
    free(t);
}

static enum MHD_Result tail(server *s, struct MHD_Connection *c, request *r)
{
    if (!authorized(c, s->cfg->api_token))
        return refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    tail_stream *t = lv_xcalloc(1, sizeof *t);
    t->s = s;
    t->c = c;
    lv_buf_init(&t->pending);
    clock_gettime(CLOCK_MONOTONIC, &t->last_write);
    const char *event = lv_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "event");
    const char *course = lv_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "course");
    const char *last = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    if (event && *event)
        t->filter.event = t->event = lv_xstrdup(event);
    if (course && *course) {
        lv_error err;
        if (lv_id_parse(course, strlen(course), &t->filter.course, &err) != LV_OK) {
            free(t->event);
            lv_buf_free(&t->pending);
            free(t);
            return reply_error(c, r, 400, "course: the id %s", err.msg);
        }
    }
    t->next = lv_tail_next(s->tail);
    if (last) {
        char *end;
        unsigned long long id = strtoull(last, &end, 10);
        if (!*end && id + 1 < t->next)
            t->next = id + 1;
    }
    /* a first comment so clients see the stream open at once */
    lv_buf_puts(&t->pending, ": levee live tail\nretry: 2000\n\n");
    lv_tail_subscribe(s->tail);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, tail_read, t, tail_free);
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = lv_mhd.MHD_queue_response(c, 200, resp);
    lv_mhd.MHD_destroy_response(resp);
    r->status = 200;
    return ret;
}

/* ---- health, metrics, page ---- */

static bool is_ready(server *s, char *why, size_t size)
{
    lv_error err;
    if (lv_applier_failed(s->applier, &err)) {
        snprintf(why, size, "applying events to the store failed: %.400s", err.msg);
        return false;
    }
    uint64_t applied = lv_applier_offset(s->applier);
    if (applied < s->recovery_target) {
        snprintf(why, size, "recovering: %llu journal bytes left to apply",
                 (unsigned long long)(s->recovery_target - applied));
        return false;
    }
    return true;
}

static enum MHD_Result health(server *s, struct MHD_Connection *c, request *r, bool readiness)
{
    lv_buf body;
    lv_buf_init(&body);
    char why[LV_ERROR_MAX];
    if (readiness && !is_ready(s, why, sizeof why)) {
        lv_buf_puts(&body, "{\"status\":\"not ready\",\"reason\":");
        lv_json_quote(&body, why, strlen(why));
        lv_buf_puts(&body, "}\n");
        return reply(c, r, 503, "application/json", &body);
    }
    lv_buf_puts(&body, "{\"status\":\"ok\"}\n");
    return reply(c, r, 200, "application/json", &body);
}

static enum MHD_Result metrics(server *s, struct MHD_Connection *c, request *r)
{
    if (!authorized(c, s->cfg->api_token))
        return refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    char why[LV_ERROR_MAX];
    lv_metrics_gauges g = {
        .journal_backlog_bytes = lv_journal_backlog(s->journal, lv_applier_offset(s->applier)),
        .tail_subscribers = lv_tail_subscribers(s->tail),
        .connections = atomic_load(&s->connections),
        .ready = is_ready(s, why, sizeof why),
    };
    lv_buf body;
    lv_buf_init(&body);
    lv_metrics_render(s->metrics, &g, &body);
    return reply(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", &body);
}

static enum MHD_Result page(struct MHD_Connection *c, request *r, const char *url)
{
    const lv_web_asset *a = lv_web_find(url);
    if (!a)
        return reply_error(c, r, 404, "there is nothing at %s", url);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    lv_mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    lv_mhd.MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:");
    enum MHD_Result ret = lv_mhd.MHD_queue_response(c, 200, resp);
    lv_mhd.MHD_destroy_response(resp);
    r->status = 200;
    return ret;
}

/* ---- dispatch ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    server *s = cls;
    request *r = *req_cls;
    if (!r) {
        r = lv_xcalloc(1, sizeof *r);
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        lv_buf_init(&r->body);
        const union MHD_ConnectionInfo *ci = lv_mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        if (sa && sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->remote, sizeof r->remote);
        else if (sa && sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->remote, sizeof r->remote);
        snprintf(r->method, sizeof r->method, "%s", method);
        r->path = lv_xstrndup(url, strlen(url) > 200 ? 200 : strlen(url));
        r->is_events = strcmp(url, "/events") == 0;
        r->route = r->is_events ? "events" : strcmp(url, "/api/tail") == 0 ? "tail"
                 : strncmp(url, "/api/", 5) == 0 ? "api" : "other";
        *req_cls = r;
        return MHD_YES;
    }
    if (r->phase == P_COMMIT)
        return finish_commit(s, c, r);
    if (r->phase == P_QUERY)
        return reply(c, r, r->deferred_status, r->deferred_type, &r->deferred);
    if (*upload_size) {
        size_t limit = r->is_events ? s->cfg->max_batch_bytes : 1u << 20;
        if (r->body.len + *upload_size > limit)
            r->too_big = true;
        else
            lv_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (r->is_events) {
        if (strcmp(method, "POST") != 0)
            return reply_error(c, r, 405, "POST events to /events");
        return ingest(s, c, r);
    }
    if (!get)
        return reply_error(c, r, 405, "%s takes GET", url);
    if (strcmp(url, "/healthz") == 0)
        return health(s, c, r, false);
    if (strcmp(url, "/readyz") == 0)
        return health(s, c, r, true);
    if (strcmp(url, "/metrics") == 0)
        return metrics(s, c, r);
    if (strcmp(url, "/api/tail") == 0)
        return tail(s, c, r);
    if (strncmp(url, "/api/", 5) == 0)
        return api(s, c, r);
    r->route = "web";
    return page(c, r, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    server *s = cls;
    request *r = *req_cls;
    if (!r)
        return;
    double secs = since(&r->start);
    lv_metrics_request(s->metrics, r->route, r->status ? r->status : 500, secs);
    if (s->cfg->access_log) {
        char status[8], ms[32], bytes[24], accepted[16], rejected[16];
        snprintf(status, sizeof status, "%d", r->status);
        snprintf(ms, sizeof ms, "%.3f", secs * 1000);
        snprintf(bytes, sizeof bytes, "%zu", r->body.len);
        snprintf(accepted, sizeof accepted, "%u", r->accepted);
        snprintf(rejected, sizeof rejected, "%u", r->rejected);
        lv_log(r->status >= 500 || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? LV_LOG_WARN : LV_LOG_INFO,
               "request", "method", r->method, "path", r->path, "status", status, "duration_ms", ms, "bytes", bytes,
               "remote", r->remote, "accepted", r->is_events ? accepted : NULL, "rejected",
               r->is_events ? rejected : NULL,
               "ended", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "early", NULL);
    }
    lv_buf_free(&r->body);
    lv_buf_free(&r->deferred);
    free_published(r);
    for (size_t i = 0; i < r->n_args; i++)
        free(r->args[i]);
    free(r->args);
    free(r->path);
    free(r);
    *req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    (void)socket_ctx;
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
    else
        atomic_fetch_sub(&s->connections, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    lv_log(LV_LOG_WARN, "http", "detail", msg, NULL);
}

/* ---- JWKS and signals ---- */

static lv_status load_jwks(server *s, lv_error *err)
{
    if (!s->cfg->jwks)
        return LV_OK;
    lv_jwks *keys;
    lv_status st = lv_jwks_load(s->cfg->jwks, &keys, err);
    if (st != LV_OK)
        return st;
    pthread_rwlock_wrlock(&s->jwks_lock);
    lv_jwks *old = s->jwks;
    s->jwks = keys;
    pthread_rwlock_unlock(&s->jwks_lock);
    lv_jwks_free(old);
    char n[16];
    snprintf(n, sizeof n, "%zu", lv_jwks_count(keys));
    lv_log(LV_LOG_INFO, "loaded the JWKS", "path", s->cfg->jwks, "keys", n, NULL);
    return LV_OK;
}

static void on_applied(void *ctx, const lv_batch *b, const lv_counts *counts, uint64_t offset)
{
    (void)counts;
    (void)offset;
    server *s = ctx;
    for (size_t d = 0; d < lv_batch_docs(b); d++) {
        const lv_doc *doc = lv_batch_doc_at(b, d);
        for (size_t e = 0; e < doc->n_events; e++) {
            const lv_event *ev = &doc->events[e];
            lv_outcome o = lv_batch_outcome(b, d, e);
            if (o == LV_OUT_STORED)
                lv_metrics_count(s->metrics, LV_M_STORED, ev->name, ev->name_len, ev->format, 1);
            else if (o == LV_OUT_DUPLICATE && !ev->rejected)
                lv_metrics_count(s->metrics, LV_M_DUPLICATE, ev->name, ev->name_len, ev->format, 1);
        }
    }
}

static char *journal_dir(const char *db)
{
    size_t n = strlen(db) + 16;
    char *dir = lv_xmalloc(n);
    snprintf(dir, n, "%s.journal", db);
    return dir;
}

int lv_server_run(const lv_server_config *cfg, lv_error *err)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    if (resolve_listen(cfg->listen, &addr, &addr_len, err) != LV_OK)
        return 2;
    if (!sockaddr_is_loopback((struct sockaddr *)&addr) && (!cfg->ingest_token || !cfg->api_token)) {
        lv_fail(err, LV_EINVAL, "refusing to listen on %s without tokens: anyone who can reach it could post "
                "events and read them. Set --ingest-token and --api-token (or LEVEE_INGEST_TOKEN and "
                "LEVEE_API_TOKEN), or listen on 127.0.0.1", cfg->listen);
        return 2;
    }
    if (lv_mhd_load(err) != LV_OK || lv_crypto_load(err) != LV_OK)
        return 2;
    /* Signals are taken by one thread with sigwait; block them everywhere else. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    lv_log_init(cfg->log_format);

    server s = { .cfg = cfg };
    pthread_mutex_init(&s.pool_lock, NULL);
    pthread_cond_init(&s.pool_free, NULL);
    pthread_rwlock_init(&s.jwks_lock, NULL);
    pthread_mutex_init(&s.wait_lock, NULL);
    pthread_mutex_init(&s.job_lock, NULL);
    pthread_cond_init(&s.job_ready, NULL);
    s.metrics = lv_metrics_new();
    s.tail = lv_tail_new(4096);
    int code = 0;
    char *jdir = journal_dir(cfg->db);
    uint64_t mark = 0;
    lv_status st = lv_store_open(cfg->db, NULL, &s.writer, err);
    if (st == LV_OK)
        st = lv_store_get_mark(s.writer, LV_JOURNAL_MARK, &mark, err);
    if (st == LV_OK)
        st = lv_journal_open(jdir, mark, &s.journal, err);
    if (st == LV_OK)
        st = load_jwks(&s, err);
    if (st == LV_OK) {
        s.recovery_target = lv_journal_durable(s.journal);
        st = lv_applier_start(s.writer, s.journal, on_applied, &s, &s.applier, err);
    }
    if (st == LV_OK)
        st = lv_journal_start_flusher(s.journal, on_durable, &s, err);
    for (size_t i = 0; st == LV_OK && i < QUERY_WORKERS; i++) {
        if (pthread_create(&s.workers[i], NULL, query_worker, &s) != 0)
            st = lv_fail(err, LV_EINTERNAL, "cannot start the query threads");
        else
            s.n_workers++;
    }
    if (st == LV_OK) {
        /* epoll with a thread per core: handlers never block; what waits is suspended */
        s.daemon = lv_mhd.MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                                        MHD_USE_ERROR_LOG,
                                    0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s,
                                    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
                                    (unsigned)EVENT_THREADS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
                                    MHD_OPTION_NOTIFY_CONNECTION, on_connection, &s, MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024, MHD_OPTION_END);
        if (!s.daemon)
            st = lv_fail(err, LV_EIO, "cannot listen on %s: %s", cfg->listen,
                         errno ? strerror(errno) : "the address is not available");
    }
    if (st != LV_OK) {
        code = 2;
    } else {
        const union MHD_DaemonInfo *di = lv_mhd.MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_LISTEN_FD);
        struct sockaddr_storage bound;
        socklen_t blen = sizeof bound;
        char host[64] = "?", port[16] = "?", url[128], backlog[32];
        if (di && getsockname(di->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
            getnameinfo((struct sockaddr *)&bound, blen, host, sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(url, sizeof url, strchr(host, ':') ? "http://[%s]:%s/" : "http://%s:%s/", host, port);
        snprintf(backlog, sizeof backlog, "%llu", (unsigned long long)(s.recovery_target - mark));
        lv_log(LV_LOG_INFO, "listening", "url", url, "db", cfg->db, "journal_backlog_bytes", backlog,
               "signatures", s.jwks ? (cfg->require_signature ? "required" : "verified") : "none", NULL);
        lv_log_flush();
        for (;;) {
            /* every few seconds, wake live tails so that idle ones send a keepalive */
            struct timespec tick = { 5, 0 };
            int sig = sigtimedwait(&sigs, NULL, &tick);
            if (sig < 0) {
                wake_tails(&s);
                continue;
            }
            if (sig == SIGHUP) {
                lv_error jerr;
                if (load_jwks(&s, &jerr) != LV_OK)
                    lv_log(LV_LOG_ERROR, "cannot reload the JWKS; keeping the keys loaded before", "reason", jerr.msg, NULL);
                else if (!cfg->jwks)
                    lv_log(LV_LOG_INFO, "SIGHUP: no --jwks to reload", NULL);
                continue;
            }
            lv_log(LV_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
            break;
        }
        /* Stop taking connections, end live streams, let requests in flight finish: nothing may be
         * left suspended when the daemon stops. */
        MHD_socket listen_fd = lv_mhd.MHD_quiesce_daemon(s.daemon);
        if (listen_fd != MHD_INVALID_SOCKET)
            close(listen_fd);
        atomic_store(&s.stopping, true);
        lv_tail_close(s.tail);
        wake_tails(&s);
        for (int i = 0; i < 3000; i++) {
            pthread_mutex_lock(&s.wait_lock);
            size_t waiting = s.n_commits + s.n_tails;
            pthread_mutex_unlock(&s.wait_lock);
            pthread_mutex_lock(&s.job_lock);
            waiting += s.n_jobs + s.busy_jobs;
            pthread_mutex_unlock(&s.job_lock);
            if (!waiting)
                break;
            wake_tails(&s);
            struct timespec pause = { 0, 10 * 1000000L };
            nanosleep(&pause, NULL);
        }
        lv_mhd.MHD_stop_daemon(s.daemon);
        s.daemon = NULL;
    }
    atomic_store(&s.stopping, true);
    pthread_mutex_lock(&s.job_lock);
    pthread_cond_broadcast(&s.job_ready);
    pthread_mutex_unlock(&s.job_lock);
    for (size_t i = 0; i < s.n_workers; i++)
        pthread_join(s.workers[i], NULL);
    if (s.daemon)
        lv_mhd.MHD_stop_daemon(s.daemon);
    if (s.applier) {
        lv_error aerr;
        if (lv_applier_stop(s.applier, &aerr) != LV_OK) {
            lv_log(LV_LOG_ERROR, "applying the journal failed; it is kept and will be applied at the next start",
                   "reason", aerr.msg, NULL);
            if (code == 0) {
                code = 1;
                if (err)
                    *err = aerr;
            }
        }
    }
    if (code == 0 && st == LV_OK)
        lv_log(LV_LOG_INFO, "stopped", NULL);
    for (size_t i = 0; i < s.n_idle; i++)
        lv_store_close(s.idle[i]);
    lv_store_close(s.writer);
    lv_journal_close(s.journal);
    lv_jwks_free(s.jwks);
    lv_tail_free(s.tail);
    lv_metrics_free(s.metrics);
    free(jdir);
    pthread_mutex_destroy(&s.pool_lock);
    pthread_cond_destroy(&s.pool_free);
    pthread_rwlock_destroy(&s.jwks_lock);
    pthread_mutex_destroy(&s.wait_lock);
    pthread_mutex_destroy(&s.job_lock);
    pthread_cond_destroy(&s.job_ready);
    free(s.commits);
    free(s.tails);
    free(s.jobs);
    lv_log_stop();
    return code;
}
