/* cmd_pull.c: `levee pull --sqs QUEUE_URL`: receives Canvas's events from an Amazon SQS queue into the store
 * (levee/pull.h), with a progress line and a summary like `levee ingest`'s when stderr is a terminal. */
#include "cli.h"

#include "levee/pull.h"
#include "levee/redact.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct view {
    bool tty, quiet;
    bool drawn; /* a progress line is on the screen */
    struct timespec start;
    double last_draw;
} view;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void say(void *ctx, const char *sentence)
{
    view *v = ctx;
    if (v->quiet)
        return;
    if (v->drawn) {
        fputs("\r\033[K", stderr);
        v->drawn = false;
    }
    fprintf(stderr, "levee pull: %s\n", sentence);
    fflush(stderr);
}

static void draw(void *ctx, const lv_pull_counts *c)
{
    view *v = ctx;
    double t = seconds_since(&v->start);
    if (!v->tty || t - v->last_draw < 0.2)
        return;
    v->last_draw = t;
    char backlog[48] = "";
    if (c->has_backlog)
        snprintf(backlog, sizeof backlog, "  queue ~%llu", (unsigned long long)c->backlog);
    fprintf(stderr, "\r\033[Kreceived %llu  stored %llu  duplicates %llu  dead letters %llu  deleted %llu%s  %.0f/s ",
            (unsigned long long)c->received, (unsigned long long)c->stored, (unsigned long long)c->duplicates,
            (unsigned long long)c->rejected, (unsigned long long)c->deleted, backlog,
            t > 0 ? (double)c->received / t : 0);
    fflush(stderr);
    v->drawn = true;
}

int lv_cmd_pull(int argc, char **argv)
{
    static const struct option options[] = {
        { "sqs", required_argument, NULL, 'S' },       { "sqs-endpoint", required_argument, NULL, 'E' },
        { "db", required_argument, NULL, 'd' },        { "drain", no_argument, NULL, 'D' },
        { "receivers", required_argument, NULL, 'r' }, { "jwks", required_argument, NULL, 'k' },
        { "issuer", required_argument, NULL, 'i' },    { "strict", no_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },           { "json", no_argument, NULL, 'j' },
        { "wait-time-seconds", required_argument, NULL, 'w' },
        { "redact", required_argument, NULL, 'R' },    { "redact-key", required_argument, NULL, 'K' },
        { NULL, 0, NULL, 0 },
    };
    lv_pull_config cfg;
    lv_pull_config_init(&cfg);
    bool json = false;
    const char *redact = NULL, *redact_key = NULL;
    view v = { 0 };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "q", options, NULL)) != -1) {
        switch (c) {
        case 'S': cfg.sqs.queue_url = optarg; break;
        case 'E': cfg.sqs.endpoint = optarg; break;
        case 'd': cfg.db = optarg; break;
        case 'D': cfg.drain = true; break;
        case 'r': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 16)
                return lv_usage_error("pull", "--receivers takes a number from 1 to 16, not '%s'", optarg);
            cfg.receivers = (unsigned)n;
            break;
        }
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 0 || n > 20)
                return lv_usage_error("pull", "--wait-time-seconds takes a number from 0 to 20, not '%s'", optarg);
            cfg.wait_seconds = (unsigned)n;
            break;
        }
        case 'k': cfg.jwks = optarg; break;
        case 'i': cfg.issuer = optarg; break;
        case 's': cfg.decode.strict = true; break;
        case 'q': v.quiet = true; break;
        case 'j': json = true; break;
        case 'R': redact = optarg; break;
        case 'K': redact_key = optarg; break;
        default: return lv_usage_error("pull", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lv_usage_error("pull", "unexpected argument '%s'", argv[optind]);
    if (!cfg.sqs.queue_url)
        return lv_usage_error("pull", "--sqs QUEUE_URL is required (the queue's URL as AWS gives it)");
    if (!cfg.db) {
        const char *e = getenv("LEVEE_DB");
        cfg.db = e && *e ? e : "levee.db";
    }
    lv_redaction *redaction = NULL;
    if (lv_cli_redaction("pull", redact, redact_key, true, &redaction) != LV_EXIT_OK)
        return LV_EXIT_USAGE;
    cfg.decode.redact = redaction;
    v.tty = !v.quiet && isatty(2);
    cfg.note = say;
    cfg.progress = draw;
    cfg.ctx = &v;
    clock_gettime(CLOCK_MONOTONIC, &v.start);
    lv_pull_counts n;
    lv_error err;
    lv_status st = lv_pull_run(&cfg, &n, &err);
    double secs = seconds_since(&v.start);
    if (v.drawn)
        fputs("\r\033[K", stderr);
    if (st != LV_OK)
        fprintf(stderr, "levee pull: %s\n", err.msg);
    if (json)
        printf("{\"received\":%llu,\"deleted\":%llu,\"failed\":%llu,\"stored\":%llu,\"duplicates\":%llu,"
               "\"rejected\":%llu,\"outside_model\":%llu,\"retries\":%llu,\"backlog\":%llu,\"seconds\":%.3f}\n",
               (unsigned long long)n.received, (unsigned long long)n.deleted, (unsigned long long)n.failed,
               (unsigned long long)n.stored, (unsigned long long)n.duplicates, (unsigned long long)n.rejected,
               (unsigned long long)n.outside_model, (unsigned long long)n.retries, (unsigned long long)n.backlog,
               secs);
    if (!v.quiet && (st == LV_OK || n.received))
        fprintf(stderr, "levee pull: received %llu messages: stored %llu events, duplicates %llu, dead letters %llu, "
                "left in the queue %llu; deleted %llu (%.1f s, %.0f messages/s) from %s into %s\n",
                (unsigned long long)n.received, (unsigned long long)n.stored, (unsigned long long)n.duplicates,
                (unsigned long long)n.rejected, (unsigned long long)n.failed, (unsigned long long)n.deleted, secs,
                secs > 0 ? (double)n.received / secs : 0, cfg.sqs.queue_url, cfg.db);
    lv_redaction_free(redaction);
    if (st != LV_OK)
        return LV_EXIT_USAGE;
    return n.rejected ? LV_EXIT_REJECTED : LV_EXIT_OK;
}
