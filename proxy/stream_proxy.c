/* The stream {} block: TCP proxying as nginx's stream module does it. A server listens,
 * optionally reads a PROXY protocol header, picks a peer of its proxy_pass group with the
 * same balancers and passive health as http (upstream/), connects (proxy_next_upstream on a
 * failed connect), optionally sends a PROXY protocol header, then relays bytes both ways
 * through two proxy_buffer_size buffers: one side's end of data is passed on as a
 * half-close while the other direction keeps flowing; proxy_timeout bounds the silence.
 * A session ends with an access_log line in its server's log_format. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf_value.h"
#include "core/px_addr.h"
#include "core/px_log.h"
#include "core/px_proxy_protocol.h"
#include "core/px_time.h"
#include "upstream/ups_connect.h"
#include "upstream/ups_upstream.h"

#define STREAM_SRV (CONF_STREAM | CONF_STREAM_SRV)

/* ---- configuration ---- */

enum {
    V_LITERAL,
    V_REMOTE_ADDR,
    V_REMOTE_PORT,
    V_SERVER_ADDR,
    V_SERVER_PORT,
    V_PROTOCOL,
    V_BYTES_SENT,
    V_BYTES_RECEIVED,
    V_SESSION_TIME,
    V_UPSTREAM_ADDR,
    V_UPSTREAM_BYTES_SENT,
    V_UPSTREAM_BYTES_RECEIVED,
    V_UPSTREAM_CONNECT_TIME,
    V_STATUS,
    V_TIME_LOCAL,
    V_TIME_ISO8601,
    V_MSEC,
    V_CONNECTION,
    V_PID,
    V_HOSTNAME,
    V_PP_ADDR,
    V_PP_PORT,
    V_PP_SERVER_ADDR,
    V_PP_SERVER_PORT,
    V_REALIP_ADDR,
    V_REALIP_PORT,
};

static const struct {
    const char *name;
    int id;
} var_names[] = {
    {"remote_addr", V_REMOTE_ADDR},
    {"remote_port", V_REMOTE_PORT},
    {"server_addr", V_SERVER_ADDR},
    {"server_port", V_SERVER_PORT},
    {"protocol", V_PROTOCOL},
    {"bytes_sent", V_BYTES_SENT},
    {"bytes_received", V_BYTES_RECEIVED},
    {"session_time", V_SESSION_TIME},
    {"upstream_addr", V_UPSTREAM_ADDR},
    {"upstream_bytes_sent", V_UPSTREAM_BYTES_SENT},
    {"upstream_bytes_received", V_UPSTREAM_BYTES_RECEIVED},
    {"upstream_connect_time", V_UPSTREAM_CONNECT_TIME},
    {"status", V_STATUS},
    {"time_local", V_TIME_LOCAL},
    {"time_iso8601", V_TIME_ISO8601},
    {"msec", V_MSEC},
    {"connection", V_CONNECTION},
    {"pid", V_PID},
    {"hostname", V_HOSTNAME},
    {"proxy_protocol_addr", V_PP_ADDR},
    {"proxy_protocol_port", V_PP_PORT},
    {"proxy_protocol_server_addr", V_PP_SERVER_ADDR},
    {"proxy_protocol_server_port", V_PP_SERVER_PORT},
    {"realip_remote_addr", V_REALIP_ADDR},
    {"realip_remote_port", V_REALIP_PORT},
};

/* a value with $variables: literal pieces and variables, in order */
typedef struct {
    int var;
    px_str_t text;
} fmt_part_t;

typedef struct {
    fmt_part_t *parts;
    size_t nparts;
} stream_fmt_t;

typedef struct {
    px_str_t name;
    stream_fmt_t fmt;
} log_format_t;

typedef struct {
    char *path;
    stream_fmt_t *fmt;
    int fd;
} stream_log_t;

typedef struct stream_srv {
    const char *file;
    unsigned line;
    int listens;
    px_str_t pass; /* proxy_pass as written */
    const char *pass_file;
    unsigned pass_line;
    ups_upstream_t *ups;
    stream_fmt_t *hash_key; /* of the group's `hash` */
    int64_t connect_timeout, timeout, next_upstream_timeout, pp_timeout;
    int next_upstream, next_upstream_tries, pp_send, pp_version, half_close;
    size_t buffer_size;
    px_array_t *realip_from; /* set_real_ip_from: px_cidr_t; NULL: none at this level */
    px_array_t *access;      /* allow / deny: access_rule_t in order; NULL: none at this level */
    px_array_t *logs; /* stream_log_t*; empty: access_log off; NULL: not set here */
} stream_srv_t;

typedef struct {
    stream_srv_t *srv;
    unsigned proxy_protocol : 1;
} stream_listen_t;

typedef struct {
    px_cidr_t cidr;
    int deny;
} access_rule_t;

typedef struct {
    int seen;
    stream_srv_t defaults; /* the stream{} level's settings, inherited by every server */
    px_array_t servers;    /* stream_srv_t* */
    px_array_t formats;    /* log_format_t */
    px_array_t logs;       /* stream_log_t*: opened by each worker */
} stream_main_t;

extern conf_module_t stream_proxy_module;

static void stream_init_connection(px_conn_t *c);

static stream_main_t *main_of(conf_ctx_t *cf)
{
    return cf->cycle->conf[stream_proxy_module.index];
}

static void srv_unset(stream_srv_t *s)
{
    s->connect_timeout = s->timeout = s->next_upstream_timeout = s->pp_timeout = CONF_UNSET_MSEC;
    s->next_upstream = s->next_upstream_tries = s->pp_send = s->pp_version = s->half_close = CONF_UNSET;
    s->buffer_size = CONF_UNSET_SIZE;
}

/* The level a directive of both contexts sets: the server being read, or stream{}'s own. */
static stream_srv_t *level(conf_ctx_t *cf)
{
    return cf->type == CONF_STREAM_SRV ? cf->block_data : &main_of(cf)->defaults;
}

