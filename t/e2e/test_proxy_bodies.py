"""proxy_pass response and request bodies: framing toward the client (Content-Length, chunked,
close-delimited), bodiless answers, interim 100 from the upstream, client keepalive and
pipelining, and large transfers through proxyd with bounded worker memory (byte-exact
checksums), with and without proxy_buffering and its temp file."""
import hashlib
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

RecordingBackend = proxyd_test.RecordingBackend
MB = 1 << 20
# The worker's peak resident memory must stay under this while 100 MB pass through it.
MEMORY_BOUND = 64 * MB


class ScriptBackend:
    """A loopback listener that runs handler(conn, backend) in a thread per connection.
    backend.release is set at close so handlers that wait give up."""

    def __init__(self, handler):
        self.handler = handler
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.threads = []
        self.errors = []
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
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn):
        conn.settimeout(30)
        try:
            self.handler(conn, self)
        except Exception as e:  # reported by the test through backend.errors
            self.errors.append(e)
        finally:
            conn.close()

    def close(self):
        self.release.set()
        self.sock.close()
        self.thread.join(5)
        for t in self.threads:
            t.join(35)


class Reader:
    """Reads HTTP/1.x off a socket: heads, and bodies by Content-Length, chunked or close."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.closed = False

    def more(self):
        b = self.sock.recv(1 << 18)
        if not b:
            self.closed = True
            raise EOFError
        self.buf += b

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            self.more()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers.setdefault(k.strip().lower().decode(), []).append(v.strip().decode())
        return lines[0], headers

    def line(self):
        while b"\r\n" not in self.buf:
            self.more()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def exactly(self, n, sink):
        while n:
            if not self.buf:
                self.more()
            piece, self.buf = self.buf[:n], self.buf[n:]
            sink(piece)
            n -= len(piece)

    def body(self, headers, sink, bodiless=False):
        """Feeds the body to sink; returns "length", "chunked", "close" or "none"."""
        if bodiless:
            return "none"
        if "chunked" in ",".join(headers.get("transfer-encoding", [])):
            while True:
                size = int(self.line().split(b";")[0], 16)
                if size == 0:
                    while self.line():
                        pass
                    return "chunked"
                self.exactly(size, sink)
                if self.line() != b"":
                    raise AssertionError("chunk not followed by CRLF")
        if "content-length" in headers:
            self.exactly(int(headers["content-length"][0]), sink)
            return "length"
        if headers.get("connection") == ["keep-alive"]:
            # fail now rather than wait for a close that will not come
            raise AssertionError("a keep-alive response without Content-Length or chunked framing")
        while True:
            if self.buf:
                sink(self.buf)
                self.buf = b""
            try:
                self.more()
            except EOFError:
                return "close"

    def response(self, bodiless=False):
        """(status, headers, body bytes, framing) of the next response, 1xx skipped not."""
        status_line, headers = self.head()
        parts = []
        framing = self.body(headers, parts.append, bodiless)
        return int(status_line.split()[1]), headers, b"".join(parts), framing

    def at_eof(self):
        """True when the server closed the connection after what was read."""
        if self.buf:
            return False
        try:
            self.more()
        except EOFError:
            return True
        except socket.timeout:
            return False
        return False


def pattern(total, seed=b"proxyd"):
    """Yields `total` deterministic bytes in pieces of about 1 MB (the piece size is odd so
    that no buffer boundary lines up with a repeat)."""
    block = hashlib.shake_256(seed).digest(MB + 7)
    while total > 0:
        piece = block[:total]
        total -= len(piece)
        yield piece


def pattern_digest(total, seed=b"proxyd"):
    h = hashlib.sha256()
    for piece in pattern(total, seed):
        h.update(piece)
    return h.hexdigest()


class Hasher:
    def __init__(self):
        self.h = hashlib.sha256()
        self.n = 0

    def __call__(self, piece):
        self.h.update(piece)
        self.n += len(piece)


def read_request(conn, reader_buf=b""):
    """Reads one request on a backend connection; returns (head bytes, body digest, length)."""
    reader = Reader(conn)
    reader.buf = reader_buf
    first, headers = reader.head()
    h = Hasher()
    if "transfer-encoding" in headers or "content-length" in headers:
        reader.body(headers, h)
    return first, headers, h


def memory(pid):
    """(VmRSS, VmHWM) of pid in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) * 1024
    return out["VmRSS"], out["VmHWM"]


