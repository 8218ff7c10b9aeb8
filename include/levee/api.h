/* levee/api.h (stage: answer): the HTTP JSON API's answers (GET /api/...), from a store, in the same shapes as
 * `levee query --json`, `levee search --json` and `levee stats --json` (docs/api.md). */
#ifndef LEVEE_API_H
#define LEVEE_API_H

#include "levee/store.h"

/* Looks up a query-string parameter; NULL when absent. */
typedef const char *(*lv_param_fn)(void *ctx, const char *name);

/* Answers `path` (what follows /api, e.g. "/topics/123") into body as JSON, sets *status to the
 * HTTP status (200; 400 a bad parameter or id; 404 no such thing or route; 500 a damaged store or
 * another failure; 503 past the question's deadline) and returns the question's lv_status (err says
 * why when it is not LV_OK). Errors are {"error": "..."}. */
lv_status lv_api_answer(lv_store *s, const char *path, lv_param_fn param, void *ctx, lv_buf *body, int *status,
                        lv_error *err);

#endif
