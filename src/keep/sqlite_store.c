/* sqlite_store.c: the embedded engine. One SQLite database in WAL mode holds the raw documents
 * (compressed), the events' dedupe keys and indexed metadata, the dead letters, and the state
 * rebuilt from events (topics, entries, conversations, course activity, search). Every update of
 * derived state is independent of arrival order: versions compare by (updated_at, event time, key),
 * first-seen times take the minimum, counters add. */
#include "sqlite_internal.h"

#include "levee/id.h"
#include "levee/text.h"
#include "levee/timestamp.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* 1: events unique by hash; 2: events unique by (time, hash), see EVENTS_TABLE */
#define SCHEMA_VERSION 2
#define QUOTE_(x) #x
#define QUOTE(x) QUOTE_(x)
/* Train a dictionary once the store holds this many documents, from up to TRAIN_SAMPLES of them. */
#define TRAIN_AFTER 1000
#define TRAIN_SAMPLES 4000
#define DAY_MS 86400000LL

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

static const char schema[] =
    "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE dicts (id INTEGER PRIMARY KEY, data BLOB NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE accounts (root_account_id INTEGER PRIMARY KEY, shard INTEGER NOT NULL);"
    EVENTS_TABLE("events") EVENTS_DEDUP
    "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, received INTEGER NOT NULL,"
    " source TEXT, line INTEGER, errors TEXT NOT NULL, raw BLOB, raw_len INTEGER, dict INTEGER);"
    "CREATE TABLE counts (name INTEGER NOT NULL, format INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (name, format)) WITHOUT ROWID;"
    "CREATE TABLE totals (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE activity (context_id INTEGER NOT NULL, day INTEGER NOT NULL, name INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (context_id, day, name)) WITHOUT ROWID;"
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
    ENTRIES_TOPIC
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

static const char *const statements[SQ_STMT_COUNT] = {
    [SQ_EVENT_INSERT] = "INSERT OR IGNORE INTO events (hash, name, format, time, context_id, user_id, doc,"
                        " raw, raw_len, dict, received) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_DEAD_INSERT] = "INSERT OR IGNORE INTO dead_letters (hash, received, source, line, errors, raw,"
                       " raw_len, dict) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [SQ_NAME_INSERT] = "INSERT INTO names (name) VALUES (?1)",
    [SQ_ACCOUNT_INSERT] = "INSERT OR IGNORE INTO accounts (root_account_id, shard) VALUES (?1, ?2)",
    [SQ_TOPIC_GET] = "SELECT updated_at, version_time, version_hash, title, body, search_rowid FROM topics WHERE id = ?1",
    [SQ_TOPIC_UPSERT] =
        "INSERT INTO topics (id, context_id, context_type, title, body, is_announcement, assignment_id,"
        " workflow_state, lock_at, updated_at, version_time, version_hash, version_event, search_rowid)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        " ON CONFLICT (id) DO UPDATE SET context_id = coalesce(excluded.context_id, context_id),"
        " context_type = coalesce(excluded.context_type, context_type), title = excluded.title,"
        " body = excluded.body, is_announcement = excluded.is_announcement,"
        " assignment_id = excluded.assignment_id, workflow_state = excluded.workflow_state,"
        " lock_at = excluded.lock_at, updated_at = excluded.updated_at,"
        " version_time = excluded.version_time, version_hash = excluded.version_hash,"
        " version_event = excluded.version_event, search_rowid = excluded.search_rowid",
    [SQ_TOPIC_CREATED] = "UPDATE topics SET created_at = ?2, created_by = ?3 WHERE id = ?1"
                         " AND (created_at IS NULL OR created_at > ?2)",
    [SQ_TOPIC_ENSURE] = "INSERT OR IGNORE INTO topics (id, context_id, context_type) VALUES (?1, ?2, ?3)",
    [SQ_TOPIC_VERSION] = "INSERT OR IGNORE INTO topic_versions (topic, event, updated_at, time, hash)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
    [SQ_ENTRY_INSERT] = "INSERT OR IGNORE INTO entries (id, topic, parent, user_id, role, created_at, text,"
                        " assignment_id, submission_id, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [SQ_ENTRY_GRADED] = "UPDATE entries SET assignment_id = coalesce(?2, assignment_id),"
                        " submission_id = coalesce(?3, submission_id) WHERE id = ?1",
    [SQ_CONVERSATION_UPSERT] =
        "INSERT INTO conversations (id, created_at, created_by, updated_at) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (id) DO UPDATE SET"
        " created_at = CASE WHEN excluded.created_at IS NOT NULL AND (created_at IS NULL"
        "  OR excluded.created_at < created_at) THEN excluded.created_at ELSE created_at END,"
        " created_by = CASE WHEN excluded.created_at IS NOT NULL AND (created_at IS NULL"
        "  OR excluded.created_at < created_at) THEN excluded.created_by ELSE created_by END,"
        " updated_at = max(coalesce(updated_at, excluded.updated_at), coalesce(excluded.updated_at, updated_at))",
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
    [SQ_TOTAL_ADD] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = value + excluded.value",
    [SQ_TOTAL_MIN] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = min(value, excluded.value)",
    [SQ_TOTAL_MAX] = "INSERT INTO totals (key, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET value = max(value, excluded.value)",
};

lv_status sq_fail(sq_store *s, lv_error *err, const char *what)
{
    int code = sqlite3_extended_errcode(s->db);
    if (code == SQLITE_FULL)
        return lv_fail(err, LV_EIO, "%s: the disk holding %s is full", what, s->base.location);
    if (code == SQLITE_READONLY)
        return lv_fail(err, LV_EIO, "%s: %s is read-only", what, s->base.location);
    if ((code & 0xff) == SQLITE_BUSY)
        return lv_fail(err, LV_EIO, "%s: %s is locked by another writer; try again when it is done",
                       what, s->base.location);
    return lv_fail(err, LV_EIO, "%s: %s (%s)", what, sqlite3_errmsg(s->db), s->base.location);
}

static lv_status exec(sq_store *s, const char *sql, lv_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lv_status st = lv_fail(err, LV_EIO, "%s (%s)", msg ? msg : sqlite3_errmsg(s->db), s->base.location);
        sqlite3_free(msg);
        return st;
    }
    return LV_OK;
}

