/* Address parsing, text and CIDR matching. Every accepted form and every error text below was
 * checked against nginx 1.22 (`listen`, upstream `server`, `proxy_pass`, `allow`). */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>

#include "core/px_addr.h"

static px_str_t str(const char *s)
{
    return px_str_make(s, strlen(s));
}

static int slice_is(px_str_t s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.data, want, s.len) == 0);
}

/* Parses a listen address that must succeed; returns the first address's text. */
static const char *listen_ok(px_url_t *u, const char *text)
{
    char err[512] = "";
    int rc = px_addr_parse_listen(u, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_OK, "listen \"%s\" failed: %s", text, err);
    ck_assert_uint_ge(u->naddrs, 1);
    return u->addrs[0].text;
}

static void listen_fails(const char *text, const char *want)
{
    char err[512] = "";
    px_url_t u;
    int rc = px_addr_parse_listen(&u, str(text), err, sizeof(err));
    ck_assert_msg(rc == PX_ERROR, "listen \"%s\" was accepted", text);
    ck_assert_str_eq(err, want);
    px_url_free(&u);
}

static void upstream_fails(const char *text, unsigned flags, const char *want)
{
    char err[512] = "";
    px_url_t u;
    int rc = px_addr_parse_upstream(&u, str(text), 80, flags, err, sizeof(err));
    ck_assert_msg(rc == PX_ERROR, "upstream \"%s\" was accepted", text);
    ck_assert_str_eq(err, want);
    px_url_free(&u);
}

START_TEST(test_listen_port_alone_means_every_ipv4_address)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "8080"), "0.0.0.0:8080");
    ck_assert_int_eq(u.family, AF_INET);
    ck_assert_uint_eq(u.port, 8080);
    ck_assert(u.wildcard);
    ck_assert(slice_is(u.port_text, "8080"));
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "080"), "0.0.0.0:80");
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_ipv4_with_and_without_port)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "127.0.0.1:8080"), "127.0.0.1:8080");
    ck_assert(slice_is(u.host, "127.0.0.1"));
    ck_assert(!u.no_port && !u.wildcard);
    ck_assert_uint_eq(u.naddrs, 1);
    ck_assert_uint_eq(u.addrs[0].len, sizeof(struct sockaddr_in));
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "127.0.0.1"), "127.0.0.1:80");
    ck_assert(u.no_port);
    ck_assert_uint_eq(u.port, 80);
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "0.0.0.0:81"), "0.0.0.0:81");
    ck_assert(u.wildcard);
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_star_is_the_ipv4_wildcard)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "*:8080"), "0.0.0.0:8080");
    ck_assert(u.wildcard);
    px_url_free(&u);
    ck_assert_str_eq(listen_ok(&u, "*"), "0.0.0.0:80");
    ck_assert(u.wildcard);
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_ipv6_in_brackets)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "[::]:8080"), "[::]:8080");
    ck_assert(u.wildcard);
    ck_assert_int_eq(u.family, AF_INET6);
    ck_assert(slice_is(u.host, "[::]"));
    ck_assert_uint_eq(u.addrs[0].len, sizeof(struct sockaddr_in6));
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "[::1]"), "[::1]:80");
    ck_assert(!u.wildcard && u.no_port);
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "[2001:DB8::a]:443"), "[2001:db8::a]:443");
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_ipv6_accepts_nginx_quirks)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "[:1:2:3:4:5:6:7:8]:80"), "[1:2:3:4:5:6:7:8]:80");
    px_url_free(&u);
    ck_assert_str_eq(listen_ok(&u, "[1::2:]:80"), "[1::2:0]:80");
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_ipv4_fields_as_nginx_reads_them)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "1..2.3:80"), "1.0.2.3:80");
    px_url_free(&u);
    ck_assert_str_eq(listen_ok(&u, "010.1.1.1:80"), "10.1.1.1:80");
    px_url_free(&u);
    /* Not nginx's dotted form, so the resolver reads it, as inet_aton would. */
    ck_assert_str_eq(listen_ok(&u, "1.2.3:80"), "1.2.0.3:80");
    px_url_free(&u);
    ck_assert_str_eq(listen_ok(&u, "255.255.255.255:80"), "255.255.255.255:80");
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_hostname_resolves_to_all_its_addresses_ipv4_first)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "localhost:8080"), "127.0.0.1:8080");
    ck_assert(slice_is(u.host, "localhost"));
    for (size_t i = 0; i < u.naddrs; i++) {
        const struct sockaddr *sa = (const struct sockaddr *)&u.addrs[i].sa;
        uint16_t port = sa->sa_family == AF_INET ? ((const struct sockaddr_in *)sa)->sin_port
                                                 : ((const struct sockaddr_in6 *)sa)->sin6_port;
        ck_assert_uint_eq(ntohs(port), 8080);
        if (i > 0 && sa->sa_family == AF_INET)
            ck_assert_int_eq(u.addrs[i - 1].sa.ss_family, AF_INET);
    }
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "localhost"), "127.0.0.1:80");
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_unix_socket)
{
    px_url_t u;
    ck_assert_str_eq(listen_ok(&u, "unix:/path/to.sock"), "unix:/path/to.sock");
    ck_assert_int_eq(u.family, AF_UNIX);
    ck_assert(slice_is(u.host, "/path/to.sock"));
    ck_assert_uint_eq(u.addrs[0].len, sizeof(struct sockaddr_un));
    px_url_free(&u);

    ck_assert_str_eq(listen_ok(&u, "UNIX:/x.sock"), "unix:/x.sock");
    px_url_free(&u);

    /* The listen form has no URI, so a colon belongs to the path. */
    ck_assert_str_eq(listen_ok(&u, "unix:/tmp/x:80"), "unix:/tmp/x:80");
    px_url_free(&u);

    char path[200] = "unix:/";
    memset(path + 6, 'a', 106);
    path[112] = '\0';
    ck_assert_uint_eq(strlen(listen_ok(&u, path)), 112);
    px_url_free(&u);
}
END_TEST

