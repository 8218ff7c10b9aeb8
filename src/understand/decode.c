/* decode.c: from one JSON document to validated events. Recognises the form (canvas event, Caliper
 * envelope, bare Caliper event), decodes canvas events field by field against the catalog, and
 * holds the value checks that Caliper decoding shares. */
#include "decode_internal.h"

#include "levee/id.h"
#include "levee/redact.h"
#include "levee/text.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <string.h>

void lv__diag(lv_arena *a, lv_event *ev, lv_severity sev, const char *base, const char *name,
              const char *fmt, ...)
{
    lv_diag *d = lv_arena_alloc(a, sizeof *d);
    d->severity = sev;
    d->path = lv_arena_printf(a, "%s%s%s%s", ev->path_prefix ? ev->path_prefix : "", base ? base : "",
                              name ? "/" : "", name ? name : "");
    va_list ap;
    va_start(ap, fmt);
    char msg[LV_ERROR_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->message = lv_arena_strndup(a, msg, strlen(msg));
    d->next = NULL;
    if (ev->diags_tail)
        ev->diags_tail->next = d;
    else
        ev->diags = d;
    ev->diags_tail = d;
    if (sev == LV_ERROR)
        ev->n_errors++;
    else
        ev->n_warnings++;
}

const char *lv__describe(lv_arena *a, const lv_json *node)
{
    switch (node->type) {
    case LV_JSON_NULL: return "null";
    case LV_JSON_BOOL: return node->boolean ? "true" : "false";
    case LV_JSON_NUMBER:
        return lv_arena_printf(a, "the number %.*s", (int)(node->len > 40 ? 40 : node->len), node->str);
    case LV_JSON_STRING:
        if (node->len > 100)
            return lv_arena_printf(a, "the string \"%.*s...\"", (int)lv_utf8_cut(node->str, node->len, 97), node->str);
        return lv_arena_printf(a, "the string \"%.*s\"", (int)node->len, node->str);
    case LV_JSON_ARRAY: return "an array";
    case LV_JSON_OBJECT: return "an object";
    case LV_JSON_RAW: return "a value nested too deep to be read";
    }
    return "a value";
}

static const char *expected_for(const lv_field *f)
{
    switch (f->type) {
    case LV_T_ID: return "an id (a string of decimal digits)";
    case LV_T_TIME: return "an ISO 8601 timestamp string";
    case LV_T_BOOL: return "true or false";
    default: return "a string";
    }
}

static bool number_is_integer(const lv_json *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->str[i] < '0' || n->str[i] > '9')
            return false;
    return n->len > 0;
}

