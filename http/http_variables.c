/* Variables ($host, $http_NAME, ...) and compiled values with variables: names are bound to
 * definitions once at the end of http{}, values are computed on first read and cached per
 * request unless a variable changes during a request ($uri, $args, $status). */
#include "http/http_variables.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/px_addr.h"
#include "core/px_time.h"

/* A definition as stored in cmcf->variables; cmcf->var_index holds pointers to these. */
typedef struct {
    http_var_def_t def;
    http_var_set_fn set;
} var_entry_t;

static http_core_main_conf_t *conf_main(conf_ctx_t *cf)
{
    return cf->http->main_conf[http_core_module.index];
}

static http_core_main_conf_t *request_main(http_request_t *r)
{
    return r->main_conf[http_core_module.index];
}

/* The variable arrays of the main conf belong to this file: set up on first use. */
static int ensure_arrays(conf_ctx_t *cf, http_core_main_conf_t *cmcf)
{
    if (cmcf->variables.elts == NULL &&
        px_array_init(&cmcf->variables, cf->pool, 128, sizeof(var_entry_t)) != PX_OK)
        return PX_ERROR;
    if (cmcf->used_vars.elts == NULL &&
        px_array_init(&cmcf->used_vars, cf->pool, 32, sizeof(px_str_t)) != PX_OK)
        return PX_ERROR;
    if (cmcf->var_index.elts == NULL &&
        px_array_init(&cmcf->var_index, cf->pool, 32, sizeof(var_entry_t *)) != PX_OK)
        return PX_ERROR;
    return PX_OK;
}

static px_str_t lower_dup(px_pool_t *pool, px_str_t s)
{
    char *p = px_palloc(pool, s.len + 1);
    if (p == NULL)
        return PX_NULL_STR;
    for (size_t i = 0; i < s.len; i++)
        p[i] = px_tolower(s.data[i]);
    p[s.len] = '\0';
    return px_str_make(p, s.len);
}

/* ---- definitions and indexes ---- */

static int get_unset(http_request_t *r, http_var_value_t *v, uintptr_t data);

int http_var_define_settable(conf_ctx_t *cf, const http_var_def_t *def, http_var_set_fn set)
{
    http_core_main_conf_t *cmcf = conf_main(cf);
    if (ensure_arrays(cf, cmcf) != PX_OK)
        return PX_ERROR;
    unsigned prefix = def->flags & HTTP_VAR_PREFIX;
    var_entry_t *e = cmcf->variables.elts;
    for (size_t i = 0; i < cmcf->variables.nelts; i++) {
        if ((e[i].def.flags & HTTP_VAR_PREFIX) != prefix ||
            !px_str_caseeq(e[i].def.name, def->name))
            continue;
        if (!(e[i].def.flags & HTTP_VAR_CHANGEABLE)) {
            conf_log(cf, PX_LOG_EMERG, 0, "the duplicate \"%.*s\" variable", (int)def->name.len,
                     def->name.data);
            return PX_ERROR;
        }
        /* a later map (or a map after `set`) takes the value over, as in nginx; a capture
         * name defined afterwards does not */
        if (def->get != get_unset && def->get != NULL) {
            e[i].def.get = def->get;
            e[i].def.data = def->data;
        }
        return PX_OK;
    }
    px_str_t name = lower_dup(cf->pool, def->name);
    var_entry_t *ne = px_array_push(&cmcf->variables);
    if (name.data == NULL || ne == NULL)
        return PX_ERROR;
    ne->def = *def;
    ne->def.name = name;
    ne->set = set;
    return PX_OK;
}

int http_var_define(conf_ctx_t *cf, const http_var_def_t *def)
{
    return http_var_define_settable(cf, def, NULL);
}

