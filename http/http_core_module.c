/* The http core module's configuration: http{}, server{}, location{} blocks, their
 * per-level settings with nginx's inheritance, and what is built at the end of http{}
 * (location trees, listening sockets, variables). */
#include "http/http_core.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "http/http_listen.h"
#include "http/http_location.h"
#include "http/http_regex.h"
#include "http/http_server_name.h"
#include "http/http_variables.h"

/* Where the block walker is while reading server{} and location{} blocks. */
typedef struct {
    http_core_srv_conf_t *srv;
    http_location_tree_t *tree;
    http_location_t *parent;           /* enclosing location handle, NULL at server level */
    http_core_loc_conf_t *parent_conf; /* NULL at server level */
} block_state_t;

static void *create_main_conf(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = px_pcalloc(cf->pool, sizeof(*cmcf));
    px_array_init(&cmcf->servers, cf->pool, 4, sizeof(http_core_srv_conf_t *));
    px_array_init(&cmcf->ports, cf->pool, 4, sizeof(http_listen_t));
    px_array_init(&cmcf->phase_post_read, cf->pool, 2, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_server_rewrite, cf->pool, 2, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_rewrite, cf->pool, 4, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_preaccess, cf->pool, 4, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_access, cf->pool, 4, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_precontent, cf->pool, 2, sizeof(http_handler_fn));
    px_array_init(&cmcf->phase_content, cf->pool, 4, sizeof(http_handler_fn));
    px_array_init(&cmcf->header_filters, cf->pool, 4, sizeof(http_handler_fn));
    return cmcf;
}

static void *create_srv_conf(conf_ctx_t *cf)
{
    http_core_srv_conf_t *cscf = px_pcalloc(cf->pool, sizeof(*cscf));
    px_array_init(&cscf->names, cf->pool, 4, sizeof(http_server_name_t));
    px_array_init(&cscf->name_regexes, cf->pool, 4, sizeof(void *));
    px_array_init(&cscf->top_locations, cf->pool, 4, sizeof(conf_http_ctx_t *));
    cscf->client_header_buffer_size = CONF_UNSET_SIZE;
    cscf->client_header_timeout = -1;
    cscf->merge_slashes = CONF_UNSET;
    cscf->underscores_in_headers = CONF_UNSET;
    cscf->ignore_invalid_headers = CONF_UNSET;
    return cscf;
}

static const char *merge_srv_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    http_core_srv_conf_t *prev = parent, *conf = child;
    CONF_MERGE_SIZE(conf->client_header_buffer_size, prev->client_header_buffer_size, 1024);
    if (conf->large_client_header_buffers.num == 0) {
        conf->large_client_header_buffers = prev->large_client_header_buffers.num
                                                ? prev->large_client_header_buffers
                                                : (conf_bufs_t){4, 8192};
    }
    if (conf->client_header_timeout < 0)
        conf->client_header_timeout =
            prev->client_header_timeout < 0 ? 60000 : prev->client_header_timeout;
    CONF_MERGE(conf->merge_slashes, prev->merge_slashes, 1);
    CONF_MERGE(conf->underscores_in_headers, prev->underscores_in_headers, 0);
    CONF_MERGE(conf->ignore_invalid_headers, prev->ignore_invalid_headers, 1);
    return NULL;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    http_core_loc_conf_t *c = px_pcalloc(cf->pool, sizeof(*c));
    px_array_init(&c->nested, cf->pool, 2, sizeof(conf_http_ctx_t *));
    c->keepalive_timeout = -1;
    c->keepalive_header = -1;
    c->keepalive_requests = CONF_UNSET;
    c->keepalive_time = -1;
    c->client_body_timeout = -1;
    c->send_timeout = -1;
    c->client_max_body_size = -1;
    c->client_body_buffer_size = CONF_UNSET_SIZE;
    c->server_tokens = CONF_UNSET;
    c->tcp_nodelay = CONF_UNSET;
    c->recursive_error_pages = CONF_UNSET;
    c->absolute_redirect = CONF_UNSET;
    c->server_name_in_redirect = CONF_UNSET;
    c->port_in_redirect = CONF_UNSET;
    c->reset_timedout_connection = CONF_UNSET;
    c->uninitialized_variable_warn = CONF_UNSET;
    c->lingering_close = CONF_UNSET;
    c->lingering_time = -1;
    c->lingering_timeout = -1;
    return c;
}

