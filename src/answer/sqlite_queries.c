/* sqlite_queries.c: the questions people ask of the embedded store: a topic with its reply tree and
 * history, a conversation's timeline, a course summary, what a user did, the list of courses, and
 * full-text search. Each answer is written as JSON in the shape docs/api.md documents. */
#include "../keep/sqlite_internal.h"

#include "levee/id.h"
#include "levee/text.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DAY_MS 86400000LL
#define DEFAULT_LIMIT 100
/* Replies nested deeper than this are listed under their ancestor at this depth. */
#define MAX_TREE_DEPTH 100

/* ---- writing columns ---- */

static void kv_id(lv_jw *w, const char *key, sqlite3_stmt *st, int col)
{
    lv_jw_key(w, key);
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        lv_jw_null(w);
        return;
    }
    char text[LV_ID_TEXT_MAX];
    size_t n = lv_id_format((uint64_t)sqlite3_column_int64(st, col), text);
    lv_jw_str(w, text, n);
}

static void kv_id_value(lv_jw *w, const char *key, uint64_t id)
{
    char text[LV_ID_TEXT_MAX];
    size_t n = lv_id_format(id, text);
    lv_jw_kv_str(w, key, text, n);
}

static void write_time(lv_jw *w, int64_t ms)
{
    char text[LV_TIME_TEXT_MAX];
    size_t n = lv_time_format(ms, text);
    lv_jw_str(w, text, n);
}

static void kv_time(lv_jw *w, const char *key, sqlite3_stmt *st, int col)
{
    lv_jw_key(w, key);
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        lv_jw_null(w);
    else
        write_time(w, sqlite3_column_int64(st, col));
}

static void kv_text(lv_jw *w, const char *key, sqlite3_stmt *st, int col)
{
    lv_jw_key(w, key);
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        lv_jw_null(w);
    else
        lv_jw_str(w, (const char *)sqlite3_column_text(st, col), (size_t)sqlite3_column_bytes(st, col));
}

static void kv_bool(lv_jw *w, const char *key, sqlite3_stmt *st, int col)
{
    lv_jw_key(w, key);
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        lv_jw_null(w);
    else
        lv_jw_bool(w, sqlite3_column_int(st, col) != 0);
}

static void write_day(lv_jw *w, int64_t day)
{
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(day, &y, &m, &d);
    char text[16];
    snprintf(text, sizeof text, "%04d-%02u-%02u", (int)y, m, d);
    lv_jw_cstr(w, text);
}

static lv_status prepare(sq_store *s, const char *sql, sqlite3_stmt **st, lv_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot query the store");
    return LV_OK;
}

static unsigned limit_of(const lv_query_window *win)
{
    return win && win->limit ? win->limit : DEFAULT_LIMIT;
}

static void window_json(lv_jw *w, const lv_query_window *win)
{
    lv_jw_key(w, "since");
    if (win->has_since)
        write_time(w, win->since_ms);
    else
        lv_jw_null(w);
    lv_jw_key(w, "until");
    if (win->has_until)
        write_time(w, win->until_ms);
    else
        lv_jw_null(w);
}

/* Window bounds as SQL parameters: everything when not given. */
static int64_t since_of(const lv_query_window *win) { return win->has_since ? win->since_ms : INT64_MIN; }
static int64_t until_of(const lv_query_window *win) { return win->has_until ? win->until_ms : INT64_MAX; }

/* ---- topic ---- */

/* One entry of a reply tree: its row, and its place among its siblings. Text and role are offsets
 * into the tree's one text buffer (no allocation per entry). */
typedef struct tree_entry {
    int64_t id, parent, user, created, assignment, submission;
    size_t text_at, text_len, role_at, role_len;
    int first_child, next_sibling, last_child;
    bool has_text, has_role, parent_missing;
} tree_entry;

/* id -> index, open addressing */
typedef struct id_index {
    int64_t *keys;
    int *values;
    size_t cap;
} id_index;

static void index_init(id_index *x, size_t n)
{
    x->cap = 16;
    while (x->cap < n * 2)
        x->cap *= 2;
    x->keys = lv_xcalloc(x->cap, sizeof *x->keys);
    x->values = lv_xmalloc(x->cap * sizeof *x->values);
    for (size_t i = 0; i < x->cap; i++)
        x->values[i] = -1;
}

static size_t index_slot(const id_index *x, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(h >> 17) & (x->cap - 1);
    while (x->values[i] >= 0 && x->keys[i] != key)
        i = (i + 1) & (x->cap - 1);
    return i;
}

static void index_put(id_index *x, int64_t key, int value)
{
    size_t i = index_slot(x, key);
    x->keys[i] = key;
    x->values[i] = value;
}

static int index_get(const id_index *x, int64_t key)
{
    return x->values[index_slot(x, key)];
}

static void index_free(id_index *x)
{
    free(x->keys);
    free(x->values);
}

typedef struct tree {
    tree_entry *e;
    size_t n;
    lv_buf *text; /* every entry's text and role as JSON string literals (the store's tree_text) */
} tree;

