/* check.c: the rules of levee backup and levee check, once for every engine (levee/check.h): what a
 * backup must match, what a sound store is (documents that read back and decode to the keys stored
 * with their events, rows for what the events are about, counts and totals that add up), and what a
 * sound journal is (every record checks, segments follow each other, the store's applied position
 * lies within it). The engine reads; this file judges. */
#include "keep.h"

#include "journal_internal.h"

#include "levee/applier.h"
#include "levee/check.h"
#include "levee/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Problems of one kind reported one by one at most; beyond, counted in one sentence. */
#define REPORT_MAX 20

lv_status lv_store_backup(lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                          lv_error *err)
{
    return s->engine->backup(s, to, progress, ctx, at, err);
}

lv_status lv_store_integrity(lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err)
{
    return s->engine->integrity(s, fn, ctx, err);
}

lv_status lv_store_size_get(lv_store *s, lv_store_size *out, lv_error *err)
{
    return s->engine->size(s, out, err);
}

static void say(lv_problem_fn fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(lv_problem_fn fn, void *ctx, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(ctx, msg);
}

unsigned lv_store_size_diff(const lv_store_size *a, const lv_store_size *b, const char *a_name, const char *b_name,
                            lv_problem_fn fn, void *ctx)
{
    static const struct {
        const char *what;
        size_t offset;
    } tables[] = {
        { "event rows", offsetof(lv_store_size, events) },
        { "documents", offsetof(lv_store_size, documents) },
        { "dead letters", offsetof(lv_store_size, dead_letters) },
        { "topics", offsetof(lv_store_size, topics) },
        { "entries", offsetof(lv_store_size, entries) },
        { "conversations", offsetof(lv_store_size, conversations) },
        { "messages", offsetof(lv_store_size, messages) },
        { "subscriptions", offsetof(lv_store_size, subscriptions) },
    };
    unsigned differ = 0;
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        int64_t x = *(const int64_t *)((const char *)a + tables[i].offset);
        int64_t y = *(const int64_t *)((const char *)b + tables[i].offset);
        if (x != y) {
            say(fn, ctx, "%s holds %lld %s, but %s held %lld at the moment copied", b_name, (long long)y,
                tables[i].what, a_name, (long long)x);
            differ++;
        }
    }
    return differ;
}

/* ---- the journal ---- */

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Whether another open file description holds the journal's lock (a server runs on it). */
static bool journal_locked(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0, .l_pid = 0 };
    bool held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    (void)close(fd); /* read-only, never locked by us */
    return held;
}

