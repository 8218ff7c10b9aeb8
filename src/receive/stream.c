/* stream.c: the loop body every input path shares: frame the next document, decode it, and when
 * the reader's one-line guess was wrong, frame it again by scanning. */
#include "levee/stream.h"

lv_status lv_stream_next(lv_reader *r, lv_arena *arena, const lv_decode_options *opt,
                         lv_chunk *chunk, lv_doc *doc, lv_error *err)
{
    lv_status st = lv_reader_next(r, chunk, err);
    if (st != LV_OK)
        return st;
    if (chunk->too_big) {
        lv_decode_oversized(arena, chunk->len, lv_reader_limit(r), doc);
        return LV_OK;
    }
    lv_decode(arena, chunk->text, chunk->len, opt, doc);
    if (doc->not_json && chunk->line_framed) {
        st = lv_reader_reframe(r, chunk, err);
        if (st != LV_OK)
            return st;
        lv_decode(arena, chunk->text, chunk->len, opt, doc);
    }
    return LV_OK;
}
