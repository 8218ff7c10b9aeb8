/* applier.c: the thread that applies the journal to the store. It takes whatever is durable (up to
 * a batch), prepares and writes it in one transaction with the new applied offset, and every few
 * seconds syncs the store and deletes the journal segments that are now safely stored. A failure
 * that may pass (another writer holding the store's lock, a full disk, an I/O error) is rolled back
 * and retried with backoff from the offset applied so far; only a damaged store or a failing library
 * stops it for good. */
#include "levee/applier.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BATCH_DOCS 4096

typedef LV_VEC(int64_t) lv_vec_i64;
/* The store is synced (a WAL checkpoint and fsync) only to let journal segments go: when a segment's
 * worth has been applied, or once a minute. Syncing every few seconds stalled the journal's own
 * fsyncs, which acknowledgements wait for. */
#define SYNC_EVERY_MS 60000
#define SYNC_EVERY_BYTES LV_JOURNAL_SEGMENT_BYTES
/* A transaction costs about the same whether it holds a hundred events or thousands (the pages it
 * dirties are mostly the same index pages), so under a steady trickle the applier waits up to this
 * long for a batch's worth of journal before applying what there is. It bounds how late an
 * acknowledged event shows up in queries and the live tail. */
#define LINGER_MS 200
#define LINGER_BYTES ((uint64_t)4 << 20)
/* Waits between attempts after a failure that may pass, doubling from the first to the last. */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 10000
/* Once stopping, how long the applier keeps retrying before it gives up (the journal keeps what was
 * not applied, for the next start). One attempt may itself wait for the store's lock (SQLite's busy
 * timeout), so stopping can take this plus one such wait. */
#define STOP_RETRY_MS 10000

void lv_journal_doc_encode(lv_buf *out, const char *source, uint32_t line, const void *doc, size_t len)
{
    size_t slen = strlen(source);
    if (slen > 65535)
        slen = 65535;
    unsigned char h[2] = { (unsigned char)slen, (unsigned char)(slen >> 8) };
    lv_buf_append(out, h, 2);
    lv_buf_append(out, source, slen);
    unsigned char l[4] = { (unsigned char)line, (unsigned char)(line >> 8), (unsigned char)(line >> 16),
                           (unsigned char)(line >> 24) };
    lv_buf_append(out, l, 4);
    lv_buf_append(out, doc, len);
}

