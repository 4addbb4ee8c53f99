/* Variables, compiled values and regex captures against hand-built requests. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/px_time.h"
#include "http/http_regex.h"
#include "http/http_variables.h"

/* The real module lives in http_core_module.c; a standalone build of this test has only
 * this stand-in (weak, so the library's definition wins when linked with it). */
__attribute__((weak)) conf_module_t http_core_module = {.name = "http_core"};

static px_cycle_t *cycle;
static conf_ctx_t cf;
static conf_http_ctx_t http;
static void *main_confs[1];
static conf_node_t node;
static FILE *errlog;

static void setup(void)
{
    cycle = px_cycle_new();
    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = cycle->pool;
    cf.type = CONF_HTTP;
    http_core_module.index = 0;
    main_confs[0] = px_pcalloc(cycle->pool, sizeof(http_core_main_conf_t));
    http.main_conf = main_confs;
    cf.http = &http;
    memset(&node, 0, sizeof(node));
    node.file = "t.conf";
    node.line = 3;
    cf.node = &node;
    errlog = tmpfile();
    px_errlog.fd = fileno(errlog);
    px_errlog.level = PX_LOG_DEBUG;
    ck_assert_int_eq(http_variables_preconfigure(&cf), PX_OK);
}

static void teardown(void)
{
    px_cycle_free(cycle);
    fclose(errlog);
    px_errlog.fd = 2;
    px_errlog.level = PX_LOG_ERR;
}

/* Everything logged since setup. */
static const char *logged(void)
{
    static char buf[8192];
    fflush(errlog);
    long n = pread(fileno(errlog), buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static px_str_t S(const char *s)
{
    return px_str_make(s, strlen(s));
}

static http_request_t *new_request(void)
{
    http_request_t *r = px_pcalloc(cycle->pool, sizeof(*r));
    r->pool = cycle->pool;
    r->main_conf = main_confs;
    r->log = px_errlog;
    r->out_content_length = -1;
    r->content_length_n = -1;
    px_array_init(&r->headers, r->pool, 8, sizeof(http_header_t));
    px_array_init(&r->out_headers, r->pool, 8, sizeof(http_header_t));
    return r;
}

static void add_header(px_array_t *a, const char *name, const char *value)
{
    http_header_t *h = px_array_push(a);
    h->name = S(name);
    h->value = S(value);
}

/* Compiles tmpl, binds variables, and evaluates it for r (forgetting r's cached values). */
static const char *eval(http_request_t *r, const char *tmpl)
{
    http_cv_t cv;
    const char *rv = http_cv_compile(&cf, S(tmpl), &cv);
    ck_assert_msg(rv == NULL, "compile %s: %s", tmpl, rv == CONF_ERROR ? "(logged)" : rv);
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    ck_assert_int_eq(http_variables_request_init(r), PX_OK);
    px_str_t out;
    ck_assert_int_eq(http_cv_eval(r, &cv, &out), PX_OK);
    return px_pstrdup(r->pool, out.data, out.len);
}

/* Index of name after binding, for http_var_get checks. */
static int bound(http_request_t *r, const char *name)
{
    int index = http_var_index(&cf, S(name));
    ck_assert_int_ge(index, 0);
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    ck_assert_int_eq(http_variables_request_init(r), PX_OK);
    return index;
}

static const char *compile_error(const char *tmpl)
{
    http_cv_t cv;
    const char *rv = http_cv_compile(&cf, S(tmpl), &cv);
    return rv ? rv : "(none)";
}

/* ---- compile ---- */

START_TEST(test_cv_dollar_at_end_is_invalid_variable_name)
{
    ck_assert_str_eq(compile_error("abc$"), "invalid variable name");
    ck_assert_str_eq(compile_error("$"), "invalid variable name");
}
END_TEST

START_TEST(test_cv_dollar_before_non_name_char_is_invalid)
{
    ck_assert_str_eq(compile_error("a$-b"), "invalid variable name");
    ck_assert_str_eq(compile_error("a$ b"), "invalid variable name");
    ck_assert_str_eq(compile_error("a${}b"), "invalid variable name");
    ck_assert_str_eq(compile_error("a${"), "invalid variable name");
}
END_TEST

START_TEST(test_cv_unclosed_bracket_names_the_variable)
{
    ck_assert_str_eq(compile_error("a${foo"), "the closing bracket in \"foo\" variable is missing");
    ck_assert_str_eq(compile_error("${a-b}"), "the closing bracket in \"a\" variable is missing");
}
END_TEST

START_TEST(test_cv_unknown_variable_fails_resolve_without_location)
{
    http_cv_t cv;
    ck_assert_ptr_null(http_cv_compile(&cf, S("x $FOO y"), &cv));
    ck_assert_int_eq(http_variables_resolve(&cf), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "[emerg] "));
    ck_assert_ptr_nonnull(strstr(logged(), "unknown \"foo\" variable\n"));
}
END_TEST

START_TEST(test_cv_digit_zero_is_an_unknown_variable_not_a_capture)
{
    http_cv_t cv;
    ck_assert_ptr_null(http_cv_compile(&cf, S("$0"), &cv));
    ck_assert_int_eq(http_variables_resolve(&cf), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "unknown \"0\" variable"));
}
END_TEST

