/* search.c: full-text search in the embedded engine: an engine-neutral lv_search_query becomes an
 * FTS5 MATCH expression (every term quoted, so nothing typed is FTS5 syntax), ranked by bm25 with
 * titles weighted four times, each match joined with its entry or topic. */
#include "columns.h"

/* Appends a term's text as it goes inside an FTS5 string: a double quote doubled. */
static void put_term(lv_buf *match, const lv_search_term *t)
{
    for (size_t i = 0; i < t->len; i++) {
        if (t->text[i] == '"')
            lv_buf_putc(match, '"');
        lv_buf_putc(match, t->text[i]);
    }
}

/* A term as an FTS5 string, "term", or "term"* as a prefix. */
static void quote_term(lv_buf *match, const lv_search_term *t)
{
    lv_buf_putc(match, '"');
    put_term(match, t);
    lv_buf_putc(match, '"');
    if (t->prefix)
        lv_buf_putc(match, '*');
}

/* The MATCH expression: items separated by one space (FTS5's implicit AND); a lone term is "term"
 * or, as a prefix, "term"*; a phrase is "one two three" (a phrase whose terms are prefixes is written
 * as FTS5's "one"* + "two", which means the same). */
static void build_match(const lv_search_query *q, lv_buf *match)
{
    for (size_t i = 0; i < q->n_terms;) {
        const lv_search_term *t = &q->terms[i];
        if (match->len)
            lv_buf_putc(match, ' ');
        if (!t->phrase) {
            quote_term(match, t);
            i++;
            continue;
        }
        size_t end = i;
        bool prefixes = false;
        while (end < q->n_terms && q->terms[end].phrase == t->phrase)
            prefixes |= q->terms[end++].prefix;
        if (!prefixes) {
            lv_buf_putc(match, '"');
            for (size_t k = i; k < end; k++) {
                if (k > i)
                    lv_buf_putc(match, ' ');
                put_term(match, &q->terms[k]);
            }
            lv_buf_putc(match, '"');
        } else {
            for (size_t k = i; k < end; k++) {
                if (k > i)
                    lv_buf_puts(match, " + ");
                quote_term(match, &q->terms[k]);
            }
        }
        i = end;
    }
}

static lv_status search_rows(sq_store *s, sqlite3_stmt *st, lv_search_fn fn, void *ctx, lv_error *err)
{
    bool row = false;
    lv_status rc;
    while ((rc = sq_step(s, st, &row, "cannot search", err)) == LV_OK && row) {
        lv_opt entry = sq_column_opt(st, 0), topic_id = sq_column_opt(st, 1);
        lv_search_row r = { .entry = entry.set, .id = (uint64_t)(entry.set ? entry.v : topic_id.v),
                            .rank = sqlite3_column_double(st, 2), .topic = sq_column_opt(st, 3),
                            .topic_title = sq_column_str(st, 4), .course = sq_column_opt(st, 5),
                            .user_id = sq_column_opt(st, 6), .created_at = sq_column_opt(st, 7),
                            .html = sq_column_str(st, 8) };
        if ((rc = fn(ctx, &r, err)) != LV_OK)
            break;
    }
    return rc;
}

lv_status sq_search(lv_store *base, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!q->n_terms)
        return lv_fail(err, LV_EINVAL, "a search needs at least one term");
    lv_buf match;
    lv_buf_init(&match);
    build_match(q, &match);
    /* each match comes with its entry or topic, its course and its text */
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s,
        "SELECT d.entry_id, d.topic_id, r.rank, e.topic, coalesce(te.title, tt.title),"
        " coalesce(te.context_id, tt.context_id), e.user_id, coalesce(e.created_at, tt.created_at),"
        " coalesce(e.text, tt.body)"
        " FROM (SELECT rowid, bm25(search, 4.0, 1.0) AS rank FROM search WHERE search MATCH ?1) r"
        " JOIN search_docs d ON d.rowid = r.rowid"
        " LEFT JOIN entries e ON e.id = d.entry_id"
        " LEFT JOIN topics te ON te.id = e.topic"
        " LEFT JOIN topics tt ON tt.id = d.topic_id"
        " WHERE (?2 = 0 OR coalesce(te.context_id, tt.context_id) = ?2)"
        " AND coalesce(e.created_at, tt.created_at, 0) >= ?3 AND coalesce(e.created_at, tt.created_at, 0) < ?4"
        " ORDER BY r.rank, r.rowid LIMIT ?5 OFFSET ?6", &st, err);
    if (rc == LV_OK) {
        sqlite3_bind_text(st, 1, match.data, (int)match.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)q->course);
        sqlite3_bind_int64(st, 3, q->since_ms);
        sqlite3_bind_int64(st, 4, q->until_ms);
        sqlite3_bind_int(st, 5, (int)q->limit);
        sqlite3_bind_int(st, 6, (int)q->offset);
        rc = search_rows(s, st, fn, ctx, err);
        sqlite3_finalize(st);
    }
    lv_buf_free(&match);
    return rc;
}
