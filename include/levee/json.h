/* levee/json.h (stage: understand): JSON documents as levee holds them. Parsing is YAJL's (a validating, streaming
 * parser); levee keeps the result as a tree in an arena, with numbers as their exact text so that
 * 64-bit ids never pass through a double. */
#ifndef LEVEE_JSON_H
#define LEVEE_JSON_H

#include <stdio.h>

#include "levee/common.h"

typedef enum lv_json_type {
    LV_JSON_NULL,
    LV_JSON_BOOL,
    LV_JSON_NUMBER, /* str holds the number exactly as written */
    LV_JSON_STRING, /* str holds the decoded text, always valid UTF-8 (may contain NUL bytes: use len) */
    LV_JSON_ARRAY,
    LV_JSON_OBJECT,
    LV_JSON_RAW,    /* a value nested deeper than the parse's limit, kept whole: str holds it as compact JSON
                     * text (valid UTF-8, escaped as levee writes); only lv_json_parse_report makes these */
} lv_json_type;

typedef struct lv_json lv_json;
struct lv_json {
    lv_json_type type;
    bool boolean;
    uint32_t key_len;
    const char *key;   /* member name when this node is an object member, else NULL */
    const char *str;   /* text of strings and numbers; may point into the parsed input */
    size_t len;        /* bytes of str, or number of children for arrays and objects */
    lv_json *child;    /* first child */
    lv_json *last;     /* last child */
    lv_json *next;     /* next sibling */
};

/* Deepest nesting accepted; Canvas and Caliper events nest about six levels. */
#define LV_JSON_MAX_DEPTH 64

/* Parses exactly one JSON value from text. Nodes live in the arena; strings without escapes point
 * into text, so text must outlive the tree. On failure err says what is wrong and at which byte. */
lv_status lv_json_parse(lv_arena *arena, const char *text, size_t len, lv_json **out, lv_error *err);
/* Text that was not valid UTF-8 (RFC 3629), or a lone surrogate escape (\ud800 with no low surrogate
 * after it, or \udc00 alone): the parser writes U+FFFD in its place, so that every string in a tree is
 * valid UTF-8, and says so here. */
typedef struct lv_json_repair lv_json_repair;
struct lv_json_repair {
    const char *path;    /* JSON pointer of the string, or of the member whose name was repaired */
    const char *message; /* e.g. "the text is not valid UTF-8: an overlong form (the bytes C0 at byte 3 ...)" */
    lv_json_repair *next;
};
/* At most this many repairs (and as many deep values) are listed per document; the counts count all. */
#define LV_JSON_MAX_REPAIRS 16

/* What a parse had to do beyond reading. */
typedef struct lv_json_report {
    lv_json_repair *repairs; /* strings made valid UTF-8 (NULL when none) */
    size_t n_repairs;
    lv_json_repair *deep;    /* values nested deeper than the limit, each kept as one LV_JSON_RAW node */
    size_t n_deep;
} lv_json_report;

/* lv_json_parse_depth that reports what it repaired and, instead of refusing a document nested deeper
 * than max_depth, keeps each value that begins at that depth as one LV_JSON_RAW node. Memory stays
 * linear in len and the stack flat (YAJL's parser and the raw writer are iterative), so the caller's
 * size limit bounds it. report may be NULL: then a document too deep is refused, as lv_json_parse does. */
lv_status lv_json_parse_report(lv_arena *arena, const char *text, size_t len, int max_depth, lv_json **out,
                               lv_json_report *report, lv_error *err);
/* The same with another nesting limit: for levee's own answers, whose reply trees nest deeper than
 * any event (LV_ANSWER_MAX_DEPTH). */
lv_status lv_json_parse_depth(lv_arena *arena, const char *text, size_t len, int max_depth, lv_json **out,
                              lv_error *err);
/* The deepest answer levee writes (a reply tree of 100 levels, two JSON levels each, and its frame). */
#define LV_ANSWER_MAX_DEPTH 512

/* Member lookup (first match) and path lookup with '/'-separated segments; a segment that is all
 * digits indexes an array. Member names containing '/' cannot be reached by path. */
