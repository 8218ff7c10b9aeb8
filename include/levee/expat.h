/* levee/expat.h (stage: common): the Expat functions levee's XML reading calls (the answers of AWS STS, which
 * speaks the AWS Query protocol and answers in XML), loaded by lv_expat_load when the first answer is
 * read (levee/dynlib.h says why libraries are loaded late). Callers use them as lv_expat.XML_name(...). */
#ifndef LEVEE_EXPAT_H
#define LEVEE_EXPAT_H

#include "levee/dynlib.h"

#include <expat.h>

#define LV_EXPAT_FUNCTIONS(X)                                                                      \
    X(XML_ParserCreateNS) X(XML_ParserFree) X(XML_SetUserData) X(XML_SetElementHandler)            \
    X(XML_SetCharacterDataHandler) X(XML_SetStartDoctypeDeclHandler) X(XML_StopParser)             \
    X(XML_Parse) X(XML_GetErrorCode) X(XML_ErrorString) X(XML_GetCurrentLineNumber)

typedef struct lv_expat_api {
    LV_EXPAT_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_expat_api;

extern lv_expat_api lv_expat;

/* Loads libexpat and fills lv_expat (once; later calls return the first one's result). */
lv_status lv_expat_load(lv_error *err);

#endif
