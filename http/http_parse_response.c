/*
 * Incremental parser for an upstream's HTTP/1.x response head (see http_parse_response.h).
 *
 * The header-line grammar is the request parser's with two upstream-only differences nginx
 * has, which is why it is not shared: a line starting "HTTP/" is skipped (IIS may repeat its
 * status line), and the byte reported for an invalid line is the one nginx quotes in its
 * log. Every state keeps its progress in http_response_t, so a call after HTTP_PARSE_AGAIN
 * resumes at the first unread byte.
 */
#include "http/http_parse_response.h"

#include <stdio.h>
#include <string.h>

#include "core/px_string.h"

#define CR '\r'
#define LF '\n'

enum {
    ST_START = 0,
    ST_H,
    ST_HT,
    ST_HTT,
    ST_HTTP,
    ST_FIRST_MAJOR,
    ST_MAJOR,
    ST_FIRST_MINOR,
    ST_MINOR,
    ST_STATUS,
    ST_SPACE_AFTER_STATUS,
    ST_STATUS_TEXT,
    ST_ALMOST_DONE
};

enum {
    HS_START = 0,
    HS_NAME,
    HS_SPACE_BEFORE_VALUE,
    HS_VALUE,
    HS_SPACE_AFTER_VALUE,
    HS_ALMOST_DONE,
    HS_EMPTY_ALMOST_DONE,
    HS_IGNORE_LINE
};

static void span_set(http_span_t *s, size_t start, size_t end)
{
    s->start = start;
    s->len = end - start;
}

static void reset_head(http_response_t *r)
{
    size_t pos = r->pos;

    memset(r, 0, sizeof(*r));
    r->pos = pos;
    r->content_length = -1;
}

void http_response_init(http_response_t *r)
{
    r->pos = 0;
    reset_head(r);
}

void http_response_next(http_response_t *r)
{
    reset_head(r);
}

static int is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

int http_response_parse_status_line(http_response_t *r, const char *buf, size_t len)
{
    size_t i;

    if (r->state == ST_START)
        r->line_start = r->pos;

    for (i = r->pos; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        switch (r->state) {
        case ST_START:
            if (ch != 'H')
                goto not_http;
            r->state = ST_H;
            break;
        case ST_H:
            if (ch != 'T')
                goto not_http;
            r->state = ST_HT;
            break;
        case ST_HT:
            if (ch != 'T')
                goto not_http;
            r->state = ST_HTT;
            break;
        case ST_HTT:
            if (ch != 'P')
                goto not_http;
            r->state = ST_HTTP;
            break;
        case ST_HTTP:
            if (ch != '/')
                goto not_http;
            r->state = ST_FIRST_MAJOR;
            break;

        case ST_FIRST_MAJOR:
            if (ch < '1' || ch > '9')
                goto not_http;
            r->http_major = ch - '0';
            r->state = ST_MAJOR;
            break;

        case ST_MAJOR:
            if (ch == '.') {
                r->state = ST_FIRST_MINOR;
                break;
            }
            /* nginx allows three digits per version number, no more. */
            if (!is_digit(ch) || r->http_major > 99)
                goto not_http;
            r->http_major = r->http_major * 10 + (ch - '0');
            break;

        case ST_FIRST_MINOR:
            if (!is_digit(ch))
                goto not_http;
            r->http_minor = ch - '0';
            r->state = ST_MINOR;
            break;

        case ST_MINOR:
            if (ch == ' ') {
                r->state = ST_STATUS;
                break;
            }
            if (!is_digit(ch) || r->http_minor > 99)
                goto not_http;
            r->http_minor = r->http_minor * 10 + (ch - '0');
            break;

        case ST_STATUS:
            /* nginx skips spaces anywhere among the digits: "2 00" is 200. */
            if (ch == ' ')
                break;
            if (!is_digit(ch))
                goto not_http;
            r->status = r->status * 10 + (ch - '0');
            if (++r->status_digits == 3) {
                /* nginx starts the relayed status line two bytes back, even when a
                 * space split the digits. */
                r->status_line.start = i - 2;
                r->state = ST_SPACE_AFTER_STATUS;
            }
            break;

        case ST_SPACE_AFTER_STATUS:
            switch (ch) {
            case ' ':
            case '.': /* IIS sends "403.1 Forbidden" */
                r->reason.start = i + 1;
                r->state = ST_STATUS_TEXT;
                break;
            case CR:
                r->reason.start = i;
                r->mark = i;
                r->state = ST_ALMOST_DONE;
                break;
            case LF:
                r->reason.start = i;
                r->mark = i;
                goto done;
            default:
                goto not_http;
            }
            break;

        case ST_STATUS_TEXT:
            if (ch == CR) {
                r->mark = i;
                r->state = ST_ALMOST_DONE;
            } else if (ch == LF) {
                r->mark = i;
                goto done;
            }
            break;

        case ST_ALMOST_DONE:
            if (ch != LF)
                goto not_http;
            goto done;
        }
    }

    r->pos = len;
    return HTTP_PARSE_AGAIN;

done:
    r->status_line.len = r->mark - r->status_line.start;
    r->reason.len = r->mark - r->reason.start;
    if (r->http_major * 1000 + r->http_minor < 1001)
        r->connection_close = 1;
    r->pos = i + 1;
    r->state = HS_START;
    return HTTP_PARSE_OK;

not_http:
    r->pos = r->line_start;
    r->state = ST_START;
    r->http_major = 0;
    r->http_minor = 9;
    r->status = 200;
    r->connection_close = 1;
    return HTTP_PARSE_RESPONSE_09;
}

