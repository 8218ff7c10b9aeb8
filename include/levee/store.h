/* levee/store.h (stage: keep): where levee keeps events, behind one interface. A store is opened
 * by levee/engines.h (the engine is chosen by its location) and written in batches: documents are
 * added to a batch (decoded there), the batch is prepared (dedupe keys, compression, search text)
 * off the writer's thread, and the writer stores it inside a transaction, turning its events into
 * state by the rules of keep/projection.c. The questions people ask of a store are answered by
 * levee/query.h. An engine implements levee/engine.h. */
#ifndef LEVEE_STORE_H
#define LEVEE_STORE_H

#include "levee/codec.h"
#include "levee/event.h"
#include "levee/reader.h"

typedef struct lv_store lv_store;

typedef struct lv_store_options {
    bool read_only;
    bool create;     /* create the store if it does not exist */
    bool one_shot;   /* read a few answers and close (a command, not a server): see lv_store_open */
} lv_store_options;

void lv_store_close(lv_store *s);
const char *lv_store_location(const lv_store *s);
/* The engine's name: "sqlite" or "postgresql". */
const char *lv_store_engine(const lv_store *s);

/* ---- batches ---- */

/* What became of an event (or a document that yielded none) when its batch was written. */
typedef enum lv_outcome {
    LV_OUT_PENDING = 0,
    LV_OUT_STORED,
    LV_OUT_DUPLICATE,
    LV_OUT_DEAD_LETTER,  /* rejected, kept with its errors */
    LV_OUT_FORGOTTEN,    /* about a person levee forget erased: not stored (levee/erase.h) */
} lv_outcome;

typedef struct lv_batch_doc lv_batch_doc;
typedef struct lv_batch lv_batch;

lv_batch *lv_batch_new(void);
void lv_batch_free(lv_batch *b);
/* Empties the batch for reuse (its memory is kept). */
void lv_batch_reset(lv_batch *b);
size_t lv_batch_docs(const lv_batch *b);
size_t lv_batch_events(const lv_batch *b);

/* Copies a document into the batch and decodes it. source and line say where it came from (kept
 * with dead letters). Returns the decoded document (valid until the batch is reset). */
const lv_doc *lv_batch_add(lv_batch *b, const char *text, size_t len, const char *source, long line,
                           const lv_decode_options *opt);
/* Reads the next document from r into the batch (LV_ENOTFOUND at the end of input): the same
 * framing and retry as lv_stream_next, decoding once. */
lv_status lv_batch_add_next(lv_batch *b, lv_reader *r, const lv_decode_options *opt, lv_error *err);
/* Records a document that was too large to keep (its size only). */
const lv_doc *lv_batch_add_oversized(lv_batch *b, size_t len, size_t limit, const char *source,
                                     long line);
/* When the last document added was received (acknowledged), in ms since the epoch: its events'
 * arrival time in the store. Without it, the time they are written is. */
void lv_batch_set_received(lv_batch *b, int64_t received_ms);
/* The i-th document's decoded events and each event's outcome after writing. */
const lv_doc *lv_batch_doc_at(const lv_batch *b, size_t i);
lv_outcome lv_batch_outcome(const lv_batch *b, size_t doc, size_t event);

/* Computes dedupe keys, compresses raw documents (with dict, which may be NULL) and extracts search
 * text. Needs no store: run it on a worker thread. */
lv_status lv_batch_prepare(lv_batch *b, lv_zctx *z, const lv_dict *dict, lv_error *err);

/* ---- writing ---- */

typedef struct lv_counts {
    uint64_t stored;        /* events stored */
    uint64_t duplicates;    /* events already in the store */
    uint64_t rejected;      /* events (or documents) kept as dead letters */
    uint64_t outside_model; /* stored events whose name is outside levee's model */
    uint64_t forgotten;     /* events not stored: they name a person levee forget erased */
    uint64_t documents;
    uint64_t bytes;         /* raw bytes received */
} lv_counts;

lv_status lv_store_begin(lv_store *s, lv_error *err);
/* Writes a prepared batch inside the open transaction and adds what happened to counts. */
lv_status lv_store_write(lv_store *s, lv_batch *b, lv_counts *counts, lv_error *err);
/* Commits: when this returns LV_OK, everything written since begin survives the process crashing,
 * and (outside bulk mode) the machine losing power too. */
lv_status lv_store_commit(lv_store *s, lv_error *err);
/* Bulk mode, for loading many events: commits are not synced to disk one by one and the engine's
 * housekeeping (SQLite's WAL checkpoints) is deferred. A crash of the process still loses nothing
 * committed and leaves the store consistent; call lv_store_sync at the end of the load. */
void lv_store_set_bulk(lv_store *s, bool bulk);
/* For state that can be made again if a power cut loses its last commits (delivery's progress: what it
 * loses is sent again): commits are not synced one by one. With housekeeping, the engine's housekeeping
 * (SQLite's WAL checkpoints) runs as usual in this connection's commits; without, never here: for a
 * connection beside another writer that does it (levee serve's applier), so that its commits never
 * stall on it. */