static const char *compile(conf_ctx_t *cf, px_str_t src, stream_fmt_t *out)
{
    px_array_t parts;
    if (px_array_init(&parts, cf->pool, 8, sizeof(fmt_part_t)) != PX_OK)
        return CONF_ERROR;
    size_t i = 0;
    while (i < src.len) {
        size_t start = i;
        if (src.data[i] != '$') {
            while (i < src.len && src.data[i] != '$')
                i++;
            fmt_part_t *p = px_array_push(&parts);
            *p = (fmt_part_t){V_LITERAL, px_str_make(src.data + start, i - start)};
            continue;
        }
        i++;
        int braces = i < src.len && src.data[i] == '{';
        if (braces)
            i++;
        size_t name_at = i;
        while (i < src.len && ((src.data[i] >= 'a' && src.data[i] <= 'z') || (src.data[i] >= '0' && src.data[i] <= '9') ||
                               src.data[i] == '_' || (src.data[i] >= 'A' && src.data[i] <= 'Z')))
            i++;
        px_str_t name = px_str_make(src.data + name_at, i - name_at);
        if (braces) {
            if (i >= src.len || src.data[i] != '}')
                return px_psprintf(cf->pool, "the closing bracket in \"%.*s\" variable is missing", (int)name.len,
                                   name.data);
            i++;
        }
        if (name.len == 0)
            return px_psprintf(cf->pool, "invalid variable name in \"%s\"", src.data);
        int id = -1;
        for (size_t k = 0; k < sizeof(var_names) / sizeof(var_names[0]); k++) {
            if (px_str_eq_lit(name, var_names[k].name))
                id = var_names[k].id;
        }
        if (id < 0) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "unknown \"%.*s\" variable", (int)name.len, name.data);
            return CONF_ERROR;
        }
        fmt_part_t *p = px_array_push(&parts);
        *p = (fmt_part_t){id, PX_NULL_STR};
    }
    out->parts = parts.elts;
    out->nparts = parts.nelts;
    return NULL;
}

static const char *set_time(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)conf;
    return conf_set_msec(cf, n, d, level(cf));
}

static const char *set_flag(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)conf;
    return conf_set_flag(cf, n, d, level(cf));
}

static const char *set_num(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)conf;
    return conf_set_num(cf, n, d, level(cf));
}

static const char *set_size(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)conf;
    return conf_set_size(cf, n, d, level(cf));
}

static const char *set_pp_version(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_srv_t *s = level(cf);
    if (s->pp_version != CONF_UNSET)
        return "\"proxy_protocol_version\" directive is duplicate";
    px_str_t v = n->args[0].value;
    if (!px_str_eq_lit(v, "1") && !px_str_eq_lit(v, "2"))
        return px_psprintf(cf->pool, "invalid value \"%s\" in \"%s\" directive, it must be \"1\" or \"2\"", v.data,
                           n->name.data);
    s->pp_version = v.data[0] - '0';
    return NULL;
}

static const char *set_log_format(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_main_t *m = main_of(cf);
    px_str_t name = n->args[0].value;
    log_format_t *f = m->formats.elts;
    for (size_t i = 0; i < m->formats.nelts; i++) {
        if (px_str_eq(f[i].name, name))
            return px_psprintf(cf->pool, "duplicate \"log_format\" name \"%s\"", name.data);
    }
    /* the arguments after the name are one format, as if written together */
    size_t len = 0;
    for (size_t i = 1; i < n->nargs; i++)
        len += n->args[i].value.len;
    char *text = px_palloc(cf->pool, len + 1);
    if (text == NULL)
        return CONF_ERROR;
    size_t at = 0;
    for (size_t i = 1; i < n->nargs; i++) {
        memcpy(text + at, n->args[i].value.data, n->args[i].value.len);
        at += n->args[i].value.len;
    }
    text[at] = '\0';
    log_format_t *nf = px_array_push(&m->formats);
    if (nf == NULL)
        return CONF_ERROR;
    nf->name = name;
    return compile(cf, px_str_make(text, at), &nf->fmt);
}

static const char *set_access_log(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_main_t *m = main_of(cf);
    stream_srv_t *s = level(cf);
    if (s->logs == NULL) {
        s->logs = px_palloc(cf->pool, sizeof(px_array_t));
        if (s->logs == NULL || px_array_init(s->logs, cf->pool, 2, sizeof(stream_log_t *)) != PX_OK)
            return CONF_ERROR;
    }
    if (px_str_eq_lit(n->args[0].value, "off")) {
        if (n->nargs > 1)
            return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[1].value.data);
        return NULL; /* none at this level: an empty list */
    }
    if (n->nargs < 2)
        return "log format is not specified"; /* stream has no predefined format */
    if (n->nargs > 2)
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[2].value.data);
    log_format_t *f = m->formats.elts, *found = NULL;
    for (size_t i = 0; i < m->formats.nelts; i++) {
        if (px_str_eq(f[i].name, n->args[1].value))
            found = &f[i];
    }
    if (found == NULL)
        return px_psprintf(cf->pool, "unknown log format \"%s\"", n->args[1].value.data);
    stream_log_t *log = px_pcalloc(cf->pool, sizeof(*log));
    stream_log_t **slot = px_array_push(&m->logs);
    if (log == NULL || slot == NULL)
        return CONF_ERROR;
    log->path = conf_full_path(cf, n->args[0].value);
    log->fmt = &found->fmt;
    log->fd = -1;
    *slot = log;
    stream_log_t **mine = px_array_push(s->logs);
    if (mine == NULL)
        return CONF_ERROR;
    *mine = log;
    return NULL;
}

/* set_real_ip_from (nginx's stream realip): a PROXY protocol header from such a peer makes
 * its source the session's client address */
static const char *set_real_ip_from(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_srv_t *s = level(cf);
    px_cidr_t cidr;
    char msg[256];
    int rc = px_cidr_parse(&cidr, n->args[0].value, msg, sizeof(msg));
    if (rc == PX_ERROR || px_str_eq_lit(n->args[0].value, "all"))
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[0].value.data);
    if (rc == PX_DONE)
        conf_log(cf, PX_LOG_WARN, 0, "%s", msg);
    if (s->realip_from == NULL) {
        s->realip_from = px_palloc(cf->pool, sizeof(px_array_t));
        if (s->realip_from == NULL || px_array_init(s->realip_from, cf->pool, 4, sizeof(px_cidr_t)) != PX_OK)
            return CONF_ERROR;
    }
    px_cidr_t *slot = px_array_push(s->realip_from);
    if (slot == NULL)
        return CONF_ERROR;
    *slot = cidr;
    return NULL;
}

