/* schema.c: the SQLite engine's tables, its write statements, and upgrading a store written by an
 * older levee. The version is SQLite's user_version; an upgrade runs in one transaction, so an
 * interrupted one leaves the store as it was. */
#include "sqlite.h"

#include "levee/catalog.h"

#include <stdio.h>
#include <string.h>

/* 1: events unique by hash; 2: events unique by (time, hash), see EVENTS_TABLE; 7: keys of canonical
 * identities, with the key webhook-id is made of kept for the events re-keyed (rekey.c); 8: ENTRIES_EVENT */
#define SCHEMA_VERSION 8
#define QUOTE_(x) #x
#define QUOTE(x) QUOTE_(x)

/* events: doc is NULL when this row holds its document's bytes, else the row that does.
 * Duplicates are found by (time, hash), not by hash alone: the same event delivered twice has the same
 * time and hash, and events arrive close to time order, so new keys land at the right edge of the
 * index and a batch touches a few of its pages. A hash-only key lands on a random page for every
 * event: once the index outgrows the page cache each insert reads a page from disk (measured on a
 * 1,019,681-event ingest: 15-20% slower already, and it grows with the store). */
#define EVENTS_TABLE(name)                                                                                    \
    "CREATE TABLE " name " (id INTEGER PRIMARY KEY, hash BLOB NOT NULL, name INTEGER NOT NULL,"            \
    " format INTEGER NOT NULL, time INTEGER NOT NULL, context_id INTEGER, user_id INTEGER, doc INTEGER,"     \
    " raw BLOB, raw_len INTEGER, dict INTEGER, received INTEGER NOT NULL);"
#define EVENTS_DEDUP "CREATE UNIQUE INDEX events_dedup ON events (time, hash);"
/* A topic's entries in created order, with what a course summary reads of them (it covers the query). */
#define ENTRIES_TOPIC "CREATE INDEX entries_topic ON entries (topic, created_at, parent, user_id, role);"
/* A topic's first entry by arrival (the least `event` of its entries: an erasure replaying a topic asks for
 * it). Without it the question read every entry row of the topic, text and overflow pages included, since
 * `event` comes after `text`: 72% of pruning half of a million-event store (schema 8). */
#define ENTRIES_EVENT "CREATE INDEX entries_event ON entries (topic, event);"
/* Schema drift (lv_drift_row): field '' for an event name outside the model. */
#define DRIFT_TABLE                                                                                           \
    "CREATE TABLE drift (name INTEGER NOT NULL, field TEXT NOT NULL, format INTEGER NOT NULL,"               \
    " n INTEGER NOT NULL, first_time INTEGER NOT NULL, last_time INTEGER NOT NULL,"                           \
    " PRIMARY KEY (name, field, format)) WITHOUT ROWID;"
/* Subscriptions (src/deliver/), numbered once (AUTOINCREMENT: an id is never given again, so a
 * webhook-id of a removed subscription never comes back): the settings as JSON, the cursor (the next event row to consider), the
 * lease of the process delivering it, counters; the events waiting for an attempt, the delivery dead
 * letters, and the recent attempts. */
#define SUBSCRIPTION_TABLES                                                                                   \
    "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL,"                  \
    " state INTEGER NOT NULL,"                                                                                \
    " reason TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL, cursor INTEGER NOT NULL,"                    \
    " failing_since INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0,"                        \
    " failed_attempts INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,"                        \
    " last_success INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', lease_owner TEXT,"       \
    " lease_until INTEGER NOT NULL DEFAULT 0);"                                                               \
    "CREATE TABLE sub_pending (sub INTEGER NOT NULL, event INTEGER NOT NULL, attempts INTEGER NOT NULL,"     \
    " first_attempt INTEGER NOT NULL, next INTEGER NOT NULL, PRIMARY KEY (sub, event)) WITHOUT ROWID;"       \
    "CREATE INDEX sub_pending_next ON sub_pending (sub, next, event);"                                        \
    "CREATE TABLE sub_dead (sub INTEGER NOT NULL, event INTEGER NOT NULL, attempts INTEGER NOT NULL,"        \
    " status INTEGER NOT NULL, answer TEXT NOT NULL, error TEXT NOT NULL, first_attempt INTEGER NOT NULL,"    \
    " last_attempt INTEGER NOT NULL, PRIMARY KEY (sub, event)) WITHOUT ROWID;"                                \
    "CREATE TABLE sub_attempts (id INTEGER PRIMARY KEY, sub INTEGER NOT NULL, event INTEGER NOT NULL,"       \
    " at INTEGER NOT NULL, status INTEGER NOT NULL, latency INTEGER NOT NULL, error TEXT NOT NULL);"          \
    "CREATE INDEX sub_attempts_sub ON sub_attempts (sub, id);"
