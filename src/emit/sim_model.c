/* sim_model.c: the simulated institution, built once from the seed: a root account (shard, uuid,
 * lti_guid, hostname, default time zone), sub-accounts, courses with SIS ids and a subject, groups,
 * and users with logins, SIS ids, time zones, devices and enrollments (student, teacher, TA,
 * designer, observer and one custom role), plus an account admin who sometimes masquerades. */
#include "sim_internal.h"

#include "levee/id.h"
#include "levee/timestamp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const first_names[] = {
    "james", "mary", "wei", "fatima", "carlos", "aisha", "noah", "emma", "liam", "olivia", "mateo",
    "sofia", "arjun", "priya", "yuki", "hana", "kwame", "amara", "lucas", "chloe", "omar", "layla",
    "ethan", "zoe", "diego", "valentina", "ivan", "anya", "samuel", "grace", "minh", "linh",
    "jamal", "nia", "daniel", "mia", "elijah", "ava", "hiroshi", "sakura", "mohammed", "sara",
    "lukas", "lena", "tomas", "elena", "kofi", "abena", "ryan", "hannah", "jin", "seo-yeon",
    "pablo", "lucia", "david", "rachel", "ali", "zeynep", "felix", "clara", "oscar", "ines",
    "theo", "maya",
};

static const char *const last_names[] = {
    "smith", "garcia", "chen", "nguyen", "johnson", "patel", "kim", "rodriguez", "williams",
    "okafor", "brown", "martinez", "lee", "hernandez", "tanaka", "mensah", "miller", "lopez",
    "wang", "davis", "gonzalez", "singh", "wilson", "anderson", "thomas", "moore", "jackson",
    "white", "harris", "clark", "lewis", "walker", "hall", "allen", "young", "king", "wright",
    "scott", "green", "baker", "adams", "nelson", "hill", "campbell", "mitchell", "roberts",
    "carter", "phillips", "evans", "turner", "torres", "parker", "collins", "edwards", "stewart",
    "morris", "murphy", "cook", "rogers", "morgan", "cooper", "peterson", "bailey", "reed",
};

static const char *const institutions[] = {
    "northfield", "lakeview", "riverside", "eastbay", "summit", "pinecrest", "harborview",
    "westbrook", "granite", "prairie", "cedarvale", "oxbow", "mesa", "bayside",
};

static const char *const subject_codes[] = { "BIO", "HIST", "CS", "LIT", "MATH",
                                             "CHEM", "PSY", "ECON", "SPAN", "PHYS" };

static const char *const custom_roles[] = { "Peer Mentor", "Writing Tutor", "Learning Assistant",
                                            "Embedded Librarian" };

static const char *const browsers[] = {
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 Edg/123.0.2420.81",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
};

/* The mobile apps, with the developer key each one's tokens belong to (keys live on Instructure's
 * site-admin shard, so their ids are global there). */
static const struct {
    const char *agent;
    uint64_t developer_key;
} apps[] = {
    { "candroid/7.6.0 (Android 14; Pixel 7) okhttp/4.12.0", 170000000000001ULL },
    { "iCanvas/7.10.1 (iPhone; iOS 17.4.1; Scale/3.00)", 170000000000002ULL },
    { "iosTeacher/1.27.0 (iPhone; iOS 17.4.1; Scale/3.00)", 170000000000003ULL },
    { "androidTeacher/1.28.0 (Android 13; SM-S911U) okhttp/4.12.0", 170000000000004ULL },
};

const char *lv__browser_agent(unsigned i) { return browsers[i % COUNT(browsers)]; }
const char *lv__app_agent(unsigned i) { return apps[i % COUNT(apps)].agent; }
uint64_t lv__app_developer_key(unsigned app) { return apps[app % COUNT(apps)].developer_key; }

const char *lv__role_name(const lv_sim *s, sim_role role)
{
    switch (role) {
    case ROLE_STUDENT: return "StudentEnrollment";
    case ROLE_TEACHER: return "TeacherEnrollment";
    case ROLE_TA: return "TaEnrollment";
    case ROLE_DESIGNER: return "DesignerEnrollment";
    case ROLE_OBSERVER: return "ObserverEnrollment";
    case ROLE_CUSTOM: return s->custom_role;
    case ROLE_ADMIN: return "AccountAdmin";
    case ROLE_COUNT: break;
    }
    return "StudentEnrollment";
}

