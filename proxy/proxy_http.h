/* proxy_pass over HTTP/1.x: the per-location configuration (proxy_conf.c), the request to
 * the upstream and the response back (proxy_http.c), and the tunnel an Upgrade turns the
 * connection into (proxy_tunnel.c). */
#ifndef PROXY_HTTP_H
#define PROXY_HTTP_H

#include "http/http_core.h"
#include "http/http_parse_response.h"
#include "proxy/proxy_uri.h"

/* One request header the proxy sets: proxy_set_header or a default. */
typedef struct {
    px_str_t name;
    http_cv_t value;
    unsigned literal_empty : 1; /* "": never sent, hides the client's header */
} proxy_header_t;

/* proxy_redirect: `default` becomes an explicit pair at merge time. */
typedef struct {
    px_str_t from;       /* literal prefix (may have variables: from_cv) */
    http_cv_t from_cv;
    void *regex;         /* http_regex_t for ~ and ~* */
    http_cv_t replacement;
} proxy_redirect_t;

/* proxy_ignore_headers bits. */
#define PROXY_IGNORE_X_ACCEL_REDIRECT 0x01u
#define PROXY_IGNORE_X_ACCEL_EXPIRES 0x02u
#define PROXY_IGNORE_X_ACCEL_LIMIT_RATE 0x04u
#define PROXY_IGNORE_X_ACCEL_BUFFERING 0x08u
#define PROXY_IGNORE_X_ACCEL_CHARSET 0x10u
#define PROXY_IGNORE_EXPIRES 0x20u
#define PROXY_IGNORE_CACHE_CONTROL 0x40u
#define PROXY_IGNORE_SET_COOKIE 0x80u
#define PROXY_IGNORE_VARY 0x100u

enum { PROXY_REDIRECT_UNSET = -1, PROXY_REDIRECT_OFF = 0, PROXY_REDIRECT_ON = 1 };

/* proxy_next_upstream conditions. */
#define PROXY_NEXT_ERROR 0x001u
#define PROXY_NEXT_TIMEOUT 0x002u
#define PROXY_NEXT_INVALID_HEADER 0x004u
#define PROXY_NEXT_HTTP_500 0x008u
#define PROXY_NEXT_HTTP_502 0x010u
#define PROXY_NEXT_HTTP_503 0x020u
#define PROXY_NEXT_HTTP_504 0x040u
#define PROXY_NEXT_HTTP_403 0x080u
#define PROXY_NEXT_HTTP_404 0x100u
#define PROXY_NEXT_HTTP_429 0x200u
#define PROXY_NEXT_NON_IDEMPOTENT 0x400u
#define PROXY_NEXT_OFF 0x800u

/* Where a literal proxy_pass goes: an upstream{} group of that name, or an implicit group of
 * the addresses its host resolved to; bound at the end of http{}, when every upstream{} is
 * known. Shared by the if () blocks of the location. */
typedef struct proxy_target {
    struct ups_upstream *ups;
    const char *file;
    unsigned line;
} proxy_target_t;

typedef struct {
    /* proxy_pass of this location (not inherited) */
    int has_pass;
    proxy_pass_t pass;
    http_cv_t pass_cv; /* when the target has variables */
    px_str_t location; /* the location's name, for the URI rules */
    proxy_target_t *target; /* a literal target (no variables) */
    int location_kind;

    px_array_t *set_headers; /* proxy_header_t as written; NULL: inherit */
    px_array_t *headers;     /* what is sent: set_headers + defaults (built at merge) */
    int http_version;        /* 1000 or 1001 */
    int pass_request_headers;
    int pass_request_body;
    int has_set_body;
    http_cv_t set_body;
    int has_method;
    http_cv_t method;
    px_array_t *hide_headers; /* px_str_t */
    px_array_t *pass_headers; /* px_str_t */
    int ignore_headers_set;
    unsigned ignore_headers;

    int64_t connect_timeout, read_timeout, send_timeout;
    int buffering, request_buffering;
    size_t buffer_size;
    conf_bufs_t buffers;
    size_t busy_buffers_size;
    int64_t max_temp_file_size;
    size_t temp_file_write_size;
    px_str_t temp_path;
    int intercept_errors;
    int next_upstream; /* PROXY_NEXT_* bits; -1 unset */
    int next_upstream_tries;  /* 0: as many as the group has */
    int64_t next_upstream_timeout; /* ms, 0: none */
    int ignore_client_abort;

    int redirect_mode; /* PROXY_REDIRECT_* */
    int redirect_default; /* "proxy_redirect default" was written */
    px_array_t *redirects; /* proxy_redirect_t */
} proxy_loc_conf_t;

extern conf_module_t proxy_http_module;

/* $proxy_host, $proxy_port, $proxy_add_x_forwarded_for, $upstream_* (postconfiguration). */
int proxy_define_variables(conf_ctx_t *cf);

/* The upstream{} group called name (a proxy_pass target evaluated at request time), or NULL. */
struct ups_upstream *proxy_find_upstream(http_request_t *r, px_str_t name);

/* Every upstream group of r's http{} (ups_group_conf_t*), for the status page. */
px_array_t *proxy_groups(http_request_t *r);

/* The content handler proxy_pass installs. */
int proxy_handler(http_request_t *r);

/* Header filters of the response (proxy_conf.c holds the lists): whether an upstream
 * header goes to the client. */
int proxy_header_hidden(const proxy_loc_conf_t *conf, px_str_t name);
/* proxy_redirect applied to a Location or Refresh value; PX_DECLINED when no rule
 * matched (the value stays), PX_OK with *out rewritten. */
int proxy_rewrite_redirect(http_request_t *r, const proxy_loc_conf_t *conf, px_str_t value,
                           size_t prefix, px_str_t *out);

/* Upgrade: the client connection and the upstream one relay bytes both ways until one
 * side closes or proxy_read_timeout passes without traffic. pending is what the upstream
 * sent after its 101 head. Takes over the request; it ends it. */
void proxy_tunnel_start(http_request_t *r, px_conn_t *upstream, const char *pending,
                        size_t pending_len, int64_t idle_timeout, size_t buffer_size, void **slot);
/* The client connection's events while the tunnel runs. */
void proxy_tunnel_event(void *tunnel);

#endif
