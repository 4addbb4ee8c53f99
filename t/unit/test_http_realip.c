/* Unit tests for realip's pure pieces: one forwarded item's address[:port], and the walk
 * through forwarding header values past trusted proxies (cases checked against nginx 1.22). */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_realip.h"

/* "addr" or "addr port" of a parsed item, "" when refused. */
static const char *parse_text(const char *item)
{
    static char buf[PX_ADDR_TEXT_SIZE + 16];
    struct sockaddr_storage ss;
    socklen_t len;
    if (http_realip_parse_addr(item, strlen(item), &ss, &len) != PX_OK)
        return "";
    char addr[PX_ADDR_TEXT_SIZE];
    px_addr_to_text((struct sockaddr *)&ss, len, 0, addr, sizeof(addr));
    unsigned port = ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                            : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    ck_assert_uint_eq(len, ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                   : sizeof(struct sockaddr_in6));
    if (port)
        snprintf(buf, sizeof(buf), "%s %u", addr, port);
    else
        snprintf(buf, sizeof(buf), "%s", addr);
    return buf;
}

START_TEST(test_parse_addr_accepts_nginx_forms)
{
    ck_assert_str_eq(parse_text("192.0.2.1"), "192.0.2.1");
    ck_assert_str_eq(parse_text("192.0.2.1:8080"), "192.0.2.1 8080");
    ck_assert_str_eq(parse_text("192.0.2.1:00080"), "192.0.2.1 80");
    ck_assert_str_eq(parse_text("192.0.2.1:65535"), "192.0.2.1 65535");
    ck_assert_str_eq(parse_text("2001:db8::1"), "2001:db8::1");
    ck_assert_str_eq(parse_text("[2001:DB8::1]:443"), "2001:db8::1 443");
    ck_assert_str_eq(parse_text("[192.0.2.1]:80"), "192.0.2.1 80");
    ck_assert_str_eq(parse_text("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
    /* a whole IPv6 address wins over an address:port reading (nginx prints it so too) */
    ck_assert_str_eq(parse_text("::1:80"), "::0.1.0.128");
}
END_TEST

START_TEST(test_parse_addr_refuses_malformed_items)
{
    const char *bad[] = {"",
                         "garbage",
                         "300.1.1.1",
                         "1.2.3",
                         "255.255.255.255",
                         "192.0.2.1:0",
                         "192.0.2.1:65536",
                         "192.0.2.1:",
                         "192.0.2.1:8x",
                         "192.0.2.1:-1",
                         "[2001:db8::1]",
                         "[2001:db8::1]80",
                         "[2001:db8::1",
                         "[::1]]:80",
                         "2001:db8::1%eth0",
                         "unix:",
                         "[]:80",
                         ":80",
                         " 192.0.2.1",
                         "192.0.2.1 ",
                         "192.0.2.1:99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse_text(bad[i])[0] == '\0', "accepted \"%s\"", bad[i]);
}
END_TEST

static px_cidr_t trusted[3];

static void setup_trusted(void)
{
    const char *ranges[] = {"127.0.0.1", "10.0.0.0/8", "2001:db8::/32"};
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(
            px_cidr_parse(&trusted[i], px_str_make(ranges[i], strlen(ranges[i])), NULL, 0), PX_OK);
}

/* The address after walking fields (NULL-terminated) from peer; "-" when declined. */
static const char *walk(const char *peer, int recursive, const char **fields)
{
    static char buf[PX_ADDR_TEXT_SIZE];
    px_str_t values[8];
    size_t n = 0;
    while (fields[n]) {
        values[n] = px_str_make(fields[n], strlen(fields[n]));
        n++;
    }
    struct sockaddr_storage addr;
    socklen_t len;
    ck_assert_int_eq(http_realip_parse_addr(peer, strlen(peer), &addr, &len), PX_OK);
    int rc = http_realip_forwarded(values, n, trusted, 3, recursive, &addr, &len);
    if (rc == PX_DECLINED)
        return "-";
    ck_assert_int_eq(rc, PX_OK);
    int with_port = addr.ss_family == AF_INET && ((struct sockaddr_in *)&addr)->sin_port;
    px_addr_to_text((struct sockaddr *)&addr, len, with_port, buf, sizeof(buf));
    return buf;
}

#define FIELDS(...) ((const char *[]){__VA_ARGS__, NULL})

START_TEST(test_untrusted_peer_declines)
{
    ck_assert_str_eq(walk("192.0.2.9", 0, FIELDS("192.0.2.1")), "-");
    ck_assert_str_eq(walk("192.0.2.9", 1, FIELDS("10.0.0.1", "10.0.0.2")), "-");
}
END_TEST

START_TEST(test_no_fields_declines)
{
    ck_assert_str_eq(walk("127.0.0.1", 1, (const char *[]){NULL}), "-");
}
END_TEST

START_TEST(test_not_recursive_takes_last_item_of_last_field)
{
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1, 10.0.0.2")), "10.0.0.2");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1", "192.0.2.2:81")), "192.0.2.2:81");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1", "bad")), "-");
}
END_TEST