/* Schema 6: the windows of event time that subscriptions send again (a replay), each with how far
 * delivery has walked it, in (time, hash) order: a replay is recorded at once, whatever its size, and
 * delivery queues its events a chunk at a time. */
#define SUB_REPLAYS_TABLE                                                                                     \
    "CREATE TABLE sub_replays (id INTEGER PRIMARY KEY, sub INTEGER NOT NULL, since INTEGER NOT NULL,"        \
    " until INTEGER NOT NULL, at_time INTEGER NOT NULL, at_hash BLOB);"                                       \
    "CREATE INDEX sub_replays_sub ON sub_replays (sub, id);"

/* Erasure (levee prune, levee forget): which events are about which entry or conversation (so that
 * what remains of one can be replayed when some of its events go); the people forgotten, whose
 * events are never stored again; receipts of erasures (counts and times, nothing about the person);
 * the entries erased, so that their replies show under "[removed]". */
#define ERASURE_TABLES                                                                                        \
    "CREATE TABLE event_about (subject INTEGER NOT NULL, id INTEGER NOT NULL, event INTEGER NOT NULL,"       \
    " PRIMARY KEY (subject, id, event)) WITHOUT ROWID;"                                                       \
    "CREATE TABLE forgotten (user_id INTEGER PRIMARY KEY, at INTEGER NOT NULL);"                             \
    "CREATE TABLE receipts (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, action TEXT NOT NULL,"               \
    " events INTEGER NOT NULL, documents INTEGER NOT NULL, dead_letters INTEGER NOT NULL,"                   \
    " limit_ms INTEGER, took_ms INTEGER NOT NULL);"                                                           \
    "CREATE TABLE removed_entries (id INTEGER PRIMARY KEY, topic INTEGER NOT NULL);"

static const char schema[] =
    "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE dicts (id INTEGER PRIMARY KEY, data BLOB NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE accounts (root_account_id INTEGER PRIMARY KEY, shard INTEGER NOT NULL);"
    /* EVENTS_TABLE is the table's schema-6 shape (the upgrade from schema 1 makes it); schema 7 adds the
     * key webhook-id is made of, NULL unless the upgrade re-keyed the row (rekey.c) */
    EVENTS_TABLE("events") "ALTER TABLE events ADD COLUMN webhook_hash BLOB;" EVENTS_DEDUP
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, received INTEGER NOT NULL,"
    " source TEXT, line INTEGER, errors TEXT NOT NULL, raw BLOB, raw_len INTEGER, dict INTEGER);"
    "CREATE TABLE counts (name INTEGER NOT NULL, format INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (name, format)) WITHOUT ROWID;"
    "CREATE TABLE totals (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE activity (context_id INTEGER NOT NULL, day INTEGER NOT NULL, name INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (context_id, day, name)) WITHOUT ROWID;"
    DRIFT_TABLE SUBSCRIPTION_TABLES ERASURE_TABLES SUB_REPLAYS_TABLE
    "INSERT INTO marks (name, value) VALUES ('" LV_ABOUT_MARK "', 1);"
    "CREATE TABLE participants (context_id INTEGER NOT NULL, day INTEGER NOT NULL, user_id INTEGER NOT NULL,"
    " role TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (context_id, day, user_id, role)) WITHOUT ROWID;"
    "CREATE TABLE topics (id INTEGER PRIMARY KEY, context_id INTEGER, context_type TEXT, title TEXT,"
    " body TEXT, is_announcement INTEGER, assignment_id INTEGER, workflow_state TEXT, lock_at INTEGER,"
    " updated_at INTEGER, version_time INTEGER, version_hash BLOB, version_event INTEGER,"
    " created_at INTEGER, created_by INTEGER, search_rowid INTEGER);"
    "CREATE INDEX topics_context ON topics (context_id);"
    "CREATE TABLE topic_versions (topic INTEGER NOT NULL, event INTEGER NOT NULL, updated_at INTEGER,"
    " time INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (topic, event)) WITHOUT ROWID;"
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, topic INTEGER NOT NULL, parent INTEGER, user_id INTEGER,"
    " role TEXT, created_at INTEGER NOT NULL, text TEXT, assignment_id INTEGER, submission_id INTEGER,"
    " event INTEGER NOT NULL);"
    ENTRIES_TOPIC ENTRIES_EVENT
    "CREATE INDEX entries_user ON entries (user_id, created_at);"
    "CREATE TABLE conversations (id INTEGER PRIMARY KEY, created_at INTEGER, created_by INTEGER,"
    " updated_at INTEGER);"
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation INTEGER NOT NULL, author INTEGER,"
    " created_at INTEGER NOT NULL, time INTEGER NOT NULL, event INTEGER NOT NULL);"
    "CREATE INDEX messages_conversation ON messages (conversation, created_at);"
    "CREATE INDEX messages_author ON messages (author, created_at);"
    "CREATE TABLE forwards (conversation INTEGER NOT NULL, event INTEGER NOT NULL, time INTEGER NOT NULL,"
    " user_id INTEGER, updated_at INTEGER, PRIMARY KEY (conversation, event)) WITHOUT ROWID;"
    /* Search: the index's rowid is the row of the event whose text it holds, so rowids only grow
     * (FTS5 flushes its buffer whenever a rowid goes backwards); search_docs says what it is. */
    "CREATE VIRTUAL TABLE search USING fts5 (title, text, content='', tokenize='unicode61 remove_diacritics 2');"
    "CREATE TABLE search_docs (rowid INTEGER PRIMARY KEY, entry_id INTEGER, topic_id INTEGER);"
    /* Build the index in larger steps: a 64 MB term buffer and fewer merges (measured: a third
     * less time per indexed text than the defaults). */
    "INSERT INTO search (search, rank) VALUES ('hashsize', 67108864);"
    "INSERT INTO search (search, rank) VALUES ('automerge', 16);";