static void write_entry(lv_jw *w, const tree *t, int i, int depth);

static void write_children(lv_jw *w, const tree *t, int first, int depth)
{
    for (int c = first; c >= 0; c = t->e[c].next_sibling)
        write_entry(w, t, c, depth);
}

/* Replies below the depth limit, flattened into the ancestor's list in order. */
static void write_flattened(lv_jw *w, const tree *t, int first)
{
    for (int c = first; c >= 0; c = t->e[c].next_sibling) {
        write_entry(w, t, c, MAX_TREE_DEPTH + 1);
        write_flattened(w, t, t->e[c].first_child);
    }
}

static void write_entry(lv_jw *w, const tree *t, int i, int depth)
{
    const tree_entry *e = &t->e[i];
    lv_jw_obj_open(w);
    kv_id_value(w, "id", (uint64_t)e->id);
    lv_jw_key(w, "user_id");
    if (e->user) {
        char text[LV_ID_TEXT_MAX];
        lv_jw_str(w, text, lv_id_format((uint64_t)e->user, text));
    } else {
        lv_jw_null(w);
    }
    lv_jw_key(w, "created_at");
    write_time(w, e->created);
    lv_jw_key(w, "text");
    if (e->has_text)
        lv_jw_quoted(w, t->text->data + e->text_at, e->text_len);
    else
        lv_jw_null(w);
    lv_jw_key(w, "role");
    if (e->has_role)
        lv_jw_quoted(w, t->text->data + e->role_at, e->role_len);
    else
        lv_jw_null(w);
    if (e->assignment)
        kv_id_value(w, "assignment_id", (uint64_t)e->assignment);
    if (e->submission)
        kv_id_value(w, "submission_id", (uint64_t)e->submission);
    if (e->parent) {
        kv_id_value(w, "parent_id", (uint64_t)e->parent);
        if (e->parent_missing)
            lv_jw_kv_bool(w, "parent_missing", true);
    }
    if (depth <= MAX_TREE_DEPTH) {
        lv_jw_key(w, "replies");
        lv_jw_arr_open(w);
        if (depth == MAX_TREE_DEPTH)
            write_flattened(w, t, e->first_child);
        else
            write_children(w, t, e->first_child, depth + 1);
        lv_jw_arr_close(w);
    }
    lv_jw_obj_close(w);
}

/* Reply order: oldest first, and by id within a millisecond (ids are unique, so the order is total). */
static int by_created_then_id(const void *pa, const void *pb)
{
    const tree_entry *a = pa, *b = pb;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Appends column col's text to the tree's buffer as a JSON string literal; false when it is NULL. */
static bool keep_text(tree *t, sqlite3_stmt *st, int col, size_t *at, size_t *len)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    *at = t->text->len;
    if (!text) {
        *len = 0;
        return false;
    }
    lv_json_quote(t->text, text, (size_t)sqlite3_column_bytes(st, col));
    *len = t->text->len - *at;
    return true;
}

static lv_status write_tree(sq_store *s, uint64_t topic, lv_jw *w, size_t *count, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT id, parent, user_id, role, created_at, text, assignment_id, submission_id"
                              " FROM entries WHERE topic = ?1 ORDER BY created_at", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
    tree t = { .text = &s->tree_text };
    lv_buf_reset(t.text);
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t.n == cap) {
            cap = cap ? cap * 2 : 64;
            t.e = lv_xrealloc(t.e, cap * sizeof *t.e);
            lv_prefault(t.e + t.n, (cap - t.n) * sizeof *t.e);
        }
        tree_entry *e = &t.e[t.n++];
        *e = (tree_entry){ .id = sqlite3_column_int64(st, 0), .parent = sqlite3_column_int64(st, 1),
                           .user = sqlite3_column_int64(st, 2), .created = sqlite3_column_int64(st, 4),
                           .assignment = sqlite3_column_int64(st, 6), .submission = sqlite3_column_int64(st, 7),
                           .first_child = -1, .next_sibling = -1, .last_child = -1 };
        e->has_role = keep_text(&t, st, 3, &e->role_at, &e->role_len);
        e->has_text = keep_text(&t, st, 5, &e->text_at, &e->text_len);
    }
    sqlite3_finalize(st);
    /* The index gives created order; entries created in the same millisecond go by id. Asking SQLite
     * for that second key would make it sort every result; here the rows are checked, and sorted only
     * when some millisecond holds entries out of id order (an import can give thousands the same one). */
    for (size_t i = 1; i < t.n; i++)
        if (by_created_then_id(&t.e[i - 1], &t.e[i]) > 0) {
            qsort(t.e, t.n, sizeof *t.e, by_created_then_id);
            break;
        }
    /* Link replies to parents (rows are in created order, so children lists come out in order). */
    id_index idx;
    index_init(&idx, t.n);
    for (size_t i = 0; i < t.n; i++)
        index_put(&idx, t.e[i].id, (int)i);
    int root_first = -1, root_last = -1;
    for (size_t i = 0; i < t.n; i++) {
        int p = t.e[i].parent ? index_get(&idx, t.e[i].parent) : -1;
        if (p < 0 || p == (int)i) {
            /* top level, or a reply whose parent has not arrived yet */
            t.e[i].parent_missing = t.e[i].parent != 0;
            if (root_last >= 0)
                t.e[root_last].next_sibling = (int)i;
            else
                root_first = (int)i;
            root_last = (int)i;
        } else {
            if (t.e[p].last_child >= 0)
                t.e[t.e[p].last_child].next_sibling = (int)i;
            else
                t.e[p].first_child = (int)i;
            t.e[p].last_child = (int)i;
        }
    }
    index_free(&idx);
    lv_jw_key(w, "entries");
    lv_jw_arr_open(w);
    write_children(w, &t, root_first, 1);
    lv_jw_arr_close(w);
    *count = t.n;
    free(t.e);
    if (t.text->cap > ((size_t)64 << 20)) /* a huge tree's memory is not kept */
        lv_buf_free(t.text);
    return LV_OK;
}

