/* ops.c: the PostgreSQL engine's operations for levee check and rebuild (levee/engine.h): read snapshots
 * (a REPEATABLE READ transaction), the size of each table, every event and dead letter read back with its
 * document, emptying the derived state, and the derived tables as text. The engine's own check is
 * amcheck's bt_index_check on every index of levee's tables when the amcheck extension is installed in
 * the database (else it checks nothing of its own: docs/operations.md). levee backup refuses: PostgreSQL's
 * own tools back a store up (pg_dump, pg_basebackup). The rules are keep/check.c's. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

static lv_status pg_snapshot(lv_store *base, bool on, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!on) {
        if (!s->in_txn)
            return LV_OK;
        s->in_txn = false;
        return pg_exec(s, "COMMIT", "cannot end a read of the store", err);
    }
    if (s->in_txn)
        return lv_fail(err, LV_EINVAL, "a transaction on %s is already open", base->location);
    lv_status st = pg_exec(s, "BEGIN ISOLATION LEVEL REPEATABLE READ", "cannot begin a read of the store", err);
    if (st == LV_OK)
        s->in_txn = true;
    return st;
}

static lv_status pg_backup(lv_store *base, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                           lv_error *err)
{
    (void)to;
    (void)progress;
    (void)ctx;
    (void)at;
    return lv_fail(err, LV_EUNSUPPORTED, "levee backup copies SQLite stores; %s is on PostgreSQL, whose own tools back "
                   "it up while levee runs: pg_dump (one database or schema) or pg_basebackup with WAL archiving (the "
                   "whole server), as docs/operations.md says", base->location);
}

static lv_status count(pg_store *s, const char *sql, int64_t *out, lv_error *err)
{
    PGresult *r;
    lv_status st = pg_run(s, -1, sql, NULL, &r, "cannot count the store's rows", err);
    *out = st == LV_OK && lv_pq.PQntuples(r) == 1 ? pg_get_int(r, 0, 0) : 0;
    lv_pq.PQclear(r);
    return st;
}

static lv_status pg_size(lv_store *base, lv_store_size *out, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    lv_status st;
    if ((st = count(s, "SELECT count(*) FROM events", &out->events, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM events WHERE doc IS NULL", &out->documents, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM dead_letters", &out->dead_letters, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM topics", &out->topics, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM entries", &out->entries, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM conversations", &out->conversations, err)) != LV_OK ||
        (st = count(s, "SELECT count(*) FROM messages", &out->messages, err)) != LV_OK)
        return st;
    return count(s, "SELECT count(*) FROM subscriptions", &out->subscriptions, err);
}

typedef struct problem_ctx {
    lv_problem_fn fn;
    void *ctx;
} problem_ctx;

/* Each btree index of levee's tables checked by amcheck, in a savepoint of its own (a failed check would
 * abort the snapshot's transaction). */
static lv_status pg_integrity(lv_store *base, lv_problem_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT n.nspname FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
                                 " WHERE x.extname = 'amcheck'", NULL, &r, "cannot check the store", err);
    if (st != LV_OK || lv_pq.PQntuples(r) == 0) {
        lv_pq.PQclear(r);
        return st; /* no amcheck: PostgreSQL checks its pages as it reads them (and with data checksums, if on) */
    }
    char ext[128];
    snprintf(ext, sizeof ext, "%s", lv_pq.PQgetvalue(r, 0, 0));
    lv_pq.PQclear(r);
    st = pg_run(s, -1, "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                       " JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = current_schema() AND c.relkind = 'i'"
                       " AND a.amname = 'btree' ORDER BY c.relname COLLATE \"C\"", NULL, &r,
                "cannot list the store's indexes", err);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(r); i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SAVEPOINT levee_check; SELECT \"%s\".bt_index_check(%s)", ext,
                 lv_pq.PQgetvalue(r, i, 0));
        lv_error cerr;
        if (pg_exec(s, sql, "amcheck", &cerr) == LV_OK) {
            st = pg_exec(s, "RELEASE SAVEPOINT levee_check", "cannot check the store", err);
            continue;
        }
        if (cerr.status == LV_EIO && (!s->conn || lv_pq.PQstatus(s->conn) != CONNECTION_OK)) {
            *err = cerr;
            st = cerr.status;
            break;
        }
        char msg[LV_ERROR_MAX + 128];
        snprintf(msg, sizeof msg, "amcheck's bt_index_check of the index %s: %s", lv_pq.PQgetvalue(r, i, 1), cerr.msg);
        fn(ctx, msg);
        st = pg_exec(s, "ROLLBACK TO SAVEPOINT levee_check", "cannot check the store", err);
    }
    lv_pq.PQclear(r);
    return st;
}

typedef struct stored_reader {
    lv_stored_event_fn fn;
    lv_stored_dead_fn dead_fn;
    void *ctx;
} stored_reader;

