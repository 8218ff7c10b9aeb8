/* server.c: `levee serve`, the composition root. It opens the store and its journal (taking the
 * journal's lock, so a second server on the same store is refused), starts the applier, the query
 * workers and libmicrohttpd (an epoll loop on two event threads), routes each request, and stops in
 * order on SIGTERM or SIGINT: stop accepting, refuse new work on open connections, answer every
 * suspended request, end live streams, stop the daemon (never with a connection suspended), apply
 * the rest of the journal, sync the store, exit 0. Health, readiness and metrics live here too. */
#include "serve.h"

#include "levee/deliver.h"
#include "levee/pull.h"

#include "levee/crypto.h"
#include "levee/engines.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EVENT_THREADS 2
#define TOKEN_MIN 8

void lv_server_config_init(lv_server_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->db = "levee.db";
    cfg->listen = "127.0.0.1:8080";
    cfg->issuer = "https://live-events.canvas.instructure.com";
    cfg->log_format = LV_LOG_LOGFMT;
    cfg->access_log = true;
    cfg->max_batch_bytes = (size_t)64 << 20;
    cfg->deliver = true;
    cfg->sqs_wait_seconds = 20;
    cfg->retain_every_ms = 3600000;
}

/* ---- suspending ---- */

bool sv_suspend(server *s, struct MHD_Connection *c, bool *flag, bool locked)
{
    if (!locked)
        pthread_mutex_lock(&s->suspend_lock);
    bool ok = !s->stopping;
    if (ok) {
        lv_mhd.MHD_suspend_connection(c);
        *flag = true;
        s->suspended++;
    }
    if (!locked)
        pthread_mutex_unlock(&s->suspend_lock);
    return ok;
}

void sv_resume(server *s, struct MHD_Connection *c, bool locked)
{
    if (!locked)
        pthread_mutex_lock(&s->suspend_lock);
    lv_mhd.MHD_resume_connection(c);
    if (!locked)
        pthread_mutex_unlock(&s->suspend_lock);
}

void sv_reentered(server *s, bool *flag)
{
    pthread_mutex_lock(&s->suspend_lock);
    if (*flag) {
        *flag = false;
        s->suspended--;
    }
    pthread_mutex_unlock(&s->suspend_lock);
}

static size_t suspended_now(server *s)
{
    pthread_mutex_lock(&s->suspend_lock);
    size_t n = s->suspended;
    pthread_mutex_unlock(&s->suspend_lock);
    return n;
}

/* ---- health ---- */

void sv_store_damaged(server *s, const char *msg)
{
    pthread_mutex_lock(&s->damage_lock);
    if (!s->damaged) {
        s->damaged = lv_xstrdup(msg);
        lv_log(LV_LOG_ERROR, "the store is damaged", "reason", msg, NULL);
    }
    pthread_mutex_unlock(&s->damage_lock);
}

const char *sv_not_ready(server *s, char *why, size_t size)
{
    pthread_mutex_lock(&s->damage_lock);
    if (s->damaged) {
        snprintf(why, size, "%.480s", s->damaged);
        pthread_mutex_unlock(&s->damage_lock);
        return why;
    }
    pthread_mutex_unlock(&s->damage_lock);
    if (s->committer) {
        lv_committer_health ch;
        lv_committer_health_get(s->committer, &ch);
        if (ch.broken) {
            snprintf(why, size, "storing events fails, retrying: %.400s", ch.reason);
            return why;
        }
        return NULL;
    }
    lv_applier_health ah;
    lv_applier_health_get(s->applier, &ah);
    if (ah.failed) {
        snprintf(why, size, "applying events to the store failed: %.400s", ah.reason);
        return why;
    }
    if (ah.retrying) {
        snprintf(why, size, "storing events is waiting to retry: %.400s", ah.reason);
        return why;
    }
    lv_journal_health jh;
    lv_journal_health_get(s->journal, &jh);
    if (jh.failing) {
        snprintf(why, size, "the journal cannot be written: %.400s", jh.reason);
        return why;
    }
    uint64_t applied = lv_applier_offset(s->applier);
    if (applied < s->recovery_target) {
        snprintf(why, size, "recovering: %llu journal bytes left to apply",
                 (unsigned long long)(s->recovery_target - applied));
        return why;
    }
    return NULL;
}