START_TEST(test_listen_rejects_bad_ports)
{
    listen_fails("127.0.0.1:99999",
                 "invalid port in \"127.0.0.1:99999\" of the \"listen\" directive");
    listen_fails("127.0.0.1:0", "invalid port in \"127.0.0.1:0\" of the \"listen\" directive");
    listen_fails("0", "invalid port in \"0\" of the \"listen\" directive");
    listen_fails("65536", "invalid port in \"65536\" of the \"listen\" directive");
    listen_fails("127.0.0.1:", "invalid port in \"127.0.0.1:\" of the \"listen\" directive");
    listen_fails("127.0.0.1:+80", "invalid port in \"127.0.0.1:+80\" of the \"listen\" directive");
    listen_fails("127.0.0.1:80:80",
                 "invalid port in \"127.0.0.1:80:80\" of the \"listen\" directive");
    listen_fails("*:0", "invalid port in \"*:0\" of the \"listen\" directive");
    listen_fails("::1", "invalid port in \"::1\" of the \"listen\" directive");
    listen_fails(":::80", "invalid port in \":::80\" of the \"listen\" directive");
    listen_fails("[::1]:", "invalid port in \"[::1]:\" of the \"listen\" directive");
    listen_fails("[::1]:0", "invalid port in \"[::1]:0\" of the \"listen\" directive");
    listen_fails("[::1]:99999", "invalid port in \"[::1]:99999\" of the \"listen\" directive");
    listen_fails("[::1]:80x", "invalid port in \"[::1]:80x\" of the \"listen\" directive");
    listen_fails("[::1]:80?x", "invalid port in \"[::1]:80?x\" of the \"listen\" directive");
}
END_TEST

START_TEST(test_listen_rejects_missing_or_malformed_hosts)
{
    listen_fails(":80", "no host in \":80\" of the \"listen\" directive");
    listen_fails("", "no host in \"\" of the \"listen\" directive");

    px_url_t u;
    char err[128];
    ck_assert_int_eq(px_addr_parse_listen(&u, PX_NULL_STR, err, sizeof(err)), PX_ERROR);
    ck_assert_str_eq(err, "no host in \"\" of the \"listen\" directive");
    px_url_free(&u);
    listen_fails("[]:80", "no host in \"[]:80\" of the \"listen\" directive");
    listen_fails("127.0.0.1/x", "invalid host in \"127.0.0.1/x\" of the \"listen\" directive");
    listen_fails("127.0.0.1:80/x",
                 "invalid host in \"127.0.0.1:80/x\" of the \"listen\" directive");
    listen_fails("127.0.0.1?x", "invalid host in \"127.0.0.1?x\" of the \"listen\" directive");
    listen_fails("loc/alhost:80", "invalid host in \"loc/alhost:80\" of the \"listen\" directive");
    listen_fails("[::1", "invalid host in \"[::1\" of the \"listen\" directive");
    listen_fails("[::1]x", "invalid host in \"[::1]x\" of the \"listen\" directive");
    listen_fails("[::1]?x", "invalid host in \"[::1]?x\" of the \"listen\" directive");
    listen_fails("[::1]/x", "invalid host in \"[::1]/x\" of the \"listen\" directive");
    listen_fails("[::1]]:80", "invalid host in \"[::1]]:80\" of the \"listen\" directive");
    listen_fails("[fe80::1%lo]:80",
                 "invalid IPv6 address in \"[fe80::1%lo]:80\" of the \"listen\" directive");
    listen_fails("[1.2.3.4]:80",
                 "invalid IPv6 address in \"[1.2.3.4]:80\" of the \"listen\" directive");
    listen_fails("[1:2:3:4:5:6:7::]:80",
                 "invalid IPv6 address in \"[1:2:3:4:5:6:7::]:80\" of the \"listen\" directive");
}
END_TEST

