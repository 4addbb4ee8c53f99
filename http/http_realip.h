/* realip's pure pieces, apart from the module so unit tests can reach them: reading one
 * "address[:port]" item and walking a forwarding header (X-Forwarded-For, X-Real-IP, any
 * field) from its end past trusted proxies, with nginx's rules. */
#ifndef HTTP_REALIP_H
#define HTTP_REALIP_H

#include <sys/socket.h>

#include "core/px_addr.h"

/* One item as nginx reads it (RFC 3986 form): "192.0.2.1", "192.0.2.1:8080", "2001:db8::1",
 * "[2001:db8::1]:8080", "[192.0.2.1]:80". A port must be 1-65535; a bracketed address must
 * have one ("[::1]" is refused). The address gets port 0 when none is written. PX_OK or
 * PX_ERROR. */
int http_realip_parse_addr(const char *p, size_t len, struct sockaddr_storage *out,
                           socklen_t *outlen);

/* Replaces *addr (the peer, on entry) with the client address the header values name,
 * values being every field of the header in the order received. Starting from the last
 * value's last item: while the address in hand is trusted, the item before it (separated
 * by commas and spaces) becomes the address; without recursive only one step is taken.
 * An invalid item stops the walk. PX_OK when *addr changed, PX_DECLINED when not (untrusted
 * peer, or the last item invalid). */
int http_realip_forwarded(const px_str_t *values, size_t nvalues, const px_cidr_t *trusted,
                          size_t ntrusted, int recursive, struct sockaddr_storage *addr,
                          socklen_t *addrlen);

#endif
