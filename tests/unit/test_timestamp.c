/* test_timestamp.c: the forms levee reads silently (RFC 3339, Ruby's Time#to_s), the ones it reads
 * with a note, the ones it refuses and why; leap seconds, years at the edges, an independent check
 * against glibc's timegm, UTC formatting, and the warnings in decoded events of both formats. */
#include "testing.h"

#include "levee/timestamp.h"

#include <time.h>

static int64_t read_ok(const char *s, lv_time_note *note)
{
    int64_t ms = 0;
    lv_error err = { 0 };
    lv_status st = lv_time_read(s, strlen(s), &ms, note, &err);
    if (st != LV_OK)
        fprintf(stderr, "unexpected failure for %s: %s\n", s, err.msg);
    assert_int_equal(st, LV_OK);
    return ms;
}

static int64_t parse_ok(const char *s)
{
    lv_time_note note;
    int64_t ms = read_ok(s, &note);
    if (note.text[0])
        fprintf(stderr, "unexpected note for %s: %s\n", s, note.text);
    assert_string_equal(note.text, "");
    return ms;
}

/* Read silently, as utc. */
static void expect_utc(const char *in, const char *utc)
{
    char out[LV_TIME_TEXT_MAX];
    lv_time_format(parse_ok(in), out);
    assert_string_equal(out, utc);
}

/* Read as utc, with a note that quotes the value, contains fragment and ends with the instant. */
static void expect_noted(const char *in, const char *utc, const char *fragment)
{
    lv_time_note note;
    char out[LV_TIME_TEXT_MAX];
    lv_time_format(read_ok(in, &note), out);
    assert_string_equal(out, utc);
    if (!strstr(note.text, fragment))
        fprintf(stderr, "for %s: note '%s' lacks '%s'\n", in, note.text, fragment);
    assert_non_null(strstr(note.text, fragment));
    char quoted[80], tail[64];
    snprintf(quoted, sizeof quoted, "\"%s\" ", in);
    snprintf(tail, sizeof tail, "; read as %s", utc);
    assert_memory_equal(note.text, quoted, strlen(quoted));
    size_t n = strlen(note.text);
    assert_true(n > strlen(tail));
    assert_string_equal(note.text + n - strlen(tail), tail);
    /* the plain parser takes the same instant and says nothing */
    int64_t ms;
    lv_error err;
    assert_int_equal(lv_time_parse(in, strlen(in), &ms, &err), LV_OK);
    lv_time_format(ms, out);
    assert_string_equal(out, utc);
}

static void expect_refusal(const char *in, const char *reason)
{
    int64_t ms = 42;
    lv_time_note note;
    lv_error err = { 0 };
    assert_int_equal(lv_time_read(in, strlen(in), &ms, &note, &err), LV_EINVAL);
    if (!strstr(err.msg, reason))
        fprintf(stderr, "for %s: message '%s' lacks '%s'\n", in, err.msg, reason);
    assert_non_null(strstr(err.msg, reason));
    assert_int_equal(ms, 42); /* nothing written */
    assert_int_equal(err.msg[0], '"');
}

static void test_offsets_convert_to_utc(void **state)
{
    (void)state;
    expect_utc("2019-11-01T19:11:03.933Z", "2019-11-01T19:11:03.933Z");
    expect_utc("2020-03-30T11:18:51-06:00", "2020-03-30T17:18:51.000Z");
    expect_utc("2020-03-30T11:18:51+05:30", "2020-03-30T05:48:51.000Z");
    expect_utc("2019-12-31T23:59:59.999-00:01", "2020-01-01T00:00:59.999Z");
    expect_utc("2019-11-05T13:38:00.218Z", "2019-11-05T13:38:00.218Z");
    expect_utc("2019-12-31T20:00:00-23:59", "2020-01-01T19:59:00.000Z");
    expect_utc("2020-01-01T19:59:00+23:59", "2019-12-31T20:00:00.000Z");
}

