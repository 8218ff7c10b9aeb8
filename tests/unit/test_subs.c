/* test_subs.c: the embedded engine's rows for subscriptions (src/engines/sqlite/subs.c, through the
 * operations of levee/engine.h) on temporary SQLite stores:
 * - insert, get and list (by id; an unknown id calls nothing), set_spec, set_state (resuming clears
 *   the failure streak), delete with every dependent row (pending, dead letters, attempts, replays) and found
 *   false the second time; ids never given twice;
 * - progress: counters add up over rounds, the cursor never moves back, -1 and NULL leave a value;
 * - the lease: held by one owner, renewed by it, refused to another until it has expired, then taken
 *   over; released only by its holder;
 * - events in arrival order (from a row, a limit, heads without documents), one event, the end, the
 *   first received at or after a time;
 * - pending: due ones by next attempt then event, a limit, put replaces, the summary (count, the
 *   earliest next attempt, the oldest event's arrival);
 * - replay: the events of a window of event times in chunks (a limit, then after the last one read),
 *   each queued once without touching a row already pending; a replay recorded, read back oldest
 *   first, moved along and removed at its end, counted in the subscription's row, and removed with it;
 * - dead letters: newest first with the event's name and time, counted, requeued as fresh pending
 *   rows (due now, no attempts) and gone from the dead letters;
 * - attempts: newest first with the event's name; trimming keeps about the newest `keep` of each
 *   subscription (at most keep + 256 after 1000), also when two subscriptions' attempts alternate. */
#include "testing.h"

#include "levee/engine.h"
#include "levee/engines.h"
#include "levee/timestamp.h"

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define HOUR 3600000LL

static lv_store *new_store(void)
{
    lv_store *s = NULL;
    lv_error err;
    check(lv_store_open(path_in("subs.db"), NULL, &s, &err), &err);
    lv_store_set_bulk(s, true);
    return s;
}

static const char *iso(int64_t ms)
{
    static char text[8][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 8];
    lv_time_format(ms, t);
    return t;
}

/* Stores n entries (event rows 1..n in arrival order), entry i at T0 + i hours. */
static void store_entries(lv_store *s, int first, int n)
{
    lv_batch *b = lv_batch_new();
    for (int i = first; i < first + n; i++) {
        char text[1024];
        snprintf(text, sizeof text,
                 "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"%s\",\"user_id\":\"2\","
                 "\"context_type\":\"Course\",\"context_id\":\"5\"},\"body\":{\"created_at\":\"%s\","
                 "\"discussion_entry_id\":\"%d\",\"discussion_topic_id\":\"10\",\"text\":\"<p>e</p>\",\"user_id\":\"2\"}}",
                 iso(T0 + i * HOUR), iso(T0 + i * HOUR), i);
        lv_batch_add(b, text, strlen(text), "test", i, NULL);
    }
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    check(lv_batch_prepare(b, z, lv_store_dict(s), &err), &err);
    lv_zctx_free(z);
    lv_counts c = { 0 };
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_commit(s, &err), &err);
    assert_int_equal(c.stored, (uint64_t)n);
    lv_batch_free(b);
}

/* ---- reading rows back ---- */

typedef struct sub_copy {
    bool found;
    int calls;
    lv_sub_row row;
    char spec[256], reason[128], last_error[128];
} sub_copy;

static lv_status copy_sub(void *ctx, const lv_sub_row *r, lv_error *err)
{
    (void)err;
    sub_copy *c = ctx;
    c->found = true;
    c->calls++;
    c->row = *r;
    snprintf(c->spec, sizeof c->spec, "%.*s", (int)r->spec.n, r->spec.p ? r->spec.p : "");
    snprintf(c->reason, sizeof c->reason, "%.*s", (int)r->reason.n, r->reason.p ? r->reason.p : "");
    snprintf(c->last_error, sizeof c->last_error, "%.*s", (int)r->last_error.n,
             r->last_error.p ? r->last_error.p : "");
    return LV_OK;
}

