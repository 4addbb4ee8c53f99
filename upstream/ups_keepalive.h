/* Idle keepalive connections to upstream servers, kept per worker and per owner (the
 * configuration that opened them: nginx's `keepalive N local`, the default since 1.29.7).
 * An idle connection stays registered with the loop, so a close by the server, or bytes it
 * should not send, are seen as an event and the connection is dropped at once; checking one
 * out needs no probe. */
#ifndef UPS_KEEPALIVE_H
#define UPS_KEEPALIVE_H

#include "core/px_conn.h"

#define UPS_KEEPALIVE_DEFAULT_MAX 32          /* idle connections per owner */
#define UPS_KEEPALIVE_DEFAULT_TIMEOUT 60000   /* ms, nginx's keepalive_timeout */

/* Parks c (its handlers and data are replaced); when owner has more than max idle
 * connections, the least recently used ones past max are closed once they have been idle for
 * a second (a load that swings around the cap reuses them instead of reconnecting). */
void ups_keepalive_put(px_conn_t *c, const void *owner, unsigned max, px_msec_t timeout);

/* The most recently parked idle connection of owner to sa, or NULL. The caller sets its
 * handlers and data. */
px_conn_t *ups_keepalive_get(const void *owner, const struct sockaddr *sa, socklen_t len);

/* Idle connections held now (for tests and metrics). */
unsigned ups_keepalive_idle(void);

#endif
