/* levee/copy.h (stage: keep): moving a whole store to another one, of the same engine or another
 * (levee copy; docs/operations.md, "Copying a store"). The rules live here, once (keep/copy.c): what a
 * whole store is, in which order it is copied, how event rows are mapped between the two stores' own
 * numbering, and how an interrupted copy is recognised and continued. The derived state is not copied
 * row by row: each event is stored again and goes through the projection (keep/projection.c), as levee
 * rebuild replays it. */
#ifndef LEVEE_COPY_H
#define LEVEE_COPY_H

#include "levee/engine.h"

/* The marks a copy keeps in the store it writes: LV_COPY_PARTIAL while it is under way (set in its
 * first transaction), LV_COPY_COMPLETE once everything is in (set in its last). */
#define LV_COPY_MARK "copy_state"
#define LV_COPY_PARTIAL 1
#define LV_COPY_COMPLETE 2

typedef struct lv_copy_options {
    unsigned commit_events;  /* events (and dead letters) per transaction of the destination (0: 10,000) */
    /* rows copied (events, then dead letters) of all the source holds, after every 1,024 and at the end */
    lv_progress_fn progress;
    void *ctx;
} lv_copy_options;

typedef struct lv_copy_result {
    bool resumed;            /* the destination held a copy cut short: it was continued */
    bool already;            /* the destination was a complete copy of the source: nothing was done */
    int64_t events_before;   /* event rows the destination held already (resumed) */
    int64_t events, documents, dead_letters, subscriptions; /* the source's, now in the destination */
    int64_t forgotten, receipts;
    int64_t removed_entries; /* copied by the run that began the copy (0 in one that continued it) */
    int64_t transactions;    /* of the destination, by this run */
} lv_copy_result;

/* Copies src, as one read snapshot sees it (a server may go on writing to it), into dst, which must
 * be empty, or a copy of src that was cut short (continued: what it holds is checked to be the
 * beginning of src's events, in the same order), or a complete copy (nothing to do when src still has
 * as many rows). What is copied: every event row in arrival order with its document's bytes exactly,
 * its arrival time and the document rows share; the duplicates received; the dead letters with their
 * bytes, diagnostics, source and time; the people forgotten (so that their events are still refused),
 * the receipts of erasures and the entries erased; the subscriptions with their ids, settings, secrets,
 * state, counters and cursors, their events waiting for another attempt, their delivery dead letters,
 * their recent attempts and their replays, every event row they name mapped to the row its event has
 * in dst. The derived state is made in dst by the projection as each event is stored. Any refusal is
 * LV_EINVAL with a sentence saying why and what to do; dst is then unchanged. */
lv_status lv_store_copy(lv_store *src, lv_store *dst, const lv_copy_options *opt, lv_copy_result *out,
                        lv_error *err);

#endif
