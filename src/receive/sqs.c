/* sqs.c: the Amazon SQS client (levee/sqs.h): where the region and the endpoint come from (environment, ~/.aws
 * profiles, the queue URL), its credentials (levee/awscred.h: the AWS SDKs' chain, shared by the clients of one
 * queue), requests in the AWS JSON protocol written and read with levee's JSON, signed by libcurl (SigV4), and
 * SQS's errors turned into sentences that say what to check. */
#include "levee/sqs.h"

#include "awscred_internal.h"
#include "levee/curl.h"
#include "levee/json.h"
#include "levee/timestamp.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A receive waits up to 20 s for messages; the answer gets this long beyond that. */
#define SLACK_MS 15000L
/* SQS answers are at most 10 messages of 1 MiB; anything far larger is not SQS. */
#define MAX_ANSWER (16u << 20)

struct lv_sqs {
    char *queue_url;
    char *queue_name;      /* the last segment of the URL, for messages */
    char *endpoint;
    char *region;
    char *sigv4;           /* "aws:amz:REGION:sqs" */
    lv_awscred *creds;     /* shared with the other clients of the queue */
    uint64_t cred_gen;     /* which of its credentials keys holds */
    lv_awscred_keys keys;
    char *userpwd;         /* key:secret for CURLOPT_USERPWD */
    char *token_header;    /* "X-Amz-Security-Token: ..." or NULL */
    CURL *curl;
    lv_buf answer;
    bool answer_too_big;
    const atomic_bool *stop;
    lv_arena scratch;      /* parsed answers */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- settings ---- */

/* The region in an AWS queue host: sqs.REGION.amazonaws.com or the older REGION.queue.amazonaws.com. */
static char *region_of_host(const char *host, size_t len)
{
    const char *dot = memchr(host, '.', len);
    if (!dot || !strstr(host, ".amazonaws.com"))
        return NULL;
    if ((size_t)(dot - host) == 3 && memcmp(host, "sqs", 3) == 0) {
        const char *start = dot + 1, *end = memchr(start, '.', len - (size_t)(start - host));
        return end && end > start ? lv_xstrndup(start, (size_t)(end - start)) : NULL;
    }
    if (strncmp(dot, ".queue.amazonaws.com", 20) == 0)
        return lv_xstrndup(host, (size_t)(dot - host));
    return NULL;
}

static bool is_http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

static bool region_is_valid(const char *r)
{
    if (!*r || strlen(r) > 40)
        return false;
    for (const char *p = r; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-')
            return false;
    return true;
}

static void forget(char **s)
{
    if (*s) {
        memset(*s, 0, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* Before a request: the provider's credentials, fetched again when they are about to expire; the request's
 * user and token header made again when they changed. */
static lv_status fresh_credentials(lv_sqs *c, lv_error *err)
{
    uint64_t had = c->cred_gen;
    lv_status st = lv_awscred_current(c->creds, &c->cred_gen, &c->keys, err);
    if (st != LV_OK || had == c->cred_gen)
        return st;
    forget(&c->userpwd);
    forget(&c->token_header);
    if (asprintf(&c->userpwd, "%s:%s", c->keys.key, c->keys.secret) < 0)
        abort();
    if (c->keys.token && asprintf(&c->token_header, "X-Amz-Security-Token: %s", c->keys.token) < 0)
        abort();
    return LV_OK;
}

lv_status lv_sqs_open(lv_sqs **out, const lv_sqs_config *cfg, lv_error *err)
{
    *out = NULL;
    const char *url = cfg->queue_url;
    if (!url || !is_http_url(url))
        return lv_fail(err, LV_EINVAL, "'%s' is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
                       url ? url : "");
    const char *host = strstr(url, "://") + 3;
    const char *path = strchr(host, '/');
    size_t host_len = path ? (size_t)(path - host) : strlen(host);
    const char *name = strrchr(url, '/');
    if (!path || host_len == 0 || !name || name[1] == '\0' || name == path)
        return lv_fail(err, LV_EINVAL, "'%s' is not an SQS queue URL: it needs the account and the queue's name "
                       "after the host (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", url);
    aw_profile p;
    aw_profile_init(&p, cfg->profile, cfg->home);
    lv_sqs *c = lv_xcalloc(1, sizeof *c);
    c->queue_url = lv_xstrdup(url);
    c->queue_name = lv_xstrdup(name + 1);
    lv_buf_init(&c->answer);
    lv_arena_init(&c->scratch, 64 * 1024);

    /* region */
    const char *region_from = NULL;
    if (cfg->region)
        c->region = lv_xstrdup(cfg->region);
    else if (aw_env("AWS_REGION"))
        c->region = lv_xstrdup(aw_env("AWS_REGION"));
    else if (aw_env("AWS_DEFAULT_REGION"))
        c->region = lv_xstrdup(aw_env("AWS_DEFAULT_REGION"));
    else if (!(c->region = aw_ini_get(p.config, p.config_section, "region")))
        c->region = region_of_host(host, host_len);
    else
        region_from = p.config;
    if (!c->region) {
        lv_sqs_close(c);
        return lv_fail(err, LV_EINVAL, "cannot tell the AWS region of %s: set AWS_REGION (or region in the profile "
                       "'%s' of %s)", url, p.name, p.config);
    }
    if (!region_is_valid(c->region)) {
        lv_error e;
        lv_fail(&e, LV_EINVAL, "the AWS region '%s'%s%s is not a region name (like us-east-1)", c->region,
                region_from ? " in " : "", region_from ? region_from : "");
        lv_sqs_close(c);
        if (err)
            *err = e;
        return LV_EINVAL;
    }
    size_t sn = strlen(c->region) + 16;
    c->sigv4 = lv_xmalloc(sn);
    snprintf(c->sigv4, sn, "aws:amz:%s:sqs", c->region);

    /* endpoint */
    char *ep = NULL;
    const char *ep_from = NULL;
    if (cfg->endpoint) {
        ep = lv_xstrdup(cfg->endpoint);
        ep_from = "--sqs-endpoint";
    } else if (aw_env("AWS_ENDPOINT_URL_SQS")) {
        ep = lv_xstrdup(aw_env("AWS_ENDPOINT_URL_SQS"));
        ep_from = "AWS_ENDPOINT_URL_SQS";
    } else if (aw_env("AWS_ENDPOINT_URL")) {
        ep = lv_xstrdup(aw_env("AWS_ENDPOINT_URL"));
        ep_from = "AWS_ENDPOINT_URL";
    } else if ((ep = aw_ini_get(p.config, p.config_section, "endpoint_url"))) {
        ep_from = p.config;
    } else {
        ep = lv_xstrndup(url, (size_t)(host + host_len - url));
    }
    if (!is_http_url(ep)) {
        lv_error e;
        lv_fail(&e, LV_EINVAL, "the SQS endpoint '%s'%s%s is not an http:// or https:// URL", ep,
                ep_from ? " from " : "", ep_from ? ep_from : "");
        free(ep);
        lv_sqs_close(c);
        if (err)
            *err = e;
        return LV_EINVAL;
    }
    size_t el = strlen(ep);
    const char *ep_path = strchr(strstr(ep, "://") + 3, '/');
    if (!ep_path) { /* the JSON protocol posts to the endpoint's root */
        ep = lv_xrealloc(ep, el + 2);
        ep[el] = '/';
        ep[el + 1] = '\0';
    }
    c->endpoint = ep;

    lv_status st = lv_curl_load(err);
    if (st != LV_OK) {
        lv_sqs_close(c);
        return st;
    }
    if (lv_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = lv_curl.curl_easy_init())) {
        lv_sqs_close(c);
        return lv_fail(err, LV_EINTERNAL, "libcurl could not start");
    }

    /* credentials: the ones given, shared, or found now (STS is asked in the queue's region) */
    if (cfg->credentials) {
        c->creds = lv_awscred_ref(cfg->credentials);
    } else {
        lv_awscred_config ac = { .profile = cfg->profile, .home = cfg->home, .region = c->region };
        lv_error e;
        if ((st = lv_awscred_open(&c->creds, &ac, &e)) != LV_OK) {
            lv_sqs_close(c);
            return lv_fail(err, st, "there are no AWS credentials for %s: %s", url, e.msg);
        }
    }
    if ((st = fresh_credentials(c, err)) != LV_OK) {
        lv_sqs_close(c);
        return st;
    }
    *out = c;
    return LV_OK;
}

void lv_sqs_close(lv_sqs *c)
{
    if (!c)
        return;
    if (c->curl) {
        lv_curl.curl_easy_cleanup(c->curl);
        lv_curl.curl_global_cleanup();
    }
    forget(&c->userpwd);
    forget(&c->token_header);
    lv_awscred_keys_clear(&c->keys);
    lv_awscred_close(c->creds);
    free(c->queue_url);
    free(c->queue_name);
    free(c->endpoint);
    free(c->region);
    free(c->sigv4);
    lv_buf_free(&c->answer);
    lv_arena_free(&c->scratch);
    free(c);
}

const char *lv_sqs_queue_url(const lv_sqs *c) { return c->queue_url; }
const char *lv_sqs_endpoint(const lv_sqs *c) { return c->endpoint; }
const char *lv_sqs_region(const lv_sqs *c) { return c->region; }
const char *lv_sqs_credentials_source(const lv_sqs *c) { return lv_awscred_source(c->creds); }
lv_awscred *lv_sqs_credentials(const lv_sqs *c) { return c->creds; }
void lv_sqs_set_stop(lv_sqs *c, const atomic_bool *stop) { c->stop = stop; }

/* ---- one request ---- */

static size_t take_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    lv_sqs *c = userdata;
    size_t n = size * nmemb;
    if (c->answer.len + n > MAX_ANSWER) {
        c->answer_too_big = true;
        return 0;
    }
    lv_buf_append(&c->answer, ptr, n);
    return n;
}

static int check_stop(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    lv_sqs *c = userdata;
    return c->stop && atomic_load(c->stop) ? 1 : 0;
}

/* SQS's error (the JSON protocol's {"__type": "...#Code", "message": "..."}) as a sentence. */
static lv_status refused(lv_sqs *c, const char *action, long http, lv_error *err)
{
    const char *code = NULL, *message = NULL;
    size_t code_len = 0, message_len = 0;
    lv_json *root = NULL;
    lv_arena_reset(&c->scratch);
    if (lv_json_parse(&c->scratch, c->answer.data ? c->answer.data : "", c->answer.len, &root, NULL) == LV_OK &&
        root->type == LV_JSON_OBJECT) {
        const lv_json *t = lv_json_get(root, "__type");
        if (!t)
            t = lv_json_get(root, "code");
        if (t && t->type == LV_JSON_STRING) {
            const char *hash = memchr(t->str, '#', t->len);
            code = hash ? hash + 1 : t->str;
            code_len = t->len - (size_t)(code - t->str);
        }
        const lv_json *m = lv_json_get(root, "message");
        if (!m)
            m = lv_json_get(root, "Message");
        if (m && m->type == LV_JSON_STRING) {
            message = m->str;
            message_len = m->len > 300 ? 300 : m->len;
        }
    }
    char codebuf[128];
    if (code)
        snprintf(codebuf, sizeof codebuf, "%.*s", (int)(code_len > 100 ? 100 : code_len), code);
    else
        snprintf(codebuf, sizeof codebuf, "HTTP %ld", http);
    char detail[400] = "";
    if (message)
        snprintf(detail, sizeof detail, ": SQS says \"%.*s\"", (int)message_len, message);
#define IS(x) (strcmp(codebuf, x) == 0)
    if (IS("InvalidClientTokenId") || IS("UnrecognizedClientException") || IS("InvalidAccessKeyId") ||
        IS("MissingAuthenticationToken") || IS("MissingAuthenticationTokenException"))
        return lv_fail(err, LV_EINVAL, "SQS refused the credentials for %s (%s): check %s (the key may be "
                       "wrong, deleted or from another account)", c->queue_url, codebuf, lv_awscred_hint(c->creds));
    if (IS("SignatureDoesNotMatch") || IS("IncompleteSignature") || IS("InvalidSignatureException"))
        return lv_fail(err, LV_EINVAL, "SQS refused the signature of the request to %s (%s): check the secret key "
                       "in %s and the region '%s'", c->queue_url, codebuf, lv_awscred_hint(c->creds), c->region);
    if (IS("ExpiredToken") || IS("ExpiredTokenException") || IS("InvalidToken") || IS("TokenRefreshRequired"))
        return lv_fail(err, LV_EINVAL, "SQS refused the session token for %s (%s): it has expired or is not valid; "
                       "get new temporary credentials (%s)", c->queue_url, codebuf, lv_awscred_hint(c->creds));
    if (IS("RequestExpired") || IS("RequestTimeTooSkewed"))
        return lv_fail(err, LV_EINVAL, "SQS refused the request to %s (%s): this machine's clock is too far from "
                       "AWS's; set the clock (NTP)", c->queue_url, codebuf);
    if (IS("AccessDenied") || IS("AccessDeniedException") || IS("KMS.AccessDeniedException"))
        return lv_fail(err, LV_EINVAL, "the credentials from %s are not allowed to %s on %s (%s): the IAM policy "
                       "must allow sqs:%s%s", lv_awscred_source(c->creds), action, c->queue_url, codebuf, action, detail);
    if (IS("QueueDoesNotExist") || IS("AWS.SimpleQueueService.NonExistentQueue") || IS("NonExistentQueue"))
        return lv_fail(err, LV_EINVAL, "there is no queue %s at %s in region %s (%s): check the queue URL and the "
                       "region", c->queue_url, c->endpoint, c->region, codebuf);
    if (http == 429 || http >= 500 || IS("ThrottlingException") || IS("RequestThrottled") || IS("Throttling") ||
        IS("ServiceUnavailable") || IS("InternalFailure") || IS("InternalError") || IS("KmsThrottled") ||
        IS("KMS.ThrottlingException") || IS("OverLimit"))
        return lv_fail(err, http == 429 || strstr(codebuf, "hrottl") || IS("OverLimit") ? LV_EBUSY : LV_EIO,
                       "SQS at %s could not %s on %s (%s)%s", c->endpoint, action, c->queue_url, codebuf, detail);
#undef IS
    return lv_fail(err, LV_EINVAL, "SQS refused %s on %s (%s)%s", action, c->queue_url, codebuf, detail);
}

/* POSTs the request body to the endpoint as AmazonSQS.<action>, and parses the answer into c->scratch. */
static lv_status call(lv_sqs *c, const char *action, const lv_buf *request, long timeout_ms, lv_json **answer,
                      lv_error *err)
{
    lv_status fresh = fresh_credentials(c, err);
    if (fresh != LV_OK)
        return fresh;
    char target[96];
    snprintf(target, sizeof target, "X-Amz-Target: AmazonSQS.%s", action);
    struct curl_slist *h = NULL, *next;
    /* No "Expect:" to turn off 100-continue: libcurl would sign the header it then leaves out (7.88), and
     * SQS refuse the signature; libcurl asks for 100-continue only for bodies over 1 MB, larger than any here. */
    const char *headers[] = { "Content-Type: application/x-amz-json-1.0", target, c->token_header };
    for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
        if (!headers[i])
            continue;
        if (!(next = lv_curl.curl_slist_append(h, headers[i]))) {
            lv_curl.curl_slist_free_all(h);
            return lv_fail(err, LV_EINTERNAL, "libcurl could not allocate a header");
        }
        h = next;
    }
    CURL *k = c->curl;
    lv_curl.curl_easy_reset(k);
    lv_buf_reset(&c->answer);
    c->answer_too_big = false;
    c->errbuf[0] = '\0';
    bool ok = lv_curl.curl_easy_setopt(k, CURLOPT_URL, c->endpoint) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_HTTPHEADER, h) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_POST, 1L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_POSTFIELDS, request->data) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->len) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_AWS_SIGV4, c->sigv4) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_USERPWD, c->userpwd) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, 10000L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, take_answer) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_WRITEDATA, c) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_XFERINFOFUNCTION, check_stop) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_XFERINFODATA, c) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf) == CURLE_OK &&
              lv_curl.curl_easy_setopt(k, CURLOPT_USERAGENT, "levee/" LV_VERSION) == CURLE_OK;
    if (!ok) {
        lv_curl.curl_slist_free_all(h);
        return lv_fail(err, LV_EINTERNAL, "this libcurl cannot sign requests for AWS (CURLOPT_AWS_SIGV4 needs "
                       "libcurl 7.75 or later) or does not accept the endpoint %s", c->endpoint);
    }
    CURLcode rc = lv_curl.curl_easy_perform(k);
    lv_curl.curl_slist_free_all(h);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return lv_fail(err, LV_ETIMEOUT, "%s on %s was given up: levee is stopping", action, c->queue_url);
    if (rc != CURLE_OK) {
        if (c->answer_too_big)
            return lv_fail(err, LV_EIO, "the answer of %s to %s is over %u bytes: is it SQS?", c->endpoint, action,
                           MAX_ANSWER);
        return lv_fail(err, LV_EIO, "cannot reach SQS at %s (%s)", c->endpoint,
                       c->errbuf[0] ? c->errbuf : lv_curl.curl_easy_strerror(rc));
    }
    long http = 0;
    lv_curl.curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &http);
    if (http < 200 || http > 299)
        return refused(c, action, http, err);
    lv_arena_reset(&c->scratch);
    if (c->answer.len == 0) /* an empty answer (no messages, say) is an empty object */
        lv_buf_puts(&c->answer, "{}");
    lv_error perr;
    if (lv_json_parse(&c->scratch, c->answer.data, c->answer.len, answer, &perr) != LV_OK ||
        (*answer)->type != LV_JSON_OBJECT)
        return lv_fail(err, LV_EIO, "the answer of %s to %s is not an SQS answer (JSON object expected): %s",
                       c->endpoint, action, (*answer) && (*answer)->type != LV_JSON_OBJECT ? "not an object" : perr.msg);
    return LV_OK;
}

