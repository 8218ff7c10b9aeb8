/* caliper_write.c: writing the Caliper 1.1 envelope Canvas sends for an event: a document is laid
 * out in Canvas's member order, filled by following the catalog's Caliper places forwards (the
 * reader, caliper_read.c, follows them backwards), and written without the members that got no
 * value. The Caliper event id is a name-based UUID of the event's canonical record. */
#include "caliper_internal.h"

#include "levee/caliper.h"
#include "levee/crypto.h"
#include "levee/id.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <string.h>

/* A node of the Caliper document under construction. Nodes are laid out in Canvas's member order
 * first and filled afterwards; nodes never filled are left out. */
typedef struct cnode cnode;
struct cnode {
    const char *key;
    size_t key_len;
    enum { C_UNSET, C_OBJECT, C_ARRAY, C_STRING, C_BOOL, C_NULL } type;
    bool is_const;
    const char *str;
    size_t len;
    bool boolean;
    cnode *child, *last, *next;
};

/* Canvas's member order, from its Forum page examples. */
static const char *const member_order[] = {
    "@context", "id", "type", "actor/id", "actor/type",
    "actor/extensions/" LV_CALIPER_EXT "/user_login", "actor/extensions/" LV_CALIPER_EXT "/user_sis_id",
    "actor/extensions/" LV_CALIPER_EXT "/root_account_id",
    "actor/extensions/" LV_CALIPER_EXT "/root_account_lti_guid",
    "actor/extensions/" LV_CALIPER_EXT "/root_account_uuid",
    "actor/extensions/" LV_CALIPER_EXT "/entity_id", "action", "object/id", "object/type",
    "object/name", "object/extensions/" LV_CALIPER_EXT "/is_announcement",
    "object/extensions/" LV_CALIPER_EXT "/entity_id", "object/replyTo/id", "object/replyTo/type",
    "object/isPartOf/id", "object/isPartOf/type", "object/body", "eventTime", "referrer",
    "edApp/id", "edApp/type", "group/id", "group/type",
    "group/extensions/" LV_CALIPER_EXT "/context_type", "group/extensions/" LV_CALIPER_EXT "/entity_id",
    "membership/id", "membership/type", "membership/member/id", "membership/member/type",
    "membership/organization/id", "membership/organization/type", "membership/roles",
    "membership/extensions/" LV_CALIPER_EXT "/context_role", "session/id",
    "session/type", "extensions/" LV_CALIPER_EXT "/hostname", "extensions/" LV_CALIPER_EXT "/request_id",
    "extensions/" LV_CALIPER_EXT "/user_agent", "extensions/" LV_CALIPER_EXT "/client_ip",
    "extensions/" LV_CALIPER_EXT "/request_url", "extensions/" LV_CALIPER_EXT "/version",
};

/* The entities of the form, innermost first. Caliper requires an entity given as an object to have
 * an id and a type; one that did not get both (a context of a type Caliper has no term for, a
 * membership without a context) is left out with what it holds. */
static const char *const entities[] = {
    "object/replyTo", "object/isPartOf", "membership/member", "membership/organization", "membership",
    "group", "session", "edApp", "actor", "object",
};

/* Constant members, written only into objects that hold some data of the event. */
static const char *const constants[][2] = {
    { "actor/type", "Person" },
    { "object/replyTo/type", "Message" },
    { "object/isPartOf/type", "Thread" },
    { "edApp/type", "SoftwareApplication" },
    { "membership/type", "Membership" },
    { "membership/member/type", "Person" },
    { "session/type", "Session" },
    { "extensions/" LV_CALIPER_EXT "/version", LV_CALIPER_CANVAS_VERSION },
};

static cnode *cnode_child(lv_arena *a, cnode *parent, const char *key, size_t len, bool create)
{
    for (cnode *c = parent->child; c; c = c->next)
        if (c->key_len == len && memcmp(c->key, key, len) == 0)
            return c;
    if (!create)
        return NULL;
    cnode *c = lv_arena_zalloc(a, sizeof *c);
    c->key = key;
    c->key_len = len;
    if (parent->last)
        parent->last->next = c;
    else
        parent->child = c;
    parent->last = c;
    return c;
}

