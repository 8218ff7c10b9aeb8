/* subs.c: the PostgreSQL engine's rows for subscriptions (levee/engine.h): the subscriptions with their
 * cursor, lease and counters, the events waiting for another attempt, the delivery dead letters and the
 * recent attempts; and the reads of events in arrival order that delivery and the live tail walk. The
 * rules (filters, forms, retries, leases) live in src/deliver/.
 *
 * Several nodes and `levee deliver` processes share these rows. A subscription is claimed by its lease:
 * one UPDATE whose WHERE names who may take it, which PostgreSQL re-checks on the row once it holds its
 * lock, so two claimants never both succeed. Every operation is one statement (several tables at once
 * through data-modifying WITH), so it is atomic without a transaction of its own.
 *
 * Arrival order across writers: row ids come from one sequence, but transactions commit in any order,
 * so a reader that walked past id N could later see a row below N commit (a node's group commit still
 * running) and never read it. Each writing transaction therefore holds, until it ends, a shared advisory
 * lock on the sequence's value when it began (pg_begin: PG_HORIZON_LOCK), which is at most every id it
 * will take; events_from reads only below the horizon: the least value locked by a transaction still
 * running, else the sequence's end. Locks are in pg_locks at once (not at commit), and the sequence's end
 * is read before them, so a writer is either seen or takes only ids beyond the end read. */
#include "pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONE_OF_32(id) ((((uint64_t)(id) * 0x9E3779B97F4A7C15ULL) >> 59) == 0)

static lv_status pg_sub_insert(lv_store *base, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms,
                        int64_t *id, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_cstr(&p, spec);
    pg_int(&p, (int64_t)state);
    pg_int(&p, created_ms);
    pg_int(&p, cursor);
    PGresult *r;
    lv_status st = pg_run(s, -1, "INSERT INTO subscriptions (spec, state, created, cursor) VALUES ($1, $2, $3, $4)"
                                 " RETURNING id", &p, &r, "cannot add the subscription", err);
    pg_params_free(&p);
    if (st == LV_OK)
        *id = pg_get_int(r, 0, 0);
    lv_pq.PQclear(r);
    return st;
}

