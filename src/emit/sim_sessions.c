/* sim_sessions.c: when users act, and what they do. Each day a user plans sign-in sessions (more
 * on weekdays, in the evening for students and in office hours for staff, and more for a student
 * with work due soon); a session is a few steps, and each step does one thing the user's role
 * does (create or change a topic, post, reply, write a message), drawn by weight. */
#include "sim_internal.h"

#include <string.h>

/* The courses a user can act in with one of the roles in `mask` (bit per sim_role). */
static uint32_t pick_course(lv_sim *s, uint32_t user, unsigned mask)
{
    const u32vec *e = &s->users[user].enrollments;
    uint32_t found[16], n = 0;
    for (uint32_t i = 0; i < e->n && n < 16; i++)
        if (mask & (1u << s->enrollments[e->items[i]].role))
            found[n++] = s->enrollments[e->items[i]].course;
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
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

static bool do_behaviour(lv_sim *s, const sim_actor *who, int b)
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
            return lv__act_create_topic(s, who, course, b == B_ANNOUNCE);
        if (b == B_EDIT)
            return lv__act_edit_topic(s, who, course);
        return b == B_PUBLISH ? lv__act_publish_topic(s, who, course) : lv__act_delete_topic(s, who, course);
    case B_ENTRY:
    case B_REPLY:
        course = pick_course(s, who->user, POSTER_MASK);
        if (course == SIM_NONE)
            return false;
        return b == B_ENTRY ? lv__act_entry(s, who, &s->courses[course].topics)
                            : lv__act_reply(s, who, &s->courses[course].topics);
    case B_GROUP: return lv__act_group(s, who);
    case B_MESSAGE:
        if (kind == ROLE_ADMIN) {
            if (!s->teachers.n)
                return false;
            uint32_t t = s->teachers.items[lv_prng_below(&s->rng, s->teachers.n)];
            course = pick_course(s, t, MASK(ROLE_TEACHER));
            return course != SIM_NONE && lv__act_new_conversation(s, who, course, true, false);
        }
        course = pick_course(s, who->user, ~0u);
        if (course == SIM_NONE)
            return false;
        return lv__act_new_conversation(s, who, course, kind == ROLE_OBSERVER,
                                        kind == ROLE_TEACHER || kind == ROLE_TA);
    case B_CONV_REPLY: return lv__act_conversation_reply(s, who);
    case B_ADD_PEOPLE: return lv__act_add_participants(s, who);
    }
    return false;
}

void lv__session_step(lv_sim *s, const sim_action *a)
{
    sim_actor who = { a->as_user != SIM_NONE ? a->as_user : a->who,
                      a->as_user != SIM_NONE ? a->who : SIM_NONE, a, a->t };
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
        lv__sim_schedule(s, next);
    }
}

void lv__start_session(lv_sim *s, const sim_action *a)
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
        first.as_user = s->teachers.items[lv_prng_below(r, s->teachers.n)];
        first.via = VIA_WEB; /* masquerading is done in the browser */
    }
    lv__session_step(s, &first);
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
        const sim_topic *t = &s->topics[c->topics.items[i]];
        if (t->assignment && t->due_ms >= from && t->due_ms < to && t->state == TS_ACTIVE)
            n++;
    }
    c->due_cache_day = day;
    c->due_soon = n;
    return n;
}

void lv__plan_day(lv_sim *s, const sim_action *a)
{
    lv_prng *r = &s->rng;
    uint32_t ui = a->who;
    const sim_user *u = &s->users[ui];
    unsigned zone = lv__user_zone(s, ui);
    int64_t day = (int64_t)a->arg + lv__local_day(s, ui, s->opt.start_ms);
    double lambda = daily_sessions[u->kind] * u->activity * weekday_weight[lv__weekday(day)];
    if (u->kind == ROLE_STUDENT) {
        unsigned due = 0;
        for (uint32_t i = 0; i < u->enrollments.n; i++)
            due += course_due_soon(s, s->enrollments[u->enrollments.items[i]].course, day);
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
        lv__sim_schedule(s, sa);
    }
    sim_action next = { .t = lv__zone_to_utc(zone, (day + 1) * SIM_DAY), .type = A_PLAN_DAY, .who = ui,
                        .arg = a->arg + 1, .as_user = SIM_NONE };
    if (next.t <= a->t)
        next.t = a->t + 1;
    lv__sim_schedule(s, next);
}
