/* sim_internal.h: what the simulator's files share (not part of liblevee's public interface): the
 * model of the institution (accounts, courses, groups, users, enrollments, topics, entries,
 * conversations), time zones, the request a user's action makes, the simulator's state, and what
 * each of its files offers the others (the schedule, requests, and what users do). */
#ifndef LEVEE_SIM_INTERNAL_H
#define LEVEE_SIM_INTERNAL_H

#include "levee/prng.h"
#include "levee/simulate.h"

#define SIM_NONE UINT32_MAX
#define SIM_MINUTE 60000LL
#define SIM_HOUR 3600000LL
#define SIM_DAY 86400000LL

/* ---- small containers ---- */

/* A growable array of 32-bit indexes (freed with lv_vec_free). */
typedef LV_VEC(uint32_t) u32vec;

void lv__u32_push(u32vec *a, uint32_t x);
bool lv__u32_has(const u32vec *a, uint32_t x);

/* Open-addressing map from a non-zero 64-bit key to a 32-bit value. */
typedef struct u64map {
    uint64_t *keys;
    uint32_t *vals;
    size_t n, cap;
} u64map;

void lv__map_put(u64map *m, uint64_t key, uint32_t val);
uint32_t lv__map_get(const u64map *m, uint64_t key); /* SIM_NONE when absent */
void lv__map_free(u64map *m);

/* ---- time zones ---- */

/* The zone's name (IANA, as Canvas stores it), and its UTC offset in minutes at an instant. */
size_t lv__zone_count(void);
const char *lv__zone_name(unsigned zone);
int lv__zone_offset(unsigned zone, int64_t utc_ms);
/* The UTC instant of a local wall-clock time (ms since the epoch as if local were UTC). */
int64_t lv__zone_to_utc(unsigned zone, int64_t local_ms);
/* Day of week of a UTC-or-local day number (days since 1970-01-01): 0 Sunday .. 6 Saturday. */
static inline int lv__weekday(int64_t day)
{
    int w = (int)((day + 4) % 7);
    return w < 0 ? w + 7 : w;
}

/* ---- the institution ---- */

typedef enum sim_role {
    ROLE_STUDENT,
    ROLE_TEACHER,
    ROLE_TA,
    ROLE_DESIGNER,
    ROLE_OBSERVER,
    ROLE_CUSTOM, /* the institution's custom course role (a student helper) */
    ROLE_ADMIN,  /* an account admin: no enrollment */
    ROLE_COUNT
} sim_role;

typedef struct sim_user {
    uint64_t id; /* local */
    sim_role kind;
    char login[96];
    char sis[16];       /* "" when the user has no SIS id */
    char home_ip[40];
    int zone;           /* index into the zone table, -1 when the user set none */
    uint8_t browser;    /* index into the browser user agents */
    uint8_t app;        /* index into the mobile app user agents */
    float app_share;    /* share of sessions made from the mobile app */
    float activity;     /* how active the user is (1 = typical) */
    u32vec enrollments; /* indexes into sim->enrollments */
    u32vec convs;       /* conversations the user is in */
    u32vec groups;      /* groups the user belongs to */
    uint32_t observee;  /* the student an observer observes, or SIM_NONE */
} sim_user;

typedef struct sim_enrollment {
    uint32_t user, course;
    sim_role role;
    uint32_t ordinal; /* a student's position among the course's students (for submission ids) */
} sim_enrollment;

typedef struct sim_course {
    uint64_t id;        /* local */
    uint32_t account;   /* index into sim->accounts */
    char sis[40];
    unsigned subject;
    u32vec students;    /* user indexes */
    u32vec staff;       /* enrollment indexes of teachers, TAs, designers, custom roles */
    u32vec observers;   /* user indexes */
    u32vec topics;      /* topic indexes */
    u32vec groups;      /* group indexes */
    int64_t due_cache_day; /* the day due_soon was computed for */
    unsigned due_soon;  /* graded topics due within 36 hours of that day's start */
} sim_course;

typedef struct sim_group {
    uint64_t id; /* local */
    uint32_t course;
    char sis[56]; /* "" when none */
    u32vec members;
    u32vec topics;
} sim_group;

typedef enum sim_topic_state { TS_ACTIVE, TS_UNPUBLISHED, TS_POST_DELAYED, TS_DELETED } sim_topic_state;

typedef struct sim_topic {
    uint64_t id;            /* local; events send it global */
    bool in_group;
    uint32_t context;       /* course or group index */
    uint32_t course;        /* the course (also for group topics) */
    uint32_t author;        /* user index, SIM_NONE for a course copy */
    bool announcement;
    bool body_null;
    sim_topic_state state;
    uint64_t assignment;    /* local, 0 when not graded */
    uint64_t submissions;   /* first submission id of the assignment's students */
    int64_t due_ms;         /* -1 when none */
    int64_t lock_ms;        /* -1 when none */
    int64_t delayed_ms;     /* delayed posting time, -1 when none */
    uint64_t title_seed, body_seed;
    int64_t updated_ms;
    int64_t visible_ms;     /* time of the creation event: nothing may refer to it before */
    int64_t last_ms;        /* time of its latest event */
    u32vec entries;         /* entry indexes */
} sim_topic;