/* allow / deny (nginx's stream access module): the first rule matching the client decides */
static const char *set_access(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_srv_t *s = level(cf);
    access_rule_t rule;
    char msg[256];
    int rc = px_cidr_parse(&rule.cidr, n->args[0].value, msg, sizeof(msg));
    if (rc == PX_ERROR)
        return px_psprintf(cf->pool, "invalid parameter \"%s\"", n->args[0].value.data);
    if (rc == PX_DONE)
        conf_log(cf, PX_LOG_WARN, 0, "%s", msg);
    rule.deny = n->name.data[0] == 'd';
    if (s->access == NULL) {
        s->access = px_palloc(cf->pool, sizeof(px_array_t));
        if (s->access == NULL || px_array_init(s->access, cf->pool, 4, sizeof(access_rule_t)) != PX_OK)
            return CONF_ERROR;
    }
    access_rule_t *slot = px_array_push(s->access);
    if (slot == NULL)
        return CONF_ERROR;
    *slot = rule;
    return NULL;
}

static const char *set_listen(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_srv_t *s = cf->block_data;
    px_url_t u;
    char err[256];
    if (px_addr_parse_listen(&u, n->args[0].value, err, sizeof(err)) != PX_OK) {
        px_url_free(&u);
        return px_pstrdup(cf->pool, err, strlen(err));
    }
    stream_listen_t opts = {s, 0};
    s->listens++;
    int backlog = -1, reuseport = 0;
    const char *rv = NULL;
    for (size_t i = 1; rv == NULL && i < n->nargs; i++) {
        px_str_t a = n->args[i].value;
        if (px_str_eq_lit(a, "proxy_protocol"))
            opts.proxy_protocol = 1;
        else if (px_str_eq_lit(a, "reuseport"))
            reuseport = 1;
        else if (px_str_eq_lit(a, "bind"))
            continue; /* every stream listen has a socket of its own */
        else if (a.len >= 8 && memcmp(a.data, "backlog=", 8) == 0) {
            backlog = (int)conf_parse_number(px_str_make(a.data + 8, a.len - 8));
            if (backlog == 0 || backlog < -1 || (backlog == -1 && a.len > 8) || a.len == 8)
                rv = px_psprintf(cf->pool, "invalid backlog \"%s\"", a.data);
        } else if (px_str_eq_lit(a, "ssl") || px_str_eq_lit(a, "udp"))
            rv = px_psprintf(cf->pool, "the \"%s\" parameter of \"listen\" is not supported yet", a.data);
        else
            rv = px_psprintf(cf->pool, "the invalid \"%s\" parameter", a.data);
    }
    for (size_t i = 0; rv == NULL && i < u.naddrs; i++) {
        px_addr_t *a = &u.addrs[i];
        px_listening_t *ls = px_cycle_add_listening(cf->cycle, (struct sockaddr *)&a->sa, a->len, a->text);
        if (ls == NULL) {
            rv = CONF_ERROR;
            break;
        }
        if (ls->servers) {
            rv = px_psprintf(cf->pool, "duplicate \"%s\" address and port pair", a->text);
            break;
        }
        stream_listen_t *l = px_palloc(cf->pool, sizeof(*l));
        if (l == NULL) {
            rv = CONF_ERROR;
            break;
        }
        *l = opts;
        ls->servers = l;
        ls->handler = stream_init_connection;
        ls->reuseport = (unsigned)reuseport;
        if (backlog > 0)
            ls->backlog = backlog;
    }
    px_url_free(&u);
    return rv;
}

static const char *set_proxy_pass(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_srv_t *s = cf->block_data;
    if (s->pass.data)
        return "\"proxy_pass\" directive is duplicate";
    s->pass = n->args[0].value;
    s->pass_file = n->file;
    s->pass_line = n->line;
    return NULL;
}

static const char *set_server(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    (void)conf;
    stream_main_t *m = main_of(cf);
    stream_srv_t *s = px_pcalloc(cf->pool, sizeof(*s));
    stream_srv_t **slot = px_array_push(&m->servers);
    if (s == NULL || slot == NULL)
        return CONF_ERROR;
    *slot = s;
    srv_unset(s);
    s->file = n->file;
    s->line = n->line;
    void *saved = cf->block_data;
    cf->block_data = s;
    int rc = conf_apply_block(cf, n, CONF_STREAM_SRV);
    cf->block_data = saved;
    if (rc != PX_OK)
        return CONF_ERROR;
    /* as nginx, naming the server's line */
    const char *why = s->pass.data == NULL ? "no handler for server" : s->listens == 0 ? "no \"listen\" is defined for server" : NULL;
    if (why) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", why, n->file, n->line);
        return CONF_ERROR;
    }
    return NULL;
}

/* proxy_pass: an upstream{} of the stream block, else an address (implicit group) */
static const char *bind_pass(conf_ctx_t *cf, stream_srv_t *s)
{
    ups_group_conf_t *g = ups_group_find(cf, s->pass);
    if (g == NULL) {
        /* nginx asks for the port before it looks the name up */
        px_url_t u;
        char err[256];
        int rc = px_addr_parse_upstream(&u, s->pass, 0, PX_URL_NO_RESOLVE, err, sizeof(err));
        if (rc == PX_OK && u.no_port && u.family != AF_UNIX) {
            px_url_free(&u);
            px_log_error(PX_LOG_EMERG, NULL, 0, "no port in upstream \"%s\" in %s:%u", s->pass.data, s->pass_file,
                         s->pass_line);
            return CONF_ERROR;
        }
        if (rc == PX_OK && u.family == AF_UNSPEC)
            rc = px_addr_resolve_upstream(&u, err, sizeof(err));
        if (rc != PX_OK) {
            px_url_free(&u);
            px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", err, s->pass_file, s->pass_line);
            return CONF_ERROR;
        }
        px_addr_t *addrs = px_palloc(cf->cycle->pool, u.naddrs * sizeof(px_addr_t));
        if (addrs == NULL) {
            px_url_free(&u);
            return CONF_ERROR;
        }
        memcpy(addrs, u.addrs, u.naddrs * sizeof(px_addr_t));
        size_t naddrs = u.naddrs;
        px_url_free(&u);
        g = ups_group_implicit(cf, s->pass, addrs, naddrs, s->pass_file, s->pass_line);
        if (g == NULL)
            return CONF_ERROR;
    }
    s->ups = ups_upstream_of(cf, g);
    if (s->ups == NULL)
        return CONF_ERROR;
    if (g->hash_key.len) {
        if (g->hash_key_compiled == NULL) {
            stream_fmt_t *f = px_pcalloc(cf->pool, sizeof(*f));
            const char *rv = f ? compile(cf, g->hash_key, f) : CONF_ERROR;
            if (rv)
                return rv;
            g->hash_key_compiled = f;
        }
        s->hash_key = g->hash_key_compiled;
    }
    return NULL;
}

