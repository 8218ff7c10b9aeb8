/* timestamp.c: reading timestamps in the forms Canvas sends (RFC 3339, Ruby's Time#to_s) and the
 * ISO 8601 variants whose instant is still certain, and UTC formatting. Canvas timestamps carry any
 * offset (even different ones within one event), so every time is converted to UTC milliseconds
 * before it is compared, stored or printed; an instant a four-digit year cannot write is refused. */
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

/* The value in quotes, shortened if huge, for the front of a message. */
static void quote(char *out, size_t cap, const char *s, size_t len)
{
    if (len > 64)
        snprintf(out, cap, "\"%.48s...\"", s);
    else
        snprintf(out, cap, "\"%.*s\"", (int)len, s);
}

static lv_status bad(lv_error *err, const char *s, size_t len, const char *why)
{
    char q[72];
    quote(q, sizeof q, s, len);
    return lv_fail(err, LV_EINVAL, "%s %s", q, why);
}

#define EXPECTED                                                                                   \
    "is not an ISO 8601 timestamp (expected RFC 3339, e.g. 2019-11-01T19:11:03.933Z or "          \
    "2020-03-30T11:18:51-06:00, or Ruby's Time#to_s, e.g. 2019-11-05 07:38:00 -0800)"

/* How the UTC offset was written. */
enum zone_form {
    ZONE_Z,     /* Z or z */
    ZONE_UTC,   /* UTC (Ruby's Time#to_s of a UTC time) */
    ZONE_COLON, /* +05:30 (RFC 3339) */
    ZONE_BASIC, /* +0530 (ISO 8601 basic; Ruby's Time#to_s) */
    ZONE_HOURS, /* +05 (ISO 8601, hours only) */
};

/* An instant's UTC civil time, with a signed year, for messages about instants outside 0000-9999. */
static void describe_utc_seconds(int64_t secs, char *out, size_t cap)
{
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    unsigned sod = (unsigned)(secs - days * 86400);
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(days, &y, &m, &d);
    snprintf(out, cap, "%s%04lld-%02u-%02uT%02u:%02u:%02uZ", y < 0 ? "-" : "",
             (long long)(y < 0 ? -y : y), m, d, sod / 3600, sod / 60 % 60, sod % 60);
}

/* Appends one clause to a note, separated from the previous ones by "; ". */
static void note_add(char *buf, size_t cap, size_t *used, const char *clause)
{
    int n = snprintf(buf + *used, cap - *used, "%s%s", *used ? "; " : "", clause);
    if (n > 0)
        *used = (size_t)n + *used < cap ? *used + (size_t)n : cap - 1;
}

