/* levee/common.h (stage: common): status codes, the error type every fallible function fills, and the two memory
 * helpers the rest of levee is built on: an arena (bump allocator reset per event) and a growable
 * byte buffer. */
#ifndef LEVEE_COMMON_H
#define LEVEE_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LV_VERSION "0.1.0"

/* Every fallible function returns one of these and fills an lv_error with a sentence saying why. */
typedef enum lv_status {
    LV_OK = 0,
    LV_EINVAL,      /* the input is not acceptable (bad JSON, bad field, bad argument) */
    LV_EIO,         /* reading or writing failed */
    LV_ETOOBIG,     /* the input exceeds a documented limit */
    LV_EUNSUPPORTED,/* the request is well formed but cannot be done (e.g. no Caliper form) */
    LV_ENOTFOUND,   /* the thing asked for does not exist */
    LV_EINTERNAL,   /* a library levee relies on failed */
    LV_EDAMAGED,    /* a store or journal is damaged: what it holds cannot be read as written */
    LV_EBUSY,       /* a resource is held by someone else (a lock, a full disk): trying later may work */
    LV_ETIMEOUT,    /* the work took longer than it was allowed */
} lv_status;

#define LV_ERROR_MAX 512

typedef struct lv_error {
    lv_status status;
    char msg[LV_ERROR_MAX];
} lv_error;

/* Fills err (when not NULL) and returns status, so callers can write `return lv_fail(err, ...)`. */
lv_status lv_fail(lv_error *err, lv_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
lv_status lv_vfail(lv_error *err, lv_status status, const char *fmt, va_list ap);
void lv_error_clear(lv_error *err);

/* Allocation that cannot fail: on exhaustion levee prints a message and aborts, as there is no
 * sensible recovery from out-of-memory in the middle of parsing. */
void *lv_xmalloc(size_t n);
void *lv_xcalloc(size_t count, size_t n);
void *lv_xrealloc(void *p, size_t n);
char *lv_xstrdup(const char *s);
char *lv_xstrndup(const char *s, size_t n);

/* Growable arrays: a struct with `items`, `n` and `cap` (LV_VEC(type) declares one), grown by
 * doubling (at least to `first` elements). lv_vec_push makes room for one more element and returns
 * a pointer to it, counted in n; the caller fills it. */
#define LV_VEC(type)                                                                               \
    struct {                                                                                       \
        type *items;                                                                               \
        size_t n, cap;                                                                             \
    }
/* Makes room for `need` elements of `size` bytes in *items (cap is updated). */
void lv_vec_reserve(void **items, size_t *cap, size_t need, size_t size, size_t first);
#define lv_vec_push(v, first)                                                                      \
    (lv_vec_reserve((void **)&(v)->items, &(v)->cap, (v)->n + 1, sizeof *(v)->items, (first)),      \
     &(v)->items[(v)->n++])
#define lv_vec_free(v) (free((v)->items), (v)->items = NULL, (v)->n = (v)->cap = 0)

/* Arena: memory for one unit of work (one document, one request), released all at once. */
typedef struct lv_arena_chunk lv_arena_chunk;
typedef struct lv_arena {
    lv_arena_chunk *head;   /* chunk being filled */
    size_t chunk_size;      /* size of the next chunk to allocate */
} lv_arena;

void lv_arena_init(lv_arena *a, size_t first_chunk);
void *lv_arena_alloc(lv_arena *a, size_t n);
void *lv_arena_zalloc(lv_arena *a, size_t n);
char *lv_arena_strndup(lv_arena *a, const char *s, size_t n);
char *lv_arena_printf(lv_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees everything allocated, keeping the memory for reuse (as one chunk). */
void lv_arena_reset(lv_arena *a);
void lv_arena_free(lv_arena *a);

/* Milliseconds since the Unix epoch, now (wall clock). */
int64_t lv_now_ms(void);
/* Durations as people write them: "500ms", "30s", "10m", "2h", "3d". */
lv_status lv_duration_parse(const char *text, int64_t *ms, lv_error *err);
/* Microseconds on a clock that only moves forward (for durations). */
int64_t lv_monotonic_us(void);
/* The CLOCK_REALTIME instant timeout_ms from now, as pthread_cond_timedwait wants it. */
struct timespec lv_deadline_after(int timeout_ms);

/* Maps in the pages of [p, p+n) now, in one call. A first touch of a fresh page costs a fault
 * each; on virtual machines a fault can cost 10 µs or more, and a large buffer filled page by page
 * pays it thousands of times. Best effort: a no-op where the kernel cannot do it. */
void lv_prefault(void *p, size_t n);

/* Growable byte buffer; data is always NUL-terminated after len bytes. */
typedef struct lv_buf {
    char *data;
    size_t len;
    size_t cap;
} lv_buf;

void lv_buf_init(lv_buf *b);
void lv_buf_free(lv_buf *b);
void lv_buf_reset(lv_buf *b);
void lv_buf_reserve(lv_buf *b, size_t extra);
void lv_buf_grow_append(lv_buf *b, const void *p, size_t n);
static inline void lv_buf_append(lv_buf *b, const void *p, size_t n)
{
    if (__builtin_expect(b->len + n < b->cap, 1)) {
        __builtin_memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
    } else {
        lv_buf_grow_append(b, p, n);
    }
}
void lv_buf_puts(lv_buf *b, const char *s);
static inline void lv_buf_putc(lv_buf *b, char c)
{
    if (__builtin_expect(b->len + 1 < b->cap, 1)) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        lv_buf_grow_append(b, &c, 1);
    }
}
void lv_buf_printf(lv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole small file (a key, a JWKS) into out; refuses one over max bytes. `what` names it in
 * messages: "cannot open the JWKS keys.json: ...". */
lv_status lv_read_file(const char *path, const char *what, size_t max, lv_buf *out, lv_error *err);
/* Takes ownership of the data; the buffer is left empty. */
char *lv_buf_detach(lv_buf *b, size_t *len);

/* Secrets in URLs levee quotes (logs, error sentences): the value of every query parameter whose name ends in
 * token, signature, secret, password, credential or api_key (access_token, ?token=, X-Amz-Signature, ...), or is
 * sig, becomes [redacted]. lv_scrub rewrites a NUL-terminated string in its buffer of size bytes; lv_fail and
 * the server's log do it to everything they write. */
bool lv_scrub_needed(const char *s, size_t len);
void lv_scrub_append(lv_buf *out, const char *s, size_t len);
void lv_scrub(char *s, size_t size);

#endif