static const char *finish_stream(conf_ctx_t *cf, stream_main_t *m)
{
    /* nginx checks the upstreams' addresses at the end of the block */
    px_array_t *all = ups_groups(cf);
    ups_group_conf_t **gs = all->elts;
    for (size_t i = 0; i < all->nelts; i++) {
        ups_server_conf_t *sv = gs[i]->servers.elts;
        for (size_t k = 0; k < gs[i]->servers.nelts; k++) {
            if (sv[k].no_port) {
                px_log_error(PX_LOG_EMERG, NULL, 0, "no port in upstream \"%s\" in %s:%u", sv[k].server.data,
                             sv[k].file, sv[k].line);
                return CONF_ERROR;
            }
        }
    }
    stream_srv_t *top = &m->defaults;
    stream_srv_t **srv = m->servers.elts;
    for (size_t i = 0; i < m->servers.nelts; i++) {
        stream_srv_t *s = srv[i];
#define MERGE_MSEC(f, def) s->f = s->f != CONF_UNSET_MSEC ? s->f : top->f != CONF_UNSET_MSEC ? top->f : (def)
#define MERGE_INT(f, def) s->f = s->f != CONF_UNSET ? s->f : top->f != CONF_UNSET ? top->f : (def)
        MERGE_MSEC(connect_timeout, 60000);
        MERGE_MSEC(timeout, 600000);
        MERGE_MSEC(next_upstream_timeout, 0);
        MERGE_MSEC(pp_timeout, 30000);
        MERGE_INT(next_upstream, 1);
        MERGE_INT(next_upstream_tries, 0);
        MERGE_INT(pp_send, 0);
        MERGE_INT(pp_version, 1);
        MERGE_INT(half_close, 0);
        if (s->realip_from == NULL)
            s->realip_from = top->realip_from;
        if (s->access == NULL)
            s->access = top->access;
#undef MERGE_MSEC
#undef MERGE_INT
        if (s->buffer_size == CONF_UNSET_SIZE)
            s->buffer_size = top->buffer_size != CONF_UNSET_SIZE ? top->buffer_size : 16384;
        if (s->logs == NULL)
            s->logs = top->logs;
        if (s->pass.data) {
            const char *rv = bind_pass(cf, s);
            if (rv)
                return rv;
        }
    }
    /* every upstream{} of the block becomes a group, used or not (its errors reported) */
    px_array_t *groups = ups_groups(cf);
    ups_group_conf_t **g = groups->elts;
    for (size_t i = 0; i < groups->nelts; i++) {
        if (ups_upstream_of(cf, g[i]) == NULL)
            return CONF_ERROR;
    }
    return NULL;
}

static const char *set_stream(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    stream_main_t *m = conf;
    if (m->seen)
        return "\"stream\" directive is duplicate";
    m->seen = 1;
    void *saved = cf->block_data;
    cf->block_data = NULL;
    int rc = conf_apply_block(cf, n, CONF_STREAM);
    cf->block_data = saved;
    if (rc != PX_OK)
        return CONF_ERROR;
    unsigned type = cf->type;
    cf->type = CONF_STREAM;
    const char *rv = finish_stream(cf, m);
    cf->type = type;
    return rv;
}

/* ---- logs: each worker opens the files (never under -t) ---- */

static stream_main_t *worker_main;

static int open_logs(px_cycle_t *cycle)
{
    stream_main_t *m = cycle->conf[stream_proxy_module.index];
    worker_main = m;
    stream_log_t **logs = m->logs.elts;
    for (size_t i = 0; i < m->logs.nelts; i++) {
        if (logs[i]->fd >= 0)
            close(logs[i]->fd);
        logs[i]->fd = open(logs[i]->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (logs[i]->fd < 0)
            px_log_error(PX_LOG_EMERG, NULL, errno, "open() \"%s\" failed", logs[i]->path);
    }
    return PX_OK;
}

static void reopen_logs(px_cycle_t *cycle)
{
    open_logs(cycle);
}

static void *create_core_conf(conf_ctx_t *cf)
{
    stream_main_t *m = px_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL || px_array_init(&m->servers, cf->pool, 4, sizeof(stream_srv_t *)) != PX_OK ||
        px_array_init(&m->formats, cf->pool, 4, sizeof(log_format_t)) != PX_OK ||
        px_array_init(&m->logs, cf->pool, 4, sizeof(stream_log_t *)) != PX_OK)
        return NULL;
    srv_unset(&m->defaults);
    px_worker_hooks_t *h = px_array_push(&cf->cycle->worker_hooks);
    if (h == NULL)
        return NULL;
    memset(h, 0, sizeof(*h));
    h->init_worker = open_logs;
    h->reopen_logs = reopen_logs;
    return m;
}

#define OFF(f) offsetof(stream_srv_t, f)

static const conf_directive_t stream_directives[] = {
    {"stream", CONF_MAIN, CONF_BLOCK | CONF_NOARGS, set_stream, CONF_CORE_CONF, 0, NULL},
    {"server", CONF_STREAM, CONF_BLOCK | CONF_NOARGS, set_server, CONF_CORE_CONF, 0, NULL},
    {"listen", CONF_STREAM_SRV, CONF_1MORE, set_listen, CONF_CORE_CONF, 0, NULL},
    {"proxy_pass", CONF_STREAM_SRV, CONF_TAKE1, set_proxy_pass, CONF_CORE_CONF, 0, NULL},
    {"proxy_connect_timeout", STREAM_SRV, CONF_TAKE1, set_time, CONF_CORE_CONF, OFF(connect_timeout), NULL},
    {"proxy_timeout", STREAM_SRV, CONF_TAKE1, set_time, CONF_CORE_CONF, OFF(timeout), NULL},
    {"proxy_next_upstream", STREAM_SRV, CONF_FLAG, set_flag, CONF_CORE_CONF, OFF(next_upstream), NULL},
    {"proxy_next_upstream_tries", STREAM_SRV, CONF_TAKE1, set_num, CONF_CORE_CONF, OFF(next_upstream_tries), NULL},
    {"proxy_next_upstream_timeout", STREAM_SRV, CONF_TAKE1, set_time, CONF_CORE_CONF, OFF(next_upstream_timeout),
     NULL},
    {"proxy_buffer_size", STREAM_SRV, CONF_TAKE1, set_size, CONF_CORE_CONF, OFF(buffer_size), NULL},
    {"proxy_protocol", STREAM_SRV, CONF_FLAG, set_flag, CONF_CORE_CONF, OFF(pp_send), NULL},
    {"proxy_protocol_version", STREAM_SRV, CONF_TAKE1, set_pp_version, CONF_CORE_CONF, 0, NULL},
    {"proxy_half_close", STREAM_SRV, CONF_FLAG, set_flag, CONF_CORE_CONF, OFF(half_close), NULL},
    {"allow", STREAM_SRV, CONF_TAKE1, set_access, CONF_CORE_CONF, 0, NULL},
    {"deny", STREAM_SRV, CONF_TAKE1, set_access, CONF_CORE_CONF, 0, NULL},
    {"set_real_ip_from", STREAM_SRV, CONF_TAKE1, set_real_ip_from, CONF_CORE_CONF, 0, NULL},
    {"proxy_protocol_timeout", STREAM_SRV, CONF_TAKE1, set_time, CONF_CORE_CONF, OFF(pp_timeout), NULL},
    {"access_log", STREAM_SRV, CONF_1MORE, set_access_log, CONF_CORE_CONF, 0, NULL},
    {"log_format", CONF_STREAM, CONF_2MORE, set_log_format, CONF_CORE_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL}};