int http_var_define_all(conf_ctx_t *cf, const http_var_def_t *defs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (http_var_define(cf, &defs[i]) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

int http_var_index(conf_ctx_t *cf, px_str_t name)
{
    http_core_main_conf_t *cmcf = conf_main(cf);
    if (ensure_arrays(cf, cmcf) != PX_OK)
        return -1;
    if (name.len == 0) {
        conf_log(cf, PX_LOG_EMERG, 0, "invalid variable name \"$\"");
        return -1;
    }
    px_str_t *used = cmcf->used_vars.elts;
    for (size_t i = 0; i < cmcf->used_vars.nelts; i++) {
        if (px_str_caseeq(used[i], name))
            return (int)i;
    }
    px_str_t *slot = px_array_push(&cmcf->used_vars);
    if (slot == NULL)
        return -1;
    *slot = lower_dup(cf->pool, name);
    return slot->data ? (int)cmcf->used_vars.nelts - 1 : -1;
}

static var_entry_t *find_exact(http_core_main_conf_t *cmcf, px_str_t name)
{
    var_entry_t *e = cmcf->variables.elts;
    for (size_t i = 0; i < cmcf->variables.nelts; i++) {
        if (!(e[i].def.flags & HTTP_VAR_PREFIX) && px_str_caseeq(e[i].def.name, name))
            return &e[i];
    }
    return NULL;
}

static var_entry_t *find_prefix(http_core_main_conf_t *cmcf, px_str_t name)
{
    var_entry_t *e = cmcf->variables.elts;
    for (size_t i = 0; i < cmcf->variables.nelts; i++) {
        if ((e[i].def.flags & HTTP_VAR_PREFIX) && name.len >= e[i].def.name.len &&
            px_str_caseeq(e[i].def.name, px_str_make(name.data, e[i].def.name.len)))
            return &e[i];
    }
    return NULL;
}

/* A member of a prefix family as a definition of its own, its getter told the suffix. */
static var_entry_t *bind_prefix(px_pool_t *pool, const var_entry_t *family, px_str_t name)
{
    var_entry_t *e = px_palloc(pool, sizeof(*e));
    http_var_prefix_arg_t *arg = px_palloc(pool, sizeof(*arg));
    if (e == NULL || arg == NULL)
        return NULL;
    arg->suffix = px_str_make(name.data + family->def.name.len, name.len - family->def.name.len);
    arg->data = family->def.data;
    *e = *family;
    e->def.name = name;
    e->def.data = (uintptr_t)arg;
    e->def.flags &= ~HTTP_VAR_PREFIX;
    return e;
}

int http_variables_resolve(conf_ctx_t *cf)
{
    http_core_main_conf_t *cmcf = conf_main(cf);
    if (ensure_arrays(cf, cmcf) != PX_OK)
        return PX_ERROR;
    px_str_t *used = cmcf->used_vars.elts;
    for (size_t i = cmcf->var_index.nelts; i < cmcf->used_vars.nelts; i++) {
        var_entry_t *e = find_exact(cmcf, used[i]);
        if (e == NULL) {
            var_entry_t *family = find_prefix(cmcf, used[i]);
            if (family)
                e = bind_prefix(cf->pool, family, used[i]);
            else {
                const conf_node_t *saved = cf->node;
                cf->node = NULL;
                conf_log(cf, PX_LOG_EMERG, 0, "unknown \"%.*s\" variable", (int)used[i].len,
                         used[i].data);
                cf->node = saved;
                return PX_ERROR;
            }
        }
        var_entry_t **slot = px_array_push(&cmcf->var_index);
        if (e == NULL || slot == NULL)
            return PX_ERROR;
        *slot = e;
    }
    return PX_OK;
}

/* ---- request time ---- */

int http_variables_request_init(http_request_t *r)
{
    size_t n = request_main(r)->var_index.nelts;
    r->vars = px_pcalloc(r->pool, (n ? n : 1) * sizeof(http_var_value_t));
    return r->vars ? PX_OK : PX_ERROR;
}

static var_entry_t *entry_at(http_request_t *r, int index)
{
    http_core_main_conf_t *cmcf = request_main(r);
    if (index < 0 || (size_t)index >= cmcf->var_index.nelts)
        return NULL;
    if (r->vars == NULL && http_variables_request_init(r) != PX_OK)
        return NULL;
    return ((var_entry_t **)cmcf->var_index.elts)[index];
}

static http_var_value_t *evaluate(http_request_t *r, const var_entry_t *e, http_var_value_t *v)
{
    http_var_value_t nv = {PX_NULL_STR, 0, 0, 0};
    if (e->def.get(r, &nv, e->def.data) != PX_OK)
        return NULL;
    nv.valid = 1;
    if (e->def.flags & HTTP_VAR_NOCACHEABLE)
        nv.no_cacheable = 1;
    *v = nv;
    return nv.not_found ? NULL : v;
}

http_var_value_t *http_var_get(http_request_t *r, int index)
{
    var_entry_t *e = entry_at(r, index);
    if (e == NULL)
        return NULL;
    http_var_value_t *v = &r->vars[index];
    if (v->valid && !v->no_cacheable)
        return v->not_found ? NULL : v;
    if (e->def.get == NULL) {
        if (r->loc && !r->loc->uninitialized_variable_warn)
            return NULL;
        px_log_error(PX_LOG_WARN, &r->log, 0, "using uninitialized \"%.*s\" variable",
                     (int)e->def.name.len, e->def.name.data);
        return NULL;
    }
    return evaluate(r, e, v);
}

http_var_value_t *http_var_get_by_name(http_request_t *r, px_str_t name)
{
    http_core_main_conf_t *cmcf = request_main(r);
    px_str_t *used = cmcf->used_vars.elts;
    for (size_t i = 0; i < cmcf->var_index.nelts; i++) {
        if (px_str_caseeq(used[i], name))
            return http_var_get(r, (int)i);
    }
    /* Not referenced by the configuration: computed without caching. */
    px_str_t lname = lower_dup(r->pool, name);
    if (lname.data == NULL)
        return NULL;
    const var_entry_t *e = find_exact(cmcf, lname);
    if (e == NULL) {
        const var_entry_t *family = find_prefix(cmcf, lname);
        if (family == NULL || (e = bind_prefix(r->pool, family, lname)) == NULL)
            return NULL;
    }
    http_var_value_t *v = px_pcalloc(r->pool, sizeof(*v));
    if (v == NULL || e->def.get == NULL)
        return NULL;
    return evaluate(r, e, v);
}

int http_var_set(http_request_t *r, int index, px_str_t value)
{
    var_entry_t *e = entry_at(r, index);
    if (e == NULL)
        return PX_ERROR;
    if (e->set) {
        e->set(r, value, e->def.data);
        return PX_OK;
    }
    http_var_value_t *v = &r->vars[index];
    v->value = value;
    v->valid = 1;
    v->not_found = 0;
    v->no_cacheable = 0;
    return PX_OK;
}

px_str_t http_var_name(http_request_t *r, int index)
{
    http_core_main_conf_t *cmcf = request_main(r);
    if (index < 0 || (size_t)index >= cmcf->used_vars.nelts)
        return PX_STR("");
    return ((px_str_t *)cmcf->used_vars.elts)[index];
}

/* ---- lookups ---- */

int http_arg(http_request_t *r, px_str_t name, px_str_t *value)
{
    const char *args = r->args.data;
    size_t len = r->args.len;
    if (args == NULL || name.len == 0)
        return 0;
    for (size_t i = 0; i + name.len < len; i++) {
        if (i > 0 && args[i - 1] != '&')
            continue;
        if (args[i + name.len] != '=' || !px_str_caseeq(px_str_make(args + i, name.len), name))
            continue;
        size_t start = i + name.len + 1, end = start;
        while (end < len && args[end] != '&')
            end++;
        *value = px_str_make(args + start, end - start);
        return 1;
    }
    return 0;
}

/* nginx's reading of Cookie headers: "a=1; b=2", also split at ',', spaces skipped around
 * names and after '='; a value runs to the next ';'. */
static int cookie_in(px_str_t header, px_str_t name, px_str_t *value)
{
    const char *p = header.data, *end = header.data + header.len;
    while (p < end) {
        if ((size_t)(end - p) >= name.len && px_str_caseeq(px_str_make(p, name.len), name)) {
            const char *q = p + name.len;
            while (q < end && *q == ' ')
                q++;
            if (q < end && *q == '=') {
                q++;
                while (q < end && *q == ' ')
                    q++;
                const char *last = q;
                while (last < end && *last != ';')
                    last++;
                *value = px_str_make(q, (size_t)(last - q));
                return 1;
            }
        }
        while (p < end) {
            char ch = *p++;
            if (ch == ';' || ch == ',')
                break;
        }
        while (p < end && *p == ' ')
            p++;
    }
    return 0;
}

int http_cookie(http_request_t *r, px_str_t name, px_str_t *value)
{
    if (name.len == 0)
        return 0;
    http_header_t *h = r->headers.elts;
    for (size_t i = 0; i < r->headers.nelts; i++) {
        if (px_str_caseeq_lit(h[i].name, "cookie") && cookie_in(h[i].value, name, value))
            return 1;
    }
    return 0;
}

/* Header name as a variable suffix names it: case-insensitive, '-' written as '_'. */
static int header_is_var(px_str_t header, px_str_t suffix)
{
    if (header.len != suffix.len)
        return 0;
    for (size_t i = 0; i < header.len; i++) {
        char ch = px_tolower(header.data[i]);
        if (ch == '-')
            ch = '_';
        if (ch != suffix.data[i])
            return 0;
    }
    return 1;
}

/* Joins the values of every header that matches, as current nginx does. var_style: name is
 * a variable suffix (lowercase, '_' for '-'), else compared case-insensitively. */
static int join_headers(http_request_t *r, const px_array_t *headers, px_str_t name,
                        int var_style, const char *sep, px_str_t *out)
{
    const http_header_t *h = headers->elts;
    size_t count = 0, total = 0, first = 0, seplen = strlen(sep);
    if (h == NULL)
        return 0;
    for (size_t i = 0; i < headers->nelts; i++) {
        int match = var_style ? header_is_var(h[i].name, name) : px_str_caseeq(h[i].name, name);
        if (!match)
            continue;
        if (count++ == 0)
            first = i;
        total += h[i].value.len + seplen;
    }
    if (count == 0)
        return 0;
    if (count == 1) {
        *out = h[first].value;
        return 1;
    }
    char *buf = px_palloc(r->pool, total);
    if (buf == NULL)
        return 0;
    size_t pos = 0;
    for (size_t i = first; i < headers->nelts; i++) {
        int match = var_style ? header_is_var(h[i].name, name) : px_str_caseeq(h[i].name, name);
        if (!match)
            continue;
        if (pos) {
            memcpy(buf + pos, sep, seplen);
            pos += seplen;
        }
        memcpy(buf + pos, h[i].value.data, h[i].value.len);
        pos += h[i].value.len;
    }
    *out = px_str_make(buf, pos);
    return 1;
}

int http_request_header(http_request_t *r, px_str_t name, px_str_t *value)
{
    const char *sep = px_str_caseeq_lit(name, "cookie") ? "; " : ", ";
    return join_headers(r, &r->headers, name, 0, sep, value);
}

/* ---- getters ---- */

static void set_value(http_var_value_t *v, px_str_t s)
{
    v->value = s;
}

static int set_printf(http_request_t *r, http_var_value_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_printf(http_request_t *r, http_var_value_t *v, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return PX_ERROR;
    v->value = px_pstr(r->pool, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    return v->value.data ? PX_OK : PX_ERROR;
}

/* A px_str_t field of the request (data = its offset); empty means not found, as nginx
 * reports $args for "/?" and "/" alike. */
static int get_request_str(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const px_str_t *s = (const px_str_t *)((const char *)r + data);
    if (s->data == NULL || s->len == 0)
        v->not_found = 1;
    else
        set_value(v, *s);
    return PX_OK;
}

static void set_args(http_request_t *r, px_str_t value, uintptr_t data)
{
    (void)data;
    r->args = value;
    r->args_set = 1;
}

static int get_is_args(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    set_value(v, r->args.len ? PX_STR("?") : PX_STR(""));
    return PX_OK;
}

static int get_host(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->host.len)
        set_value(v, r->host);
    else
        set_value(v, r->srv ? r->srv->server_name : PX_STR(""));
    return PX_OK;
}

static int get_server_name(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    set_value(v, r->srv ? r->srv->server_name : PX_STR(""));
    return PX_OK;
}

static int get_const(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)r;
    set_value(v, *(const px_str_t *)data);
    return PX_OK;
}

static int get_scheme(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    set_value(v, r->conn && r->conn->ssl ? PX_STR("https") : PX_STR("http"));
    return PX_OK;
}

static int get_http_prefix(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    const char *sep = px_str_eq_lit(arg->suffix, "cookie") ? "; " : ", ";
    if (!join_headers(r, &r->headers, arg->suffix, 1, sep, &v->value))
        v->not_found = 1;
    return PX_OK;
}

static int get_sent_http_prefix(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    px_str_t s = arg->suffix;
    if (px_str_eq_lit(s, "content_type") && r->content_type.len) {
        set_value(v, r->content_type);
        return PX_OK;
    }
    if (px_str_eq_lit(s, "content_length") && r->out_content_length >= 0)
        return set_printf(r, v, "%lld", (long long)r->out_content_length);
    if (px_str_eq_lit(s, "location") && r->location.len) {
        set_value(v, r->location);
        return PX_OK;
    }
    if (px_str_eq_lit(s, "transfer_encoding") && r->chunked_out) {
        set_value(v, PX_STR("chunked"));
        return PX_OK;
    }
    if (px_str_eq_lit(s, "connection") && r->header_sent) {
        set_value(v, r->status == 101  ? PX_STR("upgrade")
                     : r->keepalive_out ? PX_STR("keep-alive")
                                        : PX_STR("close"));
        return PX_OK;
    }
    if (!join_headers(r, &r->out_headers, s, 1, ", ", &v->value))
        v->not_found = 1;
    return PX_OK;
}

static int get_arg_prefix(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    if (!http_arg(r, arg->suffix, &v->value))
        v->not_found = 1;
    return PX_OK;
}

static int get_cookie_prefix(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    if (!http_cookie(r, arg->suffix, &v->value))
        v->not_found = 1;
    return PX_OK;
}

static int header_value(http_header_t *h, http_var_value_t *v)
{
    if (h == NULL)
        v->not_found = 1;
    else
        set_value(v, h->value);
    return PX_OK;
}

static int get_content_type(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    return header_value(r->h_content_type, v);
}

static int get_content_length(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->h_content_length)
        return header_value(r->h_content_length, v);
    /* A chunked body's length is known once it has been read. */
    if (r->chunked_in && r->body_done && r->content_length_n >= 0)
        return set_printf(r, v, "%lld", (long long)r->content_length_n);
    v->not_found = 1;
    return PX_OK;
}

static int addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static int addr_text(http_request_t *r, const struct sockaddr *sa, socklen_t len,
                     http_var_value_t *v)
{
    char buf[PX_ADDR_TEXT_SIZE];
    size_t n = px_addr_to_text(sa, len, 0, buf, sizeof(buf));
    v->value = px_pstr(r->pool, buf, n);
    return v->value.data ? PX_OK : PX_ERROR;
}

static int get_remote_addr(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    return addr_text(r, (const struct sockaddr *)&r->conn->peer, r->conn->peer_len, v);
}

static int get_binary_remote_addr(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    const struct sockaddr_storage *ss = &r->conn->peer;
    if (ss->ss_family == AF_INET)
        set_value(v, px_str_make((const char *)&((const struct sockaddr_in *)ss)->sin_addr, 4));
    else if (ss->ss_family == AF_INET6)
        set_value(v, px_str_make((const char *)&((const struct sockaddr_in6 *)ss)->sin6_addr, 16));
    else
        set_value(v, PX_STR(""));
    return PX_OK;
}

static int get_port(http_request_t *r, http_var_value_t *v, int port)
{
    if (port <= 0) {
        set_value(v, PX_STR(""));
        return PX_OK;
    }
    return set_printf(r, v, "%d", port);
}

static int get_remote_port(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    return get_port(r, v, addr_port((const struct sockaddr *)&r->conn->peer));
}

static int get_server_addr(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    socklen_t len;
    const struct sockaddr *sa = px_conn_local(r->conn, &len);
    if (sa == NULL)
        return PX_ERROR;
    return addr_text(r, sa, len, v);
}

static int get_server_port(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    socklen_t len;
    const struct sockaddr *sa = px_conn_local(r->conn, &len);
    if (sa == NULL)
        return PX_ERROR;
    return get_port(r, v, addr_port(sa));
}

static int get_server_protocol(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->http_version < 1000) {
        v->not_found = 1;
        return PX_OK;
    }
    return set_printf(r, v, "HTTP/%d.%d", r->http_major, r->http_minor);
}

