/* sim_emit.c: turning what happened in the simulated institution into events, only through the
 * catalog's builder (lv_event_build and its slots). Metadata as Canvas sets it: a user's request
 * carries the user, the context, the request, session, URL and browser; a background job carries
 * job_id and job_tag instead. Metadata ids are global, body ids local (a topic's id global), body
 * timestamps whole seconds in the acting user's offset (UTC for jobs), event_time UTC with
 * milliseconds. */
#include "sim_internal.h"

#include "levee/id.h"

#include <stdlib.h>
#include <string.h>

static uint64_t global(const lv_sim *s, uint64_t local)
{
    return s->shard * LV_SHARD_FACTOR + local;
}

int lv__req_offset(const lv_sim *s, const sim_req *req, int64_t ms)
{
    if (req->via == VIA_JOB || req->user == SIM_NONE)
        return 0;
    int zone = s->users[req->user].zone;
    return lv__zone_offset(zone >= 0 ? (unsigned)zone : s->zone, ms);
}

static sim_out *take_out(lv_sim *s)
{
    sim_out *o = s->free_outs;
    if (o) {
        s->free_outs = o->next_free;
        lv_arena_reset(&o->arena);
    } else {
        o = lv_xcalloc(1, sizeof *o);
        lv_arena_init(&o->arena, 16384);
    }
    o->next_free = NULL;
    return o;
}

static void set_str(lv_arena *a, lv_value *v, const char *s)
{
    size_t n = strlen(s);
    lv_value_set_str(v, lv_arena_strndup(a, s, n), n);
}

static void set_str_or_null(lv_arena *a, lv_value *v, const char *s)
{
    if (s && *s)
        set_str(a, v, s);
    else
        lv_value_set_null(v);
}

static void user_metadata(lv_sim *s, sim_req *req, lv_event *ev, lv_arena *a)
{
    const sim_user *u = &s->users[req->user];
    /* A masquerading admin acts as the user, from the admin's own browser. */
    const sim_user *device = req->real_user != SIM_NONE ? &s->users[req->real_user] : u;
    lv_value_set_id(lv_event_meta_slot(ev, LV_M_USER_ID), global(s, u->id));
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_USER_LOGIN), u->login);
    lv_value_set_id(lv_event_meta_slot(ev, LV_M_USER_ACCOUNT_ID), s->root_id);
    set_str_or_null(a, lv_event_meta_slot(ev, LV_M_USER_SIS_ID), u->sis);
    if (req->real_user != SIM_NONE)
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_REAL_USER_ID), global(s, s->users[req->real_user].id));
    if (u->zone >= 0)
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_TIME_ZONE), lv__zone_name((unsigned)u->zone));
    else
        lv_value_set_null(lv_event_meta_slot(ev, LV_M_TIME_ZONE));
    if (req->via == VIA_APP)
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_DEVELOPER_KEY_ID), lv__app_developer_key(u->app));
    if (req->ctx == 1) {
        const sim_course *c = &s->courses[req->ctx_index];
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_CONTEXT_TYPE), "Course");
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_CONTEXT_ID), global(s, c->id));
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_CONTEXT_SIS_SOURCE_ID), c->sis);
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_CONTEXT_ACCOUNT_ID), global(s, s->accounts[c->account]));
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_CONTEXT_ROLE), req->role);
    } else if (req->ctx == 2) {
        const sim_group *g = &s->groups[req->ctx_index];
        const sim_course *c = &s->courses[g->course];
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_CONTEXT_TYPE), "Group");
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_CONTEXT_ID), global(s, g->id));
        set_str_or_null(a, lv_event_meta_slot(ev, LV_M_CONTEXT_SIS_SOURCE_ID), g->sis);
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_CONTEXT_ACCOUNT_ID), global(s, s->accounts[c->account]));
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_CONTEXT_ROLE), req->role);
    }
    set_str(a, lv_event_meta_slot(ev, LV_M_REQUEST_ID), req->request_id);
    set_str_or_null(a, lv_event_meta_slot(ev, LV_M_SESSION_ID), req->session_id);
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_HOSTNAME), s->hostname);
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_HTTP_METHOD), req->method);
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_USER_AGENT),
                      req->via == VIA_APP ? lv__app_agent(u->app) : lv__browser_agent(device->browser));
    set_str(a, lv_event_meta_slot(ev, LV_M_CLIENT_IP), req->ip);
    set_str(a, lv_event_meta_slot(ev, LV_M_URL), req->url);
    set_str_or_null(a, lv_event_meta_slot(ev, LV_M_REFERRER), req->referrer);
}

