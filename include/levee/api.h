/* levee/api.h: the HTTP JSON API's answers (GET /api/...), from a store, in the same shapes as
 * `levee query --json`, `levee search --json` and `levee stats --json` (docs/api.md). */
#ifndef LEVEE_API_H
#define LEVEE_API_H

#include "levee/store.h"

/* Looks up a query-string parameter; NULL when absent. */
typedef const char *(*lv_param_fn)(void *ctx, const char *name);

/* Answers `path` (what follows /api, e.g. "/topics/123") into body as JSON and returns the HTTP
 * status: 200, 400 (a bad parameter), 404 (no such thing or route). Errors are {"error": "..."}. */
int lv_api_answer(lv_store *s, const char *path, lv_param_fn param, void *ctx, lv_buf *body);

#endif
