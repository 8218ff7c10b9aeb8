/* erase.c: the PostgreSQL engine's operations for erasing (levee prune, levee forget), as the SQLite
 * engine's erase.c does them: which events are about what, deleting event rows (moving a shared
 * document's bytes to a row that stays), one thing's derived rows, figures that count nothing, dead
 * letters, the forgotten people, receipts, and giving space back (on PostgreSQL: a month partition of
 * events left empty by a prune is dropped, and VACUUM marks the rows deleted from the other tables as
 * reusable; after a bulk load, VACUUM (ANALYZE) tells the planner of the new rows). What to erase and what to replay afterwards is keep/erase.c's. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

/* The first n of up to three integer parameters. */
static void int_params(pg_params *p, int n, int64_t a, int64_t b, int64_t c)
{
    pg_params_init(p);
    const int64_t v[3] = { a, b, c };
    for (int i = 0; i < n && i < 3; i++)
        pg_int(p, v[i]);
}

/* A statement with up to three integer parameters (n of them), run to its end; *changed when not NULL. */
static lv_status run3(pg_store *s, const char *sql, int n, int64_t a, int64_t b, int64_t c, int64_t *changed,
                      const char *what, lv_error *err)
{
    pg_params p;
    int_params(&p, n, a, b, c);
    lv_status st = pg_cmd(s, -1, sql, &p, changed, what, err);
    pg_params_free(&p);
    return st;
}

/* A write that needs no answer, queued (pg_queue): it travels with the next statement that needs one. The
 * deferred rows (defer.c) go first, since it may change what they write, and the conversations the
 * transaction holds are forgotten. */
static lv_status queue2(pg_store *s, int stmt, int n, int64_t a, int64_t b, const char *what, lv_error *err)
{
    lv_status st = pg_defer_before(s, -1, err);
    if (st != LV_OK)
        return st;
    pg_params p;
    int_params(&p, n, a, b, 0);
    st = pg_queue(s, stmt, &p, what, err);
    pg_params_free(&p);
    return st;
}

typedef struct id_reader {
    lv_row_id_fn fn;
    void *ctx;
} id_reader;

static lv_status id_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    (void)s;
    id_reader *rd = ctx;
    int64_t v = pg_get_int(r, row, 0);
    return rd->fn(rd->ctx, &v, err);
}

/* The rows of a one-column integer query with n (0 to 2) integer parameters, to fn. */
static lv_status ids_of(pg_store *s, const char *sql, int n, int64_t a, int64_t b, lv_row_id_fn fn, void *ctx,
                        const char *what, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    if (n > 0)
        pg_int(&p, a);
    if (n > 1)
        pg_int(&p, b);
    id_reader rd = { fn, ctx };
    lv_status st = pg_each(s, sql, &p, id_row, &rd, what, err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_add_about(lv_store *base, lv_subject subject, uint64_t id, int64_t event, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)subject);
    pg_int(&p, (int64_t)id);
    pg_int(&p, event);
    lv_status st = pg_defer(s, PG_DEFER_ABOUT, &p, err); /* no answer needed: many to a statement */
    pg_params_free(&p);
    return st;
}

static lv_status pg_forget_add(lv_store *base, uint64_t user, int64_t at_ms, lv_error *err)
{
    return run3((pg_store *)base, "INSERT INTO forgotten (user_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2,
                (int64_t)user, at_ms, 0, NULL, "cannot record a person forgotten", err);
}

static lv_status pg_forgotten(lv_store *base, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK; /* a reader of an older levee's store: nobody was forgotten */
    return ids_of(s, "SELECT user_id FROM forgotten ORDER BY user_id", 0, 0, 0, fn, ctx,
                  "cannot read the people forgotten", err);
}

static lv_status pg_add_removed_entry(lv_store *base, uint64_t entry, uint64_t topic, lv_error *err)
{
    return queue2((pg_store *)base, PG_REMOVED_PUT, 2, (int64_t)entry, (int64_t)topic,
                  "cannot record an erased entry", err);
}

