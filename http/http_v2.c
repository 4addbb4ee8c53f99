/* HTTP/2 connections and streams. nghttp2 parses and writes frames (mem_recv / send into
 * a connection buffer); this file turns each request stream into an http_conn_t with a
 * virtual connection: the head is rebuilt as HTTP/1.1 text and read by the same parser and
 * checks as any request, the body is read from the stream's DATA through px_conn_recv, and
 * the response body written through px_conn_writev lands in the stream's buffer, from
 * which nghttp2 takes DATA frames as flow control allows.
 *
 * Nothing the request side does calls into nghttp2's send or receive: stream events are
 * posted, and the connection's posted send runs the session. So a stream is only freed
 * where no handler of it is on the stack. */
#include "http/http_v2.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "core/px_addr.h"
#include "core/px_log.h"
#include "core/px_time.h"
#include "http/http_v2_head.h"
#include "http/http_variables.h"

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN (sizeof(PREFACE) - 1)
#define CONN_OUT_CAP 32768   /* frames waiting for the socket */
#define STREAM_OUT_MAX 65536 /* response bytes of one stream not yet in frames, at most */
#define STREAM_OUT_MIN 4096  /* ... and its first buffer at least: a small answer takes little */
#define MIN_BODY_WINDOW 65535

typedef struct {
    size_t recv_buffer_size;
} v2_main_conf_t;

typedef struct {
    int enable;
    int max_concurrent_streams;
    size_t body_preread_size;
} v2_srv_conf_t;

typedef struct {
    size_t chunk_size;
} v2_loc_conf_t;

typedef struct http_v2_conn h2_conn_t;
typedef struct h2_stream h2_stream_t;

struct h2_stream {
    px_conn_t fc;    /* the request's connection (r->conn) */
    http_conn_t hc;  /* the request's HTTP state (r->hc) */
    h2_conn_t *h2;
    h2_stream_t *next, *prev;
    int32_t id;
    px_post_t ev;
    http_v2_head_t head; /* the head as it arrives */
    /* request body received and not yet read */
    char *in;
    size_t in_pos, in_len, in_cap;
    int64_t in_received;
    /* response body not yet framed */
    char *out;
    size_t out_pos, out_len, out_cap;
    size_t chunk_size;
    unsigned started : 1;   /* the request was handed to the phases */
    unsigned in_closed : 1; /* the client's END_STREAM came */
    unsigned no_body : 1;   /* ... with the request's HEADERS */
    unsigned window_open : 1; /* a small preread window was widened for the body reader */
    unsigned out_eof : 1;   /* the whole response is in out */
    unsigned responded : 1; /* HEADERS submitted */
    unsigned done : 1;      /* no request runs on it any more */
    unsigned closed : 1;    /* nghttp2 closed it */
    unsigned dead : 1;      /* to be freed by the connection */
    unsigned ev_start : 1, ev_read : 1, ev_write : 1, ev_reset : 1;
    uint32_t reset_code;
};

struct http_v2_conn {
    http_conn_t *hc;
    px_conn_t *c;
    nghttp2_session *session;
    h2_stream_t *streams;
    unsigned nstreams;
    char *out;
    size_t out_pos, out_len;
    px_post_t send_ev;
    h2_conn_t *next, *prev; /* the worker's HTTP/2 connections (GOAWAY at a graceful stop) */
    v2_srv_conf_t *conf;
    unsigned goaway : 1;
    unsigned closing : 1;
    unsigned has_dead : 1;
};

static h2_conn_t *all_conns;
static char *recv_buf;
static size_t recv_buf_size;

static http_core_loc_conf_t *server_loc(http_core_srv_conf_t *srv)
{
    return srv->ctx->loc_conf[http_core_module.index];
}

static v2_srv_conf_t *srv_conf_of(http_core_srv_conf_t *srv)
{
    return srv->ctx->srv_conf[http_v2_module.index];
}

int http_v2_enabled(http_conn_t *hc)
{
    return hc->addr->http2 || srv_conf_of(hc->default_srv)->enable;
}

int http_v2_preface(const char *buf, size_t len)
{
    size_t n = len < PREFACE_LEN ? len : PREFACE_LEN;
    if (memcmp(buf, PREFACE, n) != 0)
        return -1;
    return n == PREFACE_LEN ? 1 : 0;
}

/* ---- streams ---- */

static h2_stream_t *stream_of(http_conn_t *hc)
{
    return (h2_stream_t *)((char *)hc - offsetof(h2_stream_t, hc));
}

static void post_send(h2_conn_t *h2)
{
    px_post(&h2->send_ev);
}

static void stream_free(h2_stream_t *st)
{
    h2_conn_t *h2 = st->h2;
    px_post_cancel(&st->ev);
    px_timer_del(&st->fc.read_timer);
    px_timer_del(&st->fc.write_timer);
    if (!st->closed && h2->session)
        nghttp2_session_set_stream_user_data(h2->session, st->id, NULL);
    if (st->next)
        st->next->prev = st->prev;
    if (st->prev)
        st->prev->next = st->next;
    else
        h2->streams = st->next;
    h2->nstreams--;
    http_v2_head_free(&st->head);
    free(st->in);
    px_cache_free(st->out, st->out_cap);
    free(st);
}

