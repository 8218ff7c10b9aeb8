/* conn.c: the PostgreSQL engine's connection: which locations are PostgreSQL's, the location as it may be
 * printed (no password), levee's own settings in it (levee_schema, levee_pool_mode), connecting with the
 * session settings the engine relies on, running statements (waiting on the socket, so that a deadline or
 * an interrupt can cancel them) and telling their results apart: rows, the end, or an error said as a
 * sentence. Through a connection pooler in transaction mode (pgbouncer) nothing is kept in the session:
 * the settings go with each transaction's first statement, and statements are unnamed, or prepared for
 * one transaction only (docs/operations.md, "Through pgbouncer"). */
#include "pg.h"

#include "levee/engines.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* What a full lock table means and what to do, for a refused connection and a refused statement alike. */
#define LOCK_TABLE_FULL                                                                                        \
    "its lock table, max_locks_per_transaction x max_connections entries, is full; wait for its other "      \
    "sessions' transactions to end and try again, or raise max_locks_per_transaction (a restart of the server)"

/* ---- parameters ---- */

void pg_params_init(pg_params *p)
{
    memset(p, 0, offsetof(pg_params, fixed));
    lv_buf_init(&p->fixed);
}

void pg_params_free(pg_params *p)
{
    for (size_t i = 0; i + sizeof(char *) <= p->fixed.len; i += sizeof(char *)) {
        char *copy;
        memcpy(&copy, p->fixed.data + i, sizeof copy);
        free(copy);
    }
    lv_buf_free(&p->fixed);
}

static int next_param(pg_params *p)
{
    if (p->n >= PG_MAX_PARAMS)
        abort(); /* a statement of this engine with more parameters than it was written for */
    return p->n++;
}

void pg_int(pg_params *p, int64_t v)
{
    int i = next_param(p);
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->values[i] = NULL;
    p->is_num[i] = true;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void pg_null(pg_params *p)
{
    int i = next_param(p);
    p->values[i] = NULL;
    p->is_num[i] = false;
    p->lengths[i] = 0;
    p->formats[i] = 0;
}

void pg_opt(pg_params *p, lv_opt v)
{
    if (v.set)
        pg_int(p, v.v);
    else
        pg_null(p);
}

void pg_bytes(pg_params *p, const void *data, size_t n)
{
    int i = next_param(p);
    p->values[i] = data ? data : "";
    p->is_num[i] = false;
    p->lengths[i] = (int)n;
    p->formats[i] = 1;
}

void pg_str(pg_params *p, lv_str s)
{
    if (!s.p) {
        pg_null(p);
        return;
    }
    if (memchr(s.p, '\0', s.n)) {
        /* the params' values must not move once set: texts with NULs are rare, so each gets its own copy */
        char *copy = lv_xmalloc(s.n * 3 + 1);
        size_t k = 0;
        for (size_t j = 0; j < s.n; j++) {
            if (s.p[j]) {
                copy[k++] = s.p[j];
            } else {
                copy[k++] = (char)0xef;
                copy[k++] = (char)0xbf;
                copy[k++] = (char)0xbd;
            }
        }
        /* kept alive by the params: appended to fixed as a pointer */
        lv_buf_append(&p->fixed, &copy, sizeof copy);
        pg_bytes(p, copy, k);
        return;
    }
    pg_bytes(p, s.p, s.n);
}

void pg_cstr(pg_params *p, const char *s)
{
    pg_str(p, (lv_str){ s, s ? strlen(s) : 0 });
}

/* ---- locations ---- */

static const char *const keywords[] = { "host", "hostaddr", "port", "dbname", "user", "password", "passfile",
                                        "service", "options", "sslmode", "connect_timeout", "application_name",
                                        "target_session_attrs", "levee_schema", "levee_pool_mode", NULL };

bool pg_is_location(const char *loc)
{
    if (strncmp(loc, "postgres://", 11) == 0 || strncmp(loc, "postgresql://", 13) == 0)
        return true;
    /* keyword = value: the first word must be one of libpq's */
    const char *p = loc;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = 0;
    while (p[n] == '_' || islower((unsigned char)p[n]))
        n++;
    const char *q = p + n;
    while (isspace((unsigned char)*q))
        q++;
    if (*q != '=')
        return false;
    for (int i = 0; keywords[i]; i++)
        if (strlen(keywords[i]) == n && strncmp(p, keywords[i], n) == 0)
            return true;
    return false;
}

/* One keyword = value pair of a libpq connection string, read as libpq reads it: the keyword ends at
 * '=' or a space; the value is quoted with '...' or ends at a space; in both, a backslash takes the next
 * character. *kw and *raw are spans of the string (raw as written, with its quotes); the value itself
 * goes into value when it is not NULL. Returns where the next pair may begin. */
static const char *conninfo_pair(const char *p, lv_str *kw, lv_str *raw, lv_buf *value)
{
    kw->p = p;
    while (*p && *p != '=' && !isspace((unsigned char)*p))
        p++;
    kw->n = (size_t)(p - kw->p);
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '=')
        p++;
    while (isspace((unsigned char)*p))
        p++;
    raw->p = p;
    if (value)
        lv_buf_reset(value);
    bool quoted = *p == '\'';
    if (quoted)
        p++;
    while (*p && (quoted ? *p != '\'' : !isspace((unsigned char)*p))) {
        if (*p == '\\' && p[1])
            p++;
        if (value)
            lv_buf_putc(value, *p);
        p++;
    }
    if (quoted && *p)
        p++;
    raw->n = (size_t)(p - raw->p);
    if (value)
        lv_buf_putc(value, '\0');
    return p;
}

