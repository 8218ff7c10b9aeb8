/* levee/engine.h (stage: keep): what a store engine implements. An engine keeps rows and answers
 * reads in its own query language; it holds no rules. The rules that turn events into state (which
 * version of a topic is current, who created a conversation, stand-in rows for topics whose replies
 * came first, figures per day) live once, in keep/projection.c, which calls the write operations
 * below; the answers' shapes live once, in answer/, which calls the read operations. So a second
 * engine (PostgreSQL) implements this table and nothing else, and gives the same answers.
 *
 * Conventions for every operation:
 * - it returns LV_OK or fills err with a sentence naming the store and the engine's own message; a
 *   damaged store is reported as such (LV_EDAMAGED), never as "not found" or as no rows;
 * - ids are Canvas global ids; times are UTC milliseconds since the epoch;
 * - an lv_opt with set == false is SQL NULL; an lv_str with p == NULL is NULL, otherwise p is
 *   NUL-terminated at p[n];
 * - strings handed to a callback are valid during the callback only; strings in a row filled by a
 *   get_* operation stay valid until the next call of the same operation on that store;
 * - write operations run inside the transaction opened by begin; an engine that serves several
 *   writers at once (PostgreSQL with several nodes) makes get_topic and get_conversation lock the row
 *   they read until commit, so that read-decide-write in the projection is never interleaved;
 * - row orders are part of the contract where an operation says so: both engines must order alike
 *   (byte order for text, not a locale's). */
#ifndef LEVEE_ENGINE_H
#define LEVEE_ENGINE_H

#include "levee/store.h"

#define LV_HASH_BYTES 16

/* An optional integer: an id or a time, NULL when not set. */
typedef struct lv_opt {
    int64_t v;
    bool set;
} lv_opt;

static inline lv_opt lv_some(int64_t v) { return (lv_opt){ v, true }; }
static inline lv_opt lv_opt_id(const lv_value *val)
{
    return val && val->state == LV_SET ? lv_some((int64_t)lv_value_id(val)) : (lv_opt){ 0, false };
}
static inline lv_opt lv_opt_time(const lv_value *val)
{
    return val && val->state == LV_SET ? lv_some(val->ms) : (lv_opt){ 0, false };
}

/* A string that may be NULL. */
typedef struct lv_str {
    const char *p;
    size_t n;
} lv_str;

static inline lv_str lv_str_of(const lv_value *val)
{
    return val && val->state == LV_SET ? (lv_str){ val->str, val->len } : (lv_str){ NULL, 0 };
}

/* ---- rows written by the projection ---- */

/* One stored event. Duplicates are recognised by (time_ms, hash): put_event stores nothing for an
 * event whose time and hash are already there. */
typedef struct lv_event_row {
    const unsigned char *hash; /* LV_HASH_BYTES: SHA-256 of the event's identity (lv_event_identity) */
    const char *name;          /* the event name (modelled or not) */
    size_t name_len;
    lv_format format;
    int64_t time_ms;
    lv_opt context_id;         /* the course, else the metadata's context */
    lv_opt user_id;
    int64_t doc;               /* 0: this row keeps the document's bytes; else the row that does */
    const void *raw;           /* the document, compressed (when doc == 0) */
    size_t raw_size;
    size_t raw_len;            /* its length uncompressed */
    int64_t dict;              /* the compression dictionary (0: none) */
    int64_t received_ms;
} lv_event_row;

/* One rejected document, kept whole with its diagnostics. Unique by hash (its bytes). */
typedef struct lv_dead_row {
    const unsigned char *hash;
    int64_t received_ms;
    const char *source;
    long line;
    lv_str errors;             /* a JSON array of diagnostics */
    const void *raw;           /* compressed bytes; NULL when the document was too large to keep */
    size_t raw_size;
    size_t raw_len;            /* its length (also when not kept) */
    int64_t dict;
} lv_dead_row;

/* A topic's row: the fields of its current version, when it was created and by whom. A stand-in
 * (made for entries whose topic has not arrived) has only id and context. */
typedef struct lv_topic_row {
    uint64_t id;
    lv_opt context_id;
    lv_str context_type;
    lv_str title;
    lv_str body;
    lv_opt is_announcement; /* 0 or 1 */
    lv_opt assignment_id;
    lv_str workflow_state;
    lv_opt lock_at;
    /* the current version: the event with the greatest (updated_at, version_time, version_hash);
     * updated_at is unset on a stand-in */
    lv_opt updated_at;
    int64_t version_time;
    unsigned char version_hash[LV_HASH_BYTES];
    int64_t version_event;  /* its event row */
    lv_opt created_at;      /* the earliest discussion_topic_created */
    lv_opt created_by;
    int64_t search_key;     /* the search entry holding its title and body (0: none) */
} lv_topic_row;

typedef struct lv_entry_row {
    uint64_t id;
    uint64_t topic;
    lv_opt parent;
    lv_opt user_id;
    lv_str role;            /* the poster's context_role */
    int64_t created_at;
    lv_str text;
    lv_opt assignment_id;
    lv_opt submission_id;
    int64_t event;          /* the event row it came from */
} lv_entry_row;

typedef struct lv_conversation_row {
    uint64_t id;
    lv_opt created_at;
    lv_opt created_by;
    lv_opt updated_at;
} lv_conversation_row;

typedef struct lv_message_row {
    uint64_t id;
    uint64_t conversation;
    lv_opt author;
    int64_t created_at;
    int64_t time_ms;        /* the event's time */
    int64_t event;
} lv_message_row;

typedef struct lv_forward_row {
    uint64_t conversation;
    int64_t event;
    int64_t time_ms;
    lv_opt user_id;
    lv_opt updated_at;
} lv_forward_row;

/* Figures added up over a transaction and written once at its commit. Adding is commutative, so
 * several writers can add at once. */
