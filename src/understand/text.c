/* text.c: counting characters in UTF-8 and Canvas's (Rails') 8192-character cut. */
#include "levee/text.h"

/* A character starts at every byte that is not a UTF-8 continuation byte (10xxxxxx). */
size_t lv_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

size_t lv_utf8_prefix(const char *s, size_t len, size_t chars)
{
    size_t seen = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (seen == chars)
                return i;
            seen++;
        }
    }
    return len;
}

bool lv_text_truncate(const char *s, size_t len, size_t limit, lv_buf *out)
{
    static const char omission[] = "...";
    const size_t omission_chars = sizeof omission - 1;
    if (lv_utf8_count(s, len) <= limit) {
        lv_buf_append(out, s, len);
        return false;
    }
    size_t room = limit > omission_chars ? limit - omission_chars : 0;
    /* Ruby's rindex(" ", room): the last space starting at character index <= room. */
    size_t stop_bytes = lv_utf8_prefix(s, len, room);
    size_t space_at = (size_t)-1;
    size_t upto = stop_bytes < len ? stop_bytes + 1 : len; /* a space at index `room` counts */
    for (size_t i = 0; i < upto; i++)
        if (s[i] == ' ')
            space_at = i;
    size_t keep = space_at != (size_t)-1 ? space_at : stop_bytes;
    lv_buf_append(out, s, keep);
    lv_buf_append(out, omission, omission_chars);
    return true;
}
