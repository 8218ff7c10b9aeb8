/* test_store.c: the store's interface (levee/store.h, opened through levee/engines.h) on temporary
 * SQLite stores: opening (created when absent, the engine's name and the location; no location, a
 * PostgreSQL URL; a missing store read-only or without create is LV_ENOTFOUND naming the path; an
 * SQLite file that is not a levee store, a file that is not SQLite at all, large or tiny, each left
 * untouched; a store written by a newer schema is LV_EUNSUPPORTED); transactions (writing outside
 * one, beginning twice, a read-only store); marks (never set reads 0, set inside a transaction
 * commits with it or is rolled back with it, set outside one is refused, kept when the store is
 * reopened); export (every document's exact bytes in arrival order, once per document even when it
 * holds several events, filtered by event, time window and course, dead letters, a callback that
 * stops it); dictionaries (trained after an ingest, documents before and after come back byte for
 * byte, also through a one-shot reader); lv_store_resolve_id (no shard, one shard, several shards
 * listing the candidates); deadlines (a deadline in the past makes reads over enough rows fail
 * with LV_ETIMEOUT; removing it makes them work again); the lock wait (without it, beginning while
 * another connection writes is LV_EBUSY at once, and works once that one has committed);
 * housekeeping from a second connection (what a writer in bulk mode left in the write-ahead log
 * reaches the database file while that writer keeps its connection and goes on writing); and an
 * engine lacking operations (each fails with LV_EUNSUPPORTED naming the engine and the operation). */
#include "testing.h"
#include "../../src/engines/pg/pg.h" /* pg_location_settings */

#include "levee/engine.h"
#include "levee/engines.h"
#include "levee/query.h"
#include "levee/timestamp.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define HOUR 3600000LL

static lv_store *open_store(const char *path, const lv_store_options *opt)
{
    lv_store *s = NULL;
    lv_error err;
    check(lv_store_open(path, opt, &s, &err), &err);
    return s;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The message err holds, with %s replaced by path (every %s). */
static void assert_message(const lv_error *err, const char *fmt, const char *path)
{
    char want[LV_ERROR_MAX];
    snprintf(want, sizeof want, fmt, path, path);
    assert_string_equal(err->msg, want);
}

/* ---- documents ---- */

static const char *iso(int64_t ms)
{
    static char text[8][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 8];
    lv_time_format(ms, t);
    return t;
}

/* An entry event in a course (a root account when root is not NULL). */
static void entry_text(lv_buf *b, int entry, int course, int64_t ms, const char *root)
{
    lv_buf_printf(b, "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"%s\","
                     "\"user_id\":\"2\",\"context_type\":\"Course\",\"context_id\":\"%d\"", iso(ms), course);
    if (root)
        lv_buf_printf(b, ",\"root_account_id\":\"%s\"", root);
    lv_buf_printf(b, "},\"body\":{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\",\"discussion_topic_id\":\"10\","
                     "\"text\":\"<p>Entry %d about leaves.</p>\",\"user_id\":\"2\"}}", iso(ms), entry, entry);
}

/* Writes the texts in one transaction (one batch); returns the counts. */
static lv_counts write_texts(lv_store *s, const char *const *texts, size_t n)
{
    lv_batch *b = lv_batch_new();
    for (size_t i = 0; i < n; i++)
        lv_batch_add(b, texts[i], strlen(texts[i]), "test", (long)i + 1, NULL);
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    check(lv_batch_prepare(b, z, lv_store_dict(s), &err), &err);
    lv_zctx_free(z);
    lv_counts c = { 0 };
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_commit(s, &err), &err);
    lv_batch_free(b);
    return c;
}

static lv_counts write_text(lv_store *s, const char *text)
{
    return write_texts(s, &text, 1);
}

/* ---- export ---- */

typedef struct exported {
    lv_buf all;     /* every document, each followed by "\n" */
    size_t n;
    size_t stop_after; /* the callback fails after this many documents (0: never) */
} exported;

static lv_status collect(void *ctx, const char *raw, size_t len, lv_error *err)
{
    exported *x = ctx;
    lv_buf_append(&x->all, raw, len);
    lv_buf_putc(&x->all, '\n');
    x->n++;
    if (x->stop_after && x->n >= x->stop_after)
        return lv_fail(err, LV_EIO, "the reader stopped");
    return LV_OK;
}

/* Exports with f into x (freed by the caller with lv_buf_free(&x->all)). */
static lv_status export_into(lv_store *s, const lv_export_filter *f, exported *x, lv_error *err)
{
    memset(x, 0, sizeof *x);
    lv_buf_init(&x->all);
    return lv_store_export(s, f, collect, x, err);
}

/* The documents f selects, each followed by "\n", must be want. */
static void assert_export(lv_store *s, const lv_export_filter *f, const char *want, size_t n)
{
    exported x;
    lv_error err;
    check(export_into(s, f, &x, &err), &err);
    assert_int_equal(x.n, n);
    assert_string_equal(x.all.data ? x.all.data : "", want);
    lv_buf_free(&x.all);
}