#define MERGE_MSEC(f, def)                                                                         \
    do {                                                                                           \
        if (conf->f < 0)                                                                           \
            conf->f = prev->f < 0 ? (def) : prev->f;                                               \
    } while (0)

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    http_core_loc_conf_t *prev = parent, *conf = child;
    if (conf->keepalive_timeout < 0) {
        conf->keepalive_timeout = prev->keepalive_timeout < 0 ? 75000 : prev->keepalive_timeout;
        conf->keepalive_header = prev->keepalive_header;
    }
    CONF_MERGE(conf->keepalive_requests, prev->keepalive_requests, 1000);
    MERGE_MSEC(keepalive_time, 3600000);
    MERGE_MSEC(client_body_timeout, 60000);
    MERGE_MSEC(send_timeout, 60000);
    MERGE_MSEC(client_max_body_size, 1024 * 1024);
    CONF_MERGE_SIZE(conf->client_body_buffer_size, prev->client_body_buffer_size, 16384);
    if (conf->client_body_temp_path.len == 0) {
        if (prev->client_body_temp_path.len == 0) {
            char *p = px_psprintf(cf->pool, "%sclient_body_temp", cf->cycle->prefix);
            prev->client_body_temp_path = px_str_make(p, strlen(p));
        }
        conf->client_body_temp_path = prev->client_body_temp_path;
    }
    CONF_MERGE(conf->server_tokens, prev->server_tokens, 1);
    CONF_MERGE(conf->tcp_nodelay, prev->tcp_nodelay, 1);
    CONF_MERGE(conf->recursive_error_pages, prev->recursive_error_pages, 0);
    CONF_MERGE(conf->absolute_redirect, prev->absolute_redirect, 1);
    CONF_MERGE(conf->server_name_in_redirect, prev->server_name_in_redirect, 0);
    CONF_MERGE(conf->port_in_redirect, prev->port_in_redirect, 1);
    CONF_MERGE(conf->reset_timedout_connection, prev->reset_timedout_connection, 0);
    CONF_MERGE(conf->uninitialized_variable_warn, prev->uninitialized_variable_warn, 1);
    CONF_MERGE(conf->lingering_close, prev->lingering_close, LINGERING_ON);
    MERGE_MSEC(lingering_time, 30000);
    MERGE_MSEC(lingering_timeout, 5000);
    if (conf->default_type.data == NULL)
        conf->default_type = prev->default_type.data ? prev->default_type : PX_STR("text/plain");
    if (conf->error_pages == NULL)
        conf->error_pages = prev->error_pages;
    if (conf->error_log == NULL)
        conf->error_log = prev->error_log;
    /* an if () block without a content directive keeps its location's */
    if (conf->noname && conf->content_handler == NULL)
        conf->content_handler = prev->content_handler;
    return NULL;
}

/* ---- levels ---- */

static void **create_level(conf_ctx_t *cf, int level)
{
    void **arr = px_pcalloc(cf->pool, cf->nmodules * sizeof(void *));
    for (size_t i = 0; i < cf->nmodules; i++) {
        conf_module_t *m = cf->modules[i];
        void *(*create)(conf_ctx_t *) = level == CONF_HTTP_MAIN_CONF  ? m->create_main_conf
                                        : level == CONF_HTTP_SRV_CONF ? m->create_srv_conf
                                                                      : m->create_loc_conf;
        if (create && (arr[i] = create(cf)) == NULL)
            return NULL;
    }
    return arr;
}

static const char *merge_level(conf_ctx_t *cf, void **parent, void **child, int level)
{
    for (size_t i = 0; i < cf->nmodules; i++) {
        conf_module_t *m = cf->modules[i];
        const char *(*merge)(conf_ctx_t *, void *, void *) =
            level == CONF_HTTP_SRV_CONF ? m->merge_srv_conf : m->merge_loc_conf;
        if (merge && parent[i] && child[i]) {
            const char *rv = merge(cf, parent[i], child[i]);
            if (rv)
                return rv;
        }
    }
    return NULL;
}

