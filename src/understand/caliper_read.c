/* caliper_read.c: decoding Caliper 1.1. Reads Caliper envelopes and bare Caliper events into the
 * same lv_event a canvas event becomes, following the catalog's Caliper places backwards (the
 * writer, caliper_write.c, follows them forwards): each field from the first of its places that is
 * present, validated as the canvas decoder validates it, with envelope and event checks of their
 * own (required properties, the Caliper 1.1 context, the event id a UUID URN, every entity an IRI or
 * an object with an IRI id and a type, roles from Caliper's vocabulary, undocumented extension
 * keys). Canvas URNs match with their scheme and namespace in any case (RFC 8141). */
#include "caliper_internal.h"
#include "decode_internal.h"

#include "levee/id.h"
#include "levee/text.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Looks up a '/'-path in a Caliper event. Caliper lets an entity be given by its IRI alone
 * ("actor": "https://..."), so a path ending in "id" also finds such a string. */
static const lv_json *caliper_get(const lv_json *root, const char *path)
{
    const lv_json *cur = root;
    const char *p = path;
    while (cur && *p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (cur->type == LV_JSON_STRING && n == 2 && memcmp(p, "id", 2) == 0 && !end)
            return cur;
        if (cur->type == LV_JSON_ARRAY) {
            size_t idx = 0;
            for (size_t i = 0; i < n; i++)
                idx = idx * 10 + (size_t)(p[i] - '0');
            cur = lv_json_index(cur, idx);
        } else {
            cur = lv_json_getn(cur, p, n);
        }
        p += n;
        if (*p == '/')
            p++;
    }
    return cur;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* The namespace-specific string of "urn:<nid>:<nss>". RFC 8141: the "urn" scheme and the namespace
 * identifier are case-insensitive ("URN:UUID:", "urn:Instructure:"), the NSS is not. */
static bool urn_nss(const char *s, size_t len, const char *nid, size_t nid_len, const char **nss,
                    size_t *nss_len)
{
    if (len < 5 + nid_len || strncasecmp(s, "urn:", 4) != 0 || strncasecmp(s + 4, nid, nid_len) != 0 ||
        s[4 + nid_len] != ':')
        return false;
    *nss = s + 5 + nid_len;
    *nss_len = len - 5 - nid_len;
    return true;
}

/* Canvas's URN prefix split as RFC 8141 reads it: the namespace ("instructure") and the start of
 * the NSS ("canvas:"). */
static void canvas_urn_parts(const char **nid, size_t *nid_len, const char **nss, size_t *nss_len)
{
    static const char prefix[] = LV_CALIPER_URN_PREFIX; /* "urn:instructure:canvas:" */
    const char *p = prefix + 4;
    const char *colon = strchr(p, ':');
    *nid = p;
    *nid_len = (size_t)(colon - p);
    *nss = colon + 1;
    *nss_len = strlen(colon + 1);
}

/* The part of a Canvas URN after "urn:instructure:canvas:", the scheme and namespace in any case. */
static bool canvas_urn_tail(const char *s, size_t len, const char **tail, size_t *tail_len)
{
    const char *nid, *prefix, *nss;
    size_t nid_len, prefix_len, nss_len;
    canvas_urn_parts(&nid, &nid_len, &prefix, &prefix_len);
    if (!urn_nss(s, len, nid, nid_len, &nss, &nss_len) || !has_prefix(nss, nss_len, prefix))
        return false;
    *tail = nss + prefix_len;
    *tail_len = nss_len - prefix_len;
    return true;
}

/* RFC 4122's string form in a URN: "urn:uuid:" (any case) and 8-4-4-4-12 hexadecimal digits. */
static bool is_uuid_urn(const char *s, size_t len)
{
    const char *nss;
    size_t n;
    if (!urn_nss(s, len, "uuid", 4, &nss, &n) || n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = nss[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Why s is not an entity id, or NULL when it is one: an absolute IRI (RFC 3987: a scheme, ':' and
 * no spaces, controls or the characters IRIs exclude; a URN as RFC 8141 writes it,
 * urn:<NID>:<NSS>), or a blank node identifier ("_:b1"), which Caliper allows for entities. */
static const char *not_an_iri(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || strchr("<>\"{}|\\^`", c))
            return "it holds a space, a control character or one of <>\"{}|\\^`";
    }
    if (len > 2 && s[0] == '_' && s[1] == ':')
        return NULL;
    size_t i = 0;
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return "it does not start with a scheme (such as https: or urn:)";
    while (i < len && (is_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))
        i++;
    if (i == len || s[i] != ':')
        return "it does not start with a scheme (such as https: or urn:)";
    if (i + 1 == len)
        return "it has nothing after its scheme";
    if (i == 3 && strncasecmp(s, "urn", 3) == 0) {
        /* NID: 2 to 32 letters, digits and hyphens, starting and ending with a letter or digit */
        size_t start = 4, j = start;
        while (j < len && (is_alnum(s[j]) || s[j] == '-'))
            j++;
        if (j - start < 2 || j - start > 32 || j == len || s[j] != ':' || s[start] == '-' || s[j - 1] == '-')
            return "it is not a URN of the form urn:<namespace>:<name> (RFC 8141)";
        if (j + 1 == len)
            return "its URN has an empty name after the namespace (RFC 8141)";
    }
    return NULL;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* A URN's name part with its percent-encoded bytes decoded (a "%" not followed by two hexadecimal
 * digits is kept as it is). When the decoded bytes are not well-formed UTF-8 without NUL, the name
 * is kept as it was written: every value levee passes on is valid UTF-8 JSON. */
static void urn_unescape(lv_arena *a, const char **s, size_t *len)
{
    if (!memchr(*s, '%', *len))
        return;
    char *d = lv_arena_alloc(a, *len + 1);
    size_t n = 0;
    for (size_t i = 0; i < *len; i++) {
        int hi = (*s)[i] == '%' && i + 2 < *len ? hex_value((*s)[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value((*s)[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            d[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[n++] = (*s)[i];
        }
    }
    d[n] = '\0';
    for (size_t i = 0; i < n;) {
        size_t k = d[i] ? lv_utf8_valid_at(d + i, n - i) : 0;
        if (k == 0)
            return;
        i += k;
    }
    *s = d;
    *len = n;
}

/* The part of "urn:instructure:canvas:<kind>:<rest>" after the kind (any kind when kind is NULL). */
static bool urn_rest(const lv_json *node, const char *kind, const char **rest, size_t *rest_len)
{
    const char *s;
    size_t n;
    if (node->type != LV_JSON_STRING || !canvas_urn_tail(node->str, node->len, &s, &n))
        return false;
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return false;
    if (kind && ((size_t)(colon - s) != strlen(kind) || memcmp(s, kind, strlen(kind)) != 0))
        return false;
    *rest = colon + 1;
    *rest_len = n - (size_t)(colon + 1 - s);
    return true;
}

const lv__caliper_context lv__caliper_contexts[LV__CALIPER_CONTEXT_COUNT] = {
    { "Course", "CourseOffering", "course" },
    { "Group", "Group", "group" },
    { "Account", "Organization", "account" },
    { "CourseSection", "CourseSection", "courseSection" },
};

static void set_derived_string(lv_value *out, const char *s, size_t len, const lv_json *node)
{
    out->state = LV_SET;
    out->str = s;
    out->len = len;
    out->node = node;
}

/* Reads one place into out. With report false (events outside the model, whose IRIs need not be
 * Canvas's), a value that does not fit is skipped silently. */
static void read_place(lv_arena *a, lv_event *ev, const lv_field *f, const lv_caliper_place *p,
                       const lv_json *node, lv_value *out, bool report)
{
    lv_error err;
    const char *rest;
    size_t rest_len;
    switch (p->form) {
    case LV_CF_VALUE:
    case LV_CF_TIME:
    case LV_CF_CUSTOM_ROLE: {
        if (report) {
            lv__check_value(a, ev, f, node, NULL, p->path, out);
        } else {
            /* Check against a scratch event so nothing is reported. */
            lv_event probe = *ev;
            probe.diags = probe.diags_tail = NULL;
            probe.n_errors = probe.n_warnings = 0;
            lv__check_value(a, &probe, f, node, NULL, p->path, out);
            if (probe.n_errors)
                memset(out, 0, sizeof *out);
        }
        return;
    }
    case LV_CF_URN:
    case LV_CF_CONTEXT_URN:
        if (node->type == LV_JSON_NULL)
            return;
        if (!urn_rest(node, p->form == LV_CF_URN ? p->urn : NULL, &rest, &rest_len)) {
            /* A background job's event has no user: the root account is its actor, as
             * lv_caliper_write_envelope writes it (docs/events.md). */
            const lv_json *type = caliper_get(ev->json, "actor/type");
            if (strcmp(p->path, "actor/id") == 0 && urn_rest(node, "account", &rest, &rest_len) && type &&
                lv_json_str_is(type, "Organization"))
                return;
            if (report)
                lv__diag(a, ev, LV_ERROR, NULL, p->path,
                         "%s is not a Canvas URN (urn:instructure:canvas:%s:<id>)",
                         lv__describe(a, node), p->form == LV_CF_URN ? p->urn : "course");
            return;
        }
        if (f->type == LV_T_ID) {
            uint64_t id;
            if (lv_id_parse(rest, rest_len, &id, &err) != LV_OK) {
                if (report)
                    lv__diag(a, ev, LV_ERROR, NULL, p->path, "%s", err.msg);
                return;
            }
            set_derived_string(out, rest, rest_len, node);
            out->id = out->global_id = id;
        } else {
            urn_unescape(a, &rest, &rest_len); /* as caliper_write.c escapes it */
            set_derived_string(out, rest, rest_len, node);
        }
        return;
    case LV_CF_HOST_URL:
        if (node->type == LV_JSON_STRING) {
            const char *s = node->str, *e = node->str + node->len;
            const char *scheme = memmem(s, node->len, "://", 3);
            if (scheme) {
                const char *host = scheme + 3;
                const char *slash = memchr(host, '/', (size_t)(e - host));
                set_derived_string(out, host, (size_t)((slash ? slash : e) - host), node);
            }
        }
        return;
    case LV_CF_CONTEXT_TYPE:
        if (node->type == LV_JSON_STRING)
            for (size_t i = 0; i < LV__CALIPER_CONTEXT_COUNT; i++)
                if (lv_json_str_is(node, lv__caliper_contexts[i].caliper)) {
                    const char *canvas = lv__caliper_contexts[i].canvas;
                    set_derived_string(out, canvas, strlen(canvas), node);
                    return;
                }
        return;
    case LV_CF_ROLE:
        if (node->type == LV_JSON_STRING) {
            const char *role = lv_canvas_role_for(node->str, node->len);
            if (!role) {
                set_derived_string(out, node->str, node->len, node);
                return;
            }
            /* A role that exists only in one type of context (GroupMembership in a group) is not
             * that role elsewhere: a course's Member is a custom role whose name is not here. */
            const char *only_in = lv_canvas_role_context(role, strlen(role));
            const lv_value *ctx = &ev->meta[LV_M_CONTEXT_TYPE];
            if (!only_in || (ctx->state == LV_SET && strlen(only_in) == ctx->len &&
                             memcmp(only_in, ctx->str, ctx->len) == 0))
                set_derived_string(out, role, strlen(role), node);
        }
        return;

    case LV_CF_MEMBERSHIP_ID:
        return; /* derived from fields read elsewhere */
    }
}

static void read_field(lv_arena *a, lv_event *ev, const lv_field *f, lv_value *out, bool report)
{
    for (int i = 0; i < LV_CALIPER_PLACES && f->caliper[i].path; i++) {
        const lv_caliper_place *p = &f->caliper[i];
        const lv_json *node = caliper_get(ev->json, p->path);
        if (!node)
            continue;
        unsigned errors = ev->n_errors;
        read_place(a, ev, f, p, node, out, report);
        /* Canvas's canvas form has some ids local where Caliper has them global. */
        if (out->state == LV_SET && f->type == LV_T_ID && (p->flags & LV_CP_LOCAL) && ev->shard &&
            lv_id_shard(out->id) == ev->shard) {
            char text[LV_ID_TEXT_MAX];
            size_t n = lv_id_format(lv_id_local(out->id), text);
            out->id = out->global_id = lv_id_local(out->id);
            out->str = lv_arena_strndup(a, text, n);
            out->len = n;
        }
        if (out->state != LV_ABSENT || ev->n_errors != errors)
            return;
    }
}

/* The Caliper 1.1 context, or one of its profile extensions (".../v1p1/ToolUseProfile-extension"). */
static bool is_caliper_1_1_context(const lv_json *c)
{
    size_t n = strlen(LV_CALIPER_CONTEXT);
    return c->type == LV_JSON_STRING && has_prefix(c->str, c->len, LV_CALIPER_CONTEXT) &&
           (c->len == n || c->str[n] == '/');
}

static bool context_is_caliper_1_1(const lv_json *ctx)
{
    if (is_caliper_1_1_context(ctx))
        return true;
    if (ctx->type == LV_JSON_ARRAY)
        for (const lv_json *c = ctx->child; c; c = c->next)
            if (is_caliper_1_1_context(c))
                return true;
    return false;
}

/* Keys Canvas documents inside its extension objects; anything else is reported. */
static bool known_extension_key(const lv_event *ev, const char *object_path, const lv_json *key)
{
    char path[160];
    snprintf(path, sizeof path, "%s%.*s", object_path, (int)key->key_len, key->key);
    if (strcmp(path, "extensions/" LV_CALIPER_EXT "/version") == 0)
        return true;
    for (int m = 0; m < LV_META_COUNT; m++)
        for (int i = 0; i < LV_CALIPER_PLACES && lv_metadata_fields[m].caliper[i].path; i++)
            if (strcmp(lv_metadata_fields[m].caliper[i].path, path) == 0)
                return true;
    for (size_t f = 0; ev->kind && f < ev->kind->n_fields; f++)
        for (int i = 0; i < LV_CALIPER_PLACES && ev->kind->fields[f].caliper[i].path; i++)
            if (strcmp(ev->kind->fields[f].caliper[i].path, path) == 0)
                return true;
    return false;
}

static void check_extensions(lv_arena *a, lv_event *ev)
{
    static const char *const holders[] = { "actor/", "object/", "group/", "membership/", "" };
    for (size_t h = 0; h < sizeof holders / sizeof holders[0]; h++) {
        char path[96];
        snprintf(path, sizeof path, "%sextensions/" LV_CALIPER_EXT, holders[h]);
        const lv_json *ext = caliper_get(ev->json, path);
        if (!ext || ext->type != LV_JSON_OBJECT)
            continue;
        char prefix[100];
        snprintf(prefix, sizeof prefix, "%s/", path);
        for (const lv_json *k = ext->child; k; k = k->next)
            if (!known_extension_key(ev, prefix, k))
                lv__diag(a, ev, LV_WARNING, NULL,
                         lv_arena_printf(a, "%s%.*s", prefix, (int)k->key_len, k->key),
                         "is not a documented field of Canvas's Caliper form; it is not carried "
                         "into the canvas form");
    }
}

static const char *const required_properties[] = { "@context", "id", "type", "actor", "action",
                                                   "object", "eventTime" };

/* Caliper 1.1's properties whose values are entities (an object with an id and a type, or an IRI):
 * the Event's own, then those inside the entities Canvas's form uses. The first two are required. */
static const char *const entity_properties[] = {
    "actor", "object", "target", "generated", "edApp", "referrer", "group", "membership", "session",
    "federatedSession", "object/isPartOf", "object/replyTo", "membership/member", "membership/organization",
};

/* Caliper 1.1's role vocabulary (the spec's Roles section, from IMS LIS). */
static const char *const caliper_roles[] = {
    "Administrator", "ContentDeveloper", "Instructor", "Learner", "Manager", "Member", "Mentor", "Officer",
    "Administrator#Administrator", "Administrator#Developer", "Administrator#ExternalDeveloper",
    "Administrator#ExternalSupport", "Administrator#ExternalSystemAdministrator", "Administrator#Support",
    "Administrator#SystemAdministrator", "ContentDeveloper#ContentDeveloper", "ContentDeveloper#ContentExpert",
    "ContentDeveloper#ExternalContentExpert", "ContentDeveloper#Librarian", "Instructor#ExternalInstructor",
    "Instructor#Grader", "Instructor#GuestInstructor", "Instructor#Instructor", "Instructor#Lecturer",
    "Instructor#PrimaryInstructor", "Instructor#SecondaryInstructor", "Instructor#TeachingAssistant",
    "Instructor#TeachingAssistantGroup", "Instructor#TeachingAssistantOffering",
    "Instructor#TeachingAssistantSection", "Instructor#TeachingAssistantTemplate", "Learner#ExternalLearner",
    "Learner#GuestLearner", "Learner#Learner", "Learner#NonCreditLearner", "Manager#AreaManager",
    "Manager#CourseCoordinator", "Manager#ExternalObserver", "Manager#Manager", "Manager#Observer",
    "Member#Member", "Mentor#Advisor", "Mentor#Auditor", "Mentor#ExternalAdvisor", "Mentor#ExternalAuditor",
    "Mentor#ExternalLearningFacilitator", "Mentor#ExternalMentor", "Mentor#ExternalReviewer",
    "Mentor#ExternalTutor", "Mentor#LearningFacilitator", "Mentor#Mentor", "Mentor#Reviewer", "Mentor#Tutor",
    "Officer#Chair", "Officer#Secretary", "Officer#Treasurer", "Officer#Vice-Chair",
};

/* An entity-valued property: an IRI string, or an object with an IRI id and a type. A wrong shape
 * rejects the event, as a canvas field of the wrong type does; null stands for an absent optional
 * property (Caliper says it SHOULD be left out, and Canvas leaves null fields out at times). */
static void check_entity(lv_arena *a, lv_event *ev, const char *path, const lv_json *e, bool required)
{
    const char *why;
    if (e->type == LV_JSON_NULL && !required)
        return;
    if (e->type == LV_JSON_STRING) {
        if ((why = not_an_iri(e->str, e->len)) != NULL)
            lv__diag(a, ev, LV_ERROR, "", path,
                     "%s is not an IRI (%s), so it is not a Caliper entity; an entity is an IRI or an "
                     "object with an id and a type", lv__describe(a, e), why);
        return;
    }
    if (e->type != LV_JSON_OBJECT) {
        lv__diag(a, ev, LV_ERROR, "", path,
                 "expected an entity (an object with an id and a type, or an IRI string), got %s",
                 lv__describe(a, e));
        return;
    }
    const lv_json *id = lv_json_get(e, "id"), *type = lv_json_get(e, "type");
    char *at = lv_arena_printf(a, "%s/id", path);
    if (!id)
        lv__diag(a, ev, LV_ERROR, "", at, "is missing; Caliper requires an id (an IRI) of an entity given "
                 "as an object");
    else if (id->type != LV_JSON_STRING)
        lv__diag(a, ev, LV_ERROR, "", at, "expected an IRI string, got %s", lv__describe(a, id));
    else if ((why = not_an_iri(id->str, id->len)) != NULL)
        lv__diag(a, ev, LV_ERROR, "", at, "%s is not an IRI (%s), as Caliper requires of an entity id",
                 lv__describe(a, id), why);
    at = lv_arena_printf(a, "%s/type", path);
    if (!type)
        lv__diag(a, ev, LV_ERROR, "", at, "is missing; Caliper requires a type of an entity given as an object");
    else if (type->type != LV_JSON_STRING || type->len == 0)
        lv__diag(a, ev, LV_ERROR, "", at, "expected a Caliper type name (a string), got %s",
                 lv__describe(a, type));
}

static void check_entities(lv_arena *a, lv_event *ev, const lv_json *item)
{
    for (size_t i = 0; i < sizeof entity_properties / sizeof entity_properties[0]; i++) {
        const char *path = entity_properties[i];
        const char *slash = strchr(path, '/');
        const lv_json *e;
        if (slash) {
            const lv_json *holder = lv_json_getn(item, path, (size_t)(slash - path));
            e = holder && holder->type == LV_JSON_OBJECT ? lv_json_get(holder, slash + 1) : NULL;
        } else {
            e = lv_json_get(item, path);
        }
        if (e)
            check_entity(a, ev, path, e, i < 2);
    }
    /* Roles come from Caliper's vocabulary; another term is kept with a warning, as an
     * undocumented enumeration value of a canvas field is. */
    const lv_json *membership = lv_json_get(item, "membership");
    const lv_json *roles = membership && membership->type == LV_JSON_OBJECT ? lv_json_get(membership, "roles") : NULL;
    if (!roles || roles->type == LV_JSON_NULL)
        return;
    if (roles->type != LV_JSON_ARRAY) {
        lv__diag(a, ev, LV_ERROR, "", "membership/roles", "expected an array of Caliper roles, got %s",
                 lv__describe(a, roles));
        return;
    }
    size_t n = 0;
    for (const lv_json *r = roles->child; r; r = r->next, n++) {
        bool known = false;
        for (size_t k = 0; r->type == LV_JSON_STRING && k < sizeof caliper_roles / sizeof caliper_roles[0] && !known; k++)
            known = lv_json_str_is(r, caliper_roles[k]);
        if (!known)
            lv__diag(a, ev, LV_WARNING, "", lv_arena_printf(a, "membership/roles/%zu", n),
                     "%s is not a Caliper 1.1 role (Learner, Instructor, Member, ... or a sub-role such as "
                     "Instructor#TeachingAssistant); kept as is", lv__describe(a, r));
    }
}

/* The event id in RFC 4122's output form (lower case), so that a copy with "URN:UUID:" or upper
 * case digits is the same event. */
static void set_caliper_id(lv_arena *a, lv_event *ev, const lv_json *id)
{
    char *s = lv_arena_strndup(a, id->str, id->len);
    for (size_t i = 0; i < id->len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
    ev->caliper_id = s;
    ev->caliper_id_len = id->len;
}

static void decode_item(lv_arena *a, lv_event *ev, const lv_json *item)
{
    if (item->type != LV_JSON_OBJECT) {
        lv__diag(a, ev, LV_ERROR, "", NULL, "expected an object (a Caliper event), got %s",
                 lv__describe(a, item));
        return;
    }
    const lv_json *type = lv_json_get(item, "type");
    const lv_json *action = lv_json_get(item, "action");
    bool typed = type && type->type == LV_JSON_STRING;
    if (!action && (!typed || type->len < 5 || memcmp(type->str + type->len - 5, "Event", 5) != 0)) {
        ev->is_entity = true;
        if (typed) {
            ev->name = type->str;
            ev->name_len = type->len;
        }
        lv__diag(a, ev, LV_WARNING, "", NULL,
                 "is a Caliper %s entity, not an event; levee keeps events, so it is only kept "
                 "in the raw document", typed ? lv_arena_strndup(a, type->str, type->len) : "untyped");
        return;
    }
    for (size_t i = 0; i < sizeof required_properties / sizeof required_properties[0]; i++)
        if (!lv_json_get(item, required_properties[i]))
            lv__diag(a, ev, LV_ERROR, "", required_properties[i],
                     "is missing; every Caliper event needs it");
    const lv_json *ctx = lv_json_get(item, "@context");
    if (ctx && !context_is_caliper_1_1(ctx))
        lv__diag(a, ev, LV_ERROR, "", "@context",
                 "%s is not the Caliper 1.1 context (%s); levee reads Caliper 1.1 only",
                 lv__describe(a, ctx), LV_CALIPER_CONTEXT);
    const lv_json *id = lv_json_get(item, "id");
    if (id) {
        if (id->type != LV_JSON_STRING || !is_uuid_urn(id->str, id->len))
            lv__diag(a, ev, LV_ERROR, "", "id",
                     "%s is not a UUID URN (urn:uuid: and 32 hexadecimal digits as 8-4-4-4-12, RFC 4122), "
                     "as Caliper requires of an event id", lv__describe(a, id));
        else
            set_caliper_id(a, ev, id);
    }
    if (type && !typed)
        lv__diag(a, ev, LV_ERROR, "", "type", "expected a string, got %s", lv__describe(a, type));
    if (action && action->type != LV_JSON_STRING) {
        lv__diag(a, ev, LV_ERROR, "", "action", "expected a string, got %s", lv__describe(a, action));
        action = NULL;
    }
    check_entities(a, ev, item);

    /* Which Canvas event is this? */
    const lv_json *object_id = caliper_get(item, "object/id");
    if (typed && action) {
        const lv_kind *kind = lv_kind_for_caliper(type->str, type->len, action->str, action->len);
        const char *rest;
        size_t rest_len;
        if (kind && object_id && urn_rest(object_id, kind->caliper->object_urn, &rest, &rest_len)) {
            ev->kind = kind;
        } else if (kind) {
            lv__diag(a, ev, LV_WARNING, "", "object/id",
                     "is not a Canvas id (urn:instructure:canvas:%s:<id>), so this %.*s (%.*s) is "
                     "not Canvas's %s; kept as an event outside the model",
                     kind->caliper->object_urn, (int)type->len, type->str, (int)action->len,
                     action->str, kind->name);
        } else {
            /* as the canvas decoder says of an event name outside the model */
            lv__diag(a, ev, LV_WARNING, "", "type",
                     "\"%.*s.%.*s\" is outside levee's model (conversation and discussion events); the "
                     "event is kept as is", (int)(type->len > 60 ? 60 : type->len), type->str,
                     (int)(action->len > 60 ? 60 : action->len), action->str);
        }
        if (ev->kind) {
            ev->name = ev->kind->name;
            ev->name_len = strlen(ev->kind->name);
        } else {
            ev->name = lv_arena_printf(a, "%.*s.%.*s", (int)type->len, type->str, (int)action->len,
                                       action->str);
            ev->name_len = strlen(ev->name);
        }
    }

    /* Metadata, then (with the shard known) the body. */
    bool modeled = ev->kind != NULL;
    for (int m = 0; m < LV_META_COUNT; m++)
        read_field(a, ev, &lv_metadata_fields[m], &ev->meta[m],
                   modeled || m == LV_M_EVENT_TIME);
    const lv_value *root = &ev->meta[LV_M_ROOT_ACCOUNT_ID];
    ev->shard = root->state == LV_SET ? lv_id_shard(root->id) : 0;
    if (ev->name) {
        set_derived_string(&ev->meta[LV_M_EVENT_NAME], ev->name, ev->name_len, NULL);
        if (modeled)
            set_derived_string(&ev->meta[LV_M_PRODUCER], "canvas", 6, NULL);
    }
    if (ev->meta[LV_M_EVENT_TIME].state == LV_SET) {
        ev->has_time = true;
        ev->time_ms = ev->meta[LV_M_EVENT_TIME].ms;
    }
    if (modeled) {
        for (size_t i = 0; i < ev->kind->n_fields; i++)
            read_field(a, ev, &ev->kind->fields[i], &ev->body[i], true);
        for (size_t i = 0; i < ev->kind->n_fields; i++) {
            const lv_field *f = &ev->kind->fields[i];
            if ((f->flags & LV_F_REQUIRED) && ev->body[i].state == LV_ABSENT && f->caliper[0].path &&
                !caliper_get(item, f->caliper[0].path))
                lv__diag(a, ev, LV_ERROR, NULL, f->caliper[0].path,
                         "is missing; Canvas's %s carries the %s here", ev->kind->name, f->name);
        }
        check_extensions(a, ev);
    }
    lv__resolve_ids(a, ev);
}

static void envelope_checks(lv_arena *a, lv_event *ev, const lv_json *root)
{
    const char *saved = ev->path_prefix;
    ev->path_prefix = "";
    const lv_json *sensor = lv_json_get(root, "sensor");
    const lv_json *send_time = lv_json_get(root, "sendTime");
    const lv_json *version = lv_json_get(root, "dataVersion");
    if (!sensor)
        lv__diag(a, ev, LV_ERROR, "", "sensor", "is missing; every Caliper envelope needs it");
    else if (sensor->type != LV_JSON_STRING)
        lv__diag(a, ev, LV_ERROR, "", "sensor", "expected a string, got %s", lv__describe(a, sensor));
    if (!send_time) {
        lv__diag(a, ev, LV_ERROR, "", "sendTime", "is missing; every Caliper envelope needs it");
    } else {
        static const lv_field send_time_field = { .name = "sendTime", .key = -1, .type = LV_T_TIME, .doc = "" };
        lv_value v = { 0 };
        lv__check_value(a, ev, &send_time_field, send_time, "", "sendTime", &v);
    }
    if (!version)
        lv__diag(a, ev, LV_ERROR, "", "dataVersion", "is missing; every Caliper envelope needs it");
    else if (!lv_json_str_is(version, LV_CALIPER_CONTEXT))
        lv__diag(a, ev, LV_ERROR, "", "dataVersion",
                 "%s is not Caliper 1.1 (%s); levee reads Caliper 1.1 only",
                 lv__describe(a, version), LV_CALIPER_CONTEXT);
    ev->path_prefix = saved;
}

void lv__caliper_decode(lv_arena *a, const lv_json *root, lv_doc *doc)
{
    const lv_json *data = lv_json_get(root, "data");
    bool envelope = data || lv_json_get(root, "dataVersion") || lv_json_get(root, "sensor");
    if (!envelope) {
        doc->events = lv_arena_alloc(a, sizeof *doc->events);
        doc->n_events = 1;
        lv__event_init(&doc->events[0], LV_FORMAT_CALIPER, root, "");
        decode_item(a, &doc->events[0], root);
        return;
    }
    doc->envelope = true;
    if (!data || data->type != LV_JSON_ARRAY || data->len == 0) {
        doc->events = lv_arena_alloc(a, sizeof *doc->events);
        doc->n_events = 1;
        lv_event *ev = &doc->events[0];
        lv__event_init(ev, LV_FORMAT_CALIPER, root, "");
        envelope_checks(a, ev, root);
        if (!data)
            lv__diag(a, ev, LV_ERROR, "", "data", "is missing; a Caliper envelope holds its events in data");
        else if (data->type != LV_JSON_ARRAY)
            lv__diag(a, ev, LV_ERROR, "", "data", "expected an array of events, got %s",
                     lv__describe(a, data));
        else
            lv__diag(a, ev, LV_ERROR, "", "data", "is empty; the envelope holds no events");
        return;
    }
    doc->n_events = data->len;
    doc->events = lv_arena_alloc(a, data->len * sizeof *doc->events);
    size_t i = 0;
    for (const lv_json *item = data->child; item; item = item->next, i++) {
        lv_event *ev = &doc->events[i];
        lv__event_init(ev, LV_FORMAT_CALIPER, item, lv_arena_printf(a, "/data/%zu", i));
        envelope_checks(a, ev, root);
        decode_item(a, ev, item);
    }
}
