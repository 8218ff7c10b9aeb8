/* record.c: writing decoded events out: levee's canonical record (normalized: UTC times, exact
 * decimal ids, local ids made global), the canvas form of an event, and diagnostics. */
#include "levee/caliper.h"
#include "levee/event.h"
#include "levee/id.h"
#include "levee/text.h"
#include "levee/timestamp.h"

#include <stdlib.h>
#include <string.h>

void lv_value_write(lv_jw *w, const lv_field *f, const lv_value *v, bool normalized)
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
        lv_value_write(w, &fields[i], &values[i], normalized);
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

static void write_record(lv_jw *w, const lv_event *ev, bool with_warnings)
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
    if (with_warnings && (ev->n_warnings || ev->n_errors)) {
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

void lv_record_write(lv_jw *w, const lv_event *ev)
{
    write_record(w, ev, true);
}

static void identity_values(lv_buf *out, const lv_field *fields, size_t n, const lv_value *values)
{
    for (size_t i = 0; i < n; i++) {
        const lv_value *v = &values[i];
        if (v->state == LV_ABSENT)
            continue;
        unsigned char tag[2] = { (unsigned char)i, (unsigned char)v->state };
        lv_buf_append(out, tag, 2);
        if (v->state != LV_SET)
            continue;
        switch (fields[i].type) {
        case LV_T_ID: {
            uint64_t id = lv_value_id(v);
            lv_buf_append(out, &id, sizeof id);
            break;
        }
        case LV_T_TIME: lv_buf_append(out, &v->ms, sizeof v->ms); break;
        case LV_T_BOOL: lv_buf_putc(out, v->boolean ? 1 : 0); break;
        default: {
            uint32_t len = (uint32_t)v->len;
            lv_buf_append(out, &len, sizeof len);
            lv_buf_append(out, v->str, v->len);
            break;
        }
        }
    }
    lv_buf_putc(out, (char)0xFF);
}

/* The members of obj (a canvas metadata or body object) that the catalog does not know, in canonical
 * order, each as its name (length first) and canonical JSON. */
static void identity_unknown(lv_buf *out, char tag, const lv_json *obj, const lv_kind *kind)
{
    size_t n = 0;
    for (const lv_json *m = obj->child; m; m = m->next)
        n++;
    const lv_json *stack_members[32];
    const lv_json **members = n <= 32 ? stack_members : lv_xmalloc(n * sizeof *members);
    n = 0;
    for (const lv_json *m = obj->child; m; m = m->next) {
        bool known = kind ? lv_kind_field_index(kind, m->key, m->key_len) >= 0 : lv_meta_index(m->key, m->key_len) >= 0;
        if (!known)
            members[n++] = m;
    }
    lv_json_sort_members(members, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t len = members[i]->key_len;
        lv_buf_putc(out, tag);
        lv_buf_append(out, &len, sizeof len);
        lv_buf_append(out, members[i]->key, len);
        lv_json_write_canonical(out, members[i]);
    }
    if (members != stack_members)
        free(members);
}

void lv_event_identity(const lv_event *ev, lv_buf *out)
{
    lv_buf_putc(out, ev->format == LV_FORMAT_CANVAS ? 'c' : 'k');
    uint32_t len = (uint32_t)ev->name_len;
    lv_buf_append(out, &len, sizeof len);
    lv_buf_append(out, ev->name, ev->name_len);
    if (ev->caliper_id)
        lv_buf_append(out, ev->caliper_id, ev->caliper_id_len);
    lv_buf_putc(out, 0);
    identity_values(out, lv_metadata_fields, LV_META_COUNT, ev->meta);
    if (ev->kind)
        identity_values(out, ev->kind->fields, ev->kind->n_fields, ev->body);
    if (ev->unknown_fields) {
        /* members the catalog does not know, as values: their order and spelling do not count */
        if (ev->metadata_json && ev->metadata_json->type == LV_JSON_OBJECT)
            identity_unknown(out, 0, ev->metadata_json, NULL);
        if (ev->kind && ev->body_json && ev->body_json->type == LV_JSON_OBJECT)
            identity_unknown(out, 1, ev->body_json, ev->kind);
    }
    if (!ev->kind) {
        /* outside the model the body is kept as is: it is part of what the event is, as a value */
        const lv_json *body = ev->format == LV_FORMAT_CANVAS ? ev->body_json : ev->json;
        if (body) {
            lv_buf_putc(out, 2);
            lv_json_write_canonical(out, body);
        }
    }
}

/* The identity as levee computed it up to store schema 6 (SQLite; 3 on PostgreSQL): unknown members
 * and bodies outside the model in the order and the number spellings they came in. Kept only so that
 * an upgrade can tell which stored event row a key belongs to, byte for byte as it was made. */
static void identity_json_v6(lv_buf *out, const lv_json *v)
{
    lv_jw *w = lv_jw_new(out, false);
    lv_jw_value(w, v);
    lv_jw_free(w);
}

void lv_event_identity_v6(const lv_event *ev, lv_buf *out)
{
    lv_buf_putc(out, ev->format == LV_FORMAT_CANVAS ? 'c' : 'k');
    uint32_t len = (uint32_t)ev->name_len;
    lv_buf_append(out, &len, sizeof len);
    lv_buf_append(out, ev->name, ev->name_len);
    if (ev->caliper_id)
        lv_buf_append(out, ev->caliper_id, ev->caliper_id_len);
    lv_buf_putc(out, 0);
    identity_values(out, lv_metadata_fields, LV_META_COUNT, ev->meta);
    if (ev->kind)
        identity_values(out, ev->kind->fields, ev->kind->n_fields, ev->body);
    if (ev->unknown_fields) {
        const lv_json *objs[2] = { ev->metadata_json, ev->body_json };
        for (int o = 0; o < 2; o++)
            for (const lv_json *m = objs[o] && objs[o]->type == LV_JSON_OBJECT ? objs[o]->child : NULL; m; m = m->next) {
                bool known = o == 0 ? lv_meta_index(m->key, m->key_len) >= 0
                                    : ev->kind && lv_kind_field_index(ev->kind, m->key, m->key_len) >= 0;
                if (known)
                    continue;
                lv_buf_putc(out, (char)o);
                lv_buf_append(out, m->key, m->key_len);
                lv_buf_putc(out, 0);
                identity_json_v6(out, m);
            }
    }
    if (!ev->kind) {
        const lv_json *body = ev->format == LV_FORMAT_CANVAS ? ev->body_json : ev->json;
        if (body)
            identity_json_v6(out, body);
    }
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
        lv_buf_printf(out, "%.*s: ", (int)lv_utf8_cut(ev->name, ev->name_len, 80), ev->name);
}

void lv_diag_text(lv_buf *out, const char *source, long line, const lv_event *ev, const lv_diag *d)
{
    size_t start = out->len;
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
    /* the line is text for people and tools: valid UTF-8, whatever a message quotes (a source name) */
    size_t n = out->len - start;
    if (lv_utf8_valid_prefix(out->data + start, n) != n) {
        char *line_text = lv_xmalloc(n);
        memcpy(line_text, out->data + start, n);
        out->len = start;
        lv_utf8_clean(line_text, n, out);
        free(line_text);
    }
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
