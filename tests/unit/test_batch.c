/* test_batch.c: batches (levee/store.h): documents copied in and decoded (canvas, a Caliper envelope
 * of two events, text that is not JSON, strict decoding); lv_batch_add_next over an NDJSON stream in
 * memory (a line holding two documents is reframed into both, a pretty-printed document, a document
 * that never closes, each kept with its source and line); oversized documents (from a reader's limit
 * and added directly: kept as dead letters with their size only); the dedupe keys lv_batch_prepare
 * computes, seen through a store: two formattings of one event (white space, member order, time
 * zones, ids as numbers, local ids and their global form) are one event, different events (one
 * character of text, one millisecond, one metadata field, another kind) are not; the outcome of every
 * event after writing (stored, duplicate, dead letter, Caliper entities only, an envelope with a
 * valid and an invalid event, before writing and out of range); the search text extracted from
 * HTML; and lv_batch_reset, reusing one batch for many rounds. */
#include "testing.h"

#include "levee/engines.h"
#include "levee/query.h"

#include <sqlite3.h>
#include <unistd.h>

static char store_path[256];
static lv_store *store;

static int setup(void **state)
{
    (void)state;
    close(make_temp(store_path, sizeof store_path, "batch", false));
    lv_error err;
    if (lv_store_open(store_path, NULL, &store, &err) != LV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    lv_store_set_bulk(store, true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lv_store_close(store);
    store = NULL;
    remove_store(store_path);
    return 0;
}

static void prepare(lv_batch *b)
{
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    lv_status st = lv_batch_prepare(b, z, lv_store_dict(store), &err);
    lv_zctx_free(z);
    check(st, &err);
}

/* Prepares b and writes it to the store in one transaction. */
static lv_counts write_batch(lv_batch *b)
{
    prepare(b);
    lv_counts c = { 0 };
    lv_error err;
    check(lv_store_begin(store, &err), &err);
    check(lv_store_write(store, b, &c, &err), &err);
    check(lv_store_commit(store, &err), &err);
    return c;
}

static const lv_doc *add(lv_batch *b, const char *text)
{
    return lv_batch_add(b, text, strlen(text), "test", (long)lv_batch_docs(b) + 1, NULL);
}

/* ---- documents ---- */

#define ENTRY_META "\"event_name\":\"discussion_entry_created\",\"event_time\":\"2024-09-02T18:00:00.000Z\""

/* An entry event; n makes it unique. */
static void entry(char *out, size_t size, int n)
{
    snprintf(out, size,
             "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\",\"context_type\":\"Course\",\"context_id\":\"5\"},"
             "\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\",\"discussion_entry_id\":\"%d\","
             "\"discussion_topic_id\":\"10\",\"text\":\"<p>Entry %d</p>\",\"user_id\":\"2\"}}", n, n);
}

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
    "\"eventTime\":\"2024-09-02T21:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:5\","
    "\"type\":\"CourseOffering\"}}]}";

/* The same envelope with its second event missing the entry's id (rejected). */
static const char envelope_half_valid[] =
    "{\"sensor\":\"urn:instructure:canvas\",\"sendTime\":\"2024-09-02T19:00:00.000Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":["
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9573\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:2\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:721\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>ok</p>\"},"
    "\"eventTime\":\"2024-09-02T19:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:5\","
    "\"type\":\"CourseOffering\"}},"
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9574\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:3\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>no id</p>\"},"
    "\"eventTime\":\"2024-09-02T21:00:00.000Z\"}]}";

static const char entities_only[] =
    "{\"sensor\":\"urn:instructure:canvas\",\"sendTime\":\"2024-09-02T18:00:00.000Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":["
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:instructure:canvas:user:2\","
    "\"type\":\"Person\"}]}";

/* ---- the store's tables, read directly ---- */

typedef struct dead_letter {
    char source[64];
    long line;
    long long raw_len;
    bool raw_kept;
    char errors[1024];
} dead_letter;

/* The dead letters in the order they were stored (at most max). */
static size_t dead_letters(dead_letter *out, size_t max)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(store_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT source, line, raw_len, raw IS NOT NULL, errors FROM dead_letters"
                                            " ORDER BY id", -1, &st, NULL), SQLITE_OK);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        assert_true(n < max);
        dead_letter *d = &out[n++];
        snprintf(d->source, sizeof d->source, "%s", (const char *)sqlite3_column_text(st, 0));
        d->line = (long)sqlite3_column_int64(st, 1);
        d->raw_len = sqlite3_column_int64(st, 2);
        d->raw_kept = sqlite3_column_int(st, 3) != 0;
        snprintf(d->errors, sizeof d->errors, "%s", (const char *)sqlite3_column_text(st, 4));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

typedef struct exported {
    lv_buf all;
    size_t n;
} exported;

static lv_status collect(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)err;
    exported *x = ctx;
    lv_buf_append(&x->all, raw, len);
    lv_buf_putc(&x->all, '\n');
    x->n++;
    return LV_OK;
}

/* Every stored document (or dead letter), each followed by "\n"; the caller frees the text. */
static char *export_all(bool dead, size_t *n)
{
    exported x = { .n = 0 };
    lv_buf_init(&x.all);
    lv_error err;
    lv_export_filter f = { .dead_letters = dead };
    check(lv_store_export(store, &f, collect, &x, &err), &err);
    *n = x.n;
    lv_buf_putc(&x.all, '\0');
    x.all.len--;
    return lv_buf_detach(&x.all, NULL);
}

/* ---- tests ---- */

static void test_add_and_decode(void **state)
{
    (void)state;
    lv_batch *b = lv_batch_new();
    assert_int_equal(lv_batch_docs(b), 0);
    assert_int_equal(lv_batch_events(b), 0);
    assert_null(lv_batch_doc_at(b, 0));

    char text[1024], original_text[1024];
    entry(text, sizeof text, 1);
    memcpy(original_text, text, sizeof text);
    const lv_doc *d = add(b, text);
    memset(text, 'X', strlen(text)); /* the batch has its own copy */
    assert_int_equal(d->n_events, 1);
    assert_int_equal(d->format, LV_FORMAT_CANVAS);
    assert_false(d->not_json);
    assert_false(d->events[0].rejected);
    assert_non_null(d->events[0].kind);
    assert_int_equal(d->events[0].kind->id, LV_K_DISCUSSION_ENTRY_CREATED);
    assert_int_equal(d->text[0], '{');
    assert_int_equal(d->len, strlen(original_text));
    assert_ptr_equal(lv_batch_doc_at(b, 0), d);

    d = add(b, envelope);
    assert_int_equal(d->n_events, 2);
    assert_int_equal(d->format, LV_FORMAT_CALIPER);
    assert_true(d->envelope);
    assert_int_equal(d->events[1].time_ms, 1725310800000LL); /* 21:00 */
    assert_string_equal(d->events[1].path_prefix, "/data/1");

    d = add(b, "{\"metadata\": nope");
    assert_true(d->not_json);
    assert_int_equal(d->n_events, 1);
    assert_true(d->events[0].rejected);
    assert_non_null(d->events[0].diags);

    assert_int_equal(lv_batch_docs(b), 3);
    assert_int_equal(lv_batch_events(b), 4);
    assert_null(lv_batch_doc_at(b, 3));
    /* nothing written yet */
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_PENDING);
    assert_int_equal(lv_batch_outcome(b, 1, 1), LV_OUT_PENDING);
    assert_int_equal(lv_batch_outcome(b, 1, 2), LV_OUT_PENDING);
    assert_int_equal(lv_batch_outcome(b, 7, 0), LV_OUT_PENDING);

    /* strict: a warning (no root account here) rejects */
    entry(text, sizeof text, 2);
    lv_decode_options strict = { .strict = true };
    d = lv_batch_add(b, text, strlen(text), "test", 4, &strict);
    assert_true(d->events[0].rejected);
    d = lv_batch_add(b, text, strlen(text), "test", 5, NULL);
    assert_false(d->events[0].rejected);
    assert_int_equal(lv_batch_events(b), 6);

    /* written, the first document is the bytes it had when it was added */
    lv_counts c = write_batch(b);
    assert_int_equal(c.stored, 4);
    assert_int_equal(c.rejected, 2);
    size_t n;
    char *docs = export_all(false, &n);
    assert_int_equal(n, 3);
    lv_buf want;
    lv_buf_init(&want);
    lv_buf_printf(&want, "%s\n%s\n%s\n", original_text, envelope, text);
    assert_string_equal(docs, want.data);
    lv_buf_free(&want);
    free(docs);
    lv_batch_free(b);
    lv_batch_free(NULL);
}

#define STREAM_A                                                                                           \
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\"},\"body\":{\"discussion_entry_id\":\"1\",\"discussion_topic_id\":" \
    "\"10\",\"text\":\"<p>a {brace} \\\"quote\\\"</p>\",\"user_id\":\"2\"}}"
#define STREAM_B                                                                                           \
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"3\"},\"body\":{\"discussion_entry_id\":\"2\",\"discussion_topic_id\":" \
    "\"10\",\"text\":\"b\",\"user_id\":\"3\"}}"
#define STREAM_C                                                                                           \
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"4\"},\"body\":{\"discussion_entry_id\":\"3\",\"discussion_topic_id\":" \
    "\"10\",\"text\":\"c\",\"user_id\":\"4\"}}"
#define STREAM_PRETTY                                                                                      \
    "{\n  \"metadata\": {\n    " ENTRY_META ",\n    \"user_id\": \"5\"\n  },\n  \"body\": {\"discussion_entry_id\": " \
    "\"4\",\n    \"discussion_topic_id\": \"10\", \"user_id\": \"5\"}\n}"
#define STREAM_BROKEN "{\"metadata\": {\"event_name\": \"discussion_entry_created\","
#define STREAM_D                                                                                           \
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"6\"},\"body\":{\"discussion_entry_id\":\"5\",\"discussion_topic_id\":" \
    "\"10\",\"text\":\"d\",\"user_id\":\"6\"}}"

static void test_add_next_ndjson(void **state)
{
    (void)state;
    /* line 1: one document; line 2: two documents on one line (CRLF); lines 3-10: a pretty-printed one;
     * a blank line; line 12: a document that never closes; line 13: the next document */
    static const char stream[] = STREAM_A "\n" STREAM_B STREAM_C "\r\n" STREAM_PRETTY "\n\n" STREAM_BROKEN "\n" STREAM_D
                                          "\n";
    static const char *const want[] = { STREAM_A, STREAM_B, STREAM_C, STREAM_PRETTY, STREAM_BROKEN, STREAM_D };
    lv_reader *r = lv_reader_open_memory(stream, sizeof stream - 1, "stream.ndjson");
    lv_batch *b = lv_batch_new();
    lv_error err;
    lv_status st = LV_OK;
    for (int i = 0; i < 20 && (st = lv_batch_add_next(b, r, NULL, &err)) == LV_OK; i++)
        ;
    assert_int_equal(st, LV_ENOTFOUND);
    assert_int_equal(lv_batch_docs(b), 6);
    assert_int_equal(lv_batch_events(b), 6);
    for (size_t i = 0; i < 6; i++) {
        const lv_doc *d = lv_batch_doc_at(b, i);
        assert_int_equal(d->len, strlen(want[i]));
        assert_memory_equal(d->text, want[i], d->len);
        assert_int_equal(d->n_events, 1);
        assert_int_equal(d->events[0].rejected, i == 4);
        assert_false(d->not_json && i != 4);
    }
    assert_true(lv_batch_doc_at(b, 4)->not_json);
    /* at the end, still the end */
    assert_int_equal(lv_batch_add_next(b, r, NULL, &err), LV_ENOTFOUND);
    assert_int_equal(lv_batch_docs(b), 6);

    lv_counts c = write_batch(b);
    assert_int_equal(c.stored, 5);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.documents, 6);
    assert_int_equal(c.bytes, strlen(STREAM_A STREAM_B STREAM_C STREAM_PRETTY STREAM_BROKEN STREAM_D));
    /* the dead letter says where it came from */
    dead_letter dl[2];
    assert_int_equal(dead_letters(dl, 2), 1);
    assert_string_equal(dl[0].source, "stream.ndjson");
    assert_int_equal(dl[0].line, 12);
    assert_true(dl[0].raw_kept);
    assert_non_null(strstr(dl[0].errors, "\"source\":\"stream.ndjson\",\"line\":12,\"severity\":\"error\""));
    size_t n;
    char *docs = export_all(false, &n);
    assert_int_equal(n, 5);
    assert_string_equal(docs, STREAM_A "\n" STREAM_B "\n" STREAM_C "\n" STREAM_PRETTY "\n" STREAM_D "\n");
    free(docs);
    lv_batch_free(b);
    lv_reader_close(r);
}

