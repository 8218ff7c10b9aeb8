/* test_query.c: the answers of levee/query.h over a real (temporary) SQLite store: a topic's current
 * version and history when its updates arrive out of order, its reply tree with a reply that came
 * before its parent and one whose parent never came, a topic known only from its entries, a
 * conversation's timeline, a course summary with unanswered student posts, what a user did, the
 * list of courses, search and the figures; things that are not there (LV_ENOTFOUND with the
 * sentence people see); and a damaged store, where every question fails as damaged, naming the
 * file, and never as "not found" or as an empty answer. */
#include "testing.h"

#include "levee/engines.h"
#include "levee/query.h"
#include "levee/timestamp.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define MINUTE 60000LL
#define HOUR 3600000LL
#define COURSE 5

static char store_path[256];
static lv_store *store;

/* ---- events ---- */

static const char *iso(int64_t ms)
{
    static char text[8][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 8];
    lv_time_format(ms, t);
    return t;
}

static void put_meta(lv_buf *b, const char *name, int64_t ms, int user, const char *role)
{
    lv_buf_printf(b, "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"", name,
                  iso(ms), user);
    if (role)
        lv_buf_printf(b, ",\"context_type\":\"Course\",\"context_id\":\"%d\",\"context_role\":\"%s\"", COURSE, role);
    lv_buf_puts(b, "},\"body\":");
}

static void topic_event(lv_buf *b, const char *name, int topic, int64_t ms, int64_t updated, const char *title,
                        const char *body)
{
    put_meta(b, name, ms, 1, "TeacherEnrollment");
    lv_buf_printf(b, "{\"assignment_id\":null,\"body\":\"%s\",\"context_id\":\"%d\",\"context_type\":\"Course\","
                     "\"discussion_topic_id\":\"%d\",\"is_announcement\":false,\"lock_at\":null,\"title\":\"%s\","
                     "\"updated_at\":\"%s\",\"workflow_state\":\"active\"}}\n",
                  body, COURSE, topic, title, iso(updated));
}

static void entry_event(lv_buf *b, int entry, int topic, int user, const char *role, int64_t ms, const char *text,
                        int parent)
{
    put_meta(b, "discussion_entry_created", ms, user, role);
    lv_buf_printf(b, "{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\",\"discussion_topic_id\":\"%d\","
                     "\"text\":\"%s\",\"user_id\":\"%d\"",
                  iso(ms), entry, topic, text, user);
    if (parent)
        lv_buf_printf(b, ",\"parent_discussion_entry_id\":\"%d\"", parent);
    lv_buf_puts(b, "}}\n");
}

static void conversation_event(lv_buf *b, const char *name, int user, int64_t ms)
{
    put_meta(b, name, ms, user, NULL);
    lv_buf_printf(b, "{\"conversation_id\":\"50\",\"updated_at\":\"%s\"}}\n", iso(ms));
}

static void message_event(lv_buf *b, int message, int author, int64_t ms)
{
    put_meta(b, "conversation_message_created", ms, author, NULL);
    lv_buf_printf(b, "{\"author_id\":\"%d\",\"conversation_id\":\"50\",\"created_at\":\"%s\",\"message_id\":\"%d\"}}\n",
                  author, iso(ms), message);
}