typedef struct lv_totals {
    int64_t duplicates;     /* added */
    int64_t raw_bytes;      /* added */
    bool have_span;
    int64_t first_time;     /* the span of event times widens to include [first_time, last_time] */
    int64_t last_time;
} lv_totals;

/* ---- rows read by the answers ---- */

typedef struct lv_version_row {
    int64_t event;          /* the event row of this version */
    lv_opt updated_at;
    int64_t time_ms;
} lv_version_row;

typedef struct lv_timeline_row {
    bool message;           /* a message, or users added (a forward) */
    lv_opt message_id;
    lv_opt user_id;         /* the author of a message, the user who forwarded */
    lv_opt at;              /* the message's created_at, the forward's updated_at (else its time) */
    int64_t time_ms;
} lv_timeline_row;

typedef struct lv_course_topic_row {
    uint64_t id;
    lv_str title;
    lv_opt is_announcement;
    lv_str workflow_state;
    bool graded;
    int64_t entries;        /* entries created in the window */
    lv_opt last_entry_at;
    lv_opt created_at;
} lv_course_topic_row;

typedef struct lv_role_row {
    lv_str role;
    int64_t users;
    int64_t events;
} lv_role_row;

typedef struct lv_activity_row {
    int64_t day;            /* days since 1970-01-01 (UTC) */
    lv_str name;            /* event name */
    int64_t events;
} lv_activity_row;

/* An entry of a course, for finding student posts no teacher answered. */
typedef struct lv_course_entry_row {
    uint64_t id;
    lv_opt parent;
    lv_str role;
    uint64_t topic;
    lv_opt user_id;
    int64_t created_at;
} lv_course_entry_row;

typedef struct lv_courses_row {
    uint64_t course;
    int64_t events;
    int64_t first_day, last_day;
    int64_t topics;
    int64_t users;
} lv_courses_row;

/* What a user did, one list at a time; each list fills the fields it names. */
typedef enum lv_user_list {
    LV_USER_ENTRIES,        /* id, topic, title (the topic's), course, created_at, text, parent, role */
    LV_USER_MESSAGES,       /* id, conversation (in topic), created_at */
    LV_USER_TOPICS,         /* id, title, course, created_at */
    LV_USER_CONVERSATIONS,  /* id, created_at */
    LV_USER_LISTS
} lv_user_list;

typedef struct lv_user_row {
    lv_opt id;
    lv_opt topic;
    lv_str title;
    lv_opt course;
    lv_opt created_at;
    lv_str text;
    lv_opt parent;
    lv_str role;
} lv_user_row;

/* A search, in no engine's language: every term must match (a term with prefix set matches words
 * that start with it); a phrase's terms must appear in a row. Engines translate it. */
typedef struct lv_search_term {
    const char *text;
    size_t len;
    bool prefix;
    int phrase;             /* 0: a lone term; n > 0: part of the n-th phrase (consecutive terms) */
} lv_search_term;

typedef struct lv_search_query {
    const lv_search_term *terms;
    size_t n_terms;
    uint64_t course;        /* 0: all */
    int64_t since_ms, until_ms; /* created in [since, until) */
    unsigned limit, offset;
} lv_search_query;

/* Best first (lowest rank), ties by the search key. */
typedef struct lv_search_row {
    bool entry;             /* an entry, or a topic */
    uint64_t id;            /* the entry's or the topic's */
    double rank;            /* lower is better */
    lv_opt topic;           /* an entry's topic */
    lv_str topic_title;
    lv_opt course;
    lv_opt user_id;
    lv_opt created_at;
    lv_str html;            /* the entry's text or the topic's body */
} lv_search_row;

typedef struct lv_stats_row {
    int64_t events;
    int64_t duplicates;
    int64_t dead_letters;
    int64_t documents;      /* events rows keeping a document */
    int64_t raw_bytes;
    lv_opt first_time, last_time;
    int64_t bytes_on_disk;
    int64_t dictionaries;
} lv_stats_row;

typedef struct lv_event_count_row {
    lv_str name;
    int64_t canvas, caliper, total;
} lv_event_count_row;

/* Schema drift: what Canvas sent that the catalog does not model. An event name outside the model
 * (field empty), or a member of an event's metadata or body the catalog does not know (field a JSON
 * pointer: "/metadata/x", "/body/x"), with how many stored events had it and the first and last of
 * their event times. */
typedef struct lv_drift_row {
    lv_str name;
    lv_str field;
    lv_format format;
    int64_t count;
    int64_t first_time, last_time;
} lv_drift_row;

/* ---- subscriptions (src/deliver/ holds their rules; the engine keeps their rows) ---- */

typedef enum lv_sub_state { LV_SUB_ACTIVE = 0, LV_SUB_PAUSED = 1, LV_SUB_DISABLED = 2 } lv_sub_state;

/* A subscription. Its settings are one JSON text that only deliver/ reads (the engine keeps it as is);
 * the rest is delivery's progress. The cursor is the next event row (arrival order) to consider. */
typedef struct lv_sub_row {
    int64_t id;
    lv_str spec;
    lv_sub_state state;
    lv_str reason;           /* why it is disabled */
    int64_t created_ms;
    int64_t cursor;
    int64_t failing_since_ms; /* 0 once an attempt succeeded */
    int64_t delivered, failed_attempts, skipped;
    int64_t dead_letters, pending; /* how many there are now */
    int64_t last_success_ms;  /* 0: never */
    lv_str last_error;
    lv_str lease_owner;       /* who delivers it (NULL: nobody), until lease_until_ms */
    int64_t lease_until_ms;
    int64_t replays;          /* windows of event time being sent again (sub_replay_add), not walked to the end yet */
} lv_sub_row;

/* What a round of delivery changed in a subscription: counters are added, the rest set (a negative
 * value, or NULL for last_error, leaves it). */
