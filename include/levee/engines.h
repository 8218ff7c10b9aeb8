/* levee/engines.h (stage: engines): opening a store. The location says which engine keeps it: a
 * file path is the embedded SQLite engine (created, with its schema, when absent and allowed);
 * postgres:// and postgresql:// URLs and libpq's keyword/value strings ("host=... dbname=...") are the
 * PostgreSQL engine's (src/engines/pg/). */
#ifndef LEVEE_ENGINES_H
#define LEVEE_ENGINES_H

#include "levee/store.h"

/* Opens a store (opt NULL: create when absent, read and write). A long-lived reader maps the file
 * and keeps a large page cache; a one-shot reader reads pages through a small cache it reuses,
 * because every page of memory a new process touches must first be mapped, which costs more than
 * reading the page again (docs/architecture.md, "The service"). A store that is damaged says so
 * (LV_EDAMAGED), naming the file. */
lv_status lv_store_open(const char *location, const lv_store_options *opt, lv_store **out,
                        lv_error *err);

/* The embedded engine, directly. */
lv_status lv_sqlite_open(const char *path, const lv_store_options *opt, lv_store **out, lv_error *err);
/* The PostgreSQL engine, directly: location is any libpq connection string or URI; libpq is loaded on
 * first use (a levee without it still runs on SQLite). The store's location, as lv_store_location gives
 * it and every message says it, has no password. */
lv_status lv_pg_open(const char *location, const lv_store_options *opt, lv_store **out, lv_error *err);
/* Whether a location names a PostgreSQL database (so a command can tell before opening it). */
bool lv_store_is_postgresql(const char *location);
/* The location as it may be shown: with any password taken out (a malloc'd string). */
char *lv_store_location_redacted(const char *location);

#endif
