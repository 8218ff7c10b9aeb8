/* follow.c: the live tail on PostgreSQL, where several nodes store events into one database: a thread
 * reads, on a connection of its own, every event stored since it last looked, in arrival order, and
 * publishes it to this node's tail, whichever node received it (this node's too, so every node's tail
 * shows the same events in the same order). It polls: every POLL_MS when idle, at once again when a read
 * was full. The engine's events_from reads only below the arrival horizon (no transaction still running
 * can commit a row before it), so walking a cursor never skips a row committed late.
 *
 * Why polling rather than LISTEN/NOTIFY: it works through pgbouncer in transaction mode (LISTEN needs a
 * session of its own), and one indexed read per node every POLL_MS costs the database little (measured in
 * docs/operations.md); an event reaches every tail within POLL_MS of its commit. */
#include "serve.h"

#include "levee/engine.h"
#include "levee/engines.h"

#include <string.h>
#include <time.h>

#define POLL_MS 100
#define FAILING_MS 1000 /* between two tries while the store cannot be read */
#define READ_ROWS 512

typedef struct follow {
    server *s;
    int64_t cursor;
    lv_buf last_doc;   /* the document of the last row published */
    unsigned index;    /* that row's place among its document's events */
    unsigned rows;
} follow;

static lv_status publish(void *ctx, const lv_event_ref *e, lv_error *err)
{
    (void)err;
    follow *f = ctx;
    /* a document holding several events is stored as consecutive rows of one transaction */
    if (e->doc.n == f->last_doc.len && e->doc.n && memcmp(e->doc.p, f->last_doc.data, e->doc.n) == 0) {
        f->index++;
    } else {
        f->index = 0;
        lv_buf_reset(&f->last_doc);
        lv_buf_append(&f->last_doc, e->doc.p ? e->doc.p : "", e->doc.n);
    }
    lv_tail_publish(f->s->tail, e->name.p ? e->name.p : "", e->name.n, e->context_id.set ? (uint64_t)e->context_id.v : 0,
                    e->doc.p ? e->doc.p : "", e->doc.n, f->index);
    f->cursor = e->id + 1;
    f->rows++;
    return LV_OK;
}

static void *follow_main(void *arg)
{
    server *s = arg;
    pthread_setname_np(pthread_self(), "levee-follow");
    follow f = { .s = s };
    lv_buf_init(&f.last_doc);
    lv_error err;
    bool known = false, failing = false;
    while (!atomic_load(&s->follow_stop)) {
        lv_status st = LV_OK;
        if (!known && (st = s->follower->engine->events_end(s->follower, &f.cursor, &err)) == LV_OK)
            known = true;
        f.rows = 0;
        if (st == LV_OK)
            st = s->follower->engine->events_from(s->follower, f.cursor, READ_ROWS, true, publish, &f, &err);
        if (st != LV_OK && !failing)
            lv_log(LV_LOG_WARN, "the live tail cannot read the store; retrying", "reason", err.msg, NULL);
        else if (st == LV_OK && failing)
            lv_log(LV_LOG_INFO, "the live tail reads the store again", NULL);
        failing = st != LV_OK;
        if (f.rows)
            sv_wake_tails(s);
        if (st == LV_OK && f.rows == READ_ROWS)
            continue;
        /* (a tv_nsec of a second or more is refused at once: the loop would spin against a database
         * that is down) */
        long ms = failing ? FAILING_MS : POLL_MS;
        struct timespec pause = { ms / 1000, ms % 1000 * 1000000L };
        nanosleep(&pause, NULL);
    }
    lv_buf_free(&f.last_doc);
    return NULL;
}

lv_status sv_follow_start(server *s, lv_error *err)
{
    lv_store_options ro = { .read_only = true };
    lv_status st = lv_store_open(s->cfg->db, &ro, &s->follower, err);
    if (st != LV_OK)
        return st;
    atomic_store(&s->follow_stop, false);
    if (pthread_create(&s->follow_thread, NULL, follow_main, s) != 0)
        return lv_fail(err, LV_EINTERNAL, "cannot start the live tail's reader");
    s->follow_started = true;
    return LV_OK;
}

void sv_follow_stop(server *s)
{
    if (s->follow_started) {
        atomic_store(&s->follow_stop, true);
        pthread_join(s->follow_thread, NULL);
        s->follow_started = false;
    }
    if (s->follower)
        lv_store_close(s->follower);
    s->follower = NULL;
}
