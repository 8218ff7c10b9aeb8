/* open.c: the embedded engine's connection: opening a store file (WAL, with the settings each kind
 * of user needs), telling SQLite's results apart (a row, the end, or an error said as a sentence),
 * transactions, durability, marks, event names, compression dictionaries, deadlines, and the table
 * of operations (levee/engine.h) that the rest of the engine's files fill. */
#include "sqlite.h"

#include "levee/erase.h"

#include "levee/engines.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Train a dictionary once the store holds this many documents, from up to TRAIN_SAMPLES of them. */
#define TRAIN_AFTER 1000
#define TRAIN_SAMPLES 4000
/* SQLite calls the deadline check every this many virtual machine steps (about a millisecond). */
#define PROGRESS_STEPS 10000

/* ---- results ---- */

lv_status sq_fail(sq_store *s, lv_error *err, const char *what)
{
    const char *path = s->base.location;
    int code = sqlite3_extended_errcode(s->db);
    switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return lv_fail(err, LV_EDAMAGED, "%s: the store %s is damaged (SQLite: %s); restore it from a backup",
                       what, path, sqlite3_errmsg(s->db));
    case SQLITE_FULL:
        return lv_fail(err, LV_EBUSY, "%s: the disk holding %s is full", what, path);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return lv_fail(err, LV_EBUSY, "%s: %s is locked by another writer; try again when it is done", what, path);
    case SQLITE_INTERRUPT:
        if (s->deadline_us || atomic_load(&s->interrupted))
            return lv_fail(err, LV_ETIMEOUT, "%s: the question took longer than levee allows; narrow it "
                           "(fewer words, a course, a shorter window)", what);
        break;
    case SQLITE_READONLY:
        return lv_fail(err, LV_EIO, "%s: %s is read-only", what, path);
    default:
        break;
    }
    return lv_fail(err, LV_EIO, "%s: %s (%s)", what, sqlite3_errmsg(s->db), path);
}

lv_status sq_step(sq_store *s, sqlite3_stmt *st, bool *row, const char *what, lv_error *err)
{
    int rc = sqlite3_step(st);
    *row = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        return LV_OK;
    return sq_fail(s, err, what);
}

lv_status sq_exec_step(sq_store *s, sqlite3_stmt *st, const char *what, lv_error *err)
{
    bool row;
    lv_status rc = sq_step(s, st, &row, what, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

lv_status sq_prepare(sq_store *s, const char *sql, sqlite3_stmt **st, lv_error *err)
{
    if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return sq_fail(s, err, "cannot query the store");
    }
    return LV_OK;
}

lv_status sq_exec(sq_store *s, const char *sql, lv_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lv_status st;
        int code = sqlite3_extended_errcode(s->db) & 0xff;
        if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB || code == SQLITE_FULL || code == SQLITE_BUSY ||
            code == SQLITE_LOCKED)
            st = sq_fail(s, err, "cannot write to the store");
        else
            st = lv_fail(err, LV_EIO, "%s (%s)", msg ? msg : sqlite3_errmsg(s->db), s->base.location);
        sqlite3_free(msg);
        return st;
    }
    return LV_OK;
}

/* ---- names ---- */

static lv_status load_names(sq_store *s, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT id, name FROM names ORDER BY id", &st, err);
    bool row = false;
    while (rc == LV_OK && (rc = sq_step(s, st, &row, "cannot read event names", err)) == LV_OK && row) {
        lv_vec_reserve((void **)&s->names, &s->cap_names, s->n_names + 1, sizeof *s->names, 64);
        s->names[s->n_names].id = sqlite3_column_int64(st, 0);
        s->names[s->n_names].name = lv_xstrdup((const char *)sqlite3_column_text(st, 1));
        s->n_names++;
    }
    sqlite3_finalize(st);
    return rc;
}

void sq_forget_names(sq_store *s)
{
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    s->n_names = 0;
}

lv_status sq_name_id(sq_store *s, const char *name, size_t len, int64_t *id, lv_error *err)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (strlen(s->names[i].name) == len && memcmp(s->names[i].name, name, len) == 0) {
            *id = s->names[i].id;
            return LV_OK;
        }
    sqlite3_stmt *st = s->stmt[SQ_NAME_INSERT];
    sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
    lv_status rc = sq_exec_step(s, st, "cannot record an event name", err);
    if (rc != LV_OK)
        return rc;
    lv_vec_reserve((void **)&s->names, &s->cap_names, s->n_names + 1, sizeof *s->names, 64);
    s->names[s->n_names].id = sqlite3_last_insert_rowid(s->db);
    s->names[s->n_names].name = lv_xstrndup(name, len);
    *id = s->names[s->n_names++].id;
    return LV_OK;
}

