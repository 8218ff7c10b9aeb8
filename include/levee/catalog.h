/* levee/catalog.h (stage: understand): the one table of event kinds and their fields. Decoding, validation,
 * normalization, Caliper conversion, storage and the event catalog page (docs/events.md, printed by
 * `levee catalog`) all read it; no other file spells out a field list. */
#ifndef LEVEE_CATALOG_H
#define LEVEE_CATALOG_H

#include "levee/common.h"

typedef enum lv_field_type {
    LV_T_ID,     /* a 64-bit Canvas id: a JSON string of decimal digits (a JSON integer is accepted) */
    LV_T_TIME,   /* an ISO 8601 timestamp with a UTC offset */
    LV_T_STRING, /* a plain string */
    LV_T_TEXT,   /* plain text that Canvas cuts at 8192 characters (a title) */
    LV_T_HTML,   /* HTML that Canvas cuts at 8192 characters (entry text, topic body) */
    LV_T_BOOL,   /* true or false */
    LV_T_ENUM,   /* one of a documented set of strings; other values are kept with a warning */
} lv_field_type;

enum lv_field_flags {
    LV_F_REQUIRED = 1u << 0, /* the event is rejected without it */
    LV_F_NULLABLE = 1u << 1, /* null is a valid value */
    LV_F_SHARDED = 1u << 2,  /* a Canvas object id: a local id resolves to global on the event's shard */
    LV_F_PERSON = 1u << 3,   /* the id of a person (the one who acted, posted, wrote): what levee forget
                              * looks for */
    LV_F_PERSONAL = 1u << 4, /* metadata about a person or their browser that `--redact` may remove or hash
                              * (levee/redact.h); levee's answers never need it */
};

/* How the Caliper form carries a field. */
typedef enum lv_caliper_form {
    LV_CF_VALUE,         /* the value itself (strings, booleans; ids as strings) */
    LV_CF_URN,           /* "urn:instructure:canvas:<urn>:<id>" */
    LV_CF_TIME,          /* the timestamp in UTC with milliseconds */
    LV_CF_HOST_URL,      /* "http://<hostname>/" */
    LV_CF_CONTEXT_URN,   /* "urn:instructure:canvas:<course|group|...>:<id>" by context_type */
    LV_CF_CONTEXT_TYPE,  /* the Caliper entity type of a context: CourseOffering, Group, ... */
    LV_CF_ROLE,          /* the Caliper role of a Canvas enrollment type (Learner, Instructor, ...) */
    LV_CF_CUSTOM_ROLE,   /* the Canvas role name, written only when it has no Caliper role */
    LV_CF_MEMBERSHIP_ID, /* "urn:instructure:canvas:<context kind>:<context>:<Role|user>:<user>" */
} lv_caliper_form;

enum lv_caliper_flags {
    LV_CP_READ_ONLY = 1u << 0, /* read from Caliper input, never written (another field writes it) */
    LV_CP_LOCAL = 1u << 1,     /* when read back, a global id on the event's shard becomes local */
};

typedef struct lv_caliper_place {
    const char *path; /* '/'-separated path in the Caliper event; NULL ends the list */
    lv_caliper_form form;
    const char *urn;  /* the URN kind for LV_CF_URN */
    unsigned flags;
} lv_caliper_place;

#define LV_CALIPER_PLACES 4

/* Every body field name any kind has, once. The catalog's tables and every reader of an event name
 * body fields by these constants (LV_B_TITLE, ...), so a misspelt field fails to compile; the names
 * as text are lv_body_field_names[key]. */
