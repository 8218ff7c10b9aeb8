/* fuzz_id.c: the id parser on arbitrary bytes; an accepted id formats back to its digits (without
 * leading zeros) and parses to the same value. */
#include "levee/id.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t id;
    lv_error err;
    if (lv_id_parse((const char *)data, size, &id, &err) == LV_OK) {
        if (id > LV_ID_MAX)
            abort();
        char text[LV_ID_TEXT_MAX];
        size_t n = lv_id_format(id, text);
        size_t skip = 0;
        while (skip + 1 < size && data[skip] == '0')
            skip++;
        if (n != size - skip || memcmp(text, data + skip, n) != 0)
            abort();
        uint64_t g;
        if (lv_id_globalize(lv_id_local(id), lv_id_shard(id), &g) && g != id && lv_id_shard(id) != 0)
            abort();
    }
    return 0;
}
