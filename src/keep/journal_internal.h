/* journal_internal.h: what the journal's files share: its state, the record layout and the helpers
 * for segment files. journal_open.c opens, locks and recovers a journal; journal.c appends, writes
 * with group commit and retries; journal_read.c reads records back, setting damage aside. Private to
 * src/keep/. */
#ifndef LEVEE_JOURNAL_INTERNAL_H
#define LEVEE_JOURNAL_INTERNAL_H

#include "levee/hist.h"
#include "levee/journal.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define MAGIC 0x314A564CU /* "LVJ1" */
#define HEADER 16
/* The flusher's wait between attempts while writing fails. */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 5000
/* Damage reports kept for lv_journal_take_damage; beyond this they are counted, not kept. */
#define MAX_REPORTS 32
/* Group commits remembered (offset made durable, when): the applier looks up when each record it
 * applies was acknowledged. 16,384 cover several seconds of commits at any rate levee takes. */
#define SYNC_RING 16384
/* Blocks read at a time when scanning damaged bytes or copying them aside. */
#define SCAN_BLOCK ((size_t)1 << 20)

struct lv_journal {
    char *dir;
    char *what;         /* how messages name it: "the store levee.db" or "the journal DIR" */
    pthread_mutex_t lock;
    pthread_cond_t durable_changed;
    pthread_cond_t appended;
    int lock_fd;        /* DIR/lock, holding the OFD lock */
    uint64_t *segments; /* start offsets, ascending; the last is being written */
    size_t n_segments;
    uint64_t end;       /* offset after the last appended record */
    uint64_t durable;   /* offset up to which records are on disk */
    lv_buf pending;     /* appended, not yet written: records from `durable` to `end` */
    uint64_t pending_records;
    LV_VEC(int64_t) pending_at; /* when each pending record was appended (monotonic us) */
    lv_hist waits;      /* each record's time from its append to the fsync that made it durable */
    struct { uint64_t durable; int64_t at_us, at_ms; } ring[SYNC_RING]; /* the last commits, oldest at ring_head */
    size_t ring_head, ring_n;
    lv_journal_commit last; /* the last commit, for the listener */
    bool flushing;
    /* the writing side, used only by whoever is flushing (flushing true), without the lock */
    int fd;             /* the last segment, open for writing */
    bool reopen;        /* a write or sync failed: reopen the segment and cut it back first */
    bool dir_unsynced;  /* a new segment's directory entry is not yet synced */
    lv_journal_io io;   /* copied into each flush */
    /* health */
    bool failing;
    char reason[LV_ERROR_MAX];
    uint64_t failures, recoveries;
    uint64_t damaged_bytes, damaged_regions;
    uint64_t damage_seen; /* damage before this offset has been reported already */
    char *reports[MAX_REPORTS];
    size_t n_reports;
    uint64_t reports_dropped;
    /* the dedicated flusher, when started */
    pthread_t flusher;
    bool flusher_running;
    bool stop_flusher;
    lv_journal_listener listener;
    void *listener_ctx;
    /* released segments, renamed aside (<start>.old) and deleted by the unlinker thread: deleting a
     * 64 MB file took 82 ms under load, during which the applier stored nothing */
    LV_VEC(uint64_t) doomed;
    pthread_cond_t doomed_changed;
    pthread_t unlinker;
    bool unlinker_running, stop_unlinker;
    char unlink_error[LV_ERROR_MAX]; /* the unlinker's last failure, reported by the next release */
};

static inline void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* journal_open.c: */
/* DIR/name and DIR/<start>.log, allocated. */
char *jn_path_in(const lv_journal *j, const char *name);
char *jn_segment_path(const lv_journal *j, uint64_t start);
/* DIR/<start>.old: a released segment not deleted yet. */
char *jn_released_path(const lv_journal *j, uint64_t start);
/* n bytes at `at` (fewer only at the end of the file); -1 on an error. */
ssize_t jn_read_full(int fd, void *buf, size_t n, uint64_t at);
/* fsyncs a directory (after a file in it was created or renamed). */
lv_status jn_sync_path(const char *dir, lv_error *err);
/* Whether a whole record checks at `at` (magic, length within limit, kind, CRC): 1 yes, 0 no, -1 a
 * read error; fills payload, len and kind. */
int jn_check_record(int fd, uint64_t at, uint64_t limit, lv_buf *payload, uint32_t *len, unsigned *kind);
/* The offset of the next record that checks after damage at `from` (limit when none). */
lv_status jn_scan_forward(int fd, uint64_t from, uint64_t limit, lv_buf *block, lv_buf *payload, uint64_t *found,
                          lv_error *err);
/* Opens the segment starting at `start` for writing (adding it to the list when add). */
lv_status jn_open_segment(lv_journal *j, uint64_t start, bool add, lv_error *err);

#endif