static sub_copy get(lv_store *s, int64_t id)
{
    sub_copy c;
    memset(&c, 0, sizeof c);
    lv_error err;
    check(s->engine->sub_get(s, id, copy_sub, &c, &err), &err);
    return c;
}

static int64_t insert(lv_store *s, const char *spec, int64_t cursor)
{
    int64_t id = 0;
    lv_error err;
    check(s->engine->sub_insert(s, spec, LV_SUB_ACTIVE, cursor, T0, &id, &err), &err);
    assert_true(id > 0);
    return id;
}

typedef struct ids {
    int64_t v[512];
    int64_t extra[512]; /* a second number per row (attempts, next, ...) */
    int64_t received[512];
    char names[512][96];
    size_t n;
} ids;

static lv_status list_sub(void *ctx, const lv_sub_row *r, lv_error *err)
{
    (void)err;
    ids *l = ctx;
    l->v[l->n++] = r->id;
    return LV_OK;
}

static lv_status list_pending(void *ctx, const lv_sub_pending_row *r, lv_error *err)
{
    (void)err;
    ids *l = ctx;
    assert_true(l->n < 512);
    l->extra[l->n] = r->attempts;
    snprintf(l->names[l->n], sizeof l->names[0], "%lld", (long long)r->next_ms);
    l->v[l->n++] = r->event;
    return LV_OK;
}

static lv_status list_ref(void *ctx, const lv_event_ref *r, lv_error *err)
{
    (void)err;
    ids *l = ctx;
    assert_true(l->n < 512);
    l->extra[l->n] = (int64_t)r->doc.n;
    l->received[l->n] = r->received_ms;
    snprintf(l->names[l->n], sizeof l->names[0], "%.*s", (int)r->name.n, r->name.p);
    l->v[l->n++] = r->id;
    return LV_OK;
}

static lv_status list_dead(void *ctx, const lv_sub_dead_row *r, lv_error *err)
{
    (void)err;
    ids *l = ctx;
    assert_true(l->n < 512);
    l->extra[l->n] = r->event_time_ms;
    snprintf(l->names[l->n], sizeof l->names[0], "%.*s|%lld|%.*s|%.*s", (int)r->event_name.n,
             r->event_name.p ? r->event_name.p : "", (long long)r->status, (int)r->answer.n,
             r->answer.p ? r->answer.p : "", (int)r->error.n, r->error.p ? r->error.p : "");
    l->v[l->n++] = r->event;
    return LV_OK;
}

static lv_status list_attempt(void *ctx, const lv_sub_attempt_row *r, lv_error *err)
{
    (void)err;
    ids *l = ctx;
    assert_true(l->n < 512);
    l->extra[l->n] = r->at_ms;
    snprintf(l->names[l->n], sizeof l->names[0], "%.*s|%lld|%.*s", (int)r->event_name.n,
             r->event_name.p ? r->event_name.p : "", (long long)r->status, (int)r->error.n,
             r->error.p ? r->error.p : "");
    l->v[l->n++] = r->event;
    return LV_OK;
}

static ids *new_ids(void)
{
    return calloc(1, sizeof(ids));
}

/* ---- the tests ---- */

