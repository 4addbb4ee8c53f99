/* Socket address parsing, formatting and CIDR matching; see px_addr.h. */
#include "px_addr.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>

static const char *find_char(const char *p, const char *end, char c)
{
    return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

/* "%.*s" arguments: a length printf accepts and never a NULL pointer. */
static int clamp_len(size_t len)
{
    return len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
}

static const char *text_of(px_str_t s)
{
    return s.data ? s.data : "";
}

int px_inet4_parse(const char *p, size_t len, struct in_addr *out)
{
    uint32_t addr = 0;
    uint32_t field = 0;
    unsigned dots = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] >= '0' && p[i] <= '9') {
            field = field * 10 + (uint32_t)(p[i] - '0');
            if (field > 255)
                return PX_ERROR;
        } else if (p[i] == '.') {
            if (++dots > 3)
                return PX_ERROR;
            addr = (addr << 8) | field;
            field = 0;
        } else {
            return PX_ERROR;
        }
    }
    if (dots != 3)
        return PX_ERROR;
    addr = (addr << 8) | field;
    /* nginx's parser returns INADDR_NONE for failure, so it cannot take this address. */
    if (addr == 0xffffffffu)
        return PX_ERROR;
    out->s_addr = htonl(addr);
    return PX_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = px_tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Matches nginx's reader, quirks included: one leading ':' is skipped (":1:2:3:4:5:6:7:8"),
 * a trailing ':' after "::" ends an empty group ("::1:" is ::1:0), "::" must stand for at
 * least one group, and a dotted IPv4 tail counts as two groups. */
int px_inet6_parse(const char *p, size_t len, struct in6_addr *out)
{
    uint16_t groups[8];
    size_t ngroups = 0;
    long gap = -1; /* index in groups where "::" stands */
    const char *after_colon = NULL;
    unsigned digits = 0;
    unsigned word = 0;
    const char *end = p + len;

    if (len == 0)
        return PX_ERROR;
    if (*p == ':')
        p++;

    while (p < end) {
        char c = *p++;

        if (c == ':') {
            after_colon = p;
            if (digits == 0) {
                if (gap >= 0)
                    return PX_ERROR;
                gap = (long)ngroups;
                continue;
            }
            if (ngroups == 7)
                return PX_ERROR;
            groups[ngroups++] = (uint16_t)word;
            digits = 0;
            word = 0;
            continue;
        }

        if (c == '.' && digits > 0) {
            struct in_addr v4;
            if (ngroups > 6 || after_colon == NULL)
                return PX_ERROR;
            if (px_inet4_parse(after_colon, (size_t)(end - after_colon), &v4) != PX_OK)
                return PX_ERROR;
            uint32_t host = ntohl(v4.s_addr);
            groups[ngroups++] = (uint16_t)(host >> 16);
            word = host & 0xffff;
            digits = 1;
            break;
        }

        int v = hex_value(c);
        if (v < 0 || ++digits > 4)
            return PX_ERROR;
        word = word * 16 + (unsigned)v;
    }

    if (digits == 0 && gap < 0)
        return PX_ERROR;
    groups[ngroups++] = (uint16_t)word;

    if (gap < 0 ? ngroups != 8 : ngroups == 8)
        return PX_ERROR;

    size_t zeros = 8 - ngroups;
    size_t at = 0;
    for (size_t i = 0; i < ngroups; i++) {
        if ((long)i == gap)
            at += zeros;
        out->s6_addr[2 * (at + i)] = (uint8_t)(groups[i] >> 8);
        out->s6_addr[2 * (at + i) + 1] = (uint8_t)(groups[i] & 0xff);
    }
    for (size_t i = 0; i < zeros; i++) {
        out->s6_addr[2 * ((size_t)gap + i)] = 0;
        out->s6_addr[2 * ((size_t)gap + i) + 1] = 0;
    }
    return PX_OK;
}

size_t px_addr_to_text(const struct sockaddr *sa, socklen_t len, int with_port, char *buf,
                       size_t size)
{
    char host[INET6_ADDRSTRLEN];
    int n = 0;

    if (size == 0)
        return 0;
    buf[0] = '\0';

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
        if (with_port)
            n = snprintf(buf, size, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
        else
            n = snprintf(buf, size, "%s", host);
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
        if (with_port)
            n = snprintf(buf, size, "[%s]:%u", host, (unsigned)ntohs(sin6->sin6_port));
        else
            n = snprintf(buf, size, "%s", host);
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t max = len > off ? (size_t)len - off : 0;
        if (max > sizeof(un->sun_path))
            max = sizeof(un->sun_path);
        n = snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path, max), un->sun_path);
        break;
    }
    default:
        return 0;
    }

    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

