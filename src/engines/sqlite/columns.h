/* columns.h: a result column as the engine's values (lv_opt, lv_str), for the reads (read.c,
 * search.c, export.c). Private to src/engines/sqlite/. */
#ifndef LEVEE_SQLITE_COLUMNS_H
#define LEVEE_SQLITE_COLUMNS_H

#include "sqlite.h"

/* NULL is not set. */
static inline lv_opt sq_column_opt(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return (lv_opt){ 0, false };
    return lv_some(sqlite3_column_int64(st, col));
}

/* NULL has p NULL; otherwise p is NUL-terminated and valid until the statement steps again. */
static inline lv_str sq_column_str(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return (lv_str){ NULL, 0 };
    const char *p = (const char *)sqlite3_column_text(st, col);
    return (lv_str){ p ? p : "", (size_t)sqlite3_column_bytes(st, col) };
}

#endif