static void test_insert_get_list(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    int64_t a = insert(s, "{\"url\":\"http://a/\"}", 1);
    int64_t b = insert(s, "{\"url\":\"http://b/\"}", 7);
    assert_true(b > a);
    sub_copy c = get(s, b);
    assert_true(c.found);
    assert_int_equal(c.calls, 1);
    assert_string_equal(c.spec, "{\"url\":\"http://b/\"}");
    assert_int_equal(c.row.state, LV_SUB_ACTIVE);
    assert_int_equal(c.row.cursor, 7);
    assert_int_equal(c.row.created_ms, T0);
    assert_int_equal(c.row.delivered + c.row.failed_attempts + c.row.skipped + c.row.dead_letters + c.row.pending, 0);
    assert_int_equal(c.row.last_success_ms, 0);
    assert_string_equal(c.reason, "");
    assert_false(get(s, b + 100).found);

    ids *l = new_ids();
    check(s->engine->sub_list(s, list_sub, l, &err), &err);
    assert_int_equal(l->n, 2);
    assert_int_equal(l->v[0], a);
    assert_int_equal(l->v[1], b);

    check(s->engine->sub_set_spec(s, a, "{\"url\":\"http://c/\"}", &err), &err);
    assert_string_equal(get(s, a).spec, "{\"url\":\"http://c/\"}");
    assert_string_equal(get(s, b).spec, "{\"url\":\"http://b/\"}");

    /* removed, and its id never given again */
    bool found = false;
    check(s->engine->sub_delete(s, b, &found, &err), &err);
    assert_true(found);
    check(s->engine->sub_delete(s, b, &found, &err), &err);
    assert_false(found);
    int64_t c2 = insert(s, "{\"url\":\"http://d/\"}", 1);
    assert_true(c2 > b);
    free(l);
    lv_store_close(s);
}

static void test_state_and_progress(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    int64_t id = insert(s, "{}", 3);
    lv_sub_progress p = { .cursor = 10, .delivered = 4, .failed_attempts = 2, .skipped = 1,
                          .failing_since_ms = T0, .last_success_ms = T0 + 5, .last_error = "HTTP 500 (event 9)" };
    check(s->engine->sub_progress(s, id, &p, &err), &err);
    p = (lv_sub_progress){ .cursor = 8, .delivered = 3, .failed_attempts = 1, .skipped = 0, .failing_since_ms = -1,
                           .last_success_ms = -1, .last_error = NULL };
    check(s->engine->sub_progress(s, id, &p, &err), &err);
    sub_copy c = get(s, id);
    assert_int_equal(c.row.cursor, 10); /* never back */
    assert_int_equal(c.row.delivered, 7);
    assert_int_equal(c.row.failed_attempts, 3);
    assert_int_equal(c.row.skipped, 1);
    assert_int_equal(c.row.failing_since_ms, T0);
    assert_int_equal(c.row.last_success_ms, T0 + 5);
    assert_string_equal(c.last_error, "HTTP 500 (event 9)");
    p = (lv_sub_progress){ .cursor = 12, .failing_since_ms = 0, .last_success_ms = T0 + 9, .last_error = "" };
    check(s->engine->sub_progress(s, id, &p, &err), &err);
    c = get(s, id);
    assert_int_equal(c.row.cursor, 12);
    assert_int_equal(c.row.failing_since_ms, 0);
    assert_int_equal(c.row.last_success_ms, T0 + 9);
    assert_string_equal(c.last_error, "");

    /* disabled with its reason; resuming clears the failure streak */
    p = (lv_sub_progress){ .cursor = -1, .failing_since_ms = T0 + 20, .last_success_ms = -1 };
    check(s->engine->sub_progress(s, id, &p, &err), &err);
    check(s->engine->sub_set_state(s, id, LV_SUB_DISABLED, "the target answered 410 Gone", &err), &err);
    c = get(s, id);
    assert_int_equal(c.row.state, LV_SUB_DISABLED);
    assert_string_equal(c.reason, "the target answered 410 Gone");
    assert_int_equal(c.row.failing_since_ms, T0 + 20);
    assert_int_equal(c.row.cursor, 12);
    check(s->engine->sub_set_state(s, id, LV_SUB_PAUSED, "paused by a user", &err), &err);
    assert_int_equal(get(s, id).row.failing_since_ms, T0 + 20);
    check(s->engine->sub_set_state(s, id, LV_SUB_ACTIVE, NULL, &err), &err);
    c = get(s, id);
    assert_int_equal(c.row.state, LV_SUB_ACTIVE);
    assert_string_equal(c.reason, "");
    assert_int_equal(c.row.failing_since_ms, 0);
    lv_store_close(s);
}

