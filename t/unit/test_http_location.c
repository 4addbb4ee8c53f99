/*
 * Unit tests for http/http_location: nginx's selection order, captures, named
 * locations, build errors in nginx's wording (each checked against nginx 1.22),
 * and a large randomized comparison against a brute-force model.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "http/http_location.h"

static http_location_tree_t *tree;

static void setup(void)
{
    tree = http_location_tree_create();
    ck_assert_ptr_nonnull(tree);
}

static void teardown(void)
{
    http_location_tree_free(tree);
    tree = NULL;
}

/* Adds a location whose conf is its label, a string literal. */
static http_location_t *add_loc(http_location_t *parent, http_location_kind_t kind,
                                const char *name, const char *label, int auto_redirect)
{
    http_location_def_t def = {kind, px_str_make(name, strlen(name)), (void *)label, auto_redirect};
    http_location_error_t err = {"", NULL};
    http_location_t *loc = NULL;

    ck_assert_msg(http_location_add(tree, parent, &def, &loc, &err) == PX_OK, "add %s: %s", name,
                  err.msg);
    ck_assert_ptr_nonnull(loc);
    return loc;
}

static http_location_t *add(http_location_t *parent, http_location_kind_t kind, const char *name,
                            const char *label)
{
    return add_loc(parent, kind, name, label, 0);
}

static void finalize(void)
{
    http_location_error_t err = {"", NULL};
    ck_assert_msg(http_location_finalize(tree, &err) == PX_OK, "finalize: %s", err.msg);
}

/* The label of the selected location, "redirect:<label>", or "none". */
static const char *find(const char *uri)
{
    static char out[128];
    http_location_match_t m = {0};
    int rc = http_location_find(tree, uri, strlen(uri), &m);

    if (rc == PX_DECLINED) {
        ck_assert_ptr_null(m.conf);
        return "none";
    }
    ck_assert_int_eq(rc, PX_OK);
    ck_assert_ptr_eq(m.conf, http_location_conf(m.loc));
    if (!m.redirect)
        return m.conf;
    snprintf(out, sizeof(out), "redirect:%s", (const char *)m.conf);
    return out;
}

static void assert_add_error(http_location_t *parent, http_location_kind_t kind, const char *name,
                             const char *expected)
{
    const char *label = "bad";
    http_location_def_t def = {kind, px_str_make(name, strlen(name)), (void *)label, 0};
    http_location_error_t err = {"", NULL};
    http_location_t *loc = NULL;

    ck_assert_int_eq(http_location_add(tree, parent, &def, &loc, &err), PX_ERROR);
    ck_assert_ptr_null(loc);
    ck_assert_str_eq(err.msg, expected);
    ck_assert_ptr_eq(err.conf, label);
}

static void assert_finalize_error(const char *expected, const char *label)
{
    http_location_error_t err = {"", NULL};
    ck_assert_int_eq(http_location_finalize(tree, &err), PX_ERROR);
    ck_assert_str_eq(err.msg, expected);
    ck_assert_str_eq((const char *)err.conf, label);
}

/* --- selection order ----------------------------------------------------- */

START_TEST(test_nginx_documented_example_configurations_a_to_e)
{
    add(NULL, HTTP_LOC_EXACT, "/", "A");
    add(NULL, HTTP_LOC_PREFIX, "/", "B");
    add(NULL, HTTP_LOC_PREFIX, "/documents/", "C");
    add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/images/", "D");
    add(NULL, HTTP_LOC_REGEX_CASELESS, "\\.(gif|jpg|jpeg)$", "E");
    finalize();
    ck_assert_str_eq(find("/"), "A");
    ck_assert_str_eq(find("/index.html"), "B");
    ck_assert_str_eq(find("/documents/document.html"), "C");
    ck_assert_str_eq(find("/images/1.gif"), "D");
    ck_assert_str_eq(find("/documents/1.jpg"), "E");
    ck_assert_str_eq(find("/documents/1.JPG"), "E");
}
END_TEST

START_TEST(test_exact_location_matches_only_the_exact_uri)
{
    add(NULL, HTTP_LOC_EXACT, "/x", "exact");
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    finalize();
    ck_assert_str_eq(find("/x"), "exact");
    ck_assert_str_eq(find("/x/"), "root");
    ck_assert_str_eq(find("/xy"), "root");
    ck_assert_str_eq(find("/"), "root");
}
END_TEST

START_TEST(test_exact_location_beats_regex)
{
    add(NULL, HTTP_LOC_EXACT, "/a.php", "exact");
    add(NULL, HTTP_LOC_REGEX, "\\.php$", "php");
    finalize();
    ck_assert_str_eq(find("/a.php"), "exact");
    ck_assert_str_eq(find("/b.php"), "php");
}
END_TEST

START_TEST(test_longest_prefix_is_textual_not_per_segment)
{
    add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add(NULL, HTTP_LOC_PREFIX, "/a/b", "ab");
    add(NULL, HTTP_LOC_PREFIX, "/a/b/c", "abc");
    add(NULL, HTTP_LOC_PREFIX, "/b", "b");
    finalize();
    ck_assert_str_eq(find("/a/b/x"), "ab");
    ck_assert_str_eq(find("/a/bc"), "ab");
    ck_assert_str_eq(find("/a/b/c/d"), "abc");
    ck_assert_str_eq(find("/a/b"), "ab");
    ck_assert_str_eq(find("/a-b"), "a");
    ck_assert_str_eq(find("/ab"), "a");
    ck_assert_str_eq(find("/"), "none");
    ck_assert_str_eq(find("/c"), "none");
    ck_assert_str_eq(find(""), "none");
}
END_TEST

