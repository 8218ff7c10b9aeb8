/* test_decode.c: canvas-format decoding: every error rule and warning rule, each checked for the
 * field its diagnostic names; exact ids; local ids made global; --strict. */
#include "testing.h"

#include "levee/id.h"

static const char entry[] =
    "{\"metadata\":{\"client_ip\":\"93.184.216.34\",\"context_account_id\":\"21070000000000079\","
    "\"context_id\":\"21070000000000565\",\"context_role\":\"StudentEnrollment\",\"context_type\":\"Course\","
    "\"event_name\":\"discussion_entry_created\",\"event_time\":\"2019-11-01T19:11:03.933Z\","
    "\"hostname\":\"oxana.instructure.com\",\"http_method\":\"POST\",\"producer\":\"canvas\","
    "\"request_id\":\"1dd9dc6f-2fb0-4c19-a6c5-7ee1bf3ed295\",\"root_account_id\":\"21070000000000001\","
    "\"session_id\":\"ef686f8ed684abf78cbfa1f6a58112b5\",\"time_zone\":\"America/New_York\","
    "\"user_id\":\"21070000000098765\",\"user_login\":\"oxana@example.com\"},"
    "\"body\":{\"created_at\":\"2019-07-03T23:12:34Z\",\"discussion_entry_id\":\"2134567\","
    "\"discussion_topic_id\":\"123456\",\"parent_discussion_entry_id\":\"62152\","
    "\"text\":\"<p>test this discussion</p>\",\"user_id\":\"98765\"}}";

static const char topic[] =
    "{\"metadata\":{\"event_name\":\"discussion_topic_created\",\"event_time\":\"2019-11-01T19:11:18.208Z\","
    "\"job_id\":\"1020020528469291\",\"job_tag\":\"Canvas::Migration::Worker::CourseCopyWorker#perform\","
    "\"producer\":\"canvas\",\"root_account_id\":\"21070000000000001\"},"
    "\"body\":{\"assignment_id\":\"1234010\",\"body\":\"<h3>Discuss this</h3> What do you think?\","
    "\"context_id\":\"1234560\",\"context_type\":\"Course\",\"discussion_topic_id\":\"120000001234567\","
    "\"is_announcement\":false,\"lock_at\":\"2019-11-05T13:38:00.218Z\",\"title\":\"Sample discussion\","
    "\"updated_at\":\"2019-11-05T13:38:00.218Z\",\"workflow_state\":\"active\"}}";

/* base with the first occurrence of `from` replaced by `to` (must occur). */
static char *with(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    assert_non_null(at);
    size_t n = strlen(base) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    size_t pre = (size_t)(at - base);
    memcpy(out, base, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    return out;
}

typedef struct fixture {
    lv_arena arena;
    lv_doc doc;
    char *text;
} fixture;

static const lv_event *decode(fixture *f, char *text, bool strict)
{
    free(f->text);
    f->text = text;
    lv_arena_reset(&f->arena);
    f->doc = decode_text(&f->arena, text, strict);
    assert_int_equal(f->doc.n_events, 1);
    return &f->doc.events[0];
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    lv_arena_init(&f->arena, 1 << 14);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->text);
    lv_arena_free(&f->arena);
    free(f);
    return 0;
}

/* The event is rejected and its first error is at path with a message containing fragment. */
static void expect_error(fixture *f, char *text, const char *path, const char *fragment)
{
    const lv_event *ev = decode(f, text, false);
    const lv_diag *d = find_diag(ev, path);
    if (!d || d->severity != LV_ERROR || !strstr(d->message, fragment)) {
        fprintf(stderr, "expected an error at %s containing '%s'; got:\n", path, fragment);
        print_diags(ev);
    }
    assert_non_null(d);
    assert_int_equal(d->severity, LV_ERROR);
    assert_non_null(strstr(d->message, fragment));
    assert_true(ev->rejected);
}

static void expect_warning(fixture *f, char *text, const char *path, const char *fragment)
{
    const lv_event *ev = decode(f, text, false);
    const lv_diag *d = find_diag(ev, path);
    if (!d || d->severity != LV_WARNING || !strstr(d->message, fragment)) {
        fprintf(stderr, "expected a warning at %s containing '%s'; got:\n", path, fragment);
        print_diags(ev);
    }
    assert_non_null(d);
    assert_int_equal(d->severity, LV_WARNING);
    assert_non_null(strstr(d->message, fragment));
    assert_false(ev->rejected);
    assert_int_equal(ev->n_errors, 0);
}

