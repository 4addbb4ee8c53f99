/* The HTTP/1.x request lifecycle: read and check the head, pick the server and location,
 * run the phases, send the response, log, then keep the connection alive (pipelining
 * included), discard an unread body, or close it lingering. */
#include "http/http_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "core/px_addr.h"
#include "core/px_log.h"
#include "core/px_ssl.h"
#include "http/http_listen.h"
#include "http/http_location.h"
#include "http/http_proxy_protocol.h"
#include "http/http_log.h"
#include "http/http_regex.h"
#include "http/http_server_name.h"
#include "http/http_ssl.h"
#include "http/http_v2.h"
#include "http/http_variables.h"

#define MAX_URI_CHANGES 10

static void conn_read(px_conn_t *c);
static void conn_write(px_conn_t *c);
static void read_head(http_conn_t *hc);
static void finalize_connection(http_request_t *r);
static void close_connection(http_conn_t *hc);
static void run_phases(http_request_t *r);
static void run_location_phases(http_request_t *r);
static void run_server_phases(http_request_t *r);
static void use_location(http_request_t *r, http_core_loc_conf_t *clcf);
static int run_phase(http_request_t *r, px_array_t *handlers);
static void write_output(http_request_t *r);
static int redirect_allowed(http_request_t *r, const char *how, px_str_t target);
static void log_idle_close(http_conn_t *hc);

static http_core_loc_conf_t *server_loc(http_core_srv_conf_t *srv)
{
    return srv->ctx->loc_conf[http_core_module.index];
}

/* reset_timedout_connection: close with an RST so the socket's memory is freed at once. */
static void reset_if_configured(http_conn_t *hc)
{
    http_core_loc_conf_t *loc = hc->r ? hc->r->loc : server_loc(hc->default_srv);
    if (loc && loc->reset_timedout_connection) {
        struct linger l = {1, 0};
        if (setsockopt(hc->c->io.fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
            px_log_error(PX_LOG_ALERT, &hc->c->log, errno, "setsockopt(SO_LINGER) failed");
    }
}

static void header_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    http_conn_t *hc = c->data;
    c->timedout = 1;
    reset_if_configured(hc);
    if (hc->r) {
        if (hc->r->discarding_body) {
            /* the response is out and logged; only the unread body timed out */
            hc->r->log.action = "while reading client request body";
            px_log_error(PX_LOG_INFO, &hc->r->log, ETIMEDOUT, "client timed out");
        } else {
            px_log_error(PX_LOG_INFO, &hc->r->log, ETIMEDOUT, "client timed out");
            hc->r->status = 408;
            http_log_request(hc->r);
        }
    }
    close_connection(hc);
}

static void send_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    http_conn_t *hc = c->data;
    c->timedout = 1;
    reset_if_configured(hc);
    if (hc->r)
        px_log_error(PX_LOG_INFO, &hc->r->log, ETIMEDOUT,
                     "client timed out while sending response to client");
    close_connection(hc);
}

/* The HTTP state of each connection, indexed like the connection slab. Not in the heap: there
 * the states of thousands of idle keepalive connections would sit between the pools and
 * buffers of a burst of requests, and the heap could give none of those pages back. A large
 * table comes straight from mmap, so only the pages of connections in use are ever touched. */
static http_conn_t *conn_table;

void http_init_connection(px_conn_t *c)
{
    /* no pool per connection: an idle keepalive connection holds only this and its slot */
    if (conn_table == NULL)
        conn_table = calloc(px_conn_limit, sizeof(*conn_table));
    if (conn_table == NULL) {
        px_conn_close(c);
        return;
    }
    http_conn_t *hc = &conn_table[px_conn_index(c)];
    memset(hc, 0, sizeof(*hc));
    hc->c = c;
    hc->addr = http_listen_find_addr(c);
    hc->default_srv = hc->addr->default_server;
    hc->start_msec = px_current_msec;
    c->data = hc;
    http_conn_set_log(hc);
    if (hc->addr->proxy_protocol) {
        http_pp_start(hc);
        return;
    }
    if (hc->addr->ssl) {
        http_ssl_start(hc);
        return;
    }
    http_conn_begin(hc);
}

void http_conn_set_log(http_conn_t *hc)
{
    /* what happens before a request has a location goes to the server's error_log, as nginx */
    http_core_loc_conf_t *clcf = server_loc(hc->default_srv);
    if (clcf->error_log) {
        hc->c->log.fd = clcf->error_log->fd;
        hc->c->log.level = clcf->error_log->level;
    }
}

size_t http_conn_log_context(px_log_t *log, char *buf, size_t len)
{
    http_conn_t *hc = log->data;
    char client[PX_ADDR_TEXT_SIZE] = "", server[PX_ADDR_TEXT_SIZE] = "";
    px_addr_to_text((struct sockaddr *)&hc->c->peer, hc->c->peer_len, 0, client, sizeof(client));
    socklen_t sl;
    const struct sockaddr *sa = px_conn_local(hc->c, &sl);
    if (sa)
        px_addr_to_text(sa, sl, 1, server, sizeof(server));
    int n = snprintf(buf, len, ", client: %s, server: %s", client, server);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void first_read_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    c->timedout = 1;
    px_log_error(PX_LOG_INFO, &c->log, ETIMEDOUT, "client timed out");
    http_conn_abort(c->data);
}

void http_conn_first_read(http_conn_t *hc, const char *action, px_conn_handler_t handler)
{
    px_conn_t *c = hc->c;
    c->log.handler = http_conn_log_context;
    c->log.data = hc;
    c->log.action = action;
    c->read_handler = c->write_handler = handler;
    c->read_timer.handler = first_read_timeout;
    /* as nginx: bounded by client_header_timeout */
    px_timer_add(&c->read_timer, (px_msec_t)hc->default_srv->client_header_timeout);
    if (c->readable)
        handler(c);
}

ssize_t http_conn_peek(http_conn_t *hc, void *buf, size_t len)
{
    px_conn_t *c = hc->c;
    if (!c->readable && !c->peer_closed)
        return PX_AGAIN;
    ssize_t n;
    do
        n = recv(c->io.fd, buf, len, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->readable = 0;
        return PX_AGAIN;
    }
    if (n <= 0) {
        if (n < 0)
            px_log_error(PX_LOG_INFO, &c->log, errno, "recv() failed");
        else
            px_log_error(PX_LOG_INFO, &c->log, 0, "client closed connection");
        return PX_ERROR;
    }
    return n;
}

