/* test_awscred.c: the AWS credential provider's readers and its chain, without AWS: STS's XML answers (the
 * credentials, an ErrorResponse's code and message, a DOCTYPE refused), credential_process's JSON (Version 1,
 * Expiration optional), the IAM Identity Center portal's answer and the login `aws sso login` caches,
 * credential_process's command split as the AWS CLI splits it, and the order of the chain's sources
 * (environment, then the profile's role, SSO, process, keys) as far as it can be seen without a request.
 * No message holds a secret. tests/e2e/test_sqs.py runs each source against fakes of STS and the portal. */
#include "testing.h"

#include "levee/awscred.h"

#include <sys/stat.h>

static const char *const AWS_VARS[] = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_PROFILE", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_STS_REGIONAL_ENDPOINTS",
};

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof AWS_VARS / sizeof *AWS_VARS; i++)
        unsetenv(AWS_VARS[i]);
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

static void write_config(const char *credentials, const char *config)
{
    mkdir(path_in(".aws"), 0700);
    if (credentials)
        write_text(path_in(".aws/credentials"), credentials);
    if (config)
        write_text(path_in(".aws/config"), config);
}

#define STS_OK                                                                                                 \
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"                \
    "  <AssumeRoleWithWebIdentityResult>\n"                                                                    \
    "    <SubjectFromWebIdentityToken>system:serviceaccount:canvas:levee</SubjectFromWebIdentityToken>\n"      \
    "    <Credentials>\n"                                                                                      \
    "      <SessionToken>FwoGZXIvYXdzEXAMPLE/+=</SessionToken>\n"                                              \
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"                     \
    "      <Expiration>2026-12-02T20:00:00Z</Expiration>\n"                                                    \
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"                                                  \
    "    </Credentials>\n"                                                                                     \
    "    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn></AssumedRoleUser>\n"           \
    "  </AssumeRoleWithWebIdentityResult>\n"                                                                   \
    "</AssumeRoleWithWebIdentityResponse>\n"

