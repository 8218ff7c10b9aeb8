/* fuzz_reader.c: stream framing on arbitrary bytes, through lv_stream_next as every input path uses
 * it: documents come out in order, inside the input, without overlapping, with growing lines. */
#include "levee/stream.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lv_reader *r = lv_reader_open_memory((const char *)data, size, "fuzz");
    lv_reader_set_limit(r, 4096);
    lv_arena a;
    lv_arena_init(&a, 8192);
    lv_chunk chunk;
    lv_doc doc;
    lv_error err;
    const char *last_end = (const char *)data;
    long last_line = 1;
    size_t n = 0;
    while (lv_stream_next(r, &a, NULL, &chunk, &doc, &err) == LV_OK) {
        if (chunk.line < last_line)
            abort();
        last_line = chunk.line;
        if (chunk.text) {
            if (chunk.text < last_end || chunk.text + chunk.len > (const char *)data + size)
                abort();
            if (chunk.len == 0)
                abort();
            last_end = chunk.text + chunk.len;
        } else if (!chunk.too_big) {
            abort();
        }
        if (++n > size + 1)
            abort(); /* every document consumes input */
        lv_arena_reset(&a);
    }
    lv_arena_free(&a);
    lv_reader_close(r);
    return 0;
}
