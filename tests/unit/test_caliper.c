/* test_caliper.c: Caliper 1.1 decoding (Canvas's examples, envelopes, entities, the required
 * properties) and encoding (Canvas's Forum form, replyTo, deterministic ids, refusals, round trip). */
#include "testing.h"

#include "levee/caliper.h"

/* The payload of the first example in one of Canvas's documentation files, as compact JSON. */
static char *doc_example(lv_arena *a, const char *relative)
{
    char path[512];
    snprintf(path, sizeof path, "%s/canvas-docs/%s", LV_TEST_FIXTURES, relative);
    size_t len = 0;
    char *text = read_file(path, &len);
    assert_non_null(text);
    lv_json *root;
    assert_int_equal(lv_json_parse(a, text, len, &root, NULL), LV_OK);
    const lv_json *payload = lv_json_path(root, "examples/0/payload");
    assert_non_null(payload);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_value(w, payload);
    lv_jw_free(w);
    free(text);
    return lv_buf_detach(&out, NULL);
}

static char *to_caliper(lv_arena *a, const char *canvas_text)
{
    lv_doc doc = decode_text(a, canvas_text, false);
    assert_int_equal(doc.n_events, 1);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_error err;
    lv_status st = lv_caliper_write_envelope(&doc.events[0], a, w, &err);
    lv_jw_free(w);
    if (st != LV_OK) {
        lv_buf_free(&out);
        return NULL;
    }
    return lv_buf_detach(&out, NULL);
}

static const char *str_at(const lv_json *root, const char *path)
{
    const lv_json *n = lv_json_path(root, path);
    if (!n || n->type != LV_JSON_STRING)
        return NULL;
    return n->str; /* parsed strings without escapes point into text; compare with prefixes */
}

static void assert_str_at(const lv_json *root, const char *path, const char *want)
{
    const lv_json *n = lv_json_path(root, path);
    if (!n || !lv_json_str_is(n, want))
        fprintf(stderr, "at %s: want %s, got %.*s\n", path, want, n ? (int)n->len : 4, n ? n->str : "none");
    assert_true(n && lv_json_str_is(n, want));
}

static void test_decodes_canvas_caliper_examples(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *text = doc_example(&a, "caliper/event-types/discussion_entry_created.json");
    lv_doc doc = decode_text(&a, text, true);
    assert_true(doc.envelope);
    assert_int_equal(doc.n_events, 1);
    const lv_event *ev = &doc.events[0];
    print_diags(ev);
    assert_false(ev->rejected);
    assert_string_equal(ev->kind->name, "discussion_entry_created");
    assert_true(lv_event_meta(ev, LV_M_USER_ID)->id == 21070000000098765ULL);
    assert_true(lv_event_body(ev, LV_B_DISCUSSION_ENTRY_ID)->id == 2134567);
    assert_true(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID)->global_id == 21070000000123456ULL);
    /* the actor's global id becomes the body's local user id, as in the canvas form */
    assert_true(lv_event_body(ev, LV_B_USER_ID)->id == 98765);
    assert_memory_equal(lv_event_meta(ev, LV_M_CONTEXT_ROLE)->str, "StudentEnrollment", 17);
    assert_memory_equal(lv_event_meta(ev, LV_M_HOSTNAME)->str, "oxana.instructure.com", 21);
    assert_memory_equal(ev->caliper_id, "urn:uuid:9cc50e7d-2cf0-4ba7-a35f-c299cc7a6ca3", 45);
    free(text);

    text = doc_example(&a, "caliper/event-types/discussion_topic_created.json");
    doc = decode_text(&a, text, true);
    ev = &doc.events[0];
    print_diags(ev);
    assert_false(ev->rejected);
    assert_string_equal(ev->kind->name, "discussion_topic_created");
    assert_true(lv_event_body(ev, LV_B_IS_ANNOUNCEMENT)->boolean);
    assert_memory_equal(lv_event_body(ev, LV_B_TITLE)->str, "Week 10: Sin, cos, and tan", 26);
    assert_memory_equal(lv_event_meta(ev, LV_M_CONTEXT_ROLE)->str, "TeacherEnrollment", 17);
    free(text);
    lv_arena_free(&a);
}

