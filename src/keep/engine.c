/* engine.c: an engine's table completed, so that an operation an engine does not implement (a NULL
 * slot of levee/engine.h's table) can never crash levee: it fails with LV_EUNSUPPORTED and a sentence
 * naming the engine and the operation, and the command that needed it says so. lv_store_base_init
 * stores the completed table in every store. */
#include "keep.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static lv_status lacking(lv_store *s, const char *op, lv_error *err)
{
    return lv_fail(err, LV_EUNSUPPORTED, "the %s engine of levee does not do the operation %s yet, which this "
                   "command needs on %s; use a store of another engine for it", s->engine->name, op, s->location);
}

/* One stub per operation, with the operation's own type (the FILL below does not compile when a stub's
 * type differs from its slot's). Parameters other than s and err are unused. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#define LACKS(op, ...) static lv_status lacks_##op(__VA_ARGS__) { return lacking(s, #op, err); }
#define LACKS_VOID(op, ...) static void lacks_##op(__VA_ARGS__) { }
#define LACKS_NULL(op, type, ...) static type lacks_##op(__VA_ARGS__) { return NULL; }

LACKS_VOID(close, lv_store *s)
LACKS(begin, lv_store *s, lv_error *err)
LACKS(commit, lv_store *s, lv_error *err)
LACKS_VOID(rollback, lv_store *s)
LACKS_VOID(set_bulk, lv_store *s, bool bulk)
LACKS_VOID(set_relaxed, lv_store *s, bool housekeeping)
LACKS_VOID(set_lock_wait, lv_store *s, bool wait)
LACKS(housekeeping, lv_store *s, lv_error *err)
LACKS(sync, lv_store *s, lv_error *err)
LACKS(sync_others, lv_store *s, lv_error *err)
LACKS(set_mark, lv_store *s, const char *name, uint64_t value, lv_error *err)
LACKS(get_mark, lv_store *s, const char *name, uint64_t *value, bool *found, lv_error *err)
LACKS_NULL(dict, const lv_dict *, lv_store *s)
LACKS(maybe_train, lv_store *s, lv_error *err)
LACKS_VOID(set_train_aside, lv_store *s, bool aside)
LACKS_VOID(set_deadline, lv_store *s, int64_t deadline_us)
LACKS_VOID(interrupt, lv_store *s)
LACKS(put_event, lv_store *s, const lv_event_row *row, int64_t *rowid, lv_error *err)
LACKS(put_dead_letter, lv_store *s, const lv_dead_row *row, bool *fresh, lv_error *err)
LACKS(put_account, lv_store *s, uint64_t root_account_id, uint64_t shard, lv_error *err)
LACKS(get_topic, lv_store *s, uint64_t id, lv_topic_row *out, bool *found, lv_error *err)
LACKS(put_topic, lv_store *s, const lv_topic_row *row, lv_error *err)
LACKS(ensure_topic, lv_store *s, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err)
LACKS(add_topic_version, lv_store *s, uint64_t topic, int64_t event, int64_t updated_at, int64_t time_ms,
      const unsigned char *hash, lv_error *err)
LACKS(put_entry, lv_store *s, const lv_entry_row *row, bool *fresh, lv_error *err)
LACKS(set_entry_grading, lv_store *s, uint64_t id, lv_opt assignment_id, lv_opt submission_id, lv_error *err)
LACKS(get_conversation, lv_store *s, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err)
LACKS(put_conversation, lv_store *s, const lv_conversation_row *row, lv_error *err)
LACKS(put_message, lv_store *s, const lv_message_row *row, lv_error *err)
LACKS(put_forward, lv_store *s, const lv_forward_row *row, lv_error *err)
LACKS(search_add, lv_store *s, int64_t key, lv_opt entry, lv_opt topic, const char *title, const char *text,
      lv_error *err)
LACKS(search_remove, lv_store *s, int64_t key, const char *title, const char *text, lv_error *err)
LACKS(add_activity, lv_store *s, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err)
LACKS(add_participant, lv_store *s, uint64_t course, int64_t day, uint64_t user, const char *role, int64_t n,
      lv_error *err)
LACKS(add_count, lv_store *s, const char *name, lv_format format, int64_t n, lv_error *err)
LACKS(add_drift, lv_store *s, const char *name, const char *field, lv_format format, int64_t n, int64_t first_time,
      int64_t last_time, lv_error *err)
LACKS(add_totals, lv_store *s, const lv_totals *t, lv_error *err)
LACKS(export_docs, lv_store *s, const lv_export_filter *f,
      lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err), void *ctx, lv_error *err)
LACKS(shards, lv_store *s, uint64_t *out, size_t max, size_t *n, lv_error *err)
LACKS(stats, lv_store *s, lv_stats_row *out, lv_error *err)
LACKS(event_counts, lv_store *s, lv_event_count_fn fn, void *ctx, lv_error *err)
LACKS(drift, lv_store *s, lv_drift_fn fn, void *ctx, lv_error *err)
LACKS(topic, lv_store *s, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err)
LACKS(topic_versions, lv_store *s, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err)
LACKS(event_document, lv_store *s, int64_t event, lv_buf *out, lv_error *err)
LACKS(topic_entries, lv_store *s, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err)
LACKS(conversation, lv_store *s, uint64_t id, lv_conversation_row *out, lv_error *err)
LACKS(conversation_timeline, lv_store *s, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err)
LACKS_VOID(course_ahead, lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
           unsigned offset, int64_t since_day, int64_t until_day)
LACKS(course_known, lv_store *s, uint64_t course, bool *known, lv_error *err)
LACKS(course_topics, lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
      unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err)
LACKS(course_roles, lv_store *s, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn, void *ctx,
      lv_error *err)
LACKS(course_activity, lv_store *s, uint64_t course, int64_t since_day, int64_t until_day, lv_activity_fn fn,
      void *ctx, lv_error *err)
LACKS(course_entries, lv_store *s, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err)
LACKS(entry_detail, lv_store *s, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err)
LACKS(courses, lv_store *s, lv_courses_fn fn, void *ctx, lv_error *err)
LACKS(user_list, lv_store *s, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms, unsigned limit,
      unsigned offset, lv_user_fn fn, void *ctx, lv_error *err)
LACKS(user_events, lv_store *s, uint64_t user, int64_t *events, lv_error *err)
LACKS(search, lv_store *s, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err)
LACKS(sub_insert, lv_store *s, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms, int64_t *id,
      lv_error *err)
LACKS(sub_set_spec, lv_store *s, int64_t id, const char *spec, lv_error *err)
LACKS(sub_set_state, lv_store *s, int64_t id, lv_sub_state state, const char *reason, lv_error *err)
LACKS(sub_delete, lv_store *s, int64_t id, bool *found, lv_error *err)
LACKS(sub_get, lv_store *s, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err)
LACKS(sub_list, lv_store *s, lv_sub_fn fn, void *ctx, lv_error *err)
LACKS(sub_progress, lv_store *s, int64_t id, const lv_sub_progress *p, lv_error *err)
LACKS(sub_lease, lv_store *s, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
      lv_error *err)
LACKS(sub_release, lv_store *s, int64_t id, const char *owner, lv_error *err)
LACKS(events_from, lv_store *s, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx,
      lv_error *err)
LACKS(event_ref, lv_store *s, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err)
LACKS(events_end, lv_store *s, int64_t *next, lv_error *err)
LACKS(events_count_from, lv_store *s, int64_t from, int64_t *count, int64_t *first_received_ms, lv_error *err)
LACKS(event_received_since, lv_store *s, int64_t received_ms, int64_t *row, lv_error *err)
LACKS(sub_pending_put, lv_store *s, const lv_sub_pending_row *row, lv_error *err)
LACKS(sub_pending_delete, lv_store *s, int64_t sub, int64_t event, lv_error *err)
LACKS(sub_pending_due, lv_store *s, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn, void *ctx,
      lv_error *err)
LACKS(sub_pending_summary, lv_store *s, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms,
      lv_error *err)
LACKS(events_between, lv_store *s, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
      const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx, lv_error *err)
LACKS(sub_replay_add, lv_store *s, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err)
LACKS(sub_replay_next, lv_store *s, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err)
LACKS(sub_replay_advance, lv_store *s, int64_t id, int64_t at_time_ms, const unsigned char *at_hash, bool done,
      lv_error *err)
LACKS(sub_pending_add, lv_store *s, int64_t sub, int64_t event, int64_t next_ms, bool *added, lv_error *err)
LACKS(sub_dead_put, lv_store *s, const lv_sub_dead_row *row, lv_error *err)
LACKS(sub_dead_list, lv_store *s, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err)
LACKS(sub_dead_count, lv_store *s, int64_t sub, int64_t *count, lv_error *err)
LACKS(sub_dead_requeue, lv_store *s, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err)
LACKS(sub_attempt_add, lv_store *s, const lv_sub_attempt_row *row, unsigned keep, lv_error *err)
LACKS(sub_attempts, lv_store *s, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx, lv_error *err)
LACKS(snapshot, lv_store *s, bool on, lv_error *err)
LACKS(backup, lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at, lv_error *err)
LACKS(integrity, lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err)
LACKS(size, lv_store *s, lv_store_size *out, lv_error *err)
LACKS(stored_events, lv_store *s, lv_stored_event_fn fn, void *ctx, lv_error *err)
LACKS(stored_dead_letters, lv_store *s, lv_stored_dead_fn fn, void *ctx, lv_error *err)
LACKS(clear_derived, lv_store *s, lv_error *err)
LACKS(derived_rows, lv_store *s, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err)
LACKS(add_about, lv_store *s, lv_subject subject, uint64_t id, int64_t event, lv_error *err)
LACKS(about_events, lv_store *s, lv_subject subject, uint64_t id, lv_row_id_fn fn, void *ctx, lv_error *err)
LACKS(topic_events, lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
LACKS(get_entry, lv_store *s, uint64_t id, lv_entry_row *out, bool *found, lv_error *err)
LACKS(topic_first_entry_event, lv_store *s, uint64_t topic, int64_t *event, bool *found, lv_error *err)
LACKS(events_before, lv_store *s, int64_t before_ms, unsigned limit, lv_event_ref_fn fn, void *ctx, lv_error *err)
LACKS(erase_events, lv_store *s, const int64_t *ids, size_t n, int64_t *documents, int64_t *doc_bytes, lv_error *err)
LACKS(drop_topic, lv_store *s, uint64_t id, lv_error *err)
LACKS(drop_entry, lv_store *s, uint64_t id, lv_error *err)
LACKS(drop_conversation, lv_store *s, uint64_t id, lv_error *err)
LACKS(search_holds, lv_store *s, int64_t key, bool *held, lv_error *err)
LACKS(settle_figures, lv_store *s, lv_error *err)
LACKS(erase_dead_before, lv_store *s, int64_t before_ms, unsigned limit, int64_t *erased, lv_error *err)
LACKS(erase_dead_letter, lv_store *s, int64_t id, lv_error *err)
LACKS(forget_add, lv_store *s, uint64_t user, int64_t at_ms, lv_error *err)
LACKS(forgotten, lv_store *s, lv_row_id_fn fn, void *ctx, lv_error *err)
LACKS(add_removed_entry, lv_store *s, uint64_t entry, uint64_t topic, lv_error *err)
LACKS(removed_entries, lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
LACKS(receipt_add, lv_store *s, const lv_receipt_row *row, lv_error *err)
LACKS(receipts, lv_store *s, lv_receipt_fn fn, void *ctx, lv_error *err)
LACKS(set_scrub, lv_store *s, bool on, lv_error *err)
LACKS(reclaim, lv_store *s, int64_t max_pages, lv_space *out, lv_error *err)
LACKS(compact, lv_store *s, lv_error *err)
LACKS(checkpoint, lv_store *s, bool *complete, lv_error *err)

LACKS(removed_entry_list, lv_store *s, lv_entry_fn fn, void *ctx, lv_error *err)
LACKS(sub_restore, lv_store *s, const lv_sub_row *row, lv_error *err)
LACKS(sub_replay_list, lv_store *s, int64_t sub, lv_sub_replay_fn fn, void *ctx, lv_error *err)
LACKS(sub_replay_put, lv_store *s, const lv_sub_replay_row *row, lv_error *err)
LACKS(set_webhook_hash, lv_store *s, int64_t id, int64_t time_ms, const unsigned char *webhook_hash, lv_error *err)
#pragma GCC diagnostic pop

/* Not a missing operation: an engine that cannot read several entries at once reads them one at a time. */
static lv_status one_by_one_entry_details(lv_store *s, const uint64_t *ids, size_t n, lv_entry_detail_fn fn,
                                          void *ctx, lv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        lv_entry_detail_row row = { .i = i };
        lv_status st = s->engine->entry_detail(s, ids[i], &row.title, &row.text, &row.found, err);
        if (st == LV_OK)
            st = fn(ctx, &row, err);
        if (st != LV_OK)
            return st;
    }
    return LV_OK;
}

