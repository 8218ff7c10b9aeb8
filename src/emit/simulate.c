/* simulate.c: the simulation itself. A discrete-event schedule of what people and jobs do (a day's
 * plan per user, sign-in sessions of a few actions each, course copies, delayed posts), and what
 * each action does to the model and which events it fires, exactly at Canvas's documented triggers.
 * Events wait in a second queue until no pending action can come before them, so they leave in
 * event_time order; every event about an object comes after the event that created it. */
#include "sim_internal.h"

#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { A_PLAN_DAY, A_SESSION, A_SESSION_STEP, A_COURSE_COPY, A_DELAYED_POST };

#define JOB_COURSE_COPY "Canvas::Migration::Worker::CourseCopyWorker#perform"
#define JOB_DELAYED_POST "DiscussionTopic#update_based_on_date"

/* ---- the action schedule (a binary heap on time, then order of scheduling) ---- */

static bool action_before(const sim_action *a, const sim_action *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void push_action(lv_sim *s, sim_action a)
{
    if (a.t >= s->end_ms)
        return;
    a.seq = s->seq++;
    if (s->n_actions == s->cap_actions) {
        s->cap_actions = s->cap_actions ? s->cap_actions * 2 : 1024;
        s->actions = lv_xrealloc(s->actions, s->cap_actions * sizeof *s->actions);
    }
    size_t i = s->n_actions++;
    s->actions[i] = a;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!action_before(&s->actions[i], &s->actions[p]))
            break;
        sim_action x = s->actions[p];
        s->actions[p] = s->actions[i];
        s->actions[i] = x;
        i = p;
    }
}

static sim_action pop_action(lv_sim *s)
{
    sim_action top = s->actions[0];
    s->actions[0] = s->actions[--s->n_actions];
    size_t i = 0, n = s->n_actions;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && action_before(&s->actions[l], &s->actions[m]))
            m = l;
        if (r < n && action_before(&s->actions[r], &s->actions[m]))
            m = r;
        if (m == i)
            break;
        sim_action x = s->actions[m];
        s->actions[m] = s->actions[i];
        s->actions[i] = x;
        i = m;
    }
    return top;
}

static sim_out *pop_out(lv_sim *s)
{
    sim_out **h = s->outs;
    sim_out *top = h[0];
    h[0] = h[--s->n_outs];
    size_t i = 0, n = s->n_outs;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && (h[l]->time_ms < h[m]->time_ms || (h[l]->time_ms == h[m]->time_ms && h[l]->seq < h[m]->seq)))
            m = l;
        if (r < n && (h[r]->time_ms < h[m]->time_ms || (h[r]->time_ms == h[m]->time_ms && h[r]->seq < h[m]->seq)))
            m = r;
        if (m == i)
            break;
        sim_out *x = h[m];
        h[m] = h[i];
        h[i] = x;
        i = m;
    }
    return top;
}

/* ---- helpers ---- */

static unsigned user_zone(const lv_sim *s, uint32_t u)
{
    int z = s->users[u].zone;
    return z >= 0 ? (unsigned)z : s->zone;
}

/* The user's local day number at an instant. */
static int64_t local_day(const lv_sim *s, uint32_t u, int64_t ms)
{
    int64_t local = ms + lv__zone_offset(user_zone(s, u), ms) * SIM_MINUTE;
    return local >= 0 ? local / SIM_DAY : (local - SIM_DAY + 1) / SIM_DAY;
}

/* 23:59 local time, `days` days after the day of `ms`, for a user's zone. */
static int64_t end_of_day(unsigned zone, int64_t ms, int days)
{
    int64_t local = ms + lv__zone_offset(zone, ms) * SIM_MINUTE;
    int64_t day = (local >= 0 ? local / SIM_DAY : (local - SIM_DAY + 1) / SIM_DAY) + days;
    return lv__zone_to_utc(zone, day * SIM_DAY + 23 * SIM_HOUR + 59 * SIM_MINUTE);
}

static uint64_t next_id(lv_sim *s, uint64_t *counter)
{
    *counter += 1 + lv_prng_below(&s->rng, 3);
    return *counter;
}

static void format_ip(const lv_sim *s, const sim_action *a, uint32_t u, char *out, size_t n)
{
    if (a->ip_kind == 1)
        snprintf(out, n, "%s%u.%u", s->campus_prefix, (a->ip_bits >> 8) & 0xff, a->ip_bits % 254 + 1);
    else if (a->ip_kind == 2)
        snprintf(out, n, "%u.%u.%u.%u", 100 + (a->ip_bits >> 24) % 90, (a->ip_bits >> 16) & 0xff,
                 (a->ip_bits >> 8) & 0xff, a->ip_bits % 254 + 1);
    else
        snprintf(out, n, "%s", s->users[u].home_ip);
}

/* Who acts in a session step and how: the request every event of the action shares. */
typedef struct actor {
    uint32_t user;      /* the user the action is made as */
    uint32_t real_user; /* the admin masquerading, or SIM_NONE */
    const sim_action *session;
    int64_t t;
} actor;

