/* test_journal.c: the server's journal: records come back in order and intact, waits return once
 * durable (with and without the flusher thread), a torn end is cut off at reopening, segments roll
 * over and are released; one owner at a time (the lock, across processes, and a stale lock file);
 * damage in the middle is skipped, kept aside and reported once; a failing write (simulated through
 * lv_journal_set_io, or a real full tmpfs when running as root) is refused, cut back and recovered
 * by itself; and memory stays bounded while nothing can be written. */
#include "testing.h"

#include "levee/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char mounted[320]; /* a tmpfs the current test mounted, for teardown */

static int setup(void **state)
{
    (void)state;
    test_dir_make("journal");
    mounted[0] = '\0';
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (mounted[0] && umount2(mounted, MNT_DETACH) != 0)
        fprintf(stderr, "cannot unmount %s: %s\n", mounted, strerror(errno));
    mounted[0] = '\0';
    return remove_tree(test_dir());
}

static uint64_t append_text(lv_journal *j, const char *text)
{
    uint64_t t = 0;
    lv_error err;
    lv_status st = lv_journal_append(j, LV_JOURNAL_DOCUMENT, text, strlen(text), &t, &err);
    if (st != LV_OK)
        fail_msg("cannot append: %s", err.msg);
    return t;
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

static off_t file_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

/* Polls cond(j) every 10 ms for up to 60 s (a generous deadline, not a measurement). */
static bool eventually(bool (*cond)(lv_journal *), lv_journal *j)
{
    for (int i = 0; i < 6000; i++) {
        if (cond(j))
            return true;
        usleep(10000);
    }
    return cond(j);
}

static bool healthy(lv_journal *j)
{
    return !lv_journal_broken(j, NULL);
}

static void test_append_wait_read(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("j"), 0, &j, &err), LV_OK);
    uint64_t t1 = append_text(j, "one");
    uint64_t t2 = append_text(j, "two");
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
    uint64_t t3 = append_text(j, "three");
    assert_int_equal(lv_journal_wait(j, t3, &err), LV_OK);
    assert_int_equal(read_all(j, 0, got, 8), 3);
    assert_string_equal(got[2], "three");
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_false(h.failing);
    assert_true(h.failures == 0 && h.damaged_regions == 0);
    lv_journal_close(j);
}

/* A journal that ends below the store's applied position (cut by hand, an older copy, another store's)
 * is refused: appending there would write below what the applier has passed. Opened at or below its end,
 * it is used as it is. */
static void test_journal_behind_the_store_is_refused(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("behind"), 0, &j, &err), LV_OK);
    uint64_t t1 = append_text(j, "one");
    assert_int_equal(lv_journal_wait(j, t1, &err), LV_OK);
    lv_journal_close(j);
    assert_int_equal(lv_journal_open(path_in("behind"), t1 + 100, &j, &err), LV_EDAMAGED);
    char want[LV_ERROR_MAX];
    snprintf(want, sizeof want, "the journal %s ends at offset %llu, but the store has applied it up to offset %llu: "
             "it lost records the store holds, or it is another store's journal; move it aside (levee starts a new "
             "one at the store's position) and run levee check", path_in("behind"), (unsigned long long)t1,
             (unsigned long long)(t1 + 100));
    assert_string_equal(err.msg, want);
    assert_int_equal(lv_journal_open(path_in("behind"), t1, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == t1);
    lv_journal_close(j);
}

static void test_torn_end_is_cut(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("t"), 0, &j, &err), LV_OK);
    uint64_t t = append_text(j, "kept");
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    lv_journal_close(j);
    /* a crash in the middle of writing the next record: half a header and some bytes */
    int fd = open(path_in("t/0000000000000000.log"), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "LVJ1\x40\x00\x00\x00garbage", 15), 15);
    assert_int_equal(close(fd), 0);
    assert_int_equal(lv_journal_open(path_in("t"), 0, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == t);
    char got[4][32];
    assert_int_equal(read_all(j, 0, got, 4), 1);
    assert_string_equal(got[0], "kept");
    assert_int_equal(file_size(path_in("t/0000000000000000.log")), (off_t)t);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 0); /* a torn end is not damage */
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
        uint64_t t;
        lv_error err;
        if (lv_journal_append(a->j, LV_JOURNAL_DOCUMENT, rec, (size_t)n, &t, &err) != LV_OK ||
            lv_journal_wait(a->j, t, &err) != LV_OK)
            abort();
    }
    return NULL;
}

