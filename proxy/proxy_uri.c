/* proxy_pass targets and the URI nginx sends upstream; see proxy_uri.h. Every rule here was
 * read off what nginx 1.22 actually sent to a recording backend
 * (t/e2e/test_proxy_uri_nginx_ref.py keeps that evidence runnable). */
#include "proxy/proxy_uri.h"

#include <stdio.h>
#include <sys/socket.h>

static int clamp_len(size_t len)
{
    return len > 4096 ? 4096 : (int)len;
}

static const char *text_of(px_str_t s)
{
    return s.data ? s.data : "";
}

/* Length of the scheme prefix, or 0 when text starts with neither. */
static size_t scheme_prefix(px_str_t text, proxy_scheme_t *scheme)
{
    if (text.len >= 7 && px_str_caseeq_lit(px_str_make(text.data, 7), "http://")) {
        *scheme = PROXY_SCHEME_HTTP;
        return 7;
    }
    if (text.len >= 8 && px_str_caseeq_lit(px_str_make(text.data, 8), "https://")) {
        *scheme = PROXY_SCHEME_HTTPS;
        return 8;
    }
    return 0;
}

static int parse_target(proxy_pass_t *p, size_t skip, char *err, size_t errsize)
{
    uint16_t default_port = p->scheme == PROXY_SCHEME_HTTPS ? 443 : 80;
    px_str_t rest = px_str_make(p->text.data + skip, p->text.len - skip);
    px_url_t *u = &p->url;

    if (px_addr_parse_upstream(u, rest, default_port, PX_URL_URI_PART | PX_URL_NO_RESOLVE, err,
                               errsize) != PX_OK)
        return PX_ERROR;

    p->host = u->host;
    p->port_text = u->port_text;
    p->port = u->port;
    p->no_port = u->no_port;
    p->uri = u->uri;
    p->has_uri = u->uri.len > 0;
    p->is_unix = u->family == AF_UNIX;

    if (p->is_unix) {
        p->proxy_host = PX_STR("localhost");
        p->proxy_port = PX_STR("");
    } else if (u->no_port || u->port == default_port) {
        p->proxy_host = u->host;
        p->proxy_port = default_port == 443 ? PX_STR("443") : PX_STR("80");
    } else {
        /* host, ':' and the port are adjacent in the text, brackets of [v6] included. */
        p->proxy_host = px_str_make(u->host.data,
                                    (size_t)(u->port_text.data + u->port_text.len - u->host.data));
        p->proxy_port = u->port_text;
    }
    return PX_OK;
}

int proxy_pass_parse(proxy_pass_t *p, px_str_t text, char *err, size_t errsize)
{
    memset(p, 0, sizeof(*p));
    p->text = text;

    /* nginx counts any '$' as a variable and leaves every other check to request time. */
    if (text.len > 0 && memchr(text.data, '$', text.len) != NULL) {
        p->has_variables = 1;
        return PX_OK;
    }

    size_t skip = scheme_prefix(text, &p->scheme);
    if (skip == 0) {
        snprintf(err, errsize, "invalid URL prefix");
        return PX_ERROR;
    }
    return parse_target(p, skip, err, errsize);
}

int proxy_pass_parse_evaluated(proxy_pass_t *p, px_str_t text, char *err, size_t errsize)
{
    memset(p, 0, sizeof(*p));
    p->text = text;
    p->evaluated = 1;

    size_t skip = scheme_prefix(text, &p->scheme);
    if (skip == 0 || text.len == skip) {
        snprintf(err, errsize, "invalid URL prefix in \"%.*s\"", clamp_len(text.len),
                 text_of(text));
        return PX_ERROR;
    }
    return parse_target(p, skip, err, errsize);
}

void proxy_pass_free(proxy_pass_t *p)
{
    px_url_free(&p->url);
}

int proxy_pass_check_location(const proxy_pass_t *p, http_location_kind_t kind,
                              int in_if_or_limit_except, char *err, size_t errsize)
{
    if (p->has_variables || !p->has_uri)
        return PX_OK;
    if (in_if_or_limit_except || kind == HTTP_LOC_REGEX || kind == HTTP_LOC_REGEX_CASELESS ||
        kind == HTTP_LOC_NAMED) {
        snprintf(err, errsize,
                 "\"proxy_pass\" cannot have URI part in location given by regular "
                 "expression, or inside named location, or inside \"if\" statement, or inside "
                 "\"limit_except\" block");
        return PX_ERROR;
    }
    return PX_OK;
}

