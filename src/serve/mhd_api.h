/* mhd_api.h: the libmicrohttpd functions the server calls, loaded by lv_mhd_load when the server
 * starts (levee/dynlib.h says why). the server's files call them as lv_mhd.MHD_name(...). */
#ifndef LEVEE_MHD_API_H
#define LEVEE_MHD_API_H

#include "levee/dynlib.h"

#include <microhttpd.h>

#define LV_MHD_FUNCTIONS(X)                                                                           \
    X(MHD_start_daemon) X(MHD_stop_daemon) X(MHD_quiesce_daemon) X(MHD_get_daemon_info)                \
    X(MHD_get_connection_info) X(MHD_get_connection_values) X(MHD_lookup_connection_value)            \
    X(MHD_get_connection_values_n) X(MHD_lookup_connection_value_n)                                    \
    X(MHD_suspend_connection) X(MHD_resume_connection) X(MHD_queue_response) X(MHD_destroy_response) \
    X(MHD_add_response_header) X(MHD_create_response_from_buffer)                                      \
    X(MHD_create_response_from_buffer_with_free_callback) X(MHD_create_response_from_callback)        \
    X(MHD_is_feature_supported)

typedef struct lv_mhd_api {
    LV_MHD_FUNCTIONS(LV_DYNLIB_SLOT)
} lv_mhd_api;

extern lv_mhd_api lv_mhd;

/* Loads libmicrohttpd and fills lv_mhd (once; later calls return the first one's result). */
lv_status lv_mhd_load(lv_error *err);

#endif
