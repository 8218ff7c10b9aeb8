/* journal_open.c: opening a journal: its lock (DIR/lock, an OFD lock held while it is open, so two
 * servers never write one journal), finding its segments, cutting a torn record at the very end
 * (a crash in the middle of a write), and the helpers for segment files the other journal files use
 * (journal_internal.h). */
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


char *jn_path_in(const lv_journal *j, const char *name)
{
    size_t n = strlen(j->dir) + strlen(name) + 2;
    char *p = lv_xmalloc(n);
    snprintf(p, n, "%s/%s", j->dir, name);
    return p;
}

char *jn_segment_path(const lv_journal *j, uint64_t start)
{
    char name[32];
    snprintf(name, sizeof name, "%016llx.log", (unsigned long long)start);
    return jn_path_in(j, name);
}

char *jn_released_path(const lv_journal *j, uint64_t start)
{
    char name[32];
    snprintf(name, sizeof name, "%016llx.old", (unsigned long long)start);
    return jn_path_in(j, name);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static ssize_t system_write_at(int fd, const void *buf, size_t len, off_t offset)
{
    return pwrite(fd, buf, len, offset);
}

static int system_sync(int fd)
{
    return fdatasync(fd);
}

/* Reads n bytes at `at` (fewer only at the end of the file); -1 on an error. */
ssize_t jn_read_full(int fd, void *buf, size_t n, uint64_t at)
{
    size_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, (char *)buf + done, n - done, (off_t)(at + done));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

lv_status jn_sync_path(const char *dir, lv_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot sync the directory %s: %s", dir, strerror(errno));
        if (fd >= 0)
            (void)close(fd); /* already failing; the sync's error is the one reported */
        return st;
    }
    if (close(fd) != 0)
        return lv_fail(err, LV_EIO, "cannot sync the directory %s: %s", dir, strerror(errno));
    return LV_OK;
}

/* ---- the lock ---- */

/* The owner recorded in the lock file, as "pid 4242 on host db1, since 2026-12-01T10:00:00Z". */
static void describe_owner(int fd, char *out, size_t size)
{
    char text[512];
    ssize_t n = jn_read_full(fd, text, sizeof text - 1, 0);
    long pid;
    char host[256], since[64];
    if (n > 0) {
        text[n] = '\0';
        if (sscanf(text, "pid=%ld host=%255s since=%63s", &pid, host, since) == 3) {
            snprintf(out, size, "pid %ld on host %s, since %s", pid, host, since);
            return;
        }
    }
    snprintf(out, size, "its pid and host are not in the lock file yet");
}

/* Takes the journal's lock for as long as it is open: an OFD write lock on DIR/lock, which then gets
 * this process's pid, host and start time. */
static lv_status take_lock(lv_journal *j, lv_error *err)
{
    char *path = jn_path_in(j, "lock");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the lock file %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        lv_status st;
        if (e == EAGAIN || e == EACCES) {
            char owner[400];
            describe_owner(fd, owner, sizeof owner);
            st = lv_fail(err, LV_EBUSY, "%s is in use by another levee serve (%s); stop it first, or give "
                         "this one another --db", j->what, owner);
        } else if (e == ENOLCK) {
            st = lv_fail(err, LV_EIO, "cannot lock %s: its file system does not support locks (on NFSv3, run "
                         "rpc.statd and lockd; do not mount with nolock); levee does not run a store it cannot lock",
                         path);
        } else if (e == EINVAL) {
            st = lv_fail(err, LV_EIO, "cannot lock %s: this kernel has no open file description locks "
                         "(F_OFD_SETLK, Linux 3.15 or later)", path);
        } else {
            st = lv_fail(err, LV_EIO, "cannot lock %s: %s", path, strerror(e));
        }
        (void)close(fd); /* the lock's error is the one reported */
        free(path);
        return st;
    }
    free(path);
    j->lock_fd = fd;
    /* Who holds it, for the next opener's message. Only informative: the lock is what guards the
     * journal, so failing to write this (a full disk) does not stop levee. */
    char host[256] = "unknown", since[64] = "unknown", text[512];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == ' ' || *c == '\n')
            *c = '_';
    time_t now = time(NULL);
    struct tm tm;
    if (now != (time_t)-1 && gmtime_r(&now, &tm))
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(text, sizeof text, "pid=%ld host=%s since=%s\n", (long)getpid(), host, since);
    bool noted = ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n && fsync(fd) == 0;
    (void)noted; /* see above: best effort */
    return LV_OK;
}