static void hex_digits(lv_prng *r, char *out, size_t digits)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[lv_prng_below(r, 16)];
    out[digits] = '\0';
}

void lv__uuid4(lv_prng *r, char out[40])
{
    char h[33];
    hex_digits(r, h, 32);
    h[12] = '4';
    h[16] = "89ab"[lv_prng_below(r, 4)];
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static uint64_t enrollment_key(uint32_t user, uint32_t course)
{
    return ((uint64_t)course << 32 | user) + 1;
}

uint32_t lv__enrollment_of(const lv_sim *s, uint32_t user, uint32_t course)
{
    return lv__map_get(&s->enrolled, enrollment_key(user, course));
}

static void enroll(lv_sim *s, uint32_t user, uint32_t course, sim_role role)
{
    if (lv__enrollment_of(s, user, course) != SIM_NONE)
        return;
    lv_vec_reserve((void **)&s->enrollments, &s->cap_enrollments, s->n_enrollments + 1,
                   sizeof *s->enrollments, 64);
    sim_enrollment *e = &s->enrollments[s->n_enrollments];
    e->user = user;
    e->course = course;
    e->role = role;
    e->ordinal = 0;
    sim_course *c = &s->courses[course];
    if (role == ROLE_STUDENT) {
        e->ordinal = c->students.n;
        lv__u32_push(&c->students, user);
    } else if (role == ROLE_OBSERVER) {
        lv__u32_push(&c->observers, user);
    } else {
        lv__u32_push(&c->staff, (uint32_t)s->n_enrollments);
    }
    lv__u32_push(&s->users[user].enrollments, (uint32_t)s->n_enrollments);
    lv__map_put(&s->enrolled, enrollment_key(user, course), (uint32_t)s->n_enrollments);
    s->n_enrollments++;
}

static void make_identity(lv_sim *s, sim_user *u, size_t i, int login_style, const char *domain)
{
    lv_prng *r = &s->rng;
    size_t nf = COUNT(first_names), nl = COUNT(last_names);
    const char *first = first_names[(i * 37 + 11) % nf];
    const char *last = last_names[(i / nf * 13 + i * 7) % nl];
    unsigned round = (unsigned)(i / (nf * nl));
    char suffix[16] = "";
    if (round)
        snprintf(suffix, sizeof suffix, "%u", round + 1);
    if (login_style == 0)
        snprintf(u->login, sizeof u->login, "%s.%s%s@%s", first, last, suffix, domain);
    else
        snprintf(u->login, sizeof u->login, "%c%s%s%u", first[0], last, suffix, (unsigned)(i % 100));
    if (lv_prng_chance(r, 0.07))
        u->sis[0] = '\0';
    else if (u->kind == ROLE_STUDENT)
        snprintf(u->sis, sizeof u->sis, "S%08u", (unsigned)(20240000 + i * 3));
    else
        snprintf(u->sis, sizeof u->sis, "E%06u", (unsigned)(100000 + i * 7));
    double z = lv_prng_unit(r);
    u->zone = z < 0.15 ? -1 : z < 0.85 ? (int)s->zone : (int)lv_prng_below(r, lv__zone_count());
    u->browser = (uint8_t)lv_prng_below(r, COUNT(browsers));
    bool staff = u->kind != ROLE_STUDENT && u->kind != ROLE_OBSERVER;
    bool has_app = lv_prng_chance(r, staff ? 0.25 : 0.4);
    u->app = (uint8_t)(staff ? 2 + lv_prng_below(r, 2) : lv_prng_below(r, 2));
    u->app_share = has_app ? (float)(0.2 + 0.5 * lv_prng_unit(r)) : 0.0f;
    u->activity = (float)lv_prng_lognormal(r, 0, 0.5);
    static const unsigned octets[] = { 24, 67, 68, 71, 73, 98, 108, 174, 184, 199, 203, 76 };
    if (lv_prng_chance(r, 0.15))
        snprintf(u->home_ip, sizeof u->home_ip, "2600:1700:%x:%x::%x", (unsigned)lv_prng_below(r, 0xffff),
                 (unsigned)lv_prng_below(r, 0xffff), (unsigned)lv_prng_range(r, 1, 0xfff));
    else
        snprintf(u->home_ip, sizeof u->home_ip, "%u.%u.%u.%u", octets[lv_prng_below(r, COUNT(octets))],
                 (unsigned)lv_prng_below(r, 256), (unsigned)lv_prng_below(r, 256),
                 (unsigned)lv_prng_range(r, 1, 254));
    u->observee = SIM_NONE;
}

/* How many users take each non-student role: at most two fifths of everyone, in this order. */
static void staff_counts(const lv_sim_options *o, unsigned counts[ROLE_COUNT])
{
    unsigned want[ROLE_COUNT] = { 0 };
    unsigned c = o->courses;
    want[ROLE_TEACHER] = c > 1 ? (c + 1) / 2 : 1;
    want[ROLE_ADMIN] = 1;
    want[ROLE_TA] = c > 1 ? c / 2 : 1;
    want[ROLE_DESIGNER] = c > 3 ? c / 4 : 1;
    want[ROLE_CUSTOM] = c > 2 ? c / 3 : 1;
    want[ROLE_OBSERVER] = o->users > 40 ? o->users / 40 : 1;
    unsigned budget = o->users * 2 / 5;
    if (budget < 1)
        budget = 1;
    static const sim_role order[] = { ROLE_TEACHER, ROLE_ADMIN, ROLE_TA, ROLE_DESIGNER, ROLE_CUSTOM,
                                      ROLE_OBSERVER };
    memset(counts, 0, ROLE_COUNT * sizeof counts[0]);
    for (size_t i = 0; i < COUNT(order); i++) {
        unsigned n = want[order[i]] < budget ? want[order[i]] : budget;
        counts[order[i]] = n;
        budget -= n;
    }
    counts[ROLE_STUDENT] = o->users;
    for (int k = 1; k < ROLE_COUNT; k++)
        counts[ROLE_STUDENT] -= counts[k];
}

static void build_accounts(lv_sim *s)
{
    lv_prng *r = &s->rng;
    s->n_accounts = 1 + (s->opt.courses / 4 < 6 ? 1 + s->opt.courses / 4 : 6);
    s->accounts = lv_xcalloc(s->n_accounts, sizeof *s->accounts);
    s->accounts[0] = 1;
    uint64_t next = (uint64_t)lv_prng_range(r, 10, 120);
    for (size_t i = 1; i < s->n_accounts; i++) {
        s->accounts[i] = next;
        next += (uint64_t)lv_prng_range(r, 1, 5);
    }
}

static void build_root(lv_sim *s)
{
    lv_prng *r = &s->rng;
    s->shard = (uint64_t)lv_prng_range(r, 100, 9999);
    s->root_id = s->shard * LV_SHARD_FACTOR + 1;
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 40; i++)
        s->uuid[i] = alnum[lv_prng_below(r, sizeof alnum - 1)];
    s->uuid[40] = '\0';
    const char *name = institutions[lv_prng_below(r, COUNT(institutions))];
    if (lv_prng_chance(r, 0.5))
        snprintf(s->hostname, sizeof s->hostname, "%s.instructure.com", name);
    else
        snprintf(s->hostname, sizeof s->hostname, "canvas.%s.edu", name);
    snprintf(s->lti_guid, sizeof s->lti_guid, "%s.%s", s->uuid, s->hostname);
    /* Mostly North American institutions, as most of Canvas's are. */
    static const unsigned home_zones[] = { 0, 0, 1, 1, 2, 3, 3, 4, 8, 9, 16, 17 };
    s->zone = home_zones[lv_prng_below(r, COUNT(home_zones))];
    snprintf(s->campus_prefix, sizeof s->campus_prefix, "%u.%u.", (unsigned)lv_prng_range(r, 128, 165),
             (unsigned)lv_prng_below(r, 256));
    s->custom_role = custom_roles[lv_prng_below(r, COUNT(custom_roles))];
}

