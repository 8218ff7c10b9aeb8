/* test_applier.c: moving the journal into a store: everything once (replaying stores nothing twice),
 * waiting out another process holding SQLite's write lock (retrying, then catching up alone),
 * stopping in bounded time while the store stays locked (the journal keeps the rest for the next
 * start), damaged journal records skipped while the intact ones are stored, a mark that cannot
 * be read refusing to start, and journal segments synced and released on the sync thread while
 * storing goes on. */
#include "testing.h"

#include "levee/applier.h"
#include "levee/engines.h"
#include "levee/journal.h"

#include <dirent.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

/* Journals a valid canvas event (conversation i + 1); returns the ticket. */
static uint64_t journal_event(lv_journal *j, int i)
{
    lv_buf rec;
    numbered_record(&rec, i);
    uint64_t t = 0;
    lv_error err;
    lv_status st = lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec.data, rec.len, &t, &err);
    lv_buf_free(&rec);
    if (st != LV_OK)
        fail_msg("cannot journal: %s", err.msg);
    return t;
}

static lv_counts totals;

static void add_counts(void *ctx, const lv_batch *b, const lv_counts *c, uint64_t offset)
{
    (void)ctx;
    (void)b;
    (void)offset;
    totals.stored += c->stored;
    totals.duplicates += c->duplicates;
    totals.rejected += c->rejected;
}

static uint64_t mark_of(lv_store *s)
{
    uint64_t mark;
    lv_error err;
    assert_int_equal(lv_store_get_mark(s, LV_JOURNAL_MARK, &mark, &err), LV_OK);
    return mark;
}

static void test_stores_everything_once(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("a.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("a.db.journal"), 0, &j, &err), LV_OK);
    for (int i = 0; i < 50; i++)
        journal_event(j, i);
    lv_buf rec;
    lv_buf_init(&rec);
    lv_journal_doc_encode(&rec, "test", 99, "{oops", 5);
    uint64_t t;
    assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec.data, rec.len, &t, &err), LV_OK);
    lv_buf_free(&rec);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    memset(&totals, 0, sizeof totals);
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, NULL, j, add_counts, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK); /* stopping applies everything durable */
    assert_true(mark_of(store) == t);
    assert_true(totals.stored == 50 && totals.rejected == 1);
    /* replaying from 0 stores nothing twice */
    assert_int_equal(lv_store_begin(store, &err), LV_OK);
    assert_int_equal(lv_store_set_mark(store, LV_JOURNAL_MARK, 0, &err), LV_OK);
    assert_int_equal(lv_store_commit(store, &err), LV_OK);
    memset(&totals, 0, sizeof totals);
    assert_int_equal(lv_applier_start(store, NULL, j, add_counts, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    assert_true(totals.stored == 0 && totals.duplicates >= 50);
    assert_true(mark_of(store) == t);
    assert_int_equal(stored_documents(store, false), 50);
    assert_int_equal(stored_documents(store, true), 1);
    lv_journal_close(j);
    lv_store_close(store);
}

/* Another process's connection holding SQLite's write lock (BEGIN IMMEDIATE). */
static sqlite3 *hold_write_lock(const char *path)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_busy_timeout(db, 30000), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void release_write_lock(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* Polls for up to 90 s (SQLite itself waits out a lock for its busy timeout, 10 s, before the
 * applier sees it): a generous deadline, not a measurement. */
static bool until_retrying(lv_applier *a, lv_applier_health *h)
{
    for (int i = 0; i < 9000; i++) {
        lv_applier_health_get(a, h);
        if (h->retrying || h->failed)
            return h->retrying;
        usleep(10000);
    }
    return false;
}

static bool until_applied(lv_applier *a, uint64_t offset)
{
    for (int i = 0; i < 9000 && lv_applier_offset(a) < offset; i++)
        usleep(10000);
    return lv_applier_offset(a) >= offset;
}

static void test_waits_out_a_locked_store(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("l.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("l.db.journal"), 0, &j, &err), LV_OK);
    assert_int_equal(lv_journal_start_flusher(j, NULL, NULL, &err), LV_OK);
    sqlite3 *other = hold_write_lock(path_in("l.db"));
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, NULL, j, NULL, NULL, &a, &err), LV_OK);
    uint64_t t = 0;
    for (int i = 0; i < 200; i++)
        t = journal_event(j, i);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK); /* acknowledged while the store is locked */
    lv_applier_health h;
    assert_true(until_retrying(a, &h));
    assert_false(h.failed);
    assert_true(h.retries >= 1);
    assert_non_null(strstr(h.reason, "locked"));
    assert_false(lv_applier_failed(a, NULL));
    assert_true(lv_applier_offset(a) == 0);
    usleep(300000); /* still locked for a while: it keeps retrying, it does not give up */
    lv_applier_health_get(a, &h);
    assert_false(h.failed);
    release_write_lock(other);
    /* the lock is gone: it catches up alone */
    assert_true(until_applied(a, t));
    lv_applier_health_get(a, &h);
    assert_true(!h.failed && !h.retrying && h.recoveries >= 1);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    assert_true(mark_of(store) == t);
    assert_int_equal(stored_documents(store, false), 200);
    lv_journal_close(j);
    lv_store_close(store);
}

