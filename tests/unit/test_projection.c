/* test_projection.c: the rules of keep/projection.c that turn events into state, checked through the
 * engine's own operations (levee/engine.h: get_topic, topic_versions, topic_entries,
 * get_conversation, conversation_timeline, course_activity, course_roles, event_counts, user_events,
 * search, stats) on temporary SQLite stores:
 * - a topic's current version is the greatest (updated_at, event time, key) whatever the arrival
 *   order (every permutation of 3 and of 4 versions, with distinct and with equal updated_at; the key
 *   of a tie is computed here, independently, as SHA-256 of the event's identity), its history lists
 *   every version in that order, and search holds the current text only;
 * - its creation is the earliest discussion_topic_created (an update with an earlier time does not
 *   count), whatever the order;
 * - a discussion_entry_created and its discussion_entry_submitted twin, in either order, are one
 *   entry with the grading ids, indexed once;
 * - a reply before its parent and before its topic: a stand-in topic row with the course (or the
 *   group, or nothing) as context, which the topic's event later fills, keeping the context and the
 *   entries; a later reply does not turn it back into a stand-in;
 * - a conversation (every permutation of five events): the earliest conversation_created gives
 *   created_at and created_by, updated_at is the latest, a message and a forward are kept once;
 * - duplicates, exact and reformatted (white space, key order, time zone), stored once and counted;
 *   a rejected document kept as one dead letter, and again as a duplicate;
 * - figures (activity per day and name, participants by role, counts per name and format, events per
 *   user, the span of event times) add up over two transactions; a rolled-back transaction leaves
 *   nothing, and the projection's caches forget what it wrote: writing the same events again makes
 *   the stand-in topic and records the account (its shard) again. */
#include "testing.h"

#include "levee/engine.h"
#include "levee/engines.h"
#include "levee/id.h"
#include "levee/timestamp.h"

#include <openssl/evp.h>
#include <unistd.h>

#define T0 1725300000000LL /* 2024-09-02T18:00:00Z */
#define MINUTE 60000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define COURSE 5
#define DAY0 (T0 / DAY)

/* ---- temporary stores ---- */

/* A new empty store in a temporary file (path: at least 256 bytes), in bulk mode (no fsync). */
static lv_store *new_store(char *path)
{
    close(make_temp(path, 256, "projection", false));
    lv_store *s = NULL;
    lv_error err;
    if (lv_store_open(path, NULL, &s, &err) != LV_OK)
        fail_msg("cannot open %s: %s", path, err.msg);
    lv_store_set_bulk(s, true);
    return s;
}

static void drop_store(lv_store *s, const char *path)
{
    lv_store_close(s);
    remove_store(path);
}

/* ---- documents ---- */

static const char *iso(int64_t ms)
{
    static char text[16][LV_TIME_TEXT_MAX];
    static int next;
    char *t = text[next++ % 16];
    lv_time_format(ms, t);
    return t;
}

/* A document of at most 2 KB. */
typedef struct doc {
    char text[2048];
} doc;

static void docf(doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void docf(doc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->text, sizeof d->text, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof d->text);
}

/* A topic event in course COURSE (metadata and body say so). */
static void topic_doc(doc *d, const char *name, int topic, int64_t ms, int64_t updated, int user, const char *title,
                      const char *body)
{
    docf(d,
         "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\",\"context_type\":\"Course\","
         "\"context_id\":\"%d\",\"context_role\":\"TeacherEnrollment\"},\"body\":{\"assignment_id\":null,"
         "\"body\":\"%s\",\"context_id\":\"%d\",\"context_type\":\"Course\",\"discussion_topic_id\":\"%d\","
         "\"is_announcement\":false,\"lock_at\":null,\"title\":\"%s\",\"updated_at\":\"%s\","
         "\"workflow_state\":\"active\"}}",
         name, iso(ms), user, COURSE, body, COURSE, topic, title, iso(updated));
}

/* A topic event that names no context at all (neither in its metadata nor in its body). */
static void bare_topic_doc(doc *d, const char *name, int topic, int64_t ms, int user, const char *title)
{
    docf(d,
         "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"},\"body\":{"
         "\"body\":\"<p>Now with a body.</p>\",\"discussion_topic_id\":\"%d\",\"is_announcement\":true,"
         "\"title\":\"%s\",\"updated_at\":\"%s\",\"workflow_state\":\"active\"}}",
         name, iso(ms), user, topic, title, iso(ms));
}

typedef struct entry_spec {
    const char *name;  /* discussion_entry_created or discussion_entry_submitted */
    int entry, topic, parent, user;
    const char *role;  /* NULL: no context_role */
    const char *context_type; /* NULL: no context in the metadata */
    int context_id;
    int64_t ms;
    const char *text;
    int assignment, submission; /* 0: absent */
    const char *root_account;   /* NULL: none */
} entry_spec;

static void entry_doc(doc *d, const entry_spec *e)
{
    char meta[512], extra[256] = "";
    int n = snprintf(meta, sizeof meta, "\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"", e->name,
                     iso(e->ms), e->user);
    if (e->context_type)
        n += snprintf(meta + n, sizeof meta - (size_t)n, ",\"context_type\":\"%s\",\"context_id\":\"%d\"",
                      e->context_type, e->context_id);
    if (e->role)
        n += snprintf(meta + n, sizeof meta - (size_t)n, ",\"context_role\":\"%s\"", e->role);
    if (e->root_account)
        n += snprintf(meta + n, sizeof meta - (size_t)n, ",\"root_account_id\":\"%s\"", e->root_account);
    assert_true((size_t)n < sizeof meta);
    int m = 0;
    if (e->parent)
        m += snprintf(extra + m, sizeof extra - (size_t)m, ",\"parent_discussion_entry_id\":\"%d\"", e->parent);
    if (e->assignment)
        m += snprintf(extra + m, sizeof extra - (size_t)m, ",\"assignment_id\":\"%d\",\"submission_id\":\"%d\"",
                      e->assignment, e->submission);
    docf(d,
         "{\"metadata\":{%s},\"body\":{\"created_at\":\"%s\",\"discussion_entry_id\":\"%d\","
         "\"discussion_topic_id\":\"%d\",\"text\":\"%s\",\"user_id\":\"%d\"%s}}",
         meta, iso(e->ms), e->entry, e->topic, e->text, e->user, extra);
}

