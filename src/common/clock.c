/* clock.c: the wall clock in the unit levee uses for time (milliseconds since the epoch). */
#include "levee/common.h"

#include <time.h>

int64_t lv_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}
