/* batch.c: documents on their way into a store. Adding a document copies and decodes it; preparing
 * a batch computes each event's dedupe key (a hash of its canonical record), compresses the raw
 * document and extracts the visible text that search indexes. Preparing needs no store, so ingest
 * and the server do it on worker threads while the store's single writer stores the previous batch. */
#include "keep.h"

#include "levee/crypto.h"
#include "levee/text.h"

#include <stdlib.h>
#include <string.h>

lv_batch *lv_batch_new(void)
{
    lv_batch *b = lv_xcalloc(1, sizeof *b);
    lv_arena_init(&b->arena, 1 << 20);
    lv_buf_init(&b->scratch);
    lv_buf_init(&b->zbuf);
    return b;
}

void lv_batch_free(lv_batch *b)
{
    if (!b)
        return;
    lv_arena_free(&b->arena);
    lv_buf_free(&b->scratch);
    lv_buf_free(&b->zbuf);
    free(b->docs);
    free(b);
}

void lv_batch_reset(lv_batch *b)
{
    lv_arena_reset(&b->arena);
    b->n_docs = 0;
    b->n_events = 0;
}

size_t lv_batch_docs(const lv_batch *b)
{
    return b->n_docs;
}

size_t lv_batch_events(const lv_batch *b)
{
    return b->n_events;
}

static lv_batch_doc *new_doc(lv_batch *b, const char *source, long line)
{
    lv_vec_reserve((void **)&b->docs, &b->cap_docs, b->n_docs + 1, sizeof *b->docs, 256);
    lv_batch_doc *d = lv_arena_zalloc(&b->arena, sizeof *d);
    d->source = source ? lv_arena_strndup(&b->arena, source, strlen(source)) : "";
    d->line = line;
    b->docs[b->n_docs++] = d;
    return d;
}

static void finish_doc(lv_batch *b, lv_batch_doc *d)
{
    size_t n = d->doc.n_events;
    d->hash = lv_arena_zalloc(&b->arena, n * sizeof *d->hash);
    d->search_title = lv_arena_zalloc(&b->arena, n * sizeof *d->search_title);
    d->search_text = lv_arena_zalloc(&b->arena, n * sizeof *d->search_text);
    d->outcome = lv_arena_zalloc(&b->arena, n * sizeof *d->outcome);
    b->n_events += n;
}

