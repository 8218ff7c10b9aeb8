/* test_caliper.c: Caliper 1.1 decoding (Canvas's examples, envelopes, entities, the required
 * properties, entity shapes, UUID and URN syntax) and encoding (Canvas's Forum form, replyTo,
 * deterministic ids, refusals, typed groups, memberships, custom roles, round trip). */
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


/* text with the first occurrence of from replaced by to (from must occur). */
static char *replaced(lv_arena *a, const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    return lv_arena_printf(a, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

/* The Caliper event (data[0]) levee writes for a canvas text, parsed. */
static const lv_json *caliper_event(lv_arena *a, const char *canvas_text)
{
    char *caliper = to_caliper(a, canvas_text);
    assert_non_null(caliper);
    char *copy = lv_arena_strndup(a, caliper, strlen(caliper));
    free(caliper);
    lv_json *env;
    assert_int_equal(lv_json_parse(a, copy, strlen(copy), &env, NULL), LV_OK);
    const lv_json *e = lv_json_path(env, "data/0");
    assert_non_null(e);
    return e;
}

/* The text of a Caliper event written back out, to decode it again. */
static char *json_text(lv_arena *a, const lv_json *v)
{
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_value(w, v);
    lv_jw_free(w);
    char *s = lv_arena_strndup(a, (const char *)out.data, out.len);
    lv_buf_free(&out);
    return s;
}

static void assert_value_is(const lv_value *v, const char *want)
{
    assert_int_equal(v->state, LV_SET);
    assert_int_equal(v->len, strlen(want));
    assert_memory_equal(v->str, want, v->len);
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

/* A topic a course copy job creates has its context only in the body: its group is still typed. */
static void test_job_topic_group_is_typed(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_topic_created.json");
    const lv_json *e = caliper_event(&a, canvas);
    assert_str_at(e, "group/id", "urn:instructure:canvas:course:1234560");
    assert_str_at(e, "group/type", "CourseOffering");
    assert_null(lv_json_path(e, "membership"));
    /* in a group, the group's URN and type */
    const lv_json *g = caliper_event(&a, replaced(&a, canvas, "\"context_type\":\"Course\"", "\"context_type\":\"Group\""));
    assert_str_at(g, "group/id", "urn:instructure:canvas:group:1234560");
    assert_str_at(g, "group/type", "Group");
    free(canvas);
    lv_arena_free(&a);
}

/* Without a role the membership is named as Canvas's examples name it, and has no roles; without a
 * context there is no membership (and no group) at all, rather than one without an id. */
static void test_membership_without_role_or_context(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *no_role = replaced(&a, canvas, "\"context_role\":\"StudentEnrollment\",", "");
    const lv_json *e = caliper_event(&a, no_role);
    assert_str_at(e, "membership/id", "urn:instructure:canvas:course:21070000000000565:user:21070000000098765");
    assert_str_at(e, "membership/type", "Membership");
    assert_str_at(e, "membership/member/id", "urn:instructure:canvas:user:21070000000098765");
    assert_str_at(e, "membership/organization/type", "CourseOffering");
    assert_null(lv_json_path(e, "membership/roles"));
    lv_doc back = decode_text(&a, json_text(&a, e), true);
    print_diags(&back.events[0]);
    assert_false(back.events[0].rejected);
    assert_int_equal(back.events[0].meta[LV_M_CONTEXT_ROLE].state, LV_ABSENT);

    /* a null role is no role either */
    e = caliper_event(&a, replaced(&a, canvas, "\"context_role\":\"StudentEnrollment\"", "\"context_role\":null"));
    assert_str_at(e, "membership/id", "urn:instructure:canvas:course:21070000000000565:user:21070000000098765");

    char *no_context = replaced(&a, no_role, "\"context_id\":\"21070000000000565\",", "");
    no_context = replaced(&a, no_context, "\"context_type\":\"Course\",", "");
    e = caliper_event(&a, no_context);
    assert_null(lv_json_path(e, "membership"));
    assert_null(lv_json_path(e, "group"));
    assert_str_at(e, "actor/id", "urn:instructure:canvas:user:21070000000098765");

    /* a context of a type Caliper has no term for has no group: nothing without a type is written */
    e = caliper_event(&a, replaced(&a, canvas, "\"context_type\":\"Course\"", "\"context_type\":\"User\""));
    assert_null(lv_json_path(e, "group"));
    assert_null(lv_json_path(e, "membership"));
    free(canvas);
    lv_arena_free(&a);
}

/* A custom role has no Caliper term: it goes out as Member with its name in the membership's
 * extensions, and comes back; Member alone is GroupMembership only in a group. */
static void test_custom_role_round_trip(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *custom = replaced(&a, canvas, "\"context_role\":\"StudentEnrollment\"", "\"context_role\":\"Learning Assistant\"");
    const lv_json *e = caliper_event(&a, custom);
    assert_str_at(e, "membership/roles/0", "Member");
    assert_str_at(e, "membership/id", "urn:instructure:canvas:course:21070000000000565:Member:21070000000098765");
    assert_str_at(e, "membership/extensions/com.instructure.canvas/context_role", "Learning Assistant");
    char *text = json_text(&a, e);
    lv_doc back = decode_text(&a, text, true);
    print_diags(&back.events[0]);
    assert_false(back.events[0].rejected);
    assert_value_is(&back.events[0].meta[LV_M_CONTEXT_ROLE], "Learning Assistant");

    /* a role Caliper has a term for gets no extension: the form stays Canvas's */
    e = caliper_event(&a, canvas);
    assert_null(lv_json_path(e, "membership/extensions"));

    /* Canvas's own Caliper has no such extension: Member in a course is then a role whose name
     * is not carried, not GroupMembership */
    char *bare = replaced(&a, text, ",\"extensions\":{\"com.instructure.canvas\":{\"context_role\":\"Learning Assistant\"}}", "");
    back = decode_text(&a, bare, true);
    print_diags(&back.events[0]);
    assert_false(back.events[0].rejected);
    assert_int_equal(back.events[0].meta[LV_M_CONTEXT_ROLE].state, LV_ABSENT);
    assert_value_is(&back.events[0].meta[LV_M_CONTEXT_TYPE], "Course");

    /* ... and in a group, Member is GroupMembership */
    char *group = replaced(&a, canvas, "\"context_role\":\"StudentEnrollment\"", "\"context_role\":\"GroupMembership\"");
    group = replaced(&a, group, "\"context_type\":\"Course\"", "\"context_type\":\"Group\"");
    e = caliper_event(&a, group);
    assert_str_at(e, "membership/id", "urn:instructure:canvas:group:21070000000000565:Member:21070000000098765");
    assert_null(lv_json_path(e, "membership/extensions"));
    back = decode_text(&a, json_text(&a, e), true);
    assert_false(back.events[0].rejected);
    assert_value_is(&back.events[0].meta[LV_M_CONTEXT_ROLE], "GroupMembership");
    free(canvas);
    lv_arena_free(&a);
}

/* Caliper's own properties are never null; Canvas's extensions keep nulls. */
static void test_nulls_only_inside_extensions(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *text = replaced(&a, canvas, "\"referrer\":\"https://oxana.instructure.com/courses/2982/discussion_topics/123456\"",
                          "\"referrer\":null");
    text = replaced(&a, text, "\"text\":\"<p>test this discussion</p>\"", "\"text\":null");
    text = replaced(&a, text, "\"user_sis_id\":\"456-T45\"", "\"user_sis_id\":null");
    const lv_json *e = caliper_event(&a, text);
    assert_null(lv_json_get(e, "referrer"));
    assert_null(lv_json_path(e, "object/body"));
    const lv_json *sis = lv_json_path(e, "actor/extensions/com.instructure.canvas/user_sis_id");
    assert_non_null(sis);
    assert_int_equal(sis->type, LV_JSON_NULL);
    free(canvas);
    lv_arena_free(&a);
}

static const char *const bare_event =
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\","
    "\"id\":\"urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c\",\"type\":\"SessionEvent\","
    "\"actor\":\"https://example.edu/users/1\",\"action\":\"LoggedIn\",\"object\":\"https://example.edu\","
    "\"eventTime\":\"2017-11-15T10:15:00.000Z\"}";

/* Entities are IRIs or objects with an IRI id and a type; anything else rejects the event, as a
 * canvas field of the wrong type does. */
static void test_entity_shapes(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    lv_doc doc = decode_text(&a, bare_event, false);
    print_diags(&doc.events[0]);
    assert_false(doc.events[0].rejected);

    static const struct { const char *from, *to, *path; } bad[] = {
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":\"bob\"", "/actor" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":\"https://example.edu/a b\"", "/actor" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":5", "/actor" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":[]", "/actor" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":null", "/actor" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":{\"type\":\"Person\"}", "/actor/id" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":{\"id\":\"https://example.edu/users/1\"}", "/actor/type" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":{\"id\":7,\"type\":\"Person\"}", "/actor/id" },
        { "\"object\":\"https://example.edu\"", "\"object\":{\"id\":\"urn:x:y\",\"type\":\"SoftwareApplication\"}", "/object/id" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"group\":{\"id\":\"urn:instructure:canvas:course:1\"}", "/group/type" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"session\":\"abc\"", "/session" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"membership\":{\"id\":\"urn:m:1\",\"type\":\"Membership\",\"member\":{\"type\":\"Person\"}}", "/membership/member/id" },
        { "\"object\":\"https://example.edu\"", "\"object\":{\"id\":\"https://e.edu/m\",\"type\":\"Message\",\"isPartOf\":true}", "/object/isPartOf" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"membership\":{\"id\":\"urn:m:1\",\"type\":\"Membership\",\"roles\":\"Learner\"}", "/membership/roles" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        doc = decode_text(&a, replaced(&a, bare_event, bad[i].from, bad[i].to), false);
        if (!find_diag(&doc.events[0], bad[i].path))
            fprintf(stderr, "case %zu: no diagnostic at %s\n", i, bad[i].path);
        assert_true(doc.events[0].rejected);
        assert_non_null(find_diag(&doc.events[0], bad[i].path));
    }

    /* what Caliper allows: a blank node id, a URN, an object entity, an optional property left null */
    static const struct { const char *from, *to; } good[] = {
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":{\"id\":\"_:b1\",\"type\":\"Person\"}" },
        { "\"actor\":\"https://example.edu/users/1\"", "\"actor\":\"urn:example:user:1\"" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"referrer\":null" },
        { "\"object\":\"https://example.edu\"", "\"object\":\"https://example.edu\",\"membership\":\"https://example.edu/m/1\"" },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        doc = decode_text(&a, replaced(&a, bare_event, good[i].from, good[i].to), false);
        print_diags(&doc.events[0]);
        assert_false(doc.events[0].rejected);
    }
    lv_arena_free(&a);
}

/* The event id is a UUID URN; "URN:UUID:" and upper-case digits are the same id, kept in
 * RFC 4122's lower-case form. */
static void test_event_id_is_a_uuid(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    static const char *const bad[] = { "urn:uuid:1", "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2", "urn:uuid:3a648e68f00d4c08aa598738e1884f2c0000",
                                       "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2g", "uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c",
                                       "urn:uuidx3a648e68-f00d-4c08-aa59-8738e1884f2c" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lv_doc doc = decode_text(&a, replaced(&a, bare_event, "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c", bad[i]), false);
        assert_true(doc.events[0].rejected);
        const lv_diag *d = find_diag(&doc.events[0], "/id");
        assert_non_null(d);
        assert_non_null(strstr(d->message, "is not a UUID URN"));
    }
    lv_doc doc = decode_text(&a, replaced(&a, bare_event, "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c",
                                          "URN:UUID:3A648E68-F00D-4C08-AA59-8738E1884F2C"), false);
    assert_false(doc.events[0].rejected);
    assert_int_equal(doc.events[0].caliper_id_len, 45);
    assert_memory_equal(doc.events[0].caliper_id, "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c", 45);
    lv_arena_free(&a);
}

/* RFC 8141: "urn" and the namespace are case-insensitive, the rest is not. */
static void test_canvas_urns_in_any_case(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *text = doc_example(&a, "caliper/event-types/discussion_entry_created.json");
    char *upper = replaced(&a, text, "\"urn:instructure:canvas:user:21070000000098765\"", "\"URN:INSTRUCTURE:canvas:user:21070000000098765\"");
    upper = replaced(&a, upper, "urn:instructure:canvas:discussionEntry:2134567", "urn:Instructure:canvas:discussionEntry:2134567");
    upper = replaced(&a, upper, "urn:instructure:canvas:discussion:123456", "Urn:INSTRUCTURE:canvas:discussion:123456");
    lv_doc doc = decode_text(&a, upper, true);
    const lv_event *ev = &doc.events[0];
    print_diags(ev);
    assert_false(ev->rejected);
    assert_non_null(ev->kind);
    assert_string_equal(ev->kind->name, "discussion_entry_created");
    assert_true(lv_event_meta(ev, LV_M_USER_ID)->id == 21070000000098765ULL);
    assert_true(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID)->id == 123456);

    /* the NSS is compared exactly: "CANVAS:USER" is not Canvas's */
    char *nss = replaced(&a, text, "\"urn:instructure:canvas:user:21070000000098765\"", "\"urn:instructure:CANVAS:USER:21070000000098765\"");
    doc = decode_text(&a, nss, false);
    assert_true(doc.events[0].rejected);
    assert_non_null(find_diag(&doc.events[0], "/data/0/actor/id"));
    free(text);
    lv_arena_free(&a);
}

/* A Caliper event outside the model is kept with a warning, as a canvas one is; a role outside
 * Caliper's vocabulary is kept with a warning, as an undocumented enumeration value is. */
static void test_outside_model_and_unknown_role_warn(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    lv_doc doc = decode_text(&a, bare_event, false);
    const lv_diag *d = find_diag(&doc.events[0], "/type");
    assert_non_null(d);
    assert_int_equal(d->severity, LV_WARNING);
    assert_string_equal(d->message, "\"SessionEvent.LoggedIn\" is outside levee's model (conversation and discussion "
                                    "events); the event is kept as is");
    assert_false(doc.events[0].rejected);
    doc = decode_text(&a, bare_event, true);
    assert_true(doc.events[0].rejected);

    char *text = doc_example(&a, "caliper/event-types/discussion_entry_created.json");
    doc = decode_text(&a, replaced(&a, text, "\"roles\":[\"Learner\"]", "\"roles\":[\"Learner\",\"Student\"]"), false);
    d = find_diag(&doc.events[0], "/data/0/membership/roles/1");
    assert_non_null(d);
    assert_int_equal(d->severity, LV_WARNING);
    assert_false(doc.events[0].rejected);
    assert_value_is(&doc.events[0].meta[LV_M_CONTEXT_ROLE], "StudentEnrollment");
    free(text);
    lv_arena_free(&a);
}

/* A URN's name holds no '#' (it would start a fragment, not part of the name): a TA's membership id
 * and an odd session id are percent-encoded, and the session id reads back as it was. */
static void test_urn_names_are_percent_encoded(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 16);
    char *canvas = doc_example(&a, "canvas/event-types/discussion_entry_created.json");
    char *ta = replaced(&a, canvas, "\"context_role\":\"StudentEnrollment\"", "\"context_role\":\"TaEnrollment\"");
    ta = replaced(&a, ta, "\"session_id\":\"ef686f8ed684abf78cbfa1f6a58112b5\"", "\"session_id\":\"a b#c%\\u00e9\"");
    const lv_json *e = caliper_event(&a, ta);
    assert_str_at(e, "membership/id", "urn:instructure:canvas:course:21070000000000565:Instructor%23TeachingAssistant:21070000000098765");
    assert_str_at(e, "membership/roles/0", "Instructor#TeachingAssistant");
    assert_str_at(e, "session/id", "urn:instructure:canvas:session:a%20b%23c%25%C3%A9");
    lv_doc back = decode_text(&a, json_text(&a, e), true);
    print_diags(&back.events[0]);
    assert_false(back.events[0].rejected);
    assert_value_is(&back.events[0].meta[LV_M_SESSION_ID], "a b#c%\xc3\xa9");
    assert_value_is(&back.events[0].meta[LV_M_CONTEXT_ROLE], "TaEnrollment");
    /* an escape that decodes to bytes that are not UTF-8 is kept as written */
    char *bad = replaced(&a, json_text(&a, e), "a%20b%23c%25%C3%A9", "a%82b");
    back = decode_text(&a, bad, false);
    assert_value_is(&back.events[0].meta[LV_M_SESSION_ID], "a%82b");
    free(canvas);
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
        cmocka_unit_test(test_job_topic_group_is_typed),
        cmocka_unit_test(test_membership_without_role_or_context),
        cmocka_unit_test(test_custom_role_round_trip),
        cmocka_unit_test(test_nulls_only_inside_extensions),
        cmocka_unit_test(test_entity_shapes),
        cmocka_unit_test(test_event_id_is_a_uuid),
        cmocka_unit_test(test_canvas_urns_in_any_case),
        cmocka_unit_test(test_outside_model_and_unknown_role_warn),
        cmocka_unit_test(test_urn_names_are_percent_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
