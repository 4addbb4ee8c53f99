/* proxy_pass at request time: pick the address, read or stream the client's body, connect,
 * send the request nginx would send, read the response head, and relay the body through a
 * bounded set of buffers (and a temp file when buffering lets the upstream run ahead). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/px_log.h"
#include "http/http_parse.h"
#include "http/http_proxy_protocol.h"
#include "http/http_request.h"
#include "http/http_variables.h"
#include "proxy/proxy_http.h"
#include "proxy/proxy_http_ctx.h"
#include "proxy/proxy_ssl.h"
#include "upstream/ups_connect.h"
#include "upstream/ups_keepalive.h"
#include "upstream/ups_upstream.h"

static void fail(proxy_ctx_t *ctx, int status);
static void pump(proxy_ctx_t *ctx);
static void start_connect(proxy_ctx_t *ctx);
static int retry_fresh(proxy_ctx_t *ctx, int junk);
static void next_upstream(proxy_ctx_t *ctx, unsigned ft, int status);

/* ---- cleanup: the request pool takes the upstream connection and files with it ---- */

static void cleanup(void *data)
{
    proxy_ctx_t *ctx = data;
    proxy_release_peer(ctx, UPS_OK);
    if (ctx->up) {
        ctx->up->data = NULL;
        px_conn_close(ctx->up);
        ctx->up = NULL;
    }
    if (ctx->body_fd >= 0)
        close(ctx->body_fd);
    if (ctx->tmp_fd >= 0)
        close(ctx->tmp_fd);
    ctx->body_fd = ctx->tmp_fd = -1;
    for (int i = 0; ctx->bufs && i <= ctx->nbufs; i++) {
        px_cache_free(ctx->bufs[i].data, ctx->bufs[i].size);
        ctx->bufs[i].data = NULL;
    }
    free(ctx->sbuf);
    ctx->sbuf = NULL;
}

static void close_upstream(proxy_ctx_t *ctx)
{
    if (ctx->up) {
        ctx->up->data = NULL;
        px_conn_close(ctx->up);
        ctx->up = NULL;
    }
}

/* The proxy is done with the request (whatever comes next): no upstream, no more events. */
static void detach(proxy_ctx_t *ctx)
{
    proxy_release_peer(ctx, UPS_OK);
    close_upstream(ctx);
    ctx->state = ST_DONE;
    ctx->r->read_event_handler = NULL;
    ctx->r->write_event_handler = NULL;
}

/* A temp file in dir named as nginx names them (dir/0000000001, a per-worker counter),
 * unlinked at once so nothing is left behind whatever happens to the worker; path gets
 * its name for the log. The directory is created on first use. */
static int temp_file(http_request_t *r, px_str_t dir, char *path, size_t size)
{
    static unsigned number;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(path, size, "%.*s/%010u", (int)dir.len, dir.data, ++number);
        int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT) {
            char d[4096];
            snprintf(d, sizeof(d), "%.*s", (int)dir.len, dir.data);
            if (mkdir(d, 0700) == 0 || errno == EEXIST)
                fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        }
        if (fd >= 0) {
            unlink(path);
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    px_log_error(PX_LOG_CRIT, &r->log, errno, "open() \"%s\" failed", path);
    return -1;
}

static int write_all(http_request_t *r, int fd, const char *p, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            px_log_error(PX_LOG_CRIT, &r->log, errno, "pwrite() to temporary file failed");
            return PX_ERROR;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return PX_OK;
}

/* ---- the request line and headers ---- */

static int header_set(const proxy_loc_conf_t *conf, px_str_t name)
{
    const proxy_header_t *h = conf->headers->elts;
    for (size_t i = 0; i < conf->headers->nelts; i++) {
        if (px_str_caseeq(h[i].name, name))
            return 1;
    }
    return 0;
}

static int build_request(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    proxy_loc_conf_t *conf = ctx->conf;
    px_pbuf_t b = {NULL, 0, 0, r->pool};
    px_pbuf_reserve(&b, 1024 + r->unparsed_uri.len); /* most requests fit */

    px_str_t method = r->method_name;
    if (conf->has_method == 1 && http_cv_eval(r, &conf->method, &method) != PX_OK)
        return PX_ERROR;
    px_pbuf_str(&b, method);
    px_pbuf_lit(&b, " ");

    proxy_uri_request_t ur;
    memset(&ur, 0, sizeof(ur));
    ur.location = conf->location;
    ur.uri = r->uri;
    ur.args = r->args;
    ur.request_uri = r->unparsed_uri;
    ur.uri_changed = r->internal || r->args_set;
    ur.internal = r->internal;
    ur.rewritten_here = r->location_rewritten;
    ur.quoted = memchr(r->unparsed_uri.data, '%', r->unparsed_uri.len) != NULL;
    size_t n = proxy_uri_build(ctx->pass, &ur, NULL, 0);
    char *uri = px_palloc(r->pool, n + 1);
    proxy_uri_build(ctx->pass, &ur, uri, n);
    px_pbuf_put(&b, uri, n);
    px_pbuf_lit(&b, conf->http_version == 1000 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");

    const proxy_header_t *h = conf->headers->elts;
    for (size_t i = 0; i < conf->headers->nelts; i++) {
        px_str_t v;
        if (px_str_caseeq_lit(h[i].name, "Content-Length") && h[i].literal_empty) {
            if (ctx->body_mode == BODY_NONE || ctx->send_chunked)
                continue;
            char num[32];
            snprintf(num, sizeof(num), "%zu", ctx->body_len);
            px_pbuf_lit(&b, "Content-Length: ");
            px_pbuf_lit(&b, num);
            px_pbuf_lit(&b, "\r\n");
            continue;
        }
        if (px_str_caseeq_lit(h[i].name, "Transfer-Encoding") && h[i].literal_empty) {
            if (ctx->send_chunked)
                px_pbuf_lit(&b, "Transfer-Encoding: chunked\r\n");
            continue;
        }
        if (h[i].literal_empty)
            continue;
        if (http_cv_eval(r, &h[i].value, &v) != PX_OK)
            return PX_ERROR;
        if (v.len == 0)
            continue;
        px_pbuf_str(&b, h[i].name);
        px_pbuf_lit(&b, ": ");
        px_pbuf_str(&b, v);
        px_pbuf_lit(&b, "\r\n");
    }
    if (conf->pass_request_headers) {
        const http_header_t *ch = r->headers.elts;
        for (size_t i = 0; i < r->headers.nelts; i++) {
            px_str_t name = ch[i].name;
            if (header_set(conf, name))
                continue;
            /* hop-by-hop toward a proxy: never forwarded (httpoxy's "Proxy" included) */
            if (px_str_caseeq_lit(name, "Proxy") ||
                (name.len > 6 && px_str_caseeq_lit(px_str_make(name.data, 6), "Proxy-")))
                continue;
            px_pbuf_str(&b, name);
            px_pbuf_lit(&b, ": ");
            px_pbuf_str(&b, ch[i].value);
            px_pbuf_lit(&b, "\r\n");
        }
    }
    px_pbuf_lit(&b, "\r\n");
    ctx->head = b.p;
    ctx->head_len = b.len;
    /* the upstream named in log lines once a peer is picked (not in those of the header
     * values above, as nginx): "http://127.0.0.1:8000/uri" */
    r->upstream_scheme = ctx->pass->scheme == PROXY_SCHEME_HTTPS ? "https" : "http";
    r->upstream_uri = px_str_make(uri, n);
    return PX_OK;
}

/* ---- timers and errors ---- */

void proxy_log_upstream(proxy_ctx_t *ctx, int level, int err, const char *what)
{
    http_request_t *r = ctx->r;
    static const char *const actions[] = {"while reading client request body",
                                          "while connecting to upstream",
                                          "while SSL handshaking to upstream",
                                          "while sending request to upstream",
                                          "while reading response header from upstream",
                                          "while reading upstream",
                                          ""};
    r->log.action = actions[ctx->state];
    px_log_error(level, &r->log, err, "%s", what);
    r->log.action = NULL;
}

static void fail(proxy_ctx_t *ctx, int status)
{
    http_request_t *r = ctx->r;
    detach(ctx);
    if (ctx->status == 0)
        ctx->status = status;
    if (r->header_sent) {
        http_terminate(r, r->status);
        return;
    }
    http_finalize(r, status);
}

static void upstream_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    proxy_ctx_t *ctx = c->data;
    if (ctx == NULL)
        return;
    if (ctx->state == ST_BODY_OUT) {
        proxy_log_upstream(ctx, PX_LOG_ERR, ETIMEDOUT, "upstream timed out");
        fail(ctx, 504);
        return;
    }
    /* nginx tells the balancer first ("temporarily disabled"), then logs the timeout */
    proxy_release_peer(ctx, UPS_FAILED);
    proxy_log_upstream(ctx, PX_LOG_ERR, ETIMEDOUT, "upstream timed out");
    next_upstream(ctx, PROXY_NEXT_TIMEOUT, 504);
}