/* ---- dictionaries ---- */

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
    lv_status rc = sq_prepare(s, sql, &st, err);
    if (rc != LV_OK)
        return rc;
    if (only_id)
        sqlite3_bind_int64(st, 1, only_id);
    bool row = false;
    while ((rc = sq_step(s, st, &row, "cannot read compression dictionaries", err)) == LV_OK && row)
        if ((rc = load_dict(s, sqlite3_column_int64(st, 0), sqlite3_column_blob(st, 1),
                            (size_t)sqlite3_column_bytes(st, 1), err)) != LV_OK)
            break;
    sqlite3_finalize(st);
    return rc;
}

const lv_dict *sq_dict(sq_store *s, int64_t id, lv_error *err)
{
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    if (load_dicts(s, id, err) != LV_OK)
        return NULL;
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    lv_fail(err, LV_EDAMAGED, "compression dictionary %lld is missing from %s: the store is damaged",
            (long long)id, s->base.location);
    return NULL;
}

lv_status sq_document(sq_store *s, sqlite3_stmt *row, int raw_col, lv_buf *out, lv_error *err)
{
    const void *blob = sqlite3_column_blob(row, raw_col);
    size_t n = (size_t)sqlite3_column_bytes(row, raw_col);
    size_t raw_len = (size_t)sqlite3_column_int64(row, raw_col + 1);
    int64_t dict_id = sqlite3_column_int64(row, raw_col + 2);
    const lv_dict *d = NULL;
    if (dict_id && !(d = sq_dict(s, dict_id, err)))
        return err ? err->status : LV_EDAMAGED;
    lv_error derr;
    if (lv_decompress(s->z, d, blob, n, raw_len, out, &derr) != LV_OK)
        return lv_fail(err, LV_EDAMAGED, "a stored document in %s cannot be read back (%s): the store is damaged",
                       s->base.location, derr.msg);
    return LV_OK;
}

/* ---- transactions, durability, marks ---- */

/* Whether the file open here is still the one at the store's path: a store renamed or deleted under a
 * running levee would go on taking writes nobody will read again (and the journal would release what
 * was applied to it). SQLite's unix VFS compares the path's inode with the open file's. */
static lv_status still_in_place(sq_store *s, lv_error *err)
{
    int moved = 0;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK || !moved)
        return LV_OK; /* a VFS that cannot tell: nothing to go by */
    return lv_fail(err, LV_EDAMAGED, "the store %s was moved or deleted while levee had it open; levee stopped "
                   "writing to it (what arrived since stays in the journal): put the file back, or restore a "
                   "backup there, and restart levee", s->base.location);
}

static lv_status sq_begin(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->read_only)
        return lv_fail(err, LV_EINVAL, "%s is open read-only", base->location);
    lv_status st = still_in_place(s, err);
    if (st == LV_OK)
        st = sq_exec(s, "BEGIN IMMEDIATE", err);
    if (st == LV_OK)
        s->in_txn = true;
    return st;
}

/* Also checks, once committed, that the file is still the store's: otherwise the commit is reported
 * as failed, so that the journal keeps what it held. */
static lv_status sq_commit(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (!s->in_txn)
        return LV_OK;
    lv_status st = sq_exec(s, "COMMIT", err);
    if (st == LV_OK)
        s->in_txn = false;
    if (st == LV_OK)
        st = still_in_place(s, err);
    return st;
}