/* ---- opening ---- */

/* Checks the record at `at` (relative to the segment in fd): magic, a length that fits before limit,
 * a known kind and the payload's CRC. The payload is left in payload. 1 when it checks, 0 when not,
 * -1 when the file cannot be read. */
int jn_check_record(int fd, uint64_t at, uint64_t limit, lv_buf *payload, uint32_t *len, unsigned *kind)
{
    unsigned char h[HEADER];
    if (at + HEADER > limit)
        return 0;
    ssize_t got = jn_read_full(fd, h, HEADER, at);
    if (got < 0)
        return -1;
    if (got != HEADER || get32(h) != MAGIC)
        return 0;
    uint32_t n = get32(h + 4);
    unsigned k = get32(h + 12);
    if ((uint64_t)n > limit - at - HEADER || n > LV_JOURNAL_PENDING_MAX ||
        (k != LV_JOURNAL_DOCUMENT && k != LV_JOURNAL_OVERSIZED))
        return 0;
    lv_buf_reset(payload);
    lv_buf_reserve(payload, (size_t)n + 1);
    got = jn_read_full(fd, payload->data, n, at + HEADER);
    if (got < 0)
        return -1;
    if ((size_t)got != n || (uint32_t)crc32(0L, (const Bytef *)payload->data, n) != get32(h + 8))
        return 0;
    payload->len = n;
    payload->data[n] = '\0';
    *len = n;
    *kind = k;
    return 1;
}

/* Finds the first record that checks in (from, limit) of the segment in fd: *found is its offset,
 * or limit when there is none. LV_EIO when the segment cannot be read. */
lv_status jn_scan_forward(int fd, uint64_t from, uint64_t limit, lv_buf *block, lv_buf *payload,
                              uint64_t *found, lv_error *err)
{
    static const char magic[4] = { 'L', 'V', 'J', '1' };
    lv_buf_reserve(block, SCAN_BLOCK + 1);
    uint64_t at = from + 1;
    while (at + HEADER <= limit) {
        size_t want = limit - at < SCAN_BLOCK ? (size_t)(limit - at) : SCAN_BLOCK;
        ssize_t got = jn_read_full(fd, block->data, want, at);
        if (got < 0)
            return lv_fail(err, LV_EIO, "cannot read the journal: %s", strerror(errno));
        if (got < (ssize_t)sizeof magic)
            break; /* the file ends early: nothing more to find */
        const char *p = block->data, *stop = block->data + got;
        while ((p = memmem(p, (size_t)(stop - p), magic, sizeof magic)) != NULL) {
            uint64_t cand = at + (uint64_t)(p - block->data);
            uint32_t len;
            unsigned kind;
            int ok = jn_check_record(fd, cand, limit, payload, &len, &kind);
            if (ok < 0)
                return lv_fail(err, LV_EIO, "cannot read the journal: %s", strerror(errno));
            if (ok) {
                *found = cand;
                return LV_OK;
            }
            p++;
        }
        if ((size_t)got < want)
            break;
        at += (uint64_t)got - (sizeof magic - 1); /* a magic may straddle two blocks */
    }
    *found = limit;
    return LV_OK;
}

/* Walks the records of the last segment to find where the valid ones end, and cuts a torn tail: a
 * record that does not check with no record after it that does (a crash in the middle of a write).
 * Damage with intact records after it is left for the reader to skip and report. */
