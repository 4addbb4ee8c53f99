/* The proxy's variables: $proxy_host, $proxy_port, $proxy_add_x_forwarded_for, and the
 * $upstream_* family, which lists every attempt of the request as nginx does. */
#include <stdio.h>
#include <string.h>

#include "core/px_addr.h"
#include "core/px_time.h"
#include "http/http_variables.h"
#include "proxy/proxy_http_ctx.h"

/* The proxy state of r; content_ctx belongs to whichever handler ran last, and only
 * proxy_pass sets it so far. */
static proxy_ctx_t *ctx_of(http_request_t *r)
{
    return r->content_ctx;
}

static int get_proxy_host(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    proxy_ctx_t *ctx = ctx_of(r);
    if (ctx == NULL || ctx->pass == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    v->value = data ? ctx->pass->proxy_port : ctx->pass->proxy_host;
    return PX_OK;
}

static int get_add_xff(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    char addr[PX_ADDR_TEXT_SIZE];
    size_t alen = px_addr_to_text((struct sockaddr *)&r->conn->peer, r->conn->peer_len, 0, addr,
                                  sizeof(addr));
    /* every X-Forwarded-For line, joined as $http_x_forwarded_for joins them */
    http_var_value_t *hv = http_var_get_by_name(r, PX_STR("http_x_forwarded_for"));
    px_str_t xff = hv && !hv->not_found ? hv->value : PX_NULL_STR;
    if (xff.len == 0) {
        v->value = px_pstr(r->pool, addr, alen);
        return PX_OK;
    }
    char *s = px_psprintf(r->pool, "%.*s, %.*s", (int)xff.len, xff.data, (int)alen, addr);
    v->value = px_str_make(s, strlen(s));
    return PX_OK;
}

static void put_ms(px_pbuf_t *b, px_msec_t ms)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%llu.%03llu", (unsigned long long)(ms / 1000),
                     (unsigned long long)(ms % 1000));
    px_pbuf_put(b, num, (size_t)n);
}

/* One attempt's part of $upstream_addr (0), _status (1), _response_time (2),
 * _connect_time (3), _header_time (4). */
static void put_attempt(px_pbuf_t *b, uintptr_t what, const attempt_t *a)
{
    char num[16];
    switch (what) {
    case 0:
        px_pbuf_str(b, a->addr);
        break;
    case 1:
        if (a->status) {
            int n = snprintf(num, sizeof(num), "%d", a->status);
            px_pbuf_put(b, num, (size_t)n);
        } else {
            px_pbuf_put(b, "-", 1);
        }
        break;
    case 2:
        put_ms(b, a->response_ms);
        break;
    case 3:
        put_ms(b, a->connect_ms);
        break;
    default:
        if (a->has_header)
            put_ms(b, a->header_ms);
        else
            px_pbuf_put(b, "-", 1);
        break;
    }
}

/* $upstream_*: every attempt of the request, ", "-separated, as nginx lists them */
static int get_upstream(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    proxy_ctx_t *ctx = ctx_of(r);
    if (ctx == NULL || ctx->start == 0) {
        v->not_found = 1;
        return PX_OK;
    }
    if (data == 1 && ctx->status == 0 && ctx->attempts == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    px_pbuf_t b = {NULL, 0, 0, r->pool};
    attempt_t *a = ctx->attempts ? ctx->attempts->elts : NULL;
    for (size_t i = 0; a && i < ctx->attempts->nelts; i++) {
        put_attempt(&b, data, &a[i]);
        px_pbuf_put(&b, ", ", 2);
    }
    attempt_t cur = {PX_NULL_STR, ctx->status, 0, ctx->connect_ms, ctx->header_ms, 0};
    cur.addr =
        ctx->no_live ? ctx->ups->conf->name : px_str_make(ctx->peer.text, strlen(ctx->peer.text));
    cur.response_ms = ctx->no_live       ? 0
                      : ctx->response_ms ? ctx->response_ms
                                         : px_current_msec - ctx->start;
    cur.has_header = ctx->header_ms != 0 || ctx->status != 0;
    put_attempt(&b, data, &cur);
    v->value = px_str_make(b.p, b.len);
    return PX_OK;
}

static int get_upstream_http(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    http_header_t *h = r->upstream_headers.elts;
    for (size_t i = 0; h && i < r->upstream_headers.nelts; i++) {
        px_str_t n = h[i].name;
        if (n.len != arg->suffix.len)
            continue;
        size_t k;
        for (k = 0; k < n.len; k++) {
            char a = n.data[k] == '-' ? '_' : n.data[k], b = arg->suffix.data[k];
            if ((a | 0x20) != (b | 0x20))
                break;
        }
        if (k == n.len) {
            v->value = h[i].value;
            return PX_OK;
        }
    }
    v->not_found = 1;
    return PX_OK;
}

int proxy_define_variables(conf_ctx_t *cf)
{
    const unsigned nc = HTTP_VAR_NOCACHEABLE;
    const http_var_def_t defs[] = {
        {PX_STR("proxy_host"), get_proxy_host, 0, nc},
        {PX_STR("proxy_port"), get_proxy_host, 1, nc},
        {PX_STR("proxy_add_x_forwarded_for"), get_add_xff, 0, nc},
        {PX_STR("upstream_addr"), get_upstream, 0, nc},
        {PX_STR("upstream_status"), get_upstream, 1, nc},
        {PX_STR("upstream_response_time"), get_upstream, 2, nc},
        {PX_STR("upstream_connect_time"), get_upstream, 3, nc},
        {PX_STR("upstream_header_time"), get_upstream, 4, nc},
        {PX_STR("upstream_http_"), get_upstream_http, 0, HTTP_VAR_PREFIX | nc},
    };
    return http_var_define_all(cf, defs, sizeof(defs) / sizeof(defs[0]));
}
