/* subs.c: the embedded engine's rows for subscriptions (levee/engine.h): the subscriptions with their
 * cursor, lease and counters, the events waiting for another attempt, the delivery dead letters and
 * the recent attempts; and the reads of events in arrival order that delivery walks. The rules
 * (filters, forms, retries) live in src/deliver/. */
#include "columns.h"

#include <string.h>

/* Delivery runs a few statements per event delivered: they are prepared once per connection and kept,
 * by the SQL text's address (every statement here is a literal), instead of prepared and finalized
 * each time (measured: preparing was 18% of a delivery's instructions). A statement in use (a read whose
 * callback asks again) gets a fresh one. */
static lv_status prepare(sq_store *s, const char *sql, sqlite3_stmt **st, lv_error *err)
{
    sq_cached *free_slot = NULL;
    for (size_t i = 0; i < SQ_CACHED_MAX; i++) {
        sq_cached *c = &s->cached[i];
        if (c->sql == sql && !c->busy) {
            c->busy = true;
            *st = c->st;
            return LV_OK;
        }
        if (!c->sql && !free_slot)
            free_slot = c;
    }
    if (free_slot && !s->read_only) {
        if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
            return sq_fail(s, err, "cannot read the store");
        *free_slot = (sq_cached){ sql, *st, true };
        return LV_OK;
    }
    return sq_prepare(s, sql, st, err);
}

/* Done with a statement from prepare: a kept one is reset for the next use, another finalized. */
static void release(sq_store *s, sqlite3_stmt *st)
{
    for (size_t i = 0; i < SQ_CACHED_MAX; i++)
        if (s->cached[i].st == st && s->cached[i].busy) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->cached[i].busy = false;
            return;
        }
    sqlite3_finalize(st);
}

/* Runs a statement that returns no rows, releases it; *changes is how many rows it changed. */
static lv_status run(sq_store *s, sqlite3_stmt *st, const char *what, int *changes, lv_error *err)
{
    bool row = false;
    lv_status rc = sq_step(s, st, &row, what, err);
    if (changes)
        *changes = rc == LV_OK ? sqlite3_changes(s->db) : 0;
    release(s, st);
    return rc;
}

