/* PROXY protocol v1/v2 parser and writer, following HAProxy's proxy-protocol.txt to the
 * letter where it says "must", and nginx where the spec leaves a choice (the 4096-byte
 * bound, the TLV names). Pure: buffers in, buffers out. */
#include "px_proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>

#define V2_SIG_LEN 12
#define V2_HDR_LEN 16
#define V2_INET_LEN 12
#define V2_INET6_LEN 36
#define V2_UNIX_PATH 108
#define V2_UNIX_LEN (2 * V2_UNIX_PATH)
#define V2_SSL_FIXED 5 /* client (1) + verify (4) before the sub-TLVs */
#define V2_MAX_BLOCK 0xffff

static const unsigned char v2_sig[V2_SIG_LEN] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static int fail(char *err, size_t errlen, const char *reason)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", reason);
    return PX_ERROR;
}

/* The spec's v1 rule for IPv4: exactly four decimal numbers 0..255, one dot between each,
 * no leading zeros (they could be read as octal). */
static int parse_ipv4(const unsigned char *p, size_t n, struct in_addr *out)
{
    uint32_t addr = 0;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || p[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned value = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9' && i - start < 3)
            value = value * 10 + (unsigned)(p[i++] - '0');
        if (i == start || value > 255 || (p[start] == '0' && i - start > 1))
            return 0;
        addr = (addr << 8) | value;
    }
    if (i != n)
        return 0;
    out->s_addr = htonl(addr);
    return 1;
}

static int parse_ipv6(const unsigned char *p, size_t n, struct in6_addr *out)
{
    char text[INET6_ADDRSTRLEN];
    if (n >= sizeof(text))
        return 0;
    memcpy(text, p, n);
    text[n] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

/* Decimal 0..65535 without leading zeros, per the spec. */
static int parse_port(const unsigned char *p, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5 || (p[0] == '0' && n > 1))
        return 0;
    uint32_t value = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        value = value * 10 + (uint32_t)(p[i] - '0');
    }
    if (value > 65535)
        return 0;
    *out = (uint16_t)value;
    return 1;
}

static int is_v4_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || c == '.';
}

static int is_v6_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Reads one v1 field ending at sep, from *pos. Characters are checked as they come so that
 * a prefix is only PX_AGAIN while it could still become a valid line. */
static int v1_field(const unsigned char *buf, size_t len, size_t *pos, unsigned char sep,
                    int (*allowed)(unsigned char), size_t maxlen, const char *reason, size_t *start,
                    size_t *n, char *err, size_t errlen)
{
    size_t i = *pos;
    for (;;) {
        if (i >= PX_PP_V1_MAX_HEADER)
            return fail(err, errlen, "header too long");
        if (i >= len)
            return PX_AGAIN;
        unsigned char c = buf[i];
        if (c == sep)
            break;
        if (c == ' ' || c == '\r' || c == '\n')
            return fail(err, errlen, "broken header");
        if (!allowed(c) || i - *pos >= maxlen)
            return fail(err, errlen, reason);
        i++;
    }
    if (i == *pos)
        return fail(err, errlen, "broken header");
    *start = *pos;
    *n = i - *pos;
    *pos = i + 1;
    return PX_OK;
}

/* After "UNKNOWN" the spec has the receiver ignore everything up to the CRLF. */
static int v1_unknown(const unsigned char *buf, size_t len, px_pp_header_t *out, char *err,
                      size_t errlen)
{
    for (size_t i = 13; i < PX_PP_V1_MAX_HEADER; i++) {
        if (i >= len)
            return PX_AGAIN;
        if (i == 13 && buf[i] != ' ' && buf[i] != '\r')
            return fail(err, errlen, "broken header");
        if (buf[i] == '\n')
            return fail(err, errlen, "broken header");
        if (buf[i] != '\r')
            continue;
        if (i + 1 >= PX_PP_V1_MAX_HEADER)
            return fail(err, errlen, "header too long");
        if (i + 1 >= len)
            return PX_AGAIN;
        if (buf[i + 1] != '\n')
            return fail(err, errlen, "broken header");
        out->local = 1;
        return (int)(i + 2);
    }
    return fail(err, errlen, "header too long");
}

