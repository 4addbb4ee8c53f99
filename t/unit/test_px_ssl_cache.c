/* Shared TLS session cache: round trips, replacement, removal, expiry, eviction that keeps
 * the newest sessions and never returns another session's bytes, capacity per megabyte,
 * bounded chains for ids sharing a bucket, bad arguments, and a scribbled region that must
 * be recovered from without reading outside it. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/px_ssl_cache.h"

#define NOW 1000000
#define LATER (NOW + 300)

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* xorshift64*: reproducible runs without libc's rand state */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static void *region(size_t size)
{
    void *mem = calloc(1, size);
    ck_assert_ptr_nonnull(mem);
    ck_assert_int_eq(px_ssl_cache_init(mem, size), PX_OK);
    return mem;
}

/* A 32-byte id that names n. */
static void make_id(unsigned char *id, uint32_t n)
{
    for (int i = 0; i < PX_SSL_CACHE_MAX_ID; i++)
        id[i] = (unsigned char)((n >> (8 * (i % 4))) ^ (i * 37));
}

/* Session bytes that differ by version and position, so a wrong or shifted copy shows. */
static void make_data(unsigned char *data, size_t len, uint32_t version)
{
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(version * 131 + i * 7 + (i >> 8));
}

static int holds(void *mem, uint32_t n, size_t len, uint32_t version)
{
    unsigned char id[PX_SSL_CACHE_MAX_ID], want[PX_SSL_CACHE_MAX_DATA], got[PX_SSL_CACHE_MAX_DATA];
    make_id(id, n);
    make_data(want, len, version);
    ssize_t r = px_ssl_cache_get(mem, id, sizeof(id), got, sizeof(got), NOW);
    return r == (ssize_t)len && memcmp(got, want, len) == 0;
}

static int put_n(void *mem, uint32_t n, size_t len, uint32_t version)
{
    unsigned char id[PX_SSL_CACHE_MAX_ID], data[PX_SSL_CACHE_MAX_DATA];
    make_id(id, n);
    make_data(data, len, version);
    return px_ssl_cache_put(mem, id, sizeof(id), data, len, NOW, LATER);
}

START_TEST(test_put_then_get_returns_the_stored_bytes)
{
    void *mem = region(64 * 1024);
    const unsigned char id[] = "short-id";
    unsigned char out[64];
    ck_assert_int_eq(px_ssl_cache_put(mem, id, 8, (const unsigned char *)"session", 7, NOW, LATER),
                     PX_OK);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 8, out, sizeof(out), NOW), 7);
    ck_assert_mem_eq(out, "session", 7);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    /* a prefix of the id is another id */
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 7, out, sizeof(out), NOW), 0);

    ck_assert_int_eq(put_n(mem, 7, PX_SSL_CACHE_MAX_DATA, 1), PX_OK);
    ck_assert(holds(mem, 7, PX_SSL_CACHE_MAX_DATA, 1));
    ck_assert_uint_eq(px_ssl_cache_count(mem), 2);
    free(mem);
}
END_TEST

START_TEST(test_put_replaces_the_session_of_the_same_id)
{
    void *mem = region(64 * 1024);
    ck_assert_int_eq(put_n(mem, 1, 300, 1), PX_OK);
    ck_assert_int_eq(put_n(mem, 1, 120, 2), PX_OK);
    ck_assert(holds(mem, 1, 120, 2));
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    free(mem);
}
END_TEST

START_TEST(test_remove_forgets_only_that_session)
{
    void *mem = region(64 * 1024);
    unsigned char id[PX_SSL_CACHE_MAX_ID];
    ck_assert_int_eq(put_n(mem, 1, 200, 1), PX_OK);
    ck_assert_int_eq(put_n(mem, 2, 200, 2), PX_OK);
    make_id(id, 1);
    px_ssl_cache_remove(mem, id, sizeof(id));
    ck_assert(!holds(mem, 1, 200, 1));
    ck_assert(holds(mem, 2, 200, 2));
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    /* removing what is not there changes nothing */
    px_ssl_cache_remove(mem, id, sizeof(id));
    px_ssl_cache_remove(mem, id, 0);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    /* the space of a removed session is reused once the ring comes round */
    for (uint32_t n = 10; n < 1000; n++)
        ck_assert_int_eq(put_n(mem, n, 200, n), PX_OK);
    ck_assert(holds(mem, 999, 200, 999));
    free(mem);
}
END_TEST

