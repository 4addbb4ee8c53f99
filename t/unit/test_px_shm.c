/*
 * Unit tests for core/px_shm: zones are mapped with their init run, memory written by a
 * forked child is seen by the parent, the lock excludes across processes, and a dead
 * holder's lock is released by px_shm_release_dead.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/px_shm.h"

static int init_calls;

static int init_counter(px_shm_zone_t *zone)
{
    init_calls++;
    *(long *)zone->addr = 1000;
    return PX_OK;
}

START_TEST(test_zone_is_mapped_zeroed_and_initialised)
{
    px_cycle_t *cycle = px_cycle_new();
    init_calls = 0;
    px_shm_zone_t *z = px_shm_zone_add(cycle, "counters", 4096, init_counter, NULL);
    ck_assert_ptr_nonnull(z);
    ck_assert_ptr_null(z->addr);
    ck_assert_int_eq(px_shm_map(cycle), PX_OK);
    ck_assert_ptr_nonnull(z->addr);
    ck_assert_int_eq(init_calls, 1);
    ck_assert_int_eq(*(long *)z->addr, 1000);
    ck_assert_int_eq(((char *)z->addr)[4095], 0);
    px_cycle_free(cycle);
}
END_TEST

START_TEST(test_children_share_the_zone_under_the_lock)
{
    px_cycle_t *cycle = px_cycle_new();
    px_shm_zone_t *z = px_shm_zone_add(cycle, "counters", 64, init_counter, NULL);
    ck_assert_int_eq(px_shm_map(cycle), PX_OK);
    volatile long *counter = z->addr;
    enum { CHILDREN = 4, ROUNDS = 20000 };
    for (int c = 0; c < CHILDREN; c++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            for (int i = 0; i < ROUNDS; i++) {
                px_shmtx_lock(z->lock);
                long v = *counter;
                *counter = v + 1;
                px_shmtx_unlock(z->lock);
            }
            _exit(0);
        }
    }
    for (int c = 0; c < CHILDREN; c++) {
        int status;
        ck_assert_int_gt(wait(&status), 0);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(*counter, 1000 + CHILDREN * ROUNDS);
    px_cycle_free(cycle);
}
END_TEST

START_TEST(test_lock_of_a_dead_holder_is_released)
{
    px_cycle_t *cycle = px_cycle_new();
    px_shm_zone_t *z = px_shm_zone_add(cycle, "z", 64, NULL, NULL);
    ck_assert_int_eq(px_shm_map(cycle), PX_OK);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        px_shmtx_lock(z->lock);
        _exit(1); /* dies holding it */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(px_shmtx_trylock(z->lock), 0);
    px_shm_release_dead(cycle, pid + 1); /* someone else: nothing happens */
    ck_assert_int_eq(px_shmtx_trylock(z->lock), 0);
    px_shm_release_dead(cycle, pid);
    ck_assert_int_eq(px_shmtx_trylock(z->lock), 1);
    px_shmtx_unlock(z->lock);
    px_cycle_free(cycle);
}
END_TEST

static int init_fails(px_shm_zone_t *zone)
{
    (void)zone;
    return PX_ERROR;
}

START_TEST(test_failed_init_fails_the_mapping)
{
    px_cycle_t *cycle = px_cycle_new();
    ck_assert_ptr_nonnull(px_shm_zone_add(cycle, "z", 64, init_fails, NULL));
    ck_assert_int_eq(px_shm_map(cycle), PX_ERROR);
    px_cycle_free(cycle);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("px_shm");
    TCase *tc = tcase_create("zones");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_zone_is_mapped_zeroed_and_initialised);
    tcase_add_test(tc, test_children_share_the_zone_under_the_lock);
    tcase_add_test(tc, test_lock_of_a_dead_holder_is_released);
    tcase_add_test(tc, test_failed_init_fails_the_mapping);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