/* Schema 1 -> 2: the events table is rebuilt with the (time, hash) key (SQLite cannot drop a column's
 * UNIQUE constraint in place). Row ids are kept, so everything that refers to an event still does.
 * entries_topic is made again too: early schema-1 stores have it on (topic, created_at) only, which
 * makes a course summary read every entry's row. One transaction: an interrupted upgrade leaves the
 * store at schema 1, to be upgraded next time. */
static lv_status upgrade_v1(sq_store *s, lv_error *err)
{
    lv_status st = exec(s, "BEGIN IMMEDIATE", err);
    if (st != LV_OK)
        return st;
    st = exec(s, EVENTS_TABLE("events_v2")
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

/* ---- names, roles, dictionaries ---- */

static lv_status load_names(sq_store *s, lv_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id, name FROM names ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read event names");
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (s->n_names == s->cap_names) {
            s->cap_names = s->cap_names ? s->cap_names * 2 : 64;
            s->names = lv_xrealloc(s->names, s->cap_names * sizeof *s->names);
        }
        s->names[s->n_names].id = sqlite3_column_int64(st, 0);
        s->names[s->n_names].name = lv_xstrdup((const char *)sqlite3_column_text(st, 1));
        s->n_names++;
    }
    sqlite3_finalize(st);
    return LV_OK;
}

const char *sq_event_name(sq_store *s, int64_t id)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (s->names[i].id == id)
            return s->names[i].name;
    lv_error err;
    /* a name another connection added */
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    s->n_names = 0;
    if (load_names(s, &err) == LV_OK)
        for (size_t i = 0; i < s->n_names; i++)
            if (s->names[i].id == id)
                return s->names[i].name;
    return "?";
}

static lv_status name_id(sq_store *s, const char *name, size_t len, int64_t *id, lv_error *err)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (strlen(s->names[i].name) == len && memcmp(s->names[i].name, name, len) == 0) {
            *id = s->names[i].id;
            return LV_OK;
        }
    sqlite3_stmt *st = s->stmt[SQ_NAME_INSERT];
    sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_fail(s, err, "cannot record an event name");
    if (s->n_names == s->cap_names) {
        s->cap_names = s->cap_names ? s->cap_names * 2 : 64;
        s->names = lv_xrealloc(s->names, s->cap_names * sizeof *s->names);
    }
    s->names[s->n_names].id = sqlite3_last_insert_rowid(s->db);
    s->names[s->n_names].name = lv_xstrndup(name, len);
    *id = s->names[s->n_names++].id;
    return LV_OK;
}

static int64_t role_index(sq_store *s, const lv_value *role)
{
    const char *r = role->state == LV_SET ? role->str : "";
    size_t len = role->state == LV_SET ? role->len : 0;
    for (size_t i = 0; i < s->n_roles; i++)
        if (strlen(s->roles[i]) == len && memcmp(s->roles[i], r, len) == 0)
            return (int64_t)i;
    s->roles = lv_xrealloc(s->roles, (s->n_roles + 1) * sizeof *s->roles);
    s->roles[s->n_roles] = lv_xstrndup(r, len);
    return (int64_t)s->n_roles++;
}

const char *sq_role_name(sq_store *s, int64_t index)
{
    return index >= 0 && (size_t)index < s->n_roles ? s->roles[index] : "";
}

static lv_status load_dict(sq_store *s, int64_t id, const void *data, size_t len, lv_error *err)
{
    lv_dict *d;
    lv_status st = lv_dict_new(id, data, len, !s->read_only, &d, err);
    if (st != LV_OK)
        return st;
    s->dicts = lv_xrealloc(s->dicts, (s->n_dicts + 1) * sizeof *s->dicts);
    s->dicts[s->n_dicts++] = d;
    if (!s->current_dict || lv_dict_id(s->current_dict) < id)
        s->current_dict = d;
    return LV_OK;
}

static lv_status load_dicts(sq_store *s, int64_t only_id, lv_error *err)
{
    sqlite3_stmt *st;
    const char *sql = only_id ? "SELECT id, data FROM dicts WHERE id = ?1" : "SELECT id, data FROM dicts ORDER BY id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read compression dictionaries");
    if (only_id)
        sqlite3_bind_int64(st, 1, only_id);
    lv_status rc = LV_OK;
    while (rc == LV_OK && sqlite3_step(st) == SQLITE_ROW)
        rc = load_dict(s, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                       (size_t)sqlite3_column_bytes(st, 1), err);
    sqlite3_finalize(st);
    return rc;
}

const lv_dict *sq_dict(sq_store *s, int64_t id)
{
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    lv_error err;
    if (load_dicts(s, id, &err) != LV_OK)
        return NULL;
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    return NULL;
}

lv_status sq_document(sq_store *s, sqlite3_stmt *row, int raw_col, lv_buf *out, lv_error *err)
{
    const void *blob = sqlite3_column_blob(row, raw_col);
    size_t n = (size_t)sqlite3_column_bytes(row, raw_col);
    size_t raw_len = (size_t)sqlite3_column_int64(row, raw_col + 1);
    int64_t dict_id = sqlite3_column_int64(row, raw_col + 2);
    const lv_dict *d = NULL;
    if (dict_id) {
        d = sq_dict(s, dict_id);
        if (!d)
            return lv_fail(err, LV_EIO, "compression dictionary %lld is missing from %s",
                           (long long)dict_id, s->base.location);
    }
    return lv_decompress(s->z, d, blob, n, raw_len, out, err);
}

/* ---- opening ---- */

