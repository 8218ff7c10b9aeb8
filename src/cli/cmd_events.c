/* cmd_events.c: `levee validate`, `levee normalize`, `levee convert` and `levee catalog`: read
 * documents, decode each into events, report diagnostics, and write what the command produces. */
#include "cli.h"

#include "levee/caliper.h"
#include "levee/event.h"
#include "levee/stream.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef enum { MODE_VALIDATE, MODE_NORMALIZE, MODE_TO_CALIPER, MODE_TO_CANVAS } mode;

typedef struct run {
    const char *command;
    mode mode;
    lv_decode_options opt;
    bool json_diags;
    bool quiet;
    bool pretty;
    lv_buf out;      /* stdout, flushed in large writes */
    lv_buf diags;    /* stderr */
    lv_jw *out_w;
    lv_jw *diag_w;
    unsigned long documents, events, valid, rejected, warnings, skipped_entities;
} run;

static void flush(run *r, bool force)
{
    if (r->out.len && (force || r->out.len > (1u << 16))) {
        fwrite(r->out.data, 1, r->out.len, stdout);
        lv_buf_reset(&r->out);
    }
    if (r->diags.len && (force || r->diags.len > (1u << 14))) {
        fwrite(r->diags.data, 1, r->diags.len, stderr);
        lv_buf_reset(&r->diags);
    }
}

static void report(run *r, const char *source, long line, const lv_event *ev, const lv_diag *d)
{
    if (r->json_diags) {
        lv_jw_reset(r->diag_w);
        lv_diag_json(r->diag_w, source, line, ev, d);
        lv_buf_putc(&r->diags, '\n');
    } else {
        lv_diag_text(&r->diags, source, line, ev, d);
    }
}

/* Reports a failure that is not a field diagnostic (e.g. no Caliper form) in the same shape. */
static void report_message(run *r, const char *source, long line, const lv_event *ev, const char *msg)
{
    lv_diag d = { LV_ERROR, "", msg, NULL };
    report(r, source, line, ev, &d);
}

static void produce(run *r, lv_arena *arena, const char *source, long line, const lv_event *ev)
{
    lv_error err;
    size_t mark = r->out.len;
    lv_jw_reset(r->out_w);
    switch (r->mode) {
    case MODE_VALIDATE: return;
    case MODE_NORMALIZE: lv_record_write(r->out_w, ev); break;
    case MODE_TO_CALIPER:
        if (ev->format == LV_FORMAT_CALIPER) {
            lv_jw_value(r->out_w, ev->json);
        } else if (lv_caliper_write_envelope(ev, arena, r->out_w, &err) != LV_OK) {
            r->out.len = mark;
            report_message(r, source, line, ev, err.msg);
            r->valid--;
            r->rejected++;
            return;
        }
        break;
    case MODE_TO_CANVAS:
        if (lv_canvas_write_event(ev, r->out_w, &err) != LV_OK) {
            r->out.len = mark;
            report_message(r, source, line, ev, err.msg);
            r->valid--;
            r->rejected++;
            return;
        }
        break;
    }
    lv_buf_putc(&r->out, '\n');
}

static void process_document(run *r, lv_arena *arena, const char *source, const lv_chunk *chunk,
                             const lv_doc *doc)
{
    r->documents++;
    for (size_t i = 0; i < doc->n_events; i++) {
        const lv_event *ev = &doc->events[i];
        for (const lv_diag *d = ev->diags; d; d = d->next)
            report(r, source, chunk->line, ev, d);
        r->warnings += ev->n_warnings;
        if (ev->is_entity && !ev->rejected) {
            r->skipped_entities++;
            continue;
        }
        r->events++;
        if (ev->rejected) {
            r->rejected++;
            continue;
        }
        r->valid++;
        produce(r, arena, source, chunk->line, ev);
    }
    flush(r, false);
}

