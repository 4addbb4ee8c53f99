/* Per-connection HTTP/1.x state shared by the request reader and the response writer. */
#ifndef HTTP_REQUEST_H
#define HTTP_REQUEST_H

#include "http/http_core.h"
#include "http/http_parse.h"

/* A header line of a head still being read: offsets into http_conn_t.buf, which may move. */
typedef struct {
    http_span_t name, value, line;
    unsigned invalid : 1;
} http_header_span_t;

typedef struct http_conn {
    px_conn_t *c;
    http_addr_conf_t *addr;
    http_core_srv_conf_t *default_srv;
    char *buf;           /* request head (and pipelined bytes after it) */
    uint32_t size;       /* capacity of buf (large_client_header_buffers keeps it small) */
    uint32_t len;        /* bytes in buf */
    uint32_t head_end;   /* where the current request's head ends */
    uint32_t pos;        /* first byte not yet consumed (head, then body, then pipelined) */
    uint32_t req_start;  /* where the current request's bytes begin in buf */
    uint32_t line_start; /* start of the request or header line being parsed */
    http_parser_t *parser;    /* in the request's pool while a head is read */
    px_array_t *header_spans; /* http_header_span_t until the head is complete, same pool */
    http_request_t *r;
    px_msec_t start_msec;
    px_post_t resume;
    unsigned char parse_phase; /* 0 request line, 1 headers, 2 done */
    unsigned char nodelay_off; /* TCP_NODELAY cleared for a location with tcp_nodelay off */
    unsigned char plain_on_ssl; /* plain HTTP on an ssl address: answered with 497 (400) */
    unsigned char ssl_rejected; /* ssl_reject_handshake refused the name it asked for */
    unsigned char stream;       /* this is an HTTP/2 stream's state, c its virtual connection */
    struct http_v2_conn *h2;    /* the connection speaks HTTP/2 (http_v2.c) */
    struct http_pp *pp;         /* its PROXY protocol header (http_proxy_protocol.c) */

    /* pending output: pieces queued by the response writer, in the request's pool */
    struct http_outq *outq;

    union {
        struct { /* request body being discarded */
            int64_t body_rest; /* bytes of a Content-Length body still to drop */
            http_chunked_t chunked;
            int64_t body_received;
        };
        struct { /* lingering close, once the last request is done */
            px_msec_t linger_timeout, linger_deadline;
        };
    };
} http_conn_t;

void http_init_connection(px_conn_t *c);
/* Starts reading requests on a connection set up by http_init_connection (after the TLS
 * handshake on an ssl address), or closes it without a response. */
void http_conn_begin(http_conn_t *hc);
/* Runs the request whose head is in hc->buf, on an HTTP/2 stream's virtual connection. */
void http_stream_begin(http_conn_t *hc);
void http_conn_abort(http_conn_t *hc);
/* The connection logs to the error_log of hc->default_srv (set again when SNI picks one). */
void http_conn_set_log(http_conn_t *hc);
/* Starts what a connection does before its first request (a PROXY protocol header, a TLS
 * handshake): its log lines say action and name the client and server, handler takes its
 * events, client_header_timeout bounds it ("client timed out", then closed). */
void http_conn_first_read(http_conn_t *hc, const char *action, px_conn_handler_t handler);
/* Looks at the first bytes without taking them: how many (> 0), PX_AGAIN when none are here
 * yet, PX_ERROR when the client is gone (logged at info; the caller closes). */
ssize_t http_conn_peek(http_conn_t *hc, void *buf, size_t len);
/* A connection's log context before it has a request (log->data is its http_conn_t):
 * ", client: ADDR, server: LOCAL:PORT" as nginx writes it. */
size_t http_conn_log_context(px_log_t *log, char *buf, size_t len);
/* Response bytes are queued and not yet written. */
int http_conn_output_pending(http_conn_t *hc);
int http_send_special(http_request_t *r, int status);
/* Drops the request body bytes already received before an error page goes out (nginx's
 * special response does); a broken chunked body only costs the keepalive. */
void http_discard_for_special(http_request_t *r);
/* Sets up the body reader's state in the connection, once per request (http_body.c). */
void http_body_init(http_request_t *r);
/* Answers as `return code [text]` does (text already evaluated, NULL without one): PX_DONE
 * when a response is queued, else a status to finalize with. */
int http_send_return(http_request_t *r, int code, const px_str_t *text);

#endif
