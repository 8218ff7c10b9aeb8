/* metrics.c: lock-free counters and fixed-bucket histograms, rendered in Prometheus' text format. */
#include "levee/metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES (LV_KIND_SLOTS + 1) /* the catalog's kinds, then "other" */
#define LV_KIND_SLOTS 8

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

typedef struct histogram {
    _Atomic uint64_t counts[N_BUCKETS + 1];
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} histogram;

static const char *const routes[] = { "events", "api", "tail", "web", "other" };
#define N_ROUTES (sizeof routes / sizeof routes[0])
static const int status_classes[] = { 2, 3, 4, 5 };

struct lv_metrics {
    _Atomic uint64_t events[LV_M_OUTCOMES][NAMES][2];
    _Atomic uint64_t requests[N_ROUTES][4];
    histogram request_seconds[N_ROUTES];
    histogram commit_seconds;
    _Atomic uint64_t committed_records;
};

lv_metrics *lv_metrics_new(void)
{
    return lv_xcalloc(1, sizeof(lv_metrics));
}

void lv_metrics_free(lv_metrics *m)
{
    free(m);
}

static size_t name_slot(const char *event, size_t len)
{
    if (!event)
        return NAMES - 1;
    const lv_kind *k = lv_kind_find(event, len);
    if (!k || (size_t)(k - lv_kinds) >= LV_KIND_SLOTS)
        return NAMES - 1;
    return (size_t)(k - lv_kinds);
}

void lv_metrics_count(lv_metrics *m, lv_outcome_metric outcome, const char *event, size_t len,
                      lv_format format, uint64_t n)
{
    atomic_fetch_add(&m->events[outcome][name_slot(event, len)][format == LV_FORMAT_CALIPER], n);
}

static void observe(histogram *h, double seconds)
{
    size_t i = 0;
    while (i < N_BUCKETS && seconds > buckets[i])
        i++;
    atomic_fetch_add(&h->counts[i], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (uint64_t)(seconds * 1e6));
}

static size_t route_slot(const char *route)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(routes[i], route) == 0)
            return i;
    return N_ROUTES - 1;
}

void lv_metrics_request(lv_metrics *m, const char *route, int status, double seconds)
{
    size_t r = route_slot(route);
    int cls = status / 100 - 2;
    if (cls >= 0 && cls < 4)
        atomic_fetch_add(&m->requests[r][cls], 1);
    observe(&m->request_seconds[r], seconds);
}

void lv_metrics_commit(lv_metrics *m, double seconds, uint64_t records)
{
    observe(&m->commit_seconds, seconds);
    atomic_fetch_add(&m->committed_records, records);
}

static void render_histogram(lv_buf *out, const char *name, const char *labels, histogram *h)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= N_BUCKETS; i++) {
        cumulative += atomic_load(&h->counts[i]);
        if (i < N_BUCKETS)
            lv_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", buckets[i],
                          (unsigned long long)cumulative);
        else
            lv_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                          (unsigned long long)cumulative);
    }
    lv_buf_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)atomic_load(&h->sum_us) / 1e6);
    lv_buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)atomic_load(&h->count));
}