static void test_flusher_thread_and_concurrent_writers(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    durable_calls = 0;
    last_durable = committed_records = 0;
    assert_int_equal(lv_journal_open(path_in("f"), 0, &j, &err), LV_OK);
    assert_int_equal(lv_journal_start_flusher(j, listener, NULL, &err), LV_OK);
    pthread_t threads[8];
    writer_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (writer_arg){ j, i };
        assert_int_equal(pthread_create(&threads[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    uint64_t durable = lv_journal_durable(j);
    char (*got)[32] = malloc(2000 * sizeof *got);
    assert_non_null(got);
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

static size_t count_logs(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d));)
        files += strstr(e->d_name, ".log") != NULL;
    assert_int_equal(closedir(d), 0);
    return files;
}

static void test_segments_roll_and_release(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("s"), 1000, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == 1000); /* an empty journal continues from the store's mark */
    char *big = malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'x', 1 << 20);
    uint64_t t = 0;
    for (int i = 0; i < 70; i++) {
        assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, 1 << 20, &t, &err), LV_OK);
        assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    }
    free(big);
    assert_int_equal(count_logs(path_in("s")), 2);
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
    assert_int_equal(count_logs(path_in("s")), 1); /* the segment being written stays */
    assert_int_equal(lv_journal_backlog(j, 1000), t - 1000);
    lv_journal_close(j);
    /* the released segment is deleted (aside, by the unlinker) by the time the journal is closed */
    DIR *d = opendir(path_in("s"));
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        assert_null(strstr(e->d_name, ".old"));
    closedir(d);
    /* one left by a crash between renaming and deleting is deleted at the next open */
    FILE *f = fopen(path_in("s/0000000000000000.old"), "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(lv_journal_open(path_in("s"), 1000, &j, &err), LV_OK);
    assert_int_equal(access(path_in("s/0000000000000000.old"), F_OK), -1);
    assert_int_equal(count_logs(path_in("s")), 1);
    lv_journal_close(j);
}

/* ---- the lock ---- */

static void test_second_open_is_refused(void **state)
{
    (void)state;
    lv_journal *j, *j2 = NULL;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("levee.db.journal"), 0, &j, &err), LV_OK);
    /* OFD locks belong to the open file description: a second open in this process conflicts too */
    assert_int_equal(lv_journal_open(path_in("levee.db.journal"), 0, &j2, &err), LV_EBUSY);
    assert_null(j2);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld on host ", (long)getpid());
    assert_non_null(strstr(err.msg, pid));
    assert_non_null(strstr(err.msg, "levee.db is in use by another levee serve"));
    assert_non_null(strstr(err.msg, "stop it first, or give this one another --db"));
    assert_non_null(strstr(err.msg, ", since 20"));
    lv_journal_close(j);
    /* once closed, it opens */
    assert_int_equal(lv_journal_open(path_in("levee.db.journal"), 0, &j2, &err), LV_OK);
    lv_journal_close(j2);
}

