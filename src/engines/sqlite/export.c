/* export.c: what the embedded engine gives back whole: the stored documents (and dead letters)
 * byte for byte, the shards of the accounts seen, and the figures `levee stats` reports (counts per
 * event, schema drift). */
#include "columns.h"

lv_status sq_export(lv_store *base, const lv_export_filter *f,
                    lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err), void *ctx,
                    lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_buf sql;
    lv_buf_init(&sql);
    if (f->dead_letters) {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM dead_letters WHERE raw IS NOT NULL ORDER BY id");
    } else {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM events WHERE raw IS NOT NULL");
        if (f->event || f->has_since || f->has_until || f->course) {
            lv_buf_puts(&sql, " AND id IN (SELECT coalesce(doc, id) FROM events WHERE 1");
            if (f->event)
                lv_buf_puts(&sql, " AND name = (SELECT id FROM names WHERE name = ?1)");
            if (f->has_since)
                lv_buf_puts(&sql, " AND time >= ?2");
            if (f->has_until)
                lv_buf_puts(&sql, " AND time < ?3");
            if (f->course)
                lv_buf_puts(&sql, " AND context_id = ?4");
            lv_buf_puts(&sql, ")");
        }
        lv_buf_puts(&sql, " ORDER BY id");
    }
    sqlite3_stmt *st;
    int prc = sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL);
    lv_buf_free(&sql);
    if (prc != SQLITE_OK)
        return sq_fail(s, err, "cannot read the store");
    if (f->event)
        sqlite3_bind_text(st, 1, f->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->since_ms);
    sqlite3_bind_int64(st, 3, f->until_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->course);
    lv_status rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the store", err)) == LV_OK && row) {
        if ((rc = sq_document(s, st, 0, &s->raw, err)) != LV_OK ||
            (rc = emit(ctx, s->raw.data, s->raw.len, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_shards(lv_store *base, uint64_t *out, size_t max, size_t *n, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT shard FROM accounts WHERE shard > 0 ORDER BY shard", -1, &st,
                           NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read the store's shards");
    lv_status rc = LV_OK;
    bool row = false;
    while (*n < max && (rc = sq_step(s, st, &row, "cannot read the store's shards", err)) == LV_OK && row)
        out[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* ---- figures ---- */

/* The one value of a one-row query (not set when it has no row or the value is NULL). */
static lv_status scalar(sq_store *s, const char *sql, lv_opt *out, lv_error *err)
{
    *out = (lv_opt){ 0, false };
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    if ((rc = sq_step(s, st, &row, "cannot read the store's figures", err)) == LV_OK && row)
        *out = sq_column_opt(st, 0);
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_stats(lv_store *base, lv_stats_row *out, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *out = (lv_stats_row){ 0 };
    lv_opt events, duplicates, dead, docs, raw, dicts, page, pages, free_pages;
    lv_status rc;
    if ((rc = scalar(s, "SELECT coalesce(sum(n), 0) FROM counts", &events, err)) != LV_OK ||
        (rc = scalar(s, "SELECT coalesce(max(value), 0) FROM totals WHERE key = 'duplicates'", &duplicates, err)) != LV_OK ||
        (rc = scalar(s, "SELECT count(*) FROM dead_letters", &dead, err)) != LV_OK ||
        (rc = scalar(s, "SELECT value FROM totals WHERE key = 'first_time'", &out->first_time, err)) != LV_OK ||
        (rc = scalar(s, "SELECT value FROM totals WHERE key = 'last_time'", &out->last_time, err)) != LV_OK ||
        (rc = scalar(s, "PRAGMA page_size", &page, err)) != LV_OK ||
        (rc = scalar(s, "PRAGMA page_count", &pages, err)) != LV_OK ||
        (rc = scalar(s, "PRAGMA freelist_count", &free_pages, err)) != LV_OK ||
        (rc = scalar(s, "SELECT coalesce(max(value), 0) FROM totals WHERE key = 'raw_bytes'", &raw, err)) != LV_OK ||
        (rc = scalar(s, "SELECT count(*) FROM events WHERE doc IS NULL", &docs, err)) != LV_OK ||
        (rc = scalar(s, "SELECT count(*) FROM dicts", &dicts, err)) != LV_OK)
        return rc;
    out->events = events.v;
    out->duplicates = duplicates.v;
    out->dead_letters = dead.v;
    out->documents = docs.v;
    out->raw_bytes = raw.v;
    out->bytes_on_disk = (pages.v - free_pages.v) * page.v;
    out->dictionaries = dicts.v;
    return LV_OK;
}

lv_status sq_event_counts(lv_store *base, lv_event_count_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT names.name, sum(CASE WHEN format = 0 THEN n ELSE 0 END),"
                                 " sum(CASE WHEN format = 1 THEN n ELSE 0 END), sum(n) FROM counts"
                                 " JOIN names ON names.id = counts.name GROUP BY names.name"
                                 " ORDER BY sum(n) DESC, names.name", &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the store's figures", err)) == LV_OK && row) {
        lv_event_count_row r = { .name = sq_column_str(st, 0), .canvas = sqlite3_column_int64(st, 1),
                                 .caliper = sqlite3_column_int64(st, 2), .total = sqlite3_column_int64(st, 3) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

lv_status sq_drift(lv_store *base, lv_drift_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->schema_version < 3)
        return LV_OK; /* a read-only store from before drift was counted */
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT names.name, field, format, n, first_time, last_time FROM drift"
                                 " JOIN names ON names.id = drift.name"
                                 " ORDER BY first_time DESC, names.name, field, format", &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the store's figures", err)) == LV_OK && row) {
        lv_drift_row r = { .name = sq_column_str(st, 0), .field = sq_column_str(st, 1),
                           .format = sqlite3_column_int64(st, 2) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
                           .count = sqlite3_column_int64(st, 3), .first_time = sqlite3_column_int64(st, 4),
                           .last_time = sqlite3_column_int64(st, 5) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}
