/* awscred_fetch.c: asking each kind of AWS credential source (levee/awscred.h) for its credentials: a container's
 * endpoint, the instance metadata service (IMDSv2), STS (AssumeRoleWithWebIdentity, unsigned; AssumeRole,
 * signed by libcurl's SigV4), the IAM Identity Center portal (GetRoleCredentials with the token `aws sso
 * login` cached) and credential_process (run without a shell). Requests go through the provider's own
 * libcurl handle, under its lock. */
#include "awscred_internal.h"

#include "levee/crypto.h"
#include "levee/json.h"
#include "levee/timestamp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Credentials endpoints answer in a few KB. */
#define MAX_ANSWER (1u << 20)
/* An sso_session's login is renewed once less than this remains of it (the AWS CLI's window). */
#define SSO_RENEW_BEFORE_MS (15 * 60000)
/* How long credential_process may take (the AWS CLI waits as long as it takes; a service should not). */
#define PROCESS_TIMEOUT_MS 60000

static size_t take_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    lv_awscred *p = userdata;
    size_t n = size * nmemb;
    if (p->answer.len + n > MAX_ANSWER) {
        p->answer_too_big = true;
        return 0;
    }
    lv_buf_append(&p->answer, ptr, n);
    return n;
}

typedef struct request {
    const char *method;
    const char *url;
    const char *headers[4]; /* NULL-terminated (or full) */
    const char *body;       /* POST fields, or NULL */
    const char *sigv4;      /* "aws:amz:REGION:sts" to sign, or NULL */
    const char *userpwd;    /* key:secret when signing */
    long timeout_ms;
} request;

/* One request; its answer in p->answer (NUL-terminated), its status in *status. LV_EIO when no answer came. */
static lv_status http(lv_awscred *p, const request *r, long *status, lv_error *err)
{
    CURL *k = p->curl;
    struct curl_slist *h = NULL, *next;
    for (size_t i = 0; i < sizeof r->headers / sizeof *r->headers && r->headers[i]; i++) {
        if (!(next = lv_curl.curl_slist_append(h, r->headers[i]))) {
            lv_curl.curl_slist_free_all(h);
            return lv_fail(err, LV_EINTERNAL, "libcurl could not allocate a header");
        }
        h = next;
    }
    lv_curl.curl_easy_reset(k);
    if (p->answer.data)
        memset(p->answer.data, 0, p->answer.len);
    lv_buf_reset(&p->answer);
    p->answer_too_big = false;
    p->errbuf[0] = '\0';
    bool put = strcmp(r->method, "PUT") == 0;
    const char *body = r->body ? r->body : put ? "" : NULL;
    bool ok = lv_curl.curl_easy_setopt(k, CURLOPT_URL, r->url) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              (!body || lv_curl.curl_easy_setopt(k, CURLOPT_POSTFIELDS, body) == CURLE_OK) &&
              (!body || lv_curl.curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) == CURLE_OK) &&
              lv_curl.curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, r->method) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_HTTPHEADER, h) == CURLE_OK &&
              (!r->sigv4 || lv_curl.curl_easy_setopt(k, CURLOPT_AWS_SIGV4, r->sigv4) == CURLE_OK) &&
              (!r->userpwd || lv_curl.curl_easy_setopt(k, CURLOPT_USERPWD, r->userpwd) == CURLE_OK) &&
              lv_curl.curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, r->timeout_ms) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms < 10000 ? 1000L : 10000L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, take_answer) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_WRITEDATA, p) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_ERRORBUFFER, p->errbuf) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_USERAGENT, "levee/" LV_VERSION) == CURLE_OK;
    CURLcode rc = ok ? lv_curl.curl_easy_perform(k) : CURLE_FAILED_INIT;
    lv_curl.curl_slist_free_all(h);
    *status = 0;
    lv_curl.curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, status);
    /* the handle keeps no secret between requests */
    lv_curl.curl_easy_reset(k);
    if (!ok)
        return lv_fail(err, LV_EINTERNAL, "libcurl does not accept the request to %s", r->url);
    if (rc != CURLE_OK) {
        if (p->answer_too_big)
            return lv_fail(err, LV_EIO, "the answer of %s is over %u bytes", r->url, MAX_ANSWER);
        return lv_fail(err, LV_EIO, "%s (%s)", r->url, p->errbuf[0] ? p->errbuf : lv_curl.curl_easy_strerror(rc));
    }
    return LV_OK;
}

