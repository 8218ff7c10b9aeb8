/* test_erase.c: the rules of keep/erase.c (levee prune, levee forget) on temporary SQLite stores: after
 * an erasure the derived state is, row for row, what a rebuild from the remaining events gives
 * (lv_store_compare_derived against a rebuilt copy), whatever the arrival order of the events (every
 * permutation of a story in which the pruned events are a topic's current version and its creation,
 * the first of an entry's twins, the entry before a topic's first version that stays (its stand-in),
 * a reply's parent, a conversation's creation and a message); and what an operator reads afterwards:
 * the remaining version is current, the reply stays, the pruned parent is remembered for
 * "[removed]", counts and the span of event times are the remaining events'; forget erases every
 * document naming the person, refuses their events afterwards, and keeps a receipt. */
#include "testing.h"

#include "levee/check.h"
#include "levee/engine.h"
#include "levee/engines.h"
#include "levee/erase.h"
#include "levee/timestamp.h"

#include <unistd.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define DAY 86400000LL
#define LIMIT (T0 + 10 * DAY)

static const char *iso(int64_t ms)
{
    static char text[16][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 16];
    lv_time_format(ms, t);
    return t;
}

typedef struct doc {
    char text[1024];
} doc;

static void topic_doc(doc *d, const char *name, int topic, int64_t ms, int64_t updated, const char *title)
{
    snprintf(d->text, sizeof d->text,
             "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"1\",\"context_type\":\"Course\","
             "\"context_id\":\"5\"},\"body\":{\"body\":\"<p>%s body</p>\",\"discussion_topic_id\":\"%d\","
             "\"title\":\"%s\",\"updated_at\":\"%s\",\"workflow_state\":\"active\"}}",
             name, iso(ms), title, topic, title, iso(updated));
}

static void entry_doc(doc *d, const char *name, int entry, int topic, int parent, int user, int64_t ms,
                      const char *text, const char *context)
{
    char par[64] = "", grade[96] = "";
    if (parent)
        snprintf(par, sizeof par, ",\"parent_discussion_entry_id\":\"%d\"", parent);
    if (strcmp(name, "discussion_entry_submitted") == 0)
        snprintf(grade, sizeof grade, ",\"assignment_id\":\"77\",\"submission_id\":\"%d\"", entry + 1000);
    snprintf(d->text, sizeof d->text,
             "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\",\"user_login\":\"u%d@x.edu\","
             "\"context_role\":\"StudentEnrollment\"%s},\"body\":{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\","
             "\"discussion_topic_id\":\"%d\",\"text\":\"<p>%s</p>\",\"user_id\":\"%d\"%s%s}}",
             name, iso(ms), user, user, context, iso(ms), entry, topic, text, user, par, grade);
}

static void conversation_doc(doc *d, const char *name, int conv, int user, int64_t ms)
{
    snprintf(d->text, sizeof d->text,
             "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"},"
             "\"body\":{\"conversation_id\":\"%d\",\"updated_at\":\"%s\"}}",
             name, iso(ms), user, conv, iso(ms));
}

static void message_doc(doc *d, int conv, int msg, int author, int64_t ms)
{
    snprintf(d->text, sizeof d->text,
             "{\"metadata\":{\"event_name\":\"conversation_message_created\",\"event_time\":\"%s\",\"user_id\":\"%d\"},"
             "\"body\":{\"author_id\":\"%d\",\"conversation_id\":\"%d\",\"created_at\":\"%s\",\"message_id\":\"%d\"}}",
             iso(ms), author, author, conv, iso(ms), msg);
}

#define STORY 9

/* Old (before LIMIT) and new events about one topic, its entries and a conversation. */
static void story(doc d[STORY])
{
    topic_doc(&d[0], "discussion_topic_created", 10, T0, T0 + 20 * DAY, "Old but current"); /* greatest updated_at */
    topic_doc(&d[1], "discussion_topic_updated", 10, T0 + 12 * DAY, T0 + 12 * DAY, "Remaining");
    entry_doc(&d[2], "discussion_entry_created", 100, 10, 0, 7, T0 + DAY, "old parent", ",\"context_type\":\"Course\",\"context_id\":\"5\"");
    entry_doc(&d[3], "discussion_entry_created", 101, 10, 100, 8, T0 + 11 * DAY, "new reply", "");
    entry_doc(&d[4], "discussion_entry_created", 102, 10, 0, 8, T0 + 2 * DAY, "twin", ",\"context_type\":\"Course\",\"context_id\":\"5\"");
    entry_doc(&d[5], "discussion_entry_submitted", 102, 10, 0, 8, T0 + 13 * DAY, "twin", "");
    conversation_doc(&d[6], "conversation_created", 20, 7, T0);
    message_doc(&d[7], 20, 200, 7, T0 + DAY);
    message_doc(&d[8], 20, 201, 8, T0 + 14 * DAY);
}

static lv_store *open_store(char *path, bool fresh)
{
    if (fresh)
        close(make_temp(path, 256, "erase", false));
    lv_store *s = NULL;
    lv_error err;
    if (lv_store_open(path, NULL, &s, &err) != LV_OK)
        fail_msg("cannot open %s: %s", path, err.msg);
    lv_store_set_bulk(s, true);
    return s;
}

