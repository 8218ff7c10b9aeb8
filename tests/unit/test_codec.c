/* test_codec.c: compression of raw documents with a dictionary, exact in both directions, and a
 * dictionary prepared for reading only refusing to compress. */
#include "testing.h"

#include "levee/codec.h"

#include <string.h>

static const char dictionary[] = "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"context_type\":"
                                 "\"Course\",\"producer\":\"canvas\"},\"body\":{\"discussion_entry_id\":";
static const char document[] = "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"context_type\":"
                               "\"Course\",\"producer\":\"canvas\"},\"body\":{\"discussion_entry_id\":\"42\"}}";

static void test_reader_dictionary_decompresses_what_a_writer_compressed(void **state)
{
    (void)state;
    lv_error err;
    lv_dict *writer, *reader;
    assert_int_equal(lv_dict_new(7, dictionary, sizeof dictionary - 1, true, &writer, &err), LV_OK);
    assert_int_equal(lv_dict_new(7, dictionary, sizeof dictionary - 1, false, &reader, &err), LV_OK);
    lv_zctx *z = lv_zctx_new();
    assert_non_null(z);
    lv_buf packed, back;
    lv_buf_init(&packed);
    lv_buf_init(&back);
    assert_int_equal(lv_compress(z, writer, document, sizeof document - 1, &packed, &err), LV_OK);
    assert_true(packed.len < sizeof document - 1);
    assert_int_equal(lv_decompress(z, reader, packed.data, packed.len, sizeof document - 1, &back, &err), LV_OK);
    assert_int_equal(back.len, sizeof document - 1);
    assert_memory_equal(back.data, document, back.len);

    assert_int_equal(lv_compress(z, reader, document, sizeof document - 1, &packed, &err), LV_EINTERNAL);
    assert_string_equal(err.msg, "compression dictionary 7 was prepared for reading only");

    lv_buf_free(&packed);
    lv_buf_free(&back);
    lv_zctx_free(z);
    lv_dict_free(writer);
    lv_dict_free(reader);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_dictionary_decompresses_what_a_writer_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