START_TEST(test_listen_rejects_names_that_do_not_resolve)
{
    listen_fails("nosuch.invalid:80",
                 "host not found in \"nosuch.invalid:80\" of the \"listen\" directive");
    listen_fails("nosuch.invalid",
                 "host not found in \"nosuch.invalid\" of the \"listen\" directive");
    listen_fails("65535x", "host not found in \"65535x\" of the \"listen\" directive");
    listen_fails("256.1.1.1:80", "host not found in \"256.1.1.1:80\" of the \"listen\" directive");
    listen_fails("-1", "host not found in \"-1\" of the \"listen\" directive");
    listen_fails("+80", "host not found in \"+80\" of the \"listen\" directive");
    listen_fails("**:80", "host not found in \"**:80\" of the \"listen\" directive");
}
END_TEST

START_TEST(test_listen_rejects_bad_unix_paths)
{
    listen_fails("unix:",
                 "no path in the unix domain socket in \"unix:\" of the \"listen\" directive");

    char path[200] = "unix:/";
    char want[400];
    memset(path + 6, 'a', 107);
    path[113] = '\0';
    snprintf(want, sizeof(want),
             "too long path in the unix domain socket in \"%s\" of the \"listen\" directive", path);
    listen_fails(path, want);
}
END_TEST

START_TEST(test_upstream_uses_the_default_port)
{
    px_url_t u;
    char err[256];
    ck_assert_int_eq(px_addr_parse_upstream(&u, str("127.0.0.1"), 443, 0, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:443");
    ck_assert(u.no_port);
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("[::1]:81"), 80, 0, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "[::1]:81");
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("localhost"), 80, 0, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:80");
    px_url_free(&u);
}
END_TEST

START_TEST(test_upstream_digits_alone_are_a_host_not_a_port)
{
    px_url_t u;
    char err[256];
    /* Only listen treats "8080" as a port; elsewhere the resolver reads it as 0.0.31.144. */
    ck_assert_int_eq(px_addr_parse_upstream(&u, str("8080"), 80, 0, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "0.0.31.144:80");
    px_url_free(&u);

    upstream_fails("*", 0, "host not found in upstream \"*\"");
}
END_TEST

START_TEST(test_upstream_unix_path_keeps_colons_without_uri_part)
{
    px_url_t u;
    char err[256];
    ck_assert_int_eq(
        px_addr_parse_upstream(&u, str("unix:/tmp/x.sock:/foo"), 80, 0, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "unix:/tmp/x.sock:/foo");
    ck_assert_uint_eq(u.uri.len, 0);
    px_url_free(&u);
}
END_TEST

START_TEST(test_upstream_uri_part_splits_the_uri_off)
{
    px_url_t u;
    char err[256];
    unsigned f = PX_URL_URI_PART;

    ck_assert_int_eq(
        px_addr_parse_upstream(&u, str("unix:/tmp/x.sock:/uri"), 80, f, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "unix:/tmp/x.sock");
    ck_assert(slice_is(u.uri, "/uri"));
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("127.0.0.1:8080/x?y"), 80, f, err, sizeof(err)),
                     PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:8080");
    ck_assert(slice_is(u.uri, "/x?y"));
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("127.0.0.1?x:81"), 80, f, err, sizeof(err)),
                     PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:80");
    ck_assert(slice_is(u.uri, "?x:81"));
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("127.0.0.1/x:81"), 80, f, err, sizeof(err)),
                     PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:80");
    ck_assert(slice_is(u.uri, "/x:81"));
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("[::1]:81/x"), 80, f, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "[::1]:81");
    ck_assert(slice_is(u.uri, "/x"));
    px_url_free(&u);
}
END_TEST

