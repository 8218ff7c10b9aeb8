/* open.c: the PostgreSQL engine's store: opening one at a postgresql:// location (loading libpq, connecting,
 * making the schema ready), transactions, durability, marks, event names, compression dictionaries,
 * deadlines, and the table of operations (levee/engine.h) that the rest of the engine's files fill. */
#include "pg.h"

#include "levee/engines.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Train a dictionary once the store holds this many documents, from up to TRAIN_SAMPLES of them (as the
 * SQLite engine does). */
#define TRAIN_AFTER 1000
#define TRAIN_SAMPLES 4000

/* ---- names ---- */

void pg_forget_names(pg_store *s)
{
    for (size_t i = 0; i < s->n_names; i++)
        free(s->names[i].name);
    s->n_names = 0;
}

lv_status pg_name_id(pg_store *s, const char *name, size_t len, int64_t *id, lv_error *err)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (strlen(s->names[i].name) == len && memcmp(s->names[i].name, name, len) == 0) {
            *id = s->names[i].id;
            return LV_OK;
        }
    pg_params p;
    pg_params_init(&p);
    pg_str(&p, (lv_str){ name, len });
    PGresult *r;
    /* another writer may have recorded it first (then the insert returns nothing and the name is read) */
    lv_status st = pg_run(s, PG_NAME_INSERT, NULL, &p, &r, "cannot record an event name", err);
    if (st == LV_OK && lv_pq.PQntuples(r) == 0) {
        lv_pq.PQclear(r);
        st = pg_run(s, PG_NAME_GET, NULL, &p, &r, "cannot record an event name", err);
    }
    pg_params_free(&p);
    if (st != LV_OK)
        return st;
    if (lv_pq.PQntuples(r) != 1) {
        lv_pq.PQclear(r);
        return lv_fail(err, LV_EIO, "cannot record the event name %.*s in %s", (int)len, name, s->base.location);
    }
    *id = pg_get_int(r, 0, 0);
    lv_pq.PQclear(r);
    lv_vec_reserve((void **)&s->names, &s->cap_names, s->n_names + 1, sizeof *s->names, 64);
    s->names[s->n_names].name = lv_xstrndup(name, len);
    s->names[s->n_names++].id = *id;
    return LV_OK;
}

/* ---- dictionaries ---- */

static lv_status load_dict(pg_store *s, int64_t id, const void *data, size_t len, lv_error *err)
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

static lv_status load_dicts(pg_store *s, int64_t only_id, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    if (only_id)
        pg_int(&p, only_id);
    PGresult *r;
    lv_status st = pg_run(s, -1, only_id ? "SELECT id, data FROM dicts WHERE id = $1" : "SELECT id, data FROM dicts ORDER BY id",
                          &p, &r, "cannot read compression dictionaries", err);
    pg_params_free(&p);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(r); i++) {
        if (!pg_get_bytes(r, i, 1, &s->bytes))
            st = lv_fail(err, LV_EDAMAGED, "a compression dictionary of %s cannot be read: the store is damaged",
                         s->base.location);
        else
            st = load_dict(s, pg_get_int(r, i, 0), s->bytes.data, s->bytes.len, err);
    }
    lv_pq.PQclear(r);
    return st;
}

const lv_dict *pg_dict(pg_store *s, int64_t id, lv_error *err)
{
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    if (load_dicts(s, id, err) != LV_OK)
        return NULL;
    for (size_t i = 0; i < s->n_dicts; i++)
        if (lv_dict_id(s->dicts[i]) == id)
            return s->dicts[i];
    lv_fail(err, LV_EDAMAGED, "compression dictionary %lld is missing from %s: the store is damaged", (long long)id,
            s->base.location);
    return NULL;
}

lv_status pg_document(pg_store *s, const PGresult *r, int row, int col, lv_buf *out, lv_error *err)
{
    size_t raw_len = (size_t)pg_get_int(r, row, col + 1);
    int64_t dict_id = pg_get_int(r, row, col + 2);
    const lv_dict *d = NULL;
    if (dict_id && !(d = pg_dict(s, dict_id, err))) /* first: loading a dictionary uses s->bytes */
        return err ? err->status : LV_EDAMAGED;
    if (!pg_get_bytes(r, row, col, &s->bytes))
        return lv_fail(err, LV_EDAMAGED, "a stored document in %s cannot be read back (not bytea): the store is damaged",
                       s->base.location);
    lv_error derr;
    if (lv_decompress(s->z, d, s->bytes.data, s->bytes.len, raw_len, out, &derr) != LV_OK)
        return lv_fail(err, LV_EDAMAGED, "a stored document in %s cannot be read back (%s): the store is damaged",
                       s->base.location, derr.msg);
    return LV_OK;
}

