/* write.c: the embedded engine's write operations (levee/engine.h): rows in, through the prepared
 * statements of schema.c. No rule lives here: what to write is decided by keep/projection.c. */
#include "sqlite.h"

#include <string.h>

static void bind_opt(sqlite3_stmt *st, int col, lv_opt v)
{
    if (v.set)
        sqlite3_bind_int64(st, col, v.v);
    else
        sqlite3_bind_null(st, col);
}

static void bind_str(sqlite3_stmt *st, int col, lv_str v)
{
    if (v.p)
        sqlite3_bind_text(st, col, v.p, (int)v.n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static lv_opt column_opt(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return (lv_opt){ 0, false };
    return lv_some(sqlite3_column_int64(st, col));
}

lv_status sq_put_event(lv_store *base, const lv_event_row *r, int64_t *rowid, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int64_t name = 0;
    lv_status rc = sq_name_id(s, r->name, r->name_len, &name, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_EVENT_INSERT];
    sqlite3_bind_blob(st, 1, r->hash, LV_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, name);
    sqlite3_bind_int(st, 3, r->format == LV_FORMAT_CALIPER);
    sqlite3_bind_int64(st, 4, r->time_ms);
    bind_opt(st, 5, r->context_id);
    bind_opt(st, 6, r->user_id);
    if (r->doc) {
        sqlite3_bind_int64(st, 7, r->doc);
    } else {
        sqlite3_bind_blob(st, 8, r->raw, (int)r->raw_size, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)r->raw_len);
        if (r->dict)
            sqlite3_bind_int64(st, 10, r->dict);
    }
    sqlite3_bind_int64(st, 11, r->received_ms);
    if ((rc = sq_exec_step(s, st, "cannot store an event", err)) != LV_OK)
        return rc;
    *rowid = sqlite3_changes(s->db) ? sqlite3_last_insert_rowid(s->db) : 0;
    return LV_OK;
}

lv_status sq_put_dead_letter(lv_store *base, const lv_dead_row *r, bool *fresh, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_DEAD_INSERT];
    sqlite3_bind_blob(st, 1, r->hash, LV_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->received_ms);
    sqlite3_bind_text(st, 3, r->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->line);
    sqlite3_bind_text(st, 5, r->errors.p ? r->errors.p : "[]", r->errors.p ? (int)r->errors.n : 2, SQLITE_STATIC);
    if (r->raw) {
        sqlite3_bind_blob(st, 6, r->raw, (int)r->raw_size, SQLITE_STATIC);
        if (r->dict)
            sqlite3_bind_int64(st, 8, r->dict);
    }
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->raw_len);
    lv_status rc = sq_exec_step(s, st, "cannot store a dead letter", err);
    *fresh = rc == LV_OK && sqlite3_changes(s->db) == 1;
    return rc;
}

lv_status sq_put_account(lv_store *base, uint64_t root_account_id, uint64_t shard, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_ACCOUNT_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)root_account_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)shard);
    return sq_exec_step(s, st, "cannot record a root account", err);
}

/* A text column copied into the row's own memory (valid until the next get_topic). */
static lv_str keep_text(sq_store *s, sqlite3_stmt *st, int col, size_t *at)
{
    const char *t = (const char *)sqlite3_column_text(st, col);
    if (!t)
        return (lv_str){ NULL, 0 };
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    *at = s->row_text.len;
    lv_buf_append(&s->row_text, t, n);
    lv_buf_putc(&s->row_text, '\0');
    return (lv_str){ NULL, n }; /* p is set once the buffer has stopped moving */
}

