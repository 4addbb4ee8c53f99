/* listen parsing, grouping into sockets, and per-connection address lookup. */
#include "http/http_listen.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "http/http_server_name.h"

void http_init_connection(px_conn_t *c);

static const char *param_value(const px_str_t *arg, const char *key)
{
    size_t n = strlen(key);
    if (arg->len > n && memcmp(arg->data, key, n) == 0)
        return arg->data + n;
    return NULL;
}

static const char *parse_keepalive(conf_ctx_t *cf, http_listen_t *l, const char *v)
{
    if (strcmp(v, "on") == 0) {
        l->so_keepalive = 1;
        return NULL;
    }
    if (strcmp(v, "off") == 0) {
        l->so_keepalive = 2;
        return NULL;
    }
    /* keepidle:keepintvl:keepcnt, each part optional */
    int vals[3] = {0, 0, 0};
    const char *p = v;
    for (int i = 0; i < 3; i++) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len) {
            int64_t t = i < 2 ? conf_parse_sec(px_str_make(p, len)) : conf_parse_number(px_str_make(p, len));
            if (t <= 0 || t > 32767)
                return px_psprintf(cf->pool, "invalid so_keepalive value: \"so_keepalive=%s\"", v);
            vals[i] = (int)t;
        }
        if (end == NULL) {
            if (i < 2 && i != 2 && strchr(v, ':') == NULL)
                return px_psprintf(cf->pool, "invalid so_keepalive value: \"so_keepalive=%s\"", v);
            break;
        }
        p = end + 1;
    }
    l->so_keepalive = 1;
    l->keepidle = vals[0];
    l->keepintvl = vals[1];
    l->keepcnt = vals[2];
    return NULL;
}

const char *http_listen_parse(conf_ctx_t *cf, http_core_srv_conf_t *cscf, const conf_node_t *n)
{
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    px_url_t u;
    char err[512];
    if (px_addr_parse_listen(&u, n->args[0].value, err, sizeof(err)) != PX_OK) {
        px_url_free(&u);
        return px_pstrdup(cf->pool, err, strlen(err));
    }
    http_listen_t proto;
    memset(&proto, 0, sizeof(proto));
    proto.srv = cscf;
    proto.backlog = -1;
    proto.rcvbuf = proto.sndbuf = -1;
    proto.ipv6only = -1;
    proto.wildcard = u.wildcard;
    proto.file = n->file;
    proto.line = n->line;
    const char *rv = NULL;
    for (size_t i = 1; i < n->nargs && rv == NULL; i++) {
        const px_str_t *a = &n->args[i].value;
        const char *v;
        if (px_str_eq_lit(*a, "default_server") || px_str_eq_lit(*a, "default")) {
            proto.default_server = 1;
        } else if (px_str_eq_lit(*a, "bind")) {
            proto.bind = 1;
        } else if (px_str_eq_lit(*a, "reuseport")) {
            proto.reuseport = proto.bind = proto.has_options = 1;
        } else if (px_str_eq_lit(*a, "deferred")) {
            proto.deferred = proto.bind = proto.has_options = 1;
        } else if ((v = param_value(a, "backlog="))) {
            int64_t b = conf_parse_number(px_str_make(v, strlen(v)));
            if (b <= 0 || b > 65535)
                rv = px_psprintf(cf->pool, "invalid backlog \"%s\"", v);
            proto.backlog = (int)b;
            proto.bind = proto.has_options = 1;
        } else if ((v = param_value(a, "rcvbuf=")) || (v = param_value(a, "sndbuf="))) {
            int64_t b = conf_parse_size(px_str_make(v, strlen(v)));
            int is_rcv = a->data[0] == 'r';
            if (b <= 0 || b > 0x7fffffff)
                rv = px_psprintf(cf->pool, "invalid %s \"%s\"", is_rcv ? "rcvbuf" : "sndbuf", v);
            if (is_rcv)
                proto.rcvbuf = (int)b;
            else
                proto.sndbuf = (int)b;
            proto.bind = proto.has_options = 1;
        } else if ((v = param_value(a, "ipv6only="))) {
            if (strcmp(v, "on") == 0)
                proto.ipv6only = 1;
            else if (strcmp(v, "off") == 0)
                proto.ipv6only = 0;
            else
                rv = px_psprintf(cf->pool, "invalid ipv6only flags \"%s\"", v);
            if (u.family != AF_INET6)
                rv = px_psprintf(cf->pool, "ipv6only is not supported on addr \"%s\", ignored",
                                 n->args[0].value.data);
            proto.bind = proto.has_options = 1;
        } else if ((v = param_value(a, "so_keepalive="))) {
            rv = parse_keepalive(cf, &proto, v);
            proto.bind = proto.has_options = 1;
        } else if (px_str_eq_lit(*a, "ssl")) {
            proto.ssl = 1;
        } else if (px_str_eq_lit(*a, "http2")) {
            conf_log(cf, PX_LOG_WARN, 0,
                     "the \"listen ... http2\" directive is deprecated, use the \"http2\" directive instead");
            proto.http2 = 1;
        } else if (px_str_eq_lit(*a, "proxy_protocol")) {
            proto.proxy_protocol = 1;
        } else if (px_str_eq_lit(*a, "quic") ||
                   px_str_eq_lit(*a, "spdy")) {
            rv = px_psprintf(cf->pool, "the \"%s\" parameter of \"listen\" is not supported yet",
                             a->data);
        } else {
            rv = px_psprintf(cf->pool, "invalid parameter \"%s\"", a->data);
        }
    }
    for (size_t i = 0; rv == NULL && i < u.naddrs; i++) {
        http_listen_t *l = px_array_push(&cmcf->ports);
        if (l == NULL) {
            rv = CONF_ERROR;
            break;
        }
        *l = proto;
        l->addr = u.addrs[i];
        /* Two listens of one server on the same address: nginx rejects the second. */
        http_listen_t *all = cmcf->ports.elts;
        for (size_t j = 0; j + 1 < cmcf->ports.nelts; j++) {
            if (all[j].srv == cscf &&
                px_addr_equal((struct sockaddr *)&all[j].addr.sa, all[j].addr.len,
                              (struct sockaddr *)&l->addr.sa, l->addr.len)) {
                rv = px_psprintf(cf->pool, "a duplicate listen %s", l->addr.text);
                break;
            }
        }
    }
    px_url_free(&u);
    cscf->listen_seen = 1;
    return rv;
}

