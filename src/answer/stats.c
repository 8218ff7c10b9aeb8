/* stats.c: the store's figures as `levee stats` and /api/stats answer them: events by name and
 * format, events outside levee's model, duplicates, dead letters, the span of event times, bytes
 * on disk per event, and schema drift (what Canvas sent that the catalog does not model). */
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

/* Drift rows listed at most: the rest are counted (hostile input can name a new field in every event). */
#define DRIFT_LISTED 500

typedef struct drift_list {
    lv_jw *w;
    int64_t rows;
} drift_list;

static lv_status write_drift(void *ctx, const lv_drift_row *row, lv_error *err)
{
    (void)err;
    drift_list *d = ctx;
    if (d->rows++ >= DRIFT_LISTED)
        return LV_OK;
    lv_jw *w = d->w;
    lv_jw_obj_open(w);
    lv_jw_key(w, "event");
    lv_jw_str(w, row->name.p, row->name.n);
    lv_jw_key(w, "field");
    if (row->field.n)
        lv_jw_str(w, row->field.p, row->field.n);
    else
        lv_jw_null(w);
    lv_jw_kv_cstr(w, "format", row->format == LV_FORMAT_CALIPER ? "caliper" : "canvas");
    lv_jw_kv_int(w, "count", row->count);
    kv_time(w, "first_seen", lv_some(row->first_time));
    kv_time(w, "last_seen", lv_some(row->last_time));
    lv_jw_obj_close(w);
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
    /* what Canvas sends that the catalog does not model, newest first: an operator learns here
     * when Canvas adds an event or a field */
    drift_list d = { .w = w };
    lv_jw_key(w, "drift");
    lv_jw_arr_open(w);
    if (rc == LV_OK)
        rc = s->engine->drift(s, write_drift, &d, err);
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "drift_count", d.rows);
    lv_jw_obj_close(w);
    return rc;
}
