/* levee/dynlib.h: loading a shared library when a command first needs it. libmicrohttpd (the
 * server) and libcurl (posting events) bring some 25 libraries with them (TLS, Kerberos, LDAP...);
 * linked in, they would be loaded and relocated by every levee command, which on a virtual machine
 * more than doubles the start of a `levee query`. Only `levee serve` and `levee simulate --post`
 * load them, through a table of the functions they call (see src/receive/mhd_api.h and
 * src/emit/curl_api.h). */
#ifndef LEVEE_DYNLIB_H
#define LEVEE_DYNLIB_H

#include "levee/common.h"

/* Opens soname (once per process; later calls return the same handle) and resolves each of names[]
 * into slots[]. On failure says which library or function is missing and which Debian package
 * provides it. */
lv_status lv_dynlib_load(const char *soname, const char *package, const char *const *names, void **slots,
                         size_t n, lv_error *err);

#endif
