/* record.c: writing decoded events out: levee's canonical record (normalized: UTC times, exact
 * decimal ids, local ids made global), the canvas form of an event, and diagnostics. */
#include "levee/caliper.h"
#include "levee/event.h"
#include "levee/id.h"
#include "levee/timestamp.h"

#include <string.h>

/* Writes one value; normalized means UTC times and global ids, otherwise the source's text. */
static void write_value(lv_jw *w, const lv_field *f, const lv_value *v, bool normalized)
{
    if (v->state == LV_NULL) {
        lv_jw_null(w);
        return;
    }
    switch (f->type) {
    case LV_T_ID: {
        char text[LV_ID_TEXT_MAX];
        size_t n = lv_id_format(normalized ? v->global_id : v->id, text);
        lv_jw_str(w, text, n);
        break;
    }
    case LV_T_TIME:
        if (normalized || !v->str) {
            char text[LV_TIME_TEXT_MAX];
            size_t n = lv_time_format(v->ms, text);
            lv_jw_str(w, text, n);
        } else {
            lv_jw_str(w, v->str, v->len);
        }
        break;
    case LV_T_BOOL: lv_jw_bool(w, v->boolean); break;
    default: lv_jw_str(w, v->str, v->len); break;
    }
}

static void write_fields(lv_jw *w, const lv_field *fields, size_t n, const lv_value *values,
                         bool normalized)
{
    for (size_t i = 0; i < n; i++) {
        if (values[i].state == LV_ABSENT)
            continue;
        lv_jw_key(w, fields[i].name);
        write_value(w, &fields[i], &values[i], normalized);
    }
}

/* Members of a canvas object that the catalog does not know, kept unchanged. */
static void write_unknown_metadata(lv_jw *w, const lv_json *obj)
{
    for (const lv_json *m = obj->child; m; m = m->next)
        if (lv_meta_index(m->key, m->key_len) < 0) {
            lv_jw_keyn(w, m->key, m->key_len);
            lv_jw_value(w, m);
        }
}

static void write_unknown_body(lv_jw *w, const lv_kind *kind, const lv_json *obj)
{
    for (const lv_json *m = obj->child; m; m = m->next)
        if (lv_kind_field_index(kind, m->key, m->key_len) < 0) {
            lv_jw_keyn(w, m->key, m->key_len);
            lv_jw_value(w, m);
        }
}

static void write_metadata_and_body(lv_jw *w, const lv_event *ev, bool normalized)
{
    lv_jw_key(w, "metadata");
    lv_jw_obj_open(w);
    write_fields(w, lv_metadata_fields, LV_META_COUNT, ev->meta, normalized);
    if (ev->metadata_json && ev->unknown_fields)
        write_unknown_metadata(w, ev->metadata_json);
    lv_jw_obj_close(w);
    if (ev->kind) {
        lv_jw_key(w, "body");
        lv_jw_obj_open(w);
        write_fields(w, ev->kind->fields, ev->kind->n_fields, ev->body, normalized);
        if (ev->body_json && ev->body_json->type == LV_JSON_OBJECT && ev->unknown_fields)
            write_unknown_body(w, ev->kind, ev->body_json);
        lv_jw_obj_close(w);
    } else if (ev->format == LV_FORMAT_CANVAS) {
        if (ev->body_json) {
            lv_jw_key(w, "body");
            lv_jw_value(w, ev->body_json);
        }
    } else if (ev->json) {
        /* A Caliper event outside the model has no canvas body: it is kept whole. */
        lv_jw_key(w, "body");
        lv_jw_value(w, ev->json);
    }
}

void lv_record_write(lv_jw *w, const lv_event *ev)
{
    lv_jw_obj_open(w);
    lv_jw_key(w, "event");
    if (ev->name)
        lv_jw_str(w, ev->name, ev->name_len);
    else
        lv_jw_null(w);
    lv_jw_kv_cstr(w, "format", ev->format == LV_FORMAT_CANVAS ? "canvas" : "caliper");
    lv_jw_key(w, "time");
    if (ev->has_time) {
        char text[LV_TIME_TEXT_MAX];
        size_t n = lv_time_format(ev->time_ms, text);
        lv_jw_str(w, text, n);
    } else {
        lv_jw_null(w);
    }
    if (ev->caliper_id)
        lv_jw_kv_str(w, "caliper_id", ev->caliper_id, ev->caliper_id_len);
    write_metadata_and_body(w, ev, true);
    if (ev->n_warnings || ev->n_errors) {
        lv_jw_key(w, "warnings");
        lv_jw_arr_open(w);
        for (const lv_diag *d = ev->diags; d; d = d->next) {
            lv_jw_obj_open(w);
            lv_jw_kv_cstr(w, "severity", d->severity == LV_ERROR ? "error" : "warning");
            lv_jw_kv_cstr(w, "path", d->path);
            lv_jw_kv_cstr(w, "message", d->message);
            lv_jw_obj_close(w);
        }
        lv_jw_arr_close(w);
    }
    lv_jw_obj_close(w);
}

lv_status lv_canvas_write_event(const lv_event *ev, lv_jw *w, lv_error *err)
{
    if (!ev->kind && ev->format == LV_FORMAT_CALIPER)
        return lv_fail(err, LV_EUNSUPPORTED,
                       "is a Caliper event outside levee's model, so it has no canvas form");
    if (ev->format == LV_FORMAT_CANVAS && ev->json) {
        lv_jw_value(w, ev->json);
        return LV_OK;
    }
    lv_jw_obj_open(w);
    write_metadata_and_body(w, ev, false);
    lv_jw_obj_close(w);
    return LV_OK;
}

static void event_label(lv_buf *out, const lv_event *ev)
{
    if (ev->name)
        lv_buf_printf(out, "%.*s: ", (int)(ev->name_len > 80 ? 80 : ev->name_len), ev->name);
}

void lv_diag_text(lv_buf *out, const char *source, long line, const lv_event *ev, const lv_diag *d)
{
    if (source)
        lv_buf_printf(out, "%s:", source);
    if (line > 0)
        lv_buf_printf(out, "%ld:", line);
    if (source || line > 0)
        lv_buf_putc(out, ' ');
    if (d->severity == LV_WARNING)
        lv_buf_puts(out, "warning: ");
    event_label(out, ev);
    if (d->path && d->path[0])
        lv_buf_printf(out, "%s: ", d->path);
    lv_buf_puts(out, d->message);
    lv_buf_putc(out, '\n');
}

void lv_diag_json(lv_jw *w, const char *source, long line, const lv_event *ev, const lv_diag *d)
{
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "source", source);
    lv_jw_kv_int(w, "line", line);
    lv_jw_kv_cstr(w, "severity", d->severity == LV_ERROR ? "error" : "warning");
    lv_jw_key(w, "event");
    if (ev->name)
        lv_jw_str(w, ev->name, ev->name_len);
    else
        lv_jw_null(w);
    lv_jw_kv_cstr(w, "path", d->path);
    lv_jw_kv_cstr(w, "message", d->message);
    lv_jw_obj_close(w);
}