static void test_lease(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    int64_t id = insert(s, "{}", 1), other = insert(s, "{}", 1);
    bool held = false;
    check(s->engine->sub_lease(s, id, "a", T0, T0 + 30000, &held, &err), &err);
    assert_true(held);
    check(s->engine->sub_lease(s, id, "b", T0 + 1000, T0 + 31000, &held, &err), &err);
    assert_false(held);
    check(s->engine->sub_lease(s, other, "b", T0 + 1000, T0 + 31000, &held, &err), &err); /* its own lease */
    assert_true(held);
    check(s->engine->sub_lease(s, id, "a", T0 + 20000, T0 + 50000, &held, &err), &err); /* renewed */
    assert_true(held);
    check(s->engine->sub_lease(s, id, "b", T0 + 40000, T0 + 70000, &held, &err), &err); /* a's lease runs on */
    assert_false(held);
    check(s->engine->sub_lease(s, id, "b", T0 + 50000, T0 + 80000, &held, &err), &err); /* to its very end */
    assert_false(held);
    check(s->engine->sub_lease(s, id, "b", T0 + 50001, T0 + 80001, &held, &err), &err); /* expired: taken over */
    assert_true(held);
    check(s->engine->sub_lease(s, id, "a", T0 + 50002, T0 + 80002, &held, &err), &err);
    assert_false(held);
    check(s->engine->sub_release(s, id, "a", &err), &err); /* not a's to give back */
    check(s->engine->sub_lease(s, id, "a", T0 + 50003, T0 + 80003, &held, &err), &err);
    assert_false(held);
    check(s->engine->sub_release(s, id, "b", &err), &err);
    check(s->engine->sub_lease(s, id, "a", T0 + 50004, T0 + 80004, &held, &err), &err);
    assert_true(held);
    lv_store_close(s);
}

static void test_events_in_order(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    int64_t end = 0;
    check(s->engine->events_end(s, &end, &err), &err);
    assert_int_equal(end, 1); /* an empty store: the first row to come */
    int64_t before = lv_now_ms();
    store_entries(s, 1, 5);
    check(s->engine->events_end(s, &end, &err), &err);
    assert_int_equal(end, 6);
    ids *l = new_ids();
    check(s->engine->events_from(s, 3, 2, false, list_ref, l, &err), &err);
    assert_int_equal(l->n, 2);
    assert_int_equal(l->v[0], 3);
    assert_int_equal(l->v[1], 4);
    assert_int_equal(l->extra[0], 0); /* heads only */
    assert_string_equal(l->names[0], "discussion_entry_created");
    memset(l, 0, sizeof *l);
    check(s->engine->events_from(s, 1, 100, true, list_ref, l, &err), &err);
    assert_int_equal(l->n, 5);
    assert_true(l->extra[4] > 100); /* the document */
    memset(l, 0, sizeof *l);
    check(s->engine->event_ref(s, 2, list_ref, l, &err), &err);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->v[0], 2);
    memset(l, 0, sizeof *l);
    check(s->engine->event_ref(s, 99, list_ref, l, &err), &err);
    assert_int_equal(l->n, 0);
    int64_t row = 0;
    check(s->engine->event_received_since(s, before - 1000, &row, &err), &err);
    assert_int_equal(row, 1);
    check(s->engine->event_received_since(s, lv_now_ms() + HOUR, &row, &err), &err);
    assert_int_equal(row, 6); /* none yet: the next to come */
    free(l);
    lv_store_close(s);
}