START_TEST(test_separators_are_commas_and_spaces)
{
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1,, ,")), "192.0.2.1");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1 192.0.2.5")), "192.0.2.5");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("192.0.2.1\t192.0.2.5")), "-");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS(",")), "-");
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS("")), "-");
}
END_TEST

START_TEST(test_leading_separator_is_part_of_the_first_item)
{
    /* nginx never reads the first byte as a separator */
    ck_assert_str_eq(walk("127.0.0.1", 0, FIELDS(",192.0.2.4")), "-");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS(",10.0.0.3")), "-");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS(", 10.0.0.3")), "10.0.0.3");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS(",,10.0.0.3")), "10.0.0.3");
}
END_TEST

START_TEST(test_recursive_stops_at_first_untrusted_from_the_right)
{
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.1, 192.0.2.2, 10.0.0.2, 10.1.1.1")),
                     "192.0.2.2");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.1, [2001:db8::5]:443, 2001:db8:1::6")),
                     "192.0.2.1");
    /* an IPv4-mapped address is matched as the IPv4 address */
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.2, ::ffff:10.0.0.9")), "192.0.2.2");
}
END_TEST

START_TEST(test_recursive_all_trusted_gives_leftmost)
{
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("10.0.0.1:1234, 10.0.0.2, 10.0.0.3")),
                     "10.0.0.1:1234");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("10.0.0.8", "10.0.0.9")), "10.0.0.8");
}
END_TEST

START_TEST(test_recursive_invalid_item_keeps_what_was_found)
{
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.1, bad, 10.0.0.3")), "10.0.0.3");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("bad", "10.0.0.2")), "10.0.0.2");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("10.0.0.1", "bad")), "-");
}
END_TEST

START_TEST(test_recursive_walks_fields_from_the_last)
{
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.1", "10.0.0.2")), "192.0.2.1");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("192.0.2.3, 10.0.0.5", "10.0.0.6, 10.0.0.7")),
                     "192.0.2.3");
    ck_assert_str_eq(walk("127.0.0.1", 1, FIELDS("10.0.0.1", "192.0.2.4, 10.0.0.2")), "192.0.2.4");
}
END_TEST

START_TEST(test_unix_peer_trusted_by_unix_colon)
{
    px_cidr_t unix_any;
    ck_assert_int_eq(px_cidr_parse(&unix_any, PX_STR("unix:"), NULL, 0), PX_OK);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    addr.ss_family = AF_UNIX;
    socklen_t len = sizeof(sa_family_t);
    px_str_t v = PX_STR("192.0.2.7:5678");
    ck_assert_int_eq(http_realip_forwarded(&v, 1, &unix_any, 1, 0, &addr, &len), PX_OK);
    ck_assert_int_eq(addr.ss_family, AF_INET);
    ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&addr)->sin_port), 5678);
}
END_TEST

static Suite *realip_suite(void)
{
    Suite *s = suite_create("http_realip");
    TCase *parse = tcase_create("parse_addr");
    tcase_add_test(parse, test_parse_addr_accepts_nginx_forms);
    tcase_add_test(parse, test_parse_addr_refuses_malformed_items);
    suite_add_tcase(s, parse);
    TCase *fwd = tcase_create("forwarded");
    tcase_add_checked_fixture(fwd, setup_trusted, NULL);
    tcase_add_test(fwd, test_untrusted_peer_declines);
    tcase_add_test(fwd, test_no_fields_declines);
    tcase_add_test(fwd, test_not_recursive_takes_last_item_of_last_field);
    tcase_add_test(fwd, test_separators_are_commas_and_spaces);
    tcase_add_test(fwd, test_leading_separator_is_part_of_the_first_item);
    tcase_add_test(fwd, test_recursive_stops_at_first_untrusted_from_the_right);
    tcase_add_test(fwd, test_recursive_all_trusted_gives_leftmost);
    tcase_add_test(fwd, test_recursive_invalid_item_keeps_what_was_found);
    tcase_add_test(fwd, test_recursive_walks_fields_from_the_last);
    tcase_add_test(fwd, test_unix_peer_trusted_by_unix_colon);
    suite_add_tcase(s, fwd);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(realip_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
