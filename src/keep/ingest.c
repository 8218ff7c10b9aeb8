/* ingest.c: streams into a store. A worker thread reads, frames, decodes and prepares batches (dedupe
 * keys, compression, search text); the calling thread writes them, so the two cores of a small
 * machine share the work. Commits happen every few tens of thousands of events: a crash loses only
 * the uncommitted tail, and the next run skips what is already stored. */
#include "keep.h"

#include "levee/crypto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_DEPTH 3

typedef struct pipeline {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    lv_batch *ready[QUEUE_DEPTH]; /* prepared, waiting to be written */
    size_t n_ready;
    lv_batch *spare[QUEUE_DEPTH + 2]; /* written, to be refilled */
    size_t n_spare;
    bool done;     /* the worker has read everything (or failed) */
    bool stop;     /* the writer failed: the worker should stop */
    lv_status worker_status;
    lv_error worker_err;
    _Atomic(const lv_dict *) dict;
    _Atomic uint64_t bytes_read;
    lv_reader *const *readers;
    size_t n_readers;
    const lv_ingest_options *opt;
} pipeline;

/* A batch to fill, or NULL once the writer has stopped (a batch handed back then is not reset: filling
 * it again would prepare the same documents over and over, the whole input's, before the ingest ends). */
static lv_batch *take_spare(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_spare == 0 && !p->stop)
        pthread_cond_wait(&p->changed, &p->lock);
    /* once the writer has failed, nothing more is read: the batches it gives back would only be
     * filled again for nothing */
    lv_batch *b = p->n_spare && !p->stop ? p->spare[--p->n_spare] : NULL;
    pthread_mutex_unlock(&p->lock);
    return b;
}

static void hand_over(pipeline *p, lv_batch *b)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_ready == QUEUE_DEPTH && !p->stop)
        pthread_cond_wait(&p->changed, &p->lock);
    if (!p->stop) {
        p->ready[p->n_ready++] = b;
    } else {
        lv_batch_reset(b);
        p->spare[p->n_spare++] = b;
    }
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

static void *worker(void *arg)
{
    pipeline *p = arg;
    pthread_setname_np(pthread_self(), "levee-prepare");
    lv_zctx *z = lv_zctx_new();
    lv_status st = LV_OK;
    lv_error err = { 0 };
    size_t r = 0;
    lv_batch *b = NULL;
    uint64_t before = 0; /* bytes of the readers already finished */
    while (st == LV_OK && r < p->n_readers) {
        if (!b && !(b = take_spare(p)))
            break; /* stopped */
        lv_status got = lv_batch_add_next(b, p->readers[r], &p->opt->decode, &err);
        if (got == LV_ENOTFOUND) {
            before += lv_reader_offset(p->readers[r]);
            r++;
        } else if (got != LV_OK) {
            st = got;
            break;
        }
        bool last = r == p->n_readers;
        if (b->n_docs && (b->n_docs >= p->opt->batch_docs || last)) {
            atomic_store(&p->bytes_read, before + (last ? 0 : lv_reader_offset(p->readers[r])));
            st = lv_batch_prepare(b, z, atomic_load(&p->dict), &err);
            if (st != LV_OK)
                break;
            hand_over(p, b);
            b = NULL;
        }
    }
    pthread_mutex_lock(&p->lock);
    if (b)
        p->spare[p->n_spare++] = b;
    p->done = true;
    p->worker_status = st;
    p->worker_err = err;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
    lv_zctx_free(z);
    return NULL;
}

/* The next prepared batch, or NULL when the worker has finished. */
static lv_batch *next_ready(pipeline *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->n_ready == 0 && !p->done)
        pthread_cond_wait(&p->changed, &p->lock);
    lv_batch *b = NULL;
    if (p->n_ready) {
        b = p->ready[0];
        memmove(p->ready, p->ready + 1, (p->n_ready - 1) * sizeof *p->ready);
        p->n_ready--;
        pthread_cond_broadcast(&p->changed);
    }
    pthread_mutex_unlock(&p->lock);
    return b;
}

static void give_back(pipeline *p, lv_batch *b)
{
    lv_batch_reset(b);
    pthread_mutex_lock(&p->lock);
    p->spare[p->n_spare++] = b;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->lock);
}

