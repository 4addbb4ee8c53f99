"""The HTTP/1.1 server end to end: keepalive and pipelining, request bodies dropped between
requests, timeouts on the head, virtual server and location selection, `return`, error_page,
variables in return text, and access log lines.

Where nginx's answer is the reference, the same configuration runs under Debian's nginx and
the two answers are compared byte for byte once Date, Server, the version in page footers and
the listening port are made equal."""
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


def get(path, host="exact.test", extra=b"", close=True):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            + (b"Connection: close\r\n" if close else b"") + extra + b"\r\n")


class Differential(proxyd_test.Differential):
    def body_of(self, data, status=200):
        answer = self.exchange(data)
        self.assertEqual(proxyd_test.status_of(answer), status, answer[:300])
        return answer.partition(b"\r\n\r\n")[2]


# ---------------------------------------------------------------------------------------------
# keepalive, pipelining, bodies, Expect, timeouts

KEEPALIVE_CONF = r"""
http {
    access_log off;
    keepalive_requests 3;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        client_header_timeout 1s;
        keepalive_timeout 1s;
        location / { return 200 "uri=$uri\n"; }
        location /long { keepalive_timeout 60s; keepalive_requests 100; return 200 "long $uri\n"; }
        location /e404 { keepalive_requests 100; return 404; }
    }
}
"""


