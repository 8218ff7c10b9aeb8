/* write.c: the PostgreSQL engine's write operations (levee/engine.h): rows in, through the prepared
 * statements of schema.c. No rule lives here: what to write is decided by keep/projection.c. Duplicates
 * are dropped by unique keys (INSERT ... ON CONFLICT DO NOTHING), never by reading first, so several
 * writers at once store an event once; get_topic and get_conversation lock what they read until commit.
 * Writes that need no answer are queued in libpq's pipeline mode (conn.c's pg_queue), so they cost no
 * round trip of their own. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

/* Runs a prepared write with p, then frees p. A write whose count of changed rows is not asked for is
 * queued (pg_queue): it travels with the next statement that needs an answer, so an event's writes cost
 * one round trip together rather than one each. */
static lv_status write_row(pg_store *s, int stmt, pg_params *p, int64_t *changed, const char *what, lv_error *err)
{
    lv_status st = changed ? pg_cmd(s, stmt, NULL, p, changed, what, err) : pg_queue(s, stmt, p, what, err);
    pg_params_free(p);
    return st;
}

/* Adds a row to a deferred write (defer.c), then frees p. */
static lv_status defer_row(pg_store *s, enum pg_defer kind, pg_params *p, lv_error *err)
{
    lv_status st = pg_defer(s, kind, p, err);
    pg_params_free(p);
    return st;
}

/* An event's columns, as PG_EVENT_INSERT takes them (its name and month made known first). */
static lv_status event_params(pg_store *s, const lv_event_row *r, pg_params *p, lv_error *err)
{
    int64_t name = 0;
    lv_status st = pg_name_id(s, r->name, r->name_len, &name, err);
    if (st == LV_OK)
        st = pg_ensure_month(s, r->time_ms, err);
    if (st != LV_OK)
        return st;
    pg_params_init(p);
    pg_bytes(p, r->hash, LV_HASH_BYTES);
    pg_int(p, name);
    pg_int(p, r->format == LV_FORMAT_CALIPER);
    pg_int(p, r->time_ms);
    pg_opt(p, r->context_id);
    pg_opt(p, r->user_id);
    if (r->doc) {
        pg_int(p, r->doc);
        pg_null(p);
        pg_null(p);
        pg_null(p);
    } else {
        pg_null(p);
        pg_bytes(p, r->raw, r->raw_size);
        pg_int(p, (int64_t)r->raw_len);
        if (r->dict)
            pg_int(p, r->dict);
        else
            pg_null(p);
    }
    pg_int(p, r->received_ms);
    return LV_OK;
}

lv_status pg_put_event(lv_store *base, const lv_event_row *r, int64_t *rowid, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    *rowid = 0;
    lv_status st = event_params(s, r, &p, err);
    if (st != LV_OK)
        return st;
    PGresult *res;
    st = pg_run(s, PG_EVENT_INSERT, NULL, &p, &res, "cannot store an event", err);
    pg_params_free(&p);
    *rowid = st == LV_OK && lv_pq.PQntuples(res) == 1 ? pg_get_int(res, 0, 0) : 0;
    lv_pq.PQclear(res);
    return st;
}

/* Events in one statement (PG_EVENTS_INSERT) up to this many bytes of parameters, then another. */
#define EVENTS_BYTES (8u << 20)

static lv_status insert_events(pg_store *s, pg_rows *rows, int64_t *rowids, size_t n, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_rows_params(rows, &p);
    PGresult *res;
    lv_status st = pg_run(s, PG_EVENTS_INSERT, NULL, &p, &res, "cannot store events", err);
    pg_params_free(&p);
    pg_rows_reset(rows);
    for (size_t i = 0; i < n; i++)
        rowids[i] = 0;
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(res); i++) {
        int64_t at = pg_get_int(res, i, 0);
        if (at < 1 || (size_t)at > n)
            st = lv_fail(err, LV_EINTERNAL, "PostgreSQL answered a batch of %zu events with a row for event %lld "
                         "(%s)", n, (long long)at, s->base.location);
        else
            rowids[at - 1] = pg_get_int(res, i, 1);
    }
    lv_pq.PQclear(res);
    return st;
}