char *pg_redact(const char *loc)
{
    lv_buf out;
    lv_buf_init(&out);
    const char *scheme = strstr(loc, "://");
    if (scheme && pg_is_location(loc)) {
        /* postgresql://user:password@host/db?password=x: the userinfo's password, and a password parameter */
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?");
        const char *at = NULL;
        for (const char *c = auth; c < end; c++)
            if (*c == '@')
                at = c;
        lv_buf_append(&out, loc, (size_t)(auth - loc));
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            lv_buf_append(&out, auth, (size_t)((colon ? colon : at) - auth));
            lv_buf_append(&out, at, (size_t)(end - at));
        } else {
            lv_buf_append(&out, auth, (size_t)(end - auth));
        }
        const char *rest = end;
        while (*rest) {
            const char *sep = rest; /* '?' or '&' or the path */
            const char *next = sep + 1 + strcspn(sep + 1, "?&");
            if ((*sep == '?' || *sep == '&') && strncmp(sep + 1, "password=", 9) == 0) {
                if (*sep == '?' && *next == '&') {
                    lv_buf_putc(&out, '?');
                    next++;
                }
            } else {
                lv_buf_append(&out, sep, (size_t)(next - sep));
            }
            rest = next;
        }
    } else {
        /* keyword = value pairs, every one but a password as it was written */
        const char *p = loc;
        bool first = true;
        while (*p) {
            while (isspace((unsigned char)*p))
                p++;
            if (!*p)
                break;
            lv_str kw, raw;
            p = conninfo_pair(p, &kw, &raw, NULL);
            if (kw.n == 8 && strncmp(kw.p, "password", 8) == 0)
                continue;
            if (!first)
                lv_buf_putc(&out, ' ');
            first = false;
            lv_buf_append(&out, kw.p, kw.n);
            lv_buf_putc(&out, '=');
            lv_buf_append(&out, raw.p, raw.n);
        }
    }
    lv_buf_putc(&out, '\0');
    return (char *)out.data;
}

/* ---- levee's own settings in a location ---- */

static int hexdigit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One of levee's settings (key is levee_...): into *schema or *mode, or a sentence saying what is wrong
 * with it. */
static lv_status levee_setting(const char *key, size_t kn, const char *value, const char *shown, char **schema,
                               enum pg_pool_mode *mode, lv_error *err)
{
    if (kn == 12 && strncmp(key, "levee_schema", 12) == 0) {
        if (!*value)
            return lv_fail(err, LV_EINVAL, "levee_schema in the location %s is empty; give it the name of the "
                           "schema levee's tables go into", shown);
        free(*schema);
        *schema = lv_xstrdup(value);
        return LV_OK;
    }
    if (kn == 15 && strncmp(key, "levee_pool_mode", 15) == 0) {
        if (strcmp(value, "auto") == 0)
            *mode = PG_POOL_AUTO;
        else if (strcmp(value, "session") == 0)
            *mode = PG_POOL_SESSION;
        else if (strcmp(value, "transaction") == 0)
            *mode = PG_POOL_TRANSACTION;
        else
            return lv_fail(err, LV_EINVAL, "levee_pool_mode in the location %s is \"%s\"; it is one of auto (the "
                           "default), session or transaction", shown, value);
        return LV_OK;
    }
    return lv_fail(err, LV_EINVAL, "the location %s has the setting %.*s, which levee does not know; levee's "
                   "settings in a location are levee_schema and levee_pool_mode", shown, (int)kn, key);
}

lv_status pg_location_settings(const char *loc, const char *shown, char **conninfo, char **schema,
                               enum pg_pool_mode *mode, lv_error *err)
{
    *conninfo = NULL;
    *schema = NULL;
    *mode = PG_POOL_AUTO;
    lv_buf out, value;
    lv_buf_init(&out);
    lv_buf_init(&value);
    lv_status st = LV_OK;
    const char *scheme = strstr(loc, "://");
    if (scheme && pg_is_location(loc)) {
        /* postgresql://...?key=value&key=value: the values percent-encoded */
        const char *q = strchr(scheme + 3, '?');
        lv_buf_append(&out, loc, q ? (size_t)(q - loc) : strlen(loc));
        char sep = '?';
        for (const char *p = q ? q + 1 : NULL; p && *p && st == LV_OK;) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            if (n > 6 && strncmp(p, "levee_", 6) == 0) {
                size_t kn = eq ? (size_t)(eq - p) : n;
                lv_buf_reset(&value);
                for (const char *v = eq ? eq + 1 : p + n; v < p + n; v++) {
                    int hi, lo;
                    if (*v == '%' && v + 2 < p + n && (hi = hexdigit(v[1])) >= 0 && (lo = hexdigit(v[2])) >= 0) {
                        lv_buf_putc(&value, (char)(hi << 4 | lo));
                        v += 2;
                    } else {
                        lv_buf_putc(&value, *v);
                    }
                }
                lv_buf_putc(&value, '\0');
                st = levee_setting(p, kn, value.data, shown, schema, mode, err);
            } else if (n) {
                lv_buf_putc(&out, sep);
                lv_buf_append(&out, p, n);
                sep = '&';
            }
            p += n;
            if (*p == '&')
                p++;
        }
    } else {
        /* keyword = value pairs: levee's own taken out, the rest handed to libpq as written */
        const char *p = loc;
        while (*p && st == LV_OK) {
            while (isspace((unsigned char)*p))
                p++;
            if (!*p)
                break;
            lv_str kw, raw;
            p = conninfo_pair(p, &kw, &raw, &value);
            if (kw.n > 6 && strncmp(kw.p, "levee_", 6) == 0) {
                st = levee_setting(kw.p, kw.n, value.data, shown, schema, mode, err);
            } else {
                if (out.len)
                    lv_buf_putc(&out, ' ');
                lv_buf_append(&out, kw.p, (size_t)(p - kw.p));
            }
        }
    }
    lv_buf_putc(&out, '\0');
    if (value.data)
        memset(value.data, 0, value.cap); /* it may have held a password */
    lv_buf_free(&value);
    if (st != LV_OK) {
        memset(out.data, 0, out.len);
        lv_buf_free(&out);
        free(*schema);
        *schema = NULL;
        return st;
    }
    *conninfo = out.data;
    return LV_OK;
}

void pg_quote_ident(lv_buf *b, const char *name)
{
    lv_buf_putc(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            lv_buf_putc(b, '"');
        lv_buf_putc(b, *p);
    }
    lv_buf_putc(b, '"');
}

bool lv_store_is_postgresql(const char *location)
{
    return location && pg_is_location(location);
}

char *lv_store_location_redacted(const char *location)
{
    return pg_is_location(location) ? pg_redact(location) : lv_xstrdup(location);
}

/* ---- connecting ---- */

/* Notices (a partition already there, ...) are not levee's output. */
static void quiet(void *ctx, const char *message)
{
    (void)ctx;
    (void)message;
}

