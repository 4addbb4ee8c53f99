/* The upstream {} block of the http context: server lines with nginx's parameters and
 * messages, the balancing methods, keepalive settings and zone. See ups_conf.h. */
#include "upstream/ups_conf.h"

#include <stddef.h>
#include <string.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "upstream/ups_upstream.h"

typedef struct {
    px_array_t groups; /* ups_group_conf_t* */
} ups_main_conf_t;

static void *create_main_conf(conf_ctx_t *cf)
{
    ups_main_conf_t *m = px_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL || px_array_init(&m->groups, cf->pool, 4, sizeof(ups_group_conf_t *)) != PX_OK)
        return NULL;
    return m;
}

/* the stream{} block's groups live in the main context: stream has no http levels */
static void *create_core_conf(conf_ctx_t *cf)
{
    return create_main_conf(cf);
}

static int in_stream(const conf_ctx_t *cf)
{
    return (cf->type & (CONF_STREAM | CONF_STREAM_SRV | CONF_STREAM_UPS)) != 0;
}

px_array_t *ups_groups(conf_ctx_t *cf)
{
    ups_main_conf_t *m = in_stream(cf) ? cf->cycle->conf[ups_http_module.index]
                                       : cf->http->main_conf[ups_http_module.index];
    return &m->groups;
}

ups_group_conf_t *ups_group_find(conf_ctx_t *cf, px_str_t name)
{
    px_array_t *groups = ups_groups(cf);
    ups_group_conf_t **g = groups->elts;
    for (size_t i = 0; i < groups->nelts; i++) {
        if (!g[i]->implicit && px_str_caseeq(g[i]->name, name))
            return g[i];
    }
    return NULL;
}

/* ---- inside upstream {} ---- */

static ups_group_conf_t *current(conf_ctx_t *cf)
{
    return cf->block_data;
}

/* "name=value" parameters: the value after the '=' when p starts with name= */
static int param(px_str_t p, const char *name, px_str_t *value)
{
    size_t n = strlen(name);
    if (p.len <= n || memcmp(p.data, name, n) != 0 || p.data[n] != '=')
        return 0;
    *value = px_str_make(p.data + n + 1, p.len - n - 1);
    return 1;
}

static const char *set_server(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    (void)conf;
    ups_group_conf_t *g = current(cf);
    ups_server_conf_t *s = px_array_push(&g->servers);
    if (s == NULL)
        return CONF_ERROR;
    memset(s, 0, sizeof(*s));
    s->weight = 1;
    s->max_fails = 1;
    s->fail_timeout = 10000;
    s->file = n->file;
    s->line = n->line;
    unsigned allowed = ups_method_params(g->method);

    for (size_t i = 1; i < n->nargs; i++) {
        px_str_t p = n->args[i].value, v;
        unsigned what;
        int64_t num = 0;
        if (param(p, "weight", &v)) {
            what = UPS_PARAM_WEIGHT;
            num = conf_parse_number(v);
            if (num <= 0 || num > 2147483647)
                goto invalid;
            s->weight = (int)num;
        } else if (param(p, "max_fails", &v)) {
            what = UPS_PARAM_MAX_FAILS;
            if ((num = conf_parse_number(v)) < 0 || num > 1000000)
                goto invalid;
            s->max_fails = (int)num;
        } else if (param(p, "fail_timeout", &v)) {
            what = UPS_PARAM_FAIL_TIMEOUT;
            if ((num = conf_parse_sec(v)) < 0)
                goto invalid;
            s->fail_timeout = num * 1000;
        } else if (param(p, "max_conns", &v)) {
            what = UPS_PARAM_MAX_CONNS;
            if ((num = conf_parse_number(v)) < 0 || num > 1000000000)
                goto invalid;
            s->max_conns = (int)num;
        } else if (px_str_eq_lit(p, "backup")) {
            what = UPS_PARAM_BACKUP;
            s->backup = 1;
        } else if (px_str_eq_lit(p, "down")) {
            what = UPS_PARAM_DOWN;
            s->down = 1;
        } else if (px_str_eq_lit(p, "send-proxy") || px_str_eq_lit(p, "send-proxy-v2")) {
            /* HAProxy's spelling: each new connection to the server starts with a PROXY
             * protocol header (v1 or v2) carrying the client's addresses; any method */
            s->send_proxy = p.len == 10 ? 1 : 2;
            continue;
        } else {
            goto invalid;
        }
        if (!(allowed & what))
            return px_psprintf(cf->pool, "balancing method does not support parameter \"%s\"",
                               p.data);
        continue;
    invalid:
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", p.data);
    }
    g->has_backup |= s->backup;

    px_url_t u;
    char err[512];
    px_str_t addr = n->args[0].value;
    int rc = px_addr_parse_upstream(&u, addr, 80, 0, err, sizeof(err));
    if (rc != PX_OK) {
        px_url_free(&u);
        return px_pstrdup(cf->pool, err, strlen(err));
    }
    s->server = addr;
    s->naddrs = u.naddrs;
    s->no_port = u.no_port && u.family != AF_UNIX;
    s->addrs = px_palloc(cf->pool, u.naddrs * sizeof(px_addr_t));
    if (s->addrs == NULL) {
        px_url_free(&u);
        return CONF_ERROR;
    }
    memcpy(s->addrs, u.addrs, u.naddrs * sizeof(px_addr_t));
    px_url_free(&u);
    return NULL;
}

