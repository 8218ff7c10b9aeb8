/* curl_api.c: fills the table of libcurl functions (curl_api.h) from the library's soname. */
#include "curl_api.h"

lv_curl_api lv_curl;

LV_DYNLIB_LOADER(lv_curl_load, lv_curl, LV_CURL_FUNCTIONS, "libcurl.so.4", "libcurl4")
