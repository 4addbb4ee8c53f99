/* The proxy_* directives: their tables, checks and nginx's inheritance (proxy_set_header
 * and the hide/pass lists only as a whole), and the header lists built at merge time. */
#include <stdio.h>
#include <string.h>

#include "conf/conf_value.h"
#include "core/px_log.h"
#include "http/http_location.h"
#include "upstream/ups_upstream.h"
#include "http/http_regex.h"
#include "proxy/proxy_http.h"

/* proxy_pass targets waiting for the end of http{} */
typedef struct {
    proxy_target_t *target;
    proxy_pass_t *pass;
} pending_t;

typedef struct {
    px_array_t pending; /* pending_t */
    px_array_t *groups; /* ups_group_conf_t* of this http{}: proxy_pass with variables */
} proxy_main_conf_t;

static void *create_main_conf(conf_ctx_t *cf)
{
    proxy_main_conf_t *m = px_pcalloc(cf->pool, sizeof(*m));
    if (m == NULL || px_array_init(&m->pending, cf->pool, 8, sizeof(pending_t)) != PX_OK)
        return NULL;
    return m;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    proxy_loc_conf_t *c = px_pcalloc(cf->pool, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->http_version = CONF_UNSET;
    c->pass_request_headers = CONF_UNSET;
    c->pass_request_body = CONF_UNSET;
    c->has_set_body = CONF_UNSET;
    c->has_method = CONF_UNSET;
    c->connect_timeout = CONF_UNSET_MSEC;
    c->read_timeout = CONF_UNSET_MSEC;
    c->send_timeout = CONF_UNSET_MSEC;
    c->buffering = CONF_UNSET;
    c->request_buffering = CONF_UNSET;
    c->buffer_size = CONF_UNSET_SIZE;
    c->busy_buffers_size = CONF_UNSET_SIZE;
    c->max_temp_file_size = -1;
    c->temp_file_write_size = CONF_UNSET_SIZE;
    c->intercept_errors = CONF_UNSET;
    c->next_upstream = CONF_UNSET;
    c->next_upstream_tries = CONF_UNSET;
    c->next_upstream_timeout = CONF_UNSET_MSEC;
    c->ignore_client_abort = CONF_UNSET;
    c->redirect_mode = PROXY_REDIRECT_UNSET;
    return c;
}

static const char *dup_error(conf_ctx_t *cf, const conf_node_t *n)
{
    return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
}

static http_core_loc_conf_t *core_loc(conf_ctx_t *cf)
{
    return cf->http->loc_conf[http_core_module.index];
}

static const char *set_pass(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    if (c->has_pass)
        return dup_error(cf, n);
    http_core_loc_conf_t *clcf = core_loc(cf);
    char err[512];
    if (proxy_pass_parse(&c->pass, n->args[0].value, err, sizeof(err)) != PX_OK) {
        proxy_pass_free(&c->pass);
        return px_pstrdup(cf->pool, err, strlen(err));
    }
    c->has_pass = 1;
    c->location = clcf->name;
    c->location_kind = clcf->kind;
    if (c->pass.has_variables) {
        const char *e = http_cv_compile(cf, n->args[0].value, &c->pass_cv);
        if (e)
            return e;
    } else {
        /* bound at the end of http{}: the host may name an upstream{} defined later */
        proxy_target_t *t = px_pcalloc(cf->pool, sizeof(*t));
        proxy_main_conf_t *pmcf = cf->http->main_conf[proxy_http_module.index];
        pending_t *pt = px_array_push(&pmcf->pending);
        if (t == NULL || pt == NULL)
            return CONF_ERROR;
        t->file = n->file;
        t->line = n->line;
        pt->target = t;
        pt->pass = &c->pass;
        c->target = t;
    }
    if (proxy_pass_check_location(&c->pass, (http_location_kind_t)clcf->kind, clcf->noname, err, sizeof(err)) !=
        PX_OK)
        return px_pstrdup(cf->pool, err, strlen(err));
    if (proxy_pass_slash_warning(&c->pass, (http_location_kind_t)clcf->kind, clcf->name, err,
                                 sizeof(err)) == PX_DONE)
        conf_log(cf, PX_LOG_WARN, 0, "%s", err);
    clcf->content_handler = proxy_handler;
    clcf->auto_redirect = 1;
    return NULL;
}

static const char *set_header(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    if (c->set_headers == NULL) {
        c->set_headers = px_palloc(cf->pool, sizeof(px_array_t));
        px_array_init(c->set_headers, cf->pool, 4, sizeof(proxy_header_t));
    }
    proxy_header_t *h = px_array_push(c->set_headers);
    memset(h, 0, sizeof(*h));
    h->name = n->args[0].value;
    px_str_t v = n->args[1].value;
    h->literal_empty = v.len == 0;
    return http_cv_compile(cf, v, &h->value);
}

static const char *set_cv(conf_ctx_t *cf, const conf_node_t *n, int *flag, http_cv_t *cv)
{
    if (*flag != CONF_UNSET)
        return dup_error(cf, n);
    *flag = 1;
    return http_cv_compile(cf, n->args[0].value, cv);
}

static const char *set_body(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    return set_cv(cf, n, &c->has_set_body, &c->set_body);
}

static const char *set_method(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    return set_cv(cf, n, &c->has_method, &c->method);
}

static const char *set_str_list(conf_ctx_t *cf, const conf_node_t *n, px_array_t **list)
{
    if (*list == NULL) {
        *list = px_palloc(cf->pool, sizeof(px_array_t));
        px_array_init(*list, cf->pool, 4, sizeof(px_str_t));
    }
    *(px_str_t *)px_array_push(*list) = n->args[0].value;
    return NULL;
}

static const char *set_hide(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    return set_str_list(cf, n, &((proxy_loc_conf_t *)conf)->hide_headers);
}

static const char *set_pass_header(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                   void *conf)
{
    (void)d;
    return set_str_list(cf, n, &((proxy_loc_conf_t *)conf)->pass_headers);
}

static const char *set_version(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    if (c->http_version != CONF_UNSET)
        return dup_error(cf, n);
    px_str_t v = n->args[0].value;
    if (px_str_eq_lit(v, "1.0"))
        c->http_version = 1000;
    else if (px_str_eq_lit(v, "1.1"))
        c->http_version = 1001;
    else
        return px_psprintf(cf->pool, "invalid value \"%.*s\"", (int)v.len, v.data);
    return NULL;
}

static const char *set_ignore_headers(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                      void *conf)
{
    (void)d;
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"X-Accel-Redirect", PROXY_IGNORE_X_ACCEL_REDIRECT},
                 {"X-Accel-Expires", PROXY_IGNORE_X_ACCEL_EXPIRES},
                 {"X-Accel-Limit-Rate", PROXY_IGNORE_X_ACCEL_LIMIT_RATE},
                 {"X-Accel-Buffering", PROXY_IGNORE_X_ACCEL_BUFFERING},
                 {"X-Accel-Charset", PROXY_IGNORE_X_ACCEL_CHARSET},
                 {"Expires", PROXY_IGNORE_EXPIRES},
                 {"Cache-Control", PROXY_IGNORE_CACHE_CONTROL},
                 {"Set-Cookie", PROXY_IGNORE_SET_COOKIE},
                 {"Vary", PROXY_IGNORE_VARY},
                 {NULL, 0}};
    proxy_loc_conf_t *c = conf;
    if (c->ignore_headers_set)
        return dup_error(cf, n);
    c->ignore_headers_set = 1;
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        size_t k;
        for (k = 0; names[k].name; k++) {
            if (px_str_caseeq_lit(v, names[k].name))
                break;
        }
        if (names[k].name == NULL)
            return px_psprintf(cf->pool, "invalid value \"%.*s\"", (int)v.len, v.data);
        c->ignore_headers |= names[k].bit;
    }
    return NULL;
}