static int get_status(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    int status = r->err_status ? r->err_status : r->status;
    return set_printf(r, v, "%03d", status);
}

static int get_u64(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    uint64_t n = *(const uint64_t *)((const char *)r + data);
    return set_printf(r, v, "%llu", (unsigned long long)n);
}

static int get_body_bytes_sent(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    uint64_t body = r->bytes_sent > r->header_bytes_sent ? r->bytes_sent - r->header_bytes_sent : 0;
    return set_printf(r, v, "%llu", (unsigned long long)body);
}

static int get_request_time(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    int64_t ms = ((int64_t)px_current_sec - (int64_t)r->start_sec) * 1000 +
                 ((int64_t)px_current_msec_part - (int64_t)r->start_msec_part);
    if (ms < 0)
        ms = 0;
    return set_printf(r, v, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

static int get_msec(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    return set_printf(r, v, "%lld.%03u", (long long)px_current_sec, px_current_msec_part);
}

/* data: the px_time function giving the cached string, copied since it changes each second. */
static int get_time_str(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    px_str_t (*fn)(void) = (px_str_t(*)(void))data;
    px_str_t s = fn();
    v->value = px_pstr(r->pool, s.data, s.len);
    return v->value.data ? PX_OK : PX_ERROR;
}

static int get_request_id(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    if (r->request_id[0] == '\0') {
        unsigned char raw[16];
        if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw)) {
            for (size_t i = 0; i < sizeof(raw); i++)
                raw[i] = (unsigned char)random();
        }
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < sizeof(raw); i++) {
            r->request_id[2 * i] = hex[raw[i] >> 4];
            r->request_id[2 * i + 1] = hex[raw[i] & 0xf];
        }
        r->request_id[32] = '\0';
    }
    set_value(v, px_str_make(r->request_id, 32));
    return PX_OK;
}