void lv_metrics_render(lv_metrics *m, const lv_metrics_gauges *g, lv_buf *out)
{
    static const char *const outcome_names[LV_M_OUTCOMES] = { "received", "stored", "duplicate", "rejected", "refused" };
    static const char *const help[LV_M_OUTCOMES] = {
        "Events accepted and durably journaled (answered 2xx).",
        "Events applied to the store that it did not hold yet.",
        "Events applied to the store that it already held (delivered again).",
        "Invalid events: answered 400 and kept as dead letters.",
        "Requests refused before reading events: bad token, bad or missing signature.",
    };
    for (int o = 0; o < LV_M_OUTCOMES; o++) {
        lv_buf_printf(out, "# HELP levee_events_%s_total %s\n# TYPE levee_events_%s_total counter\n",
                      outcome_names[o], help[o], outcome_names[o]);
        for (size_t n = 0; n < NAMES; n++)
            for (int f = 0; f < 2; f++) {
                const char *name = n < lv_kind_count && n < LV_KIND_SLOTS ? lv_kinds[n].name : "other";
                if (n >= lv_kind_count && n != NAMES - 1)
                    continue;
                lv_buf_printf(out, "levee_events_%s_total{event=\"%s\",format=\"%s\"} %llu\n", outcome_names[o], name,
                              f ? "caliper" : "canvas", (unsigned long long)atomic_load(&m->events[o][n][f]));
            }
    }
    lv_buf_puts(out, "# HELP levee_http_requests_total HTTP requests by route and status class.\n"
                     "# TYPE levee_http_requests_total counter\n");
    for (size_t r = 0; r < N_ROUTES; r++)
        for (int c = 0; c < 4; c++)
            lv_buf_printf(out, "levee_http_requests_total{route=\"%s\",status=\"%dxx\"} %llu\n", routes[r],
                          status_classes[c], (unsigned long long)atomic_load(&m->requests[r][c]));
    lv_buf_puts(out, "# HELP levee_http_request_duration_seconds Time from a request's start to its answer.\n"
                     "# TYPE levee_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < N_ROUTES; r++) {
        char labels[64];
        snprintf(labels, sizeof labels, "route=\"%s\"", routes[r]);
        render_histogram(out, "levee_http_request_duration_seconds", labels, &m->request_seconds[r]);
    }
    lv_buf_puts(out, "# HELP levee_commit_duration_seconds Journal group commits (write and fsync).\n"
                     "# TYPE levee_commit_duration_seconds histogram\n");
    render_histogram(out, "levee_commit_duration_seconds", "", &m->commit_seconds);
    lv_buf_printf(out, "# HELP levee_commit_records_total Journal records made durable by group commits (divided by "
                       "levee_commit_duration_seconds_count: the mean group size).\n"
                       "# TYPE levee_commit_records_total counter\nlevee_commit_records_total %llu\n",
                  (unsigned long long)atomic_load(&m->committed_records));
    lv_buf_printf(out, "# HELP levee_queue_depth_bytes Journaled (acknowledged) bytes not yet applied to the store.\n"
                       "# TYPE levee_queue_depth_bytes gauge\nlevee_queue_depth_bytes %llu\n",
                  (unsigned long long)g->journal_backlog_bytes);
    lv_buf_printf(out, "# HELP levee_tail_subscribers Open /api/tail streams.\n"
                       "# TYPE levee_tail_subscribers gauge\nlevee_tail_subscribers %llu\n",
                  (unsigned long long)g->tail_subscribers);
    lv_buf_printf(out, "# HELP levee_ready Whether the server is ready (1) or recovering or failing (0).\n"
                       "# TYPE levee_ready gauge\nlevee_ready %d\n", g->ready ? 1 : 0);
    const struct { const char *name, *type, *help; uint64_t value; } more[] = {
        { "levee_journal_failing", "gauge", "Whether the journal cannot be written now (1: events are answered 503).",
          g->journal_failing },
        { "levee_journal_failures_total", "counter", "Journal writes or syncs that failed (a full disk, an I/O error).",
          g->journal_failures },
        { "levee_journal_recoveries_total", "counter", "Times the journal became writable again after failing.",
          g->journal_recoveries },
        { "levee_journal_damaged_bytes_total", "counter",
          "Journal bytes found damaged, set aside in the journal's damaged/ folder, and skipped.",
          g->journal_damaged_bytes },
        { "levee_store_retrying", "gauge", "Whether storing events waits to retry (the store locked, the disk full).",
          g->applier_retrying },
        { "levee_store_retries_total", "counter", "Failed attempts to store journaled events, retried.",
          g->applier_retries },
        { "levee_store_recoveries_total", "counter", "Times storing events resumed after retrying.",
          g->applier_recoveries },
        { "levee_query_timeouts_total", "counter", "API questions given up at their deadline.", g->query_timeouts },
        { "levee_request_body_bytes", "gauge", "Request bodies held in memory now.", g->body_bytes },
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        lv_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", more[i].name, more[i].help, more[i].name,
                      more[i].type, more[i].name, (unsigned long long)more[i].value);
}
