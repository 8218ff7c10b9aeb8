/* erase.c: the rules of levee prune and levee forget (levee/erase.h), once for every engine. Erasing
 * events is done in small transactions; in each:
 *
 * 1. the erased events are read back and decoded, their figures are taken away, and what they were
 *    about is noted (topics, entries with their topics, conversations);
 * 2. the engine deletes their rows (a document shared with events that stay keeps its bytes);
 * 3. every entry and conversation noted is emptied (its rows, its search entry) and its remaining
 *    events are replayed in arrival order through the projection's own rules, then every topic the
 *    same way, after a stand-in row from its first entry when that entry came before every version
 *    that stays (as a rebuild would make it). A thing with no event left is gone; an entry gone is
 *    remembered under its topic, so that its replies show under "[removed]".
 *
 * So the derived state after an erasure is what levee rebuild computes from the events that stay,
 * and levee check agrees. The figures are settled at commit (keep/projection.c). */
#include "keep.h"

#include "levee/check.h"
#include "levee/crypto.h"
#include "levee/erase.h"
#include "levee/text.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CHUNK 500

typedef LV_VEC(int64_t) id_list;

typedef struct eraser {
    lv_store *s;
    lv_batch *b;
    int64_t loaded_row;     /* the event row the batch holds (0: none) */
    size_t loaded_event;    /* its index in the batch's document */
    bool loaded_found;
    id_list erased;         /* this transaction's rows, ascending */
    id_list topics, entries, conversations;
    id_list scratch;        /* events about one thing */
    lv_erase_result *res;
} eraser;

static int compare_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_unique(id_list *l)
{
    if (l->n < 2)
        return;
    qsort(l->items, l->n, sizeof *l->items, compare_id);
    size_t w = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->items[i] != l->items[w - 1])
            l->items[w++] = l->items[i];
    l->n = w;
}

static bool erased(const eraser *er, int64_t row)
{
    return bsearch(&row, er->erased.items, er->erased.n, sizeof row, compare_id) != NULL;
}

/* ---- the people an event names ---- */

bool lv_event_names(const lv_event *ev, bool (*match)(void *ctx, uint64_t user), void *ctx)
{
    for (int i = 0; i < LV_META_COUNT; i++)
        if ((lv_metadata_fields[i].flags & LV_F_PERSON) && ev->meta[i].state == LV_SET &&
            match(ctx, lv_value_id(&ev->meta[i])))
            return true;
    if (!ev->kind)
        return false;
    for (size_t i = 0; i < ev->kind->n_fields; i++)
        if ((ev->kind->fields[i].flags & LV_F_PERSON) && ev->body[i].state == LV_SET && match(ctx, lv_value_id(&ev->body[i])))
            return true;
    return false;
}

/* ---- what compression dictionaries must not learn ---- */

static void blank(char *doc, const char *copy, size_t len, const lv_value *v)
{
    if (v->state == LV_SET && v->str && v->str >= copy && v->str + v->len <= copy + len)
        memset(doc + (v->str - copy), 'x', v->len);
}

void lv_dict_samples_redact(char *samples, const size_t *sizes, unsigned n)
{
    static const int meta[] = { LV_M_USER_LOGIN, LV_M_USER_SIS_ID, LV_M_CLIENT_IP, LV_M_SESSION_ID };
    static const lv_decode_options opt = { 0 };
    lv_batch *b = lv_batch_new();
    char *doc = samples;
    for (unsigned i = 0; i < n; doc += sizes[i++]) {
        lv_batch_reset(b);
        const lv_doc *d = lv_batch_add(b, doc, sizes[i], "store", 0, &opt);
        const char *copy = b->docs[0]->text;
        if (!copy)
            continue;
        for (size_t e = 0; e < d->n_events; e++) {
            const lv_event *ev = &d->events[e];
            for (size_t m = 0; m < sizeof meta / sizeof *meta; m++)
                blank(doc, copy, sizes[i], &ev->meta[meta[m]]);
            for (int m = 0; m < LV_META_COUNT; m++)
                if (lv_metadata_fields[m].flags & LV_F_PERSON)
                    blank(doc, copy, sizes[i], &ev->meta[m]);
            for (size_t f = 0; ev->kind && f < ev->kind->n_fields; f++) {
                const lv_field *field = &ev->kind->fields[f];
                if (field->flags & LV_F_PERSON)
                    blank(doc, copy, sizes[i], &ev->body[f]);
            }
        }
    }
    lv_batch_free(b);
}