/* The node at path; containers along the way become objects (or an array before a numeric segment). */
static cnode *cnode_at(lv_arena *a, cnode *root, const char *path, bool create)
{
    cnode *cur = root;
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool numeric = n > 0 && p[0] >= '0' && p[0] <= '9';
        if (cur->type == C_UNSET)
            cur->type = numeric ? C_ARRAY : C_OBJECT;
        cur = cnode_child(a, cur, p, n, create);
        if (!cur)
            return NULL;
        p += n;
        if (*p == '/')
            p++;
    }
    return cur;
}

static bool cnode_has_data(const cnode *n)
{
    if (n->type == C_OBJECT || n->type == C_ARRAY) {
        for (const cnode *c = n->child; c; c = c->next)
            if (cnode_has_data(c))
                return true;
        return false;
    }
    return n->type != C_UNSET && !n->is_const;
}

static bool cnode_has_any(const cnode *n)
{
    if (n->type == C_OBJECT || n->type == C_ARRAY) {
        for (const cnode *c = n->child; c; c = c->next)
            if (cnode_has_any(c))
                return true;
        return false;
    }
    return n->type != C_UNSET;
}

/* First writer wins: metadata is placed before the body, so the body only fills gaps. */
static void put_string(lv_arena *a, cnode *root, const char *path, const char *s, size_t len, bool is_const)
{
    cnode *n = cnode_at(a, root, path, true);
    if (n->type != C_UNSET)
        return;
    n->type = C_STRING;
    n->str = s;
    n->len = len;
    n->is_const = is_const;
}

static void put_cstr(lv_arena *a, cnode *root, const char *path, const char *s)
{
    put_string(a, root, path, s, strlen(s), false);
}

/* The context type's row in lv__caliper_contexts, or NULL for a type Caliper has no term for. */
static const lv__caliper_context *context_of(const lv_value *type)
{
    if (type->state != LV_SET)
        return NULL;
    for (size_t i = 0; i < LV__CALIPER_CONTEXT_COUNT; i++) {
        const lv__caliper_context *c = &lv__caliper_contexts[i];
        if (strlen(c->canvas) == type->len && memcmp(c->canvas, type->str, type->len) == 0)
            return c;
    }
    return NULL;
}

/* The URN kind of the event's context (metadata, else a topic's body), or NULL when its type is
 * absent or has no Caliper form: then the context has no URN and is not written. */
static const char *context_urn_kind(const lv_event *ev)
{
    const lv_value *t = &ev->meta[LV_M_CONTEXT_TYPE];
    const lv_value *bt = lv_event_body(ev, LV_B_CONTEXT_TYPE);
    if (t->state != LV_SET && bt->state == LV_SET)
        t = bt;
    const lv__caliper_context *c = context_of(t);
    return c ? c->urn : NULL;
}

/* s as part of a URN's name: RFC 8141 allows letters, digits, -._~!$&'()*+,;=:@ and '/' there,
 * and the rest percent-encoded. '#' above all: it would start a fragment, which is not part of the
 * name, so every TA of a course ("...:Instructor#TeachingAssistant:<user>") would have one id. */
static bool urn_char_ok(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("-._~!$&'()*+,;=:@/", c));
}

static void urn_escape(lv_arena *a, const char *s, size_t len, const char **out, size_t *out_len)
{
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += urn_char_ok((unsigned char)s[i]) ? 0 : 2;
    if (extra == 0) {
        *out = s;
        *out_len = len;
        return;
    }
    char *d = lv_arena_alloc(a, len + extra + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (urn_char_ok(c)) {
            d[n++] = (char)c;
        } else {
            d[n++] = '%';
            d[n++] = "0123456789ABCDEF"[c >> 4];
            d[n++] = "0123456789ABCDEF"[c & 15];
        }
    }
    d[n] = '\0';
    *out = d;
    *out_len = n;
}

/* The text a value is written with: ids as their decimal digits (also for built events, which
 * have no source text), everything else as given. */
static lv_value as_text(lv_arena *a, const lv_field *f, const lv_value *v)
{
    lv_value t = *v;
    if (f->type == LV_T_ID && v->state == LV_SET) {
        char text[LV_ID_TEXT_MAX];
        t.len = lv_id_format(v->id, text);
        t.str = lv_arena_strndup(a, text, t.len);
    }
    return t;
}