static lv_status pg_removed_entries(lv_store *base, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK;
    return ids_of(s, "SELECT id FROM removed_entries WHERE topic = $1 ORDER BY id", 1, (int64_t)topic, 0, fn, ctx,
                  "cannot read a topic's erased entries", err);
}

static lv_status pg_about_events(lv_store *base, lv_subject subject, uint64_t id, lv_row_id_fn fn, void *ctx,
                                 lv_error *err)
{
    return ids_of((pg_store *)base, "SELECT event FROM event_about WHERE subject = $1 AND id = $2 ORDER BY event", 2,
                  (int64_t)subject, (int64_t)id, fn, ctx, "cannot read what events are about", err);
}

static lv_status pg_topic_events(lv_store *base, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    return ids_of((pg_store *)base, "SELECT event FROM topic_versions WHERE topic = $1 ORDER BY event", 1,
                  (int64_t)topic, 0, fn, ctx, "cannot read a topic's versions", err);
}

/* One integer of a one-row query with n integer parameters: *found false when there is no row or it is NULL. */
static lv_status scalar(pg_store *s, const char *sql, int n, int64_t a, int64_t *out, bool *found, const char *what,
                        lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    if (n > 0)
        pg_int(&p, a);
    PGresult *r;
    lv_status st = pg_run(s, -1, sql, &p, &r, what, err);
    pg_params_free(&p);
    *found = st == LV_OK && lv_pq.PQntuples(r) > 0 && !pg_isnull(r, 0, 0);
    *out = *found ? pg_get_int(r, 0, 0) : 0;
    lv_pq.PQclear(r);
    return st;
}

static lv_status pg_get_entry(lv_store *base, uint64_t id, lv_entry_row *out, bool *found, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    out->id = id;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)id);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT topic, event, text FROM entries WHERE id = $1", &p, &r,
                          "cannot read an entry", err);
    pg_params_free(&p);
    *found = st == LV_OK && lv_pq.PQntuples(r) == 1;
    if (*found) {
        out->topic = (uint64_t)pg_get_int(r, 0, 0);
        out->event = pg_get_int(r, 0, 1);
        lv_buf_reset(&s->entry_text);
        if (!pg_isnull(r, 0, 2)) {
            lv_str t = pg_get_str(r, 0, 2);
            lv_buf_append(&s->entry_text, t.p, t.n);
            lv_buf_putc(&s->entry_text, '\0');
            out->text = (lv_str){ s->entry_text.data, t.n };
        }
    }
    lv_pq.PQclear(r);
    return st;
}

static lv_status pg_topic_first_entry_event(lv_store *base, uint64_t topic, int64_t *event, bool *found,
                                            lv_error *err)
{
    return scalar((pg_store *)base, "SELECT min(event) FROM entries WHERE topic = $1", 1, (int64_t)topic, event,
                  found, "cannot read a topic's entries", err);
}

static lv_status pg_events_before(lv_store *base, int64_t before_ms, unsigned limit, lv_event_ref_fn fn, void *ctx,
                                  lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (before_ms > s->pruned_before)
        s->pruned_before = before_ms;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, before_ms);
    pg_int(&p, limit);
    pg_ref_ctx c = { fn, ctx, false };
    /* the partitions of the oldest months first, by the (time, hash) key */
    lv_status st = pg_each(s, PG_REF_SQL(s, "SELECT ", " FROM events e JOIN names ON names.id = e.name"
                                            " WHERE e.time < $1 ORDER BY e.time, e.id LIMIT $2"),
                           &p, pg_ref_row, &c, "cannot read the events to erase", err);
    pg_params_free(&p);
    return st;
}


/* The ids as one text parameter ("1,2,3"), which the statements turn into an array. */
static void id_list(pg_params *p, lv_buf *text, const int64_t *ids, size_t n)
{
    lv_buf_reset(text);
    for (size_t i = 0; i < n; i++)
        lv_buf_printf(text, i ? ",%lld" : "%lld", (long long)ids[i]);
    lv_buf_putc(text, '\0');
    pg_cstr(p, text->data);
}

#define ERASED "ANY (string_to_array($1::text, ',')::bigint[])"

typedef struct holder_ctx {
    const int64_t *ids;
    size_t n;
    int64_t *documents, *doc_bytes;
} holder_ctx;

