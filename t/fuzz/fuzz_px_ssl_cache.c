/* libFuzzer target for the shared TLS session cache: the input is a region size and a
 * sequence of put/get/remove/clock steps on ids that share buckets and prefixes. A model
 * keeps the last value stored per id; every get must give nothing or exactly that value,
 * a session once lost never comes back, and the region is allocated to its exact size so
 * that any access outside it trips AddressSanitizer. */
#include <stdint.h>
#include <stdlib.h>

#include "core/px_ssl_cache.h"

#define PATTERN_IDS 256
#define SHARED_IDS 32 /* ids landing in one bucket, to fill chains to their cap */
#define IDS (PATTERN_IDS + SHARED_IDS)

typedef struct {
    int present; /* may be in the cache: stored and not known lost */
    size_t len;
    uint32_t version;
    time_t expire;
} model_t;

typedef struct {
    const uint8_t *p;
    size_t left;
} input_t;

static unsigned next_byte(input_t *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

/* The cache's id hash (FNV-1a then murmur3's finalizer), so that ids sharing a bucket
 * whatever the bucket count can be built once. */
static uint32_t cache_hash(const unsigned char *id, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ id[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static unsigned char shared_ids[SHARED_IDS][8];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    int found = 0;
    for (uint64_t n = 0; found < SHARED_IDS; n++) {
        memcpy(shared_ids[found], &n, 8);
        if ((cache_hash(shared_ids[found], 8) & 0xffff) == 0)
            found++;
    }
    return 0;
}

/* Distinct ids: groups of every length cut from one pattern (within a group a short id is a
 * prefix of the longer ones), then the ids sharing a bucket. */
static size_t make_id(unsigned char *id, unsigned k)
{
    if (k >= PATTERN_IDS) {
        memcpy(id, shared_ids[k - PATTERN_IDS], 8);
        return 8;
    }
    size_t len = 1 + k % PX_SSL_CACHE_MAX_ID;
    for (size_t i = 0; i < len; i++)
        id[i] = (unsigned char)(i * 29 + k / PX_SSL_CACHE_MAX_ID);
    return len;
}

static void make_data(unsigned char *data, size_t len, uint32_t version)
{
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(version * 131 + i * 7 + (i >> 8));
}

static void check_get(void *mem, model_t *m, const unsigned char *id, size_t idlen, size_t cap,
                      time_t now)
{
    static unsigned char out[PX_SSL_CACHE_MAX_DATA], want[PX_SSL_CACHE_MAX_DATA];
    ssize_t r = px_ssl_cache_get(mem, id, idlen, out, cap, now);
    if (!m->present || m->expire <= now) {
        if (r != 0)
            abort();
        m->present = 0;
        return;
    }
    if (r == 0) {
        m->present = 0;
        return;
    }
    if (cap < m->len) {
        if (r != PX_ERROR)
            abort();
        return;
    }
    make_data(want, m->len, m->version);
    if (r != (ssize_t)m->len || memcmp(out, want, m->len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[PX_SSL_CACHE_MAX_DATA + 64];
    model_t model[IDS];
    input_t in = {data, size};
    unsigned char id[PX_SSL_CACHE_MAX_ID + 1];
    time_t now = 1000;

    size_t region_size = PX_SSL_CACHE_MIN_SIZE + (next_byte(&in) << 8 | next_byte(&in)) % 16384;
    unsigned char *mem = malloc(region_size);
    if (mem == NULL)
        return 0;
    memset(mem, 0, region_size);
    if (px_ssl_cache_init(mem, region_size) != PX_OK)
        abort();
    memset(model, 0, sizeof(model));

    for (uint32_t step = 1; in.left > 0; step++) {
        unsigned op = next_byte(&in), k = next_byte(&in);
        if (op & 0x40)
            k = PATTERN_IDS + k % SHARED_IDS;
        size_t idlen = make_id(id, k);
        model_t *m = &model[k];

        switch (op % 5) {
        case 0:
        case 1: {
            size_t len = (next_byte(&in) << 8 | next_byte(&in)) % (PX_SSL_CACHE_MAX_DATA + 64);
            time_t expire = now + (time_t)next_byte(&in) % 64;
            make_data(buf, len, step);
            int rc = px_ssl_cache_put(mem, id, idlen, buf, len, now, expire);
            if (len == 0 || len > PX_SSL_CACHE_MAX_DATA) {
                if (rc != PX_ERROR)
                    abort();
                break;
            }
            if (rc != PX_OK)
                abort();
            m->present = expire > now;
            m->len = len;
            m->version = step;
            m->expire = expire;
            check_get(mem, m, id, idlen, PX_SSL_CACHE_MAX_DATA, now);
            if (expire > now && !m->present)
                abort(); /* making room never drops the session being stored */
            break;
        }
        case 2: {
            size_t cap = op & 0x80 ? PX_SSL_CACHE_MAX_DATA : (size_t)next_byte(&in) * 16;
            check_get(mem, m, id, idlen, cap, now);
            break;
        }
        case 3:
            px_ssl_cache_remove(mem, id, idlen);
            m->present = 0;
            break;
        default:
            now += (time_t)next_byte(&in) % 16;
            /* ids of bad length are refused everywhere and change nothing */
            if (px_ssl_cache_put(mem, id, op & 1 ? 0 : PX_SSL_CACHE_MAX_ID + 1, buf, 10, now,
                                 now + 10) != PX_ERROR ||
                px_ssl_cache_get(mem, id, op & 1 ? 0 : PX_SSL_CACHE_MAX_ID + 1, buf, sizeof(buf),
                                 now) != 0)
                abort();
            break;
        }

        size_t maybe = 0;
        for (int i = 0; i < IDS; i++)
            maybe += model[i].present;
        if (px_ssl_cache_count(mem) > maybe)
            abort();
    }
    free(mem);
    return 0;
}