static void place_value(lv_arena *a, cnode *root, const lv_event *ev, const lv_field *f,
                        const lv_value *value, const lv_caliper_place *p)
{
    if (value->state == LV_ABSENT)
        return;
    lv_value text = as_text(a, f, value);
    const lv_value *v = &text;
    if (v->state == LV_NULL) {
        /* Caliper's own properties are never null (an entity or IRI, a string); the extensions
         * are Canvas's free-form objects, which carry nulls as Canvas sends them. */
        if (p->form == LV_CF_VALUE && strstr(p->path, "extensions/" LV_CALIPER_EXT "/")) {
            cnode *n = cnode_at(a, root, p->path, true);
            if (n->type == C_UNSET)
                n->type = C_NULL;
        }
        return;
    }
    char tmp[LV_TIME_TEXT_MAX];
    switch (p->form) {
    case LV_CF_VALUE:
        if (f->type == LV_T_BOOL) {
            cnode *n = cnode_at(a, root, p->path, true);
            if (n->type == C_UNSET) {
                n->type = C_BOOL;
                n->boolean = v->boolean;
            }
        } else {
            put_string(a, root, p->path, v->str, v->len, false);
        }
        break;
    case LV_CF_TIME: {
        size_t n = lv_time_format(v->ms, tmp);
        put_string(a, root, p->path, lv_arena_strndup(a, tmp, n), n, false);
        break;
    }
    case LV_CF_URN: {
        lv_value part = *v;
        if (f->type != LV_T_ID)
            urn_escape(a, v->str, v->len, &part.str, &part.len);
        put_cstr(a, root, p->path, lv_arena_printf(a, LV_CALIPER_URN_PREFIX "%s:%.*s", p->urn, (int)part.len, part.str));
        break;
    }
    case LV_CF_CONTEXT_URN: {
        const char *kind = context_urn_kind(ev);
        if (kind)
            put_cstr(a, root, p->path, lv_arena_printf(a, LV_CALIPER_URN_PREFIX "%s:%.*s", kind, (int)v->len, v->str));
        break;
    }
    case LV_CF_HOST_URL:
        put_cstr(a, root, p->path, lv_arena_printf(a, "http://%.*s/", (int)v->len, v->str));
        break;
    case LV_CF_CONTEXT_TYPE: {
        const lv__caliper_context *c = context_of(v);
        if (c)
            put_cstr(a, root, p->path, c->caliper);
        break;
    }
    case LV_CF_ROLE: {
        const char *role = lv_caliper_role_for(v->str, v->len);
        put_cstr(a, root, p->path, role ? role : "Member");
        break;
    }
    case LV_CF_CUSTOM_ROLE:
        if (!lv_caliper_role_for(v->str, v->len))
            put_string(a, root, p->path, v->str, v->len, false);
        break;
    case LV_CF_MEMBERSHIP_ID: {
        /* The context's id (v), the user's and the role's, as Canvas's examples name memberships:
         * "...:course:<c>:Learner:<u>", or "...:course:<c>:user:<u>" when the event names no role. */
        const char *kind = context_urn_kind(ev);
        if (!kind || ev->meta[LV_M_USER_ID].state != LV_SET)
            break;
        lv_value user = as_text(a, &lv_metadata_fields[LV_M_USER_ID], &ev->meta[LV_M_USER_ID]);
        const lv_value *r = &ev->meta[LV_M_CONTEXT_ROLE];
        const char *role = "user";
        if (r->state == LV_SET) {
            role = lv_caliper_role_for(r->str, r->len);
            if (!role)
                role = "Member";
        }
        const char *role_part;
        size_t role_len;
        urn_escape(a, role, strlen(role), &role_part, &role_len); /* Instructor#TeachingAssistant */
        put_cstr(a, root, p->path, lv_arena_printf(a, LV_CALIPER_URN_PREFIX "%s:%.*s:%.*s:%.*s", kind, (int)v->len,
                                                   v->str, (int)role_len, role_part, (int)user.len, user.str));
        break;
    }
    }
}

static void cnode_clear(cnode *n)
{
    for (cnode *c = n->child; c; c = c->next)
        cnode_clear(c);
    if (n->type != C_OBJECT && n->type != C_ARRAY)
        n->type = C_UNSET;
}

static bool cnode_is_set(lv_arena *a, cnode *root, const char *path)
{
    const cnode *n = cnode_at(a, root, path, false);
    return n && n->type != C_UNSET;
}

