/* levee/check.h (stage: keep): running a store for years: a consistent backup of a live store, and
 * checking that nothing in a store or its journal is damaged (levee backup, restore, check;
 * docs/operations.md, "Backups"). The rules live here, once; each engine gives the operations they
 * need (levee/engine.h: snapshot, backup, integrity, size, stored_events), so another engine's
 * stores are backed up and checked the same way. */
#ifndef LEVEE_CHECK_H
#define LEVEE_CHECK_H

#include "levee/engine.h"

/* Copies the store, as it is at one moment, into the new file `to` (which must not exist) while
 * others go on writing; progress as pages copied. *at: the store's size at the moment copied, which
 * the copy must match (lv_store_size_diff). */
lv_status lv_store_backup(lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at,
                          lv_error *err);
/* The engine's own check of its files and indexes (SQLite's integrity_check): each problem to fn. */
lv_status lv_store_integrity(lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err);
lv_status lv_store_size_get(lv_store *s, lv_store_size *out, lv_error *err);
/* How b differs from a, as sentences to fn naming each table; returns how many differ. */
unsigned lv_store_size_diff(const lv_store_size *a, const lv_store_size *b, const char *a_name, const char *b_name,
                            lv_problem_fn fn, void *ctx);

/* What a journal directory holds (lv_journal_check). */
typedef struct lv_journal_span {
    bool exists;        /* the directory exists */
    bool locked;        /* a server holds it now (its last segment is being written) */
    uint64_t segments;
    uint64_t first;     /* the first segment's start offset */
    uint64_t end;       /* the offset after the last intact record */
    uint64_t records;   /* intact records */
} lv_journal_span;

/* Reads every segment of the journal in dir without changing anything, and reports to fn each
 * record that does not check (bad magic, length, kind or CRC), a torn end, and a gap between
 * segments. A journal a server holds (locked) is read up to where that server is writing. A missing
 * directory is no problem (span->exists false). LV_EIO when it cannot be read. */
lv_status lv_journal_check(const char *dir, lv_problem_fn fn, void *ctx, lv_journal_span *span, lv_error *err);

typedef struct lv_check_summary {
    lv_store_size size;
    uint64_t documents_checked; /* documents decompressed and decoded again */
    uint64_t problems;
    lv_journal_span journal;
    bool journal_checked;
} lv_check_summary;

/* Checks a store, all in one read snapshot (a server may go on writing): the engine's integrity
 * check; every document decompresses, decodes again, and its events' stored keys, times, names and
 * formats are what decoding gives; every dead letter reads back as the document it was kept as;
 * every event's topic, entry or conversation has its row; the
 * counts per event name and format and the totals (document bytes, the span of event times) agree
 * with the events; and, when journal_dir is given, the journal (lv_journal_check) and the store's
 * applied position within it. Each problem goes to fn as a sentence. LV_OK when the check could
 * run (problems or not); progress as events read of the store's events. */
lv_status lv_store_check(lv_store *s, const char *journal_dir, lv_progress_fn progress, void *pctx, lv_problem_fn fn,
                         void *ctx, lv_check_summary *out, lv_error *err);

/* Recomputes all derived state (levee/engine.h's lv_derived_table: topics, entries, conversations,
 * activity, participants, counts, drift, totals, the search index) from the raw archive: the
 * derived tables are emptied and every stored document is decoded again and its stored events
 * replayed through the projection (keep/projection.c), in arrival order, all in one transaction
 * (an interrupted rebuild leaves the store as it was). Only the duplicates received stay as they
 * were: they are not in the events. A document that cannot be read back stops it (LV_EDAMAGED).
 * progress: events replayed of all. *counts (when not NULL): what was replayed. */
lv_status lv_store_rebuild(lv_store *s, lv_progress_fn progress, void *ctx, lv_counts *counts, lv_error *err);
/* The same rebuild, left uncommitted: its transaction stays open (the figures written into it) so that
 * lv_store_compare_derived can read it, and the caller rolls it back (lv_store_rollback). For an engine
 * whose stores are not files to copy (PostgreSQL): levee check rebuilds on a second connection to the
 * same store, which the store's own snapshot does not see. */
lv_status lv_store_rebuild_uncommitted(lv_store *s, lv_progress_fn progress, void *ctx, lv_error *err);

/* Compares store's derived state (in one snapshot) with rebuilt's, a copy of it rebuilt by
 * lv_store_rebuild (quiet: nothing writes to it): each row that differs, is missing or is extra, as a
 * sentence to fn naming the table and the row (at most 20 a table, then how many more); *differ
 * is how many rows differ in all. */
lv_status lv_store_compare_derived(lv_store *store, lv_store *rebuilt, lv_problem_fn fn, void *ctx, unsigned *differ,
                                   lv_error *err);

#endif
