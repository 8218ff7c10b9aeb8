/* retain.c: `levee serve --retain DURATION`: a thread that prunes the events older than the limit
 * (levee/erase.h) at the start and then every retain_every_ms, on its own connection to the store,
 * in small transactions, so that the applier and the readers go on meanwhile; then it gives the
 * freed pages back to the file system a few at a time. */
#include "serve.h"

#include "levee/engines.h"
#include "levee/erase.h"
#include "levee/log.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

/* Pages given back per step (8 MB of 8 KB pages): each step is a short transaction of its own. */
#define RECLAIM_STEP 1024
/* Events per transaction: the applier waits at most for one of these. */
#define PRUNE_CHUNK 500

static void text_of(char *out, size_t n, int64_t v)
{
    snprintf(out, n, "%lld", (long long)v);
}

static void prune_once(server *s, lv_store *store)
{
    int64_t limit = lv_now_ms() - s->cfg->retain_ms;
    lv_erase_options opt = { .chunk = PRUNE_CHUNK, .stop = &s->retain_stop };
    lv_erase_result r;
    lv_error err;
    if (lv_store_prune(store, limit, false, &opt, &r, &err) != LV_OK) {
        lv_log(LV_LOG_ERROR, "pruning failed; it is tried again at the next round", "reason", err.msg, NULL);
        return;
    }
    lv_space space = { 0 };
    int64_t reclaimed = 0;
    while (!atomic_load(&s->retain_stop)) {
        if (lv_store_reclaim(store, RECLAIM_STEP, &space, &err) != LV_OK) {
            lv_log(LV_LOG_WARN, "giving pages back to the file system failed", "reason", err.msg, NULL);
            break;
        }
        reclaimed += space.reclaimed;
        if (!space.incremental || space.reclaimed == 0 || space.free_pages == 0)
            break;
    }
    if (r.events == 0 && r.dead_letters == 0 && reclaimed == 0)
        return;
    char events[24], dead[24], freed[24], docs[24];
    text_of(events, sizeof events, r.events);
    text_of(docs, sizeof docs, r.documents);
    text_of(dead, sizeof dead, r.dead_letters);
    text_of(freed, sizeof freed, reclaimed * space.page_size);
    lv_log(LV_LOG_INFO, "pruned the events older than the retention limit", "events", events, "documents", docs,
           "dead_letters", dead, "bytes_reclaimed", freed, NULL);
    if (!space.incremental && space.free_pages > 0)
        lv_log(LV_LOG_WARN, "this store's file cannot give freed pages back while it is served (it was created by an "
               "older levee); stop the server and run levee prune --vacuum once", NULL);
}

static void *retain_main(void *arg)
{
    server *s = arg;
    lv_store *store = NULL;
    lv_error err;
    if (lv_store_open(s->cfg->db, NULL, &store, &err) != LV_OK) {
        lv_log(LV_LOG_ERROR, "retention is off: the store cannot be opened for it", "reason", err.msg, NULL);
        return NULL;
    }
    bool ready = false;
    if (lv_store_erasable(store, &ready, &err) == LV_OK && !ready) {
        lv_log(LV_LOG_ERROR, "retention is off: this store was written by an older levee, which did not record what "
               "each event is about; stop the server and run levee rebuild once", "db", lv_store_location(store), NULL);
        lv_store_close(store);
        return NULL;
    }
    while (!atomic_load(&s->retain_stop)) {
        prune_once(s, store);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (s->cfg->retain_every_ms % 1000) * 1000000;
        until.tv_sec += (time_t)(s->cfg->retain_every_ms / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        pthread_mutex_lock(&s->retain_lock);
        while (!atomic_load(&s->retain_stop) &&
               pthread_cond_timedwait(&s->retain_wake, &s->retain_lock, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&s->retain_lock);
    }
    lv_store_close(store);
    return NULL;
}

lv_status sv_retain_start(server *s, lv_error *err)
{
    atomic_store(&s->retain_stop, false);
    if (pthread_create(&s->retain_thread, NULL, retain_main, s) != 0)
        return lv_fail(err, LV_EIO, "cannot start the retention thread");
    s->retain_started = true;
    return LV_OK;
}

void sv_retain_stop(server *s)
{
    if (!s->retain_started)
        return;
    pthread_mutex_lock(&s->retain_lock);
    atomic_store(&s->retain_stop, true);
    pthread_cond_signal(&s->retain_wake);
    pthread_mutex_unlock(&s->retain_lock);
    pthread_join(s->retain_thread, NULL);
    s->retain_started = false;
}