/* A student's entry in course COURSE. */
static void student_entry(doc *d, int entry, int topic, int user, int64_t ms, const char *text)
{
    entry_doc(d, &(entry_spec){ .name = "discussion_entry_created", .entry = entry, .topic = topic, .user = user,
                                .role = "StudentEnrollment", .context_type = "Course", .context_id = COURSE,
                                .ms = ms, .text = text });
}

static void conversation_doc(doc *d, const char *name, int conversation, int user, int64_t ms, int64_t updated)
{
    docf(d,
         "{\"metadata\":{\"event_name\":\"%s\",\"event_time\":\"%s\",\"user_id\":\"%d\"},"
         "\"body\":{\"conversation_id\":\"%d\",\"updated_at\":\"%s\"}}",
         name, iso(ms), user, conversation, iso(updated));
}

static void message_doc(doc *d, int conversation, int message, int author, int64_t ms, const char *request)
{
    docf(d,
         "{\"metadata\":{\"event_name\":\"conversation_message_created\",\"event_time\":\"%s\",\"user_id\":\"%d\","
         "\"request_id\":\"%s\"},\"body\":{\"author_id\":\"%d\",\"conversation_id\":\"%d\",\"created_at\":\"%s\","
         "\"message_id\":\"%d\"}}",
         iso(ms), author, request, author, conversation, iso(ms), message);
}

/* ---- writing ---- */

static void prepare(lv_store *s, lv_batch *b)
{
    lv_zctx *z = lv_zctx_new();
    lv_error err;
    lv_status st = lv_batch_prepare(b, z, lv_store_dict(s), &err);
    lv_zctx_free(z);
    check(st, &err);
}

static void begin(lv_store *s)
{
    lv_error err;
    check(lv_store_begin(s, &err), &err);
}

static void commit(lv_store *s)
{
    lv_error err;
    check(lv_store_commit(s, &err), &err);
}

/* Writes texts as one batch inside the open transaction; returns the batch (the caller frees it). */
static lv_batch *write_texts(lv_store *s, const char *const *texts, size_t n, lv_counts *c)
{
    lv_batch *b = lv_batch_new();
    for (size_t i = 0; i < n; i++)
        lv_batch_add(b, texts[i], strlen(texts[i]), "test", (long)i + 1, NULL);
    prepare(s, b);
    lv_error err;
    check(lv_store_write(s, b, c, &err), &err);
    return b;
}

/* Writes the documents in one transaction: one batch, or (one_by_one) one batch per document. */
static lv_counts write_docs(lv_store *s, const doc *docs, size_t n, bool one_by_one)
{
    lv_counts c = { 0 };
    begin(s);
    if (one_by_one) {
        for (size_t i = 0; i < n; i++) {
            const char *t = docs[i].text;
            lv_batch_free(write_texts(s, &t, 1, &c));
        }
    } else {
        const char *texts[16];
        assert_true(n <= 16);
        for (size_t i = 0; i < n; i++)
            texts[i] = docs[i].text;
        lv_batch_free(write_texts(s, texts, n, &c));
    }
    commit(s);
    return c;
}

static lv_counts write_one(lv_store *s, const doc *d)
{
    return write_docs(s, d, 1, false);
}

/* ---- reading through the engine ---- */

static bool str_is(lv_str s, const char *want)
{
    if (!want)
        return s.p == NULL;
    return s.p && s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static void assert_str(lv_str s, const char *want)
{
    if (!str_is(s, want))
        fail_msg("\"%.*s\" is not \"%s\"", (int)s.n, s.p ? s.p : "(null)", want ? want : "(null)");
}

static void assert_opt(lv_opt o, bool set, int64_t v)
{
    if (o.set != set || (set && o.v != v))
        fail_msg("%s %lld is not %s %lld", o.set ? "set" : "unset", (long long)o.v, set ? "set" : "unset",
                 (long long)v);
}

static void get_topic(lv_store *s, uint64_t id, lv_topic_row *out)
{
    bool found = false;
    lv_error err;
    check(s->engine->get_topic(s, id, out, &found, &err), &err);
    if (!found)
        fail_msg("topic %llu has no row", (unsigned long long)id);
}

typedef struct versions {
    lv_version_row v[8];
    size_t n;
} versions;

static lv_status add_version(void *ctx, const lv_version_row *row, lv_error *err)
{
    (void)err;
    versions *l = ctx;
    assert_true(l->n < 8);
    l->v[l->n++] = *row;
    return LV_OK;
}

static versions topic_versions(lv_store *s, uint64_t topic)
{
    versions l = { 0 };
    lv_error err;
    check(s->engine->topic_versions(s, topic, add_version, &l, &err), &err);
    return l;
}

typedef struct entry_got {
    uint64_t id, topic;
    lv_opt parent, user, assignment, submission;
    int64_t created_at;
    char role[32], text[128];
    bool has_role, has_text;
} entry_got;

typedef struct entries {
    entry_got e[8];
    size_t n;
} entries;

static void copy_str(char *to, size_t size, lv_str s, bool *has)
{
    *has = s.p != NULL;
    snprintf(to, size, "%.*s", (int)s.n, s.p ? s.p : "");
}

static lv_status add_entry(void *ctx, const lv_entry_row *row, lv_error *err)
{
    (void)err;
    entries *l = ctx;
    assert_true(l->n < 8);
    entry_got *e = &l->e[l->n++];
    *e = (entry_got){ .id = row->id, .topic = row->topic, .parent = row->parent, .user = row->user_id,
                  .assignment = row->assignment_id, .submission = row->submission_id, .created_at = row->created_at };
    copy_str(e->role, sizeof e->role, row->role, &e->has_role);
    copy_str(e->text, sizeof e->text, row->text, &e->has_text);
    return LV_OK;
}

static entries topic_entries(lv_store *s, uint64_t topic)
{
    entries l = { 0 };
    lv_error err;
    check(s->engine->topic_entries(s, topic, add_entry, &l, &err), &err);
    return l;
}

static const entry_got *find_entry(const entries *l, uint64_t id)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].id == id)
            return &l->e[i];
    fail_msg("no entry %llu", (unsigned long long)id);
    return NULL;
}

static lv_status count_row(void *ctx, const lv_search_row *row, lv_error *err)
{
    (void)row, (void)err;
    ++*(int *)ctx;
    return LV_OK;
}

/* How many search entries match one word. */
static int search_count(lv_store *s, const char *word)
{
    lv_search_term t = { .text = word, .len = strlen(word) };
    lv_search_query q = { .terms = &t, .n_terms = 1, .since_ms = INT64_MIN, .until_ms = INT64_MAX, .limit = 100 };
    int n = 0;
    lv_error err;
    check(s->engine->search(s, &q, count_row, &n, &err), &err);
    return n;
}