static void test_required_properties_and_version(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    lv_doc doc = decode_text(&a, "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:1\","
                                 "\"type\":\"MessageEvent\",\"action\":\"Posted\",\"object\":\"urn:x\","
                                 "\"eventTime\":\"2019-11-01T19:11:03.933Z\"}", false);
    assert_true(doc.events[0].rejected);
    const lv_diag *d = find_diag(&doc.events[0], "/actor");
    assert_non_null(d);
    assert_non_null(strstr(d->message, "every Caliper event needs it"));

    doc = decode_text(&a, "{\"sensor\":\"s\",\"sendTime\":\"2019-11-01T19:11:03.933Z\",\"dataVersion\":"
                          "\"http://purl.imsglobal.org/ctx/caliper/v1p2\",\"data\":[{\"@context\":"
                          "\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:1\",\"type\":\"Event\","
                          "\"actor\":\"a\",\"action\":\"Used\",\"object\":\"o\",\"eventTime\":\"2019-11-01T19:11:03Z\"}]}",
                    false);
    assert_true(doc.events[0].rejected);
    d = find_diag(&doc.events[0], "/dataVersion");
    assert_non_null(d);
    assert_non_null(strstr(d->message, "is not Caliper 1.1"));

    doc = decode_text(&a, "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p0\",\"id\":\"urn:uuid:1\","
                          "\"type\":\"Event\",\"actor\":\"a\",\"action\":\"Used\",\"object\":\"o\","
                          "\"eventTime\":\"2019-11-01T19:11:03Z\"}", false);
    assert_true(doc.events[0].rejected);
    assert_non_null(find_diag(&doc.events[0], "/@context"));

    /* an event inside an envelope is reported by its place in data */
    doc = decode_text(&a, "{\"sensor\":\"s\",\"sendTime\":\"2019-11-01T19:11:03.933Z\",\"dataVersion\":"
                          "\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":[{\"type\":\"Person\",\"id\":\"p\"},"
                          "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:1\","
                          "\"type\":\"Event\",\"action\":\"Used\",\"object\":\"o\",\"eventTime\":\"bad\"}]}", false);
    assert_int_equal(doc.n_events, 2);
    assert_true(doc.events[0].is_entity);
    assert_false(doc.events[0].rejected);
    assert_non_null(find_diag(&doc.events[1], "/data/1/actor"));
    assert_non_null(find_diag(&doc.events[1], "/data/1/eventTime"));
    lv_arena_free(&a);
}

static void test_non_canvas_posted_message_is_outside_model(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char path[512];
    snprintf(path, sizeof path, "%s/caliper-spec-v1p1/caliperEventMessagePosted.json", LV_TEST_FIXTURES);
    char *text = read_file(path, NULL);
    lv_doc doc = decode_text(&a, text, false);
    const lv_event *ev = &doc.events[0];
    assert_false(ev->rejected);
    assert_null(ev->kind);
    assert_string_equal(ev->name, "MessageEvent.Posted");
    assert_non_null(find_diag(ev, "/object/id"));
    free(text);
    lv_arena_free(&a);
}

static void test_encodes_canvas_forum_form(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *caliper = to_caliper(&a, canvas);
    assert_non_null(caliper);
    lv_json *env;
    assert_int_equal(lv_json_parse(&a, caliper, strlen(caliper), &env, NULL), LV_OK);
    assert_str_at(env, "sensor", "http://oxana.instructure.com/");
    assert_str_at(env, "dataVersion", "http://purl.imsglobal.org/ctx/caliper/v1p1");
    const lv_json *e = lv_json_path(env, "data/0");
    assert_str_at(e, "type", "MessageEvent");
    assert_str_at(e, "action", "Posted");
    assert_str_at(e, "actor/id", "urn:instructure:canvas:user:21070000000098765");
    assert_str_at(e, "actor/extensions/com.instructure.canvas/user_login", "oxana@example.com");
    assert_str_at(e, "object/id", "urn:instructure:canvas:discussionEntry:2134567");
    assert_str_at(e, "object/extensions/com.instructure.canvas/entity_id", "2134567");
    assert_str_at(e, "object/isPartOf/id", "urn:instructure:canvas:discussion:123456");
    assert_str_at(e, "object/replyTo/id", "urn:instructure:canvas:discussionEntry:62152");
    assert_str_at(e, "object/replyTo/type", "Message");
    assert_str_at(e, "object/body", "<p>test this discussion</p>");
    assert_str_at(e, "membership/id", "urn:instructure:canvas:course:21070000000000565:Learner:21070000000098765");
    assert_str_at(e, "membership/roles/0", "Learner");
    assert_str_at(e, "group/type", "CourseOffering");
    assert_str_at(e, "edApp/id", "http://oxana.instructure.com/");
    assert_str_at(e, "session/id", "urn:instructure:canvas:session:ef686f8ed684abf78cbfa1f6a58112b5");
    assert_str_at(e, "extensions/com.instructure.canvas/request_url",
                  "https://oxana.instructure.com/api/v1/courses/452/discussion_topics/123456/entries/62152/replies");
    assert_str_at(e, "extensions/com.instructure.canvas/version", "1.0.0");
    assert_non_null(str_at(e, "id"));
    assert_int_equal(strncmp(str_at(e, "id"), "urn:uuid:", 9), 0);

    /* deterministic id: the same event converts to the same id; a different one does not */
    char *again = to_caliper(&a, canvas);
    assert_string_equal(caliper, again);
    char *other_text = strdup(canvas);
    char *p = strstr(other_text, "2134567");
    p[0] = '3';
    char *other = to_caliper(&a, other_text);
    lv_json *other_env;
    assert_int_equal(lv_json_parse(&a, other, strlen(other), &other_env, NULL), LV_OK);
    assert_false(lv_json_str_is(lv_json_path(other_env, "data/0/id"), str_at(e, "id")));
    free(canvas);
    free(caliper);
    free(again);
    free(other_text);
    free(other);
    lv_arena_free(&a);
}

static void test_refuses_events_without_caliper_form(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/conversation_created.json");
    lv_doc doc = decode_text(&a, canvas, false);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_error err;
    assert_int_equal(lv_caliper_write_envelope(&doc.events[0], &a, w, &err), LV_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "has no Caliper form"));
    lv_jw_free(w);
    lv_buf_free(&out);
    free(canvas);
    lv_arena_free(&a);
}

static void test_system_event_has_root_account_actor(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_topic_created.json");
    char *caliper = to_caliper(&a, canvas);
    assert_non_null(caliper);
    lv_json *env;
    assert_int_equal(lv_json_parse(&a, caliper, strlen(caliper), &env, NULL), LV_OK);
    const lv_json *e = lv_json_path(env, "data/0");
    assert_str_at(e, "actor/id", "urn:instructure:canvas:account:21070000000000001");
    assert_str_at(e, "actor/type", "Organization");
    assert_str_at(e, "extensions/com.instructure.canvas/job_tag", "Canvas::Migration::Worker::CourseCopyWorker#perform");
    assert_str_at(e, "object/name", "Sample discussion");
    assert_str_at(e, "group/id", "urn:instructure:canvas:course:1234560");
    assert_null(lv_json_path(e, "membership"));
    assert_null(lv_json_path(e, "session"));
    assert_str_at(env, "sensor", "http://oxana.instructure.com/");
    /* ... and reads back, strictly, as an event without a user. */
    lv_doc back = decode_text(&a, caliper, true);
    print_diags(&back.events[0]);
    assert_false(back.events[0].rejected);
    assert_int_equal(back.events[0].meta[LV_M_USER_ID].state, LV_ABSENT);
    assert_int_equal(back.events[0].meta[LV_M_JOB_TAG].state, LV_SET);
    free(canvas);
    free(caliper);
    lv_arena_free(&a);
}

/* canvas -> Caliper -> canvas keeps every field the Caliper form carries. */
static void test_round_trip_keeps_carried_fields(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *caliper = to_caliper(&a, canvas);
    lv_doc before = decode_text(&a, canvas, false);
    lv_doc after = decode_text(&a, caliper, false);
    const lv_event *b = &before.events[0], *c = &after.events[0];
    print_diags(c);
    assert_false(c->rejected);
    for (int m = 0; m < LV_META_COUNT; m++) {
        if (!lv_metadata_fields[m].caliper[0].path)
            continue;
        const lv_value *x = &b->meta[m], *y = &c->meta[m];
        assert_int_equal(x->state, y->state);
        if (x->state == LV_SET) {
            if (lv_metadata_fields[m].type == LV_T_ID)
                assert_true(x->id == y->id);
            else if (lv_metadata_fields[m].type == LV_T_TIME)
                assert_true(x->ms == y->ms);
            else {
                assert_int_equal(x->len, y->len);
                assert_memory_equal(x->str, y->str, x->len);
            }
        }
    }
    const lv_kind *k = b->kind;
    for (size_t i = 0; i < k->n_fields; i++) {
        if (!k->fields[i].caliper[0].path)
            continue;
        assert_int_equal(b->body[i].state, c->body[i].state);
        if (k->fields[i].type == LV_T_ID)
            assert_true(b->body[i].id == c->body[i].id);
    }
    free(canvas);
    free(caliper);
    lv_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_canvas_caliper_examples),
        cmocka_unit_test(test_required_properties_and_version),
        cmocka_unit_test(test_non_canvas_posted_message_is_outside_model),
        cmocka_unit_test(test_encodes_canvas_forum_form),
        cmocka_unit_test(test_refuses_events_without_caliper_form),
        cmocka_unit_test(test_system_event_has_root_account_actor),
        cmocka_unit_test(test_round_trip_keeps_carried_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