static const char *set_redirect(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    px_str_t a = n->args[0].value;
    if (n->nargs == 1) {
        if (px_str_eq_lit(a, "off")) {
            if (c->redirect_mode == PROXY_REDIRECT_ON && c->redirects && c->redirects->nelts)
                return px_psprintf(cf->pool, "invalid parameter \"off\"");
            c->redirect_mode = PROXY_REDIRECT_OFF;
            c->redirects = NULL;
            return NULL;
        }
        if (px_str_eq_lit(a, "false")) {
            c->redirect_mode = PROXY_REDIRECT_OFF;
            return NULL;
        }
        if (!px_str_eq_lit(a, "default"))
            return px_psprintf(cf->pool, "invalid parameter \"%.*s\"", (int)a.len, a.data);
        if (c->redirect_mode == PROXY_REDIRECT_OFF)
            return px_psprintf(cf->pool, "invalid parameter \"default\"");
        c->redirect_mode = PROXY_REDIRECT_ON;
        c->redirect_default = 1;
        return NULL;
    }
    if (c->redirect_mode == PROXY_REDIRECT_OFF)
        return px_psprintf(cf->pool, "invalid parameter \"%.*s\"", (int)a.len, a.data);
    c->redirect_mode = PROXY_REDIRECT_ON;
    if (c->redirects == NULL) {
        c->redirects = px_palloc(cf->pool, sizeof(px_array_t));
        px_array_init(c->redirects, cf->pool, 2, sizeof(proxy_redirect_t));
    }
    proxy_redirect_t *rd = px_array_push(c->redirects);
    memset(rd, 0, sizeof(*rd));
    const char *e = http_cv_compile(cf, n->args[1].value, &rd->replacement);
    if (e)
        return e;
    if (a.len && a.data[0] == '~') {
        int caseless = a.len > 1 && a.data[1] == '*';
        px_str_t pat = px_str_make(a.data + 1 + caseless, a.len - 1 - (size_t)caseless);
        http_regex_t *re;
        if (http_regex_compile(cf, pat, caseless, &re) != PX_OK)
            return CONF_ERROR;
        rd->regex = re;
        return NULL;
    }
    rd->from = a;
    return http_cv_compile(cf, a, &rd->from_cv);
}

