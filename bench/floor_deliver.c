/* floor_deliver.c: the floor of the delivery benchmark (bench/deliver.py), and its paced client.
 * The same HTTP client library levee's delivery uses (libcurl multi, one thread), doing nothing but
 * POSTing bodies: no store, no cursor, no attempt records, no signing.
 *
 *   floor_deliver [--subs S] [--parallel P] URL FILE N
 *       the floor: the first N lines of FILE (NDJSON, one body a line) are POSTed to URL, in order, by
 *       each of S "subscriptions", each with up to P requests in flight (its own P easy handles, so S
 *       times the work, as S subscriptions to one target are for levee); every answer must be 2xx.
 *   floor_deliver --rate R [--parallel P] --log LOG URL FILE N
 *       the paced client of the latency benchmark: the N bodies POSTed one per request at a steady
 *       R per second (request i is due at start + i/R), over up to P connections; for each answer,
 *       a line "HASH ANSWERED_US STATUS DUE_US" in LOG: the FNV-1a 64 hash of the body (hex), the time
 *       the answer arrived (CLOCK_REALTIME, microseconds), the HTTP status, and the time the request was
 *       due (the same clock: answered less due is its latency, a late start included).
 *
 * Each request has the headers levee's deliveries have that matter on the wire (Content-Type:
 * application/json, no Expect: 100-continue). It prints a summary line to stderr; exit status 1 when
 * an answer was not 2xx or a request failed, 2 for usage or I/O errors.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct body {
    char *data;
    size_t len;
} body;

typedef struct slot {
    CURL *easy;
    size_t index; /* the body in flight */
    int64_t due_us;
    bool busy;
} slot;

typedef struct stream {
    slot *slots;
    size_t next; /* the next body to send */
    size_t done;
} stream;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr, (void)userdata;
    return size * nmemb;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "floor_deliver: out of memory\n");
        exit(2);
    }
    return p;
}

/* The first n non-empty lines of path, without their line ends. */
static body *read_bodies(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    body *b = xcalloc(n, sizeof *b);
    size_t got = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while (got < n && (len = getline(&line, &cap, f)) != -1) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        b[got].data = xcalloc(1, (size_t)len + 1);
        memcpy(b[got].data, line, (size_t)len);
        b[got].len = (size_t)len;
        got++;
    }
    free(line);
    if (ferror(f)) {
        perror(path);
        exit(2);
    }
    fclose(f);
    if (got < n) {
        fprintf(stderr, "floor_deliver: %s has %zu bodies, fewer than the %zu asked for\n", path, got, n);
        exit(2);
    }
    return b;
}

static bool setup(CURL *c, const char *url, struct curl_slist *headers)
{
    return curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_POST, 1L) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L) == CURLE_OK &&
           curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK;
}

static bool send_body(CURLM *multi, slot *s, const body *b, size_t index)
{
    s->index = index;
    s->busy = true;
    return curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, b[index].data) == CURLE_OK &&
           curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b[index].len) == CURLE_OK &&
           curl_multi_add_handle(multi, s->easy) == CURLM_OK;
}