lv_status sq_sub_insert(lv_store *base, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms,
                        int64_t *id, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT INTO subscriptions (spec, state, created, cursor) VALUES (?1, ?2, ?3, ?4)", &st,
                           err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_text(st, 1, spec, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_int64(st, 3, created_ms);
    sqlite3_bind_int64(st, 4, cursor);
    rc = run(s, st, "cannot add the subscription", NULL, err);
    if (rc == LV_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

lv_status sq_sub_set_spec(lv_store *base, int64_t id, const char *spec, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "UPDATE subscriptions SET spec = ?2 WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, spec, -1, SQLITE_STATIC);
    return run(s, st, "cannot change the subscription", NULL, err);
}

lv_status sq_sub_set_state(lv_store *base, int64_t id, lv_sub_state state, const char *reason, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    /* starting again clears the failure streak, so it is not disabled again at once */
    lv_status rc = prepare(s, "UPDATE subscriptions SET state = ?2, reason = ?3,"
                              " failing_since = CASE WHEN ?2 = 0 THEN 0 ELSE failing_since END WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, (int)state);
    sqlite3_bind_text(st, 3, reason ? reason : "", -1, SQLITE_STATIC);
    return run(s, st, "cannot change the subscription's state", NULL, err);
}

lv_status sq_sub_delete(lv_store *base, int64_t id, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    static const char *const sql[] = {
        "DELETE FROM sub_replays WHERE sub = ?1", "DELETE FROM sub_pending WHERE sub = ?1",
        "DELETE FROM sub_dead WHERE sub = ?1", "DELETE FROM sub_attempts WHERE sub = ?1",
        "DELETE FROM subscriptions WHERE id = ?1",
    };
    bool own = !s->in_txn;
    lv_status rc = own ? sq_exec(s, "BEGIN IMMEDIATE", err) : LV_OK;
    int changes = 0;
    for (size_t i = 0; rc == LV_OK && i < sizeof sql / sizeof *sql; i++) {
        sqlite3_stmt *st;
        if ((rc = prepare(s, sql[i], &st, err)) != LV_OK)
            break;
        sqlite3_bind_int64(st, 1, id);
        rc = run(s, st, "cannot remove the subscription", &changes, err);
    }
    if (own && rc == LV_OK)
        rc = sq_exec(s, "COMMIT", err);
    if (own && rc != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    *found = rc == LV_OK && changes > 0;
    return rc;
}

#define SUB_COLUMNS                                                                                              \
    "id, spec, state, reason, created, cursor, failing_since, delivered, failed_attempts, skipped,"              \
    " (SELECT count(*) FROM sub_dead WHERE sub = subscriptions.id),"                                             \
    " (SELECT count(*) FROM sub_pending WHERE sub = subscriptions.id), last_success, last_error, lease_owner,"   \
    " lease_until, "
/* a read-only store of schema 5 or older has no replays */
#define SUB_REPLAYS "(SELECT count(*) FROM sub_replays WHERE sub = subscriptions.id)"

static lv_status read_subs(sq_store *s, sqlite3_stmt *st, lv_sub_fn fn, void *ctx, lv_error *err)
{
    lv_status rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the subscriptions", err)) == LV_OK && row) {
        lv_sub_row r = {
            .id = sqlite3_column_int64(st, 0), .spec = sq_column_str(st, 1),
            .state = (lv_sub_state)sqlite3_column_int(st, 2), .reason = sq_column_str(st, 3),
            .created_ms = sqlite3_column_int64(st, 4), .cursor = sqlite3_column_int64(st, 5),
            .failing_since_ms = sqlite3_column_int64(st, 6), .delivered = sqlite3_column_int64(st, 7),
            .failed_attempts = sqlite3_column_int64(st, 8), .skipped = sqlite3_column_int64(st, 9),
            .dead_letters = sqlite3_column_int64(st, 10), .pending = sqlite3_column_int64(st, 11),
            .last_success_ms = sqlite3_column_int64(st, 12), .last_error = sq_column_str(st, 13),
            .lease_owner = sq_column_str(st, 14), .lease_until_ms = sqlite3_column_int64(st, 15),
            .replays = sqlite3_column_int64(st, 16),
        };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    release(s, st);
    return rc;
}

lv_status sq_sub_get(lv_store *base, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 4)
        return LV_OK; /* a read-only store from before subscriptions: it has none */
    sqlite3_stmt *st;
    lv_status rc = prepare(s, s->schema_version >= 6 ? "SELECT " SUB_COLUMNS SUB_REPLAYS " FROM subscriptions WHERE id = ?1"
                                                     : "SELECT " SUB_COLUMNS "0 FROM subscriptions WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    return read_subs(s, st, fn, ctx, err);
}

lv_status sq_sub_list(lv_store *base, lv_sub_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 4)
        return LV_OK;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, s->schema_version >= 6 ? "SELECT " SUB_COLUMNS SUB_REPLAYS " FROM subscriptions ORDER BY id"
                                                     : "SELECT " SUB_COLUMNS "0 FROM subscriptions ORDER BY id", &st, err);
    if (rc != LV_OK)
        return rc;
    return read_subs(s, st, fn, ctx, err);
}

lv_status sq_sub_progress(lv_store *base, int64_t id, const lv_sub_progress *p, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "UPDATE subscriptions SET cursor = max(cursor, ?2), delivered = delivered + ?3,"
                              " failed_attempts = failed_attempts + ?4, skipped = skipped + ?5,"
                              " failing_since = CASE WHEN ?6 < 0 THEN failing_since ELSE ?6 END,"
                              " last_success = CASE WHEN ?7 < 0 THEN last_success ELSE ?7 END,"
                              " last_error = coalesce(?8, last_error) WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, p->cursor);
    sqlite3_bind_int64(st, 3, p->delivered);
    sqlite3_bind_int64(st, 4, p->failed_attempts);
    sqlite3_bind_int64(st, 5, p->skipped);
    sqlite3_bind_int64(st, 6, p->failing_since_ms);
    sqlite3_bind_int64(st, 7, p->last_success_ms);
    if (p->last_error)
        sqlite3_bind_text(st, 8, p->last_error, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 8);
    return run(s, st, "cannot record delivery", NULL, err);
}

lv_status sq_sub_lease(lv_store *base, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
                       lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "UPDATE subscriptions SET lease_owner = ?2, lease_until = ?4 WHERE id = ?1 AND"
                              " (lease_owner IS NULL OR lease_owner = ?2 OR lease_until < ?3)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, until_ms);
    int changes = 0;
    rc = run(s, st, "cannot take a subscription's lease", &changes, err);
    *held = changes == 1;
    return rc;
}

lv_status sq_sub_release(lv_store *base, int64_t id, const char *owner, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "UPDATE subscriptions SET lease_owner = NULL, lease_until = 0 WHERE id = ?1 AND"
                              " lease_owner = ?2", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    return run(s, st, "cannot give back a subscription's lease", NULL, err);
}

/* ---- events in arrival order ---- */

/* The columns of an lv_event_ref; W is the key webhook-id is made of (schema 7 on; NULL before). */
#define REF_COLUMNS_W(W) "e.id, names.name, e.format, e.context_id, e.time, e.received, e.hash, " W
#define REF_COLUMNS REF_COLUMNS_W("e.webhook_hash")
#define REF_COLUMNS_V6 REF_COLUMNS_W("NULL")
#define REF_SQL(s, before, after) ((s)->schema_version >= 7 ? before REF_COLUMNS after : before REF_COLUMNS_V6 after)

static lv_status read_refs(sq_store *s, sqlite3_stmt *st, bool with_docs, lv_event_ref_fn fn, void *ctx,
                           lv_error *err)
{
    lv_status rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the stored events", err)) == LV_OK && row) {
        lv_event_ref r = {
            .id = sqlite3_column_int64(st, 0), .name = sq_column_str(st, 1),
            .format = sqlite3_column_int(st, 2) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
            .context_id = sq_column_opt(st, 3), .time_ms = sqlite3_column_int64(st, 4),
            .received_ms = sqlite3_column_int64(st, 5), .hash = sqlite3_column_blob(st, 6),
            .webhook_hash = sqlite3_column_bytes(st, 7) == LV_HASH_BYTES ? sqlite3_column_blob(st, 7) : NULL,
        };
        if (!r.hash || sqlite3_column_bytes(st, 6) != LV_HASH_BYTES) {
            rc = lv_fail(err, LV_EDAMAGED, "event %lld in %s has no valid key: the store is damaged", (long long)r.id,
                         s->base.location);
            break;
        }
        if (with_docs) {
            lv_buf_reset(&s->raw);
            if ((rc = sq_document(s, st, 8, &s->raw, err)) != LV_OK)
                break;
            r.doc = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
        }
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    release(s, st);
    return rc;
}

lv_status sq_events_from(lv_store *base, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx,
                         lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, with_docs ? REF_SQL(s, "SELECT ", ", d.raw, d.raw_len, d.dict FROM events e"
                                                    " JOIN names ON names.id = e.name"
                                                    " JOIN events d ON d.id = coalesce(e.doc, e.id)"
                                                    " WHERE e.id >= ?1 ORDER BY e.id LIMIT ?2")
                                        : REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                                    " WHERE e.id >= ?1 ORDER BY e.id LIMIT ?2"),
                           &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, limit);
    return read_refs(s, st, with_docs, fn, ctx, err);
}

lv_status sq_event_ref(lv_store *base, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, REF_SQL(s, "SELECT ", ", d.raw, d.raw_len, d.dict FROM events e"
                                         " JOIN names ON names.id = e.name JOIN events d ON d.id = coalesce(e.doc, e.id)"
                                         " WHERE e.id = ?1"), &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    return read_refs(s, st, true, fn, ctx, err);
}

/* The one integer of a one-row query with ?1 bound (fallback when NULL or no row). */
static lv_status scalar_with(sq_store *s, const char *sql, int64_t arg, int64_t fallback, int64_t *out, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, arg);
    bool row = false;
    *out = fallback;
    if ((rc = sq_step(s, st, &row, "cannot read the store", err)) == LV_OK && row &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(st, 0);
    release(s, st);
    return rc;
}

lv_status sq_events_end(lv_store *base, int64_t *next, lv_error *err)
{
    lv_status rc = scalar_with((sq_store *)base, "SELECT max(id) + 1 FROM events WHERE ?1 = ?1", 0, 1, next, err);
    return rc;
}

lv_status sq_events_count_from(lv_store *base, int64_t from, int64_t *count, int64_t *first_received_ms, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = scalar_with(s, "SELECT count(*) FROM events WHERE id >= ?1", from, 0, count, err);
    if (rc == LV_OK)
        rc = scalar_with(s, "SELECT received FROM events WHERE id >= ?1 ORDER BY id LIMIT 1", from, 0, first_received_ms,
                         err);
    return rc;
}

lv_status sq_event_received_since(lv_store *base, int64_t received_ms, int64_t *row, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int64_t end;
    lv_status rc = sq_events_end(base, &end, err);
    if (rc != LV_OK)
        return rc;
    /* received times grow with row ids (one writer stamps them in order), give or take a clock step */
    return scalar_with(s, "SELECT min(id) FROM events WHERE received >= ?1", received_ms, end, row, err);
}

/* ---- pending, dead letters, attempts ---- */

lv_status sq_sub_pending_put(lv_store *base, const lv_sub_pending_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT OR REPLACE INTO sub_pending (sub, event, attempts, first_attempt, next)"
                              " VALUES (?1, ?2, ?3, ?4, ?5)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->sub);
    sqlite3_bind_int64(st, 2, r->event);
    sqlite3_bind_int64(st, 3, r->attempts);
    sqlite3_bind_int64(st, 4, r->first_attempt_ms);
    sqlite3_bind_int64(st, 5, r->next_ms);
    return run(s, st, "cannot schedule a retry", NULL, err);
}

lv_status sq_sub_pending_delete(lv_store *base, int64_t sub, int64_t event, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "DELETE FROM sub_pending WHERE sub = ?1 AND event = ?2", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, event);
    return run(s, st, "cannot record delivery", NULL, err);
}