/* Undoes the open transaction, and forgets the names recorded in it. */
static void sq_rollback(lv_store *base)
{
    sq_store *s = (sq_store *)base;
    if (s->in_txn && sqlite3_get_autocommit(s->db) == 0)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = false;
    sq_forget_names(s);
    lv_error err;
    if (load_names(s, &err) != LV_OK)
        sq_forget_names(s); /* read again on first use (sq_name_id records a name only once) */
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

/* WAL with synchronous=NORMAL: a commit is not synced; checkpoints come as usual (every 8192 pages) or,
 * without housekeeping, never from this connection. A commit that crossed the 8192 pages copied the WAL
 * into the database inside the commit: for the deliverer beside levee serve's applier (which writes
 * about 5,000 pages a second at 2,000 events/s), a 40-50 ms stall every second and a half. */
static void sq_set_relaxed(lv_store *base, bool housekeeping)
{
    sq_store *s = (sq_store *)base;
    if (!s->read_only)
        sqlite3_exec(s->db, housekeeping ? "PRAGMA synchronous = NORMAL"
                                         : "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0",
                     NULL, NULL, NULL);
}

/* A passive checkpoint: as much of the WAL as no reader still needs is copied into the database,
 * writers going on meanwhile. Another checkpoint running (SQLITE_BUSY) is one already being done. */
static lv_status sq_housekeeping(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->read_only)
        return LV_OK;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        return sq_fail(s, err, "cannot copy the store's write-ahead log into it");
    return LV_OK;
}

static void sq_set_lock_wait(lv_store *base, bool wait)
{
    ((sq_store *)base)->no_lock_wait = !wait;
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

/* fsync of the write-ahead log through this connection's handle on it (opened by its first read). */
static lv_status sq_sync_others(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->read_only)
        return LV_OK;
    sqlite3_file *wal = NULL;
    if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal ||
        !wal->pMethods) {
        lv_status rc = sq_exec(s, "SELECT count(*) FROM marks", err); /* a read opens the log */
        if (rc != LV_OK)
            return rc;
        wal = NULL;
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal ||
            !wal->pMethods)
            return lv_fail(err, LV_EIO, "cannot make the store %s durable: its write-ahead log is not open",
                           s->base.location);
    }
    if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK)
        return lv_fail(err, LV_EIO, "cannot make the store %s durable: syncing its write-ahead log failed",
                       s->base.location);
    return LV_OK;
}

static lv_status sq_set_mark(lv_store *base, const char *name, uint64_t value, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "INSERT INTO marks (name, value) VALUES (?1, ?2) ON CONFLICT DO UPDATE"
                                 " SET value = excluded.value", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)value);
    rc = sq_exec_step(s, st, "cannot record a mark", err);
    sqlite3_finalize(st);
    return rc;
}

static lv_status sq_get_mark(lv_store *base, const char *name, uint64_t *value, bool *found, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    sqlite3_stmt *st;
    *value = 0;
    *found = false;
    lv_status rc = sq_prepare(s, "SELECT value FROM marks WHERE name = ?1", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sq_step(s, st, found, "cannot read a mark", err);
    if (rc == LV_OK && *found)
        *value = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static const lv_dict *sq_current_dict(lv_store *base)
{
    return ((sq_store *)base)->current_dict;
}

/* Whether it is time to train (enough documents and no dictionary yet), and then the newest documents
 * as samples: their bytes one after the other in samples, each one's size in sizes. */
static lv_status train_samples(sq_store *s, lv_buf *samples, size_t *sizes, unsigned *n, lv_error *err)
{
    *n = 0;
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT count(*) FROM events WHERE doc IS NULL", &st, err);
    if (rc != LV_OK)
        return rc;
    bool row;
    rc = sq_step(s, st, &row, "cannot count documents", err);
    int64_t docs = rc == LV_OK && row ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != LV_OK || docs < TRAIN_AFTER)
        return rc;
    if ((rc = sq_prepare(s, "SELECT raw, raw_len, dict FROM events WHERE doc IS NULL ORDER BY id DESC LIMIT ?1",
                         &st, err)) != LV_OK)
        return rc;
    sqlite3_bind_int(st, 1, TRAIN_SAMPLES);
    unsigned got = 0;
    while ((rc = sq_step(s, st, &row, "cannot read documents", err)) == LV_OK && row) {
        if ((rc = sq_document(s, st, 0, &s->raw, err)) != LV_OK)
            break;
        lv_buf_append(samples, s->raw.data, s->raw.len);
        sizes[got++] = s->raw.len;
    }
    sqlite3_finalize(st);
    if (rc == LV_OK)
        *n = got;
    return rc;
}

/* Redacts the samples and trains a dictionary from them: no store involved (any thread). */
static lv_status train(lv_buf *samples, const size_t *sizes, unsigned n, lv_buf *dict, lv_error *err)
{
    lv_dict_samples_redact(samples->data, sizes, n); /* nobody's login or words in the dictionary */
    return lv_dict_train(samples->data, sizes, n, dict, err);
}

/* Stores a trained dictionary and makes it the one new documents are compressed with. */
static lv_status store_dict(sq_store *s, const lv_buf *dict, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "INSERT INTO dicts (data, created) VALUES (?1, ?2)", &st, err);
    if (rc != LV_OK)
        return rc;
    sqlite3_bind_blob(st, 1, dict->data, (int)dict->len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, lv_now_ms());
    rc = sq_exec_step(s, st, "cannot store a dictionary", err);
    sqlite3_finalize(st);
    if (rc == LV_OK)
        rc = load_dict(s, sqlite3_last_insert_rowid(s->db), dict->data, dict->len, err);
    return rc;
}