static enum MHD_Result health(server *s, struct MHD_Connection *c, request *r, bool readiness)
{
    lv_buf body;
    lv_buf_init(&body);
    char why[LV_ERROR_MAX];
    if (readiness && sv_not_ready(s, why, sizeof why)) {
        lv_buf_puts(&body, "{\"status\":\"not ready\",\"reason\":");
        lv_json_quote(&body, why, strlen(why));
        lv_buf_puts(&body, "}\n");
        return sv_reply(c, r, 503, "application/json", &body);
    }
    lv_buf_puts(&body, "{\"status\":\"ok\"}\n");
    return sv_reply(c, r, 200, "application/json", &body);
}

static void sqs_metrics(server *s, lv_buf *out);

/* Where an acknowledged event's time goes on its way to a subscriber (docs/operations.md#metrics):
 * one histogram per stage, and the steps that hold up the applier and the delivery thread. */
static void stage_metrics(server *s, lv_buf *out)
{
    const struct { const char *stage; lv_hist *h; } stages[] = {
        { "journal", s->journal ? lv_journal_waits(s->journal) : NULL },
        { "store", s->applier ? lv_applier_waits(s->applier) : NULL },
        { "queued", lv_deliverer_stage(s->deliverer, LV_DSTAGE_QUEUED) },
        { "request", lv_deliverer_stage(s->deliverer, LV_DSTAGE_REQUEST) },
        { "delivered", lv_deliverer_stage(s->deliverer, LV_DSTAGE_DELIVERED) },
    };
    lv_buf_puts(out, "# HELP levee_event_stage_seconds Time an event spends in each stage: journal (received to "
                     "acknowledged), store (acknowledged to stored), queued (acknowledged to its first delivery "
                     "request), request (a successful request), delivered (acknowledged to delivered).\n"
                     "# TYPE levee_event_stage_seconds histogram\n");
    char labels[64];
    for (size_t i = 0; i < sizeof stages / sizeof *stages; i++)
        if (stages[i].h) {
            snprintf(labels, sizeof labels, "stage=\"%s\"", stages[i].stage);
            lv_hist_render(stages[i].h, "levee_event_stage_seconds", labels, out);
        }
    if (s->applier) {
        lv_buf_puts(out, "# HELP levee_store_step_seconds Steps of storing journaled events: prepare, write, commit, "
                         "train (a compression dictionary), sync (the store, before journal segments go), release "
                         "(deleting them), the same two on the sync thread (sync_aside, release_aside), read (the "
                         "journal), begin (taking the write lock).\n# TYPE levee_store_step_seconds histogram\n");
        for (int i = 0; i < LV_APPLY_STEPS; i++) {
            snprintf(labels, sizeof labels, "step=\"%s\"", lv_apply_step_names[i]);
            lv_hist_render(lv_applier_step(s->applier, (lv_apply_step)i), "levee_store_step_seconds", labels, out);
        }
    }
    if (s->deliverer) {
        lv_buf_puts(out, "# HELP levee_delivery_step_seconds What holds up the delivery thread: read (events read from "
                         "the store), flush (outcomes written), reload (settings, leases and lags, every second).\n"
                         "# TYPE levee_delivery_step_seconds histogram\n");
        lv_hist_render(lv_deliverer_stage(s->deliverer, LV_DSTAGE_READ), "levee_delivery_step_seconds",
                       "step=\"read\"", out);
        lv_hist_render(lv_deliverer_stage(s->deliverer, LV_DSTAGE_FLUSH), "levee_delivery_step_seconds",
                       "step=\"flush\"", out);
        lv_hist_render(lv_deliverer_stage(s->deliverer, LV_DSTAGE_RELOAD), "levee_delivery_step_seconds",
                       "step=\"reload\"", out);
    }
}

