/* test_json.c: parsing into the arena tree (exact numbers, errors, depth limit, text made valid UTF-8), lookups,
 * and the writer (escaping, only valid UTF-8, pretty printing, round trip through the parser). */
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
    expect_parse_error("{\"a\": \"x\x01\"}", "not JSON");  /* a raw control character */
    expect_parse_error("{\"a\": \"\\u12\"}", "not JSON");  /* a short escape */
    expect_parse_error("{\"a\": 1\xFF}", "not JSON");     /* ill-formed UTF-8 outside a string is syntax */
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
 * be caught wherever it falls in a block; well-formed UTF-8 is never escaped, and a byte that is not
 * part of well-formed UTF-8 is written as U+FFFD, wherever it falls. */
static void test_writer_escapes_at_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = { '"', '\\', '\n', 0x01, 0x1f, 0x7f, 0x80, 0xC3, 0xFF, 0xC0, 0xED, ' ', '!' };
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
                } else if (c >= 0x80) { /* alone among 'x's: never well-formed */
                    memcpy(want + n, "\xEF\xBF\xBD", 3);
                    n += 3;
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

/* One string of a document and what the parser must make of it: the text it keeps (valid UTF-8) and
 * the repair it reports. */
static void expect_text(const char *json, size_t json_len, const char *want, size_t want_len, const char *path,
                        const char *fragment)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root = NULL;
    lv_json_report rep;
    lv_error err = { 0 };
    lv_status st = lv_json_parse_report(&a, json, json_len, LV_JSON_MAX_DEPTH, &root, &rep, &err);
    lv_json_repair *repairs = rep.repairs;
    size_t n_repairs = rep.n_repairs;
    if (st != LV_OK)
        fprintf(stderr, "parse failed: %s\n", err.msg);
    assert_int_equal(st, LV_OK);
    const lv_json *v = lv_json_path(root, "a/0");
    assert_non_null(v);
    assert_int_equal(v->type, LV_JSON_STRING);
    if (v->len != want_len || memcmp(v->str, want, want_len) != 0) {
        fprintf(stderr, "for %.*s got:", (int)json_len, json);
        for (size_t i = 0; i < v->len; i++)
            fprintf(stderr, " %02X", (unsigned char)v->str[i]);
        fprintf(stderr, "\n");
    }
    assert_int_equal(v->len, want_len);
    assert_memory_equal(v->str, want, want_len);
    if (!fragment) {
        assert_null(repairs);
        assert_int_equal(n_repairs, 0);
    } else {
        assert_non_null(repairs);
        assert_int_equal(n_repairs, 1);
        assert_string_equal(repairs->path, path);
        if (!strstr(repairs->message, fragment))
            fprintf(stderr, "message '%s' lacks '%s'\n", repairs->message, fragment);
        assert_non_null(strstr(repairs->message, fragment));
        assert_null(repairs->next);
    }
    lv_arena_free(&a);
}

#define FFFD "\xEF\xBF\xBD"
#define TEXT(json, want, fragment) \
    expect_text("{\"a\": [" json "]}", sizeof "{\"a\": [" json "]}" - 1, want, sizeof want - 1, "/a/0", fragment)

/* Everything RFC 3629 forbids, raw or escaped: YAJL lets most of it through (or turns a lone
 * surrogate escape into "?"); levee keeps U+FFFD in its place and says what was wrong and where. */
static void test_invalid_text_is_repaired(void **state)
{
    (void)state;
    TEXT("\"caf\xC3\xA9 \xF0\x9F\x98\x80\"", "caf\xC3\xA9 \xF0\x9F\x98\x80", NULL);
    TEXT("\"a\\u00e9\\ud83d\\ude00\\u0000z\"", "a\xC3\xA9\xF0\x9F\x98\x80\0z", NULL); /* a pair, and NUL kept */
    TEXT("\"\xC0\xAF\"", FFFD FFFD, "the byte C0 at byte 0 of the string as written is an overlong form");
    TEXT("\"x\xE0\x80\xAF\"", "x" FFFD FFFD FFFD, "the byte E0 at byte 1 of the string as written is an overlong form");
    TEXT("\"\xED\xA0\x80\"", FFFD FFFD FFFD, "an encoded UTF-16 surrogate");
    TEXT("\"\xF4\x90\x80\x80\"", FFFD FFFD FFFD FFFD, "beyond U+10FFFF");
    TEXT("\"\xF5\x80\"", FFFD FFFD, "beyond U+10FFFF");
    TEXT("\"\xFF\"", FFFD, "never appears in UTF-8");
    TEXT("\"\x80z\"", FFFD "z", "a continuation byte with no lead byte");
    TEXT("\"a\xE2\x82\"", "a" FFFD, "the bytes E2 82 at byte 1 of the string as written are a sequence cut short");
    TEXT("\"\xF0\x9F\x98z\"", FFFD "z", "cut short");
    /* lone surrogate escapes, alone and among escapes */
    TEXT("\"\\ud800\"", FFFD, "the escape \\ud800 at byte 0 of the string as written is a lone high surrogate");
    TEXT("\"\\udc00\"", FFFD, "a lone low surrogate");
    TEXT("\"\\ud800\\u0041\"", FFFD "A", "lone high surrogate");
    TEXT("\"\\ud800x\"", FFFD "x", "lone high surrogate");
    TEXT("\"\\ud800\\ud800\\udc00\"", FFFD "\xF0\x90\x80\x80", "lone high surrogate");
    TEXT("\"\\\"q\\\\\\ud800\"", "\"q\\" FFFD, "at byte 5 of the string as written");
    /* raw ill-formed bytes in a string that also has escapes */
    TEXT("\"\\n\xC0\xAF\\t\"", "\n" FFFD FFFD "\t", "the byte C0 at byte 2");
    /* more than one: counted */
    TEXT("\"\xC0-\xFF-\\udc00\"", FFFD "-" FFFD "-" FFFD, "and 2 more");
}

