/* expat.c: fills the table of Expat functions (levee/expat.h) from the library's soname. */
#include "levee/expat.h"

lv_expat_api lv_expat;

LV_DYNLIB_LOADER(lv_expat_load, lv_expat, LV_EXPAT_FUNCTIONS, "libexpat.so.1", "libexpat1")