static void test_sts_answers(void **state)
{
    (void)state;
    lv_awscred_keys k;
    lv_error err;
    check(lv_awscred_parse_sts(STS_OK, strlen(STS_OK), &k, &err), &err);
    assert_string_equal(k.key, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(k.secret, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    assert_string_equal(k.token, "FwoGZXIvYXdzEXAMPLE/+=");
    assert_int_equal(k.expires_ms, 1796241600000LL); /* 2026-12-02T20:00:00Z */
    lv_awscred_keys_clear(&k);
    assert_null(k.key);

    /* AssumeRole's answer has the same shape; a namespace prefix is the same element */
    const char *prefixed = "<s:AssumeRoleResponse xmlns:s=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                           "<s:AssumeRoleResult><s:Credentials><s:AccessKeyId>ASIA2</s:AccessKeyId>"
                           "<s:SecretAccessKey>sec</s:SecretAccessKey><s:SessionToken>tok</s:SessionToken>"
                           "<s:Expiration>2026-12-02T20:00:00.000Z</s:Expiration></s:Credentials>"
                           "</s:AssumeRoleResult></s:AssumeRoleResponse>";
    check(lv_awscred_parse_sts(prefixed, strlen(prefixed), &k, &err), &err);
    assert_string_equal(k.key, "ASIA2");
    lv_awscred_keys_clear(&k);

    const char *refused = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
                          "</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider found in your "
                          "account for https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE</Message></Error>"
                          "<RequestId>4</RequestId></ErrorResponse>";
    assert_int_equal(lv_awscred_parse_sts(refused, strlen(refused), &k, &err), LV_EINVAL);
    assert_string_equal(err.msg, "STS said InvalidIdentityToken (\"No OpenIDConnect provider found in your account "
                                 "for https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE\")");
    assert_null(k.key);
    const char *throttled = "<ErrorResponse><Error><Code>IDPCommunicationError</Code></Error></ErrorResponse>";
    assert_int_equal(lv_awscred_parse_sts(throttled, strlen(throttled), &k, &err), LV_EIO); /* worth retrying */

    const char *doctype = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                          "<r>&b;</r>";
    assert_int_equal(lv_awscred_parse_sts(doctype, strlen(doctype), &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "DOCTYPE"));
    assert_int_equal(lv_awscred_parse_sts("<a><b>", 6, &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "is not XML"));
    const char *no_token = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
                           "<SecretAccessKey>s</SecretAccessKey><Expiration>2026-12-02T20:00:00Z</Expiration>"
                           "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
    assert_int_equal(lv_awscred_parse_sts(no_token, strlen(no_token), &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "no Credentials with AccessKeyId, SecretAccessKey, SessionToken"));
    /* credentials anywhere else than the Result's are not the answer's */
    const char *elsewhere = "<X><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
                            "<SessionToken>t</SessionToken><Expiration>2026-12-02T20:00:00Z</Expiration>"
                            "</Credentials></X>";
    assert_int_equal(lv_awscred_parse_sts(elsewhere, strlen(elsewhere), &k, &err), LV_EINVAL);
}

static void test_process_and_portal_answers(void **state)
{
    (void)state;
    lv_awscred_keys k;
    lv_error err;
    const char *out = "{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", \"SecretAccessKey\": \"sp\", "
                      "\"SessionToken\": \"tp\", \"Expiration\": \"2026-12-02T20:00:00+00:00\"}\n";
    check(lv_awscred_parse_process(out, strlen(out), &k, &err), &err);
    assert_string_equal(k.key, "AKIDP");
    assert_string_equal(k.token, "tp");
    assert_int_equal(k.expires_ms, 1796241600000LL);
    lv_awscred_keys_clear(&k);
    const char *lasting = "{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", \"SecretAccessKey\": \"sp\"}";
    check(lv_awscred_parse_process(lasting, strlen(lasting), &k, &err), &err);
    assert_null(k.token);
    assert_int_equal(k.expires_ms, 0); /* long-term: never fetched again */
    lv_awscred_keys_clear(&k);
    const char *v2 = "{\"Version\": 2, \"AccessKeyId\": \"AKIDP\", \"SecretAccessKey\": \"sp\"}";
    assert_int_equal(lv_awscred_parse_process(v2, strlen(v2), &k, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "Version is not 1"));
    const char *colon = "{\"Version\": 1, \"AccessKeyId\": \"AK:ID\", \"SecretAccessKey\": \"do-not-say\"}";
    assert_int_equal(lv_awscred_parse_process(colon, strlen(colon), &k, &err), LV_EINVAL);
    assert_null(strstr(err.msg, "do-not-say"));

    const char *portal = "{\"roleCredentials\":{\"accessKeyId\":\"ASIAS\",\"secretAccessKey\":\"ss\","
                         "\"sessionToken\":\"ts\",\"expiration\":1796241600000}}";
    check(lv_awscred_parse_sso(portal, strlen(portal), &k, &err), &err);
    assert_string_equal(k.key, "ASIAS");
    assert_int_equal(k.expires_ms, 1796241600000LL);
    lv_awscred_keys_clear(&k);

    lv_awscred_sso_login login;
    /* older AWS CLIs wrote "UTC" for the offset */
    const char *cached = "{\"startUrl\": \"https://d-1.awsapps.com/start\", \"region\": \"us-east-1\", "
                         "\"accessToken\": \"aoaEXAMPLE\", \"expiresAt\": \"2026-12-02T20:00:00UTC\"}";
    check(lv_awscred_parse_sso_token(cached, strlen(cached), &login, &err), &err);
    assert_string_equal(login.access_token, "aoaEXAMPLE");
    assert_int_equal(login.expires_ms, 1796241600000LL);
    assert_null(login.refresh_token); /* nothing to renew it with */
    lv_awscred_sso_login_clear(&login);
    const char *session = "{\"startUrl\": \"https://d-1.awsapps.com/start\", \"region\": \"us-east-1\", "
                          "\"accessToken\": \"aoa1\", \"expiresAt\": \"2026-12-02T20:00:00Z\", "
                          "\"clientId\": \"cid\", \"clientSecret\": \"csecret\", \"refreshToken\": \"rt1\", "
                          "\"registrationExpiresAt\": \"2027-03-02T20:00:00Z\"}";
    check(lv_awscred_parse_sso_token(session, strlen(session), &login, &err), &err);
    assert_string_equal(login.refresh_token, "rt1");
    assert_string_equal(login.client_id, "cid");
    assert_string_equal(login.client_secret, "csecret");
    assert_int_equal(login.registration_expires_ms, 1804017600000LL);
    const char *renewed = "{\"accessToken\": \"aoa2\", \"expiresIn\": 3600, \"tokenType\": \"Bearer\", "
                          "\"refreshToken\": \"rt2\"}";
    check(lv_awscred_parse_oidc_token(renewed, strlen(renewed), 1000000, &login, &err), &err);
    assert_string_equal(login.access_token, "aoa2");
    assert_string_equal(login.refresh_token, "rt2");
    assert_int_equal(login.expires_ms, 1000000 + 3600000);
    assert_string_equal(login.client_id, "cid"); /* untouched */
    assert_int_equal(lv_awscred_parse_oidc_token("{\"accessToken\": \"x\"}", 20, 0, &login, &err), LV_EINVAL);
    assert_string_equal(login.access_token, "aoa2"); /* a refusal changes nothing */
    lv_awscred_sso_login_clear(&login);
    assert_int_equal(lv_awscred_parse_sso_token("{}", 2, &login, &err), LV_EINVAL);
    assert_null(login.access_token);
}

static void check_words(const char *cmd, const char *const *want)
{
    char **argv = NULL;
    lv_error err;
    check(lv_awscred_split_command(cmd, &argv, &err), &err);
    size_t i = 0;
    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    lv_awscred_argv_free(argv);
}

static void test_commands_are_split_as_the_aws_cli_splits_them(void **state)
{
    (void)state;
    /* the AWS CLI's documented example, and POSIX shell words */
    check_words("\"/Users/Dave/path/to/credentials.sh\" parameterWithoutSpaces \"parameter with spaces\"",
                (const char *const[]){ "/Users/Dave/path/to/credentials.sh", "parameterWithoutSpaces",
                                       "parameter with spaces", NULL });
    check_words("  /opt/bin/awscreds-custom --username helen  ",
                (const char *const[]){ "/opt/bin/awscreds-custom", "--username", "helen", NULL });
    check_words("tool 'single $HOME' a\\ b \"q\\\"uote\" '' x\"y\"z",
                (const char *const[]){ "tool", "single $HOME", "a b", "q\"uote", "", "xyz", NULL });
    char **argv = NULL;
    lv_error err;
    assert_int_equal(lv_awscred_split_command("tool \"open", &argv, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "double quote that is not closed"));
    assert_null(argv);
    assert_int_equal(lv_awscred_split_command("   ", &argv, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
}

static lv_awscred *open_ok(void)
{
    lv_awscred_config cfg = { .home = test_dir(), .region = "us-east-1" };
    lv_awscred *p = NULL;
    lv_error err;
    check(lv_awscred_open(&p, &cfg, &err), &err);
    return p;
}

static lv_status open_fails(lv_error *err)
{
    lv_awscred_config cfg = { .home = test_dir(), .region = "us-east-1" };
    lv_awscred *p = NULL;
    lv_status st = lv_awscred_open(&p, &cfg, err);
    assert_null(p);
    return st;
}

static void test_the_order_of_the_chain(void **state)
{
    (void)state;
    char process[1200];
    /* printf(1) as a credential_process: its output is the credentials */
    snprintf(process, sizeof process, "[profile both]\ncredential_process = printf "
             "'{\"Version\":1,\"AccessKeyId\":\"AKIDPROCESS\",\"SecretAccessKey\":\"sp\"}'\n"
             "[profile keys]\nregion = us-east-1\n");
    write_config("[both]\naws_access_key_id = AKIDKEYS\naws_secret_access_key = sk\n"
                 "[keys]\naws_access_key_id = AKIDKEYS\naws_secret_access_key = sk\n", process);
    char want[1400];
    uint64_t gen = 0;
    lv_awscred_keys k = { 0 };
    lv_error err;

    /* in a profile, credential_process comes before keys */
    setenv("AWS_PROFILE", "both", 1);
    lv_awscred *p = open_ok();
    snprintf(want, sizeof want, "the credential_process printf of the profile 'both' in %s", path_in(".aws/config"));
    assert_string_equal(lv_awscred_source(p), want);
    check(lv_awscred_current(p, &gen, &k, &err), &err);
    assert_string_equal(k.key, "AKIDPROCESS");
    assert_null(k.token);
    uint64_t had = gen;
    check(lv_awscred_current(p, &gen, &k, &err), &err);
    assert_int_equal(gen, had); /* credentials without Expiration are not fetched again */
    lv_awscred *shared = lv_awscred_ref(p);
    lv_awscred_close(p);
    assert_string_equal(lv_awscred_source(shared), want); /* still held by its other owner */
    lv_awscred_close(shared);

    setenv("AWS_PROFILE", "keys", 1);
    p = open_ok();
    snprintf(want, sizeof want, "the profile 'keys' in %s", path_in(".aws/credentials"));
    assert_string_equal(lv_awscred_source(p), want);
    lv_awscred_close(p);

    /* the environment's keys come before any profile, and before a web identity */
    setenv("AWS_PROFILE", "both", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path_in("no-such-token"), 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r", 1);
    p = open_ok();
    assert_string_equal(lv_awscred_source(p), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    gen = 0;
    check(lv_awscred_current(p, &gen, &k, &err), &err);
    assert_string_equal(k.key, "AKIDENV");
    lv_awscred_close(p);

    /* a web identity in the environment comes before the profile: its token file is read (and missing) */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    assert_int_equal(open_fails(&err), LV_EIO);
    assert_non_null(strstr(err.msg, "no-such-token"));
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"));
    unsetenv("AWS_ROLE_ARN");
    lv_awscred_keys_clear(&k);
}

static void test_what_a_profile_lacks_is_said(void **state)
{
    (void)state;
    write_config("[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = never-said\n",
                 "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = R\n"
                 "[profile half]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1\n"
                 "sso_role_name = R\n"
                 "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
                 "[profile loop]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = loop2\n"
                 "[profile loop2]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = loop\n"
                 "[profile mfa]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = base\n"
                 "mfa_serial = arn:aws:iam::123456789012:mfa/u\n"
                 "[profile nocache]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = R\n"
                 "[sso-session corp]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1\n"
                 "[profile process]\ncredential_process = sh -c 'echo the vault is sealed >&2; exit 3'\n"
                 "[profile imds]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = Ec2InstanceMetadata\n"
                 "[profile typo]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = ec2instancemetadata\n");
    lv_error err;
    setenv("AWS_PROFILE", "half", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the profile 'half'"));
    assert_non_null(strstr(err.msg, "has no sso_account_id: run `aws configure sso --profile half`"));
    setenv("AWS_PROFILE", "role", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "has role_arn arn:aws:iam::123456789012:role/r but no source_profile"));
    setenv("AWS_PROFILE", "loop", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "go round or chain more than"));
    setenv("AWS_PROFILE", "mfa", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "needs an MFA code"));
    setenv("AWS_PROFILE", "nocache", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    /* the cache is named by the SHA-1 of the session's name, "corp" */
    assert_non_null(strstr(err.msg, "/.aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json"));
    assert_non_null(strstr(err.msg, "run `aws sso login --profile nocache`"));
    setenv("AWS_PROFILE", "process", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the credential_process sh of the profile 'process'"));
    assert_non_null(strstr(err.msg, "exited with status 3: the vault is sealed"));
    assert_null(strstr(err.msg, "never-said"));
    /* the instance's role as a role's source, with the metadata service turned off (as every test has it) */
    setenv("AWS_PROFILE", "imds", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the profile 'imds' takes its credential_source from the instance metadata "
                                    "service, but AWS_EC2_METADATA_DISABLED is true"));
    setenv("AWS_PROFILE", "typo", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "has credential_source ec2instancemetadata, which is not one of"));

    unsetenv("AWS_PROFILE");
    write_text(path_in("token"), "eyJ.token\n");
    setenv("AWS_WEB_IDENTITY_TOKEN_FILE", path_in("token"), 1);
    setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/r", 1);
    setenv("AWS_STS_REGIONAL_ENDPOINTS", "sometimes", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "AWS_STS_REGIONAL_ENDPOINTS (or sts_regional_endpoints in"));
    unsetenv("AWS_STS_REGIONAL_ENDPOINTS");
    setenv("AWS_ENDPOINT_URL_STS", "sts.local:4566", 1);
    assert_int_equal(open_fails(&err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "the STS endpoint 'sts.local:4566' from AWS_ENDPOINT_URL_STS is not an http://"));
    unsetenv("AWS_ENDPOINT_URL_STS");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sts_answers),
        cmocka_unit_test(test_process_and_portal_answers),
        cmocka_unit_test(test_commands_are_split_as_the_aws_cli_splits_them),
        cmocka_unit_test_setup_teardown(test_the_order_of_the_chain, setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_what_a_profile_lacks_is_said, setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