void http_conn_abort(http_conn_t *hc)
{
    close_connection(hc);
}

void http_conn_begin(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    px_conn_set_idle(c, 0);
    c->read_handler = conn_read;
    c->write_handler = conn_write;
    c->read_timer.handler = header_timeout;
    c->write_timer.handler = send_timeout;
    px_post_init(&hc->resume, (void (*)(void *))read_head, hc);
    px_timer_add(&c->read_timer, (px_msec_t)hc->default_srv->client_header_timeout);
    if (c->readable)
        read_head(hc);
}

void http_stream_begin(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    c->read_handler = conn_read;
    c->write_handler = conn_write;
    c->read_timer.handler = header_timeout;
    c->write_timer.handler = send_timeout;
    px_post_init(&hc->resume, (void (*)(void *))read_head, hc);
    read_head(hc);
}

/* The buffer goes back whenever the connection is between requests (idle memory); through
 * the per-size free list, so that taking it again for the next request costs no malloc. */
static void release_buffer(http_conn_t *hc)
{
    px_cache_free(hc->buf, hc->size);
    hc->buf = NULL;
    hc->size = 0;
}

static void close_connection(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    px_post_cancel(&hc->resume);
    if (hc->r) {
        px_pool_destroy(hc->r->pool);
        hc->r = NULL;
        hc->outq = NULL;
    }
    release_buffer(hc);
    if (hc->stream) {
        http_v2_stream_close(hc);
        return;
    }
    http_pp_free(hc);
    c->data = NULL;
    hc->c = NULL;
    px_conn_close(c);
}

/* ---- lingering close: let the client read our response before its unread data
 * would turn our close into a reset ---- */

static void lingering_read(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    char buf[4096];
    if (c->closing) {
        close_connection(hc);
        return;
    }
    for (;;) {
        ssize_t n = px_conn_recv(c, buf, sizeof(buf));
        if (n == PX_AGAIN)
            break;
        if (n <= 0 || px_current_msec >= hc->linger_deadline) {
            close_connection(hc);
            return;
        }
    }
    /* lingering_timeout: the longest wait for more data; lingering_time: the whole drain */
    px_msec_t left = hc->linger_deadline > px_current_msec ? hc->linger_deadline - px_current_msec : 0;
    px_timer_add(&c->read_timer, left < hc->linger_timeout ? left : hc->linger_timeout);
}

static void lingering_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    close_connection(c->data);
}

static void lingering_close(http_conn_t *hc, http_core_loc_conf_t *loc)
{
    px_conn_t *c = hc->c;
    if (hc->r) {
        px_pool_destroy(hc->r->pool);
        hc->r = NULL;
        hc->outq = NULL;
    }
    /* TLS says goodbye before the socket does; what the client still sends is then
     * drained as raw bytes */
    if (c->ssl)
        px_ssl_close(c);
    if (shutdown(c->io.fd, SHUT_WR) < 0) {
        close_connection(hc);
        return;
    }
    c->read_handler = lingering_read;
    c->write_handler = NULL;
    c->read_timer.handler = lingering_timeout;
    px_timer_del(&c->write_timer);
    hc->linger_timeout = (px_msec_t)loc->lingering_timeout;
    hc->linger_deadline = px_current_msec + (px_msec_t)loc->lingering_time;
    px_timer_add(&c->read_timer, hc->linger_timeout);
    hc->len = hc->pos = 0;
    if (c->readable)
        lingering_read(c);
}

/* ---- reading the head ---- */

static http_request_t *create_request(http_conn_t *hc)
{
    px_pool_t *pool = px_pool_create(4096);
    if (pool == NULL)
        return NULL;
    http_request_t *r = px_pcalloc(pool, sizeof(*r));
    r->pool = pool;
    r->conn = hc->c;
    r->hc = hc;
    r->log = hc->c->log;
    r->log.handler = http_log_context;
    r->log.data = r;
    r->srv = hc->default_srv;
    r->srv_conf = r->srv->ctx->srv_conf;
    r->loc_conf = r->srv->ctx->loc_conf;
    r->main_conf = r->srv->ctx->main_conf;
    r->loc = server_loc(r->srv);
    r->out_content_length = -1;
    r->content_length_n = -1;
    r->uri_changes = MAX_URI_CHANGES + 1;
    r->start_msec = px_current_msec;
    r->start_sec = px_current_sec;
    r->start_msec_part = px_current_msec_part;
    /* until the version is parsed an error is answered as HTTP/1.0, like nginx */
    r->http_major = 1;
    r->log.action = "while reading client request line";
    px_array_init(&r->headers, pool, 16, sizeof(http_header_t));
    http_variables_request_init(r);
    hc->c->requests++;
    /* the parser's state lives with the request: an idle connection does not carry it */
    hc->parser = px_palloc(pool, sizeof(*hc->parser));
    hc->header_spans = px_palloc(pool, sizeof(*hc->header_spans));
    if (hc->parser == NULL || hc->header_spans == NULL ||
        px_array_init(hc->header_spans, pool, 16, sizeof(http_header_span_t)) != PX_OK) {
        px_pool_destroy(pool);
        return NULL;
    }
    http_parser_init(hc->parser);
    hc->parser->pos = hc->pos;
    hc->parse_phase = 0;
    hc->req_start = hc->line_start = hc->pos;
    return r;
}

static px_str_t span_str(http_conn_t *hc, http_span_t s)
{
    return px_str_make(hc->buf + s.start, s.len);
}

/* The request line as far as it was received, for the log of a request that failed
 * before it was parsed (nginx logs the bytes up to the first CR or LF). */
static px_str_t partial_request_line(http_conn_t *hc)
{
    size_t start = hc->req_start;
    while (start < hc->len && (hc->buf[start] == '\r' || hc->buf[start] == '\n'))
        start++;
    size_t end = start;
    while (end < hc->len && hc->buf[end] != '\r' && hc->buf[end] != '\n')
        end++;
    return px_str_make(hc->buf + start, end - start);
}

/* nginx keeps each request or header line in one large_client_header_buffers buffer: a line
 * longer than one buffer fails unless it fits in the first, client_header_buffer_size one.
 * complete says whether [line_start, end) ends with its LF. */