conf_module_t stream_proxy_module = {
    .name = "stream_proxy",
    .directives = stream_directives,
    .create_core_conf = create_core_conf,
};

/* ---- sessions ---- */

typedef struct {
    px_conn_t *c, *up;
    stream_srv_t *srv;
    px_pool_t *pool;
    ups_ctx_t uctx;
    size_t peer;
    int picked, tries;
    px_addr_t addr; /* the peer being tried */
    px_pp_header_t *pp;
    struct sockaddr_storage real_peer; /* the connection's own peer, once realip replaced it */
    socklen_t real_peer_len;
    char *c2u, *u2c; /* the two directions' buffers */
    size_t c2u_pos, c2u_len, u2c_pos, u2c_len;
    unsigned client_eof : 1, upstream_eof : 1, c2u_shut : 1, u2c_shut : 1, connected : 1, named : 1;
    const char *ended_by; /* "client" or "upstream": whose end of data ended the session */
    uint64_t bytes_received, bytes_sent, up_sent, up_received;
    px_msec_t start, try_start, first_try;
    int status;
    char up_addrs[512];   /* $upstream_addr: every peer tried, ", "-separated */
    char up_connect[128]; /* $upstream_connect_time, likewise */
    size_t up_addrs_len, up_connect_len;
} session_t;

static void finalize(session_t *s, int status);
static void connect_next(session_t *s);

