/* reader.c: finds document boundaries in a stream. Fast path: memchr over string contents, which are
 * most of an event's bytes. A document that never closes ends where the next line starts with "{",
 * so one broken line does not swallow the events after it. */
#include "levee/reader.h"

#include "levee/event.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)1 << 20)
#define BUFFER_SIZE ((size_t)8 << 20)

struct lv_reader {
    int fd;          /* -1 for memory readers */
    bool own_fd;
    bool eof;
    char *buf;       /* owned buffer (fd readers) or the caller's memory */
    size_t cap;
    size_t start;    /* first byte not yet consumed */
    size_t end;      /* end of valid data */
    long line;       /* line number at buf[start] */
    bool at_stream_start;
    size_t limit;
    uint64_t consumed; /* bytes before buf[0] that were already discarded */
    char *name;
    size_t doc_start; /* where the last document began, for lv_reader_reframe */
    long doc_line;
};

static lv_reader *reader_new(const char *name)
{
    lv_reader *r = lv_xcalloc(1, sizeof *r);
    r->fd = -1;
    r->line = 1;
    r->at_stream_start = true;
    r->limit = LV_EVENT_MAX_BYTES;
    r->name = lv_xstrdup(name);
    return r;
}

lv_reader *lv_reader_open_fd(int fd, const char *name)
{
    lv_reader *r = reader_new(name);
    r->fd = fd;
    r->cap = BUFFER_SIZE;
    r->buf = lv_xmalloc(r->cap);
    return r;
}

lv_status lv_reader_open_path(lv_reader **out, const char *path, lv_error *err)
{
    if (strcmp(path, "-") == 0) {
        *out = lv_reader_open_fd(0, "<stdin>");
        return LV_OK;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lv_fail(err, LV_EIO, "cannot open %s: %s", path, strerror(errno));
    *out = lv_reader_open_fd(fd, path);
    (*out)->own_fd = true;
    return LV_OK;
}

lv_reader *lv_reader_open_memory(const char *data, size_t len, const char *name)
{
    lv_reader *r = reader_new(name);
    r->buf = (char *)data;
    r->cap = len;
    r->end = len;
    r->eof = true;
    return r;
}

void lv_reader_set_limit(lv_reader *r, size_t max_bytes)
{
    r->limit = max_bytes;
}

size_t lv_reader_limit(const lv_reader *r)
{
    return r->limit;
}

const char *lv_reader_name(const lv_reader *r)
{
    return r->name;
}

uint64_t lv_reader_offset(const lv_reader *r)
{
    return r->consumed + r->start;
}

void lv_reader_close(lv_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0) {
        if (r->own_fd)
            close(r->fd);
        free(r->buf);
    }
    free(r->name);
    free(r);
}

/* Moves unconsumed bytes (from keep_from) to the front and reads more. Returns the number of
 * bytes the data moved by, or -1 on error. Sets eof when the input is exhausted. */
static long refill(lv_reader *r, size_t keep_from, lv_error *err)
{
    if (r->fd < 0) {
        r->eof = true;
        return 0;
    }
    size_t shift = keep_from;
    if (shift) {
        memmove(r->buf, r->buf + shift, r->end - shift);
        r->end -= shift;
        r->start -= shift;
        r->doc_start = r->doc_start >= shift ? r->doc_start - shift : 0;
        r->consumed += shift;
    }
    if (r->cap - r->end < READ_CHUNK / 4) {
        /* Only a document longer than the buffer gets here; it is too big and being skipped. */
        return (long)shift;
    }
    for (;;) {
        size_t want = r->cap - r->end;
        if (want > READ_CHUNK)
            want = READ_CHUNK;
        ssize_t n = read(r->fd, r->buf + r->end, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lv_fail(err, LV_EIO, "cannot read %s: %s", r->name, strerror(errno));
            return -1;
        }
        if (n == 0)
            r->eof = true;
        r->end += (size_t)n;
        break;
    }
    return (long)shift;
}

/* Scanner state, kept across refills. Positions are offsets from the document's start. */
typedef struct scan {
    size_t pos;
    int depth;
    bool in_string;
    long lines;          /* newlines inside the document so far */
    size_t dropped;      /* bytes of a too-big document already discarded */
} scan;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static lv_status scan_document(lv_reader *r, lv_chunk *chunk, lv_error *err);

