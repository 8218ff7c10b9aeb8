/* cmd_subscriptions.c: `levee subscriptions add|list|show|pause|resume|remove|rotate|replay|redeliver|
 * dead-letters` (levee/deliver.h does the work and answers JSON; this file reads the flags and draws
 * tables on a terminal) and `levee deliver`, which runs delivery on its own until SIGTERM or SIGINT. */
#include "cli.h"

#include "levee/deliver.h"
#include "levee/engines.h"
#include "levee/render.h"
#include "levee/timestamp.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "subscriptions"

/* ---- drawing answers ---- */

static const char *text_of(const lv_json *obj, const char *key, char *buf, size_t size)
{
    const lv_json *v = lv_json_get(obj, key);
    buf[0] = '\0';
    if (v && v->type == LV_JSON_BOOL)
        snprintf(buf, size, "%s", v->boolean ? "yes" : "no");
    else if (v && (v->type == LV_JSON_STRING || v->type == LV_JSON_NUMBER))
        snprintf(buf, size, "%.*s", (int)v->len, v->str);
    for (char *p = buf; *p; p++) /* a target's answer is not the terminal's business */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return buf;
}

static const char *text_at(const lv_json *obj, const char *path, char *buf, size_t size)
{
    const lv_json *v = lv_json_path(obj, path);
    buf[0] = '\0';
    if (v && (v->type == LV_JSON_STRING || v->type == LV_JSON_NUMBER))
        snprintf(buf, size, "%.*s", (int)v->len, v->str);
    else if (v && v->type == LV_JSON_BOOL)
        snprintf(buf, size, "%s", v->boolean ? "yes" : "no");
    return buf;
}

