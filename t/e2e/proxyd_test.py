"""Shared helpers for proxyd's end-to-end tests: start real proxyd (and nginx) processes on
loopback with a config written by the test, talk raw HTTP to them, read their logs.

Each test file is a script run by ctest with Debian's /usr/bin/python3; it uses unittest and
exits non-zero on failure. PROXYD_BIN points at the binary under test."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

PROXYD_BIN = os.environ.get("PROXYD_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "proxyd")
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    """A loopback TCP port nobody listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=5.0, host="127.0.0.1"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


class Proxyd:
    """A proxyd master running in the foreground (daemon off) on a config in its own dir.

    `conf` is the text of the http{} part and anything else; main-context lines for pid,
    error_log and daemon are added unless `raw=True`."""

    def __init__(self, conf, raw=False, workers=1, binary=None):
        self.dir = tempfile.mkdtemp(prefix="proxyd-e2e-")
        self.binary = binary or PROXYD_BIN
        self.conf_path = os.path.join(self.dir, "proxyd.conf")
        self.pid_path = os.path.join(self.dir, "proxyd.pid")
        self.error_log = os.path.join(self.dir, "error.log")
        self.proc = None
        self.write_conf(conf, raw=raw, workers=workers)

    def write_conf(self, conf, raw=False, workers=1):
        if not raw:
            conf = ("worker_processes %d;\npid %s;\nerror_log %s info;\n"
                    "events { worker_connections 1024; }\n" % (workers, self.pid_path, self.error_log)
                    + conf)
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_config(self, *extra):
        """Runs `proxyd -t`; returns (exit code, stderr text)."""
        p = subprocess.run([self.binary, "-t", "-p", self.dir + "/", "-c", self.conf_path] + list(extra),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr

    def start(self, wait_for=None, extra=()):
        self.proc = subprocess.Popen(
            [self.binary, "-p", self.dir + "/", "-c", self.conf_path, "-g", "daemon off;"] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_for is not None and not wait_port(wait_for):
            self.stop()
            raise RuntimeError("proxyd did not listen on %d:\n%s" % (wait_for, self.read_error_log()))
        return self

    def master_pid(self):
        return self.proc.pid

    def worker_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(x) for x in out.stdout.split()]

    def signal(self, signo):
        os.kill(self.proc.pid, signo)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            for s in (self.proc.stdout, self.proc.stderr):
                if s:
                    s.close()

    def read_error_log(self):
        try:
            with open(self.error_log) as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def raw_request(port, data, timeout=5.0, read_until_close=True, host="127.0.0.1"):
    """Sends bytes, returns everything the server wrote until it closed (or timeout)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
            if not read_until_close:
                break
        return b"".join(chunks)
    finally:
        s.close()


def parse_responses(data):
    """Splits a byte stream into [(status, headers dict (lowercase names), body)] using
    Content-Length (responses here always carry one or have no body)."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode()
        n = int(headers.get("content-length", "0"))
        body, data = rest[:n], rest[n:]
        out.append((status, headers, body))
    return out


def status_of(data):
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else None


def main():
    unittest.main(verbosity=2)


class NginxRef:
    """Debian's nginx running the same http{} text as a Proxyd, for differential tests.

    Same interface as Proxyd (start/stop/cleanup/read_error_log/path); it gets its own prefix
    dir with pid, error log and temp paths inside, and `user root;` is not needed: paths are
    opened by the master."""

    def __init__(self, conf):
        self.dir = tempfile.mkdtemp(prefix="nginx-e2e-")
        self.conf_path = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.proc = None
        for d in ("client_body_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
            os.chmod(os.path.join(self.dir, d), 0o777)
        with open(self.conf_path, "w") as f:
            f.write("worker_processes 1;\npid %s/nginx.pid;\nerror_log %s info;\n"
                    "events { worker_connections 1024; }\n" % (self.dir, self.error_log) + conf)

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self, wait_for=None):
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-p", self.dir + "/", "-e", self.error_log, "-c", self.conf_path,
             "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if wait_for is not None and not wait_port(wait_for):
            self.stop()
            raise RuntimeError("nginx did not listen on %d:\n%s" % (wait_for, self.read_error_log()))
        return self

    stop = Proxyd.stop
    read_error_log = Proxyd.read_error_log
    cleanup = Proxyd.cleanup


def normalize_response(data):
    """A response byte stream with what legitimately differs between nginx and proxyd made
    equal: the Date header's value and the server's name/version (header and error pages)."""
    import re
    data = re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: X", data)
    data = re.sub(rb"(?m)^Server: [^\r\n]*", b"Server: X", data)
    data = re.sub(rb"<hr><center>(nginx|proxyd)(/[0-9.]+)?</center>", b"<hr><center>X</center>", data)
    return data


def recv_response(sock, buf=b"", head_request=False):
    """Reads exactly one response (head, then a Content-Length body unless head_request) from
    sock; returns (response bytes, bytes read past it). An interim 1xx is returned alone.
    Returns (b"", buf) when the peer closed before a whole head arrived."""
    while b"\r\n\r\n" not in buf:
        b = sock.recv(65536)
        if not b:
            return b"", buf
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v.strip())
    if head_request or head.split(b" ", 2)[1].startswith(b"1"):
        n = 0
    while len(rest) < n:
        b = sock.recv(65536)
        if not b:
            break
        rest += b
    return head + b"\r\n\r\n" + rest[:n], rest[n:]


