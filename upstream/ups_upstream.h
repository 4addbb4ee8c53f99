/* A group ready for requests: the balancer over every address of its servers, its peer
 * state in a shared memory zone, and the address to connect to for each peer. Built at the
 * end of http{} for every upstream{} block, and for each plain proxy_pass host (an implicit
 * group of the addresses it resolved to). Pick and done take the zone's lock. */
#ifndef UPS_UPSTREAM_H
#define UPS_UPSTREAM_H

#include "core/px_shm.h"
#include "upstream/ups_balancer.h"
#include "upstream/ups_conf.h"

typedef struct ups_upstream {
    ups_group_conf_t *conf;
    ups_group_t *group;
    px_shm_zone_t *zone;
    px_addr_t *addrs; /* by peer index */
    unsigned char *send_proxy; /* by peer index: PROXY protocol version to send, 0 none */
    size_t npeers;
} ups_upstream_t;

/* The runtime of conf, built on first use; NULL after reporting an [emerg]. */
ups_upstream_t *ups_upstream_of(conf_ctx_t *cf, ups_group_conf_t *conf);
/* An implicit group for host (as written after the scheme) over its addresses; groups for
 * the same host are shared. */
ups_group_conf_t *ups_group_implicit(conf_ctx_t *cf, px_str_t host, const px_addr_t *addrs,
                                     size_t naddrs, const char *file, unsigned line);

ups_pick_result_t ups_upstream_pick(ups_upstream_t *u, ups_ctx_t *ctx, size_t *peer);
/* Reports the end of a pick; 1 when the peer is now out for fail_timeout. */
int ups_upstream_done(ups_upstream_t *u, size_t peer, ups_outcome_t outcome);

/* Active health checks: a peer marked unhealthy is never picked until marked healthy. */
void ups_upstream_set_healthy(ups_upstream_t *u, size_t peer, int healthy);

#endif