lv_status pg_put_events(lv_store *base, const lv_event_row *r, size_t n, int64_t *rowids, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_rows rows;
    pg_rows_init(&rows, "biiiiiibiii");
    lv_status st = LV_OK;
    size_t from = 0;
    for (size_t i = 0; i < n && st == LV_OK; i++) {
        pg_params p;
        if ((st = event_params(s, &r[i], &p, err)) != LV_OK)
            break;
        pg_rows_add(&rows, &p);
        pg_params_free(&p);
        if (rows.bytes >= EVENTS_BYTES || i + 1 == n) {
            st = insert_events(s, &rows, rowids + from, i + 1 - from, err);
            from = i + 1;
        }
    }
    pg_rows_free(&rows);
    return st;
}

lv_status pg_put_dead_letter(lv_store *base, const lv_dead_row *r, bool *fresh, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_bytes(&p, r->hash, LV_HASH_BYTES);
    pg_int(&p, r->received_ms);
    pg_cstr(&p, r->source);
    pg_int(&p, r->line);
    pg_str(&p, r->errors.p ? r->errors : (lv_str){ "[]", 2 });
    if (r->raw)
        pg_bytes(&p, r->raw, r->raw_size);
    else
        pg_null(&p);
    pg_int(&p, (int64_t)r->raw_len);
    if (r->raw && r->dict)
        pg_int(&p, r->dict);
    else
        pg_null(&p);
    int64_t changed = 0;
    lv_status st = write_row(s, PG_DEAD_INSERT, &p, &changed, "cannot store a dead letter", err);
    *fresh = st == LV_OK && changed == 1;
    return st;
}

lv_status pg_put_account(lv_store *base, uint64_t root_account_id, uint64_t shard, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)root_account_id);
    pg_int(&p, (int64_t)shard);
    return write_row(s, PG_ACCOUNT_INSERT, &p, NULL, "cannot record a root account", err);
}

/* ---- the advisory locks a transaction holds ---- */

/* PostgreSQL's defaults: 64 locks a transaction, 100 connections, no prepared transactions */
#define DEFAULT_LOCK_TABLE (64 * 100)

void pg_set_lock_table(pg_store *s, int64_t entries)
{
    if (entries <= 0)
        entries = DEFAULT_LOCK_TABLE;
    /* a quarter of the table: room for what one more batch locks before the writer looks, and for every
     * other session's locks */
    s->lock_budget = (size_t)(entries / 4 > 64 ? entries / 4 : 64);
}

void pg_forget_locks(pg_store *s)
{
    if (s->n_locks)
        memset(s->locks, 0, s->cap_locks * sizeof *s->locks);
    s->n_locks = 0;
    s->derived_locked = false;
}

static size_t lock_slot(const uint64_t *locks, size_t cap, uint64_t key)
{
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15u) >> 20) & (cap - 1);
    while (locks[i] && locks[i] != key)
        i = (i + 1) & (cap - 1);
    return i;
}

/* One more lock of this transaction (the same lock taken again holds no more of the server's table). */
static void note_lock(pg_store *s, int lock, uint64_t id)
{
    /* ids are below 2^63: twice one, plus its kind, is one key for each; + 1 keeps 0 for an empty slot */
    uint64_t key = (id << 1 | (lock == PG_CONVERSATION_LOCK)) + 1;
    if ((s->n_locks + 1) * 2 > s->cap_locks) {
        uint64_t *old = s->locks;
        size_t old_cap = s->cap_locks;
        s->cap_locks = old_cap ? old_cap * 2 : 256;
        s->locks = lv_xcalloc(s->cap_locks, sizeof *s->locks);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                s->locks[lock_slot(s->locks, s->cap_locks, old[i])] = old[i];
        free(old);
    }
    size_t i = lock_slot(s->locks, s->cap_locks, key);
    if (!s->locks[i]) {
        s->locks[i] = key;
        s->n_locks++;
    }
}

