/* admin.c: managing subscriptions, as `levee subscriptions ...` and /api/subscriptions do it: add, list,
 * show (with the lag and the recent attempts), pause and resume, remove, replay a window, redeliver the
 * dead letters, rotate a secret. Each writes its answer as JSON (docs/subscriptions.md). */
#include "deliver.h"

#include "levee/timestamp.h"

#include <stdlib.h>
#include <string.h>

#define LISTED_DEAD 1000
#define LAG_SCAN_MAX 200000 /* events read past the cursor to count the lag, at most */

/* A subscription read from the store, with its settings parsed. */
typedef struct loaded {
    bool found;
    lv_sub_row row; /* strings below, not the row's */
    char *reason, *last_error, *spec_text;
    dl_spec spec;
    lv_status rc;
    lv_error err;
} loaded;

static lv_status take_row(void *ctx, const lv_sub_row *r, lv_error *err)
{
    (void)err;
    loaded *l = ctx;
    l->found = true;
    l->row = *r;
    l->reason = lv_xstrndup(r->reason.p ? r->reason.p : "", r->reason.n);
    l->last_error = lv_xstrndup(r->last_error.p ? r->last_error.p : "", r->last_error.n);
    l->spec_text = lv_xstrndup(r->spec.p ? r->spec.p : "", r->spec.n);
    return LV_OK;
}

static void loaded_free(loaded *l)
{
    free(l->reason);
    free(l->last_error);
    free(l->spec_text);
    dl_spec_free(&l->spec);
    memset(l, 0, sizeof *l);
}

static lv_status load(lv_store *s, int64_t id, loaded *l, lv_error *err)
{
    memset(l, 0, sizeof *l);
    lv_status rc = s->engine->sub_get(s, id, take_row, l, err);
    if (rc == LV_OK && !l->found)
        rc = lv_fail(err, LV_ENOTFOUND, "there is no subscription %lld in %s ('levee subscriptions list' shows them)",
                     (long long)id, s->location);
    if (rc == LV_OK)
        rc = dl_spec_parse(l->spec_text, strlen(l->spec_text), &l->spec, err);
    if (rc != LV_OK)
        loaded_free(l);
    return rc;
}

static void kv_ms(lv_jw *w, const char *key, int64_t ms)
{
    char t[LV_TIME_TEXT_MAX];
    if (ms <= 0) {
        lv_jw_kv_cstr(w, key, NULL);
        return;
    }
    lv_time_format(ms, t);
    lv_jw_kv_cstr(w, key, t);
}

/* "key": the text, or null when there is none */
static void kv_text(lv_jw *w, const char *key, lv_str v)
{
    lv_jw_key(w, key);
    if (v.p && v.n)
        lv_jw_str(w, v.p, v.n);
    else
        lv_jw_null(w);
}

/* "status": the HTTP status, or null when there was no answer */
static void kv_status(lv_jw *w, int64_t status)
{
    lv_jw_key(w, "status");
    if (status)
        lv_jw_int(w, status);
    else
        lv_jw_null(w);
}

/* LV_OK when the subscription exists (LV_ENOTFOUND saying so otherwise). */
static lv_status exists(lv_store *s, int64_t id, lv_error *err)
{
    loaded l;
    lv_status rc = load(s, id, &l, err);
    if (rc == LV_OK)
        loaded_free(&l);
    return rc;
}

static const char *state_name(lv_sub_state st)
{
    return st == LV_SUB_PAUSED ? "paused" : st == LV_SUB_DISABLED ? "disabled" : "active";
}

/* ---- the lag: matching events not delivered yet ---- */

typedef struct lag_scan {
    const dl_spec *spec;
    int64_t events, oldest_ms, next, scanned;
} lag_scan;

static lv_status count_lag(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    lag_scan *l = ctx;
    l->next = ev->id + 1;
    l->scanned++;
    if (dl_spec_matches(l->spec, ev)) {
        if (!l->events || ev->received_ms < l->oldest_ms)
            l->oldest_ms = ev->received_ms;
        l->events++;
    }
    return LV_OK;
}

