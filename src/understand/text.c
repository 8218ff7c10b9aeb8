/* text.c: counting characters in UTF-8, Canvas's (Rails') 8192-character cut, the visible text of HTML, and the
 * strict (RFC 3629) UTF-8 checks and U+FFFD repair that keep every output levee writes valid UTF-8. */
#include "levee/text.h"

#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

size_t lv_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--; /* s[n] continues the character before it: cut before that character */
    return n;
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

size_t lv_utf8_valid_at(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    if (len == 0)
        return 0;
    if (p[0] < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        if (p[0] == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (p[0] == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else
        return 0;
    if (len < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

size_t lv_utf8_invalid_at(const char *s, size_t len, const char **why)
{
    const unsigned char *p = (const unsigned char *)s;
    static const char *const no_lead = "a continuation byte with no lead byte before it";
    static const char *const overlong = "an overlong form, a character encoded in more bytes than it needs";
    static const char *const surrogate = "an encoded UTF-16 surrogate, which is not a character";
    static const char *const too_big = "a code point beyond U+10FFFF";
    static const char *const never = "a byte that never appears in UTF-8";
    static const char *const cut = "a sequence cut short, with fewer continuation bytes than its lead byte promises";
    const char *reason = cut;
    size_t skip = 1;
    if (len == 0 || lv_utf8_valid_at(s, len) > 0) {
        reason = NULL; /* nothing is wrong here */
        skip = 0;
    } else if (p[0] >= 0x80 && p[0] <= 0xBF) {
        reason = no_lead;
    } else if (p[0] == 0xC0 || p[0] == 0xC1) {
        reason = overlong; /* they start only two-byte forms of U+0000..U+007F */
    } else if (p[0] >= 0xF5) {
        reason = p[0] <= 0xF7 ? too_big : never;
    } else {
        size_t n = p[0] <= 0xDF ? 2 : p[0] <= 0xEF ? 3 : 4;
        unsigned char lo = 0x80, hi = 0xBF;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
        else if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
        if (len > 1 && p[1] >= 0x80 && p[1] <= 0xBF && (p[1] < lo || p[1] > hi)) {
            /* a continuation byte, but one this lead byte may not take */
            reason = p[0] == 0xED ? surrogate : p[0] == 0xF4 ? too_big : overlong;
        } else {
            /* the maximal subpart: as many bytes as still begin a well-formed sequence */
            while (skip < n && skip < len && p[skip] >= (skip == 1 ? lo : 0x80) && p[skip] <= (skip == 1 ? hi : 0xBF))
                skip++;
            reason = cut;
        }
    }
    if (why)
        *why = reason;
    return skip;
}

size_t lv_utf8_valid_prefix(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* most text is ASCII: sixteen (SSE2) or eight bytes at a time while none has its high bit set */
#ifdef __SSE2__
        while (i + 64 <= len) {
            const __m128i *p = (const __m128i *)(const void *)(s + i);
            __m128i any = _mm_or_si128(_mm_or_si128(_mm_loadu_si128(p), _mm_loadu_si128(p + 1)),
                                       _mm_or_si128(_mm_loadu_si128(p + 2), _mm_loadu_si128(p + 3)));
            if (_mm_movemask_epi8(any))
                break;
            i += 64;
        }
        while (i + 16 <= len &&
               _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + i))) == 0)
            i += 16;
#endif
        while (i + 8 <= len) {
            uint64_t x;
            memcpy(&x, s + i, sizeof x);
            if (x & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = lv_utf8_valid_at(s + i, len - i);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

size_t lv_utf8_clean(const char *s, size_t len, lv_buf *out)
{
    size_t replaced = 0, i = 0;
    while (i < len) {
        size_t good = lv_utf8_valid_prefix(s + i, len - i);
        lv_buf_append(out, s + i, good);
        i += good;
        if (i < len) {
            lv_buf_append(out, LV_UTF8_REPLACEMENT, 3);
            i += lv_utf8_invalid_at(s + i, len - i, NULL);
            replaced++;
        }
    }
    return replaced;
}

void lv_utf8_put(lv_buf *out, uint32_t cp)
{
    char b[4];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0)
        cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp;
        lv_buf_append(out, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        lv_buf_append(out, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        lv_buf_append(out, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        lv_buf_append(out, b, 4);
    }
}

/* Named character references that appear in classroom HTML; others are kept as written. */
static const struct { const char *name; uint32_t cp; } entities[] = {
    { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
    { "nbsp", ' ' }, { "ndash", 0x2013 }, { "mdash", 0x2014 }, { "hellip", 0x2026 },
    { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C }, { "rdquo", 0x201D },
    { "copy", 0xA9 }, { "reg", 0xAE }, { "eacute", 0xE9 }, { "egrave", 0xE8 }, { "agrave", 0xE0 },
    { "ccedil", 0xE7 }, { "uuml", 0xFC }, { "ouml", 0xF6 }, { "auml", 0xE4 }, { "szlig", 0xDF },
    { "ntilde", 0xF1 }, { "deg", 0xB0 }, { "times", 0xD7 }, { "divide", 0xF7 }, { "pi", 0x3C0 },
};

/* Decodes the reference starting at s[0] == '&'; returns bytes consumed (0 if not a reference). */
static size_t decode_reference(const char *s, size_t len, uint32_t *cp)
{
    size_t i = 1;
    if (i < len && s[i] == '#') {
        i++;
        uint32_t v = 0;
        bool hex = i < len && (s[i] == 'x' || s[i] == 'X');
        if (hex)
            i++;
        size_t start = i;
        while (i < len && i - start < 8) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                  : hex && c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : hex && c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                break;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
            i++;
        }
        if (i == start)
            return 0;
        if (i < len && s[i] == ';')
            i++;
        *cp = v;
        return i;
    }
    size_t start = i;
    while (i < len && i - start < 10 && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
        i++;
    if (i == start || i >= len || s[i] != ';')
        return 0;
    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++)
        if (strlen(entities[k].name) == i - start && memcmp(entities[k].name, s + start, i - start) == 0) {
            *cp = entities[k].cp;
            return i + 1;
        }
    return 0;
}

void lv_html_to_text(const char *html, size_t len, lv_buf *out)
{
    size_t start_len = out->len;
    bool pending_space = false;
    size_t i = 0;
    while (i < len) {
        char c = html[i];
        if (c == '<') {
            /* comments run to "-->", tags to the next '>'; script and style contents are dropped */
            if (len - i >= 4 && memcmp(html + i, "<!--", 4) == 0) {
                const char *end = memmem(html + i + 4, len - i - 4, "-->", 3);
                i = end ? (size_t)(end - html) + 3 : len;
            } else {
                const char *end = memchr(html + i, '>', len - i);
                size_t tag_end = end ? (size_t)(end - html) + 1 : len;
                bool is_script = (tag_end - i >= 7 && strncasecmp(html + i, "<script", 7) == 0) ||
                                 (tag_end - i >= 6 && strncasecmp(html + i, "<style", 6) == 0);
                i = tag_end;
                if (is_script) {
                    const char *close = NULL;
                    for (size_t k = i; k + 1 < len && !close; k++)
                        if (html[k] == '<' && html[k + 1] == '/')
                            close = html + k;
                    if (close) {
                        const char *gt = memchr(close, '>', (size_t)(html + len - close));
                        i = gt ? (size_t)(gt - html) + 1 : len;
                    } else {
                        i = len;
                    }
                }
            }
            pending_space = true; /* tags separate words: "a<br>b" is "a b" */
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
            pending_space = true;
            i++;
            continue;
        }
        if (pending_space && out->len > start_len)
            lv_buf_putc(out, ' ');
        pending_space = false;
        if (c == '&') {
            uint32_t cp;
            size_t n = decode_reference(html + i, len - i, &cp);
            if (n) {
                if (cp == ' ' || cp == 0xA0)
                    pending_space = true;
                else
                    lv_utf8_put(out, cp);
                i += n;
                continue;
            }
        }
        /* copy a run of plain characters at once */
        size_t run = i + 1;
        while (run < len && html[run] != '<' && html[run] != '&' && html[run] != ' ' &&
               html[run] != '\n' && html[run] != '\t' && html[run] != '\r' && html[run] != '\f')
            run++;
        lv_buf_append(out, html + i, run - i);
        i = run;
    }
}
