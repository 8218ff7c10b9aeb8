/* levee/dynlib.h (stage: common): loading a shared library when a command first needs it. libmicrohttpd (the
 * server) and libcurl (posting events) bring some 25 libraries with them (TLS, Kerberos, LDAP...);
 * linked in, they would be loaded and relocated by every levee command, which on a virtual machine
 * more than doubles the start of a `levee query`. Only `levee serve` and `levee simulate --post`
 * load them, and libcrypto is loaded when something is first hashed or signed, each through a table
 * of the functions levee calls (src/serve/mhd_api.h, levee/curl.h, levee/crypto.h). */
#ifndef LEVEE_DYNLIB_H
#define LEVEE_DYNLIB_H

#include "levee/common.h"

#include <pthread.h>

/* Opens soname (once per process; later calls return the same handle) and resolves each of names[]
 * into slots[]. On failure says which library or function is missing and which Debian package
 * provides it. */
lv_status lv_dynlib_load(const char *soname, const char *package, const char *const *names, void **slots,
                         size_t n, lv_error *err);

/* A library's table: FUNCTIONS is an X-macro list of the functions levee calls, e.g.
 * `#define LV_CURL_FUNCTIONS(X) X(curl_easy_init) X(curl_easy_perform)`; the table's struct has one
 * slot per function, of the function's own type, declared with FUNCTIONS(LV_DYNLIB_SLOT). */
#define LV_DYNLIB_SLOT(f) __typeof__(f) *f;
#define LV_DYNLIB_NAME(f) #f,
#define LV_DYNLIB_SET(f) lv_dynlib_target_->f = (__typeof__(lv_dynlib_target_->f))*lv_dynlib_slot_++;

/* Defines `lv_status loader(lv_error *err)`: the first call loads soname and fills table with
 * FUNCTIONS; every call (from any thread) returns that first call's status and error. */
#define LV_DYNLIB_LOADER(loader, table, FUNCTIONS, soname, package)                                        \
    static lv_status loader##_status;                                                                      \
    static lv_error loader##_error;                                                                        \
    static void loader##_fill(void)                                                                        \
    {                                                                                                      \
        static const char *const names[] = { FUNCTIONS(LV_DYNLIB_NAME) };                                  \
        void *slots[sizeof names / sizeof names[0]];                                                       \
        loader##_status = lv_dynlib_load(soname, package, names, slots, sizeof names / sizeof names[0],    \
                                         &loader##_error);                                                 \
        if (loader##_status != LV_OK)                                                                      \
            return;                                                                                        \
        __typeof__(table) *lv_dynlib_target_ = &(table);                                                   \
        void **lv_dynlib_slot_ = slots;                                                                    \
        FUNCTIONS(LV_DYNLIB_SET)                                                                           \
    }                                                                                                      \
    lv_status loader(lv_error *err)                                                                        \
    {                                                                                                      \
        static pthread_once_t once = PTHREAD_ONCE_INIT;                                                    \
        pthread_once(&once, loader##_fill);                                                                \
        if (loader##_status != LV_OK && err)                                                               \
            *err = loader##_error;                                                                         \
        return loader##_status;                                                                            \
    }

#endif