/* With a report, a document nested deeper than the limit is kept: each value that begins at the limit
 * is one LV_JSON_RAW node holding it as compact JSON, written back unchanged; its strings are made
 * valid like any other, and the report names where the cut is. */
static void test_deep_values_kept_whole(void **state)
{
    (void)state;
    lv_buf doc, want;
    lv_buf_init(&doc);
    lv_buf_init(&want);
    lv_buf_puts(&doc, "{\"a\": ");
    lv_buf_puts(&want, "{\"a\":");
    for (int i = 0; i < LV_JSON_MAX_DEPTH + 5; i++) {
        lv_buf_puts(&doc, "[ 1, ");
        lv_buf_puts(&want, "[1,");
    }
    lv_buf_puts(&doc, "{\"k\xC0\" : \"v\\ud800\\n\", \"n\": null, \"t\": true, \"f\": false, \"e\": {}, \"x\": -1.5e3}");
    lv_buf_puts(&want, "{\"k" FFFD "\":\"v" FFFD "\\n\",\"n\":null,\"t\":true,\"f\":false,\"e\":{},\"x\":-1.5e3}");
    for (int i = 0; i < LV_JSON_MAX_DEPTH + 5; i++) {
        lv_buf_puts(&doc, " ]");
        lv_buf_puts(&want, "]");
    }
    lv_buf_puts(&doc, ", \"b\": 2}");
    lv_buf_puts(&want, ",\"b\":2}");
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_error err;
    /* without a report: refused, as before */
    assert_int_equal(lv_json_parse(&a, doc.data, doc.len, &root, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "nested deeper than 64 levels"));
    lv_json_report rep;
    assert_int_equal(lv_json_parse_report(&a, doc.data, doc.len, LV_JSON_MAX_DEPTH, &root, &rep, &err), LV_OK);
    assert_int_equal(rep.n_deep, 1);
    /* the cut is the 64th container's second member: /a then 63 times /1 */
    lv_buf path;
    lv_buf_init(&path);
    lv_buf_puts(&path, "/a");
    for (int i = 0; i < LV_JSON_MAX_DEPTH - 1; i++)
        lv_buf_puts(&path, "/1");
    assert_string_equal(rep.deep->path, path.data);
    assert_non_null(strstr(rep.deep->message, "nested deeper than 64 levels"));
    /* the strings inside were repaired, and named by the deep value they are in */
    assert_int_equal(rep.n_repairs, 2);
    assert_string_equal(rep.repairs->path, path.data);
    assert_string_equal(rep.repairs->next->path, path.data);
    assert_non_null(strstr(rep.repairs->message, "member name"));
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_value(w, root);
    lv_jw_free(w);
    assert_int_equal(out.len, want.len);
    assert_memory_equal(out.data, want.data, want.len);
    assert_int_equal(lv_json_get(root, "b")->type, LV_JSON_NUMBER);
    lv_buf_free(&out);
    lv_buf_free(&path);
    lv_buf_free(&doc);
    lv_buf_free(&want);
    lv_arena_free(&a);
}

/* As deep as a 1,000,000-byte document can go: kept, in memory linear in its size (YAJL's own stack
 * grows through the arena, which doubles blocks) and without recursion. */
