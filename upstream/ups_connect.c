/* Non-blocking connect to an upstream address. */
#include "upstream/ups_connect.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <unistd.h>

px_conn_t *ups_connect(const struct sockaddr *sa, socklen_t len, px_log_t *log, int *err)
{
    *err = 0;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno;
        px_log_error(PX_LOG_ALERT, log, errno, "socket() failed");
        return NULL;
    }
    if (sa->sa_family != AF_UNIX) {
        /* small requests go out at once; large ones are written in big pieces anyway */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    int rc = connect(fd, sa, len);
    if (rc < 0 && errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return NULL;
    }
    px_conn_t *c = px_conn_new(fd);
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->log = *log;
    c->io.early = 1; /* see px_io_t */
    memcpy(&c->peer, sa, len);
    c->peer_len = len;
    /* writable once the connect completes; a unix socket usually connects at once */
    c->writable = rc == 0;
    return c;
}

int ups_connect_result(px_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}