const char *http_listen_default(conf_ctx_t *cf, http_core_srv_conf_t *cscf)
{
    conf_node_t n;
    conf_arg_t arg;
    memset(&n, 0, sizeof(n));
    n.name = PX_STR("listen");
    arg.value = geteuid() == 0 ? PX_STR("*:80") : PX_STR("*:8000");
    arg.quoted = 0;
    n.args = &arg;
    n.nargs = 1;
    n.file = cscf->file;
    n.line = cscf->line;
    return http_listen_parse(cf, cscf, &n);
}

static uint16_t port_of(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static int same_port(const http_listen_t *a, const http_listen_t *b)
{
    if (a->addr.sa.ss_family != b->addr.sa.ss_family)
        return 0;
    if (a->addr.sa.ss_family == AF_UNIX)
        return px_addr_equal((struct sockaddr *)&a->addr.sa, a->addr.len,
                             (struct sockaddr *)&b->addr.sa, b->addr.len);
    return port_of(&a->addr.sa) == port_of(&b->addr.sa);
}

static int same_addr(const http_listen_t *a, const http_listen_t *b)
{
    return px_addr_equal((struct sockaddr *)&a->addr.sa, a->addr.len,
                         (struct sockaddr *)&b->addr.sa, b->addr.len);
}

static void log_at(conf_ctx_t *cf, const http_listen_t *l, const char *msg)
{
    px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", msg, l->file, l->line);
    cf->warned = 1;
}

static void free_names(void *set)
{
    http_server_names_free(set);
}

/* Builds the server table of one address from the listens naming it. */
static http_addr_conf_t *build_addr(conf_ctx_t *cf, http_listen_t *all, size_t n, size_t first,
                                    unsigned char *done)
{
    http_addr_conf_t *ac = px_pcalloc(cf->pool, sizeof(*ac));
    http_server_names_t *names = http_server_names_create();
    if (names == NULL)
        return NULL;
    px_pool_cleanup_add(cf->pool, free_names, names);
    const http_listen_t *opts = NULL;
    px_array_t members;
    px_array_init(&members, cf->pool, 4, sizeof(http_listen_t *));
    for (size_t j = first; j < n; j++) {
        if (done[j] || !same_addr(&all[first], &all[j]))
            continue;
        done[j] = 1;
        http_listen_t *l = &all[j];
        if (l->has_options) {
            if (opts) {
                char msg[256];
                snprintf(msg, sizeof(msg), "duplicate listen options for %s", l->addr.text);
                log_at(cf, l, msg);
                return NULL;
            }
            opts = l;
        }
        if (l->default_server) {
            if (ac->default_server && ac->default_server != l->srv && ac->default_explicit) {
                char msg[256];
                snprintf(msg, sizeof(msg), "a duplicate default server for %s", l->addr.text);
                log_at(cf, l, msg);
                return NULL;
            }
            ac->default_server = l->srv;
            ac->default_explicit = 1;
        } else if (ac->default_server == NULL) {
            ac->default_server = l->srv;
        }
        ac->ssl |= l->ssl;
        ac->http2 |= l->http2;
        ac->proxy_protocol |= l->proxy_protocol;
        *(http_listen_t **)px_array_push(&members) = l;
    }
    /* nginx builds a name table only when there is a choice to make: several servers on
     * the address, or a default server with a regex name (whose captures are wanted). */
    http_listen_t **mem = members.elts;
    int needed = 0;
    for (size_t j = 0; j < members.nelts; j++)
        needed |= mem[j]->srv != ac->default_server;
    http_server_name_t *dsn = ac->default_server->names.elts;
    for (size_t k = 0; k < ac->default_server->names.nelts; k++)
        needed |= dsn[k].kind == HTTP_SERVER_NAME_REGEX;
    for (size_t j = 0; needed && j < members.nelts; j++) {
        http_listen_t *l = mem[j];
        http_server_name_t *sn = l->srv->names.elts;
        for (size_t k = 0; k < l->srv->names.nelts; k++) {
            char err[512];
            int rc = http_server_names_add(names, &sn[k], l->srv,
                                           px_str_make(l->addr.text, strlen(l->addr.text)), err,
                                           sizeof(err));
            if (rc == PX_ERROR) {
                px_log_error(PX_LOG_EMERG, NULL, 0, "%s", err);
                return NULL;
            }
            if (rc == PX_DECLINED)
                px_log_error(PX_LOG_WARN, NULL, 0, "%s", err);
        }
    }
    ac->names = needed ? names : NULL;
    memcpy(&ac->sa, &all[first].addr.sa, all[first].addr.len);
    ac->salen = all[first].addr.len;
    ac->opts = opts;
    return ac;
}

int http_listen_build(conf_ctx_t *cf, http_core_main_conf_t *cmcf)
{
    http_listen_t *all = cmcf->ports.elts;
    size_t n = cmcf->ports.nelts;
    unsigned char *done = px_pcalloc(cf->pool, n + 1);
    unsigned char *grouped = px_pcalloc(cf->pool, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (grouped[i])
            continue;
        /* All listens on this port: a wildcard among them (without "bind" on the others)
         * means one socket serves them all. */
        int wildcard = -1;
        for (size_t j = i; j < n; j++) {
            if (same_port(&all[i], &all[j]) && all[j].wildcard)
                wildcard = (int)j;
        }
        for (size_t j = i; j < n; j++) {
            if (grouped[j] || !same_port(&all[i], &all[j]))
                continue;
            grouped[j] = 1;
        }
        /* Sockets: the wildcard one (serving all non-bind addresses), and each bind address. */
        px_array_t socks;
        px_array_init(&socks, cf->pool, 4, sizeof(size_t));
        for (size_t j = i; j < n; j++) {
            if (!same_port(&all[i], &all[j]) || done[j])
                continue;
            int own = wildcard < 0 || all[j].bind || (int)j == wildcard ||
                      (all[j].wildcard && same_addr(&all[j], &all[wildcard]));
            if (!own)
                continue;
            size_t *slot = px_array_push(&socks);
            *slot = j;
            /* mark this socket's address now so other listens on it join its table */
            http_addr_conf_t *ac = build_addr(cf, all, n, j, done);
            if (ac == NULL)
                return PX_ERROR;
            http_port_t *port = px_pcalloc(cf->pool, sizeof(*port));
            px_array_t addrs;
            px_array_init(&addrs, cf->pool, 4, sizeof(http_addr_conf_t *));
            *(http_addr_conf_t **)px_array_push(&addrs) = ac;
            if (all[j].wildcard) {
                /* Specific addresses without bind are served through this socket. */
                for (size_t k = i; k < n; k++) {
                    if (done[k] || !same_port(&all[j], &all[k]) || all[k].bind ||
                        all[k].wildcard)
                        continue;
                    http_addr_conf_t *sac = build_addr(cf, all, n, k, done);
                    if (sac == NULL)
                        return PX_ERROR;
                    *(http_addr_conf_t **)px_array_push(&addrs) = sac;
                }
            }
            port->naddrs = addrs.nelts;
            port->addrs = addrs.elts;
            const http_listen_t *o = ac->opts ? ac->opts : &all[j];
            px_listening_t *ls = px_cycle_add_listening(cf->cycle, (struct sockaddr *)&all[j].addr.sa,
                                                        all[j].addr.len, all[j].addr.text);
            if (ls == NULL)
                return PX_ERROR;
            if (ls->servers) {
                char msg[256];
                snprintf(msg, sizeof(msg), "a duplicate listen %s", all[j].addr.text);
                log_at(cf, &all[j], msg);
                return PX_ERROR;
            }
            ls->servers = port;
            ls->handler = http_init_connection;
            if (o->backlog > 0)
                ls->backlog = o->backlog;
            ls->rcvbuf = o->rcvbuf;
            ls->sndbuf = o->sndbuf;
            ls->ipv6only = o->ipv6only;
            ls->so_keepalive = o->so_keepalive;
            ls->keepidle = o->keepidle;
            ls->keepintvl = o->keepintvl;
            ls->keepcnt = o->keepcnt;
            ls->reuseport = o->reuseport;
            ls->deferred = o->deferred;
        }
    }
    return PX_OK;
}

http_addr_conf_t *http_listen_find_addr(px_conn_t *c)
{
    http_port_t *port = c->listening->servers;
    if (port->naddrs == 1)
        return port->addrs[0];
    socklen_t len;
    const struct sockaddr *local = px_conn_local(c, &len);
    if (local == NULL)
        return port->addrs[0];
    for (size_t i = 1; i < port->naddrs; i++) {
        if (px_addr_equal((struct sockaddr *)&port->addrs[i]->sa, port->addrs[i]->salen, local,
                          len))
            return port->addrs[i];
    }
    return port->addrs[0];
}