/* The decoded event stored in row `event` (a topic version), from its raw document. */
static const lv_event *stored_event(sq_store *s, lv_arena *a, int64_t event, uint64_t topic,
                                    int64_t time, lv_error *err)
{
    sqlite3_stmt *st;
    if (prepare(s, "SELECT raw, raw_len, dict FROM events WHERE id = (SELECT coalesce(doc, id) FROM events"
                   " WHERE id = ?1)", &st, err) != LV_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, event);
    const lv_event *found = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sq_document(s, st, 0, &s->raw, err) == LV_OK) {
        char *text = lv_arena_strndup(a, s->raw.data, s->raw.len);
        lv_doc doc;
        lv_decode(a, text, s->raw.len, NULL, &doc);
        for (size_t i = 0; i < doc.n_events && !found; i++) {
            const lv_event *ev = &doc.events[i];
            const lv_value *id = lv_event_body(ev, "discussion_topic_id");
            if (ev->kind && id && id->state == LV_SET && lv_value_id(id) == topic && ev->time_ms == time)
                found = ev;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static bool same_value(const lv_field *f, const lv_value *a, const lv_value *b)
{
    if (a->state != b->state)
        return false;
    if (a->state != LV_SET)
        return true;
    switch (f->type) {
    case LV_T_ID: return lv_value_id(a) == lv_value_id(b);
    case LV_T_TIME: return a->ms == b->ms;
    case LV_T_BOOL: return a->boolean == b->boolean;
    default: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    }
}

/* Each version of the topic in updated_at order, with the fields it changed. */
static lv_status write_history(sq_store *s, uint64_t topic, lv_jw *w, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT event, updated_at, time FROM topic_versions WHERE topic = ?1"
                              " ORDER BY updated_at, time, hash", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    const lv_event *prev = NULL;
    lv_jw_key(w, "history");
    lv_jw_arr_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const lv_event *ev = stored_event(s, &a, sqlite3_column_int64(st, 0), topic,
                                          sqlite3_column_int64(st, 2), err);
        if (!ev)
            continue;
        lv_jw_obj_open(w);
        lv_jw_kv_str(w, "event", ev->name, ev->name_len);
        lv_jw_key(w, "event_time");
        write_time(w, ev->time_ms);
        kv_time(w, "updated_at", st, 1);
        lv_jw_key(w, "user_id");
        lv_value_write(w, &lv_metadata_fields[LV_M_USER_ID], &ev->meta[LV_M_USER_ID], true);
        lv_jw_key(w, "changes");
        lv_jw_obj_open(w);
        for (size_t f = 0; f < ev->kind->n_fields; f++) {
            const lv_field *field = &ev->kind->fields[f];
            if (strcmp(field->name, "updated_at") == 0 || strcmp(field->name, "discussion_topic_id") == 0)
                continue;
            if (ev->body[f].state == LV_ABSENT || (prev && same_value(field, &prev->body[f], &ev->body[f])))
                continue;
            lv_jw_key(w, field->name);
            lv_value_write(w, field, &ev->body[f], true);
        }
        lv_jw_obj_close(w);
        lv_jw_obj_close(w);
        prev = ev;
    }
    lv_jw_arr_close(w);
    sqlite3_finalize(st);
    lv_arena_free(&a);
    return LV_OK;
}

lv_status sq_topic(lv_store *base, uint64_t topic, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT id, title, body, is_announcement, assignment_id, context_id, context_type,"
                              " workflow_state, lock_at, updated_at, created_at, created_by,"
                              " (SELECT count(*) FROM topic_versions WHERE topic = topics.id)"
                              " FROM topics WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return lv_fail(err, LV_ENOTFOUND, "there is no discussion topic %llu in %s",
                       (unsigned long long)topic, base->location);
    }
    lv_jw_obj_open(w);
    lv_jw_key(w, "topic");
    lv_jw_obj_open(w);
    kv_id(w, "discussion_topic_id", st, 0);
    kv_text(w, "title", st, 1);
    kv_text(w, "body", st, 2);
    kv_bool(w, "is_announcement", st, 3);
    kv_id(w, "assignment_id", st, 4);
    kv_id(w, "context_id", st, 5);
    kv_text(w, "context_type", st, 6);
    kv_text(w, "workflow_state", st, 7);
    kv_time(w, "lock_at", st, 8);
    kv_time(w, "updated_at", st, 9);
    kv_time(w, "created_at", st, 10);
    kv_id(w, "created_by", st, 11);
    lv_jw_kv_int(w, "versions", sqlite3_column_int64(st, 12));
    lv_jw_obj_close(w);
    sqlite3_finalize(st);
    size_t count = 0;
    if ((rc = write_history(s, topic, w, err)) == LV_OK)
        rc = write_tree(s, topic, w, &count, err);
    if (rc == LV_OK)
        lv_jw_kv_int(w, "entry_count", (int64_t)count);
    lv_jw_obj_close(w);
    return rc;
}

