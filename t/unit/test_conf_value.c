/* Directive value parsers against the answers nginx 1.22 gives for the same text
 * (each case below was checked with `nginx -t`). */
#include <check.h>
#include <stdio.h>

#include "conf/conf_value.h"

#define S(lit) PX_STR(lit)

typedef struct {
    const char *text;
    int64_t want;
} value_case_t;

static px_str_t str(const char *s)
{
    return px_str_make(s, strlen(s));
}

static void check_cases(int64_t (*parse)(px_str_t), const value_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t got = parse(str(cases[i].text));
        ck_assert_msg(got == cases[i].want, "\"%s\": got %lld, want %lld", cases[i].text,
                      (long long)got, (long long)cases[i].want);
    }
}

#define CHECK_CASES(fn, cases) check_cases(fn, cases, sizeof(cases) / sizeof(cases[0]))

START_TEST(test_number_accepts_plain_decimal_digits)
{
    static const value_case_t cases[] = {
        {"0", 0}, {"100", 100}, {"007", 7}, {"9223372036854775807", INT64_MAX}};
    CHECK_CASES(conf_parse_number, cases);
}
END_TEST

START_TEST(test_number_rejects_signs_units_spaces_empty_and_overflow)
{
    static const value_case_t cases[] = {{"", -1},
                                         {"x", -1},
                                         {"-1", -1},
                                         {"+5", -1},
                                         {"1k", -1},
                                         {" 1", -1},
                                         {"1 ", -1},
                                         {"1.5", -1},
                                         {"9223372036854775808", -1},
                                         {"99999999999999999999", -1}};
    CHECK_CASES(conf_parse_number, cases);
}
END_TEST

START_TEST(test_size_accepts_bytes_k_and_m_in_either_case)
{
    static const value_case_t cases[] = {{"0", 0},
                                         {"1024", 1024},
                                         {"8k", 8192},
                                         {"8K", 8192},
                                         {"01k", 1024},
                                         {"1m", 1048576},
                                         {"1M", 1048576},
                                         {"9223372036854775807", INT64_MAX},
                                         {"9007199254740991k", 9007199254740991LL * 1024}};
    CHECK_CASES(conf_parse_size, cases);
}
END_TEST

START_TEST(test_size_rejects_g_unknown_units_bare_unit_and_overflow)
{
    static const value_case_t cases[] = {{"", -1},
                                         {"x", -1},
                                         {"k", -1},
                                         {"1g", -1},
                                         {"1G", -1},
                                         {"1t", -1},
                                         {"1kk", -1},
                                         {" 1k", -1},
                                         {"1 k", -1},
                                         {"-1k", -1},
                                         {"1.5k", -1},
                                         {"9223372036854775808", -1},
                                         {"9007199254740992k", -1}};
    CHECK_CASES(conf_parse_size, cases);
}
END_TEST

START_TEST(test_offset_accepts_g_as_well_as_k_and_m)
{
    static const value_case_t cases[] = {{"1g", 1073741824},
                                         {"1G", 1073741824},
                                         {"1m", 1048576},
                                         {"8k", 8192},
                                         {"0", 0},
                                         {"8589934591g", 8589934591LL << 30},
                                         {"8796093022207m", 8796093022207LL << 20}};
    CHECK_CASES(conf_parse_offset, cases);
}
END_TEST

START_TEST(test_offset_rejects_t_empty_and_overflow)
{
    static const value_case_t cases[] = {{"", -1},
                                         {"g", -1},
                                         {"1t", -1},
                                         {"1gb", -1},
                                         {"x", -1},
                                         {"8589934592g", -1},
                                         {"8796093022208m", -1},
                                         {"9223372036854775808", -1}};
    CHECK_CASES(conf_parse_offset, cases);
}
END_TEST