sim_out *lv__emit_begin(lv_sim *s, sim_req *req, const lv_kind *kind, int64_t not_before_ms)
{
    /* Canvas emits an event while it handles the request: a little after the action, and the
     * events of one request a few milliseconds apart. */
    int64_t t;
    if (!req->last_ms)
        t = req->t + 5 + (int64_t)lv_prng_lognormal(&s->rng, 4.8, 0.6);
    else
        t = req->last_ms + 1 + (int64_t)lv_prng_lognormal(&s->rng, 2.7, 0.8);
    if (t <= not_before_ms)
        t = not_before_ms + 1;
    req->last_ms = t;

    sim_out *o = take_out(s);
    o->time_ms = t;
    o->seq = s->seq++;
    lv_event *ev = &o->ev;
    lv_arena *a = &o->arena;
    lv_event_build(ev, kind);
    lv_value_set_id(lv_event_meta_slot(ev, LV_M_ROOT_ACCOUNT_ID), s->root_id);
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_ROOT_ACCOUNT_UUID), s->uuid);
    lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_ROOT_ACCOUNT_LTI_GUID), s->lti_guid);
    lv_value_set_time(a, lv_event_meta_slot(ev, LV_M_EVENT_TIME), t, 0, true);
    if (req->via == VIA_JOB) {
        lv_value_set_id(lv_event_meta_slot(ev, LV_M_JOB_ID), req->job_id);
        lv_value_set_cstr(lv_event_meta_slot(ev, LV_M_JOB_TAG), req->job_tag);
    } else {
        user_metadata(s, req, ev, a);
    }
    return o;
}

static void heap_up(sim_out **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p]->time_ms < h[i]->time_ms || (h[p]->time_ms == h[i]->time_ms && h[p]->seq < h[i]->seq))
            break;
        sim_out *x = h[p];
        h[p] = h[i];
        h[i] = x;
        i = p;
    }
}

void lv__emit_end(lv_sim *s, sim_out *o)
{
    lv_event_build_finish(&o->arena, &o->ev);
    lv_vec_reserve((void **)&s->outs, &s->cap_outs, s->n_outs + 1, sizeof *s->outs, 64);
    s->outs[s->n_outs] = o;
    heap_up(s->outs, s->n_outs);
    s->n_outs++;
}

static void set_body_time(lv_sim *s, sim_req *req, sim_out *o, lv_body_key field, int64_t ms)
{
    lv_value_set_time(&o->arena, lv_event_body_slot(&o->ev, field), ms, lv__req_offset(s, req, ms), false);
}

/* Generates the text for a seed into the event's arena; NULL-safe for null bodies. */
static void set_text(lv_sim *s, sim_out *o, lv_body_key field, uint64_t seed, lv_sim_text_kind kind,
                     unsigned subject)
{
    lv_prng r;
    lv_prng_seed(&r, seed);
    lv_buf_reset(&s->cut);
    lv_sim_text(&r, kind, subject, &s->text, &s->cut);
    lv_value_set_str(lv_event_body_slot(&o->ev, field), lv_arena_strndup(&o->arena, s->cut.data, s->cut.len),
                     s->cut.len);
}

static const char *state_name(sim_topic_state st)
{
    switch (st) {
    case TS_ACTIVE: return "active";
    case TS_UNPUBLISHED: return "unpublished";
    case TS_POST_DELAYED: return "post_delayed";
    case TS_DELETED: return "deleted";
    }
    return "active";
}

void lv__emit_topic(lv_sim *s, sim_req *req, uint32_t ti, bool created)
{
    sim_topic *t = &s->topics[ti];
    sim_out *o = lv__emit_begin(s, req, created ? s->k_topic_created : s->k_topic_updated, t->last_ms);
    t->last_ms = o->time_ms;
    if (created)
        t->visible_ms = o->time_ms;
    lv_event *ev = &o->ev;
    unsigned subject = s->courses[t->course].subject;
    if (t->assignment)
        lv_value_set_id(lv_event_body_slot(ev, LV_B_ASSIGNMENT_ID), t->assignment);
    else
        lv_value_set_null(lv_event_body_slot(ev, LV_B_ASSIGNMENT_ID));
    if (t->body_null)
        lv_value_set_null(lv_event_body_slot(ev, LV_B_BODY));
    else
        set_text(s, o, LV_B_BODY, t->body_seed, t->announcement ? LV_SIM_TEXT_ANNOUNCEMENT : LV_SIM_TEXT_TOPIC,
                 subject);
    lv_value_set_id(lv_event_body_slot(ev, LV_B_CONTEXT_ID),
                    t->in_group ? s->groups[t->context].id : s->courses[t->context].id);
    lv_value_set_cstr(lv_event_body_slot(ev, LV_B_CONTEXT_TYPE), t->in_group ? "Group" : "Course");
    lv_value_set_id(lv_event_body_slot(ev, LV_B_DISCUSSION_TOPIC_ID), global(s, t->id));
    lv_value_set_bool(lv_event_body_slot(ev, LV_B_IS_ANNOUNCEMENT), t->announcement);
    if (t->lock_ms >= 0)
        set_body_time(s, req, o, LV_B_LOCK_AT, t->lock_ms);
    else
        lv_value_set_null(lv_event_body_slot(ev, LV_B_LOCK_AT));
    set_text(s, o, LV_B_TITLE, t->title_seed,
             t->announcement ? LV_SIM_TEXT_ANNOUNCEMENT_TITLE : LV_SIM_TEXT_TITLE, subject);
    set_body_time(s, req, o, LV_B_UPDATED_AT, t->updated_ms);
    lv_value_set_cstr(lv_event_body_slot(ev, LV_B_WORKFLOW_STATE), state_name(t->state));
    lv__emit_end(s, o);
}

