/* projection.c: the rules that turn events into state, written once for every engine. A batch's
 * events are stored (the engine drops duplicates by time and key), rejected documents are kept as
 * dead letters, and each modelled event updates what it is about:
 *
 * - a topic shows its current version: the event with the greatest (updated_at, event time, key),
 *   so the result does not depend on arrival order; its creation time is the earliest
 *   discussion_topic_created, with that event's user; every version is listed in its history;
 * - an entry is stored once (its created and submitted twins carry the same post: the second adds
 *   the grading ids the first lacked); a reply may come before its parent or its topic: the entry
 *   is kept as is, and a stand-in topic row (its context only) holds the topic's place until the
 *   topic's own event arrives (the reply tree links replies to parents when it is read);
 * - a conversation's creation is its earliest conversation_created (with its user), its update
 *   time the latest known; messages and forwards are kept once each;
 * - figures (events per course, day and name; participants per day and role; events per name and
 *   format; duplicates, raw bytes and the span of event times) are tallied in memory during the
 *   transaction and added to the store once, at commit: adding commutes, so figures from several
 *   writers add up.
 *
 * The engine stores rows and answers lookups (levee/engine.h); it holds none of these rules. */
#include "keep.h"

#include "levee/id.h"
#include "levee/text.h"

#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

struct lv_projection {
    bool in_txn;
    /* figures of the open transaction */
    lv_tally activity;     /* (course, day, name) -> events */
    lv_tally participants; /* (course, day, user, role) -> events */
    lv_tally counts;       /* (name, format) -> events */
    lv_tally drift, drift_first, drift_last; /* (name, field, format) -> events, first and last time */
    char **fields;         /* drift's fields, interned for this transaction (a field's key is its index + 1) */
    size_t n_fields;
    lv_totals totals;
    /* names and roles interned for the tallies' keys (kept across transactions) */
    char **names;
    size_t n_names;
    char **roles;
    size_t n_roles;
    /* what this store already holds (valid while nothing is rolled back) */
    lv_tally topics_known; /* topics with a row: no stand-in needed */
    lv_tally accounts;     /* root accounts recorded */
    lv_buf scratch;        /* a dead letter's diagnostics */
    /* the people forgotten (levee forget), read again in every transaction: (user) -> 1 */
    lv_tally forgotten;
    bool forgotten_read;
    /* events were erased in this transaction: the figures are settled after they are written */
    bool erased;
};

lv_projection *lv_projection_new(void)
{
    lv_projection *p = lv_xcalloc(1, sizeof *p);
    lv_buf_init(&p->scratch);
    return p;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void lv_projection_free(lv_projection *p)
{
    if (!p)
        return;
    lv_tally_free(&p->activity);
    lv_tally_free(&p->participants);
    lv_tally_free(&p->counts);
    lv_tally_free(&p->drift);
    lv_tally_free(&p->drift_first);
    lv_tally_free(&p->drift_last);
    free_strings(p->fields, p->n_fields);
    lv_tally_free(&p->topics_known);
    lv_tally_free(&p->accounts);
    lv_tally_free(&p->forgotten);
    free_strings(p->names, p->n_names);
    free_strings(p->roles, p->n_roles);
    lv_buf_free(&p->scratch);
    free(p);
}

void lv_projection_reset(lv_projection *p, bool rolled_back)
{
    p->in_txn = false;
    lv_tally_clear(&p->activity);
    lv_tally_clear(&p->participants);
    lv_tally_clear(&p->counts);
    lv_tally_clear(&p->drift);
    lv_tally_clear(&p->drift_first);
    lv_tally_clear(&p->drift_last);
    free_strings(p->fields, p->n_fields);
    p->fields = NULL;
    p->n_fields = 0;
    memset(&p->totals, 0, sizeof p->totals);
    p->forgotten_read = false;
    p->erased = false;
    if (rolled_back) {
        /* what the transaction wrote is gone: rows it made are no longer known to exist */
        lv_tally_clear(&p->topics_known);
        lv_tally_clear(&p->accounts);
    }
}

/* The index of a string in an interned list (added when new). */
static int64_t intern(char ***list, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*list)[i]) == len && memcmp((*list)[i], s, len) == 0)
            return (int64_t)i;
    *list = lv_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[*n] = lv_xstrndup(s, len);
    return (int64_t)(*n)++;
}

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

/* The visible text of stored HTML, as it was indexed (to take it out of the index again). */
static char *visible(lv_str html)
{
    lv_buf b;
    lv_buf_init(&b);
    if (html.p)
        lv_html_to_text(html.p, html.n, &b);
    lv_buf_putc(&b, '\0');
    return lv_buf_detach(&b, NULL);
}

