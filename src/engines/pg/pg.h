/* pg.h: the PostgreSQL engine's connection state, shared by its files: conn.c (locations, connecting,
 * running statements and telling their results apart), schema.c (the tables, versions, upgrades and the
 * monthly partitions of events), open.c (opening, the engine's table, transactions, marks, names,
 * dictionaries), write.c (the write operations), read.c (the reads the answers use, search and export
 * among them), subs.c (subscriptions), ops.c (backup, checks, rebuild), erase.c (levee prune and forget).
 * Private to src/engines/pg/. */
#ifndef LEVEE_PG_H
#define LEVEE_PG_H

#include "levee/engine.h"
#include "levee/pq.h"

#include <stdatomic.h>

/* Prepared statements of the write path and of the reads asked most often, by purpose (schema.c has their
 * SQL). */
enum pg_stmt {
    PG_EVENT_INSERT, PG_DEAD_INSERT, PG_NAME_INSERT, PG_NAME_GET, PG_ACCOUNT_INSERT,
    PG_TOPIC_LOCK, PG_TOPIC_GET, PG_TOPIC_PUT, PG_TOPIC_ENSURE, PG_TOPIC_VERSION,
    PG_ENTRY_INSERT, PG_ENTRY_GRADED,
    PG_CONVERSATION_LOCK, PG_CONVERSATION_GET, PG_CONVERSATION_PUT, PG_MESSAGE_INSERT, PG_FORWARD_INSERT,
    PG_SEARCH_INSERT, PG_SEARCH_DELETE,
    PG_ACTIVITY_ADD, PG_PARTICIPANT_ADD, PG_COUNT_ADD, PG_DRIFT_ADD, PG_TOTAL_ADD, PG_TOTAL_MIN, PG_TOTAL_MAX,
    PG_EVENT_DOCUMENT, PG_ENTRY_DETAIL,
    /* reads asked again and again of a running levee serve (read.c): prepared on their second run */
    PG_COURSE_KNOWN, PG_COURSE_TOPICS, PG_COURSE_ROLES, PG_COURSE_ACTIVITY, PG_COURSE_ENTRIES, PG_ENTRY_DETAILS,
    PG_ABOUT_INSERT,
    /* multi-row statements (defer.c, and a batch of events) */
    PG_ABOUT_ROWS, PG_SEARCH_ROWS, PG_MESSAGE_ROWS, PG_FORWARD_ROWS, PG_VERSION_ROWS, PG_GRADED_ROWS,
    PG_ACTIVITY_ROWS, PG_PARTICIPANT_ROWS, PG_CONVERSATION_ROWS, PG_EVENTS_INSERT, PG_ENTRIES_INSERT,
    /* erasure (erase.c): an event read back by id (subs.c's pg_event_ref), and what a replay drops first */
    PG_EVENT_REF, PG_TOPIC_DROP, PG_VERSIONS_DROP, PG_ENTRY_DROP, PG_ABOUT_DROP, PG_CONVERSATION_DROP,
    PG_MESSAGES_DROP, PG_FORWARDS_DROP, PG_REMOVED_PUT,
    PG_STMT_COUNT
};

#define PG_PREPARE_AFTER 4

/* Writes sent at most before their results are read (pg_queue): their results (about 20 bytes each)
 * must fit in the socket's buffers while levee is still sending. */
#define PG_MAX_QUEUED 1000

/* Reads sent ahead together at most (pg_ahead). */
#define PG_MAX_AHEAD 8

/* A read's result read ahead: its statement, its parameters (as pg_ahead's key) and its result. */
typedef struct pg_ahead_read {
    int stmt;
    lv_buf key;
    PGresult *r;
} pg_ahead_read;

typedef struct pg_name {
    char *name;
    int64_t id;
} pg_name;

/* How levee uses its connections (levee_pool_mode in the location): PG_POOL_AUTO finds out when it
 * connects (a pooler hands libpq a backend process id of its own, not the server's pg_backend_pid()). */
enum pg_pool_mode { PG_POOL_AUTO, PG_POOL_SESSION, PG_POOL_TRANSACTION };

