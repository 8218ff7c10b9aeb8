/* levee/id.h (stage: understand): Canvas ids. An id is a 64-bit integer, sent as a JSON string (or sometimes a number);
 * a global id is shard * 10^13 + local id. levee keeps ids as integers, never as doubles. */
#ifndef LEVEE_ID_H
#define LEVEE_ID_H

#include "levee/common.h"

#define LV_SHARD_FACTOR 10000000000000ULL /* 10^13 */
#define LV_ID_MAX 9223372036854775807ULL   /* Canvas ids are PostgreSQL bigints */
#define LV_ID_TEXT_MAX 21

/* Parses a decimal id (digits only, at most 2^63-1). On failure err->msg describes the problem after
 * the quoted value, e.g. `"12a" is not a decimal id`. */
lv_status lv_id_parse(const char *s, size_t len, uint64_t *id, lv_error *err);

size_t lv_id_format(uint64_t id, char out[LV_ID_TEXT_MAX]);

static inline uint64_t lv_id_shard(uint64_t id) { return id / LV_SHARD_FACTOR; }
static inline uint64_t lv_id_local(uint64_t id) { return id % LV_SHARD_FACTOR; }
static inline bool lv_id_is_local(uint64_t id) { return id < LV_SHARD_FACTOR; }

/* Resolves a local id to global on the given shard; a global id (or shard 0) is returned unchanged.
 * Returns false when the result would not fit in a Canvas id. */
bool lv_id_globalize(uint64_t id, uint64_t shard, uint64_t *out);

#endif