class KeepaliveTest(Differential):
    CONF = KEEPALIVE_CONF

    def connect(self, port=None):
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(s.close)
        return s

    def conversation(self, port, steps):
        """Sends each step's bytes and reads `count` responses after it; returns them all
        normalised (port included) and whether the server closed at the end."""
        s = self.connect(port)
        out, rest = [], b""
        for data, count in steps:
            if data:
                s.sendall(data)
            for _ in range(count):
                resp, rest = proxyd_test.recv_response(s, rest)
                out.append(proxyd_test.normalize_response(resp).replace(
                    str(port).encode(), b"PORT"))
        s.settimeout(3)
        try:
            closed = rest == b"" and s.recv(1) == b""
        except socket.timeout:
            closed = False
        return out, closed

    def compare(self, steps):
        got = self.conversation(self.port, steps)
        ref = self.conversation(self.nginx_port, steps)
        self.assertEqual(got, ref)
        return got

    def test_three_requests_on_one_connection_then_keepalive_requests_closes(self):
        (a, b, c), closed = self.compare([(get("/1", close=False), 1), (get("/2", close=False), 1),
                                          (get("/3", close=False), 1)])
        self.assertIn(b"\r\nConnection: keep-alive\r\n", a)
        self.assertTrue(a.endswith(b"uri=/1\n") and b.endswith(b"uri=/2\n"))
        self.assertIn(b"\r\nConnection: close\r\n", c)
        self.assertTrue(closed)

    def test_connection_close_is_honoured(self):
        (a,), closed = self.compare([(get("/c"), 1)])
        self.assertIn(b"\r\nConnection: close\r\n", a)
        self.assertTrue(closed)

    def test_http_1_0_closes_without_keep_alive(self):
        (a,), closed = self.compare([(b"GET /h10 HTTP/1.0\r\n\r\n", 1)])
        self.assertIn(b"\r\nConnection: close\r\n", a)
        self.assertTrue(closed)

    def test_http_1_0_with_keep_alive_stays_open(self):
        (a, b), closed = self.compare([(b"GET /long1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1),
                                       (b"GET /long2 HTTP/1.0\r\n\r\n", 1)])
        self.assertIn(b"\r\nConnection: keep-alive\r\n", a)
        self.assertIn(b"\r\nConnection: close\r\n", b)
        self.assertTrue(closed)

    def test_pipelined_requests_in_one_send_are_answered_in_order(self):
        data = b"".join(get("/long/%d" % i, close=False) for i in range(4)) + get("/long/last")
        got = self.compare([(data, 5)])[0]
        self.assertEqual([r.partition(b"\r\n\r\n")[2] for r in got],
                         [b"long /long/%d\n" % i for i in range(4)] + [b"long /long/last\n"])

    def test_pipelined_requests_split_at_odd_boundaries(self):
        data = (b"".join(get("/long/p%d" % i, close=False) for i in range(3))
                + b"POST /long/post HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + get("/long/end"))
        s = self.connect()
        for i in range(0, len(data), 7):
            s.sendall(data[i:i + 7])
            time.sleep(0.002)
        rest, bodies = b"", []
        for _ in range(5):
            resp, rest = proxyd_test.recv_response(s, rest)
            bodies.append(resp.partition(b"\r\n\r\n")[2])
        self.assertEqual(bodies, [b"long /long/p0\n", b"long /long/p1\n", b"long /long/p2\n",
                                  b"long /long/post\n", b"long /long/end\n"])

    def test_content_length_body_is_discarded_before_the_next_request(self):
        got, _ = self.compare([(b"POST /long/a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"
                                b"0123456789" + get("/long/b"), 2)])
        self.assertTrue(got[1].endswith(b"long /long/b\n"))

    def test_body_arriving_after_the_response_is_discarded(self):
        got, _ = self.compare([(b"POST /long/a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n"
                                b"01234", 1), (b"56789" + get("/long/b"), 1)])
        self.assertTrue(got[1].endswith(b"long /long/b\n"))

    def test_chunked_body_is_discarded_before_the_next_request(self):
        got, _ = self.compare([(b"POST /long/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                                b"\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n"
                                + get("/long/b"), 2)])
        self.assertTrue(got[1].endswith(b"long /long/b\n"))

    def test_chunked_body_split_across_packets_is_discarded(self):
        got, _ = self.compare([(b"POST /long/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                                b"\r\n\r\n5\r\nhel", 1), (b"lo\r\n0\r\n\r\n" + get("/long/b"), 1)])
        self.assertTrue(got[1].endswith(b"long /long/b\n"))

    def test_body_of_an_error_response_is_discarded_on_keepalive(self):
        got, _ = self.compare([(b"POST /e404 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody",
                                1), (get("/long/after"), 1)])
        self.assertIn(b"\r\nConnection: keep-alive\r\n", got[0])
        self.assertTrue(got[1].endswith(b"long /long/after\n"))

    def test_expect_100_continue_gets_interim_response_then_body_is_discarded(self):
        got, _ = self.compare([(b"POST /long/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                                b"Content-Length: 4\r\n\r\n", 2), (b"body" + get("/long/y"), 1)])
        self.assertEqual(got[0], b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertTrue(got[1].endswith(b"long /long/x\n"))
        self.assertTrue(got[2].endswith(b"long /long/y\n"))

    def test_error_page_does_not_send_100_continue(self):
        got, _ = self.compare([(b"POST /e404 HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                                b"Content-Length: 4\r\n\r\n", 1), (b"body" + get("/long/z"), 1)])
        self.assertEqual(proxyd_test.status_of(got[0]), 404)
        self.assertTrue(got[1].endswith(b"long /long/z\n"))

    def test_keepalive_timeout_closes_an_idle_connection(self):
        for port in (self.port, self.nginx_port):
            s = self.connect(port)
            s.sendall(get("/idle", close=False))
            resp, rest = proxyd_test.recv_response(s)
            self.assertIn(b"\r\nConnection: keep-alive\r\n", resp)
            s.settimeout(10)
            self.assertEqual(rest + s.recv(100), b"")

    def test_client_header_timeout_closes_a_silent_connection(self):
        s = self.connect()
        s.settimeout(10)
        self.assertEqual(s.recv(100), b"")

    def test_client_header_timeout_closes_a_partial_head_without_answer(self):
        for port, log in ((self.port, self.proxyd.error_log), (self.nginx_port, self.nginx.error_log)):
            s = self.connect(port)
            s.sendall(b"GET /partial-head HTTP/1.1\r\nHost: a\r\n")
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")
            text = proxyd_test.wait_for_text(log, "/partial-head")
            self.assertIn("client timed out (110: Connection timed out) while reading client "
                          "request headers, client: 127.0.0.1, server: localhost, request: "
                          "\"GET /partial-head HTTP/1.1\", host: \"a\"", text)


# ---------------------------------------------------------------------------------------------
# server and location selection, return, error_page, variables

ROUTING_CONF = r"""
http {
    access_log off;
    server {
        listen 127.0.0.1:%(port)d;
        server_name first.test;
        return 200 "first $host\n";
    }
    server {
        listen 127.0.0.1:%(port)d default_server;
        server_name _;
        return 200 "default host=[$host]\n";
    }
    server {
        listen 127.0.0.1:%(port)d;
        server_name exact.test;

        location = /x { return 200 "exact\n"; }
        location ^~ /pre/ { return 200 "prefix-stop\n"; }
        location /pre/longer/ { return 200 "longer\n"; }
        location / { return 200 "root\n"; }
        location /a/ {
            return 200 "a\n";
            location ~ \.php$ { return 200 "nested php\n"; }
        }
        location /b/ { return 200 "b\n"; }
        location ~ \.(php)$ { return 200 "php $1\n"; }
        location ~ ^/b/(.+)\.php$ { return 200 "second regex $1\n"; }
        location ~* \.PHP$ { return 200 "PHP caseless\n"; }
        location /dir/ { return 200 "dir\n"; }

        location /vars {
            return 200 "h=$host u=$uri a=$args ru=$request_uri ax=$arg_x hx=$http_x_foo ck=$cookie_c ra=$remote_addr sp=$server_port sc=$scheme m=$request_method ia=$is_args\n";
        }
        location /r301 { return 301 /target; }
        location /r302 { return 302 http://other.test/x; }
        location /rurl { return http://other.test/url; }
        location /r444 { return 444; }
        location /r404 { return 404; }
        location /r404t { return 404 "custom not found\n"; }
        location /r204 { return 204; }
        location /r200 { return 200; }
        location /r418 { return 418 "teapot\n"; }
        location /r401 { return 401; }
        location /r503 { return 503; }

        location /ep { error_page 404 =200 /epok; return 404; }
        location /epok { return 200 "epok uri=$uri method=$request_method\n"; }
        location /epn { error_page 404 = @named; return 404; }
        location /epn2 { error_page 404 @named; return 404; }
        location @named { return 200 "named uri=$uri\n"; }
        location /epurl { error_page 404 http://elsewhere.test/; return 404; }
        location /ep301 { error_page 404 =301 http://e.test/; return 404; }
        location /epeq { error_page 404 = /r418; return 404; }
        location /epcode { error_page 404 =410 /r404; return 404; }
        location /epint { error_page 404 /internal-only; return 404; }
        location /internal-only { internal; return 200 "internal\n"; }
        location /epargs { error_page 404 /epok?from=ep; return 404; }
    }
    server {
        listen 127.0.0.1:%(port)d;
        server_name *.wild.test;
        return 200 "wild $host\n";
    }
    server {
        listen 127.0.0.1:%(port)d;
        server_name www.example.*;
        return 200 "tail $host\n";
    }
    server {
        listen 127.0.0.1:%(port)d;
        server_name ~^([a-z]+)-(\d+)\.num\.test$;
        return 200 "num $1 $2\n";
    }
}
"""


class ServerSelectionTest(Differential):
    CONF = ROUTING_CONF

    def test_exact_name(self):
        self.assertEqual(self.body_of(get("/", host="first.test")), b"first first.test\n")

    def test_exact_name_is_case_insensitive_and_ignores_port(self):
        self.assertEqual(self.body_of(get("/", host="FIRST.Test:8080")), b"first first.test\n")

    def test_leading_wildcard(self):
        self.assertEqual(self.body_of(get("/", host="a.b.wild.test")), b"wild a.b.wild.test\n")

    def test_leading_wildcard_does_not_match_the_bare_domain(self):
        self.assertEqual(self.body_of(get("/", host="wild.test")), b"default host=[wild.test]\n")

    def test_trailing_wildcard(self):
        self.assertEqual(self.body_of(get("/", host="www.example.org")),
                         b"tail www.example.org\n")

    def test_regex_name_with_captures_in_return_text(self):
        self.assertEqual(self.body_of(get("/", host="ab-12.num.test")), b"num ab 12\n")

    def test_unknown_name_goes_to_default_server(self):
        self.assertEqual(self.body_of(get("/", host="nomatch.test")),
                         b"default host=[nomatch.test]\n")

    def test_missing_host_with_http_1_0_goes_to_default_server(self):
        # without a Host, $host is the server's first name
        self.assertEqual(self.body_of(b"GET / HTTP/1.0\r\n\r\n"), b"default host=[_]\n")

    def test_absolute_uri_host_wins_over_host_header(self):
        self.assertEqual(self.body_of(b"GET http://first.test/ HTTP/1.1\r\nHost: other\r\n"
                                      b"Connection: close\r\n\r\n"), b"first first.test\n")


class LocationTest(Differential):
    CONF = ROUTING_CONF

    def test_exact_location(self):
        self.assertEqual(self.body_of(get("/x")), b"exact\n")

    def test_exact_location_does_not_match_longer_uri(self):
        self.assertEqual(self.body_of(get("/x/")), b"root\n")

    def test_caret_tilde_prefix_stops_regex_search(self):
        self.assertEqual(self.body_of(get("/pre/a.php")), b"prefix-stop\n")

    def test_longest_prefix_then_regex_wins(self):
        self.assertEqual(self.body_of(get("/pre/longer/a.php")), b"php php\n")

    def test_longest_prefix_without_regex_match(self):
        self.assertEqual(self.body_of(get("/pre/longer/a")), b"longer\n")

    def test_regex_nested_in_prefix_is_tried_first(self):
        self.assertEqual(self.body_of(get("/a/b.php")), b"nested php\n")

    def test_prefix_with_nested_regex_not_matching(self):
        self.assertEqual(self.body_of(get("/a/b")), b"a\n")

    def test_first_matching_regex_in_order_wins(self):
        self.assertEqual(self.body_of(get("/b/name.php")), b"php php\n")

    def test_regex_is_case_sensitive(self):
        self.assertEqual(self.body_of(get("/q.PHP")), b"PHP caseless\n")

    def test_caseless_regex(self):
        self.assertEqual(self.body_of(get("/q.Php")), b"PHP caseless\n")

    def test_percent_decoded_uri_is_matched(self):
        self.assertEqual(self.body_of(get("/%78")), b"exact\n")

    def test_dot_segments_are_resolved_before_matching(self):
        self.assertEqual(self.body_of(get("/a/../x")), b"exact\n")

    def test_prefix_location_without_slash_redirects_is_not_done_for_return(self):
        self.assertEqual(self.body_of(get("/dir")), b"root\n")


class ReturnTest(Differential):
    CONF = ROUTING_CONF

    def test_return_code_and_text(self):
        answer = self.exchange(get("/r418"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 418 \r\n"), answer)
        self.assertIn(b"\r\nContent-Type: text/plain\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nteapot\n"))

    def test_return_error_code_sends_the_builtin_page(self):
        answer = self.exchange(get("/r404"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 404 Not Found\r\n"))
        self.assertIn(b"<title>404 Not Found</title>", answer)

    def test_return_error_code_with_text_sends_the_text(self):
        self.assertEqual(self.body_of(get("/r404t"), 404), b"custom not found\n")

    def test_return_401_page_says_authorization_required(self):
        self.assertIn(b"<title>401 Authorization Required</title>",
                      self.exchange(get("/r401")))

    def test_return_503(self):
        self.assertIn(b"<title>503 Service Temporarily Unavailable</title>",
                      self.exchange(get("/r503")))

    def test_return_200_without_text_is_empty_with_default_type(self):
        answer = self.exchange(get("/r200"))
        self.assertIn(b"\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n", answer)

    def test_return_204_has_no_body_headers(self):
        answer = self.exchange(get("/r204"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 204 No Content\r\n"))
        self.assertNotIn(b"Content-Length", answer)
        self.assertNotIn(b"Content-Type", answer)

    def test_return_301_relative_url_is_made_absolute(self):
        answer = self.exchange(get("/r301"))
        self.assertIn(b"\r\nLocation: http://exact.test:PORT/target\r\nConnection: close\r\n",
                      answer)

    def test_return_302_absolute_url(self):
        answer = self.exchange(get("/r302"))
        self.assertIn(b"\r\nConnection: close\r\nLocation: http://other.test/x\r\n", answer)
        self.assertIn(b"<title>302 Found</title>", answer)

    def test_return_url_alone_is_a_302(self):
        answer = self.exchange(get("/rurl"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 302 Moved Temporarily\r\n"))
        self.assertIn(b"\r\nLocation: http://other.test/url\r\n", answer)

    def test_return_444_closes_without_answer(self):
        self.assertEqual(self.exchange(get("/r444", close=False)), b"")

    def test_head_request_gets_headers_only(self):
        answer = self.exchange(b"HEAD /r418 HTTP/1.1\r\nHost: exact.test\r\nConnection: close\r\n\r\n")
        self.assertTrue(answer.endswith(b"\r\nContent-Length: 7\r\nConnection: close\r\n\r\n"))


class ErrorPageTest(Differential):
    CONF = ROUTING_CONF

    def test_error_page_with_code_to_uri(self):
        self.assertEqual(self.body_of(get("/ep")), b"epok uri=/epok method=GET\n")

    def test_error_page_turns_post_into_get(self):
        self.assertEqual(self.body_of(b"POST /ep HTTP/1.1\r\nHost: exact.test\r\n"
                                      b"Content-Length: 0\r\nConnection: close\r\n\r\n"),
                         b"epok uri=/epok method=GET\n")

    def test_error_page_with_args(self):
        self.assertEqual(self.body_of(get("/epargs"), 404), b"epok uri=/epok method=GET\n")

    def test_error_page_equals_takes_the_target_status(self):
        answer = self.exchange(get("/epeq"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 418 \r\n"))
        self.assertTrue(answer.endswith(b"teapot\n"))

    def test_error_page_target_failing_shows_its_own_status_not_the_override(self):
        answer = self.exchange(get("/epcode"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 404 Not Found\r\n"), answer)

    def test_error_page_to_named_location(self):
        self.assertEqual(self.body_of(get("/epn")), b"named uri=/epn\n")

    def test_error_page_to_named_location_keeps_status(self):
        self.assertEqual(self.body_of(get("/epn2"), 404), b"named uri=/epn2\n")

    def test_error_page_to_url_redirects_with_302(self):
        answer = self.exchange(get("/epurl"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 302 Moved Temporarily\r\n"))
        self.assertIn(b"\r\nConnection: close\r\nLocation: http://elsewhere.test/\r\n", answer)

    def test_error_page_to_url_with_301(self):
        answer = self.exchange(get("/ep301"))
        self.assertTrue(answer.startswith(b"HTTP/1.1 301 Moved Permanently\r\n"))
        self.assertIn(b"\r\nLocation: http://e.test/\r\n", answer)

    def test_error_page_may_reach_an_internal_location(self):
        self.assertEqual(self.body_of(get("/epint"), 404), b"internal\n")

    def test_internal_location_is_404_from_outside(self):
        self.assertIn(b"<title>404 Not Found</title>", self.exchange(get("/internal-only")))


class VariablesTest(Differential):
    CONF = ROUTING_CONF

    def test_variables_with_args_headers_and_cookies(self):
        body = self.body_of(get("/vars?x=%20a&y=2", extra=b"X-Foo: bar\r\nCookie: a=1; c=two\r\n"))
        self.assertEqual(body, b"h=exact.test u=/vars a=x=%20a&y=2 ru=/vars?x=%20a&y=2 ax=%20a "
                               b"hx=bar ck=two ra=127.0.0.1 sp=PORT sc=http m=GET ia=?\n")

    def test_variables_without_args(self):
        self.assertEqual(self.body_of(get("/vars")),
                         b"h=exact.test u=/vars a= ru=/vars ax= hx= ck= ra=127.0.0.1 sp=PORT "
                         b"sc=http m=GET ia=\n")

    def test_uri_is_decoded_and_request_uri_is_not(self):
        body = self.body_of(get("/vars/%41//b/../c?q"))
        self.assertTrue(body.startswith(b"h=exact.test u=/vars/A/c a=q ru=/vars/%41//b/../c?q "),
                        body)

    def test_host_is_lowercased_without_port(self):
        self.assertTrue(self.body_of(get("/vars", host="EXACT.test:81")).startswith(
            b"h=exact.test "))

    def test_method_of_post(self):
        self.assertIn(b" m=POST ", self.body_of(b"POST /vars HTTP/1.1\r\nHost: exact.test\r\n"
                                                 b"Content-Length: 3\r\nConnection: close\r\n\r\nabc"))


class NamedCaptureServerNameTest(unittest.TestCase):
    # Named groups of a regex server_name are variables, as in nginx.
    def test_named_capture_of_regex_server_name_is_a_variable(self):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd("http { access_log off; server { listen 127.0.0.1:%d; "
                                 "server_name ~^(?<sub>[a-z]+)\\.re\\.test$; "
                                 "return 200 \"re $sub\\n\"; } }" % port)
        self.addCleanup(srv.cleanup)
        rc, err = srv.test_config()
        self.assertEqual(rc, 0, err)
        srv.start(wait_for=port)
        answer = proxyd_test.raw_request(port, get("/", host="abc.re.test"))
        self.assertTrue(answer.endswith(b"\r\n\r\nre abc\n"), answer)


# ---------------------------------------------------------------------------------------------
# access log

LOG_CONF = r"""
http {
    log_format custom '$remote_addr|$request|$status|$body_bytes_sent|$request_method|$uri|$args|$http_x_test';
    log_format jsonfmt escape=json '{"r":"$request","ua":"$http_user_agent"}';
    access_log %(dir)s/default.log;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        location / { return 200 "ok\n"; }
        location /custom { access_log %(dir)s/custom.log custom; return 200 "c\n"; }
        location /json { access_log %(dir)s/json.log jsonfmt; return 404; }
        location /off { access_log off; return 200 "off\n"; }
    }
}
"""

TIME_LOCAL = r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"


class AccessLogTest(unittest.TestCase):
    def start(self, binary_cls):
        port = proxyd_test.free_port()
        srv = binary_cls("")
        self.addCleanup(srv.cleanup)
        text = LOG_CONF % {"port": port, "dir": srv.dir}
        if isinstance(srv, proxyd_test.Proxyd):
            srv.write_conf(text)
        else:
            with open(srv.conf_path, "a") as f:
                f.write(text)
        srv.start(wait_for=port)
        return srv, port

    def run_both(self, data, log):
        """Sends data to proxyd and nginx; returns both new lines of log (time normalised)."""
        lines = []
        for cls in (proxyd_test.Proxyd, proxyd_test.NginxRef):
            srv, port = self.start(cls)
            proxyd_test.raw_request(port, data)
            text = proxyd_test.wait_for_text(srv.path(log), "\n")
            lines.append(re.sub(TIME_LOCAL, "[TIME]", text))
        return lines

    def test_default_combined_format_line(self):
        got, ref = self.run_both(b"GET /plain?a=1 HTTP/1.1\r\nHost: x\r\nUser-Agent: t/1.0\r\n"
                                 b"Referer: http://r/\r\nConnection: close\r\n\r\n", "default.log")
        self.assertEqual(got, '127.0.0.1 - - [TIME] "GET /plain?a=1 HTTP/1.1" 200 3 "http://r/" '
                              '"t/1.0"\n')
        self.assertEqual(got, ref)

    def test_combined_format_escapes_quotes_and_control_bytes(self):
        got, ref = self.run_both(b"GET /q HTTP/1.1\r\nHost: x\r\nUser-Agent: a\"b\\c\x7f\xff\r\n"
                                 b"Connection: close\r\n\r\n", "default.log")
        self.assertIn('"a\\x22b\\x5Cc\\x7F\\xFF"', got)
        self.assertEqual(got, ref)

    def test_custom_format_line(self):
        got, ref = self.run_both(b"GET /custom/p?k=v HTTP/1.1\r\nHost: x\r\nX-Test: hi\r\n"
                                 b"Connection: close\r\n\r\n", "custom.log")
        self.assertEqual(got, "127.0.0.1|GET /custom/p?k=v HTTP/1.1|200|2|GET|/custom/p|k=v|hi\n")
        self.assertEqual(got, ref)

    def test_custom_format_with_missing_values_logs_dashes(self):
        got, ref = self.run_both(get("/custom"), "custom.log")
        self.assertEqual(got, "127.0.0.1|GET /custom HTTP/1.1|200|2|GET|/custom|-|-\n")
        self.assertEqual(got, ref)

    def test_escape_json_format_line(self):
        got, ref = self.run_both(b"GET /json HTTP/1.1\r\nHost: x\r\nUser-Agent: a\"b\\c\x01\r\n"
                                 b"Connection: close\r\n\r\n", "json.log")
        self.assertEqual(got, '{"r":"GET /json HTTP/1.1","ua":"a\\"b\\\\c\\u0001"}\n')
        self.assertEqual(got, ref)

    def test_access_log_off_writes_nothing(self):
        srv, port = self.start(proxyd_test.Proxyd)
        proxyd_test.raw_request(port, get("/off"))
        proxyd_test.raw_request(port, get("/after-off"))
        text = proxyd_test.wait_for_text(srv.path("default.log"), "/after-off")
        self.assertIn("/after-off", text)
        self.assertNotIn("GET /off", text)

    def test_bad_request_is_logged_with_its_request_line(self):
        got, ref = self.run_both(b"G@T /bad HTTP/1.1\r\nHost: x\r\n\r\n", "default.log")
        self.assertEqual(got, '127.0.0.1 - - [TIME] "G@T /bad HTTP/1.1" 400 157 "-" "-"\n')
        self.assertEqual(got, ref)

    def test_too_large_header_is_logged_as_400(self):
        got, ref = self.run_both(b"GET /big HTTP/1.1\r\nHost: x\r\nX-L: " + b"l" * 9000
                                 + b"\r\n\r\n", "default.log")
        self.assertEqual(got, '127.0.0.1 - - [TIME] "GET /big HTTP/1.1" 400 233 "-" "-"\n')
        self.assertEqual(got, ref)


class IdleCloseLogTest(unittest.TestCase):
    """A client that leaves without a request is logged at info with nginx's words."""

    def test_close_before_first_request_and_after_keepalive_are_logged(self):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd("http { server { listen 127.0.0.1:%d; return 200 x; } }" % port)
        self.addCleanup(srv.cleanup)
        srv.start(wait_for=port)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(get("/", close=False))
        proxyd_test.recv_response(s)
        s.close()
        text = proxyd_test.wait_for_text(srv.error_log, "closed keepalive connection")
        self.assertIn("[info]", text)
        self.assertIn("client closed connection while waiting for request, client: 127.0.0.1, "
                      "server: 127.0.0.1:%d\n" % port, text)
        self.assertIn("client 127.0.0.1 closed keepalive connection\n", text)


if __name__ == "__main__":
    proxyd_test.main()
