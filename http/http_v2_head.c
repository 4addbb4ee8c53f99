/* Rebuilding an HTTP/2 request head as HTTP/1.1 text (see http_v2_head.h). */
#include "http/http_v2_head.h"

#include <stdlib.h>
#include <string.h>

#include "core/px_pool.h"
#include "core/px_string.h"

static int put(http_v2_sbuf_t *b, const char *data, size_t len)
{
    if (len == 0)
        return HTTP_V2_HEAD_OK;
    if (len > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return HTTP_V2_HEAD_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return HTTP_V2_HEAD_OK;
}

static int has_ctl(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
            return 1;
    }
    return 0;
}

static int is(const char *name, size_t nlen, const char *lit)
{
    return nlen == strlen(lit) && memcmp(name, lit, nlen) == 0;
}

int http_v2_head_add(http_v2_head_t *h, const char *name, size_t nlen, const char *value, size_t vlen,
                     size_t field_max, size_t total_max)
{
    if (nlen + vlen > field_max)
        return HTTP_V2_HEAD_FIELD_TOO_LARGE;
    h->total += nlen + vlen;
    if (h->total > total_max)
        return HTTP_V2_HEAD_TOO_LARGE;
    if (nlen == 0 || has_ctl(name, nlen) || has_ctl(value, vlen))
        return HTTP_V2_HEAD_INVALID;
    if (name[0] == ':') {
        size_t *at = NULL, *len = NULL;
        if (is(name, nlen, ":method")) {
            at = &h->method_at;
            len = &h->method_len;
        } else if (is(name, nlen, ":path")) {
            at = &h->path_at;
            len = &h->path_len;
        } else if (is(name, nlen, ":authority")) {
            h->has_authority = 1;
            at = &h->authority_at;
            len = &h->authority_len;
        } else {
            return HTTP_V2_HEAD_OK; /* :scheme: the listener says what the scheme is */
        }
        *at = h->pseudo.len;
        *len = vlen;
        return put(&h->pseudo, value, vlen);
    }
    if (is(name, nlen, "cookie")) {
        if (h->cookie.len && put(&h->cookie, "; ", 2) != HTTP_V2_HEAD_OK)
            return HTTP_V2_HEAD_NOMEM;
        return put(&h->cookie, value, vlen);
    }
    /* a Host equal to :authority is the same header: one line (two would be a duplicate) */
    if (is(name, nlen, "host") && h->has_authority && h->authority_len == vlen &&
        (vlen == 0 || memcmp(h->pseudo.p + h->authority_at, value, vlen) == 0))
        return HTTP_V2_HEAD_OK;
    if (put(&h->lines, name, nlen) != HTTP_V2_HEAD_OK || put(&h->lines, ": ", 2) != HTTP_V2_HEAD_OK ||
        put(&h->lines, value, vlen) != HTTP_V2_HEAD_OK || put(&h->lines, "\r\n", 2) != HTTP_V2_HEAD_OK)
        return HTTP_V2_HEAD_NOMEM;
    return HTTP_V2_HEAD_OK;
}

char *http_v2_head_build(const http_v2_head_t *h, size_t *len, size_t *size)
{
    const char *pb = h->pseudo.p;
    size_t total = h->method_len + h->path_len + 2 * h->authority_len + h->lines.len + h->cookie.len + 64;
    char *buf = px_cache_alloc(total);
    if (buf == NULL)
        return NULL;
    size_t n = 0;
#define PUT(d, l)                                                                                  \
    do {                                                                                           \
        if (l)                                                                                     \
            memcpy(buf + n, (d), (l));                                                             \
        n += (l);                                                                                  \
    } while (0)
    PUT(pb + h->method_at, h->method_len);
    PUT(" ", 1);
    /* CONNECT names its target in :authority and has no :path */
    if (h->path_len == 0 && is(pb + h->method_at, h->method_len, "CONNECT"))
        PUT(pb + h->authority_at, h->authority_len);
    else
        PUT(pb + h->path_at, h->path_len);
    PUT(" HTTP/1.1\r\n", 11);
    if (h->authority_len) {
        PUT("Host: ", 6);
        PUT(pb + h->authority_at, h->authority_len);
        PUT("\r\n", 2);
    }
    PUT(h->lines.p, h->lines.len);
    if (h->cookie.len) {
        PUT("Cookie: ", 8);
        PUT(h->cookie.p, h->cookie.len);
        PUT("\r\n", 2);
    }
    PUT("\r\n", 2);
#undef PUT
    *len = n;
    *size = total;
    return buf;
}

void http_v2_head_free(http_v2_head_t *h)
{
    free(h->pseudo.p);
    free(h->lines.p);
    free(h->cookie.p);
    memset(h, 0, sizeof(*h));
}