/* ---- sending the request ---- */

/* Fills ctx->iov with the next piece of the request body; 0 when there is none right now. */
static int next_body_piece(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    if (ctx->body_eof)
        return 0;
    if (ctx->body_mode == BODY_MEM) {
        ctx->iov[ctx->iovcnt].iov_base = ctx->body_mem;
        ctx->iov[ctx->iovcnt++].iov_len = ctx->body_len;
        ctx->body_eof = 1;
        return 1;
    }
    if (ctx->body_mode == BODY_FILE) {
        if ((size_t)ctx->body_file_off >= ctx->body_len) {
            ctx->body_eof = 1;
            return 0;
        }
        ssize_t n = pread(ctx->body_fd, ctx->sbuf, ctx->sbuf_size, ctx->body_file_off);
        if (n <= 0) {
            px_log_error(PX_LOG_CRIT, &r->log, errno, "pread() from temporary file failed");
            return -1;
        }
        ctx->body_file_off += n;
        ctx->iov[ctx->iovcnt].iov_base = ctx->sbuf;
        ctx->iov[ctx->iovcnt++].iov_len = (size_t)n;
        return 1;
    }
    if (ctx->body_mode == BODY_STREAM) {
        ssize_t n = http_body_read(r, ctx->sbuf, ctx->sbuf_size);
        if (n == PX_AGAIN) {
            http_body_wait(r);
            return 0;
        }
        if (n < 0)
            return -2;
        if (n == 0) {
            ctx->body_eof = 1;
            ctx->client_body_done = 1;
            if (ctx->send_chunked) {
                ctx->iov[ctx->iovcnt].iov_base = (void *)"0\r\n\r\n";
                ctx->iov[ctx->iovcnt++].iov_len = 5;
                return 1;
            }
            return 0;
        }
        if (ctx->send_chunked) {
            int l = snprintf(ctx->chunk_line, sizeof(ctx->chunk_line), "%zx\r\n", (size_t)n);
            ctx->iov[ctx->iovcnt].iov_base = ctx->chunk_line;
            ctx->iov[ctx->iovcnt++].iov_len = (size_t)l;
            ctx->iov[ctx->iovcnt].iov_base = ctx->sbuf;
            ctx->iov[ctx->iovcnt++].iov_len = (size_t)n;
            ctx->iov[ctx->iovcnt].iov_base = (void *)"\r\n";
            ctx->iov[ctx->iovcnt++].iov_len = 2;
        } else {
            ctx->iov[ctx->iovcnt].iov_base = ctx->sbuf;
            ctx->iov[ctx->iovcnt++].iov_len = (size_t)n;
        }
        return 1;
    }
    ctx->body_eof = 1;
    return 0;
}

/* PX_OK when the whole request is out, PX_AGAIN, or PX_ERROR after fail(). */
static int send_request(proxy_ctx_t *ctx)
{
    px_conn_t *up = ctx->up;
    for (;;) {
        if (ctx->iovcnt == 0) {
            int rc = next_body_piece(ctx);
            if (rc == -2) {
                /* the client's body broke: nginx answers with the reader's status */
                fail(ctx, ctx->r->body_status);
                return PX_ERROR;
            }
            if (rc < 0) {
                fail(ctx, 500);
                return PX_ERROR;
            }
            if (rc == 0)
                return ctx->body_eof ? PX_OK : PX_AGAIN;
        }
        if (!up->writable) {
            px_timer_add(&up->write_timer, (px_msec_t)ctx->conf->send_timeout);
            return PX_AGAIN;
        }
        ctx->sent_any = 1;
        ssize_t n = px_conn_writev(up, ctx->iov, ctx->iovcnt);
        if (n == PX_AGAIN)
            continue;
        if (n < 0) {
            int err = errno;
            if (retry_fresh(ctx, 0))
                return PX_ERROR;
            proxy_log_upstream(ctx, PX_LOG_ERR, err, "writev() failed");
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
            return PX_ERROR;
        }
        size_t left = (size_t)n;
        int k = 0;
        while (k < ctx->iovcnt && left >= ctx->iov[k].iov_len) {
            left -= ctx->iov[k].iov_len;
            k++;
        }
        if (k < ctx->iovcnt) {
            ctx->iov[k].iov_base = (char *)ctx->iov[k].iov_base + left;
            ctx->iov[k].iov_len -= left;
        }
        memmove(ctx->iov, ctx->iov + k, sizeof(struct iovec) * (size_t)(ctx->iovcnt - k));
        ctx->iovcnt -= k;
        px_timer_del(&up->write_timer);
    }
}

/* ---- the response head ---- */

