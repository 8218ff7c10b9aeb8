/* spec.c: a subscription's settings: read from the options of an add (the CLI's flags and the API's
 * body are the same JSON object), checked with a sentence naming what is wrong, kept as JSON in the
 * store, and the filter that decides which events it gets. */
#include "deliver.h"

#include "levee/base64.h"
#include "levee/crypto.h"
#include "levee/id.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define MINUTE_MS 60000LL
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

void dl_spec_free(dl_spec *sp)
{
    free(sp->name);
    free(sp->url);
    for (size_t i = 0; i < sp->n_events; i++)
        free(sp->events[i]);
    free(sp->events);
    free(sp->courses);
    for (size_t i = 0; i < sp->n_secrets; i++)
        free(sp->secrets[i].secret);
    free(sp->secrets);
    free(sp->sign_key);
    free(sp->kid);
    for (size_t i = 0; i < sp->n_headers; i++)
        free(sp->headers[i]);
    free(sp->headers);
    memset(sp, 0, sizeof *sp);
}

static void defaults(dl_spec *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->source_format = -1;
    sp->form = DL_FORM_CANVAS;
    sp->parallel = 4;
    sp->timeout_ms = 15000;        /* Canvas's own */
    sp->retry_min_ms = 5000;
    sp->retry_max_ms = 10 * MINUTE_MS;
    sp->max_age_ms = 3 * DAY_MS;
    sp->disable_after_ms = 5 * DAY_MS;
}

static const char *const form_names[] = { "canvas", "caliper", "record" };

lv_status dl_secret_new(char **out, lv_error *err)
{
    unsigned char key[24];
    size_t got = 0;
    while (got < sizeof key) {
        ssize_t n = getrandom(key + got, sizeof key - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return lv_fail(err, LV_EIO, "cannot make a secret: the system's random source failed (%s)", strerror(errno));
        got += (size_t)n;
    }
    lv_status rc = lv_crypto_load(err);
    if (rc != LV_OK)
        return rc;
    char b64[64];
    int n = lv_crypto()->EVP_EncodeBlock((unsigned char *)b64, key, (int)sizeof key);
    lv_buf s;
    lv_buf_init(&s);
    lv_buf_printf(&s, "whsec_%.*s", n, b64);
    *out = lv_xstrndup(s.data, s.len);
    lv_buf_free(&s);
    return LV_OK;
}

/* whsec_ and the base64 of 24 to 64 bytes, as Standard Webhooks secrets are: padding only at the end. */
static bool secret_ok(const char *s)
{
    if (strncmp(s, "whsec_", 6) != 0)
        return false;
    const char *b = s + 6;
    size_t n = strlen(b), pad = 0;
    if (n == 0 || n % 4)
        return false;
    while (pad < 2 && b[n - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!isalnum((unsigned char)b[i]) && b[i] != '+' && b[i] != '/')
            return false;
    size_t bytes = n / 4 * 3 - pad;
    return bytes >= 24 && bytes <= 64;
}

/* A header a subscription may add: a token name, a value without line breaks, and not one levee sets. */
static bool header_ok(const char *h, char *why, size_t size)
{
    static const char *const reserved[] = { "content-type", "content-length", "host", "user-agent",
                                            "transfer-encoding", "connection", "expect",
                                            "webhook-id", "webhook-timestamp", "webhook-signature" };
    const char *colon = strchr(h, ':');
    if (!colon || colon == h) {
        snprintf(why, size, "'%s' is not a header: write it as 'Name: value'", h);
        return false;
    }
    for (const char *p = h; p < colon; p++)
        if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p)) {
            snprintf(why, size, "'%.*s' is not a header name", (int)(colon - h), h);
            return false;
        }
    for (const char *p = colon + 1; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
            snprintf(why, size, "the value of header '%.*s' holds a control character or a line break",
                     (int)(colon - h), h);
            return false;
        }
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if ((size_t)(colon - h) == strlen(reserved[i]) && strncasecmp(h, reserved[i], strlen(reserved[i])) == 0) {
            snprintf(why, size, "levee sets the header '%.*s' itself", (int)(colon - h), h);
            return false;
        }
    return true;
}

