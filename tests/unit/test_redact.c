/* test_redact.c: redaction at intake (levee/redact.h) as the decoder applies it: which members go or are hashed in
 * canvas events and Caliper envelopes, that the hash is HMAC-SHA256 as openssl computes it, that a document
 * without the fields is kept byte for byte, that the same event gives the same bytes however it was formatted,
 * the sentences for lists and keys levee refuses; and the scrubbing of secrets from what levee logs. */
#include "testing.h"

#include "levee/redact.h"

#define KEY "the-redaction-key-0123456789"
/* printf %s VALUE | openssl dgst -sha256 -hmac the-redaction-key-0123456789 | awk '{print substr($NF, 1, 32)}' */
#define HASH_IP "4787a9351f102c4240559d0fc79651aa"      /* 199.218.180.126 */
#define HASH_QUERY "08151f1bef48f1396d673a4d159a3fbe"   /* a=1&access_token=x */
#define HASH_SESSION "d5885cdc711a6420b160ac0776ac8d25" /* 8fe211d5b29c8e5cd0d272f5b72816e1 */

static const char canvas[] =
    "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"2024-09-02T00:49:16.747Z\","
    "\"root_account_id\":\"70580000000000001\",\"user_id\":\"70580000000089953\",\"user_login\":\"ltanaka2\","
    "\"user_sis_id\":null,\"session_id\":\"8fe211d5b29c8e5cd0d272f5b72816e1\",\"user_agent\":\"Mozilla/5.0\","
    "\"client_ip\":\"199.218.180.126\",\"url\":\"https://x.instructure.com/api/v1/e?a=1&access_token=x\","
    "\"referrer\":\"https://x.instructure.com/courses/1#frag\"},"
    "\"body\":{\"user_id\":\"89953\",\"created_at\":\"2024-09-01T21:49:16-03:00\",\"discussion_entry_id\":\"5\","
    "\"discussion_topic_id\":\"7\",\"text\":\"<p>hello</p>\"}}";

