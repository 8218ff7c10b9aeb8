/* build.c: building events field by field through the catalog, for producers (the simulator, and
 * applications that emit events through liblevee). */
#include "decode_internal.h"

#include "levee/timestamp.h"

#include <string.h>

void lv_event_build(lv_event *ev, const lv_kind *kind)
{
    lv__event_init(ev, LV_FORMAT_CANVAS, NULL, "");
    ev->kind = kind;
    if (kind) {
        lv_value_set_cstr(&ev->meta[LV_M_EVENT_NAME], kind->name);
        lv_value_set_cstr(&ev->meta[LV_M_PRODUCER], "canvas");
    }
}

lv_value *lv_event_meta_slot(lv_event *ev, int meta_index)
{
    return &ev->meta[meta_index];
}

lv_value *lv_event_body_slot(lv_event *ev, lv_body_key field)
{
    if (!ev->kind)
        return NULL;
    int i = lv_kind_field_of(ev->kind, field);
    return i < 0 ? NULL : &ev->body[i];
}

void lv_value_set_id(lv_value *v, uint64_t id)
{
    memset(v, 0, sizeof *v);
    v->state = LV_SET;
    v->id = v->global_id = id;
}

void lv_value_set_str(lv_value *v, const char *s, size_t len)
{
    memset(v, 0, sizeof *v);
    v->state = LV_SET;
    v->str = s;
    v->len = len;
}

void lv_value_set_cstr(lv_value *v, const char *s)
{
    lv_value_set_str(v, s, strlen(s));
}

void lv_value_set_bool(lv_value *v, bool b)
{
    memset(v, 0, sizeof *v);
    v->state = LV_SET;
    v->boolean = b;
}

void lv_value_set_null(lv_value *v)
{
    memset(v, 0, sizeof *v);
    v->state = LV_NULL;
}

void lv_value_set_time(lv_arena *arena, lv_value *v, int64_t ms, int offset_minutes, bool millis)
{
    char text[LV_TIME_TEXT_MAX];
    size_t n;
    if (millis && offset_minutes == 0)
        n = lv_time_format(ms, text);
    else if (offset_minutes == 0)
        n = lv_time_format_seconds(ms, text);
    else
        n = lv_time_format_offset(ms, offset_minutes, text);
    memset(v, 0, sizeof *v);
    v->state = LV_SET;
    v->ms = millis ? ms : ms - ((ms % 1000) + 1000) % 1000;
    v->str = lv_arena_strndup(arena, text, n);
    v->len = n;
}

void lv_event_build_finish(lv_arena *arena, lv_event *ev)
{
    const lv_value *name = &ev->meta[LV_M_EVENT_NAME];
    if (name->state == LV_SET) {
        ev->name = name->str;
        ev->name_len = name->len;
    }
    const lv_value *time = &ev->meta[LV_M_EVENT_TIME];
    if (time->state == LV_SET) {
        ev->has_time = true;
        ev->time_ms = time->ms;
    }
    lv__resolve_ids(arena, ev);
}
