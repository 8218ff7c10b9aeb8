/* open.c: opening a store by its location, which names the engine (levee/engines.h). */
#include "levee/engines.h"


lv_status lv_store_open(const char *location, const lv_store_options *opt, lv_store **out,
                        lv_error *err)
{
    static const lv_store_options defaults = { .create = true };
    if (!opt)
        opt = &defaults;
    if (!location || !*location)
        return lv_fail(err, LV_EINVAL, "no store given: pass --db PATH or set LEVEE_DB");
    if (lv_store_is_postgresql(location))
        return lv_pg_open(location, opt, out, err);
    return lv_sqlite_open(location, opt, out, err);
}