/* A training aside (set_train_aside): the samples are read on the store's connection (milliseconds),
 * redacted and trained on this thread (a few hundred milliseconds of CPU), and stored by the next
 * maybe_train once done is set. */
struct sq_trainer {
    pthread_t thread;
    lv_buf samples, dict;
    size_t *sizes;
    unsigned n;
    lv_status st;
    lv_error err;
    atomic_bool done;
};

static void *train_main(void *arg)
{
    sq_trainer *t = arg;
    pthread_setname_np(pthread_self(), "levee-train");
    /* an optimisation: on CPU time that acknowledging, storing and delivering leave (a failure to
     * lower its priority only makes it compete with them) */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
    }
    t->st = train(&t->samples, t->sizes, t->n, &t->dict, &t->err);
    atomic_store(&t->done, true);
    return NULL;
}

static void trainer_free(sq_trainer *t)
{
    lv_buf_free(&t->samples);
    lv_buf_free(&t->dict);
    free(t->sizes);
    free(t);
}

/* Waits for the training aside to end and takes its dictionary (stored, when keep). */
static lv_status trainer_join(sq_store *s, bool keep, lv_error *err)
{
    sq_trainer *t = s->trainer;
    s->trainer = NULL;
    pthread_join(t->thread, NULL);
    lv_status rc = t->st;
    if (rc != LV_OK && err)
        *err = t->err;
    if (rc == LV_OK && keep)
        rc = store_dict(s, &t->dict, err);
    trainer_free(t);
    return rc;
}

static void sq_set_train_aside(lv_store *base, bool aside)
{
    ((sq_store *)base)->train_aside = aside;
}

static lv_status sq_maybe_train(lv_store *base, lv_error *err)
{
    sq_store *s = (sq_store *)base;
    if (s->trainer && (atomic_load(&s->trainer->done) || !s->train_aside))
        return trainer_join(s, true, err);
    if (s->trainer || s->current_dict || s->read_only)
        return LV_OK;
    sq_trainer *t = lv_xcalloc(1, sizeof *t);
    lv_buf_init(&t->samples);
    lv_buf_init(&t->dict);
    t->sizes = lv_xmalloc(TRAIN_SAMPLES * sizeof *t->sizes);
    lv_status rc = train_samples(s, &t->samples, t->sizes, &t->n, err);
    if (rc == LV_OK && t->n && s->train_aside && pthread_create(&t->thread, NULL, train_main, t) == 0) {
        s->trainer = t;
        return LV_OK;
    }
    if (rc == LV_OK && t->n) /* here and now: not aside, or no thread to train on */
        rc = train(&t->samples, t->sizes, t->n, &t->dict, err);
    if (rc == LV_OK && t->n)
        rc = store_dict(s, &t->dict, err);
    trainer_free(t);
    return rc;
}

/* ---- deadlines ---- */

static int past_deadline(void *ctx)
{
    sq_store *s = ctx;
    return s->deadline_us && lv_monotonic_us() > s->deadline_us;
}

static void sq_set_deadline(lv_store *base, int64_t deadline_us)
{
    sq_store *s = (sq_store *)base;
    s->deadline_us = deadline_us;
    atomic_store(&s->interrupted, false);
    sqlite3_progress_handler(s->db, deadline_us ? PROGRESS_STEPS : 0, deadline_us ? past_deadline : NULL, s);
}

static void sq_interrupt(lv_store *base)
{
    sq_store *s = (sq_store *)base;
    atomic_store(&s->interrupted, true);
    sqlite3_interrupt(s->db);
}

/* ---- opening and closing ---- */

