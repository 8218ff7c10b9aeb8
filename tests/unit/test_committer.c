/* test_committer.c: group commit into a shared store (levee/committer.h), on a SQLite store whose
 * engine is wrapped to fail on cue: what arrives while a commit runs goes in the next transaction, all
 * of it; a commit that loses to another writer is run again at once and stores everything; one that
 * keeps losing settles its documents as not stored without breaking the committer; a lost connection
 * settles its round as not stored, refuses appends with the reason while it probes, and recovers once
 * a transaction commits again; a full disk is refused until the writes that failed succeed (a
 * smaller write would commit sooner); a round larger than a transaction may take (PostgreSQL's lock
 * table) is committed in smaller parts, and a request whose documents span a part that failed is not
 * reported stored; stopping settles every ticket. Nothing reported stored is missing from
 * the store, and nothing reported not stored is in it. */
#include "testing.h"

#include "levee/committer.h"
#include "levee/engine.h"
#include "levee/engines.h"
#include "levee/journal.h"

#include <pthread.h>
#include <unistd.h>

/* ---- an engine that fails on cue ---- */

static const lv_engine *real;
static lv_engine faulty;
static pthread_mutex_t cue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cue_cond = PTHREAD_COND_INITIALIZER;
static int busy_commits;     /* the next commits that lose to another writer */
static bool down;            /* every begin and commit fails as a lost connection */
static bool gate_closed;     /* commits wait for the gate */
static int waiting_at_gate;  /* commits waiting */
static int commits_tried;
static bool disk_full;       /* the events' tables cannot grow (a row of a small table still fits) */
static size_t txn_events;    /* events written by the open transaction */
static size_t most_txn_events; /* the most one transaction that committed wrote */
static size_t lock_cap;      /* when set: a transaction writing more events fails as PostgreSQL's does
                              * when its lock table is full (LV_EBUSY) */
static size_t full_at;       /* when set: a transaction is full (lv_store_txn_full) at this many events */

static bool full_now(void)
{
    pthread_mutex_lock(&cue_lock);
    bool full = disk_full;
    pthread_mutex_unlock(&cue_lock);
    return full;
}

/* Counts n more events in the transaction; fails as a full lock table past lock_cap. */
static lv_status take_locks(size_t n, lv_error *err)
{
    pthread_mutex_lock(&cue_lock);
    txn_events += n;
    bool over = lock_cap && txn_events > lock_cap;
    pthread_mutex_unlock(&cue_lock);
    if (over)
        return lv_fail(err, LV_EBUSY, "the test's store is out of shared memory: its lock table is full");
    return LV_OK;
}

static bool in_put_events; /* (the committer's thread only) SQLite's put_events stores each row by put_event */

static lv_status faulty_put_event(lv_store *s, const lv_event_row *row, int64_t *rowid, lv_error *err)
{
    if (full_now())
        return lv_fail(err, LV_EIO, "the disk of the test's store is full");
    lv_status st = in_put_events ? LV_OK : take_locks(1, err);
    return st != LV_OK ? st : real->put_event(s, row, rowid, err);
}

static lv_status faulty_put_events(lv_store *s, const lv_event_row *rows, size_t n, int64_t *rowids, lv_error *err)
{
    if (full_now())
        return lv_fail(err, LV_EIO, "the disk of the test's store is full");
    lv_status st = take_locks(n, err);
    if (st == LV_OK) {
        in_put_events = true;
        st = real->put_events(s, rows, n, rowids, err);
        in_put_events = false;
    }
    return st;
}

static bool faulty_txn_full(lv_store *s)
{
    (void)s;
    pthread_mutex_lock(&cue_lock);
    bool full = full_at && txn_events >= full_at;
    pthread_mutex_unlock(&cue_lock);
    return full;
}

static lv_status faulty_begin(lv_store *s, lv_error *err)
{
    pthread_mutex_lock(&cue_lock);
    bool lost = down;
    pthread_mutex_unlock(&cue_lock);
    if (lost)
        return lv_fail(err, LV_EIO, "the connection to the test's store was lost");
    pthread_mutex_lock(&cue_lock);
    txn_events = 0;
    pthread_mutex_unlock(&cue_lock);
    return real->begin(s, err);
}