bool lv_journal_doc_decode(const char *payload, size_t len, const char **source, size_t *source_len,
                           uint32_t *line, const char **doc, size_t *doc_len)
{
    const unsigned char *p = (const unsigned char *)payload;
    if (len < 6)
        return false;
    size_t slen = (size_t)p[0] | (size_t)p[1] << 8;
    if (len < 6 + slen)
        return false;
    *source = payload + 2;
    *source_len = slen;
    const unsigned char *l = p + 2 + slen;
    *line = (uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 | (uint32_t)l[3] << 24;
    *doc = payload + 6 + slen;
    *doc_len = len - 6 - slen;
    return true;
}

struct lv_applier {
    lv_store *store;
    lv_journal *journal;
    lv_applied_fn applied;
    void *ctx;
    pthread_t thread;
    atomic_bool stop;
    atomic_int linger_ms;
    bool prompt;          /* the applier's thread runs at an ordinary priority (take_priority) */
    _Atomic uint64_t offset;
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* the backoff waits on it; lv_applier_stop signals it */
    bool failed;          /* stopped for good */
    bool retrying;        /* the last attempt failed and will be retried */
    bool gave_up;         /* stopping: it ran out of time retrying (err says why) */
    lv_error err;         /* why it failed, retries, or gave up */
    uint64_t retries, recoveries;
    lv_hist waits;        /* acknowledged -> stored, per record */
    lv_hist steps[LV_APPLY_STEPS];
    /* the sync thread (sync_store): guarded by lock */
    lv_store *sync_store;
    pthread_t syncer;
    bool syncer_running, syncer_stop;
    pthread_cond_t sync_wake;
    uint64_t sync_want;   /* make the store durable and release the journal up to here (0: nothing asked) */
    lv_status sync_st;    /* a failure of the last sync, for the applier's next turn */
    lv_error sync_err;
};

const char *const lv_apply_step_names[LV_APPLY_STEPS] = { "prepare", "write", "commit", "train", "sync", "release",
                                                          "sync_aside", "release_aside", "read", "begin" };

/* A step that began at t0 (monotonic us) has ended. */
static void step_done(lv_applier *a, lv_apply_step step, int64_t t0)
{
    lv_hist_observe_us(&a->steps[step], lv_monotonic_us() - t0);
}

static int64_t now_ms(void)
{
    return lv_monotonic_us() / 1000;
}

/* Reads durable records into the batch; *next becomes the offset after the last one read. Each
 * document's arrival time is when it was acknowledged, when the journal still knows (acked holds its
 * monotonic time, 0 when unknown). */
static lv_status fill(lv_journal *j, lv_journal_reader *r, lv_batch *b, uint64_t *next, lv_vec_i64 *acked,
                      lv_error *err)
{
    lv_journal_record rec;
    lv_status st = LV_OK;
    char source[300];
    while (lv_batch_docs(b) < BATCH_DOCS && (st = lv_journal_read(r, &rec, err)) == LV_OK) {
        const char *src, *doc;
        size_t src_len, doc_len;
        uint32_t line;
        if (!lv_journal_doc_decode(rec.payload, rec.len, &src, &src_len, &line, &doc, &doc_len)) {
            /* a record that checks but is not framed as a document (levee never writes one): kept as
             * a dead letter with its bytes rather than lost or blocking the rest */
            snprintf(source, sizeof source, "journal@%llu", (unsigned long long)rec.offset);
            lv_batch_add(b, rec.payload, rec.len, source, 0, NULL);
        } else {
            snprintf(source, sizeof source, "%.*s", (int)(src_len > 200 ? 200 : src_len), src);
            if (rec.kind == LV_JOURNAL_OVERSIZED)
                lv_batch_add_oversized(b, (size_t)strtoull(doc, NULL, 10), LV_EVENT_MAX_BYTES, source, line);
            else
                lv_batch_add(b, doc, doc_len, source, line, NULL);
        }
        int64_t at_us = 0, at_ms;
        if (lv_journal_durable_at(j, rec.next, &at_us, &at_ms))
            lv_batch_set_received(b, at_ms);
        *lv_vec_push(acked, 256) = at_us;
        *next = rec.next;
    }
    return st == LV_ENOTFOUND ? LV_OK : st;
}

/* A step succeeded: if the applier was retrying, it has recovered. */
static void recovered(lv_applier *a)
{
    pthread_mutex_lock(&a->lock);
    if (a->retrying) {
        a->retrying = false;
        a->recoveries++;
    }
    pthread_mutex_unlock(&a->lock);
}

/* Writes the batch and the new mark in one transaction; on failure nothing of it is left open. */
static lv_status apply_batch(lv_applier *a, lv_batch *b, lv_zctx *z, uint64_t next, const lv_vec_i64 *acked,
                             lv_error *err)
{
    lv_counts counts = { 0 };
    int64_t t0 = lv_monotonic_us();
    lv_status st = lv_batch_prepare(b, z, lv_store_dict(a->store), err);
    step_done(a, LV_APPLY_PREPARE, t0);
    t0 = lv_monotonic_us();
    if (st == LV_OK)
        st = lv_store_begin(a->store, err);
    step_done(a, LV_APPLY_BEGIN, t0);
    if (st == LV_OK) {
        t0 = lv_monotonic_us();
        st = lv_store_write(a->store, b, &counts, err);
        if (st == LV_OK)
            st = lv_store_set_mark(a->store, LV_JOURNAL_MARK, next, err);
        step_done(a, LV_APPLY_WRITE, t0);
        t0 = lv_monotonic_us();
        if (st == LV_OK)
            st = lv_store_commit(a->store, err);
        step_done(a, LV_APPLY_COMMIT, t0);
        if (st != LV_OK)
            lv_store_rollback(a->store);
    }
    if (st == LV_OK) {
        int64_t now = lv_monotonic_us();
        for (size_t i = 0; i < acked->n; i++)
            if (acked->items[i])
                lv_hist_observe_us(&a->waits, now - acked->items[i]);
        recovered(a); /* before the offset moves, so that whoever sees it move sees the recovery */
        atomic_store(&a->offset, next);
        if (a->applied)
            a->applied(a->ctx, b, &counts, next);
    }
    return st;
}

void lv_applier_set_linger(lv_applier *a, int ms)
{
    atomic_store(&a->linger_ms, ms < 0 ? 0 : ms > LINGER_MS ? LINGER_MS : ms);
    lv_journal_wake(a->journal); /* the thread takes its new priority at its next turn */
}

/* The applier's priority: only CPU time nothing else wants (SCHED_IDLE) while nobody waits for events to
 * reach the store, an ordinary one while somebody does (a shorter linger: delivery to subscribers).
 * Under load an idle-class thread waited up to a few hundred milliseconds to run, and was preempted
 * while it held the store's write lock, which the deliverer then waited for: most of the time from
 * acknowledgement to delivery at the 99th percentile (measured at 2,000 events/s: the applier's gaps
 * between commits reached 219 ms). Where the ordinary priority cannot be taken back (an unprivileged
 * process with RLIMIT_NICE below 20: systemd's LimitNICE=+0 allows it), it stays idle-class. */
static void take_priority(lv_applier *a, bool prompt)
{
    if (prompt == a->prompt)
        return;
    a->prompt = prompt;
    if (prompt) {
        struct sched_param normal = { 0 };
        if (pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal) == 0)
            setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 0);
        return;
    }
    /* Acknowledging comes first: the applier runs only on CPU time nothing else wants (SCHED_IDLE),
     * and catches up when the load drops; what it has not applied yet is durable in the journal, and
     * the server refuses new events with 503 when that backlog grows too large. Where SCHED_IDLE is
     * not allowed, a low priority does nearly the same (and where neither is, the default). */
    struct sched_param idle = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0 &&
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) != 0) {
        /* an ordinary priority: slower acknowledgements under load, nothing worse */
    }
}

