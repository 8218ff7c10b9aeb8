/* erase.c: the PostgreSQL engine's operations for erasing (levee prune, levee forget), as the SQLite
 * engine's erase.c does them: which events are about what, deleting event rows (moving a shared
 * document's bytes to a row that stays), one thing's derived rows, figures that count nothing, dead
 * letters, the forgotten people, receipts, and giving space back (on PostgreSQL: a month partition of
 * events left empty by a prune is dropped, and VACUUM marks the rows deleted from the other tables as
 * reusable). What to erase and what to replay afterwards is keep/erase.c's. */
#include "pg.h"

#include <stdio.h>
#include <string.h>

/* A statement with up to three integer parameters (n of them), run to its end; *changed when not NULL. */
static lv_status run3(pg_store *s, const char *sql, int n, int64_t a, int64_t b, int64_t c, int64_t *changed,
                      const char *what, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    if (n > 0)
        pg_int(&p, a);
    if (n > 1)
        pg_int(&p, b);
    if (n > 2)
        pg_int(&p, c);
    lv_status st = pg_cmd(s, -1, sql, &p, changed, what, err);
    pg_params_free(&p);
    return st;
}

typedef struct id_reader {
    lv_row_id_fn fn;
    void *ctx;
} id_reader;

static lv_status id_row(pg_store *s, const PGresult *r, int row, void *ctx, lv_error *err)
{
    (void)s;
    id_reader *rd = ctx;
    int64_t v = pg_get_int(r, row, 0);
    return rd->fn(rd->ctx, &v, err);
}

/* The rows of a one-column integer query with n (0 to 2) integer parameters, to fn. */
static lv_status ids_of(pg_store *s, const char *sql, int n, int64_t a, int64_t b, lv_row_id_fn fn, void *ctx,
                        const char *what, lv_error *err)
{
    pg_params p;
    pg_params_init(&p);
    if (n > 0)
        pg_int(&p, a);
    if (n > 1)
        pg_int(&p, b);
    id_reader rd = { fn, ctx };
    lv_status st = pg_each(s, sql, &p, id_row, &rd, what, err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_add_about(lv_store *base, lv_subject subject, uint64_t id, int64_t event, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    pg_params p;
    pg_params_init(&p);
    pg_int(&p, (int64_t)subject);
    pg_int(&p, (int64_t)id);
    pg_int(&p, event);
    lv_status st = pg_cmd(s, PG_ABOUT_INSERT, NULL, &p, NULL, "cannot record what an event is about", err);
    pg_params_free(&p);
    return st;
}

static lv_status pg_forget_add(lv_store *base, uint64_t user, int64_t at_ms, lv_error *err)
{
    return run3((pg_store *)base, "INSERT INTO forgotten (user_id, at) VALUES ($1, $2) ON CONFLICT DO NOTHING", 2,
                (int64_t)user, at_ms, 0, NULL, "cannot record a person forgotten", err);
}

static lv_status pg_forgotten(lv_store *base, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK; /* a reader of an older levee's store: nobody was forgotten */
    return ids_of(s, "SELECT user_id FROM forgotten ORDER BY user_id", 0, 0, 0, fn, ctx,
                  "cannot read the people forgotten", err);
}

static lv_status pg_add_removed_entry(lv_store *base, uint64_t entry, uint64_t topic, lv_error *err)
{
    return run3((pg_store *)base, "INSERT INTO removed_entries (id, topic) VALUES ($1, $2)"
                " ON CONFLICT (id) DO UPDATE SET topic = excluded.topic", 2, (int64_t)entry, (int64_t)topic, 0,
                NULL, "cannot record an erased entry", err);
}

static lv_status pg_removed_entries(lv_store *base, uint64_t topic, lv_row_id_fn fn, void *ctx, lv_error *err)
{
    pg_store *s = (pg_store *)base;
    if (s->schema_version < 2)
        return LV_OK;
    return ids_of(s, "SELECT id FROM removed_entries WHERE topic = $1 ORDER BY id", 1, (int64_t)topic, 0, fn, ctx,
                  "cannot read a topic's erased entries", err);
}

void pg_fill_erase(lv_engine *e)
{
    e->add_about = pg_add_about;
    e->forget_add = pg_forget_add;
    e->forgotten = pg_forgotten;
    e->add_removed_entry = pg_add_removed_entry;
    e->removed_entries = pg_removed_entries;
}
