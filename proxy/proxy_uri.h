/* What `proxy_pass` names and which URI it sends: the target's parts (scheme, host, port,
 * unix path, URI part), the checks nginx makes against the location at load time, and the
 * request line's URI built from a request exactly as nginx 1.22 builds it. Pure functions:
 * no I/O, no resolving, no allocation but the address list px_url_t keeps. */
#ifndef PROXY_URI_H
#define PROXY_URI_H

#include "core/px_addr.h"
#include "core/px_string.h"
#include "http/http_location.h"

typedef enum { PROXY_SCHEME_HTTP, PROXY_SCHEME_HTTPS } proxy_scheme_t;

typedef struct {
    px_str_t text; /* the whole argument, "http://h:8080/x" */
    /* A '$' anywhere: nothing else is filled in at load time; the caller compiles the text
     * as a complex value and calls proxy_pass_parse_evaluated per request. */
    unsigned has_variables : 1;
    unsigned evaluated : 1; /* filled by proxy_pass_parse_evaluated */
    /* A URI part was written. "http://h/" has one ("/"), "http://h" none: they differ. */
    unsigned has_uri : 1;
    unsigned is_unix : 1;
    unsigned no_port : 1; /* no port written: the scheme's default applies */
    proxy_scheme_t scheme;
    px_str_t host;      /* "127.0.0.1", "[::1]", "backend", or the socket path */
    px_str_t port_text; /* as written ("0080" stays so); empty when none */
    uint16_t port;      /* written or the scheme's default; 0 for a unix socket */
    px_str_t uri;       /* "/wordpress/", "?x=1" (a URI part may start with '?'); or empty */
    /* $proxy_host and $proxy_port (Host defaults to $proxy_host): "h" and "80" when the port
     * is the scheme's default, written or not; "h:8080" and "8080" otherwise; "localhost"
     * and "" for a unix socket. */
    px_str_t proxy_host;
    px_str_t proxy_port;
    /* The address of a literal IP or a unix socket; family AF_UNSPEC for a name, which is an
     * upstream{} group or a host to resolve (px_addr_resolve_upstream): the caller decides. */
    px_url_t url;
} proxy_pass_t;

/* Reads a proxy_pass argument at load time; all slices point into text. Returns PX_OK or
 * PX_ERROR with nginx's message (the caller appends " in file:line"):
 *   invalid URL prefix                            (no "http://" or "https://", any case)
 *   no host in upstream ""                        ("http://")
 *   invalid port in upstream "h:0"                (and the other px_addr_parse_upstream texts)
 * Call proxy_pass_free afterwards in either case. */
int proxy_pass_parse(proxy_pass_t *p, px_str_t text, char *err, size_t errsize);

/* Reads the per-request value of a proxy_pass with variables. nginx words the prefix error
 * differently here and wants something after the scheme:
 *   invalid URL prefix in "ftp://x"               (also for "http://" alone)
 *   invalid port in upstream "127.0.0.1:99999/x"
 * The caller logs it at error and answers 500. Call proxy_pass_free afterwards. */
int proxy_pass_parse_evaluated(proxy_pass_t *p, px_str_t text, char *err, size_t errsize);

void proxy_pass_free(proxy_pass_t *p);

/* The load-time rule: a URI part says what replaces the location's prefix, so it cannot be
 * used where there is no prefix. in_if_or_limit_except is set for a proxy_pass inside an
 * `if` or `limit_except` block (kind is then the enclosing location's, and ignored). A target
 * with variables is exempt, as in nginx. PX_ERROR with
 *   "proxy_pass" cannot have URI part in location given by regular expression, or inside
 *   named location, or inside "if" statement, or inside "limit_except" block */
int proxy_pass_check_location(const proxy_pass_t *p, http_location_kind_t kind,
                              int in_if_or_limit_except, char *err, size_t errsize);

/* For `-t`: a prefix location and a URI part that disagree on the trailing slash, which
 * nginx accepts silently and which doubles or drops a slash. PX_DONE with a warning in msg
 * (location "/blog", URI part "/wordpress/"):
 *   "proxy_pass" URI part "/wordpress/" ends with "/" but location "/blog" does not, so
 *   "/blog/x" is sent as "/wordpress//x"
 * PX_OK when there is nothing to say. */
int proxy_pass_slash_warning(const proxy_pass_t *p, http_location_kind_t kind, px_str_t location,
                             char *msg, size_t msgsize);

/* What nginx knows about a request when it builds the upstream request line. A zeroed
 * struct plus the four strings describes a request nothing has rewritten. */
typedef struct {
    px_str_t location;    /* name of the location proxy_pass belongs to ("/blog", "/e") */
    px_str_t uri;         /* $uri: decoded and normalised */
    px_str_t args;        /* $args */
    px_str_t request_uri; /* $request_uri: as the client sent it, with its args */
    /* rewrite or an internal redirect (error_page, try_files to a URI, index, rewrite
     * ... last) replaced the URI, so request_uri no longer describes it. */
    unsigned uri_changed : 1;
    /* `rewrite ... break` changed the URI in the proxy_pass location itself: the location
     * prefix no longer applies, and nginx drops the URI part. */
    unsigned rewritten_here : 1;
    unsigned quoted : 1;   /* the client's URI had a %-escape */
    unsigned internal : 1; /* rewritten, redirected internally, or a subrequest */
} proxy_uri_request_t;

/* Writes the URI of the upstream request line as nginx does (snprintf-style: returns the
 * full length, writes at most size bytes, no NUL; call with NULL, 0 to size a buffer):
 * - variables in proxy_pass and a URI part after evaluation: that URI as it is, no args
 *   (a '/' goes before one that starts with '?');
 * - no URI part and the URI unchanged: request_uri, byte for byte;
 * - otherwise: the URI part (unless rewritten_here), then $uri less as many bytes as the
 *   location name has (none when rewritten_here or there is no URI part), %-escaped when
 *   quoted or internal, then "?" and args when there are args.
 * So `location /blog` + `http://h/wordpress/` sends /blog/my-post as /wordpress//my-post. */
size_t proxy_uri_build(const proxy_pass_t *p, const proxy_uri_request_t *r, char *buf, size_t size);

/* nginx's escaping of a URI path: control bytes, space, '"', '#', '%', '<', '>', '?', '\\',
 * '^', '`', '{', '|', '}', DEL and bytes >= 0x80 become %XX (upper-case hex). Writes to dst
 * when not NULL; returns the escaped length either way. */
size_t proxy_uri_escape(const char *src, size_t len, char *dst);

#endif
