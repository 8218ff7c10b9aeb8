/* journal.c: appending to the journal with group commit. Writers append records to a buffer; a
 * flusher (the dedicated thread, or else the first waiter) writes everything buffered so far and
 * syncs once, for everyone. A failed write or sync is cut back and retried with backoff while appends
 * are refused, and memory stays bounded (levee/journal.h says what each promises). */
#include "journal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>


/* ---- appending and writing ---- */

lv_status lv_journal_append(lv_journal *j, unsigned kind, const void *payload, size_t len, uint64_t *ticket,
                            lv_error *err)
{
    if (len > LV_JOURNAL_PENDING_MAX - HEADER)
        return lv_fail(err, LV_ETOOBIG, "a record of %zu bytes is larger than the journal takes (%llu MB)", len,
                       (unsigned long long)(LV_JOURNAL_PENDING_MAX >> 20));
    unsigned char h[HEADER];
    put32(h, MAGIC);
    put32(h + 4, (uint32_t)len);
    put32(h + 8, (uint32_t)crc32(0L, (const Bytef *)payload, (uInt)len));
    put32(h + 12, kind);
    pthread_mutex_lock(&j->lock);
    if (j->failing) {
        lv_status st = lv_fail(err, LV_EBUSY, "%s", j->reason);
        pthread_mutex_unlock(&j->lock);
        return st;
    }
    if (j->end - j->durable + HEADER + len > LV_JOURNAL_PENDING_MAX) {
        lv_status st = lv_fail(err, LV_EBUSY, "the journal in %s has %llu MB waiting to be written to disk, as much "
                               "as levee holds; try again shortly", j->dir,
                               (unsigned long long)((j->end - j->durable) >> 20));
        pthread_mutex_unlock(&j->lock);
        return st;
    }
    lv_buf_append(&j->pending, h, HEADER);
    lv_buf_append(&j->pending, payload, len);
    j->end += HEADER + len;
    j->pending_records++;
    *lv_vec_push(&j->pending_at, 256) = lv_monotonic_us();
    if (ticket)
        *ticket = j->end;
    pthread_cond_signal(&j->appended);
    pthread_mutex_unlock(&j->lock);
    return LV_OK;
}

/* Writes data at offset `at` (the durable end) of the segment starting at seg_start, starting a new
 * segment first when that one is full, and syncs it. On failure the segment is cut back to `at`, so
 * no partial record stays behind, and the next attempt reopens it. Called by the flusher without the
 * lock. */
