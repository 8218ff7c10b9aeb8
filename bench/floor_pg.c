/* floor_pg.c: the floor `levee ingest` on PostgreSQL is measured against (issue 14): the raw NDJSON lines
 * sent with COPY ... FROM STDIN (binary format, so no line needs escaping) into a one-column table made
 * anew, in one transaction, through libpq. No parsing, no indexes, no compression, no deduplication.
 *
 * usage: floor_pg CONNINFO FILE      (FILE '-' for stdin)
 *        floor_pg --connect CONNINFO (connects, runs SELECT 1, exits: what any question asked by a new
 *                                     process costs before its own statements, for the query table)
 *        floor_pg --indexed CONNINFO FILE
 *                                    (the least a searchable, deduplicated store asks of PostgreSQL: the
 *                                     same COPY into a staging table, then one INSERT ... SELECT into a
 *                                     table keyed as levee's events are, a unique key of each line's
 *                                     SHA-256 and an index of row ids, with the words of its title and
 *                                     text (a canvas event's body.title and body.message or body.body, as
 *                                     levee weighs them, HTML not stripped) in a tsvector column under a
 *                                     GIN index, ON CONFLICT DO NOTHING; all in the one transaction)
 * Prints "floor_pg: N rows" to stderr. Built by `make bench` (bench/pg.py).
 */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

enum { CHUNK = 1 << 20 };

static void die(PGconn *c, const char *what)
{
    fprintf(stderr, "floor_pg: %s: %s\n", what, c ? PQerrorMessage(c) : "out of memory");
    exit(2);
}

static void exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COPY_IN)
        die(c, sql);
    PQclear(r);
}

/* Appends n bytes to the chunk, sending it when full. */
static void put(PGconn *c, char *chunk, size_t *len, const void *p, size_t n)
{
    if (*len + n > CHUNK) {
        if (PQputCopyData(c, chunk, (int)*len) != 1)
            die(c, "COPY data");
        *len = 0;
    }
    if (n > CHUNK) {
        if (PQputCopyData(c, p, (int)n) != 1)
            die(c, "COPY data");
        return;
    }
    memcpy(chunk + *len, p, n);
    *len += n;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--connect") == 0) {
        PGconn *c = PQconnectdb(argv[2]);
        if (!c || PQstatus(c) != CONNECTION_OK)
            die(c, "connect");
        PGresult *r = PQexec(c, "SELECT 1");
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die(c, "SELECT 1");
        PQclear(r);
        PQfinish(c);
        return 0;
    }
    int indexed = argc == 4 && strcmp(argv[1], "--indexed") == 0;
    if (argc != 3 + indexed) {
        fprintf(stderr, "usage: floor_pg [--indexed] CONNINFO FILE\n");
        return 2;
    }
    const char *conninfo = argv[1 + indexed], *file = argv[2 + indexed];
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        perror(file);
        return 2;
    }
    PGconn *c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK)
        die(c, "connect");
    exec(c, "DROP TABLE IF EXISTS floor_raw");
    exec(c, "DROP TABLE IF EXISTS floor_indexed");
    exec(c, "BEGIN");
    if (indexed) {
        exec(c, "CREATE TEMP TABLE floor_raw (line text NOT NULL) ON COMMIT DROP");
        exec(c, "CREATE TABLE floor_indexed (id bigint GENERATED ALWAYS AS IDENTITY, hash bytea NOT NULL,"
                " line text NOT NULL, words tsvector NOT NULL)");
        exec(c, "CREATE UNIQUE INDEX floor_indexed_hash ON floor_indexed (hash)");
        exec(c, "CREATE INDEX floor_indexed_id ON floor_indexed (id)");
        exec(c, "CREATE INDEX floor_indexed_words ON floor_indexed USING gin (words)");
    } else {
        exec(c, "CREATE TABLE floor_raw (line text NOT NULL)");
    }
    exec(c, "COPY floor_raw FROM STDIN (FORMAT binary)");
    char *chunk = malloc(CHUNK);
    if (!chunk)
        die(NULL, "buffer");
    size_t len = 0;
    static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    put(c, chunk, &len, header, sizeof header);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long rows = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        uint16_t fields = htons(1);
        uint32_t size = htonl((uint32_t)n);
        put(c, chunk, &len, &fields, 2);
        put(c, chunk, &len, &size, 4);
        put(c, chunk, &len, line, (size_t)n);
        rows++;
    }
    uint16_t end = htons(0xffff);
    put(c, chunk, &len, &end, 2);
    if (len && PQputCopyData(c, chunk, (int)len) != 1)
        die(c, "COPY data");
    if (PQputCopyEnd(c, NULL) != 1)
        die(c, "COPY end");
    PGresult *r;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die(c, "COPY");
        PQclear(r);
    }
    if (indexed)
        exec(c, "INSERT INTO floor_indexed (hash, line, words)"
                " SELECT sha256(convert_to(line, 'UTF8')), line,"
                " setweight(to_tsvector('simple', coalesce(j #>> '{body,title}', '')), 'A') ||"
                " setweight(to_tsvector('simple', coalesce(j #>> '{body,message}', j #>> '{body,body}', '')), 'B')"
                " FROM (SELECT line, line::jsonb AS j FROM floor_raw) s ON CONFLICT (hash) DO NOTHING");
    exec(c, "COMMIT");
    fprintf(stderr, "floor_pg: %ld rows\n", rows);
    free(line);
    free(chunk);
    PQfinish(c);
    if (in != stdin)
        fclose(in);
    return 0;
}