bool pg_txn_full(lv_store *base)
{
    pg_store *s = (pg_store *)base;
    if (!s->lock_budget)
        pg_set_lock_table(s, 0);
    return s->in_txn && s->n_locks >= s->lock_budget;
}

/* Locks an id for the transaction (see PG_TOPIC_LOCK), then reads its row FOR UPDATE: in one round trip,
 * the lock queued before the read (PostgreSQL runs them in order, the read after the lock is held). */
static lv_status locked_read(pg_store *s, int lock, int get, uint64_t id, PGresult **r, const char *what,
                             lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)id);
    lv_status st = s->derived_locked ? LV_OK : pg_queue(s, lock, &p, what, err);
    if (st == LV_OK && !s->derived_locked)
        note_lock(s, lock, id);
    if (st == LV_OK)
        st = pg_run(s, get, NULL, &p, r, what, err);
    pg_params_free(&p);
    return st;
}

lv_status pg_get_topic(lv_store *base, uint64_t id, lv_topic_row *out, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    memset(out, 0, sizeof *out);
    out->id = id;
    *found = false;
    lv_status st = locked_read(s, PG_TOPIC_LOCK, PG_TOPIC_GET, id, &r, "cannot read a topic", err);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) == 1) {
        *found = true;
        lv_buf_reset(&s->row_text);
        static const int cols[4] = { 1, 2, 3, 6 };
        lv_str *texts[4] = { &out->context_type, &out->title, &out->body, &out->workflow_state };
        size_t at[4];
        for (int i = 0; i < 4; i++) {
            *texts[i] = pg_get_str(r, 0, cols[i]);
            at[i] = s->row_text.len;
            if (texts[i]->p) {
                lv_buf_append(&s->row_text, texts[i]->p, texts[i]->n);
                lv_buf_putc(&s->row_text, '\0');
            }
        }
        for (int i = 0; i < 4; i++)
            if (texts[i]->p)
                texts[i]->p = s->row_text.data + at[i];
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
    }
    lv_pq.PQclear(r);
    return LV_OK;
}

lv_status pg_put_topic(lv_store *base, const lv_topic_row *r, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)r->id);
    pg_opt(&p, r->context_id);
    pg_str(&p, r->context_type);
    pg_str(&p, r->title);
    pg_str(&p, r->body);
    pg_opt(&p, r->is_announcement);
    pg_opt(&p, r->assignment_id);
    pg_str(&p, r->workflow_state);
    pg_opt(&p, r->lock_at);
    pg_opt(&p, r->updated_at);
    if (r->updated_at.set) {
        pg_int(&p, r->version_time);
        pg_bytes(&p, r->version_hash, LV_HASH_BYTES);
        pg_int(&p, r->version_event);
    } else {
        pg_null(&p);
        pg_null(&p);
        pg_null(&p);
    }
    pg_opt(&p, r->created_at);
    pg_opt(&p, r->created_by);
    if (r->search_key)
        pg_int(&p, r->search_key);
    else
        pg_null(&p);
    return write_row(s, PG_TOPIC_PUT, &p, NULL, "cannot store a topic", err);
}

lv_status pg_ensure_topic(lv_store *base, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)id);
    pg_opt(&p, context_id);
    pg_str(&p, context_type);
    return write_row(s, PG_TOPIC_ENSURE, &p, NULL, "cannot store a topic", err);
}

lv_status pg_add_topic_version(lv_store *base, uint64_t topic, int64_t event, int64_t updated_at, int64_t time_ms,
                               const unsigned char *hash, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)topic);
    pg_int(&p, event);
    pg_int(&p, updated_at);
    pg_int(&p, time_ms);
    pg_bytes(&p, hash, LV_HASH_BYTES);
    return defer_row(s, PG_DEFER_VERSION, &p, err);
}

