/* course.c: a course summary as `levee query course` and /api/courses/ID answer it (its topics with
 * their entries in the window, active users by role, activity per day, and student posts no teacher
 * answered), and the list of courses (`levee query courses`, /api/courses). */
#include "answer.h"

#include "levee/text.h"

#include <string.h>

/* ---- topics, roles, activity ---- */

static lv_status write_topic(void *ctx, const lv_course_topic_row *row, lv_error *err)
{
    (void)err;
    lv_jw *w = ctx;
    lv_jw_obj_open(w);
    kv_id_value(w, lv_body_field_names[LV_B_DISCUSSION_TOPIC_ID], row->id);
    kv_text(w, lv_body_field_names[LV_B_TITLE], row->title);
    kv_bool(w, lv_body_field_names[LV_B_IS_ANNOUNCEMENT], row->is_announcement);
    kv_text(w, lv_body_field_names[LV_B_WORKFLOW_STATE], row->workflow_state);
    lv_jw_kv_bool(w, "graded", row->graded);
    lv_jw_kv_int(w, "entries", row->entries);
    kv_time(w, "last_entry_at", row->last_entry_at);
    kv_time(w, lv_body_field_names[LV_B_CREATED_AT], row->created_at);
    lv_jw_obj_close(w);
    return LV_OK;
}

static lv_status write_role(void *ctx, const lv_role_row *row, lv_error *err)
{
    (void)err;
    lv_jw *w = ctx;
    lv_jw_key(w, row->role.p && row->role.n ? row->role.p : "unknown");
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "users", row->users);
    lv_jw_kv_int(w, "events", row->events);
    lv_jw_obj_close(w);
    return LV_OK;
}

/* Rows come by day then name: a day's object is closed when the next day starts. */
typedef struct activity {
    lv_jw *w;
    int64_t day, total;
} activity;

static void close_day(activity *a)
{
    if (a->day == INT64_MIN)
        return;
    lv_jw_obj_close(a->w);
    lv_jw_kv_int(a->w, "total", a->total);
    lv_jw_obj_close(a->w);
}

static lv_status write_activity(void *ctx, const lv_activity_row *row, lv_error *err)
{
    (void)err;
    activity *a = ctx;
    lv_jw *w = a->w;
    if (row->day != a->day) {
        close_day(a);
        a->day = row->day;
        a->total = 0;
        lv_jw_obj_open(w);
        lv_jw_key(w, "day");
        write_day(w, row->day);
        lv_jw_key(w, "events");
        lv_jw_obj_open(w);
    }
    lv_jw_kv_int(w, row->name.p, row->events);
    a->total += row->events;
    return LV_OK;
}

/* ---- unanswered student posts ---- */

static bool is_role(lv_str role, const char *name)
{
    return role.p && strcmp(role.p, name) == 0;
}

static bool is_staff(lv_str role)
{
    return is_role(role, "TeacherEnrollment") || is_role(role, "TaEnrollment");
}

/* A student post in write_unanswered. */
typedef struct student_post {
    int64_t id, topic, user, created;
} student_post;

/* oldest first (longest waiting), then by id */
static int compare_posts(const void *a, const void *b)
{
    const student_post *x = a, *y = b;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef struct posts {
    int64_t since, until;
    student_post *post;
    size_t n_posts, cap_posts;
    int64_t *answered;          /* entries a teacher or TA replied to */
    size_t n_answered, cap_answered;
} posts;

static lv_status add_course_entry(void *ctx, const lv_course_entry_row *row, lv_error *err)
{
    (void)err;
    posts *p = ctx;
    if (is_staff(row->role) && row->parent.set) {
        lv_vec_reserve((void **)&p->answered, &p->cap_answered, p->n_answered + 1, sizeof *p->answered, 256);
        p->answered[p->n_answered++] = row->parent.v;
    }
    if (is_role(row->role, "StudentEnrollment") && row->created_at >= p->since && row->created_at < p->until) {
        lv_vec_reserve((void **)&p->post, &p->cap_posts, p->n_posts + 1, sizeof *p->post, 256);
        p->post[p->n_posts++] = (student_post){ (int64_t)row->id, (int64_t)row->topic, or_zero(row->user_id),
                                                row->created_at };
    }
    return LV_OK;
}

static void write_post(lv_jw *w, const student_post *post, lv_str title, const lv_buf *preview, int64_t now_ms)
{
    lv_jw_obj_open(w);
    kv_id_value(w, "entry_id", (uint64_t)post->id);
    kv_id_value(w, "topic_id", (uint64_t)post->topic);
    lv_jw_kv_cstr(w, "topic_title", title.p);
    kv_id_value(w, lv_body_field_names[LV_B_USER_ID], (uint64_t)post->user);
    lv_jw_key(w, lv_body_field_names[LV_B_CREATED_AT]);
    write_time(w, post->created);
    int64_t waited = (now_ms - post->created) / 1000;
    lv_jw_kv_int(w, "waiting_seconds", waited > 0 ? waited : 0);
    lv_jw_kv_str(w, "preview", preview->data ? preview->data : "", preview->len);
    lv_jw_obj_close(w);
}

/* The page of unanswered posts being written, with the details the engine reads for them. */
typedef struct page {
    lv_jw *w;
    const student_post *const *post;
    lv_buf preview;
    int64_t now_ms;
} page;

static lv_status write_detail(void *ctx, const lv_entry_detail_row *row, lv_error *err)
{
    (void)err;
    page *pg = ctx;
    lv_str title = { NULL, 0 };
    pg->preview.len = 0;
    if (row->found) {
        title = row->title;
        if (row->text.p)
            lv_html_to_text(row->text.p, row->text.n, &pg->preview);
        if (pg->preview.len > 160)
            pg->preview.len = lv_utf8_prefix(pg->preview.data, pg->preview.len, 157);
    }
    write_post(pg->w, pg->post[row->i], title, &pg->preview, pg->now_ms);
    return LV_OK;
}

/* Student posts with no direct reply from a teacher or TA, oldest first. Only the rows shown (one
 * page) have their topic title and text read, all at once, so a course with many posts costs one index
 * scan and one read of the page's entries. */
static lv_status write_unanswered(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w,
                                  lv_error *err)
{
    posts p = { .since = since_of(win), .until = until_of(win) };
    lv_status rc = s->engine->course_entries(s, course, add_course_entry, &p, err);
    id_index done;
    index_init(&done, rc == LV_OK ? p.n_answered : 0);
    for (size_t i = 0; rc == LV_OK && i < p.n_answered; i++)
        index_put(&done, p.answered[i], 1);
    if (rc == LV_OK && p.n_posts > 1)
        qsort(p.post, p.n_posts, sizeof *p.post, compare_posts);
    unsigned limit = limit_of(win), total = 0;
    size_t shown = 0;
    size_t most = p.n_posts < limit ? p.n_posts : limit;
    const student_post **post = lv_xmalloc((most ? most : 1) * sizeof *post);
    uint64_t *ids = lv_xmalloc((most ? most : 1) * sizeof *ids);
    for (size_t i = 0; rc == LV_OK && i < p.n_posts; i++) {
        if (index_get(&done, p.post[i].id) >= 0)
            continue;
        total++;
        if (total <= win->offset || shown >= limit)
            continue;
        post[shown] = &p.post[i];
        ids[shown++] = (uint64_t)p.post[i].id;
    }
    page pg = { .w = w, .post = post, .now_ms = win->now_ms };
    lv_buf_init(&pg.preview);
    lv_jw_key(w, "unanswered");
    lv_jw_arr_open(w);
    if (rc == LV_OK && shown)
        rc = s->engine->entry_details(s, ids, shown, write_detail, &pg, err);
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "unanswered_count", total);
    lv_buf_free(&pg.preview);
    free(post);
    free(ids);
    free(p.post);
    free(p.answered);
    index_free(&done);
    return rc;
}

