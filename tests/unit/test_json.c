/* test_json.c: parsing into the arena tree (exact numbers, errors, depth limit), lookups, and the
 * writer (escaping, pretty printing, round trip through the parser). */
#include "testing.h"

#include "levee/json.h"

static lv_json *parse(lv_arena *a, const char *text)
{
    lv_json *root = NULL;
    lv_error err = { 0 };
    lv_status st = lv_json_parse(a, text, strlen(text), &root, &err);
    if (st != LV_OK)
        fprintf(stderr, "parse failed: %s\n", err.msg);
    assert_int_equal(st, LV_OK);
    return root;
}

static void test_numbers_keep_their_text(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root = parse(&a, "{\"id\": 21070000000098765, \"big\": 123456789012345678901234567890, \"f\": -1.5e3}");
    const lv_json *id = lv_json_get(root, "id");
    assert_int_equal(id->type, LV_JSON_NUMBER);
    assert_int_equal(id->len, 17);
    assert_memory_equal(id->str, "21070000000098765", 17);
    assert_memory_equal(lv_json_get(root, "big")->str, "123456789012345678901234567890", 30);
    assert_memory_equal(lv_json_get(root, "f")->str, "-1.5e3", 6);
    lv_arena_free(&a);
}

static void test_tree_and_lookups(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root = parse(&a, "{\"a\": {\"b\": [10, {\"c\": \"x\\ny\"}, true, null]}, \"k\\u00e9y\": false}");
    assert_int_equal(root->type, LV_JSON_OBJECT);
    assert_int_equal(root->len, 2);
    const lv_json *c = lv_json_path(root, "a/b/1/c");
    assert_non_null(c);
    assert_int_equal(c->len, 3);
    assert_memory_equal(c->str, "x\ny", 3);
    assert_true(lv_json_path(root, "a/b/2")->boolean);
    assert_int_equal(lv_json_path(root, "a/b/3")->type, LV_JSON_NULL);
    assert_null(lv_json_path(root, "a/b/4"));
    assert_null(lv_json_path(root, "a/x"));
    assert_non_null(lv_json_get(root, "k\xC3\xA9y"));
    lv_arena_free(&a);
}

static void expect_parse_error(const char *text, const char *fragment)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_error err = { 0 };
    assert_int_equal(lv_json_parse(&a, text, strlen(text), &root, &err), LV_EINVAL);
    if (!strstr(err.msg, fragment))
        fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, fragment);
    assert_non_null(strstr(err.msg, fragment));
    lv_arena_free(&a);
}

static void test_errors_say_where(void **state)
{
    (void)state;
    expect_parse_error("{\"a\": }", "not JSON");
    expect_parse_error("{\"a\": 1", "ends before it is complete");
    expect_parse_error("{\"a\": 1} x", "not JSON");
    expect_parse_error("{\"a\": \"\xFF\"}", "not JSON");  /* invalid UTF-8 */
    expect_parse_error("{a: 1}", "at byte");
    expect_parse_error("", "not JSON");
}

