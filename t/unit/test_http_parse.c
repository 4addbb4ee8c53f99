/*
 * Unit tests for http/http_parse.h: request line, header lines, chunked decoder, URI
 * normaliser and Host validation. Every expectation marked "nginx:" was checked against the
 * Debian nginx 1.22.1 binary with raw requests on loopback.
 */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

/* String literal with its exact length, so cases may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

static char *span_dup(const char *buf, http_span_t s)
{
    char *out = malloc(s.len + 1);
    memcpy(out, buf + s.start, s.len);
    out[s.len] = '\0';
    return out;
}

#define ck_span(buf, span, expected)                                                        \
    do {                                                                                    \
        char *got_ = span_dup((buf), (span));                                               \
        ck_assert_str_eq(got_, (expected));                                                 \
        free(got_);                                                                         \
    } while (0)

/* Parses the whole request line at once. */
static int parse_rl(http_parser_t *p, const char *buf, size_t len)
{
    http_parser_init(p);
    return http_parse_request_line(p, buf, len);
}

static const size_t rl_spans[] = {
    offsetof(http_parser_t, request_line), offsetof(http_parser_t, method),
    offsetof(http_parser_t, target),       offsetof(http_parser_t, uri),
    offsetof(http_parser_t, schema),       offsetof(http_parser_t, host),
    offsetof(http_parser_t, port),         offsetof(http_parser_t, path),
    offsetof(http_parser_t, args),         offsetof(http_parser_t, exten),
    offsetof(http_parser_t, protocol),
};

/* Feeds the request line one more byte per call, each time from a fresh heap copy of exactly
 * that many bytes (a moved buffer, and ASan sees any read past len); checks the outcome and
 * every result is the same as parsing it at once. */
static void check_rl_incremental(const char *buf, size_t len)
{
    http_parser_t whole, step;
    int rc_whole = parse_rl(&whole, buf, len);
    int rc = HTTP_PARSE_AGAIN;

    http_parser_init(&step);
    for (size_t k = 1; k <= len && rc == HTTP_PARSE_AGAIN; k++) {
        char *copy = malloc(k);
        memcpy(copy, buf, k);
        rc = http_parse_request_line(&step, copy, k);
        free(copy);
    }
    ck_assert_int_eq(rc, rc_whole);
    ck_assert_uint_eq(step.pos, whole.pos);
    if (rc == HTTP_PARSE_OK || rc == HTTP_PARSE_INVALID_09_METHOD) {
        for (size_t f = 0; f < sizeof(rl_spans) / sizeof(rl_spans[0]); f++) {
            const http_span_t *a = (const http_span_t *)((const char *)&whole + rl_spans[f]);
            const http_span_t *b = (const http_span_t *)((const char *)&step + rl_spans[f]);
            ck_assert_uint_eq(a->start, b->start);
            ck_assert_uint_eq(a->len, b->len);
        }
        ck_assert_int_eq(whole.http_major, step.http_major);
        ck_assert_int_eq(whole.http_minor, step.http_minor);
        ck_assert_int_eq(whole.method_id, step.method_id);
        ck_assert_int_eq(whole.complex_uri, step.complex_uri);
        ck_assert_int_eq(whole.quoted_uri, step.quoted_uri);
    }
}

/* ---- request line: accepted forms ---- */

typedef struct {
    const char *in;
    size_t len;
    int method_id;
    const char *method, *uri, *path, *args, *host, *port;
    int major, minor;
} rl_ok_case_t;

