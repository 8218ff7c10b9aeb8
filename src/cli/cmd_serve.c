/* cmd_serve.c: `levee serve`: its configuration from flags, environment variables and an optional
 * config file (in that order of precedence, over the defaults), then the server. */
#include "cli.h"

#include "levee/erase.h"
#include "levee/server.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* One setting: its name in config files (and --name on the command line) and environment variable. */
typedef struct setting {
    const char *name;
    const char *env;
    bool is_flag; /* takes no value on the command line */
    char *value;  /* the winning value so far */
} setting;

enum { S_DB, S_LISTEN, S_JWKS, S_REQUIRE_SIGNATURE, S_ISSUER, S_INGEST_TOKEN, S_API_TOKEN, S_LOG_FORMAT,
       S_ACCESS_LOG, S_MAX_BATCH_MB, S_TLS_CERT, S_TLS_KEY, S_ADMIN_TOKEN, S_NO_DELIVER, S_SQS, S_SQS_ENDPOINT,
       S_SQS_WAIT, S_RETAIN, S_RETAIN_EVERY, S_REDACT, S_REDACT_KEY, S_COUNT };

static setting settings[S_COUNT] = {
    [S_DB] = { "db", "LEVEE_DB", false, NULL },
    [S_LISTEN] = { "listen", "LEVEE_LISTEN", false, NULL },
    [S_JWKS] = { "jwks", "LEVEE_JWKS", false, NULL },
    [S_REQUIRE_SIGNATURE] = { "require-signature", "LEVEE_REQUIRE_SIGNATURE", true, NULL },
    [S_ISSUER] = { "issuer", "LEVEE_ISSUER", false, NULL },
    [S_INGEST_TOKEN] = { "ingest-token", "LEVEE_INGEST_TOKEN", false, NULL },
    [S_API_TOKEN] = { "api-token", "LEVEE_API_TOKEN", false, NULL },
    [S_LOG_FORMAT] = { "log-format", "LEVEE_LOG_FORMAT", false, NULL },
    [S_ACCESS_LOG] = { "access-log", "LEVEE_ACCESS_LOG", false, NULL },
    [S_MAX_BATCH_MB] = { "max-batch-mb", "LEVEE_MAX_BATCH_MB", false, NULL },
    [S_TLS_CERT] = { "tls-cert", "LEVEE_TLS_CERT", false, NULL },
    [S_TLS_KEY] = { "tls-key", "LEVEE_TLS_KEY", false, NULL },
    [S_ADMIN_TOKEN] = { "admin-token", "LEVEE_ADMIN_TOKEN", false, NULL },
    [S_NO_DELIVER] = { "no-deliver", "LEVEE_NO_DELIVER", true, NULL },
    [S_SQS] = { "sqs", "LEVEE_SQS", false, NULL },
    [S_SQS_ENDPOINT] = { "sqs-endpoint", "LEVEE_SQS_ENDPOINT", false, NULL },
    [S_SQS_WAIT] = { "sqs-wait-time-seconds", "LEVEE_SQS_WAIT_TIME_SECONDS", false, NULL },
    [S_RETAIN] = { "retain", "LEVEE_RETAIN", false, NULL },
    [S_RETAIN_EVERY] = { "retain-every", "LEVEE_RETAIN_EVERY", false, NULL },
    [S_REDACT] = { "redact", "LEVEE_REDACT", false, NULL },
    [S_REDACT_KEY] = { "redact-key", "LEVEE_REDACT_KEY", false, NULL },
};

static void set(int i, const char *value)
{
    free(settings[i].value);
    settings[i].value = lv_xstrdup(value);
}