static void begin_request(lv_sqs *c, lv_buf *b, lv_jw **w)
{
    lv_buf_init(b);
    *w = lv_jw_new(b, false);
    lv_jw_obj_open(*w);
    lv_jw_kv_cstr(*w, "QueueUrl", c->queue_url);
}

static void end_request(lv_jw *w)
{
    lv_jw_obj_close(w);
    lv_jw_free(w);
}

/* ---- the actions ---- */

void lv_sqs_received_init(lv_sqs_received *r)
{
    memset(r, 0, sizeof *r);
    lv_arena_init(&r->arena, 64 * 1024);
}

void lv_sqs_received_free(lv_sqs_received *r)
{
    lv_arena_free(&r->arena);
    r->n = 0;
}

static const char *arena_str(lv_arena *a, const lv_json *v)
{
    return v && v->type == LV_JSON_STRING ? lv_arena_strndup(a, v->str, v->len) : NULL;
}

lv_status lv_sqs_receive(lv_sqs *c, unsigned max, unsigned wait_seconds, unsigned visibility_seconds,
                         lv_sqs_received *out, lv_error *err)
{
    out->n = 0;
    lv_arena_reset(&out->arena);
    if (max < 1 || max > LV_SQS_BATCH)
        max = LV_SQS_BATCH;
    if (wait_seconds > 20)
        wait_seconds = 20;
    lv_buf req;
    lv_jw *w;
    begin_request(c, &req, &w);
    lv_jw_kv_int(w, "MaxNumberOfMessages", max);
    lv_jw_kv_int(w, "WaitTimeSeconds", wait_seconds);
    if (visibility_seconds)
        lv_jw_kv_int(w, "VisibilityTimeout", visibility_seconds);
    /* the receive count under its old name and its new one */
    lv_jw_key(w, "AttributeNames");
    lv_jw_arr_open(w);
    lv_jw_cstr(w, "ApproximateReceiveCount");
    lv_jw_arr_close(w);
    lv_jw_key(w, "MessageSystemAttributeNames");
    lv_jw_arr_open(w);
    lv_jw_cstr(w, "ApproximateReceiveCount");
    lv_jw_arr_close(w);
    lv_jw_key(w, "MessageAttributeNames");
    lv_jw_arr_open(w);
    lv_jw_cstr(w, "All");
    lv_jw_arr_close(w);
    end_request(w);
    lv_json *answer = NULL;
    lv_status st = call(c, "ReceiveMessage", &req, (long)wait_seconds * 1000 + SLACK_MS, &answer, err);
    lv_buf_free(&req);
    if (st != LV_OK)
        return st;
    const lv_json *list = lv_json_get(answer, "Messages");
    if (!list)
        return LV_OK; /* none came */
    if (list->type != LV_JSON_ARRAY)
        return lv_fail(err, LV_EIO, "the answer of %s to ReceiveMessage has Messages that is not a list",
                       c->endpoint);
    for (const lv_json *m = list->child; m && out->n < LV_SQS_BATCH; m = m->next) {
        const lv_json *id = lv_json_get(m, "MessageId"), *rh = lv_json_get(m, "ReceiptHandle"),
                      *body = lv_json_get(m, "Body");
        if (!id || id->type != LV_JSON_STRING || !rh || rh->type != LV_JSON_STRING || !body ||
            body->type != LV_JSON_STRING)
            return lv_fail(err, LV_EIO, "the answer of %s to ReceiveMessage has a message without a MessageId, "
                           "ReceiptHandle or Body string", c->endpoint);
        lv_sqs_message *msg = &out->msgs[out->n++];
        memset(msg, 0, sizeof *msg);
        msg->id = arena_str(&out->arena, id);
        msg->receipt = arena_str(&out->arena, rh);
        msg->body = lv_arena_strndup(&out->arena, body->str, body->len);
        msg->body_len = body->len;
        const lv_json *count = lv_json_path(m, "Attributes/ApproximateReceiveCount");
        if (count && count->type == LV_JSON_STRING)
            msg->receive_count = (unsigned)strtoul(lv_arena_strndup(&out->arena, count->str, count->len), NULL, 10);
        const lv_json *name = lv_json_path(m, "MessageAttributes/event_name/StringValue");
        msg->event_name = arena_str(&out->arena, name);
    }
    return LV_OK;
}

