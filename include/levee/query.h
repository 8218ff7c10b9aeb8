/* levee/query.h (stage: answer): the questions people ask of a store, answered as JSON in the shapes
 * `levee query --json`, `levee search --json`, `levee stats --json` and the HTTP API return
 * (docs/api.md). Each is written once, here, over the engine's reads (levee/engine.h), so every
 * engine gives the same bytes. */
#ifndef LEVEE_QUERY_H
#define LEVEE_QUERY_H

#include "levee/store.h"

typedef struct lv_query_window {
    bool has_since, has_until;
    int64_t since_ms, until_ms;
    int64_t now_ms;     /* "now" for waiting times (the window's end when given) */
    unsigned limit;     /* list lengths for pages (0: a sensible default) */
    unsigned offset;
} lv_query_window;

/* Each writes one JSON object; LV_ENOTFOUND when the thing is not in the store, LV_EDAMAGED when the
 * store cannot be read. On an error, what was written to w is incomplete: discard it. */
lv_status lv_query_stats(lv_store *s, lv_jw *w, lv_error *err);
lv_status lv_query_topic(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err);
lv_status lv_query_conversation(lv_store *s, uint64_t conversation, lv_jw *w, lv_error *err);
lv_status lv_query_course(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w,
                          lv_error *err);
lv_status lv_query_user(lv_store *s, uint64_t user, const lv_query_window *win, lv_jw *w,
                        lv_error *err);
lv_status lv_query_courses(lv_store *s, lv_jw *w, lv_error *err);
lv_status lv_query_search(lv_store *s, const char *text, uint64_t course, const lv_query_window *win,
                          lv_jw *w, lv_error *err);

#endif
