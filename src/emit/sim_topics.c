/* sim_topics.c: discussion topics and announcements: what staff do to them (create, edit, publish,
 * delete), a student's new topic in one of their groups, and the jobs that change them (a delayed
 * post going live, a course copy from last term). Each fires discussion_topic_created or
 * discussion_topic_updated where Canvas does. */
#include "sim_internal.h"

#include <stdio.h>
#include <string.h>

#define JOB_COURSE_COPY "Canvas::Migration::Worker::CourseCopyWorker#perform"
#define JOB_DELAYED_POST "DiscussionTopic#update_based_on_date"

/* 23:59 local time, `days` days after the day of `ms`, for a user's zone. */
static int64_t end_of_day(unsigned zone, int64_t ms, int days)
{
    int64_t local = ms + lv__zone_offset(zone, ms) * SIM_MINUTE;
    int64_t day = (local >= 0 ? local / SIM_DAY : (local - SIM_DAY + 1) / SIM_DAY) + days;
    return lv__zone_to_utc(zone, day * SIM_DAY + 23 * SIM_HOUR + 59 * SIM_MINUTE);
}

static uint32_t new_topic(lv_sim *s)
{
    lv_vec_reserve((void **)&s->topics, &s->cap_topics, s->n_topics + 1, sizeof *s->topics, 256);
    sim_topic *t = &s->topics[s->n_topics];
    memset(t, 0, sizeof *t);
    t->id = lv__next_id(s, &s->ids.topic);
    t->due_ms = t->lock_ms = t->delayed_ms = -1;
    t->title_seed = lv_prng_next(&s->rng);
    t->body_seed = lv_prng_next(&s->rng);
    t->visible_ms = INT64_MAX;
    return (uint32_t)s->n_topics++;
}

/* Fills a new discussion topic or announcement as its author makes it. */
static void design_topic(lv_sim *s, sim_topic *t, const sim_actor *who, bool announcement, sim_role role)
{
    lv_prng *r = &s->rng;
    unsigned zone = lv__user_zone(s, who->user);
    t->announcement = announcement;
    t->updated_ms = who->t;
    t->state = TS_ACTIVE;
    if (announcement) {
        if (lv_prng_chance(r, 0.3)) {
            t->state = TS_POST_DELAYED;
            t->delayed_ms = who->t + SIM_HOUR * lv_prng_range(r, 1, 48);
            t->delayed_ms -= t->delayed_ms % (5 * SIM_MINUTE);
        }
        return;
    }
    t->body_null = lv_prng_chance(r, 0.02);
    if (!t->in_group && lv_prng_chance(r, 0.55)) {
        t->assignment = lv__next_id(s, &s->ids.assignment);
        t->submissions = s->ids.submission + 1;
        s->ids.submission += s->courses[t->course].students.n + 1 + lv_prng_below(r, 20);
        t->due_ms = end_of_day(zone, who->t, (int)lv_prng_range(r, 3, 10));
        if (lv_prng_chance(r, 0.7))
            t->lock_ms = t->due_ms + SIM_DAY * lv_prng_range(r, 0, 2);
    } else if (lv_prng_chance(r, 0.2)) {
        t->lock_ms = end_of_day(zone, who->t, (int)lv_prng_range(r, 7, 14));
    }
    if (t->in_group)
        return;
    double x = lv_prng_unit(r);
    if (role == ROLE_DESIGNER ? x < 0.6 : x < 0.2) {
        t->state = TS_UNPUBLISHED;
    } else if (x > 0.92) {
        t->state = TS_POST_DELAYED;
        t->delayed_ms = who->t + SIM_HOUR * lv_prng_range(r, 1, 72);
        t->delayed_ms -= t->delayed_ms % (5 * SIM_MINUTE);
    }
}

static void schedule_delayed_post(lv_sim *s, uint32_t topic)
{
    const sim_topic *t = &s->topics[topic];
    if (t->state != TS_POST_DELAYED)
        return;
    sim_action a = { .t = t->delayed_ms, .type = A_DELAYED_POST, .who = topic, .as_user = SIM_NONE };
    lv__sim_schedule(s, a);
}

