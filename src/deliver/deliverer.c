/* deliverer.c: the delivery loop. One thread drives every subscription's requests with libcurl multi,
 * so a slow target only holds its own requests. Each subscription is a cursor over the store's arrival
 * order: events are read past it, filtered, built (payload.c) and sent, up to `parallel` at once. An
 * answer is recorded before the cursor moves past its event: 2xx delivers it; a retryable failure
 * schedules the next attempt (exponential backoff, full jitter, Retry-After) in the store; a refusal or
 * an event too old becomes a delivery dead letter. What was in flight when the process died is sent
 * again (at least once). A lease in the store keeps a subscription to one deliverer at a time. */
#include "deliver.h"

#include "levee/crypto.h"
#include "levee/curl.h"
#include "levee/engines.h"
#include "levee/prng.h"
#include "levee/timestamp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define LEASE_MS 30000          /* a lease not renewed for this long can be taken over */
#define LEASE_RENEW_MS 10000
#define RELOAD_MS 1000          /* settings, states and leases are read again this often */
#define READ_AHEAD 64           /* events read past the cursor at once */
/* Events read from the store are kept in batches of READ_AHEAD, the last CACHE_BATCHES of them, which
 * every subscription reads from: 16 subscriptions over the same events read and decompress each once,
 * not 16 times, and a subscription whose slots are full no longer reads (and decompresses) a row only
 * to read it again next time (measured: 12% of the rows). A reader thread, with a connection of its
 * own, reads the batch after the one in use while the requests of this one are sent: reading and
 * decompressing was a third of a delivery's instructions, now mostly on the machine's other CPU. */
#define CACHE_BATCHES 32
/* A replayed window (sub_replays) is walked REPLAY_CHUNK events at a time, its matching ones queued as
 * pending, whenever fewer than that wait: the window's size bounds neither a transaction nor memory. */
#define REPLAY_CHUNK 256
#define REPLAY_STEPS 16         /* chunks walked at most per turn (a filter may match none of a chunk) */
#define LAG_SCAN 10000          /* events read past the cursor to measure the lag, at most */
/* What happened is written every FLUSH_MS in one transaction (or sooner when FLUSH_OPS outcomes wait):
 * a commit per turn of the loop was a sixth of a delivery's instructions, and each took the store's
 * write lock from the applier. A crash loses at most these last milliseconds of outcomes: their events
 * are sent again (at least once), since the cursor moves in the same transaction as they are recorded. */
#define FLUSH_MS 20
#define FLUSH_OPS 2048
/* The periodic flush does not wait for another writer's lock (the applier's commits hold it a few
 * milliseconds): the requests go on, and it is tried again FLUSH_RETRY_MS later, waiting only once it
 * has been put off for FLUSH_WAIT_MS. Waiting in the loop held every delivery meanwhile. */
#define FLUSH_RETRY_MS 2
#define FLUSH_WAIT_MS 200
/* Beside levee serve's applier (no_housekeeping), neither the applier's bulk commits nor the
 * deliverer's copy the WAL into the database; a thread of the deliverer does, every CHECKPOINT_MS, on a
 * connection of its own, holding up no writer (a passive checkpoint). Without it the applier's sync
 * (at each 64 MB of journal) found the whole WAL to copy: a 600 ms stall of storing at 2,000 events/s;
 * inside the deliverer's commits it was a 40-50 ms stall of every delivery each second and a half. */
#define CHECKPOINT_MS 1000

/* ---- metrics ---- */

static const double hist_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 };
#define N_BOUNDS (sizeof hist_bounds / sizeof *hist_bounds)

typedef struct sub_metrics {
    int64_t id;
    char name[64];
    uint64_t delivered, dead, skipped;
    uint64_t attempts[4]; /* 2xx, 4xx, 5xx (and 3xx, 1xx), no answer */
    int64_t lag_events;
    double oldest_s;
} sub_metrics;

/* ---- events read, shared by the subscriptions ---- */

typedef struct cached_ev {
    lv_event_ref ref;         /* name, hash and doc point into the batch's text once it is read */
    size_t name_at, hash_at, doc_at;
} cached_ev;

typedef struct ev_batch {
    int64_t from, to;         /* every stored event with an id in [from, to) is in rows; from == to: none */
    LV_VEC(cached_ev) rows;
    lv_buf text;
    uint64_t used;            /* when it was last read from: the least recently used one is read over */
    bool filling;             /* the reader thread is reading it (from `want` on): not to be touched */
    int64_t want;
} ev_batch;

/* ---- one request in flight ---- */

typedef struct dsub dsub;

/* An outcome waiting for the next flush, in the order they happened. Texts are in the deliverer's
 * op_text (offsets: it grows). */
typedef enum op_kind { OP_ATTEMPT, OP_PENDING_PUT, OP_PENDING_DELETE, OP_DEAD } op_kind;

typedef struct dop {
    op_kind kind;
    dsub *sub;
    bool failed;              /* an attempt that did not succeed: always kept */
    lv_sub_attempt_row at;
    lv_sub_pending_row p;
    lv_sub_dead_row dead;
    size_t text[2][2];        /* offset and length: an attempt's error; a dead letter's answer and error */
} dop;

typedef struct dattempt {
    dsub *sub;
    CURL *easy;
    struct curl_slist *headers;
    dl_request req;
    lv_buf answer;            /* the first KB of what the target answered */
    int64_t event, received_ms;
    bool fresh;               /* read past the cursor (not a retry, a replay or a redelivery) */
    int64_t attempts_before, first_attempt_ms, started_ms;
    int64_t started_us;       /* monotonic, for the request's duration */
    int64_t retry_after_ms;   /* from a Retry-After header, -1 when none */
    char name[128];
    char errbuf[CURL_ERROR_SIZE];
    bool busy;
    unsigned gen;             /* the easy handle is set up for the subscription's settings of this generation */
} dattempt;

struct dsub {
    int64_t id;
    char *spec_text;
    dl_spec spec;
    unsigned spec_gen;        /* counts the settings read: a request's handle is set up again when they change */
    lv_sub_state state;
    int64_t cursor;           /* as stored */
    int64_t scan;             /* the next event row to read */
    int64_t failing_since_ms;
    bool leased;
    int64_t lease_until;
    bool seen;                /* found by the last reload */
    bool broken;              /* its settings in the store cannot be read: not delivered */
    char *lease_owner;        /* as the last reload found it */
    lv_sign_key *key;
    char key_error[LV_ERROR_MAX];
    dattempt slots[DL_MAX_PARALLEL];
    unsigned in_flight;
    int64_t pending;          /* events waiting in the store for another attempt (as far as known) */
    int64_t next_pending_check;
    int64_t replays;          /* windows to replay not walked to the end (as far as known) */
    unsigned pending_ops;     /* outcomes waiting for the flush that change its pending rows */
    unsigned attempt_ops, attempt_seen; /* its attempts waiting for the flush; counted while flushing */
    /* what the next write records */
    bool dirty;
    lv_sub_progress progress;
    char last_error[LV_ERROR_MAX + 128];
    bool disable;
    char disable_why[256];
    sub_metrics *m;
};

struct lv_deliverer {
    lv_deliver_options opt;
    char *db;
    char owner[160];
    lv_store *store;
    CURLM *multi;
    int wake[2];
    _Atomic bool stopping;
    dsub **subs;
    size_t n_subs, cap_subs;
    int64_t next_reload;
    lv_prng jitter;
    bool in_txn;
    ev_batch cache[CACHE_BATCHES];
    uint64_t cache_clock;
    /* the reader thread: reads the batch `request` (filling) on its own connection */
    lv_store *read_store;
    pthread_t reader;
    bool reader_started, reader_stop;
    ev_batch *request;
    pthread_mutex_t clock;    /* guards request, reader_stop and the batches' filling */
    pthread_cond_t cdone;     /* a request was taken or finished */
    /* the checkpoint thread (no_housekeeping only), on its own connection; stopped by reader_stop */
    lv_store *ckpt_store;
    pthread_t ckpt;
    bool ckpt_started;
    pthread_cond_t ckpt_wake;
    LV_VEC(dop) ops;          /* outcomes not written yet */
    lv_buf op_text;
    int64_t last_flush;
    int64_t flush_put_off;    /* since when the periodic flush found the store locked (0: it did not) */
    unsigned active; /* subscriptions delivered here, as last told to opt.active */
    /* metrics, read by other threads */
    pthread_mutex_t mlock;
    sub_metrics *metrics;
    size_t n_metrics, cap_metrics;
    uint64_t hist[N_BOUNDS + 1];
    double hist_sum;
    uint64_t hist_count;
    lv_hist stages[LV_DSTAGES]; /* where a delivery's time goes (lv_deliverer_stage) */
};

