/* catalog.c: the event catalog itself (the tables), lookups into it, and its Markdown rendering.
 * Facts come from Canvas's Live Events documentation and ../shared/DOMAIN.md: field names, types,
 * which ids are local, and where Canvas's Caliper form puts each field. */
#include "levee/catalog.h"

#include "caliper_internal.h"

#include <pthread.h>
#include <string.h>

#define EXT(obj, key) obj "extensions/" LV_CALIPER_EXT "/" key
#define ACTOR_EXT(key) EXT("actor/", key)
#define EVENT_EXT(key) EXT("", key)
#define GROUP_EXT(key) EXT("group/", key)
#define OBJECT_EXT(key) EXT("object/", key)
#define MEMBERSHIP_EXT(key) EXT("membership/", key)

static const char *const producer_values[] = { "canvas", NULL };
static const char *const http_method_values[] = { "GET", "POST", "PUT", "PATCH", "DELETE",
                                                   "HEAD", "OPTIONS", NULL };
static const char *const topic_context_types[] = { "Course", "Group", NULL };
static const char *const workflow_states[] = { "active", "deleted", "post_delayed", "unpublished",
                                               NULL };

/* A body field's name and key, from the one list of names (levee/catalog.h). */
#define LV_CATALOG_NAME_(id, text) text,
const char lv_body_field_names[LV_BODY_KEYS][LV_FIELD_NAME_MAX] = { LV_BODY_FIELDS(LV_CATALOG_NAME_) };
static const char kind_names[LV_KIND_COUNT][LV_FIELD_NAME_MAX] = { LV_KINDS(LV_CATALOG_NAME_) };
#undef LV_CATALOG_NAME_
#define B(key) lv_body_field_names[LV_B_##key], LV_B_##key
#define K(id) LV_K_##id, kind_names[LV_K_##id]

#define N LV_F_NULLABLE
#define S LV_F_SHARDED
#define R LV_F_REQUIRED
#define P LV_F_PERSON
#define PI LV_F_PERSONAL

const char lv_url_query_name[] = "url_query";