typedef struct pg_store {
    lv_store base;             /* base.location: the location with any password taken out */
    char *conninfo;            /* the location as libpq is handed it: levee's own settings taken out (never printed) */
    enum pg_pool_mode pool_mode;
    char *schema_setting;      /* levee_schema in the location (NULL: the search_path's first schema) */
    /* In a pooler's transaction mode (or when auto found a pooler): no state is kept in the session. No
     * named prepared statements, and the settings the engine relies on are set for each transaction by
     * `prefix`, which goes out with the first statement of every transaction (after it when it is a
     * BEGIN), in the same round trip. */
    bool pooled;
    char *prefix;
    char *schema;              /* the schema the tables are in (pg_schema_ready) */
    PGconn *conn;
    PGcancel *cancel;          /* for interrupt (PQcancel is safe from another thread) */
    bool read_only;
    bool standby;              /* the server is a hot standby (pg_is_in_recovery(), read as the store opened) */
    bool in_txn;
    bool relaxed;              /* commits without waiting for the WAL to be flushed */
    int schema_version;
    bool prepared[PG_STMT_COUNT]; /* on this connection; through a pooler in transaction mode, in this transaction */
    /* Run once on this connection, unnamed: a read is prepared when it is run again (a command that asks
     * once, as the command line does, prepares nothing: preparing is a round trip of its own). */
    bool run_once[PG_STMT_COUNT];
    /* Through a pooler in transaction mode, a write-path statement used PG_PREPARE_AFTER times in one
     * transaction is prepared for the rest of it, under a name no other transaction uses
     * (lv_TAG_GENERATION_STMT: a statement left behind by a transaction that failed is never asked for
     * again), and deallocated with the commit (conn.c). */
    unsigned char txn_uses[PG_STMT_COUNT];
    int n_named;
    unsigned txn_generation;
    char txn_tag[20];          /* random, for each connection */
    pg_name *names;
    size_t n_names, cap_names;
    int64_t *months;           /* first millisecond of each month that has a partition of events */
    size_t n_months, cap_months;
    lv_dict **dicts;
    size_t n_dicts;
    const lv_dict *current_dict;
    lv_zctx *z;
    lv_buf raw;                /* a document's bytes, decompressed */
    lv_buf bytes;              /* a bytea column, decoded */
    lv_buf row_text;           /* the strings of the row get_topic (or topic, entry_detail) filled */
    lv_buf entry_text;         /* the text of the row get_entry filled (erase.c) */
    lv_buf hash;               /* a hash column, decoded (erase.c, ops.c) */
    int64_t pruned_before;     /* the greatest limit events_before was asked for (reclaim drops months before it) */
    int64_t deadline_us;       /* statements give up after this (0: never) */
    int queued;                /* writes sent in pipeline mode whose results are not read yet (pg_queue) */
    const char *queued_what[PG_MAX_QUEUED]; /* what each one was doing, for its error */
    struct pg_deferred *deferred; /* rows of writes sent later, many to a statement (defer.c) */
    pg_ahead_read ahead[PG_MAX_AHEAD]; /* results read ahead (pg_ahead), ahead_at the next one asked for */
    int n_ahead, ahead_at;
    /* The advisory locks this transaction took (write.c's locked_read), each once: they share the
     * server's lock table, of fixed size, with every session's, so a transaction holding lock_budget of
     * them is full (pg_txn_full) and a bulk writer commits at its next chance. */
    uint64_t *locks;           /* open addressing; 0 is empty */
    size_t cap_locks, n_locks;
    size_t lock_budget;
    /* This transaction rewrites all derived state (a rebuild: pg_clear_derived) and holds topics and
     * conversations in EXCLUSIVE mode: no other writer makes or changes one until it ends, so it takes no
     * lock per id (a rebuild of a store with more topics and conversations than the lock table holds
     * could not, in one transaction). */
    bool derived_locked;
    _Atomic bool interrupted;
} pg_store;

/* ---- conn.c ---- */

/* Parameters of one statement: integers as text, strings and bytes as binary (their exact bytes). */
#define PG_MAX_PARAMS 20
typedef struct pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
    bool is_num[PG_MAX_PARAMS]; /* the value is num[i] (resolved when sent: params may be copied) */
    lv_buf fixed;              /* a text param whose NUL bytes were replaced (see pg_str) */
} pg_params;