static lv_status pg_sub_set_spec(lv_store *base, int64_t id, const char *spec, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_cstr(&p, spec);
    lv_status st = pg_cmd((pg_store *)base, -1, "UPDATE subscriptions SET spec = $2 WHERE id = $1", &p, NULL,
                          "cannot change the subscription", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_set_state(lv_store *base, int64_t id, lv_sub_state state, const char *reason, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_int(&p, (int64_t)state);
    pg_cstr(&p, reason ? reason : "");
    /* starting again clears the failure streak, so it is not disabled again at once */
    lv_status st = pg_cmd((pg_store *)base, -1, "UPDATE subscriptions SET state = $2::integer, reason = $3,"
                          " failing_since = CASE WHEN $2::integer = 0 THEN 0 ELSE failing_since END WHERE id = $1",
                          &p, NULL, "cannot change the subscription's state", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_delete(lv_store *base, int64_t id, bool *found, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    int64_t changed = 0;
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "WITH p AS (DELETE FROM sub_pending WHERE sub = $1), d AS (DELETE FROM sub_dead WHERE sub = $1),"
                          " a AS (DELETE FROM sub_attempts WHERE sub = $1), r AS (DELETE FROM sub_replays WHERE sub = $1)"
                          " DELETE FROM subscriptions WHERE id = $1",
                          &p, &changed, "cannot remove the subscription", err);
    pg_params_free(&p);
    *found = st == LV_OK && changed > 0;
    return st;
}

#define SUB_COLUMNS                                                                                              \
    "id, spec, state, reason, created, cursor, failing_since, delivered, failed_attempts, skipped,"              \
    " (SELECT count(*) FROM sub_dead WHERE sub = subscriptions.id),"                                             \
    " (SELECT count(*) FROM sub_pending WHERE sub = subscriptions.id), last_success, last_error, lease_owner,"   \
    " lease_until, "
/* a read-only store of schema 2 or older has no replays */
#define SUB_REPLAYS "(SELECT count(*) FROM sub_replays WHERE sub = subscriptions.id)"

static lv_status sub_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    void **c = ctx;
    lv_sub_fn fn = (lv_sub_fn)(uintptr_t)c[0];
    lv_sub_row row = {
        .id = pg_get_int(r, i, 0), .spec = pg_get_str(r, i, 1), .state = (lv_sub_state)pg_get_int(r, i, 2),
        .reason = pg_get_str(r, i, 3), .created_ms = pg_get_int(r, i, 4), .cursor = pg_get_int(r, i, 5),
        .failing_since_ms = pg_get_int(r, i, 6), .delivered = pg_get_int(r, i, 7),
        .failed_attempts = pg_get_int(r, i, 8), .skipped = pg_get_int(r, i, 9), .dead_letters = pg_get_int(r, i, 10),
        .pending = pg_get_int(r, i, 11), .last_success_ms = pg_get_int(r, i, 12), .last_error = pg_get_str(r, i, 13),
        .lease_owner = pg_get_str(r, i, 14), .lease_until_ms = pg_get_int(r, i, 15),
        .replays = pg_get_int(r, i, 16),
    };
    return fn(c[1], &row, err);
}

static lv_status pg_sub_get(lv_store *base, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    void *c[2] = { (void *)(uintptr_t)fn, ctx };
    lv_status st = pg_each((pg_store *)base, ((pg_store *)base)->schema_version >= 3
                                                 ? "SELECT " SUB_COLUMNS SUB_REPLAYS " FROM subscriptions WHERE id = $1"
                                                 : "SELECT " SUB_COLUMNS "0 FROM subscriptions WHERE id = $1",
                           &p, sub_row, c, "cannot read the subscriptions", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_list(lv_store *base, lv_sub_fn fn, void *ctx, lv_error *err)
{
    void *c[2] = { (void *)(uintptr_t)fn, ctx };
    return pg_each((pg_store *)base, ((pg_store *)base)->schema_version >= 3
                                         ? "SELECT " SUB_COLUMNS SUB_REPLAYS " FROM subscriptions ORDER BY id"
                                         : "SELECT " SUB_COLUMNS "0 FROM subscriptions ORDER BY id",
                   NULL, sub_row, c, "cannot read the subscriptions", err);
}

static lv_status pg_sub_progress(lv_store *base, int64_t id, const lv_sub_progress *pr, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_int(&p, pr->cursor);
    pg_int(&p, pr->delivered);
    pg_int(&p, pr->failed_attempts);
    pg_int(&p, pr->skipped);
    pg_int(&p, pr->failing_since_ms);
    pg_int(&p, pr->last_success_ms);
    if (pr->last_error)
        pg_cstr(&p, pr->last_error);
    else
        pg_null(&p);
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "UPDATE subscriptions SET cursor = greatest(cursor, $2), delivered = delivered + $3,"
                          " failed_attempts = failed_attempts + $4, skipped = skipped + $5,"
                          " failing_since = CASE WHEN $6::bigint < 0 THEN failing_since ELSE $6::bigint END,"
                          " last_success = CASE WHEN $7::bigint < 0 THEN last_success ELSE $7::bigint END,"
                          " last_error = coalesce($8::text, last_error) WHERE id = $1",
                          &p, NULL, "cannot record delivery", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_lease(lv_store *base, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
                       lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_cstr(&p, owner);
    pg_int(&p, now_ms);
    pg_int(&p, until_ms);
    int64_t changed = 0;
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "UPDATE subscriptions SET lease_owner = $2, lease_until = $4 WHERE id = $1 AND"
                          " (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $3)",
                          &p, &changed, "cannot take a subscription's lease", err);
    pg_params_free(&p);
    *held = st == LV_OK && changed == 1;
    return st;
}

static lv_status pg_sub_release(lv_store *base, int64_t id, const char *owner, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_cstr(&p, owner);
    lv_status st = pg_cmd((pg_store *)base, -1, "UPDATE subscriptions SET lease_owner = NULL, lease_until = 0"
                          " WHERE id = $1 AND lease_owner = $2", &p, NULL, "cannot give back a subscription's lease", err);
    pg_params_free(&p);
    return st;
}

/* ---- events in arrival order ---- */

lv_status pg_horizon(pg_store *s, int64_t *horizon, lv_error *err)
{
    PGresult *r;
    /* the end first, then the locks (see the top of this file) */
    lv_status st = pg_run(s, -1, "SELECT (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END"
                                 " FROM events_id_seq)", NULL, &r, "cannot read the stored events", err);
    int64_t end = st == LV_OK ? pg_get_int(r, 0, 0) : 0;
    lv_pq.PQclear(r);
    if (st != LV_OK)
        return st;
    st = pg_run(s, -1, "SELECT min(((classid::bigint - " PG_HORIZON_CLASS_S ") << 31) | objid::bigint) FROM pg_locks"
                       " WHERE locktype = 'advisory' AND objsubid = 2 AND classid >= " PG_HORIZON_CLASS_S
                       " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                       " AND pid <> pg_backend_pid()", NULL, &r, "cannot read the stored events", err);
    if (st == LV_OK && !pg_isnull(r, 0, 0) && pg_get_int(r, 0, 0) < end)
        end = pg_get_int(r, 0, 0);
    lv_pq.PQclear(r);
    *horizon = end;
    return st;
}

/* One row of PG_REF_SQL's columns as an lv_event_ref, handed to the pg_ref_ctx's function. */
lv_status pg_ref_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    pg_ref_ctx *c = ctx;
    unsigned char hash[LV_HASH_BYTES];
    lv_event_ref ref = {
        .id = pg_get_int(r, i, 0), .name = pg_get_str(r, i, 1),
        .format = pg_get_int(r, i, 2) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS, .context_id = pg_get_opt(r, i, 3),
        .time_ms = pg_get_int(r, i, 4), .received_ms = pg_get_int(r, i, 5), .hash = hash,
    };
    if (!pg_get_bytes(r, i, 6, &s->bytes) || s->bytes.len != LV_HASH_BYTES)
        return lv_fail(err, LV_EDAMAGED, "event %lld in %s has no valid key: the store is damaged", (long long)ref.id,
                       s->base.location);
    memcpy(hash, s->bytes.data, LV_HASH_BYTES);
    unsigned char webhook_hash[LV_HASH_BYTES];
    if (!pg_isnull(r, i, 7) && pg_get_bytes(r, i, 7, &s->bytes) && s->bytes.len == LV_HASH_BYTES) {
        memcpy(webhook_hash, s->bytes.data, LV_HASH_BYTES);
        ref.webhook_hash = webhook_hash;
    }
    if (c->with_docs) {
        lv_buf_reset(&s->raw);
        lv_status st = pg_document(s, r, i, 8, &s->raw, err);
        if (st != LV_OK)
            return st;
        ref.doc = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
    }
    if (!ref.name.p)
        ref.name = (lv_str){ "", 0 };
    return c->fn(c->ctx, &ref, err);
}

static lv_status pg_events_from(lv_store *base, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx,
                         lv_error *err)
{
    pg_store *s = (pg_store *)base;
    int64_t horizon;
    lv_status st = pg_horizon(s, &horizon, err);
    if (st != LV_OK || horizon <= from)
        return st;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, from);
    pg_int(&p, horizon);
    pg_int(&p, limit);
    pg_ref_ctx c = { fn, ctx, with_docs };
    st = pg_each(s, with_docs ? PG_REF_SQL(s, "SELECT ", ", d.raw, d.raw_len, d.dict FROM events e"
                                           " JOIN names ON names.id = e.name JOIN events d ON d.id = coalesce(e.doc, e.id)"
                                           " WHERE e.id >= $1 AND e.id < $2 ORDER BY e.id LIMIT $3")
                              : PG_REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                           " WHERE e.id >= $1 AND e.id < $2 ORDER BY e.id LIMIT $3"),
                 &p, pg_ref_row, &c, "cannot read the stored events", err);
    pg_params_free(&p);
    return st;
}

lv_status pg_event_ref(lv_store *base, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_ref_ctx c = { fn, ctx, true };
    pg_store *s = (pg_store *)base;
    /* prepared (erasure reads thousands), and independent of the deferred rows (defer.c): a replay's
     * writes and the conversations it holds outlive the reads between them */
    lv_status st = s->schema_version >= 4
                       ? pg_each_stmt(s, PG_EVENT_REF, &p, pg_ref_row, &c, "cannot read the stored events", err)
                       : pg_each(s, PG_REF_SQL(s, "SELECT ", ", d.raw, d.raw_len, d.dict FROM events e"
                                               " JOIN names ON names.id = e.name JOIN events d ON d.id ="
                                               " coalesce(e.doc, e.id) WHERE e.id = $1"),
                                 &p, pg_ref_row, &c, "cannot read the stored events", err);
    pg_params_free(&p);
    return st;
}

/* The one integer of a one-row query with $1 (fallback when NULL or no row). */
static lv_status scalar_with(pg_store *s, const char *sql, int64_t arg, int64_t fallback, int64_t *out, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, arg);
    PGresult *r;
    lv_status st = pg_run(s, -1, sql, &p, &r, "cannot read the store", err);
    pg_params_free(&p);
    *out = fallback;
    if (st == LV_OK && lv_pq.PQntuples(r) > 0 && !pg_isnull(r, 0, 0))
        *out = pg_get_int(r, 0, 0);
    lv_pq.PQclear(r);
    return st;
}

static lv_status pg_events_end(lv_store *base, int64_t *next, lv_error *err)
{
    return scalar_with((pg_store *)base, "SELECT max(id) + 1 FROM events WHERE $1::bigint = $1::bigint", 0, 1, next,
                       err);
}

static lv_status pg_events_count_from(lv_store *base, int64_t from, int64_t *count, int64_t *first_received_ms,
                               lv_error *err)
{
    pg_store *s = (pg_store *)base;
    lv_status st = scalar_with(s, "SELECT count(*) FROM events WHERE id >= $1", from, 0, count, err);
    if (st == LV_OK)
        st = scalar_with(s, "SELECT received FROM events WHERE id >= $1 ORDER BY id LIMIT 1", from, 0, first_received_ms,
                         err);
    return st;
}

static lv_status pg_event_received_since(lv_store *base, int64_t received_ms, int64_t *row, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    int64_t end;
    lv_status st = pg_events_end(base, &end, err);
    if (st != LV_OK)
        return st;
    return scalar_with(s, "SELECT min(id) FROM events WHERE received >= $1", received_ms, end, row, err);
}

/* ---- pending, dead letters, attempts ---- */

static lv_status pg_sub_pending_put(lv_store *base, const lv_sub_pending_row *row, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, row->sub);
    pg_int(&p, row->event);
    pg_int(&p, row->attempts);
    pg_int(&p, row->first_attempt_ms);
    pg_int(&p, row->next_ms);
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "INSERT INTO sub_pending AS p (sub, event, attempts, first_attempt, next)"
                          " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sub, event) DO UPDATE SET"
                          " attempts = excluded.attempts, first_attempt = excluded.first_attempt, next = excluded.next",
                          &p, NULL, "cannot schedule a retry", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_pending_delete(lv_store *base, int64_t sub, int64_t event, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, event);
    lv_status st = pg_cmd((pg_store *)base, -1, "DELETE FROM sub_pending WHERE sub = $1 AND event = $2", &p, NULL,
                          "cannot record delivery", err);
    pg_params_free(&p);
    return st;
}