/* ---- reading an event back ---- */

static lv_status found_ref(void *ctx, const lv_event_ref *ref, lv_error *err)
{
    eraser *er = ctx;
    lv_batch_reset(er->b);
    static const lv_decode_options opt = { 0 };
    const lv_doc *doc = lv_batch_add(er->b, ref->doc.p ? ref->doc.p : "", ref->doc.n, "store", 0, &opt);
    lv_status st = lv_batch_prepare_keys(er->b, err);
    if (st != LV_OK)
        return st;
    const lv_batch_doc *d = er->b->docs[0];
    /* by its key, then by its key from before schema 7 (a row whose event was stored twice then) */
    for (int old = 0; old < 2; old++)
        for (size_t e = 0; e < doc->n_events; e++) {
            const lv_event *ev = &doc->events[e];
            if (ev->rejected || ev->is_entity)
                continue;
            unsigned char old_key[LV_HASH_BYTES];
            if (old && (st = lv_batch_old_key(er->b, d, e, old_key, err)) != LV_OK)
                return st;
            if (memcmp(old ? old_key : d->hash[e], ref->hash, LV_HASH_BYTES) != 0)
                continue;
            if (old) /* its topic version is keyed as its row is, as when it was stored */
                memcpy(er->b->docs[0]->hash[e], ref->hash, LV_HASH_BYTES);
            er->loaded_event = e;
            er->loaded_found = true;
            return LV_OK;
        }
    return LV_OK;
}

/* Decodes the document of event row `row` into the batch and finds the row's event in it. */
static lv_status load(eraser *er, int64_t row, const lv_event **out, lv_error *err)
{
    if (er->loaded_row != row) {
        er->loaded_row = 0;
        er->loaded_found = false;
        lv_status st = er->s->engine->event_ref(er->s, row, found_ref, er, err);
        if (st != LV_OK)
            return st;
        if (!er->loaded_found)
            return lv_fail(err, LV_EDAMAGED, "cannot erase from %s: event row %lld is not an event of its document "
                           "when decoded again (levee check says more); restore the store from a backup",
                           er->s->location, (long long)row);
        er->loaded_row = row;
    }
    *out = &er->b->docs[0]->doc.events[er->loaded_event];
    return LV_OK;
}

static lv_status reapply(eraser *er, int64_t row, lv_error *err)
{
    const lv_event *ev;
    lv_status st = load(er, row, &ev, err);
    return st == LV_OK ? lv_projection_reapply(er->s, er->b, 0, er->loaded_event, row, err) : st;
}

static lv_status keep_id(void *ctx, const int64_t *id, lv_error *err)
{
    (void)err;
    eraser *er = ctx;
    if (!erased(er, *id))
        *lv_vec_push(&er->scratch, 64) = *id;
    return LV_OK;
}

static char *visible(lv_str html)
{
    lv_buf b;
    lv_buf_init(&b);
    if (html.p)
        lv_html_to_text(html.p, html.n, &b);
    lv_buf_putc(&b, '\0');
    return lv_buf_detach(&b, NULL);
}

static lv_status unindex(lv_store *s, int64_t key, lv_str title, lv_str text, bool titled, lv_error *err)
{
    bool held = false;
    lv_status st = key ? s->engine->search_holds(s, key, &held, err) : LV_OK;
    if (st != LV_OK || !held)
        return st;
    char *t = titled ? visible(title) : NULL, *x = visible(text);
    st = s->engine->search_remove(s, key, t, x, err);
    free(t);
    free(x);
    return st;
}

/* ---- replaying what remains ---- */

static lv_status redo_entry(eraser *er, uint64_t id, lv_error *err)
{
    lv_store *s = er->s;
    const lv_engine *e = s->engine;
    lv_entry_row row;
    bool found;
    lv_status st = e->get_entry(s, id, &row, &found, err);
    if (st != LV_OK)
        return st;
    er->scratch.n = 0;
    if ((st = e->about_events(s, LV_SUBJECT_ENTRY, id, keep_id, er, err)) != LV_OK)
        return st;
    if (found && (st = unindex(s, row.event, (lv_str){ NULL, 0 }, row.text, false, err)) != LV_OK)
        return st;
    if ((st = e->drop_entry(s, id, err)) != LV_OK)
        return st;
    er->res->entries++;
    for (size_t i = 0; st == LV_OK && i < er->scratch.n; i++)
        st = reapply(er, er->scratch.items[i], err);
    if (st == LV_OK && er->scratch.n == 0 && found) {
        er->res->vanished++;
        st = e->add_removed_entry(s, id, row.topic, err);
    }
    return st;
}

