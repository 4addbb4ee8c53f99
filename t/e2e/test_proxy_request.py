"""proxy_pass, request side: what the upstream receives, byte for byte, read by a recording
backend (proxyd_test.RecordingBackend). URI rules, the request line and default headers,
client headers and the hop-by-hop ones, proxy_set_header with variables and its
inheritance, request bodies (Content-Length, chunked, buffered or streamed, temp files,
Expect, client_max_body_size), the $proxy_*/$upstream_* variables, the slash redirect, and
the `-t` errors of the proxy directives.

The expected bytes are nginx's (t/e2e/test_proxy_differential.py runs the same kind of
configs under Debian's nginx), except where current nginx changed a default: upstream
requests are HTTP/1.1 without "Connection: close" (nginx 1.29.7), and client headers named
Proxy-* or "Proxy" are never forwarded (a deliberate difference)."""
import os
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
import test_config_errors  # noqa: E402

RecordingBackend = proxyd_test.RecordingBackend


class ProxyCase(unittest.TestCase):
    """A proxyd per test: self.start(server_text, http_text) with BACKEND in the text replaced
    by the backend's address and PORT by the listening port."""

    def backend(self, **kw):
        b = RecordingBackend(**kw)
        self.addCleanup(b.close)
        return b

    def logdir(self):
        d = tempfile.mkdtemp(prefix="proxyd-e2e-log-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def start(self, server, http="", backend=None, subst=None):
        self.port = proxyd_test.free_port()
        text = ("http {\n    access_log off;\n%s\n    server {\n        listen 127.0.0.1:%d;\n"
                "        server_name localhost;\n%s\n    }\n}\n") % (http, self.port, server)
        if backend is not None:
            text = text.replace("BACKEND", backend.address)
        for k, v in (subst or {}).items():
            text = text.replace(k, v)
        self.proxyd = proxyd_test.Proxyd(text)
        self.addCleanup(self.proxyd.cleanup)
        self.proxyd.start(wait_for=self.port)
        return self.proxyd

    def send(self, data, timeout=10.0):
        return proxyd_test.raw_request(self.port, data, timeout=timeout)

    def request(self, target, headers=b"", method=b"GET", body=b"", host=b"localhost"):
        """One request with Connection: close; returns (status, response bytes)."""
        data = (method + b" " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + headers +
                b"Connection: close\r\n\r\n" + body)
        resp = self.send(data)
        return proxyd_test.status_of(resp), resp

    def through(self, backend, target, **kw):
        """Sends a request, checks the client got the backend's 200, returns what the backend
        received."""
        status, resp = self.request(target, **kw)
        self.assertEqual(status, 200, resp[:500])
        self.assertTrue(resp.endswith(b"\r\n\r\nok"), resp[:500])
        return backend.wait_request()


class UriTest(ProxyCase):
    """The URI sent upstream (the full table lives in test_proxy_uri_nginx_ref.py)."""

    def test_uri_part_replaces_the_location_prefix(self):
        b = self.backend()
        self.start("location /blog/ { proxy_pass http://BACKEND/wordpress/; }", backend=b)
        self.assertEqual(self.through(b, b"/blog/my-post").target, b"/wordpress/my-post")
        self.assertEqual(self.through(b, b"/blog/").target, b"/wordpress/")
        self.assertEqual(self.through(b, b"/blog/a/b?x=1&y").target, b"/wordpress/a/b?x=1&y")

    def test_slash_uri_part_strips_the_location_prefix(self):
        b = self.backend()
        self.start("location /api/ { proxy_pass http://BACKEND/; }", backend=b)
        self.assertEqual(self.through(b, b"/api/users").target, b"/users")
        self.assertEqual(self.through(b, b"/api/users?id=7").target, b"/users?id=7")

    def test_location_without_slash_and_uri_part_with_slash_gives_double_slash(self):
        b = self.backend()
        self.start("location /blog { proxy_pass http://BACKEND/wordpress/; }", backend=b)
        self.assertEqual(self.through(b, b"/blog/my-post").target, b"/wordpress//my-post")
        self.assertEqual(self.through(b, b"/blog").target, b"/wordpress/")

    def test_no_uri_part_sends_the_request_uri_exactly_as_sent(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        for target in (b"/a/%7Efoo/b%2Fc/%5b?x=%20y&z&&=%zz", b"/x/../y?q", b"/sp%20ace//dbl?",
                       b"/%E2%82%AC?a=%E2%82%AC"):
            self.assertEqual(self.through(b, target).target, target)

    def test_uri_part_sends_the_decoded_uri_escaped_again_and_args_as_sent(self):
        b = self.backend()
        self.start("location /blog/ { proxy_pass http://BACKEND/wordpress/; }", backend=b)
        self.assertEqual(self.through(b, b"/blog/a%20b%2Fc%41?q=%41%2F").target,
                         b"/wordpress/a%20b/cA?q=%41%2F")
        self.assertEqual(self.through(b, b"/blog/x/../y").target, b"/wordpress/y")

    def test_regex_location_without_uri_part_sends_the_request_uri(self):
        b = self.backend()
        self.start(r"location ~ \.php$ { proxy_pass http://BACKEND; }", backend=b)
        self.assertEqual(self.through(b, b"/app/index%2Ephp?a=1").target, b"/app/index%2Ephp?a=1")

    def test_unix_socket_with_uri_part_and_localhost_as_host(self):
        d = tempfile.mkdtemp(prefix="proxyd-e2e-sock-")
        self.addCleanup(shutil.rmtree, d, True)
        sock = os.path.join(d, "b.sock")
        b = self.backend(unix_path=sock)
        self.start("location /u/ { proxy_pass http://unix:%s:/uri/; }\n"
                   "location /n/ { proxy_pass http://unix:%s; }" % (sock, sock))
        r = self.through(b, b"/u/k?z=1")
        self.assertEqual(r.request_line, b"GET /uri/k?z=1 HTTP/1.1")
        self.assertEqual(r.header_all("Host"), [b"localhost"])
        self.assertEqual(self.through(b, b"/n/a%2Fb").target, b"/n/a%2Fb")

    def test_variables_in_proxy_pass_with_a_literal_ip(self):
        b = self.backend()
        self.start("location /v/ { proxy_pass http://127.0.0.1:$arg_p; }\n"
                   "location /h/ { proxy_pass http://127.0.0.1:$http_x_port/fixed/uri; }",
                   backend=b)
        p = str(b.port).encode()
        r = self.through(b, b"/v/x%20y?p=" + p)
        self.assertEqual(r.request_line, b"GET /v/x%20y?p=" + p + b" HTTP/1.1")
        self.assertEqual(r.header_all("Host"), [b"127.0.0.1:" + p])
        # a URI part with variables is the whole URI: neither the request's path nor its args
        r = self.through(b, b"/h/anything?a=1", headers=b"X-Port: " + p + b"\r\n")
        self.assertEqual(r.target, b"/fixed/uri")
        self.assertEqual(r.header_all("Host"), [b"127.0.0.1:" + p])


class HeadTest(ProxyCase):
    """The request line and the headers."""

    def test_default_request_is_http11_with_proxy_host_and_no_connection_header(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        r = self.through(b, b"/x?y", headers=b"User-Agent: t/1\r\nAccept: */*\r\n")
        self.assertEqual(r.raw, b"GET /x?y HTTP/1.1\r\nHost: %s\r\nUser-Agent: t/1\r\n"
                         b"Accept: */*\r\n\r\n" % b.address.encode())

    def test_http_version_1_0_sends_connection_close(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_http_version 1.0; }", backend=b)
        r = self.through(b, b"/x", headers=b"Accept: */*\r\n")
        self.assertEqual(r.raw, b"GET /x HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n"
                         b"Accept: */*\r\n\r\n" % b.address.encode())

    def test_host_omits_port_80(self):
        try:
            b = self.backend(bind=("127.0.83.1", 80))
        except OSError as e:
            self.skipTest("cannot listen on 127.0.83.1:80: %s" % e)
        self.start("location / { proxy_pass http://127.0.83.1:80; }\n"
                   "location /b/ { proxy_pass http://127.0.83.1/; }")
        self.assertEqual(self.through(b, b"/").header_all("Host"), [b"127.0.83.1"])
        self.assertEqual(self.through(b, b"/b/").header_all("Host"), [b"127.0.83.1"])

    def test_host_keeps_the_name_written_in_proxy_pass(self):
        b = self.backend()
        self.start("location / { proxy_pass http://localhost:%d; }" % b.port)
        r = self.through(b, b"/", host=b"client.example")
        self.assertEqual(r.header_all("Host"), [b"localhost:%d" % b.port])

    def test_client_headers_are_passed_in_order_with_repeats_and_original_case(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        hdrs = (b"x-b: 1\r\nX-A: two  words \r\nX-B: 3\r\nCookie: a=1\r\nCookie: b=2\r\n"
                b"Accept-Encoding: gzip\r\nUser-Agent: ua\r\n")
        r = self.through(b, b"/", headers=hdrs)
        self.assertEqual(r.headers, [(b"Host", b.address.encode()), (b"x-b", b"1"),
                                     (b"X-A", b"two  words"), (b"X-B", b"3"),
                                     (b"Cookie", b"a=1"), (b"Cookie", b"b=2"),
                                     (b"Accept-Encoding", b"gzip"), (b"User-Agent", b"ua")])

    def test_hop_by_hop_headers_are_not_passed_but_names_listed_in_connection_are(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        hdrs = (b"Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: foo/1\r\n"
                b"Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\n"
                b"Proxy: http://evil:1\r\nX-Named: v\r\nConnection: keep-alive, X-Named\r\n"
                b"X-Other: o\r\n")
        r = self.through(b, b"/", headers=hdrs)
        # nginx does not drop the headers a Connection header names: X-Named goes through
        self.assertEqual(r.headers, [(b"Host", b.address.encode()), (b"X-Named", b"v"),
                                     (b"X-Other", b"o")])

    def test_set_header_with_variables_comes_first_then_defaults_then_client_headers(self):
        b = self.backend()
        self.start("""location / { proxy_pass http://BACKEND;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header x-real-ip-2 "[$remote_addr] $request_method";
        }""", backend=b)
        r = self.through(b, b"/p", host=b"Example.COM:8080",
                         headers=b"X-Real-IP: spoofed\r\nX-Keep: k\r\n")
        self.assertEqual(r.headers, [
            (b"X-Real-IP", b"127.0.0.1"), (b"X-Forwarded-For", b"127.0.0.1"),
            (b"X-Forwarded-Proto", b"http"), (b"X-Forwarded-Host", b"example.com"),
            (b"X-Forwarded-Port", str(self.port).encode()), (b"x-real-ip-2", b"[127.0.0.1] GET"),
            (b"Host", b.address.encode()), (b"X-Keep", b"k")])

    def test_x_forwarded_for_appends_to_the_clients_chain_across_lines(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND;"
                   " proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; }", backend=b)
        r = self.through(b, b"/", headers=b"X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n")
        self.assertEqual(r.header_all("X-Forwarded-For"), [b"10.0.0.1, 10.0.0.2, 127.0.0.1"])
        r = self.through(b, b"/", headers=b"X-Forwarded-For: 10.0.0.1\r\nX-Other: 1\r\n"
                                           b"x-forwarded-for: 10.0.0.3\r\n")
        self.assertEqual(r.header_all("X-Forwarded-For"), [b"10.0.0.1, 10.0.0.3, 127.0.0.1"])
        r = self.through(b, b"/")
        self.assertEqual(r.header_all("X-Forwarded-For"), [b"127.0.0.1"])

    def test_empty_value_removes_the_header_and_hides_the_clients(self):
        b = self.backend()
        self.start("""location / { proxy_pass http://BACKEND;
            proxy_set_header User-Agent "";
            proxy_set_header X-Arg $arg_none;
            proxy_set_header Accept-Encoding '';
            proxy_set_header X-Set set;
        }""", backend=b)
        r = self.through(b, b"/?a=1", headers=b"User-Agent: ua\r\nAccept-Encoding: gzip\r\n"
                                               b"X-Arg: client\r\nX-Keep: k\r\n")
        self.assertEqual(r.headers, [(b"X-Set", b"set"), (b"Host", b.address.encode()),
                                     (b"X-Keep", b"k")])

    def test_empty_host_and_connection_values_remove_them(self):
        b = self.backend()
        self.start("""location / { proxy_pass http://BACKEND; proxy_http_version 1.0;
            proxy_set_header Host ""; proxy_set_header Connection ""; }""", backend=b)
        r = self.through(b, b"/", headers=b"X-Keep: k\r\n")
        self.assertEqual(r.raw, b"GET / HTTP/1.0\r\nX-Keep: k\r\n\r\n")

    def test_set_header_host_replaces_proxy_host(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_set_header Host $http_host; }",
                   backend=b)
        r = self.through(b, b"/", host=b"Client.Example:81")
        self.assertEqual(r.headers, [(b"Host", b"Client.Example:81")])

    def test_http_level_headers_apply_to_a_location_without_its_own(self):
        b = self.backend()
        self.start("location /none/ { proxy_pass http://BACKEND; }\n"
                   "location /own/ { proxy_pass http://BACKEND; proxy_set_header X-Own o; }",
                   http="    proxy_set_header X-Http h;\n    proxy_set_header X-Http2 $uri;",
                   backend=b)
        r = self.through(b, b"/none/x")
        self.assertEqual(r.headers, [(b"X-Http", b"h"), (b"X-Http2", b"/none/x"),
                                     (b"Host", b.address.encode())])
        # one proxy_set_header at a level drops every inherited one
        r = self.through(b, b"/own/x")
        self.assertEqual(r.headers, [(b"X-Own", b"o"), (b"Host", b.address.encode())])

    def test_server_level_headers_replace_http_level_ones(self):
        b = self.backend()
        self.start("proxy_set_header X-Srv s;\nlocation / { proxy_pass http://BACKEND; }",
                   http="    proxy_set_header X-Http h;", backend=b)
        r = self.through(b, b"/")
        self.assertEqual(r.headers, [(b"X-Srv", b"s"), (b"Host", b.address.encode())])

    def test_pass_request_headers_off_sends_only_the_set_ones(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_pass_request_headers off;"
                   " proxy_set_header X-Set $http_x_client; }", backend=b)
        r = self.through(b, b"/", headers=b"X-Client: c\r\nAccept: */*\r\n")
        self.assertEqual(r.raw, b"GET / HTTP/1.1\r\nX-Set: c\r\nHost: %s\r\n\r\n"
                         % b.address.encode())

    def test_proxy_method_changes_the_request_line(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_method POST; }\n"
                   "location /v/ { proxy_pass http://BACKEND; proxy_method $arg_m; }", backend=b)
        self.assertEqual(self.through(b, b"/x").request_line, b"POST /x HTTP/1.1")
        self.assertEqual(self.through(b, b"/v/?m=PURGE").request_line, b"PURGE /v/?m=PURGE HTTP/1.1")


class BodyTest(ProxyCase):
    """Request bodies."""

    def test_content_length_body_is_passed_after_content_length(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        r = self.through(b, b"/f", method=b"POST", body=b"a=1&b=2",
                         headers=b"Content-Type: application/x-www-form-urlencoded\r\n"
                                 b"Content-Length: 7\r\n")
        self.assertEqual(r.raw, b"POST /f HTTP/1.1\r\nHost: %s\r\nContent-Length: 7\r\n"
                         b"Content-Type: application/x-www-form-urlencoded\r\n\r\na=1&b=2"
                         % b.address.encode())

    def test_buffered_chunked_body_is_sent_with_content_length(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        r = self.through(b, b"/c", method=b"POST",
                         headers=b"Transfer-Encoding: chunked\r\nX-A: a\r\n",
                         body=b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTr: x\r\n\r\n")
        self.assertEqual(r.raw, b"POST /c HTTP/1.1\r\nHost: %s\r\nContent-Length: 11\r\n"
                         b"X-A: a\r\n\r\nhello world" % b.address.encode())

    def test_unbuffered_chunked_body_is_sent_chunked_over_http11(self):
        # (nginx 1.22 sends a Content-Length instead when the whole body came with the head,
        # as here; the streamed form is what the differential test compares)
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_request_buffering off; }",
                   backend=b)
        r = self.through(b, b"/c", method=b"POST", headers=b"Transfer-Encoding: chunked\r\n",
                         body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        self.assertTrue(r.chunked, r)
        self.assertEqual(r.data, b"hello world")
        self.assertEqual(r.headers, [(b"Host", b.address.encode()),
                                     (b"Transfer-Encoding", b"chunked")])
        self.assertTrue(r.body.endswith(b"0\r\n\r\n"), r)

    def test_unbuffered_chunked_body_over_http10_is_buffered_with_content_length(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_request_buffering off;"
                   " proxy_http_version 1.0; }", backend=b)
        r = self.through(b, b"/c", method=b"POST", headers=b"Transfer-Encoding: chunked\r\n",
                         body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        self.assertEqual(r.raw, b"POST /c HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n"
                         b"Content-Length: 11\r\n\r\nhello world" % b.address.encode())

    def test_unbuffered_content_length_body_keeps_content_length(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_request_buffering off; }",
                   backend=b)
        body = b"x" * 100000
        r = self.through(b, b"/u", method=b"PUT", body=body,
                         headers=b"Content-Length: %d\r\n" % len(body))
        self.assertEqual(r.header_all("Content-Length"), [b"100000"])
        self.assertFalse(r.chunked)
        self.assertEqual(r.data, body)

    def test_expect_100_continue_is_answered_by_proxyd_and_not_passed(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"POST /e HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                  b"Content-Length: 4\r\nConnection: close\r\n\r\n")
        interim, rest = proxyd_test.recv_response(s)
        self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"data")
        resp, _ = proxyd_test.recv_response(s, rest)
        self.assertEqual(proxyd_test.status_of(resp), 200)
        r = b.wait_request()
        self.assertEqual(r.raw, b"POST /e HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\n\r\ndata"
                         % b.address.encode())

    def test_body_larger_than_client_body_buffer_size_goes_through_a_temp_file(self):
        b = self.backend()
        tmp = tempfile.mkdtemp(prefix="proxyd-e2e-cbt-")
        self.addCleanup(shutil.rmtree, tmp, True)
        self.start("location / { proxy_pass http://BACKEND; }",
                   http="    client_body_buffer_size 1k;\n    client_max_body_size 10m;\n"
                        "    client_body_temp_path %s;" % tmp, backend=b)
        body = bytes(range(256)) * 2000
        r = self.through(b, b"/big", method=b"POST", body=body,
                         headers=b"Content-Length: %d\r\n" % len(body))
        self.assertEqual(r.header_all("Content-Length"), [str(len(body)).encode()])
        self.assertEqual(r.data, body)
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7000]), body[i:i + 7000])
                           for i in range(0, len(body), 7000)) + b"0\r\n\r\n"
        r = self.through(b, b"/big", method=b"POST", body=chunked,
                         headers=b"Transfer-Encoding: chunked\r\n")
        self.assertEqual(r.header_all("Content-Length"), [str(len(body)).encode()])
        self.assertEqual(r.data, body)
        self.assertEqual(os.listdir(tmp), [], "temp files left behind")

    def test_client_max_body_size_refuses_content_length_and_chunked_with_413(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; client_max_body_size 10; }", backend=b)
        status, resp = self.request(b"/", method=b"POST", body=b"x" * 11,
                                    headers=b"Content-Length: 11\r\n")
        self.assertEqual(status, 413, resp)
        status, resp = self.request(b"/", method=b"POST", body=b"6\r\nxxxxxx\r\n5\r\nxxxxx\r\n0\r\n\r\n",
                                    headers=b"Transfer-Encoding: chunked\r\n")
        self.assertEqual(status, 413, resp)
        # exactly the limit passes
        r = self.through(b, b"/", method=b"POST", body=b"x" * 10, headers=b"Content-Length: 10\r\n")
        self.assertEqual(r.data, b"x" * 10)
        self.assertEqual(len(b.requests), 1)

    def test_pass_request_body_off_sends_no_body(self):
        b = self.backend()
        # the form nginx documents for subrequest-like auth calls: the length goes too
        self.start("location / { proxy_pass http://BACKEND; proxy_pass_request_body off;"
                   " proxy_set_header Content-Length \"\"; }", backend=b)
        r = self.through(b, b"/", method=b"POST", body=b"secret", headers=b"Content-Length: 6\r\n")
        self.assertEqual(r.raw, b"POST / HTTP/1.1\r\nHost: %s\r\n\r\n" % b.address.encode())

    def test_set_body_replaces_the_body_and_its_length(self):
        b = self.backend()
        self.start("location / { proxy_pass http://BACKEND; proxy_set_body \"n=$arg_n&m=$request_method\";"
                   " proxy_set_header Content-Type text/plain; }", backend=b)
        r = self.through(b, b"/?n=v", method=b"POST", body=b"original",
                         headers=b"Content-Length: 8\r\n")
        self.assertEqual(r.raw, b"POST /?n=v HTTP/1.1\r\nContent-Type: text/plain\r\nHost: %s\r\n"
                         b"Content-Length: 10\r\n\r\nn=v&m=POST" % b.address.encode())
        r = self.through(b, b"/?n=get")
        self.assertEqual(r.header_all("Content-Length"), [b"11"])
        self.assertEqual(r.data, b"n=get&m=GET")


class VariablesAndRedirectTest(ProxyCase):

    def test_proxy_and_upstream_variables_in_the_access_log(self):
        b = self.backend(response=b"HTTP/1.1 203 Non\r\nContent-Length: 2\r\n\r\nok")
        log = os.path.join(self.logdir(), "p.log")
        self.start("location /p/ { proxy_pass http://BACKEND/q/; access_log LOG v; }\n"
                   "location /v/ { proxy_pass http://127.0.0.1:$arg_p; access_log LOG v; }",
                   http="    log_format v '$uri|$proxy_host|$proxy_port|$upstream_addr|"
                        "$upstream_status|$status';", backend=b,
                   subst={"LOG": log})
        status, _ = self.request(b"/p/x")
        self.assertEqual(status, 203)
        status, _ = self.request(b"/v/x?p=%d" % b.port)
        self.assertEqual(status, 203)
        text = proxyd_test.wait_for_text(log, "/v/x|")
        a = b.address
        self.assertEqual(text.splitlines(), [
            "/p/x|%s|%d|%s|203|203" % (a, b.port, a),
            "/v/x|%s|%d|%s|203|203" % (a, b.port, a)])

    def test_upstream_variables_when_the_connection_is_refused(self):
        dead = proxyd_test.free_port()
        log = os.path.join(self.logdir(), "p.log")
        self.start("location / { proxy_pass http://127.0.0.1:%d; access_log %s v; }" % (dead, log),
                   http="    log_format v '$proxy_host|$upstream_addr|$upstream_status|$status';")
        status, _ = self.request(b"/")
        self.assertEqual(status, 502)
        text = proxyd_test.wait_for_text(log, "|502")
        self.assertEqual(text, "127.0.0.1:%d|127.0.0.1:%d|502|502\n" % (dead, dead))

    def test_prefix_location_with_slash_redirects_the_bare_name_with_301(self):
        b = self.backend()
        self.start("location /api/ { proxy_pass http://BACKEND; }", backend=b)
        status, resp = self.request(b"/api")
        self.assertEqual(status, 301, resp)
        self.assertIn(b"\r\nLocation: http://localhost:%d/api/\r\n" % self.port, resp)
        status, resp = self.request(b"/api?x=1")
        self.assertEqual(status, 301, resp)
        self.assertIn(b"\r\nLocation: http://localhost:%d/api/?x=1\r\n" % self.port, resp)
        self.assertEqual(self.through(b, b"/api/").target, b"/api/")
        self.assertEqual(len(b.requests), 1)


class ProxyConfigErrorsTest(proxyd_test.TempDirCase):
    """`-t` on bad proxy configurations: nginx's exact [emerg] line (checked against the nginx
    binary too where it agrees) with the file:line nginx names."""
    PREFIX = "proxyd-e2e-proxyconf-"

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "proxyd.conf")

    run_t = test_config_errors.ConfigErrorsTest.run_t
    nginx_lines = test_config_errors.ConfigErrorsTest.nginx_lines
    assert_fails = test_config_errors.ConfigErrorsTest.assert_fails

    URI_PART = ('"proxy_pass" cannot have URI part in location given by regular expression, or '
                'inside named location, or inside "if" statement, or inside "limit_except" block')

    def test_proxy_pass_in_http_context_is_not_allowed(self):
        self.assert_fails("http {\n    proxy_pass http://127.0.0.1:{port};\n}\n",
                          '"proxy_pass" directive is not allowed here in DIR/proxyd.conf:5')

    def test_proxy_pass_in_server_context_is_not_allowed(self):
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:{port};\n"
                          "    proxy_pass http://127.0.0.1:1;\n  }\n}\n",
                          '"proxy_pass" directive is not allowed here in DIR/proxyd.conf:7')

    def test_uri_part_in_a_regex_location(self):
        self.assert_fails("http {\n  server {\n    location ~ ^/x {\n"
                          "      proxy_pass http://127.0.0.1:1/u/;\n    }\n  }\n}\n",
                          self.URI_PART + " in DIR/proxyd.conf:7")

    def test_uri_part_in_a_named_location(self):
        self.assert_fails("http {\n  server {\n    location @n {\n\n"
                          "      proxy_pass http://127.0.0.1:1/;\n    }\n  }\n}\n",
                          self.URI_PART + " in DIR/proxyd.conf:8")

    def test_invalid_url_prefix(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass ftp://127.0.0.1:1;\n    }\n  }\n}\n",
                          "invalid URL prefix in DIR/proxyd.conf:7")

    def test_host_not_found(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass http://no-such-host.invalid/;\n    }\n  }\n}\n",
                          'host not found in upstream "no-such-host.invalid" in DIR/proxyd.conf:7')

    def test_duplicate_proxy_pass(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass http://127.0.0.1:1;\n"
                          "      proxy_pass http://127.0.0.1:2;\n    }\n  }\n}\n",
                          '"proxy_pass" directive is duplicate in DIR/proxyd.conf:8')

    # nginx (an enum slot) says only 'invalid value "2.0"'.
    def test_proxy_http_version_2_0(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass http://127.0.0.1:1;\n"
                          "      proxy_http_version 2.0;\n    }\n  }\n}\n",
                          'invalid value "2.0" in DIR/proxyd.conf:8')

    # The three below: a merge-time error names the line where the http block ends (its
    # closing brace), where nginx merges.
    def test_fewer_than_two_proxy_buffers(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass http://127.0.0.1:1;\n"
                          "      proxy_buffers 1 4k;\n    }\n  }\n\n}\n",
                          'there must be at least 2 "proxy_buffers" in DIR/proxyd.conf:12')

    def test_busy_buffers_smaller_than_a_buffer(self):
        self.assert_fails("http {\n  proxy_buffer_size 8k;\n  server {\n    location / {\n"
                          "      proxy_pass http://127.0.0.1:1;\n"
                          "      proxy_busy_buffers_size 4k;\n    }\n  }\n}\n",
                          '"proxy_busy_buffers_size" must be equal to or greater than the '
                          'maximum of the value of "proxy_buffer_size" and one of the '
                          '"proxy_buffers" in DIR/proxyd.conf:12')

    def test_busy_buffers_larger_than_all_buffers_but_one(self):
        self.assert_fails("http {\n  server {\n    location / {\n"
                          "      proxy_pass http://127.0.0.1:1;\n      proxy_buffers 4 4k;\n"
                          "      proxy_busy_buffers_size 16k;\n    }\n  }\n}\n",
                          '"proxy_busy_buffers_size" must be less than the size of all '
                          '"proxy_buffers" minus one buffer in DIR/proxyd.conf:12')

    def test_busy_buffers_limits_are_inclusive(self):
        self.write("proxyd.conf", test_config_errors.HEAD +
                   "http {\n  server {\n    location / {\n      proxy_pass http://127.0.0.1:1;\n"
                   "      proxy_buffers 4 4k;\n      proxy_busy_buffers_size 12k;\n    }\n"
                   "    location /b/ {\n      proxy_pass http://127.0.0.1:1;\n"
                   "      proxy_buffer_size 8k;\n      proxy_busy_buffers_size 8k;\n    }\n"
                   "  }\n}\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(rc, 0, err)
        if test_config_errors.nginx_available():
            self.assertEqual(self.run_t(proxyd_test.NGINX_BIN, ["-e", "stderr"])[0], 0)

    def test_slash_mismatch_is_warned_with_the_uri_it_produces(self):
        # proxyd's own warning (nginx says nothing): the location lacks the trailing slash its
        # URI part has, so "/blog/x" becomes "/wordpress//x"
        self.write("proxyd.conf", test_config_errors.HEAD +
                   "http {\n  server {\n    location /blog {\n"
                   "      proxy_pass http://127.0.0.1:1/wordpress/;\n    }\n  }\n}\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(), [
            'proxyd: [warn] "proxy_pass" URI part "/wordpress/" ends with "/" but location '
            '"/blog" does not, so "/blog/x" is sent as "/wordpress//x" in DIR/proxyd.conf:7',
            "proxyd: the configuration file DIR/proxyd.conf syntax is ok",
            "proxyd: configuration file DIR/proxyd.conf test is successful"])


if __name__ == "__main__":
    proxyd_test.main()
