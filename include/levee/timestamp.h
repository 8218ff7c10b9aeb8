/* levee/timestamp.h (stage: understand): ISO 8601 timestamps with an offset, as Canvas sends them, to and from UTC
 * milliseconds since the Unix epoch. */
#ifndef LEVEE_TIMESTAMP_H
#define LEVEE_TIMESTAMP_H

#include "levee/common.h"

/* "2019-11-01T19:11:03.933Z" plus NUL */
#define LV_TIME_TEXT_MAX 32

/* Parses `YYYY-MM-DD(T| )hh:mm:ss[.fraction](Z|±hh:mm|±hhmm|±hh)`. A timestamp without an offset
 * is refused (its zone is unknown), as is any date or time that cannot exist. Fractions finer than
 * a millisecond are truncated. On failure, err->msg describes the problem after the quoted value,
 * e.g. `"2019-07-03 23:12:34" has no UTC offset`. */
lv_status lv_time_parse(const char *s, size_t len, int64_t *ms, lv_error *err);
/* As lv_time_parse, and also a bare date (`YYYY-MM-DD`), meaning its start in UTC: how a person
 * gives --since/--until and the API's since/until. */
lv_status lv_time_or_date_parse(const char *s, size_t len, int64_t *ms, lv_error *err);

/* Formats as RFC 3339 UTC with milliseconds ("2019-11-01T19:11:03.933Z"); returns the length. */
size_t lv_time_format(int64_t ms, char out[LV_TIME_TEXT_MAX]);

/* Same as lv_time_format with whole seconds ("2019-11-01T19:11:03Z"). */
size_t lv_time_format_seconds(int64_t ms, char out[LV_TIME_TEXT_MAX]);

/* Formats ms as local time at a fixed offset from UTC, whole seconds ("2020-03-30T11:18:51-06:00"). */
size_t lv_time_format_offset(int64_t ms, int offset_minutes, char out[LV_TIME_TEXT_MAX]);

/* Days since 1970-01-01 for a proleptic Gregorian date, and back. */
int64_t lv_days_from_civil(int64_t y, unsigned m, unsigned d);
void lv_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