/* Frees the streams whose request and frames are both over (never from their own handlers). */
static void reap(h2_conn_t *h2)
{
    if (!h2->has_dead)
        return;
    h2->has_dead = 0;
    h2_stream_t *st = h2->streams;
    while (st) {
        h2_stream_t *next = st->next;
        if (st->dead)
            stream_free(st);
        st = next;
    }
}

static void mark_dead(h2_stream_t *st)
{
    st->dead = 1;
    st->h2->has_dead = 1;
    post_send(st->h2);
}

static void stream_event(void *data);

static ssize_t stream_recv(px_conn_t *c, char *buf, size_t len);
static ssize_t stream_writev(px_conn_t *c, struct iovec *iov, int iovcnt);
static const px_conn_vio_t stream_vio = {stream_recv, stream_writev};

static h2_stream_t *stream_new(h2_conn_t *h2, int32_t id)
{
    h2_stream_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    px_conn_t *c = h2->c;
    st->h2 = h2;
    st->id = id;
    px_post_init(&st->ev, stream_event, st);
    /* the virtual connection: the carrier's addresses, TLS (for $ssl_*) and log */
    st->fc.io.fd = c->io.fd;
    st->fc.vio = &stream_vio;
    st->fc.ssl = c->ssl;
    st->fc.data = &st->hc;
    st->fc.listening = c->listening;
    st->fc.log = c->log;
    st->fc.log.handler = NULL;
    st->fc.log.data = NULL;
    st->fc.log.action = NULL;
    st->fc.peer = c->peer;
    st->fc.peer_len = c->peer_len;
    socklen_t sl;
    const struct sockaddr *sa = px_conn_local(c, &sl);
    if (sa && sl <= sizeof(st->fc.local)) {
        memcpy(&st->fc.local, sa, sl);
        st->fc.local_len = sl;
    }
    st->fc.number = c->number;
    st->fc.created_sec = c->created_sec;
    st->fc.writable = 1;
    px_timer_init(&st->fc.read_timer, NULL, &st->fc);
    px_timer_init(&st->fc.write_timer, NULL, &st->fc);
    st->hc.c = &st->fc;
    st->hc.addr = h2->hc->addr;
    st->hc.default_srv = h2->hc->default_srv;
    st->hc.start_msec = px_current_msec;
    st->hc.stream = 1;
    st->hc.pp = h2->hc->pp; /* the carrier's PROXY protocol header, shared (freed with it) */
    st->next = h2->streams;
    if (st->next)
        st->next->prev = st;
    h2->streams = st;
    h2->nstreams++;
    return st;
}

static void stream_post(h2_stream_t *st)
{
    px_post(&st->ev);
}

/* The head as HTTP/1.1 text for the request parser (HTTP/2.0 is put back afterwards). */
static int build_head(h2_stream_t *st)
{
    size_t len, size;
    char *buf = http_v2_head_build(&st->head, &len, &size);
    if (buf == NULL)
        return PX_ERROR;
    st->hc.buf = buf;
    st->hc.size = (uint32_t)size;
    st->hc.len = (uint32_t)len;
    st->hc.pos = 0;
    http_v2_head_free(&st->head);
    return PX_OK;
}

