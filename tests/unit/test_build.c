/* test_build.c: events built through the catalog write out as canvas events that decode back to the
 * same values, and convert to Caliper. */
#include "testing.h"

#include "levee/caliper.h"

static void test_built_entry_round_trips(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 14);
    lv_event ev;
    lv_event_build(&ev, lv_kind_find("discussion_entry_created", 24));
    lv_value_set_id(lv_event_meta_slot(&ev, LV_M_ROOT_ACCOUNT_ID), 21070000000000001ULL);
    lv_value_set_id(lv_event_meta_slot(&ev, LV_M_USER_ID), 21070000000098765ULL);
    lv_value_set_cstr(lv_event_meta_slot(&ev, LV_M_HOSTNAME), "canvas.example.edu");
    lv_value_set_null(lv_event_meta_slot(&ev, LV_M_REFERRER));
    lv_value_set_time(&a, lv_event_meta_slot(&ev, LV_M_EVENT_TIME), 1572635463933LL, 0, true);
    lv_value_set_time(&a, lv_event_body_slot(&ev, LV_B_CREATED_AT), 1572635463933LL, -360, false);
    lv_value_set_id(lv_event_body_slot(&ev, LV_B_DISCUSSION_ENTRY_ID), 2134567);
    lv_value_set_id(lv_event_body_slot(&ev, LV_B_DISCUSSION_TOPIC_ID), 123456);
    lv_value_set_id(lv_event_body_slot(&ev, LV_B_USER_ID), 98765);
    lv_value_set_cstr(lv_event_body_slot(&ev, LV_B_TEXT), "<p>caf\xC3\xA9 \"quoted\"</p>");
    assert_null(lv_event_body_slot(&ev, LV_B_TITLE));
    lv_event_build_finish(&a, &ev);
    assert_true(ev.body[5].global_id == 21070000000098765ULL);

    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    assert_int_equal(lv_canvas_write_event(&ev, w, NULL), LV_OK);
    assert_non_null(strstr(out.data, "\"created_at\":\"2019-11-01T13:11:03-06:00\""));
    assert_non_null(strstr(out.data, "\"event_time\":\"2019-11-01T19:11:03.933Z\""));
    assert_non_null(strstr(out.data, "\"referrer\":null"));
    lv_doc doc = decode_text(&a, out.data, true);
    print_diags(&doc.events[0]);
    assert_false(doc.events[0].rejected);
    const lv_value *created = lv_event_body(&doc.events[0], LV_B_CREATED_AT);
    assert_true(created->ms == 1572635463000LL); /* whole seconds, as Canvas sends body times */
    assert_memory_equal(lv_event_body(&doc.events[0], LV_B_TEXT)->str, "<p>caf\xC3\xA9 \"quoted\"</p>", 21);

    lv_buf_reset(&out);
    lv_jw_reset(w);
    assert_int_equal(lv_caliper_write_envelope(&ev, &a, w, NULL), LV_OK);
    doc = decode_text(&a, out.data, true);
    print_diags(&doc.events[0]);
    assert_false(doc.events[0].rejected);
    assert_string_equal(doc.events[0].kind->name, "discussion_entry_created");
    lv_jw_free(w);
    lv_buf_free(&out);
    lv_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_built_entry_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
