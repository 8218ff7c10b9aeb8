/* cmd_ops.c: the commands that keep a store sound for years: `levee backup` (a consistent copy of a
 * live store, verified), `levee restore` (a verified backup put in place of a store no server holds),
 * `levee check` (is anything in the store or its journal damaged), `levee rebuild` (all derived
 * state again from the raw archive) and `levee copy` (a whole store moved into another, of any engine). The rules are levee/check.h's;
 * this file handles files, progress on a terminal and what the operator reads. */
#include "cli.h"

#include "levee/check.h"
#include "levee/copy.h"
#include "levee/engines.h"
#include "levee/journal.h"
#include "levee/applier.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_DB "levee.db"

/* --db, else $LEVEE_DB, else ./levee.db */
static const char *db_path(const char *flag)
{
    if (flag)
        return flag;
    const char *env = getenv("LEVEE_DB");
    return env && *env ? env : DEFAULT_DB;
}

static char *with_suffix(const char *path, const char *suffix)
{
    size_t n = strlen(path) + strlen(suffix) + 32;
    char *out = lv_xmalloc(n);
    snprintf(out, n, "%s%s", path, suffix);
    return out;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Whether a and b name the same file (both existing). */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- progress on a terminal ---- */

typedef struct bar {
    bool tty;
    const char *what;
    struct timespec start;
    double last_draw;
    bool drawn;
} bar;

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void bar_start(bar *b, const char *what, bool quiet)
{
    b->tty = !quiet && isatty(2);
    b->what = what;
    b->last_draw = -1;
    b->drawn = false;
    clock_gettime(CLOCK_MONOTONIC, &b->start);
}

static void draw(void *ctx, uint64_t done, uint64_t total)
{
    bar *b = ctx;
    double t = seconds_since(&b->start);
    if (!b->tty || (t - b->last_draw < 0.2 && done != total))
        return;
    b->last_draw = t;
    double frac = total ? (double)done / (double)total : 0;
    if (frac > 1)
        frac = 1;
    int width = 30, filled = (int)(frac * width);
    fprintf(stderr, "\r%s [%.*s%*s] %3.0f%%  %llu of %llu ", b->what, filled, "##############################",
            width - filled, "", frac * 100, (unsigned long long)done, (unsigned long long)total);
    fflush(stderr);
    b->drawn = true;
}

static void bar_end(bar *b)
{
    if (b->drawn) {
        fputc('\n', stderr);
        fflush(stderr);
    }
    b->drawn = false;
}

/* ---- reporting problems ---- */

typedef struct problems {
    const char *command;
    FILE *out;
    unsigned n;
} problems;

static void print_problem(void *ctx, const char *msg)
{
    problems *p = ctx;
    p->n++;
    fprintf(p->out, "%s\n", msg);
}

/* fsyncs the directory holding path, after a file in it was renamed or linked. */
static lv_status sync_dir_of(const char *path, lv_error *err)
{
    char *copy = lv_xstrdup(path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    lv_status st = LV_OK;
    if (fd < 0 || fsync(fd) != 0)
        st = lv_fail(err, LV_EIO, "cannot sync the directory %s: %s", dir, strerror(errno));
    if (fd >= 0)
        (void)close(fd); /* read-only */
    free(copy);
    return st;
}

/* The SQLite files that go with a store file (its write-ahead log and shared memory): a copy put in
 * its place must not meet the old store's. */
static lv_status remove_companions(const char *path, lv_error *err)
{
    static const char *const suffixes[] = { "-wal", "-shm" };
    for (size_t i = 0; i < 2; i++) {
        char *p = with_suffix(path, suffixes[i]);
        if (unlink(p) != 0 && errno != ENOENT) {
            lv_status st = lv_fail(err, LV_EIO, "cannot remove %s: %s", p, strerror(errno));
            free(p);
            return st;
        }
        free(p);
    }
    return LV_OK;
}

/* Copies store into a new file next to `final` and verifies the copy: SQLite's integrity check, and
 * the same rows as the store at the moment copied. *tmp_out is the verified copy (the caller moves
 * it into place). */
static lv_status copy_verified(lv_store *store, const char *final, bool quiet, char **tmp_out, lv_store_size *at,
                               lv_error *err)
{
    char suffix[48];
    snprintf(suffix, sizeof suffix, ".partial-%ld", (long)getpid());
    char *tmp = with_suffix(final, suffix);
    bar b;
    bar_start(&b, "copying", quiet);
    lv_status st = lv_store_backup(store, tmp, draw, &b, at, err);
    bar_end(&b);
    if (st != LV_OK) {
        free(tmp);
        return st;
    }
    lv_store *copy = NULL;
    /* read and write: closing it as the last connection leaves no -wal or -shm file behind */
    lv_store_options so = { .read_only = false, .create = false };
    st = lv_store_open(tmp, &so, &copy, err);
    if (st == LV_OK) {
        problems p = { .out = stderr };
        lv_store_size now;
        st = lv_store_integrity(copy, print_problem, &p, err);
        if (st == LV_OK)
            st = lv_store_size_get(copy, &now, err);
        if (st == LV_OK)
            p.n += lv_store_size_diff(at, &now, lv_store_location(store), "the copy", print_problem, &p);
        if (st == LV_OK && p.n)
            st = lv_fail(err, LV_EDAMAGED, "the copy %s does not check (%u problems above); it was not kept", tmp, p.n);
    }
    lv_store_close(copy);
    if (st != LV_OK) {
        (void)unlink(tmp);
        (void)remove_companions(tmp, NULL);
        free(tmp);
        return st;
    }
    *tmp_out = tmp;
    return LV_OK;
}

/* ---- backup ---- */

int lv_cmd_backup(int argc, char **argv)
{
    const char *db = NULL, *to = NULL;
    bool force = false, quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_VALUE("to", &to), LV_OPT_FLAG("force", &force), LV_OPT_QUIET(&quiet),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("backup", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    if (!to || !*to)
        return lv_usage_error("backup", "--to FILE is required: where the copy is written");
    const char *path = db_path(db);
    char *to_journal = with_suffix(to, ".journal");
    bool served = exists(to_journal);
    free(to_journal);
    if (same_file(path, to) || served) {
        fprintf(stderr, "levee backup: %s is %s; a backup goes to a file of its own\n", to,
                same_file(path, to) ? "the store being copied" : "a store levee serve uses (it has a journal)");
        return LV_EXIT_USAGE;
    }
    if (!force && exists(to)) {
        fprintf(stderr, "levee backup: %s exists already; give --force to replace it, or another name\n", to);
        return LV_EXIT_USAGE;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lv_error err;
    lv_store *store = NULL;
    lv_store_options so = { .read_only = true };
    if (lv_store_open(path, &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee backup: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    char *tmp = NULL;
    lv_store_size at;
    lv_status st = copy_verified(store, to, quiet, &tmp, &at, &err);
    lv_store_close(store);
    if (st == LV_OK) {
        if (force) {
            if ((st = remove_companions(to, &err)) == LV_OK && rename(tmp, to) != 0)
                st = lv_fail(&err, LV_EIO, "cannot move the copy %s to %s: %s", tmp, to, strerror(errno));
        } else if (link(tmp, to) != 0) { /* never replaces a file that appeared meanwhile */
            st = errno == EEXIST ? lv_fail(&err, LV_EINVAL, "%s appeared while the copy was made; give --force to "
                                           "replace it, or another name", to)
                                 : lv_fail(&err, LV_EIO, "cannot move the copy %s to %s: %s", tmp, to, strerror(errno));
        }
        if (st == LV_OK)
            st = sync_dir_of(to, &err);
        (void)unlink(tmp); /* gone already after a rename; after link, the second name */
    }
    free(tmp);
    if (st != LV_OK) {
        fprintf(stderr, "levee backup: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (!quiet)
        fprintf(stderr, "levee backup: copied %s to %s in %.1f s and verified it: %lld events (%lld documents), "
                "%lld dead letters, %lld topics, %lld entries, %lld conversations; integrity ok\n",
                path, to, seconds_since(&t0), (long long)at.events, (long long)at.documents,
                (long long)at.dead_letters, (long long)at.topics, (long long)at.entries, (long long)at.conversations);
    return LV_EXIT_OK;
}

/* ---- rebuild ---- */

int lv_cmd_rebuild(int argc, char **argv)
{
    const char *db = NULL;
    bool quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_QUIET(&quiet),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("rebuild", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    const char *path = db_path(db);
    lv_error err;
    lv_store *store = NULL;
    lv_store_options so = { .read_only = false, .create = false };
    if (lv_store_open(path, &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee rebuild: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    /* no server may write meanwhile: its journal's lock, held until the rebuild is committed (a
     * store that was never served has no journal, and gets none) */
    char *journal = with_suffix(path, ".journal");
    uint64_t mark = 0;
    lv_journal *j = NULL;
    lv_status st = lv_store_get_mark(store, LV_JOURNAL_MARK, &mark, &err);
    if (st == LV_OK && exists(journal) && (st = lv_journal_open(journal, mark, &j, &err)) == LV_EBUSY) {
        char why[LV_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err.msg);
        lv_fail(&err, LV_EBUSY, "%s; stop that server before rebuilding %s (nothing was changed)", why, path);
    } else if (st == LV_EDAMAGED) {
        /* a journal behind the store: no server can start on it either, so nothing writes meanwhile;
         * the rebuild goes on (levee check names the journal's problem) */
        fprintf(stderr, "levee rebuild: %s\n", err.msg);
        st = LV_OK;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lv_counts counts = { 0 };
    if (st == LV_OK) {
        bar b;
        bar_start(&b, "rebuilding", quiet);
        st = lv_store_rebuild(store, draw, &b, &counts, &err);
        bar_end(&b);
    }
    lv_journal_close(j);
    lv_store_close(store);
    free(journal);
    if (st != LV_OK) {
        fprintf(stderr, "levee rebuild: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (!quiet)
        fprintf(stderr, "levee rebuild: recomputed the derived state of %s from its %llu events in %.1f s\n", path,
                (unsigned long long)counts.stored, seconds_since(&t0));
    return LV_EXIT_OK;
}

/* ---- check ---- */

static void remove_store_files(const char *path)
{
    if (path) {
        (void)unlink(path);
        (void)remove_companions(path, NULL);
    }
}

/* Compares the store's derived state with a rebuild of it from its events, in copies under dir: a
 * copy rebuilt, compared with the store (or, while a server writes to it, with a second copy of the
 * same moment). Differences go to p. */
/* On PostgreSQL a store is not a file to copy: the rebuild is made in a transaction of a second connection to
 * the same store (which the comparing snapshot of the first does not see), compared, and rolled back. The
 * rebuild's deletes lock the derived rows until then, so writers of the store wait meanwhile. */
static lv_status compare_in_place(lv_store *store, const char *path, bool quiet, problems *p, lv_error *err)
{
    lv_store *b = NULL;
    lv_store_size at, now;
    lv_store_options so = { .read_only = false, .create = false };
    lv_status st = lv_store_size_get(store, &at, err);
    if (st == LV_OK)
        st = lv_store_open(path, &so, &b, err);
    bar bb;
    if (st == LV_OK) {
        bar_start(&bb, "rebuilding", quiet);
        st = lv_store_rebuild_uncommitted(b, draw, &bb, err);
        bar_end(&bb);
    }
    unsigned differ = 0;
    if (st == LV_OK) {
        st = lv_store_compare_derived(store, b, print_problem, p, &differ, err);
        lv_store_rollback(b);
    }
    problems changed = { .out = stderr };
    if (st == LV_OK && (st = lv_store_size_get(store, &now, err)) == LV_OK &&
        lv_store_size_diff(&at, &now, "the store", path, print_problem, &changed) > 0)
        st = lv_fail(err, LV_EBUSY, "%s changed while it was compared with a rebuild (another process wrote to it); "
                     "run levee check again when it is quiet", path);
    lv_store_close(b);
    return st;
}

static lv_status compare_with_rebuild(lv_store *store, const char *path, const char *scratch, bool live, bool quiet,
                                      problems *p, lv_error *err)
{
    if (strcmp(lv_store_engine(store), "postgresql") == 0)
        return compare_in_place(store, path, quiet, p, err);
    char *copy = lv_xstrdup(path);
    const char *dir = scratch ? scratch : dirname(copy);
    char *base_copy = lv_xstrdup(path);
    const char *name = basename(base_copy);
    size_t n = strlen(dir) + strlen(name) + 64;
    char *a_path = live ? lv_xmalloc(n) : NULL, *b_path = lv_xmalloc(n);
    if (a_path)
        snprintf(a_path, n, "%s/%s.check-%ld-now.db", dir, name, (long)getpid());
    snprintf(b_path, n, "%s/%s.check-%ld-rebuilt.db", dir, name, (long)getpid());
    free(copy);
    free(base_copy);
    lv_store *a = NULL, *b = NULL, *against = store;
    lv_store_size at, at_b;
    lv_store_options so = { .read_only = false, .create = false };
    bar bb;
    bar_start(&bb, "copying", quiet);
    lv_status st = lv_store_backup(store, a_path ? a_path : b_path, draw, &bb, &at, err);
    bar_end(&bb);
    if (st == LV_OK && a_path && (st = lv_store_open(a_path, &so, &a, err)) == LV_OK) {
        against = a;
        st = lv_store_backup(a, b_path, NULL, NULL, &at_b, err);
    }
    if (st == LV_OK)
        st = lv_store_open(b_path, &so, &b, err);
    if (st == LV_OK) {
        bar_start(&bb, "rebuilding", quiet);
        st = lv_store_rebuild(b, draw, &bb, NULL, err);
        bar_end(&bb);
    }
    unsigned differ = 0;
    if (st == LV_OK)
        st = lv_store_compare_derived(against, b, print_problem, p, &differ, err);
    if (st == LV_OK && against == store) {
        /* nothing may have written to the store meanwhile, or the two moments differ */
        lv_store_size now;
        problems changed = { .out = stderr };
        if ((st = lv_store_size_get(store, &now, err)) == LV_OK &&
            lv_store_size_diff(&at, &now, "the store", path, print_problem, &changed) > 0)
            st = lv_fail(err, LV_EBUSY, "%s changed while it was compared with a rebuild (another process wrote to it); "
                         "run levee check again when it is quiet", path);
    }
    lv_store_close(a);
    lv_store_close(b);
    remove_store_files(a_path);
    remove_store_files(b_path);
    free(a_path);
    free(b_path);
    return st;
}

int lv_cmd_check(int argc, char **argv)
{
    const char *db = NULL, *scratch = NULL;
    bool quiet = false, no_rebuild = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_QUIET(&quiet), LV_OPT_FLAG("no-rebuild", &no_rebuild),
        LV_OPT_VALUE("scratch", &scratch),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("check", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    const char *path = db_path(db);
    lv_error err;
    lv_store *store = NULL;
    lv_store_options so = { .read_only = true };
    lv_status st = lv_store_open(path, &so, &store, &err);
    if (st == LV_EDAMAGED) {
        printf("%s\n", err.msg);
        fprintf(stderr, "levee check: %s is damaged: it cannot be opened\n", path);
        return LV_EXIT_REJECTED;
    }
    if (st != LV_OK) {
        fprintf(stderr, "levee check: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    char *journal = with_suffix(path, ".journal");
    problems p = { .out = stdout };
    lv_check_summary sum;
    bar b;
    bar_start(&b, "checking", quiet);
    st = lv_store_check(store, journal, draw, &b, print_problem, &p, &sum, &err);
    bar_end(&b);
    bool compared = false;
    if (st == LV_OK && p.n == 0 && !no_rebuild) {
        st = compare_with_rebuild(store, path, scratch, sum.journal.locked, quiet, &p, &err);
        compared = st == LV_OK;
    }
    lv_store_close(store);
    int status = LV_EXIT_OK;
    if (st == LV_EDAMAGED) {
        printf("%s\n", err.msg);
        p.n++;
    } else if (st != LV_OK) {
        fprintf(stderr, "levee check: %s\n", err.msg);
        status = LV_EXIT_USAGE;
    }
    if (status == LV_EXIT_OK && p.n) {
        fprintf(stderr, "levee check: %u problem%s in %s (listed on stdout)%s\n", p.n, p.n == 1 ? "" : "s", path,
                !no_rebuild && !compared ? "; the derived state was not compared with a rebuild" : "");
        status = LV_EXIT_REJECTED;
    } else if (status == LV_EXIT_OK && !quiet) {
        fprintf(stderr, "levee check: %s is sound: integrity ok; %lld events, %llu documents read back and decoded "
                "again, counts and totals agree%s",
                path, (long long)sum.size.events, (unsigned long long)sum.documents_checked,
                compared ? ", derived state agrees with a rebuild" : "");
        if (sum.journal.exists)
            fprintf(stderr, "; journal %s: %llu intact records in %llu segments%s\n", journal,
                    (unsigned long long)sum.journal.records, (unsigned long long)sum.journal.segments,
                    sum.journal.locked ? " (a server holds it)" : "");
        else
            fprintf(stderr, "; no journal\n");
    }
    free(journal);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "levee check: cannot write the output\n");
        return LV_EXIT_USAGE;
    }
    return status;
}

/* ---- restore ---- */

/* Sets the journal aside (it is behind the backup: its offsets would be written below the
 * position the backup has applied). */
static lv_status set_journal_aside(const char *journal, char **aside, lv_error *err)
{
    char stamp[64];
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) || strftime(stamp, sizeof stamp, ".before-restore-%Y%m%dT%H%M%SZ", &tm) == 0)
        snprintf(stamp, sizeof stamp, ".before-restore-%ld", (long)getpid());
    *aside = with_suffix(journal, stamp);
    if (rename(journal, *aside) != 0)
        return lv_fail(err, LV_EIO, "cannot move the journal %s aside to %s: %s", journal, *aside, strerror(errno));
    return LV_OK;
}

int lv_cmd_restore(int argc, char **argv)
{
    const char *db = NULL, *from = NULL;
    bool quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_VALUE("from", &from), LV_OPT_QUIET(&quiet),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("restore", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    if (!from || !*from)
        return lv_usage_error("restore", "--from FILE is required: the backup to restore");
    const char *path = db_path(db);
    if (same_file(path, from)) {
        fprintf(stderr, "levee restore: %s is the store itself; give the backup to restore with --from\n", from);
        return LV_EXIT_USAGE;
    }
    lv_error err;
    /* 1. the backup is sound, all of it */
    lv_store *src = NULL;
    lv_store_options so = { .read_only = true };
    if (lv_store_open(from, &so, &src, &err) != LV_OK) {
        fprintf(stderr, "levee restore: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    problems p = { .out = stdout };
    lv_check_summary sum;
    bar b;
    bar_start(&b, "checking the backup", quiet);
    lv_status st = lv_store_check(src, NULL, draw, &b, print_problem, &p, &sum, &err);
    bar_end(&b);
    uint64_t mark = 0;
    if (st == LV_OK && p.n) {
        fprintf(stderr, "levee restore: the backup %s has %u problem%s (listed on stdout); nothing was changed\n",
                from, p.n, p.n == 1 ? "" : "s");
        lv_store_close(src);
        return LV_EXIT_REJECTED;
    }
    if (st == LV_OK)
        st = lv_store_get_mark(src, LV_JOURNAL_MARK, &mark, &err);
    /* 2. no server holds the store: its journal's lock, held until the store is in place */
    char *journal = with_suffix(path, ".journal"), *aside = NULL;
    lv_journal *j = NULL;
    lv_journal_span span = { 0 };
    problems jp = { .out = stderr };
    if (st == LV_OK)
        st = lv_journal_check(journal, print_problem, &jp, &span, &err);
    if (st == LV_OK && (st = lv_journal_open(journal, mark, &j, &err)) == LV_EBUSY) {
        char why[LV_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err.msg);
        lv_fail(&err, LV_EBUSY, "%s; stop that server before restoring %s (nothing was changed)", why, path);
    } else if (st == LV_EDAMAGED && span.exists && span.end < mark) {
        /* the journal is behind the backup (lv_journal_open refuses it, so no server holds it): a server
         * would write new events below the position the backup has applied, and never apply them; a
         * fresh journal starts at that position */
        if ((st = set_journal_aside(journal, &aside, &err)) == LV_OK)
            st = lv_journal_open(journal, mark, &j, &err);
    }
    /* 3. a verified copy next to the store, then put in its place */
    char *tmp = NULL;
    lv_store_size at;
    if (st == LV_OK)
        st = copy_verified(src, path, quiet, &tmp, &at, &err);
    lv_store_close(src);
    if (st == LV_OK) {
        if ((st = remove_companions(path, &err)) == LV_OK && rename(tmp, path) != 0)
            st = lv_fail(&err, LV_EIO, "cannot move the copy %s to %s: %s", tmp, path, strerror(errno));
        if (st == LV_OK)
            st = sync_dir_of(path, &err);
        if (st != LV_OK)
            (void)unlink(tmp);
    }
    uint64_t journal_end = j ? lv_journal_durable(j) : 0;
    lv_journal_close(j);
    free(tmp);
    if (st != LV_OK) {
        fprintf(stderr, "levee restore: %s\n", err.msg);
        free(journal);
        free(aside);
        return LV_EXIT_USAGE;
    }
    if (!quiet) {
        fprintf(stderr, "levee restore: restored %s into %s: %lld events (%lld documents), %lld dead letters; the "
                "backup had applied the journal up to offset %llu\n", from, path, (long long)at.events,
                (long long)at.documents, (long long)at.dead_letters, (unsigned long long)mark);
        if (aside)
            fprintf(stderr, "levee restore: the journal was behind the backup (it ended at %llu): it is kept in %s, "
                    "and levee serve starts a new one at %llu\n", (unsigned long long)span.end, aside,
                    (unsigned long long)mark);
        else if (journal_end > mark)
            fprintf(stderr, "levee restore: the journal %s holds %llu bytes of records after that position: "
                    "levee serve applies them when it starts (events already in the backup are recognised as "
                    "duplicates)\n", journal, (unsigned long long)(journal_end - mark));
        if (span.exists && span.segments && mark < span.first)
            fprintf(stderr, "levee restore: the journal begins at offset %llu, after the backup's position: "
                    "events that arrived between the backup and %llu are in neither\n",
                    (unsigned long long)span.first, (unsigned long long)span.first);
    }
    free(journal);
    free(aside);
    return LV_EXIT_OK;
}

/* ---- copy ---- */

/* Whether two locations name the same store: the same file, or the same PostgreSQL location. */
static bool same_store(const char *a, const char *b)
{
    if (lv_store_is_postgresql(a) != lv_store_is_postgresql(b))
        return false;
    if (!lv_store_is_postgresql(a))
        return same_file(a, b) || strcmp(a, b) == 0;
    char *x = lv_store_location_redacted(a), *y = lv_store_location_redacted(b);
    bool same = strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

int lv_cmd_copy(int argc, char **argv)
{
    const char *from = NULL, *to = NULL, *every = NULL;
    bool quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("from", &from), LV_OPT_VALUE("to", &to), LV_OPT_VALUE("commit-every", &every),
        LV_OPT_QUIET(&quiet), LV_OPT_END,
    };
    int rc = lv_cli_parse("copy", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    if (!from || !*from)
        return lv_usage_error("copy", "--from SRC is required: the store to copy (a file, or a PostgreSQL location)");
    if (!to || !*to)
        return lv_usage_error("copy", "--to DST is required: where the copy goes (a new file, or an empty PostgreSQL "
                                      "database or schema)");
    lv_copy_options opt = { 0 };
    if (every) {
        char *end;
        unsigned long v = strtoul(every, &end, 10);
        if (*end || !*every || v < 1 || v > 1000000)
            return lv_usage_error("copy", "--commit-every must be a number of events from 1 to 1000000, not '%s'",
                                  every);
        opt.commit_events = (unsigned)v;
    }
    if (same_store(from, to)) {
        char *shown = lv_store_location_redacted(to);
        fprintf(stderr, "levee copy: --from and --to name the same store (%s); a copy goes into another one\n",
                shown);
        free(shown);
        return LV_EXIT_USAGE;
    }
    if (!lv_store_is_postgresql(from) && !exists(from)) {
        fprintf(stderr, "levee copy: %s does not exist; --from names the store to copy\n", from);
        return LV_EXIT_USAGE;
    }
    if (!lv_store_is_postgresql(to)) {
        /* a store a server uses (or used) has a journal whose events are not all in the store yet */
        char *journal = with_suffix(to, ".journal");
        bool served = exists(journal);
        free(journal);
        if (served) {
            fprintf(stderr, "levee copy: %s is a store levee serve uses (it has a journal, %s.journal); a copy goes "
                            "into a new store no server writes to\n", to, to);
            return LV_EXIT_USAGE;
        }
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    lv_error err;
    lv_store *src = NULL, *dst = NULL;
    lv_store_options ro = { .read_only = true }, rw = { .read_only = false, .create = true };
    lv_status st = lv_store_open(from, &ro, &src, &err);
    if (st == LV_OK)
        st = lv_store_open(to, &rw, &dst, &err);
    lv_copy_result res;
    memset(&res, 0, sizeof res);
    if (st == LV_OK) {
        bar b;
        bar_start(&b, "copying", quiet);
        opt.progress = draw;
        opt.ctx = &b;
        st = lv_store_copy(src, dst, &opt, &res, &err);
        bar_end(&b);
    }
    char *shown_from = lv_store_location_redacted(from), *shown_to = lv_store_location_redacted(to);
    if (st != LV_OK) {
        fprintf(stderr, "levee copy: %s\n", err.msg);
        if (dst && st != LV_EINVAL)
            fprintf(stderr, "levee copy: what was committed stays in %s; run the same command again to continue the "
                            "copy where it stopped\n", shown_to);
    } else if (!quiet && res.already) {
        fprintf(stderr, "levee copy: %s is a complete copy of %s already (%lld events, %lld dead letters, %lld "
                "subscriptions); nothing to do\n", shown_to, shown_from, (long long)res.events,
                (long long)res.dead_letters, (long long)res.subscriptions);
    } else if (!quiet) {
        fprintf(stderr, "levee copy: copied %s (%s) to %s (%s) in %.1f s: %lld events (%lld documents), %lld dead "
                "letters, %lld subscriptions, %lld people forgotten, %lld receipts of erasures",
                shown_from, lv_store_engine(src), shown_to, lv_store_engine(dst), seconds_since(&t0),
                (long long)res.events, (long long)res.documents, (long long)res.dead_letters,
                (long long)res.subscriptions, (long long)res.forgotten, (long long)res.receipts);
        if (res.resumed)
            fprintf(stderr, "; continued a copy cut short after %lld events", (long long)res.events_before);
        fprintf(stderr, "\n");
    }
    free(shown_from);
    free(shown_to);
    lv_store_close(src);
    lv_store_close(dst);
    return st == LV_OK ? LV_EXIT_OK : LV_EXIT_USAGE;
}