static void set_inet(struct sockaddr_storage *ss, socklen_t *sslen, struct in_addr a, uint16_t port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_addr = a;
    sin->sin_port = htons(port);
    *sslen = sizeof(*sin);
}

static void set_inet6(struct sockaddr_storage *ss, socklen_t *sslen, const struct in6_addr *a,
                      uint16_t port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = *a;
    sin6->sin6_port = htons(port);
    *sslen = sizeof(*sin6);
}

static int parse_v1(const unsigned char *buf, size_t len, px_pp_header_t *out, char *err,
                    size_t errlen)
{
    static const char *const protos[] = {"TCP4 ", "TCP6 ", "UNKNOWN"};
    size_t avail = len - 6;
    size_t pos = 0;
    int which = -1;

    out->version = 1;
    for (int k = 0; k < 3; k++) {
        size_t plen = strlen(protos[k]);
        size_t m = avail < plen ? avail : plen;
        if (memcmp(buf + 6, protos[k], m) != 0)
            continue;
        if (avail < plen)
            return PX_AGAIN;
        which = k;
        pos = 6 + plen;
        break;
    }
    if (which < 0)
        return fail(err, errlen, "unknown protocol");
    if (which == 2)
        return v1_unknown(buf, len, out, err, errlen);

    int v6 = which == 1;
    int (*addr_char)(unsigned char) = v6 ? is_v6_char : is_v4_char;
    size_t addr_max = v6 ? INET6_ADDRSTRLEN - 1 : INET_ADDRSTRLEN - 1;
    size_t start[4], n[4];
    static const unsigned char seps[4] = {' ', ' ', ' ', '\r'};
    for (int f = 0; f < 4; f++) {
        int is_addr = f < 2;
        int rc = v1_field(buf, len, &pos, seps[f], is_addr ? addr_char : is_digit,
                          is_addr ? addr_max : 5, is_addr ? "invalid address" : "invalid port",
                          &start[f], &n[f], err, errlen);
        if (rc != PX_OK)
            return rc;
        /* Checked once complete so a bad field is reported before waiting for the rest. */
        if (is_addr) {
            struct in_addr a4;
            struct in6_addr a6;
            int ok =
                v6 ? parse_ipv6(buf + start[f], n[f], &a6) : parse_ipv4(buf + start[f], n[f], &a4);
            if (!ok)
                return fail(err, errlen, "invalid address");
        } else {
            uint16_t port;
            if (!parse_port(buf + start[f], n[f], &port))
                return fail(err, errlen, "invalid port");
        }
    }
    if (pos >= PX_PP_V1_MAX_HEADER)
        return fail(err, errlen, "header too long");
    if (pos >= len)
        return PX_AGAIN;
    if (buf[pos] != '\n')
        return fail(err, errlen, "broken header");

    uint16_t sport, dport;
    parse_port(buf + start[2], n[2], &sport);
    parse_port(buf + start[3], n[3], &dport);
    out->transport = SOCK_STREAM;
    if (v6) {
        struct in6_addr s, d;
        parse_ipv6(buf + start[0], n[0], &s);
        parse_ipv6(buf + start[1], n[1], &d);
        out->family = AF_INET6;
        set_inet6(&out->src, &out->src_len, &s, sport);
        set_inet6(&out->dst, &out->dst_len, &d, dport);
    } else {
        struct in_addr s, d;
        parse_ipv4(buf + start[0], n[0], &s);
        parse_ipv4(buf + start[1], n[1], &d);
        out->family = AF_INET;
        set_inet(&out->src, &out->src_len, s, sport);
        set_inet(&out->dst, &out->dst_len, d, dport);
    }
    return (int)(pos + 1);
}

/* CRC32C (Castagnoli, reflected) over p, with the 4 bytes at zero_at counted as zeros: the
 * spec checksums the header with its own checksum field zeroed. */
