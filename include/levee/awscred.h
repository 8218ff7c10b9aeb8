/* levee/awscred.h (stage: receive): AWS credentials found as the AWS SDKs find them (their "default credential
 * provider chain"), for the SQS client (levee/sqs.h). The first source that is set up wins:
 *   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN);
 *   2. a web identity in the environment: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (and
 *      AWS_ROLE_SESSION_NAME), exchanged for a role's credentials with STS AssumeRoleWithWebIdentity (EKS
 *      IRSA, GitHub Actions OIDC...); the token file is read again at each renewal;
 *   3. the profile (AWS_PROFILE, else "default") of ~/.aws/credentials and ~/.aws/config: a role_arn with
 *      web_identity_token_file (as 2) or with source_profile (STS AssumeRole, signed with the source
 *      profile's credentials); else IAM Identity Center (sso_session or sso_start_url, sso_account_id,
 *      sso_role_name: the token `aws sso login` cached in ~/.aws/sso/cache, exchanged at the portal's
 *      GetRoleCredentials; an sso_session's token is renewed with its refresh token at the OIDC service
 *      and written back to the cache, as the AWS CLI does); else credential_process (a command whose output is the credentials, as JSON);
 *      else aws_access_key_id and aws_secret_access_key;
 *   4. a container's role: AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI (ECS, EKS pod identity),
 *      with AWS_CONTAINER_AUTHORIZATION_TOKEN or the first line of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
 *   5. the EC2 instance's role, from the instance metadata service (IMDSv2; AWS_EC2_METADATA_DISABLED=true
 *      skips it, AWS_EC2_METADATA_SERVICE_ENDPOINT moves it).
 * Temporary credentials are fetched again before they expire (5 minutes before, as the SDKs do); an attempt
 * that fails keeps those held while they last. STS is asked at its regional endpoint
 * (https://sts.REGION.amazonaws.com; AWS_STS_REGIONAL_ENDPOINTS=legacy or the profile's
 * sts_regional_endpoints=legacy: the global one for the regions that had it), or at AWS_ENDPOINT_URL_STS,
 * AWS_ENDPOINT_URL or the profile's endpoint_url; the portal at AWS_ENDPOINT_URL_SSO and the OIDC service at
 * AWS_ENDPOINT_URL_SSO_OIDC when set.
 *
 * A provider is shared by the clients of one queue (reference counted, and safe to use from several
 * threads). Secrets and tokens never appear in a message. */
#ifndef LEVEE_AWSCRED_H
#define LEVEE_AWSCRED_H

#include "levee/common.h"

typedef struct lv_awscred_config {
    const char *profile; /* NULL: $AWS_PROFILE, else "default" */
    const char *home;    /* where ~/.aws is (NULL: $HOME) */
    const char *region;  /* STS's region (NULL: STS's global endpoint, https://sts.amazonaws.com) */
} lv_awscred_config;

typedef struct lv_awscred lv_awscred;

/* One set of credentials. token is NULL for an IAM user's long-term keys; expires_ms 0 when they do not
 * expire. */
typedef struct lv_awscred_keys {
    char *key;
    char *secret;
    char *token;
    int64_t expires_ms;
} lv_awscred_keys;

/* Zeroes the secrets and frees the strings (the struct is then empty). */
void lv_awscred_keys_clear(lv_awscred_keys *k);

/* Finds the source as above and gets its first credentials. LV_EINVAL: nothing is set up, or a source
 * refused (the message says which setting to check, or the command to run); LV_EIO: a source could not
 * be reached. */
lv_status lv_awscred_open(lv_awscred **out, const lv_awscred_config *cfg, lv_error *err);
/* One more owner of p (lv_awscred_close drops one; the last frees it). */
lv_awscred *lv_awscred_ref(lv_awscred *p);
void lv_awscred_close(lv_awscred *p);

/* Where the credentials come from, for messages ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", "the
 * profile 'NAME' in PATH", "the role ARN from AWS_ROLE_ARN (web identity token from PATH)"...), and
 * which settings to check when AWS refuses them. */
const char *lv_awscred_source(const lv_awscred *p);
const char *lv_awscred_hint(const lv_awscred *p);

/* The credentials to sign a request with now, fetched again first when they are about to expire.
 * *generation is the caller's: when the provider's differs (new credentials, or the first call with 0),
 * *out is replaced by a copy and *generation updated; otherwise *out is left as it is. Fails only when
 * the credentials held have expired and cannot be fetched again. */
lv_status lv_awscred_current(lv_awscred *p, uint64_t *generation, lv_awscred_keys *out, lv_error *err);

/* The readers of what the sources answer (public for the fuzzers and the tests). Each fills *out (to be
 * cleared by the caller) or fails with LV_EINVAL saying what is wrong, never quoting a secret. */
/* STS's XML answer to AssumeRoleWithWebIdentity or AssumeRole: the Credentials of its Result, or its
 * ErrorResponse's Code and Message as the sentence (LV_EINVAL). No DOCTYPE is accepted. */
lv_status lv_awscred_parse_sts(const char *xml, size_t len, lv_awscred_keys *out, lv_error *err);
/* A container endpoint's or the instance metadata service's role document: AccessKeyId, SecretAccessKey,
 * Token and Expiration (and Code, which must be Success when present). */
lv_status lv_awscred_parse_role(const char *json, size_t len, lv_awscred_keys *out, lv_error *err);
/* credential_process's output: JSON with Version 1, AccessKeyId, SecretAccessKey, SessionToken (optional)
 * and Expiration (optional, ISO 8601). */
lv_status lv_awscred_parse_process(const char *json, size_t len, lv_awscred_keys *out, lv_error *err);
/* The portal's GetRoleCredentials answer: {"roleCredentials": {accessKeyId, secretAccessKey, sessionToken,
 * expiration (milliseconds since 1970)}}. */
lv_status lv_awscred_parse_sso(const char *json, size_t len, lv_awscred_keys *out, lv_error *err);
/* A login `aws sso login` cached (~/.aws/sso/cache/SHA1.json): its accessToken and expiresAt, and, for an
 * sso_session's login, what renews it at the IAM Identity Center OIDC service (refreshToken, clientId,
 * clientSecret, registrationExpiresAt; NULL and 0 when absent). */
typedef struct lv_awscred_sso_login {
    char *access_token;
    int64_t expires_ms;
    char *refresh_token;
    char *client_id;
    char *client_secret;
    int64_t registration_expires_ms;
} lv_awscred_sso_login;
lv_status lv_awscred_parse_sso_token(const char *json, size_t len, lv_awscred_sso_login *out, lv_error *err);
/* The OIDC service's CreateToken answer (accessToken, expiresIn seconds, refreshToken when it rotates),
 * into out's access_token, expires_ms (from now_ms) and refresh_token (the other fields untouched). */
lv_status lv_awscred_parse_oidc_token(const char *json, size_t len, int64_t now_ms, lv_awscred_sso_login *out,
                                      lv_error *err);
/* Zeroes the secrets and frees the strings. */
void lv_awscred_sso_login_clear(lv_awscred_sso_login *l);
/* credential_process's command split into words as the AWS CLI splits it (POSIX shell words: blanks
 * separate, "..." and '...' group, a backslash escapes; no variables, no ~, no globbing). *argv is a
 * NULL-terminated array of strings (lv_awscred_argv_free frees it). LV_EINVAL: an open quote, or no word. */
lv_status lv_awscred_split_command(const char *cmd, char ***argv, lv_error *err);
void lv_awscred_argv_free(char **argv);

#endif