static void start_request(lv_sim *s, const actor *who, sim_req *req, const char *method)
{
    memset(req, 0, sizeof *req);
    req->via = (sim_via)who->session->via;
    req->t = who->t;
    req->user = who->user;
    req->real_user = who->real_user;
    lv__uuid4(&s->rng, req->request_id);
    if (req->via == VIA_WEB)
        snprintf(req->session_id, sizeof req->session_id, "%016llx%016llx",
                 (unsigned long long)who->session->session[0], (unsigned long long)who->session->session[1]);
    format_ip(s, who->session, who->real_user != SIM_NONE ? who->real_user : who->user, req->ip, sizeof req->ip);
    req->method = method;
}

static void set_context(lv_sim *s, sim_req *req, bool group, uint32_t index, uint32_t user)
{
    req->ctx = group ? 2 : 1;
    req->ctx_index = index;
    if (group) {
        req->role = "GroupMembership";
    } else {
        uint32_t en = lv__enrollment_of(s, user, index);
        req->role = lv__role_name(s, en == SIM_NONE ? ROLE_ADMIN : s->enrollments[en].role);
    }
}

/* url and referrer: the API call the page makes, and the page; a mobile app has no referrer. */
static void set_urls(lv_sim *s, sim_req *req, const char *api_path, const char *page_path)
{
    snprintf(req->url, sizeof req->url, "https://%s%s", s->hostname, api_path);
    if (req->via == VIA_WEB && page_path)
        snprintf(req->referrer, sizeof req->referrer, "https://%s%s", s->hostname, page_path);
    else
        req->referrer[0] = '\0';
}

static const char *context_path(const lv_sim *s, const sim_topic *t, char *buf, size_t n)
{
    if (t->in_group)
        snprintf(buf, n, "groups/%llu", (unsigned long long)s->groups[t->context].id);
    else
        snprintf(buf, n, "courses/%llu", (unsigned long long)s->courses[t->context].id);
    return buf;
}

static uint32_t new_topic(lv_sim *s)
{
    if (s->n_topics == s->cap_topics) {
        s->cap_topics = s->cap_topics ? s->cap_topics * 2 : 256;
        s->topics = lv_xrealloc(s->topics, s->cap_topics * sizeof *s->topics);
    }
    sim_topic *t = &s->topics[s->n_topics];
    memset(t, 0, sizeof *t);
    t->id = next_id(s, &s->ids.topic);
    t->due_ms = t->lock_ms = t->delayed_ms = -1;
    t->title_seed = lv_prng_next(&s->rng);
    t->body_seed = lv_prng_next(&s->rng);
    t->visible_ms = INT64_MAX;
    return (uint32_t)s->n_topics++;
}

static uint32_t new_entry(lv_sim *s, uint32_t topic, uint32_t author)
{
    if (s->n_entries == s->cap_entries) {
        s->cap_entries = s->cap_entries ? s->cap_entries * 2 : 1024;
        s->entries = lv_xrealloc(s->entries, s->cap_entries * sizeof *s->entries);
    }
    sim_entry *e = &s->entries[s->n_entries];
    e->id = next_id(s, &s->ids.entry);
    e->author = author;
    e->visible_ms = INT64_MAX;
    lv__u32_push(&s->topics[topic].entries, (uint32_t)s->n_entries);
    return (uint32_t)s->n_entries++;
}

static uint32_t new_conv(lv_sim *s, uint32_t course)
{
    if (s->n_convs == s->cap_convs) {
        s->cap_convs = s->cap_convs ? s->cap_convs * 2 : 256;
        s->convs = lv_xrealloc(s->convs, s->cap_convs * sizeof *s->convs);
    }
    sim_conv *c = &s->convs[s->n_convs];
    memset(c, 0, sizeof *c);
    c->id = next_id(s, &s->ids.conv);
    c->course = course;
    c->visible_ms = INT64_MAX;
    return (uint32_t)s->n_convs++;
}

static void add_participant(lv_sim *s, uint32_t conv, uint32_t user)
{
    lv__u32_push(&s->convs[conv].participants, user);
    lv__u32_push(&s->users[user].convs, conv);
}

static uint64_t pair_key(uint32_t a, uint32_t b)
{
    uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
    return ((uint64_t)hi << 32 | lo) + 1;
}

static uint64_t posted_key(uint32_t topic, uint32_t user)
{
    return ((uint64_t)topic << 32 | user) + 1;
}

/* The courses a user can act in with one of the roles in `mask` (bit per sim_role). */
static uint32_t pick_course(lv_sim *s, uint32_t user, unsigned mask)
{
    const u32vec *e = &s->users[user].enrollments;
    uint32_t found[16], n = 0;
    for (uint32_t i = 0; i < e->n && n < 16; i++)
        if (mask & (1u << s->enrollments[e->v[i]].role))
            found[n++] = s->enrollments[e->v[i]].course;
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
}

static bool topic_open(const sim_topic *t, int64_t now)
{
    return t->state == TS_ACTIVE && t->visible_ms <= now && (t->lock_ms < 0 || t->lock_ms > now);
}

/* ---- topics ---- */

/* Fills a new discussion topic or announcement as its author makes it. */
static void design_topic(lv_sim *s, sim_topic *t, const actor *who, bool announcement, sim_role role)
{
    lv_prng *r = &s->rng;
    unsigned zone = user_zone(s, who->user);
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
        t->assignment = next_id(s, &s->ids.assignment);
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
    push_action(s, a);
}

