/* crypto.c: loads libcrypto on first use and fills the table of its functions (levee/crypto.h). */
#include "levee/crypto.h"

#include <stdio.h>
#include <stdlib.h>

static lv_crypto_api table;

LV_DYNLIB_LOADER(lv_crypto_load, table, LV_CRYPTO_FUNCTIONS, "libcrypto.so.3", "libssl3")

const lv_crypto_api *lv_crypto(void)
{
    if (lv_crypto_load(NULL) != LV_OK) {
        fprintf(stderr, "levee: internal error: libcrypto was used without lv_crypto_load\n");
        abort();
    }
    return &table;
}