static enum MHD_Result metrics(server *s, struct MHD_Connection *c, request *r)
{
    if (!sv_authorized(c, s->cfg->api_token))
        return sv_refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    char why[LV_ERROR_MAX];
    lv_journal_health jh = { 0 };
    lv_applier_health ah = { 0 };
    if (s->journal) {
        lv_journal_health_get(s->journal, &jh);
        lv_applier_health_get(s->applier, &ah);
    } else {
        /* PostgreSQL: the committer's failures are the journal's (writing), its probes' successes the recoveries */
        lv_committer_health ch;
        lv_committer_health_get(s->committer, &ch);
        jh.failing = ch.broken;
        jh.failures = ch.failures;
        jh.recoveries = ch.recoveries;
    }
    lv_metrics_gauges g = {
        .journal_backlog_bytes = s->journal ? lv_journal_backlog(s->journal, lv_applier_offset(s->applier)) : 0,
        .tail_subscribers = lv_tail_subscribers(s->tail),
        .connections = atomic_load(&s->connections),
        .ready = sv_not_ready(s, why, sizeof why) == NULL,
        .journal_failing = jh.failing,
        .journal_failures = jh.failures,
        .journal_recoveries = jh.recoveries,
        .journal_damaged_bytes = jh.damaged_bytes,
        .applier_retrying = ah.retrying,
        .applier_retries = ah.retries,
        .applier_recoveries = ah.recoveries,
        .query_timeouts = sv_queries_timeouts(s),
        .body_bytes = atomic_load(&s->body_bytes),
    };
    lv_buf body;
    lv_buf_init(&body);
    lv_metrics_render(s->metrics, &g, &body);
    lv_deliverer_metrics(s->deliverer, &body);
    stage_metrics(s, &body);
    sqs_metrics(s, &body);
    return sv_reply(c, r, 200, "text/plain; version=0.0.4; charset=utf-8", &body);
}

/* ---- requests ---- */

static request *new_request(server *s, struct MHD_Connection *c, const char *url, const char *method)
{
    request *r = lv_xcalloc(1, sizeof *r);
    r->server = s;
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    lv_buf_init(&r->body);
    lv_buf_init(&r->claims);
    lv_buf_init(&r->deferred);
    const union MHD_ConnectionInfo *ci = lv_mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->remote, sizeof r->remote);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->remote, sizeof r->remote);
    snprintf(r->method, sizeof r->method, "%s", method);
    size_t n = strlen(url);
    r->path = lv_xstrndup(url, n > 200 ? 200 : n);
    r->is_events = strcmp(url, "/events") == 0;
    r->route = r->is_events ? "events" : strcmp(url, "/api/tail") == 0 ? "tail"
             : strncmp(url, "/api/", 5) == 0 ? "api" : "other";
    return r;
}

/* Keeps a piece of the body, within the request's limit and the server's budget. */
static void take_body(server *s, request *r, const char *data, size_t n)
{
    size_t limit = r->is_events ? s->cfg->max_batch_bytes : SV_API_BODY_LIMIT;
    if (r->too_big || r->over_budget)
        return;
    if (r->body.len + n > limit) {
        r->too_big = true;
    } else if (atomic_fetch_add(&s->body_bytes, n) + n > SV_BODY_BUDGET) {
        atomic_fetch_sub(&s->body_bytes, n);
        r->over_budget = true;
    } else {
        r->budgeted += n;
        lv_buf_append(&r->body, data, n);
        return;
    }
    /* nothing more of this body is kept: give back what it held */
    atomic_fetch_sub(&s->body_bytes, r->budgeted);
    r->budgeted = 0;
    lv_buf_free(&r->body);
}