static lv_status redo_conversation(eraser *er, uint64_t id, lv_error *err)
{
    lv_store *s = er->s;
    er->scratch.n = 0;
    lv_status st = s->engine->about_events(s, LV_SUBJECT_CONVERSATION, id, keep_id, er, err);
    if (st == LV_OK)
        st = s->engine->drop_conversation(s, id, err);
    er->res->conversations++;
    for (size_t i = 0; st == LV_OK && i < er->scratch.n; i++)
        st = reapply(er, er->scratch.items[i], err);
    if (st == LV_OK && er->scratch.n == 0)
        er->res->vanished++;
    return st;
}

static lv_status redo_topic(eraser *er, uint64_t id, lv_error *err)
{
    lv_store *s = er->s;
    const lv_engine *e = s->engine;
    lv_topic_row cur;
    bool found;
    lv_status st = e->get_topic(s, id, &cur, &found, err);
    if (st == LV_OK && found && cur.updated_at.set)
        st = unindex(s, cur.search_key, cur.title, cur.body, true, err);
    er->scratch.n = 0;
    if (st == LV_OK)
        st = e->topic_events(s, id, keep_id, er, err);
    int64_t first_entry = 0;
    bool has_entry = false;
    if (st == LV_OK)
        st = e->topic_first_entry_event(s, id, &first_entry, &has_entry, err);
    if (st == LV_OK)
        st = e->drop_topic(s, id, err);
    if (st != LV_OK)
        return st;
    er->res->topics++;
    /* a rebuild makes the stand-in row when the topic's first entry comes before its versions */
    if (has_entry && (er->scratch.n == 0 || first_entry < er->scratch.items[0])) {
        const lv_event *ev = NULL;
        if ((st = load(er, first_entry, &ev, err)) != LV_OK ||
            (st = lv_projection_stand_in(s, ev, id, err)) != LV_OK)
            return st;
    }
    for (size_t i = 0; st == LV_OK && i < er->scratch.n; i++)
        st = reapply(er, er->scratch.items[i], err);
    if (st == LV_OK && er->scratch.n == 0 && !has_entry)
        er->res->vanished++;
    return st;
}

/* Erases er->erased (ascending) inside the open transaction. */
static lv_status erase_rows(eraser *er, lv_error *err)
{
    lv_store *s = er->s;
    er->topics.n = er->entries.n = er->conversations.n = 0;
    lv_status st = LV_OK;
    for (size_t i = 0; st == LV_OK && i < er->erased.n; i++) {
        const lv_event *ev = NULL;
        if ((st = load(er, er->erased.items[i], &ev, err)) != LV_OK)
            break;
        lv_projection_unfigure(s->projection, ev);
        if (!ev->kind)
            continue;
        switch (ev->kind->subject) {
        case LV_SUBJECT_TOPIC:
            *lv_vec_push(&er->topics, 64) = (int64_t)lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID));
            break;
        case LV_SUBJECT_ENTRY:
            *lv_vec_push(&er->entries, 64) = (int64_t)lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_ENTRY_ID));
            *lv_vec_push(&er->topics, 64) = (int64_t)lv_value_id(lv_event_body(ev, LV_B_DISCUSSION_TOPIC_ID));
            break;
        case LV_SUBJECT_CONVERSATION:
        case LV_SUBJECT_MESSAGE:
            *lv_vec_push(&er->conversations, 64) = (int64_t)lv_value_id(lv_event_body(ev, LV_B_CONVERSATION_ID));
            break;
        }
    }
    int64_t documents = 0, bytes = 0;
    if (st == LV_OK)
        st = s->engine->erase_events(s, er->erased.items, er->erased.n, &documents, &bytes, err);
    if (st != LV_OK)
        return st;
    er->loaded_row = 0; /* its rows may be gone */
    lv_projection_erased_bytes(s->projection, bytes);
    er->res->events += (int64_t)er->erased.n;
    er->res->documents += documents;
    sort_unique(&er->entries);
    sort_unique(&er->conversations);
    sort_unique(&er->topics);
    /* entries before topics: a topic's stand-in comes from its entries as they are after */
    for (size_t i = 0; st == LV_OK && i < er->entries.n; i++)
        st = redo_entry(er, (uint64_t)er->entries.items[i], err);
    for (size_t i = 0; st == LV_OK && i < er->conversations.n; i++)
        st = redo_conversation(er, (uint64_t)er->conversations.items[i], err);
    for (size_t i = 0; st == LV_OK && i < er->topics.n; i++)
        st = redo_topic(er, (uint64_t)er->topics.items[i], err);
    return st;
}

