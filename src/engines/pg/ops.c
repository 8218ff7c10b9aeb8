/* ops.c: the PostgreSQL engine's operations for levee backup, check and rebuild (levee/engine.h): not done
 * yet; each says so in a sentence (LV_EUNSUPPORTED). On PostgreSQL, its own tools back up a store
 * (pg_dump, pg_basebackup: docs/operations.md). */
#include "pg.h"


static lv_status unsupported(lv_error *err, const char *what)
{
    return lv_fail(err, LV_EUNSUPPORTED, "%s is not done on PostgreSQL yet by this levee; use an SQLite store for it", what);
}

static lv_status pg_snapshot(lv_store *s, bool on, lv_error *err)
{
    (void)s;
    (void)on;
    return unsupported(err, "a read snapshot");
}

static lv_status pg_backup(lv_store *s, const char *to, lv_progress_fn progress, void *ctx, lv_store_size *at, lv_error *err)
{
    (void)s;
    (void)to;
    (void)progress;
    (void)ctx;
    (void)at;
    return unsupported(err, "levee backup (use pg_dump)");
}

static lv_status pg_integrity(lv_store *s, lv_problem_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)fn;
    (void)ctx;
    return unsupported(err, "levee check");
}

static lv_status pg_size(lv_store *s, lv_store_size *out, lv_error *err)
{
    (void)s;
    (void)out;
    return unsupported(err, "levee check");
}

static lv_status pg_stored_events(lv_store *s, lv_stored_event_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)fn;
    (void)ctx;
    return unsupported(err, "levee check");
}

static lv_status pg_stored_dead_letters(lv_store *s, lv_stored_dead_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)fn;
    (void)ctx;
    return unsupported(err, "levee check");
}

static lv_status pg_clear_derived(lv_store *s, lv_error *err)
{
    (void)s;
    return unsupported(err, "levee rebuild");
}

static lv_status pg_derived_rows(lv_store *s, lv_derived_table table, lv_derived_fn fn, void *ctx, lv_error *err)
{
    (void)s;
    (void)table;
    (void)fn;
    (void)ctx;
    return unsupported(err, "levee check");
}

void pg_fill_ops(lv_engine *e)
{
    e->snapshot = pg_snapshot;
    e->backup = pg_backup;
    e->integrity = pg_integrity;
    e->size = pg_size;
    e->stored_events = pg_stored_events;
    e->stored_dead_letters = pg_stored_dead_letters;
    e->clear_derived = pg_clear_derived;
    e->derived_rows = pg_derived_rows;
}
