/*
 * Incremental HTTP/1.x request-line and header-line parsers (see http_parse.h).
 *
 * Each parser is a byte-at-a-time state machine that keeps its state and position in
 * http_parser_t, so a call after HTTP_PARSE_AGAIN resumes at the first unread byte; every
 * result is an offset into the caller's buffer. What is accepted and rejected mirrors what
 * the nginx 1.22 binary answers (checked against it; see t/unit/test_http_parse.c).
 */
#include "http/http_parse.h"

#include <string.h>

#include "core/px_string.h"

#define CR '\r'
#define LF '\n'

enum {
    RL_START = 0,
    RL_METHOD,
    RL_SPACES_BEFORE_URI,
    RL_SCHEMA,
    RL_SCHEMA_SLASH,
    RL_SCHEMA_SLASH_SLASH,
    RL_HOST_START,
    RL_HOST,
    RL_HOST_IP_LITERAL,
    RL_HOST_END,
    RL_PORT,
    RL_AFTER_SLASH,
    RL_PATH,
    RL_ARGS,
    RL_FRAGMENT,
    RL_HTTP_09,
    RL_H,
    RL_HT,
    RL_HTT,
    RL_HTTP,
    RL_FIRST_MAJOR,
    RL_MAJOR,
    RL_FIRST_MINOR,
    RL_MINOR,
    RL_SPACES_AFTER_VERSION,
    RL_ALMOST_DONE_09,
    RL_ALMOST_DONE
};

enum {
    HL_START = 0,
    HL_NAME,
    HL_SPACE_BEFORE_VALUE,
    HL_VALUE,
    HL_SPACE_AFTER_VALUE,
    HL_ALMOST_DONE,
    HL_EMPTY_ALMOST_DONE
};

static const struct {
    const char *name;
    int id;
} methods[] = {
    {"GET", HTTP_METHOD_GET},         {"HEAD", HTTP_METHOD_HEAD},
    {"POST", HTTP_METHOD_POST},       {"PUT", HTTP_METHOD_PUT},
    {"DELETE", HTTP_METHOD_DELETE},   {"MKCOL", HTTP_METHOD_MKCOL},
    {"COPY", HTTP_METHOD_COPY},       {"MOVE", HTTP_METHOD_MOVE},
    {"OPTIONS", HTTP_METHOD_OPTIONS}, {"PROPFIND", HTTP_METHOD_PROPFIND},
    {"PROPPATCH", HTTP_METHOD_PROPPATCH}, {"LOCK", HTTP_METHOD_LOCK},
    {"UNLOCK", HTTP_METHOD_UNLOCK},   {"PATCH", HTTP_METHOD_PATCH},
    {"TRACE", HTTP_METHOD_TRACE},     {"CONNECT", HTTP_METHOD_CONNECT},
};

static const struct {
    const char *name;
    size_t len;
    int id;
} known_headers[] = {
    /* names of at most KNOWN_MAX_LEN (31) bytes */
    {"Host", 4, HTTP_HEADER_HOST},
    {"Connection", 10, HTTP_HEADER_CONNECTION},
    {"Content-Length", 14, HTTP_HEADER_CONTENT_LENGTH},
    {"Transfer-Encoding", 17, HTTP_HEADER_TRANSFER_ENCODING},
    {"Expect", 6, HTTP_HEADER_EXPECT},
    {"Upgrade", 7, HTTP_HEADER_UPGRADE},
    {"TE", 2, HTTP_HEADER_TE},
    {"Keep-Alive", 10, HTTP_HEADER_KEEP_ALIVE},
    {"Content-Type", 12, HTTP_HEADER_CONTENT_TYPE},
    {"User-Agent", 10, HTTP_HEADER_USER_AGENT},
    {"Referer", 7, HTTP_HEADER_REFERER},
    {"Cookie", 6, HTTP_HEADER_COOKIE},
    {"Authorization", 13, HTTP_HEADER_AUTHORIZATION},
    {"Range", 5, HTTP_HEADER_RANGE},
    {"If-Range", 8, HTTP_HEADER_IF_RANGE},
    {"If-Modified-Since", 17, HTTP_HEADER_IF_MODIFIED_SINCE},
    {"If-Unmodified-Since", 19, HTTP_HEADER_IF_UNMODIFIED_SINCE},
    {"If-Match", 8, HTTP_HEADER_IF_MATCH},
    {"If-None-Match", 13, HTTP_HEADER_IF_NONE_MATCH},
    {"Accept-Encoding", 15, HTTP_HEADER_ACCEPT_ENCODING},
    {"Via", 3, HTTP_HEADER_VIA},
    {"X-Forwarded-For", 15, HTTP_HEADER_X_FORWARDED_FOR},
    {"X-Real-IP", 9, HTTP_HEADER_X_REAL_IP},
};