typedef struct sim_entry {
    uint64_t id; /* local */
    uint32_t author;
    int64_t visible_ms;
} sim_entry;

typedef struct sim_conv {
    uint64_t id; /* local */
    uint32_t course; /* course the participants came from */
    bool private_;   /* two participants: Canvas reuses it and never adds to it */
    u32vec participants;
    int64_t visible_ms;
    int64_t last_ms;
} sim_conv;

/* ---- a request or job: the metadata every event it causes shares ---- */

typedef enum sim_via { VIA_WEB, VIA_APP, VIA_JOB } sim_via;

typedef struct sim_req {
    sim_via via;
    int64_t t;          /* when the action happened */
    int64_t last_ms;    /* time of the request's latest event so far (0 before the first) */
    uint32_t user;      /* acting user (SIM_NONE for a job) */
    uint32_t real_user; /* masquerading admin, or SIM_NONE */
    const char *job_tag;
    uint64_t job_id;
    char request_id[40];
    char session_id[40]; /* "" for none (token requests) */
    char ip[48];
    const char *method;
    char url[384];
    char referrer[384];  /* "" for none */
    int ctx;             /* 0 none, 1 course, 2 group */
    uint32_t ctx_index;
    const char *role;
} sim_req;

/* ---- the simulator ---- */

/* What a scheduled action does (sim_action.type). */
enum sim_action_type { A_PLAN_DAY, A_SESSION, A_SESSION_STEP, A_COURSE_COPY, A_DELAYED_POST };

typedef struct sim_action {
    int64_t t;
    uint64_t seq;
    uint32_t type;
    uint32_t who;      /* user, course or topic index, by type */
    uint32_t as_user;  /* masquerade: the user the admin acts as, or SIM_NONE */
    uint32_t arg;
    uint16_t remaining;
    uint8_t via;
    uint8_t ip_kind;   /* 0 home, 1 campus, 2 elsewhere */
    uint32_t ip_bits;
    uint64_t session[2];
} sim_action;

typedef struct sim_out {
    int64_t time_ms;
    uint64_t seq;
    lv_event ev;
    lv_arena arena;
    struct sim_out *next_free;
} sim_out;

typedef struct sim_ids {
    uint64_t topic, entry, conv, message, assignment, submission, job;
} sim_ids;

struct lv_sim {
    lv_sim_options opt;
    lv_prng rng;
    int64_t end_ms;
    /* the root account */
    uint64_t shard;
    uint64_t root_id; /* global */
    char uuid[48];
    char lti_guid[160];
    char hostname[96];
    char campus_prefix[16]; /* first two octets of the campus network, "a.b." */
    unsigned zone;          /* the account's default time zone */
    const char *custom_role;
    /* the model */
    uint64_t *accounts; /* local ids; [0] is the root account */
    size_t n_accounts;
    sim_user *users;
    size_t n_users;
    sim_course *courses;
    size_t n_courses;
    sim_group *groups;
    size_t n_groups;
    sim_enrollment *enrollments;
    size_t n_enrollments, cap_enrollments;
    sim_topic *topics;
    size_t n_topics, cap_topics;
    sim_entry *entries;
    size_t n_entries, cap_entries;
    sim_conv *convs;
    size_t n_convs, cap_convs;
    u64map enrolled; /* (course, user) -> enrollment index */
    u64map posted;   /* (topic, user) pairs that have a top-level entry */
    u64map privates; /* (user, user) pairs that have a private conversation */
    u32vec admins, teachers;
    sim_ids ids;
    /* the schedule: actions to run, and events made but not yet handed out */
    sim_action *actions;
    size_t n_actions, cap_actions;
    sim_out **outs;
    size_t n_outs, cap_outs;
    sim_out *free_outs;
    sim_out *current; /* the event last handed out */
    uint64_t seq;
    unsigned long counts[16];
    lv_buf text, cut; /* scratch for generated text */
    /* event kinds, looked up once */
    const lv_kind *k_conv_created, *k_conv_forwarded, *k_conv_message, *k_entry_created,
        *k_entry_submitted, *k_topic_created, *k_topic_updated;
};

/* sim_model.c: building the institution. */
void lv__sim_build_model(lv_sim *s);
void lv__sim_free_model(lv_sim *s);
const char *lv__role_name(const lv_sim *s, sim_role role);
/* The enrollment of a user in a course, or SIM_NONE. */
uint32_t lv__enrollment_of(const lv_sim *s, uint32_t user, uint32_t course);
/* Identity strings drawn from the generator. */
void lv__uuid4(lv_prng *r, char out[40]);
const char *lv__browser_agent(unsigned i);
const char *lv__app_agent(unsigned i);
/* The developer key of the mobile app a user agent belongs to. */
uint64_t lv__app_developer_key(unsigned app);