/* Every form found in Canvas's documented examples, canvas and Caliper (doc/api/data_services). */
static void test_forms_canvas_documents_are_silent(void **state)
{
    (void)state;
    expect_utc("2019-11-01T19:11:03.933Z", "2019-11-01T19:11:03.933Z");  /* event_time, everywhere */
    expect_utc("2018-10-09T21:07:33Z", "2018-10-09T21:07:33.000Z");      /* enrollment_created */
    expect_utc("2019-11-01T00:00:00.000Z", "2019-11-01T00:00:00.000Z");  /* quiz_created unlock_at */
    expect_utc("2020-03-30T11:18:51-06:00", "2020-03-30T17:18:51.000Z"); /* conversation_forwarded */
    expect_utc("2020-08-18T17:24:46-06:00", "2020-08-18T23:24:46.000Z"); /* outcome_proficiency_updated */
    /* Ruby's Time#to_s: course_updated's event_time and updated_at, enrollment_state_*'s
     * state_started_at */
    expect_utc("2019-11-05 07:38:00 -0800", "2019-11-05T15:38:00.000Z");
    expect_utc("2019-10-05 05:38:00 -0800", "2019-10-05T13:38:00.000Z");
    expect_utc("2018-11-05 05:38:00 -0800", "2018-11-05T13:38:00.000Z");
    /* submission_updated's example body quotes a time as "2018-10-09 21:29:57 +0000" */
    expect_utc("2018-10-09 21:29:57 +0000", "2018-10-09T21:29:57.000Z");
    /* the same method on a UTC time writes UTC; Time#inspect adds the fraction */
    expect_utc("2019-11-05 13:38:00 UTC", "2019-11-05T13:38:00.000Z");
    expect_utc("2019-11-05 07:38:00.218 -0800", "2019-11-05T15:38:00.218Z");
    expect_utc("2019-11-05 07:38:00.218000000 -0800", "2019-11-05T15:38:00.218Z");
    expect_utc("2019-11-05 23:38:00 +0530", "2019-11-05T18:08:00.000Z");
}

/* RFC 3339 also allows lower-case t and z, a space for the T (its section 5.6 note), any number of
 * fraction digits, and -00:00 (an instant in UTC whose local offset is unknown). */
static void test_rfc3339_variants_are_silent(void **state)
{
    (void)state;
    expect_utc("2019-07-03t23:12:34z", "2019-07-03T23:12:34.000Z");
    expect_utc("2019-07-03 23:12:34Z", "2019-07-03T23:12:34.000Z");
    expect_utc("2019-07-03 17:12:34-06:00", "2019-07-03T23:12:34.000Z");
    expect_utc("2019-07-03T23:12:34-00:00", "2019-07-03T23:12:34.000Z");
    expect_utc("2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.100Z");
    expect_utc("2020-01-01T00:00:00.12Z", "2020-01-01T00:00:00.120Z");
    expect_utc("2020-01-01T00:00:00.123000Z", "2020-01-01T00:00:00.123Z"); /* nothing lost */
}

/* ISO 8601 forms that are neither RFC 3339 nor Ruby's: the instant is certain, so the event is
 * kept, and the warning says what was unusual and what instant it was read as. */
static void test_iso8601_variants_are_noted(void **state)
{
    (void)state;
    expect_noted("2020-01-01T10:00:00,123Z", "2020-01-01T10:00:00.123Z", "a comma before its fraction");
    expect_noted("2020-01-01T10:00:00,5-08:00", "2020-01-01T18:00:00.500Z", "ISO 8601, not RFC 3339");
    expect_noted("2020-03-30T11:18:51+0530", "2020-03-30T05:48:51.000Z", "UTC offset as \"+0530\"");
    expect_noted("2020-03-30T23:30:00-05", "2020-03-31T04:30:00.000Z", "UTC offset as \"-05\"");
    expect_noted("2019-11-05T07:38:00 -0800", "2019-11-05T15:38:00.000Z", "UTC offset as \" -0800\"");
    expect_noted("2019-11-05 07:38:00-0800", "2019-11-05T15:38:00.000Z", "neither RFC 3339 nor Ruby");
    expect_noted("2019-11-05 07:38:00 -08:00", "2019-11-05T15:38:00.000Z", "as \" -08:00\"");
    expect_noted("2019-11-05T13:38:00 UTC", "2019-11-05T13:38:00.000Z", "as \" UTC\"");
    expect_noted("2019-11-05 13:38:00 Z", "2019-11-05T13:38:00.000Z", "as \" Z\"");
    expect_noted("2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00.123Z", "finer than the millisecond");
    expect_noted("1969-12-31T23:59:59.9999Z", "1969-12-31T23:59:59.999Z", "(truncated)");
    /* several departures, all named */
    lv_time_note note;
    read_ok("2020-01-01T10:00:00,1234+0100", &note);
    assert_non_null(strstr(note.text, "\"+0100\""));
    assert_non_null(strstr(note.text, "comma"));
    assert_non_null(strstr(note.text, "finer"));
    assert_non_null(strstr(note.text, "; read as 2020-01-01T09:00:00.123Z"));
}

