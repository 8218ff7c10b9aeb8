/* test_journal.c: the server's journal: records come back in order and intact, waits return once
 * durable (with and without the flusher thread), a torn end is cut off at reopening, segments roll
 * over and are released, and the applier moves everything into a store exactly once. */
#include "testing.h"

#include "levee/applier.h"
#include "levee/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static int setup(void **state)
{
    (void)state;
    make_temp(dir, sizeof dir, "journal", true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static char *path_in(const char *name)
{
    static char p[320];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static size_t read_all(lv_journal *j, uint64_t from, char out[][32], size_t max)
{
    lv_journal_reader *r;
    lv_error err;
    assert_int_equal(lv_journal_reader_open(j, from, &r, &err), LV_OK);
    lv_journal_record rec;
    size_t n = 0;
    lv_status st;
    while ((st = lv_journal_read(r, &rec, &err)) == LV_OK) {
        assert_true(n < max);
        snprintf(out[n++], 32, "%.*s", (int)rec.len, rec.payload);
    }
    assert_int_equal(st, LV_ENOTFOUND);
    lv_journal_reader_close(r);
    return n;
}

static void test_append_wait_read(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("j"), 0, &j, &err), LV_OK);
    uint64_t t1 = lv_journal_append(j, LV_JOURNAL_DOCUMENT, "one", 3);
    uint64_t t2 = lv_journal_append(j, LV_JOURNAL_DOCUMENT, "two", 3);
    assert_true(t2 > t1);
    char got[8][32];
    assert_int_equal(read_all(j, 0, got, 8), 0); /* nothing durable yet */
    assert_int_equal(lv_journal_wait(j, t2, &err), LV_OK);
    assert_true(lv_journal_durable(j) == t2);
    assert_int_equal(read_all(j, 0, got, 8), 2);
    assert_string_equal(got[0], "one");
    assert_string_equal(got[1], "two");
    assert_int_equal(read_all(j, t1, got, 8), 1);
    assert_string_equal(got[0], "two");
    lv_journal_close(j);
    /* reopened: the same records, appending continues after them */
    assert_int_equal(lv_journal_open(path_in("j"), 0, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == t2);
    uint64_t t3 = lv_journal_append(j, LV_JOURNAL_DOCUMENT, "three", 5);
    assert_int_equal(lv_journal_wait(j, t3, &err), LV_OK);
    assert_int_equal(read_all(j, 0, got, 8), 3);
    assert_string_equal(got[2], "three");
    lv_journal_close(j);
}

static void test_torn_end_is_cut(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("t"), 0, &j, &err), LV_OK);
    uint64_t t = lv_journal_append(j, LV_JOURNAL_DOCUMENT, "kept", 4);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    lv_journal_close(j);
    /* a crash in the middle of writing the next record: half a header and some bytes */
    int fd = open(path_in("t/0000000000000000.log"), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "LVJ1\x40\x00\x00\x00garbage", 15), 15);
    close(fd);
    assert_int_equal(lv_journal_open(path_in("t"), 0, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == t);
    char got[4][32];
    assert_int_equal(read_all(j, 0, got, 4), 1);
    assert_string_equal(got[0], "kept");
    struct stat sb;
    stat(path_in("t/0000000000000000.log"), &sb);
    assert_int_equal(sb.st_size, (off_t)t);
    lv_journal_close(j);
}

static int durable_calls;
static uint64_t last_durable, committed_records;

static void listener(void *ctx, const lv_journal_commit *commit)
{
    (void)ctx;
    __atomic_add_fetch(&durable_calls, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&committed_records, commit->records, __ATOMIC_SEQ_CST);
    __atomic_store_n(&last_durable, commit->durable, __ATOMIC_SEQ_CST);
}

typedef struct writer_arg {
    lv_journal *j;
    int id;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    for (int i = 0; i < 200; i++) {
        char rec[32];
        int n = snprintf(rec, sizeof rec, "w%d-%d", a->id, i);
        uint64_t t = lv_journal_append(a->j, LV_JOURNAL_DOCUMENT, rec, (size_t)n);
        lv_error err;
        if (lv_journal_wait(a->j, t, &err) != LV_OK)
            abort();
    }
    return NULL;
}

