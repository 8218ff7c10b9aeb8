/* test_prng.c: the simulator's generator is xoshiro256** seeded by splitmix64 (pinned to the
 * reference outputs, so a simulation stays reproducible across levee versions), and its
 * distributions keep their ranges and shapes. */
#include "testing.h"

#include "levee/prng.h"

#include <math.h>

static void test_reference_outputs(void **state)
{
    (void)state;
    /* Reference: xoshiro256** with the state filled by splitmix64 from the seed. */
    static const struct { uint64_t seed, out[3]; } ref[] = {
        { 0, { 0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL } },
        { 1, { 0xb3f2af6d0fc710c5ULL, 0x853b559647364ceaULL, 0x92f89756082a4514ULL } },
        { 42, { 0x15780b2e0c2ec716ULL, 0x6104d9866d113a7eULL, 0xae17533239e499a1ULL } },
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        lv_prng r;
        lv_prng_seed(&r, ref[i].seed);
        for (int k = 0; k < 3; k++)
            assert_true(lv_prng_next(&r) == ref[i].out[k]);
    }
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    lv_prng a, b, c;
    lv_prng_seed(&a, 7);
    lv_prng_seed(&b, 7);
    lv_prng_seed(&c, 8);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = lv_prng_next(&a);
        assert_true(x == lv_prng_next(&b));
        differ += x != lv_prng_next(&c);
    }
    assert_true(differ > 990);
}

static void test_below_and_range_stay_in_bounds_and_cover_them(void **state)
{
    (void)state;
    lv_prng r;
    lv_prng_seed(&r, 3);
    assert_true(lv_prng_below(&r, 0) == 0);
    assert_true(lv_prng_below(&r, 1) == 0);
    unsigned hits[7] = { 0 };
    for (int i = 0; i < 70000; i++) {
        uint64_t x = lv_prng_below(&r, 7);
        assert_true(x < 7);
        hits[x]++;
    }
    for (int i = 0; i < 7; i++) /* 10000 expected each; 5 sigma is about 500 */
        assert_true(hits[i] > 9400 && hits[i] < 10600);
    bool lo = false, hi = false;
    for (int i = 0; i < 1000; i++) {
        int64_t x = lv_prng_range(&r, -3, 3);
        assert_true(x >= -3 && x <= 3);
        lo |= x == -3;
        hi |= x == 3;
    }
    assert_true(lo && hi);
    assert_true(lv_prng_range(&r, 5, 5) == 5);
    assert_true(lv_prng_range(&r, 5, 2) == 5);
    /* the largest n: still in range */
    assert_true(lv_prng_below(&r, UINT64_MAX) < UINT64_MAX);
}

static void test_unit_and_chance(void **state)
{
    (void)state;
    lv_prng r;
    lv_prng_seed(&r, 4);
    double sum = 0;
    int yes = 0;
    for (int i = 0; i < 100000; i++) {
        double u = lv_prng_unit(&r);
        assert_true(u >= 0.0 && u < 1.0);
        sum += u;
        yes += lv_prng_chance(&r, 0.25);
    }
    assert_true(fabs(sum / 100000 - 0.5) < 0.01);
    assert_true(yes > 24000 && yes < 26000);
    assert_false(lv_prng_chance(&r, 0.0));
    assert_true(lv_prng_chance(&r, 1.0));
}

static void test_distributions_have_their_shape(void **state)
{
    (void)state;
    lv_prng r;
    lv_prng_seed(&r, 5);
    double sum = 0, sq = 0;
    unsigned long psum = 0, big = 0;
    unsigned below_median = 0;
    const int n = 50000;
    for (int i = 0; i < n; i++) {
        double z = lv_prng_normal(&r);
        assert_true(isfinite(z));
        sum += z;
        sq += z * z;
        psum += lv_prng_poisson(&r, 2.5);
        big += lv_prng_poisson(&r, 100);
        below_median += lv_prng_lognormal(&r, log(300), 1.0) < 300;
    }
    assert_true(fabs(sum / n) < 0.03);
    assert_true(fabs(sq / n - 1.0) < 0.05);
    assert_true(fabs((double)psum / n - 2.5) < 0.05);
    assert_true(fabs((double)big / n - 100) < 0.5);
    assert_true(below_median > n * 0.48 && below_median < n * 0.52);
    assert_int_equal(lv_prng_poisson(&r, 0), 0);
    assert_int_equal(lv_prng_poisson(&r, -1), 0);
}

static void test_weighted_respects_weights(void **state)
{
    (void)state;
    lv_prng r;
    lv_prng_seed(&r, 6);
    const double w[4] = { 1.0, 0.0, 3.0, -2.0 };
    unsigned hits[4] = { 0 };
    for (int i = 0; i < 40000; i++)
        hits[lv_prng_weighted(&r, w, 4)]++;
    assert_int_equal(hits[1], 0);
    assert_int_equal(hits[3], 0);
    assert_true(hits[2] > 2.8 * hits[0] && hits[2] < 3.2 * hits[0]);
    const double zero[3] = { 0, 0, 0 };
    assert_int_equal(lv_prng_weighted(&r, zero, 3), 2);
    assert_int_equal(lv_prng_weighted(&r, w, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_outputs),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_below_and_range_stay_in_bounds_and_cover_them),
        cmocka_unit_test(test_unit_and_chance),
        cmocka_unit_test(test_distributions_have_their_shape),
        cmocka_unit_test(test_weighted_respects_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