int px_addr_equal(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                  socklen_t blen)
{
    if (a->sa_family != b->sa_family)
        return 0;

    switch (a->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    case AF_UNIX: {
        char ta[PX_ADDR_TEXT_SIZE], tb[PX_ADDR_TEXT_SIZE];
        px_addr_to_text(a, alen, 0, ta, sizeof(ta));
        px_addr_to_text(b, blen, 0, tb, sizeof(tb));
        return strcmp(ta, tb) == 0;
    }
    default:
        return 0;
    }
}

static void finish_addr(px_addr_t *addr)
{
    px_addr_to_text((struct sockaddr *)&addr->sa, addr->len, 1, addr->text, sizeof(addr->text));
}

static int set_single(px_url_t *u, const px_addr_t *addr)
{
    u->addrs = malloc(sizeof(*u->addrs));
    if (u->addrs == NULL) {
        u->reason = "out of memory";
        return PX_ERROR;
    }
    u->addrs[0] = *addr;
    finish_addr(&u->addrs[0]);
    u->naddrs = 1;
    u->family = addr->sa.ss_family;
    return PX_OK;
}

static int set_inet4(px_url_t *u, struct in_addr in)
{
    px_addr_t addr;
    struct sockaddr_in *sin = (struct sockaddr_in *)&addr.sa;

    memset(&addr, 0, sizeof(addr));
    sin->sin_family = AF_INET;
    sin->sin_port = htons(u->port);
    sin->sin_addr = in;
    addr.len = sizeof(*sin);
    if (in.s_addr == htonl(INADDR_ANY))
        u->wildcard = 1;
    return set_single(u, &addr);
}

/* nginx takes ports 1-65535 written as plain digits. */
static int parse_port(px_url_t *u, const char *p, const char *end)
{
    int64_t n = px_atoi(p, (size_t)(end - p));
    if (n < 1 || n > 65535) {
        u->reason = "invalid port";
        return PX_ERROR;
    }
    u->port = (uint16_t)n;
    u->port_text = px_str_make(p, (size_t)(end - p));
    return PX_OK;
}

static int parse_unix(px_url_t *u, unsigned flags)
{
    const char *path = u->text.data + 5;
    const char *end = u->text.data + u->text.len;
    px_addr_t addr;
    struct sockaddr_un *un = (struct sockaddr_un *)&addr.sa;

    if (flags & PX_URL_URI_PART) {
        const char *colon = find_char(path, end, ':');
        if (colon) {
            u->uri = px_str_make(colon + 1, (size_t)(end - colon - 1));
            end = colon;
        }
    }

    size_t len = (size_t)(end - path);
    if (len == 0) {
        u->reason = "no path in the unix domain socket";
        return PX_ERROR;
    }
    if (len + 1 > sizeof(un->sun_path)) {
        u->reason = "too long path in the unix domain socket";
        return PX_ERROR;
    }
    u->host = px_str_make(path, len);

    memset(&addr, 0, sizeof(addr));
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, len);
    addr.len = sizeof(*un);
    return set_single(u, &addr);
}

