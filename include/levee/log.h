/* levee/log.h (stage: serve): the server's access and error logs on stderr, one line per record, as logfmt
 * (time=... level=info msg=request method=POST ...) or as JSON objects. Lines are buffered and
 * written at least every 200 ms, so logging costs no system call per request. */
#ifndef LEVEE_LOG_H
#define LEVEE_LOG_H

#include "levee/common.h"

typedef enum lv_log_format { LV_LOG_LOGFMT, LV_LOG_JSON } lv_log_format;
typedef enum lv_log_level { LV_LOG_INFO, LV_LOG_WARN, LV_LOG_ERROR } lv_log_level;

void lv_log_init(lv_log_format format);
/* Writes what is buffered now (called on shutdown; also done periodically). */
void lv_log_flush(void);
void lv_log_stop(void);

/* A record: a level, a message, then key/value pairs (string values; a NULL value leaves its pair
 * out; a NULL key ends the list). Values are quoted as needed. */
void lv_log(lv_log_level level, const char *msg, ...) __attribute__((sentinel));

#endif
