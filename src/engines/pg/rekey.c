/* rekey.c: the PostgreSQL store's upgrade from schema 3 to 4, when levee's dedupe key became the hash of
 * a canonical identity (as the SQLite engine's schema 7: sqlite/rekey.c says what changes and why). It
 * runs inside the schema transaction of pg_schema_ready, under its advisory lock: every stored document
 * is decoded again (keep/rekey.c), each event row whose key changes gets the new one and keeps the old
 * one in webhook_hash (webhook-id is made of it); topic versions, topics' current versions and replays
 * part-way through a millisecond follow; a row whose new key is already another row's (the same event
 * stored twice before, spelled two ways) keeps its old key. */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

typedef struct rekeyed {
    int64_t id, time_ms;
    uint64_t topic; /* the topic whose version it is, else 0 */
    unsigned char old[LV_HASH_BYTES], now[LV_HASH_BYTES];
} rekeyed;

typedef struct rekeyer {
    lv_rekey *r;
    int64_t holder;
    bool changes;
    LV_VEC(rekeyed) rows;
} rekeyer;

static lv_status see_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    rekeyer *k = ctx;
    int64_t doc = pg_get_int(r, row, 3);
    lv_status st;
    if (doc != k->holder) {
        k->holder = doc;
        lv_buf_reset(&s->raw);
        /* a row keeps its document's bytes, or follows the one that does */
        st = pg_isnull(r, row, 4) ? pg_event_document(&s->base, doc, &s->raw, err)
                                  : pg_document(s, r, row, 4, &s->raw, err);
        if (st != LV_OK || (st = lv_rekey_document(k->r, s->raw.data, s->raw.len, &k->changes, err)) != LV_OK)
            return st;
    }
    if (!k->changes)
        return LV_OK;
    if (!pg_get_bytes(r, row, 2, &s->hash) || s->hash.len != LV_HASH_BYTES)
        return LV_OK; /* not a key levee wrote: levee check names the row */
    rekeyed x = { .id = pg_get_int(r, row, 0), .time_ms = pg_get_int(r, row, 1) };
    memcpy(x.old, s->hash.data, LV_HASH_BYTES);
    if (lv_rekey_event(k->r, x.old, x.now, &x.topic) && memcmp(x.old, x.now, LV_HASH_BYTES) != 0)
        *lv_vec_push(&k->rows, 256) = x;
    return LV_OK;
}

static lv_status write_key(pg_store *s, const rekeyed *x, lv_error *err)
{
    static const char *const what = "cannot upgrade the store's keys";
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, x->id);
    pg_bytes(&p, x->now, LV_HASH_BYTES);
    pg_bytes(&p, x->old, LV_HASH_BYTES);
    pg_int(&p, x->time_ms);
    int64_t changed = 0;
    /* not when the new key is already another row's: the same event, stored twice before */
    lv_status st = pg_cmd(s, -1, "UPDATE events SET hash = $2, webhook_hash = $3 WHERE id = $1 AND time = $4"
                                 " AND NOT EXISTS (SELECT 1 FROM events o WHERE o.time = $4 AND o.hash = $2)",
                          &p, &changed, what, err);
    pg_params_free(&p);
    if (st != LV_OK || !changed)
        return st;
    if (x->topic) {
        pg_params_init(&p);
        pg_int(&p, x->id);
        pg_bytes(&p, x->now, LV_HASH_BYTES);
        pg_int(&p, (int64_t)x->topic);
        if ((st = pg_cmd(s, -1, "UPDATE topic_versions SET hash = $2 WHERE topic = $3 AND event = $1", &p, NULL, what,
                         err)) == LV_OK)
            st = pg_cmd(s, -1, "UPDATE topics SET version_hash = $2 WHERE id = $3 AND version_event = $1", &p, NULL,
                        what, err);
        pg_params_free(&p);
        if (st != LV_OK)
            return st;
    }
    /* the (time, hash) order changed within this millisecond: a replay there walks all of it again */
    pg_params_init(&p);
    pg_int(&p, x->time_ms);
    st = pg_cmd(s, -1, "UPDATE sub_replays SET at_time = $1::bigint - 1, at_hash = '\\xffffffffffffffffffffffffffffffff'"
                       " WHERE at_hash IS NOT NULL AND at_time = $1::bigint", &p, NULL, what, err);
    pg_params_free(&p);
    return st;
}

lv_status pg_upgrade_v3(pg_store *s, lv_error *err)
{
    lv_status st = pg_exec(s, "ALTER TABLE events ADD COLUMN webhook_hash bytea", "cannot upgrade the store's schema",
                           err);
    if (st != LV_OK)
        return st;
    rekeyer k = { .r = lv_rekey_new() };
    bool was = s->in_txn;
    s->in_txn = true; /* the schema's transaction: the read goes through a cursor inside it */
    st = pg_stream(s, "SELECT id, time, hash, coalesce(doc, id), raw, raw_len, dict FROM events ORDER BY id", NULL,
                   see_row, &k, "cannot read the events to upgrade their keys", err);
    s->in_txn = was;
    lv_rekey_free(k.r);
    for (size_t i = 0; st == LV_OK && i < k.rows.n; i++)
        st = write_key(s, &k.rows.items[i], err);
    free(k.rows.items);
    return st;
}
