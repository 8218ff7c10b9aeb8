/* test_dynlib.c: loading a library on demand, and the sentences that say what is missing. */
#include "testing.h"

#include "levee/dynlib.h"

#include <string.h>
#include <zlib.h>

static void test_resolves_functions(void **state)
{
    (void)state;
    static const char *const names[] = { "crc32", "zlibVersion" };
    void *slots[2] = { NULL, NULL };
    lv_error err;
    assert_int_equal(lv_dynlib_load("libz.so.1", "zlib1g", names, slots, 2, &err), LV_OK);
    uLong (*crc)(uLong, const Bytef *, uInt) = (uLong (*)(uLong, const Bytef *, uInt))slots[0];
    assert_true(crc(0, (const Bytef *)"levee", 5) == crc32(0, (const Bytef *)"levee", 5));
    assert_non_null(slots[1]);
}

static void test_missing_library_names_the_package(void **state)
{
    (void)state;
    static const char *const names[] = { "f" };
    void *slots[1];
    lv_error err;
    assert_int_equal(lv_dynlib_load("liblevee-nonexistent.so.9", "levee-nonexistent9", names, slots, 1, &err), LV_EIO);
    assert_non_null(strstr(err.msg, "cannot load liblevee-nonexistent.so.9"));
    assert_non_null(strstr(err.msg, "install the Debian package levee-nonexistent9"));
}

static void test_missing_function_names_it(void **state)
{
    (void)state;
    static const char *const names[] = { "crc32", "no_such_function" };
    void *slots[2];
    lv_error err;
    assert_int_equal(lv_dynlib_load("libz.so.1", "zlib1g", names, slots, 2, &err), LV_EIO);
    assert_string_equal(err.msg, "libz.so.1 has no function no_such_function; levee needs a newer zlib1g");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolves_functions),
        cmocka_unit_test(test_missing_library_names_the_package),
        cmocka_unit_test(test_missing_function_names_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
