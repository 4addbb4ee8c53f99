/* proxy_pass targets, the location checks and the URI sent upstream. Every message, every
 * $proxy_host/$proxy_port and every row of the URI table below is what nginx 1.22 printed or
 * sent to a recording backend (t/e2e/test_proxy_uri_nginx_ref.py replays the URI rows). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proxy/proxy_uri.h"

static px_str_t str(const char *s)
{
    return px_str_make(s, strlen(s));
}

static void ck_slice(px_str_t s, const char *want)
{
    ck_assert_msg(s.len == strlen(want) && (s.len == 0 || memcmp(s.data, want, s.len) == 0),
                  "got \"%.*s\", want \"%s\"", (int)s.len, s.data ? s.data : "", want);
}

static void parse_ok(proxy_pass_t *p, const char *text)
{
    char err[512] = "";
    int rc = proxy_pass_parse(p, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_OK, "proxy_pass \"%s\" failed: %s", text, err);
}

static void parse_fails(const char *text, const char *want)
{
    char err[512] = "";
    proxy_pass_t p;
    int rc = proxy_pass_parse(&p, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_ERROR, "proxy_pass \"%s\" was accepted", text);
    ck_assert_str_eq(err, want);
    proxy_pass_free(&p);
}

static void evaluated_fails(const char *text, const char *want)
{
    char err[512] = "";
    proxy_pass_t p;
    int rc = proxy_pass_parse_evaluated(&p, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_ERROR, "evaluated \"%s\" was accepted", text);
    ck_assert_str_eq(err, want);
    proxy_pass_free(&p);
}

/* ---- (1) parsing ---- */

START_TEST(test_proxy_pass_host_port_uri)
{
    proxy_pass_t p;
    parse_ok(&p, "http://127.0.0.1:8080/wordpress/");
    ck_assert_int_eq(p.scheme, PROXY_SCHEME_HTTP);
    ck_slice(p.host, "127.0.0.1");
    ck_slice(p.port_text, "8080");
    ck_assert_uint_eq(p.port, 8080);
    ck_assert(!p.no_port && !p.is_unix && !p.has_variables && p.has_uri);
    ck_slice(p.uri, "/wordpress/");
    ck_assert_int_eq(p.url.family, AF_INET);
    ck_assert_uint_eq(p.url.naddrs, 1);
    ck_assert_str_eq(p.url.addrs[0].text, "127.0.0.1:8080");
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_without_uri_differs_from_slash)
{
    proxy_pass_t p;
    parse_ok(&p, "http://h");
    ck_assert(!p.has_uri && p.no_port);
    ck_slice(p.uri, "");
    ck_slice(p.host, "h");
    ck_assert_uint_eq(p.port, 80);
    ck_assert_int_eq(p.url.family, AF_UNSPEC); /* a name: upstream{} or resolve later */
    proxy_pass_free(&p);

    parse_ok(&p, "http://h/");
    ck_assert(p.has_uri);
    ck_slice(p.uri, "/");
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_scheme_is_caseless_and_https_defaults_to_443)
{
    proxy_pass_t p;
    parse_ok(&p, "HtTpS://backend/x");
    ck_assert_int_eq(p.scheme, PROXY_SCHEME_HTTPS);
    ck_slice(p.host, "backend");
    ck_assert_uint_eq(p.port, 443);
    ck_assert(p.no_port);
    ck_slice(p.uri, "/x");
    proxy_pass_free(&p);

    parse_ok(&p, "HTTP://h");
    ck_assert_int_eq(p.scheme, PROXY_SCHEME_HTTP);
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_uri_part_may_start_with_args)
{
    proxy_pass_t p;
    parse_ok(&p, "http://h?a=1");
    ck_slice(p.host, "h");
    ck_slice(p.uri, "?a=1");
    ck_assert(p.has_uri);
    proxy_pass_free(&p);

    parse_ok(&p, "http://h:8080?x");
    ck_assert_uint_eq(p.port, 8080);
    ck_slice(p.uri, "?x");
    proxy_pass_free(&p);

    parse_ok(&p, "http://h/x?y");
    ck_slice(p.uri, "/x?y");
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_unix_socket_forms)
{
    proxy_pass_t p;
    parse_ok(&p, "http://unix:/tmp/b.sock");
    ck_assert(p.is_unix && !p.has_uri);
    ck_slice(p.host, "/tmp/b.sock");
    ck_assert_uint_eq(p.port, 0);
    ck_assert_str_eq(p.url.addrs[0].text, "unix:/tmp/b.sock");
    proxy_pass_free(&p);

    parse_ok(&p, "http://unix:/tmp/b.sock:");
    ck_assert(p.is_unix && !p.has_uri);
    ck_slice(p.host, "/tmp/b.sock");
    proxy_pass_free(&p);

    parse_ok(&p, "http://unix:/tmp/b.sock:/z/");
    ck_assert(p.is_unix && p.has_uri);
    ck_slice(p.uri, "/z/");
    proxy_pass_free(&p);

    parse_ok(&p, "http://unix:/");
    ck_slice(p.host, "/");
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_ipv6_and_odd_hosts_nginx_accepts)
{
    proxy_pass_t p;
    parse_ok(&p, "http://[::1]/x");
    ck_slice(p.host, "[::1]");
    ck_slice(p.uri, "/x");
    ck_assert_int_eq(p.url.family, AF_INET6);
    proxy_pass_free(&p);

    /* nginx takes these as names and fails only when resolving them. */
    parse_ok(&p, "http://h#x");
    ck_slice(p.host, "h#x");
    proxy_pass_free(&p);
    parse_ok(&p, "http://user@h");
    ck_slice(p.host, "user@h");
    proxy_pass_free(&p);
}
END_TEST