class ProxyCase(unittest.TestCase):
    """Starts proxyd with one server whose `location /` holds LOCATION + proxy_pass to the
    backend given to start()."""

    def start(self, backend_port, location="", server=""):
        self.port = proxyd_test.free_port()
        self.proxyd = proxyd_test.Proxyd("")
        self.addCleanup(self.proxyd.cleanup)
        self.temp = self.proxyd.path("proxy_temp")
        os.makedirs(self.temp)
        os.makedirs(self.proxyd.path("client_body_temp"))
        conf = ("http {\n client_body_temp_path %s;\n proxy_temp_path %s;\n"
                " server {\n  listen 127.0.0.1:%d;\n  client_max_body_size 0;\n%s\n"
                "  location / {\n%s\n   proxy_pass http://127.0.0.1:%d;\n  }\n }\n}\n"
                % (self.proxyd.path("client_body_temp"), self.temp, self.port, server, location,
                   backend_port))
        with open(self.proxyd.conf_path, "a") as f:
            f.write(conf)
        self.proxyd.start(wait_for=self.port)

    def backend(self, **kw):
        b = RecordingBackend(**kw)
        self.addCleanup(b.close)
        return b

    def script(self, handler):
        b = ScriptBackend(handler)
        self.addCleanup(b.close)
        return b

    def connect(self, timeout=20):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.addCleanup(s.close)
        return s, Reader(s)

    def get(self, target=b"/", version=b"1.1", method=b"GET", extra=b""):
        s, r = self.connect()
        s.sendall(b"%s %s HTTP/%s\r\nHost: t\r\n%s\r\n" % (method, target, version, extra))
        return r.response(bodiless=method == b"HEAD"), r

    def worker_memory(self):
        pids = self.proxyd.worker_pids()
        self.assertEqual(len(pids), 1)
        return memory(pids[0])


