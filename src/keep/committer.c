/* committer.c: group commit into a shared, durable store (levee/committer.h): appends gather in memory
 * under a lock; one thread takes all of them at once, stores them in one transaction, settles their
 * tickets (stored or not) and takes the next group, which formed while it committed. */
#include "levee/committer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a round that lost to another writer (deadlock, serialization) is run again this many times */
#define CONFLICT_TRIES 8
#define PROBE_FIRST_MS 100
#define PROBE_MAX_MS 5000
/* failed rounds remembered for lv_committer_stored */
#define FAILED_KEPT 256
/* the most documents one transaction takes: a round with more (large NDJSON bodies) is committed in
 * parts, each settled as it commits; a part that loses is tried again with half as many, and one that
 * fills the transaction (lv_store_txn_full: PostgreSQL's lock table) makes the next ones smaller */
#define PART_DOCS 1024
#define PART_MIN 8

typedef struct pending {
    unsigned kind;
    size_t off, len; /* in the group's bytes */
} pending;

typedef struct group {
    lv_buf bytes;
    pending *items;
    size_t n, cap;
} group;

typedef struct failed_round {
    uint64_t from, to;
} failed_round;

struct lv_committer {
    lv_store *store;
    lv_applied_fn applied;
    lv_round_fn settled_fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* appends arrived, or stop */
    pthread_cond_t done;     /* a round settled */
    group in;                /* appended, not yet taken */
    group last_failed;       /* the round that broke it (its requests answered already): what probes try */
    uint64_t appended;       /* tickets given */
    uint64_t settled;
    bool stop;
    bool broken;
    lv_error why;            /* why it is broken, or why the last round failed */
    failed_round failed[FAILED_KEPT];
    size_t n_failed;         /* ever; the last FAILED_KEPT kept */
    uint64_t failures, recoveries, conflicts, rounds;
    size_t part;             /* documents a transaction takes now (PART_MIN..PART_DOCS) */
};

static void group_clear(group *g)
{
    lv_buf_reset(&g->bytes);
    g->n = 0;
}

static void group_free(group *g)
{
    lv_buf_free(&g->bytes);
    free(g->items);
}

/* Appends items [at, at + n) of g to dst. */
static void group_copy(group *dst, const group *g, size_t at, size_t n)
{
    group_clear(dst);
    lv_vec_reserve((void **)&dst->items, &dst->cap, n ? n : 1, sizeof *dst->items, 64);
    for (size_t i = at; i < at + n; i++) {
        dst->items[dst->n++] = (pending){ g->items[i].kind, dst->bytes.len, g->items[i].len };
        lv_buf_append(&dst->bytes, g->bytes.data + g->items[i].off, g->items[i].len);
    }
}

static void fill(lv_batch *b, const group *g, size_t at, size_t n)
{
    char source[300];
    for (size_t i = at; i < at + n; i++) {
        const char *payload = g->bytes.data + g->items[i].off, *src, *doc;
        size_t len = g->items[i].len, src_len, doc_len;
        uint32_t line;
        if (!lv_journal_doc_decode(payload, len, &src, &src_len, &line, &doc, &doc_len)) {
            lv_batch_add(b, payload, len, "http", 0, NULL);
            continue;
        }
        snprintf(source, sizeof source, "%.*s", (int)(src_len > 200 ? 200 : src_len), src);
        if (g->items[i].kind == LV_JOURNAL_OVERSIZED)
            lv_batch_add_oversized(b, (size_t)strtoull(doc, NULL, 10), LV_EVENT_MAX_BYTES, source, line);
        else
            lv_batch_add(b, doc, doc_len, source, line, NULL);
    }
}

/* One attempt at storing items [at, at + n) of the group in one transaction (committed, or only tried
 * and rolled back when dry); nothing of it stays open on failure. *full: whether the transaction held
 * all it should (lv_store_txn_full) before it committed. */
