/* render.c: answers as text for people at a terminal: aligned tables, reply trees drawn with
 * indentation, times as written by the store (UTC). */
#include "levee/render.h"

#include "levee/catalog.h"
#include "levee/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An event field's name, as the answers' JSON carries it (the catalog spells it). */
#define F(key) lv_body_field_names[LV_B_##key]

struct lv_table {
    unsigned columns, max_width;
    char **cells; /* rows * columns */
    size_t rows, cap; /* cap: cells allocated */
};

lv_table *lv_table_new(unsigned columns, unsigned max_width)
{
    lv_table *t = lv_xcalloc(1, sizeof *t);
    t->columns = columns;
    t->max_width = max_width;
    return t;
}

/* Makes text from the store safe for a terminal, in place: every control character (C0, DEL, and
 * the C1 controls U+0080..U+009F, such as CSI) becomes a space, so that text someone posted cannot
 * move the cursor, retitle the window, or start a line of its own. Returns the new length. */
static size_t terminal_safe(char *s, size_t len)
{
    size_t out = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F) {
            s[out++] = ' ';
            i++;
        } else {
            s[out++] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
        }
    }
    if (out < len)
        s[out] = '\0';
    return out;
}

/* The cell as shown: control characters replaced by spaces, cut to max_width characters. */
static char *clean_cell(const char *s, unsigned max_width)
{
    lv_buf b;
    lv_buf_init(&b);
    lv_buf_puts(&b, s ? s : "");
    b.len = terminal_safe(b.data, b.len);
    if (!b.data)
        lv_buf_puts(&b, "");
    if (lv_utf8_count(b.data, b.len) > max_width) {
        b.len = lv_utf8_prefix(b.data, b.len, max_width - 3);
        b.data[b.len] = '\0';
        lv_buf_puts(&b, "...");
    }
    return lv_buf_detach(&b, NULL);
}

void lv_table_row(lv_table *t, const char *const *cells)
{
    lv_vec_reserve((void **)&t->cells, &t->cap, (t->rows + 1) * t->columns, sizeof *t->cells, 16 * t->columns);
    for (unsigned c = 0; c < t->columns; c++)
        t->cells[t->rows * t->columns + c] = clean_cell(cells[c], t->max_width);
    t->rows++;
}

void lv_table_write(lv_table *t, lv_buf *out)
{
    size_t *width = lv_xcalloc(t->columns, sizeof *width);
    for (size_t r = 0; r < t->rows; r++)
        for (unsigned c = 0; c < t->columns; c++) {
            const char *cell = t->cells[r * t->columns + c];
            size_t w = lv_utf8_count(cell, strlen(cell));
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (unsigned c = 0; c < t->columns; c++) {
            const char *cell = t->cells[r * t->columns + c];
            lv_buf_puts(out, cell);
            if (c + 1 < t->columns) {
                size_t pad = width[c] - lv_utf8_count(cell, strlen(cell)) + 2;
                for (size_t i = 0; i < pad; i++)
                    lv_buf_putc(out, ' ');
            }
        }
        /* no trailing spaces */
        while (out->len && out->data[out->len - 1] == ' ')
            out->len--;
        lv_buf_putc(out, '\n');
        if (r == 0) {
            for (unsigned c = 0; c < t->columns; c++) {
                for (size_t i = 0; i < width[c]; i++)
                    lv_buf_putc(out, '-');
                if (c + 1 < t->columns)
                    lv_buf_puts(out, "  ");
            }
            lv_buf_putc(out, '\n');
        }
    }
    free(width);
}

