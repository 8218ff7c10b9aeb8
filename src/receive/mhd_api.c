/* mhd_api.c: fills the table of libmicrohttpd functions (mhd_api.h) from the library's soname. */
#include "mhd_api.h"

#include "levee/dynlib.h"

lv_mhd_api lv_mhd;

lv_status lv_mhd_load(lv_error *err)
{
    static const char *const names[] = {
#define LV_MHD_NAME(f) #f,
        LV_MHD_FUNCTIONS(LV_MHD_NAME)
#undef LV_MHD_NAME
    };
    void *slots[sizeof names / sizeof names[0]];
    lv_status st = lv_dynlib_load("libmicrohttpd.so.12", "libmicrohttpd12", names, slots,
                                  sizeof names / sizeof names[0], err);
    if (st != LV_OK)
        return st;
    size_t i = 0;
#define LV_MHD_SET(f) lv_mhd.f = (__typeof__(lv_mhd.f))slots[i++];
    LV_MHD_FUNCTIONS(LV_MHD_SET)
#undef LV_MHD_SET
    return LV_OK;
}
