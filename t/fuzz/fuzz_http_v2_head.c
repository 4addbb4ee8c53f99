/*
 * libFuzzer target for http/http_v2_head.h. The input is a list of fields, each
 * "name\0value\0" (a name may start with ':'); the head is rebuilt and, whenever every field
 * was accepted and the rebuilt text parses, the HTTP/1.1 parser must find exactly one header
 * line per regular field kept (plus Host and Cookie): a field can never become two lines.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/px_pool.h"
#include "http/http_parse.h"
#include "http/http_v2_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_v2_head_t h = {0};
    const char *p = (const char *)data, *end = p + size;
    size_t expect = 0;
    int cookies = 0, authority = 0, all_ok = 1;
    while (p < end) {
        const char *name = p;
        const char *nz = memchr(p, '\0', (size_t)(end - p));
        if (nz == NULL)
            break;
        const char *value = nz + 1;
        const char *vz = value < end ? memchr(value, '\0', (size_t)(end - value)) : NULL;
        size_t vlen = vz ? (size_t)(vz - value) : (size_t)(end - value);
        size_t nlen = (size_t)(nz - name);
        int rc = http_v2_head_add(&h, name, nlen, value, vlen, 200, 2000);
        assert(rc == HTTP_V2_HEAD_OK || rc == HTTP_V2_HEAD_FIELD_TOO_LARGE || rc == HTTP_V2_HEAD_TOO_LARGE ||
               rc == HTTP_V2_HEAD_INVALID);
        if (rc != HTTP_V2_HEAD_OK) {
            all_ok = 0;
        } else if (name[0] == ':') {
            if (nlen == 10 && memcmp(name, ":authority", 10) == 0)
                authority = 1;
        } else if (nlen == 6 && memcmp(name, "cookie", 6) == 0) {
            cookies |= vlen > 0; /* an empty crumb adds nothing */
        } else if (!(nlen == 4 && memcmp(name, "host", 4) == 0 && authority && h.authority_len == vlen &&
                     (vlen == 0 || memcmp(h.pseudo.p + h.authority_at, value, vlen) == 0))) {
            expect++;
        }
        p = vz ? vz + 1 : end;
    }
    size_t len, cap;
    char *text = http_v2_head_build(&h, &len, &cap);
    assert(text && len <= cap);
    if (all_ok) {
        http_parser_t parser;
        http_parser_init(&parser);
        if (http_parse_request_line(&parser, text, len) == HTTP_PARSE_OK) {
            size_t lines = 0;
            int rc;
            while ((rc = http_parse_header_line(&parser, text, len, 1)) == HTTP_PARSE_OK)
                lines++;
            if (rc == HTTP_PARSE_HEADERS_DONE)
                assert(lines == expect + (h.authority_len ? 1 : 0) + (size_t)cookies);
        }
    }
    px_cache_free(text, cap);
    http_v2_head_free(&h);
    return 0;
}