const lv_field lv_metadata_fields[LV_META_COUNT] = {
    [LV_M_ROOT_ACCOUNT_ID] = { "root_account_id", LV_M_ROOT_ACCOUNT_ID, LV_T_ID, 0, NULL,
        "The Canvas id of the root account; its shard resolves the event's local ids.",
        { { ACTOR_EXT("root_account_id"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_ROOT_ACCOUNT_UUID] = { "root_account_uuid", LV_M_ROOT_ACCOUNT_UUID, LV_T_STRING, N, NULL,
        "The Canvas uuid of the root account.",
        { { ACTOR_EXT("root_account_uuid"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_ROOT_ACCOUNT_LTI_GUID] = { "root_account_lti_guid", LV_M_ROOT_ACCOUNT_LTI_GUID, LV_T_STRING, N, NULL,
        "The Canvas lti_guid of the root account.",
        { { ACTOR_EXT("root_account_lti_guid"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_EVENT_NAME] = { "event_name", LV_M_EVENT_NAME, LV_T_STRING, R, NULL,
        "The event type, e.g. discussion_entry_created.", { { 0 } } },
    [LV_M_EVENT_TIME] = { "event_time", LV_M_EVENT_TIME, LV_T_TIME, R, NULL,
        "When Canvas emitted the event (UTC, milliseconds).",
        { { "eventTime", LV_CF_TIME, NULL, 0 } } },
    [LV_M_PRODUCER] = { "producer", LV_M_PRODUCER, LV_T_ENUM, N, producer_values, "Always \"canvas\".", { { 0 } } },
    [LV_M_JOB_ID] = { "job_id", LV_M_JOB_ID, LV_T_ID, N, NULL,
        "The asynchronous job that emitted a system-generated event.",
        { { EVENT_EXT("job_id"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_JOB_TAG] = { "job_tag", LV_M_JOB_TAG, LV_T_STRING, N, NULL,
        "What the job was doing, e.g. Canvas::Migration::Worker::CourseCopyWorker#perform.",
        { { EVENT_EXT("job_tag"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_USER_ID] = { "user_id", LV_M_USER_ID, LV_T_ID, N | S | P, NULL, "The Canvas id of the user who acted.",
        { { "actor/id", LV_CF_URN, "user", 0 },
          { ACTOR_EXT("entity_id"), LV_CF_VALUE, NULL, 0 },
          { "membership/member/id", LV_CF_URN, "user", 0 } } },
    [LV_M_USER_LOGIN] = { "user_login", LV_M_USER_LOGIN, LV_T_STRING, N | PI, NULL, "The user's login.",
        { { ACTOR_EXT("user_login"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_USER_ACCOUNT_ID] = { "user_account_id", LV_M_USER_ACCOUNT_ID, LV_T_ID, N | S, NULL,
        "The account the user belongs to.", { { 0 } } },
    [LV_M_USER_SIS_ID] = { "user_sis_id", LV_M_USER_SIS_ID, LV_T_STRING, N | PI, NULL, "The user's SIS id.",
        { { ACTOR_EXT("user_sis_id"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_REAL_USER_ID] = { "real_user_id", LV_M_REAL_USER_ID, LV_T_ID, N | S | P, NULL,
        "The user masquerading as user_id, if any.",
        { { ACTOR_EXT("real_user_id"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_TIME_ZONE] = { "time_zone", LV_M_TIME_ZONE, LV_T_STRING, N, NULL, "The user's time zone (may be null).",
        { { 0 } } },
    [LV_M_DEVELOPER_KEY_ID] = { "developer_key_id", LV_M_DEVELOPER_KEY_ID, LV_T_ID, N, NULL,
        "The developer key of the access token, for requests by a token or tool.", { { 0 } } },
    [LV_M_CONTEXT_TYPE] = { "context_type", LV_M_CONTEXT_TYPE, LV_T_STRING, N, NULL,
        "The type of the context: Course, Group, Account, User, ...",
        { { GROUP_EXT("context_type"), LV_CF_VALUE, NULL, 0 },
          { "group/type", LV_CF_CONTEXT_TYPE, NULL, 0 },
          { "membership/organization/type", LV_CF_CONTEXT_TYPE, NULL, 0 } } },
    [LV_M_CONTEXT_ID] = { "context_id", LV_M_CONTEXT_ID, LV_T_ID, N | S, NULL, "The Canvas id of the context.",
        { { "group/id", LV_CF_CONTEXT_URN, NULL, 0 },
          { GROUP_EXT("entity_id"), LV_CF_VALUE, NULL, 0 },
          { "membership/organization/id", LV_CF_CONTEXT_URN, NULL, 0 },
          { "membership/id", LV_CF_MEMBERSHIP_ID, NULL, 0 } } },
    [LV_M_CONTEXT_SIS_SOURCE_ID] = { "context_sis_source_id", LV_M_CONTEXT_SIS_SOURCE_ID, LV_T_STRING, N, NULL,
        "The SIS id of the context.", { { 0 } } },
    [LV_M_CONTEXT_ACCOUNT_ID] = { "context_account_id", LV_M_CONTEXT_ACCOUNT_ID, LV_T_ID, N | S, NULL,
        "The account the context belongs to.", { { 0 } } },
    [LV_M_CONTEXT_ROLE] = { "context_role", LV_M_CONTEXT_ROLE, LV_T_STRING, N, NULL,
        "The user's role in the context: StudentEnrollment, TeacherEnrollment, ... or a custom role.",
        { { MEMBERSHIP_EXT("context_role"), LV_CF_CUSTOM_ROLE, NULL, 0 },
          { "membership/roles/0", LV_CF_ROLE, NULL, 0 } } },
    [LV_M_REQUEST_ID] = { "request_id", LV_M_REQUEST_ID, LV_T_STRING, N, NULL,
        "The HTTP request that caused the event; shared by all events of one request.",
        { { EVENT_EXT("request_id"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_SESSION_ID] = { "session_id", LV_M_SESSION_ID, LV_T_STRING, N | PI, NULL, "The user's session.",
        { { "session/id", LV_CF_URN, "session", 0 } } },
    [LV_M_HOSTNAME] = { "hostname", LV_M_HOSTNAME, LV_T_STRING, N, NULL, "The Canvas host that served the request.",
        { { EVENT_EXT("hostname"), LV_CF_VALUE, NULL, 0 },
          { "edApp/id", LV_CF_HOST_URL, NULL, 0 } } },
    [LV_M_HTTP_METHOD] = { "http_method", LV_M_HTTP_METHOD, LV_T_ENUM, N, http_method_values,
        "The HTTP method of the request.", { { 0 } } },
    [LV_M_USER_AGENT] = { "user_agent", LV_M_USER_AGENT, LV_T_STRING, N | PI, NULL, "The browser's User-Agent.",
        { { EVENT_EXT("user_agent"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_CLIENT_IP] = { "client_ip", LV_M_CLIENT_IP, LV_T_STRING, N | PI, NULL, "The client's IP address.",
        { { EVENT_EXT("client_ip"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_URL] = { "url", LV_M_URL, LV_T_STRING, N | PI, NULL, "The URL of the request.",
        { { EVENT_EXT("request_url"), LV_CF_VALUE, NULL, 0 } } },
    [LV_M_REFERRER] = { "referrer", LV_M_REFERRER, LV_T_STRING, N | PI, NULL, "The page the user came from (may be null).",
        { { "referrer", LV_CF_VALUE, NULL, 0 } } },
};

/* ---- body fields; fields shared by several kinds are defined once ---- */

#define F_CONVERSATION_ID                                                                          \
    { B(CONVERSATION_ID), LV_T_ID, R | S, NULL, "The Canvas id of the conversation.", { { 0 } } }
#define F_CONVERSATION_UPDATED_AT                                                                  \
    { B(UPDATED_AT), LV_T_TIME, 0, NULL, "When the conversation was last updated.", { { 0 } } }

static const lv_field conversation_fields[] = { F_CONVERSATION_ID, F_CONVERSATION_UPDATED_AT };

static const lv_field conversation_message_fields[] = {
    { B(AUTHOR_ID), LV_T_ID, R | S | P, NULL, "The Canvas id of the author.", { { 0 } } },
    F_CONVERSATION_ID,
    { B(CREATED_AT), LV_T_TIME, 0, NULL, "When the message was created.", { { 0 } } },
    { B(MESSAGE_ID), LV_T_ID, R | S, NULL, "The Canvas id of the conversation message.", { { 0 } } },
};

#define F_ASSIGNMENT_ID(doc) { B(ASSIGNMENT_ID), LV_T_ID, N | S, NULL, doc, { { 0 } } }
#define F_ENTRY_CREATED_AT                                                                         \
    { B(CREATED_AT), LV_T_TIME, 0, NULL, "When the entry was created.", { { 0 } } }
#define F_ENTRY_ID                                                                                 \
    { B(DISCUSSION_ENTRY_ID), LV_T_ID, R | S, NULL, "The Canvas id of the new entry.",              \
      { { "object/id", LV_CF_URN, "discussionEntry", 0 },                                          \
        { OBJECT_EXT("entity_id"), LV_CF_VALUE, NULL, 0 } } }
#define F_ENTRY_TOPIC_ID                                                                           \
    { B(DISCUSSION_TOPIC_ID), LV_T_ID, R | S, NULL, "The Canvas id of the topic the entry is in.",  \
      { { "object/isPartOf/id", LV_CF_URN, "discussion", 0 } } }
#define F_ENTRY_PARENT_ID                                                                          \
    { B(PARENT_DISCUSSION_ENTRY_ID), LV_T_ID, N | S, NULL,                                          \
      "The entry this one replies to (only on replies).",                                          \
      { { "object/replyTo/id", LV_CF_URN, "discussionEntry", 0 } } }
#define F_ENTRY_TEXT                                                                               \
    { B(TEXT), LV_T_HTML, N, NULL, "The entry's HTML, cut to 8192 characters.",                     \
      { { "object/body", LV_CF_VALUE, NULL, 0 } } }
#define F_ENTRY_USER_ID                                                                            \
    { B(USER_ID), LV_T_ID, R | S | P, NULL, "The Canvas id of the user who posted the entry.",          \
      { { "actor/id", LV_CF_URN, "user", LV_CP_LOCAL } } }

static const lv_field entry_created_fields[] = {
    F_ENTRY_CREATED_AT, F_ENTRY_ID, F_ENTRY_TOPIC_ID, F_ENTRY_PARENT_ID, F_ENTRY_TEXT, F_ENTRY_USER_ID,
};

static const lv_field entry_submitted_fields[] = {
    F_ASSIGNMENT_ID("The assignment of the graded topic."),
    F_ENTRY_CREATED_AT, F_ENTRY_ID, F_ENTRY_TOPIC_ID, F_ENTRY_PARENT_ID,
    { B(SUBMISSION_ID), LV_T_ID, N | S, NULL, "The submission the entry counts as.", { { 0 } } },
    F_ENTRY_TEXT, F_ENTRY_USER_ID,
};

static const lv_field topic_fields[] = {
    F_ASSIGNMENT_ID("The assignment of a graded topic, or null."),
    { B(BODY), LV_T_HTML, N, NULL, "The topic's HTML message, cut to 8192 characters.", { { 0 } } },
    { B(CONTEXT_ID), LV_T_ID, S, NULL, "The Canvas id of the topic's course or group.",
      { { GROUP_EXT("entity_id"), LV_CF_VALUE, NULL, LV_CP_LOCAL },
        { "group/id", LV_CF_CONTEXT_URN, NULL, LV_CP_LOCAL } } },
    { B(CONTEXT_TYPE), LV_T_ENUM, 0, topic_context_types, "Course or Group.",
      { { GROUP_EXT("context_type"), LV_CF_VALUE, NULL, 0 },
        { "group/type", LV_CF_CONTEXT_TYPE, NULL, 0 } } },
    { B(DISCUSSION_TOPIC_ID), LV_T_ID, R | S, NULL, "The Canvas id of the topic.",
      { { "object/id", LV_CF_URN, "discussion", 0 },
        { OBJECT_EXT("entity_id"), LV_CF_VALUE, NULL, 0 } } },
    { B(IS_ANNOUNCEMENT), LV_T_BOOL, 0, NULL, "true for an announcement.",
      { { OBJECT_EXT("is_announcement"), LV_CF_VALUE, NULL, 0 } } },
    { B(LOCK_AT), LV_T_TIME, N, NULL, "When the topic locks, or null.", { { 0 } } },
    { B(TITLE), LV_T_TEXT, N, NULL, "The topic's title, cut to 8192 characters.",
      { { "object/name", LV_CF_VALUE, NULL, 0 } } },
    { B(UPDATED_AT), LV_T_TIME, 0, NULL, "When the topic was last modified in any way.", { { 0 } } },
    { B(WORKFLOW_STATE), LV_T_ENUM, 0, workflow_states, "The topic's state.", { { 0 } } },
};

static const lv_caliper_kind entry_caliper = { "MessageEvent", "Posted", "Message", "discussionEntry" };
static const lv_caliper_kind topic_caliper = { "ThreadEvent", "Created", "Thread", "discussion" };

#define FIELDS(a) a, sizeof a / sizeof a[0]

const lv_kind lv_kinds[LV_KIND_COUNT] = {
    { K(CONVERSATION_CREATED), LV_SUBJECT_CONVERSATION, LV_ACTION_CREATED, "conversations started", LV_FAMILY_CONVERSATION,
      "The event is emitted anytime a new conversation is initiated by the sender.",
      "Triggered when a new conversation is created.", FIELDS(conversation_fields), NULL },
    { K(CONVERSATION_FORWARDED), LV_SUBJECT_CONVERSATION, LV_ACTION_FORWARDED, "conversations forwarded", LV_FAMILY_CONVERSATION,
      "The event is emitted when a conversation is updated.",
      "Triggered when a new user is added to a conversation (only when at least one user is really "
      "added).", FIELDS(conversation_fields), NULL },
    { K(CONVERSATION_MESSAGE_CREATED), LV_SUBJECT_MESSAGE, LV_ACTION_CREATED, "conversation messages", LV_FAMILY_CONVERSATION,
      "The event is emitted anytime a new conversation message is added to a conversation.",
      "Triggered when a new conversation message is created, including the system message that "
      "records added users.", FIELDS(conversation_message_fields), NULL },
    { K(DISCUSSION_ENTRY_CREATED), LV_SUBJECT_ENTRY, LV_ACTION_CREATED, "entries posted", LV_FAMILY_DISCUSSION,
      "The event is emitted anytime an end user or a system replies to a discussion topic or thread.",
      "Triggered when a user replies to the discussion topic or thread.",
      FIELDS(entry_created_fields), &entry_caliper },
    { K(DISCUSSION_ENTRY_SUBMITTED), LV_SUBJECT_ENTRY, LV_ACTION_SUBMITTED, "graded entries submitted", LV_FAMILY_DISCUSSION,
      "The event is emitted when an entry is posted to a graded discussion topic.",
      "Triggered in addition to discussion_entry_created when the topic is graded.",
      FIELDS(entry_submitted_fields), NULL },
    { K(DISCUSSION_TOPIC_CREATED), LV_SUBJECT_TOPIC, LV_ACTION_CREATED, "topics created", LV_FAMILY_DISCUSSION,
      "The event is emitted anytime a new discussion topic is created by an end user or API request.",
      "Triggered when a new discussion topic is created in a course, and when a course announcement "
      "is created (is_announcement true).", FIELDS(topic_fields), &topic_caliper },
    { K(DISCUSSION_TOPIC_UPDATED), LV_SUBJECT_TOPIC, LV_ACTION_UPDATED, "topics updated", LV_FAMILY_DISCUSSION,
      "The event is emitted anytime a discussion topic or course announcement is updated by an end "
      "user or API request.",
      "Triggered when a topic or announcement is saved with a change to any field of the body other "
      "than updated_at alone.", FIELDS(topic_fields), NULL },
};

const size_t lv_kind_count = sizeof lv_kinds / sizeof lv_kinds[0];

#undef N
#undef S
#undef R
#undef P
#undef PI
#undef B
#undef K

/* ---- lookups: a small open-addressing hash over all names, built once ---- */

#define NAME_SLOTS 256

typedef struct name_slot {
    const char *name;
    size_t len;
    const lv_kind *kind; /* for event names */
    int meta;            /* for metadata field names, or -1 */
} name_slot;

static name_slot name_table[NAME_SLOTS];
static pthread_once_t name_table_once = PTHREAD_ONCE_INIT;

/* Field and event names differ in length and in a few characters; hashing those is enough
 * (collisions are resolved by comparing whole names) and much cheaper than hashing every byte. */
static uint32_t hash_name(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    uint32_t h = (uint32_t)len * 2654435761u;
    h ^= (unsigned char)s[0] * 31u;
    h ^= (unsigned char)s[len / 2] * 1031u;
    h ^= (unsigned char)s[len - 1] * 65537u;
    h ^= (unsigned char)s[len > 6 ? 6 : 0] * 7919u;
    return h ^ (h >> 11);
}

static name_slot *slot_for(const char *name, size_t len, bool insert)
{
    uint32_t i = hash_name(name, len) & (NAME_SLOTS - 1);
    for (;;) {
        name_slot *s = &name_table[i];
        if (!s->name) {
            if (!insert)
                return NULL;
            s->name = name;
            s->len = len;
            s->meta = -1;
            return s;
        }
        if (s->len == len && memcmp(s->name, name, len) == 0)
            return s;
        i = (i + 1) & (NAME_SLOTS - 1);
    }
}

static void build_name_table(void)
{
    for (size_t k = 0; k < lv_kind_count; k++)
        slot_for(lv_kinds[k].name, strlen(lv_kinds[k].name), true)->kind = &lv_kinds[k];
    for (int m = 0; m < LV_META_COUNT; m++) {
        const char *n = lv_metadata_fields[m].name;
        slot_for(n, strlen(n), true)->meta = m;
    }
}

const lv_kind *lv_kind_find(const char *name, size_t len)
{
    pthread_once(&name_table_once, build_name_table);
    name_slot *s = slot_for(name, len, false);
    return s ? s->kind : NULL;
}

int lv_meta_index(const char *name, size_t len)
{
    pthread_once(&name_table_once, build_name_table);
    name_slot *s = slot_for(name, len, false);
    return s ? s->meta : -1;
}

int lv_kind_field_of(const lv_kind *kind, lv_body_key key)
{
    for (size_t i = 0; i < kind->n_fields; i++)
        if (kind->fields[i].key == (int)key)
            return (int)i;
    return -1;
}

int lv_kind_field_index(const lv_kind *kind, const char *name, size_t len)
{
    for (size_t i = 0; i < kind->n_fields; i++) {
        const char *f = kind->fields[i].name;
        if (f[0] == name[0] && strlen(f) == len && memcmp(f, name, len) == 0)
            return (int)i;
    }
    return -1;
}

const lv_kind *lv_kind_for_caliper(const char *type, size_t type_len, const char *action,
                                   size_t action_len)
{
    for (size_t k = 0; k < lv_kind_count; k++) {
        const lv_caliper_kind *c = lv_kinds[k].caliper;
        if (c && strlen(c->type) == type_len && memcmp(c->type, type, type_len) == 0 &&
            strlen(c->action) == action_len && memcmp(c->action, action, action_len) == 0)
            return &lv_kinds[k];
    }
    return NULL;
}

const char *lv_action_name(lv_action a)
{
    switch (a) {
    case LV_ACTION_CREATED: return "created";
    case LV_ACTION_UPDATED: return "updated";
    case LV_ACTION_FORWARDED: return "forwarded";
    case LV_ACTION_SUBMITTED: return "submitted";
    }
    return "?";
}

const char *lv_field_type_name(lv_field_type t)
{
    switch (t) {
    case LV_T_ID: return "id";
    case LV_T_TIME: return "timestamp";
    case LV_T_STRING: return "string";
    case LV_T_TEXT: return "text (max 8192 characters)";
    case LV_T_HTML: return "HTML (max 8192 characters)";
    case LV_T_BOOL: return "boolean";
    case LV_T_ENUM: return "enumeration";
    }
    return "?";
}

/* Canvas enrollment types and the Caliper 1.1 roles Canvas gives them. The first row for a Caliper
 * role is the one it maps back to; a role with a context type exists only in contexts of that type
 * (in a course, Member is a custom role, not GroupMembership). */
static const struct { const char *canvas, *caliper, *context; } roles[] = {
    { "StudentEnrollment", "Learner", NULL },
    { "TeacherEnrollment", "Instructor", NULL },
    { "TaEnrollment", "Instructor#TeachingAssistant", NULL },
    { "DesignerEnrollment", "ContentDeveloper", NULL },
    { "ObserverEnrollment", "Mentor", NULL },
    { "AccountAdmin", "Administrator", NULL },
    { "GroupMembership", "Member", "Group" },
};

const char *lv_caliper_role_for(const char *canvas_role, size_t len)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i].canvas) == len && memcmp(roles[i].canvas, canvas_role, len) == 0)
            return roles[i].caliper;
    return NULL;
}

const char *lv_canvas_role_for(const char *caliper_role, size_t len)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i].caliper) == len && memcmp(roles[i].caliper, caliper_role, len) == 0)
            return roles[i].canvas;
    return NULL;
}

const char *lv_canvas_role_context(const char *canvas_role, size_t len)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strlen(roles[i].canvas) == len && memcmp(roles[i].canvas, canvas_role, len) == 0)
            return roles[i].context;
    return NULL;
}

/* ---- the catalog page ---- */

static void caliper_path_markdown(lv_buf *out, const lv_caliper_place *p)
{
    /* "actor/extensions/com.instructure.canvas/user_login" -> actor.extensions["com.instructure.canvas"].user_login */
    lv_buf_puts(out, "`");
    const char *s = p->path;
    bool first = true;
    while (*s) {
        const char *end = strchr(s, '/');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (memchr(s, '.', n) || memchr(s, '@', n))
            lv_buf_printf(out, "[\"%.*s\"]", (int)n, s);
        else if (n && s[0] >= '0' && s[0] <= '9')
            lv_buf_printf(out, "[%.*s]", (int)n, s);
        else
            lv_buf_printf(out, "%s%.*s", first ? "" : ".", (int)n, s);
        first = false;
        s += n;
        if (*s == '/')
            s++;
    }
    lv_buf_puts(out, "`");
    switch (p->form) {
    case LV_CF_URN: lv_buf_printf(out, " (`urn:instructure:canvas:%s:<id>`)", p->urn); break;
    case LV_CF_HOST_URL: lv_buf_puts(out, " (`http://<hostname>/`)"); break;
    case LV_CF_CONTEXT_URN:
        lv_buf_puts(out, " (`urn:instructure:canvas:<context kind>:<id>`, the kind by context type)");
        break;
    case LV_CF_CONTEXT_TYPE: lv_buf_puts(out, " (the Caliper type of the context type)"); break;
    case LV_CF_ROLE: lv_buf_puts(out, " (the Caliper role of the Canvas role)"); break;
    case LV_CF_CUSTOM_ROLE:
        lv_buf_puts(out, " (the Canvas role's name, only for a role with no Caliper term, such as a custom role)");
        break;
    case LV_CF_MEMBERSHIP_ID:
        lv_buf_puts(out, " (`urn:instructure:canvas:<context kind>:<context_id>:<Caliper role>:<user_id>`, "
                         "or `...:<context_id>:user:<user_id>` without a role)");
        break;
    default: break;
    }
}

/* What the Caliper column's context and role forms mean, from the tables the code converts with. */
static void caliper_contexts_markdown(lv_buf *out)
{
    lv_buf_puts(out, "Contexts: the context type gives the Caliper type and the URN of `group` and "
                     "`membership.organization`: ");
    for (size_t i = 0; i < LV__CALIPER_CONTEXT_COUNT; i++) {
        const lv__caliper_context *c = &lv__caliper_contexts[i];
        lv_buf_printf(out, "%s%s gives `%s` and `urn:instructure:canvas:%s:<id>`",
                      i == 0 ? "" : i + 1 == LV__CALIPER_CONTEXT_COUNT ? " and " : ", ", c->canvas, c->caliper,
                      c->urn);
    }
    lv_buf_puts(out, ". A context of another type, or with no type, has no Caliper form: `group` and "
                     "`membership` are left out, and the context is not carried.\n\n");
    lv_buf_puts(out, "Roles: the Caliper 1.1 role of each Canvas role is ");
    size_t n = sizeof roles / sizeof roles[0];
    for (size_t i = 0; i < n; i++)
        lv_buf_printf(out, "%s%s `%s`", i == 0 ? "" : i + 1 == n ? " and " : ", ", roles[i].canvas,
                      roles[i].caliper);
    lv_buf_puts(out, "; any other role (an institution's custom role) is `Member`, and its name goes in "
                     "`membership.extensions[\"" LV_CALIPER_EXT "\"].context_role`, so it comes back.");
    for (size_t i = 0; i < n; i++)
        if (roles[i].context)
            lv_buf_printf(out, " Read back, `%s` is %s only in a %s context.", roles[i].caliper, roles[i].canvas,
                          roles[i].context);
    lv_buf_puts(out, " What the Caliper form cannot carry: the name of a custom role when that extension "
                     "is absent (Canvas's own Caliper has none), so such a `Member` of a course reads back "
                     "with no `context_role`.\n\n");
}

static void field_rows(lv_buf *out, const lv_field *fields, size_t n, bool with_caliper)
{
    lv_buf_puts(out, with_caliper ? "| field | type | required | null | Caliper |\n|---|---|---|---|---|\n"
                                  : "| field | type | required | null |\n|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const lv_field *f = &fields[i];
        lv_buf_printf(out, "| `%s` | %s", f->name, lv_field_type_name(f->type));
        if (f->type == LV_T_ENUM && f->values) {
            lv_buf_puts(out, ": ");
            for (const char *const *v = f->values; *v; v++)
                lv_buf_printf(out, "%s`%s`", v == f->values ? "" : ", ", *v);
        }
        if (f->type == LV_T_ID)
            lv_buf_puts(out, (f->flags & LV_F_SHARDED) ? " (local ids made global)" : " (kept as sent)");
        lv_buf_printf(out, " | %s | %s |", (f->flags & LV_F_REQUIRED) ? "yes" : "no",
                      (f->flags & LV_F_NULLABLE) ? "may be null" : "no");
        if (with_caliper) {
            lv_buf_puts(out, " ");
            bool any = false;
            for (int p = 0; p < LV_CALIPER_PLACES && f->caliper[p].path; p++) {
                if (any)
                    lv_buf_puts(out, "; ");
                caliper_path_markdown(out, &f->caliper[p]);
                any = true;
            }
            lv_buf_puts(out, any ? " |" : "not carried |");
        }
        lv_buf_printf(out, "\n");
    }
    lv_buf_puts(out, "\n");
    for (size_t i = 0; i < n; i++)
        lv_buf_printf(out, "- `%s`: %s\n", fields[i].name, fields[i].doc);
    lv_buf_puts(out, "\n");
}

void lv_catalog_markdown(lv_buf *out)
{
    lv_buf_puts(out,
        "## Metadata (every event)\n\n"
        "Every Canvas event, modeled or not, carries these in `metadata`. Only `event_name` and "
        "`event_time` are required; Canvas omits or nulls the rest depending on whether a user's "
        "request or a background job caused the event. The Caliper column shows where Canvas's "
        "Caliper form carries the field (paths inside `data[0]`).\n\n");
    caliper_contexts_markdown(out);
    field_rows(out, lv_metadata_fields, LV_META_COUNT, true);
    for (size_t k = 0; k < lv_kind_count; k++) {
        const lv_kind *kind = &lv_kinds[k];
        lv_buf_printf(out, "## %s\n\n", kind->name);
        lv_buf_printf(out, "Family: %s.  \n", kind->family == LV_FAMILY_CONVERSATION ? "conversation" : "discussion");
        lv_buf_printf(out, "Definition: %s  \n", kind->definition);
        lv_buf_printf(out, "Trigger: %s  \n", kind->trigger);
        if (kind->caliper)
            lv_buf_printf(out, "Caliper: a `%s` with action `%s` whose object is a `%s` "
                          "(`urn:instructure:canvas:%s:<id>`).\n\n",
                          kind->caliper->type, kind->caliper->action, kind->caliper->object_type,
                          kind->caliper->object_urn);
        else
            lv_buf_puts(out, "Caliper: Canvas documents no Caliper form; `levee convert --to caliper` "
                             "refuses it.\n\n");
        field_rows(out, kind->fields, kind->n_fields, kind->caliper != NULL);
    }
}
