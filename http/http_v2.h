/* HTTP/2 (RFC 9113) on client connections: libnghttp2 does the framing, HPACK and the
 * protocol's checks; each stream becomes a request with a virtual connection of its own
 * (px_conn_vio_t) and runs through the same phases, locations and handlers as HTTP/1.x. */
#ifndef HTTP_V2_H
#define HTTP_V2_H

#include "http/http_request.h"

extern conf_module_t http_v2_module;

/* Whether HTTP/2 may be spoken on the connection: `listen ... http2`, or `http2 on` in the
 * server that owns it (the SNI choice over TLS). */
int http_v2_enabled(http_conn_t *hc);
/* Compares the start of a connection with the client preface: 1 all of it is there, 0 the
 * bytes so far are a prefix of it, -1 not HTTP/2. */
int http_v2_preface(const char *buf, size_t len);
/* Takes the connection over; bytes already read (hc->buf from hc->pos) are its first input. */
void http_v2_init(http_conn_t *hc);

/* ---- for the request lifecycle (http_request.c, http_response.c) on a stream's hc ---- */

/* After the head is read: HTTP/2.0 in the request line, a body without Content-Length is
 * read to the stream's end (as a chunked one is). */
void http_v2_request_init(http_request_t *r);
/* Sends the response head as a HEADERS frame; body bytes then go through px_conn_writev. */
int http_v2_send_header(http_request_t *r);
/* The response is all queued and r is gone: the stream ends once its data is out. */
void http_v2_request_done(http_conn_t *hc);
/* The request ended without a complete response: the stream is reset. */
void http_v2_stream_close(http_conn_t *hc);
/* The request body is not wanted: what arrives is dropped. */
void http_v2_discard_body(http_conn_t *hc);

#endif
