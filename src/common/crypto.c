/* crypto.c: loads libcrypto on first use and fills the table of its functions (levee/crypto.h). */
#include "levee/crypto.h"

#include <stdio.h>
#include <stdlib.h>

static lv_crypto_api table;

LV_DYNLIB_LOADER(lv_crypto_load, table, LV_CRYPTO_FUNCTIONS, "libcrypto.so.3", "libssl3")

const lv_crypto_api *lv_crypto(void)
{
    lv_error err;
    if (lv_crypto_load(&err) != LV_OK) {
        fprintf(stderr, "levee: %s\n", err.msg);
        exit(69); /* EX_UNAVAILABLE */
    }
    return &table;
}
