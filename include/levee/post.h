/* levee/post.h (stage: emit): delivering events over HTTP(S) as Canvas's HTTPS subscriptions do: one POST per
 * event on one reused connection; an answer other than 2xx (or no answer within the timeout) is
 * retried a few times with exponential backoff and jitter, then given up and reported. */
#ifndef LEVEE_POST_H
#define LEVEE_POST_H

#include "levee/common.h"

typedef struct lv_post_options {
    const char *content_type; /* default "application/json" */
    long timeout_ms;          /* per attempt; default 15000, as Canvas waits 15 s */
    unsigned retries;         /* after the first attempt; default 3, as Canvas */
    unsigned backoff_ms;      /* first retry waits about this long, doubling each time; default 250 */
    uint64_t jitter_seed;     /* seeds the jitter of the waits */
} lv_post_options;

typedef struct lv_poster lv_poster;

typedef struct lv_post_result {
    unsigned attempts; /* 1 + retries used */
    long status;       /* the last HTTP status, 0 when there was no answer */
} lv_post_result;

void lv_post_options_init(lv_post_options *opt);

/* Prepares delivery to an http:// or https:// URL; fails with LV_EINVAL naming what is wrong. */
lv_status lv_poster_new(lv_poster **out, const char *url, const lv_post_options *opt, lv_error *err);

/* POSTs one body. LV_OK on a 2xx answer; LV_EIO after the last retry failed, with the last reason. */
lv_status lv_poster_send(lv_poster *p, const char *body, size_t len, lv_post_result *result, lv_error *err);

void lv_poster_free(lv_poster *p);

#endif
