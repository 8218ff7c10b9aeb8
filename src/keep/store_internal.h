/* store_internal.h: what the engine-neutral store code (batch.c, store.c) and the engines share:
 * the batch layout and the engine's table of operations. Not part of liblevee's interface. */
#ifndef LEVEE_STORE_INTERNAL_H
#define LEVEE_STORE_INTERNAL_H

#include "levee/store.h"

#define LV_HASH_BYTES 16

struct lv_batch_doc {
    lv_doc doc;
    const char *text;  /* copy of the document's bytes (NULL when oversized) */
    size_t len;
    const char *source;
    long line;
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

/* An engine: the operations a store backend implements. */
typedef struct lv_engine {
    const char *name;
    void (*close)(lv_store *s);
    lv_status (*begin)(lv_store *s, lv_error *err);
    lv_status (*write)(lv_store *s, lv_batch *b, lv_counts *counts, lv_error *err);
    lv_status (*commit)(lv_store *s, lv_error *err);
    void (*rollback)(lv_store *s);
    void (*set_bulk)(lv_store *s, bool durable);
    lv_status (*sync)(lv_store *s, lv_error *err);
    lv_status (*set_mark)(lv_store *s, const char *name, uint64_t value, lv_error *err);
    lv_status (*get_mark)(lv_store *s, const char *name, uint64_t *value, lv_error *err);
    const lv_dict *(*dict)(lv_store *s);
    lv_status (*maybe_train)(lv_store *s, lv_error *err);
    lv_status (*export_docs)(lv_store *s, const lv_export_filter *f,
                             lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                             void *ctx, lv_error *err);
    lv_status (*resolve_id)(lv_store *s, uint64_t id, uint64_t *global, lv_error *err);
    lv_status (*stats)(lv_store *s, lv_jw *w, lv_error *err);
    lv_status (*topic)(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err);
    lv_status (*conversation)(lv_store *s, uint64_t conversation, lv_jw *w, lv_error *err);
    lv_status (*course)(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w, lv_error *err);
    lv_status (*user)(lv_store *s, uint64_t user, const lv_query_window *win, lv_jw *w, lv_error *err);
    lv_status (*courses)(lv_store *s, lv_jw *w, lv_error *err);
    lv_status (*search)(lv_store *s, const char *text, uint64_t course, const lv_query_window *win,
                        lv_jw *w, lv_error *err);
} lv_engine;

/* Every engine's store begins with this. */
struct lv_store {
    const lv_engine *engine;
    char *location;
};

/* Counting by key, for figures aggregated over a batch and written once (activity per day, ...). */
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
void lv_tally_clear(lv_tally *t);
void lv_tally_free(lv_tally *t);

lv_status lv_sqlite_open(const char *path, const lv_store_options *opt, lv_store **out, lv_error *err);


#endif