void pg_params_init(pg_params *p);
void pg_params_free(pg_params *p);
void pg_int(pg_params *p, int64_t v);
void pg_null(pg_params *p);
void pg_opt(pg_params *p, lv_opt v);
/* A text: NULL when s.p is NULL. PostgreSQL's text cannot hold a NUL byte (JSON's \u0000): it is
 * stored as U+FFFD. */
void pg_str(pg_params *p, lv_str s);
void pg_cstr(pg_params *p, const char *s);
void pg_bytes(pg_params *p, const void *data, size_t n);

/* Whether a location names a PostgreSQL database: a postgres:// or postgresql:// URI, or a libpq
 * keyword/value string ("host=... dbname=..."). */
bool pg_is_location(const char *location);
/* Takes levee's own settings out of a location (URI or keyword/value): levee_schema into *schema (NULL
 * when absent), levee_pool_mode into *mode (PG_POOL_AUTO when absent); *conninfo is the rest, which libpq
 * reads (it refuses keywords it does not know); both the caller's to free. A levee_ key levee does not
 * know, or a bad value, is a sentence naming the location as shown. */
lv_status pg_location_settings(const char *location, const char *shown, char **conninfo, char **schema,
                               enum pg_pool_mode *mode, lv_error *err);
/* name as a quoted SQL identifier ("name", its quotes doubled), appended to b. */
void pg_quote_ident(lv_buf *b, const char *name);
/* The location with its password (URI user:password@, password=...) taken out, for messages and logs. */
char *pg_redact(const char *location);
/* Connects (or connects again after the connection was lost: the one place that does, so that
 * retrying later has one point to hook into), with the session settings the engine relies on. */
lv_status pg_connect(pg_store *s, lv_error *err);

/* A failed result (or a lost connection, res NULL) as lv_status with a sentence naming what failed,
 * the store and PostgreSQL's own message: LV_EIO for a lost connection, LV_EBUSY for a lock, a
 * conflict or a full disk, LV_ETIMEOUT past the deadline, LV_EDAMAGED for damaged data. */
lv_status pg_fail(pg_store *s, const PGresult *res, const char *what, lv_error *err);
/* Runs a statement (stmt >= 0: a prepared one of enum pg_stmt, else sql) and returns its whole result
 * in *out (which the caller clears) when it succeeded. */
lv_status pg_run(pg_store *s, int stmt, const char *sql, const pg_params *p, PGresult **out, const char *what,
                 lv_error *err);
/* Runs a statement that returns nothing worth keeping; *changed (when not NULL) is how many rows it
 * changed. */
lv_status pg_cmd(pg_store *s, int stmt, const char *sql, const pg_params *p, int64_t *changed, const char *what,
                 lv_error *err);
/* Sends a prepared write (stmt of enum pg_stmt) in libpq's pipeline mode without waiting for its result:
 * writes whose results levee does not need go out together, and the next statement that needs an answer
 * (pg_run, pg_cmd, ..., a commit) goes with them in the same round trip, after them. A queued write's
 * failure is reported by that next statement (or by pg_flush), with the queued write's `what`; the open
 * transaction is then failed, as it would be had the write waited. */
lv_status pg_queue(pg_store *s, int stmt, const pg_params *p, const char *what, lv_error *err);
/* Reads the results of the queued writes: LV_OK when they all succeeded. */
lv_status pg_flush(pg_store *s, lv_error *err);
/* Sends n prepared reads (stmts[i] with ps[i]) in one round trip and keeps their results: pg_run answers
 * each from them when asked for it next, in this order, with the same parameters; any other statement run
 * first drops them (pg_ahead_drop), and so does a failure here (the reads then read for themselves). */
lv_status pg_ahead(pg_store *s, int n, const int *stmts, const pg_params *ps, lv_error *err);
void pg_ahead_drop(pg_store *s);
/* Runs sql (no parameters; several statements allowed). */
lv_status pg_exec(pg_store *s, const char *sql, const char *what, lv_error *err);
/* Runs a read and hands its rows to fn one at a time, once the whole result has arrived (so fn may run
 * other statements). */
typedef lv_status (*pg_row_fn)(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err);
lv_status pg_each(pg_store *s, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                  lv_error *err);
/* pg_each of a prepared statement (of enum pg_stmt). */
lv_status pg_each_stmt(pg_store *s, int stmt, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                       lv_error *err);
/* The same for a read of any size (an export, every event): through a cursor, PG_STREAM_ROWS rows at a
 * time, inside the open transaction or one of its own (so the read sees one moment of the store). */
