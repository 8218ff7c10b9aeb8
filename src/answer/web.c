/* web.c: looking up the embedded web page's files (the table is generated from web/ at build time). */
#include "levee/web.h"

#include <string.h>

#include "web_assets.inc"

const lv_web_asset *lv_web_find(const char *path)
{
    if (strcmp(path, "/") == 0 || strcmp(path, "") == 0)
        path = "/index.html";
    for (const lv_web_asset *a = assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}