static bool act_create_topic(lv_sim *s, const actor *who, uint32_t course, bool announcement)
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
    start_request(s, who, &req, "POST");
    set_context(s, &req, false, course, who->user);
    char api[128], page[128];
    unsigned long long cid = (unsigned long long)s->courses[course].id;
    snprintf(api, sizeof api, "/api/v1/courses/%llu/discussion_topics", cid);
    snprintf(page, sizeof page, "/courses/%llu/discussion_topics/new%s", cid,
             announcement ? "?is_announcement=true" : "");
    set_urls(s, &req, api, page);
    lv__emit_topic(s, &req, ti, true);
    schedule_delayed_post(s, ti);
    return true;
}

/* A recent topic of the course that staff may change (not deleted, already created). */
static uint32_t pick_staff_topic(lv_sim *s, uint32_t course, int64_t now, sim_topic_state only, bool any_state)
{
    const u32vec *ts = &s->courses[course].topics;
    uint32_t found[24], n = 0;
    for (uint32_t i = ts->n; i-- > 0 && n < 24;) {
        const sim_topic *t = &s->topics[ts->v[i]];
        if (t->visible_ms > now || t->state == TS_DELETED)
            continue;
        if (!any_state && t->state != only)
            continue;
        found[n++] = ts->v[i];
    }
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
}