/* ---- opening ---- */

static void test_open_create(void **state)
{
    (void)state;
    const char *path = path_in("new.db");
    assert_false(exists(path));
    lv_store *s = open_store(path, &(lv_store_options){ .create = true });
    assert_true(exists(path));
    assert_string_equal(lv_store_engine(s), "sqlite");
    assert_string_equal(lv_store_location(s), path);
    assert_null(lv_store_dict(s));
    lv_store_close(s);
    /* NULL options: create when absent, read and write */
    s = open_store(path_in("default.db"), NULL);
    assert_true(exists(path_in("default.db")));
    lv_store_close(s);

    /* read-only: it reads, and refuses to write */
    s = open_store(path, &(lv_store_options){ .read_only = true, .one_shot = true });
    lv_error err;
    assert_int_equal(lv_store_begin(s, &err), LV_EINVAL);
    assert_message(&err, "%s is open read-only", path);
    assert_export(s, NULL, "", 0);
    lv_store_close(s);
    lv_store_close(NULL);

    lv_store *none = NULL;
    assert_int_equal(lv_store_open("", NULL, &none, &err), LV_EINVAL);
    assert_string_equal(err.msg, "no store given: pass --db PATH or set LEVEE_DB");
    assert_int_equal(lv_store_open(NULL, NULL, &none, &err), LV_EINVAL);
    /* a PostgreSQL location goes to that engine: nothing listens on port 1, and the password is not said */
    assert_int_equal(lv_store_open("postgres://levee:s3cret@127.0.0.1:1/levee?connect_timeout=2", NULL, &none, &err),
                     LV_EIO);
    assert_non_null(strstr(err.msg, "cannot connect to PostgreSQL at postgres://levee@127.0.0.1:1/levee?connect_timeout=2"));
    assert_null(strstr(err.msg, "s3cret"));
    assert_null(none);
}

/* Which locations are PostgreSQL's, and how they are shown: without a password. */
static void test_locations(void **state)
{
    (void)state;
    static const struct { const char *location; bool pg; const char *shown; } cases[] = {
        { "levee.db", false, "levee.db" },
        { "/var/lib/levee/levee.db", false, "/var/lib/levee/levee.db" },
        { "./hostname.db", false, "./hostname.db" },
        { "postgresql://db/levee", true, "postgresql://db/levee" },
        { "postgres://u:pw@db:5432/levee", true, "postgres://u@db:5432/levee" },
        { "postgresql://u:p@ss@db/levee?password=x&sslmode=require", true, "postgresql://u@db/levee?sslmode=require" },
        { "postgresql://u@db/levee?sslmode=require&password=x", true, "postgresql://u@db/levee?sslmode=require" },
        { "host=db dbname=levee", true, "host=db dbname=levee" },
        { " dbname = levee password = 'a \\' b' user=u", true, "dbname=levee user=u" },
        { "password=x", true, "" },
        /* unquoted, a backslash takes the next character, a space too: all of it is the password */
        { "password=top\\ secret host=db", true, "host=db" },
        { "host=db password = top\\ secret\\  port=5432", true, "host=db port=5432" },
        { "user=u password='it\\'s a secret' dbname=levee", true, "user=u dbname=levee" },
        { "host=db\\ x password=p", true, "host=db\\ x" },
        { "nothost=db", false, "nothost=db" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(lv_store_is_postgresql(cases[i].location), cases[i].pg);
        char *shown = lv_store_location_redacted(cases[i].location);
        assert_string_equal(shown, cases[i].shown);
        free(shown);
    }
}

/* levee's own settings in a location: taken out of it before libpq reads the rest. */
static void test_location_settings(void **state)
{
    (void)state;
    static const struct {
        const char *location;
        const char *conninfo, *schema;
        enum pg_pool_mode mode;
    } cases[] = {
        { "postgresql://db/levee", "postgresql://db/levee", NULL, PG_POOL_AUTO },
        { "postgresql://db/levee?levee_schema=term", "postgresql://db/levee", "term", PG_POOL_AUTO },
        { "postgresql://u@db:6432/levee?sslmode=require&levee_schema=Term%202024&levee_pool_mode=transaction"
          "&connect_timeout=3", "postgresql://u@db:6432/levee?sslmode=require&connect_timeout=3", "Term 2024",
          PG_POOL_TRANSACTION },
        { "postgresql://db/levee?levee_pool_mode=session&sslmode=disable", "postgresql://db/levee?sslmode=disable",
          NULL, PG_POOL_SESSION },
        { "postgresql://db/levee?levee_schema=a%2", "postgresql://db/levee", "a%2", PG_POOL_AUTO },
        { "host=db levee_schema='Term 2024' dbname=levee password='a \\' b'",
          "host=db dbname=levee password='a \\' b'", "Term 2024", PG_POOL_AUTO },
        { "levee_pool_mode = transaction host=db", "host=db", NULL, PG_POOL_TRANSACTION },
        { "host=db levee_schema=it\\'s", "host=db", "it's", PG_POOL_AUTO },
        { "password=top\\ secret levee_schema=a\\ b host=db", "password=top\\ secret host=db", "a b", PG_POOL_AUTO },
    };
    lv_error err;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *conninfo, *schema;
        enum pg_pool_mode mode;
        assert_int_equal(pg_location_settings(cases[i].location, "LOC", &conninfo, &schema, &mode, &err), LV_OK);
        assert_string_equal(conninfo, cases[i].conninfo);
        if (cases[i].schema)
            assert_string_equal(schema, cases[i].schema);
        else
            assert_null(schema);
        assert_int_equal(mode, cases[i].mode);
        free(conninfo);
        free(schema);
    }
    static const struct { const char *location, *message; } bad[] = {
        { "postgresql://db/levee?levee_pool_mode=statement",
          "levee_pool_mode in the location LOC is \"statement\"; it is one of auto (the default), session or "
          "transaction" },
        { "host=db levee_schema=''", "levee_schema in the location LOC is empty; give it the name of the schema "
          "levee's tables go into" },
        { "postgresql://db/levee?levee_scheme=x", "the location LOC has the setting levee_scheme, which levee does "
          "not know; levee's settings in a location are levee_schema and levee_pool_mode" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *conninfo, *schema;
        enum pg_pool_mode mode;
        assert_int_equal(pg_location_settings(bad[i].location, "LOC", &conninfo, &schema, &mode, &err), LV_EINVAL);
        assert_string_equal(err.msg, bad[i].message);
        assert_null(conninfo);
        assert_null(schema);
    }
    /* a location starting with one of levee's keywords is PostgreSQL's too */
    assert_true(lv_store_is_postgresql("levee_schema=x host=db"));
}

static void test_open_missing(void **state)
{
    (void)state;
    const char *path = path_in("missing.db");
    lv_store *s = NULL;
    lv_error err;
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true }, &s, &err), LV_ENOTFOUND);
    assert_message(&err, "there is no store at %s; ingest events into it first (levee ingest --db %s FILE)", path);
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .create = false }, &s, &err), LV_ENOTFOUND);
    assert_non_null(strstr(err.msg, path));
    /* read-only wins over create */
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true, .create = true }, &s, &err),
                     LV_ENOTFOUND);
    assert_null(s);
    assert_false(exists(path));
}