void lv_store_set_relaxed(lv_store *s, bool housekeeping);
/* Whether lv_store_begin waits (up to 10 s) while another connection writes, or answers LV_EBUSY at
 * once (for a caller with other work to do meanwhile: delivery). Waiting is the default. */
void lv_store_set_lock_wait(lv_store *s, bool wait);
/* Makes everything committed so far survive a power cut (after commits made in bulk mode). */
lv_status lv_store_sync(lv_store *s, lv_error *err);
/* After a load that stored at least LV_ANALYZE_EVENTS events (lv_ingest and lv_store_copy call it), outside
 * a transaction: the engine's planner learns the tables as they now are (engine.h's analyze). */
#define LV_ANALYZE_EVENTS 10000
lv_status lv_store_analyze(lv_store *s, lv_error *err);
/* Whether the open transaction should end soon (engine.h's txn_full): a bulk writer (lv_ingest,
 * lv_store_copy) commits at its next chance, between batches, rather than at its count of events. */
bool lv_store_txn_full(lv_store *s);
/* Housekeeping now, from a connection of its own, holding up no other (a passive WAL checkpoint): for
 * a process whose writers' connections never do it (lv_store_set_relaxed without housekeeping). */
lv_status lv_store_housekeeping(lv_store *s, lv_error *err);
/* From a connection of its own: makes what the store's other connections committed before the call
 * survive a power cut, without holding up their reads or writes (the server's applier releases journal
 * segments after it instead of stopping to sync its own connection). */
lv_status lv_store_sync_others(lv_store *s, lv_error *err);
void lv_store_rollback(lv_store *s);

/* Named positions kept in the store (e.g. how far the server's journal has been applied): set inside
 * a transaction, so they commit with the events they describe. A mark never set reads as 0; a mark
 * that cannot be read is an error, never 0. */
lv_status lv_store_set_mark(lv_store *s, const char *name, uint64_t value, lv_error *err);
lv_status lv_store_get_mark(lv_store *s, const char *name, uint64_t *value, lv_error *err);

/* The dictionary new documents are compressed with (NULL until one is trained). */
const lv_dict *lv_store_dict(lv_store *s);
/* Trains a dictionary from the stored documents once there are enough and none exists yet;
 * afterwards lv_store_dict returns it. Call outside a transaction. */
lv_status lv_store_maybe_train(lv_store *s, lv_error *err);
/* With aside, lv_store_maybe_train trains on a thread of its own and a later call stores the
 * dictionary (the server's applier: training held up storing, and so delivery, 150-250 ms). Engines
 * that cannot train aside train in the call, as without it. */
void lv_store_set_train_aside(lv_store *s, bool aside);

/* ---- reading ---- */

typedef struct lv_export_filter {
    const char *event;  /* only documents holding this event name (NULL: all) */
    bool has_since, has_until;
    int64_t since_ms, until_ms; /* event time window, inclusive since, exclusive until */
    uint64_t course;    /* only events of this course (global id; 0: all) */
    bool dead_letters;  /* export rejected input instead */
} lv_export_filter;

/* Calls emit with each stored document's exact bytes, in arrival order, once per document. */
lv_status lv_store_export(lv_store *s, const lv_export_filter *f,
                          lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                          void *ctx, lv_error *err);

/* Resolves an id given on a command line or URL: a local id becomes global on the store's shard
 * (error when the store knows several shards and the id is ambiguous). */
lv_status lv_store_resolve_id(lv_store *s, uint64_t id, uint64_t *global, lv_error *err);

/* Makes every read that is still running deadline_us from now (lv_monotonic_us) give up with
 * LV_ETIMEOUT, so that one expensive question cannot hold a reader for long; 0 removes it. */
void lv_store_set_deadline(lv_store *s, int64_t deadline_us);
/* Makes the read running on s (on another thread) give up now with LV_ETIMEOUT; safe to call from
 * any thread while s is in use. */
void lv_store_interrupt(lv_store *s);

/* ---- ingesting streams ---- */

typedef struct lv_ingest_options {
    lv_decode_options decode;
    size_t batch_docs;     /* documents per batch (default 2048) */
    size_t commit_events;  /* commit after about this many events (default 50000) */
    /* called after each batch is written, from the calling thread */
    void (*progress)(void *ctx, const lv_counts *so_far, uint64_t bytes_read);
    void *progress_ctx;
} lv_ingest_options;

/* Stores every document of the readers (in order): decoding and preparing on a worker thread,
 * writing on the calling thread, committing every commit_events events and at the end. On failure
 * what was committed stays committed; running the same ingest again completes it (duplicates are
 * recognised). */
lv_status lv_ingest(lv_store *s, lv_reader *const *readers, size_t n_readers,
                    const lv_ingest_options *opt, lv_counts *counts, lv_error *err);

#endif