void http_parser_init(http_parser_t *p)
{
    memset(p, 0, sizeof(*p));
}

static int is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alpha(unsigned char ch)
{
    unsigned char c = (unsigned char)(ch | 0x20);
    return c >= 'a' && c <= 'z';
}

/* Bytes nginx refuses anywhere in a request-target. */
static int is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* Characters nginx accepts inside an IP-literal host ("[...]"): RFC 3986 unreserved and
 * sub-delims plus ':'. */
static int is_ip_literal_char(unsigned char ch)
{
    if (is_alpha(ch) || is_digit(ch))
        return 1;
    return ch != '\0' && strchr(":-._~!$&'()*+,;=", ch) != NULL;
}

static void set_span(http_span_t *s, size_t start, size_t end)
{
    s->start = start;
    s->len = end - start;
}

static int method_id(const char *m, size_t len)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0)
            return methods[i].id;
    }
    return HTTP_METHOD_UNKNOWN;
}

/* ch (space, CR or LF) ended the request-target at offset i: closes the spans still open
 * and returns 1 when a bare LF has also ended an HTTP/0.9 line. */
static int end_target(http_parser_t *p, unsigned char ch, size_t i)
{
    p->target.len = i - p->target.start;
    p->uri.len = i - p->uri.start;
    if (p->state == RL_AFTER_SLASH || p->state == RL_PATH) {
        p->path.len = i - p->path.start;
        if (p->ext_mark != 0)
            set_span(&p->exten, p->ext_mark - 1, i);
    }
    if (p->state == RL_ARGS)
        p->args.len = i - p->args.start;
    p->mark = i;
    p->state = ch == ' ' ? RL_HTTP_09 : RL_ALMOST_DONE_09;
    return ch == LF;
}

static int finish_09(http_parser_t *p, size_t i)
{
    if (p->no_path)
        return HTTP_PARSE_INVALID_REQUEST;
    p->http_major = 0;
    p->http_minor = 9;
    p->request_line.len = i - p->request_line.start;
    p->protocol.start = i;
    p->protocol.len = 0;
    if (p->method_id != HTTP_METHOD_GET)
        return HTTP_PARSE_INVALID_09_METHOD;
    return HTTP_PARSE_OK;
}

static int finish_line(http_parser_t *p, size_t i)
{
    p->request_line.len = i - p->request_line.start;
    p->protocol.len = i - p->protocol.start;
    return HTTP_PARSE_OK;
}

/* "http://host" or "http://host:port" ended without a path. */
static void no_path_uri(http_parser_t *p)
{
    /* nginx's $uri and $request_uri become "/": the first slash of "://". */
    set_span(&p->uri, p->schema.start + p->schema.len + 1,
             p->schema.start + p->schema.len + 2);
    p->path = p->uri;
}