lv_status lv_ingest(lv_store *s, lv_reader *const *readers, size_t n_readers,
                    const lv_ingest_options *opt_in, lv_counts *counts, lv_error *err)
{
    lv_status loaded = lv_crypto_load(err); /* duplicates are found by hash: say so now if it cannot load */
    if (loaded != LV_OK)
        return loaded;
    lv_ingest_options opt = opt_in ? *opt_in : (lv_ingest_options){ 0 };
    if (!opt.batch_docs)
        opt.batch_docs = 2048;
    if (!opt.commit_events)
        opt.commit_events = 50000;
    pipeline p = { .readers = readers, .n_readers = n_readers, .opt = &opt };
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.changed, NULL);
    for (size_t i = 0; i < QUEUE_DEPTH + 2; i++)
        p.spare[p.n_spare++] = lv_batch_new();
    atomic_store(&p.dict, lv_store_dict(s));
    memset(counts, 0, sizeof *counts);

    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, &p) != 0) {
        for (size_t i = 0; i < p.n_spare; i++)
            lv_batch_free(p.spare[i]);
        return lv_fail(err, LV_EINTERNAL, "cannot start the ingest worker thread");
    }
    /* Intermediate commits need no fsync (a crash of the process loses nothing committed); all is
     * made durable before the ingest reports success. */
    lv_store_set_bulk(s, true);
    lv_status st = LV_OK;
    bool in_txn = false;
    uint64_t since_commit = 0;
    lv_counts committed = *counts; /* what the last commit made stored: a failure rolls back the rest */
    lv_batch *b;
    while ((b = next_ready(&p)) != NULL) {
        if (st == LV_OK && !in_txn) {
            st = lv_store_begin(s, err);
            in_txn = st == LV_OK;
        }
        if (st == LV_OK)
            st = lv_store_write(s, b, counts, err);
        since_commit += lv_batch_events(b);
        give_back(&p, b);
        /* at the count of events, or sooner when the engine's transaction holds all it should (many
         * topics and conversations locked: PostgreSQL's lock table is shared and of fixed size) */
        if (st == LV_OK && (since_commit >= opt.commit_events || lv_store_txn_full(s))) {
            st = lv_store_commit(s, err);
            in_txn = false;
            since_commit = 0;
            if (st == LV_OK)
                committed = *counts;
            if (st == LV_OK && (st = lv_store_maybe_train(s, err)) == LV_OK)
                atomic_store(&p.dict, lv_store_dict(s));
        }
        if (st != LV_OK) {
            pthread_mutex_lock(&p.lock);
            p.stop = true;
            pthread_cond_broadcast(&p.changed);
            pthread_mutex_unlock(&p.lock);
        }
        if (st == LV_OK && opt.progress)
            opt.progress(opt.progress_ctx, counts, atomic_load(&p.bytes_read));
    }
    pthread_join(thread, NULL);
    if (st == LV_OK && in_txn) {
        st = lv_store_commit(s, err);
        in_txn = false;
        if (st == LV_OK)
            committed = *counts;
    }
    *counts = committed; /* the summary tells what is stored, not what a rolled-back transaction held */
    lv_store_set_bulk(s, false);
    lv_error sync_err;
    lv_status synced = lv_store_sync(s, &sync_err);
    if (st == LV_OK && synced != LV_OK) {
        st = synced;
        if (err)
            *err = sync_err;
    }
    if (in_txn)
        lv_store_rollback(s);
    if (st == LV_OK && p.worker_status != LV_OK) {
        /* a read error: what came before it is stored */
        if (err)
            *err = p.worker_err;
        st = p.worker_status;
    }
    if (st == LV_OK)
        st = lv_store_maybe_train(s, err);
    if (st == LV_OK && counts->stored >= LV_ANALYZE_EVENTS)
        st = lv_store_analyze(s, err);
    while (p.n_ready)
        p.spare[p.n_spare++] = p.ready[--p.n_ready];
    for (size_t i = 0; i < p.n_spare; i++)
        lv_batch_free(p.spare[i]);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.changed);
    return st;
}
