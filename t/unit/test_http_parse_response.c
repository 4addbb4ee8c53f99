/*
 * Tests for the upstream response-head parser. Every "nginx 1.22:" note is what the Debian
 * nginx 1.22.1 binary did as a proxy in front of a socket sending those exact bytes; the
 * Content-Length / Transfer-Encoding errors follow current nginx (see http_parse_response.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse_response.h"

#define MAX_EVENTS 32

/* What a parse produced, to compare a whole-buffer parse with a byte-by-byte one. */
typedef struct {
    int rc[MAX_EVENTS];
    http_span_t name[MAX_EVENTS];
    http_span_t value[MAX_EVENTS];
    int n;
    http_response_t r;
} trace_t;

/* Status line then header lines until the head ends or fails; each call sees buf[0..len). */
static int parse_step(http_response_t *r, int *in_headers, const char *buf, size_t len)
{
    int rc;

    if (!*in_headers) {
        rc = http_response_parse_status_line(r, buf, len);
        if (rc == HTTP_PARSE_OK)
            *in_headers = 1;
        return rc;
    }
    return http_response_parse_header_line(r, buf, len);
}

static int is_final(int rc)
{
    return rc != HTTP_PARSE_OK && rc != HTTP_PARSE_AGAIN;
}

static void record(trace_t *t, int rc)
{
    ck_assert_int_lt(t->n, MAX_EVENTS);
    t->rc[t->n] = rc;
    t->name[t->n] = t->r.header_name;
    t->value[t->n] = t->r.header_value;
    t->n++;
}

/* Feeds all of s at once; the trace ends with the first result that is not OK. */
static trace_t parse_all(const char *s, size_t len)
{
    trace_t t;
    int in_headers = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    http_response_init(&t.r);
    do {
        rc = parse_step(&t.r, &in_headers, s, len);
        record(&t, rc);
    } while (rc == HTTP_PARSE_OK);
    return t;
}

/* Feeds s one more byte per call, as a slow upstream would; AGAIN is not recorded. */
static trace_t parse_bytewise(const char *s, size_t len)
{
    trace_t t;
    int in_headers = 0;
    size_t avail = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    http_response_init(&t.r);
    for (;;) {
        rc = parse_step(&t.r, &in_headers, s, avail);
        if (rc == HTTP_PARSE_AGAIN) {
            ck_assert_uint_eq(t.r.pos, avail);
            if (avail == len)
                break;
            avail++;
            continue;
        }
        record(&t, rc);
        if (is_final(rc))
            break;
    }
    if (rc == HTTP_PARSE_AGAIN)
        record(&t, rc);
    return t;
}

#define HEAD(lit) parse_all(lit, sizeof(lit) - 1)

static int last_rc(const trace_t *t)
{
    return t->rc[t->n - 1];
}

static int span_is(const char *buf, http_span_t s, const char *expect)
{
    return s.len == strlen(expect) && memcmp(buf + s.start, expect, s.len) == 0;
}

#define ck_span(buf, s, expect)                                                                    \
    ck_assert_msg(span_is(buf, s, expect), "span \"%.*s\" != \"%s\"", (int)(s).len,                \
                  (buf) + (s).start, expect)

static const char *status_only(const char *s, http_response_t *r, int *rc)
{
    http_response_init(r);
    *rc = http_response_parse_status_line(r, s, strlen(s));
    return s;
}

/* ---- status line: accepted forms ---- */

START_TEST(test_status_line_with_reason)
{
    http_response_t r;
    int rc;
    const char *s = status_only("HTTP/1.1 200 OK\r\nX", &r, &rc);

    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.http_major, 1);
    ck_assert_int_eq(r.http_minor, 1);
    ck_assert_int_eq(r.status, 200);
    ck_span(s, r.status_line, "200 OK");
    ck_span(s, r.reason, "OK");
    ck_assert_uint_eq(r.pos, 17);
    ck_assert(!r.connection_close);
}
END_TEST

START_TEST(test_status_line_without_reason_or_with_empty_reason)
{
    http_response_t r;
    int rc;
    const char *s = status_only("HTTP/1.1 204\r\n", &r, &rc);

    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.status, 204);
    ck_span(s, r.status_line, "204");
    ck_span(s, r.reason, "");

    s = status_only("HTTP/1.1 200 \r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_span(s, r.status_line, "200 "); /* nginx 1.22 relays "HTTP/1.1 200 " */
    ck_span(s, r.reason, "");
}
END_TEST