static void test_documented_examples_are_clean(void **state)
{
    fixture *f = *state;
    const lv_event *ev = decode(f, strdup(entry), true);
    print_diags(ev);
    assert_int_equal(ev->n_errors + ev->n_warnings, 0);
    assert_ptr_equal(ev->kind, lv_kind_find("discussion_entry_created", 24));
    ev = decode(f, strdup(topic), true);
    print_diags(ev);
    assert_int_equal(ev->n_errors + ev->n_warnings, 0);
}

static void test_values_and_global_ids(void **state)
{
    fixture *f = *state;
    const lv_event *ev = decode(f, strdup(entry), false);
    assert_true(ev->has_time);
    assert_int_equal(ev->time_ms, 1572635463933LL);
    assert_int_equal(ev->shard, 2107);
    const lv_value *user = lv_event_body(ev, LV_B_USER_ID);
    assert_true(user->id == 98765);
    assert_true(user->global_id == 21070000000098765ULL); /* the body's local id meets metadata's */
    assert_true(lv_value_id(user) == lv_value_id(lv_event_meta(ev, LV_M_USER_ID)));
    assert_true(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID)->global_id == 21070000000123456ULL);
    /* already-global ids stay as they are */
    ev = decode(f, strdup(topic), false);
    assert_true(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID)->global_id == 120000001234567ULL);
    assert_true(lv_event_body(ev, LV_B_CONTEXT_ID)->global_id == 21070000001234560ULL);
    assert_false(lv_event_body(ev, LV_B_IS_ANNOUNCEMENT)->boolean);
}

static void test_ids_as_json_numbers_stay_exact(void **state)
{
    fixture *f = *state;
    const lv_event *ev = decode(f, with(entry, "\"user_id\":\"21070000000098765\"", "\"user_id\":21070000000098765"), false);
    print_diags(ev);
    assert_false(ev->rejected);
    assert_true(lv_event_meta(ev, LV_M_USER_ID)->id == 21070000000098765ULL);
}

static void test_error_not_json(void **state)
{
    expect_error(*state, strdup("{\"metadata\": {"), "", "not JSON");
    expect_error(*state, strdup("{\"metadata\": {}, }"), "", "not JSON");
}

static void test_error_not_an_object(void **state)
{
    expect_error(*state, strdup("[1, 2]"), "", "not an object");
    expect_error(*state, strdup("\"event\""), "", "not an object");
    expect_error(*state, strdup("{\"hello\": 1}"), "", "not a Live Events document");
}

static void test_error_no_event_name_or_time(void **state)
{
    expect_error(*state, with(entry, "\"event_name\":\"discussion_entry_created\",", ""),
                 "/metadata/event_name", "is missing");
    expect_error(*state, with(entry, "\"event_time\":\"2019-11-01T19:11:03.933Z\",", ""),
                 "/metadata/event_time", "is missing");
    expect_error(*state, with(entry, "\"event_name\":\"discussion_entry_created\"", "\"event_name\":\"\""),
                 "/metadata/event_name", "is empty");
    expect_error(*state, strdup("{\"body\": {}}"), "/metadata", "is missing");
}

static void test_error_timestamps(void **state)
{
    expect_error(*state, with(entry, "\"created_at\":\"2019-07-03T23:12:34Z\"", "\"created_at\":\"2019-07-03 23:12:34\""),
                 "/body/created_at", "\"2019-07-03 23:12:34\" has no UTC offset");
    expect_error(*state, with(entry, "2019-11-01T19:11:03.933Z", "2019-02-30T19:11:03.933Z"),
                 "/metadata/event_time", "impossible date");
    expect_error(*state, with(entry, "\"created_at\":\"2019-07-03T23:12:34Z\"", "\"created_at\":1562195554"),
                 "/body/created_at", "expected an ISO 8601 timestamp string, got the number 1562195554");
    expect_error(*state, with(topic, "\"lock_at\":\"2019-11-05T13:38:00.218Z\"", "\"lock_at\":\"soon\""),
                 "/body/lock_at", "is not an ISO 8601 timestamp");
}

static void test_error_ids(void **state)
{
    expect_error(*state, with(entry, "\"discussion_entry_id\":\"2134567\"", "\"discussion_entry_id\":\"21345x67\""),
                 "/body/discussion_entry_id", "is not a decimal id");
    expect_error(*state, with(entry, "\"discussion_entry_id\":\"2134567\"", "\"discussion_entry_id\":\"99999999999999999999\""),
                 "/body/discussion_entry_id", "does not fit in a 64-bit id");
    expect_error(*state, with(entry, "\"discussion_entry_id\":\"2134567\"", "\"discussion_entry_id\":2134567.5"),
                 "/body/discussion_entry_id", "is not a whole, non-negative number");
    expect_error(*state, with(entry, "\"discussion_entry_id\":\"2134567\"", "\"discussion_entry_id\":-5"),
                 "/body/discussion_entry_id", "is not a whole, non-negative number");
    expect_error(*state, with(entry, "\"root_account_id\":\"21070000000000001\"", "\"root_account_id\":[1]"),
                 "/metadata/root_account_id", "expected an id (a string of decimal digits), got an array");
}