#define LV_BODY_FIELDS(X)                                                                          \
    X(ASSIGNMENT_ID, "assignment_id") X(AUTHOR_ID, "author_id") X(BODY, "body")                    \
    X(CONTEXT_ID, "context_id") X(CONTEXT_TYPE, "context_type") X(CONVERSATION_ID, "conversation_id") \
    X(CREATED_AT, "created_at") X(DISCUSSION_ENTRY_ID, "discussion_entry_id")                       \
    X(DISCUSSION_TOPIC_ID, "discussion_topic_id") X(IS_ANNOUNCEMENT, "is_announcement")             \
    X(LOCK_AT, "lock_at") X(MESSAGE_ID, "message_id")                                               \
    X(PARENT_DISCUSSION_ENTRY_ID, "parent_discussion_entry_id") X(SUBMISSION_ID, "submission_id")   \
    X(TEXT, "text") X(TITLE, "title") X(UPDATED_AT, "updated_at") X(USER_ID, "user_id")             \
    X(WORKFLOW_STATE, "workflow_state")

#define LV_CATALOG_ENUM_(id, text) LV_B_##id,
typedef enum lv_body_key { LV_BODY_FIELDS(LV_CATALOG_ENUM_) LV_BODY_KEYS } lv_body_key;
#undef LV_CATALOG_ENUM_

#define LV_FIELD_NAME_MAX 32
extern const char lv_body_field_names[LV_BODY_KEYS][LV_FIELD_NAME_MAX];

typedef struct lv_field {
    const char *name;
    int key;                   /* body fields: their lv_body_key; metadata fields: their lv_meta_index */
    lv_field_type type;
    unsigned flags;
    const char *const *values; /* LV_T_ENUM: the documented values, NULL-terminated */
    const char *doc;           /* what the field means, one sentence */
    lv_caliper_place caliper[LV_CALIPER_PLACES]; /* where the Caliper form carries it, if anywhere */
} lv_field;

typedef enum lv_family { LV_FAMILY_CONVERSATION, LV_FAMILY_DISCUSSION } lv_family;

typedef struct lv_caliper_kind {
    const char *type;        /* "MessageEvent" */
    const char *action;      /* "Posted" */
    const char *object_type; /* "Message" */
    const char *object_urn;  /* the URN kind of the object id: "discussionEntry" */
} lv_caliper_kind;

/* The modeled event kinds, in the order of lv_kinds[] (each kind's entry is lv_kinds[LV_K_...]).
 * Code that treats kinds differently switches on kind->id. */
#define LV_KINDS(X)                                                                                \
    X(CONVERSATION_CREATED, "conversation_created")                                               \
    X(CONVERSATION_FORWARDED, "conversation_forwarded")                                           \
    X(CONVERSATION_MESSAGE_CREATED, "conversation_message_created")                               \
    X(DISCUSSION_ENTRY_CREATED, "discussion_entry_created")                                       \
    X(DISCUSSION_ENTRY_SUBMITTED, "discussion_entry_submitted")                                   \
    X(DISCUSSION_TOPIC_CREATED, "discussion_topic_created")                                       \
    X(DISCUSSION_TOPIC_UPDATED, "discussion_topic_updated")

#define LV_CATALOG_ENUM_(id, text) LV_K_##id,
typedef enum lv_kind_id { LV_KINDS(LV_CATALOG_ENUM_) LV_KIND_COUNT } lv_kind_id;
#undef LV_CATALOG_ENUM_

/* What a kind's events are about, for the code that keeps state from them. */
typedef enum lv_subject {
    LV_SUBJECT_CONVERSATION, /* a conversation (created, forwarded) */
    LV_SUBJECT_MESSAGE,      /* a message in a conversation */
    LV_SUBJECT_ENTRY,        /* a discussion entry (a post or a reply) */
    LV_SUBJECT_TOPIC,        /* a discussion topic or announcement */
} lv_subject;

/* What a kind's event does to its subject. */
typedef enum lv_action {
    LV_ACTION_CREATED,   /* brings it into being (the earliest such event is its creation) */
    LV_ACTION_UPDATED,   /* changes it */
    LV_ACTION_FORWARDED, /* adds people to it (a conversation) */
    LV_ACTION_SUBMITTED, /* posts it again for a grade (an entry's graded twin) */
} lv_action;