static void build_courses(lv_sim *s)
{
    lv_prng *r = &s->rng;
    s->n_courses = s->opt.courses;
    s->courses = lv_xcalloc(s->n_courses, sizeof *s->courses);
    int64_t y;
    unsigned m, d;
    lv_civil_from_days(s->opt.start_ms / SIM_DAY, &y, &m, &d);
    const char *term = m < 5 ? "SP" : m < 8 ? "SU" : "FA";
    uint64_t next = (uint64_t)lv_prng_range(r, 100, 9000);
    for (size_t i = 0; i < s->n_courses; i++) {
        sim_course *c = &s->courses[i];
        c->id = next;
        next += (uint64_t)lv_prng_range(r, 1, 40);
        c->account = (uint32_t)(1 + i % (s->n_accounts - 1));
        c->subject = (unsigned)lv_prng_below(r, COUNT(subject_codes));
        snprintf(c->sis, sizeof c->sis, "%lld%s-%s-%u-%02u", (long long)y, term, subject_codes[c->subject],
                 (unsigned)(100 + 10 * lv_prng_below(r, 40)), (unsigned)(1 + i % 7));
        c->due_cache_day = INT64_MIN;
    }
}

static void build_users(lv_sim *s)
{
    lv_prng *r = &s->rng;
    unsigned counts[ROLE_COUNT];
    staff_counts(&s->opt, counts);
    s->n_users = s->opt.users;
    s->users = lv_xcalloc(s->n_users, sizeof *s->users);
    const char *name = strchr(s->hostname, '.') ? s->hostname : "example.edu";
    char domain[40];
    if (strncmp(name, "canvas.", 7) == 0)
        snprintf(domain, sizeof domain, "%s", name + 7);
    else
        snprintf(domain, sizeof domain, "%.*s.edu", (int)(strchr(name, '.') - name), name);
    int login_style = (int)lv_prng_below(r, 2);
    uint64_t next = (uint64_t)lv_prng_range(r, 1000, 99999);
    size_t i = 0;
    static const sim_role order[] = { ROLE_TEACHER, ROLE_ADMIN, ROLE_TA, ROLE_DESIGNER, ROLE_CUSTOM,
                                      ROLE_OBSERVER, ROLE_STUDENT };
    for (size_t k = 0; k < COUNT(order); k++)
        for (unsigned n = 0; n < counts[order[k]]; n++, i++) {
            sim_user *u = &s->users[i];
            u->id = next;
            next += (uint64_t)lv_prng_range(r, 1, 3);
            u->kind = order[k];
            make_identity(s, u, i, login_style, domain);
            if (u->kind == ROLE_ADMIN)
                lv__u32_push(&s->admins, (uint32_t)i);
            if (u->kind == ROLE_TEACHER)
                lv__u32_push(&s->teachers, (uint32_t)i);
        }
}