static int has_name(const px_array_t *list, px_str_t name)
{
    const proxy_header_t *h = list ? list->elts : NULL;
    for (size_t i = 0; h && i < list->nelts; i++) {
        if (px_str_caseeq(h[i].name, name))
            return 1;
    }
    return 0;
}

/* The headers sent: the level's proxy_set_header list, then nginx's defaults for the
 * names it does not set. Content-Length and Transfer-Encoding defaults are filled in by
 * the request builder (empty literal here marks the name as taken). */
static const char *build_headers(conf_ctx_t *cf, proxy_loc_conf_t *c)
{
    static const struct {
        const char *name, *value;
    } defaults[] = {{"Host", "$proxy_host"}, {"Connection", NULL}, {"Content-Length", ""},
                    {"Transfer-Encoding", ""}, {"TE", ""},        {"Keep-Alive", ""},
                    {"Expect", ""},           {"Upgrade", ""}};
    px_array_t *list = px_palloc(cf->pool, sizeof(px_array_t));
    px_array_init(list, cf->pool, 12, sizeof(proxy_header_t));
    proxy_header_t *h = c->set_headers ? c->set_headers->elts : NULL;
    for (size_t i = 0; h && i < c->set_headers->nelts; i++)
        *(proxy_header_t *)px_array_push(list) = h[i];
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        px_str_t name = px_str_make(defaults[i].name, strlen(defaults[i].name));
        if (has_name(c->set_headers, name))
            continue;
        /* current nginx: HTTP/1.1 and no "Connection: close" unless HTTP/1.0 */
        const char *v = defaults[i].value ? defaults[i].value : c->http_version == 1000 ? "close" : "";
        proxy_header_t *nh = px_array_push(list);
        memset(nh, 0, sizeof(*nh));
        nh->name = name;
        nh->literal_empty = v[0] == '\0';
        const char *e = http_cv_compile(cf, px_str_make(v, strlen(v)), &nh->value);
        if (e)
            return e;
    }
    c->headers = list;
    return NULL;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    proxy_loc_conf_t *prev = parent, *c = child;
    http_core_loc_conf_t *clcf = cf->http ? cf->http->loc_conf[http_core_module.index] : NULL;
    if (clcf && clcf->noname && !c->has_pass && prev->has_pass) {
        /* an if () block proxies where its location does */
        c->has_pass = prev->has_pass;
        c->pass = prev->pass;
        c->pass_cv = prev->pass_cv;
        c->location = prev->location;
        c->location_kind = prev->location_kind;
        c->target = prev->target;
    }
    if (c->set_headers == NULL)
        c->set_headers = prev->set_headers;
    CONF_MERGE(c->http_version, prev->http_version, 1001);
    CONF_MERGE(c->pass_request_headers, prev->pass_request_headers, 1);
    CONF_MERGE(c->pass_request_body, prev->pass_request_body, 1);
    if (c->has_set_body == CONF_UNSET) {
        c->has_set_body = prev->has_set_body;
        c->set_body = prev->set_body;
    }
    if (c->has_method == CONF_UNSET) {
        c->has_method = prev->has_method;
        c->method = prev->method;
    }
    if (c->hide_headers == NULL)
        c->hide_headers = prev->hide_headers;
    if (c->pass_headers == NULL)
        c->pass_headers = prev->pass_headers;
    if (!c->ignore_headers_set) {
        c->ignore_headers = prev->ignore_headers;
        c->ignore_headers_set = prev->ignore_headers_set;
    }
    if (c->connect_timeout < 0)
        c->connect_timeout = prev->connect_timeout < 0 ? 60000 : prev->connect_timeout;
    if (c->read_timeout < 0)
        c->read_timeout = prev->read_timeout < 0 ? 60000 : prev->read_timeout;
    if (c->send_timeout < 0)
        c->send_timeout = prev->send_timeout < 0 ? 60000 : prev->send_timeout;
    CONF_MERGE(c->buffering, prev->buffering, 1);
    CONF_MERGE(c->request_buffering, prev->request_buffering, 1);
    CONF_MERGE_SIZE(c->buffer_size, prev->buffer_size, 4096);
    if (c->buffers.num == 0)
        c->buffers = prev->buffers.num ? prev->buffers : (conf_bufs_t){8, 4096};
    if (c->buffers.num < 2)
        return "there must be at least 2 \"proxy_buffers\"";
    size_t size = c->buffer_size > c->buffers.size ? c->buffer_size : c->buffers.size;
    CONF_MERGE_SIZE(c->busy_buffers_size, prev->busy_buffers_size, 2 * size);
    if (c->busy_buffers_size < size)
        return "\"proxy_busy_buffers_size\" must be equal to or greater than the maximum of the "
               "value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"";
    if (c->busy_buffers_size > (size_t)(c->buffers.num - 1) * c->buffers.size)
        return "\"proxy_busy_buffers_size\" must be less than the size of all \"proxy_buffers\" "
               "minus one buffer";
    CONF_MERGE_SIZE(c->temp_file_write_size, prev->temp_file_write_size, 2 * size);
    if (c->temp_file_write_size < size)
        return "\"proxy_temp_file_write_size\" must be equal to or greater than the maximum of "
               "the value of \"proxy_buffer_size\" and one of the \"proxy_buffers\"";
    if (c->max_temp_file_size < 0)
        c->max_temp_file_size = prev->max_temp_file_size < 0 ? 1024 * 1024 * 1024 : prev->max_temp_file_size;
    if (c->max_temp_file_size != 0 && (size_t)c->max_temp_file_size < size)
        return "\"proxy_max_temp_file_size\" must be equal to zero to disable temporary files "
               "usage or must be equal to or greater than the maximum of the value of "
               "\"proxy_buffer_size\" and one of the \"proxy_buffers\"";
    if (c->temp_path.len == 0) {
        if (prev->temp_path.len == 0) {
            char *p = px_psprintf(cf->pool, "%sproxy_temp", cf->cycle->prefix);
            prev->temp_path = px_str_make(p, strlen(p));
        }
        c->temp_path = prev->temp_path;
    }
    CONF_MERGE(c->intercept_errors, prev->intercept_errors, 0);
    CONF_MERGE(c->next_upstream, prev->next_upstream, (int)(PROXY_NEXT_ERROR | PROXY_NEXT_TIMEOUT));
    CONF_MERGE(c->next_upstream_tries, prev->next_upstream_tries, 0);
    if (c->next_upstream_timeout < 0)
        c->next_upstream_timeout = prev->next_upstream_timeout < 0 ? 0 : prev->next_upstream_timeout;
    CONF_MERGE(c->ignore_client_abort, prev->ignore_client_abort, 0);
    if (c->redirect_mode == PROXY_REDIRECT_UNSET) {
        c->redirect_mode = prev->redirect_mode;
        c->redirects = prev->redirects;
        c->redirect_default = prev->redirect_default;
    }
    if (c->redirect_mode == PROXY_REDIRECT_UNSET) {
        c->redirect_mode = PROXY_REDIRECT_ON;
        c->redirect_default = 1;
    }
    if (c->redirect_default && c->has_pass && c->pass.has_variables && c->redirects == NULL &&
        c->redirect_mode == PROXY_REDIRECT_ON && prev->redirect_mode == PROXY_REDIRECT_UNSET) {
        /* the implicit default cannot be computed for a target known only per request:
         * nginx then does no rewriting */
        c->redirect_default = 0;
    }
    return build_headers(cf, c);
}