/* RFC 3339 5.7: 23:59:60 UTC at the end of a month (where ITU-R TF.460 puts leap seconds), in any
 * offset. Milliseconds since 1970 have no room for it: it becomes the next day's first instant, as
 * POSIX time counts it, with a note; anywhere else :60 is refused. */
static void test_leap_seconds(void **state)
{
    (void)state;
    expect_noted("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z", "is a leap second");
    expect_noted("2015-06-30T23:59:60Z", "2015-07-01T00:00:00.000Z", "next day's first instant");
    expect_noted("2016-12-31T15:59:60-08:00", "2017-01-01T00:00:00.000Z", "leap second");
    expect_noted("2017-01-01T05:29:60+05:30", "2017-01-01T00:00:00.000Z", "leap second");
    expect_noted("2016-12-31T23:59:60.999Z", "2017-01-01T00:00:00.000Z", "leap second");
    expect_noted("2016-12-31 15:59:60 -0800", "2017-01-01T00:00:00.000Z", "leap second");
    expect_noted("2019-03-31T23:59:60Z", "2019-04-01T00:00:00.000Z", "leap second");
    expect_noted("2020-02-29T23:59:60Z", "2020-03-01T00:00:00.000Z", "leap second");
    expect_refusal("2019-01-01T23:59:60Z", "names a leap second at 2019-01-01T23:59:60Z, but leap seconds come only");
    expect_refusal("2016-12-31T12:30:60Z", "at 2016-12-31T12:30:60Z");
    expect_refusal("2016-12-31T23:59:60+01:00", "at 2016-12-31T22:59:60Z");
    expect_refusal("2016-12-31T23:59:60-01:00", "at 2017-01-01T00:59:60Z");
    expect_refusal("2020-02-28T23:59:60+00:00", "at 2020-02-28T23:59:60Z");
    expect_noted("2019-02-28T23:59:60+00:00", "2019-03-01T00:00:00.000Z", "leap second");
    expect_refusal("2016-12-31T23:59:61Z", "impossible time of day (23:59:61)");
    expect_refusal("9999-12-31T23:59:60Z", "10000-01-01T00:00:00Z in UTC, outside the years 0000-9999");
}

/* A local year 0000 or 9999 whose instant falls in another year in UTC: exact where four digits can
 * write it, refused (never clamped) where they cannot. */
static void test_years_at_the_edges(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), LV_TIME_MIN_MS);
    assert_int_equal(parse_ok("0000-01-01T00:00:00Z"), lv_days_from_civil(0, 1, 1) * 86400000);
    assert_int_equal(parse_ok("9999-12-31T23:59:59.999Z"), LV_TIME_MAX_MS);
    assert_int_equal(parse_ok("9999-12-31T23:59:59.999Z") + 1, lv_days_from_civil(10000, 1, 1) * 86400000);
    expect_utc("0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z");
    expect_utc("0000-01-01T00:00:00-01:00", "0000-01-01T01:00:00.000Z");
    expect_utc("0000-02-29T12:00:00Z", "0000-02-29T12:00:00.000Z"); /* 0000 is a leap year */
    expect_utc("0001-01-01T00:00:00+00:01", "0000-12-31T23:59:00.000Z");
    expect_utc("0000-01-01T23:59:59+23:59", "0000-01-01T00:00:59.000Z");
    expect_utc("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z");
    expect_utc("9999-12-31T20:00:59-03:59", "9999-12-31T23:59:59.000Z");
    expect_utc("9999-12-31 15:59:59 -0800", "9999-12-31T23:59:59.000Z");
    expect_refusal("0000-01-01T00:59:59+01:00", "is -0001-12-31T23:59:59Z in UTC, outside the years 0000-9999");
    expect_refusal("0000-01-01T00:00:00.000+00:01", "-0001-12-31T23:59:00Z");
    expect_refusal("0000-01-01 00:00:00 +2359", "-0001-12-31T00:01:00Z");
    expect_refusal("9999-12-31T23:59:59-00:01", "is 10000-01-01T00:00:59Z in UTC");
    expect_refusal("9999-12-31T23:00:00-23:59", "10000-01-01T22:59:00Z");
    expect_refusal("9999-12-31 16:00:00 -0800", "refused rather than stored as another instant");
}