const lv_json *lv_json_get(const lv_json *obj, const char *key);
const lv_json *lv_json_getn(const lv_json *obj, const char *key, size_t key_len);
const lv_json *lv_json_path(const lv_json *root, const char *path);
const lv_json *lv_json_index(const lv_json *arr, size_t i);
bool lv_json_key_is(const lv_json *node, const char *key);
bool lv_json_str_is(const lv_json *node, const char *s);

/* Building trees (used to assemble Caliper documents in a fixed member order). */
lv_json *lv_json_new(lv_arena *a, lv_json_type type);
lv_json *lv_json_new_string(lv_arena *a, const char *s, size_t len);
void lv_json_append(lv_json *parent, lv_json *child);
lv_json *lv_json_set(lv_arena *a, lv_json *obj, const char *key, lv_json *value);
/* Returns the object member `key`, creating an empty object there when it is absent. */
lv_json *lv_json_object_at(lv_arena *a, lv_json *obj, const char *key);

/* JSON writer: appends compact (or indented) JSON text to a buffer. */
typedef struct lv_jw lv_jw;
lv_jw *lv_jw_new(lv_buf *out, bool pretty);
void lv_jw_free(lv_jw *w);
/* Streams: whenever the output buffer holds 64 KB or more, it is written to sink and emptied (at the
 * start of a value, so the buffer never holds less than what remains to be written at the end). */
void lv_jw_set_sink(lv_jw *w, FILE *sink);
/* Starts a new top-level value (call between records). */
void lv_jw_reset(lv_jw *w);
void lv_jw_obj_open(lv_jw *w);
void lv_jw_obj_close(lv_jw *w);
void lv_jw_arr_open(lv_jw *w);
void lv_jw_arr_close(lv_jw *w);
void lv_jw_key(lv_jw *w, const char *key);
void lv_jw_keyn(lv_jw *w, const char *key, size_t len);
void lv_jw_str(lv_jw *w, const char *s, size_t len);
void lv_jw_cstr(lv_jw *w, const char *s); /* NULL writes null */
void lv_jw_null(lv_jw *w);
void lv_jw_bool(lv_jw *w, bool b);
void lv_jw_int(lv_jw *w, int64_t v);
void lv_jw_uint(lv_jw *w, uint64_t v);
void lv_jw_double(lv_jw *w, double v);
void lv_jw_number_text(lv_jw *w, const char *s, size_t len);
/* Writes a parsed value (and everything below it) unchanged. */
void lv_jw_value(lv_jw *w, const lv_json *v);
/* Convenience: "key": "value" and "key": value pairs. */
void lv_jw_kv_str(lv_jw *w, const char *key, const char *s, size_t len);
void lv_jw_kv_cstr(lv_jw *w, const char *key, const char *s);
void lv_jw_kv_int(lv_jw *w, const char *key, int64_t v);
void lv_jw_kv_bool(lv_jw *w, const char *key, bool b);

/* Canonical JSON, for comparing values rather than texts (the dedupe identity of what the catalog
 * does not know, docs/events.md#duplicates): compact; object members sorted by the bytes of their
 * decoded names (members of one name keep their order: which of them counts is up to the reader, so
 * they are never merged); strings decoded and escaped as levee writes them; numbers by exact decimal
 * value (never through a double) in ECMAScript's form: 1, 1.0, 1e0 and 10e-1 are 1; -0 is 0; 1e21 is
 * 1e+21; 0.0000001 is 1e-7. What cannot be told as a value is written as it is: a number whose
 * exponent has more than 18 digits, and a value nested deeper than the parse's limit (LV_JSON_RAW). */
void lv_json_write_canonical(lv_buf *out, const lv_json *v);
/* Sorts member pointers by the bytes of their names, stably (the canonical order above). */
void lv_json_sort_members(const lv_json **members, size_t n);

/* Writes a JSON string literal (with quotes) for s into buf, escaped as JSON requires. */
void lv_json_quote(lv_buf *buf, const char *s, size_t len);
/* Writes as a value a string literal lv_json_quote made: text kept to be written later is escaped
 * once, while it is still in the cache, rather than read back from memory to be escaped. */
void lv_jw_quoted(lv_jw *w, const char *literal, size_t len);

#endif
