/* levee/committer.h (stage: keep): group commit straight into a store that is itself durable and shared (PostgreSQL),
 * for `levee serve` with no journal of its own. Requests append the documents they received; one
 * committer thread takes everything that arrived while its previous commit ran and stores it in one
 * transaction (prepared, projected, committed), then says which appends that commit settled and whether
 * they are stored. A round of more than 1,024 documents (large NDJSON bodies) is stored in parts, one
 * transaction each, settled as each commits; fewer go in one part after a part filled its transaction
 * (lv_store_txn_full: a quarter of PostgreSQL's lock table) or lost to another writer, so a round never
 * needs more of the server's lock table than is there. A request is acknowledged only when its round committed: nothing acknowledged lives
 * only in this process, so the process can be lost at any moment.
 *
 * Faults. A round that fails because another writer holds what it needs (a deadlock between nodes, a
 * serialization failure: LV_EBUSY) is rolled back and run again at once, a few times. A round that fails
 * otherwise (the connection lost, PostgreSQL restarting or failing over) settles its appends as not
 * stored (their requests answer 503; Canvas sends them again, and an event stored after all is then a
 * duplicate by its key); the committer is then broken: appends are refused (LV_EBUSY) while it probes
 * the store with backoff (100 ms doubling to 5 s): the mark LV_COMMITTER_PROBE_MARK is set to the time
 * and committed, then the round that broke it is written again and rolled back (so a full disk is not
 * taken for recovered by a smaller write); once both work, appends are taken again. */
#ifndef LEVEE_COMMITTER_H
#define LEVEE_COMMITTER_H

#include "levee/applier.h"

typedef struct lv_committer lv_committer;

#define LV_COMMITTER_PROBE_MARK "committer_probe"

/* One round: the appends with tickets in (from, to], whether they are stored, and why not. */
typedef struct lv_commit_round {
    uint64_t from, to;
    bool stored;
    const char *reason;   /* when not stored */
    uint64_t records;
    double seconds;       /* preparing, storing and committing */
} lv_commit_round;
typedef void (*lv_round_fn)(void *ctx, const lv_commit_round *round);

/* Starts the thread; the store is the committer's alone from now on. applied (may be NULL) is called after
 * each round that stored something, with its batch; settled after every round, stored or not. */
lv_status lv_committer_start(lv_store *store, lv_applied_fn applied, lv_round_fn settled, void *ctx,
                             lv_committer **out, lv_error *err);
/* Commits what was appended (one attempt), settles everything and stops. */
void lv_committer_stop(lv_committer *c);
/* Appends one document (a record as lv_journal_doc_encode makes them; kind as the journal's) and sets
 * *ticket. LV_EBUSY while broken or while LV_JOURNAL_PENDING_MAX bytes wait already. */
lv_status lv_committer_append(lv_committer *c, unsigned kind, const void *payload, size_t len, uint64_t *ticket,
                              lv_error *err);
/* Tickets up to this one are settled. */
uint64_t lv_committer_settled(lv_committer *c);
/* Waits until ticket is settled; whether it was stored (err says why not). */
bool lv_committer_wait(lv_committer *c, uint64_t ticket, lv_error *err);
/* Whether a settled ticket was stored. */
bool lv_committer_stored(lv_committer *c, uint64_t ticket, lv_error *err);
/* Whether every ticket of [first, last] (a request's documents, which may span parts) is settled and
 * stored: a request is acknowledged only then. */
bool lv_committer_all_stored(lv_committer *c, uint64_t first, uint64_t last, lv_error *err);
/* Whether storing fails right now (appends are refused), and why. */
bool lv_committer_broken(lv_committer *c, lv_error *err);

typedef struct lv_committer_health {
    bool broken;
    char reason[LV_ERROR_MAX]; /* why it is broken, or why it last failed */
    uint64_t failures, recoveries, retried_conflicts, rounds;
} lv_committer_health;
void lv_committer_health_get(lv_committer *c, lv_committer_health *out);

#endif