static void test_calendar_edges(void **state)
{
    (void)state;
    expect_utc("2020-02-29T12:00:00Z", "2020-02-29T12:00:00.000Z");
    expect_utc("2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000Z");
    expect_utc("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z");
    expect_utc("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z");
    expect_utc("1900-03-01T00:00:00+01:00", "1900-02-28T23:00:00.000Z");
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("2019-11-01T19:11:03.933Z"), 1572635463933LL);
    assert_int_equal(parse_ok("2019-11-05 07:38:00 -0800"), 1572968280000LL);
}

static void test_refusals_say_why(void **state)
{
    (void)state;
    expect_refusal("2019-07-03 23:12:34", "has no UTC offset");
    expect_refusal("2019-07-03T23:12:34.123", "has no UTC offset");
    expect_refusal("2019-07-03 23:12:34 ", "has no UTC offset");
    expect_refusal("2019-07-03 23:12:34 PST", "has no UTC offset after the time");
    expect_refusal("2019-07-03 23:12:34 America/Denver", "has no UTC offset after the time");
    expect_refusal("2019-02-29T00:00:00Z", "impossible date (February 2019 has 28 days)");
    expect_refusal("1900-02-29T00:00:00Z", "impossible date");
    expect_refusal("2019-04-31T00:00:00Z", "April 2019 has 30 days");
    expect_refusal("2019-13-01T00:00:00Z", "no month 13");
    expect_refusal("2019-00-01T00:00:00Z", "no month 00");
    expect_refusal("2019-01-00T00:00:00Z", "impossible date");
    expect_refusal("2019-01-01T24:00:00Z", "impossible time of day (24:00:00)");
    expect_refusal("2019-01-01T23:60:00Z", "impossible time of day");
    expect_refusal("2019-01-01", "has no time of day");
    expect_refusal("2019-01-01T10:00Z", "has no seconds");
    expect_refusal("2019-01-01 10:00 -0800", "has no seconds");
    expect_refusal("yesterday", "is not an ISO 8601 timestamp");
    expect_refusal("", "is not an ISO 8601 timestamp");
    expect_refusal("20191101T191103Z", "is not an ISO 8601 timestamp"); /* ISO 8601 basic form */
    expect_refusal("2019-305T19:11:03Z", "is not an ISO 8601 timestamp"); /* ordinal date */
    expect_refusal("2019-W44-5T19:11:03Z", "is not an ISO 8601 timestamp"); /* week date */
    expect_refusal("+02019-11-01T19:11:03Z", "is not an ISO 8601 timestamp"); /* expanded year */
    expect_refusal("019-11-01T19:11:01.163Z", "is not an ISO 8601 timestamp"); /* user_updated's typo */
    expect_refusal("Tue, 05 Nov 2019 07:38:00 -0800", "is not an ISO 8601 timestamp"); /* RFC 2822 */
    expect_refusal("2019-11-01_19:11:03Z", "is not an ISO 8601 timestamp");
    expect_refusal("2019-01-01T00:00:00+25:00", "offset out of range");
    expect_refusal("2019-01-01T00:00:00+05:60", "offset out of range");
    expect_refusal("2019-01-01T00:00:00+0a:00", "malformed UTC offset");
    expect_refusal("2019-01-01T00:00:00+05:3", "malformed UTC offset");
    expect_refusal("2019-01-01T00:00:00+", "malformed UTC offset");
    expect_refusal("2019-01-01T00:00:00.Z", "decimal point with no digits");
    expect_refusal("2019-01-01T00:00:00,Z", "decimal point with no digits");
    expect_refusal("2019-01-01T00:00:00Z junk", "after the UTC offset");
    expect_refusal("2019-01-01T00:00:00+05:30:00", "after the UTC offset");
    expect_refusal("2019-01-01 00:00:00 UTC+1", "after the UTC offset");
    expect_refusal("2019-01-01T00:00:00  -0800", "has no UTC offset after the time");
    expect_refusal("2019-01-01T00:00:00EST", "unexpected characters after the time");
    expect_refusal("1572635463", "is not an ISO 8601 timestamp");
}