static size_t session_log_context(px_log_t *log, char *buf, size_t len)
{
    session_t *s = log->data;
    char client[PX_ADDR_TEXT_SIZE] = "", server[PX_ADDR_TEXT_SIZE] = "";
    px_addr_to_text((struct sockaddr *)&s->c->peer, s->c->peer_len, 0, client, sizeof(client));
    socklen_t sl;
    const struct sockaddr *sa = px_conn_local(s->c, &sl);
    if (sa)
        px_addr_to_text(sa, sl, 1, server, sizeof(server));
    int n = s->up || s->picked || s->connected || s->named
                ? snprintf(buf, len,
                           ", client: %s, server: %s, upstream: \"%s\", bytes from/to client:%llu/%llu, "
                           "bytes from/to upstream:%llu/%llu",
                           client, server, s->addr.text, (unsigned long long)s->bytes_received,
                           (unsigned long long)s->bytes_sent, (unsigned long long)s->up_received,
                           (unsigned long long)s->up_sent)
                : snprintf(buf, len, ", client: %s, server: %s", client, server);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* nginx's session lines (connected, disconnected) stand alone: no action, no context */
static void log_bare(session_t *s, const char *fmt, const char *a, const char *b)
{
    px_log_t bare = s->c->log;
    px_log_t *log = &bare;
    bare.handler = NULL;
    bare.data = NULL;
    bare.action = NULL;
    px_log_error(PX_LOG_INFO, log, 0, fmt, a, b);
}

static void append(char *buf, size_t cap, size_t *len, const char *text)
{
    int n = snprintf(buf + *len, cap - *len, "%s%s", *len ? ", " : "", text);
    if (n > 0)
        *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

/* ---- the access log line ---- */

static unsigned port_of(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static size_t var_text(session_t *s, int id, char *out, size_t cap)
{
    px_conn_t *c = s->c;
    socklen_t sl;
    const struct sockaddr *sa;
    const px_pp_header_t *pp = s->pp && !s->pp->local &&
                                       (s->pp->family == AF_INET || s->pp->family == AF_INET6)
                                   ? s->pp
                                   : NULL;
    switch (id) {
    case V_REMOTE_ADDR:
        return px_addr_to_text((struct sockaddr *)&c->peer, c->peer_len, 0, out, cap);
    case V_REMOTE_PORT:
        return (size_t)snprintf(out, cap, "%u", port_of((struct sockaddr *)&c->peer));
    case V_REALIP_ADDR:
        return s->real_peer_len ? px_addr_to_text((struct sockaddr *)&s->real_peer, s->real_peer_len, 0, out, cap)
                                : px_addr_to_text((struct sockaddr *)&c->peer, c->peer_len, 0, out, cap);
    case V_REALIP_PORT:
        return (size_t)snprintf(out, cap, "%u",
                                port_of((struct sockaddr *)(s->real_peer_len ? &s->real_peer : &c->peer)));
    case V_SERVER_ADDR:
        sa = px_conn_local(c, &sl);
        return sa ? px_addr_to_text(sa, sl, 0, out, cap) : 0;
    case V_SERVER_PORT:
        sa = px_conn_local(c, &sl);
        return sa ? (size_t)snprintf(out, cap, "%u", port_of(sa)) : 0;
    case V_PROTOCOL:
        return (size_t)snprintf(out, cap, "TCP");
    case V_BYTES_SENT:
        return (size_t)snprintf(out, cap, "%llu", (unsigned long long)s->bytes_sent);
    case V_BYTES_RECEIVED:
        return (size_t)snprintf(out, cap, "%llu", (unsigned long long)s->bytes_received);
    case V_SESSION_TIME: {
        px_msec_t t = px_current_msec - s->start;
        return (size_t)snprintf(out, cap, "%llu.%03llu", (unsigned long long)(t / 1000),
                                (unsigned long long)(t % 1000));
    }
    case V_UPSTREAM_ADDR:
        return (size_t)snprintf(out, cap, "%s", s->up_addrs_len ? s->up_addrs : "");
    case V_UPSTREAM_BYTES_SENT:
    case V_UPSTREAM_BYTES_RECEIVED:
        if (s->up_addrs_len == 0) /* no upstream was tried: no value */
            return 0;
        return (size_t)snprintf(out, cap, "%llu",
                                (unsigned long long)(id == V_UPSTREAM_BYTES_SENT ? s->up_sent : s->up_received));
    case V_UPSTREAM_CONNECT_TIME:
        return (size_t)snprintf(out, cap, "%s", s->up_connect_len ? s->up_connect : "");
    case V_STATUS:
        return (size_t)snprintf(out, cap, "%03d", s->status);
    case V_TIME_LOCAL:
        return (size_t)snprintf(out, cap, "%.*s", (int)px_time_http_local().len, px_time_http_local().data);
    case V_TIME_ISO8601:
        return (size_t)snprintf(out, cap, "%.*s", (int)px_time_iso8601().len, px_time_iso8601().data);
    case V_MSEC:
        return (size_t)snprintf(out, cap, "%lld.%03u", (long long)px_current_sec, px_current_msec_part);
    case V_CONNECTION:
        return (size_t)snprintf(out, cap, "%lu", c->number);
    case V_PID:
        return (size_t)snprintf(out, cap, "%d", (int)getpid());
    case V_HOSTNAME:
        return gethostname(out, cap) == 0 ? strnlen(out, cap) : 0;
    case V_PP_ADDR:
    case V_PP_SERVER_ADDR:
        if (pp == NULL)
            return 0;
        return px_addr_to_text((const struct sockaddr *)(id == V_PP_ADDR ? &pp->src : &pp->dst),
                               id == V_PP_ADDR ? pp->src_len : pp->dst_len, 0, out, cap);
    case V_PP_PORT:
    case V_PP_SERVER_PORT:
        if (pp == NULL)
            return 0;
        return (size_t)snprintf(out, cap, "%u",
                                port_of((const struct sockaddr *)(id == V_PP_PORT ? &pp->src : &pp->dst)));
    }
    return 0;
}

/* a format's value for the session: for log lines and hash keys */
/* dashes: an empty variable is written as "-", as nginx's access log does */
static size_t eval(session_t *s, const stream_fmt_t *f, char *out, size_t cap, int dashes)
{
    size_t len = 0;
    for (size_t i = 0; i < f->nparts && len < cap; i++) {
        const fmt_part_t *p = &f->parts[i];
        if (p->var == V_LITERAL) {
            size_t n = p->text.len < cap - len ? p->text.len : cap - len;
            memcpy(out + len, p->text.data, n);
            len += n;
        } else {
            size_t n = var_text(s, p->var, out + len, cap - len);
            if (n == 0 && dashes && len < cap)
                out[n++ + len] = '-';
            len += n < cap - len ? n : cap - len;
        }
    }
    return len;
}

static void log_session(session_t *s)
{
    px_array_t *logs = s->srv->logs;
    stream_log_t **l = logs ? logs->elts : NULL;
    for (size_t i = 0; l && i < logs->nelts; i++) {
        if (l[i]->fd < 0)
            continue;
        char line[4096];
        size_t n = eval(s, l[i]->fmt, line, sizeof(line) - 1, 1);
        line[n++] = '\n';
        if (write(l[i]->fd, line, n) < 0)
            px_log_error(PX_LOG_ALERT, &s->c->log, errno, "write() to \"%s\" failed", l[i]->path);
    }
}

/* ---- the relay ---- */

static void arm_timeout(session_t *s)
{
    px_timer_add(&s->c->read_timer, (px_msec_t)s->srv->timeout);
}

/* Moves what it can from one side to the other: returns 1 when something moved. */
static int pump(session_t *s, px_conn_t *from, px_conn_t *to, char *buf, size_t *pos, size_t *len, int from_client)
{
    size_t size = s->srv->buffer_size;
    int moved = 0;
    unsigned eof = from_client ? s->client_eof : s->upstream_eof;
    for (;;) {
        if (*len < size && !eof && from->readable) {
            ssize_t n = px_conn_recv(from, buf + *len, size - *len);
            if (n > 0) {
                *len += (size_t)n;
                if (from_client)
                    s->bytes_received += (uint64_t)n;
                else
                    s->up_received += (uint64_t)n;
                moved = 1;
            } else if (n == 0 || n == PX_ERROR) {
                eof = 1;
                if (n == PX_ERROR) {
                    /* nginx: a client's reset is info, an upstream's an error */
                    s->c->log.action = from_client ? "while proxying and reading from client"
                                                   : "while proxying and reading from upstream";
                    px_log_error(from_client ? PX_LOG_INFO : PX_LOG_ERR, &s->c->log, errno, "recv() failed");
                    s->c->log.action = "while proxying connection";
                } else if (!s->srv->half_close) {
                    s->ended_by = from_client ? "client" : "upstream";
                }
            }
        }
        if (*pos < *len && to->writable) {
            ssize_t n = px_conn_send(to, buf + *pos, *len - *pos);
            if (n > 0) {
                *pos += (size_t)n;
                if (from_client)
                    s->up_sent += (uint64_t)n;
                else
                    s->bytes_sent += (uint64_t)n;
                moved = 1;
                if (*pos == *len)
                    *pos = *len = 0;
                continue;
            }
            if (n == PX_ERROR) {
                s->c->log.action = from_client ? "while proxying and sending to upstream"
                                               : "while proxying and sending to client";
                px_log_error(from_client ? PX_LOG_ERR : PX_LOG_INFO, &s->c->log, errno, "send() failed");
                s->c->log.action = "while proxying connection";
                eof = 1;
                *pos = *len = 0;
                if (from_client)
                    s->client_eof = 1;
                else
                    s->upstream_eof = 1;
                return -1;
            }
        }
        if (*len < size && !eof && from->readable)
            continue;
        break;
    }
    if (from_client)
        s->client_eof = eof;
    else
        s->upstream_eof = eof;
    return moved;
}

static void relay(session_t *s)
{
    int moved = 0;
    int a = pump(s, s->c, s->up, s->c2u, &s->c2u_pos, &s->c2u_len, 1);
    int b = pump(s, s->up, s->c, s->u2c, &s->u2c_pos, &s->u2c_len, 0);
    if (a < 0 || b < 0) {
        finalize(s, 200);
        return;
    }
    moved = a || b;
    /* one side's end goes on as a half-close once its bytes are out */
    if (s->client_eof && s->c2u_len == 0 && !s->c2u_shut) {
        shutdown(s->up->io.fd, SHUT_WR);
        s->c2u_shut = 1;
    }
    if (s->upstream_eof && s->u2c_len == 0 && !s->u2c_shut) {
        shutdown(s->c->io.fd, SHUT_WR);
        s->u2c_shut = 1;
    }
    if ((s->c2u_shut && s->u2c_shut) ||
        (!s->srv->half_close && (s->c2u_shut || s->u2c_shut))) {
        /* without proxy_half_close (nginx's default) either side's end ends the session */
        if (s->ended_by || s->srv->half_close) {
            char counts[160];
            snprintf(counts, sizeof(counts), "bytes from/to client:%llu/%llu, bytes from/to upstream:%llu/%llu",
                     (unsigned long long)s->bytes_received, (unsigned long long)s->bytes_sent,
                     (unsigned long long)s->up_received, (unsigned long long)s->up_sent);
            log_bare(s, "%s disconnected, %s", s->ended_by ? s->ended_by : "upstream", counts);
        }
        finalize(s, 200);
        return;
    }
    if (moved)
        arm_timeout(s);
}

static void client_event(px_conn_t *c)
{
    session_t *s = c->data;
    if (c->closing) {
        finalize(s, 200);
        return;
    }
    if (s->connected)
        relay(s);
}

static void relay_event(px_conn_t *up)
{
    relay(up->data);
}

static void session_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    session_t *s = c->data;
    c->timedout = 1;
    px_log_error(PX_LOG_INFO, &c->log, ETIMEDOUT, "%s timed out", s->connected ? "connection" : "client");
    finalize(s, 200); /* nginx's status for a session that timed out, header or not */
}

/* ---- connecting ---- */

/* PX_OK, or PX_ERROR after logging (the caller ends the session) */
static int send_header(session_t *s, int version)
{
    /* as nginx: the session's client (a received header's source only through realip) */
    socklen_t sl;
    const struct sockaddr *src = (const struct sockaddr *)&s->c->peer;
    const struct sockaddr *dst = px_conn_local(s->c, &sl);
    unsigned char buf[512];
    size_t n = version == 2 ? px_pp_write_v2(buf, sizeof(buf), src, dst, NULL, 0, NULL, 0)
                                       : px_pp_write_v1(buf, sizeof(buf), src, dst);
    /* the first bytes on a fresh socket: they go at once (the relay buffer is not theirs) */
    if (n == 0 || px_conn_send(s->up, (const char *)buf, n) != (ssize_t)n) {
        px_log_error(PX_LOG_ERR, &s->c->log, errno, "sending PROXY protocol header failed");
        return PX_ERROR;
    }
    s->up_sent += n;
    return PX_OK;
}

static void connected(session_t *s)
{
    char t[32];
    px_msec_t ms = px_current_msec - s->try_start;
    snprintf(t, sizeof(t), "%llu.%03llu", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
    append(s->up_connect, sizeof(s->up_connect), &s->up_connect_len, t);
    px_timer_del(&s->up->write_timer);
    s->connected = 1;
    socklen_t ll;
    const struct sockaddr *local = px_conn_local(s->up, &ll);
    char ltext[PX_ADDR_TEXT_SIZE] = "";
    if (local)
        px_addr_to_text(local, ll, 1, ltext, sizeof(ltext));
    log_bare(s, "proxy %s connected to %s", ltext, s->addr.text);
    s->c2u = px_palloc(s->pool, s->srv->buffer_size);
    s->u2c = px_palloc(s->pool, s->srv->buffer_size);
    if (s->c2u == NULL || s->u2c == NULL) {
        finalize(s, 500);
        return;
    }
    /* nginx's proxy_protocol on the server, or HAProxy's send-proxy on the peer */
    int version = s->srv->pp_send ? s->srv->pp_version : s->srv->ups->send_proxy[s->peer];
    if (version && send_header(s, version) != PX_OK) {
        finalize(s, 502); /* the session (and s) is gone */
        return;
    }
    s->up->read_handler = s->up->write_handler = relay_event;
    s->c->read_handler = s->c->write_handler = client_event;
    s->c->log.action = "while proxying connection";
    arm_timeout(s);
    relay(s);
}

static void close_upstream(session_t *s, ups_outcome_t outcome)
{
    if (s->picked) {
        ups_upstream_done(s->srv->ups, s->peer, outcome);
        s->picked = 0;
    }
    if (s->up) {
        px_conn_close(s->up);
        s->up = NULL;
    }
}

/* A failed connect: the next peer if proxy_next_upstream and its limits allow. */
static void connect_failed(session_t *s, int err, const char *what)
{
    append(s->up_connect, sizeof(s->up_connect), &s->up_connect_len, "-");
    px_log_error(PX_LOG_ERR, &s->c->log, err, "%s", what);
    close_upstream(s, UPS_FAILED);
    s->tries--;
    int64_t limit = s->srv->next_upstream_timeout;
    if (s->srv->next_upstream && s->tries > 0 &&
        (limit == 0 || px_current_msec - s->first_try < (px_msec_t)limit)) {
        connect_next(s);
        return;
    }
    finalize(s, 502);
}

static void upstream_connect_event(px_conn_t *up)
{
    session_t *s = up->data;
    if (!up->writable && !up->error && !up->peer_closed)
        return;
    int err = ups_connect_result(up);
    if (err) {
        connect_failed(s, err, "connect() failed");
        return;
    }
    connected(s);
}

static void connect_timeout(px_timer_t *t)
{
    px_conn_t *up = t->data;
    connect_failed(up->data, ETIMEDOUT, "upstream timed out");
}

static void connect_next(session_t *s)
{
    if (ups_upstream_pick(s->srv->ups, &s->uctx, &s->peer) != UPS_PICK_OK) {
        /* the log line and $upstream_addr name the group */
        snprintf(s->addr.text, sizeof(s->addr.text), "%.*s", (int)s->srv->ups->conf->name.len,
                 s->srv->ups->conf->name.data);
        s->named = 1;
        px_log_error(PX_LOG_ERR, &s->c->log, 0, "no live upstreams");
        append(s->up_addrs, sizeof(s->up_addrs), &s->up_addrs_len, s->addr.text);
        finalize(s, 502);
        return;
    }
    s->picked = 1;
    s->addr = s->srv->ups->addrs[s->peer];
    append(s->up_addrs, sizeof(s->up_addrs), &s->up_addrs_len, s->addr.text);
    s->try_start = px_current_msec;
    int err = 0;
    px_conn_t *up = ups_connect((struct sockaddr *)&s->addr.sa, s->addr.len, &s->c->log, &err);
    if (up == NULL) {
        if (err == 0) {
            close_upstream(s, UPS_OK);
            finalize(s, 500);
            return;
        }
        connect_failed(s, err, "connect() failed");
        return;
    }
    s->up = up;
    up->data = s;
    up->io.early = 1;
    up->read_handler = up->write_handler = upstream_connect_event;
    up->write_timer.handler = connect_timeout;
    px_timer_add(&up->write_timer, (px_msec_t)s->srv->connect_timeout);
    if (up->writable)
        upstream_connect_event(up);
}

static void start_proxy(session_t *s)
{
    px_array_t *rules = s->srv->access;
    const access_rule_t *r = rules ? rules->elts : NULL;
    for (size_t i = 0; r && i < rules->nelts; i++) {
        if (!px_cidr_match(&r[i].cidr, (struct sockaddr *)&s->c->peer))
            continue;
        if (r[i].deny) {
            s->c->log.action = "while initializing session";
            px_log_error(PX_LOG_ERR, &s->c->log, 0, "access forbidden by rule");
            finalize(s, 403);
            return;
        }
        break;
    }
    if (s->srv->ups == NULL) {
        px_log_error(PX_LOG_ERR, &s->c->log, 0, "no handler for server in stream");
        finalize(s, 500);
        return;
    }
    char key[1024];
    size_t key_len = s->srv->hash_key ? eval(s, s->srv->hash_key, key, sizeof(key), 0) : 0;
    char *k = key_len ? px_pstrdup(s->pool, key, key_len) : NULL;
    ups_ctx_init(&s->uctx, s->srv->ups->group, k, key_len);
    size_t tries = ups_group_tries(s->srv->ups->group);
    if (s->srv->next_upstream_tries > 0 && (size_t)s->srv->next_upstream_tries < tries)
        tries = (size_t)s->srv->next_upstream_tries;
    s->tries = tries ? (int)tries : 1;
    s->first_try = px_current_msec;
    s->c->read_handler = s->c->write_handler = client_event;
    s->c->log.action = "while connecting to upstream";
    connect_next(s);
}

/* ---- the PROXY protocol header of a proxy_protocol listen ---- */

static void pp_read(px_conn_t *c)
{
    session_t *s = c->data;
    if (c->closing) {
        finalize(s, 200);
        return;
    }
    if (!c->readable && !c->peer_closed)
        return;
    unsigned char buf[PX_PP_MAX_HEADER + 16];
    ssize_t n;
    do
        n = recv(c->io.fd, buf, sizeof(buf), MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->readable = 0;
        return;
    }
    if (n <= 0) {
        px_log_error(PX_LOG_INFO, &c->log, n < 0 ? errno : 0, n < 0 ? "recv() failed" : "client closed connection");
        finalize(s, 400);
        return;
    }
    px_pp_header_t *h = px_palloc(s->pool, sizeof(*h));
    char err[128] = "";
    int len = h ? px_pp_parse(buf, (size_t)n, h, err, sizeof(err)) : PX_ERROR;
    if (len == PX_AGAIN && (size_t)n < sizeof(buf) && !c->peer_closed) {
        c->readable = 0;
        return;
    }
    if (len <= 0) {
        char msg[PX_PP_V1_MAX_HEADER * 4 + 64];
        px_pp_error_message(buf, (size_t)n, len == PX_AGAIN ? NULL : err, msg, sizeof(msg));
        px_log_error(PX_LOG_ERR, &c->log, 0, "%s", msg);
        finalize(s, 400);
        return;
    }
    unsigned char *raw = px_palloc(s->pool, (size_t)len);
    ssize_t got;
    do
        got = raw ? recv(c->io.fd, raw, (size_t)len, 0) : -1;
    while (got < 0 && errno == EINTR);
    if (got != len || px_pp_parse(raw, (size_t)len, h, err, sizeof(err)) != len) {
        finalize(s, 500);
        return;
    }
    s->pp = h;
    px_timer_del(&c->read_timer);
    px_array_t *from = s->srv->realip_from;
    if (from && !h->local && (h->family == AF_INET || h->family == AF_INET6)) {
        const px_cidr_t *cidr = from->elts;
        for (size_t i = 0; i < from->nelts; i++) {
            if (px_cidr_match(&cidr[i], (struct sockaddr *)&c->peer)) {
                s->real_peer = c->peer;
                s->real_peer_len = c->peer_len;
                memcpy(&c->peer, &h->src, sizeof(c->peer));
                c->peer_len = h->src_len;
                break;
            }
        }
    }
    start_proxy(s);
}

/* ---- a session's end ---- */

static void finalize(session_t *s, int status)
{
    px_conn_t *c = s->c;
    if (c == NULL)
        return;
    s->status = status;
    close_upstream(s, status == 502 ? UPS_FAILED : UPS_OK);
    log_session(s);
    s->c = NULL;
    c->data = NULL;
    c->log.handler = NULL;
    c->log.data = NULL;
    px_conn_close(c); /* the session's pool goes with it */
}

static void stream_init_connection(px_conn_t *c)
{
    stream_listen_t *l = c->listening->servers;
    px_pool_t *pool = px_pool_create(4096);
    session_t *s = pool ? px_pcalloc(pool, sizeof(*s)) : NULL;
    if (s == NULL) {
        if (pool)
            px_pool_destroy(pool);
        px_conn_close(c);
        return;
    }
    s->pool = pool;
    c->pool = pool;
    s->c = c;
    s->srv = l->srv;
    s->start = px_current_msec;
    c->data = s;
    char client[PX_ADDR_TEXT_SIZE], server[PX_ADDR_TEXT_SIZE] = "";
    px_addr_to_text((struct sockaddr *)&c->peer, c->peer_len, 1, client, sizeof(client));
    socklen_t sl;
    const struct sockaddr *local = px_conn_local(c, &sl);
    if (local)
        px_addr_to_text(local, sl, 1, server, sizeof(server));
    px_log_error(PX_LOG_INFO, &c->log, 0, "client %s connected to %s", client, server);
    c->log.handler = session_log_context;
    c->log.data = s;
    c->read_timer.handler = session_timeout;
    if (l->proxy_protocol) {
        c->log.action = "while reading PROXY protocol";
        c->read_handler = c->write_handler = pp_read;
        px_timer_add(&c->read_timer, (px_msec_t)s->srv->pp_timeout);
        if (c->readable)
            pp_read(c);
        return;
    }
    start_proxy(s);
}
