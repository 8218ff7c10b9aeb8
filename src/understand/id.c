/* id.c: exact parsing and formatting of 64-bit Canvas ids, and local/global resolution. */
#include "levee/id.h"

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
    char tmp[LV_ID_TEXT_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
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