/* Parent first, then each nested location from its merged parent, as nginx does. */
static const char *merge_locations(conf_ctx_t *cf, px_array_t *locs, void **parent_loc)
{
    conf_http_ctx_t **l = locs->elts;
    for (size_t i = 0; i < locs->nelts; i++) {
        /* a module's merge may look at its level's core conf (an if () block's) */
        conf_http_ctx_t *saved = cf->http;
        cf->http = l[i];
        const char *rv = merge_level(cf, parent_loc, l[i]->loc_conf, CONF_HTTP_LOC_CONF);
        cf->http = saved;
        if (rv)
            return rv;
        http_core_loc_conf_t *clcf = l[i]->loc_conf[http_core_module.index];
        rv = merge_locations(cf, &clcf->nested, l[i]->loc_conf);
        if (rv)
            return rv;
    }
    return NULL;
}

static const char *finish_server(conf_ctx_t *cf, conf_http_ctx_t *http, http_core_srv_conf_t *cscf)
{
    const char *rv = merge_level(cf, http->srv_conf, cscf->ctx->srv_conf, CONF_HTTP_SRV_CONF);
    if (rv == NULL)
        rv = merge_level(cf, http->loc_conf, cscf->ctx->loc_conf, CONF_HTTP_LOC_CONF);
    if (rv == NULL)
        rv = merge_locations(cf, &cscf->top_locations, cscf->ctx->loc_conf);
    if (rv)
        return rv;
    http_location_error_t err;
    if (http_location_finalize(cscf->locations, &err) != PX_OK) {
        http_core_loc_conf_t *clcf = err.conf;
        if (clcf)
            px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", err.msg, clcf->file, clcf->line);
        else
            px_log_error(PX_LOG_EMERG, NULL, 0, "%s", err.msg);
        return CONF_ERROR;
    }
    return NULL;
}

static void free_tree(void *tree)
{
    http_location_tree_free(tree);
}

/* http_core's part of the main context: whether http{} was seen (cf->http is reset at its
 * end, so it cannot tell a second http{} from the first). */
typedef struct {
    int http_seen;
    px_array_t *level_logs; /* px_log_t*: error_log at http/server/location level */
} http_core_main_ctx_conf_t;

static void *create_core_conf(conf_ctx_t *cf)
{
    return px_pcalloc(cf->pool, sizeof(http_core_main_ctx_conf_t));
}

static const char *finish_http(conf_ctx_t *cf, conf_http_ctx_t *http, http_core_main_conf_t *cmcf);

static const char *set_http(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                            void *conf)
{
    (void)d;
    http_core_main_ctx_conf_t *mcf = conf;
    if (mcf->http_seen)
        return "\"http\" directive is duplicate";
    mcf->http_seen = 1;
    conf_http_ctx_t *http = px_pcalloc(cf->pool, sizeof(*http));
    cf->http = http;
    if ((http->main_conf = create_level(cf, CONF_HTTP_MAIN_CONF)) == NULL ||
        (http->srv_conf = create_level(cf, CONF_HTTP_SRV_CONF)) == NULL ||
        (http->loc_conf = create_level(cf, CONF_HTTP_LOC_CONF)) == NULL)
        return CONF_ERROR;
    http_core_main_conf_t *cmcf = http->main_conf[http_core_module.index];
    if (http_variables_preconfigure(cf) != PX_OK)
        return CONF_ERROR;
    for (size_t i = 0; i < cf->nmodules; i++) {
        if (cf->modules[i]->preconfiguration && cf->modules[i]->preconfiguration(cf) != PX_OK)
            return CONF_ERROR;
    }

    int rc = conf_apply_block(cf, n, CONF_HTTP);
    cf->http = http;
    if (rc != PX_OK)
        return CONF_ERROR;
    /* what is checked from here on is reported at the closing '}', as nginx does */
    conf_node_t end = *n;
    end.line = n->end_line;
    cf->node = NULL;
    const char *rv = finish_http(cf, http, cmcf);
    cf->node = NULL;
    if (rv && rv != CONF_ERROR) {
        cf->node = &end;
        conf_log(cf, PX_LOG_EMERG, 0, "%s", rv);
        cf->node = NULL;
        return CONF_ERROR;
    }
    return rv;
}

