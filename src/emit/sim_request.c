/* sim_request.c: the request a user's action makes: request and session ids, the IP address it
 * comes from, its context and role, and the API URL and page it is made from. Every event the
 * action fires carries it as metadata (sim_emit.c). */
#include "sim_internal.h"

#include <stdio.h>
#include <string.h>

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

void lv__start_request(lv_sim *s, const sim_actor *who, sim_req *req, const char *method)
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

void lv__set_context(lv_sim *s, sim_req *req, bool group, uint32_t index, uint32_t user)
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
void lv__set_urls(lv_sim *s, sim_req *req, const char *api_path, const char *page_path)
{
    snprintf(req->url, sizeof req->url, "https://%s%s", s->hostname, api_path);
    if (req->via == VIA_WEB && page_path)
        snprintf(req->referrer, sizeof req->referrer, "https://%s%s", s->hostname, page_path);
    else
        req->referrer[0] = '\0';
}

const char *lv__context_path(const lv_sim *s, const sim_topic *t, char *buf, size_t n)
{
    if (t->in_group)
        snprintf(buf, n, "groups/%llu", (unsigned long long)s->groups[t->context].id);
    else
        snprintf(buf, n, "courses/%llu", (unsigned long long)s->courses[t->context].id);
    return buf;
}