static int compare_version(int64_t u1, int64_t t1, const unsigned char *h1, int64_t u2, int64_t t2,
                           const unsigned char *h2)
{
    if (u1 != u2)
        return u1 < u2 ? -1 : 1;
    if (t1 != t2)
        return t1 < t2 ? -1 : 1;
    return memcmp(h1, h2, LV_HASH_BYTES);
}

/* ---- what each kind of event does ---- */

static lv_status apply_topic(lv_store *s, const lv_event *ev, int64_t row, const unsigned char *hash,
                             const char *title_text, const char *body_text, lv_error *err)
{
    const lv_engine *e = s->engine;
    uint64_t topic = lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID));
    const lv_value *updated = lv_event_body(ev, LV_B_UPDATED_AT);
    int64_t updated_ms = updated->state == LV_SET ? updated->ms : ev->time_ms;
    lv_topic_row cur, next;
    bool found;
    lv_status rc = e->get_topic(s, topic, &cur, &found, err);
    if (rc != LV_OK)
        return rc;
    bool versioned = found && cur.updated_at.set;
    bool newer = !versioned || compare_version(updated_ms, ev->time_ms, hash, cur.updated_at.v, cur.version_time,
                                               cur.version_hash) > 0;
    bool changed = !found;
    next = found ? cur : (lv_topic_row){ .id = topic };
    bool index = title_text || body_text;
    if (newer) {
        if (versioned && cur.search_key) {
            /* the text shown changes: the old text leaves the index */
            char *old_title = visible(cur.title), *old_body = visible(cur.body);
            rc = e->search_remove(s, cur.search_key, old_title, old_body, err);
            free(old_title);
            free(old_body);
            if (rc != LV_OK)
                return rc;
        }
        const lv_value *ctx = lv_event_body(ev, LV_B_CONTEXT_ID), *ctx_type = lv_event_body(ev, LV_B_CONTEXT_TYPE);
        uint64_t course = lv_event_course(ev);
        if (ctx->state == LV_SET)
            next.context_id = lv_opt_id(ctx);
        else if (course)
            next.context_id = lv_some((int64_t)course);
        if (ctx_type->state == LV_SET)
            next.context_type = lv_str_of(ctx_type);
        next.title = lv_str_of(lv_event_body(ev, LV_B_TITLE));
        next.body = lv_str_of(lv_event_body(ev, LV_B_BODY));
        const lv_value *ann = lv_event_body(ev, LV_B_IS_ANNOUNCEMENT);
        next.is_announcement = ann->state == LV_SET ? lv_some(ann->boolean) : (lv_opt){ 0, false };
        next.assignment_id = lv_opt_id(lv_event_body(ev, LV_B_ASSIGNMENT_ID));
        next.workflow_state = lv_str_of(lv_event_body(ev, LV_B_WORKFLOW_STATE));
        next.lock_at = lv_opt_time(lv_event_body(ev, LV_B_LOCK_AT));
        next.updated_at = lv_some(updated_ms);
        next.version_time = ev->time_ms;
        memcpy(next.version_hash, hash, LV_HASH_BYTES);
        next.version_event = row;
        next.search_key = index ? row : 0;
        changed = true;
    }
    if (ev->kind->action == LV_ACTION_CREATED &&
        (!next.created_at.set || next.created_at.v > ev->time_ms)) {
        next.created_at = lv_some(ev->time_ms);
        next.created_by = lv_opt_id(&ev->meta[LV_M_USER_ID]);
        changed = true;
    }
    if (changed && (rc = e->put_topic(s, &next, err)) != LV_OK)
        return rc;
    if (newer && index &&
        (rc = e->search_add(s, row, (lv_opt){ 0, false }, lv_some((int64_t)topic), title_text, body_text, err)) != LV_OK)
        return rc;
    return e->add_topic_version(s, topic, row, updated_ms, ev->time_ms, hash, err);
}

/* The entry an entry event (stored as row) holds. */
static lv_entry_row entry_row(const lv_event *ev, int64_t row)
{
    const lv_value *created = lv_event_body(ev, LV_B_CREATED_AT);
    return (lv_entry_row){
        .id = lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_ENTRY_ID)),
        .topic = lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID)),
        .parent = lv_opt_id(lv_event_body(ev, LV_B_PARENT_DISCUSSION_ENTRY_ID)),
        .user_id = lv_opt_id(lv_event_body(ev, LV_B_USER_ID)),
        .role = lv_str_of(&ev->meta[LV_M_CONTEXT_ROLE]),
        .created_at = created->state == LV_SET ? created->ms : ev->time_ms,
        .text = lv_str_of(lv_event_body(ev, LV_B_TEXT)),
        .assignment_id = lv_opt_id(lv_event_body(ev, LV_B_ASSIGNMENT_ID)),
        .submission_id = lv_opt_id(lv_event_body(ev, LV_B_SUBMISSION_ID)),
        .event = row,
    };
}