static int line_too_long(http_conn_t *hc, size_t end, int complete)
{
    http_core_srv_conf_t *srv = hc->default_srv;
    size_t len = end - hc->line_start, max = srv->large_client_header_buffers.size;
    if (hc->stream) /* an HTTP/2 head was measured field by field as it came */
        return 0;
    if (end - hc->req_start <= srv->client_header_buffer_size)
        return 0;
    return complete ? len > max : len >= max;
}

/* Ends a request that failed before a location was chosen. */
static void fail_head(http_request_t *r, int status, const char *reason)
{
    if (reason)
        px_log_error(PX_LOG_INFO, &r->log, 0, "%s", reason);
    r->keepalive = 0;
    http_finalize(r, status);
}

/* A request head never needs more (the offsets in http_conn_t are 32 bits). */
#define HEAD_MAX (1u << 30)

static int grow_buffer(http_conn_t *hc)
{
    http_core_srv_conf_t *srv = hc->default_srv;
    size_t cap = srv->large_client_header_buffers.size * (size_t)srv->large_client_header_buffers.num;
    if (cap < srv->client_header_buffer_size)
        cap = srv->client_header_buffer_size;
    if (cap > HEAD_MAX)
        cap = HEAD_MAX;
    if (hc->size >= cap)
        return PX_ERROR;
    size_t nsize = hc->size ? hc->size * 2 : srv->client_header_buffer_size;
    if (hc->size == srv->client_header_buffer_size && nsize < srv->large_client_header_buffers.size)
        nsize = srv->large_client_header_buffers.size;
    if (nsize > cap)
        nsize = cap;
    char *nb = px_cache_alloc(nsize);
    if (nb == NULL)
        return PX_ERROR;
    if (hc->len)
        memcpy(nb, hc->buf, hc->len);
    px_cache_free(hc->buf, hc->size);
    hc->buf = nb;
    hc->size = nsize;
    return PX_OK;
}

static void process_head(http_request_t *r);
static void fail_too_long(http_request_t *r);

static void read_head(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    for (;;) {
        if (hc->r == NULL && hc->len > hc->pos && c->requests == 0 && !hc->stream && http_v2_enabled(hc)) {
            /* HTTP/2 with prior knowledge: the client preface instead of a request line */
            int m = http_v2_preface(hc->buf + hc->pos, hc->len - hc->pos);
            if (m > 0) {
                http_v2_init(hc);
                return;
            }
            if (m == 0)
                goto more;
        }
        if (hc->r == NULL && hc->len > hc->pos) {
            px_conn_set_idle(c, 0);
            hc->r = create_request(hc);
            if (hc->r == NULL) {
                close_connection(hc);
                return;
            }
            px_timer_add(&c->read_timer, (px_msec_t)hc->default_srv->client_header_timeout);
        }
        if (hc->r) {
            http_request_t *r = hc->r;
            http_parser_t *p = hc->parser;
            int rc;
            while (hc->parse_phase == 0 || hc->parse_phase == 1) {
                if (hc->parse_phase == 0) {
                    rc = http_parse_request_line(p, hc->buf, hc->len);
                    if (rc == HTTP_PARSE_OK && line_too_long(hc, p->pos, 1)) {
                        fail_too_long(r);
                        return;
                    }
                    if (rc == HTTP_PARSE_OK) {
                        hc->parse_phase = 1;
                        hc->line_start = p->pos;
                        r->log.action = "while reading client request headers";
                        r->request_line = span_str(hc, p->request_line);
                        r->method_name = span_str(hc, p->method);
                        r->http_major = p->http_major;
                        r->http_minor = p->http_minor;
                        if (p->http_major == 0) {
                            hc->parse_phase = 2;
                            break;
                        }
                        continue;
                    }
                } else {
                    rc = http_parse_header_line(p, hc->buf, hc->len,
                                                hc->default_srv->underscores_in_headers);
                    if (rc == HTTP_PARSE_OK && line_too_long(hc, p->pos, 1)) {
                        fail_too_long(r);
                        return;
                    }
                    if (rc == HTTP_PARSE_OK) {
                        hc->line_start = p->pos;
                        http_header_span_t *h = px_array_push(hc->header_spans);
                        h->name = p->header_name;
                        h->value = p->header_value;
                        h->line = p->header_line;
                        h->invalid = p->header_invalid_name;
                        continue;
                    }
                    if (rc == HTTP_PARSE_HEADERS_DONE) {
                        hc->parse_phase = 2;
                        break;
                    }
                }
                if (rc == HTTP_PARSE_AGAIN) {
                    if (line_too_long(hc, hc->len, 0)) {
                        fail_too_long(r);
                        return;
                    }
                    break;
                }
                /* a malformed request line or header */
                if (hc->parse_phase == 0) {
                    r->request_line = partial_request_line(hc);
                    if (rc == HTTP_PARSE_INVALID_09_METHOD)
                        r->http_major = 0;
                    fail_head(r, http_parse_status(rc), http_parse_error_text(rc));
                    return;
                }
                /* nginx shows the line up to the offending byte, then that byte in hex */
                char msg[2048];
                size_t upto = p->pos < hc->len ? p->pos : hc->len;
                size_t shown = upto - hc->line_start;
                if (shown > sizeof(msg) - 300)
                    shown = sizeof(msg) - 300;
                snprintf(msg, sizeof(msg), "client sent invalid header line: \"%.*s\\x%02x...\"",
                         (int)shown, hc->buf + hc->line_start,
                         upto < hc->len ? (unsigned char)hc->buf[upto] : 0);
                fail_head(r, http_parse_status(rc), msg);
                return;
            }
            if (hc->parse_phase == 2) {
                hc->head_end = p->pos;
                hc->pos = p->pos;
                px_timer_del(&c->read_timer);
                process_head(r);
                return;
            }
        }
    more:
        /* need more bytes */
        if (c->closing) {
            close_connection(hc);
            return;
        }
        if (hc->len == hc->size) {
            if (hc->pos > 0 && hc->r == NULL) {
                memmove(hc->buf, hc->buf + hc->pos, hc->len - hc->pos);
                hc->len -= hc->pos;
                hc->pos = 0;
            } else if (grow_buffer(hc) != PX_OK) {
                fail_too_long(hc->r);
                return;
            } else if (hc->r && hc->parse_phase >= 1) {
                /* the buffer moved: re-point what was taken from the request line */
                hc->r->request_line = span_str(hc, hc->parser->request_line);
                hc->r->method_name = span_str(hc, hc->parser->method);
            }
        }
        if (!c->readable)
            return;
        ssize_t n = px_conn_recv(c, hc->buf + hc->len, hc->size - hc->len);
        if (n == PX_AGAIN) {
            if (hc->r == NULL && hc->len == hc->pos && hc->buf) {
                /* idle between requests: give the buffer back, and let a graceful stop
                 * close the connection (a TLS connection gets here after the response:
                 * a short TLS read does not say the socket is drained); one that has not
                 * sent its first request yet is waited for, as nginx does */
                release_buffer(hc);
                hc->len = hc->pos = 0;
                if (c->requests > 0)
                    px_conn_set_idle(c, 1);
            }
            return;
        }
        if (n <= 0) {
            if (hc->r) {
                /* nginx logs a partly received request as a 400 */
                if (n == 0)
                    px_log_error(PX_LOG_INFO, &hc->r->log, 0,
                                 "client prematurely closed connection");
                if (hc->parse_phase == 0)
                    hc->r->request_line = partial_request_line(hc);
                hc->r->status = 400;
                http_log_request(hc->r);
            } else if (n == 0) {
                log_idle_close(hc);
            }
            close_connection(hc);
            return;
        }
        hc->len += (size_t)n;
    }
}