START_TEST(test_proxy_pass_with_variables_is_only_marked)
{
    static const char *const forms[] = {"http://$backend", "http://127.0.0.1:$port/x", "$u",
                                        "ftp://$h", "http://h/$x"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        proxy_pass_t p;
        parse_ok(&p, forms[i]);
        ck_assert_msg(p.has_variables, "%s", forms[i]);
        ck_assert(!p.has_uri && !p.evaluated);
        ck_slice(p.host, "");
        ck_slice(p.text, forms[i]);
        proxy_pass_free(&p);
    }
}
END_TEST

START_TEST(test_proxy_pass_errors_in_nginx_words)
{
    parse_fails("ftp://h", "invalid URL prefix");
    parse_fails("http:/h", "invalid URL prefix");
    parse_fails("h", "invalid URL prefix");
    parse_fails("", "invalid URL prefix");
    parse_fails("http://", "no host in upstream \"\"");
    parse_fails("https://", "no host in upstream \"\"");
    parse_fails("http://:80", "no host in upstream \":80\"");
    parse_fails("http://h:", "invalid port in upstream \"h:\"");
    parse_fails("http://h:0", "invalid port in upstream \"h:0\"");
    parse_fails("http://h:65536", "invalid port in upstream \"h:65536\"");
    parse_fails("http://h:x", "invalid port in upstream \"h:x\"");
    parse_fails("http://h:80x/", "invalid port in upstream \"h:80x/\"");
    parse_fails("http://h:80:90", "invalid port in upstream \"h:80:90\"");
    parse_fails("http://1.2.3.4:99999", "invalid port in upstream \"1.2.3.4:99999\"");
    parse_fails("http://[::1]:0", "invalid port in upstream \"[::1]:0\"");
    parse_fails("http://[::1", "invalid host in upstream \"[::1\"");
    parse_fails("http://[]", "no host in upstream \"[]\"");
    parse_fails("http://[::1]x", "invalid host in upstream \"[::1]x\"");
    parse_fails("http://[zz]", "invalid IPv6 address in upstream \"[zz]\"");
    parse_fails("http://unix:", "no path in the unix domain socket in upstream \"unix:\"");
    parse_fails("http://unix::/x", "no path in the unix domain socket in upstream \"unix::/x\"");
}
END_TEST