lv_status pg_connect(pg_store *s, lv_error *err)
{
    if (s->cancel)
        lv_pq.PQfreeCancel(s->cancel);
    if (s->conn)
        lv_pq.PQfinish(s->conn);
    s->cancel = NULL;
    pg_ahead_drop(s);
    free(s->prefix); /* made again below, when the connection goes through a pooler */
    s->prefix = NULL;
    memset(s->prepared, 0, sizeof s->prepared);
    memset(s->run_once, 0, sizeof s->run_once);
    memset(s->txn_uses, 0, sizeof s->txn_uses);
    s->n_named = 0;
    s->in_txn = false;
    s->queued = 0;
    s->conn = lv_pq.PQconnectdb(s->conninfo);
    if (!s->conn)
        return lv_fail(err, LV_EIO, "cannot connect to PostgreSQL at %s: out of memory", s->base.location);
    if (lv_pq.PQstatus(s->conn) != CONNECTION_OK) {
        char msg[LV_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s", lv_pq.PQerrorMessage(s->conn));
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
            msg[--n] = '\0';
        for (size_t i = 0; i < n; i++) /* (the server's FATAL and its HINT, on one line) */
            if (msg[i] == '\n')
                msg[i] = ' ';
        lv_pq.PQfinish(s->conn);
        s->conn = NULL;
        /* a new session needs a lock to start: a lock table that others filled refuses it (the server's
         * English message; libpq gives no SQLSTATE for a refused connection) */
        if (strstr(msg, "out of shared memory"))
            return lv_fail(err, LV_EBUSY, "cannot connect to PostgreSQL at %s (%s): " LOCK_TABLE_FULL,
                           s->base.location, msg);
        if (strstr(msg, "unsupported startup parameter: options"))
            return lv_fail(err, LV_EINVAL, "cannot connect to PostgreSQL at %s (%s): a connection pooler "
                           "(pgbouncer) does not take options=... in the location; name levee's schema with "
                           "levee_schema=NAME instead", s->base.location, msg);
        return lv_fail(err, LV_EIO, "cannot connect to PostgreSQL at %s (%s); check that the server runs and "
                       "the location, user and password (~/.pgpass or PGPASSFILE)", s->base.location, msg);
    }
    lv_pq.PQsetNoticeProcessor(s->conn, quiet, NULL);
    s->cancel = lv_pq.PQgetCancel(s->conn);
    if (lv_pq.PQserverVersion(s->conn) < 120000)
        return lv_fail(err, LV_EUNSUPPORTED, "%s is PostgreSQL %d.%d; levee needs PostgreSQL 12 or newer",
                       s->base.location, lv_pq.PQserverVersion(s->conn) / 10000,
                       lv_pq.PQserverVersion(s->conn) % 10000 / 100);
    s->pooled = s->pool_mode == PG_POOL_TRANSACTION;
    if (s->pool_mode == PG_POOL_AUTO) {
        /* a pooler answers the connection itself, with a backend process id (for cancelling) of its own */
        PGresult *r = lv_pq.PQexec(s->conn, "SELECT pg_backend_pid()");
        lv_status st = LV_OK;
        if (!r || lv_pq.PQresultStatus(r) != PGRES_TUPLES_OK || lv_pq.PQntuples(r) != 1)
            st = pg_fail(s, r, "cannot set up the connection", err);
        else
            s->pooled = pg_get_int(r, 0, 0) != lv_pq.PQbackendPID(s->conn);
        lv_pq.PQclear(r);
        if (st != LV_OK)
            return st;
    }
    lv_buf sql;
    lv_buf_init(&sql);
    lv_buf path;
    lv_buf_init(&path);
    if (s->schema_setting)
        pg_quote_ident(&path, s->schema_setting);
    lv_status st;
    if (!s->pooled) {
        /* UTF-8 both ways (levee's texts are), UTC, no per-statement limit of the server's own, bytea as hex
         * (pg_get_bytes), read committed; a store open read-only is read only */
        lv_buf_puts(&sql, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET statement_timeout = 0;"
                          " SET bytea_output = 'hex'; SET default_transaction_isolation = 'read committed'");
        if (s->read_only)
            lv_buf_puts(&sql, "; SET default_transaction_read_only = on");
        if (s->schema_setting) {
            lv_buf_puts(&sql, "; SET search_path = ");
            lv_buf_append(&sql, path.data, path.len);
        }
        lv_buf_putc(&sql, '\0');
        st = pg_exec(s, sql.data, "cannot set up the connection", err);
    } else {
        /* Through a pooler's transaction mode, a session's settings would stay on the server connection for
         * whichever client has it next, and the next transaction may have another one. client_encoding and
         * TimeZone are the exceptions: pgbouncer keeps them for each client and sets them again on the
         * server connection it hands it. The rest is set for each transaction (s->prefix). */
        lv_buf_puts(&sql, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'");
        lv_buf_putc(&sql, '\0');
        st = pg_exec(s, sql.data, "cannot set up the connection", err);
        lv_buf_reset(&sql);
        lv_buf_puts(&sql, "SELECT set_config('statement_timeout', '0', true), set_config('bytea_output', 'hex', true)");
        if (s->read_only)
            lv_buf_puts(&sql, ", set_config('transaction_read_only', 'on', true)");
        if (s->schema_setting) {
            lv_buf_puts(&sql, ", set_config('search_path', '");
            for (size_t i = 0; i < path.len; i++) {
                if (path.data[i] == '\'')
                    lv_buf_putc(&sql, '\'');
                lv_buf_putc(&sql, path.data[i]);
            }
            lv_buf_puts(&sql, "', true)");
        }
        lv_buf_putc(&sql, '\0');
        free(s->prefix);
        s->prefix = lv_xstrdup(sql.data);
        /* the names of the statements prepared in a transaction (prepare_in_transaction): this connection's */
        unsigned char tag[8];
        if (getrandom(tag, sizeof tag, 0) != (ssize_t)sizeof tag) {
            uint64_t t = (uint64_t)lv_monotonic_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)s;
            memcpy(tag, &t, sizeof tag);
        }
        for (size_t i = 0; i < sizeof tag; i++)
            snprintf(s->txn_tag + 2 * i, 3, "%02x", tag[i]);
        s->txn_generation = 0;
        /* levee's transactions are read committed; one cannot be chosen for a transaction after its first
         * statement (the prefix), so it is the database's default that must be */
        PGresult *r = NULL;
        if (st == LV_OK &&
            (st = pg_run(s, -1, "SELECT current_setting('default_transaction_isolation')", NULL, &r,
                         "cannot set up the connection", err)) == LV_OK &&
            strcmp(lv_pq.PQgetvalue(r, 0, 0), "read committed") != 0)
            st = lv_fail(err, LV_EUNSUPPORTED, "the transactions of %s are %s by default, and levee's must be read "
                         "committed; through a pooler in transaction mode levee cannot choose it for itself: make it "
                         "the default of levee's role (ALTER ROLE ... SET default_transaction_isolation = 'read "
                         "committed') or connect with levee_pool_mode=session", s->base.location,
                         lv_pq.PQgetvalue(r, 0, 0));
        lv_pq.PQclear(r);
        /* pgbouncer refuses options in the startup packet, or drops them (ignore_startup_parameters): a
         * search_path there would never reach PostgreSQL, and levee would write into another schema */
        if (st == LV_OK && !s->schema_setting) {
            PQconninfoOption *opts = lv_pq.PQconninfoParse(s->conninfo, NULL);
            for (PQconninfoOption *o = opts; o && o->keyword && st == LV_OK; o++)
                if (strcmp(o->keyword, "options") == 0 && o->val && strstr(o->val, "search_path"))
                    st = lv_fail(err, LV_EINVAL, "%s goes through a connection pooler, which does not pass "
                                 "options=-csearch_path=... on to PostgreSQL; name levee's schema with "
                                 "levee_schema=NAME in the location instead", s->base.location);
            if (opts)
                lv_pq.PQconninfoFree(opts);
        }
    }
    lv_buf_free(&sql);
    lv_buf_free(&path);
    return st;
}

/* ---- results ---- */

static void trim(char *m)
{
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ' || m[n - 1] == '.'))
        m[--n] = '\0';
}

lv_status pg_fail(pg_store *s, const PGresult *res, const char *what, lv_error *err)
{
    const char *loc = s->base.location;
    char msg[LV_ERROR_MAX];
    const char *primary = res ? lv_pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(msg, sizeof msg, "%s", primary ? primary : s->conn ? lv_pq.PQerrorMessage(s->conn) : "no connection");
    trim(msg);
    const char *state = res ? lv_pq.PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        state = "";
    bool lost = !s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD || strncmp(state, "08", 2) == 0 ||
                strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0;
    if (lost)
        return lv_fail(err, LV_EIO, "%s: the connection to PostgreSQL at %s was lost (%s); try again once the "
                       "server is back", what, loc, msg);
    if (strcmp(state, "57014") == 0 && (s->deadline_us || atomic_load(&s->interrupted)))
        return lv_fail(err, LV_ETIMEOUT, "%s: the question took longer than levee allows; narrow it "
                       "(fewer words, a course, a shorter window)", what);
    /* on a standby, a question cancelled so that replay can go on (a conflict with recovery) */
    if (s->standby && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        return lv_fail(err, LV_EBUSY, "%s: the standby server of %s cancelled this question to go on replaying its "
                       "primary's changes (PostgreSQL: %s); ask again, or give the standby a larger "
                       "max_standby_streaming_delay or hot_standby_feedback = on (docs/operations.md, \"Read "
                       "replicas\")", what, loc, msg);
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return lv_fail(err, LV_EBUSY, "%s: another writer of %s holds what this one needs (PostgreSQL: %s); try "
                       "again", what, loc, msg);
    /* not a conflict to run again at once: writing fails until space is freed on the server */
    if (strcmp(state, "53100") == 0)
        return lv_fail(err, LV_EIO, "%s: the disk of the PostgreSQL server of %s is full (PostgreSQL: %s); free "
                       "space on it", what, loc, msg);
    /* the lock table (or other shared memory) full: levee's own transactions end before they fill a quarter
     * of the lock table (pg_txn_full), so others' locks filled the rest */
    if (strcmp(state, "53200") == 0)
        return lv_fail(err, LV_EBUSY, "%s: the PostgreSQL server of %s is out of shared memory (%s): " LOCK_TABLE_FULL,
                       what, loc, msg);
    if (strncmp(state, "XX", 2) == 0)
        return lv_fail(err, LV_EDAMAGED, "%s: the store %s is damaged (PostgreSQL: %s); restore it from a backup",
                       what, loc, msg);
    if (!s->pooled && (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0))
        return lv_fail(err, LV_EIO, "%s: PostgreSQL: %s (%s); when levee goes through a connection pooler in "
                       "transaction mode, say so with levee_pool_mode=transaction in the location", what, msg, loc);
    if (strcmp(state, "25006") == 0)
        return lv_fail(err, LV_EIO, "%s: %s is read-only (PostgreSQL: %s)", what, loc, msg);
    if (strcmp(state, "42501") == 0)
        return lv_fail(err, LV_EIO, "%s: the PostgreSQL user of %s may not do this (%s); grant it the rights on "
                       "levee's schema", what, loc, msg);
    return lv_fail(err, LV_EIO, "%s: PostgreSQL: %s (%s)", what, msg, loc);
}

/* Waits for the next result of the statement sent, cancelling it once the deadline has passed. NULL at
 * the end of the statement's results, or when the connection failed (*lost). */
static PGresult *next_result(pg_store *s, bool *lost)
{
    *lost = false;
    bool cancelled = false;
    while (lv_pq.PQisBusy(s->conn)) {
        int timeout = -1;
        if (s->deadline_us && !cancelled) {
            int64_t left = s->deadline_us - lv_monotonic_us();
            if (left <= 0) {
                char buf[256];
                lv_pq.PQcancel(s->cancel, buf, sizeof buf);
                cancelled = true;
            } else {
                timeout = (int)(left / 1000 + 1);
            }
        }
        struct pollfd pfd = { .fd = lv_pq.PQsocket(s->conn), .events = POLLIN };
        if (pfd.fd < 0) {
            *lost = true;
            return NULL;
        }
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno != EINTR) {
            *lost = true;
            return NULL;
        }
        if (n > 0 && !lv_pq.PQconsumeInput(s->conn)) {
            *lost = true;
            return NULL;
        }
    }
    PGresult *r = lv_pq.PQgetResult(s->conn);
    if (!r && lv_pq.PQstatus(s->conn) == CONNECTION_BAD)
        *lost = true;
    return r;
}

/* Reads what is left of the statement's results. */
static void drain(pg_store *s)
{
    bool lost;
    PGresult *r;
    while ((r = next_result(s, &lost)))
        lv_pq.PQclear(r);
}

static void stmt_name(const pg_store *s, int stmt, char *name, size_t size)
{
    if (s->pooled)
        snprintf(name, size, "lv_%s_%u_%d", s->txn_tag, s->txn_generation, stmt);
    else
        snprintf(name, size, "lv%d", stmt);
}

static lv_status prepare(pg_store *s, int stmt, lv_error *err)
{
    if (s->prepared[stmt])
        return LV_OK;
    char name[64];
    stmt_name(s, stmt, name, sizeof name);
    PGresult *r = lv_pq.PQprepare(s->conn, name, pg_statements[stmt], 0, NULL);
    lv_status st = LV_OK;
    if (!r || lv_pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = pg_fail(s, r, "cannot prepare the store's statements", err);
    } else {
        s->prepared[stmt] = true;
        s->n_named++;
    }
    lv_pq.PQclear(r);
    return st;
}

/* Through a pooler in transaction mode: prepares stmt when this is its PG_PREPARE_AFTER-th use in the open
 * transaction (waiting for the writes queued before it: preparing waits for its answer). */
static lv_status prepare_in_transaction(pg_store *s, int stmt, lv_error *err)
{
    if (!s->pooled || stmt < 0 || !s->in_txn || s->prepared[stmt] || !s->conn)
        return LV_OK;
    if (s->txn_uses[stmt] < PG_PREPARE_AFTER - 1) {
        s->txn_uses[stmt]++;
        return LV_OK;
    }
    lv_status st = pg_flush(s, err);
    if (st == LV_OK && lv_pq.PQtransactionStatus(s->conn) == PQTRANS_INTRANS)
        st = prepare(s, stmt, err);
    return st;
}

/* Through a pooler in transaction mode, at the end of a transaction: its prepared statements are
 * forgotten, and the next transaction's get other names. */
static void transaction_ended(pg_store *s)
{
    if (!s->pooled)
        return;
    if (s->n_named)
        s->txn_generation++;
    memset(s->prepared, 0, sizeof s->prepared);
    memset(s->txn_uses, 0, sizeof s->txn_uses);
    s->n_named = 0;
}

/* DEALLOCATE of the transaction's prepared statements, for before its COMMIT ("DEALLOCATE a; DEALLOCATE b;
 * " into b), or each sent in pipeline mode when b is NULL. */
static lv_status deallocate_named(pg_store *s, lv_buf *b, const char *what, lv_error *err);

/* Connects again when the connection was lost, outside a transaction: the reconnect point (nothing is lost
 * by connecting again there). */
static lv_status connected(pg_store *s, const char *what, lv_error *err)
{
    if (s->conn && lv_pq.PQstatus(s->conn) != CONNECTION_BAD)
        return LV_OK;
    if (s->in_txn)
        return pg_fail(s, NULL, what, err);
    return pg_connect(s, err);
}

static lv_status send(pg_store *s, int stmt, const char *sql, const pg_params *p, const char *what, lv_error *err)
{
    lv_status st = connected(s, what, err);
    if (st != LV_OK)
        return st;
    int ok;
    int n = p ? p->n : 0;
    const char *values[PG_MAX_PARAMS];
    for (int i = 0; i < n; i++)
        values[i] = p->is_num[i] ? p->num[i] : p->values[i];
    const int *lengths = p ? p->lengths : NULL, *formats = p ? p->formats : NULL;
    bool named = stmt >= 0 && (s->prepared[stmt] || (!s->pooled && s->run_once[stmt]));
    if (stmt >= 0 && !named && !s->pooled)
        s->run_once[stmt] = true; /* prepared when it is run again */
    if (named) {
        if ((st = prepare(s, stmt, err)) != LV_OK)
            return st;
        char name[64];
        stmt_name(s, stmt, name, sizeof name);
        ok = lv_pq.PQsendQueryPrepared(s->conn, name, n, n ? values : NULL, lengths, formats, pg_binary_result(stmt));
    } else {
        /* a statement's first run on a connection; through a pooler in transaction mode, the write path's
         * statements are unnamed (parsed and planned each time: what that costs is in docs/operations.md)
         * until used often in one transaction */
        ok = lv_pq.PQsendQueryParams(s->conn, stmt >= 0 ? pg_statements[stmt] : sql, n, NULL, n ? values : NULL,
                                     lengths, formats, stmt >= 0 ? pg_binary_result(stmt) : 0);
    }
    if (!ok)
        return pg_fail(s, NULL, what, err);
    return LV_OK;
}

/* Through a pooler in transaction mode: whether the next statement sent begins a transaction (nothing is
 * queued and the connection is idle), so that the transaction's settings (s->prefix) must go with it. */
static lv_status deallocate_named(pg_store *s, lv_buf *b, const char *what, lv_error *err)
{
    for (int i = 0; i < PG_STMT_COUNT; i++) {
        if (!s->prepared[i])
            continue;
        char sql[96];
        char name[64];
        stmt_name(s, i, name, sizeof name);
        snprintf(sql, sizeof sql, "DEALLOCATE %s", name);
        if (b) {
            lv_buf_puts(b, sql);
            lv_buf_puts(b, "; ");
            continue;
        }
        if (s->queued >= PG_MAX_QUEUED) {
            lv_status st = pg_flush(s, err);
            if (st != LV_OK)
                return st;
        }
        if (lv_pq.PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !lv_pq.PQenterPipelineMode(s->conn))
            return pg_fail(s, NULL, what, err);
        if (!lv_pq.PQsendQueryParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
            return pg_fail(s, NULL, what, err);
        s->queued_what[s->queued++] = what;
    }
    return LV_OK;
}

static bool begins_transaction(pg_store *s)
{
    return s->pooled && s->prefix && !s->queued && s->conn && lv_pq.PQstatus(s->conn) == CONNECTION_OK &&
           lv_pq.PQtransactionStatus(s->conn) == PQTRANS_IDLE;
}

/* Sends the transaction's settings in pipeline mode (entered when it is not yet), as a queued statement
 * whose result is read with the others. */
static lv_status send_prefix(pg_store *s, const char *what, lv_error *err)
{
    if (lv_pq.PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !lv_pq.PQenterPipelineMode(s->conn))
        return pg_fail(s, NULL, what, err);
    lv_status st = send(s, -1, s->prefix, NULL, what, err);
    if (st == LV_OK)
        s->queued_what[s->queued++] = what;
    return st;
}

/* The result of one statement sent in pipeline mode: LV_OK with *out (when out is not NULL; else
 * cleared) when it succeeded; a statement skipped because an earlier one failed is no new failure. */
static lv_status pipeline_result(pg_store *s, PGresult **out, const char *what, lv_status st, lv_error *err)
{
    bool lost;
    PGresult *r = next_result(s, &lost);
    if (lost)
        return st == LV_OK ? pg_fail(s, NULL, what, err) : st;
    ExecStatusType es = r ? lv_pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        if (out && st == LV_OK)
            *out = r;
        else
            lv_pq.PQclear(r);
    } else {
        if (st == LV_OK && es != PGRES_PIPELINE_ABORTED)
            st = pg_fail(s, r, what, err);
        else if (st == LV_OK)
            st = lv_fail(err, LV_EIO, "%s: PostgreSQL skipped it after an earlier failure (%s)", what,
                         s->base.location);
        lv_pq.PQclear(r);
    }
    /* each statement's results end with a NULL */
    PGresult *end = next_result(s, &lost);
    if (end) {
        lv_pq.PQclear(end);
        if (st == LV_OK)
            st = lv_fail(err, LV_EIO, "%s: PostgreSQL answered more than one result (%s)", what, s->base.location);
    }
    if (st != LV_OK && out && *out) {
        lv_pq.PQclear(*out);
        *out = NULL;
    }
    return st;
}

/* Ends the pipeline: a sync, the results of the queued writes and of `last` (a statement sent after
 * them, when last_what is not NULL: its result in *out), then the sync's, and back to ordinary mode. */
static lv_status pipeline_end(pg_store *s, const char *last_what, PGresult **out, lv_error *err)
{
    lv_status st = LV_OK;
    int n = s->queued;
    s->queued = 0;
    if (!lv_pq.PQpipelineSync(s->conn))
        return pg_fail(s, NULL, last_what ? last_what : n ? s->queued_what[0] : "cannot write", err);
    for (int i = 0; i < n; i++)
        st = pipeline_result(s, NULL, s->queued_what[i], st, err);
    if (last_what)
        st = pipeline_result(s, out, last_what, st, err);
    bool lost;
    PGresult *r = next_result(s, &lost);
    if (!r || lv_pq.PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
        lv_pq.PQclear(r);
        if (st == LV_OK)
            st = pg_fail(s, NULL, last_what ? last_what : "cannot write", err);
        if (out && *out) {
            lv_pq.PQclear(*out);
            *out = NULL;
        }
        return st;
    }
    lv_pq.PQclear(r);
    if (!lv_pq.PQexitPipelineMode(s->conn) && st == LV_OK)
        st = pg_fail(s, NULL, last_what ? last_what : "cannot write", err);
    if (st != LV_OK && out && *out) {
        lv_pq.PQclear(*out);
        *out = NULL;
    }
    return st;
}

lv_status pg_flush(pg_store *s, lv_error *err)
{
    if (!s->queued)
        return LV_OK;
    return pipeline_end(s, NULL, NULL, err);
}

lv_status pg_queue(pg_store *s, int stmt, const pg_params *p, const char *what, lv_error *err)
{
    lv_status st;
    pg_ahead_drop(s);
    if (s->queued >= PG_MAX_QUEUED && (st = pg_flush(s, err)) != LV_OK)
        return st;
    if (s->pooled) {
        /* the first statement of a transaction takes its settings with it */
        if (!s->queued && (st = connected(s, what, err)) != LV_OK)
            return st;
        if ((st = prepare_in_transaction(s, stmt, err)) != LV_OK)
            return st;
        if (begins_transaction(s) && (st = send_prefix(s, what, err)) != LV_OK) {
            lv_error ignored;
            pg_flush(s, &ignored);
            return st;
        }
    } else if (!s->prepared[stmt] || !s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD) {
        /* preparing (and connecting again) wait for their answers: not in the pipeline */
        if ((st = pg_flush(s, err)) != LV_OK)
            return st;
        if ((st = connected(s, what, err)) != LV_OK)
            return st;
        if ((st = prepare(s, stmt, err)) != LV_OK)
            return st;
    }
    if (lv_pq.PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !lv_pq.PQenterPipelineMode(s->conn))
        return pg_fail(s, NULL, what, err);
    if ((st = send(s, stmt, NULL, p, what, err)) != LV_OK) {
        lv_error ignored;
        pg_flush(s, &ignored);
        return st;
    }
    s->queued_what[s->queued++] = what;
    return LV_OK;
}

/* ---- reads ahead ---- */

/* A statement's parameters as bytes, to tell whether a read asks what was read ahead. */
static void params_key(const pg_params *p, lv_buf *key)
{
    lv_buf_reset(key);
    for (int i = 0; p && i < p->n; i++) {
        if (p->is_num[i]) {
            lv_buf_putc(key, 'n');
            lv_buf_puts(key, p->num[i]);
            lv_buf_putc(key, '\0');
        } else if (!p->values[i]) {
            lv_buf_putc(key, 'N');
        } else {
            size_t n = p->formats[i] ? (size_t)p->lengths[i] : strlen(p->values[i]);
            lv_buf_printf(key, "%c%zu:", p->formats[i] ? 'b' : 't', n);
            lv_buf_append(key, p->values[i], n);
        }
    }
}

void pg_ahead_drop(pg_store *s)
{
    for (int i = 0; i < s->n_ahead; i++) {
        lv_pq.PQclear(s->ahead[i].r);
        s->ahead[i].r = NULL;
        lv_buf_free(&s->ahead[i].key);
    }
    s->n_ahead = s->ahead_at = 0;
}

/* The result read ahead for stmt with p, when it is the next one (into *out); else drops them all. */
static bool take_ahead(pg_store *s, int stmt, const pg_params *p, PGresult **out)
{
    pg_ahead_read *a = &s->ahead[s->ahead_at];
    bool next = stmt >= 0 && a->stmt == stmt;
    if (next) {
        lv_buf key;
        lv_buf_init(&key);
        params_key(p, &key);
        next = key.len == a->key.len && memcmp(key.data, a->key.data, key.len) == 0;
        lv_buf_free(&key);
    }
    if (!next) {
        pg_ahead_drop(s);
        return false;
    }
    *out = a->r;
    a->r = NULL;
    if (++s->ahead_at == s->n_ahead)
        pg_ahead_drop(s);
    return true;
}

lv_status pg_ahead(pg_store *s, int n, const int *stmts, const pg_params *ps, lv_error *err)
{
    const char *what = "cannot read";
    pg_ahead_drop(s);
    if (n > PG_MAX_AHEAD)
        n = PG_MAX_AHEAD;
    /* rows a read may read are written first (defer.c), and queued writes answered */
    lv_status st = pg_defer_before(s, -1, err);
    if (st == LV_OK)
        st = pg_flush(s, err);
    if (st == LV_OK)
        st = connected(s, what, err);
    /* preparing waits for its answer (once a connection, for a read run before); through a pooler, and the
     * first time, they go unnamed (send) */
    for (int i = 0; st == LV_OK && !s->pooled && i < n; i++)
        if (s->run_once[stmts[i]])
            st = prepare(s, stmts[i], err);
    if (st != LV_OK)
        return st;
    bool prefix = begins_transaction(s);
    if (lv_pq.PQpipelineStatus(s->conn) == PQ_PIPELINE_OFF && !lv_pq.PQenterPipelineMode(s->conn))
        return pg_fail(s, NULL, what, err);
    if (prefix && (st = send(s, -1, s->prefix, NULL, what, err)) == LV_OK)
        s->queued_what[s->queued++] = what;
    for (int i = 0; st == LV_OK && i < n; i++)
        if ((st = send(s, stmts[i], NULL, &ps[i], what, err)) == LV_OK)
            s->queued_what[s->queued++] = what;
    if (st != LV_OK || !lv_pq.PQpipelineSync(s->conn)) {
        /* what was sent is answered and forgotten (pg_flush), as after a queued write that failed */
        if (st == LV_OK)
            st = pg_fail(s, NULL, what, err);
        lv_error ignored;
        pg_flush(s, &ignored);
        return st;
    }
    s->queued = 0;
    if (prefix)
        st = pipeline_result(s, NULL, what, st, err);
    for (int i = 0; i < n; i++) {
        PGresult *r = NULL;
        st = pipeline_result(s, &r, what, st, err);
        if (st == LV_OK) {
            s->ahead[i].stmt = stmts[i];
            s->ahead[i].r = r;
            params_key(&ps[i], &s->ahead[i].key);
            s->n_ahead = i + 1;
        }
    }
    bool lost;
    PGresult *r = next_result(s, &lost);
    if ((!r || lv_pq.PQresultStatus(r) != PGRES_PIPELINE_SYNC) && st == LV_OK)
        st = pg_fail(s, NULL, what, err);
    lv_pq.PQclear(r);
    if (!lv_pq.PQexitPipelineMode(s->conn) && st == LV_OK)
        st = pg_fail(s, NULL, what, err);
    if (st != LV_OK)
        pg_ahead_drop(s);
    return st;
}

static lv_status pg_run_plain(pg_store *s, int stmt, const char *sql, const pg_params *p, PGresult **out,
                              const char *what, lv_error *err);

lv_status pg_run(pg_store *s, int stmt, const char *sql, const pg_params *p, PGresult **out, const char *what,
                 lv_error *err)
{
    *out = NULL;
    if (s->n_ahead && take_ahead(s, stmt, p, out))
        return LV_OK;
    lv_status st = pg_defer_before(s, stmt, err); /* rows it may read are sent first (defer.c) */
    if (st != LV_OK)
        return st;
    if (s->pooled && (st = prepare_in_transaction(s, stmt, err)) != LV_OK)
        return st;
    bool commit = s->pooled && stmt < 0 && strcmp(sql, "COMMIT") == 0;
    if (commit && s->n_named && (st = deallocate_named(s, NULL, what, err)) != LV_OK) {
        lv_error ignored;
        pg_flush(s, &ignored);
        return st;
    }
    if (s->pooled && stmt < 0 && (commit || strcmp(sql, "ROLLBACK") == 0)) {
        st = pg_run_plain(s, stmt, sql, p, out, what, err);
        transaction_ended(s);
        return st;
    }
    return pg_run_plain(s, stmt, sql, p, out, what, err);
}

/* pg_run, but for what a transaction's end needs through a pooler. */
static lv_status pg_run_plain(pg_store *s, int stmt, const char *sql, const pg_params *p, PGresult **out,
                              const char *what, lv_error *err)
{
    lv_status st;
    if (s->queued) {
        if (stmt < 0 || s->pooled || s->prepared[stmt]) {
            /* after the queued writes, in the same round trip */
            if ((st = send(s, stmt, sql, p, what, err)) != LV_OK) {
                lv_error ignored;
                pg_flush(s, &ignored);
                return st;
            }
            return pipeline_end(s, what, out, err);
        }
        if ((st = pg_flush(s, err)) != LV_OK)
            return st;
    }
    if (s->pooled && (st = connected(s, what, err)) != LV_OK)
        return st;
    if (begins_transaction(s)) {
        /* the transaction's settings and the statement in one round trip; after a BEGIN, which must come
         * first (BEGIN ISOLATION LEVEL ...: before any query), and whose result is then the settings' */
        bool begin = stmt < 0 && strncmp(sql, "BEGIN", 5) == 0;
        if (begin) {
            if ((st = lv_pq.PQenterPipelineMode(s->conn) ? send(s, stmt, sql, p, what, err)
                                                          : pg_fail(s, NULL, what, err)) == LV_OK) {
                s->queued_what[s->queued++] = what;
                st = send(s, -1, s->prefix, NULL, what, err);
            }
        } else if ((st = send_prefix(s, what, err)) == LV_OK) {
            st = send(s, stmt, sql, p, what, err);
        }
        if (st != LV_OK) {
            lv_error ignored;
            pg_flush(s, &ignored);
            return st;
        }
        return pipeline_end(s, what, out, err);
    }
    st = send(s, stmt, sql, p, what, err);
    if (st != LV_OK)
        return st;
    bool lost;
    PGresult *r = next_result(s, &lost);
    ExecStatusType es = r ? lv_pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
        drain(s);
        *out = r;
        return LV_OK;
    }
    st = pg_fail(s, r, what, err);
    lv_pq.PQclear(r);
    if (!lost)
        drain(s);
    return st;
}

