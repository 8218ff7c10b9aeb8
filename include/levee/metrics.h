/* levee/metrics.h (stage: serve): the server's counters and histograms, in Prometheus' text format at /metrics.
 * Every name starts with levee_. Events are counted by outcome (received, stored, duplicate,
 * rejected, refused), event name (the modeled kinds, or "other") and format. */
#ifndef LEVEE_METRICS_H
#define LEVEE_METRICS_H

#include "levee/event.h"

typedef enum lv_outcome_metric {
    LV_M_RECEIVED,  /* accepted into the journal */
    LV_M_STORED,    /* applied to the store, new */
    LV_M_DUPLICATE, /* applied to the store, already there */
    LV_M_REJECTED,  /* invalid: answered 400, kept as a dead letter */
    LV_M_REFUSED,   /* not accepted at all: bad token, bad or missing signature */
    LV_M_OUTCOMES
} lv_outcome_metric;

typedef struct lv_metrics lv_metrics;

lv_metrics *lv_metrics_new(void);
void lv_metrics_free(lv_metrics *m);

/* n events of this name (NULL or unknown: "other") and format had this outcome. */
void lv_metrics_count(lv_metrics *m, lv_outcome_metric outcome, const char *event, size_t len,
                      lv_format format, uint64_t n);
/* A request finished: route is "events", "api", "tail", "web" or "other". */
void lv_metrics_request(lv_metrics *m, const char *route, int status, double seconds);
/* A journal group commit (one write and fsync shared by the requests waiting) took this long and
 * made this many records durable. */
void lv_metrics_commit(lv_metrics *m, double seconds, uint64_t records);

/* Figures kept elsewhere (the journal, the applier, the query workers), read when rendering. */
typedef struct lv_metrics_gauges {
    uint64_t journal_backlog_bytes; /* acknowledged, not yet applied to the store */
    uint64_t tail_subscribers;
    uint64_t connections;
    bool ready;
    bool journal_failing;           /* the journal cannot be written now (events answered 503) */
    uint64_t journal_failures;      /* journal writes or syncs that failed */
    uint64_t journal_recoveries;    /* returns to health after failing */
    uint64_t journal_damaged_bytes; /* journal bytes found damaged and set aside */
    bool applier_retrying;          /* storing waits to retry (the store is locked or the disk full) */
    uint64_t applier_retries;
    uint64_t applier_recoveries;
    uint64_t query_timeouts;        /* questions given up at their deadline */
    uint64_t body_bytes;            /* request bodies held in memory now */
} lv_metrics_gauges;

void lv_metrics_render(lv_metrics *m, const lv_metrics_gauges *g, lv_buf *out);

#endif