class ResponseFraming(ProxyCase):
    def test_content_length_response_keeps_its_length(self):
        b = self.backend(response=b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        self.start(b.port)
        (status, headers, body, framing), r = self.get()
        self.assertEqual((status, body, framing), (200, b"hello", "length"))
        self.assertEqual(headers["content-length"], ["5"])
        self.assertNotIn("transfer-encoding", headers)

    CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")

    def test_chunked_response_to_http11_client_is_chunked(self):
        b = self.backend(response=self.CHUNKED)
        self.start(b.port)
        (status, headers, body, framing), r = self.get()
        self.assertEqual((status, body, framing), (200, b"hello world", "chunked"))
        self.assertNotIn("content-length", headers)

    def test_chunked_response_to_http10_client_is_close_delimited(self):
        b = self.backend(response=self.CHUNKED)
        self.start(b.port)
        (status, headers, body, framing), r = self.get(version=b"1.0")
        self.assertEqual((status, body, framing), (200, b"hello world", "close"))
        self.assertNotIn("transfer-encoding", headers)
        self.assertNotIn("content-length", headers)

    UNTIL_CLOSE = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"

    def test_close_delimited_response_to_http11_client_is_chunked(self):
        b = self.backend(response=self.UNTIL_CLOSE)
        self.start(b.port)
        (status, headers, body, framing), r = self.get()
        self.assertEqual((status, body, framing), (200, b"until the end", "chunked"))

    def test_close_delimited_response_to_http10_client_is_close_delimited(self):
        b = self.backend(response=self.UNTIL_CLOSE)
        self.start(b.port)
        (status, headers, body, framing), r = self.get(version=b"1.0")
        self.assertEqual((status, body, framing), (200, b"until the end", "close"))

    def test_head_response_has_no_body_and_connection_stays_usable(self):
        def answer(req):
            if req.method == b"HEAD":
                return b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"
        b = self.backend(response=answer)
        self.start(b.port)
        s, r = self.connect()
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers, body, _ = r.response(bodiless=True)
        self.assertEqual((status, headers["content-length"], body), (200, ["100"], b""))
        self.assertEqual(r.response()[2], b"body")
        self.assertEqual([req.method for req in b.requests], [b"HEAD", b"GET"])

    def check_bodiless(self, response, status):
        b = self.backend(response=[response, b"ignored: bodies of 204/304 are not read"])
        self.start(b.port)
        s, r = self.connect()
        s.sendall(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        got_status, headers = r.head()
        self.assertEqual(got_status.split()[1], str(status).encode())
        self.assertNotIn("transfer-encoding", headers)
        self.assertNotIn("content-length", headers)
        # the next response on the same connection starts right after the head
        s.sendall(b"GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(r.head()[0].split()[1], str(status).encode())

    def test_204_from_upstream_has_no_body(self):
        self.check_bodiless(b"HTTP/1.1 204 No Content\r\n\r\n", 204)

    def test_304_from_upstream_has_no_body(self):
        self.check_bodiless(b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304)

    def test_interim_100_continue_from_upstream_is_skipped(self):
        b = self.backend(response=[b"HTTP/1.1 100 Continue\r\n\r\n",
                                   b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal"])
        self.start(b.port)
        s, r = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        status, headers, body, _ = r.response()
        self.assertEqual((status, body), (200, b"final"))
        self.assertTrue(r.at_eof())
        self.assertEqual(b.wait_request().data, b"abc")


class ClientKeepalive(ProxyCase):
    @staticmethod
    def echo_target(req):
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(req.target), req.target)

    def test_several_proxied_requests_on_one_client_connection(self):
        b = self.backend(response=self.echo_target)
        self.start(b.port)
        s, r = self.connect()
        for i in range(5):
            s.sendall(b"GET /k%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
            status, headers, body, framing = r.response()
            self.assertEqual((status, body), (200, b"/k%d" % i))
        self.assertEqual(len(b.requests), 5)

    def test_pipelined_requests_are_answered_in_order(self):
        # a keepalive backend: one that closes silently after each answer races a POST on a
        # cached connection, which (as in nginx) is not retried
        b = self.backend(response=self.echo_target, keepalive=True)
        self.start(b.port)
        s, r = self.connect()
        s.sendall(b"".join(b"GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(5))
                  + b"POST /p5 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
                  + b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        bodies = [r.response()[2] for _ in range(7)]
        self.assertEqual(bodies, [b"/p%d" % i for i in range(6)] + [b"/last"])
        self.assertTrue(r.at_eof())
        self.assertEqual([req.data for req in b.requests if req.method == b"POST"], [b"body"])

    def test_chunked_and_close_delimited_answers_keep_the_client_connection(self):
        answers = iter([ResponseFraming.CHUNKED, ResponseFraming.UNTIL_CLOSE, ResponseFraming.CHUNKED])
        b = self.backend(response=lambda req: next(answers))
        self.start(b.port)
        s, r = self.connect()
        for want in (b"hello world", b"until the end", b"hello world"):
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, body, framing = r.response()
            self.assertEqual((status, body, framing), (200, want, "chunked"))


def digest_backend(conn, backend):
    """Reads one request (any framing), answers with its body's length and sha256."""
    first, headers, h = read_request(conn)
    backend.seen = headers
    answer = b"%d %s" % (h.n, h.h.hexdigest().encode())
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))


class LargeBodies(ProxyCase):
    SIZE = 100 * MB

    def check_memory(self):
        rss, hwm = self.worker_memory()
        self.assertLess(hwm, MEMORY_BOUND, "worker peak memory %d MB" % (hwm >> 20))

    def post(self, chunked):
        b = self.script(digest_backend)
        self.start(b.port)
        s, r = self.connect(timeout=60)
        if chunked:
            s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in pattern(self.SIZE):
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            s.sendall(b"0\r\n\r\n")
        else:
            s.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % self.SIZE)
            for piece in pattern(self.SIZE):
                s.sendall(piece)
        status, headers, body, _ = r.response()
        self.assertEqual(b.errors, [])
        self.assertEqual(status, 200)
        self.assertEqual(body, b"%d %s" % (self.SIZE, pattern_digest(self.SIZE).encode()))
        self.check_memory()

    def test_100mb_request_body_with_content_length(self):
        self.post(chunked=False)

    def test_100mb_chunked_request_body(self):
        self.post(chunked=True)

    def test_100mb_response_body_streams_with_bounded_memory(self):
        def big(conn, backend):
            read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % self.SIZE)
            for piece in pattern(self.SIZE, b"response"):
                conn.sendall(piece)
        b = self.script(big)
        self.start(b.port)
        s, r = self.connect(timeout=60)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers = r.head()
        h = Hasher()
        r.body(headers, h)
        self.assertEqual((h.n, h.h.hexdigest()), (self.SIZE, pattern_digest(self.SIZE, b"response")))
        self.check_memory()

    # upstream chunks that do not line up with proxyd's buffers (1 MB + 7 bytes)
    def test_100mb_chunked_response_body_streams_with_bounded_memory(self):
        def big(conn, backend):
            read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in pattern(self.SIZE, b"chunked"):
                conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.sendall(b"0\r\n\r\n")
        b = self.script(big)
        self.start(b.port)
        s, r = self.connect(timeout=15)  # a stall fails in 15 s rather than 60
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers = r.head()
        h = Hasher()
        self.assertEqual(r.body(headers, h), "chunked")
        self.assertEqual((h.n, h.h.hexdigest()), (self.SIZE, pattern_digest(self.SIZE, b"chunked")))
        self.check_memory()


class Buffering(ProxyCase):
    def test_proxy_buffering_off_passes_bytes_as_they_come(self):
        go_on = threading.Event()

        def two_parts(conn, backend):
            read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nfirst")
            go_on.wait(30)
            conn.sendall(b" second")
        b = self.script(two_parts)
        self.start(b.port, "proxy_buffering off;")
        s, r = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status, headers = r.head()
        while len(r.buf) < 5:
            r.more()  # times out (fails) if proxyd holds the first part back
        self.assertEqual(r.buf, b"first")
        go_on.set()
        parts = []
        r.body(headers, parts.append)
        self.assertEqual(b"".join(parts), b"first second")

    def big_response_to_idle_client(self, location, size=20 * MB):
        """The backend sends `size` bytes to a client that reads nothing; returns (client
        socket, reader, events): events["done"] is set when the backend sent everything,
        events["blocked"] when a send of the backend waited over a second (its data is not
        being taken)."""
        events = {"done": threading.Event(), "blocked": threading.Event()}

        def big(conn, backend):
            read_request(conn)
            conn.settimeout(1)
            data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
            for piece in pattern(size, b"slow"):
                data += piece
                while data:
                    try:
                        n = conn.send(data)
                    except socket.timeout:
                        events["blocked"].set()
                        if backend.release.is_set():
                            return
                        continue
                    data = data[n:]
            events["done"].set()
        b = self.script(big)
        self.start(b.port, location)
        s = socket.socket()
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(60)
        s.connect(("127.0.0.1", self.port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        return s, Reader(s), events

    def read_all_intact(self, r, size=20 * MB):
        r.sock.settimeout(10)  # loopback never pauses this long while data is due
        status, headers = r.head()
        h = Hasher()
        r.body(headers, h)
        self.assertEqual((status, h.n, h.h.hexdigest()),
                         (b"HTTP/1.1 200 OK", size, pattern_digest(size, b"slow")))

    def test_proxy_buffering_on_spools_to_temp_file_for_slow_client(self):
        s, r, events = self.big_response_to_idle_client("proxy_buffering on;")
        self.assertTrue(events["done"].wait(30), "the backend could not finish sending")
        # the worker holds a file under proxy_temp_path (maybe already unlinked)
        worker = self.proxyd.worker_pids()[0]
        fds = os.listdir("/proc/%d/fd" % worker)
        targets = []
        for fd in fds:
            try:
                targets.append(os.readlink("/proc/%d/fd/%s" % (worker, fd)))
            except OSError:
                pass
        self.assertTrue([t for t in targets if t.startswith(self.temp + "/")], targets)
        rss, hwm = self.worker_memory()
        self.assertLess(hwm, MEMORY_BOUND)
        self.read_all_intact(r)

    def test_proxy_max_temp_file_size_0_makes_the_backend_wait(self):
        s, r, events = self.big_response_to_idle_client("proxy_max_temp_file_size 0;")
        self.assertTrue(events["blocked"].wait(30), "the backend was never held back")
        self.assertFalse(events["done"].is_set())
        self.read_all_intact(r)
        self.assertTrue(events["done"].wait(30))


if __name__ == "__main__":
    proxyd_test.main()
