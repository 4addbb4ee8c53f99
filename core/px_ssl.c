/* TLS with OpenSSL 3: contexts, certificates, and the non-blocking I/O of one connection. */
#include "core/px_ssl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

int px_ssl_conn_index = -1;

int px_ssl_init(void)
{
    if (px_ssl_conn_index >= 0)
        return PX_OK;
    if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL) == 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "OPENSSL_init_ssl() failed%s", px_ssl_errors());
        return PX_ERROR;
    }
    px_ssl_conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (px_ssl_conn_index < 0) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_get_ex_new_index() failed%s", px_ssl_errors());
        return PX_ERROR;
    }
    return PX_OK;
}

const char *px_ssl_errors(void)
{
    static char text[1024];
    size_t pos = 0;
    const char *data;
    int flags;
    unsigned long e;
    text[0] = '\0';
    while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
        if (pos + 16 >= sizeof(text))
            continue; /* drain what does not fit */
        if (pos == 0)
            pos += (size_t)snprintf(text, sizeof(text), " (SSL:");
        text[pos++] = ' ';
        ERR_error_string_n(e, text + pos, sizeof(text) - pos);
        pos += strlen(text + pos);
        if ((flags & ERR_TXT_STRING) && data && *data && pos + 2 < sizeof(text)) {
            int n = snprintf(text + pos, sizeof(text) - pos, ":%s", data);
            pos = n > 0 && pos + (size_t)n < sizeof(text) ? pos + (size_t)n : sizeof(text) - 2;
        }
    }
    if (pos > 0) {
        if (pos + 2 > sizeof(text))
            pos = sizeof(text) - 2;
        text[pos++] = ')';
        text[pos] = '\0';
    }
    return text;
}

void px_ssl_clear_errors(void)
{
    ERR_clear_error();
}

int px_ssl_protocol_bit(px_str_t name, unsigned *bit)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"SSLv2", 0},
                 {"SSLv3", 0},
                 {"TLSv1", PX_SSL_TLSv1},
                 {"TLSv1.1", PX_SSL_TLSv1_1},
                 {"TLSv1.2", PX_SSL_TLSv1_2},
                 {"TLSv1.3", PX_SSL_TLSv1_3}};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (px_str_eq_lit(name, names[k].name)) {
            *bit = names[k].bit;
            return PX_OK;
        }
    }
    return PX_ERROR;
}

char **px_ssl_read_passwords(px_pool_t *pool, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = 0, cap = 4;
    char **list = px_palloc(pool, cap * sizeof(char *));
    char line[1024];
    while (list && fgets(line, sizeof(line), f)) {
        if (n + 2 > cap) {
            char **bigger = px_palloc(pool, 2 * cap * sizeof(char *));
            if (bigger)
                memcpy(bigger, list, n * sizeof(char *));
            list = bigger;
            cap *= 2;
        }
        if (list)
            list[n++] = px_pstrdup(pool, line, strcspn(line, "\r\n"));
    }
    fclose(f);
    if (list == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (n == 0) {
        errno = 0;
        return NULL;
    }
    list[n] = NULL;
    return list;
}

static const struct {
    unsigned bit;
    int version;
} versions[] = {
    {PX_SSL_TLSv1, TLS1_VERSION},
    {PX_SSL_TLSv1_1, TLS1_1_VERSION},
    {PX_SSL_TLSv1_2, TLS1_2_VERSION},
    {PX_SSL_TLSv1_3, TLS1_3_VERSION},
};

SSL_CTX *px_ssl_ctx_new(int server, unsigned protocols)
{
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_new() failed%s", px_ssl_errors());
        return NULL;
    }
    /* The lowest and highest enabled versions bound the range; a hole inside it (TLSv1 and
     * TLSv1.2 without TLSv1.1) is closed with the per-version option, as nginx does. */
    int min = 0, max = 0;
    uint64_t off = 0;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (protocols & versions[i].bit) {
            if (min == 0)
                min = versions[i].version;
            max = versions[i].version;
        }
    }
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (!(protocols & versions[i].bit) && versions[i].version > min && versions[i].version < max)
            off |= versions[i].version == TLS1_1_VERSION   ? SSL_OP_NO_TLSv1_1
                   : versions[i].version == TLS1_2_VERSION ? SSL_OP_NO_TLSv1_2
                                                           : 0;
    }
    if (min == 0) {
        /* no protocol at all: every handshake fails, as with nginx's empty mask */
        min = max = TLS1_3_VERSION;
        off |= SSL_OP_NO_TLSv1_3;
    }
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, max);
    /* A close-delimited body ends with the TCP close whether or not close_notify came first. */
    SSL_CTX_set_options(ctx, off | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

void px_ssl_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

static int password_cb(char *buf, int size, int rwflag, void *userdata)
{
    (void)rwflag;
    const char *pw = userdata;
    if (pw == NULL)
        return 0;
    size_t len = strlen(pw);
    if (len > (size_t)size)
        len = (size_t)size;
    memcpy(buf, pw, len);
    return (int)len;
}

static int load_key(SSL_CTX *ctx, const char *key, char *const *passwords)
{
    BIO *bio = BIO_new_file(key, "r");
    if (bio == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "cannot load certificate key \"%s\": BIO_new_file() failed%s",
                     key, px_ssl_errors());
        return PX_ERROR;
    }
    EVP_PKEY *pkey = NULL;
    for (size_t i = 0;; i++) {
        const char *pw = passwords ? passwords[i] : NULL;
        if (i > 0 && pw == NULL)
            break;
        if (i > 0) {
            ERR_clear_error();
            (void)BIO_reset(bio);
        }
        pkey = PEM_read_bio_PrivateKey(bio, NULL, password_cb, (void *)pw);
        if (pkey || pw == NULL)
            break;
    }
    BIO_free(bio);
    if (pkey == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0,
                     "cannot load certificate key \"%s\": PEM_read_bio_PrivateKey() failed%s", key,
                     px_ssl_errors());
        return PX_ERROR;
    }
    if (SSL_CTX_use_PrivateKey(ctx, pkey) == 0) {
        EVP_PKEY_free(pkey);
        px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_use_PrivateKey(\"%s\") failed%s", key, px_ssl_errors());
        return PX_ERROR;
    }
    EVP_PKEY_free(pkey);
    return PX_OK;
}

