/* search.c: full-text search as `levee search` and /api/search answer it: what a person typed
 * becomes a query in no engine's language (words that must all match, "quoted phrases", word*
 * prefixes), and each match comes back with its topic, course and a snippet around the first word
 * found. */
#include "answer.h"

#include "levee/text.h"

#include <string.h>
#include <strings.h>

/* What one search may ask for: each term costs a pass over the index and over every snippet's text,
 * so the work is bounded by bounding the terms (issue 17: 5,000 words once took minutes). */
#define MAX_QUERY_BYTES 1024
#define MAX_TERMS 32

/* Letters, digits, _ and any non-ASCII byte make words; everything else separates them. */
static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

typedef struct parsed {
    lv_search_term *terms;
    size_t n_terms;
} parsed;

/* Turns what a person typed into search terms: words become terms that must all match; words
 * between double quotes make a phrase (an unclosed quote ends with the text); a word outside quotes
 * followed by * matches as a prefix. Nothing the user types is any engine's syntax. The terms point
 * into text. False when there is no word. */
static bool parse_query(const char *text, parsed *q)
{
    *q = (parsed){ 0 };
    size_t cap = 0;
    int phrase = 0; /* the phrase being read (0: none) */
    int phrases = 0;
    const char *p = text;
    while (*p) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            phrase = phrase ? 0 : ++phrases;
            p++;
            continue;
        }
        if (!word_byte(c)) {
            p++;
            continue;
        }
        const char *start = p;
        while (*p && word_byte((unsigned char)*p))
            p++;
        lv_vec_reserve((void **)&q->terms, &cap, q->n_terms + 1, sizeof *q->terms, 8);
        lv_search_term *t = &q->terms[q->n_terms++];
        *t = (lv_search_term){ .text = start, .len = (size_t)(p - start), .phrase = phrase };
        if (!phrase && *p == '*') {
            t->prefix = true;
            p++;
        }
    }
    return q->n_terms > 0;
}

/* A window of the text around the first term found (case-insensitively), on word boundaries. */
static void make_snippet(const char *text, size_t len, const parsed *q, lv_buf *out)
{
    size_t at = len;
    for (size_t t = 0; t < q->n_terms; t++) {
        const char *term = q->terms[t].text;
        size_t tl = q->terms[t].len;
        for (size_t i = 0; i + tl <= len && i < at; i++)
            if (strncasecmp(text + i, term, tl) == 0) {
                at = i;
                break;
            }
    }
    if (at == len)
        at = 0;
    size_t start = at > 80 ? at - 80 : 0;
    while (start > 0 && text[start] != ' ')
        start--;
    size_t end = start + 240 < len ? start + 240 : len;
    while (end < len && text[end] != ' ')
        end++;
    /* keep whole UTF-8 characters */
    while (start < len && ((unsigned char)text[start] & 0xC0) == 0x80)
        start++;
    if (start > 0)
        lv_buf_puts(out, "...");
    while (start < end && text[start] == ' ')
        start++;
    lv_buf_append(out, text + start, end - start);
    if (end < len)
        lv_buf_puts(out, "...");
}

typedef struct results {
    lv_jw *w;
    const parsed *q;
    lv_buf plain, snippet;
} results;

static lv_status write_result(void *ctx, const lv_search_row *row, lv_error *err)
{
    (void)err;
    results *r = ctx;
    lv_jw *w = r->w;
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "kind", row->entry ? "entry" : "topic");
    if (row->entry) {
        kv_id_value(w, "entry_id", row->id);
        kv_id(w, "topic_id", row->topic);
    } else {
        kv_id_value(w, "topic_id", row->id);
    }
    kv_text(w, "topic_title", row->topic_title);
    kv_id(w, "course_id", row->course);
    kv_id(w, lv_body_field_names[LV_B_USER_ID], row->user_id);
    kv_time(w, lv_body_field_names[LV_B_CREATED_AT], row->created_at);
    lv_jw_key(w, "rank");
    lv_jw_double(w, row->rank);
    lv_buf_reset(&r->plain);
    lv_buf_reset(&r->snippet);
    if (!row->entry && row->topic_title.p) {
        lv_buf_puts(&r->plain, row->topic_title.p);
        lv_buf_puts(&r->plain, ": ");
    }
    if (row->html.p)
        lv_html_to_text(row->html.p, row->html.n, &r->plain);
    make_snippet(r->plain.data ? r->plain.data : "", r->plain.len, r->q, &r->snippet);
    lv_jw_kv_str(w, "snippet", r->snippet.data ? r->snippet.data : "", r->snippet.len);
    lv_jw_obj_close(w);
    return LV_OK;
}

static lv_status search(lv_store *s, const char *text, uint64_t course, const lv_query_window *win, lv_jw *w,
                        lv_error *err);

lv_status lv_query_search(lv_store *s, const char *typed, uint64_t course, const lv_query_window *win,
                          lv_jw *w, lv_error *err)
{
    size_t len = strlen(typed);
    if (len > MAX_QUERY_BYTES)
        return lv_fail(err, LV_EINVAL, "the search is %zu bytes long; levee takes at most %d: search for fewer words",
                       len, MAX_QUERY_BYTES);
    /* what was typed is echoed in the answer and split into words: as valid UTF-8 */
    lv_buf text;
    lv_buf_init(&text);
    lv_utf8_clean(typed, len, &text);
    lv_buf_putc(&text, '\0');
    lv_status rc = search(s, text.data, course, win, w, err);
    lv_buf_free(&text);
    return rc;
}

static lv_status search(lv_store *s, const char *text, uint64_t course, const lv_query_window *win, lv_jw *w,
                        lv_error *err)
{
    lv_query_window tmp;
    win = window_or_default(win, &tmp);
    parsed q;
    if (!parse_query(text, &q)) {
        free(q.terms);
        return lv_fail(err, LV_EINVAL, "\"%s\" has no words to search for", text);
    }
    if (q.n_terms > MAX_TERMS) {
        size_t n = q.n_terms;
        free(q.terms);
        return lv_fail(err, LV_EINVAL, "the search has %zu words; levee looks for at most %d at once: search for "
                       "fewer", n, MAX_TERMS);
    }
    lv_search_query query = { .terms = q.terms, .n_terms = q.n_terms, .course = course,
                              .since_ms = since_of(win), .until_ms = until_of(win),
                              .limit = limit_of(win), .offset = win->offset };
    lv_jw_obj_open(w);
    lv_jw_kv_cstr(w, "query", text);
    lv_jw_key(w, "terms");
    lv_jw_arr_open(w);
    for (size_t i = 0; i < q.n_terms; i++)
        lv_jw_str(w, q.terms[i].text, q.terms[i].len);
    lv_jw_arr_close(w);
    results r = { .w = w, .q = &q };
    lv_buf_init(&r.plain);
    lv_buf_init(&r.snippet);
    lv_jw_key(w, "results");
    lv_jw_arr_open(w);
    lv_status rc = s->engine->search(s, &query, write_result, &r, err);
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
    lv_buf_free(&r.plain);
    lv_buf_free(&r.snippet);
    free(q.terms);
    return rc;
}