/* ---- conversation ---- */

lv_status sq_conversation(lv_store *base, uint64_t conversation, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT id, created_at, created_by, updated_at FROM conversations WHERE id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)conversation);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return lv_fail(err, LV_ENOTFOUND, "there is no conversation %llu in %s",
                       (unsigned long long)conversation, base->location);
    }
    lv_jw_obj_open(w);
    lv_jw_key(w, "conversation");
    lv_jw_obj_open(w);
    kv_id(w, "conversation_id", st, 0);
    kv_time(w, "created_at", st, 1);
    kv_id(w, "created_by", st, 2);
    kv_time(w, "updated_at", st, 3);
    lv_jw_obj_close(w);
    sqlite3_finalize(st);
    /* messages and forwards, merged in time order */
    if ((rc = prepare(s, "SELECT 'message', id, author, created_at, time FROM messages WHERE conversation = ?1"
                         " UNION ALL SELECT 'forwarded', NULL, user_id, coalesce(updated_at, time), time"
                         " FROM forwards WHERE conversation = ?1 ORDER BY 4, 5, 2", &st, err)) != LV_OK) {
        lv_jw_obj_close(w);
        return rc;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)conversation);
    int64_t messages = 0, forwards = 0;
    lv_jw_key(w, "timeline");
    lv_jw_arr_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        bool message = sqlite3_column_text(st, 0)[0] == 'm';
        lv_jw_obj_open(w);
        lv_jw_kv_cstr(w, "type", message ? "message" : "forwarded");
        if (message) {
            kv_id(w, "message_id", st, 1);
            kv_id(w, "author_id", st, 2);
            kv_time(w, "created_at", st, 3);
            messages++;
        } else {
            kv_id(w, "user_id", st, 2);
            kv_time(w, "updated_at", st, 3);
            forwards++;
        }
        kv_time(w, "event_time", st, 4);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    sqlite3_finalize(st);
    lv_jw_kv_int(w, "message_count", messages);
    lv_jw_kv_int(w, "forward_count", forwards);
    lv_jw_obj_close(w);
    return LV_OK;
}

/* ---- course ---- */

static bool is_staff(const char *role)
{
    return role && (strcmp(role, "TeacherEnrollment") == 0 || strcmp(role, "TaEnrollment") == 0);
}

/* A student post in write_unanswered. */
typedef struct student_post {
    int64_t id, topic, user, created;
} student_post;