static void entry_body(lv_sim *s, sim_req *req, sim_out *o, const sim_topic *t, const sim_entry *e,
                       uint32_t parent, const char *text, size_t len)
{
    lv_event *ev = &o->ev;
    set_body_time(s, req, o, LV_B_CREATED_AT, req->t);
    lv_value_set_id(lv_event_body_slot(ev, LV_B_DISCUSSION_ENTRY_ID), e->id);
    lv_value_set_id(lv_event_body_slot(ev, LV_B_DISCUSSION_TOPIC_ID), t->id);
    if (parent != SIM_NONE)
        lv_value_set_id(lv_event_body_slot(ev, LV_B_PARENT_DISCUSSION_ENTRY_ID), s->entries[parent].id);
    lv_value_set_str(lv_event_body_slot(ev, LV_B_TEXT), lv_arena_strndup(&o->arena, text, len), len);
    lv_value_set_id(lv_event_body_slot(ev, LV_B_USER_ID), s->users[e->author].id);
}

void lv__emit_entry(lv_sim *s, sim_req *req, uint32_t topic, uint32_t entry, uint32_t parent,
                    uint64_t text_seed, unsigned text_kind)
{
    sim_topic *t = &s->topics[topic];
    sim_entry *e = &s->entries[entry];
    lv_prng r;
    lv_prng_seed(&r, text_seed);
    lv_buf_reset(&s->cut);
    lv_sim_text(&r, (lv_sim_text_kind)text_kind, s->courses[t->course].subject, &s->text, &s->cut);

    sim_out *o = lv__emit_begin(s, req, s->k_entry_created, t->visible_ms);
    e->visible_ms = o->time_ms;
    entry_body(s, req, o, t, e, parent, s->cut.data, s->cut.len);
    lv__emit_end(s, o);

    /* A post to a graded topic by a student is also a submission, in the same request. */
    if (!t->assignment || t->in_group)
        return;
    uint32_t en = lv__enrollment_of(s, e->author, t->course);
    if (en == SIM_NONE || s->enrollments[en].role != ROLE_STUDENT)
        return;
    o = lv__emit_begin(s, req, s->k_entry_submitted, e->visible_ms);
    entry_body(s, req, o, t, e, parent, s->cut.data, s->cut.len);
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_ASSIGNMENT_ID), t->assignment);
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_SUBMISSION_ID), t->submissions + s->enrollments[en].ordinal);
    lv__emit_end(s, o);
}

static void conv_event(lv_sim *s, sim_req *req, uint32_t ci, const lv_kind *kind)
{
    sim_conv *c = &s->convs[ci];
    sim_out *o = lv__emit_begin(s, req, kind, c->last_ms);
    c->last_ms = o->time_ms;
    if (kind == s->k_conv_created)
        c->visible_ms = o->time_ms;
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_CONVERSATION_ID), c->id);
    set_body_time(s, req, o, LV_B_UPDATED_AT, req->t);
    lv__emit_end(s, o);
}

void lv__emit_conv_created(lv_sim *s, sim_req *req, uint32_t conv)
{
    conv_event(s, req, conv, s->k_conv_created);
}

void lv__emit_conv_forwarded(lv_sim *s, sim_req *req, uint32_t conv)
{
    conv_event(s, req, conv, s->k_conv_forwarded);
}

void lv__emit_message(lv_sim *s, sim_req *req, uint32_t ci, uint32_t author)
{
    sim_conv *c = &s->convs[ci];
    sim_out *o = lv__emit_begin(s, req, s->k_conv_message, c->last_ms);
    c->last_ms = o->time_ms;
    s->ids.message += 1 + lv_prng_below(&s->rng, 3);
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_AUTHOR_ID), s->users[author].id);
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_CONVERSATION_ID), c->id);
    set_body_time(s, req, o, LV_B_CREATED_AT, req->t);
    lv_value_set_id(lv_event_body_slot(&o->ev, LV_B_MESSAGE_ID), s->ids.message);
    lv__emit_end(s, o);
}