static void test_oversized(void **state)
{
    (void)state;
    char big[400], small[1024];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    memcpy(big + 1, "\"metadata\":{}", 13);
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\n';
    entry(small, sizeof small, 1);
    lv_buf stream;
    lv_buf_init(&stream);
    lv_buf_append(&stream, big, sizeof big);
    lv_buf_printf(&stream, "%s\n", small);

    lv_reader *r = lv_reader_open_memory(stream.data, stream.len, "big.ndjson");
    lv_reader_set_limit(r, 300);
    lv_batch *b = lv_batch_new();
    lv_error err;
    check(lv_batch_add_next(b, r, NULL, &err), &err);
    check(lv_batch_add_next(b, r, NULL, &err), &err);
    assert_int_equal(lv_batch_add_next(b, r, NULL, &err), LV_ENOTFOUND);
    assert_int_equal(lv_batch_docs(b), 2);
    const lv_doc *d = lv_batch_doc_at(b, 0);
    assert_int_equal(d->n_events, 1);
    assert_true(d->events[0].rejected);
    assert_int_equal(d->len, sizeof big - 1);
    assert_string_equal(d->events[0].diags->message, "the document is 399 bytes; the limit here is 300 bytes");
    assert_false(lv_batch_doc_at(b, 1)->events[0].rejected); /* the next one is read whole */

    d = lv_batch_add_oversized(b, 2000000, LV_EVENT_MAX_BYTES, "post", 3);
    assert_true(d->events[0].rejected);
    assert_string_equal(d->events[0].diags->message,
                        "the document is 2000000 bytes; Canvas and levee refuse events over 1000000 bytes");
    assert_int_equal(lv_batch_events(b), 3);

    lv_counts c = write_batch(b);
    assert_int_equal(c.stored, 1);
    assert_int_equal(c.rejected, 2);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 1, 0), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 2, 0), LV_OUT_DEAD_LETTER);
    /* kept with their size and where they came from, not their bytes */
    dead_letter dl[3];
    assert_int_equal(dead_letters(dl, 3), 2);
    assert_string_equal(dl[0].source, "big.ndjson");
    assert_int_equal(dl[0].line, 1);
    assert_int_equal(dl[0].raw_len, 399);
    assert_false(dl[0].raw_kept);
    assert_string_equal(dl[1].source, "post");
    assert_int_equal(dl[1].line, 3);
    assert_int_equal(dl[1].raw_len, 2000000);
    assert_false(dl[1].raw_kept);
    size_t n;
    char *docs = export_all(true, &n);
    assert_int_equal(n, 0);
    free(docs);
    lv_batch_free(b);
    lv_reader_close(r);
    lv_buf_free(&stream);
}

