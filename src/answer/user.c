/* user.c: what a user did, as `levee query user` and /api/users/ID answer it: the entries they
 * posted, the messages they sent, the topics they created and the conversations they started, each
 * list in created order over the question's window. */
#include "answer.h"

#include <stddef.h>

/* One column of a list: its name in the answer and the member of lv_user_row that holds it. */
typedef enum { COL_ID, COL_TEXT, COL_TIME } column_kind;
typedef struct user_column {
    const char *name;
    column_kind kind;
    size_t offset; /* of an lv_opt (COL_ID, COL_TIME) or an lv_str (COL_TEXT) in lv_user_row */
} user_column;

#define USER_LIST_COLUMNS 8
#define COL(name, kind, member) { name, kind, offsetof(lv_user_row, member) }

/* One list of what a user did: its key in the answer, the engine's list and its columns, in order,
 * as the answer names them. */
typedef struct user_list {
    const char *key;
    lv_user_list list;
    user_column columns[USER_LIST_COLUMNS];
} user_list;

static const user_list user_lists[] = {
    { "entries", LV_USER_ENTRIES,
      { COL("id", COL_ID, id), COL("topic_id", COL_ID, topic), COL("topic_title", COL_TEXT, title),
        COL("course_id", COL_ID, course), COL(lv_body_field_names[LV_B_CREATED_AT], COL_TIME, created_at),
        COL(lv_body_field_names[LV_B_TEXT], COL_TEXT, text), COL("parent_id", COL_ID, parent),
        COL("role", COL_TEXT, role) } },
    { "messages", LV_USER_MESSAGES,
      { COL(lv_body_field_names[LV_B_MESSAGE_ID], COL_ID, id),
        COL(lv_body_field_names[LV_B_CONVERSATION_ID], COL_ID, topic),
        COL(lv_body_field_names[LV_B_CREATED_AT], COL_TIME, created_at) } },
    { "topics", LV_USER_TOPICS,
      { COL(lv_body_field_names[LV_B_DISCUSSION_TOPIC_ID], COL_ID, id),
        COL(lv_body_field_names[LV_B_TITLE], COL_TEXT, title), COL("course_id", COL_ID, course),
        COL(lv_body_field_names[LV_B_CREATED_AT], COL_TIME, created_at) } },
    { "conversations_started", LV_USER_CONVERSATIONS,
      { COL(lv_body_field_names[LV_B_CONVERSATION_ID], COL_ID, id),
        COL(lv_body_field_names[LV_B_CREATED_AT], COL_TIME, created_at) } },
};

typedef struct list_writer {
    lv_jw *w;
    const user_list *list;
    int64_t found;
} list_writer;

static lv_status write_row(void *ctx, const lv_user_row *row, lv_error *err)
{
    (void)err;
    list_writer *lw = ctx;
    lv_jw *w = lw->w;
    lw->found++;
    lv_jw_obj_open(w);
    for (int c = 0; c < USER_LIST_COLUMNS && lw->list->columns[c].name; c++) {
        const user_column *col = &lw->list->columns[c];
        const char *member = (const char *)row + col->offset;
        switch (col->kind) {
        case COL_ID: kv_id(w, col->name, *(const lv_opt *)member); break;
        case COL_TEXT: kv_text(w, col->name, *(const lv_str *)member); break;
        case COL_TIME: kv_time(w, col->name, *(const lv_opt *)member); break;
        }
    }
    lv_jw_obj_close(w);
    return LV_OK;
}

lv_status lv_query_user(lv_store *s, uint64_t user, const lv_query_window *win, lv_jw *w, lv_error *err)
{
    lv_query_window tmp;
    win = window_or_default(win, &tmp);
    lv_jw_obj_open(w);
    kv_id_value(w, lv_metadata_fields[LV_M_USER_ID].name, user);
    window_json(w, win);
    list_writer lw = { .w = w };
    lv_status rc = LV_OK;
    for (size_t i = 0; i < sizeof user_lists / sizeof *user_lists && rc == LV_OK; i++) {
        lw.list = &user_lists[i];
        lv_jw_key(w, lw.list->key);
        lv_jw_arr_open(w);
        rc = s->engine->user_list(s, lw.list->list, user, since_of(win), until_of(win), limit_of(win), win->offset,
                                  write_row, &lw, err);
        lv_jw_arr_close(w);
    }
    lv_jw_obj_close(w);
    if (rc != LV_OK)
        return rc;
    if (!lw.found && win->offset == 0) {
        int64_t events = 0;
        if ((rc = s->engine->user_events(s, user, &events, err)) != LV_OK)
            return rc;
        if (!events)
            return lv_fail(err, LV_ENOTFOUND, "user %llu has posted and sent nothing in %s",
                           (unsigned long long)user, lv_store_location(s));
    }
    return LV_OK;
}