static lv_stats_row stats(lv_store *s)
{
    lv_stats_row st;
    lv_error err;
    check(s->engine->stats(s, &st, &err), &err);
    return st;
}

/* ---- a topic's versions in every order ---- */

typedef struct version_spec {
    const char *name;
    int64_t ms, updated;
    int user;
    const char *title; /* one word, found by search only while this version is current */
} version_spec;

#define VERSION_TOPIC 10
#define VERSION_BODY "<p>Light and leaves.</p>"

static void version_doc(doc *d, const version_spec *v)
{
    topic_doc(d, v->name, VERSION_TOPIC, v->ms, v->updated, v->user, v->title, VERSION_BODY);
}

/* The dedupe key of a document's (one) event, computed here: SHA-256 of its identity, cut to
 * LV_HASH_BYTES. */
static void key_of(const char *text, unsigned char key[LV_HASH_BYTES])
{
    lv_arena a;
    lv_arena_init(&a, 4096);
    lv_doc d = decode_text(&a, text, false); /* as lv_batch_add decodes */
    assert_int_equal(d.n_events, 1);
    assert_false(d.events[0].rejected);
    lv_buf id;
    lv_buf_init(&id);
    lv_event_identity(&d.events[0], &id);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(id.data, id.len, md, &n, EVP_sha256(), NULL), 1);
    memcpy(key, md, LV_HASH_BYTES);
    lv_buf_free(&id);
    lv_arena_free(&a);
}

static int compare_keys(const version_spec *a, const unsigned char *ka, const version_spec *b,
                        const unsigned char *kb)
{
    if (a->updated != b->updated)
        return a->updated < b->updated ? -1 : 1;
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    return memcmp(ka, kb, LV_HASH_BYTES);
}

static bool next_permutation(int *a, int n)
{
    int i = n - 2;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return false;
    int j = n - 1;
    while (a[j] <= a[i])
        j--;
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--) {
        t = a[l];
        a[l] = a[r];
        a[r] = t;
    }
    return true;
}

/* The topic row as text, without what depends on arrival order (event row ids). */
static void describe_topic(const lv_topic_row *t, char *out, size_t size)
{
    char hash[2 * LV_HASH_BYTES + 1];
    for (int i = 0; i < LV_HASH_BYTES; i++)
        snprintf(hash + 2 * i, 3, "%02x", t->version_hash[i]);
    snprintf(out, size, "%llu ctx=%lld/%.*s title=%.*s body=%.*s ann=%d:%lld asg=%d state=%.*s lock=%d upd=%lld "
             "vt=%lld key=%s created=%lld by=%lld search=%d",
             (unsigned long long)t->id, (long long)t->context_id.v, (int)t->context_type.n,
             t->context_type.p ? t->context_type.p : "", (int)t->title.n, t->title.p ? t->title.p : "",
             (int)t->body.n, t->body.p ? t->body.p : "", t->is_announcement.set, (long long)t->is_announcement.v,
             t->assignment_id.set, (int)t->workflow_state.n, t->workflow_state.p ? t->workflow_state.p : "",
             t->lock_at.set, (long long)t->updated_at.v, (long long)t->version_time, hash,
             (long long)t->created_at.v, (long long)t->created_by.v, t->search_key != 0);
}

/* Writes the versions into a fresh store in every order and checks that each order gives the
 * current version the rule names, created_at/created_by from the earliest creation, the history in
 * key order and search holding the current title only. */
static void every_order(const version_spec *v, int n, int64_t created_at, int created_by)
{
    doc docs[4];
    unsigned char keys[4][LV_HASH_BYTES];
    assert_true(n <= 4);
    int winner = 0;
    for (int i = 0; i < n; i++) {
        version_doc(&docs[i], &v[i]);
        key_of(docs[i].text, keys[i]);
        if (compare_keys(&v[i], keys[i], &v[winner], keys[winner]) > 0)
            winner = i;
    }
    /* the history's order, by the same keys */
    int sorted[4];
    for (int i = 0; i < n; i++)
        sorted[i] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && compare_keys(&v[sorted[j - 1]], keys[sorted[j - 1]], &v[sorted[j]], keys[sorted[j]]) > 0; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }

    int order[4];
    for (int i = 0; i < n; i++)
        order[i] = i;
    char first[1024] = "";
    int runs = 0;
    do {
        char path[256];
        lv_store *s = new_store(path);
        doc arrival[4];
        for (int i = 0; i < n; i++)
            arrival[i] = docs[order[i]];
        lv_counts c = write_docs(s, arrival, (size_t)n, runs % 2 == 1);
        assert_int_equal(c.stored, n);

        lv_topic_row t;
        get_topic(s, VERSION_TOPIC, &t);
        assert_str(t.title, v[winner].title);
        assert_str(t.body, VERSION_BODY);
        assert_opt(t.updated_at, true, v[winner].updated);
        assert_int_equal(t.version_time, v[winner].ms);
        assert_memory_equal(t.version_hash, keys[winner], LV_HASH_BYTES);
        assert_opt(t.created_at, true, created_at);
        assert_opt(t.created_by, true, created_by);
        assert_opt(t.context_id, true, COURSE);
        assert_str(t.context_type, "Course");
        assert_str(t.workflow_state, "active");
        assert_opt(t.is_announcement, true, 0);
        assert_opt(t.assignment_id, false, 0);
        assert_opt(t.lock_at, false, 0);
        assert_true(t.search_key != 0);
        char now[1024];
        describe_topic(&t, now, sizeof now);
        if (!runs)
            snprintf(first, sizeof first, "%s", now);
        assert_string_equal(now, first);

        versions h = topic_versions(s, VERSION_TOPIC);
        assert_int_equal(h.n, n);
        for (int i = 0; i < n; i++) {
            assert_opt(h.v[i].updated_at, true, v[sorted[i]].updated);
            assert_int_equal(h.v[i].time_ms, v[sorted[i]].ms);
        }
        assert_int_equal(h.v[n - 1].event, t.version_event);

        /* search holds the current version's text only (the body once, the winner's title) */
        for (int i = 0; i < n; i++)
            assert_int_equal(search_count(s, v[i].title), i == winner ? 1 : 0);
        assert_int_equal(search_count(s, "leaves"), 1);
        drop_store(s, path);
        runs++;
    } while (next_permutation(order, n) && runs < 24);
    assert_int_equal(runs, n == 3 ? 6 : 24);
}