START_TEST(test_status_line_bare_lf_ends_it)
{
    http_response_t r;
    int rc;
    const char *s = status_only("HTTP/1.1 201\nX", &r, &rc);

    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_span(s, r.status_line, "201");
    ck_assert_uint_eq(r.pos, 13);

    s = status_only("HTTP/1.1 200 OK\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_span(s, r.reason, "OK");
}
END_TEST

START_TEST(test_status_line_spaces_before_and_among_digits_are_skipped)
{
    http_response_t r;
    int rc;
    const char *s = status_only("HTTP/1.1  200 OK\r\n", &r, &rc);

    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_span(s, r.status_line, "200 OK");

    /* nginx 1.22 answers "HTTP/1.1  00 OK": the status line starts two bytes back. */
    s = status_only("HTTP/1.1 2 00 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_span(s, r.status_line, " 00 OK");
}
END_TEST

START_TEST(test_status_line_iis_substatus_after_dot)
{
    http_response_t r;
    int rc;
    const char *s = status_only("HTTP/1.1 403.1 Forbidden\r\n", &r, &rc);

    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.status, 403);
    ck_span(s, r.status_line, "403.1 Forbidden");
    ck_span(s, r.reason, "1 Forbidden");

    s = status_only("HTTP/1.1 403.\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_span(s, r.status_line, "403.");
}
END_TEST

START_TEST(test_status_line_any_three_digit_code_is_relayed)
{
    static const struct {
        const char *line;
        int status;
    } cases[] = {{"HTTP/1.1 000 X\r\n", 0},
                 {"HTTP/1.1 099 X\r\n", 99},
                 {"HTTP/1.1 100 X\r\n", 100},
                 {"HTTP/1.1 600 X\r\n", 600},
                 {"HTTP/1.1 999 X\r\n", 999}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_response_t r;
        int rc;

        status_only(cases[i].line, &r, &rc);
        ck_assert_int_eq(rc, HTTP_PARSE_OK);
        ck_assert_int_eq(r.status, cases[i].status);
    }
}
END_TEST

START_TEST(test_status_line_versions_up_to_three_digits_are_accepted)
{
    http_response_t r;
    int rc;

    status_only("HTTP/2.0 200 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.http_major, 2);
    ck_assert(!r.connection_close);

    status_only("HTTP/1.10 200 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.http_minor, 10);

    status_only("HTTP/100.1 200 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.http_major, 100);

    status_only("HTTP/1.999 200 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert_int_eq(r.http_minor, 999);
}
END_TEST

START_TEST(test_status_line_http_1_0_means_connection_close)
{
    http_response_t r;
    int rc;

    status_only("HTTP/1.0 200 OK\r\n", &r, &rc);
    ck_assert_int_eq(rc, HTTP_PARSE_OK);
    ck_assert(r.connection_close);
}
END_TEST

START_TEST(test_status_line_reason_may_hold_any_byte_but_cr_lf)
{
    static const char s[] = "HTTP/1.1 200 O\0K\t\x01\xff\r\n";
    http_response_t r;

    http_response_init(&r);
    ck_assert_int_eq(http_response_parse_status_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_uint_eq(r.reason.len, 6);
}
END_TEST

START_TEST(test_status_line_incomplete_asks_for_more)
{
    http_response_t r;

    http_response_init(&r);
    ck_assert_int_eq(http_response_parse_status_line(&r, "HTTP/1.1 20", 11), HTTP_PARSE_AGAIN);
    ck_assert_uint_eq(r.pos, 11);
    ck_assert_int_eq(http_response_parse_status_line(&r, "", 0), HTTP_PARSE_AGAIN);
}
END_TEST

/* ---- status line: HTTP/0.9 fallback ---- */

START_TEST(test_status_line_not_http_is_relayed_as_09_body)
{
    /* nginx 1.22: "upstream sent no valid HTTP/1.0 header", then the client gets the
     * upstream bytes unchanged, with no status line, until the upstream closes. */
    static const char *cases[] = {
        "hello world",
        "HTTP/1.1 200\tOK\r\n",   /* tab after the code */
        "HTTP/1.1 2000 OK\r\n",   /* four digits */
        "HTTP/1.1 20 OK\r\n",     /* two digits */
        "HTTP/1.1200 OK\r\n",     /* no space before the code */
        "HTTP/2 200\r\n",         /* no minor version */
        "HTTP/0.9 200 OK\r\n",    /* major must start 1-9 */
        "HTTP/1.1000 200 OK\r\n", /* four-digit minor */
        "HTTP/1000.1 200 OK\r\n", /* four-digit major */
        "HTTP/1. 200 OK\r\n",
        "HTTP/.1 200 OK\r\n",
        "http/1.1 200 OK\r\n",     /* case matters */
        "\r\nHTTP/1.1 200 OK\r\n", /* leading CRLF is not skipped */
        "HTTP/1.1 200 OK\rX\r\n",  /* CR without LF */
        "HTTP/1.1 200 OK\r\r\n",   /* two CRs */
        "HTTP/1.1 200\r\r\n",
        "HTTP/1.1 2x0 OK\r\n",
        "HTTP 200 OK\r\n",
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_response_t r;

        http_response_init(&r);
        ck_assert_msg(http_response_parse_status_line(&r, cases[i], strlen(cases[i])) ==
                          HTTP_PARSE_RESPONSE_09,
                      "case %zu", i);
        ck_assert_uint_eq(r.pos, 0);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.http_major, 0);
        ck_assert_int_eq(r.http_minor, 9);
        ck_assert(r.connection_close);
    }
}
END_TEST

START_TEST(test_status_line_09_after_again_points_at_line_start)
{
    http_response_t r;

    http_response_init(&r);
    r.pos = 5; /* as after an interim head of 5 bytes */
    ck_assert_int_eq(http_response_parse_status_line(&r, "xxxxxHT", 7), HTTP_PARSE_AGAIN);
    ck_assert_int_eq(http_response_parse_status_line(&r, "xxxxxHTX", 8), HTTP_PARSE_RESPONSE_09);
    ck_assert_uint_eq(r.pos, 5);
}
END_TEST

/* ---- header lines: accepted forms ---- */

START_TEST(test_headers_basic_head)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length:  12  \r\n\r\nbody";
    trace_t t = HEAD(s);

    ck_assert_int_eq(t.n, 4);
    ck_assert_int_eq(t.rc[1], HTTP_PARSE_OK);
    ck_span(s, t.name[1], "Server");
    ck_span(s, t.value[1], "x");
    ck_span(s, t.name[2], "Content-Length");
    ck_span(s, t.value[2], "12");
    ck_assert_int_eq(t.rc[3], HTTP_PARSE_HEADERS_DONE);
    ck_assert_int_eq(t.r.content_length, 12);
    ck_assert_uint_eq(t.r.pos, sizeof(s) - 1 - 4);
    ck_assert(!t.r.chunked);
}
END_TEST

START_TEST(test_headers_bare_lf_line_ends)
{
    static const char s[] = "HTTP/1.1 200 OK\nA: b\n\nhi";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_span(s, t.value[1], "b");
    ck_assert_uint_eq(t.r.pos, sizeof(s) - 3);
}
END_TEST

START_TEST(test_headers_value_keeps_tabs_and_control_bytes)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX-A:\ta\t\r\nX-B: a\x01"
                            "b\x7f\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_span(s, t.value[1], "\ta\t");
    ck_span(s, t.value[2],
            "a\x01"
            "b\x7f");
}
END_TEST

START_TEST(test_headers_line_without_colon_has_empty_value)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX-Foo\r\nX-Bar:\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_span(s, t.name[1], "X-Foo");
    ck_span(s, t.value[1], "");
    ck_span(s, t.name[2], "X-Bar");
    ck_span(s, t.value[2], "");
}
END_TEST

START_TEST(test_headers_names_with_underscore_at_or_8bit_are_kept)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX_Foo: a\r\nX@Foo: b\r\nX-F\xe9o: c\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(t.n, 5);
    ck_span(s, t.name[1], "X_Foo");
    ck_span(s, t.name[2], "X@Foo");
    ck_span(s, t.name[3], "X-F\xe9o");
}
END_TEST

START_TEST(test_headers_extra_cr_before_lf_is_tolerated)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX-Foo: a\r\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_span(s, t.value[1], "a");
}
END_TEST

START_TEST(test_headers_repeated_status_line_is_skipped)
{
    /* IIS repeats its status line; nginx skips any line starting "HTTP/" up to its LF. */
    static const char s[] =
        "HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK\r\nHTTP/ab\rcd\r\nContent-Length: 2\r\n\r\nhi";
    trace_t t = HEAD(s);

    ck_assert_int_eq(t.n, 3);
    ck_span(s, t.name[1], "Content-Length");
    ck_assert_int_eq(t.rc[2], HTTP_PARSE_HEADERS_DONE);
}
END_TEST

START_TEST(test_headers_http_name_without_slash_is_a_header)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nHTTP: v\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(t.n, 3);
    ck_span(s, t.name[1], "HTTP");
    ck_span(s, t.value[1], "v");
}
END_TEST

