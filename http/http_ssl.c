/* TLS termination for http{}: the ssl_* directives with nginx's defaults and messages, one
 * SSL_CTX per server built at load (certificates are read under -t too: reading is what -t
 * checks), sessions in a cache shared by the workers, SNI choosing the server, and the
 * per-connection handshake that runs before the first request is read. */
#include "http/http_ssl.h"
#include "http/http_v2.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "conf/conf_value.h"
#include "core/px_shm.h"
#include "core/px_ssl.h"
#include "core/px_ssl_cache.h"
#include "core/px_time.h"
#include "http/http_listen.h"
#include "http/http_server_name.h"

enum { VERIFY_OFF, VERIFY_ON, VERIFY_OPTIONAL, VERIFY_OPTIONAL_NO_CA };
enum { CACHE_UNSET = -1, CACHE_OFF, CACHE_NONE, CACHE_ON };

typedef struct {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
    size_t size; /* 32 (AES-128, 48-byte file) or 64 (AES-256, 80-byte file) */
} ticket_key_t;

typedef struct {
    px_array_t *certificates; /* px_str_t */
    px_array_t *keys;         /* px_str_t */
    const char *certs_file;   /* where the first ssl_certificate was, for messages */
    unsigned certs_line;
    px_str_t password_file;
    char **passwords; /* read from password_file, NULL-terminated */
    int protocols; /* PX_SSL_* bits, CONF_UNSET */
    px_str_t ciphers;
    int prefer_server_ciphers;
    px_str_t ecdh_curve;
    px_str_t dhparam;
    int cache; /* CACHE_* */
    int64_t builtin_size; /* -1: none; 0: OpenSSL's default */
    px_shm_zone_t *shared;
    int64_t session_timeout; /* seconds */
    int session_tickets;
    px_array_t *ticket_key_files; /* ticket_key_t, in the order written */
    int verify; /* VERIFY_*, CONF_UNSET */
    int verify_depth;
    px_str_t client_certificate;
    px_str_t trusted_certificate;
    px_str_t crl;
    int reject_handshake;
    int early_data;
    size_t buffer_size;

    SSL_CTX *ctx;
    http_core_srv_conf_t *srv;
    ticket_key_t *ticket_keys; /* the last written first: it encrypts, all decrypt (nginx) */
    size_t nticket_keys;
} ssl_srv_conf_t;

typedef struct {
    px_array_t zones; /* zone_ref_t: shared caches by name */
} ssl_main_conf_t;

typedef struct {
    px_str_t name;
    int64_t size;
    px_shm_zone_t *zone;
} zone_ref_t;

static int ctx_srv_index = -1; /* SSL_CTX ex data: its ssl_srv_conf_t */

#define SRV(srv) ((ssl_srv_conf_t *)(srv)->ctx->srv_conf[http_ssl_module.index])

/* ---- directives ---- */

static const char *push_path(conf_ctx_t *cf, px_array_t **list, px_str_t value)
{
    if (*list == NULL) {
        *list = px_palloc(cf->pool, sizeof(**list));
        if (*list == NULL || px_array_init(*list, cf->pool, 2, sizeof(px_str_t)) != PX_OK)
            return CONF_ERROR;
    }
    px_str_t *p = px_array_push(*list);
    if (p == NULL)
        return CONF_ERROR;
    char *full = conf_full_path(cf, value);
    *p = px_str_make(full, strlen(full));
    return NULL;
}

static const char *set_certificate(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    ssl_srv_conf_t *sc = conf;
    if (sc->certificates == NULL) {
        sc->certs_file = n->file;
        sc->certs_line = n->line;
    }
    return push_path(cf, &sc->certificates, n->args[0].value);
}

static const char *set_certificate_key(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                       void *conf)
{
    (void)d;
    return push_path(cf, &((ssl_srv_conf_t *)conf)->keys, n->args[0].value);
}

/* The key file is read where the directive is, so that its errors name that line. */
static const char *set_ticket_key(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    ssl_srv_conf_t *sc = conf;
    char *path = conf_full_path(cf, n->args[0].value);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        conf_log(cf, PX_LOG_EMERG, errno, "open() \"%s\" failed", path);
        return CONF_ERROR;
    }
    unsigned char buf[81];
    size_t got = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (got != 48 && got != 80)
        return px_psprintf(cf->pool, "\"%s\" must be 48 or 80 bytes", path);
    if (sc->ticket_key_files == NULL) {
        sc->ticket_key_files = px_palloc(cf->pool, sizeof(*sc->ticket_key_files));
        if (sc->ticket_key_files == NULL ||
            px_array_init(sc->ticket_key_files, cf->pool, 2, sizeof(ticket_key_t)) != PX_OK)
            return CONF_ERROR;
    }
    ticket_key_t *k = px_array_push(sc->ticket_key_files);
    if (k == NULL)
        return CONF_ERROR;
    memset(k, 0, sizeof(*k));
    memcpy(k->name, buf, 16);
    size_t half = got == 48 ? 16 : 32;
    memcpy(k->hmac, buf + 16, half);
    memcpy(k->aes, buf + 16 + half, half);
    k->size = 2 * half;
    return NULL;
}

