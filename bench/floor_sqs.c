/* floor_sqs.c: the floor of the SQS benchmark (bench/sqs.py). It receives messages from a queue and deletes
 * them, as `levee pull --drain` does, with nothing else: N receivers in flight (libcurl multi, one thread), each
 * a ReceiveMessage of up to 10 messages (WaitTimeSeconds 1, the attributes levee asks for), then one
 * DeleteMessageBatch of what it got, then the next receive; requests signed with AWS Signature Version 4 by
 * libcurl (CURLOPT_AWS_SIGV4, as levee signs them), the JSON protocol as levee speaks it. No parsing beyond
 * finding the receipt handles, no store. It stops when a receive finds the queue empty, once the deletes in
 * flight are answered, and prints what it did.
 *
 * usage: floor_sqs --endpoint URL --queue QUEUE_URL [--receivers N] [--region R]
 * Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_RECEIVERS 64
#define BATCH 10

typedef struct buf {
    char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            fprintf(stderr, "floor_sqs: out of memory\n");
            exit(2);
        }
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

typedef struct receiver {
    CURL *easy;
    struct curl_slist *receive_headers, *delete_headers;
    buf request, answer;
    bool deleting;
    bool done;
} receiver;

static const char *queue_url;
static long received, deleted, requests;
static bool drained;

static size_t take(char *p, size_t size, size_t n, void *ctx)
{
    put(ctx, p, size * n);
    return size * n;
}

static struct curl_slist *headers_for(const char *action)
{
    char target[64];
    snprintf(target, sizeof target, "X-Amz-Target: AmazonSQS.%s", action);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.0");
    return curl_slist_append(h, target);
}

static void start(CURLM *multi, receiver *r)
{
    r->answer.len = 0;
    if (!r->deleting) {
        r->request.len = 0;
        puts_(&r->request, "{\"QueueUrl\":\"");
        puts_(&r->request, queue_url);
        puts_(&r->request, "\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,"
                           "\"AttributeNames\":[\"ApproximateReceiveCount\"],"
                           "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],"
                           "\"MessageAttributeNames\":[\"All\"]}");
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->deleting ? r->delete_headers : r->receive_headers);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->request.data);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->request.len);
    curl_multi_add_handle(multi, r->easy);
    requests++;
}

/* The receipt handles of a ReceiveMessage answer, as JSON string literals (copied as they are, escapes and all),
 * into a DeleteMessageBatch request. Returns how many. */
static int delete_request(receiver *r)
{
    buf *q = &r->request;
    q->len = 0;
    puts_(q, "{\"QueueUrl\":\"");
    puts_(q, queue_url);
    puts_(q, "\",\"Entries\":[");
    static const char key[] = "\"ReceiptHandle\":\"";
    int n = 0;
    const char *p = r->answer.data ? r->answer.data : "";
    while ((p = strstr(p, key)) != NULL && n < BATCH) {
        p += sizeof key - 1;
        const char *e = p;
        while (*e && *e != '"')
            e += *e == '\\' && e[1] ? 2 : 1;
        char id[32];
        snprintf(id, sizeof id, "%s{\"Id\":\"%d\",\"ReceiptHandle\":\"", n ? "," : "", n);
        puts_(q, id);
        put(q, p, (size_t)(e - p));
        puts_(q, "\"}");
        n++;
        p = e;
    }
    puts_(q, "]}");
    return n;
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *region = "us-east-1";
    int n = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--endpoint") == 0)
            endpoint = argv[i + 1];
        else if (strcmp(argv[i], "--queue") == 0)
            queue_url = argv[i + 1];
        else if (strcmp(argv[i], "--receivers") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--region") == 0)
            region = argv[i + 1];
    }
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!endpoint || !queue_url || n < 1 || n > MAX_RECEIVERS || !id || !secret) {
        fprintf(stderr, "usage: floor_sqs --endpoint URL --queue QUEUE_URL [--receivers 1..%d] [--region R]\n"
                        "(with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set)\n", MAX_RECEIVERS);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char sigv4[96], userpwd[512];
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:sqs", region);
    snprintf(userpwd, sizeof userpwd, "%s:%s", id, secret);
    CURLM *multi = curl_multi_init();
    static receiver rs[MAX_RECEIVERS];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        receiver *r = &rs[i];
        r->easy = curl_easy_init();
        r->receive_headers = headers_for("ReceiveMessage");
        r->delete_headers = headers_for("DeleteMessageBatch");
        curl_easy_setopt(r->easy, CURLOPT_URL, endpoint);
        curl_easy_setopt(r->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(r->easy, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(r->easy, CURLOPT_USERPWD, userpwd);
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, take);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &r->answer);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
        start(multi, r);
    }
    int running = n, failed = 0;
    while (running > 0) {
        int still;
        curl_multi_perform(multi, &still);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            receiver *r;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            long status = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            curl_multi_remove_handle(multi, m->easy_handle);
            if (m->data.result != CURLE_OK || status != 200) {
                fprintf(stderr, "floor_sqs: %s failed: %s, HTTP %ld: %.300s\n", r->deleting ? "delete" : "receive",
                        curl_easy_strerror(m->data.result), status, r->answer.data ? r->answer.data : "");
                failed++;
                r->done = true;
                running--;
                continue;
            }
            if (r->deleting) {
                deleted += count(r->answer.data, "\"Id\"") - count(r->answer.data, "\"Code\"");
                r->deleting = false;
                if (drained) {
                    r->done = true;
                    running--;
                    continue;
                }
            } else {
                int got = delete_request(r);
                received += got;
                if (got == 0) {
                    drained = true; /* as levee pull --drain: a receive that finds the queue empty ends it */
                    r->done = true;
                    running--;
                    continue;
                }
                r->deleting = true;
            }
            start(multi, r);
        }
        if (running > 0)
            curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("{\"received\":%ld,\"deleted\":%ld,\"requests\":%ld,\"failed\":%d,\"seconds\":%.3f}\n", received, deleted,
           requests, failed, secs);
    for (int i = 0; i < n; i++) {
        curl_easy_cleanup(rs[i].easy);
        curl_slist_free_all(rs[i].receive_headers);
        curl_slist_free_all(rs[i].delete_headers);
        free(rs[i].request.data);
        free(rs[i].answer.data);
    }
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
