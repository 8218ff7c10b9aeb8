/* crypto.c: loads libcrypto on first use and fills the table of its functions (levee/crypto.h). */
#include "levee/crypto.h"

#include "levee/dynlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static lv_crypto_api table;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static lv_status load_status;
static lv_error load_error;

static void load(void)
{
    static const char *const names[] = {
#define LV_CRYPTO_NAME(f) #f,
        LV_CRYPTO_FUNCTIONS(LV_CRYPTO_NAME)
#undef LV_CRYPTO_NAME
    };
    void *slots[sizeof names / sizeof names[0]];
    load_status = lv_dynlib_load("libcrypto.so.3", "libssl3", names, slots, sizeof names / sizeof names[0],
                                 &load_error);
    if (load_status != LV_OK)
        return;
    size_t i = 0;
#define LV_CRYPTO_SET(f) table.f = (__typeof__(table.f))slots[i++];
    LV_CRYPTO_FUNCTIONS(LV_CRYPTO_SET)
#undef LV_CRYPTO_SET
}

lv_status lv_crypto_load(lv_error *err)
{
    pthread_once(&once, load);
    if (load_status != LV_OK && err)
        *err = load_error;
    return load_status;
}

const lv_crypto_api *lv_crypto(void)
{
    pthread_once(&once, load);
    if (load_status != LV_OK) {
        fprintf(stderr, "levee: %s\n", load_error.msg);
        exit(69); /* EX_UNAVAILABLE */
    }
    return &table;
}