/* A client that leaves before sending a request: logged at info with nginx's words. */
static void log_idle_close(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    char addr[128];
    px_addr_to_text((struct sockaddr *)&c->peer, c->peer_len, 0, addr, sizeof(addr));
    if (c->requests == 0)
        px_log_error(PX_LOG_INFO, &c->log, 0,
                     "client closed connection while waiting for request, client: %s, server: %s",
                     addr, c->listening ? c->listening->text : "");
    else
        px_log_error(PX_LOG_INFO, &c->log, 0, "client %s closed keepalive connection", addr);
}

/* A request or header line over large_client_header_buffers: 414, or nginx's 494 which goes
 * out as a 400 with its own page. */
static void fail_too_long(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    if (hc->parse_phase == 0) {
        r->request_line = partial_request_line(hc);
        fail_head(r, 414, "client sent too long URI");
        return;
    }
    /* nginx shows the part of the line that filled its one large buffer */
    char msg[2048];
    size_t shown = hc->len - hc->line_start;
    if (shown > hc->default_srv->large_client_header_buffers.size)
        shown = hc->default_srv->large_client_header_buffers.size;
    if (shown > sizeof(msg) - 300)
        shown = sizeof(msg) - 300;
    snprintf(msg, sizeof(msg), "client sent too long header line: \"%.*s...\"", (int)shown,
             hc->buf + hc->line_start);
    r->lingering = 1;
    fail_head(r, 494, msg);
}

static void conn_read(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    if (hc->r && hc->r->read_event_handler) {
        hc->r->read_event_handler(hc->r);
        return;
    }
    if (http_conn_output_pending(hc))
        return;
    if (hc->r == NULL || hc->parse_phase < 2) {
        if (hc->buf == NULL && !c->closing) {
            hc->size = 0;
            if (grow_buffer(hc) != PX_OK) {
                close_connection(hc);
                return;
            }
        }
        read_head(hc);
        return;
    }
    if (hc->r->discarding_body)
        finalize_connection(hc->r);
}

/* ---- the head's meaning ---- */

