/* test_render.c: the renderer (levee/render.h), text checked exactly: the table writer (columns
 * sized to the widest cell in characters, not bytes; a rule under the header; cells cut with "..."
 * on a character boundary; control characters replaced by spaces; no trailing spaces); each answer
 * rendered from JSON written here in the shapes of docs/api.md (a topic with a reply tree three
 * levels deep, roles, a reply whose parent is missing, long text cut, HTML shown as text, a graded
 * announcement; a topic known only from its entries; a conversation whose creation was not received;
 * a course with a window, announcements, a long title, control characters in a title, waiting times
 * in hours and in days; a user; the list of courses, empty or not; search results and no results;
 * the figures, of a full store and of an empty one), with null fields; and the same renderers over
 * the answers lv_query_* give for a small temporary store. */
#include "testing.h"

#include "levee/engines.h"
#include "levee/query.h"
#include "levee/render.h"
#include "levee/timestamp.h"

#include <unistd.h>

/* ---- rendering ---- */

typedef enum { R_STATS, R_TOPIC, R_CONVERSATION, R_COURSE, R_USER, R_COURSES, R_SEARCH } renderer;

static void render_json(renderer r, const char *json, size_t len, lv_buf *out)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_error err;
    if (lv_json_parse(&a, json, len, &root, &err) != LV_OK)
        fail_msg("the test's JSON does not parse: %s", err.msg);
    switch (r) {
    case R_STATS: lv_render_stats(root, out); break;
    case R_TOPIC: lv_render_topic(root, out); break;
    case R_CONVERSATION: lv_render_conversation(root, out); break;
    case R_COURSE: lv_render_course(root, out); break;
    case R_USER: lv_render_user(root, out); break;
    case R_COURSES: lv_render_courses(root, out); break;
    case R_SEARCH: lv_render_search(root, out); break;
    }
    lv_arena_free(&a);
}

/* Renders json with r: the text must be want. */
static void assert_render(renderer r, const char *json, const char *want)
{
    lv_buf out;
    lv_buf_init(&out);
    render_json(r, json, strlen(json), &out);
    assert_string_equal(out.data ? out.data : "", want);
    lv_buf_free(&out);
}

/* Renders json with r: its lines must be lines (n of them); a NULL line is not checked here. */
static void assert_render_lines(renderer r, const char *json, const char *const *lines, size_t n)
{
    lv_buf out;
    lv_buf_init(&out);
    render_json(r, json, strlen(json), &out);
    const char *p = out.data ? out.data : "";
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, '\n');
        if (!end)
            fail_msg("line %zu is missing in:\n%s", i + 1, out.data);
        if (lines[i] && ((size_t)(end - p) != strlen(lines[i]) || memcmp(p, lines[i], (size_t)(end - p)) != 0))
            fail_msg("line %zu is \"%.*s\", not \"%s\"", i + 1, (int)(end - p), p, lines[i]);
        p = end + 1;
    }
    assert_string_equal(p, "");
    lv_buf_free(&out);
}

/* ---- the table writer ---- */