START_TEST(test_prefix_comparison_is_case_sensitive)
{
    add(NULL, HTTP_LOC_PREFIX, "/Img", "img");
    add(NULL, HTTP_LOC_EXACT, "/Exact", "exact");
    finalize();
    ck_assert_str_eq(find("/Img/1"), "img");
    ck_assert_str_eq(find("/img/1"), "none");
    ck_assert_str_eq(find("/exact"), "none");
}
END_TEST

START_TEST(test_regex_beats_longest_prefix)
{
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    add(NULL, HTTP_LOC_PREFIX, "/static/", "static");
    add(NULL, HTTP_LOC_REGEX, "\\.css$", "css");
    finalize();
    ck_assert_str_eq(find("/static/a.css"), "css");
    ck_assert_str_eq(find("/static/a.js"), "static");
    ck_assert_str_eq(find("/a.css"), "css");
}
END_TEST

START_TEST(test_noregex_prefix_keeps_regexes_out)
{
    add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/static/", "static");
    add(NULL, HTTP_LOC_PREFIX, "/static/deep/", "deep");
    add(NULL, HTTP_LOC_REGEX, "\\.css$", "css");
    finalize();
    ck_assert_str_eq(find("/static/a.css"), "static");
    /* The longest prefix decides: a plain one lets regexes in again. */
    ck_assert_str_eq(find("/static/deep/a.css"), "css");
    ck_assert_str_eq(find("/other/a.css"), "css");
}
END_TEST

START_TEST(test_regexes_are_tried_in_config_order)
{
    add(NULL, HTTP_LOC_REGEX, "^/a", "first");
    add(NULL, HTTP_LOC_REGEX, "^/ab", "second");
    add(NULL, HTTP_LOC_REGEX, "^/ab", "third");
    finalize();
    ck_assert_str_eq(find("/abc"), "first");
    ck_assert_str_eq(find("/b"), "none");
}
END_TEST

START_TEST(test_regex_case_sensitivity_follows_modifier)
{
    add(NULL, HTTP_LOC_REGEX, "\\.PNG$", "cs");
    add(NULL, HTTP_LOC_REGEX_CASELESS, "\\.png$", "ci");
    finalize();
    ck_assert_str_eq(find("/a.PNG"), "cs");
    ck_assert_str_eq(find("/a.png"), "ci");
    ck_assert_str_eq(find("/a.Png"), "ci");
}
END_TEST

START_TEST(test_equal_exact_and_prefix_names_coexist)
{
    add(NULL, HTTP_LOC_PREFIX, "/x", "prefix");
    add(NULL, HTTP_LOC_EXACT, "/x", "exact");
    add(NULL, HTTP_LOC_REGEX, "x", "regex");
    finalize();
    ck_assert_str_eq(find("/x"), "exact");
    ck_assert_str_eq(find("/xy"), "regex");
    ck_assert_str_eq(find("/xa"), "regex");
}
END_TEST

START_TEST(test_prefix_equal_to_uri_still_lets_regex_win)
{
    add(NULL, HTTP_LOC_PREFIX, "/bar", "bar");
    add(NULL, HTTP_LOC_REGEX, "b", "regex");
    finalize();
    ck_assert_str_eq(find("/bar"), "regex");
}
END_TEST

START_TEST(test_empty_prefix_matches_every_uri_and_empty_exact_only_empty)
{
    add(NULL, HTTP_LOC_PREFIX, "", "all");
    add(NULL, HTTP_LOC_EXACT, "", "empty");
    finalize();
    ck_assert_str_eq(find("/anything"), "all");
    ck_assert_str_eq(find(""), "empty");
}
END_TEST

START_TEST(test_nothing_defined_declines)
{
    finalize();
    ck_assert_str_eq(find("/"), "none");
}
END_TEST

START_TEST(test_uri_with_nul_and_high_bytes_compares_by_length)
{
    add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add(NULL, HTTP_LOC_PREFIX, "/\xff", "ff");
    finalize();
    http_location_match_t m = {0};
    ck_assert_int_eq(http_location_find(tree, "/a\0b", 4, &m), PX_OK);
    ck_assert_str_eq(m.conf, "a");
    ck_assert_int_eq(http_location_find(tree, "/\xff\x01", 3, &m), PX_OK);
    ck_assert_str_eq(m.conf, "ff");
    ck_assert_int_eq(http_location_find(tree, "/\0", 2, &m), PX_DECLINED);
}
END_TEST

/* --- nested locations ------------------------------------------------------ */

START_TEST(test_nested_prefix_refines_outer_prefix)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add(a, HTTP_LOC_PREFIX, "/a/b", "a/b");
    add(a, HTTP_LOC_EXACT, "/a/x", "a/x exact");
    add(NULL, HTTP_LOC_PREFIX, "/a/b/c", "top a/b/c");
    finalize();
    ck_assert_str_eq(find("/a"), "a");
    ck_assert_str_eq(find("/a/bz"), "a/b");
    ck_assert_str_eq(find("/a/x"), "a/x exact");
    ck_assert_str_eq(find("/a/xy"), "a");
    /* The longest top-level prefix is chosen before nested ones are searched. */
    ck_assert_str_eq(find("/a/b/c/d"), "top a/b/c");
}
END_TEST

START_TEST(test_nested_regex_beats_outer_regex)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a/", "a");
    add(a, HTTP_LOC_REGEX, "\\.php$", "inner php");
    add(NULL, HTTP_LOC_REGEX, "\\.(php|html)$", "outer");
    finalize();
    ck_assert_str_eq(find("/a/x.php"), "inner php");
    ck_assert_str_eq(find("/a/x.html"), "outer");
    ck_assert_str_eq(find("/b/x.php"), "outer");
    ck_assert_str_eq(find("/a/x.txt"), "a");
}
END_TEST

