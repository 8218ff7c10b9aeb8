/* levee/pq.h (stage: common): the libpq functions the PostgreSQL engine calls, loaded by lv_pq_load when a
 * store at a postgresql:// location is first opened (levee/dynlib.h says why: libpq brings some 20 libraries
 * with it, Kerberos, LDAP and TLS among them, that every `levee query` on SQLite would otherwise load and
 * relocate; a levee without libpq installed still runs on SQLite). Callers use them as lv_pq.PQname(...). */
#ifndef LEVEE_PQ_H
#define LEVEE_PQ_H

#include "levee/dynlib.h"

#include <libpq-fe.h>

#define LV_PQ_FUNCTIONS(X)                                                                          \
    X(PQconnectdb) X(PQstatus) X(PQerrorMessage) X(PQfinish) X(PQexec) X(PQexecParams)               \
    X(PQprepare) X(PQsendQueryParams) X(PQsendQueryPrepared) X(PQgetResult) X(PQresultStatus)        \
    X(PQresultErrorField) X(PQresultErrorMessage) X(PQclear) X(PQntuples) X(PQnfields) X(PQgetvalue) \
    X(PQgetlength) X(PQgetisnull) X(PQcmdTuples) X(PQsetSingleRowMode) X(PQconsumeInput) X(PQisBusy) \
    X(PQsocket) X(PQgetCancel) X(PQfreeCancel) X(PQcancel) X(PQconninfoParse) X(PQconninfoFree)      \
    X(PQtransactionStatus) X(PQserverVersion) X(PQfreemem) X(PQsetNoticeProcessor) X(PQflush)       \
    X(PQsetnonblocking) X(PQcmdStatus) X(PQenterPipelineMode) X(PQexitPipelineMode) X(PQpipelineSync)      \
    X(PQpipelineStatus) X(PQbackendPID)

typedef struct lv_pq_api {
    LV_PQ_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_pq_api;

extern lv_pq_api lv_pq;

/* Loads libpq and fills lv_pq (once; later calls return the first one's result). */
lv_status lv_pq_load(lv_error *err);

#endif
