/* test_render_safety.c: what the renderer prints of text from the store is safe for a terminal: a
 * topic's title and body, entries' text, search results and table cells carry no control character
 * (C0, DEL, or C1 such as U+009B CSI, also when an entity like &#27; decodes to one), so that someone
 * posting in a course cannot send escape sequences (or fake lines) to the terminal of whoever runs
 * `levee query topic` or `levee search`; and null figures do not crash the renderer. */
#include "testing.h"
#include "levee/render.h"

typedef void (*render_fn)(const lv_json *, lv_buf *);

static void render(render_fn fn, const char *json, lv_buf *out)
{
    lv_arena a; lv_arena_init(&a, 4096);
    lv_json *root; lv_error err;
    assert_int_equal(lv_json_parse(&a, json, strlen(json), &root, &err), LV_OK);
    fn(root, out);
    lv_arena_free(&a);
}

/* No control character but the line ends: no C0 byte, no DEL, no C1 code point (UTF-8 C2 80-9F). */
static void assert_clean(const lv_buf *out)
{
    for (size_t i = 0; i < out->len; i++) {
        unsigned char c = (unsigned char)out->data[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f ||
            (c == 0xc2 && i + 1 < out->len && (unsigned char)out->data[i + 1] >= 0x80 && (unsigned char)out->data[i + 1] <= 0x9f))
            fail_msg("control byte 0x%02x at %zu in:\n%s", c, i, out->data);
    }
}

static void test_topic_text_is_cleaned(void **state)
{
    (void)state;
    lv_buf out; lv_buf_init(&out);
    render(lv_render_topic,
           "{\"topic\":{\"discussion_topic_id\":\"60\",\"title\":\"Week\\u001b[2J\",\"body\":\"<p>x&#27;[31mred</p>\","
           "\"context_id\":\"5\",\"context_type\":\"Course\",\"versions\":1},\"entries\":[{\"id\":\"601\",\"user_id\":\"2\","
           "\"created_at\":\"2024-09-02T18:01:00.000Z\",\"text\":\"<p>hi &#27;]0;pwned&#7; &#155;2J</p>\",\"replies\":[]}],"
           "\"entry_count\":1}", &out);
    assert_clean(&out); /* fails: ESC from the title */
    lv_buf_free(&out);
}

static void test_topic_title_is_one_line(void **state)
{
    (void)state;
    lv_buf out; lv_buf_init(&out);
    render(lv_render_topic, "{\"topic\":{\"discussion_topic_id\":\"60\",\"title\":\"Week 1\\ntopic 61 in Course 5\"},\"entries\":[]}", &out);
    assert_true(strncmp(out.data, "Week 1 topic 61", 15) == 0); /* fails: "Week 1\ntopic 61 in Course 5\ntopic 60..." */
    lv_buf_free(&out);
}

static void test_search_text_is_cleaned(void **state)
{
    (void)state;
    lv_buf out; lv_buf_init(&out);
    render(lv_render_search, "{\"results\":[{\"kind\":\"entry\",\"entry_id\":\"601\",\"topic_title\":\"Week\\u001b[2J\","
           "\"course_id\":\"5\",\"user_id\":\"2\",\"snippet\":\"hi \\u001b]0;pwned\\u0007\"}]}", &out);
    assert_clean(&out); /* fails */
    lv_buf_free(&out);
}

static void test_table_cleans_del_and_c1(void **state)
{
    (void)state;
    lv_table *t = lv_table_new(1, 40);
    lv_table_row(t, (const char *[]){ "h" });
    lv_table_row(t, (const char *[]){ "a\x7f" "b\xc2\x9b" "2J" });
    lv_buf out; lv_buf_init(&out);
    lv_table_write(t, &out);
    lv_table_free(t);
    assert_clean(&out); /* fails: 0x7f */
    lv_buf_free(&out);
}

static void test_null_figures_do_not_crash(void **state)
{
    (void)state;
    lv_buf out; lv_buf_init(&out);
    render(lv_render_stats, "{\"events\":0,\"bytes_per_event\":null,\"raw_bytes_per_event\":null}", &out); /* SIGSEGV */
    render(lv_render_course, "{\"course_id\":\"5\",\"unanswered\":[{\"waiting_seconds\":null}]}", &out); /* SIGSEGV */
    lv_buf_free(&out);
}

/* Cosmetic, with null fields: "updated , 0 version(s)"; "time span          .. " (trailing space);
 * a topic search result's first line ends in two spaces. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_text_is_cleaned),
        cmocka_unit_test(test_topic_title_is_one_line),
        cmocka_unit_test(test_search_text_is_cleaned),
        cmocka_unit_test(test_table_cleans_del_and_c1),
        cmocka_unit_test(test_null_figures_do_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
