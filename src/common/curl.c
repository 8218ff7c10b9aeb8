/* curl.c: fills the table of libcurl functions (levee/curl.h) from the library's soname. */
#include "levee/curl.h"

lv_curl_api lv_curl;

LV_DYNLIB_LOADER(lv_curl_load, lv_curl, LV_CURL_FUNCTIONS, "libcurl.so.4", "libcurl4")