static const char *finish_http(conf_ctx_t *cf, conf_http_ctx_t *http, http_core_main_conf_t *cmcf)
{

    for (size_t i = 0; i < cf->nmodules; i++) {
        conf_module_t *m = cf->modules[i];
        if (m->init_main_conf) {
            const char *rv = m->init_main_conf(cf, http->main_conf[i]);
            if (rv)
                return rv;
        }
    }
    http_core_srv_conf_t **servers = cmcf->servers.elts;
    for (size_t i = 0; i < cmcf->servers.nelts; i++) {
        const char *rv = finish_server(cf, http, servers[i]);
        if (rv)
            return rv;
    }
    for (size_t i = 0; i < cf->nmodules; i++) {
        conf_module_t *m = cf->modules[i];
        if (m->postconfiguration && m->postconfiguration(cf) != PX_OK)
            return CONF_ERROR;
    }
    if (http_variables_resolve(cf) != PX_OK)
        return CONF_ERROR;
    if (http_listen_build(cf, cmcf) != PX_OK)
        return CONF_ERROR;
    cf->http = NULL;
    return NULL;
}

static const char *set_server(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    (void)conf;
    conf_http_ctx_t *http = cf->http;
    conf_http_ctx_t *ctx = px_pcalloc(cf->pool, sizeof(*ctx));
    ctx->main_conf = http->main_conf;
    if ((ctx->srv_conf = create_level(cf, CONF_HTTP_SRV_CONF)) == NULL ||
        (ctx->loc_conf = create_level(cf, CONF_HTTP_LOC_CONF)) == NULL)
        return CONF_ERROR;
    http_core_srv_conf_t *cscf = ctx->srv_conf[http_core_module.index];
    cscf->ctx = ctx;
    cscf->file = n->file;
    cscf->line = n->line;
    cscf->locations = http_location_tree_create();
    if (cscf->locations == NULL)
        return CONF_ERROR;
    px_pool_cleanup_add(cf->pool, free_tree, cscf->locations);
    http_core_loc_conf_t *clcf = ctx->loc_conf[http_core_module.index];
    clcf->ctx = ctx;
    http_core_main_conf_t *cmcf = http->main_conf[http_core_module.index];
    *(http_core_srv_conf_t **)px_array_push(&cmcf->servers) = cscf;

    block_state_t state = {cscf, cscf->locations, NULL, NULL};
    void *saved_block = cf->block_data;
    cf->block_data = &state;
    cf->http = ctx;
    int rc = conf_apply_block(cf, n, CONF_SRV);
    cf->http = http;
    cf->block_data = saved_block;
    cf->node = n;
    if (rc != PX_OK)
        return CONF_ERROR;
    if (!cscf->listen_seen) {
        const char *rv = http_listen_default(cf, cscf);
        if (rv)
            return rv;
    }
    if (cscf->names.nelts == 0) {
        http_server_name_t *sn = px_array_push(&cscf->names);
        char err[64];
        http_server_name_parse(PX_STR(""), sn, err, sizeof(err));
        px_array_push(&cscf->name_regexes);
        cscf->server_name = PX_STR("");
    }
    return NULL;
}

/* A new location-level configuration (a location or an if () block) under the current
 * server, for the block at node n. */