/* known: the entry's put_entry has been done (put_entries), fresh telling what it found; else it is done here. */
static lv_status apply_entry(lv_store *s, lv_projection *p, const lv_event *ev, int64_t row, const char *text,
                             const bool *known, lv_error *err)
{
    const lv_engine *e = s->engine;
    lv_entry_row entry = entry_row(ev, row);
    bool fresh = known && *known;
    lv_status rc = known ? LV_OK : e->put_entry(s, &entry, &fresh, err);
    if (rc == LV_OK)
        rc = e->add_about(s, LV_SUBJECT_ENTRY, entry.id, row, err);
    if (rc != LV_OK)
        return rc;
    if (!fresh) {
        /* the entry is known (its created or submitted twin came first): add what this one knows */
        if (entry.assignment_id.set || entry.submission_id.set)
            return e->set_entry_grading(s, entry.id, entry.assignment_id, entry.submission_id, err);
        return LV_OK;
    }
    if (text && (rc = e->search_add(s, row, lv_some((int64_t)entry.id), (lv_opt){ 0, false }, NULL, text, err)) != LV_OK)
        return rc;
    /* a topic row for entries whose topic has not arrived (once per topic) */
    if (lv_tally_seen(&p->topics_known, (int64_t[4]){ (int64_t)entry.topic, 0, 0, 0 }))
        return LV_OK;
    return lv_projection_stand_in(s, ev, entry.topic, err);
}

lv_status lv_projection_stand_in(lv_store *s, const lv_event *ev, uint64_t topic, lv_error *err)
{
    const lv_engine *e = s->engine;
    uint64_t course = lv_event_course(ev);
    if (course)
        return e->ensure_topic(s, topic, lv_some((int64_t)course), (lv_str){ "Course", 6 }, err);
    return e->ensure_topic(s, topic, lv_opt_id(&ev->meta[LV_M_CONTEXT_ID]), lv_str_of(&ev->meta[LV_M_CONTEXT_TYPE]),
                           err);
}

static bool same_opt(lv_opt a, lv_opt b)
{
    return a.set == b.set && (!a.set || a.v == b.v);
}

static lv_status apply_conversation(lv_store *s, const lv_event *ev, int64_t row, lv_error *err)
{
    const lv_engine *e = s->engine;
    uint64_t id = lv_value_id(lv_event_body(ev, LV_B_CONVERSATION_ID));
    const lv_value *updated = lv_event_body(ev, LV_B_UPDATED_AT), *created = lv_event_body(ev, LV_B_CREATED_AT);
    lv_conversation_row in = { .id = id };
    if (ev->kind->subject == LV_SUBJECT_CONVERSATION && ev->kind->action == LV_ACTION_CREATED) {
        in.created_at = lv_some(ev->time_ms);
        in.created_by = lv_opt_id(&ev->meta[LV_M_USER_ID]);
    }
    in.updated_at = updated->state == LV_SET ? lv_some(updated->ms) : lv_opt_time(created);
    lv_conversation_row cur;
    bool found;
    lv_status rc = e->add_about(s, LV_SUBJECT_CONVERSATION, id, row, err);
    if (rc == LV_OK)
        rc = e->get_conversation(s, id, &cur, &found, err);
    if (rc != LV_OK)
        return rc;
    lv_conversation_row next = found ? cur : in;
    if (found) {
        if (in.created_at.set && (!cur.created_at.set || in.created_at.v < cur.created_at.v)) {
            next.created_at = in.created_at; /* an earlier creation, with its creator */
            next.created_by = in.created_by;
        }
        if (in.updated_at.set && (!cur.updated_at.set || in.updated_at.v > cur.updated_at.v))
            next.updated_at = in.updated_at;
    }
    if (!found || !same_opt(next.created_at, cur.created_at) || !same_opt(next.created_by, cur.created_by) ||
        !same_opt(next.updated_at, cur.updated_at)) {
        if ((rc = e->put_conversation(s, &next, err)) != LV_OK)
            return rc;
    }
    switch (ev->kind->id) {
    case LV_K_CONVERSATION_MESSAGE_CREATED: {
        lv_message_row m = {
            .id = lv_value_id(lv_event_body(ev, LV_B_MESSAGE_ID)),
            .conversation = id,
            .author = lv_opt_id(lv_event_body(ev, LV_B_AUTHOR_ID)),
            .created_at = created->state == LV_SET ? created->ms : ev->time_ms,
            .time_ms = ev->time_ms,
            .event = row,
        };
        return e->put_message(s, &m, err);
    }
    case LV_K_CONVERSATION_FORWARDED: {
        lv_forward_row f = { .conversation = id, .event = row, .time_ms = ev->time_ms,
                             .user_id = lv_opt_id(&ev->meta[LV_M_USER_ID]), .updated_at = lv_opt_time(updated) };
        return e->put_forward(s, &f, err);
    }
    default:
        return LV_OK;
    }
}

