/* Shared TLS session cache: a hash table of session ids over a ring of variable-size records.
 *
 * Layout of the region (every link is a byte offset from the region's start, never a
 * pointer, so each process may map it anywhere; offset 0 is the header, hence "none"):
 *
 *   [ header | buckets: uint32 offset of a chain's newest record | ring of records ... ]
 *
 * A record is a fixed 56-byte head (size, id, expiry, chain link) followed by the session
 * bytes, padded to 8: a typical 200-byte session takes 256 bytes, so a megabyte holds about
 * 3900 of them, close to nginx's "about 4000". Records are appended at the ring's tail and
 * reclaimed from its head, which makes "drop the oldest" the cheap way to make room and
 * keeps the ring free of holes to manage. A record that does not fit before the end of the
 * ring leaves a filler there and goes to the start. Removing or replacing a session only
 * unlinks it and marks it dead; its bytes come back when the head passes them.
 *
 * Eviction follows store order rather than expiry order: with one timeout per cache, as
 * ssl_session_timeout usually is, the two are the same. Each put also drops up to a few
 * expired sessions at the head, so the count does not keep sessions nobody can use.
 *
 * A client picks the id it asks for, so no lookup may cost more than a few compares: a
 * chain never grows past MAX_CHAIN records (a put drops the chain's oldest one first).
 *
 * The zone's lock is freed when a worker dies holding it, possibly halfway through a put.
 * Every offset is checked before it is followed; a region found inconsistent is emptied
 * (sessions are only a shortcut, a full handshake replaces any of them), so nothing is read
 * or written outside it. */
#include "px_ssl_cache.h"

#include <stdint.h>

#define CACHE_MAGIC 0x70785331u /* "pxS1": changes with the layout */
#define MAX_CHAIN 8
#define BYTES_PER_BUCKET 128 /* about two buckets per typical session: chains stay short */
#define MIN_BUCKETS 16
#define EXPIRE_PER_PUT 4
#define MAX_REGION (UINT32_MAX & ~(uint32_t)7)

typedef struct {
    uint32_t magic;
    uint32_t nbuckets; /* a power of two */
    uint32_t buckets;  /* offset of the bucket array */
    uint32_t ring_beg; /* the ring is [ring_beg, ring_end) */
    uint32_t ring_end;
    uint32_t head;  /* oldest record */
    uint32_t tail;  /* where the next record goes */
    uint32_t used;  /* bytes between head and tail, fillers and dead records included */
    uint32_t count; /* live records */
} cache_t;

typedef struct {
    uint32_t size; /* bytes the record takes in the ring, a multiple of 8 */
    uint8_t idlen; /* 0: a dead record or a filler, only size is meaningful */
    uint8_t pad;
    uint16_t len;  /* session bytes following the head */
    uint32_t next; /* older record of the same bucket, 0 ends the chain */
    uint32_t hash;
    int64_t expire;
    unsigned char id[PX_SSL_CACHE_MAX_ID];
} record_t;

/* The end of the ring may leave room for no more than size and idlen: a filler, and any
 * record not yet known to be live, is read no further than these first bytes. */
#define FILLER_MIN 8

_Static_assert(sizeof(record_t) == 56, "the record head is part of the layout");
_Static_assert(PX_SSL_CACHE_MAX_DATA <= UINT16_MAX, "len is 16 bits");

static uint32_t align8(uint32_t n)
{
    return (n + 7) & ~(uint32_t)7;
}

static uint32_t record_size(size_t len)
{
    return align8((uint32_t)(sizeof(record_t) + len));
}

static record_t *record_at(cache_t *c, uint32_t off)
{
    return (record_t *)((unsigned char *)c + off);
}

static uint32_t *bucket_of(cache_t *c, uint32_t hash)
{
    uint32_t *buckets = (uint32_t *)((unsigned char *)c + c->buckets);
    return &buckets[hash & (c->nbuckets - 1)];
}

/* FNV-1a, then murmur3's finalizer so that the low bits picking the bucket depend on
 * every byte of the id. */