/* The first entry of an answer's Failed list, as " (Id: Code, Message)" for a sentence. */
static void first_failure(const lv_json *failed, char *why, size_t size)
{
    const lv_json *f = failed ? failed->child : NULL;
    const lv_json *code = f ? lv_json_get(f, "Code") : NULL, *msg = f ? lv_json_get(f, "Message") : NULL;
    snprintf(why, size, "%.*s%s%.*s", code && code->type == LV_JSON_STRING ? (int)(code->len > 80 ? 80 : code->len) : 7,
             code && code->type == LV_JSON_STRING ? code->str : "unknown", msg && msg->type == LV_JSON_STRING ? ": " : "",
             msg && msg->type == LV_JSON_STRING ? (int)(msg->len > 200 ? 200 : msg->len) : 0,
             msg && msg->type == LV_JSON_STRING ? msg->str : "");
}

static size_t count_list(const lv_json *answer, const char *name)
{
    const lv_json *l = lv_json_get(answer, name);
    return l && l->type == LV_JSON_ARRAY ? l->len : 0;
}

lv_status lv_sqs_delete(lv_sqs *c, const lv_sqs_message *msgs, size_t n, size_t *deleted, lv_error *err)
{
    if (deleted)
        *deleted = 0;
    if (n == 0)
        return LV_OK;
    if (n > LV_SQS_BATCH)
        return lv_fail(err, LV_EINVAL, "at most %d messages can be deleted at once", LV_SQS_BATCH);
    lv_buf req;
    lv_jw *w;
    begin_request(c, &req, &w);
    lv_jw_key(w, "Entries");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < n; i++) {
        lv_jw_obj_open(w);
        lv_jw_kv_int(w, "Id", (int64_t)i);
        lv_jw_kv_cstr(w, "ReceiptHandle", msgs[i].receipt);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    end_request(w);
    lv_json *answer = NULL;
    lv_status st = call(c, "DeleteMessageBatch", &req, SLACK_MS, &answer, err);
    lv_buf_free(&req);
    if (st != LV_OK)
        return st;
    size_t ok = count_list(answer, "Successful"), failed = count_list(answer, "Failed");
    if (deleted)
        *deleted = ok;
    if (failed || ok != n) {
        char why[320];
        first_failure(lv_json_get(answer, "Failed"), why, sizeof why);
        return lv_fail(err, LV_EIO, "SQS deleted %zu of %zu messages from %s (%s): the others come back after their "
                       "visibility timeout and are stored once", ok, n, c->queue_url, why);
    }
    return LV_OK;
}

