/* levee/curl.h (stage: common): the libcurl functions levee's HTTP clients call (posting events, and later queues
 * and subscribers), loaded by lv_curl_load when the first client is made (levee/dynlib.h says why).
 * Callers use them as lv_curl.curl_name(...). */
#ifndef LEVEE_CURL_H
#define LEVEE_CURL_H

#include "levee/dynlib.h"

#define CURL_DISABLE_TYPECHECK /* curl's type-checking macros would hide the functions' names */
#include <curl/curl.h>

#define LV_CURL_FUNCTIONS(X)                                                                       \
    X(curl_global_init) X(curl_global_cleanup) X(curl_easy_init) X(curl_easy_cleanup)              \
    X(curl_easy_setopt) X(curl_easy_perform) X(curl_easy_getinfo) X(curl_easy_strerror)            \
    X(curl_slist_append) X(curl_slist_free_all) X(curl_multi_init) X(curl_multi_cleanup)            \
    X(curl_multi_add_handle) X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll)  \
    X(curl_multi_info_read) X(curl_multi_setopt) X(curl_multi_strerror) X(curl_easy_reset)  \
    X(curl_getdate) X(curl_easy_escape) X(curl_free)

typedef struct lv_curl_api {
    LV_CURL_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_curl_api;

extern lv_curl_api lv_curl;

/* Loads libcurl and fills lv_curl (once; later calls return the first one's result). */
lv_status lv_curl_load(lv_error *err);

#endif