START_TEST(test_cv_without_variables_is_the_literal_itself)
{
    http_cv_t cv;
    px_str_t src = S("plain text");
    ck_assert_ptr_null(http_cv_compile(&cf, src, &cv));
    ck_assert(!cv.has_vars);
    px_str_t out;
    ck_assert_int_eq(http_cv_eval(new_request(), &cv, &out), PX_OK);
    ck_assert_ptr_eq(out.data, src.data);
    ck_assert_uint_eq(out.len, src.len);
}
END_TEST

START_TEST(test_cv_concatenates_text_variables_and_brackets)
{
    http_request_t *r = new_request();
    r->uri = S("/index.html");
    r->args = S("a=1");
    ck_assert_str_eq(eval(r, "[$uri]${args}x$is_args$args."), "[/index.html]a=1x?a=1.");
}
END_TEST

START_TEST(test_cv_missing_variable_is_empty)
{
    http_request_t *r = new_request();
    ck_assert_str_eq(eval(r, "<$http_nothing><$args>"), "<><>");
}
END_TEST

/* ---- request headers, args, cookies ---- */

START_TEST(test_http_variable_matches_header_ignoring_case_with_dash_as_underscore)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "User-Agent", "curl/8");
    add_header(&r->headers, "X-Custom-Header", "v");
    ck_assert_str_eq(eval(r, "$http_user_agent|$HTTP_X_CUSTOM_HEADER|$Http_X_Custom_Header"),
                     "curl/8|v|v");
}
END_TEST

START_TEST(test_http_variable_absent_header_is_not_found)
{
    http_request_t *r = new_request();
    int index = bound(r, "http_referer");
    ck_assert_ptr_null(http_var_get(r, index));
}
END_TEST

START_TEST(test_http_variable_joins_repeated_headers_with_comma)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "XX", "1");
    add_header(&r->headers, "Other", "o");
    add_header(&r->headers, "Xx", "2");
    ck_assert_str_eq(eval(r, "$http_xx"), "1, 2");
}
END_TEST

START_TEST(test_http_cookie_joins_repeated_headers_with_semicolon)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "Cookie", "c=v1; d=2");
    add_header(&r->headers, "Cookie", "e=3");
    ck_assert_str_eq(eval(r, "$http_cookie"), "c=v1; d=2; e=3");
}
END_TEST

