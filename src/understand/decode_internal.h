/* decode_internal.h: helpers shared by the canvas decoder (decode.c) and the Caliper decoder
 * (caliper.c); not part of liblevee's public interface. */
#ifndef LEVEE_DECODE_INTERNAL_H
#define LEVEE_DECODE_INTERNAL_H

#include "levee/event.h"

/* Adds a diagnostic at path ev->path_prefix + base + "/" + name (name may be NULL). */
void lv__diag(lv_arena *a, lv_event *ev, lv_severity sev, const char *base, const char *name,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* "null", "true", "the number 1.5", "the string \"x\"", "an array", "an object". */
const char *lv__describe(lv_arena *a, const lv_json *node);

/* Validates node as field f and stores the result in out. Problems become diagnostics at base/name. */
void lv__check_value(lv_arena *a, lv_event *ev, const lv_field *f, const lv_json *node,
                     const char *base, const char *name, lv_value *out);

/* Reports required fields that are absent. */
void lv__check_required(lv_arena *a, lv_event *ev, const lv_field *fields, size_t n,
                        const lv_value *values, const char *base);

/* Sets ev->shard from root_account_id and resolves every sharded id to global. */
void lv__resolve_ids(lv_arena *a, lv_event *ev);

/* A fresh event with no diagnostics. */
void lv__event_init(lv_event *ev, lv_format format, const lv_json *json, const char *path_prefix);

/* Decodes a Caliper envelope or bare Caliper event (root is an object). */
void lv__caliper_decode(lv_arena *a, const lv_json *root, lv_doc *doc);

/* Marks each event rejected when it has errors (or, strictly, warnings). */
void lv__finish(lv_doc *doc, const lv_decode_options *opt);

#endif