static void entry_params(const lv_entry_row *r, pg_params *p)
{
    pg_params_init(p);
    pg_int(p, (int64_t)r->id);
    pg_int(p, (int64_t)r->topic);
    pg_opt(p, r->parent);
    pg_opt(p, r->user_id);
    pg_str(p, r->role);
    pg_int(p, r->created_at);
    pg_str(p, r->text);
    pg_opt(p, r->assignment_id);
    pg_opt(p, r->submission_id);
    pg_int(p, r->event);
}

lv_status pg_put_entry(lv_store *base, const lv_entry_row *r, bool *fresh, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    entry_params(r, &p);
    int64_t changed = 0;
    lv_status st = write_row(s, PG_ENTRY_INSERT, &p, &changed, "cannot store a discussion entry", err);
    *fresh = st == LV_OK && changed == 1;
    return st;
}

lv_status pg_put_entries(lv_store *base, const lv_entry_row *r, size_t n, bool *fresh, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_rows rows;
    pg_rows_init(&rows, "iiiititiii");
    for (size_t i = 0; i < n; i++) {
        pg_params p;
        entry_params(&r[i], &p);
        pg_rows_add(&rows, &p);
        pg_params_free(&p);
        fresh[i] = false;
    }
    pg_params p;
    pg_params_init(&p);
    pg_rows_params(&rows, &p);
    PGresult *res;
    lv_status st = pg_run(s, PG_ENTRIES_INSERT, NULL, &p, &res, "cannot store discussion entries", err);
    pg_params_free(&p);
    pg_rows_free(&rows);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(res); i++) {
        int64_t at = pg_get_int(res, i, 0);
        if (at < 1 || (size_t)at > n)
            st = lv_fail(err, LV_EINTERNAL, "PostgreSQL answered a batch of %zu entries with a row for entry %lld "
                         "(%s)", n, (long long)at, s->base.location);
        else
            fresh[at - 1] = true;
    }
    lv_pq.PQclear(res);
    return st;
}

lv_status pg_set_entry_grading(lv_store *base, uint64_t id, lv_opt assignment_id, lv_opt submission_id, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)id);
    pg_opt(&p, assignment_id);
    pg_opt(&p, submission_id);
    return defer_row(s, PG_DEFER_GRADED, &p, err);
}

lv_status pg_get_conversation(lv_store *base, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    memset(out, 0, sizeof *out);
    out->id = id;
    *found = false;
    if (pg_held_conversation(s, id, out, found))
        return LV_OK; /* locked by this transaction already: as it left it */
    lv_status st = locked_read(s, PG_CONVERSATION_LOCK, PG_CONVERSATION_GET, id, &r, "cannot read a conversation", err);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) == 1) {
        *found = true;
        out->created_at = pg_get_opt(r, 0, 0);
        out->created_by = pg_get_opt(r, 0, 1);
        out->updated_at = pg_get_opt(r, 0, 2);
    }
    lv_pq.PQclear(r);
    pg_hold_conversation(s, out, *found);
    return LV_OK;
}

lv_status pg_put_conversation(lv_store *base, const lv_conversation_row *r, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)r->id);
    pg_opt(&p, r->created_at);
    pg_opt(&p, r->created_by);
    pg_opt(&p, r->updated_at);
    lv_conversation_row held;
    bool found;
    if (!pg_held_conversation(s, r->id, &held, &found))
        return write_row(s, PG_CONVERSATION_PUT, &p, NULL, "cannot store a conversation", err); /* not locked here */
    pg_hold_conversation(s, r, true);
    return defer_row(s, PG_DEFER_CONVERSATION, &p, err);
}

lv_status pg_put_message(lv_store *base, const lv_message_row *r, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)r->id);
    pg_int(&p, (int64_t)r->conversation);
    pg_opt(&p, r->author);
    pg_int(&p, r->created_at);
    pg_int(&p, r->time_ms);
    pg_int(&p, r->event);
    return defer_row(s, PG_DEFER_MESSAGE, &p, err);
}