static void usage(void)
{
    fprintf(stderr, "usage: floor_deliver [--subs S] [--parallel P] URL FILE N\n"
                    "       floor_deliver --rate R [--parallel P] --log LOG URL FILE N\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long subs = 1, parallel = 4;
    double rate = 0;
    const char *log_path = NULL;
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--subs") == 0)
            subs = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--parallel") == 0)
            parallel = strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rate") == 0)
            rate = strtod(argv[i + 1], NULL);
        else if (strcmp(argv[i], "--log") == 0)
            log_path = argv[i + 1];
        else
            usage();
    }
    if (argc - i != 3 || subs < 1 || subs > 1024 || parallel < 1 || parallel > 1024 || rate < 0 ||
        (rate > 0) != (log_path != NULL) || (rate > 0 && subs != 1))
        usage();
    const char *url = argv[i];
    long long n_arg = strtoll(argv[i + 2], NULL, 10);
    if (n_arg < 1)
        usage();
    size_t n = (size_t)n_arg;
    body *bodies = read_bodies(argv[i + 1], n);
    FILE *log = NULL;
    if (log_path && !(log = fopen(log_path, "w"))) {
        perror(log_path);
        return 2;
    }
    uint64_t *hashes = NULL;
    if (log) {
        hashes = xcalloc(n, sizeof *hashes);
        for (size_t k = 0; k < n; k++)
            hashes[k] = fnv1a(bodies[k].data, bodies[k].len);
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "floor_deliver: libcurl could not start\n");
        return 2;
    }
    CURLM *multi = curl_multi_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *more = headers ? curl_slist_append(headers, "Expect:") : NULL;
    if (!multi || !more) {
        fprintf(stderr, "floor_deliver: libcurl could not allocate\n");
        return 2;
    }
    headers = more;
    stream *streams = xcalloc((size_t)subs, sizeof *streams);
    for (long s = 0; s < subs; s++) {
        streams[s].slots = xcalloc((size_t)parallel, sizeof(slot));
        for (long k = 0; k < parallel; k++) {
            slot *sl = &streams[s].slots[k];
            if (!(sl->easy = curl_easy_init()) || !setup(sl->easy, url, headers) ||
                curl_easy_setopt(sl->easy, CURLOPT_PRIVATE, sl) != CURLE_OK) {
                fprintf(stderr, "floor_deliver: libcurl does not accept a request to %s\n", url);
                return 2;
            }
        }
    }

    size_t total = n * (size_t)subs, finished = 0, ok = 0, failed = 0;
    int64_t start = now_us(), worst_late = 0;
    char first_error[CURL_ERROR_SIZE + 64] = "";
    while (finished < total) {
        /* start whatever may start: every free slot (the floor), or what is due (the paced client) */
        int64_t now = now_us(), wait_us = -1;
        for (long s = 0; s < subs; s++) {
            stream *st = &streams[s];
            for (long k = 0; k < parallel && st->next < n; k++) {
                slot *sl = &st->slots[k];
                if (sl->busy)
                    continue;
                if (rate > 0) {
                    int64_t due = start + (int64_t)((double)st->next * 1e6 / rate);
                    if (due > now) {
                        wait_us = due - now;
                        break;
                    }
                    if (now - due > worst_late)
                        worst_late = now - due;
                    sl->due_us = due;
                }
                if (!send_body(multi, sl, bodies, st->next)) {
                    fprintf(stderr, "floor_deliver: libcurl refused request %zu\n", st->next);
                    return 2;
                }
                st->next++;
            }
        }
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) {
            fprintf(stderr, "floor_deliver: curl_multi_perform failed\n");
            return 2;
        }
        CURLMsg *m;
        int left;
        size_t before = finished;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *sl = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
            long status = 0;
            if (m->data.result == CURLE_OK)
                curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            int64_t answered = now_us();
            if (status >= 200 && status < 300) {
                ok++;
            } else {
                failed++;
                if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "request %zu: %s (HTTP %ld)", sl->index,
                             curl_easy_strerror(m->data.result), status);
            }
            if (log && fprintf(log, "%016" PRIx64 " %" PRId64 " %ld %" PRId64 "\n", hashes[sl->index], answered, status,
                               sl->due_us) < 0) {
                perror(log_path);
                return 2;
            }
            curl_multi_remove_handle(multi, m->easy_handle);
            sl->busy = false;
            finished++;
        }
        if (finished < total && finished == before) { /* nothing freed a slot: wait for an answer or a due time */
            /* the next due time rounded up to the poll's millisecond: rounded down, a wait under 1 ms was
             * no wait at all, and the paced client spun on a CPU the server it measures needed (at 2,000/s
             * requests are due every 0.5 ms: 16.8 CPU s over a 20 s run on a 2-CPU machine) */
            int timeout_ms = 100;
            if (wait_us >= 0 && wait_us < 100000)
                timeout_ms = (int)((wait_us + 999) / 1000);
            curl_multi_poll(multi, NULL, 0, timeout_ms, NULL);
        }
    }
    double seconds = (double)(now_us() - start) / 1e6;
    fprintf(stderr, "floor_deliver: %zu requests, %zu 2xx, %zu failed, %.3f s, %.0f requests/s", total, ok, failed,
            seconds, (double)total / seconds);
    if (rate > 0)
        fprintf(stderr, ", latest start %.1f ms behind schedule", (double)worst_late / 1000.0);
    fprintf(stderr, "\n");
    if (first_error[0])
        fprintf(stderr, "floor_deliver: first failure: %s\n", first_error);
    if (log && fclose(log) != 0) {
        perror(log_path);
        return 2;
    }
    for (long s = 0; s < subs; s++) {
        for (long k = 0; k < parallel; k++)
            curl_easy_cleanup(streams[s].slots[k].easy);
        free(streams[s].slots);
    }
    free(streams);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    for (size_t k = 0; k < n; k++)
        free(bodies[k].data);
    free(bodies);
    free(hashes);
    return failed ? 1 : 0;
}
