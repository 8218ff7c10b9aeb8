/* erase.c: the SQLite engine's operations for erasing (levee prune, levee forget): which events are
 * about what, deleting event rows (moving a shared document's bytes to a row that stays), one
 * thing's derived rows, figures that count nothing, dead letters, the forgotten people, receipts,
 * and giving the freed pages back to the file system. What to erase and what to replay afterwards is
 * keep/erase.c's. */
#include "sqlite.h"

#include <stdio.h>
#include <string.h>

/* One statement with up to three integer parameters, run to its end. */
static lv_status run3(sq_store *s, const char *sql, int64_t a, int64_t b, int64_t c, int n_args, const char *what,
                      lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    if (n_args > 0)
        sqlite3_bind_int64(st, 1, a);
    if (n_args > 1)
        sqlite3_bind_int64(st, 2, b);
    if (n_args > 2)
        sqlite3_bind_int64(st, 3, c);
    rc = sq_exec_step(s, st, what, err);
    sqlite3_finalize(st);
    return rc;
}

/* The rows of a one-column integer query with ?1 (and ?2) bound, to fn. */
static lv_status ids_of(sq_store *s, const char *sql, int64_t a, int64_t b, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) > 1)
        sqlite3_bind_int64(st, 2, b);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the store", err)) == LV_OK && row) {
        int64_t v = sqlite3_column_int64(st, 0);
        if ((rc = fn(ctx, &v, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

static lv_status scalar(sq_store *s, const char *sql, int64_t a, int64_t *out, bool *found, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, a);
    bool row = false;
    rc = sq_step(s, st, &row, "cannot read the store", err);
    *found = rc == LV_OK && row && sqlite3_column_type(st, 0) != SQLITE_NULL;
    *out = *found ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_add_about(lv_store *base, lv_subject subject, uint64_t id, int64_t event, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_ABOUT_INSERT];
    sqlite3_bind_int64(st, 1, (int64_t)subject);
    sqlite3_bind_int64(st, 2, (int64_t)id);
    sqlite3_bind_int64(st, 3, event);
    return sq_exec_step(s, st, "cannot record what an event is about", err);
}

lv_status sq_about_events(lv_store *base, lv_subject subject, uint64_t id, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    return ids_of((sq_store *)base, "SELECT event FROM event_about WHERE subject = ?1 AND id = ?2 ORDER BY event",
                  (int64_t)subject, (int64_t)id, fn, ctx, err);
}

lv_status sq_topic_events(lv_store *base, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    return ids_of((sq_store *)base, "SELECT event FROM topic_versions WHERE topic = ?1 ORDER BY event", (int64_t)topic,
                  0, fn, ctx, err);
}

lv_status sq_topic_first_entry_event(lv_store *base, uint64_t topic, int64_t *event, bool *found, lv_error *err)
{
    return scalar((sq_store *)base, "SELECT min(event) FROM entries WHERE topic = ?1", (int64_t)topic, event, found,
                  err);
}

lv_status sq_events_before(lv_store *base, int64_t before_ms, unsigned limit, lv_event_ref_fn fn, void *ctx,
                           lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    /* by the (time, hash) index: the oldest events are its first entries */
    lv_status rc = sq_prepare(s, "SELECT e.id, names.name, e.format, e.context_id, e.time, e.received, e.hash"
                                 " FROM events e JOIN names ON names.id = e.name WHERE e.time < ?1"
                                 " ORDER BY e.time, e.id LIMIT ?2", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, before_ms);
    sqlite3_bind_int64(st, 2, limit);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the events to erase", err)) == LV_OK && row) {
        lv_event_ref ref = {
            .id = sqlite3_column_int64(st, 0),
            .name = { (const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1) },
            .format = sqlite3_column_int(st, 2) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
            .context_id = sqlite3_column_type(st, 3) == SQLITE_NULL
                              ? (lv_opt){ 0, false } : lv_some(sqlite3_column_int64(st, 3)),
            .time_ms = sqlite3_column_int64(st, 4),
            .received_ms = sqlite3_column_int64(st, 5),
            .hash = sqlite3_column_blob(st, 6),
        };
        if ((rc = fn(ctx, &ref, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_erase_events(lv_store *base, const int64_t *ids, size_t n, int64_t *documents, int64_t *doc_bytes,
                          lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *documents = *doc_bytes = 0;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "erasing events of %s outside a transaction", base->location);
    /* the rows to delete, in a temporary table the statements below join */
    lv_status rc = sq_exec(s, "CREATE TEMP TABLE IF NOT EXISTS levee_erase (id INTEGER PRIMARY KEY);"
                              " DELETE FROM temp.levee_erase;", err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *ins;
    if ((rc = sq_prepare(s, "INSERT OR IGNORE INTO temp.levee_erase (id) VALUES (?1)", &ins, err)) != LV_OK)
        return rc;
    for (size_t i = 0; rc == LV_OK && i < n; i++) {
        sqlite3_bind_int64(ins, 1, ids[i]);
        rc = sq_exec_step(s, ins, "cannot note an event to erase", err);
    }
    sqlite3_finalize(ins);
    if (rc != LV_OK)
        return rc;
    /* Documents kept by a row that goes: the first of their rows that stays takes the bytes, and the
     * others point to it; without one, the document goes. A document's rows follow its holder
     * (they are stored together), so they are found by walking on from it. CROSS JOIN keeps the noted
     * rows the outer loop: with no statistics on the temporary table, SQLite chose to scan every event and
     * look each up in it, a read of the whole table (a gigabyte at a million events) per transaction. */
    sqlite3_stmt *holders, *next, *gone;
    if ((rc = sq_prepare(s, "SELECT x.id, e.raw_len FROM temp.levee_erase x CROSS JOIN events e ON e.id = x.id"
                            " WHERE e.doc IS NULL", &holders, err)) != LV_OK)
        return rc;
    if ((rc = sq_prepare(s, "SELECT id, doc FROM events WHERE id > ?1 ORDER BY id", &next, err)) != LV_OK) {
        sqlite3_finalize(holders);
        return rc;
    }
    if ((rc = sq_prepare(s, "SELECT 1 FROM temp.levee_erase WHERE id = ?1", &gone, err)) != LV_OK) {
        sqlite3_finalize(holders);
        sqlite3_finalize(next);
        return rc;
    }
    bool row = false;
    while ((rc = sq_step(s, holders, &row, "cannot read the documents to erase", err)) == LV_OK && row) {
        int64_t holder = sqlite3_column_int64(holders, 0), heir = 0, last = holder;
        sqlite3_bind_int64(next, 1, holder);
        bool more = false;
        while ((rc = sq_step(s, next, &more, "cannot read the documents to erase", err)) == LV_OK && more &&
               sqlite3_column_type(next, 1) != SQLITE_NULL && sqlite3_column_int64(next, 1) == holder) {
            last = sqlite3_column_int64(next, 0);
            if (heir)
                continue;
            bool going = false;
            sqlite3_bind_int64(gone, 1, last);
            rc = sq_step(s, gone, &going, "cannot read the documents to erase", err);
            sqlite3_reset(gone);
            if (rc != LV_OK)
                break;
            if (!going)
                heir = last;
        }
        sqlite3_reset(next);
        if (rc != LV_OK)
            break;
        if (!heir) {
            (*documents)++;
            *doc_bytes += sqlite3_column_int64(holders, 1);
            continue;
        }
        if ((rc = run3(s, "UPDATE events SET raw = (SELECT raw FROM events WHERE id = ?1),"
                          " raw_len = (SELECT raw_len FROM events WHERE id = ?1),"
                          " dict = (SELECT dict FROM events WHERE id = ?1), doc = NULL WHERE id = ?2",
                       holder, heir, 0, 2, "cannot move a document's bytes", err)) != LV_OK ||
            (rc = run3(s, "UPDATE events SET doc = ?2 WHERE id > ?2 AND id <= ?3 AND doc = ?1", holder, heir, last, 3,
                       "cannot move a document's bytes", err)) != LV_OK)
            break;
    }
    sqlite3_finalize(holders);
    sqlite3_finalize(next);
    sqlite3_finalize(gone);
    if (rc != LV_OK)
        return rc;
    return sq_exec(s, "DELETE FROM events WHERE id IN (SELECT id FROM temp.levee_erase);"
                      " DELETE FROM sub_pending WHERE event IN (SELECT id FROM temp.levee_erase);"
                      " DELETE FROM sub_dead WHERE event IN (SELECT id FROM temp.levee_erase);"
                      " DELETE FROM sub_attempts WHERE event IN (SELECT id FROM temp.levee_erase);"
                      " DELETE FROM temp.levee_erase;", err);
}

lv_status sq_drop_topic(lv_store *base, uint64_t id, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = run3(s, "DELETE FROM topics WHERE id = ?1", (int64_t)id, 0, 0, 1, "cannot erase a topic", err);
    if (rc == LV_OK)
        rc = run3(s, "DELETE FROM topic_versions WHERE topic = ?1", (int64_t)id, 0, 0, 1, "cannot erase a topic", err);
    return rc;
}

lv_status sq_drop_entry(lv_store *base, uint64_t id, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = run3(s, "DELETE FROM entries WHERE id = ?1", (int64_t)id, 0, 0, 1, "cannot erase an entry", err);
    if (rc == LV_OK)
        rc = run3(s, "DELETE FROM event_about WHERE subject = ?1 AND id = ?2", LV_SUBJECT_ENTRY, (int64_t)id, 0, 2,
                  "cannot erase an entry", err);
    return rc;
}

lv_status sq_drop_conversation(lv_store *base, uint64_t id, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    static const char *const sql[] = {
        "DELETE FROM conversations WHERE id = ?1", "DELETE FROM messages WHERE conversation = ?1",
        "DELETE FROM forwards WHERE conversation = ?1",
    };
    lv_status rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < sizeof sql / sizeof *sql; i++)
        rc = run3(s, sql[i], (int64_t)id, 0, 0, 1, "cannot erase a conversation", err);
    if (rc == LV_OK)
        rc = run3(s, "DELETE FROM event_about WHERE subject = ?1 AND id = ?2", LV_SUBJECT_CONVERSATION, (int64_t)id,
                  0, 2, "cannot erase a conversation", err);
    return rc;
}

lv_status sq_search_holds(lv_store *base, int64_t key, bool *held, lv_error *err)
{
    int64_t v;
    return scalar((sq_store *)base, "SELECT rowid FROM search_docs WHERE rowid = ?1", key, &v, held, err);
}

/* After each transaction of an erasure. The span is read from the ends of the (time, hash) index: the
 * `min(time) ... HAVING count(*) > 0` it replaced counted every event, 140 ms twice a transaction on a
 * million events, which made pruning half of them take over a quarter of an hour. */
lv_status sq_settle_figures(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    return sq_exec(s, "DELETE FROM activity WHERE n <= 0; DELETE FROM participants WHERE n <= 0;"
                      " DELETE FROM counts WHERE n <= 0; DELETE FROM drift WHERE n <= 0;"
                      " DELETE FROM totals WHERE key IN ('first_time', 'last_time')"
                      " OR (key = 'raw_bytes' AND value = 0);"
                      " INSERT INTO totals (key, value) SELECT 'first_time', time FROM events ORDER BY time LIMIT 1;"
                      " INSERT INTO totals (key, value) SELECT 'last_time', time FROM events ORDER BY time DESC LIMIT 1;",
                   err);
}

lv_status sq_get_entry(lv_store *base, uint64_t id, lv_entry_row *out, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    memset(out, 0, sizeof *out);
    out->id = id;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT topic, event, text FROM entries WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    rc = sq_step(s, st, found, "cannot read an entry", err);
    if (rc == LV_OK && *found) {
        out->topic = (uint64_t)sqlite3_column_int64(st, 0);
        out->event = sqlite3_column_int64(st, 1);
        lv_buf_reset(&s->entry_text);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            size_t n = (size_t)sqlite3_column_bytes(st, 2);
            lv_buf_append(&s->entry_text, sqlite3_column_text(st, 2), n);
            lv_buf_putc(&s->entry_text, '\0');
            out->text = (lv_str){ s->entry_text.data, n };
        }
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_erase_dead_before(lv_store *base, int64_t before_ms, unsigned limit, int64_t *erased, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = run3(s, "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received < ?1"
                           " ORDER BY id LIMIT ?2)", before_ms, limit, 0, 2, "cannot erase dead letters", err);
    *erased = rc == LV_OK ? sqlite3_changes64(s->db) : 0;
    return rc;
}

lv_status sq_erase_dead_letter(lv_store *base, int64_t id, lv_error *err)
{
    return run3((sq_store *)base, "DELETE FROM dead_letters WHERE id = ?1", id, 0, 0, 1, "cannot erase a dead letter",
                err);
}

lv_status sq_forget_add(lv_store *base, uint64_t user, int64_t at_ms, lv_error *err)
{
    return run3((sq_store *)base, "INSERT OR IGNORE INTO forgotten (user_id, at) VALUES (?1, ?2)", (int64_t)user, at_ms,
                0, 2, "cannot record a person forgotten", err);
}

lv_status sq_forgotten(lv_store *base, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 5)
        return LV_OK; /* a read-only store of an older levee: nobody was forgotten */
    return ids_of(s, "SELECT user_id FROM forgotten WHERE ?1 = ?1 ORDER BY user_id", 0, 0, fn, ctx, err);
}

lv_status sq_add_removed_entry(lv_store *base, uint64_t entry, uint64_t topic, lv_error *err)
{
    return run3((sq_store *)base, "INSERT OR REPLACE INTO removed_entries (id, topic) VALUES (?1, ?2)", (int64_t)entry,
                (int64_t)topic, 0, 2, "cannot record an erased entry", err);
}

lv_status sq_removed_entries(lv_store *base, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 5)
        return LV_OK;
    return ids_of(s, "SELECT id FROM removed_entries WHERE topic = ?1 ORDER BY id", (int64_t)topic, 0, fn, ctx, err);
}

lv_status sq_receipt_add(lv_store *base, const lv_receipt_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "INSERT INTO receipts (at, action, events, documents, dead_letters, limit_ms, took_ms)"
                                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, r->at_ms);
    sqlite3_bind_text(st, 2, r->action.p, (int)r->action.n, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, r->events);
    sqlite3_bind_int64(st, 4, r->documents);
    sqlite3_bind_int64(st, 5, r->dead_letters);
    if (r->limit_ms.set)
        sqlite3_bind_int64(st, 6, r->limit_ms.v);
    sqlite3_bind_int64(st, 7, r->took_ms);
    rc = sq_exec_step(s, st, "cannot keep the receipt of an erasure", err);
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_receipts(lv_store *base, lv_receipt_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 5)
        return LV_OK;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT id, at, action, events, documents, dead_letters, limit_ms, took_ms"
                                 " FROM receipts ORDER BY id", &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the receipts", err)) == LV_OK && row) {
        lv_receipt_row r = {
            .id = sqlite3_column_int64(st, 0),
            .at_ms = sqlite3_column_int64(st, 1),
            .action = { (const char *)sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2) },
            .events = sqlite3_column_int64(st, 3),
            .documents = sqlite3_column_int64(st, 4),
            .dead_letters = sqlite3_column_int64(st, 5),
            .limit_ms = sqlite3_column_type(st, 6) == SQLITE_NULL ? (lv_opt){ 0, false }
                                                                   : lv_some(sqlite3_column_int64(st, 6)),
            .took_ms = sqlite3_column_int64(st, 7),
        };
        if (!r.action.p)
            r.action = (lv_str){ "", 0 };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_set_scrub(lv_store *base, bool on, lv_error *err)
{
    return sq_exec((sq_store *)base, on ? "PRAGMA secure_delete = ON" : "PRAGMA secure_delete = OFF", err);
}

static lv_status pragma_int(sq_store *s, const char *sql, int64_t *out, lv_error *err)
{
    bool found;
    return scalar(s, sql, 0, out, &found, err);
}

lv_status sq_reclaim(lv_store *base, int64_t max_pages, lv_space *out, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    memset(out, 0, sizeof *out);
    int64_t mode = 0, before = 0;
    lv_status rc = pragma_int(s, "PRAGMA auto_vacuum", &mode, err);
    if (rc == LV_OK)
        rc = pragma_int(s, "PRAGMA page_count", &before, err);
    out->incremental = mode == 2;
    if (rc == LV_OK && out->incremental) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)", (long long)(max_pages > 0 ? max_pages : 0));
        /* each step returns a row; sq_exec runs it to its end */
        rc = sq_exec(s, sql, err);
    }
    if (rc == LV_OK)
        rc = pragma_int(s, "PRAGMA page_count", &out->pages, err);
    if (rc == LV_OK)
        rc = pragma_int(s, "PRAGMA freelist_count", &out->free_pages, err);
    if (rc == LV_OK)
        rc = pragma_int(s, "PRAGMA page_size", &out->page_size, err);
    out->reclaimed = before > out->pages ? before - out->pages : 0;
    return rc;
}

lv_status sq_compact(lv_store *base, lv_error *err)
{
    return sq_exec((sq_store *)base, "PRAGMA auto_vacuum = INCREMENTAL; VACUUM", err);
}

lv_status sq_checkpoint(lv_store *base, bool *complete, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    *complete = rc == SQLITE_OK;
    if (rc == SQLITE_BUSY)
        return LV_OK; /* a reader holds an older moment: what it reads stays in the log for now */
    if (rc != SQLITE_OK)
        return sq_fail(s, err, "cannot checkpoint the store's write-ahead log");
    return LV_OK;
}