lv_status pg_put_forward(lv_store *base, const lv_forward_row *r, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)r->conversation);
    pg_int(&p, r->event);
    pg_int(&p, r->time_ms);
    pg_opt(&p, r->user_id);
    pg_opt(&p, r->updated_at);
    return defer_row(s, PG_DEFER_FORWARD, &p, err);
}

lv_status pg_search_add(lv_store *base, int64_t key, lv_opt entry, lv_opt topic, const char *title, const char *text,
                        lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, key);
    pg_opt(&p, entry);
    pg_opt(&p, topic);
    pg_cstr(&p, title ? title : "");
    pg_cstr(&p, text ? text : "");
    return defer_row(s, PG_DEFER_SEARCH, &p, err);
}

lv_status pg_search_remove(lv_store *base, int64_t key, const char *title, const char *text, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    (void)title;
    (void)text; /* the row is found by its key: PostgreSQL keeps the words it indexed */
    /* after the search rows added so far, one of which it may be */
    lv_status st = pg_defer_kind_flush(s, PG_DEFER_SEARCH, err);
    if (st != LV_OK)
        return st;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, key);
    return write_row(s, PG_SEARCH_DELETE, &p, NULL, "cannot index text for search", err);
}

lv_status pg_add_activity(lv_store *base, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    int64_t name_id;
    lv_status st = pg_name_id(s, name, strlen(name), &name_id, err);
    if (st != LV_OK)
        return st;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)course);
    pg_int(&p, day);
    pg_int(&p, name_id);
    pg_int(&p, n);
    return defer_row(s, PG_DEFER_ACTIVITY, &p, err);
}

lv_status pg_add_participant(lv_store *base, uint64_t course, int64_t day, uint64_t user, const char *role, int64_t n,
                             lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)course);
    pg_int(&p, day);
    pg_int(&p, (int64_t)user);
    pg_cstr(&p, role);
    pg_int(&p, n);
    return defer_row(s, PG_DEFER_PARTICIPANT, &p, err);
}

lv_status pg_add_count(lv_store *base, const char *name, lv_format format, int64_t n, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    int64_t name_id;
    lv_status st = pg_name_id(s, name, strlen(name), &name_id, err);
    if (st != LV_OK)
        return st;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, name_id);
    pg_int(&p, format == LV_FORMAT_CALIPER);
    pg_int(&p, n);
    return write_row(s, PG_COUNT_ADD, &p, NULL, "cannot store figures", err);
}

lv_status pg_add_drift(lv_store *base, const char *name, const char *field, lv_format format, int64_t n,
                       int64_t first_time, int64_t last_time, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    int64_t name_id;
    lv_status st = pg_name_id(s, name, strlen(name), &name_id, err);
    if (st != LV_OK)
        return st;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, name_id);
    pg_cstr(&p, field);
    pg_int(&p, format == LV_FORMAT_CALIPER);
    pg_int(&p, n);
    pg_int(&p, first_time);
    pg_int(&p, last_time);
    return write_row(s, PG_DRIFT_ADD, &p, NULL, "cannot store figures", err);
}

static lv_status total(pg_store *s, int stmt, const char *key, int64_t value, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    pg_cstr(&p, key);
    pg_int(&p, value);
    return write_row(s, stmt, &p, NULL, "cannot store figures", err);
}

lv_status pg_add_totals(lv_store *base, const lv_totals *t, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    lv_status st = LV_OK;
    if (t->duplicates)
        st = total(s, PG_TOTAL_ADD, "duplicates", t->duplicates, err);
    if (st == LV_OK && t->raw_bytes)
        st = total(s, PG_TOTAL_ADD, "raw_bytes", t->raw_bytes, err);
    if (st == LV_OK && t->have_span)
        st = total(s, PG_TOTAL_MIN, "first_time", t->first_time, err);
    if (st == LV_OK && t->have_span)
        st = total(s, PG_TOTAL_MAX, "last_time", t->last_time, err);
    return st;
}
