/*
 * Unit tests for the request-independent pieces of static file serving (http_static.h):
 * URI to path mapping under root and alias, the path safety check, Range parsing, entity
 * tag matching and HTTP dates. Expected results follow nginx 1.22's behaviour.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http_static.h"

static px_str_t S(const char *s)
{
    return px_str_make(s, strlen(s));
}

static void ck_map(const char *base, size_t alias_len, int add_uri, const char *uri, const char *want)
{
    char out[256];
    size_t len = http_static_map(S(base), alias_len, add_uri, S(uri), out);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(out, want);
}

/* ---- mapping ---- */

START_TEST(test_root_appends_the_whole_uri)
{
    ck_map("/srv/www", 0, 0, "/a/b.txt", "/srv/www/a/b.txt");
    ck_map("/srv/www", 0, 0, "/", "/srv/www/");
    ck_map("", 0, 0, "/x", "/x");
}
END_TEST

START_TEST(test_alias_replaces_the_location_prefix)
{
    ck_map("/data/img/", 5, 0, "/img/a.png", "/data/img/a.png");
    ck_map("/data/img", 4, 0, "/img/a.png", "/data/img/a.png");
    ck_map("/data/img/", 4, 0, "/img../secret", "/data/img/../secret");
    ck_map("/data/file", 4, 0, "/img", "/data/file");
}
END_TEST

START_TEST(test_alias_longer_than_uri_takes_nothing_of_it)
{
    ck_map("/data/", 10, 0, "/img", "/data/");
}
END_TEST

START_TEST(test_regex_alias_is_the_whole_path_unless_try_files_added_the_uri)
{
    ck_map("/data/img/a.png", HTTP_ALIAS_WHOLE, 0, "/re/a.png", "/data/img/a.png");
    ck_map("/data/img", HTTP_ALIAS_WHOLE, 1, "/a.png", "/data/img/a.png");
}
END_TEST

/* ---- safety ---- */

START_TEST(test_dotdot_segment_in_request_part_is_unsafe)
{
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/../secret"), 10), 1);
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/.."), 10), 1);
    ck_assert_int_eq(http_static_path_unsafe(S("/srv/a/../../etc"), 4), 1);
}
END_TEST

START_TEST(test_dots_that_are_not_a_segment_are_safe)
{
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img.."), 9), 0);
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/..x"), 10), 0);
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/x.."), 10), 0);
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/.../x"), 10), 0);
    ck_assert_int_eq(http_static_path_unsafe(S("/data/img/a.txt"), 10), 0);
}
END_TEST

START_TEST(test_dotdot_in_configured_part_is_left_alone)
{
    ck_assert_int_eq(http_static_path_unsafe(S("/srv/../www/a.txt"), 11), 0);
}
END_TEST

START_TEST(test_nul_byte_anywhere_is_unsafe)
{
    ck_assert_int_eq(http_static_path_unsafe(px_str_make("/srv/a\0b", 8), 4), 1);
    ck_assert_int_eq(http_static_path_unsafe(px_str_make("/s\0rv/ab", 8), 6), 1);
}
END_TEST

/* ---- ranges ---- */

static http_range_t ranges[16];
static size_t nranges;

static int range(const char *value, int64_t size, int max)
{
    return http_static_parse_range(S(value), size, max, ranges, 16, &nranges);
}

static void ck_range(size_t i, int64_t start, int64_t end)
{
    ck_assert_uint_gt(nranges, i);
    ck_assert_int_eq(ranges[i].start, start);
    ck_assert_int_eq(ranges[i].end, end);
}

START_TEST(test_range_forms)
{
    ck_assert_int_eq(range("bytes=0-3", 20, 100), HTTP_RANGE_OK);
    ck_range(0, 0, 4);
    ck_assert_int_eq(range("bytes=5-", 20, 100), HTTP_RANGE_OK);
    ck_range(0, 5, 20);
    ck_assert_int_eq(range("bytes=-3", 20, 100), HTTP_RANGE_OK);
    ck_range(0, 17, 20);
    ck_assert_int_eq(range("bytes=-30", 20, 100), HTTP_RANGE_OK); /* a suffix longer than the file */
    ck_range(0, 0, 20);
    ck_assert_int_eq(range("bytes=18-100", 20, 100), HTTP_RANGE_OK);
    ck_range(0, 18, 20);
    ck_assert_int_eq(range("BYTES= 2 - 4 ", 20, 100), HTTP_RANGE_OK);
    ck_range(0, 2, 5);
}
END_TEST

