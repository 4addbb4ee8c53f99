"""proxy_pass when the upstream misbehaves: what the client gets and the exact error_log line,
checked against Debian's nginx running the same config in front of the same backends.

Each backend is a loopback listener with one scripted behaviour per connection (refuse, reset,
close early, send garbage, hang...). proxyd and nginx share the backends, so the "upstream:"
part of the log lines is the same; timestamps, pid#tid and connection numbers are normalised."""
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


class ScriptBackend:
    """A loopback listener that runs handler(conn, backend) in a thread for each connection."""

    def __init__(self, handler, backlog=64, rcvbuf=None):
        self.handler = handler
        self.release = threading.Event()  # set at teardown: hanging handlers give up
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            # inherited by accepted sockets: makes the upstream's send side block quickly
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.conns = []
        self.threads = []
        self.heads = []  # request heads read by read_head(), in arrival order
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.release.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn):
        conn.settimeout(20)
        try:
            self.handler(conn, self)
        except OSError:
            pass
        finally:
            conn.close()

    def wait_heads(self, n, timeout=10):
        """Waits until n request heads arrived in all; False on timeout."""
        with self.cond:
            return self.cond.wait_for(lambda: len(self.heads) >= n, timeout)

    def close(self):
        self.release.set()
        self.sock.close()
        self.thread.join(5)
        for t in self.threads:
            t.join(5)


def read_head(conn, backend):
    data = b""
    while b"\r\n\r\n" not in data:
        b = conn.recv(65536)
        if not b:
            break
        data += b
    with backend.cond:
        backend.heads.append(data)
        backend.cond.notify_all()
    return data


def answer(response):
    def handler(conn, backend):
        read_head(conn, backend)
        conn.sendall(response)
    return handler


def reset_after_request(conn, backend):
    read_head(conn, backend)
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def close_after_request(conn, backend):
    read_head(conn, backend)


def hang_after_request(conn, backend):
    read_head(conn, backend)
    backend.release.wait(30)


def never_read(conn, backend):
    backend.release.wait(30)


def half_body(conn, backend):
    read_head(conn, backend)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)


def accel_redirect(conn, backend):
    head = read_head(conn, backend)
    target = head.split(b" ")[1]
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Accel-Redirect: /internal" + target +
                 b"\r\nX-Upstream: yes\r\nContent-Length: 8\r\n\r\nupstream")


