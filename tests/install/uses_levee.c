/* uses_levee.c: a program built against an installed liblevee with nothing but
 * `pkg-config --cflags --libs levee` (tests/install/run.sh builds it shared and static). It decodes a
 * canvas event from a string, prints its name and Caliper id, and creates a store in the directory
 * given as its argument, then closes it.
 * usage: uses_levee DIR | uses_levee --event (prints the event it decodes) */
#include <levee/caliper.h>
#include <levee/common.h>
#include <levee/engines.h>
#include <levee/event.h>
#include <levee/store.h>

#include <stdio.h>
#include <string.h>

static const char entry[] =
    "{\"metadata\":{\"context_id\":\"21070000000000565\",\"context_role\":\"StudentEnrollment\","
    "\"context_type\":\"Course\",\"event_name\":\"discussion_entry_created\","
    "\"event_time\":\"2019-11-01T19:11:03.933Z\",\"producer\":\"canvas\","
    "\"root_account_id\":\"21070000000000001\",\"user_id\":\"21070000000098765\"},"
    "\"body\":{\"created_at\":\"2019-07-03T23:12:34Z\",\"discussion_entry_id\":\"2134567\","
    "\"discussion_topic_id\":\"123456\",\"text\":\"<p>test this discussion</p>\",\"user_id\":\"98765\"}}";

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR | --event\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "--event") == 0) {
        puts(entry);
        return 0;
    }
    lv_arena arena;
    lv_arena_init(&arena, 4096);
    lv_doc doc;
    lv_decode_options opt = { .strict = false };
    if (lv_decode(&arena, entry, strlen(entry), &opt, &doc) != LV_OK || doc.n_events != 1) {
        fprintf(stderr, "uses_levee: the event did not decode\n");
        return 1;
    }
    const lv_event *ev = &doc.events[0];
    printf("event: %.*s (%s)\n", (int)ev->name_len, ev->name,
           ev->format == LV_FORMAT_CANVAS ? "canvas" : "caliper");
    char id[LV_CALIPER_ID_MAX];
    lv_error err;
    if (lv_caliper_event_id(ev, id, &err) != LV_OK) {
        fprintf(stderr, "uses_levee: %s\n", err.msg);
        return 1;
    }
    printf("caliper id: %s\n", id);
    lv_arena_free(&arena);

    char path[4096];
    snprintf(path, sizeof path, "%s/uses_levee.db", argv[1]);
    lv_store *store;
    if (lv_store_open(path, NULL, &store, &err) != LV_OK) {
        fprintf(stderr, "uses_levee: %s\n", err.msg);
        return 1;
    }
    const char *where = lv_store_location(store);
    printf("store: opened %s\n", strcmp(where, path) == 0 ? "DIR/uses_levee.db" : where);
    lv_store_close(store);
    printf("store: closed\n");
    return 0;
}