static void test_pending(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 5);
    int64_t id = insert(s, "{}", 6), other = insert(s, "{}", 6);
    lv_sub_pending_row rows[] = {
        { id, 4, 1, T0, T0 + 300 }, { id, 2, 2, T0, T0 + 100 }, { id, 3, 1, T0, T0 + 100 },
        { id, 5, 1, T0, T0 + 900 }, { other, 1, 1, T0, T0 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        check(s->engine->sub_pending_put(s, &rows[i], &err), &err);
    ids *l = new_ids();
    check(s->engine->sub_pending_due(s, id, T0 + 300, 10, list_pending, l, &err), &err);
    assert_int_equal(l->n, 3); /* by next attempt, then event; not the one due later, not another's */
    assert_int_equal(l->v[0], 2);
    assert_int_equal(l->v[1], 3);
    assert_int_equal(l->v[2], 4);
    assert_int_equal(l->extra[0], 2);
    memset(l, 0, sizeof *l);
    check(s->engine->sub_pending_due(s, id, T0 + 1000, 2, list_pending, l, &err), &err);
    assert_int_equal(l->n, 2);
    /* put replaces: event 2 is now due last */
    lv_sub_pending_row again = { id, 2, 3, T0, T0 + 950 };
    check(s->engine->sub_pending_put(s, &again, &err), &err);
    memset(l, 0, sizeof *l);
    check(s->engine->sub_pending_due(s, id, T0 + 1000, 10, list_pending, l, &err), &err);
    assert_int_equal(l->n, 4);
    assert_int_equal(l->v[3], 2);
    assert_int_equal(l->extra[3], 3);
    int64_t count = 0, next = 0, oldest = 0;
    check(s->engine->sub_pending_summary(s, id, &count, &next, &oldest, &err), &err);
    assert_int_equal(count, 4);
    assert_int_equal(next, T0 + 100);
    memset(l, 0, sizeof *l);
    check(s->engine->events_from(s, 2, 4, false, list_ref, l, &err), &err); /* the pending ones: 2 to 5 */
    int64_t want = INT64_MAX;
    for (size_t i = 0; i < l->n; i++)
        want = l->received[i] < want ? l->received[i] : want;
    assert_int_equal(l->n, 4);
    assert_int_equal(oldest, want);
    assert_int_equal(get(s, id).row.pending, 4);
    check(s->engine->sub_pending_delete(s, id, 3, &err), &err);
    check(s->engine->sub_pending_summary(s, id, &count, &next, &oldest, &err), &err);
    assert_int_equal(count, 3);
    assert_int_equal(next, T0 + 300);
    check(s->engine->sub_pending_summary(s, other + 5, &count, &next, &oldest, &err), &err);
    assert_int_equal(count + next + oldest, 0);
    free(l);
    lv_store_close(s);
}

/* The position after the last row read (its event time and key). */
typedef struct position {
    int n;
    int64_t last, time;
    unsigned char hash[LV_HASH_BYTES];
} position;

static lv_status at_row(void *ctx, const lv_event_ref *r, lv_error *err)
{
    (void)err;
    position *p = ctx;
    p->n++;
    p->last = r->id;
    p->time = r->time_ms;
    memcpy(p->hash, r->hash, LV_HASH_BYTES);
    return LV_OK;
}

static void test_replay(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 5); /* event times T0+1h ... T0+5h */
    int64_t id = insert(s, "{}", 6);
    /* the window [T0+2h, T0+5h) holds events 2, 3 and 4, by time */
    ids *w = new_ids();
    check(s->engine->events_between(s, T0 + 2 * HOUR, T0 + 5 * HOUR, 0, NULL, 100, list_ref, w, &err), &err);
    assert_int_equal(w->n, 3);
    assert_int_equal(w->v[0], 2);
    assert_int_equal(w->v[2], 4);
    free(w);
    /* in chunks: two, then what comes after the second */
    position p = { 0 };
    check(s->engine->events_between(s, T0 + 2 * HOUR, T0 + 5 * HOUR, 0, NULL, 2, at_row, &p, &err), &err);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.last, 3);
    position q = { 0 };
    check(s->engine->events_between(s, T0 + 2 * HOUR, T0 + 5 * HOUR, p.time, p.hash, 2, at_row, &q, &err), &err);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.last, 4);
    position none = { 0 };
    check(s->engine->events_between(s, T0 + 2 * HOUR, T0 + 5 * HOUR, q.time, q.hash, 2, at_row, &none, &err), &err);
    assert_int_equal(none.n, 0);
    /* a replay: recorded, read back oldest first, moved along, removed at its end */
    lv_sub_replay_row r;
    bool found = true;
    check(s->engine->sub_replay_next(s, id, &r, &found, &err), &err);
    assert_false(found);
    check(s->engine->sub_replay_add(s, id, T0 + 2 * HOUR, T0 + 5 * HOUR, &err), &err);
    check(s->engine->sub_replay_add(s, id, T0, T0 + HOUR, &err), &err);
    assert_int_equal(get(s, id).row.replays, 2);
    check(s->engine->sub_replay_next(s, id, &r, &found, &err), &err);
    assert_true(found);
    assert_false(r.started);
    assert_int_equal(r.since_ms, T0 + 2 * HOUR);
    assert_int_equal(r.until_ms, T0 + 5 * HOUR);
    check(s->engine->sub_replay_advance(s, r.id, p.time, p.hash, false, &err), &err);
    lv_sub_replay_row moved;
    check(s->engine->sub_replay_next(s, id, &moved, &found, &err), &err);
    assert_true(found && moved.started);
    assert_int_equal(moved.id, r.id);
    assert_int_equal(moved.at_time_ms, p.time);
    assert_memory_equal(moved.at_hash, p.hash, LV_HASH_BYTES);
    check(s->engine->sub_replay_advance(s, r.id, 0, NULL, true, &err), &err);
    check(s->engine->sub_replay_next(s, id, &moved, &found, &err), &err);
    assert_true(found);
    assert_int_equal(moved.since_ms, T0); /* the second one, now the oldest */
    assert_int_equal(get(s, id).row.replays, 1);
    int64_t other = insert(s, "{}", 6);
    assert_int_equal(get(s, other).row.replays, 0);
    lv_sub_pending_row waiting = { id, 3, 4, T0 - HOUR, T0 + 99 * HOUR };
    check(s->engine->sub_pending_put(s, &waiting, &err), &err);
    bool added = false;
    for (int64_t e = 2; e <= 4; e++) {
        check(s->engine->sub_pending_add(s, id, e, T0 + 7, &added, &err), &err);
        assert_int_equal(added, e != 3); /* 3 was waiting already */
    }
    ids *l = new_ids();
    check(s->engine->sub_pending_due(s, id, INT64_MAX, 100, list_pending, l, &err), &err);
    assert_int_equal(l->n, 3);
    assert_int_equal(l->v[0], 2);
    assert_int_equal(l->extra[0], 0);
    assert_string_equal(l->names[0], "1725300000007");
    assert_int_equal(l->v[1], 4);
    assert_int_equal(l->v[2], 3); /* untouched: its attempts and schedule kept */
    assert_int_equal(l->extra[2], 4);
    check(s->engine->sub_pending_add(s, id, 2, T0 + 8, &added, &err), &err);
    assert_false(added);
    assert_int_equal(get(s, id).row.pending, 3);
    free(l);
    lv_store_close(s);
}

