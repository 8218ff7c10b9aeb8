/* levee/journal.h (stage: keep): the server's durable journal. What `levee serve` acknowledges is first appended
 * here and synced to disk (one fsync shared by every request waiting at that moment: group commit);
 * an applier then moves it into the store in large transactions. A crash loses nothing
 * acknowledged: on restart the journal is replayed from the last position the store recorded, and
 * replaying is harmless because the store recognises events it already holds.
 *
 * On disk: a directory of segment files named by their first offset (hex), each a sequence of
 * records: a 16-byte header (magic, payload length, CRC-32 of the payload, kind) and the payload.
 *
 * One owner. The journal is locked for as long as it is open: DIR/lock holds the owner's pid, host
 * and start time (for the message a second opener gets) and is locked with an fcntl OFD lock
 * (F_OFD_SETLK), which the kernel releases when the owner exits however it exits, so a lock file
 * left by a killed process does not block. OFD locks belong to an open file description, not to a
 * process: a second open in the same process conflicts too. On NFS they are forwarded to the server
 * (NFSv4 locks, or lockd for NFSv3), unlike flock(2) on old kernels; a file system that cannot lock
 * at all makes lv_journal_open fail rather than run unguarded.
 *
 * Faults. A write or sync that fails (a full disk, an I/O error) never stops the journal for good:
 * the segment is cut back to the last durable offset, the unwritten records stay in memory, the
 * journal is marked failing (appends are refused with LV_EBUSY, waiters get LV_EBUSY, the listener
 * is called so that waiting requests are answered 503) and the flusher retries with backoff (50 ms
 * doubling to 5 s) until a write and sync succeed. Records refused to their client but written later
 * are harmless: the store drops duplicates. Memory stays bounded while it waits: appends are refused
 * beyond LV_JOURNAL_PENDING_MAX bytes not yet durable.
 *
 * Damage. A torn record at the end of the last segment (a crash in the middle of a write: never
 * acknowledged, nothing valid after it) is cut off when the journal is opened. A record anywhere else
 * that does not check (bad magic, impossible length, unknown kind, CRC mismatch) is skipped by the
 * reader: it resumes at the next record that checks, copies the damaged bytes aside into
 * DIR/damaged/<16-hex-offset>.bin (synced) and reports the region once (lv_journal_take_damage), so
 * the intact records on either side are still applied. */
#ifndef LEVEE_JOURNAL_H
#define LEVEE_JOURNAL_H

#include "levee/common.h"
#include "levee/hist.h"

#include <sys/types.h>

typedef struct lv_journal lv_journal;

/* What a record holds. */
enum lv_journal_kind {
    LV_JOURNAL_DOCUMENT = 1,  /* a received document (JSON bytes) */
    LV_JOURNAL_OVERSIZED = 2, /* a document too large to keep: the payload is its size as text */
};

/* A segment is closed and a new one started beyond this size. */
#define LV_JOURNAL_SEGMENT_BYTES ((uint64_t)64 << 20)
/* At most this many bytes may be appended and not yet durable: beyond it lv_journal_append refuses
 * (LV_EBUSY), which bounds the journal's memory while the disk cannot keep up or is failing. A single
 * record larger than this is refused with LV_ETOOBIG. */
#define LV_JOURNAL_PENDING_MAX ((uint64_t)64 << 20)

/* Opens (creating if needed) the journal in dir and locks it for as long as it is open. A journal
 * with no segments starts at start_if_empty (the store's applied position), so offsets keep growing
 * across a lost journal. LV_EBUSY when another lv_journal holds it (any process, on any host sharing
 * the file system), with a sentence naming that owner's pid, host and start time; LV_EDAMAGED when the
 * journal ends below start_if_empty (it lost records the store applied, or is another store's). */
lv_status lv_journal_open(const char *dir, uint64_t start_if_empty, lv_journal **out, lv_error *err);
/* Stops the flusher (after a last attempt to write what is pending), closes and unlocks. */
void lv_journal_close(lv_journal *j);

/* Appends a record and sets *ticket to the offset just past it (the ticket to wait for). Not yet
 * durable. LV_EBUSY, with nothing appended, while the journal is failing to write or while more than
 * LV_JOURNAL_PENDING_MAX bytes are waiting to be written; LV_ETOOBIG for a record that could never
 * fit. */