START_TEST(test_outer_regex_beats_nested_prefix)
{
    http_location_t *v = add(NULL, HTTP_LOC_PREFIX, "/v", "v");
    http_location_t *vw = add(v, HTTP_LOC_PREFIX, "/v/w", "v/w");
    add(vw, HTTP_LOC_REGEX, "z", "deep regex");
    add(NULL, HTTP_LOC_REGEX, "w", "outer w");
    finalize();
    ck_assert_str_eq(find("/v"), "v");
    ck_assert_str_eq(find("/v/w"), "outer w");
    ck_assert_str_eq(find("/v/wz"), "deep regex");
    ck_assert_str_eq(find("/v/x"), "v");
}
END_TEST

/* nginx 1.22: `location /a { location ^~ /a/b {} } location ~ b {}` sends /a/b to the regex. */
START_TEST(test_nested_noregex_does_not_shield_outer_regexes)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    http_location_t *ab = add(a, HTTP_LOC_PREFIX_NOREGEX, "/a/b", "a/b");
    add(a, HTTP_LOC_REGEX, "b", "inner regex");
    add(ab, HTTP_LOC_REGEX, "z", "innermost regex");
    add(NULL, HTTP_LOC_REGEX, "b", "outer regex");
    finalize();
    ck_assert_str_eq(find("/a/b"), "outer regex");
    ck_assert_str_eq(find("/a/c"), "a");
    /* The ^~ location's own nested regexes are a level of their own, searched as usual. */
    ck_assert_str_eq(find("/a/bz"), "innermost regex");
}
END_TEST

START_TEST(test_outer_noregex_shields_its_level_but_nested_regexes_run)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/a", "a");
    add(a, HTTP_LOC_REGEX, "x", "inner regex");
    add(NULL, HTTP_LOC_REGEX, "y", "outer regex");
    finalize();
    ck_assert_str_eq(find("/ax"), "inner regex");
    ck_assert_str_eq(find("/ay"), "a");
    ck_assert_str_eq(find("/by"), "outer regex");
}
END_TEST

START_TEST(test_nested_exact_wins_at_once)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add(a, HTTP_LOC_EXACT, "/a/e.php", "exact");
    add(NULL, HTTP_LOC_REGEX, "\\.php$", "php");
    finalize();
    ck_assert_str_eq(find("/a/e.php"), "exact");
    ck_assert_str_eq(find("/a/f.php"), "php");
}
END_TEST

START_TEST(test_regex_location_searches_its_nested_regexes)
{
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "^/u", "outer");
    add(r, HTTP_LOC_REGEX, "x", "inner regex");
    add(NULL, HTTP_LOC_REGEX, "x", "later top regex");
    finalize();
    ck_assert_str_eq(find("/ux"), "inner regex");
    ck_assert_str_eq(find("/u"), "outer");
    ck_assert_str_eq(find("/x"), "later top regex");
}
END_TEST

/* nginx 1.22 accepts prefix and exact locations inside a regex location but never matches them. */
START_TEST(test_static_locations_inside_regex_location_never_match)
{
    http_location_t *t = add(NULL, HTTP_LOC_REGEX, "/t", "outer t");
    add(t, HTTP_LOC_PREFIX, "/t", "inner prefix");
    add(t, HTTP_LOC_EXACT, "/t", "inner exact");
    http_location_t *s = add(NULL, HTTP_LOC_REGEX, "/s", "outer s");
    add_loc(s, HTTP_LOC_PREFIX, "/s/", "inner redirect", 1);
    finalize();
    ck_assert_str_eq(find("/t"), "outer t");
    ck_assert_str_eq(find("/t/x"), "outer t");
    ck_assert_str_eq(find("/s"), "outer s");
    ck_assert_str_eq(find("/s/x"), "outer s");
}
END_TEST

START_TEST(test_deep_nesting_of_prefixes)
{
    static char names[20][32];
    http_location_t *parent = NULL;

    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "/%.*s", i + 1, "dddddddddddddddddddddddd");
        parent = add(parent, HTTP_LOC_PREFIX, names[i], names[i]);
    }
    finalize();
    ck_assert_str_eq(find("/ddddd"), names[4]);
    ck_assert_str_eq(find("/dddddx"), names[4]);
    ck_assert_str_eq(find("/dddddddddddddddddddddddddd"), names[19]);
}
END_TEST

/* --- captures ---------------------------------------------------------------- */

START_TEST(test_regex_match_reports_captures_and_named_groups)
{
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "^/r(?<num>\\d+)/(.*)$", "r");
    finalize();

    http_location_match_t m = {0};
    const char *uri = "/r17/tail";
    ck_assert_int_eq(http_location_find(tree, uri, strlen(uri), &m), PX_OK);
    ck_assert_str_eq(m.conf, "r");
    ck_assert_ptr_eq(m.regex, http_location_regex(r));
    ck_assert_int_eq(m.npairs, 3);
    ck_assert_uint_eq(m.captures[2], 2);
    ck_assert_uint_eq(m.captures[3], 4);
    ck_assert_uint_eq(m.captures[4], 5);
    ck_assert_uint_eq(m.captures[5], 9);
    ck_assert_int_eq(px_regex_name_index(m.regex, PX_STR("num")), 1);

    ck_assert_int_eq(http_location_find(tree, "/x", 2, &m), PX_OK);
    ck_assert_str_eq(m.conf, "root");
    ck_assert_ptr_null(m.regex);
    ck_assert_int_eq(m.npairs, 0);
}
END_TEST

typedef struct {
    int calls;
    const px_regex_t *seen[4];
    int npairs[4];
    size_t first_group_start[4];
} capture_log_t;

static void log_regex(void *ctx, const px_regex_t *re, const char *uri, const size_t *captures,
                      int npairs)
{
    capture_log_t *log = ctx;
    (void)uri;
    if (log->calls < 4) {
        log->seen[log->calls] = re;
        log->npairs[log->calls] = npairs;
        log->first_group_start[log->calls] = npairs > 1 ? captures[2] : PX_REGEX_UNSET;
    }
    log->calls++;
}

