/* read.c: the embedded engine's reads for the answers (levee/engine.h): topics and their versions,
 * the stored documents of events, reply trees, conversations, course summaries, the list of courses
 * and what a user did, each one SQL statement whose rows go to the caller as they come. Every step
 * goes through sq_step, so a damaged store is an error, never fewer rows. */
#include "columns.h"

#include <stddef.h>
#include <string.h>

/* ---- rows to callbacks ---- */

/* What a read hands its rows to: the caller's callback (of the read's own type) and context, and
 * what the read was asked about, for rows that carry it. */
typedef struct reader {
    void (*fn)(void);
    void *ctx;
    uint64_t id;
    const void *extra;
} reader;

#define READER(cb, c) ((reader){ .fn = (void (*)(void))(cb), .ctx = (c) })

/* Makes the row of one result and passes it to the callback. */
typedef lv_status (*fill_fn)(sqlite3_stmt *st, const reader *r, lv_error *err);

/* Steps st to its end (or the first error, or a callback that says stop), then finalizes it. */
static lv_status each_row(sq_store *s, sqlite3_stmt *st, const char *what, fill_fn fill, const reader *r,
                          lv_error *err)
{
    bool row = false;
    lv_status rc;
    while ((rc = sq_step(s, st, &row, what, err)) == LV_OK && row)
        if ((rc = fill(st, r, err)) != LV_OK)
            break;
    sqlite3_finalize(st);
    return rc;
}

/* Prepares sql with ?1 bound to id. */
static lv_status prepare_id(sq_store *s, const char *sql, uint64_t id, sqlite3_stmt **st, lv_error *err)
{
    lv_status rc = sq_prepare(s, sql, st, err);
    if (rc == LV_OK)
        sqlite3_bind_int64(*st, 1, (sqlite3_int64)id);
    return rc;
}

/* ---- row memory ---- */

/* Text columns copied into the store's row memory (valid until the next read that fills a row:
 * topic, get_topic, entry_detail), since the statement is gone when the caller reads them. */
static void keep_texts(sq_store *s, sqlite3_stmt *st, const int *cols, lv_str *const *out, int n)
{
    size_t at[8];
    lv_buf_reset(&s->row_text);
    for (int i = 0; i < n; i++) {
        *out[i] = sq_column_str(st, cols[i]);
        at[i] = s->row_text.len;
        if (out[i]->p) {
            lv_buf_append(&s->row_text, out[i]->p, out[i]->n);
            lv_buf_putc(&s->row_text, '\0');
        }
    }
    for (int i = 0; i < n; i++) /* once the buffer has stopped moving */
        if (out[i]->p)
            out[i]->p = s->row_text.data + at[i];
}

/* ---- topics ---- */

lv_status sq_topic(lv_store *base, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    out->id = id;
    *versions = 0;
    lv_status rc = prepare_id(s, "SELECT context_id, context_type, title, body, is_announcement, assignment_id,"
                                 " workflow_state, lock_at, updated_at, version_time, version_hash, version_event,"
                                 " created_at, created_by, search_rowid,"
                                 " (SELECT count(*) FROM topic_versions WHERE topic = topics.id)"
                                 " FROM topics WHERE id = ?1", id, &st, err);
    if (rc != LV_OK)
        return rc;
    bool found = false;
    if ((rc = sq_step(s, st, &found, "cannot read a discussion topic", err)) == LV_OK && !found)
        rc = lv_fail(err, LV_ENOTFOUND, "there is no discussion topic %llu in %s", (unsigned long long)id,
                     base->location);
    if (rc == LV_OK) {
        static const int cols[] = { 1, 2, 3, 6 };
        lv_str *const texts[] = { &out->context_type, &out->title, &out->body, &out->workflow_state };
        keep_texts(s, st, cols, texts, 4);
        out->context_id = sq_column_opt(st, 0);
        out->is_announcement = sq_column_opt(st, 4);
        out->assignment_id = sq_column_opt(st, 5);
        out->lock_at = sq_column_opt(st, 7);
        out->updated_at = sq_column_opt(st, 8);
        out->version_time = sqlite3_column_int64(st, 9);
        if (sqlite3_column_bytes(st, 10) == LV_HASH_BYTES)
            memcpy(out->version_hash, sqlite3_column_blob(st, 10), LV_HASH_BYTES);
        out->version_event = sqlite3_column_int64(st, 11);
        out->created_at = sq_column_opt(st, 12);
        out->created_by = sq_column_opt(st, 13);
        out->search_key = sqlite3_column_int64(st, 14);
        *versions = sqlite3_column_int64(st, 15);
    }
    sqlite3_finalize(st);
    return rc;
}