/* One event in two formattings, and events that differ from it by little. */
static const char original[] =
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\",\"root_account_id\":\"21070000000000001\",\"request_id\":\"r1\","
    "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\","
    "\"discussion_entry_id\":\"101\",\"discussion_topic_id\":\"10\",\"text\":\"<p>Same</p>\",\"user_id\":\"2\"}}";

static const char *const same_event[] = {
    /* white space, member order, times in another zone and without milliseconds */
    "{ \"body\" : {\"user_id\":\"2\", \"text\":\"<p>Same</p>\", \"discussion_topic_id\":\"10\",\n"
    "  \"discussion_entry_id\":\"101\", \"created_at\":\"2024-09-02T20:00:00+02:00\"},\n"
    "  \"metadata\" : {\"context_id\":\"5\", \"context_type\":\"Course\", \"request_id\":\"r1\",\n"
    "  \"root_account_id\":\"21070000000000001\", \"user_id\":\"2\", \"event_time\":\"2024-09-02T13:00:00-05:00\",\n"
    "  \"event_name\":\"discussion_entry_created\"} }",
    /* ids as JSON numbers, and local ids in their global form */
    "{\"metadata\":{" ENTRY_META ",\"user_id\":21070000000000002,\"root_account_id\":\"21070000000000001\","
    "\"request_id\":\"r1\",\"context_type\":\"Course\",\"context_id\":\"21070000000000005\"},\"body\":{\"created_at\":"
    "\"2024-09-02T18:00:00.000Z\",\"discussion_entry_id\":101,\"discussion_topic_id\":\"21070000000000010\","
    "\"text\":\"<p>Same</p>\",\"user_id\":\"21070000000000002\"}}",
};