static uint32_t crc32c(const unsigned char *p, size_t n, size_t zero_at)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (i >= zero_at && i < zero_at + 4) ? 0 : p[i];
        crc ^= b;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(unsigned char *p, size_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int add_tlv(px_pp_header_t *out, uint8_t type, uint8_t parent, const unsigned char *v,
                   size_t n, char *err, size_t errlen)
{
    if (out->ntlvs == PX_PP_MAX_TLVS)
        return fail(err, errlen, "too many TLVs");
    px_pp_tlv_t *t = &out->tlvs[out->ntlvs++];
    t->type = type;
    t->parent = parent;
    t->value = px_str_make((const char *)v, n);
    return PX_OK;
}

/* Walks TLVs in [p, p + n). hdr/hdr_len are the whole header, for the CRC32C check. */
static int parse_tlvs(const unsigned char *p, size_t n, uint8_t parent, const unsigned char *hdr,
                      size_t hdr_len, px_pp_header_t *out, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n) {
        if (n - i < 3)
            return fail(err, errlen, "broken TLV");
        uint8_t type = p[i];
        size_t vlen = (size_t)p[i + 1] << 8 | p[i + 2];
        const unsigned char *v = p + i + 3;
        if (vlen > n - i - 3)
            return fail(err, errlen, "broken TLV");
        i += 3 + vlen;
        if (type == PX_PP2_TYPE_NOOP)
            continue;
        if (parent == 0 && type == PX_PP2_TYPE_CRC32C) {
            if (vlen != 4)
                return fail(err, errlen, "broken TLV");
            if (crc32c(hdr, hdr_len, (size_t)(v - hdr)) != get32(v))
                return fail(err, errlen, "CRC32C mismatch");
        }
        if (add_tlv(out, type, parent, v, vlen, err, errlen) != PX_OK)
            return PX_ERROR;
        if (parent == 0 && type == PX_PP2_TYPE_SSL) {
            if (vlen < V2_SSL_FIXED || out->has_ssl)
                return fail(err, errlen, "broken TLV");
            out->has_ssl = 1;
            out->ssl.client = v[0];
            out->ssl.verify = get32(v + 1);
            if (parse_tlvs(v + V2_SSL_FIXED, vlen - V2_SSL_FIXED, PX_PP2_TYPE_SSL, hdr, hdr_len,
                           out, err, errlen) != PX_OK)
                return PX_ERROR;
        }
    }
    return PX_OK;
}

