/* buf.c: a growable byte buffer used for output records, messages and HTTP bodies, and the growth of
 * growable arrays (lv_vec_reserve). */
#include "levee/common.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Buffers this large are prefaulted as they grow (see lv_prefault). */
#define PREFAULT_FROM ((size_t)1 << 20)

void lv_prefault(void *p, size_t n)
{
#ifdef MADV_POPULATE_WRITE
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(uintptr_t)(page - 1);
    if (end > start)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE); /* best effort: old kernels refuse */
#else
    (void)p;
    (void)n;
#endif
}

void lv_buf_init(lv_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lv_buf_free(lv_buf *b)
{
    free(b->data);
    lv_buf_init(b);
}

void lv_buf_reset(lv_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void lv_buf_reserve(lv_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = lv_xrealloc(b->data, cap);
    if (cap >= PREFAULT_FROM)
        lv_prefault(b->data + b->cap, cap - b->cap);
    b->cap = cap;
}

void lv_buf_grow_append(lv_buf *b, const void *p, size_t n)
{
    lv_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void lv_buf_puts(lv_buf *b, const char *s)
{
    lv_buf_append(b, s, strlen(s));
}

void lv_buf_printf(lv_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        lv_buf_append(b, small, (size_t)n);
        return;
    }
    lv_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *lv_buf_detach(lv_buf *b, size_t *len)
{
    if (!b->data)
        lv_buf_append(b, "", 0);
    char *d = b->data;
    if (len)
        *len = b->len;
    lv_buf_init(b);
    return d;
}

lv_status lv_read_file(const char *path, const char *what, size_t max, lv_buf *out, lv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return lv_fail(err, LV_EIO, "cannot open the %s %s: %s", what, path, strerror(errno));
    lv_buf_reset(out);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && out->len <= max)
        lv_buf_append(out, chunk, n);
    bool failed = ferror(f);
    fclose(f);
    if (failed)
        return lv_fail(err, LV_EIO, "cannot read the %s %s", what, path);
    if (out->len > max)
        return lv_fail(err, LV_EINVAL, "the %s %s is over %zu bytes; is it the right file?", what, path, max);
    lv_buf_reserve(out, 0); /* data is never NULL, even for an empty file */
    return LV_OK;
}

void lv_vec_reserve(void **items, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : (first ? first : 8);
    while (n < need) {
        if (n > SIZE_MAX / 2)
            lv_xmalloc(SIZE_MAX); /* reports the exhaustion */
        n *= 2;
    }
    if (n > SIZE_MAX / size)
        lv_xmalloc(SIZE_MAX);
    *items = lv_xrealloc(*items, n * size);
    *cap = n;
}