static void sql(const char *path, const char *statements)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, statements, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", statements, msg);
    sqlite3_close(db);
}

static int user_version(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void test_open_not_a_levee_store(void **state)
{
    (void)state;
    const char *path = path_in("other.sqlite");
    sql(path, "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('bread')");
    lv_store *s = NULL;
    lv_error err;
    assert_int_equal(lv_store_open(path, NULL, &s, &err), LV_EINVAL);
    assert_message(&err, "%s is an SQLite database but not a levee store; give another path", path);
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true }, &s, &err), LV_EINVAL);
    assert_message(&err, "%s is an SQLite database but not a levee store; give another path", path);
    assert_null(s);
    /* left as it was */
    assert_int_equal(user_version(path), 0);
    sql(path, "SELECT name FROM recipes");
}

/* An empty file read while another levee creates the store in it (or made by hand): no store yet, which
 * a reader can wait out, not "not a levee store". */
static void test_open_empty_file_for_reading(void **state)
{
    (void)state;
    const char *path = path_in("empty.db");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    lv_store *s = NULL;
    lv_error err;
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true }, &s, &err), LV_ENOTFOUND);
    assert_message(&err, "there is no store at %s yet (the file is empty); ingest events into it first "
                   "(levee ingest --db %s FILE)", path);
    assert_null(s);
    /* a writer makes it a store */
    assert_int_equal(lv_store_open(path, NULL, &s, &err), LV_OK);
    lv_store_close(s);
}

static void test_open_not_sqlite(void **state)
{
    (void)state;
    const char *path = path_in("notes.txt");
    char text[4096];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + i % 26);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, sizeof text, f), sizeof text);
    fclose(f);
    lv_store *s = NULL;
    lv_error err;
    assert_int_equal(lv_store_open(path, NULL, &s, &err), LV_EINVAL);
    assert_message(&err, "%s is not a levee store (file is not a database)", path);
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true, .one_shot = true }, &s, &err),
                     LV_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_null(s);
    /* not a byte changed */
    size_t len = 0;
    char *back = read_file(path, &len);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(back, text, sizeof text);
    free(back);

    /* shorter than SQLite's header, too */
    const char *tiny = path_in("tiny.txt");
    f = fopen(tiny, "wb");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    assert_int_equal(lv_store_open(tiny, NULL, &s, &err), LV_EINVAL);
    assert_message(&err, "%s is not a levee store (file is not a database)", tiny);
    back = read_file(tiny, &len);
    assert_string_equal(back, "hello\n");
    free(back);
}

