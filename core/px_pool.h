/* Arena pools: everything a request or a configuration allocates is freed at once. */
#ifndef PX_POOL_H
#define PX_POOL_H

#include <stddef.h>
#include "core/px_string.h"

typedef struct px_pool_block px_pool_block_t;
typedef struct px_pool_cleanup px_pool_cleanup_t;

typedef struct px_pool {
    px_pool_block_t *blocks;
    px_pool_cleanup_t *cleanups;
    size_t block_size;
} px_pool_t;

/* malloc and free through a short per-process free list per exact size, for memory every
 * request takes and gives back (pool blocks, proxy buffers). Free with the same size. */
void *px_cache_alloc(size_t size);
void px_cache_free(void *p, size_t size);

px_pool_t *px_pool_create(size_t block_size);
void px_pool_destroy(px_pool_t *pool);
/* Frees every block but the first, so a keepalive connection can reuse its pool. */
void px_pool_reset(px_pool_t *pool);
void *px_palloc(px_pool_t *pool, size_t size);
void *px_pcalloc(px_pool_t *pool, size_t size);
char *px_pstrdup(px_pool_t *pool, const char *s, size_t len);
px_str_t px_pstr(px_pool_t *pool, const char *s, size_t len);
char *px_psprintf(px_pool_t *pool, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs fn(data) when the pool is destroyed or reset. */
int px_pool_cleanup_add(px_pool_t *pool, void (*fn)(void *), void *data);

/* Bytes appended in a pool (a response or request head being built): grows by doubling;
 * outgrown space stays until the pool goes. Start with {NULL, 0, 0, pool}, and reserve
 * what the whole will likely take so that it is built without regrowing. */
typedef struct {
    char *p;
    size_t len, cap;
    px_pool_t *pool;
} px_pbuf_t;

/* Makes room for n more bytes. */
void px_pbuf_reserve(px_pbuf_t *b, size_t n);

/* Inline: a head is put together from many short pieces, most of them literals whose
 * copies the compiler turns into a store or two. */
static inline void px_pbuf_put(px_pbuf_t *b, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (b->len + n > b->cap)
        px_pbuf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Appends the decimal digits of n. */
void px_pbuf_uint(px_pbuf_t *b, uint64_t n);

static inline void px_pbuf_str(px_pbuf_t *b, px_str_t s)
{
    px_pbuf_put(b, s.data, s.len);
}
static inline void px_pbuf_lit(px_pbuf_t *b, const char *s)
{
    px_pbuf_put(b, s, strlen(s));
}

/* A growable array in a pool. */
typedef struct {
    void *elts;
    size_t nelts;
    size_t size;
    size_t nalloc;
    px_pool_t *pool;
} px_array_t;

int px_array_init(px_array_t *a, px_pool_t *pool, size_t n, size_t size);
void *px_array_push(px_array_t *a);

#endif
