/* defer.c: the PostgreSQL engine's writes that need no answer and that no statement of the projection
 * reads back (what an event is about, search documents, messages, forwards, topic versions, the grading
 * ids of a known entry, conversations, figures), gathered per statement while a transaction runs and sent as one
 * multi-row statement each (INSERT ... SELECT FROM unnest(arrays)), queued in the pipeline (conn.c's
 * pg_queue) like any write that needs no answer. One statement for hundreds of rows spares the server
 * the parse, bind, executor start and partition routing it spends on each statement, which cost it
 * more than the rows themselves.
 *
 * What they write is read by nothing that runs before they are sent: conn.c hands every statement that
 * needs an answer to pg_defer_before, which sends the rows first unless the statement is one of those
 * listed in independent() (they touch none of these tables), and a commit sends them before it. A
 * rollback drops them.
 *
 * Conversations read in a transaction are held here too: get_conversation locked each one until the
 * transaction ends, so nobody else changes it meanwhile, and its row is what this transaction last
 * made of it; reading it again needs no statement, and its puts are deferred rows like the others (the
 * last one of an id wins). They are forgotten when a statement that is not listed in independent()
 * runs (it might change conversations: a rebuild's, an erasure's) and when the transaction ends.
 *
 * Rows travel as arrays in PostgreSQL's binary form, one per column (pg_rows, also used by write.c for a
 * batch of events or entries). */
#include "pg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A deferred write: its multi-row statement and the type of each column (i: an integer, sent as bigint;
 * t: text; b: bytea). */
static const struct {
    int stmt;
    const char *types;
    const char *what;
} kinds[PG_DEFER_COUNT] = {
    [PG_DEFER_ABOUT] = { PG_ABOUT_ROWS, "iii", "cannot record what an event is about" },
    [PG_DEFER_SEARCH] = { PG_SEARCH_ROWS, "iiitt", "cannot index text for search" },
    [PG_DEFER_MESSAGE] = { PG_MESSAGE_ROWS, "iiiiii", "cannot store a conversation message" },
    [PG_DEFER_FORWARD] = { PG_FORWARD_ROWS, "iiiii", "cannot store a conversation forward" },
    [PG_DEFER_VERSION] = { PG_VERSION_ROWS, "iiiib", "cannot store a topic version" },
    [PG_DEFER_GRADED] = { PG_GRADED_ROWS, "iii", "cannot store a discussion entry" },
    [PG_DEFER_ACTIVITY] = { PG_ACTIVITY_ROWS, "iiii", "cannot store figures" },
    [PG_DEFER_PARTICIPANT] = { PG_PARTICIPANT_ROWS, "iiiti", "cannot store figures" },
    [PG_DEFER_CONVERSATION] = { PG_CONVERSATION_ROWS, "iiii", "cannot store a conversation" },
};

/* A statement goes out once it holds this many rows or bytes (the rest wait for the next). */
#define MAX_ROWS 2000
#define MAX_BYTES (4u << 20)

/* A conversation read (and locked) in this transaction, as it is now. */
typedef struct held {
    bool used, found;
    lv_conversation_row row;
} held;

struct pg_deferred {
    pg_rows kinds[PG_DEFER_COUNT];
    size_t rows; /* in all kinds */
    held *held;  /* open addressing by id */
    size_t cap_held, n_held;
};

static void put_be32(lv_buf *b, uint32_t v)
{
    unsigned char x[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                           (unsigned char)v };
    lv_buf_append(b, x, 4);
}

static void set_be32(lv_buf *b, size_t at, uint32_t v)
{
    unsigned char *x = (unsigned char *)b->data + at;
    x[0] = (unsigned char)(v >> 24);
    x[1] = (unsigned char)(v >> 16);
    x[2] = (unsigned char)(v >> 8);
    x[3] = (unsigned char)v;
}

/* PostgreSQL's binary form of a one-dimensional array (array_send): ndim, has-nulls, element type, then
 * the length and lower bound of the dimension; each element its length (-1: NULL) and its binary form. */
#define HEAD 20
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25