/* ---- storing a document's events ---- */

static lv_status note_account(lv_store *s, lv_projection *p, const lv_event *ev, lv_error *err)
{
    const lv_value *root = &ev->meta[LV_M_ROOT_ACCOUNT_ID];
    if (root->state != LV_SET || lv_tally_seen(&p->accounts, (int64_t[4]){ (int64_t)root->id, 0, 0, 0 }))
        return LV_OK;
    return s->engine->put_account(s, root->id, lv_id_shard(root->id), err);
}

/* Fields of drift kept per transaction: beyond, hostile input naming a new member in every event
 * is counted under one key rather than growing memory and the store without bound. */
#define DRIFT_FIELDS_MAX 1024
#define DRIFT_FIELD_MAX_BYTES 200

/* sign: 1 for an event stored, -1 for one erased (whose times the span keeps as those to look at
 * again: lv_projection_drift_erased) */
static void drift_add(lv_projection *p, int64_t name, int64_t field, const lv_event *ev, int sign)
{
    const int64_t key[4] = { name, field, ev->format == LV_FORMAT_CALIPER, 0 };
    lv_tally_add(&p->drift, key, sign);
    lv_tally_min(&p->drift_first, key, ev->time_ms);
    lv_tally_max(&p->drift_last, key, ev->time_ms);
}

/* The members of obj the catalog does not know, as JSON pointers under prefix. */
static void drift_fields(lv_projection *p, int64_t name, const lv_event *ev, const lv_json *obj, bool metadata,
                         int sign)
{
    if (!obj || obj->type != LV_JSON_OBJECT)
        return;
    for (const lv_json *m = obj->child; m; m = m->next) {
        if (metadata ? lv_meta_index(m->key, m->key_len) >= 0 : lv_kind_field_index(ev->kind, m->key, m->key_len) >= 0)
            continue;
        lv_buf path;
        lv_buf_init(&path);
        if (p->n_fields >= DRIFT_FIELDS_MAX) {
            lv_buf_puts(&path, metadata ? "/metadata/(more fields)" : "/body/(more fields)");
        } else {
            lv_buf_puts(&path, metadata ? "/metadata/" : "/body/");
            size_t n = m->key_len < DRIFT_FIELD_MAX_BYTES ? m->key_len : DRIFT_FIELD_MAX_BYTES;
            while (n < m->key_len && n > 0 && ((unsigned char)m->key[n] & 0xC0) == 0x80)
                n--; /* not inside a character */
            for (size_t i = 0; i < n; i++) /* a JSON pointer's token (RFC 6901) */
                lv_buf_puts(&path, m->key[i] == '~' ? "~0" : m->key[i] == '/' ? "~1" : (char[2]){ m->key[i], 0 });
        }
        int64_t field = intern(&p->fields, &p->n_fields, path.data, path.len) + 1;
        lv_buf_free(&path);
        drift_add(p, name, field, ev, sign);
    }
}

/* An event's figures, added (sign 1: stored) or taken away (-1: erased; the span of event times is
 * then left to lv_projection_erased_settle). */