/* A request refused from its headers alone (a bad token, too large, the body budget spent). */
static enum MHD_Result answer_refused(server *s, struct MHD_Connection *c, request *r, int status, const char *why)
{
    if (status == 401)
        return sv_refuse(s, c, r, why);
    return sv_reply_error(c, r, status, "%s", why);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    server *s = cls;
    request *r = *req_cls;
    if (!r) {
        r = new_request(s, c, url, method);
        *req_cls = r;
        char why[LV_ERROR_MAX];
        int status = sv_check_headers(s, c, r, why, sizeof why);
        if (status) {
            bool known;
            size_t length = sv_content_length(c, &known);
            if (status == 400 || (known && length > SV_DISCARD_MAX))
                return answer_refused(s, c, r, status, why); /* before the body, and closed */
            /* a body small enough to drop: read it, then answer */
            r->phase = SV_DISCARD;
            r->refused_status = status;
            r->refused_why = lv_xstrdup(why);
            return MHD_YES;
        }
        r->phase = SV_BODY;
        return MHD_YES;
    }
    if (r->phase == SV_DISCARD) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (n) {
            r->discarded += n;
            if (r->discarded <= SV_DISCARD_MAX)
                return MHD_YES;
        }
        /* the whole body has been dropped (or more of it than is worth reading): answer */
        r->phase = SV_DONE;
        return answer_refused(s, c, r, r->refused_status, r->refused_why);
    }
    if (r->suspended)
        sv_reentered(s, &r->suspended);
    if (r->phase == SV_COMMIT)
        return sv_finish_commit(s, c, r);
    if (r->phase == SV_QUERY) {
        r->phase = SV_DONE;
        return sv_reply(c, r, r->deferred_status, r->deferred_type, &r->deferred);
    }
    if (r->phase != SV_BODY)
        return MHD_YES;
    if (*upload_size) {
        take_body(s, r, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (r->is_events) {
        if (strcmp(method, "POST") != 0)
            return sv_reply_error(c, r, 405, "POST events to /events");
        return sv_ingest(s, c, r);
    }
    if (strncmp(url, "/api/subscriptions", 18) == 0 && (url[18] == '\0' || url[18] == '/'))
        return sv_subscriptions(s, c, r);
    if (!get)
        return sv_reply_error(c, r, 405, "%s takes GET", url);
    if (strcmp(url, "/healthz") == 0)
        return health(s, c, r, false);
    if (strcmp(url, "/readyz") == 0)
        return health(s, c, r, true);
    if (strcmp(url, "/metrics") == 0)
        return metrics(s, c, r);
    if (strcmp(url, "/api/tail") == 0)
        return sv_tail(s, c, r);
    if (strncmp(url, "/api/", 5) == 0)
        return sv_api(s, c, r);
    r->route = "web";
    return sv_page(c, r, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    server *s = cls;
    request *r = *req_cls;
    if (!r)
        return;
    if (r->suspended) /* never the case: a suspended request is not completed */
        sv_reentered(s, &r->suspended);
    double secs = sv_since(&r->start);
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
    atomic_fetch_sub(&s->body_bytes, r->budgeted);
    lv_buf_free(&r->body);
    lv_buf_free(&r->claims);
    lv_buf_free(&r->deferred);
    sv_free_published(r);
    for (size_t i = 0; i < r->n_args; i++)
        free(r->args[i]);
    free(r->args);
    free(r->path);
    if (r->answered)
        atomic_fetch_sub(&s->answering, 1);
    free(r->refused_why);
    free(r);
    *req_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx, enum MHD_ConnectionNotificationCode code)
{
    (void)c;
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&s->connections, 1);
        if (s->tls)
            sv_tls_connection_started(s->tls, socket_ctx);
    } else {
        atomic_fetch_sub(&s->connections, 1);
        if (s->tls)
            sv_tls_connection_closed(s->tls, socket_ctx);
    }
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

/* ---- JWKS, the applier's news ---- */

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
    lv_deliverer_wake(s->deliverer); /* new events for the subscriptions */
    char msg[LV_ERROR_MAX];
    while (s->journal && lv_journal_take_damage(s->journal, msg, sizeof msg))
        lv_log(LV_LOG_ERROR, "the journal was damaged; what was intact is applied", "detail", msg, NULL);
}

/* ---- delivery ---- */

static void deliver_log(void *ctx, const char *level, const char *message, const char *subscription)
{
    (void)ctx;
    lv_log(strcmp(level, "error") == 0 ? LV_LOG_ERROR : strcmp(level, "warn") == 0 ? LV_LOG_WARN : LV_LOG_INFO,
           message, "subscription", subscription, NULL);
}

static void *deliver_main(void *arg)
{
    server *s = arg;
    pthread_setname_np(pthread_self(), "levee-deliver");
    lv_error err;
    if (lv_deliverer_run(s->deliverer, 5000, &err) != LV_OK)
        lv_log(LV_LOG_ERROR, "delivery to the subscriptions stopped", "reason", err.msg, NULL);
    return NULL;
}

/* While subscriptions are delivered from here, events are applied to the store within 10 ms of being
 * acknowledged, not 200 (delivery reads them from the store): more and smaller transactions, so that
 * an event reaches its subscribers tens of milliseconds after Canvas got its 2xx. */
static void delivery_active(void *ctx, unsigned subscriptions)
{
    server *s = ctx;
    if (s->applier) /* (on PostgreSQL events are in the store when acknowledged) */
        lv_applier_set_linger(s->applier, subscriptions ? 10 : 200);
}

static lv_status start_delivery(server *s, lv_error *err)
{
    lv_deliver_options opt = { .db = s->cfg->db, .log = deliver_log, .log_ctx = s, .active = delivery_active,
                               .no_housekeeping = true };
    lv_status st = lv_deliverer_new(&s->deliverer, &opt, err);
    if (st != LV_OK)
        return st;
    if (pthread_create(&s->deliver_thread, NULL, deliver_main, s) != 0)
        return lv_fail(err, LV_EINTERNAL, "cannot start the delivery thread");
    s->deliver_started = true;
    return LV_OK;
}