static lv_status write_out(lv_journal *j, const lv_journal_io *io, const char *data, size_t len, uint64_t at,
                           uint64_t seg_start, lv_error *err)
{
    lv_status st = LV_OK;
    if (j->reopen || j->fd < 0) {
        /* after a failure: a fresh descriptor (a failed fsync's error may be reported only once per
         * descriptor) and no bytes beyond the durable end */
        if ((st = jn_open_segment(j, seg_start, false, err)) != LV_OK)
            return st;
        if (ftruncate(j->fd, (off_t)(at - seg_start)) != 0)
            return lv_fail(err, LV_EIO, "cannot cut back the journal in %s: %s", j->dir, strerror(errno));
        j->reopen = false;
    }
    if (at - seg_start >= LV_JOURNAL_SEGMENT_BYTES) {
        if ((st = jn_open_segment(j, at, true, err)) != LV_OK) {
            j->reopen = true;
            return st;
        }
        seg_start = at;
    }
    if (j->dir_unsynced) {
        if ((st = jn_sync_path(j->dir, err)) != LV_OK)
            return st;
        j->dir_unsynced = false;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = io->write_at(j->fd, data + done, len - done, (off_t)(at - seg_start + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = lv_fail(err, LV_EIO, "cannot write the journal in %s: %s", j->dir,
                         n < 0 ? strerror(errno) : "nothing was written");
            break;
        }
        done += (size_t)n;
    }
    if (st == LV_OK && io->sync(j->fd) != 0)
        st = lv_fail(err, LV_EIO, "cannot sync the journal in %s: %s", j->dir, strerror(errno));
    if (st != LV_OK) {
        if (ftruncate(j->fd, (off_t)(at - seg_start)) != 0) {
            /* cut back again, after reopening, before the next write */
        }
        j->reopen = true;
    }
    return st;
}

/* Writes and syncs everything appended so far. Called with the lock held and flushing false; returns
 * with the lock held. On failure the records go back in front of what was appended meanwhile, and
 * the journal is failing until a later call succeeds. */
static bool flush_locked(lv_journal *j)
{
    j->flushing = true;
    lv_buf chunk = j->pending;
    lv_buf_init(&j->pending);
    uint64_t at = j->durable, records = j->pending_records;
    uint64_t seg_start = j->segments[j->n_segments - 1];
    lv_journal_io io = j->io;
    j->pending_records = 0;
    __typeof__(j->pending_at) times = j->pending_at;
    j->pending_at.items = NULL;
    j->pending_at.n = j->pending_at.cap = 0;
    pthread_mutex_unlock(&j->lock);
    lv_error werr;
    int64_t t0 = lv_monotonic_us();
    lv_status st = write_out(j, &io, chunk.data, chunk.len, at, seg_start, &werr);
    double seconds = (double)(lv_monotonic_us() - t0) / 1e6;
    pthread_mutex_lock(&j->lock);
    j->flushing = false;
    if (st == LV_OK) {
        j->durable = at + chunk.len;
        j->last = (lv_journal_commit){ j->durable, records, chunk.len, seconds };
        int64_t now = lv_monotonic_us();
        for (size_t i = 0; i < times.n; i++)
            lv_hist_observe_us(&j->waits, now - times.items[i]);
        lv_vec_free(&times);
        size_t slot = (j->ring_head + j->ring_n) % SYNC_RING;
        if (j->ring_n == SYNC_RING)
            j->ring_head = (j->ring_head + 1) % SYNC_RING;
        else
            j->ring_n++;
        j->ring[slot].durable = j->durable;
        j->ring[slot].at_us = now;
        j->ring[slot].at_ms = lv_now_ms();
        if (j->failing) {
            j->failing = false;
            j->recoveries++;
        }
        lv_buf_free(&chunk);
    } else {
        j->failures++;
        j->failing = true;
        snprintf(j->reason, sizeof j->reason, "%s", werr.msg);
        j->last = (lv_journal_commit){ j->durable, 0, 0, seconds };
        if (j->pending.len)
            lv_buf_append(&chunk, j->pending.data, j->pending.len);
        lv_buf_free(&j->pending);
        j->pending = chunk;
        j->pending_records += records;
        for (size_t i = 0; i < j->pending_at.n; i++) /* their append times too, behind the failed ones' */
            *lv_vec_push(&times, 256) = j->pending_at.items[i];
        lv_vec_free(&j->pending_at);
        j->pending_at = times;
    }
    pthread_cond_broadcast(&j->durable_changed);
    return st == LV_OK;
}

lv_status lv_journal_wait(lv_journal *j, uint64_t ticket, lv_error *err)
{
    pthread_mutex_lock(&j->lock);
    if (ticket > j->end) {
        pthread_mutex_unlock(&j->lock);
        return lv_fail(err, LV_EINVAL, "no record of the journal in %s ends at offset %llu", j->dir,
                       (unsigned long long)ticket);
    }
    bool tried = false;
    while (j->durable < ticket) {
        if (j->failing && (j->flusher_running || tried))
            break; /* not durable now; the flusher (or the next waiter) tries again */
        if (j->flushing || j->flusher_running)
            pthread_cond_wait(&j->durable_changed, &j->lock);
        else {
            flush_locked(j); /* no flusher thread: the first waiter flushes for everyone */
            tried = true;
        }
    }
    lv_status st = j->durable >= ticket ? LV_OK : lv_fail(err, LV_EBUSY, "%s", j->reason);
    pthread_mutex_unlock(&j->lock);
    return st;
}

static void *flusher_loop(void *arg)
{
    lv_journal *j = arg;
    pthread_setname_np(pthread_self(), "levee-journal");
    int backoff_ms = 0;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while ((j->pending.len == 0 && !j->stop_flusher) || j->flushing)
            pthread_cond_wait(j->flushing ? &j->durable_changed : &j->appended, &j->lock);
        if (j->pending.len == 0)
            break; /* stopping with nothing left */
        bool ok = flush_locked(j);
        lv_journal_commit commit = j->last;
        lv_journal_listener listener = j->listener;
        void *ctx = j->listener_ctx;
        pthread_mutex_unlock(&j->lock);
        if (listener)
            listener(ctx, &commit); /* after a failure too: the waiting requests are answered 503 */
        pthread_mutex_lock(&j->lock);
        if (ok) {
            backoff_ms = 0;
            continue;
        }
        if (j->stop_flusher)
            break; /* the last attempt failed: what is left was never acknowledged */
        backoff_ms = backoff_ms ? (backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : backoff_ms * 2) : RETRY_FIRST_MS;
        struct timespec until = lv_deadline_after(backoff_ms);
        while (!j->stop_flusher && pthread_cond_timedwait(&j->appended, &j->lock, &until) != ETIMEDOUT) {
        }
    }
    lv_journal_commit last = { .durable = j->durable };
    pthread_mutex_unlock(&j->lock);
    if (j->listener)
        j->listener(j->listener_ctx, &last);
    return NULL;
}

