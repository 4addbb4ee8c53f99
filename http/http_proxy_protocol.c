/* Reading the PROXY protocol header of an http connection (see http_proxy_protocol.h). The
 * header is peeked, parsed, and only then taken off the socket, so exactly its bytes go: what
 * follows (a TLS ClientHello, a request) stays for the next reader. */
#include "http/http_proxy_protocol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/px_addr.h"
#include "core/px_log.h"
#include "http/http_ssl.h"
#include "http/http_variables.h"

struct http_pp {
    px_pp_header_t h;
    size_t len;
    unsigned char raw[]; /* the header's bytes: TLV values point here */
};

/* v1 is at most 107 bytes, v2 at most nginx's 4096: more than that cannot be a header */
#define PEEK_MAX (PX_PP_MAX_HEADER + 16)

void http_pp_free(http_conn_t *hc)
{
    free(hc->pp);
    hc->pp = NULL;
}

const px_pp_header_t *http_pp_header(http_request_t *r)
{
    return r->hc && r->hc->pp ? &r->hc->pp->h : NULL;
}


static void pp_done(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    px_timer_del(&c->read_timer);
    c->log.handler = NULL;
    c->log.data = NULL;
    c->log.action = NULL;
    if (hc->addr->ssl)
        http_ssl_start(hc);
    else
        http_conn_begin(hc);
}

static void log_bad(http_conn_t *hc, const unsigned char *buf, size_t n, const char *err)
{
    char msg[PX_PP_V1_MAX_HEADER * 4 + 64];
    px_pp_error_message(buf, n, err, msg, sizeof(msg));
    px_log_error(PX_LOG_ERR, &hc->c->log, 0, "%s", msg);
}

static void pp_read(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    if (c->closing) {
        http_conn_abort(hc);
        return;
    }
    unsigned char buf[PEEK_MAX];
    ssize_t n = http_conn_peek(hc, buf, sizeof(buf));
    if (n == PX_AGAIN)
        return;
    if (n < 0) {
        http_conn_abort(hc);
        return;
    }
    px_pp_header_t h;
    char err[128] = "";
    int len = px_pp_parse(buf, (size_t)n, &h, err, sizeof(err));
    if (len == PX_AGAIN) {
        if ((size_t)n == sizeof(buf) || c->peer_closed) {
            /* all that can come came, or the client stopped sending: cut short */
            log_bad(hc, buf, (size_t)n, NULL);
            http_conn_abort(hc);
            return;
        }
        /* the rest is still on its way: the next edge says it came */
        c->readable = 0;
        return;
    }
    if (len < 0) {
        log_bad(hc, buf, (size_t)n, err);
        http_conn_abort(hc);
        return;
    }
    struct http_pp *pp = malloc(sizeof(*pp) + (size_t)len);
    if (pp == NULL) {
        http_conn_abort(hc);
        return;
    }
    /* take exactly the header off the socket; TLV values then point into the copy */
    ssize_t got;
    do
        got = recv(c->io.fd, pp->raw, (size_t)len, 0);
    while (got < 0 && errno == EINTR);
    if (got != len || px_pp_parse(pp->raw, (size_t)len, &pp->h, err, sizeof(err)) != len) {
        free(pp);
        http_conn_abort(hc);
        return;
    }
    pp->len = (size_t)len;
    hc->pp = pp;
    pp_done(hc);
}

void http_pp_start(http_conn_t *hc)
{
    http_conn_first_read(hc, "while reading PROXY protocol", pp_read);
}

/* ---- variables ---- */

enum { V_ADDR, V_PORT, V_SERVER_ADDR, V_SERVER_PORT };

static int get_pp_var(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const px_pp_header_t *h = http_pp_header(r);
    if (h == NULL || h->local || (h->family != AF_INET && h->family != AF_INET6)) {
        v->not_found = 1;
        return PX_OK;
    }
    const struct sockaddr_storage *sa = data == V_ADDR || data == V_PORT ? &h->src : &h->dst;
    socklen_t salen = data == V_ADDR || data == V_PORT ? h->src_len : h->dst_len;
    char buf[PX_ADDR_TEXT_SIZE];
    size_t n;
    if (data == V_ADDR || data == V_SERVER_ADDR) {
        n = px_addr_to_text((const struct sockaddr *)sa, salen, 0, buf, sizeof(buf));
    } else {
        unsigned port = sa->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
                                                 : ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
        n = (size_t)snprintf(buf, sizeof(buf), "%u", port);
    }
    v->value = px_pstr(r->pool, buf, n);
    return v->value.data ? PX_OK : PX_ERROR;
}

static int get_pp_tlv(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    const px_pp_header_t *h = http_pp_header(r);
    if (px_str_eq_lit(arg->suffix, "ssl_verify")) {
        if (h == NULL || !h->has_ssl) {
            v->not_found = 1;
            return PX_OK;
        }
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%u", (unsigned)h->ssl.verify);
        v->value = px_pstr(r->pool, buf, (size_t)n);
        return v->value.data ? PX_OK : PX_ERROR;
    }
    int type = px_pp_tlv_type(arg->suffix);
    if (type < 0) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "unknown PROXY protocol TLV \"%.*s\"", (int)arg->suffix.len,
                     arg->suffix.data);
        return PX_ERROR;
    }
    const px_pp_tlv_t *tlv = h ? px_pp_tlv(h, (unsigned)type) : NULL;
    if (tlv == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    v->value = tlv->value;
    return PX_OK;
}

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t defs[] = {
        {PX_STR("proxy_protocol_addr"), get_pp_var, V_ADDR, 0},
        {PX_STR("proxy_protocol_port"), get_pp_var, V_PORT, 0},
        {PX_STR("proxy_protocol_server_addr"), get_pp_var, V_SERVER_ADDR, 0},
        {PX_STR("proxy_protocol_server_port"), get_pp_var, V_SERVER_PORT, 0},
        {PX_STR("proxy_protocol_tlv_"), get_pp_tlv, 0, HTTP_VAR_PREFIX},
    };
    return http_var_define_all(cf, defs, sizeof(defs) / sizeof(defs[0]));
}

conf_module_t http_proxy_protocol_module = {
    .name = "http_proxy_protocol",
    .preconfiguration = preconfiguration,
};