static void sq_close(lv_store *base)
{
    sq_store *s = (sq_store *)base;
    if (s->trainer)
        trainer_join(s, false, NULL); /* trained again by the next writer that needs it */
    if (s->in_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < SQ_STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    for (int i = 0; i < SQ_CACHED_MAX; i++)
        sqlite3_finalize(s->cached[i].st);
    sqlite3_finalize(s->detail);
    sqlite3_close(s->db);
    sq_forget_names(s);
    free(s->names);
    for (size_t i = 0; i < s->n_dicts; i++)
        lv_dict_free(s->dicts[i]);
    free(s->dicts);
    lv_zctx_free(s->z);
    lv_buf_free(&s->raw);
    lv_buf_free(&s->row_text);
    lv_buf_free(&s->entry_text);
    lv_store_base_free(&s->base);
    free(s);
}

static const lv_engine sqlite_engine = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .set_bulk = sq_set_bulk,
    .set_relaxed = sq_set_relaxed,
    .set_lock_wait = sq_set_lock_wait,
    .sync = sq_sync,
    .sync_others = sq_sync_others,
    .housekeeping = sq_housekeeping,
    .set_mark = sq_set_mark,
    .get_mark = sq_get_mark,
    .dict = sq_current_dict,
    .maybe_train = sq_maybe_train,
    .set_train_aside = sq_set_train_aside,
    .set_deadline = sq_set_deadline,
    .interrupt = sq_interrupt,
    .put_event = sq_put_event,
    .put_dead_letter = sq_put_dead_letter,
    .put_account = sq_put_account,
    .get_topic = sq_get_topic,
    .put_topic = sq_put_topic,
    .ensure_topic = sq_ensure_topic,
    .add_topic_version = sq_add_topic_version,
    .put_entry = sq_put_entry,
    .set_entry_grading = sq_set_entry_grading,
    .get_conversation = sq_get_conversation,
    .put_conversation = sq_put_conversation,
    .put_message = sq_put_message,
    .put_forward = sq_put_forward,
    .search_add = sq_search_add,
    .search_remove = sq_search_remove,
    .add_activity = sq_add_activity,
    .add_participant = sq_add_participant,
    .add_count = sq_add_count,
    .add_drift = sq_add_drift,
    .add_totals = sq_add_totals,
    .export_docs = sq_export,
    .shards = sq_shards,
    .stats = sq_stats,
    .event_counts = sq_event_counts,
    .drift = sq_drift,
    .topic = sq_topic,
    .topic_versions = sq_topic_versions,
    .event_document = sq_event_document,
    .topic_entries = sq_topic_entries,
    .conversation = sq_conversation,
    .conversation_timeline = sq_conversation_timeline,
    .course_known = sq_course_known,
    .course_topics = sq_course_topics,
    .course_roles = sq_course_roles,
    .course_activity = sq_course_activity,
    .course_entries = sq_course_entries,
    .entry_detail = sq_entry_detail,
    .courses = sq_courses,
    .user_list = sq_user_list,
    .user_events = sq_user_events,
    .search = sq_search,
    .sub_insert = sq_sub_insert,
    .sub_set_spec = sq_sub_set_spec,
    .sub_set_state = sq_sub_set_state,
    .sub_delete = sq_sub_delete,
    .sub_get = sq_sub_get,
    .sub_list = sq_sub_list,
    .sub_progress = sq_sub_progress,
    .sub_lease = sq_sub_lease,
    .sub_release = sq_sub_release,
    .events_from = sq_events_from,
    .event_ref = sq_event_ref,
    .events_end = sq_events_end,
    .events_count_from = sq_events_count_from,
    .event_received_since = sq_event_received_since,
    .sub_pending_put = sq_sub_pending_put,
    .sub_pending_delete = sq_sub_pending_delete,
    .sub_pending_due = sq_sub_pending_due,
    .sub_pending_summary = sq_sub_pending_summary,
    .events_between = sq_events_between,
    .sub_replay_add = sq_sub_replay_add,
    .sub_replay_next = sq_sub_replay_next,
    .sub_replay_advance = sq_sub_replay_advance,
    .sub_pending_add = sq_sub_pending_add,
    .sub_dead_put = sq_sub_dead_put,
    .sub_dead_list = sq_sub_dead_list,
    .sub_dead_count = sq_sub_dead_count,
    .sub_dead_requeue = sq_sub_dead_requeue,
    .sub_attempt_add = sq_sub_attempt_add,
    .sub_attempts = sq_sub_attempts,
    .snapshot = sq_snapshot,
    .backup = sq_backup,
    .integrity = sq_integrity,
    .size = sq_size,
    .stored_events = sq_stored_events,
    .set_webhook_hash = sq_set_webhook_hash,
    .stored_dead_letters = sq_stored_dead_letters,
    .clear_derived = sq_clear_derived,
    .derived_rows = sq_derived_rows,
    .add_about = sq_add_about,
    .about_events = sq_about_events,
    .topic_events = sq_topic_events,
    .topic_first_entry_event = sq_topic_first_entry_event,
    .events_before = sq_events_before,
    .erase_events = sq_erase_events,
    .drop_topic = sq_drop_topic,
    .drop_entry = sq_drop_entry,
    .drop_conversation = sq_drop_conversation,
    .search_holds = sq_search_holds,
    .settle_figures = sq_settle_figures,
    .get_entry = sq_get_entry,
    .erase_dead_before = sq_erase_dead_before,
    .erase_dead_letter = sq_erase_dead_letter,
    .forget_add = sq_forget_add,
    .forgotten = sq_forgotten,
    .add_removed_entry = sq_add_removed_entry,
    .removed_entries = sq_removed_entries,
    .receipt_add = sq_receipt_add,
    .receipts = sq_receipts,
    .set_scrub = sq_set_scrub,
    .reclaim = sq_reclaim,
    .compact = sq_compact,
    .checkpoint = sq_checkpoint,
    .removed_entry_list = sq_removed_entry_list,
    .sub_restore = sq_sub_restore,
    .sub_replay_list = sq_sub_replay_list,
    .sub_replay_put = sq_sub_replay_put,
};