static conf_http_ctx_t *new_loc_level(conf_ctx_t *cf, const conf_node_t *n)
{
    conf_http_ctx_t *ctx = px_pcalloc(cf->pool, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->main_conf = cf->http->main_conf;
    ctx->srv_conf = cf->http->srv_conf;
    if ((ctx->loc_conf = create_level(cf, CONF_HTTP_LOC_CONF)) == NULL)
        return NULL;
    http_core_loc_conf_t *clcf = ctx->loc_conf[http_core_module.index];
    clcf->ctx = ctx;
    clcf->file = n->file;
    clcf->line = n->line;
    return ctx;
}

int http_push_handler(px_array_t *phase, http_handler_fn fn)
{
    http_handler_fn *slot = px_array_push(phase);
    if (slot == NULL)
        return PX_ERROR;
    *slot = fn;
    return PX_OK;
}

static const char *set_location(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                void *conf)
{
    (void)d;
    (void)conf;
    block_state_t *st = cf->block_data;
    conf_http_ctx_t *parent_ctx = cf->http;
    conf_http_ctx_t *ctx = new_loc_level(cf, n);
    if (ctx == NULL)
        return CONF_ERROR;
    http_core_loc_conf_t *clcf = ctx->loc_conf[http_core_module.index];

    px_str_t args[2];
    for (size_t i = 0; i < n->nargs; i++)
        args[i] = n->args[i].value;
    http_location_kind_t kind;
    px_str_t name;
    char err[512];
    if (http_location_parse_args(args, n->nargs, &kind, &name, err, sizeof(err)) != PX_OK)
        return px_pstrdup(cf->pool, err, strlen(err));
    clcf->kind = (int)kind;
    clcf->name = name;
    clcf->internal = kind == HTTP_LOC_NAMED;

    http_location_def_t def = {kind, name, clcf, 0};
    http_location_t *handle;
    http_location_error_t lerr;
    if (http_location_add(st->tree, st->parent, &def, &handle, &lerr) != PX_OK)
        return px_pstrdup(cf->pool, lerr.msg, strlen(lerr.msg));
    if (kind == HTTP_LOC_REGEX || kind == HTTP_LOC_REGEX_CASELESS) {
        http_regex_t *re;
        if (http_regex_wrap(cf, (px_regex_t *)http_location_regex(handle), &re) != PX_OK)
            return CONF_ERROR;
        clcf->regex = re;
    }
    px_array_t *siblings = st->parent_conf ? &st->parent_conf->nested : &st->srv->top_locations;
    *(conf_http_ctx_t **)px_array_push(siblings) = ctx;

    block_state_t inner = {st->srv, st->tree, handle, clcf};
    cf->block_data = &inner;
    cf->http = ctx;
    int rc = conf_apply_block(cf, n, CONF_LOC);
    if (clcf->auto_redirect)
        http_location_set_auto_redirect(handle);
    cf->http = parent_ctx;
    cf->block_data = st;
    return rc == PX_OK ? NULL : CONF_ERROR;
}

conf_http_ctx_t *http_core_if_level(conf_ctx_t *cf, const conf_node_t *n)
{
    block_state_t *st = cf->block_data;
    conf_http_ctx_t *ctx = new_loc_level(cf, n);
    if (ctx == NULL)
        return NULL;
    http_core_loc_conf_t *parent = cf->http->loc_conf[http_core_module.index];
    http_core_loc_conf_t *clcf = ctx->loc_conf[http_core_module.index];
    /* the block stands in for its location: directives inside see the location's name
     * and kind (proxy_pass checks them) */
    clcf->name = parent->name;
    clcf->kind = parent->kind;
    clcf->regex = parent->regex;
    clcf->internal = parent->internal;
    clcf->noname = 1;
    /* merged from the enclosing level like a nested location */
    px_array_t *siblings = st->parent_conf ? &st->parent_conf->nested : &st->srv->top_locations;
    *(conf_http_ctx_t **)px_array_push(siblings) = ctx;
    return ctx;
}

int http_core_if_apply(conf_ctx_t *cf, const conf_node_t *n, conf_http_ctx_t *ctx, unsigned type)
{
    block_state_t *st = cf->block_data;
    block_state_t inner = {st->srv, st->tree, st->parent, ctx->loc_conf[http_core_module.index]};
    conf_http_ctx_t *parent_ctx = cf->http;
    cf->block_data = &inner;
    cf->http = ctx;
    int rc = conf_apply_block(cf, n, type);
    cf->http = parent_ctx;
    cf->block_data = st;
    return rc;
}

static const char *set_listen(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    return http_listen_parse(cf, conf, n);
}

static void free_server_name(void *sn)
{
    http_server_name_free(sn);
}

static const char *set_server_name(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                   void *conf)
{
    (void)d;
    http_core_srv_conf_t *cscf = conf;
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        if (px_str_eq_lit(v, "$hostname")) {
            char host[256];
            if (gethostname(host, sizeof(host)) < 0)
                return CONF_ERROR;
            host[sizeof(host) - 1] = '\0';
            v = px_pstr(cf->pool, host, strlen(host));
        }
        http_server_name_t *sn = px_array_push(&cscf->names);
        char err[512];
        int rc = http_server_name_parse(v, sn, err, sizeof(err));
        if (rc == PX_ERROR) {
            cscf->names.nelts--;
            return px_pstrdup(cf->pool, err, strlen(err));
        }
        px_pool_cleanup_add(cf->pool, free_server_name, sn);
        http_regex_t **re = px_array_push(&cscf->name_regexes);
        if (sn->kind == HTTP_SERVER_NAME_REGEX && http_regex_wrap(cf, sn->regex, re) != PX_OK)
            return CONF_ERROR;
        if (rc == PX_DECLINED)
            conf_log(cf, PX_LOG_WARN, 0, "%s", err);
        if (cscf->server_name.data == NULL)
            cscf->server_name = v;
    }
    return NULL;
}

