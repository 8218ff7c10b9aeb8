/* fuzz_awscred.c: the readers of what AWS credential sources answer (levee/awscred.h) on arbitrary bytes. The
 * first byte picks the reader: STS's XML, credential_process's JSON, the portal's JSON, the cached SSO login
 * (and the OIDC service's renewal of it),
 * a role document, or credential_process's command line. Whatever is accepted must be whole (a key, a secret;
 * a token where one is required) and hold no control character; whatever is refused must say why. */
#include "levee/awscred.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool required)
{
    if (!s) {
        if (required)
            abort();
        return;
    }
    if (!*s)
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
}

static void check_keys(lv_status st, lv_awscred_keys *k, const lv_error *err, bool token_required)
{
    if (st == LV_OK) {
        check_text(k->key, true);
        check_text(k->secret, true);
        check_text(k->token, token_required);
        if (strchr(k->key, ':'))
            abort(); /* the key is the user of CURLOPT_USERPWD */
    } else if (!err->msg[0]) {
        abort();
    }
    lv_awscred_keys_clear(k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    lv_awscred_keys k;
    lv_error err = { 0 };
    switch (data[0] % 6) {
    case 0:
        check_keys(lv_awscred_parse_sts(text, len, &k, &err), &k, &err, true);
        break;
    case 1:
        check_keys(lv_awscred_parse_process(text, len, &k, &err), &k, &err, false);
        break;
    case 2:
        check_keys(lv_awscred_parse_sso(text, len, &k, &err), &k, &err, true);
        break;
    case 3:
        check_keys(lv_awscred_parse_role(text, len, &k, &err), &k, &err, true);
        break;
    case 4: {
        lv_awscred_sso_login login;
        lv_status st = lv_awscred_parse_sso_token(text, len, &login, &err);
        if (st == LV_OK) {
            check_text(login.access_token, true);
            check_text(login.refresh_token, false);
            check_text(login.client_secret, false);
        } else if (!err.msg[0] || login.access_token) {
            abort();
        }
        /* the OIDC service's answer renews what was read */
        lv_error err2 = { 0 };
        bool had = login.access_token != NULL;
        if (lv_awscred_parse_oidc_token(text, len, 1000, &login, &err2) == LV_OK) {
            check_text(login.access_token, true);
            if (login.expires_ms <= 1000)
                abort(); /* expiresIn is positive */
        } else if (!err2.msg[0] || (login.access_token != NULL) != had) {
            abort();
        }
        lv_awscred_sso_login_clear(&login);
        break;
    }
    default: {
        char *cmd = malloc(len + 1);
        memcpy(cmd, text, len);
        cmd[len] = '\0';
        char **argv = NULL;
        lv_status st = lv_awscred_split_command(cmd, &argv, &err);
        if (st == LV_OK) {
            if (!argv || !argv[0])
                abort();
            size_t total = 0;
            for (char **a = argv; *a; a++)
                total += strlen(*a);
            if (total > len)
                abort(); /* splitting only takes characters away */
        } else if (!err.msg[0] || argv) {
            abort();
        }
        lv_awscred_argv_free(argv);
        free(cmd);
        break;
    }
    }
    return 0;
}
