/* sim_containers.c: the two small containers the simulator's model is made of: a growable array of
 * 32-bit indexes and an open-addressing map from 64-bit keys to 32-bit values. */
#include "sim_internal.h"

#include <stdlib.h>
#include <string.h>

void lv__u32_push(u32vec *a, uint32_t x)
{
    *lv_vec_push(a, 4) = x;
}

bool lv__u32_has(const u32vec *a, uint32_t x)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->items[i] == x)
            return true;
    return false;
}

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static void map_grow(u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *keys = lv_xcalloc(cap, sizeof *keys);
    uint32_t *vals = lv_xcalloc(cap, sizeof *vals);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t j = slot_of(m->keys[i], cap);
        while (keys[j])
            j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

void lv__map_put(u64map *m, uint64_t key, uint32_t val)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        map_grow(m);
    size_t j = slot_of(key, m->cap);
    while (m->keys[j] && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
        m->n++;
    m->keys[j] = key;
    m->vals[j] = val;
}

uint32_t lv__map_get(const u64map *m, uint64_t key)
{
    if (!m->cap)
        return SIM_NONE;
    size_t j = slot_of(key, m->cap);
    while (m->keys[j]) {
        if (m->keys[j] == key)
            return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return SIM_NONE;
}

void lv__map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