static lv_status store_group(lv_committer *c, lv_batch *b, lv_zctx *z, const group *g, size_t at, size_t n, bool dry,
                             lv_counts *counts, bool *full, lv_error *err)
{
    lv_batch_reset(b);
    fill(b, g, at, n);
    memset(counts, 0, sizeof *counts);
    *full = false;
    lv_status st = lv_batch_prepare(b, z, lv_store_dict(c->store), err);
    if (st == LV_OK && (st = lv_store_begin(c->store, err)) == LV_OK) {
        st = lv_store_write(c->store, b, counts, err);
        if (st == LV_OK)
            *full = lv_store_txn_full(c->store);
        if (st == LV_OK && !dry)
            st = lv_store_commit(c->store, err);
        if (st != LV_OK || dry)
            lv_store_rollback(c->store);
    }
    return st;
}

/* Whether the store takes writes again (the connection was lost, its disk filled): one row committed
 * (cheap, and what fails at once while the server is gone), then the round that broke it written again
 * and rolled back, since a smaller write (a row of a small table with room in its page) commits on a
 * full disk too. */
static lv_status probe(lv_committer *c, lv_batch *b, lv_zctx *z, lv_error *err)
{
    lv_status st = lv_store_begin(c->store, err);
    if (st == LV_OK && (st = lv_store_set_mark(c->store, LV_COMMITTER_PROBE_MARK, (uint64_t)lv_now_ms(), err)) == LV_OK)
        st = lv_store_commit(c->store, err); /* (it rolls back what fails) */
    else
        lv_store_rollback(c->store);
    if (st != LV_OK || !c->last_failed.n)
        return st;
    lv_counts counts;
    bool full;
    st = store_group(c, b, z, &c->last_failed, 0, c->last_failed.n, true, &counts, &full, err);
    lv_batch_reset(b);
    if (st != LV_OK && st != LV_EIO && st != LV_EBUSY) {
        /* not the store failing but something of those documents: they do not hold the store back */
        group_clear(&c->last_failed);
        return LV_OK;
    }
    return st;
}

static void wait_ms(lv_committer *c, int ms)
{
    struct timespec until = lv_deadline_after(ms);
    pthread_mutex_lock(&c->lock);
    while (!c->stop && pthread_cond_timedwait(&c->work, &c->lock, &until) == 0) {
    }
    pthread_mutex_unlock(&c->lock);
}