START_TEST(test_upstream_no_resolve_leaves_the_name_for_later)
{
    px_url_t u;
    char err[256];
    unsigned f = PX_URL_URI_PART | PX_URL_NO_RESOLVE;

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("backend/x"), 80, f, err, sizeof(err)), PX_OK);
    ck_assert_uint_eq(u.naddrs, 0);
    ck_assert_int_eq(u.family, AF_UNSPEC);
    ck_assert(slice_is(u.host, "backend"));
    ck_assert(slice_is(u.uri, "/x"));
    px_url_free(&u);

    ck_assert_int_eq(
        px_addr_parse_upstream(&u, str("nosuch.invalid:81/x"), 80, f, err, sizeof(err)), PX_OK);
    ck_assert_int_eq(px_addr_resolve_upstream(&u, err, sizeof(err)), PX_ERROR);
    ck_assert_str_eq(err, "host not found in upstream \"nosuch.invalid\"");
    px_url_free(&u);

    ck_assert_int_eq(px_addr_parse_upstream(&u, str("localhost:81"), 80, f, err, sizeof(err)),
                     PX_OK);
    ck_assert_uint_eq(u.naddrs, 0);
    ck_assert_int_eq(px_addr_resolve_upstream(&u, err, sizeof(err)), PX_OK);
    ck_assert_str_eq(u.addrs[0].text, "127.0.0.1:81");
    ck_assert_int_eq(u.family, AF_INET);
    px_url_free(&u);

    /* Numeric addresses need no resolver and are converted at once. */
    ck_assert_int_eq(px_addr_parse_upstream(&u, str("10.0.0.1"), 80, f, err, sizeof(err)), PX_OK);
    ck_assert_uint_eq(u.naddrs, 1);
    px_url_free(&u);
}
END_TEST

START_TEST(test_upstream_errors_quote_the_whole_address)
{
    upstream_fails("unix:", 0, "no path in the unix domain socket in upstream \"unix:\"");
    upstream_fails("127.0.0.1:0", 0, "invalid port in upstream \"127.0.0.1:0\"");
    upstream_fails("127.0.0.1:99999", 0, "invalid port in upstream \"127.0.0.1:99999\"");
    upstream_fails("nosuch.invalid", 0, "host not found in upstream \"nosuch.invalid\"");
    upstream_fails("nosuch.invalid:80", 0, "host not found in upstream \"nosuch.invalid:80\"");
    upstream_fails(":80", 0, "no host in upstream \":80\"");
    upstream_fails("", 0, "no host in upstream \"\"");
    upstream_fails("127.0.0.1/x", 0, "invalid host in upstream \"127.0.0.1/x\"");
    upstream_fails("127.0.0.1:80/x", 0, "invalid host in upstream \"127.0.0.1:80/x\"");
    upstream_fails("127.0.0.1?x", 0, "invalid host in upstream \"127.0.0.1?x\"");
    upstream_fails("[::1]/x", 0, "invalid host in upstream \"[::1]/x\"");
    upstream_fails("[::1]x", 0, "invalid host in upstream \"[::1]x\"");
    upstream_fails("[zz]", 0, "invalid IPv6 address in upstream \"[zz]\"");
    upstream_fails("http://127.0.0.1", 0, "invalid host in upstream \"http://127.0.0.1\"");
}
END_TEST

START_TEST(test_upstream_uri_part_errors_as_proxy_pass_reports_them)
{
    unsigned f = PX_URL_URI_PART;
    upstream_fails("127.0.0.1:99999/foo", f, "invalid port in upstream \"127.0.0.1:99999/foo\"");
    upstream_fails("127.0.0.1:/x", f, "invalid port in upstream \"127.0.0.1:/x\"");
    upstream_fails("", f, "no host in upstream \"\"");
    upstream_fails("/x", f, "no host in upstream \"/x\"");
    upstream_fails("[::1", f, "invalid host in upstream \"[::1\"");
    upstream_fails("unix:", f, "no path in the unix domain socket in upstream \"unix:\"");
    upstream_fails("unix::/x", f, "no path in the unix domain socket in upstream \"unix::/x\"");
}
END_TEST

