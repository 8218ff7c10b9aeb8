/* store.c: the engine-neutral face of the store: transactions around the projection (the rules,
 * keep/projection.c), marks, and every other operation passed to the engine that holds the data.
 * Opening a store (choosing its engine) is levee/engines.h's. */
#include "keep.h"

#include "levee/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lv_store_base_init(lv_store *s, const lv_engine *engine, const char *location)
{
    s->engine = lv_engine_complete(engine);
    s->location = lv_xstrdup(location);
    s->projection = lv_projection_new();
    lv_buf_init(&s->reuse);
}

void lv_store_base_free(lv_store *s)
{
    lv_projection_free(s->projection);
    lv_buf_free(&s->reuse);
    free(s->location);
}

void lv_store_close(lv_store *s)
{
    if (s)
        s->engine->close(s);
}

const char *lv_store_location(const lv_store *s)
{
    return s->location;
}

const char *lv_store_engine(const lv_store *s)
{
    return s->engine->name;
}

lv_status lv_store_begin(lv_store *s, lv_error *err)
{
    if (lv_projection_in_txn(s->projection))
        return lv_fail(err, LV_EINVAL, "a transaction on %s is already open", s->location);
    lv_status st = s->engine->begin(s, err);
    if (st == LV_OK)
        lv_projection_begun(s->projection);
    return st;
}

lv_status lv_store_write(lv_store *s, lv_batch *b, lv_counts *counts, lv_error *err)
{
    return lv_projection_write(s, b, counts, err);
}

lv_status lv_store_commit(lv_store *s, lv_error *err)
{
    if (!lv_projection_in_txn(s->projection))
        return LV_OK;
    lv_status st = lv_projection_flush(s, err);
    if (st == LV_OK)
        st = s->engine->commit(s, err);
    if (st != LV_OK) {
        lv_store_rollback(s);
        return st;
    }
    lv_projection_reset(s->projection, false);
    return LV_OK;
}

void lv_store_rollback(lv_store *s)
{
    s->engine->rollback(s);
    lv_projection_reset(s->projection, true);
}

void lv_store_set_bulk(lv_store *s, bool bulk) { s->engine->set_bulk(s, bulk); }
void lv_store_set_relaxed(lv_store *s, bool housekeeping) { s->engine->set_relaxed(s, housekeeping); }
void lv_store_set_lock_wait(lv_store *s, bool wait) { s->engine->set_lock_wait(s, wait); }
lv_status lv_store_sync(lv_store *s, lv_error *err) { return s->engine->sync(s, err); }
lv_status lv_store_analyze(lv_store *s, lv_error *err) { return s->engine->analyze(s, err); }
bool lv_store_txn_full(lv_store *s) { return s->engine->txn_full(s); }
lv_status lv_store_housekeeping(lv_store *s, lv_error *err) { return s->engine->housekeeping(s, err); }
lv_status lv_store_sync_others(lv_store *s, lv_error *err) { return s->engine->sync_others(s, err); }

lv_status lv_store_set_mark(lv_store *s, const char *name, uint64_t value, lv_error *err)
{
    if (!lv_projection_in_txn(s->projection))
        return lv_fail(err, LV_EINVAL, "setting a mark in %s outside a transaction", s->location);
    return s->engine->set_mark(s, name, value, err);
}

lv_status lv_store_get_mark(lv_store *s, const char *name, uint64_t *value, lv_error *err)
{
    bool found;
    return s->engine->get_mark(s, name, value, &found, err);
}

const lv_dict *lv_store_dict(lv_store *s) { return s->engine->dict(s); }
lv_status lv_store_maybe_train(lv_store *s, lv_error *err) { return s->engine->maybe_train(s, err); }
void lv_store_set_train_aside(lv_store *s, bool aside) { s->engine->set_train_aside(s, aside); }
void lv_store_set_deadline(lv_store *s, int64_t deadline_us) { s->engine->set_deadline(s, deadline_us); }
void lv_store_interrupt(lv_store *s) { s->engine->interrupt(s); }

lv_status lv_store_export(lv_store *s, const lv_export_filter *f,
                          lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                          void *ctx, lv_error *err)
{
    static const lv_export_filter all = { 0 };
    return s->engine->export_docs(s, f ? f : &all, emit, ctx, err);
}

#define MAX_SHARDS 8

lv_status lv_store_resolve_id(lv_store *s, uint64_t id, uint64_t *global, lv_error *err)
{
    *global = id;
    if (!lv_id_is_local(id))
        return LV_OK;
    uint64_t shards[MAX_SHARDS];
    size_t n = 0;
    lv_status st = s->engine->shards(s, shards, MAX_SHARDS, &n, err);
    if (st != LV_OK)
        return st;
    if (n == 0)
        return LV_OK;
    if (n > 1) {
        char list[200] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%llu", i ? ", " : "",
                                     (unsigned long long)(shards[i] * LV_SHARD_FACTOR + id));
        return lv_fail(err, LV_EINVAL, "%llu is a local id and this store holds several shards; "
                       "give the global id (one of %s)", (unsigned long long)id, list);
    }
    if (!lv_id_globalize(id, shards[0], global))
        return lv_fail(err, LV_EINVAL, "%llu cannot be made global", (unsigned long long)id);
    return LV_OK;
}
