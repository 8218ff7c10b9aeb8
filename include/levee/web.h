/* levee/web.h (stage: answer): the web page `levee serve` offers at /, carried inside the binary (no CDN, no files
 * to install, no build step for the user): the files in web/, embedded at build time by tools/embed.c. */
#ifndef LEVEE_WEB_H
#define LEVEE_WEB_H

#include "levee/common.h"

typedef struct lv_web_asset {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t len;
} lv_web_asset;

/* The asset served at path ("/" is the page), or NULL. */
const lv_web_asset *lv_web_find(const char *path);

#endif
