/* test_reader.c: document framing: NDJSON, CRLF, pretty-printed, several per line, broken lines,
 * line numbers, a byte order mark, documents larger than a read, and oversized documents. */
#include "testing.h"

#include "levee/reader.h"
#include "levee/stream.h"

#include <unistd.h>

typedef struct got {
    char text[256];
    long line;
    bool too_big;
    size_t len;
} got;

/* Reads all documents with lv_stream_next (so line-framed guesses are corrected). */
static size_t read_all(lv_reader *r, got *out, size_t max)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_chunk chunk;
    lv_doc doc;
    lv_error err;
    size_t n = 0;
    lv_status st;
    while ((st = lv_stream_next(r, &a, NULL, &chunk, &doc, &err)) == LV_OK) {
        assert_true(n < max);
        snprintf(out[n].text, sizeof out[n].text, "%.*s", (int)(chunk.text ? (chunk.len > 200 ? 200 : chunk.len) : 0),
                 chunk.text ? chunk.text : "");
        out[n].line = chunk.line;
        out[n].too_big = chunk.too_big;
        out[n].len = chunk.len;
        n++;
        lv_arena_reset(&a);
    }
    assert_int_equal(st, LV_ENOTFOUND);
    lv_arena_free(&a);
    return n;
}

static size_t read_memory(const char *text, got *out, size_t max)
{
    lv_reader *r = lv_reader_open_memory(text, strlen(text), "mem");
    size_t n = read_all(r, out, max);
    lv_reader_close(r);
    return n;
}

static void test_ndjson_and_crlf(void **state)
{
    (void)state;
    got g[8];
    size_t n = read_memory("{\"a\":1}\n{\"b\":2}\r\n\r\n{\"c\":3}", g, 8);
    assert_int_equal(n, 3);
    assert_string_equal(g[0].text, "{\"a\":1}");
    assert_string_equal(g[1].text, "{\"b\":2}");
    assert_int_equal(g[1].line, 2);
    assert_string_equal(g[2].text, "{\"c\":3}");
    assert_int_equal(g[2].line, 4);
}

static void test_pretty_documents_and_lines(void **state)
{
    (void)state;
    got g[8];
    const char *text = "{\n  \"a\": {\n    \"s\": \"}{\\\"\"\n  }\n}\n{\n\"b\":[1,\n2]\n}\n{\"c\":1}\n";
    size_t n = read_memory(text, g, 8);
    assert_int_equal(n, 3);
    assert_int_equal(g[0].line, 1);
    assert_string_equal(g[0].text, "{\n  \"a\": {\n    \"s\": \"}{\\\"\"\n  }\n}");
    assert_int_equal(g[1].line, 6);
    assert_int_equal(g[2].line, 10);
    assert_string_equal(g[2].text, "{\"c\":1}");
}

static void test_several_documents_on_a_line(void **state)
{
    (void)state;
    got g[8];
    size_t n = read_memory("{\"a\":1}{\"b\":2} {\"c\":3}\n{\"d\":4}\n", g, 8);
    assert_int_equal(n, 4);
    assert_string_equal(g[0].text, "{\"a\":1}");
    assert_string_equal(g[1].text, "{\"b\":2}");
    assert_string_equal(g[2].text, "{\"c\":3}");
    assert_int_equal(g[2].line, 1);
    assert_string_equal(g[3].text, "{\"d\":4}");
    assert_int_equal(g[3].line, 2);
}

static void test_broken_lines_do_not_swallow_the_next(void **state)
{
    (void)state;
    got g[8];
    /* an unclosed object, an unclosed string, garbage, then good events */
    size_t n = read_memory("{\"a\": {\"b\": 1}\n{\"ok\":1}\n{\"s\": \"open\n{\"ok\":2}\nhello world\n{\"ok\":3}\n", g, 8);
    assert_int_equal(n, 6);
    assert_string_equal(g[0].text, "{\"a\": {\"b\": 1}");
    assert_string_equal(g[1].text, "{\"ok\":1}");
    assert_int_equal(g[1].line, 2);
    assert_string_equal(g[2].text, "{\"s\": \"open");
    assert_string_equal(g[3].text, "{\"ok\":2}");
    assert_int_equal(g[3].line, 4);
    assert_string_equal(g[4].text, "hello world");
    assert_int_equal(g[4].line, 5);
    assert_string_equal(g[5].text, "{\"ok\":3}");
    assert_int_equal(g[5].line, 6);
}