static const char *set_protocols(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    ssl_srv_conf_t *sc = conf;
    if (sc->protocols != CONF_UNSET)
        return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
    unsigned bits = 0;
    for (size_t i = 0; i < n->nargs; i++) {
        unsigned bit;
        if (px_ssl_protocol_bit(n->args[i].value, &bit) != PX_OK)
            return px_psprintf(cf->pool, "invalid value \"%s\"", n->args[i].value.data);
        bits |= bit;
    }
    sc->protocols = (int)bits;
    return NULL;
}

/* off | none | builtin[:size] | shared:name:size, the last two together allowed. */
static const char *set_session_cache(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                     void *conf)
{
    (void)d;
    ssl_srv_conf_t *sc = conf;
    if (sc->cache != CACHE_UNSET)
        return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
    ssl_main_conf_t *mc = cf->http->main_conf[http_ssl_module.index];
    for (size_t i = 0; i < n->nargs; i++) {
        px_str_t v = n->args[i].value;
        if (px_str_eq_lit(v, "off") || px_str_eq_lit(v, "none")) {
            if (n->nargs > 1)
                return px_psprintf(cf->pool, "invalid session cache \"%s\"", v.data);
            sc->cache = px_str_eq_lit(v, "off") ? CACHE_OFF : CACHE_NONE;
            return NULL;
        }
        if (px_str_eq_lit(v, "builtin")) {
            sc->builtin_size = 0;
            continue;
        }
        if (v.len > 8 && memcmp(v.data, "builtin:", 8) == 0) {
            int64_t size = conf_parse_number(px_str_make(v.data + 8, v.len - 8));
            if (size <= 0)
                return px_psprintf(cf->pool, "invalid session cache \"%s\"", v.data);
            sc->builtin_size = size;
            continue;
        }
        if (v.len > 7 && memcmp(v.data, "shared:", 7) == 0) {
            const char *name = v.data + 7;
            const char *colon = memchr(name, ':', v.len - 7);
            if (colon == NULL || colon == name)
                return px_psprintf(cf->pool, "invalid session cache \"%s\"", v.data);
            px_str_t zname = px_str_make(name, (size_t)(colon - name));
            int64_t size = conf_parse_size(px_str_make(colon + 1, v.len - 7 - zname.len - 1));
            if (size < 0)
                return px_psprintf(cf->pool, "invalid session cache \"%s\"", v.data);
            if (size < 8 * 4096)
                return px_psprintf(cf->pool, "session cache \"%s\" is too small", v.data);
            zone_ref_t *z = mc->zones.elts;
            size_t k = 0;
            while (k < mc->zones.nelts && !px_str_eq(z[k].name, zname))
                k++;
            if (k == mc->zones.nelts) {
                zone_ref_t *nz = px_array_push(&mc->zones);
                if (nz == NULL)
                    return CONF_ERROR;
                nz->name = zname;
                nz->size = size;
                char *label = px_psprintf(cf->pool, "ssl session cache %.*s", (int)zname.len, zname.data);
                nz->zone = px_shm_zone_add(cf->cycle, label, (size_t)size, NULL, NULL);
                if (nz->zone == NULL)
                    return CONF_ERROR;
                z = mc->zones.elts;
            } else if (z[k].size != size) {
                return px_psprintf(cf->pool,
                                   "the size %lld of shared memory zone \"%.*s\" conflicts with already "
                                   "declared size %lld",
                                   (long long)size, (int)zname.len, zname.data, (long long)z[k].size);
            }
            sc->shared = z[k].zone;
            continue;
        }
        return px_psprintf(cf->pool, "invalid session cache \"%s\"", v.data);
    }
    sc->cache = CACHE_ON;
    return NULL;
}

/* TLS 1.3 early data is not accepted: `on` is refused rather than quietly ignored. */
static const char *set_early_data(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    const char *rv = conf_set_flag(cf, n, d, conf);
    if (rv == NULL && ((ssl_srv_conf_t *)conf)->early_data)
        return "\"ssl_early_data on\" is not supported by proxyd";
    return rv;
}

static char **read_passwords(conf_ctx_t *cf, const char *path)
{
    char **list = px_ssl_read_passwords(cf->pool, path);
    if (list == NULL && errno)
        conf_log(cf, PX_LOG_EMERG, errno, "open() \"%s\" failed", path);
    else if (list == NULL)
        conf_log(cf, PX_LOG_EMERG, 0, "no passwords in \"%s\"", path);
    return list;
}

/* The passwords are read where the directive is, as nginx does (its errors name that line). */
static const char *set_password_file(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                     void *conf)
{
    (void)d;
    ssl_srv_conf_t *sc = conf;
    if (sc->password_file.data)
        return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
    sc->password_file = n->args[0].value;
    sc->passwords = read_passwords(cf, conf_full_path(cf, n->args[0].value));
    return sc->passwords ? NULL : CONF_ERROR;
}

static const conf_enum_t verify_values[] = {{"off", VERIFY_OFF},
                                            {"on", VERIFY_ON},
                                            {"optional", VERIFY_OPTIONAL},
                                            {"optional_no_ca", VERIFY_OPTIONAL_NO_CA},
                                            {NULL, 0}};