static void write_order(lv_store *s, const doc *d, const int *order, size_t n)
{
    lv_error err;
    lv_zctx *z = lv_zctx_new();
    check(lv_store_begin(s, &err), &err);
    for (size_t i = 0; i < n; i++) {
        lv_batch *b = lv_batch_new();
        lv_batch_add(b, d[order[i]].text, strlen(d[order[i]].text), "test", 1, NULL);
        check(lv_batch_prepare(b, z, NULL, &err), &err);
        lv_counts c = { 0 };
        check(lv_store_write(s, b, &c, &err), &err);
        lv_batch_free(b);
    }
    check(lv_store_commit(s, &err), &err);
    lv_zctx_free(z);
}

static void print_problem(void *ctx, const char *msg)
{
    (void)ctx;
    print_message("  %s\n", msg);
}

/* The derived state of s agrees with a rebuild of a copy of it. */
static void assert_as_rebuilt(lv_store *s)
{
    char copy[256];
    close(make_temp(copy, sizeof copy, "erase-copy", false));
    unlink(copy);
    lv_error err;
    check(lv_store_backup(s, copy, NULL, NULL, NULL, &err), &err);
    lv_store *r = open_store(copy, false);
    check(lv_store_rebuild(r, NULL, NULL, NULL, &err), &err);
    unsigned differ = 99;
    check(lv_store_compare_derived(s, r, print_problem, NULL, &differ, &err), &err);
    assert_int_equal(differ, 0);
    lv_store_close(r);
    remove_store(copy);
}

static bool next_permutation(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i]; a[i] = a[j]; a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l]; a[l] = a[r]; a[r] = t;
    }
    return true;
}

static void test_prune_any_order_is_a_rebuild(void **state)
{
    (void)state;
    doc d[STORY];
    story(d);
    /* the topic's events, the twins, the conversation: the orders that matter (5! = 120 each time) */
    int order[STORY] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    int perm[5] = { 0, 1, 2, 4, 5 };
    unsigned runs = 0;
    do {
        int o[STORY];
        for (int i = 0; i < 5; i++)
            o[i] = order[perm[i]];
        o[5] = 3, o[6] = 6, o[7] = 7, o[8] = 8;
        char path[256];
        lv_store *s = open_store(path, true);
        write_order(s, d, o, STORY);
        lv_erase_result r;
        lv_error err;
        check(lv_store_prune(s, LIMIT, false, &(lv_erase_options){ .chunk = 2 }, &r, &err), &err);
        assert_int_equal(r.events, 5); /* d[0], d[2], d[4], d[6], d[7] */
        lv_topic_row t;
        int64_t versions;
        check(s->engine->topic(s, 10, &t, &versions, &err), &err);
        assert_int_equal(versions, 1);
        assert_true(t.title.p && strcmp(t.title.p, "Remaining") == 0);
        assert_false(t.created_at.set);
        lv_stats_row st;
        check(s->engine->stats(s, &st, &err), &err);
        assert_int_equal(st.events, 4);
        assert_int_equal(st.first_time.v, T0 + 11 * DAY);
        assert_as_rebuilt(s);
        lv_store_close(s);
        remove_store(path);
        runs++;
    } while (next_permutation(perm, 5));
    assert_int_equal(runs, 120);
}

static lv_status count_id(void *ctx, const int64_t *id, lv_error *err)
{
    (void)err;
    *(int64_t *)ctx = *id;
    return LV_OK;
}

static void test_pruned_parent_is_remembered(void **state)
{
    (void)state;
    doc d[STORY];
    story(d);
    int o[STORY] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    char path[256];
    lv_store *s = open_store(path, true);
    write_order(s, d, o, STORY);
    lv_erase_result r;
    lv_error err;
    check(lv_store_prune(s, LIMIT, false, NULL, &r, &err), &err);
    int64_t removed = 0;
    check(s->engine->removed_entries(s, 10, count_id, &removed, &err), &err);
    assert_int_equal(removed, 100);
    lv_str title, text;
    bool found;
    check(s->engine->entry_detail(s, 101, &title, &text, &found, &err), &err);
    assert_true(found);
    check(s->engine->entry_detail(s, 100, &title, &text, &found, &err), &err);
    assert_false(found);
    lv_store_close(s);
    remove_store(path);
}

static void test_forget_erases_and_refuses(void **state)
{
    (void)state;
    doc d[STORY];
    story(d);
    int o[STORY] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    char path[256];
    lv_store *s = open_store(path, true);
    write_order(s, d, o, STORY);
    lv_erase_result r;
    lv_error err;
    check(lv_store_forget(s, 8, false, NULL, &r, &err), &err);
    assert_int_equal(r.events, 4); /* the reply, both twins, the message */
    assert_as_rebuilt(s);
    /* sent again: not stored */
    int again[2] = { 3, 8 };
    write_order(s, d, again, 2);
    lv_stats_row st;
    check(s->engine->stats(s, &st, &err), &err);
    assert_int_equal(st.events, STORY - 4);
    assert_int_equal(st.dead_letters, 0);
    lv_store_close(s);
    remove_store(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune_any_order_is_a_rebuild),
        cmocka_unit_test(test_pruned_parent_is_remembered),
        cmocka_unit_test(test_forget_erases_and_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
