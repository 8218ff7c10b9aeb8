/* levee/sqs.h (stage: receive): an Amazon SQS client, as Canvas's queue delivery needs it: receiving (long polling,
 * up to 10 messages), deleting and extending the visibility of what was received, reading the queue's
 * backlog, and sending (for `levee simulate --sqs`). It speaks the AWS JSON protocol (POST to the queue's
 * endpoint, X-Amz-Target: AmazonSQS.<Action>, application/x-amz-json-1.0), and libcurl signs each request
 * with SigV4 (CURLOPT_AWS_SIGV4). Region and endpoint are found as the AWS tools find them: the environment
 * (AWS_REGION or AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_SQS or AWS_ENDPOINT_URL), then the profile
 * (AWS_PROFILE, else "default") in ~/.aws/config (AWS_CONFIG_FILE), then the region in the queue URL's
 * host; credentials by the AWS SDKs' chain (levee/awscred.h). Secrets never appear in a message.
 *
 * A client holds one connection: use one per thread. Errors: LV_EINVAL when SQS refused the request for
 * a reason that trying again will not mend (credentials, permissions, no such queue: the message says
 * which and what to check); LV_EIO when SQS could not be reached or failed (an HTTP 5xx), and LV_EBUSY
 * when it throttled: both are worth retrying. */
#ifndef LEVEE_SQS_H
#define LEVEE_SQS_H

#include "levee/awscred.h"
#include "levee/common.h"

#include <stdatomic.h>

/* At most this many messages per receive, delete, visibility change or send (SQS's limit). */
#define LV_SQS_BATCH 10

typedef struct lv_sqs_config {
    const char *queue_url; /* as AWS gives it: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME */
    const char *endpoint;  /* where requests go (NULL: $AWS_ENDPOINT_URL_SQS, $AWS_ENDPOINT_URL, the
                            * profile's endpoint_url, else the queue URL's scheme and host) */
    const char *region;    /* NULL: as described above */
    const char *profile;   /* NULL: $AWS_PROFILE, else "default" */
    const char *home;      /* where ~/.aws is (NULL: $HOME) */
    lv_awscred *credentials; /* shared with another client (lv_sqs_credentials of it); NULL: found as
                              * levee/awscred.h says, STS asked in the queue's region */
} lv_sqs_config;

typedef struct lv_sqs lv_sqs;

/* Finds the credentials, region and endpoint and prepares a connection (none is made yet). Fails with
 * LV_EINVAL saying what is missing or wrong (a queue URL that is not one, no credentials, no region). */
lv_status lv_sqs_open(lv_sqs **out, const lv_sqs_config *cfg, lv_error *err);
void lv_sqs_close(lv_sqs *c);
const char *lv_sqs_queue_url(const lv_sqs *c);
const char *lv_sqs_endpoint(const lv_sqs *c);
const char *lv_sqs_region(const lv_sqs *c);
/* Where the credentials came from, for messages: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" or
 * "the profile 'NAME' in PATH" (lv_awscred_source). */
const char *lv_sqs_credentials_source(const lv_sqs *c);
/* The client's credential provider, to share with the other clients of the same queue (lv_sqs_config's
 * credentials): they are then fetched and renewed once for all of them. */
lv_awscred *lv_sqs_credentials(const lv_sqs *c);
/* A transfer in progress gives up (LV_ETIMEOUT) soon after *stop becomes true (NULL: never). */
void lv_sqs_set_stop(lv_sqs *c, const atomic_bool *stop);

/* One received message. Strings live until the next receive into the same lv_sqs_received. */
typedef struct lv_sqs_message {
    const char *id;         /* MessageId */
    const char *receipt;    /* ReceiptHandle: what delete and visibility changes name */
    const char *body;       /* the body, exactly as sent (may hold NUL bytes: use body_len) */
    size_t body_len;
    unsigned receive_count; /* ApproximateReceiveCount (1 the first time; 0 when SQS did not say) */
    const char *event_name; /* the message attribute event_name, or NULL */
} lv_sqs_message;

typedef struct lv_sqs_received {
    lv_sqs_message msgs[LV_SQS_BATCH];
    size_t n;
    lv_arena arena;
} lv_sqs_received;

void lv_sqs_received_init(lv_sqs_received *r);
void lv_sqs_received_free(lv_sqs_received *r);

/* ReceiveMessage: waits up to wait_seconds (0 to 20) for up to max messages (1 to 10), hidden from
 * other receivers for visibility_seconds (0: the queue's own timeout). out->n is 0 when none came. */
lv_status lv_sqs_receive(lv_sqs *c, unsigned max, unsigned wait_seconds, unsigned visibility_seconds,
                         lv_sqs_received *out, lv_error *err);

/* DeleteMessageBatch of the n (at most 10) messages. LV_OK only when every one was deleted; *deleted
 * counts those that were (a receipt that expired cannot be deleted: the message comes back). */
lv_status lv_sqs_delete(lv_sqs *c, const lv_sqs_message *msgs, size_t n, size_t *deleted, lv_error *err);

/* ChangeMessageVisibilityBatch: the n messages stay hidden for seconds from now (0: visible again). */
lv_status lv_sqs_change_visibility(lv_sqs *c, const lv_sqs_message *msgs, size_t n, unsigned seconds,
                                   lv_error *err);

/* GetQueueAttributes: the queue's visibility timeout and its approximate backlog (messages waiting,
 * and messages received but not yet deleted). */
typedef struct lv_sqs_attributes {
    unsigned visibility_timeout;
    uint64_t visible;
    uint64_t in_flight;
} lv_sqs_attributes;
lv_status lv_sqs_attributes_get(lv_sqs *c, lv_sqs_attributes *out, lv_error *err);

/* One message to send, with the two string attributes Canvas sets (NULL: left out). */
typedef struct lv_sqs_outgoing {
    const char *body;
    size_t len;
    const char *event_name;
    const char *event_time;
} lv_sqs_outgoing;

/* SendMessageBatch of n (at most 10) messages; LV_OK only when SQS took every one. */
lv_status lv_sqs_send(lv_sqs *c, const lv_sqs_outgoing *msgs, size_t n, lv_error *err);

#endif