/* The sync thread: for each offset it is given (everything before it committed on the applier's
 * connection), copies what it can of the WAL into the database without holding up the writer, makes
 * what was committed durable, and only then releases the journal before that offset. */
static void *syncer_main(void *arg)
{
    lv_applier *a = arg;
    pthread_setname_np(pthread_self(), "levee-sync");
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->sync_want && !a->syncer_stop)
            pthread_cond_wait(&a->sync_wake, &a->lock);
        if (!a->sync_want)
            break;
        uint64_t want = a->sync_want;
        pthread_mutex_unlock(&a->lock);
        lv_error e;
        int64_t t0 = lv_monotonic_us();
        lv_status st = lv_store_housekeeping(a->sync_store, &e);
        if (st == LV_OK)
            st = lv_store_sync_others(a->sync_store, &e);
        step_done(a, LV_APPLY_SYNC_ASIDE, t0);
        if (st == LV_OK) {
            t0 = lv_monotonic_us();
            st = lv_journal_release(a->journal, want, &e);
            step_done(a, LV_APPLY_RELEASE_ASIDE, t0);
        }
        pthread_mutex_lock(&a->lock);
        a->sync_want = 0;
        if (st != LV_OK) {
            a->sync_st = st;
            a->sync_err = e;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Stops the sync thread once it has finished what it was given (before the applier's own last sync). */
static void syncer_join(lv_applier *a)
{
    pthread_mutex_lock(&a->lock);
    bool running = a->syncer_running;
    a->syncer_running = false;
    a->syncer_stop = true;
    pthread_cond_broadcast(&a->sync_wake);
    pthread_mutex_unlock(&a->lock);
    if (running)
        pthread_join(a->syncer, NULL);
}

/* Hands the sync up to `next` to the sync thread. LV_OK with *handed false while it is still busy with
 * the previous one; the previous one's failure, once. */
static lv_status sync_aside(lv_applier *a, uint64_t next, bool *handed, lv_error *err)
{
    *handed = false;
    pthread_mutex_lock(&a->lock);
    lv_status st = a->sync_st;
    if (st != LV_OK) {
        *err = a->sync_err;
        a->sync_st = LV_OK;
    } else if (!a->sync_want) {
        a->sync_want = next;
        *handed = true;
        pthread_cond_broadcast(&a->sync_wake);
    }
    pthread_mutex_unlock(&a->lock);
    return st;
}

/* Waits (at most the linger, LINGER_MS by default) until a batch's worth of journal beyond `next` is durable, or until the
 * server stops. */
static void linger(lv_applier *a, uint64_t next)
{
    int64_t deadline = now_ms() + atomic_load(&a->linger_ms);
    uint64_t durable = lv_journal_durable(a->journal);
    while (durable < next + LINGER_BYTES && !atomic_load(&a->stop)) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        durable = lv_journal_wait_beyond(a->journal, durable, (int)left);
    }
}

/* What the applier's thread carries from one turn to the next. */
typedef struct apply_state {
    lv_journal_reader *r;
    lv_batch *b;
    lv_zctx *z;
    lv_vec_i64 acked;   /* when each record of the batch was acknowledged (monotonic us, 0: unknown) */
    uint64_t next;      /* the offset after the last record read */
    uint64_t synced;    /* the store is synced up to here (journal released before it) */
    int64_t last_sync;
} apply_state;

/* One turn: gather, apply, and sync when it is time. *done when stopping and everything durable is
 * applied and synced. */
static lv_status turn(lv_applier *a, apply_state *t, bool stopping, bool *done, lv_error *err)
{
    *done = false;
    take_priority(a, atomic_load(&a->linger_ms) < LINGER_MS);
    if (!stopping)
        linger(a, t->next);
    t->acked.n = 0;
    int64_t t0 = lv_monotonic_us();
    lv_status st = fill(a->journal, t->r, t->b, &t->next, &t->acked, err);
    if (t->acked.n)
        step_done(a, LV_APPLY_READ, t0);
    if (st != LV_OK)
        return st;
    size_t docs = lv_batch_docs(t->b);
    if (docs) {
        st = apply_batch(a, t->b, t->z, t->next, &t->acked, err);
        lv_batch_reset(t->b);
        if (st == LV_OK) {
            t0 = lv_monotonic_us();
            st = lv_store_maybe_train(a->store, err);
            step_done(a, LV_APPLY_TRAIN, t0);
        }
        if (st != LV_OK)
            return st;
        if (docs == BATCH_DOCS && now_ms() - t->last_sync < SYNC_EVERY_MS && t->next - t->synced < SYNC_EVERY_BYTES)
            return LV_OK; /* a full batch: more is probably waiting */
    }
    if (stopping && a->syncer_running) {
        syncer_join(a); /* the last sync is this thread's */
        if (a->sync_st != LV_OK)
            t->synced = 0; /* the sync thread's last one failed: this one covers it */
    }
    bool due = t->next > t->synced &&
               (now_ms() - t->last_sync >= SYNC_EVERY_MS || t->next - t->synced >= SYNC_EVERY_BYTES || stopping);
    if (due && a->syncer_running) {
        bool handed;
        if ((st = sync_aside(a, t->next, &handed, err)) != LV_OK)
            return st;
        if (handed) {
            t->synced = t->next;
            t->last_sync = now_ms();
        }
    } else if (due) {
        /* the store now holds everything up to next: its journal segments can go */
        t0 = lv_monotonic_us();
        st = lv_store_sync(a->store, err);
        step_done(a, LV_APPLY_SYNC, t0);
        if (st == LV_OK) {
            t0 = lv_monotonic_us();
            st = lv_journal_release(a->journal, t->next, err);
            step_done(a, LV_APPLY_RELEASE, t0);
        }
        if (st != LV_OK)
            return st;
        t->synced = t->next;
        t->last_sync = now_ms();
    }
    if (stopping && lv_journal_durable(a->journal) <= t->next && t->synced >= t->next) {
        *done = true;
        return LV_OK;
    }
    if (!stopping)
        lv_journal_wait_beyond(a->journal, t->next, 500);
    return LV_OK;
}

/* Whether a failure may pass by itself: anything but a damaged store or a failing library. */
static bool may_pass(lv_status st)
{
    return st != LV_EDAMAGED && st != LV_EINTERNAL;
}

/* Sleeps ms, or less when asked to stop. */
static void back_off(lv_applier *a, int ms)
{
    struct timespec until = lv_deadline_after(ms);
    pthread_mutex_lock(&a->lock);
    while (!atomic_load(&a->stop) && pthread_cond_timedwait(&a->wake, &a->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&a->lock);
}

static void *run(void *arg)
{
    lv_applier *a = arg;
    pthread_setname_np(pthread_self(), "levee-apply");
    a->prompt = true;
    take_priority(a, false);
    lv_error err = { 0 };
    apply_state t = { .b = lv_batch_new(), .z = lv_zctx_new(), .last_sync = now_ms() };
    t.next = t.synced = atomic_load(&a->offset);
    lv_status st = lv_journal_reader_open(a->journal, t.next, &t.r, &err);
    if (st != LV_OK) {
        pthread_mutex_lock(&a->lock);
        a->err = err;
        a->failed = true;
        pthread_mutex_unlock(&a->lock);
    }
    int backoff_ms = 0;
    int64_t stop_by = 0;
    while (st == LV_OK) {
        bool stopping = atomic_load(&a->stop), done;
        if (stopping && !stop_by)
            stop_by = now_ms() + STOP_RETRY_MS;
        st = turn(a, &t, stopping, &done, &err);
        if (st == LV_OK) {
            recovered(a);
            backoff_ms = 0;
            if (done)
                break;
            continue;
        }
        /* nothing of the failed attempt stays: no open transaction, no half-read batch */
        lv_store_rollback(a->store);
        lv_batch_reset(t.b);
        pthread_mutex_lock(&a->lock);
        a->err = err;
        if (!may_pass(st))
            a->failed = true;
        else if (stopping && now_ms() >= stop_by)
            a->gave_up = true;
        else {
            a->retrying = true;
            a->retries++;
        }
        bool again = !a->failed && !a->gave_up;
        pthread_mutex_unlock(&a->lock);
        if (!again)
            break;
        /* keep its place: read again from what the store holds */
        lv_journal_reader_close(t.r);
        t.r = NULL;
        t.next = atomic_load(&a->offset);
        backoff_ms = backoff_ms ? (backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff_ms * 2) : RETRY_FIRST_MS;
        int ms = backoff_ms;
        if (stopping && stop_by - now_ms() < ms)
            ms = (int)(stop_by - now_ms()) > 0 ? (int)(stop_by - now_ms()) : 0;
        if (ms > 0)
            back_off(a, ms);
        st = lv_journal_reader_open(a->journal, t.next, &t.r, &err);
        if (st != LV_OK) {
            pthread_mutex_lock(&a->lock);
            a->err = err;
            a->failed = true;
            pthread_mutex_unlock(&a->lock);
        }
    }
    lv_journal_reader_close(t.r);
    lv_batch_free(t.b);
    lv_zctx_free(t.z);
    lv_vec_free(&t.acked);
    return NULL;
}

lv_status lv_applier_start(lv_store *store, lv_store *sync_store, lv_journal *journal, lv_applied_fn applied,
                           void *ctx, lv_applier **out, lv_error *err)
{
    uint64_t from;
    /* a mark that cannot be read is an error: starting from 0 would replay the whole journal, and
     * starting anywhere else could skip events */
    lv_status st = lv_store_get_mark(store, LV_JOURNAL_MARK, &from, err);
    if (st != LV_OK)
        return st;
    lv_applier *a = lv_xcalloc(1, sizeof *a);
    a->store = store;
    a->journal = journal;
    atomic_store(&a->linger_ms, LINGER_MS);
    a->applied = applied;
    a->ctx = ctx;
    atomic_store(&a->offset, from);
    atomic_store(&a->stop, false);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->sync_wake, NULL);
    a->sync_store = sync_store;
    if (sync_store)
        a->syncer_running = pthread_create(&a->syncer, NULL, syncer_main, a) == 0; /* else: syncs itself */
    lv_store_set_bulk(store, true);
    lv_store_set_train_aside(store, true); /* training held up storing 150-250 ms */
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        lv_store_set_bulk(store, false);
        syncer_join(a);
        pthread_cond_destroy(&a->sync_wake);
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return lv_fail(err, LV_EINTERNAL, "cannot start the applier thread");
    }
    *out = a;
    return LV_OK;
}

