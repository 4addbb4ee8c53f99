/* Unit tests for core pieces: pools, arrays, the timer heap and posted calls. */
#include <check.h>
#include <stdlib.h>

#include "core/px_event.h"
#include "core/px_pool.h"

START_TEST(test_pool_allocations_are_aligned_and_survive_growth)
{
    px_pool_t *p = px_pool_create(256);
    char *small = px_palloc(p, 3);
    memcpy(small, "ab", 3);
    char *big = px_palloc(p, 100000);
    memset(big, 'x', 100000);
    for (int i = 0; i < 1000; i++) {
        void *q = px_palloc(p, (size_t)(i % 37) + 1);
        ck_assert_uint_eq((uintptr_t)q % 16, 0);
    }
    ck_assert_str_eq(small, "ab");
    ck_assert_int_eq(big[99999], 'x');
    px_pool_destroy(p);
}
END_TEST

static int cleaned;
static void count_cleanup(void *data)
{
    cleaned += *(int *)data;
}

START_TEST(test_pool_runs_cleanups_on_reset_and_destroy)
{
    px_pool_t *p = px_pool_create(256);
    int one = 1, ten = 10;
    cleaned = 0;
    px_pool_cleanup_add(p, count_cleanup, &one);
    px_pool_reset(p);
    ck_assert_int_eq(cleaned, 1);
    px_pool_cleanup_add(p, count_cleanup, &ten);
    px_pool_destroy(p);
    ck_assert_int_eq(cleaned, 11);
}
END_TEST

START_TEST(test_psprintf_formats_into_the_pool)
{
    px_pool_t *p = px_pool_create(256);
    ck_assert_str_eq(px_psprintf(p, "%s:%d", "127.0.0.1", 8080), "127.0.0.1:8080");
    px_pool_destroy(p);
}
END_TEST

START_TEST(test_pbuf_appends_numbers_and_keeps_bytes_across_growth)
{
    px_pool_t *pool = px_pool_create(256);
    px_pbuf_t b = {NULL, 0, 0, pool};
    px_pbuf_reserve(&b, 4);
    px_pbuf_lit(&b, "n=");
    px_pbuf_uint(&b, 0);
    px_pbuf_lit(&b, ",");
    px_pbuf_uint(&b, 1234567890);
    px_pbuf_lit(&b, ",");
    px_pbuf_uint(&b, UINT64_MAX);
    ck_assert_uint_eq(b.len, strlen("n=0,1234567890,18446744073709551615"));
    ck_assert(memcmp(b.p, "n=0,1234567890,18446744073709551615", b.len) == 0);
    ck_assert_uint_ge(b.cap, b.len);
    px_pool_destroy(pool);
}
END_TEST

START_TEST(test_array_push_grows_and_zeroes)
{
    px_pool_t *p = px_pool_create(256);
    px_array_t a;
    px_array_init(&a, p, 1, sizeof(int));
    for (int i = 0; i < 100; i++) {
        int *slot = px_array_push(&a);
        ck_assert_int_eq(*slot, 0);
        *slot = i;
    }
    ck_assert_uint_eq(a.nelts, 100);
    ck_assert_int_eq(((int *)a.elts)[57], 57);
    px_pool_destroy(p);
}
END_TEST

static int fired[16];
static int nfired;
static void on_timer(px_timer_t *t)
{
    fired[nfired++] = (int)(intptr_t)t->data;
}

START_TEST(test_timers_fire_in_deadline_order_and_deleted_ones_never)
{
    ck_assert_int_eq(px_event_init(16), PX_OK);
    px_time_update();
    px_timer_t t[5];
    int after[5] = {30, 10, 20, 0, 40};
    for (int i = 0; i < 5; i++) {
        px_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
        px_timer_add(&t[i], (px_msec_t)after[i]);
    }
    px_timer_del(&t[2]);
    ck_assert(!px_timer_active(&t[2]));
    ck_assert_uint_eq(px_timer_count(), 4);
    nfired = 0;
    while (nfired < 4)
        px_event_process(NULL);
    ck_assert_int_eq(fired[0], 3);
    ck_assert_int_eq(fired[1], 1);
    ck_assert_int_eq(fired[2], 0);
    ck_assert_int_eq(fired[3], 4);
    ck_assert_uint_eq(px_timer_count(), 0);
    px_event_done();
}
END_TEST

static int posted_order[4];
static int nposted;
static void on_post(void *data)
{
    posted_order[nposted++] = (int)(intptr_t)data;
}

START_TEST(test_posted_calls_run_once_in_order_and_cancel_works)
{
    ck_assert_int_eq(px_event_init(16), PX_OK);
    px_post_t a, b, c;
    px_post_init(&a, on_post, (void *)1);
    px_post_init(&b, on_post, (void *)2);
    px_post_init(&c, on_post, (void *)3);
    px_post(&a);
    px_post(&b);
    px_post(&a); /* already queued: runs once */
    px_post(&c);
    px_post_cancel(&b);
    nposted = 0;
    px_event_process(NULL);
    ck_assert_int_eq(nposted, 2);
    ck_assert_int_eq(posted_order[0], 1);
    ck_assert_int_eq(posted_order[1], 3);
    px_event_done();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("px_core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pool_allocations_are_aligned_and_survive_growth);
    tcase_add_test(tc, test_pool_runs_cleanups_on_reset_and_destroy);
    tcase_add_test(tc, test_psprintf_formats_into_the_pool);
    tcase_add_test(tc, test_pbuf_appends_numbers_and_keeps_bytes_across_growth);
    tcase_add_test(tc, test_array_push_grows_and_zeroes);
    tcase_add_test(tc, test_timers_fire_in_deadline_order_and_deleted_ones_never);
    tcase_add_test(tc, test_posted_calls_run_once_in_order_and_cancel_works);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
