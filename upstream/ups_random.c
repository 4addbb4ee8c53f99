/* random [two [least_conn]]: a peer drawn with probability proportional to its weight
 * (down peers keep their share of the draw and are redrawn); with `two`, two distinct
 * usable peers are drawn and the one with fewer requests in flight per weight wins. After
 * 20 draws, round-robin, as nginx. */
#include <stdlib.h>

#include "upstream/ups_peers.h"

int ups_random_build(ups_group_t *g)
{
    uint64_t total = 0;

    g->range_end = malloc(g->nprimary * sizeof(*g->range_end));
    if (g->range_end == NULL)
        return PX_ERROR;
    for (size_t k = 0; k < g->nprimary; k++) {
        total += g->conf[g->order[k]].weight;
        g->range_end[k] = total;
    }
    return PX_OK;
}

/* xorshift64*: per worker, seeded by ups_group_seed */
static uint64_t next_random(ups_group_t *g)
{
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 0x2545f4914f6cdd1dull;
}

static size_t peek(ups_group_t *g)
{
    uint64_t x = next_random(g) % g->primary_weight;
    size_t lo = 0, hi = g->nprimary;

    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (x < g->range_end[mid - 1])
            hi = mid;
        else
            lo = mid;
    }
    return g->order[lo];
}

long ups_random_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    size_t i;

    if (ctx->tries > UPS_HASH_TRIES || g->nprimary < 2)
        return ups_rr_pick(g, ctx, now);

    for (;;) {
        i = peek(g);
        if (ups_peer_usable(g, ctx, i, now))
            break;
        if (++ctx->tries > UPS_HASH_TRIES)
            return ups_rr_pick(g, ctx, now);
    }
    ups_peer_take(g, ctx, i, now);
    return (long)i;
}

long ups_random_two_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    long prev = -1;
    size_t i;

    if (ctx->tries > UPS_HASH_TRIES || g->nprimary < 2)
        return ups_rr_pick(g, ctx, now);

    for (;;) {
        i = peek(g);
        if ((long)i != prev && ups_peer_usable(g, ctx, i, now)) {
            if (prev >= 0) {
                uint64_t ci = (uint64_t)g->shared->peer[i].conns * g->conf[prev].weight;
                uint64_t cp = (uint64_t)g->shared->peer[prev].conns * g->conf[i].weight;
                if (ci > cp)
                    i = (size_t)prev;
                break;
            }
            prev = (long)i;
        }
        if (++ctx->tries > UPS_HASH_TRIES)
            return ups_rr_pick(g, ctx, now);
    }
    ups_peer_take(g, ctx, i, now);
    return (long)i;
}
