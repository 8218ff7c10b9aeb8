/* sqlite.h: the SQLite engine's connection state, shared by its files: schema.c (the tables and
 * upgrades), open.c (opening, the engine's table, transactions, marks, dictionaries), write.c (the
 * write operations), read.c and search.c (the reads the answers use), export.c (documents and
 * figures), subs.c (subscriptions), ops.c (backup and checks), erase.c (prune and forget). Private to src/engines/sqlite/. */
#ifndef LEVEE_SQLITE_H
#define LEVEE_SQLITE_H

#include "levee/engine.h"

#include <sqlite3.h>
#include <stdatomic.h>

/* Prepared statements of the write path, by purpose (write.c). */
enum sq_stmt {
    SQ_EVENT_INSERT, SQ_DEAD_INSERT, SQ_NAME_INSERT, SQ_ACCOUNT_INSERT,
    SQ_TOPIC_GET, SQ_TOPIC_PUT, SQ_TOPIC_ENSURE, SQ_TOPIC_VERSION,
    SQ_ENTRY_INSERT, SQ_ENTRY_GRADED,
    SQ_CONVERSATION_GET, SQ_CONVERSATION_PUT, SQ_MESSAGE_INSERT, SQ_FORWARD_INSERT,
    SQ_SEARCH_INSERT, SQ_SEARCH_DELETE, SQ_SEARCH_DOC_INSERT, SQ_SEARCH_DOC_DELETE,
    SQ_ACTIVITY_ADD, SQ_PARTICIPANT_ADD, SQ_COUNT_ADD, SQ_DRIFT_ADD, SQ_TOTAL_ADD, SQ_TOTAL_MIN, SQ_TOTAL_MAX,
    SQ_ABOUT_INSERT,
    SQ_STMT_COUNT
};

typedef struct sq_name {
    char *name;
    int64_t id;
} sq_name;

/* A statement of subs.c kept prepared (by its SQL text's address). */
typedef struct sq_cached {
    const char *sql;
    sqlite3_stmt *st;
    bool busy;
} sq_cached;
#define SQ_CACHED_MAX 32

typedef struct sq_trainer sq_trainer;

typedef struct sq_store {
    lv_store base;
    sqlite3 *db;
    bool read_only;
    int schema_version; /* of the file (a read-only store is not upgraded) */
    bool no_lock_wait;  /* another writer's lock: SQLITE_BUSY at once (lv_store_set_lock_wait) */
    bool in_txn;
    sqlite3_stmt *stmt[SQ_STMT_COUNT]; /* writers only */
    sq_cached cached[SQ_CACHED_MAX];   /* subs.c's, writers only */
    /* event names and their ids in the names table */
    sq_name *names;
    size_t n_names, cap_names;
    /* compression dictionaries by id; the newest compresses new documents */
    lv_dict **dicts;
    size_t n_dicts;
    const lv_dict *current_dict;
    bool train_aside;      /* maybe_train trains on a thread of its own (set_train_aside) */
    sq_trainer *trainer;   /* that training, under way or done and not stored yet */
    lv_zctx *z;
    lv_buf raw;            /* a document's bytes, decompressed */
    lv_buf row_text;       /* the strings of the row get_topic (or topic) filled */
    lv_buf entry_text;     /* the text of the row get_entry filled */
    sqlite3_stmt *detail;  /* read.c's entry_detail, kept prepared (NULL until first used) */
    int64_t deadline_us;   /* reads give up after this (0: never): open.c's progress handler */
    _Atomic bool interrupted; /* lv_store_interrupt was called (from another thread) */
} sq_store;

/* ---- open.c ---- */

/* An SQLite result code as lv_status, with a sentence naming what failed, the store and SQLite's own
 * message: LV_EDAMAGED for a damaged file, LV_EBUSY for a lock or a full disk, LV_ETIMEOUT past the
 * deadline, LV_EIO otherwise. */
lv_status sq_fail(sq_store *s, lv_error *err, const char *what);
/* Steps a statement: *row true when it produced a row, false when it is done; any other result is
 * an error (sq_fail). Every sqlite3_step in the engine goes through here or sq_exec_step. */