/* sim_emit.c: events made through the catalog's builder. */
/* Starts an event of the request, later than not_before_ms, with the request's metadata filled in;
 * the caller fills the body (strings in o->arena) and hands it to lv__emit_end. */
sim_out *lv__emit_begin(lv_sim *s, sim_req *req, const lv_kind *kind, int64_t not_before_ms);
void lv__emit_end(lv_sim *s, sim_out *o);
/* The UTC offset (minutes) body timestamps of the request are written in at an instant. */
int lv__req_offset(const lv_sim *s, const sim_req *req, int64_t ms);
void lv__emit_topic(lv_sim *s, sim_req *req, uint32_t topic, bool created);
void lv__emit_entry(lv_sim *s, sim_req *req, uint32_t topic, uint32_t entry, uint32_t parent,
                    uint64_t text_seed, unsigned text_kind);
void lv__emit_conv_created(lv_sim *s, sim_req *req, uint32_t conv);
void lv__emit_conv_forwarded(lv_sim *s, sim_req *req, uint32_t conv);
void lv__emit_message(lv_sim *s, sim_req *req, uint32_t conv, uint32_t author);

/* The next id from a counter: 1 to 3 more than the last. */
static inline uint64_t lv__next_id(lv_sim *s, uint64_t *counter)
{
    *counter += 1 + lv_prng_below(&s->rng, 3);
    return *counter;
}

/* simulate.c: the schedule. Schedules an action (dropped when it falls after the end); actions at
 * the same instant run in the order they were scheduled. */
void lv__sim_schedule(lv_sim *s, sim_action a);

/* sim_zone.c: a user's time zone (the account's when the user set none), and the user's local day
 * number (days since 1970-01-01) at an instant. */
unsigned lv__user_zone(const lv_sim *s, uint32_t user);
int64_t lv__local_day(const lv_sim *s, uint32_t user, int64_t ms);

/* sim_request.c: who acts in a session step and how, and the request every event of the action
 * shares. */
typedef struct sim_actor {
    uint32_t user;      /* the user the action is made as */
    uint32_t real_user; /* the admin masquerading, or SIM_NONE */
    const sim_action *session;
    int64_t t;
} sim_actor;

/* Starts the request of an actor's action: ids, session, IP, method. */
void lv__start_request(lv_sim *s, const sim_actor *who, sim_req *req, const char *method);
/* The request's context: a course (with the user's role in it) or a group. */
void lv__set_context(lv_sim *s, sim_req *req, bool group, uint32_t index, uint32_t user);
/* url and referrer: the API call the page makes, and the page; a mobile app has no referrer. */
void lv__set_urls(lv_sim *s, sim_req *req, const char *api_path, const char *page_path);
/* "courses/<id>" or "groups/<id>": the context of a topic in URLs. */
const char *lv__context_path(const lv_sim *s, const sim_topic *t, char *buf, size_t n);

/* What users do. Each act_ returns false when the action is not possible now (nothing to act on);
 * the session step then tries another. */

/* sim_topics.c: topics and announcements (created, edited, published, deleted), delayed posts and
 * course copies. */
bool lv__act_create_topic(lv_sim *s, const sim_actor *who, uint32_t course, bool announcement);
bool lv__act_create_group_topic(lv_sim *s, const sim_actor *who, uint32_t group);
bool lv__act_edit_topic(lv_sim *s, const sim_actor *who, uint32_t course);
bool lv__act_publish_topic(lv_sim *s, const sim_actor *who, uint32_t course);
bool lv__act_delete_topic(lv_sim *s, const sim_actor *who, uint32_t course);
void lv__run_delayed_post(lv_sim *s, const sim_action *a);
void lv__run_course_copy(lv_sim *s, const sim_action *a);

/* sim_entries.c: entries and replies in a course's or group's topics, and what a student does in a
 * group. */
bool lv__act_entry(lv_sim *s, const sim_actor *who, const u32vec *topics);
bool lv__act_reply(lv_sim *s, const sim_actor *who, const u32vec *topics);
bool lv__act_group(lv_sim *s, const sim_actor *who);

/* sim_conversations.c: new conversations (private ones reused), replies, added people. */
bool lv__act_new_conversation(lv_sim *s, const sim_actor *who, uint32_t course, bool staff_only,
                              bool teacher);
bool lv__act_conversation_reply(lv_sim *s, const sim_actor *who);
bool lv__act_add_participants(lv_sim *s, const sim_actor *who);

/* sim_sessions.c: a user's day (how many sign-in sessions, when) and what each step of a session
 * does. */
void lv__plan_day(lv_sim *s, const sim_action *a);
void lv__start_session(lv_sim *s, const sim_action *a);
void lv__session_step(lv_sim *s, const sim_action *a);

#endif
