"""Malformed HTTP/1.x requests: each gets the exact answer nginx gives (status, page, headers,
whether the connection closes) and the same [info] line naming the reason in the error log.

Every case runs against proxyd and against Debian's nginx with the same server block; the
answers are compared byte for byte once Date, Server and the version in the page footer are
made equal."""
import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

SERVER = r"""
http {
    access_log off;
    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;
        large_client_header_buffers 2 1024;
        client_max_body_size 10;
        location / { return 200 "ok\n"; }
        location /e404 { return 404; }
    }
}
"""

PAGE_400 = (b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
            b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>X</center>\r\n"
            b"</body>\r\n</html>\r\n")
PAGE_494 = (b"<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n"
            b"<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n"
            b"<center>Request Header Or Cookie Too Large</center>\r\n<hr><center>X</center>\r\n"
            b"</body>\r\n</html>\r\n")


class MalformedRequestTest(proxyd_test.Differential):
    CONF = SERVER

    def error_line(self, needle):
        """The proxyd error log line containing needle (waits for it to be written)."""
        text = proxyd_test.wait_for_text(self.proxyd.error_log, needle)
        for line in text.splitlines():
            if needle in line:
                return line
        self.fail("no error log line with %r in:\n%s" % (needle, text[-2000:]))

    def assert_closed_with(self, data, status, reason=None, page=None):
        answer = self.exchange(data)
        self.assertEqual(proxyd_test.status_of(answer), status, answer[:200])
        self.assertIn(b"\r\nConnection: close\r\n", answer)
        if page is not None:
            self.assertTrue(answer.endswith(b"\r\n\r\n" + page), answer)
        if reason is not None:
            line = self.error_line(reason)
            self.assertIn("[info]", line)
        return answer

    # ---- request line ----

    def test_invalid_method_characters_answer_400(self):
        self.assert_closed_with(b"G@T /m1 HTTP/1.1\r\nHost: a\r\n\r\n", 400, page=PAGE_400,
                                reason='client sent invalid method while reading client request '
                                       'line, client: 127.0.0.1, server: localhost, request: '
                                       '"G@T /m1 HTTP/1.1"')

    def test_lowercase_method_answers_400(self):
        self.assert_closed_with(b"get /m2 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                                reason='client sent invalid method while reading client request '
                                       'line, client: 127.0.0.1, server: localhost, request: '
                                       '"get /m2 HTTP/1.1"')

    def test_http_2_0_version_answers_505(self):
        answer = self.assert_closed_with(
            b"GET /v2 HTTP/2.0\r\nHost: a\r\n\r\n", 505,
            reason='client sent invalid version while reading client request line, client: '
                   '127.0.0.1, server: localhost, request: "GET /v2 HTTP/2.0"')
        self.assertTrue(answer.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n"))

    def test_http_3_1_version_answers_505(self):
        self.assert_closed_with(b"GET /v3 HTTP/3.1\r\nHost: a\r\n\r\n", 505)

    def test_garbage_protocol_name_answers_400(self):
        self.assert_closed_with(b"GET /v4 HTTX/1.1\r\nHost: a\r\n\r\n", 400,
                                reason='client sent invalid request while reading client request '
                                       'line, client: 127.0.0.1, server: localhost, request: '
                                       '"GET /v4 HTTX/1.1"')

    def test_control_byte_in_uri_answers_400(self):
        self.assert_closed_with(b"GET /c\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400, page=PAGE_400)

    def test_nul_in_uri_answers_400(self):
        self.assert_closed_with(b"GET /n\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, page=PAGE_400)

    def test_connect_authority_form_answers_400(self):
        self.assert_closed_with(b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                                reason='request: "CONNECT a:443 HTTP/1.1"')

    def test_dotdot_above_root_answers_400(self):
        self.assert_closed_with(b"GET /../x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                                reason='client sent invalid request while reading client request '
                                       'line, client: 127.0.0.1, server: localhost, request: '
                                       '"GET /../x HTTP/1.1"')

    def test_bad_percent_escape_answers_400(self):
        self.assert_closed_with(b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400,
                                reason='request: "GET /%zz HTTP/1.1"')

    def test_invalid_host_in_absolute_uri_answers_400(self):
        line = None
        self.assert_closed_with(b"GET http://a..b/abs HTTP/1.1\r\nHost: a\r\n\r\n", 400)
        line = self.error_line("client sent invalid host in request line")
        self.assertTrue(line.endswith('client sent invalid host in request line while reading '
                                      'client request line, client: 127.0.0.1, server: localhost, '
                                      'request: "GET http://a..b/abs HTTP/1.1"'), line)

    def test_http_0_9_post_answers_bare_400_page(self):
        answer = self.exchange(b"POST /\r\n")
        self.assertEqual(answer, PAGE_400)
        self.error_line("client sent invalid method in HTTP/0.9 request while reading client "
                        'request line, client: 127.0.0.1, server: localhost, request: "POST /"')

    def test_http_0_9_get_answers_body_only(self):
        self.assertEqual(self.exchange(b"GET /\r\n"), b"ok\n")

    def test_too_long_request_line_answers_414(self):
        answer = self.assert_closed_with(
            b"GET /" + b"u" * 1100 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414,
            reason="client sent too long URI while reading client request line")
        self.assertTrue(answer.startswith(b"HTTP/1.1 414 Request-URI Too Large\r\n"))

    def test_request_line_fitting_one_large_buffer_is_accepted(self):
        answer = self.exchange(b"GET /" + b"f" * 1000 + b" HTTP/1.1\r\nHost: a\r\n"
                               b"Connection: close\r\n\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 200)

    # ---- headers ----

    def test_http_1_1_without_host_answers_400(self):
        self.assert_closed_with(b"GET /nohost HTTP/1.1\r\n\r\n", 400,
                                reason='client sent HTTP/1.1 request without "Host" header while '
                                       'reading client request headers, client: 127.0.0.1, server: '
                                       'localhost, request: "GET /nohost HTTP/1.1"')

    def test_http_1_0_without_host_is_accepted(self):
        answer = self.exchange(b"GET / HTTP/1.0\r\n\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 200)
        self.assertIn(b"\r\nConnection: close\r\n", answer)

    def test_host_with_slash_answers_400(self):
        self.assert_closed_with(b"GET /h1 HTTP/1.1\r\nHost: a/b\r\n\r\n", 400,
                                reason='client sent invalid host header while reading client '
                                       'request headers, client: 127.0.0.1, server: localhost, '
                                       'request: "GET /h1 HTTP/1.1", host: "a/b"')

    def test_host_with_double_dot_answers_400(self):
        self.assert_closed_with(b"GET /h2 HTTP/1.1\r\nHost: a..b\r\n\r\n", 400,
                                reason='host: "a..b"')

    def test_empty_host_answers_400(self):
        self.assert_closed_with(b"GET /h3 HTTP/1.1\r\nHost:\r\n\r\n", 400,
                                reason='request: "GET /h3 HTTP/1.1", host: ""')

    def test_duplicate_host_answers_400(self):
        self.assert_closed_with(b"GET /h4 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                                reason='client sent duplicate host header: "Host: b", previous '
                                       'value: "Host: a" while reading client request headers')

    def test_content_length_with_transfer_encoding_answers_400(self):
        self.assert_closed_with(
            b"POST /clte HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
            b"\r\n\r\n0\r\n\r\n", 400,
            reason='client sent "Content-Length" and "Transfer-Encoding" headers at the same time '
                   'while reading client request headers')

    def test_duplicate_content_length_answers_400(self):
        self.assert_closed_with(
            b"POST /dcl HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            400, reason='client sent duplicate header line: "Content-Length: 4", previous value: '
                        '"Content-Length: 3" while reading client request headers')

    def test_non_numeric_content_length_answers_400(self):
        self.assert_closed_with(b"POST /icl HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\nabc",
                                400, reason='client sent invalid "Content-Length" header while '
                                            'reading client request headers, client: 127.0.0.1, '
                                            'server: localhost, request: "POST /icl HTTP/1.1"')

    def test_negative_content_length_answers_400(self):
        self.assert_closed_with(b"POST /ncl HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                                400, reason='request: "POST /ncl HTTP/1.1"')

    def test_unknown_transfer_encoding_answers_501(self):
        answer = self.assert_closed_with(
            b"POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
            reason='client sent unknown "Transfer-Encoding": "gzip" while reading client request '
                   'headers')
        self.assertTrue(answer.startswith(b"HTTP/1.1 501 Not Implemented\r\n"))

    def test_transfer_encoding_list_answers_501(self):
        self.assert_closed_with(
            b"POST /te2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501,
            reason='client sent unknown "Transfer-Encoding": "gzip, chunked"')

    def test_duplicate_transfer_encoding_answers_400(self):
        self.assert_closed_with(
            b"POST /te3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            reason='client sent duplicate header line: "Transfer-Encoding: chunked", previous '
                   'value: "Transfer-Encoding: chunked"')

    def test_transfer_encoding_with_http_1_0_answers_400(self):
        self.assert_closed_with(
            b"POST /te10 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
            reason='client sent HTTP/1.0 request with "Transfer-Encoding" header while reading '
                   'client request headers, client: 127.0.0.1, server: localhost, request: '
                   '"POST /te10 HTTP/1.0"')

    def test_nul_in_header_value_answers_400(self):
        self.assert_closed_with(b"GET /nulh HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400,
                                reason='client sent invalid header line: "X-A: b\\x00..." while '
                                       'reading client request headers, client: 127.0.0.1, server: '
                                       'localhost, request: "GET /nulh HTTP/1.1", host: "a"')

    def test_space_before_colon_answers_400(self):
        self.assert_closed_with(b"GET /sp HTTP/1.1\r\nHost: a\r\nFoo : b\r\n\r\n", 400,
                                reason='client sent invalid header line: "Foo\\x20..."')

    def test_space_in_header_name_answers_400(self):
        self.assert_closed_with(b"GET /sp2 HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400,
                                reason='client sent invalid header line: "X\\x20..."')

    def test_folded_header_line_answers_400(self):
        self.assert_closed_with(b"GET /fold HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400,
                                reason='client sent invalid header line: "\\x20..." while '
                                       'reading client request headers, client: 127.0.0.1, '
                                       'server: localhost, request: "GET /fold HTTP/1.1", '
                                       'host: "a"')

    def test_header_without_colon_is_accepted(self):
        answer = self.exchange(b"GET / HTTP/1.1\r\nHost: a\r\nFoo\r\nConnection: close\r\n\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 200)

    def test_underscore_header_is_ignored_and_logged(self):
        answer = self.exchange(b"GET /us HTTP/1.1\r\nHost: a\r\nX_A: b\r\nConnection: close\r\n\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 200)
        self.error_line('client sent invalid header line: "X_A: b" while reading client request '
                        'headers, client: 127.0.0.1, server: localhost, request: "GET /us HTTP/1.1"'
                        ', host: "a"')

    def test_too_long_header_line_answers_400_header_too_large_page(self):
        answer = self.assert_closed_with(
            b"GET /lh HTTP/1.1\r\nHost: a\r\nX-Long: " + b"a" * 1100 + b"\r\n\r\n", 400,
            page=PAGE_494)
        self.assertTrue(answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"))
        line = self.error_line('client sent too long header line: "X-Long: aaaa')
        ref = proxyd_test.wait_for_text(self.nginx.error_log, "X-Long: aaaa")
        ref_line = [x for x in ref.splitlines() if "X-Long: aaaa" in x][0]
        self.assertEqual(line.split(" client sent ", 1)[1], ref_line.split(" client sent ", 1)[1])
        self.assertTrue(line.endswith('a..." while reading client request headers, client: '
                                      '127.0.0.1, server: localhost, request: "GET /lh HTTP/1.1", '
                                      'host: "a"'), line)

    def test_too_long_cookie_answers_400_header_too_large_page(self):
        self.assert_closed_with(
            b"GET /lc HTTP/1.1\r\nHost: a\r\nCookie: " + b"c" * 1100 + b"\r\n\r\n", 400,
            page=PAGE_494)

    def test_header_line_after_the_first_buffer_is_limited_too(self):
        # the first 1k buffer fills with short headers; the long line then needs its own
        # large buffer, and 1100 bytes do not fit in one
        head = b"GET /lh2 HTTP/1.1\r\nHost: a\r\n" + b"X-Pad: 0123456789\r\n" * 40
        self.assert_closed_with(head + b"X-Long: " + b"b" * 1100 + b"\r\n\r\n", 400,
                                page=PAGE_494)

    def test_many_short_headers_beyond_the_first_buffer_are_accepted(self):
        head = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + b"X-Pad: 0123456789\r\n" * 80
        answer = self.exchange(head + b"\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 200)

    def test_trace_answers_405(self):
        answer = self.assert_closed_with(b"TRACE /tr HTTP/1.1\r\nHost: a\r\n\r\n", 405,
                                         reason='client sent TRACE method while reading client '
                                                'request headers, client: 127.0.0.1, server: '
                                                'localhost, request: "TRACE /tr HTTP/1.1", '
                                                'host: "a"')
        self.assertTrue(answer.startswith(b"HTTP/1.1 405 Not Allowed\r\n"))

    # ---- bodies ----

    def test_content_length_over_client_max_body_size_answers_413(self):
        answer = self.exchange(b"POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
                               b"abcdefghijk")
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), answer)
        self.assertIn(b"\r\nConnection: close\r\n", answer)
        line = self.error_line("client intended to send too large body: 11 bytes")
        self.assertIn("[error]", line)
        self.assertTrue(line.endswith('client: 127.0.0.1, server: localhost, request: '
                                      '"POST /big HTTP/1.1", host: "a"'), line)

    def test_invalid_chunked_body_answers_400(self):
        self.exchange(b"POST /ch HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"zz\r\nabc\r\n0\r\n\r\n")
        line = self.error_line("client sent invalid chunked body")
        self.assertIn("[error]", line)
        self.assertTrue(line.endswith('client: 127.0.0.1, server: localhost, request: '
                                      '"POST /ch HTTP/1.1", host: "a"'), line)
        text = proxyd_test.wait_for_text(self.proxyd.error_log, "invalid chunked body")
        self.assertEqual(text.count("client sent invalid chunked body"), 1)

    def test_invalid_chunked_body_before_an_error_page_closes_the_connection(self):
        answer = self.exchange(b"POST /e404 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
                               b"\r\n\r\nzz\r\n")
        self.assertEqual(proxyd_test.status_of(answer), 404)
        self.assertIn(b"\r\nConnection: close\r\n", answer)

    def test_partial_request_then_close_is_logged_as_400(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET /partial HTTP/1.1\r\nHost: a\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(s.recv(100), b"")
        s.close()
        self.error_line('client prematurely closed connection while reading client request '
                        'headers, client: 127.0.0.1, server: localhost, request: '
                        '"GET /partial HTTP/1.1", host: "a"')


if __name__ == "__main__":
    proxyd_test.main()
