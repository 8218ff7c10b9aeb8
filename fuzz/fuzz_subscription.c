/* fuzz_subscription.c: a subscription's settings on arbitrary bytes (src/deliver/spec.c). The first
 * byte chooses what the rest is:
 * - even: the options of an add (the JSON body of POST /api/subscriptions, what the CLI's flags
 *   become). Read by dl_spec_from_options: an accepted spec must come back the same from its stored
 *   form (written, parsed, written again: the same bytes), and its shown form must be JSON without
 *   the secrets, the key's path or the headers' values; then lv_sub_add on a temporary store must accept it too, answer valid JSON, show it and
 *   remove it. A refusal must say why.
 * - odd: a stored form, as the store holds it: dl_spec_parse must not crash, and what it reads must
 *   come back the same when written and parsed again.
 * sign_key may only name key.pem, which stands for a key made once in a temporary directory (any
 * other path is left out of the input: it could name a device that never ends). */
#include "../src/deliver/deliver.h"
#include "levee/engines.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lv_store *store;
static char dir[64], db[128], key_path[128];

static void cleanup(void)
{
    char p[160];
    if (store)
        lv_store_close(store);
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
    unlink(key_path);
    rmdir(dir);
}

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/levee-fuzz-sub-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(db, sizeof db, "%s/subs.db", dir);
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    EVP_PKEY *pkey = EVP_RSA_gen(2048);
    FILE *f = fopen(key_path, "w");
    if (!pkey || !f || PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 || fclose(f) != 0)
        abort();
    EVP_PKEY_free(pkey);
    lv_error err;
    if (lv_store_open(db, NULL, &store, &err) != LV_OK)
        abort();
    lv_store_set_bulk(store, true);
    atexit(cleanup);
}

static char *stored_text(const dl_spec *sp, bool stored)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_jw *w = lv_jw_new(&b, false);
    lv_jw_obj_open(w);
    dl_spec_write(sp, w, stored);
    lv_jw_obj_close(w);
    lv_jw_free(w);
    return lv_buf_detach(&b, NULL);
}

/* Written, parsed and written again: the same bytes. */
static void round_trip(const dl_spec *sp)
{
    char *text = stored_text(sp, true);
    dl_spec back;
    lv_error err;
    if (dl_spec_parse(text, strlen(text), &back, &err) != LV_OK) {
        fprintf(stderr, "a stored form levee wrote is refused: %s\n%s\n", err.msg, text);
        abort();
    }
    char *again = stored_text(&back, true);
    if (strcmp(text, again) != 0) {
        fprintf(stderr, "the stored form changed on a round trip:\n%s\n%s\n", text, again);
        abort();
    }
    free(again);
    dl_spec_free(&back);
    free(text);
}

/* key.pem becomes the harness's key; false for any other file name */
static bool only_our_key(lv_json *o)
{
    lv_json *k = (lv_json *)lv_json_get(o, "sign_key");
    if (!k || k->type == LV_JSON_NULL)
        return true;
    if (!lv_json_str_is(k, "key.pem"))
        return false;
    k->str = key_path;
    k->len = strlen(key_path);
    return true;
}

static void options(const char *text, size_t len)
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_json *o;
    lv_error err;
    if (lv_json_parse(&a, text, len, &o, &err) != LV_OK || !only_our_key(o)) {
        lv_arena_free(&a);
        return;
    }
    dl_spec sp;
    char *generated = NULL;
    lv_status rc = dl_spec_from_options(store, o, &sp, &generated, &err);
    if (rc != LV_OK) {
        if (!err.msg[0] || generated)
            abort(); /* a refusal says why, and keeps no secret */
        lv_arena_free(&a);
        return;
    }
    round_trip(&sp);
    /* shown: valid JSON, no secrets, no key path, header names without their values */
    char *shown = stored_text(&sp, false);
    lv_json *view;
    if (lv_json_parse(&a, shown, strlen(shown), &view, &err) != LV_OK || lv_json_get(view, "secrets") ||
        lv_json_get(view, "sign_key"))
        abort();
    const lv_json *headers = lv_json_get(view, "headers");
    for (const lv_json *h = headers ? headers->child : NULL; h; h = h->next)
        if (h->type != LV_JSON_STRING || memchr(h->str, ':', h->len))
            abort();
    free(shown);
    dl_spec_free(&sp);
    free(generated);

    /* the whole add: since and from_start are read there */
    lv_buf out;
    lv_buf_init(&out);
    lv_jw *w = lv_jw_new(&out, false);
    static unsigned adds;
    if (++adds % 1024 == 0 && lv_store_sync(store, &err) != LV_OK) /* bulk mode: keep the WAL small */
        abort();
    if (lv_sub_add(store, o, w, &err) == LV_OK) {
        lv_json *answer;
        const lv_json *id;
        if (lv_json_parse(&a, out.data, out.len, &answer, &err) != LV_OK || !(id = lv_json_get(answer, "id")) ||
            id->type != LV_JSON_NUMBER)
            abort();
        int64_t n = strtoll(id->str, NULL, 10);
        lv_buf_reset(&out);
        lv_jw_reset(w);
        if (lv_sub_show(store, n, w, &err) != LV_OK || lv_json_parse(&a, out.data, out.len, &answer, &err) != LV_OK ||
            lv_sub_remove(store, n, &err) != LV_OK)
            abort();
    } else if (!err.msg[0]) {
        abort();
    }
    lv_jw_free(w);
    lv_buf_free(&out);
    lv_arena_free(&a);
}

static void stored(const char *text, size_t len)
{
    dl_spec sp;
    lv_error err;
    if (dl_spec_parse(text, len, &sp, &err) != LV_OK) {
        if (!err.msg[0])
            abort();
        return;
    }
    round_trip(&sp);
    dl_spec_free(&sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store)
        setup();
    if (size < 1 || size > 65536)
        return 0;
    /* an exact-size copy: the parsers must not read past the bytes they were given */
    char *copy = malloc(size - 1 ? size - 1 : 1);
    memcpy(copy, data + 1, size - 1);
    if (data[0] % 2 == 0)
        options(copy, size - 1);
    else
        stored(copy, size - 1);
    free(copy);
    return 0;
}
