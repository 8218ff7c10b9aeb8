/* test_dynlib.c: loading a library on demand, and the sentences that say what is missing. */
#include "testing.h"

#include "levee/crypto.h"
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

/* A table made by LV_DYNLIB_LOADER: filled once, and a missing library's error given to every caller. */
#define ZLIB_FUNCTIONS(X) X(crc32) X(zlibVersion)
static struct { ZLIB_FUNCTIONS(LV_DYNLIB_SLOT) } zlib_table;
LV_DYNLIB_LOADER(load_zlib, zlib_table, ZLIB_FUNCTIONS, "libz.so.1", "zlib1g")
#define MISSING_FUNCTIONS(X) X(crc32)
static struct { MISSING_FUNCTIONS(LV_DYNLIB_SLOT) } missing_table;
LV_DYNLIB_LOADER(load_missing, missing_table, MISSING_FUNCTIONS, "liblevee-nonexistent.so.9", "levee-nonexistent9")

static void test_loader_fills_a_table_once(void **state)
{
    (void)state;
    lv_error err;
    assert_int_equal(load_zlib(&err), LV_OK);
    assert_int_equal(load_zlib(NULL), LV_OK);
    assert_true(zlib_table.crc32(0, (const Bytef *)"levee", 5) == crc32(0, (const Bytef *)"levee", 5));
    assert_string_equal(zlib_table.zlibVersion(), zlibVersion());
    for (int i = 0; i < 2; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(load_missing(&err), LV_EIO);
        assert_non_null(strstr(err.msg, "install the Debian package levee-nonexistent9"));
    }
    assert_null(missing_table.crc32);
}

/* libcrypto is not linked into levee: its table is filled on first use, and the functions work. */
static void test_crypto_loads_on_first_use(void **state)
{
    (void)state;
    lv_error err;
    assert_int_equal(lv_crypto_load(&err), LV_OK);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(lv_crypto()->EVP_Digest("abc", 3, md, &n, lv_crypto()->EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
    static const unsigned char want[4] = { 0xba, 0x78, 0x16, 0xbf }; /* SHA-256("abc"), FIPS 180-2 */
    assert_memory_equal(md, want, sizeof want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolves_functions),
        cmocka_unit_test(test_missing_library_names_the_package),
        cmocka_unit_test(test_missing_function_names_it),
        cmocka_unit_test(test_loader_fills_a_table_once),
        cmocka_unit_test(test_crypto_loads_on_first_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
