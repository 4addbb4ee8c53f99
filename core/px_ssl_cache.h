/* The TLS session cache of `ssl_session_cache shared:NAME:SIZE`: serialized sessions kept by
 * session id in a shared memory zone that every worker reads and writes. A pure library over
 * a byte region (no OpenSSL, no allocation): the TLS code serializes sessions and calls these
 * from OpenSSL's session callbacks while holding the zone's lock; nothing here locks. */
#ifndef PX_SSL_CACHE_H
#define PX_SSL_CACHE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "core/px_string.h"

#define PX_SSL_CACHE_MAX_ID 32     /* SSL_MAX_SSL_SESSION_ID_LENGTH */
#define PX_SSL_CACHE_MAX_DATA 4096 /* a serialized session, client certificate included */
#define PX_SSL_CACHE_MIN_SIZE 8192 /* smallest region px_ssl_cache_init accepts */

/* Lays out the region [mem, mem + size) as an empty cache; mem must be 8-byte aligned (a
 * mapping is). Regions over 4 GiB use their first 4 GiB. PX_ERROR if size is under
 * PX_SSL_CACHE_MIN_SIZE. Calling it again empties the cache. */
int px_ssl_cache_init(void *mem, size_t size);

/* Stores data (1..PX_SSL_CACHE_MAX_DATA bytes) under id (1..PX_SSL_CACHE_MAX_ID bytes),
 * replacing what id held, valid until expire (the clock of now). An already expired session
 * only removes the old one. Makes room by dropping the oldest stored sessions. PX_OK, or
 * PX_ERROR on bad lengths or an uninitialised region (nothing changes) or a region found
 * damaged, say by a worker that died halfway through a put (it is emptied). */
int px_ssl_cache_put(void *mem, const unsigned char *id, size_t idlen, const unsigned char *data,
                     size_t len, time_t now, time_t expire);

/* Copies the session stored under id into out (cap bytes) and returns its length; 0 when
 * there is none or it expired (the expired one is removed); PX_ERROR when cap is too small. */
ssize_t px_ssl_cache_get(void *mem, const unsigned char *id, size_t idlen, unsigned char *out,
                         size_t cap, time_t now);

void px_ssl_cache_remove(void *mem, const unsigned char *id, size_t idlen);

/* Sessions held, expired ones not yet removed included (for metrics and tests). */
size_t px_ssl_cache_count(const void *mem);

#endif
