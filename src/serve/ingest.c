/* ingest.c: POST /events. The form is recognised from the body (a canvas event or Caliper envelope
 * in JSON, a signed JWT, or NDJSON lines); every document is framed and validated; all of them,
 * accepted or rejected (the rejected become dead letters), are appended to the journal, and the
 * request is suspended until the journal's flusher has made them durable (group commit). Only then
 * is it answered 2xx (or 400 with what was rejected), and its events go to the live tail. Nothing is
 * journaled for a request refused as a whole (a bad token or signature, too large, too many
 * documents, the store too far behind, the journal unable to write), and a refused request is
 * never acknowledged.
 *
 * Where the documents go is the one choice between engines (the sink, below): on SQLite they are
 * journaled and the applier stores them later; on PostgreSQL, a shared store that is durable itself,
 * they go to the committer (levee/committer.h), and the request is answered when the transaction
 * holding them has committed (or failed: 503). Everything else here is the same for both. */
#include "serve.h"

#include "levee/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sv_published {
    const char *event;
    size_t event_len;
    uint64_t course;
    char *owned_event;  /* event when it had to be copied (a name outside the catalog) */
    char *owned_doc;    /* doc when it had to be copied (a document rewritten by redaction, in an arena reused) */
    const char *doc;    /* the document holding the event: in the request's body, or in its claims for a
                         * signed event (both live as long as the request), so nothing is copied */
    size_t doc_len;
    unsigned index;     /* the event's place in it */
};

struct sv_counted {
    unsigned char outcome, format;
    short kind; /* the event's kind, -1 outside the model */
};

typedef struct sv_commit_wait {
    struct MHD_Connection *c;
    request *r;
    uint64_t ticket;
} sv_commit_wait;

void sv_free_published(request *r)
{
    for (size_t i = 0; i < r->n_published; i++) {
        free(r->published[i].owned_event);
        free(r->published[i].owned_doc);
    }
    free(r->published);
    r->published = NULL;
    r->n_published = 0;
    free(r->counted);
    r->counted = NULL;
    r->n_counted = 0;
}

static void rejected_json(lv_jw *w, unsigned doc, long line, const lv_event *ev)
{
    lv_jw_obj_open(w);
    lv_jw_kv_int(w, "document", doc);
    lv_jw_kv_int(w, "line", line);
    lv_jw_key(w, "event");
    if (ev->name)
        lv_jw_str(w, ev->name, ev->name_len);
    else
        lv_jw_null(w);
    lv_jw_key(w, "errors");
    lv_jw_arr_open(w);
    for (const lv_diag *d = ev->diags; d; d = d->next) {
        if (d->severity != LV_ERROR)
            continue;
        lv_jw_obj_open(w);
        lv_jw_kv_cstr(w, "path", d->path);
        lv_jw_kv_cstr(w, "message", d->message);
        lv_jw_obj_close(w);
    }
    lv_jw_arr_close(w);
    lv_jw_obj_close(w);
}

static void count_now(server *s, const request *r);

/* ---- the sink: the journal (SQLite) or the committer (PostgreSQL) ---- */

/* Whether the sink refuses new documents now (err says why). */
static bool sink_broken(server *s, lv_error *err)
{
    return s->committer ? lv_committer_broken(s->committer, err) : lv_journal_broken(s->journal, err);
}

static lv_status sink_append(server *s, unsigned kind, const void *payload, size_t len, uint64_t *ticket,
                             lv_error *err)
{
    return s->committer ? lv_committer_append(s->committer, kind, payload, len, ticket, err)
                        : lv_journal_append(s->journal, kind, payload, len, ticket, err);
}

/* Whether ticket's outcome is known already. */
static bool sink_settled(server *s, uint64_t ticket)
{
    return s->committer ? lv_committer_settled(s->committer) >= ticket : lv_journal_durable(s->journal) >= ticket;
}

static void sink_wait(server *s, uint64_t ticket)
{
    if (s->committer)
        lv_committer_wait(s->committer, ticket, NULL);
    else
        lv_journal_wait(s->journal, ticket, NULL);
}

/* Whether the documents of tickets [first, ticket] are kept for good (err says why not). The journal
 * is durable up to an offset, all or nothing; the committer may have stored a request's documents in
 * two transactions, and one of them may have failed. */
