/* admin.c: the JSON API of subscriptions (/api/subscriptions, docs/subscriptions.md), guarded by the
 * admin token. The routes are read here; the work is levee/deliver.h's, on the admin worker's own
 * writable connection to the store (queries.c runs it), so that an event thread never waits for a
 * write. */
#include "serve.h"

#include "levee/deliver.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/api/subscriptions"

static void error_json(lv_buf *b, const char *msg)
{
    lv_buf_reset(b);
    lv_buf_puts(b, "{\"error\":");
    lv_json_quote(b, msg, strlen(msg));
    lv_buf_puts(b, "}");
}

static int status_of(lv_status st)
{
    switch (st) {
    case LV_OK: return 200;
    case LV_EINVAL: return 400;
    case LV_ENOTFOUND: return 404;
    case LV_EBUSY: case LV_ETIMEOUT: return 503;
    default: return 500;
    }
}

/* ID and what follows it ("", "/pause", ...), or false when the path is not PREFIX/ID[/...]. */
static bool split(const char *path, int64_t *id, const char **rest)
{
    const char *p = path + strlen(PREFIX);
    if (*p != '/')
        return false;
    p++;
    int64_t v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9' && p - start < 18)
        v = v * 10 + (*p++ - '0');
    if (p == start || v <= 0 || (*p && *p != '/'))
        return false;
    *id = v;
    *rest = p;
    return true;
}

static bool is(const request *r, const char *method)
{
    return strcmp(r->method, method) == 0;
}

/* A JSON object body (an empty body is {}). */
static lv_status body_object(lv_arena *a, const request *r, lv_json **out, lv_error *err)
{
    const char *text = r->body.data && r->body.len ? r->body.data : "{}";
    size_t len = r->body.data && r->body.len ? r->body.len : 2;
    lv_status st = lv_json_parse(a, text, len, out, err);
    if (st != LV_OK)
        return lv_fail(err, LV_EINVAL, "the body is not JSON: %s", err->msg);
    if ((*out)->type != LV_JSON_OBJECT)
        return lv_fail(err, LV_EINVAL, "the body must be a JSON object");
    return LV_OK;
}

static lv_status time_member(const lv_json *o, const char *key, bool required, int64_t *ms, lv_error *err)
{
    const lv_json *v = lv_json_get(o, key);
    if (!v || v->type == LV_JSON_NULL) {
        if (required)
            return lv_fail(err, LV_EINVAL, "%s is missing: a date (2024-09-02) or a timestamp with a UTC offset", key);
        return LV_OK;
    }
    if (v->type != LV_JSON_STRING)
        return lv_fail(err, LV_EINVAL, "%s must be a date or a timestamp, as a string", key);
    lv_status st = lv_time_or_date_parse(v->str, v->len, ms, err);
    if (st != LV_OK)
        return lv_fail(err, LV_EINVAL, "%s: %s", key, err->msg);
    return LV_OK;
}

void sv_admin_answer(lv_store *store, request *r)
{
    lv_error err = { 0 };
    lv_buf_reset(&r->deferred);
    lv_jw *w = lv_jw_new(&r->deferred, false);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_status st = LV_OK;
    int ok_status = 200;
    int64_t id = 0;
    const char *rest = "";
    bool root = strcmp(r->path, PREFIX) == 0 || strcmp(r->path, PREFIX "/") == 0;
    if (!root && !split(r->path, &id, &rest)) {
        st = lv_fail(&err, LV_ENOTFOUND, "no such route: %s (docs/subscriptions.md lists them)", r->path);
    } else if (root && is(r, "GET")) {
        st = lv_sub_list(store, w, &err);
    } else if (root && is(r, "POST")) {
        lv_json *o;
        if ((st = body_object(&a, r, &o, &err)) == LV_OK)
            st = lv_sub_add(store, o, w, &err);
        ok_status = 201;
    } else if (root) {
        st = lv_fail(&err, LV_EUNSUPPORTED, "%s takes GET or POST", PREFIX);
    } else if (!*rest && is(r, "GET")) {
        st = lv_sub_show(store, id, w, &err);
    } else if (!*rest && is(r, "DELETE")) {
        st = lv_sub_remove(store, id, &err);
        ok_status = 204;
    } else if (strcmp(rest, "/dead-letters") == 0 && is(r, "GET")) {
        st = lv_sub_dead_letters(store, id, w, &err);
    } else if (!is(r, "POST")) {
        st = lv_fail(&err, LV_EUNSUPPORTED, "%s takes %s", r->path, *rest ? "POST" : "GET or DELETE");
    } else if (strcmp(rest, "/pause") == 0 || strcmp(rest, "/resume") == 0) {
        st = lv_sub_pause(store, id, strcmp(rest, "/pause") == 0, w, &err);
    } else if (strcmp(rest, "/redeliver") == 0) {
        st = lv_sub_redeliver(store, id, w, &err);
    } else if (strcmp(rest, "/replay") == 0) {
        lv_json *o;
        int64_t since = 0, until = INT64_MAX;
        if ((st = body_object(&a, r, &o, &err)) == LV_OK && (st = time_member(o, "since", true, &since, &err)) == LV_OK &&
            (st = time_member(o, "until", false, &until, &err)) == LV_OK)
            st = lv_sub_replay(store, id, since, until, w, &err);
    } else if (strcmp(rest, "/rotate") == 0) {
        lv_json *o;
        if ((st = body_object(&a, r, &o, &err)) == LV_OK) {
            const lv_json *sec = lv_json_get(o, "secret"), *keep = lv_json_get(o, "keep_old_ms");
            int64_t keep_ms = 24 * 3600 * 1000LL;
            char *secret = sec && sec->type == LV_JSON_STRING ? lv_xstrndup(sec->str, sec->len) : NULL;
            if (keep && keep->type == LV_JSON_NUMBER)
                keep_ms = strtoll(keep->str, NULL, 10);
            if (keep_ms < 0 || keep_ms > 30 * 24 * 3600 * 1000LL)
                st = lv_fail(&err, LV_EINVAL, "keep_old_ms must be from 0 to 30 days");
            else
                st = lv_sub_rotate(store, id, secret, keep_ms, w, &err);
            free(secret);
        }
    } else {
        st = lv_fail(&err, LV_ENOTFOUND, "no such route: %s (docs/subscriptions.md lists them)", r->path);
    }
    lv_jw_free(w);
    lv_arena_free(&a);
    if (st == LV_OK) {
        r->deferred_status = ok_status;
        if (ok_status == 204)
            lv_buf_reset(&r->deferred);
    } else {
        r->deferred_status = st == LV_EUNSUPPORTED ? 405 : status_of(st);
        error_json(&r->deferred, err.msg);
    }
}
