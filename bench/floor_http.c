/* floor_http.c: the baselines of the HTTP benchmark (bench/service.py). The same HTTP library levee
 * serve uses (libmicrohttpd), configured as levee configures it (epoll, a pool of two event threads,
 * the same connection limit):
 *
 *   floor_http PORT          the floor: reads each request's body and answers 204 without doing
 *                            anything with it. Whatever rate it reaches is what the HTTP library and
 *                            the kernel allow on this machine.
 *   floor_http PORT FILE     the floor with durability and nothing else: each body is appended to
 *                            FILE and the request held (suspended) until a committer thread has
 *                            written and fdatasync'ed it, many requests per write (group commit), then
 *                            answered 204. What levee adds on top of this is its own work: decoding,
 *                            validating, journal records, metrics, logs.
 *   floor_http --tls CERT KEY PORT [FILE]
 *                            either of them over HTTPS: libmicrohttpd's own TLS (GnuTLS) with the PEM
 *                            certificate and key, and the protocol and cipher priorities levee serve
 *                            uses (src/serve/tls.c), so the TLS floor costs what levee's TLS costs.
 *
 * PORT 0 means any free port. It prints "listening PORT" on stdout once it accepts, and runs until
 * SIGTERM or SIGINT.
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- durable mode: a body buffer and a list of held requests, swapped out by the committer ---- */

typedef struct held {
    struct MHD_Connection *connection;
    int committed;
} held;

static int journal_fd = -1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t appended = PTHREAD_COND_INITIALIZER;
static char *bodies;
static size_t bodies_len, bodies_cap;
static held **waiting;
static size_t n_waiting, cap_waiting;

static void append_locked(const char *data, size_t len)
{
    if (bodies_len + len > bodies_cap) {
        bodies_cap = (bodies_len + len) * 2;
        bodies = realloc(bodies, bodies_cap);
        if (!bodies)
            abort();
    }
    memcpy(bodies + bodies_len, data, len);
    bodies_len += len;
}

static void *committer(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (n_waiting == 0)
            pthread_cond_wait(&appended, &lock);
        char *data = bodies;
        size_t len = bodies_len;
        held **batch = waiting;
        size_t n = n_waiting;
        bodies = NULL;
        bodies_len = bodies_cap = 0;
        waiting = NULL;
        n_waiting = cap_waiting = 0;
        pthread_mutex_unlock(&lock);
        for (size_t done = 0; done < len;) {
            ssize_t w = write(journal_fd, data + done, len - done);
            if (w < 0) {
                perror("floor_http: write");
                exit(1);
            }
            done += (size_t)w;
        }
        if (fdatasync(journal_fd) != 0) {
            perror("floor_http: fdatasync");
            exit(1);
        }
        for (size_t i = 0; i < n; i++) {
            batch[i]->committed = 1;
            MHD_resume_connection(batch[i]->connection);
        }
        free(batch);
        free(data);
    }
    return NULL;
}

static enum MHD_Result answer_204(struct MHD_Connection *connection)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result queued = MHD_queue_response(connection, MHD_HTTP_NO_CONTENT, response);
    MHD_destroy_response(response);
    return queued;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)method, (void)version;
    if (journal_fd < 0) { /* the floor: nothing allocated, nothing kept */
        if (*state == NULL) { /* headers: wait for the body */
            *state = connection;
            return MHD_YES;
        }
        if (*upload_size) {
            *upload_size = 0;
            return MHD_YES;
        }
        return answer_204(connection);
    }
    held *h = *state;
    if (h == NULL) {
        h = calloc(1, sizeof *h);
        if (!h)
            return MHD_NO;
        h->connection = connection;
        *state = h;
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body, for the journal */
        pthread_mutex_lock(&lock);
        append_locked(upload_data, *upload_size);
        pthread_mutex_unlock(&lock);
        *upload_size = 0;
        return MHD_YES;
    }
    if (h->committed) {
        free(h);
        *state = NULL;
        return answer_204(connection);
    }
    pthread_mutex_lock(&lock);
    append_locked("\n", 1);
    if (n_waiting == cap_waiting) {
        cap_waiting = cap_waiting ? cap_waiting * 2 : 64;
        waiting = realloc(waiting, cap_waiting * sizeof *waiting);
        if (!waiting)
            abort();
    }
    waiting[n_waiting++] = h;
    MHD_suspend_connection(connection);
    pthread_cond_signal(&appended);
    pthread_mutex_unlock(&lock);
    return MHD_YES;
}

/* levee serve's priorities (TLS_PRIORITIES in src/serve/tls.c) */
#define TLS_PRIORITIES                                                                                       \
    "SECURE192:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:" \
    "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:-MAC-ALL:+AEAD:%SAFE_RENEGOTIATION"

/* A whole PEM file, NUL-terminated (libmicrohttpd takes the certificate and key as strings). */
static char *read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            if (!text)
                abort();
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed || !text) {
        fprintf(stderr, "floor_http: cannot read %s\n", path);
        free(text);
        return NULL;
    }
    text[len] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    char *cert = NULL, *key = NULL;
    if (argc >= 4 && strcmp(argv[1], "--tls") == 0) {
        if (!(cert = read_pem(argv[2])) || !(key = read_pem(argv[3])))
            return 1;
        argv += 3;
        argc -= 3;
    }
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: floor_http [--tls CERT KEY] PORT [FILE]\n");
        return 2;
    }
    if (argc == 3) {
        journal_fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (journal_fd < 0) {
            perror(argv[2]);
            return 1;
        }
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* the daemon's threads inherit the mask */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | (journal_fd >= 0 ? MHD_ALLOW_SUSPEND_RESUME : 0) |
                     (cert ? MHD_USE_TLS : 0);
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, key },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL },
    };
    struct MHD_Daemon *daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, answer, NULL, MHD_OPTION_ARRAY, cert ? tls : tls + 3, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "floor_http: cannot listen on 127.0.0.1:%s%s\n", argv[1], cert ? " with TLS" : "");
        return 1;
    }
    pthread_t thread;
    if (journal_fd >= 0 && pthread_create(&thread, NULL, committer, NULL) != 0) {
        fprintf(stderr, "floor_http: cannot start the committer thread\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening %u\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    if (journal_fd >= 0)
        return 0; /* requests may be held: the daemon cannot stop with suspended connections, and a
                   * baseline need not answer them (their clients see the connection close) */
    MHD_stop_daemon(daemon);
    free(cert);
    free(key);
    return 0;
}