START_TEST(test_headers_done_keeps_the_last_header_line)
{
    /* A CR-ended empty line once left header_name pointing past the buffer. */
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_span(s, t.r.header_name, "Content-Length");
    ck_span(s, t.r.header_line, "Content-Length: 12");
}
END_TEST

START_TEST(test_headers_unfinished_line_spans_stay_inside_the_buffer)
{
    /* Found by the fuzzer: a partial name kept the previous line's length. */
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConte";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_AGAIN);
    ck_assert_uint_le(t.r.header_name.start + t.r.header_name.len, sizeof(s) - 1);
    ck_assert_uint_le(t.r.header_value.start + t.r.header_value.len, sizeof(s) - 1);
}
END_TEST

START_TEST(test_header_line_carries_the_known_header_id)
{
    static const char s[] = "HTTP/1.1 200 OK\r\ncontent-TYPE: text/html\r\n";
    http_response_t r;

    http_response_init(&r);
    ck_assert_int_eq(http_response_parse_status_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(http_response_parse_header_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(r.header_id, HTTP_HEADER_CONTENT_TYPE);
    ck_span(s, r.header_line, "content-TYPE: text/html");
}
END_TEST

/* ---- header lines: invalid ---- */

static void expect_invalid(const char *s, size_t len, const char *message)
{
    trace_t t = parse_all(s, len);
    char out[256];

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_INVALID_HEADER);
    http_response_format_error(&t.r, HTTP_PARSE_UPSTREAM_INVALID_HEADER, s, out, sizeof(out));
    ck_assert_str_eq(out, message);
}

#define EXPECT_INVALID(lit, message) expect_invalid(lit, sizeof(lit) - 1, message)

START_TEST(test_headers_invalid_lines_report_nginx_message)
{
    /* Each message is the one nginx 1.22 logged for the same bytes. */
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX Foo: a\r\n\r\n",
                   "upstream sent invalid header: \"X\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\n X-Foo: a\r\n\r\n",
                   "upstream sent invalid header: \"\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo: a\r\n b\r\n\r\n",
                   "upstream sent invalid header: \"\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\n\tX: a\r\n\r\n",
                   "upstream sent invalid header: \"\\x09...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\n: a\r\n\r\n", "upstream sent invalid header: \"\\x3a...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo: a\0b\r\n\r\n",
                   "upstream sent invalid header: \"X-Foo: a\\x00...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX\0Foo: a\r\n\r\n",
                   "upstream sent invalid header: \"X\\x00...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-F\x7fo: a\r\n\r\n",
                   "upstream sent invalid header: \"X-F\\x7f...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo: a\rb\r\n\r\n",
                   "upstream sent invalid header: \"X-Foo: a\\x0d...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo: a  \rb\r\n\r\n",
                   "upstream sent invalid header: \"X-Foo: a\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo\rb\r\n\r\n",
                   "upstream sent invalid header: \"X-Foo\\x0d...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rx\nhi",
                   "upstream sent invalid header: \"\\x0d...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nhttp/1.1 200 OK\r\n\r\n",
                   "upstream sent invalid header: \"http/1.1\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nHTTPX/1 200\r\n\r\n",
                   "upstream sent invalid header: \"HTTPX/1\\x20...\"");
    EXPECT_INVALID("HTTP/1.1 200 OK\r\nX-Foo: a\r\nX-\x01: b\r\n\r\n",
                   "upstream sent invalid header: \"X-\\x01...\"");
}
END_TEST