static const char *const other_events[] = {
    /* one character of text */
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\",\"root_account_id\":\"21070000000000001\",\"request_id\":\"r1\","
    "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\","
    "\"discussion_entry_id\":\"101\",\"discussion_topic_id\":\"10\",\"text\":\"<p>Same.</p>\",\"user_id\":\"2\"}}",
    /* one millisecond later */
    "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"2024-09-02T18:00:00.001Z\","
    "\"user_id\":\"2\",\"root_account_id\":\"21070000000000001\",\"request_id\":\"r1\","
    "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\","
    "\"discussion_entry_id\":\"101\",\"discussion_topic_id\":\"10\",\"text\":\"<p>Same</p>\",\"user_id\":\"2\"}}",
    /* another request */
    "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\",\"root_account_id\":\"21070000000000001\",\"request_id\":\"r2\","
    "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\","
    "\"discussion_entry_id\":\"101\",\"discussion_topic_id\":\"10\",\"text\":\"<p>Same</p>\",\"user_id\":\"2\"}}",
    /* its submitted twin (another kind, with the same body) */
    "{\"metadata\":{\"event_name\":\"discussion_entry_submitted\",\"event_time\":\"2024-09-02T18:00:00.000Z\","
    "\"user_id\":\"2\",\"root_account_id\":\"21070000000000001\",\"request_id\":\"r1\","
    "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"2024-09-02T18:00:00.000Z\","
    "\"discussion_entry_id\":\"101\",\"discussion_topic_id\":\"10\",\"text\":\"<p>Same</p>\",\"user_id\":\"2\"}}",
};