def wait_for_text(path, needle, timeout=5.0):
    """Polls a log file until it contains needle; returns its text (what it has at the end)."""
    deadline = time.time() + timeout
    text = ""
    while True:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("latin-1")
        except OSError:
            pass
        if needle in text or time.time() >= deadline:
            return text
        time.sleep(0.02)


class Differential(unittest.TestCase):
    """Runs CONF (with %(port)d) under proxyd and under nginx for the whole class, so each test
    can send the same bytes to both and compare the answers. A subclass may change what each
    side reads (conf_text) and write files next to each configuration (prepare)."""
    CONF = None

    @classmethod
    def conf_text(cls, port):
        return cls.CONF % {"port": port}

    @classmethod
    def prepare(cls, server):
        pass

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.nginx_port = free_port()
        cls.proxyd = Proxyd(cls.conf_text(cls.port))
        cls.nginx = NginxRef(cls.conf_text(cls.nginx_port))
        try:
            for server in (cls.proxyd, cls.nginx):
                cls.prepare(server)
            cls.proxyd.start(wait_for=cls.port)
            cls.nginx.start(wait_for=cls.nginx_port)
        except Exception:
            cls.proxyd.cleanup()
            cls.nginx.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxyd.cleanup()
        cls.nginx.cleanup()

    def exchange(self, data):
        """proxyd's normalised answer (read until close), checked equal to nginx's."""
        got = normalize_response(raw_request(self.port, data))
        ref = normalize_response(raw_request(self.nginx_port, data))
        got = got.replace(str(self.port).encode(), b"PORT")
        ref = ref.replace(str(self.nginx_port).encode(), b"PORT")
        self.assertEqual(got, ref, "proxyd and nginx answer %r differently" % data[:100])
        return got


class BackendDifferential(Differential):
    """A Differential whose configuration (TEMPLATE) proxies to one backend started for the
    class: the word BACKEND in it becomes the backend's address."""
    TEMPLATE = None

    @classmethod
    def make_backend(cls):
        return RecordingBackend()

    @classmethod
    def backend_address(cls):
        return cls.backend.address

    @classmethod
    def setUpClass(cls):
        cls.backend = cls.make_backend()
        cls.CONF = cls.TEMPLATE.replace("BACKEND", cls.backend_address())
        try:
            super().setUpClass()
        except Exception:
            cls.backend.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.backend.close()


class TempDirCase(unittest.TestCase):
    """A test with a fresh directory (self.dir) removed afterwards, and write(name, text)."""
    PREFIX = "proxyd-e2e-"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.PREFIX)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path


