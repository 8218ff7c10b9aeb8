/* levee/tail.h (stage: serve): newly committed events for live streams (GET /api/tail). Every event
 * the server acknowledges is published into a ring of the most recent ones, numbered, whether or not
 * anyone is listening, so a stream that reconnects with Last-Event-ID gets what it missed. The ring
 * keeps each event's document; its canonical record is made when a stream first reads it (so
 * publishing costs a copy, not a record). Each stream reads on from the number it saw last, filtered
 * by event name and course; a stream that falls more than the ring behind is told how many events it
 * missed and continues from the oldest kept. */
#ifndef LEVEE_TAIL_H
#define LEVEE_TAIL_H

#include "levee/common.h"

typedef struct lv_tail lv_tail;

lv_tail *lv_tail_new(size_t capacity);
void lv_tail_free(lv_tail *t);

/* Publishes one event: its name, its course (0: none), and the document holding it with the event's
 * place among the document's events (lv_decode's order). */
void lv_tail_publish(lv_tail *t, const char *event, size_t event_len, uint64_t course, const char *doc,
                     size_t doc_len, unsigned index);
/* Number the next published event will get. */
uint64_t lv_tail_next(lv_tail *t);
void lv_tail_subscribe(lv_tail *t);
void lv_tail_unsubscribe(lv_tail *t);
size_t lv_tail_subscribers(lv_tail *t);

typedef struct lv_tail_filter {
    const char *event; /* NULL: all */
    uint64_t course;   /* 0: all; a local id matches the course with that local id on any shard */
} lv_tail_filter;

/* Appends Server-Sent Events for events numbered *next onwards that pass the filter, waiting up to
 * timeout_ms for one to arrive; advances *next. Returns the number of events appended, or -1 once the
 * tail is closed. Missed events are announced with an SSE comment. */
int lv_tail_read(lv_tail *t, uint64_t *next, const lv_tail_filter *f, lv_buf *out, int timeout_ms);
/* Wakes every reader and makes further reads return -1 (shutting down). */
void lv_tail_close(lv_tail *t);

#endif
