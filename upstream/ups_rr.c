/* Weighted round-robin, nginx's smooth algorithm: every usable peer gains its effective
 * weight, the richest wins and pays the total, so weights 5,1,1 give a a b a c a a.
 * Also the fallback of every other method, and the switch to backup servers. */
#include "upstream/ups_peers.h"

long ups_rr_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    long i;

    if (g->single) {
        /* nginx neither counts failures of a lone server nor skips it for them */
        const ups_peer_conf_t *c = &g->conf[0];
        const ups_peer_state_t *st = &g->shared->peer[0];

        if ((ctx->tried[0] & 1) || c->down || st->checker_down)
            return -1;
        if (c->max_conns && st->conns >= c->max_conns) {
            ctx->saw_full = 1;
            return -1;
        }
        ups_peer_take(g, ctx, 0, now);
        return 0;
    }

    if (!ctx->on_backup) {
        i = ups_wrr_select(g, ctx, 0, g->nprimary, now, NULL, NULL);
        if (i >= 0 || g->nprimary == g->npeers) {
            if (i >= 0)
                ups_peer_take(g, ctx, (size_t)i, now);
            return i;
        }
        ctx->on_backup = 1;
    }

    i = ups_wrr_select(g, ctx, g->nprimary, g->npeers, now, NULL, NULL);
    if (i >= 0)
        ups_peer_take(g, ctx, (size_t)i, now);
    return i;
}
