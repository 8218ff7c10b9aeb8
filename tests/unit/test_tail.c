/* test_tail.c: the live tail's ring (filters, numbering, a reader that falls behind, closing) and the
 * metrics it sits beside (Prometheus text with levee_ names, counts by event and format). */
#include "testing.h"

#include "levee/event.h"
#include "levee/metrics.h"
#include "levee/tail.h"

#include <stdio.h>

/* A canvas event as a document, and the canonical record levee makes of it. */
static char *entry_doc(unsigned id, const char *course)
{
    char *doc = lv_xmalloc(1024);
    snprintf(doc, 1024,
             "{\"metadata\":{\"root_account_id\":\"21070000000000001\",\"event_name\":\"discussion_entry_created\","
             "\"event_time\":\"2019-11-01T19:11:03.933Z\",\"context_type\":\"Course\",\"context_id\":\"%s\"},"
             "\"body\":{\"created_at\":\"2019-11-01T19:11:03Z\",\"discussion_entry_id\":\"%u\","
             "\"discussion_topic_id\":\"5\",\"text\":\"<p>hi</p>\",\"user_id\":\"7\"}}", course, id);
    return doc;
}

static char *record_of(const char *doc)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc d;
    lv_decode(&a, doc, strlen(doc), NULL, &d);
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_record_write(w, &d.events[0]);
    lv_jw_free(w);
    lv_arena_free(&a);
    return lv_buf_detach(&b, NULL);
}

static void publish(lv_tail *t, const char *doc, uint64_t course)
{
    lv_tail_publish(t, "discussion_entry_created", 24, course, doc, strlen(doc), 0);
}

static void test_publish_and_filter(void **state)
{
    (void)state;
    lv_tail *t = lv_tail_new(8);
    uint64_t next = lv_tail_next(t);
    char *a = entry_doc(1, "21070000000000565"), *b = entry_doc(2, "21070000000000999");
    publish(t, a, 21070000000000565ULL);
    lv_tail_publish(t, "conversation_created", 20, 0, "{}", 2, 0); /* a document that is no event */
    publish(t, b, 21070000000000999ULL);
    char *ra = record_of(a), *rb = record_of(b), *rc = record_of("{}");
    lv_buf out, want;
    lv_buf_init(&out);
    lv_buf_init(&want);
    lv_tail_filter all = { 0 };
    uint64_t n = next;
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 0), 3);
    lv_buf_printf(&want, "id: 1\nevent: discussion_entry_created\ndata: %s\n\n"
                         "id: 2\nevent: conversation_created\ndata: %s\n\n"
                         "id: 3\nevent: discussion_entry_created\ndata: %s\n\n", ra, rc, rb);
    assert_string_equal(out.data, want.data);
    /* a second reader gets the same records (made once, kept) */
    lv_buf_reset(&out);
    n = next;
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 0), 3);
    assert_string_equal(out.data, want.data);
    lv_buf_reset(&out);
    lv_tail_filter entries_565 = { "discussion_entry_created", 565 }; /* a local course id */
    n = next;
    assert_int_equal(lv_tail_read(t, &n, &entries_565, &out, 0), 1);
    assert_non_null(strstr(out.data, "\"discussion_entry_id\":\"21070000000000001\""));
    /* nothing new: returns 0 after the timeout */
    lv_buf_reset(&out);
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 10), 0);
    lv_buf_free(&out);
    lv_buf_free(&want);
    free(a);
    free(b);
    free(ra);
    free(rb);
    free(rc);
    lv_tail_free(t);
}

static void test_falling_behind_and_closing(void **state)
{
    (void)state;
    lv_tail *t = lv_tail_new(4);
    uint64_t n = lv_tail_next(t);
    /* published with nobody listening: still kept for a reader that comes later (Last-Event-ID) */
    for (int i = 0; i < 10; i++)
        lv_tail_publish(t, "x", 1, 0, "{}", 2, 0);
    assert_int_equal(lv_tail_subscribers(t), 0);
    lv_buf out;
    lv_buf_init(&out);
    lv_tail_filter all = { 0 };
    assert_int_equal(lv_tail_read(t, &n, &all, &out, 0), 4);
    assert_true(strncmp(out.data, ": missed 6 events", 17) == 0);
    lv_tail_subscribe(t);
    assert_int_equal(lv_tail_subscribers(t), 1);
    lv_tail_unsubscribe(t);
    assert_int_equal(lv_tail_subscribers(t), 0);
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
