/* subs.c: the PostgreSQL engine's rows for subscriptions (levee/engine.h): not done yet; each operation says
 * so in a sentence (LV_EUNSUPPORTED), so `levee subscriptions` and delivery refuse a PostgreSQL store clearly. */
#include "pg.h"


static lv_status unsupported(lv_error *err, const char *what)
{
    return lv_fail(err, LV_EUNSUPPORTED, "%s is not done on PostgreSQL yet by this levee; use an SQLite store for it", what);
}

static lv_status pg_sub_insert(lv_store *s, const char *spec, lv_sub_state state, int64_t cursor, int64_t created_ms, int64_t *id, lv_error *err)
{
    (void)s;
    (void)spec;
    (void)state;
    (void)cursor;
    (void)created_ms;
    (void)id;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_set_spec(lv_store *s, int64_t id, const char *spec, lv_error *err)
{
    (void)s;
    (void)id;
    (void)spec;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_set_state(lv_store *s, int64_t id, lv_sub_state state, const char *reason, lv_error *err)
{
    (void)s;
    (void)id;
    (void)state;
    (void)reason;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_delete(lv_store *s, int64_t id, bool *found, lv_error *err)
{
    (void)s;
    (void)id;
    (void)found;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_get(lv_store *s, int64_t id, lv_sub_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)id;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_list(lv_store *s, lv_sub_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_progress(lv_store *s, int64_t id, const lv_sub_progress *p, lv_error *err)
{
    (void)s;
    (void)id;
    (void)p;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_lease(lv_store *s, int64_t id, const char *owner, int64_t now_ms, int64_t until_ms, bool *held, lv_error *err)
{
    (void)s;
    (void)id;
    (void)owner;
    (void)now_ms;
    (void)until_ms;
    (void)held;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_release(lv_store *s, int64_t id, const char *owner, lv_error *err)
{
    (void)s;
    (void)id;
    (void)owner;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_events_from(lv_store *s, int64_t from, unsigned limit, bool with_docs, lv_event_ref_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)from;
    (void)limit;
    (void)with_docs;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_event_ref(lv_store *s, int64_t id, lv_event_ref_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)id;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_events_end(lv_store *s, int64_t *next, lv_error *err)
{
    (void)s;
    (void)next;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_events_count_from(lv_store *s, int64_t from, int64_t *count, int64_t *first_received_ms, lv_error *err)
{
    (void)s;
    (void)from;
    (void)count;
    (void)first_received_ms;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_event_received_since(lv_store *s, int64_t received_ms, int64_t *row, lv_error *err)
{
    (void)s;
    (void)received_ms;
    (void)row;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_pending_put(lv_store *s, const lv_sub_pending_row *row, lv_error *err)
{
    (void)s;
    (void)row;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_pending_delete(lv_store *s, int64_t sub, int64_t event, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)event;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_pending_due(lv_store *s, int64_t sub, int64_t now_ms, unsigned limit, lv_sub_pending_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)now_ms;
    (void)limit;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_pending_summary(lv_store *s, int64_t sub, int64_t *count, int64_t *next_ms, int64_t *oldest_ms, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)count;
    (void)next_ms;
    (void)oldest_ms;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_events_between(lv_store *s, int64_t since_ms, int64_t until_ms, int64_t after_time_ms,
                                   const unsigned char *after_hash, unsigned limit, lv_event_ref_fn fn, void *ctx,
                                   lv_error *err)
{
    (void)s;
    (void)since_ms;
    (void)until_ms;
    (void)after_time_ms;
    (void)after_hash;
    (void)limit;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_replay_add(lv_store *s, int64_t sub, int64_t since_ms, int64_t until_ms, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)since_ms;
    (void)until_ms;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_replay_next(lv_store *s, int64_t sub, lv_sub_replay_row *row, bool *found, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)row;
    *found = false;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_replay_advance(lv_store *s, int64_t id, int64_t at_time_ms, const unsigned char *at_hash,
                                      bool done, lv_error *err)
{
    (void)s;
    (void)id;
    (void)at_time_ms;
    (void)at_hash;
    (void)done;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_pending_add(lv_store *s, int64_t sub, int64_t event, int64_t next_ms, bool *added, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)event;
    (void)next_ms;
    (void)added;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_dead_put(lv_store *s, const lv_sub_dead_row *row, lv_error *err)
{
    (void)s;
    (void)row;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_dead_list(lv_store *s, int64_t sub, unsigned limit, lv_sub_dead_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)limit;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_dead_count(lv_store *s, int64_t sub, int64_t *count, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)count;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_dead_requeue(lv_store *s, int64_t sub, int64_t now_ms, int64_t *queued, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)now_ms;
    (void)queued;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_attempt_add(lv_store *s, const lv_sub_attempt_row *row, unsigned keep, lv_error *err)
{
    (void)s;
    (void)row;
    (void)keep;
    return unsupported(err, "delivering to subscriptions");
}

static lv_status pg_sub_attempts(lv_store *s, int64_t sub, unsigned limit, lv_sub_attempt_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)sub;
    (void)limit;
    (void)fn;
    (void)ctx;
    return unsupported(err, "delivering to subscriptions");
}

void pg_fill_subs(lv_engine *e)
{
    e->sub_insert = pg_sub_insert;
    e->sub_set_spec = pg_sub_set_spec;
    e->sub_set_state = pg_sub_set_state;
    e->sub_delete = pg_sub_delete;
    e->sub_get = pg_sub_get;
    e->sub_list = pg_sub_list;
    e->sub_progress = pg_sub_progress;
    e->sub_lease = pg_sub_lease;
    e->sub_release = pg_sub_release;
    e->events_from = pg_events_from;
    e->event_ref = pg_event_ref;
    e->events_end = pg_events_end;
    e->events_count_from = pg_events_count_from;
    e->event_received_since = pg_event_received_since;
    e->sub_pending_put = pg_sub_pending_put;
    e->sub_pending_delete = pg_sub_pending_delete;
    e->sub_pending_due = pg_sub_pending_due;
    e->sub_pending_summary = pg_sub_pending_summary;
    e->events_between = pg_events_between;
    e->sub_replay_add = pg_sub_replay_add;
    e->sub_replay_next = pg_sub_replay_next;
    e->sub_replay_advance = pg_sub_replay_advance;
    e->sub_pending_add = pg_sub_pending_add;
    e->sub_dead_put = pg_sub_dead_put;
    e->sub_dead_list = pg_sub_dead_list;
    e->sub_dead_count = pg_sub_dead_count;
    e->sub_dead_requeue = pg_sub_dead_requeue;
    e->sub_attempt_add = pg_sub_attempt_add;
    e->sub_attempts = pg_sub_attempts;
}
