/* levee/reader.h (stage: receive): splitting a byte stream into JSON documents. Input may be NDJSON (LF or CRLF),
 * pretty-printed documents one after another (as in Canvas's docs), or a mix. The reader only finds
 * where each document begins and ends (tracking strings and brackets) so that each can be parsed,
 * kept byte for byte and reported by line; the parsing itself is the decoder's. */
#ifndef LEVEE_READER_H
#define LEVEE_READER_H

#include "levee/common.h"

typedef struct lv_reader lv_reader;

typedef struct lv_chunk {
    const char *text; /* the document's bytes; valid until the next call. NULL when too_big */
    size_t len;       /* its length (for too_big documents, the length seen) */
    long line;        /* line on which it starts, from 1 */
    bool too_big;     /* longer than the reader's limit: its bytes were skipped, not kept */
    bool line_framed; /* taken as one whole line without scanning; see lv_reader_reframe */
} lv_chunk;

/* Opens a file by name; "-" is standard input. */
lv_status lv_reader_open_path(lv_reader **out, const char *path, lv_error *err);
/* Reads from an open descriptor (not closed by the reader). */
lv_reader *lv_reader_open_fd(int fd, const char *name);
/* Reads documents out of memory that stays valid while the reader is used (no copy is made). */
lv_reader *lv_reader_open_memory(const char *data, size_t len, const char *name);
/* Documents longer than max_bytes are reported as too_big (default LV_EVENT_MAX_BYTES). */
void lv_reader_set_limit(lv_reader *r, size_t max_bytes);
size_t lv_reader_limit(const lv_reader *r);

/* Next document: LV_OK with chunk filled, LV_ENOTFOUND at the end of input, LV_EIO when reading
 * failed (err says why). */
lv_status lv_reader_next(lv_reader *r, lv_chunk *chunk, lv_error *err);

/* NDJSON fast path: a line that starts with '{' and ends with '}' is returned whole, without
 * scanning its strings and brackets (line_framed). If it turns out not to be one JSON document
 * (two documents on a line, the first line of a pretty-printed one), call this to scan it
 * properly: the chunk is replaced by the first document that really starts there. */
lv_status lv_reader_reframe(lv_reader *r, lv_chunk *chunk, lv_error *err);

const char *lv_reader_name(const lv_reader *r);
/* Bytes consumed so far (for progress reporting). */
uint64_t lv_reader_offset(const lv_reader *r);
void lv_reader_close(lv_reader *r);

#endif