lv_status lv_journal_start_flusher(lv_journal *j, lv_journal_listener listener, void *ctx, lv_error *err)
{
    pthread_mutex_lock(&j->lock);
    j->listener = listener;
    j->listener_ctx = ctx;
    j->flusher_running = true; /* from now on waiters only wait */
    pthread_mutex_unlock(&j->lock);
    if (pthread_create(&j->flusher, NULL, flusher_loop, j) != 0) {
        pthread_mutex_lock(&j->lock);
        j->flusher_running = false;
        pthread_mutex_unlock(&j->lock);
        return lv_fail(err, LV_EINTERNAL, "cannot start the journal's flusher thread");
    }
    return LV_OK;
}

bool lv_journal_broken(lv_journal *j, lv_error *err)
{
    pthread_mutex_lock(&j->lock);
    bool failing = j->failing;
    if (failing && err)
        lv_fail(err, LV_EBUSY, "%s", j->reason);
    pthread_mutex_unlock(&j->lock);
    return failing;
}

void lv_journal_health_get(lv_journal *j, lv_journal_health *out)
{
    pthread_mutex_lock(&j->lock);
    out->failing = j->failing;
    snprintf(out->reason, sizeof out->reason, "%s", j->reason);
    out->failures = j->failures;
    out->recoveries = j->recoveries;
    out->damaged_bytes = j->damaged_bytes;
    out->damaged_regions = j->damaged_regions;
    pthread_mutex_unlock(&j->lock);
}

bool lv_journal_take_damage(lv_journal *j, char *msg, size_t size)
{
    pthread_mutex_lock(&j->lock);
    bool got = false;
    if (j->n_reports) {
        snprintf(msg, size, "%s", j->reports[0]);
        free(j->reports[0]);
        memmove(j->reports, j->reports + 1, (j->n_reports - 1) * sizeof *j->reports);
        j->n_reports--;
        got = true;
    } else if (j->reports_dropped) {
        snprintf(msg, size, "the journal in %s was damaged in %llu more regions; their bytes are kept in "
                 "%s/damaged/", j->dir, (unsigned long long)j->reports_dropped, j->dir);
        j->reports_dropped = 0;
        got = true;
    }
    pthread_mutex_unlock(&j->lock);
    return got;
}

uint64_t lv_journal_durable(lv_journal *j)
{
    pthread_mutex_lock(&j->lock);
    uint64_t d = j->durable;
    pthread_mutex_unlock(&j->lock);
    return d;
}

uint64_t lv_journal_wait_beyond(lv_journal *j, uint64_t offset, int timeout_ms)
{
    struct timespec until = lv_deadline_after(timeout_ms);
    pthread_mutex_lock(&j->lock);
    if (j->durable <= offset)
        pthread_cond_timedwait(&j->durable_changed, &j->lock, &until);
    uint64_t d = j->durable;
    pthread_mutex_unlock(&j->lock);
    return d;
}

void lv_journal_wake(lv_journal *j)
{
    pthread_mutex_lock(&j->lock);
    pthread_cond_broadcast(&j->durable_changed);
    pthread_mutex_unlock(&j->lock);
}

bool lv_journal_durable_at(lv_journal *j, uint64_t offset, int64_t *at_us, int64_t *at_ms)
{
    pthread_mutex_lock(&j->lock);
    /* the first commit remembered whose durable end reaches offset (ends ascend along the ring) */
    size_t lo = 0, hi = j->ring_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (j->ring[(j->ring_head + mid) % SYNC_RING].durable < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* the first one remembered (at first the journal's end when it was opened) may not be the commit that
     * made it durable: an older one, forgotten, or before this process */
    bool found = lo > 0 && lo < j->ring_n;
    if (found) {
        *at_us = j->ring[(j->ring_head + lo) % SYNC_RING].at_us;
        *at_ms = j->ring[(j->ring_head + lo) % SYNC_RING].at_ms;
    }
    pthread_mutex_unlock(&j->lock);
    return found;
}

lv_hist *lv_journal_waits(lv_journal *j)
{
    return &j->waits;
}

uint64_t lv_journal_backlog(lv_journal *j, uint64_t offset)
{
    uint64_t d = lv_journal_durable(j);
    return d > offset ? d - offset : 0;
}

