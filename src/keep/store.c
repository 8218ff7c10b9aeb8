/* store.c: the engine-neutral face of the store: opening by location, and every operation passed
 * to the engine that holds the data. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

lv_status lv_store_open(const char *location, const lv_store_options *opt, lv_store **out,
                        lv_error *err)
{
    static const lv_store_options defaults = { .create = true };
    if (!opt)
        opt = &defaults;
    if (!location || !*location)
        return lv_fail(err, LV_EINVAL, "no store given: pass --db PATH or set LEVEE_DB");
    if (strncmp(location, "postgres://", 11) == 0 || strncmp(location, "postgresql://", 13) == 0)
        return lv_fail(err, LV_EUNSUPPORTED,
                       "%s is a PostgreSQL URL, but this levee has only the embedded SQLite engine; "
                       "give a file path", location);
    return lv_sqlite_open(location, opt, out, err);
}

void lv_store_close(lv_store *s)
{
    if (s)
        s->engine->close(s);
}

const char *lv_store_location(const lv_store *s)
{
    return s->location;
}

lv_status lv_store_begin(lv_store *s, lv_error *err) { return s->engine->begin(s, err); }
lv_status lv_store_commit(lv_store *s, lv_error *err) { return s->engine->commit(s, err); }
void lv_store_rollback(lv_store *s) { s->engine->rollback(s); }
void lv_store_set_bulk(lv_store *s, bool durable) { s->engine->set_bulk(s, durable); }
lv_status lv_store_sync(lv_store *s, lv_error *err) { return s->engine->sync(s, err); }

lv_status lv_store_set_mark(lv_store *s, const char *name, uint64_t value, lv_error *err)
{
    return s->engine->set_mark(s, name, value, err);
}

lv_status lv_store_get_mark(lv_store *s, const char *name, uint64_t *value, lv_error *err)
{
    return s->engine->get_mark(s, name, value, err);
}
const lv_dict *lv_store_dict(lv_store *s) { return s->engine->dict(s); }
lv_status lv_store_maybe_train(lv_store *s, lv_error *err) { return s->engine->maybe_train(s, err); }

lv_status lv_store_write(lv_store *s, lv_batch *b, lv_counts *counts, lv_error *err)
{
    return s->engine->write(s, b, counts, err);
}

lv_status lv_store_export(lv_store *s, const lv_export_filter *f,
                          lv_status (*emit)(void *ctx, const char *raw, size_t len, lv_error *err),
                          void *ctx, lv_error *err)
{
    static const lv_export_filter all = { 0 };
    return s->engine->export_docs(s, f ? f : &all, emit, ctx, err);
}

lv_status lv_store_resolve_id(lv_store *s, uint64_t id, uint64_t *global, lv_error *err)
{
    return s->engine->resolve_id(s, id, global, err);
}

lv_status lv_store_stats(lv_store *s, lv_jw *w, lv_error *err) { return s->engine->stats(s, w, err); }

lv_status lv_query_topic(lv_store *s, uint64_t topic, lv_jw *w, lv_error *err)
{
    return s->engine->topic(s, topic, w, err);
}

lv_status lv_query_conversation(lv_store *s, uint64_t conversation, lv_jw *w, lv_error *err)
{
    return s->engine->conversation(s, conversation, w, err);
}

static const lv_query_window *window_or_default(const lv_query_window *win, lv_query_window *tmp)
{
    if (win)
        return win;
    memset(tmp, 0, sizeof *tmp);
    tmp->now_ms = lv_now_ms();
    return tmp;
}

lv_status lv_query_course(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w,
                          lv_error *err)
{
    lv_query_window tmp;
    return s->engine->course(s, course, window_or_default(win, &tmp), w, err);
}

lv_status lv_query_user(lv_store *s, uint64_t user, const lv_query_window *win, lv_jw *w,
                        lv_error *err)
{
    lv_query_window tmp;
    return s->engine->user(s, user, window_or_default(win, &tmp), w, err);
}

lv_status lv_query_courses(lv_store *s, lv_jw *w, lv_error *err)
{
    return s->engine->courses(s, w, err);
}

lv_status lv_query_search(lv_store *s, const char *text, uint64_t course, const lv_query_window *win,
                          lv_jw *w, lv_error *err)
{
    lv_query_window tmp;
    return s->engine->search(s, text, course, window_or_default(win, &tmp), w, err);
}