static void test_deepest_document(void **state)
{
    (void)state;
    size_t levels = 499990;
    char *doc = malloc(2 * levels);
    memset(doc, '[', levels);
    memset(doc + levels, ']', levels);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_json_report rep;
    assert_int_equal(lv_json_parse_report(&a, doc, 2 * levels, LV_JSON_MAX_DEPTH, &root, &rep, NULL), LV_OK);
    assert_int_equal(rep.n_deep, 1);
    const lv_json *raw = root;
    for (int i = 0; i < LV_JSON_MAX_DEPTH; i++)
        raw = raw->child;
    assert_int_equal(raw->type, LV_JSON_RAW);
    assert_int_equal(raw->len, 2 * (levels - LV_JSON_MAX_DEPTH));
    lv_arena_free(&a);
    free(doc);
}

/* The report names the value by its JSON pointer; a member name is repaired too. */
static void test_repairs_name_the_field(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 4096);
    static const char doc[] = "{\"body\": {\"a/b~\": [1, {\"x\": \"ok\", \"t\": \"\xC0\"}]}, \"k\xED\xA0\x80\": 1}";
    lv_json *root;
    lv_json_report rep;
    assert_int_equal(lv_json_parse_report(&a, doc, sizeof doc - 1, LV_JSON_MAX_DEPTH, &root, &rep, NULL), LV_OK);
    assert_int_equal(rep.n_repairs, 2);
    const lv_json_repair *r = rep.repairs;
    assert_string_equal(r->path, "/body/a~1b~0/1/t");
    assert_non_null(strstr(r->message, "the text is not valid UTF-8"));
    assert_string_equal(r->next->path, "/k" FFFD FFFD FFFD);
    assert_non_null(strstr(r->next->message, "the member name is not valid UTF-8"));
    assert_non_null(lv_json_get(root, "k" FFFD FFFD FFFD));
    /* the plain parse repairs the same way, without a report */
    assert_int_equal(lv_json_parse(&a, doc, sizeof doc - 1, &root, NULL), LV_OK);
    const lv_json *body = lv_json_get(root, "body");
    assert_true(lv_json_str_is(lv_json_path(lv_json_get(body, "a/b~"), "1/t"), FFFD));
    lv_arena_free(&a);
}

/* However many strings are bad, the list stays short and the count stays exact. */
static void test_repairs_are_bounded(void **state)
{
    (void)state;
    lv_buf doc;
    lv_buf_init(&doc);
    lv_buf_putc(&doc, '[');
    for (int i = 0; i < 1000; i++)
        lv_buf_printf(&doc, "%s\"\xC0\"", i ? "," : "");
    lv_buf_putc(&doc, ']');
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_json_report rep;
    assert_int_equal(lv_json_parse_report(&a, doc.data, doc.len, LV_JSON_MAX_DEPTH, &root, &rep, NULL), LV_OK);
    assert_int_equal(rep.n_repairs, 1000);
    size_t listed = 0;
    for (const lv_json_repair *r = rep.repairs; r; r = r->next)
        listed++;
    assert_int_equal(listed, LV_JSON_MAX_REPAIRS);
    assert_string_equal(lv_json_index(root, 999)->str, FFFD);
    lv_arena_free(&a);
    lv_buf_free(&doc);
}

/* Text that never went through the parser (built by code, cut by bytes) is still written as valid
 * UTF-8: the writer replaces what is ill-formed and keeps what is not. */
static void test_writer_writes_only_valid_utf8(void **state)
{
    (void)state;
    static const struct { const char *in; const char *out; } cases[] = {
        { "\xC0\xAF", "\"" FFFD FFFD "\"" },
        { "ab\xED\xA0\x80", "\"ab" FFFD FFFD FFFD "\"" },
        { "\xF4\x90\x80\x80!", "\"" FFFD FFFD FFFD FFFD "!\"" },
        { "caf\xC3", "\"caf" FFFD "\"" },                        /* a character cut in two */
        { "\xE6\x97\xA5\xE6\x9C\xAC\"", "\"\xE6\x97\xA5\xE6\x9C\xAC\\\"\"" },
        { "0123456789abcdef\xE2\x82\xAC\xE2\x82", "\"0123456789abcdef\xE2\x82\xAC" FFFD "\"" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lv_buf out;
        lv_buf_init(&out);
        lv_json_quote(&out, cases[i].in, strlen(cases[i].in));
        assert_int_equal(out.len, strlen(cases[i].out));
        assert_memory_equal(out.data, cases[i].out, out.len);
        lv_buf_free(&out);
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
        cmocka_unit_test(test_invalid_text_is_repaired),
        cmocka_unit_test(test_repairs_name_the_field),
        cmocka_unit_test(test_repairs_are_bounded),
        cmocka_unit_test(test_deep_values_kept_whole),
        cmocka_unit_test(test_deepest_document),
        cmocka_unit_test(test_writer_writes_only_valid_utf8),
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