static void tally(lv_projection *p, const lv_event *ev, int sign)
{
    int64_t name = intern(&p->names, &p->n_names, ev->name, ev->name_len);
    if (!ev->kind)
        drift_add(p, name, 0, ev, sign);
    if (ev->unknown_fields && ev->format == LV_FORMAT_CANVAS) {
        drift_fields(p, name, ev, ev->metadata_json, true, sign);
        if (ev->kind)
            drift_fields(p, name, ev, ev->body_json, false, sign);
    }
    int64_t day = floor_day(ev->time_ms);
    uint64_t course = lv_event_course(ev);
    lv_tally_add(&p->counts, (int64_t[4]){ name, ev->format == LV_FORMAT_CALIPER, 0, 0 }, sign);
    if (course) {
        lv_tally_add(&p->activity, (int64_t[4]){ (int64_t)course, day, name, 0 }, sign);
        const lv_value *user = &ev->meta[LV_M_USER_ID], *role = &ev->meta[LV_M_CONTEXT_ROLE];
        if (user->state == LV_SET) {
            int64_t r = role->state == LV_SET ? intern(&p->roles, &p->n_roles, role->str, role->len)
                                              : intern(&p->roles, &p->n_roles, "", 0);
            lv_tally_add(&p->participants, (int64_t[4]){ (int64_t)course, day, (int64_t)lv_value_id(user), r }, sign);
        }
    }
    if (sign < 0)
        return;
    lv_totals *t = &p->totals;
    if (!t->have_span || ev->time_ms < t->first_time)
        t->first_time = ev->time_ms;
    if (!t->have_span || ev->time_ms > t->last_time)
        t->last_time = ev->time_ms;
    t->have_span = true;
}

/* What a stored event does: its figures and the state it is about. holder: its row keeps the
 * document's bytes (the document's bytes count once). */
static lv_status apply_stored(lv_store *s, lv_projection *p, lv_batch_doc *d, size_t e, int64_t row, bool holder,
                              const bool *fresh, lv_counts *c, lv_error *err)
{
    const lv_event *ev = &d->doc.events[e];
    if (holder)
        p->totals.raw_bytes += (int64_t)d->len;
    d->outcome[e] = LV_OUT_STORED;
    d->stored_any = true;
    c->stored++;
    if (!ev->kind)
        c->outside_model++;
    tally(p, ev, 1);
    lv_status rc = note_account(s, p, ev, err);
    if (rc != LV_OK)
        return rc;
    if (!ev->kind)
        return LV_OK;
    switch (ev->kind->subject) {
    case LV_SUBJECT_CONVERSATION:
    case LV_SUBJECT_MESSAGE: return apply_conversation(s, ev, row, err);
    case LV_SUBJECT_TOPIC: return apply_topic(s, ev, row, d->hash[e], d->search_title[e], d->search_text[e], err);
    case LV_SUBJECT_ENTRY: return apply_entry(s, p, ev, row, d->search_text[e], fresh, err);
    }
    return LV_OK;
}

/* When a document arrived: as the journal acknowledged it (levee serve), else now. */
static int64_t arrived(const lv_batch_doc *d)
{
    return d->received_ms ? d->received_ms : lv_now_ms();
}

/* The event's row: what it is, when it arrived, and its document's bytes when it keeps them (doc_row 0)
 * or the row that does. */
static lv_event_row event_row(const lv_batch_doc *d, size_t e, int64_t doc_row, int64_t received_ms)
{
    const lv_event *ev = &d->doc.events[e];
    uint64_t course = lv_event_course(ev);
    lv_event_row er = {
        .hash = d->hash[e], .name = ev->name, .name_len = ev->name_len, .format = ev->format,
        .time_ms = ev->time_ms,
        .context_id = course ? lv_some((int64_t)course) : lv_opt_id(&ev->meta[LV_M_CONTEXT_ID]),
        .user_id = lv_opt_id(&ev->meta[LV_M_USER_ID]),
        .doc = doc_row, .received_ms = received_ms,
    };
    if (!doc_row) {
        er.raw = d->zraw;
        er.raw_size = d->zlen;
        er.raw_len = d->len;
        er.dict = d->dict_id;
    }
    return er;
}

/* What follows an event's put: row 0 (a duplicate) is counted as one, a stored event is applied. */
static lv_status event_put(lv_store *s, lv_projection *p, lv_batch_doc *d, size_t e, int64_t row, int64_t *doc_row,
                           const bool *fresh, lv_counts *c, lv_error *err)
{
    if (row == 0) {
        d->outcome[e] = LV_OUT_DUPLICATE;
        c->duplicates++;
        p->totals.duplicates++;
        return LV_OK;
    }
    bool holder = !*doc_row;
    if (holder)
        *doc_row = row;
    return apply_stored(s, p, d, e, row, holder, fresh, c, err);
}

static lv_status store_event(lv_store *s, lv_projection *p, lv_batch_doc *d, size_t e, int64_t *doc_row,
                             lv_counts *c, lv_error *err)
{
    lv_event_row er = event_row(d, e, *doc_row, arrived(d));
    int64_t row;
    lv_status rc = s->engine->put_event(s, &er, &row, err);
    if (rc != LV_OK)
        return rc;
    return event_put(s, p, d, e, row, doc_row, NULL, c, err);
}