lv_status sq_sub_pending_due(lv_store *base, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn,
                             void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT event, attempts, first_attempt, next FROM sub_pending"
                              " WHERE sub = ?1 AND next <= ?2 ORDER BY next, event LIMIT ?3", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, limit);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the retries", err)) == LV_OK && row) {
        lv_sub_pending_row r = { .sub = sub, .event = sqlite3_column_int64(st, 0),
                                 .attempts = sqlite3_column_int64(st, 1),
                                 .first_attempt_ms = sqlite3_column_int64(st, 2), .next_ms = sqlite3_column_int64(st, 3) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    release(s, st);
    return rc;
}

lv_status sq_sub_pending_summary(lv_store *base, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms,
                                 lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT count(*), coalesce(min(p.next), 0), coalesce(min(e.received), 0)"
                              " FROM sub_pending p LEFT JOIN events e ON e.id = p.event WHERE p.sub = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    bool row = false;
    *count = *next_ms = *oldest_ms = 0;
    if ((rc = sq_step(s, st, &row, "cannot read the retries", err)) == LV_OK && row) {
        *count = sqlite3_column_int64(st, 0);
        *next_ms = sqlite3_column_int64(st, 1);
        *oldest_ms = sqlite3_column_int64(st, 2);
    }
    release(s, st);
    return rc;
}