static void write_cnode(lv_jw *w, const cnode *n)
{
    switch (n->type) {
    case C_UNSET: break;
    case C_NULL: lv_jw_null(w); break;
    case C_BOOL: lv_jw_bool(w, n->boolean); break;
    case C_STRING: lv_jw_str(w, n->str, n->len); break;
    case C_OBJECT:
    case C_ARRAY:
        if (n->type == C_OBJECT)
            lv_jw_obj_open(w);
        else
            lv_jw_arr_open(w);
        for (const cnode *c = n->child; c; c = c->next) {
            if (!cnode_has_any(c))
                continue;
            if (n->type == C_OBJECT)
                lv_jw_keyn(w, c->key, c->key_len);
            write_cnode(w, c);
        }
        if (n->type == C_OBJECT)
            lv_jw_obj_close(w);
        else
            lv_jw_arr_close(w);
        break;
    }
}

/* SHA-1 name-based UUID (RFC 4122 version 5) in levee's namespace. */
lv_status lv_caliper_event_id(const lv_event *ev, char out[LV_CALIPER_ID_MAX], lv_error *err)
{
    lv_status st = lv_crypto_load(err);
    if (st != LV_OK)
        return st;
    static const unsigned char ns[16] = { 0x09, 0xe6, 0x04, 0x05, 0xd7, 0x20, 0x53, 0x86,
                                          0xab, 0xdf, 0x26, 0xb8, 0x35, 0xbb, 0x27, 0x08 };
    lv_buf record;
    lv_buf_init(&record);
    lv_jw *w = lv_jw_new(&record, false);
    lv_record_write(w, ev);
    lv_jw_free(w);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    const lv_crypto_api *k = lv_crypto();
    EVP_MD_CTX *ctx = k->EVP_MD_CTX_new();
    bool ok = ctx && k->EVP_DigestInit_ex(ctx, k->EVP_sha1(), NULL) == 1 && k->EVP_DigestUpdate(ctx, ns, sizeof ns) == 1 &&
              k->EVP_DigestUpdate(ctx, record.data, record.len) == 1 && k->EVP_DigestFinal_ex(ctx, md, &md_len) == 1 &&
              md_len >= 16;
    k->EVP_MD_CTX_free(ctx);
    lv_buf_free(&record);
    if (!ok)
        return lv_fail(err, LV_EINTERNAL, "libcrypto could not compute the event's Caliper id (SHA-1)");
    md[6] = (unsigned char)((md[6] & 0x0F) | 0x50);
    md[8] = (unsigned char)((md[8] & 0x3F) | 0x80);
    snprintf(out, LV_CALIPER_ID_MAX,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11],
             md[12], md[13], md[14], md[15]);
    return LV_OK;
}

/* The host Canvas names itself by: the request's hostname, else the lti_guid's host part. */
static const char *sensor_for(lv_arena *a, const lv_event *ev)
{
    const lv_value *host = &ev->meta[LV_M_HOSTNAME];
    if (host->state == LV_SET)
        return lv_arena_printf(a, "http://%.*s/", (int)host->len, host->str);
    const lv_value *guid = &ev->meta[LV_M_ROOT_ACCOUNT_LTI_GUID];
    if (guid->state == LV_SET) {
        const char *dot = memchr(guid->str, '.', guid->len);
        if (dot && dot + 1 < guid->str + guid->len)
            return lv_arena_printf(a, "http://%.*s/", (int)(guid->str + guid->len - dot - 1), dot + 1);
    }
    return "urn:instructure:canvas";
}

/* The body field whose value is the Caliper object's id. */
static const char *object_id_field(const lv_kind *kind)
{
    for (size_t f = 0; f < kind->n_fields; f++)
        for (int i = 0; i < LV_CALIPER_PLACES && kind->fields[f].caliper[i].path; i++)
            if (strcmp(kind->fields[f].caliper[i].path, "object/id") == 0)
                return kind->fields[f].name;
    return "object id";
}

/* "a, b and c": the kinds the catalog gives a Caliper form. */
static const char *caliper_kinds(char *out, size_t size)
{
    size_t n = 0, total = 0, used = 0;
    for (size_t k = 0; k < lv_kind_count; k++)
        total += lv_kinds[k].caliper != NULL;
    out[0] = '\0';
    for (size_t k = 0; k < lv_kind_count && used < size; k++) {
        if (!lv_kinds[k].caliper)
            continue;
        const char *sep = n == 0 ? "" : n + 1 == total ? " and " : ", ";
        used += (size_t)snprintf(out + used, size - used, "%s%s", sep, lv_kinds[k].name);
        n++;
    }
    return out;
}

