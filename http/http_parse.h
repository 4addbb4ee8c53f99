/*
 * HTTP/1.x request-head parser, chunked body decoder, URI normaliser and Host validation.
 *
 * Pure functions over caller-owned bytes: no I/O, no allocation. The request-line and header
 * parsers report OFFSETS into the buffer they were given, never pointers, so the caller may
 * move the bytes into a larger buffer (large_client_header_buffers) between calls as long as
 * the copy keeps the same offsets. All of them are incremental: on HTTP_PARSE_AGAIN, call again
 * with the same buffer start and a larger length; the parser resumes where it stopped.
 *
 * Behaviour follows nginx 1.22 byte for byte where it is observable; see
 * http_parse_status() for the response status nginx answers to each error.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* A slice of the caller's buffer: bytes [start, start + len). */
typedef struct {
    size_t start;
    size_t len;
} http_span_t;

enum {
    HTTP_PARSE_OK = 0,
    HTTP_PARSE_AGAIN = -2,         /* same value as PX_AGAIN: need more bytes */
    HTTP_PARSE_HEADERS_DONE = 1,   /* the empty line ending the header block */
    HTTP_PARSE_CHUNKED_DONE = 2,   /* last chunk and trailer section consumed */

    HTTP_PARSE_INVALID_METHOD = 10,  /* 400 "client sent invalid method" */
    HTTP_PARSE_INVALID_REQUEST,      /* 400 "client sent invalid request" */
    HTTP_PARSE_INVALID_VERSION,      /* 505 "client sent invalid version" */
    HTTP_PARSE_INVALID_09_METHOD,    /* 400, answered in HTTP/0.9 form (body only) */
    HTTP_PARSE_INVALID_HEADER,       /* 400 "client sent invalid header line" */
    HTTP_PARSE_INVALID_CHUNK,        /* 400 "client sent invalid chunked body" */
    HTTP_PARSE_INVALID_HOST          /* 400 "client sent invalid host header" */
};

enum {
    HTTP_METHOD_UNKNOWN = 0, /* any other A-Z / '_' / '-' token: nginx accepts it */
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_MKCOL,
    HTTP_METHOD_COPY,
    HTTP_METHOD_MOVE,
    HTTP_METHOD_OPTIONS,
    HTTP_METHOD_PROPFIND,
    HTTP_METHOD_PROPPATCH,
    HTTP_METHOD_LOCK,
    HTTP_METHOD_UNLOCK,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_TRACE,   /* nginx answers 405 after the head is read */
    HTTP_METHOD_CONNECT  /* likewise 405 */
};

typedef struct {
    /* Request line. request_line runs from the method to the CR/LF (trailing spaces
     * included, as in nginx's $request). */
    http_span_t request_line;
    http_span_t method;
    http_span_t target;   /* the request-target exactly as sent */
    http_span_t uri;      /* $request_uri: target minus "scheme://host:port" */
    http_span_t schema;   /* absolute-form only; then host must pass http_validate_host */
    http_span_t host;     /* absolute-form only; may be empty ("http:///x"), which is invalid */
    http_span_t port;     /* absolute-form only; digits, possibly empty */
    http_span_t path;     /* raw path: uri up to '?' or '#' */
    http_span_t args;     /* after the first '?' up to '#'; len 0 if none */
    http_span_t exten;    /* after the last '.' of the last path segment; valid when the
                             path needs no normalisation, else use http_uri_exten() */
    http_span_t protocol; /* "HTTP/1.1" up to the line end, like nginx's $server_protocol;
                             len 0 for HTTP/0.9 */
    int method_id;
    int http_major, http_minor; /* 0.9 for a request line without version */
    unsigned complex_uri : 1;   /* "//" or "/." in the path: run http_normalize_uri */
    unsigned quoted_uri : 1;    /* '%' in the path: run http_normalize_uri */
    unsigned plus_in_uri : 1;
    unsigned empty_path_in_uri : 1; /* "http://host?args": $uri is "/" */
    unsigned has_args : 1;          /* a '?' was seen, even with empty args */

    /* The header line returned by the last HTTP_PARSE_OK of http_parse_header_line(). */
    http_span_t header_line;  /* name through trimmed value, for log messages */
    http_span_t header_name;
    http_span_t header_value; /* without leading and trailing spaces (tabs are kept) */
    unsigned header_invalid_name : 1; /* name has chars outside [A-Za-z0-9-] (or '_' when not
                                         allowed): nginx ignores it when
                                         ignore_invalid_headers is on */
    uint32_t header_hash;             /* http_hash_name() of the name */

    /* Where parsing stopped: after OK/HEADERS_DONE, the offset just past the line's LF; after
     * an error, the offset of the offending byte (just past the line for the HTTP/0.9 errors,
     * known only at its end). Initialise a fresh parser for each request. */
    size_t pos;

    /* internal */
    int state;
    size_t mark;     /* start of the token being scanned */
    size_t ext_mark; /* 1 + offset of the exten candidate, 0 for none */
    unsigned no_path : 1;
} http_parser_t;