static void say(lv_deliverer *d, const char *level, const dsub *sub, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say(lv_deliverer *d, const char *level, const dsub *sub, const char *fmt, ...)
{
    if (!d->opt.log)
        return;
    char msg[LV_ERROR_MAX + 256], id[24] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lv_scrub(msg, sizeof msg); /* a subscriber's URL may carry a token in its query */
    if (sub)
        snprintf(id, sizeof id, "%lld", (long long)sub->id);
    d->opt.log(d->opt.log_ctx, level, msg, sub ? id : NULL);
}

/* ---- the read-ahead cache ---- */

static lv_status cache_row(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    ev_batch *b = ctx;
    cached_ev *c = lv_vec_push(&b->rows, READ_AHEAD);
    c->ref = *ev;
    c->name_at = b->text.len;
    lv_buf_append(&b->text, ev->name.p, ev->name.n);
    c->hash_at = b->text.len;
    lv_buf_append(&b->text, ev->hash, LV_HASH_BYTES);
    lv_buf_append(&b->text, ev->webhook_hash ? ev->webhook_hash : ev->hash, LV_HASH_BYTES); /* right after it */
    c->doc_at = b->text.len;
    lv_buf_append(&b->text, ev->doc.p, ev->doc.n);
    return LV_OK;
}

/* Reads the stored events from `from` on into b (from == to when there are none, or on an error). */
static lv_status batch_read(lv_store *store, ev_batch *b, int64_t from, lv_error *err)
{
    b->rows.n = 0;
    b->from = b->to = 0;
    lv_buf_reset(&b->text);
    lv_status rc = store->engine->events_from(store, from, READ_AHEAD, true, cache_row, b, err);
    if (rc != LV_OK || !b->rows.n) {
        b->rows.n = 0;
        return rc;
    }
    for (size_t i = 0; i < b->rows.n; i++) { /* the text is where it ends up only now */
        cached_ev *c = &b->rows.items[i];
        c->ref.name.p = b->text.data + c->name_at;
        c->ref.hash = (const unsigned char *)b->text.data + c->hash_at;
        c->ref.webhook_hash = c->ref.hash + LV_HASH_BYTES;
        c->ref.doc.p = b->text.data + c->doc_at;
    }
    b->from = from;
    b->to = b->rows.items[b->rows.n - 1].ref.id + 1;
    return LV_OK;
}

/* The reader thread: reads each batch it is asked for. A failure leaves the batch empty: the delivery
 * thread then reads it itself, and meets the error there. */
static void *reader_main(void *arg)
{
    lv_deliverer *d = arg;
    pthread_setname_np(pthread_self(), "levee-dread");
    pthread_mutex_lock(&d->clock);
    for (;;) {
        while (!d->request && !d->reader_stop)
            pthread_cond_wait(&d->cdone, &d->clock);
        if (d->reader_stop)
            break;
        ev_batch *b = d->request;
        int64_t want = b->want;
        pthread_mutex_unlock(&d->clock);
        lv_error e;
        batch_read(d->read_store, b, want, &e);
        pthread_mutex_lock(&d->clock);
        b->filling = false;
        d->request = NULL;
        pthread_cond_broadcast(&d->cdone);
    }
    pthread_mutex_unlock(&d->clock);
    return NULL;
}

/* The checkpoint thread: a passive checkpoint every CHECKPOINT_MS until the deliverer is freed. A
 * failure is only logged as a lost chance: the applier's own sync checkpoints in the end. */
static void *ckpt_main(void *arg)
{
    lv_deliverer *d = arg;
    pthread_setname_np(pthread_self(), "levee-dckpt");
    pthread_mutex_lock(&d->clock);
    while (!d->reader_stop) {
        struct timespec until = lv_deadline_after(CHECKPOINT_MS);
        while (!d->reader_stop && pthread_cond_timedwait(&d->ckpt_wake, &d->clock, &until) == 0) {
        }
        if (d->reader_stop)
            break;
        pthread_mutex_unlock(&d->clock);
        lv_error e;
        lv_store_housekeeping(d->ckpt_store, &e);
        pthread_mutex_lock(&d->clock);
    }
    pthread_mutex_unlock(&d->clock);
    return NULL;
}
/* Where this process runs, as a lease owner's first field: "HOST~PIDNS~BOOT", the host name, the pid
 * namespace's inode and the first part of the kernel's boot id. A process id says whether its owner is
 * alive only in the same pid namespace of the same boot: two containers sharing a store may have the
 * same host name, and pid 7 in one says nothing of pid 7 in the other. What cannot be read is "?", and
 * then no lease is taken over before it expires. */
static void where_am_i(char *out, size_t size)
{
    char host[64] = "host", ns[24] = "?", boot[16] = "?", link[64];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == ':' || *c == '~')
            *c = '_';
    ssize_t n = readlink("/proc/self/ns/pid", link, sizeof link - 1);
    if (n > 0) {
        link[n] = '\0';
        const char *open = strchr(link, '['), *close = open ? strchr(open, ']') : NULL;
        if (open && close && close - open > 1 && close - open < (ptrdiff_t)sizeof ns)
            snprintf(ns, sizeof ns, "%.*s", (int)(close - open - 1), open + 1);
    }
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (fgets(link, sizeof link, f) && strlen(link) >= 8)
            snprintf(boot, sizeof boot, "%.8s", link);
        fclose(f);
    }
    snprintf(out, size, "%s~%s~%s", host, ns, boot);
}


