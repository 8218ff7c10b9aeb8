/* json.c: parsing with YAJL's callback parser into an arena tree, lookups, tree building, and the
 * JSON writer. */
#include "levee/json.h"

#include "levee/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---------- parsing ----------
 * YAJL checks the syntax; levee checks the text. YAJL's own UTF-8 check is lax (it lets overlong forms,
 * encoded surrogates and code points past U+10FFFF through) and its escape decoder turns a lone
 * high-surrogate escape into "?" and a lone low one into an encoded surrogate, so YAJL is told not to
 * check strings, and every string and member name is checked here instead, strictly (RFC 3629):
 * what is not valid UTF-8 becomes U+FFFD, and the parse reports where (lv_json_repair). Strings with
 * escapes are decoded here from the input's own bytes, found from where YAJL stands when it hands the
 * string over. */

typedef struct builder {
    lv_arena *arena;
    const char *text;
    size_t text_len;
    yajl_handle h;
    bool text_valid;    /* the whole input is valid UTF-8, so every string without escapes is */
    lv_json **stack;    /* the open containers, at most max_depth */
    int depth, max_depth;
    bool too_deep;
    const char *key;
    size_t key_len;
    lv_json *root;
    lv_buf scratch;     /* text being repaired or decoded */
    lv_json_repair *repairs, *repairs_tail;
    size_t n_repairs;
    /* Values nested deeper than max_depth, when the caller keeps them (keep_deep): each is one
     * LV_JSON_RAW node whose text is written here, compact, as YAJL reads it (no recursion, so the
     * stack stays flat however deep the document goes). */
    bool keep_deep;
    lv_json *raw;          /* the node being written, while raw_depth > 0 */
    size_t raw_depth;
    lv_buf raw_text;
    lv_buf raw_levels;     /* one byte per open level: RAW_OBJECT, RAW_COMMA */
    bool raw_after_key;
    lv_json_repair *deep, *deep_tail;
    size_t n_deep;
} builder;

enum { RAW_OBJECT = 1, RAW_COMMA = 2 };

/* YAJL's own allocations come from the arena too: they are freed with the document. Blocks grow to
 * twice their size, so that YAJL's stacks, which grow a little at a time, cost linear memory. */
static void *arena_malloc(void *ctx, size_t n)
{
    size_t *p = lv_arena_alloc(ctx, n + 16);
    p[0] = n;
    return p + 2;
}

static void *arena_realloc(void *ctx, void *ptr, size_t n)
{
    if (!ptr)
        return arena_malloc(ctx, n);
    size_t old = ((size_t *)ptr)[-2];
    if (n <= old)
        return ptr;
    void *q = arena_malloc(ctx, n < 2 * old ? 2 * old : n);
    memcpy(q, ptr, old);
    return q;
}

static void arena_free(void *ctx, void *ptr)
{
    (void)ctx;
    (void)ptr;
}

/* Appends one JSON pointer segment (RFC 6901: '~' is written ~0 and '/' is written ~1). */
static void pointer_segment(lv_buf *p, const char *s, size_t n)
{
    lv_buf_putc(p, '/');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~')
            lv_buf_append(p, "~0", 2);
        else if (s[i] == '/')
            lv_buf_append(p, "~1", 2);
        else
            lv_buf_putc(p, s[i]);
    }
}

/* The JSON pointer of leaf, the value just added to the innermost open container, or (leaf NULL) of
 * the member `key` of the innermost open object. */
static const char *path_here(builder *b, const lv_json *leaf, const char *key, size_t key_len)
{
    lv_buf p;
    lv_buf_init(&p);
    for (int i = 0; i < b->depth; i++) {
        const lv_json *parent = b->stack[i];
        const lv_json *child = i + 1 < b->depth ? b->stack[i + 1] : leaf;
        if (!child)
            pointer_segment(&p, key, key_len);
        else if (parent->type == LV_JSON_OBJECT)
            pointer_segment(&p, child->key, child->key_len);
        else
            lv_buf_printf(&p, "/%zu", parent->len - 1);
    }
    const char *path = lv_arena_strndup(b->arena, p.data ? p.data : "", p.len);
    lv_buf_free(&p);
    return path;
}

/* What was wrong with one string, found while its text was made valid. */
typedef struct text_fault {
    size_t count;        /* replacements made */
    const char *first;   /* the first, in words */
} text_fault;