/* The events of the tests, in arrival order (not time order). */
static void make_events(lv_buf *b)
{
    topic_event(b, "discussion_topic_created", 10, T0, T0, "Photosynthesis", "<p>Light and leaves.</p>");
    /* the topic's last update arrives before the one it follows */
    topic_event(b, "discussion_topic_updated", 10, T0 + 3 * HOUR, T0 + 3 * HOUR, "Photosynthesis (week 2)",
                "<p>Light, water and leaves.</p>");
    topic_event(b, "discussion_topic_updated", 10, T0 + HOUR, T0 + HOUR, "Photosynthesis v2",
                "<p>Light, water and leaves.</p>");
    /* a teacher's reply arrives before the student post it answers */
    entry_event(b, 102, 10, 1, "TeacherEnrollment", T0 + 150 * MINUTE, "<p>It absorbs red and blue light.</p>", 101);
    entry_event(b, 101, 10, 2, "StudentEnrollment", T0 + 2 * HOUR, "<p>What about chlorophyll?</p>", 0);
    /* a reply whose parent never arrives */
    entry_event(b, 103, 10, 3, "StudentEnrollment", T0 + 4 * HOUR, "<p>Me too.</p>", 999);
    entry_event(b, 104, 10, 3, "StudentEnrollment", T0 + 5 * HOUR, "<p>Why are leaves green?</p>", 0);
    /* a topic known only from an entry in it */
    entry_event(b, 201, 20, 2, "StudentEnrollment", T0 + 330 * MINUTE, "<p>First!</p>", 0);
    conversation_event(b, "conversation_created", 2, T0);
    message_event(b, 501, 2, T0 + MINUTE);
    conversation_event(b, "conversation_forwarded", 2, T0 + 2 * MINUTE);
    message_event(b, 502, 3, T0 + 3 * MINUTE);
}

#define N_EVENTS 12

static void ingest_into(lv_store *s)
{
    lv_buf events;
    lv_buf_init(&events);
    make_events(&events);
    lv_reader *r = lv_reader_open_memory(events.data, events.len, "test");
    lv_counts counts = { 0 };
    lv_error err;
    lv_status st = lv_ingest(s, &r, 1, NULL, &counts, &err);
    if (st != LV_OK)
        fprintf(stderr, "ingest: %s\n", err.msg);
    assert_int_equal(st, LV_OK);
    assert_int_equal(counts.stored, N_EVENTS);
    assert_int_equal(counts.rejected, 0);
    lv_reader_close(r);
    lv_buf_free(&events);
}