START_TEST(test_arg_variable_finds_names_case_insensitively_at_argument_start)
{
    http_request_t *r = new_request();
    r->args = S("xa=1&A=2&b=&c");
    ck_assert_str_eq(eval(r, "[$arg_a][$arg_b][$arg_x]"), "[2][][]");
    int b = bound(r, "arg_b"), c = bound(r, "arg_c");
    ck_assert_ptr_nonnull(http_var_get(r, b));
    /* "c" without '=' is not an argument with a value. */
    ck_assert_ptr_null(http_var_get(r, c));
}
END_TEST

START_TEST(test_arg_lookup_handles_empty_and_trailing_args)
{
    http_request_t *r = new_request();
    px_str_t v;
    ck_assert(!http_arg(r, S("a"), &v));
    r->args = S("a");
    ck_assert(!http_arg(r, S("a"), &v));
    r->args = S("a=");
    ck_assert(http_arg(r, S("a"), &v));
    ck_assert_uint_eq(v.len, 0);
    r->args = S("b=1&a=x&a=y");
    ck_assert(http_arg(r, S("a"), &v));
    ck_assert(px_str_eq_lit(v, "x"));
    /* As nginx 1.22 logs them: "a=1&&b&b=2" gives b "2", "a==" gives a "=". */
    r->args = S("a=1&&b&b=2");
    ck_assert(http_arg(r, S("b"), &v));
    ck_assert(px_str_eq_lit(v, "2"));
    r->args = S("a==");
    ck_assert(http_arg(r, S("a"), &v));
    ck_assert(px_str_eq_lit(v, "="));
}
END_TEST

START_TEST(test_cookie_variable_parses_like_nginx)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "Cookie", "xc=1, c = v2 ;c=3");
    add_header(&r->headers, "Cookie", "D=4");
    /* nginx 1.22 logs the same: a value runs to ';', not to ','. */
    ck_assert_str_eq(eval(r, "[$cookie_c][$cookie_d][$cookie_xc][$cookie_e]"),
                     "[v2 ][4][1, c = v2 ][]");
}
END_TEST

START_TEST(test_cookie_with_empty_value_is_found)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "Cookie", "c");
    add_header(&r->headers, "Cookie", "C=");
    int c = bound(r, "cookie_c");
    http_var_value_t *v = http_var_get(r, c);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->value.len, 0);
    int x = bound(r, "cookie_x");
    ck_assert_ptr_null(http_var_get(r, x));
}
END_TEST

START_TEST(test_content_length_and_type_come_from_headers)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "Content-Length", "12");
    add_header(&r->headers, "Content-Type", "text/plain");
    r->h_content_length = &((http_header_t *)r->headers.elts)[0];
    r->h_content_type = &((http_header_t *)r->headers.elts)[1];
    ck_assert_str_eq(eval(r, "$content_length $content_type"), "12 text/plain");
    http_request_t *r2 = new_request();
    int cl = bound(r2, "content_length");
    ck_assert_ptr_null(http_var_get(r2, cl));
}
END_TEST

START_TEST(test_remote_user_from_basic_authorization)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "Authorization", "Basic dXNlcjpwdw==");
    ck_assert_str_eq(eval(r, "$remote_user"), "user");

    const char *rejected[] = {"Basic Onc=", "Bearer dXNlcjpwdw==", "Basic ", "Basic dXNlcg==",
                              "Basic d*Nlcjpwdw==", "Basic dXNlcjpwd"};
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        http_request_t *bad = new_request();
        add_header(&bad->headers, "Authorization", rejected[i]);
        int index = bound(bad, "remote_user");
        ck_assert_msg(http_var_get(bad, index) == NULL, "%s", rejected[i]);
    }
    http_request_t *spaced = new_request();
    add_header(&spaced->headers, "authorization", "basic   YTpi");
    ck_assert_str_eq(eval(spaced, "$remote_user"), "a");
}
END_TEST

/* ---- request line and response ---- */

