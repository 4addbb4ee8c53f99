/* TLS toward https upstreams: proxy_ssl_server_name, proxy_ssl_name, proxy_ssl_verify,
 * proxy_ssl_trusted_certificate, proxy_ssl_verify_depth, proxy_ssl_protocols,
 * proxy_ssl_ciphers, proxy_ssl_certificate(_key), proxy_ssl_password_file,
 * proxy_ssl_session_reuse, with nginx's defaults. A level that sets none of them shares its
 * parent's SSL_CTX; contexts and the files they name are loaded at configuration time. */
#include "proxy/proxy_ssl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "conf/conf_value.h"
#include "core/px_addr.h"
#include "core/px_ssl.h"

typedef struct {
    int server_name; /* proxy_ssl_server_name */
    int name_set;
    http_cv_t name;
    int verify;
    int verify_depth;
    px_str_t trusted_certificate;
    int protocols;
    px_str_t ciphers;
    px_str_t certificate;
    px_str_t certificate_key;
    px_str_t password_file;
    int session_reuse;
    unsigned explicit : 1; /* this level wrote a directive that shapes the context */
    SSL_CTX *ctx;
} ssl_loc_conf_t;

/* ---- directives ---- */

static const char *set_explicit_str(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    ((ssl_loc_conf_t *)conf)->explicit = 1;
    return conf_set_str(cf, n, d, conf);
}

static const char *set_explicit_flag(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    ((ssl_loc_conf_t *)conf)->explicit = 1;
    return conf_set_flag(cf, n, d, conf);
}

static const char *set_explicit_num(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    ((ssl_loc_conf_t *)conf)->explicit = 1;
    return conf_set_num(cf, n, d, conf);
}

static const char *set_name(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    ssl_loc_conf_t *sc = conf;
    if (sc->name_set)
        return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
    sc->name_set = 1;
    return http_cv_compile(cf, n->args[0].value, &sc->name);
}

static const char *set_protocols(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d, void *conf)
{
    (void)d;
    ssl_loc_conf_t *sc = conf;
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
    sc->explicit = 1;
    return NULL;
}

#define OFF(f) offsetof(ssl_loc_conf_t, f)
#define LOC_CTX (CONF_HTTP | CONF_SRV | CONF_LOC)