static const char *set_keepalive_timeout(conf_ctx_t *cf, const conf_node_t *n,
                                         const conf_directive_t *d, void *conf)
{
    (void)d;
    http_core_loc_conf_t *clcf = conf;
    if (clcf->keepalive_timeout >= 0)
        return "\"keepalive_timeout\" directive is duplicate";
    int64_t t = conf_parse_msec(n->args[0].value);
    if (t < 0)
        return "\"keepalive_timeout\" directive invalid value";
    clcf->keepalive_timeout = t;
    if (n->nargs == 2) {
        int64_t h = conf_parse_sec(n->args[1].value);
        if (h < 0)
            return "\"keepalive_timeout\" directive invalid value";
        clcf->keepalive_header = h;
    }
    (void)cf;
    return NULL;
}

/* error_page code ... [=[response]] uri */
static const char *set_error_page(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                  void *conf)
{
    (void)d;
    http_core_loc_conf_t *clcf = conf;
    if (clcf->error_pages == NULL) {
        clcf->error_pages = px_pcalloc(cf->pool, sizeof(px_array_t));
        px_array_init(clcf->error_pages, cf->pool, 4, sizeof(http_error_page_t));
    }
    size_t last = n->nargs - 1;
    int overwrite = -1;
    const px_str_t *a = &n->args[last - 1].value;
    size_t ncodes = last;
    if (a->len && a->data[0] == '=') {
        ncodes--;
        if (a->len == 1) {
            overwrite = 0;
        } else {
            int64_t code = conf_parse_number(px_str_make(a->data + 1, a->len - 1));
            if (code < 0 || code == 1 || (code > 1 && code < 100) || code > 999)
                return px_psprintf(cf->pool, "invalid value \"%s\"", a->data);
            overwrite = (int)code;
        }
    }
    if (ncodes == 0)
        return px_psprintf(cf->pool, "invalid number of arguments in \"error_page\" directive");
    http_cv_t uri;
    const char *rv = http_cv_compile(cf, n->args[last].value, &uri);
    if (rv)
        return rv;
    for (size_t i = 0; i < ncodes; i++) {
        int64_t code = conf_parse_number(n->args[i].value);
        /* 499 is nginx's own "client closed" code: no response can carry it. */
        if (code < 0 || code == 499)
            return px_psprintf(cf->pool, "invalid value \"%s\"", n->args[i].value.data);
        if (code < 300 || code > 599)
            return px_psprintf(cf->pool, "value \"%s\" must be between 300 and 599",
                               n->args[i].value.data);
        http_error_page_t *ep = px_array_push(clcf->error_pages);
        ep->code = (int)code;
        ep->overwrite = overwrite;
        ep->uri = uri;
    }
    return NULL;
}