static void sq_close(lv_store *base)
{
    sq_store *s = (sq_store *)base;
    if (s->in_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < SQ_STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    free(s->names);
    for (size_t i = 0; i < s->n_dicts; i++)
        lv_dict_free(s->dicts[i]);
    free(s->dicts);
    for (size_t i = 0; i < s->n_roles; i++)
        free(s->roles[i]);
    free(s->roles);
    free(s->accounts);
    lv_tally_free(&s->activity);
    lv_tally_free(&s->participants);
    lv_tally_free(&s->counts);
    lv_tally_free(&s->topics_known);
    lv_zctx_free(s->z);
    lv_buf_free(&s->scratch);
    lv_buf_free(&s->raw);
    lv_buf_free(&s->tree_text);
    free(s->base.location);
    free(s);
}

static const lv_engine sqlite_engine;

/* Once per process, before SQLite starts: no memory statistics (they take a global lock around every
 * allocation SQLite makes, and levee never reads them). */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

lv_status lv_sqlite_open(const char *path, const lv_store_options *opt, lv_store **out, lv_error *err)
{
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, configure_sqlite);
    struct stat sb;
    bool exists = stat(path, &sb) == 0;
    if (!exists && (!opt->create || opt->read_only))
        return lv_fail(err, LV_ENOTFOUND, "there is no store at %s; ingest events into it first "
                       "(levee ingest --db %s FILE)", path, path);
    sq_store *s = lv_xcalloc(1, sizeof *s);
    s->base.engine = &sqlite_engine;
    s->base.location = lv_xstrdup(path);
    s->read_only = opt->read_only;
    s->z = lv_zctx_new();
    lv_buf_init(&s->scratch);
    lv_buf_init(&s->raw);
    lv_buf_init(&s->tree_text);
    int flags = opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the store %s: %s", path,
                               s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(&s->base);
        return st;
    }
    sqlite3_busy_timeout(s->db, 10000);
    lv_status st = LV_OK;
    int version = -1;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            version = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    if (version < 0) {
        st = lv_fail(err, LV_EIO, "%s is not a levee store (%s)", path, sqlite3_errmsg(s->db));
    } else if (version == 0 && !opt->read_only) {
        sqlite3_stmt *t;
        bool empty = true;
        if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_schema LIMIT 1", -1, &t, NULL) == SQLITE_OK) {
            empty = sqlite3_step(t) != SQLITE_ROW;
            sqlite3_finalize(t);
        }
        if (!empty)
            st = lv_fail(err, LV_EINVAL, "%s is an SQLite database but not a levee store; "
                         "give another path", path);
        else if ((st = exec(s, "PRAGMA page_size = 8192; PRAGMA journal_mode = WAL;", err)) == LV_OK &&
                 (st = exec(s, "BEGIN", err)) == LV_OK) {
            st = exec(s, schema, err);
            if (st == LV_OK)
                st = exec(s, "PRAGMA user_version = " QUOTE(SCHEMA_VERSION) "; COMMIT", err);
            else
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
    } else if (version == 0) {
        st = lv_fail(err, LV_EINVAL, "%s is not a levee store", path);
    } else if (version == 1 && !opt->read_only) {
        st = upgrade_v1(s, err);
    } else if (version > SCHEMA_VERSION) {
        st = lv_fail(err, LV_EUNSUPPORTED, "%s was written by a newer levee (schema %d; this one "
                     "reads %d); upgrade levee", path, version, SCHEMA_VERSION);
    }
    /* Writers: durable commits (a 2xx or a finished ingest survives power loss), a large page cache.
     * Long-lived readers (the server's) map the file, up to 4 GB, so a page read once stays mapped
     * for the next request. A one-shot reader (a command) reads each page about once: it goes through
     * a 32-page cache that recycles its buffers, because mapping fresh memory, whether file pages or a
     * growing cache, costs more per page than reading the page again (on the benchmark machine:
     * `levee stats` 574 -> 186 ms, `levee search` 253 -> 91 ms, the reply tree 41 -> 29 ms). */
    if (st == LV_OK)
        st = exec(s, !opt->read_only ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                       " PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;"
                                       " PRAGMA wal_autocheckpoint = 8192"
                     : opt->one_shot ? "PRAGMA cache_size = 32; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 0"
                                     : "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;"
                                       " PRAGMA mmap_size = 4294967296", err);
    for (int i = 0; st == LV_OK && !opt->read_only && i < SQ_STMT_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) != SQLITE_OK)
            st = sq_fail(s, err, "cannot prepare the store's statements");
    if (st == LV_OK)
        st = load_names(s, err);
    if (st == LV_OK && !opt->read_only) /* readers load a dictionary when a document needs it (sq_dict) */
        st = load_dicts(s, 0, err);
    if (st != LV_OK) {
        sq_close(&s->base);
        return st;
    }
    *out = &s->base;
    return LV_OK;
}

/* ---- writing ---- */

static lv_status sq_begin(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->read_only)
        return lv_fail(err, LV_EINVAL, "%s is open read-only", base->location);
    lv_status st = exec(s, "BEGIN IMMEDIATE", err);
    if (st == LV_OK)
        s->in_txn = true;
    return st;
}

static void bind_id(sqlite3_stmt *st, int col, const lv_value *v)
{
    if (v && v->state == LV_SET)
        sqlite3_bind_int64(st, col, (sqlite3_int64)lv_value_id(v));
    else
        sqlite3_bind_null(st, col);
}