static lv_status pending_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    void **c = ctx;
    lv_sub_pending_fn fn = (lv_sub_pending_fn)(uintptr_t)c[0];
    lv_sub_pending_row row = { .sub = *(int64_t *)c[2], .event = pg_get_int(r, i, 0), .attempts = pg_get_int(r, i, 1),
                               .first_attempt_ms = pg_get_int(r, i, 2), .next_ms = pg_get_int(r, i, 3) };
    return fn(c[1], &row, err);
}

static lv_status pg_sub_pending_due(lv_store *base, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn,
                             void *ctx, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, now_ms);
    pg_int(&p, limit);
    void *c[3] = { (void *)(uintptr_t)fn, ctx, &sub };
    lv_status st = pg_each((pg_store *)base, "SELECT event, attempts, first_attempt, next FROM sub_pending"
                           " WHERE sub = $1 AND next <= $2 ORDER BY next, event LIMIT $3", &p, pending_row, c,
                           "cannot read the retries", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_pending_summary(lv_store *base, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms,
                                 lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    PGresult *r;
    lv_status st = pg_run((pg_store *)base, -1, "SELECT count(*), coalesce(min(p.next), 0), coalesce(min(e.received), 0)"
                          " FROM sub_pending p LEFT JOIN events e ON e.id = p.event WHERE p.sub = $1", &p, &r,
                          "cannot read the retries", err);
    pg_params_free(&p);
    *count = *next_ms = *oldest_ms = 0;
    if (st == LV_OK && lv_pq.PQntuples(r) == 1) {
        *count = pg_get_int(r, 0, 0);
        *next_ms = pg_get_int(r, 0, 1);
        *oldest_ms = pg_get_int(r, 0, 2);
    }
    lv_pq.PQclear(r);
    return st;
}

/* In the order of the dedup key (time, hash), so that a chunk starts where the last one ended and stops
 * after `limit` rows (as the SQLite engine walks it: the same order, bytes compared as bytes). */
static lv_status pg_events_between(lv_store *base, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
                                   const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx,
                                   lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, since_ms);
    pg_int(&p, until_ms);
    pg_int(&p, limit);
    if (after_hash) {
        pg_int(&p, after_time_ms);
        pg_bytes(&p, after_hash, LV_HASH_BYTES);
    }
    pg_ref_ctx c = { fn, ctx, false };
    pg_store *s = (pg_store *)base;
    lv_status st = pg_stream(s, after_hash
                             ? PG_REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                          " WHERE e.time >= $1 AND e.time < $2 AND (e.time, e.hash) > ($4, $5)"
                                          " ORDER BY e.time, e.hash LIMIT $3")
                             : PG_REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                          " WHERE e.time >= $1 AND e.time < $2 ORDER BY e.time, e.hash LIMIT $3"),
                             &p, pg_ref_row, &c, "cannot read the stored events", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_replay_add(lv_store *base, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, since_ms);
    pg_int(&p, until_ms);
    lv_status st = pg_cmd((pg_store *)base, -1, "INSERT INTO sub_replays (sub, since, until, at_time, at_hash)"
                          " VALUES ($1, $2, $3, $2, NULL)", &p, NULL, "cannot queue the replay", err);
    pg_params_free(&p);
    return st;
}