static int preconfiguration(conf_ctx_t *cf)
{
    return proxy_define_variables(cf);
}

/* A literal target becomes a group: the upstream{} of its name when it has no port (nginx),
 * else the addresses its host resolves to. Hash keys of the groups are compiled here, as
 * values of this http{}. */
static int postconfiguration(conf_ctx_t *cf)
{
    proxy_main_conf_t *m = cf->http->main_conf[proxy_http_module.index];
    pending_t *pt = m->pending.elts;
    for (size_t i = 0; i < m->pending.nelts; i++) {
        proxy_pass_t *pass = pt[i].pass;
        ups_group_conf_t *g = NULL;
        if (!pass->no_port && ups_group_find(cf, pass->host)) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "upstream \"%.*s\" may not have port %u in %s:%u",
                         (int)pass->host.len, pass->host.data, pass->port, pt[i].target->file,
                         pt[i].target->line);
            return PX_ERROR;
        }
        if (pass->url.family == AF_UNSPEC) {
            g = pass->no_port ? ups_group_find(cf, pass->host) : NULL;
            char err[512];
            if (g == NULL && px_addr_resolve_upstream(&pass->url, err, sizeof(err)) != PX_OK) {
                px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", err, pt[i].target->file,
                             pt[i].target->line);
                return PX_ERROR;
            }
        }
        if (g == NULL)
            g = ups_group_implicit(cf, pass->host, pass->url.addrs, pass->url.naddrs,
                                   pt[i].target->file, pt[i].target->line);
        if (g == NULL || (pt[i].target->ups = ups_upstream_of(cf, g)) == NULL)
            return PX_ERROR;
    }
    px_array_t *groups = ups_groups(cf);
    m->groups = groups;
    ups_group_conf_t **g = groups->elts;
    for (size_t i = 0; i < groups->nelts; i++) {
        if (g[i]->hash_key.len == 0)
            continue;
        http_cv_t *cv = px_palloc(cf->pool, sizeof(*cv));
        if (cv == NULL)
            return PX_ERROR;
        const char *rv = http_cv_compile(cf, g[i]->hash_key, cv);
        if (rv) {
            if (rv != CONF_ERROR)
                px_log_error(PX_LOG_EMERG, NULL, 0, "%s in %s:%u", rv, g[i]->file, g[i]->line);
            return PX_ERROR;
        }
        g[i]->hash_key_compiled = cv;
    }
    return PX_OK;
}