static void test_stale_lock_file_does_not_block(void **state)
{
    (void)state;
    assert_int_equal(mkdir(path_in("st"), 0750), 0);
    FILE *f = fopen(path_in("st/lock"), "w");
    assert_non_null(f);
    assert_true(fputs("pid=999999 host=ghost since=2020-01-01T00:00:00Z\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("st"), 0, &j, &err), LV_OK);
    /* the lock file now names this process */
    char *text = read_file(path_in("st/lock"), NULL);
    assert_non_null(text);
    char pid[32];
    snprintf(pid, sizeof pid, "pid=%ld host=", (long)getpid());
    assert_non_null(strstr(text, pid));
    free(text);
    lv_journal_close(j);
}

/* Forks a child that opens the journal at path and then waits: for a byte on *go (returns its pid
 * with *go the write end), or forever when go is NULL (to be killed). */
static pid_t child_holding(const char *path, int *go)
{
    int ready[2], wait_for[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(wait_for), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        lv_journal *j;
        lv_error err;
        char ok = lv_journal_open(path, 0, &j, &err) == LV_OK ? '1' : '0';
        if (write(ready[1], &ok, 1) != 1)
            _exit(2);
        if (ok != '1')
            _exit(1);
        char c;
        if (go) {
            if (read(wait_for[0], &c, 1) != 1)
                _exit(3);
            lv_journal_close(j);
            _exit(0);
        }
        for (;;)
            pause();
    }
    assert_int_equal(close(ready[1]), 0);
    assert_int_equal(close(wait_for[0]), 0);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    assert_int_equal(ok, '1');
    assert_int_equal(close(ready[0]), 0);
    if (go)
        *go = wait_for[1];
    else
        assert_int_equal(close(wait_for[1]), 0);
    return pid;
}

static void test_lock_across_processes(void **state)
{
    (void)state;
    char path[320];
    snprintf(path, sizeof path, "%s", path_in("p"));
    lv_journal *j;
    lv_error err;
    char pid_text[32];
    int status;
    /* another process holds it: refused, naming that process */
    int go;
    pid_t pid = child_holding(path, &go);
    assert_int_equal(lv_journal_open(path, 0, &j, &err), LV_EBUSY);
    snprintf(pid_text, sizeof pid_text, "pid %ld on host", (long)pid);
    assert_non_null(strstr(err.msg, pid_text));
    assert_int_equal(write(go, "x", 1), 1);
    assert_int_equal(close(go), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(lv_journal_open(path, 0, &j, &err), LV_OK); /* it closed: free again */
    lv_journal_close(j);
    /* a process killed while holding it leaves its lock file behind, which does not block */
    pid = child_holding(path, NULL);
    assert_int_equal(lv_journal_open(path, 0, &j, &err), LV_EBUSY);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    char *text = read_file(path_in("p/lock"), NULL);
    snprintf(pid_text, sizeof pid_text, "pid=%ld ", (long)pid);
    assert_non_null(strstr(text, pid_text)); /* the dead owner's file is still there */
    free(text);
    assert_int_equal(lv_journal_open(path, 0, &j, &err), LV_OK);
    lv_journal_close(j);
}

/* ---- damage ---- */

static void corrupt(const char *path, uint64_t at, const char *bytes, size_t n)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, bytes, n, (off_t)at), (ssize_t)n);
    assert_int_equal(close(fd), 0);
}

static char *read_range(const char *path, uint64_t at, size_t n)
{
    char *b = malloc(n + 1);
    assert_non_null(b);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, n, (off_t)at), (ssize_t)n);
    assert_int_equal(close(fd), 0);
    return b;
}

