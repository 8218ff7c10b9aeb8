/* sim_conversations.c: conversations: whom a user writes to, new conversations (a private one that
 * two users already have is reused, as Canvas does), replies, and people added to a group
 * conversation; they fire conversation_created, conversation_message_created and
 * conversation_forwarded. */
#include "sim_internal.h"

#include <stdio.h>
#include <string.h>

static uint32_t new_conv(lv_sim *s, uint32_t course)
{
    lv_vec_reserve((void **)&s->convs, &s->cap_convs, s->n_convs + 1, sizeof *s->convs, 256);
    sim_conv *c = &s->convs[s->n_convs];
    memset(c, 0, sizeof *c);
    c->id = lv__next_id(s, &s->ids.conv);
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

static void conv_request(lv_sim *s, const sim_actor *who, sim_req *req, const char *api)
{
    lv__start_request(s, who, req, "POST");
    lv__set_urls(s, req, api, "/conversations");
}

/* People the user may write to in a course: staff to students and staff, students to classmates
 * and staff, observers to staff. */
static uint32_t pick_recipient(lv_sim *s, uint32_t user, uint32_t course, bool staff_only)
{
    const sim_course *c = &s->courses[course];
    bool to_staff = staff_only || !c->students.n || lv_prng_chance(&s->rng, 0.35);
    uint32_t r;
    if (to_staff && c->staff.n)
        r = s->enrollments[c->staff.items[lv_prng_below(&s->rng, c->staff.n)]].user;
    else if (c->students.n)
        r = c->students.items[lv_prng_below(&s->rng, c->students.n)];
    else
        return SIM_NONE;
    return r == user ? SIM_NONE : r;
}

bool lv__act_new_conversation(lv_sim *s, const sim_actor *who, uint32_t course, bool staff_only, bool teacher)
{
    lv_prng *r = &s->rng;
    sim_req req;
    conv_request(s, who, &req, "/api/v1/conversations");
    if (lv_prng_chance(r, teacher ? 0.35 : 0.1))
        lv__set_context(s, &req, false, course, who->user); /* sent with the course as context_code */
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

static uint32_t pick_conversation(lv_sim *s, const sim_actor *who, bool group_only)
{
    const u32vec *cs = &s->users[who->user].convs;
    uint32_t found[12], n = 0;
    for (uint32_t i = cs->n; i-- > 0 && n < 12;) {
        const sim_conv *c = &s->convs[cs->items[i]];
        if (c->visible_ms <= who->t && (!group_only || !c->private_))
            found[n++] = cs->items[i];
    }
    return n ? found[lv_prng_below(&s->rng, n)] : SIM_NONE;
}

bool lv__act_conversation_reply(lv_sim *s, const sim_actor *who)
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
bool lv__act_add_participants(lv_sim *s, const sim_actor *who)
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