static bool sink_kept(server *s, uint64_t first, uint64_t ticket, lv_error *err)
{
    if (s->committer) {
        if (lv_committer_all_stored(s->committer, first ? first : ticket, ticket, err))
            return true;
        if (err && !err->msg[0])
            lv_fail(err, LV_EIO, "the transaction holding the events did not commit");
        return false;
    }
    if (lv_journal_durable(s->journal) >= ticket)
        return true;
    if (!lv_journal_broken(s->journal, err))
        lv_fail(err, LV_EIO, "the journal did not become durable");
    return false;
}

/* The events are durable (or cannot be): publish them to live tails and answer. */
enum MHD_Result sv_finish_commit(server *s, struct MHD_Connection *c, request *r)
{
    r->phase = SV_DONE;
    lv_error err = { 0 };
    if (!sink_kept(s, r->first_ticket, r->ticket, &err)) {
        lv_log(LV_LOG_ERROR, s->committer ? "cannot store events" : "cannot journal events", "reason", err.msg, NULL);
        sv_free_published(r);
        return sv_reply_error(c, r, 503, "levee cannot store events right now: %s", err.msg);
    }
    count_now(s, r);
    /* on PostgreSQL every node's tail is fed from the store (serve/follow.c), this node's events too */
    for (size_t i = 0; !s->committer && i < r->n_published; i++) {
        const sv_published *p = &r->published[i];
        lv_tail_publish(s->tail, p->event, p->event_len, p->course, p->doc, p->doc_len, p->index);
    }
    if (r->n_published)
        sv_wake_tails(s);
    sv_free_published(r);
    return sv_reply(c, r, r->deferred_status, r->deferred_type, &r->deferred);
}

/* A signed event: its claims are the event, once the signature checks against the JWKS. */
static bool unwrap_jwt(server *s, const char *body, size_t len, lv_buf *claims, lv_error *err)
{
    pthread_rwlock_rdlock(&s->jwks_lock);
    lv_status st;
    if (!s->jwks) {
        st = lv_fail(err, LV_EINVAL, "this event is signed (a JWT) but levee has no JWKS to verify it; "
                                     "start levee serve with --jwks FILE");
    } else {
        lv_jwt_policy policy = { .issuer = s->cfg->issuer, .now = lv_now_ms() / 1000, .leeway = 60 };
        st = lv_jwt_verify(s->jwks, body, len, &policy, claims, err);
    }
    pthread_rwlock_unlock(&s->jwks_lock);
    return st == LV_OK;
}

/* What one request holds on its way to the journal. */
typedef struct intake {
    lv_buf records;     /* journal records (length-prefixed), appended once all are framed */
    lv_buf one;
    lv_buf answer;
    lv_jw *w;
    sv_published *published;
    size_t n_published, cap_published;
    /* what the metrics will count once the request is accepted as a whole */
    struct sv_counted *counted;
    size_t n_counted, cap_counted;
    unsigned docs, listed;
    bool oversized;
} intake;

static void count_later(intake *in, lv_outcome_metric outcome, const lv_event *ev)
{
    lv_vec_reserve((void **)&in->counted, &in->cap_counted, in->n_counted + 1, sizeof *in->counted, 8);
    const lv_kind *k = ev->name ? lv_kind_find(ev->name, ev->name_len) : NULL;
    in->counted[in->n_counted++] = (struct sv_counted){ (unsigned char)outcome, (unsigned char)ev->format,
                                                     (short)(k ? (int)k->id : -1) };
}

static void count_now(server *s, const request *r)
{
    for (size_t i = 0; i < r->n_counted; i++) {
        const struct sv_counted *c = &r->counted[i];
        const char *name = c->kind >= 0 ? lv_kinds[c->kind].name : NULL;
        lv_metrics_count(s->metrics, (lv_outcome_metric)c->outcome, name, name ? strlen(name) : 0,
                         (lv_format)c->format, 1);
    }
}

