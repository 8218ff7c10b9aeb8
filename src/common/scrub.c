/* scrub.c: secrets taken out of text levee writes to its logs and error sentences. A URL's query can carry
 * a credential (Canvas API URLs ?access_token=..., levee's own ?token=..., presigned AWS URLs
 * X-Amz-Signature=...): wherever such a parameter is quoted, its value is replaced by [redacted]. */
#include "levee/common.h"

#include <string.h>
#include <strings.h>

#define REDACTED "[redacted]"

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

static bool ends_with(const char *s, size_t len, const char *tail)
{
    size_t n = strlen(tail);
    return len >= n && strncasecmp(s + len - n, tail, n) == 0;
}

/* Whether a query parameter of this name carries a secret. */
static bool secret_name(const char *s, size_t len)
{
    return ends_with(s, len, "token") || ends_with(s, len, "signature") || ends_with(s, len, "secret") ||
           ends_with(s, len, "password") || ends_with(s, len, "credential") || ends_with(s, len, "api_key") ||
           (len == 3 && strncasecmp(s, "sig", 3) == 0);
}

static bool value_end(char c)
{
    return c == '&' || c == '#' || c == ';' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r' || c == '>' || c == ')' || c == ',';
}

/* The next secret parameter's value in s[from..len): its start and end, or false. */
static bool next_secret(const char *s, size_t len, size_t from, size_t *vstart, size_t *vend)
{
    for (size_t i = from; i < len; i++) {
        const char *eq = memchr(s + i, '=', len - i);
        if (!eq)
            return false;
        size_t e = (size_t)(eq - s), b = e;
        while (b > 0 && name_char(s[b - 1]))
            b--;
        if (b > 0 && b < e && (s[b - 1] == '?' || s[b - 1] == '&' || s[b - 1] == ';') && secret_name(s + b, e - b)) {
            size_t v = e + 1;
            while (v < len && !value_end(s[v]))
                v++;
            if (v > e + 1 && !(v - e - 1 == strlen(REDACTED) && memcmp(s + e + 1, REDACTED, v - e - 1) == 0)) {
                *vstart = e + 1;
                *vend = v;
                return true;
            }
        }
        i = e;
    }
    return false;
}

bool lv_scrub_needed(const char *s, size_t len)
{
    size_t a, b;
    return next_secret(s, len, 0, &a, &b);
}

void lv_scrub_append(lv_buf *out, const char *s, size_t len)
{
    size_t at = 0, a, b;
    while (next_secret(s, len, at, &a, &b)) {
        lv_buf_append(out, s + at, a - at);
        lv_buf_puts(out, REDACTED);
        at = b;
    }
    lv_buf_append(out, s + at, len - at);
}

void lv_scrub(char *s, size_t size)
{
    size_t len = strlen(s);
    if (!lv_scrub_needed(s, len))
        return;
    lv_buf b;
    lv_buf_init(&b);
    lv_scrub_append(&b, s, len);
    size_t n = b.len < size - 1 ? b.len : size - 1;
    memcpy(s, b.data, n);
    s[n] = '\0';
    lv_buf_free(&b);
}
