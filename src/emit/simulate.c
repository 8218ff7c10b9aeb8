/* simulate.c: the simulation's schedule and its public interface. A discrete-event schedule of what
 * people and jobs do (a day's plan per user, sign-in sessions of a few actions each, course copies,
 * delayed posts: sim_sessions.c, sim_topics.c) runs each action when its time comes; what an action
 * does to the model and which events it fires is in sim_topics.c, sim_entries.c and
 * sim_conversations.c. Events wait in a second queue until no pending action can come before them,
 * so they leave in event_time order; every event about an object comes after the event that created
 * it. */
#include "sim_internal.h"

#include "levee/timestamp.h"

#include <stdlib.h>
#include <string.h>

/* ---- the action schedule (a binary heap on time, then order of scheduling) ---- */

static bool action_before(const sim_action *a, const sim_action *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

void lv__sim_schedule(lv_sim *s, sim_action a)
{
    if (a.t >= s->end_ms)
        return;
    a.seq = s->seq++;
    lv_vec_reserve((void **)&s->actions, &s->cap_actions, s->n_actions + 1, sizeof *s->actions, 1024);
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

static void run_action(lv_sim *s, const sim_action *a)
{
    switch (a->type) {
    case A_PLAN_DAY: lv__plan_day(s, a); break;
    case A_SESSION: lv__start_session(s, a); break;
    case A_SESSION_STEP: lv__session_step(s, a); break;
    case A_COURSE_COPY: lv__run_course_copy(s, a); break;
    case A_DELAYED_POST: lv__run_delayed_post(s, a); break;
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
    s->k_conv_created = &lv_kinds[LV_K_CONVERSATION_CREATED];
    s->k_conv_forwarded = &lv_kinds[LV_K_CONVERSATION_FORWARDED];
    s->k_conv_message = &lv_kinds[LV_K_CONVERSATION_MESSAGE_CREATED];
    s->k_entry_created = &lv_kinds[LV_K_DISCUSSION_ENTRY_CREATED];
    s->k_entry_submitted = &lv_kinds[LV_K_DISCUSSION_ENTRY_SUBMITTED];
    s->k_topic_created = &lv_kinds[LV_K_DISCUSSION_TOPIC_CREATED];
    s->k_topic_updated = &lv_kinds[LV_K_DISCUSSION_TOPIC_UPDATED];
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
        int64_t midnight = lv__zone_to_utc(lv__user_zone(s, u), lv__local_day(s, u, opt->start_ms) * SIM_DAY);
        sim_action a = { .t = midnight > opt->start_ms ? midnight : opt->start_ms, .type = A_PLAN_DAY,
                         .who = u, .arg = 0, .as_user = SIM_NONE };
        lv__sim_schedule(s, a);
    }
    /* About half the courses start as a copy of last term's, made in the first hours. */
    for (uint32_t c = 0; c < s->n_courses; c++)
        if (lv_prng_chance(&s->rng, 0.5)) {
            sim_action a = { .t = opt->start_ms + (int64_t)lv_prng_below(&s->rng, 6 * (uint64_t)SIM_HOUR),
                             .type = A_COURSE_COPY, .who = c, .as_user = SIM_NONE };
            lv__sim_schedule(s, a);
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
