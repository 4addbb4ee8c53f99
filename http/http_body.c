/* Reading a request body for a content handler that sends it on (proxy_pass): the bytes
 * already read with the head first, then the socket; Content-Length or chunked, decoded;
 * client_max_body_size for chunked bodies; 100 Continue; client_body_timeout. */
#include <errno.h>
#include <string.h>

#include "core/px_log.h"
#include "http/http_request.h"

int http_body_expected(http_request_t *r)
{
    return r->chunked_in || r->content_length_n > 0;
}

void http_body_init(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    if (r->body_started)
        return;
    r->body_started = 1;
    hc->body_rest = r->chunked_in ? -1 : r->content_length_n;
    hc->body_received = 0;
    http_chunked_init(&hc->chunked);
}

int http_body_start(http_request_t *r)
{
    http_body_init(r);
    if (r->expect_continue && !r->continue_sent && !r->body_done) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->continue_sent = 1;
        if (px_conn_send(r->conn, cont, sizeof(cont) - 1) != (ssize_t)(sizeof(cont) - 1))
            return PX_ERROR;
    }
    return PX_OK;
}

static ssize_t fail(http_request_t *r, int status)
{
    r->body_status = status;
    r->keepalive = 0;
    r->body_done = 1;
    return PX_ERROR;
}

/* Decodes chunked bytes in place: data pieces move down to buf[0..], framing is dropped.
 * *used is how many raw bytes were consumed. Returns decoded length, or -1 on a bad body. */
static ssize_t dechunk(http_request_t *r, char *buf, size_t len, size_t *used)
{
    http_conn_t *hc = r->hc;
    size_t in = 0, out = 0;
    while (in < len && !r->body_done) {
        size_t consumed;
        http_span_t data;
        int rc = http_parse_chunked(&hc->chunked, buf + in, len - in, &consumed, &data);
        if (rc == HTTP_PARSE_OK) {
            memmove(buf + out, buf + in + data.start, data.len);
            out += data.len;
            hc->body_received += (int64_t)data.len;
        } else if (rc == HTTP_PARSE_CHUNKED_DONE) {
            r->body_done = 1;
        } else if (rc != HTTP_PARSE_AGAIN) {
            px_log_error(PX_LOG_ERR, &r->log, 0, "client sent invalid chunked body");
            return -1;
        }
        in += consumed;
        int64_t max = r->loc->client_max_body_size;
        if (max && hc->body_received + (int64_t)hc->chunked.size > max) {
            px_log_error(PX_LOG_ERR, &r->log, 0,
                         "client intended to send too large chunked body: %lld+%llu bytes",
                         (long long)hc->body_received, (unsigned long long)hc->chunked.size);
            return -2;
        }
    }
    *used = in;
    return (ssize_t)out;
}

/* An HTTP/2 stream's body: DATA frames, ended by the stream (nghttp2 holds a body to its
 * Content-Length); one of unknown length is bounded by client_max_body_size as it comes. */
static ssize_t read_stream_body(http_request_t *r, char *buf, size_t size)
{
    http_conn_t *hc = r->hc;
    px_conn_t *c = r->conn;
    if (r->body_done)
        return 0;
    px_timer_del(&c->read_timer);
    ssize_t n = px_conn_recv(c, buf, size);
    if (n == PX_AGAIN)
        return PX_AGAIN;
    if (n < 0) {
        px_log_error(PX_LOG_INFO, &r->log, 0, "client prematurely closed stream");
        return fail(r, 400);
    }
    if (n == 0) {
        r->body_done = 1;
        return 0;
    }
    hc->body_received += n;
    r->request_length += (uint64_t)n;
    int64_t max = r->loc->client_max_body_size;
    if (r->chunked_in && max && hc->body_received > max) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "client intended to send too large chunked body: %lld bytes",
                     (long long)hc->body_received);
        return fail(r, 413);
    }
    return n;
}

ssize_t http_body_read(http_request_t *r, char *buf, size_t size)
{
    http_conn_t *hc = r->hc;
    px_conn_t *c = r->conn;
    http_body_init(r);
    if (!http_body_expected(r))
        r->body_done = 1;
    if (hc->stream)
        return read_stream_body(r, buf, size);
    while (!r->body_done) {
        px_timer_del(&c->read_timer);
        size_t want = size;
        if (!r->chunked_in && (int64_t)want > hc->body_rest)
            want = (size_t)hc->body_rest;
        size_t got;
        int from_head = hc->pos < hc->len;
        if (from_head) {
            /* what came with the head */
            got = hc->len - hc->pos < want ? hc->len - hc->pos : want;
            memcpy(buf, hc->buf + hc->pos, got);
            hc->pos += got;
        } else {
            if (!c->readable)
                return PX_AGAIN;
            ssize_t n = px_conn_recv(c, buf, want);
            if (n == PX_AGAIN)
                return PX_AGAIN;
            if (n <= 0) {
                if (n == 0)
                    px_log_error(PX_LOG_INFO, &r->log, 0, "client prematurely closed connection");
                else
                    px_log_error(PX_LOG_INFO, &r->log, errno, "recv() failed");
                return fail(r, 400);
            }
            got = (size_t)n;
            r->request_length += got;
        }
        if (!r->chunked_in) {
            hc->body_rest -= (int64_t)got;
            if (hc->body_rest == 0)
                r->body_done = 1;
            return (ssize_t)got;
        }
        size_t used;
        ssize_t out = dechunk(r, buf, got, &used);
        if (out == -1)
            return fail(r, 400);
        if (out == -2)
            return fail(r, 413);
        if (used < got) {
            /* bytes after the last chunk: the next pipelined request, kept for it if the
             * connection buffer has room (it is empty of unread bytes now) */
            size_t extra = got - used;
            if (from_head) {
                hc->pos -= extra; /* they are still in the connection buffer: step back */
            } else if (hc->buf && hc->size - hc->len >= extra) {
                memcpy(hc->buf + hc->len, buf + used, extra);
                hc->len += extra;
            } else {
                r->keepalive = 0;
            }
        }
        if (out > 0)
            return out;
    }
    return 0;
}

static void body_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    http_conn_t *hc = c->data;
    http_request_t *r = hc->r;
    c->timedout = 1;
    r->log.action = "while reading client request body";
    px_log_error(PX_LOG_INFO, &r->log, ETIMEDOUT, "client timed out");
    r->log.action = NULL;
    r->keepalive = 0;
    r->body_done = 1;
    if (r->header_sent) {
        http_terminate(r, 408);
        return;
    }
    http_finalize(r, 408);
}

void http_body_wait(http_request_t *r)
{
    px_conn_t *c = r->conn;
    c->read_timer.handler = body_timeout;
    px_timer_add(&c->read_timer, (px_msec_t)r->loc->client_body_timeout);
}