static void test_stop_gives_up_in_bounded_time(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("s.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("s.db.journal"), 0, &j, &err), LV_OK);
    uint64_t t = 0;
    for (int i = 0; i < 20; i++)
        t = journal_event(j, i);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    sqlite3 *other = hold_write_lock(path_in("s.db"));
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, NULL, j, NULL, NULL, &a, &err), LV_OK);
    lv_applier_health h;
    assert_true(until_retrying(a, &h));
    /* stopping while the store stays locked: it tries for a while, then says why it could not */
    assert_int_equal(lv_applier_stop(a, &err), LV_EBUSY);
    assert_non_null(strstr(err.msg, "locked"));
    release_write_lock(other);
    assert_true(mark_of(store) == 0);
    /* the journal kept everything: the next start applies it */
    assert_int_equal(lv_applier_start(store, NULL, j, NULL, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    assert_true(mark_of(store) == t);
    assert_int_equal(stored_documents(store, false), 20);
    lv_journal_close(j);
    lv_store_close(store);
}

static void test_damaged_journal_records_are_skipped(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("d.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("d.db.journal"), 0, &j, &err), LV_OK);
    uint64_t off[11] = { 0 };
    for (int i = 0; i < 10; i++)
        off[i + 1] = journal_event(j, i);
    assert_int_equal(lv_journal_wait(j, off[10], &err), LV_OK);
    /* record 4's payload changed on disk */
    int fd = open(path_in("d.db.journal/0000000000000000.log"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "#", 1, (off_t)(off[4] + 40)), 1);
    assert_int_equal(close(fd), 0);
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, NULL, j, NULL, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    assert_true(mark_of(store) == off[10]);
    assert_int_equal(stored_documents(store, false), 9);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 1 && h.damaged_bytes == off[5] - off[4]);
    char msg[LV_ERROR_MAX];
    assert_true(lv_journal_take_damage(j, msg, sizeof msg));
    assert_non_null(strstr(msg, "the intact records around it are applied"));
    assert_false(lv_journal_take_damage(j, msg, sizeof msg));
    lv_journal_close(j);
    lv_store_close(store);
}

static void test_unreadable_mark_refuses_to_start(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("m.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("m.db.journal"), 0, &j, &err), LV_OK);
    /* the marks table is gone (someone else's doing): reading the mark fails, never reads as 0 */
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(path_in("m.db"), &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE marks", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    lv_applier *a = NULL;
    assert_int_not_equal(lv_applier_start(store, NULL, j, NULL, NULL, &a, &err), LV_OK);
    assert_null(a);
    assert_true(err.msg[0] != '\0');
    lv_journal_close(j);
    lv_store_close(store);
}

static size_t count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".log") != NULL;
    assert_int_equal(closedir(d), 0);
    return n;
}

static void test_sync_thread_releases_segments_while_storing(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store, *syncer;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("s.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_store_open(path_in("s.db"), NULL, &syncer, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("s.db.journal"), 0, &j, &err), LV_OK);
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, syncer, j, NULL, NULL, &a, &err), LV_OK);
    /* more than a 64 MB segment of documents (not JSON: kept as dead letters), then one event */
    size_t big = 900000;
    char *junk = malloc(big);
    assert_non_null(junk);
    memset(junk, 'x', big);
    lv_buf rec;
    lv_buf_init(&rec);
    uint64_t t = 0;
    for (int i = 0; i < 80; i++) {
        lv_buf_reset(&rec);
        snprintf(junk, 16, "%015d", i); /* each one a dead letter of its own */
        lv_journal_doc_encode(&rec, "test", (uint32_t)i, junk, big);
        assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec.data, rec.len, &t, &err), LV_OK);
        if (i % 10 == 9)
            assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    }
    free(junk);
    lv_buf_free(&rec);
    t = journal_event(j, 0);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    /* the full segment goes while the applier runs, synced and released on the sync thread */
    for (int i = 0; i < 600 && count_segments(path_in("s.db.journal")) > 1; i++) {
        struct timespec ms = { 0, 50 * 1000000L };
        nanosleep(&ms, NULL);
    }
    assert_int_equal(count_segments(path_in("s.db.journal")), 1);
    assert_true(atomic_load(&lv_applier_step(a, LV_APPLY_SYNC_ASIDE)->count) >= 1);
    assert_true(atomic_load(&lv_applier_step(a, LV_APPLY_SYNC)->count) == 0);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    assert_true(mark_of(store) == t);
    assert_int_equal(stored_documents(store, true), 80);
    assert_int_equal(stored_documents(store, false), 1);
    lv_journal_close(j);
    lv_store_close(syncer);
    lv_store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stores_everything_once, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_waits_out_a_locked_store, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stop_gives_up_in_bounded_time, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_journal_records_are_skipped, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_mark_refuses_to_start, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_sync_thread_releases_segments_while_storing, temp_dir_setup,
                                        temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