lv_status lv_applier_stop(lv_applier *a, lv_error *err)
{
    pthread_mutex_lock(&a->lock);
    atomic_store(&a->stop, true);
    pthread_cond_broadcast(&a->wake);
    pthread_mutex_unlock(&a->lock);
    lv_journal_wake(a->journal);
    pthread_join(a->thread, NULL);
    syncer_join(a); /* when the thread ended before stopping (it failed for good) */
    lv_store_set_bulk(a->store, false);
    lv_status st = LV_OK;
    if (a->failed || a->gave_up) {
        if (err)
            *err = a->err;
        st = a->err.status ? a->err.status : LV_EIO;
    }
    pthread_cond_destroy(&a->sync_wake);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a);
    return st;
}

lv_hist *lv_applier_waits(lv_applier *a)
{
    return &a->waits;
}

lv_hist *lv_applier_step(lv_applier *a, lv_apply_step step)
{
    return &a->steps[step];
}

uint64_t lv_applier_offset(lv_applier *a)
{
    return atomic_load(&a->offset);
}

bool lv_applier_failed(lv_applier *a, lv_error *err)
{
    pthread_mutex_lock(&a->lock);
    bool failed = a->failed;
    if (failed && err)
        *err = a->err;
    pthread_mutex_unlock(&a->lock);
    return failed;
}

void lv_applier_health_get(lv_applier *a, lv_applier_health *out)
{
    pthread_mutex_lock(&a->lock);
    out->failed = a->failed;
    out->retrying = a->retrying && !a->failed;
    snprintf(out->reason, sizeof out->reason, "%s", a->err.msg);
    out->retries = a->retries;
    out->recoveries = a->recoveries;
    pthread_mutex_unlock(&a->lock);
}
