/*
 * Unit tests for http/http_server_name: parsing and its errors, address sets
 * with nginx's conflict rules, and lookup precedence; messages and quirks were
 * checked against nginx 1.22.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http_server_name.h"

#define MAX_NAMES 2100

static http_server_name_t names[MAX_NAMES];
static int nnames;
static http_server_names_t *set;
static const px_str_t addr = PX_STR("0.0.0.0:80");

static void setup(void)
{
    nnames = 0;
    set = http_server_names_create();
    ck_assert_ptr_nonnull(set);
}

static void teardown(void)
{
    http_server_names_free(set);
    for (int i = 0; i < nnames; i++)
        http_server_name_free(&names[i]);
}

static http_server_name_t *parse_ok(const char *text)
{
    char err[256] = "";
    http_server_name_t *sn = &names[nnames];
    int rc = http_server_name_parse(px_str_make(text, strlen(text)), sn, err, sizeof(err));
    ck_assert_msg(rc == PX_OK, "parse \"%s\": %s", text, err);
    nnames++;
    return sn;
}

/* Adds a name for the server labelled conf and returns the add status. */
static int add_name(const char *text, const char *conf, char *err, size_t err_size)
{
    http_server_name_t *sn = parse_ok(text);
    return http_server_names_add(set, sn, (void *)conf, addr, err, err_size);
}

static void add(const char *text, const char *conf)
{
    char err[256] = "";
    ck_assert_msg(add_name(text, conf, err, sizeof(err)) == PX_OK, "add \"%s\": %s", text, err);
}

static void assert_conflict(const char *text, const char *conf, const char *expected)
{
    char err[256] = "";
    ck_assert_int_eq(add_name(text, conf, err, sizeof(err)), PX_DECLINED);
    ck_assert_str_eq(err, expected);
}

static const char *find(const char *host)
{
    http_server_names_match_t m;
    int rc = http_server_names_find(set, host, strlen(host), &m);
    if (rc == PX_DECLINED) {
        ck_assert_ptr_null(m.conf);
        return "default";
    }
    ck_assert_int_eq(rc, PX_OK);
    ck_assert_ptr_nonnull(m.name);
    return m.conf;
}

/* --- parsing ------------------------------------------------------------------ */

static void assert_kind(const char *text, http_server_name_kind_t kind, const char *name)
{
    http_server_name_t *sn = parse_ok(text);
    ck_assert_int_eq(sn->kind, kind);
    ck_assert_msg(px_str_eq(sn->name, px_str_make(name, strlen(name))), "name of \"%s\"", text);
}

START_TEST(test_parse_classifies_every_form)
{
    assert_kind("example.com", HTTP_SERVER_NAME_EXACT, "example.com");
    assert_kind("", HTTP_SERVER_NAME_EXACT, "");
    assert_kind("_", HTTP_SERVER_NAME_EXACT, "_");
    assert_kind("*.example.com", HTTP_SERVER_NAME_LEADING, "*.example.com");
    assert_kind(".example.com", HTTP_SERVER_NAME_DOT, ".example.com");
    assert_kind("www.example.*", HTTP_SERVER_NAME_TRAILING, "www.example.*");
    assert_kind("~^(?<user>.+)\\.example\\.net$", HTTP_SERVER_NAME_REGEX,
                "^(?<user>.+)\\.example\\.net$");
}
END_TEST

START_TEST(test_parse_lowercases_names)
{
    assert_kind("WWW.Example.COM", HTTP_SERVER_NAME_EXACT, "www.example.com");
    assert_kind("*.EXAMPLE.com", HTTP_SERVER_NAME_LEADING, "*.example.com");
    assert_kind("~^WWW", HTTP_SERVER_NAME_REGEX, "^WWW");
}
END_TEST