static void note_fault(builder *b, text_fault *f, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note_fault(builder *b, text_fault *f, const char *fmt, ...)
{
    if (f->count++ > 0)
        return;
    char msg[LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    f->first = lv_arena_strndup(b->arena, msg, strlen(msg));
}

/* Appends s[0..len) to out with each ill-formed part replaced by U+FFFD; offset is where s starts in
 * the string's text as written, for the report. */
static void repair_bytes(builder *b, const char *s, size_t len, size_t offset, text_fault *f)
{
    size_t i = 0;
    while (i < len) {
        size_t good = lv_utf8_valid_prefix(s + i, len - i);
        lv_buf_append(&b->scratch, s + i, good);
        i += good;
        if (i >= len)
            break;
        const char *why;
        size_t n = lv_utf8_invalid_at(s + i, len - i, &why);
        char hex[3 * 4 + 1] = "";
        for (size_t k = 0, at = 0; k < n && k < 4; k++)
            at += (size_t)snprintf(hex + at, sizeof hex - at, "%s%02X", k ? " " : "", (unsigned char)s[i + k]);
        note_fault(b, f, "%s %s at byte %zu of the string as written %s %s", n > 1 ? "the bytes" : "the byte", hex,
                   offset + i, n > 1 ? "are" : "is", why);
        lv_buf_append(&b->scratch, LV_UTF8_REPLACEMENT, 3);
        i += n;
    }
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v * 16 + (uint32_t)d;
    }
    *out = v;
    return 1;
}

/* Decodes the text of a string as written between its quotes (RFC 8259 section 7) into b->scratch,
 * valid UTF-8: a lone surrogate escape and ill-formed bytes become U+FFFD. False when raw is not a
 * string's text after all (then nothing is trusted from it). */
static bool decode_raw(builder *b, const char *raw, size_t len, text_fault *f)
{
    size_t i = 0;
    while (i < len) {
        const char *slash = memchr(raw + i, '\\', len - i);
        size_t run = slash ? (size_t)(slash - raw) : len;
        repair_bytes(b, raw + i, run - i, i, f);
        i = run;
        if (i >= len)
            break;
        if (i + 1 >= len)
            return false;
        char e = raw[i + 1], c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (i + 6 > len || !hex4(raw + i + 2, &cp))
                return false;
            size_t at = i;
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= len && raw[i] == '\\' && raw[i + 1] == 'u' &&
                hex4(raw + i + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                note_fault(b, f, "the escape \\u%.4s at byte %zu of the string as written is a lone %s surrogate "
                           "(UTF-16 surrogates must come in pairs, a high one then a low one)", raw + at + 2, at,
                           cp <= 0xDBFF ? "high" : "low");
                lv_buf_append(&b->scratch, LV_UTF8_REPLACEMENT, 3);
                continue;
            }
            if (cp == 0)
                lv_buf_putc(&b->scratch, '\0'); /* \u0000 is text too: strings carry their length */
            else
                lv_utf8_put(&b->scratch, cp);
            continue;
        }
        default: return false;
        }
        lv_buf_putc(&b->scratch, c);
        i += 2;
    }
    return true;
}

/* The text between the quotes of the string YAJL has just read: YAJL has consumed the input up to and
 * including its closing quote, and the opening quote is the nearest '"' before it that is not
 * escaped (preceded by an even number of backslashes). */
static bool find_raw(builder *b, const char **raw, size_t *raw_len)
{
    size_t end = yajl_get_bytes_consumed(b->h);
    if (end == 0 || end > b->text_len || b->text[end - 1] != '"')
        return false;
    size_t close = end - 1;
    for (size_t q = close; q > 0;) {
        const char *quote = memrchr(b->text, '"', q);
        if (!quote)
            break;
        q = (size_t)(quote - b->text);
        size_t slashes = 0;
        while (slashes < q && b->text[q - 1 - slashes] == '\\')
            slashes++;
        if (slashes % 2 == 0) {
            *raw = b->text + q + 1;
            *raw_len = close - q - 1;
            return true;
        }
    }
    return false;
}

/* take_text's work when the text is not simply the input's own bytes, known valid. */
static __attribute__((noinline)) const char *take_text_slow(builder *b, const char *s, size_t len, size_t *out_len,
                                                            text_fault *fault)
{
    bool in_input = s >= b->text && s + len <= b->text + b->text_len;
    if (in_input && lv_utf8_valid_prefix(s, len) == len) {
        *out_len = len;
        return s;
    }
    b->scratch.len = 0;
    const char *raw;
    size_t raw_len;
    if (in_input) {
        repair_bytes(b, s, len, 0, fault);
    } else if (!find_raw(b, &raw, &raw_len) || !decode_raw(b, raw, raw_len, fault)) {
        /* the input's text could not be found: YAJL's decoding, made valid */
        b->scratch.len = 0;
        *fault = (text_fault){ 0 };
        repair_bytes(b, s, len, 0, fault);
    }
    *out_len = b->scratch.len;
    return lv_arena_strndup(b->arena, b->scratch.data ? b->scratch.data : "", b->scratch.len);
}

/* The text of a string or member name as levee keeps it: valid UTF-8, pointing into the input when
 * the input's bytes are already that text. Sets *fault when something had to be replaced. Nearly every
 * string is a run of a valid input without escapes: that costs two comparisons. */
static inline const char *take_text(builder *b, const char *s, size_t len, size_t *out_len, text_fault *fault)
{
    if (b->text_valid && s >= b->text && s + len <= b->text + b->text_len) {
        *out_len = len;
        return s;
    }
    return take_text_slow(b, s, len, out_len, fault);
}

