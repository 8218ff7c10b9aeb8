/* target_204.c: the loopback target of the delivery benchmark (bench/deliver.py): libmicrohttpd,
 * configured as bench/floor_http.c is (epoll, a pool of two event threads), answering every POST 204
 * and counting them. Nothing else, so that what is measured is the sender, not the target.
 *
 *   target_204 PORT [--expect N] [--log FILE]
 *
 * PORT 0 means any free port; it prints "listening PORT" on stdout once it accepts. With --expect N it
 * prints "reached N AT_US" on stdout when the Nth POST has been received whole (CLOCK_REALTIME,
 * microseconds): the end of a timed delivery. GET /count answers the number of POSTs received so far.
 * With --log, each POST's FNV-1a 64 hash of its body and the time it was received whole are kept in
 * memory and written to FILE ("HASH RECEIVED_US" lines) when it stops, on SIGTERM or SIGINT.
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct receipt {
    uint64_t hash;
    int64_t at_us;
} receipt;

static _Atomic unsigned long long received;
static unsigned long long expect;
static int logging;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static receipt *receipts;
static size_t n_receipts, cap_receipts;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum MHD_Result answer_with(struct MHD_Connection *connection, unsigned status, const char *text)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!response)
        return MHD_NO;
    enum MHD_Result queued = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return queued;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void)cls, (void)url, (void)version;
    if (strcmp(method, "POST") != 0) {
        char text[32];
        snprintf(text, sizeof text, "%llu\n", (unsigned long long)atomic_load(&received));
        return answer_with(connection, MHD_HTTP_OK, text);
    }
    uint64_t *hash = *state;
    if (!hash) { /* the headers: the body's hash starts */
        if (!(hash = malloc(sizeof *hash)))
            return MHD_NO;
        *hash = 1469598103934665603ull;
        *state = hash;
        return MHD_YES;
    }
    if (*upload_size) {
        if (logging)
            for (size_t i = 0; i < *upload_size; i++) {
                *hash ^= (unsigned char)upload_data[i];
                *hash *= 1099511628211ull;
            }
        *upload_size = 0;
        return MHD_YES;
    }
    int64_t at = now_us();
    unsigned long long count = atomic_fetch_add(&received, 1) + 1;
    if (logging) {
        pthread_mutex_lock(&lock);
        if (n_receipts == cap_receipts) {
            cap_receipts = cap_receipts ? cap_receipts * 2 : 65536;
            receipt *grown = realloc(receipts, cap_receipts * sizeof *receipts);
            if (!grown)
                abort();
            receipts = grown;
        }
        receipts[n_receipts++] = (receipt){ *hash, at };
        pthread_mutex_unlock(&lock);
    }
    free(hash);
    *state = NULL;
    if (expect && count == expect) {
        printf("reached %llu %" PRId64 "\n", count, at);
        fflush(stdout);
    }
    return answer_with(connection, MHD_HTTP_NO_CONTENT, "");
}

/* A request that ended before its body did (the client went away): its hash is freed here. */
static void completed(void *cls, struct MHD_Connection *connection, void **state, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)connection, (void)why;
    free(*state);
    *state = NULL;
}

int main(int argc, char **argv)
{
    const char *log_path = NULL;
    if (argc < 2) {
        fprintf(stderr, "usage: target_204 PORT [--expect N] [--log FILE]\n");
        return 2;
    }
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 < argc && strcmp(argv[i], "--expect") == 0) {
            expect = strtoull(argv[i + 1], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--log") == 0) {
            log_path = argv[i + 1];
        } else {
            fprintf(stderr, "usage: target_204 PORT [--expect N] [--log FILE]\n");
            return 2;
        }
    }
    logging = log_path != NULL;
    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "w"))) {
        perror(log_path);
        return 2;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* the daemon's threads inherit the mask */
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "target_204: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("listening %u\n", info ? (unsigned)info->port : 0u);
    fflush(stdout);
    int sig;
    sigwait(&stop, &sig);
    MHD_stop_daemon(daemon);
    if (log) {
        for (size_t i = 0; i < n_receipts; i++)
            if (fprintf(log, "%016" PRIx64 " %" PRId64 "\n", receipts[i].hash, receipts[i].at_us) < 0) {
                perror(log_path);
                return 2;
            }
        if (fclose(log) != 0) {
            perror(log_path);
            return 2;
        }
    }
    free(receipts);
    return 0;
}