lv_status sq_step(sq_store *s, sqlite3_stmt *st, bool *row, const char *what, lv_error *err);
/* Steps a statement that returns no rows and resets it (keeping it prepared). */
lv_status sq_exec_step(sq_store *s, sqlite3_stmt *st, const char *what, lv_error *err);
lv_status sq_prepare(sq_store *s, const char *sql, sqlite3_stmt **st, lv_error *err);
lv_status sq_exec(sq_store *s, const char *sql, lv_error *err);
/* The compression dictionary with this id (loaded on demand), or NULL with err filled. */
const lv_dict *sq_dict(sq_store *s, int64_t id, lv_error *err);
/* The exact bytes of a stored document, from the raw, raw_len and dict columns starting at raw_col. */
lv_status sq_document(sq_store *s, sqlite3_stmt *row, int raw_col, lv_buf *out, lv_error *err);
/* The id of an event name in the names table (recorded when new; writers only). */
lv_status sq_name_id(sq_store *s, const char *name, size_t len, int64_t *id, lv_error *err);
void sq_forget_names(sq_store *s);

/* ---- schema.c ---- */

/* Creates the schema in an empty database, or upgrades an older one (writers), or checks that the
 * version is one this levee reads. */
lv_status sq_schema_ready(sq_store *s, bool read_only, lv_error *err);
/* Schema 6 -> 7: every event row keyed by the canonical identity, in one transaction (rekey.c). */
lv_status sq_upgrade_v6(sq_store *s, lv_error *err);
/* The write path's statements, by enum sq_stmt. */
extern const char *const sq_statements[SQ_STMT_COUNT];

/* ---- write.c: the write operations of lv_engine ---- */

lv_status sq_put_event(lv_store *s, const lv_event_row *row, int64_t *rowid, lv_error *err);
lv_status sq_put_dead_letter(lv_store *s, const lv_dead_row *row, bool *fresh, lv_error *err);
lv_status sq_put_account(lv_store *s, uint64_t root_account_id, uint64_t shard, lv_error *err);
lv_status sq_get_topic(lv_store *s, uint64_t id, lv_topic_row *out, bool *found, lv_error *err);
lv_status sq_put_topic(lv_store *s, const lv_topic_row *row, lv_error *err);
lv_status sq_ensure_topic(lv_store *s, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err);
lv_status sq_add_topic_version(lv_store *s, uint64_t topic, int64_t event, int64_t updated_at, int64_t time_ms,
                               const unsigned char *hash, lv_error *err);
lv_status sq_put_entry(lv_store *s, const lv_entry_row *row, bool *fresh, lv_error *err);
lv_status sq_set_entry_grading(lv_store *s, uint64_t id, lv_opt assignment_id, lv_opt submission_id, lv_error *err);
lv_status sq_get_conversation(lv_store *s, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err);
lv_status sq_put_conversation(lv_store *s, const lv_conversation_row *row, lv_error *err);
lv_status sq_put_message(lv_store *s, const lv_message_row *row, lv_error *err);
lv_status sq_put_forward(lv_store *s, const lv_forward_row *row, lv_error *err);
lv_status sq_search_add(lv_store *s, int64_t key, lv_opt entry, lv_opt topic, const char *title, const char *text,
                        lv_error *err);
lv_status sq_search_remove(lv_store *s, int64_t key, const char *title, const char *text, lv_error *err);
lv_status sq_add_activity(lv_store *s, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err);
lv_status sq_add_participant(lv_store *s, uint64_t course, int64_t day, uint64_t user, const char *role, int64_t n,
                             lv_error *err);
lv_status sq_add_count(lv_store *s, const char *name, lv_format format, int64_t n, lv_error *err);
lv_status sq_add_drift(lv_store *s, const char *name, const char *field, lv_format format, int64_t n,
                       int64_t first_time, int64_t last_time, lv_error *err);
lv_status sq_add_totals(lv_store *s, const lv_totals *t, lv_error *err);

/* ---- read.c, search.c, export.c: the reads of lv_engine ---- */

lv_status sq_export(lv_store *s, const lv_export_filter *f,
                    lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err), void *ctx,
                    lv_error *err);