START_TEST(test_evaluated_target_errors_in_nginx_words)
{
    evaluated_fails("ftp://x", "invalid URL prefix in \"ftp://x\"");
    evaluated_fails("http://", "invalid URL prefix in \"http://\"");
    evaluated_fails("https://", "invalid URL prefix in \"https://\"");
    evaluated_fails("https:/", "invalid URL prefix in \"https:/\"");
    evaluated_fails("", "invalid URL prefix in \"\"");
    evaluated_fails("http://127.0.0.1:99999/x", "invalid port in upstream \"127.0.0.1:99999/x\"");
    evaluated_fails("http://unix:", "no path in the unix domain socket in upstream \"unix:\"");
    evaluated_fails("http://[::1", "invalid host in upstream \"[::1\"");
}
END_TEST

START_TEST(test_evaluated_target_is_parsed_like_a_literal_one)
{
    proxy_pass_t p;
    char err[256] = "";
    ck_assert_int_eq(
        proxy_pass_parse_evaluated(&p, str("HTTP://127.0.0.1:8080?x"), err, sizeof(err)), PX_OK);
    ck_assert(p.evaluated && !p.has_variables && p.has_uri);
    ck_slice(p.uri, "?x");
    ck_slice(p.proxy_host, "127.0.0.1:8080");
    proxy_pass_free(&p);

    /* A '$' in an evaluated value is just a byte. */
    ck_assert_int_eq(proxy_pass_parse_evaluated(&p, str("http://h/$x"), err, sizeof(err)), PX_OK);
    ck_slice(p.uri, "/$x");
    proxy_pass_free(&p);
}
END_TEST

static void proxy_host_is(const char *text, const char *host, const char *port)
{
    proxy_pass_t p;
    parse_ok(&p, text);
    ck_slice(p.proxy_host, host);
    ck_slice(p.proxy_port, port);
    proxy_pass_free(&p);
}

START_TEST(test_proxy_host_and_port_variables)
{
    proxy_host_is("http://127.0.0.1:8080/", "127.0.0.1:8080", "8080");
    proxy_host_is("http://127.0.0.1:80/", "127.0.0.1", "80");
    proxy_host_is("http://127.0.0.1/", "127.0.0.1", "80");
    proxy_host_is("http://127.0.0.1:08080", "127.0.0.1:08080", "08080");
    proxy_host_is("https://127.0.0.1:443/", "127.0.0.1", "443");
    proxy_host_is("https://127.0.0.1/", "127.0.0.1", "443");
    proxy_host_is("https://127.0.0.1:80/", "127.0.0.1:80", "80");
    proxy_host_is("http://127.0.0.1:443/", "127.0.0.1:443", "443");
    proxy_host_is("https://[::1]/", "[::1]", "443");
    proxy_host_is("http://[::1]:8/", "[::1]:8", "8");
    proxy_host_is("http://backend", "backend", "80");
    proxy_host_is("http://unix:/nonexist:/", "localhost", "");
}
END_TEST

/* ---- (2) load-time checks ---- */

static const char *const uri_part_emerg =
    "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
    "named location, or inside \"if\" statement, or inside \"limit_except\" block";

static int check(const char *target, http_location_kind_t kind, int in_if, char *err)
{
    proxy_pass_t p;
    parse_ok(&p, target);
    err[0] = '\0';
    int rc = proxy_pass_check_location(&p, kind, in_if, err, 512);
    proxy_pass_free(&p);
    return rc;
}

START_TEST(test_uri_part_refused_where_nothing_is_replaced)
{
    char err[512];
    static const http_location_kind_t bad[] = {HTTP_LOC_REGEX, HTTP_LOC_REGEX_CASELESS,
                                               HTTP_LOC_NAMED};
    static const char *const with_uri[] = {"http://127.0.0.1/", "http://127.0.0.1?a",
                                           "http://unix:/tmp/s:/"};
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < 3; i++) {
            ck_assert_int_eq(check(with_uri[i], bad[k], 0, err), PX_ERROR);
            ck_assert_str_eq(err, uri_part_emerg);
        }
    }
    ck_assert_int_eq(check("http://127.0.0.1/", HTTP_LOC_PREFIX, 1, err), PX_ERROR);
    ck_assert_str_eq(err, uri_part_emerg);
}
END_TEST

