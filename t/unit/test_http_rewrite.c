/*
 * Unit tests for the pure parts of the rewrite module (http/http_rewrite.h): the if ()
 * condition grammar with nginx's messages, truthiness, file tests, the escaping of
 * captures, and how a rewrite's result becomes URI + arguments or a redirect target.
 * Messages and results were checked against nginx 1.22.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_rewrite.h"

static px_pool_t *pool;

static void setup(void)
{
    pool = px_pool_create(4096);
    ck_assert_ptr_nonnull(pool);
}

static void teardown(void)
{
    px_pool_destroy(pool);
}

/* Splits a condition written as in a config ("($a = b)") into words and parses it. */
static int parse(const char *text, http_rw_cond_t *c, char *err, size_t errlen)
{
    px_str_t words[16];
    size_t n = 0;
    const char *p = text;
    while (*p && n < 16) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        words[n++] = px_str_make(start, (size_t)(p - start));
    }
    err[0] = '\0';
    return http_rw_parse_condition(words, n, c, err, errlen);
}

static void ck_str(px_str_t got, const char *expected)
{
    ck_assert_msg(got.len == strlen(expected) &&
                      (got.len == 0 || memcmp(got.data, expected, got.len) == 0),
                  "expected \"%s\", got \"%.*s\"", expected, (int)got.len, got.data);
}

static void ck_error(const char *text, const char *message)
{
    http_rw_cond_t c;
    char err[256];
    ck_assert_int_eq(parse(text, &c, err, sizeof(err)), PX_ERROR);
    ck_assert_str_eq(err, message);
}

/* ---- condition grammar ---- */