/* The segments' start offsets, ascending. */
static lv_status list_segments(const char *dir, uint64_t **out, size_t *n, lv_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return lv_fail(err, LV_EIO, "cannot open the journal directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    errno = 0;
    lv_status st = LV_OK;
    while ((e = readdir(d)) != NULL) {
        unsigned long long start;
        char tail[8];
        if (strlen(e->d_name) == 20 && sscanf(e->d_name, "%16llx.%3s", &start, tail) == 2 && strcmp(tail, "log") == 0) {
            *out = lv_xrealloc(*out, (*n + 1) * sizeof **out);
            (*out)[(*n)++] = start;
        }
        errno = 0;
    }
    if (errno != 0)
        st = lv_fail(err, LV_EIO, "cannot read the journal directory %s: %s", dir, strerror(errno));
    if (closedir(d) != 0 && st == LV_OK)
        st = lv_fail(err, LV_EIO, "cannot read the journal directory %s: %s", dir, strerror(errno));
    if (*n > 1)
        qsort(*out, *n, sizeof **out, compare_u64);
    return st;
}

/* Walks one segment's records: *valid_end is the offset (in the segment) after the last record that
 * checks with nothing damaged after it, or the size when all check. */
static lv_status check_segment(const char *path, uint64_t start, bool last, bool live, lv_problem_fn fn, void *ctx,
                               lv_journal_span *span, uint64_t *seg_end, lv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lv_fail(err, LV_EIO, "cannot open the journal segment %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        lv_status st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(errno));
        (void)close(fd);
        return st;
    }
    uint64_t size = (uint64_t)sb.st_size, pos = 0;
    lv_buf payload, block;
    lv_buf_init(&payload);
    lv_buf_init(&block);
    lv_status st = LV_OK;
    while (pos < size) {
        uint32_t len;
        unsigned kind;
        int ok = jn_check_record(fd, pos, size, &payload, &len, &kind);
        if (ok < 0) {
            st = lv_fail(err, LV_EIO, "cannot read the journal segment %s: %s", path, strerror(errno));
            break;
        }
        if (ok) {
            span->records++;
            pos += HEADER + len;
            continue;
        }
        uint64_t next;
        if ((st = jn_scan_forward(fd, pos, size, &block, &payload, &next, err)) != LV_OK)
            break;
        if (next < size) {
            say(fn, ctx, "the journal segment %s has %llu damaged bytes at offset %llu (journal offset %llu), with "
                "intact records after them: levee serve skips them and keeps them aside in its damaged/ directory; "
                "what they held is lost unless it was applied to the store before", path,
                (unsigned long long)(next - pos), (unsigned long long)pos, (unsigned long long)(start + pos));
            pos = next;
            continue;
        }
        if (last && live)
            break; /* the server is writing there now */
        if (last)
            say(fn, ctx, "the journal segment %s ends in a torn record at offset %llu (%llu bytes): a write was cut "
                "short (a crash), so it was never acknowledged; levee serve cuts it off when it starts", path,
                (unsigned long long)pos, (unsigned long long)(size - pos));
        else
            say(fn, ctx, "the journal segment %s is cut short: it ends in a torn record at offset %llu (%llu bytes), "
                "though a later segment follows it; the records that were there are lost unless they were applied "
                "to the store", path, (unsigned long long)pos, (unsigned long long)(size - pos));
        break;
    }
    lv_buf_free(&payload);
    lv_buf_free(&block);
    (void)close(fd); /* read-only */
    *seg_end = start + pos;
    return st;
}

lv_status lv_journal_check(const char *dir, lv_problem_fn fn, void *ctx, lv_journal_span *span, lv_error *err)
{
    memset(span, 0, sizeof *span);
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT)
            return LV_OK;
        return lv_fail(err, LV_EIO, "cannot read the journal directory %s: %s", dir, strerror(errno));
    }
    span->exists = true;
    span->locked = journal_locked(dir);
    uint64_t *starts;
    size_t n;
    lv_status st = list_segments(dir, &starts, &n, err);
    span->segments = n;
    if (st == LV_OK && n > 0)
        span->first = span->end = starts[0];
    for (size_t i = 0; st == LV_OK && i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%016llx.log", dir, (unsigned long long)starts[i]);
        uint64_t seg_end = 0;
        st = check_segment(path, starts[i], i + 1 == n, span->locked, fn, ctx, span, &seg_end, err);
        if (st != LV_OK)
            break;
        if (i > 0 && starts[i] != span->end)
            say(fn, ctx, "the journal %s has a gap between offsets %llu and %llu (before the segment %016llx.log): "
                "the records that were there are lost unless they were applied to the store", dir,
                (unsigned long long)span->end, (unsigned long long)starts[i], (unsigned long long)starts[i]);
        span->end = seg_end;
    }
    free(starts);
    return st;
}

/* ---- the store ---- */

/* Counts per event name and format, from the events themselves. */
typedef struct name_count {
    char *name;
    int64_t n[2]; /* canvas, caliper */
} name_count;

typedef struct checker {
    lv_store *s;
    lv_problem_fn fn;
    void *ctx;
    lv_progress_fn progress;
    void *pctx;
    uint64_t total, seen;
    uint64_t problems;
    /* the document being read: the keys and times decoding gives, and which were matched */
    lv_batch *b;
    lv_zctx *z;
    int64_t holder;          /* its row (0: none, or it could not be read) */
    bool holder_damaged;
    size_t n_keys, cap_keys;
    struct doc_key {
        unsigned char hash[LV_HASH_BYTES];
        unsigned char old_hash[LV_HASH_BYTES]; /* before schema 7 (lv_batch_old_key) */
        int64_t time_ms;
        lv_format format;
        const lv_kind *kind;
        uint64_t about;      /* the topic, entry or conversation it is about */
        char name[128];
    } *keys;
    /* figures */
    name_count *names;
    size_t n_names, cap_names;
    int64_t doc_bytes;
    bool any_damage;
    bool have_span;
    int64_t first_time, last_time;
    unsigned reported_docs, reported_rows, reported_dead;
} checker;