static px_str_t buf_str(proxy_ctx_t *ctx, http_span_t s)
{
    return px_str_make(ctx->bufs[0].data + s.start, s.len);
}

/* Location and Refresh after proxy_redirect. */
static px_str_t redirect_value(proxy_ctx_t *ctx, px_str_t name, px_str_t value)
{
    http_request_t *r = ctx->r;
    size_t prefix = 0;
    if (px_str_caseeq_lit(name, "Refresh")) {
        /* "5; url=http://..." : the URL after "url=" */
        const char *p = NULL;
        for (size_t i = 0; i + 4 <= value.len; i++) {
            if (px_str_caseeq_lit(px_str_make(value.data + i, 4), "url=")) {
                p = value.data + i + 4;
                break;
            }
        }
        if (p == NULL)
            return value;
        prefix = (size_t)(p - value.data);
    }
    px_str_t out;
    if (proxy_rewrite_redirect(r, ctx->conf, value, prefix, &out) == PX_OK)
        return out;
    return value;
}

/* What nginx does with an upstream header on the way to the client. */
static int copy_header(proxy_ctx_t *ctx, px_str_t name, px_str_t value)
{
    http_request_t *r = ctx->r;
    proxy_loc_conf_t *conf = ctx->conf;
    switch (http_header_id(name.data, name.len)) {
    case HTTP_HEADER_CONTENT_LENGTH:
    case HTTP_HEADER_TRANSFER_ENCODING:
    case HTTP_HEADER_CONNECTION:
        return PX_OK;
    case HTTP_HEADER_CONTENT_TYPE:
        r->content_type = value;
        return PX_OK;
    }
    if (px_str_caseeq_lit(name, "Keep-Alive"))
        return PX_OK;
    if (px_str_caseeq_lit(name, "Upgrade") && ctx->resp.status != 101)
        return PX_OK;
    if (px_str_caseeq_lit(name, "X-Accel-Buffering") &&
        !(conf->ignore_headers & PROXY_IGNORE_X_ACCEL_BUFFERING)) {
        if (px_str_caseeq_lit(value, "yes"))
            ctx->buffering = 1;
        else if (px_str_caseeq_lit(value, "no"))
            ctx->buffering = 0;
    }
    if (proxy_header_hidden(conf, name))
        return PX_OK;
    if (px_str_caseeq_lit(name, "Server"))
        r->own_server = 1;
    else if (px_str_caseeq_lit(name, "Date"))
        r->own_date = 1;
    if (conf->redirect_mode == PROXY_REDIRECT_ON && px_str_caseeq_lit(name, "Location")) {
        /* a rewritten Location becomes the response's own, which nginx writes among its
         * headers (made absolute when it is a path); one left alone stays in its place */
        px_str_t out;
        if (proxy_rewrite_redirect(r, conf, value, 0, &out) == PX_OK) {
            r->location = http_absolute_location(r, out);
            return PX_OK;
        }
    }
    if (conf->redirect_mode == PROXY_REDIRECT_ON && px_str_caseeq_lit(name, "Refresh"))
        value = redirect_value(ctx, name, value);
    return http_add_out_header(r, name, value);
}

static px_str_t find_header(proxy_ctx_t *ctx, const char *name)
{
    http_header_t *h = ctx->r->upstream_headers.elts;
    for (size_t i = 0; h && i < ctx->r->upstream_headers.nelts; i++) {
        if (px_str_caseeq_lit(h[i].name, name))
            return h[i].value;
    }
    return PX_NULL_STR;
}

static void start_body(proxy_ctx_t *ctx);

/* The head is complete: decide what the client gets. */
static void process_head(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    http_response_t *resp = &ctx->resp;
    ctx->header_ms = px_current_msec - ctx->start;
    ctx->status = resp->status;
    px_timer_del(&ctx->up->read_timer);

    unsigned ft = proxy_status_condition(resp->status);
    if (ft && proxy_may_retry(ctx, ft)) {
        next_upstream(ctx, ft, resp->status);
        return;
    }

    px_str_t accel = find_header(ctx, "X-Accel-Redirect");
    if (accel.len && !(ctx->conf->ignore_headers & PROXY_IGNORE_X_ACCEL_REDIRECT)) {
        /* the upstream hands the request to another location */
        detach(ctx);
        if (r->method != HTTP_METHOD_HEAD) {
            r->method = HTTP_METHOD_GET;
            r->method_name = PX_STR("GET");
        }
        px_str_t uri = px_pstr(r->pool, accel.data, accel.len);
        if (uri.data[0] == '@')
            http_named_location(r, uri);
        else
            http_internal_redirect_get(r, uri);
        return;
    }

    if (ctx->conf->intercept_errors && resp->status >= 300 && r->loc->error_pages) {
        http_error_page_t *ep = r->loc->error_pages->elts;
        for (size_t i = 0; i < r->loc->error_pages->nelts; i++) {
            if (ep[i].code == resp->status) {
                detach(ctx);
                http_finalize(r, resp->status);
                return;
            }
        }
    }

    r->status = resp->status;
    r->status_line =
        px_pstr(r->pool, ctx->bufs[0].data + resp->status_line.start, resp->status_line.len);
    http_header_t *h = r->upstream_headers.elts;
    for (size_t i = 0; h && i < r->upstream_headers.nelts; i++) {
        if (copy_header(ctx, h[i].name, h[i].value) != PX_OK) {
            fail(ctx, 500);
            return;
        }
    }
    ctx->body_kind = http_response_body_kind(resp->status, r->method == HTTP_METHOD_HEAD,
                                             resp->content_length, resp->chunked);
    if (resp->status == 101) {
        if (r->h_upgrade == NULL || ctx->conf->http_version == 1000) {
            /* nginx: a 101 the client did not ask for ends the exchange */
            r->keepalive = 0;
        } else {
            r->upgrade = 1;
            r->keepalive = 0;
            r->out_content_length = -1;
            if (http_send_header(r) != PX_OK) {
                fail(ctx, 500);
                return;
            }
            px_conn_t *up = ctx->up;
            ctx->up = NULL;
            up->data = NULL;
            ctx->state = ST_DONE;
            size_t pos = resp->pos;
            proxy_tunnel_start(r, up, ctx->bufs[0].data + pos, ctx->head_buf_len - pos,
                               ctx->conf->read_timeout, ctx->conf->buffer_size, &ctx->tunnel);
            return;
        }
    }
    if (ctx->body_kind == HTTP_BODY_LENGTH ||
        (ctx->body_kind == HTTP_BODY_NONE && resp->content_length >= 0))
        r->out_content_length = resp->content_length;
    if (ctx->body_kind == HTTP_BODY_NONE && r->method == HTTP_METHOD_HEAD &&
        resp->content_length < 0 && resp->chunked == 0)
        r->out_content_length = -1;
    if (http_send_header(r) != PX_OK) {
        fail(ctx, 500);
        return;
    }
    start_body(ctx);
}

