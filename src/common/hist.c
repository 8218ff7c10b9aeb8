/* hist.c: fixed-bucket duration histograms with atomic counters (levee/hist.h). */
#include "levee/hist.h"

static const int64_t bounds_us[LV_HIST_BUCKETS] = {
    500, 1000, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 40000, 50000, 75000,
    100000, 150000, 200000, 300000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
    60000000, 300000000, 3600000000LL,
};

void lv_hist_observe_us(lv_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < LV_HIST_BUCKETS && us > bounds_us[i])
        i++;
    atomic_fetch_add(&h->counts[i], 1);
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (uint64_t)us);
    int64_t max = atomic_load(&h->max_us);
    while (us > max && !atomic_compare_exchange_weak(&h->max_us, &max, us)) {
    }
}

void lv_hist_render(lv_hist *h, const char *name, const char *labels, lv_buf *out)
{
    const char *sep = *labels ? "," : "";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < LV_HIST_BUCKETS; i++) {
        cumulative += atomic_load(&h->counts[i]);
        lv_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, (double)bounds_us[i] / 1e6,
                      (unsigned long long)cumulative);
    }
    cumulative += atomic_load(&h->counts[LV_HIST_BUCKETS]);
    lv_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cumulative);
    lv_buf_printf(out, "%s_sum{%s} %.6f\n", name, labels, (double)atomic_load(&h->sum_us) / 1e6);
    lv_buf_printf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cumulative);
}

double lv_hist_quantile(lv_hist *h, double q)
{
    uint64_t counts[LV_HIST_BUCKETS + 1], total = 0;
    for (size_t i = 0; i <= LV_HIST_BUCKETS; i++)
        total += counts[i] = atomic_load(&h->counts[i]);
    if (!total)
        return 0;
    double rank = q * (double)total, seen = 0;
    for (size_t i = 0; i <= LV_HIST_BUCKETS; i++) {
        if (seen + (double)counts[i] >= rank && counts[i]) {
            if (i == LV_HIST_BUCKETS) /* above every bound: the largest seen */
                return (double)atomic_load(&h->max_us) / 1e6;
            double lo = i ? (double)bounds_us[i - 1] : 0, hi = (double)bounds_us[i];
            return (lo + (hi - lo) * (rank - seen) / (double)counts[i]) / 1e6;
        }
        seen += (double)counts[i];
    }
    return (double)atomic_load(&h->max_us) / 1e6;
}