static const char *set_method(conf_ctx_t *cf, ups_method_t method)
{
    ups_group_conf_t *g = current(cf);
    if (g->method != UPS_ROUND_ROBIN)
        conf_log(cf, PX_LOG_WARN, 0, "load balancing method redefined");
    g->method = method;
    return NULL;
}

static const char *set_least_conn(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                  void *conf)
{
    (void)n;
    (void)d;
    (void)conf;
    return set_method(cf, UPS_LEAST_CONN);
}

static const char *set_ip_hash(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                               void *conf)
{
    (void)n;
    (void)d;
    (void)conf;
    return set_method(cf, UPS_IP_HASH);
}

/* hash KEY [consistent] */
static const char *set_hash(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                            void *conf)
{
    (void)d;
    (void)conf;
    ups_group_conf_t *g = current(cf);
    if (n->nargs == 2) {
        if (!px_str_eq_lit(n->args[1].value, "consistent"))
            return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[1].value.data);
        g->hash_key = n->args[0].value;
        return set_method(cf, UPS_HASH_CONSISTENT);
    }
    g->hash_key = n->args[0].value;
    return set_method(cf, UPS_HASH);
}

/* random [two [least_conn]] */
static const char *set_random(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    (void)conf;
    int two = 0;
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t a = n->args[i].value;
        if (i == 0 && px_str_eq_lit(a, "two"))
            two = 1;
        else if (i == 1 && px_str_eq_lit(a, "least_conn"))
            continue;
        else
            return px_psprintf(cf->pool, "invalid parameter \"%s\"", a.data);
    }
    return set_method(cf, two ? UPS_RANDOM_TWO : UPS_RANDOM);
}

static const char *set_keepalive(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                 void *conf)
{
    (void)d;
    (void)conf;
    ups_group_conf_t *g = current(cf);
    if (g->keepalive != -1)
        return "\"keepalive\" directive is duplicate";
    /* current nginx: 0 turns the pool off */
    int64_t v = conf_parse_number(n->args[0].value);
    if (v < 0 || v > 1000000)
        return px_psprintf(cf->pool, "invalid value \"%s\" in \"keepalive\" directive",
                           n->args[0].value.data);
    g->keepalive = (int)v;
    return NULL;
}

/* keepalive_requests, keepalive_time, keepalive_timeout: the standard setters on the group */
static const char *set_group_value(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                   void *conf)
{
    (void)conf;
    if (d->offset == offsetof(ups_group_conf_t, keepalive_requests))
        return conf_set_num(cf, n, d, current(cf));
    return conf_set_msec(cf, n, d, current(cf));
}

/* zone NAME [SIZE]: proxyd always keeps peer state in shared memory, sized from the server
 * list; the size is checked as nginx checks it */
static const char *set_zone(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                            void *conf)
{
    (void)d;
    (void)conf;
    ups_group_conf_t *g = current(cf);
    px_str_t name = n->args[0].value;
    if (name.len == 0)
        return px_psprintf(cf->pool, "invalid zone name \"%s\"", name.data);
    if (n->nargs == 2) {
        int64_t size = conf_parse_size(n->args[1].value);
        if (size < 0)
            return px_psprintf(cf->pool, "invalid zone size \"%s\"", n->args[1].value.data);
        if (size < 8 * 4096)
            return px_psprintf(cf->pool, "zone \"%s\" is too small", name.data);
    }
    g->zone = name;
    return NULL;
}

static const conf_directive_t block_directives[];