class RecordedRequest:
    """One request as a RecordingBackend read it off the wire.

    raw: the exact bytes (head incl. the blank line, then the body as framed on the wire);
    head: the head bytes without the final CRLFCRLF; request_line, method, target, version
    (bytes); headers: [(name, value)] bytes in the order received, names as sent, values
    stripped; body: the body bytes as framed (chunk sizes included when chunked); data: the
    body decoded (de-chunked); chunked: True when Transfer-Encoding: chunked framed it;
    conn: the number (0, 1, ...) of the backend connection it came on."""

    def __init__(self, head, body, data, chunked, conn):
        self.head = head
        self.raw = head + b"\r\n\r\n" + body
        self.body = body
        self.data = data
        self.chunked = chunked
        self.conn = conn
        lines = head.split(b"\r\n")
        self.request_line = lines[0]
        parts = lines[0].split(b" ")
        self.method = parts[0]
        self.target = parts[1] if len(parts) > 1 else b""
        self.version = parts[2] if len(parts) > 2 else b""
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.headers.append((name, value.strip()))

    def header(self, name):
        """The first value of header `name` (case-insensitive, str or bytes), or None."""
        vals = self.header_all(name)
        return vals[0] if vals else None

    def header_all(self, name):
        if isinstance(name, str):
            name = name.encode()
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header_names(self):
        return [k for k, _ in self.headers]

    def __repr__(self):
        return "RecordedRequest(%r)" % self.raw[:300]


class RecordingBackend:
    """A threaded loopback HTTP/1.1 server that records every request it receives.

        b = RecordingBackend()                       # TCP on 127.0.0.1:b.port
        b = RecordingBackend(unix_path="/tmp/x.sock")  # or a unix socket (b.port is None)
        b = RecordingBackend(response=b"HTTP/1.1 404 Not Found\\r\\nContent-Length: 0\\r\\n\\r\\n")
        ...
        req = b.wait_request()      # the first request not yet taken (RecordedRequest), or
                                    # raises AssertionError after `timeout` seconds
        b.requests                  # all RecordedRequest so far, in arrival order
        b.close()                   # stops the thread and closes the sockets (idempotent)

    response: bytes written as the whole answer to each request; or a list of bytes written
    one after another (a flush between them); or a callable(RecordedRequest) returning either.
    The default is "HTTP/1.1 200 OK", Content-Length: 2, body "ok".
    bind: the (address, port) a TCP backend listens on (default: a free port on 127.0.0.1).
    keepalive: when False (default) the backend closes the connection after each answer (so a
    close-delimited body works); when True it reads the next request on the same connection.
    send_continue: answer "HTTP/1.1 100 Continue" first when the request has Expect: 100-continue.
    Bodies are read by Content-Length or chunked framing (trailers included in .body); a
    request with neither has no body. Use as a context manager or addCleanup(b.close)."""

    DEFAULT_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, response=None, unix_path=None, keepalive=False, send_continue=False,
                 timeout=10.0, bind=("127.0.0.1", 0)):
        import threading
        self.response = self.DEFAULT_RESPONSE if response is None else response
        self.keepalive = keepalive
        self.send_continue = send_continue
        self.timeout = timeout
        self.unix_path = unix_path
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            self.port = None
            self.address = "unix:" + unix_path
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(bind)
            self.port = self.sock.getsockname()[1]
            self.address = "%s:%d" % (bind[0], self.port)
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.requests = []
        self.errors = []
        self.connections = 0
        self._taken = 0
        self._cond = threading.Condition()
        self._running = True
        self._conns = []
        self._threads = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _accept_loop(self):
        import threading
        while self._running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cond:
                n = self.connections
                self.connections += 1
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, n), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, n):
        conn.settimeout(self.timeout)
        buf = b""
        try:
            while self._running:
                req, buf = self._read_request(conn, buf, n)
                if req is None:
                    return
                with self._cond:
                    self.requests.append(req)
                    self._cond.notify_all()
                resp = self.response(req) if callable(self.response) else self.response
                for piece in (resp if isinstance(resp, list) else [resp]):
                    conn.sendall(piece)
                if not self.keepalive:
                    return
        except OSError as e:
            self.errors.append(e)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    def _read_request(self, conn, buf, n):
        def more():
            b = conn.recv(65536)
            if not b:
                raise EOFError
            return b
        try:
            while b"\r\n\r\n" not in buf:
                buf += more()
            head, _, buf = buf.partition(b"\r\n\r\n")
            tmp = RecordedRequest(head, b"", b"", False, n)
            te = tmp.header("transfer-encoding")
            cl = tmp.header("content-length")
            if self.send_continue and (tmp.header("expect") or b"").lower() == b"100-continue":
                conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if te is not None and b"chunked" in te.lower():
                body, data, pos = b"", b"", 0
                while True:
                    while b"\r\n" not in buf[pos:]:
                        buf += more()
                    eol = buf.index(b"\r\n", pos)
                    size = int(buf[pos:eol].split(b";")[0].strip(), 16)
                    pos = eol + 2
                    if size == 0:
                        while True:  # trailers up to the empty line
                            while b"\r\n" not in buf[pos:]:
                                buf += more()
                            eol = buf.index(b"\r\n", pos)
                            line_empty = eol == pos
                            pos = eol + 2
                            if line_empty:
                                break
                        break
                    while len(buf) < pos + size + 2:
                        buf += more()
                    data += buf[pos:pos + size]
                    pos += size + 2
                body, buf = buf[:pos], buf[pos:]
                return RecordedRequest(head, body, data, True, n), buf
            length = int(cl) if cl is not None else 0
            while len(buf) < length:
                buf += more()
            body, buf = buf[:length], buf[length:]
            return RecordedRequest(head, body, body, False, n), buf
        except (EOFError, socket.timeout, ValueError):
            return None, buf

    def wait_request(self, timeout=5.0):
        """The next request not returned before (arrival order); AssertionError on timeout."""
        deadline = time.time() + timeout
        with self._cond:
            while len(self.requests) <= self._taken:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("backend %s got no request in %.1fs" % (self.address, timeout))
                self._cond.wait(left)
            self._taken += 1
            return self.requests[self._taken - 1]

    def close(self):
        self._running = False
        try:
            self.sock.close()
        except OSError:
            pass
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        for t in self._threads:
            t.join(5)
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except OSError:
                pass


