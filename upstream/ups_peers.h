/* Internal to the balancers (upstream/ups_*.c): the group's layout and the peer checks
 * every method shares. Other modules use upstream/ups_balancer.h only. */
#ifndef UPS_PEERS_H
#define UPS_PEERS_H

#include "upstream/ups_balancer.h"

typedef struct {
    uint32_t hash;
    uint32_t server; /* index of the first primary peer written with this server text */
} ups_chash_point_t;

/* Everything is indexed by the caller's peer index, except order[]: positions with the
 * primaries first, then the backups, each in configuration order (nginx's two lists). */
struct ups_group {
    ups_method_t method;
    size_t npeers;
    size_t nprimary;
    int single;              /* one primary and no backup: nginx counts no failures */
    uint64_t primary_weight; /* primaries' weights, down ones included: the hash space */
    ups_peer_conf_t *conf;
    uint32_t *order;
    int64_t *current_weight; /* smooth WRR, per worker */
    int64_t *effective_weight;
    ups_shared_t *shared;
    ups_shared_t *own_shared; /* private state until ups_group_attach */

    uint32_t *server_id; /* consistent hash */
    ups_chash_point_t *points;
    size_t npoints;

    uint64_t *range_end; /* random: cumulative weight through each primary position */
    uint64_t rng;
};

/* Tried, down, failed out (max_fails within fail_timeout), full (max_conns): nginx's
 * checks, in its order. A peer skipped only for max_conns sets ctx->saw_full. */
int ups_peer_usable(const ups_group_t *g, ups_ctx_t *ctx, size_t i, px_msec_t now);

/* Commits a pick: marks it tried, counts the connection and the request, and starts the
 * probe window of a failed-out peer (nginx's `checked`). */
void ups_peer_take(ups_group_t *g, ups_ctx_t *ctx, size_t i, px_msec_t now);

/* Smooth weighted round-robin among the usable peers at positions [from, to) that admit
 * accepts (NULL: all). Returns the caller's index of the winner, or -1. */
typedef int (*ups_admit_pt)(const ups_group_t *g, size_t i, const void *arg);
long ups_wrr_select(ups_group_t *g, ups_ctx_t *ctx, size_t from, size_t to, px_msec_t now,
                    ups_admit_pt admit, const void *arg);

/* The methods. Each returns the caller's index or -1 when nothing is available. */
long ups_rr_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_least_conn_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_ip_hash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_hash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_chash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_random_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);
long ups_random_two_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now);

/* Load-time structures; PX_OK or PX_ERROR (out of memory). */
int ups_chash_build(ups_group_t *g);
int ups_random_build(ups_group_t *g);

/* The ring position a key starts from (ups_ctx_init for hash ... consistent). */
uint32_t ups_chash_start(const ups_group_t *g, const unsigned char *key, size_t len);

/* The primary position whose weight slot holds w (w < primary_weight): ip_hash and hash. */
size_t ups_weight_slot(const ups_group_t *g, uint64_t w);

#endif