#define N_SAME (sizeof same_event / sizeof *same_event)
#define N_OTHER (sizeof other_events / sizeof *other_events)

static void test_dedupe_keys(void **state)
{
    (void)state;
    lv_batch *b = lv_batch_new();
    add(b, original);
    for (size_t i = 0; i < N_SAME; i++)
        add(b, same_event[i]);
    for (size_t i = 0; i < N_OTHER; i++)
        add(b, other_events[i]);
    for (size_t i = 0; i < lv_batch_docs(b); i++)
        assert_false(lv_batch_doc_at(b, i)->events[0].rejected);
    lv_counts c = write_batch(b);
    assert_int_equal(c.stored, 1 + N_OTHER);
    assert_int_equal(c.duplicates, N_SAME);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_STORED);
    for (size_t i = 0; i < N_SAME; i++)
        assert_int_equal(lv_batch_outcome(b, 1 + i, 0), LV_OUT_DUPLICATE);
    for (size_t i = 0; i < N_OTHER; i++)
        assert_int_equal(lv_batch_outcome(b, 1 + N_SAME + i, 0), LV_OUT_STORED);

    /* the keys do not depend on the batch: written again, from another batch, every one is a
     * duplicate */
    lv_batch_reset(b);
    for (size_t i = 0; i < N_OTHER; i++)
        add(b, other_events[N_OTHER - 1 - i]);
    add(b, same_event[0]);
    c = write_batch(b);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.duplicates, N_OTHER + 1);
    lv_batch_free(b);

    size_t n;
    char *docs = export_all(false, &n);
    assert_int_equal(n, 1 + N_OTHER);
    assert_memory_equal(docs, original, strlen(original));
    free(docs);
}

static void test_outcomes(void **state)
{
    (void)state;
    char first[1024], second[1024];
    entry(first, sizeof first, 1);
    entry(second, sizeof second, 2);
    lv_batch *b = lv_batch_new();
    add(b, first);
    lv_counts c = write_batch(b);
    assert_int_equal(c.stored, 1);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_STORED);

    lv_batch_reset(b);
    add(b, second);              /* 0: new */
    add(b, first);               /* 1: stored by the last batch */
    add(b, "[1, 2]");            /* 2: JSON, not an event */
    add(b, envelope_half_valid); /* 3: one event stored, one rejected: the document is a dead letter */
    add(b, entities_only);       /* 4: no event at all: kept as a dead letter */
    add(b, envelope);            /* 5: two events */
    add(b, second);              /* 6: a duplicate within the batch */
    c = write_batch(b);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 1, 0), LV_OUT_DUPLICATE);
    assert_int_equal(lv_batch_outcome(b, 2, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 3, 0), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 3, 1), LV_OUT_DEAD_LETTER);
    assert_true(lv_batch_doc_at(b, 4)->events[0].is_entity);
    assert_int_equal(lv_batch_outcome(b, 4, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 5, 0), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 5, 1), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 6, 0), LV_OUT_DUPLICATE);
    assert_int_equal(lv_batch_outcome(b, 5, 2), LV_OUT_PENDING); /* no such event */
    assert_int_equal(lv_batch_outcome(b, 0, (size_t)1 << 28), LV_OUT_PENDING);
    assert_int_equal(lv_batch_outcome(b, 7, 0), LV_OUT_PENDING);
    assert_int_equal(c.stored, 4);
    assert_int_equal(c.duplicates, 2);
    assert_int_equal(c.rejected, 3);
    assert_int_equal(c.documents, 7);

    /* the same rejected documents again: rejected again (as a user re-running a file expects), but
     * kept once; another of the same size is a dead letter of its own */
    lv_batch_reset(b);
    add(b, "[1, 2]");
    add(b, envelope_half_valid);
    add(b, entities_only);
    add(b, "[3, 4]");
    c = write_batch(b);
    assert_int_equal(lv_batch_outcome(b, 3, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 1, 0), LV_OUT_DUPLICATE); /* its valid event is stored already */
    assert_int_equal(lv_batch_outcome(b, 1, 1), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 2, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.rejected, 4);
    assert_int_equal(c.duplicates, 1);
    dead_letter dl[5];
    assert_int_equal(dead_letters(dl, 5), 4);
    size_t n;
    char *docs = export_all(true, &n);
    assert_int_equal(n, 4);
    lv_buf want;
    lv_buf_init(&want);
    lv_buf_printf(&want, "[1, 2]\n%s\n%s\n[3, 4]\n", envelope_half_valid, entities_only);
    assert_string_equal(docs, want.data);
    lv_buf_free(&want);
    free(docs);
    lv_batch_free(b);
}

