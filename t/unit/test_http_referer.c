/* Unit tests for the referer module's pure pieces: reading valid_referers hosts (with
 * nginx's invalid and conflicting forms), nginx's hash limits, the wildcard lookup and the
 * judgement of a Referer value (cases checked against nginx 1.22). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_referer.h"

static px_pool_t *pool;
static px_array_t keys;

static void setup(void)
{
    pool = px_pool_create(4096);
    ck_assert_ptr_nonnull(pool);
    ck_assert_int_eq(px_array_init(&keys, pool, 4, sizeof(http_referer_key_t)), PX_OK);
}

static void teardown(void)
{
    px_pool_destroy(pool);
}

/* Adds "host[/uri]" as valid_referers does. */
static int add(const char *arg)
{
    const char *slash = strchr(arg, '/');
    size_t hlen = slash ? (size_t)(slash - arg) : strlen(arg);
    px_str_t uri = slash ? px_str_make(slash, strlen(slash)) : PX_NULL_STR;
    return http_referer_key_add(&keys, px_str_make(arg, hlen), uri);
}

/* Adds each of a NULL-terminated list, which must all be accepted. */
static void add_all(const char *const *args)
{
    for (size_t i = 0; args[i]; i++)
        ck_assert_msg(add(args[i]) == PX_OK, "%s refused", args[i]);
}

/* ---- reading hosts ---- */

