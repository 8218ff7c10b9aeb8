/* queries.c: the JSON API (/api/...) on worker threads, so the event threads never wait for a query.
 * Each worker has its own read connection to the store (WAL readers do not block the writer, nor
 * each other). Questions go to one of two lanes: full-text search, whose cost depends on what was
 * typed, has workers of its own, so that searches never hold up the quick questions (stats, topics,
 * conversations, courses, users); managing subscriptions (admin.c) has a worker of its own with a
 * writable connection. Every question has a deadline (SV_QUERY_SECONDS) after which the
 * store gives it up, and each lane's queue is bounded: a full queue answers 503 at once. */
#include "serve.h"

#include "levee/api.h"
#include "levee/engines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LANE_QUICK, LANE_SEARCH, LANE_ADMIN, LANES };
static const unsigned lane_workers[LANES] = { 2, 2, 1 }; /* one writer manages subscriptions */
#define QUEUE_MAX 256 /* questions waiting per lane */

typedef struct job {
    struct MHD_Connection *c;
    request *r;
} job;

typedef struct worker {
    server *s;
    int lane;
    pthread_t thread;
    bool started;
    lv_store *store;   /* opened on first use, kept for the next questions */
    bool busy;         /* answering a question now (under the lock) */
} worker;

typedef struct lane {
    job queue[QUEUE_MAX];
    size_t head, n;
    pthread_cond_t ready;
} lane;

struct sv_queries {
    pthread_mutex_t lock;
    lane lanes[LANES];
    worker *workers;
    size_t n_workers;
    bool stopping;
    _Atomic uint64_t timeouts;
};

static void *run(void *arg);

lv_status sv_queries_start(server *s, lv_error *err)
{
    sv_queries *q = lv_xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    for (int l = 0; l < LANES; l++)
        pthread_cond_init(&q->lanes[l].ready, NULL);
    size_t total = 0;
    for (int l = 0; l < LANES; l++)
        total += lane_workers[l];
    q->workers = lv_xcalloc(total, sizeof *q->workers);
    s->queries = q;
    for (int l = 0; l < LANES; l++)
        for (unsigned i = 0; i < lane_workers[l]; i++) {
            worker *w = &q->workers[q->n_workers];
            w->s = s;
            w->lane = l;
            if (pthread_create(&w->thread, NULL, run, w) != 0)
                return lv_fail(err, LV_EINTERNAL, "cannot start the query threads");
            w->started = true;
            q->n_workers++;
        }
    return LV_OK;
}

void sv_queries_stop(server *s)
{
    sv_queries *q = s->queries;
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    for (size_t i = 0; i < q->n_workers; i++)
        if (q->workers[i].busy && q->workers[i].store)
            lv_store_interrupt(q->workers[i].store); /* give up what is running: the stop answers it */
    for (int l = 0; l < LANES; l++)
        pthread_cond_broadcast(&q->lanes[l].ready);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < q->n_workers; i++)
        if (q->workers[i].started) {
            pthread_join(q->workers[i].thread, NULL);
            q->workers[i].started = false;
        }
}

void sv_queries_free(server *s)
{
    sv_queries *q = s->queries;
    if (!q)
        return;
    for (size_t i = 0; i < q->n_workers; i++)
        lv_store_close(q->workers[i].store);
    for (int l = 0; l < LANES; l++)
        pthread_cond_destroy(&q->lanes[l].ready);
    pthread_mutex_destroy(&q->lock);
    free(q->workers);
    free(q);
    s->queries = NULL;
}