lv_status lv_sqs_change_visibility(lv_sqs *c, const lv_sqs_message *msgs, size_t n, unsigned seconds, lv_error *err)
{
    if (n == 0)
        return LV_OK;
    if (n > LV_SQS_BATCH)
        return lv_fail(err, LV_EINVAL, "at most %d messages can change visibility at once", LV_SQS_BATCH);
    lv_buf req;
    lv_jw *w;
    begin_request(c, &req, &w);
    lv_jw_key(w, "Entries");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < n; i++) {
        lv_jw_obj_open(w);
        lv_jw_kv_int(w, "Id", (int64_t)i);
        lv_jw_kv_cstr(w, "ReceiptHandle", msgs[i].receipt);
        lv_jw_kv_int(w, "VisibilityTimeout", seconds);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    end_request(w);
    lv_json *answer = NULL;
    lv_status st = call(c, "ChangeMessageVisibilityBatch", &req, SLACK_MS, &answer, err);
    lv_buf_free(&req);
    if (st != LV_OK)
        return st;
    if (count_list(answer, "Failed")) {
        char why[320];
        first_failure(lv_json_get(answer, "Failed"), why, sizeof why);
        return lv_fail(err, LV_EIO, "SQS did not extend the visibility of %zu of %zu messages of %s (%s)",
                       count_list(answer, "Failed"), n, c->queue_url, why);
    }
    return LV_OK;
}