/* Leaves the host (or port) at offset i on ch; returns a parse code or -1 to continue. */
static int after_host(http_parser_t *p, unsigned char ch, size_t i)
{
    switch (ch) {
    case ':':
        p->state = RL_PORT;
        p->port.start = i + 1;
        return -1;
    case '/':
        p->uri.start = i;
        p->path.start = i;
        p->state = RL_AFTER_SLASH;
        return -1;
    case '?':
        p->uri.start = i;
        set_span(&p->path, i, i);
        p->args.start = i + 1;
        p->has_args = 1;
        p->empty_path_in_uri = 1;
        p->state = RL_ARGS;
        return -1;
    case ' ':
        p->target.len = i - p->target.start;
        no_path_uri(p);
        p->no_path = 1; /* HTTP/0.9 needs a path: nginx refuses "GET http://host" */
        p->state = RL_HTTP_09;
        return -1;
    default:
        return HTTP_PARSE_INVALID_REQUEST;
    }
}

int http_parse_request_line(http_parser_t *p, const char *buf, size_t len)
{
    size_t i;
    int rc;

    for (i = p->pos; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        switch (p->state) {
        case RL_START:
            if (ch == CR || ch == LF)
                break;
            if ((ch < 'A' || ch > 'Z') && ch != '_' && ch != '-')
                goto invalid_method;
            p->request_line.start = i;
            p->method.start = i;
            p->state = RL_METHOD;
            break;

        case RL_METHOD:
            if (ch == ' ') {
                p->method.len = i - p->method.start;
                p->method_id = method_id(buf + p->method.start, p->method.len);
                p->state = RL_SPACES_BEFORE_URI;
                break;
            }
            if ((ch < 'A' || ch > 'Z') && ch != '_' && ch != '-')
                goto invalid_method;
            break;

        case RL_SPACES_BEFORE_URI:
            if (ch == ' ')
                break;
            p->target.start = i;
            if (ch == '/') {
                p->uri.start = i;
                p->path.start = i;
                p->state = RL_AFTER_SLASH;
                break;
            }
            if (!is_alpha(ch))
                goto invalid;
            p->schema.start = i;
            p->state = RL_SCHEMA;
            break;

        case RL_SCHEMA:
            if (is_alpha(ch) || is_digit(ch) || ch == '+' || ch == '-' || ch == '.')
                break;
            if (ch != ':')
                goto invalid;
            p->schema.len = i - p->schema.start;
            p->state = RL_SCHEMA_SLASH;
            break;

        case RL_SCHEMA_SLASH:
            if (ch != '/')
                goto invalid;
            p->state = RL_SCHEMA_SLASH_SLASH;
            break;

        case RL_SCHEMA_SLASH_SLASH:
            if (ch != '/')
                goto invalid;
            p->state = RL_HOST_START;
            break;

        case RL_HOST_START:
            p->host.start = i;
            if (ch == '[') {
                p->state = RL_HOST_IP_LITERAL;
                break;
            }
            p->state = RL_HOST;
            /* fall through */
        case RL_HOST:
            if (is_alpha(ch) || is_digit(ch) || ch == '.' || ch == '-')
                break;
            p->host.len = i - p->host.start;
            if ((rc = after_host(p, ch, i)) >= 0)
                goto fail;
            break;

        case RL_HOST_IP_LITERAL:
            if (ch == ']') {
                p->host.len = i + 1 - p->host.start;
                p->state = RL_HOST_END;
                break;
            }
            if (!is_ip_literal_char(ch))
                goto invalid;
            break;

        case RL_HOST_END:
            if ((rc = after_host(p, ch, i)) >= 0)
                goto fail;
            break;

        case RL_PORT:
            if (is_digit(ch))
                break;
            p->port.len = i - p->port.start;
            if (ch == ':' || (rc = after_host(p, ch, i)) >= 0)
                goto invalid;
            break;

        case RL_AFTER_SLASH:
            /* A segment starting with '.' may be "." or "..", and "//" may be merged. */
            if (ch == '.' || ch == '/') {
                p->complex_uri = 1;
                p->ext_mark = 0;
                if (ch == '.')
                    p->state = RL_PATH;
                break;
            }
            p->state = RL_PATH;
            /* fall through */
        case RL_PATH:
            switch (ch) {
            case '/':
                p->ext_mark = 0;
                p->state = RL_AFTER_SLASH;
                break;
            case '.':
                p->ext_mark = i + 2;
                break;
            case '%':
                p->quoted_uri = 1;
                break;
            case '+':
                p->plus_in_uri = 1;
                break;
            case '?':
                p->path.len = i - p->path.start;
                if (p->ext_mark != 0)
                    set_span(&p->exten, p->ext_mark - 1, i);
                p->args.start = i + 1;
                p->has_args = 1;
                p->state = RL_ARGS;
                break;
            case '#':
                p->path.len = i - p->path.start;
                if (p->ext_mark != 0)
                    set_span(&p->exten, p->ext_mark - 1, i);
                p->state = RL_FRAGMENT;
                break;
            case ' ':
            case CR:
            case LF:
                if (end_target(p, ch, i))
                    goto done_09;
                break;
            default:
                if (is_ctl(ch))
                    goto invalid;
            }
            break;

        case RL_ARGS:
            if (ch == '#') {
                p->args.len = i - p->args.start;
                p->state = RL_FRAGMENT;
                break;
            }
            /* fall through */
        case RL_FRAGMENT:
            if (ch == ' ' || ch == CR || ch == LF) {
                if (end_target(p, ch, i))
                    goto done_09;
                break;
            }
            if (is_ctl(ch))
                goto invalid;
            break;

        case RL_HTTP_09:
            switch (ch) {
            case ' ':
                break;
            case CR:
                p->state = RL_ALMOST_DONE_09;
                p->mark = i;
                break;
            case LF:
                p->mark = i;
                goto done_09;
            case 'H':
                p->protocol.start = i;
                p->state = RL_H;
                break;
            default:
                goto invalid;
            }
            break;

        case RL_H:
        case RL_HT:
        case RL_HTT:
        case RL_HTTP:
            if (ch != "TTP/"[p->state - RL_H])
                goto invalid;
            p->state = p->state == RL_HTTP ? RL_FIRST_MAJOR : p->state + 1;
            break;

        case RL_FIRST_MAJOR:
            if (ch < '1' || ch > '9')
                goto invalid;
            p->http_major = ch - '0';
            if (p->http_major > 1)
                goto invalid_version;
            p->state = RL_MAJOR;
            break;

        case RL_MAJOR:
            if (ch == '.') {
                p->state = RL_FIRST_MINOR;
                break;
            }
            if (!is_digit(ch))
                goto invalid;
            /* Any second digit makes the major version at least 10. */
            p->http_major = p->http_major * 10 + (ch - '0');
            goto invalid_version;

        case RL_FIRST_MINOR:
            if (!is_digit(ch))
                goto invalid;
            p->http_minor = ch - '0';
            p->state = RL_MINOR;
            break;

        case RL_MINOR:
            if (is_digit(ch)) {
                p->http_minor = p->http_minor * 10 + (ch - '0');
                if (p->http_minor > 999)
                    goto invalid;
                break;
            }
            /* fall through */
        case RL_SPACES_AFTER_VERSION:
            switch (ch) {
            case ' ':
                p->state = RL_SPACES_AFTER_VERSION;
                break;
            case CR:
                p->mark = i;
                p->state = RL_ALMOST_DONE;
                break;
            case LF:
                p->pos = i + 1;
                p->state = RL_START;
                return finish_line(p, i);
            default:
                goto invalid;
            }
            break;

        case RL_ALMOST_DONE_09:
            if (ch != LF)
                goto invalid;
            goto done_09;

        case RL_ALMOST_DONE:
            if (ch != LF)
                goto invalid;
            p->pos = i + 1;
            p->state = RL_START;
            return finish_line(p, p->mark);
        }
    }

    p->pos = len;
    return HTTP_PARSE_AGAIN;

done_09:
    /* i is the LF, p->mark the start of the line terminator. */
    p->pos = i + 1;
    p->state = RL_START;
    return finish_09(p, p->mark);

invalid_method:
    rc = HTTP_PARSE_INVALID_METHOD;
    goto fail;
invalid_version:
    rc = HTTP_PARSE_INVALID_VERSION;
    goto fail;
invalid:
    rc = HTTP_PARSE_INVALID_REQUEST;
fail:
    p->pos = i;
    return rc;
}