static int process_source(run *r, lv_arena *arena, const char *path)
{
    lv_error err;
    lv_reader *reader;
    if (lv_reader_open_path(&reader, path, &err) != LV_OK) {
        flush(r, true);
        fprintf(stderr, "levee %s: %s\n", r->command, err.msg);
        return -1;
    }
    const char *source = lv_reader_name(reader);
    lv_chunk chunk;
    lv_doc doc;
    lv_status st;
    while ((st = lv_stream_next(reader, arena, &r->opt, &chunk, &doc, &err)) == LV_OK) {
        process_document(r, arena, source, &chunk, &doc);
        lv_arena_reset(arena);
    }
    lv_reader_close(reader);
    if (st == LV_EIO) {
        flush(r, true);
        fprintf(stderr, "levee %s: %s\n", r->command, err.msg);
        return -1;
    }
    return 0;
}

static int run_command(const char *command, mode m, int argc, char **argv)
{
    run r = { .command = command, .mode = m };
    static const struct option long_options[] = {
        { "strict", no_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'q' },  { "to", required_argument, NULL, 't' },
        { "pretty", no_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
    };
    bool is_convert = strcmp(command, "convert") == 0;
    bool have_to = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "q", long_options, NULL)) != -1) {
        switch (c) {
        case 's': r.opt.strict = true; break;
        case 'j': r.json_diags = true; break;
        case 'q': r.quiet = true; break;
        case 'p':
            if (!is_convert)
                return lv_usage_error(command, "--pretty applies to convert only");
            r.pretty = true;
            break;
        case 't':
            if (!is_convert)
                return lv_usage_error(command, "--to applies to convert only");
            if (strcmp(optarg, "caliper") == 0)
                r.mode = MODE_TO_CALIPER;
            else if (strcmp(optarg, "canvas") == 0)
                r.mode = MODE_TO_CANVAS;
            else
                return lv_usage_error(command, "--to must be canvas or caliper, not '%s'", optarg);
            have_to = true;
            break;
        default:
            return lv_usage_error(command, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (is_convert && !have_to)
        return lv_usage_error(command, "say which format to convert to: --to canvas or --to caliper");

    lv_buf_init(&r.out);
    lv_buf_init(&r.diags);
    r.out_w = lv_jw_new(&r.out, r.pretty);
    r.diag_w = lv_jw_new(&r.diags, false);
    lv_arena arena;
    lv_arena_init(&arena, 1 << 16);
    int io_failed = 0;
    if (optind >= argc) {
        io_failed |= process_source(&r, &arena, "-");
    } else {
        for (int i = optind; i < argc; i++)
            io_failed |= process_source(&r, &arena, argv[i]);
    }
    flush(&r, true);
    if (!r.quiet) {
        fprintf(stderr, "levee %s: %lu event%s in %lu document%s: %lu valid, %lu rejected, %lu warning%s",
                command, r.events, r.events == 1 ? "" : "s", r.documents, r.documents == 1 ? "" : "s",
                r.valid, r.rejected, r.warnings, r.warnings == 1 ? "" : "s");
        if (r.skipped_entities)
            fprintf(stderr, ", %lu Caliper entit%s (not events) skipped", r.skipped_entities,
                    r.skipped_entities == 1 ? "y" : "ies");
        fputc('\n', stderr);
    }
    lv_arena_free(&arena);
    lv_jw_free(r.out_w);
    lv_jw_free(r.diag_w);
    lv_buf_free(&r.out);
    lv_buf_free(&r.diags);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "levee %s: cannot write the output\n", command);
        return LV_EXIT_USAGE;
    }
    if (io_failed)
        return LV_EXIT_USAGE;
    return r.rejected ? LV_EXIT_REJECTED : LV_EXIT_OK;
}

int lv_cmd_validate(int argc, char **argv)
{
    return run_command("validate", MODE_VALIDATE, argc, argv);
}

int lv_cmd_normalize(int argc, char **argv)
{
    return run_command("normalize", MODE_NORMALIZE, argc, argv);
}

int lv_cmd_convert(int argc, char **argv)
{
    return run_command("convert", MODE_TO_CANVAS, argc, argv);
}

int lv_cmd_catalog(int argc, char **argv)
{
    if (argc > 1)
        return lv_usage_error("catalog", "takes no arguments");
    (void)argv;
    lv_buf out;
    lv_buf_init(&out);
    lv_catalog_markdown(&out);
    fwrite(out.data, 1, out.len, stdout);
    lv_buf_free(&out);
    return LV_EXIT_OK;
}