static bool attribute_number(const lv_json *attrs, const char *name, uint64_t *out)
{
    const lv_json *v = lv_json_get(attrs, name);
    if (!v || v->type != LV_JSON_STRING || v->len == 0 || v->len > 19)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (!isdigit((unsigned char)v->str[i]))
            return false;
        x = x * 10 + (uint64_t)(v->str[i] - '0');
    }
    *out = x;
    return true;
}

lv_status lv_sqs_attributes_get(lv_sqs *c, lv_sqs_attributes *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    lv_buf req;
    lv_jw *w;
    begin_request(c, &req, &w);
    lv_jw_key(w, "AttributeNames");
    lv_jw_arr_open(w);
    lv_jw_cstr(w, "VisibilityTimeout");
    lv_jw_cstr(w, "ApproximateNumberOfMessages");
    lv_jw_cstr(w, "ApproximateNumberOfMessagesNotVisible");
    lv_jw_arr_close(w);
    end_request(w);
    lv_json *answer = NULL;
    lv_status st = call(c, "GetQueueAttributes", &req, SLACK_MS, &answer, err);
    lv_buf_free(&req);
    if (st != LV_OK)
        return st;
    const lv_json *attrs = lv_json_get(answer, "Attributes");
    uint64_t vt = 0;
    if (!attrs || attrs->type != LV_JSON_OBJECT || !attribute_number(attrs, "VisibilityTimeout", &vt) ||
        !attribute_number(attrs, "ApproximateNumberOfMessages", &out->visible) ||
        !attribute_number(attrs, "ApproximateNumberOfMessagesNotVisible", &out->in_flight))
        return lv_fail(err, LV_EIO, "the answer of %s to GetQueueAttributes for %s lacks the visibility timeout "
                       "or the message counts", c->endpoint, c->queue_url);
    out->visibility_timeout = vt > 43200 ? 43200 : (unsigned)vt;
    return LV_OK;
}

