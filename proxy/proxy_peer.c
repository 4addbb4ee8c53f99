/* Where each attempt of a proxied request goes: the group and its balancer, the retry
 * budget and rules of proxy_next_upstream, the attempts kept for $upstream_*, and which
 * keepalive pool the connection belongs to. */
#include <string.h>

#include "core/px_log.h"
#include "core/px_time.h"
#include "proxy/proxy_http_ctx.h"
#include "upstream/ups_keepalive.h"

/* Tells the balancer this attempt is over (once per pick). */
void proxy_release_peer(proxy_ctx_t *ctx, ups_outcome_t outcome)
{
    if (!ctx->picked)
        return;
    ctx->picked = 0;
    if (ups_upstream_done(ctx->ups, ctx->peer_index, outcome))
        proxy_log_upstream(ctx, PX_LOG_WARN, 0, "upstream server temporarily disabled");
}

/* Whose idle connections this request may take and give back: the group's pool with
 * `keepalive N`, none with `keepalive 0`, else the location's own (current nginx's default). */
const void *proxy_keepalive_owner(proxy_ctx_t *ctx, unsigned *max, px_msec_t *timeout)
{
    ups_group_conf_t *g = ctx->ups ? ctx->ups->conf : NULL;
    *timeout = g && g->keepalive_timeout >= 0 ? (px_msec_t)g->keepalive_timeout
                                              : UPS_KEEPALIVE_DEFAULT_TIMEOUT;
    *max = UPS_KEEPALIVE_DEFAULT_MAX;
    if (ctx->conf->http_version != 1001 || (g && g->keepalive == 0))
        return NULL;
    if (g && g->keepalive > 0) {
        *max = (unsigned)g->keepalive;
        return ctx->ups;
    }
    return ctx->conf;
}

/* keepalive_requests and keepalive_time of the group (nginx's defaults: 1000, 1h) */
int proxy_keepalive_allows(proxy_ctx_t *ctx, const px_conn_t *up)
{
    ups_group_conf_t *g = ctx->ups ? ctx->ups->conf : NULL;
    unsigned long max_requests =
        g && g->keepalive_requests >= 0 ? (unsigned long)g->keepalive_requests : 1000;
    px_msec_t max_time = g && g->keepalive_time >= 0 ? (px_msec_t)g->keepalive_time : 3600000;
    px_msec_t age = (px_current_msec / 1000 - up->created_sec) * 1000;
    /* a connection that began with a PROXY protocol header speaks for its first client only:
     * reused for another, it would tell the server the wrong address */
    if (ctx->ups && ctx->peer_index < ctx->ups->npeers && ctx->ups->send_proxy[ctx->peer_index])
        return 0;
    return up->requests < max_requests && age < max_time;
}

/* nginx's rule: POST, LOCK and PATCH are the methods that cannot be sent twice */
int proxy_idempotent(const http_request_t *r)
{
    return r->method != HTTP_METHOD_POST && r->method != HTTP_METHOD_PATCH &&
           !px_str_eq_lit(r->method_name, "LOCK");
}

/* Picks this attempt's peer: PX_OK, or 502 after nginx's "no live upstreams". */
int proxy_pick_peer(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    size_t idx;
    if (ups_upstream_pick(ctx->ups, ctx->uctx, &idx) != UPS_PICK_OK) {
        ctx->no_live = 1;
        ctx->status = 502;
        /* the log names the group: upstream: "http://NAME/uri" */
        r->upstream_peer = px_pstrdup(r->pool, ctx->ups->conf->name.data, ctx->ups->conf->name.len);
        ctx->state = ST_CONNECT;
        proxy_log_upstream(ctx, PX_LOG_ERR, 0, "no live upstreams");
        return 502;
    }
    ctx->peer_index = idx;
    ctx->picked = 1;
    ctx->peer = ctx->ups->addrs[idx];
    return PX_OK;
}

/* Whether a failed attempt may go to the next peer (proxy_next_upstream and its limits). */
int proxy_may_retry(proxy_ctx_t *ctx, unsigned ft)
{
    http_request_t *r = ctx->r;
    unsigned next = (unsigned)ctx->conf->next_upstream;
    if (ctx->ups == NULL || !(next & ft) || (next & PROXY_NEXT_OFF) || ctx->tries <= 1 ||
        r->header_sent)
        return 0;
    if (ctx->conf->next_upstream_timeout &&
        px_current_msec - ctx->first_start >= (px_msec_t)ctx->conf->next_upstream_timeout)
        return 0;
    /* a request that reached a server is not sent again unless it can be, or is allowed to */
    if (ctx->sent_any && ((!proxy_idempotent(r) && !(next & PROXY_NEXT_NON_IDEMPOTENT)) ||
                          ctx->body_mode == BODY_STREAM))
        return 0;
    return 1;
}