START_TEST(test_request_line_variables)
{
    http_request_t *r = new_request();
    r->request_line = S("GET /a%20b?x=1 HTTP/1.1");
    r->method_name = S("GET");
    r->unparsed_uri = S("/a%20b?x=1");
    r->uri = S("/a b");
    r->args = S("x=1");
    r->http_major = 1;
    r->http_minor = 1;
    r->http_version = 1001;
    ck_assert_str_eq(eval(r, "$request|$request_method|$request_uri|$uri|$document_uri|$args|"
                             "$query_string|$is_args|$server_protocol|$scheme"),
                     "GET /a%20b?x=1 HTTP/1.1|GET|/a%20b?x=1|/a b|/a b|x=1|x=1|?|HTTP/1.1|http");
}
END_TEST

START_TEST(test_empty_args_are_not_found_and_is_args_empty)
{
    http_request_t *r = new_request();
    r->args = px_str_make("", 0);
    int args = bound(r, "args");
    int is_args = bound(r, "is_args");
    ck_assert_ptr_null(http_var_get(r, args));
    http_var_value_t *v = http_var_get(r, is_args);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->value.len, 0);
}
END_TEST

START_TEST(test_http09_has_no_server_protocol)
{
    http_request_t *r = new_request();
    r->http_version = 9;
    int index = bound(r, "server_protocol");
    ck_assert_ptr_null(http_var_get(r, index));
}
END_TEST

START_TEST(test_status_is_three_digits_and_prefers_error_status)
{
    http_request_t *r = new_request();
    ck_assert_str_eq(eval(r, "$status"), "000");
    r->status = 200;
    ck_assert_str_eq(eval(r, "$status"), "200");
    r->err_status = 502;
    ck_assert_str_eq(eval(r, "$status"), "502");
}
END_TEST

START_TEST(test_status_is_reevaluated_on_each_read)
{
    http_request_t *r = new_request();
    int index = bound(r, "status");
    ck_assert(px_str_eq_lit(http_var_get(r, index)->value, "000"));
    r->status = 404;
    ck_assert(px_str_eq_lit(http_var_get(r, index)->value, "404"));
}
END_TEST

START_TEST(test_byte_counters)
{
    http_request_t *r = new_request();
    r->request_length = 117;
    r->bytes_sent = 250;
    r->header_bytes_sent = 180;
    ck_assert_str_eq(eval(r, "$request_length $bytes_sent $body_bytes_sent"), "117 250 70");
    r->bytes_sent = 10;
    ck_assert_str_eq(eval(r, "$body_bytes_sent"), "0");
}
END_TEST

START_TEST(test_request_time_and_msec_have_milliseconds)
{
    http_request_t *r = new_request();
    px_current_sec = 1700000001;
    px_current_msec_part = 123;
    r->start_sec = 1700000000;
    r->start_msec_part = 373;
    ck_assert_str_eq(eval(r, "$request_time $msec"), "0.750 1700000001.123");
    r->start_sec = 1700000002;
    ck_assert_str_eq(eval(r, "$request_time"), "0.000");
    r->start_sec = 1699999000;
    r->start_msec_part = 0;
    ck_assert_str_eq(eval(r, "$request_time"), "1001.123");
}
END_TEST

START_TEST(test_time_variables_use_nginx_formats)
{
    http_request_t *r = new_request();
    px_time_update();
    px_str_t local = px_time_http_local(), iso = px_time_iso8601();
    char expect[128];
    snprintf(expect, sizeof(expect), "%.*s|%.*s", (int)local.len, local.data, (int)iso.len,
             iso.data);
    ck_assert_str_eq(eval(r, "$time_local|$time_iso8601"), expect);
    ck_assert_uint_eq(local.len, 26); /* 02/Jan/2026:03:04:05 +0000 */
    ck_assert_uint_eq(iso.len, 25);   /* 2026-01-02T03:04:05+00:00 */
}
END_TEST

START_TEST(test_request_id_is_32_hex_and_stable_within_a_request)
{
    http_request_t *r = new_request();
    const char *a = eval(r, "$request_id");
    ck_assert_uint_eq(strlen(a), 32);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 32);
    ck_assert_str_eq(eval(r, "$request_id"), a);
    ck_assert_str_eq(r->request_id, a);
    http_request_t *other = new_request();
    ck_assert_str_ne(eval(other, "$request_id"), a);
}
END_TEST