static lv_status stored_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    stored_reader *rd = ctx;
    lv_stored_event ev = {
        .id = pg_get_int(r, row, 0),
        .doc = pg_get_int(r, row, 1),
        .name = pg_get_str(r, row, 3),
        .format = pg_get_int(r, row, 4) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
        .time_ms = pg_get_int(r, row, 5),
        .received_ms = pg_get_int(r, row, 9),
    };
    if (pg_get_bytes(r, row, 2, &s->hash)) {
        ev.hash = (const unsigned char *)s->hash.data;
        ev.hash_len = s->hash.len;
    }
    unsigned char webhook_hash[LV_HASH_BYTES];
    if (pg_get_bytes(r, row, 10, &s->bytes) && s->bytes.len == LV_HASH_BYTES) {
        memcpy(webhook_hash, s->bytes.data, LV_HASH_BYTES);
        ev.webhook_hash = webhook_hash;
    }
    lv_error derr;
    if (ev.doc == 0) {
        if (pg_isnull(r, row, 6))
            ev.damage = "its row keeps no document bytes";
        else if (pg_document(s, r, row, 6, &s->raw, &derr) != LV_OK)
            ev.damage = derr.msg;
        else
            ev.bytes = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
    }
    return rd->fn(rd->ctx, &ev, err);
}

static lv_status pg_stored_events(lv_store *base, lv_stored_event_fn fn, void *ctx, lv_error *err)
{
    stored_reader rd = { .fn = fn, .ctx = ctx };
    pg_store *s = (pg_store *)base;
    return pg_stream(s, s->schema_version >= 4
                            ? "SELECT e.id, coalesce(e.doc, 0), e.hash, names.name, e.format, e.time, e.raw, e.raw_len,"
                              " e.dict, e.received, e.webhook_hash FROM events e LEFT JOIN names ON names.id = e.name"
                              " ORDER BY e.id"
                            : "SELECT e.id, coalesce(e.doc, 0), e.hash, names.name, e.format, e.time, e.raw, e.raw_len,"
                              " e.dict, e.received, NULL FROM events e LEFT JOIN names ON names.id = e.name ORDER BY e.id",
                     NULL, stored_row, &rd, "cannot read the stored events", err);
}

static lv_status pg_set_webhook_hash(lv_store *base, int64_t id, int64_t time_ms, const unsigned char *webhook_hash,
                                     lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, id);
    pg_int(&p, time_ms);
    pg_bytes(&p, webhook_hash, LV_HASH_BYTES);
    lv_status st = pg_cmd(s, -1, "UPDATE events SET webhook_hash = $3 WHERE id = $1 AND time = $2", &p, NULL,
                          "cannot keep the key of an event's webhook-id", err);
    pg_params_free(&p);
    return st;
}

static lv_status dead_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    stored_reader *rd = ctx;
    lv_stored_dead d = {
        .id = pg_get_int(r, row, 0),
        .kept = !pg_isnull(r, row, 2),
        .raw_len = pg_get_int(r, row, 3),
        .received_ms = pg_get_int(r, row, 5),
        .source = pg_get_str(r, row, 6),
        .line = (long)pg_get_int(r, row, 7),
        .errors = pg_get_str(r, row, 8),
    };
    if (pg_get_bytes(r, row, 1, &s->hash)) {
        d.hash = (const unsigned char *)s->hash.data;
        d.hash_len = s->hash.len;
    }
    lv_error derr;
    if (d.kept) {
        if (pg_document(s, r, row, 2, &s->raw, &derr) != LV_OK)
            d.damage = derr.msg;
        else
            d.bytes = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
    }
    return rd->dead_fn(rd->ctx, &d, err);
}

static lv_status pg_stored_dead_letters(lv_store *base, lv_stored_dead_fn fn, void *ctx, lv_error *err)
{
    stored_reader rd = { .dead_fn = fn, .ctx = ctx };
    return pg_stream((pg_store *)base, "SELECT id, hash, raw, raw_len, dict, received, source, line, errors"
                     " FROM dead_letters ORDER BY id", NULL,
                     dead_row, &rd, "cannot read the dead letters", err);
}

static lv_status pg_clear_derived(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "emptying the derived state of %s outside a transaction", base->location);
    /* the whole derived state is rewritten: other writers wait for the end of this transaction (they would
     * on the rows it deletes anyway), and it locks no topic or conversation by itself (pg.h) */
    lv_status st = pg_exec(s, "LOCK TABLE topics, conversations IN EXCLUSIVE MODE;"
                              " DELETE FROM topics; DELETE FROM topic_versions; DELETE FROM entries;"
                              " DELETE FROM conversations; DELETE FROM messages; DELETE FROM forwards;"
                              " DELETE FROM activity; DELETE FROM participants; DELETE FROM counts; DELETE FROM drift;"
                              " DELETE FROM totals WHERE key <> 'duplicates'; DELETE FROM search_docs;"
                              " DELETE FROM event_about", "cannot empty the derived state", err);
    if (st == LV_OK)
        s->derived_locked = true;
    return st;
}

/* Each derived table as (key, value) text ordered by key in byte order; names as themselves, not as their
 * ids in the names table (which a store numbers in its own order). */