static void add_repair(builder *b, const char *path, bool is_key, const text_fault *f)
{
    b->n_repairs++;
    if (b->n_repairs > LV_JSON_MAX_REPAIRS)
        return;
    lv_json_repair *r = lv_arena_zalloc(b->arena, sizeof *r);
    r->path = path;
    if (f->count > 1)
        r->message = lv_arena_printf(b->arena, "%s is not valid UTF-8: %s, and %zu more; each is written as U+FFFD "
                                     "in levee's outputs (the raw document is kept as received)",
                                     is_key ? "the member name" : "the text", f->first, f->count - 1);
    else
        r->message = lv_arena_printf(b->arena, "%s is not valid UTF-8: %s; it is written as U+FFFD in levee's "
                                     "outputs (the raw document is kept as received)",
                                     is_key ? "the member name" : "the text", f->first);
    if (b->repairs_tail)
        b->repairs_tail->next = r;
    else
        b->repairs = r;
    b->repairs_tail = r;
}

/* Numbers YAJL hands us straight out of the input need no copy. */
static const char *keep_text(builder *b, const char *s, size_t len)
{
    if (s >= b->text && s + len <= b->text + b->text_len)
        return s;
    return lv_arena_strndup(b->arena, s, len);
}

static lv_json *add_node(builder *b, lv_json_type type)
{
    lv_json *n = lv_arena_alloc(b->arena, sizeof *n);
    memset(n, 0, sizeof *n);
    n->type = type;
    if (b->depth == 0) {
        b->root = n;
    } else {
        lv_json *parent = b->stack[b->depth - 1];
        if (parent->type == LV_JSON_OBJECT) {
            n->key = b->key;
            n->key_len = (uint32_t)b->key_len;
        }
        lv_json_append(parent, n);
    }
    return n;
}

static void append_escaped(lv_buf *b, const char *s, size_t len);

/* A separator before a value or member name inside a raw value. */
static void raw_before(builder *b)
{
    if (b->raw_after_key) {
        b->raw_after_key = false;
        return;
    }
    unsigned char *level = (unsigned char *)b->raw_levels.data + b->raw_levels.len - 1;
    if (*level & RAW_COMMA)
        lv_buf_putc(&b->raw_text, ',');
    *level |= RAW_COMMA;
}

static void raw_scalar(builder *b, const char *text, size_t len, bool quote)
{
    raw_before(b);
    if (quote)
        append_escaped(&b->raw_text, text, len);
    else
        lv_buf_append(&b->raw_text, text, len);
}

static void note_deep(builder *b, lv_json *n)
{
    b->n_deep++;
    if (b->n_deep > LV_JSON_MAX_REPAIRS)
        return;
    lv_json_repair *r = lv_arena_zalloc(b->arena, sizeof *r);
    r->path = path_here(b, n, NULL, 0);
    r->message = lv_arena_printf(b->arena, "is nested deeper than %d levels", b->max_depth);
    if (b->deep_tail)
        b->deep_tail->next = r;
    else
        b->deep = r;
    b->deep_tail = r;
}

static int on_null(void *ctx)
{
    builder *b = ctx;
    if (b->raw_depth)
        raw_scalar(b, "null", 4, false);
    else
        add_node(b, LV_JSON_NULL);
    return 1;
}

static int on_bool(void *ctx, int v)
{
    builder *b = ctx;
    if (b->raw_depth)
        raw_scalar(b, v ? "true" : "false", v ? 4 : 5, false);
    else
        add_node(b, LV_JSON_BOOL)->boolean = v != 0;
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    builder *b = ctx;
    if (b->raw_depth) {
        raw_scalar(b, s, len, false);
        return 1;
    }
    lv_json *n = add_node(b, LV_JSON_NUMBER);
    n->str = keep_text(b, s, len);
    n->len = len;
    return 1;
}

/* Whether the text YAJL hands over is the input's own bytes, known valid: nearly every string is. */
static inline bool plain_text(const builder *b, const unsigned char *s, size_t len)
{
    const char *p = (const char *)s;
    return b->text_valid && b->raw_depth == 0 && p >= b->text && p + len <= b->text + b->text_len;
}

static __attribute__((noinline)) int on_string_slow(builder *b, const unsigned char *s, size_t len)
{
    text_fault fault = { 0 };
    size_t n_len;
    const char *text = take_text(b, (const char *)s, len, &n_len, &fault);
    if (b->raw_depth) {
        raw_scalar(b, text, n_len, true);
        if (fault.count) /* named by the deep value it is in */
            add_repair(b, path_here(b, b->raw, NULL, 0), false, &fault);
        return 1;
    }
    lv_json *n = add_node(b, LV_JSON_STRING);
    n->str = text;
    n->len = n_len;
    if (fault.count)
        add_repair(b, path_here(b, n, NULL, 0), false, &fault);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    if (!plain_text(b, s, len))
        return on_string_slow(b, s, len);
    lv_json *n = add_node(b, LV_JSON_STRING);
    n->str = (const char *)s;
    n->len = len;
    return 1;
}

