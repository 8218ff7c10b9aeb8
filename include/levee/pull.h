/* levee/pull.h (stage: serve): receiving from an Amazon SQS queue as Canvas fills it (`levee pull --sqs`): several
 * receivers long-poll the queue (levee/sqs.h), each message's body (a canvas event, a one-event Caliper
 * envelope, or a signed JWT of one) is stored with the store's batches (levee/store.h), and a message is
 * deleted from the queue only once what it holds is committed, or kept as a dead letter. A message whose
 * batch could not be stored for a reason of levee's own (the store locked, the disk full) is left in the
 * queue, and SQS delivers it again after its visibility timeout (its redrive policy applies after
 * maxReceiveCount). A message received twice is stored once (the store's dedupe keys). */
#ifndef LEVEE_PULL_H
#define LEVEE_PULL_H

#include "levee/event.h"
#include "levee/sqs.h"

typedef struct lv_pull_counts {
    uint64_t received;      /* messages received (a redelivered message counts again) */
    uint64_t deleted;       /* messages deleted from the queue once committed */
    uint64_t failed;        /* messages left in the queue for a reason of levee's own */
    uint64_t stored;        /* events stored */
    uint64_t duplicates;    /* events already in the store */
    uint64_t rejected;      /* messages (or their events) kept as dead letters */
    uint64_t outside_model; /* stored events outside levee's model */
    uint64_t retries;       /* requests to SQS tried again after a failure */
    bool has_backlog;
    uint64_t backlog;       /* the queue's ApproximateNumberOfMessages, last polled */
    uint64_t in_flight;     /* its ApproximateNumberOfMessagesNotVisible */
} lv_pull_counts;

typedef struct lv_pull_config {
    const char *db;             /* the store (created when absent) */
    lv_sqs_config sqs;
    bool drain;                 /* stop once a receive finds the queue empty (short polls of 1 s) */
    unsigned receivers;         /* receives in flight (default 3) */
    unsigned wait_seconds;      /* how long a receive waits for messages, 0 to 20 (SQS's WaitTimeSeconds;
                                 * default 20, the longest poll); with drain at most 1 */
    const char *jwks;           /* verifies signed messages (NULL: a signed message stays in the queue) */
    const char *issuer;         /* the iss signed messages must carry (NULL: not checked) */
    lv_decode_options decode;
    /* A sentence a person should read (retries, messages left in the queue), from any thread, one at a
     * time; NULL: not said. */
    void (*note)(void *ctx, const char *sentence);
    /* The counts so far, about five times a second, from the thread that called lv_pull_run. */
    void (*progress)(void *ctx, const lv_pull_counts *so_far);
    void *ctx;
    /* Set when another part of the process (levee serve) owns the signals: receiving stops once *stop is
     * true, and lv_pull_run takes no signal itself. NULL: it stops on SIGINT or SIGTERM. */
    const atomic_bool *stop;
} lv_pull_config;

void lv_pull_config_init(lv_pull_config *cfg);

/* Receives until SIGINT or SIGTERM, or *cfg->stop (or, with drain, until the queue is empty): what is being stored is
 * committed and deleted first. Returns LV_OK, or the error that stopped it (SQS refused the credentials,
 * there is no such queue, the store cannot be opened or is damaged); counts says what was done either
 * way. Requests that fail for want of a network or of SQS are tried again with backoff, and said. */
lv_status lv_pull_run(const lv_pull_config *cfg, lv_pull_counts *counts, lv_error *err);

#endif
