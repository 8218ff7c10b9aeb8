/* rekey.c: what an engine's upgrade to canonical identities (SQLite schema 7, PostgreSQL 4) asks of
 * keep: a stored document decoded again as a rebuild decodes it, and for each of its events the key
 * levee gave it before (lv_event_identity_v6) and the key it has now (lv_event_identity), so that the
 * engine can find each event row by its old key and write the new one. */
#include "keep.h"

#include <stdlib.h>
#include <string.h>

struct lv_rekey {
    lv_batch *b;
    unsigned char (*old)[LV_HASH_BYTES];
    size_t n, cap;
    bool *stored; /* per event: an event a store keeps (not rejected, not an entity) */
    size_t cap_stored;
};

lv_rekey *lv_rekey_new(void)
{
    lv_rekey *r = lv_xcalloc(1, sizeof *r);
    r->b = lv_batch_new();
    return r;
}

void lv_rekey_free(lv_rekey *r)
{
    if (!r)
        return;
    lv_batch_free(r->b);
    free(r->old);
    free(r->stored);
    free(r);
}

lv_status lv_rekey_document(lv_rekey *r, const char *bytes, size_t len, bool *changes, lv_error *err)
{
    *changes = false;
    r->n = 0;
    lv_batch_reset(r->b);
    static const lv_decode_options opt = { 0 };
    const lv_doc *doc = lv_batch_add(r->b, bytes ? bytes : "", len, "store", 0, &opt);
    lv_status st = lv_batch_prepare_keys(r->b, err);
    if (st != LV_OK)
        return st;
    const lv_batch_doc *d = r->b->docs[0];
    lv_vec_reserve((void **)&r->old, &r->cap, doc->n_events + 1, sizeof *r->old, 16);
    lv_vec_reserve((void **)&r->stored, &r->cap_stored, doc->n_events + 1, sizeof *r->stored, 16);
    for (size_t e = 0; e < doc->n_events; e++) {
        const lv_event *ev = &doc->events[e];
        r->stored[e] = !ev->rejected && !ev->is_entity;
        if (!r->stored[e])
            continue;
        if ((st = lv_batch_old_key(r->b, d, e, r->old[e], err)) != LV_OK)
            return st;
        *changes |= memcmp(r->old[e], d->hash[e], LV_HASH_BYTES) != 0;
    }
    r->n = doc->n_events;
    return LV_OK;
}

bool lv_rekey_event(const lv_rekey *r, const unsigned char *old, unsigned char now[LV_HASH_BYTES], uint64_t *topic)
{
    const lv_batch_doc *d = r->n ? r->b->docs[0] : NULL;
    *topic = 0;
    for (size_t e = 0; e < r->n; e++)
        if (r->stored[e] && memcmp(r->old[e], old, LV_HASH_BYTES) == 0) {
            const lv_event *ev = &d->doc.events[e];
            memcpy(now, d->hash[e], LV_HASH_BYTES);
            if (ev->kind && ev->kind->subject == LV_SUBJECT_TOPIC) /* as the projection finds its topic */
                *topic = lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID));
            return true;
        }
    return false;
}