const char *const sq_statements[SQ_STMT_COUNT] = {
    [SQ_EVENT_INSERT] = "INSERT OR IGNORE INTO events (hash, name, format, time, context_id, user_id, doc,"
                        " raw, raw_len, dict, received) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_DEAD_INSERT] = "INSERT OR IGNORE INTO dead_letters (hash, received, source, line, errors, raw,"
                       " raw_len, dict) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQ_NAME_INSERT] = "INSERT INTO names (name) VALUES (?1)",
    [SQ_ACCOUNT_INSERT] = "INSERT OR IGNORE INTO accounts (root_account_id, shard) VALUES (?1, ?2)",
    [SQ_TOPIC_GET] = "SELECT context_id, context_type, title, body, is_announcement, assignment_id,"
                     " workflow_state, lock_at, updated_at, version_time, version_hash, version_event,"
                     " created_at, created_by, search_rowid FROM topics WHERE id = ?1",
    [SQ_TOPIC_PUT] =
        "INSERT INTO topics (id, context_id, context_type, title, body, is_announcement, assignment_id,"
        " workflow_state, lock_at, updated_at, version_time, version_hash, version_event, created_at,"
        " created_by, search_rowid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        " ON CONFLICT (id) DO UPDATE SET context_id = excluded.context_id, context_type = excluded.context_type,"
        " title = excluded.title, body = excluded.body, is_announcement = excluded.is_announcement,"
        " assignment_id = excluded.assignment_id, workflow_state = excluded.workflow_state,"
        " lock_at = excluded.lock_at, updated_at = excluded.updated_at, version_time = excluded.version_time,"
        " version_hash = excluded.version_hash, version_event = excluded.version_event,"
        " created_at = excluded.created_at, created_by = excluded.created_by, search_rowid = excluded.search_rowid",
    [SQ_TOPIC_ENSURE] = "INSERT OR IGNORE INTO topics (id, context_id, context_type) VALUES (?1, ?2, ?3)",
    [SQ_TOPIC_VERSION] = "INSERT OR IGNORE INTO topic_versions (topic, event, updated_at, time, hash)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_ENTRY_INSERT] = "INSERT OR IGNORE INTO entries (id, topic, parent, user_id, role, created_at, text,"
                        " assignment_id, submission_id, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQ_ENTRY_GRADED] = "UPDATE entries SET assignment_id = coalesce(?2, assignment_id),"
                        " submission_id = coalesce(?3, submission_id) WHERE id = ?1",
    [SQ_CONVERSATION_GET] = "SELECT created_at, created_by, updated_at FROM conversations WHERE id = ?1",
    [SQ_CONVERSATION_PUT] = "INSERT INTO conversations (id, created_at, created_by, updated_at) VALUES (?1, ?2, ?3, ?4)"
                            " ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at,"
                            " created_by = excluded.created_by, updated_at = excluded.updated_at",
    [SQ_MESSAGE_INSERT] = "INSERT OR IGNORE INTO messages (id, conversation, author, created_at, time, event)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_FORWARD_INSERT] = "INSERT OR IGNORE INTO forwards (conversation, event, time, user_id, updated_at)"
                          " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_SEARCH_INSERT] = "INSERT INTO search (rowid, title, text) VALUES (?1, ?2, ?3)",
    [SQ_SEARCH_DELETE] = "INSERT INTO search (search, rowid, title, text) VALUES ('delete', ?1, ?2, ?3)",
    [SQ_SEARCH_DOC_INSERT] = "INSERT INTO search_docs (rowid, entry_id, topic_id) VALUES (?1, ?2, ?3)",
    [SQ_SEARCH_DOC_DELETE] = "DELETE FROM search_docs WHERE rowid = ?1",
    [SQ_ACTIVITY_ADD] = "INSERT INTO activity (context_id, day, name, n) VALUES (?1, ?2, ?3, ?4)"
                        " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [SQ_PARTICIPANT_ADD] = "INSERT INTO participants (context_id, day, user_id, role, n) VALUES (?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [SQ_COUNT_ADD] = "INSERT INTO counts (name, format, n) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [SQ_DRIFT_ADD] = "INSERT INTO drift (name, field, format, n, first_time, last_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                     " ON CONFLICT DO UPDATE SET n = n + excluded.n, first_time = min(first_time, excluded.first_time),"
                     " last_time = max(last_time, excluded.last_time)",
    [SQ_TOTAL_ADD] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = value + excluded.value",
    [SQ_TOTAL_MIN] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = min(value, excluded.value)",
    [SQ_TOTAL_MAX] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = max(value, excluded.value)",
    [SQ_ABOUT_INSERT] = "INSERT OR IGNORE INTO event_about (subject, id, event) VALUES (?1, ?2, ?3)",
};

/* Schema 1 -> 2: the events table is rebuilt with the (time, hash) key (SQLite cannot drop a column's
 * UNIQUE constraint in place). Row ids are kept, so everything that refers to an event still does.
 * entries_topic is made again too: early schema-1 stores have it on (topic, created_at) only, which
 * makes a course summary read every entry's row. One transaction: an interrupted upgrade leaves the
 * store at schema 1, to be upgraded next time. */
static lv_status upgrade_v1(sq_store *s, lv_error *err)
{
    lv_status st = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (st != LV_OK)
        return st;
    st = sq_exec(s, EVENTS_TABLE("events_v2")
                 "INSERT INTO events_v2 SELECT id, hash, name, format, time, context_id, user_id, doc, raw,"
                 " raw_len, dict, received FROM events;"
                 "DROP TABLE events;"
                 "ALTER TABLE events_v2 RENAME TO events;" EVENTS_DEDUP /* built once, after the rows */
                 "DROP INDEX entries_topic;" ENTRIES_TOPIC
                 "PRAGMA user_version = 2;"
                 "COMMIT",
              err);
    if (st != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

/* Schema 2 -> 3: the drift table. Event names outside the model are counted from the events stored
 * (one pass over the events table); unknown fields of stored events cannot be told without decoding
 * every raw document again, so they are counted from the upgrade on (docs/operations.md). */
static lv_status upgrade_v2(sq_store *s, lv_error *err)
{
    lv_buf sql;
    lv_buf_init(&sql);
    lv_buf_puts(&sql, "BEGIN IMMEDIATE;" DRIFT_TABLE
                      "INSERT INTO drift (name, field, format, n, first_time, last_time)"
                      " SELECT events.name, '', events.format, count(*), min(events.time), max(events.time)"
                      " FROM events JOIN names ON names.id = events.name WHERE names.name NOT IN (");
    for (size_t i = 0; i < LV_KIND_COUNT; i++)
        lv_buf_printf(&sql, "%s'%s'", i ? ", " : "", lv_kinds[i].name); /* the catalog's names: no quotes */
    lv_buf_puts(&sql, ") GROUP BY events.name, events.format;"
                      "PRAGMA user_version = 3;"
                      "COMMIT");
    lv_status st = sq_exec(s, sql.data, err);
    lv_buf_free(&sql);
    if (st != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

lv_status sq_schema_ready(sq_store *s, bool read_only, lv_error *err)
{
    const char *path = s->base.location;
    sqlite3_stmt *q;
    bool row = false;
    int version = 0;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        row = rc == SQLITE_ROW;
        if (row)
            version = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (rc == SQLITE_NOTADB)
        return lv_fail(err, LV_EINVAL, "%s is not a levee store (%s)", path, sqlite3_errstr(rc));
    if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(s, err, "cannot read the store's version");
    lv_status st;
    if (version == 0 && !read_only) {
        bool empty = true;
        if ((st = sq_prepare(s, "SELECT 1 FROM sqlite_schema LIMIT 1", &q, err)) != LV_OK)
            return st;
        st = sq_step(s, q, &row, "cannot read the store's schema", err);
        empty = !row;
        sqlite3_finalize(q);
        if (st != LV_OK)
            return st;
        if (!empty)
            return lv_fail(err, LV_EINVAL, "%s is an SQLite database but not a levee store; give another path", path);
        /* auto_vacuum can only be chosen before the first table: incremental, so that levee prune gives
         * the pages it frees back to the file system a few at a time (PRAGMA incremental_vacuum) */
        if ((st = sq_exec(s, "PRAGMA page_size = 8192; PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;",
                          err)) != LV_OK ||
            (st = sq_exec(s, "BEGIN", err)) != LV_OK)
            return st;
        st = sq_exec(s, schema, err);
        if (st == LV_OK)
            st = sq_exec(s, "PRAGMA user_version = " QUOTE(SCHEMA_VERSION) "; COMMIT", err);
        if (st != LV_OK)
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->schema_version = SCHEMA_VERSION;
        return st;
    }
    if (version == 0) {
        /* Read-only, version 0: an empty file is a store another levee is creating right now (its
         * schema commits in one transaction) or an empty file someone made: no store yet, either way. */
        if ((st = sq_prepare(s, "SELECT 1 FROM sqlite_schema LIMIT 1", &q, err)) != LV_OK)
            return st;
        st = sq_step(s, q, &row, "cannot read the store's schema", err);
        sqlite3_finalize(q);
        if (st != LV_OK)
            return st;
        if (!row)
            return lv_fail(err, LV_ENOTFOUND, "there is no store at %s yet (the file is empty); ingest events "
                           "into it first (levee ingest --db %s FILE)", path, path);
        return lv_fail(err, LV_EINVAL, "%s is an SQLite database but not a levee store; give another path", path);
    }
    if (version == 1 && !read_only) {
        if ((st = upgrade_v1(s, err)) != LV_OK)
            return st;
        version = 2;
    }
    if (version == 2 && !read_only) {
        if ((st = upgrade_v2(s, err)) != LV_OK)
            return st;
        version = 3;
    }
    if (version == 3 && !read_only) {
        /* Schema 3 -> 4: the subscription tables (empty). */
        if ((st = sq_exec(s, "BEGIN IMMEDIATE;" SUBSCRIPTION_TABLES "PRAGMA user_version = 4; COMMIT", err)) != LV_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
        version = 4;
    }
    if (version == 4 && !read_only) {
        /* Schema 4 -> 5: the erasure tables. Which events are about which entry or conversation is not
         * known for the events already stored: the about mark stays unset until levee rebuild has
         * recomputed it (levee prune and forget run that rebuild first, once). */
        if ((st = sq_exec(s, "BEGIN IMMEDIATE;" ERASURE_TABLES "PRAGMA user_version = 5; COMMIT", err)) != LV_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
        version = 5;
    }
    if (version == 5 && !read_only) {
        /* Schema 5 -> 6: the replays' table (empty). */
        if ((st = sq_exec(s, "BEGIN IMMEDIATE;" SUB_REPLAYS_TABLE "PRAGMA user_version = 6; COMMIT", err)) != LV_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
        version = 6;
    }
    if (version == 6 && !read_only) {
        if ((st = sq_upgrade_v6(s, err)) != LV_OK)
            return st;
        version = 7;
    }
    if (version == 7 && !read_only) {
        /* Schema 7 -> 8: the index of a topic's entries by arrival, made from the rows there are. */
        if ((st = sq_exec(s, "BEGIN IMMEDIATE;" ENTRIES_EVENT "PRAGMA user_version = 8; COMMIT", err)) != LV_OK) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return st;
        }
        version = 8;
    }
    s->schema_version = version; /* a read-only store may be older: reads of what it lacks find nothing */
    if (version > SCHEMA_VERSION)
        return lv_fail(err, LV_EUNSUPPORTED, "%s was written by a newer levee (schema %d; this one reads %d); "
                       "upgrade levee", path, version, SCHEMA_VERSION);
    return LV_OK;
}
