/* copy.c: the PostgreSQL engine's operations for levee copy (levee/engine.h), as the SQLite engine's: the
 * entries erased, a subscription inserted with its own id and counters (the identity moved past it), and
 * the replays a subscription is walking. The rules are keep/copy.c's. */
#include "pg.h"

#include <string.h>

typedef struct copy_reader {
    void *fn;
    void *ctx;
    int64_t sub;
} copy_reader;

static lv_status removed_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    (void)s;
    copy_reader *rd = ctx;
    lv_entry_row e = { .id = (uint64_t)pg_get_int(r, row, 0), .topic = (uint64_t)pg_get_int(r, row, 1) };
    return ((lv_entry_fn)rd->fn)(rd->ctx, &e, err);
}

static lv_status pg_removed_entry_list(lv_store *base, lv_entry_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK; /* a reader of an older levee's store: nothing was erased */
    copy_reader rd = { (void *)fn, ctx, 0 };
    return pg_stream(s, "SELECT id, topic FROM removed_entries ORDER BY id", NULL, removed_row, &rd,
                     "cannot read the erased entries", err);
}

static lv_status pg_sub_restore(lv_store *base, const lv_sub_row *row, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, row->id);
    pg_str(&p, row->spec.p ? row->spec : (lv_str){ "", 0 });
    pg_int(&p, (int64_t)row->state);
    pg_str(&p, row->reason.p ? row->reason : (lv_str){ "", 0 });
    pg_int(&p, row->created_ms);
    pg_int(&p, row->cursor);
    pg_int(&p, row->failing_since_ms);
    pg_int(&p, row->delivered);
    pg_int(&p, row->failed_attempts);
    pg_int(&p, row->skipped);
    pg_int(&p, row->last_success_ms);
    pg_str(&p, row->last_error.p ? row->last_error : (lv_str){ "", 0 });
    lv_status st = pg_cmd(s, -1, "INSERT INTO subscriptions (id, spec, state, reason, created, cursor, failing_since,"
                          " delivered, failed_attempts, skipped, last_success, last_error)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", &p, NULL,
                          "cannot copy a subscription", err);
    pg_params_free(&p);
    /* ids given from now on come after it (an identity does not move by itself past an id given to it) */
    if (st == LV_OK)
        st = pg_exec(s, "SELECT setval(pg_get_serial_sequence('subscriptions', 'id'),"
                        " (SELECT max(id) FROM subscriptions))", "cannot copy a subscription", err);
    return st;
}

static lv_status replay_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    copy_reader *rd = ctx;
    bool started = !pg_isnull(r, i, 4);
    if (started && (!pg_get_bytes(r, i, 4, &s->bytes) || s->bytes.len != LV_HASH_BYTES))
        return lv_fail(err, LV_EDAMAGED, "a replay of subscription %lld in %s has no valid position: the store is "
                       "damaged", (long long)rd->sub, s->base.location);
    lv_sub_replay_row row = { .id = pg_get_int(r, i, 0), .sub = rd->sub, .since_ms = pg_get_int(r, i, 1),
                              .until_ms = pg_get_int(r, i, 2), .started = started, .at_time_ms = pg_get_int(r, i, 3) };
    if (started)
        memcpy(row.at_hash, s->bytes.data, LV_HASH_BYTES);
    return ((lv_sub_replay_fn)rd->fn)(rd->ctx, &row, err);
}

static lv_status pg_sub_replay_list(lv_store *base, int64_t sub, lv_sub_replay_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 3)
        return LV_OK; /* a read-only store of an older schema has no replays */
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    copy_reader rd = { (void *)fn, ctx, sub };
    lv_status st = pg_each(s, "SELECT id, since, until, at_time, at_hash FROM sub_replays WHERE sub = $1 ORDER BY id",
                           &p, replay_row, &rd, "cannot read the replays", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_replay_put(lv_store *base, const lv_sub_replay_row *row, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, row->sub);
    pg_int(&p, row->since_ms);
    pg_int(&p, row->until_ms);
    pg_int(&p, row->started ? row->at_time_ms : row->since_ms);
    if (row->started)
        pg_bytes(&p, row->at_hash, LV_HASH_BYTES);
    else
        pg_null(&p);
    lv_status st = pg_cmd((pg_store *)base, -1, "INSERT INTO sub_replays (sub, since, until, at_time, at_hash)"
                          " VALUES ($1, $2, $3, $4, $5)", &p, NULL, "cannot copy a replay", err);
    pg_params_free(&p);
    return st;
}

void pg_fill_copy(lv_engine *e)
{
    e->removed_entry_list = pg_removed_entry_list;
    e->sub_restore = pg_sub_restore;
    e->sub_replay_list = pg_sub_replay_list;
    e->sub_replay_put = pg_sub_replay_put;
}