static const char *set_internal(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                void *conf)
{
    (void)cf;
    (void)n;
    (void)d;
    ((http_core_loc_conf_t *)conf)->internal = 1;
    return NULL;
}

/* Error logs named at http/server/location level: opened in each worker, reopened on USR1;
 * kept in the cycle's main-context conf, so a worker finds its own cycle's. */
static void open_level_logs(px_cycle_t *cycle)
{
    http_core_main_ctx_conf_t *mcf = cycle->conf[http_core_module.index];
    px_array_t *level_logs = mcf->level_logs;
    px_log_t **logs = level_logs ? level_logs->elts : NULL;
    for (size_t i = 0; level_logs && i < level_logs->nelts; i++) {
        int fd = px_log_open_file(logs[i]->data);
        if (fd < 0) {
            px_log_error(PX_LOG_ALERT, NULL, errno, "open() \"%s\" failed", (char *)logs[i]->data);
            continue;
        }
        if (logs[i]->fd > 2)
            close(logs[i]->fd);
        logs[i]->fd = fd;
    }
}

static int init_level_logs(px_cycle_t *cycle)
{
    open_level_logs(cycle);
    return PX_OK;
}

static void http_register_log_file(conf_ctx_t *cf, px_log_t *log)
{
    http_core_main_ctx_conf_t *mcf = cf->cycle->conf[http_core_module.index];
    if (mcf->level_logs == NULL) {
        mcf->level_logs = px_pcalloc(cf->pool, sizeof(px_array_t));
        px_array_init(mcf->level_logs, cf->pool, 4, sizeof(px_log_t *));
        px_worker_hooks_t *h = px_array_push(&cf->cycle->worker_hooks);
        memset(h, 0, sizeof(*h));
        h->init_worker = init_level_logs;
        h->reopen_logs = open_level_logs;
    }
    *(px_log_t **)px_array_push(mcf->level_logs) = log;
}

/* error_log at http/server/location level: this level's requests log there. */
static const char *set_loc_error_log(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                     void *conf)
{
    (void)d;
    http_core_loc_conf_t *clcf = conf;
    px_str_t path = n->args[0].value;
    if (strncmp(path.data, "syslog:", 7) == 0 || strncmp(path.data, "memory:", 7) == 0)
        return px_psprintf(cf->pool, "error log target \"%s\" is not supported by proxyd", path.data);
    int level = PX_LOG_ERR;
    if (n->nargs == 2 && (level = px_log_level_from_name(n->args[1].value)) < 0)
        return px_psprintf(cf->pool, "invalid log level \"%s\"", n->args[1].value.data);
    px_log_t *log = px_pcalloc(cf->pool, sizeof(*log));
    log->level = level;
    log->fd = -1;
    const char *full = path.data[0] == '/' || px_str_eq_lit(path, "stderr")
                           ? path.data
                           : px_psprintf(cf->pool, "%s%s", cf->cycle->prefix, path.data);
    log->data = (void *)full;
    clcf->error_log = log;
    http_register_log_file(cf, log);
    return NULL;
}

static const conf_enum_t lingering_values[] = {
    {"off", LINGERING_OFF}, {"on", LINGERING_ON}, {"always", LINGERING_ALWAYS}, {NULL, 0}};

#define LOC CONF_HTTP | CONF_SRV | CONF_LOC
#define LOC_OFF(f) CONF_HTTP_LOC_CONF, offsetof(http_core_loc_conf_t, f)
#define SRV_OFF(f) CONF_HTTP_SRV_CONF, offsetof(http_core_srv_conf_t, f)