#define OFF(f) offsetof(ssl_srv_conf_t, f)
#define SRV_CTX (CONF_HTTP | CONF_SRV)

static const conf_directive_t ssl_directives[] = {
    {"ssl_certificate", SRV_CTX, CONF_TAKE1, set_certificate, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_certificate_key", SRV_CTX, CONF_TAKE1, set_certificate_key, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_password_file", SRV_CTX, CONF_TAKE1, set_password_file, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_protocols", SRV_CTX, CONF_1MORE, set_protocols, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_ciphers", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF, OFF(ciphers), NULL},
    {"ssl_prefer_server_ciphers", SRV_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_SRV_CONF,
     OFF(prefer_server_ciphers), NULL},
    {"ssl_ecdh_curve", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF, OFF(ecdh_curve), NULL},
    {"ssl_dhparam", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF, OFF(dhparam), NULL},
    {"ssl_session_cache", SRV_CTX, CONF_TAKE12, set_session_cache, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_session_timeout", SRV_CTX, CONF_TAKE1, conf_set_sec, CONF_HTTP_SRV_CONF, OFF(session_timeout), NULL},
    {"ssl_session_tickets", SRV_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_SRV_CONF, OFF(session_tickets), NULL},
    {"ssl_session_ticket_key", SRV_CTX, CONF_TAKE1, set_ticket_key, CONF_HTTP_SRV_CONF, 0, NULL},
    {"ssl_verify_client", SRV_CTX, CONF_TAKE1, conf_set_enum, CONF_HTTP_SRV_CONF, OFF(verify), verify_values},
    {"ssl_verify_depth", SRV_CTX, CONF_TAKE1, conf_set_num, CONF_HTTP_SRV_CONF, OFF(verify_depth), NULL},
    {"ssl_client_certificate", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF, OFF(client_certificate),
     NULL},
    {"ssl_trusted_certificate", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF,
     OFF(trusted_certificate), NULL},
    {"ssl_crl", SRV_CTX, CONF_TAKE1, conf_set_str, CONF_HTTP_SRV_CONF, OFF(crl), NULL},
    {"ssl_reject_handshake", SRV_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_SRV_CONF, OFF(reject_handshake), NULL},
    {"ssl_early_data", SRV_CTX, CONF_FLAG, set_early_data, CONF_HTTP_SRV_CONF, OFF(early_data), NULL},
    {"ssl_buffer_size", SRV_CTX, CONF_TAKE1, conf_set_size, CONF_HTTP_SRV_CONF, OFF(buffer_size), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

static void *create_main_conf(conf_ctx_t *cf)
{
    ssl_main_conf_t *mc = px_pcalloc(cf->pool, sizeof(*mc));
    if (mc == NULL || px_array_init(&mc->zones, cf->pool, 2, sizeof(zone_ref_t)) != PX_OK)
        return NULL;
    return mc;
}

static void *create_srv_conf(conf_ctx_t *cf)
{
    ssl_srv_conf_t *sc = px_pcalloc(cf->pool, sizeof(*sc));
    if (sc == NULL)
        return NULL;
    sc->protocols = CONF_UNSET;
    sc->prefer_server_ciphers = CONF_UNSET;
    sc->cache = CACHE_UNSET;
    sc->builtin_size = -1;
    sc->session_timeout = CONF_UNSET;
    sc->session_tickets = CONF_UNSET;
    sc->verify = CONF_UNSET;
    sc->verify_depth = CONF_UNSET;
    sc->reject_handshake = CONF_UNSET;
    sc->early_data = CONF_UNSET;
    sc->buffer_size = CONF_UNSET_SIZE;
    return sc;
}

#define MERGE_INT(f, def)                                                                          \
    if (c->f == CONF_UNSET)                                                                        \
    c->f = p->f == CONF_UNSET ? (def) : p->f
#define MERGE_STR(f, def)                                                                          \
    if (c->f.data == NULL)                                                                         \
    c->f = p->f.data ? p->f : (def)

static const char *merge_srv_conf(conf_ctx_t *cf, void *parent, void *child)
{
    (void)cf;
    ssl_srv_conf_t *p = parent, *c = child;
    if (c->certificates == NULL) {
        c->certificates = p->certificates;
        c->certs_file = p->certs_file;
        c->certs_line = p->certs_line;
    }
    if (c->keys == NULL)
        c->keys = p->keys;
    if (c->password_file.data == NULL) {
        c->password_file = p->password_file;
        c->passwords = p->passwords;
    }
    MERGE_INT(protocols, (int)PX_SSL_DEFAULT_PROTOCOLS);
    MERGE_STR(ciphers, PX_STR("HIGH:!aNULL:!MD5"));
    MERGE_INT(prefer_server_ciphers, 0);
    MERGE_STR(ecdh_curve, PX_STR("auto"));
    MERGE_STR(dhparam, PX_NULL_STR);
    if (c->cache == CACHE_UNSET) {
        c->cache = p->cache == CACHE_UNSET ? CACHE_NONE : p->cache;
        c->builtin_size = p->builtin_size;
        c->shared = p->shared;
    }
    if (c->session_timeout == CONF_UNSET)
        c->session_timeout = p->session_timeout == CONF_UNSET ? 300 : p->session_timeout;
    MERGE_INT(session_tickets, 1);
    if (c->ticket_key_files == NULL)
        c->ticket_key_files = p->ticket_key_files;
    MERGE_INT(verify, VERIFY_OFF);
    MERGE_INT(verify_depth, 1);
    MERGE_STR(client_certificate, PX_NULL_STR);
    MERGE_STR(trusted_certificate, PX_NULL_STR);
    MERGE_STR(crl, PX_NULL_STR);
    MERGE_INT(reject_handshake, 0);
    MERGE_INT(early_data, 0);
    if (c->buffer_size == CONF_UNSET_SIZE)
        c->buffer_size = p->buffer_size == CONF_UNSET_SIZE ? 16384 : p->buffer_size;
    return NULL;
}

/* ---- shared session cache ---- */

#define MAX_SESSION 4096

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    ssl_srv_conf_t *sc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_srv_index);
    px_shm_zone_t *z = sc ? sc->shared : NULL;
    if (z == NULL || z->addr == NULL)
        return 0;
    unsigned char buf[MAX_SESSION];
    int len = i2d_SSL_SESSION(sess, NULL);
    if (len <= 0 || len > MAX_SESSION)
        return 0;
    unsigned char *p = buf;
    i2d_SSL_SESSION(sess, &p);
    unsigned int idlen;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    time_t now = px_current_sec;
    px_shmtx_lock(z->lock);
    px_ssl_cache_put(z->addr, id, idlen, buf, (size_t)len, now, now + SSL_SESSION_get_timeout(sess));
    px_shmtx_unlock(z->lock);
    return 0; /* not kept: OpenSSL frees its reference */
}

static SSL_SESSION *get_session(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
    *copy = 0;
    ssl_srv_conf_t *sc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_srv_index);
    px_shm_zone_t *z = sc ? sc->shared : NULL;
    if (z == NULL || z->addr == NULL || idlen <= 0)
        return NULL;
    unsigned char buf[MAX_SESSION];
    px_shmtx_lock(z->lock);
    ssize_t len = px_ssl_cache_get(z->addr, id, (size_t)idlen, buf, sizeof(buf), px_current_sec);
    px_shmtx_unlock(z->lock);
    if (len <= 0)
        return NULL;
    const unsigned char *p = buf;
    return d2i_SSL_SESSION(NULL, &p, (long)len);
}