lv_status lv_deliverer_new(lv_deliverer **out, const lv_deliver_options *opt, lv_error *err)
{
    *out = NULL;
    if (!opt || !opt->db)
        return lv_fail(err, LV_EINVAL, "delivery needs a store");
    lv_status rc = lv_curl_load(err);
    if (rc != LV_OK)
        return rc;
    if ((rc = lv_crypto_load(err)) != LV_OK)
        return rc;
    if (lv_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return lv_fail(err, LV_EINTERNAL, "libcurl could not start");
    lv_deliverer *d = lv_xcalloc(1, sizeof *d);
    d->opt = *opt;
    d->db = lv_xstrdup(opt->db);
    if (!d->opt.poll_ms)
        d->opt.poll_ms = 250;
    uint64_t seed = (uint64_t)lv_now_ms() ^ ((uint64_t)getpid() << 32);
    lv_prng_seed(&d->jitter, seed);
    if (opt->owner) {
        snprintf(d->owner, sizeof d->owner, "%s", opt->owner);
    } else {
        char place[112];
        where_am_i(place, sizeof place);
        snprintf(d->owner, sizeof d->owner, "%s:%d:%08llx", place, (int)getpid(),
                 (unsigned long long)(lv_prng_next(&d->jitter) & 0xffffffffu));
    }
    d->opt.owner = d->owner;
    pthread_mutex_init(&d->mlock, NULL);
    pthread_mutex_init(&d->clock, NULL);
    pthread_cond_init(&d->cdone, NULL);
    pthread_cond_init(&d->ckpt_wake, NULL);
    d->wake[0] = d->wake[1] = -1;
    lv_buf_init(&d->op_text);
    if (pipe2(d->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        rc = lv_fail(err, LV_EIO, "cannot make delivery's wake-up pipe: %s", strerror(errno));
    } else if (!(d->multi = lv_curl.curl_multi_init())) {
        rc = lv_fail(err, LV_EINTERNAL, "libcurl could not make a multi handle");
    } else {
        rc = lv_store_open(d->db, &(lv_store_options){ 0 }, &d->store, err);
    }
    /* Delivery's rows need no sync per commit: a crash of the process loses nothing committed, and what
     * a power cut could lose (the last outcomes) is sent again, never lost: the events themselves were
     * made durable by whoever stored them. */
    if (rc == LV_OK)
        lv_store_set_relaxed(d->store, !opt->no_housekeeping);
    if (rc == LV_OK)
        rc = lv_store_open(d->db, &(lv_store_options){ .read_only = true }, &d->read_store, err);
    if (rc == LV_OK && pthread_create(&d->reader, NULL, reader_main, d) != 0)
        rc = lv_fail(err, LV_EINTERNAL, "cannot start delivery's reader thread");
    d->reader_started = rc == LV_OK;
    if (rc == LV_OK && opt->no_housekeeping) {
        rc = lv_store_open(d->db, &(lv_store_options){ 0 }, &d->ckpt_store, err);
        if (rc == LV_OK && pthread_create(&d->ckpt, NULL, ckpt_main, d) != 0)
            rc = lv_fail(err, LV_EINTERNAL, "cannot start delivery's checkpoint thread");
        d->ckpt_started = rc == LV_OK;
    }
    if (rc != LV_OK) {
        lv_deliverer_free(d);
        return rc;
    }
    *out = d;
    return LV_OK;
}

void lv_deliverer_wake(lv_deliverer *d)
{
    if (d && d->wake[1] >= 0) {
        ssize_t n = write(d->wake[1], "w", 1); /* a full pipe is already a wake-up */
        (void)n;
    }
}

void lv_deliverer_stop(lv_deliverer *d)
{
    if (!d)
        return;
    atomic_store(&d->stopping, true);
    lv_deliverer_wake(d);
}

/* ---- subscriptions: loading, leases ---- */

static void slot_release(lv_deliverer *d, dattempt *a)
{
    if (a->easy && a->busy)
        lv_curl.curl_multi_remove_handle(d->multi, a->easy);
    lv_curl.curl_slist_free_all(a->headers);
    a->headers = NULL;
    if (a->busy && a->sub->in_flight)
        a->sub->in_flight--;
    a->busy = false;
}

static void sub_free(lv_deliverer *d, dsub *s)
{
    for (unsigned i = 0; i < DL_MAX_PARALLEL; i++) {
        dattempt *a = &s->slots[i];
        slot_release(d, a);
        if (a->easy)
            lv_curl.curl_easy_cleanup(a->easy);
        dl_request_free(&a->req);
        lv_buf_free(&a->answer);
    }
    dl_spec_free(&s->spec);
    free(s->spec_text);
    free(s->lease_owner);
    lv_sign_key_free(s->key);
    free(s);
}

/* Whether a lease's owner (host:pid:random) is a process of this machine that no longer runs: then
 * its lease is taken at once, not after it expires (a levee killed and started again). */
static bool owner_gone(const lv_deliverer *d, const char *owner)
{
    if (!owner)
        return false;
    /* the same place: host name, pid namespace and boot, and all three known */
    const char *colon = strchr(owner, ':'), *p = strchr(d->owner, ':');
    size_t place = colon ? (size_t)(colon - owner) : 0;
    if (!colon || !p || (size_t)(p - d->owner) != place || strncmp(owner, d->owner, place) != 0 ||
        memchr(owner, '?', place))
        return false;
    char *end;
    long pid = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != ':' || pid <= 0 || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static sub_metrics *metrics_for(lv_deliverer *d, int64_t id, const char *name)
{
    /* the array is only appended to, under the lock; entries are found by id */
    pthread_mutex_lock(&d->mlock);
    sub_metrics *m = NULL;
    for (size_t i = 0; !m && i < d->n_metrics; i++)
        if (d->metrics[i].id == id)
            m = &d->metrics[i];
    if (!m) {
        if (d->n_metrics == d->cap_metrics) {
            size_t cap = d->cap_metrics ? d->cap_metrics * 2 : 16;
            sub_metrics *grown = lv_xcalloc(cap, sizeof *grown);
            if (d->n_metrics)
                memcpy(grown, d->metrics, d->n_metrics * sizeof *grown);
            free(d->metrics);
            d->metrics = grown;
            d->cap_metrics = cap;
            /* pointers into the old array were given to subscriptions: point them again */
            for (size_t i = 0; i < d->n_subs; i++)
                for (size_t j = 0; j < d->n_metrics; j++)
                    if (d->metrics[j].id == d->subs[i]->id)
                        d->subs[i]->m = &d->metrics[j];
        }
        m = &d->metrics[d->n_metrics++];
        memset(m, 0, sizeof *m);
        m->id = id;
    }
    snprintf(m->name, sizeof m->name, "%s", name);
    pthread_mutex_unlock(&d->mlock);
    return m;
}

static dsub *find_sub(lv_deliverer *d, int64_t id)
{
    for (size_t i = 0; i < d->n_subs; i++)
        if (d->subs[i]->id == id)
            return d->subs[i];
    return NULL;
}

typedef struct reload_ctx {
    lv_deliverer *d;
} reload_ctx;

static lv_status on_sub(void *ctx, const lv_sub_row *r, lv_error *err)
{
    (void)err;
    lv_deliverer *d = ((reload_ctx *)ctx)->d;
    dsub *s = find_sub(d, r->id);
    bool fresh = !s;
    if (fresh) {
        s = lv_xcalloc(1, sizeof *s);
        s->id = r->id;
        s->cursor = s->scan = r->cursor;
        lv_vec_reserve((void **)&d->subs, &d->cap_subs, d->n_subs + 1, sizeof *d->subs, 8);
        d->subs[d->n_subs++] = s;
        s->m = metrics_for(d, r->id, "");
    }
    s->seen = true;
    free(s->lease_owner);
    s->lease_owner = r->lease_owner.p ? lv_xstrndup(r->lease_owner.p, r->lease_owner.n) : NULL;
    s->state = r->state;
    s->failing_since_ms = r->failing_since_ms;
    s->pending = r->pending;
    s->replays = r->replays;
    if (r->cursor > s->cursor && !s->in_flight) /* moved by another deliverer that held the lease */
        s->cursor = s->scan = r->cursor;
    if (!s->spec_text || strlen(s->spec_text) != r->spec.n || memcmp(s->spec_text, r->spec.p, r->spec.n) != 0) {
        dl_spec sp;
        lv_error perr;
        free(s->spec_text);
        s->spec_text = lv_xstrndup(r->spec.p, r->spec.n);
        if (dl_spec_parse(r->spec.p, r->spec.n, &sp, &perr) != LV_OK) {
            /* this subscription's settings are damaged: it is not delivered (the others are), and says why */
            if (!s->broken)
                say(d, "error", s, "subscription %lld is not delivered: %s", (long long)s->id, perr.msg);
            s->broken = true;
            snprintf(s->key_error, sizeof s->key_error, "%s", perr.msg);
            return LV_OK;
        }
        s->broken = false;
        dl_spec_free(&s->spec);
        s->spec = sp;
        s->spec_gen++;
        lv_sign_key_free(s->key);
        s->key = NULL;
        s->key_error[0] = '\0';
        if (sp.sign_key) {
            lv_error kerr;
            if (lv_sign_key_load(&s->key, sp.sign_key, sp.kid, &kerr) != LV_OK)
                snprintf(s->key_error, sizeof s->key_error, "%s", kerr.msg);
        }
        s->m = metrics_for(d, r->id, s->spec.name);
    }
    return LV_OK;
}

static lv_status reload(lv_deliverer *d, int64_t now, lv_error *err)
{
    for (size_t i = 0; i < d->n_subs; i++)
        d->subs[i]->seen = false;
    reload_ctx ctx = { d };
    lv_status rc = d->store->engine->sub_list(d->store, on_sub, &ctx, err);
    if (rc != LV_OK)
        return rc;
    size_t kept = 0;
    for (size_t i = 0; i < d->n_subs; i++) {
        dsub *s = d->subs[i];
        if (!s->seen) { /* removed */
            sub_free(d, s);
            continue;
        }
        d->subs[kept++] = s;
        bool want = s->state == LV_SUB_ACTIVE || s->in_flight;
        if (want && (!s->leased || s->lease_until - now < LEASE_MS - LEASE_RENEW_MS)) {
            bool held = false;
            /* a lease whose holder is gone from this machine is taken now: "now" is past any expiry */
            int64_t as_of = !s->leased && owner_gone(d, s->lease_owner) ? INT64_MAX : now;
            if ((rc = d->store->engine->sub_lease(d->store, s->id, d->owner, as_of, now + LEASE_MS, &held, err)) != LV_OK)
                return rc;
            if (held && !s->leased) {
                /* the cursor may have moved while another process held it */
                s->next_pending_check = 0;
                say(d, "info", s, "delivering subscription %lld (%s)", (long long)s->id, s->spec.name);
            }
            s->leased = held;
            s->lease_until = held ? now + LEASE_MS : 0;
        } else if (!want && s->leased) {
            rc = d->store->engine->sub_release(d->store, s->id, d->owner, err);
            s->leased = false;
        }
        if (s->state == LV_SUB_ACTIVE && s->leased && s->key_error[0] && !s->last_error[0]) {
            snprintf(s->last_error, sizeof s->last_error, "cannot load the signing key: %.*s", (int)(sizeof s->last_error - 40), s->key_error);
            s->progress.last_error = s->last_error;
            s->dirty = true;
            say(d, "error", s, "subscription %lld: %s", (long long)s->id, s->last_error);
        }
    }
    d->n_subs = kept;
    unsigned active = 0;
    for (size_t i = 0; i < d->n_subs; i++)
        active += d->subs[i]->leased && d->subs[i]->state == LV_SUB_ACTIVE;
    if (d->opt.active && active != d->active) {
        d->active = active;
        d->opt.active(d->opt.log_ctx, active);
    }
    return rc;
}

/* ---- the lag, for the metrics ---- */

typedef struct lag_ctx {
    const dl_spec *spec;
    int64_t events, oldest, scanned;
} lag_ctx;

static lv_status lag_row(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    lag_ctx *l = ctx;
    l->scanned++;
    if (dl_spec_matches(l->spec, ev)) {
        if (!l->events || ev->received_ms < l->oldest)
            l->oldest = ev->received_ms;
        l->events++;
    }
    return LV_OK;
}

static void measure_lag(lv_deliverer *d, dsub *s, int64_t now)
{
    lag_ctx l = { .spec = &s->spec };
    lv_error err;
    int64_t cursor = s->cursor;
    bool filtered = s->spec.n_events || s->spec.n_courses || s->spec.source_format >= 0;
    if (!filtered) { /* every event is the subscription's: count them, reading none */
        if (d->store->engine->events_count_from(d->store, cursor, &l.events, &l.oldest, &err) != LV_OK)
            return;
    } else if (d->store->engine->events_from(d->store, cursor, LAG_SCAN, false, lag_row, &l, &err) != LV_OK) {
        return;
    }
    int64_t count = 0, next = 0, oldest = 0;
    if (d->store->engine->sub_pending_summary(d->store, s->id, &count, &next, &oldest, &err) != LV_OK)
        return;
    int64_t first = l.events ? l.oldest : 0;
    if (count && oldest && (!first || oldest < first))
        first = oldest;
    pthread_mutex_lock(&d->mlock);
    s->m->lag_events = l.events + count;
    s->m->oldest_s = first ? (double)(now - first) / 1000.0 : 0;
    pthread_mutex_unlock(&d->mlock);
}

/* ---- writing what happened ---- */

static dop *op_push(lv_deliverer *d, dsub *s, op_kind kind)
{
    dop *o = lv_vec_push(&d->ops, 64);
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->sub = s;
    if (kind == OP_ATTEMPT)
        s->attempt_ops++;
    else
        s->pending_ops++;
    return o;
}

static void op_keep(lv_deliverer *d, const char *p, size_t n, size_t out[2])
{
    out[0] = d->op_text.len;
    out[1] = n;
    if (n)
        lv_buf_append(&d->op_text, p, n);
}

static lv_str op_str(const lv_deliverer *d, const size_t t[2])
{
    return (lv_str){ t[1] ? d->op_text.data + t[0] : "", t[1] };
}

static void op_pending_delete(lv_deliverer *d, dsub *s, int64_t event)
{
    dop *o = op_push(d, s, OP_PENDING_DELETE);
    o->p.sub = s->id;
    o->p.event = event;
}

static lv_status write_op(lv_deliverer *d, dop *o, lv_error *err)
{
    lv_store *st = d->store;
    lv_status rc = LV_OK;
    switch (o->kind) {
    case OP_ATTEMPT:
        o->sub->attempt_seen++;
        /* every failure is kept; of the successes, those among the subscription's newest few (what
         * `show` lists): a row per success was a twelfth of a delivery's instructions, and the counts
         * (delivered, failed attempts) are the subscription's counters, not these rows */
        if (!o->failed && o->sub->attempt_ops - o->sub->attempt_seen >= DL_ATTEMPTS_SHOWN)
            return LV_OK;
        o->at.error = op_str(d, o->text[0]);
        return st->engine->sub_attempt_add(st, &o->at, DL_ATTEMPTS_KEPT, err);
    case OP_PENDING_PUT:
        return st->engine->sub_pending_put(st, &o->p, err);
    case OP_PENDING_DELETE:
        return st->engine->sub_pending_delete(st, o->p.sub, o->p.event, err);
    case OP_DEAD:
        o->dead.answer = op_str(d, o->text[0]);
        o->dead.error = op_str(d, o->text[1]);
        rc = st->engine->sub_dead_put(st, &o->dead, err);
        if (rc == LV_OK && o->failed) /* it was waiting in sub_pending */
            rc = st->engine->sub_pending_delete(st, o->dead.sub, o->dead.event, err);
        return rc;
    }
    return rc;
}

/* Forgets the outcomes not written (after a flush, or when the store failed: their events are sent
 * again, since the cursor did not move past them). */
static void drop_ops(lv_deliverer *d)
{
    d->ops.n = 0;
    lv_buf_reset(&d->op_text);
    for (size_t i = 0; i < d->n_subs; i++)
        d->subs[i]->pending_ops = d->subs[i]->attempt_ops = d->subs[i]->attempt_seen = 0;
}

/* The cursor: the first fresh event still in flight, else the next one to read. */
static int64_t cursor_of(const dsub *s)
{
    int64_t c = s->scan;
    for (unsigned i = 0; i < DL_MAX_PARALLEL; i++)
        if (s->slots[i].busy && s->slots[i].fresh && s->slots[i].event < c)
            c = s->slots[i].event;
    return c;
}

static void progress_reset(dsub *s)
{
    s->progress = (lv_sub_progress){ .failing_since_ms = -1, .last_success_ms = -1 };
    s->dirty = false;
}

/* Whether anything waits to be written: outcomes, or a subscription whose cursor or counters moved. */
static bool unwritten(lv_deliverer *d)
{
    bool any = d->ops.n > 0;
    for (size_t i = 0; i < d->n_subs; i++) {
        dsub *s = d->subs[i];
        if (cursor_of(s) != s->cursor)
            s->dirty = true;
        any = any || s->dirty;
    }
    return any;
}

/* Writes what happened since the last flush, in one transaction: the outcomes in order, then each
 * subscription's cursor and counters. Without wait, a store locked by another writer puts it off. */
static lv_status flush_timed(lv_deliverer *d, bool wait, lv_error *err);

/* Writes what waits (flush_timed), timing it when it wrote anything. */
static lv_status flush(lv_deliverer *d, bool wait, lv_error *err)
{
    int64_t t0 = lv_monotonic_us();
    bool any = unwritten(d);
    lv_status rc = flush_timed(d, wait, err);
    if (any)
        lv_hist_observe_us(&d->stages[LV_DSTAGE_FLUSH], lv_monotonic_us() - t0);
    return rc;
}

static lv_status flush_timed(lv_deliverer *d, bool wait, lv_error *err)
{
    int64_t now = lv_now_ms();
    d->last_flush = now;
    if (!unwritten(d)) {
        d->flush_put_off = 0;
        return LV_OK;
    }
    bool try_only = !wait && (!d->flush_put_off || now - d->flush_put_off < FLUSH_WAIT_MS);
    if (try_only)
        lv_store_set_lock_wait(d->store, false);
    lv_status rc = lv_store_begin(d->store, err);
    if (try_only)
        lv_store_set_lock_wait(d->store, true);
    if (rc == LV_EBUSY && try_only) {
        if (!d->flush_put_off)
            d->flush_put_off = now;
        d->last_flush = now - FLUSH_MS + FLUSH_RETRY_MS;
        return LV_OK;
    }
    d->flush_put_off = 0;
    d->in_txn = rc == LV_OK;
    for (size_t i = 0; rc == LV_OK && i < d->ops.n; i++)
        rc = write_op(d, &d->ops.items[i], err);
    drop_ops(d);
    for (size_t i = 0; rc == LV_OK && i < d->n_subs; i++) {
        dsub *s = d->subs[i];
        int64_t c = cursor_of(s);
        if (!s->dirty)
            continue;
        s->progress.cursor = c;
        if ((rc = d->store->engine->sub_progress(d->store, s->id, &s->progress, err)) != LV_OK)
            break;
        if (s->disable && (rc = d->store->engine->sub_set_state(d->store, s->id, LV_SUB_DISABLED, s->disable_why, err)) != LV_OK)
            break;
    }
    if (rc == LV_OK && d->in_txn)
        rc = lv_store_commit(d->store, err);
    if (rc != LV_OK && d->in_txn)
        lv_store_rollback(d->store);
    d->in_txn = false;
    if (rc == LV_OK) {
        for (size_t i = 0; i < d->n_subs; i++) {
            dsub *s = d->subs[i];
            if (s->dirty) {
                s->cursor = s->progress.cursor;
                if (s->disable) {
                    s->state = LV_SUB_DISABLED;
                    say(d, "warn", s, "subscription %lld is disabled: %s", (long long)s->id, s->disable_why);
                    s->disable = false;
                }
                progress_reset(s);
            }
        }
    }
    return rc;
}

/* ---- starting attempts ---- */

static size_t on_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    dattempt *a = userdata;
    size_t n = size * nmemb;
    if (a->answer.len < DL_ANSWER_KEPT)
        lv_buf_append(&a->answer, ptr, n < DL_ANSWER_KEPT - a->answer.len ? n : DL_ANSWER_KEPT - a->answer.len);
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    dattempt *a = userdata;
    size_t n = size * nmemb;
    if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        char v[128];
        size_t len = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
        memcpy(v, ptr + 12, len);
        v[len] = '\0';
        char *p = v;
        while (*p == ' ' || *p == '\t')
            p++;
        p[strcspn(p, "\r\n")] = '\0';
        char *end;
        long secs = strtol(p, &end, 10);
        if (end != p && *end == '\0' && secs >= 0) {
            a->retry_after_ms = secs * 1000LL;
        } else {
            time_t t = lv_curl.curl_getdate(p, NULL);
            if (t > 0)
                a->retry_after_ms = (int64_t)t * 1000 - lv_now_ms();
            if (a->retry_after_ms < 0 && t > 0)
                a->retry_after_ms = 0;
        }
    }
    return n;
}

static dattempt *free_slot(dsub *s)
{
    for (unsigned i = 0; i < s->spec.parallel && i < DL_MAX_PARALLEL; i++)
        if (!s->slots[i].busy)
            return &s->slots[i];
    return NULL;
}

static bool event_in_flight(const dsub *s, int64_t event)
{
    for (unsigned i = 0; i < DL_MAX_PARALLEL; i++)
        if (s->slots[i].busy && s->slots[i].event == event)
            return true;
    return false;
}

static lv_status record_dead(lv_deliverer *d, dsub *s, int64_t event, int64_t attempts, int64_t status,
                             const char *answer, size_t answer_len, const char *error, int64_t first_ms, int64_t now,
                             bool was_pending, lv_error *err);

/* Starts delivering one event (ev read from the store). Returns LV_OK when it was started, skipped or
 * set aside; an error of the store otherwise. */
static lv_status start(lv_deliverer *d, dsub *s, const lv_event_ref *ev, bool fresh, int64_t attempts_before,
                       int64_t first_attempt_ms, int64_t now, lv_error *err)
{
    dattempt *a = free_slot(s);
    if (!a)
        return LV_OK;
    lv_error berr;
    lv_status rc = dl_request_build(&s->spec, s->id, ev, s->key, now, &a->req, &berr);
    if (rc == LV_EDAMAGED || rc == LV_EINVAL) {
        /* this event cannot be sent (its document cannot be read or converted): give up on it */
        say(d, "error", s, "subscription %lld cannot send event %lld: %s", (long long)s->id, (long long)ev->id, berr.msg);
        return record_dead(d, s, ev->id, attempts_before, 0, "", 0, berr.msg, first_attempt_ms ? first_attempt_ms : now,
                           now, !fresh, err);
    }
    if (rc != LV_OK) {
        *err = berr;
        return rc;
    }
    if (a->req.skip) {
        s->progress.skipped++;
        s->dirty = true;
        pthread_mutex_lock(&d->mlock);
        s->m->skipped++;
        pthread_mutex_unlock(&d->mlock);
        if (!fresh) {
            op_pending_delete(d, s, ev->id);
            s->pending--;
        }
        return LV_OK;
    }
    if (!a->easy && !(a->easy = lv_curl.curl_easy_init()))
        return lv_fail(err, LV_EINTERNAL, "libcurl could not allocate a request");
    a->headers = lv_curl.curl_slist_append(NULL, "Expect:");
    for (char *line = a->req.headers.data, *end; line && *line; line = end + 1) {
        end = strchr(line, '\n');
        *end = '\0';
        struct curl_slist *more = lv_curl.curl_slist_append(a->headers, line);
        *end = '\n';
        if (!more)
            return lv_fail(err, LV_EINTERNAL, "libcurl could not allocate a header");
        a->headers = more;
    }
    lv_buf_reset(&a->answer);
    a->errbuf[0] = '\0';
    a->retry_after_ms = -1;
    a->sub = s;
    a->event = ev->id;
    a->received_ms = ev->received_ms;
    a->fresh = fresh;
    a->attempts_before = attempts_before;
    a->first_attempt_ms = first_attempt_ms ? first_attempt_ms : now;
    a->started_ms = now;
    a->started_us = lv_monotonic_us();
    if (fresh && !attempts_before) /* acknowledged -> sent (received_ms: when the journal acknowledged it) */
        lv_hist_observe_us(&d->stages[LV_DSTAGE_QUEUED], (lv_now_ms() - ev->received_ms) * 1000);
    snprintf(a->name, sizeof a->name, "%.*s", (int)(ev->name.n < 127 ? ev->name.n : 127), ev->name.p);
    CURL *c = a->easy;
    /* What is the same for every request of the subscription is set once per handle (resetting and
     * setting it all again was a twentieth of a delivery's instructions); options stay set across
     * transfers. */
    bool ok = true;
    if (a->gen != s->spec_gen) {
        lv_curl.curl_easy_reset(c);
        ok = lv_curl.curl_easy_setopt(c, CURLOPT_URL, s->spec.url) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s->spec.timeout_ms) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_WRITEDATA, a) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_HEADERDATA, a) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->errbuf) == CURLE_OK &&
             lv_curl.curl_easy_setopt(c, CURLOPT_PRIVATE, a) == CURLE_OK;
        a->gen = ok ? s->spec_gen : 0;
    }
    ok = ok && lv_curl.curl_easy_setopt(c, CURLOPT_HTTPHEADER, a->headers) == CURLE_OK &&
         lv_curl.curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->req.body.data ? a->req.body.data : "") == CURLE_OK &&
         lv_curl.curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->req.body.len) == CURLE_OK;
    if (!ok || lv_curl.curl_multi_add_handle(d->multi, c) != CURLM_OK) {
        lv_curl.curl_slist_free_all(a->headers);
        a->headers = NULL;
        return lv_fail(err, LV_EINTERNAL, "libcurl does not accept the request to %s", s->spec.url);
    }
    a->busy = true;
    s->in_flight++;
    return LV_OK;
}