typedef struct replay_ctx {
    lv_sub_replay_row *row;
    bool *found;
    int64_t sub;
} replay_ctx;

static lv_status replay_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    replay_ctx *c = ctx;
    bool started = !lv_pq.PQgetisnull(r, i, 4);
    if (started && (!pg_get_bytes(r, i, 4, &s->bytes) || s->bytes.len != LV_HASH_BYTES))
        return lv_fail(err, LV_EDAMAGED, "a replay of subscription %lld in %s has no valid position: the store is "
                       "damaged", (long long)c->sub, s->base.location);
    *c->row = (lv_sub_replay_row){ .id = pg_get_int(r, i, 0), .sub = c->sub, .since_ms = pg_get_int(r, i, 1),
                                   .until_ms = pg_get_int(r, i, 2), .started = started,
                                   .at_time_ms = pg_get_int(r, i, 3) };
    if (started)
        memcpy(c->row->at_hash, s->bytes.data, LV_HASH_BYTES);
    *c->found = true;
    return LV_OK;
}

static lv_status pg_sub_replay_next(lv_store *base, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *found = false;
    if (s->schema_version < 3)
        return LV_OK; /* a read-only store of an older schema has no replays */
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    replay_ctx c = { row, found, sub };
    lv_status st = pg_each(s, "SELECT id, since, until, at_time, at_hash FROM sub_replays WHERE sub = $1"
                              " ORDER BY id LIMIT 1", &p, replay_row, &c, "cannot read the replays", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_replay_advance(lv_store *base, int64_t id, int64_t at_time_ms, const unsigned char *at_hash,
                                       bool done, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    if (!done) {
        pg_int(&p, at_time_ms);
        pg_bytes(&p, at_hash, LV_HASH_BYTES);
    }
    lv_status st = pg_cmd((pg_store *)base, -1, done ? "DELETE FROM sub_replays WHERE id = $1"
                                                     : "UPDATE sub_replays SET at_time = $2, at_hash = $3 WHERE id = $1",
                          &p, NULL, "cannot record how far the replay went", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_pending_add(lv_store *base, int64_t sub, int64_t event, int64_t next_ms, bool *added, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, event);
    pg_int(&p, next_ms);
    int64_t changed = 0;
    lv_status st = pg_cmd((pg_store *)base, -1, "INSERT INTO sub_pending (sub, event, attempts, first_attempt, next)"
                          " VALUES ($1, $2, 0, 0, $3) ON CONFLICT DO NOTHING", &p, &changed, "cannot queue the replay",
                          err);
    pg_params_free(&p);
    *added = st == LV_OK && changed == 1;
    return st;
}

static lv_status pg_sub_dead_put(lv_store *base, const lv_sub_dead_row *row, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, row->sub);
    pg_int(&p, row->event);
    pg_int(&p, row->attempts);
    pg_int(&p, row->status);
    pg_str(&p, row->answer.p ? row->answer : (lv_str){ "", 0 });
    pg_str(&p, row->error.p ? row->error : (lv_str){ "", 0 });
    pg_int(&p, row->first_attempt_ms);
    pg_int(&p, row->last_attempt_ms);
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "INSERT INTO sub_dead (sub, event, attempts, status, answer, error, first_attempt,"
                          " last_attempt) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sub, event) DO UPDATE"
                          " SET attempts = excluded.attempts, status = excluded.status, answer = excluded.answer,"
                          " error = excluded.error, first_attempt = excluded.first_attempt,"
                          " last_attempt = excluded.last_attempt", &p, NULL, "cannot keep a delivery dead letter", err);
    pg_params_free(&p);
    return st;
}

static lv_status dead_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    void **c = ctx;
    lv_sub_dead_fn fn = (lv_sub_dead_fn)(uintptr_t)c[0];
    lv_sub_dead_row row = {
        .sub = *(int64_t *)c[2], .event = pg_get_int(r, i, 0), .attempts = pg_get_int(r, i, 1),
        .status = pg_get_int(r, i, 2), .answer = pg_get_str(r, i, 3), .error = pg_get_str(r, i, 4),
        .first_attempt_ms = pg_get_int(r, i, 5), .last_attempt_ms = pg_get_int(r, i, 6),
        .event_name = pg_get_str(r, i, 7), .event_time_ms = pg_get_int(r, i, 8),
    };
    return fn(c[1], &row, err);
}

