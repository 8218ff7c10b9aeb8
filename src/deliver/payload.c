/* payload.c: what one delivery sends: the event in the subscription's form (the bytes as received
 * when the form is the one it arrived in, converted otherwise), signed as a JWT or with Standard
 * Webhooks headers, and the headers every delivery carries (webhook-id, User-Agent, Content-Type). */
#include "deliver.h"

#include "levee/caliper.h"
#include "levee/crypto.h"
#include "levee/event.h"

#include <stdio.h>
#include <string.h>

void dl_request_init(dl_request *r)
{
    memset(r, 0, sizeof *r);
    lv_buf_init(&r->body);
    lv_buf_init(&r->headers);
}

void dl_request_free(dl_request *r)
{
    lv_buf_free(&r->body);
    lv_buf_free(&r->headers);
}

void dl_webhook_id(int64_t id, const unsigned char *hash, char out[64])
{
    static const char hex[] = "0123456789abcdef";
    int n = snprintf(out, 64, "msg_%lld_", (long long)id);
    for (int i = 0; i < LV_HASH_BYTES && n + 2 < 64; i++) {
        out[n++] = hex[hash[i] >> 4];
        out[n++] = hex[hash[i] & 15];
    }
    out[n < 64 ? n : 63] = '\0';
}

/* The event of the document that the row is (documents of several events: a Caliper envelope). */
static const lv_event *find_event(const lv_doc *doc, const lv_event_ref *ref, lv_error *err)
{
    const lv_event *only = NULL;
    size_t events = 0;
    for (size_t i = 0; i < doc->n_events; i++)
        if (!doc->events[i].is_entity && !doc->events[i].rejected) {
            only = &doc->events[i];
            events++;
        }
    if (events == 1)
        return only;
    lv_buf id;
    lv_buf_init(&id);
    const lv_event *found = NULL;
    /* by its key; then by the key levee gave before store schema 7, which a row keeps when its event
     * had been stored twice, spelled two ways, before the upgrade */
    for (int old = 0; old < 2 && !found; old++)
        for (size_t i = 0; !found && i < doc->n_events; i++) {
            const lv_event *ev = &doc->events[i];
            if (ev->is_entity || ev->rejected || (old && ev->kind && !ev->unknown_fields))
                continue;
            lv_buf_reset(&id);
            if (old)
                lv_event_identity_v6(ev, &id);
            else
                lv_event_identity(ev, &id);
            unsigned char md[EVP_MAX_MD_SIZE];
            unsigned int md_len = 0;
            if (lv_crypto()->EVP_Digest(id.data, id.len, md, &md_len, lv_crypto()->EVP_sha256(), NULL) == 1 &&
                md_len >= LV_HASH_BYTES && memcmp(md, ref->hash, LV_HASH_BYTES) == 0)
                found = ev;
        }
    lv_buf_free(&id);
    if (!found)
        lv_fail(err, LV_EDAMAGED, "event %lld is not in the document stored for it: the store is damaged",
                (long long)ref->id);
    return found;
}

/* The envelope doc came in, its data holding ev and the entities only (not the other events). */
static void write_own_envelope(const lv_doc *doc, const lv_event *ev, lv_jw *w)
{
    lv_jw_obj_open(w);
    for (const lv_json *m = doc->root->child; m; m = m->next) {
        lv_jw_keyn(w, m->key, m->key_len);
        if (!lv_json_key_is(m, "data") || m->type != LV_JSON_ARRAY) {
            lv_jw_value(w, m);
            continue;
        }
        lv_jw_arr_open(w);
        for (const lv_json *item = m->child; item; item = item->next) {
            bool other_event = false;
            for (size_t i = 0; i < doc->n_events; i++)
                if (doc->events[i].json == item && &doc->events[i] != ev && !doc->events[i].is_entity)
                    other_event = true;
            if (!other_event)
                lv_jw_value(w, item);
        }
        lv_jw_arr_close(w);
    }
    lv_jw_obj_close(w);
}

/* The payload in the subscription's form, into body (or r->skip with why). */
static lv_status write_form(const dl_spec *sp, const lv_doc *doc, const lv_event *ev, const lv_event_ref *ref,
                            lv_arena *arena, dl_request *r, lv_error *err)
{
    size_t events = 0;
    for (size_t i = 0; i < doc->n_events; i++)
        events += !doc->events[i].is_entity;
    bool whole = events == 1; /* the document is this one event: its bytes can go as they came */
    lv_jw *w = lv_jw_new(&r->body, false);
    lv_status rc = LV_OK;
    switch (sp->form) {
    case DL_FORM_CANVAS:
        if (ev->format == LV_FORMAT_CANVAS && whole) {
            lv_buf_append(&r->body, doc->text, doc->len);
        } else if (!ev->kind) {
            r->skip = true;
            snprintf(r->skip_why, sizeof r->skip_why, "%.*s is outside the model: it has no canvas form",
                     (int)ev->name_len, ev->name);
        } else {
            rc = lv_canvas_write_event(ev, w, err);
        }
        break;
    case DL_FORM_CALIPER:
        if (ev->format == LV_FORMAT_CALIPER && whole && doc->envelope) {
            lv_buf_append(&r->body, doc->text, doc->len);
        } else if (ev->format == LV_FORMAT_CALIPER && doc->envelope) {
            /* one of several events of an envelope: itself as received (its id, its every property,
             * converting would make another id), in the envelope it came in, with the entities */
            write_own_envelope(doc, ev, w);
        } else if (!ev->kind || !ev->kind->caliper) {
            r->skip = true;
            snprintf(r->skip_why, sizeof r->skip_why, "%.*s has no Caliper form", (int)ev->name_len, ev->name);
        } else {
            rc = lv_caliper_write_envelope(ev, arena, w, err);
        }
        break;
    case DL_FORM_RECORD:
        lv_record_write(w, ev);
        break;
    }
    lv_jw_free(w);
    (void)ref;
    return rc;
}