lv_status lv_reader_next(lv_reader *r, lv_chunk *chunk, lv_error *err)
{
    /* Skip white space between documents (and a UTF-8 byte order mark at the very start). */
    for (;;) {
        while (r->start < r->end) {
            char c = r->buf[r->start];
            if (r->at_stream_start && r->end - r->start >= 3 && memcmp(r->buf + r->start, "\xEF\xBB\xBF", 3) == 0) {
                r->start += 3;
                continue;
            }
            if (!is_space(c))
                break;
            if (c == '\n')
                r->line++;
            r->start++;
        }
        if (r->start < r->end) {
            if (r->at_stream_start && r->end - r->start < 3 && !r->eof && (unsigned char)r->buf[r->start] == 0xEF) {
                if (refill(r, r->start, err) < 0)
                    return LV_EIO;
                continue;
            }
            break;
        }
        if (r->eof)
            return LV_ENOTFOUND;
        if (refill(r, r->start, err) < 0)
            return LV_EIO;
    }
    r->at_stream_start = false;
    r->doc_start = r->start;
    r->doc_line = r->line;

    /* NDJSON fast path: one line, '{' to '}'. The parser confirms it is one document. */
    if (r->buf[r->start] == '{') {
        const char *nl;
        for (;;) {
            nl = memchr(r->buf + r->start, '\n', r->end - r->start);
            if (nl || r->eof || r->end - r->start > r->limit)
                break;
            if (refill(r, r->start, err) < 0)
                return LV_EIO;
        }
        size_t line_len = nl ? (size_t)(nl - (r->buf + r->start)) : r->end - r->start;
        size_t trimmed = line_len;
        while (trimmed > 0 && is_space(r->buf[r->start + trimmed - 1]))
            trimmed--;
        if ((nl || r->eof) && trimmed <= r->limit && r->buf[r->start + trimmed - 1] == '}') {
            chunk->text = r->buf + r->start;
            chunk->len = trimmed;
            chunk->line = r->line;
            chunk->too_big = false;
            chunk->line_framed = true;
            r->start += line_len;
            return LV_OK;
        }
    }
    return scan_document(r, chunk, err);
}

lv_status lv_reader_reframe(lv_reader *r, lv_chunk *chunk, lv_error *err)
{
    if (!chunk->line_framed)
        return LV_OK;
    r->start = r->doc_start;
    r->line = r->doc_line;
    return scan_document(r, chunk, err);
}

/* The structural scan: tracks strings and brackets to find where the document ends. */
static lv_status scan_document(lv_reader *r, lv_chunk *chunk, lv_error *err)
{
    scan s = { 0 };
    char first = r->buf[r->start];
    bool structured = first == '{' || first == '[';
    size_t doc_len = 0;
    bool done = false;
    while (!done) {
        const char *base = r->buf + r->start;
        size_t avail = r->end - r->start;
        if (!structured) {
            /* Not an object or array: the document is the rest of the line. */
            const char *nl = memchr(base + s.pos, '\n', avail - s.pos);
            if (nl) {
                doc_len = (size_t)(nl - base);
                done = true;
            } else {
                s.pos = avail;
            }
        } else {
            size_t p = s.pos;
            while (p < avail) {
                if (s.in_string) {
                    const char *q = memchr(base + p, '"', avail - p);
                    size_t stop = q ? (size_t)(q - base) : avail;
                    const char *bs = memchr(base + p, '\\', stop - p);
                    const char *nl = memchr(base + p, '\n', (bs ? (size_t)(bs - base) : stop) - p);
                    if (nl) {
                        /* A raw newline cannot be inside a JSON string: the document is broken here. */
                        doc_len = (size_t)(nl - base);
                        done = true;
                        break;
                    }
                    if (bs) {
                        if ((size_t)(bs - base) + 1 >= avail) {
                            p = (size_t)(bs - base); /* need the escaped byte */
                            break;
                        }
                        p = (size_t)(bs - base) + 2;
                        continue;
                    }
                    if (!q) {
                        p = avail;
                        break;
                    }
                    p = stop + 1;
                    s.in_string = false;
                    continue;
                }
                char c = base[p];
                if (c == '"') {
                    s.in_string = true;
                } else if (c == '{' || c == '[') {
                    s.depth++;
                } else if (c == '}' || c == ']') {
                    if (--s.depth == 0) {
                        doc_len = p + 1;
                        done = true;
                        break;
                    }
                } else if (c == '\n') {
                    /* Unclosed document followed by a line that starts a new one: resynchronise. */
                    if (p + 1 < avail && base[p + 1] == '{') {
                        doc_len = p;
                        done = true;
                        break;
                    }
                    if (p + 1 == avail && !r->eof) {
                        break; /* need the next byte to decide */
                    }
                    s.lines++;
                }
                p++;
            }
            if (!done)
                s.pos = p;
        }
        if (done)
            break;
        if (r->eof) {
            doc_len = avail;
            break;
        }
        if (s.pos + s.dropped > r->limit) {
            /* Too big to keep: discard what was scanned, keep scanning for the end. */
            size_t drop = s.pos;
            s.dropped += drop;
            r->start += drop;
            s.pos = 0;
        }
        if (refill(r, r->start, err) < 0)
            return LV_EIO;
    }
    /* Trim trailing white space (a CR before LF, spaces) from line-delimited documents. */
    size_t trimmed = doc_len;
    while (trimmed > 0 && is_space(r->buf[r->start + trimmed - 1]))
        trimmed--;
    chunk->line = r->line;
    chunk->too_big = s.dropped > 0 || trimmed > r->limit;
    chunk->text = chunk->too_big ? NULL : r->buf + r->start;
    chunk->len = s.dropped + trimmed;
    chunk->line_framed = false;
    /* Newlines inside the document (only outside strings: inside one, a newline ends it). */
    r->line += s.lines;
    r->start += doc_len;
    return LV_OK;
}