static void test_depth_limit(void **state)
{
    (void)state;
    char deep[2 * (LV_JSON_MAX_DEPTH + 2) + 1];
    size_t n = 0;
    for (int i = 0; i < LV_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = '[';
    for (int i = 0; i < LV_JSON_MAX_DEPTH + 1; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    expect_parse_error(deep, "nested deeper than 64 levels");
    /* exactly at the limit is fine */
    lv_arena a;
    lv_arena_init(&a, 4096);
    deep[0] = ' ';
    deep[n - 1] = ' ';
    lv_json *root;
    assert_int_equal(lv_json_parse(&a, deep, n, &root, NULL), LV_OK);
    /* levee's own answers may nest deeper: a limit of their own */
    deep[0] = '[';
    deep[n - 1] = ']';
    assert_int_equal(lv_json_parse_depth(&a, deep, n, LV_ANSWER_MAX_DEPTH, &root, NULL), LV_OK);
    lv_error err;
    assert_int_equal(lv_json_parse_depth(&a, deep, n, 10, &root, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper than 10 levels"));
    lv_arena_free(&a);
}

static void test_writer_escapes(void **state)
{
    (void)state;
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_obj_open(w);
    lv_jw_kv_str(w, "s", "a\"b\\c\n\t\x01/\xC3\xA9", 11);
    lv_jw_kv_int(w, "i", -42);
    lv_jw_kv_bool(w, "b", true);
    lv_jw_key(w, "n");
    lv_jw_null(w);
    lv_jw_key(w, "a");
    lv_jw_arr_open(w);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    assert_string_equal(out.data, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/\xC3\xA9\",\"i\":-42,\"b\":true,\"n\":null,\"a\":[]}");
    lv_buf_free(&out);
}

/* Escaping skips plain text sixteen or eight bytes at a time: each byte that needs escaping must still
 * be caught wherever it falls in a block, and bytes >= 0x80 (UTF-8) never are escaped. */
static void test_writer_escapes_at_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = { '"', '\\', '\n', 0x01, 0x1f, 0x7f, 0x80, 0xC3, 0xFF, ' ', '!' };
    for (size_t k = 0; k < sizeof special; k++) {
        for (size_t at = 0; at < 40; at++) {
            char in[40];
            memset(in, 'x', sizeof in);
            in[at] = (char)special[k];
            lv_buf out;
            lv_buf_init(&out);
            lv_jw *w = lv_jw_new(&out, false);
            lv_jw_str(w, in, sizeof in);
            lv_jw_free(w);
            /* what a byte-by-byte escaper writes */
            char want[128];
            size_t n = 0;
            want[n++] = '"';
            for (size_t i = 0; i < sizeof in; i++) {
                unsigned char c = (unsigned char)in[i];
                if (c == '"' || c == '\\') {
                    want[n++] = '\\';
                    want[n++] = (char)c;
                } else if (c == '\n') {
                    want[n++] = '\\';
                    want[n++] = 'n';
                } else if (c < 0x20) {
                    n += (size_t)snprintf(want + n, sizeof want - n, "\\u%04x", c);
                } else {
                    want[n++] = (char)c;
                }
            }
            want[n++] = '"';
            want[n] = '\0';
            assert_int_equal(out.len, n);
            assert_memory_equal(out.data, want, n);
            lv_buf_free(&out);
        }
    }
}

/* A literal made by lv_json_quote and written later with lv_jw_quoted is what lv_jw_str writes. */
static void test_quoted_literal(void **state)
{
    (void)state;
    static const char text[] = "<p class=\"x\">caf\xC3\xA9\n\\</p>";
    lv_buf literal, direct, later;
    lv_buf_init(&literal);
    lv_buf_init(&direct);
    lv_buf_init(&later);
    lv_json_quote(&literal, text, sizeof text - 1);
    lv_jw *a = lv_jw_new(&direct, false), *b = lv_jw_new(&later, false);
    lv_jw_obj_open(a);
    lv_jw_kv_str(a, "text", text, sizeof text - 1);
    lv_jw_obj_close(a);
    lv_jw_obj_open(b);
    lv_jw_key(b, "text");
    lv_jw_quoted(b, literal.data, literal.len);
    lv_jw_obj_close(b);
    assert_string_equal(later.data, direct.data);
    assert_string_equal(later.data, "{\"text\":\"<p class=\\\"x\\\">caf\xC3\xA9\\n\\\\</p>\"}");
    lv_jw_free(a);
    lv_jw_free(b);
    lv_buf_free(&literal);
    lv_buf_free(&direct);
    lv_buf_free(&later);
}

static void test_pretty(void **state)
{
    (void)state;
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, true);
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "a", "x");
    lv_jw_key(w, "b");
    lv_jw_arr_open(w);
    lv_jw_int(w, 1);
    lv_jw_int(w, 2);
    lv_jw_arr_close(w);
    lv_jw_key(w, "c");
    lv_jw_obj_open(w);
    lv_jw_obj_close(w);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    assert_string_equal(out.data, "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}");
    lv_buf_free(&out);
}

static void test_round_trip(void **state)
{
    (void)state;
    const char *text = "{\"metadata\":{\"event_name\":\"x\",\"n\":21070000000098765,\"e\":\"\\u0000\\\"\"},"
                       "\"body\":[1,2.5,true,false,null,{},[],\"\\u2028\\ud83d\\ude00\"]}";
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root = parse(&a, text);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_value(w, root);
    lv_jw_free(w);
    lv_json *again = parse(&a, out.data);
    lv_buf out2;
    lv_buf_init(&out2);
    w = lv_jw_new(&out2, false);
    lv_jw_value(w, again);
    lv_jw_free(w);
    assert_string_equal(out.data, out2.data);
    const lv_json *e = lv_json_path(again, "metadata/e");
    assert_int_equal(e->len, 2);
    assert_memory_equal(e->str, "\0\"", 2);
    lv_buf_free(&out);
    lv_buf_free(&out2);
    lv_arena_free(&a);
}

static void test_building(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *obj = lv_json_new(&a, LV_JSON_OBJECT);
    lv_json *inner = lv_json_object_at(&a, obj, "actor");
    lv_json_set(&a, inner, "id", lv_json_new_string(&a, "u1", 2));
    lv_json_set(&a, inner, "id", lv_json_new_string(&a, "u2", 2)); /* replaces */
    assert_ptr_equal(lv_json_object_at(&a, obj, "actor"), inner);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_value(w, obj);
    lv_jw_free(w);
    assert_string_equal(out.data, "{\"actor\":{\"id\":\"u2\"}}");
    lv_buf_free(&out);
    lv_arena_free(&a);
}

/* A writer with a sink writes the same bytes as one without: part to the sink as it goes, the rest
 * left in the buffer; the buffer never holds much more than 64 KB. */
static void test_sink(void **state)
{
    (void)state;
    lv_buf whole, part;
    lv_buf_init(&whole);
    lv_buf_init(&part);
    lv_jw *a = lv_jw_new(&whole, false), *b = lv_jw_new(&part, false);
    FILE *sink = tmpfile();
    assert_non_null(sink);
    lv_jw_set_sink(b, sink);
    size_t most = 0;
    char text[600];
    memset(text, 'x', sizeof text);
    for (lv_jw *w = a; w; w = w == a ? b : NULL) {
        lv_jw_obj_open(w);
        lv_jw_key(w, "entries");
        lv_jw_arr_open(w);
        for (int i = 0; i < 2000; i++) {
            lv_jw_obj_open(w);
            lv_jw_kv_int(w, "id", i);
            lv_jw_kv_str(w, "text", text, (size_t)(i % 600));
            lv_jw_obj_close(w);
            if (w == b && part.len > most)
                most = part.len;
        }
        lv_jw_arr_close(w);
        lv_jw_obj_close(w);
    }
    long sunk = ftell(sink);
    assert_true(sunk > 0);
    assert_int_equal((size_t)sunk + part.len, whole.len);
    assert_true(most < (1u << 16) + 1024);
    char *got = malloc((size_t)sunk);
    rewind(sink);
    assert_int_equal(fread(got, 1, (size_t)sunk, sink), (size_t)sunk);
    assert_memory_equal(got, whole.data, (size_t)sunk);
    assert_memory_equal(part.data, whole.data + sunk, part.len);
    free(got);
    fclose(sink);
    lv_jw_free(a);
    lv_jw_free(b);
    lv_buf_free(&whole);
    lv_buf_free(&part);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_keep_their_text),
        cmocka_unit_test(test_tree_and_lookups),
        cmocka_unit_test(test_errors_say_where),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_writer_escapes),
        cmocka_unit_test(test_writer_escapes_at_every_position),
        cmocka_unit_test(test_quoted_literal),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_building),
        cmocka_unit_test(test_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