START_TEST(test_process_and_version_variables)
{
    http_request_t *r = new_request();
    char expect[512], host[256];
    gethostname(host, sizeof(host));
    for (char *p = host; *p; p++)
        *p = px_tolower(*p);
    snprintf(expect, sizeof(expect), "%d|%s|%s", (int)getpid(), PROXYD_VERSION, host);
    ck_assert_str_eq(eval(r, "$pid|$nginx_version|$hostname"), expect);
}
END_TEST

START_TEST(test_host_falls_back_to_server_name)
{
    http_request_t *r = new_request();
    http_core_srv_conf_t srv;
    memset(&srv, 0, sizeof(srv));
    srv.server_name = S("example.org");
    r->srv = &srv;
    ck_assert_str_eq(eval(r, "$host|$server_name"), "example.org|example.org");
    http_request_t *r2 = new_request();
    r2->srv = &srv;
    r2->host = S("www.test");
    ck_assert_str_eq(eval(r2, "$host|$server_name"), "www.test|example.org");
}
END_TEST

/* ---- connection ---- */

START_TEST(test_address_variables_from_connection)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&local, sizeof(local)), 0);
    socklen_t len = sizeof(local);
    getsockname(fd, (struct sockaddr *)&local, &len);

    px_conn_t c;
    memset(&c, 0, sizeof(c));
    c.io.fd = fd;
    c.number = 7;
    c.requests = 3;
    struct sockaddr_in *peer = (struct sockaddr_in *)&c.peer;
    peer->sin_family = AF_INET;
    peer->sin_port = htons(5555);
    inet_pton(AF_INET, "192.0.2.1", &peer->sin_addr);
    c.peer_len = sizeof(*peer);

    http_request_t *r = new_request();
    r->conn = &c;
    char expect[128];
    snprintf(expect, sizeof(expect), "192.0.2.1:5555 127.0.0.1:%u 7 3",
             (unsigned)ntohs(local.sin_port));
    ck_assert_str_eq(eval(r, "$remote_addr:$remote_port $server_addr:$server_port $connection "
                             "$connection_requests"),
                     expect);
    ck_assert_uint_eq(c.local_len, sizeof(struct sockaddr_in));
    int bin = bound(r, "binary_remote_addr");
    http_var_value_t *v = http_var_get(r, bin);
    ck_assert_uint_eq(v->value.len, 4);
    ck_assert_int_eq(memcmp(v->value.data, &peer->sin_addr, 4), 0);
    close(fd);
}
END_TEST

START_TEST(test_ipv6_remote_addr_has_no_brackets)
{
    px_conn_t c;
    memset(&c, 0, sizeof(c));
    struct sockaddr_in6 *peer = (struct sockaddr_in6 *)&c.peer;
    peer->sin6_family = AF_INET6;
    peer->sin6_port = htons(80);
    inet_pton(AF_INET6, "2001:db8::1", &peer->sin6_addr);
    c.peer_len = sizeof(*peer);
    http_request_t *r = new_request();
    r->conn = &c;
    ck_assert_str_eq(eval(r, "$remote_addr $remote_port"), "2001:db8::1 80");
}
END_TEST

/* ---- response headers ---- */

START_TEST(test_sent_http_variables)
{
    http_request_t *r = new_request();
    add_header(&r->out_headers, "X-Y", "1");
    add_header(&r->out_headers, "X-Y", "2");
    r->content_type = S("text/html");
    r->location = S("http://a/b");
    ck_assert_str_eq(eval(r, "$sent_http_x_y|$sent_http_content_type|$sent_http_location|"
                             "$sent_http_content_length"),
                     "1, 2|text/html|http://a/b|");
    r->out_content_length = 42;
    ck_assert_str_eq(eval(r, "$sent_http_content_length"), "42");
    int none = bound(r, "sent_http_etag");
    ck_assert_ptr_null(http_var_get(r, none));
}
END_TEST