static void test_dead_letters(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 3);
    int64_t id = insert(s, "{}", 4), other = insert(s, "{}", 4);
    lv_sub_dead_row d1 = { .sub = id, .event = 1, .attempts = 5, .status = 503, .answer = { "busy", 4 },
                           .error = { "the target answered HTTP 503", 28 }, .first_attempt_ms = T0,
                           .last_attempt_ms = T0 + 10 };
    lv_sub_dead_row d2 = { .sub = id, .event = 2, .attempts = 1, .status = 0, .answer = { "", 0 },
                           .error = { "Connection refused", 18 }, .first_attempt_ms = T0, .last_attempt_ms = T0 + 20 };
    lv_sub_dead_row d3 = { .sub = other, .event = 3, .attempts = 1, .status = 400, .error = { "no", 2 },
                           .first_attempt_ms = T0, .last_attempt_ms = T0 + 30 };
    check(s->engine->sub_dead_put(s, &d1, &err), &err);
    check(s->engine->sub_dead_put(s, &d2, &err), &err);
    check(s->engine->sub_dead_put(s, &d3, &err), &err);
    lv_sub_pending_row p = { id, 1, 5, T0, T0 + 5 }; /* a stale pending row of a dead letter */
    check(s->engine->sub_pending_put(s, &p, &err), &err);
    ids *l = new_ids();
    check(s->engine->sub_dead_list(s, id, 10, list_dead, l, &err), &err);
    assert_int_equal(l->n, 2);
    assert_int_equal(l->v[0], 2); /* newest first */
    assert_string_equal(l->names[0], "discussion_entry_created|0||Connection refused");
    assert_int_equal(l->extra[0], T0 + 2 * HOUR);
    assert_string_equal(l->names[1], "discussion_entry_created|503|busy|the target answered HTTP 503");
    memset(l, 0, sizeof *l);
    check(s->engine->sub_dead_list(s, id, 1, list_dead, l, &err), &err);
    assert_int_equal(l->n, 1);
    int64_t count = 0;
    check(s->engine->sub_dead_count(s, id, &count, &err), &err);
    assert_int_equal(count, 2);
    assert_int_equal(get(s, id).row.dead_letters, 2);

    int64_t queued = 0;
    check(s->engine->sub_dead_requeue(s, id, T0 + 100, &queued, &err), &err);
    assert_int_equal(queued, 2);
    check(s->engine->sub_dead_count(s, id, &count, &err), &err);
    assert_int_equal(count, 0);
    check(s->engine->sub_dead_count(s, other, &count, &err), &err);
    assert_int_equal(count, 1); /* another's stay */
    memset(l, 0, sizeof *l);
    check(s->engine->sub_pending_due(s, id, T0 + 100, 10, list_pending, l, &err), &err);
    assert_int_equal(l->n, 2);
    assert_int_equal(l->extra[0] + l->extra[1], 0); /* fresh: no attempts */
    assert_string_equal(l->names[0], "1725300000100");
    check(s->engine->sub_dead_requeue(s, id, T0 + 200, &queued, &err), &err);
    assert_int_equal(queued, 0);
    free(l);
    lv_store_close(s);
}