/* Header-name bytes nginx hashes; anything else marks the name invalid or is an error. */
static unsigned char name_char(unsigned char ch)
{
    if (is_digit(ch) || ch == '-')
        return ch;
    if (is_alpha(ch))
        return (unsigned char)(ch | 0x20);
    return 0;
}

static uint32_t hash_step(uint32_t hash, unsigned char c)
{
    return hash * 31 + c;
}

uint32_t http_hash_name(const char *name, size_t len)
{
    uint32_t hash = 0;
    for (size_t i = 0; i < len; i++)
        hash = hash_step(hash, (unsigned char)px_tolower(name[i]));
    return hash;
}

static void name_byte(http_parser_t *p, unsigned char ch, int allow_underscores)
{
    unsigned char c = name_char(ch);

    if (c == 0 && ch == '_' && allow_underscores)
        c = '_';
    if (c != 0)
        p->header_hash = hash_step(p->header_hash, c);
    else
        p->header_invalid_name = 1;
}

static int header_done(http_parser_t *p, size_t value_end, size_t next)
{
    p->header_value.len = value_end - p->header_value.start;
    set_span(&p->header_line, p->header_name.start, value_end);
    p->pos = next;
    p->state = HL_START;
    return HTTP_PARSE_OK;
}

int http_parse_header_line(http_parser_t *p, const char *buf, size_t len,
                           int allow_underscores)
{
    size_t i;

    for (i = p->pos; i < len; i++) {
        unsigned char ch = (unsigned char)buf[i];

        switch (p->state) {
        case HL_START:
            if (ch == CR) {
                p->state = HL_EMPTY_ALMOST_DONE;
                break;
            }
            if (ch == LF) {
                p->pos = i + 1;
                return HTTP_PARSE_HEADERS_DONE;
            }
            /* Folded lines (leading space/tab) and a missing name are refused here. */
            if (ch <= 0x20 || ch == 0x7f || ch == ':')
                goto invalid;
            p->header_name.start = i;
            p->header_hash = 0;
            p->header_invalid_name = 0;
            name_byte(p, ch, allow_underscores);
            p->state = HL_NAME;
            break;

        case HL_NAME:
            if (ch == ':') {
                p->header_name.len = i - p->header_name.start;
                p->state = HL_SPACE_BEFORE_VALUE;
                break;
            }
            if (ch == CR || ch == LF) {
                /* nginx takes a line without colon as a header with an empty value. */
                p->header_name.len = i - p->header_name.start;
                set_span(&p->header_value, i, i);
                if (ch == LF)
                    return header_done(p, i, i + 1);
                p->mark = i;
                p->state = HL_ALMOST_DONE;
                break;
            }
            if (ch <= 0x20 || ch == 0x7f)
                goto invalid;
            name_byte(p, ch, allow_underscores);
            break;

        case HL_SPACE_BEFORE_VALUE:
            if (ch == ' ')
                break;
            p->header_value.start = i;
            p->mark = i;
            /* fall through */
        case HL_VALUE:
            switch (ch) {
            case ' ':
                p->mark = i;
                p->state = HL_SPACE_AFTER_VALUE;
                break;
            case CR:
                p->mark = i;
                p->state = HL_ALMOST_DONE;
                break;
            case LF:
                return header_done(p, i, i + 1);
            case '\0':
                goto invalid;
            default:
                p->state = HL_VALUE;
            }
            break;

        case HL_SPACE_AFTER_VALUE:
            /* p->mark stays on the first trailing space: the value ends there. */
            switch (ch) {
            case ' ':
                break;
            case CR:
                p->state = HL_ALMOST_DONE;
                break;
            case LF:
                return header_done(p, p->mark, i + 1);
            case '\0':
                goto invalid;
            default:
                p->state = HL_VALUE;
            }
            break;

        case HL_ALMOST_DONE:
            /* nginx tolerates extra CRs before the LF of a header line. */
            if (ch == LF)
                return header_done(p, p->mark, i + 1);
            if (ch != CR)
                goto invalid;
            break;

        case HL_EMPTY_ALMOST_DONE:
            if (ch != LF)
                goto invalid;
            p->pos = i + 1;
            p->state = HL_START;
            return HTTP_PARSE_HEADERS_DONE;
        }
    }

    p->pos = len;
    return HTTP_PARSE_AGAIN;

invalid:
    p->pos = i;
    return HTTP_PARSE_INVALID_HEADER;
}

