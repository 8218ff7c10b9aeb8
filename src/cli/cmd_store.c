/* cmd_store.c: the commands that use the store: `levee ingest`, `levee export`, `levee stats`,
 * `levee query` and `levee search`. */
#include "cli.h"

#include "levee/engines.h"
#include "levee/id.h"
#include "levee/query.h"
#include "levee/redact.h"
#include "levee/render.h"
#include "levee/store.h"
#include "levee/timestamp.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DB "levee.db"

const char *lv_cli_db_path(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv("LEVEE_DB");
    return env && *env ? env : DEFAULT_DB;
}

int lv_cli_redaction(const char *command, const char *fields, const char *key, bool env, lv_redaction **out)
{
    *out = NULL;
    if (env && !fields && (fields = getenv("LEVEE_REDACT")) != NULL && !*fields)
        fields = NULL;
    if (env && !key && (key = getenv("LEVEE_REDACT_KEY")) != NULL && !*key)
        key = NULL;
    if (!fields && key)
        return lv_usage_error(command, "--redact-key FILE goes with --redact FIELDS (the fields to hash with it)");
    if (!fields)
        return LV_EXIT_OK;
    lv_error err;
    if (lv_redaction_new(fields, key, out, &err) != LV_OK)
        return lv_usage_error(command, "--redact: %s", err.msg);
    return LV_EXIT_OK;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* "1,234,567" */
static const char *grouped(uint64_t v, char buf[32])
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

/* ---- ingest ---- */

typedef struct progress {
    bool tty;
    uint64_t total_bytes; /* 0 when unknown (a pipe) */
    struct timespec start;
    double last_draw;
} progress;

static void draw_progress(void *ctx, const lv_counts *c, uint64_t bytes_read)
{
    progress *p = ctx;
    double t = seconds_since(&p->start);
    if (!p->tty || t - p->last_draw < 0.2)
        return;
    p->last_draw = t;
    uint64_t events = c->stored + c->duplicates + c->rejected;
    char a[32];
    if (p->total_bytes) {
        double frac = (double)bytes_read / (double)p->total_bytes;
        if (frac > 1)
            frac = 1;
        int width = 30, filled = (int)(frac * width);
        fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %s events  %.0f/s ", filled,
                "##############################", width - filled, "", frac * 100, grouped(events, a),
                t > 0 ? (double)events / t : 0);
    } else {
        fprintf(stderr, "\r%s events  %.1f MB  %.0f/s ", grouped(events, a), (double)c->bytes / 1e6,
                t > 0 ? (double)events / t : 0);
    }
    fflush(stderr);
}