static void process_head(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    http_parser_t *p = hc->parser;
    r->http_version = r->http_major * 1000 + r->http_minor;
    r->unparsed_uri = span_str(hc, p->uri);
    r->args = span_str(hc, p->args);
    r->schema = span_str(hc, p->schema);
    r->method = p->method_id;
    r->header_only = p->method_id == HTTP_METHOD_HEAD;
    r->keepalive = r->http_version >= 1001;
    r->quoted_uri = p->quoted_uri;
    r->plus_in_uri = p->plus_in_uri;

    px_str_t path = span_str(hc, p->path);
    if (p->empty_path_in_uri) {
        r->uri = PX_STR("/");
    } else if (p->complex_uri || p->quoted_uri) {
        char *out = px_palloc(r->pool, path.len + 1);
        size_t olen;
        if (http_normalize_uri(path.data, path.len, out, &olen, hc->default_srv->merge_slashes) !=
            HTTP_PARSE_OK) {
            r->log.action = "while reading client request line";
            fail_head(r, 400, "client sent invalid request");
            return;
        }
        r->uri = px_str_make(out, olen);
    } else {
        r->uri = path;
    }
    http_span_t ex = http_uri_exten(r->uri.data, r->uri.len);
    r->exten = px_str_make(r->uri.data + ex.start, ex.len);

    /* headers */
    http_header_span_t *hs = hc->header_spans->elts;
    for (size_t i = 0; i < hc->header_spans->nelts; i++) {
        px_str_t name = span_str(hc, hs[i].name), value = span_str(hc, hs[i].value);
        if (hs[i].invalid) {
            if (hc->default_srv->ignore_invalid_headers) {
                px_log_error(PX_LOG_INFO, &r->log, 0, "client sent invalid header line: \"%.*s\"",
                             (int)hs[i].line.len, hc->buf + hs[i].line.start);
                continue;
            }
        }
        http_header_t *h = px_array_push(&r->headers);
        h->name = name;
        h->value = value;
        /* one switch on the parser's header id instead of a string compare per known name */
        http_header_t **slot = NULL, **single = NULL;
        switch (http_header_id(name.data, name.len)) {
        case HTTP_HEADER_HOST:
            slot = &r->h_host;
            break;
        case HTTP_HEADER_CONTENT_LENGTH:
            slot = &r->h_content_length;
            break;
        case HTTP_HEADER_TRANSFER_ENCODING:
            slot = &r->h_transfer_encoding;
            break;
        case HTTP_HEADER_CONNECTION:
            single = &r->h_connection;
            break;
        case HTTP_HEADER_EXPECT:
            single = &r->h_expect;
            break;
        case HTTP_HEADER_CONTENT_TYPE:
            single = &r->h_content_type;
            break;
        case HTTP_HEADER_UPGRADE:
            single = &r->h_upgrade;
            break;
        }
        if (single) {
            *single = h;
            continue;
        }
        if (slot && *slot) {
            char msg[512];
            if (slot == &r->h_host) {
                snprintf(msg, sizeof(msg),
                         "client sent duplicate host header: \"%.*s: %.*s\", previous value: "
                         "\"%.*s: %.*s\"",
                         (int)name.len, name.data, (int)value.len, value.data,
                         (int)(*slot)->name.len, (*slot)->name.data, (int)(*slot)->value.len,
                         (*slot)->value.data);
                fail_head(r, 400, msg);
                return;
            }
            snprintf(msg, sizeof(msg),
                     "client sent duplicate header line: \"%.*s: %.*s\", previous value: \"%.*s: %.*s\"",
                     (int)name.len, name.data, (int)value.len, value.data, (int)(*slot)->name.len,
                     (*slot)->name.data, (int)(*slot)->value.len, (*slot)->value.data);
            fail_head(r, 400, msg);
            return;
        }
        if (slot) {
            *slot = h;
            continue;
        }
    }

    /* Host: from an absolute-form request line first, else the header */
    px_str_t host = PX_NULL_STR;
    if (p->schema.len) {
        px_str_t raw = span_str(hc, p->host);
        char *out = px_palloc(r->pool, raw.len + 1);
        size_t olen;
        if (http_validate_host(raw.data, raw.len, out, &olen) != HTTP_PARSE_OK) {
            /* nginx checks it before reading the headers: no host in the log line */
            r->log.action = "while reading client request line";
            r->h_host = NULL;
            fail_head(r, 400, "client sent invalid host in request line");
            return;
        }
        host = px_str_make(out, olen);
    } else if (r->h_host) {
        px_str_t raw = r->h_host->value;
        char *out = px_palloc(r->pool, raw.len + 1);
        size_t olen;
        if (http_validate_host(raw.data, raw.len, out, &olen) != HTTP_PARSE_OK) {
            fail_head(r, 400, "client sent invalid host header");
            return;
        }
        host = px_str_make(out, olen);
    }
    r->host = host;
    if (r->http_version >= 1001 && r->h_host == NULL) {
        fail_head(r, 400, "client sent HTTP/1.1 request without \"Host\" header");
        return;
    }

    if (r->h_content_length) {
        int64_t n = px_atoi(r->h_content_length->value.data, r->h_content_length->value.len);
        if (n < 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "client sent invalid \"Content-Length\" header");
            fail_head(r, 400, msg);
            return;
        }
        r->content_length_n = n;
    }
    if (r->h_transfer_encoding) {
        if (r->http_version < 1001) {
            fail_head(r, 400, "client sent HTTP/1.0 request with \"Transfer-Encoding\" header");
            return;
        }
        if (!px_str_caseeq_lit(r->h_transfer_encoding->value, "chunked")) {
            char msg[300];
            snprintf(msg, sizeof(msg), "client sent unknown \"Transfer-Encoding\": \"%.*s\"",
                     (int)r->h_transfer_encoding->value.len, r->h_transfer_encoding->value.data);
            fail_head(r, 501, msg);
            return;
        }
        if (r->h_content_length) {
            fail_head(r, 400,
                      "client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time");
            return;
        }
        r->chunked_in = 1;
    }
    if (r->h_connection) {
        px_str_t v = r->h_connection->value;
        /* tokens are compared case-insensitively, as nginx's strcasestrn */
        int has_close = 0, has_keepalive = 0;
        for (size_t i = 0; i + 5 <= v.len; i++) {
            if (px_str_caseeq(px_str_make(v.data + i, 5), PX_STR("close")))
                has_close = 1;
            if (i + 10 <= v.len && px_str_caseeq(px_str_make(v.data + i, 10), PX_STR("keep-alive")))
                has_keepalive = 1;
        }
        if (has_close)
            r->keepalive = 0;
        else if (has_keepalive && r->http_version == 1000)
            r->keepalive = 1;
    }
    if (r->h_expect && r->http_version >= 1001 && px_str_caseeq_lit(r->h_expect->value, "100-continue"))
        r->expect_continue = 1;
    if (hc->stream)
        http_v2_request_init(r);

    /* virtual server by name */
    if (hc->addr->names) {
        http_server_names_match_t m;
        if (http_server_names_find(hc->addr->names, r->host.data ? r->host.data : "", r->host.len, &m) ==
            PX_OK) {
            r->srv = m.conf;
            if (m.regex && m.npairs > 0) {
                size_t *cap = px_palloc(r->pool, sizeof(size_t) * 2 * (size_t)m.npairs);
                if (cap == NULL) {
                    fail_head(r, 500, "out of memory");
                    return;
                }
                memcpy(cap, m.captures, sizeof(size_t) * 2 * (size_t)m.npairs);
                r->captures = cap;
                r->ncaptures = m.npairs;
                r->captures_subject = r->host.data;
                /* the regex's named groups become variables, as for locations */
                size_t idx = (size_t)(m.name - (const http_server_name_t *)r->srv->names.elts);
                http_regex_t **res = r->srv->name_regexes.elts;
                if (idx < r->srv->name_regexes.nelts && res[idx])
                    http_regex_store(r, res[idx], r->host, m.captures, m.npairs);
            }
        }
    }
    r->srv_conf = r->srv->ctx->srv_conf;
    r->loc_conf = r->srv->ctx->loc_conf;
    r->loc = server_loc(r->srv);

    if (r->method == HTTP_METHOD_TRACE || r->method == HTTP_METHOD_CONNECT) {
        fail_head(r, 405, r->method == HTTP_METHOD_TRACE ? "client sent TRACE method"
                                                          : "client sent CONNECT method");
        return;
    }
    /* logged "while reading client request headers", as nginx */
    int rc = http_ssl_check_request(r);
    r->log.action = NULL;
    if (rc != 0) {
        http_finalize(r, rc);
        return;
    }
    http_core_main_conf_t *cmcf = r->main_conf[http_core_module.index];
    rc = run_phase(r, &cmcf->phase_post_read);
    if (rc != PX_DECLINED) {
        http_finalize(r, rc);
        return;
    }

    run_server_phases(r);
}

/* From the server-rewrite phase on: a new request, and every internal redirect. */
static void run_server_phases(http_request_t *r)
{
    http_core_main_conf_t *cmcf = r->main_conf[http_core_module.index];
    use_location(r, server_loc(r->srv));
    int rc = run_phase(r, &cmcf->phase_server_rewrite);
    if (rc != PX_DECLINED) {
        http_finalize(r, rc);
        return;
    }
    /* a server-level rewrite that changed the URI needs no second pass: the location is
     * chosen next anyway */
    r->uri_changed = 0;
    run_phases(r);
}