static void test_damage_in_the_middle_is_skipped_and_kept(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    char seg[320];
    snprintf(seg, sizeof seg, "%s", path_in("d/0000000000000000.log"));
    assert_int_equal(lv_journal_open(path_in("d"), 0, &j, &err), LV_OK);
    uint64_t off[8] = { 0 };
    for (int i = 0; i < 7; i++) {
        char text[64];
        snprintf(text, sizeof text, "record %d%.*s", i, i * 3, "..................."); /* sizes differ */
        off[i + 1] = append_text(j, text);
    }
    assert_int_equal(lv_journal_wait(j, off[7], &err), LV_OK);
    lv_journal_close(j);
    /* record 2: a payload byte changed (CRC mismatch); record 4: its magic overwritten */
    corrupt(seg, off[2] + 16 + 3, "#", 1);
    corrupt(seg, off[4], "\xde\xad\xbe\xef", 4);
    char *bad2 = read_range(seg, off[2], off[3] - off[2]);
    char *bad4 = read_range(seg, off[4], off[5] - off[4]);
    /* and a torn end after them, as a crash would leave */
    int fd = open(seg, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "LVJ1\x40\x00\x00\x00torn", 12), 12);
    assert_int_equal(close(fd), 0);

    assert_int_equal(lv_journal_open(path_in("d"), 0, &j, &err), LV_OK);
    assert_true(lv_journal_durable(j) == off[7]); /* the torn end was cut, not the damage before it */
    assert_int_equal(file_size(seg), (off_t)off[7]);
    char got[8][32];
    assert_int_equal(read_all(j, 0, got, 8), 5);
    assert_string_equal(got[0], "record 0");
    assert_string_equal(got[1], "record 1...");
    assert_string_equal(got[2], "record 3.........");
    assert_string_equal(got[3], "record 5...............");
    assert_string_equal(got[4], "record 6..................");
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 2);
    assert_true(h.damaged_bytes == (off[3] - off[2]) + (off[5] - off[4]));
    assert_false(h.failing);
    /* the damaged bytes, kept aside */
    char name[64];
    size_t len;
    snprintf(name, sizeof name, "d/damaged/%016llx.bin", (unsigned long long)off[2]);
    char *kept = read_file(path_in(name), &len);
    assert_non_null(kept);
    assert_int_equal(len, off[3] - off[2]);
    assert_memory_equal(kept, bad2, len);
    free(kept);
    snprintf(name, sizeof name, "d/damaged/%016llx.bin", (unsigned long long)off[4]);
    kept = read_file(path_in(name), &len);
    assert_non_null(kept);
    assert_int_equal(len, off[5] - off[4]);
    assert_memory_equal(kept, bad4, len);
    free(kept);
    /* each report once */
    char msg[LV_ERROR_MAX], expect[128];
    assert_true(lv_journal_take_damage(j, msg, sizeof msg));
    snprintf(expect, sizeof expect, "was damaged at offsets %llu-%llu (%llu bytes)", (unsigned long long)off[2],
             (unsigned long long)off[3], (unsigned long long)(off[3] - off[2]));
    assert_non_null(strstr(msg, expect));
    snprintf(expect, sizeof expect, "damaged/%016llx.bin", (unsigned long long)off[2]);
    assert_non_null(strstr(msg, expect));
    assert_true(lv_journal_take_damage(j, msg, sizeof msg));
    snprintf(expect, sizeof expect, "damaged at offsets %llu-%llu", (unsigned long long)off[4],
             (unsigned long long)off[5]);
    assert_non_null(strstr(msg, expect));
    assert_false(lv_journal_take_damage(j, msg, sizeof msg));
    /* reading again (the applier retrying) finds the same records and reports nothing new */
    assert_int_equal(read_all(j, 0, got, 8), 5);
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 2);
    assert_false(lv_journal_take_damage(j, msg, sizeof msg));
    /* appending continues after the last intact record */
    uint64_t t = append_text(j, "after");
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    assert_int_equal(read_all(j, off[5], got, 8), 3);
    assert_string_equal(got[2], "after");
    lv_journal_close(j);
    free(bad2);
    free(bad4);
}