static bool glob_ok(const char *g)
{
    if (!*g || strlen(g) > 200)
        return false;
    for (const char *p = g; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-*?", *p))
            return false;
    return true;
}

static bool url_ok(const char *u)
{
    size_t n = strlen(u);
    if (n > 2048 || !(strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0))
        return false;
    const char *host = u + (u[4] == 's' ? 8 : 7);
    if (!*host || *host == '/')
        return false;
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* The host of an http(s) URL, for a default name. */
static char *url_host(const char *u)
{
    const char *h = u + (u[4] == 's' ? 8 : 7);
    const char *at = NULL;
    size_t n = strcspn(h, "/?#");
    for (size_t i = 0; i < n; i++)
        if (h[i] == '@')
            at = h + i;
    if (at) { /* never show credentials */
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    return lv_xstrndup(h, n);
}

static lv_status bad(lv_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static lv_status bad(lv_error *err, const char *fmt, ...)
{
    char msg[LV_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lv_fail(err, LV_EINVAL, "%s", msg);
}

static char *string_of(const lv_json *v)
{
    return lv_xstrndup(v->str, v->len);
}

/* A whole number in [lo, hi] (a JSON number or a string of digits). */
static bool int_of(const lv_json *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v || (v->type != LV_JSON_NUMBER && v->type != LV_JSON_STRING) || v->len == 0 || v->len > 19)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->str[i] < '0' || v->str[i] > '9' || x > (INT64_MAX - (v->str[i] - '0')) / 10)
            return false; /* not a digit, or past INT64_MAX (19 digits can be) */
        x = x * 10 + (v->str[i] - '0');
    }
    if (x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static const struct policy_key {
    const char *key;
    size_t offset;
    int64_t lo, hi;
    const char *range;
} policy_keys[] = {
    { "timeout_ms", offsetof(dl_spec, timeout_ms), 100, 10 * MINUTE_MS, "from 100ms to 10m" },
    { "retry_min_ms", offsetof(dl_spec, retry_min_ms), 10, DAY_MS, "from 10ms to 1d" },
    { "retry_max_ms", offsetof(dl_spec, retry_max_ms), 10, 7 * DAY_MS, "from 10ms to 7d" },
    { "max_age_ms", offsetof(dl_spec, max_age_ms), 1000, 90 * DAY_MS, "from 1s to 90d" },
    { "disable_after_ms", offsetof(dl_spec, disable_after_ms), 1000, 365 * DAY_MS, "from 1s to 365d" },
};

static const char *const option_keys[] = { "url", "name", "events", "courses", "source_format", "form", "secret",
                                            "sign_key", "kid", "headers", "parallel", "since", "from_start" };

static bool known_key(const lv_json *m)
{
    for (size_t i = 0; i < sizeof option_keys / sizeof *option_keys; i++)
        if (lv_json_key_is(m, option_keys[i]))
            return true;
    for (size_t i = 0; i < sizeof policy_keys / sizeof *policy_keys; i++)
        if (lv_json_key_is(m, policy_keys[i].key))
            return true;
    return false;
}

/* A list given as a JSON array of strings (or numbers, for ids). */
static lv_status strings_of(const lv_json *v, const char *key, bool numbers_too, lv_error *err)
{
    if (v->type != LV_JSON_ARRAY)
        return bad(err, "%s must be a list", key);
    if (v->len > 1000)
        return bad(err, "%s holds %zu items; at most 1000", key, v->len);
    for (const lv_json *e = v->child; e; e = e->next)
        if (e->type != LV_JSON_STRING && !(numbers_too && e->type == LV_JSON_NUMBER))
            return bad(err, "%s must hold only strings", key);
    return LV_OK;
}

static lv_status take_options(lv_store *s, const lv_json *o, dl_spec *sp, char **generated, lv_error *err)
{
    if (!o || o->type != LV_JSON_OBJECT)
        return bad(err, "the options of a subscription must be a JSON object");
    for (const lv_json *m = o->child; m; m = m->next)
        if (!known_key(m))
            return bad(err, "'%.*s' is not an option of a subscription (docs/subscriptions.md lists them)",
                       (int)m->key_len, m->key);
    const lv_json *v = lv_json_get(o, "url");
    if (!v || v->type != LV_JSON_STRING)
        return bad(err, "a subscription needs a url: the endpoint events are POSTed to");
    sp->url = string_of(v);
    if (strlen(sp->url) != v->len || !url_ok(sp->url))
        return bad(err, "url '%.*s' is not an http:// or https:// URL", (int)(v->len > 200 ? 200 : v->len), v->str);
    if ((v = lv_json_get(o, "name")) && v->type != LV_JSON_NULL) {
        if (v->type != LV_JSON_STRING || v->len == 0 || v->len > 200 || memchr(v->str, '\0', v->len))
            return bad(err, "name must be text of 1 to 200 characters");
        sp->name = string_of(v);
    } else {
        sp->name = url_host(sp->url);
    }
    if ((v = lv_json_get(o, "events")) && v->type != LV_JSON_NULL) {
        lv_status rc = strings_of(v, "events", false, err);
        if (rc != LV_OK)
            return rc;
        sp->events = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->events);
        for (const lv_json *e = v->child; e; e = e->next) {
            char *g = string_of(e);
            if (!glob_ok(g) || strlen(g) != e->len) {
                free(g);
                return bad(err, "events: '%.*s' is not an event name or a glob of one (letters, digits, _ . - * ?)",
                           (int)(e->len > 100 ? 100 : e->len), e->str);
            }
            sp->events[sp->n_events++] = g;
        }
    }
    if ((v = lv_json_get(o, "courses")) && v->type != LV_JSON_NULL) {
        lv_status rc = strings_of(v, "courses", true, err);
        if (rc != LV_OK)
            return rc;
        sp->courses = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->courses);
        for (const lv_json *e = v->child; e; e = e->next) {
            int64_t id;
            if (!int_of(e, 1, INT64_MAX, &id))
                return bad(err, "courses: '%.*s' is not a course id", (int)(e->len > 40 ? 40 : e->len), e->str);
            uint64_t global;
            if ((rc = lv_store_resolve_id(s, (uint64_t)id, &global, err)) != LV_OK)
                return rc;
            sp->courses[sp->n_courses++] = global;
        }
    }
    if ((v = lv_json_get(o, "source_format")) && v->type != LV_JSON_NULL) {
        if (lv_json_str_is(v, "canvas"))
            sp->source_format = LV_FORMAT_CANVAS;
        else if (lv_json_str_is(v, "caliper"))
            sp->source_format = LV_FORMAT_CALIPER;
        else
            return bad(err, "source_format must be canvas or caliper (the format events arrived in)");
    }
    if ((v = lv_json_get(o, "form")) && v->type != LV_JSON_NULL) {
        size_t i = 0;
        while (i < 3 && !lv_json_str_is(v, form_names[i]))
            i++;
        if (i == 3)
            return bad(err, "form must be canvas, caliper or record");
        sp->form = (dl_form)i;
    }
    const lv_json *secret = lv_json_get(o, "secret"), *key = lv_json_get(o, "sign_key"), *kid = lv_json_get(o, "kid");
    if (secret && secret->type == LV_JSON_NULL)
        secret = NULL;
    if (key && key->type == LV_JSON_NULL)
        key = NULL;
    if (kid && kid->type == LV_JSON_NULL)
        kid = NULL;
    if (secret && (key || kid))
        return bad(err, "a subscription is signed one way: a secret (Standard Webhooks) or a key (a JWT), not both");
    if (secret) {
        if (secret->type != LV_JSON_STRING)
            return bad(err, "secret must be whsec_... or new");
        sp->secrets = lv_xcalloc(1, sizeof *sp->secrets);
        sp->n_secrets = 1;
        if (lv_json_str_is(secret, "new")) {
            lv_status rc = dl_secret_new(&sp->secrets[0].secret, err);
            if (rc != LV_OK)
                return rc;
            *generated = lv_xstrdup(sp->secrets[0].secret);
        } else {
            sp->secrets[0].secret = string_of(secret);
            if (!secret_ok(sp->secrets[0].secret))
                return bad(err, "secret must be whsec_ followed by the base64 of 24 to 64 random bytes, or new "
                                "for levee to make one");
        }
    }
    if (!key != !kid)
        return bad(err, "sign_key and kid go together: the JWT header names the key by its id");
    if (key) {
        if (key->type != LV_JSON_STRING || kid->type != LV_JSON_STRING || kid->len == 0 || kid->len > 200)
            return bad(err, "sign_key must be a file name and kid a key id");
        char *path = string_of(key);
        char *full = realpath(path, NULL);
        free(path);
        if (!full)
            return bad(err, "sign_key: cannot open '%.*s': %s", (int)(key->len > 200 ? 200 : key->len), key->str,
                       strerror(errno));
        sp->sign_key = lv_xstrdup(full);
        free(full);
        sp->kid = string_of(kid);
        lv_sign_key *k;
        lv_status rc = lv_sign_key_load(&k, sp->sign_key, sp->kid, err);
        if (rc != LV_OK)
            return rc;
        lv_sign_key_free(k);
    }
    if ((v = lv_json_get(o, "headers")) && v->type != LV_JSON_NULL) {
        lv_status rc = strings_of(v, "headers", false, err);
        if (rc != LV_OK)
            return rc;
        sp->headers = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->headers);
        for (const lv_json *e = v->child; e; e = e->next) {
            char why[LV_ERROR_MAX] = "";
            char *h = string_of(e);
            if (strlen(h) != e->len || e->len > 8192 || !header_ok(h, why, sizeof why)) {
                free(h);
                return bad(err, "headers: %s", why[0] ? why : e->len > 8192 ? "a header is longer than 8192 bytes"
                                                                             : "a header holds a NUL character");
            }
            sp->headers[sp->n_headers++] = h;
        }
    }
    int64_t n;
    if ((v = lv_json_get(o, "parallel")) && v->type != LV_JSON_NULL) {
        if (!int_of(v, 1, DL_MAX_PARALLEL, &n))
            return bad(err, "parallel must be a whole number from 1 to %d", DL_MAX_PARALLEL);
        sp->parallel = (unsigned)n;
    }
    for (size_t i = 0; i < sizeof policy_keys / sizeof *policy_keys; i++) {
        const struct policy_key *k = &policy_keys[i];
        if ((v = lv_json_get(o, k->key)) && v->type != LV_JSON_NULL) {
            if (!int_of(v, k->lo, k->hi, &n))
                return bad(err, "%.*s must be %s", (int)(strlen(k->key) - 3), k->key, k->range);
            *(int64_t *)((char *)sp + k->offset) = n;
        }
    }
    if (sp->retry_max_ms < sp->retry_min_ms)
        return bad(err, "retry-max (%lld ms) is shorter than retry-min (%lld ms)", (long long)sp->retry_max_ms,
                   (long long)sp->retry_min_ms);
    return LV_OK;
}

lv_status dl_spec_from_options(lv_store *s, const lv_json *options, dl_spec *sp, char **generated, lv_error *err)
{
    defaults(sp);
    *generated = NULL;
    lv_status rc = take_options(s, options, sp, generated, err);
    if (rc != LV_OK) {
        dl_spec_free(sp);
        free(*generated);
        *generated = NULL;
    }
    return rc;
}

void dl_spec_write(const dl_spec *sp, lv_jw *w, bool stored)
{
    lv_jw_kv_cstr(w, "name", sp->name);
    lv_jw_kv_cstr(w, "url", sp->url);
    lv_jw_key(w, "filter");
    lv_jw_obj_open(w);
    lv_jw_key(w, "events");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < sp->n_events; i++)
        lv_jw_cstr(w, sp->events[i]);
    lv_jw_arr_close(w);
    lv_jw_key(w, "courses");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < sp->n_courses; i++) {
        char id[24];
        snprintf(id, sizeof id, "%llu", (unsigned long long)sp->courses[i]);
        lv_jw_cstr(w, id);
    }
    lv_jw_arr_close(w);
    lv_jw_kv_cstr(w, "source_format", sp->source_format < 0 ? NULL
                                      : sp->source_format == LV_FORMAT_CALIPER ? "caliper" : "canvas");
    lv_jw_obj_close(w);
    lv_jw_kv_cstr(w, "form", form_names[sp->form]);
    lv_jw_kv_cstr(w, "signing", sp->n_secrets ? "webhooks" : sp->sign_key ? "jwt" : "none");
    if (stored) {
        lv_jw_key(w, "secrets");
        lv_jw_arr_open(w);
        for (size_t i = 0; i < sp->n_secrets; i++) {
            lv_jw_obj_open(w);
            lv_jw_kv_cstr(w, "secret", sp->secrets[i].secret);
            lv_jw_kv_int(w, "expires_ms", sp->secrets[i].expires_ms);
            lv_jw_obj_close(w);
        }
        lv_jw_arr_close(w);
        lv_jw_kv_cstr(w, "sign_key", sp->sign_key);
    }
    if (sp->kid)
        lv_jw_kv_cstr(w, "kid", sp->kid);
    lv_jw_key(w, "headers");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < sp->n_headers; i++) {
        if (stored) {
            lv_jw_cstr(w, sp->headers[i]);
        } else { /* names only: values are often credentials */
            const char *colon = strchr(sp->headers[i], ':');
            lv_jw_str(w, sp->headers[i], colon ? (size_t)(colon - sp->headers[i]) : strlen(sp->headers[i]));
        }
    }
    lv_jw_arr_close(w);
    lv_jw_kv_int(w, "parallel", sp->parallel);
    lv_jw_key(w, "policy");
    lv_jw_obj_open(w);
    for (size_t i = 0; i < sizeof policy_keys / sizeof *policy_keys; i++)
        lv_jw_kv_int(w, policy_keys[i].key, *(const int64_t *)((const char *)sp + policy_keys[i].offset));
    lv_jw_obj_close(w);
}