/* own: doc when it is a copy the event owns (freed with it), else NULL */
static void publish_later(intake *in, const lv_event *ev, const char *doc, size_t doc_len, char *own, unsigned index)
{
    lv_vec_reserve((void **)&in->published, &in->cap_published, in->n_published + 1, sizeof *in->published, 8);
    sv_published *p = &in->published[in->n_published++];
    /* the event's name lives in the document's arena, which the next document reuses: a modelled
     * kind's name is the catalog's, another is copied */
    p->owned_event = ev->kind ? NULL : lv_xstrndup(ev->name ? ev->name : "", ev->name ? ev->name_len : 0);
    p->event = ev->kind ? ev->kind->name : p->owned_event;
    p->event_len = ev->name ? ev->name_len : 0;
    p->course = lv_event_course(ev);
    /* a memory reader's chunks point into the memory it reads (the body or the claims); a redacted document is
     * copied out of the arena, once for all its events (the first owns it) */
    p->owned_doc = own;
    p->doc = doc;
    p->doc_len = doc_len;
    p->index = index;
}

/* Keeps one framed document for the journal: its kind, then the record (see lv_journal_doc_encode). */
static void keep_record(intake *in, unsigned kind, const char *source, unsigned line, const char *doc, size_t len)
{
    lv_buf_reset(&in->one);
    lv_journal_doc_encode(&in->one, source, line, doc, len);
    uint32_t head[2] = { kind, (uint32_t)in->one.len };
    lv_buf_append(&in->records, head, sizeof head);
    lv_buf_append(&in->records, in->one.data, in->one.len);
}

static void intake_free(intake *in)
{
    lv_buf_free(&in->records);
    lv_buf_free(&in->one);
    lv_buf_free(&in->answer);
    if (in->w)
        lv_jw_free(in->w);
    for (size_t i = 0; i < in->n_published; i++) {
        free(in->published[i].owned_event);
        free(in->published[i].owned_doc);
    }
    free(in->published);
    free(in->counted);
}

static void intake_source(const request *r, char *source, size_t size)
{
    snprintf(source, size, "http %s", r->remote);
}

/* A body that is neither JSON nor a JWT, from a sender that passed the token check: kept whole as a
 * dead letter (the store's decoder records why it is not an event), or only its size when it is larger
 * than an event may be, and then answered 415. */
static void take_unsupported(request *r, const char *body, size_t len, intake *in)
{
    char source[80];
    intake_source(r, source, sizeof source);
    in->docs = 1;
    if (len > LV_EVENT_MAX_BYTES) {
        char n[32];
        snprintf(n, sizeof n, "%zu", len);
        keep_record(in, LV_JOURNAL_OVERSIZED, source, 1, n, strlen(n));
    } else {
        keep_record(in, LV_JOURNAL_DOCUMENT, source, 1, body, len);
    }
    r->rejected = 1;
    count_later(in, LV_M_REJECTED, &(lv_event){ .format = LV_FORMAT_CANVAS });
}

/* Frames and validates every document of the body into `in`. Returns 0, or the status to refuse the
 * whole request with (why filled). */
static int take_documents(server *s, request *r, const char *body, size_t len, intake *in, char *why, size_t size)
{
    lv_reader *reader = lv_reader_open_memory(body, len, "request");
    lv_arena arena;
    lv_arena_init(&arena, 1 << 16);
    char source[80];
    intake_source(r, source, sizeof source);
    lv_chunk chunk;
    lv_doc doc;
    lv_error err;
    int refuse = 0;
    lv_decode_options opt = { .redact = s->cfg->redact };
    while (lv_stream_next(reader, &arena, &opt, &chunk, &doc, &err) == LV_OK) {
        if (++in->docs > SV_MAX_DOCUMENTS) {
            snprintf(why, size, "the batch holds more than %d documents; send it in smaller batches", SV_MAX_DOCUMENTS);
            refuse = 413;
            break;
        }
        if (chunk.too_big) {
            char n[32];
            snprintf(n, sizeof n, "%zu", chunk.len);
            in->oversized = true;
            keep_record(in, LV_JOURNAL_OVERSIZED, source, in->docs, n, strlen(n));
        } else {
            /* the document as decoded: the chunk, or its redacted rewrite */
            keep_record(in, LV_JOURNAL_DOCUMENT, source, in->docs, doc.text, doc.len);
        }
        bool rewritten = !chunk.too_big && doc.text != chunk.text;
        const char *kept = chunk.text;
        for (size_t i = 0; i < doc.n_events; i++) {
            const lv_event *ev = &doc.events[i];
            if (ev->is_entity && !ev->rejected)
                continue;
            if (ev->rejected) {
                r->rejected++;
                count_later(in, LV_M_REJECTED, ev);
                if (in->listed < SV_MAX_REJECTED_LISTED) {
                    rejected_json(in->w, in->docs, chunk.line, ev);
                    in->listed++;
                }
                continue;
            }
            r->accepted++;
            count_later(in, LV_M_RECEIVED, ev);
            char *own = NULL;
            if (rewritten && kept == chunk.text)
                kept = own = lv_xstrndup(doc.text, doc.len);
            publish_later(in, ev, kept, rewritten ? doc.len : chunk.len, own, (unsigned)i);
        }
        lv_arena_reset(&arena);
    }
    lv_reader_close(reader);
    lv_arena_free(&arena);
    if (!refuse && in->docs == 0) {
        snprintf(why, size, "the request holds no JSON document");
        refuse = 400;
    }
    return refuse;
}