static void test_topic_versions_distinct_updated_at(void **state)
{
    (void)state;
    /* the greatest updated_at wins, even over a later event time */
    static const version_spec v[] = {
        { "discussion_topic_created", T0, T0, 1, "Alpha" },
        { "discussion_topic_updated", T0 + 3 * HOUR, T0 + HOUR, 2, "Bravo" },
        { "discussion_topic_updated", T0 + 2 * HOUR, T0 + 2 * HOUR, 3, "Charlie" },
    };
    every_order(v, 3, T0, 1);
}

static void version_key(const version_spec *v, unsigned char key[LV_HASH_BYTES])
{
    doc d;
    version_doc(&d, v);
    key_of(d.text, key);
}

/* Sets v->user to the first user from `from` on whose version has a smaller key than `than`'s. */
static int user_with_smaller_key(version_spec *v, int from, const version_spec *than)
{
    unsigned char k[LV_HASH_BYTES], limit[LV_HASH_BYTES];
    version_key(than, limit);
    for (v->user = from; v->user < from + 64; v->user++) {
        version_key(v, k);
        if (memcmp(k, limit, LV_HASH_BYTES) < 0)
            return v->user;
    }
    fail_msg("no user in [%d, %d) gives a smaller key", from, from + 64);
    return 0;
}

static void test_topic_versions_equal_updated_at(void **state)
{
    (void)state;
    /* equal updated_at: the later event time wins (Charlie, earlier, loses to Bravo and Delta);
     * equal event times too (Bravo and Delta): the greater key */
    version_spec v[] = {
        { "discussion_topic_created", T0, T0, 1, "Alpha" },
        { "discussion_topic_updated", T0 + 2 * HOUR, T0 + HOUR, 2, "Bravo" },
        { "discussion_topic_updated", T0 + 90 * MINUTE, T0 + HOUR, 3, "Charlie" },
        { "discussion_topic_updated", T0 + 2 * HOUR, T0 + HOUR, 4, "Delta" },
    };
    /* the users (part of the key) are chosen so that Charlie has the greatest key of the three: only
     * its event time makes it lose */
    int bravo = user_with_smaller_key(&v[1], 10, &v[2]);
    user_with_smaller_key(&v[3], bravo + 1, &v[2]);
    every_order(v, 4, T0, 1);
}

static void test_topic_created_is_earliest_creation(void **state)
{
    (void)state;
    /* two creations (the earlier by user 1) and an update whose event time is before both: the
     * creation is the earliest discussion_topic_created, whatever the order */
    static const version_spec v[] = {
        { "discussion_topic_created", T0 + 10 * MINUTE, T0 + 10 * MINUTE, 7, "Late" },
        { "discussion_topic_created", T0, T0, 1, "Early" },
        { "discussion_topic_updated", T0 - HOUR, T0 - HOUR, 8, "Before" },
        { "discussion_topic_updated", T0 + HOUR, T0 + HOUR, 9, "After" },
    };
    every_order(v, 4, T0, 1);
}

/* ---- entries ---- */

static void entry_twins(doc *created, doc *submitted, int entry, int topic)
{
    entry_spec e = { .name = "discussion_entry_created", .entry = entry, .topic = topic, .parent = 0, .user = 2,
                     .role = "StudentEnrollment", .context_type = "Course", .context_id = COURSE, .ms = T0 + MINUTE,
                     .text = "<p>Chlorophyll absorbs red light.</p>" };
    entry_doc(created, &e);
    e.name = "discussion_entry_submitted";
    e.assignment = 649;
    e.submission = 567;
    entry_doc(submitted, &e);
}

static void assert_graded_entry(const entries *l, uint64_t id)
{
    const entry_got *e = find_entry(l, id);
    assert_opt(e->assignment, true, 649);
    assert_opt(e->submission, true, 567);
    assert_opt(e->user, true, 2);
    assert_opt(e->parent, false, 0);
    assert_string_equal(e->role, "StudentEnrollment");
    assert_string_equal(e->text, "<p>Chlorophyll absorbs red light.</p>");
    assert_int_equal(e->created_at, T0 + MINUTE);
}

static void test_entry_and_submitted_twin(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    doc d[2];
    /* created first, then submitted, in one batch */
    entry_twins(&d[0], &d[1], 201, 20);
    lv_counts c = write_docs(s, d, 2, false);
    assert_int_equal(c.stored, 2);
    /* submitted first, then created, each in its own transaction */
    entry_twins(&d[1], &d[0], 202, 21);
    write_one(s, &d[0]);
    write_one(s, &d[1]);

    entries l = topic_entries(s, 20);
    assert_int_equal(l.n, 1);
    assert_graded_entry(&l, 201);
    l = topic_entries(s, 21);
    assert_int_equal(l.n, 1);
    assert_graded_entry(&l, 202);
    /* each entry indexed once */
    assert_int_equal(search_count(s, "chlorophyll"), 2);
    /* both events are counted (they are two events) */
    assert_int_equal(stats(s).events, 4);
    drop_store(s, path);
}