int proxy_pass_slash_warning(const proxy_pass_t *p, http_location_kind_t kind, px_str_t location,
                             char *msg, size_t msgsize)
{
    /* An exact location's whole URI is replaced, so no slash can double or go missing; a
     * URI part with args is odd in other ways than this one. */
    if (p->has_variables || !p->has_uri || location.len == 0 ||
        (kind != HTTP_LOC_PREFIX && kind != HTTP_LOC_PREFIX_NOREGEX) ||
        memchr(p->uri.data, '?', p->uri.len) != NULL)
        return PX_OK;

    int location_slash = location.data[location.len - 1] == '/';
    int uri_slash = p->uri.data[p->uri.len - 1] == '/';
    if (location_slash == uri_slash)
        return PX_OK;

    int ll = clamp_len(location.len), ul = clamp_len(p->uri.len);
    if (uri_slash)
        snprintf(msg, msgsize,
                 "\"proxy_pass\" URI part \"%.*s\" ends with \"/\" but location \"%.*s\" does "
                 "not, so \"%.*s/x\" is sent as \"%.*s/x\"",
                 ul, p->uri.data, ll, location.data, ll, location.data, ul, p->uri.data);
    else
        snprintf(msg, msgsize,
                 "\"proxy_pass\" URI part \"%.*s\" does not end with \"/\" but location "
                 "\"%.*s\" does, so \"%.*sx\" is sent as \"%.*sx\"",
                 ul, p->uri.data, ll, location.data, ll, location.data, ul, p->uri.data);
    return PX_DONE;
}

/* Bytes nginx's URI escaping turns into %XX, as observed for every byte 0x01-0xff. */
static int needs_escape(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return 1;
    return strchr("\"#%<>?\\^`{|}", c) != NULL;
}

size_t proxy_uri_escape(const char *src, size_t len, char *dst)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (!needs_escape(c)) {
            if (dst)
                dst[n] = (char)c;
            n++;
            continue;
        }
        if (dst) {
            dst[n] = '%';
            dst[n + 1] = hex[c >> 4];
            dst[n + 2] = hex[c & 0xf];
        }
        n += 3;
    }
    return n;
}

/* A bounded writer that keeps counting past its end, for snprintf-style sizing. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (o->len < o->size) {
        size_t room = o->size - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_escaped(out_t *o, const char *s, size_t n)
{
    size_t need = proxy_uri_escape(s, n, NULL);
    if (o->len + need <= o->size) {
        proxy_uri_escape(s, n, o->buf + o->len);
        o->len += need;
        return;
    }
    /* Near the end of the buffer: escape byte by byte so nothing is written past it. */
    for (size_t i = 0; i < n; i++) {
        char tmp[3];
        size_t k = proxy_uri_escape(s + i, 1, tmp);
        put(o, tmp, k);
    }
}

size_t proxy_uri_build(const proxy_pass_t *p, const proxy_uri_request_t *r, char *buf, size_t size)
{
    out_t o = {buf, buf ? size : 0, 0};

    if (p->evaluated && p->has_uri) {
        /* A URI evaluated from variables replaces the whole request URI, args included. */
        if (p->uri.data[0] == '?')
            put(&o, "/", 1);
        put(&o, p->uri.data, p->uri.len);
        return o.len;
    }

    if (!p->has_uri && !r->uri_changed) {
        put(&o, r->request_uri.data, r->request_uri.len);
        return o.len;
    }

    size_t skip = 0;
    if (p->has_uri && !r->rewritten_here) {
        put(&o, p->uri.data, p->uri.len);
        /* nginx skips the location's length without comparing; never past the URI here. */
        skip = r->location.len < r->uri.len ? r->location.len : r->uri.len;
    }

    if (r->uri.len > skip) {
        const char *rest = r->uri.data + skip;
        size_t rest_len = r->uri.len - skip;
        if (r->quoted || r->internal)
            put_escaped(&o, rest, rest_len);
        else
            put(&o, rest, rest_len);
    }

    if (r->args.len > 0) {
        put(&o, "?", 1);
        put(&o, r->args.data, r->args.len);
    }
    return o.len;
}
