/* journal_read.c: reading the journal back, in order, following its durable end (the applier), and
 * releasing segments once they are stored. A damaged record is skipped: its bytes are copied aside
 * into DIR/damaged/ first and reported once (lv_journal_take_damage). */
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


/* ---- reading ---- */

struct lv_journal_reader {
    lv_journal *j;
    uint64_t pos;
    uint64_t seg_start; /* segment open in fd */
    int fd;
    lv_buf payload;
    lv_buf block;       /* for scanning damage and copying it aside */
};

lv_status lv_journal_reader_open(lv_journal *j, uint64_t from, lv_journal_reader **out, lv_error *err)
{
    (void)err;
    lv_journal_reader *r = lv_xcalloc(1, sizeof *r);
    r->j = j;
    r->pos = from;
    r->fd = -1;
    lv_buf_init(&r->payload);
    lv_buf_init(&r->block);
    *out = r;
    return LV_OK;
}

void lv_journal_reader_close(lv_journal_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        (void)close(r->fd); /* read-only */
    lv_buf_free(&r->payload);
    lv_buf_free(&r->block);
    free(r);
}

/* Copies [from, to) of the segment in fd (offsets relative to it; seg_start absolute) into
 * DIR/damaged/<absolute offset>.bin and syncs it. *copied says how many bytes the segment still had. */
static lv_status keep_aside(lv_journal_reader *r, uint64_t from, uint64_t to, char *path, size_t path_size,
                            uint64_t *copied, lv_error *err)
{
    lv_journal *j = r->j;
    char *dir = jn_path_in(j, "damaged");
    lv_status st = LV_OK;
    bool made = mkdir(dir, 0750) == 0;
    if (!made && errno != EEXIST)
        st = lv_fail(err, LV_EIO, "cannot keep the damaged part of the journal aside in %s: %s", dir, strerror(errno));
    if (st == LV_OK && made)
        st = jn_sync_path(j->dir, err);
    snprintf(path, path_size, "%s/%016llx.bin", dir, (unsigned long long)(r->seg_start + from));
    int out = -1;
    if (st == LV_OK && (out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0)
        st = lv_fail(err, LV_EIO, "cannot keep the damaged part of the journal aside in %s: %s", path, strerror(errno));
    *copied = 0;
    lv_buf_reserve(&r->block, SCAN_BLOCK + 1);
    for (uint64_t at = from; st == LV_OK && at < to;) {
        size_t want = to - at < SCAN_BLOCK ? (size_t)(to - at) : SCAN_BLOCK;
        ssize_t got = jn_read_full(r->fd, r->block.data, want, at);
        if (got < 0) {
            st = lv_fail(err, LV_EIO, "cannot read the damaged part of the journal in %s: %s", j->dir, strerror(errno));
            break;
        }
        for (size_t done = 0; done < (size_t)got;) {
            ssize_t n = write(out, r->block.data + done, (size_t)got - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                st = lv_fail(err, LV_EIO, "cannot keep the damaged part of the journal aside in %s: %s", path,
                             n < 0 ? strerror(errno) : "nothing was written");
                break;
            }
            done += (size_t)n;
        }
        *copied += (uint64_t)got;
        at += (uint64_t)got;
        if ((size_t)got < want)
            break; /* the segment file ends early */
    }
    if (st == LV_OK && fsync(out) != 0)
        st = lv_fail(err, LV_EIO, "cannot keep the damaged part of the journal aside in %s: %s", path, strerror(errno));
    if (out >= 0 && close(out) != 0 && st == LV_OK)
        st = lv_fail(err, LV_EIO, "cannot keep the damaged part of the journal aside in %s: %s", path, strerror(errno));
    if (st == LV_OK)
        st = jn_sync_path(dir, err);
    free(dir);
    return st;
}

/* Records a damaged region [from, to) (absolute offsets): counts it and queues its report. */
static void note_damage(lv_journal *j, uint64_t from, uint64_t to, uint64_t copied, const char *kept)
{
    lv_buf msg;
    lv_buf_init(&msg);
    unsigned long long a = from, b = to, n = to - from, c = copied;
    if (!kept)
        lv_buf_printf(&msg, "the journal in %s lacks offsets %llu-%llu (%llu bytes: their segment is missing or "
                      "too short): the records there are lost; the intact records around them are applied", j->dir,
                      a, b, n);
    else if (copied < to - from)
        lv_buf_printf(&msg, "the journal in %s was damaged at offsets %llu-%llu (%llu bytes, %llu of them missing "
                      "from the segment): the intact records around it are applied; what remained of the damaged "
                      "bytes is kept in %s", j->dir, a, b, n, n - c, kept);
    else
        lv_buf_printf(&msg, "the journal in %s was damaged at offsets %llu-%llu (%llu bytes): the intact records "
                      "around it are applied; the damaged bytes are kept in %s", j->dir, a, b, n, kept);
    pthread_mutex_lock(&j->lock);
    if (from >= j->damage_seen) {
        j->damage_seen = to;
        j->damaged_bytes += to - from;
        j->damaged_regions++;
        if (j->n_reports < MAX_REPORTS)
            j->reports[j->n_reports++] = lv_buf_detach(&msg, NULL);
        else
            j->reports_dropped++;
    }
    pthread_mutex_unlock(&j->lock);
    lv_buf_free(&msg);
}

static bool damage_known(lv_journal *j, uint64_t from)
{
    pthread_mutex_lock(&j->lock);
    bool known = from < j->damage_seen;
    pthread_mutex_unlock(&j->lock);
    return known;
}

lv_status lv_journal_read(lv_journal_reader *r, lv_journal_record *rec, lv_error *err)
{
    lv_journal *j = r->j;
    /* Each turn returns, or moves pos forward past damage (or a gap): the loop ends. */
    for (;;) {
        pthread_mutex_lock(&j->lock);
        uint64_t durable = j->durable, first = j->segments[0], start = 0, end = durable;
        bool found = false;
        for (size_t i = 0; i < j->n_segments && j->segments[i] <= r->pos; i++) {
            start = j->segments[i];
            end = i + 1 < j->n_segments ? j->segments[i + 1] : durable;
            found = true;
        }
        pthread_mutex_unlock(&j->lock);
        if (r->pos >= durable)
            return LV_ENOTFOUND;
        if (!found) { /* before the first segment: released, or never there */
            if (!damage_known(j, r->pos))
                note_damage(j, r->pos, first, 0, NULL);
            r->pos = first;
            continue;
        }
        if (r->fd < 0 || r->seg_start != start) {
            char *path = jn_segment_path(j, start);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            int e = errno;
            if (fd < 0 && e != ENOENT) {
                lv_status st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(e));
                free(path);
                return st;
            }
            free(path);
            if (r->fd >= 0)
                (void)close(r->fd); /* read-only */
            r->fd = fd;
            r->seg_start = start;
            if (fd < 0) { /* the segment file is gone */
                if (!damage_known(j, r->pos))
                    note_damage(j, r->pos, end, 0, NULL);
                r->pos = end;
                continue;
            }
        }
        uint64_t at = r->pos - start, limit = end - start;
        uint32_t len;
        unsigned kind;
        int ok = jn_check_record(r->fd, at, limit, &r->payload, &len, &kind);
        if (ok < 0)
            return lv_fail(err, LV_EIO, "cannot read the journal in %s at offset %llu: %s", j->dir,
                           (unsigned long long)r->pos, strerror(errno));
        if (ok) {
            rec->kind = kind;
            rec->payload = r->payload.data;
            rec->len = len;
            rec->offset = r->pos;
            rec->next = r->pos + HEADER + len;
            r->pos = rec->next;
            return LV_OK;
        }
        /* damage: skip to the next record that checks, keeping the bytes in between */
        uint64_t next;
        lv_status st = jn_scan_forward(r->fd, at, limit, &r->block, &r->payload, &next, err);
        if (st != LV_OK)
            return st;
        if (!damage_known(j, r->pos)) {
            char kept[LV_ERROR_MAX];
            uint64_t copied;
            if ((st = keep_aside(r, at, next, kept, sizeof kept, &copied, err)) != LV_OK)
                return st; /* the reader stays before the damage: it is read again next time */
            note_damage(j, r->pos, start + next, copied, copied ? kept : NULL);
        }
        r->pos = start + next;
    }
}

