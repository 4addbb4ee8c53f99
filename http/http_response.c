/* Responses: status lines, header serialisation, nginx's built-in error pages, and the
 * writer that keeps unsent bytes until the socket drains. */
#include <errno.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "core/px_addr.h"
#include "core/px_log.h"
#include "core/px_time.h"
#include "http/http_request.h"
#include "http/http_v2.h"

typedef struct {
    int code;
    const char *text;
} status_text_t;

static const status_text_t statuses[] = {
    {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
    {202, "Accepted"}, {204, "No Content"}, {206, "Partial Content"},
    {301, "Moved Permanently"}, {302, "Moved Temporarily"}, {303, "See Other"},
    {304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
    {400, "Bad Request"}, {401, "Unauthorized"}, {402, "Payment Required"}, {403, "Forbidden"},
    {404, "Not Found"}, {405, "Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Time-out"},
    {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"}, {412, "Precondition Failed"},
    {413, "Request Entity Too Large"}, {414, "Request-URI Too Large"},
    {415, "Unsupported Media Type"}, {416, "Requested Range Not Satisfiable"},
    {421, "Misdirected Request"}, {429, "Too Many Requests"}, {500, "Internal Server Error"},
    {501, "Not Implemented"}, {502, "Bad Gateway"}, {503, "Service Temporarily Unavailable"},
    {504, "Gateway Time-out"}, {505, "HTTP Version Not Supported"}, {507, "Insufficient Storage"},
    {0, NULL}};

const char *http_status_text(int status)
{
    for (const status_text_t *s = statuses; s->code; s++) {
        if (s->code == status)
            return s->text;
    }
    return NULL;
}

int http_add_out_header(http_request_t *r, px_str_t name, px_str_t value)
{
    if (r->out_headers.elts == NULL && px_array_init(&r->out_headers, r->pool, 8, sizeof(http_header_t)) != PX_OK)
        return PX_ERROR;
    http_header_t *h = px_array_push(&r->out_headers);
    if (h == NULL)
        return PX_ERROR;
    h->name = name;
    h->value = value;
    return PX_OK;
}

/* Serialises the status line and headers into b. */
static void build_head(http_request_t *r, px_pbuf_t *b)
{
    http_core_loc_conf_t *loc = r->loc;
    char line[128];
    int status = r->status;
    const char *text = http_status_text(status);
    int n;
    if (r->status_line.len) {
        /* a proxied status keeps the upstream's reason phrase */
        px_pbuf_lit(b, "HTTP/1.1 ");
        px_pbuf_str(b, r->status_line);
        px_pbuf_lit(b, "\r\n");
    } else {
        n = text ? snprintf(line, sizeof(line), "HTTP/1.1 %03d %s\r\n", status, text)
                 : snprintf(line, sizeof(line), "HTTP/1.1 %03d \r\n", status);
        px_pbuf_put(b, line, (size_t)n);
    }
    if (!r->own_server)
        px_pbuf_lit(b, loc && !loc->server_tokens ? "Server: proxyd\r\n" : "Server: proxyd/" PROXYD_VERSION "\r\n");
    if (!r->own_date) {
        px_pbuf_lit(b, "Date: ");
        px_pbuf_str(b, px_time_http_date());
        px_pbuf_lit(b, "\r\n");
    }
    if (r->content_type.len) {
        px_pbuf_lit(b, "Content-Type: ");
        px_pbuf_str(b, r->content_type);
        px_pbuf_lit(b, "\r\n");
    }
    if (r->out_content_length >= 0) {
        px_pbuf_lit(b, "Content-Length: ");
        px_pbuf_uint(b, (uint64_t)r->out_content_length);
        px_pbuf_lit(b, "\r\n");
    }
    if (r->last_modified.len) {
        px_pbuf_lit(b, "Last-Modified: ");
        px_pbuf_str(b, r->last_modified);
        px_pbuf_lit(b, "\r\n");
    }
    if (r->location.len) {
        px_pbuf_lit(b, "Location: ");
        px_pbuf_str(b, r->location);
        px_pbuf_lit(b, "\r\n");
    }
    if (r->chunked_out)
        px_pbuf_lit(b, "Transfer-Encoding: chunked\r\n");
    if (r->upgrade) {
        px_pbuf_lit(b, "Connection: upgrade\r\n");
    } else if (r->keepalive_out) {
        px_pbuf_lit(b, "Connection: keep-alive\r\n");
        if (loc && loc->keepalive_header >= 0) {
            px_pbuf_lit(b, "Keep-Alive: timeout=");
            px_pbuf_uint(b, (uint64_t)loc->keepalive_header);
            px_pbuf_lit(b, "\r\n");
        }
    } else {
        px_pbuf_lit(b, "Connection: close\r\n");
    }
    http_header_t *h = r->out_headers.elts;
    for (size_t i = 0; h && i < r->out_headers.nelts; i++) {
        if (h[i].name.len == 0) /* removed by a header filter */
            continue;
        px_pbuf_str(b, h[i].name);
        px_pbuf_lit(b, ": ");
        px_pbuf_str(b, h[i].value);
        px_pbuf_lit(b, "\r\n");
    }
    px_pbuf_lit(b, "\r\n");
}

/* nginx's 400s that name their reason in the page (and keep their own code for error_page). */
static const char *reason_400(int status)
{
    switch (status) {
    case 494:
        return "Request Header Or Cookie Too Large";
    case 495:
        return "The SSL certificate error";
    case 496:
        return "No required SSL certificate was sent";
    case 497:
        return "The plain HTTP request was sent to HTTPS port";
    default:
        return NULL;
    }
}

/* The body nginx sends for a status without content of its own. */
static px_str_t special_body(http_request_t *r, int status)
{
    const char *reason = reason_400(status);
    const char *text = reason ? "" : http_status_text(status);
    if (status < 300 || status == 304 || text == NULL)
        return PX_NULL_STR;
    if (status == 302)
        text = "Found"; /* nginx's page says "Found" though its status line does not */
    else if (status == 401)
        text = "Authorization Required"; /* likewise */
    const char *tail = r->loc && !r->loc->server_tokens ? "proxyd" : "proxyd/" PROXYD_VERSION;
    if (reason) {
        /* a 400 whose title names the reason */
        char *body = px_psprintf(r->pool,
                                 "<html>\r\n<head><title>400 %s</title>"
                                 "</head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
                                 "<center>%s</center>\r\n"
                                 "<hr><center>%s</center>\r\n</body>\r\n</html>\r\n",
                                 reason, reason, tail);
        return px_str_make(body, strlen(body));
    }
    char *body = px_psprintf(r->pool,
                             "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                             "<center><h1>%d %s</h1></center>\r\n<hr><center>%s</center>\r\n"
                             "</body>\r\n</html>\r\n",
                             status, text, status, text, tail);
    return px_str_make(body, strlen(body));
}

int http_run_header_filters(http_request_t *r)
{
    http_core_main_conf_t *cmcf = r->main_conf[http_core_module.index];
    http_handler_fn *f = cmcf->header_filters.elts;
    for (size_t i = 0; i < cmcf->header_filters.nelts; i++) {
        if (f[i](r) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

/* ---- the output queue ---- */

#define OUTQ_PIECES 32

typedef struct {
    const char *data;
    size_t len;
    http_out_done_fn done;
    void *arg;
} out_piece_t;

struct http_outq {
    out_piece_t piece[OUTQ_PIECES];
    unsigned head, count;
    size_t bytes;
    char framing[OUTQ_PIECES][20]; /* chunk-size lines live next to their slot */
};

static struct http_outq *outq(http_request_t *r)
{
    if (r->hc->outq == NULL)
        r->hc->outq = px_pcalloc(r->pool, sizeof(struct http_outq));
    return r->hc->outq;
}

size_t http_out_room(http_request_t *r)
{
    struct http_outq *q = outq(r);
    return q ? OUTQ_PIECES - q->count : 0;
}

size_t http_out_pending(http_request_t *r)
{
    return r->hc->outq ? r->hc->outq->bytes : 0;
}

/* Queues one piece; returns its slot index or -1 when the queue is full. */
static int push(http_request_t *r, const char *data, size_t len, http_out_done_fn done, void *arg)
{
    struct http_outq *q = outq(r);
    if (q == NULL || q->count == OUTQ_PIECES)
        return -1;
    unsigned i = (q->head + q->count) % OUTQ_PIECES;
    q->piece[i] = (out_piece_t){data, len, done, arg};
    q->count++;
    q->bytes += len;
    return (int)i;
}

/* Keepalive only if the request allows it and nothing forces a close. */
static void decide_keepalive(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    r->keepalive_out = r->keepalive && !px_worker_exiting && r->loc && r->loc->keepalive_timeout > 0 &&
                       r->conn->requests < (unsigned long)r->loc->keepalive_requests &&
                       px_current_msec - hc->start_msec < (px_msec_t)r->loc->keepalive_time;
}

static int status_has_body(int status)
{
    return !(status == 204 || status == 304 || (status >= 100 && status < 200));
}

/* nginx keeps Content-Type and Content-Length on a 304 (they describe the cached entity)
 * and drops them on 204 and 1xx. */
static int status_drops_length(int status)
{
    return status == 204 || (status >= 100 && status < 200);
}

int http_send_header(http_request_t *r)
{
    if (r->err_status)
        r->status = r->err_status;
    if (status_drops_length(r->status))
        r->out_content_length = -1;
    decide_keepalive(r);
    if (http_run_header_filters(r) != PX_OK)
        return PX_ERROR;
    /* a body of unknown length: chunked for HTTP/1.1, else the close ends it */
    if (r->hc->stream) {
        /* DATA frames delimit the body; the connection outlives the request */
        r->keepalive_out = 1;
        r->header_sent = 1;
        return http_v2_send_header(r);
    }
    if (r->out_content_length < 0 && status_has_body(r->status) && !r->header_only) {
        if (r->http_version >= 1001)
            r->chunked_out = 1;
        else
            r->keepalive_out = 0;
    }
    r->header_sent = 1;
    if (r->http_major < 1)
        return PX_OK;
    px_pbuf_t b = {NULL, 0, 0, r->pool};
    px_pbuf_reserve(&b, 512); /* most heads fit */
    build_head(r, &b);
    r->header_bytes_sent = b.len;
    return push(r, b.p, b.len, NULL, NULL) < 0 ? PX_ERROR : PX_OK;
}

int http_send_body(http_request_t *r, const char *data, size_t len, http_out_done_fn done, void *arg)
{
    if (r->header_only || len == 0) {
        if (done)
            done(arg);
        return PX_OK;
    }
    if (!r->chunked_out)
        return push(r, data, len, done, arg) < 0 ? PX_ERROR : PX_OK;
    if (http_out_room(r) < 3)
        return PX_ERROR;
    int i = push(r, NULL, 0, NULL, NULL);
    struct http_outq *q = r->hc->outq;
    int n = snprintf(q->framing[i], sizeof(q->framing[i]), "%zx\r\n", len);
    q->piece[i].data = q->framing[i];
    q->piece[i].len = (size_t)n;
    q->bytes += (size_t)n;
    push(r, data, len, NULL, NULL);
    push(r, "\r\n", 2, done, arg);
    return PX_OK;
}

int http_send_last(http_request_t *r)
{
    r->out_last = 1;
    if (r->chunked_out && !r->header_only)
        return push(r, "0\r\n\r\n", 5, NULL, NULL) < 0 ? PX_ERROR : PX_OK;
    return PX_OK;
}

int http_flush(http_request_t *r)
{
    struct http_outq *q = r->hc->outq;
    px_conn_t *c = r->conn;
    while (q && q->count) {
        if (!c->writable) {
            px_timer_add(&c->write_timer, (px_msec_t)r->loc->send_timeout);
            return PX_AGAIN;
        }
        struct iovec iov[OUTQ_PIECES];
        int n = 0;
        for (unsigned k = 0; k < q->count; k++) {
            out_piece_t *p = &q->piece[(q->head + k) % OUTQ_PIECES];
            if (p->len == 0)
                continue;
            iov[n].iov_base = (void *)p->data;
            iov[n].iov_len = p->len;
            n++;
        }
        ssize_t sent;
        char small[2048];
        if (n > 1 && q->bytes <= sizeof(small)) {
            /* a small response (head and a short body) goes out with one send(): copying a
             * few hundred bytes is cheaper than the kernel importing an iovec array */
            size_t at = 0;
            for (int k = 0; k < n; k++) {
                memcpy(small + at, iov[k].iov_base, iov[k].iov_len);
                at += iov[k].iov_len;
            }
            sent = px_conn_send(c, small, at);
        } else {
            sent = n ? px_conn_writev(c, iov, n) : 0;
        }
        if (sent == PX_AGAIN)
            continue;
        if (sent < 0) {
            /* nginx names the proxied body "sending to client" */
            px_log_error(PX_LOG_INFO, &r->log, errno, "writev() failed while sending %sto client",
                         r->content_ctx ? "" : "response ");
            c->error = 1;
            return PX_ERROR;
        }
        r->bytes_sent += (uint64_t)sent;
        q->bytes -= (size_t)sent;
        size_t left = (size_t)sent;
        while (q->count) {
            out_piece_t *p = &q->piece[q->head];
            size_t take = left < p->len ? left : p->len;
            p->data += take;
            p->len -= take;
            left -= take;
            if (p->len)
                break;
            q->head = (q->head + 1) % OUTQ_PIECES;
            q->count--;
            if (p->done)
                p->done(p->arg);
        }
    }
    px_timer_del(&c->write_timer);
    return PX_OK;
}

/* sendfile cannot encrypt or frame: over TLS or in an HTTP/2 stream the file goes through
 * one buffer. A write that has to wait is retried with the same bytes, read again from the
 * same offset. */
static ssize_t send_file_buffered(http_request_t *r, int fd, int64_t *offset, size_t len)
{
    static char buf[16384];
    px_conn_t *c = r->conn;
    if (!c->writable) {
        px_timer_add(&c->write_timer, (px_msec_t)r->loc->send_timeout);
        return PX_AGAIN;
    }
    ssize_t got = pread(fd, buf, len < sizeof(buf) ? len : sizeof(buf), (off_t)*offset);
    if (got < 0) {
        px_log_error(PX_LOG_CRIT, &r->log, errno, "pread() failed");
        return PX_ERROR;
    }
    if (got == 0)
        return 0;
    ssize_t n = px_conn_send(c, buf, (size_t)got);
    if (n == PX_AGAIN) {
        px_timer_add(&c->write_timer, (px_msec_t)r->loc->send_timeout);
        return PX_AGAIN;
    }
    if (n < 0) {
        px_log_error(PX_LOG_INFO, &r->log, errno, "%s failed while sending response to client",
                     c->vio ? "writev()" : "SSL_write()");
        return PX_ERROR;
    }
    *offset += n;
    r->bytes_sent += (uint64_t)n;
    return n;
}

ssize_t http_sendfile(http_request_t *r, int fd, int64_t *offset, size_t len)
{
    px_conn_t *c = r->conn;
    if (c->ssl || c->vio)
        return send_file_buffered(r, fd, offset, len);
    for (;;) {
        if (!c->writable) {
            px_timer_add(&c->write_timer, (px_msec_t)r->loc->send_timeout);
            return PX_AGAIN;
        }
        off_t off = (off_t)*offset;
        ssize_t n = sendfile(c->io.fd, fd, &off, len);
        if (n >= 0) {
            /* a short count may mean a full socket or a file that ended: the next call
             * tells them apart (EAGAIN or 0), so writable is left as it is */
            *offset = (int64_t)off;
            r->bytes_sent += (uint64_t)n;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->writable = 0;
            continue;
        }
        px_log_error(PX_LOG_INFO, &r->log, errno, "sendfile() failed while sending response to client");
        c->error = 1;
        return PX_ERROR;
    }
}

int http_send_simple(http_request_t *r, int status, px_str_t content_type, px_str_t body)
{
    r->status = r->err_status ? r->err_status : status;
    r->content_type = content_type;
    r->out_content_length = (int64_t)body.len;
    if (status_drops_length(status))
        r->content_type = PX_NULL_STR;
    if (!status_has_body(status))
        body = PX_NULL_STR;
    if (http_send_header(r) != PX_OK)
        return PX_ERROR;
    if (!r->header_only && body.len && push(r, body.data, body.len, NULL, NULL) < 0)
        return PX_ERROR;
    r->out_last = 1;
    return PX_OK;
}

/* The special response for status, honouring the location's error_page. */
int http_send_special(http_request_t *r, int status)
{
    if (r->lingering || status == 400 || status == 413 || status == 414 || reason_400(status) ||
        status == 500 || status == 501 || status == 505 || status == 408)
        r->keepalive = 0;
    http_discard_for_special(r);
    /* an error page target that fails shows its own status, not error_page's =code */
    r->err_status = 0;
    /* 494-497 are logged and sent as 400, with their own pages */
    /* a status without a page of its own (304) is typed like any other empty response */
    px_str_t body = special_body(r, status);
    return http_send_simple(r, reason_400(status) ? 400 : status,
                            body.len || r->loc == NULL ? PX_STR("text/html") : r->loc->default_type, body);
}

/* The Host header among the lines read so far of a head that failed midway: nginx has it
 * in its log lines already. */
static px_str_t host_being_read(http_conn_t *hc)
{
    const http_header_span_t *spans = hc->header_spans->elts;
    for (size_t i = 0; i < hc->header_spans->nelts; i++) {
        const http_header_span_t *h = &spans[i];
        if (px_str_caseeq_lit(px_str_make(hc->buf + h->name.start, h->name.len), "Host"))
            return px_str_make(hc->buf + h->value.start, h->value.len);
    }
    return PX_NULL_STR;
}

size_t http_log_context(px_log_t *log, char *buf, size_t len)
{
    http_request_t *r = log->data;
    if (r == NULL)
        return 0;
    char addr[128];
    px_addr_to_text((struct sockaddr *)&r->conn->peer, r->conn->peer_len, 0, addr, sizeof(addr));
    int n;
    if (r->request_line.len == 0) {
        n = snprintf(buf, len, ", client: %s, server: %s", addr,
                     r->conn->listening ? r->conn->listening->text : "");
    } else {
        px_str_t sn = r->srv ? r->srv->server_name : PX_NULL_STR;
        n = snprintf(buf, len, ", client: %s, server: %.*s, request: \"%.*s\"", addr, (int)sn.len,
                     sn.data ? sn.data : "", (int)r->request_line.len, r->request_line.data);
        if (r->upstream_peer && n > 0 && (size_t)n < len) {
            int m = snprintf(buf + n, len - (size_t)n, ", upstream: \"%s://%s%.*s\"", r->upstream_scheme,
                             r->upstream_peer, (int)r->upstream_uri.len, r->upstream_uri.data);
            if (m > 0)
                n += m;
        }
        px_str_t host = r->h_host ? r->h_host->value : PX_NULL_STR;
        if (r->h_host == NULL && r->hc && r->hc->parse_phase == 1)
            host = host_being_read(r->hc);
        if (n > 0 && (size_t)n < len && host.data) {
            int m = snprintf(buf + n, len - (size_t)n, ", host: \"%.*s\"", (int)host.len, host.data);
            if (m > 0)
                n += m;
        }
    }
    if (n < 0)
        return 0;
    return (size_t)n < len ? (size_t)n : len - 1;
}