/* ---- definitions, set, caching ---- */

START_TEST(test_redefining_a_core_variable_is_a_duplicate)
{
    http_var_def_t def = {S("uri"), NULL, 0, HTTP_VAR_CHANGEABLE};
    ck_assert_int_eq(http_var_define(&cf, &def), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "[emerg] "));
    ck_assert_ptr_nonnull(strstr(logged(), "the duplicate \"uri\" variable in t.conf:3\n"));
}
END_TEST

START_TEST(test_set_variable_reads_uninitialized_then_assigned)
{
    http_var_def_t def = {S("Foo"), NULL, 0, HTTP_VAR_CHANGEABLE};
    ck_assert_int_eq(http_var_define(&cf, &def), PX_OK);
    ck_assert_int_eq(http_var_define(&cf, &def), PX_OK); /* a second `set $foo` */
    http_request_t *r = new_request();
    int index = bound(r, "foo");
    ck_assert_ptr_null(http_var_get(r, index));
    ck_assert_ptr_nonnull(strstr(logged(), "[warn] "));
    ck_assert_ptr_nonnull(strstr(logged(), "using uninitialized \"foo\" variable"));
    ck_assert_int_eq(http_var_set(r, index, S("bar")), PX_OK);
    ck_assert(px_str_eq_lit(http_var_get(r, index)->value, "bar"));
    ck_assert(px_str_eq_lit(http_var_name(r, index), "foo"));
}
END_TEST

START_TEST(test_setting_args_changes_the_request)
{
    http_request_t *r = new_request();
    int args = bound(r, "args");
    int is_args = bound(r, "is_args");
    ck_assert_ptr_null(http_var_get(r, is_args)->value.len ? NULL : http_var_get(r, args));
    ck_assert_int_eq(http_var_set(r, args, S("q=1")), PX_OK);
    ck_assert(px_str_eq_lit(r->args, "q=1"));
    ck_assert(px_str_eq_lit(http_var_get(r, args)->value, "q=1"));
    ck_assert(px_str_eq_lit(http_var_get(r, is_args)->value, "?"));
}
END_TEST

START_TEST(test_uri_is_not_cached_but_host_is)
{
    http_request_t *r = new_request();
    r->uri = S("/a");
    r->host = S("one");
    int uri = bound(r, "uri");
    int host = bound(r, "host");
    ck_assert(px_str_eq_lit(http_var_get(r, uri)->value, "/a"));
    ck_assert(px_str_eq_lit(http_var_get(r, host)->value, "one"));
    r->uri = S("/b");
    r->host = S("two");
    ck_assert(px_str_eq_lit(http_var_get(r, uri)->value, "/b"));
    ck_assert(px_str_eq_lit(http_var_get(r, host)->value, "one"));
}
END_TEST

START_TEST(test_get_by_name_works_for_unreferenced_names)
{
    http_request_t *r = new_request();
    add_header(&r->headers, "X-A", "1");
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    http_var_value_t *v = http_var_get_by_name(r, S("HTTP_X_A"));
    ck_assert_ptr_nonnull(v);
    ck_assert(px_str_eq_lit(v->value, "1"));
    ck_assert_ptr_null(http_var_get_by_name(r, S("nosuch")));
    ck_assert_ptr_null(http_var_get_by_name(r, S("http_x_b")));
}
END_TEST

START_TEST(test_out_of_range_index_reads_nothing)
{
    http_request_t *r = new_request();
    ck_assert_ptr_null(http_var_get(r, -1));
    ck_assert_ptr_null(http_var_get(r, 1000));
    ck_assert_int_eq(http_var_set(r, 1000, S("x")), PX_ERROR);
}
END_TEST