static void test_flusher_thread_and_concurrent_writers(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("f"), 0, &j, &err), LV_OK);
    assert_int_equal(lv_journal_start_flusher(j, listener, NULL, &err), LV_OK);
    pthread_t threads[8];
    writer_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (writer_arg){ j, i };
        pthread_create(&threads[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    uint64_t durable = lv_journal_durable(j);
    char (*got)[32] = malloc(2000 * sizeof *got);
    assert_int_equal(read_all(j, 0, got, 2000), 1600);
    /* each writer's records in its own order */
    int next[8] = { 0 };
    for (int i = 0; i < 1600; i++) {
        int w, k;
        assert_int_equal(sscanf(got[i], "w%d-%d", &w, &k), 2);
        assert_int_equal(k, next[w]++);
    }
    free(got);
    lv_journal_close(j);
    assert_true(durable_calls > 0);
    assert_true(durable_calls < 1600); /* syncs were shared */
    assert_true(last_durable == durable);
    assert_true(committed_records == 1600); /* each record in exactly one group commit */
}

static void test_segments_roll_and_release(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("s"), 1000, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == 1000); /* an empty journal continues from the store's mark */
    char *big = malloc(1 << 20);
    memset(big, 'x', 1 << 20);
    uint64_t t = 0;
    for (int i = 0; i < 70; i++) {
        t = lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, 1 << 20);
        assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    }
    free(big);
    DIR *d = opendir(path_in("s"));
    int files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += strstr(e->d_name, ".log") != NULL;
    closedir(d);
    assert_int_equal(files, 2);
    /* records across the boundary read back in order */
    lv_journal_reader *r;
    assert_int_equal(lv_journal_reader_open(j, 1000, &r, &err), LV_OK);
    lv_journal_record rec;
    int n = 0;
    while (lv_journal_read(r, &rec, &err) == LV_OK) {
        assert_int_equal(rec.len, 1 << 20);
        n++;
    }
    assert_int_equal(n, 70);
    lv_journal_reader_close(r);
    assert_int_equal(lv_journal_release(j, t, &err), LV_OK);
    d = opendir(path_in("s"));
    files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += strstr(e->d_name, ".log") != NULL;
    closedir(d);
    assert_int_equal(files, 1); /* the segment being written stays */
    assert_int_equal(lv_journal_backlog(j, 1000), t - 1000);
    lv_journal_close(j);
}

static void test_applier_stores_everything_once(void **state)
{
    (void)state;
    lv_journal *j;
    lv_store *store;
    lv_error err;
    assert_int_equal(lv_store_open(path_in("a.db"), NULL, &store, &err), LV_OK);
    assert_int_equal(lv_journal_open(path_in("a.journal"), 0, &j, &err), LV_OK);
    lv_buf rec;
    lv_buf_init(&rec);
    uint64_t t = 0;
    for (int i = 0; i < 50; i++) {
        char doc[256];
        int n = snprintf(doc, sizeof doc,
                         "{\"metadata\":{\"event_name\":\"conversation_created\",\"event_time\":\"2024-01-01T00:00:%02dZ\","
                         "\"root_account_id\":\"21070000000000001\"},\"body\":{\"conversation_id\":\"%d\"}}", i, i + 1);
        lv_buf_reset(&rec);
        lv_journal_doc_encode(&rec, "test", (uint32_t)i, doc, (size_t)n);
        t = lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec.data, rec.len);
    }
    lv_buf_reset(&rec);
    lv_journal_doc_encode(&rec, "test", 99, "{oops", 5);
    t = lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec.data, rec.len);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    lv_applier *a;
    assert_int_equal(lv_applier_start(store, j, NULL, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK); /* stopping applies everything durable */
    uint64_t mark;
    assert_int_equal(lv_store_get_mark(store, LV_JOURNAL_MARK, &mark, &err), LV_OK);
    assert_true(mark == t);
    /* a second applier from the mark has nothing to do; replaying from 0 stores nothing twice */
    assert_int_equal(lv_store_begin(store, &err), LV_OK);
    assert_int_equal(lv_store_set_mark(store, LV_JOURNAL_MARK, 0, &err), LV_OK);
    assert_int_equal(lv_store_commit(store, &err), LV_OK);
    assert_int_equal(lv_applier_start(store, j, NULL, NULL, &a, &err), LV_OK);
    assert_int_equal(lv_applier_stop(a, &err), LV_OK);
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    assert_int_equal(lv_store_stats(store, w, &err), LV_OK);
    lv_jw_free(w);
    assert_non_null(strstr(out.data, "\"events\":50,\"duplicates\":51,\"dead_letters\":1"));
    lv_buf_free(&out);
    lv_buf_free(&rec);
    lv_journal_close(j);
    lv_store_close(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_wait_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_end_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher_thread_and_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_applier_stores_everything_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