static lv_status write_lag(lv_store *s, const loaded *l, lv_jw *w, lv_error *err)
{
    lag_scan scan = { .spec = &l->spec, .next = l->row.cursor };
    const dl_spec *sp = &l->spec;
    lv_status rc = LV_OK;
    if (!sp->n_events && !sp->n_courses && sp->source_format < 0) {
        /* every event is the subscription's: count them, reading none */
        rc = s->engine->events_count_from(s, l->row.cursor, &scan.events, &scan.oldest_ms, err);
    } else {
        while (rc == LV_OK && scan.scanned < LAG_SCAN_MAX) {
            int64_t before = scan.scanned;
            rc = s->engine->events_from(s, scan.next, 4096, false, count_lag, &scan, err);
            if (scan.scanned == before)
                break;
        }
    }
    int64_t pending = 0, next_ms = 0, oldest_pending = 0;
    if (rc == LV_OK)
        rc = s->engine->sub_pending_summary(s, l->row.id, &pending, &next_ms, &oldest_pending, err);
    if (rc != LV_OK)
        return rc;
    int64_t oldest = scan.events ? scan.oldest_ms : 0;
    if (pending && oldest_pending && (!oldest || oldest_pending < oldest))
        oldest = oldest_pending;
    lv_jw_key(w, "lag");
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "events", scan.events + pending);
    lv_jw_kv_bool(w, "more", scan.scanned >= LAG_SCAN_MAX); /* at least that many */
    lv_jw_key(w, "oldest_seconds");
    if (oldest)
        lv_jw_double(w, (double)(lv_now_ms() - oldest) / 1000.0);
    else
        lv_jw_null(w);
    kv_ms(w, "next_attempt", pending ? next_ms : 0); /* when the earliest waiting event is due again */
    lv_jw_obj_close(w);
    return LV_OK;
}

/* SUB, as docs/subscriptions.md shows it (no secret, no key path, header names only). */
static lv_status write_sub(lv_store *s, const loaded *l, lv_jw *w, lv_error *err)
{
    lv_jw_kv_int(w, "id", l->row.id);
    dl_spec_write(&l->spec, w, false);
    lv_jw_kv_cstr(w, "state", state_name(l->row.state));
    lv_jw_kv_cstr(w, "reason", *l->reason ? l->reason : NULL);
    kv_ms(w, "created", l->row.created_ms);
    lv_status rc = write_lag(s, l, w, err);
    lv_jw_key(w, "counts");
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "delivered", l->row.delivered);
    lv_jw_kv_int(w, "failed_attempts", l->row.failed_attempts);
    lv_jw_kv_int(w, "skipped", l->row.skipped);
    lv_jw_kv_int(w, "dead_letters", l->row.dead_letters);
    lv_jw_kv_int(w, "pending", l->row.pending);
    lv_jw_obj_close(w);
    kv_ms(w, "last_success", l->row.last_success_ms);
    lv_jw_kv_cstr(w, "last_error", *l->last_error ? l->last_error : NULL);
    return rc;
}

static lv_status write_one(lv_store *s, int64_t id, lv_jw *w, const char *secret, lv_error *err)
{
    loaded l;
    lv_status rc = load(s, id, &l, err);
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    rc = write_sub(s, &l, w, err);
    if (secret)
        lv_jw_kv_cstr(w, "secret", secret);
    lv_jw_obj_close(w);
    loaded_free(&l);
    return rc;
}

/* ---- the operations ---- */

static char *spec_json(const dl_spec *sp)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_jw_obj_open(w);
    dl_spec_write(sp, w, true);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    char *out = lv_xstrndup(b.data, b.len);
    lv_buf_free(&b);
    return out;
}

/* Where a new subscription starts: the next event stored (default), the first that arrived at or
 * after since, or the first of all. */
static lv_status start_cursor(lv_store *s, const lv_json *options, int64_t *cursor, lv_error *err)
{
    const lv_json *since = lv_json_get(options, "since"), *from_start = lv_json_get(options, "from_start");
    if (since && since->type == LV_JSON_NULL)
        since = NULL;
    bool start = from_start && from_start->type == LV_JSON_BOOL && from_start->boolean;
    if (from_start && from_start->type != LV_JSON_BOOL && from_start->type != LV_JSON_NULL)
        return lv_fail(err, LV_EINVAL, "from_start must be true or false");
    if (since && start)
        return lv_fail(err, LV_EINVAL, "since and from_start are two starting points: choose one");
    if (start) {
        *cursor = 1;
        return LV_OK;
    }
    if (since) {
        int64_t ms;
        if (since->type != LV_JSON_STRING || lv_time_or_date_parse(since->str, since->len, &ms, err) != LV_OK)
            return lv_fail(err, LV_EINVAL, "since must be a date (2024-09-02) or a timestamp with a UTC offset%s%s",
                           since->type == LV_JSON_STRING ? ": " : "", since->type == LV_JSON_STRING ? err->msg : "");
        return s->engine->event_received_since(s, ms, cursor, err);
    }
    return s->engine->events_end(s, cursor, err);
}

lv_status lv_sub_add(lv_store *s, const lv_json *options, lv_jw *w, lv_error *err)
{
    dl_spec sp;
    char *generated = NULL;
    lv_status rc = dl_spec_from_options(s, options, &sp, &generated, err);
    if (rc != LV_OK)
        return rc;
    int64_t cursor = 0, id = 0;
    rc = start_cursor(s, options, &cursor, err);
    char *text = spec_json(&sp);
    if (rc == LV_OK)
        rc = s->engine->sub_insert(s, text, LV_SUB_ACTIVE, cursor, lv_now_ms(), &id, err);
    free(text);
    dl_spec_free(&sp);
    if (rc == LV_OK)
        rc = write_one(s, id, w, generated, err);
    free(generated);
    return rc;
}