static void test_open_newer_schema(void **state)
{
    (void)state;
    const char *path = path_in("future.db");
    lv_store_close(open_store(path, NULL));
    assert_int_equal(user_version(path), 8);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    lv_store *s = NULL;
    lv_error err;
    static const char want[] = "%s was written by a newer levee (schema 99; this one reads 8); upgrade levee";
    assert_int_equal(lv_store_open(path, NULL, &s, &err), LV_EUNSUPPORTED);
    assert_message(&err, want, path);
    assert_int_equal(lv_store_open(path, &(lv_store_options){ .read_only = true }, &s, &err), LV_EUNSUPPORTED);
    assert_message(&err, want, path);
    assert_null(s);
    assert_int_equal(user_version(path), 99);
}

/* ---- transactions and marks ---- */

static void test_transactions(void **state)
{
    (void)state;
    const char *path = path_in("txn.db");
    lv_store *s = open_store(path, NULL);
    lv_buf doc;
    lv_buf_init(&doc);
    entry_text(&doc, 1, 5, T0, NULL);
    lv_batch *b = lv_batch_new();
    lv_batch_add(b, doc.data, doc.len, "test", 1, NULL);
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    check(lv_batch_prepare(b, z, NULL, &err), &err);
    lv_counts c = { 0 };

    /* outside a transaction: refused, nothing written */
    assert_int_equal(lv_store_write(s, b, &c, &err), LV_EINVAL);
    assert_message(&err, "writing to %s outside a transaction", path);
    assert_int_equal(c.stored, 0);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_PENDING);
    assert_export(s, NULL, "", 0);

    /* begin twice: refused, and the first transaction goes on */
    check(lv_store_begin(s, &err), &err);
    assert_int_equal(lv_store_begin(s, &err), LV_EINVAL);
    assert_message(&err, "a transaction on %s is already open", path);
    check(lv_store_write(s, b, &c, &err), &err);
    assert_int_equal(c.stored, 1);
    check(lv_store_commit(s, &err), &err);
    /* a commit with nothing open does nothing */
    check(lv_store_commit(s, &err), &err);
    check(lv_store_sync(s, &err), &err);
    char want[2048];
    snprintf(want, sizeof want, "%s\n", doc.data);
    assert_export(s, NULL, want, 1);

    /* rolled back: gone */
    lv_buf_reset(&doc);
    entry_text(&doc, 2, 5, T0, NULL);
    lv_batch_reset(b);
    lv_batch_add(b, doc.data, doc.len, "test", 1, NULL);
    check(lv_batch_prepare(b, z, NULL, &err), &err);
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    lv_store_rollback(s);
    assert_export(s, NULL, want, 1);
    /* and a new transaction can begin */
    check(lv_store_begin(s, &err), &err);
    lv_store_rollback(s);

    lv_zctx_free(z);
    lv_batch_free(b);
    lv_buf_free(&doc);
    lv_store_close(s);
}

static uint64_t mark(lv_store *s, const char *name)
{
    uint64_t v = 12345;
    lv_error err;
    check(lv_store_get_mark(s, name, &v, &err), &err);
    return v;
}

static void test_marks(void **state)
{
    (void)state;
    const char *path = path_in("marks.db");
    lv_store *s = open_store(path, NULL);
    lv_error err;
    assert_int_equal(mark(s, "journal"), 0); /* never set */

    assert_int_equal(lv_store_set_mark(s, "journal", 7, &err), LV_EINVAL);
    assert_message(&err, "setting a mark in %s outside a transaction", path);
    assert_int_equal(mark(s, "journal"), 0);

    check(lv_store_begin(s, &err), &err);
    check(lv_store_set_mark(s, "journal", 42, &err), &err);
    assert_int_equal(mark(s, "journal"), 42); /* seen inside the transaction */
    check(lv_store_commit(s, &err), &err);
    assert_int_equal(mark(s, "journal"), 42);

    check(lv_store_begin(s, &err), &err);
    check(lv_store_set_mark(s, "journal", 43, &err), &err);
    check(lv_store_set_mark(s, "other", 1, &err), &err);
    lv_store_rollback(s);
    assert_int_equal(mark(s, "journal"), 42);
    assert_int_equal(mark(s, "other"), 0);

    /* with the events it describes, and the whole range of values */
    lv_buf doc;
    lv_buf_init(&doc);
    entry_text(&doc, 1, 5, T0, NULL);
    lv_batch *b = lv_batch_new();
    lv_batch_add(b, doc.data, doc.len, "test", 1, NULL);
    lv_zctx *z = lv_zctx_new();
    check(lv_batch_prepare(b, z, NULL, &err), &err);
    lv_counts c = { 0 };
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_set_mark(s, "journal", UINT64_MAX, &err), &err);
    check(lv_store_set_mark(s, "other", 1, &err), &err);
    check(lv_store_commit(s, &err), &err);
    lv_store_close(s);

    s = open_store(path, &(lv_store_options){ .read_only = true, .one_shot = true });
    assert_int_equal(mark(s, "journal"), UINT64_MAX);
    assert_int_equal(mark(s, "other"), 1);
    assert_int_equal(mark(s, "never"), 0);
    lv_store_close(s);
    lv_zctx_free(z);
    lv_batch_free(b);
    lv_buf_free(&doc);
}

