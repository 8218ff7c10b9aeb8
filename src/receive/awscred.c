/* awscred.c: the AWS credential provider (levee/awscred.h): the settings files as the AWS tools write them, the
 * chain of sources in the AWS SDKs' order (environment, web identity, profile, container, instance), and
 * credentials kept fresh under a lock that the clients of one queue share. awscred_fetch.c asks the sources. */
#include "awscred_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A role's credentials are fetched again once less than this remains of them (the AWS SDKs' window). */
#define REFRESH_BEFORE_MS (5 * 60000)
/* While they last, at most one attempt per this long. */
#define RETRY_EVERY_MS 60000
/* source_profile chains end after this many profiles. */
#define MAX_CHAIN 5

/* ---- settings ---- */

const char *aw_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

char *aw_trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

char *aw_ini_get(const char *path, const char *section, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096];
    bool in_section = false;
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        if (line[0] == ' ' || line[0] == '\t')
            continue;
        char *s = aw_trim(line);
        if (*s == '#' || *s == ';' || *s == '\0')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) {
                *end = '\0';
                /* "[profile  x]" is "[profile x]" */
                char *name = aw_trim(s + 1), *sp = strpbrk(name, " \t");
                if (sp) {
                    *sp = '\0';
                    char *rest = aw_trim(sp + 1);
                    size_t kind = strlen(name);
                    in_section = strncmp(section, name, kind) == 0 && section[kind] == ' ' &&
                                 strcmp(section + kind + 1, rest) == 0;
                } else {
                    in_section = strcmp(name, section) == 0;
                }
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_section || !eq)
            continue;
        *eq = '\0';
        if (strcmp(aw_trim(s), key) == 0)
            found = lv_xstrdup(aw_trim(eq + 1));
    }
    fclose(f);
    if (found && !*found) {
        free(found);
        found = NULL;
    }
    return found;
}

static void name_profile(aw_profile *p, const char *name)
{
    snprintf(p->name, sizeof p->name, "%s", name);
    /* ~/.aws/config names profiles [profile NAME], except [default] */
    if (strcmp(p->name, "default") == 0)
        snprintf(p->config_section, sizeof p->config_section, "default");
    else
        snprintf(p->config_section, sizeof p->config_section, "profile %s", p->name);
}

void aw_profile_init(aw_profile *p, const char *name, const char *home)
{
    name_profile(p, name ? name : aw_env("AWS_PROFILE") ? aw_env("AWS_PROFILE") : "default");
    if (!home)
        home = aw_env("HOME") ? aw_env("HOME") : ".";
    const char *c = aw_env("AWS_SHARED_CREDENTIALS_FILE"), *k = aw_env("AWS_CONFIG_FILE");
    if (c)
        snprintf(p->credentials, sizeof p->credentials, "%s", c);
    else
        snprintf(p->credentials, sizeof p->credentials, "%s/.aws/credentials", home);
    if (k)
        snprintf(p->config, sizeof p->config, "%s", k);
    else
        snprintf(p->config, sizeof p->config, "%s/.aws/config", home);
}

void aw_profile_other(aw_profile *p, const aw_profile *of, const char *name)
{
    *p = *of;
    name_profile(p, name);
}

char *aw_profile_get(const aw_profile *p, const char *key, const char **from)
{
    char *v = aw_ini_get(p->credentials, p->name, key);
    if (v) {
        if (from)
            *from = p->credentials;
        return v;
    }
    v = aw_ini_get(p->config, p->config_section, key);
    if (v && from)
        *from = p->config;
    return v;
}

/* ---- sources ---- */

void aw_source_free(aw_source *s)
{
    if (!s)
        return;
    lv_awscred_keys_clear(&s->held);
    aw_source_free(s->base);
    char *strings[] = { s->desc, s->hint, s->role_arn, s->session_name, s->token_file, s->external_id,
                        s->sts_endpoint, s->sts_region, s->sso_profile, s->sso_start_url, s->sso_region,
                        s->sso_account, s->sso_role, s->sso_cache, s->sso_endpoint, s->sso_oidc, s->command, s->url };
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        free(strings[i]);
    free(s);
}