static lv_status fill_version(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_version_row row = { .event = sqlite3_column_int64(st, 0), .updated_at = sq_column_opt(st, 1),
                           .time_ms = sqlite3_column_int64(st, 2) };
    return ((lv_version_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_topic_versions(lv_store *base, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT event, updated_at, time FROM topic_versions WHERE topic = ?1"
                                 " ORDER BY updated_at, time, hash", topic, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a topic's versions", fill_version, &r, err);
}

lv_status sq_event_document(lv_store *base, int64_t event, lv_buf *out, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT raw, raw_len, dict FROM events WHERE id = (SELECT coalesce(doc, id)"
                                 " FROM events WHERE id = ?1)", (uint64_t)event, &st, err);
    if (rc != LV_OK)
        return rc;
    bool found = false;
    if ((rc = sq_step(s, st, &found, "cannot read a stored document", err)) == LV_OK) {
        if (found)
            rc = sq_document(s, st, 0, out, err);
        else /* only rows the store itself refers to are asked for */
            rc = lv_fail(err, LV_EDAMAGED, "the document of event %lld is missing from %s: the store is damaged",
                         (long long)event, base->location);
    }
    sqlite3_finalize(st);
    return rc;
}

static lv_status fill_entry(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_entry_row row = { .id = (uint64_t)sqlite3_column_int64(st, 0), .topic = r->id,
                         .parent = sq_column_opt(st, 1), .user_id = sq_column_opt(st, 2),
                         .role = sq_column_str(st, 3), .created_at = sqlite3_column_int64(st, 4),
                         .text = sq_column_str(st, 5), .assignment_id = sq_column_opt(st, 6),
                         .submission_id = sq_column_opt(st, 7), .event = sqlite3_column_int64(st, 8) };
    return ((lv_entry_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_topic_entries(lv_store *base, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT id, parent, user_id, role, created_at, text, assignment_id, submission_id,"
                                 " event FROM entries WHERE topic = ?1 ORDER BY created_at", topic, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    r.id = topic;
    return each_row(s, st, "cannot read a topic's entries", fill_entry, &r, err);
}

/* ---- conversations ---- */

lv_status sq_conversation(lv_store *base, uint64_t id, lv_conversation_row *out, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    memset(out, 0, sizeof *out);
    out->id = id;
    lv_status rc = prepare_id(s, "SELECT id, created_at, created_by, updated_at FROM conversations WHERE id = ?1",
                              id, &st, err);
    if (rc != LV_OK)
        return rc;
    bool found = false;
    if ((rc = sq_step(s, st, &found, "cannot read a conversation", err)) == LV_OK && !found)
        rc = lv_fail(err, LV_ENOTFOUND, "there is no conversation %llu in %s", (unsigned long long)id,
                     base->location);
    if (rc == LV_OK) {
        out->created_at = sq_column_opt(st, 1);
        out->created_by = sq_column_opt(st, 2);
        out->updated_at = sq_column_opt(st, 3);
    }
    sqlite3_finalize(st);
    return rc;
}

static lv_status fill_timeline(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    const char *type = (const char *)sqlite3_column_text(st, 0);
    lv_timeline_row row = { .message = type && type[0] == 'm', .message_id = sq_column_opt(st, 1),
                            .user_id = sq_column_opt(st, 2), .at = sq_column_opt(st, 3),
                            .time_ms = sqlite3_column_int64(st, 4) };
    return ((lv_timeline_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_conversation_timeline(lv_store *base, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT 'message', id, author, created_at, time FROM messages WHERE conversation = ?1"
                                 " UNION ALL SELECT 'forwarded', NULL, user_id, coalesce(updated_at, time), time"
                                 " FROM forwards WHERE conversation = ?1 ORDER BY 4, 5, 2", id, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a conversation's timeline", fill_timeline, &r, err);
}

/* ---- courses ---- */

lv_status sq_course_known(lv_store *base, uint64_t course, bool *known, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *known = false;
    lv_status rc = prepare_id(s, "SELECT (SELECT count(*) FROM topics WHERE context_id = ?1),"
                                 " (SELECT count(*) FROM activity WHERE context_id = ?1)", course, &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    if ((rc = sq_step(s, st, &row, "cannot read a course", err)) == LV_OK && row)
        *known = sqlite3_column_int64(st, 0) > 0 || sqlite3_column_int64(st, 1) > 0;
    sqlite3_finalize(st);
    return rc;
}

static lv_status fill_course_topic(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_course_topic_row row = { .id = (uint64_t)sqlite3_column_int64(st, 0), .title = sq_column_str(st, 1),
                                .is_announcement = sq_column_opt(st, 2), .workflow_state = sq_column_str(st, 3),
                                .graded = sqlite3_column_type(st, 4) != SQLITE_NULL,
                                .entries = sqlite3_column_int64(st, 5), .last_entry_at = sq_column_opt(st, 6),
                                .created_at = sq_column_opt(st, 7) };
    return ((lv_course_topic_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_course_topics(lv_store *base, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                           unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT t.id, t.title, t.is_announcement, t.workflow_state, t.assignment_id,"
                                 " count(e.id), max(e.created_at), t.created_at FROM topics t LEFT JOIN entries e"
                                 " ON e.topic = t.id AND e.created_at >= ?2 AND e.created_at < ?3"
                                 " WHERE t.context_id = ?1 GROUP BY t.id ORDER BY count(e.id) DESC, t.id"
                                 " LIMIT ?4 OFFSET ?5", course, &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 2, since_ms);
    sqlite3_bind_int64(st, 3, until_ms);
    sqlite3_bind_int(st, 4, (int)limit);
    sqlite3_bind_int(st, 5, (int)offset);
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a course's topics", fill_course_topic, &r, err);
}

/* A statement over one course's days: ?1 the course, ?2 and ?3 the first and last day. */
static lv_status prepare_days(sq_store *s, const char *sql, uint64_t course, int64_t since_day, int64_t until_day,
                              sqlite3_stmt **st, lv_error *err)
{
    lv_status rc = prepare_id(s, sql, course, st, err);
    if (rc == LV_OK) {
        sqlite3_bind_int64(*st, 2, since_day);
        sqlite3_bind_int64(*st, 3, until_day);
    }
    return rc;
}

static lv_status fill_role(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_role_row row = { .role = sq_column_str(st, 0), .users = sqlite3_column_int64(st, 1),
                        .events = sqlite3_column_int64(st, 2) };
    return ((lv_role_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_course_roles(lv_store *base, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn,
                          void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_days(s, "SELECT role, count(DISTINCT user_id), sum(n) FROM participants WHERE context_id = ?1"
                                   " AND day >= ?2 AND day <= ?3 GROUP BY role"
                                   " ORDER BY count(DISTINCT user_id) DESC, role",
                                course, since_day, until_day, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a course's participants", fill_role, &r, err);
}

static lv_status fill_activity(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_activity_row row = { .day = sqlite3_column_int64(st, 0), .name = sq_column_str(st, 1),
                            .events = sqlite3_column_int64(st, 2) };
    return ((lv_activity_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_course_activity(lv_store *base, uint64_t course, int64_t since_day, int64_t until_day,
                             lv_activity_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_days(s, "SELECT a.day, n.name, a.n FROM activity a JOIN names n ON n.id = a.name"
                                   " WHERE a.context_id = ?1 AND a.day >= ?2 AND a.day <= ?3 ORDER BY a.day, n.name",
                                course, since_day, until_day, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a course's activity", fill_activity, &r, err);
}

static lv_status fill_course_entry(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_course_entry_row row = { .id = (uint64_t)sqlite3_column_int64(st, 0), .parent = sq_column_opt(st, 1),
                                .role = sq_column_str(st, 2), .topic = (uint64_t)sqlite3_column_int64(st, 3),
                                .user_id = sq_column_opt(st, 4), .created_at = sqlite3_column_int64(st, 5) };
    return ((lv_course_entry_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_course_entries(lv_store *base, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, "SELECT e.id, e.parent, e.role, e.topic, e.user_id, e.created_at"
                                 " FROM topics t JOIN entries e ON e.topic = t.id WHERE t.context_id = ?1",
                              course, &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read a course's entries", fill_course_entry, &r, err);
}

lv_status sq_entry_detail(lv_store *base, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *title = *text = (lv_str){ NULL, 0 };
    *found = false;
    lv_status rc = LV_OK;
    if (!s->detail && (rc = sq_prepare(s, "SELECT t.title, e.text FROM entries e LEFT JOIN topics t ON t.id = e.topic"
                                          " WHERE e.id = ?1", &s->detail, err)) != LV_OK)
        return rc;
    sqlite3_stmt *st = s->detail;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)entry);
    if ((rc = sq_step(s, st, found, "cannot read a discussion entry", err)) == LV_OK && *found) {
        static const int cols[] = { 0, 1 };
        lv_str *const texts[] = { title, text };
        keep_texts(s, st, cols, texts, 2);
    }
    sqlite3_reset(st);
    return rc;
}

static lv_status fill_courses(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    lv_courses_row row = { .course = (uint64_t)sqlite3_column_int64(st, 0), .events = sqlite3_column_int64(st, 1),
                           .first_day = sqlite3_column_int64(st, 2), .last_day = sqlite3_column_int64(st, 3),
                           .topics = sqlite3_column_int64(st, 4), .users = sqlite3_column_int64(st, 5) };
    return ((lv_courses_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_courses(lv_store *base, lv_courses_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT c.context_id, c.events, c.first_day, c.last_day,"
                                 " (SELECT count(*) FROM topics t WHERE t.context_id = c.context_id),"
                                 " (SELECT count(DISTINCT user_id) FROM participants p WHERE p.context_id = c.context_id)"
                                 " FROM (SELECT context_id, sum(n) AS events, min(day) AS first_day, max(day) AS last_day"
                                 " FROM activity GROUP BY context_id) c ORDER BY c.events DESC, c.context_id", &st, err);
    if (rc != LV_OK)
        return rc;
    reader r = READER(fn, ctx);
    return each_row(s, st, "cannot read the courses", fill_courses, &r, err);
}

/* ---- users ---- */

/* One list of what a user did: its query (bound: ?1 the user, ?2 and ?3 the window, ?4 and ?5 limit
 * and offset) and, for each result column in order, the member of lv_user_row it fills. */
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
        " LEFT JOIN topics t ON t.id = e.topic WHERE e.user_id = ?1 AND e.created_at >= ?2 AND e.created_at < ?3"
        " ORDER BY e.created_at, e.id LIMIT ?4 OFFSET ?5",
        8, { OPT(id), OPT(topic), STR(title), OPT(course), OPT(created_at), STR(text), OPT(parent), STR(role) } },
    [LV_USER_MESSAGES] = {
        "SELECT id, conversation, created_at FROM messages WHERE author = ?1 AND created_at >= ?2"
        " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
        3, { OPT(id), OPT(topic), OPT(created_at) } },
    [LV_USER_TOPICS] = {
        "SELECT id, title, context_id, created_at FROM topics WHERE created_by = ?1 AND created_at >= ?2"
        " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
        4, { OPT(id), STR(title), OPT(course), OPT(created_at) } },
    [LV_USER_CONVERSATIONS] = {
        "SELECT id, created_at FROM conversations WHERE created_by = ?1 AND created_at >= ?2"
        " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
        2, { OPT(id), OPT(created_at) } },
};

static lv_status fill_user(sqlite3_stmt *st, const reader *r, lv_error *err)
{
    const user_query *q = r->extra;
    lv_user_row row = { 0 };
    for (int c = 0; c < q->n; c++) {
        char *member = (char *)&row + q->columns[c].offset;
        if (q->columns[c].kind == U_OPT)
            *(lv_opt *)member = sq_column_opt(st, c);
        else
            *(lv_str *)member = sq_column_str(st, c);
    }
    return ((lv_user_fn)r->fn)(r->ctx, &row, err);
}

lv_status sq_user_list(lv_store *base, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms,
                       unsigned limit, unsigned offset, lv_user_fn fn, void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if ((unsigned)list >= LV_USER_LISTS)
        return lv_fail(err, LV_EINVAL, "there is no user list %d", (int)list);
    const user_query *q = &user_queries[list];
    sqlite3_stmt *st;
    lv_status rc = prepare_id(s, q->sql, user, &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 2, since_ms);
    sqlite3_bind_int64(st, 3, until_ms);
    sqlite3_bind_int(st, 4, (int)limit);
    sqlite3_bind_int(st, 5, (int)offset);
    reader r = READER(fn, ctx);
    r.extra = q;
    return each_row(s, st, "cannot read what a user did", fill_user, &r, err);
}

lv_status sq_user_events(lv_store *base, uint64_t user, int64_t *events, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *events = 0;
    lv_status rc = prepare_id(s, "SELECT coalesce(sum(n), 0) FROM participants WHERE user_id = ?1", user, &st, err);
    if (rc != LV_OK)
        return rc;
    bool row = false;
    if ((rc = sq_step(s, st, &row, "cannot read a user's figures", err)) == LV_OK && row)
        *events = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}
