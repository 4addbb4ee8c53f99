/* libFuzzer target for realip's header walk: an X-Forwarded-For style value (split into
 * several fields at NUL bytes) from a peer inside trusted ranges, recursive or not. The
 * address it yields must be one it could read back from the input. */
#include <stdlib.h>
#include <string.h>

#include "http/http_realip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size == 0)
        return 0;
    int recursive = data[0] & 1;
    const char *p = (const char *)data + 1;
    size_t len = size - 1;

    px_str_t values[8];
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && n < 8; i++) {
        if (i == len || p[i] == '\0') {
            values[n++] = px_str_make(p + start, i - start);
            start = i + 1;
        }
    }

    px_cidr_t trusted[3];
    char msg[256];
    if (px_cidr_parse(&trusted[0], PX_STR("127.0.0.0/8"), msg, sizeof(msg)) != PX_OK ||
        px_cidr_parse(&trusted[1], PX_STR("10.0.0.0/8"), msg, sizeof(msg)) != PX_OK ||
        px_cidr_parse(&trusted[2], PX_STR("::1/128"), msg, sizeof(msg)) != PX_OK)
        abort();

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(0x7f000001);
    socklen_t alen = sizeof(*sin);
    int rc = http_realip_forwarded(values, n, trusted, 3, recursive, &addr, &alen);
    if (rc != PX_OK && rc != PX_DECLINED)
        abort();
    if (rc == PX_OK && addr.ss_family != AF_INET && addr.ss_family != AF_INET6)
        abort();
    if (alen > sizeof(addr))
        abort();

    /* one item on its own */
    struct sockaddr_storage one;
    socklen_t onelen;
    if (http_realip_parse_addr(p, len, &one, &onelen) == PX_OK &&
        one.ss_family != AF_INET && one.ss_family != AF_INET6)
        abort();
    return 0;
}
