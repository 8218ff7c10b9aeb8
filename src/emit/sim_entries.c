/* sim_entries.c: entries and replies: which topic a user posts to (open ones, deadlines first) or
 * replies in (lively ones), and what a student does in one of their groups. Each post fires
 * discussion_entry_created, and a student's post to a graded topic also discussion_entry_submitted
 * (sim_emit.c). */
#include "sim_internal.h"

#include <stdio.h>

static uint32_t new_entry(lv_sim *s, uint32_t topic, uint32_t author)
{
    lv_vec_reserve((void **)&s->entries, &s->cap_entries, s->n_entries + 1, sizeof *s->entries, 1024);
    sim_entry *e = &s->entries[s->n_entries];
    e->id = lv__next_id(s, &s->ids.entry);
    e->author = author;
    e->visible_ms = INT64_MAX;
    lv__u32_push(&s->topics[topic].entries, (uint32_t)s->n_entries);
    return (uint32_t)s->n_entries++;
}

static uint64_t posted_key(uint32_t topic, uint32_t user)
{
    return ((uint64_t)topic << 32 | user) + 1;
}

static bool topic_open(const sim_topic *t, int64_t now)
{
    return t->state == TS_ACTIVE && t->visible_ms <= now && (t->lock_ms < 0 || t->lock_ms > now);
}

static double due_weight(const sim_topic *t, int64_t now)
{
    if (!t->assignment || t->due_ms < 0)
        return 1.0;
    double hours = (double)(t->due_ms - now) / (double)SIM_HOUR;
    if (hours < 0)
        return 0.5;
    return 1.0 + 8.0 / (1.0 + hours / 12.0);
}

static void entry_request(lv_sim *s, const sim_actor *who, sim_req *req, uint32_t ti, uint32_t parent)
{
    const sim_topic *t = &s->topics[ti];
    lv__start_request(s, who, req, "POST");
    lv__set_context(s, req, t->in_group, t->context, who->user);
    char ctx[64], api[200], page[160];
    lv__context_path(s, t, ctx, sizeof ctx);
    snprintf(page, sizeof page, "/%s/discussion_topics/%llu", ctx, (unsigned long long)t->id);
    if (req->via == VIA_WEB && lv_prng_chance(&s->rng, 0.35)) {
        /* the redesigned discussions page posts through GraphQL */
        lv__set_urls(s, req, "/api/graphql", page);
        return;
    }
    if (parent == SIM_NONE)
        snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu/entries", ctx, (unsigned long long)t->id);
    else
        snprintf(api, sizeof api, "/api/v1/%s/discussion_topics/%llu/entries/%llu/replies", ctx,
                 (unsigned long long)t->id, (unsigned long long)s->entries[parent].id);
    lv__set_urls(s, req, api, page);
}

static void post_entry(lv_sim *s, const sim_actor *who, uint32_t ti, uint32_t parent)
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
bool lv__act_entry(lv_sim *s, const sim_actor *who, const u32vec *topics)
{
    uint32_t cand[16];
    double w[16];
    uint32_t n = 0;
    for (uint32_t i = topics->n; i-- > 0 && n < 16;) {
        const sim_topic *t = &s->topics[topics->items[i]];
        if (!topic_open(t, who->t) || t->announcement)
            continue;
        if (lv__map_get(&s->posted, posted_key(topics->items[i], who->user)) != SIM_NONE)
            continue;
        cand[n] = topics->items[i];
        w[n++] = due_weight(t, who->t) * (t->assignment ? 3.0 : 1.0);
    }
    if (!n)
        return false;
    post_entry(s, who, cand[lv_prng_weighted(&s->rng, w, n)], SIM_NONE);
    return true;
}

/* A reply to someone else's entry (or reply) in a lively, open topic. */
bool lv__act_reply(lv_sim *s, const sim_actor *who, const u32vec *topics)
{
    uint32_t cand[16];
    double w[16];
    uint32_t n = 0;
    for (uint32_t i = topics->n; i-- > 0 && n < 16;) {
        const sim_topic *t = &s->topics[topics->items[i]];
        if (!topic_open(t, who->t) || !t->entries.n)
            continue;
        cand[n] = topics->items[i];
        w[n++] = (double)t->entries.n * (t->announcement ? 0.1 : 1.0) * due_weight(t, who->t);
    }
    if (!n)
        return false;
    uint32_t ti = cand[lv_prng_weighted(&s->rng, w, n)];
    const u32vec *es = &s->topics[ti].entries;
    uint32_t parents[12], m = 0;
    for (uint32_t i = es->n; i-- > 0 && m < 12;) {
        const sim_entry *e = &s->entries[es->items[i]];
        if (e->visible_ms <= who->t && e->author != who->user)
            parents[m++] = es->items[i];
    }
    if (!m)
        return false;
    post_entry(s, who, ti, parents[lv_prng_below(&s->rng, m)]);
    return true;
}

/* A student in one of their groups: a new group topic (likely when the group has none yet), or an
 * entry or a reply in the group's topics. */
bool lv__act_group(lv_sim *s, const sim_actor *who)
{
    const u32vec *gs = &s->users[who->user].groups;
    if (!gs->n)
        return false;
    uint32_t gi = gs->items[lv_prng_below(&s->rng, gs->n)];
    sim_group *g = &s->groups[gi];
    if (lv_prng_chance(&s->rng, g->topics.n ? 0.015 : 0.4))
        return lv__act_create_group_topic(s, who, gi);
    const u32vec *ts = &g->topics;
    return lv_prng_chance(&s->rng, 0.5) ? lv__act_reply(s, who, ts) || lv__act_entry(s, who, ts)
                                        : lv__act_entry(s, who, ts) || lv__act_reply(s, who, ts);
}