START_TEST(test_headers_invalid_line_position)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nA: b\r\nX Foo: a\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_INVALID_HEADER);
    ck_assert_uint_eq(t.r.header_line.start, 23);
    ck_assert_uint_eq(t.r.header_line.len, 1);
    ck_assert_uint_eq(t.r.pos, 24);
    ck_assert_int_eq(http_response_status(last_rc(&t)), 502);
}
END_TEST

START_TEST(test_headers_incomplete_asks_for_more)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX-A: b";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_AGAIN);
    ck_assert_uint_eq(t.r.pos, sizeof(s) - 1);
}
END_TEST

/* ---- what the headers mean ---- */

static void expect_length(const char *value, int64_t expect)
{
    char s[128];
    trace_t t;

    snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n", value);
    t = parse_all(s, strlen(s));
    ck_assert_msg(last_rc(&t) == HTTP_PARSE_HEADERS_DONE, "\"%s\"", value);
    ck_assert_int_eq(t.r.content_length, expect);
}

static void expect_bad_length(const char *value)
{
    char s[128], out[256], message[256];
    trace_t t;

    snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nContent-Length:%s\r\n\r\n", value);
    t = parse_all(s, strlen(s));
    ck_assert_msg(last_rc(&t) == HTTP_PARSE_UPSTREAM_INVALID_LENGTH, "\"%s\"", value);
    http_response_format_error(&t.r, last_rc(&t), s, out, sizeof(out));
    snprintf(message, sizeof(message),
             "upstream sent invalid \"Content-Length\" header: \"Content-Length: %.*s\"",
             (int)t.r.header_value.len, s + t.r.header_value.start);
    ck_assert_str_eq(out, message);
}