static void set_unix(struct sockaddr_storage *ss, socklen_t *sslen, const unsigned char *path)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)ss;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, V2_UNIX_PATH);
    /* An abstract name (leading NUL) may hold NULs, so it keeps the whole field. */
    size_t n = path[0] != 0 ? strnlen((const char *)path, V2_UNIX_PATH) : V2_UNIX_PATH;
    *sslen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static int parse_v2(const unsigned char *buf, size_t len, px_pp_header_t *out, char *err,
                    size_t errlen)
{
    size_t m = len < V2_SIG_LEN ? len : V2_SIG_LEN;
    if (memcmp(buf, v2_sig, m) != 0)
        return fail(err, errlen, "broken header");
    if (len <= V2_SIG_LEN)
        return PX_AGAIN;

    out->version = 2;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
    if (ver != 2)
        return fail(err, errlen, "unsupported version");
    if (cmd > 1)
        return fail(err, errlen, "unsupported command");
    if (len <= 13)
        return PX_AGAIN;

    /* LOCAL: the spec has the receiver discard the block, family included, unchecked. */
    unsigned fam = buf[13] >> 4, trans = buf[13] & 0x0f;
    size_t need = 0;
    if (cmd == 1) {
        static const size_t fam_len[4] = {0, V2_INET_LEN, V2_INET6_LEN, V2_UNIX_LEN};
        if (fam > 3)
            return fail(err, errlen, "unsupported address family");
        if (trans > 2)
            return fail(err, errlen, "unsupported transport");
        need = fam_len[fam];
    }
    if (len < V2_HDR_LEN)
        return PX_AGAIN;

    size_t block = (size_t)buf[14] << 8 | buf[15];
    size_t total = V2_HDR_LEN + block;
    if (total > PX_PP_MAX_HEADER)
        return fail(err, errlen, "header too long");
    if (block < need)
        return fail(err, errlen, "address block too short");
    if (len < total)
        return PX_AGAIN;

    if (cmd == 0 || fam == 0) {
        out->local = 1;
        return (int)total;
    }

    static const int transports[3] = {0, SOCK_STREAM, SOCK_DGRAM};
    const unsigned char *a = buf + V2_HDR_LEN;
    out->transport = transports[trans];
    if (fam == 1) {
        struct in_addr s, d;
        memcpy(&s, a, 4);
        memcpy(&d, a + 4, 4);
        out->family = AF_INET;
        set_inet(&out->src, &out->src_len, s, (uint16_t)(a[8] << 8 | a[9]));
        set_inet(&out->dst, &out->dst_len, d, (uint16_t)(a[10] << 8 | a[11]));
    } else if (fam == 2) {
        struct in6_addr s, d;
        memcpy(&s, a, 16);
        memcpy(&d, a + 16, 16);
        out->family = AF_INET6;
        set_inet6(&out->src, &out->src_len, &s, (uint16_t)(a[32] << 8 | a[33]));
        set_inet6(&out->dst, &out->dst_len, &d, (uint16_t)(a[34] << 8 | a[35]));
    } else {
        out->family = AF_UNIX;
        set_unix(&out->src, &out->src_len, a);
        set_unix(&out->dst, &out->dst_len, a + V2_UNIX_PATH);
    }
    if (parse_tlvs(a + need, block - need, 0, buf, total, out, err, errlen) != PX_OK)
        return PX_ERROR;
    return (int)total;
}

int px_pp_parse(const unsigned char *buf, size_t len, px_pp_header_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->family = AF_UNSPEC;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (len == 0)
        return PX_AGAIN;
    if (buf[0] == v2_sig[0])
        return parse_v2(buf, len, out, err, errlen);
    size_t m = len < 6 ? len : 6;
    if (memcmp(buf, "PROXY ", m) != 0)
        return fail(err, errlen, "broken header");
    if (len < 6)
        return PX_AGAIN;
    return parse_v1(buf, len, out, err, errlen);
}

const px_pp_tlv_t *px_pp_tlv(const px_pp_header_t *h, unsigned type)
{
    for (size_t i = 0; i < h->ntlvs; i++) {
        if (h->tlvs[i].type == type)
            return &h->tlvs[i];
    }
    return NULL;
}

size_t px_pp_error_message(const unsigned char *buf, size_t n, const char *err, char *out, size_t outlen)
{
    static const unsigned char sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    int len;
    if (outlen == 0)
        return 0;
    if (n >= sizeof(sig) && memcmp(buf, sig, sizeof(sig)) == 0) {
        if (err == NULL || strcmp(err, "header too long") == 0)
            len = snprintf(out, outlen, "header is too large");
        else if (strcmp(err, "unsupported version") == 0)
            len = snprintf(out, outlen, "unknown PROXY protocol version: %u", (unsigned)(buf[12] >> 4));
        else
            len = snprintf(out, outlen, "%s", err);
    } else {
        char shown[PX_PP_V1_MAX_HEADER * 4 + 1];
        size_t k = 0;
        int binary = n > 0 && buf[0] == '\r';
        for (size_t i = 0; i < n && i < PX_PP_V1_MAX_HEADER; i++) {
            unsigned char ch = buf[i];
            if (!binary && (ch == '\r' || ch == '\n'))
                break;
            if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
                shown[k++] = (char)ch;
            else
                k += (size_t)snprintf(shown + k, sizeof(shown) - k, "\\x%02X", ch);
        }
        shown[k] = '\0';
        len = snprintf(out, outlen, "broken header: \"%s\"", shown);
    }
    if (len < 0)
        return 0;
    return (size_t)len < outlen ? (size_t)len : outlen - 1;
}