static void header(dl_request *r, const char *name, const char *value)
{
    lv_buf_printf(&r->headers, "%s: %s\n", name, value);
}

/* webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body> for each secret still valid. */
static lv_status sign_webhook(const dl_spec *sp, const char *msg_id, int64_t now_ms, dl_request *r, lv_error *err)
{
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)(now_ms / 1000));
    header(r, "webhook-timestamp", ts);
    lv_buf content, sigs;
    lv_buf_init(&content);
    lv_buf_init(&sigs);
    lv_buf_printf(&content, "%s.%s.", msg_id, ts);
    lv_buf_append(&content, r->body.data ? r->body.data : "", r->body.len);
    lv_status rc = LV_OK;
    for (size_t i = 0; rc == LV_OK && i < sp->n_secrets; i++) {
        const dl_secret *sec = &sp->secrets[i];
        if (sec->expires_ms && sec->expires_ms <= now_ms)
            continue;
        const char *b64 = sec->secret + 6; /* after whsec_ */
        unsigned char key[96];
        int klen = lv_crypto()->EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64));
        if (klen < 0) {
            rc = lv_fail(err, LV_EDAMAGED, "a subscription's secret in the store is not base64: the store is damaged");
            break;
        }
        size_t len = strlen(b64);
        klen -= (len > 0 && b64[len - 1] == '=') + (len > 1 && b64[len - 2] == '='); /* DecodeBlock counts padding */
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (!lv_crypto()->HMAC(lv_crypto()->EVP_sha256(), key, klen, (const unsigned char *)content.data, content.len,
                               mac, &mac_len)) {
            rc = lv_fail(err, LV_EINTERNAL, "libcrypto could not compute a webhook signature (HMAC-SHA256)");
            break;
        }
        char out[EVP_MAX_MD_SIZE * 2];
        int n = lv_crypto()->EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
        lv_buf_printf(&sigs, "%sv1,%.*s", sigs.len ? " " : "", n, out);
    }
    if (rc == LV_OK && sigs.len)
        header(r, "webhook-signature", sigs.data);
    lv_buf_free(&content);
    lv_buf_free(&sigs);
    return rc;
}

lv_status dl_request_build(const dl_spec *sp, int64_t id, const lv_event_ref *ref, const lv_sign_key *key,
                           int64_t now_ms, dl_request *r, lv_error *err)
{
    lv_buf_reset(&r->body);
    lv_buf_reset(&r->headers);
    r->skip = false;
    r->skip_why[0] = '\0';
    lv_status rc = lv_crypto_load(err);
    if (rc != LV_OK)
        return rc;
    if (sp->form == DL_FORM_CANVAS && ref->format == LV_FORMAT_CANVAS) {
        /* a canvas document is one event: its bytes go as they came, with nothing to decode */
        lv_buf_append(&r->body, ref->doc.p, ref->doc.n);
    } else {
        lv_arena arena;
        lv_arena_init(&arena, 1 << 15);
        lv_doc doc;
        lv_decode(&arena, ref->doc.p, ref->doc.n, NULL, &doc);
        const lv_event *ev = find_event(&doc, ref, err);
        if (!ev)
            rc = LV_EDAMAGED;
        if (rc == LV_OK)
            rc = write_form(sp, &doc, ev, ref, &arena, r, err);
        lv_arena_free(&arena);
    }
    if (rc != LV_OK || r->skip)
        return rc;
    if (key) {
        lv_buf jwt;
        lv_buf_init(&jwt);
        rc = lv_jwt_sign(key, r->body.data, r->body.len, now_ms / 1000, 3600, &jwt, err);
        if (rc == LV_OK) {
            lv_buf_free(&r->body);
            r->body = jwt;
        } else {
            lv_buf_free(&jwt);
            return rc;
        }
    }
    char msg_id[64];
    dl_webhook_id(id, ref->webhook_hash ? ref->webhook_hash : ref->hash, msg_id);
    header(r, "Content-Type", key ? "application/jwt" : "application/json");
    header(r, "User-Agent", "levee/" LV_VERSION);
    header(r, "webhook-id", msg_id);
    if (sp->n_secrets && (rc = sign_webhook(sp, msg_id, now_ms, r, err)) != LV_OK)
        return rc;
    for (size_t i = 0; i < sp->n_headers; i++)
        lv_buf_printf(&r->headers, "%s\n", sp->headers[i]);
    return LV_OK;
}