/* Reading events: past the cursor, or one event for a pending attempt. */
typedef struct read_ctx {
    lv_deliverer *d;
    dsub *s;
    int64_t now;
    bool full;            /* the slots filled: rows after this one are read again next time */
    const lv_sub_pending_row *pending;
    bool found;
    lv_status rc;
    lv_error err;
} read_ctx;

static lv_status on_fresh(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    read_ctx *r = ctx;
    dsub *s = r->s;
    if (!free_slot(s) || (s->spec.parallel == 1 && (s->pending > 0 || s->in_flight))) {
        r->full = true;
        return LV_ENOTFOUND; /* stop here: this row is read again */
    }
    s->scan = ev->id + 1;
    if (!dl_spec_matches(&s->spec, ev))
        return LV_OK;
    return start(r->d, s, ev, true, 0, 0, r->now, err);
}

static lv_status on_pending_event(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    read_ctx *r = ctx;
    r->found = true;
    dsub *s = r->s;
    if (!dl_spec_matches(&s->spec, ev)) { /* a replay queues the window's every event: not this one's */
        op_pending_delete(r->d, s, ev->id);
        s->pending--;
        return LV_OK;
    }
    return start(r->d, s, ev, false, r->pending->attempts, r->pending->first_attempt_ms, r->now, err);
}