/* A request whose answer must be 200: LV_ENOTFOUND for a 404, LV_EIO for another status. */
static lv_status http_ok(lv_awscred *p, const request *r, lv_error *err)
{
    long status = 0;
    lv_status st = http(p, r, &status, err);
    if (st == LV_OK && status != 200)
        st = lv_fail(err, status == 404 ? LV_ENOTFOUND : LV_EIO, "%s answered HTTP %ld", r->url, status);
    return st;
}

/* text, percent-encoded for a query or a form, appended to b. */
static lv_status escaped(lv_buf *b, const char *text, lv_error *err)
{
    char *e = lv_curl.curl_easy_escape(NULL, text, (int)strlen(text));
    if (!e)
        return lv_fail(err, LV_EINTERNAL, "libcurl could not percent-encode a parameter");
    lv_buf_puts(b, e);
    memset(e, 0, strlen(e));
    lv_curl.curl_free(e);
    return LV_OK;
}

/* ---- a container's endpoint, the instance metadata service ---- */

/* The container endpoint's Authorization header: AWS_CONTAINER_AUTHORIZATION_TOKEN, or the first line of
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (EKS pod identity rotates that file: it is read at each fetch). */
static lv_status container_auth(char *out, size_t size, lv_error *err)
{
    out[0] = '\0';
    char line[8192];
    const char *token = aw_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (!token && aw_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
        const char *path = aw_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        FILE *f = fopen(path, "r");
        if (!f)
            return lv_fail(err, LV_EINVAL, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s", path,
                           strerror(errno));
        bool got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        token = got ? aw_trim(line) : "";
    }
    lv_status st = LV_OK;
    if (token && strpbrk(token, "\r\n"))
        st = lv_fail(err, LV_EINVAL, "the container's authorization token holds a line break: check "
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)");
    else if (token && *token)
        snprintf(out, size, "Authorization: %s", token);
    memset(line, 0, sizeof line);
    return st;
}

/* Reads a role document just fetched from `from`. A refusal (a Code other than Success) is LV_EINVAL, an
 * answer that is not one LV_EIO. */
static lv_status role_document(lv_awscred *p, const char *from, lv_awscred_keys *out, lv_error *err)
{
    lv_error e;
    lv_status st = lv_awscred_parse_role(p->answer.data ? p->answer.data : "", p->answer.len, out, &e);
    if (st == LV_OK)
        return LV_OK;
    if (strstr(e.msg, "were refused"))
        return lv_fail(err, LV_EINVAL, "%s by %s", e.msg, from);
    return lv_fail(err, LV_EIO, "%s did not answer with credentials (AccessKeyId, SecretAccessKey, Token, "
                   "Expiration): %s", from, e.msg);
}

static lv_status from_container(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    char auth[8300];
    lv_status st = container_auth(auth, sizeof auth, err);
    if (st != LV_OK)
        return st;
    request r = { .method = "GET", .url = s->url, .headers = { auth[0] ? auth : NULL }, .timeout_ms = 3000 };
    st = http_ok(p, &r, err);
    memset(auth, 0, sizeof auth);
    return st == LV_OK ? role_document(p, s->url, out, err) : st;
}

/* IMDSv2: a session token first (PUT), then the role's name, then its credentials. Short timeouts: a
 * link-local address answers at once or not at all (the AWS SDKs wait about as long). */