static bool going(const holder_ctx *h, int64_t id)
{
    size_t lo = 0, hi = h->n; /* ids are ascending */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->ids[mid] == id)
            return true;
        if (h->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* A document kept by a row that goes: the first of its rows that stays takes the bytes and the others point
 * to it; without one, the document goes. */
static lv_status move_document(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    holder_ctx *h = ctx;
    int64_t holder = pg_get_int(r, row, 0), raw_len = pg_get_int(r, row, 1);
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, holder);
    PGresult *rows;
    lv_status st = pg_run(s, -1, "SELECT id FROM events WHERE doc = $1 ORDER BY id", &p, &rows,
                          "cannot read the documents to erase", err);
    pg_params_free(&p);
    if (st != LV_OK)
        return st;
    int64_t heir = 0;
    for (int i = 0; i < lv_pq.PQntuples(rows) && !heir; i++)
        if (!going(h, pg_get_int(rows, i, 0)))
            heir = pg_get_int(rows, i, 0);
    lv_pq.PQclear(rows);
    if (!heir) {
        (*h->documents)++;
        *h->doc_bytes += raw_len;
        return LV_OK;
    }
    if ((st = run3(s, "UPDATE events SET raw = d.raw, raw_len = d.raw_len, dict = d.dict, doc = NULL"
                      " FROM (SELECT raw, raw_len, dict FROM events WHERE id = $1) d WHERE events.id = $2", 2, holder,
                   heir, 0, NULL, "cannot move a document's bytes", err)) != LV_OK)
        return st;
    return run3(s, "UPDATE events SET doc = $2 WHERE doc = $1 AND id <> $2", 2, holder, heir, 0, NULL,
                "cannot move a document's bytes", err);
}

static lv_status pg_erase_events(lv_store *base, const int64_t *ids, size_t n, int64_t *documents, int64_t *doc_bytes,
                                 lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *documents = *doc_bytes = 0;
    if (!s->in_txn)
        return lv_fail(err, LV_EINVAL, "erasing events of %s outside a transaction", base->location);
    if (n == 0)
        return LV_OK;
    lv_buf text;
    lv_buf_init(&text);
    pg_params p;
    pg_params_init(&p);
    id_list(&p, &text, ids, n);
    holder_ctx h = { ids, n, documents, doc_bytes };
    lv_status st = pg_each(s, "SELECT id, raw_len FROM events WHERE id = " ERASED " AND doc IS NULL ORDER BY id", &p,
                           move_document, &h, "cannot read the documents to erase", err);
    static const char *const deletes[] = {
        "DELETE FROM events WHERE id = " ERASED, "DELETE FROM sub_pending WHERE event = " ERASED,
        "DELETE FROM sub_dead WHERE event = " ERASED, "DELETE FROM sub_attempts WHERE event = " ERASED,
    };
    for (size_t i = 0; st == LV_OK && i < sizeof deletes / sizeof *deletes; i++)
        st = pg_cmd(s, -1, deletes[i], &p, NULL, "cannot erase events", err);
    pg_params_free(&p);
    lv_buf_free(&text);
    return st;
}

static lv_status pg_drop_topic(lv_store *base, uint64_t id, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    lv_status st = queue2(s, PG_TOPIC_DROP, 1, (int64_t)id, 0, "cannot erase a topic", err);
    if (st == LV_OK)
        st = queue2(s, PG_VERSIONS_DROP, 1, (int64_t)id, 0, "cannot erase a topic", err);
    return st;
}

static lv_status pg_drop_entry(lv_store *base, uint64_t id, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    lv_status st = queue2(s, PG_ENTRY_DROP, 1, (int64_t)id, 0, "cannot erase an entry", err);
    if (st == LV_OK)
        st = queue2(s, PG_ABOUT_DROP, 2, LV_SUBJECT_ENTRY, (int64_t)id, "cannot erase an entry", err);
    return st;
}

