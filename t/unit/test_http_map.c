/*
 * Unit tests for the key table of http/http_map: exact keys ignoring case, hostnames
 * wildcards with nginx's conflict and validity rules, and lookup precedence (exact, longest
 * head wildcard, longest tail wildcard). Behaviours were checked against nginx 1.22.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/px_pool.h"
#include "http/http_map.h"

static px_pool_t *pool;
static http_map_table_t *table;

static void setup(void)
{
    pool = px_pool_create(4096);
    ck_assert_ptr_nonnull(pool);
    table = http_map_table_create(pool);
    ck_assert_ptr_nonnull(table);
}

static void teardown(void)
{
    px_pool_destroy(pool);
}

static int add(const char *key, int hostnames, const char *value)
{
    return http_map_table_add(table, px_str_make(key, strlen(key)), hostnames, (void *)value);
}

static const char *find(const char *subject)
{
    return http_map_table_find(table, px_str_make(subject, strlen(subject)));
}

static void ck_find(const char *subject, const char *expected)
{
    const char *got = find(subject);
    if (expected == NULL)
        ck_assert_msg(got == NULL, "\"%s\" found %s", subject, got);
    else
        ck_assert_msg(got && strcmp(got, expected) == 0, "\"%s\": expected %s, got %s", subject,
                      expected, got ? got : "NULL");
}

/* ---- exact keys ---- */

START_TEST(test_exact_key_matches_ignoring_case)
{
    ck_assert_int_eq(add("Foo", 0, "foo"), PX_OK);
    ck_find("foo", "foo");
    ck_find("FOO", "foo");
    ck_find("fo", NULL);
    ck_find("fooo", NULL);
}
END_TEST

START_TEST(test_empty_key_matches_empty_subject)
{
    ck_find("", NULL);
    ck_assert_int_eq(add("", 0, "empty"), PX_OK);
    ck_find("", "empty");
}
END_TEST

START_TEST(test_duplicate_key_ignoring_case_is_busy)
{
    ck_assert_int_eq(add("a", 0, "1"), PX_OK);
    ck_assert_int_eq(add("A", 0, "2"), PX_BUSY);
    ck_assert_int_eq(add("", 0, "3"), PX_OK);
    ck_assert_int_eq(add("", 0, "4"), PX_BUSY);
    ck_find("a", "1");
}
END_TEST

START_TEST(test_wildcards_without_hostnames_are_literal_keys)
{
    ck_assert_int_eq(add("*.example.com", 0, "star"), PX_OK);
    ck_assert_int_eq(add(".example.com", 0, "dot"), PX_OK);
    ck_assert_int_eq(add("www.*.com", 0, "mid"), PX_OK);
    ck_assert_int_eq(add("a..b", 0, "dots"), PX_OK);
    ck_find("*.example.com", "star");
    ck_find("x.example.com", NULL);
    ck_find("example.com", NULL);
    ck_find("www.*.com", "mid");
}
END_TEST

START_TEST(test_many_keys_survive_growth)
{
    static char keys[3000][16];
    for (int i = 0; i < 3000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "Key%d", i);
        ck_assert_int_eq(add(keys[i], 0, keys[i]), PX_OK);
    }
    for (int i = 0; i < 3000; i++) {
        char lower[16];
        snprintf(lower, sizeof(lower), "key%d", i);
        ck_find(lower, keys[i]);
    }
    ck_assert_int_eq(add("KEY1234", 0, "dup"), PX_BUSY);
    ck_find("key3000", NULL);
}
END_TEST

/* ---- hostnames: validity and conflicts ---- */