static void problem(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(checker *c, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->problems++;
    c->fn(c->ctx, msg);
}

static void count_problem(void *ctx, const char *msg)
{
    checker *c = ctx;
    c->problems++;
    c->fn(c->ctx, msg);
}

static void tally_name(checker *c, lv_str name, lv_format format)
{
    const char *p = name.p ? name.p : "";
    size_t len = name.p ? name.n : 0;
    name_count *nc = NULL;
    for (size_t i = 0; i < c->n_names && !nc; i++)
        if (strlen(c->names[i].name) == len && memcmp(c->names[i].name, p, len) == 0)
            nc = &c->names[i];
    if (!nc) {
        lv_vec_reserve((void **)&c->names, &c->cap_names, c->n_names + 1, sizeof *c->names, 32);
        nc = &c->names[c->n_names++];
        nc->name = lv_xstrndup(p, len);
        nc->n[0] = nc->n[1] = 0;
    }
    nc->n[format == LV_FORMAT_CALIPER]++;
}

/* A dead letter reads back, and is the document its key was made from. It is decoded under --strict,
 * which rejects whatever the default rejects and more: a document kept as a dead letter is rejected
 * so again, whichever way it was received. */
static lv_status check_dead(void *ctx, const lv_stored_dead *row, lv_error *err)
{
    checker *c = ctx;
    if (row->damage) {
        if (c->reported_dead++ < REPORT_MAX)
            problem(c, "dead letter %lld cannot be read back: %s", (long long)row->id, row->damage);
        else
            c->problems++;
        return LV_OK;
    }
    lv_batch_reset(c->b);
    static const lv_decode_options strict = { .strict = true };
    if (row->kept)
        lv_batch_add(c->b, row->bytes.p, row->bytes.n, "store", 0, &strict);
    else
        lv_batch_add_oversized(c->b, (size_t)row->raw_len, 0, "store", 0);
    lv_status st = lv_batch_prepare(c->b, c->z, NULL, err);
    if (st != LV_OK)
        return st;
    const lv_batch_doc *d = c->b->docs[0];
    bool dead = !d->text, events = false;
    for (size_t e = 0; e < d->doc.n_events; e++) {
        dead |= d->doc.events[e].rejected;
        events |= !d->doc.events[e].is_entity;
    }
    const char *wrong = NULL;
    if (!dead && events)
        wrong = "reads back as a document levee accepts: it was changed after it was kept (or this levee's catalog "
                "accepts what the one that kept it rejected)";
    else if (row->hash_len != LV_HASH_BYTES || memcmp(row->hash, d->dead_hash, LV_HASH_BYTES) != 0)
        wrong = "reads back, but not as the document it was kept as (its key differs): it was changed after it was "
                "kept";
    if (wrong && c->reported_dead++ < REPORT_MAX)
        problem(c, "dead letter %lld %s", (long long)row->id, wrong);
    else if (wrong)
        c->problems++;
    return LV_OK;
}

/* What an event is about, by its kind's subject: the id whose row must exist. */
static uint64_t about(const lv_event *ev)
{
    switch (ev->kind->subject) {
    case LV_SUBJECT_TOPIC: return lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID));
    case LV_SUBJECT_ENTRY: return lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_ENTRY_ID));
    case LV_SUBJECT_CONVERSATION:
    case LV_SUBJECT_MESSAGE: return lv_value_id(lv_event_body(ev, LV_B_CONVERSATION_ID));
    }
    return 0;
}