/* nginx 1.22: after `~ ^/r(?<num>\d+) { location ~ 7 {} }` matches /r17, $num is 17 and $1 empty.
 */
START_TEST(test_nested_regex_replaces_positional_captures_and_reports_each_match)
{
    http_location_t *outer = add(NULL, HTTP_LOC_REGEX, "^/r(?<num>\\d+)", "outer");
    http_location_t *inner = add(outer, HTTP_LOC_REGEX, "7", "seven");
    add(outer, HTTP_LOC_REGEX, "(9)", "nine");
    finalize();

    capture_log_t log = {0};
    http_location_match_t m = {0};
    m.on_regex = log_regex;
    m.ctx = &log;
    ck_assert_int_eq(http_location_find(tree, "/r17", 4, &m), PX_OK);
    ck_assert_str_eq(m.conf, "seven");
    ck_assert_ptr_eq(m.regex, http_location_regex(inner));
    ck_assert_int_eq(m.npairs, 1);
    ck_assert_int_eq(log.calls, 2);
    ck_assert_ptr_eq(log.seen[0], http_location_regex(outer));
    ck_assert_int_eq(log.npairs[0], 2);
    ck_assert_uint_eq(log.first_group_start[0], 2);
    ck_assert_ptr_eq(log.seen[1], http_location_regex(inner));
}
END_TEST

START_TEST(test_failed_nested_regex_keeps_outer_captures)
{
    http_location_t *outer = add(NULL, HTTP_LOC_REGEX, "^/r(\\d+)", "outer");
    add(outer, HTTP_LOC_REGEX, "(z)", "z");
    finalize();

    http_location_match_t m = {0};
    ck_assert_int_eq(http_location_find(tree, "/r12", 4, &m), PX_OK);
    ck_assert_str_eq(m.conf, "outer");
    ck_assert_ptr_eq(m.regex, http_location_regex(outer));
    ck_assert_int_eq(m.npairs, 2);
    ck_assert_uint_eq(m.captures[2], 2);
    ck_assert_uint_eq(m.captures[3], 4);
}
END_TEST

/* --- named locations --------------------------------------------------------- */

START_TEST(test_named_location_found_by_name_only)
{
    add(NULL, HTTP_LOC_NAMED, "@fallback", "fallback");
    add(NULL, HTTP_LOC_NAMED, "@x", "first x");
    add(NULL, HTTP_LOC_NAMED, "@x", "second x");
    add(NULL, HTTP_LOC_NAMED, "@", "bare");
    finalize();
    ck_assert_str_eq(http_location_find_named(tree, PX_STR("@fallback")), "fallback");
    ck_assert_str_eq(http_location_find_named(tree, PX_STR("@x")), "first x");
    ck_assert_str_eq(http_location_find_named(tree, PX_STR("@")), "bare");
    ck_assert_ptr_null(http_location_find_named(tree, PX_STR("@y")));
    ck_assert_ptr_null(http_location_find_named(tree, PX_STR("fallback")));
    ck_assert_str_eq(find("@x"), "none");
    ck_assert_str_eq(find("/"), "none");
}
END_TEST

START_TEST(test_find_named_with_no_named_locations)
{
    finalize();
    ck_assert_ptr_null(http_location_find_named(tree, PX_STR("@x")));
}
END_TEST

/* --- auto_redirect ------------------------------------------------------------ */

START_TEST(test_auto_redirect_when_uri_is_location_without_slash)
{
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    add_loc(NULL, HTTP_LOC_PREFIX, "/foo/", "foo", 1);
    add(NULL, HTTP_LOC_REGEX, "foo", "regex foo");
    finalize();
    /* nginx answers 301 here even though a regex would match. */
    ck_assert_str_eq(find("/foo"), "redirect:foo");
    ck_assert_str_eq(find("/foo/x"), "regex foo");
    ck_assert_str_eq(find("/fo"), "root");
}
END_TEST

START_TEST(test_no_redirect_without_flag_or_trailing_slash)
{
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    add(NULL, HTTP_LOC_PREFIX, "/foo/", "foo");
    add_loc(NULL, HTTP_LOC_PREFIX, "/bar", "bar", 1);
    finalize();
    ck_assert_str_eq(find("/foo"), "root");
    ck_assert_str_eq(find("/ba"), "root");
}
END_TEST

START_TEST(test_location_named_like_uri_beats_redirect)
{
    add_loc(NULL, HTTP_LOC_PREFIX, "/bar/", "bar/", 1);
    add(NULL, HTTP_LOC_PREFIX, "/bar", "bar");
    add_loc(NULL, HTTP_LOC_PREFIX, "/baz/", "baz/", 1);
    add(NULL, HTTP_LOC_EXACT, "/baz", "baz exact");
    add(NULL, HTTP_LOC_REGEX, "^/ba", "regex");
    finalize();
    ck_assert_str_eq(find("/bar"), "regex");
    ck_assert_str_eq(find("/baz"), "baz exact");
}
END_TEST

START_TEST(test_redirect_ignores_names_sorting_between_uri_and_uri_slash)
{
    add_loc(NULL, HTTP_LOC_PREFIX, "/foo/", "foo", 1);
    add(NULL, HTTP_LOC_PREFIX, "/foo-bar", "dash");
    add(NULL, HTTP_LOC_PREFIX, "/foo.bar", "dot");
    add(NULL, HTTP_LOC_EXACT, "/foo!", "bang");
    finalize();
    ck_assert_str_eq(find("/foo"), "redirect:foo");
    ck_assert_str_eq(find("/foo-bar/x"), "dash");
}
END_TEST