lv_status lv_projection_replay(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t row, bool holder,
                               lv_counts *counts, lv_error *err)
{
    lv_projection *p = s->projection;
    if (!p->in_txn)
        return lv_fail(err, LV_EINVAL, "rebuilding %s outside a transaction", s->location);
    if (doc >= b->n_docs || event >= b->docs[doc]->doc.n_events)
        return lv_fail(err, LV_EINVAL, "replaying an event its batch does not hold");
    return apply_stored(s, p, b->docs[doc], event, row, holder, NULL, counts, err);
}

lv_status lv_projection_copy(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t doc_row, int64_t received_ms,
                             const unsigned char *hash, const unsigned char *webhook_hash, int64_t *row,
                             lv_counts *counts, lv_error *err)
{
    lv_projection *p = s->projection;
    *row = 0;
    if (!p->in_txn)
        return lv_fail(err, LV_EINVAL, "copying into %s outside a transaction", s->location);
    if (doc >= b->n_docs || event >= b->docs[doc]->doc.n_events)
        return lv_fail(err, LV_EINVAL, "copying an event its batch does not hold");
    lv_batch_doc *d = b->docs[doc];
    /* the row keeps the source's key (the one from before schema 7 for an event stored twice then), and
     * so does its topic version, as when it was first stored: a rebuild keys both as the row is */
    memcpy(d->hash[event], hash, LV_HASH_BYTES);
    lv_event_row er = event_row(d, event, doc_row, received_ms);
    lv_status rc = s->engine->put_event(s, &er, row, err);
    if (rc == LV_OK && *row && webhook_hash)
        rc = s->engine->set_webhook_hash(s, *row, er.time_ms, webhook_hash, err);
    if (rc != LV_OK)
        return rc;
    if (*row == 0)
        return lv_fail(err, LV_EINVAL, "%s holds the event %.*s at %lld ms already, which levee copy was about to "
                       "store: it was written by something other than this copy", s->location, (int)er.name_len,
                       er.name, (long long)er.time_ms);
    return apply_stored(s, p, d, event, *row, doc_row == 0, NULL, counts, err);
}

lv_status lv_projection_reapply(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t row, lv_error *err)
{
    lv_projection *p = s->projection;
    if (!p->in_txn)
        return lv_fail(err, LV_EINVAL, "erasing from %s outside a transaction", s->location);
    if (doc >= b->n_docs || event >= b->docs[doc]->doc.n_events)
        return lv_fail(err, LV_EINVAL, "replaying an event its batch does not hold");
    lv_batch_doc *d = b->docs[doc];
    const lv_event *ev = &d->doc.events[event];
    if (!ev->kind)
        return LV_OK;
    switch (ev->kind->subject) {
    case LV_SUBJECT_CONVERSATION:
    case LV_SUBJECT_MESSAGE: return apply_conversation(s, ev, row, err);
    case LV_SUBJECT_TOPIC:
        return apply_topic(s, ev, row, d->hash[event], d->search_title[event], d->search_text[event], err);
    case LV_SUBJECT_ENTRY: return apply_entry(s, p, ev, row, d->search_text[event], NULL, err);
    }
    return LV_OK;
}

void lv_projection_unfigure(lv_projection *p, const lv_event *ev)
{
    tally(p, ev, -1);
    p->erased = true;
}

void lv_projection_erased_bytes(lv_projection *p, int64_t doc_bytes)
{
    p->totals.raw_bytes -= doc_bytes;
    p->erased = true;
}

void lv_projection_forget_known(lv_projection *p)
{
    lv_tally_clear(&p->topics_known);
    lv_tally_clear(&p->accounts);
}

/* A document with rejected events (or only Caliper entities) is kept whole, once, with its errors. */
static lv_status store_dead_letter(lv_store *s, lv_projection *p, lv_batch_doc *d, lv_counts *c, lv_error *err)
{
    lv_buf_reset(&p->scratch);
    lv_jw *w = lv_jw_new(&p->scratch, false);
    lv_jw_arr_open(w);
    unsigned rejected = 0;
    for (size_t e = 0; e < d->doc.n_events; e++) {
        const lv_event *ev = &d->doc.events[e];
        if (!ev->rejected && !(ev->is_entity && !d->stored_any))
            continue;
        rejected++;
        for (const lv_diag *g = ev->diags; g; g = g->next)
            lv_diag_json(w, d->source, d->line, ev, g);
    }
    lv_jw_arr_close(w);
    lv_jw_free(w);
    lv_dead_row row = {
        .hash = d->dead_hash, .received_ms = arrived(d),
        .source = d->source, .line = d->line,
        .errors = { p->scratch.data, p->scratch.len },
        .raw = d->zraw, .raw_size = d->zlen, .raw_len = d->len, .dict = d->zraw ? d->dict_id : 0,
    };
    bool fresh;
    lv_status rc = s->engine->put_dead_letter(s, &row, &fresh, err);
    if (rc != LV_OK)
        return rc;
    /* Sent again, a rejected document is rejected again: the run reports it as the first one did
     * (and exits as the first did), though it is kept once; the store counts it as a duplicate
     * delivery. */
    for (size_t e = 0; e < d->doc.n_events; e++) {
        const lv_event *ev = &d->doc.events[e];
        if (ev->rejected || ev->is_entity)
            d->outcome[e] = LV_OUT_DEAD_LETTER;
    }
    c->rejected += rejected ? rejected : 1;
    if (!fresh)
        p->totals.duplicates += rejected ? rejected : 1;
    return LV_OK;
}

