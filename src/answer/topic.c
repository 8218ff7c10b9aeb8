/* topic.c: a discussion topic as `levee query topic` and /api/topics/ID answer it: its current
 * version, its history (each version with the fields it changed, from the stored documents) and
 * its reply tree (replies linked to their parents, including replies whose parent has not arrived,
 * and replies whose parent was erased, under a "[removed]" entry in its place). */
#include "answer.h"

#include <string.h>

/* Replies nested deeper than this are listed under their ancestor at this depth. */
#define MAX_TREE_DEPTH 100

/* ---- the reply tree ---- */

/* One entry of a reply tree: its row, and its place among its siblings. Text and role are offsets
 * into the tree's one text buffer, already escaped as JSON string literals (no allocation per
 * entry, and each text escaped once). */
typedef struct tree_entry {
    int64_t id, parent, user, created, assignment, submission;
    size_t text_at, text_len, role_at, role_len;
    int first_child, next_sibling, last_child;
    bool has_text, has_role, parent_missing;
    bool removed;           /* stands for an erased entry (levee prune, forget) that has replies */
} tree_entry;

typedef struct tree {
    tree_entry *e;
    size_t n, cap;
    lv_buf *text; /* every entry's text and role as JSON string literals (the store's reuse buffer) */
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
    lv_jw_key(w, lv_body_field_names[LV_B_USER_ID]);
    if (e->user)
        write_id(w, (uint64_t)e->user);
    else
        lv_jw_null(w);
    lv_jw_key(w, lv_body_field_names[LV_B_CREATED_AT]);
    if (e->removed)
        lv_jw_null(w);
    else
        write_time(w, e->created);
    lv_jw_key(w, lv_body_field_names[LV_B_TEXT]);
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
        kv_id_value(w, lv_body_field_names[LV_B_ASSIGNMENT_ID], (uint64_t)e->assignment);
    if (e->submission)
        kv_id_value(w, lv_body_field_names[LV_B_SUBMISSION_ID], (uint64_t)e->submission);
    if (e->removed)
        lv_jw_kv_bool(w, "removed", true);
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

/* Appends a text to the tree's buffer as a JSON string literal; false when it is NULL. */
static bool keep_text(tree *t, lv_str s, size_t *at, size_t *len)
{
    *at = t->text->len;
    if (!s.p) {
        *len = 0;
        return false;
    }
    lv_json_quote(t->text, s.p, s.n);
    *len = t->text->len - *at;
    return true;
}

static lv_status add_entry(void *ctx, const lv_entry_row *row, lv_error *err)
{
    (void)err;
    tree *t = ctx;
    if (t->n == t->cap) {
        lv_vec_reserve((void **)&t->e, &t->cap, t->n + 1, sizeof *t->e, 64);
        lv_prefault(t->e + t->n, (t->cap - t->n) * sizeof *t->e); /* mapped in one call: see lv_prefault */
    }
    tree_entry *e = &t->e[t->n++];
    *e = (tree_entry){ .id = (int64_t)row->id, .parent = or_zero(row->parent), .user = or_zero(row->user_id),
                       .created = row->created_at, .assignment = or_zero(row->assignment_id),
                       .submission = or_zero(row->submission_id),
                       .first_child = -1, .next_sibling = -1, .last_child = -1 };
    e->has_role = keep_text(t, row->role, &e->role_at, &e->role_len);
    e->has_text = keep_text(t, row->text, &e->text_at, &e->text_len);
    return LV_OK;
}

/* Links replies to their parents; returns the first top-level entry (-1 when there is none). */
static int link_tree(tree *t)
{
    id_index idx;
    index_init(&idx, t->n);
    for (size_t i = 0; i < t->n; i++)
        index_put(&idx, t->e[i].id, (int)i);
    int root_first = -1, root_last = -1;
    for (size_t i = 0; i < t->n; i++) {
        int p = t->e[i].parent ? index_get(&idx, t->e[i].parent) : -1;
        if (p < 0 || p == (int)i) {
            /* top level, or a reply whose parent has not arrived yet */
            t->e[i].parent_missing = t->e[i].parent != 0;
            if (root_last >= 0)
                t->e[root_last].next_sibling = (int)i;
            else
                root_first = (int)i;
            root_last = (int)i;
        } else {
            if (t->e[p].last_child >= 0)
                t->e[t->e[p].last_child].next_sibling = (int)i;
            else
                t->e[p].first_child = (int)i;
            t->e[p].last_child = (int)i;
        }
    }
    index_free(&idx);
    return root_first;
}

typedef struct removed_list {
    LV_VEC(int64_t) ids;
} removed_list;

static lv_status add_removed(void *ctx, const int64_t *id, lv_error *err)
{
    (void)err;
    removed_list *r = ctx;
    *lv_vec_push(&r->ids, 16) = *id;
    return LV_OK;
}

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* An entry in place of each erased one that has replies here, so that they show under it. */
static lv_status add_removed_parents(lv_store *s, uint64_t topic, tree *t, lv_error *err)
{
    removed_list r = { 0 };
    lv_status rc = s->engine->removed_entries(s, topic, add_removed, &r, err);
    if (rc != LV_OK || r.ids.n == 0) {
        lv_vec_free(&r.ids);
        return rc;
    }
    id_index idx;
    index_init(&idx, t->n);
    for (size_t i = 0; i < t->n; i++)
        index_put(&idx, t->e[i].id, (int)i);
    size_t n = t->n;
    for (size_t i = 0; i < n; i++) {
        int64_t parent = t->e[i].parent;
        if (!parent || index_get(&idx, parent) >= 0 ||
            !bsearch(&parent, r.ids.items, r.ids.n, sizeof parent, compare_i64))
            continue;
        if (t->n == t->cap)
            lv_vec_reserve((void **)&t->e, &t->cap, t->n + 1, sizeof *t->e, 64);
        tree_entry *e = &t->e[t->n];
        /* in the order of its first reply */
        *e = (tree_entry){ .id = parent, .created = t->e[i].created, .removed = true,
                           .first_child = -1, .next_sibling = -1, .last_child = -1 };
        e->has_text = keep_text(t, (lv_str){ "[removed]", 9 }, &e->text_at, &e->text_len);
        index_put(&idx, parent, (int)t->n);
        t->n++;
    }
    index_free(&idx);
    lv_vec_free(&r.ids);
    return LV_OK;
}

static lv_status write_tree(lv_store *s, uint64_t topic, lv_jw *w, size_t *count, lv_error *err)
{
    tree t = { .text = &s->reuse };
    lv_buf_reset(t.text);
    lv_status rc = s->engine->topic_entries(s, topic, add_entry, &t, err);
    size_t received = t.n;
    if (rc == LV_OK)
        rc = add_removed_parents(s, topic, &t, err);
    if (rc == LV_OK) {
        /* The engine gives created order; entries created in the same millisecond go by id. Asking
         * the engine for that second key would make it sort every result; here the rows are checked,
         * and sorted only when some millisecond holds entries out of id order (an import can give
         * thousands the same one). */
        for (size_t i = 1; i < t.n; i++)
            if (by_created_then_id(&t.e[i - 1], &t.e[i]) > 0) {
                qsort(t.e, t.n, sizeof *t.e, by_created_then_id);
                break;
            }
        int root_first = link_tree(&t); /* rows are in order, so children lists come out in order */
        lv_jw_key(w, "entries");
        lv_jw_arr_open(w);
        write_children(w, &t, root_first, 1);
        lv_jw_arr_close(w);
        *count = received;
    }
    free(t.e);
    if (t.text->cap > ((size_t)64 << 20)) /* a huge tree's memory is not kept */
        lv_buf_free(t.text);
    return rc;
}

/* ---- the history ---- */

typedef struct version_list {
    lv_version_row *v;
    size_t n, cap;
} version_list;

static lv_status add_version(void *ctx, const lv_version_row *row, lv_error *err)
{
    (void)err;
    version_list *list = ctx;
    lv_vec_reserve((void **)&list->v, &list->cap, list->n + 1, sizeof *list->v, 16);
    list->v[list->n++] = *row;
    return LV_OK;
}

/* The version's event among the events of its stored document (NULL when it is not there). */
static const lv_event *version_event(lv_arena *a, const lv_buf *raw, uint64_t topic, int64_t time)
{
    char *text = lv_arena_strndup(a, raw->data ? raw->data : "", raw->len);
    lv_doc doc;
    lv_decode(a, text, raw->len, NULL, &doc);
    for (size_t i = 0; i < doc.n_events; i++) {
        const lv_event *ev = &doc.events[i];
        const lv_value *id = lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID);
        if (ev->kind && id->state == LV_SET && lv_value_id(id) == topic && ev->time_ms == time)
            return ev;
    }
    return NULL;
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

static void write_version(lv_jw *w, const lv_event *ev, const lv_event *prev, lv_opt updated_at)
{
    lv_jw_obj_open(w);
    lv_jw_kv_str(w, "event", ev->name, ev->name_len);
    lv_jw_key(w, lv_metadata_fields[LV_M_EVENT_TIME].name);
    write_time(w, ev->time_ms);
    kv_time(w, lv_body_field_names[LV_B_UPDATED_AT], updated_at);
    lv_jw_key(w, lv_metadata_fields[LV_M_USER_ID].name);
    lv_value_write(w, &lv_metadata_fields[LV_M_USER_ID], &ev->meta[LV_M_USER_ID], true);
    lv_jw_key(w, "changes");
    lv_jw_obj_open(w);
    for (size_t f = 0; f < ev->kind->n_fields; f++) {
        const lv_field *field = &ev->kind->fields[f];
        if (field->key == LV_B_UPDATED_AT || field->key == LV_B_DISCUSSION_TOPIC_ID)
            continue;
        if (ev->body[f].state == LV_ABSENT || (prev && same_value(field, &prev->body[f], &ev->body[f])))
            continue;
        lv_jw_key(w, field->name);
        lv_value_write(w, field, &ev->body[f], true);
    }
    lv_jw_obj_close(w);
    lv_jw_obj_close(w);
}

/* Each version of the topic in updated_at order, with the fields it changed. The versions are read
 * first and their documents afterwards, so no engine is asked a question while it answers another. */
static lv_status write_history(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err)
{
    version_list list = { 0 };
    lv_status rc = s->engine->topic_versions(s, topic, add_version, &list, err);
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    lv_buf raw;
    lv_buf_init(&raw);
    const lv_event *prev = NULL;
    lv_jw_key(w, "history");
    lv_jw_arr_open(w);
    for (size_t i = 0; rc == LV_OK && i < list.n; i++) {
        lv_buf_reset(&raw);
        if ((rc = s->engine->event_document(s, list.v[i].event, &raw, err)) != LV_OK)
            break;
        const lv_event *ev = version_event(&a, &raw, topic, list.v[i].time_ms);
        if (!ev)
            continue;
        write_version(w, ev, prev, list.v[i].updated_at);
        prev = ev;
    }
    lv_jw_arr_close(w);
    lv_buf_free(&raw);
    lv_arena_free(&a);
    free(list.v);
    return rc;
}

/* ---- the topic ---- */

static void write_topic_row(lv_jw *w, const lv_topic_row *t, int64_t versions)
{
    lv_jw_key(w, "topic");
    lv_jw_obj_open(w);
    kv_id_value(w, lv_body_field_names[LV_B_DISCUSSION_TOPIC_ID], t->id);
    kv_text(w, lv_body_field_names[LV_B_TITLE], t->title);
    kv_text(w, lv_body_field_names[LV_B_BODY], t->body);
    kv_bool(w, lv_body_field_names[LV_B_IS_ANNOUNCEMENT], t->is_announcement);
    kv_id(w, lv_body_field_names[LV_B_ASSIGNMENT_ID], t->assignment_id);
    kv_id(w, lv_body_field_names[LV_B_CONTEXT_ID], t->context_id);
    kv_text(w, lv_body_field_names[LV_B_CONTEXT_TYPE], t->context_type);
    kv_text(w, lv_body_field_names[LV_B_WORKFLOW_STATE], t->workflow_state);
    kv_time(w, lv_body_field_names[LV_B_LOCK_AT], t->lock_at);
    kv_time(w, lv_body_field_names[LV_B_UPDATED_AT], t->updated_at);
    kv_time(w, lv_body_field_names[LV_B_CREATED_AT], t->created_at);
    kv_id(w, "created_by", t->created_by);
    lv_jw_kv_int(w, "versions", versions);
    lv_jw_obj_close(w);
}

lv_status lv_query_topic(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err)
{
    lv_topic_row row;
    int64_t versions = 0;
    lv_status rc = s->engine->topic(s, topic, &row, &versions, err);
    if (rc == LV_ENOTFOUND)
        return lv_fail(err, LV_ENOTFOUND, "there is no discussion topic %llu in %s", (unsigned long long)topic,
                       lv_store_location(s));
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    write_topic_row(w, &row, versions);
    size_t count = 0;
    if ((rc = write_history(s, topic, w, err)) == LV_OK)
        rc = write_tree(s, topic, w, &count, err);
    if (rc == LV_OK)
        lv_jw_kv_int(w, "entry_count", (int64_t)count);
    lv_jw_obj_close(w);
    return rc;
}