/* ---- transactions, durability, marks ---- */

static lv_status pg_begin(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->read_only)
        return lv_fail(err, LV_EINVAL, "%s is open read-only", base->location);
    PGresult *r;
    lv_status st = pg_run(s, -1, "BEGIN", NULL, &r, "cannot begin a transaction", err);
    lv_pq.PQclear(r);
    pg_forget_locks(s);
    if (st == LV_OK)
        s->in_txn = true;
    /* the rows this transaction stores are below no reader's horizon until it ends (subs.c) */
    pg_params p;
    pg_params_init(&p);
    pg_cstr(&p, s->relaxed ? "off" : "on");
    if (st == LV_OK && (st = pg_cmd(s, -1, PG_HORIZON_LOCK, &p, NULL, "cannot begin a transaction", err)) != LV_OK) {
        pg_exec(s, "ROLLBACK", "rollback", NULL);
        s->in_txn = false;
    }
    pg_params_free(&p);
    return st;
}

static lv_status pg_commit(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (!s->in_txn)
        return LV_OK;
    PGresult *r;
    lv_status st = pg_run(s, -1, "COMMIT", NULL, &r, "cannot commit to the store", err);
    /* a COMMIT of a failed transaction answers ROLLBACK: nothing was stored */
    if (st == LV_OK && strcmp(lv_pq.PQcmdStatus(r), "ROLLBACK") == 0)
        st = lv_fail(err, LV_EIO, "cannot commit to %s: PostgreSQL rolled the transaction back", base->location);
    lv_pq.PQclear(r);
    if (st == LV_OK) {
        s->in_txn = false;
        pg_forget_locks(s);
    }
    return st;
}

/* Undoes the open transaction, and forgets the names and partitions recorded in it. */
static void pg_rollback(lv_store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->conn && lv_pq.PQstatus(s->conn) == CONNECTION_OK && lv_pq.PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        pg_exec(s, "ROLLBACK", "rollback", NULL);
    pg_defer_drop(s);
    s->in_txn = false;
    pg_forget_locks(s);
    pg_forget_names(s);
    pg_forget_months(s);
}

/* Bulk and relaxed: a commit returns before its WAL is flushed (synchronous_commit off: a crash of the
 * server may lose the last commits, never leave the store inconsistent); sync flushes them. */
static void pg_set_bulk(lv_store *base, bool bulk)
{
    pg_store *s = (pg_store *)base;
    /* (through a pooler in transaction mode only for each transaction: pg_begin sets it) */
    if (!s->read_only && s->conn && !s->pooled)
        pg_exec(s, bulk ? "SET synchronous_commit = off" : "SET synchronous_commit = on", "set", NULL);
    s->relaxed = bulk;
}

static void pg_set_relaxed(lv_store *base, bool housekeeping)
{
    (void)housekeeping; /* PostgreSQL's housekeeping (checkpoints, vacuum) is the server's, never a commit's */
    pg_set_bulk(base, true);
}

/* Nothing to do: PostgreSQL's checkpoints are the server's own. */
static lv_status pg_housekeeping(lv_store *base, lv_error *err)
{
    (void)base;
    (void)err;
    return LV_OK;
}

/* Nothing to do: PostgreSQL has no lock on the whole store that a begin would wait for. */
static void pg_set_lock_wait(lv_store *base, bool wait)
{
    (void)base;
    (void)wait;
}

/* A commit with synchronous_commit on waits until the WAL up to it is flushed, which holds every commit
 * before it: a transaction that takes an id and commits makes all of them durable. */
static lv_status pg_sync(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->read_only)
        return LV_OK;
    return pg_exec(s, "BEGIN; SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id(); COMMIT",
                   "cannot make the store durable", err);
}

