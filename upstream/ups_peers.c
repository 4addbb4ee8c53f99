/* The peer table of an upstream group: building it, its shared state, nginx's passive
 * health state machine (max_fails within fail_timeout, one probe after it), backups and
 * max_conns, and the entry points that dispatch to one balancer file per method. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>

#include "upstream/ups_peers.h"

#define TRIED_BIT(i) ((uint64_t)1 << ((i) % 64))

unsigned ups_method_params(ups_method_t method)
{
    unsigned common = UPS_PARAM_WEIGHT | UPS_PARAM_MAX_FAILS | UPS_PARAM_FAIL_TIMEOUT |
                      UPS_PARAM_DOWN | UPS_PARAM_MAX_CONNS;

    switch (method) {
    case UPS_ROUND_ROBIN:
    case UPS_LEAST_CONN:
        return common | UPS_PARAM_BACKUP;
    case UPS_IP_HASH:
    case UPS_HASH:
    case UPS_HASH_CONSISTENT:
    case UPS_RANDOM:
    case UPS_RANDOM_TWO:
        break;
    }
    return common;
}

static ups_group_t *fail(ups_group_t *g, char *err, size_t errlen, const char *msg)
{
    if (errlen)
        snprintf(err, errlen, "%s", msg);
    ups_group_destroy(g);
    return NULL;
}

ups_group_t *ups_group_create(const ups_peer_conf_t *peers, size_t n, ups_method_t method,
                              char *err, size_t errlen)
{
    size_t i, k, nprimary = 0;

    if (n == 0)
        return fail(NULL, err, errlen, "no servers are inside upstream");
    if (n > UPS_MAX_PEERS)
        return fail(NULL, err, errlen, "too many servers in upstream");
    for (i = 0; i < n; i++) {
        if (peers[i].weight == 0)
            return fail(NULL, err, errlen, "invalid parameter \"weight=0\"");
        if (!peers[i].backup)
            nprimary++;
    }
    if (nprimary == 0)
        return fail(NULL, err, errlen, "no servers in upstream");

    ups_group_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return fail(NULL, err, errlen, "out of memory");
    g->method = method;
    g->npeers = n;
    g->nprimary = nprimary;
    g->single = (n == 1);
    g->conf = malloc(n * sizeof(*g->conf));
    g->order = malloc(n * sizeof(*g->order));
    g->current_weight = calloc(n, sizeof(*g->current_weight));
    g->effective_weight = malloc(n * sizeof(*g->effective_weight));
    g->own_shared = calloc(1, ups_shared_size(n));
    if (!g->conf || !g->order || !g->current_weight || !g->effective_weight || !g->own_shared)
        return fail(g, err, errlen, "out of memory");

    memcpy(g->conf, peers, n * sizeof(*g->conf));
    g->shared = ups_shared_init(g->own_shared, n);
    k = 0;
    for (i = 0; i < n; i++) {
        if (!peers[i].backup) {
            g->order[k++] = (uint32_t)i;
            g->primary_weight += peers[i].weight;
        }
    }
    for (i = 0; i < n; i++) {
        if (peers[i].backup)
            g->order[k++] = (uint32_t)i;
    }
    for (i = 0; i < n; i++)
        g->effective_weight[i] = peers[i].weight;
    ups_group_seed(g, 0);

    if (method == UPS_HASH_CONSISTENT && ups_chash_build(g) != PX_OK)
        return fail(g, err, errlen, "out of memory");
    if ((method == UPS_RANDOM || method == UPS_RANDOM_TWO) && ups_random_build(g) != PX_OK)
        return fail(g, err, errlen, "out of memory");
    return g;
}

void ups_group_destroy(ups_group_t *g)
{
    if (g == NULL)
        return;
    free(g->conf);
    free(g->order);
    free(g->current_weight);
    free(g->effective_weight);
    free(g->own_shared);
    free(g->server_id);
    free(g->points);
    free(g->range_end);
    free(g);
}

size_t ups_group_peers(const ups_group_t *g)
{
    return g->npeers;
}

const ups_peer_conf_t *ups_group_peer(const ups_group_t *g, size_t i)
{
    return i < g->npeers ? &g->conf[i] : NULL;
}

size_t ups_group_tries(const ups_group_t *g)
{
    size_t i, tries = 0;

    for (i = 0; i < g->npeers; i++)
        tries += !g->conf[i].down;
    return tries;
}

size_t ups_shared_size(size_t n)
{
    return sizeof(ups_shared_t) + n * sizeof(ups_peer_state_t);
}

ups_shared_t *ups_shared_init(void *mem, size_t n)
{
    ups_shared_t *shared = mem;

    memset(shared, 0, ups_shared_size(n));
    shared->npeers = (uint32_t)n;
    return shared;
}

int ups_group_attach(ups_group_t *g, ups_shared_t *shared)
{
    if (shared == NULL || shared->npeers != g->npeers)
        return PX_ERROR;
    g->shared = shared;
    return PX_OK;
}

const ups_peer_state_t *ups_peer_state(const ups_group_t *g, size_t i)
{
    return i < g->npeers ? &g->shared->peer[i] : NULL;
}

void ups_group_seed(ups_group_t *g, uint64_t seed)
{
    /* xorshift must not start from zero */
    g->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