void lv__check_value(lv_arena *a, lv_event *ev, const lv_field *f, const lv_json *node,
                     const char *base, const char *name, lv_value *out)
{
    lv_error err;
    if (!node)
        return;
    out->node = node;
    if (node->type == LV_JSON_NULL) {
        if (f->flags & LV_F_NULLABLE)
            out->state = LV_NULL;
        else
            lv__diag(a, ev, LV_ERROR, base, name, "is null, but it must be %s", expected_for(f));
        return;
    }
    switch (f->type) {
    case LV_T_ID:
        if (node->type == LV_JSON_STRING) {
            if (lv_id_parse(node->str, node->len, &out->id, &err) != LV_OK) {
                lv__diag(a, ev, LV_ERROR, base, name, "%s", err.msg);
                return;
            }
        } else if (node->type == LV_JSON_NUMBER) {
            if (!number_is_integer(node)) {
                lv__diag(a, ev, LV_ERROR, base, name, "%.*s is not a whole, non-negative number, so it is not an id",
                         (int)(node->len > 40 ? 40 : node->len), node->str);
                return;
            }
            if (lv_id_parse(node->str, node->len, &out->id, &err) != LV_OK) {
                lv__diag(a, ev, LV_ERROR, base, name, "%s", err.msg);
                return;
            }
        } else {
            lv__diag(a, ev, LV_ERROR, base, name, "expected %s, got %s", expected_for(f),
                     lv__describe(a, node));
            return;
        }
        out->global_id = out->id;
        break;
    case LV_T_TIME:
        if (node->type != LV_JSON_STRING) {
            lv__diag(a, ev, LV_ERROR, base, name, "expected %s, got %s", expected_for(f),
                     lv__describe(a, node));
            return;
        }
        lv_time_note note;
        if (lv_time_read(node->str, node->len, &out->ms, &note, &err) != LV_OK) {
            lv__diag(a, ev, LV_ERROR, base, name, "%s", err.msg);
            return;
        }
        if (note.text[0]) /* accepted, in a form Canvas does not send */
            lv__diag(a, ev, LV_WARNING, base, name, "%s", note.text);
        break;
    case LV_T_BOOL:
        if (node->type != LV_JSON_BOOL) {
            lv__diag(a, ev, LV_ERROR, base, name, "expected true or false, got %s", lv__describe(a, node));
            return;
        }
        out->boolean = node->boolean;
        break;
    case LV_T_STRING:
    case LV_T_TEXT:
    case LV_T_HTML:
    case LV_T_ENUM:
        if (node->type != LV_JSON_STRING) {
            lv__diag(a, ev, LV_ERROR, base, name, "expected a string, got %s", lv__describe(a, node));
            return;
        }
        if (f->type == LV_T_TEXT || f->type == LV_T_HTML) {
            /* Counting is only needed when the bytes could hold more characters than the limit. */
            if (node->len > LV_TEXT_LIMIT) {
                size_t chars = lv_utf8_count(node->str, node->len);
                if (chars > LV_TEXT_LIMIT)
                    lv__diag(a, ev, LV_WARNING, base, name,
                             "is %zu characters long; Canvas cuts it to %d, so this did not come "
                             "from Canvas unchanged", chars, LV_TEXT_LIMIT);
            }
        } else if (f->type == LV_T_ENUM && f->values) {
            bool known = false;
            for (const char *const *v = f->values; *v && !known; v++)
                known = strlen(*v) == node->len && memcmp(*v, node->str, node->len) == 0;
            if (!known) {
                char list[256] = "";
                size_t used = 0;
                for (const char *const *v = f->values; *v; v++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                             v == f->values ? "" : ", ", *v);
                lv__diag(a, ev, LV_WARNING, base, name,
                         "\"%.*s\" is not one of the documented values (%s); kept as is",
                         (int)(node->len > 60 ? 60 : node->len), node->str, list);
            }
        }
        break;
    }
    if (node->type == LV_JSON_STRING || node->type == LV_JSON_NUMBER) {
        out->str = node->str;
        out->len = node->len;
    }
    out->state = LV_SET;
}

void lv__check_required(lv_arena *a, lv_event *ev, const lv_field *fields, size_t n,
                        const lv_value *values, const char *base)
{
    for (size_t i = 0; i < n; i++)
        if ((fields[i].flags & LV_F_REQUIRED) && values[i].state == LV_ABSENT && !values[i].node)
            lv__diag(a, ev, LV_ERROR, base, fields[i].name, "is missing; %s needs it",
                     ev->kind && base && strcmp(base, "/body") == 0
                         ? lv_arena_printf(a, "every %s event", ev->kind->name)
                         : "every event");
}

static void resolve(lv_arena *a, lv_event *ev, const lv_field *f, lv_value *v, const char *base,
                    bool *unresolved)
{
    if (f->type != LV_T_ID || !(f->flags & LV_F_SHARDED) || v->state != LV_SET)
        return;
    if (!lv_id_globalize(v->id, ev->shard, &v->global_id)) {
        lv__diag(a, ev, LV_WARNING, base, f->name,
                 "local id %llu cannot be made global on shard %llu (too large); kept as sent",
                 (unsigned long long)v->id, (unsigned long long)ev->shard);
        v->global_id = v->id;
    }
    if (ev->shard == 0 && lv_id_is_local(v->id))
        *unresolved = true;
}

void lv__resolve_ids(lv_arena *a, lv_event *ev)
{
    const lv_value *root = &ev->meta[LV_M_ROOT_ACCOUNT_ID];
    ev->shard = root->state == LV_SET ? lv_id_shard(root->id) : 0;
    bool unresolved = false;
    const char *mbase = ev->format == LV_FORMAT_CANVAS ? "/metadata" : NULL;
    for (int m = 0; m < LV_META_COUNT; m++)
        resolve(a, ev, &lv_metadata_fields[m], &ev->meta[m], mbase, &unresolved);
    if (ev->kind)
        for (size_t i = 0; i < ev->kind->n_fields; i++)
            resolve(a, ev, &ev->kind->fields[i], &ev->body[i],
                    ev->format == LV_FORMAT_CANVAS ? "/body" : NULL, &unresolved);
    if (unresolved && root->state != LV_SET && ev->format == LV_FORMAT_CANVAS)
        lv__diag(a, ev, LV_WARNING, "/metadata", "root_account_id",
                 "is missing, so local ids cannot be made global; they are kept as sent");
}