int px_ssl_certificate(SSL_CTX *ctx, const char *cert, const char *key, char *const *passwords)
{
    BIO *bio = BIO_new_file(cert, "r");
    if (bio == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, 0, "cannot load certificate \"%s\": BIO_new_file() failed%s", cert,
                     px_ssl_errors());
        return PX_ERROR;
    }
    X509 *x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (x == NULL) {
        BIO_free(bio);
        px_log_error(PX_LOG_EMERG, NULL, 0, "cannot load certificate \"%s\": PEM_read_bio_X509_AUX() failed%s",
                     cert, px_ssl_errors());
        return PX_ERROR;
    }
    if (SSL_CTX_use_certificate(ctx, x) == 0) {
        X509_free(x);
        BIO_free(bio);
        px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_use_certificate(\"%s\") failed%s", cert, px_ssl_errors());
        return PX_ERROR;
    }
    X509_free(x);
    /* the rest of the file is this certificate's chain (one per key type: RSA and ECDSA
     * certificates each keep their own) */
    SSL_CTX_clear_chain_certs(ctx);
    for (;;) {
        X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (ca == NULL) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                ERR_clear_error();
                break;
            }
            BIO_free(bio);
            px_log_error(PX_LOG_EMERG, NULL, 0, "cannot load certificate \"%s\": PEM_read_bio_X509() failed%s",
                         cert, px_ssl_errors());
            return PX_ERROR;
        }
        if (SSL_CTX_add0_chain_cert(ctx, ca) == 0) {
            X509_free(ca);
            BIO_free(bio);
            px_log_error(PX_LOG_EMERG, NULL, 0, "SSL_CTX_add0_chain_cert(\"%s\") failed%s", cert,
                         px_ssl_errors());
            return PX_ERROR;
        }
    }
    BIO_free(bio);
    return load_key(ctx, key, passwords);
}

/* ---- connections ---- */

int px_ssl_create(px_conn_t *c, SSL_CTX *ctx, int server)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) {
        px_log_error(PX_LOG_CRIT, &c->log, 0, "SSL_new() failed%s", px_ssl_errors());
        return PX_ERROR;
    }
    if (SSL_set_fd(ssl, c->io.fd) == 0 || SSL_set_ex_data(ssl, px_ssl_conn_index, c) == 0) {
        px_log_error(PX_LOG_CRIT, &c->log, 0, "SSL_set_fd() failed%s", px_ssl_errors());
        SSL_free(ssl);
        return PX_ERROR;
    }
    if (server)
        SSL_set_accept_state(ssl);
    else
        SSL_set_connect_state(ssl);
    c->ssl = ssl;
    return PX_OK;
}

static char handshake_error[1200];
static int handshake_level;

/* Errors the peer causes are logged at info (a scanner, a client that gave up), as nginx. */
static int peer_errno(int err)
{
    return err == ECONNRESET || err == EPIPE || err == ENOTCONN || err == ETIMEDOUT ||
           err == ECONNREFUSED || err == ENETDOWN || err == ENETUNREACH || err == EHOSTDOWN ||
           err == EHOSTUNREACH;
}

