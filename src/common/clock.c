/* clock.c: the wall clock in the unit levee uses for time (milliseconds since the epoch), a
 * monotonic clock for durations, deadlines for timed waits, and durations as people write them. */
#include "levee/common.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t lv_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int64_t lv_monotonic_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

struct timespec lv_deadline_after(int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

lv_status lv_duration_parse(const char *text, int64_t *ms, lv_error *err)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000LL }, { "h", 3600000LL }, { "d", 86400000LL } };
    char *end;
    errno = 0;
    double v = text && *text && !isspace((unsigned char)*text) ? strtod(text, &end) : -1;
    if (v >= 0 && !errno && end != text) {
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (strcmp(end, units[i].unit) == 0 && v * (double)units[i].ms <= 1e15) {
                *ms = (int64_t)(v * (double)units[i].ms + 0.5);
                return LV_OK;
            }
    }
    return lv_fail(err, LV_EINVAL, "'%s' is not a duration: write a number and a unit, as 500ms, 30s, 10m, 2h or 3d",
                   text ? text : "");
}
