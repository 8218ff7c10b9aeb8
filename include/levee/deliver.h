/* levee/deliver.h (stage: deliver): subscriptions, and delivering every stored event onward to each
 * subscriber's endpoint (docs/subscriptions.md): filtered, in the form it wants, signed, retried with
 * backoff for days, replayable. The state lives in the store (levee/engine.h), so that nothing
 * acknowledged is lost across a crash; the rules are here.
 *
 * Managing (the CLI and the JSON API share these; each writes its answer as JSON):
 *     lv_sub_add(store, options, w, &err)      options: the JSON object docs/subscriptions.md lists
 *     lv_sub_show(store, id, w, &err) ...
 * Delivering (levee serve runs it on a thread; levee deliver on its own):
 *     lv_deliverer *d;
 *     lv_deliverer_new(&d, &opt, &err);
 *     lv_deliverer_run(d, &err);               until lv_deliverer_stop(d), from another thread
 */
#ifndef LEVEE_DELIVER_H
#define LEVEE_DELIVER_H

#include "levee/hist.h"
#include "levee/json.h"
#include "levee/store.h"

/* ---- managing subscriptions ---- */

/* Adds a subscription from its options (docs/subscriptions.md: url, name, events, courses,
 * source_format, form, secret ("new" to generate one), sign_key and kid, headers, parallel,
 * timeout_ms, retry_min_ms, retry_max_ms, max_age_ms, disable_after_ms, since, from_start) and writes
 * it as the API shows it, with "secret" when one was generated. LV_EINVAL names the bad option. */
lv_status lv_sub_add(lv_store *s, const lv_json *options, lv_jw *w, lv_error *err);
/* {"subscriptions": [SUB, ...]} */
lv_status lv_sub_list(lv_store *s, lv_jw *w, lv_error *err);
/* SUB with its recent attempts; LV_ENOTFOUND when there is none */
lv_status lv_sub_show(lv_store *s, int64_t id, lv_jw *w, lv_error *err);
/* active or paused (resume also starts a disabled one again); writes SUB */
lv_status lv_sub_pause(lv_store *s, int64_t id, bool paused, lv_jw *w, lv_error *err);
lv_status lv_sub_remove(lv_store *s, int64_t id, lv_error *err);
/* queues the stored events whose event time is in [since, until) again: {"queued": N} */
lv_status lv_sub_replay(lv_store *s, int64_t id, int64_t since_ms, int64_t until_ms, lv_jw *w, lv_error *err);
/* queues the delivery dead letters again: {"queued": N} */
lv_status lv_sub_redeliver(lv_store *s, int64_t id, lv_jw *w, lv_error *err);
/* {"dead_letters": [...]} */
lv_status lv_sub_dead_letters(lv_store *s, int64_t id, lv_jw *w, lv_error *err);
/* adds a secret (NULL or "new": generated) and keeps the others valid for keep_old_ms; writes SUB with
 * "secret" when one was generated */
lv_status lv_sub_rotate(lv_store *s, int64_t id, const char *secret, int64_t keep_old_ms, lv_jw *w, lv_error *err);

/* ---- delivering ---- */

typedef struct lv_deliverer lv_deliverer;

typedef struct lv_deliver_options {
    const char *db;           /* the store's location: the deliverer opens its own connection */
    const char *owner;        /* who holds the leases (default: host:pid:random) */
    int64_t poll_ms;          /* how often it looks for new events without being woken (default 250) */
    /* another writer of the store in this process does its housekeeping (levee serve's applier
     * checkpoints the WAL): the deliverer's commits never do it, so they never stall on it */
    bool no_housekeeping;
    /* called (on the deliverer's thread) with each line it would log: level "info", "warn", "error" */
    void (*log)(void *ctx, const char *level, const char *message, const char *subscription);
    void *log_ctx;
    /* called (on the deliverer's thread) when the number of subscriptions it delivers changes, so that
     * the process can make events reach the store sooner while someone waits for them */
    void (*active)(void *ctx, unsigned subscriptions);
} lv_deliver_options;

lv_status lv_deliverer_new(lv_deliverer **out, const lv_deliver_options *opt, lv_error *err);
/* Delivers until lv_deliverer_stop; then waits up to grace_ms for the attempts in flight, records what
 * they answered, leaves the others to be retried, and gives the leases back. */
lv_status lv_deliverer_run(lv_deliverer *d, int64_t grace_ms, lv_error *err);
/* Thread-safe: new events are stored (look now rather than at the next poll). */
void lv_deliverer_wake(lv_deliverer *d);
/* Thread-safe and async-signal-safe. */
void lv_deliverer_stop(lv_deliverer *d);
void lv_deliverer_free(lv_deliverer *d);
/* Prometheus text of the delivery metrics (thread-safe). */
void lv_deliverer_metrics(lv_deliverer *d, lv_buf *out);
/* Where the time of a delivery goes, for /metrics: from an event's acknowledgement (its arrival time in
 * the store) to the start of its first request (QUEUED) and to its 2xx (DELIVERED); each successful
 * request's own time (REQUEST); and the delivery thread's reads of the store (READ, the reader thread
 * not having read ahead), writes of outcomes (FLUSH) and the reading of settings, leases and lags every
 * second (RELOAD), during which no request starts. NULL when d is. */
typedef enum lv_dstage { LV_DSTAGE_QUEUED, LV_DSTAGE_REQUEST, LV_DSTAGE_DELIVERED, LV_DSTAGE_READ, LV_DSTAGE_FLUSH,
                         LV_DSTAGE_RELOAD, LV_DSTAGES } lv_dstage;
lv_hist *lv_deliverer_stage(lv_deliverer *d, lv_dstage stage);

#endif