/* In the order of the dedup index (time, hash), so that a chunk starts where the last one ended with a
 * seek and stops after `limit` rows, never sorting the window. */
lv_status sq_events_between(lv_store *base, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
                            const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx,
                            lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, after_hash ? REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                                      " WHERE e.time >= ?1 AND e.time < ?2 AND (e.time, e.hash) > (?3, ?4)"
                                                      " ORDER BY e.time, e.hash LIMIT ?5")
                                         : REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                                      " WHERE e.time >= ?1 AND e.time < ?2 ORDER BY e.time, e.hash LIMIT ?5"),
                           &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, since_ms);
    sqlite3_bind_int64(st, 2, until_ms);
    if (after_hash) {
        sqlite3_bind_int64(st, 3, after_time_ms);
        sqlite3_bind_blob(st, 4, after_hash, LV_HASH_BYTES, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 5, limit);
    return read_refs(s, st, false, fn, ctx, err);
}

lv_status sq_sub_replay_add(lv_store *base, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT INTO sub_replays (sub, since, until, at_time, at_hash) VALUES (?1, ?2, ?3, ?2, NULL)",
                           &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, since_ms);
    sqlite3_bind_int64(st, 3, until_ms);
    return run(s, st, "cannot queue the replay", NULL, err);
}

