/* TLS on connections (OpenSSL 3): contexts built at configuration time, and the handshake,
 * reads and writes of one connection with the readiness tracking px_conn does for plain
 * sockets. Both sides use it: listeners (server) and upstream connections (client). */
#ifndef PX_SSL_H
#define PX_SSL_H

#include <openssl/ssl.h>

#include "core/px_conn.h"

/* ssl_protocols bits */
#define PX_SSL_TLSv1 0x01u
#define PX_SSL_TLSv1_1 0x02u
#define PX_SSL_TLSv1_2 0x04u
#define PX_SSL_TLSv1_3 0x08u
#define PX_SSL_DEFAULT_PROTOCOLS (PX_SSL_TLSv1_2 | PX_SSL_TLSv1_3)

/* The bit of an ssl_protocols name ("TLSv1.2"; SSLv2 and SSLv3 are accepted and give no
 * bit: OpenSSL 3 has neither). PX_OK or PX_ERROR for an unknown name. */
int px_ssl_protocol_bit(px_str_t name, unsigned *bit);

/* The lines of a password file (ssl_password_file), NULL-terminated, in pool. NULL with
 * errno set when the file cannot be read, NULL with errno 0 when it holds no password. */
char **px_ssl_read_passwords(px_pool_t *pool, const char *path);

/* Once per process, before any other call. PX_OK or PX_ERROR (logged). */
int px_ssl_init(void);

/* " (SSL: error:...:reason ...)" from OpenSSL's error queue, which it empties; "" when the
 * queue is empty. The text lives until the next call. */
const char *px_ssl_errors(void);
/* Empties the error queue without reporting it. */
void px_ssl_clear_errors(void);

/* A context for one side with the given protocols; NULL after logging at emerg. */
SSL_CTX *px_ssl_ctx_new(int server, unsigned protocols);
void px_ssl_ctx_free(void *ctx); /* a pool cleanup */

/* Loads a certificate (with the chain that follows it in the file) and its key; passwords
 * (NULL or a NULL-terminated list) are tried in turn for an encrypted key. PX_OK, or
 * PX_ERROR after logging nginx's emerg line. */
int px_ssl_certificate(SSL_CTX *ctx, const char *cert, const char *key, char *const *passwords);

/* The connection index for SSL_get_ex_data: the px_conn_t of an SSL. */
extern int px_ssl_conn_index;

/* Starts TLS on c (server or client side). PX_OK or PX_ERROR (logged at crit). */
int px_ssl_create(px_conn_t *c, SSL_CTX *ctx, int server);
/* Runs the handshake as far as the socket allows: PX_OK when done, PX_AGAIN when it waits
 * for readiness (c->readable or c->writable cleared), PX_ERROR with the reason in
 * px_ssl_handshake_error(). */
int px_ssl_handshake(px_conn_t *c);
/* Why the last handshake failed: "SSL_do_handshake() failed (SSL: ...)" or a peer close; and
 * the level nginx logs it at (info when the peer is to blame, crit otherwise). */
const char *px_ssl_handshake_error(int *level);

/* px_conn_recv / px_conn_send / px_conn_writev for a TLS connection (they dispatch here). */
ssize_t px_ssl_recv(px_conn_t *c, char *buf, size_t len);
ssize_t px_ssl_send(px_conn_t *c, const char *buf, size_t len);
ssize_t px_ssl_writev(px_conn_t *c, struct iovec *iov, int iovcnt);
/* Sends close_notify when the connection ended cleanly, then frees the TLS state. */
void px_ssl_close(px_conn_t *c);

#endif