static int setup(void **state)
{
    (void)state;
    close(make_temp(store_path, sizeof store_path, "query", false));
    lv_error err;
    if (lv_store_open(store_path, NULL, &store, &err) != LV_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    ingest_into(store);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lv_store_close(store);
    store = NULL;
    remove_store(store_path);
    return 0;
}

/* ---- answers ---- */

typedef enum { Q_STATS, Q_TOPIC, Q_CONVERSATION, Q_COURSE, Q_USER, Q_COURSES, Q_SEARCH } question;

typedef struct answer {
    lv_status st;
    lv_error err;
    lv_buf text;
    lv_arena arena;
    const lv_json *json; /* NULL unless st is LV_OK */
} answer;

static void ask_window(answer *a, lv_store *s, question q, uint64_t id, const char *text, const lv_query_window *win)
{
    memset(a, 0, sizeof *a);
    lv_buf_init(&a->text);
    lv_arena_init(&a->arena, 4096);
    lv_jw *w = lv_jw_new(&a->text, false);
    switch (q) {
    case Q_STATS: a->st = lv_query_stats(s, w, &a->err); break;
    case Q_TOPIC: a->st = lv_query_topic(s, id, w, &a->err); break;
    case Q_CONVERSATION: a->st = lv_query_conversation(s, id, w, &a->err); break;
    case Q_COURSE: a->st = lv_query_course(s, id, win, w, &a->err); break;
    case Q_USER: a->st = lv_query_user(s, id, win, w, &a->err); break;
    case Q_COURSES: a->st = lv_query_courses(s, w, &a->err); break;
    case Q_SEARCH: a->st = lv_query_search(s, text, id, win, w, &a->err); break;
    }
    lv_jw_free(w);
    if (a->st != LV_OK)
        return;
    lv_json *root;
    lv_error perr;
    assert_int_equal(lv_json_parse(&a->arena, a->text.data, a->text.len, &root, &perr), LV_OK);
    a->json = root;
}

static void ask(answer *a, question q, uint64_t id, const char *text)
{
    ask_window(a, store, q, id, text, NULL);
}

static void assert_ok(const answer *a)
{
    if (a->st != LV_OK)
        fprintf(stderr, "%s\n", a->err.msg);
    assert_int_equal(a->st, LV_OK);
}

static void done(answer *a)
{
    lv_buf_free(&a->text);
    lv_arena_free(&a->arena);
}

static const lv_json *at(const answer *a, const char *path)
{
    const lv_json *v = lv_json_path(a->json, path);
    if (!v)
        fprintf(stderr, "no %s in %.*s\n", path, (int)a->text.len, a->text.data);
    assert_non_null(v);
    return v;
}

static void assert_str_at(const answer *a, const char *path, const char *want)
{
    const lv_json *v = at(a, path);
    assert_int_equal(v->type, LV_JSON_STRING);
    if (v->len != strlen(want) || memcmp(v->str, want, v->len) != 0)
        fprintf(stderr, "%s is \"%.*s\", not \"%s\"\n", path, (int)v->len, v->str, want);
    assert_true(v->len == strlen(want) && memcmp(v->str, want, v->len) == 0);
}

static void assert_int_at(const answer *a, const char *path, long long want)
{
    const lv_json *v = at(a, path);
    assert_int_equal(v->type, LV_JSON_NUMBER);
    char text[32];
    snprintf(text, sizeof text, "%.*s", (int)v->len, v->str);
    assert_int_equal(strtoll(text, NULL, 10), want);
}

static void assert_type_at(const answer *a, const char *path, lv_json_type want)
{
    assert_int_equal(at(a, path)->type, want);
}

static void assert_absent(const answer *a, const char *path)
{
    assert_null(lv_json_path(a->json, path));
}

static size_t count_at(const answer *a, const char *path)
{
    const lv_json *v = at(a, path);
    assert_true(v->type == LV_JSON_ARRAY || v->type == LV_JSON_OBJECT);
    return v->len;
}

/* The answer failed with st, saying `want` (with the store's path at %s). */
static void assert_not_found(answer *a, const char *fmt)
{
    char want[LV_ERROR_MAX];
    snprintf(want, sizeof want, fmt, store_path);
    assert_int_equal(a->st, LV_ENOTFOUND);
    assert_string_equal(a->err.msg, want);
}

/* ---- tests ---- */

static void test_topic_current_version_and_history(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_TOPIC, 10, NULL);
    assert_ok(&a);
    /* the greatest updated_at wins, whatever the arrival order */
    assert_str_at(&a, "topic/discussion_topic_id", "10");
    assert_str_at(&a, "topic/title", "Photosynthesis (week 2)");
    assert_str_at(&a, "topic/body", "<p>Light, water and leaves.</p>");
    assert_str_at(&a, "topic/context_id", "5");
    assert_str_at(&a, "topic/context_type", "Course");
    assert_type_at(&a, "topic/is_announcement", LV_JSON_BOOL);
    assert_false(at(&a, "topic/is_announcement")->boolean);
    assert_type_at(&a, "topic/assignment_id", LV_JSON_NULL);
    assert_str_at(&a, "topic/updated_at", iso(T0 + 3 * HOUR));
    assert_str_at(&a, "topic/created_at", iso(T0));
    assert_str_at(&a, "topic/created_by", "1");
    assert_int_at(&a, "topic/versions", 3);
    /* the history in updated_at order, each version with what it changed */
    assert_int_equal(count_at(&a, "history"), 3);
    assert_str_at(&a, "history/0/event", "discussion_topic_created");
    assert_str_at(&a, "history/0/event_time", iso(T0));
    assert_str_at(&a, "history/0/user_id", "1");
    assert_str_at(&a, "history/0/changes/title", "Photosynthesis");
    assert_absent(&a, "history/0/changes/discussion_topic_id");
    assert_absent(&a, "history/0/changes/updated_at");
    assert_str_at(&a, "history/1/event", "discussion_topic_updated");
    assert_str_at(&a, "history/1/updated_at", iso(T0 + HOUR));
    assert_str_at(&a, "history/1/changes/title", "Photosynthesis v2");
    assert_str_at(&a, "history/1/changes/body", "<p>Light, water and leaves.</p>");
    assert_absent(&a, "history/1/changes/context_id");
    assert_str_at(&a, "history/2/updated_at", iso(T0 + 3 * HOUR));
    assert_int_equal(count_at(&a, "history/2/changes"), 1);
    assert_str_at(&a, "history/2/changes/title", "Photosynthesis (week 2)");
    done(&a);
}