static void test_reply_before_parent_and_topic(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    lv_error err;
    entry_spec reply = { .name = "discussion_entry_created", .entry = 302, .topic = 30, .parent = 301, .user = 1,
                         .role = "TeacherEnrollment", .context_type = "Course", .context_id = COURSE,
                         .ms = T0 + 2 * HOUR, .text = "<p>It does.</p>" };
    doc d;
    entry_doc(&d, &reply);
    write_one(s, &d);

    /* a stand-in row: the course as context, nothing else */
    lv_topic_row t;
    get_topic(s, 30, &t);
    assert_opt(t.context_id, true, COURSE);
    assert_str(t.context_type, "Course");
    assert_str(t.title, NULL);
    assert_str(t.body, NULL);
    assert_opt(t.updated_at, false, 0);
    assert_opt(t.created_at, false, 0);
    assert_opt(t.created_by, false, 0);
    assert_int_equal(t.search_key, 0);
    int64_t n_versions = -1;
    check(s->engine->topic(s, 30, &t, &n_versions, &err), &err);
    assert_int_equal(n_versions, 0);
    entries l = topic_entries(s, 30);
    assert_int_equal(l.n, 1);
    assert_opt(l.e[0].parent, true, 301);

    /* the parent, then the topic's own event, which names no context: the stand-in's stays */
    student_entry(&d, 301, 30, 2, T0 + HOUR, "<p>Does it?</p>");
    write_one(s, &d);
    bare_topic_doc(&d, "discussion_topic_created", 30, T0, 1, "Photosynthesis");
    write_one(s, &d);
    get_topic(s, 30, &t);
    assert_str(t.title, "Photosynthesis");
    assert_str(t.body, "<p>Now with a body.</p>");
    assert_opt(t.is_announcement, true, 1);
    assert_opt(t.updated_at, true, T0);
    assert_opt(t.created_at, true, T0);
    assert_opt(t.created_by, true, 1);
    assert_opt(t.context_id, true, COURSE);
    assert_str(t.context_type, "Course");
    l = topic_entries(s, 30);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.e[0].id, 301); /* by created_at */
    assert_opt(find_entry(&l, 302)->parent, true, 301);

    /* a later reply, written by a fresh projection (the store reopened: it knows nothing of topic
     * 30, so it asks for a stand-in again), leaves the topic as it is */
    lv_store_close(s);
    check(lv_store_open(path, NULL, &s, &err), &err);
    reply.entry = 303;
    reply.ms = T0 + 3 * HOUR;
    entry_doc(&d, &reply);
    write_one(s, &d);
    get_topic(s, 30, &t);
    assert_str(t.title, "Photosynthesis");
    assert_opt(t.updated_at, true, T0);
    assert_int_equal(topic_entries(s, 30).n, 3);

    /* a reply in a group's topic: the group is the stand-in's context; with no context, none */
    reply = (entry_spec){ .name = "discussion_entry_created", .entry = 401, .topic = 40, .user = 2,
                          .context_type = "Group", .context_id = 77, .ms = T0, .text = "<p>In a group.</p>" };
    entry_doc(&d, &reply);
    write_one(s, &d);
    get_topic(s, 40, &t);
    assert_opt(t.context_id, true, 77);
    assert_str(t.context_type, "Group");
    reply = (entry_spec){ .name = "discussion_entry_created", .entry = 501, .topic = 50, .user = 2, .ms = T0,
                          .text = "<p>Nowhere.</p>" };
    entry_doc(&d, &reply);
    write_one(s, &d);
    get_topic(s, 50, &t);
    assert_opt(t.context_id, false, 0);
    assert_str(t.context_type, NULL);
    drop_store(s, path);
}

/* ---- conversations ---- */

typedef struct timeline {
    lv_timeline_row r[8];
    size_t n;
} timeline;

static lv_status add_timeline(void *ctx, const lv_timeline_row *row, lv_error *err)
{
    (void)err;
    timeline *l = ctx;
    assert_true(l->n < 8);
    l->r[l->n++] = *row;
    return LV_OK;
}

static timeline conversation_timeline(lv_store *s, uint64_t id)
{
    timeline l = { 0 };
    lv_error err;
    check(s->engine->conversation_timeline(s, id, add_timeline, &l, &err), &err);
    return l;
}

static lv_conversation_row get_conversation(lv_store *s, uint64_t id)
{
    lv_conversation_row c;
    bool found = false;
    lv_error err;
    check(s->engine->get_conversation(s, id, &c, &found, &err), &err);
    assert_true(found);
    return c;
}

static void test_conversation_every_order(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    int order[5] = { 0, 1, 2, 3, 4 };
    int runs = 0;
    do {
        int id = 1000 + runs, message = 5000 + runs; /* message ids are unique in Canvas */
        doc d[5], arrival[5];
        /* a later creation (user 2), the earliest one (user 3), a message and its twin (another event
         * for the same message), users added at the latest update */
        conversation_doc(&d[0], "conversation_created", id, 2, T0 + 10 * MINUTE, T0 + 10 * MINUTE);
        conversation_doc(&d[1], "conversation_created", id, 3, T0, T0);
        message_doc(&d[2], id, message, 3, T0 + MINUTE, "a");
        message_doc(&d[3], id, message, 3, T0 + MINUTE, "b");
        conversation_doc(&d[4], "conversation_forwarded", id, 2, T0 + 40 * MINUTE, T0 + 40 * MINUTE);
        for (int i = 0; i < 5; i++)
            arrival[i] = d[order[i]];
        lv_counts c = write_docs(s, arrival, 5, runs % 2 == 1);
        assert_int_equal(c.stored, 5);
        assert_int_equal(c.duplicates, 0);

        lv_conversation_row row = get_conversation(s, (uint64_t)id);
        assert_opt(row.created_at, true, T0);
        assert_opt(row.created_by, true, 3);
        assert_opt(row.updated_at, true, T0 + 40 * MINUTE);
        timeline l = conversation_timeline(s, (uint64_t)id);
        assert_int_equal(l.n, 2);
        assert_true(l.r[0].message);
        assert_opt(l.r[0].message_id, true, message);
        assert_opt(l.r[0].user_id, true, 3);
        assert_opt(l.r[0].at, true, T0 + MINUTE);
        assert_int_equal(l.r[0].time_ms, T0 + MINUTE);
        assert_false(l.r[1].message);
        assert_opt(l.r[1].user_id, true, 2);
        assert_opt(l.r[1].at, true, T0 + 40 * MINUTE);
        runs++;
    } while (next_permutation(order, 5) && runs < 120);
    assert_int_equal(runs, 120);

    /* later: a message after the forward is the latest update; an older forward is not; the same
     * forward again is a duplicate, kept once */
    doc d[3];
    message_doc(&d[0], 1000, 502, 2, T0 + 50 * MINUTE, "c");
    conversation_doc(&d[1], "conversation_forwarded", 1000, 4, T0 + 5 * MINUTE, T0 + 5 * MINUTE);
    conversation_doc(&d[2], "conversation_forwarded", 1000, 2, T0 + 40 * MINUTE, T0 + 40 * MINUTE);
    lv_counts c = write_docs(s, d, 3, false);
    assert_int_equal(c.stored, 2);
    assert_int_equal(c.duplicates, 1);
    lv_conversation_row row = get_conversation(s, 1000);
    assert_opt(row.created_at, true, T0);
    assert_opt(row.created_by, true, 3);
    assert_opt(row.updated_at, true, T0 + 50 * MINUTE);
    timeline l = conversation_timeline(s, 1000);
    assert_int_equal(l.n, 4); /* message 5000, the older forward, the forward, message 502 */
    assert_opt(l.r[1].user_id, true, 4);
    assert_opt(l.r[3].message_id, true, 502);
    drop_store(s, path);
}

/* ---- duplicates and dead letters ---- */

typedef struct exported {
    char text[4][2048];
    size_t n;
} exported;