static lv_status pg_sub_dead_list(lv_store *base, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, limit);
    void *c[3] = { (void *)(uintptr_t)fn, ctx, &sub };
    lv_status st = pg_each((pg_store *)base, "SELECT d.event, d.attempts, d.status, d.answer, d.error, d.first_attempt,"
                           " d.last_attempt, names.name, e.time FROM sub_dead d"
                           " LEFT JOIN events e ON e.id = d.event LEFT JOIN names ON names.id = e.name"
                           " WHERE d.sub = $1 ORDER BY d.last_attempt DESC, d.event DESC LIMIT $2", &p, dead_row, c,
                           "cannot read the delivery dead letters", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_sub_dead_count(lv_store *base, int64_t sub, int64_t *count, lv_error *err)
{
    return scalar_with((pg_store *)base, "SELECT count(*) FROM sub_dead WHERE sub = $1", sub, 0, count, err);
}

static lv_status pg_sub_dead_requeue(lv_store *base, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, now_ms);
    int64_t changed = 0;
    lv_status st = pg_cmd((pg_store *)base, -1,
                          "WITH d AS (DELETE FROM sub_dead WHERE sub = $1 RETURNING sub, event)"
                          " INSERT INTO sub_pending AS p (sub, event, attempts, first_attempt, next)"
                          " SELECT sub, event, 0, 0, $2 FROM d ON CONFLICT (sub, event) DO UPDATE SET attempts = 0,"
                          " first_attempt = 0, next = excluded.next", &p, &changed, "cannot queue the dead letters", err);
    pg_params_free(&p);
    *queued = st == LV_OK ? changed : 0;
    return st;
}

