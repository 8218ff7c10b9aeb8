/* help.c: the command table and every help text (`levee --help`, `levee help COMMAND`). */
#include "cli.h"

#include <string.h>

#define INPUT_HELP                                                                                 \
    "Input: files named on the command line, or standard input when there is none or the name is\n" \
    "'-'. Each file holds JSON documents one after another: NDJSON (LF or CRLF) or pretty-printed\n" \
    "documents. A document is a canvas-format event ({\"metadata\": ..., \"body\": ...}), a Caliper\n" \
    "1.1 envelope ({\"sensor\", \"sendTime\", \"dataVersion\", \"data\": [...]}) or a bare Caliper event.\n"

#define CHECK_OPTIONS                                                                              \
    "  --strict       treat warnings as errors: a warned-about event is rejected\n"              \
    "  --json         print diagnostics as JSON lines on stderr:\n"                              \
    "                 {\"source\",\"line\",\"severity\",\"event\",\"path\",\"message\"}\n"              \
    "  -q, --quiet    no summary line at the end\n"

#define EXIT_HELP                                                                                  \
    "Exit status: 0 when all input was valid, 1 when some was rejected (the valid rest is still\n"  \
    "processed), 2 for usage or I/O errors.\n"

static const char validate_help[] =
    "usage: levee validate [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Checks every event against levee's catalog of Canvas Live Events and reports what is wrong,\n"
    "one line per problem on stderr: source:line: event: /path/to/field: what is wrong.\n"
    "\n"
    "Errors reject the event: not JSON, not an object, no event_name or event_time, a timestamp\n"
    "that is not ISO 8601 with a UTC offset or names an impossible date, an id that is not a\n"
    "decimal 64-bit integer, a known field of the wrong type, a missing required body id, a Caliper\n"
    "event without a required property or not Caliper 1.1, a document over 1,000,000 bytes.\n"
    "Warnings keep the event: an event name outside the model, an unknown field, an unknown\n"
    "enumeration value, text over 8192 characters.\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee validate events.ndjson\n"
    "  curl -s https://example.edu/export | levee validate --strict\n"
    "  levee validate --json events.ndjson 2>&1 >/dev/null | jq -r .path | sort | uniq -c\n";

static const char normalize_help[] =
    "usage: levee normalize [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Writes levee's canonical record of every valid event to stdout, one JSON object per line:\n"
    "  {\"event\", \"format\", \"time\", \"metadata\", \"body\", \"warnings\"}\n"
    "Times are UTC (RFC 3339, milliseconds, Z); ids are exact decimal strings, with local ids made\n"
    "global on the shard of the event's root account; Caliper events are mapped back to Canvas's\n"
    "names, so both formats give comparable records. Rejected events are reported on stderr and\n"
    "left out. docs/events.md describes the record.\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee normalize events.ndjson > records.ndjson\n"
    "  levee normalize caliper.json | jq -r '.body.discussion_entry_id'\n";

static const char convert_help[] =
    "usage: levee convert --to canvas|caliper [--pretty] [--strict] [--json] [-q] [FILE...]\n"
    "\n"
    "Converts events between Canvas's two formats, one document per line on stdout.\n"
    "  --to caliper   the Caliper 1.1 envelope Canvas would send, field for field as Canvas's\n"
    "                 Forum page shows it (a reply also gets replyTo). Only discussion_entry_created\n"
    "                 and discussion_topic_created have a documented Caliper form; other events are\n"
    "                 refused with a message. The Caliper event id is derived from the event's\n"
    "                 content, so converting the same event twice gives the same id. Caliper input\n"
    "                 is passed through.\n"
    "  --to canvas    the canvas form of Caliper input; canvas input is passed through.\n"
    "  --pretty       indent the output\n"
    "\n" INPUT_HELP "\n"
    "Options:\n" CHECK_OPTIONS "\n" EXIT_HELP "\n"
    "Examples:\n"
    "  levee convert --to caliper entry.json\n"
    "  levee convert --to caliper events.ndjson | levee convert --to canvas\n";

static const char catalog_help[] =
    "usage: levee catalog\n"
    "\n"
    "Prints the catalog of event kinds levee models (fields, types, whether required or nullable,\n"
    "and where Canvas's Caliper form carries them) as Markdown. docs/events.md includes it.\n"
    "\n"
    "Example:\n"
    "  levee catalog | less\n";

static const char help_help[] =
    "usage: levee help [COMMAND]\n"
    "\n"
    "Without a command, lists the commands; with one, explains it in full.\n"
    "\n"
    "Example:\n"
    "  levee help validate\n";

const lv_command lv_commands[] = {
    { "validate", lv_cmd_validate, "check events against the catalog and report what is wrong", validate_help },
    { "normalize", lv_cmd_normalize, "write levee's canonical record of each event (UTC, exact ids)", normalize_help },
    { "convert", lv_cmd_convert, "convert events between canvas and Caliper 1.1", convert_help },
    { "catalog", lv_cmd_catalog, "print the catalog of event kinds and fields (Markdown)", catalog_help },
    { "help", lv_cmd_help, "explain a command", help_help },
    { NULL, NULL, NULL, NULL },
};

const lv_command *lv_command_find(const char *name)
{
    for (const lv_command *c = lv_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

void lv_print_usage(FILE *out)
{
    fprintf(out,
            "usage: levee COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "levee is a self-hosted hub for Canvas LMS Live Events (conversations and discussions),\n"
            "in both formats Canvas emits: canvas and IMS Caliper 1.1.\n"
            "\n"
            "Commands:\n");
    for (const lv_command *c = lv_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out,
            "\n"
            "Options for every command:\n"
            "  -h, --help     explain the command (same as 'levee help COMMAND')\n"
            "  --version      print levee's version\n"
            "\n" EXIT_HELP
            "\n"
            "Examples:\n"
            "  levee validate events.ndjson\n"
            "  levee normalize events.ndjson | jq .time\n"
            "  levee convert --to caliper entry.json\n"
            "  levee help validate\n");
}
