/* An HTTP/2 request head rebuilt as HTTP/1.1 text: the request line, Host from :authority,
 * cookie crumbs joined, the limits, and the fields that cannot be written as lines. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_pool.h"
#include "http/http_v2_head.h"

#define FMAX 100
#define TMAX 400

static int add(http_v2_head_t *h, const char *name, const char *value)
{
    return http_v2_head_add(h, name, strlen(name), value, strlen(value), FMAX, TMAX);
}

static void ck_text(http_v2_head_t *h, const char *want)
{
    size_t len, size;
    char *text = http_v2_head_build(h, &len, &size);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(len == strlen(want) && memcmp(text, want, len) == 0, "got \"%.*s\"", (int)len, text);
    ck_assert_uint_le(len, size);
    px_cache_free(text, size);
    http_v2_head_free(h);
}

START_TEST(request_line_host_and_headers_in_order)
{
    http_v2_head_t h = {0};
    ck_assert_int_eq(add(&h, ":method", "GET"), HTTP_V2_HEAD_OK);
    ck_assert_int_eq(add(&h, ":scheme", "https"), HTTP_V2_HEAD_OK);
    ck_assert_int_eq(add(&h, ":authority", "example.com:8443"), HTTP_V2_HEAD_OK);
    ck_assert_int_eq(add(&h, ":path", "/a/b?c=d"), HTTP_V2_HEAD_OK);
    ck_assert_int_eq(add(&h, "user-agent", "t"), HTTP_V2_HEAD_OK);
    ck_assert_int_eq(add(&h, "accept", "*/*"), HTTP_V2_HEAD_OK);
    ck_text(&h, "GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8443\r\nuser-agent: t\r\naccept: */*\r\n\r\n");
}
END_TEST

START_TEST(cookie_crumbs_are_joined_into_one_line_at_the_end)
{
    http_v2_head_t h = {0};
    add(&h, ":method", "GET");
    add(&h, ":path", "/");
    add(&h, ":authority", "x");
    add(&h, "cookie", "a=1");
    add(&h, "x-mid", "m");
    add(&h, "cookie", "b=2");
    add(&h, "cookie", "c=3");
    ck_text(&h, "GET / HTTP/1.1\r\nHost: x\r\nx-mid: m\r\nCookie: a=1; b=2; c=3\r\n\r\n");
}
END_TEST

START_TEST(host_equal_to_authority_is_written_once_a_different_one_is_kept)
{
    http_v2_head_t h = {0};
    add(&h, ":method", "GET");
    add(&h, ":path", "/");
    add(&h, ":authority", "a.test");
    add(&h, "host", "a.test");
    ck_text(&h, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    /* a different Host stays: the parser then sees two and answers 400 as for HTTP/1.1 */
    add(&h, ":method", "GET");
    add(&h, ":path", "/");
    add(&h, ":authority", "a.test");
    add(&h, "host", "b.test");
    ck_text(&h, "GET / HTTP/1.1\r\nHost: a.test\r\nhost: b.test\r\n\r\n");
}
END_TEST

START_TEST(without_authority_the_host_header_stands)
{
    http_v2_head_t h = {0};
    add(&h, ":method", "POST");
    add(&h, ":path", "/p");
    add(&h, "host", "h.test");
    add(&h, "content-length", "3");
    ck_text(&h, "POST /p HTTP/1.1\r\nhost: h.test\r\ncontent-length: 3\r\n\r\n");
}
END_TEST

START_TEST(connect_takes_its_target_from_authority)
{
    http_v2_head_t h = {0};
    add(&h, ":method", "CONNECT");
    add(&h, ":authority", "upstream:443");
    ck_text(&h, "CONNECT upstream:443 HTTP/1.1\r\nHost: upstream:443\r\n\r\n");
}
END_TEST

START_TEST(empty_value_is_kept)
{
    http_v2_head_t h = {0};
    add(&h, ":method", "GET");
    add(&h, ":path", "/");
    add(&h, "x-empty", "");
    ck_text(&h, "GET / HTTP/1.1\r\nx-empty: \r\n\r\n");
}
END_TEST

START_TEST(one_field_over_the_buffer_size_is_too_large)
{
    http_v2_head_t h = {0};
    char big[FMAX + 1];
    memset(big, 'v', sizeof(big) - 1);
    big[FMAX] = '\0';
    /* name + value: 99 fits with a one-byte name... */
    big[FMAX - 1] = '\0';
    ck_assert_int_eq(add(&h, "n", big), HTTP_V2_HEAD_OK);
    /* ...100 as well, 101 does not */
    big[FMAX - 1] = 'v';
    ck_assert_int_eq(add(&h, "n", big), HTTP_V2_HEAD_FIELD_TOO_LARGE);
    http_v2_head_free(&h);
}
END_TEST

START_TEST(all_fields_over_the_total_are_too_large)
{
    http_v2_head_t h = {0};
    char v[91];
    memset(v, 'v', 90);
    v[90] = '\0';
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(add(&h, "name_", v), HTTP_V2_HEAD_OK); /* 4 x 95 = 380 */
    ck_assert_int_eq(add(&h, "n", "0123456789abcdefghij"), HTTP_V2_HEAD_TOO_LARGE); /* 401 */
    http_v2_head_free(&h);
}
END_TEST

START_TEST(cr_lf_nul_and_empty_names_are_refused)
{
    http_v2_head_t h = {0};
    ck_assert_int_eq(add(&h, "x", "a\r\nInjected: 1"), HTTP_V2_HEAD_INVALID);
    ck_assert_int_eq(add(&h, "x", "a\nb"), HTTP_V2_HEAD_INVALID);
    ck_assert_int_eq(add(&h, "x\r", "a"), HTTP_V2_HEAD_INVALID);
    ck_assert_int_eq(http_v2_head_add(&h, "x", 1, "a\0b", 3, FMAX, TMAX), HTTP_V2_HEAD_INVALID);
    ck_assert_int_eq(add(&h, "", "a"), HTTP_V2_HEAD_INVALID);
    ck_assert_int_eq(add(&h, ":path", "/\r\n"), HTTP_V2_HEAD_INVALID);
    http_v2_head_free(&h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_v2_head");
    TCase *t = tcase_create("head");
    tcase_add_test(t, request_line_host_and_headers_in_order);
    tcase_add_test(t, cookie_crumbs_are_joined_into_one_line_at_the_end);
    tcase_add_test(t, host_equal_to_authority_is_written_once_a_different_one_is_kept);
    tcase_add_test(t, without_authority_the_host_header_stands);
    tcase_add_test(t, connect_takes_its_target_from_authority);
    tcase_add_test(t, empty_value_is_kept);
    tcase_add_test(t, one_field_over_the_buffer_size_is_too_large);
    tcase_add_test(t, all_fields_over_the_total_are_too_large);
    tcase_add_test(t, cr_lf_nul_and_empty_names_are_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