/* The header lines point into bufs[0], which carries body bytes next and which the access log
 * may outlive ($upstream_http_*): the head is copied into the request's pool in one piece and
 * the lines re-pointed there, each name and value NUL-terminated in the copy (what follows
 * each, a colon, a space or the line's end, is not part of any name or value). */
static int keep_head(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    const char *buf = ctx->bufs[0].data;
    size_t len = ctx->resp.pos;
    char *copy = px_palloc(r->pool, len + 1);
    if (copy == NULL)
        return PX_ERROR;
    memcpy(copy, buf, len);
    copy[len] = '\0';
    http_header_t *h = r->upstream_headers.elts;
    for (size_t i = 0; h && i < r->upstream_headers.nelts; i++) {
        size_t name = (size_t)(h[i].name.data - buf), value = (size_t)(h[i].value.data - buf);
        h[i].name.data = copy + name;
        h[i].value.data = copy + value;
        copy[name + h[i].name.len] = '\0';
        copy[value + h[i].value.len] = '\0';
    }
    return PX_OK;
}

/* Stores the header lines of the head in r->upstream_headers (slices into bufs[0], then into
 * keep_head's copy). */
static int read_head(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    px_conn_t *up = ctx->up;
    pbuf_t *b = &ctx->bufs[0];
    for (;;) {
        int rc;
        while (ctx->resp.pos < ctx->head_buf_len) {
            if (ctx->parse_phase == 0) {
                rc = http_response_parse_status_line(&ctx->resp, b->data, ctx->head_buf_len);
                if (rc == HTTP_PARSE_OK) {
                    ctx->parse_phase = 1;
                    continue;
                }
                if (rc == HTTP_PARSE_RESPONSE_09) {
                    if (retry_fresh(ctx, 1))
                        return PX_ERROR;
                    proxy_log_upstream(ctx, PX_LOG_ERR, 0,
                                       "upstream sent no valid HTTP/1.0 header");
                    ctx->status = 200;
                    r->status = 200;
                    r->http_major = 0; /* no head toward the client */
                    ctx->body_kind = HTTP_BODY_UNTIL_CLOSE;
                    ctx->resp.pos = 0;
                    r->keepalive = 0;
                    http_send_header(r);
                    r->http_major = 1;
                    r->chunked_out = 0; /* the bytes go out exactly as they came */
                    r->keepalive_out = 0;
                    start_body(ctx);
                    return PX_DONE;
                }
            } else {
                rc = http_response_parse_header_line(&ctx->resp, b->data, ctx->head_buf_len);
                if (rc == HTTP_PARSE_OK) {
                    if (r->upstream_headers.elts == NULL)
                        px_array_init(&r->upstream_headers, r->pool, 16, sizeof(http_header_t));
                    /* slices of the buffer until the head is complete (keep_head) */
                    http_header_t *h = px_array_push(&r->upstream_headers);
                    h->name = buf_str(ctx, ctx->resp.header_name);
                    h->value = buf_str(ctx, ctx->resp.header_value);
                    continue;
                }
                if (rc == HTTP_PARSE_HEADERS_DONE) {
                    if (http_response_is_interim(ctx->resp.status)) {
                        /* 100 Continue and friends: the real head follows */
                        http_response_next(&ctx->resp);
                        ctx->parse_phase = 0;
                        r->upstream_headers.nelts = 0;
                        continue;
                    }
                    if (keep_head(ctx) != PX_OK) {
                        fail(ctx, 500);
                        return PX_ERROR;
                    }
                    process_head(ctx);
                    return PX_DONE;
                }
                if (rc != HTTP_PARSE_AGAIN) {
                    char msg[1024];
                    http_response_format_error(&ctx->resp, rc, b->data, msg, sizeof(msg));
                    proxy_log_upstream(ctx, PX_LOG_ERR, 0, msg);
                    next_upstream(ctx, PROXY_NEXT_INVALID_HEADER, 502);
                    return PX_ERROR;
                }
            }
            if (rc == HTTP_PARSE_AGAIN)
                break;
        }
        if (ctx->head_buf_len == b->size) {
            proxy_log_upstream(ctx, PX_LOG_ERR, 0, "upstream sent too big header");
            next_upstream(ctx, PROXY_NEXT_INVALID_HEADER, 502);
            return PX_ERROR;
        }
        if (!up->readable) {
            px_timer_add(&up->read_timer, (px_msec_t)ctx->conf->read_timeout);
            return PX_AGAIN;
        }
        ssize_t n = px_conn_recv(up, b->data + ctx->head_buf_len, b->size - ctx->head_buf_len);
        if (n == PX_AGAIN)
            continue;
        if (n < 0) {
            int err = errno;
            if (retry_fresh(ctx, 0))
                return PX_ERROR;
            proxy_log_upstream(ctx, PX_LOG_ERR, err, "recv() failed");
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
            return PX_ERROR;
        }
        if (n == 0) {
            if (retry_fresh(ctx, 0))
                return PX_ERROR;
            proxy_log_upstream(ctx, PX_LOG_ERR, 0, "upstream prematurely closed connection");
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
            return PX_ERROR;
        }
        ctx->head_buf_len += (size_t)n;
    }
}

/* ---- the response body ---- */

static void buf_done(void *arg)
{
    pbuf_t *b = arg;
    b->busy = 0;
}

/* Whether the upstream connection can serve another request: HTTP/1.1 both ways, no
 * "Connection: close", the request and the response each complete and nothing more. */
static int reusable(proxy_ctx_t *ctx)
{
    px_conn_t *up = ctx->up;
    return up && ctx->conf->http_version == 1001 && ctx->request_sent && ctx->upstream_done &&
           !ctx->broken && !ctx->extra && !ctx->resp.connection_close &&
           ctx->body_kind != HTTP_BODY_UNTIL_CLOSE && !up->peer_closed && !up->error &&
           ctx->resp.status != 101;
}

static void finish(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    ctx->response_ms = px_current_msec - ctx->start;
    unsigned ka_max;
    px_msec_t ka_timeout;
    const void *owner = proxy_keepalive_owner(ctx, &ka_max, &ka_timeout);
    if (ctx->up)
        ctx->up->requests++;
    if (owner && reusable(ctx) && proxy_keepalive_allows(ctx, ctx->up)) {
        px_conn_t *up = ctx->up;
        ctx->up = NULL;
        ups_keepalive_put(up, owner, ka_max, ka_timeout);
    }
    detach(ctx);
    if (!ctx->client_body_done && http_body_expected(r) && !r->body_done)
        r->keepalive = 0; /* the rest of the body would be read as the next request */
    http_send_last(r);
    http_finalize(r, PX_OK);
}

