/* redact.c: redaction at intake (levee/redact.h). A redaction is compiled once into two small tries of member
 * names, one for canvas events (metadata/<field>) and one for Caliper events (the catalog's places), and a
 * document is walked along them: once to see whether it holds anything to redact, and once more, only then, to
 * write it again without it. */
#include "levee/redact.h"

#include "levee/catalog.h"
#include "levee/crypto.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 4096
#define KEY_MIN 16
#define HASH_BYTES 16

typedef enum act {
    A_DESCEND,  /* an object on the way to a field */
    A_EACH,     /* an array of objects, each walked with the children (a Caliper envelope's data) */
    A_REMOVE,   /* the member goes */
    A_HASH,     /* the value becomes its keyed hash */
    A_HASH_URN, /* the same, keeping "urn:instructure:canvas:<urn>:" in front */
    A_QUERY,    /* a URL loses what follows its '?' or '#' (or that part is hashed) */
} act;

typedef struct rnode rnode;
struct rnode {
    const char *key;
    size_t key_len;
    act a;
    const char *urn; /* A_HASH_URN */
    rnode *child;    /* A_DESCEND, A_EACH */
    rnode *next;
};

struct lv_redaction {
    lv_arena arena;
    bool field[LV_META_COUNT];
    bool url_query;
    bool hash;
    unsigned char key[KEY_MAX];
    size_t key_len;
    rnode *canvas;  /* the members of a canvas event */
    rnode *caliper; /* the members of a Caliper event or envelope */
};

void lv_redaction_names(lv_buf *out)
{
    for (int i = 0; i < LV_META_COUNT; i++)
        if (lv_metadata_fields[i].flags & LV_F_PERSONAL)
            lv_buf_printf(out, "%s, ", lv_metadata_fields[i].name);
    lv_buf_puts(out, lv_url_query_name);
}

static const rnode *find(const rnode *list, const char *key, size_t len)
{
    for (const rnode *n = list; n; n = n->next)
        if (n->key_len == len && memcmp(n->key, key, len) == 0)
            return n;
    return NULL;
}

/* Adds the '/'-separated path to the trie at *list, ending in a member that gets `a`. */
static void add_path(lv_redaction *r, rnode **list, const char *path, size_t path_len, act a, const char *urn)
{
    const char *end = path + path_len;
    for (;;) {
        const char *slash = memchr(path, '/', (size_t)(end - path));
        size_t len = slash ? (size_t)(slash - path) : (size_t)(end - path);
        rnode *n = *list;
        while (n && !(n->key_len == len && memcmp(n->key, path, len) == 0))
            n = n->next;
        if (n && n->a != A_DESCEND)
            return; /* already taken out (or rewritten) whole */
        if (!n) {
            n = lv_arena_zalloc(&r->arena, sizeof *n);
            n->key = lv_arena_strndup(&r->arena, path, len);
            n->key_len = len;
            n->a = A_DESCEND;
            n->next = *list;
            *list = n;
        }
        if (!slash) {
            if (a == A_REMOVE)
                n->child = NULL; /* removing the member covers whatever was chosen inside it */
            n->a = a;
            n->urn = urn;
            return;
        }
        list = &n->child;
        path = slash + 1;
    }
}

static void compile(lv_redaction *r)
{
    static const char metadata[] = "metadata/";
    lv_buf path;
    lv_buf_init(&path);
    rnode *event = NULL;
    act value = r->hash ? A_HASH : A_REMOVE;
    for (int i = 0; i < LV_META_COUNT; i++) {
        const lv_field *f = &lv_metadata_fields[i];
        bool whole = r->field[i], query = !whole && r->url_query && (i == LV_M_URL || i == LV_M_REFERRER);
        if (!whole && !query)
            continue;
        lv_buf_reset(&path);
        lv_buf_puts(&path, metadata);
        lv_buf_puts(&path, f->name);
        add_path(r, &r->canvas, path.data, path.len, whole ? value : A_QUERY, NULL);
        for (int p = 0; p < LV_CALIPER_PLACES && f->caliper[p].path; p++) {
            const lv_caliper_place *pl = &f->caliper[p];
            size_t len = strlen(pl->path);
            if (query)
                add_path(r, &event, pl->path, len, A_QUERY, NULL);
            else if (pl->form != LV_CF_URN)
                add_path(r, &event, pl->path, len, value, NULL);
            else if (r->hash)
                add_path(r, &event, pl->path, len, A_HASH_URN, pl->urn);
            else {
                /* the field is the id of an entity (session/id): the entity goes */
                const char *slash = strrchr(pl->path, '/');
                add_path(r, &event, pl->path, slash ? (size_t)(slash - pl->path) : len, A_REMOVE, NULL);
            }
        }
    }
    rnode *data = lv_arena_zalloc(&r->arena, sizeof *data);
    data->key = "data";
    data->key_len = 4;
    data->a = A_EACH;
    data->child = event;
    data->next = event; /* an envelope's own members are looked at as a bare event's would be */
    r->caliper = data;
    lv_buf_free(&path);
}