void http_parser_init(http_parser_t *p);

/* Parses the request line from p->pos (leading CR/LF are skipped, as nginx does). Returns
 * HTTP_PARSE_OK, HTTP_PARSE_AGAIN, or an HTTP_PARSE_INVALID_* code. */
int http_parse_request_line(http_parser_t *p, const char *buf, size_t len);

/* Parses one header line from p->pos. Returns HTTP_PARSE_OK with header_* set,
 * HTTP_PARSE_HEADERS_DONE at the empty line, HTTP_PARSE_AGAIN or HTTP_PARSE_INVALID_HEADER.
 * allow_underscores is nginx's underscores_in_headers. */
int http_parse_header_line(http_parser_t *p, const char *buf, size_t len,
                           int allow_underscores);

/* The hash header_hash holds: over the lowercased name. Case-insensitive by construction. */
uint32_t http_hash_name(const char *name, size_t len);

/* Headers the core treats specially, found case-insensitively by http_header_id(). */
enum {
    HTTP_HEADER_OTHER = 0,
    HTTP_HEADER_HOST,
    HTTP_HEADER_CONNECTION,
    HTTP_HEADER_CONTENT_LENGTH,
    HTTP_HEADER_TRANSFER_ENCODING,
    HTTP_HEADER_EXPECT,
    HTTP_HEADER_UPGRADE,
    HTTP_HEADER_TE,
    HTTP_HEADER_KEEP_ALIVE,
    HTTP_HEADER_CONTENT_TYPE,
    HTTP_HEADER_USER_AGENT,
    HTTP_HEADER_REFERER,
    HTTP_HEADER_COOKIE,
    HTTP_HEADER_AUTHORIZATION,
    HTTP_HEADER_RANGE,
    HTTP_HEADER_IF_RANGE,
    HTTP_HEADER_IF_MODIFIED_SINCE,
    HTTP_HEADER_IF_UNMODIFIED_SINCE,
    HTTP_HEADER_IF_MATCH,
    HTTP_HEADER_IF_NONE_MATCH,
    HTTP_HEADER_ACCEPT_ENCODING,
    HTTP_HEADER_VIA,
    HTTP_HEADER_X_FORWARDED_FOR,
    HTTP_HEADER_X_REAL_IP
};
int http_header_id(const char *name, size_t len);

/* Status nginx answers for a parse result (400, 505), 0 for non-errors; and the reason
 * nginx logs ("client sent invalid method"), "" for non-errors. */
int http_parse_status(int rc);
const char *http_parse_error_text(int rc);

/*
 * Chunked transfer-coding decoder. Streaming: every call starts at buf[0] (the caller
 * advances by *consumed), the state lives in http_chunked_t, nothing points into old bytes.
 * Returns:
 *   HTTP_PARSE_OK            one piece of chunk data at buf[data->start .. +data->len);
 *                            *consumed covers it, call again with the rest
 *   HTTP_PARSE_AGAIN         every byte consumed (*consumed == len), no data in it
 *   HTTP_PARSE_CHUNKED_DONE  body complete; *consumed ends just past the final LF
 *   HTTP_PARSE_INVALID_CHUNK *consumed is the offset of the offending byte
 * c->size is the part of the current chunk not returned yet: a caller enforcing
 * client_max_body_size compares received + c->size against it after each call, as nginx does.
 */
#define HTTP_CHUNK_SIZE_MAX 0x07ffffffffffffffULL /* nginx: larger chunk sizes are invalid */

typedef struct {
    int state;
    uint64_t size;
} http_chunked_t;

void http_chunked_init(http_chunked_t *c);
int http_parse_chunked(http_chunked_t *c, const char *buf, size_t len, size_t *consumed,
                       http_span_t *data);

/*
 * $uri from a raw request uri (path, optionally followed by ?args or #fragment, where the
 * normaliser stops): percent-decodes, resolves "." and ".." segments (decoded "%2e" and "%2F"
 * count, as in nginx), merges "//" when merge_slashes. out must hold len bytes. Returns
 * HTTP_PARSE_OK or HTTP_PARSE_INVALID_REQUEST (".." above the root, bad or truncated %-escape,
 * decoded NUL, not starting with '/').
 */
int http_normalize_uri(const char *in, size_t len, char *out, size_t *out_len,
                       int merge_slashes);

/* The extension of a (normalised) path: after the last '.' of the last segment, unless that
 * dot starts the segment. len 0 when none. */
http_span_t http_uri_exten(const char *path, size_t len);

/* nginx's Host check, for the Host header and the absolute-form host: lowercases, drops the
 * port and one trailing dot, rejects "..", '/', control characters, space and an empty
 * result. out must hold len bytes. Returns HTTP_PARSE_OK or HTTP_PARSE_INVALID_HOST. */
int http_validate_host(const char *in, size_t len, char *out, size_t *out_len);

#endif
