/* rekey.c: the SQLite store's upgrade from schema 6 to 7, when levee's dedupe key became the hash of a
 * canonical identity (members the catalog does not know, and bodies outside the model, compared as
 * values: in name order, strings decoded, numbers by value). Only events outside the model or with
 * unknown members get another key. Each stored document is decoded again (keep/rekey.c), each such
 * event row gets its new key, and keeps its old one in webhook_hash, because webhook-id is made of it
 * and subscribers that already received the event deduplicate by that id. What else holds a key follows
 * it: topic versions, a topic's current version, and replays part-way through a millisecond whose
 * order of keys changed (they go back to the start of that millisecond: sent again, never skipped).
 * An event stored twice before, spelled two ways, now has one key for two rows: the first row takes
 * it, the second keeps its old key (it stays stored, as before; check, rebuild and erasure find it by
 * that key). One transaction with the rest of the upgrade: an interrupted one leaves schema 6. */
#include "sqlite.h"

#include <stdlib.h>
#include <string.h>

typedef struct rekeyed {
    int64_t id, time_ms;
    uint64_t topic; /* the topic whose version it is, else 0 */
    unsigned char old[LV_HASH_BYTES], now[LV_HASH_BYTES];
} rekeyed;
typedef LV_VEC(rekeyed) rekeyed_list;

/* Reads every event row with its document and lists the rows whose key changes. */
static lv_status find_rows(sq_store *s, lv_rekey *r, rekeyed_list *out, lv_error *err)
{
    sqlite3_stmt *st;
    lv_status rc = sq_prepare(s, "SELECT e.id, e.time, e.hash, coalesce(e.doc, e.id), d.raw, d.raw_len, d.dict"
                                 " FROM events e JOIN events d ON d.id = coalesce(e.doc, e.id) ORDER BY e.id",
                              &st, err);
    if (rc != LV_OK)
        return rc;
    int64_t holder = 0;
    bool changes = false, row = false;
    while ((rc = sq_step(s, st, &row, "cannot read the events to upgrade their keys", err)) == LV_OK && row) {
        int64_t doc = sqlite3_column_int64(st, 3);
        if (doc != holder) {
            holder = doc;
            lv_buf_reset(&s->raw);
            if ((rc = sq_document(s, st, 4, &s->raw, err)) != LV_OK ||
                (rc = lv_rekey_document(r, s->raw.data, s->raw.len, &changes, err)) != LV_OK)
                break;
        }
        if (!changes || sqlite3_column_bytes(st, 2) != LV_HASH_BYTES)
            continue;
        rekeyed k = { .id = sqlite3_column_int64(st, 0), .time_ms = sqlite3_column_int64(st, 1) };
        memcpy(k.old, sqlite3_column_blob(st, 2), LV_HASH_BYTES);
        if (lv_rekey_event(r, k.old, k.now, &k.topic) && memcmp(k.old, k.now, LV_HASH_BYTES) != 0)
            *lv_vec_push(out, 256) = k;
    }
    sqlite3_finalize(st);
    return rc;
}

static lv_status run(sq_store *s, sqlite3_stmt *st, int *changes, lv_error *err)
{
    lv_status rc = sq_exec_step(s, st, "cannot upgrade the store's keys", err);
    if (changes)
        *changes = sqlite3_changes(s->db);
    return rc;
}

static lv_status write_keys(sq_store *s, const rekeyed *rows, size_t n, lv_error *err)
{
    static const char *const sql[4] = {
        /* OR IGNORE: the new key is already another row's (the same event, stored twice before) */
        "UPDATE OR IGNORE events SET hash = ?2, webhook_hash = ?3 WHERE id = ?1",
        "UPDATE topic_versions SET hash = ?2 WHERE topic = ?3 AND event = ?1",
        "UPDATE topics SET version_hash = ?2 WHERE id = ?3 AND version_event = ?1",
        /* (time, hash) order changed within this millisecond: the replay walks all of it again */
        "UPDATE sub_replays SET at_time = ?1 - 1, at_hash = X'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' WHERE at_hash IS NOT NULL AND at_time = ?1",
    };
    sqlite3_stmt *st[4] = { 0 };
    lv_status rc = LV_OK;
    for (int i = 0; i < 4 && rc == LV_OK; i++)
        rc = sq_prepare(s, sql[i], &st[i], err);
    for (size_t i = 0; i < n && rc == LV_OK; i++) {
        const rekeyed *k = &rows[i];
        int changed = 0;
        sqlite3_bind_int64(st[0], 1, k->id);
        sqlite3_bind_blob(st[0], 2, k->now, LV_HASH_BYTES, SQLITE_STATIC);
        sqlite3_bind_blob(st[0], 3, k->old, LV_HASH_BYTES, SQLITE_STATIC);
        if ((rc = run(s, st[0], &changed, err)) != LV_OK || !changed)
            continue;
        for (int j = 1; j < 3 && rc == LV_OK && k->topic; j++) {
            sqlite3_bind_int64(st[j], 1, k->id);
            sqlite3_bind_blob(st[j], 2, k->now, LV_HASH_BYTES, SQLITE_STATIC);
            sqlite3_bind_int64(st[j], 3, (int64_t)k->topic);
            rc = run(s, st[j], NULL, err);
        }
        if (rc == LV_OK) {
            sqlite3_bind_int64(st[3], 1, k->time_ms);
            rc = run(s, st[3], NULL, err);
        }
    }
    for (int i = 0; i < 4; i++)
        sqlite3_finalize(st[i]);
    return rc;
}

lv_status sq_upgrade_v6(sq_store *s, lv_error *err)
{
    /* the writer's page cache (open.c sets it only after the upgrade): the transaction changes pages all
     * over the file, and a small cache would spill them to the log again and again */
    lv_status rc = sq_exec(s, "PRAGMA cache_size = -65536; BEGIN IMMEDIATE;"
                              " ALTER TABLE events ADD COLUMN webhook_hash BLOB", err);
    if (rc != LV_OK) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    lv_rekey *r = lv_rekey_new();
    rekeyed_list rows = { 0 };
    rc = find_rows(s, r, &rows, err);
    lv_rekey_free(r);
    if (rc == LV_OK)
        rc = write_keys(s, rows.items, rows.n, err);
    free(rows.items);
    if (rc == LV_OK)
        rc = sq_exec(s, "PRAGMA user_version = 7; COMMIT", err);
    if (rc != LV_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}