lv_status lv_journal_append(lv_journal *j, unsigned kind, const void *payload, size_t len, uint64_t *ticket,
                            lv_error *err);
/* Blocks until everything up to ticket is on disk (without the flusher thread: syncing it if no one
 * else is). LV_EBUSY with the reason, instead of blocking, while the journal is failing to write:
 * the record may still be written later, but it must not be acknowledged. */
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
/* LV_OK with rec filled, LV_ENOTFOUND when no durable record follows (yet). Damage is skipped (see
 * the top of this file): the next intact record is returned and the damage is reported through
 * lv_journal_health_get and lv_journal_take_damage. LV_EIO when the segment cannot be read or the
 * damaged bytes cannot be copied aside (the reader stays where it was: try again later). */
lv_status lv_journal_read(lv_journal_reader *r, lv_journal_record *rec, lv_error *err);
void lv_journal_reader_close(lv_journal_reader *r);

/* Deletes segments that lie wholly before offset (their records are safely in the store). */
lv_status lv_journal_release(lv_journal *j, uint64_t offset, lv_error *err);

/* A dedicated flusher thread: it writes and syncs whatever has been appended as soon as it can,
 * and after each sync calls listener(ctx, commit) from that thread. When a write or sync fails it
 * calls the listener too (records 0; lv_journal_broken is then true, and what lies beyond
 * commit->durable stays unacknowledged), then retries with backoff until it succeeds. With it
 * running, lv_journal_wait only waits. lv_journal_close stops it after a last flush. */
typedef struct lv_journal_commit {
    uint64_t durable; /* everything before this offset is on disk */
    uint64_t records; /* records this commit made durable (the group's size) */
    uint64_t bytes;   /* bytes it wrote */
    double seconds;   /* how long the write and sync took */
} lv_journal_commit;
typedef void (*lv_journal_listener)(void *ctx, const lv_journal_commit *commit);
lv_status lv_journal_start_flusher(lv_journal *j, lv_journal_listener listener, void *ctx, lv_error *err);
/* Whether writing the journal is failing right now (what is not durable stays unacknowledged), and
 * why (err->status LV_EBUSY). It clears by itself once a retry succeeds. */
bool lv_journal_broken(lv_journal *j, lv_error *err);

/* What the journal has been through since it was opened, for /readyz and /metrics. */
typedef struct lv_journal_health {
    bool failing;                /* writing fails right now (lv_journal_broken) */
    char reason[LV_ERROR_MAX];   /* why it fails now, or why it last failed ("" if it never did) */
    uint64_t failures;           /* failed write or sync attempts */
    uint64_t recoveries;         /* returns to health after failing */
    uint64_t damaged_bytes;      /* bytes of damaged journal skipped by readers (kept aside) */
    uint64_t damaged_regions;    /* how many damaged regions */
} lv_journal_health;
void lv_journal_health_get(lv_journal *j, lv_journal_health *out);
/* Each new damage report once, as a sentence for the log (which offsets, how many bytes, where they
 * were kept); false when there is none left to take. */
bool lv_journal_take_damage(lv_journal *j, char *msg, size_t size);

/* When the record ending at offset became durable (was acknowledged): the monotonic clock's us and
 * the wall clock's ms of the group commit that covered it. false when that commit is no longer
 * remembered (the last 16,384 are) or the record was durable before this journal was opened. */
bool lv_journal_durable_at(lv_journal *j, uint64_t offset, int64_t *at_us, int64_t *at_ms);
/* Each record's time from its append to the sync that made it durable (the wait of the requests
 * that carried it), since the journal was opened. */
lv_hist *lv_journal_waits(lv_journal *j);

/* Bytes between offset and the durable end (what remains to be applied). */
uint64_t lv_journal_backlog(lv_journal *j, uint64_t offset);

/* For tests: the calls the journal writes its segments with, to simulate a full disk or an I/O error
 * without one. NULL (or a NULL member) restores the system's pwrite(2) / fdatasync(2). They are called
 * on the flusher's (or the waiter's) thread, without the journal's lock; set them before appending. */
typedef struct lv_journal_io {
    ssize_t (*write_at)(int fd, const void *buf, size_t len, off_t offset); /* as pwrite(2) */
    int (*sync)(int fd);                                                    /* as fdatasync(2) */
} lv_journal_io;
void lv_journal_set_io(lv_journal *j, const lv_journal_io *io);

#endif