static void test_search_text(void **state)
{
    (void)state;
    lv_batch *b = lv_batch_new();
    add(b, "{\"metadata\":{" ENTRY_META ",\"user_id\":\"2\",\"context_type\":\"Course\",\"context_id\":\"5\"},"
           "\"body\":{\"discussion_entry_id\":\"31\",\"discussion_topic_id\":\"10\",\"user_id\":\"2\","
           "\"text\":\"<p>Caf&eacute;<b>au</b>lait <script>hidden()</script></p>\"}}");
    write_batch(b);
    lv_batch_free(b);
    static const struct { const char *words; int results; } searches[] = {
        { "café", 1 }, { "cafe", 1 }, { "au", 1 }, { "lait", 1 }, { "hidden", 0 }, { "eacute", 0 }, { "b", 0 },
    };
    for (size_t i = 0; i < sizeof searches / sizeof *searches; i++) {
        lv_buf out;
        lv_buf_init(&out);
        lv_jw *w = lv_jw_new(&out, false);
        lv_query_window win = { 0 };
        lv_error err;
        check(lv_query_search(store, searches[i].words, 0, &win, w, &err), &err);
        lv_jw_free(w);
        lv_arena a;
        lv_arena_init(&a, 4096);
        lv_json *root;
        check(lv_json_parse(&a, out.data, out.len, &root, &err), &err);
        const lv_json *results = lv_json_get(root, "results");
        if (results->len != (size_t)searches[i].results)
            fail_msg("%s: %s", searches[i].words, out.data);
        if (searches[i].results)
            assert_true(lv_json_str_is(lv_json_path(root, "results/0/snippet"), "Café au lait"));
        lv_arena_free(&a);
        lv_buf_free(&out);
    }
}

static void test_reset_reuse(void **state)
{
    (void)state;
    lv_batch *b = lv_batch_new();
    char text[1024];
    /* rounds of 50 new documents and one already stored, in one batch reused */
    for (int round = 0; round < 20; round++) {
        lv_batch_reset(b);
        assert_int_equal(lv_batch_docs(b), 0);
        assert_int_equal(lv_batch_events(b), 0);
        assert_null(lv_batch_doc_at(b, 0));
        assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_PENDING);
        for (int i = 0; i < 50; i++) {
            entry(text, sizeof text, round * 50 + i);
            add(b, text);
        }
        entry(text, sizeof text, 0);
        add(b, text);
        assert_int_equal(lv_batch_docs(b), 51);
        lv_counts c = write_batch(b);
        assert_int_equal(c.stored, 50);
        assert_int_equal(c.duplicates, 1);
        assert_int_equal(lv_batch_outcome(b, 50, 0), LV_OUT_DUPLICATE);
        entry(text, sizeof text, round * 50 + 49);
        assert_memory_equal(lv_batch_doc_at(b, 49)->text, text, strlen(text));
    }
    lv_batch_free(b);
    size_t n;
    free(export_all(false, &n));
    assert_int_equal(n, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_decode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_next_ndjson, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
