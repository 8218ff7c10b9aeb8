/* cli.h: what the command-line front end's files share: the command table, help, and the exit
 * statuses every command uses. */
#ifndef LEVEE_CLI_H
#define LEVEE_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Exit statuses, as documented in `levee --help`. */
enum {
    LV_EXIT_OK = 0,       /* all input was valid */
    LV_EXIT_REJECTED = 1, /* some input was rejected; the valid rest was processed */
    LV_EXIT_USAGE = 2,    /* usage or I/O error */
};

typedef struct lv_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line for `levee --help` */
    const char *help;    /* the whole of `levee help NAME` */
} lv_command;

extern const lv_command lv_commands[];
const lv_command *lv_command_find(const char *name);
void lv_print_usage(FILE *out);
/* Prints "levee NAME: message" and a pointer to help; returns LV_EXIT_USAGE. */
int lv_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One option of a command in the table lv_cli_parse reads (ended by a NULL name): --name with a value
 * (value points where it goes) or a flag (flag is set to true), and a one-letter form (0: none). */
typedef struct lv_cli_option {
    const char *name;
    const char **value;
    bool *flag;
    char short_name;
} lv_cli_option;
#define LV_OPT_VALUE(name, where) { name, where, NULL, 0 }
#define LV_OPT_FLAG(name, where) { name, NULL, where, 0 }
#define LV_OPT_QUIET(where) { "quiet", NULL, where, 'q' }
#define LV_OPT_END { NULL, NULL, NULL, 0 }
/* Parses the options of `levee COMMAND` by the table; the arguments left are argv[*first] to argv[argc - 1]
 * (first may be NULL), at most max_args of them (-1: any number). Returns LV_EXIT_OK, or LV_EXIT_USAGE having
 * said what is wrong ("unknown option '--x'", "takes no arguments (got 'y')"). */
int lv_cli_parse(const char *command, int argc, char **argv, const lv_cli_option *opts, int max_args, int *first);
/* The store a command works on: --db, else $LEVEE_DB, else ./levee.db. */
const char *lv_cli_db_path(const char *flag);
/* The redaction at intake that --redact FIELDS and --redact-key FILE ask for (when NULL: $LEVEE_REDACT and
 * $LEVEE_REDACT_KEY), into *out (NULL when none is asked for). Returns LV_EXIT_OK, or LV_EXIT_USAGE having said
 * why in a sentence. */
typedef struct lv_redaction lv_redaction;
int lv_cli_redaction(const char *command, const char *fields, const char *key, bool env, lv_redaction **out);

int lv_cmd_validate(int argc, char **argv);
int lv_cmd_normalize(int argc, char **argv);
int lv_cmd_convert(int argc, char **argv);
int lv_cmd_catalog(int argc, char **argv);
int lv_cmd_ingest(int argc, char **argv);
int lv_cmd_pull(int argc, char **argv);
int lv_cmd_export(int argc, char **argv);
int lv_cmd_stats(int argc, char **argv);
int lv_cmd_query(int argc, char **argv);
int lv_cmd_search(int argc, char **argv);
int lv_cmd_serve(int argc, char **argv);
int lv_cmd_simulate(int argc, char **argv);
int lv_cmd_subscriptions(int argc, char **argv);
int lv_cmd_deliver(int argc, char **argv);
int lv_cmd_backup(int argc, char **argv);
int lv_cmd_restore(int argc, char **argv);
int lv_cmd_check(int argc, char **argv);
int lv_cmd_rebuild(int argc, char **argv);
int lv_cmd_copy(int argc, char **argv);
int lv_cmd_prune(int argc, char **argv);
int lv_cmd_forget(int argc, char **argv);
int lv_cmd_help(int argc, char **argv);

#endif