static void test_byte_order_mark_and_trailing_space(void **state)
{
    (void)state;
    got g[4];
    size_t n = read_memory("\xEF\xBB\xBF{\"a\":1}  \t\n  [1,2]\n", g, 4);
    assert_int_equal(n, 2);
    assert_string_equal(g[0].text, "{\"a\":1}");
    assert_string_equal(g[1].text, "[1,2]");
    assert_int_equal(g[1].line, 2);
}

static void test_unterminated_at_end(void **state)
{
    (void)state;
    got g[4];
    size_t n = read_memory("{\"a\":1}\n{\"b\": [1, 2", g, 4);
    assert_int_equal(n, 2);
    assert_string_equal(g[1].text, "{\"b\": [1, 2");
}

/* Writes text to a temporary file and reads it back through a file descriptor, which exercises
 * refills: documents that straddle the 1 MiB reads, and one over the size limit. */
static void test_large_documents_through_a_file(void **state)
{
    (void)state;
    char path[256];
    int fd = make_temp(path, sizeof path, "reader", false);
    FILE *f = fdopen(fd, "w");
    size_t big = 900000;
    for (int k = 0; k < 3; k++) { /* three 900 KB documents, pretty-printed over two lines */
        fputs("{\"pad\":\n\"", f);
        for (size_t i = 0; i < big; i++)
            fputc('a' + (char)(i % 26), f);
        fputs("\"}\n", f);
    }
    fputs("{\"huge\":\"", f); /* 1.5 MB: over the limit */
    for (size_t i = 0; i < 1500000; i++)
        fputc('x', f);
    fputs("\"}\n{\"after\":true}\n", f);
    fclose(f);

    lv_reader *r;
    lv_error err;
    assert_int_equal(lv_reader_open_path(&r, path, &err), LV_OK);
    got g[8];
    size_t n = read_all(r, g, 8);
    lv_reader_close(r);
    unlink(path);
    assert_int_equal(n, 5);
    for (int k = 0; k < 3; k++) {
        assert_false(g[k].too_big);
        assert_int_equal(g[k].len, big + 11);
        assert_int_equal(g[k].line, 1 + 2 * k);
    }
    assert_true(g[3].too_big);
    assert_int_equal(g[3].len, 1500000 + 11);
    assert_int_equal(g[3].line, 7);
    assert_false(g[4].too_big);
    assert_string_equal(g[4].text, "{\"after\":true}");
    assert_int_equal(g[4].line, 8);
}

/* Found by fuzz_reader: an oversized document under a reader limit below 1,000,000 bytes used to
 * reach the parser without its bytes. */
static void test_oversized_under_a_custom_limit(void **state)
{
    (void)state;
    const char *text = "{\"a\":\"0123456789012345678901234567890123456789\"}\n{\"b\":1}\n";
    lv_reader *r = lv_reader_open_memory(text, strlen(text), "mem");
    lv_reader_set_limit(r, 16);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_chunk chunk;
    lv_doc doc;
    lv_error err;
    assert_int_equal(lv_stream_next(r, &a, NULL, &chunk, &doc, &err), LV_OK);
    assert_true(chunk.too_big);
    assert_int_equal(doc.n_events, 1);
    assert_true(doc.events[0].rejected);
    assert_non_null(strstr(doc.events[0].diags->message, "the limit here is 16 bytes"));
    assert_int_equal(lv_stream_next(r, &a, NULL, &chunk, &doc, &err), LV_OK);
    assert_false(chunk.too_big);
    assert_int_equal(chunk.len, 7);
    lv_arena_free(&a);
    lv_reader_close(r);
}

static void test_missing_file(void **state)
{
    (void)state;
    lv_reader *r;
    lv_error err;
    assert_int_equal(lv_reader_open_path(&r, "/nonexistent/levee.ndjson", &err), LV_EIO);
    assert_non_null(strstr(err.msg, "cannot open /nonexistent/levee.ndjson"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ndjson_and_crlf),
        cmocka_unit_test(test_pretty_documents_and_lines),
        cmocka_unit_test(test_several_documents_on_a_line),
        cmocka_unit_test(test_broken_lines_do_not_swallow_the_next),
        cmocka_unit_test(test_byte_order_mark_and_trailing_space),
        cmocka_unit_test(test_unterminated_at_end),
        cmocka_unit_test(test_large_documents_through_a_file),
        cmocka_unit_test(test_oversized_under_a_custom_limit),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