static int parse_inet6(px_url_t *u, unsigned flags)
{
    const char *start = u->text.data;
    const char *end = start + u->text.len;
    const char *close = find_char(start + 1, end, ']');
    px_addr_t addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr.sa;

    if (close == NULL) {
        u->reason = "invalid host";
        return PX_ERROR;
    }

    const char *rest = close + 1;
    const char *uri = find_char(rest, end, '/');
    if (uri) {
        if ((flags & PX_URL_LISTEN) || !(flags & PX_URL_URI_PART)) {
            u->reason = "invalid host";
            return PX_ERROR;
        }
        u->uri = px_str_make(uri, (size_t)(end - uri));
        end = uri;
    }

    if (rest < end) {
        if (*rest != ':') {
            u->reason = "invalid host";
            return PX_ERROR;
        }
        if (parse_port(u, rest + 1, end) != PX_OK)
            return PX_ERROR;
    } else {
        u->no_port = 1;
    }

    size_t len = (size_t)(close - start - 1);
    if (len == 0) {
        u->reason = "no host";
        return PX_ERROR;
    }
    u->host = px_str_make(start, len + 2);

    memset(&addr, 0, sizeof(addr));
    if (px_inet6_parse(start + 1, len, &sin6->sin6_addr) != PX_OK) {
        u->reason = "invalid IPv6 address";
        return PX_ERROR;
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(u->port);
    addr.len = sizeof(*sin6);
    if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
        u->wildcard = 1;
    return set_single(u, &addr);
}

static int parse_inet(px_url_t *u, unsigned flags)
{
    const char *host = u->text.data;
    const char *end = host + u->text.len;
    const char *colon = find_char(host, end, ':');
    const char *uri = find_char(host, end, '/');
    const char *args = find_char(host, end, '?');

    if (args && (uri == NULL || args < uri))
        uri = args;

    if (uri) {
        if ((flags & PX_URL_LISTEN) || !(flags & PX_URL_URI_PART)) {
            u->reason = "invalid host";
            return PX_ERROR;
        }
        u->uri = px_str_make(uri, (size_t)(end - uri));
        end = uri;
        if (colon && uri < colon)
            colon = NULL;
    }

    if (colon) {
        if (parse_port(u, colon + 1, end) != PX_OK)
            return PX_ERROR;
        end = colon;
    } else if (uri == NULL && (flags & PX_URL_LISTEN) && px_atoi(host, u->text.len) >= 0) {
        /* "listen 8080": digits alone are a port on every address. */
        if (parse_port(u, host, end) != PX_OK)
            return PX_ERROR;
        return set_inet4(u, (struct in_addr){htonl(INADDR_ANY)});
    } else {
        u->no_port = 1;
    }

    size_t len = (size_t)(end - host);
    if (len == 0) {
        u->reason = "no host";
        return PX_ERROR;
    }
    u->host = px_str_make(host, len);

    if ((flags & PX_URL_LISTEN) && len == 1 && *host == '*')
        return set_inet4(u, (struct in_addr){htonl(INADDR_ANY)});

    struct in_addr in;
    if (px_inet4_parse(host, len, &in) == PX_OK)
        return set_inet4(u, in);

    u->family = AF_UNSPEC;
    if (flags & PX_URL_NO_RESOLVE)
        return PX_OK;
    return px_url_resolve(u);
}

int px_url_parse(px_url_t *u, px_str_t text, uint16_t default_port, unsigned flags)
{
    memset(u, 0, sizeof(*u));
    u->text = text;
    u->port = default_port;

    if (text.len >= 5 && px_str_caseeq_lit(px_str_make(text.data, 5), "unix:")) {
        u->port = 0;
        return parse_unix(u, flags);
    }
    if (text.len > 0 && text.data[0] == '[')
        return parse_inet6(u, flags);
    return parse_inet(u, flags);
}

static int append_unique(px_addr_t *list, size_t *n, const struct sockaddr *sa, socklen_t len,
                         uint16_t port)
{
    px_addr_t addr;

    if ((size_t)len > sizeof(addr.sa))
        return 0;
    memset(&addr, 0, sizeof(addr));
    memcpy(&addr.sa, sa, len);
    addr.len = len;
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *)&addr.sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)&addr.sa)->sin6_port = htons(port);

    for (size_t i = 0; i < *n; i++) {
        if (px_addr_equal((struct sockaddr *)&list[i].sa, list[i].len, (struct sockaddr *)&addr.sa,
                          addr.len))
            return 0;
    }
    finish_addr(&addr);
    list[(*n)++] = addr;
    return 1;
}

int px_url_resolve(px_url_t *u)
{
    struct addrinfo hints, *res = NULL;
    char name[1025]; /* NI_MAXHOST */

    u->reason = "host not found";
    if (u->host.len == 0 || u->host.len >= sizeof(name) || memchr(u->host.data, '\0', u->host.len))
        return PX_ERROR;
    memcpy(name, u->host.data, u->host.len);
    name[u->host.len] = '\0';

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return PX_ERROR;

    size_t count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        count++;

    px_addr_t *list = count ? malloc(count * sizeof(*list)) : NULL;
    size_t n = 0;
    if (list) {
        /* nginx lists IPv4 addresses before IPv6 ones. */
        int families[2] = {AF_INET, AF_INET6};
        for (int f = 0; f < 2; f++) {
            for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                if (ai->ai_family == families[f])
                    append_unique(list, &n, ai->ai_addr, ai->ai_addrlen, u->port);
            }
        }
    }
    freeaddrinfo(res);

    if (n == 0) {
        free(list);
        if (count && list == NULL)
            u->reason = "out of memory";
        return PX_ERROR;
    }

    free(u->addrs);
    u->addrs = list;
    u->naddrs = n;
    u->family = list[0].sa.ss_family;
    u->reason = NULL;
    return PX_OK;
}

void px_url_free(px_url_t *u)
{
    free(u->addrs);
    u->addrs = NULL;
    u->naddrs = 0;
}

int px_addr_parse_listen(px_url_t *u, px_str_t text, char *err, size_t errsize)
{
    if (px_url_parse(u, text, 80, PX_URL_LISTEN) == PX_OK)
        return PX_OK;
    snprintf(err, errsize, "%s in \"%.*s\" of the \"listen\" directive", u->reason,
             clamp_len(text.len), text_of(text));
    return PX_ERROR;
}