static aw_source *new_source(aw_kind kind)
{
    aw_source *s = lv_xcalloc(1, sizeof *s);
    s->kind = kind;
    return s;
}

static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_dup(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s)
        abort();
    return s;
}

/* Long-term (or given) keys: the environment's, or a profile's. */
static lv_status static_source(aw_source **out, const char *key, const char *secret, const char *token,
                               const char *desc, const char *hint, lv_error *err)
{
    *out = NULL;
    if (strchr(key, ':'))
        return lv_fail(err, LV_EINVAL, "the AWS access key id from %s contains ':', which no AWS key does: check it",
                       desc);
    aw_source *s = new_source(AW_STATIC);
    s->held.key = lv_xstrdup(key);
    s->held.secret = lv_xstrdup(secret);
    s->held.token = token ? lv_xstrdup(token) : NULL;
    s->desc = lv_xstrdup(desc);
    s->hint = lv_xstrdup(hint);
    *out = s;
    return LV_OK;
}

/* AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (*out NULL when neither is set). */
static lv_status env_keys(aw_source **out, const aw_profile *p, lv_error *err)
{
    *out = NULL;
    const char *key = aw_env("AWS_ACCESS_KEY_ID"), *secret = aw_env("AWS_SECRET_ACCESS_KEY");
    if (!key && !secret)
        return LV_OK;
    if (!key || !secret)
        return lv_fail(err, LV_EINVAL, "%s is set but %s is not: set both (or neither, to use a profile in %s)",
                       key ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                       key ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID", p->credentials);
    const char *token = aw_env("AWS_SESSION_TOKEN");
    return static_source(out, key, secret, token, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                         token ? "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
                               : "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                         err);
}

/* The STS regions that had the global endpoint, https://sts.amazonaws.com, before regional ones were the
 * default (AWS_STS_REGIONAL_ENDPOINTS=legacy sends them there). */
static bool legacy_global(const char *region)
{
    static const char *const regions[] = { "ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
                                           "aws-global", "ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1",
                                           "eu-west-2", "eu-west-3", "sa-east-1", "us-east-1", "us-east-2",
                                           "us-west-1", "us-west-2" };
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++)
        if (strcmp(region, regions[i]) == 0)
            return true;
    return false;
}

static char *with_slash(char *url)
{
    const char *after = strstr(url, "://");
    if (after && !strchr(after + 3, '/')) {
        size_t n = strlen(url);
        url = lv_xrealloc(url, n + 2);
        url[n] = '/';
        url[n + 1] = '\0';
    }
    return url;
}

static bool is_http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* Where STS is asked, and the region its requests are signed for. */
static lv_status sts_place(aw_source *s, const aw_profile *p, const char *region, lv_error *err)
{
    const char *from = NULL;
    char *ep = NULL;
    if (aw_env("AWS_ENDPOINT_URL_STS")) {
        ep = lv_xstrdup(aw_env("AWS_ENDPOINT_URL_STS"));
        from = "AWS_ENDPOINT_URL_STS";
    } else if (aw_env("AWS_ENDPOINT_URL")) {
        ep = lv_xstrdup(aw_env("AWS_ENDPOINT_URL"));
        from = "AWS_ENDPOINT_URL";
    } else if ((ep = aw_ini_get(p->config, p->config_section, "endpoint_url"))) {
        from = p->config;
    }
    char *mode = aw_env("AWS_STS_REGIONAL_ENDPOINTS") ? lv_xstrdup(aw_env("AWS_STS_REGIONAL_ENDPOINTS"))
                                                      : aw_ini_get(p->config, p->config_section, "sts_regional_endpoints");
    bool legacy = mode && strcasecmp(mode, "legacy") == 0;
    bool bad_mode = mode && !legacy && strcasecmp(mode, "regional") != 0;
    free(mode);
    if (bad_mode) {
        free(ep);
        return lv_fail(err, LV_EINVAL, "AWS_STS_REGIONAL_ENDPOINTS (or sts_regional_endpoints in %s) is neither "
                       "'regional' nor 'legacy'", p->config);
    }
    if (ep && !is_http_url(ep)) {
        lv_error e;
        lv_fail(&e, LV_EINVAL, "the STS endpoint '%s' from %s is not an http:// or https:// URL", ep, from);
        free(ep);
        if (err)
            *err = e;
        return LV_EINVAL;
    }
    s->sts_region = lv_xstrdup(region ? region : "us-east-1");
    if (!ep) {
        if (!region || (legacy && legacy_global(region)))
            ep = lv_xstrdup("https://sts.amazonaws.com");
        else
            ep = printf_dup("https://sts.%s.amazonaws.com%s", region, strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    }
    s->sts_endpoint = with_slash(ep);
    return LV_OK;
}

static char *default_session_name(void)
{
    return printf_dup("levee-%lld", (long long)(lv_now_ms() / 1000));
}

static lv_status web_identity(aw_source **out, const char *role_arn, const char *token_file, const char *session,
                              const char *where, const aw_profile *p, const char *region, lv_error *err)
{
    aw_source *s = new_source(AW_WEB_IDENTITY);
    s->role_arn = lv_xstrdup(role_arn);
    s->token_file = lv_xstrdup(token_file);
    s->session_name = session ? lv_xstrdup(session) : default_session_name();
    s->desc = printf_dup("the role %s for the web identity token in %s (%s)", role_arn, token_file, where);
    s->hint = printf_dup("the role %s and its trust policy for the web identity token in %s (%s)", role_arn,
                         token_file, where);
    lv_status st = sts_place(s, p, region, err);
    if (st != LV_OK) {
        aw_source_free(s);
        return st;
    }
    *out = s;
    return LV_OK;
}

/* A container's role: AWS_CONTAINER_CREDENTIALS_FULL_URI, or _RELATIVE_URI on ECS's fixed address (*out NULL
 * when neither is set). */
static void container_source(aw_source **out)
{
    *out = NULL;
    char *url = NULL;
    if (aw_env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        url = lv_xstrdup(aw_env("AWS_CONTAINER_CREDENTIALS_FULL_URI"));
    else if (aw_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
        url = printf_dup("http://169.254.170.2%s", aw_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
    if (!url)
        return;
    aw_source *s = new_source(AW_CONTAINER);
    s->url = url;
    s->desc = printf_dup("the container's role (%s)", url);
    s->hint = lv_xstrdup("the container's task or pod role");
    *out = s;
}

static aw_source *instance_source(void)
{
    aw_source *s = new_source(AW_INSTANCE);
    s->url = lv_xstrdup(aw_env("AWS_EC2_METADATA_SERVICE_ENDPOINT") ? aw_env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                                                                     : "http://169.254.169.254");
    size_t n = strlen(s->url);
    while (n && s->url[n - 1] == '/')
        s->url[--n] = '\0';
    s->desc = printf_dup("the instance's role (the instance metadata service at %s)", s->url);
    s->hint = lv_xstrdup("the role attached to this instance");
    return s;
}

static bool metadata_disabled(void)
{
    return aw_env("AWS_EC2_METADATA_DISABLED") && strcasecmp(aw_env("AWS_EC2_METADATA_DISABLED"), "true") == 0;
}

static lv_status profile_source(aw_source **out, const aw_profile *p, const char *home, const char *region,
                                unsigned depth, lv_error *err);

/* IAM Identity Center: the profile's sso_session (whose [sso-session NAME] holds the start URL and the region)
 * or its own sso_start_url and sso_region; sso_account_id and sso_role_name. */
static lv_status sso_source(aw_source **out, const aw_profile *p, const char *home, char *session, lv_error *err)
{
    *out = NULL;
    aw_source *s = new_source(AW_SSO);
    s->sso_profile = lv_xstrdup(p->name);
    const char *missing = NULL;
    char *cache_key = NULL;
    if (session) {
        char section[300];
        snprintf(section, sizeof section, "sso-session %s", session);
        s->sso_start_url = aw_ini_get(p->config, section, "sso_start_url");
        s->sso_region = aw_ini_get(p->config, section, "sso_region");
        if (!s->sso_start_url || !s->sso_region) {
            lv_fail(err, LV_EINVAL, "the profile '%s' names the sso_session '%s', but %s has no [sso-session %s] with "
                    "sso_start_url and sso_region", p->name, session, p->config, session);
            free(session);
            aw_source_free(s);
            return LV_EINVAL;
        }
        cache_key = session;
    } else {
        s->sso_start_url = aw_profile_get(p, "sso_start_url", NULL);
        s->sso_region = aw_profile_get(p, "sso_region", NULL);
        if (!s->sso_region)
            missing = "sso_region";
        cache_key = s->sso_start_url ? lv_xstrdup(s->sso_start_url) : NULL;
    }
    s->sso_account = aw_profile_get(p, "sso_account_id", NULL);
    s->sso_role = aw_profile_get(p, "sso_role_name", NULL);
    if (!s->sso_account)
        missing = "sso_account_id";
    else if (!s->sso_role)
        missing = "sso_role_name";
    if (missing) {
        free(cache_key);
        aw_source_free(s);
        return lv_fail(err, LV_EINVAL, "the profile '%s' in %s is set up for IAM Identity Center but has no %s: "
                       "run `aws configure sso --profile %s`", p->name, p->config, missing, p->name);
    }
    /* `aws sso login` caches the token in ~/.aws/sso/cache/SHA1.json, SHA1 the hex SHA-1 of the session's name
     * (or, without sso_session, of the start URL); awscred_fetch.c makes the name. */
    s->sso_cache = cache_key;
    s->url = printf_dup("%s/.aws/sso/cache", home ? home : aw_env("HOME") ? aw_env("HOME") : ".");
    const char *ep = aw_env("AWS_ENDPOINT_URL_SSO") ? aw_env("AWS_ENDPOINT_URL_SSO") : aw_env("AWS_ENDPOINT_URL");
    s->sso_endpoint = ep ? lv_xstrdup(ep) : printf_dup("https://portal.sso.%s.amazonaws.com", s->sso_region);
    size_t n = strlen(s->sso_endpoint);
    while (n && s->sso_endpoint[n - 1] == '/')
        s->sso_endpoint[--n] = '\0';
    if (session) { /* only an sso_session's login can be renewed (the AWS CLI's rule) */
        const char *oidc = aw_env("AWS_ENDPOINT_URL_SSO_OIDC") ? aw_env("AWS_ENDPOINT_URL_SSO_OIDC")
                                                                : aw_env("AWS_ENDPOINT_URL");
        s->sso_oidc = oidc ? lv_xstrdup(oidc) : printf_dup("https://oidc.%s.amazonaws.com", s->sso_region);
        n = strlen(s->sso_oidc);
        while (n && s->sso_oidc[n - 1] == '/')
            s->sso_oidc[--n] = '\0';
    }
    if (!is_http_url(s->sso_endpoint) || (s->sso_oidc && !is_http_url(s->sso_oidc))) {
        lv_fail(err, LV_EINVAL, "the IAM Identity Center endpoint '%s' is not an http:// or https:// URL",
                is_http_url(s->sso_endpoint) ? s->sso_oidc : s->sso_endpoint);
        aw_source_free(s);
        return LV_EINVAL;
    }
    s->desc = printf_dup("the IAM Identity Center role %s of account %s (the profile '%s' in %s)", s->sso_role,
                         s->sso_account, p->name, p->config);
    s->hint = printf_dup("the permission set %s of account %s (the profile '%s' in %s)", s->sso_role, s->sso_account,
                         p->name, p->config);
    *out = s;
    return LV_OK;
}

/* role_arn with source_profile (or credential_source): STS AssumeRole, signed with the base's credentials. */
static lv_status assume_role_source(aw_source **out, const aw_profile *p, const char *home, const char *region,
                                    const char *role_arn, unsigned depth, lv_error *err)
{
    *out = NULL;
    char *src = aw_profile_get(p, "source_profile", NULL);
    char *cs = src ? NULL : aw_profile_get(p, "credential_source", NULL);
    char *mfa = aw_profile_get(p, "mfa_serial", NULL);
    if (mfa) {
        free(mfa);
        free(src);
        free(cs);
        return lv_fail(err, LV_EINVAL, "the profile '%s' needs an MFA code (mfa_serial) to assume %s, which a service "
                       "cannot type: give levee a profile without mfa_serial", p->name, role_arn);
    }
    aw_source *base = NULL;
    lv_status st = LV_OK;
    if (src) {
        aw_profile sp;
        aw_profile_other(&sp, p, src);
        if (strcmp(src, p->name) == 0) {
            /* a profile may be its own source: its keys sign the AssumeRole */
            const char *from = NULL;
            char *key = aw_profile_get(&sp, "aws_access_key_id", &from), *secret = aw_profile_get(&sp, "aws_secret_access_key", NULL);
            char *token = aw_profile_get(&sp, "aws_session_token", NULL);
            if (key && secret) {
                char *desc = printf_dup("the profile '%s' in %s", sp.name, from);
                char *hint = printf_dup("aws_access_key_id and aws_secret_access_key of the profile '%s' in %s",
                                        sp.name, from);
                st = static_source(&base, key, secret, token, desc, hint, err);
                free(desc);
                free(hint);
            } else {
                st = lv_fail(err, LV_EINVAL, "the profile '%s' is its own source_profile but has no "
                             "aws_access_key_id and aws_secret_access_key", p->name);
            }
            free(key);
            if (secret)
                memset(secret, 0, strlen(secret));
            free(secret);
            if (token)
                memset(token, 0, strlen(token));
            free(token);
        } else if ((st = profile_source(&base, &sp, home, region, depth + 1, err)) == LV_OK && !base) {
            st = lv_fail(err, LV_EINVAL, "the source_profile '%s' of the profile '%s' has no credentials (in %s or %s)",
                         src, p->name, p->credentials, p->config);
        }
    } else if (cs && strcmp(cs, "Environment") == 0) {
        if ((st = env_keys(&base, p, err)) == LV_OK && !base)
            st = lv_fail(err, LV_EINVAL, "the profile '%s' takes its credential_source from the environment, but "
                         "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", p->name);
    } else if (cs && strcmp(cs, "EcsContainer") == 0) {
        container_source(&base);
        if (!base)
            st = lv_fail(err, LV_EINVAL, "the profile '%s' takes its credential_source from the container, but "
                         "AWS_CONTAINER_CREDENTIALS_FULL_URI and _RELATIVE_URI are not set", p->name);
    } else if (cs && strcmp(cs, "Ec2InstanceMetadata") == 0) {
        if (metadata_disabled())
            st = lv_fail(err, LV_EINVAL, "the profile '%s' takes its credential_source from the instance metadata "
                         "service, but AWS_EC2_METADATA_DISABLED is true: unset it, or give the profile a "
                         "source_profile", p->name);
        else
            base = instance_source();
    } else if (cs) {
        st = lv_fail(err, LV_EINVAL, "the profile '%s' has credential_source %s, which is not one of Environment, "
                     "EcsContainer or Ec2InstanceMetadata (the names are case-sensitive)", p->name, cs);
    } else {
        st = lv_fail(err, LV_EINVAL, "the profile '%s' has role_arn %s but no source_profile, credential_source "
                     "(Environment, EcsContainer or Ec2InstanceMetadata) or web_identity_token_file", p->name,
                     role_arn);
    }
    free(cs);
    if (st != LV_OK) {
        free(src);
        return st;
    }
    aw_source *s = new_source(AW_ASSUME_ROLE);
    s->base = base;
    s->role_arn = lv_xstrdup(role_arn);
    s->session_name = aw_profile_get(p, "role_session_name", NULL);
    if (!s->session_name)
        s->session_name = default_session_name();
    s->external_id = aw_profile_get(p, "external_id", NULL);
    char *duration = aw_profile_get(p, "duration_seconds", NULL);
    if (duration) {
        char *end;
        unsigned long d = strtoul(duration, &end, 10);
        bool ok = *end == '\0' && d >= 900 && d <= 43200;
        free(duration);
        if (!ok) {
            free(src);
            aw_source_free(s);
            return lv_fail(err, LV_EINVAL, "the duration_seconds of the profile '%s' is not a number of seconds from "
                           "900 to 43200", p->name);
        }
        s->duration = (unsigned)d;
    }
    s->desc = printf_dup("the role %s (the profile '%s', assumed with %s)", role_arn, p->name, base->desc);
    s->hint = printf_dup("the role %s of the profile '%s' and its trust policy for %s", role_arn, p->name, base->desc);
    free(src);
    if ((st = sts_place(s, p, region, err)) != LV_OK) {
        aw_source_free(s);
        return st;
    }
    *out = s;
    return LV_OK;
}

static lv_status process_source(aw_source **out, const aw_profile *p, char *command, const char *from, lv_error *err)
{
    char **argv = NULL;
    lv_error e;
    if (lv_awscred_split_command(command, &argv, &e) != LV_OK) {
        free(command);
        return lv_fail(err, LV_EINVAL, "the credential_process of the profile '%s' in %s cannot be read: %s", p->name,
                       from, e.msg);
    }
    aw_source *s = new_source(AW_PROCESS);
    s->command = command;
    s->desc = printf_dup("the credential_process %s of the profile '%s' in %s", argv[0], p->name, from);
    s->hint = printf_dup("what the credential_process %s of the profile '%s' in %s prints", argv[0], p->name, from);
    lv_awscred_argv_free(argv);
    *out = s;
    return LV_OK;
}

/* The profile's credentials, in the order of the AWS SDKs: a role to assume (with a web identity, or with a
 * source profile's credentials), IAM Identity Center, credential_process, keys. *out NULL: none set. */
static lv_status profile_source(aw_source **out, const aw_profile *p, const char *home, const char *region,
                                unsigned depth, lv_error *err)
{
    *out = NULL;
    if (depth >= MAX_CHAIN)
        return lv_fail(err, LV_EINVAL, "the profiles' source_profile settings go round or chain more than %d "
                       "profiles (at '%s' in %s)", MAX_CHAIN, p->name, p->config);
    const char *from = NULL;
    lv_status st = LV_OK;
    char *role_arn = aw_profile_get(p, "role_arn", NULL);
    if (role_arn) {
        char *token_file = aw_profile_get(p, "web_identity_token_file", &from);
        if (token_file) {
            char *session = aw_profile_get(p, "role_session_name", NULL);
            char where[1400];
            snprintf(where, sizeof where, "the profile '%s' in %s", p->name, from);
            st = web_identity(out, role_arn, token_file, session, where, p, region, err);
            free(session);
            free(token_file);
        } else {
            st = assume_role_source(out, p, home, region, role_arn, depth, err);
        }
        free(role_arn);
        return st;
    }
    char *session = aw_profile_get(p, "sso_session", NULL);
    char *start = session ? NULL : aw_profile_get(p, "sso_start_url", NULL);
    if (session || start) {
        free(start);
        return sso_source(out, p, home, session, err);
    }
    char *command = aw_profile_get(p, "credential_process", &from);
    if (command)
        return process_source(out, p, command, from, err);
    char *key = aw_profile_get(p, "aws_access_key_id", &from);
    char *secret = aw_profile_get(p, "aws_secret_access_key", NULL);
    char *token = aw_profile_get(p, "aws_session_token", NULL);
    if (key && secret) {
        char *desc = printf_dup("the profile '%s' in %s", p->name, from);
        char *hint = printf_dup("aws_access_key_id and aws_secret_access_key%s of the profile '%s' in %s",
                                token ? " and aws_session_token" : "", p->name, from);
        st = static_source(out, key, secret, token, desc, hint, err);
        free(desc);
        free(hint);
    }
    free(key);
    if (secret)
        memset(secret, 0, strlen(secret));
    free(secret);
    if (token)
        memset(token, 0, strlen(token));
    free(token);
    return st;
}

/* The first source of the chain that is set up (the instance's role when nothing else is and the metadata
 * service is not disabled; *out NULL: nothing at all). */
static lv_status find_source(aw_source **out, const aw_profile *p, const lv_awscred_config *cfg, lv_error *err)
{
    lv_status st = env_keys(out, p, err);
    if (st != LV_OK || *out)
        return st;
    const char *wit = aw_env("AWS_WEB_IDENTITY_TOKEN_FILE"), *role = aw_env("AWS_ROLE_ARN");
    if (wit || role) {
        if (!wit || !role)
            return lv_fail(err, LV_EINVAL, "%s is set but %s is not: a web identity needs both (EKS sets them for a "
                           "service account with the annotation eks.amazonaws.com/role-arn)",
                           wit ? "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN",
                           wit ? "AWS_ROLE_ARN" : "AWS_WEB_IDENTITY_TOKEN_FILE");
        return web_identity(out, role, wit, aw_env("AWS_ROLE_SESSION_NAME"), "AWS_ROLE_ARN and "
                            "AWS_WEB_IDENTITY_TOKEN_FILE", p, cfg->region, err);
    }
    if ((st = profile_source(out, p, cfg->home, cfg->region, 0, err)) != LV_OK || *out)
        return st;
    container_source(out);
    if (!*out && !metadata_disabled())
        *out = instance_source();
    return LV_OK;
}

/* ---- keeping them fresh ---- */

/* Whether s's credentials are to be fetched again: there are none, or less than five minutes of them remain
 * (and the last attempt is a minute old, or they have expired). */
static bool stale(const aw_source *s, int64_t now)
{
    if (!s->held.key)
        return true;
    int64_t exp = s->held.expires_ms;
    return !(exp == 0 || now < exp - REFRESH_BEFORE_MS || (now < exp && now - s->fetched_ms < RETRY_EVERY_MS));
}

/* Whether s's credentials can still sign a request. */
static bool usable(const aw_source *s, int64_t now)
{
    return s->held.key && (s->held.expires_ms == 0 || now < s->held.expires_ms);
}

/* Makes s's credentials fresh when they are stale (s's base first). A failed attempt keeps those held while
 * they last. Only one thread at a time (the one opening, or the one refreshing) runs this. */
static lv_status ensure(lv_awscred *p, aw_source *s, lv_error *err)
{
    int64_t now = lv_now_ms();
    if (!stale(s, now))
        return LV_OK;
    lv_error e;
    lv_status st = s->base ? ensure(p, s->base, &e) : LV_OK;
    lv_awscred_keys k = { 0 };
    if (st == LV_OK)
        st = aw_fetch(p, s, &k, &e);
    s->fetched_ms = now;
    if (st == LV_OK) {
        lv_awscred_keys_clear(&s->held);
        s->held = k;
        if (s == p->top)
            p->generation++;
        return LV_OK;
    }
    if (usable(s, now))
        return LV_OK;
    if (err)
        *err = e;
    return st;
}

lv_status lv_awscred_open(lv_awscred **out, const lv_awscred_config *cfg, lv_error *err)
{
    *out = NULL;
    static const lv_awscred_config none = { 0 };
    if (!cfg)
        cfg = &none;
    aw_profile p;
    aw_profile_init(&p, cfg->profile, cfg->home);
    aw_source *top = NULL;
    lv_status st = find_source(&top, &p, cfg, err);
    if (st != LV_OK)
        return st;
    if (!top)
        return lv_fail(err, LV_EINVAL, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the profile '%s' "
                       "aws_access_key_id and aws_secret_access_key in %s (AWS_PROFILE chooses the profile), or "
                       "another source of the AWS SDKs' chain (levee help pull lists them)", p.name, p.credentials);
    if ((st = lv_curl_load(err)) != LV_OK) {
        aw_source_free(top);
        return st;
    }
    lv_awscred *c = lv_xcalloc(1, sizeof *c);
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->refreshed, NULL);
    c->top = top;
    c->generation = 1; /* a caller's first lv_awscred_current (with 0) copies */
    lv_buf_init(&c->answer);
    if (lv_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = lv_curl.curl_easy_init())) {
        lv_awscred_close(c);
        return lv_fail(err, LV_EINTERNAL, "libcurl could not start");
    }
    lv_error e;
    if ((st = ensure(c, top, &e)) != LV_OK) {
        bool instance = top->kind == AW_INSTANCE && e.status == LV_EIO;
        lv_awscred_close(c);
        if (!instance)
            return lv_fail(err, st, "%s", e.msg);
        return lv_fail(err, LV_EINVAL, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the profile '%s' "
                       "aws_access_key_id and aws_secret_access_key in %s (AWS_PROFILE chooses the profile); no "
                       "container role is set and the instance metadata service did not answer (%s)", p.name,
                       p.credentials, e.msg);
    }
    *out = c;
    return LV_OK;
}

lv_awscred *lv_awscred_ref(lv_awscred *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

void lv_awscred_close(lv_awscred *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    if (p->curl) {
        lv_curl.curl_easy_cleanup(p->curl);
        lv_curl.curl_global_cleanup();
    }
    aw_source_free(p->top);
    if (p->answer.data)
        memset(p->answer.data, 0, p->answer.cap);
    lv_buf_free(&p->answer);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->refreshed);
    free(p);
}

const char *lv_awscred_source(const lv_awscred *p) { return p->top->desc; }
const char *lv_awscred_hint(const lv_awscred *p) { return p->top->hint; }

lv_status lv_awscred_current(lv_awscred *p, uint64_t *generation, lv_awscred_keys *out, lv_error *err)
{
    pthread_mutex_lock(&p->lock);
    aw_source *top = p->top;
    int64_t now = lv_now_ms();
    /* while another thread renews them, the credentials held serve; once expired, their renewal is waited for */
    while (p->refreshing && !usable(top, now)) {
        pthread_cond_wait(&p->refreshed, &p->lock);
        now = lv_now_ms();
    }
    lv_status st = LV_OK;
    lv_error e;
    if (!p->refreshing && stale(top, now)) {
        /* the request to the source is made outside the lock: the other clients sign with what is held */
        p->refreshing = true;
        pthread_mutex_unlock(&p->lock);
        lv_awscred_keys k = { 0 };
        st = top->base ? ensure(p, top->base, &e) : LV_OK;
        if (st == LV_OK)
            st = aw_fetch(p, top, &k, &e);
        pthread_mutex_lock(&p->lock);
        top->fetched_ms = now;
        if (st == LV_OK) {
            lv_awscred_keys_clear(&top->held);
            top->held = k;
            p->generation++;
        }
        p->refreshing = false;
        pthread_cond_broadcast(&p->refreshed);
    }
    bool ok = usable(top, lv_now_ms());
    if (ok && *generation != p->generation) {
        lv_awscred_keys_clear(out);
        out->key = lv_xstrdup(top->held.key);
        out->secret = lv_xstrdup(top->held.secret);
        out->token = top->held.token ? lv_xstrdup(top->held.token) : NULL;
        out->expires_ms = top->held.expires_ms;
        *generation = p->generation;
    }
    pthread_mutex_unlock(&p->lock);
    if (ok)
        return LV_OK;
    if (st == LV_OK) /* they expired while another thread's renewal failed */
        return lv_fail(err, LV_EIO, "the credentials from %s have expired and could not be fetched again",
                       top->desc);
    return lv_fail(err, st, "the credentials from %s have expired and cannot be fetched again: %s", top->desc, e.msg);
}
