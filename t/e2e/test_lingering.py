"""Lingering close: after answering, proxyd drains what the client still sends, so the client
reads the whole response instead of a reset; lingering_close/_time/_timeout bound it."""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


def read_all(s):
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            return out, "timeout"
        except ConnectionResetError:
            return out, "reset"
        if not b:
            return out, "eof"
        out += b


class LingeringTest(unittest.TestCase):
    def start(self, extra):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd("http { %s client_max_body_size 10; server { listen 127.0.0.1:%d;"
                                 " location / { return 200 ok; } } }" % (extra, port))
        self.addCleanup(srv.cleanup)
        srv.start(wait_for=port)
        return port

    def test_too_large_body_gets_the_whole_413_while_the_client_keeps_sending(self):
        port = self.start("")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000000\r\n\r\n")
        sent = 0
        chunk = b"x" * 65536
        # keep sending after the 413: proxyd drains it instead of resetting the connection
        s.settimeout(0.05)
        answer = b""
        while sent < 3000000:
            try:
                sent += s.send(chunk[: min(len(chunk), 3000000 - sent)])
            except socket.timeout:
                pass
            try:
                answer += s.recv(65536)
            except socket.timeout:
                pass
        s.settimeout(10)
        rest, how = read_all(s)
        answer += rest
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n"), answer[:80])
        self.assertIn(b"</html>\r\n", answer)
        self.assertEqual(how, "eof")

    def test_lingering_close_always_waits_for_the_client_then_times_out(self):
        port = self.start("lingering_close always; lingering_timeout 300ms;")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        answer, how = read_all(s)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertEqual(how, "eof")  # write side shut after the response
        s.sendall(b"more bytes the server drains")
        s.close()

    def test_lingering_close_off_closes_at_once(self):
        port = self.start("lingering_close off;")
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        answer, how = read_all(s)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertEqual(how, "eof")
        s.close()

    def test_lingering_close_rejects_unknown_value(self):
        srv = proxyd_test.Proxyd("http { lingering_close sometimes; }")
        self.addCleanup(srv.cleanup)
        rc, err = srv.test_config()
        self.assertEqual(rc, 1)
        self.assertIn('proxyd: [emerg] invalid value "sometimes" in %s:5\n' % srv.conf_path, err)


if __name__ == "__main__":
    proxyd_test.main()
