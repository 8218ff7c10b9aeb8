/* test_identity.c: the dedupe identity (lv_event_identity) compares what the catalog does not know as
 * values: the same event with its members reordered at any depth, its strings escaped otherwise or its
 * numbers spelled otherwise has the same identity; one whose value differs has another. Canonical JSON
 * (lv_json_write_canonical) is checked on its own: numbers by exact value, members by name. */
#include "testing.h"

#include "levee/json.h"

/* The canonical form of one JSON text. */
static char *canonical(const char *text)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *v = NULL;
    lv_error err;
    if (lv_json_parse(&a, text, strlen(text), &v, &err) != LV_OK)
        fail_msg("does not parse: %s: %s", text, err.msg);
    lv_buf out;
    lv_buf_init(&out);
    lv_json_write_canonical(&out, v);
    lv_buf_putc(&out, '\0');
    lv_arena_free(&a);
    return lv_buf_detach(&out, NULL);
}

static void assert_canonical(const char *text, const char *want)
{
    char *got = canonical(text);
    if (strcmp(got, want) != 0)
        fail_msg("canonical of %s is %s, not %s", text, got, want);
    free(got);
}

static void test_numbers_by_exact_value(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "1", "1" }, { "1.0", "1" }, { "1e0", "1" }, { "10e-1", "1" }, { "0.1e1", "1" }, { "1.000E+0", "1" },
        { "100", "100" }, { "1e2", "100" }, { "1E+2", "100" }, { "1000e-1", "100" }, { "0.5e1", "5" },
        { "-0", "0" }, { "0.000", "0" }, { "-0.0e5", "0" }, { "0e-999", "0" },
        { "1.5", "1.5" }, { "1.50", "1.5" }, { "15e-1", "1.5" }, { "-1.50e0", "-1.5" }, { "12.34e1", "123.4" },
        { "0.001", "0.001" }, { "1e-3", "0.001" }, { "0.000001", "0.000001" }, { "1e-7", "1e-7" },
        { "0.0000001", "1e-7" }, { "-12.5e-9", "-1.25e-8" },
        { "123456789012345678901", "123456789012345678901" },
        { "1234567890123456789012", "1.234567890123456789012e+21" }, { "1e21", "1e+21" }, { "10e20", "1e+21" },
        /* ids are exact: never through a double (2^53 + 1, a global id, the largest 64-bit integer) */
        { "9007199254740993", "9007199254740993" }, { "21070000000098765.000", "21070000000098765" },
        { "18446744073709551615", "18446744073709551615" }, { "184467440737095516150e-1", "18446744073709551615" },
        { "1e400", "1e+400" }, { "-2.5e-400", "-2.5e-400" }, { "1e000000000000000000000400", "1e+400" },
        /* an exponent of more than 18 digits is kept as written */
        { "1e1000000000000000000", "1e1000000000000000000" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_canonical(cases[i][0], cases[i][1]);
}

static void test_members_in_name_order_at_every_depth(void **state)
{
    (void)state;
    assert_canonical("{\"b\":1,\"a\":{\"d\":[{\"y\":1,\"x\":[true,{\"q\":null,\"p\":false}]}],\"c\":null}}",
                     "{\"a\":{\"c\":null,\"d\":[{\"x\":[true,{\"p\":false,\"q\":null}],\"y\":1}]},\"b\":1}");
    /* byte order of the decoded UTF-8 names: shorter first, upper case before lower, é after z */
    assert_canonical("{\"\\u00e9\":1,\"z\":2,\"ab\":3,\"a\":4,\"B\":5,\"\":6}",
                     "{\"\":6,\"B\":5,\"a\":4,\"ab\":3,\"z\":2,\"\xc3\xa9\":1}");
    /* arrays keep their order */
    assert_canonical("[3,1,2]", "[3,1,2]");
    /* members of one name keep theirs: which of them counts is up to the reader, so none is dropped */
    assert_canonical("{\"b\":0,\"a\":2,\"a\":1}", "{\"a\":2,\"a\":1,\"b\":0}");
    /* wide objects (sorted outside the small stack array) */
    char wide[1024] = "{", want[1024] = "{";
    for (int i = 39; i >= 0; i--)
        snprintf(wide + strlen(wide), sizeof wide - strlen(wide), "\"k%02d\":%d%s", i, i, i ? "," : "}");
    for (int i = 0; i < 40; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "\"k%02d\":%d%s", i, i, i < 39 ? "," : "}");
    assert_canonical(wide, want);
}