static void bind_text(sqlite3_stmt *st, int col, const lv_value *v)
{
    if (v && v->state == LV_SET)
        sqlite3_bind_text(st, col, v->str, (int)v->len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

static void bind_time(sqlite3_stmt *st, int col, const lv_value *v)
{
    if (v && v->state == LV_SET)
        sqlite3_bind_int64(st, col, v->ms);
    else
        sqlite3_bind_null(st, col);
}

static lv_status step(sq_store *s, sqlite3_stmt *st, const char *what, lv_error *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(s, err, what);
    return LV_OK;
}

static const lv_value *body(const lv_event *ev, const char *field)
{
    return lv_event_body(ev, field);
}

static int64_t floor_day(int64_t ms)
{
    return ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
}

static lv_status search_put(sq_store *s, int stmt, int64_t rowid, const char *title, const char *text,
                            lv_error *err)
{
    sqlite3_stmt *st = s->stmt[stmt];
    sqlite3_bind_int64(st, 1, rowid);
    sqlite3_bind_text(st, 2, title ? title : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text ? text : "", -1, SQLITE_STATIC);
    return step(s, st, "cannot index text for search", err);
}

static lv_status search_doc(sq_store *s, int stmt, int64_t rowid, uint64_t entry, uint64_t topic, lv_error *err)
{
    sqlite3_stmt *st = s->stmt[stmt];
    sqlite3_bind_int64(st, 1, rowid);
    if (stmt == SQ_SEARCH_DOC_INSERT) {
        if (entry)
            sqlite3_bind_int64(st, 2, (sqlite3_int64)entry);
        if (topic)
            sqlite3_bind_int64(st, 3, (sqlite3_int64)topic);
    }
    return step(s, st, "cannot index text for search", err);
}

/* The visible text of stored HTML, as it was indexed (to take it out of the index again). */
static char *visible(const unsigned char *html, int len)
{
    lv_buf b;
    lv_buf_init(&b);
    if (html)
        lv_html_to_text((const char *)html, (size_t)len, &b);
    return lv_buf_detach(&b, NULL);
}

static int compare_version(int64_t u1, int64_t t1, const unsigned char *h1, int64_t u2, int64_t t2,
                           const void *h2)
{
    if (u1 != u2)
        return u1 < u2 ? -1 : 1;
    if (t1 != t2)
        return t1 < t2 ? -1 : 1;
    return memcmp(h1, h2, LV_HASH_BYTES);
}

static lv_status apply_topic(sq_store *s, const lv_event *ev, int64_t row, const unsigned char *hash,
                             const char *title_text, const char *body_text, lv_error *err)
{
    uint64_t topic = lv_value_id(body(ev, "discussion_topic_id"));
    const lv_value *updated = body(ev, "updated_at");
    int64_t updated_ms = updated->state == LV_SET ? updated->ms : ev->time_ms;
    lv_status rc;
    sqlite3_stmt *get = s->stmt[SQ_TOPIC_GET];
    sqlite3_bind_int64(get, 1, (sqlite3_int64)topic);
    bool newer = true;
    int64_t old_rowid = 0;
    char *old_title = NULL, *old_body = NULL;
    if (sqlite3_step(get) == SQLITE_ROW && sqlite3_column_type(get, 0) != SQLITE_NULL) {
        newer = compare_version(updated_ms, ev->time_ms, hash, sqlite3_column_int64(get, 0),
                                sqlite3_column_int64(get, 1), sqlite3_column_blob(get, 2)) > 0;
        old_rowid = sqlite3_column_int64(get, 5);
        if (newer && old_rowid) {
            old_title = visible(sqlite3_column_text(get, 3), sqlite3_column_bytes(get, 3));
            old_body = visible(sqlite3_column_text(get, 4), sqlite3_column_bytes(get, 4));
        }
    }
    sqlite3_reset(get);
    sqlite3_clear_bindings(get);
    if (newer) {
        if (newer && old_rowid) {
            rc = search_put(s, SQ_SEARCH_DELETE, old_rowid, old_title, old_body, err);
            if (rc == LV_OK)
                rc = search_doc(s, SQ_SEARCH_DOC_DELETE, old_rowid, 0, 0, err);
            if (rc != LV_OK) {
                free(old_title);
                free(old_body);
                return rc;
            }
        }
        free(old_title);
        free(old_body);
        sqlite3_stmt *st = s->stmt[SQ_TOPIC_UPSERT];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
        uint64_t course = lv_event_course(ev);
        const lv_value *ctx = body(ev, "context_id");
        if (ctx->state == LV_SET)
            bind_id(st, 2, ctx);
        else if (course)
            sqlite3_bind_int64(st, 2, (sqlite3_int64)course);
        bind_text(st, 3, body(ev, "context_type"));
        bind_text(st, 4, body(ev, "title"));
        bind_text(st, 5, body(ev, "body"));
        const lv_value *ann = body(ev, "is_announcement");
        if (ann->state == LV_SET)
            sqlite3_bind_int(st, 6, ann->boolean);
        bind_id(st, 7, body(ev, "assignment_id"));
        bind_text(st, 8, body(ev, "workflow_state"));
        bind_time(st, 9, body(ev, "lock_at"));
        sqlite3_bind_int64(st, 10, updated_ms);
        sqlite3_bind_int64(st, 11, ev->time_ms);
        sqlite3_bind_blob(st, 12, hash, LV_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, row);
        bool index = title_text || body_text;
        if (index)
            sqlite3_bind_int64(st, 14, row);
        if ((rc = step(s, st, "cannot store a topic", err)) != LV_OK)
            return rc;
        if (index && ((rc = search_put(s, SQ_SEARCH_INSERT, row, title_text, body_text, err)) != LV_OK ||
                      (rc = search_doc(s, SQ_SEARCH_DOC_INSERT, row, 0, topic, err)) != LV_OK))
            return rc;
    }
    if (strcmp(ev->kind->name, "discussion_topic_created") == 0) {
        sqlite3_stmt *st = s->stmt[SQ_TOPIC_CREATED];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)topic);
        sqlite3_bind_int64(st, 2, ev->time_ms);
        bind_id(st, 3, &ev->meta[LV_M_USER_ID]);
        if ((rc = step(s, st, "cannot store a topic", err)) != LV_OK)
            return rc;
    }
    sqlite3_stmt *v = s->stmt[SQ_TOPIC_VERSION];
    sqlite3_bind_int64(v, 1, (sqlite3_int64)topic);
    sqlite3_bind_int64(v, 2, row);
    sqlite3_bind_int64(v, 3, updated_ms);
    sqlite3_bind_int64(v, 4, ev->time_ms);
    sqlite3_bind_blob(v, 5, hash, LV_HASH_BYTES, SQLITE_STATIC);
    return step(s, v, "cannot store a topic version", err);
}