/* Decodes a document again, as it was decoded when it arrived, and keeps its events' keys. */
static lv_status read_document(checker *c, const lv_stored_event *row, lv_error *err)
{
    c->holder = row->id;
    c->holder_damaged = false;
    c->n_keys = 0;
    if (row->damage) {
        c->holder_damaged = true;
        c->any_damage = true;
        if (c->reported_docs++ < REPORT_MAX)
            problem(c, "the document kept by event row %lld cannot be read back: %s", (long long)row->id, row->damage);
        else
            c->problems++;
        return LV_OK;
    }
    c->doc_bytes += (int64_t)row->bytes.n;
    lv_batch_reset(c->b);
    static const lv_decode_options opt = { 0 };
    const lv_doc *doc = lv_batch_add(c->b, row->bytes.p, row->bytes.n, "store", 0, &opt);
    lv_status st = lv_batch_prepare(c->b, c->z, NULL, err);
    if (st != LV_OK)
        return st;
    const lv_batch_doc *d = c->b->docs[0];
    for (size_t e = 0; e < doc->n_events; e++) {
        const lv_event *ev = &doc->events[e];
        if (ev->rejected || ev->is_entity)
            continue;
        lv_vec_reserve((void **)&c->keys, &c->cap_keys, c->n_keys + 1, sizeof *c->keys, 16);
        struct doc_key *k = &c->keys[c->n_keys++];
        memcpy(k->hash, d->hash[e], LV_HASH_BYTES);
        if ((st = lv_batch_old_key(c->b, d, e, k->old_hash, err)) != LV_OK)
            return st;
        k->time_ms = ev->time_ms;
        k->format = ev->format;
        k->kind = ev->kind;
        k->about = ev->kind ? about(ev) : 0;
        snprintf(k->name, sizeof k->name, "%.*s", (int)ev->name_len, ev->name);
    }
    if (c->n_keys == 0) {
        c->holder_damaged = true;
        if (c->reported_docs++ < REPORT_MAX)
            problem(c, "the document kept by event row %lld reads back, but decodes to no event that can be "
                    "stored: it was changed after it was stored", (long long)row->id);
        else
            c->problems++;
    }
    return LV_OK;
}

/* The row of what the event is about exists. */
static lv_status check_about(checker *c, const lv_stored_event *row, const struct doc_key *k, lv_error *err)
{
    if (!k->kind || !k->about)
        return LV_OK;
    const lv_engine *e = c->s->engine;
    lv_error lerr;
    lv_status st;
    const char *what = NULL;
    switch (k->kind->subject) {
    case LV_SUBJECT_TOPIC: {
        lv_topic_row t;
        int64_t versions;
        st = e->topic(c->s, k->about, &t, &versions, &lerr);
        what = "discussion topic";
        break;
    }
    case LV_SUBJECT_ENTRY: {
        lv_str title, text;
        bool found;
        st = e->entry_detail(c->s, k->about, &title, &text, &found, &lerr);
        if (st == LV_OK && !found)
            st = LV_ENOTFOUND;
        what = "discussion entry";
        break;
    }
    default: {
        lv_conversation_row cv;
        st = e->conversation(c->s, k->about, &cv, &lerr);
        what = "conversation";
        break;
    }
    }
    if (st == LV_ENOTFOUND) {
        if (c->reported_rows++ < REPORT_MAX)
            problem(c, "%s %llu has no row, though event row %lld (%s) is about it: the derived state disagrees "
                    "with the events", what, (unsigned long long)k->about, (long long)row->id, k->name);
        else
            c->problems++;
        return LV_OK;
    }
    if (st != LV_OK && err)
        *err = lerr;
    return st;
}