static void remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    ssl_srv_conf_t *sc = SSL_CTX_get_ex_data(ctx, ctx_srv_index);
    px_shm_zone_t *z = sc ? sc->shared : NULL;
    if (z == NULL || z->addr == NULL)
        return;
    unsigned int idlen;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    px_shmtx_lock(z->lock);
    px_ssl_cache_remove(z->addr, id, idlen);
    px_shmtx_unlock(z->lock);
}

static int init_cache_zone(px_shm_zone_t *zone)
{
    if (px_ssl_cache_init(zone->addr, zone->size) != PX_OK) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "%s is too small", zone->name);
        return PX_ERROR;
    }
    return PX_OK;
}

/* ---- session tickets with keys from files (shared by every worker and across reloads) ---- */

static int ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                         EVP_MAC_CTX *hctx, int enc)
{
    ssl_srv_conf_t *sc = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_srv_index);
    if (sc == NULL || sc->nticket_keys == 0)
        return -1;
    ticket_key_t *k = NULL;
    size_t index = 0;
    if (enc) {
        k = &sc->ticket_keys[0];
        memcpy(name, k->name, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1)
            return -1;
    } else {
        for (index = 0; index < sc->nticket_keys && memcmp(name, sc->ticket_keys[index].name, 16); index++)
            ;
        if (index == sc->nticket_keys)
            return 0; /* unknown key: a full handshake */
        k = &sc->ticket_keys[index];
    }
    const EVP_CIPHER *cipher = k->size == 32 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    size_t hlen = k->size == 32 ? 16 : 32;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac, hlen),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    if (enc ? EVP_EncryptInit_ex(ectx, cipher, NULL, k->aes, iv) != 1
            : EVP_DecryptInit_ex(ectx, cipher, NULL, k->aes, iv) != 1)
        return -1;
    /* a ticket made with an older key is accepted and renewed with the current one */
    return enc || index == 0 ? 1 : 2;
}

/* ---- SNI ---- */

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1; /* the handshake goes on; the request checks the result (495), as nginx */
}