/* oldest first (longest waiting), then by id */
static int compare_posts(const void *a, const void *b)
{
    const student_post *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Student posts with no direct reply from a teacher or TA, oldest first. Only the rows shown (one
 * page) have their topic title and text read, so a course with many posts costs one index scan. */
static lv_status write_unanswered(sq_store *s, uint64_t course, const lv_query_window *win, lv_jw *w,
                                  lv_error *err)
{
    sqlite3_stmt *st, *detail;
    lv_status rc = prepare(s, "SELECT e.id, e.parent, e.role, e.topic, e.user_id, e.created_at"
                              " FROM topics t JOIN entries e ON e.topic = t.id WHERE t.context_id = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    if ((rc = prepare(s, "SELECT t.title, e.text FROM entries e LEFT JOIN topics t ON t.id = e.topic"
                         " WHERE e.id = ?1", &detail, err)) != LV_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)course);
    student_post *posts = NULL;
    size_t n_posts = 0, cap_posts = 0;
    int64_t *answered = NULL;
    size_t n_answered = 0, cap_answered = 0;
    int64_t since = since_of(win), until = until_of(win);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(st, 2);
        if (is_staff(role) && sqlite3_column_type(st, 1) != SQLITE_NULL) {
            if (n_answered == cap_answered) {
                cap_answered = cap_answered ? cap_answered * 2 : 256;
                answered = lv_xrealloc(answered, cap_answered * sizeof *answered);
            }
            answered[n_answered++] = sqlite3_column_int64(st, 1);
        }
        int64_t created = sqlite3_column_int64(st, 5);
        if (role && strcmp(role, "StudentEnrollment") == 0 && created >= since && created < until) {
            if (n_posts == cap_posts) {
                cap_posts = cap_posts ? cap_posts * 2 : 256;
                posts = lv_xrealloc(posts, cap_posts * sizeof *posts);
            }
            posts[n_posts++] = (student_post){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 3),
                                               sqlite3_column_int64(st, 4), created };
        }
    }
    sqlite3_finalize(st);
    id_index done;
    index_init(&done, n_answered);
    for (size_t i = 0; i < n_answered; i++)
        index_put(&done, answered[i], 1);
    if (n_posts > 1)
        qsort(posts, n_posts, sizeof *posts, compare_posts);
    unsigned limit = limit_of(win), shown = 0, total = 0;
    lv_buf preview;
    lv_buf_init(&preview);
    lv_jw_key(w, "unanswered");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < n_posts; i++) {
        if (index_get(&done, posts[i].id) >= 0)
            continue;
        total++;
        if (total <= win->offset || shown >= limit)
            continue;
        shown++;
        const char *title = NULL;
        preview.len = 0;
        sqlite3_bind_int64(detail, 1, posts[i].id);
        if (sqlite3_step(detail) == SQLITE_ROW) {
            title = (const char *)sqlite3_column_text(detail, 0);
            const char *html = (const char *)sqlite3_column_text(detail, 1);
            if (html)
                lv_html_to_text(html, (size_t)sqlite3_column_bytes(detail, 1), &preview);
            if (preview.len > 160)
                preview.len = lv_utf8_prefix(preview.data, preview.len, 157);
        }
        lv_jw_obj_open(w);
        kv_id_value(w, "entry_id", (uint64_t)posts[i].id);
        kv_id_value(w, "topic_id", (uint64_t)posts[i].topic);
        lv_jw_kv_cstr(w, "topic_title", title);
        kv_id_value(w, "user_id", (uint64_t)posts[i].user);
        lv_jw_key(w, "created_at");
        write_time(w, posts[i].created);
        int64_t waited = (win->now_ms - posts[i].created) / 1000;
        lv_jw_kv_int(w, "waiting_seconds", waited > 0 ? waited : 0);
        lv_jw_kv_str(w, "preview", preview.data ? preview.data : "", preview.len);
        lv_jw_obj_close(w);
        sqlite3_reset(detail);
    }
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "unanswered_count", total);
    sqlite3_finalize(detail);
    lv_buf_free(&preview);
    free(posts);
    free(answered);
    index_free(&done);
    return LV_OK;
}

/* A statement over one course's days: ?1 the course, ?2 and ?3 the first and last day. */
static lv_status prepare_days(sq_store *s, const char *sql, uint64_t course, int64_t since_day, int64_t until_day,
                              sqlite3_stmt **st, lv_error *err)
{
    lv_status rc = prepare(s, sql, st, err);
    if (rc == LV_OK) {
        sqlite3_bind_int64(*st, 1, (sqlite3_int64)course);
        sqlite3_bind_int64(*st, 2, since_day);
        sqlite3_bind_int64(*st, 3, until_day);
    }
    return rc;
}