static __attribute__((noinline)) int on_key_slow(builder *b, const unsigned char *s, size_t len)
{
    text_fault fault = { 0 };
    size_t n_len;
    const char *text = take_text(b, (const char *)s, len, &n_len, &fault);
    if (n_len > UINT32_MAX)
        return 0;
    if (b->raw_depth) {
        raw_before(b);
        append_escaped(&b->raw_text, text, n_len);
        lv_buf_putc(&b->raw_text, ':');
        b->raw_after_key = true;
        if (fault.count)
            add_repair(b, path_here(b, b->raw, NULL, 0), true, &fault);
        return 1;
    }
    b->key = text;
    b->key_len = n_len;
    if (fault.count)
        add_repair(b, path_here(b, NULL, text, n_len), true, &fault);
    return 1;
}
static int on_key(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    if (!plain_text(b, s, len) || len > UINT32_MAX)
        return on_key_slow(b, s, len);
    b->key = (const char *)s;
    b->key_len = len;
    return 1;
}

static int open_container(builder *b, lv_json_type type)
{
    if (b->raw_depth) {
        raw_before(b);
        lv_buf_putc(&b->raw_text, type == LV_JSON_OBJECT ? '{' : '[');
        lv_buf_putc(&b->raw_levels, (char)(type == LV_JSON_OBJECT ? RAW_OBJECT : 0));
        b->raw_depth++;
        return 1;
    }
    if (b->depth >= b->max_depth) {
        b->too_deep = true;
        if (!b->keep_deep)
            return 0;
        /* from here down, the value is kept as its text */
        b->raw = add_node(b, LV_JSON_RAW);
        note_deep(b, b->raw);
        b->raw_depth = 1;
        b->raw_text.len = 0;
        b->raw_levels.len = 0;
        b->raw_after_key = false;
        lv_buf_putc(&b->raw_text, type == LV_JSON_OBJECT ? '{' : '[');
        lv_buf_putc(&b->raw_levels, (char)(type == LV_JSON_OBJECT ? RAW_OBJECT : 0));
        return 1;
    }
    lv_json *n = add_node(b, type);
    b->stack[b->depth++] = n;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, LV_JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, LV_JSON_ARRAY);
}

static int on_end(void *ctx)
{
    builder *b = ctx;
    if (b->raw_depth) {
        unsigned char level = (unsigned char)b->raw_levels.data[--b->raw_levels.len];
        lv_buf_putc(&b->raw_text, level & RAW_OBJECT ? '}' : ']');
        if (--b->raw_depth == 0) {
            b->raw->str = lv_arena_strndup(b->arena, b->raw_text.data, b->raw_text.len);
            b->raw->len = b->raw_text.len;
            b->raw = NULL;
        }
        return 1;
    }
    b->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* Turns YAJL's "parse error: premature EOF\n   ..." into "premature end of input". */
static void describe_yajl_error(yajl_handle h, const char *text, size_t len, bool at_end, lv_error *err)
{
    unsigned char *raw = yajl_get_error(h, 0, (const unsigned char *)text, len);
    const char *msg = raw ? (const char *)raw : "invalid JSON";
    const char *colon = strstr(msg, "error: ");
    if (colon)
        msg = colon + 7;
    char clean[160];
    size_t n = 0;
    for (; msg[n] && msg[n] != '\n' && n + 1 < sizeof clean; n++)
        clean[n] = msg[n];
    while (n > 0 && (clean[n - 1] == '.' || clean[n - 1] == ' '))
        n--;
    clean[n] = '\0';
    if (strcmp(clean, "premature EOF") == 0)
        snprintf(clean, sizeof clean, "the document ends before it is complete");
    size_t at = at_end ? len : yajl_get_bytes_consumed(h);
    lv_fail(err, LV_EINVAL, "not JSON: %s (at byte %zu)", clean, at);
}

lv_status lv_json_parse(lv_arena *arena, const char *text, size_t len, lv_json **out, lv_error *err)
{
    return lv_json_parse_report(arena, text, len, LV_JSON_MAX_DEPTH, out, NULL, err);
}

lv_status lv_json_parse_depth(lv_arena *arena, const char *text, size_t len, int max_depth, lv_json **out,
                              lv_error *err)
{
    return lv_json_parse_report(arena, text, len, max_depth, out, NULL, err);
}

lv_status lv_json_parse_report(lv_arena *arena, const char *text, size_t len, int max_depth, lv_json **out,
                               lv_json_report *report, lv_error *err)
{
    if (report)
        memset(report, 0, sizeof *report);
    if (max_depth < 1)
        max_depth = 1;
    builder b = { .arena = arena, .text = text, .text_len = len, .max_depth = max_depth, .keep_deep = report != NULL };
    b.stack = lv_arena_alloc(arena, (size_t)max_depth * sizeof *b.stack);
    yajl_alloc_funcs funcs = { arena_malloc, arena_realloc, arena_free, arena };
    yajl_handle h = yajl_alloc(&callbacks, &funcs, &b);
    if (!h)
        return lv_fail(err, LV_EINTERNAL, "could not start the JSON parser");
    /* levee checks strings itself, strictly (see above); YAJL's check would refuse the whole document */
    if (!yajl_config(h, yajl_dont_validate_strings, 1)) {
        yajl_free(h);
        return lv_fail(err, LV_EINTERNAL, "could not configure the JSON parser");
    }
    b.h = h;
    /* one pass over the whole input is cheaper than one per string, and nearly always settles it */
    b.text_valid = lv_utf8_valid_prefix(text, len) == len;
    lv_buf_init(&b.scratch);
    lv_buf_init(&b.raw_text);
    lv_buf_init(&b.raw_levels);
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    bool at_end = false;
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at_end = true;
    }
    lv_status rc = LV_OK;
    if (st != yajl_status_ok) {
        if (b.too_deep && !b.keep_deep)
            rc = lv_fail(err, LV_EINVAL, "not accepted: JSON nested deeper than %d levels", max_depth);
        else {
            describe_yajl_error(h, text, len, at_end, err);
            rc = LV_EINVAL;
        }
    } else if (!b.root) {
        rc = lv_fail(err, LV_EINVAL, "not JSON: the document is empty");
    }
    yajl_free(h);
    lv_buf_free(&b.scratch);
    lv_buf_free(&b.raw_text);
    lv_buf_free(&b.raw_levels);
    if (rc == LV_OK) {
        *out = b.root;
        if (report) {
            report->repairs = b.repairs;
            report->n_repairs = b.n_repairs;
            report->deep = b.deep;
            report->n_deep = b.n_deep;
        }
    }
    return rc;
}

