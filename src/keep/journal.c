/* journal.c: the append-only journal with group commit. Writers append records to a buffer; the
 * first one that needs them durable becomes the flusher: it writes everything buffered so far and
 * syncs once, for everyone. Readers (the applier) follow the durable end. */
#include "levee/journal.h"

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

#define MAGIC 0x314A564CU /* "LVJ1" */
#define HEADER 16

struct lv_journal {
    char *dir;
    pthread_mutex_t lock;
    pthread_cond_t durable_changed;
    uint64_t *segments; /* start offsets, ascending; the last is being written */
    size_t n_segments;
    int fd;             /* the last segment */
    uint64_t end;       /* offset after the last appended record */
    uint64_t durable;   /* offset up to which records are on disk */
    lv_buf pending;     /* appended, not yet written: records from `durable` to `end` */
    uint64_t pending_records;
    lv_journal_commit last; /* the last commit, for the listener */
    bool flushing;
    bool broken;
    char broken_msg[LV_ERROR_MAX];
    /* the dedicated flusher, when started */
    pthread_t flusher;
    bool flusher_running;
    bool stop_flusher;
    pthread_cond_t appended;
    lv_journal_listener listener;
    void *listener_ctx;
};

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *segment_path(const lv_journal *j, uint64_t start)
{
    size_t n = strlen(j->dir) + 32;
    char *p = lv_xmalloc(n);
    snprintf(p, n, "%s/%016llx.log", j->dir, (unsigned long long)start);
    return p;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static lv_status sync_dir(const lv_journal *j, lv_error *err)
{
    int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot sync the journal directory %s: %s", j->dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return st;
    }
    close(fd);
    return LV_OK;
}

static lv_status start_segment(lv_journal *j, uint64_t start, lv_error *err)
{
    char *path = segment_path(j, start);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot create the journal segment %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    free(path);
    if (j->fd >= 0)
        close(j->fd);
    j->fd = fd;
    j->segments = lv_xrealloc(j->segments, (j->n_segments + 1) * sizeof *j->segments);
    j->segments[j->n_segments++] = start;
    return sync_dir(j, err);
}

/* Walks the records of the last segment to find where the valid ones end; cuts a torn tail. */
static lv_status recover_tail(lv_journal *j, lv_error *err)
{
    uint64_t start = j->segments[j->n_segments - 1];
    char *path = segment_path(j, start);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the journal segment %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    struct stat sb;
    fstat(fd, &sb);
    uint64_t size = (uint64_t)sb.st_size, pos = 0;
    unsigned char h[HEADER];
    lv_buf payload;
    lv_buf_init(&payload);
    while (pos + HEADER <= size) {
        if (pread(fd, h, HEADER, (off_t)pos) != HEADER || get32(h) != MAGIC)
            break;
        uint32_t len = get32(h + 4);
        if (pos + HEADER + len > size)
            break;
        lv_buf_reset(&payload);
        lv_buf_reserve(&payload, len);
        if (pread(fd, payload.data, len, (off_t)(pos + HEADER)) != (ssize_t)len)
            break;
        if ((uint32_t)crc32(0L, (const Bytef *)payload.data, len) != get32(h + 8))
            break;
        pos += HEADER + len;
    }
    lv_buf_free(&payload);
    lv_status st = LV_OK;
    if (pos < size && (ftruncate(fd, (off_t)pos) != 0 || fsync(fd) != 0))
        st = lv_fail(err, LV_EIO, "cannot cut the torn end of %s: %s", path, strerror(errno));
    close(fd);
    free(path);
    j->end = j->durable = start + pos;
    return st;
}

lv_status lv_journal_open(const char *dir, uint64_t start_if_empty, lv_journal **out, lv_error *err)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return lv_fail(err, LV_EIO, "cannot create the journal directory %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return lv_fail(err, LV_EIO, "cannot open the journal directory %s: %s", dir, strerror(errno));
    lv_journal *j = lv_xcalloc(1, sizeof *j);
    j->dir = lv_xstrdup(dir);
    j->fd = -1;
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->durable_changed, NULL);
    pthread_cond_init(&j->appended, NULL);
    lv_buf_init(&j->pending);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long start;
        char tail[8];
        if (strlen(e->d_name) == 20 && sscanf(e->d_name, "%16llx.%3s", &start, tail) == 2 && strcmp(tail, "log") == 0) {
            j->segments = lv_xrealloc(j->segments, (j->n_segments + 1) * sizeof *j->segments);
            j->segments[j->n_segments++] = start;
        }
    }
    closedir(d);
    if (j->n_segments > 1)
        qsort(j->segments, j->n_segments, sizeof *j->segments, compare_u64);
    lv_status st;
    if (j->n_segments == 0) {
        st = start_segment(j, start_if_empty, err);
        j->end = j->durable = start_if_empty;
    } else {
        st = recover_tail(j, err);
        if (st == LV_OK) {
            uint64_t last = j->segments[--j->n_segments];
            st = start_segment(j, last, err); /* reopen it for appending */
        }
    }
    if (st != LV_OK) {
        lv_journal_close(j);
        return st;
    }
    *out = j;
    return LV_OK;
}