static const conf_directive_t ssl_directives[] = {
    {"proxy_ssl_server_name", LOC_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_LOC_CONF, OFF(server_name), NULL},
    {"proxy_ssl_name", LOC_CTX, CONF_TAKE1, set_name, CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_ssl_verify", LOC_CTX, CONF_FLAG, set_explicit_flag, CONF_HTTP_LOC_CONF, OFF(verify), NULL},
    {"proxy_ssl_verify_depth", LOC_CTX, CONF_TAKE1, set_explicit_num, CONF_HTTP_LOC_CONF, OFF(verify_depth), NULL},
    {"proxy_ssl_trusted_certificate", LOC_CTX, CONF_TAKE1, set_explicit_str, CONF_HTTP_LOC_CONF,
     OFF(trusted_certificate), NULL},
    {"proxy_ssl_protocols", LOC_CTX, CONF_1MORE, set_protocols, CONF_HTTP_LOC_CONF, 0, NULL},
    {"proxy_ssl_ciphers", LOC_CTX, CONF_TAKE1, set_explicit_str, CONF_HTTP_LOC_CONF, OFF(ciphers), NULL},
    {"proxy_ssl_certificate", LOC_CTX, CONF_TAKE1, set_explicit_str, CONF_HTTP_LOC_CONF, OFF(certificate), NULL},
    {"proxy_ssl_certificate_key", LOC_CTX, CONF_TAKE1, set_explicit_str, CONF_HTTP_LOC_CONF,
     OFF(certificate_key), NULL},
    {"proxy_ssl_password_file", LOC_CTX, CONF_TAKE1, set_explicit_str, CONF_HTTP_LOC_CONF, OFF(password_file),
     NULL},
    {"proxy_ssl_session_reuse", LOC_CTX, CONF_FLAG, conf_set_flag, CONF_HTTP_LOC_CONF, OFF(session_reuse), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

static void *create_loc_conf(conf_ctx_t *cf)
{
    ssl_loc_conf_t *sc = px_pcalloc(cf->pool, sizeof(*sc));
    if (sc == NULL)
        return NULL;
    sc->server_name = CONF_UNSET;
    sc->verify = CONF_UNSET;
    sc->verify_depth = CONF_UNSET;
    sc->protocols = CONF_UNSET;
    sc->session_reuse = CONF_UNSET;
    return sc;
}

static char **read_passwords(conf_ctx_t *cf, const char *path)
{
    char **list = px_ssl_read_passwords(cf->pool, path);
    if (list == NULL && errno)
        px_log_error(PX_LOG_EMERG, NULL, errno, "open() \"%s\" failed", path);
    else if (list == NULL)
        conf_log(cf, PX_LOG_EMERG, 0, "no passwords in \"%s\"", path);
    return list;
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int new_session(SSL *ssl, SSL_SESSION *sess);

static int build_ctx(conf_ctx_t *cf, ssl_loc_conf_t *sc)
{
    if (px_ssl_init() != PX_OK)
        return PX_ERROR;
    SSL_CTX *ctx = px_ssl_ctx_new(0, (unsigned)sc->protocols);
    if (ctx == NULL)
        return PX_ERROR;
    px_pool_cleanup_add(cf->pool, px_ssl_ctx_free, ctx);
    sc->ctx = ctx;
    if (SSL_CTX_set_cipher_list(ctx, sc->ciphers.data) == 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_set_cipher_list(\"%s\") failed%s", sc->ciphers.data,
                     px_ssl_errors());
        return PX_ERROR;
    }
    if (sc->certificate.data) {
        if (sc->certificate_key.data == NULL) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "no \"proxy_ssl_certificate_key\" is defined for certificate \"%s\"",
                         sc->certificate.data);
            return PX_ERROR;
        }
        char **passwords = NULL;
        if (sc->password_file.data && (passwords = read_passwords(cf, conf_full_path(cf, sc->password_file))) == NULL)
            return PX_ERROR;
        if (px_ssl_certificate(ctx, conf_full_path(cf, sc->certificate), conf_full_path(cf, sc->certificate_key),
                               passwords) != PX_OK)
            return PX_ERROR;
    }
    if (sc->verify) {
        if (sc->trusted_certificate.data == NULL) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "no proxy_ssl_trusted_certificate for proxy_ssl_verify");
            return PX_ERROR;
        }
        SSL_CTX_set_verify_depth(ctx, sc->verify_depth);
    }
    if (sc->trusted_certificate.data) {
        char *path = conf_full_path(cf, sc->trusted_certificate);
        if (SSL_CTX_load_verify_locations(ctx, path, NULL) == 0) {
            px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_load_verify_locations(\"%s\") failed%s", path,
                         px_ssl_errors());
            return PX_ERROR;
        }
    }
    /* the verdict is read after the handshake (nginx logs it and tries the next server):
     * the callback lets the whole chain be checked, so the error is the one nginx reports */
    SSL_CTX_set_verify(ctx, sc->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, sc->verify ? verify_cb : NULL);
    /* sessions are kept here, as they arrive: a TLS 1.3 server sends its ticket after the
     * handshake */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    return PX_OK;
}

/* Fills what c leaves unset from p, or from nginx's defaults where p has nothing either. */
static void inherit(ssl_loc_conf_t *c, const ssl_loc_conf_t *p)
{
    if (c->server_name == CONF_UNSET)
        c->server_name = p->server_name == CONF_UNSET ? 0 : p->server_name;
    if (!c->name_set && p->name_set) {
        c->name = p->name;
        c->name_set = 1;
    }
    if (c->session_reuse == CONF_UNSET)
        c->session_reuse = p->session_reuse == CONF_UNSET ? 1 : p->session_reuse;
    if (c->verify == CONF_UNSET)
        c->verify = p->verify == CONF_UNSET ? 0 : p->verify;
    if (c->verify_depth == CONF_UNSET)
        c->verify_depth = p->verify_depth == CONF_UNSET ? 1 : p->verify_depth;
    if (c->protocols == CONF_UNSET)
        c->protocols = p->protocols == CONF_UNSET ? (int)PX_SSL_DEFAULT_PROTOCOLS : p->protocols;
    if (c->ciphers.data == NULL)
        c->ciphers = p->ciphers.data ? p->ciphers : PX_STR("DEFAULT");
    if (c->trusted_certificate.data == NULL)
        c->trusted_certificate = p->trusted_certificate;
    if (c->certificate.data == NULL)
        c->certificate = p->certificate;
    if (c->certificate_key.data == NULL)
        c->certificate_key = p->certificate_key;
    if (c->password_file.data == NULL)
        c->password_file = p->password_file;
}

