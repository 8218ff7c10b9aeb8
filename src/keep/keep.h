/* keep.h: what the files of the engine-neutral store share: a batch's layout (batch.c fills it,
 * projection.c writes it), the tally of figures, and the projection's per-store state. Private to
 * src/keep/. */
#ifndef LEVEE_KEEP_H
#define LEVEE_KEEP_H

#include "levee/engine.h"

struct lv_batch_doc {
    lv_doc doc;
    const char *text;  /* copy of the document's bytes (NULL when oversized) */
    size_t len;
    const char *source;
    long line;
    int64_t received_ms; /* when it was acknowledged (0: when it is written) */
    bool oversized;
    /* filled by lv_batch_prepare */
    const void *zraw;  /* compressed document */
    size_t zlen;
    int64_t dict_id;   /* 0: compressed without a dictionary */
    unsigned char (*hash)[LV_HASH_BYTES]; /* per stored event: dedupe key */
    unsigned char dead_hash[LV_HASH_BYTES]; /* the document's key as a dead letter (its bytes) */
    const char **search_title; /* per event: visible text for search (NULL when none) */
    const char **search_text;
    lv_outcome *outcome;       /* per event, set by the writer */
    bool stored_any;           /* set by the writer: some event of the document was stored */
};

struct lv_batch {
    lv_arena arena;
    lv_batch_doc **docs;
    size_t n_docs, cap_docs;
    size_t n_events;
    lv_buf scratch;
    lv_buf zbuf;
};

/* Counting by key, for figures aggregated over a transaction and written once (activity per day,
 * participants, counts per name). */
typedef struct lv_tally_entry {
    int64_t key[4];
    int64_t value;
    bool used;
} lv_tally_entry;

typedef struct lv_tally {
    lv_tally_entry *slots;
    size_t cap, used;
} lv_tally;

void lv_tally_add(lv_tally *t, const int64_t key[4], int64_t value);
/* Keeps the least (the greatest) value given for key. */
void lv_tally_min(lv_tally *t, const int64_t key[4], int64_t value);
void lv_tally_max(lv_tally *t, const int64_t key[4], int64_t value);
int64_t lv_tally_get(const lv_tally *t, const int64_t key[4], int64_t fallback);
/* Whether key was already counted; counts it (by 1) if not. */
bool lv_tally_seen(lv_tally *t, const int64_t key[4]);
void lv_tally_clear(lv_tally *t);
void lv_tally_free(lv_tally *t);

/* projection.c, called by store.c around the engine's transaction */
lv_projection *lv_projection_new(void);
void lv_projection_free(lv_projection *p);
lv_status lv_projection_write(lv_store *s, lv_batch *b, lv_counts *counts, lv_error *err);
/* Applies an event already stored (event row `row`; holder: the row keeping its document's bytes)
 * as if it had just been stored: its figures and state, nothing written to the events (rebuild). */
lv_status lv_projection_replay(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t row, bool holder,
                               lv_counts *counts, lv_error *err);
/* Copying (keep/copy.c): stores the event as a new row that arrived at received_ms under the key the
 * source kept (hash: its key now, or the one it was given before an upgrade made keys canonical, for
 * an event stored twice before), with the key its webhook-id is made of (webhook_hash; NULL: hash)
 * (doc_row: 0 when the row keeps its document's bytes, else the row that does), and applies it as
 * lv_store_write would. *row is the new row; an event the store holds already is an error. */
lv_status lv_projection_copy(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t doc_row, int64_t received_ms,
                             const unsigned char *hash, const unsigned char *webhook_hash, int64_t *row,
                             lv_counts *counts, lv_error *err);
/* Erasing (keep/erase.c). The state of what an event already stored is about, again, without its
 * figures (its topic, entry or conversation was emptied to be replayed from its remaining events). */
lv_status lv_projection_reapply(lv_store *s, lv_batch *b, size_t doc, size_t event, int64_t row, lv_error *err);
/* The stand-in row a topic gets from an entry that came before it. */
lv_status lv_projection_stand_in(lv_store *s, const lv_event *ev, uint64_t topic, lv_error *err);
/* An erased event's figures taken away, and the bytes of erased documents; at commit the figures
 * are written and settled (rows that count nothing go, the span is the remaining events'). */
void lv_projection_unfigure(lv_projection *p, const lv_event *ev);
void lv_projection_erased_bytes(lv_projection *p, int64_t doc_bytes);
/* Whether match is true of a person the event names (the catalog's LV_F_PERSON fields, metadata and
 * body). */
bool lv_event_names(const lv_event *ev, bool (*match)(void *ctx, uint64_t user), void *ctx);
/* Like lv_batch_prepare without compressing: keys and search text, for documents read back. */
lv_status lv_batch_prepare_keys(lv_batch *b, lv_error *err);
/* The key event e of d was given before store schema 7 made identities canonical (lv_event_identity_v6;
 * the same as d->hash[e] for an event with nothing the catalog does not know). A row keeps such a key
 * when its event had been stored twice, spelled two ways, before the upgrade: reading a document back
 * (check, rebuild, erasure) finds that row's event by it. */
lv_status lv_batch_old_key(lv_batch *b, const lv_batch_doc *d, size_t e, unsigned char out[LV_HASH_BYTES],
                           lv_error *err);

/* Forgets which topics and accounts have rows (after the derived state was emptied). */
void lv_projection_forget_known(lv_projection *p);
/* The engine's transaction is open (after its begin succeeded). */
void lv_projection_begun(lv_projection *p);
bool lv_projection_in_txn(const lv_projection *p);
/* Writes the figures tallied since begin (before the engine commits). */
lv_status lv_projection_flush(lv_store *s, lv_error *err);
/* Forgets what the open transaction did (after a rollback, or after a commit). */
void lv_projection_reset(lv_projection *p, bool rolled_back);

#endif
