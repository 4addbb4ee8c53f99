/*
 * HTTP/1.x response-head parser for proxy_pass: the status line and header lines an upstream
 * sends, and what they mean for the body that follows.
 *
 * Same contract as the request parser in http_parse.h: pure, no I/O, no allocation, results
 * are offsets into the caller's buffer, and on HTTP_PARSE_AGAIN the caller calls again with
 * the same buffer start and a larger length. Nothing here reads past len.
 *
 * The grammar follows what the nginx 1.22 binary accepts from an upstream (checked against
 * it, see t/unit/test_http_parse_response.c). The Content-Length / Transfer-Encoding rules
 * follow current nginx (1.23+), which answers 502 where 1.22 guessed; the differences are
 * listed next to the codes below.
 */
#ifndef HTTP_PARSE_RESPONSE_H
#define HTTP_PARSE_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "http/http_parse.h"

/*
 * Results besides HTTP_PARSE_OK, HTTP_PARSE_AGAIN and HTTP_PARSE_HEADERS_DONE. Each error
 * makes nginx answer 502 and, with proxy_next_upstream invalid_header, try the next peer.
 */
enum {
    /* Not an error: the bytes do not start with "HTTP/d.d ddd". nginx logs "upstream sent
     * no valid HTTP/1.0 header" at [error] and relays every byte, from r->pos on, as the body
     * of a 200 without response headers (HTTP/0.9 style), read until the upstream closes. */
    HTTP_PARSE_RESPONSE_09 = 30,
    /* "upstream sent invalid header: \"<line up to the bad byte>\\xNN...\"" */
    HTTP_PARSE_UPSTREAM_INVALID_HEADER,
    /* A second Content-Length or Transfer-Encoding: "upstream sent duplicate header line:
     * \"<name>: <value>\", previous value: \"<name>: <value>\"". nginx 1.22 kept the last
     * Content-Length and any Transfer-Encoding. */
    HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER,
    /* Not all digits, empty, or above INT64_MAX: "upstream sent invalid \"Content-Length\"
     * header: \"<name>: <value>\"". nginx 1.22 read such a body until close. */
    HTTP_PARSE_UPSTREAM_INVALID_LENGTH,
    /* Both headers, in either order: "upstream sent \"Content-Length\" and
     * \"Transfer-Encoding\" headers at the same time". nginx 1.22 ignored Content-Length. */
    HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED,
    /* Transfer-Encoding other than exactly "chunked" (any case): "upstream sent unknown
     * \"Transfer-Encoding\": \"<value>\"". nginx 1.22 looked for "chunked" as a substring
     * and read anything else until close. */
    HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING,
    /* Never returned by the parser; the caller's checks, named here so that every upstream
     * head error has its text in one place: the head did not fit in proxy_buffer_size (the
     * parser said AGAIN with the buffer full), and the upstream closed before the head
     * ended (AGAIN, then EOF; this includes a close before any byte, and a partial
     * "HTTP/1." prefix). */
    HTTP_PARSE_UPSTREAM_TOO_BIG_HEADER,
    HTTP_PARSE_UPSTREAM_PREMATURE_CLOSE
};

