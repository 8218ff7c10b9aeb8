/* levee/event.h (stage: understand): a decoded event, the diagnostics found while decoding it, and the decoder that
 * turns one JSON document (a canvas event, a Caliper envelope or a bare Caliper event) into events.
 * Decoding validates as it goes; every problem becomes a diagnostic naming the field and why. */
#ifndef LEVEE_EVENT_H
#define LEVEE_EVENT_H

#include "levee/catalog.h"
#include "levee/json.h"

/* Canvas refuses event records over this size; so does levee. */
#define LV_EVENT_MAX_BYTES 1000000

typedef enum lv_format { LV_FORMAT_CANVAS, LV_FORMAT_CALIPER } lv_format;

typedef enum lv_severity { LV_WARNING, LV_ERROR } lv_severity;

typedef struct lv_diag lv_diag;
struct lv_diag {
    lv_severity severity;
    const char *path;    /* JSON pointer into the document ("/body/created_at"), "" for all of it */
    const char *message; /* what is wrong, as a sentence fragment a user can act on */
    lv_diag *next;
};

typedef enum lv_value_state { LV_ABSENT = 0, LV_NULL, LV_SET } lv_value_state;

/* A field's value after validation. */
typedef struct lv_value {
    lv_value_state state;
    bool boolean;
    uint64_t id;        /* LV_T_ID: as sent */
    uint64_t global_id; /* LV_T_ID: resolved to global when the field is a sharded Canvas id */
    int64_t ms;         /* LV_T_TIME: UTC milliseconds since the epoch */
    const char *str;    /* text of strings; the original text of ids and timestamps */
    size_t len;
    const lv_json *node; /* where it came from (NULL when derived from a Caliper URN) */
} lv_value;

typedef struct lv_event {
    lv_format format;
    const lv_kind *kind;  /* NULL when the event is outside the model */
    const char *name;     /* Canvas event name; for Caliper events outside the model "Type.Action" */
    size_t name_len;
    bool is_entity;       /* a Caliper entity found in an envelope's data: not an event */
    bool rejected;        /* has an error (or a warning under --strict) */
    bool has_time;
    int64_t time_ms;      /* event_time / eventTime in UTC */
    uint64_t shard;       /* shard of the root account, 0 when unknown */
    const char *caliper_id; /* the Caliper event id (urn:uuid:...), Caliper input only */
    size_t caliper_id_len;
    const char *path_prefix; /* "/data/2" for the third event of an envelope, "" otherwise */
    const lv_json *json;     /* the event object */
    const lv_json *metadata_json; /* canvas input: the metadata and body objects */
    const lv_json *body_json;
    lv_value meta[LV_META_COUNT];
    lv_value body[LV_BODY_MAX]; /* indexed like kind->fields */
    lv_diag *diags;
    lv_diag *diags_tail;
    unsigned n_errors;
    unsigned n_warnings;
    unsigned unknown_fields; /* canvas members the catalog does not know (kept as is) */
} lv_event;

/* One input document and the events it held. A document that is not JSON, or not any form of
 * event, yields one rejected event with no name that carries the error. */
typedef struct lv_doc {
    const char *text;
    size_t len;
    lv_format format;
    bool envelope;     /* a Caliper envelope */
    bool not_json;     /* the bytes did not parse as JSON */
    const lv_json *root;
    lv_event *events;
    size_t n_events;
} lv_doc;

typedef struct lv_redaction lv_redaction; /* levee/redact.h */

typedef struct lv_decode_options {
    bool strict; /* warnings reject the event too */
    /* Redaction at intake (levee/redact.h), or NULL: a document holding a chosen field is rewritten without it
     * and decoded from the rewritten bytes, which doc->text and doc->len then give (in the arena): they, not the
     * input, are what is kept. */
    const lv_redaction *redact;
} lv_decode_options;

/* Decodes and validates one document. All memory (events, diagnostics, the JSON tree) comes from
 * the arena, and strings may point into text: both must outlive the doc. Returns LV_OK when no
 * event was rejected, LV_EINVAL otherwise; either way doc describes every event. */