typedef struct id_list {
    int64_t *v;
    size_t n, cap;
} id_list;

static lv_status collect_id(void *ctx, const lv_sub_row *r, lv_error *err)
{
    (void)err;
    id_list *l = ctx;
    lv_vec_reserve((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, 16);
    l->v[l->n++] = r->id;
    return LV_OK;
}

lv_status lv_sub_list(lv_store *s, lv_jw *w, lv_error *err)
{
    id_list ids = { 0 };
    lv_status rc = s->engine->sub_list(s, collect_id, &ids, err);
    lv_jw_obj_open(w);
    lv_jw_key(w, "subscriptions");
    lv_jw_arr_open(w);
    for (size_t i = 0; rc == LV_OK && i < ids.n; i++) {
        rc = write_one(s, ids.v[i], w, NULL, err);
        if (rc == LV_ENOTFOUND) /* removed meanwhile */
            rc = LV_OK;
    }
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    free(ids.v);
    return rc;
}

typedef struct attempts_out {
    lv_jw *w;
} attempts_out;

static lv_status write_attempt(void *ctx, const lv_sub_attempt_row *a, lv_error *err)
{
    (void)err;
    lv_jw *w = ((attempts_out *)ctx)->w;
    lv_jw_obj_open(w);
    kv_ms(w, "time", a->at_ms);
    kv_text(w, "event", a->event_name);
    lv_jw_kv_int(w, "event_id", a->event);
    kv_status(w, a->status);
    lv_jw_kv_int(w, "latency_ms", a->latency_ms);
    kv_text(w, "error", a->error);
    lv_jw_obj_close(w);
    return LV_OK;
}

lv_status lv_sub_show(lv_store *s, int64_t id, lv_jw *w, lv_error *err)
{
    loaded l;
    lv_status rc = load(s, id, &l, err);
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    rc = write_sub(s, &l, w, err);
    lv_jw_key(w, "attempts");
    lv_jw_arr_open(w);
    attempts_out out = { w };
    if (rc == LV_OK)
        rc = s->engine->sub_attempts(s, id, DL_ATTEMPTS_SHOWN, write_attempt, &out, err);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    loaded_free(&l);
    return rc;
}

lv_status lv_sub_pause(lv_store *s, int64_t id, bool paused, lv_jw *w, lv_error *err)
{
    lv_status rc = exists(s, id, err);
    if (rc != LV_OK)
        return rc;
    rc = s->engine->sub_set_state(s, id, paused ? LV_SUB_PAUSED : LV_SUB_ACTIVE, paused ? "paused by a user" : NULL,
                                  err);
    return rc == LV_OK ? write_one(s, id, w, NULL, err) : rc;
}

lv_status lv_sub_remove(lv_store *s, int64_t id, lv_error *err)
{
    bool found = false;
    lv_status rc = s->engine->sub_delete(s, id, &found, err);
    if (rc == LV_OK && !found)
        rc = lv_fail(err, LV_ENOTFOUND, "there is no subscription %lld in %s ('levee subscriptions list' shows them)",
                     (long long)id, s->location);
    return rc;
}

static void write_queued(lv_jw *w, int64_t n)
{
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "queued", n);
    lv_jw_obj_close(w);
}

/* The events of a replayed window counted for the answer, at most (the count says "more" beyond). */
#define REPLAY_COUNTED 10000

typedef struct replay_ctx {
    const dl_spec *spec;
    int64_t matching, read;
} replay_ctx;

static lv_status replay_row(void *ctx, const lv_event_ref *ev, lv_error *err)
{
    (void)err;
    replay_ctx *r = ctx;
    r->read++;
    r->matching += dl_spec_matches(r->spec, ev);
    return LV_OK;
}

lv_status lv_sub_replay(lv_store *s, int64_t id, int64_t since_ms, int64_t until_ms, lv_jw *w, lv_error *err)
{
    if (until_ms <= since_ms)
        return lv_fail(err, LV_EINVAL, "the window to replay is empty: until must come after since");
    loaded l;
    lv_status rc = load(s, id, &l, err);
    if (rc != LV_OK)
        return rc;
    /* The window is recorded as it is, whatever its size, and delivery walks it, queueing a chunk of its
     * events at a time (deliverer.c): queueing every event of it here held the store's write lock and
     * all their ids in memory for as long as the window was big. What the answer counts is read first,
     * up to REPLAY_COUNTED events. */
    replay_ctx r = { .spec = &l.spec };
    rc = s->engine->events_between(s, since_ms, until_ms, 0, NULL, REPLAY_COUNTED, replay_row, &r, err);
    if (rc == LV_OK)
        rc = s->engine->sub_replay_add(s, id, since_ms, until_ms, err);
    loaded_free(&l);
    if (rc == LV_OK) {
        lv_jw_obj_open(w);
        lv_jw_kv_int(w, "queued", r.matching);
        lv_jw_kv_bool(w, "more", r.read >= REPLAY_COUNTED);
        lv_jw_obj_close(w);
    }
    return rc;
}

