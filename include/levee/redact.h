/* levee/redact.h (stage: understand): redaction at intake (`--redact FIELDS`, `--redact-key FILE`): chosen personal
 * metadata fields (those the catalog marks LV_F_PERSONAL, and url_query) taken out of a document, or replaced by
 * a keyed hash, before anything keeps it. The decoder applies it when its options carry a redaction
 * (lv_decode_options.redact), so what is journaled, archived, indexed and exported is the redacted document.
 *
 * The rewriting works on the document's JSON, in both forms: a canvas event's `metadata` members, and the places
 * the catalog gives each field in a Caliper event (a bare event, or each event of an envelope's `data`). Every
 * member of that name is redacted, duplicates included. A document holding none of the chosen fields is kept byte
 * for byte; one that holds some is written again as compact JSON (members in their order, numbers as written,
 * strings escaped as levee writes them), so the same input always gives the same stored bytes.
 *
 * Without a key a field is removed (a Caliper session, whose id is the field, goes whole). With a key its value is
 * replaced by HMAC-SHA256(key, value) truncated to 16 bytes, as 32 lowercase hex digits: the same value gives the
 * same hash, so events of one session or one address still group together. A Caliper URN keeps its prefix
 * (urn:instructure:canvas:session:<hash>), and url_query keeps the '?' (or '#') that starts it: ?<hash of what
 * follows>. A null value is kept. */
#ifndef LEVEE_REDACT_H
#define LEVEE_REDACT_H

#include "levee/json.h"

typedef struct lv_redaction lv_redaction;

/* The names `--redact` takes, comma-separated, in catalog order: "user_login, user_sis_id, ..., url_query". */
void lv_redaction_names(lv_buf *out);

/* A redaction of the comma-separated fields (spaces around names are ignored), hashing with the key read from
 * key_path (its bytes, trailing white space and newlines left out; at least 16 bytes) or removing when
 * key_path is NULL. Fails with a sentence naming a field levee cannot redact, or a key it cannot use. */
lv_status lv_redaction_new(const char *fields, const char *key_path, lv_redaction **out, lv_error *err);
void lv_redaction_free(lv_redaction *r);

/* "removes client_ip, user_agent" or "hashes (HMAC-SHA256) client_ip, user_agent", for the logs. */
void lv_redaction_describe(const lv_redaction *r, lv_buf *out);

/* Rewrites a parsed document (its root object). When it holds any of the chosen fields, appends the redacted
 * document to out and returns true; otherwise returns false and leaves out as it was. */
bool lv_redact_json(const lv_redaction *r, const lv_json *root, lv_buf *out);

/* The keyed hash of a value as redaction writes it (32 hex digits and a NUL into hex). False when the
 * redaction has no key or libcrypto failed. */
bool lv_redaction_hash(const lv_redaction *r, const char *value, size_t len, char hex[33]);

#endif
