/* test_sqs.c: where the SQS client finds its settings, as the AWS tools do: credentials from the
 * environment or a profile (~/.aws/credentials, then ~/.aws/config; AWS_PROFILE; the files' own
 * variables), the region (AWS_REGION, AWS_DEFAULT_REGION, the profile, the queue URL's host), the endpoint
 * (the flag, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, the profile, the queue's host); and the sentences
 * when something is missing or wrong, which never hold a secret. No request is made. */
#include "testing.h"

#include "levee/sqs.h"

#include <sys/stat.h>

static const char *const AWS_VARS[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_PROFILE", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
};

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof AWS_VARS / sizeof *AWS_VARS; i++)
        unsetenv(AWS_VARS[i]);
    /* no test here asks an instance metadata service (tests/e2e/test_sqs.py has a fake one) */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return temp_dir_setup(state);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Writes HOME/.aws/credentials and HOME/.aws/config (either may be NULL) under the test's directory. */
static void write_profiles(const char *credentials, const char *config)
{
    mkdir(path_in(".aws"), 0700);
    if (credentials)
        write_text(path_in(".aws/credentials"), credentials);
    if (config)
        write_text(path_in(".aws/config"), config);
}

static lv_sqs *open_ok(const char *url, const char *endpoint)
{
    lv_sqs_config cfg = { .queue_url = url, .endpoint = endpoint, .home = test_dir() };
    lv_sqs *c = NULL;
    lv_error err;
    check(lv_sqs_open(&c, &cfg, &err), &err);
    return c;
}

static lv_status open_fails(const char *url, lv_error *err)
{
    lv_sqs_config cfg = { .queue_url = url, .home = test_dir() };
    lv_sqs *c = NULL;
    lv_status st = lv_sqs_open(&c, &cfg, err);
    assert_null(c);
    return st;
}

static void keys_in_env(void)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret/from+env", 1);
}

static void test_region_and_endpoint_from_the_queue_url(void **state)
{
    (void)state;
    keys_in_env();
    lv_sqs *c = open_ok("https://sqs.eu-central-1.amazonaws.com/123456789012/canvas-live-events", NULL);
    assert_string_equal(lv_sqs_region(c), "eu-central-1");
    assert_string_equal(lv_sqs_endpoint(c), "https://sqs.eu-central-1.amazonaws.com/");
    assert_string_equal(lv_sqs_queue_url(c), "https://sqs.eu-central-1.amazonaws.com/123456789012/canvas-live-events");
    assert_string_equal(lv_sqs_credentials_source(c), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    lv_sqs_close(c);
    /* the older form of queue URL */
    c = open_ok("https://us-west-2.queue.amazonaws.com/123456789012/q", NULL);
    assert_string_equal(lv_sqs_region(c), "us-west-2");
    lv_sqs_close(c);
}

static void test_region_precedence(void **state)
{
    (void)state;
    keys_in_env();
    write_profiles(NULL, "[default]\nregion = ap-south-1\n");
    const char *url = "https://sqs.eu-central-1.amazonaws.com/123456789012/q";
    lv_sqs *c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_region(c), "ap-south-1"); /* the profile, before the host */
    lv_sqs_close(c);
    setenv("AWS_DEFAULT_REGION", "us-east-2", 1);
    c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_region(c), "us-east-2");
    lv_sqs_close(c);
    setenv("AWS_REGION", "sa-east-1", 1);
    c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_region(c), "sa-east-1");
    lv_sqs_close(c);
}

static void test_endpoint_precedence(void **state)
{
    (void)state;
    keys_in_env();
    setenv("AWS_REGION", "us-east-1", 1);
    const char *url = "https://sqs.us-east-1.amazonaws.com/123456789012/q";
    write_profiles(NULL, "[default]\nendpoint_url = http://127.0.0.1:4001\n");
    lv_sqs *c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_endpoint(c), "http://127.0.0.1:4001/");
    lv_sqs_close(c);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4002/base/", 1);
    c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_endpoint(c), "http://127.0.0.1:4002/base/");
    lv_sqs_close(c);
    setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:4003", 1);
    c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_endpoint(c), "http://127.0.0.1:4003/");
    lv_sqs_close(c);
    c = open_ok(url, "http://127.0.0.1:4004");
    assert_string_equal(lv_sqs_endpoint(c), "http://127.0.0.1:4004/");
    lv_sqs_close(c);
}