START_TEST(test_msec_reads_units_and_bare_seconds)
{
    static const value_case_t cases[] = {
        {"0", 0},
        {"30", 30000},
        {"30s", 30000},
        {"500ms", 500},
        {"1m", 60000},
        {"1h", 3600000},
        {"1d", 86400000},
        {"1w", 604800000},
        {"1h 30m", 5400000},
        {"1h30m", 5400000},
        {"1h  30m", 5400000},
        {"1s500ms", 1500},
        {"1m1ms", 60001},
        {"1h30", 3630000},
        {"1h0", 3600000},
        {"1w1d1h1m1s1ms1", 604800000 + 86400000 + 3600000 + 60000 + 1000 + 1 + 1000},
        {"1ms1", 1001},
        {"9223372036854775807ms", INT64_MAX},
        {"9223372036854775s", 9223372036854775000LL},
        {"9223372036854775", 9223372036854775000LL},
        {"106751991167d", 106751991167LL * 86400000}};
    CHECK_CASES(conf_parse_msec, cases);
}
END_TEST

START_TEST(test_msec_quirks_a_unit_without_digits_after_another_unit_counts_zero)
{
    /* nginx accepts these; a unit needs no digits once some digit was seen. */
    static const value_case_t cases[] = {{"1hm", 3600000}, {"1mms", 60000}};
    CHECK_CASES(conf_parse_msec, cases);
}
END_TEST

START_TEST(test_msec_spaces_end_a_bare_number_as_seconds_and_trail_after_units)
{
    static const value_case_t cases[] = {
        {"30 ", 30000},      {"30  ", 30000},   {"30 1", 31000},   {" 5", 5000},
        {"  5", 5000},       {"1s 1", 2000},    {"1s ", 1000},     {"1ms ", 1},
        {"1ms 1", 1001},     {"1ms  ", 1},      {"1h  ", 3600000}, {"1h 30", 3630000},
        {"1h 30 ", 3630000}, {"1m 1 1", 62000}, {"1m1 ", 61000},   {"1h1 ", 3601000}};
    CHECK_CASES(conf_parse_msec, cases);
}
END_TEST

START_TEST(test_msec_rejects_years_months_disorder_repeats_case_and_garbage)
{
    static const value_case_t cases[] = {
        {"", -1},        {" ", -1},        {"x", -1},     {"h", -1},    {"ms", -1},
        {"s", -1},       {"1y", -1},       {"1M", -1},    {"1m1h", -1}, {"1d1d", -1},
        {"1ms1s", -1},   {"1ss", -1},      {"1msms", -1}, {"1 h", -1},  {"1 1m", -1},
        {"1 500ms", -1}, {"1  500ms", -1}, {"1 1s", -1},  {"1 1 ", -1}, {"1H", -1},
        {"1D", -1},      {"1S", -1},       {"1W", -1},    {"1Y", -1},   {"1h\t30m", -1},
        {"1h-1", -1},    {"-1", -1},       {"1.5s", -1},  {"1s1 ", -1}, {"1ms1 ", -1}};
    CHECK_CASES(conf_parse_msec, cases);
}
END_TEST

START_TEST(test_msec_rejects_overflow)
{
    static const value_case_t cases[] = {
        {"9223372036854775808ms", -1},  {"9223372036854776s", -1},
        {"9223372036854776", -1},       {"106751991168d", -1},
        {"9223372036854775807ms1", -1}, {"99999999999999999999999", -1}};
    CHECK_CASES(conf_parse_msec, cases);
}
END_TEST

START_TEST(test_sec_reads_years_and_months_and_bare_seconds)
{
    static const value_case_t cases[] = {
        {"30", 30},
        {"30s", 30},
        {"1m", 60},
        {"1y", 31536000},
        {"1M", 2592000},
        {"1y1M1w1d1h1m1s", 31536000 + 2592000 + 604800 + 86400 + 3600 + 60 + 1},
        {"1 1", 2},
        {"30 ", 30},
        {" 5", 5},
        {"292471208677y", 292471208677LL * 31536000},
        {"9223372036854775807", INT64_MAX},
        {"9223372036854775807s", INT64_MAX}};
    CHECK_CASES(conf_parse_sec, cases);
}
END_TEST