lv_status lv_caliper_write_envelope(const lv_event *ev, lv_arena *a, lv_jw *w, lv_error *err)
{
    if (!ev->kind)
        return lv_fail(err, LV_EUNSUPPORTED, "is outside levee's model, so it has no Caliper form");
    if (!ev->kind->caliper) {
        char kinds[256];
        return lv_fail(err, LV_EUNSUPPORTED, "has no Caliper form: Canvas documents Caliper only for %s",
                       caliper_kinds(kinds, sizeof kinds));
    }
    if (!ev->has_time)
        return lv_fail(err, LV_EINVAL, "the event has no event_time, which Caliper requires");
    const lv_caliper_kind *ck = ev->kind->caliper;
    cnode *root = lv_arena_zalloc(a, sizeof *root);
    root->type = C_OBJECT;
    for (size_t i = 0; i < sizeof member_order / sizeof member_order[0]; i++)
        cnode_at(a, root, member_order[i], true);

    char id[LV_CALIPER_ID_MAX];
    lv_status id_status = lv_caliper_event_id(ev, id, err);
    if (id_status != LV_OK)
        return id_status;
    put_string(a, root, "@context", LV_CALIPER_CONTEXT, strlen(LV_CALIPER_CONTEXT), true);
    put_cstr(a, root, "id", lv_arena_strndup(a, id, strlen(id)));
    put_string(a, root, "type", ck->type, strlen(ck->type), true);
    put_string(a, root, "action", ck->action, strlen(ck->action), true);
    put_string(a, root, "object/type", ck->object_type, strlen(ck->object_type), true);

    for (int m = 0; m < LV_META_COUNT; m++)
        for (int i = 0; i < LV_CALIPER_PLACES && lv_metadata_fields[m].caliper[i].path; i++)
            place_value(a, root, ev, &lv_metadata_fields[m], &ev->meta[m], &lv_metadata_fields[m].caliper[i]);
    for (size_t f = 0; f < ev->kind->n_fields; f++)
        for (int i = 0; i < LV_CALIPER_PLACES && ev->kind->fields[f].caliper[i].path; i++)
            place_value(a, root, ev, &ev->kind->fields[f], &ev->body[f], &ev->kind->fields[f].caliper[i]);

    /* A background job has no user; the root account acts. */
    cnode *actor_id = cnode_at(a, root, "actor/id", false);
    if (!actor_id || actor_id->type == C_UNSET) {
        if (ev->meta[LV_M_ROOT_ACCOUNT_ID].state != LV_SET)
            return lv_fail(err, LV_EINVAL,
                           "the event names no user and no root account, so it has no Caliper actor");
        lv_value ra_text = as_text(a, &lv_metadata_fields[LV_M_ROOT_ACCOUNT_ID], &ev->meta[LV_M_ROOT_ACCOUNT_ID]);
        const lv_value *ra = &ra_text;
        put_cstr(a, root, "actor/id", lv_arena_printf(a, LV_CALIPER_URN_PREFIX "account:%.*s", (int)ra->len, ra->str));
        put_string(a, root, "actor/type", "Organization", 12, true);
    }
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        const char *path = constants[i][0];
        const char *slash = strrchr(path, '/');
        char parent[128];
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path);
        cnode *holder = cnode_at(a, root, parent, false);
        if (holder && cnode_has_data(holder))
            put_string(a, root, path, constants[i][1], strlen(constants[i][1]), true);
    }
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        cnode *e = cnode_at(a, root, entities[i], false);
        char id_path[64], type_path[64];
        snprintf(id_path, sizeof id_path, "%s/id", entities[i]);
        snprintf(type_path, sizeof type_path, "%s/type", entities[i]);
        if (e && cnode_has_any(e) && (!cnode_is_set(a, root, id_path) || !cnode_is_set(a, root, type_path)))
            cnode_clear(e);
    }
    if (!cnode_is_set(a, root, "object/id"))
        return lv_fail(err, LV_EINVAL, "the event has no %s, so its Caliper object has no id",
                       object_id_field(ev->kind));

    char send_time[LV_TIME_TEXT_MAX];
    size_t st = lv_time_format(ev->time_ms, send_time);
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "sensor", sensor_for(a, ev));
    lv_jw_kv_str(w, "sendTime", send_time, st);
    lv_jw_kv_cstr(w, "dataVersion", LV_CALIPER_CONTEXT);
    lv_jw_key(w, "data");
    lv_jw_arr_open(w);
    write_cnode(w, root);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    return LV_OK;
}