static void stop_delivery(server *s)
{
    if (s->deliver_started) {
        lv_deliverer_stop(s->deliverer);
        pthread_join(s->deliver_thread, NULL);
        s->deliver_started = false;
    }
    lv_deliverer_free(s->deliverer);
    s->deliverer = NULL;
}

/* ---- receiving from SQS ---- */

static void sqs_note(void *ctx, const char *sentence)
{
    (void)ctx;
    lv_log(LV_LOG_WARN, sentence, "source", "sqs", NULL);
}

static void sqs_progress(void *ctx, const lv_pull_counts *so_far)
{
    server *s = ctx;
    pthread_mutex_lock(&s->sqs_lock);
    *s->sqs_counts = *so_far;
    pthread_mutex_unlock(&s->sqs_lock);
}

static void *sqs_main(void *arg)
{
    server *s = arg;
    pthread_setname_np(pthread_self(), "levee-sqs");
    lv_pull_config pc;
    lv_pull_config_init(&pc);
    pc.db = s->cfg->db;
    pc.sqs.queue_url = s->cfg->sqs_queue;
    pc.sqs.endpoint = s->cfg->sqs_endpoint;
    pc.wait_seconds = s->cfg->sqs_wait_seconds;
    pc.jwks = s->cfg->jwks;
    pc.issuer = s->cfg->issuer;
    pc.decode.redact = s->cfg->redact;
    pc.note = sqs_note;
    pc.progress = sqs_progress;
    pc.ctx = s;
    pc.stop = &s->sqs_stop;
    lv_pull_counts counts;
    lv_error err;
    lv_log(LV_LOG_INFO, "receiving from SQS", "queue", s->cfg->sqs_queue, NULL);
    if (lv_pull_run(&pc, &counts, &err) != LV_OK)
        lv_log(LV_LOG_ERROR, "receiving from SQS stopped", "queue", s->cfg->sqs_queue, "reason", err.msg, NULL);
    sqs_progress(s, &counts);
    return NULL;
}

static lv_status start_sqs(server *s, lv_error *err)
{
    s->sqs_counts = lv_xcalloc(1, sizeof *s->sqs_counts);
    if (pthread_create(&s->sqs_thread, NULL, sqs_main, s) != 0)
        return lv_fail(err, LV_EINTERNAL, "cannot start the SQS thread");
    s->sqs_started = true;
    return LV_OK;
}

static void stop_sqs(server *s)
{
    if (s->sqs_started) {
        atomic_store(&s->sqs_stop, true); /* what is being stored is committed and deleted first */
        pthread_join(s->sqs_thread, NULL);
        s->sqs_started = false;
    }
}

/* Prometheus lines of receiving from SQS. */
static void sqs_metrics(server *s, lv_buf *out)
{
    if (!s->sqs_counts)
        return;
    pthread_mutex_lock(&s->sqs_lock);
    lv_pull_counts c = *s->sqs_counts;
    pthread_mutex_unlock(&s->sqs_lock);
    static const char *const help[] = { "received", "messages received from the SQS queue",
                                        "deleted", "messages deleted once what they hold was committed",
                                        "failed", "messages left in the queue for a reason of levee's own" };
    uint64_t values[3] = { c.received, c.deleted, c.failed };
    for (int i = 0; i < 3; i++)
        lv_buf_printf(out, "# HELP levee_sqs_messages_%s_total SQS: %s.\n# TYPE levee_sqs_messages_%s_total counter\n"
                           "levee_sqs_messages_%s_total %llu\n", help[2 * i], help[2 * i + 1], help[2 * i], help[2 * i],
                      (unsigned long long)values[i]);
    lv_buf_printf(out, "# HELP levee_sqs_backlog_messages SQS: the queue's ApproximateNumberOfMessages, last polled.\n"
                       "# TYPE levee_sqs_backlog_messages gauge\nlevee_sqs_backlog_messages %llu\n",
                  (unsigned long long)c.backlog);
}

/* ---- starting and stopping ---- */