/* One transaction erasing er->erased. */
static lv_status erase_txn(eraser *er, lv_error *err)
{
    lv_status st = lv_store_begin(er->s, err);
    if (st != LV_OK)
        return st;
    if ((st = erase_rows(er, err)) == LV_OK)
        st = lv_store_commit(er->s, err);
    else
        lv_store_rollback(er->s);
    /* rows the projection knew of may be gone */
    lv_projection_forget_known(er->s->projection);
    er->loaded_row = 0;
    er->res->transactions++;
    return st;
}

static void eraser_free(eraser *er)
{
    lv_batch_free(er->b);
    lv_vec_free(&er->erased);
    lv_vec_free(&er->topics);
    lv_vec_free(&er->entries);
    lv_vec_free(&er->conversations);
    lv_vec_free(&er->scratch);
}

/* ---- readiness, receipts, space ---- */

lv_status lv_store_erasable(lv_store *s, bool *ready, lv_error *err)
{
    uint64_t v = 0;
    bool found = false;
    lv_status st = s->engine->get_mark(s, LV_ABOUT_MARK, &v, &found, err);
    *ready = st == LV_OK && found && v == 1;
    return st;
}

static lv_status ready_to_erase(lv_store *s, bool rebuild, lv_erase_result *out, const char *what, lv_error *err)
{
    bool ready;
    lv_status st = lv_store_erasable(s, &ready, err);
    if (st != LV_OK || ready)
        return st;
    if (!rebuild)
        return lv_fail(err, LV_EUNSUPPORTED, "cannot %s %s yet: it was written by an older levee, which did not "
                       "record what each event is about; run levee rebuild --db %s once (with the server stopped)",
                       what, s->location, s->location);
    out->rebuilt = true;
    return lv_store_rebuild(s, NULL, NULL, NULL, err);
}

static lv_status keep_receipt(lv_store *s, const char *action, const lv_erase_result *r, lv_opt limit,
                              int64_t started_ms, lv_error *err)
{
    lv_receipt_row row = {
        .at_ms = lv_now_ms(), .action = { action, strlen(action) }, .events = r->events,
        .documents = r->documents, .dead_letters = r->dead_letters, .limit_ms = limit,
    };
    row.took_ms = row.at_ms - started_ms;
    lv_status st = lv_store_begin(s, err);
    if (st != LV_OK)
        return st;
    if ((st = s->engine->receipt_add(s, &row, err)) == LV_OK)
        st = lv_store_commit(s, err);
    else
        lv_store_rollback(s);
    return st;
}

lv_status lv_store_receipts(lv_store *s, lv_receipt_fn fn, void *ctx, lv_error *err)
{
    return s->engine->receipts(s, fn, ctx, err);
}

lv_status lv_store_reclaim(lv_store *s, int64_t max_pages, lv_space *out, lv_error *err)
{
    return s->engine->reclaim(s, max_pages, out, err);
}

lv_status lv_store_compact(lv_store *s, lv_error *err)
{
    return s->engine->compact(s, err);
}

static bool stopped(const lv_erase_options *opt)
{
    return opt && opt->stop && atomic_load(opt->stop);
}

static void progress(const lv_erase_options *opt, const lv_erase_result *r)
{
    if (opt && opt->progress)
        opt->progress(opt->ctx, r);
}

/* ---- prune ---- */

static lv_status note_before(void *ctx, const lv_event_ref *ref, lv_error *err)
{
    (void)err;
    eraser *er = ctx;
    *lv_vec_push(&er->erased, 512) = ref->id;
    return LV_OK;
}

