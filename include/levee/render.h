/* levee/render.h (stage: answer): the store's JSON answers as readable text tables for a terminal (what `levee
 * query`, `levee search` and `levee stats` print without --json). Each takes the parsed answer. */
#ifndef LEVEE_RENDER_H
#define LEVEE_RENDER_H

#include "levee/json.h"

void lv_render_stats(const lv_json *answer, lv_buf *out);
void lv_render_topic(const lv_json *answer, lv_buf *out);
void lv_render_conversation(const lv_json *answer, lv_buf *out);
void lv_render_course(const lv_json *answer, lv_buf *out);
void lv_render_user(const lv_json *answer, lv_buf *out);
void lv_render_courses(const lv_json *answer, lv_buf *out);
void lv_render_search(const lv_json *answer, lv_buf *out);

/* A text table: add a header row, then rows; columns are sized to fit (cells longer than
 * max_width characters are shortened with "..."). */
typedef struct lv_table lv_table;
lv_table *lv_table_new(unsigned columns, unsigned max_width);
void lv_table_row(lv_table *t, const char *const *cells);
void lv_table_write(lv_table *t, lv_buf *out);
void lv_table_free(lv_table *t);

#endif