size_t sv_queries_waiting(server *s)
{
    sv_queries *q = s->queries;
    if (!q)
        return 0;
    pthread_mutex_lock(&q->lock);
    size_t n = 0;
    for (int l = 0; l < LANES; l++)
        n += q->lanes[l].n;
    for (size_t i = 0; i < q->n_workers; i++)
        n += q->workers[i].busy;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t sv_queries_timeouts(server *s)
{
    return s->queries ? atomic_load(&s->queries->timeouts) : 0;
}

static void error_body(lv_buf *b, const char *msg)
{
    lv_buf_reset(b);
    lv_buf_puts(b, "{\"error\":");
    lv_json_quote(b, msg, strlen(msg));
    lv_buf_puts(b, "}");
}

/* Answers one question on the worker's own connection. */
static void answer(worker *w, request *r)
{
    server *s = w->s;
    lv_error err;
    lv_buf_init(&r->deferred);
    if (!w->store) {
        lv_store_options o = { .read_only = w->lane != LANE_ADMIN };
        if (lv_store_open(s->cfg->db, &o, &w->store, &err) != LV_OK) {
            w->store = NULL;
            r->deferred_status = err.status == LV_EDAMAGED ? 500 : 503;
            error_body(&r->deferred, err.msg);
            if (err.status == LV_EDAMAGED)
                sv_store_damaged(s, err.msg);
            return;
        }
    }
    if (w->lane == LANE_ADMIN) {
        sv_admin_answer(w->store, r);
        return;
    }
    lv_store_set_deadline(w->store, lv_monotonic_us() + (int64_t)SV_QUERY_SECONDS * 1000000);
    lv_status st = lv_api_answer(w->store, r->path + 4, sv_arg, r, &r->deferred, &r->deferred_status, &err);
    lv_store_set_deadline(w->store, 0);
    if (st == LV_ETIMEOUT)
        atomic_fetch_add(&s->queries->timeouts, 1);
    if (st == LV_EDAMAGED) {
        sv_store_damaged(s, err.msg);
        /* a connection that read damage may hold a stale view: open a fresh one next time */
        lv_store_close(w->store);
        w->store = NULL;
    }
}

static void *run(void *arg)
{
    worker *w = arg;
    server *s = w->s;
    sv_queries *q = s->queries;
    lane *l = &q->lanes[w->lane];
    pthread_setname_np(pthread_self(), w->lane == LANE_SEARCH ? "levee-search"
                                       : w->lane == LANE_ADMIN ? "levee-admin" : "levee-query");
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (l->n == 0 && !q->stopping)
            pthread_cond_wait(&l->ready, &q->lock);
        if (l->n == 0)
            break;
        job j = l->queue[l->head];
        l->head = (l->head + 1) % QUEUE_MAX;
        l->n--;
        w->busy = true;
        bool stopping = q->stopping;
        pthread_mutex_unlock(&q->lock);
        if (stopping) {
            lv_buf_init(&j.r->deferred);
            j.r->deferred_status = 503;
            error_body(&j.r->deferred, "levee is stopping; ask again when it is back");
        } else {
            answer(w, j.r);
        }
        if (j.r->deferred_status != 204)
            lv_buf_putc(&j.r->deferred, '\n');
        j.r->deferred_type = "application/json";
        pthread_mutex_lock(&q->lock);
        w->busy = false;
        pthread_mutex_unlock(&q->lock);
        sv_resume(s, j.c, false); /* last: the request is the event thread's again */
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

static enum MHD_Result enqueue(server *s, struct MHD_Connection *c, request *r, int which);

enum MHD_Result sv_api(server *s, struct MHD_Connection *c, request *r)
{
    if (!sv_authorized(c, s->cfg->api_token))
        return sv_refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    return enqueue(s, c, r, strcmp(r->path, "/api/search") == 0 ? LANE_SEARCH : LANE_QUICK);
}

enum MHD_Result sv_subscriptions(server *s, struct MHD_Connection *c, request *r)
{
    if (!s->cfg->admin_token)
        return sv_reply_error(c, r, 403, "subscriptions are managed over HTTP only when levee serve has "
                                         "--admin-token TOKEN; on this machine, use 'levee subscriptions'");
    if (!sv_authorized(c, s->cfg->admin_token))
        return sv_refuse(s, c, r, "managing subscriptions needs the admin token: ?token=... or Authorization: "
                                  "Bearer ...");
    return enqueue(s, c, r, LANE_ADMIN);
}

static enum MHD_Result enqueue(server *s, struct MHD_Connection *c, request *r, int which)
{
    sv_queries *q = s->queries;
    lane *l = &q->lanes[which];
    sv_copy_args(c, r);
    r->phase = SV_QUERY;
    pthread_mutex_lock(&q->lock);
    if (q->stopping || l->n == QUEUE_MAX) {
        bool stopping = q->stopping;
        pthread_mutex_unlock(&q->lock);
        r->phase = SV_DONE;
        return sv_reply_error(c, r, 503, stopping ? "levee is stopping; ask again when it is back"
                                                  : "levee has too many questions waiting; ask again shortly");
    }
    /* suspended before a worker can see it, so the worker's resume always finds it suspended */
    if (!sv_suspend(s, c, &r->suspended, false)) {
        pthread_mutex_unlock(&q->lock);
        r->phase = SV_DONE;
        return sv_reply_error(c, r, 503, "levee is stopping; ask again when it is back");
    }
    l->queue[(l->head + l->n) % QUEUE_MAX] = (job){ c, r };
    l->n++;
    pthread_cond_signal(&l->ready);
    pthread_mutex_unlock(&q->lock);
    return MHD_YES;
}