void lv__event_init(lv_event *ev, lv_format format, const lv_json *json, const char *path_prefix)
{
    memset(ev, 0, sizeof *ev);
    ev->format = format;
    ev->json = json;
    ev->path_prefix = path_prefix;
}

/* ---- canvas form ---- */

static void decode_metadata(lv_arena *a, lv_event *ev)
{
    for (const lv_json *m = ev->metadata_json->child; m; m = m->next) {
        int idx = lv_meta_index(m->key, m->key_len);
        if (idx < 0) {
            ev->unknown_fields++;
            lv__diag(a, ev, LV_WARNING, "/metadata", lv_arena_strndup(a, m->key, m->key_len),
                     "is not a documented metadata field; kept as is");
            continue;
        }
        if (ev->meta[idx].node) {
            lv__diag(a, ev, LV_ERROR, "/metadata", lv_metadata_fields[idx].name,
                     "appears twice in metadata; levee cannot tell which value Canvas meant");
            continue;
        }
        lv__check_value(a, ev, &lv_metadata_fields[idx], m, "/metadata", lv_metadata_fields[idx].name,
                        &ev->meta[idx]);
    }
    lv__check_required(a, ev, lv_metadata_fields, LV_META_COUNT, ev->meta, "/metadata");
}

static void decode_body(lv_arena *a, lv_event *ev)
{
    const lv_kind *kind = ev->kind;
    for (const lv_json *m = ev->body_json->child; m; m = m->next) {
        int idx = lv_kind_field_index(kind, m->key, m->key_len);
        if (idx < 0) {
            ev->unknown_fields++;
            lv__diag(a, ev, LV_WARNING, "/body", lv_arena_strndup(a, m->key, m->key_len),
                     "is not a documented field of %s; kept as is", kind->name);
            continue;
        }
        if (ev->body[idx].node) {
            lv__diag(a, ev, LV_ERROR, "/body", kind->fields[idx].name,
                     "appears twice in body; levee cannot tell which value Canvas meant");
            continue;
        }
        lv__check_value(a, ev, &kind->fields[idx], m, "/body", kind->fields[idx].name, &ev->body[idx]);
    }
    lv__check_required(a, ev, kind->fields, kind->n_fields, ev->body, "/body");
}

/* A signed delivery's claims are the event's members plus JWT's registered claims (RFC 7519). */
static bool is_jwt_claim(const lv_json *m)
{
    static const char *const claims[] = { "iss", "sub", "aud", "exp", "nbf", "iat", "jti" };
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++)
        if (lv_json_key_is(m, claims[i]))
            return true;
    return false;
}

static void decode_canvas(lv_arena *a, const lv_json *root, lv_event *ev)
{
    for (const lv_json *m = root->child; m; m = m->next) {
        if (lv_json_key_is(m, "metadata")) {
            if (m->type == LV_JSON_OBJECT)
                ev->metadata_json = m;
            else
                lv__diag(a, ev, LV_ERROR, "/metadata", NULL, "expected an object, got %s",
                         lv__describe(a, m));
        } else if (lv_json_key_is(m, "body")) {
            ev->body_json = m; /* outside the model any body is kept; checked below if modeled */
        } else if (!is_jwt_claim(m)) {
            lv__diag(a, ev, LV_WARNING, "", lv_arena_strndup(a, m->key, m->key_len),
                     "is not part of a canvas event (which has metadata and body); kept as is");
        }
    }
    if (!ev->metadata_json) {
        if (!lv_json_get(root, "metadata"))
            lv__diag(a, ev, LV_ERROR, "/metadata", NULL,
                     "is missing; a canvas event is {\"metadata\": {...}, \"body\": {...}}");
        return;
    }
    decode_metadata(a, ev);
    const lv_value *name = &ev->meta[LV_M_EVENT_NAME];
    const lv_value *time = &ev->meta[LV_M_EVENT_TIME];
    if (name->state == LV_SET) {
        ev->name = name->str;
        ev->name_len = name->len;
        if (name->len == 0)
            lv__diag(a, ev, LV_ERROR, "/metadata", "event_name", "is empty");
    }
    if (time->state == LV_SET) {
        ev->has_time = true;
        ev->time_ms = time->ms;
    }
    if (ev->name && ev->name_len) {
        ev->kind = lv_kind_find(ev->name, ev->name_len);
        if (!ev->kind)
            lv__diag(a, ev, LV_WARNING, "/metadata", "event_name",
                     "\"%.*s\" is outside levee's model (conversation and discussion events); the "
                     "event is kept as is", (int)lv_utf8_cut(ev->name, ev->name_len, 80), ev->name);
    }
    if (ev->kind) {
        if (!ev->body_json)
            lv__diag(a, ev, LV_ERROR, "/body", NULL, "is missing; every %s event has a body",
                     ev->kind->name);
        else if (ev->body_json->type != LV_JSON_OBJECT)
            lv__diag(a, ev, LV_ERROR, "/body", NULL, "expected an object, got %s",
                     lv__describe(a, ev->body_json));
        else
            decode_body(a, ev);
    }
    lv__resolve_ids(a, ev);
}

