/* The access log (log_format, access_log): what the request lifecycle calls at the end. */
#ifndef HTTP_LOG_H
#define HTTP_LOG_H

#include "http/http_core.h"

extern conf_module_t http_log_module;

/* Writes r's lines to the access logs of its location; call once per request, at the end.
 * Returns PX_OK (write failures are logged, never fatal to the request). */
int http_log_request(http_request_t *r);

#endif
