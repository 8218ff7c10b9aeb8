/* testing.h: what every unit test includes: cmocka, and helpers to decode a document, find a
 * diagnostic by path, check a status, and make (and remove) temporary files, directories and
 * stores. */
#ifndef LEVEE_TESTING_H
#define LEVEE_TESTING_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "levee/applier.h" /* lv_journal_doc_encode */
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

/* Fails the test, saying why, unless st is LV_OK. */
static inline void check(lv_status st, const lv_error *err)
{
    if (st != LV_OK)
        fail_msg("status %d: %s", (int)st, err->msg);
}

/* Removes a store file and SQLite's -wal and -shm beside it. */
static inline void remove_store(const char *path)
{
    char p[512];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static inline int remove_entry_(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes a directory and everything in it. */
static inline int remove_tree(const char *dir)
{
    return nftw(dir, remove_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* A test file's temporary directory: test_dir() names it once test_dir_make has made it. */
static inline char *test_dir(void)
{
    static char dir[256];
    return dir;
}

static inline void test_dir_make(const char *what)
{
    make_temp(test_dir(), 256, what, true);
}

/* cmocka fixtures: a fresh temporary directory for each test, removed after it. */
static inline int temp_dir_setup(void **state)
{
    (void)state;
    test_dir_make("unit");
    return 0;
}

static inline int temp_dir_teardown(void **state)
{
    (void)state;
    return remove_tree(test_dir());
}

/* test_dir()/name; four such paths may be in use at once. */
static inline char *path_in(const char *name)
{
    static char p[4][320];
    static int next;
    char *out = p[next++ % 4];
    snprintf(out, sizeof p[0], "%s/%s", test_dir(), name);
    return out;
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

/* A valid canvas event about conversation i + 1, at 2024-01-01 plus i seconds, into out (at least 256
 * bytes); its length. */
static inline int numbered_conversation_event(char *out, size_t size, int i)
{
    return snprintf(out, size,
                    "{\"metadata\":{\"event_name\":\"conversation_created\",\"event_time\":\"2024-01-01T%02d:%02d:%02dZ\","
                    "\"root_account_id\":\"21070000000000001\"},\"body\":{\"conversation_id\":\"%d\"}}",
                    i / 3600 % 24, i / 60 % 60, i % 60, i + 1);
}

/* Journal record i (rec, made here; the caller frees it): numbered_conversation_event(i), from "test" line i. */
static inline void numbered_record(lv_buf *rec, int i)
{
    char doc[256];
    int n = numbered_conversation_event(doc, sizeof doc, i);
    lv_buf_init(rec);
    lv_journal_doc_encode(rec, "test", (uint32_t)i, doc, (size_t)n);
}

static inline lv_status count_document(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)raw;
    (void)len;
    (void)err;
    (*(int *)ctx)++;
    return LV_OK;
}

/* How many documents the store holds (or dead letters). */
static inline int stored_documents(lv_store *s, bool dead_letters)
{
    lv_export_filter f = { .dead_letters = dead_letters };
    int n = 0;
    lv_error err;
    assert_int_equal(lv_store_export(s, &f, count_document, &n, &err), LV_OK);
    return n;
}

#endif