lv_status sq_get_topic(lv_store *base, uint64_t id, lv_topic_row *out, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_TOPIC_GET];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    lv_status rc = sq_step(s, st, found, "cannot read a topic", err);
    memset(out, 0, sizeof *out);
    out->id = id;
    if (rc == LV_OK && *found) {
        lv_buf_reset(&s->row_text);
        size_t at[4] = { 0 };
        lv_str *texts[4] = { &out->context_type, &out->title, &out->body, &out->workflow_state };
        static const int cols[4] = { 1, 2, 3, 6 };
        bool set[4];
        for (int i = 0; i < 4; i++) {
            *texts[i] = keep_text(s, st, cols[i], &at[i]);
            set[i] = sqlite3_column_type(st, cols[i]) != SQLITE_NULL;
        }
        for (int i = 0; i < 4; i++)
            if (set[i])
                texts[i]->p = s->row_text.data + at[i];
        out->context_id = column_opt(st, 0);
        out->is_announcement = column_opt(st, 4);
        out->assignment_id = column_opt(st, 5);
        out->lock_at = column_opt(st, 7);
        out->updated_at = column_opt(st, 8);
        out->version_time = sqlite3_column_int64(st, 9);
        if (sqlite3_column_bytes(st, 10) == LV_HASH_BYTES)
            memcpy(out->version_hash, sqlite3_column_blob(st, 10), LV_HASH_BYTES);
        out->version_event = sqlite3_column_int64(st, 11);
        out->created_at = column_opt(st, 12);
        out->created_by = column_opt(st, 13);
        out->search_key = sqlite3_column_int64(st, 14);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

lv_status sq_put_topic(lv_store *base, const lv_topic_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_TOPIC_PUT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
    bind_opt(st, 2, r->context_id);
    bind_str(st, 3, r->context_type);
    bind_str(st, 4, r->title);
    bind_str(st, 5, r->body);
    bind_opt(st, 6, r->is_announcement);
    bind_opt(st, 7, r->assignment_id);
    bind_str(st, 8, r->workflow_state);
    bind_opt(st, 9, r->lock_at);
    bind_opt(st, 10, r->updated_at);
    if (r->updated_at.set) {
        sqlite3_bind_int64(st, 11, r->version_time);
        sqlite3_bind_blob(st, 12, r->version_hash, LV_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, r->version_event);
    }
    bind_opt(st, 14, r->created_at);
    bind_opt(st, 15, r->created_by);
    if (r->search_key)
        sqlite3_bind_int64(st, 16, r->search_key);
    return sq_exec_step(s, st, "cannot store a topic", err);
}

lv_status sq_ensure_topic(lv_store *base, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_TOPIC_ENSURE];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    bind_opt(st, 2, context_id);
    bind_str(st, 3, context_type);
    return sq_exec_step(s, st, "cannot store a topic", err);
}

lv_status sq_add_topic_version(lv_store *base, uint64_t topic, int64_t event, int64_t updated_at, int64_t time_ms,
                               const unsigned char *hash, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_TOPIC_VERSION];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
    sqlite3_bind_int64(st, 2, event);
    sqlite3_bind_int64(st, 3, updated_at);
    sqlite3_bind_int64(st, 4, time_ms);
    sqlite3_bind_blob(st, 5, hash, LV_HASH_BYTES, SQLITE_STATIC);
    return sq_exec_step(s, st, "cannot store a topic version", err);
}

lv_status sq_put_entry(lv_store *base, const lv_entry_row *r, bool *fresh, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_ENTRY_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->topic);
    bind_opt(st, 3, r->parent);
    bind_opt(st, 4, r->user_id);
    bind_str(st, 5, r->role);
    sqlite3_bind_int64(st, 6, r->created_at);
    bind_str(st, 7, r->text);
    bind_opt(st, 8, r->assignment_id);
    bind_opt(st, 9, r->submission_id);
    sqlite3_bind_int64(st, 10, r->event);
    lv_status rc = sq_exec_step(s, st, "cannot store a discussion entry", err);
    *fresh = rc == LV_OK && sqlite3_changes(s->db) == 1;
    return rc;
}

lv_status sq_set_entry_grading(lv_store *base, uint64_t id, lv_opt assignment_id, lv_opt submission_id, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_ENTRY_GRADED];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    bind_opt(st, 2, assignment_id);
    bind_opt(st, 3, submission_id);
    return sq_exec_step(s, st, "cannot store a discussion entry", err);
}

lv_status sq_get_conversation(lv_store *base, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_CONVERSATION_GET];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    lv_status rc = sq_step(s, st, found, "cannot read a conversation", err);
    memset(out, 0, sizeof *out);
    out->id = id;
    if (rc == LV_OK && *found) {
        out->created_at = column_opt(st, 0);
        out->created_by = column_opt(st, 1);
        out->updated_at = column_opt(st, 2);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

lv_status sq_put_conversation(lv_store *base, const lv_conversation_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_CONVERSATION_PUT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
    bind_opt(st, 2, r->created_at);
    bind_opt(st, 3, r->created_by);
    bind_opt(st, 4, r->updated_at);
    return sq_exec_step(s, st, "cannot store a conversation", err);
}

lv_status sq_put_message(lv_store *base, const lv_message_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_MESSAGE_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)r->conversation);
    bind_opt(st, 3, r->author);
    sqlite3_bind_int64(st, 4, r->created_at);
    sqlite3_bind_int64(st, 5, r->time_ms);
    sqlite3_bind_int64(st, 6, r->event);
    return sq_exec_step(s, st, "cannot store a conversation message", err);
}

