/* TLS toward https upstreams (nginx's proxy_ssl_* directives): a client SSL_CTX per
 * configuration level that sets them, the handshake on a fresh upstream connection with SNI,
 * certificate and name verification, and sessions kept per peer for the next connection. */
#ifndef PROXY_SSL_H
#define PROXY_SSL_H

#include "http/http_core.h"
#include "core/px_conn.h"

extern conf_module_t proxy_ssl_module;

/* Starts TLS on up (connected to peer, for the upstream host name host): PX_OK or PX_ERROR
 * (logged). */
int proxy_ssl_start(http_request_t *r, px_conn_t *up, px_str_t host);

/* Continues the handshake: PX_OK when done and verified, PX_AGAIN, or PX_ERROR with *why
 * set to what to log (at error) "while SSL handshaking to upstream". */
int proxy_ssl_handshake(http_request_t *r, px_conn_t *up, const char **why);

#endif