static lv_status note_forgotten(void *ctx, const int64_t *user, lv_error *err)
{
    (void)err;
    lv_tally_add(ctx, (int64_t[4]){ *user, 0, 0, 0 }, 1);
    return LV_OK;
}

/* The people forgotten, read once per transaction: levee forget may have added one since, and what
 * it added is committed before this transaction began (it writes under the same lock). */
static lv_status read_forgotten(lv_store *s, lv_projection *p, lv_error *err)
{
    if (p->forgotten_read)
        return LV_OK;
    lv_tally_clear(&p->forgotten);
    lv_status rc = s->engine->forgotten(s, note_forgotten, &p->forgotten, err);
    p->forgotten_read = rc == LV_OK;
    return rc;
}

static bool person_forgotten(void *ctx, uint64_t user)
{
    const lv_projection *p = ctx;
    return lv_tally_get(&p->forgotten, (int64_t[4]){ (int64_t)user, 0, 0, 0 }, 0) != 0;
}

/* A document that names a person forgotten is not stored, nor kept as a dead letter (Canvas sends
 * an event again when its delivery seemed to fail: levee forget must not be undone by a retry). */
static bool names_forgotten(lv_projection *p, lv_batch_doc *d, lv_counts *c)
{
    bool named = false;
    for (size_t e = 0; e < d->doc.n_events && !named; e++)
        named = lv_event_names(&d->doc.events[e], person_forgotten, p);
    if (!named)
        return false;
    for (size_t e = 0; e < d->doc.n_events; e++) {
        d->outcome[e] = LV_OUT_FORGOTTEN;
        c->forgotten++;
    }
    return true;
}

/* A document of one event, nothing rejected: its event needs no other's row, so it can be put with
 * others like it in one go (put_events). */
static bool single(const lv_batch_doc *d)
{
    return d->text && d->doc.n_events == 1 && !d->doc.events[0].rejected && !d->doc.events[0].is_entity;
}

/* Room for put_singles, as many as the batch has documents. */
typedef struct singles {
    size_t *at;              /* the documents waiting */
    size_t n;
    lv_event_row *rows;
    int64_t *ids;
    lv_entry_row *entries;   /* the entries of those stored */
    bool *fresh;
    bool *is_entry;          /* which of the documents waiting hold one */
} singles;

static bool holds_entry(const lv_event *ev)
{
    return ev->kind && ev->kind->subject == LV_SUBJECT_ENTRY;
}

/* Puts the events of the single documents waiting, then the entries of those stored (in order: an
 * entry's created and submitted twins find it as one after the other would), then applies each event
 * in turn. No rule sees the difference: what an event's rules write before its entry is put touches no
 * entry. */
static lv_status put_singles(lv_store *s, lv_projection *p, lv_batch *b, singles *w, lv_counts *c, lv_error *err)
{
    size_t n = w->n;
    w->n = 0;
    if (!n)
        return LV_OK;
    for (size_t k = 0; k < n; k++)
        w->rows[k] = event_row(b->docs[w->at[k]], 0, 0, arrived(b->docs[w->at[k]]));
    lv_status rc = s->engine->put_events(s, w->rows, n, w->ids, err);
    size_t m = 0;
    for (size_t k = 0; rc == LV_OK && k < n; k++) {
        const lv_event *ev = &b->docs[w->at[k]]->doc.events[0];
        w->is_entry[k] = w->ids[k] && holds_entry(ev);
        if (w->is_entry[k])
            w->entries[m++] = entry_row(ev, w->ids[k]);
    }
    if (rc == LV_OK && m)
        rc = s->engine->put_entries(s, w->entries, m, w->fresh, err);
    for (size_t k = 0, j = 0; rc == LV_OK && k < n; k++) {
        int64_t doc_row = 0;
        rc = event_put(s, p, b->docs[w->at[k]], 0, w->ids[k], &doc_row, w->is_entry[k] ? &w->fresh[j++] : NULL, c,
                       err);
    }
    return rc;
}