static int get_family(http_request_t *r, http_var_value_t *v, uintptr_t data)
{
    const http_var_prefix_arg_t *arg = (const http_var_prefix_arg_t *)data;
    v->value = px_pstr(r->pool, arg->suffix.data, arg->suffix.len);
    if (arg->data != 42)
        v->not_found = 1;
    return PX_OK;
}

START_TEST(test_prefix_family_receives_suffix_and_data)
{
    http_var_def_t def = {S("my_"), get_family, 42, HTTP_VAR_PREFIX};
    ck_assert_int_eq(http_var_define(&cf, &def), PX_OK);
    http_request_t *r = new_request();
    ck_assert_str_eq(eval(r, "[$my_Thing][$my_]"), "[thing][]");
}
END_TEST

/* ---- regex captures ---- */

START_TEST(test_regex_match_sets_numbered_and_named_captures)
{
    http_regex_t *re;
    ck_assert_int_eq(http_regex_compile(&cf, S("^/(\\w+)/(?<id>\\d+)(x)?$"), 0, &re), PX_OK);
    http_cv_t cv;
    ck_assert_ptr_null(http_cv_compile(&cf, S("$1|$2|$3|$id|$10|$9"), &cv));
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    http_request_t *r = new_request();
    ck_assert_int_eq(http_variables_request_init(r), PX_OK);
    ck_assert_int_eq(http_regex_exec(r, re, S("/abc/42")), 1);
    px_str_t out;
    ck_assert_int_eq(http_cv_eval(r, &cv, &out), PX_OK);
    ck_assert(px_str_eq_lit(out, "abc|42||42|abc0|"));

    /* No match clears $1..$9, as in nginx; named captures keep their values. */
    ck_assert_int_eq(http_regex_exec(r, re, S("nope")), 0);
    ck_assert_int_eq(http_cv_eval(r, &cv, &out), PX_OK);
    ck_assert(px_str_eq_lit(out, "|||42|0|"));
}
END_TEST

START_TEST(test_regex_caseless)
{
    http_regex_t *re;
    ck_assert_int_eq(http_regex_compile(&cf, S("^/IMG/(.*)"), 1, &re), PX_OK);
    http_request_t *r = new_request();
    ck_assert_int_eq(http_regex_exec(r, re, S("/img/a.png")), 1);
    ck_assert_int_eq(r->ncaptures, 2);
    ck_assert_uint_eq(r->captures[2], 5);
}
END_TEST

START_TEST(test_named_capture_before_match_is_not_found)
{
    http_regex_t *re;
    ck_assert_int_eq(http_regex_compile(&cf, S("(?<name>x)"), 0, &re), PX_OK);
    http_request_t *r = new_request();
    int index = bound(r, "name");
    ck_assert_ptr_null(http_var_get(r, index));
    ck_assert_ptr_null(strstr(logged(), "uninitialized"));
}
END_TEST

START_TEST(test_two_regexes_may_share_a_capture_name)
{
    http_regex_t *a, *b;
    ck_assert_int_eq(http_regex_compile(&cf, S("^(?<v>a+)$"), 0, &a), PX_OK);
    ck_assert_int_eq(http_regex_compile(&cf, S("^b(?<v>b+)$"), 0, &b), PX_OK);
    http_request_t *r = new_request();
    int index = bound(r, "v");
    ck_assert_int_eq(http_regex_exec(r, b, S("bbb")), 1);
    ck_assert(px_str_eq_lit(http_var_get(r, index)->value, "bb"));
    ck_assert_int_eq(http_regex_exec(r, a, S("aa")), 1);
    ck_assert(px_str_eq_lit(http_var_get(r, index)->value, "aa"));
}
END_TEST

START_TEST(test_capture_named_like_core_variable_is_a_duplicate)
{
    http_regex_t *re;
    ck_assert_int_eq(http_regex_compile(&cf, S("(?<uri>x)"), 0, &re), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "the duplicate \"uri\" variable in t.conf:3"));
}
END_TEST