/* known_headers chained by name length, built on first use: a lookup compares the name with
 * the one to three known names of its length instead of scanning the whole table (it runs
 * for every header of every request and of every upstream response). */
#define KNOWN_HEADERS (sizeof(known_headers) / sizeof(known_headers[0]))
#define KNOWN_MAX_LEN 31
static signed char known_by_len[KNOWN_MAX_LEN + 1]; /* first index with that length, -1 none */
static signed char known_next[KNOWN_HEADERS];       /* next index with the same length */
static unsigned char lower[256];                    /* ASCII lowercase of every byte */
static int known_indexed;

static void index_known_headers(void)
{
    for (int c = 0; c < 256; c++)
        lower[c] = (unsigned char)px_tolower((char)c);
    memset(known_by_len, -1, sizeof(known_by_len));
    for (int i = (int)KNOWN_HEADERS - 1; i >= 0; i--) {
        known_next[i] = known_by_len[known_headers[i].len];
        known_by_len[known_headers[i].len] = (signed char)i;
    }
    known_indexed = 1;
}

int http_header_id(const char *name, size_t len)
{
    if (len > KNOWN_MAX_LEN)
        return HTTP_HEADER_OTHER;
    if (!known_indexed)
        index_known_headers();
    for (int i = known_by_len[len]; i >= 0; i = known_next[i]) {
        const unsigned char *a = (const unsigned char *)name;
        const unsigned char *b = (const unsigned char *)known_headers[i].name;
        size_t k = 0;
        while (k < len && (a[k] == b[k] || lower[a[k]] == lower[b[k]]))
            k++;
        if (k == len)
            return known_headers[i].id;
    }
    return HTTP_HEADER_OTHER;
}