int lv_cmd_ingest(int argc, char **argv)
{
    const char *db = NULL, *redact = NULL, *redact_key = NULL;
    bool quiet = false, json = false;
    lv_ingest_options opt = { 0 };
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_FLAG("strict", &opt.decode.strict), LV_OPT_QUIET(&quiet),
        LV_OPT_FLAG("json", &json), LV_OPT_VALUE("redact", &redact), LV_OPT_VALUE("redact-key", &redact_key),
        LV_OPT_END,
    };
    int first = 0;
    int rc = lv_cli_parse("ingest", argc, argv, options, -1, &first);
    if (rc != LV_EXIT_OK)
        return rc;
    lv_redaction *redaction = NULL;
    if (lv_cli_redaction("ingest", redact, redact_key, true, &redaction) != LV_EXIT_OK)
        return LV_EXIT_USAGE;
    opt.decode.redact = redaction;
    lv_error err;
    size_t n = first < argc ? (size_t)(argc - first) : 1;
    lv_reader **readers = lv_xcalloc(n, sizeof *readers);
    progress prog = { .tty = !quiet && isatty(2) };
    size_t opened = 0;
    int status = LV_EXIT_OK;
    for (size_t i = 0; i < n; i++) {
        const char *path = first < argc ? argv[first + (int)i] : "-";
        if (lv_reader_open_path(&readers[opened], path, &err) != LV_OK) {
            fprintf(stderr, "levee ingest: %s\n", err.msg);
            status = LV_EXIT_USAGE;
            continue;
        }
        struct stat sb;
        if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            prog.total_bytes += (uint64_t)sb.st_size;
        opened++;
    }
    lv_store *store = NULL;
    lv_counts counts = { 0 };
    clock_gettime(CLOCK_MONOTONIC, &prog.start); /* (the summary's seconds, whether the store opens or not) */
    lv_status st = opened ? lv_store_open(lv_cli_db_path(db), NULL, &store, &err) : LV_OK;
    if (st == LV_OK && opened) {
        opt.progress = draw_progress;
        opt.progress_ctx = &prog;
        st = lv_ingest(store, readers, opened, &opt, &counts, &err);
        if (prog.tty && prog.last_draw > 0)
            fprintf(stderr, "\r\033[K");
    }
    double secs = opened ? seconds_since(&prog.start) : 0;
    if (st != LV_OK) {
        fprintf(stderr, "levee ingest: %s\n", err.msg);
        if (store)
            fprintf(stderr, "levee ingest: what was committed before this stays stored; run the same "
                            "ingest again to complete it (stored events are recognised and skipped)\n");
        status = LV_EXIT_USAGE;
    }
    uint64_t events = counts.stored + counts.duplicates + counts.rejected;
    if (json) {
        printf("{\"stored\":%llu,\"duplicates\":%llu,\"rejected\":%llu,\"outside_model\":%llu,"
               "\"documents\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n",
               (unsigned long long)counts.stored, (unsigned long long)counts.duplicates,
               (unsigned long long)counts.rejected, (unsigned long long)counts.outside_model,
               (unsigned long long)counts.documents, (unsigned long long)counts.bytes, secs);
    }
    if (!quiet && store) {
        char a[32], b[32], cc[32], d[32];
        fprintf(stderr, "levee ingest: stored %s, duplicates %s, rejected %s, outside the model %s",
                grouped(counts.stored, a), grouped(counts.duplicates, b), grouped(counts.rejected, cc),
                grouped(counts.outside_model, d));
        fprintf(stderr, " (%s events in %.1f s, %.0f events/s) into %s\n", grouped(events, a), secs,
                secs > 0 ? (double)events / secs : 0, lv_store_location(store));
    }
    for (size_t i = 0; i < opened; i++)
        lv_reader_close(readers[i]);
    free(readers);
    lv_store_close(store);
    lv_redaction_free(redaction);
    if (status == LV_EXIT_OK && counts.rejected)
        status = LV_EXIT_REJECTED;
    return status;
}

/* ---- export ---- */