static void draw_list(const lv_json *root, lv_buf *out)
{
    const lv_json *subs = lv_json_get(root, "subscriptions");
    if (!subs || !subs->child) {
        lv_buf_puts(out, "no subscriptions (add one with 'levee subscriptions add --url URL')\n");
        return;
    }
    lv_table *t = lv_table_new(9, 48);
    lv_table_row(t, (const char *[]){ "id", "name", "state", "form", "signing", "lag", "delivered", "dead letters",
                                      "url" });
    for (const lv_json *s = subs->child; s; s = s->next) {
        char id[24], name[200], state[24], form[16], sign[16], lag[24], done[24], dead[24], url[512];
        lv_table_row(t, (const char *[]){ text_of(s, "id", id, sizeof id), text_of(s, "name", name, sizeof name),
                                          text_of(s, "state", state, sizeof state), text_of(s, "form", form, sizeof form),
                                          text_of(s, "signing", sign, sizeof sign),
                                          text_at(s, "lag/events", lag, sizeof lag),
                                          text_at(s, "counts/delivered", done, sizeof done),
                                          text_at(s, "counts/dead_letters", dead, sizeof dead),
                                          text_of(s, "url", url, sizeof url) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
}

static void line(lv_buf *out, const char *label, const char *value)
{
    lv_buf_printf(out, "%-14s %s\n", label, value && *value ? value : "-");
}

static void draw_sub(const lv_json *s, lv_buf *out)
{
    char a[512], b[512], c[64];
    lv_buf_printf(out, "subscription %s: %s\n", text_of(s, "id", a, sizeof a), text_of(s, "name", b, sizeof b));
    line(out, "url", text_of(s, "url", a, sizeof a));
    text_of(s, "state", a, sizeof a);
    text_of(s, "reason", b, sizeof b);
    if (*b)
        lv_buf_printf(out, "%-14s %s (%s)\n", "state", a, b);
    else
        line(out, "state", a);
    lv_buf filter;
    lv_buf_init(&filter);
    const lv_json *f = lv_json_get(s, "filter");
    const lv_json *ev = lv_json_get(f, "events"), *co = lv_json_get(f, "courses");
    lv_buf_puts(&filter, "events ");
    if (!ev || !ev->child)
        lv_buf_puts(&filter, "any");
    for (const lv_json *e = ev ? ev->child : NULL; e; e = e->next)
        lv_buf_printf(&filter, "%.*s%s", (int)e->len, e->str, e->next ? "," : "");
    lv_buf_puts(&filter, "; courses ");
    if (!co || !co->child)
        lv_buf_puts(&filter, "any");
    for (const lv_json *e = co ? co->child : NULL; e; e = e->next)
        lv_buf_printf(&filter, "%.*s%s", (int)e->len, e->str, e->next ? "," : "");
    text_at(s, "filter/source_format", a, sizeof a);
    lv_buf_printf(&filter, "; arrived as %s", *a ? a : "any format");
    line(out, "filter", filter.data);
    lv_buf_free(&filter);
    lv_buf_printf(out, "%-14s %s, signing %s, %s in flight at most\n", "form", text_of(s, "form", a, sizeof a),
                  text_of(s, "signing", b, sizeof b), text_of(s, "parallel", c, sizeof c));
    char lag[32], oldest[32];
    text_at(s, "lag/events", lag, sizeof lag);
    text_at(s, "lag/oldest_seconds", oldest, sizeof oldest);
    if (*oldest)
        lv_buf_printf(out, "%-14s %s event%s, the oldest waiting %.0f s\n", "lag", lag, strcmp(lag, "1") ? "s" : "",
                      strtod(oldest, NULL));
    else
        line(out, "lag", "none");
    char d[24], fa[24], sk[24], dl[24], pe[24];
    lv_buf_printf(out, "%-14s %s delivered, %s failed attempts, %s skipped, %s dead letters, %s waiting to retry\n",
                  "counts", text_at(s, "counts/delivered", d, sizeof d), text_at(s, "counts/failed_attempts", fa, sizeof fa),
                  text_at(s, "counts/skipped", sk, sizeof sk), text_at(s, "counts/dead_letters", dl, sizeof dl),
                  text_at(s, "counts/pending", pe, sizeof pe));
    line(out, "last success", text_of(s, "last_success", a, sizeof a));
    line(out, "last error", text_of(s, "last_error", a, sizeof a));
    line(out, "created", text_of(s, "created", a, sizeof a));
    const lv_json *secret = lv_json_get(s, "secret");
    if (secret && secret->type == LV_JSON_STRING)
        lv_buf_printf(out, "\nsecret         %.*s\n               (shown once: give it to the target, which checks "
                           "webhook-signature with it)\n", (int)secret->len, secret->str);
    const lv_json *attempts = lv_json_get(s, "attempts");
    if (attempts && attempts->child) {
        lv_buf_puts(out, "\nRecent attempts (newest first)\n");
        lv_table *t = lv_table_new(6, 60);
        lv_table_row(t, (const char *[]){ "time", "event id", "event", "status", "latency", "error" });
        for (const lv_json *x = attempts->child; x; x = x->next) {
            char tm[40], id[24], name[128], st[16], lat[24], er[400];
            text_of(x, "latency_ms", lat, sizeof lat);
            strncat(lat, " ms", sizeof lat - strlen(lat) - 1);
            lv_table_row(t, (const char *[]){ text_of(x, "time", tm, sizeof tm), text_of(x, "event_id", id, sizeof id),
                                              text_of(x, "event", name, sizeof name), text_of(x, "status", st, sizeof st),
                                              lat, text_of(x, "error", er, sizeof er) });
        }
        lv_table_write(t, out);
        lv_table_free(t);
    }
}

static void draw_dead(const lv_json *root, lv_buf *out)
{
    const lv_json *list = lv_json_get(root, "dead_letters");
    if (!list || !list->child) {
        lv_buf_puts(out, "no delivery dead letters\n");
        return;
    }
    lv_table *t = lv_table_new(7, 60);
    lv_table_row(t, (const char *[]){ "event id", "event", "event time", "attempts", "status", "last attempt", "error" });
    for (const lv_json *x = list->child; x; x = x->next) {
        char id[24], name[128], et[40], at[24], st[16], la[40], er[400];
        lv_table_row(t, (const char *[]){ text_of(x, "event_id", id, sizeof id), text_of(x, "event", name, sizeof name),
                                          text_of(x, "event_time", et, sizeof et), text_of(x, "attempts", at, sizeof at),
                                          text_of(x, "status", st, sizeof st), text_of(x, "last_attempt", la, sizeof la),
                                          text_of(x, "error", er, sizeof er) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
}

typedef enum { DRAW_LIST, DRAW_SUB, DRAW_DEAD, DRAW_QUEUED, DRAW_NONE } drawing;

/* Writes the answer: JSON when asked or when stdout is not a terminal, a table otherwise. */
static int emit(const lv_buf *answer, drawing how, bool json)
{
    int status = LV_EXIT_OK;
    if (how == DRAW_NONE) {
        /* nothing to show */
    } else if (json || !isatty(STDOUT_FILENO)) {
        fwrite(answer->data, 1, answer->len, stdout);
        fputc('\n', stdout);
    } else {
        lv_arena a;
        lv_arena_init(&a, 1 << 14);
        lv_json *root;
        lv_error err;
        lv_buf out;
        lv_buf_init(&out);
        if (lv_json_parse(&a, answer->data, answer->len, &root, &err) != LV_OK) {
            fprintf(stderr, "levee " CMD ": internal error: the answer is not JSON (%s)\n", err.msg);
            status = LV_EXIT_USAGE;
        } else if (how == DRAW_LIST) {
            draw_list(root, &out);
        } else if (how == DRAW_SUB) {
            draw_sub(root, &out);
        } else if (how == DRAW_DEAD) {
            draw_dead(root, &out);
        } else {
            char n[24], more[8];
            text_of(root, "queued", n, sizeof n);
            bool at_least = strcmp(text_of(root, "more", more, sizeof more), "yes") == 0; /* a long replay */
            lv_buf_printf(&out, "queued %s%s event%s to be sent again\n", at_least ? "at least " : "", n,
                          strcmp(n, "1") || at_least ? "s" : "");
        }
        fwrite(out.data, 1, out.len, stdout);
        lv_buf_free(&out);
        lv_arena_free(&a);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "levee " CMD ": cannot write the output: %s\n", strerror(errno));
        status = LV_EXIT_USAGE;
    }
    return status;
}

/* ---- flags ---- */

enum {
    O_DB = 1000, O_JSON, O_URL, O_NAME, O_EVENTS, O_COURSE, O_SOURCE, O_FORM, O_SECRET, O_KEY, O_KID, O_HEADER,
    O_PARALLEL, O_TIMEOUT, O_RETRY_MIN, O_RETRY_MAX, O_MAX_AGE, O_DISABLE_AFTER, O_SINCE, O_UNTIL, O_FROM_START,
    O_KEEP_OLD,
};

static const struct option long_options[] = {
    { "db", required_argument, NULL, O_DB },
    { "json", no_argument, NULL, O_JSON },
    { "url", required_argument, NULL, O_URL },
    { "name", required_argument, NULL, O_NAME },
    { "events", required_argument, NULL, O_EVENTS },
    { "course", required_argument, NULL, O_COURSE },
    { "source-format", required_argument, NULL, O_SOURCE },
    { "form", required_argument, NULL, O_FORM },
    { "secret", required_argument, NULL, O_SECRET },
    { "sign-key", required_argument, NULL, O_KEY },
    { "kid", required_argument, NULL, O_KID },
    { "header", required_argument, NULL, O_HEADER },
    { "parallel", required_argument, NULL, O_PARALLEL },
    { "timeout", required_argument, NULL, O_TIMEOUT },
    { "retry-min", required_argument, NULL, O_RETRY_MIN },
    { "retry-max", required_argument, NULL, O_RETRY_MAX },
    { "max-age", required_argument, NULL, O_MAX_AGE },
    { "disable-after", required_argument, NULL, O_DISABLE_AFTER },
    { "since", required_argument, NULL, O_SINCE },
    { "until", required_argument, NULL, O_UNTIL },
    { "from-start", no_argument, NULL, O_FROM_START },
    { "keep-old", required_argument, NULL, O_KEEP_OLD },
    { NULL, 0, NULL, 0 },
};

typedef struct args {
    const char *db;
    bool json;
    lv_buf options;  /* the add's options as a JSON object's members */
    lv_jw *w;
    bool from_start;
    const char *since, *until, *secret;
    int64_t keep_old_ms;
    char **headers, **courses, *events;
    size_t n_headers, n_courses;
    unsigned flags_seen; /* which of the add-only flags were given (to refuse them elsewhere) */
} args;

static int duration_flag(const char *sub, const char *flag, const char *value, int64_t *ms)
{
    lv_error err;
    if (lv_duration_parse(value, ms, &err) != LV_OK)
        return lv_usage_error(CMD, "%s %s: %s", sub, flag, err.msg);
    return 0;
}

/* Reads the flags after the subcommand; the add's go into a JSON object. Returns -1 to go on. */
static int parse(const char *sub, int argc, char **argv, args *a, bool add_flags, bool window_flags)
{
    optind = 1;
    opterr = 0;
    int c;
    lv_jw_obj_open(a->w);
    while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        bool add_only = c >= O_URL && c <= O_DISABLE_AFTER && !(c == O_SECRET && strcmp(sub, "rotate") == 0);
        if ((add_only || c == O_FROM_START) && !add_flags)
            return lv_usage_error(CMD, "%s takes no %s", sub, argv[optind - 1]);
        if ((c == O_UNTIL || (c == O_SINCE && !add_flags)) && !window_flags)
            return lv_usage_error(CMD, "%s takes no %s", sub, argv[optind - 1]);
        int64_t ms = 0;
        switch (c) {
        case O_DB: a->db = optarg; break;
        case O_JSON: a->json = true; break;
        case O_URL: lv_jw_kv_cstr(a->w, "url", optarg); break;
        case O_NAME: lv_jw_kv_cstr(a->w, "name", optarg); break;
        case O_EVENTS: a->events = optarg; break;
        case O_COURSE:
            a->courses = lv_xrealloc(a->courses, (a->n_courses + 1) * sizeof *a->courses);
            a->courses[a->n_courses++] = optarg;
            break;
        case O_SOURCE: lv_jw_kv_cstr(a->w, "source_format", optarg); break;
        case O_FORM: lv_jw_kv_cstr(a->w, "form", optarg); break;
        case O_SECRET:
            if (add_flags)
                lv_jw_kv_cstr(a->w, "secret", optarg);
            a->secret = optarg;
            break;
        case O_KEY: lv_jw_kv_cstr(a->w, "sign_key", optarg); break;
        case O_KID: lv_jw_kv_cstr(a->w, "kid", optarg); break;
        case O_HEADER:
            a->headers = lv_xrealloc(a->headers, (a->n_headers + 1) * sizeof *a->headers);
            a->headers[a->n_headers++] = optarg;
            break;
        case O_PARALLEL: lv_jw_key(a->w, "parallel"); lv_jw_cstr(a->w, optarg); break;
        case O_TIMEOUT: case O_RETRY_MIN: case O_RETRY_MAX: case O_MAX_AGE: case O_DISABLE_AFTER: {
            static const char *const keys[] = { "timeout_ms", "retry_min_ms", "retry_max_ms", "max_age_ms",
                                                "disable_after_ms" };
            int bad = duration_flag(sub, argv[optind - 1], optarg, &ms);
            if (bad)
                return bad;
            lv_jw_kv_int(a->w, keys[c - O_TIMEOUT], ms);
            break;
        }
        case O_SINCE:
            a->since = optarg;
            if (add_flags)
                lv_jw_kv_cstr(a->w, "since", optarg);
            break;
        case O_UNTIL: a->until = optarg; break;
        case O_FROM_START:
            a->from_start = true;
            lv_jw_kv_bool(a->w, "from_start", true);
            break;
        case O_KEEP_OLD: {
            int bad = duration_flag(sub, "--keep-old", optarg, &a->keep_old_ms);
            if (bad)
                return bad;
            break;
        }
        default:
            if (optopt && strncmp(argv[optind - 1], "--", 2) == 0 && strchr(argv[optind - 1], '=') == NULL) {
                for (const struct option *o = long_options; o->name; o++)
                    if (o->val == optopt && o->has_arg == required_argument)
                        return lv_usage_error(CMD, "%s needs a value", argv[optind - 1]);
            }
            return lv_usage_error(CMD, "unknown option '%s' for %s", argv[optind - 1], sub);
        }
    }
    if (a->events) {
        lv_jw_key(a->w, "events");
        lv_jw_arr_open(a->w);
        for (const char *p = a->events; *p;) {
            size_t n = strcspn(p, ",");
            size_t s = 0;
            while (s < n && p[s] == ' ')
                s++;
            size_t e = n;
            while (e > s && p[e - 1] == ' ')
                e--;
            if (e > s)
                lv_jw_str(a->w, p + s, e - s);
            p += n + (p[n] == ',');
        }
        lv_jw_arr_close(a->w);
    }
    if (a->n_courses) {
        lv_jw_key(a->w, "courses");
        lv_jw_arr_open(a->w);
        for (size_t i = 0; i < a->n_courses; i++)
            lv_jw_cstr(a->w, a->courses[i]);
        lv_jw_arr_close(a->w);
    }
    if (a->n_headers) {
        lv_jw_key(a->w, "headers");
        lv_jw_arr_open(a->w);
        for (size_t i = 0; i < a->n_headers; i++)
            lv_jw_cstr(a->w, a->headers[i]);
        lv_jw_arr_close(a->w);
    }
    lv_jw_obj_close(a->w);
    return -1;
}

static bool parse_id(const char *text, int64_t *id)
{
    char *end;
    errno = 0;
    long long v = text ? strtoll(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v <= 0)
        return false;
    *id = v;
    return true;
}

static int run_sub(const char *sub, int argc, char **argv)
{
    bool add = strcmp(sub, "add") == 0, replay = strcmp(sub, "replay") == 0;
    static const char *const with_id[] = { "show", "pause", "resume", "remove", "rotate", "replay", "redeliver",
                                           "dead-letters" };
    bool needs_id = false;
    for (size_t i = 0; i < sizeof with_id / sizeof *with_id; i++)
        needs_id |= strcmp(sub, with_id[i]) == 0;
    if (!add && !needs_id && strcmp(sub, "list") != 0)
        return lv_usage_error(CMD, "'%s' is not a subcommand (add, list, show, pause, resume, remove, rotate, replay, "
                                   "redeliver, dead-letters)", sub);
    args a = { 0 };
    lv_buf_init(&a.options);
    a.w = lv_jw_new(&a.options, false);
    a.keep_old_ms = 24 * 3600 * 1000LL;
    int bad = parse(sub, argc, argv, &a, add, replay);
    int64_t id = 0;
    if (bad < 0 && strcmp(sub, "rotate") != 0 && a.secret && !add)
        bad = lv_usage_error(CMD, "%s takes no --secret", sub);
    if (bad < 0 && strcmp(sub, "rotate") != 0 && a.keep_old_ms != 24 * 3600 * 1000LL)
        bad = lv_usage_error(CMD, "%s takes no --keep-old", sub);
    if (bad < 0 && needs_id) {
        if (optind >= argc)
            bad = lv_usage_error(CMD, "%s needs the subscription's id ('levee subscriptions list' shows them)", sub);
        else if (!parse_id(argv[optind], &id))
            bad = lv_usage_error(CMD, "'%s' is not a subscription id", argv[optind]);
        else
            optind++;
    }
    if (bad < 0 && optind < argc)
        bad = lv_usage_error(CMD, "%s takes no more arguments (got '%s')", sub, argv[optind]);
    int64_t since = 0, until = INT64_MAX;
    lv_error err;
    if (bad < 0 && replay) {
        if (!a.since)
            bad = lv_usage_error(CMD, "replay needs --since T: the start of the window of event times to send again");
        else if (lv_time_or_date_parse(a.since, strlen(a.since), &since, &err) != LV_OK)
            bad = lv_usage_error(CMD, "replay --since: %s", err.msg);
        else if (a.until && lv_time_or_date_parse(a.until, strlen(a.until), &until, &err) != LV_OK)
            bad = lv_usage_error(CMD, "replay --until: %s", err.msg);
    }
    if (bad >= 0) {
        lv_jw_free(a.w);
        lv_buf_free(&a.options);
        free(a.headers);
        free(a.courses);
        return bad;
    }
    lv_store *store = NULL;
    bool read_only = strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "dead-letters") == 0;
    lv_store_options so = { .read_only = read_only, .create = add, .one_shot = read_only };
    int status = LV_EXIT_OK;
    lv_status st = lv_store_open(lv_cli_db_path(a.db), &so, &store, &err);
    lv_buf answer;
    lv_buf_init(&answer);
    lv_jw *w = lv_jw_new(&answer, false);
    drawing how = DRAW_SUB;
    if (st == LV_OK) {
        if (add) {
            lv_arena ar;
            lv_arena_init(&ar, 4096);
            lv_json *options;
            st = lv_json_parse(&ar, a.options.data, a.options.len, &options, &err);
            if (st == LV_OK)
                st = lv_sub_add(store, options, w, &err);
            lv_arena_free(&ar);
        } else if (strcmp(sub, "list") == 0) {
            st = lv_sub_list(store, w, &err);
            how = DRAW_LIST;
        } else if (strcmp(sub, "show") == 0) {
            st = lv_sub_show(store, id, w, &err);
        } else if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) {
            st = lv_sub_pause(store, id, strcmp(sub, "pause") == 0, w, &err);
        } else if (strcmp(sub, "remove") == 0) {
            st = lv_sub_remove(store, id, &err);
            how = DRAW_NONE;
        } else if (strcmp(sub, "rotate") == 0) {
            st = lv_sub_rotate(store, id, a.secret, a.keep_old_ms, w, &err);
        } else if (replay) {
            st = lv_sub_replay(store, id, since, until, w, &err);
            how = DRAW_QUEUED;
        } else if (strcmp(sub, "redeliver") == 0) {
            st = lv_sub_redeliver(store, id, w, &err);
            how = DRAW_QUEUED;
        } else {
            st = lv_sub_dead_letters(store, id, w, &err);
            how = DRAW_DEAD;
        }
        lv_store_close(store);
    }
    lv_jw_free(w);
    if (st != LV_OK) {
        fprintf(stderr, "levee " CMD " %s: %s\n", sub, err.msg);
        status = st == LV_ENOTFOUND ? LV_EXIT_REJECTED : LV_EXIT_USAGE;
    } else {
        status = emit(&answer, how, a.json);
        if (how == DRAW_NONE && status == LV_EXIT_OK && !a.json)
            fprintf(stderr, "levee " CMD ": subscription %lld removed\n", (long long)id);
    }
    lv_buf_free(&answer);
    lv_jw_free(a.w);
    lv_buf_free(&a.options);
    free(a.headers);
    free(a.courses);
    return status;
}

int lv_cmd_subscriptions(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-')
        return lv_usage_error(CMD, "needs a subcommand: add, list, show, pause, resume, remove, rotate, replay, "
                                   "redeliver or dead-letters");
    return run_sub(argv[1], argc - 1, argv + 1);
}

/* ---- levee deliver ---- */

static lv_deliverer *running;

static void on_signal(int sig)
{
    (void)sig;
    lv_deliverer_stop(running);
}

static void log_line(void *ctx, const char *level, const char *message, const char *subscription)
{
    (void)ctx;
    (void)subscription; /* the message names it */
    fprintf(stderr, "levee deliver: %s: %s\n", level, message);
}

int lv_cmd_deliver(int argc, char **argv)
{
    const char *db = NULL;
    bool quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_QUIET(&quiet),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("deliver", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    lv_error err;
    lv_deliver_options opt = { .db = lv_cli_db_path(db), .log = quiet ? NULL : log_line };
    if (lv_deliverer_new(&running, &opt, &err) != LV_OK) {
        fprintf(stderr, "levee deliver: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!quiet) {
        char *shown = lv_store_location_redacted(opt.db);
        fprintf(stderr, "levee deliver: delivering the subscriptions of %s (SIGTERM or Ctrl-C stops)\n", shown);
        free(shown);
    }
    lv_status st = lv_deliverer_run(running, 10000, &err);
    lv_deliverer_free(running);
    running = NULL;
    if (st != LV_OK) {
        fprintf(stderr, "levee deliver: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (!quiet)
        fprintf(stderr, "levee deliver: stopped\n");
    return LV_EXIT_OK;
}
