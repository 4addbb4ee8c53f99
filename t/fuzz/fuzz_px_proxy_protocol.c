/* libFuzzer target for the PROXY protocol codec: parsing never reads past the input, slices
 * stay inside the header, a header's proper prefix is PX_AGAIN, and whatever parses is
 * written back by the matching writer and parses to the same addresses and TLVs. */
#include <stdlib.h>
#include <sys/un.h>

#include "core/px_proxy_protocol.h"

static void check(int ok)
{
    if (!ok)
        abort();
}

static int same_addr(const px_pp_header_t *a, const px_pp_header_t *b)
{
    if (a->family != b->family || a->src_len != b->src_len || a->dst_len != b->dst_len)
        return 0;
    if (a->family == AF_UNIX) {
        size_t off = offsetof(struct sockaddr_un, sun_path);
        return memcmp(&a->src, &b->src, a->src_len) == 0 &&
               memcmp(&a->dst, &b->dst, a->dst_len) == 0 && a->src_len >= off;
    }
    return memcmp(&a->src, &b->src, a->src_len) == 0 && memcmp(&a->dst, &b->dst, a->dst_len) == 0;
}

/* The TLVs the writer reproduces, in its order: top level first, then the SSL sub-TLVs.
 * The SSL TLV itself is rebuilt from h->ssl and the CRC32C is not asked for. */
static size_t writable_tlvs(const px_pp_header_t *h, px_pp_tlv_t *out)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < h->ntlvs; i++) {
            const px_pp_tlv_t *t = &h->tlvs[i];
            if (t->parent == 0 && (t->type == PX_PP2_TYPE_SSL || t->type == PX_PP2_TYPE_CRC32C))
                continue;
            if ((pass == 0) == (t->parent == 0))
                out[n++] = *t;
        }
    }
    return n;
}

static void round_trip_v2(const px_pp_header_t *h)
{
    px_pp_tlv_t tlvs[PX_PP_MAX_TLVS], again_tlvs[PX_PP_MAX_TLVS];
    size_t ntlvs = writable_tlvs(h, tlvs);
    const struct sockaddr *src = (const struct sockaddr *)&h->src;
    const struct sockaddr *dst = (const struct sockaddr *)&h->dst;
    unsigned flags = h->transport == SOCK_DGRAM ? PX_PP_V2_DGRAM : 0;
    const px_pp_ssl_t *ssl = h->has_ssl ? &h->ssl : NULL;

    /* Ask for a CRC32C too whenever it still fits the parser's bounds. */
    int has_crc = px_pp_tlv(h, PX_PP2_TYPE_CRC32C) != NULL;
    if (px_pp_write_v2(NULL, 0, src, dst, tlvs, ntlvs, ssl, flags | PX_PP_V2_CRC32C) <=
            PX_PP_MAX_HEADER &&
        (has_crc || h->ntlvs < PX_PP_MAX_TLVS))
        flags |= PX_PP_V2_CRC32C;
    size_t need = px_pp_write_v2(NULL, 0, src, dst, tlvs, ntlvs, ssl, flags);
    check(need > 0 && need <= PX_PP_MAX_HEADER);
    unsigned char *buf = malloc(need);
    check(px_pp_write_v2(buf, need, src, dst, tlvs, ntlvs, ssl, flags) == need);

    px_pp_header_t again;
    char err[128];
    int rc = px_pp_parse(buf, need, &again, err, sizeof(err));
    check(rc == (int)need);
    check(again.version == 2 && again.local == 0 && same_addr(h, &again));
    check(h->transport == 0 || again.transport == h->transport);
    check(again.has_ssl == h->has_ssl);
    check(!h->has_ssl || (again.ssl.client == h->ssl.client && again.ssl.verify == h->ssl.verify));
    check(writable_tlvs(&again, again_tlvs) == ntlvs);
    for (size_t i = 0; i < ntlvs; i++) {
        check(again_tlvs[i].type == tlvs[i].type && again_tlvs[i].parent == tlvs[i].parent);
        check(px_str_eq(again_tlvs[i].value, tlvs[i].value));
    }
    free(buf);
}

static void round_trip_v1(const px_pp_header_t *h, const uint8_t *data, size_t len)
{
    unsigned char buf[PX_PP_V1_MAX_HEADER];
    size_t n = px_pp_write_v1(buf, sizeof(buf), (const struct sockaddr *)&h->src,
                              (const struct sockaddr *)&h->dst);
    check(n > 0);
    px_pp_header_t again;
    check(px_pp_parse(buf, n, &again, NULL, 0) == (int)n);
    check(again.version == 1 && again.local == 0 && same_addr(h, &again));
    /* The v1 grammar for IPv4 leaves one spelling per address: the input is canonical. */
    if (h->family == AF_INET)
        check(n == len && memcmp(buf, data, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_pp_header_t h;
    char err[128];
    /* An exact-size copy so that ASan sees any read past the end. */
    unsigned char *buf = malloc(size > 0 ? size : 1);
    memcpy(buf, data, size);
    int rc = px_pp_parse(buf, size, &h, err, sizeof(err));
    check(rc > 0 || rc == PX_AGAIN || rc == PX_ERROR);
    check(rc != PX_ERROR || err[0] != '\0');
    if (rc > 0) {
        size_t len = (size_t)rc;
        check(len <= size && len <= PX_PP_MAX_HEADER);
        check(h.version != 1 || len <= PX_PP_V1_MAX_HEADER);
        for (size_t i = 0; i < h.ntlvs; i++) {
            const unsigned char *v = (const unsigned char *)h.tlvs[i].value.data;
            check(v >= buf && v + h.tlvs[i].value.len <= buf + len);
        }
        px_pp_header_t prefix;
        check(px_pp_parse(buf, len - 1, &prefix, NULL, 0) == PX_AGAIN);
        check(h.local == (h.family == AF_UNSPEC));
        if (!h.local && h.version == 2)
            round_trip_v2(&h);
        else if (!h.local)
            round_trip_v1(&h, buf, len);
    }
    free(buf);
    return 0;
}