typedef struct {
    /* Status line, set when http_response_parse_status_line() returns HTTP_PARSE_OK. */
    int http_major, http_minor; /* 1..999 and 0..999; 1.0 means the upstream closes */
    int status;                 /* any three digits, 000..999: nginx relays them all */
    http_span_t status_line;    /* from the code to the line end ("200 OK", "204", "200 ");
                                   what nginx sends the client after "HTTP/1.1 " */
    http_span_t reason;         /* after the code and one ' ' or '.' ("403.1": "1 ..."),
                                   possibly empty */

    /* The header line returned by the last HTTP_PARSE_OK (unchanged by HEADERS_DONE); after
     * HTTP_PARSE_UPSTREAM_INVALID_HEADER, header_line is the part of the bad line before
     * r->pos, which nginx quotes. Names are not checked beyond
     * nginx's rules: '_', '@' or 8-bit bytes are kept, since ignore_invalid_headers applies
     * to clients only. */
    http_span_t header_line; /* name through trimmed value */
    http_span_t header_name;
    http_span_t header_value; /* without leading and trailing spaces (tabs are kept) */
    int header_id;            /* http_header_id() of the name */

    /* What the headers said so far; final at HTTP_PARSE_HEADERS_DONE. */
    int64_t content_length; /* -1 when absent */
    /* The accepted Content-Length and Transfer-Encoding lines, for the duplicate message;
     * name.len is 0 while absent. */
    http_span_t content_length_name, content_length_value;
    http_span_t transfer_encoding_name, transfer_encoding_value;
    http_span_t upgrade;    /* value of Upgrade, len 0 when absent */
    http_span_t keep_alive; /* value of Keep-Alive ("timeout=5"), len 0 when absent */
    unsigned chunked : 1;
    /* "close" anywhere in a Connection value, any case, as nginx tests it; also set for an
     * HTTP/1.0 (or 0.9) response whatever its headers say. */
    unsigned connection_close : 1;
    unsigned connection_keep_alive : 1; /* "keep-alive" anywhere in a Connection value */
    unsigned connection_upgrade : 1;    /* "upgrade" anywhere in a Connection value */

    /* Where parsing stopped: after OK/HEADERS_DONE just past the line's LF; after
     * HTTP_PARSE_RESPONSE_09 the start of the status line, where the body starts; after
     * HTTP_PARSE_UPSTREAM_INVALID_HEADER the byte nginx's message shows as \xNN; after the other
     * errors, just past the offending line. */
    size_t pos;

    /* internal */
    int state;
    int status_digits;
    size_t line_start;
    size_t mark;
} http_response_t;

/* Start a fresh response at offset 0. */
void http_response_init(http_response_t *r);

/* Forget a finished head but keep r->pos: for the response that follows an interim (1xx)
 * one on the same connection. */
void http_response_next(http_response_t *r);

/* Parses the status line from r->pos. Returns HTTP_PARSE_OK, HTTP_PARSE_AGAIN, or
 * HTTP_PARSE_RESPONSE_09 as soon as a byte rules the status line out; leading CR/LF are not
 * skipped (nginx takes "\r\nHTTP/1.1 200" as HTTP/0.9). */
int http_response_parse_status_line(http_response_t *r, const char *buf, size_t len);

/* Parses one header line from r->pos and applies it to the fields above. Returns
 * HTTP_PARSE_OK, HTTP_PARSE_HEADERS_DONE, HTTP_PARSE_AGAIN, or an HTTP_PARSE_UPSTREAM_*
 * error. A line starting "HTTP/" (IIS repeats its status line) is skipped, never returned. */
int http_response_parse_header_line(http_response_t *r, const char *buf, size_t len);

/* 100..199 except 101: an interim response whose head the proxy skips before the real one
 * (101 ends the HTTP exchange instead; the connection becomes a tunnel). nginx 1.22 did not
 * skip them: it relayed "100 Continue" as the final response and the rest as its body. */
int http_response_is_interim(int status);

enum {
    HTTP_BODY_NONE = 0,   /* nothing follows the head: the connection may be reused */
    HTTP_BODY_LENGTH,     /* content_length bytes (> 0) */
    HTTP_BODY_CHUNKED,    /* decode with http_parse_chunked() */
    HTTP_BODY_UNTIL_CLOSE /* everything until the upstream closes; never reusable */
};

/* How the body after a response head is delimited, as nginx decides it: none for a HEAD
 * request, 1xx, 204 and 304 (whatever the headers say), and for Content-Length: 0; then
 * chunked; then Content-Length; else until close. content_length is -1 when absent. A 101
 * gives none: what follows is the tunnelled protocol, not a body. */
int http_response_body_kind(int status, int method_head, int64_t content_length, int chunked);

/* Status nginx answers for a parse result (502 for every upstream error), 0 otherwise; and
 * the short reason ("upstream sent invalid header"), "" for non-errors. */
int http_response_status(int rc);
const char *http_response_error_text(int rc);

/* nginx's full error-log message for rc, with the quoted header lines, written to out
 * (always NUL-terminated when size > 0, truncated to fit). buf is the buffer r parsed.
 * Returns the length the whole message needs, like snprintf. */
size_t http_response_format_error(const http_response_t *r, int rc, const char *buf, char *out,
                                  size_t size);

#endif