/* ---- reading events through the cache ---- */

/* The least recently used batch that no one is reading, but `keep`. */
static ev_batch *cache_victim(lv_deliverer *d, const ev_batch *keep)
{
    ev_batch *lru = NULL;
    for (size_t i = 0; i < CACHE_BATCHES; i++) {
        ev_batch *b = &d->cache[i];
        if (b != keep && !b->filling && (!lru || b->used < lru->used))
            lru = b;
    }
    return lru;
}

/* The batch holding the stored event `from` (or the first after it), read into the cache when no batch
 * holds it; NULL when nothing is stored from there on. Then the reader thread is asked for the batch
 * after it, unless the cache has it or this one ended at the last event stored. */
static lv_status cache_at(lv_deliverer *d, int64_t from, ev_batch **out, lv_error *err)
{
    *out = NULL;
    ev_batch *hit = NULL;
    pthread_mutex_lock(&d->clock);
    while (d->request && d->request->want == from) /* being read: wait for it rather than read it twice */
        pthread_cond_wait(&d->cdone, &d->clock);
    for (size_t i = 0; !hit && i < CACHE_BATCHES; i++) {
        ev_batch *b = &d->cache[i];
        if (!b->filling && b->from <= from && from < b->to)
            hit = b;
    }
    ev_batch *b = hit ? hit : cache_victim(d, NULL);
    pthread_mutex_unlock(&d->clock);
    if (!hit) {
        int64_t t0 = lv_monotonic_us();
        lv_status rc = batch_read(d->store, b, from, err);
        lv_hist_observe_us(&d->stages[LV_DSTAGE_READ], lv_monotonic_us() - t0);
        if (rc != LV_OK || !b->rows.n)
            return rc;
    }
    b->used = ++d->cache_clock;
    *out = b;
    if (b->rows.n < READ_AHEAD)
        return LV_OK; /* the last events stored: what comes next is not there yet */
    pthread_mutex_lock(&d->clock);
    bool have = d->request != NULL;
    for (size_t i = 0; !have && i < CACHE_BATCHES; i++)
        have = !d->cache[i].filling && d->cache[i].from <= b->to && b->to < d->cache[i].to;
    ev_batch *next = have ? NULL : cache_victim(d, b);
    if (next) {
        next->filling = true;
        next->want = b->to;
        next->from = next->to = 0;
        next->used = ++d->cache_clock;
        d->request = next;
        pthread_cond_broadcast(&d->cdone);
    }
    pthread_mutex_unlock(&d->clock);
    return LV_OK;
}

