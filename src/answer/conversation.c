/* conversation.c: a conversation as `levee query conversation` and /api/conversations/ID answer it:
 * who started it and when, and its timeline (messages and forwards merged in time order). */
#include "answer.h"

typedef struct timeline {
    lv_jw *w;
    int64_t messages, forwards;
} timeline;

static lv_status write_step(void *ctx, const lv_timeline_row *row, lv_error *err)
{
    (void)err;
    timeline *t = ctx;
    lv_jw *w = t->w;
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "type", row->message ? "message" : "forwarded");
    if (row->message) {
        kv_id(w, lv_body_field_names[LV_B_MESSAGE_ID], row->message_id);
        kv_id(w, lv_body_field_names[LV_B_AUTHOR_ID], row->user_id);
        kv_time(w, lv_body_field_names[LV_B_CREATED_AT], row->at);
        t->messages++;
    } else {
        kv_id(w, lv_metadata_fields[LV_M_USER_ID].name, row->user_id);
        kv_time(w, lv_body_field_names[LV_B_UPDATED_AT], row->at);
        t->forwards++;
    }
    kv_time(w, lv_metadata_fields[LV_M_EVENT_TIME].name, lv_some(row->time_ms));
    lv_jw_obj_close(w);
    return LV_OK;
}

lv_status lv_query_conversation(lv_store *s, uint64_t conversation, lv_jw *w, lv_error *err)
{
    lv_conversation_row row;
    lv_status rc = s->engine->conversation(s, conversation, &row, err);
    if (rc == LV_ENOTFOUND)
        return lv_fail(err, LV_ENOTFOUND, "there is no conversation %llu in %s", (unsigned long long)conversation,
                       lv_store_location(s));
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    lv_jw_key(w, "conversation");
    lv_jw_obj_open(w);
    kv_id_value(w, lv_body_field_names[LV_B_CONVERSATION_ID], row.id);
    kv_time(w, lv_body_field_names[LV_B_CREATED_AT], row.created_at);
    kv_id(w, "created_by", row.created_by);
    kv_time(w, lv_body_field_names[LV_B_UPDATED_AT], row.updated_at);
    lv_jw_obj_close(w);
    timeline t = { .w = w };
    lv_jw_key(w, "timeline");
    lv_jw_arr_open(w);
    rc = s->engine->conversation_timeline(s, conversation, write_step, &t, err);
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "message_count", t.messages);
    lv_jw_kv_int(w, "forward_count", t.forwards);
    lv_jw_obj_close(w);
    return rc;
}