lv_status lv_decode(lv_arena *arena, const char *text, size_t len, const lv_decode_options *opt,
                    lv_doc *doc);

/* The doc for a document whose bytes were not kept because it is larger than limit: one rejected
 * event saying so. */
void lv_decode_oversized(lv_arena *arena, size_t len, size_t limit, lv_doc *doc);

/* The event's value for a metadata field, or for a body field (an absent value when the event's kind
 * has no such field or the event is outside the model: never NULL). */
const lv_value *lv_event_meta(const lv_event *ev, int meta_index);
const lv_value *lv_event_body(const lv_event *ev, lv_body_key field);
/* The id to join on: global when the field is a sharded Canvas id, as sent otherwise. */
uint64_t lv_value_id(const lv_value *v);
/* The course the event happened in (global id), or 0: its metadata context when that is a Course,
 * else a topic's own context when that is a Course. */
uint64_t lv_event_course(const lv_event *ev);

/* ---- building events (for producers: the simulator, applications using liblevee) ----
 * Start from lv_event_build, fill values through the slots, then lv_event_build_finish; the event
 * can then be written with lv_canvas_write_event, lv_caliper_write_envelope or lv_record_write. */
void lv_event_build(lv_event *ev, const lv_kind *kind);
lv_value *lv_event_meta_slot(lv_event *ev, int meta_index);
lv_value *lv_event_body_slot(lv_event *ev, lv_body_key field); /* NULL if the kind has no such field */
void lv_value_set_id(lv_value *v, uint64_t id);
void lv_value_set_str(lv_value *v, const char *s, size_t len);
void lv_value_set_cstr(lv_value *v, const char *s);
void lv_value_set_bool(lv_value *v, bool b);
void lv_value_set_null(lv_value *v);
/* A timestamp written as local time at offset_minutes from UTC, with or without milliseconds
 * ("2020-03-30T11:18:51-06:00"; milliseconds only in UTC: "2019-11-01T19:11:03.933Z"). The text
 * lives in the arena. */
void lv_value_set_time(lv_arena *arena, lv_value *v, int64_t ms, int offset_minutes, bool millis);
/* Sets the event's name and time from its metadata and resolves local ids to global. */
void lv_event_build_finish(lv_arena *arena, lv_event *ev);

/* Writes levee's canonical record for the event (docs/events.md): one JSON object with event,
 * format, time, metadata, body (Canvas's names, UTC times, ids as exact decimal strings, local ids
 * made global) and warnings. */
void lv_record_write(lv_jw *w, const lv_event *ev);
/* Appends the event's identity: its format, name and every value as decoded (ids, UTC times, text),
 * in catalog order, with the members the catalog does not know (sorted by name) and bodies outside
 * the model as canonical JSON (lv_json_write_canonical: members in name order at every depth,
 * strings decoded, numbers by value). Two deliveries of the same event have the same identity even
 * when formatted, ordered or escaped differently; levee's dedupe key is a hash of it
 * (docs/events.md#duplicates). Schema 7 of the SQLite store (4 on PostgreSQL) rehashed the events
 * stored before this form. */
void lv_event_identity(const lv_event *ev, lv_buf *out);
/* The identity as levee made it up to SQLite store schema 6 (PostgreSQL 3): members the catalog does
 * not know in the order and spelling they came in. Only for upgrading a store: it tells which event
 * of a stored document an old key belongs to. */
void lv_event_identity_v6(const lv_event *ev, lv_buf *out);

/* Writes one field's value as the record does (normalized: UTC times, global ids) or as the source
 * gave it. */
void lv_value_write(lv_jw *w, const lv_field *f, const lv_value *v, bool normalized);

/* Diagnostics as levee prints them: "source:line: event: /path: message" and as a JSON object. */
void lv_diag_text(lv_buf *out, const char *source, long line, const lv_event *ev, const lv_diag *d);
void lv_diag_json(lv_jw *w, const char *source, long line, const lv_event *ev, const lv_diag *d);

#endif