START_TEST(test_get_after_expiry_returns_zero_and_removes)
{
    void *mem = region(64 * 1024);
    const unsigned char id[] = "expiring";
    unsigned char out[64];
    ck_assert_int_eq(px_ssl_cache_put(mem, id, 8, (const unsigned char *)"abc", 3, NOW, NOW + 10),
                     PX_OK);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 8, out, sizeof(out), NOW + 9), 3);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 8, out, sizeof(out), NOW + 10), 0);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 0);
    /* gone, not just hidden: an earlier clock does not bring it back */
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 8, out, sizeof(out), NOW), 0);
    free(mem);
}
END_TEST

START_TEST(test_put_already_expired_removes_the_old_session_and_stores_nothing)
{
    void *mem = region(64 * 1024);
    ck_assert_int_eq(put_n(mem, 1, 200, 1), PX_OK);
    unsigned char id[PX_SSL_CACHE_MAX_ID];
    make_id(id, 1);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), (const unsigned char *)"x", 1, NOW, NOW),
                     PX_OK);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 0);
    ck_assert(!holds(mem, 1, 200, 1));
    free(mem);
}
END_TEST

START_TEST(test_put_drops_expired_sessions_at_the_head)
{
    void *mem = region(64 * 1024);
    unsigned char id[PX_SSL_CACHE_MAX_ID], data[100] = {0};
    for (uint32_t n = 0; n < 3; n++) {
        make_id(id, n);
        ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), data, sizeof(data), NOW, NOW + 5),
                         PX_OK);
    }
    make_id(id, 100);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), data, sizeof(data), NOW + 5, NOW + 50),
                     PX_OK);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    free(mem);
}
END_TEST

/* Thousands of sessions of random sizes through a 64 KiB region, with replacements and
 * removals: every get gives 0 or exactly the last bytes stored under that id, and the
 * session just stored is always there. */
START_TEST(test_eviction_when_full_keeps_the_newest_and_never_corrupts)
{
    enum { IDS = 400, OPS = 20000 };
    static size_t model_len[IDS];
    static uint32_t model_version[IDS];
    void *mem = region(64 * 1024);
    unsigned char out[PX_SSL_CACHE_MAX_DATA], want[PX_SSL_CACHE_MAX_DATA];
    unsigned char id[PX_SSL_CACHE_MAX_ID];
    size_t hits = 0;
    rng_state = 0x9e3779b97f4a7c15ull;
    memset(model_len, 0, sizeof(model_len));

    for (uint32_t op = 1; op <= OPS; op++) {
        uint32_t n = rnd() % IDS, kind = rnd() % 10;
        make_id(id, n);
        if (kind < 5) {
            /* mostly server sessions, now and then one with a client certificate */
            size_t len = rnd() % 8 == 0 ? 1 + rnd() % PX_SSL_CACHE_MAX_DATA : 80 + rnd() % 400;
            ck_assert_int_eq(put_n(mem, n, len, op), PX_OK);
            model_len[n] = len;
            model_version[n] = op;
            ck_assert(holds(mem, n, len, op));
        } else if (kind < 9) {
            ssize_t r = px_ssl_cache_get(mem, id, sizeof(id), out, sizeof(out), NOW);
            if (r == 0)
                continue;
            ck_assert_int_eq(r, (ssize_t)model_len[n]);
            make_data(want, model_len[n], model_version[n]);
            ck_assert_mem_eq(out, want, model_len[n]);
            hits++;
        } else {
            px_ssl_cache_remove(mem, id, sizeof(id));
            model_len[n] = 0;
        }
        ck_assert_uint_le(px_ssl_cache_count(mem), IDS);
    }
    ck_assert_uint_gt(hits, OPS / 20);

    /* in store order, the newest sessions are the ones kept */
    for (uint32_t n = 0; n < 2000; n++)
        ck_assert_int_eq(put_n(mem, 10000 + n, 200, n), PX_OK);
    size_t count = px_ssl_cache_count(mem);
    ck_assert_uint_ge(count, 200);
    for (uint32_t n = 0; n < 2000; n++)
        ck_assert_int_eq(holds(mem, 10000 + n, 200, n), n >= 2000 - count);
    free(mem);
}
END_TEST

START_TEST(test_one_megabyte_holds_over_3000_sessions_of_200_bytes)
{
    void *mem = region(1024 * 1024);
    for (uint32_t n = 0; n < 5000; n++)
        ck_assert_int_eq(put_n(mem, n, 200, n), PX_OK);
    size_t count = px_ssl_cache_count(mem);
    ck_assert_uint_ge(count, 3000);
    for (uint32_t n = 5000 - 3000; n < 5000; n++)
        ck_assert(holds(mem, n, 200, n));
    free(mem);
}
END_TEST

