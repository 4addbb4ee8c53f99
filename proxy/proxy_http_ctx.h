/* The state of one proxied request, shared by proxy_http.c (the run) and proxy_vars.c (the
 * variables that read it). Private to proxy/. */
#ifndef PROXY_HTTP_CTX_H
#define PROXY_HTTP_CTX_H

#include "http/http_parse.h"
#include "proxy/proxy_http.h"
#include "upstream/ups_upstream.h"

enum { ST_BODY, ST_CONNECT, ST_TLS, ST_SEND, ST_HEAD, ST_BODY_OUT, ST_DONE };

typedef struct {
    char *data;
    size_t size;
    int busy; /* queued to the client, not yet written */
} pbuf_t;

typedef struct proxy_ctx {
    http_request_t *r;
    void *tunnel; /* after a 101 */
    proxy_loc_conf_t *conf;
    proxy_pass_t *pass;
    proxy_pass_t evaluated;
    px_addr_t peer;
    px_conn_t *up;
    int state;

    /* the request to the upstream */
    char *head;
    size_t head_len;
    int body_mode;       /* BODY_* below */
    char *body_mem;      /* buffered body, or proxy_set_body */
    size_t body_len;     /* bytes in body_mem, or in the temp file */
    int body_fd;         /* a buffered body past client_body_buffer_size */
    off_t body_file_off; /* next byte of the file to send */
    char *sbuf;          /* streaming / file piece being sent */
    size_t sbuf_size;
    struct iovec iov[4];
    int iovcnt;
    char chunk_line[24];
    unsigned request_sent : 1;
    unsigned body_eof : 1;
    unsigned send_chunked : 1;
    unsigned client_body_done : 1;

    /* the response */
    http_response_t resp;
    int parse_phase; /* 0 status line, 1 headers */
    pbuf_t *bufs;
    int nbufs;
    size_t head_buf_len; /* bytes read into bufs[0] while reading the head */
    int body_kind;
    int64_t body_rest;
    http_chunked_t chunked;
    unsigned upstream_done : 1;
    unsigned upstream_closed : 1;
    unsigned buffering : 1;
    unsigned broken : 1; /* the upstream failed mid-body: flush what we have, then close */
    unsigned reused : 1; /* the connection came from the keepalive cache */
    unsigned retried : 1;
    unsigned extra : 1; /* the upstream sent bytes past the response: not reusable */
    int tmp_fd;
    off_t tmp_write, tmp_read;

    /* the group and the peer of this attempt */
    ups_upstream_t *ups; /* NULL: a single address from a proxy_pass with variables */
    ups_ctx_t *uctx;
    size_t peer_index;
    unsigned picked : 1;   /* a pick the balancer has not been told the end of */
    unsigned no_live : 1;  /* no peer could be picked: $upstream_addr is the group's name */
    unsigned sent_any : 1; /* bytes of the request reached an upstream */
    int tries;             /* attempts left, this one included */
    px_msec_t first_start;

    /* $upstream_*: the attempts before this one, then this one */
    px_array_t *attempts; /* attempt_t */
    int status;
    px_msec_t start, connect_ms, header_ms, response_ms;
} proxy_ctx_t;

typedef struct {
    px_str_t addr;
    int status;
    px_msec_t response_ms, connect_ms, header_ms;
    unsigned has_header : 1;
} attempt_t;

enum { BODY_NONE, BODY_MEM, BODY_FILE, BODY_STREAM };

/* proxy_http.c */
void proxy_log_upstream(proxy_ctx_t *ctx, int level, int err, const char *what);

/* proxy_peer.c: where each attempt goes */
/* The group (or single address) of the request, its balancer context and retry budget. */
int proxy_choose_peer(proxy_ctx_t *ctx);
/* This attempt's peer from the group: PX_OK, or 502 after "no live upstreams". */
int proxy_pick_peer(proxy_ctx_t *ctx);
/* Tells the balancer this attempt is over (once per pick). */
void proxy_release_peer(proxy_ctx_t *ctx, ups_outcome_t outcome);
/* Whether a failed attempt may go to the next peer (proxy_next_upstream and its limits). */
int proxy_may_retry(proxy_ctx_t *ctx, unsigned ft);
/* Keeps the finished attempt for $upstream_*. */
void proxy_push_attempt(proxy_ctx_t *ctx, int status);
/* proxy_next_upstream's condition for an upstream's status, 0 for none. */
unsigned proxy_status_condition(int status);
/* Whose idle connections the request takes and gives back, NULL for none. */
const void *proxy_keepalive_owner(proxy_ctx_t *ctx, unsigned *max, px_msec_t *timeout);
/* keepalive_requests and keepalive_time allow the connection another request. */
int proxy_keepalive_allows(proxy_ctx_t *ctx, const px_conn_t *up);
/* nginx's rule: all but POST, LOCK and PATCH may be sent twice. */
int proxy_idempotent(const http_request_t *r);

#endif