static void test_delete_removes_rows(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 2);
    int64_t id = insert(s, "{}", 3), other = insert(s, "{}", 3);
    for (int64_t sub = id; sub <= other; sub++) {
        lv_sub_pending_row p = { sub, 1, 1, T0, T0 };
        lv_sub_dead_row d = { .sub = sub, .event = 2, .attempts = 1, .status = 400, .last_attempt_ms = T0 };
        lv_sub_attempt_row a = { .sub = sub, .event = 1, .at_ms = T0, .status = 500 };
        check(s->engine->sub_pending_put(s, &p, &err), &err);
        check(s->engine->sub_dead_put(s, &d, &err), &err);
        check(s->engine->sub_attempt_add(s, &a, 200, &err), &err);
        check(s->engine->sub_replay_add(s, sub, T0, T0 + HOUR, &err), &err);
    }
    bool found = false;
    check(s->engine->sub_delete(s, id, &found, &err), &err);
    assert_true(found);
    lv_sub_replay_row r;
    check(s->engine->sub_replay_next(s, id, &r, &found, &err), &err);
    assert_false(found);
    check(s->engine->sub_replay_next(s, other, &r, &found, &err), &err);
    assert_true(found);
    ids *l = new_ids();
    int64_t count = -1, next, oldest;
    check(s->engine->sub_pending_summary(s, id, &count, &next, &oldest, &err), &err);
    assert_int_equal(count, 0);
    check(s->engine->sub_dead_count(s, id, &count, &err), &err);
    assert_int_equal(count, 0);
    check(s->engine->sub_attempts(s, id, 10, list_attempt, l, &err), &err);
    assert_int_equal(l->n, 0);
    /* the other's rows are kept */
    check(s->engine->sub_pending_summary(s, other, &count, &next, &oldest, &err), &err);
    assert_int_equal(count, 1);
    check(s->engine->sub_dead_count(s, other, &count, &err), &err);
    assert_int_equal(count, 1);
    check(s->engine->sub_attempts(s, other, 10, list_attempt, l, &err), &err);
    assert_int_equal(l->n, 1);
    /* inside an open transaction, and rolled back with it */
    check(lv_store_begin(s, &err), &err);
    check(s->engine->sub_delete(s, other, &found, &err), &err);
    assert_true(found);
    lv_store_rollback(s);
    assert_true(get(s, other).found);
    free(l);
    lv_store_close(s);
}