START_TEST(test_no_uri_or_variables_pass_everywhere)
{
    char err[512];
    static const http_location_kind_t kinds[] = {HTTP_LOC_PREFIX,         HTTP_LOC_PREFIX_NOREGEX,
                                                 HTTP_LOC_EXACT,          HTTP_LOC_REGEX,
                                                 HTTP_LOC_REGEX_CASELESS, HTTP_LOC_NAMED};
    for (size_t k = 0; k < 6; k++) {
        ck_assert_int_eq(check("http://127.0.0.1", kinds[k], 0, err), PX_OK);
        ck_assert_int_eq(check("http://unix:/tmp/s:", kinds[k], 0, err), PX_OK);
        ck_assert_int_eq(check("http://$h/x", kinds[k], 0, err), PX_OK);
        ck_assert_int_eq(check("http://127.0.0.1", kinds[k], 1, err), PX_OK);
    }
    ck_assert_int_eq(check("http://127.0.0.1/", HTTP_LOC_PREFIX, 0, err), PX_OK);
    ck_assert_int_eq(check("http://127.0.0.1/", HTTP_LOC_PREFIX_NOREGEX, 0, err), PX_OK);
    ck_assert_int_eq(check("http://127.0.0.1/", HTTP_LOC_EXACT, 0, err), PX_OK);
}
END_TEST

static int warn(const char *target, http_location_kind_t kind, const char *location, char *msg)
{
    proxy_pass_t p;
    parse_ok(&p, target);
    msg[0] = '\0';
    int rc = proxy_pass_slash_warning(&p, kind, str(location), msg, 512);
    proxy_pass_free(&p);
    return rc;
}

START_TEST(test_slash_mismatch_warns_with_the_doubled_slash)
{
    char msg[512];
    ck_assert_int_eq(warn("http://h:8000/wordpress/", HTTP_LOC_PREFIX, "/blog", msg), PX_DONE);
    ck_assert_str_eq(msg, "\"proxy_pass\" URI part \"/wordpress/\" ends with \"/\" but location "
                          "\"/blog\" does not, so \"/blog/x\" is sent as \"/wordpress//x\"");
}
END_TEST

START_TEST(test_slash_mismatch_warns_with_the_missing_slash)
{
    char msg[512];
    ck_assert_int_eq(warn("http://h/h", HTTP_LOC_PREFIX_NOREGEX, "/g/", msg), PX_DONE);
    ck_assert_str_eq(msg, "\"proxy_pass\" URI part \"/h\" does not end with \"/\" but location "
                          "\"/g/\" does, so \"/g/x\" is sent as \"/hx\"");
    ck_assert_int_eq(warn("http://h/app", HTTP_LOC_PREFIX, "/", msg), PX_DONE);
    ck_assert_str_eq(msg, "\"proxy_pass\" URI part \"/app\" does not end with \"/\" but location "
                          "\"/\" does, so \"/x\" is sent as \"/appx\"");
}
END_TEST

START_TEST(test_no_slash_warning_when_consistent_or_not_applicable)
{
    char msg[512];
    ck_assert_int_eq(warn("http://h/wordpress/", HTTP_LOC_PREFIX, "/blog/", msg), PX_OK);
    ck_assert_int_eq(warn("http://h/wordpress", HTTP_LOC_PREFIX, "/blog", msg), PX_OK);
    ck_assert_int_eq(warn("http://h/", HTTP_LOC_PREFIX, "/api/", msg), PX_OK);
    ck_assert_int_eq(warn("http://h", HTTP_LOC_PREFIX, "/blog", msg), PX_OK);
    ck_assert_int_eq(warn("http://h/f/", HTTP_LOC_EXACT, "/e", msg), PX_OK);
    ck_assert_int_eq(warn("http://$h/f/", HTTP_LOC_PREFIX, "/e", msg), PX_OK);
    ck_assert_int_eq(warn("http://h/x/?a=1", HTTP_LOC_PREFIX, "/pa", msg), PX_OK);
    ck_assert_int_eq(warn("http://h/x/", HTTP_LOC_REGEX, "^/x", msg), PX_OK);
    ck_assert_str_eq(msg, "");
}
END_TEST