static lv_status from_instance(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    char url[2048], header[1024] = "";
    snprintf(url, sizeof url, "%s/latest/api/token", s->url);
    request r = { .method = "PUT", .url = url, .headers = { "X-aws-ec2-metadata-token-ttl-seconds: 21600" },
                  .timeout_ms = 3000 };
    lv_status st = http_ok(p, &r, err);
    if (st == LV_OK) {
        const char *token = p->answer.data ? p->answer.data : "";
        if (p->answer.len == 0 || p->answer.len > 900 || strpbrk(token, "\r\n"))
            st = lv_fail(err, LV_EIO, "the instance metadata service at %s gave no usable token", s->url);
        else
            snprintf(header, sizeof header, "X-aws-ec2-metadata-token: %s", token);
    }
    char name[256] = "";
    if (st == LV_OK) {
        snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/", s->url);
        r = (request){ .method = "GET", .url = url, .headers = { header }, .timeout_ms = 3000 };
        st = http_ok(p, &r, err);
        if (st == LV_OK) {
            snprintf(name, sizeof name, "%s", p->answer.data ? p->answer.data : "");
            char *nl = strchr(name, '\n');
            if (nl)
                *nl = '\0';
        }
        char *n = aw_trim(name);
        if (st == LV_ENOTFOUND || (st == LV_OK && (!*n || strpbrk(n, "/?#% "))))
            st = lv_fail(err, LV_EINVAL, "this instance has no IAM role (the instance metadata service at %s names "
                         "none): attach a role to it, or give levee credentials another way", s->url);
        if (st == LV_OK) {
            snprintf(url, sizeof url, "%s/latest/meta-data/iam/security-credentials/%s", s->url, n);
            r = (request){ .method = "GET", .url = url, .headers = { header }, .timeout_ms = 3000 };
            if ((st = http_ok(p, &r, err)) == LV_OK)
                st = role_document(p, "the instance metadata service", out, err);
        }
    }
    memset(header, 0, sizeof header);
    return st;
}

/* ---- STS ---- */

/* Posts the Query API's form to STS (signed with the base's credentials when base is given) and reads the
 * answer. what names the call for sentences. */
static lv_status sts_call(lv_awscred *p, aw_source *s, const lv_buf *form, const lv_awscred_keys *base,
                          const char *what, lv_awscred_keys *out, lv_error *err)
{
    char sigv4[96], *userpwd = NULL, *token_header = NULL;
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:sts", s->sts_region);
    if (base) {
        if (asprintf(&userpwd, "%s:%s", base->key, base->secret) < 0)
            abort();
        if (base->token && asprintf(&token_header, "X-Amz-Security-Token: %s", base->token) < 0)
            abort();
    }
    request r = { .method = "POST", .url = s->sts_endpoint, .body = form->data, .timeout_ms = 20000,
                  .headers = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
                               "Accept: text/xml", token_header },
                  .sigv4 = base ? sigv4 : NULL, .userpwd = userpwd };
    long status = 0;
    lv_status st = http(p, &r, &status, err);
    if (userpwd) {
        memset(userpwd, 0, strlen(userpwd));
        free(userpwd);
    }
    if (token_header) {
        memset(token_header, 0, strlen(token_header));
        free(token_header);
    }
    lv_error e;
    if (st != LV_OK) {
        e = *err;
        return lv_fail(err, LV_EIO, "cannot reach STS to %s: %s", what, e.msg);
    }
    st = lv_awscred_parse_sts(p->answer.data, p->answer.len, out, &e);
    if (st == LV_OK && status == 200)
        return LV_OK;
    if (st == LV_OK) { /* credentials with an error status: not STS */
        lv_awscred_keys_clear(out);
        return lv_fail(err, LV_EIO, "STS at %s answered HTTP %ld to %s", s->sts_endpoint, status, what);
    }
    bool transient = status >= 500 || status == 429 || e.status == LV_EIO;
    if (strncmp(e.msg, "STS said ", 9) == 0)
        return lv_fail(err, transient ? LV_EIO : LV_EINVAL, "STS at %s refused to %s (HTTP %ld): %s", s->sts_endpoint,
                       what, status, e.msg + 9);
    return lv_fail(err, transient ? LV_EIO : LV_EINVAL, "the answer of STS at %s (HTTP %ld) to %s is not one: %s",
                   s->sts_endpoint, status, what, e.msg);
}

static void form_start(lv_buf *b, const char *action, const aw_source *s, lv_error *err)
{
    lv_buf_printf(b, "Action=%s&Version=2011-06-15&RoleArn=", action);
    escaped(b, s->role_arn, err);
    lv_buf_puts(b, "&RoleSessionName=");
    escaped(b, s->session_name, err);
}

