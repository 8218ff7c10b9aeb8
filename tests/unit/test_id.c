/* test_id.c: exact 64-bit ids, refusals, and local/global resolution. */
#include "testing.h"

#include "levee/id.h"

static void test_parses_exactly_above_2_53(void **state)
{
    (void)state;
    uint64_t id;
    lv_error err;
    /* 21070000000098765 > 2^53: a double would make it ...764 */
    assert_int_equal(lv_id_parse("21070000000098765", 17, &id, &err), LV_OK);
    assert_true(id == 21070000000098765ULL);
    assert_int_equal(lv_id_parse("9223372036854775807", 19, &id, &err), LV_OK);
    assert_true(id == 9223372036854775807ULL);
    assert_int_equal(lv_id_parse("0", 1, &id, &err), LV_OK);
    assert_true(id == 0);
    assert_int_equal(lv_id_parse("007", 3, &id, &err), LV_OK);
    assert_true(id == 7);
}

static void test_refusals(void **state)
{
    (void)state;
    uint64_t id;
    lv_error err;
    assert_int_equal(lv_id_parse("9223372036854775808", 19, &id, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "does not fit in a 64-bit id"));
    assert_int_equal(lv_id_parse("12a", 3, &id, &err), LV_EINVAL);
    assert_string_equal(err.msg, "\"12a\" is not a decimal id");
    assert_int_equal(lv_id_parse("-5", 2, &id, &err), LV_EINVAL);
    assert_int_equal(lv_id_parse("+5", 2, &id, &err), LV_EINVAL);
    assert_int_equal(lv_id_parse(" 5", 2, &id, &err), LV_EINVAL);
    assert_int_equal(lv_id_parse("1e5", 3, &id, &err), LV_EINVAL);
    assert_int_equal(lv_id_parse("", 0, &id, &err), LV_EINVAL);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(lv_id_parse("99999999999999999999999", 23, &id, &err), LV_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    char out[LV_ID_TEXT_MAX];
    static const uint64_t values[] = { 0, 1, 9, 10, 99, 100, 101, 12345, 21070000000098765ULL,
                                       9223372036854775807ULL, 18446744073709551615ULL };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)values[i]);
        assert_int_equal(lv_id_format(values[i], out), strlen(want));
        assert_string_equal(out, want);
    }
}

static void test_shards(void **state)
{
    (void)state;
    uint64_t g;
    assert_true(lv_id_shard(21070000000098765ULL) == 2107);
    assert_true(lv_id_local(21070000000098765ULL) == 98765);
    assert_true(lv_id_globalize(98765, 2107, &g));
    assert_true(g == 21070000000098765ULL);
    /* already global: unchanged, even with another shard */
    assert_true(lv_id_globalize(21070000000098765ULL, 14, &g));
    assert_true(g == 21070000000098765ULL);
    /* no shard known: unchanged */
    assert_true(lv_id_globalize(98765, 0, &g));
    assert_true(g == 98765);
    /* a shard that would overflow a bigint */
    assert_false(lv_id_globalize(5, 922338, &g));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_exactly_above_2_53),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_shards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