/* ---- (3) the URI sent upstream ---- */

enum { CHANGED = 1, HERE = 2, QUOTED = 4, INTERNAL = 8, EVALUATED = 16 };

typedef struct {
    const char *what;
    const char *location;
    const char *target; /* proxy_pass, or its value after evaluation when EVALUATED */
    const char *request_uri;
    const char *uri; /* $uri as nginx had it: decoded, normalised, or rewritten */
    const char *args;
    unsigned flags;
    const char *sent;
} uri_case_t;

/* B is 127.0.0.1:8000 here; the nginx replay substitutes its backend. */
static const uri_case_t uri_cases[] = {
    {"prefix replaced", "/a/", "http://B/x/", "/a/my-post", "/a/my-post", "", 0, "/x/my-post"},
    {"location itself", "/a/", "http://B/x/", "/a/", "/a/", "", 0, "/x/"},
    {"args appended as sent", "/a/", "http://B/x/", "/a/x?y=1&z=%2F", "/a/x", "y=1&z=%2F", 0,
     "/x/x?y=1&z=%2F"},
    {"empty args add no '?'", "/a/", "http://B/x/", "/a/x?", "/a/x", "", 0, "/x/x"},
    {"args with '?' kept", "/a/", "http://B/x/", "/a/x?a?b", "/a/x", "a?b", 0, "/x/x?a?b"},
    {"no-slash location doubles slash", "/b", "http://B/x/", "/b/my-post", "/b/my-post", "", 0,
     "/x//my-post"},
    {"no-slash location, exact", "/b", "http://B/x/", "/b", "/b", "", 0, "/x/"},
    {"no-slash location, longer name", "/b", "http://B/x/", "/bb/q", "/bb/q", "", 0, "/x/b/q"},
    {"no-slash location, args", "/b", "http://B/x/", "/b?x", "/b", "x", 0, "/x/?x"},
    {"slash URI strips prefix", "/d/", "http://B/", "/d/users", "/d/users", "", 0, "/users"},
    {"exact location", "/e", "http://B/f", "/e", "/e", "", 0, "/f"},
    {"exact location with args", "/e", "http://B/f", "/e?x=1", "/e", "x=1", 0, "/f?x=1"},
    {"URI without slash glues", "/g/", "http://B/h", "/g/k", "/g/k", "", 0, "/hk"},
    {"prefix longer than URI part", "/emptyloc", "http://B/", "/emptylocation/x",
     "/emptylocation/x", "", 0, "/ation/x"},
    {"URI part with args", "/pa/", "http://B/x/?a=1", "/pa/k?z=1", "/pa/k", "z=1", 0,
     "/x/?a=1k?z=1"},
    {"URI part of args only", "/q/", "http://B?x=1", "/q/k?z=1", "/q/k", "z=1", 0, "?x=1k?z=1"},
    {"unix socket URI part", "/u/", "http://unix:/s:/z/", "/u/k?z", "/u/k", "z", 0, "/z/k?z"},
    {"no URI: raw, %2F kept", "/c/", "http://B", "/c/a%2Fb?q=%20", "/c/a/b", "q=%20", QUOTED,
     "/c/a%2Fb?q=%20"},
    {"no URI: raw, dots and slashes kept", "/c/", "http://B", "/c//x/../y", "/c/y", "", 0,
     "/c//x/../y"},
    {"no URI: raw '?' alone kept", "/c/", "http://B", "/c/x?", "/c/x", "", 0, "/c/x?"},
    {"no URI: raw quote kept", "/c/", "http://B", "/c/x\"?q=%20", "/c/x\"", "q=%20", 0,
     "/c/x\"?q=%20"},
    {"regex location: raw", "^/re/", "http://B", "/re/%41b?c", "/re/Ab", "c", QUOTED, "/re/%41b?c"},
    {"unix socket without URI: raw", "/un/", "http://unix:/s:", "/un/k%41?z", "/un/kA", "z", QUOTED,
     "/un/k%41?z"},
    {"named location after try_files: raw", "@n", "http://B", "/nm/x%41?a=b", "/nm/xA", "a=b",
     QUOTED | INTERNAL, "/nm/x%41?a=b"},
    {"rewrite break drops URI part", "/rw/", "http://B/x/", "/rw/p%20q?s=1", "/new/p q", "s=1",
     CHANGED | HERE | QUOTED | INTERNAL, "/new/p%20q?s=1"},
    {"rewrite break, same URI, URI part dropped", "/rwb/", "http://B/x/", "/rwb/y", "/rwb/y", "",
     CHANGED | HERE | INTERNAL, "/rwb/y"},
    {"rewrite break without URI: escaped", "/rwn/", "http://B", "/rwn/p%20q?s=1", "/new/p q", "s=1",
     CHANGED | HERE | QUOTED | INTERNAL, "/new/p%20q?s=1"},
    {"rewrite break decodes %2F", "/rwn/", "http://B", "/rwn/a%2Fb", "/new/a/b", "",
     CHANGED | HERE | QUOTED | INTERNAL, "/new/a/b"},
    {"rewrite break with new args", "/rwa/", "http://B", "/rwa/k?old=1", "/new", "z=1&old=1",
     CHANGED | HERE | INTERNAL, "/new?z=1&old=1"},
    {"rewrite break escapes quote", "/rwc/", "http://B", "/rwc/a\"b?x=%41", "/rwc/a\"b", "x=%41",
     CHANGED | HERE | INTERNAL, "/rwc/a%22b?x=%41"},
    {"rewrite break dropping args", "/rwq/", "http://B", "/rwq/k?x=1", "/rwq/k", "",
     CHANGED | HERE | INTERNAL, "/rwq/k"},
    {"rewrite last into no-URI location", "/c/", "http://B", "/rwl/x%41?a=b", "/c/xA", "a=b",
     CHANGED | QUOTED | INTERNAL, "/c/xA?a=b"},
    {"error_page URI is escaped again", "/c/", "http://B", "/er/x?orig=1", "/c/fallback%20x", "k=v",
     CHANGED | INTERNAL, "/c/fallback%2520x?k=v"},
    {"error_page into URI-part location", "/a/", "http://B/x/", "/er/z", "/a/fall\"b%41", "k=v",
     CHANGED | INTERNAL, "/x/fall%22b%2541?k=v"},
    {"variables: URI part replaces all", "/var/", "http://127.0.0.1:8000/v/", "/var/k?z=1",
     "/var/k", "z=1", EVALUATED, "/v/"},
    {"variables: '/' URI", "/varslash/", "http://127.0.0.1:8000/", "/varslash/k?z=1", "/varslash/k",
     "z=1", EVALUATED, "/"},
    {"variables: args-only URI gets '/'", "/varq/", "http://127.0.0.1:8000?x=1", "/varq/k?z=1",
     "/varq/k", "z=1", EVALUATED, "/?x=1"},
    {"variables: no URI is raw", "/varnouri/", "http://127.0.0.1:8000", "/varnouri/k%2F?z=1",
     "/varnouri/k/", "z=1", EVALUATED | QUOTED, "/varnouri/k%2F?z=1"},
    {"variables: URI not escaped", "/rux/", "http://127.0.0.1:8000/p/rux/ ", "/rux/%20?", "/rux/ ",
     "", EVALUATED | QUOTED, "/p/rux/ "},
    {"variables: $request_uri as URI", "/ru/", "http://127.0.0.1:8000/ru/x%41?a=b", "/ru/x%41?a=b",
     "/ru/xA", "a=b", EVALUATED | QUOTED, "/ru/x%41?a=b"},
    {"quoted: decoded then escaped", "/a/", "http://B/x/", "/a/x\"%41?q=%20", "/a/x\"A", "q=%20",
     QUOTED, "/x/x%22A?q=%20"},
    {"not quoted: raw bytes pass", "/a/", "http://B/x/", "/a/x\"?q=%20", "/a/x\"", "q=%20", 0,
     "/x/x\"?q=%20"},
    {"not quoted: raw unicode passes", "/a/", "http://B/x/", "/a/caf\xc3\xa9", "/a/caf\xc3\xa9", "",
     0, "/x/caf\xc3\xa9"},
    {"quoted: unicode escaped", "/a/", "http://B/x/", "/a/caf\xc3\xa9%41",
     "/a/caf\xc3\xa9"
     "A",
     "", QUOTED, "/x/caf%C3%A9A"},
    {"not quoted: specials pass", "/a/", "http://B/x/", "/a/{}|\\^`", "/a/{}|\\^`", "", 0,
     "/x/{}|\\^`"},
    {"quoted: %2F merged", "/a/", "http://B/x/", "/a/%2F-", "/a/-", "", QUOTED, "/x/-"},
    {"quoted: %3F escaped", "/a/", "http://B/x/", "/a/x%3Fy", "/a/x?y", "", QUOTED, "/x/x%3Fy"},
    {"quoted: %23 escaped", "/a/", "http://B/x/", "/a/x%23y", "/a/x#y", "", QUOTED, "/x/x%23y"},
    {"quoted: %25 escaped", "/a/", "http://B/x/", "/a/%25-", "/a/%-", "", QUOTED, "/x/%25-"},
    {"quoted: %20 escaped", "/a/", "http://B/x/", "/a/%20-", "/a/ -", "", QUOTED, "/x/%20-"},
    {"quoted: %2B decoded", "/a/", "http://B/x/", "/a/x%2By", "/a/x+y", "", QUOTED, "/x/x+y"},
    {"quoted: %7E decoded", "/a/", "http://B/x/", "/a/%7E-", "/a/~-", "", QUOTED, "/x/~-"},
    {"quoted: dots resolved", "/a/", "http://B/x/", "/a/x%2F..%2Fy", "/a/y", "", QUOTED, "/x/y"},
    {"dot segments resolved", "/a/", "http://B/x/", "/a/../a/k", "/a/k", "", 0, "/x/k"},
    {"double slash merged", "/a/", "http://B/x/", "/a//x", "/a/x", "", 0, "/x/x"},
    {"fragment dropped", "/a/", "http://B/x/", "/a/x#frag", "/a/x", "", 0, "/x/x"},
    {"nested location's own name", "/nest/in/", "http://B/x/", "/nest/in/k", "/nest/in/k", "", 0,
     "/x/k"},
};

