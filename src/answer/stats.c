/* stats.c: the store's figures as `levee stats` and /api/stats answer them: events by name and
 * format, events outside levee's model, duplicates, dead letters, the span of event times, and bytes
 * on disk per event. */
#include "answer.h"

#include <string.h>

typedef struct by_event {
    lv_jw *w;
    int64_t canvas, caliper;
    int64_t outside; /* events whose name the catalog does not model */
} by_event;

static lv_status write_count(void *ctx, const lv_event_count_row *row, lv_error *err)
{
    (void)err;
    by_event *b = ctx;
    lv_jw *w = b->w;
    lv_jw_key(w, row->name.p);
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "canvas", row->canvas);
    lv_jw_kv_int(w, "caliper", row->caliper);
    lv_jw_kv_int(w, "total", row->total);
    lv_jw_obj_close(w);
    b->canvas += row->canvas;
    b->caliper += row->caliper;
    if (!lv_kind_find(row->name.p, strlen(row->name.p)))
        b->outside += row->total;
    return LV_OK;
}

/* "key": the time, or null when the store holds no event; a span never recorded reads as the epoch. */
static void kv_span_time(lv_jw *w, const char *key, int64_t events, lv_opt t)
{
    if (events)
        kv_time(w, key, lv_some(or_zero(t)));
    else
        lv_jw_kv_cstr(w, key, NULL);
}

lv_status lv_query_stats(lv_store *s, lv_jw *w, lv_error *err)
{
    lv_stats_row st;
    lv_status rc = s->engine->stats(s, &st, err);
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "events", st.events);
    lv_jw_kv_int(w, "duplicates", st.duplicates);
    lv_jw_kv_int(w, "dead_letters", st.dead_letters);
    by_event b = { .w = w };
    lv_jw_key(w, "by_event");
    lv_jw_obj_open(w);
    rc = s->engine->event_counts(s, write_count, &b, err);
    lv_jw_obj_close(w);
    lv_jw_kv_int(w, "outside_model", b.outside);
    lv_jw_key(w, "by_format");
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "canvas", b.canvas);
    lv_jw_kv_int(w, "caliper", b.caliper);
    lv_jw_obj_close(w);
    kv_span_time(w, "first_event_time", st.events, st.first_time);
    kv_span_time(w, "last_event_time", st.events, st.last_time);
    lv_jw_kv_int(w, "bytes_on_disk", st.bytes_on_disk);
    lv_jw_key(w, "bytes_per_event");
    lv_jw_double(w, st.events ? (double)st.bytes_on_disk / (double)st.events : 0);
    lv_jw_key(w, "raw_bytes_per_event");
    lv_jw_double(w, st.documents ? (double)st.raw_bytes / (double)st.documents : 0);
    lv_jw_kv_int(w, "dictionaries", st.dictionaries);
    lv_jw_obj_close(w);
    return rc;
}
