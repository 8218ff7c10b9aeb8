/* fuzz_json.c: the JSON parser on arbitrary bytes; whatever parses must write out and parse back to
 * the same text (the writer's escaping is checked against YAJL's parser), and its canonical form
 * (lv_json_write_canonical, the dedupe identity's) must parse and be its own canonical form. */
#include "levee/json.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_tree(const lv_json *v, lv_buf *out)
{
    lv_jw *w = lv_jw_new(out, false);
    lv_jw_value(w, v);
    lv_jw_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root = NULL;
    lv_error err;
    if (lv_json_parse(&a, (const char *)data, size, &root, &err) == LV_OK) {
        lv_buf once, twice;
        lv_buf_init(&once);
        lv_buf_init(&twice);
        write_tree(root, &once);
        lv_json *again = NULL;
        if (lv_json_parse(&a, once.data, once.len, &again, &err) != LV_OK)
            abort(); /* the writer produced something the parser refuses */
        write_tree(again, &twice);
        if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0)
            abort();
        lv_buf_reset(&once);
        lv_buf_reset(&twice);
        lv_json_write_canonical(&once, root);
        if (lv_json_parse(&a, once.data, once.len, &again, &err) != LV_OK)
            abort(); /* a canonical form that is not JSON */
        lv_json_write_canonical(&twice, again);
        if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0)
            abort(); /* canonical twice is not canonical once */
        lv_buf_free(&once);
        lv_buf_free(&twice);
    } else if (err.msg[0] == '\0') {
        abort(); /* every refusal says why */
    }
    lv_arena_free(&a);
    return 0;
}
