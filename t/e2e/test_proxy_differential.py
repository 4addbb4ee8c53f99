"""proxy_pass, differential against Debian's nginx: the same configuration runs under nginx
and under proxyd, each in front of its own recording backend (proxyd_test.RecordingBackend)
that answers the same way; every case sends the same request to both and checks that the
two backends received the same bytes and that the two clients got the same answer.

What is normalised, and only that:
- current nginx (1.29.7+) speaks HTTP/1.1 upstream without "Connection: close"; Debian's
  1.22 does not, so nginx gets `proxy_http_version 1.1;` at http level (locations that set
  1.0 keep it) and its "Connection: close" line is dropped from HTTP/1.1 requests;
- client headers named Proxy-* or "Proxy" are not forwarded by proxyd (deliberately), so
  they are dropped from what nginx's backend got;
- each side's own listening port and backend port read PORT and BPORT;
- the Date and Server values, and the server name in error pages (normalize_response)."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

CONF = r"""
http {
    access_log off;
    %(nginx_only)s

    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;

        location /plain/ { proxy_pass http://BACKEND; }
        location /uri/ { proxy_pass http://BACKEND/new/; }
        location /slashless { proxy_pass http://BACKEND/wp/; }
        location /strip/ { proxy_pass http://BACKEND/; }
        location ~ ^/re/.*\.php$ { proxy_pass http://BACKEND; }
        location /set/ {
            proxy_pass http://BACKEND;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port $server_port;
            proxy_set_header X-Uri "$uri|$args|$request_uri|$is_args";
        }
        location /host/ { proxy_pass http://BACKEND; proxy_set_header Host $http_host; }
        location /empty/ {
            proxy_pass http://BACKEND;
            proxy_set_header User-Agent "";
            proxy_set_header Accept-Encoding '';
            proxy_set_header X-Arg $arg_none;
            proxy_set_header X-Set set;
        }
        location /nohost/ {
            proxy_pass http://BACKEND; proxy_http_version 1.0;
            proxy_set_header Host ""; proxy_set_header Connection "";
        }
        location /v10/ { proxy_pass http://BACKEND; proxy_http_version 1.0; }
        location /stream/ { proxy_pass http://BACKEND; proxy_request_buffering off; }
        location /stream10/ {
            proxy_pass http://BACKEND; proxy_request_buffering off; proxy_http_version 1.0;
        }
        location /noheaders/ {
            proxy_pass http://BACKEND; proxy_pass_request_headers off;
            proxy_set_header X-Set $http_x_client;
        }
        location /nobody/ {
            proxy_pass http://BACKEND; proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location /setbody/ { proxy_pass http://BACKEND; proxy_set_body "n=$arg_n&m=$request_method"; }
        location /method/ { proxy_pass http://BACKEND; proxy_method POST; }
        location /small/ { proxy_pass http://BACKEND; client_max_body_size 10; }
        location /hide/ {
            proxy_pass http://BACKEND;
            proxy_hide_header X-Secret;
            proxy_hide_header x-other-secret;
            proxy_pass_header Server;
            proxy_pass_header X-Accel-Expires;
        }
        location /redir/ {
            proxy_pass http://BACKEND/new/;
            proxy_redirect http://other.example/ /o/;
            proxy_redirect ~^http://(re)\.example/(.*)$ /$1/$2;
            proxy_redirect http://BACKEND/new/ /redir/;
        }
        location /redir-off/ { proxy_pass http://BACKEND/new/; proxy_redirect off; }
        location /errors/ { proxy_pass http://BACKEND; proxy_intercept_errors off; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name inherit.test;
        proxy_set_header X-Srv "srv $server_name";
        proxy_set_header X-Srv2 two;

        location /none/ { proxy_pass http://BACKEND; }
        location /own/ { proxy_pass http://BACKEND; proxy_set_header X-Own own; }
    }
}
"""

# nginx 1.22 only: what current nginx does by default (see the module docstring)
NGINX_ONLY = "proxy_http_version 1.1;"

# The backend's answers, chosen by the X-Case request header (default: 200 "ok").
# BADDR is the backend's own host:port.
RESPONSES = {
    "cl": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: a\r\n\r\n"
               b"5\r\nhello\r\n1;e=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
    "close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the connection closes",
    "close10": b"HTTP/1.0 200 OK\r\nX-A: a\r\n\r\nhttp/1.0 body",
    "head": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: a\r\n\r\n",
    "404": b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot found",
    "500": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nX-Err: e\r\n\r\noops",
    "503nobody": b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n",
    "hidden": b"HTTP/1.1 200 OK\r\nServer: backend/1\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
              b"X-Pad: avoid browser bug\r\nX-Accel-Expires: 10\r\nX-Accel-Limit-Rate: 1000\r\n"
              b"X-Accel-Buffering: no\r\nX-Accel-Charset: utf-8\r\nX-Secret: s\r\n"
              b"X-Other-Secret: s2\r\nX-Powered-By: php\r\nContent-Length: 2\r\n\r\nok",
    "cookies": b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\n"
               b"X-Multi: 1\r\nVary: Accept\r\nX-Multi: 2\r\nVary: Cookie\r\n"
               b"Cache-Control: no-cache\r\nCache-Control: private\r\nLink: </a>\r\nLink: </b>\r\n"
               b"Content-Length: 2\r\n\r\nok",
    "redirect": b"HTTP/1.1 302 Found\r\nLocation: http://BADDR/new/x?y=1\r\n"
                b"Refresh: 5; url=http://BADDR/new/r\r\nContent-Length: 0\r\n\r\n",
    "redirect-other": b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://other.example/a/b\r\n"
                      b"Content-Length: 0\r\n\r\n",
    "redirect-re": b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://re.example/p/q\r\n"
                   b"Content-Length: 0\r\n\r\n",
    "redirect-keep": b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/new/x\r\n"
                     b"Content-Length: 0\r\n\r\n",
    "created": b"HTTP/1.1 201 Created\r\nLocation: http://BADDR/new/item/1\r\n"
               b"Content-Length: 0\r\n\r\n",
}

H = b"Host: localhost\r\n"
BIG = bytes(range(256)) * 1172
C = b"Connection: close\r\n\r\n"


def req(line, headers=b"", body=b"", host=H):
    return line + b"\r\n" + host + headers + C + body


def chunk(*parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


# (test name, request bytes, or a list of pieces the client sends with a pause between them)
CASES = [
    ("plain_get", req(b"GET /plain/a/b?x=1&y HTTP/1.1", b"User-Agent: t\r\nAccept: */*\r\n")),
    ("uri_part_replaces_prefix", req(b"GET /uri/my-post?q=1 HTTP/1.1")),
    ("uri_part_location_itself", req(b"GET /uri/ HTTP/1.1")),
    ("slash_mismatch_doubles_slash", req(b"GET /slashless/my-post HTTP/1.1")),
    ("slash_mismatch_exact", req(b"GET /slashless HTTP/1.1")),
    ("slash_mismatch_longer_name", req(b"GET /slashlessness HTTP/1.1")),
    ("slash_uri_strips_prefix", req(b"GET /strip/users?id=7 HTTP/1.1")),
    ("encoded_uri_without_uri_part", req(b"GET /plain/%7Ea/b%2Fc/%5B%5d%20?q=%2F%41&x=%zz HTTP/1.1")),
    ("encoded_uri_with_uri_part", req(b"GET /uri/a%20b%2Fc%41/%25/%e2%82%ac?q=%41 HTTP/1.1")),
    ("dot_segments_with_uri_part", req(b"GET /uri/x/../y/./z HTTP/1.1")),
    ("dot_segments_without_uri_part", req(b"GET /plain/x/../y/./z HTTP/1.1")),
    ("empty_args", req(b"GET /uri/x? HTTP/1.1")),
    ("regex_location", req(b"GET /re/a/index.php?a=1 HTTP/1.1")),
    ("client_headers_in_order", req(b"GET /plain/ HTTP/1.1",
                                    b"x-b: 1\r\nX-A: two  words \r\nX-B: 3\r\nCookie: a=1\r\n"
                                    b"Cookie: b=2\r\nAccept-Encoding: gzip\r\n")),
    ("hop_by_hop_not_passed", req(b"GET /plain/ HTTP/1.1",
                                  b"Keep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: foo/1\r\n"
                                  b"Proxy-Authorization: Basic eA==\r\nProxy-Connection: x\r\n"
                                  b"Proxy: http://evil:1\r\nX-Named: v\r\n"
                                  b"Connection: keep-alive, X-Named\r\nX-Other: o\r\n")),
    ("set_header_variables", req(b"GET /set/p?a=1 HTTP/1.1",
                                 b"X-Real-IP: spoofed\r\nX-Forwarded-For: 10.0.0.1\r\nX-Keep: k\r\n"
                                 b"x-forwarded-for: 10.0.0.2, 10.0.0.3\r\n",
                                 host=b"Host: Example.COM:8080\r\n")),
    ("set_header_variables_without_chain", req(b"GET /set/p HTTP/1.1")),
    ("host_from_client", req(b"GET /host/ HTTP/1.1", host=b"Host: Client.Example:81\r\n")),
    ("empty_values_remove_headers", req(b"GET /empty/?a=1 HTTP/1.1",
                                        b"User-Agent: ua\r\nAccept-Encoding: gzip\r\n"
                                        b"X-Arg: client\r\nX-Keep: k\r\n")),
    ("empty_host_and_connection", req(b"GET /nohost/ HTTP/1.1", b"X-Keep: k\r\n")),
    ("http_10_upstream", req(b"GET /v10/ HTTP/1.1", b"X-Keep: k\r\n")),
    ("inherited_server_headers", req(b"GET /none/x HTTP/1.1", b"X-Srv: client\r\n",
                                     host=b"Host: inherit.test\r\n")),
    ("own_header_drops_inherited", req(b"GET /own/x HTTP/1.1", b"X-Srv: client\r\n",
                                       host=b"Host: inherit.test\r\n")),
    ("pass_request_headers_off", req(b"GET /noheaders/ HTTP/1.1", b"X-Client: c\r\nAccept: a\r\n")),
    ("pass_request_body_off", req(b"POST /nobody/ HTTP/1.1", b"Content-Length: 6\r\n", b"secret")),
    ("set_body", req(b"POST /setbody/?n=v HTTP/1.1", b"Content-Length: 8\r\n", b"original")),
    ("set_body_on_get", req(b"GET /setbody/?n=get HTTP/1.1")),
    ("proxy_method", req(b"GET /method/x HTTP/1.1")),
    ("post_content_length", req(b"POST /plain/f HTTP/1.1",
                                b"Content-Type: application/x-www-form-urlencoded\r\n"
                                b"Content-Length: 7\r\n", b"a=1&b=2")),
    ("post_chunked_buffered", req(b"POST /plain/c HTTP/1.1", b"Transfer-Encoding: chunked\r\n"
                                  b"X-A: a\r\n", chunk(b"hello", b" ", b"world"))),
    ("post_chunked_with_trailer", req(b"POST /plain/c HTTP/1.1", b"Transfer-Encoding: chunked\r\n",
                                      b"3;ext=1\r\nabc\r\n0\r\nX-T: t\r\n\r\n")),
    # the body comes after a pause: nginx sends a body it already holds whole with a
    # Content-Length even when not buffering, and streams only what is still to come
    ("post_chunked_streamed", [req(b"POST /stream/c HTTP/1.1", b"Transfer-Encoding: chunked\r\n"),
                               chunk(b"hello", b" world")]),
    ("post_chunked_empty", req(b"POST /plain/c HTTP/1.1", b"Transfer-Encoding: chunked\r\n",
                               chunk())),
    ("post_chunked_streamed_http10", req(b"POST /stream10/c HTTP/1.1",
                                         b"Transfer-Encoding: chunked\r\n", chunk(b"hello", b"!"))),
    ("post_streamed_content_length", req(b"PUT /stream/u HTTP/1.1", b"Content-Length: 5000\r\n",
                                         b"y" * 5000)),
    ("post_large_body", req(b"POST /plain/big HTTP/1.1", b"Content-Length: %d\r\n" % len(BIG), BIG)),
    ("post_expect_continue", req(b"POST /plain/e HTTP/1.1", b"Expect: 100-continue\r\n"
                                 b"Content-Length: 4\r\n", b"data")),
    ("post_empty_body", req(b"POST /plain/e HTTP/1.1", b"Content-Length: 0\r\n")),
    ("body_too_large_content_length", req(b"POST /small/ HTTP/1.1", b"Content-Length: 11\r\n",
                                          b"x" * 11)),
    ("body_too_large_chunked", req(b"POST /small/ HTTP/1.1", b"Transfer-Encoding: chunked\r\n",
                                   chunk(b"x" * 6, b"x" * 5))),
    ("body_at_the_limit", req(b"POST /small/ HTTP/1.1", b"Content-Length: 10\r\n", b"x" * 10)),
    ("head", req(b"HEAD /plain/h HTTP/1.1", b"X-Case: head\r\n")),
    ("response_content_length", req(b"GET /plain/ HTTP/1.1", b"X-Case: cl\r\n")),
    ("response_chunked", req(b"GET /plain/ HTTP/1.1", b"X-Case: chunked\r\n")),
    ("response_close_delimited", req(b"GET /plain/ HTTP/1.1", b"X-Case: close\r\n")),
    ("response_http10_close_delimited", req(b"GET /plain/ HTTP/1.1", b"X-Case: close10\r\n")),
    ("response_close_delimited_to_http10_client",
     b"GET /plain/ HTTP/1.0\r\nHost: localhost\r\nX-Case: close\r\n\r\n"),
    ("response_404_passed", req(b"GET /errors/ HTTP/1.1", b"X-Case: 404\r\n")),
    ("response_500_passed", req(b"GET /errors/ HTTP/1.1", b"X-Case: 500\r\n")),
    ("response_503_empty", req(b"GET /plain/ HTTP/1.1", b"X-Case: 503nobody\r\n")),
    ("response_headers_hidden_by_default", req(b"GET /plain/ HTTP/1.1", b"X-Case: hidden\r\n")),
    ("response_hide_and_pass_header", req(b"GET /hide/ HTTP/1.1", b"X-Case: hidden\r\n")),
    ("response_set_cookie_and_repeated_headers", req(b"GET /plain/ HTTP/1.1",
                                                     b"X-Case: cookies\r\n")),
    ("redirect_default", req(b"GET /uri/x HTTP/1.1", b"X-Case: redirect\r\n")),
    ("redirect_default_on_201", req(b"GET /uri/x HTTP/1.1", b"X-Case: created\r\n")),
    ("redirect_default_other_host_kept", req(b"GET /uri/x HTTP/1.1", b"X-Case: redirect-keep\r\n")),
    ("redirect_explicit", req(b"GET /redir/x HTTP/1.1", b"X-Case: redirect\r\n")),
    ("redirect_explicit_other", req(b"GET /redir/x HTTP/1.1", b"X-Case: redirect-other\r\n")),
    ("redirect_explicit_regex", req(b"GET /redir/x HTTP/1.1", b"X-Case: redirect-re\r\n")),
    ("redirect_off", req(b"GET /redir-off/x HTTP/1.1", b"X-Case: redirect\r\n")),
    ("auto_redirect_adds_slash", req(b"GET /uri HTTP/1.1")),
    ("auto_redirect_keeps_args", req(b"GET /strip?a=1 HTTP/1.1")),
]

# name -> why it is expected to fail: each a bug in proxyd, kept failing until fixed.
XFAIL = {}


def send_pieces(port, pieces, timeout=10.0):
    """Sends the pieces with a short pause between them; returns all the answer (to close)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(0.3)
            s.sendall(piece)
        out = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            out.append(b)
        return b"".join(out)
    finally:
        s.close()


def normalize_request(raw, backend_port, proxy_port, nginx):
    """What a backend received, with the documented differences set aside."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for line in lines[1:]:
        name = line.partition(b":")[0].strip().lower()
        if nginx and (name == b"proxy" or name.startswith(b"proxy-")):
            continue
        if nginx and lines[0].endswith(b" HTTP/1.1") and line == b"Connection: close":
            continue
        out.append(line)
    data = b"\r\n".join(out) + sep + body
    data = data.replace(str(backend_port).encode(), b"BPORT")
    return data.replace(str(proxy_port).encode(), b"PORT")


def normalize_client(data, backend_port, proxy_port):
    data = proxyd_test.normalize_response(data)
    data = data.replace(str(backend_port).encode(), b"BPORT")
    return data.replace(str(proxy_port).encode(), b"PORT")


class ProxyDifferentialTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.sides = {}
        try:
            for side in ("proxyd", "nginx"):
                backend = proxyd_test.RecordingBackend()
                port = proxyd_test.free_port()
                cls.sides[side] = [backend, port, None]
                backend.response = cls.responder(backend)
                text = CONF % {"port": port, "nginx_only": NGINX_ONLY if side == "nginx" else ""}
                text = text.replace("BACKEND", backend.address)
                server = proxyd_test.Proxyd(text) if side == "proxyd" else proxyd_test.NginxRef(text)
                cls.sides[side][2] = server
                server.start(wait_for=port)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for backend, _, server in cls.sides.values():
            if server is not None:
                server.cleanup()
            backend.close()

    @staticmethod
    def responder(backend):
        def answer(r):
            resp = RESPONSES.get((r.header("X-Case") or b"").decode(),
                                 proxyd_test.RecordingBackend.DEFAULT_RESPONSE)
            # the backend closes after each answer, and says so: proxyd (HTTP/1.1, keepalive)
            # would otherwise cache a connection the backend is closing, and a POST meeting it
            # fails as it should (never resent); nginx here talks HTTP/1.0 and never caches
            status_end = resp.index(b"\r\n") + 2
            if b"\r\nConnection:" not in resp[:resp.find(b"\r\n\r\n") + 2]:
                resp = resp[:status_end] + b"Connection: close\r\n" + resp[status_end:]
            return resp.replace(b"BADDR", backend.address.encode())
        return answer

    def one_side(self, side, data):
        backend, port, _ = self.sides[side]
        before = len(backend.requests)
        resp = send_pieces(port, data if isinstance(data, list) else [data])
        got = backend.requests[before:]
        # the backend answered before the client's answer was complete, so the requests
        # recorded by now are all this exchange made
        reqs = [normalize_request(r.raw, backend.port, port, side == "nginx") for r in got]
        backend._taken = len(backend.requests)
        return normalize_client(resp, backend.port, port), reqs

    def check(self, data):
        got_resp, got_reqs = self.one_side("proxyd", data)
        ref_resp, ref_reqs = self.one_side("nginx", data)
        self.assertEqual(got_reqs, ref_reqs, "the backends received different requests")
        self.assertEqual(got_resp, ref_resp, "the clients got different answers")
        self.assertTrue(ref_resp.startswith(b"HTTP/1."), ref_resp)


def _make(data):
    def test(self):
        self.check(data)
    return test


for _name, _data in CASES:
    _t = _make(_data)
    _t.__name__ = "test_" + _name
    if _name in XFAIL:
        _t.__doc__ = XFAIL[_name]
        _t = unittest.expectedFailure(_t)
    setattr(ProxyDifferentialTest, "test_" + _name, _t)


if __name__ == "__main__":
    proxyd_test.main()
