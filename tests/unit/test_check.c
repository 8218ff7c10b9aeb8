/* test_check.c: backup, check and rebuild through levee/check.h on temporary SQLite stores, as an
 * operator relies on them: a backup is a copy of one moment (what another writer commits while it
 * is taken is not in it, and the size reported is the copy's), it never replaces a file; a check of
 * a sound store finds nothing, and names the event row of a document that no longer reads back, a
 * key, a time or a count that was changed, a topic row that was deleted, and a dead letter that does
 * not read back or reads back as another document; a journal written by
 * levee checks, and a damaged record, a torn end and a missing directory are each told apart; a
 * rebuild gives derived state equal, row for row, to a store that ingested the same documents, and
 * the comparison names what a damaged store lacks or holds differently. */
#include "testing.h"

#include "levee/check.h"
#include "levee/engines.h"
#include "levee/journal.h"
#include "levee/timestamp.h"

#include <sqlite3.h>
#include <sys/stat.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */

static lv_store *open_store(const char *path, const lv_store_options *opt)
{
    lv_store *s = NULL;
    lv_error err;
    check(lv_store_open(path, opt, &s, &err), &err);
    return s;
}

static void entry_text(lv_buf *b, int entry, int topic, int64_t ms)
{
    char t[LV_TIME_TEXT_MAX];
    lv_time_format(ms, t);
    lv_buf_printf(b, "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"%s\","
                     "\"user_id\":\"2\",\"context_type\":\"Course\",\"context_id\":\"7\",\"context_role\":"
                     "\"StudentEnrollment\"},\"body\":{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\","
                     "\"discussion_topic_id\":\"%d\",\"text\":\"<p>Entry %d about leaves.</p>\",\"user_id\":\"2\"}}",
                  t, t, entry, topic, entry);
}

static void topic_text(lv_buf *b, int topic, int64_t ms, const char *title)
{
    char t[LV_TIME_TEXT_MAX];
    lv_time_format(ms, t);
    lv_buf_printf(b, "{\"metadata\":{\"event_name\":\"discussion_topic_created\",\"event_time\":\"%s\","
                     "\"user_id\":\"3\",\"context_type\":\"Course\",\"context_id\":\"7\"},\"body\":{"
                     "\"discussion_topic_id\":\"%d\",\"title\":\"%s\",\"body\":\"<p>Discuss %s.</p>\","
                     "\"is_announcement\":false,\"workflow_state\":\"active\"}}",
                  t, topic, title, title);
}

/* Writes n entries (and their topics) in one transaction: documents i of topic 100 + i % 3. */
static void write_events(lv_store *s, int first, int n)
{
    lv_batch *b = lv_batch_new();
    lv_buf text;
    lv_buf_init(&text);
    for (int i = 0; i < n; i++) {
        lv_buf_reset(&text);
        if (first + i < 3)
            topic_text(&text, 100 + first + i, T0 + first + i, first + i ? "Photosynthesis" : "Leaves");
        else
            entry_text(&text, 1000 + first + i, 100 + (first + i) % 3, T0 + 1000 * (first + i));
        lv_batch_add(b, text.data, text.len, "test", i + 1, NULL);
    }
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    lv_counts c = { 0 };
    check(lv_batch_prepare(b, z, lv_store_dict(s), &err), &err);
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_commit(s, &err), &err);
    assert_int_equal(c.stored, (uint64_t)n);
    lv_zctx_free(z);
    lv_batch_free(b);
    lv_buf_free(&text);
}

static lv_store *new_store(const char *name, int events)
{
    lv_store *s = open_store(path_in(name), NULL);
    write_events(s, 0, events);
    return s;
}

static void sql(const char *path, const char *statement)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, statement, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", statement, msg);
    sqlite3_close(db);
}

/* Problems collected as lines. */
typedef struct found {
    lv_buf text;
    unsigned n;
} found;

static void collect(void *ctx, const char *msg)
{
    found *f = ctx;
    lv_buf_printf(&f->text, "%s\n", msg);
    f->n++;
}