static const rl_ok_case_t rl_ok_cases[] = {
    {S("GET / HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    {S("GET / HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 1},
    {S("GET / HTTP/1.0\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    /* nginx: empty lines before the request line are skipped, CR alone too */
    {S("\r\n\r\nGET / HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    {S("\n\nGET / HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    {S("\r\rGET / HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    /* nginx: any token of A-Z, '_' and '-' is a method */
    {S("G_T / HTTP/1.0\r\n"), HTTP_METHOD_UNKNOWN, "G_T", "/", "/", "", "", "", 1, 0},
    {S("G-T / HTTP/1.0\r\n"), HTTP_METHOD_UNKNOWN, "G-T", "/", "/", "", "", "", 1, 0},
    {S("FOO / HTTP/1.0\r\n"), HTTP_METHOD_UNKNOWN, "FOO", "/", "/", "", "", "", 1, 0},
    {S("PROPFIND / HTTP/1.0\r\n"), HTTP_METHOD_PROPFIND, "PROPFIND", "/", "/", "", "", "", 1, 0},
    {S("TRACE / HTTP/1.0\r\n"), HTTP_METHOD_TRACE, "TRACE", "/", "/", "", "", "", 1, 0},
    {S("CONNECT / HTTP/1.0\r\n"), HTTP_METHOD_CONNECT, "CONNECT", "/", "/", "", "", "", 1, 0},
    {S("POST /x HTTP/1.1\r\n"), HTTP_METHOD_POST, "POST", "/x", "/x", "", "", "", 1, 1},
    {S("PATCH /x HTTP/1.1\r\n"), HTTP_METHOD_PATCH, "PATCH", "/x", "/x", "", "", "", 1, 1},
    /* nginx: extra spaces around the target and after the version are allowed */
    {S("GET  / HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    {S("GET /  HTTP/1.0\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    {S("GET / HTTP/1.0  \r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 0},
    /* nginx: minor version up to 999, leading zeros ignored */
    {S("GET / HTTP/1.2\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 2},
    {S("GET / HTTP/1.10\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 10},
    {S("GET / HTTP/1.999\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 999},
    {S("GET / HTTP/1.0001\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 1},
    {S("GET / HTTP/1.00000000000001\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 1, 1},
    /* nginx: HTTP/0.9, a GET without version */
    {S("GET /\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 0, 9},
    {S("GET /\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 0, 9},
    {S("GET / \r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "", "", 0, 9},
    {S("GET /a?x\n"), HTTP_METHOD_GET, "GET", "/a?x", "/a", "x", "", "", 0, 9},
    /* nginx: a bare LF inside the target ends an HTTP/0.9 line */
    {S("GET /a\nb HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a", "/a", "", "", "", 0, 9},
    {S("GET /a?x\nb HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a?x", "/a", "x", "", "", 0, 9},
    /* args and fragments: nginx $args stops at '#', $uri at '?' or '#' */
    {S("GET /a/b?x=1&y=2 HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a/b?x=1&y=2", "/a/b",
     "x=1&y=2", "", "", 1, 1},
    {S("GET /a? HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a?", "/a", "", "", "", 1, 1},
    {S("GET /a?? HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a??", "/a", "?", "", "", 1, 1},
    {S("GET /a#b?q# HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a#b?q#", "/a", "", "", "", 1, 1},
    {S("GET /a?x#y?z HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a?x#y?z", "/a", "x", "", "", 1,
     1},
    {S("GET /a?x%23y HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a?x%23y", "/a", "x%23y", "", "",
     1, 1},
    /* nginx: every printable ASCII byte and bytes >= 0x80 are fine in a path */
    {S("GET /a!\"$&'()*+,-.:;<=>@[\\]^_`{|}~b HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET",
     "/a!\"$&'()*+,-.:;<=>@[\\]^_`{|}~b", "/a!\"$&'()*+,-.:;<=>@[\\]^_`{|}~b", "", "", "", 1, 1},
    {S("GET /a\x80\xff" "b HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a\x80\xff" "b",
     "/a\x80\xff" "b", "", "", "", 1, 1},
    /* the parser leaves bad %-escapes to the normaliser */
    {S("GET /a%zz HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/a%zz", "/a%zz", "", "", "", 1, 1},
    /* absolute-form: nginx takes the host from the request line */
    {S("GET http://example.com/p?q=1 HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p?q=1", "/p",
     "q=1", "example.com", "", 1, 1},
    {S("GET http://example.com:8080/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "",
     "example.com", "8080", 1, 1},
    {S("GET http://example.com HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "",
     "example.com", "", 1, 1},
    {S("GET http://example.com:80 HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "",
     "example.com", "80", 1, 1},
    {S("GET http://h  HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "h", "", 1, 1},
    {S("GET http://example.com?x=1 HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "?x=1", "", "x=1",
     "example.com", "", 1, 1},
    {S("GET http://example.com:80?x=1 HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "?x=1", "",
     "x=1", "example.com", "80", 1, 1},
    {S("GET http://Example.COM/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "",
     "Example.COM", "", 1, 1},
    {S("GET http://1.2.3.4/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "1.2.3.4", "",
     1, 1},
    {S("GET http://[::1]:80/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "[::1]",
     "80", 1, 1},
    {S("GET http://[::1]/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "[::1]", "", 1,
     1},
    {S("GET http://[v1.x]/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "", "[v1.x]", "",
     1, 1},
    {S("GET http://[a_b!$&'()*+,;=~-]/ HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/", "/", "",
     "[a_b!$&'()*+,;=~-]", "", 1, 1},
    {S("GET http://h:/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h", "", 1, 1},
    {S("GET http://h:99999999999/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h",
     "99999999999", 1, 1},
    {S("GET https://h/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h", "", 1, 1},
    {S("GET HTTP://h/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h", "", 1, 1},
    {S("GET h2c+x.y-z://h/p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h", "", 1,
     1},
    {S("GET http://h/p\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "h", "", 0, 9},
    {S("GET http://h/#f HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/#f", "/", "", "h", "", 1, 1},
    /* nginx parses an empty host, then refuses it as "invalid host in request line" */
    {S("GET http:///p HTTP/1.1\r\n"), HTTP_METHOD_GET, "GET", "/p", "/p", "", "", "", 1, 1},
};

START_TEST(test_request_line_accepts_nginx_forms)
{
    const rl_ok_case_t *c = &rl_ok_cases[_i];
    http_parser_t p;
    int rc = parse_rl(&p, c->in, c->len);

    ck_assert_msg(rc == HTTP_PARSE_OK, "case %d: rc %d", _i, rc);
    ck_assert_int_eq(p.method_id, c->method_id);
    ck_span(c->in, p.method, c->method);
    ck_span(c->in, p.uri, c->uri);
    ck_span(c->in, p.path, c->path);
    ck_span(c->in, p.args, c->args);
    ck_span(c->in, p.host, c->host);
    ck_span(c->in, p.port, c->port);
    ck_assert_int_eq(p.http_major, c->major);
    ck_assert_int_eq(p.http_minor, c->minor);
    ck_assert_uint_le(p.pos, c->len);
    check_rl_incremental(c->in, c->len);
}
END_TEST

START_TEST(test_request_line_spans_for_logging)
{
    static const char in[] = "\r\nGET /a/b.html?x HTTP/1.0 \r\nHost: h\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_OK);
    /* nginx: $request and $server_protocol keep trailing spaces */
    ck_span(in, p.request_line, "GET /a/b.html?x HTTP/1.0 ");
    ck_span(in, p.protocol, "HTTP/1.0 ");
    ck_span(in, p.target, "/a/b.html?x");
    ck_span(in, p.exten, "html");
    ck_assert_uint_eq(p.pos, strlen("\r\nGET /a/b.html?x HTTP/1.0 \r\n"));
    ck_assert_int_eq(p.has_args, 1);
}
END_TEST

START_TEST(test_request_line_absolute_form_keeps_target_and_schema)
{
    static const char in[] = "GET http://h:81/p?a HTTP/1.1\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_OK);
    ck_span(in, p.target, "http://h:81/p?a");
    ck_span(in, p.schema, "http");
    ck_assert_int_eq(p.empty_path_in_uri, 0);
}
END_TEST

START_TEST(test_request_line_empty_path_flags_uri)
{
    static const char in[] = "GET http://h?a HTTP/1.1\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(p.empty_path_in_uri, 1);
}
END_TEST

START_TEST(test_request_line_http09_has_no_protocol)
{
    static const char in[] = "GET /x\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_OK);
    ck_assert_uint_eq(p.protocol.len, 0);
    ck_span(in, p.request_line, "GET /x");
    ck_assert_uint_eq(p.pos, sizeof(in) - 1);
}
END_TEST

START_TEST(test_request_line_flags_complex_and_quoted_paths)
{
    struct {
        const char *in;
        int complex, quoted, plus;
    } cases[] = {
        {"GET /a/b HTTP/1.1\r\n", 0, 0, 0},    {"GET /a/./b HTTP/1.1\r\n", 1, 0, 0},
        {"GET /a/../b HTTP/1.1\r\n", 1, 0, 0}, {"GET /a//b HTTP/1.1\r\n", 1, 0, 0},
        {"GET /.x HTTP/1.1\r\n", 1, 0, 0},     {"GET /a.b/c HTTP/1.1\r\n", 0, 0, 0},
        {"GET /a%20 HTTP/1.1\r\n", 0, 1, 0},   {"GET /a+b HTTP/1.1\r\n", 0, 0, 1},
        {"GET /a?//./%% HTTP/1.1\r\n", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_parser_t p;
        ck_assert_int_eq(parse_rl(&p, cases[i].in, strlen(cases[i].in)), HTTP_PARSE_OK);
        ck_assert_msg(p.complex_uri == cases[i].complex, "%s", cases[i].in);
        ck_assert_msg(p.quoted_uri == cases[i].quoted, "%s", cases[i].in);
        ck_assert_msg(p.plus_in_uri == cases[i].plus, "%s", cases[i].in);
    }
}
END_TEST

START_TEST(test_request_line_exten_from_last_segment)
{
    struct {
        const char *in, *exten;
    } cases[] = {
        {"GET /a.html HTTP/1.1\r\n", "html"},    {"GET /a.tar.gz?x.y HTTP/1.1\r\n", "gz"},
        {"GET /a.b/c HTTP/1.1\r\n", ""},         {"GET /a. HTTP/1.1\r\n", ""},
        {"GET /.htaccess HTTP/1.1\r\n", ""},     {"GET /a/.b.c HTTP/1.1\r\n", "c"},
        {"GET /x.js#y.z HTTP/1.1\r\n", "js"},    {"GET /x.js\r\n", "js"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_parser_t p;
        ck_assert_int_eq(parse_rl(&p, cases[i].in, strlen(cases[i].in)), HTTP_PARSE_OK);
        ck_span(cases[i].in, p.exten, cases[i].exten);
    }
}
END_TEST

START_TEST(test_request_line_again_until_line_end)
{
    static const char *partial[] = {"", "\r\n", "G", "GET", "GET ", "GET /", "GET /a?b",
                                    "GET / H", "GET / HTTP/1.", "GET / HTTP/1.1",
                                    "GET / HTTP/1.1\r", "GET /\r", "GET http://h",
                                    "GET http://[::1"};
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        http_parser_t p;
        ck_assert_msg(parse_rl(&p, partial[i], strlen(partial[i])) == HTTP_PARSE_AGAIN, "%s",
                      partial[i]);
        ck_assert_uint_eq(p.pos, strlen(partial[i]));
    }
}
END_TEST

/* ---- request line: refused forms ---- */

typedef struct {
    const char *in;
    size_t len;
    int rc;
} rl_bad_case_t;

static const rl_bad_case_t rl_bad_cases[] = {
    /* nginx 400 "client sent invalid method" */
    {S(" GET / HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("get / HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("GE1 / HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("GET\t/ HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("GET/ HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("GET\r\n"), HTTP_PARSE_INVALID_METHOD},
    {S("\x00GET / HTTP/1.0\r\n"), HTTP_PARSE_INVALID_METHOD},
    /* nginx 400 "client sent invalid request" */
    {S("GET \r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("OPTIONS * HTTP/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /\tHTTP/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.0\r\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.0\rX\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.1 x\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.1\tHost: a\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.1000\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.99999\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/01.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/0.9\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/0.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1x\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / http/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTPS/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / HTTP/1.0x\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / XTTP/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET / H\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /a b HTTP/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /a b\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /?a b HTTP/1.0\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /a\rb HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET /\r\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h:80\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h.\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://[::1 HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://[a%b]/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://[a/b]/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://[a]b]/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://[a@b]/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://user@example.com/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://ex_ample.com/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://ex~ample.com/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://ex!ample.com/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://ex%41mple.com/ HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h#f HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h:8a/p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http://h:80:90/p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http:/p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET http:p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET 2h://h/p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    {S("GET ftp_x://h/p HTTP/1.1\r\n"), HTTP_PARSE_INVALID_REQUEST},
    /* nginx 505 "client sent invalid version": any major version above 1 */
    {S("GET / HTTP/2.0\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/3.0\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/10.0\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/99.1\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/100.1\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/2\r\n"), HTTP_PARSE_INVALID_VERSION},
    {S("GET / HTTP/2x\r\n"), HTTP_PARSE_INVALID_VERSION},
    /* nginx 400 "client sent invalid method in HTTP/0.9 request", answered without headers */
    {S("HEAD /\r\n"), HTTP_PARSE_INVALID_09_METHOD},
    {S("POST /\r\n"), HTTP_PARSE_INVALID_09_METHOD},
    {S("TRACE /x\n"), HTTP_PARSE_INVALID_09_METHOD},
};

START_TEST(test_request_line_refuses_malformed)
{
    const rl_bad_case_t *c = &rl_bad_cases[_i];
    http_parser_t p;
    int rc = parse_rl(&p, c->in, c->len);

    ck_assert_msg(rc == c->rc, "case %d: rc %d, expected %d", _i, rc, c->rc);
    check_rl_incremental(c->in, c->len);
}
END_TEST

START_TEST(test_request_line_refuses_control_bytes_in_target)
{
    /* nginx: every byte below 0x20 and 0x7f is refused in path, args and fragment, except LF
     * (ends an HTTP/0.9 line) */
    static const char *templates[] = {"GET /a%cb HTTP/1.1\r\n", "GET /a?x%cb HTTP/1.1\r\n",
                                      "GET /a.%cb HTTP/1.1\r\n", "GET /%cb HTTP/1.1\r\n",
                                      "GET /a#%cb HTTP/1.1\r\n"};
    for (int ch = 0; ch <= 0x7f; ch++) {
        if (!(ch < 0x20 || ch == 0x7f) || ch == '\n')
            continue;
        for (size_t t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
            char buf[64];
            int n = snprintf(buf, sizeof(buf), templates[t], 'Z');
            char *z = memchr(buf, 'Z', (size_t)n);
            http_parser_t p;

            *z = (char)ch;
            ck_assert_msg(parse_rl(&p, buf, (size_t)n) == HTTP_PARSE_INVALID_REQUEST,
                          "byte 0x%02x in %s", ch, templates[t]);
            ck_assert_uint_eq(p.pos, (size_t)(z - buf) + (ch == '\r'));
        }
    }
}
END_TEST

START_TEST(test_request_line_error_position_points_at_bad_byte)
{
    static const char in[] = "GET /a b HTTP/1.0\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_INVALID_REQUEST);
    ck_assert_uint_eq(p.pos, 7);
}
END_TEST

/* ---- header lines ---- */

/* Parses one header line with a fresh parser. */
static int parse_hl(http_parser_t *p, const char *buf, size_t len, int allow_underscores)
{
    http_parser_init(p);
    return http_parse_header_line(p, buf, len, allow_underscores);
}

static void check_hl_incremental(const char *buf, size_t len, int allow_underscores)
{
    http_parser_t whole, step;
    int rc_whole = parse_hl(&whole, buf, len, allow_underscores);
    int rc = HTTP_PARSE_AGAIN;

    http_parser_init(&step);
    for (size_t k = 1; k <= len && rc == HTTP_PARSE_AGAIN; k++) {
        char *copy = malloc(k);
        memcpy(copy, buf, k);
        rc = http_parse_header_line(&step, copy, k, allow_underscores);
        free(copy);
    }
    ck_assert_int_eq(rc, rc_whole);
    ck_assert_uint_eq(step.pos, whole.pos);
    if (rc == HTTP_PARSE_OK) {
        ck_assert_uint_eq(step.header_name.start, whole.header_name.start);
        ck_assert_uint_eq(step.header_name.len, whole.header_name.len);
        ck_assert_uint_eq(step.header_value.start, whole.header_value.start);
        ck_assert_uint_eq(step.header_value.len, whole.header_value.len);
        ck_assert_uint_eq(step.header_hash, whole.header_hash);
        ck_assert_int_eq(step.header_invalid_name, whole.header_invalid_name);
    }
}

typedef struct {
    const char *in;
    size_t len;
    const char *name, *value;
    int invalid_name;
} hl_ok_case_t;

static const hl_ok_case_t hl_ok_cases[] = {
    {S("Foo: bar\r\n"), "Foo", "bar", 0},
    {S("fOO:bar\r\n"), "fOO", "bar", 0},
    {S("Foo: bar\n"), "Foo", "bar", 0},
    /* nginx: only spaces are trimmed around the value, tabs are kept */
    {S("Foo:   bar   \r\n"), "Foo", "bar", 0},
    {S("Foo:\tbar\t\r\n"), "Foo", "\tbar\t", 0},
    {S("Foo: a  b\r\n"), "Foo", "a  b", 0},
    {S("Foo: a \t\r\n"), "Foo", "a \t", 0},
    /* nginx: control bytes other than NUL, CR and LF pass in values */
    {S("Foo: a\x01" "b\r\n"), "Foo", "a\x01" "b", 0},
    {S("Foo: a\x7f" "b\r\n"), "Foo", "a\x7f" "b", 0},
    {S("Foo: a\x80" "b\r\n"), "Foo", "a\x80" "b", 0},
    {S("Foo: a:b\r\n"), "Foo", "a:b", 0},
    {S("Foo:: 1\r\n"), "Foo", ": 1", 0},
    /* nginx: extra CRs before the LF are tolerated */
    {S("Foo: a\r\r\n"), "Foo", "a", 0},
    {S("Foo: a \r\r\r\n"), "Foo", "a", 0},
    /* nginx: empty values, and a name without colon is a header with an empty value */
    {S("Foo:\r\n"), "Foo", "", 0},
    {S("Foo: \r\n"), "Foo", "", 0},
    {S("Foo:    \n"), "Foo", "", 0},
    {S("Foo\r\n"), "Foo", "", 0},
    {S("Foo\n"), "Foo", "", 0},
    {S("Foo\r\r\n"), "Foo", "", 0},
    /* nginx: names outside [A-Za-z0-9-] are flagged ("client sent invalid header line") and
     * ignored under ignore_invalid_headers */
    {S("X_Y: 1\r\n"), "X_Y", "1", 1},
    {S("_Foo: 1\r\n"), "_Foo", "1", 1},
    {S("X.Y: 1\r\n"), "X.Y", "1", 1},
    {S("@Foo: 1\r\n"), "@Foo", "1", 1},
    {S("F\x80oo: 1\r\n"), "F\x80oo", "1", 1},
    {S("X-Forwarded-For: 1.2.3.4\r\n"), "X-Forwarded-For", "1.2.3.4", 0},
};

START_TEST(test_header_line_accepts_nginx_forms)
{
    const hl_ok_case_t *c = &hl_ok_cases[_i];
    http_parser_t p;

    ck_assert_msg(parse_hl(&p, c->in, c->len, 0) == HTTP_PARSE_OK, "case %d", _i);
    ck_span(c->in, p.header_name, c->name);
    ck_span(c->in, p.header_value, c->value);
    ck_assert_int_eq(p.header_invalid_name, c->invalid_name);
    ck_assert_uint_eq(p.pos, c->len);
    if (!c->invalid_name)
        ck_assert_uint_eq(p.header_hash, http_hash_name(c->name, strlen(c->name)));
    check_hl_incremental(c->in, c->len, 0);
}
END_TEST

static const rl_bad_case_t hl_bad_cases[] = {
    /* nginx 400 "client sent invalid header line" */
    {S("Foo: a\x00" "b\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo:\x00\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo: a \x00\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo: a\rb\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\r\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\rx"), HTTP_PARSE_INVALID_HEADER},
    {S(" baz\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\tbaz\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S(" Foo: bar\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo : bar\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo\t: bar\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("Foo bar\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S(": bar\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("F\x00oo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("F\x01oo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("F\x7foo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("F\roo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\x00" "Foo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\x01" "Foo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
    {S("\x7f" "Foo: 1\r\n"), HTTP_PARSE_INVALID_HEADER},
};

START_TEST(test_header_line_refuses_malformed)
{
    const rl_bad_case_t *c = &hl_bad_cases[_i];
    http_parser_t p;
    int rc = parse_hl(&p, c->in, c->len, 0);

    ck_assert_msg(rc == c->rc, "case %d: rc %d", _i, rc);
    check_hl_incremental(c->in, c->len, 0);
}
END_TEST

START_TEST(test_header_underscores_valid_when_allowed)
{
    static const char in[] = "X_Y: 1\r\n";
    http_parser_t p;

    ck_assert_int_eq(parse_hl(&p, in, sizeof(in) - 1, 1), HTTP_PARSE_OK);
    ck_assert_int_eq(p.header_invalid_name, 0);
    ck_assert_uint_eq(p.header_hash, http_hash_name("x_y", 3));
    check_hl_incremental(in, sizeof(in) - 1, 1);
}
END_TEST

START_TEST(test_header_block_parses_line_after_line)
{
    static const char in[] = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x y\nFoo\r\n\r\nBODY";
    http_parser_t p;
    int rc;

    ck_assert_int_eq(parse_rl(&p, in, sizeof(in) - 1), HTTP_PARSE_OK);
    ck_assert_int_eq(http_parse_header_line(&p, in, sizeof(in) - 1, 0), HTTP_PARSE_OK);
    ck_span(in, p.header_name, "Host");
    ck_span(in, p.header_line, "Host: a");
    ck_assert_int_eq(http_parse_header_line(&p, in, sizeof(in) - 1, 0), HTTP_PARSE_OK);
    ck_span(in, p.header_value, "x y");
    ck_assert_int_eq(http_parse_header_line(&p, in, sizeof(in) - 1, 0), HTTP_PARSE_OK);
    ck_span(in, p.header_name, "Foo");
    rc = http_parse_header_line(&p, in, sizeof(in) - 1, 0);
    ck_assert_int_eq(rc, HTTP_PARSE_HEADERS_DONE);
    ck_assert_str_eq(in + p.pos, "BODY");
}
END_TEST

START_TEST(test_header_block_resumes_at_every_split)
{
    static const char in[] = "GET /x HTTP/1.1\r\nHost: a\r\nA: b \r\nC\r\n\n";
    const size_t len = sizeof(in) - 1;
    const char *expected[] = {"Host", "a", "A", "b", "C", ""};

    for (size_t cut = 0; cut <= len; cut++) {
        http_parser_t p;
        size_t avail = cut;
        int rc, seen = 0;

        http_parser_init(&p);
        while ((rc = http_parse_request_line(&p, in, avail)) == HTTP_PARSE_AGAIN)
            avail = len;
        ck_assert_int_eq(rc, HTTP_PARSE_OK);
        for (;;) {
            rc = http_parse_header_line(&p, in, avail, 0);
            if (rc == HTTP_PARSE_AGAIN) {
                ck_assert_uint_lt(avail, len);
                avail = len;
                continue;
            }
            if (rc == HTTP_PARSE_HEADERS_DONE)
                break;
            ck_assert_int_eq(rc, HTTP_PARSE_OK);
            ck_span(in, p.header_name, expected[seen]);
            ck_span(in, p.header_value, expected[seen + 1]);
            seen += 2;
        }
        ck_assert_int_eq(seen, 6);
        ck_assert_uint_eq(p.pos, len);
    }
}
END_TEST

START_TEST(test_header_hash_ignores_case)
{
    ck_assert_uint_eq(http_hash_name("Content-Length", 14), http_hash_name("content-LENGTH", 14));
    ck_assert_uint_ne(http_hash_name("Host", 4), http_hash_name("Hosts", 5));
}
END_TEST

START_TEST(test_known_headers_found_case_insensitively)
{
    ck_assert_int_eq(http_header_id("host", 4), HTTP_HEADER_HOST);
    ck_assert_int_eq(http_header_id("CONTENT-LENGTH", 14), HTTP_HEADER_CONTENT_LENGTH);
    ck_assert_int_eq(http_header_id("Transfer-encoding", 17), HTTP_HEADER_TRANSFER_ENCODING);
    ck_assert_int_eq(http_header_id("connection", 10), HTTP_HEADER_CONNECTION);
    ck_assert_int_eq(http_header_id("Expect", 6), HTTP_HEADER_EXPECT);
    ck_assert_int_eq(http_header_id("x-real-ip", 9), HTTP_HEADER_X_REAL_IP);
    ck_assert_int_eq(http_header_id("Hos", 3), HTTP_HEADER_OTHER);
    ck_assert_int_eq(http_header_id("Hostx", 5), HTTP_HEADER_OTHER);
    ck_assert_int_eq(http_header_id("", 0), HTTP_HEADER_OTHER);
}
END_TEST

/* Names that share a length (the lookup chains them by length) are each found, and a name
 * longer than any known one is not. */
START_TEST(test_every_known_header_found_among_names_of_its_length)
{
    static const struct {
        const char *name;
        int id;
    } all[] = {
        {"TE", HTTP_HEADER_TE},
        {"Via", HTTP_HEADER_VIA},
        {"Host", HTTP_HEADER_HOST},
        {"Range", HTTP_HEADER_RANGE},
        {"Expect", HTTP_HEADER_EXPECT},
        {"Cookie", HTTP_HEADER_COOKIE},
        {"Upgrade", HTTP_HEADER_UPGRADE},
        {"Referer", HTTP_HEADER_REFERER},
        {"If-Range", HTTP_HEADER_IF_RANGE},
        {"If-Match", HTTP_HEADER_IF_MATCH},
        {"X-Real-IP", HTTP_HEADER_X_REAL_IP},
        {"Connection", HTTP_HEADER_CONNECTION},
        {"Keep-Alive", HTTP_HEADER_KEEP_ALIVE},
        {"User-Agent", HTTP_HEADER_USER_AGENT},
        {"Content-Type", HTTP_HEADER_CONTENT_TYPE},
        {"Authorization", HTTP_HEADER_AUTHORIZATION},
        {"If-None-Match", HTTP_HEADER_IF_NONE_MATCH},
        {"Content-Length", HTTP_HEADER_CONTENT_LENGTH},
        {"Accept-Encoding", HTTP_HEADER_ACCEPT_ENCODING},
        {"X-Forwarded-For", HTTP_HEADER_X_FORWARDED_FOR},
        {"Transfer-Encoding", HTTP_HEADER_TRANSFER_ENCODING},
        {"If-Modified-Since", HTTP_HEADER_IF_MODIFIED_SINCE},
        {"If-Unmodified-Since", HTTP_HEADER_IF_UNMODIFIED_SINCE},
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ck_assert_int_eq(http_header_id(all[i].name, strlen(all[i].name)), all[i].id);
    ck_assert_int_eq(http_header_id("Keep-Alivf", 10), HTTP_HEADER_OTHER);
    ck_assert_int_eq(http_header_id("X-A-Header-Name-Longer-Than-Any-Known-One", 41),
                     HTTP_HEADER_OTHER);
}
END_TEST

START_TEST(test_parse_errors_map_to_nginx_status)
{
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_VERSION), 505);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_METHOD), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_REQUEST), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_09_METHOD), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_HEADER), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_CHUNK), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_INVALID_HOST), 400);
    ck_assert_int_eq(http_parse_status(HTTP_PARSE_OK), 0);
    ck_assert_str_eq(http_parse_error_text(HTTP_PARSE_INVALID_VERSION),
                     "client sent invalid version");
    ck_assert_str_eq(http_parse_error_text(HTTP_PARSE_INVALID_09_METHOD),
                     "client sent invalid method in HTTP/0.9 request");
    ck_assert_str_eq(http_parse_error_text(HTTP_PARSE_AGAIN), "");
}
END_TEST

/* ---- chunked decoder ---- */

typedef struct {
    int rc;
    char data[256];
    size_t data_len;
    size_t consumed; /* total bytes consumed from the input */
} chunked_result_t;

/* Decodes input given in pieces of at most `step` bytes (0: all at once), the way a reader
 * would: each call sees only the unconsumed bytes of the current piece. */
static chunked_result_t decode(const char *in, size_t len, size_t step)
{
    chunked_result_t r = {HTTP_PARSE_AGAIN, {0}, 0, 0};
    http_chunked_t c;
    size_t off = 0;

    http_chunked_init(&c);
    while (off < len) {
        size_t piece = step == 0 || len - off < step ? len - off : step;
        char *copy = malloc(piece);
        size_t used = 0;

        memcpy(copy, in + off, piece);
        while (used < piece) {
            size_t consumed;
            http_span_t data;

            r.rc = http_parse_chunked(&c, copy + used, piece - used, &consumed, &data);
            ck_assert_uint_le(consumed, piece - used);
            if (r.rc == HTTP_PARSE_OK) {
                ck_assert_uint_le(r.data_len + data.len, sizeof(r.data));
                memcpy(r.data + r.data_len, copy + used + data.start, data.len);
                r.data_len += data.len;
                ck_assert_uint_eq(data.start + data.len, consumed);
            }
            used += consumed;
            if (r.rc != HTTP_PARSE_OK)
                break;
        }
        free(copy);
        off += used;
        r.consumed = off;
        if (r.rc != HTTP_PARSE_OK && r.rc != HTTP_PARSE_AGAIN)
            break;
    }
    return r;
}

typedef struct {
    const char *in;
    size_t len;
    const char *data;
    size_t data_len;
} chunked_ok_case_t;

static const chunked_ok_case_t chunked_ok_cases[] = {
    {S("5\r\nhello\r\n0\r\n\r\n"), S("hello")},
    /* nginx 1.22: bare LF ends every line of the framing */
    {S("5\nhello\n0\n\n"), S("hello")},
    {S("5\r\nhello\n0\r\n\r\n"), S("hello")},
    {S("5\r\nhello\r\n0\n\r\n"), S("hello")},
    {S("5\r\nhello\r\n0\r\n\n"), S("hello")},
    /* nginx: extensions after ';', space or tab are skipped whatever they hold */
    {S("5;ext=1\r\nhello\r\n0;x\r\n\r\n"), S("hello")},
    {S("5 \r\nhello\r\n0 \r\n\r\n"), S("hello")},
    {S("5\t\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("5 ; a=b\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("5;\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("5;a\x00" "b\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("5;a\x01" "b\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("00000000000000000000000005\r\nhello\r\n0\r\n\r\n"), S("hello")},
    {S("a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n"), S("01234567890123456789")},
    {S("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), S("helloworld")},
    {S("5\r\nhello\r\n000\r\n\r\n"), S("hello")},
    {S("0000000000000000000000\r\n\r\n"), S("")},
    {S("0\r\n\r\n"), S("")},
    /* nginx: trailer lines are skipped, NUL or not */
    {S("5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"), S("hello")},
    {S("5\r\nhello\r\n0\r\nTrailer: x\nT2: y\n\n"), S("hello")},
    {S("5\r\nhello\r\n0\r\nTr\x00" "ailer: x\r\n\r\n"), S("hello")},
    {S("5\r\nhello\r\n0\r\n \r\n\r\n"), S("hello")},
    {S("5\r\nhello\r\n0\r\n:\r\n\r\n"), S("hello")},
    {S("3\r\n\r\n\0\r\n0\r\n\r\n"), S("\r\n\0")},
};

START_TEST(test_chunked_decodes_nginx_forms)
{
    const chunked_ok_case_t *c = &chunked_ok_cases[_i];
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        chunked_result_t r = decode(c->in, c->len, steps[s]);
        size_t want = c->data_len;
        ck_assert_msg(r.rc == HTTP_PARSE_CHUNKED_DONE, "case %d step %zu: rc %d", _i, steps[s],
                      r.rc);
        ck_assert_uint_eq(r.data_len, want);
        ck_assert(memcmp(r.data, c->data, want) == 0);
        ck_assert_uint_eq(r.consumed, c->len);
    }
}
END_TEST

START_TEST(test_chunked_resumes_at_every_split)
{
    static const char in[] = "4;x\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: 1\r\n\r\n";
    const size_t len = sizeof(in) - 1;

    for (size_t cut = 0; cut <= len; cut++) {
        http_chunked_t c;
        char out[64];
        size_t out_len = 0, off = 0;
        int rc = HTTP_PARSE_AGAIN;
        size_t bounds[2] = {cut, len};

        http_chunked_init(&c);
        for (int part = 0; part < 2 && rc != HTTP_PARSE_CHUNKED_DONE; part++) {
            while (off < bounds[part]) {
                size_t consumed;
                http_span_t data;

                rc = http_parse_chunked(&c, in + off, bounds[part] - off, &consumed, &data);
                ck_assert(rc == HTTP_PARSE_OK || rc == HTTP_PARSE_AGAIN ||
                          rc == HTTP_PARSE_CHUNKED_DONE);
                memcpy(out + out_len, in + off + data.start, data.len);
                out_len += data.len;
                off += consumed;
                if (rc == HTTP_PARSE_CHUNKED_DONE)
                    break;
            }
        }
        ck_assert_int_eq(rc, HTTP_PARSE_CHUNKED_DONE);
        ck_assert_uint_eq(off, len);
        ck_assert_uint_eq(out_len, 23);
        ck_assert(memcmp(out, "wikipedia in\r\n\r\nchunks.", 23) == 0);
    }
}
END_TEST

static const rl_bad_case_t chunked_bad_cases[] = {
    /* nginx 400 "client sent invalid chunked body" */
    {S("5\rhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhelloX\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\rX0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5;a\rb\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5x\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S(" 5\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("\r\n5\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("0x5\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("+5\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("-5\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S(";\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\r\nhello\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\r\n0\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n0\r\nT: x\r\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n0\r\nTrailer: x\rY\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n0\r\n\r\r\n"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n0\r\n\rX"), HTTP_PARSE_INVALID_CHUNK},
    {S("5\r\nhello\r\n0\r\r\n\r\n"), HTTP_PARSE_INVALID_CHUNK},
    /* nginx: sizes above 0x7ffffffffffffff (2^59 - 1) are invalid, not "too large" */
    {S("800000000000000\r\nhello"), HTTP_PARSE_INVALID_CHUNK},
    {S("1000000000000000\r\nhello"), HTTP_PARSE_INVALID_CHUNK},
    {S("7fffffffffffffff\r\nhello"), HTTP_PARSE_INVALID_CHUNK},
    {S("8000000000000000\r\nhello"), HTTP_PARSE_INVALID_CHUNK},
    {S("fffffffffffffffff\r\nhello"), HTTP_PARSE_INVALID_CHUNK},
    {S("ffffffffffffffffffffffffffffffff\r\n"), HTTP_PARSE_INVALID_CHUNK},
};

START_TEST(test_chunked_refuses_malformed)
{
    const rl_bad_case_t *c = &chunked_bad_cases[_i];
    chunked_result_t whole = decode(c->in, c->len, 0);
    chunked_result_t bytewise = decode(c->in, c->len, 1);

    ck_assert_msg(whole.rc == c->rc, "case %d: rc %d", _i, whole.rc);
    ck_assert_int_eq(bytewise.rc, c->rc);
    ck_assert_uint_eq(bytewise.consumed, whole.consumed);
}
END_TEST

START_TEST(test_chunked_largest_size_is_accepted)
{
    static const char in[] = "7ffffffffffffff\r\nab";
    http_chunked_t c;
    size_t consumed;
    http_span_t data;

    http_chunked_init(&c);
    ck_assert_int_eq(http_parse_chunked(&c, in, sizeof(in) - 1, &consumed, &data),
                     HTTP_PARSE_OK);
    ck_assert_uint_eq(data.len, 2);
    ck_assert(c.size == HTTP_CHUNK_SIZE_MAX - 2);
}
END_TEST

START_TEST(test_chunked_announced_size_visible_before_data)
{
    /* lets the caller answer 413 like nginx ("client intended to send too large chunked
     * body") as soon as the size line is read */
    static const char in[] = "100000\r\n";
    http_chunked_t c;
    size_t consumed;
    http_span_t data;

    http_chunked_init(&c);
    ck_assert_int_eq(http_parse_chunked(&c, in, sizeof(in) - 1, &consumed, &data),
                     HTTP_PARSE_AGAIN);
    ck_assert_uint_eq(consumed, sizeof(in) - 1);
    ck_assert(c.size == 0x100000);
}
END_TEST

START_TEST(test_chunked_stops_after_last_chunk)
{
    static const char in[] = "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    chunked_result_t r = decode(in, sizeof(in) - 1, 0);
    http_chunked_t c;
    size_t consumed;
    http_span_t data;

    ck_assert_int_eq(r.rc, HTTP_PARSE_CHUNKED_DONE);
    ck_assert_uint_eq(r.consumed, strlen("1\r\na\r\n0\r\n\r\n"));

    http_chunked_init(&c);
    ck_assert_int_eq(http_parse_chunked(&c, S("0\r\n\r\n"), &consumed, &data),
                     HTTP_PARSE_CHUNKED_DONE);
    ck_assert_int_eq(http_parse_chunked(&c, S("more"), &consumed, &data),
                     HTTP_PARSE_CHUNKED_DONE);
    ck_assert_uint_eq(consumed, 0);
}
END_TEST

START_TEST(test_chunked_incomplete_body_wants_more)
{
    static const char *partial[] = {"", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r",
                                    "0\r\n", "0\r\nT: x", "0\r\n\r", "5;ext"};
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        chunked_result_t r = decode(partial[i], strlen(partial[i]), 0);
        ck_assert_msg(r.rc == HTTP_PARSE_AGAIN || r.rc == HTTP_PARSE_OK, "%s: rc %d",
                      partial[i], r.rc);
        ck_assert_uint_eq(r.consumed, strlen(partial[i]));
    }
}
END_TEST

/* ---- URI normaliser ---- */

typedef struct {
    const char *in;
    const char *merged;   /* merge_slashes on; NULL: invalid (nginx 400) */
    const char *unmerged; /* merge_slashes off */
} uri_case_t;

/* Every row was sent to nginx 1.22 with merge_slashes on and off and $uri read back. */
static const uri_case_t uri_cases[] = {
    {"/", "/", "/"},
    {"/a/b", "/a/b", "/a/b"},
    {"/a/./b", "/a/b", "/a/b"},
    {"/a/../b", "/b", "/b"},
    {"/../x", NULL, NULL},
    {"/a/%2e%2e/b", "/b", "/b"},
    {"/a/%2E%2E/b", "/b", "/b"},
    {"/a/.%2e/b", "/b", "/b"},
    {"/a//b", "/a/b", "/a//b"},
    {"/%00", NULL, NULL},
    {"/a%00b", NULL, NULL},
    {"/a/..", "/", "/"},
    {"/a/.", "/a/", "/a/"},
    {"/a/b/..", "/a/", "/a/"},
    {"/a/b/../", "/a/", "/a/"},
    {"/a/b/.", "/a/b/", "/a/b/"},
    {"/.", "/", "/"},
    {"/..", NULL, NULL},
    {"/./", "/", "/"},
    {"/../", NULL, NULL},
    {"/a/../..", NULL, NULL},
    {"/a/../../b", NULL, NULL},
    {"/a/..b", "/a/..b", "/a/..b"},
    {"/a/.b", "/a/.b", "/a/.b"},
    {"/a/...", "/a/...", "/a/..."},
    {"/a/.../b", "/a/.../b", "/a/.../b"},
    {"/...", "/...", "/..."},
    {"//", "/", "//"},
    {"///a///b//", "/a/b/", "///a///b//"},
    {"/a%2Fb", "/a/b", "/a/b"},
    {"/a%2fb", "/a/b", "/a/b"},
    {"/a%2F..%2Fb", "/b", "/b"},
    {"/a/b%2F..%2F..%2F..%2Fc", NULL, NULL},
    {"/a%2F%2Fb", "/a/b", "/a//b"},
    {"/a%25b", "/a%b", "/a%b"},
    {"/a%2525b", "/a%25b", "/a%25b"},
    {"/a%3Fb?x", "/a?b", "/a?b"},
    {"/a%23b", "/a#b", "/a#b"},
    {"/a#b", "/a", "/a"},
    {"/a?x#y", "/a", "/a"},
    {"/a/..#x", "/", "/"},
    {"/a#/../..", "/a", "/a"},
    {"/a/..?x", "/", "/"},
    {"/a/.?x", "/a/", "/a/"},
    {"/%41%42", "/AB", "/AB"},
    {"/%4", NULL, NULL},
    {"/%4g", NULL, NULL},
    {"/%g4", NULL, NULL},
    {"/%", NULL, NULL},
    {"/a%", NULL, NULL},
    {"/a%2", NULL, NULL},
    {"/%20", "/ ", "/ "},
    {"/%7f", "/\x7f", "/\x7f"},
    {"/%0a", "/\n", "/\n"},
    {"/%0d", "/\r", "/\r"},
    {"/%FF", "/\xff", "/\xff"},
    {"/a%2e", "/a.", "/a."},
    {"/a/%2e", "/a/", "/a/"},
    {"/a/%2e/", "/a/", "/a/"},
    {"/a/%2e%2e", "/", "/"},
    {"/%2e%2e/", NULL, NULL},
    {"/.%2e", NULL, NULL},
    {"/a/./%2e%2e", "/", "/"},
    {"/%2e/a", "/a", "/a"},
    {"/a/.%2E", "/", "/"},
    {"/ab%2F%2E%2E", "/", "/"},
    {"/a%2e%2e%2f", "/a../", "/a../"},
    {"/a.b/c", "/a.b/c", "/a.b/c"},
    {"/a+b", "/a+b", "/a+b"},
    {"/a/./../b", "/b", "/b"},
    {"/a/./.", "/a/", "/a/"},
    {"/a/.//b", "/a/b", "/a//b"},
    {"/a/..//b", "/b", "//b"},
    {"/a//../b", "/b", "/a/b"},
    {"/a/b//../c", "/a/c", "/a/b/c"},
    {"/a\\b", "/a\\b", "/a\\b"},
    {"/a/..\\b", "/a/..\\b", "/a/..\\b"},
    {"/a;b/../c", "/c", "/c"},
    {"/a?%zz", "/a", "/a"},
    {"/a#%zz", "/a", "/a"},
};

START_TEST(test_normalize_uri_matches_nginx)
{
    const uri_case_t *c = &uri_cases[_i];

    for (int merge = 0; merge <= 1; merge++) {
        const char *want = merge ? c->merged : c->unmerged;
        size_t len = strlen(c->in);
        char *out = malloc(len);
        size_t out_len = 0;
        int rc = http_normalize_uri(c->in, len, out, &out_len, merge);

        if (want == NULL) {
            ck_assert_msg(rc == HTTP_PARSE_INVALID_REQUEST, "%s merge=%d: rc %d", c->in, merge,
                          rc);
        } else {
            ck_assert_msg(rc == HTTP_PARSE_OK, "%s merge=%d: rc %d", c->in, merge, rc);
            ck_assert_msg(out_len == strlen(want) && memcmp(out, want, out_len) == 0,
                          "%s merge=%d: got %.*s", c->in, merge, (int)out_len, out);
        }
        free(out);
    }
}
END_TEST

START_TEST(test_normalize_uri_refuses_relative_and_empty)
{
    char out[8];
    size_t out_len;

    ck_assert_int_eq(http_normalize_uri("", 0, out, &out_len, 1), HTTP_PARSE_INVALID_REQUEST);
    ck_assert_int_eq(http_normalize_uri("a/b", 3, out, &out_len, 1),
                     HTTP_PARSE_INVALID_REQUEST);
}
END_TEST

START_TEST(test_uri_exten_of_normalised_path)
{
    struct {
        const char *path, *exten;
    } cases[] = {{"/a.html", "html"}, {"/a.tar.gz", "gz"}, {"/a.b/c", ""}, {"/.htaccess", ""},
                 {"/a/.b.c", "c"},     {"/a.", ""},        {"/", ""},      {"", ""},
                 {"x.y", "y"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_span_t s = http_uri_exten(cases[i].path, strlen(cases[i].path));
        ck_span(cases[i].path, s, cases[i].exten);
    }
}
END_TEST

/* ---- Host validation ---- */

typedef struct {
    const char *in;
    size_t len;
    const char *host; /* NULL: invalid (nginx 400 "client sent invalid host header") */
} host_case_t;

/* Every row was sent to nginx 1.22 as a Host header and $host read back. */
static const host_case_t host_cases[] = {
    {S("example.com"), "example.com"},
    {S("Example.COM"), "example.com"},
    {S("a.b."), "a.b"},
    {S(".a"), ".a"},
    {S("a:80"), "a"},
    {S("a:"), "a"},
    {S("a:b:c"), "a"},
    {S("a:80:90"), "a"},
    {S("a.:80"), "a"},
    {S("1.2.3.4:99999"), "1.2.3.4"},
    {S("[::1]:80"), "[::1]"},
    {S("[::1"), "[::1"},
    {S("[::1]x"), "[::1]"},
    {S("[a]"), "[a]"},
    {S("[]"), "[]"},
    {S("[a.]"), "[a.]"},
    {S("[a]."), "[a]"},
    {S("x[a]"), "x[a]"},
    {S("a]"), "a]"},
    {S("a\\b"), "a\\b"},
    {S("a_b"), "a_b"},
    {S("a%b"), "a%b"},
    {S("a@b"), "a@b"},
    {S("a?b"), "a?b"},
    {S("a#b"), "a#b"},
    {S("\x80x"), "\x80x"},
    {S("a."), "a"},
    {S("a..b"), NULL},
    {S("a.."), NULL},
    {S("."), NULL},
    {S(".."), NULL},
    {S(".:80"), NULL},
    {S(":80"), NULL},
    {S(":"), NULL},
    {S(""), NULL},
    {S(" "), NULL},
    {S("a/b"), NULL},
    {S("a b"), NULL},
    {S("a\tb"), NULL},
    {S("a\x01" "b"), NULL},
    {S("a\x7f" "b"), NULL},
    {S("a\x00" "b"), NULL},
    {S("[a..b]"), NULL},
    {S("[a/b]"), NULL},
    {S("a:8..0"), NULL},
    {S("a:8/0"), NULL},
    {S("a:8 0"), NULL},
    {S("[a]:8/0"), NULL},
};

START_TEST(test_validate_host_matches_nginx)
{
    const host_case_t *c = &host_cases[_i];
    char *out = malloc(c->len + 1);
    size_t out_len = 0;
    int rc = http_validate_host(c->in, c->len, out, &out_len);

    if (c->host == NULL) {
        ck_assert_msg(rc == HTTP_PARSE_INVALID_HOST, "case %d: rc %d", _i, rc);
    } else {
        ck_assert_msg(rc == HTTP_PARSE_OK, "case %d: rc %d", _i, rc);
        ck_assert_msg(out_len == strlen(c->host) && memcmp(out, c->host, out_len) == 0,
                      "case %d: got %.*s", _i, (int)out_len, out);
    }
    free(out);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *http_parse_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *rl = tcase_create("request_line");
    TCase *hl = tcase_create("header_line");
    TCase *ch = tcase_create("chunked");
    TCase *uri = tcase_create("uri");

    tcase_add_loop_test(rl, test_request_line_accepts_nginx_forms, 0, N(rl_ok_cases));
    tcase_add_loop_test(rl, test_request_line_refuses_malformed, 0, N(rl_bad_cases));
    tcase_add_test(rl, test_request_line_spans_for_logging);
    tcase_add_test(rl, test_request_line_absolute_form_keeps_target_and_schema);
    tcase_add_test(rl, test_request_line_empty_path_flags_uri);
    tcase_add_test(rl, test_request_line_http09_has_no_protocol);
    tcase_add_test(rl, test_request_line_flags_complex_and_quoted_paths);
    tcase_add_test(rl, test_request_line_exten_from_last_segment);
    tcase_add_test(rl, test_request_line_again_until_line_end);
    tcase_add_test(rl, test_request_line_refuses_control_bytes_in_target);
    tcase_add_test(rl, test_request_line_error_position_points_at_bad_byte);
    tcase_add_test(rl, test_parse_errors_map_to_nginx_status);
    suite_add_tcase(s, rl);

    tcase_add_loop_test(hl, test_header_line_accepts_nginx_forms, 0, N(hl_ok_cases));
    tcase_add_loop_test(hl, test_header_line_refuses_malformed, 0, N(hl_bad_cases));
    tcase_add_test(hl, test_header_underscores_valid_when_allowed);
    tcase_add_test(hl, test_header_block_parses_line_after_line);
    tcase_add_test(hl, test_header_block_resumes_at_every_split);
    tcase_add_test(hl, test_header_hash_ignores_case);
    tcase_add_test(hl, test_known_headers_found_case_insensitively);
    tcase_add_test(hl, test_every_known_header_found_among_names_of_its_length);
    suite_add_tcase(s, hl);

    tcase_add_loop_test(ch, test_chunked_decodes_nginx_forms, 0, N(chunked_ok_cases));
    tcase_add_loop_test(ch, test_chunked_refuses_malformed, 0, N(chunked_bad_cases));
    tcase_add_test(ch, test_chunked_resumes_at_every_split);
    tcase_add_test(ch, test_chunked_largest_size_is_accepted);
    tcase_add_test(ch, test_chunked_announced_size_visible_before_data);
    tcase_add_test(ch, test_chunked_stops_after_last_chunk);
    tcase_add_test(ch, test_chunked_incomplete_body_wants_more);
    suite_add_tcase(s, ch);

    tcase_add_loop_test(uri, test_normalize_uri_matches_nginx, 0, N(uri_cases));
    tcase_add_test(uri, test_normalize_uri_refuses_relative_and_empty);
    tcase_add_test(uri, test_uri_exten_of_normalised_path);
    tcase_add_loop_test(uri, test_validate_host_matches_nginx, 0, N(host_cases));
    suite_add_tcase(s, uri);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_parse_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