/* Decodes [data, data+len) per the body kind in place; returns bytes of body. */
static ssize_t take_body(proxy_ctx_t *ctx, char *data, size_t len)
{
    if (ctx->body_kind == HTTP_BODY_UNTIL_CLOSE)
        return (ssize_t)len;
    if (ctx->body_kind == HTTP_BODY_LENGTH) {
        if ((int64_t)len >= ctx->body_rest) {
            if ((int64_t)len > ctx->body_rest)
                ctx->extra = 1;
            len = (size_t)ctx->body_rest;
            ctx->upstream_done = 1;
        }
        ctx->body_rest -= (int64_t)len;
        return (ssize_t)len;
    }
    size_t in = 0, out = 0;
    while (in < len && !ctx->upstream_done) {
        size_t consumed;
        http_span_t d;
        int rc = http_parse_chunked(&ctx->chunked, data + in, len - in, &consumed, &d);
        if (rc == HTTP_PARSE_OK) {
            memmove(data + out, data + in + d.start, d.len);
            out += d.len;
        } else if (rc == HTTP_PARSE_CHUNKED_DONE) {
            ctx->upstream_done = 1;
        } else if (rc != HTTP_PARSE_AGAIN) {
            proxy_log_upstream(ctx, PX_LOG_ERR, 0, "upstream sent invalid chunked response");
            return -1;
        }
        in += consumed;
    }
    if (in < len)
        ctx->extra = 1;
    return (ssize_t)out;
}

/* Buffers are allocated on first use: most responses fit in the first one. */
static pbuf_t *alloc_buf(pbuf_t *b)
{
    if (b->data == NULL)
        b->data = px_cache_alloc(b->size);
    return b->data ? b : NULL;
}

static pbuf_t *free_buf(proxy_ctx_t *ctx)
{
    int limit = ctx->buffering ? ctx->nbufs : 1;
    for (int i = 0; i < limit; i++) {
        if (!ctx->bufs[i].busy)
            return alloc_buf(&ctx->bufs[i]);
    }
    return NULL;
}

static int queue(proxy_ctx_t *ctx, pbuf_t *b, char *data, size_t len)
{
    b->busy = 1;
    if (http_send_body(ctx->r, data, len, buf_done, b) != PX_OK) {
        b->busy = 0;
        return PX_ERROR;
    }
    return PX_OK;
}

static void start_body(proxy_ctx_t *ctx)
{
    ctx->state = ST_BODY_OUT;
    ctx->body_rest = ctx->resp.content_length;
    http_chunked_init(&ctx->chunked);
    if (ctx->body_kind == HTTP_BODY_NONE) {
        ctx->upstream_done = 1;
        if (ctx->resp.pos < ctx->head_buf_len)
            ctx->extra = 1;
    }
    /* body bytes that came with the head */
    size_t pos = ctx->resp.pos;
    if (pos < ctx->head_buf_len && !ctx->upstream_done) {
        pbuf_t *b = &ctx->bufs[0];
        ssize_t n = take_body(ctx, b->data + pos, ctx->head_buf_len - pos);
        if (n < 0) {
            fail(ctx, 502);
            return;
        }
        if (n > 0 && queue(ctx, b, b->data + pos, (size_t)n) != PX_OK) {
            fail(ctx, 500);
            return;
        }
    }
    pump(ctx);
}

/* Reads upstream bytes into a free buffer (or the temp file). 1 progress, 0 none, -1 failed. */
static int read_upstream(proxy_ctx_t *ctx, int may_spill)
{
    http_request_t *r = ctx->r;
    px_conn_t *up = ctx->up;
    if (ctx->upstream_done || up == NULL || !up->readable)
        return 0;
    /* proxy_busy_buffers_size: once the client is found slow, no more than this waits for
     * it in memory; what comes next goes to the temp file */
    int busy = may_spill && ctx->buffering && http_out_pending(r) >= ctx->conf->busy_buffers_size;
    pbuf_t *b = ctx->tmp_write > ctx->tmp_read || busy ? NULL : free_buf(ctx);
    int spill = 0;
    if (b == NULL || http_out_room(r) < 3) {
        if (!may_spill)
            return 0;
        /* buffers full: with buffering, run ahead into the temp file */
        if (!ctx->buffering || ctx->conf->max_temp_file_size == 0 ||
            ctx->tmp_write - ctx->tmp_read >= ctx->conf->max_temp_file_size)
            return 0;
        if (ctx->tmp_fd < 0) {
            char path[4096];
            if ((ctx->tmp_fd = temp_file(r, ctx->conf->temp_path, path, sizeof(path))) < 0)
                return -1;
            proxy_log_upstream(
                ctx, PX_LOG_WARN, 0,
                px_psprintf(r->pool, "an upstream response is buffered to a temporary file %s",
                            path));
        }
        spill = 1;
        b = alloc_buf(&ctx->bufs[ctx->nbufs]); /* the spare buffer only the file uses */
        if (b == NULL)
            return -1;
    }
    /* one readv fills every free buffer the client queue has room for */
    pbuf_t *list[8];
    struct iovec iov[8];
    int nb = 0;
    size_t want = 0;
    list[nb++] = b;
    b->busy = 1; /* reserved while the others are picked */
    while (!spill && nb < 8 && http_out_room(r) >= 3 * (size_t)(nb + 1)) {
        pbuf_t *more = free_buf(ctx);
        if (more == NULL)
            break;
        more->busy = 1;
        list[nb++] = more;
    }
    for (int i = 0; i < nb; i++) {
        list[i]->busy = 0;
        iov[i].iov_base = list[i]->data;
        iov[i].iov_len = list[i]->size;
        want += list[i]->size;
    }
    if (ctx->body_kind == HTTP_BODY_LENGTH && (int64_t)want > ctx->body_rest) {
        /* never read past the body: the connection may serve another request */
        size_t cap = (size_t)ctx->body_rest;
        for (int i = 0; i < nb; i++) {
            if (iov[i].iov_len >= cap) {
                iov[i].iov_len = cap;
                nb = i + 1;
                break;
            }
            cap -= iov[i].iov_len;
        }
    }
    ssize_t n = px_conn_readv(up, iov, nb);
    if (n == PX_AGAIN) {
        px_timer_add(&up->read_timer, (px_msec_t)ctx->conf->read_timeout);
        return 0;
    }
    if (n < 0) {
        proxy_log_upstream(ctx, PX_LOG_ERR, errno, "recv() failed");
        return -1;
    }
    px_timer_del(&up->read_timer);
    if (n == 0) {
        if (ctx->body_kind == HTTP_BODY_UNTIL_CLOSE) {
            ctx->upstream_done = 1;
            return 1;
        }
        proxy_log_upstream(ctx, PX_LOG_ERR, 0, "upstream prematurely closed connection");
        return -1;
    }
    size_t left = (size_t)n;
    for (int i = 0; i < nb && left; i++) {
        size_t got = left < iov[i].iov_len ? left : iov[i].iov_len;
        left -= got;
        if (ctx->upstream_done) {
            ctx->extra = 1; /* bytes past a chunked body's end */
            break;
        }
        ssize_t body = take_body(ctx, list[i]->data, got);
        if (body < 0)
            return -1;
        if (body == 0)
            continue;
        if (spill) {
            if (write_all(r, ctx->tmp_fd, list[i]->data, (size_t)body, ctx->tmp_write) != PX_OK)
                return -1;
            ctx->tmp_write += body;
            continue;
        }
        if (queue(ctx, list[i], list[i]->data, (size_t)body) != PX_OK)
            return -1;
    }
    return 1;
}