START_TEST(test_sec_rejects_milliseconds_repeats_disorder_and_overflow)
{
    static const value_case_t cases[] = {{"500ms", -1},
                                         {"1s500ms", -1},
                                         {"1y1y", -1},
                                         {"1M1y", -1},
                                         {"1 1s", -1},
                                         {"x", -1},
                                         {"", -1},
                                         {"292471208678y", -1},
                                         {"9223372036854775808", -1},
                                         {"1s9223372036854775807", -1},
                                         {"1s1 ", -1}};
    CHECK_CASES(conf_parse_sec, cases);
}
END_TEST

START_TEST(test_flag_is_on_or_off_in_any_case)
{
    ck_assert_int_eq(conf_parse_flag(S("on")), 1);
    ck_assert_int_eq(conf_parse_flag(S("ON")), 1);
    ck_assert_int_eq(conf_parse_flag(S("off")), 0);
    ck_assert_int_eq(conf_parse_flag(S("Off")), 0);
}
END_TEST

START_TEST(test_flag_rejects_anything_else)
{
    ck_assert_int_eq(conf_parse_flag(S("")), -1);
    ck_assert_int_eq(conf_parse_flag(S("x")), -1);
    ck_assert_int_eq(conf_parse_flag(S("on1")), -1);
    ck_assert_int_eq(conf_parse_flag(S("yes")), -1);
    ck_assert_int_eq(conf_parse_flag(S("1")), -1);
    ck_assert_int_eq(conf_parse_flag(S(" on")), -1);
}
END_TEST

START_TEST(test_error_for_number_says_invalid_number)
{
    char buf[256];
    conf_value_error(buf, sizeof(buf), CONF_VALUE_NUMBER, S("keepalive_requests"), S("x"));
    ck_assert_str_eq(buf, "\"keepalive_requests\" directive invalid number");
    ck_assert_str_eq(conf_value_reason(CONF_VALUE_NUMBER), "invalid number");
}
END_TEST

START_TEST(test_error_for_size_offset_and_times_says_invalid_value)
{
    char buf[256];
    conf_value_error(buf, sizeof(buf), CONF_VALUE_OFFSET, S("client_max_body_size"), S("x"));
    ck_assert_str_eq(buf, "\"client_max_body_size\" directive invalid value");
    conf_value_error(buf, sizeof(buf), CONF_VALUE_SIZE, S("client_header_buffer_size"), S("1g"));
    ck_assert_str_eq(buf, "\"client_header_buffer_size\" directive invalid value");
    conf_value_error(buf, sizeof(buf), CONF_VALUE_MSEC, S("send_timeout"), S("x"));
    ck_assert_str_eq(buf, "\"send_timeout\" directive invalid value");
    conf_value_error(buf, sizeof(buf), CONF_VALUE_SEC, S("open_file_cache_valid"), S("1ms"));
    ck_assert_str_eq(buf, "\"open_file_cache_valid\" directive invalid value");
    ck_assert_str_eq(conf_value_reason(CONF_VALUE_SIZE), "invalid value");
    ck_assert_ptr_null(conf_value_reason(CONF_VALUE_FLAG));
}
END_TEST

START_TEST(test_error_for_flag_names_the_value_and_the_choices)
{
    char buf[256];
    conf_value_error(buf, sizeof(buf), CONF_VALUE_FLAG, S("sendfile"), S("x"));
    ck_assert_str_eq(buf,
                     "invalid value \"x\" in \"sendfile\" directive, it must be \"on\" or \"off\"");
    conf_value_error(buf, sizeof(buf), CONF_VALUE_FLAG, S("sendfile"), PX_NULL_STR);
    ck_assert_str_eq(buf,
                     "invalid value \"\" in \"sendfile\" directive, it must be \"on\" or \"off\"");
}
END_TEST

START_TEST(test_error_for_duplicate_directive)
{
    char buf[64];
    conf_value_duplicate_error(buf, sizeof(buf), S("sendfile"));
    ck_assert_str_eq(buf, "\"sendfile\" directive is duplicate");
}
END_TEST

START_TEST(test_error_is_truncated_to_the_buffer)
{
    char buf[8];
    size_t n =
        conf_value_error(buf, sizeof(buf), CONF_VALUE_NUMBER, S("keepalive_requests"), S("x"));
    ck_assert_str_eq(buf, "\"keepal");
    ck_assert_uint_eq(n, strlen("\"keepalive_requests\" directive invalid number"));
}
END_TEST