static lv_status write_doc(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)ctx;
    if (fwrite(raw, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
        return lv_fail(err, LV_EIO, "cannot write the output");
    return LV_OK;
}

static bool parse_time_arg(const char *command, const char *flag, const char *value, int64_t *ms)
{
    lv_error err;
    if (lv_time_or_date_parse(value, strlen(value), ms, &err) == LV_OK)
        return true;
    lv_usage_error(command, "%s: %s", flag, err.msg);
    return false;
}

static bool parse_id_arg(const char *command, const char *what, const char *value, uint64_t *id)
{
    lv_error err;
    if (lv_id_parse(value, strlen(value), id, &err) == LV_OK)
        return true;
    lv_usage_error(command, "the %s id %s", what, err.msg);
    return false;
}

int lv_cmd_export(int argc, char **argv)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, 'd' }, { "event", required_argument, NULL, 'e' },
        { "since", required_argument, NULL, 's' }, { "until", required_argument, NULL, 'u' },
        { "course", required_argument, NULL, 'c' }, { "dead-letters", no_argument, NULL, 'D' },
        { NULL, 0, NULL, 0 },
    };
    const char *db = NULL, *course = NULL;
    lv_export_filter f = { 0 };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'e': f.event = optarg; break;
        case 's':
            if (!parse_time_arg("export", "--since", optarg, &f.since_ms))
                return LV_EXIT_USAGE;
            f.has_since = true;
            break;
        case 'u':
            if (!parse_time_arg("export", "--until", optarg, &f.until_ms))
                return LV_EXIT_USAGE;
            f.has_until = true;
            break;
        case 'c': course = optarg; break;
        case 'D': f.dead_letters = true; break;
        default: return lv_usage_error("export", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lv_usage_error("export", "takes no arguments (got '%s')", argv[optind]);
    if (f.dead_letters && (f.event || f.has_since || f.has_until || course))
        return lv_usage_error("export", "--dead-letters exports all rejected input; it takes no filters");
    lv_error err;
    lv_store *store;
    lv_store_options so = { .read_only = true, .one_shot = true };
    if (lv_store_open(lv_cli_db_path(db), &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee export: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    uint64_t id;
    if (course) {
        if (!parse_id_arg("export", "course", course, &id)) {
            lv_store_close(store);
            return LV_EXIT_USAGE;
        }
        if (lv_store_resolve_id(store, id, &f.course, &err) != LV_OK) {
            fprintf(stderr, "levee export: %s\n", err.msg);
            lv_store_close(store);
            return LV_EXIT_USAGE;
        }
    }
    lv_status st = lv_store_export(store, &f, write_doc, NULL, &err);
    lv_store_close(store);
    if (st == LV_OK && fflush(stdout) != 0)
        st = lv_fail(&err, LV_EIO, "cannot write the output");
    if (st != LV_OK) {
        fprintf(stderr, "levee export: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    return LV_EXIT_OK;
}

/* ---- stats, query, search: JSON from the store, shown as JSON or as tables ---- */

typedef enum { Q_STATS, Q_TOPIC, Q_CONVERSATION, Q_COURSE, Q_USER, Q_COURSES, Q_SEARCH } question;

static int answer(const char *command, question q, const char *db, uint64_t id, const char *text,
                  const lv_query_window *win, bool json)
{
    lv_error err;
    lv_store *store;
    lv_store_options so = { .read_only = true, .one_shot = true };
    if (lv_store_open(lv_cli_db_path(db), &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee %s: %s\n", command, err.msg);
        return LV_EXIT_USAGE;
    }
    uint64_t global = id;
    lv_status st = LV_OK;
    if (id)
        st = lv_store_resolve_id(store, id, &global, &err);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    if (json)
        lv_jw_set_sink(w, stdout); /* a 10,000-entry tree is megabytes: written as it is made */
    if (st == LV_OK) {
        switch (q) {
        case Q_STATS: st = lv_query_stats(store, w, &err); break;
        case Q_TOPIC: st = lv_query_topic(store, global, w, &err); break;
        case Q_CONVERSATION: st = lv_query_conversation(store, global, w, &err); break;
        case Q_COURSE: st = lv_query_course(store, global, win, w, &err); break;
        case Q_USER: st = lv_query_user(store, global, win, w, &err); break;
        case Q_COURSES: st = lv_query_courses(store, w, &err); break;
        case Q_SEARCH: st = lv_query_search(store, text, global, win, w, &err); break;
        }
    }
    lv_jw_free(w);
    lv_store_close(store);
    int status = LV_EXIT_OK;
    if (st != LV_OK) {
        fprintf(stderr, "levee %s: %s\n", command, err.msg);
        status = st == LV_ENOTFOUND ? LV_EXIT_REJECTED : LV_EXIT_USAGE;
    } else if (json) {
        fwrite(out.data, 1, out.len, stdout);
        fputc('\n', stdout);
    } else {
        lv_buf table;
        lv_buf_init(&table);
        lv_arena a;
        lv_arena_init(&a, 1 << 16);
        lv_json *root;
        if (lv_json_parse_depth(&a, out.data, out.len, LV_ANSWER_MAX_DEPTH, &root, &err) != LV_OK) {
            fprintf(stderr, "levee %s: internal error: the answer is not JSON (%s)\n", command, err.msg);
            status = LV_EXIT_USAGE;
        } else {
            switch (q) {
            case Q_STATS: lv_render_stats(root, &table); break;
            case Q_TOPIC: lv_render_topic(root, &table); break;
            case Q_CONVERSATION: lv_render_conversation(root, &table); break;
            case Q_COURSE: lv_render_course(root, &table); break;
            case Q_USER: lv_render_user(root, &table); break;
            case Q_COURSES: lv_render_courses(root, &table); break;
            case Q_SEARCH: lv_render_search(root, &table); break;
            }
        }
        fwrite(table.data, 1, table.len, stdout);
        lv_arena_free(&a);
        lv_buf_free(&table);
    }
    lv_buf_free(&out);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "levee %s: cannot write the output\n", command);
        return LV_EXIT_USAGE;
    }
    return status;
}

int lv_cmd_stats(int argc, char **argv)
{
    const char *db = NULL;
    bool json = false;
    const lv_cli_option options[] = { LV_OPT_VALUE("db", &db), LV_OPT_FLAG("json", &json), LV_OPT_END };
    int rc = lv_cli_parse("stats", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    return answer("stats", Q_STATS, db, 0, NULL, NULL, json);
}

/* Options shared by query and search: --db --json --since --until --limit --offset (--course). */
typedef struct query_args {
    const char *db;
    bool json;
    lv_query_window win;
    const char *course;
} query_args;

static bool parse_query_options(const char *command, int argc, char **argv, bool allow_course,
                                query_args *qa)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, 'd' },     { "json", no_argument, NULL, 'j' },
        { "since", required_argument, NULL, 's' },  { "until", required_argument, NULL, 'u' },
        { "limit", required_argument, NULL, 'l' },  { "offset", required_argument, NULL, 'o' },
        { "course", required_argument, NULL, 'c' }, { "now", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 },
    };
    memset(qa, 0, sizeof *qa);
    bool have_now = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd': qa->db = optarg; break;
        case 'j': qa->json = true; break;
        case 's':
            if (!parse_time_arg(command, "--since", optarg, &qa->win.since_ms))
                return false;
            qa->win.has_since = true;
            break;
        case 'u':
            if (!parse_time_arg(command, "--until", optarg, &qa->win.until_ms))
                return false;
            qa->win.has_until = true;
            break;
        case 'n':
            if (!parse_time_arg(command, "--now", optarg, &qa->win.now_ms))
                return false;
            have_now = true;
            break;
        case 'l':
        case 'o': {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || !*optarg || v > 100000) {
                lv_usage_error(command, "%s must be a number from 0 to 100000, not '%s'",
                               c == 'l' ? "--limit" : "--offset", optarg);
                return false;
            }
            if (c == 'l')
                qa->win.limit = (unsigned)v;
            else
                qa->win.offset = (unsigned)v;
            break;
        }
        case 'c':
            if (!allow_course) {
                lv_usage_error(command, "--course applies to search and export only");
                return false;
            }
            qa->course = optarg;
            break;
        default: lv_usage_error(command, "unknown option '%s'", argv[optind - 1]); return false;
        }
    }
    if (!have_now)
        qa->win.now_ms = qa->win.has_until ? qa->win.until_ms : lv_now_ms();
    return true;
}

