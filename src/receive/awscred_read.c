/* awscred_read.c: reading what the AWS credential sources answer (levee/awscred.h): STS's XML (with Expat, no
 * DOCTYPE), credential_process's JSON, the IAM Identity Center portal's JSON and the token `aws sso
 * login` caches, and credential_process's command split into words as the AWS CLI splits it. No message
 * quotes a secret. */
#include "awscred_internal.h"

#include "levee/expat.h"
#include "levee/json.h"
#include "levee/timestamp.h"

#include <stdlib.h>
#include <string.h>

/* Tokens of STS are a few KB ("make no assumptions about the maximum size"): a field is kept up to this. */
#define MAX_FIELD (64u * 1024)
/* An STS answer is a few KB; a much larger one is not STS. */
#define MAX_XML (1u << 20)

void lv_awscred_keys_clear(lv_awscred_keys *k)
{
    char *parts[] = { k->key, k->secret, k->token };
    for (size_t i = 0; i < 3; i++) {
        if (parts[i]) {
            memset(parts[i], 0, strlen(parts[i]));
            free(parts[i]);
        }
    }
    memset(k, 0, sizeof *k);
}

/* Whether s can be sent in a header or as the user of CURLOPT_USERPWD (key) as it is. */
static bool printable(const char *s, size_t len, bool colon_ok)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || (!colon_ok && c == ':'))
            return false;
    }
    return true;
}

/* An ISO 8601 time as the sources write it: RFC 3339, or with "UTC" for the offset (older AWS CLIs'
 * SSO cache). */
static bool read_time(const char *s, size_t len, int64_t *ms)
{
    char buf[64];
    if (len == 0 || len > 48)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (len > 3 && strcmp(buf + len - 3, "UTC") == 0) {
        buf[len - 3] = 'Z';
        buf[len - 2] = '\0';
        len -= 2;
    }
    lv_error e;
    return lv_time_parse(buf, len, ms, &e) == LV_OK;
}

/* ---- STS (XML) ---- */

enum { F_KEY, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_MESSAGE, F_COUNT, F_NONE = -1 };

typedef struct sts_reader {
    XML_Parser parser;
    int depth;
    bool result;         /* inside <...Result> under the root */
    bool credentials;    /* inside <Credentials> of the result */
    bool error;          /* inside <Error> of <ErrorResponse> */
    int field;           /* the field whose text is being read, or F_NONE */
    int field_depth;
    bool doctype;
    bool too_long;
    lv_buf text[F_COUNT];
    bool seen[F_COUNT];
} sts_reader;