START_TEST(test_content_length_values)
{
    expect_length("0", 0);
    expect_length("2", 2);
    expect_length("0002", 2);
    expect_length("9223372036854775807", INT64_MAX);
}
END_TEST

START_TEST(test_content_length_invalid_values_are_rejected)
{
    /* nginx 1.22 took these as "no length" and read until close; 1.23+ answers 502. */
    expect_bad_length(" abc");
    expect_bad_length(" -1");
    expect_bad_length(" +2");
    expect_bad_length("");
    expect_bad_length("  ");
    expect_bad_length(" 2 3");
    expect_bad_length(" 2\t");
    expect_bad_length(" 0x2");
    expect_bad_length(" 9223372036854775808");
    expect_bad_length(" 99999999999999999999");
}
END_TEST

START_TEST(test_content_length_duplicate_is_rejected_even_when_equal)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:2\r\n\r\nhi";
    trace_t t = HEAD(s);
    char out[256];

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER);
    http_response_format_error(&t.r, last_rc(&t), s, out, sizeof(out));
    ck_assert_str_eq(out, "upstream sent duplicate header line: \"content-length: 2\", "
                          "previous value: \"Content-Length: 2\"");
    ck_assert_int_eq(http_response_status(last_rc(&t)), 502);
}
END_TEST

START_TEST(test_transfer_encoding_chunked_any_case)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_assert(t.r.chunked);
    ck_assert_int_eq(t.r.content_length, -1);
}
END_TEST

START_TEST(test_transfer_encoding_other_than_chunked_is_rejected)
{
    static const char *values[] = {"gzip, chunked", "identity",  "xchunkedx",
                                   "chunked, gzip", "chunked;x", ""};

    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char s[128], out[256], message[256];
        trace_t t;

        snprintf(s, sizeof(s), "HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\n\r\n", values[i]);
        t = parse_all(s, strlen(s));
        ck_assert_msg(last_rc(&t) == HTTP_PARSE_UPSTREAM_UNKNOWN_ENCODING, "\"%s\"", values[i]);
        http_response_format_error(&t.r, last_rc(&t), s, out, sizeof(out));
        snprintf(message, sizeof(message), "upstream sent unknown \"Transfer-Encoding\": \"%s\"",
                 values[i]);
        ck_assert_str_eq(out, message);
    }
}
END_TEST

START_TEST(test_transfer_encoding_duplicate_is_rejected)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n";
    trace_t t = HEAD(s);
    char out[256];

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_DUPLICATE_HEADER);
    http_response_format_error(&t.r, last_rc(&t), s, out, sizeof(out));
    ck_assert_str_eq(out, "upstream sent duplicate header line: \"Transfer-Encoding: chunked\", "
                          "previous value: \"Transfer-Encoding: chunked\"");
}
END_TEST