lv_status lv_store_prune(lv_store *s, int64_t before_ms, bool rebuild, const lv_erase_options *opt,
                         lv_erase_result *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t started = lv_now_ms();
    lv_status st = lv_crypto_load(err);
    if (st == LV_OK)
        st = ready_to_erase(s, rebuild, out, "prune", err);
    if (st != LV_OK)
        return st;
    unsigned chunk = opt && opt->chunk ? opt->chunk : DEFAULT_CHUNK;
    eraser er = { .s = s, .b = lv_batch_new(), .res = out };
    while (st == LV_OK && !stopped(opt)) {
        er.erased.n = 0;
        if ((st = s->engine->events_before(s, before_ms, chunk, note_before, &er, err)) != LV_OK || er.erased.n == 0)
            break;
        sort_unique(&er.erased);
        st = erase_txn(&er, err);
        progress(opt, out);
    }
    while (st == LV_OK && !stopped(opt)) {
        int64_t n = 0;
        if ((st = lv_store_begin(s, err)) != LV_OK)
            break;
        if ((st = s->engine->erase_dead_before(s, before_ms, chunk, &n, err)) == LV_OK)
            st = lv_store_commit(s, err);
        else
            lv_store_rollback(s);
        out->dead_letters += n;
        if (n == 0)
            break;
        out->transactions++;
        progress(opt, out);
    }
    eraser_free(&er);
    if (st == LV_OK && (out->events || out->dead_letters))
        st = keep_receipt(s, "prune", out, lv_some(before_ms), started, err);
    return st;
}

/* ---- forget ---- */

typedef struct finder {
    eraser *er;
    uint64_t user;
    bool hit;               /* the document being read names the person */
    int64_t holder;
    LV_VEC(char *) texts;   /* logins and SIS ids to look for in dead letters */
    id_list dead;
    lv_batch *b;
} finder;

static bool is_user(void *ctx, uint64_t user)
{
    return ((const finder *)ctx)->user == user;
}

static void add_text(finder *f, const lv_value *v)
{
    if (v->state != LV_SET || v->len < 3)
        return; /* a text of one or two characters would be found everywhere */
    for (size_t i = 0; i < f->texts.n; i++)
        if (strlen(f->texts.items[i]) == v->len && memcmp(f->texts.items[i], v->str, v->len) == 0)
            return;
    *lv_vec_push(&f->texts, 4) = lv_xstrndup(v->str, v->len);
}

static lv_status find_events(void *ctx, const lv_stored_event *row, lv_error *err)
{
    (void)err;
    finder *f = ctx;
    if (row->doc == 0) {
        f->holder = row->id;
        f->hit = false;
        if (row->damage)
            return LV_OK; /* levee check reports it; what cannot be read cannot be searched */
        lv_batch_reset(f->b);
        static const lv_decode_options opt = { 0 };
        const lv_doc *doc = lv_batch_add(f->b, row->bytes.p, row->bytes.n, "store", 0, &opt);
        for (size_t e = 0; e < doc->n_events; e++) {
            const lv_event *ev = &doc->events[e];
            if (!lv_event_names(ev, is_user, f))
                continue;
            f->hit = true;
            if (ev->meta[LV_M_USER_ID].state == LV_SET && lv_value_id(&ev->meta[LV_M_USER_ID]) == f->user) {
                add_text(f, &ev->meta[LV_M_USER_LOGIN]);
                add_text(f, &ev->meta[LV_M_USER_SIS_ID]);
            }
        }
    } else if (row->doc != f->holder) {
        return LV_OK; /* levee check reports it */
    }
    if (f->hit)
        *lv_vec_push(&f->er->erased, 512) = row->id;
    return LV_OK;
}

/* Whether the bytes hold the text, or the id as a number (not inside a longer one). */
static bool mentions(const finder *f, lv_str bytes, const char *id)
{
    for (size_t i = 0; i < f->texts.n; i++)
        if (memmem(bytes.p, bytes.n, f->texts.items[i], strlen(f->texts.items[i])))
            return true;
    size_t n = strlen(id);
    for (const char *p = bytes.p, *end = bytes.p + bytes.n; p && p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), id, n);
        if (!hit)
            break;
        bool before = hit > bytes.p && hit[-1] >= '0' && hit[-1] <= '9';
        bool after = hit + n < end && hit[n] >= '0' && hit[n] <= '9';
        if (!before && !after)
            return true;
        p = hit + 1;
    }
    return false;
}

