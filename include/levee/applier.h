/* levee/applier.h: moving journaled documents into the store. The server appends what it receives
 * to the journal (levee/journal.h) and answers once that is durable; the applier reads the journal
 * in order and stores its documents in large transactions (bulk mode), recording in the same
 * transaction how far it got. Journal segments are deleted only once the store holding their
 * documents is synced, so every acknowledged document is always in one or the other. */
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

/* Starts applying from the store's mark. The store is used only by the applier from now on. */
lv_status lv_applier_start(lv_store *store, lv_journal *journal, lv_applied_fn applied, void *ctx,
                           lv_applier **out, lv_error *err);
/* Applies everything durable, commits, syncs the store, releases the journal and stops. */
lv_status lv_applier_stop(lv_applier *a, lv_error *err);
/* The journal offset applied so far. */
uint64_t lv_applier_offset(lv_applier *a);
/* Set when applying failed (the applier stops; what was acknowledged stays in the journal). */
bool lv_applier_failed(lv_applier *a, lv_error *err);

#endif