static lv_status check_row(void *ctx, const lv_stored_event *row, lv_error *err)
{
    checker *c = ctx;
    if (c->progress && (++c->seen % 4096 == 0 || c->seen == c->total))
        c->progress(c->pctx, c->seen, c->total);
    tally_name(c, row->name, row->format);
    if (!c->have_span || row->time_ms < c->first_time)
        c->first_time = row->time_ms;
    if (!c->have_span || row->time_ms > c->last_time)
        c->last_time = row->time_ms;
    c->have_span = true;
    if (row->doc == 0) {
        lv_status st = read_document(c, row, err);
        if (st != LV_OK)
            return st;
    } else if (row->doc != c->holder) {
        if (c->reported_docs++ < REPORT_MAX)
            problem(c, "event row %lld says its document is kept by row %lld, which is not the document read just "
                    "before it (row %lld)", (long long)row->id, (long long)row->doc, (long long)c->holder);
        else
            c->problems++;
        return LV_OK;
    }
    if (c->holder_damaged)
        return LV_OK; /* reported once, for its document */
    if (row->hash_len != LV_HASH_BYTES) {
        problem(c, "event row %lld has a key of %zu bytes (levee writes %d)", (long long)row->id, row->hash_len,
                LV_HASH_BYTES);
        return LV_OK;
    }
    const struct doc_key *k = NULL;
    for (size_t i = 0; i < c->n_keys && !k; i++)
        if (memcmp(c->keys[i].hash, row->hash, LV_HASH_BYTES) == 0)
            k = &c->keys[i];
    /* a row keeps its key from before schema 7 when its event was stored twice, spelled two ways */
    for (size_t i = 0; i < c->n_keys && !k; i++)
        if (memcmp(c->keys[i].old_hash, row->hash, LV_HASH_BYTES) == 0)
            k = &c->keys[i];
    if (!k) {
        if (c->reported_docs++ < REPORT_MAX)
            problem(c, "event row %lld (%.*s) has a key that no event of its document (row %lld) gives when decoded "
                    "again: the document or the key was changed", (long long)row->id, (int)row->name.n,
                    row->name.p ? row->name.p : "", (long long)c->holder);
        else
            c->problems++;
        return LV_OK;
    }
    size_t name_n = row->name.p ? row->name.n : 0;
    if (k->time_ms != row->time_ms || k->format != row->format || strlen(k->name) != name_n ||
        memcmp(k->name, row->name.p ? row->name.p : "", name_n) != 0) {
        problem(c, "event row %lld says %.*s at %lld ms, but its document gives %s at %lld ms", (long long)row->id,
                (int)name_n, row->name.p ? row->name.p : "", (long long)row->time_ms, k->name, (long long)k->time_ms);
        return LV_OK;
    }
    return check_about(c, row, k, err);
}

static lv_status compare_count(void *ctx, const lv_event_count_row *row, lv_error *err)
{
    (void)err;
    checker *c = ctx;
    for (size_t i = 0; i < c->n_names; i++) {
        name_count *nc = &c->names[i];
        if (strlen(nc->name) != row->name.n || memcmp(nc->name, row->name.p, row->name.n) != 0)
            continue;
        if (nc->n[0] != row->canvas || nc->n[1] != row->caliper)
            problem(c, "the counts say %lld canvas and %lld Caliper %s events, but the store holds %lld and %lld",
                    (long long)row->canvas, (long long)row->caliper, nc->name, (long long)nc->n[0],
                    (long long)nc->n[1]);
        nc->n[0] = nc->n[1] = -1; /* compared */
        return LV_OK;
    }
    problem(c, "the counts say %lld %.*s events, but the store holds none", (long long)row->total, (int)row->name.n,
            row->name.p);
    return LV_OK;
}

static void check_figures(checker *c, lv_error *err, lv_status *st)
{
    if ((*st = c->s->engine->event_counts(c->s, compare_count, c, err)) != LV_OK)
        return;
    for (size_t i = 0; i < c->n_names; i++)
        if (c->names[i].n[0] >= 0)
            problem(c, "the store holds %lld %s events, but the counts have none", (long long)(c->names[i].n[0] +
                    c->names[i].n[1]), c->names[i].name);
    lv_stats_row stats;
    if ((*st = c->s->engine->stats(c->s, &stats, err)) != LV_OK)
        return;
    if (!c->any_damage && stats.raw_bytes != c->doc_bytes)
        problem(c, "the totals say the documents hold %lld bytes, but they hold %lld", (long long)stats.raw_bytes,
                (long long)c->doc_bytes);
    if (c->have_span && (!stats.first_time.set || !stats.last_time.set || stats.first_time.v > c->first_time ||
                         stats.last_time.v < c->last_time))
        problem(c, "the totals give the span of event times as %lld..%lld ms, but the events span %lld..%lld",
                (long long)stats.first_time.v, (long long)stats.last_time.v, (long long)c->first_time,
                (long long)c->last_time);
}