int px_pp_tlv_type(px_str_t name)
{
    static const struct {
        const char *name;
        int type;
    } names[] = {
        {"alpn", PX_PP2_TYPE_ALPN},
        {"authority", PX_PP2_TYPE_AUTHORITY},
        {"unique_id", PX_PP2_TYPE_UNIQUE_ID},
        {"ssl", PX_PP2_TYPE_SSL},
        {"ssl_version", PX_PP2_SUBTYPE_SSL_VERSION},
        {"ssl_cn", PX_PP2_SUBTYPE_SSL_CN},
        {"ssl_cipher", PX_PP2_SUBTYPE_SSL_CIPHER},
        {"ssl_sig_alg", PX_PP2_SUBTYPE_SSL_SIG_ALG},
        {"ssl_key_alg", PX_PP2_SUBTYPE_SSL_KEY_ALG},
        {"netns", PX_PP2_TYPE_NETNS},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (px_str_eq_lit(name, names[i].name))
            return names[i].type;
    }
    /* nginx: an SSL sub-TLV may be named by number too, "ssl_0x21" */
    if (name.len > 4 && memcmp(name.data, "ssl_", 4) == 0) {
        name.data += 4;
        name.len -= 4;
    }
    if (name.len > 2 && name.len <= 4 && name.data[0] == '0' &&
        (name.data[1] == 'x' || name.data[1] == 'X')) {
        int64_t v = px_hextoi(name.data + 2, name.len - 2);
        return v < 0 ? -1 : (int)v;
    }
    return -1;
}

static size_t emit(unsigned char *out, size_t outlen, const void *data, size_t n)
{
    if (out == NULL)
        return n;
    if (outlen < n)
        return 0;
    memcpy(out, data, n);
    return n;
}

size_t px_pp_write_v1(unsigned char *out, size_t outlen, const struct sockaddr *src,
                      const struct sockaddr *dst)
{
    char line[PX_PP_V1_MAX_HEADER + 1];
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    int n;

    if (src != NULL && dst != NULL && src->sa_family == AF_INET && dst->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)src;
        const struct sockaddr_in *b = (const struct sockaddr_in *)dst;
        inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
        inet_ntop(AF_INET, &b->sin_addr, d, sizeof(d));
        n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", s, d,
                     (unsigned)ntohs(a->sin_port), (unsigned)ntohs(b->sin_port));
    } else if (src != NULL && dst != NULL && src->sa_family == AF_INET6 &&
               dst->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)src;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)dst;
        inet_ntop(AF_INET6, &a->sin6_addr, s, sizeof(s));
        inet_ntop(AF_INET6, &b->sin6_addr, d, sizeof(d));
        n = snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n", s, d,
                     (unsigned)ntohs(a->sin6_port), (unsigned)ntohs(b->sin6_port));
    } else {
        n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
    }
    /* inet_ntop's longest IPv6 form (embedded IPv4) can overflow the spec's 107 bytes. */
    if (n < 0 || (size_t)n >= sizeof(line))
        return 0;
    return emit(out, outlen, line, (size_t)n);
}

static size_t v2_addr_len(const struct sockaddr *src, const struct sockaddr *dst, unsigned *fam)
{
    *fam = 0;
    if (src == NULL || dst == NULL || src->sa_family != dst->sa_family)
        return 0;
    switch (src->sa_family) {
    case AF_INET:
        *fam = 1;
        return V2_INET_LEN;
    case AF_INET6:
        *fam = 2;
        return V2_INET6_LEN;
    case AF_UNIX:
        *fam = 3;
        return V2_UNIX_LEN;
    default:
        return 0;
    }
}

static void write_unix_path(unsigned char *p, const struct sockaddr *sa)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
    size_t n = sun->sun_path[0] != '\0' ? strnlen(sun->sun_path, V2_UNIX_PATH) : V2_UNIX_PATH;
    memset(p, 0, V2_UNIX_PATH);
    memcpy(p, sun->sun_path, n);
}