static int servername(SSL *ssl, int *alert, void *arg)
{
    (void)arg;
    px_conn_t *c = SSL_get_ex_data(ssl, px_ssl_conn_index);
    http_conn_t *hc = c ? c->data : NULL;
    if (hc == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    http_core_srv_conf_t *srv = hc->addr->default_server;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name && hc->addr->names) {
        char lower[256];
        size_t len = strlen(name);
        if (len < sizeof(lower)) {
            for (size_t i = 0; i < len; i++)
                lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
            if (len > 0 && lower[len - 1] == '.')
                len--;
            lower[len] = '\0';
            http_server_names_match_t m;
            if (http_server_names_find(hc->addr->names, lower, len, &m) == PX_OK)
                srv = m.conf;
        }
    }
    ssl_srv_conf_t *sc = SRV(srv);
    if (sc->reject_handshake) {
        hc->ssl_rejected = 1;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    hc->default_srv = srv; /* the server a request without a known Host goes to */
    http_conn_set_log(hc);
    if (sc->ctx && sc->ctx != SSL_get_SSL_CTX(ssl)) {
        SSL_set_SSL_CTX(ssl, sc->ctx);
        /* what SSL_set_SSL_CTX leaves as it was */
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(sc->ctx), SSL_CTX_get_verify_callback(sc->ctx));
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(sc->ctx));
        SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(sc->ctx));
        SSL_set_options(ssl, SSL_CTX_get_options(sc->ctx));
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: h2 first where the server (chosen by SNI) speaks HTTP/2, then HTTP/1.x; a client
 * that offers none of them is refused, as current nginx does. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    (void)arg;
    static const unsigned char with_h2[] = "\x02h2\x08http/1.1\x08http/1.0\x08http/0.9";
    const unsigned char *ours = with_h2 + 3;
    px_conn_t *c = SSL_get_ex_data(ssl, px_ssl_conn_index);
    http_conn_t *hc = c ? c->data : NULL;
    if (hc && http_v2_enabled(hc))
        ours = with_h2;
    size_t ours_len = sizeof(with_h2) - 1 - (size_t)(ours - with_h2);
    if (SSL_select_next_proto((unsigned char **)out, outlen, ours, (unsigned)ours_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- contexts ---- */

static int ssl_fail(const char *what, const char *arg)
{
    px_log_error(PX_LOG_EMERG, NULL, 0, "%s(\"%s\") failed%s", what, arg, px_ssl_errors());
    return PX_ERROR;
}

/* A session id context per server: sessions of one server do not resume on another. */
static void set_sid_context(SSL_CTX *ctx, ssl_srv_conf_t *sc)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (m && EVP_DigestInit_ex(m, EVP_sha1(), NULL) == 1) {
        px_str_t *certs = sc->certificates ? sc->certificates->elts : NULL;
        for (size_t i = 0; certs && i < sc->certificates->nelts; i++)
            EVP_DigestUpdate(m, certs[i].data, certs[i].len);
        EVP_DigestUpdate(m, sc->srv->server_name.data ? sc->srv->server_name.data : "",
                         sc->srv->server_name.len);
        if (sc->client_certificate.data)
            EVP_DigestUpdate(m, sc->client_certificate.data, sc->client_certificate.len);
        EVP_DigestFinal_ex(m, md, &mdlen);
    }
    EVP_MD_CTX_free(m);
    if (mdlen > SSL_MAX_SID_CTX_LENGTH)
        mdlen = SSL_MAX_SID_CTX_LENGTH;
    SSL_CTX_set_session_id_context(ctx, md, mdlen);
}

static int build_ctx(conf_ctx_t *cf, ssl_srv_conf_t *sc)
{
    SSL_CTX *ctx = px_ssl_ctx_new(1, (unsigned)sc->protocols);
    if (ctx == NULL)
        return PX_ERROR;
    px_pool_cleanup_add(cf->pool, px_ssl_ctx_free, ctx);
    sc->ctx = ctx;
    SSL_CTX_set_ex_data(ctx, ctx_srv_index, sc);
    SSL_CTX_set_tlsext_servername_callback(ctx, servername);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);

    char **passwords = sc->passwords;
    px_str_t *certs = sc->certificates ? sc->certificates->elts : NULL;
    px_str_t *keys = sc->keys ? sc->keys->elts : NULL;
    size_t ncerts = sc->certificates ? sc->certificates->nelts : 0;
    size_t nkeys = sc->keys ? sc->keys->nelts : 0;
    for (size_t i = 0; i < ncerts; i++) {
        if (i >= nkeys) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "no \"ssl_certificate_key\" is defined for certificate \"%s\"",
                         certs[i].data);
            return PX_ERROR;
        }
        if (px_ssl_certificate(ctx, certs[i].data, keys[i].data, passwords) != PX_OK)
            return PX_ERROR;
    }
    if (SSL_CTX_set_cipher_list(ctx, sc->ciphers.data) == 0)
        return ssl_fail("SSL_CTX_set_cipher_list", sc->ciphers.data);
    if (sc->prefer_server_ciphers)
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (!px_str_eq_lit(sc->ecdh_curve, "auto") && SSL_CTX_set1_groups_list(ctx, sc->ecdh_curve.data) == 0)
        return ssl_fail("SSL_CTX_set1_curves_list", sc->ecdh_curve.data);
    if (sc->dhparam.data) {
        char *path = conf_full_path(cf, sc->dhparam);
        BIO *bio = BIO_new_file(path, "r");
        if (bio == NULL)
            return ssl_fail("BIO_new_file", path);
        EVP_PKEY *dh = PEM_read_bio_Parameters(bio, NULL);
        BIO_free(bio);
        if (dh == NULL)
            return ssl_fail("PEM_read_bio_Parameters", path);
        if (SSL_CTX_set0_tmp_dh_pkey(ctx, dh) != 1) {
            EVP_PKEY_free(dh);
            return ssl_fail("SSL_CTX_set0_tmp_dh_pkey", path);
        }
    }
    if (sc->verify != VERIFY_OFF) {
        if (sc->client_certificate.data == NULL && sc->verify != VERIFY_OPTIONAL_NO_CA &&
            sc->trusted_certificate.data == NULL) {
            px_log_error(PX_LOG_EMERG, NULL, 0,
                         "no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client");
            return PX_ERROR;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
        SSL_CTX_set_verify_depth(ctx, sc->verify_depth);
    }
    if (sc->client_certificate.data) {
        char *path = conf_full_path(cf, sc->client_certificate);
        if (SSL_CTX_load_verify_locations(ctx, path, NULL) == 0)
            return ssl_fail("SSL_CTX_load_verify_locations", path);
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(path);
        if (names == NULL)
            return ssl_fail("SSL_load_client_CA_file", path);
        SSL_CTX_set_client_CA_list(ctx, names);
    }
    if (sc->trusted_certificate.data) {
        char *path = conf_full_path(cf, sc->trusted_certificate);
        if (SSL_CTX_load_verify_locations(ctx, path, NULL) == 0)
            return ssl_fail("SSL_CTX_load_verify_locations", path);
    }
    if (sc->crl.data) {
        char *path = conf_full_path(cf, sc->crl);
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        X509_LOOKUP *lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
        if (lookup == NULL || X509_LOOKUP_load_file(lookup, path, X509_FILETYPE_PEM) == 0)
            return ssl_fail("X509_LOOKUP_load_file", path);
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
    }

    set_sid_context(ctx, sc);
    SSL_CTX_set_timeout(ctx, (long)sc->session_timeout);
    switch (sc->cache) {
    case CACHE_OFF:
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        break;
    case CACHE_NONE:
        /* says sessions may be resumed, keeps none: some clients misbehave on "off" */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_cache_size(ctx, 1);
        break;
    default: {
        long mode = SSL_SESS_CACHE_SERVER;
        if (sc->builtin_size < 0)
            mode |= SSL_SESS_CACHE_NO_INTERNAL;
        else if (sc->builtin_size > 0)
            SSL_CTX_sess_set_cache_size(ctx, sc->builtin_size);
        SSL_CTX_set_session_cache_mode(ctx, mode);
        if (sc->shared) {
            sc->shared->init = init_cache_zone;
            SSL_CTX_sess_set_new_cb(ctx, new_session);
            SSL_CTX_sess_set_get_cb(ctx, get_session);
            SSL_CTX_sess_set_remove_cb(ctx, remove_session);
        }
        break;
    }
    }
    if (!sc->session_tickets)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    else if (sc->ticket_key_files) {
        size_t n = sc->ticket_key_files->nelts;
        ticket_key_t *written = sc->ticket_key_files->elts;
        sc->ticket_keys = px_palloc(cf->pool, n * sizeof(ticket_key_t));
        if (sc->ticket_keys == NULL)
            return PX_ERROR;
        for (size_t i = 0; i < n; i++)
            sc->ticket_keys[i] = written[n - 1 - i];
        sc->nticket_keys = n;
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
    }
    /* ssl_buffer_size: the largest record sent, so a small first answer leaves at once */
    size_t frag = sc->buffer_size < 512 ? 512 : sc->buffer_size > 16384 ? 16384 : sc->buffer_size;
    SSL_CTX_set_max_send_fragment(ctx, frag);
    return PX_OK;
}

