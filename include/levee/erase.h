/* levee/erase.h (stage: keep): keeping only what policy allows and erasing a person: levee prune
 * (and levee serve --retain) removes the events older than a limit, levee forget removes every event
 * that names a person and refuses their events from then on (docs/operations.md, "Retention and
 * erasure"). The rules live here, once (keep/erase.c): which rows go, and that what the remaining
 * events say is replayed through the projection's own rules (keep/projection.c), so the derived
 * state is what levee rebuild would compute from the events that stay. Engines only delete rows
 * (levee/engine.h). */
#ifndef LEVEE_ERASE_H
#define LEVEE_ERASE_H

#include "levee/engine.h"

#include <stdatomic.h>

/* Overwrites, in documents about to train a compression dictionary (samples: n documents of
 * sizes[i] bytes, one after another), the values that say who someone is or what they wrote: the
 * people's ids (the catalog's LV_F_PERSON fields), logins, SIS ids, IP addresses and sessions. A
 * dictionary is kept as long as the documents compressed with it, so what it holds would outlive
 * levee forget. (User agents, URLs and the words of posts are left: overwriting them too cost a
 * third more bytes per document on a simulated term, docs/operations.md.) */
void lv_dict_samples_redact(char *samples, const size_t *sizes, unsigned n);

/* What an erasure did. */
typedef struct lv_erase_result {
    int64_t events;          /* event rows erased */
    int64_t documents;       /* raw documents erased (none of their events stayed) */
    int64_t dead_letters;
    int64_t topics, entries, conversations; /* replayed from what remained of them */
    int64_t vanished;        /* of those, how many had nothing left and went */
    int64_t transactions;
    bool rebuilt;            /* the store was rebuilt first (written by an older levee) */
} lv_erase_result;

typedef struct lv_erase_options {
    unsigned chunk;          /* events per transaction (0: 500): a writer beside waits at most one */
    const atomic_bool *stop; /* when it becomes true, stop after the transaction running (NULL: never) */
    /* called after each transaction with what was done so far */
    void (*progress)(void *ctx, const lv_erase_result *so_far);
    void *ctx;
    /* forget: dead letters holding any of these texts (a login, an SIS id) go too, besides those
     * naming the person's id; the texts of the person's own events are added */
    const char *const *texts;
    size_t n_texts;
} lv_erase_options;

/* Whether the store knows what each of its events is about, which erasing needs (a store written
 * by a levee before 0.1 with schema 5 does not until levee rebuild; lv_store_prune and
 * lv_store_forget rebuild it first when allowed). */
lv_status lv_store_erasable(lv_store *s, bool *ready, lv_error *err);

/* Erases the events whose event time is before before_ms, and the dead letters received before it,
 * in transactions of opt->chunk events; keeps a receipt when anything was erased. rebuild: rebuild
 * the store first if it needs it (else that is LV_EUNSUPPORTED with a sentence saying so). */
lv_status lv_store_prune(lv_store *s, int64_t before_ms, bool rebuild, const lv_erase_options *opt,
                         lv_erase_result *out, lv_error *err);

/* Erases a person (a global user id): every document holding an event that names them (metadata
 * user_id or real_user_id, an entry's user_id, a message's author_id), the dead letters that
 * mention them, and adds them to the people whose events are never stored again (that first, so
 * that nothing arrives between). Deleted bytes are overwritten with zeros, and the write-ahead log
 * is emptied into the file afterwards as far as readers allow. Keeps a receipt (counts and time). */
lv_status lv_store_forget(lv_store *s, uint64_t user, bool rebuild, const lv_erase_options *opt,
                          lv_erase_result *out, lv_error *err);

/* The receipts of erasures, oldest first. */
lv_status lv_store_receipts(lv_store *s, lv_receipt_fn fn, void *ctx, lv_error *err);

/* Gives free pages back to the file system (max_pages 0: all); out->incremental false when the
 * store's file cannot (created by an older levee: lv_store_compact converts it, once). */
lv_status lv_store_reclaim(lv_store *s, int64_t max_pages, lv_space *out, lv_error *err);
lv_status lv_store_compact(lv_store *s, lv_error *err);

#endif
