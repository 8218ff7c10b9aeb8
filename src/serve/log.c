/* log.c: buffered logfmt/JSON log lines on stderr. A background thread flushes the buffer every
 * 200 ms; a full buffer is flushed by whoever fills it. */
#include "levee/log.h"

#include "levee/json.h"
#include "levee/timestamp.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES 32768

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static lv_buf log_buf;
static lv_buf scrub_buf; /* under log_lock */
static lv_log_format log_format;
static pthread_t flusher;
static atomic_bool flusher_running;
static atomic_bool stopping;

static void write_out_locked(void)
{
    size_t done = 0;
    while (done < log_buf.len) {
        ssize_t n = write(2, log_buf.data + done, log_buf.len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    lv_buf_reset(&log_buf);
}

void lv_log_flush(void)
{
    pthread_mutex_lock(&log_lock);
    write_out_locked();
    pthread_mutex_unlock(&log_lock);
}

static void *flush_loop(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "levee-log");
    while (!atomic_load(&stopping)) {
        struct timespec t = { 0, 200 * 1000000L };
        nanosleep(&t, NULL);
        lv_log_flush();
    }
    return NULL;
}

void lv_log_init(lv_log_format format)
{
    log_format = format;
    atomic_store(&stopping, false);
    if (!atomic_exchange(&flusher_running, true))
        pthread_create(&flusher, NULL, flush_loop, NULL);
}

void lv_log_stop(void)
{
    if (atomic_exchange(&flusher_running, false)) {
        atomic_store(&stopping, true);
        pthread_join(flusher, NULL);
    }
    lv_log_flush();
    pthread_mutex_lock(&log_lock);
    lv_buf_free(&log_buf);
    lv_buf_free(&scrub_buf);
    pthread_mutex_unlock(&log_lock);
}

/* v with its secrets scrubbed (lv_scrub_append), in scratch when it had any. */
static const char *scrubbed(const char *v, lv_buf *scratch)
{
    size_t len = strlen(v);
    if (!lv_scrub_needed(v, len))
        return v;
    lv_buf_reset(scratch);
    lv_scrub_append(scratch, v, len);
    lv_buf_putc(scratch, '\0');
    return scratch->data;
}

static bool needs_quotes(const char *v)
{
    if (!*v)
        return true;
    for (const char *p = v; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\')
            return true;
    return false;
}

static void logfmt_value(lv_buf *b, const char *v)
{
    if (!needs_quotes(v)) {
        lv_buf_puts(b, v);
        return;
    }
    lv_json_quote(b, v, strlen(v)); /* a JSON string literal is a valid logfmt quoted value */
}

static const char *level_name(lv_log_level level)
{
    return level == LV_LOG_ERROR ? "error" : level == LV_LOG_WARN ? "warn" : "info";
}

void lv_log(lv_log_level level, const char *msg, ...)
{
    char when[LV_TIME_TEXT_MAX];
    lv_time_format(lv_now_ms(), when);
    va_list ap;
    va_start(ap, msg);
    pthread_mutex_lock(&log_lock);
    if (log_format == LV_LOG_JSON) {
        lv_buf_printf(&log_buf, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", when, level_name(level));
        msg = scrubbed(msg, &scrub_buf);
        lv_json_quote(&log_buf, msg, strlen(msg));
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            if (!v)
                continue;
            v = scrubbed(v, &scrub_buf);
            lv_buf_putc(&log_buf, ',');
            lv_json_quote(&log_buf, k, strlen(k));
            lv_buf_putc(&log_buf, ':');
            lv_json_quote(&log_buf, v, strlen(v));
        }
        lv_buf_puts(&log_buf, "}\n");
    } else {
        lv_buf_printf(&log_buf, "time=%s level=%s msg=", when, level_name(level));
        logfmt_value(&log_buf, scrubbed(msg, &scrub_buf));
        const char *k;
        while ((k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            if (!v)
                continue;
            lv_buf_printf(&log_buf, " %s=", k);
            logfmt_value(&log_buf, scrubbed(v, &scrub_buf));
        }
        lv_buf_putc(&log_buf, '\n');
    }
    if (log_buf.len > FLUSH_BYTES || level != LV_LOG_INFO || !atomic_load(&flusher_running))
        write_out_locked();
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
}