static void test_table(void **state)
{
    (void)state;
    lv_table *t = lv_table_new(3, 10);
    lv_table_row(t, (const char *[]){ "name", "count", "note" });
    lv_table_row(t, (const char *[]){ "\xc3\xa9t\xc3\xa9", "1", NULL });         /* "été": 3 characters, 5 bytes */
    lv_table_row(t, (const char *[]){ "a\tb\nc\x1b", "12345", "this is far too long" }); /* cut to 10 */
    lv_table_row(t, (const char *[]){ "x", "", "end" });
    /* 13 "é" (26 bytes): cut after 7 of them, not inside one */
    lv_table_row(t, (const char *[]){ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                      "\xc3\xa9\xc3\xa9\xc3\xa9", "\r", "exactly 10" });
    lv_buf out;
    lv_buf_init(&out);
    lv_table_write(t, &out);
    lv_table_free(t);
    assert_string_equal(out.data,
                        "name        count  note\n"
                        "----------  -----  ----------\n"
                        "\xc3\xa9t\xc3\xa9         1\n"
                        "a b c       12345  this is...\n"
                        "x                  end\n"
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...         exactly 10\n");
    lv_buf_free(&out);

    /* a header alone; one column; appending to what the buffer holds */
    t = lv_table_new(1, 40);
    lv_table_row(t, (const char *[]){ "only" });
    lv_buf_init(&out);
    lv_buf_puts(&out, "before\n");
    lv_table_write(t, &out);
    lv_table_free(t);
    assert_string_equal(out.data, "before\nonly\n----\n");
    lv_buf_free(&out);
    lv_table_free(NULL);
}

/* ---- answers written here ---- */

static const char topic_answer[] =
    "{\"topic\":{\"discussion_topic_id\":\"21070000000000010\",\"title\":\"Cells & tissues\","
    "\"body\":\"<p>Read chapter&nbsp;3.</p>\\n<p>Then   answer.</p>\",\"is_announcement\":true,"
    "\"assignment_id\":\"21070000000000777\",\"context_id\":\"21070000000000005\",\"context_type\":\"Course\","
    "\"workflow_state\":\"active\",\"lock_at\":null,\"updated_at\":\"2024-09-02T18:08:20.000Z\","
    "\"created_at\":\"2024-09-02T18:00:00.000Z\",\"created_by\":\"21070000000000001\",\"versions\":3},"
    "\"history\":[],"
    "\"entries\":["
    " {\"id\":\"101\",\"user_id\":\"2\",\"created_at\":\"2024-09-02T19:00:00.000Z\",\"text\":\"<p>First post</p>\","
    "  \"role\":\"StudentEnrollment\",\"assignment_id\":\"777\",\"submission_id\":\"9\",\"replies\":["
    "   {\"id\":\"102\",\"user_id\":\"1\",\"created_at\":\"2024-09-02T19:30:00.000Z\",\"text\":\"<p>A teacher's answer</p>\","
    "    \"role\":\"TeacherEnrollment\",\"parent_id\":\"101\",\"replies\":["
    "     {\"id\":\"103\",\"user_id\":\"4\",\"created_at\":\"2024-09-02T20:00:00.000Z\","
    "      \"text\":\"<div>A TA,<br>one level deeper</div>\",\"role\":\"TaEnrollment\",\"parent_id\":\"102\",\"replies\":[]}]},"
    "   {\"id\":\"104\",\"user_id\":\"5\",\"created_at\":\"2024-09-02T21:00:00.000Z\",\"text\":\"<p>An observer</p>\","
    "    \"role\":\"ObserverRole\",\"parent_id\":\"101\",\"replies\":[]}]},"
    " {\"id\":\"105\",\"user_id\":\"3\",\"created_at\":\"2024-09-03T08:15:00.000Z\",\"text\":\"<p>0123456789 0123456789 "
    "0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789</p>\","
    "  \"role\":\"Enrollment\",\"parent_id\":\"999\",\"parent_missing\":true,\"replies\":[]}],"
    "\"entry_count\":5}";

static void test_topic(void **state)
{
    (void)state;
    assert_render(R_TOPIC, topic_answer,
                  "Cells & tissues\n"
                  "topic 21070000000000010 in Course 21070000000000005, active, announcement, 5 entries\n"
                  "graded: assignment 21070000000000777\n"
                  "created 2024-09-02 18:00 by user 21070000000000001, updated 2024-09-02 18:08, 3 version(s)\n"
                  "\n"
                  "Read chapter 3. Then answer.\n"
                  "\n"
                  "Replies\n"
                  "- 2024-09-02 19:00  user 2  [entry 101] Student\n"
                  "  First post\n"
                  "  - 2024-09-02 19:30  user 1  [entry 102] Teacher\n"
                  "    A teacher's answer\n"
                  "    - 2024-09-02 20:00  user 4  [entry 103] Ta\n"
                  "      A TA, one level deeper\n"
                  "  - 2024-09-02 21:00  user 5  [entry 104]\n"
                  "    An observer\n"
                  "- 2024-09-03 08:15  user 3  [entry 105]  (reply to an entry not received yet)\n"
                  /* 100 characters at most: 97 and "..." */
                  "  0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 0123456789 "
                  "012345678...\n");

    /* a long body: 400 characters at most */
    char long_body[2048];
    int n = snprintf(long_body, sizeof long_body,
                     "{\"topic\":{\"discussion_topic_id\":\"7\",\"title\":\"T\",\"body\":\"<p>");
    for (int i = 0; i < 45; i++)
        n += snprintf(long_body + n, sizeof long_body - (size_t)n, "word%04d ", i); /* 9 characters each */
    snprintf(long_body + n, sizeof long_body - (size_t)n,
             "</p>\",\"is_announcement\":false,\"assignment_id\":null,\"context_id\":\"5\",\"context_type\":\"Course\","
             "\"workflow_state\":\"unpublished\",\"lock_at\":null,\"updated_at\":\"2024-09-02T18:00:00.000Z\","
             "\"created_at\":\"2024-09-02T18:00:00.000Z\",\"created_by\":\"1\",\"versions\":1},\"history\":[],"
             "\"entries\":[],\"entry_count\":0}");
    lv_buf want;
    lv_buf_init(&want);
    lv_buf_puts(&want, "T\ntopic 7 in Course 5, unpublished, 0 entries\n"
                       "created 2024-09-02 18:00 by user 1, updated 2024-09-02 18:00, 1 version(s)\n\n");
    for (int i = 0; i < 44; i++) /* 396 characters, then "...": 397 to cut at, the 45th word's first */
        lv_buf_printf(&want, "word%04d ", i);
    lv_buf_puts(&want, "w...\n\nReplies\n(none)\n");
    assert_render(R_TOPIC, long_body, want.data);
    lv_buf_free(&want);
}

static void test_topic_known_from_entries(void **state)
{
    (void)state;
    /* a topic known only from its entries: title, body, creation and update are null */
    static const char answer[] =
        "{\"topic\":{\"discussion_topic_id\":\"20\",\"title\":null,\"body\":null,\"is_announcement\":null,"
        "\"assignment_id\":null,\"context_id\":\"5\",\"context_type\":\"Course\",\"workflow_state\":null,\"lock_at\":null,"
        "\"updated_at\":null,\"created_at\":null,\"created_by\":null,\"versions\":0},\"history\":[],"
        "\"entries\":[{\"id\":\"201\",\"user_id\":\"2\",\"created_at\":\"2024-09-02T23:30:00.000Z\","
        "\"text\":\"<p>First!</p>\",\"role\":\"StudentEnrollment\",\"replies\":[]}],\"entry_count\":1}";
    static const char *const lines[] = {
        "(title not received yet)",
        "topic 20 in Course 5, 1 entries",
        NULL, /* "creation not received, updated , 0 version(s)": see the report on null fields */
        "",
        "Replies",
        "- 2024-09-02 23:30  user 2  [entry 201] Student",
        "  First!",
    };
    assert_render_lines(R_TOPIC, answer, lines, sizeof lines / sizeof *lines);
    /* the third line starts as it should */
    lv_buf out;
    lv_buf_init(&out);
    render_json(R_TOPIC, answer, strlen(answer), &out);
    assert_non_null(strstr(out.data, "\ncreation not received, "));
    assert_non_null(strstr(out.data, " 0 version(s)\n"));
    lv_buf_free(&out);
    /* no topic member at all */
    assert_render_lines(R_TOPIC, "{\"entries\":[]}",
                        (const char *const[]){ "(title not received yet)", NULL, NULL, "", "Replies", "(none)" }, 6);
}

static void test_conversation(void **state)
{
    (void)state;
    assert_render(R_CONVERSATION,
                  "{\"conversation\":{\"conversation_id\":\"50\",\"created_at\":\"2024-09-02T18:00:00.000Z\","
                  "\"created_by\":\"2\",\"updated_at\":\"2024-09-02T18:30:00.000Z\"},\"timeline\":["
                  "{\"type\":\"message\",\"message_id\":\"501\",\"author_id\":\"2\",\"created_at\":\"2024-09-02T18:01:00.000Z\","
                  "\"event_time\":\"2024-09-02T18:01:00.000Z\"},"
                  "{\"type\":\"forwarded\",\"user_id\":\"21070000000000007\",\"updated_at\":\"2024-09-02T18:02:00.000Z\","
                  "\"event_time\":\"2024-09-02T18:02:00.000Z\"},"
                  "{\"type\":\"message\",\"message_id\":\"21070000000000502\",\"author_id\":\"3\","
                  "\"created_at\":\"2024-09-02T18:30:00.000Z\",\"event_time\":\"2024-09-02T18:30:00.000Z\"}],"
                  "\"message_count\":2,\"forward_count\":1}",
                  "conversation 50, started 2024-09-02 18:00 by user 2\n"
                  "when              what                       who\n"
                  "----------------  -------------------------  ----------------------\n"
                  "2024-09-02 18:01  message 501                user 2\n"
                  "2024-09-02 18:02  users added (forwarded)    user 21070000000000007\n"
                  "2024-09-02 18:30  message 21070000000000502  user 3\n");
    /* its creation not received; an empty timeline */
    assert_render(R_CONVERSATION,
                  "{\"conversation\":{\"conversation_id\":\"51\",\"created_at\":null,\"created_by\":null,"
                  "\"updated_at\":null},\"timeline\":[],\"message_count\":0,\"forward_count\":0}",
                  "conversation 51 (its creation was not received)\n"
                  "when  what  who\n"
                  "----  ----  ---\n");
}

static const char course_answer[] =
    "{\"course_id\":\"5\",\"since\":\"2024-09-01T00:00:00.000Z\",\"until\":\"2024-10-01T00:00:00.000Z\","
    "\"topics\":[{\"discussion_topic_id\":\"10\",\"title\":\"Photosynthesis\",\"is_announcement\":false,"
    "\"workflow_state\":\"active\",\"graded\":true,\"entries\":12,\"last_entry_at\":\"2024-09-20T10:05:00.000Z\","
    "\"created_at\":\"2024-09-02T18:00:00.000Z\"},"
    "{\"discussion_topic_id\":\"11\",\"title\":\"Welcome to the course: read this first, all of it, before the first "
    "week starts\",\"is_announcement\":true,\"workflow_state\":\"active\",\"graded\":false,\"entries\":0,"
    "\"last_entry_at\":null,\"created_at\":\"2024-09-01T08:00:00.000Z\"},"
    "{\"discussion_topic_id\":\"12\",\"title\":\"Tab\\there\\u001b[31m\",\"is_announcement\":null,\"workflow_state\":null,"
    "\"graded\":false,\"entries\":1,\"last_entry_at\":\"2024-09-03T00:00:00.000Z\",\"created_at\":null}],"
    "\"users_by_role\":{\"StudentEnrollment\":{\"users\":25,\"events\":310},\"TeacherEnrollment\":{\"users\":1,"
    "\"events\":42}},"
    "\"activity\":[{\"day\":\"2024-09-02\",\"events\":{\"discussion_entry_created\":5,\"discussion_topic_created\":1},"
    "\"total\":6},{\"day\":\"2024-09-03\",\"events\":{\"discussion_entry_created\":1},\"total\":1}],"
    "\"unanswered\":[{\"entry_id\":\"103\",\"topic_id\":\"10\",\"topic_title\":\"Photosynthesis\",\"user_id\":\"3\","
    "\"created_at\":\"2024-09-02T22:00:00.000Z\",\"waiting_seconds\":93784,\"preview\":\"Me too.\"},"
    "{\"entry_id\":\"201\",\"topic_id\":\"12\",\"topic_title\":null,\"user_id\":\"2\","
    "\"created_at\":\"2024-09-03T00:00:00.000Z\",\"waiting_seconds\":11100,\"preview\":\"First!\"}],"
    "\"unanswered_count\":7}";

static void test_course(void **state)
{
    (void)state;
    assert_render(R_COURSE, course_answer,
                  "course 5 since 2024-09-01T00:00:00.000Z until 2024-10-01T00:00:00.000Z\n"
                  "\n"
                  "Topics\n"
                  "topic  title                                               entries  last entry        state\n"
                  "-----  --------------------------------------------------  -------  ----------------  "
                  "---------------------\n"
                  "10     Photosynthesis                                      12       2024-09-20 10:05  active\n"
                  "11     Welcome to the course: read this first, all of ...  0                          "
                  "active (announcement)\n"
                  "12     Tab here [31m                                       1        2024-09-03 00:00\n"
                  "\n"
                  "Active users by role\n"
                  "role               users  events\n"
                  "-----------------  -----  ------\n"
                  "StudentEnrollment  25     310\n"
                  "TeacherEnrollment  1      42\n"
                  "\n"
                  "Activity per day\n"
                  "day         events  by event\n"
                  "----------  ------  ------------------------------------------------------\n"
                  "2024-09-02  6       discussion_entry_created 5, discussion_topic_created 1\n"
                  "2024-09-03  1       discussion_entry_created 1\n"
                  "\n"
                  "Student posts no teacher or TA has answered\n"
                  "posted            waiting    user  topic           post\n"
                  "----------------  ---------  ----  --------------  -------\n"
                  "2024-09-02 22:00  1 d 2 h    3     Photosynthesis  Me too.\n"
                  "2024-09-03 00:00  3 h 5 min  2                     First!\n"
                  "7 unanswered\n");
    /* no window, nothing in it */
    assert_render(R_COURSE,
                  "{\"course_id\":\"6\",\"since\":null,\"until\":null,\"topics\":[],\"users_by_role\":{},"
                  "\"activity\":[],\"unanswered\":[],\"unanswered_count\":0}",
                  "course 6\n\nTopics\ntopic  title  entries  last entry  state\n"
                  "-----  -----  -------  ----------  -----\n"
                  "\nActive users by role\nrole  users  events\n----  -----  ------\n"
                  "\nActivity per day\nday  events  by event\n---  ------  --------\n"
                  "\nStudent posts no teacher or TA has answered\n"
                  "posted  waiting  user  topic  post\n------  -------  ----  -----  ----\n0 unanswered\n");
}

static void test_user(void **state)
{
    (void)state;
    assert_render(R_USER,
                  "{\"user_id\":\"2\",\"since\":null,\"until\":null,"
                  "\"entries\":[{\"id\":\"101\",\"topic_id\":\"10\",\"topic_title\":\"Photosynthesis\",\"course_id\":\"5\","
                  "\"created_at\":\"2024-09-02T20:00:00.000Z\",\"text\":\"<p>What about chlorophyll? It is a long question "
                  "that goes on and on for more than sixty characters.</p>\",\"parent_id\":null,\"role\":\"StudentEnrollment\"},"
                  "{\"id\":\"201\",\"topic_id\":\"20\",\"topic_title\":null,\"course_id\":\"5\","
                  "\"created_at\":\"2024-09-02T23:30:00.000Z\",\"text\":null,\"parent_id\":\"101\",\"role\":null}],"
                  "\"messages\":[{\"message_id\":\"501\",\"conversation_id\":\"50\",\"created_at\":\"2024-09-02T18:01:00.000Z\"}],"
                  "\"topics\":[{\"discussion_topic_id\":\"10\",\"title\":\"Photosynthesis\",\"course_id\":\"5\","
                  "\"created_at\":\"2024-09-02T18:00:00.000Z\"}],\"conversations_started\":[]}",
                  "user 2\n"
                  "\n"
                  "Discussion posts\n"
                  "posted            course  topic           text\n"
                  "----------------  ------  --------------  ------------------------------------------------------------\n"
                  "2024-09-02 20:00  5       Photosynthesis  What about chlorophyll? It is a long question that goes o...\n"
                  "2024-09-02 23:30  5\n"
                  "\n"
                  "Topics created\n"
                  "created           course  title\n"
                  "----------------  ------  --------------\n"
                  "2024-09-02 18:00  5       Photosynthesis\n"
                  "\n"
                  "Conversation messages sent\n"
                  "sent              conversation  message\n"
                  "----------------  ------------  -------\n"
                  "2024-09-02 18:01  50            501\n");
}

static void test_courses(void **state)
{
    (void)state;
    assert_render(R_COURSES,
                  "{\"courses\":[{\"course_id\":\"21070000000000005\",\"events\":1234,\"first_day\":\"2024-09-02\","
                  "\"last_day\":\"2024-12-20\",\"topics\":17,\"users\":250},{\"course_id\":\"6\",\"events\":3,"
                  "\"first_day\":\"2024-09-03\",\"last_day\":\"2024-09-03\",\"topics\":0,\"users\":1}]}",
                  "course             events  topics  users  first day   last day\n"
                  "-----------------  ------  ------  -----  ----------  ----------\n"
                  "21070000000000005  1234    17      250    2024-09-02  2024-12-20\n"
                  "6                  3       0       1      2024-09-03  2024-09-03\n");
    assert_render(R_COURSES, "{\"courses\":[]}",
                  "course  events  topics  users  first day  last day\n"
                  "------  ------  ------  -----  ---------  --------\n");
}

static void test_search(void **state)
{
    (void)state;
    assert_render(R_SEARCH, "{\"query\":\"x\",\"terms\":[\"x\"],\"results\":[]}", "no matches\n");
    assert_render(R_SEARCH, "{\"query\":\"x\"}", "no matches\n");
    assert_render(R_SEARCH,
                  "{\"query\":\"leaves\",\"terms\":[\"leaves\"],\"results\":[{\"kind\":\"entry\",\"entry_id\":\"104\","
                  "\"topic_id\":\"10\",\"topic_title\":\"Photosynthesis\",\"course_id\":\"5\",\"user_id\":\"3\","
                  "\"created_at\":\"2024-09-02T23:00:00.000Z\",\"rank\":-1.2,\"snippet\":\"Why are leaves green?\"},"
                  "{\"kind\":\"entry\",\"entry_id\":\"105\",\"topic_id\":\"10\",\"topic_title\":\"Photosynthesis\","
                  "\"course_id\":\"5\",\"user_id\":\"4\",\"created_at\":\"2024-09-03T09:00:00.000Z\",\"rank\":-1.1,"
                  "\"snippet\":\"Leaves, again.\"}]}",
                  "entry 104  2024-09-02 23:00  course 5  user 3\n"
                  "  in \"Photosynthesis\"\n"
                  "  Why are leaves green?\n"
                  "\n"
                  "entry 105  2024-09-03 09:00  course 5  user 4\n"
                  "  in \"Photosynthesis\"\n"
                  "  Leaves, again.\n"
                  "\n");
    /* a topic: no user */
    assert_render_lines(R_SEARCH,
                        "{\"results\":[{\"kind\":\"topic\",\"topic_id\":\"10\",\"topic_title\":\"Photosynthesis\","
                        "\"course_id\":\"5\",\"user_id\":null,\"created_at\":\"2024-09-02T18:00:00.000Z\",\"rank\":-0.8,"
                        "\"snippet\":\"Photosynthesis: Light and leaves.\"}]}",
                        (const char *const[]){ NULL, /* see the report: it ends in two spaces */
                                               "  in \"Photosynthesis\"", "  Photosynthesis: Light and leaves.", "" },
                        4);
    lv_buf out;
    lv_buf_init(&out);
    static const char topic_result[] = "{\"results\":[{\"kind\":\"topic\",\"topic_id\":\"10\",\"course_id\":\"5\","
                                       "\"created_at\":\"2024-09-02T18:00:00.000Z\"}]}";
    render_json(R_SEARCH, topic_result, strlen(topic_result), &out);
    assert_true(strncmp(out.data, "topic 10  2024-09-02 18:00  course 5", 36) == 0);
    assert_null(strstr(out.data, "user"));
    lv_buf_free(&out);
}

static void test_stats(void **state)
{
    (void)state;
    assert_render(R_STATS,
                  "{\"events\":1234567,\"duplicates\":3,\"dead_letters\":2,\"by_event\":{"
                  "\"discussion_entry_created\":{\"canvas\":1000000,\"caliper\":234560,\"total\":1234560},"
                  "\"discussion_topic_created\":{\"canvas\":6,\"caliper\":0,\"total\":6},"
                  "\"asset_accessed\":{\"canvas\":1,\"caliper\":0,\"total\":1}},\"outside_model\":1,"
                  "\"by_format\":{\"canvas\":1000007,\"caliper\":234560},\"first_event_time\":\"2024-09-02T18:00:00.000Z\","
                  "\"last_event_time\":\"2024-12-20T09:30:00.000Z\",\"bytes_on_disk\":385934848,\"bytes_per_event\":312.6,"
                  "\"raw_bytes_per_event\":1.02149e+03,\"dictionaries\":1}",
                  "events            1234567\n"
                  "duplicates        3\n"
                  "dead letters      2\n"
                  "outside the model 1\n"
                  "time span         2024-09-02T18:00:00.000Z .. 2024-12-20T09:30:00.000Z\n"
                  "bytes per event   313 on disk (raw documents: 1021)\n"
                  "\n"
                  "Events by name and format\n"
                  "event                     canvas   caliper  total\n"
                  "------------------------  -------  -------  -------\n"
                  "discussion_entry_created  1000000  234560   1234560\n"
                  "discussion_topic_created  6        0        6\n"
                  "asset_accessed            1        0        1\n");
    /* an empty store: no times */
    static const char *const lines[] = {
        "events            0",
        "duplicates        0",
        "dead letters      0",
        "outside the model 0",
        NULL, /* "time span          .. ", with a trailing space: see the report on null fields */
        "bytes per event   0 on disk (raw documents: 0)",
        "",
        "Events by name and format",
        "event  canvas  caliper  total",
        "-----  ------  -------  -----",
    };
    assert_render_lines(R_STATS,
                        "{\"events\":0,\"duplicates\":0,\"dead_letters\":0,\"by_event\":{},\"outside_model\":0,"
                        "\"by_format\":{\"canvas\":0,\"caliper\":0},\"first_event_time\":null,\"last_event_time\":null,"
                        "\"bytes_on_disk\":4096,\"bytes_per_event\":0,\"raw_bytes_per_event\":0,\"dictionaries\":0}",
                        lines, sizeof lines / sizeof *lines);
}

/* ---- answers from a store ---- */

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define MINUTE 60000LL

static const char *iso(int64_t ms)
{
    static char text[8][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 8];
    lv_time_format(ms, t);
    return t;
}

static void meta(lv_buf *b, const char *name, int64_t minutes, int user, const char *role)
{
    lv_buf_printf(b, "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"", name,
                  iso(T0 + minutes * MINUTE), user);
    if (role)
        lv_buf_printf(b, ",\"context_type\":\"Course\",\"context_id\":\"5\",\"context_role\":\"%s\"", role);
    lv_buf_puts(b, "},\"body\":");
}

static void topic_event(lv_buf *b, const char *name, int64_t minutes, const char *title, const char *body)
{
    meta(b, name, minutes, 1, "TeacherEnrollment");
    lv_buf_printf(b, "{\"assignment_id\":null,\"body\":\"%s\",\"context_id\":\"5\",\"context_type\":\"Course\","
                     "\"discussion_topic_id\":\"10\",\"is_announcement\":false,\"lock_at\":null,\"title\":\"%s\","
                     "\"updated_at\":\"%s\",\"workflow_state\":\"active\"}}\n",
                  body, title, iso(T0 + minutes * MINUTE));
}

static void entry_event(lv_buf *b, int entry, int topic, int user, const char *role, int64_t minutes,
                        const char *text, int parent)
{
    meta(b, "discussion_entry_created", minutes, user, role);
    lv_buf_printf(b, "{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\",\"discussion_topic_id\":\"%d\","
                     "\"text\":\"%s\",\"user_id\":\"%d\"",
                  iso(T0 + minutes * MINUTE), entry, topic, text, user);
    if (parent)
        lv_buf_printf(b, ",\"parent_discussion_entry_id\":\"%d\"", parent);
    lv_buf_puts(b, "}}\n");
}

static lv_store *small_store(char *path)
{
    close(make_temp(path, 256, "render", false));
    lv_store *s;
    lv_error err;
    if (lv_store_open(path, NULL, &s, &err) != LV_OK)
        fail_msg("%s", err.msg);
    lv_buf b;
    lv_buf_init(&b);
    topic_event(&b, "discussion_topic_created", 0, "Photosynthesis", "<p>Light and leaves.</p>");
    topic_event(&b, "discussion_topic_updated", 180, "Photosynthesis (week 2)", "<p>Light, water and leaves.</p>");
    entry_event(&b, 102, 10, 1, "TeacherEnrollment", 150, "<p>It absorbs red and blue light.</p>", 101);
    entry_event(&b, 101, 10, 2, "StudentEnrollment", 120, "<p>What about chlorophyll?</p>", 0);
    entry_event(&b, 103, 10, 3, "StudentEnrollment", 240, "<p>Me too.</p>", 999);
    entry_event(&b, 201, 20, 2, "StudentEnrollment", 330, "<p>First!</p>", 0);
    meta(&b, "conversation_created", 0, 2, NULL);
    lv_buf_printf(&b, "{\"conversation_id\":\"50\",\"updated_at\":\"%s\"}}\n", iso(T0));
    meta(&b, "conversation_message_created", 1, 2, NULL);
    lv_buf_printf(&b, "{\"author_id\":\"2\",\"conversation_id\":\"50\",\"created_at\":\"%s\",\"message_id\":\"501\"}}\n",
                  iso(T0 + MINUTE));
    meta(&b, "conversation_forwarded", 2, 2, NULL);
    lv_buf_printf(&b, "{\"conversation_id\":\"50\",\"updated_at\":\"%s\"}}\n", iso(T0 + 2 * MINUTE));
    lv_reader *r = lv_reader_open_memory(b.data, b.len, "render");
    lv_counts c;
    if (lv_ingest(s, &r, 1, NULL, &c, &err) != LV_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c.stored, 9);
    lv_reader_close(r);
    lv_buf_free(&b);
    return s;
}

typedef enum { Q_TOPIC, Q_CONVERSATION, Q_COURSE, Q_USER, Q_COURSES, Q_SEARCH } question;

/* Asks s, renders the answer with the matching renderer: the text must be want. */
static void assert_answer(lv_store *s, question q, uint64_t id, const char *words, const char *want)
{
    lv_buf json;
    lv_buf_init(&json);
    lv_jw *w = lv_jw_new(&json, false);
    lv_error err;
    lv_query_window win = { .has_until = true, .until_ms = T0 + 6 * 60 * MINUTE, .now_ms = T0 + 6 * 60 * MINUTE };
    lv_status st = LV_OK;
    renderer r = R_TOPIC;
    switch (q) {
    case Q_TOPIC: st = lv_query_topic(s, id, w, &err); r = R_TOPIC; break;
    case Q_CONVERSATION: st = lv_query_conversation(s, id, w, &err); r = R_CONVERSATION; break;
    case Q_COURSE: st = lv_query_course(s, id, &win, w, &err); r = R_COURSE; break;
    case Q_USER: st = lv_query_user(s, id, NULL, w, &err); r = R_USER; break;
    case Q_COURSES: st = lv_query_courses(s, w, &err); r = R_COURSES; break;
    case Q_SEARCH: st = lv_query_search(s, words, 0, &(lv_query_window){ 0 }, w, &err); r = R_SEARCH; break;
    }
    lv_jw_free(w);
    if (st != LV_OK)
        fail_msg("%s", err.msg);
    lv_buf out;
    lv_buf_init(&out);
    render_json(r, json.data, json.len, &out);
    assert_string_equal(out.data, want);
    lv_buf_free(&out);
    lv_buf_free(&json);
}

static void test_answers_from_a_store(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = small_store(path);
    assert_answer(s, Q_TOPIC, 10, NULL,
                  "Photosynthesis (week 2)\n"
                  "topic 10 in Course 5, active, 3 entries\n"
                  "created 2024-09-02 18:00 by user 1, updated 2024-09-02 21:00, 2 version(s)\n"
                  "\n"
                  "Light, water and leaves.\n"
                  "\n"
                  "Replies\n"
                  "- 2024-09-02 20:00  user 2  [entry 101] Student\n"
                  "  What about chlorophyll?\n"
                  "  - 2024-09-02 20:30  user 1  [entry 102] Teacher\n"
                  "    It absorbs red and blue light.\n"
                  "- 2024-09-02 22:00  user 3  [entry 103] Student  (reply to an entry not received yet)\n"
                  "  Me too.\n");
    assert_answer(s, Q_CONVERSATION, 50, NULL,
                  "conversation 50, started 2024-09-02 18:00 by user 2\n"
                  "when              what                     who\n"
                  "----------------  -----------------------  ------\n"
                  "2024-09-02 18:01  message 501              user 2\n"
                  "2024-09-02 18:02  users added (forwarded)  user 2\n");
    assert_answer(s, Q_COURSE, 5, NULL,
                  "course 5 until 2024-09-03T00:00:00.000Z\n"
                  "\n"
                  "Topics\n"
                  "topic  title                    entries  last entry        state\n"
                  "-----  -----------------------  -------  ----------------  ------\n"
                  "10     Photosynthesis (week 2)  3        2024-09-02 22:00  active\n"
                  "20                              1        2024-09-02 23:30\n"
                  "\n"
                  "Active users by role\n"
                  "role               users  events\n"
                  "-----------------  -----  ------\n"
                  "StudentEnrollment  2      3\n"
                  "TeacherEnrollment  1      3\n"
                  "\n"
                  "Activity per day\n"
                  "day         events  by event\n"
                  "----------  ------  ----------------------------------------------------------------------------------\n"
                  "2024-09-02  6       discussion_entry_created 4, discussion_topic_created 1, discussion_topic_updated 1\n"
                  "\n"
                  "Student posts no teacher or TA has answered\n"
                  "posted            waiting     user  topic                    post\n"
                  "----------------  ----------  ----  -----------------------  -------\n"
                  "2024-09-02 22:00  2 h 0 min   3     Photosynthesis (week 2)  Me too.\n"
                  "2024-09-02 23:30  0 h 30 min  2                              First!\n"
                  "2 unanswered\n");
    assert_answer(s, Q_USER, 2, NULL,
                  "user 2\n"
                  "\n"
                  "Discussion posts\n"
                  "posted            course  topic                    text\n"
                  "----------------  ------  -----------------------  -----------------------\n"
                  "2024-09-02 20:00  5       Photosynthesis (week 2)  What about chlorophyll?\n"
                  "2024-09-02 23:30  5                                First!\n"
                  "\n"
                  "Topics created\n"
                  "created  course  title\n"
                  "-------  ------  -----\n"
                  "\n"
                  "Conversation messages sent\n"
                  "sent              conversation  message\n"
                  "----------------  ------------  -------\n"
                  "2024-09-02 18:01  50            501\n");
    assert_answer(s, Q_COURSES, 0, NULL,
                  "course  events  topics  users  first day   last day\n"
                  "------  ------  ------  -----  ----------  ----------\n"
                  "5       6       2       3      2024-09-02  2024-09-02\n");
    assert_answer(s, Q_SEARCH, 0, "chlorophyll",
                  "entry 101  2024-09-02 20:00  course 5  user 2\n"
                  "  in \"Photosynthesis (week 2)\"\n"
                  "  What about chlorophyll?\n"
                  "\n");
    assert_answer(s, Q_SEARCH, 0, "nothing", "no matches\n");
    lv_store_close(s);
    char p[320];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_topic),
        cmocka_unit_test(test_topic_known_from_entries),
        cmocka_unit_test(test_conversation),
        cmocka_unit_test(test_course),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_courses),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_answers_from_a_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