static lv_status from_web_identity(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    lv_buf token, form, what;
    lv_buf_init(&token);
    lv_buf_init(&form);
    lv_buf_init(&what);
    /* read at each renewal: EKS and GitHub Actions rotate the token */
    lv_status st = lv_read_file(s->token_file, "the web identity token file", 1u << 20, &token, err);
    char *t = token.data ? aw_trim(token.data) : NULL;
    if (st == LV_OK && (!t || !*t))
        st = lv_fail(err, LV_EINVAL, "the web identity token file %s is empty", s->token_file);
    if (st == LV_OK) {
        form_start(&form, "AssumeRoleWithWebIdentity", s, err);
        lv_buf_puts(&form, "&WebIdentityToken=");
        st = escaped(&form, t, err);
    }
    if (st == LV_OK) {
        lv_buf_printf(&what, "assume the role %s with the web identity token in %s", s->role_arn, s->token_file);
        st = sts_call(p, s, &form, NULL, what.data, out, err);
    }
    if (token.data)
        memset(token.data, 0, token.cap);
    if (form.data)
        memset(form.data, 0, form.cap);
    lv_buf_free(&token);
    lv_buf_free(&form);
    lv_buf_free(&what);
    return st;
}

static lv_status from_assume_role(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    lv_buf form, what;
    lv_buf_init(&form);
    lv_buf_init(&what);
    form_start(&form, "AssumeRole", s, err);
    lv_status st = LV_OK;
    if (s->external_id) {
        lv_buf_puts(&form, "&ExternalId=");
        st = escaped(&form, s->external_id, err);
    }
    if (s->duration)
        lv_buf_printf(&form, "&DurationSeconds=%u", s->duration);
    lv_buf_printf(&what, "assume the role %s with %s", s->role_arn, s->base->desc);
    if (st == LV_OK)
        st = sts_call(p, s, &form, &s->base->held, what.data, out, err);
    lv_buf_free(&form);
    lv_buf_free(&what);
    return st;
}

/* ---- IAM Identity Center ---- */

/* Writes the renewed login back where `aws sso login` cached it (the other members as they were), as the AWS
 * CLI does, so that the next run, and the AWS CLI, use it: through a temporary file of the same folder,
 * readable by its owner only, renamed over the old one. */
