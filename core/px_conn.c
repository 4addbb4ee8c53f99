/* Connection slab, readiness-tracking I/O, and listening sockets with accept back-off. */
#include "core/px_conn.h"
#include "core/px_ssl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

unsigned long px_conn_counter;
unsigned px_conn_active;
unsigned px_conn_limit;
int px_worker_exiting;
int px_accept_multi;

static px_conn_t *slab;
static px_conn_t *free_list;
static px_conn_t *released; /* closed this iteration; reusable once no stale event can name them */
static px_conn_t idle_head; /* circular list of idle keepalive connections, newest first */
static unsigned nidle;

#define ACCEPT_RETRY_MS 500

static void release_closed(void)
{
    while (released) {
        px_conn_t *c = released;
        released = c->next_free;
        c->next_free = free_list;
        free_list = c;
    }
}

int px_conn_pool_init(unsigned limit)
{
    px_conn_limit = limit;
    slab = calloc(limit, sizeof(*slab));
    if (slab == NULL)
        return PX_ERROR;
    free_list = NULL;
    for (unsigned i = limit; i > 0; i--) {
        slab[i - 1].io.fd = -1;
        slab[i - 1].next_free = free_list;
        free_list = &slab[i - 1];
    }
    idle_head.idle_next = idle_head.idle_prev = &idle_head;
    px_event_batch_done = release_closed;
    return PX_OK;
}

unsigned px_conn_index(const px_conn_t *c)
{
    return (unsigned)(c - slab);
}

static void conn_io_handler(px_io_t *io, unsigned events)
{
    px_conn_t *c = (px_conn_t *)io;
    if (events & PX_IO_READ)
        c->readable = 1;
    if (events & PX_IO_HUP)
        c->peer_closed = 1;
    if (events & PX_IO_ERR)
        c->error = 1;
    if (events & PX_IO_WRITE)
        c->writable = 1;
    px_conn_handler_t rh = c->read_handler, wh = c->write_handler;
    if ((events & PX_IO_READ) && rh) {
        rh(c);
        if (c->io.fd < 0)
            return;
    }
    if ((events & PX_IO_WRITE) && wh && (wh != rh || !(events & PX_IO_READ)))
        wh(c);
}

const struct sockaddr *px_conn_local(px_conn_t *c, socklen_t *len)
{
    if (c->listening && c->listening->addr.ss_family == AF_UNIX) {
        *len = c->listening->addrlen;
        return (const struct sockaddr *)&c->listening->addr;
    }
    if (c->local_len == 0) {
        socklen_t l = sizeof(c->local);
        if (getsockname(c->io.fd, &c->local.sa, &l) < 0 || l > sizeof(c->local)) {
            px_log_error(PX_LOG_CRIT, &c->log, errno, "getsockname() failed");
            return NULL;
        }
        c->local_len = l;
    }
    *len = c->local_len;
    return &c->local.sa;
}

px_conn_t *px_conn_new(int fd)
{
    px_conn_t *c = free_list;
    if (c == NULL)
        return NULL;
    free_list = c->next_free;
    memset(c, 0, sizeof(*c));
    c->io.fd = fd;
    c->io.handler = conn_io_handler;
    c->io.data = c;
    c->number = ++px_conn_counter;
    c->created_sec = (uint32_t)(px_current_msec / 1000);
    c->log = px_errlog;
    c->log.connection = c->number;
    c->writable = 1;
    px_timer_init(&c->read_timer, NULL, c);
    px_timer_init(&c->write_timer, NULL, c);
    if (px_event_add(&c->io, 0) != PX_OK) {
        c->io.fd = -1;
        c->next_free = free_list;
        free_list = c;
        return NULL;
    }
    c->registered = 1;
    px_conn_active++;
    return c;
}

void px_conn_set_idle(px_conn_t *c, int idle)
{
    if (idle && !c->idle) {
        c->idle_next = idle_head.idle_next;
        c->idle_prev = &idle_head;
        idle_head.idle_next->idle_prev = c;
        idle_head.idle_next = c;
        c->idle = 1;
        nidle++;
    } else if (!idle && c->idle) {
        c->idle_prev->idle_next = c->idle_next;
        c->idle_next->idle_prev = c->idle_prev;
        c->idle = 0;
        nidle--;
    }
}

static void close_idle(px_conn_t *c)
{
    /* The owner's read handler sees closing and finishes the connection its own way. */
    px_conn_set_idle(c, 0);
    c->closing = 1;
    if (c->read_handler)
        c->read_handler(c);
    else
        px_conn_close(c);
}

void px_conn_close_idle(void)
{
    while (idle_head.idle_next != &idle_head)
        close_idle(idle_head.idle_next);
}

