/* libFuzzer target for the config value and address parsers: listen/upstream addresses
 * (never resolving names), CIDR ranges and directive values, with their invariants. */
#include <arpa/inet.h>
#include <stdlib.h>

#include "conf/conf_value.h"
#include "core/px_addr.h"

static void check_slice(px_str_t s, const char *start, size_t len)
{
    if (s.len > 0 && (s.data < start || s.data + s.len > start + len))
        abort();
}

static void fuzz_url(const char *data, size_t size, unsigned flags)
{
    px_url_t u;
    char err[512];
    int rc = px_url_parse(&u, px_str_make(data, size), 80, flags | PX_URL_NO_RESOLVE);

    if (rc == PX_OK) {
        check_slice(u.host, data, size);
        check_slice(u.port_text, data, size);
        check_slice(u.uri, data, size);
        if (u.naddrs > 1 || (u.naddrs == 0 && u.family != AF_UNSPEC))
            abort();
        for (size_t i = 0; i < u.naddrs; i++) {
            char again[PX_ADDR_TEXT_SIZE];
            const struct sockaddr *sa = (const struct sockaddr *)&u.addrs[i].sa;
            px_addr_to_text(sa, u.addrs[i].len, 1, again, sizeof(again));
            if (u.addrs[i].text[0] == '\0' || strcmp(again, u.addrs[i].text) != 0)
                abort();
            if (!px_addr_equal(sa, u.addrs[i].len, sa, u.addrs[i].len))
                abort();
        }
    } else if (u.reason == NULL || u.naddrs != 0) {
        abort();
    }
    px_url_free(&u);

    if (flags & PX_URL_LISTEN)
        return;
    if (px_addr_parse_upstream(&u, px_str_make(data, size), 443, flags | PX_URL_NO_RESOLVE, err,
                               sizeof(err)) != rc)
        abort();
    px_url_free(&u);
}

static void fuzz_cidr(const char *data, size_t size)
{
    px_cidr_t c;
    char msg[256];
    int rc = px_cidr_parse(&c, px_str_make(data, size), msg, sizeof(msg));

    if (rc == PX_ERROR)
        return;
    if (c.family == AF_INET && (c.u.v4.addr.s_addr & ~c.u.v4.mask.s_addr) != 0)
        abort();

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    if (c.family == AF_INET6) {
        /* The range's own base address must fall in it. */
        memcpy(&sin6.sin6_addr, &c.u.v6.addr, sizeof(sin6.sin6_addr));
        if (!px_cidr_match(&c, (struct sockaddr *)&sin6) && !IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr))
            abort();
    }
    if (c.family == AF_INET) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr = c.u.v4.addr};
        if (!px_cidr_match(&c, (struct sockaddr *)&sin))
            abort();
        sin6.sin6_addr.s6_addr[10] = 0xff;
        sin6.sin6_addr.s6_addr[11] = 0xff;
        memcpy(&sin6.sin6_addr.s6_addr[12], &c.u.v4.addr, 4);
        if (!px_cidr_match(&c, (struct sockaddr *)&sin6))
            abort();
    }
}

static void fuzz_values(const char *data, size_t size)
{
    px_str_t s = px_str_make(data, size);
    char err[256];
    int64_t v;

    int64_t size_v = conf_parse_size(s);
    int64_t off_v = conf_parse_offset(s);
    if (size_v >= 0 && off_v != size_v)
        abort();
    int64_t ms = conf_parse_msec(s);
    int64_t sec = conf_parse_sec(s);
    /* Without "ms", "y" or "M" both time readers accept the same text. */
    if (ms >= 0 && sec >= 0 && ms != sec * 1000 && !memchr(data, 's', size))
        abort();
    conf_parse_number(s);
    conf_parse_flag(s);
    for (int kind = CONF_VALUE_NUMBER; kind <= CONF_VALUE_FLAG; kind++)
        conf_value_parse((conf_value_kind_t)kind, PX_STR("d"), s, &v, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    fuzz_url(text, size, PX_URL_LISTEN);
    fuzz_url(text, size, 0);
    fuzz_url(text, size, PX_URL_URI_PART);
    fuzz_cidr(text, size);
    fuzz_values(text, size);
    return 0;
}