static void test_topic_reply_tree(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_TOPIC, 10, NULL);
    assert_ok(&a);
    assert_int_at(&a, "entry_count", 4);
    assert_int_equal(count_at(&a, "entries"), 3);
    /* the reply that came first hangs under its parent */
    assert_str_at(&a, "entries/0/id", "101");
    assert_str_at(&a, "entries/0/user_id", "2");
    assert_str_at(&a, "entries/0/role", "StudentEnrollment");
    assert_str_at(&a, "entries/0/text", "<p>What about chlorophyll?</p>");
    assert_str_at(&a, "entries/0/created_at", iso(T0 + 2 * HOUR));
    assert_absent(&a, "entries/0/parent_id");
    assert_int_equal(count_at(&a, "entries/0/replies"), 1);
    assert_str_at(&a, "entries/0/replies/0/id", "102");
    assert_str_at(&a, "entries/0/replies/0/parent_id", "101");
    assert_str_at(&a, "entries/0/replies/0/role", "TeacherEnrollment");
    assert_absent(&a, "entries/0/replies/0/parent_missing");
    assert_int_equal(count_at(&a, "entries/0/replies/0/replies"), 0);
    /* a reply whose parent is not in the store is listed at the top, saying so */
    assert_str_at(&a, "entries/1/id", "103");
    assert_str_at(&a, "entries/1/parent_id", "999");
    assert_type_at(&a, "entries/1/parent_missing", LV_JSON_BOOL);
    assert_true(at(&a, "entries/1/parent_missing")->boolean);
    assert_str_at(&a, "entries/2/id", "104");
    done(&a);

    /* a topic known only from its entries: a stand-in row with its tree */
    ask(&a, Q_TOPIC, 20, NULL);
    assert_ok(&a);
    assert_type_at(&a, "topic/title", LV_JSON_NULL);
    assert_type_at(&a, "topic/updated_at", LV_JSON_NULL);
    assert_int_at(&a, "topic/versions", 0);
    assert_int_equal(count_at(&a, "history"), 0);
    assert_int_at(&a, "entry_count", 1);
    assert_str_at(&a, "entries/0/id", "201");
    done(&a);
}

static void test_conversation(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_CONVERSATION, 50, NULL);
    assert_ok(&a);
    char want[2048];
    snprintf(want, sizeof want,
             "{\"conversation\":{\"conversation_id\":\"50\",\"created_at\":\"%s\",\"created_by\":\"2\","
             "\"updated_at\":\"%s\"},\"timeline\":["
             "{\"type\":\"message\",\"message_id\":\"501\",\"author_id\":\"2\",\"created_at\":\"%s\",\"event_time\":\"%s\"},"
             "{\"type\":\"forwarded\",\"user_id\":\"2\",\"updated_at\":\"%s\",\"event_time\":\"%s\"},"
             "{\"type\":\"message\",\"message_id\":\"502\",\"author_id\":\"3\",\"created_at\":\"%s\",\"event_time\":\"%s\"}],"
             "\"message_count\":2,\"forward_count\":1}",
             iso(T0), iso(T0 + 3 * MINUTE), iso(T0 + MINUTE), iso(T0 + MINUTE), iso(T0 + 2 * MINUTE),
             iso(T0 + 2 * MINUTE), iso(T0 + 3 * MINUTE), iso(T0 + 3 * MINUTE));
    assert_string_equal(a.text.data, want);
    done(&a);
}