static const char *problems_of(found *f)
{
    return f->text.data ? f->text.data : "";
}

/* lv_store_check on path (read-only, as levee check opens it), with the problems in f. */
static lv_check_summary check_path(const char *path, const char *journal, found *f)
{
    lv_store *s = open_store(path, &(lv_store_options){ .read_only = true });
    lv_buf_init(&f->text);
    f->n = 0;
    lv_check_summary sum;
    lv_error err;
    check(lv_store_check(s, journal, NULL, NULL, collect, f, &sum, &err), &err);
    assert_int_equal(sum.problems, f->n);
    lv_store_close(s);
    return sum;
}

/* ---- backup ---- */

typedef struct meanwhile {
    lv_store *writer; /* another connection, writing while the copy is taken */
    unsigned calls;
    uint64_t last_done, last_total;
} meanwhile;

static void write_meanwhile(void *ctx, uint64_t done, uint64_t total)
{
    meanwhile *m = ctx;
    if (m->calls++ == 0)
        write_events(m->writer, 100, 10);
    assert_true(done <= total);
    m->last_done = done;
    m->last_total = total;
}

static void test_backup_is_one_moment(void **state)
{
    (void)state;
    lv_store *s = new_store("live.db", 40);
    lv_store *reader = open_store(path_in("live.db"), &(lv_store_options){ .read_only = true });
    meanwhile m = { .writer = s };
    lv_store_size at, copy_size, now;
    lv_error err;
    check(lv_store_backup(reader, path_in("copy.db"), write_meanwhile, &m, &at, &err), &err);
    assert_true(m.calls >= 1);
    assert_true(m.last_done == m.last_total && m.last_total > 0); /* the bar ends full */
    /* the ten written during the copy are in the store, not in the copy or its size */
    assert_int_equal(at.events, 40);
    assert_int_equal(at.documents, 40);
    assert_int_equal(at.topics, 3);
    assert_int_equal(at.entries, 37);
    check(lv_store_size_get(s, &now, &err), &err);
    assert_int_equal(now.events, 50);
    lv_store *copy = open_store(path_in("copy.db"), &(lv_store_options){ .read_only = true });
    check(lv_store_size_get(copy, &copy_size, &err), &err);
    found f = { 0 };
    lv_buf_init(&f.text);
    assert_int_equal(lv_store_size_diff(&at, &copy_size, "the store", "the copy", collect, &f), 0);
    assert_int_equal(lv_store_size_diff(&now, &copy_size, "the store", "the copy", collect, &f), 3);
    assert_string_equal(problems_of(&f), "the copy holds 40 event rows, but the store held 50 at the moment copied\n"
                                         "the copy holds 40 documents, but the store held 50 at the moment copied\n"
                                         "the copy holds 37 entries, but the store held 47 at the moment copied\n");
    lv_buf_free(&f.text);
    lv_store_close(copy);
    check_path(path_in("copy.db"), NULL, &f);
    assert_string_equal(problems_of(&f), "");
    lv_buf_free(&f.text);

    /* never over an existing file */
    struct stat before;
    assert_int_equal(stat(path_in("copy.db"), &before), 0);
    assert_int_equal(lv_store_backup(reader, path_in("copy.db"), NULL, NULL, NULL, &err), LV_EINVAL);
    char want[LV_ERROR_MAX];
    snprintf(want, sizeof want, "%s exists already; a backup is written to a new file", path_in("copy.db"));
    assert_string_equal(err.msg, want);
    struct stat after;
    assert_int_equal(stat(path_in("copy.db"), &after), 0);
    assert_int_equal(after.st_size, before.st_size);
    assert_int_equal(after.st_mtime, before.st_mtime);
    lv_store_close(reader);
    lv_store_close(s);
}

/* ---- check ---- */

