/* fuzz_api.c: the JSON API's router and the parsers behind it (ids in paths, times, limits, what a
 * person types into a search) on arbitrary bytes, over a small store made once: every answer must be
 * one of the documented statuses with a body that is valid JSON, and a failed question must say why. */
#include "levee/api.h"
#include "levee/engines.h"
#include "levee/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARAMS 16

typedef struct params {
    char *names[MAX_PARAMS], *values[MAX_PARAMS];
    size_t n;
} params;

static const char *param(void *ctx, const char *name)
{
    params *p = ctx;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->names[i], name) == 0)
            return p->values[i];
    return NULL;
}

static const char events[] =
    "{\"metadata\":{\"root_account_id\":\"21070000000000001\",\"event_name\":\"discussion_topic_created\","
    "\"event_time\":\"2024-09-02T18:00:00.000Z\",\"user_id\":\"21070000000000001\",\"context_type\":\"Course\","
    "\"context_id\":\"21070000000000565\",\"context_role\":\"TeacherEnrollment\"},\"body\":{\"discussion_topic_id\":"
    "\"21070000000000005\",\"title\":\"Photosynthesis\",\"body\":\"<p>How do plants eat?</p>\",\"context_id\":\"565\","
    "\"context_type\":\"Course\",\"is_announcement\":false,\"workflow_state\":\"active\",\"updated_at\":"
    "\"2024-09-02T18:00:00Z\"}}\n"
    "{\"metadata\":{\"root_account_id\":\"21070000000000001\",\"event_name\":\"discussion_entry_created\","
    "\"event_time\":\"2024-09-02T19:00:00.000Z\",\"user_id\":\"21070000000000002\",\"context_type\":\"Course\","
    "\"context_id\":\"21070000000000565\",\"context_role\":\"StudentEnrollment\"},\"body\":{\"created_at\":"
    "\"2024-09-02T19:00:00Z\",\"discussion_entry_id\":\"7\",\"discussion_topic_id\":\"5\",\"text\":"
    "\"<p>sunlight and chlorophyll</p>\",\"user_id\":\"2\"}}\n";

static lv_store *store;

static void make_store(void)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/levee-fuzz-api-%d.db", (int)getpid());
    unlink(path);
    lv_error err;
    if (lv_store_open(path, NULL, &store, &err) != LV_OK)
        abort();
    lv_reader *r = lv_reader_open_memory(events, sizeof events - 1, "fuzz");
    lv_counts counts = { 0 };
    lv_ingest_options opt = { 0 };
    if (lv_ingest(store, &r, 1, &opt, &counts, &err) != LV_OK || counts.stored != 2)
        abort();
    lv_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        make_store();
    /* the input is a path, then after a NUL, "name=value" parameters separated by NULs */
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *path = copy, *end = copy + size;
    params p = { .n = 0 };
    for (char *q = path + strlen(path) + 1; q < end && p.n < MAX_PARAMS; q += strlen(q) + 1) {
        char *eq = strchr(q, '=');
        if (!eq)
            continue;
        *eq = '\0';
        p.names[p.n] = q;
        p.values[p.n++] = eq + 1;
    }
    lv_buf body;
    lv_buf_init(&body);
    int status = 0;
    lv_error err;
    lv_status st = lv_api_answer(store, path, param, &p, &body, &status, &err);
    if (status != 200 && status != 400 && status != 404 && status != 500 && status != 503)
        abort();
    if ((st == LV_OK) != (status == 200) || (st != LV_OK && !err.msg[0]))
        abort();
    lv_arena a;
    lv_arena_init(&a, 1 << 12);
    lv_json *root;
    if (lv_json_parse(&a, body.data ? body.data : "", body.len, &root, &err) != LV_OK)
        abort();
    lv_arena_free(&a);
    lv_buf_free(&body);
    free(copy);
    return 0;
}