static void start_request(h2_stream_t *st)
{
    if (build_head(st) != PX_OK) {
        nghttp2_submit_rst_stream(st->h2->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        st->done = 1;
        return;
    }
    st->started = 1;
    http_stream_begin(&st->hc);
}

/* Ends the request of a stream the client reset or the connection lost. */
static void abort_request(h2_stream_t *st, const char *why)
{
    http_request_t *r = st->hc.r;
    if (r == NULL)
        return;
    px_log_error(PX_LOG_INFO, &r->log, 0, "%s", why);
    st->fc.error = 1;
    st->fc.peer_closed = 1;
    http_terminate(r, r->header_sent ? r->status : 499);
}

static void stream_event(void *data)
{
    h2_stream_t *st = data;
    if (st->ev_start) {
        st->ev_start = 0;
        start_request(st);
    }
    if (st->ev_reset && st->hc.r && !st->done) {
        /* nginx's words for a client's RST_STREAM */
        char why[96];
        if (st->reset_code == NGHTTP2_CANCEL)
            snprintf(why, sizeof(why), "client canceled stream %d", st->id);
        else if (st->reset_code == NGHTTP2_REFUSED_STREAM)
            snprintf(why, sizeof(why), "client refused stream %d", st->id);
        else if (st->reset_code == NGHTTP2_INTERNAL_ERROR)
            snprintf(why, sizeof(why), "client terminated stream %d due to internal error", st->id);
        else
            snprintf(why, sizeof(why), "client terminated stream %d with status %u", st->id, st->reset_code);
        st->ev_reset = 0;
        abort_request(st, why);
    }
    if (st->ev_read && st->hc.r && !st->done) {
        st->ev_read = 0;
        st->fc.readable = 1;
        if (st->fc.read_handler)
            st->fc.read_handler(&st->fc);
    }
    if (st->ev_write && st->hc.r && !st->done) {
        st->ev_write = 0;
        st->fc.writable = 1;
        if (st->fc.write_handler)
            st->fc.write_handler(&st->fc);
    }
    st->ev_read = st->ev_write = 0;
    post_send(st->h2);
}

/* ---- the virtual connection's I/O ---- */

static ssize_t stream_recv(px_conn_t *c, char *buf, size_t len)
{
    h2_stream_t *st = (h2_stream_t *)((char *)c - offsetof(h2_stream_t, fc));
    size_t avail = st->in_len - st->in_pos;
    if (avail == 0) {
        c->readable = 0;
        if (st->in_closed)
            return 0;
        if (st->closed || st->h2->closing) {
            errno = ECONNRESET;
            c->error = 1;
            return PX_ERROR;
        }
        if (!st->window_open && st->h2->conf->body_preread_size < MIN_BODY_WINDOW) {
            /* http2_body_preread_size below the default (even 0): the window opens when the
             * body is wanted, or the client could never send it */
            st->window_open = 1;
            nghttp2_session_set_local_window_size(st->h2->session, NGHTTP2_FLAG_NONE, st->id, MIN_BODY_WINDOW);
            post_send(st->h2);
        }
        return PX_AGAIN;
    }
    size_t n = avail < len ? avail : len;
    memcpy(buf, st->in + st->in_pos, n);
    st->in_pos += n;
    if (st->in_pos == st->in_len)
        st->in_pos = st->in_len = 0;
    if (st->in_len == 0 && !st->in_closed)
        c->readable = 0;
    /* the window opens as the body is read: a slow upstream slows the client */
    nghttp2_session_consume(st->h2->session, st->id, n);
    post_send(st->h2);
    return (ssize_t)n;
}

static ssize_t stream_writev(px_conn_t *c, struct iovec *iov, int iovcnt)
{
    h2_stream_t *st = (h2_stream_t *)((char *)c - offsetof(h2_stream_t, fc));
    if (st->closed || st->h2->closing) {
        errno = EPIPE;
        c->error = 1;
        return PX_ERROR;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (st->out_pos > 0 && st->out_pos == st->out_len)
        st->out_pos = st->out_len = 0;
    if (st->out_pos > 0 && st->out_cap - st->out_len < total) {
        memmove(st->out, st->out + st->out_pos, st->out_len - st->out_pos);
        st->out_len -= st->out_pos;
        st->out_pos = 0;
    }
    if (st->out_cap - st->out_len < total && st->out_cap < STREAM_OUT_MAX) {
        /* the buffer grows with what the response writes, up to its bound */
        size_t cap = st->out_cap ? st->out_cap : STREAM_OUT_MIN;
        while (cap < st->out_len + total && cap < STREAM_OUT_MAX)
            cap *= 2;
        char *p = px_cache_alloc(cap);
        if (p == NULL) {
            errno = ENOMEM;
            return PX_ERROR;
        }
        if (st->out_len)
            memcpy(p, st->out, st->out_len);
        px_cache_free(st->out, st->out_cap);
        st->out = p;
        st->out_cap = cap;
    }
    size_t room = st->out_cap - st->out_len, copied = 0;
    for (int i = 0; i < iovcnt && copied < room; i++) {
        size_t take = iov[i].iov_len < room - copied ? iov[i].iov_len : room - copied;
        memcpy(st->out + st->out_len + copied, iov[i].iov_base, take);
        copied += take;
        if (take < iov[i].iov_len)
            break;
    }
    if (copied < total)
        c->writable = 0;
    if (copied == 0)
        return PX_AGAIN;
    st->out_len += copied;
    nghttp2_session_resume_data(st->h2->session, st->id);
    post_send(st->h2);
    return (ssize_t)copied;
}

static ssize_t read_response(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                             uint32_t *flags, nghttp2_data_source *source, void *user)
{
    (void)s;
    (void)id;
    (void)user;
    h2_stream_t *st = source->ptr;
    size_t avail = st->out_len - st->out_pos;
    if (length > st->chunk_size)
        length = st->chunk_size;
    size_t n = avail < length ? avail : length;
    if (n) {
        memcpy(buf, st->out + st->out_pos, n);
        st->out_pos += n;
        if (st->out_pos == st->out_len)
            st->out_pos = st->out_len = 0;
        if (!st->fc.writable && st->hc.r) {
            st->ev_write = 1;
            stream_post(st);
        }
    }
    if (st->out_len == st->out_pos && st->out_eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    return n ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

/* ---- nghttp2 callbacks ---- */

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)s;
    (void)flags;
    h2_conn_t *h2 = user;
    if (h2->out == NULL) {
        h2->out = px_cache_alloc(CONN_OUT_CAP);
        if (h2->out == NULL)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (h2->out_pos == h2->out_len) {
        h2->out_pos = h2->out_len = 0;
    } else if (h2->out_pos > 0 && CONN_OUT_CAP - h2->out_len < len) {
        memmove(h2->out, h2->out + h2->out_pos, h2->out_len - h2->out_pos);
        h2->out_len -= h2->out_pos;
        h2->out_pos = 0;
    }
    size_t room = CONN_OUT_CAP - h2->out_len;
    if (room == 0)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (len > room)
        len = room;
    memcpy(h2->out + h2->out_len, data, len);
    h2->out_len += len;
    return (ssize_t)len;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn_t *h2 = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    h2_stream_t *st = stream_new(h2, frame->hd.stream_id);
    if (st == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(s, frame->hd.stream_id, st);
    px_conn_t *c = h2->c;
    st->fc.requests = c->requests;
    c->requests++;
    /* keepalive_requests and keepalive_time end the connection after this stream */
    http_core_loc_conf_t *loc = server_loc(h2->hc->default_srv);
    if (!h2->goaway && (c->requests >= (uint32_t)loc->keepalive_requests ||
                        px_current_msec - h2->hc->start_msec >= (px_msec_t)loc->keepalive_time)) {
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR, NULL, 0);
        h2->goaway = 1;
    }
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    (void)flags;
    h2_conn_t *h2 = user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st == NULL || st->started)
        return 0; /* trailers: not passed on, as nginx */
    /* nginx's limits: one field within a large_client_header_buffers buffer, all of them
     * within all the buffers; past either the connection ends (ENHANCE_YOUR_CALM) */
    http_core_srv_conf_t *srv = h2->hc->default_srv;
    size_t field_max = srv->large_client_header_buffers.size;
    int rc = http_v2_head_add(&st->head, (const char *)name, namelen, (const char *)value, valuelen, field_max,
                              field_max * (size_t)srv->large_client_header_buffers.num);
    if (rc == HTTP_V2_HEAD_FIELD_TOO_LARGE || rc == HTTP_V2_HEAD_TOO_LARGE) {
        px_log_error(PX_LOG_INFO, &h2->c->log, 0, "%s",
                     rc == HTTP_V2_HEAD_TOO_LARGE ? "client sent too large header" : "client sent too large header field");
        nghttp2_session_terminate_session(s, NGHTTP2_ENHANCE_YOUR_CALM);
        return 0;
    }
    return rc == HTTP_V2_HEAD_OK ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    (void)user;
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        st->in_closed = 1;
        st->ev_read = 1;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        st->ev_start = 1;
        st->no_body = st->in_closed;
    }
    if (st->ev_start || st->ev_read)
        stream_post(st);
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *user)
{
    (void)flags;
    (void)user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (st == NULL || st->done) {
        nghttp2_session_consume(s, id, len);
        return 0;
    }
    if (st->in_len + len > st->in_cap) {
        if (st->in_pos) {
            memmove(st->in, st->in + st->in_pos, st->in_len - st->in_pos);
            st->in_len -= st->in_pos;
            st->in_pos = 0;
        }
        if (st->in_len + len > st->in_cap) {
            size_t cap = st->in_cap ? st->in_cap * 2 : MIN_BODY_WINDOW;
            while (cap < st->in_len + len)
                cap *= 2;
            char *p = realloc(st->in, cap);
            if (p == NULL)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            st->in = p;
            st->in_cap = cap;
        }
    }
    memcpy(st->in + st->in_len, data, len);
    st->in_len += len;
    st->in_received += (int64_t)len;
    st->ev_read = 1;
    stream_post(st);
    return 0;
}

/* nginx's info lines for what the client got wrong; nghttp2 has already answered it */
static int on_invalid_frame(nghttp2_session *s, const nghttp2_frame *frame, int lib_error, void *user)
{
    (void)s;
    h2_conn_t *h2 = user;
    if (frame->hd.type == NGHTTP2_HEADERS && h2->nstreams >= (unsigned)h2->conf->max_concurrent_streams)
        px_log_error(PX_LOG_INFO, &h2->c->log, 0, "concurrent streams exceeded %u", h2->nstreams);
    else
        px_log_error(PX_LOG_INFO, &h2->c->log, 0, "client sent invalid frame: %s", nghttp2_strerror(lib_error));
    return 0;
}

/* what nghttp2 found wrong in the client's frames, in its words */
static int on_error(nghttp2_session *s, int lib_error, const char *msg, size_t len, void *user)
{
    (void)s;
    (void)lib_error;
    h2_conn_t *h2 = user;
    px_log_error(PX_LOG_INFO, &h2->c->log, 0, "client sent invalid http2 data: %.*s", (int)len, msg);
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
    h2_conn_t *h2 = user;
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR)
        px_log_error(PX_LOG_INFO, &h2->c->log, 0, "client sent invalid http2 data, connection closed with %s",
                     nghttp2_http2_strerror(frame->goaway.error_code));
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, frame->hd.stream_id);
    /* the response is complete while the client still sends: RFC 9113 8.1 lets the rest go */
    if (st && !st->in_closed)
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user)
{
    (void)user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (st == NULL)
        return 0;
    st->closed = 1;
    if (st->done || !st->started) {
        mark_dead(st);
        return 0;
    }
    if (st->out_eof && error_code == NGHTTP2_NO_ERROR)
        return 0; /* a head without a body ended it: the request finishes on its own */
    st->reset_code = error_code;
    st->ev_reset = 1;
    stream_post(st);
    return 0;
}