START_TEST(test_text_of_each_family_with_and_without_port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    char buf[PX_ADDR_TEXT_SIZE];

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
    strcpy(un.sun_path, "/x");

    ck_assert_uint_eq(px_addr_to_text((struct sockaddr *)&sin, sizeof(sin), 1, buf, sizeof(buf)),
                      14);
    ck_assert_str_eq(buf, "127.0.0.1:8080");
    px_addr_to_text((struct sockaddr *)&sin, sizeof(sin), 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "127.0.0.1");
    px_addr_to_text((struct sockaddr *)&sin6, sizeof(sin6), 1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[::1]:80");
    px_addr_to_text((struct sockaddr *)&sin6, sizeof(sin6), 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "::1");
    px_addr_to_text((struct sockaddr *)&un, sizeof(un), 1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "unix:/x");
    px_addr_to_text((struct sockaddr *)&un, sizeof(un), 0, buf, sizeof(buf));
    ck_assert_str_eq(buf, "unix:/x");

    inet_pton(AF_INET6, "::ffff:1.2.3.4", &sin6.sin6_addr);
    px_addr_to_text((struct sockaddr *)&sin6, sizeof(sin6), 1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "[::ffff:1.2.3.4]:80");
}
END_TEST

START_TEST(test_text_of_unnamed_unix_socket_and_unknown_family)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr other = {.sa_family = AF_UNSPEC};
    char buf[PX_ADDR_TEXT_SIZE] = "junk";

    /* A client of a unix listener has an address without a path. */
    px_addr_to_text((struct sockaddr *)&un, sizeof(sa_family_t), 1, buf, sizeof(buf));
    ck_assert_str_eq(buf, "unix:");
    ck_assert_uint_eq(px_addr_to_text(&other, sizeof(other), 1, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_text_is_truncated_to_the_buffer)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(8080)};
    char buf[6];
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    ck_assert_uint_eq(px_addr_to_text((struct sockaddr *)&sin, sizeof(sin), 1, buf, sizeof(buf)),
                      5);
    ck_assert_str_eq(buf, "127.0");
    ck_assert_uint_eq(px_addr_to_text((struct sockaddr *)&sin, sizeof(sin), 1, buf, 0), 0);
}
END_TEST

START_TEST(test_equal_compares_family_address_and_port)
{
    px_url_t a, b, c, d;
    char err[256];
    px_addr_parse_listen(&a, str("127.0.0.1:80"), err, sizeof(err));
    px_addr_parse_listen(&b, str("127.0.0.1"), err, sizeof(err));
    px_addr_parse_listen(&c, str("127.0.0.1:81"), err, sizeof(err));
    px_addr_parse_listen(&d, str("[::ffff:127.0.0.1]:80"), err, sizeof(err));
#define SA(u) (const struct sockaddr *)&(u).addrs[0].sa, (u).addrs[0].len
    ck_assert(px_addr_equal(SA(a), SA(b)));
    ck_assert(!px_addr_equal(SA(a), SA(c)));
    ck_assert(!px_addr_equal(SA(a), SA(d)));
    px_url_free(&a);
    px_url_free(&b);
    px_url_free(&c);
    px_url_free(&d);

    px_addr_parse_listen(&a, str("unix:/a"), err, sizeof(err));
    px_addr_parse_listen(&b, str("UNIX:/a"), err, sizeof(err));
    px_addr_parse_listen(&c, str("unix:/b"), err, sizeof(err));
    ck_assert(px_addr_equal(SA(a), SA(b)));
    ck_assert(!px_addr_equal(SA(a), SA(c)));
#undef SA
    px_url_free(&a);
    px_url_free(&b);
    px_url_free(&c);
}
END_TEST

