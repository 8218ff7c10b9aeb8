/* levee/text.h (stage: understand): text as Canvas counts it (Unicode characters, not bytes), Canvas's 8192-character
 * cut, and the visible text of HTML (for search and snippets). */
#ifndef LEVEE_TEXT_H
#define LEVEE_TEXT_H

#include "levee/common.h"

/* Canvas cuts entry text, topic bodies and titles to this many characters. */
#define LV_TEXT_LIMIT 8192

/* Number of Unicode characters in valid UTF-8 text. */
size_t lv_utf8_count(const char *s, size_t len);

/* Byte length of the first `chars` characters of s (or len when s is shorter). */
size_t lv_utf8_prefix(const char *s, size_t len, size_t chars);

/* The largest byte count <= max that does not split a UTF-8 character of s (len bytes): for quoting
 * the start of a long text in a message. */
size_t lv_utf8_cut(const char *s, size_t len, size_t max);

/* Cuts text the way Ruby on Rails' String#truncate(limit, separator: " ") does, which is how
 * Canvas cuts: if longer than limit characters, keep at most limit-3 characters, back up to the
 * last space at or before that point (if there is one), and append "...". Appends the result to
 * out and returns true when the text was cut. */
bool lv_text_truncate(const char *s, size_t len, size_t limit, lv_buf *out);

/* Appends the visible text of an HTML fragment: tags and comments removed (block-level tags become
 * spaces), character references decoded (named ones HTML authors commonly use, and all numeric
 * ones), runs of white space collapsed to one space, no leading or trailing space. */
void lv_html_to_text(const char *html, size_t len, lv_buf *out);

/* Appends the UTF-8 encoding of a Unicode code point (U+FFFD for invalid ones). */
void lv_utf8_put(lv_buf *out, uint32_t cp);

/* U+FFFD REPLACEMENT CHARACTER, which stands in for text that was not valid UTF-8. */
#define LV_UTF8_REPLACEMENT "\xEF\xBF\xBD"

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF), or 0 when s does not start one. */
size_t lv_utf8_valid_at(const char *s, size_t len);
/* The length of the longest prefix of s that is well-formed UTF-8 (len when all of s is). */
size_t lv_utf8_valid_prefix(const char *s, size_t len);
/* At s, where lv_utf8_valid_at is 0: the number of bytes one U+FFFD replaces (Unicode's "maximal
 * subpart" practice, chapter 3.9, which WHATWG's decoder and Python's errors="replace" follow: a
 * sequence cut short is one replacement, a byte that can begin nothing is one replacement each), and
 * in *why (when not NULL) what is wrong, in words. Returns 0 (and *why NULL) when s is well-formed. */
size_t lv_utf8_invalid_at(const char *s, size_t len, const char **why);
/* Appends s with each ill-formed part (as lv_utf8_invalid_at counts them) replaced by U+FFFD, so that
 * text from outside (a URL, a header, an event) can be written as JSON; returns how many were replaced. */
size_t lv_utf8_clean(const char *s, size_t len, lv_buf *out);

#endif
