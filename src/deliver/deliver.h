/* deliver.h: what the files of src/deliver/ share: a subscription's settings (spec.c), the payload and
 * headers of one delivery (payload.c), used by the managing operations (admin.c) and the delivery loop
 * (deliverer.c). Private to src/deliver/. */
#ifndef LEVEE_DELIVER_INTERNAL_H
#define LEVEE_DELIVER_INTERNAL_H

#include "levee/deliver.h"
#include "levee/engine.h"
#include "levee/sign.h"

typedef enum dl_form { DL_FORM_CANVAS, DL_FORM_CALIPER, DL_FORM_RECORD } dl_form;

typedef struct dl_secret {
    char *secret;       /* whsec_<base64> */
    int64_t expires_ms; /* 0: does not expire */
} dl_secret;

/* A subscription's settings, as stored (the spec column) and as given when it is added. */
typedef struct dl_spec {
    char *name, *url;
    char **events;      /* globs; none: every event */
    size_t n_events;
    uint64_t *courses;  /* global ids; none: every course */
    size_t n_courses;
    int source_format;  /* -1: any, else lv_format */
    dl_form form;
    dl_secret *secrets;
    size_t n_secrets;
    char *sign_key, *kid; /* the JWT form: the PEM file's path and the key's id */
    char **headers;     /* "Name: value" */
    size_t n_headers;
    unsigned parallel;
    int64_t timeout_ms, retry_min_ms, retry_max_ms, max_age_ms, disable_after_ms;
} dl_spec;

#define DL_MAX_PARALLEL 64
#define DL_ATTEMPTS_KEPT 200   /* recent attempts kept per subscription */
#define DL_ATTEMPTS_SHOWN 20   /* the newest attempts `show` lists: of the successes, only these are kept */
#define DL_ANSWER_KEPT 1024    /* bytes of a failed answer kept with a dead letter */

void dl_spec_free(dl_spec *sp);
/* From the options of an add (docs/subscriptions.md); the secret "new" is replaced by a generated
 * one, returned in *generated (caller frees). Ids of courses are made global on the store's shard. */
lv_status dl_spec_from_options(lv_store *s, const lv_json *options, dl_spec *sp, char **generated, lv_error *err);
/* The stored form (with secrets) or the shown one (without: "signing" says which kind). */
void dl_spec_write(const dl_spec *sp, lv_jw *w, bool stored);
lv_status dl_spec_parse(const char *json, size_t len, dl_spec *sp, lv_error *err);
bool dl_spec_matches(const dl_spec *sp, const lv_event_ref *ev);
/* A new whsec_ secret (24 random bytes); caller frees. */
lv_status dl_secret_new(char **out, lv_error *err);

/* The request for one delivery. */
typedef struct dl_request {
    lv_buf body;
    lv_buf headers;     /* "Name: value\n" lines */
    bool skip;          /* the event has no such form (counted, not sent) */
    char skip_why[160];
} dl_request;

void dl_request_init(dl_request *r);
void dl_request_free(dl_request *r);
/* Builds the body and the headers of delivering ev to subscription id now_s (Unix seconds) with key
 * (the JWT form's key, loaded by the caller; NULL otherwise). */
lv_status dl_request_build(const dl_spec *sp, int64_t id, const lv_event_ref *ev, const lv_sign_key *key,
                           int64_t now_ms, dl_request *r, lv_error *err);
/* The webhook-id of an event for a subscription: msg_<id>_<the event's key in hex>. */
void dl_webhook_id(int64_t id, const unsigned char *hash, char out[64]);

#endif