static lv_status keep_document(void *ctx, const char *raw, size_t len, lv_error *err)
{
    (void)err;
    exported *x = ctx;
    assert_true(x->n < 4 && len < sizeof x->text[0]);
    memcpy(x->text[x->n], raw, len);
    x->text[x->n++][len] = '\0';
    return LV_OK;
}

static exported export_all(lv_store *s, bool dead_letters)
{
    exported x = { 0 };
    lv_export_filter f = { .dead_letters = dead_letters };
    lv_error err;
    check(lv_store_export(s, &f, keep_document, &x, &err), &err);
    return x;
}

/* events per day and name of a course (by day, then name) */
typedef struct activity {
    struct { int64_t day, events; char name[64]; } r[8];
    size_t n;
} activity;

static lv_status add_activity(void *ctx, const lv_activity_row *row, lv_error *err)
{
    (void)err;
    activity *a = ctx;
    assert_true(a->n < 8);
    a->r[a->n].day = row->day;
    a->r[a->n].events = row->events;
    snprintf(a->r[a->n].name, sizeof a->r[a->n].name, "%.*s", (int)row->name.n, row->name.p);
    a->n++;
    return LV_OK;
}

static activity course_activity(lv_store *s, uint64_t course)
{
    activity a = { 0 };
    lv_error err;
    check(s->engine->course_activity(s, course, INT64_MIN, INT64_MAX, add_activity, &a, &err), &err);
    return a;
}

static int64_t user_events(lv_store *s, uint64_t user)
{
    int64_t n = -1;
    lv_error err;
    check(s->engine->user_events(s, user, &n, &err), &err);
    return n;
}

static void test_duplicates_stored_once(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    doc d[3];
    student_entry(&d[0], 601, 60, 2, T0, "<p>Once.</p>");
    d[1] = d[0];
    /* the same event, reformatted: white space, member order, the time in another zone */
    docf(&d[2],
         "{ \"body\" : { \"user_id\" : \"2\", \"text\" : \"<p>Once.</p>\", \"discussion_topic_id\" : \"60\",\n"
         "  \"discussion_entry_id\" : \"601\", \"created_at\" : \"2024-09-02T20:00:00+02:00\" },\n"
         "  \"metadata\" : { \"context_role\" : \"StudentEnrollment\", \"context_id\" : \"5\", \"context_type\" : "
         "\"Course\", \"user_id\" : \"2\", \"event_time\" : \"2024-09-02T18:00:00Z\", \"event_name\" : "
         "\"discussion_entry_created\" } }");
    lv_counts c = { 0 };
    begin(s);
    const char *texts[3] = { d[0].text, d[1].text, d[2].text };
    lv_batch *b = write_texts(s, texts, 3, &c);
    commit(s);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_STORED);
    assert_int_equal(lv_batch_outcome(b, 1, 0), LV_OUT_DUPLICATE);
    assert_int_equal(lv_batch_outcome(b, 2, 0), LV_OUT_DUPLICATE);
    lv_batch_free(b);
    assert_int_equal(c.stored, 1);
    assert_int_equal(c.duplicates, 2);
    assert_int_equal(c.documents, 3);
    /* and again in a later transaction */
    c = write_one(s, &d[2]);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.duplicates, 1);

    lv_stats_row st = stats(s);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.duplicates, 3);
    assert_int_equal(st.documents, 1);
    assert_int_equal(st.raw_bytes, (int64_t)strlen(d[0].text));
    assert_int_equal(topic_entries(s, 60).n, 1);
    assert_int_equal(search_count(s, "once"), 1);
    exported x = export_all(s, false);
    assert_int_equal(x.n, 1);
    assert_string_equal(x.text[0], d[0].text);
    /* the figures count it once */
    activity a = course_activity(s, COURSE);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.r[0].events, 1);
    assert_int_equal(user_events(s, 2), 1);
    drop_store(s, path);
}

static void test_dead_letter_kept_once(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    /* no discussion_entry_id: rejected */
    static const char rejected[] =
        "{\"metadata\":{\"event_name\":\"discussion_entry_created\",\"event_time\":\"2024-09-02T18:00:00Z\"},"
        "\"body\":{\"discussion_topic_id\":\"60\",\"user_id\":\"2\",\"text\":\"<p>x</p>\"}}";
    const char *texts[2] = { rejected, "{\"metadata\": nope" };
    lv_counts c = { 0 };
    begin(s);
    lv_batch *b = write_texts(s, texts, 2, &c);
    commit(s);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_DEAD_LETTER);
    assert_int_equal(lv_batch_outcome(b, 1, 0), LV_OUT_DEAD_LETTER);
    lv_batch_free(b);
    assert_int_equal(c.stored, 0);
    assert_int_equal(c.rejected, 2);
    /* the same bytes again: rejected again (the run says so), kept once (the store counts a duplicate) */
    c = (lv_counts){ 0 };
    begin(s);
    b = write_texts(s, texts, 1, &c);
    commit(s);
    assert_int_equal(lv_batch_outcome(b, 0, 0), LV_OUT_DEAD_LETTER);
    lv_batch_free(b);
    assert_int_equal(c.rejected, 1);
    assert_int_equal(c.duplicates, 0);

    lv_stats_row st = stats(s);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.dead_letters, 2);
    assert_int_equal(st.duplicates, 1);
    exported x = export_all(s, true);
    assert_int_equal(x.n, 2);
    assert_string_equal(x.text[0], rejected);
    assert_string_equal(x.text[1], "{\"metadata\": nope");
    assert_int_equal(export_all(s, false).n, 0);
    /* nothing of it became state */
    assert_int_equal(topic_entries(s, 60).n, 0);
    assert_int_equal(course_activity(s, COURSE).n, 0);
    drop_store(s, path);
}

/* ---- figures ---- */

typedef struct roles {
    struct { char role[32]; int64_t users, events; } r[8];
    size_t n;
} roles;

static lv_status add_role(void *ctx, const lv_role_row *row, lv_error *err)
{
    (void)err;
    roles *l = ctx;
    assert_true(l->n < 8);
    snprintf(l->r[l->n].role, sizeof l->r[l->n].role, "%.*s", (int)row->role.n, row->role.p ? row->role.p : "");
    l->r[l->n].users = row->users;
    l->r[l->n].events = row->events;
    l->n++;
    return LV_OK;
}

typedef struct counts {
    struct { char name[64]; int64_t canvas, caliper, total; } r[8];
    size_t n;
} counts;