static const conf_enum_t next_upstream_values[] = {
    {"error", PROXY_NEXT_ERROR},           {"timeout", PROXY_NEXT_TIMEOUT},
    {"invalid_header", PROXY_NEXT_INVALID_HEADER}, {"http_500", PROXY_NEXT_HTTP_500},
    {"http_502", PROXY_NEXT_HTTP_502},     {"http_503", PROXY_NEXT_HTTP_503},
    {"http_504", PROXY_NEXT_HTTP_504},     {"http_403", PROXY_NEXT_HTTP_403},
    {"http_404", PROXY_NEXT_HTTP_404},     {"http_429", PROXY_NEXT_HTTP_429},
    {"non_idempotent", PROXY_NEXT_NON_IDEMPOTENT}, {"off", PROXY_NEXT_OFF},
    {NULL, 0}};

/* proxy_next_upstream error | timeout | ... | off */
static const char *set_next_upstream(conf_ctx_t *cf, const conf_node_t *n,
                                     const conf_directive_t *d, void *conf)
{
    (void)d;
    proxy_loc_conf_t *c = conf;
    if (c->next_upstream != CONF_UNSET)
        return dup_error(cf, n);
    unsigned bits = 0;
    for (size_t i = 0; i < n->nargs; i++) {
        const conf_enum_t *e = next_upstream_values;
        while (e->name && !px_str_eq_lit(n->args[i].value, e->name))
            e++;
        if (e->name == NULL)
            return px_psprintf(cf->pool, "invalid value \"%s\"", n->args[i].value.data);
        bits |= (unsigned)e->value;
    }
    /* "off" anywhere wins over the other values, as nginx's merge has it */
    c->next_upstream = (int)(bits & PROXY_NEXT_OFF ? PROXY_NEXT_OFF : bits);
    return NULL;
}

