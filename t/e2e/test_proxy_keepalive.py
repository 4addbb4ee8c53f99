"""The upstream keepalive cache of proxy_pass (current nginx: HTTP/1.1 and keepalive by
default): reuse, what prevents it, an idle connection the server closes, and the one retry
of an idempotent request when a cached connection turns out to be dead."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
from test_proxy_request import ProxyCase  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class KeepaliveTest(ProxyCase):
    def sequential(self, n, target=b"/", **kw):
        for _ in range(n):
            status, resp = self.request(target, **kw)
            self.assertEqual(status, 200, resp[:300])

    def test_sequential_requests_share_one_upstream_connection(self):
        b = self.backend(keepalive=True)
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(5)
        self.assertEqual([r.conn for r in b.requests], [0] * 5)
        self.assertNotIn(b"Connection", b.requests[0].head)

    def test_connection_close_from_upstream_is_not_reused(self):
        b = self.backend(keepalive=True,
                         response=b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(3)
        self.assertEqual([r.conn for r in b.requests], [0, 1, 2])

    def test_http_1_0_upstream_requests_are_not_kept(self):
        b = self.backend(keepalive=True)
        self.start("location / { proxy_http_version 1.0; proxy_pass http://BACKEND; }", backend=b)
        self.sequential(3)
        self.assertEqual([r.conn for r in b.requests], [0, 1, 2])
        self.assertIn(b"\r\nConnection: close", b.requests[0].head)

    def test_http_1_0_response_is_not_reused(self):
        b = self.backend(keepalive=True, response=b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(2)
        self.assertEqual([r.conn for r in b.requests], [0, 1])

    def test_close_delimited_response_is_not_reused(self):
        b = self.backend(response=b"HTTP/1.1 200 OK\r\n\r\nok")
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(2)
        self.assertEqual([r.conn for r in b.requests], [0, 1])

    def test_chunked_response_leaves_the_connection_reusable(self):
        b = self.backend(keepalive=True,
                         response=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(3)
        self.assertEqual([r.conn for r in b.requests], [0, 0, 0])

    def test_locations_do_not_share_connections(self):
        # nginx's "keepalive 32 local": a cached connection belongs to its location
        b = self.backend(keepalive=True)
        self.start("location /a { proxy_pass http://BACKEND; }\n"
                   "location /b { proxy_pass http://BACKEND; }", backend=b)
        self.sequential(2, b"/a")
        self.sequential(2, b"/b")
        self.assertEqual([r.conn for r in b.requests], [0, 0, 1, 1])

    def test_at_most_32_idle_connections_are_kept_per_location(self):
        # 40 requests at once hold 40 upstream connections; once answered, all 40 stay idle
        # for the grace of a second (a load swinging around the cap reuses them), so a second
        # wave right after reuses them all; a second later only 32 are left, and a third wave
        # of 40 opens 8
        wave = threading.Barrier(40, timeout=10)

        def answer_together(req):
            wave.wait()
            return OK

        b = self.backend(keepalive=True, response=answer_together)
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        for n in (1, 2, 3):
            if n == 3:
                self.assertEqual(b.connections, 40)
                time.sleep(1.6)
            statuses = []

            def one():
                statuses.append(self.request(b"/")[0])

            clients = [threading.Thread(target=one) for _ in range(40)]
            for t in clients:
                t.start()
            for t in clients:
                t.join(15)
            self.assertEqual(statuses, [200] * 40)
        self.assertEqual(b.connections, 48)

    def test_idle_connection_closed_by_the_server_is_dropped(self):
        # the server closes each connection a moment after answering (without saying so):
        # the cached connection's close arrives as an event and it is never used again
        b = self.backend(keepalive=False)
        self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        for _ in range(3):
            self.sequential(1)
            time.sleep(0.2)
        self.assertEqual(len(b.requests), 3)
        self.assertEqual([r.conn for r in b.requests], [0, 1, 2])


class DeadCachedConnection(ProxyCase):
    """A server that keeps the first connection open after its answer, then closes it as the
    next request arrives on it without answering: what a race with an idle close looks like."""

    junk = False

    def start_server(self):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        srv.settimeout(0.2)
        self.addCleanup(srv.close)
        self.conns = 0
        self.requests = []
        stop = threading.Event()
        self.addCleanup(stop.set)

        def serve(c, number):
            with c:
                c.settimeout(5)
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        d = c.recv(65536)
                        if not d:
                            return
                        data += d
                    head, _, data = data.partition(b"\r\n\r\n")
                    self.requests.append((number, head.split(b"\r\n")[0]))
                    if number == 0 and len([n for n, _ in self.requests if n == 0]) > 1:
                        if self.junk:
                            c.sendall(b"ignored: left over from the last answer\r\n")
                        return  # the second request on the first connection: drop it
                    c.sendall(OK)

        def accept():
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                threading.Thread(target=serve, args=(c, self.conns), daemon=True).start()
                self.conns += 1

        threading.Thread(target=accept, daemon=True).start()
        return srv.getsockname()[1]

    def test_idempotent_request_is_retried_once_on_a_new_connection(self):
        port = self.start_server()
        self.start("location / { proxy_pass http://127.0.0.1:%d; }" % port)
        self.assertEqual(self.request(b"/one")[0], 200)
        status, resp = self.request(b"/two")
        self.assertEqual(status, 200, resp[:300])
        self.assertEqual(self.requests, [(0, b"GET /one HTTP/1.1"), (0, b"GET /two HTTP/1.1"),
                                         (1, b"GET /two HTTP/1.1")])

    def test_bytes_that_are_not_http_on_a_cached_connection_mean_a_retry(self):
        # a server that wrote more than its previous answer (a 204 with a body, say)
        self.junk = True
        port = self.start_server()
        self.start("location / { proxy_pass http://127.0.0.1:%d; }" % port)
        self.assertEqual(self.request(b"/one")[0], 200)
        status, resp = self.request(b"/two")
        self.assertEqual(status, 200, resp[:300])
        self.assertEqual([n for n, _ in self.requests], [0, 0, 1])

    def test_post_is_not_retried(self):
        port = self.start_server()
        log = os.path.join(self.logdir(), "error.log")
        self.start("location / { proxy_pass http://127.0.0.1:%d; }" % port,
                   http="    error_log %s error;" % log)
        self.assertEqual(self.request(b"/one")[0], 200)
        status, _ = self.request(b"/two", method=b"POST", headers=b"Content-Length: 1\r\n", body=b"x")
        self.assertEqual(status, 502)
        self.assertEqual([n for n, _ in self.requests], [0, 0])
        self.assertIn("upstream prematurely closed connection while reading response header "
                      "from upstream", proxyd_test.wait_for_text(log, "prematurely"))


class GracefulStop(ProxyCase):
    def test_quit_closes_idle_upstream_connections_and_exits(self):
        b = self.backend(keepalive=True)
        p = self.start("location / { proxy_pass http://BACKEND; }", backend=b)
        self.assertEqual(self.request(b"/")[0], 200)
        p.signal(signal.SIGQUIT)
        try:
            p.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("proxyd kept running with an idle upstream connection")


if __name__ == "__main__":
    proxyd_test.main()
