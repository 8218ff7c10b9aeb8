/* test_deliver.c: a subscription's settings and what one delivery sends (src/deliver/spec.c and
 * payload.c), as a user of them checks them, on temporary SQLite stores:
 * - lv_duration_parse: every unit, fractions, the upper bound, and junk refused with the sentence;
 * - the options of an add: defaults, every option taken, and every refusal naming the option and why
 *   (url, unknown option, secret format, a secret and a key together, a key without its kid, headers
 *   levee sets, control characters, parallel and the policy out of range, retry_max < retry_min, a
 *   number too large for 64 bits); the stored form round trip (written, parsed, written again: the
 *   same bytes) and the shown form (no secret, no key path, header names only);
 * - dl_spec_matches: globs, courses, the format an event arrived in;
 * - the payload: canvas input in canvas form is the stored bytes exactly; the Caliper form of a canvas
 *   discussion_entry_created is lv_caliper_write_envelope of it, the record form lv_record_write; an
 *   event with no Caliper form is skipped with the reason; each event of a two-event Caliper envelope
 *   gets its own payload (found by its key, computed here independently), in Caliper form itself as
 *   received (its id kept) in the envelope it came in, also when it is outside the model;
 * - Standard Webhooks: the signature computed here with OpenSSL's HMAC directly, for secrets of 24,
 *   25, 26 and 64 bytes; during a rotation one signature per valid secret, an expired one unused;
 *   webhook-id stable for a subscription and event and different across subscriptions;
 * - the JWT form verified by levee's own verifier given the key's JWKS. */
#include "testing.h"

#include "../../src/deliver/deliver.h"
#include "levee/caliper.h"
#include "levee/engines.h"
#include "levee/jwt.h"
#include "levee/sign.h"
#include "levee/timestamp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define NOW_MS 1764633600123LL /* 2025-12-02T00:00:00.123Z: a fixed attempt time */

/* ---- stores and events ---- */

static lv_store *new_store(const char *name)
{
    lv_store *s = NULL;
    lv_error err;
    check(lv_store_open(path_in(name), NULL, &s, &err), &err);
    lv_store_set_bulk(s, true);
    return s;
}

static void write_texts(lv_store *s, const char *const *texts, size_t n)
{
    lv_batch *b = lv_batch_new();
    for (size_t i = 0; i < n; i++)
        lv_batch_add(b, texts[i], strlen(texts[i]), "test", (long)i + 1, NULL);
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    check(lv_batch_prepare(b, z, lv_store_dict(s), &err), &err);
    lv_zctx_free(z);
    lv_counts c = { 0 };
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_commit(s, &err), &err);
    assert_int_equal(c.rejected, 0);
    lv_batch_free(b);
}

static const char *iso(int64_t ms)
{
    static char text[8][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 8];
    lv_time_format(ms, t);
    return t;
}

/* A discussion_entry_created in course 5 on shard 2107, caller frees. */
static char *entry_text(int entry, int64_t ms)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_buf_printf(&b, "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"%s\","
                      "\"root_account_id\":\"21070000000000001\",\"user_id\":\"21070000000000002\","
                      "\"context_type\":\"Course\",\"context_id\":\"21070000000000005\",\"hostname\":\"canvas.example.edu\"},"
                      "\"body\":{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\",\"discussion_topic_id\":\"10\","
                      "\"text\":\"<p>Entry %d about leaves.</p>\",\"user_id\":\"2\"}}",
                  iso(ms), iso(ms), entry, entry);
    return lv_buf_detach(&b, NULL);
}

static const char topic_updated[] =
    "{\"metadata\":{\"event_name\":\"discussion_topic_updated\",\"event_time\":\"2024-09-02T18:00:00.000Z\","
    "\"root_account_id\":\"21070000000000001\",\"user_id\":\"21070000000000002\",\"context_type\":\"Course\","
    "\"context_id\":\"21070000000000006\"},\"body\":{\"assignment_id\":null,\"body\":\"<p>b</p>\","
    "\"context_id\":\"6\",\"context_type\":\"Course\",\"discussion_topic_id\":\"21070000000000010\","
    "\"is_announcement\":false,\"lock_at\":null,\"title\":\"T\",\"updated_at\":\"2024-09-02T18:00:00Z\","
    "\"workflow_state\":\"active\"}}";

static const char outside[] =
    "{\"metadata\":{\"event_name\":\"asset_accessed\",\"event_time\":\"2024-09-02T18:00:00.000Z\"},"
    "\"body\":{\"asset_id\":\"1\"}}";

/* A stored event, copied out of the engine's row. */
typedef struct stored {
    lv_event_ref ref;
    unsigned char hash[LV_HASH_BYTES];
    char *name, *doc;
} stored;

typedef struct stored_list {
    stored v[16];
    size_t n;
} stored_list;

static lv_status take_ref(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    stored_list *l = ctx;
    assert_true(l->n < 16);
    stored *x = &l->v[l->n++];
    x->ref = *ev;
    memcpy(x->hash, ev->hash, LV_HASH_BYTES);
    x->name = lv_xstrndup(ev->name.p, ev->name.n);
    x->doc = lv_xstrndup(ev->doc.p, ev->doc.n);
    x->ref.hash = x->hash;
    x->ref.name = (lv_str){ x->name, ev->name.n };
    x->ref.doc = (lv_str){ x->doc, ev->doc.n };
    return LV_OK;
}

static void read_all(lv_store *s, stored_list *l)
{
    memset(l, 0, sizeof *l);
    lv_error err;
    check(s->engine->events_from(s, 1, 16, true, take_ref, l, &err), &err);
}

static void stored_free(stored_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].doc);
    }
}

/* Fails showing where two long texts first differ (cmocka cuts long messages). */
static void same_text(const char *got, const char *want)
{
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    if (got[i] || want[i])
        fail_msg("the texts differ at byte %zu:\n  got  ...%.120s\n  want ...%.120s", i, got + (i > 40 ? i - 40 : 0),
                 want + (i > 40 ? i - 40 : 0));
}

/* ---- options ---- */

/* dl_spec_from_options of a JSON text; returns the status, fills sp (freed by the caller when LV_OK). */
static lv_status from_options(lv_store *s, const char *json, dl_spec *sp, char **generated, lv_error *err)
{
    lv_arena a;
    lv_arena_init(&a, 1024);
    lv_json *o;
    lv_error perr;
    if (lv_json_parse(&a, json, strlen(json), &o, &perr) != LV_OK)
        fail_msg("the test's options are not JSON: %s", perr.msg);
    char *none = NULL;
    lv_status rc = dl_spec_from_options(s, o, sp, generated ? generated : &none, err);
    free(none);
    lv_arena_free(&a);
    return rc;
}

static char *written(const dl_spec *sp, bool stored_form)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_jw_obj_open(w);
    dl_spec_write(sp, w, stored_form);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    return lv_buf_detach(&b, NULL);
}