static void test_check_sound(void **state)
{
    (void)state;
    lv_store *s = new_store("sound.db", 20);
    lv_store_close(s);
    found f;
    lv_check_summary sum = check_path(path_in("sound.db"), path_in("sound.db.journal"), &f);
    assert_string_equal(problems_of(&f), "");
    assert_int_equal(sum.size.events, 20);
    assert_int_equal(sum.documents_checked, 20);
    assert_true(sum.journal_checked);
    assert_false(sum.journal.exists); /* never served: no journal, and none needed */
    lv_buf_free(&f.text);
}

static void test_check_names_each_problem(void **state)
{
    (void)state;
    lv_store_close(new_store("bad.db", 12));
    const char *path = path_in("bad.db");
    /* a document whose bytes no longer read back: named by its row, nothing else reported of it */
    sql(path, "UPDATE events SET raw = x'28b52ffd0000' WHERE id = 5");
    found f;
    check_path(path, NULL, &f);
    assert_int_equal(f.n, 1);
    char want[LV_ERROR_MAX];
    snprintf(want, sizeof want, "the document kept by event row 5 cannot be read back: a stored document in %s "
             "cannot be read back (", path);
    assert_memory_equal(problems_of(&f), want, strlen(want));
    lv_buf_free(&f.text);
}

static void test_check_changed_rows(void **state)
{
    (void)state;
    lv_store_close(new_store("rows.db", 12));
    const char *path = path_in("rows.db");
    found f;
    /* a changed key */
    sql(path, "UPDATE events SET hash = zeroblob(16) WHERE id = 6");
    check_path(path, NULL, &f);
    assert_string_equal(problems_of(&f), "event row 6 (discussion_entry_created) has a key that no event of its "
                                         "document (row 6) gives when decoded again: the document or the key was "
                                         "changed\n");
    lv_buf_free(&f.text);
    /* a changed time */
    lv_store_close(new_store("time.db", 12));
    sql(path_in("time.db"), "UPDATE events SET time = time + 1 WHERE id = 8");
    check_path(path_in("time.db"), NULL, &f);
    assert_string_equal(problems_of(&f), "event row 8 says discussion_entry_created at 1725300007001 ms, but its "
                                         "document gives discussion_entry_created at 1725300007000 ms\n");
    lv_buf_free(&f.text);
}

static void test_check_counts_and_rows(void **state)
{
    (void)state;
    lv_store_close(new_store("counts.db", 12));
    const char *path = path_in("counts.db");
    found f;
    sql(path, "UPDATE counts SET n = n + 2 WHERE format = 0 AND name = (SELECT id FROM names WHERE name ="
              " 'discussion_entry_created')");
    check_path(path, NULL, &f);
    assert_string_equal(problems_of(&f), "the counts say 11 canvas and 0 Caliper discussion_entry_created events, "
                                         "but the store holds 9 and 0\n");
    lv_buf_free(&f.text);
    sql(path, "UPDATE counts SET n = n - 2 WHERE format = 0 AND name = (SELECT id FROM names WHERE name ="
              " 'discussion_entry_created'); DELETE FROM topics WHERE id = 101; UPDATE totals SET value = value + 1"
              " WHERE key = 'raw_bytes'");
    check_path(path, NULL, &f);
    assert_non_null(strstr(problems_of(&f), "discussion topic 101 has no row, though event row 2 "
                                            "(discussion_topic_created) is about it: the derived state disagrees "
                                            "with the events\n"));
    assert_non_null(strstr(problems_of(&f), "the totals say the documents hold "));
    assert_int_equal(f.n, 2);
    lv_buf_free(&f.text);
}