size_t ups_ip_hash_key(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr.s_addr, 3);
        return 3;
    }
    if (sa != NULL && sa->sa_family == AF_INET6) {
        memcpy(out, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr, 16);
        return 16;
    }
    memset(out, 0, 3);
    return 3;
}

void ups_ctx_init(ups_ctx_t *ctx, const ups_group_t *g, const void *key, size_t key_len)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->key = key;
    ctx->key_len = key_len;
    if (g->method == UPS_IP_HASH)
        ctx->hash = 89; /* nginx's seed */
    else if (g->method == UPS_HASH_CONSISTENT)
        ctx->hash = ups_chash_start(g, ctx->key, key_len);
}

int ups_peer_usable(const ups_group_t *g, ups_ctx_t *ctx, size_t i, px_msec_t now)
{
    const ups_peer_conf_t *c = &g->conf[i];
    const ups_peer_state_t *st = &g->shared->peer[i];

    if (ctx->tried[i / 64] & TRIED_BIT(i))
        return 0;
    if (c->down || st->checker_down)
        return 0;
    if (c->max_fails && st->fails >= c->max_fails &&
        (int64_t)(now - st->checked) <= (int64_t)c->fail_timeout)
        return 0;
    if (c->max_conns && st->conns >= c->max_conns) {
        ctx->saw_full = 1;
        return 0;
    }
    return 1;
}

void ups_peer_take(ups_group_t *g, ups_ctx_t *ctx, size_t i, px_msec_t now)
{
    ups_peer_state_t *st = &g->shared->peer[i];

    ctx->tried[i / 64] |= TRIED_BIT(i);
    st->conns++;
    st->requests++;
    /* After fail_timeout this pick is the one probe of a failed-out peer: its success
     * (accessed < checked in ups_peer_done) clears the failures. */
    if ((int64_t)(now - st->checked) > (int64_t)g->conf[i].fail_timeout)
        st->checked = now;
}

long ups_wrr_select(ups_group_t *g, ups_ctx_t *ctx, size_t from, size_t to, px_msec_t now,
                    ups_admit_pt admit, const void *arg)
{
    long best = -1;
    int64_t total = 0;

    for (size_t k = from; k < to; k++) {
        size_t i = g->order[k];

        if (admit != NULL && !admit(g, i, arg))
            continue;
        if (!ups_peer_usable(g, ctx, i, now))
            continue;
        g->current_weight[i] += g->effective_weight[i];
        total += g->effective_weight[i];
        /* a failed peer's weight comes back one step per pick */
        if (g->effective_weight[i] < (int64_t)g->conf[i].weight)
            g->effective_weight[i]++;
        if (best < 0 || g->current_weight[i] > g->current_weight[best])
            best = (long)i;
    }
    if (best >= 0)
        g->current_weight[best] -= total;
    return best;
}

size_t ups_weight_slot(const ups_group_t *g, uint64_t w)
{
    size_t k = 0;

    while (w >= g->conf[g->order[k]].weight) {
        w -= g->conf[g->order[k]].weight;
        k++;
    }
    return k;
}

ups_pick_result_t ups_pick(ups_group_t *g, ups_ctx_t *ctx, px_msec_t now, size_t *peer)
{
    long i = -1;

    ctx->saw_full = 0;
    switch (g->method) {
    case UPS_ROUND_ROBIN:
        i = ups_rr_pick(g, ctx, now);
        break;
    case UPS_LEAST_CONN:
        i = ups_least_conn_pick(g, ctx, now);
        break;
    case UPS_IP_HASH:
        i = ups_ip_hash_pick(g, ctx, now);
        break;
    case UPS_HASH:
        i = ups_hash_pick(g, ctx, now);
        break;
    case UPS_HASH_CONSISTENT:
        i = ups_chash_pick(g, ctx, now);
        break;
    case UPS_RANDOM:
        i = ups_random_pick(g, ctx, now);
        break;
    case UPS_RANDOM_TWO:
        i = ups_random_two_pick(g, ctx, now);
        break;
    }
    if (i < 0)
        return ctx->saw_full ? UPS_PICK_FULL : UPS_PICK_NONE;
    *peer = (size_t)i;
    return UPS_PICK_OK;
}

int ups_peer_done(ups_group_t *g, size_t i, ups_outcome_t outcome, px_msec_t now)
{
    const ups_peer_conf_t *c;
    ups_peer_state_t *st;

    if (i >= g->npeers)
        return 0;
    c = &g->conf[i];
    st = &g->shared->peer[i];
    if (st->conns)
        st->conns--;
    if (outcome == UPS_FAILED)
        st->failures++;
    /* nginx never takes the only server out: there would be nothing to fall back to */
    if (g->single)
        return 0;

    if (outcome != UPS_FAILED) {
        if (st->accessed < st->checked)
            st->fails = 0;
        return 0;
    }

    st->fails++;
    st->accessed = now;
    st->checked = now;
    if (c->max_fails == 0)
        return 0;
    g->effective_weight[i] -= c->weight / c->max_fails;
    if (g->effective_weight[i] < 0)
        g->effective_weight[i] = 0;
    return st->fails >= c->max_fails;
}

void ups_peer_set_checker_down(ups_group_t *g, size_t i, int down)
{
    if (i < g->npeers)
        g->shared->peer[i].checker_down = down != 0;
}