/* Waiting for another connection's write lock (the server's applier, delivery, a command) for up to
 * 10 s, in short sleeps: SQLite's own busy timeout sleeps in steps of up to 100 ms, which put a tenth of
 * a second into the time an event takes to reach a subscriber whenever two writers met; most writes
 * here hold the lock for a few milliseconds. 1 ms sleeps for the first 100 ms, then 10 ms ones. */
static int busy_wait(void *ctx, int count)
{
    if (((sq_store *)ctx)->no_lock_wait)
        return 0; /* SQLITE_BUSY now: the caller has other work (lv_store_set_lock_wait) */
    int64_t waited_ms = count < 100 ? count : 100 + (int64_t)(count - 100) * 10;
    if (waited_ms >= 10000)
        return 0; /* give up: SQLITE_BUSY, which levee reports or retries */
    struct timespec ts = { 0, (count < 100 ? 1 : 10) * 1000000L };
    nanosleep(&ts, NULL);
    return 1;
}

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
    lv_store_base_init(&s->base, &sqlite_engine, path);
    s->read_only = opt->read_only;
    s->z = lv_zctx_new();
    lv_buf_init(&s->raw);
    lv_buf_init(&s->row_text);
    lv_buf_init(&s->entry_text);
    int flags = opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        lv_status st = lv_fail(err, LV_EIO, "cannot open the store %s: %s", path,
                               s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sq_close(&s->base);
        return st;
    }
    sqlite3_busy_handler(s->db, busy_wait, s);
    lv_status st = sq_schema_ready(s, opt->read_only, err);
    /* Writers: durable commits (a 2xx or a finished ingest survives power loss), a large page cache.
     * Long-lived readers (the server's) map the file, up to 4 GB, so a page read once stays mapped
     * for the next request. A one-shot reader (a command) reads each page about once: it goes through
     * a 32-page cache that recycles its buffers, because mapping fresh memory, whether file pages or a
     * growing cache, costs more per page than reading the page again (on the benchmark machine:
     * `levee stats` 574 -> 186 ms, `levee search` 253 -> 91 ms, the reply tree 41 -> 29 ms). */
    if (st == LV_OK)
        st = sq_exec(s, !opt->read_only ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                                          " PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;"
                                          " PRAGMA wal_autocheckpoint = 8192"
                        : opt->one_shot ? "PRAGMA cache_size = 32; PRAGMA temp_store = MEMORY; PRAGMA mmap_size = 0"
                                        : "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;"
                                          " PRAGMA mmap_size = 4294967296", err);
    for (int i = 0; st == LV_OK && !opt->read_only && i < SQ_STMT_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, sq_statements[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL) != SQLITE_OK)
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