static const conf_directive_t proxy_directives[] = {
    {"proxy_pass", CONF_LOC | CONF_LIF | CONF_LMT, CONF_TAKE1, set_pass, CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_set_header", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE2, set_header, CONF_HTTP_LOC_CONF,
     0, NULL},
    {"proxy_http_version", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_version,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_pass_request_headers", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, pass_request_headers), NULL},
    {"proxy_pass_request_body", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, pass_request_body), NULL},
    {"proxy_set_body", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_body, CONF_HTTP_LOC_CONF, 0,
     NULL},
    {"proxy_method", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_method, CONF_HTTP_LOC_CONF, 0,
     NULL},
    {"proxy_hide_header", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_hide, CONF_HTTP_LOC_CONF, 0,
     NULL},
    {"proxy_pass_header", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, set_pass_header,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_ignore_headers", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_1MORE, set_ignore_headers,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_connect_timeout", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_msec,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, connect_timeout), NULL},
    {"proxy_read_timeout", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_msec,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, read_timeout), NULL},
    {"proxy_send_timeout", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_msec,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, send_timeout), NULL},
    {"proxy_buffering", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag, CONF_HTTP_LOC_CONF,
     offsetof(proxy_loc_conf_t, buffering), NULL},
    {"proxy_request_buffering", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, request_buffering), NULL},
    {"proxy_buffer_size", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_size,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, buffer_size), NULL},
    {"proxy_buffers", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE2, conf_set_bufs, CONF_HTTP_LOC_CONF,
     offsetof(proxy_loc_conf_t, buffers), NULL},
    {"proxy_busy_buffers_size", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_size,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, busy_buffers_size), NULL},
    {"proxy_max_temp_file_size", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_off,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, max_temp_file_size), NULL},
    {"proxy_temp_file_write_size", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_size,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, temp_file_write_size), NULL},
    {"proxy_temp_path", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1234, conf_set_temp_path,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, temp_path), NULL},
    {"proxy_next_upstream", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_1MORE, set_next_upstream,
     CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_next_upstream_tries", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_num,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, next_upstream_tries), NULL},
    {"proxy_next_upstream_timeout", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE1, conf_set_msec,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, next_upstream_timeout), NULL},
    {"proxy_intercept_errors", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, intercept_errors), NULL},
    {"proxy_ignore_client_abort", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_FLAG, conf_set_flag,
     CONF_HTTP_LOC_CONF, offsetof(proxy_loc_conf_t, ignore_client_abort), NULL},
    {"proxy_redirect", CONF_HTTP | CONF_SRV | CONF_LOC, CONF_TAKE12, set_redirect, CONF_HTTP_LOC_CONF,
     0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL}};

conf_module_t proxy_http_module = {
    .name = "proxy_http",
    .directives = proxy_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .preconfiguration = preconfiguration,
    .create_main_conf = create_main_conf,
    .postconfiguration = postconfiguration,
};

/* ---- what the runtime asks of the configuration ---- */

int proxy_header_hidden(const proxy_loc_conf_t *conf, px_str_t name)
{
    static const char *const hidden[] = {"Date",          "Server",           "X-Pad",
                                         "X-Accel-Expires", "X-Accel-Redirect", "X-Accel-Limit-Rate",
                                         "X-Accel-Buffering", "X-Accel-Charset", NULL};
    const px_str_t *s;
    if (conf->pass_headers) {
        s = conf->pass_headers->elts;
        for (size_t i = 0; i < conf->pass_headers->nelts; i++) {
            if (px_str_caseeq(s[i], name))
                return 0;
        }
    }
    for (size_t i = 0; hidden[i]; i++) {
        if (px_str_caseeq_lit(name, hidden[i]))
            return 1;
    }
    if (conf->hide_headers) {
        s = conf->hide_headers->elts;
        for (size_t i = 0; i < conf->hide_headers->nelts; i++) {
            if (px_str_caseeq(s[i], name))
                return 1;
        }
    }
    return 0;
}

ups_upstream_t *proxy_find_upstream(http_request_t *r, px_str_t name)
{
    proxy_main_conf_t *m = http_get_module_main_conf(r, proxy_http_module);
    ups_group_conf_t **g = m->groups ? m->groups->elts : NULL;
    for (size_t i = 0; g && i < m->groups->nelts; i++) {
        if (!g[i]->implicit && px_str_caseeq(g[i]->name, name))
            return g[i]->runtime;
    }
    return NULL;
}

px_array_t *proxy_groups(http_request_t *r)
{
    proxy_main_conf_t *m = http_get_module_main_conf(r, proxy_http_module);
    return m->groups;
}
