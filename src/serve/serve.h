/* serve.h: what the files of `levee serve` share: the server's state, a request's state, and the
 * functions each file gives the others. server.c is the composition root (it wires the journal, the
 * applier, the store's readers, the tail and the HTTP daemon, and stops them in order); http.c holds
 * responses, tokens and the checks made on a request's headers; ingest.c is POST /events; queries.c
 * answers the JSON API on worker threads; live.c streams the live tail. Private to src/serve/.
 *
 * Suspended connections: a request that waits (for its journal commit, for a query worker, for the
 * next event of a live tail) is suspended so that it holds no event thread. libmicrohttpd aborts the
 * process if it is stopped while any connection is suspended, so every suspension goes through
 * sv_suspend, which refuses once the server is stopping, and every resumption through sv_resume;
 * server.c waits for the count of suspended connections to reach zero before stopping the daemon. */
#ifndef LEVEE_SERVE_H
#define LEVEE_SERVE_H

#include "levee/applier.h"
#include "levee/committer.h"
#include "levee/journal.h"
#include "levee/jwt.h"
#include "levee/metrics.h"
#include "levee/server.h"
#include "levee/tail.h"
#include "mhd_api.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

/* Limits on what one request, or all of them together, can make levee hold or do. */
#define SV_SINGLE_BODY_LIMIT (LV_EVENT_MAX_BYTES + 4096) /* one event (or JWT) per request */
#define SV_BODY_BUDGET ((size_t)256 << 20)   /* request bodies held in memory, all connections together */
#define SV_API_BODY_LIMIT ((size_t)64 << 10) /* the API takes no bodies */
#define SV_MAX_DOCUMENTS 50000               /* documents in one NDJSON batch */
#define SV_MAX_REJECTED_LISTED 100           /* rejected documents described in one answer */
#define SV_BACKLOG_LIMIT ((uint64_t)1 << 30) /* acknowledged, not yet applied: beyond it, 503 */
#define SV_QUERY_SECONDS 10                  /* a query's deadline */
#define SV_STOP_SECONDS 30                   /* how long a stop waits for requests in flight */

typedef struct sv_queries sv_queries;
typedef struct sv_live sv_live;
typedef struct sv_tls sv_tls;

typedef struct server {
    const lv_server_config *cfg;
    struct MHD_Daemon *daemon;
    lv_store *writer;
    lv_store *syncer;           /* SQLite: the applier's second connection, to sync without stopping (NULL else) */
    lv_journal *journal;        /* SQLite: the journal and its applier (NULL on PostgreSQL) */
    lv_applier *applier;
    lv_committer *committer;    /* PostgreSQL: group commit straight into the store (NULL on SQLite) */
    lv_store *follower;         /* PostgreSQL: the tail's reader of what every node stored (follow.c) */
    pthread_t follow_thread;
    bool follow_started;
    atomic_bool follow_stop;
    uint64_t recovery_target; /* journal end when the server started: ready once applied */
    pthread_rwlock_t jwks_lock;
    lv_jwks *jwks;
    lv_metrics *metrics;
    lv_tail *tail;
    sv_queries *queries;
    sv_live *live;
    sv_tls *tls;                /* HTTPS: the certificate and key (NULL: plain HTTP) */
    struct lv_deliverer *deliverer; /* delivery to the subscriptions (NULL with deliver off) */
    /* receiving from SQS (--sqs): a thread running lv_pull_run until sqs_stop */
    pthread_t sqs_thread;
    bool sqs_started;
    atomic_bool sqs_stop;
    pthread_mutex_t sqs_lock;
    struct lv_pull_counts *sqs_counts; /* the last progress (under sqs_lock) */
    pthread_t deliver_thread;
    bool deliver_started;
    /* retention (--retain): a thread pruning on its own connection until retain_stop (retain.c) */
    pthread_t retain_thread;
    bool retain_started;
    atomic_bool retain_stop;
    pthread_mutex_t retain_lock;
    pthread_cond_t retain_wake;
    _Atomic uint64_t connections;
    _Atomic size_t answering;   /* requests answered (a response queued) and not yet completed */
    _Atomic size_t body_bytes;  /* request bodies held now (SV_BODY_BUDGET) */
    /* suspended connections: the lock is held around every suspend and resume, and the flag that
     * stops new suspensions is set under it */
    pthread_mutex_t suspend_lock;
    size_t suspended;
    bool stopping;
    /* the store was found damaged by a read (readiness fails, saying why) */
    pthread_mutex_t damage_lock;
    char *damaged;
    /* requests waiting for the journal: resumed by the flusher once their records are durable */
    struct sv_commit_wait *commits;
    size_t n_commits, cap_commits;
} server;

