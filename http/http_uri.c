/*
 * From a raw request path to nginx's $uri, and from a Host value to $host (see http_parse.h).
 *
 * The normaliser decodes first and then interprets: a decoded "%2F" is a slash and a decoded
 * "%2e" a dot for segment resolution and slash merging, exactly as nginx treats them, while
 * decoded '?', '#' and '%' are plain characters. Only raw '?' and '#' end the path.
 */
#include "http/http_parse.h"

#include "core/px_string.h"

static int hex_value(unsigned char ch)
{
    unsigned char c = (unsigned char)(ch | 0x20);

    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

typedef struct {
    char *out;
    size_t len;
    size_t segment; /* offset in out where the current segment starts (just past a '/') */
} path_builder_t;

static int segment_is(const path_builder_t *b, const char *dots, size_t n)
{
    return b->len - b->segment == n && memcmp(b->out + b->segment, dots, n) == 0;
}

/* The current segment is "." or "..": drop it (and for ".." the segment before it), leaving
 * the output ending in '/'. Returns -1 when ".." would climb above the root. */
static int resolve_dots(path_builder_t *b)
{
    if (segment_is(b, ".", 1)) {
        b->len = b->segment;
        return 0;
    }
    if (!segment_is(b, "..", 2))
        return 0;

    b->len = b->segment; /* out now ends with the '/' before ".." */
    if (b->len == 1)
        return -1;
    /* Drop the previous segment, which may be empty when slashes are not merged. */
    b->len--;
    while (b->out[b->len - 1] != '/')
        b->len--;
    b->segment = b->len;
    return 0;
}

static int add_char(path_builder_t *b, char c, int merge_slashes)
{
    if (c != '/') {
        b->out[b->len++] = c;
        return 0;
    }
    if (segment_is(b, ".", 1) || segment_is(b, "..", 2))
        return resolve_dots(b);
    if (merge_slashes && b->len > 0 && b->out[b->len - 1] == '/')
        return 0;
    b->out[b->len++] = '/';
    b->segment = b->len;
    return 0;
}

int http_normalize_uri(const char *in, size_t len, char *out, size_t *out_len,
                       int merge_slashes)
{
    path_builder_t b = {out, 0, 0};
    size_t i;

    if (len == 0 || in[0] != '/')
        return HTTP_PARSE_INVALID_REQUEST;

    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];

        if (ch == '?' || ch == '#')
            break;
        if (ch == '%') {
            int hi, lo;

            if (len - i < 3)
                return HTTP_PARSE_INVALID_REQUEST;
            hi = hex_value((unsigned char)in[i + 1]);
            lo = hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return HTTP_PARSE_INVALID_REQUEST;
            ch = (unsigned char)(hi * 16 + lo);
            if (ch == '\0')
                return HTTP_PARSE_INVALID_REQUEST;
            i += 2;
        }
        if (add_char(&b, (char)ch, merge_slashes) != 0)
            return HTTP_PARSE_INVALID_REQUEST;
    }

    if (resolve_dots(&b) != 0)
        return HTTP_PARSE_INVALID_REQUEST;
    *out_len = b.len;
    return HTTP_PARSE_OK;
}

http_span_t http_uri_exten(const char *path, size_t len)
{
    http_span_t ext = {len, 0};
    size_t i = len;

    while (i > 0 && path[i - 1] != '/') {
        i--;
        if (path[i] == '.') {
            /* A dot that starts the segment (".htaccess") marks no extension. */
            if (i > 0 && path[i - 1] != '/') {
                ext.start = i + 1;
                ext.len = len - i - 1;
            }
            break;
        }
    }
    return ext;
}

int http_validate_host(const char *in, size_t len, char *out, size_t *out_len)
{
    enum { HOST_USUAL, HOST_LITERAL, HOST_REST } state = HOST_USUAL;
    size_t host_len = len;
    size_t dot_pos = len + 1; /* no dot yet; never equal to i - 1 */

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];

        switch (ch) {
        case '.':
            if (dot_pos == i - 1)
                return HTTP_PARSE_INVALID_HOST;
            dot_pos = i;
            break;
        case ':':
            if (state == HOST_USUAL) {
                host_len = i;
                state = HOST_REST;
            }
            break;
        case '[':
            if (i == 0)
                state = HOST_LITERAL;
            break;
        case ']':
            if (state == HOST_LITERAL) {
                host_len = i + 1;
                state = HOST_REST;
            }
            break;
        case '/':
        case '\0':
            return HTTP_PARSE_INVALID_HOST;
        default:
            if (ch <= 0x20 || ch == 0x7f)
                return HTTP_PARSE_INVALID_HOST;
        }
        if (i < host_len)
            out[i] = px_tolower((char)ch);
    }

    if (host_len > 0 && dot_pos == host_len - 1)
        host_len--;
    if (host_len == 0)
        return HTTP_PARSE_INVALID_HOST;
    *out_len = host_len;
    return HTTP_PARSE_OK;
}