/* ---- export ---- */

/* A Caliper envelope of two entries, in course 5 (at T0 + 1 h) and course 6 (at T0 + 3 h). */
static const char envelope[] =
    "{\"sensor\":\"urn:instructure:canvas\",\"sendTime\":\"2024-09-02T19:00:00.000Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":["
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9571\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:2\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:711\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>one</p>\"},"
    "\"eventTime\":\"2024-09-02T19:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:5\","
    "\"type\":\"CourseOffering\"}},"
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9572\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:3\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:712\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>two</p>\"},"
    "\"eventTime\":\"2024-09-02T21:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:6\","
    "\"type\":\"CourseOffering\"}}]}";

/* A topic event, pretty-printed, with escapes and non-ASCII text, at T0 + 2 h in course 5. */
static const char pretty_topic[] =
    "{\n  \"metadata\": {\n    \"event_name\": \"discussion_topic_created\",\n"
    "    \"event_time\": \"2024-09-02T22:00:00+02:00\",\n    \"user_id\": \"1\",\n"
    "    \"context_type\": \"Course\", \"context_id\": \"5\"\n  },\n"
    "  \"body\": {\"discussion_topic_id\": \"70\", \"title\": \"Caf\\u00e9 \xc3\xa0 \\\"l'heure\\\"\",\n"
    "    \"body\": \"<p>\\t\\u2603</p>\", \"context_type\": \"Course\", \"context_id\": \"5\"}\n}";

static void test_export(void **state)
{
    (void)state;
    lv_store *s = open_store(path_in("export.db"), NULL);
    lv_buf late, early, other;
    lv_buf_init(&late);
    lv_buf_init(&early);
    lv_buf_init(&other);
    entry_text(&late, 1, 5, T0 + 4 * HOUR, NULL); /* arrives first, happened last */
    entry_text(&early, 2, 5, T0, NULL);
    entry_text(&other, 3, 6, T0 + 3 * HOUR, NULL);
    static const char rejected[] = "{\"metadata\":{\"event_name\":\"discussion_entry_created\"},  \"body\":{}}";
    write_text(s, late.data);
    const char *batch[] = { envelope, pretty_topic, rejected, "not json\t\x01" };
    lv_counts c = write_texts(s, batch, 4);
    assert_int_equal(c.stored, 3);
    assert_int_equal(c.rejected, 2);
    write_text(s, early.data);
    write_text(s, other.data);
    c = write_text(s, early.data); /* a duplicate: exported once */
    assert_int_equal(c.duplicates, 1);

    lv_buf want;
    lv_buf_init(&want);
    lv_buf_printf(&want, "%s\n%s\n%s\n%s\n%s\n", late.data, envelope, pretty_topic, early.data, other.data);
    assert_export(s, NULL, want.data, 5); /* arrival order, not time order */
    lv_export_filter all = { 0 };
    assert_export(s, &all, want.data, 5);

    /* by event: the envelope holds two entries and is exported once */
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n%s\n%s\n", late.data, envelope, early.data, other.data);
    assert_export(s, &(lv_export_filter){ .event = "discussion_entry_created" }, want.data, 4);
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n", pretty_topic);
    assert_export(s, &(lv_export_filter){ .event = "discussion_topic_created" }, want.data, 1);
    assert_export(s, &(lv_export_filter){ .event = "conversation_created" }, "", 0);

    /* a time window: since inclusive, until exclusive (the topic's time is T0 + 2 h in UTC) */
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n", envelope, pretty_topic);
    assert_export(s, &(lv_export_filter){ .has_since = true, .since_ms = T0 + HOUR, .has_until = true,
                                          .until_ms = T0 + 3 * HOUR }, want.data, 2);
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n", envelope, early.data);
    assert_export(s, &(lv_export_filter){ .has_until = true, .until_ms = T0 + HOUR + 1 }, want.data, 2);
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n%s\n", late.data, envelope, other.data);
    assert_export(s, &(lv_export_filter){ .has_since = true, .since_ms = T0 + 3 * HOUR }, want.data, 3);

    /* by course: the envelope has an event in each */
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n", envelope, other.data);
    assert_export(s, &(lv_export_filter){ .course = 6 }, want.data, 2);
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n", envelope, pretty_topic);
    assert_export(s, &(lv_export_filter){ .course = 5, .has_since = true, .since_ms = T0 + HOUR,
                                          .has_until = true, .until_ms = T0 + 4 * HOUR }, want.data, 2);
    assert_export(s, &(lv_export_filter){ .course = 7 }, "", 0);

    /* dead letters, exactly as received */
    lv_buf_reset(&want);
    lv_buf_printf(&want, "%s\n%s\n", rejected, "not json\t\x01");
    assert_export(s, &(lv_export_filter){ .dead_letters = true }, want.data, 2);

    /* a callback that fails stops the export with its status */
    exported x;
    lv_error err;
    memset(&x, 0, sizeof x);
    lv_buf_init(&x.all);
    x.stop_after = 2;
    assert_int_equal(lv_store_export(s, NULL, collect, &x, &err), LV_EIO);
    assert_string_equal(err.msg, "the reader stopped");
    assert_int_equal(x.n, 2);
    lv_buf_free(&x.all);

    lv_buf_free(&want);
    lv_buf_free(&late);
    lv_buf_free(&early);
    lv_buf_free(&other);
    lv_store_close(s);
}

/* ---- ids ---- */

static void test_resolve_id(void **state)
{
    (void)state;
    lv_store *s = open_store(path_in("ids.db"), NULL);
    lv_error err;
    uint64_t g = 0;
    /* no shard known: ids stay as they are */
    check(lv_store_resolve_id(s, 123, &g, &err), &err);
    assert_int_equal(g, 123);

    lv_buf doc;
    lv_buf_init(&doc);
    entry_text(&doc, 1, 5, T0, "21070000000000001");
    write_text(s, doc.data);
    check(lv_store_resolve_id(s, 123, &g, &err), &err);
    assert_int_equal(g, 21070000000000123ULL);
    check(lv_store_resolve_id(s, 31070000000000123ULL, &g, &err), &err); /* a global id */
    assert_int_equal(g, 31070000000000123ULL);
    check(lv_store_resolve_id(s, 9999999999999ULL, &g, &err), &err); /* the largest local id */
    assert_int_equal(g, 21079999999999999ULL);

    /* a second shard: a local id is ambiguous */
    lv_buf_reset(&doc);
    entry_text(&doc, 2, 5, T0, "31070000000000001");
    write_text(s, doc.data);
    assert_int_equal(lv_store_resolve_id(s, 123, &g, &err), LV_EINVAL);
    assert_string_equal(err.msg, "123 is a local id and this store holds several shards; give the global id "
                                 "(one of 21070000000000123, 31070000000000123)");
    check(lv_store_resolve_id(s, 21070000000000123ULL, &g, &err), &err);
    assert_int_equal(g, 21070000000000123ULL);
    lv_buf_free(&doc);
    lv_store_close(s);

    /* a reader sees the same */
    s = open_store(path_in("ids.db"), &(lv_store_options){ .read_only = true, .one_shot = true });
    assert_int_equal(lv_store_resolve_id(s, 5, &g, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "21070000000000005, 31070000000000005"));
    lv_store_close(s);
}

/* ---- many documents: dictionaries and deadlines ---- */

#define MANY 3000

/* Ingests MANY entries (one NDJSON stream) into path; returns the stream (the caller frees it). */
static char *ingest_many(lv_store *s, size_t *len)
{
    lv_buf all;
    lv_buf_init(&all);
    for (int i = 0; i < MANY; i++) {
        entry_text(&all, 1000 + i, 5 + i % 3, T0 + i * 1000LL, NULL);
        lv_buf_putc(&all, '\n');
    }
    lv_reader *r = lv_reader_open_memory(all.data, all.len, "many.ndjson");
    lv_counts c;
    lv_error err;
    check(lv_ingest(s, &r, 1, NULL, &c, &err), &err);
    assert_int_equal(c.stored, MANY);
    lv_reader_close(r);
    return lv_buf_detach(&all, len);
}

static void test_dictionary_and_exact_bytes(void **state)
{
    (void)state;
    const char *path = path_in("dict.db");
    lv_store *s = open_store(path, NULL);
    size_t len;
    char *all = ingest_many(s, &len);
    /* the ingest trained a dictionary from the stored documents */
    assert_non_null(lv_store_dict(s));
    lv_error err;
    check(lv_store_maybe_train(s, &err), &err); /* one exists: nothing more */
    /* documents compressed with it come back too */
    lv_buf more;
    lv_buf_init(&more);
    entry_text(&more, 99999, 5, T0 - HOUR, NULL);
    write_text(s, more.data);
    lv_store_close(s);

    lv_buf want;
    lv_buf_init(&want);
    lv_buf_append(&want, all, len);
    lv_buf_printf(&want, "%s\n", more.data);
    s = open_store(path, &(lv_store_options){ .read_only = true, .one_shot = true });
    assert_export(s, NULL, want.data, MANY + 1);
    lv_store_close(s);
    s = open_store(path, NULL);
    assert_export(s, NULL, want.data, MANY + 1);
    lv_store_close(s);
    lv_buf_free(&want);
    lv_buf_free(&more);
    free(all);
}

/* MANY entries written in one transaction, all of them followed by "\n" in *all. */
static void write_many(lv_store *s, lv_buf *all)
{
    const char **texts = calloc(MANY, sizeof *texts);
    lv_buf one;
    lv_buf_init(&one);
    for (int i = 0; i < MANY; i++) {
        lv_buf_reset(&one);
        entry_text(&one, 1000 + i, 5 + i % 3, T0 + i * 1000LL, NULL);
        texts[i] = strdup(one.data);
        lv_buf_printf(all, "%s\n", one.data);
    }
    lv_counts c = write_texts(s, texts, MANY);
    assert_int_equal(c.stored, MANY);
    for (int i = 0; i < MANY; i++)
        free((char *)texts[i]);
    free(texts);
    lv_buf_free(&one);
}

static void test_dictionary_trained_aside(void **state)
{
    (void)state;
    const char *path = path_in("aside.db");
    lv_store *s = open_store(path, NULL);
    lv_store_set_train_aside(s, true);
    lv_buf all;
    lv_buf_init(&all);
    write_many(s, &all);
    lv_error err;
    /* the training runs on a thread of its own; a later call stores what it trained */
    check(lv_store_maybe_train(s, &err), &err);
    for (int i = 0; i < 3000 && !lv_store_dict(s); i++) {
        struct timespec ms = { 0, 10 * 1000000L };
        nanosleep(&ms, NULL);
        check(lv_store_maybe_train(s, &err), &err);
    }
    assert_non_null(lv_store_dict(s));
    lv_buf more;
    lv_buf_init(&more);
    entry_text(&more, 99999, 5, T0 - HOUR, NULL);
    write_text(s, more.data); /* compressed with it */
    lv_buf_printf(&all, "%s\n", more.data);
    lv_store_close(s);
    s = open_store(path, &(lv_store_options){ .read_only = true, .one_shot = true });
    assert_export(s, NULL, all.data, MANY + 1);
    lv_store_close(s);

    /* closed while it trains: nothing is stored, and the next writer trains again */
    const char *other = path_in("aside2.db");
    s = open_store(other, NULL);
    lv_store_set_train_aside(s, true);
    lv_buf_reset(&all);
    write_many(s, &all);
    check(lv_store_maybe_train(s, &err), &err);
    lv_store_close(s);
    s = open_store(other, NULL);
    check(lv_store_maybe_train(s, &err), &err); /* not aside: trained before it returns */
    assert_non_null(lv_store_dict(s));
    lv_store_close(s);
    lv_buf_free(&more);
    lv_buf_free(&all);
}

static lv_status ignore(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)raw, (void)len, (void)err;
    ++*(size_t *)ctx;
    return LV_OK;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void test_housekeeping(void **state)
{
    (void)state;
    const char *path = path_in("kept.db");
    lv_store *w = open_store(path, &(lv_store_options){ .create = true });
    lv_store_set_bulk(w, true); /* its commits leave everything in the log */
    lv_buf b;
    lv_buf_init(&b);
    const char *texts[200];
    size_t at[200];
    for (int i = 0; i < 200; i++) {
        at[i] = b.len;
        entry_text(&b, i + 1, 5, T0 + i * HOUR, NULL);
        lv_buf_putc(&b, '\0');
    }
    for (int i = 0; i < 200; i++)
        texts[i] = b.data + at[i];
    assert_int_equal(write_texts(w, texts, 200).stored, 200);
    off_t before = file_size(path);
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", path);
    assert_true(file_size(wal) > 0);
    lv_store *k = open_store(path, NULL);
    lv_error err;
    check(lv_store_housekeeping(k, &err), &err);
    assert_true(file_size(path) > before); /* the events' pages are in the database file now */
    entry_text(&b, 999, 5, T0 - HOUR, NULL); /* and the writer goes on */
    lv_buf_putc(&b, '\0');
    assert_int_equal(write_text(w, b.data + at[199] + strlen(b.data + at[199]) + 1).stored, 1);
    lv_store_close(k);
    lv_store_close(w);
    lv_buf_free(&b);
}

/* Commits the store's open transaction a second after it starts (the other writer letting go). */
static void *commit_later(void *arg)
{
    struct timespec ts = { 1, 0 };
    nanosleep(&ts, NULL);
    lv_error err;
    check(lv_store_commit(arg, &err), &err);
    return NULL;
}

static void test_lock_wait(void **state)
{
    (void)state;
    const char *path = path_in("locked.db");
    lv_store *a = open_store(path, &(lv_store_options){ .create = true });
    lv_store *b = open_store(path, NULL);
    lv_error err;
    pthread_t t;
    /* waiting (the default): begins once the other writer commits */
    check(lv_store_begin(a, &err), &err);
    assert_int_equal(pthread_create(&t, NULL, commit_later, a), 0);
    check(lv_store_begin(b, &err), &err);
    check(lv_store_commit(b, &err), &err);
    pthread_join(t, NULL);
    /* not waiting: the same is LV_EBUSY at once, then works once the other has committed */
    check(lv_store_begin(a, &err), &err);
    assert_int_equal(pthread_create(&t, NULL, commit_later, a), 0);
    lv_store_set_lock_wait(b, false);
    assert_int_equal(lv_store_begin(b, &err), LV_EBUSY);
    assert_non_null(strstr(err.msg, "is locked by another writer"));
    pthread_join(t, NULL);
    check(lv_store_begin(b, &err), &err);
    check(lv_store_commit(b, &err), &err);
    lv_store_close(b);
    lv_store_close(a);
}

static void test_deadline(void **state)
{
    (void)state;
    lv_store *s = open_store(path_in("deadline.db"), NULL);
    size_t len;
    free(ingest_many(s, &len));
    lv_store_close(s);
    s = open_store(path_in("deadline.db"), &(lv_store_options){ .read_only = true });

    /* a deadline already past: reads over thousands of rows give up */
    lv_store_set_deadline(s, 1);
    lv_error err;
    size_t n = 0;
    assert_int_equal(lv_store_export(s, NULL, ignore, &n, &err), LV_ETIMEOUT);
    assert_true(n < MANY);
    assert_non_null(strstr(err.msg, "took longer than levee allows"));
    /* the questions too: the figures count every document, a course summary reads every entry */
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    assert_int_equal(lv_query_stats(s, w, &err), LV_ETIMEOUT);
    assert_non_null(strstr(err.msg, "took longer than levee allows"));
    lv_jw_free(w);
    lv_buf_reset(&out);
    w = lv_jw_new(&out, false);
    lv_query_window win = { 0 };
    assert_int_equal(lv_query_course(s, 5, &win, w, &err), LV_ETIMEOUT);
    assert_non_null(strstr(err.msg, "took longer than levee allows"));
    lv_jw_free(w);

    /* no deadline: the same reads answer */
    lv_store_set_deadline(s, 0);
    n = 0;
    check(lv_store_export(s, NULL, ignore, &n, &err), &err);
    assert_int_equal(n, MANY);
    lv_buf_reset(&out);
    w = lv_jw_new(&out, false);
    check(lv_query_stats(s, w, &err), &err);
    lv_jw_free(w);
    assert_non_null(strstr(out.data, "\"events\":3000,"));
    lv_buf_reset(&out);
    w = lv_jw_new(&out, false);
    check(lv_query_course(s, 5, &win, w, &err), &err);
    lv_jw_free(w);
    assert_non_null(strstr(out.data, "\"course_id\":\"5\""));
    /* a deadline far ahead changes nothing */
    lv_store_set_deadline(s, lv_monotonic_us() + 3600LL * 1000000);
    n = 0;
    check(lv_store_export(s, NULL, ignore, &n, &err), &err);
    assert_int_equal(n, MANY);
    lv_store_set_deadline(s, 0);
    lv_buf_free(&out);
    lv_store_close(s);
}

/* An engine that lacks operations (NULL slots) is completed when a store is opened: what it lacks fails
 * with LV_EUNSUPPORTED and a sentence naming the engine and the operation, never a crash; a complete table
 * is used as it is. */
static void partial_close(lv_store *s)
{
    lv_store_base_free(s);
}

static void test_engine_lacking_operations(void **state)
{
    (void)state;
    static const lv_engine partial = { .name = "partial", .close = partial_close };
    lv_store s;
    memset(&s, 0, sizeof s);
    lv_store_base_init(&s, &partial, "somewhere");
    assert_ptr_not_equal(s.engine, &partial);
    assert_string_equal(s.engine->name, "partial");
    assert_ptr_equal(s.engine->close, partial_close);
    lv_error err;
    assert_int_equal(s.engine->add_about(&s, LV_SUBJECT_ENTRY, 1, 2, &err), LV_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "the partial engine of levee does not do the operation add_about"));
    assert_non_null(strstr(err.msg, "somewhere"));
    int64_t docs = 0, bytes = 0;
    assert_int_equal(s.engine->erase_events(&s, NULL, 0, &docs, &bytes, &err), LV_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "erase_events"));
    assert_int_equal(lv_store_begin(&s, &err), LV_EUNSUPPORTED);
    assert_null(s.engine->dict(&s));
    s.engine->set_bulk(&s, true); /* the void ones do nothing */
    /* the same completed table for every store of the engine */
    lv_store t;
    memset(&t, 0, sizeof t);
    lv_store_base_init(&t, &partial, "elsewhere");
    assert_ptr_equal(t.engine, s.engine);
    lv_store_close(&t);
    lv_store_close(&s);
    /* a complete table is the table itself */
    assert_ptr_equal(lv_engine_complete(s.engine), s.engine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_create, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_location_settings),
        cmocka_unit_test(test_engine_lacking_operations),
        cmocka_unit_test_setup_teardown(test_open_missing, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_levee_store, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_empty_file_for_reading, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_not_sqlite, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_open_newer_schema, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_marks, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_export, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_id, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_and_exact_bytes, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_dictionary_trained_aside, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_deadline, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_housekeeping, temp_dir_setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