/* These pass the directive in nginx and fail only once an address set holds them. */
START_TEST(test_parse_marks_bad_wildcards_invalid)
{
    const char *bad[] = {
        "www.*.example.com", "*.*", "a*b", "a..b", "*.a.*", "..a", "*..a", "a.*.*"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_kind(bad[i], HTTP_SERVER_NAME_INVALID, bad[i]);
}
END_TEST

START_TEST(test_parse_accepts_odd_names_nginx_accepts)
{
    assert_kind(".a.*", HTTP_SERVER_NAME_DOT, ".a.*");
    assert_kind(".*", HTTP_SERVER_NAME_DOT, ".*");
    assert_kind("a.", HTTP_SERVER_NAME_EXACT, "a.");
    assert_kind(".a.", HTTP_SERVER_NAME_DOT, ".a.");
    assert_kind("*.a", HTTP_SERVER_NAME_LEADING, "*.a");
    assert_kind("a.*", HTTP_SERVER_NAME_TRAILING, "a.*");
    assert_kind("a b", HTTP_SERVER_NAME_EXACT, "a b");
}
END_TEST

static void assert_parse_error(const char *text, const char *expected)
{
    char err[256] = "";
    http_server_name_t sn;
    ck_assert_int_eq(http_server_name_parse(px_str_make(text, strlen(text)), &sn, err, sizeof(err)),
                     PX_ERROR);
    ck_assert_str_eq(err, expected);
}

START_TEST(test_parse_errors)
{
    assert_parse_error("*example.com", "server name \"*example.com\" is invalid");
    assert_parse_error(".", "server name \".\" is invalid");
    assert_parse_error("*.", "server name \"*.\" is invalid");
    assert_parse_error("*", "server name \"*\" is invalid");
    assert_parse_error("**", "server name \"**\" is invalid");
    assert_parse_error("~", "empty regex in server name \"~\"");
    assert_parse_error("~^a(", "pcre2_compile() failed: missing closing parenthesis in \"^a(\"");
}
END_TEST

START_TEST(test_parse_warns_on_slash_but_accepts)
{
    char err[256] = "";
    http_server_name_t *sn = &names[nnames++];
    ck_assert_int_eq(http_server_name_parse(PX_STR("A/b"), sn, err, sizeof(err)), PX_DECLINED);
    ck_assert_str_eq(err, "server name \"A/b\" has suspicious symbols");
    ck_assert_int_eq(sn->kind, HTTP_SERVER_NAME_EXACT);
    ck_assert(px_str_eq_lit(sn->name, "a/b"));
}
END_TEST

/* --- conflicts and invalid names in an address set -------------------------------- */

START_TEST(test_add_invalid_wildcard_names_the_address)
{
    char err[256] = "";
    http_server_name_t *sn = parse_ok("www.*.example.com");
    ck_assert_int_eq(
        http_server_names_add(set, sn, "a", PX_STR("127.0.0.1:8080"), err, sizeof(err)), PX_ERROR);
    ck_assert_str_eq(err,
                     "invalid server name or wildcard \"www.*.example.com\" on 127.0.0.1:8080");
}
END_TEST

START_TEST(test_conflicting_exact_names_keep_the_first)
{
    add("example.com", "A");
    assert_conflict("Example.COM", "B",
                    "conflicting server name \"example.com\" on 0.0.0.0:80, ignored");
    ck_assert_str_eq(find("example.com"), "A");
}
END_TEST

START_TEST(test_same_name_twice_in_one_server_conflicts)
{
    add("a", "A");
    assert_conflict("a", "A", "conflicting server name \"a\" on 0.0.0.0:80, ignored");
}
END_TEST

START_TEST(test_two_empty_names_conflict)
{
    add("", "A");
    assert_conflict("", "B", "conflicting server name \"\" on 0.0.0.0:80, ignored");
    ck_assert_str_eq(find(""), "A");
}
END_TEST

START_TEST(test_conflicting_wildcards)
{
    add("*.example.com", "A");
    assert_conflict("*.example.com", "B",
                    "conflicting server name \"*.example.com\" on 0.0.0.0:80, ignored");
    add("www.example.*", "C");
    assert_conflict("www.example.*", "D",
                    "conflicting server name \"www.example.*\" on 0.0.0.0:80, ignored");
}
END_TEST

START_TEST(test_dot_name_conflicts_with_leading_wildcard_either_way)
{
    add(".example.com", "A");
    assert_conflict("*.example.com", "B",
                    "conflicting server name \"*.example.com\" on 0.0.0.0:80, ignored");
    ck_assert_str_eq(find("example.com"), "A");
    ck_assert_str_eq(find("x.example.com"), "A");
}
END_TEST

/* nginx 1.22: the refused `.example.com` still claims example.com, which then routes nowhere. */
START_TEST(test_refused_dot_name_still_claims_the_bare_name)
{
    add("*.example.com", "A");
    assert_conflict(".example.com", "B",
                    "conflicting server name \".example.com\" on 0.0.0.0:80, ignored");
    assert_conflict("example.com", "C",
                    "conflicting server name \"example.com\" on 0.0.0.0:80, ignored");
    ck_assert_str_eq(find("example.com"), "default");
    ck_assert_str_eq(find("a.example.com"), "A");
}
END_TEST

START_TEST(test_dot_name_conflicts_with_exact_either_way)
{
    add("ex.org", "D");
    assert_conflict(".ex.org", "E", "conflicting server name \".ex.org\" on 0.0.0.0:80, ignored");
    /* Refused on its exact half, the dot name claims nothing. */
    add("*.ex.org", "F");
    ck_assert_str_eq(find("ex.org"), "D");
    ck_assert_str_eq(find("a.ex.org"), "F");

    add(".example.com", "A");
    assert_conflict("example.com", "B",
                    "conflicting server name \"example.com\" on 0.0.0.0:80, ignored");
}
END_TEST

START_TEST(test_regex_names_never_conflict)
{
    add("~^a", "A");
    add("~^a", "B");
    ck_assert_str_eq(find("abc"), "A");
}
END_TEST

/* --- lookup ------------------------------------------------------------------------- */

START_TEST(test_precedence_exact_leading_trailing_regex)
{
    add("~^www\\.", "regex");
    add("www.*", "trailing");
    add("*.example.com", "leading");
    add("www.example.com", "exact");
    ck_assert_str_eq(find("www.example.com"), "exact");
    ck_assert_str_eq(find("www2.example.com"), "leading");
    ck_assert_str_eq(find("www.example.org"), "trailing");
    ck_assert_str_eq(find("www.example.com.au"), "trailing");
    add("*.com.au", "leading au");
    ck_assert_str_eq(find("www.example.com.au"), "leading au");
    ck_assert_str_eq(find("wwwx"), "default");
}
END_TEST

START_TEST(test_regex_after_wildcards)
{
    add("~^www\\.", "regex");
    add("*.org", "org");
    ck_assert_str_eq(find("www.x.org"), "org");
    ck_assert_str_eq(find("www.x.net"), "regex");
}
END_TEST

START_TEST(test_longest_leading_wildcard_wins)
{
    add("*.example.com", "short");
    add("*.b.example.com", "long");
    add(".c.example.com", "dot");
    ck_assert_str_eq(find("a.b.example.com"), "long");
    ck_assert_str_eq(find("x.a.b.example.com"), "long");
    ck_assert_str_eq(find("b.example.com"), "short");
    ck_assert_str_eq(find("c.example.com"), "dot");
    ck_assert_str_eq(find("x.c.example.com"), "dot");
    ck_assert_str_eq(find("example.com"), "default");
    ck_assert_str_eq(find("xexample.com"), "default");
}
END_TEST

START_TEST(test_longest_trailing_wildcard_wins)
{
    add("www.*", "www");
    add("www.x.*", "www.x");
    add("www.x.y.*", "www.x.y");
    ck_assert_str_eq(find("www.x.y.z"), "www.x.y");
    ck_assert_str_eq(find("www.x.y.z.w"), "www.x.y");
    ck_assert_str_eq(find("www.x.y"), "www.x");
    ck_assert_str_eq(find("www.x"), "www");
    ck_assert_str_eq(find("www"), "default");
    ck_assert_str_eq(find("wwwx.y"), "default");
}
END_TEST

START_TEST(test_dot_name_matches_bare_and_subdomains)
{
    add(".example.com", "dot");
    ck_assert_str_eq(find("example.com"), "dot");
    ck_assert_str_eq(find("www.example.com"), "dot");
    ck_assert_str_eq(find("a.b.example.com"), "dot");
    ck_assert_str_eq(find("notexample.com"), "default");
}
END_TEST

START_TEST(test_leading_wildcard_needs_a_label)
{
    add("*.example.com", "A");
    ck_assert_str_eq(find("example.com"), "default");
    ck_assert_str_eq(find("x.example.com"), "A");
}
END_TEST

START_TEST(test_empty_name_matches_request_without_host)
{
    add("www.x.y.*", "E");
    add("", "E");
    add("a", "A");
    ck_assert_str_eq(find(""), "E");
    ck_assert_str_eq(find("b"), "default");
}
END_TEST

START_TEST(test_regexes_in_order_with_captures)
{
    http_server_name_t *first = parse_ok("~^(?<user>.+)\\.example\\.net$");
    http_server_name_t *second = parse_ok("~^(.+)\\.net$");
    ck_assert_int_eq(http_server_names_add(set, first, "first", addr, NULL, 0), PX_OK);
    ck_assert_int_eq(http_server_names_add(set, second, "second", addr, NULL, 0), PX_OK);

    http_server_names_match_t m;
    const char *host = "joe.example.net";
    ck_assert_int_eq(http_server_names_find(set, host, strlen(host), &m), PX_OK);
    ck_assert_str_eq(m.conf, "first");
    ck_assert_ptr_eq(m.name, first);
    ck_assert_ptr_eq(m.regex, first->regex);
    ck_assert_int_eq(m.npairs, 2);
    int user = px_regex_name_index(m.regex, PX_STR("user"));
    ck_assert_int_eq(user, 1);
    ck_assert_uint_eq(m.captures[2 * user], 0);
    ck_assert_uint_eq(m.captures[2 * user + 1], 3);

    host = "joe.other.net";
    ck_assert_int_eq(http_server_names_find(set, host, strlen(host), &m), PX_OK);
    ck_assert_str_eq(m.conf, "second");
    ck_assert_uint_eq(m.captures[3], 9);
}
END_TEST

START_TEST(test_non_regex_match_has_no_captures)
{
    add("a", "A");
    http_server_names_match_t m;
    ck_assert_int_eq(http_server_names_find(set, "a", 1, &m), PX_OK);
    ck_assert_ptr_null(m.regex);
    ck_assert_int_eq(m.npairs, 0);
}
END_TEST

/* nginx 1.22: `~^WWW\.(?<d>.+)$` matches the lowercased host www.foo. */
START_TEST(test_regex_with_uppercase_is_caseless)
{
    add("~^WWW\\.(.+)$", "upper");
    add("~^Mail$", "mail");
    add("~^ftp$", "ftp");
    ck_assert_str_eq(find("www.foo"), "upper");
    ck_assert_str_eq(find("mail"), "mail");
    ck_assert_str_eq(find("FTP"), "default");
}
END_TEST

START_TEST(test_wildcard_keys_with_literal_star)
{
    add(".a.*", "G");
    ck_assert_str_eq(find("a.*"), "G");
    ck_assert_str_eq(find("x.a.*"), "G");
    ck_assert_str_eq(find("a.b"), "default");
}
END_TEST

START_TEST(test_empty_set_declines)
{
    ck_assert_str_eq(find("anything"), "default");
    ck_assert_str_eq(find(""), "default");
}
END_TEST

START_TEST(test_thousands_of_names_each_found)
{
    static char texts[2100][40];
    int n = 0;

    for (int i = 0; i < 700; i++) {
        snprintf(texts[n], sizeof(texts[n]), "host%d.example.com", i);
        add(texts[n], texts[n]);
        n++;
        snprintf(texts[n], sizeof(texts[n]), "*.zone%d.example.org", i);
        add(texts[n], texts[n]);
        n++;
        snprintf(texts[n], sizeof(texts[n]), "www.site%d.*", i);
        add(texts[n], texts[n]);
        n++;
    }
    for (int i = 0; i < 700; i++) {
        char host[64];
        snprintf(host, sizeof(host), "host%d.example.com", i);
        ck_assert_str_eq(find(host), texts[3 * i]);
        snprintf(host, sizeof(host), "a.b.zone%d.example.org", i);
        ck_assert_str_eq(find(host), texts[3 * i + 1]);
        snprintf(host, sizeof(host), "www.site%d.co.uk", i);
        ck_assert_str_eq(find(host), texts[3 * i + 2]);
    }
    ck_assert_str_eq(find("host700.example.com"), "default");
    ck_assert_str_eq(find("zone1.example.org"), "default");
}
END_TEST

static Suite *server_name_suite(void)
{
    Suite *s = suite_create("http_server_name");
    TCase *parse = tcase_create("parse");
    TCase *add_tc = tcase_create("add");
    TCase *lookup = tcase_create("lookup");
    TCase *all[] = {parse, add_tc, lookup};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        suite_add_tcase(s, all[i]);
    }

    tcase_add_test(parse, test_parse_classifies_every_form);
    tcase_add_test(parse, test_parse_lowercases_names);
    tcase_add_test(parse, test_parse_marks_bad_wildcards_invalid);
    tcase_add_test(parse, test_parse_accepts_odd_names_nginx_accepts);
    tcase_add_test(parse, test_parse_errors);
    tcase_add_test(parse, test_parse_warns_on_slash_but_accepts);

    tcase_add_test(add_tc, test_add_invalid_wildcard_names_the_address);
    tcase_add_test(add_tc, test_conflicting_exact_names_keep_the_first);
    tcase_add_test(add_tc, test_same_name_twice_in_one_server_conflicts);
    tcase_add_test(add_tc, test_two_empty_names_conflict);
    tcase_add_test(add_tc, test_conflicting_wildcards);
    tcase_add_test(add_tc, test_dot_name_conflicts_with_leading_wildcard_either_way);
    tcase_add_test(add_tc, test_refused_dot_name_still_claims_the_bare_name);
    tcase_add_test(add_tc, test_dot_name_conflicts_with_exact_either_way);
    tcase_add_test(add_tc, test_regex_names_never_conflict);

    tcase_add_test(lookup, test_precedence_exact_leading_trailing_regex);
    tcase_add_test(lookup, test_regex_after_wildcards);
    tcase_add_test(lookup, test_longest_leading_wildcard_wins);
    tcase_add_test(lookup, test_longest_trailing_wildcard_wins);
    tcase_add_test(lookup, test_dot_name_matches_bare_and_subdomains);
    tcase_add_test(lookup, test_leading_wildcard_needs_a_label);
    tcase_add_test(lookup, test_empty_name_matches_request_without_host);
    tcase_add_test(lookup, test_regexes_in_order_with_captures);
    tcase_add_test(lookup, test_non_regex_match_has_no_captures);
    tcase_add_test(lookup, test_regex_with_uppercase_is_caseless);
    tcase_add_test(lookup, test_wildcard_keys_with_literal_star);
    tcase_add_test(lookup, test_empty_set_declines);
    tcase_add_test(lookup, test_thousands_of_names_each_found);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(server_name_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