static void test_check_dead_letters(void **state)
{
    (void)state;
    lv_store *s = new_store("dead.db", 5);
    static const char *const rejected[] = { "not json at all", "{\"metadata\":{\"event_name\":\"x\"},\"body\":{}}" };
    lv_batch *b = lv_batch_new();
    for (size_t i = 0; i < 2; i++)
        lv_batch_add(b, rejected[i], strlen(rejected[i]), "test", (long)i + 1, NULL);
    lv_batch_add_oversized(b, 2000000, 1000000, "test", 3);
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    lv_counts c = { 0 };
    check(lv_batch_prepare(b, z, NULL, &err), &err);
    check(lv_store_begin(s, &err), &err);
    check(lv_store_write(s, b, &c, &err), &err);
    check(lv_store_commit(s, &err), &err);
    assert_int_equal(c.rejected, 3);
    lv_zctx_free(z);
    lv_batch_free(b);
    lv_store_close(s);
    found f;
    check_path(path_in("dead.db"), NULL, &f);
    assert_string_equal(problems_of(&f), ""); /* the oversized one too: its key is its size */
    lv_buf_free(&f.text);
    /* one that no longer reads back, and one that reads back as another document */
    sql(path_in("dead.db"), "UPDATE dead_letters SET raw = x'00' WHERE id = 1;"
                            "UPDATE dead_letters SET raw = (SELECT raw FROM events WHERE id = 4),"
                            " raw_len = (SELECT raw_len FROM events WHERE id = 4) WHERE id = 2");
    check_path(path_in("dead.db"), NULL, &f);
    assert_int_equal(f.n, 2);
    assert_non_null(strstr(problems_of(&f), "dead letter 1 cannot be read back: a stored document in "));
    /* an accepted event's document in its place (its key is not made the same way) */
    assert_non_null(strstr(problems_of(&f), "dead letter 2 reads back, but not as the document it was kept as"));
    lv_buf_free(&f.text);
    /* their bytes gone, as if they had been too large to keep: their keys do not match */
    sql(path_in("dead.db"), "UPDATE dead_letters SET raw = NULL WHERE id IN (1, 2)");
    check_path(path_in("dead.db"), NULL, &f);
    assert_string_equal(problems_of(&f), "dead letter 1 reads back, but not as the document it was kept as (its key "
                                         "differs): it was changed after it was kept\n"
                                         "dead letter 2 reads back, but not as the document it was kept as (its key "
                                         "differs): it was changed after it was kept\n");
    lv_buf_free(&f.text);
}

/* ---- the journal ---- */

static uint64_t write_journal(const char *dir, int records)
{
    lv_journal *j;
    lv_error err;
    check(lv_journal_open(dir, 0, &j, &err), &err);
    uint64_t t = 0;
    for (int i = 0; i < records; i++) {
        char rec[64];
        int n = snprintf(rec, sizeof rec, "{\"record\":%d}", i);
        check(lv_journal_append(j, LV_JOURNAL_DOCUMENT, rec, (size_t)n, &t, &err), &err);
    }
    check(lv_journal_wait(j, t, &err), &err);
    lv_journal_close(j);
    return t;
}

static void test_journal_check(void **state)
{
    (void)state;
    const char *dir = path_in("j.journal");
    lv_journal_span span;
    found f = { 0 };
    lv_buf_init(&f.text);
    lv_error err;
    check(lv_journal_check(path_in("none.journal"), collect, &f, &span, &err), &err);
    assert_false(span.exists);
    assert_int_equal(f.n, 0);

    uint64_t end = write_journal(dir, 30);
    check(lv_journal_check(dir, collect, &f, &span, &err), &err);
    assert_true(span.exists);
    assert_false(span.locked);
    assert_int_equal(span.records, 30);
    assert_int_equal(span.segments, 1);
    assert_int_equal(span.first, 0);
    assert_int_equal(span.end, end);
    assert_int_equal(f.n, 0);

    /* a damaged record in the middle: named, and the records after it still counted */
    char seg[400];
    snprintf(seg, sizeof seg, "%s/%016llx.log", dir, 0ULL);
    FILE *fp = fopen(seg, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)(end / 2), SEEK_SET), 0);
    assert_int_equal(fwrite("\xff\xff\xff\xff", 1, 4, fp), 4);
    assert_int_equal(fclose(fp), 0);
    check(lv_journal_check(dir, collect, &f, &span, &err), &err);
    assert_int_equal(f.n, 1);
    assert_non_null(strstr(problems_of(&f), "damaged bytes at offset"));
    assert_true(span.records == 29 || span.records == 28);
    assert_int_equal(span.end, end);

    /* a torn end */
    lv_buf_reset(&f.text);
    f.n = 0;
    assert_int_equal(truncate(seg, (off_t)end - 5), 0);
    check(lv_journal_check(dir, collect, &f, &span, &err), &err);
    assert_non_null(strstr(problems_of(&f), "ends in a torn record at offset"));
    assert_true(span.end < end - 5);
    lv_buf_free(&f.text);
}