void lv_journal_close(lv_journal *j)
{
    if (!j)
        return;
    if (j->flusher_running) {
        pthread_mutex_lock(&j->lock);
        j->stop_flusher = true;
        pthread_cond_broadcast(&j->appended);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->flusher, NULL);
    }
    pthread_cond_destroy(&j->appended);
    if (j->fd >= 0)
        close(j->fd);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->durable_changed);
    lv_buf_free(&j->pending);
    free(j->segments);
    free(j->dir);
    free(j);
}

uint64_t lv_journal_append(lv_journal *j, unsigned kind, const void *payload, size_t len)
{
    unsigned char h[HEADER];
    put32(h, MAGIC);
    put32(h + 4, (uint32_t)len);
    put32(h + 8, (uint32_t)crc32(0L, (const Bytef *)payload, (uInt)len));
    put32(h + 12, kind);
    pthread_mutex_lock(&j->lock);
    lv_buf_append(&j->pending, h, HEADER);
    lv_buf_append(&j->pending, payload, len);
    j->end += HEADER + len;
    j->pending_records++;
    uint64_t ticket = j->end;
    pthread_cond_signal(&j->appended);
    pthread_mutex_unlock(&j->lock);
    return ticket;
}

/* Writes data at the end of the current segment (starting a new segment first when the current one
 * is full) and syncs it. Called by the flusher without the lock. */