static lv_status read_key(lv_redaction *r, const char *key_path, lv_error *err)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_status st = lv_read_file(key_path, "the redaction key", KEY_MAX, &b, err);
    if (st == LV_OK) {
        size_t n = b.len;
        while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r' || b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
            n--;
        if (n < KEY_MIN)
            st = lv_fail(err, LV_EINVAL, "the redaction key %s holds %zu bytes; a key needs at least %d (make one "
                         "with: openssl rand -hex 32 > %s)", key_path, n, KEY_MIN, key_path);
        else {
            memcpy(r->key, b.data, n);
            r->key_len = n;
            r->hash = true;
        }
    }
    lv_buf_free(&b);
    return st == LV_OK ? lv_crypto_load(err) : st;
}

lv_status lv_redaction_new(const char *fields, const char *key_path, lv_redaction **out, lv_error *err)
{
    *out = NULL;
    lv_redaction *r = lv_xcalloc(1, sizeof *r);
    lv_arena_init(&r->arena, 4096);
    lv_status st = LV_OK;
    size_t chosen = 0;
    for (const char *p = fields ? fields : ""; st == LV_OK && *p;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = p, *e = end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        size_t len = (size_t)(e - s);
        int m = len ? lv_meta_index(s, len) : -1;
        if (len == 0 && !comma && chosen) {
            /* a trailing comma */
        } else if (m >= 0 && (lv_metadata_fields[m].flags & LV_F_PERSONAL)) {
            r->field[m] = true;
            chosen++;
        } else if (len == strlen(lv_url_query_name) && memcmp(s, lv_url_query_name, len) == 0) {
            r->url_query = true;
            chosen++;
        } else {
            lv_buf names;
            lv_buf_init(&names);
            lv_redaction_names(&names);
            if (len == 0)
                st = lv_fail(err, LV_EINVAL, "the list of fields to redact has an empty name; give names separated "
                             "by commas, from: %s", names.data);
            else if (m >= 0)
                st = lv_fail(err, LV_EINVAL, "%.*s cannot be redacted: levee needs it to join and answer questions "
                             "about events; the fields that can are: %s", (int)len, s, names.data);
            else
                st = lv_fail(err, LV_EINVAL, "levee cannot redact \"%.*s\": there is no such metadata field; the "
                             "fields that can be redacted are: %s", (int)len, s, names.data);
            lv_buf_free(&names);
        }
        p = comma ? comma + 1 : end;
    }
    if (st == LV_OK && !chosen)
        st = lv_fail(err, LV_EINVAL, "no field to redact was given (e.g. client_ip,user_agent,url_query)");
    if (st == LV_OK && key_path)
        st = read_key(r, key_path, err);
    if (st != LV_OK) {
        lv_redaction_free(r);
        return st;
    }
    compile(r);
    *out = r;
    return LV_OK;
}

void lv_redaction_free(lv_redaction *r)
{
    if (!r)
        return;
    lv_arena_free(&r->arena);
    memset(r->key, 0, sizeof r->key);
    free(r);
}

void lv_redaction_describe(const lv_redaction *r, lv_buf *out)
{
    lv_buf_puts(out, r->hash ? "hashes (HMAC-SHA256, keyed) " : "removes ");
    const char *sep = "";
    for (int i = 0; i < LV_META_COUNT; i++)
        if (r->field[i]) {
            lv_buf_printf(out, "%s%s", sep, lv_metadata_fields[i].name);
            sep = ", ";
        }
    if (r->url_query)
        lv_buf_printf(out, "%s%s", sep, lv_url_query_name);
}

bool lv_redaction_hash(const lv_redaction *r, const char *value, size_t len, char hex[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!r->hash ||
        !lv_crypto()->HMAC(lv_crypto()->EVP_sha256(), r->key, (int)r->key_len, (const unsigned char *)value, len,
                           md, &md_len) ||
        md_len < HASH_BYTES)
        return false;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < HASH_BYTES; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * HASH_BYTES] = '\0';
    return true;
}

/* Where a URL's query (or fragment) starts, or len when it has none. */
static size_t query_at(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '?' || s[i] == '#')
            return i;
    return len;
}

/* Whether the member would change. */
static bool changes(const rnode *n, const lv_json *m)
{
    if (m->type == LV_JSON_NULL)
        return false; /* nothing personal in a null */
    if (n->a == A_QUERY)
        return m->type == LV_JSON_STRING && query_at(m->str, m->len) < m->len;
    return true;
}