static unsigned char *put_tlv(unsigned char *p, uint8_t type, const void *v, size_t n)
{
    p[0] = type;
    put16(p + 1, n);
    if (n > 0)
        memcpy(p + 3, v, n);
    return p + 3 + n;
}

size_t px_pp_write_v2(unsigned char *out, size_t outlen, const struct sockaddr *src,
                      const struct sockaddr *dst, const px_pp_tlv_t *tlvs, size_t ntlvs,
                      const px_pp_ssl_t *ssl, unsigned flags)
{
    unsigned fam;
    size_t addr_len = v2_addr_len(src, dst, &fam);
    size_t tlv_len = 0, ssl_len = V2_SSL_FIXED;

    for (size_t i = 0; i < ntlvs; i++) {
        if (tlvs[i].value.len > V2_MAX_BLOCK)
            return 0;
        if (tlvs[i].parent == PX_PP2_TYPE_SSL && ssl != NULL)
            ssl_len += 3 + tlvs[i].value.len;
        else if (tlvs[i].parent == 0)
            tlv_len += 3 + tlvs[i].value.len;
        else
            return 0;
    }
    if (ssl != NULL) {
        if (ssl_len > V2_MAX_BLOCK)
            return 0;
        tlv_len += 3 + ssl_len;
    }
    if (flags & PX_PP_V2_CRC32C)
        tlv_len += 3 + 4;
    size_t block = addr_len + tlv_len;
    if (block > V2_MAX_BLOCK)
        return 0;
    size_t total = V2_HDR_LEN + block;
    if (out == NULL)
        return total;
    if (outlen < total)
        return 0;

    memcpy(out, v2_sig, V2_SIG_LEN);
    out[12] = (unsigned char)(0x20 | (src != NULL ? 1 : 0));
    out[13] = (unsigned char)(fam << 4 | (flags & PX_PP_V2_DGRAM ? 2 : 1));
    put16(out + 14, block);
    unsigned char *p = out + V2_HDR_LEN;
    if (fam == 1) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)src;
        const struct sockaddr_in *b = (const struct sockaddr_in *)dst;
        memcpy(p, &a->sin_addr, 4);
        memcpy(p + 4, &b->sin_addr, 4);
        memcpy(p + 8, &a->sin_port, 2);
        memcpy(p + 10, &b->sin_port, 2);
    } else if (fam == 2) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)src;
        const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)dst;
        memcpy(p, &a->sin6_addr, 16);
        memcpy(p + 16, &b->sin6_addr, 16);
        memcpy(p + 32, &a->sin6_port, 2);
        memcpy(p + 34, &b->sin6_port, 2);
    } else if (fam == 3) {
        write_unix_path(p, src);
        write_unix_path(p + V2_UNIX_PATH, dst);
    }
    p += addr_len;

    for (size_t i = 0; i < ntlvs; i++) {
        if (tlvs[i].parent == 0)
            p = put_tlv(p, tlvs[i].type, tlvs[i].value.data, tlvs[i].value.len);
    }
    if (ssl != NULL) {
        p[0] = PX_PP2_TYPE_SSL;
        put16(p + 1, ssl_len);
        p[3] = ssl->client;
        put32(p + 4, ssl->verify);
        p += 3 + V2_SSL_FIXED;
        for (size_t i = 0; i < ntlvs; i++) {
            if (tlvs[i].parent == PX_PP2_TYPE_SSL)
                p = put_tlv(p, tlvs[i].type, tlvs[i].value.data, tlvs[i].value.len);
        }
    }
    if (flags & PX_PP_V2_CRC32C) {
        static const unsigned char zero[4] = {0, 0, 0, 0};
        p = put_tlv(p, PX_PP2_TYPE_CRC32C, zero, 4);
        put32(p - 4, crc32c(out, total, total));
    }
    return total;
}