/* ---- the connection ---- */

static void conn_close(h2_conn_t *h2);

/* Writes frames until the socket is full or nghttp2 has nothing more. */
static int conn_flush(h2_conn_t *h2)
{
    px_conn_t *c = h2->c;
    for (;;) {
        if (h2->out_pos < h2->out_len) {
            if (!c->writable) {
                http_core_loc_conf_t *loc = server_loc(h2->hc->default_srv);
                px_timer_add(&c->write_timer, (px_msec_t)loc->send_timeout);
                return PX_AGAIN;
            }
            ssize_t n = px_conn_send(c, h2->out + h2->out_pos, h2->out_len - h2->out_pos);
            if (n == PX_AGAIN)
                continue;
            if (n < 0) {
                px_log_error(PX_LOG_INFO, &c->log, errno, "send() failed");
                return PX_ERROR;
            }
            h2->out_pos += (size_t)n;
            continue;
        }
        h2->out_pos = h2->out_len = 0;
        if (!nghttp2_session_want_write(h2->session))
            break;
        int rv = nghttp2_session_send(h2->session);
        if (rv != 0) {
            px_log_error(PX_LOG_INFO, &c->log, 0, "http2 send failed: %s", nghttp2_strerror(rv));
            return PX_ERROR;
        }
        if (h2->out_len == 0)
            break;
    }
    px_timer_del(&c->write_timer);
    return PX_OK;
}