static void put_element(lv_buf *b, char type, const pg_params *p, int i)
{
    if (p->is_num[i]) {
        uint64_t v = (uint64_t)strtoll(p->num[i], NULL, 10);
        put_be32(b, 8);
        put_be32(b, (uint32_t)(v >> 32));
        put_be32(b, (uint32_t)v);
        return;
    }
    if (!p->values[i]) {
        put_be32(b, UINT32_MAX);
        return;
    }
    (void)type; /* texts and bytes: their bytes as they are */
    put_be32(b, (uint32_t)p->lengths[i]);
    lv_buf_append(b, p->values[i], (size_t)p->lengths[i]);
}

void pg_rows_init(pg_rows *r, const char *types)
{
    memset(r, 0, sizeof *r);
    r->types = types;
    r->cols = strlen(types);
    if (r->cols > PG_MAX_PARAMS)
        abort(); /* a statement with more columns than parameters */
    for (size_t c = 0; c < r->cols; c++)
        lv_buf_init(&r->col[c]);
}

void pg_rows_add(pg_rows *r, const pg_params *p)
{
    if ((size_t)p->n != r->cols)
        abort(); /* a row with other columns than its statement's */
    size_t bytes = 0;
    for (size_t c = 0; c < r->cols; c++) {
        lv_buf *b = &r->col[c];
        if (!r->rows) {
            lv_buf_reset(b);
            for (int k = 0; k < HEAD / 4; k++)
                put_be32(b, 0); /* the header, written by pg_rows_params */
        }
        if (!p->is_num[c] && !p->values[c])
            r->nulls |= 1u << c;
        put_element(b, r->types[c], p, (int)c);
        bytes += b->len;
    }
    r->rows++;
    r->bytes = bytes;
}

void pg_rows_params(pg_rows *r, pg_params *p)
{
    for (size_t c = 0; c < r->cols; c++) {
        lv_buf *b = &r->col[c];
        char t = r->types[c];
        uint32_t oid = t == 'i' ? OID_INT8 : t == 't' ? OID_TEXT : OID_BYTEA;
        if (!r->rows) {
            lv_buf_reset(b);
            put_be32(b, 0); /* no dimension: an empty array */
            put_be32(b, 0);
            put_be32(b, oid);
        } else {
            set_be32(b, 0, 1);
            set_be32(b, 4, (r->nulls >> c) & 1);
            set_be32(b, 8, oid);
            set_be32(b, 12, (uint32_t)r->rows);
            set_be32(b, 16, 1);
        }
        pg_bytes(p, b->data, b->len);
    }
}

void pg_rows_reset(pg_rows *r)
{
    for (size_t c = 0; c < r->cols; c++)
        lv_buf_reset(&r->col[c]);
    r->rows = 0;
    r->bytes = 0;
    r->nulls = 0;
}

void pg_rows_free(pg_rows *r)
{
    for (size_t c = 0; c < r->cols; c++)
        lv_buf_free(&r->col[c]);
    r->rows = 0;
}

static lv_status send_kind(pg_store *s, int k, lv_error *err)
{
    pg_rows *q = &s->deferred->kinds[k];
    if (!q->rows)
        return LV_OK;
    pg_params p;
    pg_params_init(&p);
    pg_rows_params(q, &p);
    lv_status st = pg_queue(s, kinds[k].stmt, &p, kinds[k].what, err);
    pg_params_free(&p);
    s->deferred->rows -= q->rows;
    pg_rows_reset(q);
    return st;
}

static void new_deferred(pg_store *s)
{
    if (s->deferred)
        return;
    s->deferred = lv_xcalloc(1, sizeof *s->deferred);
    for (int k = 0; k < PG_DEFER_COUNT; k++)
        pg_rows_init(&s->deferred->kinds[k], kinds[k].types);
}

lv_status pg_defer(pg_store *s, enum pg_defer kind, const pg_params *p, lv_error *err)
{
    new_deferred(s);
    pg_rows *q = &s->deferred->kinds[kind];
    pg_rows_add(q, p);
    s->deferred->rows++;
    if (q->rows >= MAX_ROWS || q->bytes >= MAX_BYTES)
        return send_kind(s, kind, err);
    return LV_OK;
}

