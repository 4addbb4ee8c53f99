/* libFuzzer target for what static file serving reads from requests: Range headers,
 * If-Match / If-None-Match lists, HTTP dates, and the traversal check on mapped paths, with
 * their invariants (ranges inside the file and ordered, a refused path never accepted once
 * more bytes follow it). */
#include <stdlib.h>
#include <string.h>

#include "http/http_static.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 2)
        return 0;
    /* the first byte picks a file size and max_ranges, the rest is the header value */
    int64_t file_size = (int64_t)(data[0] & 0x3f) * 37;
    int max_ranges = data[0] >> 6 == 0 ? 0 : (int)(data[0] >> 6) * 3;
    px_str_t value = px_str_make((const char *)data + 1, size - 1);

    http_range_t ranges[16];
    size_t n = 0;
    int rc =
        http_static_parse_range(value, file_size, max_ranges ? max_ranges : 15, ranges, 16, &n);
    if (rc == HTTP_RANGE_OK) {
        if (n == 0 || n > 16)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (ranges[i].start < 0 || ranges[i].start >= ranges[i].end ||
                ranges[i].end > file_size)
                abort();
        }
    }

    char etag[40];
    size_t elen = http_static_etag((time_t)file_size * 1000, file_size, etag);
    int strong = http_static_etag_match(value, px_str_make(etag, elen), 0);
    int weak = http_static_etag_match(value, px_str_make(etag, elen), 1);
    if (strong && !weak)
        abort();

    time_t t = http_static_parse_date(value);
    if (t < -1)
        abort();

    if (http_static_path_unsafe(value, 0) == 0 && memchr(value.data, '\0', value.len))
        abort();

    /* mapping never writes past base + uri */
    char *out = malloc(value.len * 2 + 2);
    size_t half = value.len / 2;
    px_str_t base = px_str_make(value.data, half),
             uri = px_str_make(value.data + half, value.len - half);
    size_t len = http_static_map(base, half ? half - 1 : 0, data[0] & 1, uri, out);
    if (len > base.len + uri.len)
        abort();
    free(out);
    return 0;
}