static lv_status apply_entry(sq_store *s, const lv_event *ev, int64_t row, const char *text, lv_error *err)
{
    uint64_t entry = lv_value_id(body(ev, "discussion_entry_id"));
    uint64_t topic = lv_value_id(body(ev, "discussion_topic_id"));
    const lv_value *created = body(ev, "created_at");
    sqlite3_stmt *st = s->stmt[SQ_ENTRY_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)entry);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)topic);
    bind_id(st, 3, body(ev, "parent_discussion_entry_id"));
    bind_id(st, 4, body(ev, "user_id"));
    bind_text(st, 5, &ev->meta[LV_M_CONTEXT_ROLE]);
    sqlite3_bind_int64(st, 6, created->state == LV_SET ? created->ms : ev->time_ms);
    bind_text(st, 7, body(ev, "text"));
    bind_id(st, 8, body(ev, "assignment_id"));
    bind_id(st, 9, body(ev, "submission_id"));
    sqlite3_bind_int64(st, 10, row);
    lv_status rc = step(s, st, "cannot store a discussion entry", err);
    if (rc != LV_OK)
        return rc;
    if (sqlite3_changes(s->db) == 1) {
        if (text && ((rc = search_put(s, SQ_SEARCH_INSERT, row, NULL, text, err)) != LV_OK ||
                     (rc = search_doc(s, SQ_SEARCH_DOC_INSERT, row, entry, 0, err)) != LV_OK))
            return rc;
        /* a topic row for entries whose topic has not arrived (once per topic and connection) */
        int64_t key[4] = { (int64_t)topic, 0, 0, 0 };
        size_t before = s->topics_known.used;
        lv_tally_add(&s->topics_known, key, 1);
        if (s->topics_known.used == before)
            return LV_OK;
        sqlite3_stmt *t = s->stmt[SQ_TOPIC_ENSURE];
        sqlite3_bind_int64(t, 1, (sqlite3_int64)topic);
        uint64_t course = lv_event_course(ev);
        if (course) {
            sqlite3_bind_int64(t, 2, (sqlite3_int64)course);
            sqlite3_bind_text(t, 3, "Course", 6, SQLITE_STATIC);
        } else {
            bind_id(t, 2, &ev->meta[LV_M_CONTEXT_ID]);
            bind_text(t, 3, &ev->meta[LV_M_CONTEXT_TYPE]);
        }
        return step(s, t, "cannot store a topic", err);
    }
    /* the entry is known (its created or submitted twin came first): add what this one knows */
    const lv_value *assignment = body(ev, "assignment_id"), *submission = body(ev, "submission_id");
    if ((assignment && assignment->state == LV_SET) || (submission && submission->state == LV_SET)) {
        sqlite3_stmt *g = s->stmt[SQ_ENTRY_GRADED];
        sqlite3_bind_int64(g, 1, (sqlite3_int64)entry);
        bind_id(g, 2, assignment);
        bind_id(g, 3, submission);
        return step(s, g, "cannot store a discussion entry", err);
    }
    return LV_OK;
}

static lv_status apply_conversation(sq_store *s, const lv_event *ev, int64_t row, lv_error *err)
{
    uint64_t conversation = lv_value_id(body(ev, "conversation_id"));
    const char *name = ev->kind->name;
    lv_status rc;
    sqlite3_stmt *up = s->stmt[SQ_CONVERSATION_UPSERT];
    sqlite3_bind_int64(up, 1, (sqlite3_int64)conversation);
    if (strcmp(name, "conversation_created") == 0) {
        sqlite3_bind_int64(up, 2, ev->time_ms);
        bind_id(up, 3, &ev->meta[LV_M_USER_ID]);
    }
    const lv_value *updated = body(ev, "updated_at");
    const lv_value *created = body(ev, "created_at");
    if (updated && updated->state == LV_SET)
        sqlite3_bind_int64(up, 4, updated->ms);
    else if (created && created->state == LV_SET)
        sqlite3_bind_int64(up, 4, created->ms);
    if ((rc = step(s, up, "cannot store a conversation", err)) != LV_OK)
        return rc;
    if (strcmp(name, "conversation_message_created") == 0) {
        sqlite3_stmt *st = s->stmt[SQ_MESSAGE_INSERT];
        bind_id(st, 1, body(ev, "message_id"));
        sqlite3_bind_int64(st, 2, (sqlite3_int64)conversation);
        bind_id(st, 3, body(ev, "author_id"));
        sqlite3_bind_int64(st, 4, created->state == LV_SET ? created->ms : ev->time_ms);
        sqlite3_bind_int64(st, 5, ev->time_ms);
        sqlite3_bind_int64(st, 6, row);
        return step(s, st, "cannot store a conversation message", err);
    }
    if (strcmp(name, "conversation_forwarded") == 0) {
        sqlite3_stmt *st = s->stmt[SQ_FORWARD_INSERT];
        sqlite3_bind_int64(st, 1, (sqlite3_int64)conversation);
        sqlite3_bind_int64(st, 2, row);
        sqlite3_bind_int64(st, 3, ev->time_ms);
        bind_id(st, 4, &ev->meta[LV_M_USER_ID]);
        bind_time(st, 5, updated);
        return step(s, st, "cannot store a conversation forward", err);
    }
    return LV_OK;
}

static lv_status note_account(sq_store *s, const lv_event *ev, lv_error *err)
{
    const lv_value *root = &ev->meta[LV_M_ROOT_ACCOUNT_ID];
    if (root->state != LV_SET)
        return LV_OK;
    for (size_t i = 0; i < s->n_accounts; i++)
        if (s->accounts[i] == root->id)
            return LV_OK;
    s->accounts = lv_xrealloc(s->accounts, (s->n_accounts + 1) * sizeof *s->accounts);
    s->accounts[s->n_accounts++] = root->id;
    sqlite3_stmt *st = s->stmt[SQ_ACCOUNT_INSERT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)root->id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)lv_id_shard(root->id));
    return step(s, st, "cannot record a root account", err);
}