static void test_strings_decoded(void **state)
{
    (void)state;
    assert_canonical("\"Caf\\u00e9 \\/ \\u0041\\t\"", "\"Caf\xc3\xa9 / A\\t\"");
    assert_canonical("\"Caf\xc3\xa9 / A\\u0009\"", "\"Caf\xc3\xa9 / A\\t\"");
    assert_canonical("{\"\\u0061\":\"\\ud83d\\ude00\"}", "{\"a\":\"\xf0\x9f\x98\x80\"}");
    assert_canonical("\"a\\u0000b\"", "\"a\\u0000b\"");
}

/* ---- identities of events ---- */

/* The identity of the first event of a document (its diagnostics printed when it was rejected). */
static char *identity(const char *text, size_t *len, bool v6)
{
    lv_arena a;
    lv_arena_init(&a, 1 << 14);
    lv_doc doc = decode_text(&a, text, false);
    assert_true(doc.n_events >= 1);
    if (doc.events[0].rejected) {
        print_diags(&doc.events[0]);
        fail_msg("rejected: %s", text);
    }
    lv_buf out;
    lv_buf_init(&out);
    if (v6)
        lv_event_identity_v6(&doc.events[0], &out);
    else
        lv_event_identity(&doc.events[0], &out);
    lv_arena_free(&a);
    *len = out.len;
    return lv_buf_detach(&out, NULL);
}

static bool same_identity(const char *a, const char *b, bool v6)
{
    size_t na, nb;
    char *ia = identity(a, &na, v6), *ib = identity(b, &nb, v6);
    bool same = na == nb && memcmp(ia, ib, na) == 0;
    free(ia);
    free(ib);
    return same;
}

#define META_ENTRY                                                                                            \
    "\"event_name\":\"discussion_entry_created\",\"event_time\":\"2019-11-01T19:11:03.933Z\","                 \
    "\"root_account_id\":\"21070000000000001\",\"user_id\":\"21070000000098765\""
#define BODY_ENTRY                                                                                            \
    "\"created_at\":\"2019-07-03T23:12:34Z\",\"discussion_entry_id\":\"2134567\","                             \
    "\"discussion_topic_id\":\"123456\",\"text\":\"<p>caf\\u00e9</p>\",\"user_id\":\"98765\""

/* A modelled event with members the catalog does not know, in metadata and body, nested. */
static const char entry[] =
    "{\"metadata\":{" META_ENTRY ",\"x_proxy\":{\"via\":\"edge/2\",\"hops\":[1,{\"b\":2.5,\"a\":null}]},"
    "\"x_seq\":100},\"body\":{" BODY_ENTRY ",\"x_flags\":{\"pinned\":false,\"w\":[1.0,0.25]},\"x_note\":\"\\u00e9\"}}";