/* ---- phases ---- */

void http_set_exten(http_request_t *r)
{
    http_span_t ex = http_uri_exten(r->uri.data, r->uri.len);
    r->exten = px_str_make(r->uri.data + ex.start, ex.len);
}

/* Runs one phase's handlers: PX_DECLINED when all let the request go on (PX_OK counts as
 * going on), else the first other answer. */
static int run_phase(http_request_t *r, px_array_t *handlers)
{
    http_handler_fn *h = handlers->elts;
    for (size_t i = 0; i < handlers->nelts; i++) {
        int rc = h[i](r);
        if (rc != PX_DECLINED && rc != PX_OK)
            return rc;
    }
    return PX_DECLINED;
}

/* Makes clcf the request's location, with its error_log. */
static void use_location(http_request_t *r, http_core_loc_conf_t *clcf)
{
    r->loc = clcf;
    r->loc_conf = clcf->ctx->loc_conf;
    if (clcf->error_log) {
        r->log.fd = clcf->error_log->fd;
        r->log.level = clcf->error_log->level;
    }
}

/* Picks the location; returns 1 for nginx's auto_redirect (301 to the URI plus '/'), -1 when
 * out of memory. */
static int find_location(http_request_t *r)
{
    http_location_match_t m;
    memset(&m, 0, sizeof(m));
    int rc = http_location_find(r->srv->locations, r->uri.data, r->uri.len, &m);
    http_core_loc_conf_t *clcf = rc == PX_OK ? m.conf : server_loc(r->srv);
    r->location_rewritten = 0;
    if (rc == PX_OK && m.regex) {
        size_t *cap = px_palloc(r->pool, sizeof(size_t) * 2 * (size_t)m.npairs);
        if (cap == NULL)
            return -1;
        memcpy(cap, m.captures, sizeof(size_t) * 2 * (size_t)m.npairs);
        r->captures = cap;
        r->ncaptures = m.npairs;
        r->captures_subject = r->uri.data;
        if (clcf->regex)
            http_regex_store(r, clcf->regex, r->uri, m.captures, m.npairs);
    }
    use_location(r, clcf);
    return rc == PX_OK && m.redirect;
}

px_str_t http_absolute_location(http_request_t *r, px_str_t path)
{
    if (path.len == 0 || path.data[0] != '/' || !r->loc->absolute_redirect)
        return path;
    socklen_t local_len = 0;
    const struct sockaddr *local = px_conn_local(r->conn, &local_len);
    /* the server name if told so, else the request's host, else (nginx) the local address */
    px_str_t host = r->loc->server_name_in_redirect ? r->srv->server_name : r->host;
    char addr[PX_ADDR_TEXT_SIZE];
    if (host.len == 0 && !r->loc->server_name_in_redirect && local) {
        size_t n = px_addr_to_text(local, local_len, 0, addr, sizeof(addr));
        host = px_str_make(addr, n);
    }
    /* nginx: https on a TLS connection, and then 443 is the port left out */
    int tls = r->conn->ssl != NULL;
    char port[16] = "";
    if (r->loc->port_in_redirect && local) {
        int pnum = 0;
        if (local->sa_family == AF_INET)
            pnum = ntohs(((const struct sockaddr_in *)local)->sin_port);
        else if (local->sa_family == AF_INET6)
            pnum = ntohs(((const struct sockaddr_in6 *)local)->sin6_port);
        if (pnum && pnum != (tls ? 443 : 80))
            snprintf(port, sizeof(port), ":%d", pnum);
    }
    char *s = px_psprintf(r->pool, "%s://%.*s%s%.*s", tls ? "https" : "http", (int)host.len, host.data, port,
                          (int)path.len, path.data);
    return px_str_make(s, strlen(s));
}

static int start_discard(http_request_t *r);

int http_send_return(http_request_t *r, int code, const px_str_t *text_in)
{
    if (code == 444) {
        r->keepalive = 0;
        return 444;
    }
    if (text_in == NULL && (code >= 300 || code == 204))
        return code;
    px_str_t text = text_in ? *text_in : PX_NULL_STR;
    if (code == 301 || code == 302 || code == 303 || code == 307 || code == 308) {
        /* nginx writes a relative target (made absolute) among its own headers, an absolute
         * URL after Connection with the other headers */
        if (text.len && text.data[0] == '/')
            r->location = http_absolute_location(r, text);
        else if (http_add_out_header(r, PX_STR("Location"), text) != PX_OK)
            return 500;
        return code;
    }
    /* nginx's ngx_http_send_response: the body is dropped (and 100 Continue sent) first */
    int rc = start_discard(r);
    if (rc != PX_OK)
        return rc;
    http_send_simple(r, code, r->loc->default_type, text);
    return PX_DONE;
}

static void run_phases(http_request_t *r)
{
    int found = find_location(r);
    if (found < 0) {
        http_finalize(r, 500);
        return;
    }
    if (found) {
        char *loc = px_psprintf(r->pool, "%.*s/%s%.*s", (int)r->uri.len, r->uri.data,
                                r->args.len ? "?" : "", (int)r->args.len, r->args.data);
        r->location = http_absolute_location(r, px_str_make(loc, strlen(loc)));
        http_finalize(r, 301);
        return;
    }
    http_core_loc_conf_t *clcf = r->loc;
    if (clcf->internal && !r->internal) {
        http_finalize(r, 404);
        return;
    }
    if (r->content_length_n > 0 && clcf->client_max_body_size &&
        r->content_length_n > clcf->client_max_body_size) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "client intended to send too large body: %lld bytes",
                     (long long)r->content_length_n);
        r->lingering = 1;
        http_finalize(r, 413);
        return;
    }
    run_location_phases(r);
}

/* The phases after a location is chosen: rewrite (modules, then return), access, content.
 * A named location enters here directly. */