/* Users of one kind, in index order. */
static void users_of(const lv_sim *s, sim_role kind, u32vec *out)
{
    for (size_t i = 0; i < s->n_users; i++)
        if (s->users[i].kind == kind)
            lv__u32_push(out, (uint32_t)i);
}

static void build_enrollments(lv_sim *s)
{
    lv_prng *r = &s->rng;
    u32vec by[ROLE_COUNT] = { { 0 } };
    for (int k = 0; k < ROLE_COUNT; k++)
        users_of(s, (sim_role)k, &by[k]);
    for (uint32_t c = 0; c < s->n_courses; c++) {
        if (by[ROLE_TEACHER].n)
            enroll(s, by[ROLE_TEACHER].items[c % by[ROLE_TEACHER].n], c, ROLE_TEACHER);
        if (by[ROLE_TA].n)
            enroll(s, by[ROLE_TA].items[c % by[ROLE_TA].n], c, ROLE_TA);
        if (by[ROLE_DESIGNER].n && c % 2 == 0)
            enroll(s, by[ROLE_DESIGNER].items[(c / 2) % by[ROLE_DESIGNER].n], c, ROLE_DESIGNER);
        if (by[ROLE_CUSTOM].n && c % 3 == 0)
            enroll(s, by[ROLE_CUSTOM].items[(c / 3) % by[ROLE_CUSTOM].n], c, ROLE_CUSTOM);
    }
    for (uint32_t i = 0; i < by[ROLE_STUDENT].n; i++) {
        uint32_t u = by[ROLE_STUDENT].items[i];
        unsigned k = 1 + lv_prng_poisson(r, 1.6);
        if (k > 6)
            k = 6;
        if (k > s->n_courses)
            k = (unsigned)s->n_courses;
        enroll(s, u, i % (uint32_t)s->n_courses, ROLE_STUDENT);
        for (unsigned tries = 0; s->users[u].enrollments.n < k && tries < 20; tries++)
            enroll(s, u, (uint32_t)lv_prng_below(r, s->n_courses), ROLE_STUDENT);
    }
    for (uint32_t i = 0; i < by[ROLE_OBSERVER].n && by[ROLE_STUDENT].n; i++) {
        uint32_t o = by[ROLE_OBSERVER].items[i];
        uint32_t child = by[ROLE_STUDENT].items[lv_prng_below(r, by[ROLE_STUDENT].n)];
        s->users[o].observee = child;
        const u32vec *e = &s->users[child].enrollments;
        for (uint32_t j = 0; j < e->n; j++)
            enroll(s, o, s->enrollments[e->items[j]].course, ROLE_OBSERVER);
    }
    for (int k = 0; k < ROLE_COUNT; k++)
        lv_vec_free(&by[k]);
}

