/* arena.c: a bump allocator for per-document and per-request memory. Parsing one event allocates
 * hundreds of small nodes; an arena makes that a pointer increment and frees them all at once. */
#include "levee/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lv_arena_chunk {
    lv_arena_chunk *prev;
    size_t size;   /* usable bytes in data */
    size_t used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_ALIGN 16u

void lv_arena_init(lv_arena *a, size_t first_chunk)
{
    a->head = NULL;
    a->chunk_size = first_chunk < 4096 ? 4096 : first_chunk;
}

static lv_arena_chunk *new_chunk(lv_arena *a, size_t need)
{
    size_t size = a->chunk_size;
    while (size < need)
        size *= 2;
    lv_arena_chunk *c = lv_xmalloc(sizeof *c + size);
    c->prev = a->head;
    c->size = size;
    c->used = 0;
    a->head = c;
    /* Grow geometrically so a large document needs few chunks. */
    if (a->chunk_size < (size_t)64 << 20)
        a->chunk_size = size * 2;
    return c;
}

void *lv_arena_alloc(lv_arena *a, size_t n)
{
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (n == 0)
        n = ARENA_ALIGN;
    lv_arena_chunk *c = a->head;
    if (!c || c->size - c->used < n)
        c = new_chunk(a, n);
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

void *lv_arena_zalloc(lv_arena *a, size_t n)
{
    void *p = lv_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *lv_arena_strndup(lv_arena *a, const char *s, size_t n)
{
    char *d = lv_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *lv_arena_printf(lv_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *d = lv_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(d, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return d;
}

void lv_arena_reset(lv_arena *a)
{
    lv_arena_chunk *c = a->head;
    if (!c)
        return;
    if (!c->prev) {
        c->used = 0;
        return;
    }
    /* Several chunks: replace them with one as large as all of them, so that the next round of the
     * same work fits in one chunk and allocates nothing. */
    size_t total = 0;
    for (lv_arena_chunk *k = c, *prev; k; k = prev) {
        prev = k->prev;
        total += k->size;
        free(k);
    }
    a->head = NULL;
    a->chunk_size = total;
    new_chunk(a, total);
}

void lv_arena_free(lv_arena *a)
{
    for (lv_arena_chunk *c = a->head, *prev; c; c = prev) {
        prev = c->prev;
        free(c);
    }
    a->head = NULL;
}