static void topic_request(lv_sim *s, const actor *who, sim_req *req, uint32_t ti, const char *method,
                          bool from_edit_page)
{
    const sim_topic *t = &s->topics[ti];
    start_request(s, who, req, method);
    set_context(s, req, false, t->course, who->user);
    char ctx[64], api[160], page[160];
    context_path(s, t, ctx, sizeof ctx);
    snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu", ctx, (unsigned long long)t->id);
    if (from_edit_page)
        snprintf(page, sizeof page, "/%s/discussion_topics/%llu/edit", ctx, (unsigned long long)t->id);
    else
        snprintf(page, sizeof page, "/%s/%s", ctx, t->announcement ? "announcements" : "discussion_topics");
    set_urls(s, req, api, page);
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

static bool act_edit_topic(lv_sim *s, const actor *who, uint32_t course)
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
            t->lock_ms = end_of_day(user_zone(s, who->user), who->t, (int)lv_prng_range(r, 2, 10));
        else if (y < 0.4)
            t->lock_ms = -1;
        else if (y < 0.7)
            t->lock_ms = who->t; /* closed for comments now */
        else
            t->lock_ms += SIM_DAY * lv_prng_range(r, 1, 3);
    } else if (x < 0.84 && !t->announcement && !t->assignment) {
        /* made graded: the topic gets an assignment */
        t->assignment = next_id(s, &s->ids.assignment);
        t->submissions = s->ids.submission + 1;
        s->ids.submission += s->courses[t->course].students.n + 1;
        t->due_ms = end_of_day(user_zone(s, who->user), who->t, (int)lv_prng_range(r, 3, 8));
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

static bool act_publish_topic(lv_sim *s, const actor *who, uint32_t course)
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

static bool act_delete_topic(lv_sim *s, const actor *who, uint32_t course)
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

static void run_delayed_post(lv_sim *s, const sim_action *a)
{
    sim_topic *t = &s->topics[a->who];
    if (t->state != TS_POST_DELAYED || t->delayed_ms != a->t)
        return;
    t->state = TS_ACTIVE;
    t->updated_ms = a->t;
    sim_req req = { .via = VIA_JOB, .t = a->t, .user = SIM_NONE, .real_user = SIM_NONE,
                    .job_tag = JOB_DELAYED_POST };
    req.job_id = next_id(s, &s->ids.job);
    lv__emit_topic(s, &req, a->who, false);
}

/* A course copy from last term: a job creates the course's topics, with dates shifted forward. */
static void run_course_copy(lv_sim *s, const sim_action *a)
{
    lv_prng *r = &s->rng;
    uint32_t course = a->who;
    sim_req req = { .via = VIA_JOB, .t = a->t, .user = SIM_NONE, .real_user = SIM_NONE,
                    .job_tag = JOB_COURSE_COPY };
    req.job_id = next_id(s, &s->ids.job);
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
            t->assignment = next_id(s, &s->ids.assignment);
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

/* ---- entries ---- */

static double due_weight(const sim_topic *t, int64_t now)
{
    if (!t->assignment || t->due_ms < 0)
        return 1.0;
    double hours = (double)(t->due_ms - now) / (double)SIM_HOUR;
    if (hours < 0)
        return 0.5;
    return 1.0 + 8.0 / (1.0 + hours / 12.0);
}

static void entry_request(lv_sim *s, const actor *who, sim_req *req, uint32_t ti, uint32_t parent)
{
    const sim_topic *t = &s->topics[ti];
    start_request(s, who, req, "POST");
    set_context(s, req, t->in_group, t->context, who->user);
    char ctx[64], api[200], page[160];
    context_path(s, t, ctx, sizeof ctx);
    snprintf(page, sizeof page, "/%s/discussion_topics/%llu", ctx, (unsigned long long)t->id);
    if (req->via == VIA_WEB && lv_prng_chance(&s->rng, 0.35)) {
        /* the redesigned discussions page posts through GraphQL */
        set_urls(s, req, "/api/graphql", page);
        return;
    }
    if (parent == SIM_NONE)
        snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu/entries", ctx, (unsigned long long)t->id);
    else
        snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu/entries/%llu/replies", ctx,
                 (unsigned long long)t->id, (unsigned long long)s->entries[parent].id);
    set_urls(s, req, api, page);
}

static void post_entry(lv_sim *s, const actor *who, uint32_t ti, uint32_t parent)
{
    uint32_t ei = new_entry(s, ti, who->user);
    sim_req req;
    entry_request(s, who, &req, ti, parent);
    lv__emit_entry(s, &req, ti, ei, parent, lv_prng_next(&s->rng),
                   parent == SIM_NONE ? LV_SIM_TEXT_ENTRY : LV_SIM_TEXT_REPLY);
    if (parent == SIM_NONE)
        lv__map_put(&s->posted, posted_key(ti, who->user), 1);
}

/* A top-level entry in a topic the user has not posted to yet, deadlines first. */
static bool act_entry(lv_sim *s, const actor *who, const u32vec *topics)
{
    uint32_t cand[16];
    double w[16];
    uint32_t n = 0;
    for (uint32_t i = topics->n; i-- > 0 && n < 16;) {
        const sim_topic *t = &s->topics[topics->v[i]];
        if (!topic_open(t, who->t) || t->announcement)
            continue;
        if (lv__map_get(&s->posted, posted_key(topics->v[i], who->user)) != SIM_NONE)
            continue;
        cand[n] = topics->v[i];
        w[n++] = due_weight(t, who->t) * (t->assignment ? 3.0 : 1.0);
    }
    if (!n)
        return false;
    post_entry(s, who, cand[lv_prng_weighted(&s->rng, w, n)], SIM_NONE);
    return true;
}

/* A reply to someone else's entry (or reply) in a lively, open topic. */
static bool act_reply(lv_sim *s, const actor *who, const u32vec *topics)
{
    uint32_t cand[16];
    double w[16];
    uint32_t n = 0;
    for (uint32_t i = topics->n; i-- > 0 && n < 16;) {
        const sim_topic *t = &s->topics[topics->v[i]];
        if (!topic_open(t, who->t) || !t->entries.n)
            continue;
        cand[n] = topics->v[i];
        w[n++] = (double)t->entries.n * (t->announcement ? 0.1 : 1.0) * due_weight(t, who->t);
    }
    if (!n)
        return false;
    uint32_t ti = cand[lv_prng_weighted(&s->rng, w, n)];
    const u32vec *es = &s->topics[ti].entries;
    uint32_t parents[12], m = 0;
    for (uint32_t i = es->n; i-- > 0 && m < 12;) {
        const sim_entry *e = &s->entries[es->v[i]];
        if (e->visible_ms <= who->t && e->author != who->user)
            parents[m++] = es->v[i];
    }
    if (!m)
        return false;
    post_entry(s, who, ti, parents[lv_prng_below(&s->rng, m)]);
    return true;
}

static bool act_group(lv_sim *s, const actor *who)
{
    const u32vec *gs = &s->users[who->user].groups;
    if (!gs->n)
        return false;
    uint32_t gi = gs->v[lv_prng_below(&s->rng, gs->n)];
    sim_group *g = &s->groups[gi];
    if (lv_prng_chance(&s->rng, g->topics.n ? 0.015 : 0.4)) {
        uint32_t ti = new_topic(s);
        sim_topic *t = &s->topics[ti];
        t->in_group = true;
        t->context = gi;
        t->course = g->course;
        t->author = who->user;
        design_topic(s, t, who, false, ROLE_STUDENT);
        lv__u32_push(&g->topics, ti);
        sim_req req;
        start_request(s, who, &req, "POST");
        set_context(s, &req, true, gi, who->user);
        char api[128], page[128];
        snprintf(api, sizeof api, "/api/v1/groups/%llu/discussion_topics", (unsigned long long)g->id);
        snprintf(page, sizeof page, "/groups/%llu/discussion_topics/new", (unsigned long long)g->id);
        set_urls(s, &req, api, page);
        lv__emit_topic(s, &req, ti, true);
        return true;
    }
    return lv_prng_chance(&s->rng, 0.5) ? act_reply(s, who, &g->topics) || act_entry(s, who, &g->topics)
                                        : act_entry(s, who, &g->topics) || act_reply(s, who, &g->topics);
}

/* ---- conversations ---- */

static void conv_request(lv_sim *s, const actor *who, sim_req *req, const char *api)
{
    start_request(s, who, req, "POST");
    set_urls(s, req, api, "/conversations");
}

/* People the user may write to in a course: staff to students and staff, students to classmates
 * and staff, observers to staff. */
static uint32_t pick_recipient(lv_sim *s, uint32_t user, uint32_t course, bool staff_only)
{
    const sim_course *c = &s->courses[course];
    bool to_staff = staff_only || !c->students.n || lv_prng_chance(&s->rng, 0.35);
    uint32_t r;
    if (to_staff && c->staff.n)
        r = s->enrollments[c->staff.v[lv_prng_below(&s->rng, c->staff.n)]].user;
    else if (c->students.n)
        r = c->students.v[lv_prng_below(&s->rng, c->students.n)];
    else
        return SIM_NONE;
    return r == user ? SIM_NONE : r;
}

static bool act_new_conversation(lv_sim *s, const actor *who, uint32_t course, bool staff_only, bool teacher)
{
    lv_prng *r = &s->rng;
    sim_req req;
    conv_request(s, who, &req, "/api/v1/conversations");
    if (lv_prng_chance(r, teacher ? 0.35 : 0.1))
        set_context(s, &req, false, course, who->user); /* sent with the course as context_code */
    double x = lv_prng_unit(r);
    unsigned recipients = x < 0.65 ? 1 : x < 0.9 ? 2 + (unsigned)lv_prng_below(r, 3) : 3 + (unsigned)lv_prng_below(r, 6);
    bool individually = teacher && x >= 0.9; /* "send an individual message to each recipient" */
    uint32_t to[8], n = 0;
    for (unsigned tries = 0; n < recipients && tries < 3 * recipients; tries++) {
        uint32_t u = pick_recipient(s, who->user, course, staff_only);
        bool dup = u == SIM_NONE;
        for (uint32_t i = 0; i < n && !dup; i++)
            dup = to[i] == u;
        if (!dup)
            to[n++] = u;
    }
    if (!n)
        return false;
    if (n == 1 || individually) {
        for (uint32_t i = 0; i < n; i++) {
            /* Canvas reuses the private conversation two users already have. */
            uint32_t ci = lv__map_get(&s->privates, pair_key(who->user, to[i]));
            if (ci == SIM_NONE || s->convs[ci].visible_ms > who->t) {
                ci = new_conv(s, course);
                s->convs[ci].private_ = true;
                add_participant(s, ci, who->user);
                add_participant(s, ci, to[i]);
                lv__map_put(&s->privates, pair_key(who->user, to[i]), ci);
                lv__emit_conv_created(s, &req, ci);
            }
            lv__emit_message(s, &req, ci, who->user);
        }
        return true;
    }
    uint32_t ci = new_conv(s, course);
    add_participant(s, ci, who->user);
    for (uint32_t i = 0; i < n; i++)
        add_participant(s, ci, to[i]);
    lv__emit_conv_created(s, &req, ci);
    lv__emit_message(s, &req, ci, who->user);
    return true;
}

static uint32_t pick_conversation(lv_sim *s, const actor *who, bool group_only)
{
    const u32vec *cs = &s->users[who->user].convs;
    uint32_t found[12], n = 0;
    for (uint32_t i = cs->n; i-- > 0 && n < 12;) {
        const sim_conv *c = &s->convs[cs->v[i]];
        if (c->visible_ms <= who->t && (!group_only || !c->private_))
            found[n++] = cs->v[i];
    }
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
}

static bool act_conversation_reply(lv_sim *s, const actor *who)
{
    uint32_t ci = pick_conversation(s, who, false);
    if (ci == SIM_NONE)
        return false;
    char api[96];
    snprintf(api, sizeof api, "/api/v1/conversations/%llu/add_message", (unsigned long long)s->convs[ci].id);
    sim_req req;
    conv_request(s, who, &req, api);
    lv__emit_message(s, &req, ci, who->user);
    return true;
}

/* Adding people to a group conversation: conversation_forwarded and the system message about the
 * added users, only when someone new is really added (Canvas ignores users already in it, and
 * never adds to a private conversation). */
static bool act_add_participants(lv_sim *s, const actor *who)
{
    uint32_t ci = pick_conversation(s, who, true);
    if (ci == SIM_NONE)
        return false;
    unsigned want = 1 + (unsigned)lv_prng_below(&s->rng, 2);
    uint32_t added[2], n = 0;
    for (unsigned i = 0; i < want; i++) {
        uint32_t u = pick_recipient(s, who->user, s->convs[ci].course, false);
        if (u == SIM_NONE || lv__u32_has(&s->convs[ci].participants, u) || (n == 1 && added[0] == u))
            continue;
        added[n++] = u;
    }
    char api[96];
    snprintf(api, sizeof api, "/api/v1/conversations/%llu/add_recipients", (unsigned long long)s->convs[ci].id);
    sim_req req;
    conv_request(s, who, &req, api);
    if (!n)
        return true; /* everyone asked for was already there: no event */
    for (uint32_t i = 0; i < n; i++)
        add_participant(s, ci, added[i]);
    lv__emit_conv_forwarded(s, &req, ci);
    lv__emit_message(s, &req, ci, who->user);
    return true;
}

/* ---- what each kind of user does in one step of a session ---- */

#define MASK(r) (1u << (r))
#define STAFF_MASK (MASK(ROLE_TEACHER) | MASK(ROLE_TA) | MASK(ROLE_DESIGNER) | MASK(ROLE_CUSTOM))
#define POSTER_MASK (MASK(ROLE_STUDENT) | MASK(ROLE_TEACHER) | MASK(ROLE_TA) | MASK(ROLE_CUSTOM))

enum { B_TOPIC, B_ANNOUNCE, B_EDIT, B_PUBLISH, B_DELETE, B_ENTRY, B_REPLY, B_GROUP, B_MESSAGE,
       B_CONV_REPLY, B_ADD_PEOPLE, B_COUNT };

static const double behaviour[ROLE_COUNT][B_COUNT] = {
    /*                 topic ann   edit  pub   del   entry reply group msg  creply add */
    [ROLE_STUDENT] = { 0, 0, 0, 0, 0, 4.0, 3.0, 0.6, 0.5, 1.2, 0.1 },
    [ROLE_TEACHER] = { 0.35, 0.25, 0.5, 0.6, 0.04, 0.2, 2.0, 0, 0.8, 1.5, 0.25 },
    [ROLE_TA] = { 0.05, 0.02, 0.1, 0.1, 0.01, 0.4, 3.0, 0, 0.8, 1.5, 0.25 },
    [ROLE_DESIGNER] = { 0.6, 0.05, 1.5, 0.4, 0.05, 0, 0, 0, 0.2, 0.5, 0 },
    [ROLE_OBSERVER] = { 0, 0, 0, 0, 0, 0, 0, 0, 1.0, 1.5, 0 },
    [ROLE_CUSTOM] = { 0, 0, 0, 0, 0, 0.5, 3.0, 0, 0.6, 1.0, 0.1 },
    [ROLE_ADMIN] = { 0, 0, 0, 0, 0, 0, 0, 0, 0.6, 1.0, 0 },
};

/* The admin acting as a teacher only fixes topics. */
static const double masquerade_behaviour[B_COUNT] = { 0.3, 0.1, 2.0, 1.0, 0.3, 0, 0, 0, 0, 0, 0 };

static bool do_behaviour(lv_sim *s, const actor *who, int b)
{
    sim_role kind = s->users[who->user].kind;
    uint32_t course;
    switch (b) {
    case B_TOPIC:
    case B_ANNOUNCE:
    case B_EDIT:
    case B_PUBLISH:
    case B_DELETE:
        course = pick_course(s, who->user, MASK(ROLE_TEACHER) | MASK(ROLE_TA) | MASK(ROLE_DESIGNER));
        if (course == SIM_NONE)
            return false;
        if (b == B_TOPIC || b == B_ANNOUNCE)
            return act_create_topic(s, who, course, b == B_ANNOUNCE);
        if (b == B_EDIT)
            return act_edit_topic(s, who, course);
        return b == B_PUBLISH ? act_publish_topic(s, who, course) : act_delete_topic(s, who, course);
    case B_ENTRY:
    case B_REPLY:
        course = pick_course(s, who->user, POSTER_MASK);
        if (course == SIM_NONE)
            return false;
        return b == B_ENTRY ? act_entry(s, who, &s->courses[course].topics)
                            : act_reply(s, who, &s->courses[course].topics);
    case B_GROUP: return act_group(s, who);
    case B_MESSAGE:
        if (kind == ROLE_ADMIN) {
            if (!s->teachers.n)
                return false;
            uint32_t t = s->teachers.v[lv_prng_below(&s->rng, s->teachers.n)];
            course = pick_course(s, t, MASK(ROLE_TEACHER));
            return course != SIM_NONE && act_new_conversation(s, who, course, true, false);
        }
        course = pick_course(s, who->user, ~0u);
        if (course == SIM_NONE)
            return false;
        return act_new_conversation(s, who, course, kind == ROLE_OBSERVER,
                                    kind == ROLE_TEACHER || kind == ROLE_TA);
    case B_CONV_REPLY: return act_conversation_reply(s, who);
    case B_ADD_PEOPLE: return act_add_participants(s, who);
    }
    return false;
}

static void session_step(lv_sim *s, const sim_action *a)
{
    actor who = { a->as_user != SIM_NONE ? a->as_user : a->who, a->as_user != SIM_NONE ? a->who : SIM_NONE,
                  a, a->t };
    const double *weights = a->as_user != SIM_NONE ? masquerade_behaviour : behaviour[s->users[a->who].kind];
    double w[B_COUNT];
    memcpy(w, weights, sizeof w);
    for (int tries = 0; tries < 3; tries++) {
        int b = (int)lv_prng_weighted(&s->rng, w, B_COUNT);
        if (w[b] <= 0 || do_behaviour(s, &who, b))
            break;
        w[b] = 0; /* not possible now: try something else */
    }
    if (a->remaining > 1) {
        sim_action next = *a;
        next.type = A_SESSION_STEP;
        next.remaining--;
        next.t = a->t + 1000 * (int64_t)(20 + lv_prng_lognormal(&s->rng, 5.0, 0.9));
        push_action(s, next);
    }
}

static void start_session(lv_sim *s, const sim_action *a)
{
    lv_prng *r = &s->rng;
    const sim_user *u = &s->users[a->who];
    sim_action first = *a;
    first.type = A_SESSION_STEP;
    first.remaining = (uint16_t)(1 + lv_prng_poisson(r, 1.6));
    first.via = lv_prng_chance(r, u->app_share) ? VIA_APP : VIA_WEB;
    first.session[0] = lv_prng_next(r);
    first.session[1] = lv_prng_next(r);
    double x = lv_prng_unit(r);
    first.ip_kind = x < 0.6 ? 0 : x < 0.95 ? 1 : 2;
    first.ip_bits = (uint32_t)lv_prng_next(r);
    first.as_user = SIM_NONE;
    if (u->kind == ROLE_ADMIN && s->teachers.n && lv_prng_chance(r, 0.35)) {
        first.as_user = s->teachers.v[lv_prng_below(r, s->teachers.n)];
        first.via = VIA_WEB; /* masquerading is done in the browser */
    }
    session_step(s, &first);
}

/* ---- a user's day ---- */

static const double hour_weight[2][24] = {
    /* students: afternoons and late evenings */
    { 0.6, 0.3, 0.15, 0.05, 0.03, 0.05, 0.15, 0.4, 0.8, 1.0, 1.1, 1.1, 1.1, 1.2, 1.2, 1.2, 1.3, 1.4,
      1.5, 1.9, 2.4, 2.6, 2.2, 1.3 },
    /* staff: office hours, some evenings */
    { 0.1, 0.05, 0.02, 0.02, 0.02, 0.1, 0.4, 1.0, 1.8, 2.2, 2.2, 2.0, 1.5, 1.8, 2.0, 1.9, 1.6, 1.2,
      0.8, 0.9, 1.0, 0.9, 0.6, 0.3 },
};

static const double weekday_weight[7] = { 0.85, 1.1, 1.1, 1.05, 1.0, 0.7, 0.45 }; /* Sunday first */

static const double daily_sessions[ROLE_COUNT] = {
    [ROLE_STUDENT] = 0.8, [ROLE_TEACHER] = 1.3, [ROLE_TA] = 0.9, [ROLE_DESIGNER] = 0.35,
    [ROLE_OBSERVER] = 0.08, [ROLE_CUSTOM] = 0.7, [ROLE_ADMIN] = 0.3,
};

/* Graded topics of a course due within 36 hours of the start of a day. */
static unsigned course_due_soon(lv_sim *s, uint32_t course, int64_t day)
{
    sim_course *c = &s->courses[course];
    if (c->due_cache_day == day)
        return c->due_soon;
    unsigned n = 0;
    int64_t from = day * SIM_DAY, to = from + 36 * SIM_HOUR;
    for (uint32_t i = c->topics.n; i-- > 0;) {
        const sim_topic *t = &s->topics[c->topics.v[i]];
        if (t->assignment && t->due_ms >= from && t->due_ms < to && t->state == TS_ACTIVE)
            n++;
    }
    c->due_cache_day = day;
    c->due_soon = n;
    return n;
}

static void plan_day(lv_sim *s, const sim_action *a)
{
    lv_prng *r = &s->rng;
    uint32_t ui = a->who;
    const sim_user *u = &s->users[ui];
    unsigned zone = user_zone(s, ui);
    int64_t day = (int64_t)a->arg + local_day(s, ui, s->opt.start_ms);
    double lambda = daily_sessions[u->kind] * u->activity * weekday_weight[lv__weekday(day)];
    if (u->kind == ROLE_STUDENT) {
        unsigned due = 0;
        for (uint32_t i = 0; i < u->enrollments.n; i++)
            due += course_due_soon(s, s->enrollments[u->enrollments.v[i]].course, day);
        lambda *= 1.0 + 0.6 * (due > 3 ? 3 : due);
    }
    unsigned sessions = lv_prng_poisson(r, lambda);
    if (sessions > 8)
        sessions = 8;
    const double *hours = hour_weight[u->kind == ROLE_STUDENT || u->kind == ROLE_OBSERVER ? 0 : 1];
    for (unsigned i = 0; i < sessions; i++) {
        int64_t local = day * SIM_DAY + (int64_t)lv_prng_weighted(r, hours, 24) * SIM_HOUR +
                        (int64_t)lv_prng_below(r, (uint64_t)SIM_HOUR);
        int64_t t = lv__zone_to_utc(zone, local);
        if (t < a->t || t < s->opt.start_ms)
            continue;
        sim_action sa = { .t = t, .type = A_SESSION, .who = ui, .as_user = SIM_NONE };
        push_action(s, sa);
    }
    sim_action next = { .t = lv__zone_to_utc(zone, (day + 1) * SIM_DAY), .type = A_PLAN_DAY, .who = ui,
                        .arg = a->arg + 1, .as_user = SIM_NONE };
    if (next.t <= a->t)
        next.t = a->t + 1;
    push_action(s, next);
}

static void run_action(lv_sim *s, const sim_action *a)
{
    switch (a->type) {
    case A_PLAN_DAY: plan_day(s, a); break;
    case A_SESSION: start_session(s, a); break;
    case A_SESSION_STEP: session_step(s, a); break;
    case A_COURSE_COPY: run_course_copy(s, a); break;
    case A_DELAYED_POST: run_delayed_post(s, a); break;
    }
}

/* ---- public interface ---- */

void lv_sim_options_init(lv_sim_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->seed = 1;
    opt->courses = 5;
    opt->users = 150;
    opt->days = 14;
    opt->start_ms = lv_days_from_civil(2024, 9, 2) * SIM_DAY;
}

static const lv_kind *find_kind(const char *name)
{
    return lv_kind_find(name, strlen(name));
}

lv_status lv_sim_new(lv_sim **out, const lv_sim_options *opt, lv_error *err)
{
    *out = NULL;
    if (opt->courses < 1 || opt->courses > LV_SIM_MAX_COURSES)
        return lv_fail(err, LV_EINVAL, "the number of courses must be between 1 and %u, not %u",
                       LV_SIM_MAX_COURSES, opt->courses);
    if (opt->users < 2 || opt->users > LV_SIM_MAX_USERS)
        return lv_fail(err, LV_EINVAL, "the number of users must be between 2 and %u, not %u",
                       LV_SIM_MAX_USERS, opt->users);
    if (opt->days < 1 || opt->days > LV_SIM_MAX_DAYS)
        return lv_fail(err, LV_EINVAL, "the number of days must be between 1 and %u, not %u",
                       LV_SIM_MAX_DAYS, opt->days);
    /* Years 1970 to 9000 keep every timestamp four digits and positive. */
    int64_t latest = lv_days_from_civil(9000, 1, 1) * SIM_DAY;
    if (opt->start_ms < 0 || opt->start_ms > latest)
        return lv_fail(err, LV_EINVAL, "the start time must be between 1970 and the year 9000");
    lv_sim *s = lv_xcalloc(1, sizeof *s);
    s->opt = *opt;
    s->end_ms = opt->start_ms + (int64_t)opt->days * SIM_DAY;
    s->k_conv_created = find_kind("conversation_created");
    s->k_conv_forwarded = find_kind("conversation_forwarded");
    s->k_conv_message = find_kind("conversation_message_created");
    s->k_entry_created = find_kind("discussion_entry_created");
    s->k_entry_submitted = find_kind("discussion_entry_submitted");
    s->k_topic_created = find_kind("discussion_topic_created");
    s->k_topic_updated = find_kind("discussion_topic_updated");
    if (!s->k_conv_created || !s->k_conv_forwarded || !s->k_conv_message || !s->k_entry_created ||
        !s->k_entry_submitted || !s->k_topic_created || !s->k_topic_updated) {
        free(s);
        return lv_fail(err, LV_EINTERNAL, "the event catalog lacks an event kind the simulator makes");
    }
    lv_prng_seed(&s->rng, opt->seed);
    lv_buf_init(&s->text);
    lv_buf_init(&s->cut);
    lv__sim_build_model(s);
    for (uint32_t u = 0; u < s->n_users; u++) {
        int64_t midnight = lv__zone_to_utc(user_zone(s, u), local_day(s, u, opt->start_ms) * SIM_DAY);
        sim_action a = { .t = midnight > opt->start_ms ? midnight : opt->start_ms, .type = A_PLAN_DAY,
                         .who = u, .arg = 0, .as_user = SIM_NONE };
        push_action(s, a);
    }
    /* About half the courses start as a copy of last term's, made in the first hours. */
    for (uint32_t c = 0; c < s->n_courses; c++)
        if (lv_prng_chance(&s->rng, 0.5)) {
            sim_action a = { .t = opt->start_ms + (int64_t)lv_prng_below(&s->rng, 6 * (uint64_t)SIM_HOUR),
                             .type = A_COURSE_COPY, .who = c, .as_user = SIM_NONE };
            push_action(s, a);
        }
    *out = s;
    return LV_OK;
}

const lv_event *lv_sim_next(lv_sim *s)
{
    if (s->current) {
        s->current->next_free = s->free_outs;
        s->free_outs = s->current;
        s->current = NULL;
    }
    for (;;) {
        /* An event may leave once no pending action can make an earlier one: every action makes
         * events at or after its own time. */
        if (s->n_outs && (!s->n_actions || s->outs[0]->time_ms <= s->actions[0].t)) {
            s->current = pop_out(s);
            size_t k = (size_t)(s->current->ev.kind - lv_kinds);
            if (k < sizeof s->counts / sizeof s->counts[0])
                s->counts[k]++;
            return &s->current->ev;
        }
        if (!s->n_actions)
            return NULL;
        sim_action a = pop_action(s);
        run_action(s, &a);
    }
}

void lv_sim_describe(const lv_sim *s, lv_sim_info *info)
{
    info->root_account_id = s->root_id;
    info->shard = s->shard;
    info->hostname = s->hostname;
    info->time_zone = lv__zone_name(s->zone);
    info->accounts = s->n_accounts;
    info->courses = s->n_courses;
    info->groups = s->n_groups;
    info->users = s->n_users;
    info->enrollments = s->n_enrollments;
    info->start_ms = s->opt.start_ms;
    info->end_ms = s->end_ms;
}

unsigned long lv_sim_count(const lv_sim *s, const lv_kind *kind)
{
    size_t k = kind ? (size_t)(kind - lv_kinds) : 0;
    return kind && k < sizeof s->counts / sizeof s->counts[0] ? s->counts[k] : 0;
}

static void free_outs(sim_out *o)
{
    while (o) {
        sim_out *next = o->next_free;
        lv_arena_free(&o->arena);
        free(o);
        o = next;
    }
}

void lv_sim_free(lv_sim *s)
{
    if (!s)
        return;
    if (s->current) {
        s->current->next_free = NULL;
        free_outs(s->current);
    }
    for (size_t i = 0; i < s->n_outs; i++) {
        s->outs[i]->next_free = NULL;
        free_outs(s->outs[i]);
    }
    free_outs(s->free_outs);
    free(s->outs);
    free(s->actions);
    lv_buf_free(&s->text);
    lv_buf_free(&s->cut);
    lv__sim_free_model(s);
    free(s);
}