static void test_credentials_from_profiles(void **state)
{
    (void)state;
    write_profiles("# made by aws configure\n[default]\naws_access_key_id=AKIDDEFAULT\naws_secret_access_key=s1\n\n"
                   "[canvas]\naws_access_key_id   =   AKIDCANVAS  \naws_secret_access_key = s2\n",
                   "[default]\nregion = us-east-1\n[profile canvas]\nregion = ca-central-1\ns3 =\n"
                   "  region = nowhere\n[profile onlyconfig]\naws_access_key_id = AKIDCONF\n"
                   "aws_secret_access_key = s3\nregion = eu-north-1\n");
    const char *url = "https://sqs.us-east-1.amazonaws.com/123456789012/q";
    char want[600];
    lv_sqs *c = open_ok(url, NULL);
    snprintf(want, sizeof want, "the profile 'default' in %s", path_in(".aws/credentials"));
    assert_string_equal(lv_sqs_credentials_source(c), want);
    assert_string_equal(lv_sqs_region(c), "us-east-1");
    lv_sqs_close(c);
    setenv("AWS_PROFILE", "canvas", 1);
    c = open_ok(url, NULL);
    snprintf(want, sizeof want, "the profile 'canvas' in %s", path_in(".aws/credentials"));
    assert_string_equal(lv_sqs_credentials_source(c), want);
    assert_string_equal(lv_sqs_region(c), "ca-central-1"); /* a nested setting is not the profile's */
    lv_sqs_close(c);
    setenv("AWS_PROFILE", "onlyconfig", 1);
    c = open_ok(url, NULL);
    snprintf(want, sizeof want, "the profile 'onlyconfig' in %s", path_in(".aws/config"));
    assert_string_equal(lv_sqs_credentials_source(c), want);
    lv_sqs_close(c);
    /* the files' own variables */
    write_text(path_in("other-credentials"), "[default]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s\n");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path_in("other-credentials"), 1);
    c = open_ok(url, NULL);
    snprintf(want, sizeof want, "the profile 'default' in %s", path_in("other-credentials"));
    assert_string_equal(lv_sqs_credentials_source(c), want);
    lv_sqs_close(c);
    /* the environment wins over any profile */
    keys_in_env();
    c = open_ok(url, NULL);
    assert_string_equal(lv_sqs_credentials_source(c), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    lv_sqs_close(c);
}

static void test_what_is_missing_or_wrong_is_said(void **state)
{
    (void)state;
    lv_error err;
    const char *url = "https://sqs.us-east-1.amazonaws.com/123456789012/q";
    assert_int_equal(open_fails(url, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "there are no AWS credentials for https://sqs.us-east-1.amazonaws.com/"));
    assert_non_null(strstr(err.msg, path_in(".aws/credentials")));

    setenv("AWS_ACCESS_KEY_ID", "AKIDONLY", 1);
    assert_int_equal(open_fails(url, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));

    keys_in_env();
    assert_int_equal(open_fails("https://sqs.us-east-1.amazonaws.com/", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "is not an SQS queue URL"));
    assert_int_equal(open_fails("sqs.us-east-1.amazonaws.com/1/q", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "is not an SQS queue URL"));

    assert_int_equal(open_fails("http://127.0.0.1:9324/123456789012/q", &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "cannot tell the AWS region of http://127.0.0.1:9324/123456789012/q: set AWS_REGION"));

    setenv("AWS_REGION", "US East", 1);
    assert_int_equal(open_fails(url, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the AWS region 'US East' is not a region name"));

    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ENDPOINT_URL_SQS", "localhost:9324", 1);
    assert_int_equal(open_fails(url, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the SQS endpoint 'localhost:9324' from AWS_ENDPOINT_URL_SQS is not an http://"));
    unsetenv("AWS_ENDPOINT_URL_SQS");

    setenv("AWS_ACCESS_KEY_ID", "AKID:WITHCOLON", 1);
    assert_int_equal(open_fails(url, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "contains ':'"));
    assert_null(strstr(err.msg, "secret/from+env"));
    assert_null(strstr(err.msg, "WITHCOLON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_region_and_endpoint_from_the_queue_url, setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_region_precedence, setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_precedence, setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_credentials_from_profiles, setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_what_is_missing_or_wrong_is_said, setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