const lv_doc *lv_batch_add(lv_batch *b, const char *text, size_t len, const char *source, long line,
                           const lv_decode_options *opt)
{
    lv_batch_doc *d = new_doc(b, source, line);
    char *copy = lv_arena_alloc(&b->arena, len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    lv_decode(&b->arena, copy, len, opt, &d->doc);
    /* what is kept is what was decoded: the copy, or the document redacted (opt->redact) */
    d->text = d->doc.text;
    d->len = d->doc.len;
    finish_doc(b, d);
    return &d->doc;
}

lv_status lv_batch_add_next(lv_batch *b, lv_reader *r, const lv_decode_options *opt, lv_error *err)
{
    lv_chunk chunk;
    lv_status st = lv_reader_next(r, &chunk, err);
    if (st != LV_OK)
        return st;
    const char *source = lv_reader_name(r);
    if (chunk.too_big) {
        lv_batch_add_oversized(b, chunk.len, lv_reader_limit(r), source, chunk.line);
        return LV_OK;
    }
    const lv_doc *doc = lv_batch_add(b, chunk.text, chunk.len, source, chunk.line, opt);
    if (doc->not_json && chunk.line_framed) {
        /* the line was not one document: drop it and frame it properly */
        b->n_docs--;
        b->n_events -= doc->n_events;
        if ((st = lv_reader_reframe(r, &chunk, err)) != LV_OK)
            return st;
        if (chunk.too_big)
            lv_batch_add_oversized(b, chunk.len, lv_reader_limit(r), source, chunk.line);
        else
            lv_batch_add(b, chunk.text, chunk.len, source, chunk.line, opt);
    }
    return LV_OK;
}

const lv_doc *lv_batch_add_oversized(lv_batch *b, size_t len, size_t limit, const char *source,
                                     long line)
{
    lv_batch_doc *d = new_doc(b, source, line);
    d->oversized = true;
    d->len = len;
    lv_decode_oversized(&b->arena, len, limit, &d->doc);
    finish_doc(b, d);
    return &d->doc;
}

void lv_batch_set_received(lv_batch *b, int64_t received_ms)
{
    if (b->n_docs)
        b->docs[b->n_docs - 1]->received_ms = received_ms;
}

const lv_doc *lv_batch_doc_at(const lv_batch *b, size_t i)
{
    return i < b->n_docs ? &b->docs[i]->doc : NULL;
}

lv_outcome lv_batch_outcome(const lv_batch *b, size_t doc, size_t event)
{
    if (doc >= b->n_docs || event >= b->docs[doc]->doc.n_events)
        return LV_OUT_PENDING;
    return b->docs[doc]->outcome[event];
}

static lv_status sha256_16(const void *data, size_t len, unsigned char out[LV_HASH_BYTES], lv_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (lv_crypto()->EVP_Digest(data, len, md, &md_len, lv_crypto()->EVP_sha256(), NULL) != 1 || md_len < LV_HASH_BYTES)
        return lv_fail(err, LV_EINTERNAL, "libcrypto could not compute a dedupe key (SHA-256)");
    memcpy(out, md, LV_HASH_BYTES);
    return LV_OK;
}

lv_status lv_batch_old_key(lv_batch *b, const lv_batch_doc *d, size_t e, unsigned char out[LV_HASH_BYTES],
                           lv_error *err)
{
    const lv_event *ev = &d->doc.events[e];
    if (ev->kind && !ev->unknown_fields) {
        memcpy(out, d->hash[e], LV_HASH_BYTES);
        return LV_OK;
    }
    lv_buf_reset(&b->scratch);
    lv_event_identity_v6(ev, &b->scratch);
    return sha256_16(b->scratch.data, b->scratch.len, out, err);
}

static const char *visible_text(lv_batch *b, const lv_value *v)
{
    if (!v || v->state != LV_SET || v->len == 0)
        return NULL;
    lv_buf_reset(&b->scratch);
    lv_html_to_text(v->str, v->len, &b->scratch);
    return lv_arena_strndup(&b->arena, b->scratch.data ? b->scratch.data : "", b->scratch.len);
}

static lv_status prepare(lv_batch *b, lv_zctx *z, const lv_dict *dict, bool compress, lv_error *err);

lv_status lv_batch_prepare(lv_batch *b, lv_zctx *z, const lv_dict *dict, lv_error *err)
{
    return prepare(b, z, dict, true, err);
}

lv_status lv_batch_prepare_keys(lv_batch *b, lv_error *err)
{
    return prepare(b, NULL, NULL, false, err);
}

static lv_status prepare(lv_batch *b, lv_zctx *z, const lv_dict *dict, bool compress, lv_error *err)
{
    lv_status loaded = lv_crypto_load(err);
    if (loaded != LV_OK)
        return loaded;
    lv_status st;
    for (size_t i = 0; i < b->n_docs; i++) {
        lv_batch_doc *d = b->docs[i];
        if (d->text && compress) {
            st = lv_compress(z, dict, d->text, d->len, &b->zbuf, err);
            if (st != LV_OK)
                return st;
            d->zraw = lv_arena_strndup(&b->arena, b->zbuf.data, b->zbuf.len);
            d->zlen = b->zbuf.len;
            d->dict_id = dict ? lv_dict_id(dict) : 0;
        }
        /* a document kept as a dead letter is the same when its bytes are */
        bool events = false, dead = !d->text;
        for (size_t e = 0; e < d->doc.n_events; e++) {
            dead |= d->doc.events[e].rejected;
            events |= !d->doc.events[e].is_entity;
        }
        if (dead || !events) {
            lv_buf_reset(&b->scratch);
            lv_buf_printf(&b->scratch, "dead#%zu#", d->len);
            if (d->text)
                lv_buf_append(&b->scratch, d->text, d->len);
            if ((st = sha256_16(b->scratch.data, b->scratch.len, d->dead_hash, err)) != LV_OK)
                return st;
        }
        for (size_t e = 0; e < d->doc.n_events; e++) {
            const lv_event *ev = &d->doc.events[e];
            if (ev->rejected || ev->is_entity || !d->text)
                continue;
            lv_buf_reset(&b->scratch);
            lv_event_identity(ev, &b->scratch);
            if ((st = sha256_16(b->scratch.data, b->scratch.len, d->hash[e], err)) != LV_OK)
                return st;
            if (ev->kind && ev->kind->family == LV_FAMILY_DISCUSSION) {
                d->search_title[e] = visible_text(b, lv_event_body(ev, LV_B_TITLE));
                const lv_value *text = lv_event_body(ev, LV_B_TEXT);
                d->search_text[e] = visible_text(b, text->state != LV_ABSENT ? text : lv_event_body(ev, LV_B_BODY));
            }
        }
    }
    return LV_OK;
}