void px_conn_close(px_conn_t *c)
{
    if (c->io.fd < 0 || c->vio) /* a virtual connection is closed by its carrier */
        return;
    px_timer_del(&c->read_timer);
    px_timer_del(&c->write_timer);
    px_conn_set_idle(c, 0);
    if (c->ssl)
        px_ssl_close(c);
    /* close() removes the fd from epoll; no epoll_ctl needed */
    close(c->io.fd);
    c->io.fd = -1;
    if (c->pool) {
        px_pool_destroy(c->pool);
        c->pool = NULL;
    }
    c->next_free = released;
    released = c;
    px_conn_active--;
}

#define READ_RETRY (-100) /* EINTR: read again */

/* What a read returned, with the readiness it implies. */
static ssize_t read_result(px_conn_t *c, ssize_t n, size_t asked)
{
    if (n > 0) {
        /* A short read drained the socket, unless the peer's FIN came with the data:
         * then no new event will come, and the next read must see the end. */
        if ((size_t)n < asked && !c->peer_closed)
            c->readable = 0;
        return n;
    }
    if (n == 0) {
        c->readable = 0;
        c->peer_closed = 1;
        return 0;
    }
    if (errno == EINTR)
        return READ_RETRY;
    c->readable = 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
        return PX_AGAIN;
    c->error = 1;
    return PX_ERROR;
}

ssize_t px_conn_recv(px_conn_t *c, char *buf, size_t len)
{
    if (c->vio)
        return c->vio->recv(c, buf, len);
    if (c->ssl)
        return px_ssl_recv(c, buf, len);
    ssize_t rc;
    do
        rc = read_result(c, recv(c->io.fd, buf, len, 0), len);
    while (rc == READ_RETRY);
    return rc;
}

ssize_t px_conn_readv(px_conn_t *c, struct iovec *iov, int iovcnt)
{
    if (iovcnt == 1)
        return px_conn_recv(c, iov[0].iov_base, iov[0].iov_len);
    if (c->vio)
        return c->vio->recv(c, iov[0].iov_base, iov[0].iov_len);
    if (c->ssl)
        return px_ssl_recv(c, iov[0].iov_base, iov[0].iov_len);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    ssize_t rc;
    do
        rc = read_result(c, readv(c->io.fd, iov, iovcnt), total);
    while (rc == READ_RETRY);
    return rc;
}

/* send() rather than sendmsg() for one piece: no iovec to import. */
ssize_t px_conn_send(px_conn_t *c, const char *buf, size_t len)
{
    if (c->vio) {
        struct iovec iov = {(void *)buf, len};
        return c->vio->writev(c, &iov, 1);
    }
    if (c->ssl)
        return px_ssl_send(c, buf, len);
    for (;;) {
        ssize_t n = send(c->io.fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
            if ((size_t)n < len)
                c->writable = 0;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->writable = 0;
            return PX_AGAIN;
        }
        c->error = 1;
        return PX_ERROR;
    }
}

ssize_t px_conn_writev(px_conn_t *c, struct iovec *iov, int iovcnt)
{
    if (iovcnt == 1)
        return px_conn_send(c, iov[0].iov_base, iov[0].iov_len);
    if (c->vio)
        return c->vio->writev(c, iov, iovcnt);
    if (c->ssl)
        return px_ssl_writev(c, iov, iovcnt);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    for (;;) {
        struct msghdr msg = {0};
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)iovcnt;
        ssize_t n = sendmsg(c->io.fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            if ((size_t)n < total)
                c->writable = 0;
            return n;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->writable = 0;
            return PX_AGAIN;
        }
        c->error = 1;
        return PX_ERROR;
    }
}

/* ---- listening sockets ---- */

int px_listening_open(px_listening_t *ls)
{
    int family = ls->addr.ss_family;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "socket() %s failed", ls->text);
        return PX_ERROR;
    }
    int one = 1;
    if (family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
        px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(SO_REUSEADDR) %s failed", ls->text);
    if (ls->reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(SO_REUSEPORT) %s failed", ls->text);
    if (family == AF_INET6) {
        int v6only = ls->ipv6only == 0 ? 0 : 1;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
            px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(IPV6_V6ONLY) %s failed", ls->text);
    }
    if (ls->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ls->rcvbuf, sizeof(int)) < 0)
        px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(SO_RCVBUF, %d) %s failed", ls->rcvbuf,
                     ls->text);
    if (ls->sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &ls->sndbuf, sizeof(int)) < 0)
        px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(SO_SNDBUF, %d) %s failed", ls->sndbuf,
                     ls->text);
    if (ls->so_keepalive) {
        int v = ls->so_keepalive == 1;
        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) < 0)
            px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(SO_KEEPALIVE) %s failed", ls->text);
        if (ls->keepidle > 0)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ls->keepidle, sizeof(int));
        if (ls->keepintvl > 0)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ls->keepintvl, sizeof(int));
        if (ls->keepcnt > 0)
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ls->keepcnt, sizeof(int));
    }
    if (family != AF_UNIX)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ls->deferred && setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one)) < 0)
        px_log_error(PX_LOG_ALERT, NULL, errno, "setsockopt(TCP_DEFER_ACCEPT) %s failed", ls->text);
    if (bind(fd, (struct sockaddr *)&ls->addr, ls->addrlen) < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "bind() to %s failed", ls->text);
        close(fd);
        return PX_ERROR;
    }
    if (family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ls->addr;
        if (chmod(sun->sun_path, 0666) < 0)
            px_log_error(PX_LOG_ALERT, NULL, errno, "chmod() \"%s\" failed", sun->sun_path);
    }
    if (listen(fd, ls->backlog > 0 ? ls->backlog : 511) < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "listen() to %s, backlog %d failed", ls->text,
                     ls->backlog);
        close(fd);
        return PX_ERROR;
    }
    ls->fd = fd;
    return PX_OK;
}