typedef struct lv_sub_progress {
    int64_t cursor;
    int64_t delivered, failed_attempts, skipped; /* added */
    int64_t failing_since_ms;  /* -1: leave; 0: clear */
    int64_t last_success_ms;   /* -1: leave */
    const char *last_error;    /* NULL: leave */
} lv_sub_progress;

/* A stored event as delivery reads it. doc is the document holding it (decompressed), or empty when
 * the read asked for heads only; it is valid until the next row. */
typedef struct lv_event_ref {
    int64_t id;
    lv_str name;
    lv_format format;
    lv_opt context_id;
    int64_t time_ms, received_ms;
    const unsigned char *hash; /* LV_HASH_BYTES */
    /* LV_HASH_BYTES: what webhook-id is made of: the key the event was stored under first, which
     * differs from hash only for events an upgrade re-keyed (SQLite schema 7, PostgreSQL 4); NULL:
     * the same as hash */
    const unsigned char *webhook_hash;
    lv_str doc;
} lv_event_ref;

/* An event waiting for its next attempt (a retry, a replay, a redelivery). */
typedef struct lv_sub_pending_row {
    int64_t sub, event;
    int64_t attempts;
    int64_t first_attempt_ms; /* 0: none yet */
    int64_t next_ms;
} lv_sub_pending_row;

/* An event delivery gave up on, with why. */
typedef struct lv_sub_dead_row {
    int64_t sub, event;
    int64_t attempts;
    int64_t status;           /* the last HTTP status, 0 for none (a connection error, a timeout) */
    lv_str answer;            /* the first KB of the last answer */
    lv_str error;
    int64_t first_attempt_ms, last_attempt_ms;
    /* filled when read */
    lv_str event_name;
    int64_t event_time_ms;
} lv_sub_dead_row;

/* A window of event time a subscription sends again, walked by delivery in (event time, key) order:
 * at_time_ms and at_hash say how far (started false: not at all yet, from since_ms). */
typedef struct lv_sub_replay_row {
    int64_t id, sub;
    int64_t since_ms, until_ms;
    bool started;
    int64_t at_time_ms;
    unsigned char at_hash[LV_HASH_BYTES];
} lv_sub_replay_row;

typedef struct lv_sub_attempt_row {
    int64_t sub, event;
    int64_t at_ms;
    int64_t status;           /* 0: no answer */
    int64_t latency_ms;
    lv_str error;             /* empty when it was answered */
    lv_str event_name;        /* filled when read */
} lv_sub_attempt_row;

/* ---- operations: backup, check, rebuild (levee/check.h holds their rules) ---- */

/* How many rows a store holds, table by table, as one snapshot sees them: what a backup is compared
 * with, and what check reports. */
typedef struct lv_store_size {
    int64_t events, documents, dead_letters, topics, entries, conversations, messages, subscriptions;
} lv_store_size;

/* One stored event as check reads it back. The row that keeps a document (doc 0) carries its bytes,
 * decompressed; when they cannot be read back, damage says why (a sentence) and bytes is empty. */
typedef struct lv_stored_event {
    int64_t id;
    int64_t doc;              /* 0: this row keeps the document's bytes; else the row that does */
    const unsigned char *hash; /* hash_len bytes: the dedupe key stored with it */
    size_t hash_len;
    lv_str name;
    lv_format format;
    int64_t time_ms;
    lv_str bytes;             /* doc 0: the document */
    const char *damage;       /* doc 0: NULL when bytes are the document */
    int64_t received_ms;      /* when it arrived */
    const unsigned char *webhook_hash; /* LV_HASH_BYTES: the key webhook-id is made of, when an upgrade
                                        * re-keyed the event (lv_event_ref); NULL: its hash */
} lv_stored_event;

/* One dead letter as check reads it back: its bytes (kept: raw_len of them; not kept when it was too
 * large, kept false), or why they cannot be read back (damage). */
typedef struct lv_stored_dead {
    int64_t id;
    const unsigned char *hash; /* hash_len bytes: its key (its bytes') */
    size_t hash_len;
    bool kept;
    int64_t raw_len;
    lv_str bytes;
    const char *damage;        /* NULL when bytes are the document */
    /* as put_dead_letter kept them */
    int64_t received_ms;
    lv_str source;
    long line;
    lv_str errors;
} lv_stored_dead;

/* The derived state, table by table: everything the projection computes from the events (levee
 * rebuild recomputes it; levee check compares a rebuild with it). */
typedef enum lv_derived_table {
    LV_DERIVED_TOPICS, LV_DERIVED_TOPIC_VERSIONS, LV_DERIVED_ENTRIES, LV_DERIVED_CONVERSATIONS,
    LV_DERIVED_MESSAGES, LV_DERIVED_FORWARDS, LV_DERIVED_ACTIVITY, LV_DERIVED_PARTICIPANTS, LV_DERIVED_COUNTS,
    LV_DERIVED_DRIFT, LV_DERIVED_TOTALS, LV_DERIVED_SEARCH_DOCS, LV_DERIVED_SEARCH_TERMS, LV_DERIVED_ABOUT,
    LV_DERIVED_TABLES
} lv_derived_table;

/* One derived row as text: its key (what identifies it) and its value (every other column), both
 * in a form the engine chooses, the same for the same row in any of its stores. */
typedef struct lv_derived_row {
    lv_str key;
    lv_str value;
} lv_derived_row;

/* ---- erasing (levee prune, levee forget; keep/erase.c holds their rules) ---- */

/* The mark that says the store knows which events are about which entry and conversation
 * (add_about) for all its events: set in a new store and by a rebuild; unset in a store upgraded
 * from a levee that did not keep it (levee rebuild sets it). */
#define LV_ABOUT_MARK "about_indexed"