/* retain.c: --retain, pruning in the background while the server answers */
lv_status sv_retain_start(server *s, lv_error *err);
void sv_retain_stop(server *s);

/* A refused request's body is read and dropped, so that its client (which may be sending it before
 * reading any answer) gets the answer; beyond this many bytes it is answered at once and closed. */
#define SV_DISCARD_MAX ((size_t)4 << 20)

enum sv_phase { SV_NEW, SV_BODY, SV_DISCARD, SV_COMMIT, SV_QUERY, SV_DONE };

typedef struct sv_published sv_published;

typedef struct request {
    struct server *server;
    enum sv_phase phase;
    bool answered;            /* a response is queued: counted in server.answering until completed */
    bool suspended;           /* suspended by sv_suspend and not yet called back */
    struct timespec start;
    lv_buf body;
    lv_buf claims;            /* a signed event's claims (the event), once its signature checked */
    size_t budgeted;          /* bytes of body counted in server.body_bytes */
    bool too_big;             /* the body went past its limit (nothing more is kept) */
    bool over_budget;         /* the server's body budget was spent */
    bool is_events;
    int refused_status;       /* SV_DISCARD: the answer once the body is dropped */
    char *refused_why;
    size_t discarded;
    const char *route;
    int status;
    char remote[64];
    char method[8];
    char *path;
    unsigned accepted, rejected;
    /* an answer computed before the connection was suspended, sent when it is resumed */
    int deferred_status;
    const char *deferred_type;
    lv_buf deferred;
    uint64_t first_ticket, ticket; /* its documents' in the journal or committer: the first and the last */
    sv_published *published; /* events for the live tail once durable */
    size_t n_published;
    struct sv_counted *counted; /* events for the metrics once durable */
    size_t n_counted;
    /* the query string, copied for a worker thread */
    char **args;
    size_t n_args;
} request;

/* ---- server.c ---- */
/* Suspends c unless the server is stopping (false: answer now instead) and sets *flag; takes
 * suspend_lock unless locked says the caller holds it. */
bool sv_suspend(server *s, struct MHD_Connection *c, bool *flag, bool locked);
/* Asks libmicrohttpd to resume c; it calls the connection back on an event thread, which then calls
 * sv_reentered with the same flag. */
void sv_resume(server *s, struct MHD_Connection *c, bool locked);
void sv_reentered(server *s, bool *flag);
/* Why the server is not ready, or NULL when it is (why is filled). */
const char *sv_not_ready(server *s, char *why, size_t size);
/* A read found the store damaged: /readyz fails from now on, saying so. */
void sv_store_damaged(server *s, const char *msg);