# ---------------------------------------------------------------- one class per binary

def per_target(cls, targets, namespace, nginx_missing=None):
    """Makes a TestCase cls_KIND for each KIND of targets ("proxyd", "nginx") in namespace (a
    test module's globals()); returns None, so that the decorated base is not collected. On
    proxyd the tests cls names in PROXYD_BUGS (test name: the bug) are expected failures; on
    nginx those in NGINX_DIFFERS (test name: what nginx does) are skipped; the nginx class is
    skipped when nginx is missing, or when nginx_missing() gives a reason."""
    for kind in targets:
        name = "%s_%s" % (cls.__name__, kind)
        attrs = {"KIND": kind, "__module__": cls.__module__, "__qualname__": name}
        marks = getattr(cls, "PROXYD_BUGS", {}) if kind == "proxyd" else getattr(cls, "NGINX_DIFFERS", {})
        for test in marks:
            # a wrapper: a mark changes the function it is given, and the other kind shares it
            method = getattr(cls, test)
            wrapped = lambda self, m=method: m(self)  # noqa: E731
            attrs[test] = (unittest.expectedFailure(wrapped) if kind == "proxyd"
                           else unittest.skip(marks[test])(wrapped))
        sub = type(name, (cls,), attrs)
        if kind == "nginx":
            why = None if os.access(NGINX_BIN, os.X_OK) else "nginx is not installed"
            why = why or (nginx_missing() if nginx_missing else None)
            if why:
                sub = unittest.skip(why)(sub)
        namespace[name] = sub
    return None


def read_to_eof(sock):
    """Every byte until the peer closed (a reset counts as a close). AssertionError when the
    connection stays open past the socket's timeout."""
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except socket.timeout:
            raise AssertionError("the server kept the connection open; read so far: %r"
                                 % b"".join(chunks)[:300])
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)