lv_status sq_shards(lv_store *s, uint64_t *out, size_t max, size_t *n, lv_error *err);
lv_status sq_stats(lv_store *s, lv_stats_row *out, lv_error *err);
lv_status sq_event_counts(lv_store *s, lv_event_count_fn fn, void *ctx, lv_error *err);
lv_status sq_drift(lv_store *s, lv_drift_fn fn, void *ctx, lv_error *err);

/* ---- subs.c: subscriptions, and the events delivery walks ---- */

lv_status sq_sub_insert(lv_store *s, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms,
                        int64_t *id, lv_error *err);
lv_status sq_sub_set_spec(lv_store *s, int64_t id, const char *spec, lv_error *err);
lv_status sq_sub_set_state(lv_store *s, int64_t id, lv_sub_state state, const char *reason, lv_error *err);
lv_status sq_sub_delete(lv_store *s, int64_t id, bool *found, lv_error *err);
lv_status sq_sub_get(lv_store *s, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err);
lv_status sq_sub_list(lv_store *s, lv_sub_fn fn, void *ctx, lv_error *err);
lv_status sq_sub_progress(lv_store *s, int64_t id, const lv_sub_progress *p, lv_error *err);
lv_status sq_sub_lease(lv_store *s, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
                       lv_error *err);
lv_status sq_sub_release(lv_store *s, int64_t id, const char *owner, lv_error *err);
lv_status sq_events_from(lv_store *s, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx,
                         lv_error *err);
lv_status sq_event_ref(lv_store *s, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err);
lv_status sq_events_end(lv_store *s, int64_t *next, lv_error *err);
lv_status sq_events_count_from(lv_store *s, int64_t from, int64_t *count, int64_t *first_received_ms, lv_error *err);
lv_status sq_event_received_since(lv_store *s, int64_t received_ms, int64_t *row, lv_error *err);
lv_status sq_sub_pending_put(lv_store *s, const lv_sub_pending_row *row, lv_error *err);
lv_status sq_sub_pending_delete(lv_store *s, int64_t sub, int64_t event, lv_error *err);
lv_status sq_sub_pending_due(lv_store *s, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn,
                             void *ctx, lv_error *err);
lv_status sq_sub_pending_summary(lv_store *s, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms,
                                 lv_error *err);
lv_status sq_events_between(lv_store *s, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
                            const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx,
                            lv_error *err);
lv_status sq_sub_replay_add(lv_store *s, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err);
lv_status sq_sub_replay_next(lv_store *s, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err);
lv_status sq_sub_replay_advance(lv_store *s, int64_t id, int64_t at_time_ms, const unsigned char *at_hash, bool done,
                                lv_error *err);
lv_status sq_sub_pending_add(lv_store *s, int64_t sub, int64_t event, int64_t next_ms, bool *added, lv_error *err);
lv_status sq_sub_dead_put(lv_store *s, const lv_sub_dead_row *row, lv_error *err);
lv_status sq_sub_dead_list(lv_store *s, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err);
lv_status sq_sub_dead_count(lv_store *s, int64_t sub, int64_t *count, lv_error *err);
lv_status sq_sub_dead_requeue(lv_store *s, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err);
lv_status sq_sub_attempt_add(lv_store *s, const lv_sub_attempt_row *row, unsigned keep, lv_error *err);
lv_status sq_sub_attempts(lv_store *s, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx, lv_error *err);
lv_status sq_topic(lv_store *s, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err);
lv_status sq_topic_versions(lv_store *s, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err);
lv_status sq_event_document(lv_store *s, int64_t event, lv_buf *out, lv_error *err);
lv_status sq_topic_entries(lv_store *s, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err);
lv_status sq_conversation(lv_store *s, uint64_t id, lv_conversation_row *out, lv_error *err);
lv_status sq_conversation_timeline(lv_store *s, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err);
lv_status sq_course_known(lv_store *s, uint64_t course, bool *known, lv_error *err);
lv_status sq_course_topics(lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                           unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err);
lv_status sq_course_roles(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn,
                          void *ctx, lv_error *err);
lv_status sq_course_activity(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day,
                             lv_activity_fn fn, void *ctx, lv_error *err);
lv_status sq_course_entries(lv_store *s, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err);
lv_status sq_entry_detail(lv_store *s, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err);
lv_status sq_courses(lv_store *s, lv_courses_fn fn, void *ctx, lv_error *err);
lv_status sq_user_list(lv_store *s, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms,
                       unsigned limit, unsigned offset, lv_user_fn fn, void *ctx, lv_error *err);
