/* timestamp.c: strict ISO 8601 parsing with offsets and UTC formatting. Canvas timestamps carry any
 * offset (even different ones within one event), so every time is converted to UTC milliseconds
 * before it is compared, stored or printed. */
#include "levee/timestamp.h"

#include <stdio.h>
#include <string.h>

/* The calendar arithmetic is the well-known civil-from-days algorithm (H. Hinnant), valid for all
 * proleptic Gregorian dates; glibc's timegm() would silently normalise impossible dates instead. */
int64_t lv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void lv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static const char *const month_names[] = { "January", "February", "March", "April", "May", "June",
                                           "July", "August", "September", "October", "November",
                                           "December" };

static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Quotes the offending value (shortened if huge) in front of the reason. */
static lv_status bad(lv_error *err, const char *s, size_t len, const char *why)
{
    if (len > 64)
        return lv_fail(err, LV_EINVAL, "\"%.48s...\" %s", s, why);
    return lv_fail(err, LV_EINVAL, "\"%.*s\" %s", (int)len, s, why);
}

#define EXPECTED "is not an ISO 8601 timestamp (expected e.g. 2019-11-01T19:11:03.933Z or 2020-03-30T11:18:51-06:00)"

lv_status lv_time_parse(const char *s, size_t len, int64_t *ms_out, lv_error *err)
{
    unsigned y, mo, d, h, mi, sec;
    /* YYYY-MM-DD, then T (or a space) and hh:mm:ss */
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return bad(err, s, len, EXPECTED);
    if (len == 10)
        return bad(err, s, len, "has no time of day (expected e.g. 2019-11-01T19:11:03Z)");
    if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return bad(err, s, len, EXPECTED);
    size_t i = 19;
    unsigned frac_ms = 0;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start)
            return bad(err, s, len, "has a decimal point with no digits after it");
        for (size_t k = i - start; k < 3; k++)
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (i == len)
        return bad(err, s, len, "has no UTC offset");
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        unsigned oh, om = 0;
        if (len - i >= 2 && digits(s + i, 2, &oh)) {
            i += 2;
            if (i < len && s[i] == ':') {
                if (len - i < 3 || !digits(s + i + 1, 2, &om))
                    return bad(err, s, len, "has a malformed UTC offset (expected e.g. -06:00)");
                i += 3;
            } else if (len - i >= 2 && digits(s + i, 2, &om)) {
                i += 2;
            }
        } else {
            return bad(err, s, len, "has a malformed UTC offset (expected e.g. -06:00)");
        }
        if (oh > 23 || om > 59)
            return bad(err, s, len, "has a UTC offset out of range (at most ±23:59)");
        offset_min = sign * (int)(oh * 60 + om);
    } else {
        return bad(err, s, len, "has unexpected characters after the time (expected Z or an offset like -06:00)");
    }
    if (i != len)
        return bad(err, s, len, "has unexpected characters after the UTC offset");

    char why[96];
    if (mo < 1 || mo > 12) {
        snprintf(why, sizeof why, "names an impossible date (there is no month %02u)", mo);
        return bad(err, s, len, why);
    }
    if (d < 1 || d > days_in_month(y, mo)) {
        snprintf(why, sizeof why, "names an impossible date (%s %u has %u days)", month_names[mo - 1],
                 y, days_in_month(y, mo));
        return bad(err, s, len, why);
    }
    if (h > 23 || mi > 59 || sec > 59) {
        snprintf(why, sizeof why, "names an impossible time of day (%02u:%02u:%02u)", h, mi, sec);
        return bad(err, s, len, why);
    }
    int64_t days = lv_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    *ms_out = secs * 1000 + frac_ms;
    return LV_OK;
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

static size_t format_civil(int64_t ms, int offset_min, bool millis, char *out)
{
    int64_t local = ms + (int64_t)offset_min * 60000;
    int64_t secs = local >= 0 ? local / 1000 : -((-local + 999) / 1000);
    unsigned milli = (unsigned)(local - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999; /* outside what ISO 8601's four-digit years can say */
    char *p = out;
    put2(p, (unsigned)(y / 100));
    put2(p + 2, (unsigned)(y % 100));
    p[4] = '-';
    put2(p + 5, m);
    p[7] = '-';
    put2(p + 8, d);
    p[10] = 'T';
    put2(p + 11, sod / 3600);
    p[13] = ':';
    put2(p + 14, sod / 60 % 60);
    p[16] = ':';
    put2(p + 17, sod % 60);
    p += 19;
    if (millis) {
        p[0] = '.';
        p[1] = (char)('0' + milli / 100);
        p[2] = (char)('0' + milli / 10 % 10);
        p[3] = (char)('0' + milli % 10);
        p += 4;
    }
    if (offset_min == 0) {
        *p++ = 'Z';
    } else {
        unsigned a = (unsigned)(offset_min < 0 ? -offset_min : offset_min);
        *p++ = offset_min < 0 ? '-' : '+';
        put2(p, a / 60);
        p[2] = ':';
        put2(p + 3, a % 60);
        p += 5;
    }
    *p = '\0';
    return (size_t)(p - out);
}

size_t lv_time_format(int64_t ms, char out[LV_TIME_TEXT_MAX])
{
    return format_civil(ms, 0, true, out);
}

size_t lv_time_format_seconds(int64_t ms, char out[LV_TIME_TEXT_MAX])
{
    return format_civil(ms, 0, false, out);
}

size_t lv_time_format_offset(int64_t ms, int offset_minutes, char out[LV_TIME_TEXT_MAX])
{
    return format_civil(ms, offset_minutes, false, out);
}

lv_status lv_time_or_date_parse(const char *s, size_t len, int64_t *ms, lv_error *err)
{
    unsigned y, mo, d;
    if (len != 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return lv_time_parse(s, len, ms, err);
    /* a date alone: its first instant in UTC */
    char why[96];
    if (mo < 1 || mo > 12) {
        snprintf(why, sizeof why, "names an impossible date (there is no month %02u)", mo);
        return bad(err, s, len, why);
    }
    if (d < 1 || d > days_in_month(y, mo)) {
        snprintf(why, sizeof why, "names an impossible date (%s %u has %u days)", month_names[mo - 1], y,
                 days_in_month(y, mo));
        return bad(err, s, len, why);
    }
    *ms = lv_days_from_civil(y, mo, d) * 86400000LL;
    return LV_OK;
}