#define PG_STREAM_ROWS 2000
lv_status pg_stream(pg_store *s, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                    lv_error *err);

/* Whether a prepared statement's rows come in binary (schema.c): a read of many rows of integers, which
 * the server then sends as 8 bytes each instead of writing them in decimal, and levee reads without
 * parsing. Its columns are read with pg_get_bin_int and pg_get_bin_opt (bigint) and pg_get_str (text:
 * its bytes either way). */
static inline int pg_binary_result(int stmt)
{
    return stmt == PG_COURSE_ENTRIES;
}

/* Columns of a result row. */
bool pg_isnull(const PGresult *r, int row, int col);
int64_t pg_get_int(const PGresult *r, int row, int col);
lv_opt pg_get_opt(const PGresult *r, int row, int col);
/* A bigint column of a binary result (0, or unset, when NULL). */
int64_t pg_get_bin_int(const PGresult *r, int row, int col);
lv_opt pg_get_bin_opt(const PGresult *r, int row, int col);
/* Valid while r is. */
lv_str pg_get_str(const PGresult *r, int row, int col);
double pg_get_double(const PGresult *r, int row, int col);
/* A bytea column (hex form) decoded into out; false when it is not hex. */
bool pg_get_bytes(const PGresult *r, int row, int col, lv_buf *out);

/* ---- defer.c ---- */

/* Writes gathered into multi-row statements, by what they write. */
enum pg_defer {
    PG_DEFER_ABOUT, PG_DEFER_SEARCH, PG_DEFER_MESSAGE, PG_DEFER_FORWARD, PG_DEFER_VERSION, PG_DEFER_GRADED,
    PG_DEFER_ACTIVITY, PG_DEFER_PARTICIPANT, PG_DEFER_CONVERSATION,
    PG_DEFER_COUNT
};
/* Rows of a multi-row statement, as one array parameter per column, in PostgreSQL's binary form (so
 * $n::bigint[], $n::text[], $n::bytea[] in its SQL; integers are bigint, cast where the table says
 * otherwise); types: one letter per column, i (an integer), t (a text), b (bytes). */
typedef struct pg_rows {
    const char *types;
    size_t cols;
    lv_buf col[PG_MAX_PARAMS];
    size_t rows, bytes;
    uint32_t nulls;            /* the columns that hold a NULL */
} pg_rows;
void pg_rows_init(pg_rows *r, const char *types);
/* A row: p holds its columns as the single-row statement's parameters would. */
void pg_rows_add(pg_rows *r, const pg_params *p);
/* The arrays as the statement's parameters (valid until the rows change; PG_MAX_PARAMS <= 32). */
void pg_rows_params(pg_rows *r, pg_params *p);
void pg_rows_reset(pg_rows *r);
void pg_rows_free(pg_rows *r);

/* Adds a row (p: its columns, as the single-row statement's parameters) to a deferred write. */
lv_status pg_defer(pg_store *s, enum pg_defer kind, const pg_params *p, lv_error *err);
/* Sends the deferred rows (queued: they travel with the next statement that needs an answer). */
lv_status pg_defer_flush(pg_store *s, lv_error *err);
lv_status pg_defer_kind_flush(pg_store *s, enum pg_defer kind, lv_error *err);
/* Called before a statement that needs an answer (stmt: of enum pg_stmt, or -1): sends the deferred rows
 * first unless the statement touches none of their tables. */
lv_status pg_defer_before(pg_store *s, int stmt, lv_error *err);
/* Forgets the deferred rows (the transaction is rolled back). */
void pg_defer_drop(pg_store *s);
/* A conversation this transaction holds (read under its lock): its row as the transaction left it
 * (*found false: it has none yet). false: not held. */
bool pg_held_conversation(pg_store *s, uint64_t id, lv_conversation_row *out, bool *found);
void pg_hold_conversation(pg_store *s, const lv_conversation_row *row, bool found);
void pg_defer_free(pg_store *s);

/* ---- schema.c ---- */

extern const char *const pg_statements[PG_STMT_COUNT];
/* Schema 3 -> 4, inside the schema's transaction: every event row keyed by the canonical identity
 * (rekey.c). */
