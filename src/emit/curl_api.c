/* curl_api.c: fills the table of libcurl functions (curl_api.h) from the library's soname. */
#include "curl_api.h"

#include "levee/dynlib.h"

lv_curl_api lv_curl;

lv_status lv_curl_load(lv_error *err)
{
    static const char *const names[] = {
#define LV_CURL_NAME(f) #f,
        LV_CURL_FUNCTIONS(LV_CURL_NAME)
#undef LV_CURL_NAME
    };
    void *slots[sizeof names / sizeof names[0]];
    lv_status st = lv_dynlib_load("libcurl.so.4", "libcurl4", names, slots, sizeof names / sizeof names[0], err);
    if (st != LV_OK)
        return st;
    size_t i = 0;
#define LV_CURL_SET(f) lv_curl.f = (__typeof__(lv_curl.f))slots[i++];
    LV_CURL_FUNCTIONS(LV_CURL_SET)
#undef LV_CURL_SET
    return LV_OK;
}
