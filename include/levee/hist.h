/* levee/hist.h (stage: common): a fixed-bucket histogram of durations, updated without a lock from any thread and
 * rendered in Prometheus' text format. Its buckets are fine enough between 0.5 ms and 1 s to read a
 * 99th percentile from them (where an event's time goes on its way through levee serve: /metrics). */
#ifndef LEVEE_HIST_H
#define LEVEE_HIST_H

#include "levee/common.h"

#include <stdatomic.h>

#define LV_HIST_BUCKETS 26

typedef struct lv_hist {
    _Atomic uint64_t counts[LV_HIST_BUCKETS + 1]; /* the last one: above every bound */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
    _Atomic int64_t max_us;
} lv_hist;

/* Counts one duration (negative ones count as 0). A zeroed lv_hist is an empty one. */
void lv_hist_observe_us(lv_hist *h, int64_t us);
/* Appends NAME_bucket{LABELS,le=...}, NAME_sum and NAME_count lines (no HELP or TYPE line: a family
 * of histograms shares one). labels may be "". */
void lv_hist_render(lv_hist *h, const char *name, const char *labels, lv_buf *out);
/* The q-quantile (0..1) in seconds, interpolated within its bucket as Prometheus' histogram_quantile
 * does; 0 when empty. */
double lv_hist_quantile(lv_hist *h, double q);

#endif
