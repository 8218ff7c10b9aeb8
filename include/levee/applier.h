/* levee/applier.h (stage: keep): moving journaled documents into the store. The server appends what it receives
 * to the journal (levee/journal.h) and answers once that is durable; the applier reads the journal
 * in order and stores its documents in large transactions (bulk mode), recording in the same
 * transaction how far it got. Journal segments are deleted only once the store holding their
 * documents is synced, so every acknowledged document is always in one or the other.
 *
 * Faults: when applying fails for a reason that may pass (LV_EBUSY: another process holds the
 * store's write lock, or its disk is full; LV_EIO; anything but the two below), the transaction is
 * rolled back and the applier retries from the offset applied so far, waiting 100 ms, then twice as
 * long each time up to 10 s, until it succeeds; lv_applier_health_get says so meanwhile. Only
 * LV_EDAMAGED (the store is damaged) and LV_EINTERNAL (a library failed) stop it for good
 * (lv_applier_failed). Whatever it has not applied stays in the journal. */
#ifndef LEVEE_APPLIER_H
#define LEVEE_APPLIER_H

#include "levee/journal.h"
#include "levee/store.h"

/* The store mark holding the journal offset applied so far. */
#define LV_JOURNAL_MARK "journal_applied"

/* A journaled document: where it came from (for dead letters) and its bytes. */
void lv_journal_doc_encode(lv_buf *out, const char *source, uint32_t line, const void *doc, size_t len);
bool lv_journal_doc_decode(const char *payload, size_t len, const char **source, size_t *source_len,
                           uint32_t *line, const char **doc, size_t *doc_len);

typedef struct lv_applier lv_applier;

/* Called from the applier's thread after each commit with the batch (its outcomes say what became
 * of each event), its counts, and the journal offset now applied. */
typedef void (*lv_applied_fn)(void *ctx, const lv_batch *batch, const lv_counts *counts, uint64_t applied_offset);

/* Starts applying from the store's mark. The store is used only by the applier from now on. With
 * sync_store (a second connection to the same store, used only by the applier from now on, or NULL),
 * the store is made durable before journal segments go on a thread of its own, through that
 * connection (lv_store_housekeeping, lv_store_sync_others), while storing goes on: syncing on the
 * applier's connection stopped storing, and so delivery, for 100-150 ms at every 64 MB of journal.
 * The last sync, when stopping, is the applier's own. */
lv_status lv_applier_start(lv_store *store, lv_store *sync_store, lv_journal *journal, lv_applied_fn applied,
                           void *ctx, lv_applier **out, lv_error *err);
/* How long the applier waits for a batch's worth of journal before applying what there is (default
 * 200 ms): shorter when something waits for events to reach the store (delivery to subscribers), at
 * the price of more, smaller transactions. Thread-safe. */
void lv_applier_set_linger(lv_applier *a, int ms);
/* Applies everything durable, commits, syncs the store, releases the journal and stops. While
 * applying fails for a reason that may pass it keeps retrying for up to 10 s (plus one attempt's own
 * wait for the store's lock), then gives up and returns that error: the journal keeps what was not
 * applied for the next start. Returns the error too when the applier had failed for good. */
lv_status lv_applier_stop(lv_applier *a, lv_error *err);
/* The journal offset applied so far. */
uint64_t lv_applier_offset(lv_applier *a);
/* Set when applying failed for good (LV_EDAMAGED or LV_EINTERNAL: the applier has stopped; what was
 * acknowledged stays in the journal). */
bool lv_applier_failed(lv_applier *a, lv_error *err);

/* Where the applier's time goes, for /metrics: each record's time from its acknowledgement (the
 * journal's sync) to the commit that stored it, and how long each step of a turn took. */
typedef enum lv_apply_step {
    LV_APPLY_PREPARE, /* dedupe keys, compression, search text */
    LV_APPLY_WRITE,   /* the rows, inside the transaction */
    LV_APPLY_COMMIT,
    LV_APPLY_TRAIN,   /* training a compression dictionary (or seeing whether it is time to) */
    LV_APPLY_SYNC,    /* making the store durable before journal segments go */
    LV_APPLY_RELEASE, /* deleting applied journal segments */
    LV_APPLY_SYNC_ASIDE,    /* the same two on the sync thread (sync_store), storing going on */
    LV_APPLY_RELEASE_ASIDE,
    LV_APPLY_READ,    /* reading durable records from the journal and decoding them */
    LV_APPLY_BEGIN,   /* taking the store's write lock (another connection may hold it: delivery's outcomes) */
    LV_APPLY_STEPS
} lv_apply_step;
extern const char *const lv_apply_step_names[LV_APPLY_STEPS];
lv_hist *lv_applier_waits(lv_applier *a);
lv_hist *lv_applier_step(lv_applier *a, lv_apply_step step);

/* How the applier is doing, for /readyz and /metrics. */
typedef struct lv_applier_health {
    bool failed;               /* stopped for good (lv_applier_failed) */
    bool retrying;             /* the last attempt failed; it is waiting to try again */
    char reason[LV_ERROR_MAX]; /* why it failed or retries (the last reason, "" if none so far) */
    uint64_t retries;          /* failed attempts that were retried */
    uint64_t recoveries;       /* successes after retrying */
} lv_applier_health;
void lv_applier_health_get(lv_applier *a, lv_applier_health *out);

#endif