static const char *merge_loc_conf(conf_ctx_t *cf, void *parent, void *child)
{
    ssl_loc_conf_t *p = parent, *c = child;
    /* only the http level has no context yet: it is merged into nothing, so it takes the
     * defaults and gets its context when its first child is merged */
    if (p->ctx == NULL) {
        static const ssl_loc_conf_t unset = {.server_name = CONF_UNSET,
                                             .verify = CONF_UNSET,
                                             .verify_depth = CONF_UNSET,
                                             .protocols = CONF_UNSET,
                                             .session_reuse = CONF_UNSET};
        inherit(p, &unset);
        if (build_ctx(cf, p) != PX_OK)
            return CONF_ERROR;
    }
    inherit(c, p);
    /* a level that shapes the context has its own; the others share their parent's */
    if (c->explicit)
        return build_ctx(cf, c) == PX_OK ? NULL : CONF_ERROR;
    c->ctx = p->ctx;
    return NULL;
}

conf_module_t proxy_ssl_module = {
    .name = "proxy_ssl",
    .directives = ssl_directives,
    .create_loc_conf = create_loc_conf,
    .merge_loc_conf = merge_loc_conf,
};

/* ---- sessions kept per worker, by context and peer address ---- */

#define SESSIONS 64

static struct {
    SSL_CTX *ctx;
    struct sockaddr_storage peer;
    socklen_t len;
    SSL_SESSION *session;
    unsigned long used;
} sessions[SESSIONS];
static unsigned long session_clock;

static int session_slot(SSL_CTX *ctx, const px_conn_t *up, int create)
{
    int free_slot = -1, oldest = 0;
    for (int i = 0; i < SESSIONS; i++) {
        if (sessions[i].ctx == ctx &&
            px_addr_equal((struct sockaddr *)&sessions[i].peer, sessions[i].len, (struct sockaddr *)&up->peer,
                          up->peer_len))
            return i;
        if (sessions[i].ctx == NULL && free_slot < 0)
            free_slot = i;
        if (sessions[i].used < sessions[oldest].used)
            oldest = i;
    }
    if (!create)
        return -1;
    int i = free_slot >= 0 ? free_slot : oldest;
    if (sessions[i].session)
        SSL_SESSION_free(sessions[i].session);
    sessions[i].ctx = ctx;
    memcpy(&sessions[i].peer, &up->peer, up->peer_len);
    sessions[i].len = up->peer_len;
    sessions[i].session = NULL;
    return i;
}

static int name_index = -1; /* SSL ex data: the name the certificate must carry */
static int reuse_index = -1; /* SSL ex data: non-NULL when sessions are kept */

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    px_conn_t *up = SSL_get_ex_data(ssl, px_ssl_conn_index);
    if (up == NULL || reuse_index < 0 || SSL_get_ex_data(ssl, reuse_index) == NULL)
        return 0;
    int i = session_slot(SSL_get_SSL_CTX(ssl), up, 1);
    if (sessions[i].session)
        SSL_SESSION_free(sessions[i].session);
    sessions[i].session = sess;
    sessions[i].used = ++session_clock;
    return 1; /* the reference is ours now */
}

/* ---- the handshake ---- */

static ssl_loc_conf_t *loc_ssl(http_request_t *r)
{
    return http_get_module_loc_conf(r, proxy_ssl_module);
}

/* The name for SNI and verification: proxy_ssl_name, or the proxy_pass host without its
 * port. */