static int get_connection(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    if (r->conn == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    unsigned long n = data ? r->conn->requests : r->conn->number;
    return set_printf(r, v, "%lu", n);
}

static int get_pid(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    return set_printf(r, v, "%d", (int)getpid());
}

static int base64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes src up to its first '=', rejecting what nginx's decoder rejects. */
static int base64_decode(px_pool_t *pool, px_str_t src, px_str_t *out)
{
    size_t len = 0;
    while (len < src.len && src.data[len] != '=') {
        if (base64_value(src.data[len]) < 0)
            return PX_ERROR;
        len++;
    }
    if (len % 4 == 1)
        return PX_ERROR;
    char *buf = px_palloc(pool, len * 3 / 4 + 1);
    if (buf == NULL)
        return PX_ERROR;
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6) | (unsigned)base64_value(src.data[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    *out = px_str_make(buf, n);
    return PX_OK;
}

static int get_remote_user(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    v->not_found = 1;
    px_str_t auth;
    if (!http_request_header(r, PX_STR("authorization"), &auth) || auth.len < 6 ||
        !px_str_caseeq_lit(px_str_make(auth.data, 6), "basic "))
        return PX_OK;
    auth.data += 6;
    auth.len -= 6;
    while (auth.len && auth.data[0] == ' ') {
        auth.data++;
        auth.len--;
    }
    px_str_t decoded;
    if (auth.len == 0 || base64_decode(r->pool, auth, &decoded) != PX_OK)
        return PX_OK;
    const char *colon = memchr(decoded.data, ':', decoded.len);
    if (colon == NULL || colon == decoded.data)
        return PX_OK;
    v->not_found = 0;
    set_value(v, px_str_make(decoded.data, (size_t)(colon - decoded.data)));
    return PX_OK;
}

/* Named captures read as not found until a regex that names them matches. */
static int get_unset(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)r;
    (void)data;
    v->not_found = 1;
    return PX_OK;
}

int http_variables_preconfigure(conf_ctx_t *cf)
{
    if (ensure_arrays(cf, conf_main(cf)) != PX_OK)
        return PX_ERROR;

    char host[256];
    if (gethostname(host, sizeof(host)) < 0) {
        conf_log(cf, PX_LOG_EMERG, errno, "gethostname() failed");
        return PX_ERROR;
    }
    host[sizeof(host) - 1] = '\0';
    px_str_t *hostname = px_palloc(cf->pool, sizeof(*hostname));
    px_str_t *version = px_palloc(cf->pool, sizeof(*version));
    if (hostname == NULL || version == NULL)
        return PX_ERROR;
    *hostname = lower_dup(cf->pool, px_str_make(host, strlen(host)));
    *version = PX_STR(PROXYD_VERSION);

    const unsigned nc = HTTP_VAR_NOCACHEABLE;
    const http_var_def_t defs[] = {
        {PX_STR("host"), get_host, 0, 0},
        {PX_STR("http_"), get_http_prefix, 0, HTTP_VAR_PREFIX},
        {PX_STR("sent_http_"), get_sent_http_prefix, 0, HTTP_VAR_PREFIX | nc},
        {PX_STR("arg_"), get_arg_prefix, 0, HTTP_VAR_PREFIX | nc},
        {PX_STR("cookie_"), get_cookie_prefix, 0, HTTP_VAR_PREFIX},
        {PX_STR("remote_addr"), get_remote_addr, 0, 0},
        {PX_STR("binary_remote_addr"), get_binary_remote_addr, 0, 0},
        {PX_STR("remote_port"), get_remote_port, 0, 0},
        {PX_STR("server_addr"), get_server_addr, 0, 0},
        {PX_STR("server_port"), get_server_port, 0, 0},
        {PX_STR("server_name"), get_server_name, 0, 0},
        {PX_STR("scheme"), get_scheme, 0, 0},
        {PX_STR("request"), get_request_str, offsetof(http_request_t, request_line), 0},
        {PX_STR("request_method"), get_request_str, offsetof(http_request_t, method_name), 0},
        {PX_STR("request_uri"), get_request_str, offsetof(http_request_t, unparsed_uri), 0},
        {PX_STR("uri"), get_request_str, offsetof(http_request_t, uri), nc},
        {PX_STR("document_uri"), get_request_str, offsetof(http_request_t, uri), nc},
        {PX_STR("query_string"), get_request_str, offsetof(http_request_t, args), nc},
        {PX_STR("is_args"), get_is_args, 0, nc},
        {PX_STR("content_length"), get_content_length, 0, nc},
        {PX_STR("content_type"), get_content_type, 0, 0},
        {PX_STR("request_length"), get_u64, offsetof(http_request_t, request_length), nc},
        {PX_STR("request_time"), get_request_time, 0, nc},
        {PX_STR("status"), get_status, 0, nc},
        {PX_STR("body_bytes_sent"), get_body_bytes_sent, 0, nc},
        {PX_STR("bytes_sent"), get_u64, offsetof(http_request_t, bytes_sent), nc},
        {PX_STR("time_local"), get_time_str, (uintptr_t)px_time_http_local, nc},
        {PX_STR("time_iso8601"), get_time_str, (uintptr_t)px_time_iso8601, nc},
        {PX_STR("msec"), get_msec, 0, nc},
        {PX_STR("request_id"), get_request_id, 0, 0},
        {PX_STR("connection"), get_connection, 0, 0},
        {PX_STR("connection_requests"), get_connection, 1, nc},
        {PX_STR("hostname"), get_const, (uintptr_t)hostname, 0},
        {PX_STR("pid"), get_pid, 0, 0},
        {PX_STR("nginx_version"), get_const, (uintptr_t)version, 0},
        {PX_STR("server_protocol"), get_server_protocol, 0, 0},
        {PX_STR("remote_user"), get_remote_user, 0, 0},
    };
    if (http_var_define_all(cf, defs, sizeof(defs) / sizeof(defs[0])) != PX_OK)
        return PX_ERROR;
    /* nginx defines these request headers as variables of their own (the rest come from the
     * http_ family): `set` cannot take them over */
    static const char *const own_headers[] = {"host", "user_agent", "referer", "via",
                                              "x_forwarded_for", "cookie"};
    for (size_t i = 0; i < sizeof(own_headers) / sizeof(own_headers[0]); i++) {
        px_str_t suffix = px_str_make(own_headers[i], strlen(own_headers[i]));
        http_var_prefix_arg_t *arg = px_palloc(cf->pool, sizeof(*arg));
        char *name = px_psprintf(cf->pool, "http_%s", own_headers[i]);
        if (arg == NULL || name == NULL)
            return PX_ERROR;
        arg->suffix = suffix;
        arg->data = 0;
        const http_var_def_t def = {px_str_make(name, strlen(name)), get_http_prefix,
                                    (uintptr_t)arg, 0};
        if (http_var_define(cf, &def) != PX_OK)
            return PX_ERROR;
    }
    const http_var_def_t args = {PX_STR("args"), get_request_str, offsetof(http_request_t, args),
                                 HTTP_VAR_CHANGEABLE | nc};
    return http_var_define_settable(cf, &args, set_args);
}

int http_var_define_capture(conf_ctx_t *cf, px_str_t name)
{
    const http_var_def_t def = {name, get_unset, 0, HTTP_VAR_CHANGEABLE};
    return http_var_define(cf, &def);
}

/* ---- compiled values ---- */

static int is_name_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

const char *http_cv_compile(conf_ctx_t *cf, px_str_t src, http_cv_t *cv)
{
    memset(cv, 0, sizeof(*cv));
    cv->literal = src;
    size_t dollars = 0;
    for (size_t i = 0; i < src.len; i++)
        dollars += src.data[i] == '$';
    if (dollars == 0)
        return NULL;

    struct http_cv_part *parts = px_palloc(cf->pool, (2 * dollars + 1) * sizeof(*parts));
    if (parts == NULL)
        return CONF_ERROR;
    size_t n = 0, i = 0;
    while (i < src.len) {
        if (src.data[i] != '$') {
            size_t start = i;
            while (i < src.len && src.data[i] != '$')
                i++;
            px_str_t text = px_str_make(src.data + start, i - start);
            parts[n++] = (struct http_cv_part){HTTP_CV_LITERAL, text, 0};
            continue;
        }
        if (++i == src.len)
            return "invalid variable name";
        /* "$1".."$9": one digit, so "$10" is capture 1 and a "0". */
        if (src.data[i] >= '1' && src.data[i] <= '9') {
            parts[n++] = (struct http_cv_part){HTTP_CV_CAPTURE, PX_NULL_STR, src.data[i] - '0'};
            i++;
            continue;
        }
        int bracket = src.data[i] == '{';
        if (bracket && ++i == src.len)
            return "invalid variable name";
        size_t start = i;
        while (i < src.len && is_name_char(src.data[i]))
            i++;
        px_str_t name = px_str_make(src.data + start, i - start);
        if (bracket) {
            if (i == src.len || src.data[i] != '}')
                return px_psprintf(cf->pool, "the closing bracket in \"%.*s\" variable is missing",
                                   (int)name.len, name.data);
            i++;
        }
        if (name.len == 0)
            return "invalid variable name";
        int index = http_var_index(cf, name);
        if (index < 0)
            return CONF_ERROR;
        parts[n++] = (struct http_cv_part){HTTP_CV_VAR, name, index};
    }
    cv->parts = parts;
    cv->nparts = n;
    cv->has_vars = 1;
    return NULL;
}

static px_str_t part_value(http_request_t *r, const struct http_cv_part *p)
{
    if (p->kind == HTTP_CV_LITERAL)
        return p->text;
    if (p->kind == HTTP_CV_VAR) {
        http_var_value_t *v = http_var_get(r, p->index);
        return v ? v->value : PX_STR("");
    }
    if (p->index < r->ncaptures && r->captures && r->captures_subject) {
        size_t from = r->captures[2 * p->index], to = r->captures[2 * p->index + 1];
        if (from != (size_t)-1 && to >= from)
            return px_str_make(r->captures_subject + from, to - from);
    }
    return PX_STR("");
}

int http_cv_eval(http_request_t *r, const http_cv_t *cv, px_str_t *out)
{
    if (!cv->has_vars) {
        *out = cv->literal;
        return PX_OK;
    }
    px_str_t local[16];
    px_str_t *values = cv->nparts <= 16 ? local : px_palloc(r->pool, cv->nparts * sizeof(px_str_t));
    if (values == NULL)
        return PX_ERROR;
    size_t total = 0;
    for (size_t i = 0; i < cv->nparts; i++) {
        values[i] = part_value(r, &cv->parts[i]);
        total += values[i].len;
    }
    char *buf = px_palloc(r->pool, total + 1);
    if (buf == NULL)
        return PX_ERROR;
    size_t pos = 0;
    for (size_t i = 0; i < cv->nparts; i++) {
        if (values[i].len)
            memcpy(buf + pos, values[i].data, values[i].len);
        pos += values[i].len;
    }
    buf[pos] = '\0';
    *out = px_str_make(buf, pos);
    return PX_OK;
}