int px_ssl_handshake(px_conn_t *c)
{
    ERR_clear_error();
    int n = SSL_do_handshake(c->ssl);
    if (n == 1) {
        /* the peer's first data may have come with its last handshake bytes and now waits in
         * OpenSSL's buffer, where no socket event will announce it: the next reader must try */
        c->readable = 1;
        return PX_OK;
    }
    int err = errno;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
        c->readable = 0;
        return PX_AGAIN;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->writable = 0;
        return PX_AGAIN;
    }
    c->error = 1;
    handshake_level = PX_LOG_INFO;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        if (n == 0 || err == 0) {
            snprintf(handshake_error, sizeof(handshake_error), "peer closed connection in SSL handshake");
        } else {
            if (!peer_errno(err))
                handshake_level = PX_LOG_CRIT;
            snprintf(handshake_error, sizeof(handshake_error), "SSL_do_handshake() failed (%d: %s)", err,
                     strerror(err));
        }
        return PX_ERROR;
    }
    snprintf(handshake_error, sizeof(handshake_error), "SSL_do_handshake() failed%s", px_ssl_errors());
    return PX_ERROR;
}

const char *px_ssl_handshake_error(int *level)
{
    if (level)
        *level = handshake_level;
    return handshake_error;
}

/* A failed read or write: the peer's close, readiness to wait for, or an error. */
static ssize_t io_result(px_conn_t *c, int n, int reading)
{
    int err = errno;
    int e = SSL_get_error(c->ssl, n);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        c->readable = 0;
        return PX_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->writable = 0;
        return PX_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        if (reading) {
            c->readable = 0;
            c->peer_closed = 1;
            return 0;
        }
        break;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && (err == EAGAIN || err == EINTR)) {
            if (reading)
                c->readable = 0;
            else
                c->writable = 0;
            return PX_AGAIN;
        }
        break;
    default:
        break;
    }
    c->error = 1;
    if (e == SSL_ERROR_SSL)
        px_log_error(PX_LOG_INFO, &c->log, 0, "%s() failed%s", reading ? "SSL_read" : "SSL_write", px_ssl_errors());
    else
        ERR_clear_error();
    errno = err ? err : ECONNRESET;
    return PX_ERROR;
}

ssize_t px_ssl_recv(px_conn_t *c, char *buf, size_t len)
{
    if (len == 0)
        return 0;
    ERR_clear_error();
    /* A short read says nothing about the socket (TLS reads a record at a time): readable
     * stays set until OpenSSL asks for more bytes. */
    int n = SSL_read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    return io_result(c, n, 1);
}

ssize_t px_ssl_send(px_conn_t *c, const char *buf, size_t len)
{
    if (len == 0)
        return 0;
    ERR_clear_error();
    /* A short write says nothing about the socket either: with partial writes on, OpenSSL
     * returns after each record. writable stays set until it asks to wait. */
    int n = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    return io_result(c, n, 0);
}

/* Gathers the pieces into one record-sized buffer: one SSL_write makes one record, where a
 * write per piece would make a record (and a header) per piece. A retry after WANT_WRITE
 * gathers the same leading bytes again, as OpenSSL requires. */
#define GATHER 16384

ssize_t px_ssl_writev(px_conn_t *c, struct iovec *iov, int iovcnt)
{
    if (iovcnt == 1 || (iovcnt > 0 && iov[0].iov_len >= GATHER))
        return px_ssl_send(c, iov[0].iov_base, iov[0].iov_len);
    static char buf[GATHER];
    size_t len = 0;
    for (int i = 0; i < iovcnt && len < GATHER; i++) {
        size_t take = iov[i].iov_len < GATHER - len ? iov[i].iov_len : GATHER - len;
        memcpy(buf + len, iov[i].iov_base, take);
        len += take;
    }
    return px_ssl_send(c, buf, len);
}

void px_ssl_close(px_conn_t *c)
{
    SSL *ssl = c->ssl;
    c->ssl = NULL;
    /* close_notify only on a connection that ended in order; after an error or a timeout the
     * peer gets the TCP close alone (a quiet shutdown). Either way the shutdown is what keeps
     * the session resumable: OpenSSL drops the session of a connection freed without one. */
    if (SSL_is_init_finished(ssl)) {
        ERR_clear_error();
        SSL_set_quiet_shutdown(ssl, c->error || c->timedout || c->peer_closed);
        if (SSL_shutdown(ssl) < 0)
            ERR_clear_error();
    }
    SSL_free(ssl);
}