lv_status sq_course(lv_store *base, uint64_t course, const lv_query_window *win, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    int64_t since_day = win->has_since ? win->since_ms / DAY_MS : INT64_MIN;
    int64_t until_day = win->has_until ? (win->until_ms - 1) / DAY_MS : INT64_MAX;
    lv_status rc = prepare(s, "SELECT (SELECT count(*) FROM topics WHERE context_id = ?1),"
                              " (SELECT count(*) FROM activity WHERE context_id = ?1)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)course);
    bool known = sqlite3_step(st) == SQLITE_ROW &&
                 (sqlite3_column_int64(st, 0) > 0 || sqlite3_column_int64(st, 1) > 0);
    sqlite3_finalize(st);
    if (!known)
        return lv_fail(err, LV_ENOTFOUND, "there is no course %llu in %s", (unsigned long long)course,
                       base->location);
    lv_jw_obj_open(w);
    kv_id_value(w, "course_id", course);
    window_json(w, win);

    /* topics with their entry counts (in the window) */
    if ((rc = prepare(s, "SELECT t.id, t.title, t.is_announcement, t.workflow_state, t.assignment_id,"
                         " count(e.id), max(e.created_at), t.created_at FROM topics t LEFT JOIN entries e"
                         " ON e.topic = t.id AND e.created_at >= ?2 AND e.created_at < ?3"
                         " WHERE t.context_id = ?1 GROUP BY t.id ORDER BY count(e.id) DESC, t.id"
                         " LIMIT ?4 OFFSET ?5", &st, err)) != LV_OK) {
        lv_jw_obj_close(w);
        return rc;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)course);
    sqlite3_bind_int64(st, 2, since_of(win));
    sqlite3_bind_int64(st, 3, until_of(win));
    sqlite3_bind_int(st, 4, (int)limit_of(win));
    sqlite3_bind_int(st, 5, (int)win->offset);
    lv_jw_key(w, "topics");
    lv_jw_arr_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        lv_jw_obj_open(w);
        kv_id(w, "discussion_topic_id", st, 0);
        kv_text(w, "title", st, 1);
        kv_bool(w, "is_announcement", st, 2);
        kv_text(w, "workflow_state", st, 3);
        lv_jw_kv_bool(w, "graded", sqlite3_column_type(st, 4) != SQLITE_NULL);
        lv_jw_kv_int(w, "entries", sqlite3_column_int64(st, 5));
        kv_time(w, "last_entry_at", st, 6);
        kv_time(w, "created_at", st, 7);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    sqlite3_finalize(st);

    /* active users by role (whole UTC days of the window) */
    if ((rc = prepare_days(s, "SELECT role, count(DISTINCT user_id), sum(n) FROM participants WHERE context_id = ?1"
                              " AND day >= ?2 AND day <= ?3 GROUP BY role ORDER BY count(DISTINCT user_id) DESC, role",
                           course, since_day, until_day, &st, err)) != LV_OK) {
        lv_jw_obj_close(w);
        return rc;
    }
    lv_jw_key(w, "users_by_role");
    lv_jw_obj_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(st, 0);
        lv_jw_key(w, role && *role ? role : "unknown");
        lv_jw_obj_open(w);
        lv_jw_kv_int(w, "users", sqlite3_column_int64(st, 1));
        lv_jw_kv_int(w, "events", sqlite3_column_int64(st, 2));
        lv_jw_obj_close(w);
    }
    lv_jw_obj_close(w);
    sqlite3_finalize(st);

    /* activity per day by event */
    if ((rc = prepare_days(s, "SELECT a.day, n.name, a.n FROM activity a JOIN names n ON n.id = a.name"
                              " WHERE a.context_id = ?1 AND a.day >= ?2 AND a.day <= ?3 ORDER BY a.day, n.name",
                           course, since_day, until_day, &st, err)) != LV_OK) {
        lv_jw_obj_close(w);
        return rc;
    }
    lv_jw_key(w, "activity");
    lv_jw_arr_open(w);
    int64_t day = INT64_MIN, total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t d = sqlite3_column_int64(st, 0);
        if (d != day) {
            if (day != INT64_MIN) {
                lv_jw_obj_close(w);
                lv_jw_kv_int(w, "total", total);
                lv_jw_obj_close(w);
            }
            day = d;
            total = 0;
            lv_jw_obj_open(w);
            lv_jw_key(w, "day");
            write_day(w, d);
            lv_jw_key(w, "events");
            lv_jw_obj_open(w);
        }
        lv_jw_kv_int(w, (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2));
        total += sqlite3_column_int64(st, 2);
    }
    if (day != INT64_MIN) {
        lv_jw_obj_close(w);
        lv_jw_kv_int(w, "total", total);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    sqlite3_finalize(st);

    rc = write_unanswered(s, course, win, w, err);
    lv_jw_obj_close(w);
    return rc;
}

lv_status sq_courses(lv_store *base, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = prepare(s, "SELECT c.context_id, c.events, c.first_day, c.last_day,"
                              " (SELECT count(*) FROM topics t WHERE t.context_id = c.context_id),"
                              " (SELECT count(DISTINCT user_id) FROM participants p WHERE p.context_id = c.context_id)"
                              " FROM (SELECT context_id, sum(n) AS events, min(day) AS first_day, max(day) AS last_day"
                              " FROM activity GROUP BY context_id) c ORDER BY c.events DESC, c.context_id", &st, err);
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    lv_jw_key(w, "courses");
    lv_jw_arr_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        lv_jw_obj_open(w);
        kv_id(w, "course_id", st, 0);
        lv_jw_kv_int(w, "events", sqlite3_column_int64(st, 1));
        lv_jw_key(w, "first_day");
        write_day(w, sqlite3_column_int64(st, 2));
        lv_jw_key(w, "last_day");
        write_day(w, sqlite3_column_int64(st, 3));
        lv_jw_kv_int(w, "topics", sqlite3_column_int64(st, 4));
        lv_jw_kv_int(w, "users", sqlite3_column_int64(st, 5));
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    sqlite3_finalize(st);
    return LV_OK;
}

/* ---- user ---- */

/* One list of what a user did: its key in the answer, its query (bound: ?1 the user, ?2 and ?3 the
 * window, ?4 and ?5 limit and offset) and its columns, in order, as the answer names them. */
typedef enum { COL_ID, COL_TEXT, COL_TIME } column_kind;
#define USER_LIST_COLUMNS 8
typedef struct user_list {
    const char *key;
    const char *sql;
    struct { const char *name; column_kind kind; } columns[USER_LIST_COLUMNS];
} user_list;