static void build_case(const uri_case_t *c)
{
    char text[256], err[256] = "";
    if (strncmp(c->target, "http://B", 8) == 0)
        snprintf(text, sizeof(text), "http://127.0.0.1:8000%s", c->target + 8);
    else
        snprintf(text, sizeof(text), "%s", c->target);

    proxy_pass_t p;
    int rc = (c->flags & EVALUATED) ? proxy_pass_parse_evaluated(&p, str(text), err, sizeof(err))
                                    : proxy_pass_parse(&p, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_OK, "%s: %s", c->what, err);

    proxy_uri_request_t r = {
        .location = str(c->location),
        .uri = str(c->uri),
        .args = str(c->args),
        .request_uri = str(c->request_uri),
        .uri_changed = (c->flags & CHANGED) != 0,
        .rewritten_here = (c->flags & HERE) != 0,
        .quoted = (c->flags & QUOTED) != 0,
        .internal = (c->flags & INTERNAL) != 0,
    };
    size_t n = proxy_uri_build(&p, &r, NULL, 0);
    char *out = malloc(n + 1);
    ck_assert_uint_eq(proxy_uri_build(&p, &r, out, n), n);
    out[n] = '\0';
    ck_assert_msg(strcmp(out, c->sent) == 0, "%s: sent \"%s\", nginx sends \"%s\"", c->what, out,
                  c->sent);

    /* Every short buffer gets a prefix of the same bytes and nothing past its end. */
    for (size_t size = 0; size < n; size++) {
        char *small = malloc(size + 1);
        ck_assert_uint_eq(proxy_uri_build(&p, &r, small, size), n);
        ck_assert_msg(size == 0 || memcmp(small, c->sent, size) == 0, "%s at %zu", c->what, size);
        free(small);
    }
    free(out);
    proxy_pass_free(&p);
}