lv_status pg_upgrade_v3(pg_store *s, lv_error *err);
/* Creates the schema in an empty one, or upgrades an older one (writers), or checks that the version is
 * one this levee reads. */
lv_status pg_schema_ready(pg_store *s, bool read_only, bool create, lv_error *err);
/* Makes sure the month of time_ms has its partition of events (inside the open transaction). */
lv_status pg_ensure_month(pg_store *s, int64_t time_ms, lv_error *err);
void pg_forget_months(pg_store *s);

/* ---- open.c ---- */

const lv_dict *pg_dict(pg_store *s, int64_t id, lv_error *err);
/* The exact bytes of a stored document, from the raw, raw_len and dict columns starting at col. */
lv_status pg_document(pg_store *s, const PGresult *r, int row, int col, lv_buf *out, lv_error *err);
lv_status pg_name_id(pg_store *s, const char *name, size_t len, int64_t *id, lv_error *err);
void pg_forget_names(pg_store *s);

/* ---- write.c ---- */

lv_status pg_put_event(lv_store *s, const lv_event_row *row, int64_t *rowid, lv_error *err);
lv_status pg_put_events(lv_store *s, const lv_event_row *rows, size_t n, int64_t *rowids, lv_error *err);
lv_status pg_put_dead_letter(lv_store *s, const lv_dead_row *row, bool *fresh, lv_error *err);
lv_status pg_put_account(lv_store *s, uint64_t root_account_id, uint64_t shard, lv_error *err);
/* The advisory locks a transaction holds: forgotten when it ends (open.c), counted against a budget of a
 * quarter of the server's lock table (max_locks_per_transaction x (max_connections +
 * max_prepared_transactions), read at connect; 0: unknown, PostgreSQL's defaults assumed). */
void pg_set_lock_table(pg_store *s, int64_t entries);
void pg_forget_locks(pg_store *s);
bool pg_txn_full(lv_store *s);
lv_status pg_get_topic(lv_store *s, uint64_t id, lv_topic_row *out, bool *found, lv_error *err);
lv_status pg_put_topic(lv_store *s, const lv_topic_row *row, lv_error *err);
lv_status pg_ensure_topic(lv_store *s, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err);
lv_status pg_add_topic_version(lv_store *s, uint64_t topic, int64_t event, int64_t updated_at, int64_t time_ms,
                               const unsigned char *hash, lv_error *err);
lv_status pg_put_entry(lv_store *s, const lv_entry_row *row, bool *fresh, lv_error *err);
lv_status pg_put_entries(lv_store *s, const lv_entry_row *rows, size_t n, bool *fresh, lv_error *err);
lv_status pg_set_entry_grading(lv_store *s, uint64_t id, lv_opt assignment_id, lv_opt submission_id, lv_error *err);
lv_status pg_get_conversation(lv_store *s, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err);
lv_status pg_put_conversation(lv_store *s, const lv_conversation_row *row, lv_error *err);
lv_status pg_put_message(lv_store *s, const lv_message_row *row, lv_error *err);
lv_status pg_put_forward(lv_store *s, const lv_forward_row *row, lv_error *err);
lv_status pg_search_add(lv_store *s, int64_t key, lv_opt entry, lv_opt topic, const char *title, const char *text,
                        lv_error *err);
lv_status pg_search_remove(lv_store *s, int64_t key, const char *title, const char *text, lv_error *err);
lv_status pg_add_activity(lv_store *s, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err);
lv_status pg_add_participant(lv_store *s, uint64_t course, int64_t day, uint64_t user, const char *role, int64_t n,
                             lv_error *err);
lv_status pg_add_count(lv_store *s, const char *name, lv_format format, int64_t n, lv_error *err);
lv_status pg_add_drift(lv_store *s, const char *name, const char *field, lv_format format, int64_t n,
                       int64_t first_time, int64_t last_time, lv_error *err);
lv_status pg_add_totals(lv_store *s, const lv_totals *t, lv_error *err);

/* ---- read.c ---- */

lv_status pg_export(lv_store *s, const lv_export_filter *f,
                    lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err), void *ctx,
                    lv_error *err);