/* Moves temp file bytes into free buffers, in order. */
static int drain_temp(proxy_ctx_t *ctx)
{
    int progress = 0;
    while (ctx->tmp_read < ctx->tmp_write && http_out_room(ctx->r) >= 3) {
        pbuf_t *b = free_buf(ctx);
        if (b == NULL)
            break;
        size_t want = b->size;
        if ((off_t)want > ctx->tmp_write - ctx->tmp_read)
            want = (size_t)(ctx->tmp_write - ctx->tmp_read);
        ssize_t n = pread(ctx->tmp_fd, b->data, want, ctx->tmp_read);
        if (n <= 0) {
            px_log_error(PX_LOG_CRIT, &ctx->r->log, errno, "pread() from temporary file failed");
            return -1;
        }
        ctx->tmp_read += n;
        if (queue(ctx, b, b->data, (size_t)n) != PX_OK)
            return -1;
        progress = 1;
    }
    if (ctx->tmp_read == ctx->tmp_write && ctx->tmp_write) {
        /* caught up: the file starts over */
        ctx->tmp_read = ctx->tmp_write = 0;
        if (ftruncate(ctx->tmp_fd, 0) < 0)
            px_log_error(PX_LOG_CRIT, &ctx->r->log, errno, "ftruncate() failed");
    }
    return progress;
}

/* Reads while the upstream has bytes and there is room; 1 when anything happened. A failed
 * read after the head went out marks the relay broken: what came before still goes out. */
static int fill(proxy_ctx_t *ctx, int may_spill)
{
    int rc, progress = 0;
    /* proxy_temp_file_write_size: how much goes to the temp file in one go before the
     * client gets another turn */
    off_t spill_start = ctx->tmp_write;
    while ((rc = read_upstream(ctx, may_spill)) > 0) {
        progress = 1;
        if (may_spill && ctx->tmp_write - spill_start >= (off_t)ctx->conf->temp_file_write_size)
            break;
    }
    if (rc < 0) {
        close_upstream(ctx);
        ctx->broken = 1;
        progress = 1;
    }
    return progress;
}

static void pump(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    for (;;) {
        int progress = 0;
        int rc = drain_temp(ctx);
        if (rc < 0) {
            fail(ctx, 502);
            return;
        }
        progress |= rc;
        /* fill every free buffer first, so that one writev carries them all */
        progress |= fill(ctx, 0);
        size_t before = http_out_pending(r);
        rc = http_flush(r);
        if (rc == PX_AGAIN && !ctx->broken) {
            /* the client is slower: with buffering, what the buffers cannot hold goes to the
             * temp file so the upstream is not held up */
            progress |= fill(ctx, 1);
        }
        /* written bytes may have freed buffers the reads above had none of */
        if (http_out_pending(r) < before)
            progress = 1;
        if (rc == PX_ERROR) {
            detach(ctx);
            http_terminate(r, r->status);
            return;
        }
        if (ctx->broken && rc == PX_OK && ctx->tmp_read == ctx->tmp_write) {
            detach(ctx);
            http_terminate(r, r->status);
            return;
        }
        if (ctx->upstream_done && ctx->tmp_read == ctx->tmp_write) {
            finish(ctx);
            return;
        }
        if (!progress)
            return;
    }
}

/* ---- events ---- */

static void advance(proxy_ctx_t *ctx);

static void upstream_event(px_conn_t *c)
{
    proxy_ctx_t *ctx = c->data;
    if (ctx == NULL) {
        px_conn_close(c);
        return;
    }
    advance(ctx);
}

static void client_read(http_request_t *r)
{
    proxy_ctx_t *ctx = r->content_ctx;
    if (ctx->tunnel) {
        proxy_tunnel_event(ctx->tunnel);
        return;
    }
    if (ctx->state == ST_SEND && ctx->body_mode == BODY_STREAM && !ctx->body_eof) {
        advance(ctx);
        return;
    }
    if (ctx->state == ST_BODY) {
        advance(ctx);
        return;
    }
    char byte;
    if (r->conn->peer_closed && !ctx->conf->ignore_client_abort &&
        recv(r->conn->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        /* an end of stream, not pipelined bytes: the client is gone; nginx still says
         * "sending request" until the upstream's first bytes arrive */
        if (ctx->state == ST_HEAD && ctx->head_buf_len == 0)
            ctx->state = ST_SEND;
        proxy_log_upstream(
            ctx, PX_LOG_INFO, 0,
            "epoll_wait() reported that client prematurely closed connection, so upstream "
            "connection is closed too");
        detach(ctx);
        http_terminate(r, r->header_sent ? r->status : 499);
    }
}

static void client_write(http_request_t *r)
{
    proxy_ctx_t *ctx = r->content_ctx;
    if (ctx->tunnel) {
        proxy_tunnel_event(ctx->tunnel);
        return;
    }
    if (ctx->state == ST_BODY_OUT)
        pump(ctx);
}

/* Reads the whole client body before connecting (proxy_request_buffering on). */
static int buffer_body(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    size_t cap = r->loc->client_body_buffer_size;
    if (ctx->body_mem == NULL) {
        if (!r->chunked_in && (size_t)r->content_length_n <= cap)
            cap = (size_t)r->content_length_n;
        ctx->body_mem = px_palloc(r->pool, cap ? cap : 1);
        ctx->sbuf_size = cap;
    }
    for (;;) {
        size_t room = ctx->sbuf_size - ctx->body_len;
        if (room == 0 && ctx->body_fd < 0 && !r->body_done) {
            /* past client_body_buffer_size: the rest goes to a temp file */
            char path[4096];
            if ((ctx->body_fd = temp_file(r, r->loc->client_body_temp_path, path, sizeof(path))) <
                0)
                return 500;
            px_log_error(PX_LOG_WARN, &r->log, 0,
                         "a client request body is buffered to a temporary file %s", path);
            if (write_all(r, ctx->body_fd, ctx->body_mem, ctx->body_len, 0) != PX_OK)
                return 500;
        }
        char *dst = ctx->body_fd >= 0 ? ctx->body_mem : ctx->body_mem + ctx->body_len;
        size_t dlen = ctx->body_fd >= 0 ? ctx->sbuf_size : room;
        ssize_t n = http_body_read(r, dst, dlen);
        if (n == PX_AGAIN) {
            http_body_wait(r);
            return PX_AGAIN;
        }
        if (n < 0)
            return r->body_status;
        if (n == 0)
            break;
        if (ctx->body_fd >= 0) {
            if (write_all(r, ctx->body_fd, dst, (size_t)n, (off_t)ctx->body_len) != PX_OK)
                return 500;
        }
        ctx->body_len += (size_t)n;
    }
    ctx->client_body_done = 1;
    if (ctx->body_fd >= 0) {
        ctx->body_mode = BODY_FILE;
        ctx->sbuf_size = 65536;
        ctx->sbuf = malloc(ctx->sbuf_size);
        if (ctx->sbuf == NULL)
            return 500;
    } else {
        ctx->body_mode = BODY_MEM;
    }
    return PX_OK;
}

/* HAProxy's send-proxy / send-proxy-v2 on a server: a new connection starts with a PROXY
 * protocol header naming the client (the addresses of the header it came with, if any) and
 * the address it reached. A few hundred bytes on a socket that has sent nothing yet: sent at
 * once, before any TLS handshake, or the attempt fails. */
static int send_proxy_header(proxy_ctx_t *ctx, int version)
{
    http_request_t *r = ctx->r;
    const px_pp_header_t *pp = http_pp_header(r);
    const struct sockaddr *src, *dst;
    if (pp && !pp->local && (pp->family == AF_INET || pp->family == AF_INET6)) {
        src = (const struct sockaddr *)&pp->src;
        dst = (const struct sockaddr *)&pp->dst;
    } else {
        socklen_t len;
        src = (const struct sockaddr *)&r->conn->peer;
        dst = px_conn_local(r->conn, &len);
    }
    unsigned char buf[512];
    size_t n = version == 1 ? px_pp_write_v1(buf, sizeof(buf), src, dst)
                            : px_pp_write_v2(buf, sizeof(buf), src, dst, NULL, 0, NULL, 0);
    if (n == 0)
        return PX_ERROR;
    ssize_t w;
    do
        w = send(ctx->up->io.fd, buf, n, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)n)
        return PX_OK;
    if (w >= 0)
        errno = EAGAIN;
    return PX_ERROR;
}