START_TEST(test_redirect_prefers_exact_conf_of_same_name)
{
    add_loc(NULL, HTTP_LOC_PREFIX, "/q/", "prefix", 1);
    add(NULL, HTTP_LOC_EXACT, "/q/", "exact");
    finalize();
    ck_assert_str_eq(find("/q"), "redirect:exact");
    ck_assert_str_eq(find("/q/"), "exact");
    ck_assert_str_eq(find("/q/a"), "prefix");
}
END_TEST

START_TEST(test_redirect_found_in_nested_level)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add_loc(a, HTTP_LOC_PREFIX, "/a/b/", "a/b/", 1);
    add(NULL, HTTP_LOC_REGEX, "b", "regex");
    finalize();
    ck_assert_str_eq(find("/a/b"), "redirect:a/b/");
    ck_assert_str_eq(find("/a/b/c"), "regex");
}
END_TEST

/* --- build errors, worded as nginx 1.22 prints them ----------------------------- */

START_TEST(test_error_bad_regex)
{
    assert_add_error(NULL, HTTP_LOC_REGEX, "^/(a",
                     "pcre2_compile() failed: missing closing parenthesis in \"^/(a\"");
    assert_add_error(NULL, HTTP_LOC_REGEX_CASELESS, "^/a[",
                     "pcre2_compile() failed: missing terminating ] for character class in "
                     "\"^/a[\"");
    assert_add_error(NULL, HTTP_LOC_REGEX, "^/a{2,1}b",
                     "pcre2_compile() failed: numbers out of order in {} quantifier in "
                     "\"^/a{2,1}b\" at \"}b\"");
}
END_TEST

START_TEST(test_error_regex_checked_before_nesting)
{
    http_location_t *y = add(NULL, HTTP_LOC_EXACT, "/y", "y");
    assert_add_error(y, HTTP_LOC_REGEX, "(",
                     "pcre2_compile() failed: missing closing parenthesis in \"(\"");
}
END_TEST

START_TEST(test_error_nested_in_exact)
{
    http_location_t *y = add(NULL, HTTP_LOC_EXACT, "/y", "y");
    assert_add_error(y, HTTP_LOC_PREFIX, "/y/x",
                     "location \"/y/x\" cannot be inside the exact location \"/y\"");
    assert_add_error(y, HTTP_LOC_REGEX, "x",
                     "location \"x\" cannot be inside the exact location \"/y\"");
    assert_add_error(y, HTTP_LOC_NAMED, "@x",
                     "location \"@x\" cannot be inside the exact location \"/y\"");
}
END_TEST

START_TEST(test_error_nested_in_named)
{
    http_location_t *y = add(NULL, HTTP_LOC_NAMED, "@y", "y");
    assert_add_error(y, HTTP_LOC_PREFIX, "/x",
                     "location \"/x\" cannot be inside the named location \"@y\"");
    assert_add_error(y, HTTP_LOC_NAMED, "@x",
                     "location \"@x\" cannot be inside the named location \"@y\"");
}
END_TEST

START_TEST(test_error_named_location_nested)
{
    http_location_t *y = add(NULL, HTTP_LOC_PREFIX, "/y", "y");
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "z", "z");
    assert_add_error(y, HTTP_LOC_NAMED, "@x",
                     "named location \"@x\" can be on the server level only");
    assert_add_error(r, HTTP_LOC_NAMED, "@x",
                     "named location \"@x\" can be on the server level only");
}
END_TEST

START_TEST(test_error_nested_prefix_outside_parent)
{
    http_location_t *b = add(NULL, HTTP_LOC_PREFIX, "/b", "b");
    http_location_t *yx = add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/yx", "yx");
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "/y", "regex y");
    assert_add_error(b, HTTP_LOC_PREFIX, "/a", "location \"/a\" is outside location \"/b\"");
    assert_add_error(b, HTTP_LOC_EXACT, "/z", "location \"/z\" is outside location \"/b\"");
    assert_add_error(b, HTTP_LOC_PREFIX, "/", "location \"/\" is outside location \"/b\"");
    assert_add_error(yx, HTTP_LOC_PREFIX, "/y", "location \"/y\" is outside location \"/yx\"");
    /* A regex parent is compared by its text. */
    assert_add_error(r, HTTP_LOC_PREFIX, "/x", "location \"/x\" is outside location \"/y\"");
}
END_TEST

START_TEST(test_nesting_accepted_where_nginx_accepts_it)
{
    http_location_t *y = add(NULL, HTTP_LOC_PREFIX, "/y", "y");
    add(y, HTTP_LOC_PREFIX, "/y", "same name");
    add(y, HTTP_LOC_EXACT, "/y", "exact same name");
    add(y, HTTP_LOC_REGEX, "anything", "regex");
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "/r", "regex parent");
    add(r, HTTP_LOC_PREFIX, "/r/x", "starts with regex text");
    add(r, HTTP_LOC_REGEX, "/x", "regex child");
    http_location_t *empty = add(NULL, HTTP_LOC_PREFIX, "", "empty");
    add(empty, HTTP_LOC_PREFIX, "/anything", "inside empty");
    finalize();
    ck_assert_str_eq(find("/y"), "exact same name");
    ck_assert_str_eq(find("/yz"), "same name");
}
END_TEST

START_TEST(test_error_duplicate_prefix)
{
    add(NULL, HTTP_LOC_PREFIX, "/x", "first");
    add(NULL, HTTP_LOC_PREFIX, "/x", "second");
    assert_finalize_error("duplicate location \"/x\"", "second");
}
END_TEST

START_TEST(test_error_duplicate_exact)
{
    add(NULL, HTTP_LOC_EXACT, "/x", "first");
    add(NULL, HTTP_LOC_EXACT, "/x", "second");
    assert_finalize_error("duplicate location \"/x\"", "second");
}
END_TEST

START_TEST(test_error_noregex_and_plain_prefix_are_duplicates)
{
    add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/x", "first");
    add(NULL, HTTP_LOC_PREFIX, "/x", "second");
    assert_finalize_error("duplicate location \"/x\"", "second");
}
END_TEST

