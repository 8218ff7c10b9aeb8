/* live.c: GET /api/tail, the live tail as Server-Sent Events. A stream reads the tail's ring from the
 * event after the one it saw last (Last-Event-ID after a reconnect), filtered by event name and
 * course. With nothing to send, its connection is suspended until the next event, a keepalive, or
 * the server stopping, so a thousand watchers hold no threads. */
#include "serve.h"

#include "levee/id.h"

#include <stdlib.h>
#include <string.h>

#define TAIL_KEEPALIVE_MS 15000

typedef struct tail_stream tail_stream;

struct sv_live {
    tail_stream **items; /* suspended streams (under the server's suspend_lock) */
    size_t n, cap;
};

struct tail_stream {
    server *s;
    struct MHD_Connection *c;
    bool suspended;
    uint64_t next;
    char *event;
    lv_tail_filter filter;
    lv_buf pending;
    size_t sent;
    struct timespec last_write;
};

sv_live *sv_live_new(void)
{
    return lv_xcalloc(1, sizeof(sv_live));
}

void sv_live_free(sv_live *l)
{
    if (!l)
        return;
    free(l->items);
    free(l);
}

void sv_wake_tails(server *s)
{
    sv_live *l = s->live;
    pthread_mutex_lock(&s->suspend_lock);
    for (size_t i = 0; i < l->n; i++)
        sv_resume(s, l->items[i]->c, true);
    l->n = 0;
    pthread_mutex_unlock(&s->suspend_lock);
}

size_t sv_tails_waiting(server *s)
{
    pthread_mutex_lock(&s->suspend_lock);
    size_t n = s->live->n;
    pthread_mutex_unlock(&s->suspend_lock);
    return n;
}

/* Never blocks an event thread: with nothing to send, the stream suspends until woken. */
static ssize_t tail_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    tail_stream *t = cls;
    server *s = t->s;
    sv_reentered(s, &t->suspended);
    if (t->sent >= t->pending.len) {
        lv_buf_reset(&t->pending);
        t->sent = 0;
        int n = lv_tail_read(s->tail, &t->next, &t->filter, &t->pending, 0);
        if (n < 0)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (t->pending.len == 0 && sv_since(&t->last_write) * 1000 >= TAIL_KEEPALIVE_MS)
            lv_buf_puts(&t->pending, ": keepalive\n\n");
        if (t->pending.len == 0) {
            pthread_mutex_lock(&s->suspend_lock);
            /* an event published since the read above would be missed: look once more */
            if (lv_tail_next(s->tail) > t->next) {
                pthread_mutex_unlock(&s->suspend_lock);
                return 0;
            }
            if (!sv_suspend(s, t->c, &t->suspended, true)) {
                pthread_mutex_unlock(&s->suspend_lock);
                return MHD_CONTENT_READER_END_OF_STREAM; /* stopping */
            }
            sv_live *l = s->live;
            *lv_vec_push(l, 16) = t;
            pthread_mutex_unlock(&s->suspend_lock);
            return 0;
        }
    }
    size_t n = t->pending.len - t->sent;
    if (n > max)
        n = max;
    memcpy(buf, t->pending.data + t->sent, n);
    t->sent += n;
    clock_gettime(CLOCK_MONOTONIC, &t->last_write);
    return (ssize_t)n;
}

static void tail_free(void *cls)
{
    tail_stream *t = cls;
    server *s = t->s;
    /* a stream closed while suspended (its client went away) is no longer waiting */
    pthread_mutex_lock(&s->suspend_lock);
    sv_live *l = s->live;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i] == t) {
            l->items[i] = l->items[--l->n];
            break;
        }
    if (t->suspended) {
        t->suspended = false;
        s->suspended--;
    }
    pthread_mutex_unlock(&s->suspend_lock);
    lv_tail_unsubscribe(s->tail);
    lv_buf_free(&t->pending);
    free(t->event);
    free(t);
}

enum MHD_Result sv_tail(server *s, struct MHD_Connection *c, request *r)
{
    if (!sv_authorized(c, s->cfg->api_token))
        return sv_refuse(s, c, r, "this server needs an API token: ?token=... or Authorization: Bearer ...");
    const char *event = lv_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "event");
    const char *course = lv_mhd.MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "course");
    const char *last = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    uint64_t course_id = 0;
    if (course && *course) {
        lv_error err;
        if (lv_id_parse(course, strlen(course), &course_id, &err) != LV_OK)
            return sv_reply_error(c, r, 400, "course: the id %s", err.msg);
    }
    tail_stream *t = lv_xcalloc(1, sizeof *t);
    t->s = s;
    t->c = c;
    lv_buf_init(&t->pending);
    clock_gettime(CLOCK_MONOTONIC, &t->last_write);
    if (event && *event)
        t->filter.event = t->event = lv_xstrdup(event);
    t->filter.course = course_id;
    t->next = lv_tail_next(s->tail);
    if (last) {
        char *end;
        unsigned long long id = strtoull(last, &end, 10);
        if (*last && !*end && id + 1 < t->next)
            t->next = id + 1;
    }
    /* a first comment so clients see the stream open at once */
    lv_buf_puts(&t->pending, ": levee live tail\nretry: 2000\n\n");
    lv_tail_subscribe(s->tail);
    struct MHD_Response *resp = lv_mhd.MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, tail_read, t, tail_free);
    if (!resp) {
        tail_free(t);
        return MHD_NO;
    }
    lv_mhd.MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    sv_common_headers(resp);
    return sv_queue(c, r, 200, resp);
}