lv_status sq_sub_replay_next(lv_store *base, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *found = false;
    if (s->schema_version < 6)
        return LV_OK;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT id, since, until, at_time, at_hash FROM sub_replays WHERE sub = ?1"
                              " ORDER BY id LIMIT 1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    bool have = false;
    if ((rc = sq_step(s, st, &have, "cannot read the replays", err)) == LV_OK && have) {
        lv_str hash = sq_column_str(st, 4);
        if (hash.p && hash.n != LV_HASH_BYTES) {
            rc = lv_fail(err, LV_EDAMAGED, "a replay of subscription %lld in %s has no valid position: the store is "
                         "damaged", (long long)sub, s->base.location);
        } else {
            *row = (lv_sub_replay_row){ .id = sqlite3_column_int64(st, 0), .sub = sub,
                                        .since_ms = sqlite3_column_int64(st, 1), .until_ms = sqlite3_column_int64(st, 2),
                                        .started = hash.p != NULL, .at_time_ms = sqlite3_column_int64(st, 3) };
            if (hash.p)
                memcpy(row->at_hash, hash.p, LV_HASH_BYTES);
            *found = true;
        }
    }
    release(s, st);
    return rc;
}

lv_status sq_sub_replay_advance(lv_store *base, int64_t id, int64_t at_time_ms, const unsigned char *at_hash, bool done,
                                lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, done ? "DELETE FROM sub_replays WHERE id = ?1"
                                   : "UPDATE sub_replays SET at_time = ?2, at_hash = ?3 WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if (!done) {
        sqlite3_bind_int64(st, 2, at_time_ms);
        sqlite3_bind_blob(st, 3, at_hash, LV_HASH_BYTES, SQLITE_TRANSIENT);
    }
    return run(s, st, "cannot record how far the replay went", NULL, err);
}

lv_status sq_sub_pending_add(lv_store *base, int64_t sub, int64_t event, int64_t next_ms, bool *added, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT OR IGNORE INTO sub_pending (sub, event, attempts, first_attempt, next)"
                              " VALUES (?1, ?2, 0, 0, ?3)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, event);
    sqlite3_bind_int64(st, 3, next_ms);
    int changes = 0;
    rc = run(s, st, "cannot queue the replay", &changes, err);
    *added = changes == 1;
    return rc;
}

lv_status sq_sub_dead_put(lv_store *base, const lv_sub_dead_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT OR REPLACE INTO sub_dead (sub, event, attempts, status, answer, error,"
                              " first_attempt, last_attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->sub);
    sqlite3_bind_int64(st, 2, r->event);
    sqlite3_bind_int64(st, 3, r->attempts);
    sqlite3_bind_int64(st, 4, r->status);
    sqlite3_bind_text(st, 5, r->answer.p ? r->answer.p : "", (int)r->answer.n, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->error.p ? r->error.p : "", (int)r->error.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, r->first_attempt_ms);
    sqlite3_bind_int64(st, 8, r->last_attempt_ms);
    return run(s, st, "cannot keep a delivery dead letter", NULL, err);
}

lv_status sq_sub_dead_list(lv_store *base, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT d.event, d.attempts, d.status, d.answer, d.error, d.first_attempt,"
                              " d.last_attempt, names.name, e.time FROM sub_dead d"
                              " LEFT JOIN events e ON e.id = d.event LEFT JOIN names ON names.id = e.name"
                              " WHERE d.sub = ?1 ORDER BY d.last_attempt DESC, d.event DESC LIMIT ?2", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, limit);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the delivery dead letters", err)) == LV_OK && row) {
        lv_sub_dead_row r = {
            .sub = sub, .event = sqlite3_column_int64(st, 0), .attempts = sqlite3_column_int64(st, 1),
            .status = sqlite3_column_int64(st, 2), .answer = sq_column_str(st, 3), .error = sq_column_str(st, 4),
            .first_attempt_ms = sqlite3_column_int64(st, 5), .last_attempt_ms = sqlite3_column_int64(st, 6),
            .event_name = sq_column_str(st, 7), .event_time_ms = sqlite3_column_int64(st, 8),
        };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    release(s, st);
    return rc;
}