lv_status pg_cmd(pg_store *s, int stmt, const char *sql, const pg_params *p, int64_t *changed, const char *what,
                 lv_error *err)
{
    PGresult *r;
    lv_status st = pg_run(s, stmt, sql, p, &r, what, err);
    if (st == LV_OK && changed)
        *changed = strtoll(lv_pq.PQcmdTuples(r), NULL, 10);
    lv_pq.PQclear(r);
    return st;
}

lv_status pg_exec(pg_store *s, const char *sql, const char *what, lv_error *err)
{
    /* PQexec waits in ordinary mode: the queued writes first (a rollback goes on after their failure;
     * it drops the deferred rows, defer.c) */
    pg_ahead_drop(s);
    bool rollback = strcmp(sql, "ROLLBACK") == 0;
    lv_status fst = LV_OK;
    if (rollback)
        pg_defer_drop(s);
    else
        fst = pg_defer_before(s, -1, err);
    if (fst == LV_OK)
        fst = pg_flush(s, err);
    if (fst != LV_OK && !rollback)
        return fst;
    lv_buf with;
    lv_buf_init(&with);
    bool ends = s->pooled && (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0);
    if (ends && s->n_named && sql[0] == 'C') {
        /* the transaction's prepared statements go with it */
        deallocate_named(s, &with, what, err);
        lv_buf_puts(&with, sql);
        lv_buf_putc(&with, '\0');
        sql = with.data;
    } else if (begins_transaction(s) && strncmp(sql, "VACUUM", 6) != 0) {
        /* the transaction's settings first (after a BEGIN: see pg_run); VACUUM runs in no transaction, so
         * takes none (it names its tables with their schema) */
        size_t first = strncmp(sql, "BEGIN", 5) == 0 ? strcspn(sql, ";") : 0;
        lv_buf_append(&with, sql, first);
        if (first)
            lv_buf_puts(&with, "; ");
        lv_buf_puts(&with, s->prefix);
        if (sql[first] != ';')
            lv_buf_puts(&with, "; ");
        lv_buf_puts(&with, sql + first);
        lv_buf_putc(&with, '\0');
        sql = with.data;
    }
    PGresult *r = lv_pq.PQexec(s->conn, sql);
    lv_buf_free(&with);
    if (ends)
        transaction_ended(s);
    ExecStatusType es = r ? lv_pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
    lv_status st = LV_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
        st = pg_fail(s, r, what, err);
    lv_pq.PQclear(r);
    return st;
}

