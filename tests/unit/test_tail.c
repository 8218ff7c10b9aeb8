/* test_tail.c: the live tail's ring (filters, numbering, a reader that falls behind, closing) and the
 * metrics it sits beside (Prometheus text with levee_ names, counts by event and format). */
#include "testing.h"

#include "levee/metrics.h"
#include "levee/tail.h"

static void test_publish_and_filter(void **state)
{
    (void)state;
    lv_tail *t = lv_tail_new(8);
    uint64_t next = lv_tail_next(t);
    lv_tail_publish(t, "discussion_entry_created", 24, 21070000000000565ULL, "{\"a\":1}", 7);
    lv_tail_publish(t, "conversation_created", 20, 0, "{\"b\":2}", 7);
    lv_tail_publish(t, "discussion_entry_created", 24, 21070000000000999ULL, "{\"c\":3}", 7);
    lv_buf out;
    lv_buf_init(&out);
    lv_tail_filter all = { 0 };
    uint64_t n = next;
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 0), 3);
    assert_string_equal(out.data, "id: 1\nevent: discussion_entry_created\ndata: {\"a\":1}\n\n"
                                  "id: 2\nevent: conversation_created\ndata: {\"b\":2}\n\n"
                                  "id: 3\nevent: discussion_entry_created\ndata: {\"c\":3}\n\n");
    lv_buf_reset(&out);
    lv_tail_filter entries_565 = { "discussion_entry_created", 565 }; /* a local course id */
    n = next;
    assert_int_equal(lv_tail_read(t, &n, &entries_565, &out, 0), 1);
    assert_non_null(strstr(out.data, "{\"a\":1}"));
    /* nothing new: returns 0 after the timeout */
    lv_buf_reset(&out);
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 10), 0);
    lv_buf_free(&out);
    lv_tail_free(t);
}

static void test_falling_behind_and_closing(void **state)
{
    (void)state;
    lv_tail *t = lv_tail_new(4);
    uint64_t n = lv_tail_next(t);
    for (int i = 0; i < 10; i++)
        lv_tail_publish(t, "x", 1, 0, "{}", 2);
    lv_buf out;
    lv_buf_init(&out);
    lv_tail_filter all = { 0 };
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 0), 4);
    assert_true(strncmp(out.data, ": missed 6 events", 17) == 0);
    lv_tail_subscribe(t);
    assert_true(lv_tail_listened(t));
    lv_tail_unsubscribe(t);
    assert_false(lv_tail_listened(t));
    lv_tail_close(t);
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 1000), -1);
    lv_buf_free(&out);
    lv_tail_free(t);
}

static void test_metrics_text(void **state)
{
    (void)state;
    lv_metrics *m = lv_metrics_new();
    lv_metrics_count(m, LV_M_RECEIVED, "discussion_entry_created", 24, LV_FORMAT_CALIPER, 3);
    lv_metrics_count(m, LV_M_RECEIVED, "asset_accessed", 14, LV_FORMAT_CANVAS, 2);
    lv_metrics_count(m, LV_M_REFUSED, NULL, 0, LV_FORMAT_CANVAS, 1);
    lv_metrics_request(m, "events", 200, 0.0004);
    lv_metrics_request(m, "events", 401, 0.002);
    lv_metrics_commit(m, 0.003, 5);
    lv_metrics_gauges g = { .journal_backlog_bytes = 42, .ready = true };
    lv_buf out;
    lv_buf_init(&out);
    lv_metrics_render(m, &g, &out);
    assert_non_null(strstr(out.data, "levee_events_received_total{event=\"discussion_entry_created\",format=\"caliper\"} 3\n"));
    assert_non_null(strstr(out.data, "levee_events_received_total{event=\"other\",format=\"canvas\"} 2\n"));
    assert_non_null(strstr(out.data, "levee_events_refused_total{event=\"other\",format=\"canvas\"} 1\n"));
    assert_non_null(strstr(out.data, "levee_http_requests_total{route=\"events\",status=\"4xx\"} 1\n"));
    assert_non_null(strstr(out.data, "levee_http_request_duration_seconds_bucket{route=\"events\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(out.data, "levee_http_request_duration_seconds_bucket{route=\"events\",le=\"0.0025\"} 2\n"));
    assert_non_null(strstr(out.data, "levee_commit_duration_seconds_count{} 1\n"));
    assert_non_null(strstr(out.data, "levee_commit_records_total 5\n"));
    assert_non_null(strstr(out.data, "levee_queue_depth_bytes 42\n"));
    assert_non_null(strstr(out.data, "levee_ready 1\n"));
    /* every sample line is a levee_ metric */
    for (char *line = out.data; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (*line != '#' && *line != '\n')
            assert_int_equal(strncmp(line, "levee_", 6), 0);
    lv_buf_free(&out);
    lv_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_filter),
        cmocka_unit_test(test_falling_behind_and_closing),
        cmocka_unit_test(test_metrics_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