/* Appends the kept records to the journal; the ticket is the offset past the last, *first the first
 * record's ticket (0 when there is none). */
static lv_status journal_records(server *s, intake *in, uint64_t *first, uint64_t *ticket, lv_error *err)
{
    const char *p = in->records.data, *end = p + in->records.len;
    *first = 0;
    while (p < end) {
        uint32_t head[2];
        memcpy(head, p, sizeof head);
        p += sizeof head;
        lv_status st = sink_append(s, head[0], p, head[1], ticket, err);
        if (st != LV_OK)
            return st;
        if (!*first)
            *first = *ticket;
        p += head[1];
    }
    return LV_OK;
}

enum MHD_Result sv_ingest(server *s, struct MHD_Connection *c, request *r)
{
    if (r->over_budget)
        return sv_reply_error(c, r, 503, "levee is holding as many request bodies as it allows (%zu MB); try "
                                         "again shortly", SV_BODY_BUDGET >> 20);
    if (r->too_big)
        return sv_reply_error(c, r, 413, "the request is larger than levee accepts (an event at most %d bytes; "
                                         "an NDJSON batch at most %zu bytes)", LV_EVENT_MAX_BYTES,
                              s->cfg->max_batch_bytes);
    uint64_t backlog = s->journal ? lv_journal_backlog(s->journal, lv_applier_offset(s->applier)) : 0;
    if (backlog > SV_BACKLOG_LIMIT)
        return sv_reply_error(c, r, 503, "levee is behind storing events (%llu MB waiting); try again shortly",
                              (unsigned long long)(backlog >> 20));
    lv_error jerr;
    if (sink_broken(s, &jerr))
        return sv_reply_error(c, r, 503, "levee cannot store events right now: %s", jerr.msg);
    const char *body = r->body.data ? r->body.data : "";
    size_t len = r->body.len;
    while (len && (*body == ' ' || *body == '\n' || *body == '\r' || *body == '\t')) {
        body++;
        len--;
    }
    if (len == 0)
        return sv_reply_error(c, r, 400, "the request has no body; post an event");
    bool signed_event = lv_jwt_looks_like(body, len), unsupported = false;
    if (signed_event) {
        lv_error err;
        if (!unwrap_jwt(s, body, len, &r->claims, &err))
            return sv_refuse(s, c, r, err.msg);
        body = r->claims.data;
        len = r->claims.len;
    } else if (s->cfg->require_signature) {
        return sv_refuse(s, c, r, "this server accepts only signed events (JWTs); the request is not signed");
    } else if (body[0] != '{' && body[0] != '[') {
        unsupported = true;
    }
    if (!signed_event && !unsupported && r->body.len > SV_SINGLE_BODY_LIMIT) {
        const char *type = lv_mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (!type || strncmp(type, "application/x-ndjson", 20) != 0)
            return sv_reply_error(c, r, 413, "the event is %zu bytes; Canvas and levee refuse events over %d bytes "
                                             "(send batches as application/x-ndjson)", r->body.len, LV_EVENT_MAX_BYTES);
    }