void px_listening_close(px_listening_t *ls)
{
    if (ls->fd < 0)
        return;
    px_timer_del(&ls->retry_timer);
    close(ls->fd);
    ls->fd = -1;
}

static void accept_retry(px_timer_t *t)
{
    px_listening_enable(t->data);
}

/* All slots are taken. New connections stay queued in the kernel rather than being accepted
 * only to be closed: another worker takes them, or this one once slots come back. Like nginx,
 * the oldest idle keepalive connections make room (an eighth of them, 1 to 32 at a time). */
static void out_of_slots(px_listening_t *ls)
{
    /* Only a connection actually waiting is worth closing an idle one for; the wake-up may
     * be stale (another worker took it) or the queue just drained. */
    struct pollfd pfd = {.fd = ls->fd, .events = POLLIN};
    if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
        return;
    px_msec_t retry = ACCEPT_RETRY_MS;
    if (released) {
        /* Closed in this iteration: free again once it ends. */
        retry = 1;
    } else if (nidle) {
        px_log_error(PX_LOG_WARN, NULL, 0,
                     "%u worker_connections are not enough, reusing connections", px_conn_limit);
        unsigned n = nidle / 8;
        n = n < 1 ? 1 : n > 32 ? 32 : n;
        while (n-- && nidle)
            close_idle(idle_head.idle_prev);
        retry = 1;
    } else {
        px_log_error(PX_LOG_ALERT, NULL, 0, "%u worker_connections are not enough", px_conn_limit);
    }
    /* A level-triggered listener left registered would wake this worker in a loop. */
    px_listening_disable(ls);
    px_timer_add(&ls->retry_timer, retry);
}

static void accept_handler(px_io_t *io, unsigned events)
{
    (void)events;
    px_listening_t *ls = io->data;
    for (;;) {
        if (free_list == NULL) {
            out_of_slots(ls);
            return;
        }
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int fd = accept4(ls->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK)
                return;
            if (err == EINTR || err == ECONNABORTED)
                continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                /* Out of descriptors: stop accepting for a while instead of spinning. */
                px_log_error(PX_LOG_CRIT, NULL, err, "accept4() failed");
                px_listening_disable(ls);
                px_timer_add(&ls->retry_timer, ACCEPT_RETRY_MS);
                return;
            }
            px_log_error(PX_LOG_ALERT, NULL, err, "accept4() failed");
            return;
        }
        px_conn_t *c = px_conn_new(fd);
        if (c == NULL) {
            /* A slot was free: only registering with epoll can have failed, and it logged. */
            close(fd);
            continue;
        }
        memcpy(&c->peer, &peer, plen);
        c->peer_len = plen;
        c->listening = ls;
        c->readable = 1; /* the request usually arrives with the handshake's last ACK */
        ls->handler(c);
        /* multi_accept off: one connection per wake-up; the level-triggered listening socket
         * reports the rest again, and other workers get their turn. */
        if (px_worker_exiting || !px_accept_multi)
            return;
    }
}

int px_listening_enable(px_listening_t *ls)
{
    if (ls->fd < 0)
        return PX_ERROR;
    ls->io.fd = ls->fd;
    ls->io.handler = accept_handler;
    ls->io.data = ls;
    px_timer_init(&ls->retry_timer, accept_retry, ls);
    return px_event_add(&ls->io, 1);
}

void px_listening_disable(px_listening_t *ls)
{
    if (ls->fd >= 0)
        px_event_del(&ls->io);
}

void px_listening_stop(px_listening_t *ls)
{
    if (ls->fd < 0)
        return;
    if (ls->io.handler == accept_handler) {
        px_listening_disable(ls);
        /* EPOLLEXCLUSIVE hands a new connection's wake-up to one worker only. If it went to
         * this one just before it stopped listening, no other worker hears of the connection
         * until the next one arrives: take whatever is queued now, since later arrivals wake
         * the workers still registered. */
        if (px_timer_active(&ls->retry_timer) == 0)
            accept_handler(&ls->io, PX_IO_READ);
    }
    px_listening_close(ls);
}