static lv_status pg_set_mark(lv_store *base, const char *name, uint64_t value, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_cstr(&p, name);
    pg_int(&p, (int64_t)value);
    lv_status st = pg_cmd(s, -1, "INSERT INTO marks (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE"
                                 " SET value = excluded.value", &p, NULL, "cannot record a mark", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_get_mark(lv_store *base, const char *name, uint64_t *value, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *value = 0;
    *found = false;
    pg_params p;
    pg_params_init(&p);
    pg_cstr(&p, name);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT value FROM marks WHERE name = $1", &p, &r, "cannot read a mark", err);
    pg_params_free(&p);
    if (st == LV_OK && lv_pq.PQntuples(r) == 1) {
        *found = true;
        *value = (uint64_t)pg_get_int(r, 0, 0);
    }
    lv_pq.PQclear(r);
    return st;
}

static const lv_dict *pg_current_dict(lv_store *base)
{
    return ((pg_store *)base)->current_dict;
}

static lv_status train_rows(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    void **c = ctx;
    lv_buf *samples = c[0];
    size_t *sizes = c[1];
    unsigned *n = c[2];
    lv_status st = pg_document(s, r, row, 0, &s->raw, err);
    if (st == LV_OK && *n < TRAIN_SAMPLES) {
        lv_buf_append(samples, s->raw.data, s->raw.len);
        sizes[(*n)++] = s->raw.len;
    }
    return st;
}

static lv_status pg_maybe_train(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->current_dict || s->read_only)
        return LV_OK;
    /* another writer may have trained one meanwhile */
    lv_status st = load_dicts(s, 0, err);
    if (st != LV_OK || s->current_dict)
        return st;
    PGresult *r;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, TRAIN_AFTER);
    st = pg_run(s, -1, "SELECT count(*) FROM (SELECT 1 FROM events WHERE doc IS NULL LIMIT $1) d", &p, &r,
                "cannot count documents", err);
    pg_params_free(&p);
    int64_t docs = st == LV_OK ? pg_get_int(r, 0, 0) : 0;
    lv_pq.PQclear(r);
    if (st != LV_OK || docs < TRAIN_AFTER)
        return st;
    lv_buf samples;
    lv_buf_init(&samples);
    size_t *sizes = lv_xmalloc(TRAIN_SAMPLES * sizeof *sizes);
    unsigned n = 0;
    void *ctx[3] = { &samples, sizes, &n };
    pg_params_init(&p);
    pg_int(&p, TRAIN_SAMPLES);
    st = pg_each(s, "SELECT raw, raw_len, dict FROM events WHERE doc IS NULL ORDER BY id DESC LIMIT $1", &p,
                 train_rows, ctx, "cannot read documents", err);
    pg_params_free(&p);
    lv_buf dict;
    lv_buf_init(&dict);
    if (st == LV_OK)
        st = lv_dict_train(samples.data, sizes, n, &dict, err);
    if (st == LV_OK) {
        pg_params_init(&p);
        pg_bytes(&p, dict.data, dict.len);
        pg_int(&p, lv_now_ms());
        st = pg_run(s, -1, "INSERT INTO dicts (data, created) VALUES ($1, $2) RETURNING id", &p, &r,
                    "cannot store a dictionary", err);
        pg_params_free(&p);
        if (st == LV_OK)
            st = load_dict(s, pg_get_int(r, 0, 0), dict.data, dict.len, err);
        lv_pq.PQclear(r);
    }
    lv_buf_free(&dict);
    lv_buf_free(&samples);
    free(sizes);
    return st;
}

/* ---- deadlines ---- */

static void pg_set_deadline(lv_store *base, int64_t deadline_us)
{
    pg_store *s = (pg_store *)base;
    s->deadline_us = deadline_us;
    atomic_store(&s->interrupted, false);
}

static void pg_interrupt(lv_store *base)
{
    pg_store *s = (pg_store *)base;
    atomic_store(&s->interrupted, true);
    if (s->cancel) {
        char buf[256];
        lv_pq.PQcancel(s->cancel, buf, sizeof buf);
    }
}

/* ---- opening and closing ---- */

static void pg_close(lv_store *base)
{
    pg_store *s = (pg_store *)base;
    if (s->conn && s->in_txn)
        pg_exec(s, "ROLLBACK", "rollback", NULL);
    if (s->cancel)
        lv_pq.PQfreeCancel(s->cancel);
    pg_ahead_drop(s);
    if (s->conn)
        lv_pq.PQfinish(s->conn);
    pg_forget_names(s);
    pg_defer_free(s);
    free(s->names);
    free(s->months);
    for (size_t i = 0; i < s->n_dicts; i++)
        lv_dict_free(s->dicts[i]);
    free(s->dicts);
    lv_zctx_free(s->z);
    lv_buf_free(&s->raw);
    lv_buf_free(&s->bytes);
    lv_buf_free(&s->row_text);
    free(s->locks);
    lv_buf_free(&s->entry_text);
    lv_buf_free(&s->hash);
    if (s->conninfo) {
        memset(s->conninfo, 0, strlen(s->conninfo)); /* it may hold a password */
        free(s->conninfo);
    }
    free(s->schema_setting);
    free(s->prefix);
    free(s->schema);
    lv_store_base_free(&s->base);
    free(s);
}