static void test_message_quotes_the_value(void **state)
{
    (void)state;
    int64_t ms;
    lv_error err;
    lv_time_parse("2019-07-03 23:12:34", 19, &ms, &err);
    assert_string_equal(err.msg, "\"2019-07-03 23:12:34\" has no UTC offset");
    /* a huge value is shortened, in refusals and in notes */
    char big[300];
    memset(big, '7', sizeof big);
    memcpy(big, "2020-01-01T00:00:00.", 20);
    memcpy(big + sizeof big - 1, "Z", 1);
    lv_time_note note;
    assert_int_equal(lv_time_read(big, sizeof big, &ms, &note, &err), LV_OK);
    assert_memory_equal(note.text, "\"2020-01-01T00:00:00.7777", 25);
    assert_non_null(strstr(note.text, "...\" is finer than the millisecond"));
    assert_non_null(strstr(note.text, "read as 2020-01-01T00:00:00.777Z"));
    big[sizeof big - 1] = 'Q';
    assert_int_equal(lv_time_read(big, sizeof big, &ms, &note, &err), LV_EINVAL);
    assert_true(strlen(err.msg) < 200);
    assert_non_null(strstr(err.msg, "...\" has unexpected characters after the time"));
}

/* An independent oracle: glibc's timegm on the same fields, for many dates across the whole range,
 * every kind of offset and both of Canvas's forms. */
static void test_agrees_with_timegm(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int n = 0; n < 20000; n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int year = (int)(x % 10000), mon = (int)((x >> 14) % 12) + 1, hour = (int)((x >> 20) % 24);
        int min = (int)((x >> 26) % 60), sec = (int)((x >> 32) % 60), millis = (int)((x >> 38) % 1000);
        int off = (int)((x >> 48) % (2 * 1439 + 1)) - 1439; /* minutes, -23:59 .. +23:59 */
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap_year = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        int day = (int)((x >> 8) % (uint64_t)(mdays[mon - 1] + (mon == 2 && leap_year))) + 1;
        struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day, .tm_hour = hour,
                         .tm_min = min, .tm_sec = sec };
        time_t t = timegm(&tm);
        int64_t expect = ((int64_t)t - (int64_t)off * 60) * 1000 + millis;
        char text[64];
        unsigned a = (unsigned)(off < 0 ? -off : off);
        if (n % 2)
            snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02u:%02u", year, mon, day, hour,
                     min, sec, millis, off < 0 ? '-' : '+', a / 60, a % 60);
        else
            snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%03d %c%02u%02u", year, mon, day, hour,
                     min, sec, millis, off < 0 ? '-' : '+', a / 60, a % 60);
        int64_t ms;
        lv_time_note note;
        lv_error err;
        if (expect < LV_TIME_MIN_MS || expect > LV_TIME_MAX_MS) {
            assert_int_equal(lv_time_read(text, strlen(text), &ms, &note, &err), LV_EINVAL);
            assert_non_null(strstr(err.msg, "outside the years 0000-9999"));
            continue;
        }
        if (lv_time_read(text, strlen(text), &ms, &note, &err) != LV_OK)
            fprintf(stderr, "%s: %s\n", text, err.msg);
        assert_int_equal(lv_time_read(text, strlen(text), &ms, &note, &err), LV_OK);
        assert_string_equal(note.text, "");
        assert_int_equal(ms, expect);
        /* and the UTC text reads back to the same instant, silently */
        char utc[LV_TIME_TEXT_MAX];
        int64_t again;
        lv_time_format(ms, utc);
        assert_int_equal(lv_time_read(utc, strlen(utc), &again, &note, &err), LV_OK);
        assert_int_equal(again, ms);
        assert_string_equal(note.text, "");
    }
}

