/* test_timestamp.c: ISO 8601 parsing with offsets, refusals with their reasons, UTC formatting. */
#include "testing.h"

#include "levee/timestamp.h"

static int64_t parse_ok(const char *s)
{
    int64_t ms = 0;
    lv_error err = { 0 };
    lv_status st = lv_time_parse(s, strlen(s), &ms, &err);
    if (st != LV_OK)
        fprintf(stderr, "unexpected failure for %s: %s\n", s, err.msg);
    assert_int_equal(st, LV_OK);
    return ms;
}

static void expect_utc(const char *in, const char *utc)
{
    char out[LV_TIME_TEXT_MAX];
    lv_time_format(parse_ok(in), out);
    assert_string_equal(out, utc);
}

static void expect_refusal(const char *in, const char *reason)
{
    int64_t ms;
    lv_error err = { 0 };
    assert_int_equal(lv_time_parse(in, strlen(in), &ms, &err), LV_EINVAL);
    if (!strstr(err.msg, reason))
        fprintf(stderr, "for %s: message '%s' lacks '%s'\n", in, err.msg, reason);
    assert_non_null(strstr(err.msg, reason));
}

static void test_offsets_convert_to_utc(void **state)
{
    (void)state;
    expect_utc("2019-11-01T19:11:03.933Z", "2019-11-01T19:11:03.933Z");
    expect_utc("2020-03-30T11:18:51-06:00", "2020-03-30T17:18:51.000Z");
    expect_utc("2020-03-30T11:18:51+0530", "2020-03-30T05:48:51.000Z");
    expect_utc("2020-03-30T23:30:00-05", "2020-03-31T04:30:00.000Z");
    expect_utc("2019-12-31T23:59:59.999-00:01", "2020-01-01T00:00:59.999Z");
    expect_utc("2019-11-05T13:38:00.218Z", "2019-11-05T13:38:00.218Z");
    expect_utc("2019-07-03 23:12:34Z", "2019-07-03T23:12:34.000Z");
    expect_utc("2019-07-03t23:12:34z", "2019-07-03T23:12:34.000Z");
}

static void test_fractions_truncate_to_milliseconds(void **state)
{
    (void)state;
    expect_utc("2020-01-01T00:00:00.1Z", "2020-01-01T00:00:00.100Z");
    expect_utc("2020-01-01T00:00:00.12Z", "2020-01-01T00:00:00.120Z");
    expect_utc("2020-01-01T00:00:00.123456789Z", "2020-01-01T00:00:00.123Z");
    expect_utc("2020-01-01T00:00:00,5Z", "2020-01-01T00:00:00.500Z");
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
}

static void test_refusals_say_why(void **state)
{
    (void)state;
    expect_refusal("2019-07-03 23:12:34", "has no UTC offset");
    expect_refusal("2019-07-03T23:12:34.123", "has no UTC offset");
    expect_refusal("2019-02-29T00:00:00Z", "impossible date (February 2019 has 28 days)");
    expect_refusal("1900-02-29T00:00:00Z", "impossible date");
    expect_refusal("2019-04-31T00:00:00Z", "April 2019 has 30 days");
    expect_refusal("2019-13-01T00:00:00Z", "no month 13");
    expect_refusal("2019-00-01T00:00:00Z", "no month 00");
    expect_refusal("2019-01-00T00:00:00Z", "impossible date");
    expect_refusal("2019-01-01T24:00:00Z", "impossible time of day");
    expect_refusal("2019-01-01T23:60:00Z", "impossible time of day");
    expect_refusal("2019-01-01T23:59:60Z", "impossible time of day");
    expect_refusal("2019-01-01", "has no time of day");
    expect_refusal("yesterday", "is not an ISO 8601 timestamp");
    expect_refusal("", "is not an ISO 8601 timestamp");
    expect_refusal("2019-01-01T00:00:00+25:00", "offset out of range");
    expect_refusal("2019-01-01T00:00:00+0a:00", "malformed UTC offset");
    expect_refusal("2019-01-01T00:00:00.Z", "decimal point with no digits");
    expect_refusal("2019-01-01T00:00:00Z junk", "after the UTC offset");
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
    assert_int_not_equal(lv_time_or_date_parse("2024-02-30", 10, &ms, &err), LV_OK);
    assert_int_not_equal(lv_time_or_date_parse("2024-09-02 10:00", 16, &ms, &err), LV_OK);
    assert_non_null(strstr(err.msg, "2024-09-02 10:00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offsets_convert_to_utc),
        cmocka_unit_test(test_fractions_truncate_to_milliseconds),
        cmocka_unit_test(test_calendar_edges),
        cmocka_unit_test(test_refusals_say_why),
        cmocka_unit_test(test_message_quotes_the_value),
        cmocka_unit_test(test_format_variants),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_time_or_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