static lv_status recover_tail(lv_journal *j, lv_error *err)
{
    uint64_t start = j->segments[j->n_segments - 1];
    char *path = jn_segment_path(j, start);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the journal segment %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    lv_status st = LV_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(errno));
    uint64_t size = st == LV_OK ? (uint64_t)sb.st_size : 0, pos = 0;
    lv_buf payload, block;
    lv_buf_init(&payload);
    lv_buf_init(&block);
    while (st == LV_OK && pos < size) {
        uint32_t len;
        unsigned kind;
        int ok = jn_check_record(fd, pos, size, &payload, &len, &kind);
        if (ok < 0) {
            st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(errno));
            break;
        }
        if (ok) {
            pos += HEADER + len;
            continue;
        }
        uint64_t next;
        st = jn_scan_forward(fd, pos, size, &block, &payload, &next, err);
        if (st != LV_OK || next >= size)
            break; /* nothing intact follows: a torn end */
        pos = next; /* damage in the middle: readers skip it */
    }
    lv_buf_free(&payload);
    lv_buf_free(&block);
    if (st == LV_OK && pos < size && (ftruncate(fd, (off_t)pos) != 0 || fsync(fd) != 0))
        st = lv_fail(err, LV_EIO, "cannot cut the torn end of %s: %s", path, strerror(errno));
    if (close(fd) != 0 && st == LV_OK)
        st = lv_fail(err, LV_EIO, "cannot cut the torn end of %s: %s", path, strerror(errno));
    free(path);
    j->end = j->durable = start + pos;
    return st;
}

/* Opens the segment starting at `start` for writing (creating it, and adding it to the list, when
 * `add`); the previous write descriptor is closed. */
lv_status jn_open_segment(lv_journal *j, uint64_t start, bool add, lv_error *err)
{
    char *path = jn_segment_path(j, start);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the journal segment %s: %s", path, strerror(errno));
        free(path);
        return st;
    }
    free(path);
    if (j->fd >= 0)
        (void)close(j->fd); /* written and synced, or being given up after a failure */
    j->fd = fd;
    if (add) {
        pthread_mutex_lock(&j->lock);
        j->segments = lv_xrealloc(j->segments, (j->n_segments + 1) * sizeof *j->segments);
        j->segments[j->n_segments++] = start;
        pthread_mutex_unlock(&j->lock);
        j->dir_unsynced = true;
    }
    return LV_OK;
}

/* "the store levee.db" for DIR levee.db.journal, else "the journal DIR". */
static char *describe(const char *dir)
{
    size_t n = strlen(dir), suffix = strlen(".journal");
    lv_buf b;
    lv_buf_init(&b);
    if (n > suffix && strcmp(dir + n - suffix, ".journal") == 0)
        lv_buf_printf(&b, "the store %.*s", (int)(n - suffix), dir);
    else
        lv_buf_printf(&b, "the journal %s", dir);
    return lv_buf_detach(&b, NULL);
}