static lv_status write_out(lv_journal *j, const char *data, size_t len, uint64_t at, lv_error *err)
{
    uint64_t seg_start = j->segments[j->n_segments - 1];
    if (at - seg_start >= LV_JOURNAL_SEGMENT_BYTES) {
        if (fdatasync(j->fd) != 0)
            return lv_fail(err, LV_EIO, "cannot sync the journal: %s", strerror(errno));
        pthread_mutex_lock(&j->lock);
        lv_status st = start_segment(j, at, err);
        pthread_mutex_unlock(&j->lock);
        if (st != LV_OK)
            return st;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(j->fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lv_fail(err, LV_EIO, "cannot write the journal in %s: %s", j->dir, strerror(errno));
        done += (size_t)n;
    }
    if (fdatasync(j->fd) != 0)
        return lv_fail(err, LV_EIO, "cannot sync the journal in %s: %s", j->dir, strerror(errno));
    return LV_OK;
}

/* Writes and syncs everything appended so far. Called with the lock held and flushing false; returns
 * with the lock held. */
static void flush_locked(lv_journal *j)
{
    j->flushing = true;
    lv_buf chunk = j->pending;
    lv_buf_init(&j->pending);
    uint64_t at = j->durable, records = j->pending_records;
    j->pending_records = 0;
    pthread_mutex_unlock(&j->lock);
    lv_error werr;
    int64_t t0 = lv_monotonic_us();
    lv_status st = write_out(j, chunk.data, chunk.len, at, &werr);
    double seconds = (double)(lv_monotonic_us() - t0) / 1e6;
    pthread_mutex_lock(&j->lock);
    j->flushing = false;
    if (st == LV_OK) {
        j->durable = at + chunk.len;
        j->last = (lv_journal_commit){ j->durable, records, chunk.len, seconds };
    } else {
        j->broken = true;
        snprintf(j->broken_msg, sizeof j->broken_msg, "%s", werr.msg);
    }
    pthread_cond_broadcast(&j->durable_changed);
    lv_buf_free(&chunk);
}

lv_status lv_journal_wait(lv_journal *j, uint64_t ticket, lv_error *err)
{
    pthread_mutex_lock(&j->lock);
    while (j->durable < ticket && !j->broken) {
        if (j->flushing || j->flusher_running)
            pthread_cond_wait(&j->durable_changed, &j->lock);
        else
            flush_locked(j); /* no flusher thread: the first waiter flushes for everyone */
    }
    lv_status st = j->durable >= ticket ? LV_OK : lv_fail(err, LV_EIO, "%s", j->broken_msg);
    pthread_mutex_unlock(&j->lock);
    return st;
}

static void *flusher_loop(void *arg)
{
    lv_journal *j = arg;
    pthread_setname_np(pthread_self(), "levee-journal");
    pthread_mutex_lock(&j->lock);
    for (;;) {
        while ((j->pending.len == 0 && !j->stop_flusher) || j->flushing)
            pthread_cond_wait(j->flushing ? &j->durable_changed : &j->appended, &j->lock);
        if (j->pending.len == 0 || j->broken)
            break; /* stopping with nothing left, or unable to write */
        flush_locked(j);
        lv_journal_commit commit = j->last;
        commit.durable = j->durable; /* also when the write failed: the listener sees what is durable */
        lv_journal_listener listener = j->listener;
        void *ctx = j->listener_ctx;
        pthread_mutex_unlock(&j->lock);
        if (listener)
            listener(ctx, &commit);
        pthread_mutex_lock(&j->lock);
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
    bool broken = j->broken;
    if (broken && err)
        lv_fail(err, LV_EIO, "%s", j->broken_msg);
    pthread_mutex_unlock(&j->lock);
    return broken;
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
    if (j->durable <= offset && !j->broken)
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

uint64_t lv_journal_backlog(lv_journal *j, uint64_t offset)
{
    uint64_t d = lv_journal_durable(j);
    return d > offset ? d - offset : 0;
}

/* ---- reading ---- */

struct lv_journal_reader {
    lv_journal *j;
    uint64_t pos;
    uint64_t seg_start; /* segment open in fd */
    int fd;
    lv_buf payload;
};

lv_status lv_journal_reader_open(lv_journal *j, uint64_t from, lv_journal_reader **out, lv_error *err)
{
    (void)err;
    lv_journal_reader *r = lv_xcalloc(1, sizeof *r);
    r->j = j;
    r->pos = from;
    r->fd = -1;
    lv_buf_init(&r->payload);
    *out = r;
    return LV_OK;
}

void lv_journal_reader_close(lv_journal_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    lv_buf_free(&r->payload);
    free(r);
}

/* Opens the segment holding r->pos (the one with the greatest start at or before it). */
static lv_status open_segment_for(lv_journal_reader *r, lv_error *err)
{
    lv_journal *j = r->j;
    pthread_mutex_lock(&j->lock);
    uint64_t start = j->segments[0];
    bool found = false;
    for (size_t i = 0; i < j->n_segments; i++)
        if (j->segments[i] <= r->pos) {
            start = j->segments[i];
            found = true;
        }
    pthread_mutex_unlock(&j->lock);
    if (!found)
        return lv_fail(err, LV_EIO, "the journal in %s no longer holds offset %llu (its segment was "
                       "deleted before it was applied)", j->dir, (unsigned long long)r->pos);
    if (r->fd >= 0 && r->seg_start == start)
        return LV_OK;
    char *path = segment_path(j, start);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    free(path);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = fd;
    r->seg_start = start;
    return LV_OK;
}

lv_status lv_journal_read(lv_journal_reader *r, lv_journal_record *rec, lv_error *err)
{
    lv_journal *j = r->j;
    if (r->pos >= lv_journal_durable(j))
        return LV_ENOTFOUND;
    for (int attempt = 0; attempt < 2; attempt++) {
        lv_status st = open_segment_for(r, err);
        if (st != LV_OK)
            return st;
        unsigned char h[HEADER];
        ssize_t got = pread(r->fd, h, HEADER, (off_t)(r->pos - r->seg_start));
        if (got == 0 && attempt == 0) {
            /* the end of this segment: the record is at the start of the next one */
            close(r->fd);
            r->fd = -1;
            continue;
        }
        if (got != HEADER || get32(h) != MAGIC)
            return lv_fail(err, LV_EIO, "the journal in %s is damaged at offset %llu", j->dir,
                           (unsigned long long)r->pos);
        uint32_t len = get32(h + 4);
        lv_buf_reset(&r->payload);
        lv_buf_reserve(&r->payload, len);
        if (pread(r->fd, r->payload.data, len, (off_t)(r->pos - r->seg_start + HEADER)) != (ssize_t)len ||
            (uint32_t)crc32(0L, (const Bytef *)r->payload.data, len) != get32(h + 8))
            return lv_fail(err, LV_EIO, "the journal in %s is damaged at offset %llu", j->dir,
                           (unsigned long long)r->pos);
        r->payload.len = len;
        r->payload.data[len] = '\0';
        rec->kind = get32(h + 12);
        rec->payload = r->payload.data;
        rec->len = len;
        rec->offset = r->pos;
        rec->next = r->pos + HEADER + len;
        r->pos = rec->next;
        return LV_OK;
    }
    return lv_fail(err, LV_EIO, "the journal in %s is damaged at offset %llu", j->dir, (unsigned long long)r->pos);
}

lv_status lv_journal_release(lv_journal *j, uint64_t offset, lv_error *err)
{
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
        char *path = segment_path(j, start);
        int rc = unlink(path);
        int saved = errno;
        free(path);
        if (rc != 0 && saved != ENOENT)
            return lv_fail(err, LV_EIO, "cannot delete an applied journal segment in %s: %s", j->dir,
                           strerror(saved));
    }
}