static lv_status find_dead(void *ctx, const lv_stored_dead *row, lv_error *err)
{
    (void)err;
    finder *f = ctx;
    if (row->damage || !row->kept)
        return LV_OK;
    char id[32];
    snprintf(id, sizeof id, "%llu", (unsigned long long)f->user);
    bool named = mentions(f, row->bytes, id);
    if (!named) {
        lv_batch_reset(f->b);
        static const lv_decode_options opt = { 0 };
        const lv_doc *doc = lv_batch_add(f->b, row->bytes.p, row->bytes.n, "store", 0, &opt);
        for (size_t e = 0; e < doc->n_events && !named; e++)
            named = lv_event_names(&doc->events[e], is_user, f);
    }
    if (named)
        *lv_vec_push(&f->dead, 16) = row->id;
    return LV_OK;
}

lv_status lv_store_forget(lv_store *s, uint64_t user, bool rebuild, const lv_erase_options *opt,
                          lv_erase_result *out, lv_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t started = lv_now_ms();
    const lv_engine *e = s->engine;
    lv_status st = lv_crypto_load(err);
    if (st == LV_OK)
        st = ready_to_erase(s, rebuild, out, "forget anyone in", err);
    if (st != LV_OK)
        return st;
    /* first: from now on, nothing naming them is stored (the server reads the list in each transaction) */
    if ((st = lv_store_begin(s, err)) != LV_OK)
        return st;
    if ((st = e->forget_add(s, user, started, err)) == LV_OK)
        st = lv_store_commit(s, err);
    else
        lv_store_rollback(s);
    if (st != LV_OK)
        return st;
    if ((st = e->set_scrub(s, true, err)) != LV_OK)
        return st;
    unsigned chunk = opt && opt->chunk ? opt->chunk : DEFAULT_CHUNK;
    eraser er = { .s = s, .b = lv_batch_new(), .res = out };
    finder f = { .er = &er, .user = user, .b = lv_batch_new() };
    for (size_t i = 0; opt && i < opt->n_texts; i++) {
        lv_value v = { .state = LV_SET, .str = opt->texts[i], .len = strlen(opt->texts[i]) };
        add_text(&f, &v);
    }
    st = e->stored_events(s, find_events, &f, err);
    /* then erase them, a chunk at a time */
    id_list all = { er.erased.items, er.erased.n, er.erased.cap };
    er.erased = (id_list){ 0 };
    for (size_t at = 0; st == LV_OK && at < all.n; at += chunk) {
        size_t n = all.n - at < chunk ? all.n - at : chunk;
        er.erased.n = 0;
        for (size_t i = 0; i < n; i++)
            *lv_vec_push(&er.erased, 512) = all.items[at + i];
        st = erase_txn(&er, err);
        progress(opt, out);
    }
    lv_vec_free(&all);
    if (st == LV_OK)
        st = e->stored_dead_letters(s, find_dead, &f, err);
    if (st == LV_OK && f.dead.n) {
        if ((st = lv_store_begin(s, err)) == LV_OK) {
            for (size_t i = 0; st == LV_OK && i < f.dead.n; i++)
                st = e->erase_dead_letter(s, f.dead.items[i], err);
            if (st == LV_OK)
                st = lv_store_commit(s, err);
            else
                lv_store_rollback(s);
        }
        if (st == LV_OK)
            out->dead_letters = (int64_t)f.dead.n;
    }
    for (size_t i = 0; i < f.texts.n; i++)
        free(f.texts.items[i]);
    lv_vec_free(&f.texts);
    lv_vec_free(&f.dead);
    lv_batch_free(f.b);
    eraser_free(&er);
    if (st == LV_OK)
        st = keep_receipt(s, "forget", out, (lv_opt){ 0, false }, started, err);
    bool complete;
    if (st == LV_OK)
        st = e->checkpoint(s, &complete, err); /* the old versions of the pages leave the log */
    lv_error ignored;
    e->set_scrub(s, false, st == LV_OK ? err : &ignored);
    return st;
}