/* ---- rebuild ---- */

static unsigned compare(lv_store *a, lv_store *b, found *f)
{
    lv_buf_init(&f->text);
    f->n = 0;
    unsigned differ;
    lv_error err;
    check(lv_store_compare_derived(a, b, collect, f, &differ, &err), &err);
    assert_int_equal(differ, f->n);
    return differ;
}

static void test_rebuild_equals_ingest(void **state)
{
    (void)state;
    lv_store *fresh = new_store("fresh.db", 25);
    lv_store *s = new_store("damaged.db", 25);
    found f;
    assert_int_equal(compare(s, fresh, &f), 0);
    lv_buf_free(&f.text);
    lv_store_close(s);
    sql(path_in("damaged.db"), "DELETE FROM topics WHERE id = 100; UPDATE entries SET text = 'changed' WHERE id = 1010;"
                                "DELETE FROM activity; DELETE FROM search_docs WHERE rowid = 4");
    s = open_store(path_in("damaged.db"), NULL);
    assert_int_equal(compare(s, fresh, &f), 5);
    const char *p = problems_of(&f);
    char want[600];
    snprintf(want, sizeof want, "topics: a rebuild from the events gives the row 100, which %s lacks", path_in("damaged.db"));
    assert_non_null(strstr(p, want));
    snprintf(want, sizeof want, "entries: the row 1010 of %s differs from a rebuild from the events (it holds 101,",
             path_in("damaged.db"));
    assert_non_null(strstr(p, want));
    assert_non_null(strstr(p, "course activity: a rebuild from the events gives the row 7,"));
    assert_non_null(strstr(p, "search entries: a rebuild from the events gives the row 4,"));
    lv_buf_free(&f.text);

    lv_counts counts;
    lv_error err;
    check(lv_store_rebuild(s, NULL, NULL, &counts, &err), &err);
    assert_int_equal(counts.stored, 25);
    assert_int_equal(compare(s, fresh, &f), 0);
    lv_buf_free(&f.text);
    /* a second rebuild changes nothing, and the store goes on taking events as before */
    check(lv_store_rebuild(s, NULL, NULL, NULL, &err), &err);
    write_events(s, 25, 5);
    write_events(fresh, 25, 5);
    assert_int_equal(compare(s, fresh, &f), 0);
    lv_buf_free(&f.text);
    lv_store_close(s);
    lv_store_close(fresh);
}

static void test_rebuild_stops_at_damage(void **state)
{
    (void)state;
    lv_store_close(new_store("stop.db", 10));
    sql(path_in("stop.db"), "UPDATE events SET raw = x'00' WHERE id = 4");
    lv_store *s = open_store(path_in("stop.db"), NULL);
    lv_store_size before, after;
    lv_error err;
    check(lv_store_size_get(s, &before, &err), &err);
    assert_int_equal(lv_store_rebuild(s, NULL, NULL, NULL, &err), LV_EDAMAGED);
    assert_non_null(strstr(err.msg, "the document kept by event row 4 cannot be read back"));
    check(lv_store_size_get(s, &after, &err), &err);
    assert_memory_equal(&before, &after, sizeof before); /* rolled back: nothing emptied */
    lv_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_is_one_moment, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_check_sound, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_check_names_each_problem, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_check_changed_rows, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_check_counts_and_rows, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_check_dead_letters, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_journal_check, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_equals_ingest, temp_dir_setup, temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_stops_at_damage, temp_dir_setup, temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