static lv_status each(pg_store *s, int stmt, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx,
                      const char *what, lv_error *err)
{
    PGresult *r;
    lv_status st = pg_run(s, stmt, sql, p, &r, what, err);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(r); i++)
        st = fn(s, r, i, ctx, err);
    lv_pq.PQclear(r);
    return st;
}

lv_status pg_each(pg_store *s, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                  lv_error *err)
{
    return each(s, -1, sql, p, fn, ctx, what, err);
}

lv_status pg_each_stmt(pg_store *s, int stmt, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                       lv_error *err)
{
    return each(s, stmt, NULL, p, fn, ctx, what, err);
}

/* Cursors of pg_stream are numbered, so a callback may stream another read. */
static unsigned cursors;

lv_status pg_stream(pg_store *s, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                    lv_error *err)
{
    bool own = !s->in_txn;
    lv_status st = LV_OK;
    PGresult *r = NULL;
    if (own) {
        if ((st = pg_run(s, -1, "BEGIN", NULL, &r, what, err)) != LV_OK)
            return st;
        lv_pq.PQclear(r);
        s->in_txn = true;
    }
    char name[32], fetch[64], close[48];
    unsigned n = ++cursors;
    snprintf(name, sizeof name, "lv_cursor%u", n);
    snprintf(fetch, sizeof fetch, "FETCH %d FROM %s", PG_STREAM_ROWS, name);
    snprintf(close, sizeof close, "CLOSE %s", name);
    lv_buf decl;
    lv_buf_init(&decl);
    lv_buf_printf(&decl, "DECLARE %s NO SCROLL CURSOR FOR %s", name, sql);
    st = pg_run(s, -1, decl.data, p, &r, what, err);
    lv_buf_free(&decl);
    lv_pq.PQclear(r);
    bool more = st == LV_OK;
    while (more && st == LV_OK) {
        if ((st = pg_run(s, -1, fetch, NULL, &r, what, err)) != LV_OK)
            break;
        int rows = lv_pq.PQntuples(r);
        for (int i = 0; st == LV_OK && i < rows; i++)
            st = fn(s, r, i, ctx, err);
        more = rows == PG_STREAM_ROWS;
        lv_pq.PQclear(r);
    }
    if (st == LV_OK) {
        st = pg_run(s, -1, close, NULL, &r, what, err);
        lv_pq.PQclear(r);
    }
    if (own) {
        lv_error ignored;
        if (pg_run(s, -1, st == LV_OK ? "COMMIT" : "ROLLBACK", NULL, &r, what, st == LV_OK ? err : &ignored) != LV_OK &&
            st == LV_OK)
            st = err ? err->status : LV_EIO;
        lv_pq.PQclear(r);
        s->in_txn = false;
    } else if (st != LV_OK) {
        /* the open transaction is the caller's: a failed statement has aborted it, which its commit reports */
    }
    return st;
}