START_TEST(test_oversize_or_empty_data_is_refused_and_the_old_session_kept)
{
    void *mem = region(64 * 1024);
    static unsigned char big[PX_SSL_CACHE_MAX_DATA + 1];
    unsigned char id[PX_SSL_CACHE_MAX_ID];
    make_id(id, 1);
    ck_assert_int_eq(put_n(mem, 1, 200, 1), PX_OK);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), big, sizeof(big), NOW, LATER), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), big, 0, NOW, LATER), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), NULL, 10, NOW, LATER), PX_ERROR);
    ck_assert(holds(mem, 1, 200, 1));
    ck_assert_uint_eq(px_ssl_cache_count(mem), 1);
    free(mem);
}
END_TEST

START_TEST(test_bad_id_lengths_are_refused)
{
    void *mem = region(64 * 1024);
    unsigned char id[PX_SSL_CACHE_MAX_ID + 1] = {1, 2, 3};
    unsigned char out[16];
    const unsigned char *data = (const unsigned char *)"data";
    ck_assert_int_eq(px_ssl_cache_put(mem, id, 0, data, 4, NOW, LATER), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, sizeof(id), data, 4, NOW, LATER), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_put(mem, NULL, 4, data, 4, NOW, LATER), PX_ERROR);
    ck_assert_uint_eq(px_ssl_cache_count(mem), 0);
    ck_assert_int_eq(px_ssl_cache_put(mem, id, 1, data, 4, NOW, LATER), PX_OK);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 0, out, sizeof(out), NOW), 0);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, sizeof(id), out, sizeof(out), NOW), 0);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, 1, out, sizeof(out), NOW), 4);
    free(mem);
}
END_TEST

START_TEST(test_get_into_a_too_small_buffer_fails_and_keeps_the_session)
{
    void *mem = region(64 * 1024);
    unsigned char id[PX_SSL_CACHE_MAX_ID], out[PX_SSL_CACHE_MAX_DATA];
    make_id(id, 1);
    ck_assert_int_eq(put_n(mem, 1, 200, 1), PX_OK);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, sizeof(id), out, 199, NOW), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, sizeof(id), NULL, 0, NOW), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, sizeof(id), out, 200, NOW), 200);
    free(mem);
}
END_TEST

START_TEST(test_two_regions_are_independent)
{
    void *a = region(64 * 1024), *b = region(32 * 1024);
    ck_assert_int_eq(put_n(a, 1, 200, 1), PX_OK);
    ck_assert_int_eq(put_n(b, 1, 300, 2), PX_OK);
    ck_assert_int_eq(put_n(b, 2, 300, 3), PX_OK);
    ck_assert(holds(a, 1, 200, 1));
    ck_assert(holds(b, 1, 300, 2));
    ck_assert(!holds(a, 2, 300, 3));
    ck_assert_uint_eq(px_ssl_cache_count(a), 1);
    ck_assert_uint_eq(px_ssl_cache_count(b), 2);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_region_too_small_or_misaligned_is_refused)
{
    unsigned char *mem = calloc(1, PX_SSL_CACHE_MIN_SIZE + 8);
    ck_assert_int_eq(px_ssl_cache_init(mem, PX_SSL_CACHE_MIN_SIZE - 1), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_init(mem, 0), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_init(NULL, 1 << 20), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_init(mem + 1, PX_SSL_CACHE_MIN_SIZE), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_init(mem, PX_SSL_CACHE_MIN_SIZE), PX_OK);
    /* the smallest region still takes the largest session */
    ck_assert_int_eq(put_n(mem, 1, PX_SSL_CACHE_MAX_DATA, 1), PX_OK);
    ck_assert(holds(mem, 1, PX_SSL_CACHE_MAX_DATA, 1));
    free(mem);
}
END_TEST

START_TEST(test_uninitialised_region_stores_and_finds_nothing)
{
    void *mem = calloc(1, 64 * 1024);
    unsigned char id[PX_SSL_CACHE_MAX_ID], out[16];
    make_id(id, 1);
    ck_assert_int_eq(put_n(mem, 1, 200, 1), PX_ERROR);
    ck_assert_int_eq(px_ssl_cache_get(mem, id, sizeof(id), out, sizeof(out), NOW), 0);
    px_ssl_cache_remove(mem, id, sizeof(id));
    ck_assert_uint_eq(px_ssl_cache_count(mem), 0);
    free(mem);
}
END_TEST

/* The cache's id hash (FNV-1a then murmur3's finalizer), so the test can build ids that
 * land in one bucket whatever the bucket count. */
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

