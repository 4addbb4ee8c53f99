/* Unit tests for core/px_regex: compile errors in nginx's wording, matching, captures. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/px_regex.h"

static px_regex_t *compile_ok(const char *pattern, unsigned flags)
{
    char err[256] = "";
    px_regex_t *re =
        px_regex_compile(px_str_make(pattern, strlen(pattern)), flags, err, sizeof(err));
    ck_assert_msg(re != NULL, "compile \"%s\": %s", pattern, err);
    return re;
}

static void assert_compile_error(const char *pattern, const char *expected)
{
    char err[256] = "";
    px_regex_t *re = px_regex_compile(px_str_make(pattern, strlen(pattern)), 0, err, sizeof(err));
    ck_assert_ptr_null(re);
    ck_assert_str_eq(err, expected);
}

static int exec(const px_regex_t *re, const char *s, size_t *ov, int pairs)
{
    return px_regex_exec(re, s, strlen(s), ov, pairs);
}

START_TEST(test_error_at_end_of_pattern_has_no_at_part)
{
    assert_compile_error("^/(a", "pcre2_compile() failed: missing closing parenthesis in \"^/(a\"");
    assert_compile_error("\\", "pcre2_compile() failed: \\ at end of pattern in \"\\\"");
    assert_compile_error("^/a[",
                         "pcre2_compile() failed: missing terminating ] for character class in "
                         "\"^/a[\"");
}
END_TEST

START_TEST(test_error_inside_pattern_shows_rest_of_pattern)
{
    assert_compile_error("^/a{2,1}b", "pcre2_compile() failed: numbers out of order in {} "
                                      "quantifier in \"^/a{2,1}b\" at \"}b\"");
    assert_compile_error("^/a(?<1x>b)", "pcre2_compile() failed: subpattern name must start with "
                                        "a non-digit in \"^/a(?<1x>b)\" at \"1x>b)\"");
    assert_compile_error("(?<a>x)(?<a>y)",
                         "pcre2_compile() failed: two named subpatterns have the same name "
                         "(PCRE2_DUPNAMES not set) in \"(?<a>x)(?<a>y)\" at \"y)\"");
}
END_TEST

START_TEST(test_error_message_is_truncated_to_buffer)
{
    char err[16];
    memset(err, 'x', sizeof(err));
    ck_assert_ptr_null(px_regex_compile(PX_STR("^/(a"), 0, err, sizeof(err)));
    ck_assert_uint_eq(strlen(err), sizeof(err) - 1);
    ck_assert_ptr_null(px_regex_compile(PX_STR("^/(a"), 0, NULL, 0));
}
END_TEST

START_TEST(test_pattern_need_not_be_nul_terminated)
{
    const char buf[] = "ab(cd";
    size_t ov[4];
    px_regex_t *re = px_regex_compile(px_str_make(buf, 2), 0, NULL, 0);
    ck_assert_ptr_nonnull(re);
    ck_assert_int_eq(px_regex_capture_count(re), 0);
    ck_assert(px_str_eq_lit(px_regex_pattern(re), "ab"));
    ck_assert_int_eq(exec(re, "xaby", ov, 2), 1);
    ck_assert_uint_eq(ov[0], 1);
    ck_assert_uint_eq(ov[1], 3);
    px_regex_free(re);
}
END_TEST

START_TEST(test_match_returns_pairs_and_offsets)
{
    size_t ov[2 * 4];
    px_regex_t *re = compile_ok("^/(\\w+)/(\\d+)$", 0);
    ck_assert_int_eq(px_regex_capture_count(re), 2);
    ck_assert_int_eq(exec(re, "/user/42", ov, 4), 3);
    ck_assert_uint_eq(ov[0], 0);
    ck_assert_uint_eq(ov[1], 8);
    ck_assert_uint_eq(ov[2], 1);
    ck_assert_uint_eq(ov[3], 5);
    ck_assert_uint_eq(ov[4], 6);
    ck_assert_uint_eq(ov[5], 8);
    px_regex_free(re);
}
END_TEST

START_TEST(test_no_match_is_declined_and_leaves_ovector_alone)
{
    size_t ov[2] = {7, 7};
    px_regex_t *re = compile_ok("^/x", 0);
    ck_assert_int_eq(exec(re, "/y", ov, 1), PX_DECLINED);
    ck_assert_uint_eq(ov[0], 7);
    ck_assert_uint_eq(ov[1], 7);
    px_regex_free(re);
}
END_TEST

START_TEST(test_unset_group_reads_unset_and_count_stops_at_highest_set)
{
    size_t ov[2 * 4];
    px_regex_t *re = compile_ok("(a)|(b)|(c)", 0);
    ck_assert_int_eq(exec(re, "b", ov, 4), 3);
    ck_assert_uint_eq(ov[2], PX_REGEX_UNSET);
    ck_assert_uint_eq(ov[3], PX_REGEX_UNSET);
    ck_assert_uint_eq(ov[4], 0);
    ck_assert_uint_eq(ov[5], 1);
    px_regex_free(re);
}
END_TEST

START_TEST(test_caseless_flag)
{
    px_regex_t *cs = compile_ok("\\.JPG$", 0);
    px_regex_t *ci = compile_ok("\\.JPG$", PX_REGEX_CASELESS);
    ck_assert_int_eq(exec(cs, "/a.jpg", NULL, 0), PX_DECLINED);
    ck_assert_int_eq(exec(ci, "/a.jpg", NULL, 0), 0);
    ck_assert_int_eq(exec(cs, "/a.JPG", NULL, 0), 0);
    px_regex_free(cs);
    px_regex_free(ci);
}
END_TEST

START_TEST(test_small_ovector_gets_what_fits)
{
    size_t ov[2];
    px_regex_t *re = compile_ok("(a)(b)(c)", 0);
    ck_assert_int_eq(exec(re, "abc", ov, 1), 1);
    ck_assert_uint_eq(ov[0], 0);
    ck_assert_uint_eq(ov[1], 3);
    px_regex_free(re);
}
END_TEST

START_TEST(test_many_groups_grow_match_block_once)
{
    char pattern[256] = "";
    char subject[64] = "";
    size_t ov[2 * PX_REGEX_MAX_PAIRS];

    for (int i = 0; i < 40; i++) {
        strcat(pattern, "(.)");
        strcat(subject, "x");
    }
    px_regex_t *re = compile_ok(pattern, 0);
    ck_assert_int_eq(px_regex_capture_count(re), 40);
    ck_assert_int_eq(exec(re, subject, ov, PX_REGEX_MAX_PAIRS), PX_REGEX_MAX_PAIRS);
    ck_assert_uint_eq(ov[2 * 31], 30);
    px_regex_free(re);
}
END_TEST

START_TEST(test_subject_with_nul_byte_is_matched_by_length)
{
    size_t ov[2];
    px_regex_t *re = compile_ok("b$", 0);
    ck_assert_int_eq(px_regex_exec(re, "a\0b", 3, ov, 1), 1);
    ck_assert_uint_eq(ov[0], 2);
    ck_assert_int_eq(px_regex_exec(re, "a\0bc", 2, ov, 1), PX_DECLINED);
    px_regex_free(re);
}
END_TEST

START_TEST(test_empty_pattern_matches_everything)
{
    px_regex_t *re = px_regex_compile(PX_NULL_STR, 0, NULL, 0);
    ck_assert_ptr_nonnull(re);
    ck_assert_int_eq(px_regex_exec(re, NULL, 0, NULL, 0), 0);
    ck_assert_int_eq(exec(re, "/anything", NULL, 0), 0);
    px_regex_free(re);
}
END_TEST

START_TEST(test_named_groups_table_sorted_by_name)
{
    px_regex_t *re = compile_ok("^/(?<zone>\\w+)/(x)?(?<id>\\d+)$", 0);
    ck_assert_int_eq(px_regex_capture_count(re), 3);
    ck_assert_uint_eq(px_regex_name_count(re), 2);
    const px_regex_name_t *names = px_regex_names(re);
    ck_assert(px_str_eq_lit(names[0].name, "id"));
    ck_assert_int_eq(names[0].index, 3);
    ck_assert(px_str_eq_lit(names[1].name, "zone"));
    ck_assert_int_eq(names[1].index, 1);
    ck_assert_int_eq(px_regex_name_index(re, PX_STR("zone")), 1);
    ck_assert_int_eq(px_regex_name_index(re, PX_STR("id")), 3);
    ck_assert_int_eq(px_regex_name_index(re, PX_STR("zon")), -1);
    px_regex_free(re);
}
END_TEST

START_TEST(test_pattern_without_names_has_empty_table)
{
    px_regex_t *re = compile_ok("(a)", 0);
    ck_assert_uint_eq(px_regex_name_count(re), 0);
    ck_assert_int_eq(px_regex_name_index(re, PX_STR("a")), -1);
    px_regex_free(re);
}
END_TEST

START_TEST(test_free_null_is_noop)
{
    px_regex_free(NULL);
}
END_TEST

static Suite *regex_suite(void)
{
    Suite *s = suite_create("px_regex");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_error_at_end_of_pattern_has_no_at_part);
    tcase_add_test(tc, test_error_inside_pattern_shows_rest_of_pattern);
    tcase_add_test(tc, test_error_message_is_truncated_to_buffer);
    tcase_add_test(tc, test_pattern_need_not_be_nul_terminated);
    tcase_add_test(tc, test_match_returns_pairs_and_offsets);
    tcase_add_test(tc, test_no_match_is_declined_and_leaves_ovector_alone);
    tcase_add_test(tc, test_unset_group_reads_unset_and_count_stops_at_highest_set);
    tcase_add_test(tc, test_caseless_flag);
    tcase_add_test(tc, test_small_ovector_gets_what_fits);
    tcase_add_test(tc, test_many_groups_grow_match_block_once);
    tcase_add_test(tc, test_subject_with_nul_byte_is_matched_by_length);
    tcase_add_test(tc, test_empty_pattern_matches_everything);
    tcase_add_test(tc, test_named_groups_table_sorted_by_name);
    tcase_add_test(tc, test_pattern_without_names_has_empty_table);
    tcase_add_test(tc, test_free_null_is_noop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(regex_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