/* Forgets what was read (a store written again from elsewhere: a restore). */
static void cache_clear(lv_deliverer *d)
{
    pthread_mutex_lock(&d->clock);
    for (size_t i = 0; i < CACHE_BATCHES; i++)
        if (!d->cache[i].filling) {
            d->cache[i].from = d->cache[i].to = 0;
            d->cache[i].rows.n = 0;
        }
    pthread_mutex_unlock(&d->clock);
}

typedef struct due_list {
    lv_sub_pending_row v[DL_MAX_PARALLEL];
    size_t n;
} due_list;

static lv_status on_due(void *ctx, const lv_sub_pending_row *row, lv_error *err)
{
    (void)err;
    due_list *l = ctx;
    if (l->n < DL_MAX_PARALLEL)
        l->v[l->n++] = *row;
    return LV_OK;
}

/* ---- replays: a window walked a chunk at a time ---- */

typedef struct replay_read {
    const dl_spec *spec;
    int64_t ids[REPLAY_CHUNK];
    size_t n;
    unsigned read;
    int64_t at_time;
    unsigned char at[LV_HASH_BYTES];
} replay_read;

static lv_status on_replay_row(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    replay_read *r = ctx;
    r->read++;
    r->at_time = ev->time_ms;
    memcpy(r->at, ev->hash, LV_HASH_BYTES);
    if (dl_spec_matches(r->spec, ev) && r->n < REPLAY_CHUNK)
        r->ids[r->n++] = ev->id;
    return LV_OK;
}

/* Queues the next chunk of the subscription's oldest replay as pending (due now) and moves the replay
 * past it, or removes it at its end, in one transaction of its own. */
static lv_status replay_step(lv_deliverer *d, dsub *s, int64_t now, lv_error *err)
{
    lv_status rc = flush(d, true, err); /* what waits is written first, outside this transaction */
    if (rc != LV_OK)
        return rc;
    lv_store *st = d->store;
    if ((rc = lv_store_begin(st, err)) != LV_OK)
        return rc;
    d->in_txn = true;
    lv_sub_replay_row w;
    bool found = false;
    replay_read r = { .spec = &s->spec };
    int64_t added = 0;
    rc = st->engine->sub_replay_next(st, s->id, &w, &found, err);
    if (rc == LV_OK && found)
        rc = st->engine->events_between(st, w.since_ms, w.until_ms, w.at_time_ms, w.started ? w.at_hash : NULL,
                                        REPLAY_CHUNK, on_replay_row, &r, err);
    for (size_t i = 0; rc == LV_OK && i < r.n; i++) {
        bool queued = false; /* not when it waits for a retry already: it is sent then */
        rc = st->engine->sub_pending_add(st, s->id, r.ids[i], now, &queued, err);
        added += queued;
    }
    bool done = r.read < REPLAY_CHUNK;
    if (rc == LV_OK && found)
        rc = st->engine->sub_replay_advance(st, w.id, r.at_time, r.at, done, err);
    if (rc == LV_OK)
        rc = lv_store_commit(st, err);
    else
        lv_store_rollback(st);
    d->in_txn = false;
    if (rc != LV_OK)
        return rc;
    if (!found)
        s->replays = 0;
    else if (done && s->replays > 0)
        s->replays--;
    s->pending += added;
    if (added)
        s->next_pending_check = 0;
    return LV_OK;
}

/* Whether the subscription is delivered from here now. */
static bool deliverable(const dsub *s)
{
    return s->state == LV_SUB_ACTIVE && s->leased && !s->disable && !s->broken && !(s->spec.sign_key && !s->key);
}

static lv_status fill(lv_deliverer *d, dsub *s, int64_t now, lv_error *err)
{
    if (!deliverable(s))
        return LV_OK;
    lv_status rc = LV_OK;
    /* a replay's next events, once fewer than a chunk wait */
    for (int k = 0; rc == LV_OK && k < REPLAY_STEPS && s->replays > 0 && s->pending < REPLAY_CHUNK; k++)
        rc = replay_step(d, s, now, err);
    if (rc != LV_OK)
        return rc;
    /* events waiting for another attempt first (retries, replays, redeliveries), as the store has them
     * once what changed them is written */
    if (free_slot(s) && s->pending > 0 && now >= s->next_pending_check && s->pending_ops &&
        (rc = flush(d, true, err)) != LV_OK)
        return rc;
    if (free_slot(s) && s->pending > 0 && now >= s->next_pending_check) {
        due_list due = { 0 };
        unsigned want = s->spec.parallel + s->in_flight;
        if ((rc = d->store->engine->sub_pending_due(d->store, s->id, now, want, on_due, &due, err)) != LV_OK)
            return rc;
        size_t started = 0;
        for (size_t i = 0; rc == LV_OK && i < due.n && free_slot(s); i++) {
            if (event_in_flight(s, due.v[i].event))
                continue;
            read_ctx r = { .d = d, .s = s, .now = now, .pending = &due.v[i] };
            rc = d->store->engine->event_ref(d->store, due.v[i].event, on_pending_event, &r, err);
            if (rc == LV_OK && !r.found) { /* the event is gone from the store (pruned) */
                op_pending_delete(d, s, due.v[i].event);
                s->pending--;
            }
            started++;
        }
        if (due.n < want || !started)
            s->next_pending_check = now + (d->opt.poll_ms < 250 ? d->opt.poll_ms : 250);
    }
    if (rc != LV_OK)
        return rc;
    /* then the events past the cursor; with parallel 1, only when nothing else waits (strict order) */
    for (int rounds = 0; rc == LV_OK && rounds < 8 && free_slot(s); rounds++) {
        if (s->spec.parallel == 1 && (s->pending > 0 || s->in_flight))
            break;
        read_ctx r = { .d = d, .s = s, .now = now };
        int64_t before = s->scan;
        ev_batch *b;
        if ((rc = cache_at(d, s->scan, &b, err)) != LV_OK || !b)
            break; /* nothing new */
        for (size_t i = 0; rc == LV_OK && i < b->rows.n; i++)
            if (b->rows.items[i].ref.id >= s->scan)
                rc = on_fresh(&r, &b->rows.items[i].ref, err);
        if (rc == LV_ENOTFOUND && r.full)
            rc = LV_OK;
        if (s->scan == before)
            break;
    }
    return rc;
}

/* ---- finishing attempts ---- */

static int64_t backoff(lv_deliverer *d, const dsub *s, int64_t attempts, int64_t retry_after_ms)
{
    int64_t cap = s->spec.retry_min_ms;
    for (int64_t i = 1; i < attempts && cap < s->spec.retry_max_ms; i++)
        cap *= 2;
    if (cap > s->spec.retry_max_ms)
        cap = s->spec.retry_max_ms;
    int64_t wait = (int64_t)lv_prng_below(&d->jitter, (uint64_t)cap + 1); /* full jitter */
    if (wait < s->spec.retry_min_ms)
        wait = s->spec.retry_min_ms;
    if (retry_after_ms >= 0) {
        int64_t ra = retry_after_ms < s->spec.retry_max_ms ? retry_after_ms : s->spec.retry_max_ms;
        if (ra > wait)
            wait = ra;
    }
    return wait;
}

