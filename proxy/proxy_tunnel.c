/* After a 101: bytes relayed both ways between the client and the upstream until either
 * side closes, an error, or proxy_read_timeout without traffic in either direction. Each
 * direction has one buffer; a side that cannot take more stops the other side's reads. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/px_log.h"
#include "http/http_request.h"
#include "proxy/proxy_http.h"

typedef struct {
    char *data;
    size_t size, start, end;
    unsigned eof : 1;     /* the reading side closed: shut the writing side once drained */
    unsigned shut : 1;
} dir_buf_t;

typedef struct {
    http_request_t *r;
    px_conn_t *client, *up;
    dir_buf_t down; /* upstream -> client */
    dir_buf_t upb;  /* client -> upstream */
    int64_t idle;
    px_timer_t timer;
    unsigned closing : 1;
} tunnel_t;

static void tunnel_cleanup(void *data)
{
    tunnel_t *t = data;
    px_timer_del(&t->timer);
    if (t->up) {
        t->up->data = NULL;
        px_conn_close(t->up);
        t->up = NULL;
    }
    free(t->down.data);
    free(t->upb.data);
    t->down.data = t->upb.data = NULL;
}

static void tunnel_end(tunnel_t *t)
{
    if (t->closing)
        return;
    t->closing = 1;
    http_request_t *r = t->r;
    if (t->up) {
        t->up->data = NULL;
        px_conn_close(t->up);
        t->up = NULL;
    }
    http_terminate(r, r->status);
}

/* Moves bytes from src into b and from b to dst. Returns -1 on an error (logged), 1 when
 * something moved, 0 otherwise. */
static int relay(tunnel_t *t, px_conn_t *src, px_conn_t *dst, dir_buf_t *b, const char *from)
{
    int moved = 0;
    for (;;) {
        if (b->start < b->end) {
            if (!dst->writable)
                return moved;
            ssize_t n = px_conn_send(dst, b->data + b->start, b->end - b->start);
            if (n == PX_AGAIN)
                return moved;
            if (n < 0) {
                px_log_error(PX_LOG_INFO, &t->r->log, errno, "send() failed while proxying upgraded connection");
                return -1;
            }
            b->start += (size_t)n;
            moved = 1;
            if (b->start < b->end)
                return moved;
            b->start = b->end = 0;
        }
        if (b->eof) {
            if (!b->shut) {
                b->shut = 1;
                shutdown(dst->io.fd, SHUT_WR);
            }
            return moved;
        }
        if (!src->readable)
            return moved;
        ssize_t n = px_conn_recv(src, b->data, b->size);
        if (n == PX_AGAIN)
            return moved;
        if (n < 0) {
            px_log_error(PX_LOG_INFO, &t->r->log, errno, "recv() failed while proxying upgraded connection");
            return -1;
        }
        if (n == 0) {
            px_log_error(PX_LOG_INFO, &t->r->log, 0, "%s closed connection while proxying upgraded connection",
                         from);
            b->eof = 1;
            moved = 1;
            continue;
        }
        b->end = (size_t)n;
        moved = 1;
    }
}

static void tunnel_run(tunnel_t *t)
{
    if (t->closing || t->up == NULL)
        return;
    if (http_out_pending(t->r)) {
        /* the 101 head first */
        int rc = http_flush(t->r);
        if (rc == PX_ERROR) {
            tunnel_end(t);
            return;
        }
        if (rc == PX_AGAIN)
            return;
    }
    int a = relay(t, t->up, t->client, &t->down, "upstream");
    if (a < 0) {
        tunnel_end(t);
        return;
    }
    int b = relay(t, t->client, t->up, &t->upb, "client");
    if (b < 0) {
        tunnel_end(t);
        return;
    }
    if ((t->down.eof && t->down.start == t->down.end) && (t->upb.eof && t->upb.start == t->upb.end)) {
        tunnel_end(t);
        return;
    }
    if (a || b)
        px_timer_add(&t->timer, (px_msec_t)t->idle);
}

static void up_event(px_conn_t *c)
{
    tunnel_t *t = c->data;
    if (t == NULL) {
        px_conn_close(c);
        return;
    }
    tunnel_run(t);
}

void proxy_tunnel_event(void *tunnel)
{
    tunnel_run(tunnel);
}

static void idle_timeout(px_timer_t *timer)
{
    tunnel_t *t = timer->data;
    t->r->log.action = "while proxying upgraded connection";
    px_log_error(PX_LOG_INFO, &t->r->log, ETIMEDOUT, "upstream timed out");
    t->r->log.action = NULL;
    tunnel_end(t);
}

void proxy_tunnel_start(http_request_t *r, px_conn_t *upstream, const char *pending,
                        size_t pending_len, int64_t idle_timeout_ms, size_t buffer_size, void **slot)
{
    tunnel_t *t = px_pcalloc(r->pool, sizeof(*t));
    if (t == NULL || px_pool_cleanup_add(r->pool, tunnel_cleanup, t) != PX_OK) {
        px_conn_close(upstream);
        http_terminate(r, 500);
        return;
    }
    *slot = t; /* before anything can end the request */
    t->r = r;
    t->client = r->conn;
    t->up = upstream;
    t->idle = idle_timeout_ms;
    size_t size = buffer_size < 16384 ? 16384 : buffer_size;
    t->down.size = t->upb.size = size;
    t->down.data = malloc(size);
    t->upb.data = malloc(size);
    if (t->down.data == NULL || t->upb.data == NULL || pending_len > size) {
        tunnel_end(t);
        return;
    }
    memcpy(t->down.data, pending, pending_len);
    t->down.end = pending_len;
    px_timer_init(&t->timer, idle_timeout, t);
    upstream->data = t;
    upstream->read_handler = up_event;
    upstream->write_handler = up_event;
    px_timer_del(&upstream->read_timer);
    px_timer_del(&upstream->write_timer);
    /* the 101 head goes out first; the tunnel starts once it is written */
    int rc = http_flush(r);
    if (rc == PX_ERROR) {
        tunnel_end(t);
        return;
    }
    /* bytes the client sent after its request head belong to the tunnel */
    http_conn_t *hc = r->hc;
    if (hc->pos < hc->len) {
        size_t n = hc->len - hc->pos;
        if (n > t->upb.size)
            n = t->upb.size;
        memcpy(t->upb.data, hc->buf + hc->pos, n);
        t->upb.end = n;
        hc->pos += n;
    }
    px_timer_add(&t->timer, (px_msec_t)t->idle);
    if (rc == PX_OK)
        tunnel_run(t);
}
