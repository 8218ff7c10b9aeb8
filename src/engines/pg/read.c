/* read.c: the PostgreSQL engine's reads (levee/engine.h): topics and their versions, stored documents,
 * reply trees, conversations, course summaries, courses, what a user did, full-text search, export and the
 * figures of `levee stats`. Each is one SQL statement whose rows go to the caller as they arrive, in the
 * orders the contract names; NULLs sort as SQLite sorts them (first when ascending), texts in byte order. */
#include "pg.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* What a read hands its rows to: the caller's callback (of the read's own type), its context, and what
 * the read was asked about. */
typedef struct reader {
    void (*fn)(void);
    void *ctx;
    uint64_t id;
    const void *extra;
    lv_status (*fill)(pg_store *s, const PGresult *r, int i, const struct reader *rd, lv_error *err);
} reader;

static lv_status each_fill(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    const reader *rd = ctx;
    return rd->fill(s, r, row, rd, err);
}

static lv_status rows(pg_store *s, const char *sql, pg_params *p, reader *rd, const char *what, lv_error *err)
{
    lv_status st = pg_each(s, sql, p, each_fill, rd, what, err);
    if (p)
        pg_params_free(p);
    return st;
}

/* rows() of a prepared statement (schema.c) */
static lv_status stmt_rows(pg_store *s, int stmt, pg_params *p, reader *rd, const char *what, lv_error *err)
{
    lv_status st = pg_each_stmt(s, stmt, p, each_fill, rd, what, err);
    pg_params_free(p);
    return st;
}

#define READER(cb, c, f) ((reader){ .fn = (void (*)(void))(cb), .ctx = (c), .fill = (f) })

/* The rows of one statement in binary, one at a time as they arrive (libpq's single-row mode), each
 * handed to row: no cursor's round trip per 2,000 rows, and the server sends each row as it finds it
 * (a FETCH copies its rows into a tuple store first), while levee reads the ones before. No other
 * statement can run while they arrive. */
static lv_status stream_rows(pg_store *s, const char *sql, const pg_params *p,
                             lv_status (*row)(pg_store *s, const PGresult *r, void *ctx, lv_error *err), void *ctx,
                             const char *what, lv_error *err)
{
    const char *values[PG_MAX_PARAMS];
    for (int i = 0; i < p->n; i++)
        values[i] = p->is_num[i] ? p->num[i] : p->values[i];
    lv_status st = LV_OK;
    if (!lv_pq.PQsendQueryParams(s->conn, sql, p->n, NULL, p->n ? values : NULL, p->lengths, p->formats, 1) ||
        !lv_pq.PQsetSingleRowMode(s->conn))
        st = pg_fail(s, NULL, what, err);
    PGresult *r;
    bool cancelled = false;
    while ((r = lv_pq.PQgetResult(s->conn))) {
        ExecStatusType es = lv_pq.PQresultStatus(r);
        if (es == PGRES_SINGLE_TUPLE && st == LV_OK)
            st = row(s, r, ctx, err);
        else if (es != PGRES_SINGLE_TUPLE && es != PGRES_TUPLES_OK && st == LV_OK)
            st = pg_fail(s, r, what, err);
        lv_pq.PQclear(r);
        if (st != LV_OK && !cancelled && s->cancel) {
            /* the rest of the rows are not wanted: the server stops sending them */
            char buf[256];
            lv_pq.PQcancel(s->cancel, buf, sizeof buf);
            cancelled = true;
        }
    }
    if (st == LV_OK && lv_pq.PQstatus(s->conn) == CONNECTION_BAD)
        st = pg_fail(s, NULL, what, err);
    return st;
}

/* A transaction of the read's own (begin: its BEGIN and what goes with it), unless one is open: *own
 * says which, for stream_end. */
static lv_status stream_begin(pg_store *s, const char *begin, bool *own, const char *what, lv_error *err)
{
    *own = false;
    lv_status st = pg_flush(s, err);
    if (st == LV_OK && (!s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD))
        st = s->in_txn ? pg_fail(s, NULL, what, err) : pg_connect(s, err);
    if (st == LV_OK && !s->in_txn) {
        st = pg_exec(s, begin, what, err);
        *own = st == LV_OK;
    }
    return st;
}

static lv_status stream_end(pg_store *s, bool own, lv_status st, const char *what, lv_error *err)
{
    if (own) {
        lv_error ignored;
        lv_status end = pg_exec(s, st == LV_OK ? "COMMIT" : "ROLLBACK", what, st == LV_OK ? err : &ignored);
        if (st == LV_OK)
            st = end;
    }
    return st;
}