lv_status lv_store_check(lv_store *s, const char *journal_dir, lv_progress_fn progress, void *pctx, lv_problem_fn fn,
                         void *ctx, lv_check_summary *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    checker c = { .s = s, .fn = fn, .ctx = ctx, .progress = progress, .pctx = pctx };
    lv_status st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    if ((st = s->engine->snapshot(s, true, err)) != LV_OK)
        return st;
    c.b = lv_batch_new();
    c.z = lv_zctx_new();
    st = s->engine->integrity(s, count_problem, &c, err);
    if (st == LV_OK && c.problems == 0) {
        /* a damaged file is reported by the integrity check: reading it further reports its damage again */
        if ((st = s->engine->size(s, &out->size, err)) == LV_OK) {
            c.total = (uint64_t)out->size.events;
            st = s->engine->stored_events(s, check_row, &c, err);
        }
        if (st == LV_OK)
            st = s->engine->stored_dead_letters(s, check_dead, &c, err);
        if (st == LV_OK)
            check_figures(&c, err, &st);
    }
    uint64_t mark = 0;
    if (st == LV_OK && journal_dir)
        st = lv_store_get_mark(s, LV_JOURNAL_MARK, &mark, err);
    lv_status ended = s->engine->snapshot(s, false, st == LV_OK ? err : NULL);
    if (st == LV_OK)
        st = ended;
    if (st == LV_OK && journal_dir) {
        st = lv_journal_check(journal_dir, count_problem, &c, &out->journal, err);
        out->journal_checked = true;
        const lv_journal_span *j = &out->journal;
        if (st == LV_OK && j->exists && j->segments > 0 && mark > 0) {
            if (mark < j->first)
                problem(&c, "the store has applied the journal up to offset %llu, but the journal %s begins at "
                        "%llu: what arrived in between is in neither", (unsigned long long)mark, journal_dir,
                        (unsigned long long)j->first);
            else if (mark > j->end && !j->locked)
                problem(&c, "the store has applied the journal up to offset %llu, but the journal %s ends at %llu: "
                        "it is not this store's journal, or it lost records the store holds; move it aside before "
                        "levee serve starts, so that new events are not written below the applied position",
                        (unsigned long long)mark, journal_dir, (unsigned long long)j->end);
        }
    }
    out->problems = c.problems;
    out->documents_checked = (uint64_t)out->size.documents;
    for (size_t i = 0; i < c.n_names; i++)
        free(c.names[i].name);
    free(c.names);
    free(c.keys);
    lv_batch_free(c.b);
    lv_zctx_free(c.z);
    return st;
}

/* ---- rebuild ---- */

typedef struct rebuilder {
    lv_store *s;
    lv_batch *b;
    lv_zctx *z;
    lv_progress_fn progress;
    void *pctx;
    uint64_t total, seen;
    int64_t holder;
    bool *used;             /* per event of the document: replayed already */
    size_t cap_used;
    lv_counts counts;
} rebuilder;

static lv_status replay_row(void *ctx, const lv_stored_event *row, lv_error *err)
{
    rebuilder *r = ctx;
    if (r->progress && (++r->seen % 4096 == 0 || r->seen == r->total))
        r->progress(r->pctx, r->seen, r->total);
    lv_status st;
    if (row->doc == 0) {
        if (row->damage)
            return lv_fail(err, LV_EDAMAGED, "cannot rebuild %s: the document kept by event row %lld cannot be read "
                           "back (%s); restore the store from a backup", r->s->location, (long long)row->id,
                           row->damage);
        lv_batch_reset(r->b);
        static const lv_decode_options opt = { 0 };
        const lv_doc *doc = lv_batch_add(r->b, row->bytes.p, row->bytes.n, "store", 0, &opt);
        if ((st = lv_batch_prepare(r->b, r->z, NULL, err)) != LV_OK)
            return st;
        lv_vec_reserve((void **)&r->used, &r->cap_used, doc->n_events + 1, sizeof *r->used, 16);
        memset(r->used, 0, (doc->n_events + 1) * sizeof *r->used);
        r->holder = row->id;
    } else if (row->doc != r->holder) {
        return lv_fail(err, LV_EDAMAGED, "cannot rebuild %s: event row %lld says its document is kept by row %lld, "
                       "which does not precede it; restore the store from a backup", r->s->location,
                       (long long)row->id, (long long)row->doc);
    }
    const lv_batch_doc *d = r->b->docs[0];
    /* by its key, then by its key from before schema 7 (a row whose event was stored twice then) */
    for (int old = 0; old < 2; old++)
        for (size_t e = 0; e < d->doc.n_events; e++) {
            const lv_event *ev = &d->doc.events[e];
            if (r->used[e] || ev->rejected || ev->is_entity || row->hash_len != LV_HASH_BYTES)
                continue;
            unsigned char old_key[LV_HASH_BYTES];
            if (old && (st = lv_batch_old_key(r->b, d, e, old_key, err)) != LV_OK)
                return st;
            if (memcmp(old ? old_key : d->hash[e], row->hash, LV_HASH_BYTES) != 0)
                continue;
            r->used[e] = true;
            if (old) /* its topic version is keyed as its row is, as when it was stored */
                memcpy(r->b->docs[0]->hash[e], row->hash, LV_HASH_BYTES);
            return lv_projection_replay(r->s, r->b, 0, e, row->id, row->doc == 0, &r->counts, err);
        }
    return lv_fail(err, LV_EDAMAGED, "cannot rebuild %s: no event of the document kept by row %lld has the key of "
                   "event row %lld (levee check says more); restore the store from a backup", r->s->location,
                   (long long)r->holder, (long long)row->id);
}