START_TEST(test_uri_sent_upstream_matches_nginx)
{
    build_case(&uri_cases[_i]);
}
END_TEST

START_TEST(test_escape_matches_nginx_for_every_byte)
{
    /* Bytes 0x01-0xff that nginx sent unescaped after decoding %XX in a quoted URI. */
    static const char kept[] = "!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_"
                               "abcdefghijklmnopqrstuvwxyz~";
    for (int c = 0; c < 256; c++) {
        char in = (char)c, out[4] = "", want[4];
        size_t n = proxy_uri_escape(&in, 1, out);
        ck_assert_uint_eq(proxy_uri_escape(&in, 1, NULL), n);
        if (c != 0 && strchr(kept, c))
            snprintf(want, sizeof(want), "%c", c);
        else
            snprintf(want, sizeof(want), "%%%02X", c);
        ck_assert_uint_eq(n, strlen(want));
        ck_assert_msg(memcmp(out, want, n) == 0, "byte 0x%02x", c);
    }
}
END_TEST

START_TEST(test_build_with_empty_uri_and_null_buffer)
{
    proxy_pass_t p;
    parse_ok(&p, "http://h");
    proxy_uri_request_t r = {0};
    ck_assert_uint_eq(proxy_uri_build(&p, &r, NULL, 0), 0);
    r.uri_changed = 1;
    r.internal = 1;
    ck_assert_uint_eq(proxy_uri_build(&p, &r, NULL, 0), 0);
    proxy_pass_free(&p);
}
END_TEST