/* Not operations an engine must have: events and entries one at a time, through put_event and put_entry. */
static lv_status put_events_one_by_one(lv_store *s, const lv_event_row *rows, size_t n, int64_t *rowids, lv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        lv_status st = s->engine->put_event(s, &rows[i], &rowids[i], err);
        if (st != LV_OK)
            return st;
    }
    return LV_OK;
}

static lv_status put_entries_one_by_one(lv_store *s, const lv_entry_row *rows, size_t n, bool *fresh, lv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        lv_status st = s->engine->put_entry(s, &rows[i], &fresh[i], err);
        if (st != LV_OK)
            return st;
    }
    return LV_OK;
}

/* Not a missing operation either: an engine whose plans do not depend on statistics has nothing to analyze. */
static lv_status nothing_to_analyze(lv_store *s, lv_error *err)
{
    (void)s;
    (void)err;
    return LV_OK;
}

/* Nor is this one: an engine without per-transaction limits never needs a transaction ended early. */
static bool never_full(lv_store *s)
{
    (void)s;
    return false;
}

/* Every slot is a function pointer after the name: a slot added to the table and not listed below
 * changes the count. */
#define SLOTS 130
_Static_assert(sizeof(lv_engine) == sizeof(const char *) + SLOTS * sizeof(void (*)(void)),
               "an operation was added to lv_engine: give it its stub and FILL line in keep/engine.c");