/* The action's name as /api/catalog gives it ("created", ...). */
const char *lv_action_name(lv_action a);

typedef struct lv_kind {
    lv_kind_id id;
    const char *name; /* Canvas event name */
    lv_subject subject;
    lv_action action;
    const char *label; /* what the events are, plural, for charts: "entries posted" */
    lv_family family;
    const char *definition;
    const char *trigger;
    const lv_field *fields; /* body fields */
    size_t n_fields;
    const lv_caliper_kind *caliper; /* NULL when Canvas documents no Caliper form */
} lv_kind;

/* Metadata fields, shared by every Canvas event (also those outside the model). */
enum lv_meta_index {
    LV_M_ROOT_ACCOUNT_ID, LV_M_ROOT_ACCOUNT_UUID, LV_M_ROOT_ACCOUNT_LTI_GUID, LV_M_EVENT_NAME,
    LV_M_EVENT_TIME, LV_M_PRODUCER, LV_M_JOB_ID, LV_M_JOB_TAG, LV_M_USER_ID, LV_M_USER_LOGIN,
    LV_M_USER_ACCOUNT_ID, LV_M_USER_SIS_ID, LV_M_REAL_USER_ID, LV_M_TIME_ZONE, LV_M_DEVELOPER_KEY_ID,
    LV_M_CONTEXT_TYPE, LV_M_CONTEXT_ID, LV_M_CONTEXT_SIS_SOURCE_ID, LV_M_CONTEXT_ACCOUNT_ID,
    LV_M_CONTEXT_ROLE, LV_M_REQUEST_ID, LV_M_SESSION_ID, LV_M_HOSTNAME, LV_M_HTTP_METHOD,
    LV_M_USER_AGENT, LV_M_CLIENT_IP, LV_M_URL, LV_M_REFERRER,
    LV_META_COUNT
};

/* Most body fields any kind has. */
#define LV_BODY_MAX 12

extern const lv_field lv_metadata_fields[LV_META_COUNT];
/* The name `--redact` gives the query string (and fragment) of the URL-valued personal fields (url,
 * referrer): redacting it keeps the page's address and drops what follows its '?' or '#'. */
extern const char lv_url_query_name[];
extern const lv_kind lv_kinds[LV_KIND_COUNT];
extern const size_t lv_kind_count;

/* Caliper constants levee writes and checks. */
#define LV_CALIPER_CONTEXT "http://purl.imsglobal.org/ctx/caliper/v1p1"
#define LV_CALIPER_EXT "com.instructure.canvas"
#define LV_CALIPER_URN_PREFIX "urn:instructure:canvas:"
#define LV_CALIPER_CANVAS_VERSION "1.0.0"

const lv_kind *lv_kind_find(const char *name, size_t len);
/* Index of a body field of the kind (in kind->fields), by name or by key, or -1. */
int lv_kind_field_index(const lv_kind *kind, const char *name, size_t len);
int lv_kind_field_of(const lv_kind *kind, lv_body_key key);
/* Index of a metadata field, or -1. */
int lv_meta_index(const char *name, size_t len);
const lv_kind *lv_kind_for_caliper(const char *type, size_t type_len, const char *action,
                                   size_t action_len);

/* "id", "timestamp", ... as the catalog page names the types. */
const char *lv_field_type_name(lv_field_type t);

/* Caliper roles for Canvas enrollment types, both ways. NULL when there is no mapping. */
const char *lv_caliper_role_for(const char *canvas_role, size_t len);
const char *lv_canvas_role_for(const char *caliper_role, size_t len);
/* The context type a Canvas role exists only in ("Group" for GroupMembership), or NULL. */
const char *lv_canvas_role_context(const char *canvas_role, size_t len);

/* Writes the event catalog as Markdown (the content of docs/events.md). */
void lv_catalog_markdown(lv_buf *out);

#endif