bool lv__act_create_topic(lv_sim *s, const sim_actor *who, uint32_t course, bool announcement)
{
    uint32_t en = lv__enrollment_of(s, who->user, course);
    sim_role role = en == SIM_NONE ? ROLE_TEACHER : s->enrollments[en].role;
    uint32_t ti = new_topic(s);
    sim_topic *t = &s->topics[ti];
    t->context = t->course = course;
    t->author = who->user;
    design_topic(s, t, who, announcement, role);
    lv__u32_push(&s->courses[course].topics, ti);
    sim_req req;
    lv__start_request(s, who, &req, "POST");
    lv__set_context(s, &req, false, course, who->user);
    char api[128], page[128];
    unsigned long long cid = (unsigned long long)s->courses[course].id;
    snprintf(api, sizeof api, "/api/v1/courses/%llu/discussion_topics", cid);
    snprintf(page, sizeof page, "/courses/%llu/discussion_topics/new%s", cid,
             announcement ? "?is_announcement=true" : "");
    lv__set_urls(s, &req, api, page);
    lv__emit_topic(s, &req, ti, true);
    schedule_delayed_post(s, ti);
    return true;
}

/* A student's new topic in one of their groups. */
bool lv__act_create_group_topic(lv_sim *s, const sim_actor *who, uint32_t gi)
{
    sim_group *g = &s->groups[gi];
    uint32_t ti = new_topic(s);
    sim_topic *t = &s->topics[ti];
    t->in_group = true;
    t->context = gi;
    t->course = g->course;
    t->author = who->user;
    design_topic(s, t, who, false, ROLE_STUDENT);
    lv__u32_push(&g->topics, ti);
    sim_req req;
    lv__start_request(s, who, &req, "POST");
    lv__set_context(s, &req, true, gi, who->user);
    char api[128], page[128];
    snprintf(api, sizeof api, "/api/v1/groups/%llu/discussion_topics", (unsigned long long)g->id);
    snprintf(page, sizeof page, "/groups/%llu/discussion_topics/new", (unsigned long long)g->id);
    lv__set_urls(s, &req, api, page);
    lv__emit_topic(s, &req, ti, true);
    return true;
}

/* A recent topic of the course that staff may change (not deleted, already created). */
static uint32_t pick_staff_topic(lv_sim *s, uint32_t course, int64_t now, sim_topic_state only, bool any_state)
{
    const u32vec *ts = &s->courses[course].topics;
    uint32_t found[24], n = 0;
    for (uint32_t i = ts->n; i-- > 0 && n < 24;) {
        const sim_topic *t = &s->topics[ts->items[i]];
        if (t->visible_ms > now || t->state == TS_DELETED)
            continue;
        if (!any_state && t->state != only)
            continue;
        found[n++] = ts->items[i];
    }
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
}

static void topic_request(lv_sim *s, const sim_actor *who, sim_req *req, uint32_t ti, const char *method,
                          bool from_edit_page)
{
    const sim_topic *t = &s->topics[ti];
    lv__start_request(s, who, req, method);
    lv__set_context(s, req, false, t->course, who->user);
    char ctx[64], api[160], page[160];
    lv__context_path(s, t, ctx, sizeof ctx);
    snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu", ctx, (unsigned long long)t->id);
    if (from_edit_page)
        snprintf(page, sizeof page, "/%s/discussion_topics/%llu/edit", ctx, (unsigned long long)t->id);
    else
        snprintf(page, sizeof page, "/%s/%s", ctx, t->announcement ? "announcements" : "discussion_topics");
    lv__set_urls(s, req, api, page);
}

/* Body fields an edit can change; discussion_topic_updated fires only when one of them changed. */
typedef struct topic_view {
    uint64_t title_seed, body_seed, assignment;
    bool body_null;
    int64_t lock_s; /* lock_at in whole seconds, as the event carries it */
    sim_topic_state state;
} topic_view;

static topic_view view_of(const sim_topic *t)
{
    topic_view v = { t->title_seed, t->body_seed, t->assignment, t->body_null,
                     t->lock_ms < 0 ? -1 : t->lock_ms / 1000, t->state };
    return v;
}

static bool views_differ(const topic_view *a, const topic_view *b)
{
    return a->title_seed != b->title_seed || a->body_seed != b->body_seed || a->assignment != b->assignment ||
           a->body_null != b->body_null || a->lock_s != b->lock_s || a->state != b->state;
}