START_TEST(test_invalid_wildcards_are_declined)
{
    const char *bad[] = {"www.*.com", "a..b", "*", "*.", "*.*", "*.a.*", "*a.com", "a.*.*", ".."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(add(bad[i], 1, "x") == PX_DECLINED, "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_odd_but_valid_hostname_keys)
{
    ck_assert_int_eq(add(".", 1, "dot"), PX_OK);
    ck_assert_int_eq(add(".*", 1, "dotstar"), PX_OK);
    ck_assert_int_eq(add("a.com.", 1, "trailing"), PX_OK);
    ck_assert_int_eq(add("a.com", 1, "plain"), PX_OK);
    /* The caller strips one trailing dot of the subject, so "a.com.." reaches "a.com.". */
    ck_find("a.com.", "trailing");
    ck_find("a.com", "plain");
}
END_TEST

START_TEST(test_exact_then_dot_wildcard_conflict)
{
    ck_assert_int_eq(add("Ex.com", 1, "1"), PX_OK);
    ck_assert_int_eq(add(".EX.com", 1, "2"), PX_BUSY);
}
END_TEST

START_TEST(test_dot_wildcard_then_exact_conflict)
{
    ck_assert_int_eq(add(".ex.com", 1, "1"), PX_OK);
    ck_assert_int_eq(add("EX.com", 1, "2"), PX_BUSY);
}
END_TEST

START_TEST(test_dot_and_star_wildcards_of_one_domain_conflict)
{
    ck_assert_int_eq(add(".ex.com", 1, "1"), PX_OK);
    ck_assert_int_eq(add("*.ex.com", 1, "2"), PX_BUSY);
    ck_assert_int_eq(add(".ex.com", 1, "3"), PX_BUSY);
}
END_TEST

START_TEST(test_star_wildcard_and_exact_domain_do_not_conflict)
{
    ck_assert_int_eq(add("*.a.com", 1, "star"), PX_OK);
    ck_assert_int_eq(add("a.com", 1, "exact"), PX_OK);
    ck_find("a.com", "exact");
    ck_find("b.a.com", "star");
}
END_TEST

START_TEST(test_tail_wildcards_conflict_only_with_each_other)
{
    ck_assert_int_eq(add("www.ex.*", 1, "1"), PX_OK);
    ck_assert_int_eq(add("WWW.EX.*", 1, "2"), PX_BUSY);
    ck_assert_int_eq(add("www.ex.", 1, "exact"), PX_OK);
    ck_assert_int_eq(add("www.ex", 1, "exact2"), PX_OK);
}
END_TEST

START_TEST(test_same_text_exact_without_and_wildcard_with_hostnames)
{
    ck_assert_int_eq(add("*.a.com", 0, "literal"), PX_OK);
    ck_assert_int_eq(add("*.a.com", 1, "wild"), PX_OK);
    ck_find("*.a.com", "literal");
    ck_find("x.a.com", "wild");
}
END_TEST

/* ---- hostnames: lookup ---- */

START_TEST(test_star_matches_subdomains_not_the_domain)
{
    add("*.example.com", 1, "star");
    ck_find("x.example.com", "star");
    ck_find("y.x.example.com", "star");
    ck_find("X.Example.COM", "star");
    ck_find("example.com", NULL);
    ck_find("xexample.com", NULL);
}
END_TEST

START_TEST(test_dot_matches_domain_and_subdomains)
{
    add(".example.org", 1, "dot");
    ck_find("example.org", "dot");
    ck_find("a.b.example.org", "dot");
    ck_find("xexample.org", NULL);
    ck_find("org", NULL);
}
END_TEST

START_TEST(test_longest_head_wildcard_wins)
{
    add(".example.org", 1, "dot");
    add("*.a.example.org", 1, "deep");
    add("*.org", 1, "tld");
    ck_find("b.a.example.org", "deep");
    ck_find("a.example.org", "dot");
    ck_find("x.y.example.org", "dot");
    ck_find("other.org", "tld");
}
END_TEST

START_TEST(test_tail_wildcards_longest_prefix_first)
{
    add("www.example.*", 1, "long");
    add("www.*", 1, "short");
    ck_find("www.example.com", "long");
    ck_find("www.example.co.uk", "long");
    ck_find("www.examplex.com", "short");
    ck_find("www.example", "short");
    ck_find("www", NULL);
    ck_find("wwwx.com", NULL);
}
END_TEST

START_TEST(test_exact_before_head_before_tail)
{
    add("www.example.com", 1, "exact");
    add("*.example.com", 1, "head");
    add("www.*", 1, "tail");
    ck_find("www.example.com", "exact");
    ck_find("mail.example.com", "head");
    ck_find("www.example.net", "tail");
}
END_TEST

START_TEST(test_empty_subject_matches_no_wildcard)
{
    add(".a.com", 1, "dot");
    add("a.*", 1, "tail");
    ck_find("", NULL);
}
END_TEST

static Suite *map_suite(void)
{
    Suite *s = suite_create("http_map");
    TCase *tc = tcase_create("table");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_exact_key_matches_ignoring_case);
    tcase_add_test(tc, test_empty_key_matches_empty_subject);
    tcase_add_test(tc, test_duplicate_key_ignoring_case_is_busy);
    tcase_add_test(tc, test_wildcards_without_hostnames_are_literal_keys);
    tcase_add_test(tc, test_many_keys_survive_growth);
    tcase_add_test(tc, test_invalid_wildcards_are_declined);
    tcase_add_test(tc, test_odd_but_valid_hostname_keys);
    tcase_add_test(tc, test_exact_then_dot_wildcard_conflict);
    tcase_add_test(tc, test_dot_wildcard_then_exact_conflict);
    tcase_add_test(tc, test_dot_and_star_wildcards_of_one_domain_conflict);
    tcase_add_test(tc, test_star_wildcard_and_exact_domain_do_not_conflict);
    tcase_add_test(tc, test_tail_wildcards_conflict_only_with_each_other);
    tcase_add_test(tc, test_same_text_exact_without_and_wildcard_with_hostnames);
    tcase_add_test(tc, test_star_matches_subdomains_not_the_domain);
    tcase_add_test(tc, test_dot_matches_domain_and_subdomains);
    tcase_add_test(tc, test_longest_head_wildcard_wins);
    tcase_add_test(tc, test_tail_wildcards_longest_prefix_first);
    tcase_add_test(tc, test_exact_before_head_before_tail);
    tcase_add_test(tc, test_empty_subject_matches_no_wildcard);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(map_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