/* One erasure, as its receipt keeps it: what was erased and when, nothing about whom. */
typedef struct lv_receipt_row {
    int64_t id;
    int64_t at_ms;
    lv_str action;          /* "prune", "forget" */
    int64_t events, documents, dead_letters;
    lv_opt limit_ms;        /* prune: the limit (events before it were erased) */
    int64_t took_ms;
} lv_receipt_row;

/* The file's space (reclaim). */
typedef struct lv_space {
    int64_t page_size;
    int64_t pages;          /* the file's pages */
    int64_t free_pages;     /* of which free (after reclaiming) */
    int64_t reclaimed;      /* pages given back to the file system by this call */
    bool incremental;       /* the store can give pages back a few at a time (else only compact does) */
} lv_space;

/* Progress of a long operation: done of total (pages, documents); total 0 when unknown. */
typedef void (*lv_progress_fn)(void *ctx, uint64_t done, uint64_t total);
/* One problem found, as a sentence. */
typedef void (*lv_problem_fn)(void *ctx, const char *problem);

/* One entry of entry_details: the entry asked for at index i, its text and its topic's title (valid during
 * the call), or found false when there is no such entry. */
typedef struct lv_entry_detail_row {
    size_t i;
    bool found;
    lv_str title, text;
} lv_entry_detail_row;

/* Callbacks return LV_OK to go on, anything else to stop (the operation returns it). */
#define LV_ROW_CALLBACK(name, row_type) typedef lv_status (*name)(void *ctx, const row_type *row, lv_error *err)
LV_ROW_CALLBACK(lv_version_fn, lv_version_row);
LV_ROW_CALLBACK(lv_entry_fn, lv_entry_row);
LV_ROW_CALLBACK(lv_timeline_fn, lv_timeline_row);
LV_ROW_CALLBACK(lv_course_topic_fn, lv_course_topic_row);
LV_ROW_CALLBACK(lv_role_fn, lv_role_row);
LV_ROW_CALLBACK(lv_activity_fn, lv_activity_row);
LV_ROW_CALLBACK(lv_course_entry_fn, lv_course_entry_row);
LV_ROW_CALLBACK(lv_entry_detail_fn, lv_entry_detail_row);
LV_ROW_CALLBACK(lv_courses_fn, lv_courses_row);
LV_ROW_CALLBACK(lv_user_fn, lv_user_row);
LV_ROW_CALLBACK(lv_search_fn, lv_search_row);
LV_ROW_CALLBACK(lv_event_count_fn, lv_event_count_row);
LV_ROW_CALLBACK(lv_drift_fn, lv_drift_row);
LV_ROW_CALLBACK(lv_sub_fn, lv_sub_row);
LV_ROW_CALLBACK(lv_event_ref_fn, lv_event_ref);
LV_ROW_CALLBACK(lv_sub_pending_fn, lv_sub_pending_row);
LV_ROW_CALLBACK(lv_sub_dead_fn, lv_sub_dead_row);
LV_ROW_CALLBACK(lv_sub_attempt_fn, lv_sub_attempt_row);
LV_ROW_CALLBACK(lv_stored_event_fn, lv_stored_event);
LV_ROW_CALLBACK(lv_derived_fn, lv_derived_row);
LV_ROW_CALLBACK(lv_stored_dead_fn, lv_stored_dead);
LV_ROW_CALLBACK(lv_receipt_fn, lv_receipt_row);
LV_ROW_CALLBACK(lv_row_id_fn, int64_t);
LV_ROW_CALLBACK(lv_sub_replay_fn, lv_sub_replay_row);
#undef LV_ROW_CALLBACK