static lv_engine pg_engine = {
    .name = "postgresql",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .txn_full = pg_txn_full,
    .set_bulk = pg_set_bulk,
    .set_relaxed = pg_set_relaxed,
    .set_lock_wait = pg_set_lock_wait,
    .sync = pg_sync,
    .housekeeping = pg_housekeeping,
    .set_mark = pg_set_mark,
    .get_mark = pg_get_mark,
    .dict = pg_current_dict,
    .maybe_train = pg_maybe_train,
    .set_deadline = pg_set_deadline,
    .interrupt = pg_interrupt,
    .put_event = pg_put_event,
    .put_events = pg_put_events,
    .put_entries = pg_put_entries,
    .put_dead_letter = pg_put_dead_letter,
    .put_account = pg_put_account,
    .get_topic = pg_get_topic,
    .put_topic = pg_put_topic,
    .ensure_topic = pg_ensure_topic,
    .add_topic_version = pg_add_topic_version,
    .put_entry = pg_put_entry,
    .set_entry_grading = pg_set_entry_grading,
    .get_conversation = pg_get_conversation,
    .put_conversation = pg_put_conversation,
    .put_message = pg_put_message,
    .put_forward = pg_put_forward,
    .search_add = pg_search_add,
    .search_remove = pg_search_remove,
    .add_activity = pg_add_activity,
    .add_participant = pg_add_participant,
    .add_count = pg_add_count,
    .add_drift = pg_add_drift,
    .add_totals = pg_add_totals,
    .export_docs = pg_export,
    .shards = pg_shards,
    .stats = pg_stats,
    .event_counts = pg_event_counts,
    .drift = pg_drift,
    .topic = pg_topic,
    .topic_versions = pg_topic_versions,
    .event_document = pg_event_document,
    .topic_entries = pg_topic_entries,
    .conversation = pg_conversation,
    .conversation_timeline = pg_conversation_timeline,
    .course_ahead = pg_course_ahead,
    .course_known = pg_course_known,
    .course_topics = pg_course_topics,
    .course_roles = pg_course_roles,
    .course_activity = pg_course_activity,
    .course_entries = pg_course_entries,
    .entry_detail = pg_entry_detail,
    .entry_details = pg_entry_details,
    .courses = pg_courses,
    .user_list = pg_user_list,
    .user_events = pg_user_events,
    .search = pg_search,
    /* subscriptions (subs.c) and operations (ops.c) are filled in by fill_table */
};

static void fill_table(void)
{
    pg_fill_subs(&pg_engine);
    pg_fill_ops(&pg_engine);
    pg_fill_erase(&pg_engine);
    pg_fill_copy(&pg_engine);
}

lv_status lv_pg_open(const char *location, const lv_store_options *opt, lv_store **out, lv_error *err)
{
    static pthread_once_t filled = PTHREAD_ONCE_INIT;
    pthread_once(&filled, fill_table);
    char *shown = pg_redact(location);
    lv_error lerr;
    if (lv_pq_load(&lerr) != LV_OK) {
        lv_status st = lv_fail(err, lerr.status, "%s is a PostgreSQL location, but %s", shown, lerr.msg);
        free(shown);
        return st;
    }
    pg_store *s = lv_xcalloc(1, sizeof *s);
    lv_store_base_init(&s->base, &pg_engine, shown);
    free(shown);
    s->read_only = opt->read_only;
    s->z = lv_zctx_new();
    lv_buf_init(&s->raw);
    lv_buf_init(&s->bytes);
    lv_buf_init(&s->row_text);
    lv_status st = pg_location_settings(location, s->base.location, &s->conninfo, &s->schema_setting, &s->pool_mode,
                                        err);
    if (st == LV_OK)
        st = pg_connect(s, err); /* a store open read-only reads in read-only transactions (pg_connect) */
    if (st == LV_OK)
        st = pg_schema_ready(s, opt->read_only, opt->create, err);
    if (st == LV_OK && !opt->read_only) /* readers load a dictionary when a document needs it (pg_dict) */
        st = load_dicts(s, 0, err);
    if (st != LV_OK) {
        pg_close(&s->base);
        return st;
    }
    *out = &s->base;
    return LV_OK;
}