static lv_status add_count(void *ctx, const lv_event_count_row *row, lv_error *err)
{
    (void)err;
    counts *l = ctx;
    assert_true(l->n < 8);
    snprintf(l->r[l->n].name, sizeof l->r[l->n].name, "%.*s", (int)row->name.n, row->name.p);
    l->r[l->n].canvas = row->canvas;
    l->r[l->n].caliper = row->caliper;
    l->r[l->n].total = row->total;
    l->n++;
    return LV_OK;
}

static void assert_activity(const activity *a, size_t i, int64_t day, const char *name, int64_t events)
{
    assert_true(i < a->n);
    assert_int_equal(a->r[i].day, day);
    assert_string_equal(a->r[i].name, name);
    assert_int_equal(a->r[i].events, events);
}

static void assert_role(const roles *l, size_t i, const char *role, int64_t users, int64_t events)
{
    assert_true(i < l->n);
    assert_string_equal(l->r[i].role, role);
    assert_int_equal(l->r[i].users, users);
    assert_int_equal(l->r[i].events, events);
}

static void assert_count(const counts *l, size_t i, const char *name, int64_t canvas, int64_t caliper)
{
    assert_true(i < l->n);
    assert_string_equal(l->r[i].name, name);
    assert_int_equal(l->r[i].canvas, canvas);
    assert_int_equal(l->r[i].caliper, caliper);
    assert_int_equal(l->r[i].total, canvas + caliper);
}

/* A Caliper envelope of two entries in course COURSE: user 2 (a Learner) on day 0, user 3 (no
 * membership, so no role) on day 1. */
static const char caliper_two_entries[] =
    "{\"sensor\":\"urn:instructure:canvas\",\"sendTime\":\"2024-09-02T18:00:00.000Z\","
    "\"dataVersion\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"data\":["
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9571\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:2\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:711\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>Caliper one</p>\"},"
    "\"eventTime\":\"2024-09-02T19:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:5\","
    "\"type\":\"CourseOffering\"},\"membership\":{\"id\":\"urn:instructure:canvas:course:5:Learner:2\","
    "\"type\":\"Membership\",\"member\":{\"id\":\"urn:instructure:canvas:user:2\",\"type\":\"Person\"},"
    "\"organization\":{\"id\":\"urn:instructure:canvas:course:5\",\"type\":\"CourseOffering\"},\"roles\":[\"Learner\"]}},"
    "{\"@context\":\"http://purl.imsglobal.org/ctx/caliper/v1p1\",\"id\":\"urn:uuid:85651907-2048-5c3d-bde1-833659cc9572\","
    "\"type\":\"MessageEvent\",\"actor\":{\"id\":\"urn:instructure:canvas:user:3\",\"type\":\"Person\"},"
    "\"action\":\"Posted\",\"object\":{\"id\":\"urn:instructure:canvas:discussionEntry:712\",\"type\":\"Message\","
    "\"isPartOf\":{\"id\":\"urn:instructure:canvas:discussion:70\",\"type\":\"Thread\"},\"body\":\"<p>Caliper two</p>\"},"
    "\"eventTime\":\"2024-09-03T19:00:00.000Z\",\"group\":{\"id\":\"urn:instructure:canvas:course:5\","
    "\"type\":\"CourseOffering\"}}]}";

typedef struct drifts {
    struct {
        char name[64], field[64];
        int64_t count, first, last;
    } row[8];
    size_t n;
} drifts;

static lv_status add_drift(void *ctx, const lv_drift_row *r, lv_error *err)
{
    (void)err;
    drifts *d = ctx;
    assert_true(d->n < 8);
    snprintf(d->row[d->n].name, sizeof d->row[d->n].name, "%.*s", (int)r->name.n, r->name.p);
    snprintf(d->row[d->n].field, sizeof d->row[d->n].field, "%.*s", (int)r->field.n, r->field.p);
    d->row[d->n].count = r->count;
    d->row[d->n].first = r->first_time;
    d->row[d->n].last = r->last_time;
    d->n++;
    return LV_OK;
}

static void assert_drift(const drifts *d, size_t i, const char *name, const char *field, int64_t count, int64_t first,
                         int64_t last)
{
    assert_string_equal(d->row[i].name, name);
    assert_string_equal(d->row[i].field, field);
    assert_int_equal(d->row[i].count, count);
    assert_int_equal(d->row[i].first, first);
    assert_int_equal(d->row[i].last, last);
}