static void fill(lv_engine *e)
{
#define FILL(op)                                                                                           \
    do {                                                                                                     \
        if (!e->op)                                                                                          \
            e->op = lacks_##op;                                                                              \
    } while (0)
    FILL(close);
    FILL(begin);
    FILL(commit);
    FILL(rollback);
    FILL(set_bulk);
    FILL(set_relaxed);
    FILL(set_lock_wait);
    FILL(housekeeping);
    FILL(sync);
    FILL(sync_others);
    FILL(set_mark);
    FILL(get_mark);
    FILL(dict);
    FILL(maybe_train);
    FILL(set_train_aside);
    FILL(set_deadline);
    FILL(interrupt);
    FILL(put_event);
    if (!e->put_events)
        e->put_events = put_events_one_by_one;
    FILL(put_dead_letter);
    FILL(put_account);
    FILL(get_topic);
    FILL(put_topic);
    FILL(ensure_topic);
    FILL(add_topic_version);
    FILL(put_entry);
    if (!e->put_entries)
        e->put_entries = put_entries_one_by_one;
    FILL(set_entry_grading);
    FILL(get_conversation);
    FILL(put_conversation);
    FILL(put_message);
    FILL(put_forward);
    FILL(search_add);
    FILL(search_remove);
    FILL(add_activity);
    FILL(add_participant);
    FILL(add_count);
    FILL(add_drift);
    FILL(add_totals);
    FILL(export_docs);
    FILL(shards);
    FILL(stats);
    FILL(event_counts);
    FILL(drift);
    FILL(topic);
    FILL(topic_versions);
    FILL(event_document);
    FILL(topic_entries);
    FILL(conversation);
    FILL(conversation_timeline);
    FILL(course_ahead);
    FILL(course_known);
    FILL(course_topics);
    FILL(course_roles);
    FILL(course_activity);
    FILL(course_entries);
    FILL(entry_detail);
    if (!e->entry_details)
        e->entry_details = one_by_one_entry_details;
    FILL(courses);
    FILL(user_list);
    FILL(user_events);
    FILL(search);
    FILL(sub_insert);
    FILL(sub_set_spec);
    FILL(sub_set_state);
    FILL(sub_delete);
    FILL(sub_get);
    FILL(sub_list);
    FILL(sub_progress);
    FILL(sub_lease);
    FILL(sub_release);
    FILL(events_from);
    FILL(event_ref);
    FILL(events_end);
    FILL(events_count_from);
    FILL(event_received_since);
    FILL(sub_pending_put);
    FILL(sub_pending_delete);
    FILL(sub_pending_due);
    FILL(sub_pending_summary);
    FILL(events_between);
    FILL(sub_replay_add);
    FILL(sub_replay_next);
    FILL(sub_replay_advance);
    FILL(sub_pending_add);
    FILL(sub_dead_put);
    FILL(sub_dead_list);
    FILL(sub_dead_count);
    FILL(sub_dead_requeue);
    FILL(sub_attempt_add);
    FILL(sub_attempts);
    FILL(snapshot);
    FILL(backup);
    FILL(integrity);
    FILL(size);
    FILL(stored_events);
    FILL(stored_dead_letters);
    FILL(clear_derived);
    FILL(derived_rows);
    FILL(add_about);
    FILL(about_events);
    FILL(topic_events);
    FILL(get_entry);
    FILL(topic_first_entry_event);
    FILL(events_before);
    FILL(erase_events);
    FILL(drop_topic);
    FILL(drop_entry);
    FILL(drop_conversation);
    FILL(search_holds);
    FILL(settle_figures);
    FILL(erase_dead_before);
    FILL(erase_dead_letter);
    FILL(forget_add);
    FILL(forgotten);
    FILL(add_removed_entry);
    FILL(removed_entries);
    FILL(receipt_add);
    FILL(receipts);
    FILL(set_scrub);
    FILL(reclaim);
    FILL(compact);
    FILL(checkpoint);
    if (!e->analyze)
        e->analyze = nothing_to_analyze;
    if (!e->txn_full)
        e->txn_full = never_full;
    FILL(removed_entry_list);
    FILL(sub_restore);
    FILL(sub_replay_list);
    FILL(sub_replay_put);
    FILL(set_webhook_hash);
#undef FILL
}

/* Whether every slot is set: the same list, asked. */
static bool complete(const lv_engine *e)
{
    lv_engine copy = *e;
    fill(&copy);
    return memcmp(&copy, e, sizeof copy) == 0;
}

/* The completed copies of the tables seen (an engine's table lives as long as the program). */
#define MAX_ENGINES 8
static struct {
    const lv_engine *of;
    lv_engine *copy;
} completed[MAX_ENGINES];
static size_t n_completed;
static pthread_mutex_t completed_lock = PTHREAD_MUTEX_INITIALIZER;

const lv_engine *lv_engine_complete(const lv_engine *e)
{
    if (complete(e))
        return e;
    pthread_mutex_lock(&completed_lock);
    const lv_engine *out = NULL;
    for (size_t i = 0; i < n_completed && !out; i++)
        if (completed[i].of == e)
            out = completed[i].copy;
    if (!out) {
        lv_engine *copy = lv_xmalloc(sizeof *copy);
        *copy = *e;
        fill(copy);
        if (n_completed < MAX_ENGINES) {
            completed[n_completed].of = e;
            completed[n_completed++].copy = copy;
        }
        out = copy;
    }
    pthread_mutex_unlock(&completed_lock);
    return out;
}
