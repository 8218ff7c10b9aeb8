/* copy.c: the rules of levee copy (levee/copy.h), once for every pair of engines: what a whole store is,
 * the order it is copied in (the people forgotten and the receipts first, then the events in arrival
 * order in transactions of their own, then the dead letters, then the subscriptions with the mark that
 * says the copy is complete, in one last transaction), how an event row of the source is mapped to its
 * row in the destination (the n-th event row of one is the n-th of the other: they are stored in the
 * same order), and how a copy that was cut short is recognised and continued. The events' derived state
 * is made by the projection as each event is stored again (keep/projection.c), never copied row by row.
 * The engines only read and write rows (levee/engine.h). */
#include "keep.h"

#include "levee/copy.h"
#include "levee/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_COMMIT 10000
/* the destination's event heads read at a time, to compare a copy cut short with the source */
#define HEADS_CHUNK 4096
/* at most this many rows of one subscription's lists are read (far more than delivery keeps) */
#define SUB_ROWS_MAX 100000000u

/* The rows of both stores, in arrival order: src[i] is stored as dst[i]. */
typedef struct row_map {
    int64_t *src, *dst;
    size_t n, cap;
} row_map;

static void map_add(row_map *m, int64_t src, int64_t dst)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4096;
        m->src = lv_xrealloc(m->src, m->cap * sizeof *m->src);
        m->dst = lv_xrealloc(m->dst, m->cap * sizeof *m->dst);
    }
    m->src[m->n] = src;
    m->dst[m->n] = dst;
    m->n++;
}