static void test_course(void **state)
{
    (void)state;
    answer a;
    lv_query_window win = { .has_until = true, .until_ms = T0 + 24 * HOUR, .now_ms = T0 + 24 * HOUR };
    ask_window(&a, store, Q_COURSE, COURSE, NULL, &win);
    assert_ok(&a);
    assert_str_at(&a, "course_id", "5");
    assert_type_at(&a, "since", LV_JSON_NULL);
    assert_str_at(&a, "until", iso(T0 + 24 * HOUR));
    /* topics by entries, most first */
    assert_int_equal(count_at(&a, "topics"), 2);
    assert_str_at(&a, "topics/0/discussion_topic_id", "10");
    assert_int_at(&a, "topics/0/entries", 4);
    assert_str_at(&a, "topics/0/last_entry_at", iso(T0 + 5 * HOUR));
    assert_false(at(&a, "topics/0/graded")->boolean);
    assert_str_at(&a, "topics/1/discussion_topic_id", "20");
    assert_int_at(&a, "topics/1/entries", 1);
    /* users by role: students 2 and 3, teacher 1 */
    assert_int_at(&a, "users_by_role/StudentEnrollment/users", 2);
    assert_int_at(&a, "users_by_role/TeacherEnrollment/users", 1);
    assert_true(lv_json_key_is(at(&a, "users_by_role")->child, "StudentEnrollment"));
    /* one day of activity: 3 topic events and 5 entries */
    assert_int_equal(count_at(&a, "activity"), 1);
    assert_str_at(&a, "activity/0/day", "2024-09-02");
    assert_int_at(&a, "activity/0/events/discussion_entry_created", 5);
    assert_int_at(&a, "activity/0/total", 8);
    /* student posts no teacher answered, oldest first: 101 has a teacher's reply */
    assert_int_at(&a, "unanswered_count", 3);
    assert_str_at(&a, "unanswered/0/entry_id", "103");
    assert_str_at(&a, "unanswered/0/topic_title", "Photosynthesis (week 2)");
    assert_str_at(&a, "unanswered/0/preview", "Me too.");
    assert_int_at(&a, "unanswered/0/waiting_seconds", 20 * 3600);
    assert_str_at(&a, "unanswered/1/entry_id", "104");
    assert_str_at(&a, "unanswered/2/entry_id", "201");
    assert_type_at(&a, "unanswered/2/topic_title", LV_JSON_NULL);
    done(&a);

    /* a page of one, after the first */
    win.limit = 1;
    win.offset = 1;
    ask_window(&a, store, Q_COURSE, COURSE, NULL, &win);
    assert_ok(&a);
    assert_int_equal(count_at(&a, "topics"), 1);
    assert_str_at(&a, "topics/0/discussion_topic_id", "20");
    assert_int_equal(count_at(&a, "unanswered"), 1);
    assert_str_at(&a, "unanswered/0/entry_id", "104");
    assert_int_at(&a, "unanswered_count", 3);
    done(&a);

    ask(&a, Q_COURSES, 0, NULL);
    assert_ok(&a);
    assert_int_equal(count_at(&a, "courses"), 1);
    assert_str_at(&a, "courses/0/course_id", "5");
    assert_int_at(&a, "courses/0/events", 8);
    assert_str_at(&a, "courses/0/first_day", "2024-09-02");
    assert_int_at(&a, "courses/0/topics", 2);
    assert_int_at(&a, "courses/0/users", 3);
    done(&a);
}

static void test_user(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_USER, 2, NULL);
    assert_ok(&a);
    assert_str_at(&a, "user_id", "2");
    assert_int_equal(count_at(&a, "entries"), 2);
    assert_str_at(&a, "entries/0/id", "101");
    assert_str_at(&a, "entries/0/topic_id", "10");
    assert_str_at(&a, "entries/0/topic_title", "Photosynthesis (week 2)");
    assert_str_at(&a, "entries/0/course_id", "5");
    assert_type_at(&a, "entries/0/parent_id", LV_JSON_NULL);
    assert_str_at(&a, "entries/1/id", "201");
    assert_type_at(&a, "entries/1/topic_title", LV_JSON_NULL);
    assert_int_equal(count_at(&a, "messages"), 1);
    assert_str_at(&a, "messages/0/message_id", "501");
    assert_str_at(&a, "messages/0/conversation_id", "50");
    assert_int_equal(count_at(&a, "topics"), 0);
    assert_int_equal(count_at(&a, "conversations_started"), 1);
    assert_str_at(&a, "conversations_started/0/conversation_id", "50");
    done(&a);

    ask(&a, Q_USER, 1, NULL);
    assert_ok(&a);
    assert_int_equal(count_at(&a, "topics"), 1);
    assert_str_at(&a, "topics/0/discussion_topic_id", "10");
    assert_str_at(&a, "topics/0/title", "Photosynthesis (week 2)");
    assert_str_at(&a, "entries/0/parent_id", "101");
    done(&a);
}

