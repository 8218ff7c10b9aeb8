/* ops.c: the SQLite engine's operations for running a store (levee backup, restore, check): read
 * snapshots, a consistent copy through SQLite's online backup API taken in steps while the server
 * writes, PRAGMA integrity_check, the size of each table, and
 * every event read back with its document. The rules (what is a problem, what a backup must match)
 * are keep/check.c's. */
#include "columns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Pages copied per backup step (8 MB of 8 KB pages): between steps the source is not locked, so the
 * server's writers and readers go on. */
#define BACKUP_STEP_PAGES 1024
/* Integrity problems reported at most (SQLite's own limit on its list). */
#define INTEGRITY_MAX 100

lv_status sq_snapshot(lv_store *base, bool on, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!on) {
        if (sqlite3_get_autocommit(s->db) == 0 && !s->in_txn)
            return sq_exec(s, "COMMIT", err);
        return LV_OK;
    }
    if (s->in_txn || sqlite3_get_autocommit(s->db) == 0)
        return lv_fail(err, LV_EINVAL, "a transaction on %s is already open", base->location);
    /* a deferred transaction takes its snapshot at its first read */
    lv_status st = sq_exec(s, "BEGIN", err);
    if (st == LV_OK && (st = sq_exec(s, "SELECT count(*) FROM sqlite_schema", err)) != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

static lv_status count_rows(sq_store *s, const char *sql, int64_t *out, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    bool row;
    rc = sq_step(s, st, &row, "cannot count the store's rows", err);
    *out = rc == LV_OK && row ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_size(lv_store *base, lv_store_size *out, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    memset(out, 0, sizeof *out);
    lv_status rc;
    if ((rc = count_rows(s, "SELECT count(*) FROM events", &out->events, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM events WHERE doc IS NULL", &out->documents, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM dead_letters", &out->dead_letters, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM topics", &out->topics, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM entries", &out->entries, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM conversations", &out->conversations, err)) != LV_OK ||
        (rc = count_rows(s, "SELECT count(*) FROM messages", &out->messages, err)) != LV_OK)
        return rc;
    if (s->schema_version >= 4)
        rc = count_rows(s, "SELECT count(*) FROM subscriptions", &out->subscriptions, err);
    return rc;
}

/* SQLite's error for the copy being written, as a sentence naming it. */
static lv_status copy_fail(sqlite3 *db, const char *to, const char *what, lv_error *err)
{
    return lv_fail(err, LV_EIO, "%s %s: %s", what, to, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Makes the finished copy durable: its bytes, then (the caller renames it) its directory. */
static lv_status sync_file(const char *path, lv_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lv_fail(err, LV_EIO, "cannot open the copy %s to sync it: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc != 0)
        return lv_fail(err, LV_EIO, "cannot sync the copy %s: %s", path, strerror(e));
    return LV_OK;
}

lv_status sq_backup(lv_store *base, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                    lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (access(to, F_OK) == 0)
        return lv_fail(err, LV_EINVAL, "%s exists already; a backup is written to a new file", to);
    /* One read snapshot over the whole copy: the source's pages are read as of one moment whatever
     * the server commits meanwhile (WAL keeps that moment's pages for us), so the copy never has to
     * start over, and the sizes below are that moment's. */
    lv_status st = sq_snapshot(base, true, err);
    if (st != LV_OK)
        return st;
    sqlite3 *dest = NULL;
    if (sqlite3_open_v2(to, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        st = copy_fail(dest, to, "cannot create the copy", err);
        sqlite3_close(dest);
        sq_snapshot(base, false, NULL);
        return st;
    }
    sqlite3_backup *b = sqlite3_backup_init(dest, "main", s->db, "main");
    if (!b)
        st = copy_fail(dest, to, "cannot start copying into", err);
    int rc = SQLITE_OK;
    while (st == LV_OK) {
        rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
        if (progress) {
            int total = sqlite3_backup_pagecount(b), left = sqlite3_backup_remaining(b);
            progress(ctx, (uint64_t)(total - left), (uint64_t)total);
        }
        if (rc == SQLITE_DONE)
            break;
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_sleep(20);
            continue;
        }
        if (rc != SQLITE_OK) {
            int code = rc & 0xff;
            if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
                st = lv_fail(err, LV_EDAMAGED, "cannot copy %s: the store is damaged (SQLite: %s); copy an "
                             "earlier backup instead", base->location, sqlite3_errstr(rc));
            else
                st = lv_fail(err, LV_EIO, "cannot copy %s into %s: %s", base->location, to, sqlite3_errstr(rc));
        }
    }
    if (b && sqlite3_backup_finish(b) != SQLITE_OK && st == LV_OK)
        st = copy_fail(dest, to, "cannot finish copying into", err);
    if (st == LV_OK && at)
        st = sq_size(base, at, err);
    lv_status ended = sq_snapshot(base, false, err);
    if (st == LV_OK)
        st = ended;
    if (sqlite3_close(dest) != SQLITE_OK && st == LV_OK)
        st = copy_fail(dest, to, "cannot close the copy", err);
    if (st == LV_OK)
        st = sync_file(to, err);
    if (st != LV_OK)
        unlink(to); /* a copy cut short is no backup */
    return st;
}

static lv_status report_rows(sq_store *s, const char *sql, const char *prefix, lv_problem_fn fn, void *ctx,
                             lv_error *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        int code = sqlite3_extended_errcode(s->db) & 0xff;
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
            char msg[LV_ERROR_MAX];
            snprintf(msg, sizeof msg, "%sSQLite cannot read the store's schema: %s", prefix, sqlite3_errmsg(s->db));
            fn(ctx, msg);
            return LV_OK;
        }
        return sq_fail(s, err, "cannot check the store");
    }
    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            int code = sqlite3_extended_errcode(s->db) & 0xff;
            lv_status out = LV_OK;
            if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
                char msg[LV_ERROR_MAX];
                snprintf(msg, sizeof msg, "%s%s", prefix, sqlite3_errmsg(s->db));
                fn(ctx, msg);
            } else {
                out = sq_fail(s, err, "cannot check the store");
            }
            sqlite3_finalize(st);
            return out;
        }
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (text && strcmp(text, "ok") != 0) {
            char msg[LV_ERROR_MAX];
            snprintf(msg, sizeof msg, "%s%s", prefix, text);
            fn(ctx, msg);
        }
    }
    sqlite3_finalize(st);
    return LV_OK;
}

lv_status sq_integrity(lv_store *base, lv_problem_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA integrity_check(%d)", INTEGRITY_MAX);
    return report_rows(s, sql, "SQLite's integrity check: ", fn, ctx, err);
}

lv_status sq_stored_events(lv_store *base, lv_stored_event_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, s->schema_version >= 7
                                     ? "SELECT events.id, coalesce(doc, 0), hash, names.name, format, time, raw, raw_len,"
                                       " dict, received, webhook_hash FROM events LEFT JOIN names ON names.id = events.name"
                                       " ORDER BY events.id"
                                     : "SELECT events.id, coalesce(doc, 0), hash, names.name, format, time, raw, raw_len,"
                                       " dict, received, NULL FROM events LEFT JOIN names ON names.id = events.name"
                                       " ORDER BY events.id",
                              &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the stored events", err)) == LV_OK && row) {
        lv_stored_event ev = {
            .id = sqlite3_column_int64(st, 0),
            .doc = sqlite3_column_int64(st, 1),
            .hash = sqlite3_column_blob(st, 2),
            .hash_len = (size_t)sqlite3_column_bytes(st, 2),
            .format = sqlite3_column_int(st, 4) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
            .time_ms = sqlite3_column_int64(st, 5),
            .received_ms = sqlite3_column_int64(st, 9),
            .webhook_hash = sqlite3_column_bytes(st, 10) == LV_HASH_BYTES ? sqlite3_column_blob(st, 10) : NULL,
        };
        const char *name = (const char *)sqlite3_column_text(st, 3);
        ev.name = name ? (lv_str){ name, (size_t)sqlite3_column_bytes(st, 3) } : (lv_str){ NULL, 0 };
        lv_error derr;
        if (ev.doc == 0) {
            if (sqlite3_column_type(st, 6) == SQLITE_NULL)
                ev.damage = "its row keeps no document bytes";
            else if (sq_document(s, st, 6, &s->raw, &derr) != LV_OK)
                ev.damage = derr.msg;
            else
                ev.bytes = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
        }
        if ((rc = fn(ctx, &ev, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_set_webhook_hash(lv_store *base, int64_t id, int64_t time_ms, const unsigned char *webhook_hash,
                              lv_error *err)
{
    (void)time_ms;
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "UPDATE events SET webhook_hash = ?2 WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_blob(st, 2, webhook_hash, LV_HASH_BYTES, SQLITE_STATIC);
    bool row = false;
    rc = sq_step(s, st, &row, "cannot keep the key of an event's webhook-id", err);
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_stored_dead_letters(lv_store *base, lv_stored_dead_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT id, hash, raw IS NOT NULL, raw, raw_len, dict, received, source, line, errors"
                                 " FROM dead_letters ORDER BY id",
                              &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the dead letters", err)) == LV_OK && row) {
        lv_stored_dead d = {
            .id = sqlite3_column_int64(st, 0),
            .hash = sqlite3_column_blob(st, 1),
            .hash_len = (size_t)sqlite3_column_bytes(st, 1),
            .kept = sqlite3_column_int(st, 2) != 0,
            .raw_len = sqlite3_column_int64(st, 4),
            .received_ms = sqlite3_column_int64(st, 6),
            .source = sq_column_str(st, 7),
            .line = (long)sqlite3_column_int64(st, 8),
            .errors = sq_column_str(st, 9),
        };
        lv_error derr;
        if (d.kept) {
            if (sq_document(s, st, 3, &s->raw, &derr) != LV_OK)
                d.damage = derr.msg;
            else
                d.bytes = (lv_str){ s->raw.data ? s->raw.data : "", s->raw.len };
        }
        if ((rc = fn(ctx, &d, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_clear_derived(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "emptying the derived state of %s outside a transaction", base->location);
    return sq_exec(s, "DELETE FROM topics; DELETE FROM topic_versions; DELETE FROM entries;"
                      " DELETE FROM conversations; DELETE FROM messages; DELETE FROM forwards;"
                      " DELETE FROM activity; DELETE FROM participants; DELETE FROM counts; DELETE FROM drift;"
                      " DELETE FROM totals WHERE key <> 'duplicates'; DELETE FROM search_docs; DELETE FROM event_about;"
                      " INSERT INTO search (search) VALUES ('delete-all');", err);
}

/* Each derived table as (key, value) text ordered by key (BINARY: byte order). Names are written
 * as themselves, not as their ids in the names table, which a store numbers in its own order. */
static const char *const derived_sql[LV_DERIVED_TABLES] = {
    [LV_DERIVED_TOPICS] = "SELECT quote(id) AS k, (quote(context_id) || ',' || quote(context_type) || ',' || quote(title) || ',' ||"
                          " quote(body) || ',' || quote(is_announcement) || ',' || quote(assignment_id) || ',' || quote(workflow_state) || ',' ||"
                          " quote(lock_at) || ',' || quote(updated_at) || ',' || quote(version_time) || ',' || quote(version_hash) || ',' ||"
                          " quote(version_event) || ',' || quote(created_at) || ',' || quote(created_by) || ',' || quote(search_rowid))"
                          " FROM topics ORDER BY k",
    [LV_DERIVED_TOPIC_VERSIONS] = "SELECT quote(topic) || ',' || quote(event) AS k, (quote(updated_at) || ',' ||"
                                  " quote(time) || ',' || quote(hash)) FROM topic_versions ORDER BY k",
    [LV_DERIVED_ENTRIES] = "SELECT quote(id) AS k, (quote(topic) || ',' || quote(parent) || ',' || quote(user_id) || ',' ||"
                           " quote(role) || ',' || quote(created_at) || ',' || quote(text) || ',' || quote(assignment_id) || ',' || quote(submission_id) || ',' ||"
                           " quote(event)) FROM entries ORDER BY k",
    [LV_DERIVED_CONVERSATIONS] = "SELECT quote(id) AS k, (quote(created_at) || ',' || quote(created_by) || ',' ||"
                                 " quote(updated_at)) FROM conversations ORDER BY k",
    [LV_DERIVED_MESSAGES] = "SELECT quote(id) AS k, (quote(conversation) || ',' || quote(author) || ',' ||"
                            " quote(created_at) || ',' || quote(time) || ',' || quote(event)) FROM messages ORDER BY k",
    [LV_DERIVED_FORWARDS] = "SELECT quote(conversation) || ',' || quote(event) AS k, (quote(time) || ',' ||"
                            " quote(user_id) || ',' || quote(updated_at)) FROM forwards ORDER BY k",
    [LV_DERIVED_ACTIVITY] = "SELECT (quote(context_id) || ',' || quote(day) || ',' || quote(names.name)) AS k, quote(n)"
                            " FROM activity LEFT JOIN names ON names.id = activity.name ORDER BY k",
    [LV_DERIVED_PARTICIPANTS] = "SELECT (quote(context_id) || ',' || quote(day) || ',' || quote(user_id) || ',' || quote(role)) AS k,"
                                " quote(n) FROM participants ORDER BY k",
    [LV_DERIVED_COUNTS] = "SELECT quote(names.name) || ',' || quote(format) AS k, quote(n)"
                          " FROM counts LEFT JOIN names ON names.id = counts.name ORDER BY k",
    [LV_DERIVED_DRIFT] = "SELECT (quote(names.name) || ',' || quote(field) || ',' || quote(format)) AS k,"
                         " (quote(n) || ',' || quote(first_time) || ',' || quote(last_time))"
                         " FROM drift LEFT JOIN names ON names.id = drift.name ORDER BY k",
    [LV_DERIVED_TOTALS] = "SELECT quote(key) AS k, quote(value) FROM totals WHERE key <> 'duplicates' ORDER BY k",
    [LV_DERIVED_SEARCH_DOCS] = "SELECT quote(rowid) AS k, quote(entry_id) || ',' || quote(topic_id) FROM search_docs"
                               " ORDER BY k",
    [LV_DERIVED_ABOUT] = "SELECT quote(subject) || ',' || quote(id) || ',' || quote(event) AS k, '' FROM event_about"
                         " ORDER BY k",
    /* the index itself, term by term (fts5vocab reads a contentless index): in how many rows each
     * term is, and how often */
    [LV_DERIVED_SEARCH_TERMS] = "SELECT quote(term) AS k, quote(doc) || ',' || quote(cnt) FROM temp.levee_search_terms"
                                " ORDER BY k",
};

lv_status sq_derived_rows(lv_store *base, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if ((unsigned)table >= LV_DERIVED_TABLES)
        return lv_fail(err, LV_EINVAL, "there is no derived table %d", (int)table);
    lv_status rc;
    if (table == LV_DERIVED_SEARCH_TERMS &&
        (rc = sq_exec(s, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.levee_search_terms USING fts5vocab(main, search, 'row')",
                      err)) != LV_OK)
        return rc;
    sqlite3_stmt *st;
    if ((rc = sq_prepare(s, derived_sql[table], &st, err)) != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the derived state", err)) == LV_OK && row) {
        const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
        lv_derived_row r = { { k ? k : "", k ? (size_t)sqlite3_column_bytes(st, 0) : 0 },
                             { v ? v : "", v ? (size_t)sqlite3_column_bytes(st, 1) : 0 } };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}