/* ---- documents ---- */

static lv_event *single_event(lv_arena *a, lv_doc *doc, lv_format format, const lv_json *json)
{
    doc->events = lv_arena_alloc(a, sizeof *doc->events);
    doc->n_events = 1;
    lv__event_init(&doc->events[0], format, json, "");
    return &doc->events[0];
}

void lv__finish(lv_doc *doc, const lv_decode_options *opt)
{
    for (size_t i = 0; i < doc->n_events; i++) {
        lv_event *ev = &doc->events[i];
        ev->rejected = ev->n_errors > 0 || (opt && opt->strict && ev->n_warnings > 0);
    }
}

void lv_decode_oversized(lv_arena *a, size_t len, size_t limit, lv_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    doc->len = len;
    lv_event *ev = single_event(a, doc, LV_FORMAT_CANVAS, NULL);
    if (limit == LV_EVENT_MAX_BYTES)
        lv__diag(a, ev, LV_ERROR, "", NULL,
                 "the document is %zu bytes; Canvas and levee refuse events over %d bytes", len,
                 LV_EVENT_MAX_BYTES);
    else
        lv__diag(a, ev, LV_ERROR, "", NULL, "the document is %zu bytes; the limit here is %zu bytes",
                 len, limit);
    ev->rejected = true;
}

static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Text the parser had to repair (not valid UTF-8, a lone surrogate escape) is a warning of the event
 * it belongs to; what belongs to an envelope is a warning of each of its events. A value nested deeper
 * than LV_JSON_MAX_DEPTH is kept whole (as its text) in an event outside the model, with a warning;
 * levee's model never reaches that deep, so in a modelled event it is an error. */
static void attach_report(lv_arena *a, lv_doc *doc, const lv_json_report *rep)
{
    for (size_t i = 0; i < doc->n_events; i++) {
        lv_event *ev = &doc->events[i];
        const char *prefix = ev->path_prefix ? ev->path_prefix : "";
        ev->path_prefix = "";
        for (const lv_json_repair *r = rep->repairs; r; r = r->next)
            if (!doc->envelope || path_under(r->path, prefix) || !path_under(r->path, "/data"))
                lv__diag(a, ev, LV_WARNING, r->path, NULL, "%s", r->message);
        if (i == 0 && rep->n_repairs > LV_JSON_MAX_REPAIRS)
            lv__diag(a, ev, LV_WARNING, "", NULL,
                     "%zu more strings are not valid UTF-8; each ill-formed part is written as U+FFFD",
                     rep->n_repairs - LV_JSON_MAX_REPAIRS);
        for (const lv_json_repair *r = rep->deep; r; r = r->next) {
            if (doc->envelope && !path_under(r->path, prefix) && path_under(r->path, "/data"))
                continue;
            if (ev->kind)
                lv__diag(a, ev, LV_ERROR, r->path, NULL,
                         "%s; levee refuses that in the events it models (%s is one), and keeps it only in "
                         "events outside its model", r->message, ev->kind->name);
            else
                lv__diag(a, ev, LV_WARNING, r->path, NULL,
                         "%s; the event is outside levee's model, so the value is kept as it came (as "
                         "compact JSON) without being looked into", r->message);
        }
        if (i == 0 && rep->n_deep > LV_JSON_MAX_REPAIRS)
            lv__diag(a, ev, ev->kind ? LV_ERROR : LV_WARNING, "", NULL,
                     "%zu more values are nested deeper than %d levels", rep->n_deep - LV_JSON_MAX_REPAIRS,
                     LV_JSON_MAX_DEPTH);
        ev->path_prefix = prefix;
    }
}

