/* cmd_simulate.c: `levee simulate`: runs the simulated institution (levee/simulate.h) and writes its
 * events as NDJSON to stdout or a file, POSTs them one per request to a URL as Canvas does, or sends
 * them to an Amazon SQS queue as Canvas fills one (one event a message, with the string attributes
 * event_name and event_time), optionally signed as JWTs; `--print-jwks` prints the public key that
 * verifies them. */
#include "cli.h"

#include "levee/caliper.h"
#include "levee/post.h"
#include "levee/sign.h"
#include "levee/simulate.h"
#include "levee/sqs.h"
#include "levee/timestamp.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    lv_sim_options sim;
    lv_format format;
    double rate; /* events per second; 0 = as fast as possible */
    double speed; /* live: the simulated clock runs this many times as fast as the wall clock; 0 = not live */
    bool start_given;
    double live_start; /* live: the monotonic clock (now_s) when the simulated clock started */
    const char *to;
    const char *sqs;          /* --sqs QUEUE_URL */
    const char *sqs_endpoint; /* --sqs-endpoint URL */
    const char *key_path;
    const char *kid;
    bool print_jwks;
    bool quiet;
} options;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool parse_count(const char *opt, const char *arg, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-' || v < lo || v > hi) {
        lv_usage_error("simulate", "%s must be a whole number from %u to %u, not '%s'", opt, lo, hi, arg);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* --start: a date (midnight UTC) or a timestamp with a UTC offset. */
static bool parse_start(const char *arg, int64_t *ms)
{
    char text[64];
    size_t n = strlen(arg);
    if (n == 10 && arg[4] == '-' && arg[7] == '-') {
        snprintf(text, sizeof text, "%sT00:00:00Z", arg);
        arg = text;
        n = strlen(text);
    }
    lv_error err;
    if (lv_time_parse(arg, n, ms, &err) != LV_OK) {
        lv_usage_error("simulate", "--start must be a date (2024-09-02) or a timestamp with a UTC offset "
                                   "(2024-09-02T08:00:00-05:00): %s", err.msg);
        return false;
    }
    return true;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option long_options[] = {
        { "seed", required_argument, NULL, 's' },    { "courses", required_argument, NULL, 'c' },
        { "users", required_argument, NULL, 'u' },   { "days", required_argument, NULL, 'd' },
        { "start", required_argument, NULL, 'S' },   { "format", required_argument, NULL, 'f' },
        { "rate", required_argument, NULL, 'r' },    { "to", required_argument, NULL, 't' },
        { "sign-key", required_argument, NULL, 'k' }, { "kid", required_argument, NULL, 'i' },
        { "print-jwks", no_argument, NULL, 'j' },    { "quiet", no_argument, NULL, 'q' },
        { "live", no_argument, NULL, 'l' },          { "speed", required_argument, NULL, 'x' },
        { "sqs", required_argument, NULL, 'Q' },     { "sqs-endpoint", required_argument, NULL, 'E' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof *o);
    lv_sim_options_init(&o->sim);
    o->format = LV_FORMAT_CANVAS;
    o->to = "-";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+q", long_options, NULL)) != -1) {
        switch (c) {
        case 's': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-')
                return lv_usage_error("simulate", "--seed must be a whole number from 0 to %llu, not '%s'",
                                      (unsigned long long)UINT64_MAX, optarg);
            o->sim.seed = v;
            break;
        }
        case 'c':
            if (!parse_count("--courses", optarg, 1, LV_SIM_MAX_COURSES, &o->sim.courses))
                return LV_EXIT_USAGE;
            break;
        case 'u':
            if (!parse_count("--users", optarg, 2, LV_SIM_MAX_USERS, &o->sim.users))
                return LV_EXIT_USAGE;
            break;
        case 'd':
            if (!parse_count("--days", optarg, 1, LV_SIM_MAX_DAYS, &o->sim.days))
                return LV_EXIT_USAGE;
            break;
        case 'S':
            if (!parse_start(optarg, &o->sim.start_ms))
                return LV_EXIT_USAGE;
            o->start_given = true;
            break;
        case 'f':
            if (strcmp(optarg, "canvas") == 0)
                o->format = LV_FORMAT_CANVAS;
            else if (strcmp(optarg, "caliper") == 0)
                o->format = LV_FORMAT_CALIPER;
            else
                return lv_usage_error("simulate", "--format must be canvas or caliper, not '%s'", optarg);
            break;
        case 'r': {
            char *end;
            errno = 0;
            double r = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(r > 0) || r > 1e6)
                return lv_usage_error("simulate", "--rate must be a number of events per second above 0 "
                                                  "and at most 1000000, not '%s'", optarg);
            o->rate = r;
            break;
        }
        case 'l':
            if (!o->speed)
                o->speed = 1;
            break;
        case 'x': {
            char *end;
            errno = 0;
            double v = strtod(optarg, &end);
            if (!*optarg || *end || errno || !(v > 0) || v > 1e6)
                return lv_usage_error("simulate", "--speed must be a number above 0 and at most 1000000 (1 is the "
                                                  "wall clock's pace), not '%s'", optarg);
            o->speed = v;
            break;
        }
        case 't':
            if (!*optarg)
                return lv_usage_error("simulate", "--to needs '-', a file name or an http(s):// URL");
            o->to = optarg;
            break;
        case 'Q': o->sqs = optarg; break;
        case 'E': o->sqs_endpoint = optarg; break;
        case 'k': o->key_path = optarg; break;
        case 'i':
            if (!*optarg)
                return lv_usage_error("simulate", "--kid must not be empty");
            o->kid = optarg;
            break;
        case 'j': o->print_jwks = true; break;
        case 'q': o->quiet = true; break;
        default:
            /* getopt reports a long option missing its value with the option's code in optopt. */
            if (optopt && strchr("scudSfrtkixQE", optopt) && strncmp(argv[optind - 1], "--", 2) == 0)
                return lv_usage_error("simulate", "%s needs a value", argv[optind - 1]);
            return lv_usage_error("simulate", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lv_usage_error("simulate", "takes no file names (got '%s'); use --to to say where events go",
                              argv[optind]);
    if (o->sqs && strcmp(o->to, "-") != 0)
        return lv_usage_error("simulate", "--sqs and --to are two destinations: choose one");
    if (o->sqs_endpoint && !o->sqs)
        return lv_usage_error("simulate", "--sqs-endpoint needs --sqs QUEUE_URL");
    if (!o->key_path != !o->kid)
        return lv_usage_error("simulate", "--sign-key and --kid go together: the JWT header names the key "
                                          "by its id");
    if (o->print_jwks && !o->key_path)
        return lv_usage_error("simulate", "--print-jwks needs --sign-key PEM and --kid ID");
    if (o->speed && o->rate)
        return lv_usage_error("simulate", "--rate and --live (or --speed) are two different paces: choose one");
    if (o->speed && o->start_given)
        return lv_usage_error("simulate", "--live (or --speed) starts the simulated clock at the wall clock's time; "
                                          "it takes no --start");
    if (o->speed) {
        o->sim.start_ms = lv_now_ms();
        o->live_start = now_s();
    }
    return -1;
}

static bool is_url(const char *to)
{
    return strncmp(to, "http://", 7) == 0 || strncmp(to, "https://", 8) == 0;
}

static int print_jwks(const lv_sign_key *key)
{
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    lv_jwks_write(key, w);
    lv_buf_putc(&out, '\n');
    fwrite(out.data, 1, out.len, stdout);
    lv_jw_free(w);
    lv_buf_free(&out);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "levee simulate: cannot write the output\n");
        return LV_EXIT_USAGE;
    }
    return LV_EXIT_OK;
}