static void run_location_phases(http_request_t *r)
{
    http_core_loc_conf_t *clcf = r->loc;
    http_core_main_conf_t *cmcf = r->main_conf[http_core_module.index];
    int rc = run_phase(r, &cmcf->phase_rewrite);
    if (rc != PX_DECLINED) {
        http_finalize(r, rc);
        return;
    }
    if (r->uri_changed) {
        /* a rewrite changed the URI: the location is chosen again (nginx's post-rewrite) */
        if (!redirect_allowed(r, "processing", r->uri))
            return;
        r->uri_changed = 0;
        run_phases(r);
        return;
    }
    clcf = r->loc; /* an if () block that matched brings its own configuration */
    rc = run_phase(r, &cmcf->phase_preaccess);
    if (rc == PX_DECLINED)
        rc = run_phase(r, &cmcf->phase_access);
    if (rc != PX_DECLINED) {
        http_finalize(r, rc);
        return;
    }
    /* From here PX_DONE means the handler owns the request now (an internal redirect, a
     * response it streams), and may have finished it already: r is not touched again. */
    rc = run_phase(r, &cmcf->phase_precontent);
    if (rc == PX_DONE)
        return;
    if (rc != PX_DECLINED) {
        http_finalize(r, rc);
        return;
    }
    if (clcf->content_handler) {
        rc = clcf->content_handler(r);
    } else {
        rc = run_phase(r, &cmcf->phase_content);
        if (rc == PX_DECLINED)
            rc = 404;
    }
    if (rc != PX_DONE)
        http_finalize(r, rc);
}

/* Counts an internal redirect; after too many, nginx's cycle error and a 500. */
static int redirect_allowed(http_request_t *r, const char *how, px_str_t target)
{
    if (--r->uri_changes > 0)
        return 1;
    px_log_error(PX_LOG_ERR, &r->log, 0, "rewrite or internal redirection cycle while %s \"%.*s\"",
                 how, (int)target.len, target.data);
    r->err_status = 0;
    http_finalize(r, 500);
    return 0;
}

int http_internal_redirect(http_request_t *r, px_str_t uri, px_str_t args)
{
    if (!redirect_allowed(r, "internally redirecting to", uri))
        return PX_DONE;
    r->uri = uri;
    r->args = args;
    r->internal = 1;
    http_set_exten(r);
    /* nginx keeps the values already computed (map, set) across internal redirects */
    run_server_phases(r);
    return PX_DONE;
}

int http_named_location(http_request_t *r, px_str_t name)
{
    http_core_loc_conf_t *clcf = http_location_find_named(r->srv->locations, name);
    if (clcf == NULL) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "could not find named location \"%.*s\"", (int)name.len,
                     name.data);
        r->err_status = 0;
        http_finalize(r, 500);
        return PX_DONE;
    }
    if (!redirect_allowed(r, "redirect to named location", name))
        return PX_DONE;
    r->internal = 1;
    use_location(r, clcf);
    run_location_phases(r);
    return PX_DONE;
}

/* error_page: PX_OK when it took over the request. */
static int error_page(http_request_t *r, int status)
{
    if (r->error_page_done && !r->loc->recursive_error_pages)
        return PX_DECLINED;
    px_array_t *pages = r->loc->error_pages;
    if (pages == NULL)
        return PX_DECLINED;
    http_error_page_t *ep = pages->elts;
    for (size_t i = 0; i < pages->nelts; i++) {
        if (ep[i].code != status)
            continue;
        r->error_page_done = 1;
        px_str_t uri;
        if (http_cv_eval(r, &ep[i].uri, &uri) != PX_OK)
            return PX_DECLINED;
        r->err_status = ep[i].overwrite > 0 ? ep[i].overwrite : ep[i].overwrite == 0 ? 0 : status;
        if (uri.len && uri.data[0] == '@') {
            http_named_location(r, uri);
            return PX_OK;
        }
        if (uri.len && uri.data[0] != '/') {
            /* an absolute URL: a redirect, 302 unless =30x says otherwise */
            int code = ep[i].overwrite >= 301 && ep[i].overwrite <= 308 ? ep[i].overwrite : 302;
            r->err_status = 0;
            if (http_add_out_header(r, PX_STR("Location"), uri) != PX_OK)
                return PX_DECLINED;
            http_send_special(r, code);
            write_output(r);
            return PX_OK;
        }
        http_internal_redirect_get(r, uri);
        return PX_OK;
    }
    return PX_DECLINED;
}

int http_internal_redirect_get(http_request_t *r, px_str_t target)
{
    px_str_t uri = target, args = PX_NULL_STR;
    for (size_t k = 0; k < uri.len; k++) {
        if (uri.data[k] == '?') {
            args = px_str_make(uri.data + k + 1, uri.len - k - 1);
            uri.len = k;
            break;
        }
    }
    if (r->method != HTTP_METHOD_HEAD) {
        r->method = HTTP_METHOD_GET;
        r->method_name = PX_STR("GET");
    }
    return http_internal_redirect(r, uri, args);
}

void http_finalize(http_request_t *r, int rc)
{
    if (rc == PX_DONE) {
        /* a response queued whole (return, error pages); a streaming one flushes itself */
        if (r->header_sent && r->out_last && r->write_event_handler == NULL)
            write_output(r);
        return;
    }
    r->read_event_handler = NULL;
    r->write_event_handler = NULL;
    if (r->header_sent) {
        if (rc != PX_OK && !r->out_last) {
            /* the head is out: a failure can only end the connection */
            http_terminate(r, r->status);
            return;
        }
        write_output(r);
        return;
    }
    if (rc == 444) {
        r->status = 444;
        http_log_request(r);
        r->logged = 1;
        close_connection(r->hc);
        return;
    }
    if (rc == PX_ERROR || rc < 100)
        rc = 500;
    if (rc >= 300 && error_page(r, rc) == PX_OK)
        return;
    http_send_special(r, rc);
    write_output(r);
}

/* ---- output ---- */

static void request_done(http_request_t *r);

static void write_output(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    px_conn_t *c = hc->c;
    if (hc->stream) {
        /* the socket is the HTTP/2 connection's */
    } else if (!r->loc->tcp_nodelay && !hc->nodelay_off && c->peer.ss_family != AF_UNIX) {
        /* listening sockets hand out TCP_NODELAY; a location with tcp_nodelay off takes it back */
        int zero = 0;
        if (setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &zero, sizeof(zero)) < 0)
            px_log_error(PX_LOG_ALERT, &c->log, errno, "setsockopt(TCP_NODELAY) failed");
        hc->nodelay_off = 1;
    } else if (r->loc->tcp_nodelay && hc->nodelay_off) {
        int one = 1;
        if (setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
            px_log_error(PX_LOG_ALERT, &c->log, errno, "setsockopt(TCP_NODELAY) failed");
        hc->nodelay_off = 0;
    }
    int rc = http_flush(r);
    if (rc == PX_AGAIN)
        return;
    if (rc != PX_OK) {
        r->keepalive_out = 0;
        http_terminate(r, r->status);
        return;
    }
    if (r->out_last)
        request_done(r);
}