/* ---------- lookups ---------- */

const lv_json *lv_json_getn(const lv_json *obj, const char *key, size_t key_len)
{
    if (!obj || obj->type != LV_JSON_OBJECT)
        return NULL;
    for (const lv_json *c = obj->child; c; c = c->next)
        if (c->key_len == key_len && memcmp(c->key, key, key_len) == 0)
            return c;
    return NULL;
}

const lv_json *lv_json_get(const lv_json *obj, const char *key)
{
    return lv_json_getn(obj, key, strlen(key));
}

const lv_json *lv_json_index(const lv_json *arr, size_t i)
{
    if (!arr || arr->type != LV_JSON_ARRAY)
        return NULL;
    for (const lv_json *c = arr->child; c; c = c->next, i--)
        if (i == 0)
            return c;
    return NULL;
}

const lv_json *lv_json_path(const lv_json *root, const char *path)
{
    const lv_json *cur = root;
    const char *p = path;
    while (cur && *p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (cur->type == LV_JSON_ARRAY) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++) {
                if (p[i] < '0' || p[i] > '9')
                    return NULL;
                idx = idx * 10 + (size_t)(p[i] - '0');
            }
            cur = lv_json_index(cur, idx);
        } else {
            cur = lv_json_getn(cur, p, n);
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return cur;
}

bool lv_json_key_is(const lv_json *node, const char *key)
{
    size_t n = strlen(key);
    return node && node->key && node->key_len == n && memcmp(node->key, key, n) == 0;
}

bool lv_json_str_is(const lv_json *node, const char *s)
{
    size_t n = strlen(s);
    return node && node->type == LV_JSON_STRING && node->len == n && memcmp(node->str, s, n) == 0;
}

/* ---------- building ---------- */

lv_json *lv_json_new(lv_arena *a, lv_json_type type)
{
    lv_json *n = lv_arena_zalloc(a, sizeof *n);
    n->type = type;
    return n;
}

lv_json *lv_json_new_string(lv_arena *a, const char *s, size_t len)
{
    lv_json *n = lv_json_new(a, LV_JSON_STRING);
    n->str = lv_arena_strndup(a, s, len);
    n->len = len;
    return n;
}

void lv_json_append(lv_json *parent, lv_json *child)
{
    child->next = NULL;
    if (parent->last)
        parent->last->next = child;
    else
        parent->child = child;
    parent->last = child;
    parent->len++;
}

lv_json *lv_json_set(lv_arena *a, lv_json *obj, const char *key, lv_json *value)
{
    size_t n = strlen(key);
    for (lv_json *c = obj->child, *prev = NULL; c; prev = c, c = c->next) {
        if (c->key_len == n && memcmp(c->key, key, n) == 0) {
            value->key = c->key;
            value->key_len = c->key_len;
            value->next = c->next;
            if (prev)
                prev->next = value;
            else
                obj->child = value;
            if (obj->last == c)
                obj->last = value;
            return value;
        }
    }
    value->key = lv_arena_strndup(a, key, n);
    value->key_len = (uint32_t)n;
    lv_json_append(obj, value);
    return value;
}

lv_json *lv_json_object_at(lv_arena *a, lv_json *obj, const char *key)
{
    lv_json *found = (lv_json *)lv_json_get(obj, key);
    if (found && found->type == LV_JSON_OBJECT)
        return found;
    return lv_json_set(a, obj, key, lv_json_new(a, LV_JSON_OBJECT));
}

