/* id.c: exact parsing and formatting of 64-bit Canvas ids, and local/global resolution. */
#include "levee/id.h"

#include <string.h>

lv_status lv_id_parse(const char *s, size_t len, uint64_t *id, lv_error *err)
{
    if (len == 0)
        return lv_fail(err, LV_EINVAL, "\"\" is empty; an id must be a decimal number");
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < '0' || c > '9') {
            if (len > 40)
                return lv_fail(err, LV_EINVAL, "\"%.32s...\" is not a decimal id", s);
            return lv_fail(err, LV_EINVAL, "\"%.*s\" is not a decimal id", (int)len, s);
        }
        unsigned d = c - '0';
        if (v > (LV_ID_MAX - d) / 10) {
            if (len > 40)
                return lv_fail(err, LV_EINVAL, "\"%.32s...\" does not fit in a 64-bit id", s);
            return lv_fail(err, LV_EINVAL, "\"%.*s\" does not fit in a 64-bit id (at most %llu)",
                           (int)len, s, (unsigned long long)LV_ID_MAX);
        }
        v = v * 10 + d;
    }
    *id = v;
    return LV_OK;
}

size_t lv_id_format(uint64_t id, char out[LV_ID_TEXT_MAX])
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    char tmp[LV_ID_TEXT_MAX];
    size_t i = sizeof tmp;
    while (id >= 100) {
        unsigned d = (unsigned)(id % 100) * 2;
        id /= 100;
        tmp[--i] = pairs[d + 1];
        tmp[--i] = pairs[d];
    }
    if (id >= 10) {
        tmp[--i] = pairs[id * 2 + 1];
        tmp[--i] = pairs[id * 2];
    } else {
        tmp[--i] = (char)('0' + id);
    }
    size_t n = sizeof tmp - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

bool lv_id_globalize(uint64_t id, uint64_t shard, uint64_t *out)
{
    if (shard == 0 || !lv_id_is_local(id)) {
        *out = id;
        return true;
    }
    if (shard > (LV_ID_MAX - id) / LV_SHARD_FACTOR)
        return false;
    *out = shard * LV_SHARD_FACTOR + id;
    return true;
}
