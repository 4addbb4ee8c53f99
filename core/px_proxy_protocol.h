/* The PROXY protocol (HAProxy's proxy-protocol.txt, v1 text and v2 binary) as a pure codec:
 * parse a header at the start of a buffer, and write one for a backend. No sockets, no I/O;
 * the connection code feeds it bytes and decides what to do with the result. */
#ifndef PX_PROXY_PROTOCOL_H
#define PX_PROXY_PROTOCOL_H

#include <stdint.h>
#include <sys/socket.h>

#include "px_string.h"

#define PX_PP_V1_MAX_HEADER 107 /* the spec's bound, CRLF included */
#define PX_PP_MAX_HEADER 4096   /* nginx's bound for a v2 header, TLVs included */
#define PX_PP_MAX_TLVS 32       /* stored TLVs (NOOP padding is not stored) */

/* v2 TLV types, with the names nginx gives them in $proxy_protocol_tlv_NAME. */
#define PX_PP2_TYPE_ALPN 0x01           /* alpn */
#define PX_PP2_TYPE_AUTHORITY 0x02      /* authority */
#define PX_PP2_TYPE_CRC32C 0x03         /* verified by the parser when present */
#define PX_PP2_TYPE_NOOP 0x04           /* padding: skipped */
#define PX_PP2_TYPE_UNIQUE_ID 0x05      /* unique_id */
#define PX_PP2_TYPE_SSL 0x20            /* ssl: client flags, verify, then sub-TLVs */
#define PX_PP2_SUBTYPE_SSL_VERSION 0x21 /* ssl_version */
#define PX_PP2_SUBTYPE_SSL_CN 0x22      /* ssl_cn */
#define PX_PP2_SUBTYPE_SSL_CIPHER 0x23  /* ssl_cipher */
#define PX_PP2_SUBTYPE_SSL_SIG_ALG 0x24 /* ssl_sig_alg */
#define PX_PP2_SUBTYPE_SSL_KEY_ALG 0x25 /* ssl_key_alg */
#define PX_PP2_TYPE_NETNS 0x30          /* netns */

/* Bits of px_pp_ssl_t.client. */
#define PX_PP2_CLIENT_SSL 0x01
#define PX_PP2_CLIENT_CERT_CONN 0x02
#define PX_PP2_CLIENT_CERT_SESS 0x04

/* px_pp_write_v2 flags. */
#define PX_PP_V2_CRC32C 0x1u /* append a CRC32C TLV over the whole header */
#define PX_PP_V2_DGRAM 0x2u  /* announce a datagram transport instead of a stream */

typedef struct {
    uint8_t type;
    uint8_t parent; /* 0 at top level; PX_PP2_TYPE_SSL for the SSL TLV's sub-TLVs */
    px_str_t value; /* points into the parsed buffer, or the caller's bytes when writing */
} px_pp_tlv_t;

typedef struct {
    uint8_t client;  /* PX_PP2_CLIENT_* */
    uint32_t verify; /* 0 when the client certificate was verified (or none was sent) */
} px_pp_ssl_t;

typedef struct {
    int version; /* 1 or 2 */
    /* Keep the connection's own addresses: v1 UNKNOWN, v2 LOCAL, v2 PROXY with family
     * UNSPEC. family is then AF_UNSPEC and src/dst are unset. */
    int local;
    int family;    /* AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC */
    int transport; /* SOCK_STREAM, SOCK_DGRAM, or 0 when v2 says UNSPEC */
    struct sockaddr_storage src, dst;
    socklen_t src_len, dst_len;
    int has_ssl;
    px_pp_ssl_t ssl;
    size_t ntlvs;
    px_pp_tlv_t tlvs[PX_PP_MAX_TLVS]; /* in wire order; sub-TLVs follow their SSL TLV */
} px_pp_header_t;

/* Parses the header that starts buf. Returns its length in bytes (> 0) on success;
 * PX_AGAIN when buf is a proper prefix of what could still be a valid header; PX_ERROR with
 * the reason in err ("broken header", "unknown protocol", "header too long", "invalid
 * address", "invalid port", "unsupported version", "unsupported command", "unsupported
 * address family", "unsupported transport", "address block too short", "broken TLV",
 * "too many TLVs", "CRC32C mismatch"). Never reads past buf + len. */
int px_pp_parse(const unsigned char *buf, size_t len, px_pp_header_t *out, char *err,
                size_t errlen);

/* What nginx logs for a header that could not be read (err: px_pp_parse's reason, NULL when
 * it was cut short): a text one is `broken header: "..."` with the bytes that came up to the
 * end of the line (escaped as \xNN where not printable; a start like a v2 signature shown
 * escaped as far as a v1 line could go); a binary one whose signature is whole says `header
 * is too large` or `unknown PROXY protocol version: N`, else the codec's reason. Returns the
 * length written to out (NUL-terminated). */
size_t px_pp_error_message(const unsigned char *buf, size_t n, const char *err, char *out, size_t outlen);

/* The first TLV of that type, sub-TLVs of SSL included; NULL when absent. */
const px_pp_tlv_t *px_pp_tlv(const px_pp_header_t *h, unsigned type);

/* The TLV type for a $proxy_protocol_tlv_NAME suffix: nginx's names ("alpn", "ssl_cn", ...)
 * or a hex number "0x1f"; -1 for anything else. nginx's "ssl_verify" is h->ssl.verify. */
int px_pp_tlv_type(px_str_t name);

/* Write a header into out and return its length, or only return the length when out is
 * NULL; 0 when outlen is too small or the header cannot be written.
 * v1: src and dst both AF_INET or both AF_INET6 give TCP4/TCP6; anything else (NULL, unix,
 * mixed families) gives "PROXY UNKNOWN\r\n". */
size_t px_pp_write_v1(unsigned char *out, size_t outlen, const struct sockaddr *src,
                      const struct sockaddr *dst);

/* v2: src and dst of one family (INET, INET6, UNIX) give a PROXY command; src NULL gives
 * LOCAL; any other pair gives PROXY with family UNSPEC (the receiver keeps its own). tlvs with
 * parent 0 are written in order; those with parent PX_PP2_TYPE_SSL go inside one SSL TLV built from
 * ssl (ssl NULL: no SSL TLV, and such sub-TLVs are refused). The header must fit the 16-bit length
 * field. */
size_t px_pp_write_v2(unsigned char *out, size_t outlen, const struct sockaddr *src,
                      const struct sockaddr *dst, const px_pp_tlv_t *tlvs, size_t ntlvs,
                      const px_pp_ssl_t *ssl, unsigned flags);

#endif