/* The hash of any value: a string's text, a number's digits, true/false, or compact JSON. */
static bool hash_value(const lv_redaction *r, const lv_json *v, char hex[33])
{
    if (v->type == LV_JSON_STRING || v->type == LV_JSON_NUMBER || v->type == LV_JSON_RAW)
        return lv_redaction_hash(r, v->str, v->len, hex);
    if (v->type == LV_JSON_BOOL)
        return lv_redaction_hash(r, v->boolean ? "true" : "false", v->boolean ? 4 : 5, hex);
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_jw_value(w, v);
    lv_jw_free(w);
    bool ok = lv_redaction_hash(r, b.data ? b.data : "", b.len, hex);
    lv_buf_free(&b);
    return ok;
}

/* Writes member m (which changes) as the node says; a hash that cannot be made removes the member. */
static void write_leaf(const lv_redaction *r, const rnode *n, const lv_json *m, lv_jw *w, lv_buf *scratch)
{
    char hex[33];
    switch (n->a) {
    case A_REMOVE:
        return;
    case A_HASH:
        if (hash_value(r, m, hex))
            lv_jw_keyn(w, m->key, m->key_len), lv_jw_str(w, hex, 32);
        return;
    case A_HASH_URN: {
        lv_buf_reset(scratch);
        lv_buf_printf(scratch, "%s%s:", LV_CALIPER_URN_PREFIX, n->urn);
        size_t pre = scratch->len;
        bool prefixed = m->type == LV_JSON_STRING && m->len > pre && memcmp(m->str, scratch->data, pre) == 0;
        bool ok = prefixed ? lv_redaction_hash(r, m->str + pre, m->len - pre, hex) : hash_value(r, m, hex);
        if (!ok)
            return;
        if (!prefixed)
            lv_buf_reset(scratch);
        lv_buf_append(scratch, hex, 32);
        lv_jw_keyn(w, m->key, m->key_len);
        lv_jw_str(w, scratch->data, scratch->len);
        return;
    }
    case A_QUERY: {
        size_t q = query_at(m->str, m->len);
        lv_buf_reset(scratch);
        lv_buf_append(scratch, m->str, q);
        if (r->hash) {
            if (!lv_redaction_hash(r, m->str + q + 1, m->len - q - 1, hex))
                return;
            lv_buf_putc(scratch, m->str[q]);
            lv_buf_append(scratch, hex, 32);
        }
        lv_jw_keyn(w, m->key, m->key_len);
        lv_jw_str(w, scratch->data, scratch->len);
        return;
    }
    case A_DESCEND:
    case A_EACH:
        break;
    }
}

/* Counts what would change in obj (w NULL), or writes obj with it redacted. */
static size_t walk(const lv_redaction *r, const lv_json *obj, const rnode *trie, lv_jw *w, lv_buf *scratch)
{
    size_t changed = 0;
    if (w)
        lv_jw_obj_open(w);
    for (const lv_json *m = obj->child; m; m = m->next) {
        const rnode *n = m->key ? find(trie, m->key, m->key_len) : NULL;
        if (n && n->a == A_DESCEND && m->type == LV_JSON_OBJECT) {
            if (w)
                lv_jw_keyn(w, m->key, m->key_len);
            changed += walk(r, m, n->child, w, scratch);
        } else if (n && n->a == A_EACH && m->type == LV_JSON_ARRAY) {
            if (w) {
                lv_jw_keyn(w, m->key, m->key_len);
                lv_jw_arr_open(w);
            }
            for (const lv_json *e = m->child; e; e = e->next) {
                if (e->type == LV_JSON_OBJECT)
                    changed += walk(r, e, n->child, w, scratch);
                else if (w)
                    lv_jw_value(w, e);
            }
            if (w)
                lv_jw_arr_close(w);
        } else if (n && n->a != A_DESCEND && n->a != A_EACH && changes(n, m)) {
            changed++;
            if (w)
                write_leaf(r, n, m, w, scratch);
        } else if (w) {
            lv_jw_keyn(w, m->key, m->key_len);
            lv_jw_value(w, m);
        }
    }
    if (w)
        lv_jw_obj_close(w);
    return changed;
}

bool lv_redact_json(const lv_redaction *r, const lv_json *root, lv_buf *out)
{
    if (!r || !root || root->type != LV_JSON_OBJECT)
        return false;
    /* the decoder's rule: a document with metadata is a canvas event, anything else is Caliper's */
    const rnode *trie = lv_json_get(root, "metadata") ? r->canvas : r->caliper;
    if (!walk(r, root, trie, NULL, NULL))
        return false;
    lv_buf scratch;
    lv_buf_init(&scratch);
    lv_jw *w = lv_jw_new(out, false);
    walk(r, root, trie, w, &scratch);
    lv_jw_free(w);
    lv_buf_free(&scratch);
    return true;
}