typedef struct delivery {
    const options *o;
    FILE *file;         /* stdout or the --to file; NULL when posting */
    lv_poster *poster;  /* --to URL */
    lv_sqs *sqs;        /* --sqs QUEUE_URL */
    lv_sqs_outgoing pending[LV_SQS_BATCH]; /* messages not yet sent (their strings are copies) */
    size_t n_pending, pending_bytes;
    lv_buf out;         /* buffered file output */
    unsigned long sent, failed, retries, skipped;
    bool write_failed;
} delivery;

static void flush_out(delivery *d)
{
    if (d->out.len && d->file) {
        if (fwrite(d->out.data, 1, d->out.len, d->file) != d->out.len)
            d->write_failed = true;
        lv_buf_reset(&d->out);
    }
}

static void free_pending(delivery *d)
{
    for (size_t i = 0; i < d->n_pending; i++) {
        free((char *)d->pending[i].body);
        free((char *)d->pending[i].event_name);
        free((char *)d->pending[i].event_time);
    }
    d->n_pending = d->pending_bytes = 0;
}

/* Sends the pending messages in one SendMessageBatch, retried as Canvas retries (3 times, backoff). */
static void send_pending(delivery *d)
{
    if (!d->n_pending)
        return;
    lv_error err;
    lv_status st = LV_OK;
    for (unsigned attempt = 0; attempt <= 3; attempt++) {
        if (attempt) {
            d->retries++;
            struct timespec ts = { 0, 250000000L << (attempt - 1) };
            while (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            nanosleep(&ts, NULL);
        }
        st = lv_sqs_send(d->sqs, d->pending, d->n_pending, &err);
        if (st == LV_OK || (st != LV_EIO && st != LV_EBUSY))
            break;
    }
    if (st == LV_OK) {
        d->sent += d->n_pending;
    } else {
        d->failed += d->n_pending;
        fprintf(stderr, "levee simulate: %zu events were not sent: %s\n", d->n_pending, err.msg);
        if (st != LV_EIO && st != LV_EBUSY)
            d->write_failed = true; /* refused: the rest would be too */
    }
    free_pending(d);
}

/* SQS takes at most 10 messages and 256 KiB in one batch. */
#define SQS_BATCH_BYTES (256u * 1024u)

static void queue_message(delivery *d, const lv_event *ev, const char *body, size_t len)
{
    if (d->n_pending && d->pending_bytes + len > SQS_BATCH_BYTES - 4096)
        send_pending(d);
    char when[LV_TIME_TEXT_MAX];
    lv_time_format(ev->time_ms, when);
    lv_sqs_outgoing *m = &d->pending[d->n_pending++];
    m->body = lv_xstrndup(body, len);
    m->len = len;
    m->event_name = lv_xstrndup(ev->name, ev->name_len);
    m->event_time = lv_xstrdup(when);
    d->pending_bytes += len + ev->name_len + strlen(when);
    /* paced events go out when they are due; otherwise ten at a time */
    if (d->n_pending == LV_SQS_BATCH || d->o->rate > 0 || d->o->speed > 0)
        send_pending(d);
}

static void deliver(delivery *d, const lv_event *ev, const char *body, size_t len)
{
    if (d->sqs) {
        queue_message(d, ev, body, len);
        return;
    }
    if (d->file) {
        lv_buf_append(&d->out, body, len);
        lv_buf_putc(&d->out, '\n');
        d->sent++;
        /* In real time every event goes out when it is due; otherwise in large writes. */
        bool paced = d->o->rate > 0 || d->o->speed > 0;
        if (paced || d->out.len > (1u << 16)) {
            flush_out(d);
            if (paced && fflush(d->file) != 0)
                d->write_failed = true;
        }
        return;
    }
    lv_post_result r;
    lv_error err;
    if (lv_poster_send(d->poster, body, len, &r, &err) == LV_OK) {
        d->sent++;
    } else {
        d->failed++;
        char when[LV_TIME_TEXT_MAX];
        lv_time_format(ev->time_ms, when);
        fprintf(stderr, "levee simulate: %.*s at %s was not delivered to %s: %s\n", (int)ev->name_len, ev->name,
                when, d->o->to, err.msg);
    }
    d->retries += r.attempts ? r.attempts - 1 : 0;
}

static int run(const options *o)
{
    lv_error err;
    lv_sign_key *key = NULL;
    if (o->key_path && lv_sign_key_load(&key, o->key_path, o->kid, &err) != LV_OK) {
        fprintf(stderr, "levee simulate: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (o->print_jwks) {
        int rc = print_jwks(key);
        lv_sign_key_free(key);
        return rc;
    }
    lv_sim *sim;
    if (lv_sim_new(&sim, &o->sim, &err) != LV_OK) {
        lv_sign_key_free(key);
        return lv_usage_error("simulate", "%s", err.msg);
    }
    delivery d = { .o = o };
    lv_buf_init(&d.out);
    if (o->sqs) {
        lv_sqs_config sc = { .queue_url = o->sqs, .endpoint = o->sqs_endpoint };
        if (lv_sqs_open(&d.sqs, &sc, &err) != LV_OK) {
            lv_sim_free(sim);
            lv_sign_key_free(key);
            lv_buf_free(&d.out);
            fprintf(stderr, "levee simulate: %s\n", err.msg);
            return LV_EXIT_USAGE;
        }
    } else if (is_url(o->to)) {
        lv_post_options po;
        lv_post_options_init(&po);
        po.content_type = key ? "application/jwt" : "application/json";
        po.jitter_seed = o->sim.seed;
        if (lv_poster_new(&d.poster, o->to, &po, &err) != LV_OK) {
            lv_sim_free(sim);
            lv_sign_key_free(key);
            lv_buf_free(&d.out);
            return lv_usage_error("simulate", "--to %s", err.msg);
        }
    } else if (strcmp(o->to, "-") == 0) {
        d.file = stdout;
    } else if (!(d.file = fopen(o->to, "wb"))) {
        fprintf(stderr, "levee simulate: cannot create %s: %s\n", o->to, strerror(errno));
        lv_sim_free(sim);
        lv_sign_key_free(key);
        lv_buf_free(&d.out);
        return LV_EXIT_USAGE;
    }

    lv_buf doc, jwt;
    lv_buf_init(&doc);
    lv_buf_init(&jwt);
    lv_jw *w = lv_jw_new(&doc, false);
    lv_arena arena;
    lv_arena_init(&arena, 1 << 16);
    double start = now_s();
    unsigned long n = 0;
    int rc = LV_EXIT_OK;
    for (const lv_event *ev; (ev = lv_sim_next(sim)) != NULL && !d.write_failed;) {
        /* Canvas sends Caliper only for the kinds it documents in Caliper. */
        if (o->format == LV_FORMAT_CALIPER && !ev->kind->caliper) {
            d.skipped++;
            continue;
        }
        lv_buf_reset(&doc);
        lv_jw_reset(w);
        lv_status st = o->format == LV_FORMAT_CALIPER ? lv_caliper_write_envelope(ev, &arena, w, &err)
                                                      : lv_canvas_write_event(ev, w, &err);
        lv_arena_reset(&arena);
        if (st != LV_OK) {
            fprintf(stderr, "levee simulate: internal error: a simulated %.*s cannot be written: %s\n",
                    (int)ev->name_len, ev->name, err.msg);
            rc = LV_EXIT_USAGE;
            break;
        }
        const char *body = doc.data;
        size_t len = doc.len;
        if (key) {
            lv_buf_reset(&jwt);
            if (lv_jwt_sign(key, doc.data, doc.len, (int64_t)time(NULL), 3600, &jwt, &err) != LV_OK) {
                fprintf(stderr, "levee simulate: %s\n", err.msg);
                rc = LV_EXIT_USAGE;
                break;
            }
            body = jwt.data;
            len = jwt.len;
        }
        if (o->rate > 0)
            sleep_until(start + (double)n / o->rate);
        else if (o->speed > 0) /* live: sent when the simulated clock, started now, reaches its event_time */
            sleep_until(o->live_start + (double)(ev->time_ms - o->sim.start_ms) / 1000.0 / o->speed);
        n++;
        deliver(&d, ev, body, len);
    }
    flush_out(&d);
    if (d.sqs && !d.write_failed)
        send_pending(&d);
    free_pending(&d);
    double elapsed = now_s() - start;
    if (d.file && (fflush(d.file) != 0 || ferror(d.file)))
        d.write_failed = true;
    if (d.file && d.file != stdout && fclose(d.file) != 0)
        d.write_failed = true;
    if (d.write_failed && d.sqs) {
        rc = LV_EXIT_USAGE;
    } else if (d.write_failed) {
        fprintf(stderr, "levee simulate: cannot write to %s\n", strcmp(o->to, "-") ? o->to : "stdout");
        rc = LV_EXIT_USAGE;
    }
    if (!o->quiet) {
        lv_sim_info info;
        lv_sim_describe(sim, &info);
        char from[LV_TIME_TEXT_MAX];
        lv_time_format_seconds(info.start_ms, from);
        fprintf(stderr, "levee simulate: %lu event%s %s %s", d.sent, d.sent == 1 ? "" : "s",
                d.poster || d.sqs ? "sent to" : "written to", d.sqs ? o->sqs : strcmp(o->to, "-") ? o->to : "stdout");
        if (d.poster || d.sqs)
            fprintf(stderr, ", %lu failed, %lu retr%s", d.failed, d.retries, d.retries == 1 ? "y" : "ies");
        if (d.skipped)
            fprintf(stderr, " (%lu without a Caliper form left out)", d.skipped);
        fprintf(stderr, ", in %.2f s (%.0f events/s); seed %llu, %zu course%s, %zu users, %u day%s from %s on %s\n",
                elapsed, elapsed > 0 ? (double)(d.sent + d.failed) / elapsed : 0.0,
                (unsigned long long)o->sim.seed, info.courses, info.courses == 1 ? "" : "s", info.users,
                o->sim.days, o->sim.days == 1 ? "" : "s", from, info.hostname);
    }
    lv_jw_free(w);
    lv_buf_free(&doc);
    lv_buf_free(&jwt);
    lv_buf_free(&d.out);
    lv_arena_free(&arena);
    lv_poster_free(d.poster);
    lv_sqs_close(d.sqs);
    lv_sim_free(sim);
    lv_sign_key_free(key);
    if (rc == LV_EXIT_OK && d.failed)
        rc = LV_EXIT_REJECTED;
    return rc;
}

int lv_cmd_simulate(int argc, char **argv)
{
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    return run(&o);
}