static lv_status rebuild(lv_store *s, lv_progress_fn progress, void *pctx, lv_counts *counts, bool keep,
                         lv_error *err)
{
    rebuilder r = { .s = s, .progress = progress, .pctx = pctx };
    lv_store_size size;
    lv_status st = lv_crypto_load(err);
    if (st == LV_OK)
        st = lv_store_begin(s, err);
    if (st != LV_OK)
        return st;
    lv_projection_forget_known(s->projection);
    if ((st = s->engine->size(s, &size, err)) == LV_OK && (st = s->engine->clear_derived(s, err)) == LV_OK) {
        r.total = (uint64_t)size.events;
        r.b = lv_batch_new();
        r.z = lv_zctx_new();
        st = s->engine->stored_events(s, replay_row, &r, err);
        lv_batch_free(r.b);
        lv_zctx_free(r.z);
        free(r.used);
    }
    if (st == LV_OK) /* what each event is about is recorded for all of them now (levee/erase.h) */
        st = lv_store_set_mark(s, LV_ABOUT_MARK, 1, err);
    if (st == LV_OK && keep)
        st = lv_store_commit(s, err); /* the figures tallied are written here */
    else if (st == LV_OK)
        st = lv_projection_flush(s, err); /* written, not committed */
    if (st != LV_OK)
        lv_store_rollback(s);
    lv_projection_forget_known(s->projection);
    if (counts)
        *counts = r.counts;
    return st;
}

lv_status lv_store_rebuild(lv_store *s, lv_progress_fn progress, void *pctx, lv_counts *counts, lv_error *err)
{
    return rebuild(s, progress, pctx, counts, true, err);
}

lv_status lv_store_rebuild_uncommitted(lv_store *s, lv_progress_fn progress, void *pctx, lv_error *err)
{
    return rebuild(s, progress, pctx, NULL, false, err);
}

/* ---- comparing derived state ---- */

static const char *const derived_names[LV_DERIVED_TABLES] = {
    [LV_DERIVED_TOPICS] = "topics", [LV_DERIVED_TOPIC_VERSIONS] = "topic versions",
    [LV_DERIVED_ENTRIES] = "entries", [LV_DERIVED_CONVERSATIONS] = "conversations",
    [LV_DERIVED_MESSAGES] = "messages", [LV_DERIVED_FORWARDS] = "forwards",
    [LV_DERIVED_ACTIVITY] = "course activity", [LV_DERIVED_PARTICIPANTS] = "participants",
    [LV_DERIVED_COUNTS] = "counts", [LV_DERIVED_DRIFT] = "schema drift", [LV_DERIVED_TOTALS] = "totals",
    [LV_DERIVED_SEARCH_DOCS] = "search entries", [LV_DERIVED_SEARCH_TERMS] = "search index terms",
    [LV_DERIVED_ABOUT] = "what events are about",
};

/* The rebuilt side of one table: keys in order, and a digest of each value. */
typedef struct side_row {
    char *key;
    size_t key_len;
    unsigned char digest[LV_HASH_BYTES];
} side_row;

typedef struct comparer {
    lv_derived_table table;
    side_row *rows;
    size_t n, cap, next;
    lv_problem_fn fn;
    void *ctx;
    const char *store_name;
    unsigned reported, differ;
} comparer;