/* The stored form, as dl_spec_write(stored) wrote it. */
lv_status dl_spec_parse(const char *json, size_t len, dl_spec *sp, lv_error *err)
{
    defaults(sp);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *root;
    lv_status rc = lv_json_parse(&a, json, len, &root, err);
    const lv_json *v = NULL;
    if (rc == LV_OK && (root->type != LV_JSON_OBJECT || !(v = lv_json_get(root, "url")) || v->type != LV_JSON_STRING))
        rc = lv_fail(err, LV_EDAMAGED, "a subscription's settings in the store are not what levee wrote: the store is damaged");
    if (rc != LV_OK) {
        lv_arena_free(&a);
        return rc == LV_EDAMAGED ? rc : lv_fail(err, LV_EDAMAGED, "a subscription's settings in the store cannot be "
                                                                   "read (%s): the store is damaged", err->msg);
    }
    sp->url = string_of(v);
    sp->name = (v = lv_json_get(root, "name")) && v->type == LV_JSON_STRING ? string_of(v) : lv_xstrdup("");
    const lv_json *f = lv_json_get(root, "filter");
    if ((v = lv_json_get(f, "events")) && v->type == LV_JSON_ARRAY) {
        sp->events = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->events);
        for (const lv_json *e = v->child; e; e = e->next)
            if (e->type == LV_JSON_STRING)
                sp->events[sp->n_events++] = string_of(e);
    }
    if ((v = lv_json_get(f, "courses")) && v->type == LV_JSON_ARRAY) {
        sp->courses = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->courses);
        for (const lv_json *e = v->child; e; e = e->next) {
            int64_t id;
            if (int_of(e, 0, INT64_MAX, &id))
                sp->courses[sp->n_courses++] = (uint64_t)id;
        }
    }
    if ((v = lv_json_get(f, "source_format")) && v->type == LV_JSON_STRING)
        sp->source_format = lv_json_str_is(v, "caliper") ? LV_FORMAT_CALIPER : LV_FORMAT_CANVAS;
    for (size_t i = 0; (v = lv_json_get(root, "form")) && i < 3; i++)
        if (lv_json_str_is(v, form_names[i]))
            sp->form = (dl_form)i;
    if ((v = lv_json_get(root, "secrets")) && v->type == LV_JSON_ARRAY) {
        sp->secrets = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->secrets);
        for (const lv_json *e = v->child; e; e = e->next) {
            const lv_json *sec = lv_json_get(e, "secret");
            int64_t exp = 0;
            if (!sec || sec->type != LV_JSON_STRING)
                continue;
            int_of(lv_json_get(e, "expires_ms"), 0, INT64_MAX, &exp);
            sp->secrets[sp->n_secrets++] = (dl_secret){ string_of(sec), exp };
            if (!secret_ok(sp->secrets[sp->n_secrets - 1].secret)) {
                dl_spec_free(sp);
                lv_arena_free(&a);
                return lv_fail(err, LV_EDAMAGED, "a secret of this subscription in the store is not a whsec_ "
                                                 "secret: the store is damaged; remove the subscription and add "
                                                 "it again");
            }
        }
    }
    if ((v = lv_json_get(root, "sign_key")) && v->type == LV_JSON_STRING)
        sp->sign_key = string_of(v);
    if ((v = lv_json_get(root, "kid")) && v->type == LV_JSON_STRING)
        sp->kid = string_of(v);
    if ((v = lv_json_get(root, "headers")) && v->type == LV_JSON_ARRAY) {
        sp->headers = lv_xcalloc(v->len ? v->len : 1, sizeof *sp->headers);
        for (const lv_json *e = v->child; e; e = e->next)
            if (e->type == LV_JSON_STRING)
                sp->headers[sp->n_headers++] = string_of(e);
    }
    int64_t n;
    if (int_of(lv_json_get(root, "parallel"), 1, DL_MAX_PARALLEL, &n))
        sp->parallel = (unsigned)n;
    const lv_json *policy = lv_json_get(root, "policy");
    for (size_t i = 0; i < sizeof policy_keys / sizeof *policy_keys; i++)
        if (int_of(lv_json_get(policy, policy_keys[i].key), 0, INT64_MAX, &n))
            *(int64_t *)((char *)sp + policy_keys[i].offset) = n;
    lv_arena_free(&a);
    return LV_OK;
}

bool dl_spec_matches(const dl_spec *sp, const lv_event_ref *ev)
{
    if (sp->source_format >= 0 && (int)ev->format != sp->source_format)
        return false;
    if (sp->n_courses) {
        bool in = false;
        /* a course given by its local id (the store knew no shard when it was added) is that course on
         * any shard */
        uint64_t c = ev->context_id.set ? (uint64_t)ev->context_id.v : 0;
        for (size_t i = 0; !in && c && i < sp->n_courses; i++)
            in = c == sp->courses[i] || (sp->courses[i] < LV_SHARD_FACTOR && lv_id_local(c) == sp->courses[i]);
        if (!in)
            return false;
    }
    if (!sp->n_events)
        return true;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(ev->name.n < 255 ? ev->name.n : 255), ev->name.p ? ev->name.p : "");
    for (size_t i = 0; i < sp->n_events; i++)
        if (fnmatch(sp->events[i], name, 0) == 0)
            return true;
    return false;
}
