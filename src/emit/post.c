/* post.c: HTTP delivery of events with libcurl: one easy handle (so one kept-alive connection) for
 * all POSTs, a 2xx answer as success, and Canvas's retry policy for the rest: 3 retries with
 * exponential backoff and jitter. */
#include "levee/post.h"
#include "levee/prng.h"
#include "levee/curl.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct lv_poster {
    CURL *curl;
    struct curl_slist *headers;
    char *url;
    lv_post_options opt;
    lv_prng jitter;
    char errbuf[CURL_ERROR_SIZE];
};

void lv_post_options_init(lv_post_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->content_type = "application/json";
    opt->timeout_ms = 15000;
    opt->retries = 3;
    opt->backoff_ms = 250;
    opt->jitter_seed = 1;
}

/* The answer's body is not needed; reading it keeps the connection reusable. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr, (void)userdata;
    return size * nmemb;
}

lv_status lv_poster_new(lv_poster **out, const char *url, const lv_post_options *opt, lv_error *err)
{
    *out = NULL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return lv_fail(err, LV_EINVAL, "'%s' is not an http:// or https:// URL", url);
    if (lv_curl_load(err) != LV_OK)
        return LV_EIO;
    if (lv_curl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return lv_fail(err, LV_EINTERNAL, "libcurl could not start");
    lv_poster *p = lv_xcalloc(1, sizeof *p);
    p->opt = *opt;
    p->url = lv_xstrdup(url);
    lv_prng_seed(&p->jitter, opt->jitter_seed);
    p->curl = lv_curl.curl_easy_init();
    char header[256];
    snprintf(header, sizeof header, "Content-Type: %s", opt->content_type ? opt->content_type : "application/json");
    p->headers = lv_curl.curl_slist_append(NULL, header);
    /* No "Expect: 100-continue" round trip before larger bodies. */
    p->headers = lv_curl.curl_slist_append(p->headers, "Expect:");
    if (!p->curl || !p->headers) {
        lv_poster_free(p);
        return lv_fail(err, LV_EINTERNAL, "libcurl could not allocate a connection");
    }
    CURL *c = p->curl;
    bool ok = lv_curl.curl_easy_setopt(c, CURLOPT_URL, p->url) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, opt->timeout_ms > 0 ? opt->timeout_ms : 15000L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->errbuf) == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_USERAGENT, "levee-simulate") == CURLE_OK &&
              lv_curl.curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK;
    if (!ok) {
        lv_poster_free(p);
        return lv_fail(err, LV_EINVAL, "libcurl does not accept the URL '%s'", url);
    }
    *out = p;
    return LV_OK;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

lv_status lv_poster_send(lv_poster *p, const char *body, size_t len, lv_post_result *result, lv_error *err)
{
    lv_post_result r = { 0, 0 };
    char why[CURL_ERROR_SIZE + 64] = "";
    for (unsigned attempt = 0; attempt <= p->opt.retries; attempt++) {
        if (attempt) {
            /* Exponential backoff with "equal jitter": half the wait fixed, half random. */
            uint64_t wait = (uint64_t)p->opt.backoff_ms << (attempt - 1);
            sleep_ms(wait / 2 + lv_prng_below(&p->jitter, wait / 2 + 1));
        }
        r.attempts++;
        p->errbuf[0] = '\0';
        lv_curl.curl_easy_setopt(p->curl, CURLOPT_POSTFIELDS, body);
        lv_curl.curl_easy_setopt(p->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        CURLcode rc = lv_curl.curl_easy_perform(p->curl);
        r.status = 0;
        if (rc == CURLE_OK) {
            lv_curl.curl_easy_getinfo(p->curl, CURLINFO_RESPONSE_CODE, &r.status);
            if (r.status >= 200 && r.status < 300) {
                if (result)
                    *result = r;
                return LV_OK;
            }
            snprintf(why, sizeof why, "it answered HTTP %ld", r.status);
        } else {
            snprintf(why, sizeof why, "%s", p->errbuf[0] ? p->errbuf : lv_curl.curl_easy_strerror(rc));
        }
    }
    if (result)
        *result = r;
    return lv_fail(err, LV_EIO, "%s after %u attempt%s", why, r.attempts, r.attempts == 1 ? "" : "s");
}

void lv_poster_free(lv_poster *p)
{
    if (!p)
        return;
    if (p->curl)
        lv_curl.curl_easy_cleanup(p->curl);
    lv_curl.curl_slist_free_all(p->headers);
    free(p->url);
    free(p);
    lv_curl.curl_global_cleanup();
}