static void test_search(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_SEARCH, 0, "Chlorophyll");
    assert_ok(&a);
    assert_str_at(&a, "query", "Chlorophyll");
    assert_str_at(&a, "terms/0", "Chlorophyll");
    assert_int_equal(count_at(&a, "results"), 1);
    assert_str_at(&a, "results/0/kind", "entry");
    assert_str_at(&a, "results/0/entry_id", "101");
    assert_str_at(&a, "results/0/topic_id", "10");
    assert_str_at(&a, "results/0/course_id", "5");
    assert_str_at(&a, "results/0/snippet", "What about chlorophyll?");
    assert_type_at(&a, "results/0/rank", LV_JSON_NUMBER);
    done(&a);

    /* a prefix and a phrase: the topic (title and body) ranks; its old titles are not indexed */
    ask(&a, Q_SEARCH, 0, "leav* \"water and\"");
    assert_ok(&a);
    assert_int_equal(count_at(&a, "terms"), 3);
    assert_int_equal(count_at(&a, "results"), 1);
    assert_str_at(&a, "results/0/kind", "topic");
    assert_str_at(&a, "results/0/topic_id", "10");
    assert_absent(&a, "results/0/entry_id");
    assert_str_at(&a, "results/0/snippet", "Photosynthesis (week 2): Light, water and leaves.");
    done(&a);

    ask(&a, Q_SEARCH, 0, "\"leaves green\"");
    assert_ok(&a);
    assert_int_equal(count_at(&a, "results"), 1);
    assert_str_at(&a, "results/0/entry_id", "104");
    done(&a);

    /* in another course there is nothing */
    ask(&a, Q_SEARCH, 6, "leaves");
    assert_ok(&a);
    assert_int_equal(count_at(&a, "results"), 0);
    done(&a);

    ask(&a, Q_SEARCH, 0, "*** \"\" !");
    assert_int_equal(a.st, LV_EINVAL);
    assert_string_equal(a.err.msg, "\"*** \"\" !\" has no words to search for");
    done(&a);
}

static void test_stats(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_STATS, 0, NULL);
    assert_ok(&a);
    assert_int_at(&a, "events", N_EVENTS);
    assert_int_at(&a, "duplicates", 0);
    assert_int_at(&a, "dead_letters", 0);
    assert_int_at(&a, "by_event/discussion_entry_created/canvas", 5);
    assert_int_at(&a, "by_event/discussion_entry_created/total", 5);
    assert_true(lv_json_key_is(at(&a, "by_event")->child, "discussion_entry_created"));
    assert_int_at(&a, "outside_model", 0);
    assert_int_at(&a, "by_format/canvas", N_EVENTS);
    assert_int_at(&a, "by_format/caliper", 0);
    assert_str_at(&a, "first_event_time", iso(T0));
    assert_str_at(&a, "last_event_time", iso(T0 + 330 * MINUTE));
    assert_true(at(&a, "bytes_on_disk")->str[0] != '0');
    done(&a);
}

