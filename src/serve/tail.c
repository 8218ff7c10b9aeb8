/* tail.c: the ring of recent events behind the live tail, with a condition variable readers wait on.
 * An item keeps its event's document until a reader needs the record; the record is then made once
 * (decoding the document again) and kept for the other readers. */
#include "levee/tail.h"

#include "levee/event.h"
#include "levee/id.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct tail_item {
    uint64_t seq;
    char *event;
    uint64_t course;
    char *doc;      /* the document (until the record is made) */
    size_t doc_len;
    unsigned index;
    char *json;     /* the record, once made */
    size_t json_len;
} tail_item;

struct lv_tail {
    pthread_mutex_t lock;
    pthread_cond_t published;
    tail_item *ring;
    size_t cap;
    uint64_t next; /* sequence number of the next event */
    size_t subscribers;
    bool closed;
    lv_arena arena; /* for making records */
};

lv_tail *lv_tail_new(size_t capacity)
{
    lv_tail *t = lv_xcalloc(1, sizeof *t);
    t->cap = capacity ? capacity : 4096;
    t->ring = lv_xcalloc(t->cap, sizeof *t->ring);
    t->next = 1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->published, NULL);
    lv_arena_init(&t->arena, 1 << 16);
    return t;
}

void lv_tail_free(lv_tail *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        free(t->ring[i].event);
        free(t->ring[i].doc);
        free(t->ring[i].json);
    }
    free(t->ring);
    lv_arena_free(&t->arena);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->published);
    free(t);
}

void lv_tail_publish(lv_tail *t, const char *event, size_t event_len, uint64_t course, const char *doc,
                     size_t doc_len, unsigned index)
{
    char *e = lv_xstrndup(event ? event : "", event ? event_len : 0);
    char *d = lv_xstrndup(doc, doc_len);
    pthread_mutex_lock(&t->lock);
    tail_item *it = &t->ring[t->next % t->cap];
    char *old_event = it->event, *old_doc = it->doc, *old_json = it->json;
    *it = (tail_item){ .seq = t->next++, .event = e, .course = course, .doc = d, .doc_len = doc_len,
                       .index = index };
    pthread_cond_broadcast(&t->published);
    pthread_mutex_unlock(&t->lock);
    free(old_event);
    free(old_doc);
    free(old_json);
}

/* The item's canonical record, made from its document the first time (with the lock held). */
static void make_record(lv_tail *t, tail_item *it)
{
    if (it->json || !it->doc)
        return;
    lv_doc doc;
    lv_decode(&t->arena, it->doc, it->doc_len, NULL, &doc);
    lv_buf rec;
    lv_buf_init(&rec);
    if (it->index < doc.n_events) {
        lv_jw *w = lv_jw_new(&rec, false);
        lv_record_write(w, &doc.events[it->index]);
        lv_jw_free(w);
    } else {
        lv_buf_puts(&rec, "{}");
    }
    it->json = lv_buf_detach(&rec, &it->json_len);
    free(it->doc);
    it->doc = NULL;
    lv_arena_reset(&t->arena);
}

uint64_t lv_tail_next(lv_tail *t)
{
    pthread_mutex_lock(&t->lock);
    uint64_t n = t->next;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void lv_tail_subscribe(lv_tail *t)
{
    pthread_mutex_lock(&t->lock);
    t->subscribers++;
    pthread_mutex_unlock(&t->lock);
}

void lv_tail_unsubscribe(lv_tail *t)
{
    pthread_mutex_lock(&t->lock);
    t->subscribers--;
    pthread_mutex_unlock(&t->lock);
}

size_t lv_tail_subscribers(lv_tail *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->subscribers;
    pthread_mutex_unlock(&t->lock);
    return n;
}

static void sse_data(lv_buf *out, const char *json, size_t len)
{
    /* a canonical record is one line, so it is one data: field */
    lv_buf_puts(out, "data: ");
    lv_buf_append(out, json, len);
    lv_buf_puts(out, "\n\n");
}

int lv_tail_read(lv_tail *t, uint64_t *next, const lv_tail_filter *f, lv_buf *out, int timeout_ms)
{
    struct timespec until = lv_deadline_after(timeout_ms);
    pthread_mutex_lock(&t->lock);
    int found = 0;
    for (;;) {
        if (t->closed) {
            found = -1;
            break;
        }
        uint64_t oldest = t->next > t->cap ? t->next - t->cap : 1;
        if (*next < oldest) {
            lv_buf_printf(out, ": missed %llu events (the stream fell behind)\n\n",
                          (unsigned long long)(oldest - *next));
            *next = oldest;
        }
        for (; *next < t->next; (*next)++) {
            tail_item *it = &t->ring[*next % t->cap];
            if (f->event && strcmp(f->event, it->event) != 0)
                continue;
            /* a local course id (the store may not know the shard yet) matches that course on any shard */
            if (f->course && f->course != it->course &&
                !(lv_id_is_local(f->course) && lv_id_local(it->course) == f->course))
                continue;
            make_record(t, it);
            lv_buf_printf(out, "id: %llu\nevent: %s\n", (unsigned long long)it->seq, it->event);
            sse_data(out, it->json, it->json_len);
            found++;
        }
        if (found || pthread_cond_timedwait(&t->published, &t->lock, &until) != 0)
            break;
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

void lv_tail_close(lv_tail *t)
{
    pthread_mutex_lock(&t->lock);
    t->closed = true;
    pthread_cond_broadcast(&t->published);
    pthread_mutex_unlock(&t->lock);
}
