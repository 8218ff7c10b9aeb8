/* dynlib.c: dlopen and dlsym behind one call that reports what is missing in a sentence. */
#include "levee/dynlib.h"

#include <dlfcn.h>
#include <pthread.h>

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

lv_status lv_dynlib_load(const char *soname, const char *package, const char *const *names, void **slots,
                         size_t n, lv_error *err)
{
    pthread_mutex_lock(&load_lock);
    lv_status st = LV_OK;
    /* RTLD_NODELETE: the functions stay valid for the life of the process, whoever loaded them */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        st = lv_fail(err, LV_EIO, "cannot load %s (%s); install the Debian package %s", soname, dlerror(),
                     package);
    } else {
        for (size_t i = 0; i < n && st == LV_OK; i++) {
            slots[i] = dlsym(h, names[i]);
            if (!slots[i])
                st = lv_fail(err, LV_EIO, "%s has no function %s; levee needs a newer %s", soname, names[i],
                             package);
        }
    }
    pthread_mutex_unlock(&load_lock);
    return st;
}