static void clear_settings(void)
{
    for (int i = 0; i < S_COUNT; i++) {
        free(settings[i].value);
        settings[i].value = NULL;
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

/* key = value lines; # comments. */
static int read_config(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "levee serve: cannot open the config file %s: %s\n", path, strerror(errno));
        return LV_EXIT_USAGE;
    }
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        char *p = trim(line);
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            fprintf(stderr, "levee serve: %s:%d: expected \"name = value\"\n", path, n);
            fclose(f);
            return LV_EXIT_USAGE;
        }
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        int found = -1;
        for (int i = 0; i < S_COUNT; i++)
            if (strcmp(settings[i].name, key) == 0)
                found = i;
        if (found < 0) {
            fprintf(stderr, "levee serve: %s:%d: there is no setting \"%s\" (see levee help serve)\n", path, n, key);
            fclose(f);
            return LV_EXIT_USAGE;
        }
        set(found, value);
    }
    fclose(f);
    return LV_EXIT_OK;
}

static bool truth(const char *name, const char *v, bool *out)
{
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "on") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "off") == 0) {
        *out = false;
        return true;
    }
    lv_usage_error("serve", "%s must be true or false, not \"%s\"", name, v);
    return false;
}

int lv_cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        { "db", required_argument, NULL, S_DB },
        { "listen", required_argument, NULL, S_LISTEN },
        { "jwks", required_argument, NULL, S_JWKS },
        { "require-signature", no_argument, NULL, S_REQUIRE_SIGNATURE },
        { "issuer", required_argument, NULL, S_ISSUER },
        { "ingest-token", required_argument, NULL, S_INGEST_TOKEN },
        { "api-token", required_argument, NULL, S_API_TOKEN },
        { "log-format", required_argument, NULL, S_LOG_FORMAT },
        { "access-log", required_argument, NULL, S_ACCESS_LOG },
        { "max-batch-mb", required_argument, NULL, S_MAX_BATCH_MB },
        { "tls-cert", required_argument, NULL, S_TLS_CERT },
        { "tls-key", required_argument, NULL, S_TLS_KEY },
        { "admin-token", required_argument, NULL, S_ADMIN_TOKEN },
        { "no-deliver", no_argument, NULL, S_NO_DELIVER },
        { "sqs", required_argument, NULL, S_SQS },
        { "sqs-endpoint", required_argument, NULL, S_SQS_ENDPOINT },
        { "sqs-wait-time-seconds", required_argument, NULL, S_SQS_WAIT },
        { "retain", required_argument, NULL, S_RETAIN },
        { "retain-every", required_argument, NULL, S_RETAIN_EVERY },
        { "redact", required_argument, NULL, S_REDACT },
        { "redact-key", required_argument, NULL, S_REDACT_KEY },
        { "config", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    char *flags[S_COUNT] = { 0 };
    const char *config = getenv("LEVEE_CONFIG");
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'c') {
            config = optarg;
        } else if (c >= 0 && c < S_COUNT) {
            free(flags[c]);
            flags[c] = lv_xstrdup(settings[c].is_flag ? "true" : optarg);
        } else {
            for (int i = 0; i < S_COUNT; i++)
                free(flags[i]);
            return lv_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
        }
    }
    int rc = LV_EXIT_OK;
    if (optind < argc)
        rc = lv_usage_error("serve", "takes no arguments (got '%s')", argv[optind]);
    if (rc == LV_EXIT_OK && config)
        rc = read_config(config);
    for (int i = 0; rc == LV_EXIT_OK && i < S_COUNT; i++) {
        const char *env = getenv(settings[i].env);
        if (env && *env)
            set(i, env);
        if (flags[i])
            set(i, flags[i]);
    }
    for (int i = 0; i < S_COUNT; i++)
        free(flags[i]);

    lv_server_config cfg;
    lv_server_config_init(&cfg);
    if (rc == LV_EXIT_OK) {
        if (settings[S_DB].value)
            cfg.db = settings[S_DB].value;
        if (settings[S_LISTEN].value)
            cfg.listen = settings[S_LISTEN].value;
        cfg.jwks = settings[S_JWKS].value;
        if (settings[S_ISSUER].value)
            cfg.issuer = settings[S_ISSUER].value;
        cfg.ingest_token = settings[S_INGEST_TOKEN].value;
        cfg.api_token = settings[S_API_TOKEN].value;
        cfg.tls_cert = settings[S_TLS_CERT].value;
        cfg.tls_key = settings[S_TLS_KEY].value;
        cfg.admin_token = settings[S_ADMIN_TOKEN].value;
        cfg.sqs_queue = settings[S_SQS].value;
        cfg.sqs_endpoint = settings[S_SQS_ENDPOINT].value;
        if (cfg.sqs_endpoint && !cfg.sqs_queue)
            rc = lv_usage_error("serve", "--sqs-endpoint goes with --sqs QUEUE_URL");
        const char *wait = settings[S_SQS_WAIT].value;
        if (wait && rc == LV_EXIT_OK) {
            char *end;
            long n = strtol(wait, &end, 10);
            if (!*wait || *end || n < 0 || n > 20)
                rc = lv_usage_error("serve", "--sqs-wait-time-seconds takes a number from 0 to 20, not '%s'", wait);
            else if (!cfg.sqs_queue)
                rc = lv_usage_error("serve", "--sqs-wait-time-seconds goes with --sqs QUEUE_URL");
            else
                cfg.sqs_wait_seconds = (unsigned)n;
        }
        bool no_deliver = false;
        if (settings[S_NO_DELIVER].value && !truth("no-deliver", settings[S_NO_DELIVER].value, &no_deliver))
            rc = LV_EXIT_USAGE;
        cfg.deliver = !no_deliver;
        if (settings[S_REQUIRE_SIGNATURE].value && !truth("require-signature", settings[S_REQUIRE_SIGNATURE].value, &cfg.require_signature))
            rc = LV_EXIT_USAGE;
        if (settings[S_ACCESS_LOG].value && !truth("access-log", settings[S_ACCESS_LOG].value, &cfg.access_log))
            rc = LV_EXIT_USAGE;
        const char *fmt = settings[S_LOG_FORMAT].value;
        if (fmt && strcmp(fmt, "json") == 0)
            cfg.log_format = LV_LOG_JSON;
        else if (fmt && strcmp(fmt, "logfmt") != 0)
            rc = lv_usage_error("serve", "--log-format must be logfmt or json, not '%s'", fmt);
        const char *mb = settings[S_MAX_BATCH_MB].value;
        if (mb) {
            char *end;
            unsigned long v = strtoul(mb, &end, 10);
            if (*end || !*mb || v < 1 || v > 4096)
                rc = lv_usage_error("serve", "--max-batch-mb must be from 1 to 4096, not '%s'", mb);
            cfg.max_batch_bytes = (size_t)v << 20;
        }
        lv_error derr;
        if (settings[S_RETAIN].value && lv_duration_parse(settings[S_RETAIN].value, &cfg.retain_ms, &derr) != LV_OK)
            rc = lv_usage_error("serve", "--retain: %s", derr.msg);
        if (settings[S_RETAIN_EVERY].value &&
            lv_duration_parse(settings[S_RETAIN_EVERY].value, &cfg.retain_every_ms, &derr) != LV_OK)
            rc = lv_usage_error("serve", "--retain-every: %s", derr.msg);
        if (settings[S_RETAIN_EVERY].value && !settings[S_RETAIN].value)
            rc = lv_usage_error("serve", "--retain-every goes with --retain DURATION");
        if (cfg.require_signature && !cfg.jwks)
            rc = lv_usage_error("serve", "--require-signature needs --jwks FILE to verify signatures with");
        if ((cfg.ingest_token && !*cfg.ingest_token) || (cfg.api_token && !*cfg.api_token) ||
            (cfg.admin_token && !*cfg.admin_token))
            rc = lv_usage_error("serve", "a token cannot be empty");
    }
    lv_redaction *redaction = NULL;
    if (rc == LV_EXIT_OK)
        rc = lv_cli_redaction("serve", settings[S_REDACT].value, settings[S_REDACT_KEY].value, false, &redaction);
    cfg.redact = redaction;
    if (rc == LV_EXIT_OK) {
        lv_error err;
        bool started = false;
        if (lv_server_run(&cfg, &started, &err) != LV_OK) {
            fprintf(stderr, "levee serve: %s\n", err.msg);
            rc = started ? LV_EXIT_REJECTED : LV_EXIT_USAGE;
        }
    }
    clear_settings();
    lv_redaction_free(redaction);
    return rc;
}
