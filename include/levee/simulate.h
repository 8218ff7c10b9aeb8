/* levee/simulate.h (stage: emit): a simulated institution that produces the conversation and discussion events
 * Canvas would, at their documented triggers, with Canvas's metadata and realistic content
 * (docs/simulate.md). The same options and seed give the same events, byte for byte.
 *
 *     lv_sim_options opt;
 *     lv_sim_options_init(&opt);
 *     opt.seed = 42;
 *     lv_sim *sim;
 *     if (lv_sim_new(&sim, &opt, &err) != LV_OK) ...
 *     for (const lv_event *ev; (ev = lv_sim_next(sim)) != NULL;)
 *         lv_canvas_write_event(ev, w, &err);   (or lv_caliper_write_envelope)
 *     lv_sim_free(sim);
 */
#ifndef LEVEE_SIMULATE_H
#define LEVEE_SIMULATE_H

#include "levee/event.h"
#include "levee/prng.h"

#define LV_SIM_MAX_COURSES 100000u
#define LV_SIM_MAX_USERS 1000000u
#define LV_SIM_MAX_DAYS 3660u

typedef struct lv_sim_options {
    uint64_t seed;    /* default 1 */
    unsigned courses; /* default 5; 1 .. LV_SIM_MAX_COURSES */
    unsigned users;   /* default 150; 2 .. LV_SIM_MAX_USERS */
    unsigned days;    /* default 14; 1 .. LV_SIM_MAX_DAYS */
    int64_t start_ms; /* UTC ms; default 2024-09-02T00:00:00Z, a Monday at the start of a fall term */
} lv_sim_options;

typedef struct lv_sim lv_sim;

void lv_sim_options_init(lv_sim_options *opt);

/* Builds the institution (accounts, courses, groups, users, enrollments) from the options. Fails
 * with LV_EINVAL, saying which option is out of range. */
lv_status lv_sim_new(lv_sim **out, const lv_sim_options *opt, lv_error *err);

/* The next event, in event_time order, or NULL when the simulated period is over. The event and
 * everything it points to stay valid until the next call to lv_sim_next or lv_sim_free. */
const lv_event *lv_sim_next(lv_sim *sim);

void lv_sim_free(lv_sim *sim);

/* What the simulation models, for summaries. */
typedef struct lv_sim_info {
    uint64_t root_account_id; /* global */
    uint64_t shard;
    const char *hostname;
    const char *time_zone; /* the account's default zone */
    size_t accounts, courses, groups, users, enrollments;
    int64_t start_ms, end_ms;
} lv_sim_info;

void lv_sim_describe(const lv_sim *sim, lv_sim_info *info);

/* How many events of a kind lv_sim_next has handed out so far. */
unsigned long lv_sim_count(const lv_sim *sim, const lv_kind *kind);

/* Realistic text, as the simulator writes it: HTML for entries, replies, topics and announcements
 * (paragraphs, lists, links, quotes, unicode), plain text for titles; lengths are log-normal, mostly
 * short with a long tail (a few pasted essays exceed Canvas's 8192-character limit). Appends the
 * text, cut as Canvas cuts it (lv_text_truncate), to out; returns true when it was cut. scratch is
 * working space. subject picks the course's vocabulary (any number). */
typedef enum lv_sim_text_kind {
    LV_SIM_TEXT_ENTRY,
    LV_SIM_TEXT_REPLY,
    LV_SIM_TEXT_TOPIC,
    LV_SIM_TEXT_ANNOUNCEMENT,
    LV_SIM_TEXT_TITLE,
    LV_SIM_TEXT_ANNOUNCEMENT_TITLE,
} lv_sim_text_kind;

bool lv_sim_text(lv_prng *rng, lv_sim_text_kind kind, unsigned subject, lv_buf *scratch, lv_buf *out);

#endif