int px_addr_parse_upstream(px_url_t *u, px_str_t text, uint16_t default_port, unsigned flags,
                           char *err, size_t errsize)
{
    flags &= ~PX_URL_LISTEN;
    if (px_url_parse(u, text, default_port, flags) == PX_OK)
        return PX_OK;
    snprintf(err, errsize, "%s in upstream \"%.*s\"", u->reason, clamp_len(text.len),
             text_of(text));
    return PX_ERROR;
}

int px_addr_resolve_upstream(px_url_t *u, char *err, size_t errsize)
{
    if (px_url_resolve(u) == PX_OK)
        return PX_OK;
    snprintf(err, errsize, "%s in upstream \"%.*s\"", u->reason, clamp_len(u->host.len),
             text_of(u->host));
    return PX_ERROR;
}

static int parse_prefix(const char *p, const char *end, int max)
{
    int64_t n = px_atoi(p, (size_t)(end - p));
    return (n < 0 || n > max) ? -1 : (int)n;
}

static int cidr_parse(px_cidr_t *cidr, px_str_t text)
{
    const char *start = text.data;
    const char *end = start + text.len;
    const char *slash = find_char(start, end, '/');
    size_t len = slash ? (size_t)(slash - start) : text.len;
    int rc = PX_OK;

    memset(cidr, 0, sizeof(*cidr));

    if (px_str_eq_lit(text, "all")) {
        cidr->family = AF_UNSPEC;
        return PX_OK;
    }
    if (px_str_eq_lit(text, "unix:")) {
        cidr->family = AF_UNIX;
        return PX_OK;
    }

    if (len > 0 && px_inet6_parse(start, len, &cidr->u.v6.addr) == PX_OK) {
        int bits = 128;
        cidr->family = AF_INET6;
        if (slash && (bits = parse_prefix(slash + 1, end, 128)) < 0)
            return PX_ERROR;
        for (int i = 0; i < 16; i++) {
            int take = bits > 8 ? 8 : bits;
            bits -= take;
            uint8_t m = (uint8_t)(0xff00u >> take);
            cidr->u.v6.mask.s6_addr[i] = m;
            if (cidr->u.v6.addr.s6_addr[i] & (uint8_t)~m) {
                cidr->u.v6.addr.s6_addr[i] &= m;
                rc = PX_DONE;
            }
        }
        return rc;
    }

    cidr->family = AF_INET;
    if (px_inet4_parse(start, len, &cidr->u.v4.addr) != PX_OK)
        return PX_ERROR;
    int bits = 32;
    if (slash && (bits = parse_prefix(slash + 1, end, 32)) < 0)
        return PX_ERROR;
    uint32_t mask = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
    cidr->u.v4.mask.s_addr = mask;
    if (cidr->u.v4.addr.s_addr & ~mask) {
        cidr->u.v4.addr.s_addr &= mask;
        rc = PX_DONE;
    }
    return rc;
}

int px_cidr_parse(px_cidr_t *cidr, px_str_t text, char *msg, size_t msgsize)
{
    int rc = cidr_parse(cidr, text);

    if (msg == NULL || msgsize == 0)
        return rc;
    if (rc == PX_DONE)
        snprintf(msg, msgsize, "low address bits of %.*s are meaningless", clamp_len(text.len),
                 text_of(text));
    else if (rc == PX_ERROR)
        snprintf(msg, msgsize, "invalid parameter \"%.*s\"", clamp_len(text.len), text_of(text));
    else
        msg[0] = '\0';
    return rc;
}

int px_cidr_match(const px_cidr_t *cidr, const struct sockaddr *sa)
{
    int family = sa->sa_family;
    struct in_addr v4;
    const struct in6_addr *v6 = NULL;

    if (family == AF_INET) {
        v4 = ((const struct sockaddr_in *)sa)->sin_addr;
    } else if (family == AF_INET6) {
        v6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            memcpy(&v4.s_addr, &v6->s6_addr[12], 4);
            family = AF_INET;
        }
    } else if (family != AF_UNIX) {
        return 0;
    }

    if (cidr->family == AF_UNSPEC)
        return 1;
    if (cidr->family != family)
        return 0;

    switch (family) {
    case AF_INET:
        return (v4.s_addr & cidr->u.v4.mask.s_addr) == cidr->u.v4.addr.s_addr;
    case AF_INET6:
        for (int i = 0; i < 16; i++) {
            if ((v6->s6_addr[i] & cidr->u.v6.mask.s6_addr[i]) != cidr->u.v6.addr.s6_addr[i])
                return 0;
        }
        return 1;
    default:
        return 1;
    }
}