static lv_status pg_sub_attempt_add(lv_store *base, const lv_sub_attempt_row *row, unsigned keep, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, row->sub);
    pg_int(&p, row->event);
    pg_int(&p, row->at_ms);
    pg_int(&p, row->status);
    pg_int(&p, row->latency_ms);
    pg_str(&p, row->error.p ? row->error : (lv_str){ "", 0 });
    PGresult *r;
    lv_status st = pg_run(s, -1, "INSERT INTO sub_attempts (sub, event, at, status, latency, error)"
                                 " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", &p, &r, "cannot record an attempt", err);
    pg_params_free(&p);
    int64_t id = st == LV_OK ? pg_get_int(r, 0, 0) : 0;
    lv_pq.PQclear(r);
    /* trimmed now and then, as the SQLite engine does: the newest `keep` stay, give or take a few dozen */
    if (st != LV_OK || !ONE_OF_32(id))
        return st;
    pg_params_init(&p);
    pg_int(&p, row->sub);
    pg_int(&p, keep);
    st = pg_cmd(s, -1, "DELETE FROM sub_attempts WHERE sub = $1 AND id <= (SELECT id FROM sub_attempts"
                       " WHERE sub = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)", &p, NULL, "cannot record an attempt", err);
    pg_params_free(&p);
    return st;
}