lv_status lv_projection_write(lv_store *s, lv_batch *b, lv_counts *c, lv_error *err)
{
    lv_projection *p = s->projection;
    if (!p->in_txn)
        return lv_fail(err, LV_EINVAL, "writing to %s outside a transaction", s->location);
    lv_status rc = read_forgotten(s, p, err);
    if (rc != LV_OK)
        return rc;
    /* single documents wait to be put together until another kind of document or the end of the batch */
    size_t room = b->n_docs + 1;
    singles w = { .at = lv_xmalloc(room * sizeof *w.at), .rows = lv_xmalloc(room * sizeof *w.rows),
                  .ids = lv_xmalloc(room * sizeof *w.ids), .entries = lv_xmalloc(room * sizeof *w.entries),
                  .fresh = lv_xmalloc(room * sizeof *w.fresh), .is_entry = lv_xmalloc(room * sizeof *w.is_entry) };
    for (size_t i = 0; rc == LV_OK && i < b->n_docs; i++) {
        lv_batch_doc *d = b->docs[i];
        c->documents++;
        c->bytes += d->len;
        if (p->forgotten.used && names_forgotten(p, d, c))
            continue;
        if (single(d)) {
            w.at[w.n++] = i;
            continue;
        }
        rc = put_singles(s, p, b, &w, c, err);
        int64_t doc_row = 0;
        bool dead = false;
        for (size_t e = 0; rc == LV_OK && e < d->doc.n_events; e++) {
            const lv_event *ev = &d->doc.events[e];
            if (ev->rejected || !d->text) {
                dead = true;
                continue;
            }
            if (ev->is_entity)
                continue;
            rc = store_event(s, p, d, e, &doc_row, c, err);
        }
        if (rc != LV_OK)
            break;
        if (!dead && !d->stored_any) {
            /* nothing stored: either all duplicates, or only entities (kept as a dead letter) */
            bool any_event = false;
            for (size_t e = 0; e < d->doc.n_events; e++)
                any_event |= !d->doc.events[e].is_entity;
            dead = !any_event;
        }
        if (dead)
            rc = store_dead_letter(s, p, d, c, err);
    }
    if (rc == LV_OK)
        rc = put_singles(s, p, b, &w, c, err);
    free(w.at);
    free(w.rows);
    free(w.ids);
    free(w.entries);
    free(w.fresh);
    free(w.is_entry);
    return rc;
}

lv_status lv_projection_flush(lv_store *s, lv_error *err)
{
    lv_projection *p = s->projection;
    const lv_engine *e = s->engine;
    lv_status rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < p->activity.cap; i++) {
        const lv_tally_entry *t = &p->activity.slots[i];
        if (t->used)
            rc = e->add_activity(s, (uint64_t)t->key[0], t->key[1], p->names[t->key[2]], t->value, err);
    }
    for (size_t i = 0; rc == LV_OK && i < p->participants.cap; i++) {
        const lv_tally_entry *t = &p->participants.slots[i];
        if (t->used)
            rc = e->add_participant(s, (uint64_t)t->key[0], t->key[1], (uint64_t)t->key[2], p->roles[t->key[3]],
                                    t->value, err);
    }
    for (size_t i = 0; rc == LV_OK && i < p->counts.cap; i++) {
        const lv_tally_entry *t = &p->counts.slots[i];
        if (t->used)
            rc = e->add_count(s, p->names[t->key[0]], t->key[1] ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS, t->value, err);
    }
    for (size_t i = 0; rc == LV_OK && i < p->drift.cap; i++) {
        const lv_tally_entry *t = &p->drift.slots[i];
        if (t->used)
            rc = e->add_drift(s, p->names[t->key[0]], t->key[1] ? p->fields[t->key[1] - 1] : "",
                              t->key[2] ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS, t->value,
                              lv_tally_get(&p->drift_first, t->key, 0), lv_tally_get(&p->drift_last, t->key, 0), err);
    }
    if (rc == LV_OK && (p->totals.duplicates || p->totals.raw_bytes || p->totals.have_span))
        rc = e->add_totals(s, &p->totals, err);
    if (rc == LV_OK && p->erased)
        rc = e->settle_figures(s, err); /* rows that count nothing go; the span is the events' own */
    return rc;
}

void lv_projection_begun(lv_projection *p)
{
    p->in_txn = true;
}

bool lv_projection_in_txn(const lv_projection *p)
{
    return p->in_txn;
}
