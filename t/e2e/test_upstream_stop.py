"""Upstream groups at the edges: a graceful stop is not held up by connections parked after it
began or by health-check probes in flight; `proxy_next_upstream ... off`; which methods are
retried after they reached a server (nginx: all but POST, LOCK and PATCH)."""
import os
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


class Backend:
    """An HTTP/1.1 keepalive backend; /slow answers after `delay`; `mode` "close" closes every
    connection after reading a request head, "hang" never answers."""

    def __init__(self, delay=1.5, mode="ok"):
        self.delay = delay
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(4096)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                if self.mode == "close":
                    return
                if self.mode == "hang":
                    time.sleep(30)
                    return
                if head.split(b" ")[1].startswith(b"/slow"):
                    time.sleep(self.delay)
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.sock.close()


def get(port, path, method="GET"):
    data = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path)).encode()
    out = proxyd_test.raw_request(port, data, timeout=10)
    return proxyd_test.status_of(out), out


class GracefulStopTest(unittest.TestCase):
    def start(self, http):
        port = proxyd_test.free_port()
        p = proxyd_test.Proxyd(http.replace("PORT", str(port)))
        self.addCleanup(p.cleanup)
        p.start(wait_for=port)
        return p, port

    def stopped_within(self, p, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if p.proc.poll() is not None:
                return True
            time.sleep(0.05)
        return False

    def test_a_request_finishing_during_the_stop_does_not_park_its_connection(self):
        b = Backend(delay=1.0)
        self.addCleanup(b.close)
        p, port = self.start("http { upstream u { server 127.0.0.1:%d; keepalive 4; }\n"
                             "server { listen 127.0.0.1:PORT; location / { proxy_pass http://u; "
                             "keepalive_timeout 300s; } } }\n" % b.port)
        self.assertEqual(get(port, "/a")[0], 200)
        result = {}
        t = threading.Thread(target=lambda: result.update(r=get(port, "/slow")))
        t.start()
        time.sleep(0.3)
        p.signal(signal.SIGQUIT)
        t.join(10)
        self.assertEqual(result["r"][0], 200)
        # nginx's behaviour: out within moments, not after the 60 s idle timeout
        self.assertTrue(self.stopped_within(p, 10))

    def test_a_probe_in_flight_does_not_hold_the_stop(self):
        hung, ok = Backend(mode="hang"), Backend()
        self.addCleanup(hung.close)
        self.addCleanup(ok.close)
        p, port = self.start("http { upstream h { server 127.0.0.1:%d; server 127.0.0.1:%d; }\n"
                             "server { listen 127.0.0.1:PORT; location / { proxy_pass http://h; "
                             "health_check interval=200ms; } } }\n" % (hung.port, ok.port))
        time.sleep(0.6)
        p.signal(signal.SIGQUIT)
        self.assertTrue(self.stopped_within(p, 10))

    def test_probe_of_a_server_that_keeps_the_connection_is_judged_by_content_length(self):
        ok = Backend()  # answers 200 with Content-Length and keeps the connection open
        self.addCleanup(ok.close)
        p, port = self.start("http { upstream k { server 127.0.0.1:%d; }\n"
                             "server { listen 127.0.0.1:PORT; location / { proxy_pass http://k; "
                             "proxy_read_timeout 1s; health_check interval=200ms fails=1; } } }\n"
                             % ok.port)
        time.sleep(2.0)
        self.assertNotIn("is unhealthy", p.read_error_log())
        self.assertEqual(get(port, "/")[0], 200)


class EarlyAnswerThenResetTest(unittest.TestCase):
    """A backend answers a streamed upload early, sends part of the body, then resets: the
    request ends (the client's connection closes) and the worker lives on (under ASan this
    once read freed memory)."""

    def test_upload_still_streaming_when_the_answer_breaks(self):
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        self.addCleanup(lsock.close)

        def backend():
            c, _ = lsock.accept()
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += c.recv(65536)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
            time.sleep(0.2)
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()

        threading.Thread(target=backend, daemon=True).start()
        port = proxyd_test.free_port()
        bport = lsock.getsockname()[1]
        p = proxyd_test.Proxyd(
            "http { client_max_body_size 0; upstream e { server 127.0.0.1:%d; "
            "server 127.0.0.1:%d backup; }\n"
            "server { listen 127.0.0.1:%d; location / { proxy_pass http://e; "
            "proxy_request_buffering off; proxy_next_upstream error timeout http_502; } } }\n"
            % (bport, bport, port))
        self.addCleanup(p.cleanup)
        p.start(wait_for=port)
        workers = p.worker_pids()
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        s.settimeout(5)
        got = b""
        try:
            for _ in range(40):
                s.sendall(b"y" * 65536)
                time.sleep(0.02)
        except OSError:
            pass
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
        except OSError:
            pass
        s.close()
        self.assertTrue(got.startswith(b"HTTP/1.1 200 OK"))
        self.assertLess(len(got), 1000000)
        time.sleep(0.3)
        self.assertEqual(p.worker_pids(), workers)


class NextUpstreamEdgesTest(unittest.TestCase):
    def start(self, http):
        port = proxyd_test.free_port()
        p = proxyd_test.Proxyd(http.replace("PORT", str(port)))
        self.addCleanup(p.cleanup)
        p.start(wait_for=port)
        return p, port

    def test_off_among_other_values_turns_retries_off_as_nginx(self):
        dead = proxyd_test.free_port()
        ok = Backend()
        self.addCleanup(ok.close)
        p, port = self.start("http { upstream r { server 127.0.0.1:%d; server 127.0.0.1:%d; }\n"
                             "server { listen 127.0.0.1:PORT; location / { proxy_pass http://r; "
                             "proxy_next_upstream error off; } } }\n" % (dead, ok.port))
        self.assertEqual([get(port, "/")[0], get(port, "/")[0]], [502, 200])

    def test_methods_other_than_post_lock_patch_are_retried_after_being_sent(self):
        closer, ok = Backend(mode="close"), Backend()
        self.addCleanup(closer.close)
        self.addCleanup(ok.close)
        conf = ("http { upstream c { server 127.0.0.1:%d max_fails=0; server 127.0.0.1:%d; }\n"
                "server { listen 127.0.0.1:PORT; location / { proxy_pass http://c; } } }\n"
                % (closer.port, ok.port))
        p, port = self.start(conf)
        # round-robin alternates: of two requests, one meets the closing server first
        for method, retried in (("PROPFIND", True), ("MKCOL", True), ("POST", False),
                                ("PATCH", False)):
            with self.subTest(method=method):
                statuses = sorted(get(port, "/", method)[0] for _ in range(2))
                self.assertEqual(statuses, [200, 200] if retried else [200, 502])


if __name__ == "__main__":
    proxyd_test.main()
