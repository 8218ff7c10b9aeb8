/* pull.c: `levee pull --sqs` (levee/pull.h): receiver threads, each with its own SQS connection, batch and
 * compressor, long-poll the queue; a batch is decoded and prepared on its receiver's thread, written and
 * committed under the store's lock, and only then deleted from the queue. The calling thread takes the
 * signals, extends the visibility of every batch held longer than half the visibility timeout (waiting
 * for the lock, for SQLite's own lock, or in a slow commit), polls the queue's backlog and reports
 * progress. */
#include "levee/pull.h"

#include "levee/codec.h"
#include "levee/crypto.h"
#include "levee/engines.h"
#include "levee/jwt.h"
#include "levee/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BACKOFF_S 30
#define BACKLOG_EVERY_US (10 * 1000000LL)
/* Between a dictionary check and the next, this many events are stored. */
#define TRAIN_EVERY 5000

typedef struct puller {
    const lv_pull_config *cfg;
    lv_store *store;
    lv_jwks *jwks;
    unsigned visibility;          /* the queue's visibility timeout, seconds */
    pthread_mutex_t store_lock;   /* one writer at a time */
    /* group commit: prepared batches wait in `waiting`; the receiver that finds no commit under way writes them
     * all in one transaction (one fsync), the others wait on `committed` for its outcome */
    pthread_mutex_t commit_lock;
    pthread_cond_t committed;
    struct receiver *waiting[16];
    size_t n_waiting;
    bool writing;
    _Atomic(const lv_dict *) dict; /* the store's dictionary, for preparing outside the store's lock */
    pthread_mutex_t lock;         /* counts, the first error, notes, waits */
    pthread_cond_t wake;          /* stop or drained */
    atomic_bool stop;             /* SIGINT/SIGTERM or a fatal error: transfers in progress give up */
    atomic_bool drained;          /* --drain found the queue empty: receives in progress finish */
    unsigned running;             /* receivers not yet finished */
    lv_pull_counts counts;
    lv_status fatal;
    lv_error fatal_err;
    atomic_bool unreachable;      /* a receiver has said SQS cannot be reached */
    bool said_unsigned;
    uint64_t since_train;
} puller;