lv_status pg_defer_flush(pg_store *s, lv_error *err)
{
    lv_status st = LV_OK;
    for (int k = 0; s->deferred && s->deferred->rows && k < PG_DEFER_COUNT && st == LV_OK; k++)
        st = send_kind(s, k, err);
    if (st != LV_OK)
        pg_defer_drop(s);
    return st;
}

lv_status pg_defer_kind_flush(pg_store *s, enum pg_defer kind, lv_error *err)
{
    if (!s->deferred)
        return LV_OK;
    lv_status st = send_kind(s, kind, err);
    if (st != LV_OK)
        pg_defer_drop(s);
    return st;
}

/* Statements that read or write none of the deferred rows' tables: they may run before those rows are
 * sent. (An entry's insert only asks whether the entry exists; the deferred grading ids only change
 * entries that exist.) */
static bool independent(int stmt)
{
    switch (stmt) {
    case PG_EVENT_INSERT:
    case PG_EVENTS_INSERT:
    case PG_DEAD_INSERT:
    case PG_NAME_INSERT:
    case PG_NAME_GET:
    case PG_TOPIC_GET:
    case PG_CONVERSATION_GET:
    case PG_ENTRY_INSERT:
    case PG_ENTRIES_INSERT:
    case PG_EVENT_REF: /* (an event row and its name: a replay reads them between its writes) */
        return true;
    default:
        return false;
    }
}

static void forget_held(pg_store *s)
{
    if (s->deferred && s->deferred->n_held) {
        memset(s->deferred->held, 0, s->deferred->cap_held * sizeof *s->deferred->held);
        s->deferred->n_held = 0;
    }
}

lv_status pg_defer_before(pg_store *s, int stmt, lv_error *err)
{
    if (!s->deferred || independent(stmt))
        return LV_OK;
    /* a statement of another kind may change any conversation (a commit ends the locks) */
    lv_status st = s->deferred->rows ? pg_defer_flush(s, err) : LV_OK;
    forget_held(s);
    return st;
}

/* ---- conversations held ---- */

static held *find_held(struct pg_deferred *d, uint64_t id)
{
    if (!d->cap_held)
        return NULL;
    size_t mask = d->cap_held - 1;
    uint64_t h = (id ^ (id >> 31)) * 0x9E3779B97F4A7C15ull; /* every bit of the id in the high ones */
    for (size_t i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
        if (!d->held[i].used || d->held[i].row.id == id)
            return &d->held[i];
    }
}

bool pg_held_conversation(pg_store *s, uint64_t id, lv_conversation_row *out, bool *found)
{
    held *h = s->deferred ? find_held(s->deferred, id) : NULL;
    if (!h || !h->used)
        return false;
    *out = h->row;
    *found = h->found;
    return true;
}

void pg_hold_conversation(pg_store *s, const lv_conversation_row *row, bool found)
{
    new_deferred(s);
    struct pg_deferred *d = s->deferred;
    if ((d->n_held + 1) * 2 > d->cap_held) {
        held *old = d->held;
        size_t old_cap = d->cap_held;
        d->cap_held = old_cap ? old_cap * 2 : 256;
        d->held = lv_xcalloc(d->cap_held, sizeof *d->held);
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].used)
                *find_held(d, old[i].row.id) = old[i];
        free(old);
    }
    held *h = find_held(d, row->id);
    if (!h->used)
        d->n_held++;
    *h = (held){ .used = true, .found = found, .row = *row };
}

void pg_defer_drop(pg_store *s)
{
    if (!s->deferred)
        return;
    for (int k = 0; k < PG_DEFER_COUNT; k++)
        pg_rows_reset(&s->deferred->kinds[k]);
    s->deferred->rows = 0;
    forget_held(s);
}

void pg_defer_free(pg_store *s)
{
    if (!s->deferred)
        return;
    for (int k = 0; k < PG_DEFER_COUNT; k++)
        pg_rows_free(&s->deferred->kinds[k]);
    free(s->deferred->held);
    free(s->deferred);
    s->deferred = NULL;
}