/* ---- the course ---- */

/* The window as whole UTC days, for the figures kept per day. */
static int64_t since_day_of(const lv_query_window *win)
{
    return win->has_since ? win->since_ms / DAY_MS : INT64_MIN;
}

static int64_t until_day_of(const lv_query_window *win)
{
    return win->has_until ? (win->until_ms - 1) / DAY_MS : INT64_MAX;
}

static lv_status write_course(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w, lv_error *err)
{
    int64_t since_day = since_day_of(win), until_day = until_day_of(win);
    const lv_engine *e = s->engine;
    kv_id_value(w, "course_id", course);
    window_json(w, win);

    /* topics with their entry counts (in the window) */
    lv_jw_key(w, "topics");
    lv_jw_arr_open(w);
    lv_status rc = e->course_topics(s, course, since_of(win), until_of(win), limit_of(win), win->offset,
                                    write_topic, w, err);
    lv_jw_arr_close(w);
    if (rc != LV_OK)
        return rc;

    /* active users by role (whole UTC days of the window) */
    lv_jw_key(w, "users_by_role");
    lv_jw_obj_open(w);
    rc = e->course_roles(s, course, since_day, until_day, write_role, w, err);
    lv_jw_obj_close(w);
    if (rc != LV_OK)
        return rc;

    /* activity per day by event */
    activity a = { .w = w, .day = INT64_MIN };
    lv_jw_key(w, "activity");
    lv_jw_arr_open(w);
    rc = e->course_activity(s, course, since_day, until_day, write_activity, &a, err);
    close_day(&a);
    lv_jw_arr_close(w);
    if (rc != LV_OK)
        return rc;

    return write_unanswered(s, course, win, w, err);
}

lv_status lv_query_course(lv_store *s, uint64_t course, const lv_query_window *win, lv_jw *w, lv_error *err)
{
    lv_query_window tmp;
    win = window_or_default(win, &tmp);
    /* the reads below, in their order and with their arguments (an engine may send them together) */
    s->engine->course_ahead(s, course, since_of(win), until_of(win), limit_of(win), win->offset, since_day_of(win),
                            until_day_of(win));
    bool known = false;
    lv_status rc = s->engine->course_known(s, course, &known, err);
    if (rc != LV_OK)
        return rc;
    if (!known)
        return lv_fail(err, LV_ENOTFOUND, "there is no course %llu in %s", (unsigned long long)course,
                       lv_store_location(s));
    lv_jw_obj_open(w);
    rc = write_course(s, course, win, w, err);
    lv_jw_obj_close(w);
    return rc;
}

/* ---- the list of courses ---- */

static lv_status write_courses_row(void *ctx, const lv_courses_row *row, lv_error *err)
{
    (void)err;
    lv_jw *w = ctx;
    lv_jw_obj_open(w);
    kv_id_value(w, "course_id", row->course);
    lv_jw_kv_int(w, "events", row->events);
    lv_jw_key(w, "first_day");
    write_day(w, row->first_day);
    lv_jw_key(w, "last_day");
    write_day(w, row->last_day);
    lv_jw_kv_int(w, "topics", row->topics);
    lv_jw_kv_int(w, "users", row->users);
    lv_jw_obj_close(w);
    return LV_OK;
}

lv_status lv_query_courses(lv_store *s, lv_jw *w, lv_error *err)
{
    lv_jw_obj_open(w);
    lv_jw_key(w, "courses");
    lv_jw_arr_open(w);
    lv_status rc = s->engine->courses(s, write_courses_row, w, err);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    return rc;
}
