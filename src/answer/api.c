/* api.c: routing API paths to the store's questions (levee/query.h), with parameters checked the way
 * the command line checks its options, and every outcome turned into an HTTP status: a bad
 * parameter or id is 400, what is not in the store 404, a damaged store 500 (saying so), a question
 * past its deadline 503. Also /api/catalog, the event catalog the web page reads. */
#include "levee/api.h"

#include "levee/id.h"
#include "levee/query.h"
#include "levee/text.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest page a question may ask for (limit) and the furthest it may skip (offset). */
#define MAX_LIMIT 1000
#define MAX_OFFSET 1000000

static bool time_param(const char *name, const char *value, int64_t *ms, lv_error *err)
{
    lv_error perr;
    if (lv_time_or_date_parse(value, strlen(value), ms, &perr) == LV_OK)
        return true;
    lv_fail(err, LV_EINVAL, "%s: %s", name, perr.msg);
    return false;
}

/* since, until, now, limit, offset */
static bool window(lv_param_fn param, void *ctx, lv_query_window *w, lv_error *err)
{
    memset(w, 0, sizeof *w);
    const char *v;
    if ((v = param(ctx, "since")) && !(w->has_since = time_param("since", v, &w->since_ms, err)))
        return false;
    if ((v = param(ctx, "until")) && !(w->has_until = time_param("until", v, &w->until_ms, err)))
        return false;
    bool have_now = false;
    if ((v = param(ctx, "now")) && !(have_now = time_param("now", v, &w->now_ms, err)))
        return false;
    if (!have_now)
        w->now_ms = w->has_until ? w->until_ms : lv_now_ms();
    static const char *const names[] = { "limit", "offset" };
    static const unsigned long max[] = { MAX_LIMIT, MAX_OFFSET };
    for (int i = 0; i < 2; i++) {
        if (!(v = param(ctx, names[i])))
            continue;
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || *v == '-' || *v == '+' || n > max[i]) {
            lv_fail(err, LV_EINVAL, "%s must be a number from 0 to %lu, not \"%.40s\"", names[i], max[i], v);
            return false;
        }
        if (i == 0)
            w->limit = (unsigned)n;
        else
            w->offset = (unsigned)n;
    }
    return true;
}

/* An id in a route or a parameter, made global. */
static bool an_id(lv_store *s, const char *what, const char *text, uint64_t *id, lv_error *err)
{
    lv_error perr;
    uint64_t raw;
    if (lv_id_parse(text, strlen(text), &raw, &perr) != LV_OK) {
        lv_fail(err, LV_EINVAL, "%sthe id %s", what, perr.msg);
        return false;
    }
    return lv_store_resolve_id(s, raw, id, err) == LV_OK;
}

static int http_status(lv_status st)
{
    switch (st) {
    case LV_OK: return 200;
    case LV_ENOTFOUND: return 404;
    case LV_EINVAL: return 400;
    case LV_ETIMEOUT:
    case LV_EBUSY: return 503;
    default: return 500;
    }
}

static const char *after(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && path[n] && !strchr(path + n, '/') ? path + n : NULL;
}

/* The catalog: every kind with its family, what it is about, its label and fields, and the
 * metadata fields (what the web page needs to name and chart events). */
static void catalog(lv_jw *w)
{
    static const char *const subjects[] = { "conversation", "message", "entry", "topic" };
    lv_jw_obj_open(w);
    lv_jw_key(w, "kinds");
    lv_jw_arr_open(w);
    for (size_t k = 0; k < lv_kind_count; k++) {
        const lv_kind *kind = &lv_kinds[k];
        lv_jw_obj_open(w);
        lv_jw_kv_cstr(w, "name", kind->name);
        lv_jw_kv_cstr(w, "family", kind->family == LV_FAMILY_CONVERSATION ? "conversation" : "discussion");
        lv_jw_kv_cstr(w, "subject", subjects[kind->subject]);
        lv_jw_kv_cstr(w, "action", lv_action_name(kind->action));
        lv_jw_kv_cstr(w, "label", kind->label);
        lv_jw_kv_bool(w, "caliper", kind->caliper != NULL);
        lv_jw_key(w, "fields");
        lv_jw_arr_open(w);
        for (size_t f = 0; f < kind->n_fields; f++)
            lv_jw_cstr(w, kind->fields[f].name);
        lv_jw_arr_close(w);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    lv_jw_key(w, "metadata");
    lv_jw_arr_open(w);
    for (int m = 0; m < LV_META_COUNT; m++)
        lv_jw_cstr(w, lv_metadata_fields[m].name);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
}

static lv_status route(lv_store *s, const char *path, lv_param_fn param, void *ctx, lv_jw *w, lv_error *err)
{
    lv_query_window win;
    uint64_t id;
    const char *rest;
    if (strcmp(path, "/stats") == 0)
        return lv_query_stats(s, w, err);
    if (strcmp(path, "/catalog") == 0) {
        catalog(w);
        return LV_OK;
    }
    if (strcmp(path, "/courses") == 0 || strcmp(path, "/courses/") == 0)
        return lv_query_courses(s, w, err);
    if ((rest = after(path, "/courses/"))) {
        if (!an_id(s, "", rest, &id, err) || !window(param, ctx, &win, err))
            return err->status;
        return lv_query_course(s, id, &win, w, err);
    }
    if ((rest = after(path, "/topics/")))
        return an_id(s, "", rest, &id, err) ? lv_query_topic(s, id, w, err) : err->status;
    if ((rest = after(path, "/conversations/")))
        return an_id(s, "", rest, &id, err) ? lv_query_conversation(s, id, w, err) : err->status;
    if ((rest = after(path, "/users/"))) {
        if (!an_id(s, "", rest, &id, err) || !window(param, ctx, &win, err))
            return err->status;
        return lv_query_user(s, id, &win, w, err);
    }
    if (strcmp(path, "/search") == 0) {
        const char *q = param(ctx, "q"), *course = param(ctx, "course");
        uint64_t course_id = 0;
        if (!q || !*q)
            return lv_fail(err, LV_EINVAL, "say what to search for: /api/search?q=words");
        if (!window(param, ctx, &win, err) || (course && !an_id(s, "course: ", course, &course_id, err)))
            return err->status;
        return lv_query_search(s, q, course_id, &win, w, err);
    }
    return lv_fail(err, LV_ENOTFOUND, "there is no API at /api%s; see docs/api.md", path);
}

lv_status lv_api_answer(lv_store *s, const char *path, lv_param_fn param, void *ctx, lv_buf *body, int *status,
                        lv_error *err)
{
    lv_buf_reset(body);
    lv_jw *w = lv_jw_new(body, false);
    lv_error_clear(err);
    lv_status st = route(s, path, param, ctx, w, err);
    lv_jw_free(w);
    *status = http_status(st);
    if (st != LV_OK) {
        /* what a failed question wrote is not an answer: the body is the error alone */
        lv_buf_reset(body);
        lv_buf_puts(body, "{\"error\":");
        /* the message may quote what was asked (a path, a parameter): valid UTF-8 only */
        lv_buf msg;
        lv_buf_init(&msg);
        lv_utf8_clean(err->msg, strlen(err->msg), &msg);
        lv_json_quote(body, msg.data ? msg.data : "", msg.len);
        lv_buf_free(&msg);
        lv_buf_puts(body, "}");
    }
    return st;
}