static const char *local_name(const XML_Char *name)
{
    const char *bar = strrchr(name, '|'); /* the namespace's separator (XML_ParserCreateNS) */
    return bar ? bar + 1 : name;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static void XMLCALL sts_start(void *data, const XML_Char *qname, const XML_Char **attrs)
{
    (void)attrs;
    sts_reader *r = data;
    const char *name = local_name(qname);
    r->depth++;
    if (r->field != F_NONE) /* an element inside a value: not STS's */
        return;
    if (r->depth == 1) {
        r->error = false;
    } else if (r->depth == 2) {
        r->result = ends_with(name, "Result");
        r->error = strcmp(name, "Error") == 0;
    } else if (r->depth == 3 && r->result && strcmp(name, "Credentials") == 0) {
        r->credentials = true;
    } else if (r->depth == 4 && r->credentials) {
        r->field = strcmp(name, "AccessKeyId") == 0       ? F_KEY
                   : strcmp(name, "SecretAccessKey") == 0 ? F_SECRET
                   : strcmp(name, "SessionToken") == 0    ? F_TOKEN
                   : strcmp(name, "Expiration") == 0      ? F_EXPIRATION
                                                          : F_NONE;
    } else if (r->depth == 3 && r->error) {
        r->field = strcmp(name, "Code") == 0 ? F_CODE : strcmp(name, "Message") == 0 ? F_MESSAGE : F_NONE;
    }
    if (r->field != F_NONE) {
        r->field_depth = r->depth;
        lv_buf_reset(&r->text[r->field]);
    }
}

static void XMLCALL sts_end(void *data, const XML_Char *qname)
{
    (void)qname;
    sts_reader *r = data;
    if (r->field != F_NONE && r->depth == r->field_depth) {
        r->seen[r->field] = true;
        r->field = F_NONE;
    }
    if (r->depth == 3)
        r->credentials = false;
    if (r->depth == 2)
        r->result = r->error = false;
    r->depth--;
}

static void XMLCALL sts_text(void *data, const XML_Char *s, int len)
{
    sts_reader *r = data;
    if (r->field == F_NONE || len <= 0 || r->depth != r->field_depth)
        return;
    lv_buf *b = &r->text[r->field];
    if (b->len + (size_t)len > MAX_FIELD) {
        r->too_long = true;
        lv_expat.XML_StopParser(r->parser, XML_FALSE);
        return;
    }
    lv_buf_append(b, s, (size_t)len);
}

static void XMLCALL sts_doctype(void *data, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                                int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    sts_reader *r = data;
    r->doctype = true;
    lv_expat.XML_StopParser(r->parser, XML_FALSE);
}

/* A field's text without surrounding blanks, NUL-terminated in its buffer. */
static const char *field_text(sts_reader *r, int f, size_t *len)
{
    lv_buf *b = &r->text[f];
    static char empty[1];
    char *s = b->data ? b->data : empty;
    size_t n = b->len;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++, n--;
    *len = n;
    return s;
}

/* STS's error codes worth trying again (a throttle, a failure of STS or of the identity provider). */
static bool sts_transient(const char *code)
{
    return strcmp(code, "Throttling") == 0 || strcmp(code, "ThrottlingException") == 0 ||
           strcmp(code, "IDPCommunicationError") == 0 || strcmp(code, "ServiceUnavailable") == 0 ||
           strcmp(code, "InternalFailure") == 0 || strcmp(code, "InternalError") == 0 ||
           strcmp(code, "RequestLimitExceeded") == 0;
}

lv_status lv_awscred_parse_sts(const char *xml, size_t len, lv_awscred_keys *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > MAX_XML)
        return lv_fail(err, LV_EINVAL, "the answer is over %u bytes: it is not STS's", MAX_XML);
    lv_status st = lv_expat_load(err);
    if (st != LV_OK)
        return st;
    sts_reader r = { .field = F_NONE };
    for (int i = 0; i < F_COUNT; i++)
        lv_buf_init(&r.text[i]);
    r.parser = lv_expat.XML_ParserCreateNS(NULL, '|');
    if (!r.parser)
        return lv_fail(err, LV_EINTERNAL, "Expat could not make a parser");
    lv_expat.XML_SetUserData(r.parser, &r);
    lv_expat.XML_SetElementHandler(r.parser, sts_start, sts_end);
    lv_expat.XML_SetCharacterDataHandler(r.parser, sts_text);
    lv_expat.XML_SetStartDoctypeDeclHandler(r.parser, sts_doctype);
    enum XML_Status xs = lv_expat.XML_Parse(r.parser, xml ? xml : "", (int)len, XML_TRUE);
    if (r.doctype)
        st = lv_fail(err, LV_EINVAL, "the answer declares a DOCTYPE, which STS's never do");
    else if (r.too_long)
        st = lv_fail(err, LV_EINVAL, "the answer has a value over %u bytes", MAX_FIELD);
    else if (xs != XML_STATUS_OK)
        st = lv_fail(err, LV_EINVAL, "the answer is not XML (%s, line %lu)",
                     lv_expat.XML_ErrorString(lv_expat.XML_GetErrorCode(r.parser)),
                     (unsigned long)lv_expat.XML_GetCurrentLineNumber(r.parser));
    lv_expat.XML_ParserFree(r.parser);
    size_t n[F_COUNT] = { 0 };
    const char *v[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        v[i] = field_text(&r, i, &n[i]);
    if (st == LV_OK && r.seen[F_CODE]) {
        bool ok_code = n[F_CODE] && n[F_CODE] <= 100 && printable(v[F_CODE], n[F_CODE], true);
        bool ok_msg = n[F_MESSAGE] && printable(v[F_MESSAGE], n[F_MESSAGE], true);
        st = lv_fail(err, ok_code && sts_transient(v[F_CODE]) ? LV_EIO : LV_EINVAL, "STS said %.*s%s%.*s%s",
                     ok_code ? (int)n[F_CODE] : 7, ok_code ? v[F_CODE] : "no code", ok_msg ? " (\"" : "",
                     ok_msg ? (int)(n[F_MESSAGE] > 300 ? 300 : n[F_MESSAGE]) : 0, ok_msg ? v[F_MESSAGE] : "",
                     ok_msg ? "\")" : "");
    } else if (st == LV_OK) {
        int64_t expires = 0;
        if (!r.seen[F_KEY] || !r.seen[F_SECRET] || !r.seen[F_TOKEN] || !r.seen[F_EXPIRATION] || !n[F_KEY] ||
            !n[F_SECRET] || !n[F_TOKEN])
            st = lv_fail(err, LV_EINVAL, "the answer has no Credentials with AccessKeyId, SecretAccessKey, "
                         "SessionToken and Expiration");
        else if (!printable(v[F_KEY], n[F_KEY], false) || !printable(v[F_SECRET], n[F_SECRET], true) ||
                 !printable(v[F_TOKEN], n[F_TOKEN], true))
            st = lv_fail(err, LV_EINVAL, "the answer's credentials hold characters no AWS key has");
        else if (!read_time(v[F_EXPIRATION], n[F_EXPIRATION], &expires))
            st = lv_fail(err, LV_EINVAL, "the answer's Expiration is not an ISO 8601 time");
        else {
            out->key = lv_xstrndup(v[F_KEY], n[F_KEY]);
            out->secret = lv_xstrndup(v[F_SECRET], n[F_SECRET]);
            out->token = lv_xstrndup(v[F_TOKEN], n[F_TOKEN]);
            out->expires_ms = expires;
        }
    }
    for (int i = 0; i < F_COUNT; i++) {
        if (r.text[i].data)
            memset(r.text[i].data, 0, r.text[i].cap);
        lv_buf_free(&r.text[i]);
    }
    return st;
}

/* ---- JSON answers ---- */

/* A string member, or NULL (absent, not a string, empty, or holding a NUL). */
static const lv_json *string_member(const lv_json *obj, const char *key)
{
    const lv_json *v = lv_json_get(obj, key);
    if (!v || v->type != LV_JSON_STRING || !v->len || memchr(v->str, '\0', v->len))
        return NULL;
    return v;
}

/* Copies key, secret and token (token may be NULL) into out after checking them. */
static lv_status take_keys(const lv_json *key, const lv_json *secret, const lv_json *token, lv_awscred_keys *out,
                           lv_error *err)
{
    if (!printable(key->str, key->len, false) || !printable(secret->str, secret->len, true) ||
        (token && !printable(token->str, token->len, true)))
        return lv_fail(err, LV_EINVAL, "the credentials hold characters no AWS key has");
    if (key->len > 256 || secret->len > 256 || (token && token->len > MAX_FIELD))
        return lv_fail(err, LV_EINVAL, "the credentials are longer than any AWS key");
    out->key = lv_xstrndup(key->str, key->len);
    out->secret = lv_xstrndup(secret->str, secret->len);
    out->token = token ? lv_xstrndup(token->str, token->len) : NULL;
    return LV_OK;
}

static lv_status parse_object(lv_arena *a, const char *json, size_t len, lv_json **doc, const char *what,
                              lv_error *err)
{
    lv_error perr;
    if (lv_json_parse(a, json ? json : "", len, doc, &perr) != LV_OK)
        return lv_fail(err, LV_EINVAL, "%s is not JSON (%s)", what, perr.msg);
    if ((*doc)->type != LV_JSON_OBJECT)
        return lv_fail(err, LV_EINVAL, "%s is not a JSON object", what);
    return LV_OK;
}

lv_status lv_awscred_parse_process(const char *json, size_t len, lv_awscred_keys *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *doc = NULL;
    lv_status st = parse_object(&a, json, len, &doc, "the output", err);
    if (st == LV_OK) {
        const lv_json *version = lv_json_get(doc, "Version");
        const lv_json *key = string_member(doc, "AccessKeyId"), *secret = string_member(doc, "SecretAccessKey");
        const lv_json *token = string_member(doc, "SessionToken"), *exp = lv_json_get(doc, "Expiration");
        int64_t expires = 0;
        if (!version || version->type != LV_JSON_NUMBER || version->len != 1 || version->str[0] != '1')
            st = lv_fail(err, LV_EINVAL, "the output's Version is not 1 (the only version the AWS CLI knows)");
        else if (!key || !secret)
            st = lv_fail(err, LV_EINVAL, "the output has no AccessKeyId and SecretAccessKey strings");
        else if (exp && exp->type != LV_JSON_NULL &&
                 (exp->type != LV_JSON_STRING || !read_time(exp->str, exp->len, &expires)))
            st = lv_fail(err, LV_EINVAL, "the output's Expiration is not an ISO 8601 time");
        else if ((st = take_keys(key, secret, token, out, err)) == LV_OK)
            out->expires_ms = expires;
    }
    lv_arena_free(&a);
    return st;
}

lv_status lv_awscred_parse_role(const char *json, size_t len, lv_awscred_keys *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *doc = NULL;
    lv_status st = parse_object(&a, json, len, &doc, "the answer", err);
    if (st == LV_OK) {
        const lv_json *code = lv_json_get(doc, "Code");
        const lv_json *key = string_member(doc, "AccessKeyId"), *secret = string_member(doc, "SecretAccessKey");
        const lv_json *token = string_member(doc, "Token"), *exp = string_member(doc, "Expiration");
        int64_t expires = 0;
        if (code && (code->type != LV_JSON_STRING || code->len != 7 || memcmp(code->str, "Success", 7) != 0))
            st = lv_fail(err, LV_EINVAL, "the role's credentials were refused (Code %.*s)",
                         code->type == LV_JSON_STRING && printable(code->str, code->len, true) ?
                         (int)(code->len > 64 ? 64 : code->len) : 7,
                         code->type == LV_JSON_STRING && printable(code->str, code->len, true) ? code->str : "unknown");
        else if (!key || !secret || !token || !exp)
            st = lv_fail(err, LV_EINVAL, "the answer has no AccessKeyId, SecretAccessKey, Token and Expiration strings");
        else if (!read_time(exp->str, exp->len, &expires))
            st = lv_fail(err, LV_EINVAL, "the answer's Expiration is not an ISO 8601 time");
        else if ((st = take_keys(key, secret, token, out, err)) == LV_OK)
            out->expires_ms = expires;
    }
    lv_arena_free(&a);
    return st;
}

/* A JSON number of milliseconds (a whole number, at most 15 digits). */
static bool read_millis(const lv_json *v, int64_t *ms)
{
    if (!v || v->type != LV_JSON_NUMBER || v->len == 0 || v->len > 15)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->str[i] < '0' || v->str[i] > '9')
            return false;
        x = x * 10 + (v->str[i] - '0');
    }
    *ms = x;
    return true;
}

