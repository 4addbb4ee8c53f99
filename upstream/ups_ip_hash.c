/* ip_hash: the client's /24 (IPv4) or whole IPv6 address hashed with nginx's function, so a
 * client lands on the same server index as under nginx for the same server list. Down
 * servers keep their slot (clients of other servers do not move); after 20 unusable
 * draws the request falls back to round-robin. */
#include "upstream/ups_peers.h"

long ups_ip_hash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    uint32_t hash;
    size_t i;

    if (ctx->tries > UPS_HASH_TRIES || g->nprimary < 2)
        return ups_rr_pick(g, ctx, now);

    hash = ctx->hash;
    for (;;) {
        for (size_t b = 0; b < ctx->key_len; b++)
            hash = (hash * 113 + ctx->key[b]) % 6271;

        i = g->order[ups_weight_slot(g, hash % g->primary_weight)];
        if (ups_peer_usable(g, ctx, i, now))
            break;
        if (++ctx->tries > UPS_HASH_TRIES)
            return ups_rr_pick(g, ctx, now);
    }

    ups_peer_take(g, ctx, i, now);
    /* a retry continues the sequence from here, as nginx keeps the hash per request */
    ctx->hash = hash;
    return (long)i;
}
