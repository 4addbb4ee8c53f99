/* Connections: a socket, its event registration, timers, and I/O helpers that keep
 * track of readiness so handlers never issue a read that can only return EAGAIN. */
#ifndef PX_CONN_H
#define PX_CONN_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "core/px_event.h"
#include "core/px_log.h"
#include "core/px_pool.h"

typedef struct px_conn px_conn_t;
struct ssl_st;
typedef struct px_listening px_listening_t;
typedef void (*px_conn_handler_t)(px_conn_t *c);

/* A connection whose bytes travel inside another one (an HTTP/2 stream): no socket of its
 * own, its reads and writes go through these, with px_conn_recv's and px_conn_writev's
 * results and readiness flags. */
typedef struct {
    ssize_t (*recv)(px_conn_t *c, char *buf, size_t len);
    ssize_t (*writev)(px_conn_t *c, struct iovec *iov, int iovcnt);
} px_conn_vio_t;

typedef struct {
    char *start, *pos, *last, *end;
} px_buf_t;

struct px_listening {
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[128]; /* "127.0.0.1:8080", "[::]:80", "unix:/x" */
    int backlog;
    int rcvbuf, sndbuf; /* -1: unset */
    int ipv6only;       /* -1 unset, 0, 1 */
    int so_keepalive;   /* 0 unset, 1 on, 2 off */
    int keepidle, keepintvl, keepcnt;
    unsigned reuseport : 1;
    unsigned deferred : 1;
    unsigned kept : 1;         /* carried over from the previous configuration */
    unsigned worker_slot;      /* reuseport: which worker owns this socket */
    void *servers;             /* protocol layer's data: the server blocks on this address */
    px_conn_handler_t handler; /* called with each accepted connection */
    px_io_t io;
    px_timer_t retry_timer; /* accept back-off after EMFILE / worker_connections */
};

struct px_conn {
    px_io_t io; /* first: the event loop hands us this pointer */
    void *data;
    px_conn_handler_t read_handler;
    px_conn_handler_t write_handler;
    px_timer_t read_timer;
    px_timer_t write_timer;
    px_listening_t *listening;
    px_pool_t *pool;
    struct ssl_st *ssl; /* TLS (core/px_ssl.h) once its handshake begins; I/O goes through it */
    const px_conn_vio_t *vio; /* set on a virtual connection: I/O goes through it (before ssl,
                                 which such a connection shares with its carrier for $ssl_*) */
    px_log_t log;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    /* the local address of an IP connection, asked of the kernel when first needed (a unix
     * socket's is its listening address): px_conn_local */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } local;
    socklen_t local_len;
    unsigned long number;
    uint32_t requests;
    uint32_t created_sec; /* when it was opened (seconds): upstream keepalive_time */
    px_conn_t *next_free;
    px_conn_t *idle_next, *idle_prev; /* idle keepalive list, closed on graceful stop */
    unsigned readable : 1;            /* data may be waiting: a read has not yet come back short */
    unsigned writable : 1;            /* the last write did not come back short */
    unsigned peer_closed : 1;
    unsigned error : 1;
    unsigned timedout : 1;
    unsigned idle : 1;
    unsigned closing : 1;
    unsigned registered : 1;
};

extern unsigned long px_conn_counter;
extern unsigned px_conn_active;
extern unsigned px_conn_limit;
extern int px_worker_exiting;
extern int px_accept_multi; /* events { multi_accept on; } */

int px_conn_pool_init(unsigned limit);
/* The connection's place in the slab, 0 .. px_conn_limit - 1: a layer above keeps its own
 * per-connection state in an array of its own, indexed the same way. */
unsigned px_conn_index(const px_conn_t *c);
/* Wraps fd in a connection and registers it with the loop. NULL when out of slots. */
px_conn_t *px_conn_new(int fd);
void px_conn_close(px_conn_t *c);
/* The connection's local address (getsockname once, then kept); NULL after logging when the
 * kernel cannot tell. */
const struct sockaddr *px_conn_local(px_conn_t *c, socklen_t *len);
void px_conn_set_idle(px_conn_t *c, int idle);
void px_conn_close_idle(void);

/* recv wrapper: >0 bytes, 0 on peer close, PX_AGAIN when nothing is ready, PX_ERROR. */
ssize_t px_conn_recv(px_conn_t *c, char *buf, size_t len);
/* send wrapper: bytes written (possibly short), PX_AGAIN, PX_ERROR. */
ssize_t px_conn_send(px_conn_t *c, const char *buf, size_t len);
ssize_t px_conn_writev(px_conn_t *c, struct iovec *iov, int iovcnt);
/* readv wrapper with px_conn_recv's results and readiness tracking. */
ssize_t px_conn_readv(px_conn_t *c, struct iovec *iov, int iovcnt);

/* Listening sockets. */
int px_listening_open(px_listening_t *ls);
void px_listening_close(px_listening_t *ls);
int px_listening_enable(px_listening_t *ls);
void px_listening_disable(px_listening_t *ls);
/* Stops listening in this worker for good: accepts what is already queued, then closes. */
void px_listening_stop(px_listening_t *ls);

#endif
