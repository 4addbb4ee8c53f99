/*
 * libFuzzer target for http/http_parse.h. Besides looking for crashes it checks properties:
 * feeding a request head or a chunked body in pieces gives exactly the result of feeding it
 * at once; spans stay inside the buffer; a normalised URI starts with '/' and holds no "."
 * or ".." segment (nor "//" when merging); a validated host is lowercase and not longer.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

static void check_span(http_span_t s, size_t len)
{
    assert(s.start <= len && s.len <= len - s.start);
}

/* Parses the request line and headers with `avail` growing by `step` bytes per AGAIN;
 * returns the last result, whether the request line was parsed, and a digest of the header
 * lines returned. */
static int parse_head(const char *buf, size_t len, size_t step, int underscores,
                      http_parser_t *p, int *line_ok, size_t *headers, uint32_t *hash_sum)
{
    size_t avail = step < len ? step : len;
    int rc;

    http_parser_init(p);
    *line_ok = 0;
    *headers = 0;
    *hash_sum = 0;
    while ((rc = http_parse_request_line(p, buf, avail)) == HTTP_PARSE_AGAIN) {
        assert(p->pos == avail);
        if (avail == len)
            return rc;
        avail = avail + step < len ? avail + step : len;
    }
    if (rc != HTTP_PARSE_OK)
        return rc;
    *line_ok = 1;
    for (;;) {
        rc = http_parse_header_line(p, buf, avail, underscores);
        if (rc == HTTP_PARSE_AGAIN) {
            if (avail == len)
                return rc;
            avail = avail + step < len ? avail + step : len;
            continue;
        }
        if (rc != HTTP_PARSE_OK)
            return rc;
        check_span(p->header_name, len);
        check_span(p->header_value, len);
        (*headers)++;
        *hash_sum = *hash_sum * 7 + p->header_hash + p->header_invalid_name;
    }
}

static void check_normalized(const char *in, size_t len, int merge)
{
    char *out = malloc(len ? len : 1);
    size_t out_len = 0;

    if (http_normalize_uri(in, len, out, &out_len, merge) == HTTP_PARSE_OK) {
        assert(out_len >= 1 && out_len <= len && out[0] == '/');
        for (size_t i = 0; i < out_len; i++) {
            if (out[i] != '/')
                continue;
            size_t seg = i + 1, end = seg;
            while (end < out_len && out[end] != '/')
                end++;
            assert(!(end - seg == 1 && out[seg] == '.'));
            assert(!(end - seg == 2 && out[seg] == '.' && out[seg + 1] == '.'));
            assert(!(merge && end == seg && end < out_len));
        }
        http_span_t ext = http_uri_exten(out, out_len);
        check_span(ext, out_len);
    }
    free(out);
}

static void fuzz_head(const char *buf, size_t len, size_t step, int flags)
{
    http_parser_t whole, pieces;
    size_t headers_whole, headers_pieces;
    uint32_t hash_whole, hash_pieces;
    int ok_whole, ok_pieces;
    int underscores = flags & 1;
    int rc = parse_head(buf, len, len, underscores, &whole, &ok_whole, &headers_whole,
                        &hash_whole);
    int rc2 = parse_head(buf, len, step, underscores, &pieces, &ok_pieces, &headers_pieces,
                         &hash_pieces);

    assert(rc == rc2 && ok_whole == ok_pieces);
    assert(whole.pos == pieces.pos);
    assert(headers_whole == headers_pieces && hash_whole == hash_pieces);
    assert(whole.pos <= len);

    if (!ok_whole)
        return;
    check_span(whole.request_line, len);
    check_span(whole.uri, len);
    check_span(whole.path, len);
    check_span(whole.args, len);
    check_span(whole.host, len);
    check_span(whole.exten, len);
    check_span(whole.protocol, len);
    if (whole.path.len > 0)
        check_normalized(buf + whole.path.start, whole.path.len, (flags >> 1) & 1);
    if (whole.host.len > 0) {
        char *host = malloc(whole.host.len);
        size_t host_len;
        if (http_validate_host(buf + whole.host.start, whole.host.len, host, &host_len) ==
            HTTP_PARSE_OK) {
            assert(host_len >= 1 && host_len <= whole.host.len);
            for (size_t i = 0; i < host_len; i++)
                assert(host[i] < 'A' || host[i] > 'Z');
        }
        free(host);
    }
}

/* Decodes the whole body in pieces of `step` bytes; returns the result and the data. */
static int decode_chunked(const char *buf, size_t len, size_t step, char *out, size_t *out_len,
                          size_t *consumed_total)
{
    http_chunked_t c;
    size_t off = 0;
    int rc = HTTP_PARSE_AGAIN;

    http_chunked_init(&c);
    *out_len = 0;
    while (off < len) {
        size_t end = off + step < len ? off + step : len;
        while (off < end) {
            size_t consumed;
            http_span_t data;

            rc = http_parse_chunked(&c, buf + off, end - off, &consumed, &data);
            assert(consumed <= end - off);
            if (rc == HTTP_PARSE_OK) {
                assert(data.len > 0 && data.start + data.len == consumed);
                memcpy(out + *out_len, buf + off + data.start, data.len);
                *out_len += data.len;
            }
            off += consumed;
            if (rc != HTTP_PARSE_OK && rc != HTTP_PARSE_AGAIN)
                goto out;
        }
    }
out:
    *consumed_total = off;
    return rc == HTTP_PARSE_OK ? HTTP_PARSE_AGAIN : rc;
}

static void fuzz_chunked(const char *buf, size_t len, size_t step)
{
    char *out1 = malloc(len + 1), *out2 = malloc(len + 1);
    size_t len1, len2, used1, used2;
    int rc1 = decode_chunked(buf, len, len ? len : 1, out1, &len1, &used1);
    int rc2 = decode_chunked(buf, len, step, out2, &len2, &used2);

    assert(rc1 == rc2 && len1 == len2 && used1 == used2);
    assert(memcmp(out1, out2, len1) == 0);
    free(out1);
    free(out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;

    int flags = data[0];
    size_t step = (size_t)(data[1] % 16) + 1;
    size_t len = size - 2;
    /* An exact-size heap copy, so ASan reports any read past the end. */
    char *buf = malloc(len ? len : 1);

    memcpy(buf, data + 2, len);
    switch ((flags >> 2) & 3) {
    case 0:
    case 1:
        fuzz_head(buf, len, step, flags);
        break;
    case 2:
        fuzz_chunked(buf, len, step);
        break;
    default:
        check_normalized(buf, len, (flags >> 1) & 1);
        break;
    }
    free(buf);
    return 0;
}