static lv_status faulty_commit(lv_store *s, lv_error *err)
{
    pthread_mutex_lock(&cue_lock);
    commits_tried++;
    waiting_at_gate++;
    pthread_cond_broadcast(&cue_cond);
    while (gate_closed)
        pthread_cond_wait(&cue_cond, &cue_lock);
    waiting_at_gate--;
    bool busy = busy_commits > 0, lost = down;
    if (busy)
        busy_commits--;
    pthread_mutex_unlock(&cue_lock);
    if (lost)
        return lv_fail(err, LV_EIO, "the connection to the test's store was lost");
    if (busy)
        return lv_fail(err, LV_EBUSY, "another writer of the test's store holds what this one needs");
    lv_status st = real->commit(s, err);
    pthread_mutex_lock(&cue_lock);
    if (st == LV_OK && txn_events > most_txn_events)
        most_txn_events = txn_events;
    pthread_mutex_unlock(&cue_lock);
    return st;
}

static void cue_full(bool full)
{
    pthread_mutex_lock(&cue_lock);
    disk_full = full;
    pthread_mutex_unlock(&cue_lock);
}

static void cue(int busy, bool lost)
{
    pthread_mutex_lock(&cue_lock);
    busy_commits = busy;
    down = lost;
    disk_full = false;
    lock_cap = full_at = 0;
    pthread_mutex_unlock(&cue_lock);
}

static void close_gate(void)
{
    pthread_mutex_lock(&cue_lock);
    gate_closed = true;
    pthread_mutex_unlock(&cue_lock);
}

static void open_gate(void)
{
    pthread_mutex_lock(&cue_lock);
    gate_closed = false;
    pthread_cond_broadcast(&cue_cond);
    pthread_mutex_unlock(&cue_lock);
}

/* Waits (bounded: 60 s, a deadline and not a measurement) until a commit is at the closed gate. */
static void wait_at_gate(void)
{
    pthread_mutex_lock(&cue_lock);
    for (int i = 0; i < 6000 && !waiting_at_gate; i++) {
        pthread_mutex_unlock(&cue_lock);
        usleep(10000);
        pthread_mutex_lock(&cue_lock);
    }
    bool there = waiting_at_gate > 0;
    pthread_mutex_unlock(&cue_lock);
    assert_true(there);
}

static lv_store *open_store(const char *name)
{
    lv_store *s;
    lv_error err;
    assert_int_equal(lv_store_open(path_in(name), NULL, &s, &err), LV_OK);
    real = s->engine;
    faulty = *real;
    faulty.begin = faulty_begin;
    faulty.commit = faulty_commit;
    faulty.put_event = faulty_put_event;
    faulty.put_events = faulty_put_events;
    faulty.txn_full = faulty_txn_full;
    s->engine = &faulty;
    cue(0, false);
    pthread_mutex_lock(&cue_lock);
    commits_tried = 0;
    most_txn_events = 0;
    pthread_mutex_unlock(&cue_lock);
    return s;
}

static void close_store(lv_store *s)
{
    s->engine = real;
    lv_store_close(s);
}

/* ---- documents ---- */

/* Appends conversation i + 1's canvas event; returns the ticket. */
static uint64_t append(lv_committer *c, int i)
{
    lv_buf rec;
    numbered_record(&rec, i);
    uint64_t t = 0;
    lv_error err;
    lv_status st = lv_committer_append(c, LV_JOURNAL_DOCUMENT, rec.data, rec.len, &t, &err);
    lv_buf_free(&rec);
    if (st != LV_OK)
        fail_msg("cannot append: %s", err.msg);
    return t;
}

/* Rounds settled, as the settled callback saw them. */
static pthread_mutex_t rounds_lock = PTHREAD_MUTEX_INITIALIZER;
static int rounds_stored, rounds_failed;
static uint64_t records_stored;

typedef struct tally {
    int stored, failed;
    uint64_t records;
} tally;

/* A copy of the rounds seen so far (assertions are not made under the lock: a failing one jumps out). */
static tally rounds(void)
{
    pthread_mutex_lock(&rounds_lock);
    tally t = { rounds_stored, rounds_failed, records_stored };
    pthread_mutex_unlock(&rounds_lock);
    return t;
}

