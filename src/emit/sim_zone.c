/* sim_zone.c: the time zones simulated users live in, with their daylight-saving rules, so that body
 * timestamps carry the offset Canvas would write for the user at that instant (it differs between
 * users, and for one user between summer and winter). A small table, not the system's tz database,
 * so output does not depend on the machine. */
#include "sim_internal.h"

#include "levee/timestamp.h"

typedef enum { DST_NONE, DST_US, DST_EU, DST_AU } dst_rule;

static const struct {
    const char *name;
    int standard; /* minutes east of UTC */
    dst_rule rule;
} zones[] = {
    { "America/New_York", -300, DST_US },   { "America/Chicago", -360, DST_US },
    { "America/Denver", -420, DST_US },     { "America/Los_Angeles", -480, DST_US },
    { "America/Phoenix", -420, DST_NONE },  { "America/Anchorage", -540, DST_US },
    { "Pacific/Honolulu", -600, DST_NONE }, { "America/Sao_Paulo", -180, DST_NONE },
    { "Europe/London", 0, DST_EU },         { "Europe/Berlin", 60, DST_EU },
    { "Europe/Madrid", 60, DST_EU },        { "Africa/Lagos", 60, DST_NONE },
    { "Asia/Kolkata", 330, DST_NONE },      { "Asia/Kathmandu", 345, DST_NONE },
    { "Asia/Shanghai", 480, DST_NONE },     { "Asia/Tokyo", 540, DST_NONE },
    { "Australia/Sydney", 600, DST_AU },    { "Etc/UTC", 0, DST_NONE },
};

size_t lv__zone_count(void)
{
    return sizeof zones / sizeof zones[0];
}

const char *lv__zone_name(unsigned zone)
{
    return zones[zone % lv__zone_count()].name;
}

static int days_in_month(int64_t y, unsigned m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Day number of the n-th Sunday of a month (n = -1: the last). */
static int64_t sunday(int64_t y, unsigned m, int n)
{
    if (n < 0) {
        int64_t last = lv_days_from_civil(y, m, (unsigned)days_in_month(y, m));
        return last - lv__weekday(last);
    }
    int64_t first = lv_days_from_civil(y, m, 1);
    return first + (7 - lv__weekday(first)) % 7 + 7 * (n - 1);
}

int lv__zone_offset(unsigned zone, int64_t utc_ms)
{
    zone %= (unsigned)lv__zone_count();
    int std = zones[zone].standard;
    if (zones[zone].rule == DST_NONE)
        return std;
    int64_t local_day = (utc_ms + std * SIM_MINUTE) / SIM_DAY;
    if (utc_ms + std * SIM_MINUTE < 0 && (utc_ms + std * SIM_MINUTE) % SIM_DAY)
        local_day--;
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(local_day, &y, &m, &d);
    int64_t start, end; /* UTC instants */
    switch (zones[zone].rule) {
    case DST_US: /* 2:00 local standard time, second Sunday of March to first Sunday of November */
        start = sunday(y, 3, 2) * SIM_DAY + 2 * SIM_HOUR - std * SIM_MINUTE;
        end = sunday(y, 11, 1) * SIM_DAY + 1 * SIM_HOUR - std * SIM_MINUTE;
        return utc_ms >= start && utc_ms < end ? std + 60 : std;
    case DST_EU: /* 1:00 UTC, last Sunday of March to last Sunday of October */
        start = sunday(y, 3, -1) * SIM_DAY + SIM_HOUR;
        end = sunday(y, 10, -1) * SIM_DAY + SIM_HOUR;
        return utc_ms >= start && utc_ms < end ? std + 60 : std;
    case DST_AU: /* southern summer: first Sunday of October to first Sunday of April, 2:00 standard */
        start = sunday(y, 10, 1) * SIM_DAY + 2 * SIM_HOUR - std * SIM_MINUTE;
        end = sunday(y, 4, 1) * SIM_DAY + 2 * SIM_HOUR - std * SIM_MINUTE;
        return utc_ms >= start || utc_ms < end ? std + 60 : std;
    case DST_NONE: break;
    }
    return std;
}

int64_t lv__zone_to_utc(unsigned zone, int64_t local_ms)
{
    zone %= (unsigned)lv__zone_count();
    int64_t guess = local_ms - zones[zone].standard * SIM_MINUTE;
    return local_ms - lv__zone_offset(zone, guess) * SIM_MINUTE;
}

unsigned lv__user_zone(const lv_sim *s, uint32_t u)
{
    int z = s->users[u].zone;
    return z >= 0 ? (unsigned)z : s->zone;
}

int64_t lv__local_day(const lv_sim *s, uint32_t u, int64_t ms)
{
    int64_t local = ms + lv__zone_offset(lv__user_zone(s, u), ms) * SIM_MINUTE;
    return local >= 0 ? local / SIM_DAY : (local - SIM_DAY + 1) / SIM_DAY;
}
