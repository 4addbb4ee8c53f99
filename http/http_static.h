/* The pure pieces of static file serving (http_static_path.c), kept apart from the handlers
 * in http_static.c so they can be tested without a request: mapping a URI to a file path
 * under root or alias, byte-range parsing, entity-tag matching, HTTP dates, and the check
 * that keeps a mapped path inside its directory. */
#ifndef HTTP_STATIC_H
#define HTTP_STATIC_H

#include <stdint.h>
#include <time.h>

#include "core/px_string.h"

/* alias in a regex location: the alias value is the whole path (nginx's NGX_MAX_SIZE_T). */
#define HTTP_ALIAS_WHOLE SIZE_MAX

/* Where the file for uri lies: root + uri, or for alias the alias value + what follows the
 * first alias_len bytes of uri (the location's prefix). With alias_len HTTP_ALIAS_WHOLE the
 * alias value alone is the path, unless add_uri (try_files found a file for a regex alias
 * location), then alias + uri. alias_len 0 means root. Writes into out (room for
 * base.len + uri.len + 1) and returns the length; out is NUL-terminated. */
size_t http_static_map(px_str_t base, size_t alias_len, int add_uri, px_str_t uri, char *out);

/* 1 when path, from offset `from` on (the part that came from the request or from variables),
 * holds a ".." segment or a NUL byte: such a path could name a file outside its directory. */
int http_static_path_unsafe(px_str_t path, size_t from);

/* ---- byte ranges ---- */

typedef struct {
    int64_t start, end; /* [start, end) */
} http_range_t;

enum {
    HTTP_RANGE_OK,            /* ranges filled: answer 206 */
    HTTP_RANGE_IGNORE,        /* answer 200 with the whole file */
    HTTP_RANGE_UNSATISFIABLE  /* answer 416 */
};

/* Parses a Range header value ("bytes=0-99,200-") against a file of size bytes as nginx's
 * range filter does: a header not starting with "bytes=" (any case) or shorter than 7 bytes
 * is ignored; malformed specs answer 416; more than max_ranges ranges, or ranges that add
 * up to more than the file, are ignored (the whole file goes out). At most cap ranges are
 * stored (cap must be at least max_ranges + 1). */
int http_static_parse_range(px_str_t value, int64_t size, int max_ranges, http_range_t *ranges,
                            size_t cap, size_t *n);

/* ---- validators ---- */

/* Whether header (If-Match, If-None-Match) names etag: "*" matches anything, even an empty
 * etag (a file sent without one), which matches nothing else; weak compares with W/ prefixes
 * ignored (If-None-Match), else byte for byte. */
int http_static_etag_match(px_str_t header, px_str_t etag, int weak);

/* An HTTP date in any of the three forms nginx reads (RFC 1123, RFC 850, asctime), as a
 * Unix time; -1 when it is none of them. */
time_t http_static_parse_date(px_str_t text);

/* The entity tag nginx gives a file: "mtime-size" in lowercase hex, with its quotes. buf needs
 * 40 bytes. Returns the length. */
size_t http_static_etag(time_t mtime, int64_t size, char *buf);

#endif