static void on_settled(void *ctx, const lv_commit_round *r)
{
    (void)ctx;
    pthread_mutex_lock(&rounds_lock);
    if (r->stored) {
        rounds_stored++;
        records_stored += r->records;
    } else {
        rounds_failed++;
    }
    pthread_mutex_unlock(&rounds_lock);
}

static lv_committer *start(lv_store *s)
{
    pthread_mutex_lock(&rounds_lock);
    rounds_stored = rounds_failed = 0;
    records_stored = 0;
    pthread_mutex_unlock(&rounds_lock);
    lv_committer *c;
    lv_error err;
    assert_int_equal(lv_committer_start(s, NULL, on_settled, NULL, &c, &err), LV_OK);
    return c;
}

/* ---- the tests ---- */

static void test_what_arrives_during_a_commit_is_one_transaction(void **state)
{
    (void)state;
    lv_store *s = open_store("g.db");
    lv_committer *c = start(s);
    lv_error err;
    close_gate();
    uint64_t first = append(c, 0);
    wait_at_gate(); /* the first document's transaction is committing */
    uint64_t last = 0;
    for (int i = 1; i < 100; i++)
        last = append(c, i);
    open_gate();
    assert_true(lv_committer_wait(c, first, &err));
    assert_true(lv_committer_wait(c, last, &err));
    /* two rounds: the first document alone, then the 99 that arrived while it committed */
    lv_committer_health h;
    lv_committer_health_get(c, &h);
    assert_int_equal(h.rounds, 2);
    assert_int_equal(h.failures, 0);
    assert_false(h.broken);
    for (uint64_t t = first; t <= last; t++)
        assert_true(lv_committer_stored(c, t, &err));
    lv_committer_stop(c); /* (the settled callback runs after a round's waiters wake: counted once stopped) */
    tally r = rounds();
    assert_int_equal(r.stored, 2);
    assert_int_equal(r.records, 100);
    assert_int_equal(stored_documents(s, false), 100);
    close_store(s);
}

static void test_a_conflict_is_run_again_at_once(void **state)
{
    (void)state;
    lv_store *s = open_store("c.db");
    lv_committer *c = start(s);
    lv_error err;
    cue(3, false); /* three commits lose to another writer, then one wins */
    uint64_t t = append(c, 0);
    assert_true(lv_committer_wait(c, t, &err));
    lv_committer_health h;
    lv_committer_health_get(c, &h);
    assert_int_equal(h.retried_conflicts, 3);
    assert_int_equal(h.failures, 0);
    assert_false(h.broken);
    lv_committer_stop(c);
    assert_int_equal(commits_tried, 4);
    assert_int_equal(stored_documents(s, false), 1); /* the three rolled back left nothing */
    close_store(s);
}

static void test_a_conflict_that_keeps_losing_is_not_stored_and_does_not_break(void **state)
{
    (void)state;
    lv_store *s = open_store("k.db");
    lv_committer *c = start(s);
    lv_error err;
    cue(1000, false);
    uint64_t t = append(c, 0);
    assert_false(lv_committer_wait(c, t, &err));
    assert_non_null(strstr(err.msg, "another writer of the test's store holds what this one needs"));
    assert_false(lv_committer_broken(c, &err)); /* a busy store is not a broken one: appends go on */
    cue(0, false);
    uint64_t next = append(c, 1);
    assert_true(lv_committer_wait(c, next, &err));
    assert_false(lv_committer_stored(c, t, &err));
    lv_committer_health h;
    lv_committer_health_get(c, &h);
    assert_int_equal(h.failures, 1);
    assert_int_equal(h.recoveries, 0);
    lv_committer_stop(c);
    tally r = rounds();
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.stored, 1);
    assert_int_equal(stored_documents(s, false), 1); /* the second document only */
    close_store(s);
}