static lv_status check_config(const lv_server_config *cfg, const struct sockaddr *addr, lv_error *err)
{
    if (!sv_is_loopback(addr) && (!cfg->ingest_token || !cfg->api_token))
        return lv_fail(err, LV_EINVAL, "refusing to listen on %s without tokens: anyone who can reach it could "
                       "post events and read them. Set --ingest-token and --api-token (or LEVEE_INGEST_TOKEN and "
                       "LEVEE_API_TOKEN), or listen on 127.0.0.1", cfg->listen);
    if (!cfg->tls_cert != !cfg->tls_key)
        return lv_fail(err, LV_EINVAL, "%s %s is given without %s: HTTPS needs both the certificate chain and its "
                       "private key (certbot: --tls-cert fullchain.pem --tls-key privkey.pem)",
                       cfg->tls_cert ? "--tls-cert" : "--tls-key", cfg->tls_cert ? cfg->tls_cert : cfg->tls_key,
                       cfg->tls_cert ? "--tls-key" : "--tls-cert");
    const char *tokens[3] = { cfg->ingest_token, cfg->api_token, cfg->admin_token };
    static const char *const names[3] = { "--ingest-token", "--api-token", "--admin-token" };
    for (int i = 0; i < 3; i++) {
        if (!tokens[i])
            continue;
        size_t n = strlen(tokens[i]);
        bool visible = true;
        for (size_t k = 0; k < n; k++)
            visible &= tokens[i][k] > 0x20 && tokens[i][k] < 0x7f;
        if (n < TOKEN_MIN || !visible)
            return lv_fail(err, LV_EINVAL, "%s must be at least %d visible characters (no spaces or control "
                           "characters); make one with: openssl rand -hex 32", names[i], TOKEN_MIN);
    }
    return LV_OK;
}

/* The store's journal mark, without writing to it (0 for a store that does not exist yet). */
static lv_status read_mark(const char *db, uint64_t *mark, lv_error *err)
{
    lv_store *probe;
    lv_store_options ro = { .read_only = true, .one_shot = true };
    *mark = 0;
    lv_status st = lv_store_open(db, &ro, &probe, err);
    if (st == LV_ENOTFOUND)
        return LV_OK;
    if (st != LV_OK)
        return st;
    st = lv_store_get_mark(probe, LV_JOURNAL_MARK, mark, err);
    lv_store_close(probe);
    return st;
}

static char *journal_dir(const char *db)
{
    size_t n = strlen(db) + 16;
    char *dir = lv_xmalloc(n);
    snprintf(dir, n, "%s.journal", db);
    return dir;
}