/* ---- columns ---- */

bool pg_isnull(const PGresult *r, int row, int col)
{
    return lv_pq.PQgetisnull(r, row, col);
}

/* An integer as PostgreSQL writes it (int8out: an optional minus and digits; a numeric's sum stops at its
 * point, as strtoll does). A course summary reads about 4,000 of them; strtoll, with its locale and bases,
 * was an eighth of levee's CPU for it. More than 18 digits (beyond every id) go to strtoll, which
 * saturates as before. */
static int64_t parse_int(const char *p)
{
    const char *at = p;
    bool neg = *p == '-';
    if (neg)
        p++;
    uint64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
        v = v * 10 + (uint64_t)(*p - '0');
    if (digits > 18)
        return strtoll(at, NULL, 10);
    return neg ? -(int64_t)v : (int64_t)v;
}

int64_t pg_get_int(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return 0;
    return parse_int(lv_pq.PQgetvalue(r, row, col));
}

lv_opt pg_get_opt(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return (lv_opt){ 0, false };
    return lv_some(parse_int(lv_pq.PQgetvalue(r, row, col)));
}

int64_t pg_get_bin_int(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col) || lv_pq.PQgetlength(r, row, col) != 8)
        return 0;
    const unsigned char *b = (const unsigned char *)lv_pq.PQgetvalue(r, row, col);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | b[i];
    return (int64_t)u;
}