/* Case-insensitive substring search, as nginx tests Connection values; needle is lowercase
 * (its first byte screens the positions before a full comparison). */
static int contains_token(http_span_t v, const char *buf, const char *needle)
{
    size_t n = strlen(needle);
    const char *p = buf + v.start;

    for (size_t i = 0; i + n <= v.len; i++) {
        if (px_tolower(p[i]) == needle[0] &&
            px_str_caseeq(px_str_make(p + i, n), px_str_make(needle, n)))
            return 1;
    }
    return 0;
}

/* Content-Length as current nginx takes it: digits only, at least one, no overflow. */
static int64_t parse_length(const char *p, size_t len)
{
    int64_t n = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];

        if (!is_digit(ch) || n > (INT64_MAX - (ch - '0')) / 10)
            return -1;
        n = n * 10 + (ch - '0');
    }
    return n;
}

/* Applies a complete header line to what the head says about the body and connection. */
static int apply_header(http_response_t *r, const char *buf)
{
    const char *value = buf + r->header_value.start;

    r->header_id = http_header_id(buf + r->header_name.start, r->header_name.len);

    switch (r->header_id) {
    case HTTP_HEADER_CONTENT_LENGTH:
        if (r->content_length_name.len != 0)
            return HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER;
        if (r->transfer_encoding_name.len != 0)
            return HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED;
        r->content_length = parse_length(value, r->header_value.len);
        if (r->content_length < 0)
            return HTTP_PARSE_UPSTREAM_INVALID_LENGTH;
        r->content_length_name = r->header_name;
        r->content_length_value = r->header_value;
        break;

    case HTTP_HEADER_TRANSFER_ENCODING:
        if (r->transfer_encoding_name.len != 0)
            return HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER;
        if (r->content_length_name.len != 0)
            return HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED;
        if (!px_str_caseeq_lit(px_str_make(value, r->header_value.len), "chunked"))
            return HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING;
        r->transfer_encoding_name = r->header_name;
        r->transfer_encoding_value = r->header_value;
        r->chunked = 1;
        break;

    case HTTP_HEADER_CONNECTION:
        if (contains_token(r->header_value, buf, "close"))
            r->connection_close = 1;
        if (contains_token(r->header_value, buf, "keep-alive"))
            r->connection_keep_alive = 1;
        if (contains_token(r->header_value, buf, "upgrade"))
            r->connection_upgrade = 1;
        break;

    case HTTP_HEADER_UPGRADE:
        r->upgrade = r->header_value;
        break;

    case HTTP_HEADER_KEEP_ALIVE:
        r->keep_alive = r->header_value;
        break;

    default:
        break;
    }
    return HTTP_PARSE_OK;
}

/* A line is complete: value ends at value_end, the next line starts at next. */
static int header_done(http_response_t *r, const char *buf, size_t value_end, size_t next)
{
    r->header_value.len = value_end - r->header_value.start;
    span_set(&r->header_line, r->header_name.start, value_end);
    r->pos = next;
    r->state = HS_START;
    return apply_header(r, buf);
}