static int ssl_name(http_request_t *r, ssl_loc_conf_t *sc, px_str_t host, px_str_t *out)
{
    px_str_t name = host;
    if (sc->name_set && http_cv_eval(r, &sc->name, &name) != PX_OK)
        return PX_ERROR;
    if (name.len > 0 && name.data[0] != '[') {
        const char *colon = memchr(name.data, ':', name.len);
        if (colon)
            name.len = (size_t)(colon - name.data);
    } else if (name.len > 0) {
        const char *end = memchr(name.data, ']', name.len);
        if (end)
            name.len = (size_t)(end - name.data) + 1;
    }
    *out = name;
    return PX_OK;
}

static int is_ip_literal(px_str_t name)
{
    char buf[64];
    if (name.len == 0 || name.len >= sizeof(buf))
        return name.len == 0;
    memcpy(buf, name.data, name.len);
    buf[name.len] = '\0';
    unsigned char addr[16];
    if (buf[0] == '[' && name.len > 2) {
        buf[name.len - 1] = '\0';
        return inet_pton(AF_INET6, buf + 1, addr) == 1;
    }
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

int proxy_ssl_start(http_request_t *r, px_conn_t *up, px_str_t host)
{
    ssl_loc_conf_t *sc = loc_ssl(r);
    if (sc->ctx == NULL || px_ssl_create(up, sc->ctx, 0) != PX_OK)
        return PX_ERROR;
    px_str_t name;
    if (ssl_name(r, sc, host, &name) != PX_OK)
        return PX_ERROR;
    char *cname = px_pstrdup(r->pool, name.data, name.len);
    if (cname == NULL)
        return PX_ERROR;
    if (sc->server_name && !is_ip_literal(name) && SSL_set_tlsext_host_name(up->ssl, cname) == 0) {
        px_log_error(PX_LOG_ERR, &r->log, 0, "SSL_set_tlsext_host_name(\"%s\") failed%s", cname, px_ssl_errors());
        return PX_ERROR;
    }
    if (name_index < 0) {
        name_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        reuse_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    /* the certificate must name this host: checked after the handshake, as nginx does, by
     * DNS names (an IP address is compared as a name) */
    SSL_set_ex_data(up->ssl, name_index, cname);
    SSL_set_ex_data(up->ssl, reuse_index, sc->session_reuse ? sc : NULL);
    if (sc->session_reuse) {
        /* a session is resumed only toward the name it was made for */
        int sni = sc->server_name && !is_ip_literal(name);
        int i = session_slot(sc->ctx, up, 0);
        const char *made_for = i >= 0 && sessions[i].session ? SSL_SESSION_get0_hostname(sessions[i].session) : NULL;
        if (i >= 0 && sessions[i].session && (sni ? made_for && strcmp(made_for, cname) == 0 : made_for == NULL))
            SSL_set_session(up->ssl, sessions[i].session);
    }
    return PX_OK;
}

int proxy_ssl_handshake(http_request_t *r, px_conn_t *up, const char **why)
{
    static char reason[1400];
    int rc = px_ssl_handshake(up);
    if (rc == PX_AGAIN)
        return PX_AGAIN;
    if (rc != PX_OK) {
        *why = px_ssl_handshake_error(NULL);
        return PX_ERROR;
    }
    ssl_loc_conf_t *sc = loc_ssl(r);
    const char *name = SSL_get_ex_data(up->ssl, name_index);
    SSL_set_ex_data(up->ssl, name_index, NULL); /* it lives in the request's pool */
    if (sc->verify) {
        long v = SSL_get_verify_result(up->ssl);
        if (v != X509_V_OK) {
            snprintf(reason, sizeof(reason), "upstream SSL certificate verify error: (%ld:%s)", v,
                     X509_verify_cert_error_string(v));
            *why = reason;
            return PX_ERROR;
        }
        X509 *cert = SSL_get0_peer_certificate(up->ssl);
        if (cert == NULL || name == NULL || X509_check_host(cert, name, strlen(name), 0, NULL) != 1) {
            snprintf(reason, sizeof(reason), "upstream SSL certificate does not match \"%s\"", name ? name : "");
            *why = reason;
            return PX_ERROR;
        }
    }
    return PX_OK;
}