static void say_listening(server *s, uint64_t mark)
{
    const union MHD_DaemonInfo *di = lv_mhd.MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char host[64] = "?", port[16] = "?", url[128], backlog[32];
    if (di && getsockname(di->listen_fd, (struct sockaddr *)&bound, &blen) == 0)
        getnameinfo((struct sockaddr *)&bound, blen, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(url, sizeof url, strchr(host, ':') ? "%s://[%s]:%s/" : "%s://%s:%s/", s->tls ? "https" : "http", host,
             port);
    snprintf(backlog, sizeof backlog, "%llu", (unsigned long long)(s->recovery_target - mark));
    char *db = lv_store_location_redacted(s->cfg->db); /* (a log is no place for a password) */
    lv_log(LV_LOG_INFO, "listening", "url", url, "db", db, "journal_backlog_bytes", backlog,
           "signatures", s->jwks ? (s->cfg->require_signature ? "required" : "verified") : "none", NULL);
    free(db);
    if (s->cfg->redact) {
        lv_buf policy;
        lv_buf_init(&policy);
        lv_redaction_describe(s->cfg->redact, &policy);
        lv_log(LV_LOG_INFO, "redacting at intake", "policy", policy.data, NULL);
        lv_buf_free(&policy);
    }
    lv_log_flush();
}

/* Waits for signals: SIGHUP reloads the JWKS and the TLS certificate; SIGTERM or SIGINT ends the wait. */
static void wait_for_stop(server *s, sigset_t *sigs)
{
    for (;;) {
        /* every few seconds, wake live tails so that idle ones send a keepalive */
        struct timespec tick = { 5, 0 };
        int sig = sigtimedwait(sigs, NULL, &tick);
        if (sig < 0) {
            sv_wake_tails(s);
            continue;
        }
        if (sig == SIGHUP) {
            lv_error jerr;
            if (load_jwks(s, &jerr) != LV_OK)
                lv_log(LV_LOG_ERROR, "cannot reload the JWKS; keeping the keys loaded before", "reason", jerr.msg, NULL);
            if (s->tls && sv_tls_reload(s->tls, &jerr) != LV_OK)
                lv_log(LV_LOG_ERROR, "cannot reload the TLS certificate; new connections keep getting the one loaded "
                       "before", "reason", jerr.msg, NULL);
            if (!s->cfg->jwks && !s->tls)
                lv_log(LV_LOG_INFO, "SIGHUP: no --jwks or --tls-cert to reload", NULL);
            continue;
        }
        lv_log(LV_LOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
        return;
    }
}

/* Stops taking work, answers everything suspended, and stops the daemon once no connection is
 * suspended (libmicrohttpd aborts otherwise). */
static void stop_http(server *s)
{
    /* The listening socket is closed only once the daemon has stopped: closed at once, its epoll thread
     * could still be taking it out of its set, and libmicrohttpd aborts when that fails ("Failed to
     * remove listen FD from epoll set", seen once in twenty stops under load). Quiesced, it accepts
     * nothing meanwhile. */
    MHD_socket listen_fd = lv_mhd.MHD_quiesce_daemon(s->daemon);
    pthread_mutex_lock(&s->suspend_lock);
    s->stopping = true; /* from now on nothing is suspended: requests are answered where they are */
    pthread_mutex_unlock(&s->suspend_lock);
    lv_tail_close(s->tail);
    sv_wake_tails(s);
    sv_queries_stop(s); /* interrupts running queries; their requests are resumed with an answer */
    int64_t until = lv_monotonic_us() + (int64_t)SV_STOP_SECONDS * 1000000;
    while (suspended_now(s) && lv_monotonic_us() < until) {
        sv_wake_tails(s);
        struct timespec pause = { 0, 5 * 1000000L };
        nanosleep(&pause, NULL);
    }
    /* answers queued but not yet sent: let them go out (a request still sending its body, or an idle
     * kept-alive connection, has no answer to wait for) */
    while (atomic_load(&s->answering) && lv_monotonic_us() < until) {
        struct timespec pause = { 0, 5 * 1000000L };
        nanosleep(&pause, NULL);
    }
    size_t left = suspended_now(s);
    if (left) {
        /* stopping the daemon now would abort the process: leave it to the exit (the journal holds
         * every acknowledged event either way) */
        char n[24];
        snprintf(n, sizeof n, "%zu", left);
        lv_log(LV_LOG_WARN, "connections still waiting at the stop deadline; closing them at exit", "connections", n,
               NULL);
        return;
    }
    lv_mhd.MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
}

lv_status lv_server_run(const lv_server_config *cfg, bool *started, lv_error *err)
{
    *started = false;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    lv_status st = sv_listen_resolve(cfg->listen, &addr, &addr_len, err);
    if (st == LV_OK)
        st = check_config(cfg, (struct sockaddr *)&addr, err);
    if (st == LV_OK && (st = lv_mhd_load(err)) == LV_OK)
        st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    /* The one choice between engines: SQLite is journaled beside the store and applied later; PostgreSQL is
     * shared by every node and durable itself, so a 2xx waits for the transaction instead (no local journal:
     * any node can be lost) */
    bool shared = lv_store_is_postgresql(cfg->db);
    sv_tls *tls = NULL;
    /* before anything is opened: a bad certificate is reported without touching the store */
    if (cfg->tls_cert && (st = sv_tls_open(cfg->tls_cert, cfg->tls_key, &tls, err)) != LV_OK)
        return st;
    /* Signals are taken by one thread with sigwait; block them everywhere else. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    lv_log_init(cfg->log_format);

    server s = { .cfg = cfg, .tls = tls };
    pthread_rwlock_init(&s.jwks_lock, NULL);
    pthread_mutex_init(&s.suspend_lock, NULL);
    pthread_mutex_init(&s.damage_lock, NULL);
    pthread_mutex_init(&s.sqs_lock, NULL);
    pthread_mutex_init(&s.retain_lock, NULL);
    pthread_cond_init(&s.retain_wake, NULL);
    s.metrics = lv_metrics_new();
    s.tail = lv_tail_new(4096);
    s.live = sv_live_new();
    char *jdir = shared ? NULL : journal_dir(cfg->db);
    uint64_t mark = 0;
    /* The journal's lock says whether another server has this store, so it is taken before the store
     * is opened for writing (which may upgrade its schema). Where an empty journal starts is the
     * store's mark: read without writing anything. */
    if (!shared) {
        st = read_mark(cfg->db, &mark, err);
        if (st == LV_OK)
            st = lv_journal_open(jdir, mark, &s.journal, err);
    }
    if (st == LV_OK)
        st = lv_store_open(cfg->db, NULL, &s.writer, err);
    if (st == LV_OK)
        st = load_jwks(&s, err);
    if (st == LV_OK && shared) {
        st = lv_committer_start(s.writer, on_applied, sv_on_settled, &s, &s.committer, err);
        if (st == LV_OK)
            st = sv_follow_start(&s, err);
    } else if (st == LV_OK) {
        s.recovery_target = lv_journal_durable(s.journal);
        st = lv_store_open(cfg->db, NULL, &s.syncer, err);
        if (st == LV_OK)
            st = lv_applier_start(s.writer, s.syncer, s.journal, on_applied, &s, &s.applier, err);
        if (st == LV_OK)
            st = lv_journal_start_flusher(s.journal, sv_on_durable, &s, err);
    }
    if (st == LV_OK)
        st = sv_queries_start(&s, err);
    if (st == LV_OK && cfg->deliver)
        st = start_delivery(&s, err);
    if (st == LV_OK && cfg->sqs_queue)
        st = start_sqs(&s, err);
    if (st == LV_OK && cfg->retain_ms > 0)
        st = sv_retain_start(&s, err);
    if (st == LV_OK) {
        struct MHD_OptionItem tls_options[3] = { { MHD_OPTION_END, 0, NULL } };
        if (s.tls)
            sv_tls_options(s.tls, tls_options);
        /* epoll with a thread per core: handlers never block; what waits is suspended */
        s.daemon = lv_mhd.MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG |
                (s.tls ? MHD_USE_TLS : 0),
            0, NULL, NULL, on_request, &s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &s, MHD_OPTION_ARRAY, tls_options,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)EVENT_THREADS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
            MHD_OPTION_NOTIFY_CONNECTION, on_connection, &s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
            /* HTTP/1.1 without Host, and spaces in the request line, are refused with 400 */
            MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
        if (!s.daemon)
            st = lv_fail(err, LV_EIO, "cannot listen on %s: %s", cfg->listen,
                         errno ? strerror(errno) : "the address is not available");
    }
    if (st == LV_OK) {
        *started = true;
        say_listening(&s, mark);
        wait_for_stop(&s, &sigs);
        stop_http(&s);
    } else {
        pthread_mutex_lock(&s.suspend_lock);
        s.stopping = true;
        pthread_mutex_unlock(&s.suspend_lock);
        sv_queries_stop(&s);
        if (s.daemon) {
            lv_mhd.MHD_stop_daemon(s.daemon);
            s.daemon = NULL;
        }
    }
    sv_retain_stop(&s); /* the transaction running is committed; the next prune continues */
    stop_sqs(&s);      /* batches being stored are committed and their messages deleted */
    stop_delivery(&s); /* attempts in flight get a few seconds; the rest are sent again at the next start */
    sv_follow_stop(&s);
    lv_committer_stop(s.committer); /* every request was answered: nothing is waiting for it */
    s.committer = NULL;
    if (s.applier) {
        lv_error aerr;
        if (lv_applier_stop(s.applier, &aerr) != LV_OK) {
            lv_log(LV_LOG_ERROR, "applying the journal failed; it is kept and will be applied at the next start",
                   "reason", aerr.msg, NULL);
            if (st == LV_OK) {
                st = aerr.status ? aerr.status : LV_EIO;
                if (err)
                    *err = aerr;
            }
        }
    }
    if (st == LV_OK)
        lv_log(LV_LOG_INFO, "stopped", NULL);
    sv_queries_free(&s);
    lv_store_close(s.writer);
    lv_store_close(s.syncer);
    lv_journal_close(s.journal);
    lv_jwks_free(s.jwks);
    if (!s.daemon) /* (still running only when connections were left waiting at the stop deadline) */
        sv_tls_free(s.tls);
    sv_live_free(s.live);
    lv_tail_free(s.tail);
    lv_metrics_free(s.metrics);
    free(jdir);
    free(s.commits);
    free(s.damaged);
    pthread_rwlock_destroy(&s.jwks_lock);
    pthread_mutex_destroy(&s.suspend_lock);
    pthread_mutex_destroy(&s.damage_lock);
    pthread_mutex_destroy(&s.sqs_lock);
    pthread_mutex_destroy(&s.retain_lock);
    pthread_cond_destroy(&s.retain_wake);
    free(s.sqs_counts);
    lv_log_stop();
    return st;
}