static lv_status digest(lv_str v, unsigned char out[LV_HASH_BYTES], lv_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (lv_crypto()->EVP_Digest(v.p, v.n, md, &md_len, lv_crypto()->EVP_sha256(), NULL) != 1 || md_len < LV_HASH_BYTES)
        return lv_fail(err, LV_EINTERNAL, "libcrypto could not compute a digest (SHA-256)");
    memcpy(out, md, LV_HASH_BYTES);
    return LV_OK;
}

static lv_status keep_rebuilt(void *ctx, const lv_derived_row *row, lv_error *err)
{
    comparer *c = ctx;
    lv_vec_reserve((void **)&c->rows, &c->cap, c->n + 1, sizeof *c->rows, 1024);
    side_row *r = &c->rows[c->n];
    r->key = lv_xstrndup(row->key.p, row->key.n);
    r->key_len = row->key.n;
    c->n++;
    return digest(row->value, r->digest, err);
}

static int compare_keys(const char *a, size_t an, const char *b, size_t bn)
{
    int d = memcmp(a, b, an < bn ? an : bn);
    return d ? d : an < bn ? -1 : an > bn;
}

static void differs(comparer *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void differs(comparer *c, const char *fmt, ...)
{
    c->differ++;
    if (c->reported++ >= REPORT_MAX)
        return;
    char msg[LV_ERROR_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->fn(c->ctx, msg);
}

/* At most this much of a value is quoted in a message. */
#define QUOTE_MAX 160

static void only_rebuilt(comparer *c, const side_row *r)
{
    differs(c, "%s: a rebuild from the events gives the row %.*s, which %s lacks", derived_names[c->table],
            (int)(r->key_len < QUOTE_MAX ? r->key_len : QUOTE_MAX), r->key, c->store_name);
}

static lv_status compare_row(void *ctx, const lv_derived_row *row, lv_error *err)
{
    comparer *c = ctx;
    int kn = (int)(row->key.n < QUOTE_MAX ? row->key.n : QUOTE_MAX);
    while (c->next < c->n) {
        const side_row *r = &c->rows[c->next];
        int cmp = compare_keys(r->key, r->key_len, row->key.p, row->key.n);
        if (cmp > 0)
            break;
        c->next++;
        if (cmp < 0) {
            only_rebuilt(c, r);
            continue;
        }
        unsigned char d[LV_HASH_BYTES];
        lv_status st = digest(row->value, d, err);
        if (st != LV_OK)
            return st;
        if (memcmp(d, r->digest, LV_HASH_BYTES) != 0)
            differs(c, "%s: the row %.*s of %s differs from a rebuild from the events (it holds %.*s%s)",
                    derived_names[c->table], kn, row->key.p, c->store_name,
                    (int)(row->value.n < QUOTE_MAX ? row->value.n : QUOTE_MAX), row->value.p,
                    row->value.n > QUOTE_MAX ? "..." : "");
        return LV_OK;
    }
    differs(c, "%s: %s has the row %.*s, which a rebuild from the events does not give", derived_names[c->table],
            c->store_name, kn, row->key.p);
    return LV_OK;
}

lv_status lv_store_compare_derived(lv_store *store, lv_store *rebuilt, lv_problem_fn fn, void *ctx, unsigned *differ,
                                   lv_error *err)
{
    *differ = 0;
    lv_status st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    if ((st = store->engine->snapshot(store, true, err)) != LV_OK)
        return st;
    for (int t = 0; st == LV_OK && t < LV_DERIVED_TABLES; t++) {
        comparer c = { .table = (lv_derived_table)t, .fn = fn, .ctx = ctx, .store_name = store->location };
        st = rebuilt->engine->derived_rows(rebuilt, c.table, keep_rebuilt, &c, err);
        if (st == LV_OK)
            st = store->engine->derived_rows(store, c.table, compare_row, &c, err);
        while (st == LV_OK && c.next < c.n)
            only_rebuilt(&c, &c.rows[c.next++]);
        if (c.reported > REPORT_MAX)
            say(fn, ctx, "%s: %u more rows differ from a rebuild from the events", derived_names[t],
                c.reported - REPORT_MAX);
        *differ += c.differ;
        for (size_t i = 0; i < c.n; i++)
            free(c.rows[i].key);
        free(c.rows);
    }
    lv_status ended = store->engine->snapshot(store, false, st == LV_OK ? err : NULL);
    return st == LV_OK ? ended : st;
}