lv_status lv_time_read(const char *s, size_t len, int64_t *ms_out, lv_time_note *note, lv_error *err)
{
    if (note)
        note->text[0] = '\0';
    unsigned y, mo, d, h, mi, sec;
    /* YYYY-MM-DD */
    if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d))
        return bad(err, s, len, EXPECTED);
    if (len == 10)
        return bad(err, s, len, "has no time of day (expected e.g. 2019-11-01T19:11:03Z)");
    /* T (or t, or a space) and hh:mm:ss */
    bool space_sep = s[10] == ' ';
    if ((s[10] != 'T' && s[10] != 't' && !space_sep) || len < 16 || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi))
        return bad(err, s, len, EXPECTED);
    if (len < 19 || s[16] != ':' || !digits(s + 17, 2, &sec))
        return bad(err, s, len, "has no seconds (levee reads hh:mm:ss, e.g. 19:11:03)");
    size_t i = 19;

    /* the fraction: milliseconds kept, finer digits truncated (noted when they are not zeros) */
    unsigned frac_ms = 0;
    bool comma = false, finer = false;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        comma = s[i] == ',';
        i++;
        size_t start = i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3)
                frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
            else if (s[i] != '0')
                finer = true;
            i++;
        }
        if (i == start)
            return bad(err, s, len, "has a decimal point with no digits after it");
        for (size_t k = i - start; k < 3; k++)
            frac_ms *= 10;
    }

    /* the UTC offset, right after the time or after one space */
    if (i == len)
        return bad(err, s, len, "has no UTC offset");
    bool space_zone = s[i] == ' ';
    if (space_zone && ++i == len)
        return bad(err, s, len, "has no UTC offset");
    size_t zone_at = i;
    enum zone_form zone;
    int offset_min = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        zone = ZONE_Z;
        i++;
    } else if (len - i >= 3 && memcmp(s + i, "UTC", 3) == 0) {
        zone = ZONE_UTC;
        i += 3;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        i++;
        unsigned oh, om = 0;
        if (len - i < 2 || !digits(s + i, 2, &oh))
            return bad(err, s, len, "has a malformed UTC offset (expected e.g. -06:00)");
        i += 2;
        zone = ZONE_HOURS;
        if (i < len && s[i] == ':') {
            if (len - i < 3 || !digits(s + i + 1, 2, &om))
                return bad(err, s, len, "has a malformed UTC offset (expected e.g. -06:00)");
            i += 3;
            zone = ZONE_COLON;
        } else if (len - i >= 2 && digits(s + i, 2, &om)) {
            i += 2;
            zone = ZONE_BASIC;
        }
        if (oh > 23 || om > 59)
            return bad(err, s, len, "has a UTC offset out of range (at most ±23:59)");
        offset_min = sign * (int)(oh * 60 + om);
    } else if (space_zone) {
        return bad(err, s, len, "has no UTC offset after the time (expected e.g. -0800 or UTC)");
    } else {
        return bad(err, s, len, "has unexpected characters after the time (expected Z or an offset like -06:00)");
    }
    if (i != len)
        return bad(err, s, len, "has unexpected characters after the UTC offset");

    char why[256];
    if (mo < 1 || mo > 12) {
        snprintf(why, sizeof why, "names an impossible date (there is no month %02u)", mo);
        return bad(err, s, len, why);
    }
    if (d < 1 || d > days_in_month(y, mo)) {
        snprintf(why, sizeof why, "names an impossible date (%s %u has %u days)", month_names[mo - 1],
                 y, days_in_month(y, mo));
        return bad(err, s, len, why);
    }
    if (h > 23 || mi > 59 || sec > 60) {
        snprintf(why, sizeof why, "names an impossible time of day (%02u:%02u:%02u)", h, mi, sec);
        return bad(err, s, len, why);
    }
    bool leap = sec == 60;
    int64_t secs = lv_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (leap ? 59 : sec) -
                   (int64_t)offset_min * 60;
    if (leap) {
        /* RFC 3339 5.7: a leap second is 23:59:60 UTC, inserted at the end of a month (ITU-R TF.460) */
        int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
        unsigned sod = (unsigned)(secs - days * 86400);
        int64_t uy;
        unsigned um, ud;
        lv_civil_from_days(days, &uy, &um, &ud);
        if (sod != 86399 || ud != days_in_month(uy, um)) {
            snprintf(why, sizeof why,
                     "names a leap second at %04lld-%02u-%02uT%02u:%02u:60Z, but leap seconds come only "
                     "at 23:59:60 UTC on the last day of a month", (long long)uy, um, ud, sod / 3600,
                     sod / 60 % 60);
            return bad(err, s, len, why);
        }
        secs += 1; /* the next day's first instant: POSIX time has no second to hold it */
        frac_ms = 0;
    }
    if (secs < LV_TIME_MIN_MS / 1000 || secs > LV_TIME_MAX_MS / 1000) {
        char utc[48];
        describe_utc_seconds(secs, utc, sizeof utc);
        snprintf(why, sizeof why,
                 "is %s in UTC, outside the years 0000-9999 that an RFC 3339 time can write; "
                 "refused rather than stored as another instant", utc);
        return bad(err, s, len, why);
    }
    int64_t ms = secs * 1000 + frac_ms;
    *ms_out = ms;

    if (!note)
        return LV_OK;
    /* RFC 3339, or Ruby's Time#to_s / #inspect: the forms Canvas sends, read silently */
    bool rfc3339 = !space_zone && (zone == ZONE_Z || zone == ZONE_COLON);
    bool ruby = space_sep && space_zone && (zone == ZONE_BASIC || zone == ZONE_UTC);
    if (rfc3339 && !comma && !finer && !leap)
        return LV_OK;
    if (ruby && !comma && !finer && !leap)
        return LV_OK;
    char clauses[360];
    size_t used = 0;
    clauses[0] = '\0';
    if (!rfc3339 && !ruby) {
        char c[96];
        snprintf(c, sizeof c, "writes its UTC offset as \"%s%.*s\", which is neither RFC 3339 nor Ruby's Time#to_s",
                 space_zone ? " " : "", (int)(len - zone_at), s + zone_at);
        note_add(clauses, sizeof clauses, &used, c);
    }
    if (comma)
        note_add(clauses, sizeof clauses, &used, "has a comma before its fraction of a second (ISO 8601, not RFC 3339)");
    if (finer)
        note_add(clauses, sizeof clauses, &used, "is finer than the millisecond levee keeps (truncated)");
    if (leap)
        note_add(clauses, sizeof clauses, &used,
                 "is a leap second, which a count of milliseconds since 1970 cannot hold, so it is read as the next day's first instant");
    char q[72], utc[LV_TIME_TEXT_MAX];
    quote(q, sizeof q, s, len);
    lv_time_format(ms, utc);
    snprintf(note->text, sizeof note->text, "%s %s; read as %s", q, clauses, utc);
    return LV_OK;
}

lv_status lv_time_parse(const char *s, size_t len, int64_t *ms, lv_error *err)
{
    return lv_time_read(s, len, ms, NULL, err);
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