static void send_goaway(h2_conn_t *h2)
{
    if (h2->goaway)
        return;
    h2->goaway = 1;
    nghttp2_submit_goaway(h2->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
}

/* After any I/O: write what is due, then decide whether the connection is idle or over. */
static void conn_run(h2_conn_t *h2)
{
    px_conn_t *c = h2->c;
    reap(h2);
    if (px_worker_exiting)
        send_goaway(h2);
    int rc = conn_flush(h2);
    if (rc == PX_ERROR) {
        c->error = 1;
        conn_close(h2);
        return;
    }
    reap(h2);
    int over = !nghttp2_session_want_read(h2->session) && !nghttp2_session_want_write(h2->session);
    if ((over || (h2->goaway && h2->nstreams == 0)) && rc == PX_OK) {
        conn_close(h2);
        return;
    }
    if (h2->nstreams) {
        px_timer_del(&c->read_timer);
        px_conn_set_idle(c, 0);
        return;
    }
    /* idle: the frame buffer goes back until there is something to send, a graceful stop
     * may close the connection, keepalive_timeout bounds the wait */
    if (!px_timer_active(&c->read_timer)) {
        http_core_loc_conf_t *loc = server_loc(h2->hc->default_srv);
        px_timer_add(&c->read_timer, (px_msec_t)loc->keepalive_timeout);
    }
    if (rc == PX_OK) {
        px_cache_free(h2->out, CONN_OUT_CAP);
        h2->out = NULL;
        h2->out_pos = h2->out_len = 0;
        px_conn_set_idle(c, 1);
    }
}

static void send_event(void *data)
{
    conn_run(data);
}

static void conn_read(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    h2_conn_t *h2 = hc->h2;
    if (c->closing) {
        /* a graceful stop found it idle */
        send_goaway(h2);
        conn_flush(h2);
        conn_close(h2);
        return;
    }
    while (c->readable) {
        ssize_t n = px_conn_recv(c, recv_buf, recv_buf_size);
        if (n == PX_AGAIN)
            break;
        if (n <= 0) {
            if (n == 0)
                px_log_error(PX_LOG_INFO, &c->log, 0, "client closed connection");
            else
                px_log_error(PX_LOG_INFO, &c->log, errno, "recv() failed");
            conn_close(h2);
            return;
        }
        px_timer_del(&c->read_timer);
        ssize_t rv = nghttp2_session_mem_recv(h2->session, (const uint8_t *)recv_buf, (size_t)n);
        if (rv < 0) {
            if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC)
                px_log_error(PX_LOG_INFO, &c->log, 0, "invalid connection preface");
            else
                px_log_error(PX_LOG_INFO, &c->log, 0, "client sent invalid http2 data: %s",
                             nghttp2_strerror((int)rv));
            if (rv == NGHTTP2_ERR_BAD_CLIENT_MAGIC || !nghttp2_is_fatal((int)rv))
                nghttp2_session_terminate_session(h2->session, NGHTTP2_PROTOCOL_ERROR);
            conn_flush(h2);
            conn_close(h2);
            return;
        }
    }
    conn_run(h2);
}

static void conn_write(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    conn_run(hc->h2);
}

static void idle_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    http_conn_t *hc = c->data;
    h2_conn_t *h2 = hc->h2;
    if (h2->nstreams) /* streams keep their own timers */
        return;
    send_goaway(h2);
    conn_flush(h2);
    conn_close(h2);
}

static void send_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    http_conn_t *hc = c->data;
    c->timedout = 1;
    px_log_error(PX_LOG_INFO, &c->log, ETIMEDOUT, "client timed out");
    conn_close(hc->h2);
}

static void conn_close(h2_conn_t *h2)
{
    h2->closing = 1;
    /* the requests still running lose their client */
    for (h2_stream_t *st = h2->streams; st; st = st->next) {
        if (st->hc.r && !st->done)
            abort_request(st, "client prematurely closed connection");
    }
    while (h2->streams)
        stream_free(h2->streams);
    nghttp2_session_del(h2->session);
    h2->session = NULL;
    px_post_cancel(&h2->send_ev);
    if (h2->next)
        h2->next->prev = h2->prev;
    if (h2->prev)
        h2->prev->next = h2->next;
    else
        all_conns = h2->next;
    px_cache_free(h2->out, CONN_OUT_CAP);
    http_conn_t *hc = h2->hc;
    hc->h2 = NULL;
    h2->c->log.handler = NULL;
    h2->c->log.data = NULL;
    h2->c->log.action = NULL;
    free(h2);
    http_conn_abort(hc);
}