static void test_damage_at_the_end_of_a_segment(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("e"), 0, &j, &err), LV_OK);
    size_t size = 1 << 20;
    char *big = malloc(size);
    assert_non_null(big);
    uint64_t off[66] = { 0 };
    for (int i = 0; i < 65; i++) {
        memset(big, 'a' + i % 26, size);
        snprintf(big, 16, "%06d", i);
        assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, size, &off[i + 1], &err), LV_OK);
        assert_int_equal(lv_journal_wait(j, off[i + 1], &err), LV_OK);
    }
    free(big);
    assert_int_equal(count_logs(path_in("e")), 2);
    /* the last record of the first segment: nothing intact follows it there, so the reader goes on
     * at the start of the next segment */
    assert_true(off[64] >= LV_JOURNAL_SEGMENT_BYTES && off[63] < LV_JOURNAL_SEGMENT_BYTES);
    corrupt(path_in("e/0000000000000000.log"), off[63], "XXXX", 4);
    lv_journal_reader *r;
    assert_int_equal(lv_journal_reader_open(j, 0, &r, &err), LV_OK);
    lv_journal_record rec;
    int n = 0, expect = 0;
    lv_status st;
    while ((st = lv_journal_read(r, &rec, &err)) == LV_OK) {
        int k;
        assert_int_equal(sscanf(rec.payload, "%06d", &k), 1);
        assert_int_equal(k, expect);
        expect = k == 62 ? 64 : k + 1;
        n++;
    }
    assert_int_equal(st, LV_ENOTFOUND);
    assert_int_equal(n, 64);
    lv_journal_reader_close(r);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 1 && h.damaged_bytes == off[64] - off[63]);
    char name[64];
    snprintf(name, sizeof name, "e/damaged/%016llx.bin", (unsigned long long)off[63]);
    assert_int_equal(file_size(path_in(name)), (off_t)(off[64] - off[63]));
    /* the damaged segment is released like any other once applied; its copy aside stays */
    assert_int_equal(lv_journal_release(j, off[65], &err), LV_OK);
    assert_int_equal(count_logs(path_in("e")), 1);
    assert_int_equal(file_size(path_in(name)), (off_t)(off[64] - off[63]));
    lv_journal_close(j);
}

/* ---- faults while writing ---- */

/* 0: works; 1: writes half of what it is given, then fails with ENOSPC; 2: syncing fails with EIO */
static int fault;
static int failure_notices; /* listener calls that made nothing durable */

static ssize_t flaky_write(int fd, const void *buf, size_t len, off_t offset)
{
    static int calls;
    if (__atomic_load_n(&fault, __ATOMIC_SEQ_CST) == 1) {
        if (__atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST) % 2 == 1 && len > 1)
            return pwrite(fd, buf, len / 2, offset);
        errno = ENOSPC;
        return -1;
    }
    return pwrite(fd, buf, len, offset);
}

static int flaky_sync(int fd)
{
    if (__atomic_load_n(&fault, __ATOMIC_SEQ_CST) == 2) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static void count_failures(void *ctx, const lv_journal_commit *commit)
{
    (void)ctx;
    if (commit->records == 0)
        __atomic_add_fetch(&failure_notices, 1, __ATOMIC_SEQ_CST);
}

static void test_failed_writes_recover_by_themselves(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    char seg[320];
    snprintf(seg, sizeof seg, "%s", path_in("w/0000000000000000.log"));
    __atomic_store_n(&fault, 0, __ATOMIC_SEQ_CST);
    failure_notices = 0;
    assert_int_equal(lv_journal_open(path_in("w"), 0, &j, &err), LV_OK);
    lv_journal_set_io(j, &(lv_journal_io){ flaky_write, flaky_sync });
    assert_int_equal(lv_journal_start_flusher(j, count_failures, NULL, &err), LV_OK);
    uint64_t t1 = append_text(j, "before");
    assert_int_equal(lv_journal_wait(j, t1, &err), LV_OK);

    /* the disk fills in the middle of a write */
    __atomic_store_n(&fault, 1, __ATOMIC_SEQ_CST);
    uint64_t t2 = append_text(j, "during a full disk");
    assert_int_equal(lv_journal_wait(j, t2, &err), LV_EBUSY); /* not acknowledged, and no hang */
    assert_non_null(strstr(err.msg, "No space left on device"));
    assert_true(lv_journal_broken(j, &err));
    assert_int_equal(err.status, LV_EBUSY);
    assert_true(lv_journal_durable(j) == t1);
    assert_int_equal(file_size(seg), (off_t)t1); /* cut back: no half record on disk */
    uint64_t t = 0;
    assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, "refused", 7, &t, &err), LV_EBUSY);
    assert_true(t == 0);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.failing && h.failures >= 1 && h.recoveries == 0);
    assert_non_null(strstr(h.reason, "No space left on device"));
    /* waiting requests are told: the flusher calls the listener just after it marks the failure */
    for (int i = 0; i < 2000 && __atomic_load_n(&failure_notices, __ATOMIC_SEQ_CST) < 1; i++)
        nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
    assert_true(__atomic_load_n(&failure_notices, __ATOMIC_SEQ_CST) >= 1);

    /* space comes back: the flusher retries alone and writes what it kept */
    __atomic_store_n(&fault, 0, __ATOMIC_SEQ_CST);
    assert_true(eventually(healthy, j));
    assert_int_equal(lv_journal_wait(j, t2, &err), LV_OK);
    lv_journal_health_get(j, &h);
    assert_true(!h.failing && h.recoveries == 1 && h.failures >= 1);
    uint64_t t3 = append_text(j, "after");
    assert_int_equal(lv_journal_wait(j, t3, &err), LV_OK);

    /* a sync that fails is handled the same way */
    __atomic_store_n(&fault, 2, __ATOMIC_SEQ_CST);
    uint64_t t4 = append_text(j, "during an I/O error");
    assert_int_equal(lv_journal_wait(j, t4, &err), LV_EBUSY);
    assert_non_null(strstr(err.msg, "cannot sync the journal"));
    assert_int_equal(file_size(seg), (off_t)t3);
    __atomic_store_n(&fault, 0, __ATOMIC_SEQ_CST);
    assert_true(eventually(healthy, j));
    assert_int_equal(lv_journal_wait(j, t4, &err), LV_OK);
    lv_journal_health_get(j, &h);
    assert_true(h.recoveries == 2);

    char got[8][32];
    assert_int_equal(read_all(j, 0, got, 8), 4);
    assert_string_equal(got[0], "before");
    assert_string_equal(got[1], "during a full disk");
    assert_string_equal(got[2], "after");
    assert_string_equal(got[3], "during an I/O error");
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 0);
    lv_journal_close(j);
}

