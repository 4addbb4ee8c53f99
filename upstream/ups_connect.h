/* Connections to upstream servers: a non-blocking connect registered with the event loop
 * like any other connection, so its completion arrives as a write event. */
#ifndef UPS_CONNECT_H
#define UPS_CONNECT_H

#include "core/px_conn.h"

/* Starts connecting to sa. Returns the connection (its writable flag is set once the
 * connect completes; handlers are the caller's to set), or NULL with *err the errno value
 * of a failure that happened at once (0 when there was no free connection slot). */
px_conn_t *ups_connect(const struct sockaddr *sa, socklen_t len, px_log_t *log, int *err);

/* After the first write event of a connecting socket: 0, or the errno value it failed
 * with (ECONNREFUSED, ETIMEDOUT, ...). */
int ups_connect_result(px_conn_t *c);

#endif