static const user_list user_lists[] = {
    { "entries",
      "SELECT e.id, e.topic, t.title, t.context_id, e.created_at, e.text, e.parent, e.role FROM entries e"
      " LEFT JOIN topics t ON t.id = e.topic WHERE e.user_id = ?1 AND e.created_at >= ?2 AND e.created_at < ?3"
      " ORDER BY e.created_at, e.id LIMIT ?4 OFFSET ?5",
      { { "id", COL_ID }, { "topic_id", COL_ID }, { "topic_title", COL_TEXT }, { "course_id", COL_ID },
        { "created_at", COL_TIME }, { "text", COL_TEXT }, { "parent_id", COL_ID }, { "role", COL_TEXT } } },
    { "messages",
      "SELECT id, conversation, created_at FROM messages WHERE author = ?1 AND created_at >= ?2"
      " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
      { { "message_id", COL_ID }, { "conversation_id", COL_ID }, { "created_at", COL_TIME } } },
    { "topics",
      "SELECT id, title, context_id, created_at FROM topics WHERE created_by = ?1 AND created_at >= ?2"
      " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
      { { "discussion_topic_id", COL_ID }, { "title", COL_TEXT }, { "course_id", COL_ID },
        { "created_at", COL_TIME } } },
    { "conversations_started",
      "SELECT id, created_at FROM conversations WHERE created_by = ?1 AND created_at >= ?2"
      " AND created_at < ?3 ORDER BY created_at, id LIMIT ?4 OFFSET ?5",
      { { "conversation_id", COL_ID }, { "created_at", COL_TIME } } },
};

/* Writes "key": [rows...] for one list; *found counts the rows. */
static lv_status write_user_list(sq_store *s, const user_list *list, uint64_t user, const lv_query_window *win,
                                 lv_jw *w, int64_t *found, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = prepare(s, list->sql, &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)user);
    sqlite3_bind_int64(st, 2, since_of(win));
    sqlite3_bind_int64(st, 3, until_of(win));
    sqlite3_bind_int(st, 4, (int)limit_of(win));
    sqlite3_bind_int(st, 5, (int)win->offset);
    lv_jw_key(w, list->key);
    lv_jw_arr_open(w);
    while (sqlite3_step(st) == SQLITE_ROW) {
        ++*found;
        lv_jw_obj_open(w);
        for (int c = 0; c < USER_LIST_COLUMNS && list->columns[c].name; c++) {
            switch (list->columns[c].kind) {
            case COL_ID: kv_id(w, list->columns[c].name, st, c); break;
            case COL_TEXT: kv_text(w, list->columns[c].name, st, c); break;
            case COL_TIME: kv_time(w, list->columns[c].name, st, c); break;
            }
        }
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    sqlite3_finalize(st);
    return LV_OK;
}

lv_status sq_user(lv_store *base, uint64_t user, const lv_query_window *win, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_jw_obj_open(w);
    kv_id_value(w, "user_id", user);
    window_json(w, win);
    int64_t found = 0;
    lv_status rc = LV_OK;
    for (size_t i = 0; i < sizeof user_lists / sizeof *user_lists && rc == LV_OK; i++)
        rc = write_user_list(s, &user_lists[i], user, win, w, &found, err);
    lv_jw_obj_close(w);
    if (rc != LV_OK)
        return rc;
    if (!found && win->offset == 0) {
        sqlite3_stmt *st;
        int64_t events = 0;
        if (prepare(s, "SELECT count(*) FROM participants WHERE user_id = ?1", &st, err) == LV_OK) {
            sqlite3_bind_int64(st, 1, (sqlite3_int64)user);
            if (sqlite3_step(st) == SQLITE_ROW)
                events = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        if (!events)
            return lv_fail(err, LV_ENOTFOUND, "user %llu has posted and sent nothing in %s",
                           (unsigned long long)user, base->location);
    }
    return LV_OK;
}

/* ---- search ---- */

/* Turns what a person typed into an FTS5 query: words (letters, digits, any non-ASCII) become quoted
 * terms that must all match; "quoted phrases" stay phrases; a word ending in * matches as a prefix.
 * Nothing the user types can be FTS5 syntax. Also collects the terms, for snippets. */
static bool build_match(const char *text, lv_buf *match, char ***terms, size_t *n_terms)
{
    *terms = NULL;
    *n_terms = 0;
    bool in_phrase = false;
    const char *p = text;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            if (!in_phrase) {
                if (match->len)
                    lv_buf_putc(match, ' ');
                lv_buf_putc(match, '"');
            } else {
                lv_buf_putc(match, '"');
            }
            in_phrase = !in_phrase;
            p++;
            continue;
        }
        bool word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!word) {
            p++;
            continue;
        }
        const char *start = p;
        while (*p) {
            unsigned char d = (unsigned char)*p;
            if (!(d >= 0x80 || (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || d == '_'))
                break;
            p++;
        }
        size_t len = (size_t)(p - start);
        *terms = lv_xrealloc(*terms, (*n_terms + 1) * sizeof **terms);
        (*terms)[(*n_terms)++] = lv_xstrndup(start, len);
        if (in_phrase) {
            if (match->data && match->data[match->len - 1] != '"')
                lv_buf_putc(match, ' ');
            lv_buf_append(match, start, len);
        } else {
            if (match->len)
                lv_buf_putc(match, ' ');
            lv_buf_putc(match, '"');
            lv_buf_append(match, start, len);
            lv_buf_putc(match, '"');
            if (*p == '*') {
                lv_buf_putc(match, '*');
                p++;
            }
        }
    }
    if (in_phrase)
        lv_buf_putc(match, '"');
    return *n_terms > 0;
}