void http_v2_init(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    v2_main_conf_t *mc = hc->default_srv->ctx->main_conf[http_v2_module.index];
    v2_srv_conf_t *sc = srv_conf_of(hc->default_srv);
    if (recv_buf == NULL || recv_buf_size != mc->recv_buffer_size) {
        free(recv_buf);
        recv_buf_size = mc->recv_buffer_size;
        recv_buf = malloc(recv_buf_size);
        if (recv_buf == NULL) {
            http_conn_abort(hc);
            return;
        }
    }
    h2_conn_t *h2 = calloc(1, sizeof(*h2));
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    if (h2 == NULL || nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0) {
        free(h2);
        nghttp2_session_callbacks_del(cbs);
        http_conn_abort(hc);
        return;
    }
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cbs, on_invalid_frame);
    nghttp2_session_callbacks_set_error_callback2(cbs, on_error);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    /* a body's window opens as the request reads it, not as bytes arrive */
    nghttp2_option_set_no_auto_window_update(opt, 1);
    int rv = nghttp2_session_server_new2(&h2->session, cbs, h2, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rv != 0) {
        free(h2);
        http_conn_abort(hc);
        return;
    }
    h2->hc = hc;
    h2->c = c;
    h2->conf = sc;
    hc->h2 = h2;
    px_post_init(&h2->send_ev, send_event, h2);
    h2->next = all_conns;
    if (all_conns)
        all_conns->prev = h2;
    all_conns = h2;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)sc->max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)sc->body_preread_size},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, (1u << 24) - 1},
    };
    nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    /* the connection's window is never the limit: each stream's is */
    nghttp2_session_set_local_window_size(h2->session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_MAX_WINDOW_SIZE);

    px_timer_del(&c->read_timer);
    px_timer_del(&c->write_timer);
    c->read_handler = conn_read;
    c->write_handler = conn_write;
    c->read_timer.handler = idle_timeout;
    c->write_timer.handler = send_timeout;
    c->log.handler = http_conn_log_context;
    c->log.data = hc;
    c->log.action = "while processing HTTP/2 connection";
    px_conn_set_idle(c, 0);
    /* what was read before HTTP/2 was recognised (the preface, maybe more) */
    if (hc->buf && hc->len > hc->pos) {
        ssize_t n = nghttp2_session_mem_recv(h2->session, (const uint8_t *)hc->buf + hc->pos, hc->len - hc->pos);
        hc->pos = hc->len;
        if (n < 0) {
            nghttp2_session_terminate_session(h2->session, NGHTTP2_PROTOCOL_ERROR);
            conn_flush(h2);
            conn_close(h2);
            return;
        }
    }
    if (hc->buf) {
        px_cache_free(hc->buf, hc->size);
        hc->buf = NULL;
        hc->size = hc->len = hc->pos = 0;
    }
    /* the first frames are bounded like a first request line */
    px_timer_add(&c->read_timer, (px_msec_t)hc->default_srv->client_header_timeout);
    if (c->readable)
        conn_read(c);
    else
        conn_run(h2);
}

/* A graceful stop: every connection says GOAWAY, lets its streams finish, then closes. */
static void begin_exit(px_cycle_t *cycle)
{
    (void)cycle;
    for (h2_conn_t *h2 = all_conns; h2; h2 = h2->next)
        post_send(h2);
}

/* ---- the request side ---- */

void http_v2_request_init(http_request_t *r)
{
    h2_stream_t *st = stream_of(r->hc);
    r->http_major = 2;
    r->http_minor = 0;
    r->http_version = 2000;
    r->keepalive = 1;
    r->expect_continue = 0; /* an HTTP/2 client sends the body without waiting */
    /* the request line as nginx logs it */
    const char *line = r->request_line.data;
    size_t len = r->request_line.len;
    if (len >= 8 && memcmp(line + len - 8, "HTTP/1.1", 8) == 0) {
        char *s = px_palloc(r->pool, len);
        if (s) {
            memcpy(s, line, len - 3);
            memcpy(s + len - 3, "2.0", 3);
            r->request_line = px_str_make(s, len);
        }
    }
    /* a body of unknown length ends with the stream, read as a chunked one would be */
    if (!st->no_body && r->content_length_n < 0)
        r->chunked_in = 1;
}

static int is_hop_header(px_str_t n)
{
    return px_str_caseeq_lit(n, "connection") || px_str_caseeq_lit(n, "keep-alive") ||
           px_str_caseeq_lit(n, "proxy-connection") || px_str_caseeq_lit(n, "transfer-encoding") ||
           px_str_caseeq_lit(n, "upgrade");
}

static nghttp2_nv nv_make(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen, NGHTTP2_NV_FLAG_NONE};
}

static int status_has_body(int status)
{
    return !(status == 204 || status == 304 || (status >= 100 && status < 200));
}