static void test_format_variants(void **state)
{
    (void)state;
    char out[LV_TIME_TEXT_MAX];
    int64_t ms = parse_ok("2020-03-30T17:18:51.250Z");
    lv_time_format_seconds(ms, out);
    assert_string_equal(out, "2020-03-30T17:18:51Z");
    lv_time_format_offset(ms, -360, out);
    assert_string_equal(out, "2020-03-30T11:18:51-06:00");
    lv_time_format_offset(ms, 330, out);
    assert_string_equal(out, "2020-03-30T22:48:51+05:30");
    /* and they parse back to the same instant (to the second) */
    assert_int_equal(parse_ok(out), ms - 250);
    lv_time_format(LV_TIME_MIN_MS, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
    lv_time_format(LV_TIME_MAX_MS, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
}

static void test_civil_round_trip(void **state)
{
    (void)state;
    for (int64_t day = -800000; day <= 800000; day += 997) {
        int64_t y;
        unsigned m, d;
        lv_civil_from_days(day, &y, &m, &d);
        assert_int_equal(lv_days_from_civil(y, m, d), day);
    }
}

/* A bare date is its start in UTC; anything else must still be a full timestamp with an offset. */
static void test_time_or_date(void **state)
{
    (void)state;
    int64_t ms = 0;
    lv_error err;
    assert_int_equal(lv_time_or_date_parse("2024-09-02", 10, &ms, &err), LV_OK);
    assert_int_equal(ms, 1725235200000LL);
    assert_int_equal(lv_time_or_date_parse("2024-09-02T10:00:00+02:00", 25, &ms, &err), LV_OK);
    assert_int_equal(ms, 1725235200000LL + 8 * 3600000LL);
    assert_int_equal(lv_time_or_date_parse("2024-09-02 10:00:00 +0200", 25, &ms, &err), LV_OK);
    assert_int_equal(ms, 1725235200000LL + 8 * 3600000LL);
    assert_int_not_equal(lv_time_or_date_parse("2024-02-30", 10, &ms, &err), LV_OK);
    assert_int_not_equal(lv_time_or_date_parse("2024-09-02 10:00", 16, &ms, &err), LV_OK);
    assert_non_null(strstr(err.msg, "2024-09-02 10:00"));
}

/* The decoder applies the same rules to every timestamp field, metadata and body, canvas and
 * Caliper: a noted form is a warning at the field's path (an error under --strict), a refused one an
 * error there. */
static const char entry[] =
    "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"@T@\","
    "\"root_account_id\":\"21070000000000001\",\"user_id\":\"21070000000098765\"},"
    "\"body\":{\"created_at\":\"@C@\",\"discussion_entry_id\":\"2134567\",\"discussion_topic_id\":\"123456\","
    "\"text\":\"<p>hi</p>\",\"user_id\":\"98765\"}}";
static const char outside[] =
    "{\"metadata\":{\"event_name\":\"course_updated\",\"event_time\":\"@T@\"},\"body\":{\"updated_at\":\"@C@\"}}";
static const char caliper[] =
    "{\"sensor\":\"http://oxana.instructure.com/\",\"sendTime\":\"@C@\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":[{"
    "\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\","
    "\"id\":\"urn:uuid:9cc50e7d-2cf0-4ba7-a35f-c299cc7a6ca3\",\"type\":\"MessageEvent\","
    "\"actor\":{\"id\":\"urn:instructure:canvas:user:21070000000098765\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:2134567\","
    "\"type\":\"Message\",\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:123456\",\"type\":\"Thread\"},"
    "\"body\":\"<p>hi</p>\"},\"eventTime\":\"@T@\"}]}";

static char *fill(const char *tmpl, const char *t, const char *c)
{
    char *out = malloc(strlen(tmpl) + strlen(t) + strlen(c) + 1);
    const char *at_t = strstr(tmpl, "@T@"), *at_c = strstr(tmpl, "@C@");
    char *p = out;
    for (const char *s = tmpl; *s;) {
        if (s == at_t || s == at_c) {
            const char *v = s == at_t ? t : c;
            p += sprintf(p, "%s", v);
            s += 3;
        } else {
            *p++ = *s++;
        }
    }
    *p = '\0';
    return out;
}

static const lv_diag *decoded_diag(lv_arena *a, const char *tmpl, const char *t, const char *c,
                                   bool strict, const char *path, lv_event *out)
{
    char *text = fill(tmpl, t, c);
    lv_arena_reset(a);
    lv_doc doc = decode_text(a, text, strict);
    assert_int_equal(doc.n_events, 1);
    *out = doc.events[0];
    const lv_diag *d = find_diag(&doc.events[0], path);
    free(text);
    return d;
}

static void test_decoded_events_warn_consistently(void **state)
{
    (void)state;
    lv_arena a;
    lv_arena_init(&a, 1 << 14);
    lv_event ev;
    const char *ok = "2019-11-01T19:11:03.933Z", *ruby = "2019-11-05 07:38:00 -0800";
    const char *comma = "2019-11-01T19:11:03,933Z", *leap = "2016-12-31T23:59:60Z";
    const char *edge = "0000-01-01T00:30:00+01:00";
    struct {
        const char *tmpl, *time_path, *other_path;
    } forms[] = {
        { entry, "/metadata/event_time", "/body/created_at" },
        { outside, "/metadata/event_time", NULL }, /* outside the model: its body is Canvas's to define */
        { caliper, "/data/0/eventTime", "/sendTime" },
    };
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        /* Canvas's own forms: no diagnostic at all on the times */
        assert_null(decoded_diag(&a, forms[k].tmpl, ruby, ruby, false, forms[k].time_path, &ev));
        if (forms[k].other_path)
            assert_null(decoded_diag(&a, forms[k].tmpl, ruby, ruby, false, forms[k].other_path, &ev));
        if (ev.n_errors)
            print_diags(&ev);
        assert_int_equal(ev.n_errors, 0);
        assert_int_equal(ev.time_ms, 1572968280000LL);
        /* a noted form: a warning at that field, the event kept; --strict rejects it */
        for (int which = 0; which < 2; which++) {
            const char *path = which ? forms[k].other_path : forms[k].time_path;
            if (!path)
                continue;
            for (int strict = 0; strict < 2; strict++) {
                const lv_diag *d = decoded_diag(&a, forms[k].tmpl, which ? ok : comma, which ? leap : ok,
                                                strict, path, &ev);
                assert_non_null(d);
                assert_int_equal(d->severity, LV_WARNING);
                assert_non_null(strstr(d->message, which ? "is a leap second" : "a comma before its fraction"));
                assert_non_null(strstr(d->message, which ? "read as 2017-01-01T00:00:00.000Z"
                                                         : "read as 2019-11-01T19:11:03.933Z"));
                assert_int_equal(ev.rejected, strict == 1);
                if (!which)
                    assert_int_equal(ev.time_ms, 1572635463933LL);
            }
            /* an instant outside 0000-9999: an error naming the field */
            const lv_diag *d = decoded_diag(&a, forms[k].tmpl, which ? ok : edge, which ? edge : ok, false,
                                            path, &ev);
            assert_non_null(d);
            assert_int_equal(d->severity, LV_ERROR);
            assert_non_null(strstr(d->message, "-0001-12-31T23:30:00Z in UTC, outside the years 0000-9999"));
            assert_true(ev.rejected);
        }
    }
    lv_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_convert_to_utc),
        cmocka_unit_test(test_forms_canvas_documents_are_silent),
        cmocka_unit_test(test_rfc3339_variants_are_silent),
        cmocka_unit_test(test_iso8601_variants_are_noted),
        cmocka_unit_test(test_leap_seconds),
        cmocka_unit_test(test_years_at_the_edges),
        cmocka_unit_test(test_calendar_edges),
        cmocka_unit_test(test_refusals_say_why),
        cmocka_unit_test(test_message_quotes_the_value),
        cmocka_unit_test(test_agrees_with_timegm),
        cmocka_unit_test(test_format_variants),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_time_or_date),
        cmocka_unit_test(test_decoded_events_warn_consistently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