/* The engine's table of operations. */
typedef struct lv_engine {
    const char *name;
    void (*close)(lv_store *s);

    /* transactions, durability and housekeeping */
    lv_status (*begin)(lv_store *s, lv_error *err);
    lv_status (*commit)(lv_store *s, lv_error *err);
    void (*rollback)(lv_store *s);
    void (*set_bulk)(lv_store *s, bool bulk);
    /* commits return before they reach the disk (a crash of the process loses nothing; a power cut may
     * lose the last ones), with housekeeping as usual or (housekeeping false) none in this connection */
    void (*set_relaxed)(lv_store *s, bool housekeeping);
    /* wait false: begin answers LV_EBUSY at once when another connection holds the write lock, instead
     * of waiting for it (up to 10 s) */
    void (*set_lock_wait)(lv_store *s, bool wait);
    lv_status (*sync)(lv_store *s, lv_error *err);
    /* From a connection of its own, beside the writer: makes what the other connections committed before
     * the call survive a power cut, holding none of them up (SQLite: syncs the write-ahead log, as a
     * synchronous=FULL commit would have; its frames are there, or were copied into the database by a
     * checkpoint that synced it before the log started over) */
    lv_status (*sync_others)(lv_store *s, lv_error *err);
    /* the engine's housekeeping done now, without waiting for (or holding up) other connections'
     * readers and writers: SQLite copies what the WAL holds into the database (a passive checkpoint) */
    lv_status (*housekeeping)(lv_store *s, lv_error *err);
    lv_status (*set_mark)(lv_store *s, const char *name, uint64_t value, lv_error *err);
    /* *found false (and *value 0) when the mark was never set */
    lv_status (*get_mark)(lv_store *s, const char *name, uint64_t *value, bool *found, lv_error *err);
    const lv_dict *(*dict)(lv_store *s);
    lv_status (*maybe_train)(lv_store *s, lv_error *err);
    /* aside: maybe_train trains on a thread of its own, so that its caller is not held up for the
     * training (a few hundred ms); a later call stores the dictionary, and lv_store_dict returns it from
     * then on. Off (the default): maybe_train trains before it returns. Closing the store waits for a
     * training under way and drops what it trained (trained again later). */
    void (*set_train_aside)(lv_store *s, bool aside);
    /* Abandon any statement still running after deadline_us (lv_monotonic_us; 0: none) with
     * LV_ETIMEOUT. */
    void (*set_deadline)(lv_store *s, int64_t deadline_us);
    /* Abandon the statement running now (called from another thread). */
    void (*interrupt)(lv_store *s);

    /* writing (inside a transaction) */
    lv_status (*put_event)(lv_store *s, const lv_event_row *row, int64_t *rowid, lv_error *err); /* 0: a duplicate */
    /* n events in one go: rowids[i] is what put_event would have given rows[i] had they been put one
     * after another in order (0: a duplicate, of a row stored or of an earlier one of rows); no row is
     * another's holder (doc == 0 for each). An engine without it has put_event called n times. */
    lv_status (*put_events)(lv_store *s, const lv_event_row *rows, size_t n, int64_t *rowids, lv_error *err);
    lv_status (*put_dead_letter)(lv_store *s, const lv_dead_row *row, bool *fresh, lv_error *err);
    lv_status (*put_account)(lv_store *s, uint64_t root_account_id, uint64_t shard, lv_error *err);
    lv_status (*get_topic)(lv_store *s, uint64_t id, lv_topic_row *out, bool *found, lv_error *err);
    lv_status (*put_topic)(lv_store *s, const lv_topic_row *row, lv_error *err);  /* the whole row */
    /* a stand-in row (id and context only), unless the topic has a row */
    lv_status (*ensure_topic)(lv_store *s, uint64_t id, lv_opt context_id, lv_str context_type, lv_error *err);
    lv_status (*add_topic_version)(lv_store *s, uint64_t topic, int64_t event, int64_t updated_at,
                                   int64_t time_ms, const unsigned char *hash, lv_error *err);
    lv_status (*put_entry)(lv_store *s, const lv_entry_row *row, bool *fresh, lv_error *err); /* unless it exists */
    /* n entries in one go: fresh[i] is what put_entry would have said of rows[i] had they been put one
     * after another in order. An engine without it has put_entry called n times. */
    lv_status (*put_entries)(lv_store *s, const lv_entry_row *rows, size_t n, bool *fresh, lv_error *err);
    /* sets the ids that are set, on an existing entry */
    lv_status (*set_entry_grading)(lv_store *s, uint64_t id, lv_opt assignment_id, lv_opt submission_id,
                                   lv_error *err);
    lv_status (*get_conversation)(lv_store *s, uint64_t id, lv_conversation_row *out, bool *found, lv_error *err);
    lv_status (*put_conversation)(lv_store *s, const lv_conversation_row *row, lv_error *err);
    lv_status (*put_message)(lv_store *s, const lv_message_row *row, lv_error *err);  /* unless it exists */
    lv_status (*put_forward)(lv_store *s, const lv_forward_row *row, lv_error *err);  /* unless it exists */
    /* search entries, keyed by the event row whose text they hold (keys only grow) */
    lv_status (*search_add)(lv_store *s, int64_t key, lv_opt entry, lv_opt topic, const char *title,
                            const char *text, lv_error *err);
    lv_status (*search_remove)(lv_store *s, int64_t key, const char *title, const char *text, lv_error *err);
    lv_status (*add_activity)(lv_store *s, uint64_t course, int64_t day, const char *name, int64_t n, lv_error *err);
    lv_status (*add_participant)(lv_store *s, uint64_t course, int64_t day, uint64_t user, const char *role,
                                 int64_t n, lv_error *err);
    lv_status (*add_count)(lv_store *s, const char *name, lv_format format, int64_t n, lv_error *err);
    /* adds n to (name, field, format)'s count and widens its span to first..last (field "" for the name) */
    lv_status (*add_drift)(lv_store *s, const char *name, const char *field, lv_format format, int64_t n,
                           int64_t first_time, int64_t last_time, lv_error *err);
    lv_status (*add_totals)(lv_store *s, const lv_totals *t, lv_error *err);

    /* reading */
    lv_status (*export_docs)(lv_store *s, const lv_export_filter *f,
                             lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                             void *ctx, lv_error *err);
    /* the shards of the root accounts seen, ascending (at most max; *n is the number found) */
    lv_status (*shards)(lv_store *s, uint64_t *out, size_t max, size_t *n, lv_error *err);
    lv_status (*stats)(lv_store *s, lv_stats_row *out, lv_error *err);
    /* events per name, most first, then by name */
    lv_status (*event_counts)(lv_store *s, lv_event_count_fn fn, void *ctx, lv_error *err);
    /* schema drift, the most recently first seen first, then by name, field and format */
    lv_status (*drift)(lv_store *s, lv_drift_fn fn, void *ctx, lv_error *err);
    /* LV_ENOTFOUND when there is no such topic; *versions is the number of its versions */
    lv_status (*topic)(lv_store *s, uint64_t id, lv_topic_row *out, int64_t *versions, lv_error *err);
    /* versions by (updated_at, time, hash) */
    lv_status (*topic_versions)(lv_store *s, uint64_t topic, lv_version_fn fn, void *ctx, lv_error *err);
    /* the bytes of the document holding event row `event` */
    lv_status (*event_document)(lv_store *s, int64_t event, lv_buf *out, lv_error *err);
    /* a topic's entries by created_at (entries of one millisecond in any order) */
    lv_status (*topic_entries)(lv_store *s, uint64_t topic, lv_entry_fn fn, void *ctx, lv_error *err);
    lv_status (*conversation)(lv_store *s, uint64_t id, lv_conversation_row *out, lv_error *err);
    /* messages and forwards by (at, time, message id) */
    lv_status (*conversation_timeline)(lv_store *s, uint64_t id, lv_timeline_fn fn, void *ctx, lv_error *err);
    /* A hint, before a course summary's reads: course_known, course_topics, course_roles, course_activity and
     * course_entries of this course, with these arguments, follow in that order. An engine may read them all
     * at once (PostgreSQL: in one round trip) and answer each from what it read, but only when asked it
     * next, in that order and with the same arguments: anything else asked first, or a course not known,
     * drops what was read ahead, and every read then reads for itself. An engine without it reads each
     * when asked (keep/engine.c). */
    void (*course_ahead)(lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                         unsigned offset, int64_t since_day, int64_t until_day);
    /* whether the course has topics or activity */
    lv_status (*course_known)(lv_store *s, uint64_t course, bool *known, lv_error *err);
    /* topics of the course by entries in [since, until) (most first), then id; limit and offset */
    lv_status (*course_topics)(lv_store *s, uint64_t course, int64_t since_ms, int64_t until_ms, unsigned limit,
                               unsigned offset, lv_course_topic_fn fn, void *ctx, lv_error *err);
    /* roles active on the days [since_day, until_day], most users first, then by role */
    lv_status (*course_roles)(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day, lv_role_fn fn,
                              void *ctx, lv_error *err);
    /* events per day and name on [since_day, until_day], by day then name */
    lv_status (*course_activity)(lv_store *s, uint64_t course, int64_t since_day, int64_t until_day,
                                 lv_activity_fn fn, void *ctx, lv_error *err);
    /* every entry in the course's topics, in no order */
    lv_status (*course_entries)(lv_store *s, uint64_t course, lv_course_entry_fn fn, void *ctx, lv_error *err);
    /* an entry's text and its topic's title (*found false when there is no such entry) */
    lv_status (*entry_detail)(lv_store *s, uint64_t entry, lv_str *title, lv_str *text, bool *found, lv_error *err);
    /* the same for n entries at once, fn called once for each in the order asked (an engine without it
     * reads them one at a time with entry_detail: keep/engine.c) */
    lv_status (*entry_details)(lv_store *s, const uint64_t *ids, size_t n, lv_entry_detail_fn fn, void *ctx,
                               lv_error *err);
    /* every course with activity, most events first, then by id */
    lv_status (*courses)(lv_store *s, lv_courses_fn fn, void *ctx, lv_error *err);
    /* one list, by created_at then id, in [since, until), limit and offset */
    lv_status (*user_list)(lv_store *s, lv_user_list list, uint64_t user, int64_t since_ms, int64_t until_ms,
                           unsigned limit, unsigned offset, lv_user_fn fn, void *ctx, lv_error *err);
    /* how many events of the user the figures counted */
    lv_status (*user_events)(lv_store *s, uint64_t user, int64_t *events, lv_error *err);
    lv_status (*search)(lv_store *s, const lv_search_query *q, lv_search_fn fn, void *ctx, lv_error *err);

    /* subscriptions: each operation is its own transaction unless one is open (begin/commit) */
    lv_status (*sub_insert)(lv_store *s, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms,
                            int64_t *id, lv_error *err);
    lv_status (*sub_set_spec)(lv_store *s, int64_t id, const char *spec, lv_error *err);
    lv_status (*sub_set_state)(lv_store *s, int64_t id, lv_sub_state state, const char *reason, lv_error *err);
    lv_status (*sub_delete)(lv_store *s, int64_t id, bool *found, lv_error *err); /* with its rows */
    /* one (fn not called when there is none), or all by id */
    lv_status (*sub_get)(lv_store *s, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err);
    lv_status (*sub_list)(lv_store *s, lv_sub_fn fn, void *ctx, lv_error *err);
    lv_status (*sub_progress)(lv_store *s, int64_t id, const lv_sub_progress *p, lv_error *err);
    /* takes or renews the lease on the subscription for owner until until_ms, unless another owner holds
     * it past now_ms (*held says which) */
    lv_status (*sub_lease)(lv_store *s, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held,
                           lv_error *err);
    lv_status (*sub_release)(lv_store *s, int64_t id, const char *owner, lv_error *err);
    /* events from row `from` on, in arrival order, at most limit; with_docs false: heads only */
    lv_status (*events_from)(lv_store *s, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx,
                             lv_error *err);
    /* one event row (fn not called when there is none) */
    lv_status (*event_ref)(lv_store *s, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err);
    /* the row the next stored event will have at least (the greatest id + 1), and the first row received
     * at or after received_ms (that bound when none) */
    lv_status (*events_end)(lv_store *s, int64_t *next, lv_error *err);
    /* how many event rows there are from row `from` on, and when the first of them was received (0: none) */
    lv_status (*events_count_from)(lv_store *s, int64_t from, int64_t *count, int64_t *first_received_ms,
                                   lv_error *err);
    lv_status (*event_received_since)(lv_store *s, int64_t received_ms, int64_t *row, lv_error *err);
    /* pending: put replaces (sub, event)'s row */
    lv_status (*sub_pending_put)(lv_store *s, const lv_sub_pending_row *row, lv_error *err);
    lv_status (*sub_pending_delete)(lv_store *s, int64_t sub, int64_t event, lv_error *err);
    /* due at or before now_ms, by next_ms then event, at most limit */
    lv_status (*sub_pending_due)(lv_store *s, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn,
                                 void *ctx, lv_error *err);
    /* how many wait, the earliest next_ms (0 when none) and the earliest received_ms of their events */
    lv_status (*sub_pending_summary)(lv_store *s, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms,
                                     lv_error *err);
    /* the events whose event time is in [since, until), heads only, by time then key (the hash), at most
     * limit; after_hash non-NULL: only those after (after_time_ms, after_hash) in that order */
    lv_status (*events_between)(lv_store *s, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
                                const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx,
                                lv_error *err);
    /* replays: a window of event time to send again, recorded at once and walked by delivery a chunk at a
     * time (sub_replay_next, sub_replay_advance) */
    lv_status (*sub_replay_add)(lv_store *s, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err);
    /* the subscription's oldest replay; *found false when it has none */
    lv_status (*sub_replay_next)(lv_store *s, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err);
    /* moves the replay past (at_time_ms, at_hash), or removes it when done */
    lv_status (*sub_replay_advance)(lv_store *s, int64_t id, int64_t at_time_ms, const unsigned char *at_hash, bool done,
                                    lv_error *err);
    /* queues the event for another attempt, due at next_ms, unless it is waiting already (*added) */
    lv_status (*sub_pending_add)(lv_store *s, int64_t sub, int64_t event, int64_t next_ms, bool *added,
                                 lv_error *err);
    lv_status (*sub_dead_put)(lv_store *s, const lv_sub_dead_row *row, lv_error *err);
    /* newest first, at most limit */
    lv_status (*sub_dead_list)(lv_store *s, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err);
    lv_status (*sub_dead_count)(lv_store *s, int64_t sub, int64_t *count, lv_error *err);
    /* moves every dead letter back to pending, due now, with no attempts (*queued: how many) */
    lv_status (*sub_dead_requeue)(lv_store *s, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err);
    /* records an attempt, keeping the newest keep of the subscription */
    lv_status (*sub_attempt_add)(lv_store *s, const lv_sub_attempt_row *row, unsigned keep, lv_error *err);
    /* newest first, at most limit */
    lv_status (*sub_attempts)(lv_store *s, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx,
                              lv_error *err);
    /* operations (levee backup, check): an engine of another kind implements them in its own terms */
    /* Begins (on) or ends (off) a read snapshot: every read until it ends sees the store at one
     * moment, while other connections go on writing. */
    lv_status (*snapshot)(lv_store *s, bool on, lv_error *err);
    /* A consistent copy of the store, as it is at one moment, written to the new file `to` (which
     * must not exist), in steps so that writers go on meanwhile; *at (when not NULL) is the size of
     * the store at the moment copied. */
    lv_status (*backup)(lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                        lv_error *err);
    /* The engine's own check of its files and indexes: each problem to fn; LV_OK when it could look. */
    lv_status (*integrity)(lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err);
    lv_status (*size)(lv_store *s, lv_store_size *out, lv_error *err);
    /* every event row by id (arrival order), with its document on the row that keeps it; a document
     * that cannot be read back is a row with damage set, not an error */
    lv_status (*stored_events)(lv_store *s, lv_stored_event_fn fn, void *ctx, lv_error *err);
    /* every dead letter by id, with its bytes read back (a damaged one is a row with damage set) */
    lv_status (*stored_dead_letters)(lv_store *s, lv_stored_dead_fn fn, void *ctx, lv_error *err);
    /* Empties the derived state (every lv_derived_table; of the totals, only the duplicates received
     * stay: they are not in the events), inside the open transaction. */
    lv_status (*clear_derived)(lv_store *s, lv_error *err);
    /* one derived table's rows, by key in byte order */
    lv_status (*derived_rows)(lv_store *s, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err);

    /* erasing (levee prune, levee forget): the engine deletes rows; keep/erase.c decides which and
     * replays what remains through the projection. Writes run inside the open transaction. */
    /* Records that event row `event` is about an entry (subject LV_SUBJECT_ENTRY, id the entry) or a
     * conversation (LV_SUBJECT_CONVERSATION, id the conversation; its messages' events and forwards
     * too); unless recorded already. Topic events are found by their versions (add_topic_version). */
    lv_status (*add_about)(lv_store *s, lv_subject subject, uint64_t id, int64_t event, lv_error *err);
    /* the event rows about it (as add_about recorded them), ascending */
    lv_status (*about_events)(lv_store *s, lv_subject subject, uint64_t id, lv_row_id_fn fn, void *ctx,
                              lv_error *err);
    /* the event rows of a topic's versions, ascending */
    lv_status (*topic_events)(lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err);
    /* an entry's row: its topic, event and text (the rest unset; *found false when there is none) */
    lv_status (*get_entry)(lv_store *s, uint64_t id, lv_entry_row *out, bool *found, lv_error *err);
    /* the least `event` of the topic's entries' rows (*found false when it has none) */
    lv_status (*topic_first_entry_event)(lv_store *s, uint64_t topic, int64_t *event, bool *found, lv_error *err);
    /* event rows whose event time is before before_ms, by time then row, at most limit, heads only */
    lv_status (*events_before)(lv_store *s, int64_t before_ms, unsigned limit, lv_event_ref_fn fn, void *ctx,
                               lv_error *err);
    /* Deletes the event rows ids[0..n) (ascending). A document whose rows do not all go keeps its
     * bytes: they move to the first of its rows that stays (which then keeps them, doc 0, and the
     * others point to it). Rows of subscriptions that point at a deleted event (pending, dead
     * letters, attempts) are deleted too. *documents and *doc_bytes: the documents none of whose rows
     * stay, and their length uncompressed (raw_len). */
    lv_status (*erase_events)(lv_store *s, const int64_t *ids, size_t n, int64_t *documents, int64_t *doc_bytes,
                              lv_error *err);
    /* Delete one thing's derived rows: a topic's row and its versions; an entry's row and its about
     * rows; a conversation's row, its messages, forwards and about rows. (Search entries are removed
     * by search_remove, which needs their text.) */
    lv_status (*drop_topic)(lv_store *s, uint64_t id, lv_error *err);
    lv_status (*drop_entry)(lv_store *s, uint64_t id, lv_error *err);
    lv_status (*drop_conversation)(lv_store *s, uint64_t id, lv_error *err);
    /* whether the search index holds an entry under key */
    lv_status (*search_holds)(lv_store *s, int64_t key, bool *held, lv_error *err);
    /* After figures were added negatively (add_* with n < 0): drops the rows of activity,
     * participants, counts and drift that count nothing any more, and sets the totals' span of event
     * times to the stored events' own (none when there are none). */
    lv_status (*settle_figures)(lv_store *s, lv_error *err);
    /* Deletes dead letters received before before_ms, at most limit (*erased: how many). */
    lv_status (*erase_dead_before)(lv_store *s, int64_t before_ms, unsigned limit, int64_t *erased, lv_error *err);
    lv_status (*erase_dead_letter)(lv_store *s, int64_t id, lv_error *err);
    /* the people forgotten: add one (unless there), list them ascending */
    lv_status (*forget_add)(lv_store *s, uint64_t user, int64_t at_ms, lv_error *err);
    lv_status (*forgotten)(lv_store *s, lv_row_id_fn fn, void *ctx, lv_error *err);
    /* an entry erased, under its topic (its replies show under "[removed]"); the erased entries of a
     * topic, ascending */
    lv_status (*add_removed_entry)(lv_store *s, uint64_t entry, uint64_t topic, lv_error *err);
    lv_status (*removed_entries)(lv_store *s, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err);
    lv_status (*receipt_add)(lv_store *s, const lv_receipt_row *row, lv_error *err);
    /* oldest first */
    lv_status (*receipts)(lv_store *s, lv_receipt_fn fn, void *ctx, lv_error *err);
    /* Overwrite what is deleted from now on with zeros (on), or not (off, the default). */
    lv_status (*set_scrub)(lv_store *s, bool on, lv_error *err);
    /* Gives free pages back to the file system, at most max_pages (0: all), outside a transaction;
     * out describes the file afterwards. */
    lv_status (*reclaim)(lv_store *s, int64_t max_pages, lv_space *out, lv_error *err);
    /* Rewrites the whole file without its free pages, so that later reclaims can work page by page
     * (an older store's file could not); no other connection may write meanwhile. */
    lv_status (*compact)(lv_store *s, lv_error *err);
    /* Moves what the write-ahead log holds into the file and empties the log (old versions of pages
     * leave it), as far as readers allow (*complete). */
    lv_status (*checkpoint)(lv_store *s, bool *complete, lv_error *err);
    /* After a bulk load (an ingest or a copy of many events), outside a transaction: brings what the
     * engine's planner knows of levee's tables up to date, so the questions asked next are planned for
     * the tables as they now are (PostgreSQL: VACUUM (ANALYZE), which also marks the new rows all
     * visible, as index-only scans need). An engine without it has nothing to do (SQLite's plans do not
     * depend on statistics). */
    lv_status (*analyze)(lv_store *s, lv_error *err);
    /* Whether the open transaction holds nearly as much of what the engine's server keeps per
     * transaction as it should (PostgreSQL: advisory locks, which share one table of fixed size with
     * every other session's): a writer of many events commits at its next chance. An engine
     * without it is never full. */
    bool (*txn_full)(lv_store *s);

    /* copying a store (levee copy; keep/copy.c holds the rules): the rows that are not derived from the
     * events, read whole and written back as they were. Writes run inside the open transaction. */
    /* every entry erased (add_removed_entry), by id: id and topic set */
    lv_status (*removed_entry_list)(lv_store *s, lv_entry_fn fn, void *ctx, lv_error *err);
    /* inserts a subscription with its own id and every field of row (its counters, state, reason, cursor,
     * last success and error; not its lease, nor the counts of its pending and dead rows, which are rows
     * of their own), so that ids given later never take one it had */
    lv_status (*sub_restore)(lv_store *s, const lv_sub_row *row, lv_error *err);
    /* the subscription's replays, oldest first */
    lv_status (*sub_replay_list)(lv_store *s, int64_t sub, lv_sub_replay_fn fn, void *ctx, lv_error *err);
    /* a replay added as row says (a new id, after every other; sub, window and how far it was walked) */
    lv_status (*sub_replay_put)(lv_store *s, const lv_sub_replay_row *row, lv_error *err);
    /* sets the key webhook-id is made of (LV_HASH_BYTES) on event row id at time_ms, as an upgrade that
     * re-keyed it had set it on the source */
    lv_status (*set_webhook_hash)(lv_store *s, int64_t id, int64_t time_ms, const unsigned char *webhook_hash,
                                  lv_error *err);
} lv_engine;