static void test_error_wrong_types(void **state)
{
    expect_error(*state, with(topic, "\"is_announcement\":false", "\"is_announcement\":\"false\""),
                 "/body/is_announcement", "expected true or false, got the string \"false\"");
    expect_error(*state, with(entry, "\"user_login\":\"oxana@example.com\"", "\"user_login\":42"),
                 "/metadata/user_login", "expected a string, got the number 42");
    expect_error(*state, with(entry, "\"text\":\"<p>test this discussion</p>\"", "\"text\":{\"html\":1}"),
                 "/body/text", "expected a string, got an object");
    expect_error(*state, with(topic, "\"workflow_state\":\"active\"", "\"workflow_state\":null"),
                 "/body/workflow_state", "is null");
    expect_error(*state, with(entry, "\"body\":{", "\"body\":[],\"x\":{"), "/body", "expected an object");
}

static void test_error_missing_required_body_ids(void **state)
{
    expect_error(*state, with(entry, "\"discussion_topic_id\":\"123456\",", ""),
                 "/body/discussion_topic_id", "is missing; every discussion_entry_created event needs it");
    expect_error(*state, with(topic, "\"discussion_topic_id\":\"120000001234567\",", ""),
                 "/body/discussion_topic_id", "is missing");
    expect_error(*state, with(entry, ",\"user_id\":\"98765\"", ""), "/body/user_id", "is missing");
}

static void test_error_duplicate_field(void **state)
{
    expect_error(*state, with(entry, "\"user_id\":\"98765\"", "\"user_id\":\"98765\",\"user_id\":\"1\""),
                 "/body/user_id", "appears twice");
}

static void test_warning_outside_the_model(void **state)
{
    fixture *f = *state;
    expect_warning(f, with(entry, "\"discussion_entry_created\"", "\"asset_accessed\""),
                   "/metadata/event_name", "outside levee's model");
    assert_null(f->doc.events[0].kind);
    /* metadata is still checked for events outside the model */
    char *outside = with(entry, "\"discussion_entry_created\"", "\"asset_accessed\"");
    expect_error(f, with(outside, "2019-11-01T19:11:03.933Z", "2019-11-01T19:11:03.933"),
                 "/metadata/event_time", "has no UTC offset");
    free(outside);
}

static void test_warning_unknown_fields(void **state)
{
    expect_warning(*state, with(entry, "\"user_id\":\"98765\"", "\"user_id\":\"98765\",\"mood\":\"happy\""),
                   "/body/mood", "not a documented field of discussion_entry_created; kept as is");
    expect_warning(*state, with(entry, "\"producer\":\"canvas\"", "\"producer\":\"canvas\",\"shard\":7"),
                   "/metadata/shard", "not a documented metadata field");
}

static void test_warning_unknown_enumeration(void **state)
{
    expect_warning(*state, with(topic, "\"workflow_state\":\"active\"", "\"workflow_state\":\"archived\""),
                   "/body/workflow_state", "\"archived\" is not one of the documented values (active, deleted, post_delayed, unpublished)");
}

static void test_warning_long_text(void **state)
{
    size_t n = 9000;
    char *long_text = malloc(n + 3);
    long_text[0] = '"';
    memset(long_text + 1, 'y', n);
    strcpy(long_text + 1 + n, "\"");
    char *text = with(entry, "\"<p>test this discussion</p>\"", long_text);
    free(long_text);
    expect_warning(*state, text, "/body/text", "is 9000 characters long; Canvas cuts it to 8192");
}

static void test_strict_rejects_warnings(void **state)
{
    fixture *f = *state;
    const lv_event *ev = decode(f, with(entry, "\"discussion_entry_created\"", "\"asset_accessed\""), true);
    assert_true(ev->rejected);
    assert_int_equal(ev->n_errors, 0);
}

static void test_error_too_big(void **state)
{
    fixture *f = *state;
    size_t n = LV_EVENT_MAX_BYTES + 10;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    expect_error(f, big, "", "refuse events over 1000000 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_documented_examples_are_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_and_global_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_as_json_numbers_stay_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_not_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_no_event_name_or_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_missing_required_body_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_duplicate_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warning_outside_the_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warning_unknown_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warning_unknown_enumeration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warning_long_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_rejects_warnings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_too_big, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
