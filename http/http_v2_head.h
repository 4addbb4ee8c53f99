/* An HTTP/2 request head as its fields arrive (after HPACK), rebuilt as HTTP/1.1 text for the
 * request parser: "METHOD PATH HTTP/1.1", Host from :authority, the fields as header lines,
 * cookie crumbs joined into one Cookie line (RFC 9113 8.2.3). A pure library: no I/O. */
#ifndef HTTP_V2_HEAD_H
#define HTTP_V2_HEAD_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap;
} http_v2_sbuf_t;

typedef struct {
    http_v2_sbuf_t pseudo; /* the values of :method, :path, :authority */
    http_v2_sbuf_t lines;  /* "name: value\r\n" */
    http_v2_sbuf_t cookie; /* crumbs joined with "; " */
    size_t method_at, method_len, path_at, path_len, authority_at, authority_len;
    size_t total; /* name + value bytes so far, against the whole head's limit */
    int has_authority;
} http_v2_head_t;

enum {
    HTTP_V2_HEAD_OK = 0,
    HTTP_V2_HEAD_NOMEM = -1,
    HTTP_V2_HEAD_FIELD_TOO_LARGE = 1, /* one field over field_max */
    HTTP_V2_HEAD_TOO_LARGE = 2,       /* all of them over total_max */
    HTTP_V2_HEAD_INVALID = 3          /* empty name, or a CR, LF or NUL: not writable as a line */
};

/* Adds one field as received. nghttp2 has checked the fields (lowercase names, pseudo-headers
 * first and known, no connection-specific ones); this keeps what the HTTP/1.1 text needs. */
int http_v2_head_add(http_v2_head_t *h, const char *name, size_t nlen, const char *value, size_t vlen,
                     size_t field_max, size_t total_max);
/* The text, in a buffer from px_cache_alloc(*size); NULL when out of memory. */
char *http_v2_head_build(const http_v2_head_t *h, size_t *len, size_t *size);
void http_v2_head_free(http_v2_head_t *h);

#endif