/* ---------- writing ----------
 * levee's own writer rather than YAJL's generator: YAJL escapes one character at a time through a
 * callback, which was a quarter of `levee normalize`'s time. Here runs of characters that need no
 * escaping are found with a table and copied at once. The tests and the fuzzer check that every
 * written document parses back (with YAJL) to the same tree. */

#define JW_MAX_DEPTH 512

struct lv_jw {
    lv_buf *out;
    FILE *sink;                        /* when set, out is written to it whenever it grows past 64 KB */
    bool pretty;
    int depth;
    bool need_comma[JW_MAX_DEPTH + 1]; /* a value was written at this level */
    bool after_key;                    /* the next value follows "key": */
};

/* 1 for bytes that must be escaped inside a JSON string. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Whether any of the eight bytes at p is a control character, '"', '\\' or a byte of a multi-byte
 * character (a byte-wise test on one 64-bit word: x has a byte below n when (x - n*0x01..) & ~x &
 * 0x80.. is non-zero, and a byte of 0x80 or more when x & 0x80.. is). */
static inline bool word_needs_escape(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t hits = ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | x;
    return (hits & highs) != 0;
}

#ifdef __SSE2__
/* The offset of the first byte among the sixteen at p that is a control character, '"', '\\' or not
 * ASCII, or 16 when there is none (SSE2, which every x86-64 has: one compare for each kind of byte,
 * and the sign bits for the bytes of 0x80 and more). */
static inline unsigned first_escape16(const char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
    __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    unsigned mask = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(control, special), v));
    return mask ? (unsigned)__builtin_ctz(mask) : 16;
}
#endif

/* Writes s as a JSON string literal. Every byte levee writes goes through here, so this is also where
 * the rule "every output is valid UTF-8" is kept for text that did not come through the parser (a
 * message that quotes a cut name, text built by code): well-formed UTF-8 is copied, anything else is
 * written as U+FFFD. */
static void append_escaped(lv_buf *b, const char *s, size_t len)
{
    lv_buf_reserve(b, len + 2);
    b->data[b->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        /* Texts are mostly plain: skip sixteen (or eight) bytes at a time while none needs a look. */
#ifdef __SSE2__
        while (i + 16 <= len) {
            unsigned k = first_escape16(s + i);
            i += k;
            if (k < 16)
                break;
        }
#endif
        while (i + 8 <= len && !word_needs_escape(s + i))
            i += 8;
        if (i >= len)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = lv_utf8_valid_at(s + i, len - i);
            if (n) {
                i += n - 1;
                continue;
            }
            lv_buf_append(b, s + run, i - run);
            lv_buf_append(b, LV_UTF8_REPLACEMENT, 3);
            i += lv_utf8_invalid_at(s + i, len - i, NULL) - 1;
            run = i + 1;
            continue;
        }
        if (!needs_escape[c])
            continue;
        lv_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        size_t n = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
            break;
        }
        lv_buf_append(b, esc, n);
    }
    lv_buf_append(b, s + run, len - run);
    lv_buf_putc(b, '"');
}

static void newline_indent(lv_jw *w)
{
    lv_buf_putc(w->out, '\n');
    for (int i = 0; i < w->depth; i++)
        lv_buf_append(w->out, "  ", 2);
}

/* Separator before a value (or key) at the current level. */
static void before_value(lv_jw *w)
{
    if (w->sink && w->out->len >= (1u << 16)) {
        fwrite(w->out->data, 1, w->out->len, w->sink);
        w->out->len = 0;
    }
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->need_comma[w->depth])
        lv_buf_putc(w->out, ',');
    if (w->pretty && w->depth > 0)
        newline_indent(w);
    w->need_comma[w->depth] = true;
}

lv_jw *lv_jw_new(lv_buf *out, bool pretty)
{
    lv_jw *w = lv_xcalloc(1, sizeof *w);
    w->out = out;
    w->pretty = pretty;
    return w;
}

void lv_jw_set_sink(lv_jw *w, FILE *sink) { w->sink = sink; }

void lv_jw_free(lv_jw *w)
{
    free(w);
}

void lv_jw_reset(lv_jw *w)
{
    w->depth = 0;
    w->after_key = false;
    w->need_comma[0] = false;
}

