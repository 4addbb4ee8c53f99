/* libFuzzer target for the balancers: a group built from the input (server texts for the
 * consistent-hash ring, weights, flags), then requests with keys, failures, max_conns and
 * time moving on. Invariants: a pick is a valid, not-down, not-yet-tried peer within
 * max_conns; connection counts return to zero when every pick is done. */
#include <stdlib.h>

#include "upstream/ups_balancer.h"

#define MAX_FUZZ_PEERS 12
#define MAX_HELD 16

typedef struct {
    const uint8_t *p;
    size_t left;
} input_t;

static uint8_t byte(input_t *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input_t in = {data, size};
    ups_peer_conf_t peers[MAX_FUZZ_PEERS];
    ups_method_t method = (ups_method_t)(byte(&in) % (UPS_RANDOM_TWO + 1));
    size_t n = byte(&in) % (MAX_FUZZ_PEERS + 1);
    char err[128];

    for (size_t i = 0; i < n; i++) {
        uint8_t flags = byte(&in);
        size_t len = byte(&in) % 16;

        if (len > in.left)
            len = in.left;
        peers[i] = (ups_peer_conf_t){0};
        peers[i].server = px_str_make((const char *)in.p, len);
        peers[i].name = peers[i].server;
        in.p += len;
        in.left -= len;
        peers[i].weight = (byte(&in) % 5) + ((flags & 0x80) ? 0 : 1);
        peers[i].max_fails = flags & 3;
        peers[i].fail_timeout = (flags >> 2 & 3) * 1000;
        peers[i].max_conns = (flags & 0x10) ? 1 + (flags >> 5 & 1) : 0;
        peers[i].backup = (flags & 0x40) && (flags & 0x20);
        peers[i].down = (flags & 0x0c) == 0x0c;
    }

    ups_group_t *g = ups_group_create(peers, n, method, err, sizeof(err));
    if (g == NULL)
        return 0;
    ups_group_seed(g, byte(&in));

    size_t held[MAX_HELD];
    size_t nheld = 0;
    px_msec_t now = 1000000;

    while (in.left > 0) {
        uint8_t op = byte(&in);
        size_t keylen = op % 8;
        ups_ctx_t ctx;
        size_t peer, attempts = 0;
        uint64_t tried[UPS_MAX_PEERS / 64] = {0};

        if (keylen > in.left)
            keylen = in.left;
        ups_ctx_init(&ctx, g, in.p, keylen);
        in.p += keylen;
        in.left -= keylen;
        now += (byte(&in) & 7) * 700;

        while (ups_pick(g, &ctx, now, &peer) == UPS_PICK_OK) {
            const ups_peer_conf_t *c = ups_group_peer(g, peer);
            const ups_peer_state_t *st = ups_peer_state(g, peer);

            if (c == NULL || c->down || (tried[peer / 64] >> (peer % 64) & 1))
                abort();
            if (c->max_conns && st->conns > c->max_conns)
                abort();
            tried[peer / 64] |= (uint64_t)1 << (peer % 64);
            attempts++;
            if ((op & 0x08) && nheld < MAX_HELD) {
                held[nheld++] = peer;
                break;
            }
            ups_peer_done(g, peer, (op & 0x10) ? UPS_FAILED : UPS_OK, now);
            if (!(op & 0x10))
                break;
        }
        if (attempts > ups_group_peers(g))
            abort();
        if ((op & 0x20) && nheld > 0)
            ups_peer_done(g, held[--nheld], (op & 0x40) ? UPS_FAILED : UPS_OK, now);
        if (op == 0xff)
            ups_peer_set_checker_down(g, byte(&in) % n, byte(&in) & 1);
    }

    while (nheld > 0)
        ups_peer_done(g, held[--nheld], UPS_OK, now);
    for (size_t i = 0; i < ups_group_peers(g); i++) {
        if (ups_peer_state(g, i)->conns != 0)
            abort();
    }
    ups_group_destroy(g);
    return 0;
}