static pg_params id_params(uint64_t id)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)id);
    return p;
}

/* Texts copied into the store's row memory (valid until the next read that fills a row). */
static void keep_texts(pg_store *s, const PGresult *r, const int *cols, lv_str *const *out, int n)
{
    size_t at[8];
    lv_buf_reset(&s->row_text);
    for (int i = 0; i < n; i++) {
        *out[i] = pg_get_str(r, 0, cols[i]);
        at[i] = s->row_text.len;
        if (out[i]->p) {
            lv_buf_append(&s->row_text, out[i]->p, out[i]->n);
            lv_buf_putc(&s->row_text, '\0');
        }
    }
    for (int i = 0; i < n; i++)
        if (out[i]->p)
            out[i]->p = s->row_text.data + at[i];
}

/* ---- topics ---- */

lv_status pg_topic(lv_store *base, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    out->id = id;
    *versions = 0;
    pg_params p = id_params(id);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT context_id, context_type, title, body, is_announcement, assignment_id,"
                                 " workflow_state, lock_at, updated_at, version_time, version_hash, version_event,"
                                 " created_at, created_by, search_key,"
                                 " (SELECT count(*) FROM topic_versions WHERE topic = topics.id)"
                                 " FROM topics WHERE id = $1", &p, &r, "cannot read a discussion topic", err);
    pg_params_free(&p);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) != 1) {
        lv_pq.PQclear(r);
        return lv_fail(err, LV_ENOTFOUND, "there is no discussion topic %llu in %s", (unsigned long long)id,
                       base->location);
    }
    static const int cols[] = { 1, 2, 3, 6 };
    lv_str *const texts[] = { &out->context_type, &out->title, &out->body, &out->workflow_state };
    keep_texts(s, r, cols, texts, 4);
    out->context_id = pg_get_opt(r, 0, 0);
    out->is_announcement = pg_get_opt(r, 0, 4);
    out->assignment_id = pg_get_opt(r, 0, 5);
    out->lock_at = pg_get_opt(r, 0, 7);
    out->updated_at = pg_get_opt(r, 0, 8);
    out->version_time = pg_get_int(r, 0, 9);
    if (pg_get_bytes(r, 0, 10, &s->bytes) && s->bytes.len == LV_HASH_BYTES)
        memcpy(out->version_hash, s->bytes.data, LV_HASH_BYTES);
    out->version_event = pg_get_int(r, 0, 11);
    out->created_at = pg_get_opt(r, 0, 12);
    out->created_by = pg_get_opt(r, 0, 13);
    out->search_key = pg_get_int(r, 0, 14);
    *versions = pg_get_int(r, 0, 15);
    lv_pq.PQclear(r);
    return LV_OK;
}