/* The same event: members reversed at every depth (known ones too), escapes and numbers spelled otherwise. */
static const char entry_respelled[] =
    "{\"body\":{\"x_note\":\"\xc3\xa9\",\"x_flags\":{\"w\":[1,25e-2],\"pinned\":false},\"user_id\":\"98765\","
    "\"text\":\"<p>caf\xc3\xa9</p>\",\"discussion_topic_id\":\"123456\",\"discussion_entry_id\":\"2134567\","
    "\"created_at\":\"2019-07-03T23:12:34Z\"},\"metadata\":{\"x_seq\":1e2,"
    "\"x_proxy\":{\"hops\":[1.0,{\"a\":null,\"b\":0.25e1}],\"via\":\"edge\\/2\"},"
    "\"user_id\":\"21070000000098765\",\"root_account_id\":\"21070000000000001\","
    "\"event_time\":\"2019-11-01T19:11:03.933Z\",\"event_name\":\"discussion_entry_created\"}}";

/* Outside the model: the body is part of what the event is. */
static const char outside[] =
    "{\"metadata\":{\"event_name\":\"asset_accessed\",\"event_time\":\"2019-11-01T19:11:03.933Z\",\"x\":1},"
    "\"body\":{\"asset_id\":\"565\",\"detail\":{\"scores\":[100,2.5,-0.0],\"t\":\"a/b\",\"n\":{\"z\":1,\"y\":2}}}}";
static const char outside_respelled[] =
    "{\"body\":{\"detail\":{\"n\":{\"y\":2,\"z\":1},\"t\":\"a\\/b\",\"scores\":[1e2,2.50,0]},\"asset_id\":\"565\"},"
    "\"metadata\":{\"x\":1.0,\"event_time\":\"2019-11-01T19:11:03.933Z\",\"event_name\":\"asset_accessed\"}}";