lv_status lv_journal_open(const char *dir, uint64_t start_if_empty, lv_journal **out, lv_error *err)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST)
        return lv_fail(err, LV_EIO, "cannot create the journal directory %s: %s", dir, strerror(errno));
    lv_journal *j = lv_xcalloc(1, sizeof *j);
    j->dir = lv_xstrdup(dir);
    j->what = describe(dir);
    j->fd = -1;
    j->lock_fd = -1;
    j->io = (lv_journal_io){ system_write_at, system_sync };
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->durable_changed, NULL);
    pthread_cond_init(&j->appended, NULL);
    pthread_cond_init(&j->doomed_changed, NULL);
    lv_buf_init(&j->pending);
    /* the lock first: nothing in the directory is touched before this opener owns it */
    lv_status st = take_lock(j, err);
    DIR *d = NULL;
    if (st == LV_OK && !(d = opendir(dir)))
        st = lv_fail(err, LV_EIO, "cannot open the journal directory %s: %s", dir, strerror(errno));
    if (st != LV_OK) {
        lv_journal_close(j);
        return st;
    }
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        unsigned long long start;
        char tail[8];
        if (strlen(e->d_name) == 20 && sscanf(e->d_name, "%16llx.%3s", &start, tail) == 2 && strcmp(tail, "log") == 0) {
            j->segments = lv_xrealloc(j->segments, (j->n_segments + 1) * sizeof *j->segments);
            j->segments[j->n_segments++] = start;
        } else if (strlen(e->d_name) == 20 && sscanf(e->d_name, "%16llx.%3s", &start, tail) == 2 &&
                   strcmp(tail, "old") == 0) {
            /* released before a crash and not deleted yet (lv_journal_release): applied, synced */
            char *old = jn_released_path(j, start);
            (void)unlink(old); /* one that stays is deleted at the next start */
            free(old);
        }
        errno = 0; /* readdir says NULL both at the end and on an error: errno tells them apart */
    }
    if (errno != 0)
        st = lv_fail(err, LV_EIO, "cannot read the journal directory %s: %s", dir, strerror(errno));
    if (closedir(d) != 0 && st == LV_OK)
        st = lv_fail(err, LV_EIO, "cannot read the journal directory %s: %s", dir, strerror(errno));
    if (j->n_segments > 1)
        qsort(j->segments, j->n_segments, sizeof *j->segments, compare_u64);
    if (st == LV_OK && j->n_segments == 0) {
        j->end = j->durable = start_if_empty;
        st = jn_open_segment(j, start_if_empty, true, err);
        if (st == LV_OK)
            st = jn_sync_path(j->dir, err);
        j->dir_unsynced = false;
    } else if (st == LV_OK) {
        st = recover_tail(j, err);
        /* A journal that ends below what the store has applied lost records the store holds (cut by
         * hand, or copied back from an older backup), or is another store's: new records would be
         * written below the applied position, and the applier would skip them, losing what was
         * acknowledged. Refused, with what to do. */
        if (st == LV_OK && j->end < start_if_empty)
            st = lv_fail(err, LV_EDAMAGED, "the journal %s ends at offset %llu, but the store has applied it up to "
                         "offset %llu: it lost records the store holds, or it is another store's journal; move it "
                         "aside (levee starts a new one at the store's position) and run levee check", dir,
                         (unsigned long long)j->end, (unsigned long long)start_if_empty);
        if (st == LV_OK)
            st = jn_open_segment(j, j->segments[j->n_segments - 1], false, err); /* reopen it for appending */
    }
    if (st != LV_OK) {
        lv_journal_close(j);
        return st;
    }
    j->ring[0].durable = j->durable; /* what was durable before: no time known */
    j->ring_n = 1;
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
    if (j->unlinker_running) { /* it deletes what was released first */
        pthread_mutex_lock(&j->lock);
        j->stop_unlinker = true;
        pthread_cond_broadcast(&j->doomed_changed);
        pthread_mutex_unlock(&j->lock);
        pthread_join(j->unlinker, NULL);
    }
    lv_vec_free(&j->doomed);
    pthread_cond_destroy(&j->doomed_changed);
    if (j->fd >= 0)
        (void)close(j->fd); /* everything acknowledged was synced; nothing to report to */
    if (j->lock_fd >= 0)
        (void)close(j->lock_fd); /* releases the lock; the lock file stays, harmless */
    pthread_cond_destroy(&j->appended);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->durable_changed);
    lv_buf_free(&j->pending);
    lv_vec_free(&j->pending_at);
    for (size_t i = 0; i < j->n_reports; i++)
        free(j->reports[i]);
    free(j->segments);
    free(j->what);
    free(j->dir);
    free(j);
}

void lv_journal_set_io(lv_journal *j, const lv_journal_io *io)
{
    pthread_mutex_lock(&j->lock);
    j->io.write_at = io && io->write_at ? io->write_at : system_write_at;
    j->io.sync = io && io->sync ? io->sync : system_sync;
    pthread_mutex_unlock(&j->lock);
}

