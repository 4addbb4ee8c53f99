/* upstream_status: a location that answers with the state of every upstream{} group as
 * JSON — each peer's address, its state (up, down, unavailable after max_fails, unhealthy
 * by active checks), connections in flight, requests, failures. The numbers are the ones all
 * workers share. */
#include <string.h>

#include "core/px_pool.h"
#include "core/px_time.h"
#include "proxy/proxy_http.h"
#include "upstream/ups_upstream.h"

static const char *method_name(ups_method_t m)
{
    static const char *const names[] = {"round_robin",     "least_conn", "ip_hash",   "hash",
                                        "hash_consistent", "random",     "random_two"};
    return (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}

/* JSON string: the names come from the configuration, escape what JSON needs */
static void put_json_str(px_pbuf_t *b, px_str_t s)
{
    static const char hex[] = "0123456789abcdef";
    px_pbuf_put(b, "\"", 1);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.data[i];
        if (ch == '"' || ch == '\\') {
            char e[2] = {'\\', (char)ch};
            px_pbuf_put(b, e, 2);
        } else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            px_pbuf_put(b, e, 6);
        } else {
            px_pbuf_put(b, (const char *)&ch, 1);
        }
    }
    px_pbuf_put(b, "\"", 1);
}

static void put_field(px_pbuf_t *b, const char *name, uint64_t value, int comma)
{
    px_pbuf_put(b, "\"", 1);
    px_pbuf_lit(b, name);
    px_pbuf_put(b, "\":", 2);
    px_pbuf_uint(b, value);
    if (comma)
        px_pbuf_put(b, ",", 1);
}

static const char *peer_state(const ups_peer_conf_t *pc, const ups_peer_state_t *st)
{
    if (pc->down)
        return "down";
    if (st->checker_down)
        return "unhealthy";
    if (pc->max_fails && st->fails >= pc->max_fails &&
        (int64_t)(px_current_msec - st->checked) <= (int64_t)pc->fail_timeout)
        return "unavailable";
    return "up";
}

static void put_group(px_pbuf_t *b, ups_upstream_t *u)
{
    put_json_str(b, u->conf->name);
    px_pbuf_lit(b, ":{\"method\":\"");
    px_pbuf_lit(b, method_name(u->conf->method));
    px_pbuf_lit(b, "\",\"peers\":[");
    /* a consistent copy under the lock, formatted after it (other workers wait on it) */
    ups_peer_state_t *states = px_palloc(b->pool, (u->npeers ? u->npeers : 1) * sizeof(*states));
    if (states == NULL)
        return;
    if (u->zone->lock)
        px_shmtx_lock(u->zone->lock);
    for (size_t i = 0; i < u->npeers; i++)
        states[i] = *ups_peer_state(u->group, i);
    if (u->zone->lock)
        px_shmtx_unlock(u->zone->lock);
    for (size_t i = 0; i < u->npeers; i++) {
        const ups_peer_conf_t *pc = ups_group_peer(u->group, i);
        ups_peer_state_t st = states[i];
        px_pbuf_lit(b, i ? ",{\"server\":" : "{\"server\":");
        put_json_str(b, pc->server);
        px_pbuf_lit(b, ",\"name\":");
        put_json_str(b, pc->name);
        px_pbuf_lit(b, ",\"state\":\"");
        px_pbuf_lit(b, peer_state(pc, &st));
        px_pbuf_lit(b, pc->backup ? "\",\"backup\":true," : "\",\"backup\":false,");
        put_field(b, "weight", pc->weight, 1);
        put_field(b, "active", st.conns, 1);
        put_field(b, "requests", st.requests, 1);
        put_field(b, "failures", st.failures, 1);
        put_field(b, "fails", st.fails, 1);
        put_field(b, "max_fails", pc->max_fails, 1);
        put_field(b, "fail_timeout_ms", pc->fail_timeout, 1);
        put_field(b, "max_conns", pc->max_conns, 0);
        px_pbuf_put(b, "}", 1);
    }
    px_pbuf_lit(b, "]}");
}

static int status_handler(http_request_t *r)
{
    if (r->method != HTTP_METHOD_GET && r->method != HTTP_METHOD_HEAD)
        return 405;
    px_pbuf_t b = {NULL, 0, 0, r->pool};
    px_pbuf_lit(&b, "{\"upstreams\":{");
    px_array_t *groups = proxy_groups(r);
    ups_group_conf_t **g = groups ? groups->elts : NULL;
    int first = 1;
    for (size_t i = 0; g && i < groups->nelts; i++) {
        if (g[i]->implicit || g[i]->runtime == NULL)
            continue;
        if (!first)
            px_pbuf_put(&b, ",", 1);
        first = 0;
        put_group(&b, g[i]->runtime);
    }
    px_pbuf_lit(&b, "}}\n");
    if (http_add_out_header(r, PX_STR("Cache-Control"), PX_STR("no-cache")) != PX_OK)
        return 500;
    http_send_simple(r, 200, PX_STR("application/json"), px_str_make(b.p, b.len));
    return PX_DONE;
}

static const char *set_status(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)n;
    (void)d;
    (void)conf;
    http_core_loc_conf_t *clcf = cf->http->loc_conf[http_core_module.index];
    if (clcf->content_handler)
        return "\"upstream_status\" directive is duplicate";
    clcf->content_handler = status_handler;
    return NULL;
}

static const conf_directive_t status_directives[] = {
    {"upstream_status", CONF_LOC, CONF_NOARGS, set_status, CONF_HTTP_LOC_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t proxy_status_module = {
    .name = "upstream_status",
    .directives = status_directives,
};
