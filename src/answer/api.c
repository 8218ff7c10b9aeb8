/* api.c: routing API paths to the store's queries, with parameters checked the way the command line
 * checks its options. */
#include "levee/api.h"

#include "levee/id.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int error(lv_buf *body, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int error(lv_buf *body, int status, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lv_buf_reset(body);
    lv_buf_puts(body, "{\"error\":");
    lv_json_quote(body, msg, strlen(msg));
    lv_buf_puts(body, "}");
    return status;
}

static bool time_param(const char *name, const char *value, int64_t *ms, lv_buf *body, int *status)
{
    lv_error err;
    if (lv_time_or_date_parse(value, strlen(value), ms, &err) == LV_OK)
        return true;
    *status = error(body, 400, "%s: %s", name, err.msg);
    return false;
}

/* since, until, now, limit, offset */
static bool window(lv_param_fn param, void *ctx, lv_query_window *w, lv_buf *body, int *status)
{
    memset(w, 0, sizeof *w);
    const char *v;
    if ((v = param(ctx, "since")) && !(w->has_since = time_param("since", v, &w->since_ms, body, status)))
        return false;
    if ((v = param(ctx, "until")) && !(w->has_until = time_param("until", v, &w->until_ms, body, status)))
        return false;
    bool have_now = false;
    if ((v = param(ctx, "now")) && !(have_now = time_param("now", v, &w->now_ms, body, status)))
        return false;
    if (!have_now)
        w->now_ms = w->has_until ? w->until_ms : lv_now_ms();
    static const char *const names[] = { "limit", "offset" };
    for (int i = 0; i < 2; i++) {
        if (!(v = param(ctx, names[i])))
            continue;
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*end || !*v || n > 100000) {
            *status = error(body, 400, "%s must be a number from 0 to 100000, not \"%.40s\"", names[i], v);
            return false;
        }
        if (i == 0)
            w->limit = (unsigned)n;
        else
            w->offset = (unsigned)n;
    }
    return true;
}

/* The id after a route's prefix, made global. */
static bool path_id(lv_store *s, const char *text, uint64_t *id, lv_buf *body, int *status)
{
    lv_error err;
    uint64_t raw;
    if (lv_id_parse(text, strlen(text), &raw, &err) != LV_OK) {
        *status = error(body, 404, "the id %s", err.msg);
        return false;
    }
    if (lv_store_resolve_id(s, raw, id, &err) != LV_OK) {
        *status = error(body, 400, "%s", err.msg);
        return false;
    }
    return true;
}

static int finish(lv_status st, lv_error *err, lv_buf *body)
{
    if (st == LV_OK)
        return 200;
    if (st == LV_ENOTFOUND)
        return error(body, 404, "%s", err->msg);
    if (st == LV_EINVAL)
        return error(body, 400, "%s", err->msg);
    return error(body, 500, "%s", err->msg);
}

static const char *after(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && path[n] && !strchr(path + n, '/') ? path + n : NULL;
}

int lv_api_answer(lv_store *s, const char *path, lv_param_fn param, void *ctx, lv_buf *body)
{
    lv_buf_reset(body);
    lv_jw *w = lv_jw_new(body, false);
    lv_error err;
    lv_status st;
    int status = 200;
    lv_query_window win;
    uint64_t id;
    const char *rest;
    if (strcmp(path, "/stats") == 0) {
        st = lv_store_stats(s, w, &err);
        status = finish(st, &err, body);
    } else if (strcmp(path, "/courses") == 0 || strcmp(path, "/courses/") == 0) {
        st = lv_query_courses(s, w, &err);
        status = finish(st, &err, body);
    } else if ((rest = after(path, "/courses/"))) {
        if (path_id(s, rest, &id, body, &status) && window(param, ctx, &win, body, &status))
            status = finish(lv_query_course(s, id, &win, w, &err), &err, body);
    } else if ((rest = after(path, "/topics/"))) {
        if (path_id(s, rest, &id, body, &status))
            status = finish(lv_query_topic(s, id, w, &err), &err, body);
    } else if ((rest = after(path, "/conversations/"))) {
        if (path_id(s, rest, &id, body, &status))
            status = finish(lv_query_conversation(s, id, w, &err), &err, body);
    } else if ((rest = after(path, "/users/"))) {
        if (path_id(s, rest, &id, body, &status) && window(param, ctx, &win, body, &status))
            status = finish(lv_query_user(s, id, &win, w, &err), &err, body);
    } else if (strcmp(path, "/search") == 0) {
        const char *q = param(ctx, "q"), *course = param(ctx, "course");
        uint64_t course_id = 0;
        if (!q || !*q)
            status = error(body, 400, "say what to search for: /api/search?q=words");
        else if (window(param, ctx, &win, body, &status) && (!course || path_id(s, course, &course_id, body, &status)))
            status = finish(lv_query_search(s, q, course_id, &win, w, &err), &err, body);
    } else {
        status = error(body, 404, "there is no API at /api%s; see docs/api.md", path);
    }
    lv_jw_free(w);
    return status;
}