static lv_status store_event(sq_store *s, lv_batch_doc *d, size_t e, int64_t *doc_row, lv_counts *c,
                             lv_error *err)
{
    const lv_event *ev = &d->doc.events[e];
    int64_t name = 0;
    lv_status rc = name_id(s, ev->name, ev->name_len, &name, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_stmt *st = s->stmt[SQ_EVENT_INSERT];
    sqlite3_bind_blob(st, 1, d->hash[e], LV_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, name);
    sqlite3_bind_int(st, 3, ev->format == LV_FORMAT_CALIPER);
    sqlite3_bind_int64(st, 4, ev->time_ms);
    uint64_t course = lv_event_course(ev);
    if (course)
        sqlite3_bind_int64(st, 5, (sqlite3_int64)course);
    else
        bind_id(st, 5, &ev->meta[LV_M_CONTEXT_ID]);
    bind_id(st, 6, &ev->meta[LV_M_USER_ID]);
    if (*doc_row) {
        sqlite3_bind_int64(st, 7, *doc_row);
    } else {
        sqlite3_bind_blob(st, 8, d->zraw, (int)d->zlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)d->len);
        if (d->dict_id)
            sqlite3_bind_int64(st, 10, d->dict_id);
    }
    sqlite3_bind_int64(st, 11, lv_now_ms());
    if ((rc = step(s, st, "cannot store an event", err)) != LV_OK)
        return rc;
    if (sqlite3_changes(s->db) == 0) {
        d->outcome[e] = LV_OUT_DUPLICATE;
        c->duplicates++;
        s->duplicates++;
        return LV_OK;
    }
    int64_t row = sqlite3_last_insert_rowid(s->db);
    if (!*doc_row) {
        *doc_row = row;
        s->raw_bytes += (int64_t)d->len;
    }
    d->outcome[e] = LV_OUT_STORED;
    d->stored_any = true;
    c->stored++;
    if (!ev->kind)
        c->outside_model++;

    /* figures */
    int64_t day = floor_day(ev->time_ms);
    lv_tally_add(&s->counts, (int64_t[4]){ name, ev->format == LV_FORMAT_CALIPER, 0, 0 }, 1);
    if (course) {
        lv_tally_add(&s->activity, (int64_t[4]){ (int64_t)course, day, name, 0 }, 1);
        const lv_value *user = &ev->meta[LV_M_USER_ID];
        if (user->state == LV_SET)
            lv_tally_add(&s->participants,
                         (int64_t[4]){ (int64_t)course, day, (int64_t)lv_value_id(user),
                                       role_index(s, &ev->meta[LV_M_CONTEXT_ROLE]) }, 1);
    }
    if (!s->have_times || ev->time_ms < s->min_time)
        s->min_time = ev->time_ms;
    if (!s->have_times || ev->time_ms > s->max_time)
        s->max_time = ev->time_ms;
    s->have_times = true;
    if ((rc = note_account(s, ev, err)) != LV_OK)
        return rc;

    /* state rebuilt from events */
    if (!ev->kind)
        return LV_OK;
    if (ev->kind->family == LV_FAMILY_CONVERSATION)
        return apply_conversation(s, ev, row, err);
    if (strncmp(ev->kind->name, "discussion_topic_", 17) == 0)
        return apply_topic(s, ev, row, d->hash[e], d->search_title[e], d->search_text[e], err);
    return apply_entry(s, ev, row, d->search_text[e], err);
}

/* A document with rejected events (or only Caliper entities) is kept whole, once, with its errors. */
static lv_status store_dead_letter(sq_store *s, lv_batch_doc *d, lv_counts *c, lv_error *err)
{
    lv_buf_reset(&s->scratch);
    lv_jw *w = lv_jw_new(&s->scratch, false);
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
    sqlite3_stmt *st = s->stmt[SQ_DEAD_INSERT];
    sqlite3_bind_blob(st, 1, d->dead_hash, LV_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, lv_now_ms());
    sqlite3_bind_text(st, 3, d->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, d->line);
    sqlite3_bind_text(st, 5, s->scratch.data, (int)s->scratch.len, SQLITE_STATIC);
    if (d->zraw) {
        sqlite3_bind_blob(st, 6, d->zraw, (int)d->zlen, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)d->len);
        if (d->dict_id)
            sqlite3_bind_int64(st, 8, d->dict_id);
    } else {
        sqlite3_bind_int64(st, 7, (sqlite3_int64)d->len); /* too large: its size is all that is kept */
    }
    lv_status rc = step(s, st, "cannot store a dead letter", err);
    if (rc != LV_OK)
        return rc;
    bool fresh = sqlite3_changes(s->db) == 1;
    for (size_t e = 0; e < d->doc.n_events; e++) {
        const lv_event *ev = &d->doc.events[e];
        if (!ev->rejected && !ev->is_entity)
            continue;
        d->outcome[e] = fresh ? LV_OUT_DEAD_LETTER : LV_OUT_DUPLICATE;
    }
    if (fresh) {
        c->rejected += rejected ? rejected : 1;
        s->dead_letters++;
    } else {
        c->duplicates += rejected ? rejected : 1;
        s->duplicates += rejected ? rejected : 1;
    }
    return LV_OK;
}

static lv_status sq_write(lv_store *base, lv_batch *b, lv_counts *c, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "writing to %s outside a transaction", base->location);
    for (size_t i = 0; i < b->n_docs; i++) {
        lv_batch_doc *d = b->docs[i];
        c->documents++;
        c->bytes += d->len;
        int64_t doc_row = 0;
        bool dead = false;
        for (size_t e = 0; e < d->doc.n_events; e++) {
            const lv_event *ev = &d->doc.events[e];
            if (ev->rejected || !d->text) {
                dead = true;
                continue;
            }
            if (ev->is_entity)
                continue;
            lv_status rc = store_event(s, d, e, &doc_row, c, err);
            if (rc != LV_OK)
                return rc;
        }
        if (!dead && !d->stored_any) {
            /* nothing stored: either all duplicates, or only entities (kept as a dead letter) */
            bool any_event = false;
            for (size_t e = 0; e < d->doc.n_events; e++)
                any_event |= !d->doc.events[e].is_entity;
            dead = !any_event;
        }
        if (dead) {
            lv_status rc = store_dead_letter(s, d, c, err);
            if (rc != LV_OK)
                return rc;
        }
    }
    return LV_OK;
}

static lv_status flush_tally(sq_store *s, lv_tally *t, int stmt, int columns, lv_error *err)
{
    for (size_t i = 0; i < t->cap; i++) {
        const lv_tally_entry *e = &t->slots[i];
        if (!e->used)
            continue;
        sqlite3_stmt *st = s->stmt[stmt];
        for (int k = 0; k < columns; k++) {
            if (stmt == SQ_PARTICIPANT_ADD && k == 3)
                sqlite3_bind_text(st, 4, sq_role_name(s, e->key[3]), -1, SQLITE_STATIC);
            else
                sqlite3_bind_int64(st, k + 1, e->key[k]);
        }
        sqlite3_bind_int64(st, columns + 1, e->value);
        lv_status rc = step(s, st, "cannot store figures", err);
        if (rc != LV_OK)
            return rc;
    }
    lv_tally_clear(t);
    return LV_OK;
}

static lv_status total(sq_store *s, int stmt, const char *key, int64_t value, lv_error *err)
{
    sqlite3_stmt *st = s->stmt[stmt];
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    return step(s, st, "cannot store figures", err);
}