lv_status lv_awscred_parse_sso(const char *json, size_t len, lv_awscred_keys *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *doc = NULL;
    lv_status st = parse_object(&a, json, len, &doc, "the answer", err);
    if (st == LV_OK) {
        const lv_json *rc = lv_json_get(doc, "roleCredentials");
        const lv_json *key = rc ? string_member(rc, "accessKeyId") : NULL;
        const lv_json *secret = rc ? string_member(rc, "secretAccessKey") : NULL;
        const lv_json *token = rc ? string_member(rc, "sessionToken") : NULL;
        int64_t expires = 0;
        if (!rc || rc->type != LV_JSON_OBJECT || !key || !secret || !token)
            st = lv_fail(err, LV_EINVAL, "the answer has no roleCredentials with accessKeyId, secretAccessKey and "
                         "sessionToken");
        else if (!read_millis(lv_json_get(rc, "expiration"), &expires))
            st = lv_fail(err, LV_EINVAL, "the answer's expiration is not a time in milliseconds");
        else if ((st = take_keys(key, secret, token, out, err)) == LV_OK)
            out->expires_ms = expires;
    }
    lv_arena_free(&a);
    return st;
}

static void forget(char **s)
{
    if (*s) {
        memset(*s, 0, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void lv_awscred_sso_login_clear(lv_awscred_sso_login *l)
{
    forget(&l->access_token);
    forget(&l->refresh_token);
    forget(&l->client_id);
    forget(&l->client_secret);
    memset(l, 0, sizeof *l);
}

/* A token's string member, checked (NULL when absent). */
static lv_status token_member(const lv_json *doc, const char *key, char **out, const char *what, lv_error *err)
{
    const lv_json *v = string_member(doc, key);
    if (!v)
        return LV_OK;
    if (!printable(v->str, v->len, true) || v->len > MAX_FIELD)
        return lv_fail(err, LV_EINVAL, "%s's %s holds characters no token has", what, key);
    *out = lv_xstrndup(v->str, v->len);
    return LV_OK;
}

lv_status lv_awscred_parse_sso_token(const char *json, size_t len, lv_awscred_sso_login *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *doc = NULL;
    lv_status st = parse_object(&a, json, len, &doc, "the cached login", err);
    if (st == LV_OK) {
        const lv_json *exp = string_member(doc, "expiresAt"), *reg = string_member(doc, "registrationExpiresAt");
        if (!string_member(doc, "accessToken") || !exp)
            st = lv_fail(err, LV_EINVAL, "the cached login has no accessToken and expiresAt");
        else if (!read_time(exp->str, exp->len, &out->expires_ms))
            st = lv_fail(err, LV_EINVAL, "the cached login's expiresAt is not an ISO 8601 time");
        else if (reg && !read_time(reg->str, reg->len, &out->registration_expires_ms))
            st = lv_fail(err, LV_EINVAL, "the cached login's registrationExpiresAt is not an ISO 8601 time");
        if (st == LV_OK)
            st = token_member(doc, "accessToken", &out->access_token, "the cached login", err);
        if (st == LV_OK)
            st = token_member(doc, "refreshToken", &out->refresh_token, "the cached login", err);
        if (st == LV_OK)
            st = token_member(doc, "clientId", &out->client_id, "the cached login", err);
        if (st == LV_OK)
            st = token_member(doc, "clientSecret", &out->client_secret, "the cached login", err);
        if (st != LV_OK)
            lv_awscred_sso_login_clear(out);
    }
    lv_arena_free(&a);
    return st;
}

lv_status lv_awscred_parse_oidc_token(const char *json, size_t len, int64_t now_ms, lv_awscred_sso_login *out,
                                      lv_error *err)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *doc = NULL;
    lv_status st = parse_object(&a, json, len, &doc, "the answer", err);
    char *access = NULL, *refresh = NULL;
    int64_t seconds = 0;
    if (st == LV_OK) {
        const lv_json *in = lv_json_get(doc, "expiresIn");
        if (!string_member(doc, "accessToken"))
            st = lv_fail(err, LV_EINVAL, "the answer has no accessToken");
        else if (!read_millis(in, &seconds) || seconds <= 0 || seconds > 90LL * 86400)
            st = lv_fail(err, LV_EINVAL, "the answer's expiresIn is not a number of seconds");
        if (st == LV_OK)
            st = token_member(doc, "accessToken", &access, "the answer", err);
        if (st == LV_OK)
            st = token_member(doc, "refreshToken", &refresh, "the answer", err);
    }
    lv_arena_free(&a);
    if (st != LV_OK) {
        forget(&access);
        forget(&refresh);
        return st;
    }
    forget(&out->access_token);
    out->access_token = access;
    out->expires_ms = now_ms + seconds * 1000;
    if (refresh) {
        forget(&out->refresh_token);
        out->refresh_token = refresh;
    }
    return LV_OK;
}

/* ---- credential_process's words ---- */

void lv_awscred_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

lv_status lv_awscred_split_command(const char *cmd, char ***argv, lv_error *err)
{
    *argv = NULL;
    LV_VEC(char *) words = { 0 };
    lv_buf w;
    lv_buf_init(&w);
    bool in_word = false;
    char quote = 0;
    const char *s = cmd;
    for (; *s; s++) {
        char c = *s;
        if (quote == '\'') {
            if (c == '\'')
                quote = 0;
            else
                lv_buf_putc(&w, c);
        } else if (quote == '"') {
            if (c == '"')
                quote = 0;
            else if (c == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$' || s[1] == '`'))
                lv_buf_putc(&w, *++s);
            else if (c == '\\' && s[1] == '\n')
                s++;
            else
                lv_buf_putc(&w, c);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                *lv_vec_push(&words, 4) = lv_buf_detach(&w, NULL);
                in_word = false;
            }
        } else {
            in_word = true;
            if (c == '\'' || c == '"')
                quote = c;
            else if (c == '\\' && s[1] == '\n')
                s++;
            else if (c == '\\' && s[1])
                lv_buf_putc(&w, *++s);
            else
                lv_buf_putc(&w, c);
        }
    }
    lv_status st = LV_OK;
    if (quote)
        st = lv_fail(err, LV_EINVAL, "the command has a %s quote that is not closed", quote == '"' ? "double" : "single");
    else if (in_word) /* a word may be empty ("") */
        *lv_vec_push(&words, 4) = lv_buf_detach(&w, NULL);
    if (st == LV_OK && words.n == 0)
        st = lv_fail(err, LV_EINVAL, "the command is empty");
    lv_buf_free(&w);
    if (st != LV_OK) {
        for (size_t i = 0; i < words.n; i++)
            free(words.items[i]);
        free(words.items);
        return st;
    }
    *lv_vec_push(&words, 4) = NULL;
    *argv = words.items;
    return LV_OK;
}
