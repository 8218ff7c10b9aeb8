/* levee/text.h: text as Canvas counts it (Unicode characters, not bytes), Canvas's 8192-character
 * cut. */
#ifndef LEVEE_TEXT_H
#define LEVEE_TEXT_H

#include "levee/common.h"

/* Canvas cuts entry text, topic bodies and titles to this many characters. */
#define LV_TEXT_LIMIT 8192

/* Number of Unicode characters in valid UTF-8 text. */
size_t lv_utf8_count(const char *s, size_t len);

/* Byte length of the first `chars` characters of s (or len when s is shorter). */
size_t lv_utf8_prefix(const char *s, size_t len, size_t chars);

/* Cuts text the way Ruby on Rails' String#truncate(limit, separator: " ") does, which is how
 * Canvas cuts: if longer than limit characters, keep at most limit-3 characters, back up to the
 * last space at or before that point (if there is one), and append "...". Appends the result to
 * out and returns true when the text was cut. */
bool lv_text_truncate(const char *s, size_t len, size_t limit, lv_buf *out);

#endif
