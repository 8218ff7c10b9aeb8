/* error.c: filling lv_error, and the allocation helpers that abort on memory exhaustion. */
#include "levee/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lv_status lv_vfail(lv_error *err, lv_status status, const char *fmt, va_list ap)
{
    if (err) {
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        lv_scrub(err->msg, sizeof err->msg); /* a URL quoted in a sentence keeps no access token */
    }
    return status;
}

lv_status lv_fail(lv_error *err, lv_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lv_vfail(err, status, fmt, ap);
    va_end(ap);
    return status;
}

void lv_error_clear(lv_error *err)
{
    if (err) {
        err->status = LV_OK;
        err->msg[0] = '\0';
    }
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "levee: out of memory (could not allocate %zu bytes)\n", n);
    abort();
}

void *lv_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *lv_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        out_of_memory(count * n);
    return p;
}

void *lv_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *lv_xstrndup(const char *s, size_t n)
{
    char *d = lv_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *lv_xstrdup(const char *s)
{
    return lv_xstrndup(s, strlen(s));
}
