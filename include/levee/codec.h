/* levee/codec.h (stage: keep): compression of stored raw documents. Live Events are highly repetitive (the same
 * keys, hosts, user agents and URLs in every event), so levee compresses each document with zstd
 * using a dictionary trained on the store's own documents; every document comes back byte for byte. */
#ifndef LEVEE_CODEC_H
#define LEVEE_CODEC_H

#include "levee/common.h"

/* A trained dictionary, shared read-only between threads once made. */
typedef struct lv_dict lv_dict;
/* Per-thread compression and decompression state. */
typedef struct lv_zctx lv_zctx;

/* Compression level used for stored documents. */
#define LV_ZSTD_LEVEL 3
/* Size of trained dictionaries. */
#define LV_DICT_BYTES (64 * 1024)

/* Trains a dictionary from sample documents (concatenated in samples, sizes[i] each). */
lv_status lv_dict_train(const void *samples, const size_t *sizes, unsigned n, lv_buf *dict_out,
                        lv_error *err);
/* Prepares dictionary id for decompression, and for compression too when compress is set (zstd's
 * compression tables are most of the cost: a reader does not make them). */
lv_status lv_dict_new(int64_t id, const void *data, size_t len, bool compress, lv_dict **out, lv_error *err);
int64_t lv_dict_id(const lv_dict *d);
void lv_dict_free(lv_dict *d);

lv_zctx *lv_zctx_new(void);
void lv_zctx_free(lv_zctx *z);

/* Compresses src with the dictionary (NULL for none), replacing out's content. */
lv_status lv_compress(lv_zctx *z, const lv_dict *d, const void *src, size_t n, lv_buf *out,
                      lv_error *err);
/* Decompresses exactly raw_len bytes, replacing out's content. */
lv_status lv_decompress(lv_zctx *z, const lv_dict *d, const void *src, size_t n, size_t raw_len,
                        lv_buf *out, lv_error *err);

#endif
