/* least_conn: the peer with the fewest requests in flight relative to its weight; a tie is
 * broken by smooth weighted round-robin among the tied peers, as nginx does. Backups are
 * tried the same way once no primary is available. */
#include "upstream/ups_peers.h"

typedef struct {
    uint64_t conns;
    uint64_t weight;
} ratio_t;

static int same_ratio(const ups_group_t *g, size_t i, const void *arg)
{
    const ratio_t *r = arg;

    return (uint64_t)g->shared->peer[i].conns * r->weight == r->conns * (uint64_t)g->conf[i].weight;
}

static long least_conn_tier(ups_group_t *g, ups_ctx_t *ctx, size_t from, size_t to, px_msec_t now)
{
    long best = -1;
    size_t k, best_k = from;
    int many = 0;

    for (k = from; k < to; k++) {
        size_t i = g->order[k];
        uint64_t conns, best_conns;

        if (!ups_peer_usable(g, ctx, i, now))
            continue;
        if (best < 0) {
            best = (long)i;
            best_k = k;
            many = 0;
            continue;
        }
        conns = (uint64_t)g->shared->peer[i].conns * g->conf[best].weight;
        best_conns = (uint64_t)g->shared->peer[best].conns * g->conf[i].weight;
        if (conns < best_conns) {
            best = (long)i;
            best_k = k;
            many = 0;
        } else if (conns == best_conns) {
            many = 1;
        }
    }

    if (best >= 0 && many) {
        ratio_t r = {g->shared->peer[best].conns, g->conf[best].weight};
        /* the first tied peer is the lowest position, so the scan starts there */
        best = ups_wrr_select(g, ctx, best_k, to, now, same_ratio, &r);
    }
    if (best >= 0)
        ups_peer_take(g, ctx, (size_t)best, now);
    return best;
}

long ups_least_conn_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    long i;

    if (g->single)
        return ups_rr_pick(g, ctx, now);

    if (!ctx->on_backup) {
        i = least_conn_tier(g, ctx, 0, g->nprimary, now);
        if (i >= 0 || g->nprimary == g->npeers)
            return i;
        ctx->on_backup = 1;
    }
    return least_conn_tier(g, ctx, g->nprimary, g->npeers, now);
}