/* A Caliper event outside the model (an envelope of one; its sendTime is the envelope's, not the event's). */
static const char caliper[] =
    "{\"sensor\":\"https://example.edu/sensors/1\",\"sendTime\":\"2016-11-15T11:05:01.000Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":[{\"@context\":"
    "\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:72f66ce5-d2ec-44cc-bce5-41602e1015dc\","
    "\"type\":\"NavigationEvent\",\"actor\":{\"id\":\"https://example.edu/users/554433\",\"type\":\"Person\"},"
    "\"action\":\"NavigatedTo\",\"object\":{\"id\":\"https://example.edu/pages/2\",\"type\":\"WebPage\","
    "\"name\":\"Caf\xc3\xa9\"},\"eventTime\":\"2016-11-15T10:15:00.000Z\"}]}";
static const char caliper_respelled[] =
    "{\"data\":[{\"eventTime\":\"2016-11-15T10:15:00.000Z\",\"object\":{\"name\":\"Caf\\u00e9\","
    "\"type\":\"WebPage\",\"id\":\"https:\\/\\/example.edu\\/pages\\/2\"},\"action\":\"NavigatedTo\","
    "\"actor\":{\"type\":\"Person\",\"id\":\"https://example.edu/users/554433\"},\"type\":\"NavigationEvent\","
    "\"id\":\"urn:uuid:72f66ce5-d2ec-44cc-bce5-41602e1015dc\",\"@context\":"
    "\"http://purl.imsglobal.org/ctx/caliper/v1p1\"}],\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\","
    "\"sendTime\":\"2016-11-15T11:05:02.000Z\",\"sensor\":\"https://example.edu/sensors/1\"}";

/* base with the first occurrence of `from` replaced by `to` (must occur). */
static char *with(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    if (!at)
        fail_msg("%s is not in %s", from, base);
    size_t n = strlen(base) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    size_t pre = (size_t)(at - base);
    memcpy(out, base, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    return out;
}

static void test_reordered_and_respelled_events_are_the_same(void **state)
{
    (void)state;
    assert_true(same_identity(entry, entry_respelled, false));
    assert_true(same_identity(outside, outside_respelled, false));
    assert_true(same_identity(caliper, caliper_respelled, false));
    /* levee's identity before schema 7 told them apart: the fault this mends */
    assert_false(same_identity(entry, entry_respelled, true));
    assert_false(same_identity(outside, outside_respelled, true));
    assert_false(same_identity(caliper, caliper_respelled, true));
}

static void test_a_value_that_differs_is_another_event(void **state)
{
    (void)state;
    static const char *const entry_changes[][2] = {
        { "\"x_seq\":100", "\"x_seq\":101" },                    /* a number, in metadata */
        { "\"x_seq\":100", "\"x_seq\":\"100\"" },                /* a string is not a number */
        { "\"b\":2.5", "\"b\":2.50001" },                        /* a number, four levels down */
        { "\"a\":null", "\"a\":false" },                         /* null is not false */
        { "\"hops\":[1,{", "\"hops\":[{" },                      /* an element fewer */
        { "\"w\":[1.0,0.25]", "\"w\":[0.25,1.0]" },              /* an array's order */
        { "\"x_note\":\"\\u00e9\"", "\"x_note\":\"e\"" },        /* a string, in body */
        { "\"via\":\"edge/2\"", "\"via\":\"edge/2\",\"via2\":1" }, /* a member more */
        { "\"x_seq\":100", "\"x_seq\":100,\"x_seq\":100" },      /* a member twice */
        { "\"x_seq\":100", "\"x_sex\":100" },                    /* a name */
    };
    for (size_t i = 0; i < sizeof entry_changes / sizeof entry_changes[0]; i++) {
        char *changed = with(entry, entry_changes[i][0], entry_changes[i][1]);
        if (same_identity(entry, changed, false))
            fail_msg("%s -> %s is the same event", entry_changes[i][0], entry_changes[i][1]);
        free(changed);
    }
    /* two members of one name in the other order */
    char *twice = with(entry, "\"x_seq\":100", "\"x_seq\":1,\"x_seq\":2");
    char *swapped = with(entry, "\"x_seq\":100", "\"x_seq\":2,\"x_seq\":1");
    assert_false(same_identity(twice, swapped, false));
    free(twice);
    free(swapped);
    /* ids stay exact above 2^53 */
    char *a = with(outside, "\"x\":1", "\"x\":9007199254740993");
    char *b = with(outside, "\"x\":1", "\"x\":9007199254740992");
    assert_false(same_identity(a, b, false));
    free(a);
    free(b);
    char *deep = with(outside, "\"z\":1", "\"z\":1.5");
    assert_false(same_identity(outside, deep, false));
    free(deep);
    char *other = with(caliper, "\"name\":\"Caf\xc3\xa9\"", "\"name\":\"Cafe\"");
    assert_false(same_identity(caliper, other, false));
    free(other);
}

static void test_events_with_nothing_unknown_keep_their_identity(void **state)
{
    (void)state;
    /* a modelled event whose members the catalog all knows: its key is what it was before schema 7,
     * so the upgrade leaves it (and its webhook-id) alone */
    static const char known[] = "{\"metadata\":{" META_ENTRY "},\"body\":{" BODY_ENTRY "}}";
    size_t n_now, n_old;
    char *now = identity(known, &n_now, false), *old = identity(known, &n_old, true);
    assert_int_equal(n_now, n_old);
    assert_memory_equal(now, old, n_now);
    free(now);
    free(old);
    /* and its members' order never counted */
    static const char reordered[] = "{\"body\":{" BODY_ENTRY "},\"metadata\":{\"user_id\":\"21070000000098765\","
                                    "\"root_account_id\":\"21070000000000001\",\"event_time\":\"2019-11-01T19:11:03.933Z\","
                                    "\"event_name\":\"discussion_entry_created\"}}";
    assert_true(same_identity(known, reordered, false));
    assert_true(same_identity(known, reordered, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_by_exact_value),
        cmocka_unit_test(test_members_in_name_order_at_every_depth),
        cmocka_unit_test(test_strings_decoded),
        cmocka_unit_test(test_reordered_and_respelled_events_are_the_same),
        cmocka_unit_test(test_a_value_that_differs_is_another_event),
        cmocka_unit_test(test_events_with_nothing_unknown_keep_their_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