/* nginx quotes the line up to the byte it stopped at, then that byte in hex. */
static int invalid_header(http_response_t *r, size_t at)
{
    span_set(&r->header_line, r->line_start, at);
    r->pos = at;
    return HTTP_PARSE_UPSTREAM_INVALID_HEADER;
}

/* A name byte that needs no decision: not the colon, not a control or a space (invalid), not
 * the '/' of a stray "HTTP/" status line. */
static int plain_name_byte(unsigned char ch)
{
    return ch > 0x20 && ch != 0x7f && ch != ':' && ch != '/';
}

/* A value byte that needs no decision: not a space (maybe trailing), CR, LF or NUL. */
static int plain_value_byte(unsigned char ch)
{
    return ch != ' ' && ch != CR && ch != LF && ch != '\0';
}

int http_response_parse_header_line(http_response_t *r, const char *buf, size_t len)
{
    size_t i;

    for (i = r->pos; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        switch (r->state) {
        case HS_START:
            r->line_start = i;
            if (ch == CR) {
                r->mark = i;
                r->state = HS_EMPTY_ALMOST_DONE;
                break;
            }
            if (ch == LF) {
                r->pos = i + 1;
                return HTTP_PARSE_HEADERS_DONE;
            }
            /* Folded lines (leading space/tab) and a missing name are refused here. */
            if (ch <= 0x20 || ch == 0x7f || ch == ':')
                goto invalid;
            /* Spans of an unfinished line stay empty, never reaching past the buffer. */
            span_set(&r->header_name, i, i);
            span_set(&r->header_value, i, i);
            r->state = HS_NAME;
            break;

        case HS_NAME:
            /* the name's ordinary bytes in a tight loop; the tests below see only the rest */
            while (plain_name_byte(ch) && ++i < len)
                ch = (unsigned char)buf[i];
            if (i == len)
                goto more;
            if (ch == ':') {
                r->header_name.len = i - r->header_name.start;
                r->state = HS_SPACE_BEFORE_VALUE;
                break;
            }
            if (ch == CR || ch == LF) {
                /* A line without a colon is a header with an empty value. */
                r->header_name.len = i - r->header_name.start;
                span_set(&r->header_value, i, i);
                if (ch == LF)
                    return header_done(r, buf, i, i + 1);
                r->mark = i;
                r->state = HS_ALMOST_DONE;
                break;
            }
            if (ch == '/' && i - r->header_name.start == 4 &&
                memcmp(buf + r->header_name.start, "HTTP", 4) == 0) {
                r->state = HS_IGNORE_LINE;
                break;
            }
            if (ch <= 0x20 || ch == 0x7f)
                goto invalid;
            break;

        case HS_SPACE_BEFORE_VALUE:
            if (ch == ' ')
                break;
            span_set(&r->header_value, i, i);
            r->state = HS_VALUE;
            /* fall through */
        case HS_VALUE:
            /* likewise the value's: the switch sees only what may end or trim it */
            while (plain_value_byte(ch) && ++i < len)
                ch = (unsigned char)buf[i];
            if (i == len)
                goto more;
            switch (ch) {
            case ' ':
                r->mark = i;
                r->state = HS_SPACE_AFTER_VALUE;
                break;
            case CR:
                r->mark = i;
                r->state = HS_ALMOST_DONE;
                break;
            case LF:
                return header_done(r, buf, i, i + 1);
            case '\0':
                goto invalid;
            }
            break;

        case HS_SPACE_AFTER_VALUE:
            /* r->mark stays on the first trailing space: the value ends there. */
            switch (ch) {
            case ' ':
                break;
            case CR:
                r->state = HS_ALMOST_DONE;
                break;
            case LF:
                return header_done(r, buf, r->mark, i + 1);
            case '\0':
                goto invalid;
            default:
                r->state = HS_VALUE;
            }
            break;

        case HS_ALMOST_DONE:
            /* Extra CRs before the LF are tolerated; anything else is reported at the
             * end of the value (the first CR or trailing space), as nginx does. */
            if (ch == LF)
                return header_done(r, buf, r->mark, i + 1);
            if (ch != CR)
                return invalid_header(r, r->mark);
            break;

        case HS_EMPTY_ALMOST_DONE:
            if (ch != LF)
                return invalid_header(r, r->mark);
            r->pos = i + 1;
            r->state = HS_START;
            return HTTP_PARSE_HEADERS_DONE;

        case HS_IGNORE_LINE:
            if (ch == LF)
                r->state = HS_START;
            break;
        }
    }

more:
    r->pos = len;
    return HTTP_PARSE_AGAIN;

invalid:
    return invalid_header(r, i);
}