static void test_attempts(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 2);
    int64_t id = insert(s, "{}", 3);
    lv_sub_attempt_row a = { .sub = id, .event = 1, .at_ms = T0, .status = 0, .latency_ms = 15000,
                             .error = { "Operation timed out", 19 } };
    check(s->engine->sub_attempt_add(s, &a, 200, &err), &err);
    a = (lv_sub_attempt_row){ .sub = id, .event = 2, .at_ms = T0 + 1, .status = 204, .latency_ms = 3 };
    check(s->engine->sub_attempt_add(s, &a, 200, &err), &err);
    ids *l = new_ids();
    check(s->engine->sub_attempts(s, id, 10, list_attempt, l, &err), &err);
    assert_int_equal(l->n, 2);
    assert_string_equal(l->names[0], "discussion_entry_created|204|");
    assert_string_equal(l->names[1], "discussion_entry_created|0|Operation timed out");
    memset(l, 0, sizeof *l);
    check(s->engine->sub_attempts(s, id, 1, list_attempt, l, &err), &err);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->extra[0], T0 + 1);
    free(l);
    lv_store_close(s);
}

/* How many attempts the subscription keeps now (at most 512 listed). */
static size_t kept(lv_store *s, int64_t sub, int64_t *newest)
{
    ids *l = new_ids();
    lv_error err;
    check(s->engine->sub_attempts(s, sub, 512, list_attempt, l, &err), &err);
    size_t n = l->n;
    *newest = n ? l->extra[0] : 0;
    free(l);
    return n;
}

/* The newest `keep` stay, give or take a few dozen (never the 1000 written): for one subscription,
 * and for two whose attempts alternate. */
static void test_attempts_trimmed(void **state)
{
    (void)state;
    lv_store *s = new_store();
    lv_error err;
    store_entries(s, 1, 1);
    int64_t one = insert(s, "{}", 2);
    check(lv_store_begin(s, &err), &err);
    for (int i = 0; i < 1000; i++) {
        lv_sub_attempt_row a = { .sub = one, .event = 1, .at_ms = T0 + i, .status = 500 };
        check(s->engine->sub_attempt_add(s, &a, 200, &err), &err);
    }
    check(lv_store_commit(s, &err), &err);
    int64_t newest = 0;
    size_t n = kept(s, one, &newest);
    if (n < 200 || n > 456)
        fail_msg("one subscription keeps %zu attempts, not about 200", n);
    assert_int_equal(newest, T0 + 999);

    int64_t a = insert(s, "{}", 2), b = insert(s, "{}", 2);
    check(lv_store_begin(s, &err), &err);
    for (int i = 0; i < 1000; i++) {
        for (int64_t sub = a; sub <= b; sub++) {
            lv_sub_attempt_row at = { .sub = sub, .event = 1, .at_ms = T0 + i, .status = 500 };
            check(s->engine->sub_attempt_add(s, &at, 200, &err), &err);
        }
    }
    check(lv_store_commit(s, &err), &err);
    for (int64_t sub = a; sub <= b; sub++) {
        n = kept(s, sub, &newest);
        if (n < 200 || n > 456)
            fail_msg("subscription %lld keeps %zu attempts, not about 200", (long long)sub, n);
        assert_int_equal(newest, T0 + 999);
    }
    assert_true(kept(s, one, &newest) <= 264);
    lv_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_get_list, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_state_and_progress, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_lease, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_events_in_order, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_pending, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_replay, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_rows, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_attempts, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_attempts_trimmed, temp_dir_setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
