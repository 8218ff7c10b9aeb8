/* fuzz_timestamp.c: the timestamp reader on arbitrary bytes. An accepted time lies in 0000-9999,
 * formats in UTC, and that text reads back to the same instant without a note; a note or a refusal
 * always quotes the value; and the reader with and without a note agree. */
#include "levee/timestamp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int64_t ms, plain;
    lv_time_note note;
    lv_error err, err2;
    lv_status st = lv_time_read(s, size, &ms, &note, &err);
    if ((lv_time_parse(s, size, &plain, &err2) == LV_OK) != (st == LV_OK))
        abort();
    if (st != LV_OK) {
        if (err.msg[0] != '"' || strcmp(err.msg, err2.msg) != 0)
            abort(); /* every refusal quotes the value, the same way on both paths */
        return 0;
    }
    if (plain != ms || ms < LV_TIME_MIN_MS || ms > LV_TIME_MAX_MS)
        abort();
    if (note.text[0] && (note.text[0] != '"' || !strstr(note.text, "; read as ")))
        abort();
    char text[LV_TIME_TEXT_MAX];
    size_t n = lv_time_format(ms, text);
    int64_t again;
    if (n != 24 || lv_time_read(text, n, &again, &note, &err) != LV_OK || again != ms || note.text[0])
        abort();
    return 0;
}
