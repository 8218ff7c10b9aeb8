/* pq.c: fills the table of libpq functions (levee/pq.h) from the library's soname. */
#include "levee/pq.h"

lv_pq_api lv_pq;

LV_DYNLIB_LOADER(lv_pq_load, lv_pq, LV_PQ_FUNCTIONS, "libpq.so.5", "libpq5")
