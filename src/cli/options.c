/* options.c: the options of a command, parsed from a table (lv_cli_parse): every command that takes
 * only flags and single values declares them once, and the loop, its errors and their wording are here. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#define MAX_OPTIONS 32

int lv_cli_parse(const char *command, int argc, char **argv, const lv_cli_option *opts, int max_args, int *first)
{
    struct option longs[MAX_OPTIONS + 1];
    char shorts[MAX_OPTIONS + 1];
    size_t n = 0, ns = 0;
    for (; opts[n].name; n++) {
        if (n == MAX_OPTIONS)
            return lv_usage_error(command, "has more than %d options (levee's own error)", MAX_OPTIONS);
        longs[n] = (struct option){ opts[n].name, opts[n].value ? required_argument : no_argument, NULL,
                                    256 + (int)n };
        if (opts[n].short_name)
            shorts[ns++] = opts[n].short_name;
    }
    longs[n] = (struct option){ NULL, 0, NULL, 0 };
    shorts[ns] = '\0';
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        const lv_cli_option *o = NULL;
        if (c >= 256 && c < 256 + (int)n)
            o = &opts[c - 256];
        for (size_t i = 0; !o && c != '?' && i < n; i++)
            if (opts[i].short_name == c)
                o = &opts[i];
        if (!o)
            return lv_usage_error(command, "unknown option '%s'", argv[optind - 1]);
        if (o->value)
            *o->value = optarg;
        else
            *o->flag = true;
    }
    if (max_args >= 0 && argc - optind > max_args) {
        if (max_args == 0)
            return lv_usage_error(command, "takes no arguments (got '%s')", argv[optind]);
        return lv_usage_error(command, "takes at most %d argument%s (got '%s')", max_args, max_args == 1 ? "" : "s",
                              argv[optind + max_args]);
    }
    if (first)
        *first = optind;
    return LV_EXIT_OK;
}