static lv_status record_dead(lv_deliverer *d, dsub *s, int64_t event, int64_t attempts, int64_t status,
                             const char *answer, size_t answer_len, const char *error, int64_t first_ms, int64_t now,
                             bool was_pending, lv_error *err)
{
    (void)err;
    dop *o = op_push(d, s, OP_DEAD);
    o->dead = (lv_sub_dead_row){ .sub = s->id, .event = event, .attempts = attempts, .status = status,
                                 .first_attempt_ms = first_ms, .last_attempt_ms = now };
    o->failed = was_pending;
    op_keep(d, answer, answer_len, o->text[0]);
    op_keep(d, error, strlen(error), o->text[1]);
    if (was_pending)
        s->pending--;
    s->dirty = true;
    pthread_mutex_lock(&d->mlock);
    s->m->dead++;
    pthread_mutex_unlock(&d->mlock);
    return LV_OK;
}

static void observe(lv_deliverer *d, double seconds)
{
    size_t i = 0;
    while (i < N_BOUNDS && seconds > hist_bounds[i])
        i++;
    d->hist[i]++;
    d->hist_sum += seconds;
    d->hist_count++;
}

static lv_status finish(lv_deliverer *d, dattempt *a, CURLcode result, lv_error *err)
{
    dsub *s = a->sub;
    int64_t now = lv_now_ms();
    long status = 0;
    if (result == CURLE_OK)
        lv_curl.curl_easy_getinfo(a->easy, CURLINFO_RESPONSE_CODE, &status);
    int64_t attempts = a->attempts_before + 1;
    char why[LV_ERROR_MAX];
    why[0] = '\0';
    if (result != CURLE_OK)
        snprintf(why, sizeof why, "%s", a->errbuf[0] ? a->errbuf : lv_curl.curl_easy_strerror(result));
    else if (status < 200 || status >= 300)
        snprintf(why, sizeof why, "the target answered HTTP %ld", status);
    lv_status rc = LV_OK;
    dop *o = op_push(d, s, OP_ATTEMPT);
    o->at = (lv_sub_attempt_row){ .sub = s->id, .event = a->event, .at_ms = a->started_ms, .status = status,
                                  .latency_ms = now - a->started_ms };
    op_keep(d, why, strlen(why), o->text[0]);
    int cls = result != CURLE_OK ? 3 : status >= 200 && status < 300 ? 0 : status >= 400 && status < 500 ? 1 : 2;
    pthread_mutex_lock(&d->mlock);
    s->m->attempts[cls]++;
    if (cls == 0) {
        s->m->delivered++;
        observe(d, (double)(now - a->received_ms) / 1000.0);
        lv_hist_observe_us(&d->stages[LV_DSTAGE_REQUEST], lv_monotonic_us() - a->started_us);
        if (a->fresh && !a->attempts_before)
            lv_hist_observe_us(&d->stages[LV_DSTAGE_DELIVERED], (now - a->received_ms) * 1000);
    }
    pthread_mutex_unlock(&d->mlock);
    o->failed = cls != 0;
    s->dirty = true;
    if (cls == 0) {
        s->progress.delivered++;
        s->progress.last_success_ms = now;
        s->progress.failing_since_ms = 0;
        s->failing_since_ms = 0;
        if (!a->fresh) {
            op_pending_delete(d, s, a->event);
            s->pending--;
        }
        slot_release(d, a);
        return LV_OK;
    }
    s->progress.failed_attempts++;
    if (!s->failing_since_ms)
        s->failing_since_ms = s->progress.failing_since_ms = a->started_ms;
    snprintf(s->last_error, sizeof s->last_error, "%s (event %lld, attempt %lld)", why, (long long)a->event,
             (long long)attempts);
    s->progress.last_error = s->last_error;
    bool retryable = result != CURLE_OK || status == 408 || status == 429 || status >= 500;
    if (status == 410) {
        snprintf(s->disable_why, sizeof s->disable_why, "the target answered 410 Gone");
        s->disable = true;
        retryable = true; /* kept for when it is resumed */
    }
    if (!retryable && status >= 300 && status < 400)
        snprintf(why, sizeof why, "the target answered HTTP %ld (a redirect: levee does not follow redirects; give the "
                                  "final URL)", status);
    if (retryable && !s->disable && now - a->received_ms >= s->spec.max_age_ms) {
        char aged[LV_ERROR_MAX + 128];
        snprintf(aged, sizeof aged, "%s; given up after %lld attempts: the event waited longer than the max age", why,
                 (long long)attempts);
        rc = record_dead(d, s, a->event, attempts, status, a->answer.data ? a->answer.data : "", a->answer.len, aged,
                         a->first_attempt_ms, now, !a->fresh, err);
    } else if (retryable) {
        lv_sub_pending_row p = { .sub = s->id, .event = a->event, .attempts = attempts,
                                 .first_attempt_ms = a->first_attempt_ms,
                                 .next_ms = now + backoff(d, s, attempts, a->retry_after_ms) };
        op_push(d, s, OP_PENDING_PUT)->p = p;
        if (a->fresh)
            s->pending++;
        if (p.next_ms < s->next_pending_check || s->next_pending_check <= now)
            s->next_pending_check = p.next_ms;
    } else {
        rc = record_dead(d, s, a->event, attempts, status, a->answer.data ? a->answer.data : "", a->answer.len, why,
                         a->first_attempt_ms, now, !a->fresh, err);
    }
    if (rc == LV_OK && s->failing_since_ms && now - s->failing_since_ms >= s->spec.disable_after_ms && !s->disable) {
        char since[LV_TIME_TEXT_MAX];
        lv_time_format_seconds(s->failing_since_ms, since);
        snprintf(s->disable_why, sizeof s->disable_why, "every attempt has failed since %s (disable-after)", since);
        s->disable = true;
    }
    slot_release(d, a);
    return rc;
}