static void build_groups(lv_sim *s)
{
    lv_prng *r = &s->rng;
    size_t cap = 0;
    for (size_t c = 0; c < s->n_courses; c++)
        cap += s->courses[c].students.n / 4 + 1;
    s->groups = lv_xcalloc(cap, sizeof *s->groups);
    uint64_t next = (uint64_t)lv_prng_range(r, 50, 5000);
    for (uint32_t c = 0; c < s->n_courses; c++) {
        sim_course *course = &s->courses[c];
        if (course->students.n < 6 || !lv_prng_chance(r, 0.6))
            continue;
        unsigned size = 4 + (unsigned)lv_prng_below(r, 2);
        unsigned n = course->students.n / size;
        bool sis = lv_prng_chance(r, 0.5);
        for (unsigned g = 0; g < n && s->n_groups < cap; g++) {
            sim_group *grp = &s->groups[s->n_groups];
            grp->id = next++;
            grp->course = c;
            if (sis)
                snprintf(grp->sis, sizeof grp->sis, "%s-G%u", course->sis, g + 1);
            for (unsigned k = g * size; k < (g + 1) * size; k++) {
                uint32_t u = course->students.items[k];
                lv__u32_push(&grp->members, u);
                lv__u32_push(&s->users[u].groups, (uint32_t)s->n_groups);
            }
            lv__u32_push(&course->groups, (uint32_t)s->n_groups);
            s->n_groups++;
        }
    }
}

void lv__sim_build_model(lv_sim *s)
{
    lv_prng *r = &s->rng;
    build_root(s);
    build_accounts(s);
    build_courses(s);
    build_users(s);
    build_enrollments(s);
    build_groups(s);
    s->ids.topic = (uint64_t)lv_prng_range(r, 1000, 20000);
    s->ids.entry = (uint64_t)lv_prng_range(r, 5000, 200000);
    s->ids.conv = (uint64_t)lv_prng_range(r, 100, 50000);
    s->ids.message = (uint64_t)lv_prng_range(r, 1000, 500000);
    s->ids.assignment = (uint64_t)lv_prng_range(r, 500, 50000);
    s->ids.submission = (uint64_t)lv_prng_range(r, 10000, 900000);
    s->ids.job = 1000000000000000ULL + lv_prng_below(r, 1000000000000ULL);
}

void lv__sim_free_model(lv_sim *s)
{
    for (size_t i = 0; i < s->n_users; i++) {
        lv_vec_free(&s->users[i].enrollments);
        lv_vec_free(&s->users[i].convs);
        lv_vec_free(&s->users[i].groups);
    }
    for (size_t i = 0; i < s->n_courses; i++) {
        sim_course *c = &s->courses[i];
        lv_vec_free(&c->students);
        lv_vec_free(&c->staff);
        lv_vec_free(&c->observers);
        lv_vec_free(&c->topics);
        lv_vec_free(&c->groups);
    }
    for (size_t i = 0; i < s->n_groups; i++) {
        lv_vec_free(&s->groups[i].members);
        lv_vec_free(&s->groups[i].topics);
    }
    for (size_t i = 0; i < s->n_topics; i++)
        lv_vec_free(&s->topics[i].entries);
    for (size_t i = 0; i < s->n_convs; i++)
        lv_vec_free(&s->convs[i].participants);
    lv_vec_free(&s->admins);
    lv_vec_free(&s->teachers);
    lv__map_free(&s->enrolled);
    lv__map_free(&s->posted);
    lv__map_free(&s->privates);
    free(s->accounts);
    free(s->users);
    free(s->courses);
    free(s->groups);
    free(s->enrollments);
    free(s->topics);
    free(s->entries);
    free(s->convs);
}