START_TEST(test_error_duplicate_names_the_later_definition)
{
    add(NULL, HTTP_LOC_PREFIX, "/c", "one");
    add(NULL, HTTP_LOC_EXACT, "/c", "two");
    add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/c", "three");
    assert_finalize_error("duplicate location \"/c\"", "three");
}
END_TEST

START_TEST(test_error_nested_duplicate_reported_before_own_level)
{
    add(NULL, HTTP_LOC_PREFIX, "/c", "c1");
    add(NULL, HTTP_LOC_PREFIX, "/c", "c2");
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX, "/a", "a");
    add(a, HTTP_LOC_PREFIX, "/a/b", "ab1");
    add(a, HTTP_LOC_PREFIX, "/a/b", "ab2");
    assert_finalize_error("duplicate location \"/a/b\"", "ab2");
}
END_TEST

START_TEST(test_no_duplicate_error_where_nginx_has_none)
{
    add(NULL, HTTP_LOC_REGEX, "/x", "r1");
    add(NULL, HTTP_LOC_REGEX, "/x", "r2");
    add(NULL, HTTP_LOC_REGEX_CASELESS, "/x", "r3");
    add(NULL, HTTP_LOC_NAMED, "@x", "n1");
    add(NULL, HTTP_LOC_NAMED, "@x", "n2");
    http_location_t *r = add(NULL, HTTP_LOC_REGEX, "/a", "ra");
    add(r, HTTP_LOC_PREFIX, "/a", "dead1");
    add(r, HTTP_LOC_PREFIX, "/a", "dead2");
    http_location_t *p = add(NULL, HTTP_LOC_PREFIX, "/p", "p");
    add(p, HTTP_LOC_PREFIX, "/p", "nested same as parent");
    finalize();
    ck_assert_str_eq(find("/x"), "r1");
}
END_TEST

START_TEST(test_error_add_after_finalize)
{
    finalize();
    assert_add_error(NULL, HTTP_LOC_PREFIX, "/late",
                     "location \"/late\" added after the locations were finalized");
}
END_TEST

START_TEST(test_finalize_twice_is_harmless)
{
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    finalize();
    finalize();
    ck_assert_str_eq(find("/x"), "root");
}
END_TEST

START_TEST(test_accessors)
{
    http_location_t *a = add(NULL, HTTP_LOC_PREFIX_NOREGEX, "/a", "a");
    http_location_t *r = add(a, HTTP_LOC_REGEX_CASELESS, "x$", "r");
    ck_assert(px_str_eq_lit(http_location_name(a), "/a"));
    ck_assert_int_eq(http_location_kind(a), HTTP_LOC_PREFIX_NOREGEX);
    ck_assert_ptr_null(http_location_parent(a));
    ck_assert_ptr_eq(http_location_parent(r), a);
    ck_assert_ptr_null(http_location_regex(a));
    ck_assert_ptr_nonnull(http_location_regex(r));
    ck_assert(px_str_eq_lit(px_regex_pattern(http_location_regex(r)), "x$"));
}
END_TEST

START_TEST(test_definition_name_is_copied)
{
    char name[] = "/copied";
    http_location_def_t def = {HTTP_LOC_PREFIX, px_str_make(name, strlen(name)), "c", 0};
    ck_assert_int_eq(http_location_add(tree, NULL, &def, NULL, NULL), PX_OK);
    memset(name, 'z', strlen(name));
    finalize();
    ck_assert_str_eq(find("/copied/x"), "c");
}
END_TEST

/* --- directive arguments ---------------------------------------------------------- */

