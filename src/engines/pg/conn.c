/* conn.c: the PostgreSQL engine's connection: which locations are PostgreSQL's, the location as it may be
 * printed (no password), connecting with the session settings the engine relies on, running statements
 * (waiting on the socket, so that a deadline or an interrupt can cancel them) and telling their results
 * apart: rows, the end, or an error said as a sentence. */
#include "pg.h"

#include "levee/engines.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                                        "target_session_attrs", NULL };

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
        /* keyword = value pairs; a value may be quoted with '...' and hold \' */
        const char *p = loc;
        bool first = true;
        while (*p) {
            while (isspace((unsigned char)*p))
                p++;
            if (!*p)
                break;
            const char *kw = p;
            while (*p && *p != '=' && !isspace((unsigned char)*p))
                p++;
            size_t kn = (size_t)(p - kw);
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '=')
                p++;
            while (isspace((unsigned char)*p))
                p++;
            const char *val = p;
            if (*p == '\'') {
                p++;
                while (*p && *p != '\'') {
                    if (*p == '\\' && p[1])
                        p++;
                    p++;
                }
                if (*p)
                    p++;
            } else {
                while (*p && !isspace((unsigned char)*p))
                    p++;
            }
            if (kn == 8 && strncmp(kw, "password", 8) == 0)
                continue;
            if (!first)
                lv_buf_putc(&out, ' ');
            first = false;
            lv_buf_append(&out, kw, kn);
            lv_buf_putc(&out, '=');
            lv_buf_append(&out, val, (size_t)(p - val));
        }
    }
    lv_buf_putc(&out, '\0');
    return (char *)out.data;
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
    memset(s->prepared, 0, sizeof s->prepared);
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
        lv_pq.PQfinish(s->conn);
        s->conn = NULL;
        return lv_fail(err, LV_EIO, "cannot connect to PostgreSQL at %s (%s); check that the server runs and "
                       "the location, user and password (~/.pgpass or PGPASSFILE)", s->base.location, msg);
    }
    lv_pq.PQsetNoticeProcessor(s->conn, quiet, NULL);
    s->cancel = lv_pq.PQgetCancel(s->conn);
    if (lv_pq.PQserverVersion(s->conn) < 120000)
        return lv_fail(err, LV_EUNSUPPORTED, "%s is PostgreSQL %d.%d; levee needs PostgreSQL 12 or newer",
                       s->base.location, lv_pq.PQserverVersion(s->conn) / 10000,
                       lv_pq.PQserverVersion(s->conn) % 10000 / 100);
    /* UTF-8 both ways (levee's texts are), UTC, no per-statement limit of the server's own */
    return pg_exec(s, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET statement_timeout = 0; SET bytea_output = 'hex';"
                      " SET default_transaction_isolation = 'read committed'",
                   "cannot set up the connection", err);
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
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return lv_fail(err, LV_EBUSY, "%s: another writer of %s holds what this one needs (PostgreSQL: %s); try "
                       "again", what, loc, msg);
    if (strcmp(state, "53100") == 0)
        return lv_fail(err, LV_EBUSY, "%s: the disk of the PostgreSQL server of %s is full", what, loc);
    if (strncmp(state, "XX", 2) == 0)
        return lv_fail(err, LV_EDAMAGED, "%s: the store %s is damaged (PostgreSQL: %s); restore it from a backup",
                       what, loc, msg);
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

static lv_status prepare(pg_store *s, int stmt, lv_error *err)
{
    if (s->prepared[stmt])
        return LV_OK;
    char name[16];
    snprintf(name, sizeof name, "lv%d", stmt);
    PGresult *r = lv_pq.PQprepare(s->conn, name, pg_statements[stmt], 0, NULL);
    lv_status st = LV_OK;
    if (!r || lv_pq.PQresultStatus(r) != PGRES_COMMAND_OK)
        st = pg_fail(s, r, "cannot prepare the store's statements", err);
    else
        s->prepared[stmt] = true;
    lv_pq.PQclear(r);
    return st;
}

static lv_status send(pg_store *s, int stmt, const char *sql, const pg_params *p, const char *what, lv_error *err)
{
    if (!s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD) {
        if (s->in_txn)
            return pg_fail(s, NULL, what, err);
        /* the reconnect point: outside a transaction nothing is lost by connecting again */
        lv_status st = pg_connect(s, err);
        if (st != LV_OK)
            return st;
    }
    int ok;
    int n = p ? p->n : 0;
    const char *values[PG_MAX_PARAMS];
    for (int i = 0; i < n; i++)
        values[i] = p->is_num[i] ? p->num[i] : p->values[i];
    const int *lengths = p ? p->lengths : NULL, *formats = p ? p->formats : NULL;
    if (stmt >= 0) {
        lv_status st = prepare(s, stmt, err);
        if (st != LV_OK)
            return st;
        char name[16];
        snprintf(name, sizeof name, "lv%d", stmt);
        ok = lv_pq.PQsendQueryPrepared(s->conn, name, n, n ? values : NULL, lengths, formats, 0);
    } else {
        ok = lv_pq.PQsendQueryParams(s->conn, sql, n, NULL, n ? values : NULL, lengths, formats, 0);
    }
    if (!ok)
        return pg_fail(s, NULL, what, err);
    return LV_OK;
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
    if (s->queued >= PG_MAX_QUEUED && (st = pg_flush(s, err)) != LV_OK)
        return st;
    if (!s->prepared[stmt] || !s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD) {
        /* preparing (and connecting again) wait for their answers: not in the pipeline */
        if ((st = pg_flush(s, err)) != LV_OK)
            return st;
        if (!s->conn || lv_pq.PQstatus(s->conn) == CONNECTION_BAD) {
            if (s->in_txn)
                return pg_fail(s, NULL, what, err);
            if ((st = pg_connect(s, err)) != LV_OK)
                return st;
        }
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

lv_status pg_run(pg_store *s, int stmt, const char *sql, const pg_params *p, PGresult **out, const char *what,
                 lv_error *err)
{
    *out = NULL;
    lv_status st = pg_defer_before(s, stmt, err); /* rows it may read are sent first (defer.c) */
    if (st != LV_OK)
        return st;
    if (s->queued) {
        if (stmt < 0 || s->prepared[stmt]) {
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
    PGresult *r = lv_pq.PQexec(s->conn, sql);
    ExecStatusType es = r ? lv_pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
    lv_status st = LV_OK;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
        st = pg_fail(s, r, what, err);
    lv_pq.PQclear(r);
    return st;
}

lv_status pg_each(pg_store *s, const char *sql, const pg_params *p, pg_row_fn fn, void *ctx, const char *what,
                  lv_error *err)
{
    PGresult *r;
    lv_status st = pg_run(s, -1, sql, p, &r, what, err);
    for (int i = 0; st == LV_OK && i < lv_pq.PQntuples(r); i++)
        st = fn(s, r, i, ctx, err);
    lv_pq.PQclear(r);
    return st;
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

int64_t pg_get_int(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return 0;
    return strtoll(lv_pq.PQgetvalue(r, row, col), NULL, 10);
}

lv_opt pg_get_opt(const PGresult *r, int row, int col)
{
    if (lv_pq.PQgetisnull(r, row, col))
        return (lv_opt){ 0, false };
    return lv_some(strtoll(lv_pq.PQgetvalue(r, row, col), NULL, 10));
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