START_TEST(test_key_invalid_hostnames_and_wildcards_are_declined)
{
    static const char *const bad[] = {"www.*.com", "*",       "a..b", "*.*",    "**.a",  "*.",
                                      "a.*.*",     "WWW.*.A", "a*",   "*a.com", "*.a.*", ".."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(add(bad[i]) == PX_DECLINED, "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_key_forms_nginx_accepts)
{
    static const char *const ok[] = {"/foo",          ".", ".*", "*.a", "a.*", "x.com/p", ".a*b",
                                     "A.Example.COM", NULL};
    add_all(ok);
    const http_referer_key_t *k = keys.elts;
    ck_assert_int_eq(k[0].kind, HTTP_REFERER_EXACT);
    ck_assert_uint_eq(k[0].name.len, 0);
    ck_assert_str_eq(k[0].uri.data, "/foo");
    ck_assert_int_eq(k[1].kind, HTTP_REFERER_EXACT);
    ck_assert_int_eq(k[2].kind, HTTP_REFERER_HEAD_DOT);
    ck_assert_int_eq(k[3].kind, HTTP_REFERER_HEAD_STAR);
    ck_assert_int_eq(k[4].kind, HTTP_REFERER_TAIL);
    ck_assert_str_eq(k[4].name.data, "a");
    ck_assert_str_eq(k[5].uri.data, "/p");
    ck_assert_int_eq(k[6].kind, HTTP_REFERER_HEAD_DOT);
    ck_assert_str_eq(k[7].name.data, "a.example.com");
}
END_TEST

static void expect_conflict(const char *first, const char *second)
{
    setup();
    ck_assert_int_eq(add(first), PX_OK);
    ck_assert_msg(add(second) == PX_BUSY, "%s then %s: no conflict", first, second);
    teardown();
}

static void expect_no_conflict(const char *first, const char *second)
{
    setup();
    ck_assert_int_eq(add(first), PX_OK);
    ck_assert_msg(add(second) == PX_OK, "%s then %s: conflict", first, second);
    teardown();
}

START_TEST(test_key_conflicts_as_nginx)
{
    expect_conflict("a.com", "a.com");
    expect_conflict("a.com/x", "a.com/y");
    expect_conflict("a.com", "A.COM/X");
    expect_conflict(".a.com", "a.com");
    expect_conflict("a.com", ".a.com");
    expect_conflict("*.a.com", ".a.com");
    expect_conflict(".a.com", "*.a.com");
    expect_conflict("*.a.com", "*.A.COM");
    expect_conflict("www.a.*", "WWW.A.*");
    expect_no_conflict("*.a.com", "a.com");
    expect_no_conflict("a.com", "*.a.com");
    expect_no_conflict("a.*", "a");
    expect_no_conflict("a.*", ".a");
    expect_no_conflict("a.*", "*.a");
}
END_TEST

/* ---- hash limits ---- */

static int check(size_t max, size_t bucket, char *err, int *warn)
{
    return http_referer_hash_check(&keys, max, bucket, err, 256, warn);
}

START_TEST(test_hash_max_size_zero_fails_only_with_keys)
{
    char err[256];
    int warn;
    ck_assert_int_eq(check(0, 64, err, &warn), PX_OK);
    ck_assert_int_eq(add("a.com"), PX_OK);
    ck_assert_int_eq(check(0, 64, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, you should increase "
                          "referer_hash_max_size: 0");
}
END_TEST

START_TEST(test_hash_bucket_size_rounded_to_cache_line)
{
    char err[256];
    int warn;
    ck_assert_int_eq(add("a.com"), PX_OK);
    ck_assert_int_eq(check(2048, 0, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, you should increase "
                          "referer_hash_bucket_size: 0");
    ck_assert_int_eq(check(2048, 1, err, &warn), PX_OK);
    ck_assert_int_eq(check(2048, 65472, err, &warn), PX_OK);
    ck_assert_int_eq(check(2048, 65473, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, too large "
                          "referer_hash_bucket_size: 65536");
    ck_assert_int_eq(check(2048, 70000, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, too large "
                          "referer_hash_bucket_size: 70016");
}
END_TEST

START_TEST(test_hash_long_exact_host_needs_larger_bucket)
{
    char err[256];
    int warn;
    char host[128];
    memset(host, 'a', 46);
    strcpy(host + 46, "");
    ck_assert_int_eq(add(host), PX_OK); /* 46 bytes fit a 64-byte bucket */
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_OK);
    memset(host, 'a', 45);
    strcpy(host + 45, ".com");
    ck_assert_int_eq(add(host), PX_OK);
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, you should increase "
                          "referer_hash_bucket_size: 64");
    ck_assert_int_eq(check(2048, 65, err, &warn), PX_OK);
}
END_TEST

START_TEST(test_hash_wildcard_checked_per_label)
{
    char err[256];
    int warn;
    char host[128] = "*.";
    memset(host + 2, 'a', 46);
    strcpy(host + 48, ".com");
    ck_assert_int_eq(add(host), PX_OK);
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_OK);
    ck_assert_int_eq(check(2048, 0, err, &warn), PX_ERROR);
    memset(host + 2, 'a', 62);
    strcpy(host + 64, ".org");
    ck_assert_int_eq(add(host), PX_OK);
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_ERROR);
    ck_assert_str_eq(err, "could not build referer_hash, you should increase "
                          "referer_hash_bucket_size: 64");
}
END_TEST

START_TEST(test_hash_not_optimal_warnings_counted_per_hash)
{
    char err[256];
    int warn;
    static const char *const tails[] = {"a.*", "b.*", "c.*", "d.*", "e.*",
                                        "f.*", "g.*", "h.*", NULL};
    add_all(tails);
    ck_assert_int_eq(check(1, 64, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 1);
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 0);
    static const char *const exact[] = {"1.com", "2.com", "3.com", "4.com",
                                        "5.com", "6.com", "7.com", NULL};
    add_all(exact);
    ck_assert_int_eq(check(1, 64, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 2);
    char msg[256];
    http_referer_hash_warning(1, 64, msg, sizeof(msg));
    ck_assert_str_eq(msg, "could not build optimal referer_hash, you should increase either "
                          "referer_hash_max_size: 1 or referer_hash_bucket_size: 64; ignoring "
                          "referer_hash_bucket_size");
}
END_TEST

START_TEST(test_hash_names_with_equal_hashes_never_fit)
{
    char err[256];
    int warn;
    /* 'a' * 31 + '~' == 'b' * 31 + '_': both land in one bucket at every size */
    static const char *const colliding[] = {"a~xxxxxxxxxxxxxxxxxxxx", "b_xxxxxxxxxxxxxxxxxxxx",
                                            NULL};
    add_all(colliding);
    ck_assert_int_eq(check(2048, 64, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 1);
    ck_assert_int_eq(check(2048, 128, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 0);
}
END_TEST

START_TEST(test_hash_head_wildcards_share_levels)
{
    char err[256];
    int warn;
    static const char *const heads[] = {"*.a.com", "*.b.com", "*.c.com", "*.d.com", "*.e.com",
                                        "*.f.com", "*.g.com", "*.h.com", NULL};
    add_all(heads);
    ck_assert_int_eq(check(1, 64, err, &warn), PX_OK);
    ck_assert_int_eq(warn, 1);
}
END_TEST

/* ---- lookup ---- */

static const char *lookup(const char *host)
{
    http_referer_table_t t;
    ck_assert_int_eq(http_referer_table_build(&t, pool, &keys), PX_OK);
    const http_referer_key_t *k = http_referer_table_find(&t, px_str_make(host, strlen(host)));
    return k ? (k->uri.len ? k->uri.data : "") : "none";
}

START_TEST(test_lookup_exact_then_longest_head_then_longest_tail)
{
    static const char *const args[] = {"example.com/exact",
                                       "*.example.com/star",
                                       ".b.example.com/dot",
                                       "*.c.b.example.com/deep",
                                       "www.*/www",
                                       "www.example.*/wwwex",
                                       "/empty",
                                       NULL};
    add_all(args);
    ck_assert_str_eq(lookup("example.com"), "/exact");
    ck_assert_str_eq(lookup("a.example.com"), "/star");
    ck_assert_str_eq(lookup(".example.com"), "/star");
    ck_assert_str_eq(lookup("b.example.com"), "/dot");
    ck_assert_str_eq(lookup("x.b.example.com"), "/dot");
    ck_assert_str_eq(lookup("c.b.example.com"), "/dot");
    ck_assert_str_eq(lookup("x.c.b.example.com"), "/deep");
    ck_assert_str_eq(lookup("x..example.com"), "/star");
    ck_assert_str_eq(lookup("example.com."), "none");
    ck_assert_str_eq(lookup("www.example.org"), "/wwwex");
    ck_assert_str_eq(lookup("www.example.co.uk"), "/wwwex");
    ck_assert_str_eq(lookup("www.example."), "/wwwex");
    ck_assert_str_eq(lookup("www.example"), "/www");
    ck_assert_str_eq(lookup("www.other.org"), "/www");
    ck_assert_str_eq(lookup("www"), "none");
    ck_assert_str_eq(lookup(""), "/empty");
    ck_assert_str_eq(lookup("com"), "none");
}
END_TEST

START_TEST(test_lookup_empty_host_never_matches_wildcards)
{
    static const char *const args[] = {".*", NULL};
    add_all(args);
    ck_assert_str_eq(lookup(""), "none");
    ck_assert_str_eq(lookup("*"), "");
}
END_TEST

/* ---- judging ---- */

static http_referer_table_t table;
static px_regex_t *regexes[4], *name_regexes[4];
static http_referer_rules_t rules;

static void rules_setup(void)
{
    setup();
    memset(&rules, 0, sizeof(rules));
    memset(&table, 0, sizeof(table));
    rules.table = &table;
    rules.regexes = regexes;
    rules.name_regexes = name_regexes;
}

static void rules_teardown(void)
{
    for (size_t i = 0; i < rules.nregexes; i++)
        px_regex_free(regexes[i]);
    for (size_t i = 0; i < rules.nname_regexes; i++)
        px_regex_free(name_regexes[i]);
    teardown();
}

static void build(const char *const *args)
{
    add_all(args);
    ck_assert_int_eq(http_referer_table_build(&table, pool, &keys), PX_OK);
}

static void add_regex(px_regex_t **arr, size_t *n, const char *pattern, unsigned flags)
{
    char err[256];
    arr[*n] = px_regex_compile(px_str_make(pattern, strlen(pattern)), flags, err, sizeof(err));
    ck_assert_ptr_nonnull(arr[*n]);
    (*n)++;
}

/* 1 valid, 0 invalid; NULL: no Referer header. */
static int judge(const char *referer)
{
    if (referer == NULL)
        return http_referer_valid(&rules, NULL);
    px_str_t v = px_str_make(referer, strlen(referer));
    return http_referer_valid(&rules, &v);
}

START_TEST(test_valid_without_rules_accepts_everything)
{
    ck_assert_int_eq(judge(NULL), 1);
    ck_assert_int_eq(judge("garbage"), 1);
    ck_assert_int_eq(judge("http://evil.com/"), 1);
}
END_TEST

START_TEST(test_valid_none_and_blocked)
{
    static const char *const args[] = {"example.com", NULL};
    build(args);
    ck_assert_int_eq(judge(NULL), 0);
    ck_assert_int_eq(judge(""), 0);
    ck_assert_int_eq(judge("example.com"), 0);
    rules.none = 1;
    ck_assert_int_eq(judge(NULL), 1);
    ck_assert_int_eq(judge(""), 0);
    rules.blocked = 1;
    ck_assert_int_eq(judge(""), 1);
    ck_assert_int_eq(judge("example.com"), 1);
    ck_assert_int_eq(judge("ftp://example.com/"), 1);
    /* shorter than "http://i.ru": taken for a referer without a scheme */
    ck_assert_int_eq(judge("http://a.b"), 1);
    ck_assert_int_eq(judge("http://evil.com"), 0);
    rules.blocked = 0;
    ck_assert_int_eq(judge("http://a.b"), 0);
}
END_TEST

START_TEST(test_valid_host_case_port_and_scheme)
{
    static const char *const args[] = {"example.com", NULL};
    build(args);
    ck_assert_int_eq(judge("http://example.com"), 1);
    ck_assert_int_eq(judge("https://example.com/x"), 1);
    ck_assert_int_eq(judge("HTTP://EXAMPLE.COM/"), 1);
    ck_assert_int_eq(judge("HtTpS://Example.Com:8443/a?b"), 1);
    ck_assert_int_eq(judge("http://example.com:/"), 1);
    ck_assert_int_eq(judge("http://example.com.evil.net/"), 0);
    ck_assert_int_eq(judge("http://example.com?x"), 0);
    ck_assert_int_eq(judge("http://user@example.com/"), 0);
    ck_assert_int_eq(judge("//example.com/"), 0);
}
END_TEST

START_TEST(test_valid_uri_prefix_is_case_sensitive)
{
    static const char *const args[] = {"example.com/galleries/", "*.img.org/Pics", NULL};
    build(args);
    ck_assert_int_eq(judge("http://example.com/galleries/"), 1);
    ck_assert_int_eq(judge("http://example.com/galleries/x.jpg"), 1);
    ck_assert_int_eq(judge("http://example.com:81/galleries/x"), 1);
    ck_assert_int_eq(judge("http://example.com/Galleries/"), 0);
    ck_assert_int_eq(judge("http://example.com/galleries"), 0);
    ck_assert_int_eq(judge("http://example.com"), 0);
    ck_assert_int_eq(judge("http://a.img.org/Pics2"), 1);
    ck_assert_int_eq(judge("http://a.img.org/pics"), 0);
}
END_TEST

START_TEST(test_valid_host_longer_than_256_is_invalid)
{
    static const char *const args[] = {"*.com", NULL};
    build(args);
    char ref[400] = "http://";
    memset(ref + 7, 'a', 252);
    strcpy(ref + 259, ".com/");
    ck_assert_int_eq(judge(ref), 1); /* 256 bytes of host */
    memset(ref + 7, 'a', 253);
    strcpy(ref + 260, ".com/");
    ck_assert_int_eq(judge(ref), 0);
}
END_TEST

START_TEST(test_valid_regex_after_scheme_caseless_with_port_and_path)
{
    static const char *const args[] = {"other.com", NULL};
    build(args);
    add_regex(regexes, &rules.nregexes, "^www\\.example\\.(org|net):8080/x", PX_REGEX_CASELESS);
    ck_assert_int_eq(judge("http://www.example.org:8080/x"), 1);
    ck_assert_int_eq(judge("https://WWW.EXAMPLE.NET:8080/xyz"), 1);
    ck_assert_int_eq(judge("http://www.example.org/x"), 0);
    ck_assert_int_eq(judge("www.example.org:8080/x"), 0);
}
END_TEST

START_TEST(test_valid_key_with_wrong_uri_wins_over_regex)
{
    static const char *const args[] = {"example.com/ok", NULL};
    build(args);
    add_regex(regexes, &rules.nregexes, "example", PX_REGEX_CASELESS);
    ck_assert_int_eq(judge("http://example.com/no"), 0);
    ck_assert_int_eq(judge("http://example.net/no"), 1);
}
END_TEST

START_TEST(test_valid_server_name_regex_sees_lowercased_host_only)
{
    add_regex(name_regexes, &rules.nname_regexes, "^www\\.a\\.com$", 0);
    ck_assert_int_eq(judge("http://WWW.A.COM:81/path"), 1);
    ck_assert_int_eq(judge("http://www.a.com.evil/"), 0);
    ck_assert_int_eq(judge(NULL), 0);
}
END_TEST

static Suite *referer_suite(void)
{
    Suite *s = suite_create("http_referer");
    TCase *tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_key_invalid_hostnames_and_wildcards_are_declined);
    tcase_add_test(tc, test_key_forms_nginx_accepts);
    suite_add_tcase(s, tc);

    tc = tcase_create("conflicts");
    tcase_add_test(tc, test_key_conflicts_as_nginx);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_hash_max_size_zero_fails_only_with_keys);
    tcase_add_test(tc, test_hash_bucket_size_rounded_to_cache_line);
    tcase_add_test(tc, test_hash_long_exact_host_needs_larger_bucket);
    tcase_add_test(tc, test_hash_wildcard_checked_per_label);
    tcase_add_test(tc, test_hash_not_optimal_warnings_counted_per_hash);
    tcase_add_test(tc, test_hash_names_with_equal_hashes_never_fit);
    tcase_add_test(tc, test_hash_head_wildcards_share_levels);
    tcase_add_test(tc, test_lookup_exact_then_longest_head_then_longest_tail);
    tcase_add_test(tc, test_lookup_empty_host_never_matches_wildcards);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_checked_fixture(tc, rules_setup, rules_teardown);
    tcase_add_test(tc, test_valid_without_rules_accepts_everything);
    tcase_add_test(tc, test_valid_none_and_blocked);
    tcase_add_test(tc, test_valid_host_case_port_and_scheme);
    tcase_add_test(tc, test_valid_uri_prefix_is_case_sensitive);
    tcase_add_test(tc, test_valid_host_longer_than_256_is_invalid);
    tcase_add_test(tc, test_valid_regex_after_scheme_caseless_with_port_and_path);
    tcase_add_test(tc, test_valid_key_with_wrong_uri_wins_over_regex);
    tcase_add_test(tc, test_valid_server_name_regex_sees_lowercased_host_only);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(referer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