#define Q(c) "quote_nullable(" c ")"
static const char *const derived_sql[LV_DERIVED_TABLES] = {
    [LV_DERIVED_TOPICS] = "SELECT " Q("id") " AS k, concat_ws(','," Q("context_id") "," Q("context_type") "," Q("title")
                          "," Q("body") "," Q("is_announcement") "," Q("assignment_id") "," Q("workflow_state") ","
                          Q("lock_at") "," Q("updated_at") "," Q("version_time") "," Q("version_hash") ","
                          Q("version_event") "," Q("created_at") "," Q("created_by") "," Q("search_key") ") FROM topics",
    [LV_DERIVED_TOPIC_VERSIONS] = "SELECT " Q("topic") " || ',' || " Q("event") " AS k, concat_ws(','," Q("updated_at")
                                  "," Q("time") "," Q("hash") ") FROM topic_versions",
    [LV_DERIVED_ENTRIES] = "SELECT " Q("id") " AS k, concat_ws(','," Q("topic") "," Q("parent") "," Q("user_id") ","
                           Q("role") "," Q("created_at") "," Q("text") "," Q("assignment_id") "," Q("submission_id") ","
                           Q("event") ") FROM entries",
    [LV_DERIVED_CONVERSATIONS] = "SELECT " Q("id") " AS k, concat_ws(','," Q("created_at") "," Q("created_by") ","
                                 Q("updated_at") ") FROM conversations",
    [LV_DERIVED_MESSAGES] = "SELECT " Q("id") " AS k, concat_ws(','," Q("conversation") "," Q("author") ","
                            Q("created_at") "," Q("time") "," Q("event") ") FROM messages",
    [LV_DERIVED_FORWARDS] = "SELECT " Q("conversation") " || ',' || " Q("event") " AS k, concat_ws(','," Q("time") ","
                            Q("user_id") "," Q("updated_at") ") FROM forwards",
    [LV_DERIVED_ACTIVITY] = "SELECT concat_ws(','," Q("context_id") "," Q("day") "," Q("names.name") ") AS k, "
                            Q("n") " FROM activity LEFT JOIN names ON names.id = activity.name",
    [LV_DERIVED_PARTICIPANTS] = "SELECT concat_ws(','," Q("context_id") "," Q("day") "," Q("user_id") "," Q("role")
                                ") AS k, " Q("n") " FROM participants",
    [LV_DERIVED_COUNTS] = "SELECT " Q("names.name") " || ',' || " Q("format") " AS k, " Q("n")
                          " FROM counts LEFT JOIN names ON names.id = counts.name",
    [LV_DERIVED_DRIFT] = "SELECT concat_ws(','," Q("names.name") "," Q("field") "," Q("format") ") AS k,"
                         " concat_ws(','," Q("n") "," Q("first_time") "," Q("last_time") ")"
                         " FROM drift LEFT JOIN names ON names.id = drift.name",
    [LV_DERIVED_TOTALS] = "SELECT " Q("key") " AS k, " Q("value") " FROM totals WHERE key <> 'duplicates'",
    [LV_DERIVED_SEARCH_DOCS] = "SELECT " Q("key") " AS k, " Q("entry_id") " || ',' || " Q("topic_id") " || ',' || "
                               Q("words::text") " FROM search_docs",
    /* the index itself, word by word: in how many rows each is, and how often */
    [LV_DERIVED_SEARCH_TERMS] = "SELECT " Q("word") " AS k, ndoc || ',' || nentry"
                                " FROM ts_stat('SELECT words FROM search_docs')",
    [LV_DERIVED_ABOUT] = "SELECT concat_ws(','," Q("subject") "," Q("id") "," Q("event") ") AS k, '' FROM event_about",
};
#undef Q

typedef struct derived_reader {
    lv_derived_fn fn;
    void *ctx;
} derived_reader;

static lv_status derived_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    (void)s;
    derived_reader *rd = ctx;
    lv_derived_row d = { pg_get_str(r, row, 0), pg_get_str(r, row, 1) };
    if (!d.key.p)
        d.key = (lv_str){ "", 0 };
    if (!d.value.p)
        d.value = (lv_str){ "", 0 };
    return rd->fn(rd->ctx, &d, err);
}

static lv_status pg_derived_rows(lv_store *base, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err)
{
    if ((unsigned)table >= LV_DERIVED_TABLES)
        return lv_fail(err, LV_EINVAL, "there is no derived table %d", (int)table);
    lv_buf sql;
    lv_buf_init(&sql);
    lv_buf_printf(&sql, "SELECT k, v FROM (%s) d (k, v) ORDER BY k COLLATE \"C\"", derived_sql[table]);
    derived_reader rd = { fn, ctx };
    lv_status st = pg_stream((pg_store *)base, sql.data, NULL, derived_row, &rd, "cannot read the derived state", err);
    lv_buf_free(&sql);
    return st;
}

void pg_fill_ops(lv_engine *e)
{
    e->snapshot = pg_snapshot;
    e->backup = pg_backup;
    e->integrity = pg_integrity;
    e->size = pg_size;
    e->stored_events = pg_stored_events;
    e->set_webhook_hash = pg_set_webhook_hash;
    e->stored_dead_letters = pg_stored_dead_letters;
    e->clear_derived = pg_clear_derived;
    e->derived_rows = pg_derived_rows;
}
