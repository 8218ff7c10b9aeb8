/* levee/server.h (stage: serve): `levee serve`, the receiving service. It accepts what Canvas's HTTPS delivery
 * posts (canvas events, Caliper envelopes, signed JWTs, NDJSON batches) at POST /events, answers 2xx
 * once the events are durably journaled, applies them to the store in the background, and serves
 * the JSON API (/api/...), a live tail (SSE), metrics, health checks and the web page, and delivers the
 * subscriptions onward (levee/deliver.h). */
#ifndef LEVEE_SERVER_H
#define LEVEE_SERVER_H

#include "levee/common.h"
#include "levee/log.h"
#include "levee/redact.h"

typedef struct lv_server_config {
    const char *db;           /* the store (the journal lives beside it in DB.journal/) */
    const char *listen;       /* "ADDR:PORT" (default 127.0.0.1:8080; port 0 picks a free one) */
    const char *jwks;         /* JWKS file: verify signed events (NULL: signed events are refused) */
    bool require_signature;   /* refuse unsigned events */
    const char *issuer;       /* the iss signed events must carry */
    const char *ingest_token; /* required on POST /events (?token= or Authorization: Bearer) */
    const char *api_token;    /* required on /api/... and /metrics */
    lv_log_format log_format;
    bool access_log;          /* a log line per request */
    size_t max_batch_bytes;   /* largest NDJSON body accepted */
    const char *tls_cert;     /* HTTPS: PEM certificate chain, the server's first (NULL with tls_key: HTTP) */
    const char *tls_key;      /* HTTPS: the PEM private key of tls_cert's first certificate */
    const char *admin_token;  /* required on /api/subscriptions (NULL: they are not served) */
    bool deliver;             /* deliver the subscriptions (levee/deliver.h) on a thread of the server */
    const char *sqs_queue;    /* also receive from this Amazon SQS queue (levee/pull.h); NULL: not */
    const char *sqs_endpoint; /* where SQS requests go (NULL: as levee/sqs.h finds it) */
    unsigned sqs_wait_seconds; /* each receive's long poll, 0 to 20 (default 20) */
    int64_t retain_ms;        /* keep events this long by event time, pruning the rest in the background
                               * at the start and every retain_every_ms (0: keep everything) */
    int64_t retain_every_ms;  /* default: an hour */
    const lv_redaction *redact; /* redaction at intake of what POST /events and the queue bring (NULL: none) */
} lv_server_config;

void lv_server_config_init(lv_server_config *cfg);

/* Whether ADDR:PORT is on the loopback interface (as the refusal to listen elsewhere without
 * tokens needs to know); false when it cannot be parsed. */
bool lv_listen_is_loopback(const char *listen);

/* Runs until SIGTERM or SIGINT (answering the requests in flight, applying the journal and closing
 * the store) and returns LV_OK, or an error with err filled: when it cannot start (*started false:
 * a bad setting, the address in use, another levee serve on the same store) or when applying the
 * journal failed at the stop (*started true; the journal keeps the events for the next start).
 * SIGHUP reloads the JWKS and the TLS certificate and key. */
lv_status lv_server_run(const lv_server_config *cfg, bool *started, lv_error *err);

#endif
