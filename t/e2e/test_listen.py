"""listen: the address forms and how sockets are shared — unix sockets, IPv6, a wildcard
serving specific addresses on its port, reuseport giving each worker its own socket."""
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


def get_over(sock, host="t"):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        b = sock.recv(65536)
        if not b:
            return out
        out += b


def body_of(answer):
    return answer.partition(b"\r\n\r\n")[2]


class ListenTest(unittest.TestCase):
    def start(self, conf, port, workers=1):
        srv = proxyd_test.Proxyd(conf, workers=workers)
        self.addCleanup(srv.cleanup)
        srv.start(wait_for=port)
        return srv

    def test_unix_socket_listener_serves_and_is_removed_on_exit(self):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd("http { server { listen 127.0.0.1:%d; return 200 tcp; } }" % port)
        self.addCleanup(srv.cleanup)
        path = srv.path("app.sock")
        srv.write_conf("http { server { listen unix:%s; listen 127.0.0.1:%d;"
                       " return 200 \"$server_addr|$remote_addr\"; } }" % (path, port))
        srv.start(wait_for=port)
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        self.assertEqual(body_of(get_over(s)), ("unix:%s|unix:" % path).encode())
        s.close()
        srv.stop()
        self.assertFalse(os.path.exists(path))

    def test_ipv6_loopback_listener(self):
        port = proxyd_test.free_port()
        self.start("http { server { listen [::1]:%d; listen 127.0.0.1:%d;"
                   " return 200 \"$server_addr $remote_addr\"; } }" % (port, port), port)
        s = socket.create_connection(("::1", port), timeout=5)
        self.assertEqual(body_of(get_over(s)), b"::1 ::1")
        s.close()

    def test_wildcard_serves_specific_address_with_its_own_servers(self):
        # nginx binds only *:port and picks the server set by the connection's local address.
        port = proxyd_test.free_port()
        self.start("http {\n"
                   " server { listen %d; return 200 wildcard; }\n"
                   " server { listen 127.0.0.2:%d; return 200 specific; }\n}\n" % (port, port), port)
        s = socket.create_connection(("127.0.0.2", port), timeout=5)
        self.assertEqual(body_of(get_over(s)), b"specific")
        s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.assertEqual(body_of(get_over(s)), b"wildcard")
        s.close()

    def test_reuseport_gives_every_worker_a_socket(self):
        port = proxyd_test.free_port()
        srv = self.start("http { server { listen 127.0.0.1:%d reuseport; return 200 $pid; } }" % port,
                         port, workers=2)
        pids = set()
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            pids.add(int(body_of(get_over(s))))
            s.close()
            if len(pids) == 2:
                break
        self.assertEqual(pids, set(srv.worker_pids()))

    def test_default_server_answers_unknown_names(self):
        port = proxyd_test.free_port()
        self.start("http {\n server { listen 127.0.0.1:%d; server_name a.test; return 200 a; }\n"
                   " server { listen 127.0.0.1:%d default_server; server_name b.test; return 200 b; }\n"
                   "}\n" % (port, port), port)
        for host, want in (("a.test", b"a"), ("b.test", b"b"), ("other.test", b"b")):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.assertEqual(body_of(get_over(s, host)), want)
            s.close()


if __name__ == "__main__":
    proxyd_test.main()