static lv_status pg_drop_conversation(lv_store *base, uint64_t id, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    static const int stmts[] = { PG_CONVERSATION_DROP, PG_MESSAGES_DROP, PG_FORWARDS_DROP };
    lv_status st = LV_OK;
    for (size_t i = 0; st == LV_OK && i < sizeof stmts / sizeof *stmts; i++)
        st = queue2(s, stmts[i], 1, (int64_t)id, 0, "cannot erase a conversation", err);
    if (st == LV_OK)
        st = queue2(s, PG_ABOUT_DROP, 2, LV_SUBJECT_CONVERSATION, (int64_t)id, "cannot erase a conversation", err);
    return st;
}

static lv_status pg_search_holds(lv_store *base, int64_t key, bool *held, lv_error *err)
{
    int64_t v;
    return scalar((pg_store *)base, "SELECT key FROM search_docs WHERE key = $1", 1, key, &v, held,
                  "cannot read the search index", err);
}

/* The span from the ends of the events' (time, hash) index, as on SQLite: counting every event to know
 * whether there is one was a scan of the whole table in every transaction of an erasure. */
static lv_status pg_settle_figures(lv_store *base, lv_error *err)
{
    return pg_exec((pg_store *)base, "DELETE FROM activity WHERE n <= 0; DELETE FROM participants WHERE n <= 0;"
                   " DELETE FROM counts WHERE n <= 0; DELETE FROM drift WHERE n <= 0;"
                   " DELETE FROM totals WHERE key IN ('first_time', 'last_time') OR (key = 'raw_bytes' AND value = 0);"
                   " INSERT INTO totals (key, value) SELECT 'first_time', time FROM events ORDER BY time LIMIT 1;"
                   " INSERT INTO totals (key, value) SELECT 'last_time', time FROM events ORDER BY time DESC LIMIT 1",
                   "cannot settle the store's figures", err);
}

static lv_status pg_erase_dead_before(lv_store *base, int64_t before_ms, unsigned limit, int64_t *erased,
                                      lv_error *err)
{
    *erased = 0;
    return run3((pg_store *)base, "DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE received < $1"
                " ORDER BY id LIMIT $2)", 2, before_ms, limit, 0, erased, "cannot erase dead letters", err);
}

static lv_status pg_erase_dead_letter(lv_store *base, int64_t id, lv_error *err)
{
    return run3((pg_store *)base, "DELETE FROM dead_letters WHERE id = $1", 1, id, 0, 0, NULL,
                "cannot erase a dead letter", err);
}

static lv_status pg_receipt_add(lv_store *base, const lv_receipt_row *r, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, r->at_ms);
    pg_str(&p, r->action.p ? r->action : (lv_str){ "", 0 });
    pg_int(&p, r->events);
    pg_int(&p, r->documents);
    pg_int(&p, r->dead_letters);
    pg_opt(&p, r->limit_ms);
    pg_int(&p, r->took_ms);
    lv_status st = pg_cmd(s, -1, "INSERT INTO receipts (at, action, events, documents, dead_letters, limit_ms, took_ms)"
                                 " VALUES ($1, $2, $3, $4, $5, $6, $7)", &p, NULL,
                          "cannot keep the receipt of an erasure", err);
    pg_params_free(&p);
    return st;
}

typedef struct receipt_reader {
    lv_receipt_fn fn;
    void *ctx;
} receipt_reader;

static lv_status receipt_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    (void)s;
    receipt_reader *rd = ctx;
    lv_receipt_row out = {
        .id = pg_get_int(r, row, 0), .at_ms = pg_get_int(r, row, 1), .action = pg_get_str(r, row, 2),
        .events = pg_get_int(r, row, 3), .documents = pg_get_int(r, row, 4), .dead_letters = pg_get_int(r, row, 5),
        .limit_ms = pg_get_opt(r, row, 6), .took_ms = pg_get_int(r, row, 7),
    };
    if (!out.action.p)
        out.action = (lv_str){ "", 0 };
    return rd->fn(rd->ctx, &out, err);
}

static lv_status pg_receipts(lv_store *base, lv_receipt_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK;
    receipt_reader rd = { fn, ctx };
    return pg_each(s, "SELECT id, at, action, events, documents, dead_letters, limit_ms, took_ms FROM receipts"
                      " ORDER BY id", NULL, receipt_row, &rd, "cannot read the receipts", err);
}

