/* cmd_erase.c: `levee prune` (keep only the events newer than a limit) and `levee forget` (erase a
 * person, and refuse their events from then on), with the receipts they keep. The rules are
 * levee/erase.h's; this file reads the options and tells the operator what was done. */
#include "cli.h"

#include "levee/applier.h"
#include "levee/engines.h"
#include "levee/erase.h"
#include "levee/journal.h"
#include "levee/timestamp.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether no server holds the store's journal (a rebuild or a VACUUM needs the store to itself).
 * On LV_EBUSY err says which server; j (when taken) is held until closed. */
static lv_status take_store(lv_store *store, const char *path, const char *what, lv_journal **j, lv_error *err)
{
    *j = NULL;
    size_t n = strlen(path) + 16;
    char *journal = lv_xmalloc(n);
    snprintf(journal, n, "%s.journal", path);
    struct stat sb;
    uint64_t mark = 0;
    lv_status st = lv_store_get_mark(store, LV_JOURNAL_MARK, &mark, err);
    if (st == LV_OK && stat(journal, &sb) == 0 && (st = lv_journal_open(journal, mark, j, err)) == LV_EBUSY) {
        char why[LV_ERROR_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        lv_fail(err, LV_EBUSY, "%s; %s needs the store to itself: stop that server first (nothing was changed)", why,
                what);
    }
    free(journal);
    return st;
}

static void say_result(const char *command, const lv_erase_result *r, bool json, const char *what)
{
    if (json) {
        printf("{\"events\":%lld,\"documents\":%lld,\"dead_letters\":%lld,\"topics\":%lld,\"entries\":%lld,"
               "\"conversations\":%lld,\"gone\":%lld,\"transactions\":%lld,\"rebuilt\":%s}\n",
               (long long)r->events, (long long)r->documents, (long long)r->dead_letters, (long long)r->topics,
               (long long)r->entries, (long long)r->conversations, (long long)r->vanished, (long long)r->transactions,
               r->rebuilt ? "true" : "false");
        return;
    }
    fprintf(stderr, "levee %s: erased %lld events (%lld documents) and %lld dead letters %s; recomputed %lld topics, "
            "%lld entries and %lld conversations from what remains of them (%lld had nothing left and went)\n",
            command, (long long)r->events, (long long)r->documents, (long long)r->dead_letters, what,
            (long long)r->topics, (long long)r->entries, (long long)r->conversations, (long long)r->vanished);
}

/* Gives the freed pages back; compact: rewrite the file first when it cannot give them back one by one. */
static lv_status give_back(lv_store *store, const char *path, bool compact, bool quiet, lv_error *err)
{
    lv_space sp;
    lv_status st = lv_store_reclaim(store, 0, &sp, err);
    if (st != LV_OK)
        return st;
    if (!sp.incremental && compact) {
        lv_journal *j;
        if ((st = take_store(store, path, "levee prune --vacuum", &j, err)) != LV_OK)
            return st;
        int64_t before = sp.pages;
        st = lv_store_compact(store, err);
        lv_journal_close(j);
        if (st == LV_OK)
            st = lv_store_reclaim(store, 0, &sp, err);
        if (st == LV_OK && !quiet)
            fprintf(stderr, "levee prune: rewrote %s (%lld -> %lld pages of %lld bytes); from now on it gives freed "
                    "pages back as it prunes\n", path, (long long)before, (long long)sp.pages, (long long)sp.page_size);
        return st;
    }
    if (!quiet && sp.reclaimed)
        fprintf(stderr, "levee prune: gave %lld bytes back to the file system\n",
                (long long)(sp.reclaimed * sp.page_size));
    if (!quiet && !sp.incremental && sp.free_pages)
        fprintf(stderr, "levee prune: %s keeps its %lld free pages (%lld bytes) for new events: it was created by an "
                "older levee, whose files cannot give pages back one by one; run levee prune --vacuum once, with the "
                "server stopped, to rewrite it so that they can\n", path, (long long)sp.free_pages,
                (long long)(sp.free_pages * sp.page_size));
    return LV_OK;
}

int lv_cmd_prune(int argc, char **argv)
{
    const char *db = NULL, *before = NULL;
    bool vacuum = false, json = false, quiet = false;
    const lv_cli_option options[] = {
        LV_OPT_VALUE("db", &db), LV_OPT_VALUE("before", &before), LV_OPT_FLAG("vacuum", &vacuum),
        LV_OPT_FLAG("json", &json), LV_OPT_QUIET(&quiet),
        LV_OPT_END,
    };
    int rc = lv_cli_parse("prune", argc, argv, options, 0, NULL);
    if (rc != LV_EXIT_OK)
        return rc;
    if (!before && !vacuum)
        return lv_usage_error("prune", "needs --before T: a time (2024-01-31, 2024-01-31T12:00:00Z) or how long "
                              "ago (400d)");
    lv_error err;
    int64_t limit = 0, ago;
    if (before && lv_duration_parse(before, &ago, &err) == LV_OK)
        limit = lv_now_ms() - ago;
    else if (before && lv_time_or_date_parse(before, strlen(before), &limit, &err) != LV_OK)
        return lv_usage_error("prune", "--before must be a time (2024-01-31, 2024-01-31T12:00:00Z) or how long ago "
                              "(400d), not '%s'", before);
    const char *path = lv_cli_db_path(db);
    lv_store *store = NULL;
    lv_store_options so = { .read_only = false, .create = false };
    if (lv_store_open(path, &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee prune: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    lv_status st = LV_OK;
    bool ready = true;
    lv_journal *j = NULL;
    if (before && (st = lv_store_erasable(store, &ready, &err)) == LV_OK && !ready) {
        /* the rebuild it needs first is one transaction over everything: no server beside it */
        st = take_store(store, path, "the one rebuild an older store needs before it is pruned", &j, &err);
        if (st == LV_OK && !quiet)
            fprintf(stderr, "levee prune: %s was written by an older levee, which did not record what each event is "
                    "about; rebuilding its derived state first (once)\n", path);
    }
    lv_erase_result r = { 0 };
    if (st == LV_OK && before)
        st = lv_store_prune(store, limit, true, NULL, &r, &err);
    lv_journal_close(j);
    if (st == LV_OK)
        st = give_back(store, path, vacuum, quiet || json, &err);
    lv_store_close(store);
    if (st != LV_OK) {
        fprintf(stderr, "levee prune: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (before) {
        char t[LV_TIME_TEXT_MAX], what[LV_TIME_TEXT_MAX + 32];
        lv_time_format(limit, t);
        snprintf(what, sizeof what, "older than %s", t);
        if (json || !quiet)
            say_result("prune", &r, json, what);
    }
    return LV_EXIT_OK;
}

static lv_status print_receipt(void *ctx, const lv_receipt_row *r, lv_error *err)
{
    (void)err;
    bool json = *(const bool *)ctx;
    char at[LV_TIME_TEXT_MAX], limit[LV_TIME_TEXT_MAX] = "";
    lv_time_format(r->at_ms, at);
    if (r->limit_ms.set)
        lv_time_format(r->limit_ms.v, limit);
    if (json)
        printf("{\"id\":%lld,\"at\":\"%s\",\"action\":\"%.*s\",\"events\":%lld,\"documents\":%lld,"
               "\"dead_letters\":%lld,\"before\":%s%s%s,\"took_ms\":%lld}\n", (long long)r->id, at, (int)r->action.n,
               r->action.p, (long long)r->events, (long long)r->documents, (long long)r->dead_letters,
               r->limit_ms.set ? "\"" : "", r->limit_ms.set ? limit : "null", r->limit_ms.set ? "\"" : "",
               (long long)r->took_ms);
    else
        printf("%-5lld %s  %-6.*s %8lld events %8lld documents %6lld dead letters%s%s  (%.1f s)\n", (long long)r->id,
               at, (int)r->action.n, r->action.p, (long long)r->events, (long long)r->documents,
               (long long)r->dead_letters, r->limit_ms.set ? "  before " : "", limit, (double)r->took_ms / 1000.0);
    return LV_OK;
}

int lv_cmd_forget(int argc, char **argv)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, 'd' }, { "user", required_argument, NULL, 'u' },
        { "login", required_argument, NULL, 'l' }, { "sis-id", required_argument, NULL, 's' },
        { "receipts", no_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 },
    };
    const char *db = NULL, *user_text = NULL;
    const char *texts[16];
    size_t n_texts = 0;
    bool receipts = false, json = false, quiet = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "q", options, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'u': user_text = optarg; break;
        case 'l':
        case 's':
            if (n_texts == sizeof texts / sizeof *texts)
                return lv_usage_error("forget", "takes at most %zu --login and --sis-id", n_texts);
            texts[n_texts++] = optarg;
            break;
        case 'r': receipts = true; break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        default: return lv_usage_error("forget", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lv_usage_error("forget", "takes no arguments (got '%s')", argv[optind]);
    if (!receipts && !user_text)
        return lv_usage_error("forget", "needs --user ID (the person's Canvas user id), or --receipts");
    char *end = NULL;
    unsigned long long id = user_text ? strtoull(user_text, &end, 10) : 0;
    if (user_text && (!*user_text || *end || *user_text == '-' || id == 0))
        return lv_usage_error("forget", "--user must be a Canvas user id (digits), not '%s'", user_text);
    const char *path = lv_cli_db_path(db);
    lv_store *store = NULL;
    lv_error err;
    lv_store_options so = { .read_only = receipts && !user_text, .create = false, .one_shot = receipts && !user_text };
    if (lv_store_open(path, &so, &store, &err) != LV_OK) {
        fprintf(stderr, "levee forget: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    lv_status st = LV_OK;
    lv_erase_result r = { 0 };
    uint64_t global = id;
    if (user_text) {
        bool ready = true;
        lv_journal *j = NULL;
        if ((st = lv_store_resolve_id(store, id, &global, &err)) == LV_OK &&
            (st = lv_store_erasable(store, &ready, &err)) == LV_OK && !ready) {
            st = take_store(store, path, "the one rebuild an older store needs before anyone is forgotten", &j, &err);
            if (st == LV_OK && !quiet)
                fprintf(stderr, "levee forget: %s was written by an older levee, which did not record what each event "
                        "is about; rebuilding its derived state first (once)\n", path);
        }
        lv_erase_options opt = { .texts = texts, .n_texts = n_texts };
        if (st == LV_OK)
            st = lv_store_forget(store, global, true, &opt, &r, &err);
        lv_journal_close(j);
        lv_space sp;
        if (st == LV_OK)
            st = lv_store_reclaim(store, 0, &sp, &err);
    }
    if (st == LV_OK && receipts)
        st = lv_store_receipts(store, print_receipt, &json, &err);
    lv_store_close(store);
    if (st != LV_OK) {
        fprintf(stderr, "levee forget: %s\n", err.msg);
        return LV_EXIT_USAGE;
    }
    if (user_text && !receipts && (json || !quiet)) {
        char what[64];
        snprintf(what, sizeof what, "naming user %llu", (unsigned long long)global);
        say_result("forget", &r, json, what);
        if (!json)
            fprintf(stderr, "levee forget: events naming user %llu are not stored from now on; the receipt is in "
                    "levee forget --receipts\n", (unsigned long long)global);
    }
    return LV_EXIT_OK;
}