START_TEST(test_variable_alone_in_parentheses_is_a_truth_test)
{
    http_rw_cond_t c;
    char err[256];
    ck_assert_int_eq(parse("($a)", &c, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(c.kind, HTTP_RW_COND_VAR);
    ck_str(c.var, "a");
    ck_assert_int_eq(parse("( $http_x )", &c, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(c.kind, HTTP_RW_COND_VAR);
    ck_str(c.var, "http_x");
}
END_TEST

START_TEST(test_equality_and_inequality_take_the_last_word)
{
    http_rw_cond_t c;
    char err[256];
    ck_assert_int_eq(parse("($a = b)", &c, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(c.kind, HTTP_RW_COND_EQ);
    ck_str(c.var, "a");
    ck_str(c.operand, "b");
    ck_assert_int_eq(parse("( $a != b )", &c, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(c.kind, HTTP_RW_COND_NE);
    ck_str(c.operand, "b");
}
END_TEST

START_TEST(test_regex_operators_set_negation_and_case)
{
    static const struct {
        const char *text;
        int negate, caseless;
    } cases[] = {
        {"($a ~ ^x)", 0, 0}, {"($a ~* ^x)", 0, 1}, {"($a !~ ^x)", 1, 0}, {"($a !~* ^x)", 1, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_rw_cond_t c;
        char err[256];
        ck_assert_int_eq(parse(cases[i].text, &c, err, sizeof(err)), PX_OK);
        ck_assert_int_eq(c.kind, HTTP_RW_COND_REGEX);
        ck_assert_int_eq(c.negate, cases[i].negate);
        ck_assert_int_eq(c.caseless, cases[i].caseless);
        ck_str(c.operand, "^x");
    }
}
END_TEST

START_TEST(test_regex_keeps_its_own_parentheses)
{
    http_rw_cond_t c;
    char err[256];
    ck_assert_int_eq(parse("($http_user_agent ~* (bot|curl))", &c, err, sizeof(err)), PX_OK);
    ck_str(c.operand, "(bot|curl)");
}
END_TEST

START_TEST(test_file_tests_and_their_negations)
{
    static const struct {
        const char *text;
        int test, negate;
    } cases[] = {{"(-f $p)", HTTP_RW_FILE_F, 0}, {"(!-f $p)", HTTP_RW_FILE_F, 1},
                 {"(-d $p)", HTTP_RW_FILE_D, 0}, {"(!-d $p)", HTTP_RW_FILE_D, 1},
                 {"(-e $p)", HTTP_RW_FILE_E, 0}, {"(!-e $p)", HTTP_RW_FILE_E, 1},
                 {"(-x $p)", HTTP_RW_FILE_X, 0}, {"( !-x $p )", HTTP_RW_FILE_X, 1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_rw_cond_t c;
        char err[256];
        ck_assert_int_eq(parse(cases[i].text, &c, err, sizeof(err)), PX_OK);
        ck_assert_int_eq(c.kind, HTTP_RW_COND_FILE);
        ck_assert_int_eq(c.file_test, cases[i].test);
        ck_assert_int_eq(c.negate, cases[i].negate);
        ck_str(c.operand, "$p");
    }
}
END_TEST

START_TEST(test_malformed_conditions_give_nginx_messages)
{
    ck_error("$a", "invalid condition \"$a\"");
    /* the '(' is cut before the ')' is looked for, as nginx does */
    ck_error("($a", "invalid condition \"$a\"");
    ck_error("()", "invalid condition \")\"");
    ck_error("( )", "invalid condition \")\"");
    ck_error("($a ~ x", "invalid condition \"x\"");
    ck_error("($a == b)", "unexpected \"==\" in condition");
    ck_error("($a = b c)", "invalid condition \"$a\"");
    ck_error("($a =)", "invalid condition \"$a\"");
    ck_error("(-q $a)", "invalid condition \"-q\"");
    ck_error("(!-f)", "invalid condition \"!-f\"");
    ck_error("(-f $a $b)", "invalid condition \"-f\"");
    ck_error("(x)", "invalid condition \"x\"");
    ck_error("(\"$a\")", "invalid condition \"\"$a\"\"");
    ck_error("($)", "invalid condition \"$\"");
}
END_TEST

/* ---- truth and files ---- */

START_TEST(test_empty_and_zero_are_false)
{
    ck_assert_int_eq(http_rw_true(PX_STR("")), 0);
    ck_assert_int_eq(http_rw_true(PX_STR("0")), 0);
    ck_assert_int_eq(http_rw_true(PX_STR("00")), 1);
    ck_assert_int_eq(http_rw_true(PX_STR("1")), 1);
    ck_assert_int_eq(http_rw_true(PX_STR(" ")), 1);
}
END_TEST

START_TEST(test_file_tests_by_kind)
{
    struct stat reg = {0}, dir = {0}, exe = {0}, fifo = {0};
    reg.st_mode = S_IFREG | 0644;
    dir.st_mode = S_IFDIR | 0755;
    exe.st_mode = S_IFREG | 0755;
    fifo.st_mode = S_IFIFO | 0644;
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_F, 0, 1, &reg), 1);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_F, 0, 1, &dir), 0);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_F, 1, 1, &dir), 1);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_D, 0, 1, &dir), 1);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_E, 0, 1, &dir), 1);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_E, 0, 1, &fifo), 0);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_X, 0, 1, &exe), 1);
    ck_assert_int_eq(http_rw_file_test(HTTP_RW_FILE_X, 0, 1, &reg), 0);
    /* a missing file fails every positive test and passes every negative one */
    for (int t = HTTP_RW_FILE_F; t <= HTTP_RW_FILE_X; t++) {
        ck_assert_int_eq(http_rw_file_test(t, 0, 0, &reg), 0);
        ck_assert_int_eq(http_rw_file_test(t, 1, 0, &reg), 1);
    }
}
END_TEST

/* ---- escaping and results ---- */

static void ck_escape(const char *in, const char *expected)
{
    char out[256];
    size_t n = http_rw_escape_args(in, strlen(in), NULL);
    ck_assert_uint_eq(n, strlen(expected));
    ck_assert_uint_eq(http_rw_escape_args(in, strlen(in), out), n);
    out[n] = '\0';
    ck_assert_str_eq(out, expected);
}