/* PostgreSQL has no secure_delete: a deleted row's bytes stay in its page until VACUUM reuses the space
 * (reclaim runs it), and in the write-ahead log until the server recycles it (docs/operations.md). */
static lv_status pg_set_scrub(lv_store *base, bool on, lv_error *err)
{
    (void)base;
    (void)on;
    (void)err;
    return LV_OK;
}

/* The bytes of levee's tables (with their indexes and TOAST), in pages of 8 KB. */
#define PAGE 8192
static lv_status table_pages(pg_store *s, int64_t *pages, lv_error *err)
{
    bool found;
    int64_t bytes = 0;
    lv_status st = scalar(s, "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                             " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                             " AND c.relkind = 'r'", 0, 0, &bytes, &found, "cannot read the store's size", err);
    *pages = bytes / PAGE;
    return st;
}

/* Drops the month partitions of events that a prune left empty and that end before its limit: their files
 * go back to the file system at once. The partition is locked first, so a writer storing into it meanwhile
 * is waited for (and then it is not empty). A writer that had the month in its list makes it again when an
 * event of it comes (its transaction fails once and is retried: the list is forgotten on rollback). */
static lv_status drop_empty_months(pg_store *s, lv_error *err)
{
    if (s->pruned_before == 0)
        return LV_OK;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, s->pruned_before);
    PGresult *r;
    lv_status st = pg_run(s, -1, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                 " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.inhparent = 'events'::regclass"
                                 " AND n.nspname = current_schema() AND (regexp_match(pg_get_expr(c.relpartbound,"
                                 " c.oid), 'TO \\(''?(-?[0-9]+)'))[1]::bigint <= $1 ORDER BY 1", &p, &r,
                          "cannot list the partitions of events", err);
    pg_params_free(&p);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(r); i++) {
        const char *name = lv_pq.PQgetvalue(r, i, 0);
        char sql[512];
        snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(hashtext('levee partitions ' ||"
                 " current_schema())); LOCK TABLE \"%s\" IN ACCESS EXCLUSIVE MODE;"
                 " DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM \"%s\") THEN"
                 " EXECUTE 'ALTER TABLE events DETACH PARTITION \"%s\"'; EXECUTE 'DROP TABLE \"%s\"'; END IF; END $$;"
                 " COMMIT", name, name, name, name);
        if ((st = pg_exec(s, sql, "cannot drop an empty partition of events", err)) != LV_OK)
            pg_exec(s, "ROLLBACK", "rollback", NULL);
    }
    lv_pq.PQclear(r);
    pg_forget_months(s);
    return st;
}

/* VACUUM (command: "VACUUM " or with its options) of levee's tables named, with their schema: VACUUM runs
 * in no transaction, so through a pooler in transaction mode it has no search_path of levee's (conn.c). */
static lv_status vacuum(pg_store *s, const char *command, const char *const *tables, size_t n, const char *what,
                        lv_error *err)
{
    lv_buf sql;
    lv_buf_init(&sql);
    lv_buf_puts(&sql, command);
    for (size_t i = 0; i < n; i++) {
        if (i)
            lv_buf_puts(&sql, ", ");
        pg_quote_ident(&sql, s->schema ? s->schema : "public");
        lv_buf_putc(&sql, '.');
        lv_buf_puts(&sql, tables[i]);
    }
    lv_buf_putc(&sql, '\0');
    lv_status st = pg_exec(s, sql.data, what, err);
    lv_buf_free(&sql);
    return st;
}

/* After a bulk load: the tables a load fills, vacuumed and analyzed now rather than when autovacuum comes
 * by (a minute or more later). Until then the planner knows nothing of the new rows (the entries of a
 * topic taken for a few, a course's counts read from the heap) and no page of them is all visible, so no
 * scan is index-only: the command-line course summary of the benchmark's store took 52 ms before and
 * 22 ms after (docs/benchmarks.md). VACUUM reads only the pages not yet all visible and ANALYZE a sample
 * of each table, so what it costs follows the load, not the store. */