START_TEST(test_several_ranges)
{
    ck_assert_int_eq(range("bytes=0-1,5-6", 20, 100), HTTP_RANGE_OK);
    ck_assert_uint_eq(nranges, 2);
    ck_range(1, 5, 7);
    ck_assert_int_eq(range("bytes=0-1, 100-200, 5-6", 20, 100), HTTP_RANGE_OK);
    ck_assert_uint_eq(nranges, 2); /* the unsatisfiable one is dropped */
}
END_TEST

START_TEST(test_malformed_range_is_unsatisfiable)
{
    const char *bad[] = {"bytes=abc", "bytes=5-2", "bytes=0-1,", "bytes=1-2-3", "bytes=--1",
                         "bytes=1x-2", "bytes=,0-1", "bytes=99999999999999999999-"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(range(bad[i], 20, 100) == HTTP_RANGE_UNSATISFIABLE, "%s", bad[i]);
}
END_TEST

START_TEST(test_range_past_the_end_is_unsatisfiable)
{
    ck_assert_int_eq(range("bytes=20-", 20, 100), HTTP_RANGE_UNSATISFIABLE);
    ck_assert_int_eq(range("bytes=-0", 20, 100), HTTP_RANGE_UNSATISFIABLE);
}
END_TEST

START_TEST(test_range_not_bytes_or_too_short_is_ignored)
{
    ck_assert_int_eq(range("items=0-1", 20, 100), HTTP_RANGE_IGNORE);
    ck_assert_int_eq(range("bytes=", 20, 100), HTTP_RANGE_IGNORE);
    ck_assert_int_eq(range("bytes", 20, 100), HTTP_RANGE_IGNORE);
}
END_TEST

START_TEST(test_range_on_empty_file_is_ignored)
{
    ck_assert_int_eq(range("bytes=0-", 0, 100), HTTP_RANGE_IGNORE);
    ck_assert_int_eq(range("bytes=1-", 0, 100), HTTP_RANGE_UNSATISFIABLE);
}
END_TEST

START_TEST(test_more_ranges_than_max_or_than_the_file_are_ignored)
{
    ck_assert_int_eq(range("bytes=0-1,3-4", 10, 1), HTTP_RANGE_IGNORE);
    ck_assert_int_eq(range("bytes=0-1", 10, 1), HTTP_RANGE_OK);
    ck_assert_int_eq(range("bytes=0-1", 10, 0), HTTP_RANGE_IGNORE);
    ck_assert_int_eq(range("bytes=0-9,0-9", 10, 100), HTTP_RANGE_IGNORE);
}
END_TEST

/* ---- entity tags ---- */

START_TEST(test_etag_format)
{
    char buf[40];
    size_t n = http_static_etag(1700000000, 6, buf);
    ck_assert_str_eq(buf, "\"6553f100-6\"");
    ck_assert_uint_eq(n, 12);
}
END_TEST

START_TEST(test_etag_match_lists_weak_and_star)
{
    px_str_t tag = S("\"6553f100-6\"");
    ck_assert_int_eq(http_static_etag_match(S("\"6553f100-6\""), tag, 0), 1);
    ck_assert_int_eq(http_static_etag_match(S("\"x\", \"6553f100-6\""), tag, 0), 1);
    ck_assert_int_eq(http_static_etag_match(S("\"x\",\t\"6553f100-6\" "), tag, 0), 1);
    ck_assert_int_eq(http_static_etag_match(S("W/\"6553f100-6\""), tag, 1), 1);
    ck_assert_int_eq(http_static_etag_match(S("W/\"6553f100-6\""), tag, 0), 0);
    ck_assert_int_eq(http_static_etag_match(S("\"6553f100-6\"x"), tag, 0), 0);
    ck_assert_int_eq(http_static_etag_match(S("\"6553f100-\""), tag, 0), 0);
    ck_assert_int_eq(http_static_etag_match(S("*"), tag, 0), 1);
    ck_assert_int_eq(http_static_etag_match(S(""), tag, 0), 0);
}
END_TEST

START_TEST(test_etag_star_matches_a_missing_etag_and_nothing_else_does)
{
    ck_assert_int_eq(http_static_etag_match(S("*"), PX_NULL_STR, 1), 1);
    ck_assert_int_eq(http_static_etag_match(S("\"\""), PX_NULL_STR, 1), 0);
    ck_assert_int_eq(http_static_etag_match(S("x"), PX_NULL_STR, 0), 0);
}
END_TEST

/* ---- dates ---- */

START_TEST(test_three_date_forms)
{
    ck_assert_int_eq(http_static_parse_date(S("Tue, 14 Nov 2023 22:13:20 GMT")), 1700000000);
    ck_assert_int_eq(http_static_parse_date(S("Tuesday, 14-Nov-23 22:13:20 GMT")), 1700000000);
    ck_assert_int_eq(http_static_parse_date(S("Tue Nov 14 22:13:20 2023")), 1700000000);
    ck_assert_int_eq(http_static_parse_date(S("Sun Nov  6 08:49:37 1994")), 784111777);
    ck_assert_int_eq(http_static_parse_date(S("Sun, 06 Nov 1994 08:49:37 GMT")), 784111777);
    ck_assert_int_eq(http_static_parse_date(S("Thu, 29 Feb 2024 00:00:00 GMT")), 1709164800);
}
END_TEST

START_TEST(test_bad_dates_are_rejected)
{
    const char *bad[] = {"", "garbage", "Tue, 14 Nov 2023", "Tue, 14 Foo 2023 22:13:20 GMT",
                         "Tue, 14 Nov 2023 24:00:00 GMT", "Tue, 14 Nov 2023 22:60:00 GMT",
                         "Wed, 29 Feb 2023 00:00:00 GMT", "Wed, 31 Apr 2023 00:00:00 GMT",
                         "Tue, 1x Nov 2023 22:13:20 GMT", "Tue, 14/Nov/2023 22:13:20 GMT",
                         "Tue, 14 Nov 2023 22-13-20 GMT"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(http_static_parse_date(S(bad[i])) == -1, "%s", bad[i]);
}
END_TEST

static Suite *static_suite(void)
{
    Suite *s = suite_create("http_static");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, test_root_appends_the_whole_uri);
    tcase_add_test(tc, test_alias_replaces_the_location_prefix);
    tcase_add_test(tc, test_alias_longer_than_uri_takes_nothing_of_it);
    tcase_add_test(tc, test_regex_alias_is_the_whole_path_unless_try_files_added_the_uri);
    suite_add_tcase(s, tc);
    tc = tcase_create("safety");
    tcase_add_test(tc, test_dotdot_segment_in_request_part_is_unsafe);
    tcase_add_test(tc, test_dots_that_are_not_a_segment_are_safe);
    tcase_add_test(tc, test_dotdot_in_configured_part_is_left_alone);
    tcase_add_test(tc, test_nul_byte_anywhere_is_unsafe);
    suite_add_tcase(s, tc);
    tc = tcase_create("range");
    tcase_add_test(tc, test_range_forms);
    tcase_add_test(tc, test_several_ranges);
    tcase_add_test(tc, test_malformed_range_is_unsatisfiable);
    tcase_add_test(tc, test_range_past_the_end_is_unsatisfiable);
    tcase_add_test(tc, test_range_not_bytes_or_too_short_is_ignored);
    tcase_add_test(tc, test_range_on_empty_file_is_ignored);
    tcase_add_test(tc, test_more_ranges_than_max_or_than_the_file_are_ignored);
    suite_add_tcase(s, tc);
    tc = tcase_create("validators");
    tcase_add_test(tc, test_etag_format);
    tcase_add_test(tc, test_etag_match_lists_weak_and_star);
    tcase_add_test(tc, test_etag_star_matches_a_missing_etag_and_nothing_else_does);
    tcase_add_test(tc, test_three_date_forms);
    tcase_add_test(tc, test_bad_dates_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(static_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