static void test_not_found(void **state)
{
    (void)state;
    answer a;
    ask(&a, Q_TOPIC, 999999, NULL);
    assert_not_found(&a, "there is no discussion topic 999999 in %s");
    done(&a);
    ask(&a, Q_CONVERSATION, 51, NULL);
    assert_not_found(&a, "there is no conversation 51 in %s");
    done(&a);
    ask(&a, Q_COURSE, 6, NULL);
    assert_not_found(&a, "there is no course 6 in %s");
    done(&a);
    ask(&a, Q_USER, 77, NULL);
    assert_not_found(&a, "user 77 has posted and sent nothing in %s");
    done(&a);
    /* a user who did something, but nothing in the window, is not "not found" */
    lv_query_window win = { .has_since = true, .since_ms = T0 + 48 * HOUR };
    ask_window(&a, store, Q_USER, 2, NULL, &win);
    assert_ok(&a);
    assert_int_equal(count_at(&a, "entries"), 0);
    done(&a);
}

/* ---- a damaged store ---- */

/* Copies the (checkpointed) store to path and overwrites the root page of every table and index
 * but the event names (read when the store opens) with garbage; page 1 (SQLite's header and
 * schema) is left alone, so the store opens and each question meets the damage. */
static void make_damaged_copy(const char *from, const char *to)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(from, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT rootpage FROM sqlite_schema WHERE rootpage > 1"
                                            " AND tbl_name <> 'names'", -1, &st, NULL), SQLITE_OK);
    int64_t roots[128];
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW && n < 128)
        roots[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t page = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_true(n > 10);

    size_t len = 0;
    char *bytes = read_file(from, &len);
    assert_non_null(bytes);
    for (size_t i = 0; i < n; i++) {
        assert_true((size_t)(roots[i] * page) <= len);
        memset(bytes + (roots[i] - 1) * page, 0xA5, (size_t)page);
    }
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
}

static lv_status ignore_document(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)ctx, (void)raw, (void)len, (void)err;
    return LV_OK;
}

static void assert_damaged(const answer *a, const char *path)
{
    if (a->st != LV_EDAMAGED)
        fprintf(stderr, "status %d: %s\n", (int)a->st, a->err.msg);
    if (getenv("LEVEE_TEST_VERBOSE"))
        fprintf(stderr, "%s\n", a->err.msg);
    assert_int_equal(a->st, LV_EDAMAGED);
    assert_non_null(strstr(a->err.msg, path));
    assert_non_null(strstr(a->err.msg, "damaged"));
}

static void test_damaged_store(void **state)
{
    (void)state;
    lv_store_close(store); /* the last connection checkpoints its WAL */
    store = NULL;
    char damaged[300];
    snprintf(damaged, sizeof damaged, "%s-damaged", store_path);
    make_damaged_copy(store_path, damaged);

    lv_store *s;
    lv_error err;
    lv_store_options ro = { .read_only = true, .one_shot = true };
    lv_status st = lv_store_open(damaged, &ro, &s, &err);
    if (st != LV_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, LV_OK);
    static const struct { question q; uint64_t id; const char *text; } questions[] = {
        { Q_STATS, 0, NULL }, { Q_TOPIC, 10, NULL }, { Q_TOPIC, 999999, NULL }, { Q_CONVERSATION, 50, NULL },
        { Q_CONVERSATION, 51, NULL }, { Q_COURSE, COURSE, NULL }, { Q_COURSE, 6, NULL }, { Q_USER, 2, NULL },
        { Q_USER, 77, NULL }, { Q_COURSES, 0, NULL }, { Q_SEARCH, 0, "leaves" },
    };
    for (size_t i = 0; i < sizeof questions / sizeof *questions; i++) {
        answer a;
        ask_window(&a, s, questions[i].q, questions[i].id, questions[i].text, NULL);
        assert_damaged(&a, damaged);
        done(&a);
    }
    lv_export_filter all = { 0 };
    assert_int_equal(lv_store_export(s, &all, ignore_document, NULL, &err), LV_EDAMAGED);
    assert_non_null(strstr(err.msg, damaged));
    lv_store_close(s);
    remove_store(damaged);

    assert_int_equal(lv_store_open(store_path, NULL, &store, &err), LV_OK); /* for teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_current_version_and_history),
        cmocka_unit_test(test_topic_reply_tree),
        cmocka_unit_test(test_conversation),
        cmocka_unit_test(test_course),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_damaged_store),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