START_TEST(test_inet4_parse_is_as_lenient_as_nginx)
{
    struct in_addr in;
    const char *good[][2] = {{"1.2.3.4", "1.2.3.4"},
                             {"1..2.3", "1.0.2.3"},
                             {".1.2.3", "0.1.2.3"},
                             {"1.2.3.", "1.2.3.0"},
                             {"010.1.1.1", "10.1.1.1"},
                             {"...", "0.0.0.0"},
                             {"0000000255.0.0.1", "255.0.0.1"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char buf[INET_ADDRSTRLEN];
        ck_assert_msg(px_inet4_parse(good[i][0], strlen(good[i][0]), &in) == PX_OK, "%s",
                      good[i][0]);
        ck_assert_str_eq(inet_ntop(AF_INET, &in, buf, sizeof(buf)), good[i][1]);
    }
    const char *bad[] = {"",         "1.2.3",    "1.2.3.4.5", "256.1.1.1", "255.255.255.255",
                         "1.2.3.4 ", "-1.2.3.4", "0x1.2.3.4", "1.2.3.4/8", "a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(px_inet4_parse(bad[i], strlen(bad[i]), &in) == PX_ERROR, "%s", bad[i]);
}
END_TEST

START_TEST(test_inet6_parse_accepts_standard_forms_and_nginx_quirks)
{
    const char *good[][2] = {{"::", "::"},
                             {"::1", "::1"},
                             {"1::", "1::"},
                             {"abcd::EF", "abcd::ef"},
                             {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
                             {":1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
                             {"::1:", "::1:0"},
                             {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
                             {"::ffff:1..2.3", "::ffff:1.0.2.3"},
                             {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
                             {"::1.2.3.4", "::1.2.3.4"},
                             {"0001:0db8:0000:0000:0000:0000:0000:0001", "1:db8::1"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct in6_addr a, want;
        ck_assert_msg(px_inet6_parse(good[i][0], strlen(good[i][0]), &a) == PX_OK, "%s",
                      good[i][0]);
        ck_assert_int_eq(inet_pton(AF_INET6, good[i][1], &want), 1);
        ck_assert_msg(memcmp(&a, &want, sizeof(a)) == 0, "%s", good[i][0]);
    }
}
END_TEST

START_TEST(test_inet6_parse_rejects_what_nginx_rejects)
{
    const char *bad[] = {"",
                         ":",
                         ":::",
                         "1:",
                         "1::2::3",
                         "12345::",
                         "fe80::1%lo",
                         "1:2:3:4:5:6:7:8:9",
                         "1:2:3:4:5:6:7::",
                         "1:2:3:4:5:6:7:1.2.3.4",
                         "1.2.3.4",
                         ":1.2.3.4",
                         "::ffff:255.255.255.255",
                         "::ab.1.2.3",
                         "::1.2.3.4x",
                         "::.1.2.3",
                         "1:2:3:4:5:6:7:8:",
                         "[::1]",
                         "::g"};
    struct in6_addr a;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(px_inet6_parse(bad[i], strlen(bad[i]), &a) == PX_ERROR, "%s", bad[i]);
}
END_TEST

START_TEST(test_inet6_parse_agrees_with_inet_pton_on_formatted_addresses)
{
    unsigned seed = 12345;
    for (int n = 0; n < 2000; n++) {
        struct in6_addr a, got;
        char text[INET6_ADDRSTRLEN];
        for (int i = 0; i < 16; i += 2) {
            seed = seed * 1103515245u + 12345u;
            unsigned pick = (seed >> 16) % 4;
            unsigned v = pick == 0 ? 0 : pick == 1 ? 0xffff : (seed >> 8) & 0xffff;
            a.s6_addr[i] = (uint8_t)(v >> 8);
            a.s6_addr[i + 1] = (uint8_t)v;
        }
        inet_ntop(AF_INET6, &a, text, sizeof(text));
        if (strchr(text, '.') && strstr(text, "255.255.255.255"))
            continue; /* nginx's own quirk, tested above */
        ck_assert_msg(px_inet6_parse(text, strlen(text), &got) == PX_OK, "%s", text);
        ck_assert_msg(memcmp(&a, &got, sizeof(a)) == 0, "%s", text);
    }
}
END_TEST

static int cidr_rc(const char *text, px_cidr_t *c, char *msg, size_t size)
{
    return px_cidr_parse(c, str(text), msg, size);
}

START_TEST(test_cidr_parses_ipv4_ranges_and_single_addresses)
{
    px_cidr_t c;
    char msg[128];
    ck_assert_int_eq(cidr_rc("10.0.0.0/8", &c, msg, sizeof(msg)), PX_OK);
    ck_assert_str_eq(msg, "");
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_uint_eq(ntohl(c.u.v4.addr.s_addr), 0x0a000000u);
    ck_assert_uint_eq(ntohl(c.u.v4.mask.s_addr), 0xff000000u);

    ck_assert_int_eq(cidr_rc("192.168.1.1", &c, msg, sizeof(msg)), PX_OK);
    ck_assert_uint_eq(c.u.v4.mask.s_addr, 0xffffffffu);

    ck_assert_int_eq(cidr_rc("0.0.0.0/0", &c, msg, sizeof(msg)), PX_OK);
    ck_assert_uint_eq(c.u.v4.mask.s_addr, 0);
    ck_assert_int_eq(cidr_rc("1..2.3", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(cidr_rc("1.2.3.4/08", &c, NULL, 0), PX_DONE);
}
END_TEST

START_TEST(test_cidr_parses_ipv6_all_and_unix)
{
    px_cidr_t c;
    ck_assert_int_eq(cidr_rc("::1/128", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(c.family, AF_INET6);
    ck_assert_int_eq(cidr_rc("::1", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(cidr_rc("::/0", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(cidr_rc("2001:db8::/32", &c, NULL, 0), PX_OK);
    ck_assert_uint_eq(c.u.v6.mask.s6_addr[3], 0xff);
    ck_assert_uint_eq(c.u.v6.mask.s6_addr[4], 0);
    ck_assert_int_eq(cidr_rc("2001:db8::/33", &c, NULL, 0), PX_OK);
    ck_assert_uint_eq(c.u.v6.mask.s6_addr[4], 0x80);
    ck_assert_int_eq(cidr_rc("::ffff:1.2.3.4", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(cidr_rc("all", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(c.family, AF_UNSPEC);
    ck_assert_int_eq(cidr_rc("unix:", &c, NULL, 0), PX_OK);
    ck_assert_int_eq(c.family, AF_UNIX);
}
END_TEST

START_TEST(test_cidr_warns_and_clears_low_address_bits)
{
    px_cidr_t c;
    char msg[128];
    ck_assert_int_eq(cidr_rc("10.1.2.3/8", &c, msg, sizeof(msg)), PX_DONE);
    ck_assert_str_eq(msg, "low address bits of 10.1.2.3/8 are meaningless");
    ck_assert_uint_eq(ntohl(c.u.v4.addr.s_addr), 0x0a000000u);

    ck_assert_int_eq(cidr_rc("1.2.3.4/0", &c, msg, sizeof(msg)), PX_DONE);
    ck_assert_str_eq(msg, "low address bits of 1.2.3.4/0 are meaningless");
    ck_assert_uint_eq(c.u.v4.addr.s_addr, 0);

    ck_assert_int_eq(cidr_rc("2001:db8::1/32", &c, msg, sizeof(msg)), PX_DONE);
    ck_assert_str_eq(msg, "low address bits of 2001:db8::1/32 are meaningless");
    ck_assert_uint_eq(c.u.v6.addr.s6_addr[15], 0);

    ck_assert_int_eq(cidr_rc("::ffff:1.2.3.4/120", &c, msg, sizeof(msg)), PX_DONE);
    ck_assert_str_eq(msg, "low address bits of ::ffff:1.2.3.4/120 are meaningless");
}
END_TEST

START_TEST(test_cidr_rejects_malformed_text)
{
    const char *bad[] = {"ALL",
                         "UNIX:",
                         "unix:/x",
                         "255.255.255.255",
                         "255.255.255.255/32",
                         "1.2.3",
                         "1.2.3.4.5",
                         "256.1.1.1",
                         "1.2.3.4/33",
                         "1.2.3.4/",
                         "1.2.3.4/-1",
                         "1.2.3.4/+8",
                         "",
                         "/8",
                         "::1/129",
                         "1:2:3:4:5:6:7:8:9",
                         "1::2::3",
                         "1:2:3:4:5:6:7:1.2.3.4",
                         "fe80::1%lo",
                         "12345::",
                         ":",
                         ":::",
                         "1:",
                         "1.2.3.4:80",
                         "localhost",
                         "[::1]",
                         "1.2.3.4/8/8",
                         "all/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        px_cidr_t c;
        char msg[128], want[128];
        snprintf(want, sizeof(want), "invalid parameter \"%s\"", bad[i]);
        ck_assert_msg(cidr_rc(bad[i], &c, msg, sizeof(msg)) == PX_ERROR, "%s", bad[i]);
        ck_assert_str_eq(msg, want);
    }
}
END_TEST

static struct sockaddr_storage sock(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strncmp(text, "unix:", 5) == 0) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, text + 5);
    } else if (strchr(text, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
    }
    return ss;
}

static int matches(const char *cidr_text, const char *addr_text)
{
    px_cidr_t c;
    struct sockaddr_storage ss = sock(addr_text);
    ck_assert_int_ne(px_cidr_parse(&c, str(cidr_text), NULL, 0), PX_ERROR);
    return px_cidr_match(&c, (struct sockaddr *)&ss);
}

START_TEST(test_cidr_match_ipv4)
{
    ck_assert(matches("10.0.0.0/8", "10.255.0.1"));
    ck_assert(!matches("10.0.0.0/8", "11.0.0.1"));
    ck_assert(matches("192.168.1.1", "192.168.1.1"));
    ck_assert(!matches("192.168.1.1", "192.168.1.2"));
    ck_assert(matches("0.0.0.0/0", "8.8.8.8"));
    ck_assert(matches("10.1.2.3/8", "10.9.9.9"));
    ck_assert(!matches("10.0.0.0/8", "::1"));
    ck_assert(!matches("10.0.0.0/8", "unix:/x"));
}
END_TEST

START_TEST(test_cidr_match_ipv6)
{
    ck_assert(matches("::1", "::1"));
    ck_assert(!matches("::1", "::2"));
    ck_assert(matches("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!matches("2001:db8::/33", "2001:db8:ffff::1"));
    ck_assert(matches("::/0", "fe80::1"));
    ck_assert(!matches("::/0", "1.2.3.4"));
}
END_TEST

START_TEST(test_cidr_match_treats_ipv4_mapped_ipv6_as_ipv4)
{
    ck_assert(matches("10.0.0.0/8", "::ffff:10.1.2.3"));
    ck_assert(!matches("10.0.0.0/8", "::ffff:11.1.2.3"));
    ck_assert(matches("0.0.0.0/0", "::ffff:11.1.2.3"));
    ck_assert(!matches("::ffff:0:0/96", "::ffff:10.1.2.3"));
    ck_assert(!matches("::/0", "::ffff:10.1.2.3"));
    /* Only ::ffff:a.b.c.d is mapped; the deprecated ::a.b.c.d form stays IPv6. */
    ck_assert(!matches("10.0.0.0/8", "::10.1.2.3"));
    ck_assert(matches("::/96", "::10.1.2.3"));
}
END_TEST

START_TEST(test_cidr_match_all_and_unix)
{
    ck_assert(matches("all", "1.2.3.4"));
    ck_assert(matches("all", "::1"));
    ck_assert(matches("all", "unix:/x"));
    ck_assert(matches("unix:", "unix:/x"));
    ck_assert(!matches("unix:", "1.2.3.4"));
    ck_assert(!matches("unix:", "::1"));

    px_cidr_t c;
    struct sockaddr other = {.sa_family = AF_UNSPEC};
    px_cidr_parse(&c, str("all"), NULL, 0);
    ck_assert(!px_cidr_match(&c, &other));
}
END_TEST

static Suite *px_addr_suite(void)
{
    Suite *s = suite_create("px_addr");
    TCase *tl = tcase_create("listen");
    tcase_add_test(tl, test_listen_port_alone_means_every_ipv4_address);
    tcase_add_test(tl, test_listen_ipv4_with_and_without_port);
    tcase_add_test(tl, test_listen_star_is_the_ipv4_wildcard);
    tcase_add_test(tl, test_listen_ipv6_in_brackets);
    tcase_add_test(tl, test_listen_ipv6_accepts_nginx_quirks);
    tcase_add_test(tl, test_listen_ipv4_fields_as_nginx_reads_them);
    tcase_add_test(tl, test_listen_hostname_resolves_to_all_its_addresses_ipv4_first);
    tcase_add_test(tl, test_listen_unix_socket);
    tcase_add_test(tl, test_listen_rejects_bad_ports);
    tcase_add_test(tl, test_listen_rejects_missing_or_malformed_hosts);
    tcase_add_test(tl, test_listen_rejects_names_that_do_not_resolve);
    tcase_add_test(tl, test_listen_rejects_bad_unix_paths);
    suite_add_tcase(s, tl);

    TCase *tu = tcase_create("upstream");
    tcase_add_test(tu, test_upstream_uses_the_default_port);
    tcase_add_test(tu, test_upstream_digits_alone_are_a_host_not_a_port);
    tcase_add_test(tu, test_upstream_unix_path_keeps_colons_without_uri_part);
    tcase_add_test(tu, test_upstream_uri_part_splits_the_uri_off);
    tcase_add_test(tu, test_upstream_no_resolve_leaves_the_name_for_later);
    tcase_add_test(tu, test_upstream_errors_quote_the_whole_address);
    tcase_add_test(tu, test_upstream_uri_part_errors_as_proxy_pass_reports_them);
    suite_add_tcase(s, tu);

    TCase *tt = tcase_create("text");
    tcase_add_test(tt, test_text_of_each_family_with_and_without_port);
    tcase_add_test(tt, test_text_of_unnamed_unix_socket_and_unknown_family);
    tcase_add_test(tt, test_text_is_truncated_to_the_buffer);
    tcase_add_test(tt, test_equal_compares_family_address_and_port);
    tcase_add_test(tt, test_inet4_parse_is_as_lenient_as_nginx);
    tcase_add_test(tt, test_inet6_parse_accepts_standard_forms_and_nginx_quirks);
    tcase_add_test(tt, test_inet6_parse_rejects_what_nginx_rejects);
    tcase_add_test(tt, test_inet6_parse_agrees_with_inet_pton_on_formatted_addresses);
    suite_add_tcase(s, tt);

    TCase *tc = tcase_create("cidr");
    tcase_add_test(tc, test_cidr_parses_ipv4_ranges_and_single_addresses);
    tcase_add_test(tc, test_cidr_parses_ipv6_all_and_unix);
    tcase_add_test(tc, test_cidr_warns_and_clears_low_address_bits);
    tcase_add_test(tc, test_cidr_rejects_malformed_text);
    tcase_add_test(tc, test_cidr_match_ipv4);
    tcase_add_test(tc, test_cidr_match_ipv6);
    tcase_add_test(tc, test_cidr_match_treats_ipv4_mapped_ipv6_as_ipv4);
    tcase_add_test(tc, test_cidr_match_all_and_unix);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(px_addr_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