static void test_duration(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = { { "500ms", 500 }, { "30s", 30000 }, { "10m", 600000 }, { "2h", 7200000 }, { "3d", 259200000 },
               { "1.5s", 1500 }, { "0.5m", 30000 }, { "0s", 0 }, { "1000000000000s", 1000000000000000LL } };
    lv_error err;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int64_t ms = -1;
        check(lv_duration_parse(ok[i].text, &ms, &err), &err);
        if (ms != ok[i].ms)
            fail_msg("%s: %lld ms, not %lld", ok[i].text, (long long)ms, (long long)ok[i].ms);
    }
    static const char *const junk[] = { "", "5", "s", "5 s", " 5s", "5sec", "5S", "-1s", "nan", "infs", "5ms ",
                                        "1000000000001s", "12000000d", "5x" };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        int64_t ms = 42;
        if (lv_duration_parse(junk[i], &ms, &err) != LV_EINVAL)
            fail_msg("'%s' was taken for a duration (%lld ms)", junk[i], (long long)ms);
        assert_int_equal(ms, 42);
        char want[LV_ERROR_MAX];
        snprintf(want, sizeof want, "'%s' is not a duration: write a number and a unit, as 500ms, 30s, 10m, 2h or 3d",
                 junk[i]);
        assert_string_equal(err.msg, want);
    }
    assert_int_equal(lv_duration_parse(NULL, &(int64_t){ 0 }, &err), LV_EINVAL);
}

static void test_options_defaults(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    dl_spec sp;
    lv_error err;
    check(from_options(s, "{\"url\":\"https://user:pw@hooks.example.com:8443/in?x=1\"}", &sp, NULL, &err), &err);
    assert_string_equal(sp.url, "https://user:pw@hooks.example.com:8443/in?x=1");
    assert_string_equal(sp.name, "hooks.example.com:8443"); /* the host, never the credentials */
    assert_int_equal(sp.n_events, 0);
    assert_int_equal(sp.n_courses, 0);
    assert_int_equal(sp.source_format, -1);
    assert_int_equal(sp.form, DL_FORM_CANVAS);
    assert_int_equal(sp.n_secrets, 0);
    assert_null(sp.sign_key);
    assert_int_equal(sp.parallel, 4);
    assert_int_equal(sp.timeout_ms, 15000);
    assert_int_equal(sp.retry_min_ms, 5000);
    assert_int_equal(sp.retry_max_ms, 600000);
    assert_int_equal(sp.max_age_ms, 3 * 86400000LL);
    assert_int_equal(sp.disable_after_ms, 5 * 86400000LL);
    char *shown = written(&sp, false);
    assert_string_equal(shown, "{\"name\":\"hooks.example.com:8443\",\"url\":\"https://user:pw@hooks.example.com:8443/in?x=1\","
                               "\"filter\":{\"events\":[],\"courses\":[],\"source_format\":null},\"form\":\"canvas\","
                               "\"signing\":\"none\",\"headers\":[],\"parallel\":4,\"policy\":{\"timeout_ms\":15000,"
                               "\"retry_min_ms\":5000,\"retry_max_ms\":600000,\"max_age_ms\":259200000,"
                               "\"disable_after_ms\":432000000}}");
    free(shown);
    dl_spec_free(&sp);
    lv_store_close(s);
}

/* Every option taken, the stored form round trip, and the shown form. */
static void test_options_every_one(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    dl_spec sp;
    lv_error err;
    const char *json = "{\"url\":\"http://127.0.0.1:9/hook\",\"name\":\"warehouse \\\"A\\\"\","
                       "\"events\":[\"discussion_*\",\"conversation_created\",\"asset_?ccessed\"],"
                       "\"courses\":[\"21070000000000005\",6],\"source_format\":\"caliper\",\"form\":\"record\","
                       "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
                       "\"headers\":[\"Authorization: Bearer s3cret\",\"X-Team:\\tdata\"],\"parallel\":\"16\","
                       "\"timeout_ms\":100,\"retry_min_ms\":10,\"retry_max_ms\":604800000,\"max_age_ms\":1000,"
                       "\"disable_after_ms\":31536000000,\"since\":null,\"from_start\":false}";
    check(from_options(s, json, &sp, NULL, &err), &err);
    assert_string_equal(sp.name, "warehouse \"A\"");
    assert_int_equal(sp.n_events, 3);
    assert_string_equal(sp.events[2], "asset_?ccessed");
    assert_int_equal(sp.n_courses, 2);
    assert_true(sp.courses[0] == 21070000000000005ULL);
    assert_true(sp.courses[1] == 6); /* no shard known yet: kept as given */
    assert_int_equal(sp.source_format, LV_FORMAT_CALIPER);
    assert_int_equal(sp.form, DL_FORM_RECORD);
    assert_int_equal(sp.n_secrets, 1);
    assert_int_equal(sp.secrets[0].expires_ms, 0);
    assert_int_equal(sp.n_headers, 2);
    assert_int_equal(sp.parallel, 16);
    assert_int_equal(sp.timeout_ms, 100);
    assert_int_equal(sp.retry_min_ms, 10);
    assert_int_equal(sp.retry_max_ms, 604800000);
    assert_int_equal(sp.max_age_ms, 1000);
    assert_int_equal(sp.disable_after_ms, 31536000000LL);

    /* stored, parsed, stored again: the same bytes, and the same settings */
    char *text = written(&sp, true);
    dl_spec back;
    check(dl_spec_parse(text, strlen(text), &back, &err), &err);
    char *again = written(&back, true);
    assert_string_equal(again, text);
    assert_string_equal(back.secrets[0].secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_string_equal(back.headers[0], "Authorization: Bearer s3cret");
    assert_true(back.courses[0] == 21070000000000005ULL);
    assert_int_equal(back.form, DL_FORM_RECORD);
    assert_int_equal(back.source_format, LV_FORMAT_CALIPER);
    assert_int_equal(back.parallel, 16);
    assert_int_equal(back.retry_max_ms, 604800000);
    free(again);
    dl_spec_free(&back);

    /* shown: no secret, header names only */
    char *shown = written(&sp, false);
    assert_null(strstr(shown, "whsec_"));
    assert_null(strstr(shown, "s3cret"));
    assert_non_null(strstr(shown, "\"signing\":\"webhooks\""));
    assert_non_null(strstr(shown, "\"headers\":[\"Authorization\",\"X-Team\"]"));
    free(shown);
    free(text);
    dl_spec_free(&sp);
    lv_store_close(s);
}

static void test_options_secret_new(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    dl_spec sp;
    char *gen = NULL, *gen2 = NULL;
    lv_error err;
    check(from_options(s, "{\"url\":\"http://a.example/\",\"secret\":\"new\"}", &sp, &gen, &err), &err);
    assert_non_null(gen);
    assert_string_equal(sp.secrets[0].secret, gen);
    assert_int_equal(strncmp(gen, "whsec_", 6), 0);
    assert_int_equal(strlen(gen), 6 + 32); /* 24 random bytes */
    unsigned char raw[48];
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)gen + 6, 32), 24);
    dl_spec sp2;
    check(from_options(s, "{\"url\":\"http://a.example/\",\"secret\":\"new\"}", &sp2, &gen2, &err), &err);
    assert_string_not_equal(gen, gen2);
    /* a generated secret is accepted when given back */
    char json[200];
    snprintf(json, sizeof json, "{\"url\":\"http://a.example/\",\"secret\":\"%s\"}", gen);
    dl_spec sp3;
    check(from_options(s, json, &sp3, NULL, &err), &err);
    dl_spec_free(&sp3);
    free(gen);
    free(gen2);
    dl_spec_free(&sp);
    dl_spec_free(&sp2);
    lv_store_close(s);
}