bool lv__act_edit_topic(lv_sim *s, const sim_actor *who, uint32_t course)
{
    lv_prng *r = &s->rng;
    uint32_t ti = pick_staff_topic(s, course, who->t, TS_ACTIVE, true);
    if (ti == SIM_NONE)
        return false;
    sim_topic *t = &s->topics[ti];
    topic_view before = view_of(t);
    double x = lv_prng_unit(r);
    if (x < 0.25) {
        t->title_seed = lv_prng_next(r);
    } else if (x < 0.6) {
        t->body_seed = lv_prng_next(r);
        t->body_null = false;
    } else if (x < 0.8 && !t->announcement) {
        double y = lv_prng_unit(r);
        if (t->lock_ms < 0)
            t->lock_ms = end_of_day(lv__user_zone(s, who->user), who->t, (int)lv_prng_range(r, 2, 10));
        else if (y < 0.4)
            t->lock_ms = -1;
        else if (y < 0.7)
            t->lock_ms = who->t; /* closed for comments now */
        else
            t->lock_ms += SIM_DAY * lv_prng_range(r, 1, 3);
    } else if (x < 0.84 && !t->announcement && !t->assignment) {
        /* made graded: the topic gets an assignment */
        t->assignment = lv__next_id(s, &s->ids.assignment);
        t->submissions = s->ids.submission + 1;
        s->ids.submission += s->courses[t->course].students.n + 1;
        t->due_ms = end_of_day(lv__user_zone(s, who->user), who->t, (int)lv_prng_range(r, 3, 8));
    }
    /* Otherwise the user saved without changing anything the event carries (or changed only a
     * setting it does not carry): Canvas fires nothing. */
    topic_view after = view_of(t);
    if (!views_differ(&before, &after))
        return true;
    t->updated_ms = who->t;
    sim_req req;
    topic_request(s, who, &req, ti, "PUT", true);
    lv__emit_topic(s, &req, ti, false);
    return true;
}

bool lv__act_publish_topic(lv_sim *s, const sim_actor *who, uint32_t course)
{
    uint32_t ti = pick_staff_topic(s, course, who->t, TS_UNPUBLISHED, false);
    if (ti == SIM_NONE)
        return false;
    sim_topic *t = &s->topics[ti];
    t->state = TS_ACTIVE;
    t->updated_ms = who->t;
    sim_req req;
    topic_request(s, who, &req, ti, "PUT", false);
    lv__emit_topic(s, &req, ti, false);
    return true;
}

bool lv__act_delete_topic(lv_sim *s, const sim_actor *who, uint32_t course)
{
    uint32_t ti = pick_staff_topic(s, course, who->t, TS_ACTIVE, true);
    if (ti == SIM_NONE)
        return false;
    sim_topic *t = &s->topics[ti];
    t->state = TS_DELETED;
    t->updated_ms = who->t;
    sim_req req;
    topic_request(s, who, &req, ti, "DELETE", false);
    lv__emit_topic(s, &req, ti, false);
    return true;
}

void lv__run_delayed_post(lv_sim *s, const sim_action *a)
{
    sim_topic *t = &s->topics[a->who];
    if (t->state != TS_POST_DELAYED || t->delayed_ms != a->t)
        return;
    t->state = TS_ACTIVE;
    t->updated_ms = a->t;
    sim_req req = { .via = VIA_JOB, .t = a->t, .user = SIM_NONE, .real_user = SIM_NONE,
                    .job_tag = JOB_DELAYED_POST };
    req.job_id = lv__next_id(s, &s->ids.job);
    lv__emit_topic(s, &req, a->who, false);
}

/* A course copy from last term: a job creates the course's topics, with dates shifted forward. */
void lv__run_course_copy(lv_sim *s, const sim_action *a)
{
    lv_prng *r = &s->rng;
    uint32_t course = a->who;
    sim_req req = { .via = VIA_JOB, .t = a->t, .user = SIM_NONE, .real_user = SIM_NONE,
                    .job_tag = JOB_COURSE_COPY };
    req.job_id = lv__next_id(s, &s->ids.job);
    unsigned n = 2 + (unsigned)lv_prng_below(r, 5);
    for (unsigned i = 0; i < n; i++) {
        uint32_t ti = new_topic(s);
        sim_topic *t = &s->topics[ti];
        t->context = t->course = course;
        t->author = SIM_NONE;
        t->updated_ms = a->t;
        t->state = lv_prng_chance(r, 0.6) ? TS_UNPUBLISHED : TS_ACTIVE;
        t->body_null = lv_prng_chance(r, 0.03);
        if (lv_prng_chance(r, 0.5)) {
            t->assignment = lv__next_id(s, &s->ids.assignment);
            t->submissions = s->ids.submission + 1;
            s->ids.submission += s->courses[course].students.n + 1;
            t->due_ms = end_of_day(s->zone, a->t, (int)lv_prng_range(r, 5, 40));
            if (lv_prng_chance(r, 0.6))
                t->lock_ms = t->due_ms;
        }
        lv__u32_push(&s->courses[course].topics, ti);
        lv__emit_topic(s, &req, ti, true);
    }
}