/* ---- http.c ---- */
/* Queues resp as the request's answer (counted until the request completes). */
enum MHD_Result sv_queue(struct MHD_Connection *c, request *r, int status, struct MHD_Response *resp);
double sv_since(const struct timespec *t0);
lv_status sv_listen_resolve(const char *listen, struct sockaddr_storage *out, socklen_t *len, lv_error *err);
bool sv_is_loopback(const struct sockaddr *sa);
enum MHD_Result sv_reply(struct MHD_Connection *c, request *r, int status, const char *type, lv_buf *body);
enum MHD_Result sv_reply_error(struct MHD_Connection *c, request *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A request refused before any work (a bad or missing token or signature): 401, counted and logged. */
enum MHD_Result sv_refuse(server *s, struct MHD_Connection *c, request *r, const char *why);
/* Whether the request carries the token (?token= or Authorization: Bearer), or none is configured. */
bool sv_authorized(struct MHD_Connection *c, const char *want);
/* The request's Content-Length (checked by sv_check_headers); *known false when it has none. */
size_t sv_content_length(struct MHD_Connection *c, bool *known);
/* Checks made on the headers before a body is read: 0 when the request may go on, else the status to
 * answer with (why filled). */
int sv_check_headers(server *s, struct MHD_Connection *c, request *r, char *why, size_t size);
/* The web page's files, with the headers a page needs (CSP, framing, referrer). */
enum MHD_Result sv_page(struct MHD_Connection *c, request *r, const char *url);
/* The JSON security headers every answer carries. */
void sv_common_headers(struct MHD_Response *resp);
void sv_copy_args(struct MHD_Connection *c, request *r);
const char *sv_arg(void *ctx, const char *name);

/* ---- ingest.c ---- */
enum MHD_Result sv_ingest(server *s, struct MHD_Connection *c, request *r);
enum MHD_Result sv_finish_commit(server *s, struct MHD_Connection *c, request *r);
/* The journal's flusher has synced: resume every request whose records it covered. */
void sv_on_durable(void *ctx, const lv_journal_commit *commit);
void sv_free_published(request *r);
/* The committer settled a round: resume the requests it covered. */
void sv_on_settled(void *ctx, const lv_commit_round *round);

/* ---- follow.c ---- */
/* PostgreSQL: a thread feeding the live tail with what any node stored, in arrival order. */
lv_status sv_follow_start(server *s, lv_error *err);
void sv_follow_stop(server *s);

/* ---- queries.c ---- */
lv_status sv_queries_start(server *s, lv_error *err);
/* Interrupts running queries and ends the workers (answering what they hold). */
void sv_queries_stop(server *s);
void sv_queries_free(server *s);
size_t sv_queries_waiting(server *s);
uint64_t sv_queries_timeouts(server *s);
enum MHD_Result sv_api(server *s, struct MHD_Connection *c, request *r);
/* /api/subscriptions...: guarded by the admin token, answered on the admin worker (admin.c). */
enum MHD_Result sv_subscriptions(server *s, struct MHD_Connection *c, request *r);
/* admin.c, on the admin worker: the answer to one /api/subscriptions request, on a writable store */
void sv_admin_answer(lv_store *store, request *r);

/* ---- live.c ---- */
sv_live *sv_live_new(void);
void sv_live_free(sv_live *l);
enum MHD_Result sv_tail(server *s, struct MHD_Connection *c, request *r);
/* Resumes every suspended live stream (new events, a keepalive due, or stopping). */
void sv_wake_tails(server *s);
size_t sv_tails_waiting(server *s);

/* ---- tls.c ---- */
/* Checks that libmicrohttpd has TLS and the certificate callback, loads the certificate chain and its
 * key (both PEM; the key must be the first certificate's) and logs the certificate's serial. */
lv_status sv_tls_open(const char *cert, const char *key, sv_tls **out, lv_error *err);
/* Loads both files again and, when they are good, uses them for every handshake from now on; open
 * connections keep what they have. On failure nothing changes and err says why. */
lv_status sv_tls_reload(sv_tls *t, lv_error *err);
/* The daemon's TLS options (the certificate callback, the protocol and cipher priorities), ended by
 * MHD_OPTION_END, for MHD_OPTION_ARRAY. */
void sv_tls_options(sv_tls *t, struct MHD_OptionItem items[3]);
/* Each connection, from libmicrohttpd's connection notifications: it holds the credentials it may
 * handshake with until it closes. */
void sv_tls_connection_started(sv_tls *t, void **socket_ctx);
void sv_tls_connection_closed(sv_tls *t, void **socket_ctx);
/* Only once the daemon has stopped. */
void sv_tls_free(sv_tls *t);

#endif