static lv_status pg_analyze(lv_store *base, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->in_txn)
        return lv_fail(err, LV_EINVAL, "analyzing %s inside a transaction", base->location);
    static const char *const tables[] = { "events", "dead_letters", "search_docs", "event_about", "entries",
                                          "topics", "topic_versions", "conversations", "messages", "forwards",
                                          "participants", "activity", "accounts", "names" };
    return vacuum(s, "VACUUM (ANALYZE) ", tables, sizeof tables / sizeof *tables,
                  "cannot bring PostgreSQL's statistics of the store's tables up to date", err);
}

static lv_status pg_reclaim(lv_store *base, int64_t max_pages, lv_space *out, lv_error *err)
{
    (void)max_pages;
    pg_store *s = (pg_store *)base;
    memset(out, 0, sizeof *out);
    out->page_size = PAGE;
    out->incremental = true; /* nothing needs rewriting first */
    if (s->in_txn)
        return lv_fail(err, LV_EINVAL, "giving space back from %s inside a transaction", base->location);
    int64_t before = 0;
    lv_status st = table_pages(s, &before, err);
    if (st == LV_OK)
        st = drop_empty_months(s, err);
    /* the rows erased from the other tables: their space is reused by new rows (and their bytes overwritten
     * in time); VACUUM does it now instead of when autovacuum comes by */
    if (st == LV_OK) {
        static const char *const tables[] = { "events", "dead_letters", "search_docs", "event_about", "entries",
                                              "topics", "topic_versions", "conversations", "messages", "forwards" };
        st = vacuum(s, "VACUUM ", tables, sizeof tables / sizeof *tables, "cannot vacuum the store", err);
    }
    if (st == LV_OK)
        st = table_pages(s, &out->pages, err);
    out->reclaimed = before > out->pages ? before - out->pages : 0;
    return st;
}

/* On PostgreSQL: VACUUM FULL rewrites levee's tables without their free space (it locks each table while it
 * rewrites it: no other connection may use the store meanwhile). */
static lv_status pg_compact(lv_store *base, lv_error *err)
{
    return pg_exec((pg_store *)base, "VACUUM FULL", "cannot rewrite the store's tables", err);
}

/* On PostgreSQL: a CHECKPOINT, when the role may run one (a superuser, or pg_checkpoint): the pages of the
 * erased rows are written to the tables' files and the server may recycle the log that held them. */
static lv_status pg_checkpoint(lv_store *base, bool *complete, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    *complete = false;
    bool found;
    int64_t may = 0;
    lv_status st = scalar(s, "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)::int"
                             " | coalesce((SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles"
                             " WHERE rolname = 'pg_checkpoint'), false)::int", 0, 0, &may, &found,
                          "cannot checkpoint the store", err);
    if (st == LV_OK && may && (st = pg_exec(s, "CHECKPOINT", "cannot checkpoint the store", err)) == LV_OK)
        *complete = true;
    return st;
}

void pg_fill_erase(lv_engine *e)
{
    e->add_about = pg_add_about;
    e->about_events = pg_about_events;
    e->topic_events = pg_topic_events;
    e->get_entry = pg_get_entry;
    e->topic_first_entry_event = pg_topic_first_entry_event;
    e->events_before = pg_events_before;
    e->erase_events = pg_erase_events;
    e->drop_topic = pg_drop_topic;
    e->drop_entry = pg_drop_entry;
    e->drop_conversation = pg_drop_conversation;
    e->search_holds = pg_search_holds;
    e->settle_figures = pg_settle_figures;
    e->erase_dead_before = pg_erase_dead_before;
    e->erase_dead_letter = pg_erase_dead_letter;
    e->forget_add = pg_forget_add;
    e->forgotten = pg_forgotten;
    e->add_removed_entry = pg_add_removed_entry;
    e->removed_entries = pg_removed_entries;
    e->receipt_add = pg_receipt_add;
    e->receipts = pg_receipts;
    e->set_scrub = pg_set_scrub;
    e->reclaim = pg_reclaim;
    e->compact = pg_compact;
    e->analyze = pg_analyze;
    e->checkpoint = pg_checkpoint;
}
