/* Socket addresses as a configuration names them: the listen and upstream address forms
 * (host:port, [v6]:port, unix:path, hostnames resolved at load time), their text form, and
 * CIDR ranges for allow/deny-style matching. Parsing follows nginx's rules and words. */
#ifndef PX_ADDR_H
#define PX_ADDR_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "px_string.h"

/* Longest text: "unix:" + a 107-byte path + NUL; "[v6]:port" needs 54 at most. */
#define PX_ADDR_TEXT_SIZE 120

typedef struct {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[PX_ADDR_TEXT_SIZE]; /* "127.0.0.1:8080", "[::1]:80", "unix:/run/x.sock" */
} px_addr_t;

/* px_url_parse flags. */
#define PX_URL_LISTEN 0x1u     /* a bare number is a port, "*" is the wildcard address */
#define PX_URL_URI_PART 0x2u   /* text may go on with a URI: "host:port/uri", "unix:/p:/uri" */
#define PX_URL_NO_RESOLVE 0x4u /* leave a hostname unresolved; px_url_resolve does it later */

typedef struct {
    px_str_t text;      /* the whole input */
    px_str_t host;      /* "127.0.0.1", "[::1]" (brackets kept), "example.com", a unix path */
    px_str_t port_text; /* empty when no port was written */
    px_str_t uri;       /* with PX_URL_URI_PART: "/uri", "?args"; a unix URI has no ':' */
    uint16_t port;      /* written port or the default; 0 for unix sockets */
    int family;         /* AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC for an unresolved name */
    unsigned no_port : 1;
    unsigned wildcard : 1; /* "*", "8080", "0.0.0.0", "[::]" */
    px_addr_t *addrs;      /* IPv4 addresses first, then IPv6, no duplicates (malloc) */
    size_t naddrs;
    const char *reason; /* nginx's reason on failure: "invalid port", "host not found", ... */
} px_url_t;

/* Splits and checks text, filling u (all slices point into text). Numeric addresses are
 * converted; a hostname is resolved with getaddrinfo unless PX_URL_NO_RESOLVE. Returns PX_OK
 * or PX_ERROR with u->reason set. Call px_url_free afterwards in either case. */
int px_url_parse(px_url_t *u, px_str_t text, uint16_t default_port, unsigned flags);
/* Resolves u->host (left by PX_URL_NO_RESOLVE) to all its addresses; "host not found". */
int px_url_resolve(px_url_t *u);
void px_url_free(px_url_t *u);

/* The "listen" address: "8080", "127.0.0.1:8080", "127.0.0.1" (port 80), "*:8080",
 * "[::]:8080", "[::1]", "localhost:8080" (every address it resolves to), "unix:/path".
 * On failure err gets nginx's message without " in file:line", e.g.
 *   invalid port in "127.0.0.1:99999" of the "listen" directive */
int px_addr_parse_listen(px_url_t *u, px_str_t text, char *err, size_t errsize);

/* An upstream "server" address or a proxy_pass host (after the scheme): host[:port] with
 * default_port, [v6][:port] or unix:path. flags may add PX_URL_URI_PART, PX_URL_NO_RESOLVE.
 * err gets e.g.  invalid port in upstream "127.0.0.1:99999"  or
 *                host not found in upstream "nosuch:80" */
int px_addr_parse_upstream(px_url_t *u, px_str_t text, uint16_t default_port, unsigned flags,
                           char *err, size_t errsize);
/* Resolves a name left by PX_URL_NO_RESOLVE (a proxy_pass host that names no upstream{}):
 * err gets  host not found in upstream "nosuch"  (the host alone, as nginx reports it). */
int px_addr_resolve_upstream(px_url_t *u, char *err, size_t errsize);

/* Text of a socket address: "127.0.0.1:8080" / "127.0.0.1", "[::1]:80" / "::1",
 * "unix:/path" (with or without port). Returns the length (truncated to size - 1). */
size_t px_addr_to_text(const struct sockaddr *sa, socklen_t len, int with_port, char *buf,
                       size_t size);
/* Same family, address and port (unix: same path). */
int px_addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                  socklen_t blen);
/* An IPv4 address written as nginx reads one: four dot-separated decimal fields of 0-255.
 * nginx lets a field be empty ("1..2.3" is 1.0.2.3) and rejects 255.255.255.255. */
int px_inet4_parse(const char *p, size_t len, struct in_addr *out);
/* An IPv6 address without brackets or zone, as nginx reads one. */
int px_inet6_parse(const char *p, size_t len, struct in6_addr *out);

typedef struct {
    int family; /* AF_INET, AF_INET6, AF_UNIX ("unix:"), AF_UNSPEC ("all") */
    union {
        struct {
            struct in_addr addr, mask;
        } v4;
        struct {
            struct in6_addr addr, mask;
        } v6;
    } u;
} px_cidr_t;

/* "10.0.0.0/8", "192.168.1.1", "::1/128", "all", "unix:" (case-sensitive, as nginx). Returns
 * PX_OK; PX_DONE when host bits were set and cleared ("10.1.2.3/8" -> 10.0.0.0/8), which
 * deserves nginx's warning; PX_ERROR otherwise. msg (may be NULL) gets for PX_DONE:
 *   low address bits of 10.1.2.3/8 are meaningless
 * and for PX_ERROR:
 *   invalid parameter "10.0.0.0/33" */
int px_cidr_parse(px_cidr_t *cidr, px_str_t text, char *msg, size_t msgsize);

/* Whether sa falls in cidr. As nginx's ngx_cidr_match: an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is matched as the IPv4 address a.b.c.d, so only IPv4 ranges can match it;
 * "all" matches every family, "unix:" every unix socket. (nginx's allow/deny differ at list
 * level: there a mapped address is checked against the IPv6 rules when no IPv4 rule exists.) */
int px_cidr_match(const px_cidr_t *cidr, const struct sockaddr *sa);

#endif