int http_response_is_interim(int status)
{
    return status >= 100 && status <= 199 && status != 101;
}

int http_response_body_kind(int status, int method_head, int64_t content_length, int chunked)
{
    if (method_head || (status >= 100 && status <= 199) || status == 204 || status == 304)
        return HTTP_BODY_NONE;
    if (chunked)
        return HTTP_BODY_CHUNKED;
    if (content_length == 0)
        return HTTP_BODY_NONE;
    if (content_length > 0)
        return HTTP_BODY_LENGTH;
    return HTTP_BODY_UNTIL_CLOSE;
}

int http_response_status(int rc)
{
    switch (rc) {
    case HTTP_PARSE_UPSTREAM_INVALID_HEADER:
    case HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER:
    case HTTP_PARSE_UPSTREAM_INVALID_LENGTH:
    case HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED:
    case HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING:
    case HTTP_PARSE_UPSTREAM_TOO_BIG_HEADER:
    case HTTP_PARSE_UPSTREAM_PREMATURE_CLOSE:
        return 502;
    default:
        return 0;
    }
}

const char *http_response_error_text(int rc)
{
    switch (rc) {
    case HTTP_PARSE_RESPONSE_09:
        return "upstream sent no valid HTTP/1.0 header";
    case HTTP_PARSE_UPSTREAM_INVALID_HEADER:
        return "upstream sent invalid header";
    case HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER:
        return "upstream sent duplicate header line";
    case HTTP_PARSE_UPSTREAM_INVALID_LENGTH:
        return "upstream sent invalid \"Content-Length\" header";
    case HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED:
        return "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers at the "
               "same time";
    case HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING:
        return "upstream sent unknown \"Transfer-Encoding\"";
    case HTTP_PARSE_UPSTREAM_TOO_BIG_HEADER:
        return "upstream sent too big header";
    case HTTP_PARSE_UPSTREAM_PREMATURE_CLOSE:
        return "upstream prematurely closed connection";
    default:
        return "";
    }
}

size_t http_response_format_error(const http_response_t *r, int rc, const char *buf, char *out,
                                  size_t size)
{
    const char *text = http_response_error_text(rc);
    http_span_t name = r->header_name, value = r->header_value;
    http_span_t prev_name = r->transfer_encoding_name, prev_value = r->transfer_encoding_value;
    int n;

    if (r->header_id == HTTP_HEADER_CONTENT_LENGTH) {
        prev_name = r->content_length_name;
        prev_value = r->content_length_value;
    }

    /* Header lines are quoted as nginx rebuilds them, "name: value", not as sent. */
    switch (rc) {
    case HTTP_PARSE_UPSTREAM_INVALID_HEADER:
        n = snprintf(out, size, "%s: \"%.*s\\x%02x...\"", text, (int)r->header_line.len,
                     buf + r->header_line.start, (unsigned char)buf[r->pos]);
        break;
    case HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER:
        n = snprintf(out, size, "%s: \"%.*s: %.*s\", previous value: \"%.*s: %.*s\"", text,
                     (int)name.len, buf + name.start, (int)value.len, buf + value.start,
                     (int)prev_name.len, buf + prev_name.start, (int)prev_value.len,
                     buf + prev_value.start);
        break;
    case HTTP_PARSE_UPSTREAM_INVALID_LENGTH:
        n = snprintf(out, size, "%s: \"%.*s: %.*s\"", text, (int)name.len, buf + name.start,
                     (int)value.len, buf + value.start);
        break;
    case HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING:
        n = snprintf(out, size, "%s: \"%.*s\"", text, (int)value.len, buf + value.start);
        break;
    default:
        n = snprintf(out, size, "%s", text);
    }
    return n < 0 ? 0 : (size_t)n;
}