START_TEST(test_content_length_with_transfer_encoding_is_rejected_in_either_order)
{
    static const char cl_first[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const char te_first[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n";
    trace_t t = HEAD(cl_first);
    char out[256];

    /* nginx 1.22 decoded the body as chunked and ignored Content-Length. */
    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED);
    http_response_format_error(&t.r, last_rc(&t), cl_first, out, sizeof(out));
    ck_assert_str_eq(out, "upstream sent \"Content-Length\" and \"Transfer-Encoding\" "
                          "headers at the same time");
    t = HEAD(te_first);
    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_UPSTREAM_LENGTH_AND_CHUNKED);
}
END_TEST

START_TEST(test_connection_tokens_match_as_substrings_any_case)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nConnection: xCLOSEx\r\n\r\n";
    static const char ka[] = "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\n"
                             "Keep-Alive: timeout=5\r\n\r\n";
    static const char up[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: foo\r\nConnection: Upgrade\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_assert(t.r.connection_close);
    ck_assert(!t.r.connection_keep_alive);

    t = HEAD(ka);
    ck_assert(!t.r.connection_close);
    ck_assert(t.r.connection_keep_alive);
    ck_span(ka, t.r.keep_alive, "timeout=5");

    t = HEAD(up);
    ck_assert(t.r.connection_upgrade);
    ck_assert(!t.r.connection_close);
    ck_span(up, t.r.upgrade, "websocket");
    ck_assert_int_eq(t.r.status, 101);
}
END_TEST

START_TEST(test_http_1_0_keep_alive_header_does_not_undo_close)
{
    static const char s[] =
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n";
    trace_t t = HEAD(s);

    ck_assert_int_eq(last_rc(&t), HTTP_PARSE_HEADERS_DONE);
    ck_assert(t.r.connection_close);
    ck_assert(t.r.connection_keep_alive);
}
END_TEST