static lv_status attempt_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    void **c = ctx;
    lv_sub_attempt_fn fn = (lv_sub_attempt_fn)(uintptr_t)c[0];
    lv_sub_attempt_row row = { .sub = *(int64_t *)c[2], .event = pg_get_int(r, i, 0), .at_ms = pg_get_int(r, i, 1),
                               .status = pg_get_int(r, i, 2), .latency_ms = pg_get_int(r, i, 3),
                               .error = pg_get_str(r, i, 4), .event_name = pg_get_str(r, i, 5) };
    return fn(c[1], &row, err);
}

static lv_status pg_sub_attempts(lv_store *base, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, sub);
    pg_int(&p, limit);
    void *c[3] = { (void *)(uintptr_t)fn, ctx, &sub };
    lv_status st = pg_each((pg_store *)base, "SELECT a.event, a.at, a.status, a.latency, a.error, names.name"
                           " FROM sub_attempts a LEFT JOIN events e ON e.id = a.event"
                           " LEFT JOIN names ON names.id = e.name WHERE a.sub = $1 ORDER BY a.id DESC LIMIT $2",
                           &p, attempt_row, c, "cannot read the attempts", err);
    pg_params_free(&p);
    return st;
}

void pg_fill_subs(lv_engine *e)
{
    e->sub_insert = pg_sub_insert;
    e->sub_set_spec = pg_sub_set_spec;
    e->sub_set_state = pg_sub_set_state;
    e->sub_delete = pg_sub_delete;
    e->sub_get = pg_sub_get;
    e->sub_list = pg_sub_list;
    e->sub_progress = pg_sub_progress;
    e->sub_lease = pg_sub_lease;
    e->sub_release = pg_sub_release;
    e->events_from = pg_events_from;
    e->event_ref = pg_event_ref;
    e->events_end = pg_events_end;
    e->events_count_from = pg_events_count_from;
    e->event_received_since = pg_event_received_since;
    e->sub_pending_put = pg_sub_pending_put;
    e->sub_pending_delete = pg_sub_pending_delete;
    e->sub_pending_due = pg_sub_pending_due;
    e->sub_pending_summary = pg_sub_pending_summary;
    e->events_between = pg_events_between;
    e->sub_replay_add = pg_sub_replay_add;
    e->sub_replay_next = pg_sub_replay_next;
    e->sub_replay_advance = pg_sub_replay_advance;
    e->sub_pending_add = pg_sub_pending_add;
    e->sub_dead_put = pg_sub_dead_put;
    e->sub_dead_list = pg_sub_dead_list;
    e->sub_dead_count = pg_sub_dead_count;
    e->sub_dead_requeue = pg_sub_dead_requeue;
    e->sub_attempt_add = pg_sub_attempt_add;
    e->sub_attempts = pg_sub_attempts;
}
