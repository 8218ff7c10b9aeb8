/* levee/stream.h (stage: receive): decoded documents from a stream: the reader's framing and the decoder together,
 * as every input path (files, pipes, HTTP bodies) uses them. */
#ifndef LEVEE_STREAM_H
#define LEVEE_STREAM_H

#include "levee/event.h"
#include "levee/reader.h"

/* Reads and decodes the next document. A line taken whole by the reader's fast path that does not
 * parse is scanned again properly before it is reported. Returns LV_OK with chunk and doc filled
 * (events may be rejected: see doc), LV_ENOTFOUND at the end of input, LV_EIO on a read error. */
lv_status lv_stream_next(lv_reader *r, lv_arena *arena, const lv_decode_options *opt,
                         lv_chunk *chunk, lv_doc *doc, lv_error *err);

#endif