/* The index of the first source row at or after id (n when none). */
static size_t map_lower(const row_map *m, int64_t id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->src[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The destination's row of source row id (0: the source has no such row). */
static int64_t map_get(const row_map *m, int64_t id)
{
    size_t i = map_lower(m, id);
    return i < m->n && m->src[i] == id ? m->dst[i] : 0;
}

/* One event head of the destination, to compare with the source's row of the same rank. */
typedef struct head {
    int64_t id, time_ms, received_ms;
    lv_format format;
    unsigned char hash[LV_HASH_BYTES];
    char name[128];
    size_t name_len;
} head;

typedef struct copier {
    lv_store *src, *dst;
    const lv_copy_options *opt;
    lv_copy_result *out;
    unsigned commit_events;
    uint64_t total, done;
    row_map map;
    /* the destination's event rows already there (a copy cut short), read a chunk at a time */
    int64_t dst_events;
    head *heads;
    size_t n_heads, next_head, cap_heads;
    int64_t heads_from;
    /* the document being copied */
    lv_batch *b;
    lv_zctx *z;
    int64_t holder_src, holder_dst; /* its row in each store (holder_dst 0: not stored yet) */
    bool *used;
    size_t cap_used;
    lv_buf doc;
    lv_buf zbuf;
    bool in_txn;
    unsigned in_this_txn;
    lv_counts counts;
} copier;

static void tick(copier *c)
{
    c->done++;
    if (c->opt->progress && (c->done % 1024 == 0 || c->done == c->total))
        c->opt->progress(c->opt->ctx, c->done, c->total);
}

/* ---- transactions of the destination ---- */

static lv_status begin(copier *c, lv_error *err)
{
    if (c->in_txn)
        return LV_OK;
    lv_status st = lv_store_begin(c->dst, err);
    c->in_txn = st == LV_OK;
    c->in_this_txn = 0;
    return st;
}

static lv_status commit(copier *c, lv_error *err)
{
    if (!c->in_txn)
        return LV_OK;
    c->in_txn = false;
    lv_status st = lv_store_commit(c->dst, err);
    if (st != LV_OK) {
        lv_store_rollback(c->dst);
        return st;
    }
    c->out->transactions++;
    /* once there are enough documents, the rest are compressed with a dictionary of the destination's */
    return lv_store_maybe_train(c->dst, err);
}

/* Counts one row into the open transaction, committing when it holds enough (or the engine says it
 * holds all it should: lv_store_txn_full). */
static lv_status counted(copier *c, lv_error *err)
{
    if (++c->in_this_txn < c->commit_events && !lv_store_txn_full(c->dst))
        return LV_OK;
    return commit(c, err);
}

/* ---- the destination's state ---- */

static lv_status note_id(void *ctx, const int64_t *id, lv_error *err)
{
    (void)err;
    int64_t **v = ctx;
    size_t n = (size_t)(*v)[0];
    *v = lv_xrealloc(*v, (n + 2) * sizeof **v);
    (*v)[n + 1] = *id;
    (*v)[0] = (int64_t)n + 1;
    return LV_OK;
}

/* The people forgotten, as a vector whose first element is its length. */
static lv_status forgotten_of(lv_store *s, int64_t **out, lv_error *err)
{
    *out = lv_xcalloc(1, sizeof **out);
    return s->engine->forgotten(s, note_id, out, err);
}

typedef struct receipts {
    lv_receipt_row *rows;
    char (*actions)[32]; /* "prune", "forget" */
    size_t n;
} receipts;

static lv_status note_receipt(void *ctx, const lv_receipt_row *row, lv_error *err)
{
    (void)err;
    receipts *r = ctx;
    r->rows = lv_xrealloc(r->rows, (r->n + 1) * sizeof *r->rows);
    r->actions = lv_xrealloc(r->actions, (r->n + 1) * sizeof *r->actions);
    snprintf(r->actions[r->n], sizeof *r->actions, "%.*s", (int)row->action.n, row->action.p ? row->action.p : "");
    r->rows[r->n] = *row;
    r->rows[r->n].action = (lv_str){ NULL, 0 };
    r->n++;
    return LV_OK;
}

static void receipts_fix(receipts *r)
{
    for (size_t i = 0; i < r->n; i++)
        r->rows[i].action = (lv_str){ r->actions[i], strlen(r->actions[i]) };
}

static void receipts_free(receipts *r)
{
    free(r->rows);
    free(r->actions);
}

static bool same_receipt(const lv_receipt_row *a, const lv_receipt_row *b)
{
    return a->at_ms == b->at_ms && a->events == b->events && a->documents == b->documents &&
           a->dead_letters == b->dead_letters && a->took_ms == b->took_ms && a->limit_ms.set == b->limit_ms.set &&
           (!a->limit_ms.set || a->limit_ms.v == b->limit_ms.v) && a->action.n == b->action.n &&
           memcmp(a->action.p, b->action.p, a->action.n) == 0;
}

static lv_status put_removed(void *ctx, const lv_entry_row *row, lv_error *err)
{
    copier *c = ctx;
    c->out->removed_entries++;
    return c->dst->engine->add_removed_entry(c->dst, row->id, row->topic, err);
}

/* The first transaction of a copy into an empty store: what says who and what was erased (before any
 * event, so that an event of a person forgotten is refused from the start), the duplicates received,
 * and the mark that says a copy is under way. */
static lv_status copy_erasures(copier *c, const int64_t *forgotten, const receipts *rc, int64_t duplicates,
                               lv_error *err)
{
    lv_store *d = c->dst;
    lv_status st = begin(c, err);
    int64_t now = lv_now_ms();
    for (int64_t i = 1; st == LV_OK && i <= forgotten[0]; i++)
        st = d->engine->forget_add(d, (uint64_t)forgotten[i], now, err);
    for (size_t i = 0; st == LV_OK && i < rc->n; i++)
        st = d->engine->receipt_add(d, &rc->rows[i], err);
    if (st == LV_OK)
        st = c->src->engine->removed_entry_list(c->src, put_removed, c, err);
    if (st == LV_OK && duplicates) {
        lv_totals t = { .duplicates = duplicates };
        st = d->engine->add_totals(d, &t, err);
    }
    if (st == LV_OK)
        st = lv_store_set_mark(d, LV_COPY_MARK, LV_COPY_PARTIAL, err);
    if (st == LV_OK)
        return commit(c, err);
    if (c->in_txn) {
        c->in_txn = false;
        lv_store_rollback(d);
    }
    return st;
}

/* ---- events ---- */

static lv_status keep_head(void *ctx, const lv_event_ref *ref, lv_error *err)
{
    (void)err;
    copier *c = ctx;
    lv_vec_reserve((void **)&c->heads, &c->cap_heads, c->n_heads + 1, sizeof *c->heads, HEADS_CHUNK);
    head *h = &c->heads[c->n_heads++];
    h->id = ref->id;
    h->time_ms = ref->time_ms;
    h->received_ms = ref->received_ms;
    h->format = ref->format;
    memcpy(h->hash, ref->hash, LV_HASH_BYTES);
    h->name_len = ref->name.p ? ref->name.n : 0;
    if (h->name_len >= sizeof h->name)
        h->name_len = sizeof h->name - 1;
    memcpy(h->name, ref->name.p ? ref->name.p : "", h->name_len);
    h->name[h->name_len] = '\0';
    c->heads_from = ref->id + 1;
    return LV_OK;
}

/* The destination's next event head (found false when it has no more). */
static lv_status next_head(copier *c, const head **h, lv_error *err)
{
    *h = NULL;
    if (c->next_head == c->n_heads) {
        c->n_heads = c->next_head = 0;
        lv_status st = c->dst->engine->events_from(c->dst, c->heads_from, HEADS_CHUNK, false, keep_head, c, err);
        if (st != LV_OK)
            return st;
        if (c->n_heads == 0)
            return LV_OK;
    }
    *h = &c->heads[c->next_head++];
    return LV_OK;
}

/* A row the destination holds already (a copy cut short): it must be the source's row of the same rank. */
static lv_status match_row(copier *c, const lv_stored_event *row, lv_error *err)
{
    const head *h;
    lv_status st = next_head(c, &h, err);
    if (st != LV_OK)
        return st;
    size_t name_n = row->name.p ? row->name.n : 0;
    if (name_n >= sizeof h->name)
        name_n = sizeof h->name - 1;
    if (!h || row->hash_len != LV_HASH_BYTES || memcmp(h->hash, row->hash, LV_HASH_BYTES) != 0 ||
        h->time_ms != row->time_ms || h->received_ms != row->received_ms || h->format != row->format ||
        h->name_len != name_n || memcmp(h->name, row->name.p ? row->name.p : "", name_n) != 0)
        return lv_fail(err, LV_EINVAL, "%s holds a copy cut short, but not of %s as it is now: its event %lld "
                       "(of %lld) is not the source's event %lld (%.*s at %lld ms); the source lost or changed events "
                       "since (levee prune or forget), or the copy was of another store. Empty %s (a new file, or "
                       "a new PostgreSQL schema) and copy again", c->dst->location, c->src->location,
                       (long long)(c->map.n + 1), (long long)c->dst_events, (long long)row->id, (int)name_n,
                       row->name.p ? row->name.p : "", (long long)row->time_ms, c->dst->location);
    map_add(&c->map, row->id, h->id);
    return LV_OK;
}

/* Decodes a document of the source into the batch, compressed for the destination. */
static lv_status load_document(copier *c, const char *bytes, size_t len, int64_t holder, lv_error *err)
{
    lv_batch_reset(c->b);
    static const lv_decode_options opt = { 0 };
    const lv_doc *doc = lv_batch_add(c->b, bytes, len, "store", 0, &opt);
    lv_status st = lv_batch_prepare(c->b, c->z, lv_store_dict(c->dst), err);
    if (st != LV_OK)
        return st;
    lv_vec_reserve((void **)&c->used, &c->cap_used, doc->n_events + 1, sizeof *c->used, 16);
    memset(c->used, 0, (doc->n_events + 1) * sizeof *c->used);
    c->holder_src = holder;
    c->holder_dst = 0;
    return LV_OK;
}

static lv_status copy_row(void *ctx, const lv_stored_event *row, lv_error *err)
{
    copier *c = ctx;
    tick(c);
    if ((int64_t)c->map.n < c->dst_events)
        return match_row(c, row, err);
    lv_status st;
    if (row->doc == 0) {
        if (row->damage)
            return lv_fail(err, LV_EDAMAGED, "cannot copy %s: the document kept by its event row %lld cannot be read "
                           "back (%s); levee check says more", c->src->location, (long long)row->id, row->damage);
        if ((st = load_document(c, row->bytes.p, row->bytes.n, row->id, err)) != LV_OK)
            return st;
    } else if (row->doc != c->holder_src) {
        /* its document is kept by a row copied before (in an earlier run, or before rows of other documents) */
        int64_t dst_holder = map_get(&c->map, row->doc);
        if (!dst_holder)
            return lv_fail(err, LV_EDAMAGED, "cannot copy %s: event row %lld says its document is kept by row %lld, "
                           "which does not come before it; levee check says more", c->src->location,
                           (long long)row->id, (long long)row->doc);
        if ((st = c->src->engine->event_document(c->src, row->doc, &c->doc, err)) != LV_OK ||
            (st = load_document(c, c->doc.data ? c->doc.data : "", c->doc.len, row->doc, err)) != LV_OK)
            return st;
        c->holder_dst = dst_holder;
    }
    if ((st = begin(c, err)) != LV_OK)
        return st;
    const lv_batch_doc *d = c->b->docs[0];
    for (size_t e = 0; e < d->doc.n_events; e++) {
        const lv_event *ev = &d->doc.events[e];
        if (c->used[e] || ev->rejected || ev->is_entity || row->hash_len != LV_HASH_BYTES)
            continue;
        if (memcmp(d->hash[e], row->hash, LV_HASH_BYTES) != 0) {
            /* the key it was given before keys were canonical: an event stored twice, spelled two ways,
             * before the upgrade, whose second row kept it (keep.h, lv_batch_old_key) */
            unsigned char old[LV_HASH_BYTES];
            if ((st = lv_batch_old_key(c->b, d, e, old, err)) != LV_OK)
                return st;
            if (memcmp(old, row->hash, LV_HASH_BYTES) != 0)
                continue;
        }
        c->used[e] = true;
        int64_t dst_row;
        if ((st = lv_projection_copy(c->dst, c->b, 0, e, row->doc == 0 ? 0 : c->holder_dst, row->received_ms,
                                     row->hash, row->webhook_hash, &dst_row, &c->counts, err)) != LV_OK)
            return st;
        if (row->doc == 0)
            c->holder_dst = dst_row;
        map_add(&c->map, row->id, dst_row);
        c->out->events++;
        c->out->documents += row->doc == 0;
        return counted(c, err);
    }
    return lv_fail(err, LV_EDAMAGED, "cannot copy %s: no event of the document kept by row %lld has the key of event "
                   "row %lld (levee check says more)", c->src->location, (long long)c->holder_src, (long long)row->id);
}

/* ---- dead letters ---- */

static lv_status copy_dead(void *ctx, const lv_stored_dead *row, lv_error *err)
{
    copier *c = ctx;
    tick(c);
    if (row->damage)
        return lv_fail(err, LV_EDAMAGED, "cannot copy %s: its dead letter %lld cannot be read back (%s); levee check "
                       "says more", c->src->location, (long long)row->id, row->damage);
    if (row->hash_len != LV_HASH_BYTES)
        return lv_fail(err, LV_EDAMAGED, "cannot copy %s: its dead letter %lld has no valid key", c->src->location,
                       (long long)row->id);
    lv_status st = begin(c, err);
    if (st != LV_OK)
        return st;
    const lv_dict *dict = lv_store_dict(c->dst);
    lv_dead_row dr = {
        .hash = row->hash, .received_ms = row->received_ms, .source = row->source.p, .line = row->line,
        .errors = row->errors.p ? row->errors : (lv_str){ "[]", 2 }, .raw_len = (size_t)row->raw_len,
    };
    if (row->kept) {
        if ((st = lv_compress(c->z, dict, row->bytes.p, row->bytes.n, &c->zbuf, err)) != LV_OK)
            return st;
        dr.raw = c->zbuf.data ? c->zbuf.data : "";
        dr.raw_size = c->zbuf.len;
        dr.dict = dict ? lv_dict_id(dict) : 0;
    }
    bool fresh;
    if ((st = c->dst->engine->put_dead_letter(c->dst, &dr, &fresh, err)) != LV_OK)
        return st;
    c->out->dead_letters++;
    return counted(c, err);
}

/* ---- subscriptions ---- */

typedef struct sub_copy {
    lv_sub_row *rows;
    char **strings;  /* spec, reason, last_error of each */
    size_t n;
} sub_copy;

static char *dup_str(lv_str v)
{
    return v.p ? lv_xstrndup(v.p, v.n) : NULL;
}

static lv_str str_of(const char *p)
{
    return p ? (lv_str){ p, strlen(p) } : (lv_str){ NULL, 0 };
}

static lv_status note_sub(void *ctx, const lv_sub_row *row, lv_error *err)
{
    (void)err;
    sub_copy *sc = ctx;
    sc->rows = lv_xrealloc(sc->rows, (sc->n + 1) * sizeof *sc->rows);
    sc->strings = lv_xrealloc(sc->strings, (sc->n + 1) * 3 * sizeof *sc->strings);
    sc->rows[sc->n] = *row;
    sc->strings[sc->n * 3] = dup_str(row->spec);
    sc->strings[sc->n * 3 + 1] = dup_str(row->reason);
    sc->strings[sc->n * 3 + 2] = dup_str(row->last_error);
    sc->n++;
    return LV_OK;
}

typedef struct sub_ctx {
    copier *c;
    int64_t sub;
    lv_sub_attempt_row *attempts;
    char **errors;
    size_t n_attempts;
} sub_ctx;

/* The destination's row of an event a subscription's row names. */
static lv_status mapped(sub_ctx *x, int64_t event, int64_t *out, lv_error *err)
{
    *out = map_get(&x->c->map, event);
    if (*out)
        return LV_OK;
    return lv_fail(err, LV_EDAMAGED, "cannot copy %s: subscription %lld names event row %lld, which the store does "
                   "not hold; levee check says more", x->c->src->location, (long long)x->sub, (long long)event);
}

static lv_status put_pending(void *ctx, const lv_sub_pending_row *row, lv_error *err)
{
    sub_ctx *x = ctx;
    lv_sub_pending_row r = *row;
    lv_status st = mapped(x, row->event, &r.event, err);
    return st == LV_OK ? x->c->dst->engine->sub_pending_put(x->c->dst, &r, err) : st;
}

static lv_status put_sub_dead(void *ctx, const lv_sub_dead_row *row, lv_error *err)
{
    sub_ctx *x = ctx;
    lv_sub_dead_row r = *row;
    lv_status st = mapped(x, row->event, &r.event, err);
    return st == LV_OK ? x->c->dst->engine->sub_dead_put(x->c->dst, &r, err) : st;
}

/* Attempts are read newest first and written oldest first (so the newest stay newest). */
static lv_status note_attempt(void *ctx, const lv_sub_attempt_row *row, lv_error *err)
{
    sub_ctx *x = ctx;
    x->attempts = lv_xrealloc(x->attempts, (x->n_attempts + 1) * sizeof *x->attempts);
    x->errors = lv_xrealloc(x->errors, (x->n_attempts + 1) * sizeof *x->errors);
    x->attempts[x->n_attempts] = *row;
    x->errors[x->n_attempts] = dup_str(row->error);
    lv_status st = mapped(x, row->event, &x->attempts[x->n_attempts].event, err);
    x->n_attempts++;
    return st;
}

static lv_status put_replay(void *ctx, const lv_sub_replay_row *row, lv_error *err)
{
    sub_ctx *x = ctx;
    return x->c->dst->engine->sub_replay_put(x->c->dst, row, err);
}

static lv_status copy_subscription(copier *c, const lv_sub_row *row, lv_error *err)
{
    lv_store *s = c->src, *d = c->dst;
    lv_sub_row r = *row;
    /* the cursor is the next event row to consider: the destination's row of the first source row at or
     * after it, or the destination's end when it is past the last */
    size_t i = map_lower(&c->map, row->cursor);
    lv_status st = LV_OK;
    if (i < c->map.n)
        r.cursor = c->map.dst[i];
    else
        st = d->engine->events_end(d, &r.cursor, err);
    if (st == LV_OK)
        st = d->engine->sub_restore(d, &r, err);
    sub_ctx x = { .c = c, .sub = row->id };
    if (st == LV_OK)
        st = s->engine->sub_pending_due(s, row->id, INT64_MAX, SUB_ROWS_MAX, put_pending, &x, err);
    if (st == LV_OK)
        st = s->engine->sub_dead_list(s, row->id, SUB_ROWS_MAX, put_sub_dead, &x, err);
    if (st == LV_OK)
        st = s->engine->sub_attempts(s, row->id, SUB_ROWS_MAX, note_attempt, &x, err);
    for (size_t k = x.n_attempts; st == LV_OK && k-- > 0;) {
        x.attempts[k].error = str_of(x.errors[k]);
        if (!x.attempts[k].error.p)
            x.attempts[k].error = (lv_str){ "", 0 };
        st = d->engine->sub_attempt_add(d, &x.attempts[k], (unsigned)x.n_attempts + 1, err);
    }
    if (st == LV_OK)
        st = s->engine->sub_replay_list(s, row->id, put_replay, &x, err);
    for (size_t k = 0; k < x.n_attempts; k++)
        free(x.errors[k]);
    free(x.errors);
    free(x.attempts);
    return st;
}

/* The last transaction: every subscription with its rows, and the mark that the copy is complete. */
static lv_status copy_subscriptions(copier *c, lv_error *err)
{
    sub_copy sc = { 0 };
    lv_status st = c->src->engine->sub_list(c->src, note_sub, &sc, err);
    if (st == LV_OK)
        st = begin(c, err);
    for (size_t i = 0; st == LV_OK && i < sc.n; i++) {
        lv_sub_row *r = &sc.rows[i];
        r->spec = str_of(sc.strings[i * 3]);
        r->reason = str_of(sc.strings[i * 3 + 1]);
        r->last_error = str_of(sc.strings[i * 3 + 2]);
        r->lease_owner = (lv_str){ NULL, 0 };
        r->lease_until_ms = 0;
        st = copy_subscription(c, r, err);
        c->out->subscriptions++;
    }
    if (st == LV_OK)
        st = lv_store_set_mark(c->dst, LV_COPY_MARK, LV_COPY_COMPLETE, err);
    if (st == LV_OK)
        st = commit(c, err);
    for (size_t i = 0; i < sc.n * 3; i++)
        free(sc.strings[i]);
    free(sc.strings);
    free(sc.rows);
    return st;
}

/* ---- the whole ---- */

static bool store_empty(const lv_store_size *z)
{
    return !z->events && !z->dead_letters && !z->topics && !z->entries && !z->conversations && !z->messages &&
           !z->subscriptions;
}

typedef struct src_heads {
    copier *c;
    int64_t from;
    size_t n;
    lv_status st;
} src_heads;

/* A source head against the destination's of the same rank (a complete copy run again). */
static lv_status compare_head(void *ctx, const lv_event_ref *ref, lv_error *err)
{
    src_heads *h = ctx;
    h->from = ref->id + 1;
    h->n++;
    lv_stored_event row = { .id = ref->id, .hash = ref->hash, .hash_len = LV_HASH_BYTES, .name = ref->name,
                            .format = ref->format, .time_ms = ref->time_ms, .received_ms = ref->received_ms };
    copier *c = h->c;
    lv_status st = match_row(c, &row, err);
    if (st == LV_EINVAL)
        return lv_fail(err, LV_EINVAL, "%s is a complete copy made earlier, but not of %s as it is now: its event %lld "
                       "is not the source's event %lld (the copy is of another store, or the source changed since); copy again "
                       "into an empty store", c->dst->location,
                       c->src->location, (long long)c->map.n + 1, (long long)ref->id);
    return st;
}

static lv_status compare_heads(copier *c, lv_error *err)
{
    src_heads h = { .c = c };
    lv_status st;
    do {
        size_t before = h.n;
        st = c->src->engine->events_from(c->src, h.from, HEADS_CHUNK, false, compare_head, &h, err);
        if (st == LV_OK && h.n - before < HEADS_CHUNK)
            break;
    } while (st == LV_OK);
    return st;
}

static bool same_erasures(const int64_t *a, const int64_t *b, const receipts *ra, const receipts *rb)
{
    bool same = a[0] == b[0] && ra->n == rb->n;
    for (int64_t i = 1; same && i <= a[0]; i++)
        same = a[i] == b[i];
    for (size_t i = 0; same && i < ra->n; i++)
        same = same_receipt(&ra->rows[i], &rb->rows[i]);
    return same;
}

/* Where the destination stands: empty (a new copy), a copy cut short (continued), a complete copy, or
 * something else (refused). */
static lv_status destination_state(copier *c, const lv_store_size *src_size, const int64_t *src_forgotten,
                                   const receipts *src_receipts, uint64_t *state, lv_error *err)
{
    lv_store *d = c->dst;
    lv_store_size dz;
    bool found = false;
    int64_t *forgotten = NULL;
    receipts rc = { 0 };
    lv_status st = d->engine->get_mark(d, LV_COPY_MARK, state, &found, err);
    if (st == LV_OK)
        st = d->engine->size(d, &dz, err);
    if (st == LV_OK)
        st = forgotten_of(d, &forgotten, err);
    if (st == LV_OK)
        st = d->engine->receipts(d, note_receipt, &rc, err);
    receipts_fix(&rc);
    if (st != LV_OK) {
        /* said already */
    } else if (!found) {
        *state = 0;
        if (!store_empty(&dz) || forgotten[0] || rc.n)
            st = lv_fail(err, LV_EINVAL, "%s is not empty (it holds %lld events, %lld dead letters and %lld "
                         "subscriptions) and is not a copy levee copy made: a copy goes into an empty store (a new "
                         "file, or a new PostgreSQL database or schema), so that nothing of two stores is mixed",
                         d->location, (long long)dz.events, (long long)dz.dead_letters, (long long)dz.subscriptions);
    } else if (*state != LV_COPY_PARTIAL && *state != LV_COPY_COMPLETE) {
        st = lv_fail(err, LV_EINVAL, "%s carries a mark of levee copy (%llu) that this levee does not know; copy into "
                     "an empty store", d->location, (unsigned long long)*state);
    } else if (!same_erasures(forgotten, src_forgotten, &rc, src_receipts)) {
        st = lv_fail(err, LV_EINVAL, "%s holds a %s, but not of %s as it is now: the people forgotten or the receipts "
                     "of erasures differ (levee forget or prune ran on the source since, or the copy was of another "
                     "store). Empty %s (a new file, or a new PostgreSQL schema) and copy again", d->location,
                     *state == LV_COPY_PARTIAL ? "copy cut short" : "complete copy made earlier", c->src->location,
                     d->location);
    } else if (*state == LV_COPY_PARTIAL) {
        if (dz.events > src_size->events)
            st = lv_fail(err, LV_EINVAL, "%s holds a copy cut short with %lld events, more than %s holds now (%lld): "
                         "the source lost events since (levee prune or forget). Empty %s and copy again",
                         d->location, (long long)dz.events, c->src->location, (long long)src_size->events,
                         d->location);
        c->dst_events = dz.events;
    } else if (dz.events != src_size->events || dz.dead_letters != src_size->dead_letters ||
               dz.subscriptions != src_size->subscriptions || dz.documents != src_size->documents) {
        st = lv_fail(err, LV_EINVAL, "%s is a complete copy made earlier, but not of %s as it is now (%lld events, "
                     "%lld dead letters and %lld subscriptions now; the copy has %lld, %lld and %lld): the source has "
                     "changed since, or the copy is of another store; a copy is not brought up to date, so copy "
                     "again into an empty store", d->location, c->src->location,
                     (long long)src_size->events, (long long)src_size->dead_letters,
                     (long long)src_size->subscriptions, (long long)dz.events, (long long)dz.dead_letters,
                     (long long)dz.subscriptions);
    } else {
        c->dst_events = dz.events;
        st = compare_heads(c, err); /* the same counts: the same events, in the same order? */
    }
    free(forgotten);
    receipts_free(&rc);
    return st;
}

static lv_status run(copier *c, lv_error *err)
{
    lv_store *s = c->src, *d = c->dst;
    lv_store_size sz;
    lv_stats_row stats;
    int64_t *forgotten = NULL;
    receipts rc = { 0 };
    lv_status st = s->engine->size(s, &sz, err);
    if (st == LV_OK)
        st = s->engine->stats(s, &stats, err);
    if (st == LV_OK)
        st = forgotten_of(s, &forgotten, err);
    if (st == LV_OK)
        st = s->engine->receipts(s, note_receipt, &rc, err);
    receipts_fix(&rc);
    uint64_t state = 0;
    if (st == LV_OK)
        st = destination_state(c, &sz, forgotten, &rc, &state, err);
    c->out->forgotten = forgotten ? forgotten[0] : 0;
    c->out->receipts = (int64_t)rc.n;
    if (st == LV_OK && state == LV_COPY_COMPLETE) {
        c->out->already = true;
        c->out->events = sz.events;
        c->out->documents = sz.documents;
        c->out->dead_letters = sz.dead_letters;
        c->out->subscriptions = sz.subscriptions;
    } else if (st == LV_OK) {
        c->out->resumed = state == LV_COPY_PARTIAL;
        c->out->events_before = c->dst_events;
        c->total = (uint64_t)(sz.events + sz.dead_letters);
        if (state == 0)
            st = copy_erasures(c, forgotten, &rc, stats.duplicates, err);
        lv_store_set_bulk(d, true);
        if (st == LV_OK)
            st = s->engine->stored_events(s, copy_row, c, err);
        if (st == LV_OK && (int64_t)c->map.n < c->dst_events)
                st = lv_fail(err, LV_EINVAL, "%s holds a copy cut short with more events than %s holds now: the "
                             "source lost events since (levee prune or forget). Empty %s and copy again",
                             d->location, s->location, d->location);
        if (st == LV_OK)
            st = commit(c, err);
        if (st == LV_OK)
            st = s->engine->stored_dead_letters(s, copy_dead, c, err);
        if (st == LV_OK)
            st = commit(c, err);
        if (st == LV_OK)
            st = copy_subscriptions(c, err);
        if (c->in_txn) {
            c->in_txn = false;
            lv_store_rollback(d);
        }
        lv_store_set_bulk(d, false);
        lv_error serr;
        lv_status synced = lv_store_sync(d, &serr);
        if (st == LV_OK && synced != LV_OK) {
            st = synced;
            *err = serr;
        }
        if (st == LV_OK && c->out->events >= LV_ANALYZE_EVENTS)
            st = lv_store_analyze(d, err);
        c->out->events += c->out->events_before;
        c->out->documents = sz.documents;
    }
    free(forgotten);
    receipts_free(&rc);
    return st;
}

lv_status lv_store_copy(lv_store *src, lv_store *dst, const lv_copy_options *opt, lv_copy_result *out, lv_error *err)
{
    static const lv_copy_options none = { 0 };
    memset(out, 0, sizeof *out);
    copier c = { .src = src, .dst = dst, .opt = opt ? opt : &none, .out = out };
    c.commit_events = c.opt->commit_events ? c.opt->commit_events : DEFAULT_COMMIT;
    lv_status st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    /* one moment of the source, whatever a server writes meanwhile */
    if ((st = src->engine->snapshot(src, true, err)) != LV_OK)
        return st;
    c.b = lv_batch_new();
    c.z = lv_zctx_new();
    lv_buf_init(&c.doc);
    lv_buf_init(&c.zbuf);
    st = run(&c, err);
    lv_status ended = src->engine->snapshot(src, false, st == LV_OK ? err : NULL);
    if (st == LV_OK)
        st = ended;
    lv_batch_free(c.b);
    lv_zctx_free(c.z);
    lv_buf_free(&c.doc);
    lv_buf_free(&c.zbuf);
    free(c.used);
    free(c.heads);
    free(c.map.src);
    free(c.map.dst);
    return st;
}
