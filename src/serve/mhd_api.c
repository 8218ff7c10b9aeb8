/* mhd_api.c: fills the table of libmicrohttpd functions (mhd_api.h) from the library's soname. */
#include "mhd_api.h"

lv_mhd_api lv_mhd;

LV_DYNLIB_LOADER(lv_mhd_load, lv_mhd, LV_MHD_FUNCTIONS, "libmicrohttpd.so.12", "libmicrohttpd12")