static const char *set_upstream(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                void *conf)
{
    (void)d;
    (void)conf;
    px_str_t name = n->args[0].value;
    if (ups_group_find(cf, name))
        return px_psprintf(cf->pool, "duplicate upstream \"%s\"", name.data);
    ups_group_conf_t *g = px_pcalloc(cf->pool, sizeof(*g));
    ups_group_conf_t **slot = px_array_push(ups_groups(cf));
    if (g == NULL || slot == NULL ||
        px_array_init(&g->servers, cf->pool, 4, sizeof(ups_server_conf_t)) != PX_OK)
        return CONF_ERROR;
    *slot = g;
    g->name = name;
    g->file = n->file;
    g->line = n->line;
    g->method = UPS_ROUND_ROBIN;
    g->keepalive = -1;
    g->keepalive_requests = -1;
    g->keepalive_time = -1;
    g->keepalive_timeout = -1;
    g->stream = in_stream(cf);

    void *saved = cf->block_data;
    cf->block_data = g;
    int rc = conf_apply_block(cf, n, g->stream ? CONF_STREAM_UPS : CONF_UPS);
    cf->block_data = saved;
    if (rc != PX_OK)
        return CONF_ERROR;
    if (g->servers.nelts == 0) {
        conf_node_t end = *n;
        end.line = n->end_line;
        const conf_node_t *was = cf->node;
        cf->node = &end;
        conf_log(cf, PX_LOG_EMERG, 0, "no servers are inside upstream");
        cf->node = was;
        return CONF_ERROR;
    }
    ups_server_conf_t *s = g->servers.elts;
    size_t primary = 0;
    for (size_t i = 0; i < g->servers.nelts; i++)
        primary += !s[i].backup;
    if (primary == 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "no servers in upstream \"%s\" in %s:%u", name.data,
                     g->file, g->line);
        return CONF_ERROR;
    }
    return NULL;
}

#define UPS_OFF CONF_HTTP_MAIN_CONF, 0
#define ANY_UPS (CONF_UPS | CONF_STREAM_UPS)

static const conf_directive_t block_directives[] = {
    {"upstream", CONF_HTTP | CONF_STREAM, CONF_BLOCK | CONF_TAKE1, set_upstream, CONF_CORE_CONF, 0, NULL},
    {"server", ANY_UPS, CONF_1MORE, set_server, UPS_OFF, NULL},
    {"least_conn", ANY_UPS, CONF_NOARGS, set_least_conn, UPS_OFF, NULL},
    {"ip_hash", CONF_UPS, CONF_NOARGS, set_ip_hash, UPS_OFF, NULL},
    {"hash", ANY_UPS, CONF_TAKE12, set_hash, UPS_OFF, NULL},
    {"random", ANY_UPS, CONF_NOARGS | CONF_TAKE12, set_random, UPS_OFF, NULL},
    {"keepalive", CONF_UPS, CONF_TAKE1, set_keepalive, UPS_OFF, NULL},
    {"keepalive_requests", CONF_UPS, CONF_TAKE1, set_group_value, CONF_HTTP_MAIN_CONF,
     offsetof(ups_group_conf_t, keepalive_requests), NULL},
    {"keepalive_time", CONF_UPS, CONF_TAKE1, set_group_value, CONF_HTTP_MAIN_CONF,
     offsetof(ups_group_conf_t, keepalive_time), NULL},
    {"keepalive_timeout", CONF_UPS, CONF_TAKE1, set_group_value, CONF_HTTP_MAIN_CONF,
     offsetof(ups_group_conf_t, keepalive_timeout), NULL},
    {"zone", ANY_UPS, CONF_TAKE12, set_zone, UPS_OFF, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

/* At the end of http{}: every upstream{} becomes a group ready for requests (its errors
 * reported even if nothing proxies to it, as nginx does). */
static const char *init_main_conf(conf_ctx_t *cf, void *conf)
{
    ups_main_conf_t *m = conf;
    ups_group_conf_t **g = m->groups.elts;
    for (size_t i = 0; i < m->groups.nelts; i++) {
        if (!g[i]->implicit && ups_upstream_of(cf, g[i]) == NULL)
            return CONF_ERROR;
    }
    return NULL;
}

conf_module_t ups_http_module = {
    .name = "upstream",
    .directives = block_directives,
    .create_core_conf = create_core_conf,
    .create_main_conf = create_main_conf,
    .init_main_conf = init_main_conf,
};