static void test_options_refused(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    static const struct {
        const char *json, *why;
    } cases[] = {
        { "[]", "the options of a subscription must be a JSON object" },
        { "{}", "a subscription needs a url: the endpoint events are POSTed to" },
        { "{\"url\":5}", "a subscription needs a url: the endpoint events are POSTed to" },
        { "{\"url\":\"ftp://a.example/\"}", "url 'ftp://a.example/' is not an http:// or https:// URL" },
        { "{\"url\":\"http://\"}", "url 'http://' is not an http:// or https:// URL" },
        { "{\"url\":\"http:///x\"}", "url 'http:///x' is not an http:// or https:// URL" },
        { "{\"url\":\"http://a b/\"}", "url 'http://a b/' is not an http:// or https:// URL" },
        { "{\"url\":\"http://a\\u0000b/\"}", "url 'http://a' is not an http:// or https:// URL" },
        { "{\"url\":\"http://a/\",\"colour\":1}",
          "'colour' is not an option of a subscription (docs/subscriptions.md lists them)" },
        { "{\"url\":\"http://a/\",\"name\":\"\"}", "name must be text of 1 to 200 characters" },
        { "{\"url\":\"http://a/\",\"name\":\"a\\u0000b\"}", "name must be text of 1 to 200 characters" },
        { "{\"url\":\"http://a/\",\"events\":\"discussion_*\"}", "events must be a list" },
        { "{\"url\":\"http://a/\",\"events\":[1]}", "events must hold only strings" },
        { "{\"url\":\"http://a/\",\"events\":[\"discussion entry\"]}",
          "events: 'discussion entry' is not an event name or a glob of one (letters, digits, _ . - * ?)" },
        { "{\"url\":\"http://a/\",\"events\":[\"[a]\"]}",
          "events: '[a]' is not an event name or a glob of one (letters, digits, _ . - * ?)" },
        { "{\"url\":\"http://a/\",\"courses\":[\"five\"]}", "courses: 'five' is not a course id" },
        { "{\"url\":\"http://a/\",\"courses\":[0]}", "courses: '0' is not a course id" },
        { "{\"url\":\"http://a/\",\"courses\":[\"-5\"]}", "courses: '-5' is not a course id" },
        { "{\"url\":\"http://a/\",\"courses\":[\"9999999999999999999\"]}",
          "courses: '9999999999999999999' is not a course id" },
        { "{\"url\":\"http://a/\",\"source_format\":\"json\"}",
          "source_format must be canvas or caliper (the format events arrived in)" },
        { "{\"url\":\"http://a/\",\"form\":\"xml\"}", "form must be canvas, caliper or record" },
        { "{\"url\":\"http://a/\",\"secret\":5}", "secret must be whsec_... or new" },
        { "{\"url\":\"http://a/\",\"secret\":\"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        { "{\"url\":\"http://a/\",\"secret\":\"whsec_short\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        { "{\"url\":\"http://a/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        /* 22 bytes: 30 characters and == */
        { "{\"url\":\"http://a/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa==\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        /* 66 bytes: 88 characters without padding */
        { "{\"url\":\"http://a/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUPD8IMfKQ\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        /* padding that is not at the end */
        { "{\"url\":\"http://a/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=A\"}",
          "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new for levee to make one" },
        { "{\"url\":\"http://a/\",\"secret\":\"new\",\"sign_key\":\"k.pem\",\"kid\":\"k\"}",
          "a subscription is signed one way: a secret (Standard Webhooks) or a key (a JWT), not both" },
        { "{\"url\":\"http://a/\",\"secret\":\"new\",\"kid\":\"k\"}",
          "a subscription is signed one way: a secret (Standard Webhooks) or a key (a JWT), not both" },
        { "{\"url\":\"http://a/\",\"sign_key\":\"k.pem\"}",
          "sign_key and kid go together: the JWT header names the key by its id" },
        { "{\"url\":\"http://a/\",\"kid\":\"k\"}", "sign_key and kid go together: the JWT header names the key by its id" },
        { "{\"url\":\"http://a/\",\"sign_key\":\"/nonexistent/k.pem\",\"kid\":\"k\"}",
          "sign_key: cannot open '/nonexistent/k.pem': No such file or directory" },
        { "{\"url\":\"http://a/\",\"sign_key\":5,\"kid\":\"k\"}", "sign_key must be a file name and kid a key id" },
        { "{\"url\":\"http://a/\",\"headers\":\"Authorization: x\"}", "headers must be a list" },
        { "{\"url\":\"http://a/\",\"headers\":[\"Authorization\"]}",
          "headers: 'Authorization' is not a header: write it as 'Name: value'" },
        { "{\"url\":\"http://a/\",\"headers\":[\": x\"]}", "headers: ': x' is not a header: write it as 'Name: value'" },
        { "{\"url\":\"http://a/\",\"headers\":[\"X Team: x\"]}", "headers: 'X Team' is not a header name" },
        { "{\"url\":\"http://a/\",\"headers\":[\"Content-Type: text/plain\"]}",
          "headers: levee sets the header 'Content-Type' itself" },
        { "{\"url\":\"http://a/\",\"headers\":[\"webhook-signature: v1,x\"]}",
          "headers: levee sets the header 'webhook-signature' itself" },
        { "{\"url\":\"http://a/\",\"headers\":[\"USER-AGENT: me\"]}", "headers: levee sets the header 'USER-AGENT' itself" },
        { "{\"url\":\"http://a/\",\"headers\":[\"X-A: b\\r\\nHost: evil\"]}",
          "headers: the value of header 'X-A' holds a control character or a line break" },
        { "{\"url\":\"http://a/\",\"headers\":[\"X-A: b\\u007f\"]}",
          "headers: the value of header 'X-A' holds a control character or a line break" },
        { "{\"url\":\"http://a/\",\"headers\":[\"X-A: b\\u0000c\"]}", "headers: a header holds a NUL character" },
        { "{\"url\":\"http://a/\",\"parallel\":0}", "parallel must be a whole number from 1 to 64" },
        { "{\"url\":\"http://a/\",\"parallel\":65}", "parallel must be a whole number from 1 to 64" },
        { "{\"url\":\"http://a/\",\"parallel\":2.5}", "parallel must be a whole number from 1 to 64" },
        { "{\"url\":\"http://a/\",\"parallel\":-1}", "parallel must be a whole number from 1 to 64" },
        { "{\"url\":\"http://a/\",\"parallel\":9999999999999999999}", "parallel must be a whole number from 1 to 64" },
        { "{\"url\":\"http://a/\",\"timeout_ms\":99}", "timeout must be from 100ms to 10m" },
        { "{\"url\":\"http://a/\",\"timeout_ms\":600001}", "timeout must be from 100ms to 10m" },
        { "{\"url\":\"http://a/\",\"retry_min_ms\":9}", "retry_min must be from 10ms to 1d" },
        { "{\"url\":\"http://a/\",\"retry_max_ms\":604800001}", "retry_max must be from 10ms to 7d" },
        { "{\"url\":\"http://a/\",\"max_age_ms\":999}", "max_age must be from 1s to 90d" },
        { "{\"url\":\"http://a/\",\"disable_after_ms\":true}", "disable_after must be from 1s to 365d" },
        { "{\"url\":\"http://a/\",\"retry_min_ms\":60000,\"retry_max_ms\":59999}",
          "retry-max (59999 ms) is shorter than retry-min (60000 ms)" },
        { "{\"url\":\"http://a/\",\"retry_min_ms\":700000}", "retry-max (600000 ms) is shorter than retry-min (700000 ms)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dl_spec sp;
        char *gen = NULL;
        lv_error err = { 0 };
        lv_status rc = from_options(s, cases[i].json, &sp, &gen, &err);
        if (rc != LV_EINVAL)
            fail_msg("%s: status %d, not LV_EINVAL (%s)", cases[i].json, (int)rc, rc == LV_OK ? "accepted" : err.msg);
        if (strcmp(err.msg, cases[i].why) != 0)
            fail_msg("%s:\n  said  %s\n  not   %s", cases[i].json, err.msg, cases[i].why);
        assert_null(gen);
    }
    lv_store_close(s);
}

/* The headers a subscription may add: every token character in a name, a tab in a value, 8 KB. */
static void test_options_headers_taken(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    lv_buf json;
    lv_buf_init(&json);
    lv_buf_puts(&json, "{\"url\":\"http://a/\",\"headers\":[\"X-!#$%&'*+-.^_`|~9: a\\tb\",\"Authorization:\",\"X-Long: ");
    for (int i = 0; i < 8192 - 8; i++)
        lv_buf_putc(&json, 'v');
    lv_buf_puts(&json, "\"]}");
    dl_spec sp;
    lv_error err;
    check(from_options(s, json.data, &sp, NULL, &err), &err);
    assert_int_equal(sp.n_headers, 3);
    assert_string_equal(sp.headers[0], "X-!#$%&'*+-.^_`|~9: a\tb");
    dl_spec_free(&sp);
    /* one byte more is refused */
    json.len -= 3;
    lv_buf_puts(&json, "v\"]}");
    assert_int_equal(from_options(s, json.data, &sp, NULL, &err), LV_EINVAL);
    assert_string_equal(err.msg, "headers: a header is longer than 8192 bytes");
    lv_buf_free(&json);
    lv_store_close(s);
}

/* A course id given locally is made global once the store knows its shard. */
static void test_options_course_local(void **state)
{
    (void)state;
    lv_store *s = new_store("o.db");
    char *e = entry_text(1, T0);
    write_texts(s, (const char *const *)&e, 1);
    free(e);
    dl_spec sp;
    lv_error err;
    check(from_options(s, "{\"url\":\"http://a/\",\"courses\":[\"5\",21070000000000009]}", &sp, NULL, &err), &err);
    assert_true(sp.courses[0] == 21070000000000005ULL);
    assert_true(sp.courses[1] == 21070000000000009ULL);
    dl_spec_free(&sp);
    lv_store_close(s);
}

/* ---- the filter ---- */

static lv_event_ref head(const char *name, lv_format format, uint64_t course)
{
    return (lv_event_ref){ .id = 1, .name = { name, strlen(name) }, .format = format,
                           .context_id = course ? lv_some((int64_t)course) : (lv_opt){ 0 } };
}

static void test_matches(void **state)
{
    (void)state;
    lv_store *s = new_store("m.db");
    dl_spec any, globs, courses, cal;
    lv_error err;
    check(from_options(s, "{\"url\":\"http://a/\"}", &any, NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"events\":[\"discussion_*\",\"conversation_?reated\"]}", &globs,
                       NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"courses\":[\"21070000000000005\",\"7\"]}", &courses, NULL, &err),
          &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"source_format\":\"caliper\",\"events\":[\"MessageEvent.Posted\","
                          "\"discussion_entry_created\"]}", &cal, NULL, &err), &err);
    lv_event_ref topic = head("discussion_topic_created", LV_FORMAT_CANVAS, 21070000000000005ULL);
    lv_event_ref conv = head("conversation_created", LV_FORMAT_CANVAS, 0);
    lv_event_ref fwd = head("conversation_forwarded", LV_FORMAT_CANVAS, 0);
    lv_event_ref asset = head("asset_accessed", LV_FORMAT_CANVAS, 7);
    lv_event_ref cal_entry = head("discussion_entry_created", LV_FORMAT_CALIPER, 8);
    lv_event_ref cal_other = head("MessageEvent.Posted", LV_FORMAT_CALIPER, 0);
    lv_event_ref prefix = head("xdiscussion_topic_created", LV_FORMAT_CANVAS, 0);
    assert_true(dl_spec_matches(&any, &topic) && dl_spec_matches(&any, &asset) && dl_spec_matches(&any, &cal_other));
    assert_true(dl_spec_matches(&globs, &topic));
    assert_true(dl_spec_matches(&globs, &conv));
    assert_false(dl_spec_matches(&globs, &fwd));
    assert_false(dl_spec_matches(&globs, &asset));
    assert_false(dl_spec_matches(&globs, &prefix)); /* a glob matches the whole name */
    assert_true(dl_spec_matches(&courses, &topic));
    assert_true(dl_spec_matches(&courses, &asset));
    assert_false(dl_spec_matches(&courses, &conv)); /* no course at all */
    assert_false(dl_spec_matches(&courses, &cal_entry));
    assert_true(dl_spec_matches(&cal, &cal_entry));
    assert_true(dl_spec_matches(&cal, &cal_other));
    lv_event_ref canvas_entry = head("discussion_entry_created", LV_FORMAT_CANVAS, 0);
    assert_false(dl_spec_matches(&cal, &canvas_entry));
    dl_spec_free(&any);
    dl_spec_free(&globs);
    dl_spec_free(&courses);
    dl_spec_free(&cal);
    lv_store_close(s);
}

/* ---- payloads ---- */

/* The value of header name in r's headers ("Name: value\n" lines), copied into out. */
static bool header_of(const dl_request *r, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    for (const char *line = r->headers.data; line && *line;) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        if ((size_t)(end - line) > n + 1 && strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(end - v), v);
            return true;
        }
        line = end + 1;
    }
    return false;
}

/* Builds into r (initialized by the caller: a request is built again and again, as delivery does). */
static void build(const dl_spec *sp, int64_t id, const stored *x, const lv_sign_key *key, int64_t now, dl_request *r)
{
    lv_error err;
    check(dl_request_build(sp, id, &x->ref, key, now, r, &err), &err);
}

/* Writes the event of text (its only event, or the i-th) with fn into a new string. */
typedef enum { W_CANVAS, W_CALIPER, W_RECORD } writer;

static char *rewrite(const char *text, size_t index, writer how)
{
    lv_arena a;
    lv_arena_init(&a, 1 << 14);
    lv_doc doc;
    lv_decode(&a, text, strlen(text), NULL, &doc);
    size_t seen = 0;
    const lv_event *ev = NULL;
    for (size_t i = 0; i < doc.n_events && !ev; i++)
        if (!doc.events[i].is_entity && seen++ == index)
            ev = &doc.events[i];
    assert_non_null(ev);
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_error err;
    if (how == W_CANVAS)
        check(lv_canvas_write_event(ev, w, &err), &err);
    else if (how == W_CALIPER)
        check(lv_caliper_write_envelope(ev, &a, w, &err), &err);
    else
        lv_record_write(w, ev);
    lv_jw_free(w);
    lv_arena_free(&a);
    return lv_buf_detach(&b, NULL);
}

static void test_payload_forms(void **state)
{
    (void)state;
    lv_store *s = new_store("p.db");
    /* white space and member order as a sender might have them: the canvas form keeps them */
    char *entry = entry_text(7, T0);
    char *spaced = lv_xstrdup("{ \"body\": {\"discussion_entry_id\":\"8\", \"discussion_topic_id\":\"10\", \"text\":\"x\","
                              " \"user_id\":\"2\", \"created_at\":\"2024-09-02T12:00:00-06:00\"},\n \"metadata\": {"
                              "\"event_name\":\"discussion_entry_created\",\"event_time\":\"2024-09-02T18:00:01Z\"} }");
    const char *texts[] = { entry, spaced, topic_updated, outside };
    write_texts(s, texts, 4);
    stored_list l;
    read_all(s, &l);
    assert_int_equal(l.n, 4);
    dl_spec canvas, caliper, record;
    lv_error err;
    check(from_options(s, "{\"url\":\"http://a/\"}", &canvas, NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"form\":\"caliper\"}", &caliper, NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"form\":\"record\"}", &record, NULL, &err), &err);

    for (size_t i = 0; i < 4; i++) { /* canvas input, canvas form: the bytes as received */
        dl_request r;
        dl_request_init(&r);
        build(&canvas, 1, &l.v[i], NULL, NOW_MS, &r);
        assert_false(r.skip);
        assert_int_equal(r.body.len, strlen(texts[i]));
        assert_memory_equal(r.body.data, texts[i], r.body.len);
        char v[256];
        assert_true(header_of(&r, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        assert_true(header_of(&r, "User-Agent", v, sizeof v));
        assert_string_equal(v, "levee/" LV_VERSION);
        assert_false(header_of(&r, "webhook-signature", v, sizeof v));
        dl_request_free(&r);
    }
    for (size_t i = 0; i < 2; i++) { /* the Caliper and record forms, as levee's writers make them */
        dl_request r;
        dl_request_init(&r);
        build(&caliper, 1, &l.v[i], NULL, NOW_MS, &r);
        char *want = rewrite(texts[i], 0, W_CALIPER);
        assert_false(r.skip);
        same_text(r.body.data, want);
        free(want);
        build(&record, 1, &l.v[i], NULL, NOW_MS, &r);
        want = rewrite(texts[i], 0, W_RECORD);
        same_text(r.body.data, want);
        free(want);
        dl_request_free(&r);
    }
    /* no Caliper form: skipped, saying why, nothing to send */
    dl_request r;
    dl_request_init(&r);
    build(&caliper, 1, &l.v[2], NULL, NOW_MS, &r);
    assert_true(r.skip);
    assert_string_equal(r.skip_why, "discussion_topic_updated has no Caliper form");
    assert_int_equal(r.body.len, 0);
    assert_int_equal(r.headers.len, 0);
    build(&caliper, 1, &l.v[3], NULL, NOW_MS, &r);
    assert_true(r.skip);
    assert_string_equal(r.skip_why, "asset_accessed has no Caliper form");
    /* outside the model, in record form: the record as levee normalize writes it */
    build(&record, 1, &l.v[3], NULL, NOW_MS, &r);
    assert_false(r.skip);
    char *want = rewrite(outside, 0, W_RECORD);
    same_text(r.body.data, want);
    free(want);
    dl_request_free(&r);

    /* the extra headers come after levee's own */
    dl_spec hdr;
    check(from_options(s, "{\"url\":\"http://a/\",\"headers\":[\"Authorization: Bearer t\"]}", &hdr, NULL, &err),
          &err);
    build(&hdr, 3, &l.v[0], NULL, NOW_MS, &r);
    char id[64];
    dl_webhook_id(3, l.v[0].hash, id);
    lv_buf wanted;
    lv_buf_init(&wanted);
    lv_buf_printf(&wanted, "Content-Type: application/json\nUser-Agent: levee/%s\nwebhook-id: %s\n"
                           "Authorization: Bearer t\n", LV_VERSION, id);
    assert_string_equal(r.headers.data, wanted.data);
    lv_buf_free(&wanted);
    dl_request_free(&r);
    dl_spec_free(&hdr);

    dl_spec_free(&canvas);
    dl_spec_free(&caliper);
    dl_spec_free(&record);
    stored_free(&l);
    free(entry);
    free(spaced);
    lv_store_close(s);
}

/* The dedupe key of the event, computed here: SHA-256 of its identity, first LV_HASH_BYTES. */
static void key_of(const lv_event *ev, unsigned char out[LV_HASH_BYTES])
{
    lv_buf id;
    lv_buf_init(&id);
    lv_event_identity(ev, &id);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(id.data, id.len, md, &n, EVP_sha256(), NULL), 1);
    memcpy(out, md, LV_HASH_BYTES);
    lv_buf_free(&id);
}

/* env's members, its data holding e1 (and e2 when not NULL), into out (initialized here). */
static void envelope_of(const lv_json *env, const lv_json *e1, const lv_json *e2, lv_buf *out)
{
    lv_buf_init(out);
    lv_jw *w = lv_jw_new(out, false);
    lv_jw_obj_open(w);
    for (const lv_json *m = env->child; m; m = m->next) {
        lv_jw_keyn(w, m->key, m->key_len);
        if (lv_json_key_is(m, "data")) {
            lv_jw_arr_open(w);
            lv_jw_value(w, e1);
            if (e2)
                lv_jw_value(w, e2);
            lv_jw_arr_close(w);
        } else {
            lv_jw_value(w, m);
        }
    }
    lv_jw_obj_close(w);
    lv_jw_free(w);
}

/* A Caliper envelope of two events, and a one-event envelope: each event gets its own payload. */
static void test_payload_caliper_envelopes(void **state)
{
    (void)state;
    lv_store *s = new_store("c.db");
    char *a = entry_text(21, T0), *b = entry_text(22, T0 + 1000);
    char *ca = rewrite(a, 0, W_CALIPER), *cb = rewrite(b, 0, W_CALIPER);
    /* {"sensor":...,"data":[A]} and [B]: one envelope holding both (A's sensor and sendTime) */
    lv_arena arena;
    lv_arena_init(&arena, 1 << 14);
    lv_json *ja, *jb;
    lv_error err;
    check(lv_json_parse(&arena, ca, strlen(ca), &ja, &err), &err);
    check(lv_json_parse(&arena, cb, strlen(cb), &jb, &err), &err);
    const lv_json *ea = lv_json_index(lv_json_get(ja, "data"), 0), *eb = lv_json_index(lv_json_get(jb, "data"), 0);
    lv_buf two, only_a, only_b;
    envelope_of(ja, ea, eb, &two);
    envelope_of(ja, ea, NULL, &only_a);
    envelope_of(ja, eb, NULL, &only_b);
    assert_string_equal(only_a.data, ca);
    char *single = entry_text(23, T0 + 2000);
    char *csingle = rewrite(single, 0, W_CALIPER);
    const char *texts[] = { two.data, csingle };
    write_texts(s, texts, 2);
    stored_list l;
    read_all(s, &l);
    assert_int_equal(l.n, 3);

    /* which stored row is which event: by the key, computed here */
    lv_doc doc;
    lv_decode(&arena, two.data, two.len, NULL, &doc);
    unsigned char k0[LV_HASH_BYTES], k1[LV_HASH_BYTES];
    size_t evs[2], n = 0;
    for (size_t i = 0; i < doc.n_events; i++)
        if (!doc.events[i].is_entity)
            evs[n++] = i;
    assert_int_equal(n, 2);
    key_of(&doc.events[evs[0]], k0);
    key_of(&doc.events[evs[1]], k1);
    assert_memory_not_equal(k0, k1, LV_HASH_BYTES);

    dl_spec canvas, caliper;
    check(from_options(s, "{\"url\":\"http://a/\"}", &canvas, NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"form\":\"caliper\"}", &caliper, NULL, &err), &err);
    int matched[2] = { 0, 0 };
    for (size_t row = 0; row < 2; row++) {
        size_t which = memcmp(l.v[row].hash, k0, LV_HASH_BYTES) == 0 ? 0
                       : memcmp(l.v[row].hash, k1, LV_HASH_BYTES) == 0 ? 1 : 2;
        assert_true(which < 2);
        matched[which]++;
        dl_request r;
        dl_request_init(&r);
        build(&canvas, 1, &l.v[row], NULL, NOW_MS, &r);
        char *want = rewrite(two.data, which, W_CANVAS);
        same_text(r.body.data, want);
        assert_non_null(strstr(r.body.data, which ? "\"discussion_entry_id\":\"22\"" : "\"discussion_entry_id\":\"21\""));
        free(want);
        build(&caliper, 1, &l.v[row], NULL, NOW_MS, &r);
        /* in an envelope of its own: the event as received (its Caliper id kept), in the envelope it
         * came in (its sensor and sendTime) */
        same_text(r.body.data, which ? only_b.data : only_a.data);
        dl_request_free(&r);
    }
    assert_int_equal(matched[0], 1);
    assert_int_equal(matched[1], 1);
    /* a one-event envelope in Caliper form: the bytes as received; in canvas form: converted */
    dl_request r;
    dl_request_init(&r);
    build(&caliper, 1, &l.v[2], NULL, NOW_MS, &r);
    same_text(r.body.data, csingle);
    build(&canvas, 1, &l.v[2], NULL, NOW_MS, &r);
    char *want = rewrite(csingle, 0, W_CANVAS);
    same_text(r.body.data, want);
    free(want);
    dl_request_free(&r);

    dl_spec_free(&canvas);
    dl_spec_free(&caliper);
    stored_free(&l);
    lv_buf_free(&two);
    lv_buf_free(&only_a);
    lv_buf_free(&only_b);
    lv_arena_free(&arena);
    free(a);
    free(b);
    free(ca);
    free(cb);
    free(single);
    free(csingle);
    lv_store_close(s);
}

/* An event outside the model in a Caliper envelope of several: in Caliper form, itself in an envelope
 * of its own; in canvas form, skipped, saying why. */
static void test_payload_caliper_outside(void **state)
{
    (void)state;
    lv_store *s = new_store("n.db");
    char *a = entry_text(31, T0), *b = entry_text(32, T0 + 1000);
    char *ca = rewrite(a, 0, W_CALIPER), *cb = rewrite(b, 0, W_CALIPER);
    lv_buf nav;
    lv_buf_init(&nav);
    for (const char *p = cb; *p;) { /* the second a NavigationEvent, which levee does not model */
        if (strncmp(p, "\"MessageEvent\"", 14) == 0) {
            lv_buf_puts(&nav, "\"NavigationEvent\"");
            p += 14;
        } else if (strncmp(p, "\"Posted\"", 8) == 0) {
            lv_buf_puts(&nav, "\"NavigatedTo\"");
            p += 8;
        } else {
            lv_buf_putc(&nav, *p++);
        }
    }
    lv_arena arena;
    lv_arena_init(&arena, 1 << 14);
    lv_json *ja, *jn;
    lv_error err;
    check(lv_json_parse(&arena, ca, strlen(ca), &ja, &err), &err);
    check(lv_json_parse(&arena, nav.data, nav.len, &jn, &err), &err);
    const lv_json *ea = lv_json_index(lv_json_get(ja, "data"), 0), *en = lv_json_index(lv_json_get(jn, "data"), 0);
    lv_buf two, only_n;
    envelope_of(ja, ea, en, &two);
    envelope_of(ja, en, NULL, &only_n);
    write_texts(s, (const char *const[]){ two.data }, 1);
    stored_list l;
    read_all(s, &l);
    assert_int_equal(l.n, 2);
    size_t row = strcmp(l.v[0].name, "NavigationEvent.NavigatedTo") == 0 ? 0 : 1;
    assert_string_equal(l.v[row].name, "NavigationEvent.NavigatedTo");
    dl_spec canvas, caliper;
    check(from_options(s, "{\"url\":\"http://a/\"}", &canvas, NULL, &err), &err);
    check(from_options(s, "{\"url\":\"http://a/\",\"form\":\"caliper\"}", &caliper, NULL, &err), &err);
    dl_request r;
    dl_request_init(&r);
    build(&caliper, 1, &l.v[row], NULL, NOW_MS, &r);
    assert_false(r.skip);
    same_text(r.body.data, only_n.data);
    build(&canvas, 1, &l.v[row], NULL, NOW_MS, &r);
    assert_true(r.skip);
    assert_string_equal(r.skip_why, "NavigationEvent.NavigatedTo is outside the model: it has no canvas form");
    dl_request_free(&r);
    dl_spec_free(&canvas);
    dl_spec_free(&caliper);
    stored_free(&l);
    lv_buf_free(&two);
    lv_buf_free(&only_n);
    lv_buf_free(&nav);
    lv_arena_free(&arena);
    free(a);
    free(b);
    free(ca);
    free(cb);
    lv_store_close(s);
}

/* ---- signatures ---- */

/* whsec_ and the base64 of raw, as a user makes one. */
static char *secret_of(const unsigned char *raw, size_t n)
{
    char b64[128];
    int len = EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
    lv_buf b;
    lv_buf_init(&b);
    lv_buf_printf(&b, "whsec_%.*s", len, b64);
    return lv_buf_detach(&b, NULL);
}

/* v1,<base64 HMAC-SHA256(key, id.ts.body)>, computed with OpenSSL directly. */
static void expected_signature(const unsigned char *key, size_t key_len, const char *id, const char *ts,
                               const lv_buf *body, char *out, size_t size)
{
    lv_buf msg;
    lv_buf_init(&msg);
    lv_buf_printf(&msg, "%s.%s.", id, ts);
    lv_buf_append(&msg, body->data, body->len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg.data, msg.len, mac, &mac_len));
    assert_int_equal(mac_len, 32);
    char b64[64];
    int n = EVP_EncodeBlock((unsigned char *)b64, mac, (int)mac_len);
    snprintf(out, size, "v1,%.*s", n, b64);
    lv_buf_free(&msg);
}

static void test_webhook_signature(void **state)
{
    (void)state;
    lv_store *s = new_store("w.db");
    char *e = entry_text(5, T0);
    write_texts(s, (const char *const *)&e, 1);
    stored_list l;
    read_all(s, &l);
    unsigned char raw[64];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    static const size_t sizes[] = { 24, 25, 26, 64 };
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        char *secret = secret_of(raw, sizes[k]);
        char json[256];
        snprintf(json, sizeof json, "{\"url\":\"http://a/\",\"secret\":\"%s\"}", secret);
        dl_spec sp;
        lv_error err;
        check(from_options(s, json, &sp, NULL, &err), &err);
        dl_request r;
        dl_request_init(&r);
        build(&sp, 12, &l.v[0], NULL, NOW_MS, &r);
        char id[128], ts[32], sig[256], want[128];
        assert_true(header_of(&r, "webhook-id", id, sizeof id));
        assert_true(header_of(&r, "webhook-timestamp", ts, sizeof ts));
        assert_true(header_of(&r, "webhook-signature", sig, sizeof sig));
        /* the id: msg_<subscription>_<the event's key in hex> */
        char hex[2 * LV_HASH_BYTES + 1];
        for (int i = 0; i < LV_HASH_BYTES; i++)
            snprintf(hex + 2 * i, 3, "%02x", l.v[0].hash[i]);
        char want_id[128];
        snprintf(want_id, sizeof want_id, "msg_12_%s", hex);
        assert_string_equal(id, want_id);
        assert_string_equal(ts, "1764633600");
        assert_string_equal(r.body.data, e); /* signed over the bytes sent */
        expected_signature(raw, sizes[k], id, ts, &r.body, want, sizeof want);
        if (strcmp(sig, want) != 0)
            fail_msg("a %zu-byte secret: signature %s, not %s", sizes[k], sig, want);
        dl_request_free(&r);
        dl_spec_free(&sp);
        free(secret);
    }
    stored_free(&l);
    free(e);
    lv_store_close(s);
}

static lv_status take_spec(void *ctx, const lv_sub_row *row, lv_error *err)
{
    (void)err;
    *(char **)ctx = lv_xstrndup(row->spec.p, row->spec.n);
    return LV_OK;
}

/* During a rotation: one signature per secret still valid, in order; an expired one is not used. */
static void test_webhook_rotation(void **state)
{
    (void)state;
    lv_store *s = new_store("r.db");
    char *e = entry_text(6, T0);
    write_texts(s, (const char *const *)&e, 1);
    stored_list l;
    read_all(s, &l);
    unsigned char k1[32], k2[32], k3[32];
    for (int i = 0; i < 32; i++) {
        k1[i] = (unsigned char)i;
        k2[i] = (unsigned char)(255 - i);
        k3[i] = (unsigned char)(i * 7);
    }
    char *s1 = secret_of(k1, 32), *s2 = secret_of(k2, 32), *s3 = secret_of(k3, 32);
    lv_buf text;
    lv_buf_init(&text);
    lv_buf_printf(&text, "{\"url\":\"http://a/\",\"secrets\":[{\"secret\":\"%s\",\"expires_ms\":%lld},"
                         "{\"secret\":\"%s\",\"expires_ms\":%lld},{\"secret\":\"%s\",\"expires_ms\":0}]}",
                  s1, (long long)NOW_MS, s2, (long long)NOW_MS + 1, s3);
    dl_spec sp;
    lv_error err;
    check(dl_spec_parse(text.data, text.len, &sp, &err), &err);
    assert_int_equal(sp.n_secrets, 3);
    dl_request r;
    dl_request_init(&r);
    build(&sp, 1, &l.v[0], NULL, NOW_MS, &r);
    char id[128], ts[32], sig[512], w2[128], w3[128], both[300];
    assert_true(header_of(&r, "webhook-id", id, sizeof id));
    assert_true(header_of(&r, "webhook-timestamp", ts, sizeof ts));
    assert_true(header_of(&r, "webhook-signature", sig, sizeof sig));
    expected_signature(k2, 32, id, ts, &r.body, w2, sizeof w2);
    expected_signature(k3, 32, id, ts, &r.body, w3, sizeof w3);
    snprintf(both, sizeof both, "%s %s", w2, w3);
    assert_string_equal(sig, both);
    dl_request_free(&r);
    /* once the second has expired too, only the newest signs */
    build(&sp, 1, &l.v[0], NULL, NOW_MS + 1, &r);
    assert_true(header_of(&r, "webhook-signature", sig, sizeof sig));
    assert_true(header_of(&r, "webhook-timestamp", ts, sizeof ts));
    expected_signature(k3, 32, id, ts, &r.body, w3, sizeof w3);
    assert_string_equal(sig, w3);
    dl_request_free(&r);
    dl_spec_free(&sp);

    /* lv_sub_rotate keeps the old secret valid for keep_old, adds the new one last */
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_arena a;
    lv_arena_init(&a, 1024);
    char opts[200];
    snprintf(opts, sizeof opts, "{\"url\":\"http://a/\",\"secret\":\"%s\"}", s1);
    lv_json *o;
    check(lv_json_parse(&a, opts, strlen(opts), &o, &err), &err);
    check(lv_sub_add(s, o, w, &err), &err);
    lv_jw_reset(w);
    int64_t before = lv_now_ms();
    check(lv_sub_rotate(s, 1, s2, 3600000, w, &err), &err);
    int64_t after = lv_now_ms();
    assert_null(strstr(out.data, "whsec_")); /* a given secret is not shown back */
    lv_jw_free(w);
    lv_buf_free(&out);
    lv_arena_free(&a);
    char *spec = NULL;
    check(s->engine->sub_get(s, 1, take_spec, &spec, &err), &err);
    assert_non_null(spec);
    check(dl_spec_parse(spec, strlen(spec), &sp, &err), &err);
    assert_int_equal(sp.n_secrets, 2);
    assert_string_equal(sp.secrets[0].secret, s1);
    assert_true(sp.secrets[0].expires_ms >= before + 3600000 && sp.secrets[0].expires_ms <= after + 3600000);
    assert_string_equal(sp.secrets[1].secret, s2);
    assert_int_equal(sp.secrets[1].expires_ms, 0);
    dl_spec_free(&sp);
    free(spec);
    lv_buf_free(&text);
    free(s1);
    free(s2);
    free(s3);
    stored_free(&l);
    free(e);
    lv_store_close(s);
}

/* webhook-id: the same for a subscription and event whenever it is sent, another for another one. */
static void test_webhook_id_stable(void **state)
{
    (void)state;
    lv_store *s = new_store("i.db");
    char *e1 = entry_text(1, T0), *e2 = entry_text(2, T0);
    const char *texts[] = { e1, e2 };
    write_texts(s, texts, 2);
    stored_list l;
    read_all(s, &l);
    dl_spec sp;
    lv_error err;
    check(from_options(s, "{\"url\":\"http://a/\",\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}", &sp, NULL,
                       &err), &err);
    char a[128], b[128], c[128], d[128], ta[32], tb[32];
    dl_request r;
    dl_request_init(&r);
    build(&sp, 7, &l.v[0], NULL, NOW_MS, &r);
    assert_true(header_of(&r, "webhook-id", a, sizeof a) && header_of(&r, "webhook-timestamp", ta, sizeof ta));
    build(&sp, 7, &l.v[0], NULL, NOW_MS + 3600000, &r); /* a retry an hour later */
    assert_true(header_of(&r, "webhook-id", b, sizeof b) && header_of(&r, "webhook-timestamp", tb, sizeof tb));
    build(&sp, 8, &l.v[0], NULL, NOW_MS, &r);
    assert_true(header_of(&r, "webhook-id", c, sizeof c));
    build(&sp, 7, &l.v[1], NULL, NOW_MS, &r);
    assert_true(header_of(&r, "webhook-id", d, sizeof d));
    assert_string_equal(a, b);
    assert_string_not_equal(ta, tb);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_int_equal(strncmp(c, "msg_8_", 6), 0);
    dl_request_free(&r);
    dl_spec_free(&sp);
    stored_free(&l);
    free(e1);
    free(e2);
    lv_store_close(s);
}

/* ---- the JWT form ---- */

static void test_jwt_form(void **state)
{
    (void)state;
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    assert_non_null(pkey);
    const char *pem_path = path_in("key.pem");
    FILE *f = fopen(pem_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
    EVP_PKEY_free(pkey);

    lv_store *s = new_store("j.db");
    char *e = entry_text(9, T0);
    write_texts(s, (const char *const *)&e, 1);
    stored_list l;
    read_all(s, &l);
    char json[512];
    snprintf(json, sizeof json, "{\"url\":\"http://a/\",\"sign_key\":\"%s\",\"kid\":\"2026-12\"}", pem_path);
    dl_spec sp;
    lv_error err;
    check(from_options(s, json, &sp, NULL, &err), &err);
    assert_string_equal(sp.sign_key, pem_path); /* the real path: the key is read when delivery starts */
    assert_string_equal(sp.kid, "2026-12");
    char *shown = written(&sp, false);
    assert_null(strstr(shown, pem_path));
    assert_non_null(strstr(shown, "\"signing\":\"jwt\""));
    free(shown);
    lv_sign_key *key;
    check(lv_sign_key_load(&key, sp.sign_key, sp.kid, &err), &err);
    dl_request r;
    dl_request_init(&r);
    build(&sp, 1, &l.v[0], key, NOW_MS, &r);
    char v[128];
    assert_true(header_of(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/jwt");
    assert_true(lv_jwt_looks_like(r.body.data, r.body.len));

    /* levee's own verifier, given the key's JWKS */
    lv_buf jwks;
    lv_buf_init(&jwks);
    lv_jw *w = lv_jw_new(&jwks, false);
    lv_jwks_write(key, w);
    lv_jw_free(w);
    lv_jwks *keys;
    check(lv_jwks_parse(jwks.data, jwks.len, "jwks", &keys, &err), &err);
    lv_buf claims;
    lv_buf_init(&claims);
    lv_jwt_policy policy = { .issuer = LV_JWT_ISSUER, .now = NOW_MS / 1000 + 60, .leeway = 0 };
    check(lv_jwt_verify(keys, r.body.data, r.body.len, &policy, &claims, &err), &err);
    /* the claims: the event's members as received, then iss, iat and exp an hour apart */
    char want[4096];
    snprintf(want, sizeof want, "%.*s,\"iss\":\"%s\",\"iat\":%lld,\"exp\":%lld}", (int)strlen(e) - 1, e, LV_JWT_ISSUER,
             (long long)(NOW_MS / 1000), (long long)(NOW_MS / 1000 + 3600));
    assert_string_equal(claims.data, want);
    /* an hour later it has expired */
    policy.now = NOW_MS / 1000 + 3601;
    lv_buf_reset(&claims);
    assert_int_not_equal(lv_jwt_verify(keys, r.body.data, r.body.len, &policy, &claims, &err), LV_OK);

    lv_buf_free(&claims);
    lv_buf_free(&jwks);
    lv_jwks_free(keys);
    dl_request_free(&r);
    lv_sign_key_free(key);
    dl_spec_free(&sp);
    stored_free(&l);
    free(e);
    lv_store_close(s);
}

/* A stored secret that is not a whsec_ secret is damage: the spec is refused (the deliverer then leaves
 * only that subscription undelivered, saying why), not used to sign with garbage. */
static void test_damaged_secret(void **state)
{
    (void)state;
    static const char *const damaged[] = {
        "{\"url\":\"http://127.0.0.1:1/\",\"secrets\":[{\"secret\":\"whsec_!!!!\",\"expires_ms\":0}]}",
        "{\"url\":\"http://127.0.0.1:1/\",\"secrets\":[{\"secret\":\"plain\",\"expires_ms\":0}]}",
    };
    for (size_t i = 0; i < sizeof damaged / sizeof *damaged; i++) {
        dl_spec sp;
        lv_error err;
        assert_int_equal(dl_spec_parse(damaged[i], strlen(damaged[i]), &sp, &err), LV_EDAMAGED);
        assert_non_null(strstr(err.msg, "the store is damaged"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_damaged_secret),
        cmocka_unit_test_setup_teardown(test_options_defaults, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_every_one, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_secret_new, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_refused, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_headers_taken, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_options_course_local, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_matches, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_payload_forms, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_payload_caliper_envelopes, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_payload_caliper_outside, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_signature, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_rotation, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_id_stable, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_jwt_form, temp_dir_setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