static void reset_tallies(sq_store *s)
{
    lv_tally_clear(&s->activity);
    lv_tally_clear(&s->participants);
    lv_tally_clear(&s->counts);
    s->duplicates = s->dead_letters = s->raw_bytes = 0;
    s->have_times = false;
}

static void sq_rollback(lv_store *base);

static lv_status sq_commit(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!s->in_txn)
        return LV_OK;
    lv_status rc = flush_tally(s, &s->activity, SQ_ACTIVITY_ADD, 3, err);
    if (rc == LV_OK)
        rc = flush_tally(s, &s->participants, SQ_PARTICIPANT_ADD, 4, err);
    if (rc == LV_OK)
        rc = flush_tally(s, &s->counts, SQ_COUNT_ADD, 2, err);
    if (rc == LV_OK && s->duplicates)
        rc = total(s, SQ_TOTAL_ADD, "duplicates", s->duplicates, err);
    if (rc == LV_OK && s->raw_bytes)
        rc = total(s, SQ_TOTAL_ADD, "raw_bytes", s->raw_bytes, err);
    if (rc == LV_OK && s->have_times)
        rc = total(s, SQ_TOTAL_MIN, "first_time", s->min_time, err);
    if (rc == LV_OK && s->have_times)
        rc = total(s, SQ_TOTAL_MAX, "last_time", s->max_time, err);
    if (rc == LV_OK)
        rc = exec(s, "COMMIT", err);
    if (rc != LV_OK) {
        sq_rollback(base);
        return rc;
    }
    s->in_txn = false;
    reset_tallies(s);
    return rc;
}

/* Undoes the open transaction, and forgets what was cached from it (names, accounts). */
static void sq_rollback(lv_store *base)
{
    sq_store *s = (sq_store *)base;
    if (s->in_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = false;
    s->n_accounts = 0;
    lv_tally_clear(&s->topics_known);
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    s->n_names = 0;
    lv_error err;
    load_names(s, &err);
    reset_tallies(s);
}

/* Bulk mode: WAL with synchronous=NORMAL commits without fsync (a crash of the process loses nothing
 * committed), and checkpoints wait until the WAL holds 1 GB: during a large ingest, copying the WAL
 * into the database every 64 MB rewrote the same hot pages over and over (measured: 28k -> 50k
 * events/s). */
static void sq_set_bulk(lv_store *base, bool bulk)
{
    sq_store *s = (sq_store *)base;
    if (!s->read_only)
        sqlite3_exec(s->db, bulk ? "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 131072"
                                 : "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 8192",
                     NULL, NULL, NULL);
}

/* A full checkpoint syncs the WAL, copies it into the database and syncs that. */
static lv_status sq_sync(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->read_only)
        return LV_OK;
    if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_FULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot make the store durable");
    return LV_OK;
}

static lv_status sq_set_mark(lv_store *base, const char *name, uint64_t value, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "setting a mark in %s outside a transaction", base->location);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO marks (name, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE"
                                  " SET value = excluded.value", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot record a mark");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)value);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LV_OK : sq_fail(s, err, "cannot record a mark");
}

static lv_status sq_get_mark(lv_store *base, const char *name, uint64_t *value, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *value = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM marks WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read a mark");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        *value = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return LV_OK;
}

static const lv_dict *sq_current_dict(lv_store *base)
{
    return ((sq_store *)base)->current_dict;
}

