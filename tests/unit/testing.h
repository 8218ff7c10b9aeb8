/* testing.h: what every unit test includes: cmocka, and helpers to decode a document, find a
 * diagnostic by path and make temporary files. */
#ifndef LEVEE_TESTING_H
#define LEVEE_TESTING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "levee/event.h"
#include "levee/store.h"

/* Decodes text (a NUL-terminated document) with a fresh arena kept in *arena. */
static inline lv_doc decode_text(lv_arena *arena, const char *text, bool strict)
{
    lv_doc doc;
    lv_decode_options opt = { .strict = strict };
    lv_decode(arena, text, strlen(text), &opt, &doc);
    return doc;
}

/* The first diagnostic of the event whose path is `path`, or NULL. */
static inline const lv_diag *find_diag(const lv_event *ev, const char *path)
{
    for (const lv_diag *d = ev->diags; d; d = d->next)
        if (strcmp(d->path, path) == 0)
            return d;
    return NULL;
}

/* Fails the test with the event's diagnostics listed, for readable failures. */
static inline void print_diags(const lv_event *ev)
{
    for (const lv_diag *d = ev->diags; d; d = d->next)
        fprintf(stderr, "  %s %s: %s\n", d->severity == LV_ERROR ? "error" : "warning", d->path,
                d->message);
}

/* A new empty file (dir false) or directory (dir true) under $TMPDIR (or /tmp), its name starting with
 * levee-test-<what>; path (at least 256 bytes) receives it. Returns the open file's descriptor, or 0
 * for a directory; the test removes it. */
static inline int make_temp(char *path, size_t size, const char *what, bool dir)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/levee-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", what);
    int fd = dir ? (mkdtemp(path) ? 0 : -1) : mkstemp(path);
    assert_true(fd >= 0);
    return fd;
}

/* Reads a whole file (for fixtures); the caller frees it. */
static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = '\0';
    if (len)
        *len = got;
    return buf;
}

#endif