static void test_wait_without_flusher_retries(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    __atomic_store_n(&fault, 0, __ATOMIC_SEQ_CST);
    assert_int_equal(lv_journal_open(path_in("n"), 0, &j, &err), LV_OK);
    lv_journal_set_io(j, &(lv_journal_io){ flaky_write, flaky_sync });
    __atomic_store_n(&fault, 2, __ATOMIC_SEQ_CST);
    uint64_t t = append_text(j, "one");
    assert_int_equal(lv_journal_wait(j, t, &err), LV_EBUSY); /* one attempt, then the reason */
    assert_true(lv_journal_broken(j, NULL));
    __atomic_store_n(&fault, 0, __ATOMIC_SEQ_CST);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK); /* the next wait tries again */
    assert_false(lv_journal_broken(j, NULL));
    lv_journal_set_io(j, NULL);
    char got[2][32];
    assert_int_equal(read_all(j, 0, got, 2), 1);
    assert_string_equal(got[0], "one");
    lv_journal_close(j);
}

static void test_memory_is_bounded(void **state)
{
    (void)state;
    lv_journal *j;
    lv_error err;
    assert_int_equal(lv_journal_open(path_in("b"), 0, &j, &err), LV_OK);
    /* no flusher and no waiter: nothing is written, so appends pile up until the bound */
    size_t size = 1 << 20;
    char *big = calloc(1, LV_JOURNAL_PENDING_MAX);
    assert_non_null(big);
    uint64_t t = 0, last = 0;
    int accepted = 0;
    lv_status st;
    for (int i = 0; i < 1000 && (st = lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, size, &t, &err)) == LV_OK; i++) {
        accepted++;
        last = t;
    }
    assert_int_equal(st, LV_EBUSY);
    assert_non_null(strstr(err.msg, "waiting to be written"));
    assert_int_equal(accepted, (int)(LV_JOURNAL_PENDING_MAX / (size + 16)));
    assert_true(lv_journal_durable(j) == 0);
    /* once written, appending works again */
    assert_int_equal(lv_journal_wait(j, last, &err), LV_OK);
    assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, size, &t, &err), LV_OK);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    /* a record larger than the bound could never be written: refused as too big */
    assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, big, LV_JOURNAL_PENDING_MAX, &t, &err), LV_ETOOBIG);
    free(big);
    lv_journal_close(j);
}