lv_status lv_decode(lv_arena *a, const char *text, size_t len, const lv_decode_options *opt,
                    lv_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    doc->text = text;
    doc->len = len;
    lv_error err;
    lv_json *root = NULL;
    lv_json_report report;
    if (len > LV_EVENT_MAX_BYTES || !text) {
        lv_decode_oversized(a, len, LV_EVENT_MAX_BYTES, doc);
        return LV_EINVAL;
    } else if (lv_json_parse_report(a, text, len, LV_JSON_MAX_DEPTH, &root, &report, &err) != LV_OK) {
        doc->not_json = true;
        lv_event *ev = single_event(a, doc, LV_FORMAT_CANVAS, NULL);
        lv__diag(a, ev, LV_ERROR, "", NULL, "%s", err.msg);
    } else if (root->type != LV_JSON_OBJECT) {
        lv_event *ev = single_event(a, doc, LV_FORMAT_CANVAS, root);
        lv__diag(a, ev, LV_ERROR, "", NULL,
                 "not an object: the document is %s, but an event is a JSON object (a canvas "
                 "event, a Caliper envelope or a Caliper event)", lv__describe(a, root));
    } else {
        doc->root = root;
        /* A Caliper Message entity has a "body" too, so Caliper's own markers are checked first. */
        bool canvas = lv_json_get(root, "metadata") != NULL;
        bool caliper = !canvas && (lv_json_get(root, "data") || lv_json_get(root, "dataVersion") ||
                                   lv_json_get(root, "sensor") || lv_json_get(root, "@context") ||
                                   lv_json_get(root, "eventTime") || lv_json_get(root, "actor") ||
                                   lv_json_get(root, "action"));
        if (canvas || (!caliper && lv_json_get(root, "body"))) {
            doc->format = LV_FORMAT_CANVAS;
            decode_canvas(a, root, single_event(a, doc, LV_FORMAT_CANVAS, root));
        } else if (caliper) {
            doc->format = LV_FORMAT_CALIPER;
            lv__caliper_decode(a, root, doc);
        } else {
            lv_event *ev = single_event(a, doc, LV_FORMAT_CANVAS, root);
            lv__diag(a, ev, LV_ERROR, "", NULL,
                     "not a Live Events document: it has no metadata (canvas event), no data "
                     "(Caliper envelope) and no @context (Caliper event)");
        }
        attach_report(a, doc, &report);
    }
    if (opt && opt->redact && doc->root) {
        lv_buf redacted;
        lv_buf_init(&redacted);
        if (lv_redact_json(opt->redact, doc->root, &redacted)) {
            char *copy = lv_arena_strndup(a, redacted.data, redacted.len);
            size_t n = redacted.len;
            lv_buf_free(&redacted);
            lv_decode_options once = *opt;
            once.redact = NULL; /* a hash of a hash would differ: redacting is done once */
            return lv_decode(a, copy, n, &once, doc);
        }
        lv_buf_free(&redacted);
    }
    lv__finish(doc, opt);
    for (size_t i = 0; i < doc->n_events; i++)
        if (doc->events[i].rejected)
            return LV_EINVAL;
    return LV_OK;
}

const lv_value *lv_event_meta(const lv_event *ev, int meta_index)
{
    return &ev->meta[meta_index];
}

const lv_value *lv_event_body(const lv_event *ev, lv_body_key field)
{
    static const lv_value absent = { .state = LV_ABSENT };
    int i = ev->kind ? lv_kind_field_of(ev->kind, field) : -1;
    return i < 0 ? &absent : &ev->body[i];
}

uint64_t lv_value_id(const lv_value *v)
{
    return v->global_id ? v->global_id : v->id;
}

static bool is_course(const lv_value *type)
{
    return type && type->state == LV_SET && type->len == 6 && memcmp(type->str, "Course", 6) == 0;
}

uint64_t lv_event_course(const lv_event *ev)
{
    const lv_value *ctx = &ev->meta[LV_M_CONTEXT_ID];
    if (ctx->state == LV_SET && is_course(&ev->meta[LV_M_CONTEXT_TYPE]))
        return lv_value_id(ctx);
    const lv_value *bctx = lv_event_body(ev, LV_B_CONTEXT_ID);
    if (bctx->state == LV_SET && is_course(lv_event_body(ev, LV_B_CONTEXT_TYPE)))
        return lv_value_id(bctx);
    return 0;
}