static void test_a_lost_connection_refuses_appends_until_a_commit_works(void **state)
{
    (void)state;
    lv_store *s = open_store("l.db");
    lv_committer *c = start(s);
    lv_error err;
    cue(0, true);
    uint64_t t = append(c, 0);
    assert_false(lv_committer_wait(c, t, &err));
    assert_non_null(strstr(err.msg, "the connection to the test's store was lost"));
    assert_true(lv_committer_broken(c, &err));
    assert_non_null(strstr(err.msg, "the connection to the test's store was lost"));
    /* while broken, an append is refused with the reason: its request answers 503 */
    lv_buf rec;
    lv_buf_init(&rec);
    lv_journal_doc_encode(&rec, "test", 1, "{}", 2);
    uint64_t refused = 0;
    assert_int_equal(lv_committer_append(c, LV_JOURNAL_DOCUMENT, rec.data, rec.len, &refused, &err), LV_EBUSY);
    assert_non_null(strstr(err.msg, "the connection to the test's store was lost"));
    lv_buf_free(&rec);
    /* the store comes back: the probe (100 ms, doubling) commits, and appends are taken again */
    cue(0, false);
    bool back = false;
    for (int i = 0; i < 6000 && !(back = !lv_committer_broken(c, &err)); i++) /* 60 s at most */
        usleep(10000);
    assert_true(back);
    uint64_t next = append(c, 2);
    assert_true(lv_committer_wait(c, next, &err));
    lv_committer_health h;
    lv_committer_health_get(c, &h);
    assert_int_equal(h.failures, 1);
    assert_int_equal(h.recoveries, 1);
    assert_false(h.broken);
    assert_false(lv_committer_stored(c, t, &err));
    lv_committer_stop(c);
    assert_int_equal(stored_documents(s, false), 1);
    close_store(s);
}

/* Until it is broken (or 60 s: a deadline, not a measurement), then for as long again as the probes'
 * first three waits (700 ms): whether it is still broken. */
static bool stays_broken(lv_committer *c)
{
    lv_error err;
    for (int i = 0; i < 6000 && !lv_committer_broken(c, &err); i++)
        usleep(10000);
    usleep(700000);
    return lv_committer_broken(c, &err);
}

static void test_a_full_disk_stays_refused_until_the_failed_writes_succeed(void **state)
{
    (void)state;
    lv_store *s = open_store("f.db");
    lv_committer *c = start(s);
    lv_error err;
    cue_full(true);
    uint64_t t = append(c, 0);
    assert_false(lv_committer_wait(c, t, &err));
    assert_non_null(strstr(err.msg, "the disk of the test's store is full"));
    /* the probe writes the round that failed again (and rolls it back): a transaction writing less, a
     * mark, would commit and end the refusal while events still cannot be stored */
    assert_true(stays_broken(c));
    assert_true(lv_committer_broken(c, &err));
    assert_non_null(strstr(err.msg, "the disk of the test's store is full"));
    cue_full(false);
    bool back = false;
    for (int i = 0; i < 6000 && !(back = !lv_committer_broken(c, &err)); i++)
        usleep(10000);
    assert_true(back);
    uint64_t next = append(c, 1);
    assert_true(lv_committer_wait(c, next, &err));
    lv_committer_stop(c);
    assert_int_equal(stored_documents(s, false), 1);
    uint64_t probed = 0;
    assert_int_equal(lv_store_get_mark(s, LV_COMMITTER_PROBE_MARK, &probed, &err), LV_OK);
    assert_true(probed > 0);
    close_store(s);
}

/* Documents base .. base + n - 1 in two rounds: the first alone, then the rest, which arrive while it
 * commits; waits until all are settled and returns the last ticket, *first the first. */
static uint64_t one_round_of(lv_committer *c, int base, int n, uint64_t *first)
{
    close_gate();
    *first = append(c, base);
    wait_at_gate();
    uint64_t last = *first;
    for (int i = 1; i < n; i++)
        last = append(c, base + i);
    open_gate();
    lv_error err;
    (void)lv_committer_wait(c, last, &err);
    return last;
}

/* The most events a committed transaction wrote so far. */
static size_t most_events(void)
{
    pthread_mutex_lock(&cue_lock);
    size_t n = most_txn_events;
    pthread_mutex_unlock(&cue_lock);
    return n;
}

