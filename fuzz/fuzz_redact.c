/* fuzz_redact.c: redaction at intake (levee/redact.h) and the scrubbing of secrets (lv_scrub_append) on arbitrary
 * bytes. A redacted document must parse, decode, and hold nothing more to remove (removing is idempotent);
 * hashing must give the same bytes twice; scrubbed text must hold no secret parameter. */
#include "levee/event.h"
#include "levee/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lv_redaction *removing, *hashing;

static void make_redactions(void)
{
    char path[] = "/tmp/levee-fuzz-redact-key-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, "fuzzing-key-0123456789abcdef\n", 29) != 29)
        abort();
    close(fd);
    lv_buf names;
    lv_buf_init(&names);
    lv_redaction_names(&names);
    lv_error err;
    if (lv_redaction_new(names.data, NULL, &removing, &err) != LV_OK ||
        lv_redaction_new("user_login,session_id,client_ip,url_query", path, &hashing, &err) != LV_OK)
        abort();
    unlink(path);
    lv_buf_free(&names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!removing)
        make_redactions();
    lv_arena a;
    lv_arena_init(&a, 8192);
    const char *text = (const char *)data;
    lv_doc doc;
    lv_decode_options opt = { .strict = false, .redact = removing };
    lv_decode(&a, text, size, &opt, &doc);
    if (doc.n_events == 0)
        abort();
    if (doc.text != text) {
        /* rewritten: valid JSON with nothing left to remove */
        lv_json *root;
        if (lv_json_parse_report(&a, doc.text, doc.len, LV_JSON_MAX_DEPTH, &root, &(lv_json_report){ 0 }, NULL) !=
            LV_OK)
            abort();
        lv_buf again;
        lv_buf_init(&again);
        if (lv_redact_json(removing, root, &again))
            abort();
        lv_buf_free(&again);
    }
    opt.redact = hashing;
    lv_doc one, two;
    lv_decode(&a, text, size, &opt, &one);
    lv_decode(&a, text, size, &opt, &two);
    if (one.len != two.len || (one.len && memcmp(one.text, two.text, one.len) != 0))
        abort();

    lv_buf scrubbed;
    lv_buf_init(&scrubbed);
    lv_scrub_append(&scrubbed, text, size);
    if (lv_scrub_needed(scrubbed.data ? scrubbed.data : "", scrubbed.len))
        abort();
    lv_buf_free(&scrubbed);
    lv_arena_free(&a);
    return 0;
}
