/* libFuzzer target for the rewrite module's pure pieces that see request bytes: capture
 * escaping, redirect unescaping, URI/argument splitting, and the if () condition grammar,
 * with their invariants (escaped text holds no byte that must be escaped; unescaping never
 * grows the text and leaves everything from the first '?' alone). */
#include <stdlib.h>
#include <string.h>

#include "http/http_rewrite.h"

static int must_escape(unsigned char ch)
{
    return ch <= 0x20 || ch >= 0x7f || ch == '#' || ch == '%' || ch == '&' || ch == '+' ||
           ch == ';' || ch == '?';
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *s = (const char *)data;

    size_t n = http_rw_escape_args(s, size, NULL);
    char *esc = malloc(n + 1);
    if (http_rw_escape_args(s, size, esc) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (esc[i] != '%' && must_escape((unsigned char)esc[i]))
            abort();
    }
    free(esc);

    char *copy = malloc(size + 1);
    memcpy(copy, s, size);
    size_t m = http_rw_unescape_redirect(copy, size);
    if (m > size)
        abort();
    const char *q = memchr(s, '?', size);
    if (q) {
        size_t tail = size - (size_t)(q - s);
        if (m < tail || memcmp(copy + m - tail, q, tail) != 0)
            abort();
    }
    free(copy);

    px_pool_t *pool = px_pool_create(1024);
    px_str_t uri, args, in = px_str_make(s, size);
    size_t at = q ? (size_t)(q - s) + 1 : (size_t)-1;
    http_rw_split(pool, in, at, size & 1, PX_STR("a=1"), &uri, &args);
    if (uri.len > size || (q && uri.len != (size_t)(q - s)))
        abort();
    px_str_t target = http_rw_redirect_target(pool, in, at, size & 1, PX_STR("a=1"));
    if (target.len < size)
        abort();
    px_pool_destroy(pool);

    /* words split at spaces, as the config reader would give them */
    px_str_t words[16];
    size_t nw = 0, i = 0;
    while (i < size && nw < 16) {
        while (i < size && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < size && s[i] != ' ')
            i++;
        if (i > start)
            words[nw++] = px_str_make(s + start, i - start);
    }
    http_rw_cond_t c;
    char err[256];
    if (http_rw_parse_condition(words, nw, &c, err, sizeof(err)) == PX_OK) {
        if (c.kind != HTTP_RW_COND_FILE && c.var.len == 0)
            abort();
    }
    return 0;
}