static void *run(void *arg)
{
    lv_committer *c = arg;
    pthread_setname_np(pthread_self(), "levee-commit");
    lv_batch *b = lv_batch_new();
    lv_zctx *z = lv_zctx_new();
    group g = { 0 };
    lv_buf_init(&g.bytes);
    int probe_ms = 0;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        while (!c->in.n && !c->stop && !c->broken)
            pthread_cond_wait(&c->work, &c->lock);
        bool broken = c->broken, stopping = c->stop;
        if (broken && !stopping) {
            pthread_mutex_unlock(&c->lock);
            /* nothing is taken while broken (appends are refused): probe until a commit works */
            probe_ms = probe_ms ? (probe_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS : probe_ms * 2) : PROBE_FIRST_MS;
            wait_ms(c, probe_ms);
            lv_error perr;
            if (probe(c, b, z, &perr) == LV_OK) {
                group_clear(&c->last_failed);
                pthread_mutex_lock(&c->lock);
                c->broken = false;
                c->recoveries++;
                pthread_mutex_unlock(&c->lock);
                probe_ms = 0;
            } else {
                pthread_mutex_lock(&c->lock);
                c->why = perr;
                pthread_mutex_unlock(&c->lock);
            }
            continue;
        }
        if (!c->in.n && stopping) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        /* take the whole group: what arrives from now on forms the next one */
        group taken = c->in;
        c->in = g;
        g = taken;
        uint64_t from = c->settled, to = c->appended;
        pthread_mutex_unlock(&c->lock);

        /* in parts of at most c->part documents, each its own transaction, settled once it commits: a
         * request's documents can span parts, and it is acknowledged only if all of them are stored
         * (lv_committer_all_stored) */
        size_t at = 0;
        while (at < g.n) {
            size_t n = g.n - at < c->part ? g.n - at : c->part;
            int64_t t0 = lv_monotonic_us();
            lv_counts counts;
            lv_error err = { 0 };
            lv_status st;
            bool full = false;
            int tries = 0;
            while ((st = store_group(c, b, z, &g, at, n, false, &counts, &full, &err)) == LV_EBUSY &&
                   ++tries < CONFLICT_TRIES) {
                pthread_mutex_lock(&c->lock);
                c->conflicts++;
                pthread_mutex_unlock(&c->lock);
                /* fewer documents take fewer locks (a lock table that others filled) and lose less often */
                if (n > PART_MIN)
                    c->part = n /= 2;
            }
            if (st == LV_OK) {
                /* the transaction held all it should: the next ones take fewer; otherwise more, up to the most */
                c->part = full ? (n / 2 > PART_MIN ? n / 2 : PART_MIN)
                               : (c->part * 2 < PART_DOCS ? c->part * 2 : PART_DOCS);
                if (c->applied)
                    c->applied(c->ctx, b, &counts, from + at + n);
                lv_error terr;
                if (lv_store_maybe_train(c->store, &terr) != LV_OK)
                    lv_store_rollback(c->store); /* a dictionary is an optimisation: tried again later */
            }
            /* a part that failed settles the rest of the group with it */
            lv_commit_round round = { .from = from + at, .to = st == LV_OK ? from + at + n : to,
                                      .stored = st == LV_OK, .reason = st == LV_OK ? NULL : err.msg,
                                      .records = st == LV_OK ? n : g.n - at,
                                      .seconds = (double)(lv_monotonic_us() - t0) / 1e6 };
            pthread_mutex_lock(&c->lock);
            c->rounds++;
            if (st != LV_OK) {
                c->failures++;
                c->why = err;
                c->failed[c->n_failed++ % FAILED_KEPT] = (failed_round){ round.from, round.to };
                /* a conflict that kept losing is not a broken store; anything else is probed before going on */
                if (st != LV_EBUSY && st != LV_ETOOBIG) {
                    c->broken = true;
                    group_copy(&c->last_failed, &g, at, n); /* what the probes write again */
                    /* what arrived meanwhile is not kept waiting for the store to come back: refused too */
                    if (c->appended > round.to) {
                        round.records += c->in.n;
                        round.to = c->appended;
                        c->failed[c->n_failed++ % FAILED_KEPT] = (failed_round){ round.from, round.to };
                        group_clear(&c->in);
                    }
                }
            }
            c->settled = round.to;
            pthread_cond_broadcast(&c->done);
            pthread_mutex_unlock(&c->lock);
            if (c->settled_fn)
                c->settled_fn(c->ctx, &round);
            if (st != LV_OK)
                break;
            at += n;
        }
        group_clear(&g);
        lv_batch_reset(b);
    }
    group_free(&g);
    lv_batch_free(b);
    lv_zctx_free(z);
    return NULL;
}

lv_status lv_committer_start(lv_store *store, lv_applied_fn applied, lv_round_fn settled, void *ctx,
                             lv_committer **out, lv_error *err)
{
    lv_committer *c = lv_xcalloc(1, sizeof *c);
    c->store = store;
    c->applied = applied;
    c->settled_fn = settled;
    c->ctx = ctx;
    lv_buf_init(&c->in.bytes);
    lv_buf_init(&c->last_failed.bytes);
    c->part = PART_DOCS;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->work, NULL);
    pthread_cond_init(&c->done, NULL);
    lv_store_set_bulk(store, false); /* every commit waits for PostgreSQL's WAL flush: it is what acknowledges */
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        pthread_cond_destroy(&c->done);
        pthread_cond_destroy(&c->work);
        pthread_mutex_destroy(&c->lock);
        lv_buf_free(&c->in.bytes);
        lv_buf_free(&c->last_failed.bytes);
        free(c);
        return lv_fail(err, LV_EINTERNAL, "cannot start the committer thread");
    }
    *out = c;
    return LV_OK;
}

