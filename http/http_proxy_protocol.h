/* The PROXY protocol on http listeners (`listen ... proxy_protocol`): the header read before
 * anything else on the connection (before TLS), kept for the connection's requests, and the
 * $proxy_protocol_* variables. The codec is core/px_proxy_protocol.c. */
#ifndef HTTP_PROXY_PROTOCOL_H
#define HTTP_PROXY_PROTOCOL_H

#include "core/px_proxy_protocol.h"
#include "http/http_request.h"

extern conf_module_t http_proxy_protocol_module;

/* Reads the header of a connection on a proxy_protocol address, then goes on as the address
 * says (TLS handshake or HTTP); a missing, broken or late header closes the connection. */
void http_pp_start(http_conn_t *hc);
/* The header the request's connection came with; NULL without one. A LOCAL or UNKNOWN
 * header is one too (its `local` is set). */
const px_pp_header_t *http_pp_header(http_request_t *r);
/* Frees what the connection kept of its header. */
void http_pp_free(http_conn_t *hc);

#endif