lv_status sq_put_forward(lv_store *base, const lv_forward_row *r, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_FORWARD_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->conversation);
    sqlite3_bind_int64(st, 2, r->event);
    sqlite3_bind_int64(st, 3, r->time_ms);
    bind_opt(st, 4, r->user_id);
    bind_opt(st, 5, r->updated_at);
    return sq_exec_step(s, st, "cannot store a conversation forward", err);
}

static lv_status search_text(sq_store *s, int stmt, int64_t key, const char *title, const char *text, lv_error *err)
{
    sqlite3_stmt *st = s->stmt[stmt];
    sqlite3_bind_int64(st, 1, key);
    sqlite3_bind_text(st, 2, title ? title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text ? text : "", -1, SQLITE_STATIC);
    return sq_exec_step(s, st, "cannot index text for search", err);
}

lv_status sq_search_add(lv_store *base, int64_t key, lv_opt entry, lv_opt topic, const char *title, const char *text,
                        lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = search_text(s, SQ_SEARCH_INSERT, key, title, text, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_SEARCH_DOC_INSERT];
    sqlite3_bind_int64(st, 1, key);
    bind_opt(st, 2, entry);
    bind_opt(st, 3, topic);
    return sq_exec_step(s, st, "cannot index text for search", err);
}

lv_status sq_search_remove(lv_store *base, int64_t key, const char *title, const char *text, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = search_text(s, SQ_SEARCH_DELETE, key, title, text, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_SEARCH_DOC_DELETE];
    sqlite3_bind_int64(st, 1, key);
    return sq_exec_step(s, st, "cannot index text for search", err);
}

lv_status sq_add_activity(lv_store *base, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int64_t name_id;
    lv_status rc = sq_name_id(s, name, strlen(name), &name_id, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_ACTIVITY_ADD];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)course);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int64(st, 3, name_id);
    sqlite3_bind_int64(st, 4, n);
    return sq_exec_step(s, st, "cannot store figures", err);
}

lv_status sq_add_participant(lv_store *base, uint64_t course, int64_t day, uint64_t user, const char *role, int64_t n,
                             lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st = s->stmt[SQ_PARTICIPANT_ADD];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)course);
    sqlite3_bind_int64(st, 2, day);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)user);
    sqlite3_bind_text(st, 4, role, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, n);
    return sq_exec_step(s, st, "cannot store figures", err);
}

lv_status sq_add_count(lv_store *base, const char *name, lv_format format, int64_t n, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int64_t name_id;
    lv_status rc = sq_name_id(s, name, strlen(name), &name_id, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_COUNT_ADD];
    sqlite3_bind_int64(st, 1, name_id);
    sqlite3_bind_int64(st, 2, format == LV_FORMAT_CALIPER);
    sqlite3_bind_int64(st, 3, n);
    return sq_exec_step(s, st, "cannot store figures", err);
}

lv_status sq_add_drift(lv_store *base, const char *name, const char *field, lv_format format, int64_t n,
                       int64_t first_time, int64_t last_time, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    int64_t name_id;
    lv_status rc = sq_name_id(s, name, strlen(name), &name_id, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_DRIFT_ADD];
    sqlite3_bind_int64(st, 1, name_id);
    sqlite3_bind_text(st, 2, field, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, format == LV_FORMAT_CALIPER);
    sqlite3_bind_int64(st, 4, n);
    sqlite3_bind_int64(st, 5, first_time);
    sqlite3_bind_int64(st, 6, last_time);
    return sq_exec_step(s, st, "cannot store figures", err);
}

static lv_status total(sq_store *s, int stmt, const char *key, int64_t value, lv_error *err)
{
    sqlite3_stmt *st = s->stmt[stmt];
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    return sq_exec_step(s, st, "cannot store figures", err);
}

lv_status sq_add_totals(lv_store *base, const lv_totals *t, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_status rc = LV_OK;
    if (t->duplicates)
        rc = total(s, SQ_TOTAL_ADD, "duplicates", t->duplicates, err);
    if (rc == LV_OK && t->raw_bytes)
        rc = total(s, SQ_TOTAL_ADD, "raw_bytes", t->raw_bytes, err);
    if (rc == LV_OK && t->have_span)
        rc = total(s, SQ_TOTAL_MIN, "first_time", t->first_time, err);
    if (rc == LV_OK && t->have_span)
        rc = total(s, SQ_TOTAL_MAX, "last_time", t->last_time, err);
    return rc;
}