static void advance(proxy_ctx_t *ctx)
{
    int rc;
    switch (ctx->state) {
    case ST_BODY:
        rc = buffer_body(ctx);
        if (rc == PX_AGAIN)
            return;
        if (rc != PX_OK) {
            fail(ctx, rc);
            return;
        }
        start_connect(ctx);
        return;
    case ST_CONNECT: {
        px_conn_t *up = ctx->up;
        if (!up->writable && !up->error && !up->peer_closed)
            return;
        int err = ctx->reused ? 0 : ups_connect_result(up);
        if (err) {
            proxy_log_upstream(ctx, PX_LOG_ERR, err, "connect() failed");
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
            return;
        }
        int pp_version = ctx->ups && !ctx->reused ? ctx->ups->send_proxy[ctx->peer_index] : 0;
        if (pp_version && send_proxy_header(ctx, pp_version) != PX_OK) {
            proxy_log_upstream(ctx, PX_LOG_ERR, errno, "sending PROXY protocol header failed");
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
            return;
        }
        if (ctx->pass->scheme == PROXY_SCHEME_HTTPS && !ctx->reused) {
            if (proxy_ssl_start(ctx->r, up, ctx->pass->proxy_host) != PX_OK) {
                fail(ctx, 502);
                return;
            }
            ctx->state = ST_TLS;
        }
    }
        /* fall through */
    case ST_TLS: {
        px_conn_t *up = ctx->up;
        if (ctx->state == ST_TLS) {
            const char *why;
            rc = proxy_ssl_handshake(ctx->r, up, &why);
            if (rc == PX_AGAIN)
                return;
            if (rc != PX_OK) {
                proxy_release_peer(ctx, UPS_FAILED);
                proxy_log_upstream(ctx, PX_LOG_ERR, 0, why);
                next_upstream(ctx, PROXY_NEXT_ERROR, 502);
                return;
            }
        }
        px_timer_del(&up->read_timer);
        ctx->connect_ms = px_current_msec - ctx->start;
        ctx->state = ST_SEND;
        up->read_timer.handler = upstream_timeout;
        up->write_timer.handler = upstream_timeout;
        ctx->iov[0].iov_base = ctx->head;
        ctx->iov[0].iov_len = ctx->head_len;
        ctx->iovcnt = 1;
    }
        /* fall through */
    case ST_SEND:
    case ST_HEAD:
        if (!ctx->request_sent) {
            rc = send_request(ctx);
            if (rc == PX_ERROR)
                return;
            if (rc == PX_OK)
                ctx->request_sent = 1;
        }
        /* an early answer is read while the body still goes out */
        if (!ctx->request_sent && !ctx->up->readable)
            return;
        ctx->state = ST_HEAD;
        read_head(ctx);
        return;
    case ST_BODY_OUT:
        if (!ctx->request_sent) {
            /* a failure here may have ended the request (and freed ctx): leave at once */
            rc = send_request(ctx);
            if (rc == PX_ERROR)
                return;
            if (rc == PX_OK)
                ctx->request_sent = 1;
        }
        pump(ctx);
        return;
    default:
        return;
    }
}