START_TEST(test_captures_escaped_for_arguments)
{
    ck_escape("a b", "a%20b");
    ck_escape("x&y=1+2;z?#%", "x%26y=1%2B2%3Bz%3F%23%25");
    ck_escape("/p/q", "/p/q");
    ck_escape("\x01\x7f\xc3\xa9", "%01%7F%C3%A9");
}
END_TEST

START_TEST(test_split_without_question_mark_keeps_or_drops_args)
{
    px_str_t uri, args;
    http_rw_split(pool, PX_STR("/new"), (size_t)-1, 1, PX_STR("a=1"), &uri, &args);
    ck_str(uri, "/new");
    ck_str(args, "a=1");
    http_rw_split(pool, PX_STR("/new"), (size_t)-1, 0, PX_STR("a=1"), &uri, &args);
    ck_str(uri, "/new");
    ck_str(args, "");
}
END_TEST

START_TEST(test_split_with_new_args_appends_old_ones)
{
    px_str_t uri, args;
    http_rw_split(pool, PX_STR("/show?user=7"), 6, 1, PX_STR("a=1"), &uri, &args);
    ck_str(uri, "/show");
    ck_str(args, "user=7&a=1");
    http_rw_split(pool, PX_STR("/show?user=7"), 6, 0, PX_STR("a=1"), &uri, &args);
    ck_str(args, "user=7");
    http_rw_split(pool, PX_STR("/show?user=7"), 6, 1, PX_NULL_STR, &uri, &args);
    ck_str(args, "user=7");
}
END_TEST

START_TEST(test_redirect_target_carries_the_request_args)
{
    ck_str(http_rw_redirect_target(pool, PX_STR("/c"), (size_t)-1, 1, PX_STR("y=5")), "/c?y=5");
    ck_str(http_rw_redirect_target(pool, PX_STR("/c?x=1"), 3, 1, PX_STR("y=5")), "/c?x=1&y=5");
    ck_str(http_rw_redirect_target(pool, PX_STR("/c"), (size_t)-1, 0, PX_STR("y=5")), "/c");
    ck_str(http_rw_redirect_target(pool, PX_STR("/c"), (size_t)-1, 1, PX_NULL_STR), "/c");
}
END_TEST

static void ck_unescape(const char *in, const char *expected)
{
    char buf[256];
    size_t n = strlen(in);
    memcpy(buf, in, n);
    n = http_rw_unescape_redirect(buf, n);
    buf[n] = '\0';
    ck_assert_str_eq(buf, expected);
}

START_TEST(test_redirect_unescapes_up_to_the_first_question_mark)
{
    ck_unescape("/a%2Bb%26c%2Fd%3F%2F", "/a+b&c/d?%2F");
    ck_unescape("/a%20b%25c%22", "/a%20b%25c%22");
    ck_unescape("/x%41?q=%41", "/xA?q=%41");
    ck_unescape("/bad%zz%4", "/badzz");
    ck_unescape("/litA%20%2F%3F%7e?x=%41", "/litA%20/?%7e?x=%41");
    ck_unescape("", "");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_rewrite");
    TCase *tc = tcase_create("conditions");
    tcase_add_test(tc, test_variable_alone_in_parentheses_is_a_truth_test);
    tcase_add_test(tc, test_equality_and_inequality_take_the_last_word);
    tcase_add_test(tc, test_regex_operators_set_negation_and_case);
    tcase_add_test(tc, test_regex_keeps_its_own_parentheses);
    tcase_add_test(tc, test_file_tests_and_their_negations);
    tcase_add_test(tc, test_malformed_conditions_give_nginx_messages);
    tcase_add_test(tc, test_empty_and_zero_are_false);
    tcase_add_test(tc, test_file_tests_by_kind);
    suite_add_tcase(s, tc);
    tc = tcase_create("results");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_captures_escaped_for_arguments);
    tcase_add_test(tc, test_split_without_question_mark_keeps_or_drops_args);
    tcase_add_test(tc, test_split_with_new_args_appends_old_ones);
    tcase_add_test(tc, test_redirect_target_carries_the_request_args);
    tcase_add_test(tc, test_redirect_unescapes_up_to_the_first_question_mark);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