typedef struct lv_projection lv_projection;

/* Every engine's store begins with this. */
struct lv_store {
    const lv_engine *engine;
    char *location;
    lv_projection *projection; /* keep's state for the open transaction (keep/projection.c) */
    lv_buf reuse;              /* memory the answers keep between questions (a server's readers) */
};

/* For engines: fill in the common part of a new store, and free it when the store closes. The store
 * gets the engine's table completed by lv_engine_complete. */
void lv_store_base_init(lv_store *s, const lv_engine *engine, const char *location);
/* The table itself when every operation is set; else a copy (kept for the program's life) whose unset
 * operations fail with LV_EUNSUPPORTED and a sentence naming the engine and the operation (the void
 * ones do nothing, dict gives NULL): an operation an engine lacks never crashes levee. */
const lv_engine *lv_engine_complete(const lv_engine *e);
void lv_store_base_free(lv_store *s);

/* For engines' upgrades to canonical identities (SQLite schema 7, PostgreSQL 4; lv_event_identity): a
 * stored document decoded again as a rebuild decodes it (keep/rekey.c). *changes: some event of it has
 * another key now than before. lv_rekey_event gives the key now of the document's event whose key was
 * `old`, or false when none had it (a damaged row: levee check names it); *topic: the topic (global
 * id) whose version the event is, else 0. */
typedef struct lv_rekey lv_rekey;
lv_rekey *lv_rekey_new(void);
void lv_rekey_free(lv_rekey *r);
lv_status lv_rekey_document(lv_rekey *r, const char *bytes, size_t len, bool *changes, lv_error *err);
bool lv_rekey_event(const lv_rekey *r, const unsigned char *old, unsigned char now[LV_HASH_BYTES], uint64_t *topic);

#endif