/* A real full disk: the journal on a 1 MB tmpfs (needs root; skipped otherwise). */
static void test_full_tmpfs_recovers(void **state)
{
    (void)state;
    char mnt[320];
    snprintf(mnt, sizeof mnt, "%s", path_in("mnt"));
    if (geteuid() != 0) {
        fprintf(stderr, "      (skipped: mounting a tmpfs needs root; the simulated fault test covers the logic)\n");
        skip();
    }
    assert_int_equal(mkdir(mnt, 0750), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        fprintf(stderr, "      (skipped: cannot mount a tmpfs on %s: %s)\n", mnt, strerror(errno));
        skip();
    }
    snprintf(mounted, sizeof mounted, "%s", mnt);
    /* most of the space taken by a file that can be deleted later */
    char filler[400], jdir[400];
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    snprintf(jdir, sizeof jdir, "%s/j", mnt);
    FILE *f = fopen(filler, "w");
    assert_non_null(f);
    static char zeros[768 << 10];
    assert_int_equal(fwrite(zeros, 1, sizeof zeros, f), sizeof zeros);
    assert_int_equal(fclose(f), 0);

    lv_journal *j;
    lv_error err;
    failure_notices = 0;
    assert_int_equal(lv_journal_open(jdir, 0, &j, &err), LV_OK);
    assert_int_equal(lv_journal_start_flusher(j, count_failures, NULL, &err), LV_OK);
    static char rec[32 << 10];
    int acknowledged = 0;
    uint64_t t = 0;
    lv_status st = LV_OK;
    for (int i = 0; i < 100 && st == LV_OK; i++) {
        memset(rec, 'a' + i % 26, sizeof rec);
        snprintf(rec, 16, "%06d", i);
        assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec, sizeof rec, &t, &err), LV_OK);
        if ((st = lv_journal_wait(j, t, &err)) == LV_OK)
            acknowledged++;
    }
    assert_int_equal(st, LV_EBUSY);
    assert_non_null(strstr(err.msg, "No space left on device"));
    assert_true(acknowledged > 0);
    uint64_t refused_but_kept = t;
    /* while full, nothing more is taken in: memory does not grow */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec, sizeof rec, &t, &err), LV_EBUSY);
    lv_journal_health h;
    lv_journal_health_get(j, &h);
    assert_true(h.failing && h.failures >= 1);
    assert_true(lv_journal_durable(j) < refused_but_kept);

    /* space is freed: it recovers alone, and later appends are durable */
    assert_int_equal(unlink(filler), 0);
    assert_true(eventually(healthy, j));
    assert_int_equal(lv_journal_wait(j, refused_but_kept, &err), LV_OK);
    memset(rec, 'z', sizeof rec);
    snprintf(rec, 16, "%06d", 999);
    assert_int_equal(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec, sizeof rec, &t, &err), LV_OK);
    assert_int_equal(lv_journal_wait(j, t, &err), LV_OK);
    lv_journal_health_get(j, &h);
    assert_true(!h.failing && h.recoveries >= 1);

    /* everything acknowledged, the refused record written later, and the new one, intact */
    lv_journal_reader *r;
    assert_int_equal(lv_journal_reader_open(j, 0, &r, &err), LV_OK);
    lv_journal_record got;
    int n = 0;
    while (lv_journal_read(r, &got, &err) == LV_OK) {
        int k;
        assert_int_equal(got.len, sizeof rec);
        assert_int_equal(sscanf(got.payload, "%06d", &k), 1);
        assert_int_equal(k, n <= acknowledged ? n : 999);
        n++;
    }
    lv_journal_reader_close(r);
    assert_int_equal(n, acknowledged + 2);
    lv_journal_health_get(j, &h);
    assert_true(h.damaged_regions == 0);
    lv_journal_close(j);
    assert_int_equal(umount2(mnt, 0), 0);
    mounted[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_wait_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_behind_the_store_is_refused, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_torn_end_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flusher_thread_and_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_lock_file_does_not_block, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_across_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_in_the_middle_is_skipped_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_at_the_end_of_a_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_writes_recover_by_themselves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_without_flusher_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_tmpfs_recovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