START_TEST(test_bad_regex_logs_pcre_message_with_location)
{
    http_regex_t *re;
    ck_assert_int_eq(http_regex_compile(&cf, S("^/(a"), 0, &re), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "[emerg] "));
    ck_assert_ptr_nonnull(strstr(logged(), "pcre2_compile() failed: "));
    ck_assert_ptr_nonnull(strstr(logged(), " in t.conf:3\n"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_variables");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cv_dollar_at_end_is_invalid_variable_name);
    tcase_add_test(tc, test_cv_dollar_before_non_name_char_is_invalid);
    tcase_add_test(tc, test_cv_unclosed_bracket_names_the_variable);
    tcase_add_test(tc, test_cv_unknown_variable_fails_resolve_without_location);
    tcase_add_test(tc, test_cv_digit_zero_is_an_unknown_variable_not_a_capture);
    tcase_add_test(tc, test_cv_without_variables_is_the_literal_itself);
    tcase_add_test(tc, test_cv_concatenates_text_variables_and_brackets);
    tcase_add_test(tc, test_cv_missing_variable_is_empty);
    tcase_add_test(tc, test_http_variable_matches_header_ignoring_case_with_dash_as_underscore);
    tcase_add_test(tc, test_http_variable_absent_header_is_not_found);
    tcase_add_test(tc, test_http_variable_joins_repeated_headers_with_comma);
    tcase_add_test(tc, test_http_cookie_joins_repeated_headers_with_semicolon);
    tcase_add_test(tc, test_arg_variable_finds_names_case_insensitively_at_argument_start);
    tcase_add_test(tc, test_arg_lookup_handles_empty_and_trailing_args);
    tcase_add_test(tc, test_cookie_variable_parses_like_nginx);
    tcase_add_test(tc, test_cookie_with_empty_value_is_found);
    tcase_add_test(tc, test_content_length_and_type_come_from_headers);
    tcase_add_test(tc, test_remote_user_from_basic_authorization);
    tcase_add_test(tc, test_request_line_variables);
    tcase_add_test(tc, test_empty_args_are_not_found_and_is_args_empty);
    tcase_add_test(tc, test_http09_has_no_server_protocol);
    tcase_add_test(tc, test_status_is_three_digits_and_prefers_error_status);
    tcase_add_test(tc, test_status_is_reevaluated_on_each_read);
    tcase_add_test(tc, test_byte_counters);
    tcase_add_test(tc, test_request_time_and_msec_have_milliseconds);
    tcase_add_test(tc, test_time_variables_use_nginx_formats);
    tcase_add_test(tc, test_request_id_is_32_hex_and_stable_within_a_request);
    tcase_add_test(tc, test_process_and_version_variables);
    tcase_add_test(tc, test_host_falls_back_to_server_name);
    tcase_add_test(tc, test_address_variables_from_connection);
    tcase_add_test(tc, test_ipv6_remote_addr_has_no_brackets);
    tcase_add_test(tc, test_sent_http_variables);
    tcase_add_test(tc, test_redefining_a_core_variable_is_a_duplicate);
    tcase_add_test(tc, test_set_variable_reads_uninitialized_then_assigned);
    tcase_add_test(tc, test_setting_args_changes_the_request);
    tcase_add_test(tc, test_uri_is_not_cached_but_host_is);
    tcase_add_test(tc, test_get_by_name_works_for_unreferenced_names);
    tcase_add_test(tc, test_out_of_range_index_reads_nothing);
    tcase_add_test(tc, test_prefix_family_receives_suffix_and_data);
    tcase_add_test(tc, test_regex_match_sets_numbered_and_named_captures);
    tcase_add_test(tc, test_regex_caseless);
    tcase_add_test(tc, test_named_capture_before_match_is_not_found);
    tcase_add_test(tc, test_two_regexes_may_share_a_capture_name);
    tcase_add_test(tc, test_capture_named_like_core_variable_is_a_duplicate);
    tcase_add_test(tc, test_bad_regex_logs_pcre_message_with_location);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