START_TEST(test_interim_response_then_final_one)
{
    static const char s[] = "HTTP/1.1 100 Continue\r\n\r\n"
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    http_response_t r;

    http_response_init(&r);
    ck_assert_int_eq(http_response_parse_status_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(http_response_parse_header_line(&r, s, sizeof(s) - 1),
                     HTTP_PARSE_HEADERS_DONE);
    ck_assert(http_response_is_interim(r.status));
    ck_assert_uint_eq(r.pos, 25);

    http_response_next(&r);
    ck_assert_uint_eq(r.pos, 25);
    ck_assert_int_eq(http_response_parse_status_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(http_response_parse_header_line(&r, s, sizeof(s) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(http_response_parse_header_line(&r, s, sizeof(s) - 1),
                     HTTP_PARSE_HEADERS_DONE);
    ck_assert_int_eq(r.content_length, 2);
    ck_assert_uint_eq(r.pos, sizeof(s) - 3);
}
END_TEST

START_TEST(test_interim_statuses)
{
    ck_assert(http_response_is_interim(100));
    ck_assert(http_response_is_interim(102));
    ck_assert(http_response_is_interim(103));
    ck_assert(http_response_is_interim(199));
    ck_assert(!http_response_is_interim(101));
    ck_assert(!http_response_is_interim(99));
    ck_assert(!http_response_is_interim(200));
    ck_assert(!http_response_is_interim(0));
}
END_TEST

START_TEST(test_body_kind_table)
{
    /* nginx 1.22 sends no body for HEAD, 204 and 304 whatever the headers say (a 204
     * with Content-Length: 5 logs "upstream sent more data than specified"), reads a
     * 205 without length until close, and ends a Content-Length: 0 body at once. */
    ck_assert_int_eq(http_response_body_kind(200, 1, 5, 0), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(200, 1, -1, 1), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(204, 0, 5, 0), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(304, 0, -1, 1), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(100, 0, -1, 0), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(101, 0, 2, 0), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(200, 0, 0, 0), HTTP_BODY_NONE);
    ck_assert_int_eq(http_response_body_kind(200, 0, -1, 1), HTTP_BODY_CHUNKED);
    ck_assert_int_eq(http_response_body_kind(200, 0, 5, 0), HTTP_BODY_LENGTH);
    ck_assert_int_eq(http_response_body_kind(200, 0, -1, 0), HTTP_BODY_UNTIL_CLOSE);
    ck_assert_int_eq(http_response_body_kind(205, 0, -1, 0), HTTP_BODY_UNTIL_CLOSE);
    ck_assert_int_eq(http_response_body_kind(0, 0, -1, 0), HTTP_BODY_UNTIL_CLOSE);
    ck_assert_int_eq(http_response_body_kind(999, 0, 3, 0), HTTP_BODY_LENGTH);
}
END_TEST

START_TEST(test_error_texts_and_statuses)
{
    ck_assert_str_eq(http_response_error_text(HTTP_PARSE_RESPONSE_09),
                     "upstream sent no valid HTTP/1.0 header");
    ck_assert_int_eq(http_response_status(HTTP_PARSE_RESPONSE_09), 0);
    ck_assert_str_eq(http_response_error_text(HTTP_PARSE_UPSTREAM_TOO_BIG_HEADER),
                     "upstream sent too big header");
    ck_assert_str_eq(http_response_error_text(HTTP_PARSE_UPSTREAM_PREMATURE_CLOSE),
                     "upstream prematurely closed connection");
    ck_assert_int_eq(http_response_status(HTTP_PARSE_UPSTREAM_TOO_BIG_HEADER), 502);
    ck_assert_int_eq(http_response_status(HTTP_PARSE_UPSTREAM_PREMATURE_CLOSE), 502);
    ck_assert_int_eq(http_response_status(HTTP_PARSE_OK), 0);
    ck_assert_int_eq(http_response_status(HTTP_PARSE_HEADERS_DONE), 0);
    ck_assert_str_eq(http_response_error_text(HTTP_PARSE_OK), "");
}
END_TEST

START_TEST(test_format_error_truncates_and_reports_full_length)
{
    static const char s[] = "HTTP/1.1 200 OK\r\nX Foo: a\r\n\r\n";
    trace_t t = HEAD(s);
    char out[10];
    size_t need;

    need = http_response_format_error(&t.r, last_rc(&t), s, out, sizeof(out));
    ck_assert_uint_eq(need, strlen("upstream sent invalid header: \"X\\x20...\""));
    ck_assert_str_eq(out, "upstream ");
}
END_TEST

/* ---- resumption: any split gives the same result ---- */

static const char *const resumption_cases[] = {
    "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length:  12  \r\n\r\nbody",
    "HTTP/1.1 2 00 OK\nA: b\n\nhi",
    "HTTP/1.1 403.1 Forbidden\r\nX-Foo\r\nX-Bar:\r\n\r\n",
    "HTTP/1.0 204\r\nConnection: keep-alive, close\r\nKeep-Alive: timeout=5\r\n\r\n",
    "HTTP/1.1 200 OK\r\nHTTP/1.1 200 OK\r\nHTTP/ab\rcd\r\nContent-Length: 2\r\n\r\nhi",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX:\ta \t \r\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX-Foo: a  \rb\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rx\nhi",
    "HTTP/1.1 200 OK\r\nX Foo: a\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
    "HTTP/1.1 200 OK\rX\r\n\r\n",
    "HTTP/1.1000 200 OK\r\n\r\n",
    "hello",
    "HTTP/1.1 200 OK\r\nX-A: b",
};

START_TEST(test_byte_by_byte_parse_matches_whole_buffer)
{
    const char *s = resumption_cases[_i];
    size_t len = strlen(s);
    trace_t whole = parse_all(s, len);
    trace_t slow = parse_bytewise(s, len);

    ck_assert_int_eq(slow.n, whole.n);
    for (int i = 0; i < whole.n; i++) {
        ck_assert_int_eq(slow.rc[i], whole.rc[i]);
        ck_assert_uint_eq(slow.name[i].start, whole.name[i].start);
        ck_assert_uint_eq(slow.name[i].len, whole.name[i].len);
        ck_assert_uint_eq(slow.value[i].start, whole.value[i].start);
        ck_assert_uint_eq(slow.value[i].len, whole.value[i].len);
    }
    ck_assert_uint_eq(slow.r.pos, whole.r.pos);
    ck_assert_int_eq(slow.r.status, whole.r.status);
    ck_assert_uint_eq(slow.r.status_line.start, whole.r.status_line.start);
    ck_assert_uint_eq(slow.r.status_line.len, whole.r.status_line.len);
    ck_assert_uint_eq(slow.r.reason.len, whole.r.reason.len);
    ck_assert_int_eq(slow.r.content_length, whole.r.content_length);
    ck_assert_int_eq(slow.r.chunked, whole.r.chunked);
    ck_assert_int_eq(slow.r.connection_close, whole.r.connection_close);
    ck_assert_int_eq(slow.r.connection_keep_alive, whole.r.connection_keep_alive);
    ck_assert_uint_eq(slow.r.header_line.start, whole.r.header_line.start);
    ck_assert_uint_eq(slow.r.header_line.len, whole.r.header_line.len);
}
END_TEST

static Suite *response_suite(void)
{
    Suite *s = suite_create("http_parse_response");
    TCase *status = tcase_create("status_line");
    TCase *headers = tcase_create("headers");
    TCase *meaning = tcase_create("meaning");
    TCase *resume = tcase_create("resumption");

    tcase_add_test(status, test_status_line_with_reason);
    tcase_add_test(status, test_status_line_without_reason_or_with_empty_reason);
    tcase_add_test(status, test_status_line_bare_lf_ends_it);
    tcase_add_test(status, test_status_line_spaces_before_and_among_digits_are_skipped);
    tcase_add_test(status, test_status_line_iis_substatus_after_dot);
    tcase_add_test(status, test_status_line_any_three_digit_code_is_relayed);
    tcase_add_test(status, test_status_line_versions_up_to_three_digits_are_accepted);
    tcase_add_test(status, test_status_line_http_1_0_means_connection_close);
    tcase_add_test(status, test_status_line_reason_may_hold_any_byte_but_cr_lf);
    tcase_add_test(status, test_status_line_incomplete_asks_for_more);
    tcase_add_test(status, test_status_line_not_http_is_relayed_as_09_body);
    tcase_add_test(status, test_status_line_09_after_again_points_at_line_start);
    suite_add_tcase(s, status);

    tcase_add_test(headers, test_headers_basic_head);
    tcase_add_test(headers, test_headers_bare_lf_line_ends);
    tcase_add_test(headers, test_headers_value_keeps_tabs_and_control_bytes);
    tcase_add_test(headers, test_headers_line_without_colon_has_empty_value);
    tcase_add_test(headers, test_headers_names_with_underscore_at_or_8bit_are_kept);
    tcase_add_test(headers, test_headers_extra_cr_before_lf_is_tolerated);
    tcase_add_test(headers, test_headers_repeated_status_line_is_skipped);
    tcase_add_test(headers, test_headers_http_name_without_slash_is_a_header);
    tcase_add_test(headers, test_headers_done_keeps_the_last_header_line);
    tcase_add_test(headers, test_headers_unfinished_line_spans_stay_inside_the_buffer);
    tcase_add_test(headers, test_header_line_carries_the_known_header_id);
    tcase_add_test(headers, test_headers_invalid_lines_report_nginx_message);
    tcase_add_test(headers, test_headers_invalid_line_position);
    tcase_add_test(headers, test_headers_incomplete_asks_for_more);
    suite_add_tcase(s, headers);

    tcase_add_test(meaning, test_content_length_values);
    tcase_add_test(meaning, test_content_length_invalid_values_are_rejected);
    tcase_add_test(meaning, test_content_length_duplicate_is_rejected_even_when_equal);
    tcase_add_test(meaning, test_transfer_encoding_chunked_any_case);
    tcase_add_test(meaning, test_transfer_encoding_other_than_chunked_is_rejected);
    tcase_add_test(meaning, test_transfer_encoding_duplicate_is_rejected);
    tcase_add_test(meaning, test_content_length_with_transfer_encoding_is_rejected_in_either_order);
    tcase_add_test(meaning, test_connection_tokens_match_as_substrings_any_case);
    tcase_add_test(meaning, test_http_1_0_keep_alive_header_does_not_undo_close);
    tcase_add_test(meaning, test_interim_response_then_final_one);
    tcase_add_test(meaning, test_interim_statuses);
    tcase_add_test(meaning, test_body_kind_table);
    tcase_add_test(meaning, test_error_texts_and_statuses);
    tcase_add_test(meaning, test_format_error_truncates_and_reports_full_length);
    suite_add_tcase(s, meaning);

    tcase_add_loop_test(resume, test_byte_by_byte_parse_matches_whole_buffer, 0,
                        (int)(sizeof(resumption_cases) / sizeof(resumption_cases[0])));
    suite_add_tcase(s, resume);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(response_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