int http_v2_send_header(http_request_t *r)
{
    h2_stream_t *st = stream_of(r->hc);
    h2_conn_t *h2 = st->h2;
    if (st->closed || h2->closing)
        return PX_ERROR;
    size_t nh = r->out_headers.elts ? r->out_headers.nelts : 0;
    nghttp2_nv *nv = px_palloc(r->pool, sizeof(nghttp2_nv) * (nh + 8));
    if (nv == NULL)
        return PX_ERROR;
    size_t n = 0;
    char *status = px_psprintf(r->pool, "%03d", r->status);
    nv[n++] = nv_make(":status", 7, status, 3);
    if (!r->own_server) {
        const char *server = r->loc && !r->loc->server_tokens ? "proxyd" : "proxyd/" PROXYD_VERSION;
        nv[n++] = nv_make("server", 6, server, strlen(server));
    }
    if (!r->own_date) {
        px_str_t d = px_time_http_date();
        char *copy = px_pstrdup(r->pool, d.data, d.len);
        nv[n++] = nv_make("date", 4, copy, d.len);
    }
    if (r->content_type.len)
        nv[n++] = nv_make("content-type", 12, r->content_type.data, r->content_type.len);
    if (r->out_content_length >= 0) {
        char *cl = px_psprintf(r->pool, "%lld", (long long)r->out_content_length);
        nv[n++] = nv_make("content-length", 14, cl, strlen(cl));
    }
    if (r->last_modified.len)
        nv[n++] = nv_make("last-modified", 13, r->last_modified.data, r->last_modified.len);
    if (r->location.len)
        nv[n++] = nv_make("location", 8, r->location.data, r->location.len);
    http_header_t *h = r->out_headers.elts;
    for (size_t i = 0; i < nh; i++) {
        if (h[i].name.len == 0 || is_hop_header(h[i].name))
            continue;
        char *lower = px_palloc(r->pool, h[i].name.len);
        if (lower == NULL)
            return PX_ERROR;
        for (size_t k = 0; k < h[i].name.len; k++) {
            char ch = h[i].name.data[k];
            lower[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        }
        nv[n++] = nv_make(lower, h[i].name.len, h[i].value.data, h[i].value.len);
    }
    size_t bytes = 9;
    for (size_t i = 0; i < n; i++)
        bytes += nv[i].namelen + nv[i].valuelen + 2;
    r->header_bytes_sent = bytes;
    r->bytes_sent += bytes;
    v2_loc_conf_t *lc = http_get_module_loc_conf(r, http_v2_module);
    st->chunk_size = lc->chunk_size;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_response};
    int body = !r->header_only && status_has_body(r->status) && r->out_content_length != 0;
    if (nghttp2_submit_response(h2->session, st->id, nv, n, body ? &prd : NULL) != 0)
        return PX_ERROR;
    st->responded = 1;
    if (!body)
        st->out_eof = 1;
    post_send(h2);
    return PX_OK;
}

void http_v2_request_done(http_conn_t *hc)
{
    h2_stream_t *st = stream_of(hc);
    h2_conn_t *h2 = st->h2;
    st->done = 1;
    st->out_eof = 1;
    px_timer_del(&st->fc.read_timer);
    px_timer_del(&st->fc.write_timer);
    if (h2->closing)
        return;
    /* what the request did not read is given back to the window */
    size_t unread = st->in_len - st->in_pos;
    if (unread)
        nghttp2_session_consume(h2->session, st->id, unread);
    st->in_pos = st->in_len = 0;
    if (st->closed)
        mark_dead(st);
    else if (st->responded)
        nghttp2_session_resume_data(h2->session, st->id);
    else
        nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    post_send(h2);
}

void http_v2_stream_close(http_conn_t *hc)
{
    h2_stream_t *st = stream_of(hc);
    h2_conn_t *h2 = st->h2;
    st->done = 1;
    px_timer_del(&st->fc.read_timer);
    px_timer_del(&st->fc.write_timer);
    if (h2->closing)
        return;
    if (st->closed) {
        mark_dead(st);
        return;
    }
    size_t unread = st->in_len - st->in_pos;
    if (unread)
        nghttp2_session_consume(h2->session, st->id, unread);
    st->in_pos = st->in_len = 0;
    nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
    post_send(h2);
}

void http_v2_discard_body(http_conn_t *hc)
{
    h2_stream_t *st = stream_of(hc);
    size_t unread = st->in_len - st->in_pos;
    if (unread && !st->h2->closing)
        nghttp2_session_consume(st->h2->session, st->id, unread);
    st->in_pos = st->in_len = 0;
    /* later DATA is dropped as it comes (on_data_chunk sees done) */
}

/* ---- variables ---- */

static int get_http2(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    (void)data;
    px_str_t s = PX_NULL_STR;
    if (r->hc && r->hc->stream)
        s = r->conn->ssl ? PX_STR("h2") : PX_STR("h2c");
    v->value = s.data ? s : PX_STR("");
    v->valid = 1;
    return PX_OK;
}

/* ---- configuration ---- */

static void *create_main_conf(conf_ctx_t *cf)
{
    v2_main_conf_t *mc = px_pcalloc(cf->pool, sizeof(*mc));
    if (mc)
        mc->recv_buffer_size = CONF_UNSET_SIZE;
    return mc;
}

static const char *init_main_conf(conf_ctx_t *cf, void *conf)
{
    v2_main_conf_t *mc = conf;
    if (mc->recv_buffer_size == CONF_UNSET_SIZE)
        mc->recv_buffer_size = 256 * 1024;
    if (mc->recv_buffer_size <= 2 * 16384) /* nginx: it must hold more than two frame states */
        return px_psprintf(cf->pool, "the http2_recv_buffer_size is too small");
    return NULL;
}