static void test_figures_add_up(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    /* transaction 1: day 0: a topic by teacher 1, an entry by student 2; the Caliper envelope (day 0
     * and day 1); an event outside the model, in no course */
    doc d[4];
    topic_doc(&d[0], "discussion_topic_created", 70, T0, T0, 1, "Figures", "<p>Count.</p>");
    student_entry(&d[1], 701, 70, 2, T0 + MINUTE, "<p>One.</p>");
    docf(&d[2], "%s", caliper_two_entries);
    docf(&d[3], "{\"metadata\":{\"event_name\":\"asset_accessed\",\"event_time\":\"%s\",\"user_id\":\"9\"},"
                "\"body\":{\"asset_id\":\"1\"}}", iso(T0 - 2 * DAY));
    lv_counts c = write_docs(s, d, 4, false);
    assert_int_equal(c.stored, 5);
    assert_int_equal(c.outside_model, 1);
    /* transaction 2: day 0: student 2 again, a TA; day 1: the teacher updates the topic */
    student_entry(&d[0], 702, 70, 2, T0 + 2 * MINUTE, "<p>Two.</p>");
    entry_doc(&d[1], &(entry_spec){ .name = "discussion_entry_created", .entry = 703, .topic = 70, .user = 4,
                                    .role = "TaEnrollment", .context_type = "Course", .context_id = COURSE,
                                    .ms = T0 + 3 * MINUTE, .text = "<p>Three.</p>" });
    topic_doc(&d[2], "discussion_topic_updated", 70, T0 + DAY, T0 + DAY, 1, "Figures", "<p>Counted.</p>");
    c = write_docs(s, d, 3, false);
    assert_int_equal(c.stored, 3);

    activity a = course_activity(s, COURSE);
    assert_int_equal(a.n, 4);
    assert_activity(&a, 0, DAY0, "discussion_entry_created", 4); /* 701, 711 (Caliper), 702, 703 */
    assert_activity(&a, 1, DAY0, "discussion_topic_created", 1);
    assert_activity(&a, 2, DAY0 + 1, "discussion_entry_created", 1); /* 712 */
    assert_activity(&a, 3, DAY0 + 1, "discussion_topic_updated", 1);
    /* one day only */
    activity one = { 0 };
    lv_error err;
    check(s->engine->course_activity(s, COURSE, DAY0 + 1, DAY0 + 1, add_activity, &one, &err), &err);
    assert_int_equal(one.n, 2);

    roles r = { 0 };
    check(s->engine->course_roles(s, COURSE, INT64_MIN, INT64_MAX, add_role, &r, &err), &err);
    assert_int_equal(r.n, 4); /* most users first, then by role */
    assert_role(&r, 0, "", 1, 1);                 /* user 3, no membership */
    assert_role(&r, 1, "StudentEnrollment", 1, 3); /* user 2: 701, 711, 702 */
    assert_role(&r, 2, "TaEnrollment", 1, 1);
    assert_role(&r, 3, "TeacherEnrollment", 1, 2);

    counts n = { 0 };
    check(s->engine->event_counts(s, add_count, &n, &err), &err);
    assert_int_equal(n.n, 4); /* most first, then by name */
    assert_count(&n, 0, "discussion_entry_created", 3, 2);
    assert_count(&n, 1, "asset_accessed", 1, 0);
    assert_count(&n, 2, "discussion_topic_created", 1, 0);
    assert_count(&n, 3, "discussion_topic_updated", 1, 0);

    /* schema drift: the event outside the model, from transaction 1, and then, from two more
     * transactions, an unknown body field of a modelled event whose span widens both ways */
    drifts dr = { 0 };
    check(s->engine->drift(s, add_drift, &dr, &err), &err);
    assert_int_equal(dr.n, 1);
    assert_drift(&dr, 0, "asset_accessed", "", 1, T0 - 2 * DAY, T0 - 2 * DAY);
    for (int round = 0; round < 2; round++) {
        docf(&d[0], "{\"metadata\":{\"event_name\":\"conversation_created\",\"event_time\":\"%s\"},"
                    "\"body\":{\"conversation_id\":\"%d\",\"x/y\":1}}", iso(round ? T0 - 3 * DAY : T0 + 5 * DAY),
             80 + round);
        write_docs(s, d, 1, false);
    }
    dr.n = 0;
    check(s->engine->drift(s, add_drift, &dr, &err), &err);
    assert_int_equal(dr.n, 2); /* the most recently first seen first */
    assert_drift(&dr, 0, "asset_accessed", "", 1, T0 - 2 * DAY, T0 - 2 * DAY);
    assert_drift(&dr, 1, "conversation_created", "/body/x~1y", 2, T0 - 3 * DAY, T0 + 5 * DAY);

    assert_int_equal(user_events(s, 2), 3);
    assert_int_equal(user_events(s, 1), 2);
    assert_int_equal(user_events(s, 9), 0); /* in no course */
    lv_stats_row st = stats(s);
    assert_int_equal(st.events, 10);
    assert_opt(st.first_time, true, T0 - 3 * DAY);
    assert_opt(st.last_time, true, T0 + 5 * DAY);
    assert_int_equal(course_activity(s, 6).n, 0);
    drop_store(s, path);
}

static void test_rollback_leaves_nothing(void **state)
{
    (void)state;
    char path[256];
    lv_store *s = new_store(path);
    lv_error err;
    /* shard 2107: the entry's ids become global */
    doc d;
    entry_doc(&d, &(entry_spec){ .name = "discussion_entry_created", .entry = 801, .topic = 80, .user = 2,
                                 .role = "StudentEnrollment", .context_type = "Course", .context_id = COURSE,
                                 .ms = T0, .text = "<p>Rolled back.</p>", .root_account = "21070000000000001" });
    const uint64_t topic = 2107 * LV_SHARD_FACTOR + 80, course = 2107 * LV_SHARD_FACTOR + COURSE;
    const uint64_t user = 2107 * LV_SHARD_FACTOR + 2;
    /* a committed transaction before, for the figures to add to */
    doc before;
    student_entry(&before, 901, 90, 3, T0, "<p>Before.</p>");
    write_one(s, &before);

    begin(s);
    lv_counts c = { 0 };
    const char *text = d.text;
    lv_batch_free(write_texts(s, &text, 1, &c));
    assert_int_equal(c.stored, 1);
    lv_topic_row t;
    get_topic(s, topic, &t); /* inside the transaction, the stand-in row is there */
    lv_store_rollback(s);

    int64_t n_versions;
    assert_int_equal(s->engine->topic(s, topic, &t, &n_versions, &err), LV_ENOTFOUND);
    assert_int_equal(topic_entries(s, topic).n, 0);
    assert_int_equal(course_activity(s, course).n, 0);
    assert_int_equal(user_events(s, user), 0);
    assert_int_equal(search_count(s, "rolled"), 0);
    lv_stats_row st = stats(s);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.duplicates, 0);
    assert_opt(st.first_time, true, T0);
    uint64_t global = 0;
    check(lv_store_resolve_id(s, 80, &global, &err), &err);
    assert_int_equal(global, 80); /* no shard known */
    assert_int_equal(export_all(s, false).n, 1);

    /* the same events again: stored (not duplicates), with the stand-in row and the account again */
    c = write_one(s, &d);
    assert_int_equal(c.stored, 1);
    assert_int_equal(c.duplicates, 0);
    get_topic(s, topic, &t);
    assert_opt(t.context_id, true, (int64_t)course);
    assert_str(t.context_type, "Course");
    assert_str(t.title, NULL);
    check(lv_store_resolve_id(s, 80, &global, &err), &err);
    assert_int_equal(global, topic);
    activity a = course_activity(s, course);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.r[0].events, 1);
    assert_int_equal(user_events(s, user), 1);
    assert_int_equal(search_count(s, "rolled"), 1);
    st = stats(s);
    assert_int_equal(st.events, 2);
    assert_int_equal(course_activity(s, COURSE).n, 1); /* the first transaction's, unchanged */
    assert_int_equal(course_activity(s, COURSE).r[0].events, 1);
    drop_store(s, path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_versions_distinct_updated_at),
        cmocka_unit_test(test_topic_versions_equal_updated_at),
        cmocka_unit_test(test_topic_created_is_earliest_creation),
        cmocka_unit_test(test_entry_and_submitted_twin),
        cmocka_unit_test(test_reply_before_parent_and_topic),
        cmocka_unit_test(test_conversation_every_order),
        cmocka_unit_test(test_duplicates_stored_once),
        cmocka_unit_test(test_dead_letter_kept_once),
        cmocka_unit_test(test_figures_add_up),
        cmocka_unit_test(test_rollback_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