int lv_cmd_query(int argc, char **argv)
{
    if (argc < 2)
        return lv_usage_error("query", "say what to look up: topic ID, conversation ID, course ID, "
                                       "user ID or courses");
    const char *what = argv[1];
    question q;
    if (strcmp(what, "topic") == 0)
        q = Q_TOPIC;
    else if (strcmp(what, "conversation") == 0)
        q = Q_CONVERSATION;
    else if (strcmp(what, "course") == 0)
        q = Q_COURSE;
    else if (strcmp(what, "user") == 0)
        q = Q_USER;
    else if (strcmp(what, "courses") == 0)
        q = Q_COURSES;
    else
        return lv_usage_error("query", "'%s' is not something to query; use topic, conversation, "
                                       "course, user or courses", what);
    query_args qa;
    if (!parse_query_options("query", argc - 1, argv + 1, false, &qa))
        return LV_EXIT_USAGE;
    int rest = argc - 1 - optind;
    uint64_t id = 0;
    if (q == Q_COURSES) {
        if (rest != 0)
            return lv_usage_error("query", "query courses takes no id");
    } else {
        if (rest != 1)
            return lv_usage_error("query", "query %s needs one id (local or global)", what);
        if (!parse_id_arg("query", what, argv[1 + optind], &id))
            return LV_EXIT_USAGE;
    }
    return answer("query", q, qa.db, id, NULL, &qa.win, qa.json);
}

int lv_cmd_search(int argc, char **argv)
{
    query_args qa;
    if (!parse_query_options("search", argc, argv, true, &qa))
        return LV_EXIT_USAGE;
    if (optind >= argc)
        return lv_usage_error("search", "say what to search for, e.g. levee search \"photosynthesis\"");
    lv_buf text;
    lv_buf_init(&text);
    for (int i = optind; i < argc; i++) {
        if (i > optind)
            lv_buf_putc(&text, ' ');
        lv_buf_puts(&text, argv[i]);
    }
    uint64_t course = 0;
    if (qa.course && !parse_id_arg("search", "course", qa.course, &course)) {
        lv_buf_free(&text);
        return LV_EXIT_USAGE;
    }
    int rc = answer("search", Q_SEARCH, qa.db, course, text.data, &qa.win, qa.json);
    lv_buf_free(&text);
    return rc;
}