/* A window of the text around the first term found (case-insensitively), on word boundaries. */
static void make_snippet(const char *text, size_t len, char **terms, size_t n_terms, lv_buf *out)
{
    size_t at = len;
    for (size_t t = 0; t < n_terms; t++) {
        size_t tl = strlen(terms[t]);
        for (size_t i = 0; i + tl <= len && i < at; i++)
            if (strncasecmp(text + i, terms[t], tl) == 0) {
                at = i;
                break;
            }
    }
    if (at == len)
        at = 0;
    size_t start = at > 80 ? at - 80 : 0;
    while (start > 0 && text[start] != ' ')
        start--;
    size_t end = start + 240 < len ? start + 240 : len;
    while (end < len && text[end] != ' ')
        end++;
    /* keep whole UTF-8 characters */
    while (start < len && ((unsigned char)text[start] & 0xC0) == 0x80)
        start++;
    if (start > 0)
        lv_buf_puts(out, "...");
    while (start < end && text[start] == ' ')
        start++;
    lv_buf_append(out, text + start, end - start);
    if (end < len)
        lv_buf_puts(out, "...");
}

lv_status sq_search(lv_store *base, const char *text, uint64_t course, const lv_query_window *win,
                    lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_buf match;
    lv_buf_init(&match);
    char **terms;
    size_t n_terms;
    if (!build_match(text, &match, &terms, &n_terms)) {
        lv_buf_free(&match);
        return lv_fail(err, LV_EINVAL, "\"%s\" has no words to search for", text);
    }
    /* each match comes with its entry or topic, its course and its text */
    sqlite3_stmt *st;
    lv_status rc = prepare(s,
        "SELECT coalesce(d.entry_id, -d.topic_id), r.rank, e.topic, coalesce(te.title, tt.title),"
        " coalesce(te.context_id, tt.context_id), e.user_id, coalesce(e.created_at, tt.created_at),"
        " coalesce(e.text, tt.body), tt.title"
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
        sqlite3_bind_int64(st, 2, (sqlite3_int64)course);
        sqlite3_bind_int64(st, 3, win->has_since ? win->since_ms : INT64_MIN);
        sqlite3_bind_int64(st, 4, win->has_until ? win->until_ms : INT64_MAX);
        sqlite3_bind_int(st, 5, (int)limit_of(win));
        sqlite3_bind_int(st, 6, (int)win->offset);
        lv_jw_obj_open(w);
        lv_jw_kv_cstr(w, "query", text);
        lv_jw_key(w, "terms");
        lv_jw_arr_open(w);
        for (size_t i = 0; i < n_terms; i++)
            lv_jw_cstr(w, terms[i]);
        lv_jw_arr_close(w);
        lv_jw_key(w, "results");
        lv_jw_arr_open(w);
        lv_buf plain, snippet;
        lv_buf_init(&plain);
        lv_buf_init(&snippet);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t rowid = sqlite3_column_int64(st, 0);
            bool entry = rowid > 0;
            lv_jw_obj_open(w);
            lv_jw_kv_cstr(w, "kind", entry ? "entry" : "topic");
            if (entry) {
                kv_id_value(w, "entry_id", (uint64_t)rowid);
                kv_id(w, "topic_id", st, 2);
            } else {
                kv_id_value(w, "topic_id", (uint64_t)-rowid);
            }
            kv_text(w, "topic_title", st, entry ? 3 : 8);
            kv_id(w, "course_id", st, 4);
            kv_id(w, "user_id", st, 5);
            kv_time(w, "created_at", st, 6);
            lv_jw_key(w, "rank");
            lv_jw_double(w, sqlite3_column_double(st, 1));
            lv_buf_reset(&plain);
            lv_buf_reset(&snippet);
            if (!entry && sqlite3_column_text(st, 8)) {
                lv_buf_puts(&plain, (const char *)sqlite3_column_text(st, 8));
                lv_buf_puts(&plain, ": ");
            }
            if (sqlite3_column_text(st, 7))
                lv_html_to_text((const char *)sqlite3_column_text(st, 7), (size_t)sqlite3_column_bytes(st, 7), &plain);
            make_snippet(plain.data ? plain.data : "", plain.len, terms, n_terms, &snippet);
            lv_jw_kv_str(w, "snippet", snippet.data ? snippet.data : "", snippet.len);
            lv_jw_obj_close(w);
        }
        lv_jw_arr_close(w);
        lv_jw_obj_close(w);
        lv_buf_free(&plain);
        lv_buf_free(&snippet);
        if (r != SQLITE_DONE)
            rc = sq_fail(s, err, "cannot search");
        sqlite3_finalize(st);
    }
    for (size_t i = 0; i < n_terms; i++)
        free(terms[i]);
    free(terms);
    lv_buf_free(&match);
    return rc;
}