static void test_a_request_is_stored_only_if_every_part_of_it_is(void **state)
{
    (void)state;
    lv_store *s = open_store("r.db");
    lv_committer *c = start(s);
    lv_error err;
    /* a request's six documents: the first taken alone by a round whose commit keeps losing (all 8
     * tries), the other five by the next round, which commits */
    close_gate();
    uint64_t first = append(c, 0);
    wait_at_gate();
    cue(8, false);
    uint64_t last = 0;
    for (int i = 1; i < 6; i++)
        last = append(c, i);
    open_gate();
    assert_true(lv_committer_wait(c, last, &err));
    assert_true(lv_committer_stored(c, last, &err)); /* the last ticket alone would say stored */
    assert_false(lv_committer_all_stored(c, first, last, &err));
    assert_non_null(strstr(err.msg, "another writer of the test's store holds what this one needs"));
    assert_true(lv_committer_all_stored(c, first + 1, last, &err));
    lv_committer_stop(c);
    assert_int_equal(stored_documents(s, false), 5);
    close_store(s);
}

static void test_a_round_larger_than_a_transaction_takes_is_committed_in_parts(void **state)
{
    (void)state;
    lv_store *s = open_store("p.db");
    lv_committer *c = start(s);
    lv_error err;
    /* no limit but the committer's own: 2,100 documents in one round go in parts of at most 1,024 */
    uint64_t first, last = one_round_of(c, 0, 2100, &first);
    assert_true(lv_committer_all_stored(c, first, last, &err));
    assert_true(most_events() <= 1024);
    assert_int_equal(stored_documents(s, false), 2100);
    /* a store whose transactions fail past 40 events (a small lock table others filled) and are full
     * at 10 (what lv_store_txn_full says on PostgreSQL): a round of 300 is still stored, whole, with
     * a few conflicts and no failure */
    pthread_mutex_lock(&cue_lock);
    lock_cap = 40;
    full_at = 10;
    most_txn_events = 0;
    pthread_mutex_unlock(&cue_lock);
    lv_committer_health before;
    lv_committer_health_get(c, &before);
    uint64_t first2, last2 = one_round_of(c, 5000, 300, &first2);
    assert_true(lv_committer_all_stored(c, first2, last2, &err));
    lv_committer_health h;
    lv_committer_health_get(c, &h);
    assert_int_equal(h.failures, 0);
    assert_true(h.retried_conflicts > before.retried_conflicts);
    assert_true(h.rounds > before.rounds + 2);
    lv_committer_stop(c);
    assert_true(most_events() <= 40);
    assert_int_equal(stored_documents(s, false), 2400);
    close_store(s);
}

typedef struct stopper {
    lv_committer *c;
} stopper;

static void *stop_it(void *arg)
{
    lv_committer_stop(((stopper *)arg)->c);
    return NULL;
}

static void test_stopping_settles_every_ticket(void **state)
{
    (void)state;
    lv_store *s = open_store("s.db");
    lv_committer *c = start(s);
    lv_error err;
    close_gate();
    uint64_t first = append(c, 0);
    wait_at_gate();
    for (int i = 1; i < 10; i++)
        append(c, i);
    /* stop while the first round commits and nine documents wait: the stop commits them, once */
    stopper st = { c };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_it, &st), 0);
    usleep(50000);
    open_gate();
    assert_int_equal(pthread_join(th, NULL), 0);
    (void)first;
    (void)err;
    tally r = rounds();
    assert_int_equal(r.records, 10);
    assert_int_equal(r.failed, 0);
    assert_int_equal(stored_documents(s, false), 10);
    close_store(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_what_arrives_during_a_commit_is_one_transaction, temp_dir_setup,
                                        temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_conflict_is_run_again_at_once, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_conflict_that_keeps_losing_is_not_stored_and_does_not_break,
                                        temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_lost_connection_refuses_appends_until_a_commit_works, temp_dir_setup,
                                        temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_request_is_stored_only_if_every_part_of_it_is, temp_dir_setup,
                                        temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_round_larger_than_a_transaction_takes_is_committed_in_parts,
                                        temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_a_full_disk_stays_refused_until_the_failed_writes_succeed, temp_dir_setup,
                                        temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_stopping_settles_every_ticket, temp_dir_setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
