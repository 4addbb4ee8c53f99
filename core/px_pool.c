/* Arena pools and pool-backed arrays. */
#include "core/px_pool.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define PX_ALIGN 16

struct px_pool_block {
    px_pool_block_t *next;
    size_t size;
    size_t used;
    _Alignas(16) char data[];
};

struct px_pool_cleanup {
    px_pool_cleanup_t *next;
    void (*fn)(void *);
    void *data;
};

/* ---- a per-process cache of recently freed memory, by exact size ----
 * Every request takes the same few sizes (its pool, its first block, the proxy's buffers);
 * handing them back and forth through a short free list per size skips malloc and free on
 * the hot path. A few size classes, a bounded count each: what does not fit goes to free. */

#define CACHE_CLASSES 6
#define CACHE_DEPTH 64

typedef struct cached {
    struct cached *next;
} cached_t;

static struct {
    size_t size;
    unsigned count;
    cached_t *list;
} cache[CACHE_CLASSES];

#if defined(__SANITIZE_ADDRESS__)
#define NO_CACHE 1 /* let the sanitizer see every free */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_CACHE 1
#endif
#endif

void *px_cache_alloc(size_t size)
{
#ifdef NO_CACHE
    return malloc(size);
#endif
    for (int i = 0; i < CACHE_CLASSES; i++) {
        if (cache[i].size == size && cache[i].list) {
            cached_t *c = cache[i].list;
            cache[i].list = c->next;
            cache[i].count--;
            return c;
        }
    }
    return malloc(size < sizeof(cached_t) ? sizeof(cached_t) : size);
}

void px_cache_free(void *p, size_t size)
{
    if (p == NULL)
        return;
#ifdef NO_CACHE
    free(p);
    (void)size;
    return;
#endif
    int slot = -1;
    for (int i = 0; i < CACHE_CLASSES; i++) {
        if (cache[i].size == size) {
            slot = i;
            break;
        }
        if (slot < 0 && cache[i].size == 0)
            slot = i;
    }
    if (slot < 0 || cache[slot].count >= CACHE_DEPTH) {
        free(p);
        return;
    }
    cache[slot].size = size;
    cached_t *c = p;
    c->next = cache[slot].list;
    cache[slot].list = c;
    cache[slot].count++;
}

static px_pool_block_t *block_new(size_t size)
{
    px_pool_block_t *b = px_cache_alloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

static void block_free(px_pool_block_t *b)
{
    px_cache_free(b, sizeof(*b) + b->size);
}

px_pool_t *px_pool_create(size_t block_size)
{
    px_pool_t *pool = px_cache_alloc(sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->block_size = block_size < 256 ? 256 : block_size;
    pool->cleanups = NULL;
    pool->blocks = block_new(pool->block_size);
    if (pool->blocks == NULL) {
        px_cache_free(pool, sizeof(*pool));
        return NULL;
    }
    return pool;
}

static void run_cleanups(px_pool_t *pool)
{
    while (pool->cleanups) {
        px_pool_cleanup_t *c = pool->cleanups;
        pool->cleanups = c->next;
        c->fn(c->data);
    }
}

void px_pool_destroy(px_pool_t *pool)
{
    if (pool == NULL)
        return;
    run_cleanups(pool);
    px_pool_block_t *b = pool->blocks;
    while (b) {
        px_pool_block_t *next = b->next;
        block_free(b);
        b = next;
    }
    px_cache_free(pool, sizeof(*pool));
}

void px_pool_reset(px_pool_t *pool)
{
    run_cleanups(pool);
    px_pool_block_t *first = pool->blocks;
    while (first->next) {
        px_pool_block_t *b = first->next;
        first->next = b->next;
        block_free(b);
    }
    first->used = 0;
}

void *px_palloc(px_pool_t *pool, size_t size)
{
    size = (size + PX_ALIGN - 1) & ~(size_t)(PX_ALIGN - 1);
    px_pool_block_t *b = pool->blocks;
    if (b->size - b->used >= size) {
        void *p = b->data + b->used;
        b->used += size;
        return p;
    }
    /* Large allocations get a block of their own behind the current one, so the
     * current block keeps serving small allocations. */
    size_t bsize = size > pool->block_size ? size : pool->block_size;
    px_pool_block_t *nb = block_new(bsize);
    if (nb == NULL)
        return NULL;
    nb->used = size;
    if (bsize == size) {
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        pool->blocks = nb;
    }
    return nb->data;
}

void *px_pcalloc(px_pool_t *pool, size_t size)
{
    void *p = px_palloc(pool, size);
    if (p)
        memset(p, 0, size);
    return p;
}

char *px_pstrdup(px_pool_t *pool, const char *s, size_t len)
{
    char *p = px_palloc(pool, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

px_str_t px_pstr(px_pool_t *pool, const char *s, size_t len)
{
    char *p = px_pstrdup(pool, s, len);
    return px_str_make(p, p ? len : 0);
}

char *px_psprintf(px_pool_t *pool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = px_palloc(pool, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int px_pool_cleanup_add(px_pool_t *pool, void (*fn)(void *), void *data)
{
    px_pool_cleanup_t *c = px_palloc(pool, sizeof(*c));
    if (c == NULL)
        return PX_ERROR;
    c->fn = fn;
    c->data = data;
    c->next = pool->cleanups;
    pool->cleanups = c;
    return PX_OK;
}

int px_array_init(px_array_t *a, px_pool_t *pool, size_t n, size_t size)
{
    a->nelts = 0;
    a->size = size;
    a->nalloc = n ? n : 4;
    a->pool = pool;
    a->elts = px_palloc(pool, a->nalloc * size);
    return a->elts ? PX_OK : PX_ERROR;
}

void *px_array_push(px_array_t *a)
{
    if (a->nelts == a->nalloc) {
        void *n = px_palloc(a->pool, a->nalloc * 2 * a->size);
        if (n == NULL)
            return NULL;
        memcpy(n, a->elts, a->nelts * a->size);
        a->elts = n;
        a->nalloc *= 2;
    }
    void *p = (char *)a->elts + a->nelts * a->size;
    a->nelts++;
    memset(p, 0, a->size);
    return p;
}

void px_pbuf_reserve(px_pbuf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = (b->cap + n) * 2;
    char *np = px_palloc(b->pool, cap);
    if (b->len)
        memcpy(np, b->p, b->len);
    b->p = np;
    b->cap = cap;
}

void px_pbuf_uint(px_pbuf_t *b, uint64_t n)
{
    char digits[20], *d = digits + sizeof(digits);
    do {
        *--d = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    px_pbuf_put(b, d, (size_t)(digits + sizeof(digits) - d));
}