static lv_status finish_done(lv_deliverer *d, unsigned *finished, lv_error *err)
{
    lv_status rc = LV_OK;
    CURLMsg *m;
    int left;
    *finished = 0;
    while ((m = lv_curl.curl_multi_info_read(d->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        (*finished)++;
        dattempt *a = NULL;
        lv_curl.curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
        CURLcode result = m->data.result;
        if (a && a->busy && rc == LV_OK)
            rc = finish(d, a, result, err);
        else if (a && a->busy)
            slot_release(d, a); /* not recorded: it will be sent again */
    }
    return rc;
}

/* After a failure to write: forget what is in flight and start again from what the store holds. */
static void resync(lv_deliverer *d)
{
    for (size_t i = 0; i < d->n_subs; i++) {
        dsub *s = d->subs[i];
        for (unsigned j = 0; j < DL_MAX_PARALLEL; j++)
            if (s->slots[j].busy)
                slot_release(d, &s->slots[j]);
        s->scan = s->cursor;
        s->next_pending_check = 0;
        progress_reset(s);
        s->disable = false;
    }
    drop_ops(d);
    cache_clear(d);
    d->next_reload = 0;
}

/* A subscription to disable: written at once. */
static bool disabling(const lv_deliverer *d)
{
    for (size_t i = 0; i < d->n_subs; i++)
        if (d->subs[i]->disable)
            return true;
    return false;
}

static unsigned total_in_flight(const lv_deliverer *d)
{
    unsigned n = 0;
    for (size_t i = 0; i < d->n_subs; i++)
        n += d->subs[i]->in_flight;
    return n;
}

static void drain_wake(lv_deliverer *d)
{
    char buf[64];
    while (read(d->wake[0], buf, sizeof buf) > 0)
        ;
}

lv_status lv_deliverer_run(lv_deliverer *d, int64_t grace_ms, lv_error *err)
{
    int64_t next_lag = 0, stop_by = 0;
    lv_status rc = LV_OK;
    int failures = 0;
    for (;;) {
        int64_t now = lv_now_ms();
        bool stopping = atomic_load(&d->stopping);
        if (stopping && !stop_by)
            stop_by = now + grace_ms;
        if (stopping && (!total_in_flight(d) || now >= stop_by))
            break;
        lv_error e;
        rc = LV_OK;
        if (!stopping && now >= d->next_reload) {
            rc = flush(d, true, &e); /* what is written first: a reload may let a subscription go */
            int64_t t0 = lv_monotonic_us();
            if (rc == LV_OK)
                rc = reload(d, now, &e);
            lv_hist_observe_us(&d->stages[LV_DSTAGE_RELOAD], lv_monotonic_us() - t0);
            d->next_reload = now + RELOAD_MS;
        }
        for (size_t i = 0; rc == LV_OK && !stopping && i < d->n_subs; i++)
            rc = fill(d, d->subs[i], now, &e);
        int running = 0;
        unsigned finished = 0;
        if (rc == LV_OK)
            lv_curl.curl_multi_perform(d->multi, &running);
        if (rc == LV_OK)
            rc = finish_done(d, &finished, &e);
        int64_t flush_in = FLUSH_MS - (lv_now_ms() - d->last_flush);
        if (rc == LV_OK && (flush_in <= 0 || d->ops.n >= FLUSH_OPS || disabling(d)))
            rc = flush(d, d->ops.n >= FLUSH_OPS, &e);
        if (rc != LV_OK) {
            if (d->in_txn)
                lv_store_rollback(d->store);
            d->in_txn = false;
            if (rc == LV_EDAMAGED) {
                *err = e;
                resync(d);
                return rc;
            }
            /* the store is busy or failing: what is in flight is sent again once it answers */
            if (failures++ % 20 == 0)
                say(d, "error", NULL, "delivery cannot use the store: %s; retrying", e.msg);
            resync(d);
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        if (now >= next_lag) {
            int64_t t0 = lv_monotonic_us();
            for (size_t i = 0; i < d->n_subs; i++)
                if (d->subs[i]->leased)
                    measure_lag(d, d->subs[i], now);
            lv_hist_observe_us(&d->stages[LV_DSTAGE_RELOAD], lv_monotonic_us() - t0);
            next_lag = now + RELOAD_MS;
        }
        /* slots freed: fill them again at once (with parallel 1, the next event waits for nothing else) */
        int timeout = finished ? 0 : (int)d->opt.poll_ms;
        if (timeout && unwritten(d)) { /* written within FLUSH_MS, even when nothing else happens */
            flush_in = FLUSH_MS - (lv_now_ms() - d->last_flush);
            timeout = flush_in < 1 ? 1 : flush_in < timeout ? (int)flush_in : timeout;
        }
        for (size_t i = 0; i < d->n_subs; i++) {
            dsub *s = d->subs[i];
            if (s->replays > 0 && s->pending < REPLAY_CHUNK && deliverable(s))
                timeout = 0; /* more of a replay to walk */
            if (s->pending > 0 && s->state == LV_SUB_ACTIVE && s->leased && free_slot(s)) {
                int64_t wait = s->next_pending_check - lv_now_ms();
                if (wait < timeout)
                    timeout = wait < 1 ? (finished ? 0 : 1) : (int)wait;
            }
        }
        struct curl_waitfd extra = { .fd = d->wake[0], .events = CURL_WAIT_POLLIN };
        int numfds = 0;
        lv_curl.curl_multi_poll(d->multi, &extra, 1, timeout, &numfds);
        if (extra.revents)
            drain_wake(d);
    }
    /* stopped: record what finished; what is still in flight is sent again later, so the cursor stays
     * before the first of it */
    lv_error e;
    for (size_t i = 0; i < d->n_subs; i++) {
        dsub *s = d->subs[i];
        s->scan = cursor_of(s);
        for (unsigned j = 0; j < DL_MAX_PARALLEL; j++)
            if (s->slots[j].busy)
                slot_release(d, &s->slots[j]);
    }
    rc = flush(d, true, &e);
    for (size_t i = 0; i < d->n_subs; i++)
        if (d->subs[i]->leased)
            d->store->engine->sub_release(d->store, d->subs[i]->id, d->owner, &e);
    if (rc != LV_OK)
        *err = e;
    return rc;
}

void lv_deliverer_metrics(lv_deliverer *d, lv_buf *out)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mlock);
    static const char *const classes[] = { "2xx", "4xx", "5xx", "error" };
    lv_buf_puts(out, "# HELP levee_deliveries_total Events delivered onward, by subscription and outcome.\n"
                     "# TYPE levee_deliveries_total counter\n");
    for (size_t i = 0; i < d->n_metrics; i++) {
        const sub_metrics *m = &d->metrics[i];
        lv_buf_printf(out, "levee_deliveries_total{subscription=\"%lld\",outcome=\"delivered\"} %llu\n",
                      (long long)m->id, (unsigned long long)m->delivered);
        lv_buf_printf(out, "levee_deliveries_total{subscription=\"%lld\",outcome=\"dead_letter\"} %llu\n",
                      (long long)m->id, (unsigned long long)m->dead);
        lv_buf_printf(out, "levee_deliveries_total{subscription=\"%lld\",outcome=\"skipped\"} %llu\n",
                      (long long)m->id, (unsigned long long)m->skipped);
    }
    lv_buf_puts(out, "# HELP levee_delivery_attempts_total Delivery attempts, by subscription and result.\n"
                     "# TYPE levee_delivery_attempts_total counter\n");
    for (size_t i = 0; i < d->n_metrics; i++)
        for (int c = 0; c < 4; c++)
            lv_buf_printf(out, "levee_delivery_attempts_total{subscription=\"%lld\",result=\"%s\"} %llu\n",
                          (long long)d->metrics[i].id, classes[c], (unsigned long long)d->metrics[i].attempts[c]);
    lv_buf_puts(out, "# HELP levee_delivery_lag_events Matching events a subscription has not delivered yet.\n"
                     "# TYPE levee_delivery_lag_events gauge\n");
    for (size_t i = 0; i < d->n_metrics; i++)
        lv_buf_printf(out, "levee_delivery_lag_events{subscription=\"%lld\"} %lld\n", (long long)d->metrics[i].id,
                      (long long)d->metrics[i].lag_events);
    lv_buf_puts(out, "# HELP levee_delivery_oldest_undelivered_seconds Age of the oldest event a subscription has "
                     "not delivered.\n# TYPE levee_delivery_oldest_undelivered_seconds gauge\n");
    for (size_t i = 0; i < d->n_metrics; i++)
        lv_buf_printf(out, "levee_delivery_oldest_undelivered_seconds{subscription=\"%lld\"} %.3f\n",
                      (long long)d->metrics[i].id, d->metrics[i].oldest_s);
    lv_buf_puts(out, "# HELP levee_delivery_seconds Time from an event's acknowledgement to its delivery.\n"
                     "# TYPE levee_delivery_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        cum += d->hist[i];
        lv_buf_printf(out, "levee_delivery_seconds_bucket{le=\"%g\"} %llu\n", hist_bounds[i], (unsigned long long)cum);
    }
    cum += d->hist[N_BOUNDS];
    lv_buf_printf(out, "levee_delivery_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    lv_buf_printf(out, "levee_delivery_seconds_sum %.6f\nlevee_delivery_seconds_count %llu\n", d->hist_sum,
                  (unsigned long long)d->hist_count);
    pthread_mutex_unlock(&d->mlock);
}

lv_hist *lv_deliverer_stage(lv_deliverer *d, lv_dstage stage)
{
    return d ? &d->stages[stage] : NULL;
}

void lv_deliverer_free(lv_deliverer *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->clock);
    d->reader_stop = true;
    pthread_cond_broadcast(&d->cdone);
    pthread_cond_broadcast(&d->ckpt_wake);
    pthread_mutex_unlock(&d->clock);
    if (d->reader_started)
        pthread_join(d->reader, NULL);
    if (d->ckpt_started)
        pthread_join(d->ckpt, NULL);
    if (d->read_store)
        lv_store_close(d->read_store);
    if (d->ckpt_store)
        lv_store_close(d->ckpt_store);
    pthread_cond_destroy(&d->ckpt_wake);
    pthread_cond_destroy(&d->cdone);
    pthread_mutex_destroy(&d->clock);
    for (size_t i = 0; i < d->n_subs; i++)
        sub_free(d, d->subs[i]);
    free(d->subs);
    if (d->multi)
        lv_curl.curl_multi_cleanup(d->multi);
    if (d->store)
        lv_store_close(d->store);
    if (d->wake[0] >= 0)
        close(d->wake[0]);
    if (d->wake[1] >= 0)
        close(d->wake[1]);
    pthread_mutex_destroy(&d->mlock);
    lv_vec_free(&d->ops);
    lv_buf_free(&d->op_text);
    for (size_t i = 0; i < CACHE_BATCHES; i++) {
        lv_vec_free(&d->cache[i].rows);
        lv_buf_free(&d->cache[i].text);
    }
    free(d->metrics);
    free(d->db);
    free(d);
    lv_curl.curl_global_cleanup();
}