void http_terminate(http_request_t *r, int status)
{
    http_conn_t *hc = r->hc;
    r->read_event_handler = NULL;
    r->write_event_handler = NULL;
    if (!r->logged) {
        r->status = status;
        http_log_request(r);
        r->logged = 1;
    }
    close_connection(hc);
}

int http_conn_output_pending(http_conn_t *hc)
{
    return hc->r && hc->outq && http_out_pending(hc->r) > 0;
}

static void conn_write(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    if (hc->r && hc->r->write_event_handler)
        hc->r->write_event_handler(hc->r);
    else if (hc->r && hc->r->header_sent)
        write_output(hc->r);
}

/* Drops the body bytes already in the buffer. PX_OK when the body is complete, PX_AGAIN when
 * more must arrive, PX_ERROR on a broken chunked body (logged). */
static int discard_buffered(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    if (!r->chunked_in && r->content_length_n <= 0)
        return PX_OK;
    if (hc->stream) {
        /* the stream's DATA is dropped as it comes; the connection goes on regardless */
        http_v2_discard_body(hc);
        r->body_done = 1;
        return PX_OK;
    }
    if (!r->discarding_body) {
        r->discarding_body = 1;
        /* a content handler that read part of the body left its state here */
        http_body_init(r);
    }
    if (r->body_done)
        return PX_OK;
    while (hc->pos < hc->len) {
        if (!r->chunked_in) {
            size_t avail = hc->len - hc->pos;
            size_t take = (int64_t)avail < hc->body_rest ? avail : (size_t)hc->body_rest;
            hc->pos += take;
            hc->body_rest -= (int64_t)take;
            if (hc->body_rest == 0)
                break;
        } else {
            size_t consumed;
            http_span_t data;
            int rc = http_parse_chunked(&hc->chunked, hc->buf + hc->pos, hc->len - hc->pos,
                                        &consumed, &data);
            hc->pos += consumed;
            if (rc == HTTP_PARSE_CHUNKED_DONE) {
                r->body_done = 1;
                return PX_OK;
            }
            if (rc != HTTP_PARSE_OK && rc != HTTP_PARSE_AGAIN) {
                px_log_error(PX_LOG_ERR, &r->log, 0, "client sent invalid chunked body");
                r->keepalive = 0;
                r->body_done = 1; /* reported once; the connection closes */
                return PX_ERROR;
            }
        }
    }
    if (!r->chunked_in && hc->body_rest == 0) {
        r->body_done = 1;
        return PX_OK;
    }
    return PX_AGAIN;
}

/* Before a response that does not read the body (return with a text or a 2xx): answers an
 * "Expect: 100-continue" and drops the body bytes already received, as nginx's
 * ngx_http_discard_request_body does. A broken chunked body turns the answer into a 400. */
static int start_discard(http_request_t *r)
{
    if (http_body_start(r) != PX_OK)
        return PX_ERROR;
    return discard_buffered(r) == PX_ERROR ? 400 : PX_OK;
}

void http_discard_for_special(http_request_t *r)
{
    if (discard_buffered(r) == PX_ERROR)
        r->keepalive = 0;
}

/* Consumes the request body without keeping it, so the connection can be reused.
 * PX_OK when done, PX_AGAIN when more must arrive, PX_ERROR on a broken body. */
static int discard_body(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    px_conn_t *c = hc->c;
    for (;;) {
        int rc = discard_buffered(r);
        if (rc != PX_AGAIN)
            return rc;
        hc->pos = hc->len = 0;
        if (hc->buf == NULL) {
            hc->size = 0;
            if (grow_buffer(hc) != PX_OK)
                return PX_ERROR;
        }
        if (!c->readable)
            return PX_AGAIN;
        ssize_t n = px_conn_recv(c, hc->buf, hc->size);
        if (n == PX_AGAIN)
            return PX_AGAIN;
        if (n <= 0)
            return PX_ERROR;
        hc->len = (size_t)n;
    }
}

static void request_done(http_request_t *r)
{
    if (!r->logged) {
        http_log_request(r);
        r->logged = 1;
    }
    finalize_connection(r);
}

/* After the response: drop the rest of the body, then keep the connection or close it. */
static void finalize_connection(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    px_conn_t *c = hc->c;
    http_core_loc_conf_t *loc = r->loc;
    c->read_timer.handler = header_timeout; /* a body reader may have borrowed it */
    if (hc->stream) {
        px_timer_del(&c->read_timer);
        px_timer_del(&c->write_timer);
        px_pool_destroy(r->pool);
        hc->r = NULL;
        hc->outq = NULL;
        release_buffer(hc);
        http_v2_request_done(hc);
        return;
    }
    if (!r->keepalive_out) {
        /* nginx lingers when the client may still be sending: an unread body, bytes
         * already buffered, or data waiting on the socket. */
        int unread = (r->chunked_in || r->content_length_n > 0) && !r->body_done;
        int pending = unread || r->lingering || hc->len > hc->pos || c->readable;
        if (loc->lingering_close == LINGERING_ALWAYS || (loc->lingering_close == LINGERING_ON && pending))
            lingering_close(hc, loc);
        else
            close_connection(hc);
        return;
    }
    int rc = discard_body(r);
    if (rc == PX_AGAIN) {
        px_timer_add(&c->read_timer, (px_msec_t)loc->client_body_timeout);
        return;
    }
    if (rc != PX_OK) {
        close_connection(hc);
        return;
    }
    px_timer_del(&c->read_timer);
    px_pool_destroy(r->pool);
    hc->r = NULL;
    hc->outq = NULL;
    if (hc->pos < hc->len) {
        /* pipelined: the next request is already here */
        memmove(hc->buf, hc->buf + hc->pos, hc->len - hc->pos);
        hc->len -= hc->pos;
        hc->pos = 0;
        px_post(&hc->resume);
        return;
    }
    hc->pos = hc->len = 0;
    release_buffer(hc);
    px_timer_add(&c->read_timer, (px_msec_t)loc->keepalive_timeout);
    px_conn_set_idle(c, 1);
    if (c->readable || c->peer_closed) {
        px_conn_set_idle(c, 0);
        hc->size = 0;
        if (grow_buffer(hc) != PX_OK) {
            close_connection(hc);
            return;
        }
        read_head(hc);
    }
}