static void assert_parse(const char *a0, const char *a1, http_location_kind_t kind,
                         const char *name)
{
    px_str_t args[2] = {px_str_make(a0, strlen(a0)),
                        a1 ? px_str_make(a1, strlen(a1)) : PX_NULL_STR};
    http_location_kind_t got_kind;
    px_str_t got_name;
    char err[128] = "";

    ck_assert_int_eq(
        http_location_parse_args(args, a1 ? 2 : 1, &got_kind, &got_name, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(got_kind, kind);
    ck_assert_msg(px_str_eq(got_name, px_str_make(name, strlen(name))), "name of %s %s", a0,
                  a1 ? a1 : "");
}

START_TEST(test_parse_args_two_argument_forms)
{
    assert_parse("=", "/x", HTTP_LOC_EXACT, "/x");
    assert_parse("^~", "/x", HTTP_LOC_PREFIX_NOREGEX, "/x");
    assert_parse("~", "\\.php$", HTTP_LOC_REGEX, "\\.php$");
    assert_parse("~*", "\\.jpg$", HTTP_LOC_REGEX_CASELESS, "\\.jpg$");
    assert_parse("=", "@x", HTTP_LOC_EXACT, "@x");
    assert_parse("=", "", HTTP_LOC_EXACT, "");
}
END_TEST

START_TEST(test_parse_args_glued_and_plain_forms)
{
    assert_parse("=/x", NULL, HTTP_LOC_EXACT, "/x");
    assert_parse("^~/y", NULL, HTTP_LOC_PREFIX_NOREGEX, "/y");
    assert_parse("~*\\.jpg$", NULL, HTTP_LOC_REGEX_CASELESS, "\\.jpg$");
    assert_parse("~\\.png", NULL, HTTP_LOC_REGEX, "\\.png");
    assert_parse("~", NULL, HTTP_LOC_REGEX, "");
    assert_parse("~*", NULL, HTTP_LOC_REGEX_CASELESS, "");
    assert_parse("=", NULL, HTTP_LOC_EXACT, "");
    assert_parse("^~", NULL, HTTP_LOC_PREFIX_NOREGEX, "");
    assert_parse("@fallback", NULL, HTTP_LOC_NAMED, "@fallback");
    assert_parse("@", NULL, HTTP_LOC_NAMED, "@");
    assert_parse("/docs/", NULL, HTTP_LOC_PREFIX, "/docs/");
    assert_parse("^x", NULL, HTTP_LOC_PREFIX, "^x");
    assert_parse("", NULL, HTTP_LOC_PREFIX, "");
}
END_TEST

static void assert_parse_error(const char *a0, const char *a1, const char *expected)
{
    px_str_t args[2] = {px_str_make(a0, strlen(a0)), px_str_make(a1, strlen(a1))};
    http_location_kind_t kind;
    px_str_t name;
    char err[128] = "";

    ck_assert_int_eq(http_location_parse_args(args, 2, &kind, &name, err, sizeof(err)), PX_ERROR);
    ck_assert_str_eq(err, expected);
}

START_TEST(test_parse_args_invalid_modifier)
{
    assert_parse_error("foo", "bar", "invalid location modifier \"foo\"");
    assert_parse_error("@x", "@y", "invalid location modifier \"@x\"");
    assert_parse_error("==", "/x", "invalid location modifier \"==\"");
    assert_parse_error("*~", "/x", "invalid location modifier \"*~\"");
    assert_parse_error("", "/x", "invalid location modifier \"\"");
}
END_TEST

/* --- scale and a brute-force model ------------------------------------------------ */

START_TEST(test_thousand_locations_each_found)
{
    static char names[1000][32];

    for (int i = 0; i < 1000; i++) {
        snprintf(names[i], sizeof(names[i]), "/p%04d/", i);
        http_location_t *loc =
            add(NULL, i % 3 == 0 ? HTTP_LOC_EXACT : HTTP_LOC_PREFIX, names[i], names[i]);
        if (i % 10 == 1 && i % 3 != 0) {
            static char nested[1000][32];
            snprintf(nested[i], sizeof(nested[i]), "/p%04d/n/", i);
            add(loc, HTTP_LOC_PREFIX, nested[i], nested[i]);
        }
    }
    add(NULL, HTTP_LOC_PREFIX, "/", "root");
    add(NULL, HTTP_LOC_REGEX, "\\.php$", "php");
    finalize();

    for (int i = 0; i < 1000; i++) {
        char uri[64];
        snprintf(uri, sizeof(uri), "/p%04d/", i);
        ck_assert_str_eq(find(uri), names[i]);
        snprintf(uri, sizeof(uri), "/p%04d/deeper", i);
        ck_assert_str_eq(find(uri), i % 3 == 0 ? "root" : names[i]);
        snprintf(uri, sizeof(uri), "/p%04d/n/x", i);
        if (i % 10 == 1 && i % 3 != 0) {
            char expect[32];
            snprintf(expect, sizeof(expect), "/p%04d/n/", i);
            ck_assert_str_eq(find(uri), expect);
        }
        snprintf(uri, sizeof(uri), "/p%04d/a.php", i);
        ck_assert_str_eq(find(uri), "php");
    }
    ck_assert_str_eq(find("/p1000/"), "root");
}
END_TEST

typedef struct {
    char name[8];
    http_location_kind_t kind;
    int auto_redirect;
    char label[16];
} model_loc_t;

/* The rules of a single level without regexes, spelled out the slow way. */
static const char *model_find(const model_loc_t *locs, int n, const char *uri, int *redirect)
{
    size_t len = strlen(uri);
    const model_loc_t *best = NULL;

    *redirect = 0;
    for (int i = 0; i < n; i++) {
        if (locs[i].kind == HTTP_LOC_EXACT && strcmp(locs[i].name, uri) == 0)
            return locs[i].label;
    }
    for (int i = 0; i < n; i++) {
        if (locs[i].kind != HTTP_LOC_EXACT && strcmp(locs[i].name, uri) == 0)
            return locs[i].label;
    }
    const model_loc_t *redirect_exact = NULL, *redirect_prefix = NULL;
    int redirect_flag = 0;
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(locs[i].name);
        if (nl == len + 1 && strncmp(locs[i].name, uri, len) == 0 && locs[i].name[len] == '/') {
            redirect_flag |= locs[i].auto_redirect;
            if (locs[i].kind == HTTP_LOC_EXACT)
                redirect_exact = &locs[i];
            else
                redirect_prefix = &locs[i];
        }
    }
    if (redirect_flag) {
        *redirect = 1;
        return redirect_exact ? redirect_exact->label : redirect_prefix->label;
    }
    for (int i = 0; i < n; i++) {
        size_t nl = strlen(locs[i].name);
        if (locs[i].kind != HTTP_LOC_EXACT && nl <= len && strncmp(locs[i].name, uri, nl) == 0
            && (best == NULL || nl > strlen(best->name)))
            best = &locs[i];
    }
    return best ? best->label : "none";
}

static void random_string(char *out, int max, unsigned *seed)
{
    static const char alphabet[] = "ab/-.";
    int len = rand_r(seed) % (max + 1);
    for (int i = 0; i < len; i++)
        out[i] = alphabet[rand_r(seed) % 5];
    out[len] = '\0';
}

START_TEST(test_random_levels_agree_with_brute_force_model)
{
    unsigned seed = 12345;

    for (int round = 0; round < 200; round++) {
        model_loc_t locs[40];
        int n = 0;

        teardown();
        setup();
        for (int i = 0; i < 40; i++) {
            model_loc_t *l = &locs[n];
            random_string(l->name, 5, &seed);
            int k = rand_r(&seed) % 3;
            l->kind = k == 0 ? HTTP_LOC_EXACT : k == 1 ? HTTP_LOC_PREFIX : HTTP_LOC_PREFIX_NOREGEX;
            l->auto_redirect = rand_r(&seed) % 2;
            snprintf(l->label, sizeof(l->label), "L%d", i);
            int dup = 0;
            for (int j = 0; j < n; j++) {
                if (strcmp(locs[j].name, l->name) == 0
                    && (locs[j].kind == HTTP_LOC_EXACT) == (l->kind == HTTP_LOC_EXACT))
                    dup = 1;
            }
            if (dup)
                continue;
            add_loc(NULL, l->kind, l->name, l->label, l->auto_redirect);
            n++;
        }
        finalize();
        for (int q = 0; q < 100; q++) {
            char uri[16];
            int redirect;
            random_string(uri, 7, &seed);
            const char *want = model_find(locs, n, uri, &redirect);
            char expect[32];
            snprintf(expect, sizeof(expect), "%s%s", redirect ? "redirect:" : "", want);
            ck_assert_msg(strcmp(find(uri), expect) == 0, "round %d uri \"%s\": got %s want %s",
                          round, uri, find(uri), expect);
        }
    }
}
END_TEST

static Suite *location_suite(void)
{
    Suite *s = suite_create("http_location");
    TCase *order = tcase_create("order");
    TCase *nested = tcase_create("nested");
    TCase *captures = tcase_create("captures");
    TCase *named = tcase_create("named");
    TCase *redirect = tcase_create("redirect");
    TCase *errors = tcase_create("errors");
    TCase *args = tcase_create("args");
    TCase *scale = tcase_create("scale");
    TCase *all[] = {order, nested, captures, named, redirect, errors, args, scale};

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        tcase_add_checked_fixture(all[i], setup, teardown);
        suite_add_tcase(s, all[i]);
    }
    tcase_set_timeout(scale, 60);

    tcase_add_test(order, test_nginx_documented_example_configurations_a_to_e);
    tcase_add_test(order, test_exact_location_matches_only_the_exact_uri);
    tcase_add_test(order, test_exact_location_beats_regex);
    tcase_add_test(order, test_longest_prefix_is_textual_not_per_segment);
    tcase_add_test(order, test_prefix_comparison_is_case_sensitive);
    tcase_add_test(order, test_regex_beats_longest_prefix);
    tcase_add_test(order, test_noregex_prefix_keeps_regexes_out);
    tcase_add_test(order, test_regexes_are_tried_in_config_order);
    tcase_add_test(order, test_regex_case_sensitivity_follows_modifier);
    tcase_add_test(order, test_equal_exact_and_prefix_names_coexist);
    tcase_add_test(order, test_prefix_equal_to_uri_still_lets_regex_win);
    tcase_add_test(order, test_empty_prefix_matches_every_uri_and_empty_exact_only_empty);
    tcase_add_test(order, test_nothing_defined_declines);
    tcase_add_test(order, test_uri_with_nul_and_high_bytes_compares_by_length);

    tcase_add_test(nested, test_nested_prefix_refines_outer_prefix);
    tcase_add_test(nested, test_nested_regex_beats_outer_regex);
    tcase_add_test(nested, test_outer_regex_beats_nested_prefix);
    tcase_add_test(nested, test_nested_noregex_does_not_shield_outer_regexes);
    tcase_add_test(nested, test_outer_noregex_shields_its_level_but_nested_regexes_run);
    tcase_add_test(nested, test_nested_exact_wins_at_once);
    tcase_add_test(nested, test_regex_location_searches_its_nested_regexes);
    tcase_add_test(nested, test_static_locations_inside_regex_location_never_match);
    tcase_add_test(nested, test_deep_nesting_of_prefixes);

    tcase_add_test(captures, test_regex_match_reports_captures_and_named_groups);
    tcase_add_test(captures, test_nested_regex_replaces_positional_captures_and_reports_each_match);
    tcase_add_test(captures, test_failed_nested_regex_keeps_outer_captures);

    tcase_add_test(named, test_named_location_found_by_name_only);
    tcase_add_test(named, test_find_named_with_no_named_locations);

    tcase_add_test(redirect, test_auto_redirect_when_uri_is_location_without_slash);
    tcase_add_test(redirect, test_no_redirect_without_flag_or_trailing_slash);
    tcase_add_test(redirect, test_location_named_like_uri_beats_redirect);
    tcase_add_test(redirect, test_redirect_ignores_names_sorting_between_uri_and_uri_slash);
    tcase_add_test(redirect, test_redirect_prefers_exact_conf_of_same_name);
    tcase_add_test(redirect, test_redirect_found_in_nested_level);

    tcase_add_test(errors, test_error_bad_regex);
    tcase_add_test(errors, test_error_regex_checked_before_nesting);
    tcase_add_test(errors, test_error_nested_in_exact);
    tcase_add_test(errors, test_error_nested_in_named);
    tcase_add_test(errors, test_error_named_location_nested);
    tcase_add_test(errors, test_error_nested_prefix_outside_parent);
    tcase_add_test(errors, test_nesting_accepted_where_nginx_accepts_it);
    tcase_add_test(errors, test_error_duplicate_prefix);
    tcase_add_test(errors, test_error_duplicate_exact);
    tcase_add_test(errors, test_error_noregex_and_plain_prefix_are_duplicates);
    tcase_add_test(errors, test_error_duplicate_names_the_later_definition);
    tcase_add_test(errors, test_error_nested_duplicate_reported_before_own_level);
    tcase_add_test(errors, test_no_duplicate_error_where_nginx_has_none);
    tcase_add_test(errors, test_error_add_after_finalize);
    tcase_add_test(errors, test_finalize_twice_is_harmless);
    tcase_add_test(errors, test_accessors);
    tcase_add_test(errors, test_definition_name_is_copied);

    tcase_add_test(args, test_parse_args_two_argument_forms);
    tcase_add_test(args, test_parse_args_glued_and_plain_forms);
    tcase_add_test(args, test_parse_args_invalid_modifier);

    tcase_add_test(scale, test_thousand_locations_each_found);
    tcase_add_test(scale, test_random_levels_agree_with_brute_force_model);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(location_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