static const char caliper[] =
    "{\"sensor\":\"http://x.instructure.com/\",\"sendTime\":\"2024-09-02T21:22:07.264Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":[{"
    "\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:c2872fbe-fc0c-5ab6-b28b-9c6ad56cd567\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:70580000000089950\",\"type\":\"Person\","
    "\"extensions\":{\"com.instructure.canvas\":{\"user_login\":\"ssmith0\",\"user_sis_id\":\"E100000\","
    "\"root_account_id\":\"70580000000000001\",\"entity_id\":\"70580000000089950\"}}},\"action\":\"Posted\","
    "\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:66264\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:13027\",\"type\":\"Thread\"},\"body\":\"<p>hi</p>\"},"
    "\"eventTime\":\"2024-09-02T22:43:27.837Z\",\"referrer\":\"https://x.instructure.com/groups/2546?a=1&access_token=x\","
    "\"session\":{\"id\":\"urn:instructure:canvas:session:8fe211d5b29c8e5cd0d272f5b72816e1\",\"type\":\"Session\"},"
    "\"extensions\":{\"com.instructure.canvas\":{\"hostname\":\"x.instructure.com\",\"user_agent\":\"Mozilla/5.0\","
    "\"client_ip\":\"199.218.180.126\",\"request_url\":\"https://x.instructure.com/api/v1/e\",\"version\":\"1.0.0\"}}}]}";

static char key_path[256];

static int setup(void **state)
{
    (void)state;
    int fd = make_temp(key_path, sizeof key_path, "redact-key", false);
    assert_int_equal(write(fd, KEY "\n", sizeof KEY), (ssize_t)sizeof KEY);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(key_path);
    return 0;
}

static lv_redaction *redaction(const char *fields, bool keyed)
{
    lv_redaction *r = NULL;
    lv_error err;
    check(lv_redaction_new(fields, keyed ? key_path : NULL, &r, &err), &err);
    return r;
}

/* The document as stored: decoded with the redaction, NUL-terminated in the arena. */
static const char *redacted(lv_arena *a, const lv_redaction *r, const char *text, lv_doc *doc)
{
    lv_decode_options opt = { .redact = r };
    lv_decode(a, text, strlen(text), &opt, doc);
    return lv_arena_strndup(a, doc->text, doc->len);
}

static void test_canvas_fields_are_removed_and_the_rest_kept(void **state)
{
    (void)state;
    lv_redaction *r = redaction("client_ip, user_agent,user_login,session_id,user_sis_id,url_query", false);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc doc;
    const char *out = redacted(&a, r, canvas, &doc);
    assert_null(strstr(out, "199.218.180.126"));
    assert_null(strstr(out, "Mozilla"));
    assert_null(strstr(out, "ltanaka2"));
    assert_null(strstr(out, "user_login"));
    assert_null(strstr(out, "8fe211d5"));
    assert_null(strstr(out, "access_token"));
    assert_null(strstr(out, "#frag"));
    assert_non_null(strstr(out, "\"user_sis_id\":null")); /* a null holds nothing: kept */
    assert_non_null(strstr(out, "\"url\":\"https://x.instructure.com/api/v1/e\""));
    assert_non_null(strstr(out, "\"referrer\":\"https://x.instructure.com/courses/1\""));
    assert_non_null(strstr(out, "\"user_id\":\"70580000000089953\""));
    assert_non_null(strstr(out, "\"text\":\"<p>hello</p>\""));
    /* the stored document is what the events were decoded from */
    assert_int_equal(doc.n_events, 1);
    assert_false(doc.events[0].rejected);
    assert_int_equal(doc.events[0].meta[LV_M_CLIENT_IP].state, LV_ABSENT);
    assert_int_equal(doc.events[0].meta[LV_M_USER_ID].id, 70580000000089953ull);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_keyed_hash_is_hmac_sha256_of_the_value(void **state)
{
    (void)state;
    lv_redaction *r = redaction("client_ip,session_id,url_query", true);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc doc;
    const char *out = redacted(&a, r, canvas, &doc);
    assert_non_null(strstr(out, "\"client_ip\":\"" HASH_IP "\""));
    assert_non_null(strstr(out, "\"session_id\":\"" HASH_SESSION "\""));
    assert_non_null(strstr(out, "\"url\":\"https://x.instructure.com/api/v1/e?" HASH_QUERY "\""));
    assert_non_null(strstr(out, "\"user_login\":\"ltanaka2\"")); /* not chosen */
    char hex[33];
    assert_true(lv_redaction_hash(r, "199.218.180.126", 15, hex));
    assert_string_equal(hex, HASH_IP);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_caliper_places_are_redacted_in_every_event_of_an_envelope(void **state)
{
    (void)state;
    lv_redaction *r = redaction("user_login,user_sis_id,session_id,client_ip,url_query", false);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc doc;
    const char *out = redacted(&a, r, caliper, &doc);
    assert_null(strstr(out, "ssmith0"));
    assert_null(strstr(out, "E100000"));
    assert_null(strstr(out, "\"session\"")); /* the session's id is the field: the session goes */
    assert_null(strstr(out, "199.218.180.126"));
    assert_null(strstr(out, "access_token"));
    assert_non_null(strstr(out, "\"referrer\":\"https://x.instructure.com/groups/2546\""));
    assert_non_null(strstr(out, "\"user_agent\":\"Mozilla/5.0\""));
    assert_int_equal(doc.n_events, 1);
    assert_false(doc.events[0].rejected);
    assert_true(doc.events[0].kind == &lv_kinds[LV_K_DISCUSSION_ENTRY_CREATED]);
    lv_redaction_free(r);

    r = redaction("session_id,client_ip", true);
    out = redacted(&a, r, caliper, &doc);
    assert_non_null(strstr(out, "\"session\":{\"id\":\"urn:instructure:canvas:session:" HASH_SESSION "\""));
    assert_non_null(strstr(out, "\"client_ip\":\"" HASH_IP "\""));
    assert_false(doc.events[0].rejected);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_a_document_without_the_fields_is_kept_byte_for_byte(void **state)
{
    (void)state;
    lv_redaction *r = redaction("client_ip", false);
    lv_arena a;
    lv_arena_init(&a, 4096);
    const char text[] = "{ \"metadata\": {\"event_name\":\"x_y\", \"event_time\":\"2024-09-02T00:49:16.747Z\", "
                        "\"client_ip\": null}, \"body\": {} }";
    lv_decode_options opt = { .redact = r };
    lv_doc doc;
    lv_decode(&a, text, sizeof text - 1, &opt, &doc);
    assert_ptr_equal(doc.text, text);
    assert_int_equal(doc.len, sizeof text - 1);
    lv_decode(&a, "not json", 8, &opt, &doc); /* nothing to find in what does not parse: kept as it came */
    assert_true(doc.not_json);
    assert_int_equal(doc.len, 8);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_same_event_gives_same_bytes_however_formatted(void **state)
{
    (void)state;
    lv_redaction *r = redaction("client_ip,user_agent", true);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc doc;
    const char *one = redacted(&a, r, canvas, &doc);
    const char *again = redacted(&a, r, canvas, &doc);
    assert_string_equal(one, again);
    /* the same event pretty-printed: the same stored bytes, so the same dedupe key */
    lv_buf pretty;
    lv_buf_init(&pretty);
    for (const char *p = canvas; *p; p++) {
        lv_buf_putc(&pretty, *p);
        if (*p == ',' || *p == '{')
            lv_buf_puts(&pretty, "\n  ");
    }
    lv_buf_putc(&pretty, '\0');
    const char *other = redacted(&a, r, pretty.data, &doc);
    assert_string_equal(one, other);
    lv_buf_free(&pretty);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_duplicate_members_and_rejected_events_are_redacted_too(void **state)
{
    (void)state;
    lv_redaction *r = redaction("client_ip", false);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc doc;
    /* no event_time: rejected, kept as a dead letter, and still without the address */
    const char *out = redacted(&a, r,
                               "{\"metadata\":{\"event_name\":\"x\",\"client_ip\":\"10.0.0.1\",\"client_ip\":\"10.0.0.2\"},"
                               "\"metadata\":{\"client_ip\":\"10.0.0.3\"},\"body\":{}}",
                               &doc);
    assert_string_equal(out, "{\"metadata\":{\"event_name\":\"x\"},\"metadata\":{},\"body\":{}}");
    assert_true(doc.events[0].rejected);
    lv_redaction_free(r);
    lv_arena_free(&a);
}

static void test_lists_and_keys_levee_refuses_are_said(void **state)
{
    (void)state;
    lv_redaction *r = NULL;
    lv_error err;
    assert_int_equal(lv_redaction_new("client_ip,nope", NULL, &r, &err), LV_EINVAL);
    assert_null(r);
    assert_non_null(strstr(err.msg, "levee cannot redact \"nope\": there is no such metadata field"));
    assert_non_null(strstr(err.msg, "user_login, user_sis_id, session_id, user_agent, client_ip, url, referrer, url_query"));
    assert_int_equal(lv_redaction_new("user_id", NULL, &r, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "user_id cannot be redacted"));
    assert_int_equal(lv_redaction_new("client_ip,,user_agent", NULL, &r, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "an empty name"));
    assert_int_equal(lv_redaction_new("", NULL, &r, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "no field to redact"));

    char short_key[256];
    int fd = make_temp(short_key, sizeof short_key, "redact-short", false);
    assert_int_equal(write(fd, "abc\n", 4), 4);
    close(fd);
    assert_int_equal(lv_redaction_new("client_ip", short_key, &r, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "holds 3 bytes; a key needs at least 16"));
    unlink(short_key);
    assert_int_equal(lv_redaction_new("client_ip", "/nonexistent/key", &r, &err), LV_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/key"));

    r = redaction("client_ip,url_query,", false); /* a trailing comma is fine */
    lv_buf d;
    lv_buf_init(&d);
    lv_redaction_describe(r, &d);
    assert_string_equal(d.data, "removes client_ip, url_query");
    lv_buf_free(&d);
    lv_redaction_free(r);
}

static void test_secrets_are_scrubbed_from_quoted_urls(void **state)
{
    (void)state;
    char s[256];
    snprintf(s, sizeof s, "cannot reach https://x.instructure.com/api/v1/e?per_page=5&access_token=7~abc&b=2: refused");
    lv_scrub(s, sizeof s);
    assert_string_equal(s, "cannot reach https://x.instructure.com/api/v1/e?per_page=5&access_token=[redacted]&b=2: refused");
    snprintf(s, sizeof s, "POST /events?token=s3cret \"https://q/?X-Amz-Signature=ab12&X-Amz-Credential=AKIA\"");
    lv_scrub(s, sizeof s);
    assert_string_equal(s, "POST /events?token=[redacted] \"https://q/?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]\"");
    snprintf(s, sizeof s, "a token=plain sentence and ?page=2&sort=name");
    lv_scrub(s, sizeof s); /* only query parameters */
    assert_string_equal(s, "a token=plain sentence and ?page=2&sort=name");
    char tiny[24] = "?access_token=abcdefgh";
    lv_scrub(tiny, sizeof tiny); /* longer once scrubbed: cut, never the secret */
    assert_string_equal(tiny, "?access_token=[redacted");
    lv_error err;
    lv_fail(&err, LV_EIO, "cannot POST to %s", "https://h/hook?api_key=k1&x=1");
    assert_string_equal(err.msg, "cannot POST to https://h/hook?api_key=[redacted]&x=1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canvas_fields_are_removed_and_the_rest_kept),
        cmocka_unit_test(test_keyed_hash_is_hmac_sha256_of_the_value),
        cmocka_unit_test(test_caliper_places_are_redacted_in_every_event_of_an_envelope),
        cmocka_unit_test(test_a_document_without_the_fields_is_kept_byte_for_byte),
        cmocka_unit_test(test_same_event_gives_same_bytes_however_formatted),
        cmocka_unit_test(test_duplicate_members_and_rejected_events_are_redacted_too),
        cmocka_unit_test(test_lists_and_keys_levee_refuses_are_said),
        cmocka_unit_test(test_secrets_are_scrubbed_from_quoted_urls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
