/* hash KEY and hash KEY consistent, nginx-compatible so a key lands where nginx sends it.
 * Plain hash follows Cache::Memcached: ((crc32([REHASH] KEY) >> 16) & 0x7fff) added to
 * the previous value, up to 20 rehashes, then round-robin. Consistent hash is a ketama
 * ring as Cache::Memcached::Fast builds it: 160 points per weight unit, each point
 * crc32(HOST \0 PORT PREV_HASH) with PREV_HASH the previous point's four bytes,
 * little-endian; a key starts at the first point >= crc32(KEY) and walks on, at most 20
 * points, to a server with a usable peer. */
#include <stdio.h>
#include <stdlib.h>

#include "upstream/ups_peers.h"

#define CHASH_POINTS_PER_WEIGHT 160

static uint32_t crc32_table[256];

static void crc32_table_init(void)
{
    if (crc32_table[1] != 0)
        return;
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc32_table[n] = c;
    }
}

/* CRC-32 (IEEE) split as nginx's init/update/final, since ring points extend one prefix */
static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t len)
{
    crc32_table_init();
    while (len--)
        crc = crc32_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#define CRC32_INIT 0xffffffffu
#define CRC32_FINAL(c) ((c) ^ 0xffffffffu)

long ups_hash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    char prefix[24];
    size_t i;

    if (ctx->tries > UPS_HASH_TRIES || g->nprimary < 2 || ctx->key_len == 0)
        return ups_rr_pick(g, ctx, now);

    for (;;) {
        uint32_t crc = CRC32_INIT;

        if (ctx->rehash > 0) {
            int len = snprintf(prefix, sizeof(prefix), "%u", ctx->rehash);
            crc = crc32_update(crc, (const unsigned char *)prefix, (size_t)len);
        }
        crc = CRC32_FINAL(crc32_update(crc, ctx->key, ctx->key_len));
        ctx->hash += (crc >> 16) & 0x7fff;
        ctx->rehash++;

        i = g->order[ups_weight_slot(g, ctx->hash % g->primary_weight)];
        if (ups_peer_usable(g, ctx, i, now))
            break;
        if (++ctx->tries > UPS_HASH_TRIES)
            return ups_rr_pick(g, ctx, now);
    }

    ups_peer_take(g, ctx, i, now);
    return (long)i;
}

/* HOST and PORT of a server text as nginx splits it: "unix:" paths have no port; a port
 * is the digits after the last colon ("[::1]" and "name" have none). */
static void split_server(px_str_t s, px_str_t *host, px_str_t *port)
{
    *port = PX_NULL_STR;
    if (s.len >= 5 && px_str_caseeq(px_str_make(s.data, 5), PX_STR("unix:"))) {
        *host = px_str_make(s.data + 5, s.len - 5);
        return;
    }
    *host = s;
    for (size_t j = 0; j < s.len; j++) {
        char c = s.data[s.len - j - 1];
        if (c == ':') {
            *host = px_str_make(s.data, s.len - j - 1);
            *port = px_str_make(s.data + s.len - j, j);
            return;
        }
        if (c < '0' || c > '9')
            return;
    }
}

static int cmp_points(const void *a, const void *b)
{
    const ups_chash_point_t *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->server > y->server) - (x->server < y->server);
}

int ups_chash_build(ups_group_t *g)
{
    size_t k, i, j, n = 0;

    g->server_id = malloc(g->npeers * sizeof(*g->server_id));
    g->points = malloc(g->primary_weight * CHASH_POINTS_PER_WEIGHT * sizeof(*g->points));
    if (g->server_id == NULL || g->points == NULL)
        return PX_ERROR;

    for (k = 0; k < g->nprimary; k++) {
        i = g->order[k];
        g->server_id[i] = (uint32_t)i;
        for (j = 0; j < k; j++) {
            if (px_str_eq(g->conf[g->order[j]].server, g->conf[i].server)) {
                g->server_id[i] = g->server_id[g->order[j]];
                break;
            }
        }
    }
    for (k = g->nprimary; k < g->npeers; k++)
        g->server_id[g->order[k]] = UINT32_MAX;

    /* Every primary peer adds its points, down ones too, so marking a server down moves
     * only its own keys; addresses of one server line repeat the same points, which the
     * deduplication below folds. */
    for (k = 0; k < g->nprimary; k++) {
        px_str_t host, port;
        uint32_t base, prev = 0;
        unsigned char nul = 0;

        i = g->order[k];
        split_server(g->conf[i].server, &host, &port);
        base = crc32_update(CRC32_INIT, (const unsigned char *)host.data, host.len);
        base = crc32_update(base, &nul, 1);
        base = crc32_update(base, (const unsigned char *)port.data, port.len);

        for (j = 0; j < (size_t)g->conf[i].weight * CHASH_POINTS_PER_WEIGHT; j++) {
            unsigned char le[4] = {(unsigned char)prev, (unsigned char)(prev >> 8),
                                   (unsigned char)(prev >> 16), (unsigned char)(prev >> 24)};
            uint32_t h = CRC32_FINAL(crc32_update(base, le, 4));

            g->points[n].hash = h;
            g->points[n].server = g->server_id[i];
            n++;
            prev = h;
        }
    }

    qsort(g->points, n, sizeof(*g->points), cmp_points);
    for (i = 0, j = 1; j < n; j++) {
        if (g->points[i].hash != g->points[j].hash)
            g->points[++i] = g->points[j];
    }
    g->npoints = i + 1;
    return PX_OK;
}

uint32_t ups_chash_start(const ups_group_t *g, const unsigned char *key, size_t len)
{
    uint32_t hash = CRC32_FINAL(crc32_update(CRC32_INIT, key, len));
    size_t lo = 0, hi = g->npoints;

    /* first point >= hash; npoints (one past the end) wraps to point 0 at pick time */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (hash > g->points[mid].hash)
            lo = mid + 1;
        else if (hash < g->points[mid].hash)
            hi = mid;
        else
            return (uint32_t)mid;
    }
    return (uint32_t)lo;
}

static int same_server(const ups_group_t *g, size_t i, const void *arg)
{
    return g->server_id[i] == *(const uint32_t *)arg;
}

long ups_chash_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now)
{
    long i;

    if (ctx->tries > UPS_HASH_TRIES || g->nprimary < 2 || ctx->key_len == 0)
        return ups_rr_pick(g, ctx, now);

    for (;;) {
        uint32_t server = g->points[ctx->hash % g->npoints].server;

        /* a server line with several addresses shares its points: round-robin among them */
        i = ups_wrr_select(g, ctx, 0, g->nprimary, now, same_server, &server);
        if (i >= 0)
            break;
        ctx->hash++;
        if (++ctx->tries > UPS_HASH_TRIES)
            return ups_rr_pick(g, ctx, now);
    }

    ups_peer_take(g, ctx, (size_t)i, now);
    return i;
}