static uint32_t hash_id(const unsigned char *id, size_t idlen)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < idlen; i++)
        h = (h ^ id[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static cache_t *cache_of(void *mem)
{
    cache_t *c = mem;
    return (c != NULL && c->magic == CACHE_MAGIC) ? c : NULL;
}

static void empty(cache_t *c)
{
    memset((unsigned char *)c + c->buckets, 0, (size_t)c->nbuckets * sizeof(uint32_t));
    c->head = c->tail = c->ring_beg;
    c->used = 0;
    c->count = 0;
}

int px_ssl_cache_init(void *mem, size_t size)
{
    if (mem == NULL || ((uintptr_t)mem & 7) != 0 || size < PX_SSL_CACHE_MIN_SIZE)
        return PX_ERROR;
    uint32_t usable = size > MAX_REGION ? MAX_REGION : (uint32_t)size & ~(uint32_t)7;
    uint32_t nbuckets = MIN_BUCKETS;
    while (nbuckets <= usable / BYTES_PER_BUCKET / 2)
        nbuckets *= 2;

    cache_t *c = mem;
    c->magic = 0; /* until the layout is known to fit, no call may use the region */
    c->nbuckets = nbuckets;
    c->buckets = align8(sizeof(cache_t));
    c->ring_beg = align8(c->buckets + nbuckets * (uint32_t)sizeof(uint32_t));
    c->ring_end = usable;
    if (c->ring_end < c->ring_beg || c->ring_end - c->ring_beg < record_size(PX_SSL_CACHE_MAX_DATA))
        return PX_ERROR;
    empty(c);
    c->magic = CACHE_MAGIC;
    return PX_OK;
}

/* A live record whose whole extent lies in the ring: the only kind ever followed. */
static int live_record_ok(cache_t *c, uint32_t off)
{
    if (off < c->ring_beg || off >= c->ring_end || (off & 7) != 0 ||
        c->ring_end - off < sizeof(record_t))
        return 0;
    record_t *r = record_at(c, off);
    return r->idlen >= 1 && r->idlen <= PX_SSL_CACHE_MAX_ID && r->len >= 1 &&
           r->len <= PX_SSL_CACHE_MAX_DATA && r->size == record_size(r->len) &&
           r->size <= c->ring_end - off;
}

/* Finds the link pointing at off in its chain. NULL if absent: the region is inconsistent. */
static uint32_t *link_to(cache_t *c, uint32_t off)
{
    uint32_t *link = bucket_of(c, record_at(c, off)->hash);
    for (int n = 0; n < MAX_CHAIN && *link != 0; n++) {
        if (*link == off)
            return link;
        if (!live_record_ok(c, *link))
            return NULL;
        link = &record_at(c, *link)->next;
    }
    return NULL;
}

static int kill_record(cache_t *c, uint32_t off)
{
    uint32_t *link = link_to(c, off);
    if (link == NULL || c->count == 0)
        return PX_ERROR;
    record_t *r = record_at(c, off);
    *link = r->next;
    r->idlen = 0;
    c->count--;
    return PX_OK;
}

/* Looks id up in its chain: *found is its record or 0, *oldest the chain's last record and
 * *length its length. PX_ERROR if the chain is inconsistent. */
static int find(cache_t *c, const unsigned char *id, size_t idlen, uint32_t hash, uint32_t *found,
                uint32_t *oldest, int *length)
{
    uint32_t off = *bucket_of(c, hash);
    *found = *oldest = 0;
    *length = 0;
    while (off != 0) {
        if (*length == MAX_CHAIN || !live_record_ok(c, off))
            return PX_ERROR;
        record_t *r = record_at(c, off);
        if (*found == 0 && r->hash == hash && r->idlen == idlen && memcmp(r->id, id, idlen) == 0)
            *found = off;
        *oldest = off;
        (*length)++;
        off = r->next;
    }
    return PX_OK;
}

/* The ring's bookkeeping agrees with itself: head and tail inside, used what they span. */
static int ring_ok(const cache_t *c)
{
    uint32_t beg = c->ring_beg, end = c->ring_end;
    if (c->head < beg || c->head >= end || c->tail < beg || c->tail > end ||
        ((c->head | c->tail) & 7) != 0)
        return 0;
    if (c->used == 0)
        return c->head == c->tail;
    if (c->head < c->tail)
        return c->used == c->tail - c->head;
    return c->used == (end - c->head) + (c->tail - beg);
}

/* The oldest record, with a size that stays inside the ring; NULL if the ring is empty
 * or inconsistent (*err set). */
static record_t *head_record(cache_t *c, int *err)
{
    *err = !ring_ok(c);
    if (*err || c->used == 0)
        return NULL;
    record_t *r = record_at(c, c->head);
    if (c->ring_end - c->head < FILLER_MIN || r->size < FILLER_MIN || (r->size & 7) != 0 ||
        r->size > c->ring_end - c->head || r->size > c->used ||
        (r->idlen != 0 && !live_record_ok(c, c->head))) {
        *err = 1;
        return NULL;
    }
    return r;
}

static int drop_head(cache_t *c)
{
    int err;
    record_t *r = head_record(c, &err);
    if (r == NULL || (r->idlen != 0 && kill_record(c, c->head) != PX_OK))
        return PX_ERROR;
    c->used -= r->size;
    c->head += r->size;
    if (c->head == c->ring_end)
        c->head = c->ring_beg;
    if (c->used == 0)
        c->head = c->tail = c->ring_beg;
    return PX_OK;
}

/* Reserves size bytes at the tail, dropping the oldest records until they fit; the ring
 * holds at least one record of any size, so this ends. */
static int ring_alloc(cache_t *c, uint32_t size, uint32_t *off)
{
    for (;;) {
        if (!ring_ok(c))
            return PX_ERROR;
        int wrapped = c->used > 0 && c->tail <= c->head;
        uint32_t room = wrapped ? c->head - c->tail : c->ring_end - c->tail;
        if (room >= size)
            break;
        if (!wrapped) {
            /* the space left before the end is too short: skip it, try the start */
            if (room > 0) {
                record_t *filler = record_at(c, c->tail);
                filler->size = room;
                filler->idlen = 0;
                c->used += room;
            }
            c->tail = c->ring_beg;
            continue;
        }
        if (drop_head(c) != PX_OK)
            return PX_ERROR;
    }
    *off = c->tail;
    record_t *r = record_at(c, *off);
    r->size = size;
    r->idlen = 0;
    c->tail += size;
    c->used += size;
    return PX_OK;
}

static int drop_expired(cache_t *c, time_t now)
{
    for (int n = 0; n < EXPIRE_PER_PUT; n++) {
        int err;
        record_t *r = head_record(c, &err);
        if (r == NULL)
            return err ? PX_ERROR : PX_OK;
        if (r->idlen != 0 && r->expire > (int64_t)now)
            break;
        if (drop_head(c) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

static int valid_id(const unsigned char *id, size_t idlen)
{
    return id != NULL && idlen >= 1 && idlen <= PX_SSL_CACHE_MAX_ID;
}

static int store(cache_t *c, const unsigned char *id, size_t idlen, const unsigned char *data,
                 size_t len, time_t now, time_t expire)
{
    uint32_t hash = hash_id(id, idlen);
    uint32_t found, oldest, off;
    int length;

    if (find(c, id, idlen, hash, &found, &oldest, &length) != PX_OK)
        return PX_ERROR;
    if (found != 0 && kill_record(c, found) != PX_OK)
        return PX_ERROR;
    if (expire <= now)
        return PX_OK;
    if (drop_expired(c, now) != PX_OK || ring_alloc(c, record_size(len), &off) != PX_OK)
        return PX_ERROR;
    /* the allocation may have shortened the chain: measure it again */
    if (find(c, id, idlen, hash, &found, &oldest, &length) != PX_OK)
        return PX_ERROR;
    if (length == MAX_CHAIN && kill_record(c, oldest) != PX_OK)
        return PX_ERROR;

    record_t *r = record_at(c, off);
    uint32_t *bucket = bucket_of(c, hash);
    r->len = (uint16_t)len;
    r->hash = hash;
    r->expire = (int64_t)expire;
    memcpy(r->id, id, idlen);
    memcpy(r + 1, data, len);
    r->next = *bucket;
    r->idlen = (uint8_t)idlen;
    *bucket = off;
    c->count++;
    return PX_OK;
}

int px_ssl_cache_put(void *mem, const unsigned char *id, size_t idlen, const unsigned char *data,
                     size_t len, time_t now, time_t expire)
{
    cache_t *c = cache_of(mem);
    if (c == NULL || !valid_id(id, idlen) || data == NULL || len < 1 || len > PX_SSL_CACHE_MAX_DATA)
        return PX_ERROR;
    if (store(c, id, idlen, data, len, now, expire) != PX_OK) {
        empty(c);
        return PX_ERROR;
    }
    return PX_OK;
}

ssize_t px_ssl_cache_get(void *mem, const unsigned char *id, size_t idlen, unsigned char *out,
                         size_t cap, time_t now)
{
    cache_t *c = cache_of(mem);
    uint32_t found, oldest;
    int length;

    if (c == NULL || !valid_id(id, idlen))
        return 0;
    if (find(c, id, idlen, hash_id(id, idlen), &found, &oldest, &length) != PX_OK) {
        empty(c);
        return 0;
    }
    if (found == 0)
        return 0;
    record_t *r = record_at(c, found);
    if (r->expire <= (int64_t)now) {
        if (kill_record(c, found) != PX_OK)
            empty(c);
        return 0;
    }
    if (out == NULL || cap < r->len)
        return PX_ERROR;
    memcpy(out, r + 1, r->len);
    return r->len;
}

void px_ssl_cache_remove(void *mem, const unsigned char *id, size_t idlen)
{
    cache_t *c = cache_of(mem);
    uint32_t found, oldest;
    int length;

    if (c == NULL || !valid_id(id, idlen))
        return;
    if (find(c, id, idlen, hash_id(id, idlen), &found, &oldest, &length) != PX_OK ||
        (found != 0 && kill_record(c, found) != PX_OK))
        empty(c);
}

size_t px_ssl_cache_count(const void *mem)
{
    const cache_t *c = mem;
    return (c != NULL && c->magic == CACHE_MAGIC) ? c->count : 0;
}