static lv_status save_login(const char *path, const lv_buf *cached, const lv_awscred_sso_login *login, lv_error *err)
{
    lv_arena a;
    lv_arena_init(&a, 8192);
    lv_json *doc = NULL;
    lv_error perr;
    if (lv_json_parse(&a, cached->data, cached->len, &doc, &perr) != LV_OK || doc->type != LV_JSON_OBJECT) {
        lv_arena_free(&a);
        return lv_fail(err, LV_EINVAL, "%s is not a JSON object", path);
    }
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jw_obj_open(w);
    for (const lv_json *m = doc->child; m; m = m->next) {
        if ((m->key_len == 11 && memcmp(m->key, "accessToken", 11) == 0) ||
            (m->key_len == 9 && memcmp(m->key, "expiresAt", 9) == 0) ||
            (m->key_len == 12 && memcmp(m->key, "refreshToken", 12) == 0))
            continue;
        lv_jw_keyn(w, m->key, m->key_len);
        lv_jw_value(w, m);
    }
    char when[LV_TIME_TEXT_MAX];
    lv_time_format_seconds(login->expires_ms, when);
    lv_jw_kv_cstr(w, "accessToken", login->access_token);
    lv_jw_kv_cstr(w, "expiresAt", when);
    if (login->refresh_token)
        lv_jw_kv_cstr(w, "refreshToken", login->refresh_token);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    lv_arena_free(&a);
    char tmp[1500];
    snprintf(tmp, sizeof tmp, "%s.levee-XXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    lv_status st = LV_OK;
    if (fd < 0) {
        st = lv_fail(err, LV_EIO, "cannot write the renewed login next to %s: %s", path, strerror(errno));
    } else {
        size_t done = 0;
        while (done < out.len) {
            ssize_t n = write(fd, out.data + done, out.len - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            done += (size_t)n;
        }
        bool ok = done == out.len && fsync(fd) == 0;
        if (close(fd) != 0)
            ok = false;
        if (!ok || rename(tmp, path) != 0) {
            st = lv_fail(err, LV_EIO, "cannot write the renewed login to %s: %s", path, strerror(errno));
            unlink(tmp);
        }
    }
    memset(out.data, 0, out.cap);
    lv_buf_free(&out);
    return st;
}

/* CreateToken at the IAM Identity Center OIDC service with the login's refresh token (grant refresh_token):
 * login gets the new access token (and refresh token); the cache file is rewritten. */
static lv_status renew_login(lv_awscred *p, aw_source *s, const char *path, const lv_buf *cached,
                             lv_awscred_sso_login *login, lv_error *err)
{
    lv_buf body, url;
    lv_buf_init(&body);
    lv_buf_init(&url);
    lv_jw *w = lv_jw_new(&body, false);
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "clientId", login->client_id);
    lv_jw_kv_cstr(w, "clientSecret", login->client_secret);
    lv_jw_kv_cstr(w, "grantType", "refresh_token");
    lv_jw_kv_cstr(w, "refreshToken", login->refresh_token);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    lv_buf_printf(&url, "%s/token", s->sso_oidc);
    request r = { .method = "POST", .url = url.data, .body = body.data, .timeout_ms = 20000,
                  .headers = { "Content-Type: application/json" } };
    long status = 0;
    lv_status st = http(p, &r, &status, err);
    memset(body.data, 0, body.cap);
    lv_buf_free(&body);
    lv_error e;
    if (st == LV_OK && status != 200) {
        /* OAuth's error code, e.g. invalid_grant when the session has ended */
        lv_arena a;
        lv_arena_init(&a, 1024);
        lv_json *doc = NULL;
        const lv_json *code = NULL;
        if (lv_json_parse(&a, p->answer.data ? p->answer.data : "", p->answer.len, &doc, NULL) == LV_OK &&
            doc->type == LV_JSON_OBJECT)
            code = lv_json_get(doc, "error");
        bool named = code && code->type == LV_JSON_STRING && code->len <= 64;
        st = lv_fail(err, LV_EINVAL, "the IAM Identity Center OIDC service at %s answered HTTP %ld%s%.*s", url.data,
                     status, named ? ": " : "", named ? (int)code->len : 0, named ? code->str : "");
        lv_arena_free(&a);
    } else if (st == LV_OK && lv_awscred_parse_oidc_token(p->answer.data, p->answer.len, lv_now_ms(), login, &e) != LV_OK) {
        st = lv_fail(err, LV_EIO, "the IAM Identity Center OIDC service at %s did not answer with a token: %s",
                     url.data, e.msg);
    } else if (st == LV_OK && save_login(path, cached, login, &e) != LV_OK) {
        /* the renewed token serves this run; the next one renews again */
        (void)e;
    }
    lv_buf_free(&url);
    return st;
}

static lv_status from_sso(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    lv_status st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    unsigned char md[64];
    unsigned n = 0;
    if (!lv_crypto()->EVP_Digest(s->sso_cache, strlen(s->sso_cache), md, &n, lv_crypto()->EVP_sha1(), NULL))
        return lv_fail(err, LV_EINTERNAL, "libcrypto could not hash the IAM Identity Center session's name");
    char path[1400];
    int len = snprintf(path, sizeof path, "%s/", s->url);
    for (unsigned i = 0; i < n && len > 0 && (size_t)len + 3 < sizeof path; i++)
        len += snprintf(path + len, sizeof path - (size_t)len, "%02x", md[i]);
    snprintf(path + len, sizeof path - (size_t)len, ".json");
    lv_buf cached;
    lv_buf_init(&cached);
    lv_error e;
    if (lv_read_file(path, "the cached IAM Identity Center login", 1u << 20, &cached, &e) != LV_OK) {
        lv_buf_free(&cached);
        return lv_fail(err, LV_EINVAL, "there is no IAM Identity Center login cached for the profile '%s' (%s): run "
                       "`aws sso login --profile %s`", s->sso_profile, path, s->sso_profile);
    }
    lv_awscred_sso_login login;
    st = lv_awscred_parse_sso_token(cached.data, cached.len, &login, &e);
    char renewal[LV_ERROR_MAX] = "";
    int64_t now = lv_now_ms();
    if (st == LV_OK && s->sso_oidc && login.refresh_token && login.client_id && login.client_secret &&
        (login.registration_expires_ms == 0 || now < login.registration_expires_ms) &&
        now >= login.expires_ms - SSO_RENEW_BEFORE_MS) {
        lv_error re;
        if (renew_login(p, s, path, &cached, &login, &re) != LV_OK)
            snprintf(renewal, sizeof renewal, " and could not be renewed (%.400s)", re.msg);
    }
    if (cached.data)
        memset(cached.data, 0, cached.cap);
    lv_buf_free(&cached);
    if (st != LV_OK)
        return lv_fail(err, LV_EINVAL, "the IAM Identity Center login cached in %s cannot be read (%s): run "
                       "`aws sso login --profile %s`", path, e.msg, s->sso_profile);
    if (lv_now_ms() >= login.expires_ms) {
        char when[40];
        lv_time_format_seconds(login.expires_ms, when);
        lv_awscred_sso_login_clear(&login);
        return lv_fail(err, LV_EINVAL, "the IAM Identity Center login of the profile '%s' expired at %s%s: run "
                       "`aws sso login --profile %s`", s->sso_profile, when, renewal, s->sso_profile);
    }
    char *token = login.access_token;
    login.access_token = NULL;
    lv_awscred_sso_login_clear(&login);
    lv_buf url;
    lv_buf_init(&url);
    lv_buf_printf(&url, "%s/federation/credentials?role_name=", s->sso_endpoint);
    st = escaped(&url, s->sso_role, err);
    lv_buf_puts(&url, "&account_id=");
    if (st == LV_OK)
        st = escaped(&url, s->sso_account, err);
    char *header = NULL;
    if (asprintf(&header, "x-amz-sso_bearer_token: %s", token) < 0)
        abort();
    memset(token, 0, strlen(token));
    free(token);
    long status = 0;
    request r = { .method = "GET", .url = url.data, .headers = { header }, .timeout_ms = 20000 };
    if (st == LV_OK)
        st = http(p, &r, &status, err);
    memset(header, 0, strlen(header));
    free(header);
    if (st == LV_OK && status == 200) {
        st = lv_awscred_parse_sso(p->answer.data, p->answer.len, out, &e);
        if (st != LV_OK)
            st = lv_fail(err, LV_EIO, "the IAM Identity Center portal at %s did not answer with credentials: %s",
                         s->sso_endpoint, e.msg);
    } else if (st == LV_OK && (status == 401 || status == 403)) {
        st = lv_fail(err, LV_EINVAL, "the IAM Identity Center portal at %s refused the login cached for the profile "
                     "'%s' (HTTP %ld): run `aws sso login --profile %s`, and check that it may use the role %s of "
                     "account %s", s->sso_endpoint, s->sso_profile, status, s->sso_profile, s->sso_role, s->sso_account);
    } else if (st == LV_OK) {
        st = lv_fail(err, status >= 500 || status == 429 ? LV_EIO : LV_EINVAL, "the IAM Identity Center portal at %s "
                     "answered HTTP %ld for the role %s of account %s", s->sso_endpoint, status, s->sso_role,
                     s->sso_account);
    } else {
        e = *err;
        st = lv_fail(err, LV_EIO, "cannot reach the IAM Identity Center portal: %s", e.msg);
    }
    lv_buf_free(&url);
    return st;
}

/* ---- credential_process ---- */

/* Runs argv (no shell) with its output into out (at most max bytes) and its errors' first line into why;
 * *code is its exit status (or 128 + the signal). */
static lv_status run_command(char **argv, lv_buf *out, size_t max, char *why, size_t why_size, int *code,
                             lv_error *err)
{
    int o[2], e[2];
    why[0] = '\0';
    if (pipe2(o, O_CLOEXEC) != 0)
        return lv_fail(err, LV_EIO, "cannot make a pipe for credential_process: %s", strerror(errno));
    if (pipe2(e, O_CLOEXEC) != 0) {
        close(o[0]);
        close(o[1]);
        return lv_fail(err, LV_EIO, "cannot make a pipe for credential_process: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    /* the receivers' threads block SIGINT and SIGTERM: the command gets the default mask and handlers */
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    pid_t pid = -1;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&attr)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (rc == 0) {
        /* stdin from /dev/null, stdout and stderr into the pipes, and none of levee's files (the store,
         * sockets) open in the command */
        if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
            (rc = posix_spawn_file_actions_adddup2(&fa, o[1], 1)) == 0 &&
            (rc = posix_spawn_file_actions_adddup2(&fa, e[1], 2)) == 0 &&
            (rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) == 0 &&
            (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0 &&
            (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0 &&
            (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0)
            rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
    }
    close(o[1]);
    close(e[1]);
    if (rc != 0) {
        close(o[0]);
        close(e[0]);
        return lv_fail(err, LV_EINVAL, "cannot run %s: %s", argv[0], strerror(rc));
    }
    char errors[4096];
    size_t n_err = 0;
    bool open_o = true, open_e = true, too_big = false, late = false;
    int64_t deadline = lv_monotonic_us() + (int64_t)PROCESS_TIMEOUT_MS * 1000;
    while (open_o || open_e) {
        int64_t left = (deadline - lv_monotonic_us()) / 1000;
        if (left <= 0) {
            late = true;
            break;
        }
        struct pollfd fds[2] = { { .fd = open_o ? o[0] : -1, .events = POLLIN },
                                 { .fd = open_e ? e[0] : -1, .events = POLLIN } };
        int k = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
        if (k < 0 && errno != EINTR)
            break;
        char chunk[4096];
        if (open_o && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = read(o[0], chunk, sizeof chunk);
            if (got <= 0)
                open_o = false;
            else if (out->len + (size_t)got > max)
                too_big = true, open_o = false;
            else
                lv_buf_append(out, chunk, (size_t)got);
        }
        if (open_e && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = read(e[0], chunk, sizeof chunk);
            if (got <= 0)
                open_e = false;
            else if (n_err < sizeof errors - 1) {
                size_t take = (size_t)got < sizeof errors - 1 - n_err ? (size_t)got : sizeof errors - 1 - n_err;
                memcpy(errors + n_err, chunk, take);
                n_err += take;
            }
        }
        memset(chunk, 0, sizeof chunk);
    }
    close(o[0]);
    close(e[0]);
    if (late || too_big)
        kill(pid, SIGKILL); /* the child this function started, by its pid */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    errors[n_err] = '\0';
    char *line = aw_trim(errors), *nl = strpbrk(line, "\r\n");
    if (nl)
        *nl = '\0';
    snprintf(why, why_size, "%.200s", line);
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    if (late)
        return lv_fail(err, LV_EIO, "%s gave no answer in %d s (it was stopped)", argv[0], PROCESS_TIMEOUT_MS / 1000);
    if (too_big)
        return lv_fail(err, LV_EINVAL, "%s printed over %zu bytes, which are not credentials", argv[0], max);
    return LV_OK;
}

static lv_status from_process(aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    char **argv = NULL;
    lv_status st = lv_awscred_split_command(s->command, &argv, err);
    if (st != LV_OK)
        return st;
    lv_buf output;
    lv_buf_init(&output);
    char why[256];
    int code = 0;
    lv_error e;
    st = run_command(argv, &output, 1u << 20, why, sizeof why, &code, &e);
    if (st != LV_OK)
        lv_fail(err, st, "%s: %s", s->desc, e.msg);
    else if (code != 0)
        st = lv_fail(err, LV_EINVAL, "%s exited with status %d%s%s", s->desc, code, why[0] ? ": " : "", why);
    else if ((st = lv_awscred_parse_process(output.data, output.len, out, &e)) != LV_OK)
        lv_fail(err, st, "%s printed no credentials: %s", s->desc, e.msg);
    if (output.data)
        memset(output.data, 0, output.cap);
    lv_buf_free(&output);
    lv_awscred_argv_free(argv);
    return st;
}

lv_status aw_fetch(lv_awscred *p, aw_source *s, lv_awscred_keys *out, lv_error *err)
{
    switch (s->kind) {
    case AW_CONTAINER:
        return from_container(p, s, out, err);
    case AW_INSTANCE:
        return from_instance(p, s, out, err);
    case AW_WEB_IDENTITY:
        return from_web_identity(p, s, out, err);
    case AW_ASSUME_ROLE:
        return from_assume_role(p, s, out, err);
    case AW_SSO:
        return from_sso(p, s, out, err);
    case AW_PROCESS:
        return from_process(s, out, err);
    case AW_STATIC:
        break;
    }
    return lv_fail(err, LV_EINTERNAL, "%s cannot be fetched again", s->desc);
}
