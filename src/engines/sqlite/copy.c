/* copy.c: the embedded engine's operations for levee copy (levee/engine.h): the rows that no rebuild
 * can make again from the events, read whole and written back as they were: the entries erased, a
 * subscription with its own id and counters, and the replays a subscription is walking. The rules (what
 * is copied, in which order, how event rows are mapped) are keep/copy.c's. */
#include "columns.h"

#include <string.h>

lv_status sq_removed_entry_list(lv_store *base, lv_entry_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 5)
        return LV_OK; /* a read-only store of an older levee: nothing was erased */
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT id, topic FROM removed_entries ORDER BY id", &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the erased entries", err)) == LV_OK && row) {
        lv_entry_row r = { .id = (uint64_t)sqlite3_column_int64(st, 0), .topic = (uint64_t)sqlite3_column_int64(st, 1) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

static void bind_str(sqlite3_stmt *st, int col, lv_str v)
{
    sqlite3_bind_text(st, col, v.p ? v.p : "", v.p ? (int)v.n : 0, SQLITE_STATIC);
}

lv_status sq_sub_restore(lv_store *base, const lv_sub_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    /* an explicit id moves AUTOINCREMENT's counter past it, so no later subscription is given it */
    lv_status rc = sq_prepare(s, "INSERT INTO subscriptions (id, spec, state, reason, created, cursor, failing_since,"
                                 " delivered, failed_attempts, skipped, last_success, last_error)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->id);
    bind_str(st, 2, r->spec);
    sqlite3_bind_int(st, 3, (int)r->state);
    bind_str(st, 4, r->reason);
    sqlite3_bind_int64(st, 5, r->created_ms);
    sqlite3_bind_int64(st, 6, r->cursor);
    sqlite3_bind_int64(st, 7, r->failing_since_ms);
    sqlite3_bind_int64(st, 8, r->delivered);
    sqlite3_bind_int64(st, 9, r->failed_attempts);
    sqlite3_bind_int64(st, 10, r->skipped);
    sqlite3_bind_int64(st, 11, r->last_success_ms);
    bind_str(st, 12, r->last_error);
    rc = sq_exec_step(s, st, "cannot copy a subscription", err);
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_sub_replay_list(lv_store *base, int64_t sub, lv_sub_replay_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 6)
        return LV_OK; /* a read-only store of schema 5 or older has no replays */
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT id, since, until, at_time, at_hash FROM sub_replays WHERE sub = ?1 ORDER BY id",
                              &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the replays", err)) == LV_OK && row) {
        lv_str hash = sq_column_str(st, 4);
        if (hash.p && hash.n != LV_HASH_BYTES) {
            rc = lv_fail(err, LV_EDAMAGED, "a replay of subscription %lld in %s has no valid position: the store is "
                         "damaged", (long long)sub, base->location);
            break;
        }
        lv_sub_replay_row r = { .id = sqlite3_column_int64(st, 0), .sub = sub, .since_ms = sqlite3_column_int64(st, 1),
                                .until_ms = sqlite3_column_int64(st, 2), .started = hash.p != NULL,
                                .at_time_ms = sqlite3_column_int64(st, 3) };
        if (hash.p)
            memcpy(r.at_hash, hash.p, LV_HASH_BYTES);
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_sub_replay_put(lv_store *base, const lv_sub_replay_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "INSERT INTO sub_replays (sub, since, until, at_time, at_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                              &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->sub);
    sqlite3_bind_int64(st, 2, r->since_ms);
    sqlite3_bind_int64(st, 3, r->until_ms);
    sqlite3_bind_int64(st, 4, r->started ? r->at_time_ms : r->since_ms);
    if (r->started)
        sqlite3_bind_blob(st, 5, r->at_hash, LV_HASH_BYTES, SQLITE_STATIC);
    rc = sq_exec_step(s, st, "cannot copy a replay", err);
    sqlite3_finalize(st);
    return rc;
}