START_TEST(test_value_parse_stores_the_value_or_writes_the_error)
{
    char err[256] = "";
    int64_t v = 0;
    ck_assert_int_eq(
        conf_value_parse(CONF_VALUE_MSEC, S("send_timeout"), S("1m"), &v, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(v, 60000);
    ck_assert_str_eq(err, "");

    v = 42;
    ck_assert_int_eq(
        conf_value_parse(CONF_VALUE_FLAG, S("sendfile"), S("maybe"), &v, err, sizeof(err)),
        PX_ERROR);
    ck_assert_int_eq(v, 42);
    ck_assert_str_eq(
        err, "invalid value \"maybe\" in \"sendfile\" directive, it must be \"on\" or \"off\"");

    ck_assert_int_eq(
        conf_value_parse(CONF_VALUE_FLAG, S("sendfile"), S("off"), &v, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(v, 0);

    ck_assert_int_eq(conf_value_parse(CONF_VALUE_NUMBER, S("worker_rlimit_nofile"), S("-1"), &v,
                                      err, sizeof(err)),
                     PX_ERROR);
    ck_assert_str_eq(err, "\"worker_rlimit_nofile\" directive invalid number");
    ck_assert_int_eq(conf_value_parse(CONF_VALUE_SIZE, S("b"), S("2k"), &v, err, sizeof(err)),
                     PX_OK);
    ck_assert_int_eq(v, 2048);
    ck_assert_int_eq(conf_value_parse(CONF_VALUE_OFFSET, S("b"), S("2g"), &v, err, sizeof(err)),
                     PX_OK);
    ck_assert_int_eq(v, 2LL << 30);
    ck_assert_int_eq(conf_value_parse(CONF_VALUE_SEC, S("b"), S("1M"), &v, err, sizeof(err)),
                     PX_OK);
    ck_assert_int_eq(v, 2592000);
}
END_TEST

static Suite *conf_value_suite(void)
{
    Suite *s = suite_create("conf_value");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_number_accepts_plain_decimal_digits);
    tcase_add_test(tc, test_number_rejects_signs_units_spaces_empty_and_overflow);
    tcase_add_test(tc, test_size_accepts_bytes_k_and_m_in_either_case);
    tcase_add_test(tc, test_size_rejects_g_unknown_units_bare_unit_and_overflow);
    tcase_add_test(tc, test_offset_accepts_g_as_well_as_k_and_m);
    tcase_add_test(tc, test_offset_rejects_t_empty_and_overflow);
    tcase_add_test(tc, test_msec_reads_units_and_bare_seconds);
    tcase_add_test(tc, test_msec_quirks_a_unit_without_digits_after_another_unit_counts_zero);
    tcase_add_test(tc, test_msec_spaces_end_a_bare_number_as_seconds_and_trail_after_units);
    tcase_add_test(tc, test_msec_rejects_years_months_disorder_repeats_case_and_garbage);
    tcase_add_test(tc, test_msec_rejects_overflow);
    tcase_add_test(tc, test_sec_reads_years_and_months_and_bare_seconds);
    tcase_add_test(tc, test_sec_rejects_milliseconds_repeats_disorder_and_overflow);
    tcase_add_test(tc, test_flag_is_on_or_off_in_any_case);
    tcase_add_test(tc, test_flag_rejects_anything_else);
    suite_add_tcase(s, tc);

    TCase *te = tcase_create("errors");
    tcase_add_test(te, test_error_for_number_says_invalid_number);
    tcase_add_test(te, test_error_for_size_offset_and_times_says_invalid_value);
    tcase_add_test(te, test_error_for_flag_names_the_value_and_the_choices);
    tcase_add_test(te, test_error_for_duplicate_directive);
    tcase_add_test(te, test_error_is_truncated_to_the_buffer);
    tcase_add_test(te, test_value_parse_stores_the_value_or_writes_the_error);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(conf_value_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
