/* tally.c: an open-addressing hash of counters (or minima, or maxima) keyed by four integers. The
 * projection tallies activity per day, participants, event counts and schema drift in memory during
 * a transaction and writes each sum once; it also remembers with it what it has already written
 * (topics with a row, accounts). */
#include "keep.h"

#include <stdlib.h>
#include <string.h>

static uint64_t mix(const int64_t key[4])
{
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 4; i++) {
        h ^= (uint64_t)key[i] + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        h *= 0xBF58476D1CE4E5B9ULL;
    }
    return h ^ (h >> 31);
}

static void grow(lv_tally *t)
{
    lv_tally old = *t;
    t->cap = old.cap ? old.cap * 2 : 1024;
    t->slots = lv_xcalloc(t->cap, sizeof *t->slots);
    t->used = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].used)
            lv_tally_add(t, old.slots[i].key, old.slots[i].value);
    free(old.slots);
}

typedef enum { ADD, MIN, MAX } merge_op;

static void put(lv_tally *t, const int64_t key[4], int64_t value, merge_op op)
{
    if ((t->used + 1) * 4 > t->cap * 3)
        grow(t);
    size_t i = mix(key) & (t->cap - 1);
    for (;;) {
        lv_tally_entry *e = &t->slots[i];
        if (!e->used) {
            e->used = true;
            memcpy(e->key, key, sizeof e->key);
            e->value = value;
            t->used++;
            return;
        }
        if (memcmp(e->key, key, sizeof e->key) == 0) {
            if (op == ADD)
                e->value += value;
            else if (op == MIN ? value < e->value : value > e->value)
                e->value = value;
            return;
        }
        i = (i + 1) & (t->cap - 1);
    }
}

void lv_tally_add(lv_tally *t, const int64_t key[4], int64_t value) { put(t, key, value, ADD); }
void lv_tally_min(lv_tally *t, const int64_t key[4], int64_t value) { put(t, key, value, MIN); }
void lv_tally_max(lv_tally *t, const int64_t key[4], int64_t value) { put(t, key, value, MAX); }

/* A key's value, or fallback when it was never counted. */
int64_t lv_tally_get(const lv_tally *t, const int64_t key[4], int64_t fallback)
{
    if (!t->cap)
        return fallback;
    for (size_t i = mix(key) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const lv_tally_entry *e = &t->slots[i];
        if (!e->used)
            return fallback;
        if (memcmp(e->key, key, sizeof e->key) == 0)
            return e->value;
    }
}

bool lv_tally_seen(lv_tally *t, const int64_t key[4])
{
    size_t before = t->used;
    lv_tally_add(t, key, 1);
    return t->used == before;
}

void lv_tally_clear(lv_tally *t)
{
    if (t->slots)
        memset(t->slots, 0, t->cap * sizeof *t->slots);
    t->used = 0;
}

void lv_tally_free(lv_tally *t)
{
    free(t->slots);
    memset(t, 0, sizeof *t);
}