void lv_table_free(lv_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * t->columns; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---- reading answers ---- */

/* A member as text: strings as they are, numbers as written, booleans, "" for null or absent. */
static const char *text_at(const lv_json *obj, const char *path, char *buf, size_t size)
{
    const lv_json *v = obj ? lv_json_path(obj, path) : NULL;
    buf[0] = '\0';
    if (v && v->type == LV_JSON_BOOL)
        snprintf(buf, size, "%s", v->boolean ? "yes" : "no");
    else if (v && (v->type == LV_JSON_STRING || v->type == LV_JSON_NUMBER))
        snprintf(buf, size, "%.*s", (int)v->len, v->str);
    terminal_safe(buf, strlen(buf));
    return buf;
}

/* A member that should be a number, as one (0 when it is null, absent or not a number). */
static double number_of(const lv_json *v)
{
    return v && v->type == LV_JSON_NUMBER && v->str ? strtod(v->str, NULL) : 0;
}

/* "2019-11-01T19:11:03.933Z" shown as "2019-11-01 19:11" */
static const char *when_at(const lv_json *obj, const char *path, char *buf, size_t size)
{
    const char *t = text_at(obj, path, buf, size);
    if (strlen(t) >= 16 && t[10] == 'T') {
        buf[10] = ' ';
        buf[16] = '\0';
    }
    return t;
}

static void heading(lv_buf *out, const char *text)
{
    lv_buf_printf(out, "\n%s\n", text);
}

static void html_line(lv_buf *out, const lv_json *html, size_t max_chars)
{
    lv_buf plain;
    lv_buf_init(&plain);
    if (html && html->type == LV_JSON_STRING)
        lv_html_to_text(html->str, html->len, &plain);
    if (plain.len)
        plain.len = terminal_safe(plain.data, plain.len); /* entities such as &#27; decode to controls */
    if (plain.len && lv_utf8_count(plain.data, plain.len) > max_chars) {
        plain.len = lv_utf8_prefix(plain.data, plain.len, max_chars - 3);
        lv_buf_append(out, plain.data, plain.len);
        lv_buf_puts(out, "...");
    } else if (plain.len) {
        lv_buf_append(out, plain.data, plain.len);
    }
    lv_buf_free(&plain);
}

void lv_render_stats(const lv_json *a, lv_buf *out)
{
    char b1[64], b2[64];
    lv_buf_printf(out, "events            %s\n", text_at(a, "events", b1, sizeof b1));
    lv_buf_printf(out, "duplicates        %s\n", text_at(a, "duplicates", b1, sizeof b1));
    lv_buf_printf(out, "dead letters      %s\n", text_at(a, "dead_letters", b1, sizeof b1));
    lv_buf_printf(out, "outside the model %s\n", text_at(a, "outside_model", b1, sizeof b1));
    lv_buf_printf(out, "time span         %s .. %s\n", text_at(a, "first_event_time", b1, sizeof b1),
                  text_at(a, "last_event_time", b2, sizeof b2));
    const lv_json *bpe = lv_json_get(a, "bytes_per_event"), *raw = lv_json_get(a, "raw_bytes_per_event");
    lv_buf_printf(out, "bytes per event   %.0f on disk (raw documents: %.0f)\n",
                  number_of(bpe), number_of(raw));
    heading(out, "Events by name and format");
    lv_table *t = lv_table_new(4, 60);
    lv_table_row(t, (const char *[]){ "event", "canvas", "caliper", "total" });
    const lv_json *by = lv_json_get(a, "by_event");
    for (const lv_json *e = by ? by->child : NULL; e; e = e->next) {
        char name[128], c[32], k[32], n[32];
        snprintf(name, sizeof name, "%.*s", (int)e->key_len, e->key);
        lv_table_row(t, (const char *[]){ name, text_at(e, "canvas", c, sizeof c),
                                          text_at(e, "caliper", k, sizeof k), text_at(e, "total", n, sizeof n) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
    const lv_json *drift = lv_json_get(a, "drift");
    if (!drift || !drift->child)
        return;
    heading(out, "Schema drift: what Canvas sent that levee does not model (newest first)");
    t = lv_table_new(6, 60);
    lv_table_row(t, (const char *[]){ "event", "field", "format", "count", "first seen", "last seen" });
    for (const lv_json *e = drift->child; e; e = e->next) {
        char name[128], field[256], format[16], n[32], first[64], last[64];
        const lv_json *f = lv_json_get(e, "field");
        lv_table_row(t, (const char *[]){ text_at(e, "event", name, sizeof name),
                                          f && f->type == LV_JSON_STRING ? text_at(e, "field", field, sizeof field)
                                                                         : "(the event)",
                                          text_at(e, "format", format, sizeof format), text_at(e, "count", n, sizeof n),
                                          when_at(e, "first_seen", first, sizeof first),
                                          when_at(e, "last_seen", last, sizeof last) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
    const lv_json *count = lv_json_get(a, "drift_count");
    size_t listed = 0;
    for (const lv_json *e = drift->child; e; e = e->next)
        listed++;
    if (count && number_of(count) > (double)listed)
        lv_buf_printf(out, "(%zu of %.0f listed)\n", listed, number_of(count));
}

static void tree_lines(lv_buf *out, const lv_json *entries, int depth)
{
    for (const lv_json *e = entries ? entries->child : NULL; e; e = e->next) {
        char when[64], user[32], id[32];
        for (int i = 0; i < depth; i++)
            lv_buf_puts(out, "  ");
        lv_buf_printf(out, "- %s  user %s  [entry %s]", when_at(e, F(CREATED_AT), when, sizeof when),
                      text_at(e, F(USER_ID), user, sizeof user), text_at(e, "id", id, sizeof id));
        const lv_json *role = lv_json_get(e, "role");
        if (role && role->type == LV_JSON_STRING && role->len > 10 &&
            memcmp(role->str + role->len - 10, "Enrollment", 10) == 0)
            lv_buf_printf(out, " %.*s", (int)(role->len - 10), role->str);
        if (lv_json_get(e, "removed"))
            lv_buf_puts(out, "  (erased; its replies stay)");
        if (lv_json_get(e, "parent_missing"))
            lv_buf_puts(out, "  (reply to an entry not received yet)");
        lv_buf_puts(out, "\n");
        for (int i = 0; i < depth; i++)
            lv_buf_puts(out, "  ");
        lv_buf_puts(out, "  ");
        html_line(out, lv_json_get(e, F(TEXT)), 100);
        lv_buf_puts(out, "\n");
        tree_lines(out, lv_json_get(e, "replies"), depth + 1);
    }
}

void lv_render_topic(const lv_json *a, lv_buf *out)
{
    const lv_json *t = lv_json_get(a, "topic");
    char title[1024], id[32], ctype[32], cid[32], state[64], count[32], created[64], by[32], updated[64], versions[32];
    lv_buf_printf(out, "%s\n", *text_at(t, F(TITLE), title, sizeof title) ? title : "(title not received yet)");
    text_at(t, F(WORKFLOW_STATE), state, sizeof state);
    lv_buf_printf(out, "topic %s in %s %s%s%s%s, %s entries\n", text_at(t, F(DISCUSSION_TOPIC_ID), id, sizeof id),
                  text_at(t, F(CONTEXT_TYPE), ctype, sizeof ctype), text_at(t, F(CONTEXT_ID), cid, sizeof cid),
                  *state ? ", " : "", state,
                  lv_json_path(t, F(IS_ANNOUNCEMENT)) && lv_json_path(t, F(IS_ANNOUNCEMENT))->boolean ? ", announcement" : "",
                  text_at(a, "entry_count", count, sizeof count));
    const lv_json *assignment = lv_json_get(t, F(ASSIGNMENT_ID));
    if (assignment && assignment->type == LV_JSON_STRING)
        lv_buf_printf(out, "graded: assignment %.*s\n", (int)assignment->len, assignment->str);
    if (*when_at(t, F(CREATED_AT), created, sizeof created))
        lv_buf_printf(out, "created %s by user %s", created, text_at(t, "created_by", by, sizeof by));
    else
        lv_buf_puts(out, "creation not received");
    lv_buf_printf(out, ", updated %s, %s version(s)\n", when_at(t, F(UPDATED_AT), updated, sizeof updated),
                  text_at(t, "versions", versions, sizeof versions));
    const lv_json *body = lv_json_get(t, F(BODY));
    if (body && body->type == LV_JSON_STRING) {
        lv_buf_puts(out, "\n");
        html_line(out, body, 400);
        lv_buf_puts(out, "\n");
    }
    heading(out, "Replies");
    const lv_json *entries = lv_json_get(a, "entries");
    if (!entries || !entries->child)
        lv_buf_puts(out, "(none)\n");
    tree_lines(out, entries, 0);
}

void lv_render_conversation(const lv_json *a, lv_buf *out)
{
    const lv_json *c = lv_json_get(a, "conversation");
    char b1[64], b2[64], b3[64];
    lv_buf_printf(out, "conversation %s", text_at(c, F(CONVERSATION_ID), b1, sizeof b1));
    if (*when_at(c, F(CREATED_AT), b2, sizeof b2))
        lv_buf_printf(out, ", started %s by user %s\n", b2, text_at(c, "created_by", b3, sizeof b3));
    else
        lv_buf_puts(out, " (its creation was not received)\n");
    lv_table *t = lv_table_new(3, 60);
    lv_table_row(t, (const char *[]){ "when", "what", "who" });
    const lv_json *timeline = lv_json_get(a, "timeline");
    for (const lv_json *e = timeline ? timeline->child : NULL; e; e = e->next) {
        char when[64], what[64], who[64];
        bool message = lv_json_str_is(lv_json_get(e, "type"), "message");
        if (message) {
            snprintf(what, sizeof what, "message %s", text_at(e, F(MESSAGE_ID), b1, sizeof b1));
            snprintf(who, sizeof who, "user %s", text_at(e, F(AUTHOR_ID), b2, sizeof b2));
            when_at(e, F(CREATED_AT), when, sizeof when);
        } else {
            snprintf(what, sizeof what, "users added (forwarded)");
            snprintf(who, sizeof who, "user %s", text_at(e, F(USER_ID), b2, sizeof b2));
            when_at(e, F(UPDATED_AT), when, sizeof when);
        }
        lv_table_row(t, (const char *[]){ when, what, who });
    }
    lv_table_write(t, out);
    lv_table_free(t);
}

void lv_render_course(const lv_json *a, lv_buf *out)
{
    char b1[64], b2[64], b3[64];
    lv_buf_printf(out, "course %s", text_at(a, "course_id", b1, sizeof b1));
    if (lv_json_get(a, "since") && lv_json_get(a, "since")->type == LV_JSON_STRING)
        lv_buf_printf(out, " since %s", text_at(a, "since", b2, sizeof b2));
    if (lv_json_get(a, "until") && lv_json_get(a, "until")->type == LV_JSON_STRING)
        lv_buf_printf(out, " until %s", text_at(a, "until", b3, sizeof b3));
    lv_buf_puts(out, "\n");

    heading(out, "Topics");
    lv_table *t = lv_table_new(5, 50);
    lv_table_row(t, (const char *[]){ "topic", F(TITLE), "entries", "last entry", "state" });
    const lv_json *topics = lv_json_get(a, "topics");
    for (const lv_json *e = topics ? topics->child : NULL; e; e = e->next) {
        char id[32], title[512], n[32], last[64], state[64];
        text_at(e, F(WORKFLOW_STATE), state, sizeof state);
        if (lv_json_get(e, F(IS_ANNOUNCEMENT)) && lv_json_get(e, F(IS_ANNOUNCEMENT))->boolean)
            strncat(state, " (announcement)", sizeof state - strlen(state) - 1);
        lv_table_row(t, (const char *[]){ text_at(e, F(DISCUSSION_TOPIC_ID), id, sizeof id),
                                          text_at(e, F(TITLE), title, sizeof title), text_at(e, "entries", n, sizeof n),
                                          when_at(e, "last_entry_at", last, sizeof last), state });
    }
    lv_table_write(t, out);
    lv_table_free(t);

    heading(out, "Active users by role");
    t = lv_table_new(3, 40);
    lv_table_row(t, (const char *[]){ "role", "users", "events" });
    const lv_json *roles = lv_json_get(a, "users_by_role");
    for (const lv_json *r = roles ? roles->child : NULL; r; r = r->next) {
        char role[128], u[32], e[32];
        snprintf(role, sizeof role, "%.*s", (int)r->key_len, r->key);
        lv_table_row(t, (const char *[]){ role, text_at(r, "users", u, sizeof u), text_at(r, "events", e, sizeof e) });
    }
    lv_table_write(t, out);
    lv_table_free(t);

    heading(out, "Activity per day");
    t = lv_table_new(3, 200);
    lv_table_row(t, (const char *[]){ "day", "events", "by event" });
    const lv_json *days = lv_json_get(a, "activity");
    for (const lv_json *d = days ? days->child : NULL; d; d = d->next) {
        char day[32], total[32];
        lv_buf by;
        lv_buf_init(&by);
        const lv_json *events = lv_json_get(d, "events");
        for (const lv_json *e = events ? events->child : NULL; e; e = e->next)
            lv_buf_printf(&by, "%s%.*s %.*s", by.len ? ", " : "", (int)e->key_len, e->key, (int)e->len, e->str);
        lv_table_row(t, (const char *[]){ text_at(d, "day", day, sizeof day), text_at(d, "total", total, sizeof total),
                                          by.data ? by.data : "" });
        lv_buf_free(&by);
    }
    lv_table_write(t, out);
    lv_table_free(t);

    heading(out, "Student posts no teacher or TA has answered");
    t = lv_table_new(5, 60);
    lv_table_row(t, (const char *[]){ "posted", "waiting", "user", "topic", "post" });
    const lv_json *posts = lv_json_get(a, "unanswered");
    for (const lv_json *p = posts ? posts->child : NULL; p; p = p->next) {
        char posted[64], waiting[32], user[32], topic[256], preview[512];
        const lv_json *secs = lv_json_get(p, "waiting_seconds");
        long long s = (long long)number_of(secs);
        if (s >= 86400)
            snprintf(waiting, sizeof waiting, "%lld d %lld h", s / 86400, s % 86400 / 3600);
        else
            snprintf(waiting, sizeof waiting, "%lld h %lld min", s / 3600, s % 3600 / 60);
        lv_table_row(t, (const char *[]){ when_at(p, F(CREATED_AT), posted, sizeof posted), waiting,
                                          text_at(p, F(USER_ID), user, sizeof user),
                                          text_at(p, "topic_title", topic, sizeof topic),
                                          text_at(p, "preview", preview, sizeof preview) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
    lv_buf_printf(out, "%s unanswered\n", text_at(a, "unanswered_count", b1, sizeof b1));
}

void lv_render_user(const lv_json *a, lv_buf *out)
{
    char b1[64];
    lv_buf_printf(out, "user %s\n", text_at(a, F(USER_ID), b1, sizeof b1));
    heading(out, "Discussion posts");
    lv_table *t = lv_table_new(4, 60);
    lv_table_row(t, (const char *[]){ "posted", "course", "topic", "text" });
    const lv_json *entries = lv_json_get(a, "entries");
    for (const lv_json *e = entries ? entries->child : NULL; e; e = e->next) {
        char when[64], course[32], topic[256];
        lv_buf text;
        lv_buf_init(&text);
        html_line(&text, lv_json_get(e, F(TEXT)), 60);
        lv_table_row(t, (const char *[]){ when_at(e, F(CREATED_AT), when, sizeof when),
                                          text_at(e, "course_id", course, sizeof course),
                                          text_at(e, "topic_title", topic, sizeof topic), text.data ? text.data : "" });
        lv_buf_free(&text);
    }
    lv_table_write(t, out);
    lv_table_free(t);
    heading(out, "Topics created");
    t = lv_table_new(3, 60);
    lv_table_row(t, (const char *[]){ "created", "course", "title" });
    const lv_json *topics = lv_json_get(a, "topics");
    for (const lv_json *e = topics ? topics->child : NULL; e; e = e->next) {
        char when[64], course[32], title[256];
        lv_table_row(t, (const char *[]){ when_at(e, F(CREATED_AT), when, sizeof when),
                                          text_at(e, "course_id", course, sizeof course), text_at(e, F(TITLE), title, sizeof title) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
    heading(out, "Conversation messages sent");
    t = lv_table_new(3, 60);
    lv_table_row(t, (const char *[]){ "sent", "conversation", "message" });
    const lv_json *messages = lv_json_get(a, "messages");
    for (const lv_json *e = messages ? messages->child : NULL; e; e = e->next) {
        char when[64], conv[32], msg[32];
        lv_table_row(t, (const char *[]){ when_at(e, F(CREATED_AT), when, sizeof when),
                                          text_at(e, F(CONVERSATION_ID), conv, sizeof conv), text_at(e, F(MESSAGE_ID), msg, sizeof msg) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
}

void lv_render_courses(const lv_json *a, lv_buf *out)
{
    lv_table *t = lv_table_new(6, 40);
    lv_table_row(t, (const char *[]){ "course", "events", "topics", "users", "first day", "last day" });
    const lv_json *courses = lv_json_get(a, "courses");
    for (const lv_json *c = courses ? courses->child : NULL; c; c = c->next) {
        char id[32], ev[32], tp[32], us[32], f[32], l[32];
        lv_table_row(t, (const char *[]){ text_at(c, "course_id", id, sizeof id), text_at(c, "events", ev, sizeof ev),
                                          text_at(c, "topics", tp, sizeof tp), text_at(c, "users", us, sizeof us),
                                          text_at(c, "first_day", f, sizeof f), text_at(c, "last_day", l, sizeof l) });
    }
    lv_table_write(t, out);
    lv_table_free(t);
}

void lv_render_search(const lv_json *a, lv_buf *out)
{
    const lv_json *results = lv_json_get(a, "results");
    if (!results || !results->child) {
        lv_buf_puts(out, "no matches\n");
        return;
    }
    for (const lv_json *r = results->child; r; r = r->next) {
        char kind[16], id[32], topic[256], course[32], when[64], user[32], snippet[2048];
        bool entry = lv_json_str_is(lv_json_get(r, "kind"), "entry");
        lv_buf_printf(out, "%s %s  %s  course %s  %s%s%s\n", text_at(r, "kind", kind, sizeof kind),
                      text_at(r, entry ? "entry_id" : "topic_id", id, sizeof id),
                      when_at(r, F(CREATED_AT), when, sizeof when), text_at(r, "course_id", course, sizeof course),
                      entry ? "user " : "", entry ? text_at(r, F(USER_ID), user, sizeof user) : "",
                      "");
        lv_buf_printf(out, "  in \"%s\"\n  %s\n\n", text_at(r, "topic_title", topic, sizeof topic),
                      text_at(r, "snippet", snippet, sizeof snippet));
    }
}
