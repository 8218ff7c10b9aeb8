/* sqlite_internal.h: the SQLite engine's connection state, shared by its write side
 * (keep/sqlite_store.c) and its queries (answer/sqlite_queries.c). Not part of liblevee's interface. */
#ifndef LEVEE_SQLITE_INTERNAL_H
#define LEVEE_SQLITE_INTERNAL_H

#include "store_internal.h"

#include <sqlite3.h>

/* Prepared statements of the write path, by purpose. */
enum sq_stmt {
    SQ_EVENT_INSERT, SQ_DEAD_INSERT, SQ_NAME_INSERT, SQ_ACCOUNT_INSERT,
    SQ_TOPIC_GET, SQ_TOPIC_UPSERT, SQ_TOPIC_CREATED, SQ_TOPIC_ENSURE, SQ_TOPIC_VERSION,
    SQ_ENTRY_INSERT, SQ_ENTRY_GRADED,
    SQ_CONVERSATION_UPSERT, SQ_MESSAGE_INSERT, SQ_FORWARD_INSERT,
    SQ_SEARCH_INSERT, SQ_SEARCH_DELETE, SQ_SEARCH_DOC_INSERT, SQ_SEARCH_DOC_DELETE,
    SQ_ACTIVITY_ADD, SQ_PARTICIPANT_ADD, SQ_COUNT_ADD, SQ_TOTAL_ADD, SQ_TOTAL_MIN, SQ_TOTAL_MAX,
    SQ_STMT_COUNT
};

typedef struct sq_name {
    char *name;
    int64_t id;
} sq_name;

typedef struct sq_store {
    lv_store base;
    sqlite3 *db;
    bool read_only;
    bool in_txn;
    sqlite3_stmt *stmt[SQ_STMT_COUNT];
    /* event names and their ids in the names table */
    sq_name *names;
    size_t n_names, cap_names;
    /* compression dictionaries by id; the newest compresses new documents */
    lv_dict **dicts;
    size_t n_dicts;
    const lv_dict *current_dict;
    lv_zctx *z;
    lv_buf scratch;
    lv_buf raw;
    lv_buf tree_text;      /* a reply tree's texts; kept between queries so a server reuses its memory */
    /* figures tallied during the open transaction, written at commit */
    lv_tally activity;     /* (course, day, name) -> events */
    lv_tally participants; /* (course, day, user, role) -> events */
    lv_tally counts;       /* (name, format) -> events */
    char **roles;          /* role names, interned: participants' key holds the index */
    size_t n_roles;
    int64_t duplicates, dead_letters, raw_bytes;
    int64_t min_time, max_time;
    bool have_times;
    uint64_t *accounts;    /* root accounts already recorded */
    size_t n_accounts;
    lv_tally topics_known; /* topics with a row already (committed): no need to ensure one */
} sq_store;

/* SQLite result to lv_status, with the database's message. */
lv_status sq_fail(sq_store *s, lv_error *err, const char *what);
/* The compression dictionary with this id (loaded on demand), or NULL. */
const lv_dict *sq_dict(sq_store *s, int64_t id);
/* The exact bytes of a stored document, from its raw blob. */
lv_status sq_document(sq_store *s, sqlite3_stmt *row, int raw_col, lv_buf *out, lv_error *err);
const char *sq_role_name(sq_store *s, int64_t index);
const char *sq_event_name(sq_store *s, int64_t id);

/* Queries (answer/sqlite_queries.c). */
lv_status sq_topic(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err);
lv_status sq_conversation(lv_store *s, uint64_t conversation, lv_jw *w, lv_error *err);
lv_status sq_course(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w, lv_error *err);
lv_status sq_user(lv_store *s, uint64_t user, const lv_query_window *win, lv_jw *w, lv_error *err);
lv_status sq_courses(lv_store *s, lv_jw *w, lv_error *err);
lv_status sq_search(lv_store *s, const char *text, uint64_t course, const lv_query_window *win,
                    lv_jw *w, lv_error *err);

#endif