static lv_status sq_maybe_train(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->current_dict || s->read_only)
        return LV_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM events WHERE doc IS NULL", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot count documents");
    int64_t docs = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (docs < TRAIN_AFTER)
        return LV_OK;
    if (sqlite3_prepare_v2(s->db, "SELECT raw, raw_len, dict FROM events WHERE doc IS NULL"
                                  " ORDER BY id DESC LIMIT ?1", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read documents");
    sqlite3_bind_int(st, 1, TRAIN_SAMPLES);
    lv_buf samples;
    lv_buf_init(&samples);
    size_t *sizes = lv_xmalloc(TRAIN_SAMPLES * sizeof *sizes);
    unsigned n = 0;
    lv_status rc = LV_OK;
    while (rc == LV_OK && sqlite3_step(st) == SQLITE_ROW) {
        rc = sq_document(s, st, 0, &s->raw, err);
        if (rc == LV_OK) {
            lv_buf_append(&samples, s->raw.data, s->raw.len);
            sizes[n++] = s->raw.len;
        }
    }
    sqlite3_finalize(st);
    lv_buf dict;
    lv_buf_init(&dict);
    if (rc == LV_OK)
        rc = lv_dict_train(samples.data, sizes, n, &dict, err);
    if (rc == LV_OK) {
        sqlite3_stmt *ins;
        if (sqlite3_prepare_v2(s->db, "INSERT INTO dicts (data, created) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK)
            rc = sq_fail(s, err, "cannot store a dictionary");
        else {
            sqlite3_bind_blob(ins, 1, dict.data, (int)dict.len, SQLITE_STATIC);
            sqlite3_bind_int64(ins, 2, lv_now_ms());
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = sq_fail(s, err, "cannot store a dictionary");
            sqlite3_finalize(ins);
            if (rc == LV_OK)
                rc = load_dict(s, sqlite3_last_insert_rowid(s->db), dict.data, dict.len, err);
        }
    }
    lv_buf_free(&dict);
    lv_buf_free(&samples);
    free(sizes);
    return rc;
}

/* ---- reading ---- */

static lv_status sq_export(lv_store *base, const lv_export_filter *f,
                           lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                           void *ctx, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    lv_buf sql;
    lv_buf_init(&sql);
    if (f->dead_letters) {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM dead_letters WHERE raw IS NOT NULL ORDER BY id");
    } else {
        lv_buf_puts(&sql, "SELECT raw, raw_len, dict FROM events WHERE raw IS NOT NULL");
        if (f->event || f->has_since || f->has_until || f->course) {
            lv_buf_puts(&sql, " AND id IN (SELECT coalesce(doc, id) FROM events WHERE 1");
            if (f->event)
                lv_buf_puts(&sql, " AND name = (SELECT id FROM names WHERE name = ?1)");
            if (f->has_since)
                lv_buf_puts(&sql, " AND time >= ?2");
            if (f->has_until)
                lv_buf_puts(&sql, " AND time < ?3");
            if (f->course)
                lv_buf_puts(&sql, " AND context_id = ?4");
            lv_buf_puts(&sql, ")");
        }
        lv_buf_puts(&sql, " ORDER BY id");
    }
    sqlite3_stmt *st;
    int prc = sqlite3_prepare_v2(s->db, sql.data, -1, &st, NULL);
    lv_buf_free(&sql);
    if (prc != SQLITE_OK)
        return sq_fail(s, err, "cannot read the store");
    if (f->event)
        sqlite3_bind_text(st, 1, f->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, f->since_ms);
    sqlite3_bind_int64(st, 3, f->until_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->course);
    lv_status rc = LV_OK;
    int r;
    while (rc == LV_OK && (r = sqlite3_step(st)) == SQLITE_ROW) {
        rc = sq_document(s, st, 0, &s->raw, err);
        if (rc == LV_OK)
            rc = emit(ctx, s->raw.data, s->raw.len, err);
    }
    if (rc == LV_OK && r != SQLITE_DONE)
        rc = sq_fail(s, err, "cannot read the store");
    sqlite3_finalize(st);
    return rc;
}

static lv_status sq_resolve(lv_store *base, uint64_t id, uint64_t *global, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    *global = id;
    if (!lv_id_is_local(id))
        return LV_OK;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT DISTINCT shard FROM accounts WHERE shard > 0 ORDER BY shard", -1, &st, NULL) != SQLITE_OK)
        return sq_fail(s, err, "cannot read the store's shards");
    uint64_t shards[8];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 8)
        shards[n++] = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (n == 0)
        return LV_OK;
    if (n > 1) {
        char list[200] = "";
        size_t used = 0;
        for (size_t i = 0; i < n && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%llu", i ? ", " : "",
                                     (unsigned long long)(shards[i] * LV_SHARD_FACTOR + id));
        return lv_fail(err, LV_EINVAL, "%llu is a local id and this store holds several shards; "
                       "give the global id (one of %s)", (unsigned long long)id, list);
    }
    if (!lv_id_globalize(id, shards[0], global))
        return lv_fail(err, LV_EINVAL, "%llu cannot be made global", (unsigned long long)id);
    return LV_OK;
}

static int64_t scalar(sq_store *s, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static lv_status sq_stats(lv_store *base, lv_jw *w, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    (void)err;
    int64_t events = scalar(s, "SELECT coalesce(sum(n), 0) FROM counts");
    int64_t outside = 0;
    sqlite3_stmt *st;
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "events", events);
    lv_jw_kv_int(w, "duplicates", scalar(s, "SELECT coalesce(max(value), 0) FROM totals WHERE key = 'duplicates'"));
    lv_jw_kv_int(w, "dead_letters", scalar(s, "SELECT count(*) FROM dead_letters"));
    lv_jw_key(w, "by_event");
    lv_jw_obj_open(w);
    int64_t by_format[2] = { 0, 0 };
    if (sqlite3_prepare_v2(s->db, "SELECT names.name, sum(CASE WHEN format = 0 THEN n ELSE 0 END),"
                                  " sum(CASE WHEN format = 1 THEN n ELSE 0 END), sum(n) FROM counts"
                                  " JOIN names ON names.id = counts.name GROUP BY names.name"
                                  " ORDER BY sum(n) DESC, names.name", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            lv_jw_key(w, name);
            lv_jw_obj_open(w);
            lv_jw_kv_int(w, "canvas", sqlite3_column_int64(st, 1));
            lv_jw_kv_int(w, "caliper", sqlite3_column_int64(st, 2));
            lv_jw_kv_int(w, "total", sqlite3_column_int64(st, 3));
            lv_jw_obj_close(w);
            by_format[0] += sqlite3_column_int64(st, 1);
            by_format[1] += sqlite3_column_int64(st, 2);
            if (!lv_kind_find(name, strlen(name)))
                outside += sqlite3_column_int64(st, 3);
        }
        sqlite3_finalize(st);
    }
    lv_jw_obj_close(w);
    lv_jw_kv_int(w, "outside_model", outside);
    lv_jw_key(w, "by_format");
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "canvas", by_format[0]);
    lv_jw_kv_int(w, "caliper", by_format[1]);
    lv_jw_obj_close(w);
    char text[LV_TIME_TEXT_MAX];
    if (events) {
        lv_time_format(scalar(s, "SELECT value FROM totals WHERE key = 'first_time'"), text);
        lv_jw_kv_cstr(w, "first_event_time", text);
        lv_time_format(scalar(s, "SELECT value FROM totals WHERE key = 'last_time'"), text);
        lv_jw_kv_cstr(w, "last_event_time", text);
    } else {
        lv_jw_kv_cstr(w, "first_event_time", NULL);
        lv_jw_kv_cstr(w, "last_event_time", NULL);
    }
    int64_t page = scalar(s, "PRAGMA page_size");
    int64_t used = (scalar(s, "PRAGMA page_count") - scalar(s, "PRAGMA freelist_count")) * page;
    int64_t raw = scalar(s, "SELECT coalesce(max(value), 0) FROM totals WHERE key = 'raw_bytes'");
    int64_t docs = scalar(s, "SELECT count(*) FROM events WHERE doc IS NULL");
    lv_jw_kv_int(w, "bytes_on_disk", used);
    lv_jw_key(w, "bytes_per_event");
    lv_jw_double(w, events ? (double)used / (double)events : 0);
    lv_jw_key(w, "raw_bytes_per_event");
    lv_jw_double(w, docs ? (double)raw / (double)docs : 0);
    lv_jw_kv_int(w, "dictionaries", scalar(s, "SELECT count(*) FROM dicts"));
    lv_jw_obj_close(w);
    return LV_OK;
}

static const lv_engine sqlite_engine = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .write = sq_write,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .set_bulk = sq_set_bulk,
    .sync = sq_sync,
    .set_mark = sq_set_mark,
    .get_mark = sq_get_mark,
    .dict = sq_current_dict,
    .maybe_train = sq_maybe_train,
    .export_docs = sq_export,
    .resolve_id = sq_resolve,
    .stats = sq_stats,
    .topic = sq_topic,
    .conversation = sq_conversation,
    .course = sq_course,
    .user = sq_user,
    .courses = sq_courses,
    .search = sq_search,
};