lv_status sq_user_events(lv_store *s, uint64_t user, int64_t *events, lv_error *err);
lv_status sq_search(lv_store *s, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err);

/* ---- ops.c: backup, integrity, sizes, events read back ---- */

lv_status sq_snapshot(lv_store *s, bool on, lv_error *err);
lv_status sq_backup(lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                    lv_error *err);
lv_status sq_integrity(lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err);
lv_status sq_size(lv_store *s, lv_store_size *out, lv_error *err);
lv_status sq_stored_events(lv_store *s, lv_stored_event_fn fn, void *ctx, lv_error *err);
lv_status sq_set_webhook_hash(lv_store *s, int64_t id, int64_t time_ms, const unsigned char *webhook_hash,
                              lv_error *err);
lv_status sq_stored_dead_letters(lv_store *s, lv_stored_dead_fn fn, void *ctx, lv_error *err);
lv_status sq_clear_derived(lv_store *s, lv_error *err);
lv_status sq_derived_rows(lv_store *s, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err);

/* ---- erase.c: prune and forget ---- */

lv_status sq_add_about(lv_store *s, lv_subject subject, uint64_t id, int64_t event, lv_error *err);
lv_status sq_about_events(lv_store *s, lv_subject subject, uint64_t id, lv_row_id_fn fn, void *ctx, lv_error *err);
lv_status sq_topic_events(lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err);
lv_status sq_topic_first_entry_event(lv_store *s, uint64_t topic, int64_t *event, bool *found, lv_error *err);
lv_status sq_events_before(lv_store *s, int64_t before_ms, unsigned limit, lv_event_ref_fn fn, void *ctx,
                           lv_error *err);
lv_status sq_erase_events(lv_store *s, const int64_t *ids, size_t n, int64_t *documents, int64_t *doc_bytes,
                          lv_error *err);
lv_status sq_drop_topic(lv_store *s, uint64_t id, lv_error *err);
lv_status sq_drop_entry(lv_store *s, uint64_t id, lv_error *err);
lv_status sq_drop_conversation(lv_store *s, uint64_t id, lv_error *err);
lv_status sq_search_holds(lv_store *s, int64_t key, bool *held, lv_error *err);
lv_status sq_settle_figures(lv_store *s, lv_error *err);
lv_status sq_get_entry(lv_store *s, uint64_t id, lv_entry_row *out, bool *found, lv_error *err);
lv_status sq_erase_dead_before(lv_store *s, int64_t before_ms, unsigned limit, int64_t *erased, lv_error *err);
lv_status sq_erase_dead_letter(lv_store *s, int64_t id, lv_error *err);
lv_status sq_forget_add(lv_store *s, uint64_t user, int64_t at_ms, lv_error *err);
lv_status sq_forgotten(lv_store *s, lv_row_id_fn fn, void *ctx, lv_error *err);
lv_status sq_add_removed_entry(lv_store *s, uint64_t entry, uint64_t topic, lv_error *err);
lv_status sq_removed_entries(lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err);
/* copy.c */
lv_status sq_removed_entry_list(lv_store *s, lv_entry_fn fn, void *ctx, lv_error *err);
lv_status sq_sub_restore(lv_store *s, const lv_sub_row *row, lv_error *err);
lv_status sq_sub_replay_list(lv_store *s, int64_t sub, lv_sub_replay_fn fn, void *ctx, lv_error *err);
lv_status sq_sub_replay_put(lv_store *s, const lv_sub_replay_row *row, lv_error *err);
lv_status sq_receipt_add(lv_store *s, const lv_receipt_row *row, lv_error *err);
lv_status sq_receipts(lv_store *s, lv_receipt_fn fn, void *ctx, lv_error *err);
lv_status sq_set_scrub(lv_store *s, bool on, lv_error *err);
lv_status sq_reclaim(lv_store *s, int64_t max_pages, lv_space *out, lv_error *err);
lv_status sq_compact(lv_store *s, lv_error *err);
lv_status sq_checkpoint(lv_store *s, bool *complete, lv_error *err);

#endif