int http_parse_status(int rc)
{
    switch (rc) {
    case HTTP_PARSE_INVALID_VERSION:
        return 505;
    case HTTP_PARSE_INVALID_METHOD:
    case HTTP_PARSE_INVALID_REQUEST:
    case HTTP_PARSE_INVALID_09_METHOD:
    case HTTP_PARSE_INVALID_HEADER:
    case HTTP_PARSE_INVALID_CHUNK:
    case HTTP_PARSE_INVALID_HOST:
        return 400;
    default:
        return 0;
    }
}

const char *http_parse_error_text(int rc)
{
    switch (rc) {
    case HTTP_PARSE_INVALID_METHOD:
        return "client sent invalid method";
    case HTTP_PARSE_INVALID_REQUEST:
        return "client sent invalid request";
    case HTTP_PARSE_INVALID_VERSION:
        return "client sent invalid version";
    case HTTP_PARSE_INVALID_09_METHOD:
        return "client sent invalid method in HTTP/0.9 request";
    case HTTP_PARSE_INVALID_HEADER:
        return "client sent invalid header line";
    case HTTP_PARSE_INVALID_CHUNK:
        return "client sent invalid chunked body";
    case HTTP_PARSE_INVALID_HOST:
        return "client sent invalid host header";
    default:
        return "";
    }
}
