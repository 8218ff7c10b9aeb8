/* levee/timestamp.h (stage: understand): timestamps with an offset, in every form Canvas sends them
 * (RFC 3339 and Ruby's Time#to_s), to and from UTC milliseconds since the Unix epoch. */
#ifndef LEVEE_TIMESTAMP_H
#define LEVEE_TIMESTAMP_H

#include "levee/common.h"

/* "2019-11-01T19:11:03.933Z" plus NUL */
#define LV_TIME_TEXT_MAX 32

/* The instants a four-digit year can write, and so the only ones levee accepts:
 * 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
#define LV_TIME_MIN_MS (-62167219200000LL)
#define LV_TIME_MAX_MS 253402300799999LL

/* What the parser tells a reader about a timestamp it accepted in a form Canvas does not send:
 * empty (text[0] == '\0') for RFC 3339 and Ruby's Time#to_s; otherwise a sentence that quotes the
 * value, says what is unusual and gives the UTC instant it was read as. */
#define LV_TIME_NOTE_MAX 480
typedef struct lv_time_note {
    char text[LV_TIME_NOTE_MAX];
} lv_time_note;

/* Parses a timestamp with a UTC offset (docs/events.md, "Timestamps", has the table):
 *  - silently: RFC 3339 (`2019-11-01T19:11:03.933Z`, `2020-03-30T11:18:51-06:00`, lower-case t/z,
 *    a space for the T) and Ruby's Time#to_s/#inspect (`2019-11-05 07:38:00 -0800`,
 *    `2019-11-05 13:38:00 UTC`, with an optional fraction);
 *  - with a note: ISO 8601 forms whose instant is still certain: a comma before the fraction, an
 *    offset without its colon or its minutes outside Ruby's form (`T10:00:00+0530`, `+05`), a
 *    fraction finer than a millisecond (truncated toward the past), and a leap second at 23:59:60
 *    UTC on the last day of a month (read as the next day's first instant, as POSIX time does);
 *  - refused: no offset, a date or time of day that cannot exist, any other form, and an instant
 *    whose UTC year falls outside 0000-9999.
 * note may be NULL. On failure, err->msg quotes the value and says why, e.g.
 * `"2019-07-03 23:12:34" has no UTC offset`. */
lv_status lv_time_read(const char *s, size_t len, int64_t *ms, lv_time_note *note, lv_error *err);

/* lv_time_read without the note: for values a person types (--start, --since). */
lv_status lv_time_parse(const char *s, size_t len, int64_t *ms, lv_error *err);
/* As lv_time_parse, and also a bare date (`YYYY-MM-DD`), meaning its start in UTC: how a person
 * gives --since/--until and the API's since/until. */
lv_status lv_time_or_date_parse(const char *s, size_t len, int64_t *ms, lv_error *err);

/* Formats as RFC 3339 UTC with milliseconds ("2019-11-01T19:11:03.933Z"); returns the length.
 * ms must lie in [LV_TIME_MIN_MS, LV_TIME_MAX_MS] (every parsed time does); outside it the year is
 * clamped to 0000 or 9999. */
size_t lv_time_format(int64_t ms, char out[LV_TIME_TEXT_MAX]);

/* Same as lv_time_format with whole seconds ("2019-11-01T19:11:03Z"). */
size_t lv_time_format_seconds(int64_t ms, char out[LV_TIME_TEXT_MAX]);

/* Formats ms as local time at a fixed offset from UTC, whole seconds ("2020-03-30T11:18:51-06:00"). */
size_t lv_time_format_offset(int64_t ms, int offset_minutes, char out[LV_TIME_TEXT_MAX]);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t lv_days_from_civil(int64_t y, unsigned m, unsigned d);
void lv_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
