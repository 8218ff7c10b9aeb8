/* main.c: levee's entry point: finds the command and runs it; handles --help and --version; and
 * makes sure that what a command wrote reached its output: a write that failed (a full disk, a
 * closed pipe) is an error, exit status 2, whatever the command. */
#include "cli.h"

#include "levee/common.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

int lv_usage_error(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "levee %s: ", command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nRun 'levee help %s' for usage.\n", command);
    va_end(ap);
    return LV_EXIT_USAGE;
}

int lv_cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        lv_print_usage(stdout);
        return LV_EXIT_OK;
    }
    const lv_command *c = lv_command_find(argv[1]);
    if (!c) {
        fprintf(stderr, "levee help: there is no command '%s'.\n", argv[1]);
        lv_print_usage(stderr);
        return LV_EXIT_USAGE;
    }
    fputs(c->help, stdout);
    return LV_EXIT_OK;
}

/* The command's status, or 2 when its output could not be written (said once: a command that found
 * the failure itself has said so already). */
static int finish(const char *command, int status)
{
    errno = 0;
    bool failed = fflush(stdout) != 0 || ferror(stdout);
    if (failed) {
        if (status != LV_EXIT_USAGE)
            fprintf(stderr, "levee%s%s: cannot write the output: %s\n", command ? " " : "", command ? command : "",
                    errno ? strerror(errno) : "a write failed (is the disk full?)");
        return LV_EXIT_USAGE;
    }
    return status;
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        lv_print_usage(stderr);
        return LV_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        return lv_cmd_help(1, argv);
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("levee %s\n", LV_VERSION);
        return LV_EXIT_OK;
    }
    const lv_command *c = lv_command_find(name);
    if (!c) {
        fprintf(stderr, "levee: '%s' is not a levee command.\n", name);
        lv_print_usage(stderr);
        return LV_EXIT_USAGE;
    }
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->help, stdout);
            return LV_EXIT_OK;
        }
    return c->run(argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
    /* (a closed pipe, as in levee export | head, ends levee by SIGPIPE as it ends cat) */
    const char *name = argc > 1 && lv_command_find(argv[1]) ? argv[1] : NULL;
    return finish(name, run(argc, argv));
}
