/* applier.c: the thread that applies the journal to the store. It takes whatever is durable (up to
 * a batch), prepares and writes it in one transaction with the new applied offset, and every few
 * seconds syncs the store and deletes the journal segments that are now safely stored. */
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
    _Atomic uint64_t offset;
    pthread_mutex_t lock;
    bool failed;
    lv_error err;
};

static int64_t now_ms(void)
{
    return lv_monotonic_us() / 1000;
}

/* Reads durable records into the batch; returns the offset after the last one read. */
static lv_status fill(lv_applier *a, lv_journal_reader *r, lv_batch *b, uint64_t *next, lv_error *err)
{
    lv_journal_record rec;
    lv_status st;
    char source[300];
    while (lv_batch_docs(b) < BATCH_DOCS && (st = lv_journal_read(r, &rec, err)) == LV_OK) {
        const char *src, *doc;
        size_t src_len, doc_len;
        uint32_t line;
        if (!lv_journal_doc_decode(rec.payload, rec.len, &src, &src_len, &line, &doc, &doc_len))
            return lv_fail(err, LV_EIO, "a journal record at offset %llu is not a document",
                           (unsigned long long)rec.offset);
        snprintf(source, sizeof source, "%.*s", (int)(src_len > 200 ? 200 : src_len), src);
        if (rec.kind == LV_JOURNAL_OVERSIZED)
            lv_batch_add_oversized(b, (size_t)strtoull(doc, NULL, 10), LV_EVENT_MAX_BYTES, source, line);
        else
            lv_batch_add(b, doc, doc_len, source, line, NULL);
        *next = rec.next;
    }
    (void)a;
    return st == LV_ENOTFOUND ? LV_OK : st;
}

static lv_status apply_batch(lv_applier *a, lv_batch *b, lv_zctx *z, uint64_t next, lv_error *err)
{
    lv_counts counts = { 0 };
    lv_status st = lv_batch_prepare(b, z, lv_store_dict(a->store), err);
    if (st == LV_OK)
        st = lv_store_begin(a->store, err);
    if (st == LV_OK) {
        st = lv_store_write(a->store, b, &counts, err);
        if (st == LV_OK)
            st = lv_store_set_mark(a->store, LV_JOURNAL_MARK, next, err);
        if (st == LV_OK)
            st = lv_store_commit(a->store, err);
        else
            lv_store_rollback(a->store);
    }
    if (st == LV_OK) {
        atomic_store(&a->offset, next);
        if (a->applied)
            a->applied(a->ctx, b, &counts, next);
    }
    return st;
}

/* Waits (at most LINGER_MS) until a batch's worth of journal beyond `next` is durable, or until the
 * server stops. */
static void linger(lv_applier *a, uint64_t next)
{
    int64_t deadline = now_ms() + LINGER_MS;
    uint64_t durable = lv_journal_durable(a->journal);
    while (durable < next + LINGER_BYTES && !atomic_load(&a->stop)) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            break;
        durable = lv_journal_wait_beyond(a->journal, durable, (int)left);
    }
}

static void *run(void *arg)
{
    lv_applier *a = arg;
    pthread_setname_np(pthread_self(), "levee-apply");
    /* Acknowledging comes first: the applier runs only on CPU time nothing else wants (SCHED_IDLE),
     * and catches up when the load drops; what it has not applied yet is durable in the journal, and
     * the server refuses new events with 503 when that backlog grows too large. Where SCHED_IDLE is
     * not allowed, a low priority does nearly the same. */
    struct sched_param idle = { 0 };
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle) != 0)
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    lv_error err = { 0 };
    lv_journal_reader *r = NULL;
    lv_batch *b = lv_batch_new();
    lv_zctx *z = lv_zctx_new();
    uint64_t next = atomic_load(&a->offset), synced = next;
    int64_t last_sync = now_ms();
    lv_status st = lv_journal_reader_open(a->journal, next, &r, &err);
    for (;;) {
        if (st != LV_OK)
            break;
        bool stopping = atomic_load(&a->stop);
        if (!stopping)
            linger(a, next);
        st = fill(a, r, b, &next, &err);
        if (st != LV_OK)
            break;
        size_t docs = lv_batch_docs(b);
        if (docs) {
            st = apply_batch(a, b, z, next, &err);
            lv_batch_reset(b);
            if (st == LV_OK)
                st = lv_store_maybe_train(a->store, &err);
            if (st != LV_OK)
                break;
            if (docs == BATCH_DOCS && now_ms() - last_sync < SYNC_EVERY_MS && next - synced < SYNC_EVERY_BYTES)
                continue; /* a full batch: more is probably waiting */
        }
        if (next > synced && (now_ms() - last_sync >= SYNC_EVERY_MS || next - synced >= SYNC_EVERY_BYTES || stopping)) {
            /* the store now holds everything up to next: its journal segments can go */
            st = lv_store_sync(a->store, &err);
            if (st == LV_OK)
                st = lv_journal_release(a->journal, next, &err);
            synced = next;
            last_sync = now_ms();
            if (st != LV_OK)
                break;
        }
        if (stopping && lv_journal_durable(a->journal) <= next)
            break;
        if (!stopping)
            lv_journal_wait_beyond(a->journal, next, 500);
    }
    if (st != LV_OK) {
        pthread_mutex_lock(&a->lock);
        a->failed = true;
        a->err = err;
        pthread_mutex_unlock(&a->lock);
    }
    lv_journal_reader_close(r);
    lv_batch_free(b);
    lv_zctx_free(z);
    return NULL;
}

lv_status lv_applier_start(lv_store *store, lv_journal *journal, lv_applied_fn applied, void *ctx,
                           lv_applier **out, lv_error *err)
{
    uint64_t from;
    lv_status st = lv_store_get_mark(store, LV_JOURNAL_MARK, &from, err);
    if (st != LV_OK)
        return st;
    lv_applier *a = lv_xcalloc(1, sizeof *a);
    a->store = store;
    a->journal = journal;
    a->applied = applied;
    a->ctx = ctx;
    atomic_store(&a->offset, from);
    pthread_mutex_init(&a->lock, NULL);
    lv_store_set_bulk(store, true);
    if (pthread_create(&a->thread, NULL, run, a) != 0) {
        pthread_mutex_destroy(&a->lock);
        free(a);
        return lv_fail(err, LV_EINTERNAL, "cannot start the applier thread");
    }
    *out = a;
    return LV_OK;
}

lv_status lv_applier_stop(lv_applier *a, lv_error *err)
{
    atomic_store(&a->stop, true);
    lv_journal_wake(a->journal);
    pthread_join(a->thread, NULL);
    lv_store_set_bulk(a->store, false);
    lv_status st = LV_OK;
    if (a->failed) {
        if (err)
            *err = a->err;
        st = a->err.status ? a->err.status : LV_EIO;
    }
    pthread_mutex_destroy(&a->lock);
    free(a);
    return st;
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
