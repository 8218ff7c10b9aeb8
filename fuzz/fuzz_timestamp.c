/* fuzz_timestamp.c: the ISO 8601 parser on arbitrary bytes; an accepted time formats in UTC and
 * parses back to the same instant. */
#include "levee/timestamp.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms;
    lv_error err;
    if (lv_time_parse((const char *)data, size, &ms, &err) == LV_OK) {
        char text[LV_TIME_TEXT_MAX];
        size_t n = lv_time_format(ms, text);
        int64_t again;
        /* years 0000-9999 with an offset can land outside four digits only at the very ends */
        if (text[0] != '0' || text[1] != '0' || text[2] != '0' || text[3] != '0')
            if (text[0] != '9' || text[1] != '9' || text[2] != '9' || text[3] != '9')
                if (lv_time_parse(text, n, &again, &err) != LV_OK || again != ms)
                    abort();
    } else if (err.msg[0] != '"') {
        abort(); /* every refusal quotes the value */
    }
    return 0;
}