lv_status sq_sub_dead_count(lv_store *base, int64_t sub, int64_t *count, lv_error *err)
{
    return scalar_with((sq_store *)base, "SELECT count(*) FROM sub_dead WHERE sub = ?1", sub, 0, count, err);
}

lv_status sq_sub_dead_requeue(lv_store *base, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    bool own = !s->in_txn;
    lv_status rc = own ? sq_exec(s, "BEGIN IMMEDIATE", err) : LV_OK;
    sqlite3_stmt *st = NULL;
    int changes = 0;
    if (rc == LV_OK && (rc = prepare(s, "INSERT OR REPLACE INTO sub_pending (sub, event, attempts, first_attempt, next)"
                                        " SELECT sub, event, 0, 0, ?2 FROM sub_dead WHERE sub = ?1", &st, err)) == LV_OK) {
        sqlite3_bind_int64(st, 1, sub);
        sqlite3_bind_int64(st, 2, now_ms);
        rc = run(s, st, "cannot queue the dead letters", &changes, err);
    }
    if (rc == LV_OK && (rc = prepare(s, "DELETE FROM sub_dead WHERE sub = ?1", &st, err)) == LV_OK) {
        sqlite3_bind_int64(st, 1, sub);
        rc = run(s, st, "cannot queue the dead letters", NULL, err);
    }
    if (own && rc == LV_OK)
        rc = sq_exec(s, "COMMIT", err);
    if (own && rc != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    *queued = rc == LV_OK ? changes : 0;
    return rc;
}

lv_status sq_sub_attempt_add(lv_store *base, const lv_sub_attempt_row *r, unsigned keep, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "INSERT INTO sub_attempts (sub, event, at, status, latency, error)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->sub);
    sqlite3_bind_int64(st, 2, r->event);
    sqlite3_bind_int64(st, 3, r->at_ms);
    sqlite3_bind_int64(st, 4, r->status);
    sqlite3_bind_int64(st, 5, r->latency_ms);
    sqlite3_bind_text(st, 6, r->error.p ? r->error.p : "", (int)r->error.n, SQLITE_STATIC);
    if ((rc = run(s, st, "cannot record an attempt", NULL, err)) != LV_OK)
        return rc;
    /* Trimmed now and then (preparing the DELETE costs more than the insert): the newest `keep` of
     * the subscription stay, give or take a few dozen. Ids are shared by every subscription, so the
     * choice is a hash of the id, not id % 64: that never trimmed a subscription whose attempts
     * alternate with another's (all its ids odd). */
    uint64_t h = (uint64_t)sqlite3_last_insert_rowid(s->db) * 0x9E3779B97F4A7C15ULL;
    if ((h ^ (h >> 29)) >> 59) /* 1 in 32 */
        return LV_OK;
    if ((rc = prepare(s, "DELETE FROM sub_attempts WHERE sub = ?1 AND id <= (SELECT id FROM sub_attempts"
                         " WHERE sub = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)", &st, err)) != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->sub);
    sqlite3_bind_int64(st, 2, keep);
    return run(s, st, "cannot record an attempt", NULL, err);
}

lv_status sq_sub_attempts(lv_store *base, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT a.event, a.at, a.status, a.latency, a.error, names.name FROM sub_attempts a"
                              " LEFT JOIN events e ON e.id = a.event LEFT JOIN names ON names.id = e.name"
                              " WHERE a.sub = ?1 ORDER BY a.id DESC LIMIT ?2", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, sub);
    sqlite3_bind_int64(st, 2, limit);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the attempts", err)) == LV_OK && row) {
        lv_sub_attempt_row r = { .sub = sub, .event = sqlite3_column_int64(st, 0), .at_ms = sqlite3_column_int64(st, 1),
                                 .status = sqlite3_column_int64(st, 2), .latency_ms = sqlite3_column_int64(st, 3),
                                 .error = sq_column_str(st, 4), .event_name = sq_column_str(st, 5) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    release(s, st);
    return rc;
}