/* The unlinker: deletes released segments (renamed aside) until the journal closes, having deleted
 * every one released before that. */
static void *unlinker_main(void *arg)
{
    lv_journal *j = arg;
    pthread_setname_np(pthread_self(), "levee-unlink");
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while (!j->doomed.n && !j->stop_unlinker)
            pthread_cond_wait(&j->doomed_changed, &j->lock);
        if (!j->doomed.n)
            break;
        uint64_t start = j->doomed.items[--j->doomed.n];
        pthread_mutex_unlock(&j->lock);
        char *path = jn_released_path(j, start);
        int rc = unlink(path);
        int saved = errno;
        pthread_mutex_lock(&j->lock);
        if (rc != 0 && saved != ENOENT)
            snprintf(j->unlink_error, sizeof j->unlink_error, "cannot delete the applied journal segment %s: %s",
                     path, strerror(saved));
        free(path);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

lv_status lv_journal_release(lv_journal *j, uint64_t offset, lv_error *err)
{
    pthread_mutex_lock(&j->lock);
    if (j->unlink_error[0]) { /* an earlier release's segment stays on disk: said once (its .old is
                               * deleted at the next start) */
        lv_status st = lv_fail(err, LV_EIO, "%s", j->unlink_error);
        j->unlink_error[0] = '\0';
        pthread_mutex_unlock(&j->lock);
        return st;
    }
    if (!j->unlinker_running && j->n_segments >= 2 && j->segments[1] <= offset) {
        j->unlinker_running = pthread_create(&j->unlinker, NULL, unlinker_main, j) == 0;
        j->stop_unlinker = false;
    }
    pthread_mutex_unlock(&j->lock);
    for (;;) {
        pthread_mutex_lock(&j->lock);
        /* never the segment being written, and only segments that end at or before offset */
        if (j->n_segments < 2 || j->segments[1] > offset) {
            pthread_mutex_unlock(&j->lock);
            return LV_OK;
        }
        uint64_t start = j->segments[0];
        memmove(j->segments, j->segments + 1, (j->n_segments - 1) * sizeof *j->segments);
        j->n_segments--;
        pthread_mutex_unlock(&j->lock);
        /* renamed at once (the readers and the next start no longer see it), deleted on the unlinker's
         * thread; without one, here */
        char *path = jn_segment_path(j, start), *old = jn_released_path(j, start);
        int rc = rename(path, old);
        int saved = errno;
        bool aside = rc == 0;
        if (rc == 0 && !j->unlinker_running) {
            rc = unlink(old);
            saved = errno;
        }
        lv_status st = rc != 0 && saved != ENOENT
                           ? lv_fail(err, LV_EIO, "cannot delete an applied journal segment in %s: %s", j->dir,
                                     strerror(saved))
                           : LV_OK;
        free(path);
        free(old);
        if (st != LV_OK)
            return st;
        if (aside && j->unlinker_running) {
            pthread_mutex_lock(&j->lock);
            *lv_vec_push(&j->doomed, 8) = start;
            pthread_cond_broadcast(&j->doomed_changed);
            pthread_mutex_unlock(&j->lock);
        }
    }
}