static const conf_directive_t http_core_directives[] = {
    {"http", CONF_MAIN, CONF_BLOCK | CONF_NOARGS, set_http, CONF_CORE_CONF, 0, NULL},
    {"server", CONF_HTTP, CONF_BLOCK | CONF_NOARGS, set_server, CONF_CORE_CONF, 0, NULL},
    {"location", CONF_SRV | CONF_LOC, CONF_BLOCK | CONF_TAKE12, set_location, CONF_CORE_CONF, 0, NULL},
    {"listen", CONF_SRV, CONF_1MORE, set_listen, SRV_OFF(listen_seen), NULL},
    {"server_name", CONF_SRV, CONF_1MORE, set_server_name, SRV_OFF(names), NULL},
    {"client_header_buffer_size", CONF_HTTP | CONF_SRV, CONF_TAKE1, conf_set_size,
     SRV_OFF(client_header_buffer_size), NULL},
    {"large_client_header_buffers", CONF_HTTP | CONF_SRV, CONF_TAKE2, conf_set_bufs,
     SRV_OFF(large_client_header_buffers), NULL},
    {"client_header_timeout", CONF_HTTP | CONF_SRV, CONF_TAKE1, conf_set_msec,
     SRV_OFF(client_header_timeout), NULL},
    {"merge_slashes", CONF_HTTP | CONF_SRV, CONF_FLAG, conf_set_flag, SRV_OFF(merge_slashes), NULL},
    {"underscores_in_headers", CONF_HTTP | CONF_SRV, CONF_FLAG, conf_set_flag,
     SRV_OFF(underscores_in_headers), NULL},
    {"ignore_invalid_headers", CONF_HTTP | CONF_SRV, CONF_FLAG, conf_set_flag,
     SRV_OFF(ignore_invalid_headers), NULL},
    {"keepalive_timeout", LOC, CONF_TAKE12, set_keepalive_timeout, LOC_OFF(keepalive_timeout), NULL},
    {"keepalive_requests", LOC, CONF_TAKE1, conf_set_num, LOC_OFF(keepalive_requests), NULL},
    {"keepalive_time", LOC, CONF_TAKE1, conf_set_msec, LOC_OFF(keepalive_time), NULL},
    {"client_body_timeout", LOC, CONF_TAKE1, conf_set_msec, LOC_OFF(client_body_timeout), NULL},
    {"send_timeout", LOC, CONF_TAKE1, conf_set_msec, LOC_OFF(send_timeout), NULL},
    {"client_max_body_size", LOC, CONF_TAKE1, conf_set_off, LOC_OFF(client_max_body_size), NULL},
    {"client_body_buffer_size", LOC, CONF_TAKE1, conf_set_size, LOC_OFF(client_body_buffer_size), NULL},
    {"client_body_temp_path", LOC, CONF_TAKE1234, conf_set_temp_path,
     LOC_OFF(client_body_temp_path), NULL},
    {"server_tokens", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(server_tokens), NULL},
    {"tcp_nodelay", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(tcp_nodelay), NULL},
    {"default_type", LOC, CONF_TAKE1, conf_set_str, LOC_OFF(default_type), NULL},
    {"recursive_error_pages", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(recursive_error_pages), NULL},
    {"absolute_redirect", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(absolute_redirect), NULL},
    {"server_name_in_redirect", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(server_name_in_redirect), NULL},
    {"port_in_redirect", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(port_in_redirect), NULL},
    {"reset_timedout_connection", LOC, CONF_FLAG, conf_set_flag, LOC_OFF(reset_timedout_connection), NULL},
    {"lingering_close", LOC, CONF_TAKE1, conf_set_enum, LOC_OFF(lingering_close), lingering_values},
    {"lingering_time", LOC, CONF_TAKE1, conf_set_msec, LOC_OFF(lingering_time), NULL},
    {"lingering_timeout", LOC, CONF_TAKE1, conf_set_msec, LOC_OFF(lingering_timeout), NULL},
    {"error_page", LOC | CONF_LIF, CONF_2MORE, set_error_page, LOC_OFF(error_pages), NULL},
    {"error_log", LOC, CONF_TAKE12, set_loc_error_log, LOC_OFF(error_log), NULL},
    {"internal", CONF_LOC, CONF_NOARGS, set_internal, CONF_HTTP_LOC_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t http_core_module = {
    .name = "http_core",
    .directives = http_core_directives,
    .create_core_conf = create_core_conf,
    .create_main_conf = create_main_conf,
    .create_srv_conf = create_srv_conf,
    .merge_srv_conf = merge_srv_conf,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
};