START_TEST(test_ids_sharing_a_bucket_keep_only_the_newest_few)
{
    enum { SAME = 20 };
    void *mem = region(64 * 1024);
    unsigned char ids[SAME][8], out[16];
    uint32_t want = 0;
    int found = 0;
    for (uint64_t n = 0; found < SAME; n++) {
        memcpy(ids[found], &n, 8);
        uint32_t low = cache_hash(ids[found], 8) & 0xffff;
        if (found == 0)
            want = low;
        if (low == want)
            found++;
    }
    for (int i = 0; i < SAME; i++)
        ck_assert_int_eq(px_ssl_cache_put(mem, ids[i], 8, ids[i], 8, NOW, LATER), PX_OK);
    size_t kept = px_ssl_cache_count(mem);
    ck_assert_uint_ge(kept, 4);
    ck_assert_uint_le(kept, 16);
    for (int i = 0; i < SAME; i++) {
        ssize_t r = px_ssl_cache_get(mem, ids[i], 8, out, sizeof(out), NOW);
        ck_assert_int_eq(r, i >= SAME - (int)kept ? 8 : 0);
        if (r == 8)
            ck_assert_mem_eq(out, ids[i], 8);
    }
    free(mem);
}
END_TEST

/* A worker that dies holding the lock may leave a put half done: whatever the region then
 * holds past its header, no call reads or writes outside it, and the cache works again. */
START_TEST(test_scribbled_region_is_never_overrun_and_recovers)
{
    enum { SIZE = 16 * 1024 };
    unsigned char out[PX_SSL_CACHE_MAX_DATA], id[PX_SSL_CACHE_MAX_ID];
    rng_state = 42;
    for (int round = 0; round < 200; round++) {
        unsigned char *mem = region(SIZE);
        for (uint32_t n = 0; n < 30; n++)
            ck_assert_int_eq(put_n(mem, n, 100 + rnd() % 600, n), PX_OK);
        for (int i = 0; i < 1 + round % 50; i++) {
            size_t at = 64 + rnd() % (SIZE - 64);
            mem[at] = (unsigned char)(round % 3 == 0 ? 0xff : rnd());
        }
        for (uint32_t n = 0; n < 60; n++) {
            make_id(id, n);
            ssize_t r = px_ssl_cache_get(mem, id, sizeof(id), out, sizeof(out), NOW);
            ck_assert(r == 0 || (r > 0 && r <= PX_SSL_CACHE_MAX_DATA));
            if (n % 3 == 0)
                px_ssl_cache_remove(mem, id, sizeof(id));
            put_n(mem, 100 + n, 100 + rnd() % 600, n);
        }
        /* a put that meets the damage empties the cache: the next one is stored */
        if (put_n(mem, 500, 300, 7) != PX_OK) {
            ck_assert_uint_eq(px_ssl_cache_count(mem), 0);
            ck_assert_int_eq(put_n(mem, 500, 300, 7), PX_OK);
        }
        ck_assert(holds(mem, 500, 300, 7));
        free(mem);
    }
}
END_TEST

static Suite *ssl_cache_suite(void)
{
    Suite *s = suite_create("px_ssl_cache");
    TCase *basic = tcase_create("basic");
    tcase_add_test(basic, test_put_then_get_returns_the_stored_bytes);
    tcase_add_test(basic, test_put_replaces_the_session_of_the_same_id);
    tcase_add_test(basic, test_remove_forgets_only_that_session);
    tcase_add_test(basic, test_get_after_expiry_returns_zero_and_removes);
    tcase_add_test(basic, test_put_already_expired_removes_the_old_session_and_stores_nothing);
    tcase_add_test(basic, test_put_drops_expired_sessions_at_the_head);
    tcase_add_test(basic, test_two_regions_are_independent);
    suite_add_tcase(s, basic);

    TCase *space = tcase_create("space");
    tcase_set_timeout(space, 60);
    tcase_add_test(space, test_eviction_when_full_keeps_the_newest_and_never_corrupts);
    tcase_add_test(space, test_one_megabyte_holds_over_3000_sessions_of_200_bytes);
    tcase_add_test(space, test_ids_sharing_a_bucket_keep_only_the_newest_few);
    suite_add_tcase(s, space);

    TCase *bad = tcase_create("bad input");
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, test_oversize_or_empty_data_is_refused_and_the_old_session_kept);
    tcase_add_test(bad, test_bad_id_lengths_are_refused);
    tcase_add_test(bad, test_get_into_a_too_small_buffer_fails_and_keeps_the_session);
    tcase_add_test(bad, test_region_too_small_or_misaligned_is_refused);
    tcase_add_test(bad, test_uninitialised_region_stores_and_finds_nothing);
    tcase_add_test(bad, test_scribbled_region_is_never_overrun_and_recovers);
    suite_add_tcase(s, bad);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ssl_cache_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