static void start_connect(proxy_ctx_t *ctx)
{
    http_request_t *r = ctx->r;
    ctx->state = ST_CONNECT;
    if (ctx->body_mode == BODY_STREAM && ctx->sbuf == NULL) {
        ctx->sbuf_size = ctx->conf->buffer_size > 8192 ? ctx->conf->buffer_size : 8192;
        ctx->sbuf = malloc(ctx->sbuf_size);
        if (ctx->sbuf == NULL) {
            fail(ctx, 500);
            return;
        }
    }
    if (ctx->head == NULL && build_request(ctx) != PX_OK) {
        fail(ctx, 500);
        return;
    }
    ctx->start = px_current_msec;
    /* a retry on a fresh connection (retry_fresh) stays with its peer */
    if (ctx->ups && !ctx->picked) {
        int rc = proxy_pick_peer(ctx);
        if (rc != PX_OK) {
            fail(ctx, rc);
            return;
        }
    }
    r->upstream_peer = ctx->peer.text;
    int err = 0;
    /* an idle connection this location opened before, unless this is the retry after a
     * cached one failed */
    unsigned ka_max;
    px_msec_t ka_timeout;
    const void *owner = proxy_keepalive_owner(ctx, &ka_max, &ka_timeout);
    while (owner && !ctx->retried) {
        ctx->up = ups_keepalive_get(owner, (struct sockaddr *)&ctx->peer.sa, ctx->peer.len);
        if (ctx->up == NULL || (proxy_idempotent(r) && ctx->conf->has_method != 1))
            break;
        /* a request that cannot be sent twice gets a cached connection only if the server
         * has not closed it already (its close may be waiting behind this very event) */
        char byte;
        ssize_t n = recv(ctx->up->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        px_conn_close(ctx->up);
        ctx->up = NULL;
    }
    ctx->reused = ctx->up != NULL;
    if (ctx->up) {
        ctx->up->log = r->log;
        ctx->up->writable = 1;
    } else {
        ctx->up = ups_connect((struct sockaddr *)&ctx->peer.sa, ctx->peer.len, &r->log, &err);
    }
    if (ctx->up == NULL) {
        proxy_log_upstream(ctx, err ? PX_LOG_ERR : PX_LOG_ALERT, err,
                           err ? "connect() failed" : "worker_connections are not enough");
        if (err)
            next_upstream(ctx, PROXY_NEXT_ERROR, 502);
        else
            fail(ctx, 502);
        return;
    }
    ctx->up->data = ctx;
    ctx->up->read_handler = upstream_event;
    ctx->up->write_handler = upstream_event;
    ctx->up->read_timer.handler = upstream_timeout;
    ctx->up->write_timer.handler = upstream_timeout;
    px_timer_add(&ctx->up->read_timer, (px_msec_t)ctx->conf->connect_timeout);
    if (ctx->up->writable)
        advance(ctx);
}

/* A cached connection the server closed just as we took it fails before any response
 * byte: the request goes again, once, on a new connection, if it can be replayed. */
static int retry_fresh(proxy_ctx_t *ctx, int junk)
{
    http_request_t *r = ctx->r;
    /* junk: what a cached connection answered is not HTTP at all, bytes a server sent
     * after its previous response (a 204 with a body, say): the connection was never usable */
    if (!ctx->reused || ctx->retried || (ctx->head_buf_len && !junk) ||
        ctx->body_mode == BODY_STREAM || !proxy_idempotent(r) || ctx->conf->has_method == 1)
        return 0;
    /* nginx lists the failed attempt in $upstream_* ("a, a" and "502, 200") */
    proxy_push_attempt(ctx, 502);
    ctx->status = 0;
    ctx->connect_ms = ctx->header_ms = 0;
    close_upstream(ctx);
    ctx->retried = 1;
    ctx->reused = 0;
    ctx->request_sent = 0;
    ctx->body_eof = 0;
    ctx->body_file_off = 0;
    ctx->iovcnt = 0;
    http_response_init(&ctx->resp);
    ctx->parse_phase = 0;
    ctx->head_buf_len = 0;
    start_connect(ctx);
    return 1;
}

/* ---- choosing peers ---- */

/* An attempt failed for reason ft (PROXY_NEXT_*): the peer is told, and the request goes to
 * the next one if proxy_next_upstream allows, else ends with status. */
static void next_upstream(proxy_ctx_t *ctx, unsigned ft, int status)
{
    http_request_t *r = ctx->r;
    /* nginx counts a 403 or 404 as an answer, everything else as a failure of the peer */
    proxy_release_peer(ctx, ft & (PROXY_NEXT_HTTP_403 | PROXY_NEXT_HTTP_404) ? UPS_OK : UPS_FAILED);
    if (!proxy_may_retry(ctx, ft)) {
        if (ctx->status == 0)
            ctx->status = status;
        fail(ctx, status);
        return;
    }
    proxy_push_attempt(ctx, status);
    close_upstream(ctx);
    ctx->tries--;
    ctx->retried = 0;
    ctx->reused = 0;
    ctx->request_sent = 0;
    ctx->sent_any = 0;
    ctx->body_eof = 0;
    ctx->body_file_off = 0;
    ctx->iovcnt = 0;
    ctx->status = 0;
    ctx->connect_ms = ctx->header_ms = 0;
    http_response_init(&ctx->resp);
    ctx->parse_phase = 0;
    ctx->head_buf_len = 0;
    r->upstream_headers.nelts = 0;
    start_connect(ctx);
}

/* ---- the content handler ---- */

static void free_evaluated(void *data)
{
    proxy_pass_free(data);
}

int proxy_handler(http_request_t *r)
{
    proxy_loc_conf_t *conf = http_get_module_loc_conf(r, proxy_http_module);
    proxy_ctx_t *ctx = px_pcalloc(r->pool, sizeof(*ctx));
    if (ctx == NULL)
        return 500;
    ctx->r = r;
    ctx->conf = conf;
    ctx->body_fd = ctx->tmp_fd = -1;
    ctx->buffering = conf->buffering;
    http_response_init(&ctx->resp);
    if (px_pool_cleanup_add(r->pool, cleanup, ctx) != PX_OK ||
        px_pool_cleanup_add(r->pool, free_evaluated, &ctx->evaluated) != PX_OK)
        return 500;
    r->content_ctx = ctx;
    int rc = proxy_choose_peer(ctx);
    if (rc != PX_OK) {
        ctx->status = rc;
        return rc;
    }

    /* buffers: bufs[0] reads the head (proxy_buffer_size); with buffering, proxy_buffers
     * follow, plus one spare the temp file path reads into */
    int n = 1 + (conf->buffering ? conf->buffers.num + 1 : 1);
    ctx->bufs = px_pcalloc(r->pool, sizeof(pbuf_t) * (size_t)n);
    for (int i = 0; i < n; i++)
        ctx->bufs[i].size = i == 0 ? conf->buffer_size : conf->buffers.size;
    ctx->nbufs = n - 1; /* the spare is bufs[nbufs] */
    if (alloc_buf(&ctx->bufs[0]) == NULL)
        return 500;

    r->read_event_handler = client_read;
    r->write_event_handler = client_write;

    if (conf->has_set_body == 1) {
        px_str_t body;
        if (http_cv_eval(r, &conf->set_body, &body) != PX_OK)
            return 500;
        ctx->body_mode = BODY_MEM;
        ctx->body_mem = (char *)body.data;
        ctx->body_len = body.len;
    } else if (conf->pass_request_body && (http_body_expected(r) || r->h_content_length)) {
        /* "Content-Length: 0" goes on as it came */
        if (http_body_start(r) != PX_OK)
            return 500;
        int stream = !conf->request_buffering &&
                     !(r->chunked_in && conf->http_version == 1000); /* 1.0 needs a length */
        if (stream) {
            ctx->body_mode = BODY_STREAM;
            ctx->send_chunked = r->chunked_in;
            ctx->body_len = r->chunked_in ? 0 : (size_t)r->content_length_n;
        } else {
            ctx->state = ST_BODY;
            advance(ctx);
            return PX_DONE;
        }
    }
    start_connect(ctx);
    return PX_DONE;
}