BEHAVIOURS = {
    "reset": reset_after_request,
    "closed": close_after_request,
    "badheader": answer(b"HTTP/1.1 200 OK\r\nGood: 1\r\nBad Header\x01: x\r\n\r\n"),
    "badstatus": answer(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
    "bigheader": answer(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 8000 + b"\r\nContent-Length: 0\r\n\r\n"),
    "hang": hang_after_request,
    "noread": never_read,
    "halfbody": half_body,
    "notfound": answer(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                       b"Content-Length: 11\r\n\r\nupstream404"),
    "accel": accel_redirect,
}

CONF = r"""
http {
  log_format st '$request_uri $status';
  client_body_temp_path %(dir)s/client_body_temp;
  proxy_temp_path %(dir)s/proxy_temp;
  proxy_connect_timeout 1s;
  proxy_read_timeout 1s;
  proxy_send_timeout 1s;
  server {
    listen 127.0.0.1:%(port)d;
    server_name localhost;
    access_log %(dir)s/access.log st;
    client_max_body_size 0;
    location /refused { proxy_pass http://127.0.0.1:%(refused)d; }
    location /reset { proxy_pass http://127.0.0.1:%(reset)d; }
    location /closed { proxy_pass http://127.0.0.1:%(closed)d; }
    location /badheader { proxy_pass http://127.0.0.1:%(badheader)d; }
    location /badstatus { proxy_pass http://127.0.0.1:%(badstatus)d; }
    location /bigheader { proxy_buffer_size 4k; proxy_pass http://127.0.0.1:%(bigheader)d; }
    location /hang { proxy_pass http://127.0.0.1:%(hang)d; }
    location /noread { proxy_pass http://127.0.0.1:%(noread)d; }
    location /halfbody { proxy_pass http://127.0.0.1:%(halfbody)d; }
    location /backlog { proxy_pass http://127.0.0.1:%(backlog)d; }
    location /custom502 {
      error_page 502 /err502;
      proxy_pass http://127.0.0.1:%(refused)d;
    }
    location /intercept-on {
      proxy_intercept_errors on;
      error_page 404 /err404;
      proxy_pass http://127.0.0.1:%(notfound)d;
    }
    location /intercept-off {
      proxy_intercept_errors off;
      error_page 404 /err404;
      proxy_pass http://127.0.0.1:%(notfound)d;
    }
    location /accel { proxy_pass http://127.0.0.1:%(accel)d; }
    location /internal/ { internal; return 200 "accel target\n"; }
    location = /err502 { internal; return 200 "custom 502 page\n"; }
    location = /err404 { internal; return 200 "custom 404 page\n"; }
  }
}
"""

LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (\*\d+ )?")


def log_lines(text, levels=("error", "crit", "alert", "emerg", "warn")):
    """The lines at those levels, as "[level] message" with the prefix and the connection
    number (counted differently by proxyd and nginx) removed."""
    out = []
    for line in text.splitlines():
        m = LOG_PREFIX.match(line)
        if m and m.group(1) in levels:
            out.append("[%s] %s" % (m.group(1), line[m.end():]))
    return out


def wait_for_new_text(path, offset, needle, timeout=10):
    """Polls a log until what it got past `offset` contains needle; returns that part."""
    deadline = time.time() + timeout
    while True:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("latin-1")
        if needle in text or time.time() >= deadline:
            return text
        time.sleep(0.02)


class Server:
    """One of the two servers under comparison, with its own dir (html, temp dirs, logs)."""

    def __init__(self, cls, ports):
        self.port = proxyd_test.free_port()
        self.inst = cls("")
        d = self.inst.dir
        os.chmod(d, 0o755)
        for sub in ("client_body_temp", "proxy_temp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o777)
        with open(self.inst.conf_path, "a") as f:
            f.write(CONF % dict(ports, dir=d, port=self.port))
        self.access_log = os.path.join(d, "access.log")

    def log_size(self):
        try:
            return os.path.getsize(self.inst.error_log)
        except OSError:
            return 0


class ProxyErrorsLikeNginx(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(proxyd_test.NGINX_BIN, os.X_OK):
            raise unittest.SkipTest("no nginx at %s" % proxyd_test.NGINX_BIN)
        cls.cleanups = []
        try:
            cls.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls):
        ports = {"refused": proxyd_test.free_port()}
        for name, handler in BEHAVIOURS.items():
            b = ScriptBackend(handler, rcvbuf=4096 if name == "noread" else None)
            cls.cleanups.append(b.close)
            if name == "hang":
                cls.hang_backend = b
            ports[name] = b.port
        cls.ports = ports
        # A listener whose accept queue is full drops new SYNs: connect() to it hangs,
        # which is a loopback way to reach proxy_connect_timeout.
        cls.backlog = socket.socket()
        cls.backlog.bind(("127.0.0.1", 0))
        cls.backlog.listen(0)
        cls.cleanups.append(cls.backlog.close)
        ports["backlog"] = cls.backlog.getsockname()[1]
        cls.fillers = []
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", ports["backlog"]))
            cls.fillers.append(s)
            cls.cleanups.append(s.close)
        cls.proxyd = Server(proxyd_test.Proxyd, ports)
        cls.cleanups.append(cls.proxyd.inst.cleanup)
        cls.nginx = Server(proxyd_test.NginxRef, ports)
        cls.cleanups.append(cls.nginx.inst.cleanup)
        cls.proxyd.inst.start(wait_for=cls.proxyd.port)
        cls.nginx.inst.start(wait_for=cls.nginx.port)

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            cleanup()

    def both(self, request, needle, levels=("error", "crit", "alert", "emerg", "warn"),
             exchange=None, compare=True, normalize=False):
        """Sends request to proxyd and nginx; waits until each logs `needle`; returns
        {"proxyd"|"nginx": (answer bytes, [new log lines])} after checking the lines are equal."""
        out = {}
        for name, server in (("proxyd", self.proxyd), ("nginx", self.nginx)):
            start = server.log_size()
            if exchange:
                got = exchange(server.port, request)
            else:
                got = proxyd_test.raw_request(server.port, request, timeout=10)
            text = wait_for_new_text(server.inst.error_log, start, needle)
            lines = log_lines(text, levels)
            if normalize:  # temp file names: the server's dir and nginx's file number
                lines = [re.sub(r"/\d{10}\b", "/N", line.replace(server.inst.dir, "DIR"))
                         for line in lines]
            out[name] = (got, lines)
        if compare:
            self.assertEqual(out["proxyd"][1], out["nginx"][1], "error_log lines differ from nginx's")
        return out

    def check(self, path, status, line, levels=("error", "crit", "alert", "emerg", "warn"),
              request=None, exchange=None):
        """Sends request (a GET of path by default) to both; checks the client got `status`
        from both (unless None) and that proxyd logged exactly `line`, as nginx did."""
        request = request or b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        needle = line.split("] ", 1)[1].split(",")[0]
        out = self.both(request, needle, levels, exchange)
        got, lines = out["proxyd"]
        if status is not None:
            self.assertEqual(proxyd_test.status_of(out["nginx"][0]), status, "nginx itself differs")
            self.assertEqual(proxyd_test.status_of(got), status, got[:200])
        self.assertEqual(lines, [line])
        return got, out["nginx"][0]

    def context(self, path, upstream_port, version="1.1"):
        return (', client: 127.0.0.1, server: localhost, request: "GET %s HTTP/%s", upstream: '
                '"http://127.0.0.1:%d%s", host: "localhost"' % (path, version, upstream_port, path))

    def test_connect_refused_is_502_with_connect_failed_line(self):
        self.check("/refused", 502,
                   "[error] connect() failed (111: Connection refused) while connecting to upstream"
                   + self.context("/refused", self.ports["refused"]))

    def test_upstream_reset_before_any_byte_is_502(self):
        self.check("/reset", 502,
                   "[error] recv() failed (104: Connection reset by peer) while reading response "
                   "header from upstream" + self.context("/reset", self.ports["reset"]))

    def test_upstream_close_before_any_byte_is_502(self):
        self.check("/closed", 502,
                   "[error] upstream prematurely closed connection while reading response header "
                   "from upstream" + self.context("/closed", self.ports["closed"]))

    def test_invalid_response_header_is_502(self):
        self.check("/badheader", 502,
                   '[error] upstream sent invalid header: "Bad\\x20..." while reading response '
                   "header from upstream" + self.context("/badheader", self.ports["badheader"]))

    def test_invalid_status_line_logs_no_valid_header(self):
        # nginx takes an answer that does not start with a status line for an HTTP/0.9 one
        # (no head of its own is sent) after logging it.
        got, ref = self.check("/badstatus", None,
                              "[error] upstream sent no valid HTTP/1.0 header while reading "
                              "response header from upstream"
                              + self.context("/badstatus", self.ports["badstatus"], "1.0"),
                              request=b"GET /badstatus HTTP/1.0\r\nHost: localhost\r\n\r\n")
        self.assertEqual(got, ref)

    def test_invalid_status_line_body_is_passed_raw_to_http11_client(self):
        got, ref = self.plain("/badstatus")
        self.assertEqual(ref, b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(got, ref)

    def test_header_bigger_than_proxy_buffer_size_is_502(self):
        self.check("/bigheader", 502,
                   "[error] upstream sent too big header while reading response header from upstream"
                   + self.context("/bigheader", self.ports["bigheader"]))

    def test_proxy_read_timeout_is_504(self):
        self.check("/hang", 504,
                   "[error] upstream timed out (110: Connection timed out) while reading response "
                   "header from upstream" + self.context("/hang", self.ports["hang"]))

    def test_proxy_connect_timeout_is_504(self):
        probe = socket.socket()
        probe.settimeout(0.5)
        try:
            probe.connect(("127.0.0.1", self.ports["backlog"]))
            self.skipTest("a full accept queue did not make connect() hang on this kernel")
        except socket.timeout:
            pass
        finally:
            probe.close()
        self.check("/backlog", 504,
                   "[error] upstream timed out (110: Connection timed out) while connecting to upstream"
                   + self.context("/backlog", self.ports["backlog"]))

    def noread_request(self):
        # 16 MB cannot fit in the kernel buffers of a backend that never reads (4 KB rcvbuf)
        body = b"s" * (16 << 20)
        return (b"POST /noread HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def test_proxy_send_timeout_is_504(self):
        line = ("[error] upstream timed out (110: Connection timed out) while sending request to "
                'upstream, client: 127.0.0.1, server: localhost, request: "POST /noread HTTP/1.1", '
                'upstream: "http://127.0.0.1:%d/noread", host: "localhost"' % self.ports["noread"])
        self.check("/noread", 504, line, levels=("error",), request=self.noread_request())

    def test_buffered_body_warning_names_the_temp_file(self):
        out = self.both(self.noread_request(), "while sending request", levels=("warn",),
                        normalize=True)
        self.assertEqual(out["proxyd"][1], [
            "[warn] a client request body is buffered to a temporary file DIR/client_body_temp/N"
            ', client: 127.0.0.1, server: localhost, request: "POST /noread HTTP/1.1", host: "localhost"'])

    def test_upstream_close_in_content_length_body_closes_client_early(self):
        # the client side is checked by the test below (a proxyd bug makes it racy)
        self.check("/halfbody", None,
                   "[error] upstream prematurely closed connection while reading upstream"
                   + self.context("/halfbody", self.ports["halfbody"]))

    def test_upstream_close_in_body_still_sends_head_and_bytes_received(self):
        for _ in range(5):
            got, ref = self.plain("/halfbody")
            for answer_ in (ref, got):
                head, _, body = answer_.partition(b"\r\n\r\n")
                self.assertEqual(proxyd_test.status_of(head), 200, answer_[:100])
                self.assertIn(b"\r\nContent-Length: 100000", head)
                self.assertEqual(body, b"x" * 1000)  # raw_request read until the server closed

    def test_error_page_502_serves_custom_page(self):
        got, ref = self.check("/custom502", 502,
                              "[error] connect() failed (111: Connection refused) while connecting "
                              "to upstream" + self.context("/custom502", self.ports["refused"]))
        self.assertTrue(got.endswith(b"\r\n\r\ncustom 502 page\n"), got)
        self.assertEqual(proxyd_test.normalize_response(got), proxyd_test.normalize_response(ref))

    def plain(self, path):
        request = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        got = proxyd_test.raw_request(self.proxyd.port, request, timeout=10)
        ref = proxyd_test.raw_request(self.nginx.port, request, timeout=10)
        return got, ref

    def test_intercept_errors_on_replaces_upstream_404_with_error_page(self):
        got, ref = self.plain("/intercept-on")
        self.assertEqual(proxyd_test.status_of(got), 404)
        self.assertTrue(got.endswith(b"\r\n\r\ncustom 404 page\n"), got)
        self.assertEqual(proxyd_test.normalize_response(got), proxyd_test.normalize_response(ref))

    def test_intercept_errors_off_passes_upstream_404(self):
        got, ref = self.plain("/intercept-off")
        self.assertEqual(proxyd_test.status_of(got), 404)
        self.assertTrue(got.endswith(b"\r\n\r\nupstream404"), got)
        self.assertEqual(proxyd_test.normalize_response(got), proxyd_test.normalize_response(ref))

    def test_x_accel_redirect_serves_internal_location(self):
        got, ref = self.plain("/accel")
        self.assertEqual(proxyd_test.status_of(got), 200)
        self.assertTrue(got.endswith(b"\r\n\r\naccel target\n"), got)
        self.assertNotIn(b"X-Accel-Redirect", got)
        self.assertEqual(proxyd_test.normalize_response(got), proxyd_test.normalize_response(ref))

    def close_while_waiting(self, tag):
        """Sends GET /hang?tag to both servers and closes each connection once the backend
        holds the request; returns what both() returns for the info lines."""
        backend = self.hang_backend

        def close_early(port, request):
            n = len(backend.heads)
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(request)
            self.assertTrue(backend.wait_heads(n + 1), "the request never reached the backend")
            s.close()
            return b""
        return self.both(b"GET /hang?%s HTTP/1.1\r\nHost: localhost\r\n\r\n" % tag.encode(),
                         "client prematurely closed connection", levels=("info",),
                         exchange=close_early, compare=False)

    def test_client_close_while_waiting_for_upstream_logs_499(self):
        self.close_while_waiting("499")
        for server in (self.proxyd, self.nginx):
            text = proxyd_test.wait_for_text(server.access_log, "/hang?499 ")
            self.assertIn("/hang?499 499\n", text)

    def test_client_close_while_waiting_for_upstream_log_line(self):
        out = self.close_while_waiting("line")
        self.assertEqual(out["proxyd"][1], out["nginx"][1])
        self.assertEqual(out["proxyd"][1], [
            "[info] epoll_wait() reported that client prematurely closed connection, so upstream "
            "connection is closed too while sending request to upstream"
            ', client: 127.0.0.1, server: localhost, request: "GET /hang?line HTTP/1.1", upstream: '
            '"http://127.0.0.1:%d/hang?line", host: "localhost"' % self.ports["hang"]])

if __name__ == "__main__":
    proxyd_test.main()