    intake in = { 0 };
    lv_buf_init(&in.records);
    lv_buf_init(&in.one);
    lv_buf_init(&in.answer);
    in.w = lv_jw_new(&in.answer, false);
    lv_jw_obj_open(in.w);
    lv_jw_key(in.w, "rejected");
    lv_jw_arr_open(in.w);
    char why[LV_ERROR_MAX];
    int refuse = 0;
    if (unsupported)
        take_unsupported(r, body, len, &in);
    else
        refuse = take_documents(s, r, body, len, &in, why, sizeof why);
    if (refuse) {
        intake_free(&in);
        r->accepted = r->rejected = 0;
        return sv_reply_error(c, r, refuse, "%s", why);
    }
    lv_jw_arr_close(in.w);
    if (r->rejected > in.listed)
        lv_jw_kv_int(in.w, "rejected_count", r->rejected); /* more were rejected than are listed */
    lv_jw_kv_int(in.w, "accepted", r->accepted);
    lv_jw_obj_close(in.w);
    lv_jw_free(in.w);
    in.w = NULL;
    if (unsupported) {
        lv_buf_reset(&in.answer);
        lv_buf_puts(&in.answer, "{\"error\":\"unsupported content: levee accepts a canvas event or Caliper "
                                "envelope (JSON), a signed event (JWT) or NDJSON; the body is kept as a dead "
                                "letter\"}");
    }
    uint64_t first_ticket = 0, ticket = 0;
    if (journal_records(s, &in, &first_ticket, &ticket, &jerr) != LV_OK) {
        intake_free(&in);
        lv_log(LV_LOG_ERROR, s->committer ? "cannot store events" : "cannot journal events", "reason", jerr.msg, NULL);
        return sv_reply_error(c, r, 503, "levee cannot store events right now: %s", jerr.msg);
    }
    r->counted = in.counted;
    r->n_counted = in.n_counted;
    in.counted = NULL;
    /* Answer once the journal holds it durably: suspend until the flusher says so. */
    lv_buf_putc(&in.answer, '\n');
    r->deferred = in.answer;
    lv_buf_init(&in.answer);
    r->deferred_status = unsupported ? 415 : in.oversized ? 413 : r->rejected ? 400 : 200;
    r->deferred_type = "application/json";
    r->published = in.published;
    r->n_published = in.n_published;
    in.published = NULL;
    in.n_published = 0;
    intake_free(&in);
    r->first_ticket = first_ticket;
    r->ticket = ticket;
    r->phase = SV_COMMIT;
    pthread_mutex_lock(&s->suspend_lock);
    if (!sink_settled(s, ticket) && !sink_broken(s, NULL) && sv_suspend(s, c, &r->suspended, true)) {
        lv_vec_reserve((void **)&s->commits, &s->cap_commits, s->n_commits + 1, sizeof *s->commits, 64);
        s->commits[s->n_commits++] = (sv_commit_wait){ c, r, ticket };
        pthread_mutex_unlock(&s->suspend_lock);
        return MHD_YES;
    }
    pthread_mutex_unlock(&s->suspend_lock);
    /* durable already, or the server is stopping: wait here (the flusher, or the committer, runs until the end) */
    sink_wait(s, ticket);
    return sv_finish_commit(s, c, r);
}

/* After the flusher's sync: resume every request whose events are now durable (or all of them if
 * the journal cannot be written: they answer 503). Called on the flusher's thread. */
void sv_on_durable(void *ctx, const lv_journal_commit *commit)
{
    server *s = ctx;
    uint64_t durable = commit->durable;
    if (commit->records)
        lv_metrics_commit(s->metrics, commit->seconds, commit->records);
    bool broken = lv_journal_broken(s->journal, NULL);
    pthread_mutex_lock(&s->suspend_lock);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_commits; i++) {
        if (s->commits[i].ticket <= durable || broken)
            sv_resume(s, s->commits[i].c, true);
        else
            s->commits[kept++] = s->commits[i];
    }
    s->n_commits = kept;
    pthread_mutex_unlock(&s->suspend_lock);
}

/* After a round of the committer (PostgreSQL): resume every request it settled, stored or not (the
 * request finds out which in sv_finish_commit). Called on the committer's thread. */
void sv_on_settled(void *ctx, const lv_commit_round *round)
{
    server *s = ctx;
    if (round->stored && round->records)
        lv_metrics_commit(s->metrics, round->seconds, round->records);
    pthread_mutex_lock(&s->suspend_lock);
    size_t kept = 0;
    for (size_t i = 0; i < s->n_commits; i++) {
        if (s->commits[i].ticket <= round->to)
            sv_resume(s, s->commits[i].c, true);
        else
            s->commits[kept++] = s->commits[i];
    }
    s->n_commits = kept;
    pthread_mutex_unlock(&s->suspend_lock);
}
