/* answer.h: what the answers (topic.c, conversation.c, course.c, user.c, search.c, stats.c) share:
 * writing the engine's values (ids, times, days, optional text) as JSON members, the question's
 * window, and a small id -> index table. Private to src/answer/. */
#ifndef LEVEE_ANSWER_H
#define LEVEE_ANSWER_H

#include "levee/engine.h"
#include "levee/id.h"
#include "levee/query.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS 86400000LL
/* List lengths when the question gives none. */
#define DEFAULT_LIMIT 100

/* ---- values as JSON ---- */

static inline void write_id(lv_jw *w, uint64_t id)
{
    char text[LV_ID_TEXT_MAX];
    lv_jw_str(w, text, lv_id_format(id, text));
}

static inline void write_time(lv_jw *w, int64_t ms)
{
    char text[LV_TIME_TEXT_MAX];
    lv_jw_str(w, text, lv_time_format(ms, text));
}

/* A day (days since 1970-01-01) as YYYY-MM-DD. */
static inline void write_day(lv_jw *w, int64_t day)
{
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(day, &y, &m, &d);
    char text[16];
    snprintf(text, sizeof text, "%04d-%02u-%02u", (int)y, m, d);
    lv_jw_cstr(w, text);
}

static inline void kv_id_value(lv_jw *w, const char *key, uint64_t id)
{
    lv_jw_key(w, key);
    write_id(w, id);
}

/* "key": the id as a decimal string, or null */
static inline void kv_id(lv_jw *w, const char *key, lv_opt v)
{
    lv_jw_key(w, key);
    if (v.set)
        write_id(w, (uint64_t)v.v);
    else
        lv_jw_null(w);
}

/* "key": the time in UTC, or null */
static inline void kv_time(lv_jw *w, const char *key, lv_opt v)
{
    lv_jw_key(w, key);
    if (v.set)
        write_time(w, v.v);
    else
        lv_jw_null(w);
}

/* "key": true or false (any non-zero number is true), or null */
static inline void kv_bool(lv_jw *w, const char *key, lv_opt v)
{
    lv_jw_key(w, key);
    if (v.set)
        lv_jw_bool(w, v.v != 0);
    else
        lv_jw_null(w);
}

/* "key": the text, or null */
static inline void kv_text(lv_jw *w, const char *key, lv_str v)
{
    lv_jw_key(w, key);
    if (v.p)
        lv_jw_str(w, v.p, v.n);
    else
        lv_jw_null(w);
}

/* An optional integer as it was kept before lv_opt existed: 0 when not set. */
static inline int64_t or_zero(lv_opt v) { return v.set ? v.v : 0; }

/* ---- the question's window ---- */

static inline unsigned limit_of(const lv_query_window *win)
{
    return win && win->limit ? win->limit : DEFAULT_LIMIT;
}

/* Window bounds for the engine: everything when not given. */
static inline int64_t since_of(const lv_query_window *win) { return win->has_since ? win->since_ms : INT64_MIN; }
static inline int64_t until_of(const lv_query_window *win) { return win->has_until ? win->until_ms : INT64_MAX; }

/* "since" and "until" members */
static inline void window_json(lv_jw *w, const lv_query_window *win)
{
    lv_jw_key(w, "since");
    if (win->has_since)
        write_time(w, win->since_ms);
    else
        lv_jw_null(w);
    lv_jw_key(w, "until");
    if (win->has_until)
        write_time(w, win->until_ms);
    else
        lv_jw_null(w);
}

/* The window asked for, or (NULL) all time with "now" as now. */
static inline const lv_query_window *window_or_default(const lv_query_window *win, lv_query_window *tmp)
{
    if (win)
        return win;
    *tmp = (lv_query_window){ .now_ms = lv_now_ms() };
    return tmp;
}

/* ---- id -> index, open addressing ---- */

typedef struct id_index {
    int64_t *keys;
    int *values;
    size_t cap;
} id_index;

static inline void index_init(id_index *x, size_t n)
{
    x->cap = 16;
    while (x->cap < n * 2)
        x->cap *= 2;
    x->keys = lv_xcalloc(x->cap, sizeof *x->keys);
    x->values = lv_xmalloc(x->cap * sizeof *x->values);
    for (size_t i = 0; i < x->cap; i++)
        x->values[i] = -1;
}

static inline size_t index_slot(const id_index *x, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(h >> 17) & (x->cap - 1);
    while (x->values[i] >= 0 && x->keys[i] != key)
        i = (i + 1) & (x->cap - 1);
    return i;
}

static inline void index_put(id_index *x, int64_t key, int value)
{
    size_t i = index_slot(x, key);
    x->keys[i] = key;
    x->values[i] = value;
}

/* The value put under key, or -1. */
static inline int index_get(const id_index *x, int64_t key)
{
    return x->values[index_slot(x, key)];
}

static inline void index_free(id_index *x)
{
    free(x->keys);
    free(x->values);
}

#endif
