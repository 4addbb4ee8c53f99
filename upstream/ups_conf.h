/* upstream {} groups as the configuration names them: servers with their parameters
 * (addresses resolved at load), the balancing method, and the keepalive pool settings. The
 * module reads the blocks of the http context; a protocol module (proxy_pass) finds a group
 * by name with ups_group_find, or has one made for a plain host with ups_group_implicit. */
#ifndef UPS_CONF_H
#define UPS_CONF_H

#include "conf/conf_module.h"
#include "core/px_addr.h"
#include "upstream/ups_balancer.h"

typedef struct {
    px_str_t server;  /* the address as written: "backend1:8080", "unix:/run/app.sock" */
    px_addr_t *addrs; /* every address it resolved to (pool memory) */
    size_t naddrs;
    int weight;
    int max_fails;
    int max_conns;        /* 0: no limit */
    int64_t fail_timeout; /* milliseconds */
    unsigned backup : 1;
    unsigned down : 1;
    unsigned send_proxy : 2; /* HAProxy's send-proxy (1) / send-proxy-v2 (2): PROXY protocol */
    unsigned no_port : 1;    /* written without one: stream{} reports it (http takes 80) */
    const char *file;
    unsigned line;
} ups_server_conf_t;

typedef struct {
    px_str_t name;
    const char *file;
    unsigned line;
    px_array_t servers; /* ups_server_conf_t */
    ups_method_t method;
    px_str_t hash_key; /* hash: the key as written; the protocol module compiles it */
    void *hash_key_compiled;
    unsigned implicit : 1; /* made for proxy_pass http://host:port, no upstream{} */
    unsigned has_backup : 1;
    unsigned stream : 1;   /* a stream{} group (its own names and shared zone) */
    int keepalive;                /* -1: not set (per-location cache), 0: off, N: idle per worker */
    int keepalive_requests;       /* -1: not set */
    int64_t keepalive_time;       /* ms, -1: not set */
    int64_t keepalive_timeout;    /* ms, -1: not set */
    px_str_t zone;                /* zone name if given (state is always shared) */
    struct ups_upstream *runtime; /* ups_upstream.h, built at the end of http{} */
} ups_group_conf_t;

/* The group called name in the current http{} (defined before or after), or NULL. */
ups_group_conf_t *ups_group_find(conf_ctx_t *cf, px_str_t name);
/* Every group of the current http{}: ups_group_conf_t* elements. */
px_array_t *ups_groups(conf_ctx_t *cf);

extern conf_module_t ups_http_module;

#endif