void proxy_push_attempt(proxy_ctx_t *ctx, int status)
{
    http_request_t *r = ctx->r;
    if (ctx->attempts == NULL) {
        ctx->attempts = px_palloc(r->pool, sizeof(px_array_t));
        if (ctx->attempts == NULL ||
            px_array_init(ctx->attempts, r->pool, 2, sizeof(attempt_t)) != PX_OK)
            return;
    }
    attempt_t *a = px_array_push(ctx->attempts);
    if (a == NULL)
        return;
    a->addr = px_pstr(r->pool, ctx->peer.text, strlen(ctx->peer.text));
    a->status = ctx->status ? ctx->status : status;
    a->response_ms = px_current_msec - ctx->start;
    a->connect_ms = ctx->connect_ms;
    a->header_ms = ctx->header_ms;
    a->has_header = ctx->header_ms != 0 || ctx->status != 0;
}

/* proxy_next_upstream's condition for an upstream's status, 0 for none */
unsigned proxy_status_condition(int status)
{
    switch (status) {
    case 500:
        return PROXY_NEXT_HTTP_500;
    case 502:
        return PROXY_NEXT_HTTP_502;
    case 503:
        return PROXY_NEXT_HTTP_503;
    case 504:
        return PROXY_NEXT_HTTP_504;
    case 403:
        return PROXY_NEXT_HTTP_403;
    case 404:
        return PROXY_NEXT_HTTP_404;
    case 429:
        return PROXY_NEXT_HTTP_429;
    default:
        return 0;
    }
}

int proxy_choose_peer(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    proxy_loc_conf_t *conf = ctx->conf;
    if (!conf->pass.has_variables) {
        ctx->pass = &conf->pass;
        ctx->ups = conf->target->ups;
    } else {
        px_str_t text;
        if (http_cv_eval(r, &conf->pass_cv, &text) != PX_OK)
            return 500;
        char err[512];
        int rc = proxy_pass_parse_evaluated(&ctx->evaluated, text, err, sizeof(err));
        ctx->pass = &ctx->evaluated;
        if (rc != PX_OK) {
            px_log_error(PX_LOG_ERR, &r->log, 0, "%s", err);
            return 500;
        }
        if (ctx->evaluated.url.family == AF_UNSPEC) {
            /* an upstream{} group by name; any other name needs a resolver */
            ctx->ups = ctx->evaluated.no_port ? proxy_find_upstream(r, ctx->evaluated.host) : NULL;
            if (ctx->ups == NULL) {
                px_log_error(PX_LOG_ERR, &r->log, 0, "no resolver defined to resolve %.*s",
                             (int)ctx->evaluated.host.len, ctx->evaluated.host.data);
                return 502;
            }
        }
    }
    ctx->first_start = px_current_msec;
    if (ctx->ups == NULL) {
        if (ctx->pass->url.naddrs == 0)
            return 502;
        ctx->peer = ctx->pass->url.addrs[0];
        ctx->tries = 1;
        return PX_OK;
    }
    ctx->uctx = px_palloc(r->pool, sizeof(ups_ctx_t));
    if (ctx->uctx == NULL)
        return 500;
    const void *key = NULL;
    size_t key_len = 0;
    ups_group_conf_t *g = ctx->ups->conf;
    if (g->method == UPS_IP_HASH) {
        unsigned char *k = px_palloc(r->pool, 16);
        if (k == NULL)
            return 500;
        key_len = ups_ip_hash_key((struct sockaddr *)&r->conn->peer, k);
        key = k;
    } else if (g->hash_key_compiled) {
        px_str_t v;
        if (http_cv_eval(r, g->hash_key_compiled, &v) != PX_OK)
            return 500;
        key = v.data;
        key_len = v.len;
    }
    ups_ctx_init(ctx->uctx, ctx->ups->group, key, key_len);
    size_t tries = ups_group_tries(ctx->ups->group);
    if (conf->next_upstream_tries > 0 && (size_t)conf->next_upstream_tries < tries)
        tries = (size_t)conf->next_upstream_tries;
    ctx->tries = tries ? (int)tries : 1;
    return PX_OK;
}