lv_opt pg_get_bin_opt(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return (lv_opt){ 0, false };
    return lv_some(pg_get_bin_int(r, row, col));
}

lv_str pg_get_str(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return (lv_str){ NULL, 0 };
    return (lv_str){ lv_pq.PQgetvalue(r, row, col), (size_t)lv_pq.PQgetlength(r, row, col) };
}

double pg_get_double(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return 0;
    return strtod(lv_pq.PQgetvalue(r, row, col), NULL);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool pg_get_bytes(const PGresult *r, int row, int col, lv_buf *out)
{
    lv_buf_reset(out);
    if (lv_pq.PQgetisnull(r, row, col))
        return true;
    const unsigned char *v = (const unsigned char *)lv_pq.PQgetvalue(r, row, col);
    size_t n = (size_t)lv_pq.PQgetlength(r, row, col);
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || n % 2)
        return false; /* the connection sets bytea_output = hex */
    lv_buf_reserve(out, (n - 2) / 2 + 1);
    unsigned char *d = (unsigned char *)out->data;
    for (size_t i = 2; i < n; i += 2) {
        int hi = hexval(v[i]), lo = hexval(v[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        *d++ = (unsigned char)(hi << 4 | lo);
    }
    out->len = (n - 2) / 2;
    return true;
}