static void note(puller *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(puller *p, const char *fmt, ...)
{
    if (!p->cfg->note)
        return;
    char sentence[2 * LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sentence, sizeof sentence, fmt, ap);
    va_end(ap);
    lv_scrub(sentence, sizeof sentence);
    pthread_mutex_lock(&p->lock);
    p->cfg->note(p->cfg->ctx, sentence);
    pthread_mutex_unlock(&p->lock);
}

/* Stops everything with err as the reason (the first one wins). */
static void fail(puller *p, lv_status st, const lv_error *err)
{
    pthread_mutex_lock(&p->lock);
    if (p->fatal == LV_OK) {
        p->fatal = st;
        p->fatal_err = *err;
    }
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

static bool finished(puller *p)
{
    return atomic_load(&p->stop) || atomic_load(&p->drained);
}

/* Whether levee is to stop although p->stop is not set yet: the server's flag, or, for a command of its own, a
 * SIGINT or SIGTERM waiting to be taken (the main loop takes it; before the first contact with SQS it is not
 * running, and a queue that cannot be reached must not keep levee from stopping). */
static bool asked_to_stop(const puller *p)
{
    if (p->cfg->stop)
        return atomic_load(p->cfg->stop);
    sigset_t pending;
    return sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}

/* Waits up to seconds, or less when levee stops. Returns false when it stops. */
static bool pause_for(puller *p, unsigned seconds)
{
    struct timespec until = lv_deadline_after((int)seconds * 1000);
    pthread_mutex_lock(&p->lock);
    bool asked = false;
    while (!finished(p) && !(asked = asked_to_stop(p))) {
        struct timespec slice = lv_deadline_after(200);
        bool last = slice.tv_sec > until.tv_sec || (slice.tv_sec == until.tv_sec && slice.tv_nsec >= until.tv_nsec);
        if (pthread_cond_timedwait(&p->wake, &p->lock, last ? &until : &slice) == ETIMEDOUT && last)
            break;
    }
    bool go_on = !finished(p) && !asked;
    pthread_mutex_unlock(&p->lock);
    return go_on;
}

static bool retryable(lv_status st)
{
    return st == LV_EIO || st == LV_EBUSY;
}

static unsigned next_backoff(unsigned b)
{
    return b >= MAX_BACKOFF_S / 2 ? MAX_BACKOFF_S : b * 2;
}

typedef struct receiver {
    puller *p;
    unsigned index;
    lv_sqs *sqs;
    lv_batch *batch;
    lv_zctx *z;
    lv_sqs_received got;
    lv_sqs_message keep[LV_SQS_BATCH]; /* the messages whose batch is committed: to delete */
    size_t n_keep;
    bool store_failed; /* the last batch could not be stored */
    /* its batch's outcome in a group commit (under the puller's commit_lock) */
    bool group_done;
    lv_status group_st;
    lv_error group_err;
    lv_counts group_counts;
    lv_buf claims;
    /* what the calling thread extends: got's first n_held messages, while n_held > 0 (under held_lock:
     * the receiver does not receive again, which replaces got, until it has set n_held to 0) */
    pthread_mutex_t held_lock;
    size_t n_held;
    int64_t held_since_us; /* received, or last extended */
} receiver;

static void hold(receiver *r, size_t n)
{
    pthread_mutex_lock(&r->held_lock);
    r->n_held = n;
    r->held_since_us = lv_monotonic_us();
    pthread_mutex_unlock(&r->held_lock);
}

/* On the calling thread: the visibility of batches held for half the timeout is extended to a whole one. */
static void extend_held(puller *p, receiver *rs, unsigned n, lv_sqs *control)
{
    int64_t half = (int64_t)p->visibility * 1000000 / 2;
    for (unsigned i = 0; i < n; i++) {
        receiver *r = &rs[i];
        pthread_mutex_lock(&r->held_lock);
        if (r->n_held && lv_monotonic_us() - r->held_since_us >= half) {
            lv_error err;
            if (lv_sqs_change_visibility(control, r->got.msgs, r->n_held, p->visibility, &err) == LV_OK)
                r->held_since_us = lv_monotonic_us();
            else
                note(p, "cannot extend the visibility of %zu messages waiting to be stored: %s", r->n_held, err.msg);
        }
        pthread_mutex_unlock(&r->held_lock);
    }
}

/* Writes the batches of the receivers in group (prepared) in one transaction and commits it: one fsync for all of
 * them. Every batch gets the same outcome: a store that refuses one refuses the others for the same reason. */
static void write_group(puller *p, receiver *const *group, size_t n)
{
    lv_error err;
    lv_status st;
    pthread_mutex_lock(&p->store_lock);
    for (size_t i = 0; i < n; i++)
        group[i]->group_counts = (lv_counts){ 0 };
    st = lv_store_begin(p->store, &err);
    for (size_t i = 0; st == LV_OK && i < n; i++)
        st = lv_store_write(p->store, group[i]->batch, &group[i]->group_counts, &err);
    if (st == LV_OK)
        st = lv_store_commit(p->store, &err);
    if (st != LV_OK)
        lv_store_rollback(p->store);
    bool train = false;
    if (st == LV_OK) {
        for (size_t i = 0; i < n; i++)
            p->since_train += group[i]->group_counts.stored;
        if (p->since_train >= TRAIN_EVERY) {
            p->since_train = 0;
            train = true;
        }
    }
    if (train) {
        lv_error terr;
        if (lv_store_maybe_train(p->store, &terr) != LV_OK)
            note(p, "cannot train the compression dictionary (events are stored without it): %s", terr.msg);
        atomic_store(&p->dict, lv_store_dict(p->store));
    }
    pthread_mutex_unlock(&p->store_lock);
    pthread_mutex_lock(&p->commit_lock);
    for (size_t i = 0; i < n; i++) {
        group[i]->group_st = st;
        if (st != LV_OK)
            group[i]->group_err = err;
        group[i]->group_done = true;
    }
    p->writing = false;
    pthread_cond_broadcast(&p->committed);
    pthread_mutex_unlock(&p->commit_lock);
}

/* Commits r's prepared batch with whatever other receivers have ready (group commit): the batch waits while
 * another receiver writes; the first to find no write under way writes every batch waiting. */
static lv_status commit_batch(receiver *r, lv_counts *c, lv_error *err)
{
    puller *p = r->p;
    pthread_mutex_lock(&p->commit_lock);
    r->group_done = false;
    p->waiting[p->n_waiting++] = r;
    while (!r->group_done && p->writing)
        pthread_cond_wait(&p->committed, &p->commit_lock);
    if (!r->group_done) {
        receiver *group[16];
        size_t n = p->n_waiting;
        memcpy(group, p->waiting, n * sizeof *group);
        p->n_waiting = 0;
        p->writing = true;
        pthread_mutex_unlock(&p->commit_lock);
        write_group(p, group, n);
        pthread_mutex_lock(&p->commit_lock);
    }
    lv_status st = r->group_st;
    *c = r->group_counts;
    if (st != LV_OK)
        *err = r->group_err;
    pthread_mutex_unlock(&p->commit_lock);
    return st;
}

/* Stores what was received. Returns the messages to delete in r->keep. */
static void store_received(receiver *r)
{
    puller *p = r->p;
    r->n_keep = 0;
    r->store_failed = false;
    lv_batch_reset(r->batch);
    size_t in_batch[LV_SQS_BATCH]; /* which message each document of the batch is */
    size_t n_docs = 0;
    for (size_t i = 0; i < r->got.n; i++) {
        const lv_sqs_message *m = &r->got.msgs[i];
        const char *body = m->body;
        size_t len = m->body_len;
        char source[160];
        snprintf(source, sizeof source, "sqs:%s", m->id);
        while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t'))
            body++, len--;
        if (len > LV_EVENT_MAX_BYTES) {
            lv_batch_add_oversized(r->batch, len, LV_EVENT_MAX_BYTES, source, 0);
        } else if (lv_jwt_looks_like(body, len)) {
            if (!p->jwks) {
                pthread_mutex_lock(&p->lock);
                bool say = !p->said_unsigned;
                p->said_unsigned = true;
                p->counts.failed++;
                pthread_mutex_unlock(&p->lock);
                if (say)
                    note(p, "message %s of %s is signed (a JWT) but levee has no JWKS to verify it: it stays in the "
                         "queue; run levee pull with --jwks FILE", m->id, lv_sqs_queue_url(r->sqs));
                continue;
            }
            lv_buf_reset(&r->claims);
            lv_error err;
            lv_jwt_policy policy = { .issuer = p->cfg->issuer, .now = lv_now_ms() / 1000, .leeway = 60 };
            if (lv_jwt_verify(p->jwks, body, len, &policy, &r->claims, &err) != LV_OK) {
                note(p, "message %s of %s is a JWT that does not verify (%s): it is kept as a dead letter", m->id,
                     lv_sqs_queue_url(r->sqs), err.msg);
                lv_batch_add(r->batch, body, len, source, 0, &p->cfg->decode);
            } else {
                lv_batch_add(r->batch, r->claims.data, r->claims.len, source, 0, &p->cfg->decode);
            }
        } else {
            lv_batch_add(r->batch, body, len, source, 0, &p->cfg->decode);
        }
        in_batch[n_docs++] = i;
    }
    if (n_docs == 0)
        return;
    lv_error err;
    lv_counts c = { 0 };
    /* hashing, compressing and extracting text need no store: each receiver does its own, in parallel */
    lv_status st = lv_batch_prepare(r->batch, r->z, atomic_load(&p->dict), &err);
    if (st == LV_OK)
        st = commit_batch(r, &c, &err);
    if (st != LV_OK) {
        r->store_failed = true;
        pthread_mutex_lock(&p->lock);
        p->counts.failed += n_docs;
        pthread_mutex_unlock(&p->lock);
        if (st == LV_EDAMAGED || st == LV_EINTERNAL) {
            fail(p, st, &err);
            return;
        }
        note(p, "cannot store %zu messages from %s: %s; they stay in the queue and SQS delivers them again "
             "after the visibility timeout (%u s)", n_docs, lv_sqs_queue_url(r->sqs), err.msg, p->visibility);
        return;
    }
    uint64_t dead = 0;
    for (size_t d = 0; d < n_docs; d++) {
        const lv_doc *doc = lv_batch_doc_at(r->batch, d);
        bool rejected = doc->n_events == 0;
        for (size_t e = 0; e < doc->n_events; e++)
            rejected |= lv_batch_outcome(r->batch, d, e) == LV_OUT_DEAD_LETTER;
        dead += rejected;
        r->keep[r->n_keep++] = r->got.msgs[in_batch[d]];
    }
    pthread_mutex_lock(&p->lock);
    p->counts.stored += c.stored;
    p->counts.duplicates += c.duplicates;
    p->counts.rejected += dead;
    p->counts.outside_model += c.outside_model;
    pthread_mutex_unlock(&p->lock);
}

/* Deletes the committed messages, trying a failed request again a few times: a message not deleted
 * comes back after its visibility timeout and is then a duplicate. */
static void delete_kept(receiver *r)
{
    puller *p = r->p;
    lv_error err;
    lv_status st = LV_OK;
    size_t deleted = 0;
    for (unsigned attempt = 0, wait = 1; attempt < 4; attempt++, wait = next_backoff(wait)) {
        if (attempt) {
            pthread_mutex_lock(&p->lock);
            p->counts.retries++;
            pthread_mutex_unlock(&p->lock);
            /* waits even while stopping: the messages are stored, deleting them saves a redelivery */
            struct timespec ts = { (time_t)wait, 0 };
            nanosleep(&ts, NULL);
        }
        st = lv_sqs_delete(r->sqs, r->keep, r->n_keep, &deleted, &err);
        if (st == LV_OK || !retryable(st) || deleted)
            break;
    }
    pthread_mutex_lock(&p->lock);
    p->counts.deleted += deleted;
    pthread_mutex_unlock(&p->lock);
    if (st != LV_OK)
        note(p, "%s; the %zu stored messages not deleted come back and are recognised as duplicates", err.msg,
             r->n_keep - deleted);
}

static void *receive_loop(void *arg)
{
    receiver *r = arg;
    puller *p = r->p;
    char name[16];
    snprintf(name, sizeof name, "levee-sqs-%u", r->index);
    pthread_setname_np(pthread_self(), name);
    unsigned backoff = 1;
    unsigned wait = p->cfg->wait_seconds > 20 ? 20 : p->cfg->wait_seconds;
    if (p->cfg->drain && wait > 1)
        wait = 1;
    while (!finished(p)) {
        lv_error err;
        lv_status st = lv_sqs_receive(r->sqs, LV_SQS_BATCH, wait, 0, &r->got, &err);
        if (st == LV_ETIMEOUT && atomic_load(&p->stop))
            break;
        if (st != LV_OK) {
            if (!retryable(st) && st != LV_ETIMEOUT) {
                fail(p, st, &err);
                break;
            }
            pthread_mutex_lock(&p->lock);
            p->counts.retries++;
            pthread_mutex_unlock(&p->lock);
            if (!atomic_exchange(&p->unreachable, true) || backoff >= MAX_BACKOFF_S)
                note(p, "%s; trying again in %u s", err.msg, backoff);
            if (!pause_for(p, backoff))
                break;
            backoff = next_backoff(backoff);
            continue;
        }
        if (backoff > 1 || atomic_load(&p->unreachable)) {
            if (atomic_exchange(&p->unreachable, false))
                note(p, "receiving from %s again", lv_sqs_queue_url(r->sqs));
            backoff = 1;
        }
        if (r->got.n == 0) {
            if (p->cfg->drain) {
                pthread_mutex_lock(&p->lock);
                atomic_store(&p->drained, true);
                pthread_cond_broadcast(&p->wake);
                pthread_mutex_unlock(&p->lock);
            }
            continue;
        }
        pthread_mutex_lock(&p->lock);
        p->counts.received += r->got.n;
        pthread_mutex_unlock(&p->lock);
        hold(r, r->got.n);
        store_received(r);
        if (r->n_keep)
            delete_kept(r);
        hold(r, 0);
        if (p->cfg->drain && r->n_keep == 0 && !r->store_failed) {
            /* only messages levee leaves (signed, and no JWKS): they would come back forever */
            atomic_store(&p->drained, true);
            pthread_mutex_lock(&p->lock);
            pthread_cond_broadcast(&p->wake);
            pthread_mutex_unlock(&p->lock);
        }
        if (r->store_failed && !finished(p)) {
            /* the store refused: give it time before receiving more */
            if (!pause_for(p, backoff))
                break;
            backoff = next_backoff(backoff);
        }
    }
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void lv_pull_config_init(lv_pull_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->receivers = 3;
    cfg->wait_seconds = 20;
}

/* The queue's visibility timeout (and the first backlog), trying again while SQS cannot be reached: this
 * is also where wrong credentials or a wrong queue URL are found, before anything is received. */
static lv_status first_contact(puller *p, lv_sqs *c, lv_error *err)
{
    unsigned backoff = 1;
    for (;;) {
        lv_sqs_attributes a;
        lv_status st = lv_sqs_attributes_get(c, &a, err);
        if (st == LV_OK) {
            p->visibility = a.visibility_timeout ? a.visibility_timeout : 30;
            p->counts.has_backlog = true;
            p->counts.backlog = a.visible;
            p->counts.in_flight = a.in_flight;
            return LV_OK;
        }
        if (!retryable(st))
            return st;
        p->counts.retries++;
        note(p, "%s; trying again in %u s", err->msg, backoff);
        if (!pause_for(p, backoff))
            return lv_fail(err, LV_ETIMEOUT, "stopped before SQS at %s could be reached", lv_sqs_endpoint(c));
        backoff = next_backoff(backoff);
    }
}

static void free_receiver(receiver *r)
{
    lv_sqs_close(r->sqs);
    lv_batch_free(r->batch);
    lv_zctx_free(r->z);
    lv_sqs_received_free(&r->got);
    lv_buf_free(&r->claims);
    pthread_mutex_destroy(&r->held_lock);
}

lv_status lv_pull_run(const lv_pull_config *cfg, lv_pull_counts *counts, lv_error *err)
{
    memset(counts, 0, sizeof *counts);
    lv_status st = lv_crypto_load(err); /* dedupe keys are hashes */
    if (st != LV_OK)
        return st;
    unsigned n = cfg->receivers ? cfg->receivers : 3;
    if (n > 16)
        n = 16;
    puller p = { .cfg = cfg };
    pthread_mutex_init(&p.store_lock, NULL);
    pthread_mutex_init(&p.commit_lock, NULL);
    pthread_cond_init(&p.committed, NULL);
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.wake, NULL);
    receiver *rs = lv_xcalloc(n, sizeof *rs);
    lv_sqs *control = NULL;

    /* signals are taken here, with sigtimedwait; the receivers' threads inherit the mask */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    if (!cfg->stop) { /* a command of its own: the signals are its; in levee serve they are the server's */
        sigaddset(&sigs, SIGINT);
        sigaddset(&sigs, SIGTERM);
    }
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    if (cfg->jwks)
        st = lv_jwks_load(cfg->jwks, &p.jwks, err);
    if (st == LV_OK)
        st = lv_sqs_open(&control, &cfg->sqs, err);
    for (unsigned i = 0; i < n; i++) {
        rs[i] = (receiver){ .p = &p, .index = i };
        pthread_mutex_init(&rs[i].held_lock, NULL);
    }
    /* the receivers share the control client's credentials: fetched and renewed once for all */
    lv_sqs_config shared = cfg->sqs;
    if (control)
        shared.credentials = lv_sqs_credentials(control);
    for (unsigned i = 0; st == LV_OK && i < n; i++) {
        st = lv_sqs_open(&rs[i].sqs, &shared, err);
        if (st != LV_OK)
            break;
        lv_sqs_set_stop(rs[i].sqs, &p.stop);
        rs[i].batch = lv_batch_new();
        rs[i].z = lv_zctx_new();
        lv_sqs_received_init(&rs[i].got);
        lv_buf_init(&rs[i].claims);
    }
    if (st == LV_OK) {
        lv_sqs_set_stop(control, &p.stop);
        st = first_contact(&p, control, err);
    }
    if (st == LV_OK)
        st = lv_store_open(cfg->db, NULL, &p.store, err);
    if (st == LV_OK)
        atomic_store(&p.dict, lv_store_dict(p.store));
    unsigned started = 0;
    pthread_t *threads = lv_xcalloc(n, sizeof *threads);
    if (st == LV_OK) {
        p.running = n;
        for (; started < n; started++)
            if (pthread_create(&threads[started], NULL, receive_loop, &rs[started]) != 0)
                break;
        if (started < n) {
            pthread_mutex_lock(&p.lock);
            p.running = started;
            pthread_mutex_unlock(&p.lock);
            lv_error e;
            lv_fail(&e, LV_EINTERNAL, "cannot start the SQS receiver threads");
            fail(&p, LV_EINTERNAL, &e);
        }
    }
    int64_t last_backlog = lv_monotonic_us();
    while (st == LV_OK) {
        pthread_mutex_lock(&p.lock);
        bool done = p.running == 0;
        lv_pull_counts now = p.counts;
        pthread_mutex_unlock(&p.lock);
        if (done)
            break;
        if (cfg->progress)
            cfg->progress(cfg->ctx, &now);
        struct timespec tick = { 0, 200 * 1000000L };
        int sig = 0;
        if (cfg->stop)
            nanosleep(&tick, NULL);
        else
            sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM || (cfg->stop && atomic_load(cfg->stop) && !atomic_load(&p.stop))) {
            atomic_store(&p.stop, true);
            pthread_mutex_lock(&p.lock);
            pthread_cond_broadcast(&p.wake);
            pthread_mutex_unlock(&p.lock);
        }
        lv_sqs_set_stop(control, NULL); /* extensions go on while levee stops: batches are still stored */
        extend_held(&p, rs, started, control);
        lv_sqs_set_stop(control, &p.stop);
        if (!atomic_load(&p.stop) && lv_monotonic_us() - last_backlog >= BACKLOG_EVERY_US) {
            last_backlog = lv_monotonic_us();
            lv_sqs_attributes a;
            lv_error e;
            if (lv_sqs_attributes_get(control, &a, &e) == LV_OK) {
                pthread_mutex_lock(&p.lock);
                p.counts.backlog = a.visible;
                p.counts.in_flight = a.in_flight;
                pthread_mutex_unlock(&p.lock);
            }
        }
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (st == LV_OK && p.fatal != LV_OK) {
        st = p.fatal;
        if (err)
            *err = p.fatal_err;
    }
    if (st == LV_OK && p.store) {
        /* the drained queue's backlog, for the summary */
        lv_sqs_attributes a;
        lv_error e;
        lv_sqs_set_stop(control, NULL);
        if (lv_sqs_attributes_get(control, &a, &e) == LV_OK) {
            p.counts.backlog = a.visible;
            p.counts.in_flight = a.in_flight;
        }
    }
    *counts = p.counts;
    for (unsigned i = 0; i < n; i++)
        free_receiver(&rs[i]);
    free(rs);
    lv_sqs_close(control);
    lv_jwks_free(p.jwks);
    lv_store_close(p.store);
    /* a signal that came after the loop ended asks for what is already done */
    struct timespec zero = { 0, 0 };
    while (!cfg->stop && sigtimedwait(&sigs, NULL, &zero) > 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_mutex_destroy(&p.store_lock);
    pthread_mutex_destroy(&p.commit_lock);
    pthread_cond_destroy(&p.committed);
    pthread_mutex_destroy(&p.lock);
    pthread_cond_destroy(&p.wake);
    return st;
}