lv_status lv_sub_redeliver(lv_store *s, int64_t id, lv_jw *w, lv_error *err)
{
    lv_status rc = exists(s, id, err);
    if (rc != LV_OK)
        return rc;
    int64_t queued = 0;
    if ((rc = s->engine->sub_dead_requeue(s, id, lv_now_ms(), &queued, err)) == LV_OK)
        write_queued(w, queued);
    return rc;
}

static lv_status write_dead(void *ctx, const lv_sub_dead_row *d, lv_error *err)
{
    (void)err;
    lv_jw *w = ((attempts_out *)ctx)->w;
    lv_jw_obj_open(w);
    kv_text(w, "event", d->event_name);
    lv_jw_kv_int(w, "event_id", d->event);
    kv_ms(w, "event_time", d->event_time_ms);
    lv_jw_kv_int(w, "attempts", d->attempts);
    kv_status(w, d->status);
    lv_jw_kv_str(w, "answer", d->answer.p ? d->answer.p : "", d->answer.n);
    lv_jw_kv_str(w, "error", d->error.p ? d->error.p : "", d->error.n);
    kv_ms(w, "first_attempt", d->first_attempt_ms);
    kv_ms(w, "last_attempt", d->last_attempt_ms);
    lv_jw_obj_close(w);
    return LV_OK;
}

lv_status lv_sub_dead_letters(lv_store *s, int64_t id, lv_jw *w, lv_error *err)
{
    lv_status rc = exists(s, id, err);
    if (rc != LV_OK)
        return rc;
    lv_jw_obj_open(w);
    lv_jw_key(w, "dead_letters");
    lv_jw_arr_open(w);
    attempts_out out = { w };
    rc = s->engine->sub_dead_list(s, id, LISTED_DEAD, write_dead, &out, err);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    return rc;
}

lv_status lv_sub_rotate(lv_store *s, int64_t id, const char *secret, int64_t keep_old_ms, lv_jw *w, lv_error *err)
{
    loaded l;
    lv_status rc = load(s, id, &l, err);
    if (rc != LV_OK)
        return rc;
    dl_spec *sp = &l.spec;
    if (sp->sign_key) {
        loaded_free(&l);
        return lv_fail(err, LV_EINVAL, "subscription %lld is signed with a key (a JWT): rotate the key with a new "
                                       "subscription, or sign with a secret", (long long)id);
    }
    char *fresh = NULL; /* the new secret (owned here) */
    bool generated = !secret || strcmp(secret, "new") == 0;
    if (generated) {
        rc = dl_secret_new(&fresh, err);
    } else {
        /* checked the way an add checks it */
        lv_arena a;
        lv_arena_init(&a, 1024);
        lv_json *o = lv_json_new(&a, LV_JSON_OBJECT);
        lv_json_set(&a, o, "url", lv_json_new_string(&a, sp->url, strlen(sp->url)));
        lv_json_set(&a, o, "secret", lv_json_new_string(&a, secret, strlen(secret)));
        dl_spec probe;
        char *none = NULL;
        rc = dl_spec_from_options(s, o, &probe, &none, err);
        if (rc == LV_OK) {
            fresh = lv_xstrdup(probe.secrets[0].secret);
            dl_spec_free(&probe);
        }
        lv_arena_free(&a);
    }
    if (rc == LV_OK) {
        int64_t now = lv_now_ms();
        size_t kept = 0;
        for (size_t i = 0; i < sp->n_secrets; i++) { /* the old ones expire; the expired are dropped */
            dl_secret *old = &sp->secrets[i];
            if (old->expires_ms && old->expires_ms <= now) {
                free(old->secret);
                continue;
            }
            if (!old->expires_ms || old->expires_ms > now + keep_old_ms)
                old->expires_ms = now + keep_old_ms;
            sp->secrets[kept++] = *old;
        }
        sp->secrets = lv_xrealloc(sp->secrets, (kept + 1) * sizeof *sp->secrets);
        sp->secrets[kept++] = (dl_secret){ lv_xstrdup(fresh), 0 };
        sp->n_secrets = kept;
        char *text = spec_json(sp);
        rc = s->engine->sub_set_spec(s, id, text, err);
        free(text);
    }
    loaded_free(&l);
    if (rc == LV_OK)
        rc = write_one(s, id, w, generated ? fresh : NULL, err);
    free(fresh);
    return rc;
}