static lv_status fill_version(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_version_row row = { .event = pg_get_int(r, i, 0), .updated_at = pg_get_opt(r, i, 1),
                           .time_ms = pg_get_int(r, i, 2) };
    return ((lv_version_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_topic_versions(lv_store *base, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = id_params(topic);
    reader rd = READER(fn, ctx, fill_version);
    return rows(s, "SELECT event, updated_at, time FROM topic_versions WHERE topic = $1"
                   " ORDER BY updated_at NULLS FIRST, time, hash", &p, &rd, "cannot read a topic's versions", err);
}

lv_status pg_event_document(lv_store *base, int64_t event, lv_buf *out, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = id_params((uint64_t)event);
    PGresult *r;
    lv_status st = pg_run(s, PG_EVENT_DOCUMENT, NULL, &p, &r, "cannot read a stored document", err);
    pg_params_free(&p);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) == 1)
        st = pg_document(s, r, 0, 0, out, err);
    else /* only rows the store itself refers to are asked for */
        st = lv_fail(err, LV_EDAMAGED, "the document of event %lld is missing from %s: the store is damaged",
                     (long long)event, base->location);
    lv_pq.PQclear(r);
    return st;
}

/* One row of a topic's entries, in binary (topic_entry_sql's columns). */
static lv_status topic_entry_row(pg_store *s, const PGresult *r, void *ctx, lv_error *err)
{
    (void)s;
    const reader *rd = ctx;
    lv_entry_row row = { .id = (uint64_t)pg_get_bin_int(r, 0, 0), .topic = rd->id, .parent = pg_get_bin_opt(r, 0, 1),
                         .user_id = pg_get_bin_opt(r, 0, 2), .role = pg_get_str(r, 0, 3),
                         .created_at = pg_get_bin_int(r, 0, 4), .text = pg_get_str(r, 0, 5),
                         .assignment_id = pg_get_bin_opt(r, 0, 6), .submission_id = pg_get_bin_opt(r, 0, 7),
                         .event = pg_get_bin_int(r, 0, 8) };
    return ((lv_entry_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_topic_entries(lv_store *base, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err)
{
    static const char what[] = "cannot read a topic's entries";
    pg_store *s = (pg_store *)base;
    pg_params p = id_params(topic);
    reader rd = READER(fn, ctx, NULL);
    rd.id = topic;
    /* In the entries_topic index's order, streamed: the planner would take a large topic's rows for
     * scattered over the table (their correlation with its order is low, though a topic's entries arrive
     * together) and read the whole table in parallel and sort, 37 ms instead of 13 for the 10,000
     * entries of a 55,000-entry store; in a transaction of the read's own, the scans that must sort are
     * ruled out (SET LOCAL ends with it). Through a cursor (whose plan is the index's too) each FETCH
     * copied its rows into a tuple store before sending them: twice the server's time, and a round trip
     * per 2,000 rows during which levee waited (docs/benchmarks.md). */
    bool own;
    lv_status st = stream_begin(s, "BEGIN READ ONLY; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off",
                                &own, what, err);
    if (st == LV_OK)
        st = stream_rows(s, "SELECT id, parent, user_id, role, created_at, text, assignment_id, submission_id, event"
                            " FROM entries WHERE topic = $1 ORDER BY created_at", &p, topic_entry_row, &rd, what, err);
    st = stream_end(s, own, st, what, err);
    pg_params_free(&p);
    return st;
}

/* ---- conversations ---- */

lv_status pg_conversation(lv_store *base, uint64_t id, lv_conversation_row *out, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    out->id = id;
    pg_params p = id_params(id);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT created_at, created_by, updated_at FROM conversations WHERE id = $1", &p, &r,
                          "cannot read a conversation", err);
    pg_params_free(&p);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) != 1) {
        st = lv_fail(err, LV_ENOTFOUND, "there is no conversation %llu in %s", (unsigned long long)id, base->location);
    } else {
        out->created_at = pg_get_opt(r, 0, 0);
        out->created_by = pg_get_opt(r, 0, 1);
        out->updated_at = pg_get_opt(r, 0, 2);
    }
    lv_pq.PQclear(r);
    return st;
}

static lv_status fill_timeline(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_str type = pg_get_str(r, i, 0);
    lv_timeline_row row = { .message = type.p && type.p[0] == 'm', .message_id = pg_get_opt(r, i, 1),
                            .user_id = pg_get_opt(r, i, 2), .at = pg_get_opt(r, i, 3), .time_ms = pg_get_int(r, i, 4) };
    return ((lv_timeline_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_conversation_timeline(lv_store *base, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = id_params(id);
    reader rd = READER(fn, ctx, fill_timeline);
    return rows(s, "SELECT 'message', id, author, created_at AS at, time FROM messages WHERE conversation = $1"
                   " UNION ALL SELECT 'forwarded', NULL, user_id, coalesce(updated_at, time), time"
                   " FROM forwards WHERE conversation = $1 ORDER BY 4 NULLS FIRST, 5, 2 NULLS FIRST",
                &p, &rd, "cannot read a conversation's timeline", err);
}

/* ---- courses ---- */

static pg_params topics_params(uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit, unsigned offset)
{
    pg_params p = id_params(course);
    pg_int(&p, since_ms);
    pg_int(&p, until_ms);
    pg_int(&p, limit);
    pg_int(&p, offset);
    return p;
}

static pg_params day_params(uint64_t course, int64_t since_day, int64_t until_day)
{
    pg_params p = id_params(course);
    pg_int(&p, since_day);
    pg_int(&p, until_day);
    return p;
}

/* The five reads of a course summary in one round trip, not five: each read below then takes its result
 * from them (pg_run) when asked with the same parameters. A failure here is no answer: the reads then
 * read for themselves, and say what failed. */
void pg_course_ahead(lv_store *base, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                     unsigned offset, int64_t since_day, int64_t until_day)
{
    pg_store *s = (pg_store *)base;
    static const int stmts[] = { PG_COURSE_KNOWN, PG_COURSE_TOPICS, PG_COURSE_ROLES, PG_COURSE_ACTIVITY,
                                 PG_COURSE_ENTRIES };
    pg_params ps[] = { id_params(course), topics_params(course, since_ms, until_ms, limit, offset),
                       day_params(course, since_day, until_day), day_params(course, since_day, until_day),
                       id_params(course) };
    lv_error ignored;
    pg_ahead(s, 5, stmts, ps, &ignored);
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        pg_params_free(&ps[i]);
}

lv_status pg_course_known(lv_store *base, uint64_t course, bool *known, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *known = false;
    pg_params p = id_params(course);
    PGresult *r;
    lv_status st = pg_run(s, PG_COURSE_KNOWN, NULL, &p, &r, "cannot read a course", err);
    pg_params_free(&p);
    if (st == LV_OK)
        *known = lv_pq.PQgetvalue(r, 0, 0)[0] == 't';
    lv_pq.PQclear(r);
    if (!*known)
        pg_ahead_drop(s); /* the course's other reads will not be asked for */
    return st;
}

static lv_status fill_course_topic(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_course_topic_row row = { .id = (uint64_t)pg_get_int(r, i, 0), .title = pg_get_str(r, i, 1),
                                .is_announcement = pg_get_opt(r, i, 2), .workflow_state = pg_get_str(r, i, 3),
                                .graded = !pg_isnull(r, i, 4), .entries = pg_get_int(r, i, 5),
                                .last_entry_at = pg_get_opt(r, i, 6), .created_at = pg_get_opt(r, i, 7) };
    return ((lv_course_topic_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_course_topics(lv_store *base, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                           unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = topics_params(course, since_ms, until_ms, limit, offset);
    reader rd = READER(fn, ctx, fill_course_topic);
    return stmt_rows(s, PG_COURSE_TOPICS, &p, &rd, "cannot read a course's topics", err);
}

static lv_status fill_role(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_role_row row = { .role = pg_get_str(r, i, 0), .users = pg_get_int(r, i, 1), .events = pg_get_int(r, i, 2) };
    return ((lv_role_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_course_roles(lv_store *base, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn,
                          void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = day_params(course, since_day, until_day);
    reader rd = READER(fn, ctx, fill_role);
    return stmt_rows(s, PG_COURSE_ROLES, &p, &rd, "cannot read a course's participants", err);
}

static lv_status fill_activity(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_activity_row row = { .day = pg_get_int(r, i, 0), .name = pg_get_str(r, i, 1), .events = pg_get_int(r, i, 2) };
    return ((lv_activity_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_course_activity(lv_store *base, uint64_t course, int64_t since_day, int64_t until_day,
                             lv_activity_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = day_params(course, since_day, until_day);
    reader rd = READER(fn, ctx, fill_activity);
    return stmt_rows(s, PG_COURSE_ACTIVITY, &p, &rd, "cannot read a course's activity", err);
}

static lv_status fill_course_entry(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    /* in binary (pg_binary_result) */
    lv_course_entry_row row = { .id = (uint64_t)pg_get_bin_int(r, i, 0), .parent = pg_get_bin_opt(r, i, 1),
                                .role = pg_get_str(r, i, 2), .topic = (uint64_t)pg_get_bin_int(r, i, 3),
                                .user_id = pg_get_bin_opt(r, i, 4), .created_at = pg_get_bin_int(r, i, 5) };
    return ((lv_course_entry_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_course_entries(lv_store *base, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p = id_params(course);
    reader rd = READER(fn, ctx, fill_course_entry);
    return stmt_rows(s, PG_COURSE_ENTRIES, &p, &rd, "cannot read a course's entries", err);
}

lv_status pg_entry_detail(lv_store *base, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *title = *text = (lv_str){ NULL, 0 };
    *found = false;
    pg_params p = id_params(entry);
    PGresult *r;
    lv_status st = pg_run(s, PG_ENTRY_DETAIL, NULL, &p, &r, "cannot read a discussion entry", err);
    pg_params_free(&p);
    if (st == LV_OK && lv_pq.PQntuples(r) == 1) {
        *found = true;
        static const int cols[] = { 0, 1 };
        lv_str *const texts[] = { title, text };
        keep_texts(s, r, cols, texts, 2);
    }
    lv_pq.PQclear(r);
    return st;
}

static lv_status fill_detail(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_entry_detail_row row = { .i = (size_t)pg_get_int(r, i, 0) - 1, .found = !pg_isnull(r, i, 3),
                                .title = pg_get_str(r, i, 1), .text = pg_get_str(r, i, 2) };
    return ((lv_entry_detail_fn)rd->fn)(rd->ctx, &row, err);
}

/* One statement for them all (a course summary's page of unanswered posts), not one round trip each. */
lv_status pg_entry_details(lv_store *base, const uint64_t *ids, size_t n, lv_entry_detail_fn fn, void *ctx,
                           lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!n)
        return LV_OK;
    lv_buf list;
    lv_buf_init(&list);
    lv_buf_putc(&list, '{');
    for (size_t i = 0; i < n; i++)
        lv_buf_printf(&list, "%s%llu", i ? "," : "", (unsigned long long)ids[i]);
    lv_buf_putc(&list, '}');
    pg_params p;
    pg_params_init(&p);
    pg_str(&p, (lv_str){ list.data, list.len });
    reader rd = READER(fn, ctx, fill_detail);
    lv_status st = stmt_rows(s, PG_ENTRY_DETAILS, &p, &rd, "cannot read discussion entries", err);
    lv_buf_free(&list);
    return st;
}

static lv_status fill_courses(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_courses_row row = { .course = (uint64_t)pg_get_int(r, i, 0), .events = pg_get_int(r, i, 1),
                           .first_day = pg_get_int(r, i, 2), .last_day = pg_get_int(r, i, 3),
                           .topics = pg_get_int(r, i, 4), .users = pg_get_int(r, i, 5) };
    return ((lv_courses_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_courses(lv_store *base, lv_courses_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    reader rd = READER(fn, ctx, fill_courses);
    return rows(s, "SELECT c.context_id, c.events, c.first_day, c.last_day,"
                   " (SELECT count(*) FROM topics t WHERE t.context_id = c.context_id),"
                   " (SELECT count(DISTINCT user_id) FROM participants p WHERE p.context_id = c.context_id)"
                   " FROM (SELECT context_id, sum(n) AS events, min(day) AS first_day, max(day) AS last_day"
                   " FROM activity GROUP BY context_id) c ORDER BY c.events DESC, c.context_id",
                NULL, &rd, "cannot read the courses", err);
}

/* ---- users ---- */

typedef enum { U_OPT, U_STR } user_member;
#define USER_COLUMNS 8
typedef struct user_query {
    const char *sql;
    int n;
    struct { user_member kind; size_t offset; } columns[USER_COLUMNS];
} user_query;

#define OPT(member) { U_OPT, offsetof(lv_user_row, member) }
#define STR(member) { U_STR, offsetof(lv_user_row, member) }

static const user_query user_queries[LV_USER_LISTS] = {
    [LV_USER_ENTRIES] = {
        "SELECT e.id, e.topic, t.title, t.context_id, e.created_at, e.text, e.parent, e.role FROM entries e"
        " LEFT JOIN topics t ON t.id = e.topic WHERE e.user_id = $1 AND e.created_at >= $2 AND e.created_at < $3"
        " ORDER BY e.created_at, e.id LIMIT $4 OFFSET $5",
        8, { OPT(id), OPT(topic), STR(title), OPT(course), OPT(created_at), STR(text), OPT(parent), STR(role) } },
    [LV_USER_MESSAGES] = {
        "SELECT id, conversation, created_at FROM messages WHERE author = $1 AND created_at >= $2"
        " AND created_at < $3 ORDER BY created_at, id LIMIT $4 OFFSET $5",
        3, { OPT(id), OPT(topic), OPT(created_at) } },
    [LV_USER_TOPICS] = {
        "SELECT id, title, context_id, created_at FROM topics WHERE created_by = $1 AND created_at >= $2"
        " AND created_at < $3 ORDER BY created_at, id LIMIT $4 OFFSET $5",
        4, { OPT(id), STR(title), OPT(course), OPT(created_at) } },
    [LV_USER_CONVERSATIONS] = {
        "SELECT id, created_at FROM conversations WHERE created_by = $1 AND created_at >= $2"
        " AND created_at < $3 ORDER BY created_at, id LIMIT $4 OFFSET $5",
        2, { OPT(id), OPT(created_at) } },
};

static lv_status fill_user(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    const user_query *q = rd->extra;
    lv_user_row row = { 0 };
    for (int c = 0; c < q->n; c++) {
        char *member = (char *)&row + q->columns[c].offset;
        if (q->columns[c].kind == U_OPT)
            *(lv_opt *)member = pg_get_opt(r, i, c);
        else
            *(lv_str *)member = pg_get_str(r, i, c);
    }
    return ((lv_user_fn)rd->fn)(rd->ctx, &row, err);
}

lv_status pg_user_list(lv_store *base, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms,
                       unsigned limit, unsigned offset, lv_user_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if ((unsigned)list >= LV_USER_LISTS)
        return lv_fail(err, LV_EINVAL, "there is no user list %d", (int)list);
    const user_query *q = &user_queries[list];
    pg_params p = id_params(user);
    pg_int(&p, since_ms);
    pg_int(&p, until_ms);
    pg_int(&p, limit);
    pg_int(&p, offset);
    reader rd = READER(fn, ctx, fill_user);
    rd.extra = q;
    return rows(s, q->sql, &p, &rd, "cannot read what a user did", err);
}

lv_status pg_user_events(lv_store *base, uint64_t user, int64_t *events, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *events = 0;
    pg_params p = id_params(user);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT coalesce(sum(n), 0) FROM participants WHERE user_id = $1", &p, &r,
                          "cannot read a user's figures", err);
    pg_params_free(&p);
    if (st == LV_OK)
        *events = pg_get_int(r, 0, 0);
    lv_pq.PQclear(r);
    return st;
}

/* ---- search ---- */

/* A term as a tsquery lexeme: quoted ('...', a quote doubled, a backslash escaped), :* for a prefix. */
static void put_lexeme(lv_buf *q, const lv_search_term *t)
{
    lv_buf_putc(q, '\'');
    for (size_t i = 0; i < t->len; i++) {
        if (t->text[i] == '\'' || t->text[i] == '\\')
            lv_buf_putc(q, t->text[i] == '\'' ? '\'' : '\\');
        lv_buf_putc(q, t->text[i]);
    }
    lv_buf_putc(q, '\'');
    if (t->prefix)
        lv_buf_puts(q, ":*");
}

/* The tsquery: every lone term and every phrase ANDed (&); a phrase's terms follow each other (<->). Each
 * term is a quoted lexeme, so nothing typed is tsquery syntax; to_tsquery('simple', ...) lower-cases them
 * as the index's words were. */
static void build_tsquery(const lv_search_query *q, lv_buf *out)
{
    for (size_t i = 0; i < q->n_terms; i++) {
        const lv_search_term *t = &q->terms[i];
        bool in_phrase = t->phrase && i > 0 && q->terms[i - 1].phrase == t->phrase;
        if (i)
            lv_buf_puts(out, in_phrase ? " <-> " : " & ");
        put_lexeme(out, t);
    }
}

static lv_status fill_search(pg_store *s, const PGresult *r, int i, const reader *rd, lv_error *err)
{
    (void)s;
    lv_opt entry = pg_get_opt(r, i, 0), topic_id = pg_get_opt(r, i, 1);
    lv_search_row row = { .entry = entry.set, .id = (uint64_t)(entry.set ? entry.v : topic_id.v),
                          .rank = pg_get_double(r, i, 2), .topic = pg_get_opt(r, i, 3),
                          .topic_title = pg_get_str(r, i, 4), .course = pg_get_opt(r, i, 5),
                          .user_id = pg_get_opt(r, i, 6), .created_at = pg_get_opt(r, i, 7),
                          .html = pg_get_str(r, i, 8) };
    return ((lv_search_fn)rd->fn)(rd->ctx, &row, err);
}

/* Ranked by ts_rank with the title's words weighing 1.0 and the text's 0.4, negated so that lower is
 * better as the contract says, ties by key. */
lv_status pg_search(lv_store *base, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!q->n_terms)
        return lv_fail(err, LV_EINVAL, "a search needs at least one term");
    lv_buf tsq;
    lv_buf_init(&tsq);
    build_tsquery(q, &tsq);
    pg_params p;
    pg_params_init(&p);
    pg_str(&p, (lv_str){ tsq.data, tsq.len });
    pg_int(&p, (int64_t)q->course);
    pg_int(&p, q->since_ms);
    pg_int(&p, q->until_ms);
    pg_int(&p, q->limit);
    pg_int(&p, q->offset);
    reader rd = READER(fn, ctx, fill_search);
    lv_status st = rows(s,
        "WITH m AS (SELECT d.key, d.entry_id, d.topic_id, -ts_rank('{0.1, 0.2, 0.4, 1.0}', d.words, q.q) AS rank"
        " FROM search_docs d, to_tsquery('simple', $1::text) q(q) WHERE d.words @@ q.q)"
        " SELECT m.entry_id, m.topic_id, m.rank, e.topic, coalesce(te.title, tt.title),"
        " coalesce(te.context_id, tt.context_id), e.user_id, coalesce(e.created_at, tt.created_at),"
        " coalesce(e.text, tt.body) FROM m"
        " LEFT JOIN entries e ON e.id = m.entry_id"
        " LEFT JOIN topics te ON te.id = e.topic"
        " LEFT JOIN topics tt ON tt.id = m.topic_id"
        " WHERE ($2::bigint = 0 OR coalesce(te.context_id, tt.context_id) = $2::bigint)"
        " AND coalesce(e.created_at, tt.created_at, 0) >= $3 AND coalesce(e.created_at, tt.created_at, 0) < $4"
        " ORDER BY m.rank, m.key LIMIT $5 OFFSET $6", &p, &rd, "cannot search", err);
    lv_buf_free(&tsq);
    return st;
}

/* ---- export ---- */

typedef struct export_ctx {
    lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err);
    void *ctx;
} export_ctx;

/* An int8 column of a binary result (network byte order). */
static bool get_be64(const PGresult *r, int col, int64_t *v)
{
    if (lv_pq.PQgetlength(r, 0, col) != 8)
        return false;
    const unsigned char *b = (const unsigned char *)lv_pq.PQgetvalue(r, 0, col);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | b[i];
    *v = (int64_t)u;
    return true;
}

/* One row (raw, raw_len, dict) of a binary result: the document decompressed, handed to emit. */
static lv_status export_row(pg_store *s, const PGresult *r, export_ctx *e, lv_error *err)
{
    int64_t raw_len = 0, dict_id = 0;
    if (!get_be64(r, 1, &raw_len) || (!pg_isnull(r, 0, 2) && !get_be64(r, 2, &dict_id)))
        return lv_fail(err, LV_EDAMAGED, "a stored document in %s cannot be read back (its length or dictionary is "
                       "not an integer): the store is damaged", s->base.location);
    const lv_dict *d = NULL;
    for (size_t i = 0; dict_id && !d && i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == dict_id)
            d = s->dicts[i];
    if (dict_id && !d)
        return lv_fail(err, LV_EDAMAGED, "compression dictionary %lld is missing from %s: the store is damaged",
                       (long long)dict_id, s->base.location);
    lv_error derr;
    if (lv_decompress(s->z, d, lv_pq.PQgetvalue(r, 0, 0), (size_t)lv_pq.PQgetlength(r, 0, 0), (size_t)raw_len,
                      &s->raw, &derr) != LV_OK)
        return lv_fail(err, LV_EDAMAGED, "a stored document in %s cannot be read back (%s): the store is damaged",
                       s->base.location, derr.msg);
    return e->emit(e->ctx, s->raw.data, s->raw.len, err);
}

static lv_status load_dict_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)ctx;
    return pg_dict(s, pg_get_int(r, i, 0), err) ? LV_OK : (err ? err->status : LV_EDAMAGED);
}

static lv_status export_each(pg_store *s, const PGresult *r, void *ctx, lv_error *err)
{
    return export_row(s, r, ctx, err);
}

/* The documents' bytes as stored, not as hex text of twice their size decoded by levee. The
 * dictionaries are loaded first, in the same snapshot (a repeatable-read transaction of its own, or
 * the open one). */
static lv_status export_stream(pg_store *s, const char *sql, const pg_params *p, export_ctx *e, lv_error *err)
{
    static const char what[] = "cannot read the store";
    bool own;
    lv_status st = stream_begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &own, what, err);
    if (st == LV_OK)
        st = pg_each(s, "SELECT id FROM dicts ORDER BY id", NULL, load_dict_row, NULL, what, err);
    if (st == LV_OK)
        st = stream_rows(s, sql, p, export_each, e, what, err);
    return stream_end(s, own, st, what, err);
}

lv_status pg_export(lv_store *base, const lv_export_filter *f,
                    lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err), void *ctx,
                    lv_error *err)
{
    pg_store *s = (pg_store *)base;
    lv_buf sql;
    lv_buf_init(&sql);
    pg_params p;
    pg_params_init(&p);
    if (f->dead_letters) {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM dead_letters WHERE raw IS NOT NULL ORDER BY id");
    } else {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM events WHERE raw IS NOT NULL");
        if (f->event || f->has_since || f->has_until || f->course) {
            lv_buf_puts(&sql, " AND id IN (SELECT coalesce(doc, id) FROM events WHERE true");
            if (f->event) {
                pg_cstr(&p, f->event);
                lv_buf_printf(&sql, " AND name = (SELECT id FROM names WHERE name = $%d)", p.n);
            }
            if (f->has_since) {
                pg_int(&p, f->since_ms);
                lv_buf_printf(&sql, " AND time >= $%d", p.n);
            }
            if (f->has_until) {
                pg_int(&p, f->until_ms);
                lv_buf_printf(&sql, " AND time < $%d", p.n);
            }
            if (f->course) {
                pg_int(&p, (int64_t)f->course);
                lv_buf_printf(&sql, " AND context_id = $%d", p.n);
            }
            lv_buf_puts(&sql, ")");
        }
        lv_buf_puts(&sql, " ORDER BY id");
    }
    export_ctx e = { emit, ctx };
    lv_status st = export_stream(s, sql.data, &p, &e, err);
    pg_params_free(&p);
    lv_buf_free(&sql);
    return st;
}

static lv_status shard_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    (void)err;
    void **c = ctx;
    uint64_t *out = c[0];
    size_t max = *(size_t *)c[1], *n = c[2];
    if (*n < max)
        out[(*n)++] = (uint64_t)pg_get_int(r, i, 0);
    return LV_OK;
}

lv_status pg_shards(lv_store *base, uint64_t *out, size_t max, size_t *n, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *n = 0;
    void *ctx[3] = { out, &max, n };
    return pg_each(s, "SELECT DISTINCT shard FROM accounts WHERE shard > 0 ORDER BY shard", NULL, shard_row, ctx,
                   "cannot read the store's shards", err);
}

/* ---- figures ---- */

lv_status pg_stats(lv_store *base, lv_stats_row *out, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *out = (lv_stats_row){ 0 };
    PGresult *r;
    /* bytes on disk: every table, partition, index and TOAST table of levee's schema */
    lv_status st = pg_run(s, -1,
        "SELECT (SELECT coalesce(sum(n), 0) FROM counts),"
        " (SELECT coalesce(max(value), 0) FROM totals WHERE key = 'duplicates'),"
        " (SELECT count(*) FROM dead_letters),"
        " (SELECT value FROM totals WHERE key = 'first_time'),"
        " (SELECT value FROM totals WHERE key = 'last_time'),"
        " (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
        "  WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'm')),"
        " (SELECT coalesce(max(value), 0) FROM totals WHERE key = 'raw_bytes'),"
        /* documents: the events' rows (as many as their counts say: levee check holds them equal) less the
         * rows that point at another's document (few, and indexed: events_doc), not a count of every row */
        " (SELECT coalesce(sum(n), 0) FROM counts) - (SELECT count(*) FROM events WHERE doc IS NOT NULL),"
        " (SELECT count(*) FROM dicts)", NULL, &r, "cannot read the store's figures", err);
    if (st != LV_OK)
        return st;
    out->events = pg_get_int(r, 0, 0);
    out->duplicates = pg_get_int(r, 0, 1);
    out->dead_letters = pg_get_int(r, 0, 2);
    out->first_time = pg_get_opt(r, 0, 3);
    out->last_time = pg_get_opt(r, 0, 4);
    out->bytes_on_disk = pg_get_int(r, 0, 5);
    out->raw_bytes = pg_get_int(r, 0, 6);
    out->documents = pg_get_int(r, 0, 7);
    out->dictionaries = pg_get_int(r, 0, 8);
    lv_pq.PQclear(r);
    return LV_OK;
}

typedef struct figures_ctx {
    lv_event_count_fn counts;
    lv_drift_fn drift;
    void *ctx;
} figures_ctx;

static lv_status count_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    figures_ctx *f = ctx;
    lv_event_count_row row = { .name = pg_get_str(r, i, 0), .canvas = pg_get_int(r, i, 1),
                               .caliper = pg_get_int(r, i, 2), .total = pg_get_int(r, i, 3) };
    return f->counts(f->ctx, &row, err);
}

lv_status pg_event_counts(lv_store *base, lv_event_count_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    figures_ctx f = { .counts = fn, .ctx = ctx };
    return pg_each(s, "SELECT names.name, sum(CASE WHEN format = 0 THEN n ELSE 0 END),"
                      " sum(CASE WHEN format = 1 THEN n ELSE 0 END), sum(n) FROM counts"
                      " JOIN names ON names.id = counts.name GROUP BY names.name"
                      " ORDER BY sum(n) DESC, names.name", NULL, count_row, &f, "cannot read the store's figures", err);
}

static lv_status drift_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err)
{
    (void)s;
    figures_ctx *f = ctx;
    lv_drift_row row = { .name = pg_get_str(r, i, 0), .field = pg_get_str(r, i, 1),
                         .format = pg_get_int(r, i, 2) ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS,
                         .count = pg_get_int(r, i, 3), .first_time = pg_get_int(r, i, 4),
                         .last_time = pg_get_int(r, i, 5) };
    return f->drift(f->ctx, &row, err);
}

lv_status pg_drift(lv_store *base, lv_drift_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    figures_ctx f = { .drift = fn, .ctx = ctx };
    return pg_each(s, "SELECT names.name, field, format, n, first_time, last_time FROM drift"
                      " JOIN names ON names.id = drift.name ORDER BY first_time DESC, names.name, field, format",
                   NULL, drift_row, &f, "cannot read the store's figures", err);
}
