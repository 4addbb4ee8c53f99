/* TLS termination for http{} (nginx's ngx_http_ssl_module): the ssl_* directives of a server,
 * its SSL_CTX, the handshake of a connection accepted on a `listen ... ssl` address (with SNI
 * choosing the server), the checks a request gets on such a connection, and $ssl_* variables. */
#ifndef HTTP_SSL_H
#define HTTP_SSL_H

#include "http/http_request.h"

/* A connection accepted on an ssl address: detects plain HTTP, runs the handshake, then
 * hands the connection to http_conn_begin(). */
void http_ssl_start(http_conn_t *hc);

/* For a request whose head is read: 0, or the status nginx ends it with before any phase
 * (497 plain HTTP on an HTTPS port, 495 client certificate error, 496 certificate required),
 * logged at info. */
int http_ssl_check_request(http_request_t *r);

extern conf_module_t http_ssl_module;

#endif