lv_status pg_shards(lv_store *s, uint64_t *out, size_t max, size_t *n, lv_error *err);
lv_status pg_stats(lv_store *s, lv_stats_row *out, lv_error *err);
lv_status pg_event_counts(lv_store *s, lv_event_count_fn fn, void *ctx, lv_error *err);
lv_status pg_drift(lv_store *s, lv_drift_fn fn, void *ctx, lv_error *err);
lv_status pg_topic(lv_store *s, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err);
lv_status pg_topic_versions(lv_store *s, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err);
lv_status pg_event_document(lv_store *s, int64_t event, lv_buf *out, lv_error *err);
lv_status pg_topic_entries(lv_store *s, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err);
lv_status pg_conversation(lv_store *s, uint64_t id, lv_conversation_row *out, lv_error *err);
lv_status pg_conversation_timeline(lv_store *s, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err);
void pg_course_ahead(lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                     unsigned offset, int64_t since_day, int64_t until_day);
lv_status pg_course_known(lv_store *s, uint64_t course, bool *known, lv_error *err);
lv_status pg_course_topics(lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                           unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err);
lv_status pg_course_roles(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn,
                          void *ctx, lv_error *err);
lv_status pg_course_activity(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day,
                             lv_activity_fn fn, void *ctx, lv_error *err);
lv_status pg_course_entries(lv_store *s, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err);
lv_status pg_entry_detail(lv_store *s, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err);
lv_status pg_entry_details(lv_store *s, const uint64_t *ids, size_t n, lv_entry_detail_fn fn, void *ctx,
                           lv_error *err);
lv_status pg_courses(lv_store *s, lv_courses_fn fn, void *ctx, lv_error *err);
lv_status pg_user_list(lv_store *s, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms,
                       unsigned limit, unsigned offset, lv_user_fn fn, void *ctx, lv_error *err);
lv_status pg_user_events(lv_store *s, uint64_t user, int64_t *events, lv_error *err);
lv_status pg_search(lv_store *s, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err);

/* ---- subs.c, ops.c and erase.c: the table's remaining operations ---- */

/* The arrival horizon (subs.c): every writing transaction holds a shared advisory lock, keys
 * (PG_HORIZON_CLASS + (v >> 31), v & 0x7fffffff), on the events' sequence's next value v when it began,
 * until it ends; readers in arrival order read only below the least of them. */
#define PG_HORIZON_CLASS 1000
#define PG_HORIZON_CLASS_S "1000"
#define PG_HORIZON_LOCK                                                                                        \
    "SELECT pg_advisory_xact_lock_shared((" PG_HORIZON_CLASS_S " + (v >> 31))::integer, (v & 2147483647)::integer)," \
    " set_config('synchronous_commit', $1::text, true)"                                                       \
    " FROM (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END AS v FROM events_id_seq) s"
/* ($1: the transaction's synchronous_commit, set for it alone: no session state, so that pgbouncer's
 * transaction pooling cannot hand the setting to another client.) */
/* The least row id a transaction still running may yet commit (else the sequence's end). */
lv_status pg_horizon(pg_store *s, int64_t *horizon, lv_error *err);

void pg_fill_subs(lv_engine *e);
void pg_fill_ops(lv_engine *e);
void pg_fill_erase(lv_engine *e);
void pg_fill_copy(lv_engine *e);

/* ---- subs.c: events read back as lv_event_ref, by delivery, replay and erasure alike ---- */

/* The columns pg_ref_row reads, between BEFORE and AFTER: id, name, format, context, time, received, hash,
 * and the key webhook-id is made of (events re-keyed at schema 4 keep their old one; NULL before schema 4);
 * a document's raw, raw_len, dict follow when the context asks for documents. */
#define PG_REF_COLUMNS_W(W) "e.id, names.name, e.format, e.context_id, e.time, e.received, e.hash, " W
#define PG_REF_SQL(s, before, after)                                                                         \
    ((s)->schema_version >= 4 ? before PG_REF_COLUMNS_W("e.webhook_hash") after                              \
                              : before PG_REF_COLUMNS_W("NULL") after)

typedef struct pg_ref_ctx {
    lv_event_ref_fn fn;
    void *ctx;
    bool with_docs;
} pg_ref_ctx;

/* A pg_row_fn: one row of PG_REF_SQL's columns (ctx a pg_ref_ctx). */
lv_status pg_ref_row(pg_store *s, const PGresult *r, int i, void *ctx, lv_error *err);
/* One event with its document, by row id. */
lv_status pg_event_ref(lv_store *s, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err);

#endif
