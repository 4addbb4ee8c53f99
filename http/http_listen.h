/* `listen` directives: parsed per server, grouped at the end of http{} into listening
 * sockets (a wildcard address on a port serves the specific addresses on that port, as
 * nginx does), and, per accepted connection, the address whose servers apply. */
#ifndef HTTP_LISTEN_H
#define HTTP_LISTEN_H

#include "core/px_addr.h"
#include "http/http_core.h"

typedef struct {
    px_addr_t addr;
    int wildcard;
    http_core_srv_conf_t *srv;
    unsigned default_server : 1;
    unsigned bind : 1;
    unsigned reuseport : 1;
    unsigned deferred : 1;
    unsigned has_options : 1;
    unsigned ssl : 1; /* TLS on this address (any listen of it saying ssl makes it so) */
    unsigned http2 : 1; /* HTTP/2 on this address whatever the servers say (deprecated spelling) */
    unsigned proxy_protocol : 1; /* a PROXY protocol header before anything else */
    int backlog, rcvbuf, sndbuf, ipv6only, so_keepalive, keepidle, keepintvl, keepcnt;
    const char *file;
    unsigned line;
} http_listen_t;

typedef struct {
    size_t naddrs;
    http_addr_conf_t **addrs; /* compared against getsockname() when naddrs > 1 */
    struct sockaddr_storage *sa;
} http_port_t;

const char *http_listen_parse(conf_ctx_t *cf, http_core_srv_conf_t *cscf, const conf_node_t *n);
/* Adds "listen *:80" (or *:8000 when not root) to a server without any listen. */
const char *http_listen_default(conf_ctx_t *cf, http_core_srv_conf_t *cscf);
int http_listen_build(conf_ctx_t *cf, http_core_main_conf_t *cmcf);
/* The address configuration an accepted connection belongs to. */
http_addr_conf_t *http_listen_find_addr(px_conn_t *c);

#endif
