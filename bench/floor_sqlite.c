/* floor_sqlite.c: the floor `levee ingest` is measured against: the raw NDJSON lines inserted into a
 * one-column SQLite table as fast as SQLite goes: one prepared INSERT, the line bound without a copy,
 * 10,000 rows per transaction, WAL, synchronous=NORMAL. No parsing, no indexes, no compression.
 *
 * usage: floor_sqlite DB FILE      (FILE '-' for stdin)
 * Prints "floor_sqlite: N rows" to stderr. Built by `make bench` (bench/run.py builds it if missing).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum { BATCH = 10000 };

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "floor_sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
    exit(2);
}

static void exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        die(db, sql);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: floor_sqlite DB FILE\n");
        return 2;
    }
    FILE *in = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "rb");
    if (!in) {
        perror(argv[2]);
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(argv[1], &db) != SQLITE_OK)
        die(db, "cannot open the database");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=NORMAL");
    exec(db, "CREATE TABLE IF NOT EXISTS raw (line TEXT NOT NULL)");

    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO raw (line) VALUES (?1)", -1, &ins, NULL) != SQLITE_OK)
        die(db, "prepare");

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long long rows = 0;
    int in_batch = 0;
    while ((len = getline(&line, &cap, in)) != -1) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (in_batch == 0)
            exec(db, "BEGIN");
        sqlite3_bind_text(ins, 1, line, (int)len, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(ins);
        rows++;
        if (++in_batch == BATCH) {
            exec(db, "COMMIT");
            in_batch = 0;
        }
    }
    if (in_batch > 0)
        exec(db, "COMMIT");
    if (ferror(in)) {
        perror(argv[2]);
        return 2;
    }
    free(line);
    sqlite3_finalize(ins);
    if (sqlite3_close(db) != SQLITE_OK)
        die(db, "close");
    if (in != stdin)
        fclose(in);
    fprintf(stderr, "floor_sqlite: %lld rows\n", rows);
    return 0;
}