static int postconfiguration(conf_ctx_t *cf)
{
    if (ctx_srv_index < 0) {
        if (px_ssl_init() != PX_OK)
            return PX_ERROR;
        ctx_srv_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    http_core_main_conf_t *cmcf = cf->http->main_conf[http_core_module.index];
    http_core_srv_conf_t **servers = cmcf->servers.elts;
    http_listen_t *ports = cmcf->ports.elts;
    for (size_t i = 0; i < cmcf->servers.nelts; i++) {
        ssl_srv_conf_t *sc = SRV(servers[i]);
        sc->srv = servers[i];
        int on_ssl = 0;
        for (size_t k = 0; k < cmcf->ports.nelts && !on_ssl; k++)
            on_ssl = ports[k].srv == servers[i] && ports[k].ssl;
        if (on_ssl && sc->certificates == NULL && !sc->reject_handshake) {
            px_log_error(PX_LOG_EMERG, NULL, 0,
                         "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in %s:%u",
                         servers[i]->file, servers[i]->line);
            return PX_ERROR;
        }
        if (!on_ssl && sc->certificates == NULL)
            continue;
        if (build_ctx(cf, sc) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

/* ---- the handshake of an accepted connection ---- */


static void handshake_done(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    c->log.handler = NULL;
    c->log.data = NULL;
    c->log.action = NULL;
    px_timer_del(&c->read_timer);
    const unsigned char *proto = NULL;
    unsigned len = 0;
    if (c->ssl)
        SSL_get0_alpn_selected(c->ssl, &proto, &len);
    if (len == 2 && memcmp(proto, "h2", 2) == 0) {
        http_v2_init(hc);
        return;
    }
    http_conn_begin(hc);
}

static void handshake_fail(http_conn_t *hc)
{
    px_conn_t *c = hc->c;
    int level;
    const char *why = px_ssl_handshake_error(&level);
    if (hc->ssl_rejected) {
        why = "handshake rejected";
        level = PX_LOG_INFO;
    }
    px_log_error(level, &c->log, 0, "%s", why);
    http_conn_abort(hc);
}

static void handshake(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    if (c->closing) {
        http_conn_abort(hc);
        return;
    }
    int rc = px_ssl_handshake(c);
    if (rc == PX_AGAIN)
        return;
    if (rc != PX_OK) {
        handshake_fail(hc);
        return;
    }
    handshake_done(hc);
}

/* The first byte tells TLS (a handshake record, or an SSLv2-style hello) from plain HTTP,
 * which nginx reads as a request to answer with its 400 "plain HTTP request" page. */
static void detect(px_conn_t *c)
{
    http_conn_t *hc = c->data;
    if (c->closing) {
        http_conn_abort(hc);
        return;
    }
    unsigned char byte;
    ssize_t n = http_conn_peek(hc, &byte, 1);
    if (n == PX_AGAIN)
        return;
    if (n < 0) {
        http_conn_abort(hc);
        return;
    }
    if (byte != 0x16 && !(byte & 0x80)) {
        hc->plain_on_ssl = 1;
        handshake_done(hc);
        return;
    }
    ssl_srv_conf_t *sc = SRV(hc->default_srv);
    if (sc->ctx == NULL || px_ssl_create(c, sc->ctx, 1) != PX_OK) {
        http_conn_abort(hc);
        return;
    }
    c->read_handler = c->write_handler = handshake;
    handshake(c);
}

void http_ssl_start(http_conn_t *hc)
{
    http_conn_first_read(hc, "while SSL handshaking", detect);
}

/* nginx's ngx_ssl_verify_error_optional: what optional_no_ca lets through */
static int verify_error_optional(long rc)
{
    return rc == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || rc == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
           rc == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

int http_ssl_check_request(http_request_t *r)
{
    http_conn_t *hc = r->hc;
    if (hc == NULL || !hc->addr->ssl)
        return 0;
    if (hc->plain_on_ssl) {
        px_log_error(PX_LOG_INFO, &r->log, 0, "client sent plain HTTP request to HTTPS port");
        return 497;
    }
    SSL *ssl = hc->c->ssl;
    ssl_srv_conf_t *sc = r->srv_conf[http_ssl_module.index];
    if (ssl == NULL || sc->verify == VERIFY_OFF)
        return 0;
    long rc = SSL_get_verify_result(ssl);
    if (rc != X509_V_OK && (sc->verify != VERIFY_OPTIONAL_NO_CA || !verify_error_optional(rc))) {
        px_log_error(PX_LOG_INFO, &r->log, 0, "client SSL certificate verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        return 495;
    }
    if (sc->verify == VERIFY_ON) {
        X509 *cert = SSL_get0_peer_certificate(ssl);
        if (cert == NULL) {
            px_log_error(PX_LOG_INFO, &r->log, 0, "client sent no required SSL certificate");
            return 496;
        }
    }
    return 0;
}

/* ---- variables ---- */

static SSL *request_ssl(http_request_t *r)
{
    return r->hc && r->hc->c ? r->hc->c->ssl : NULL;
}

static int set_text(http_request_t *r, http_var_value_t *v, const char *text, size_t len)
{
    char *p = px_pstrdup(r->pool, text, len);
    if (p == NULL)
        return PX_ERROR;
    v->value = px_str_make(p, len);
    return PX_OK;
}

enum {
    V_PROTOCOL,
    V_CIPHER,
    V_SERVER_NAME,
    V_SESSION_REUSED,
    V_SESSION_ID,
    V_CLIENT_VERIFY,
    V_CLIENT_S_DN,
    V_CLIENT_I_DN,
    V_CLIENT_SERIAL,
    V_CLIENT_FINGERPRINT,
    V_CLIENT_V_START,
    V_CLIENT_V_END,
    V_CLIENT_RAW_CERT,
    V_CURVE,
    V_HTTPS
};

/* The client certificate's fields that OpenSSL prints, as nginx's variables show them. */
static int cert_text(http_request_t *r, http_var_value_t *v, X509 *cert, uintptr_t which)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return PX_ERROR;
    const unsigned long dn = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
    switch (which) {
    case V_CLIENT_S_DN:
        X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, dn);
        break;
    case V_CLIENT_I_DN:
        X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0, dn);
        break;
    case V_CLIENT_SERIAL:
        i2a_ASN1_INTEGER(bio, X509_get_serialNumber(cert));
        break;
    case V_CLIENT_V_START:
        ASN1_TIME_print(bio, X509_get0_notBefore(cert));
        break;
    case V_CLIENT_V_END:
        ASN1_TIME_print(bio, X509_get0_notAfter(cert));
        break;
    default:
        PEM_write_bio_X509(bio, cert);
        break;
    }
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    int rc = set_text(r, v, data, (size_t)len);
    BIO_free(bio);
    return rc;
}

static int get_ssl_var(http_request_t *r, http_var_value_t *v, uintptr_t which)
{
    SSL *ssl = request_ssl(r);
    if (which == V_HTTPS) {
        v->value = ssl ? PX_STR("on") : PX_STR("");
        return PX_OK;
    }
    if (ssl == NULL) {
        v->not_found = 1;
        return PX_OK;
    }
    char buf[256];
    switch (which) {
    case V_PROTOCOL: {
        const char *s = SSL_get_version(ssl);
        return set_text(r, v, s, strlen(s));
    }
    case V_CIPHER: {
        const char *s = SSL_get_cipher_name(ssl);
        return set_text(r, v, s, strlen(s));
    }
    case V_SERVER_NAME: {
        const char *s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        if (s == NULL) {
            v->value = PX_STR("");
            return PX_OK;
        }
        return set_text(r, v, s, strlen(s));
    }
    case V_SESSION_REUSED:
        v->value = SSL_session_reused(ssl) ? PX_STR("r") : PX_STR(".");
        return PX_OK;
    case V_SESSION_ID: {
        SSL_SESSION *sess = SSL_get0_session(ssl);
        unsigned int len = 0;
        const unsigned char *id = sess ? SSL_SESSION_get_id(sess, &len) : NULL;
        size_t n = 0;
        for (unsigned int i = 0; id && i < len && n + 3 < sizeof(buf); i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%02x", id[i]);
        return set_text(r, v, buf, n);
    }
    case V_CURVE: {
        int nid = SSL_get_negotiated_group(ssl);
        const char *s = nid ? OBJ_nid2sn(nid & ~TLSEXT_nid_unknown) : "";
        return set_text(r, v, s ? s : "", s ? strlen(s) : 0);
    }
    default:
        break;
    }
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (which == V_CLIENT_VERIFY) {
        if (cert == NULL) {
            v->value = PX_STR("NONE");
            return PX_OK;
        }
        long rc = SSL_get_verify_result(ssl);
        if (rc == X509_V_OK) {
            v->value = PX_STR("SUCCESS");
            return PX_OK;
        }
        int n = snprintf(buf, sizeof(buf), "FAILED:%s", X509_verify_cert_error_string(rc));
        return set_text(r, v, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
    }
    if (cert == NULL) {
        v->value = PX_STR("");
        return PX_OK;
    }
    switch (which) {
    case V_CLIENT_S_DN:
    case V_CLIENT_I_DN:
    case V_CLIENT_SERIAL:
    case V_CLIENT_V_START:
    case V_CLIENT_V_END:
    case V_CLIENT_RAW_CERT:
        return cert_text(r, v, cert, which);
    case V_CLIENT_FINGERPRINT: {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (X509_digest(cert, EVP_sha1(), md, &len) == 0)
            return PX_ERROR;
        size_t n = 0;
        for (unsigned int i = 0; i < len; i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%02x", md[i]);
        return set_text(r, v, buf, n);
    }
    default:
        v->not_found = 1;
        return PX_OK;
    }
}

static int preconfiguration(conf_ctx_t *cf)
{
    static const http_var_def_t defs[] = {
        {PX_STR("ssl_protocol"), get_ssl_var, V_PROTOCOL, 0},
        {PX_STR("ssl_cipher"), get_ssl_var, V_CIPHER, 0},
        {PX_STR("ssl_server_name"), get_ssl_var, V_SERVER_NAME, 0},
        {PX_STR("ssl_session_reused"), get_ssl_var, V_SESSION_REUSED, 0},
        {PX_STR("ssl_session_id"), get_ssl_var, V_SESSION_ID, 0},
        {PX_STR("ssl_client_verify"), get_ssl_var, V_CLIENT_VERIFY, 0},
        {PX_STR("ssl_client_s_dn"), get_ssl_var, V_CLIENT_S_DN, 0},
        {PX_STR("ssl_client_i_dn"), get_ssl_var, V_CLIENT_I_DN, 0},
        {PX_STR("ssl_client_serial"), get_ssl_var, V_CLIENT_SERIAL, 0},
        {PX_STR("ssl_client_fingerprint"), get_ssl_var, V_CLIENT_FINGERPRINT, 0},
        {PX_STR("ssl_client_v_start"), get_ssl_var, V_CLIENT_V_START, 0},
        {PX_STR("ssl_client_v_end"), get_ssl_var, V_CLIENT_V_END, 0},
        {PX_STR("ssl_client_raw_cert"), get_ssl_var, V_CLIENT_RAW_CERT, 0},
        {PX_STR("ssl_curve"), get_ssl_var, V_CURVE, 0},
        {PX_STR("https"), get_ssl_var, V_HTTPS, 0},
    };
    return http_var_define_all(cf, defs, sizeof(defs) / sizeof(defs[0]));
}

conf_module_t http_ssl_module = {
    .name = "http_ssl",
    .directives = ssl_directives,
    .preconfiguration = preconfiguration,
    .create_main_conf = create_main_conf,
    .create_srv_conf = create_srv_conf,
    .merge_srv_conf = merge_srv_conf,
    .postconfiguration = postconfiguration,
};
