/* Groups ready for requests: see ups_upstream.h. */
#include "upstream/ups_upstream.h"

#include <string.h>
#include <unistd.h>

#include "core/px_log.h"
#include "core/px_time.h"

static void destroy_group(void *g)
{
    ups_group_destroy(g);
}

static int init_zone(px_shm_zone_t *zone)
{
    ups_upstream_t *u = zone->data;
    ups_shared_t *shared = ups_shared_init(zone->addr, u->npeers);
    if (shared == NULL || ups_group_attach(u->group, shared) != PX_OK) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "upstream \"%.*s\": shared state does not fit",
                     (int)u->conf->name.len, u->conf->name.data);
        return PX_ERROR;
    }
    return PX_OK;
}

/* Each worker draws its own random sequence (random, and the fallbacks that use it). The
 * groups are found through the cycle's zones, so nothing outlives a cycle. */
static int seed_worker(px_cycle_t *cycle)
{
    px_shm_zone_t **z = cycle->shm_zones.elts;
    for (size_t i = 0; i < cycle->shm_zones.nelts; i++) {
        if (z[i]->init == init_zone)
            ups_group_seed(((ups_upstream_t *)z[i]->data)->group,
                           (uint64_t)getpid() * 2654435761u + i);
    }
    return PX_OK;
}

static int register_seed(conf_ctx_t *cf)
{
    px_worker_hooks_t *h = cf->cycle->worker_hooks.elts;
    for (size_t i = 0; i < cf->cycle->worker_hooks.nelts; i++) {
        if (h[i].init_worker == seed_worker)
            return PX_OK;
    }
    px_worker_hooks_t *nh = px_array_push(&cf->cycle->worker_hooks);
    if (nh == NULL)
        return PX_ERROR;
    memset(nh, 0, sizeof(*nh));
    nh->init_worker = seed_worker;
    return PX_OK;
}

ups_upstream_t *ups_upstream_of(conf_ctx_t *cf, ups_group_conf_t *g)
{
    if (g->runtime)
        return g->runtime;
    size_t n = 0;
    ups_server_conf_t *s = g->servers.elts;
    for (size_t i = 0; i < g->servers.nelts; i++)
        n += s[i].naddrs;
    ups_upstream_t *u = px_pcalloc(cf->cycle->pool, sizeof(*u));
    ups_peer_conf_t *peers = px_pcalloc(cf->cycle->pool, (n ? n : 1) * sizeof(*peers));
    if (u == NULL || peers == NULL ||
        (u->addrs = px_palloc(cf->cycle->pool, (n ? n : 1) * sizeof(px_addr_t))) == NULL ||
        (u->send_proxy = px_pcalloc(cf->cycle->pool, n ? n : 1)) == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < g->servers.nelts; i++) {
        for (size_t j = 0; j < s[i].naddrs; j++, k++) {
            u->addrs[k] = s[i].addrs[j];
            peers[k].name = px_str_make(u->addrs[k].text, strlen(u->addrs[k].text));
            peers[k].server = s[i].server;
            peers[k].weight = (uint32_t)s[i].weight;
            peers[k].max_fails = (uint32_t)s[i].max_fails;
            peers[k].fail_timeout = (px_msec_t)s[i].fail_timeout;
            peers[k].max_conns = (uint32_t)s[i].max_conns;
            peers[k].backup = s[i].backup;
            peers[k].down = s[i].down;
            u->send_proxy[k] = (unsigned char)s[i].send_proxy;
        }
    }
    char err[256];
    u->group = ups_group_create(peers, n, g->method, err, sizeof(err));
    if (u->group == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s \"%.*s\" in %s:%u", err, (int)g->name.len,
                     g->name.data, g->file, g->line);
        return NULL;
    }
    if (px_pool_cleanup_add(cf->cycle->pool, destroy_group, u->group) != PX_OK)
        return NULL;
    u->conf = g;
    u->npeers = n;
    char *zname = px_psprintf(cf->pool, "%supstream %.*s", g->stream ? "stream " : "", (int)g->name.len,
                              g->name.data);
    u->zone = px_shm_zone_add(cf->cycle, zname, ups_shared_size(n), init_zone, u);
    if (u->zone == NULL || register_seed(cf) != PX_OK)
        return NULL;
    g->runtime = u;
    return u;
}

ups_group_conf_t *ups_group_implicit(conf_ctx_t *cf, px_str_t host, const px_addr_t *addrs,
                                     size_t naddrs, const char *file, unsigned line)
{
    px_array_t *groups = ups_groups(cf);
    ups_group_conf_t **g = groups->elts;
    for (size_t i = 0; i < groups->nelts; i++) {
        ups_server_conf_t *s = g[i]->servers.elts;
        /* the same host on the same port: the port is not part of the name */
        if (g[i]->implicit && px_str_caseeq(g[i]->name, host) && s[0].naddrs == naddrs && naddrs &&
            strcmp(s[0].addrs[0].text, addrs[0].text) == 0)
            return g[i];
    }
    ups_group_conf_t *ng = px_pcalloc(cf->pool, sizeof(*ng));
    ups_group_conf_t **slot = px_array_push(groups);
    if (ng == NULL || slot == NULL ||
        px_array_init(&ng->servers, cf->pool, 1, sizeof(ups_server_conf_t)) != PX_OK)
        return NULL;
    *slot = ng;
    ng->name = host;
    ng->file = file;
    ng->line = line;
    ng->implicit = 1;
    ng->stream = (cf->type & (CONF_STREAM | CONF_STREAM_SRV | CONF_STREAM_UPS)) != 0;
    ng->method = UPS_ROUND_ROBIN;
    ng->keepalive = -1;
    ng->keepalive_requests = -1;
    ng->keepalive_time = -1;
    ng->keepalive_timeout = -1;
    ups_server_conf_t *s = px_array_push(&ng->servers);
    if (s == NULL)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->server = host;
    s->addrs = px_palloc(cf->pool, naddrs * sizeof(px_addr_t));
    if (s->addrs == NULL)
        return NULL;
    memcpy(s->addrs, addrs, naddrs * sizeof(px_addr_t));
    s->naddrs = naddrs;
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout = 10000;
    s->file = file;
    s->line = line;
    return ng;
}

/* The zone's lock (absent only before the zones are mapped: -t never gets here) */
static void lock_zone(ups_upstream_t *u)
{
    if (u->zone->lock)
        px_shmtx_lock(u->zone->lock);
}

static void unlock_zone(ups_upstream_t *u)
{
    if (u->zone->lock)
        px_shmtx_unlock(u->zone->lock);
}

ups_pick_result_t ups_upstream_pick(ups_upstream_t *u, ups_ctx_t *ctx, size_t *peer)
{
    lock_zone(u);
    ups_pick_result_t rc = ups_pick(u->group, ctx, px_current_msec, peer);
    unlock_zone(u);
    return rc;
}

int ups_upstream_done(ups_upstream_t *u, size_t peer, ups_outcome_t outcome)
{
    lock_zone(u);
    int disabled = ups_peer_done(u->group, peer, outcome, px_current_msec);
    unlock_zone(u);
    return disabled;
}

void ups_upstream_set_healthy(ups_upstream_t *u, size_t peer, int healthy)
{
    lock_zone(u);
    ups_peer_set_checker_down(u->group, peer, !healthy);
    unlock_zone(u);
}