void lv_committer_stop(lv_committer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    /* anything appended while broken was refused; anything left is settled as not stored */
    pthread_mutex_lock(&c->lock);
    if (c->settled < c->appended) {
        c->failed[c->n_failed++ % FAILED_KEPT] = (failed_round){ c->settled, c->appended };
        c->settled = c->appended;
    }
    pthread_cond_broadcast(&c->done);
    pthread_mutex_unlock(&c->lock);
    group_free(&c->in);
    group_free(&c->last_failed);
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

lv_status lv_committer_append(lv_committer *c, unsigned kind, const void *payload, size_t len, uint64_t *ticket,
                              lv_error *err)
{
    pthread_mutex_lock(&c->lock);
    lv_status st = LV_OK;
    if (c->broken)
        st = lv_fail(err, LV_EBUSY, "%s", c->why.msg);
    else if (c->stop)
        st = lv_fail(err, LV_EBUSY, "levee is stopping");
    else if (c->in.bytes.len + len > LV_JOURNAL_PENDING_MAX)
        st = lv_fail(err, LV_EBUSY, "the store is behind: %llu MB wait for the next commit",
                     (unsigned long long)(c->in.bytes.len >> 20));
    if (st == LV_OK) {
        lv_vec_reserve((void **)&c->in.items, &c->in.cap, c->in.n + 1, sizeof *c->in.items, 64);
        c->in.items[c->in.n++] = (pending){ kind, c->in.bytes.len, len };
        lv_buf_append(&c->in.bytes, payload, len);
        *ticket = ++c->appended;
        pthread_cond_signal(&c->work);
    }
    pthread_mutex_unlock(&c->lock);
    return st;
}

uint64_t lv_committer_settled(lv_committer *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t v = c->settled;
    pthread_mutex_unlock(&c->lock);
    return v;
}

/* Under the lock. */
static bool stored_locked(lv_committer *c, uint64_t ticket, lv_error *err)
{
    if (ticket > c->settled)
        return false;
    size_t kept = c->n_failed < FAILED_KEPT ? c->n_failed : FAILED_KEPT;
    for (size_t i = 0; i < kept; i++)
        if (ticket > c->failed[i].from && ticket <= c->failed[i].to) {
            if (err)
                *err = c->why;
            return false;
        }
    return true;
}

bool lv_committer_wait(lv_committer *c, uint64_t ticket, lv_error *err)
{
    pthread_mutex_lock(&c->lock);
    while (c->settled < ticket)
        pthread_cond_wait(&c->done, &c->lock);
    bool ok = stored_locked(c, ticket, err);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool lv_committer_stored(lv_committer *c, uint64_t ticket, lv_error *err)
{
    pthread_mutex_lock(&c->lock);
    bool ok = stored_locked(c, ticket, err);
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool lv_committer_all_stored(lv_committer *c, uint64_t first, uint64_t last, lv_error *err)
{
    pthread_mutex_lock(&c->lock);
    bool ok = last <= c->settled;
    size_t kept = c->n_failed < FAILED_KEPT ? c->n_failed : FAILED_KEPT;
    for (size_t i = 0; ok && i < kept; i++)
        if (c->failed[i].from < last && first <= c->failed[i].to) { /* (from, to] meets [first, last] */
            if (err)
                *err = c->why;
            ok = false;
        }
    pthread_mutex_unlock(&c->lock);
    return ok;
}

bool lv_committer_broken(lv_committer *c, lv_error *err)
{
    pthread_mutex_lock(&c->lock);
    bool b = c->broken;
    if (b && err)
        *err = c->why;
    pthread_mutex_unlock(&c->lock);
    return b;
}

void lv_committer_health_get(lv_committer *c, lv_committer_health *out)
{
    pthread_mutex_lock(&c->lock);
    out->broken = c->broken;
    snprintf(out->reason, sizeof out->reason, "%s", c->why.msg);
    out->failures = c->failures;
    out->recoveries = c->recoveries;
    out->retried_conflicts = c->conflicts;
    out->rounds = c->rounds;
    pthread_mutex_unlock(&c->lock);
}