static void string_attribute(lv_jw *w, const char *name, const char *value)
{
    lv_jw_key(w, name);
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "DataType", "String");
    lv_jw_kv_cstr(w, "StringValue", value);
    lv_jw_obj_close(w);
}

lv_status lv_sqs_send(lv_sqs *c, const lv_sqs_outgoing *msgs, size_t n, lv_error *err)
{
    if (n == 0)
        return LV_OK;
    if (n > LV_SQS_BATCH)
        return lv_fail(err, LV_EINVAL, "at most %d messages can be sent at once", LV_SQS_BATCH);
    lv_buf req;
    lv_jw *w;
    begin_request(c, &req, &w);
    lv_jw_key(w, "Entries");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < n; i++) {
        lv_jw_obj_open(w);
        lv_jw_kv_int(w, "Id", (int64_t)i);
        lv_jw_kv_str(w, "MessageBody", msgs[i].body, msgs[i].len);
        if (msgs[i].event_name || msgs[i].event_time) {
            lv_jw_key(w, "MessageAttributes");
            lv_jw_obj_open(w);
            if (msgs[i].event_name)
                string_attribute(w, "event_name", msgs[i].event_name);
            if (msgs[i].event_time)
                string_attribute(w, "event_time", msgs[i].event_time);
            lv_jw_obj_close(w);
        }
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    end_request(w);
    lv_json *answer = NULL;
    lv_status st = call(c, "SendMessageBatch", &req, SLACK_MS, &answer, err);
    lv_buf_free(&req);
    if (st != LV_OK)
        return st;
    size_t ok = count_list(answer, "Successful");
    if (ok != n) {
        char why[320];
        first_failure(lv_json_get(answer, "Failed"), why, sizeof why);
        return lv_fail(err, LV_EIO, "SQS took %zu of %zu messages sent to %s (%s)", ok, n, c->queue_url, why);
    }
    return LV_OK;
}
