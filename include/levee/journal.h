/* levee/journal.h: the server's durable journal. What `levee serve` acknowledges is first appended
 * here and synced to disk (one fsync shared by every request waiting at that moment: group commit);
 * an applier then moves it into the store in large transactions. A crash loses nothing
 * acknowledged: on restart the journal is replayed from the last position the store recorded, and
 * replaying is harmless because the store recognises events it already holds.
 *
 * On disk: a directory of segment files named by their first offset (hex), each a sequence of
 * records: a 16-byte header (magic, payload length, CRC-32 of the payload, kind) and the payload.
 * A torn record at the end (a crash in the middle of a write) is detected by its length or CRC
 * and cut off when the journal is opened. */
#ifndef LEVEE_JOURNAL_H
#define LEVEE_JOURNAL_H

#include "levee/common.h"

typedef struct lv_journal lv_journal;

/* What a record holds. */
enum lv_journal_kind {
    LV_JOURNAL_DOCUMENT = 1,  /* a received document (JSON bytes) */
    LV_JOURNAL_OVERSIZED = 2, /* a document too large to keep: the payload is its size as text */
};

/* A segment is closed and a new one started beyond this size. */
#define LV_JOURNAL_SEGMENT_BYTES ((uint64_t)64 << 20)

/* Opens (creating if needed) the journal in dir. A journal with no segments starts at
 * start_if_empty (the store's applied position), so offsets keep growing across a lost journal. */
lv_status lv_journal_open(const char *dir, uint64_t start_if_empty, lv_journal **out, lv_error *err);
void lv_journal_close(lv_journal *j);

/* Appends a record; returns the offset just past it (the ticket to wait for). Not yet durable. */
uint64_t lv_journal_append(lv_journal *j, unsigned kind, const void *payload, size_t len);
/* Blocks until everything up to ticket is on disk (syncing it if no one else is). */
lv_status lv_journal_wait(lv_journal *j, uint64_t ticket, lv_error *err);
/* Offset up to which records are durable. */
uint64_t lv_journal_durable(lv_journal *j);
/* Waits up to timeout_ms for the durable offset to pass `offset`; returns the durable offset. */
uint64_t lv_journal_wait_beyond(lv_journal *j, uint64_t offset, int timeout_ms);
/* Makes any waiters in lv_journal_wait_beyond return now (used to stop). */
void lv_journal_wake(lv_journal *j);

/* Reading durable records from an offset, in order. */
typedef struct lv_journal_record {
    unsigned kind;
    const char *payload; /* valid until the next read */
    size_t len;
    uint64_t offset;     /* where the record starts */
    uint64_t next;       /* where the next one starts */
} lv_journal_record;

typedef struct lv_journal_reader lv_journal_reader;
lv_status lv_journal_reader_open(lv_journal *j, uint64_t from, lv_journal_reader **out, lv_error *err);
/* LV_OK with rec filled, LV_ENOTFOUND when no durable record follows (yet), LV_EIO on damage. */
lv_status lv_journal_read(lv_journal_reader *r, lv_journal_record *rec, lv_error *err);
void lv_journal_reader_close(lv_journal_reader *r);

/* Deletes segments that lie wholly before offset (their records are safely in the store). */
lv_status lv_journal_release(lv_journal *j, uint64_t offset, lv_error *err);

/* A dedicated flusher thread: it writes and syncs whatever has been appended as soon as it can,
 * and after each sync calls listener(ctx, commit) from that thread. With it running,
 * lv_journal_wait only waits. lv_journal_close stops it after a last flush. */
typedef struct lv_journal_commit {
    uint64_t durable; /* everything before this offset is on disk */
    uint64_t records; /* records this commit made durable (the group's size) */
    uint64_t bytes;   /* bytes it wrote */
    double seconds;   /* how long the write and sync took */
} lv_journal_commit;
typedef void (*lv_journal_listener)(void *ctx, const lv_journal_commit *commit);
lv_status lv_journal_start_flusher(lv_journal *j, lv_journal_listener listener, void *ctx, lv_error *err);
/* Whether writing the journal has failed (everything after stays unacknowledged), and why. */
bool lv_journal_broken(lv_journal *j, lv_error *err);

/* Bytes between offset and the durable end (what remains to be applied). */
uint64_t lv_journal_backlog(lv_journal *j, uint64_t offset);

#endif