static Suite *proxy_uri_suite(void)
{
    Suite *s = suite_create("proxy_uri");
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, test_proxy_pass_host_port_uri);
    tcase_add_test(parse, test_proxy_pass_without_uri_differs_from_slash);
    tcase_add_test(parse, test_proxy_pass_scheme_is_caseless_and_https_defaults_to_443);
    tcase_add_test(parse, test_proxy_pass_uri_part_may_start_with_args);
    tcase_add_test(parse, test_proxy_pass_unix_socket_forms);
    tcase_add_test(parse, test_proxy_pass_ipv6_and_odd_hosts_nginx_accepts);
    tcase_add_test(parse, test_proxy_pass_with_variables_is_only_marked);
    tcase_add_test(parse, test_proxy_pass_errors_in_nginx_words);
    tcase_add_test(parse, test_evaluated_target_errors_in_nginx_words);
    tcase_add_test(parse, test_evaluated_target_is_parsed_like_a_literal_one);
    tcase_add_test(parse, test_proxy_host_and_port_variables);
    suite_add_tcase(s, parse);

    TCase *checks = tcase_create("location_checks");
    tcase_add_test(checks, test_uri_part_refused_where_nothing_is_replaced);
    tcase_add_test(checks, test_no_uri_or_variables_pass_everywhere);
    tcase_add_test(checks, test_slash_mismatch_warns_with_the_doubled_slash);
    tcase_add_test(checks, test_slash_mismatch_warns_with_the_missing_slash);
    tcase_add_test(checks, test_no_slash_warning_when_consistent_or_not_applicable);
    suite_add_tcase(s, checks);

    TCase *build = tcase_create("uri_sent");
    tcase_add_loop_test(build, test_uri_sent_upstream_matches_nginx, 0,
                        (int)(sizeof(uri_cases) / sizeof(uri_cases[0])));
    tcase_add_test(build, test_escape_matches_nginx_for_every_byte);
    tcase_add_test(build, test_build_with_empty_uri_and_null_buffer);
    suite_add_tcase(s, build);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proxy_uri_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