static void jw_open(lv_jw *w, char c)
{
    before_value(w);
    lv_buf_putc(w->out, c);
    if (w->depth < JW_MAX_DEPTH)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void jw_close(lv_jw *w, char c)
{
    bool had_members = w->need_comma[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && had_members)
        newline_indent(w);
    lv_buf_putc(w->out, c);
}

void lv_jw_obj_open(lv_jw *w) { jw_open(w, '{'); }
void lv_jw_obj_close(lv_jw *w) { jw_close(w, '}'); }
void lv_jw_arr_open(lv_jw *w) { jw_open(w, '['); }
void lv_jw_arr_close(lv_jw *w) { jw_close(w, ']'); }

void lv_jw_keyn(lv_jw *w, const char *key, size_t len)
{
    before_value(w);
    append_escaped(w->out, key, len);
    if (w->pretty)
        lv_buf_append(w->out, ": ", 2);
    else
        lv_buf_putc(w->out, ':');
    w->after_key = true;
}

void lv_jw_key(lv_jw *w, const char *key)
{
    lv_jw_keyn(w, key, strlen(key));
}

void lv_jw_str(lv_jw *w, const char *s, size_t len)
{
    before_value(w);
    append_escaped(w->out, s, len);
}

void lv_jw_cstr(lv_jw *w, const char *s)
{
    if (s)
        lv_jw_str(w, s, strlen(s));
    else
        lv_jw_null(w);
}

void lv_jw_null(lv_jw *w)
{
    before_value(w);
    lv_buf_append(w->out, "null", 4);
}

void lv_jw_bool(lv_jw *w, bool b)
{
    before_value(w);
    if (b)
        lv_buf_append(w->out, "true", 4);
    else
        lv_buf_append(w->out, "false", 5);
}

void lv_jw_number_text(lv_jw *w, const char *s, size_t len)
{
    before_value(w);
    lv_buf_append(w->out, s, len);
}

void lv_jw_int(lv_jw *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
    lv_jw_number_text(w, tmp, (size_t)n);
}

void lv_jw_uint(lv_jw *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    lv_jw_number_text(w, tmp, (size_t)n);
}

void lv_jw_double(lv_jw *w, double v)
{
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%.6g", v);
    lv_jw_number_text(w, tmp, (size_t)n);
}

void lv_jw_value(lv_jw *w, const lv_json *v)
{
    switch (v->type) {
    case LV_JSON_NULL: lv_jw_null(w); break;
    case LV_JSON_BOOL: lv_jw_bool(w, v->boolean); break;
    case LV_JSON_NUMBER: lv_jw_number_text(w, v->str, v->len); break;
    case LV_JSON_STRING: lv_jw_str(w, v->str, v->len); break;
    case LV_JSON_RAW: lv_jw_number_text(w, v->str, v->len); break; /* compact JSON, valid UTF-8 */
    case LV_JSON_ARRAY:
        lv_jw_arr_open(w);
        for (const lv_json *c = v->child; c; c = c->next)
            lv_jw_value(w, c);
        lv_jw_arr_close(w);
        break;
    case LV_JSON_OBJECT:
        lv_jw_obj_open(w);
        for (const lv_json *c = v->child; c; c = c->next) {
            lv_jw_keyn(w, c->key, c->key_len);
            lv_jw_value(w, c);
        }
        lv_jw_obj_close(w);
        break;
    }
}

void lv_jw_kv_str(lv_jw *w, const char *key, const char *s, size_t len)
{
    lv_jw_key(w, key);
    lv_jw_str(w, s, len);
}

void lv_jw_kv_cstr(lv_jw *w, const char *key, const char *s)
{
    lv_jw_key(w, key);
    lv_jw_cstr(w, s);
}

void lv_jw_kv_int(lv_jw *w, const char *key, int64_t v)
{
    lv_jw_key(w, key);
    lv_jw_int(w, v);
}

void lv_jw_kv_bool(lv_jw *w, const char *key, bool b)
{
    lv_jw_key(w, key);
    lv_jw_bool(w, b);
}

void lv_json_quote(lv_buf *buf, const char *s, size_t len)
{
    append_escaped(buf, s, len);
}

void lv_jw_quoted(lv_jw *w, const char *literal, size_t len)
{
    before_value(w);
    lv_buf_append(w->out, literal, len);
}

/* ---------- canonical JSON (the dedupe identity of what levee does not model) ---------- */

/* The k significant digits of a number's text, read across its integer and fraction parts. */
typedef struct number_digits {
    const char *int_part, *frac_part;
    size_t n_int, n_frac;
} number_digits;

static char digit_at(const number_digits *d, size_t p)
{
    return p < d->n_int ? d->int_part[p] : d->frac_part[p - d->n_int];
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number as its exact decimal value (never through a double): the shortest digits and where the
 * decimal point goes, written as ECMAScript writes a number (1e+21, 1.5, 0.001, 1e-7), so 1.0, 1 and
 * 1e0 are one value and -0 is 0. A number whose exponent has more than 18 digits is kept as written. */
static void canonical_number(lv_buf *out, const char *s, size_t len)
{
    size_t i = 0;
    bool neg = i < len && s[i] == '-';
    i += neg;
    number_digits d = { .int_part = s + i };
    while (i < len && is_digit(s[i]))
        i++;
    d.n_int = (size_t)(s + i - d.int_part);
    bool well_formed = d.n_int > 0;
    if (i < len && s[i] == '.') {
        d.frac_part = s + ++i;
        while (i < len && is_digit(s[i]))
            i++;
        d.n_frac = (size_t)(s + i - d.frac_part);
        well_formed = well_formed && d.n_frac > 0;
    }
    int64_t exp = 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool exp_neg = i < len && s[i] == '-';
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        size_t start = i, digits = 0;
        while (i < len && s[i] == '0')
            i++;
        for (; i < len && is_digit(s[i]); i++, digits++)
            if (digits < 18)
                exp = exp * 10 + (s[i] - '0');
        well_formed = well_formed && i > start && digits <= 18;
        if (exp_neg)
            exp = -exp;
    }
    if (!well_formed || i != len) {
        lv_buf_append(out, s, len); /* valid JSON denotes one value: it never equals another one's form */
        return;
    }
    size_t total = d.n_int + d.n_frac, first = 0, last = total;
    while (first < total && digit_at(&d, first) == '0')
        first++;
    if (first == total) {
        lv_buf_putc(out, '0');
        return;
    }
    while (digit_at(&d, last - 1) == '0')
        last--;
    int64_t k = (int64_t)(last - first);
    int64_t n = exp + (int64_t)d.n_int - (int64_t)first; /* value = 0.DIGITS x 10^n; |exp| < 10^18 */
    if (neg)
        lv_buf_putc(out, '-');
    if (k <= n && n <= 21) {
        for (size_t p = first; p < last; p++)
            lv_buf_putc(out, digit_at(&d, p));
        for (int64_t z = k; z < n; z++)
            lv_buf_putc(out, '0');
    } else if (0 < n && n <= 21) {
        for (size_t p = first; p < last; p++) {
            if ((int64_t)(p - first) == n)
                lv_buf_putc(out, '.');
            lv_buf_putc(out, digit_at(&d, p));
        }
    } else if (-6 < n && n <= 0) {
        lv_buf_puts(out, "0.");
        for (int64_t z = n; z < 0; z++)
            lv_buf_putc(out, '0');
        for (size_t p = first; p < last; p++)
            lv_buf_putc(out, digit_at(&d, p));
    } else {
        lv_buf_putc(out, digit_at(&d, first));
        if (k > 1)
            lv_buf_putc(out, '.');
        for (size_t p = first + 1; p < last; p++)
            lv_buf_putc(out, digit_at(&d, p));
        lv_buf_printf(out, "e%c%lld", n - 1 < 0 ? '-' : '+', (long long)(n - 1 < 0 ? 1 - n : n - 1));
    }
}

typedef struct member_at {
    const lv_json *m;
    size_t order; /* where it came: members of one name keep their order */
} member_at;

static int compare_members(const void *a, const void *b)
{
    const member_at *x = a, *y = b;
    size_t n = x->m->key_len < y->m->key_len ? x->m->key_len : y->m->key_len;
    int c = n ? memcmp(x->m->key, y->m->key, n) : 0;
    if (c == 0 && x->m->key_len != y->m->key_len)
        c = x->m->key_len < y->m->key_len ? -1 : 1;
    if (c == 0)
        c = x->order < y->order ? -1 : x->order > y->order;
    return c;
}

void lv_json_sort_members(const lv_json **members, size_t n)
{
    if (n < 2)
        return;
    member_at stack_members[16];
    member_at *sorted = n <= 16 ? stack_members : lv_xmalloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (member_at){ members[i], i };
    qsort(sorted, n, sizeof *sorted, compare_members);
    for (size_t i = 0; i < n; i++)
        members[i] = sorted[i].m;
    if (sorted != stack_members)
        free(sorted);
}

void lv_json_write_canonical(lv_buf *out, const lv_json *v)
{
    switch (v->type) {
    case LV_JSON_NULL: lv_buf_puts(out, "null"); break;
    case LV_JSON_BOOL: lv_buf_puts(out, v->boolean ? "true" : "false"); break;
    case LV_JSON_NUMBER: canonical_number(out, v->str, v->len); break;
    case LV_JSON_STRING: append_escaped(out, v->str, v->len); break;
    case LV_JSON_RAW: lv_buf_append(out, v->str, v->len); break; /* kept whole, not looked into */
    case LV_JSON_ARRAY:
        lv_buf_putc(out, '[');
        for (const lv_json *c = v->child; c; c = c->next) {
            lv_json_write_canonical(out, c);
            if (c->next)
                lv_buf_putc(out, ',');
        }
        lv_buf_putc(out, ']');
        break;
    case LV_JSON_OBJECT: {
        size_t n = 0;
        for (const lv_json *c = v->child; c; c = c->next)
            n++;
        const lv_json *stack_members[16];
        const lv_json **members = n <= 16 ? stack_members : lv_xmalloc(n * sizeof *members);
        n = 0;
        for (const lv_json *c = v->child; c; c = c->next)
            members[n++] = c;
        lv_json_sort_members(members, n);
        lv_buf_putc(out, '{');
        for (size_t i = 0; i < n; i++) {
            if (i)
                lv_buf_putc(out, ',');
            append_escaped(out, members[i]->key, members[i]->key_len);
            lv_buf_putc(out, ':');
            lv_json_write_canonical(out, members[i]);
        }
        lv_buf_putc(out, '}');
        if (members != stack_members)
            free(members);
        break;
    }
    }
}