static void *create_srv_conf(conf_ctx_t *cf)
{
    v2_srv_conf_t *sc = px_pcalloc(cf->pool, sizeof(*sc));
    if (sc) {
        sc->enable = CONF_UNSET;
        sc->max_concurrent_streams = CONF_UNSET;
        sc->body_preread_size = CONF_UNSET_SIZE;
    }
    return sc;
}

static const char *merge_srv_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    v2_srv_conf_t *p = parent, *c = child;
    CONF_MERGE(c->enable, p->enable, 0);
    CONF_MERGE(c->max_concurrent_streams, p->max_concurrent_streams, 128);
    CONF_MERGE_SIZE(c->body_preread_size, p->body_preread_size, 65536);
    return NULL;
}

static void *create_loc_conf(conf_ctx_t *cf)
{
    v2_loc_conf_t *lc = px_pcalloc(cf->pool, sizeof(*lc));
    if (lc)
        lc->chunk_size = CONF_UNSET_SIZE;
    return lc;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    v2_loc_conf_t *p = parent, *c = child;
    CONF_MERGE_SIZE(c->chunk_size, p->chunk_size, 8192);
    return NULL;
}

static const char *set_nonzero_size(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    const char *rv = conf_set_size(cf, n, d, conf);
    if (rv == NULL && *(size_t *)((char *)conf + d->offset) == 0)
        return d->post;
    return rv;
}

static const char *set_preread(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    const char *rv = conf_set_size(cf, n, d, conf);
    if (rv == NULL && *(size_t *)((char *)conf + d->offset) > NGHTTP2_MAX_WINDOW_SIZE)
        return px_psprintf(cf->pool, "the maximum body preread buffer size is %d", NGHTTP2_MAX_WINDOW_SIZE);
    return rv;
}

/* Directives current nginx keeps for old configurations: a warning, the setting elsewhere. */
static const char *obsolete(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)conf;
    if (d->post)
        conf_log(cf, PX_LOG_WARN, 0, "the \"%s\" directive is obsolete, use the \"%s\" directive instead",
                 n->name.data, (const char *)d->post);
    else
        conf_log(cf, PX_LOG_WARN, 0, "the \"%s\" directive is obsolete, ignored", n->name.data);
    return NULL;
}

#define SRV_CTX (CONF_HTTP | CONF_SRV)
#define LOC_CTX (CONF_HTTP | CONF_SRV | CONF_LOC)

static const conf_directive_t v2_directives[] = {
    {"http2", SRV_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_SRV_CONF, offsetof(v2_srv_conf_t, enable), NULL},
    {"http2_recv_buffer_size", CONF_HTTP, CONF_TAKE1, set_nonzero_size, CONF_HTTP_MAIN_CONF,
     offsetof(v2_main_conf_t, recv_buffer_size), "the http2_recv_buffer_size is too small"},
    {"http2_max_concurrent_streams", SRV_CTX, CONF_TAKE1, conf_set_num, CONF_HTTP_SRV_CONF,
     offsetof(v2_srv_conf_t, max_concurrent_streams), NULL},
    {"http2_body_preread_size", SRV_CTX, CONF_TAKE1, set_preread, CONF_HTTP_SRV_CONF,
     offsetof(v2_srv_conf_t, body_preread_size), NULL},
    {"http2_chunk_size", LOC_CTX, CONF_TAKE1, set_nonzero_size, CONF_HTTP_LOC_CONF,
     offsetof(v2_loc_conf_t, chunk_size), "the http2 chunk size cannot be zero"},
    {"http2_idle_timeout", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0, "keepalive_timeout"},
    {"http2_max_requests", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0, "keepalive_requests"},
    {"http2_max_field_size", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0,
     "large_client_header_buffers"},
    {"http2_max_header_size", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0,
     "large_client_header_buffers"},
    {"http2_recv_timeout", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0, "client_header_timeout"},
    {"http2_push", LOC_CTX, CONF_TAKE1, obsolete, CONF_HTTP_LOC_CONF, 0, NULL},
    {"http2_push_preload", LOC_CTX, CONF_FLAG, obsolete, CONF_HTTP_LOC_CONF, 0, NULL},
    {"http2_max_concurrent_pushes", SRV_CTX, CONF_TAKE1, obsolete, CONF_HTTP_SRV_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL}};

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t defs[] = {{PX_STR("http2"), get_http2, 0, 0}};
    return http_var_define_all(cf, defs, 1);
}

static int postconfiguration(conf_ctx_t *cf)
{
    px_worker_hooks_t *h = px_array_push(&cf->cycle->worker_hooks);
    if (h == NULL)
        return PX_ERROR;
    memset(h, 0, sizeof(*h));
    h->begin_exit = begin_exit;
    return PX_OK;
}

conf_module_t http_v2_module = {
    .name = "http_v2",
    .directives = v2_directives,
    .preconfiguration = preconfiguration,
    .create_main_conf = create_main_conf,
    .init_main_conf = init_main_conf,
    .create_srv_conf = create_srv_conf,
    .merge_srv_conf = merge_srv_conf,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
    .postconfiguration = postconfiguration,
};
