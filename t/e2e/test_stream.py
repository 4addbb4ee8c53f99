"""The stream{} TCP proxy: bytes both ways and half-closes, upstream groups (round robin with
weights, least_conn, hash, random, backup, down), failures (next upstream, tries, max_fails,
every server dead, connect and idle timeouts), the access log and its variables, the PROXY
protocol received on a listen and sent to the upstream, IPv6, unix sockets, memcached behind
the proxy, and the [emerg] lines of bad configurations.

Every case runs under Debian's nginx 1.22 (its stream module is libnginx-mod-stream, loaded by
a load_module line first in the file) and under proxyd (stream built in: a comment takes the
load_module line's place, so both report the same line numbers), with the same configuration
and the same expectation: the expected answers are nginx's. STREAM_E2E_TARGETS="proxyd" (or
"nginx", default "proxyd,nginx") picks the binaries; each test class exists once per binary
(FooTest_proxyd, FooTest_nginx). A class's PROXYD_BUGS names its tests that fail on proxyd for
a known bug (expected failures there). proxy_protocol_version is proxyd's own: that class runs
on proxyd only.

Backends are Python threads on loopback: an echo server, servers that say their name on
connect, servers that record what they receive; a listener whose accept queue is full stands
for an upstream that never answers a SYN."""
import hashlib
import os
import queue
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

TARGETS = [t for t in os.environ.get("STREAM_E2E_TARGETS", "proxyd,nginx").split(",") if t]
TIMEOUT = 5  # bound of every client exchange, in seconds
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def first_line(kind):
    """The configuration's line 1: nginx loads its stream module there."""
    if kind == "nginx":
        return "load_module %s;\n" % NGINX_STREAM_MODULE
    return "# stream is built into proxyd\n"


def main_conf(kind, d):
    """Lines 1-5 of every configuration here; the test's text begins on line 6."""
    return (first_line(kind) + "worker_processes 1;\npid %s/x.pid;\nerror_log %s/error.log info;\n"
            "events { worker_connections 1024; }\n" % (d, d))


def binary(kind):
    return proxyd_test.PROXYD_BIN if kind == "proxyd" else proxyd_test.NGINX_BIN


def make_server(kind, conf):
    """A Proxyd or NginxRef whose file is main_conf + conf (TMP/ there means its directory)."""
    if kind == "proxyd":
        srv = proxyd_test.Proxyd("", raw=True)
    else:
        srv = proxyd_test.NginxRef("")
    # nginx's workers run as nobody: they must reach unix sockets under the directory
    os.chmod(srv.dir, 0o755)
    with open(srv.conf_path, "w") as f:
        f.write(main_conf(kind, srv.dir) + conf.replace("TMP/", srv.dir + "/"))
    return srv


# ---------------------------------------------------------------- backends

class Backend:
    """A threaded loopback server: handler(conn, backend) serves each accepted connection in
    its own thread (the connection is closed after it returns). host "::1" listens on IPv6;
    unix_path on a unix socket. .address is how a configuration names it; .events is a queue
    handlers may report to; .accepted counts connections."""

    def __init__(self, handler, host="127.0.0.1", unix_path=None):
        self.handler = handler
        self.unix_path = unix_path
        if unix_path:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(unix_path)
            os.chmod(unix_path, 0o777)
            self.port = None
            self.address = "unix:" + unix_path
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
            self.address = ("[%s]:%d" if family == socket.AF_INET6 else "%s:%d") % (host,
                                                                                   self.port)
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.events = queue.Queue()
        self.accepted = 0
        self.running = True
        self.conns = []
        self.threads = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, conn):
        conn.settimeout(3 * TIMEOUT)
        try:
            self.handler(conn, self)
        except OSError as e:
            self.events.put(("error", e))
        finally:
            conn.close()

    def event(self, timeout=TIMEOUT):
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("backend %s reported nothing in %ds" % (self.address, timeout))

    def close(self):
        self.running = False
        self.sock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        for t in self.threads:
            t.join(5)
        if self.unix_path and os.path.exists(self.unix_path):
            os.unlink(self.unix_path)


def recv_all(conn):
    data = b""
    while True:
        b = conn.recv(65536)
        if not b:
            return data
        data += b


def echo(conn, backend):
    """Echoes until EOF, then closes its write side too."""
    while True:
        b = conn.recv(65536)
        if not b:
            break
        conn.sendall(b)
    conn.shutdown(socket.SHUT_WR)


def named(name):
    """Says its name and a newline on connect, then holds the connection until the peer
    closes it."""
    def handler(conn, backend):
        conn.sendall(name.encode() + b"\n")
        recv_all(conn)
    return handler


def record(conn, backend):
    """Reports ("got", everything received up to EOF)."""
    backend.events.put(("got", recv_all(conn)))


def reset_after_a_line(conn, backend):
    """Reads one line, then resets the connection."""
    recv_all_line(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def recv_all_line(conn):
    data = b""
    while not data.endswith(b"\n"):
        b = conn.recv(65536)
        if not b:
            break
        data += b
    return data


def reply_after_eof(conn, backend):
    """Reads up to EOF, reports it, then answers "reply:" + what it read."""
    data = recv_all(conn)
    backend.events.put(("got", data))
    conn.sendall(b"reply:" + data)
    conn.shutdown(socket.SHUT_WR)


def reply_line(conn, backend):
    """Reads one line, answers "reply:" and the line, and closes."""
    conn.sendall(b"reply:" + recv_all_line(conn))


BLAST = hashlib.sha256(b"blast").digest() * (8 * 1024 * 1024 // 32)


def blast(conn, backend):
    """Sends BLAST (8 MiB) at once and closes."""
    conn.sendall(BLAST)


def close_write_first(conn, backend):
    """Says "bye" and closes its write side at once, then reports what it still receives."""
    conn.sendall(b"bye")
    conn.shutdown(socket.SHUT_WR)
    backend.events.put(("got", recv_all(conn)))


class FullBacklog:
    """A listener that never accepts and whose accept queue is full: the kernel drops every
    further SYN, so a connect() to it stays pending (a local stand-in for a silent host)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.fillers = [socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)]
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(f)

    def close(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


class Dead:
    """A loopback port nothing listens on: connect() is refused."""

    def __init__(self):
        self.port = proxyd_test.free_port()
        self.address = "127.0.0.1:%d" % self.port

    def close(self):
        pass


# ---------------------------------------------------------------- clients

def connect(port, host="127.0.0.1", source=None):
    return socket.create_connection((host, port), timeout=TIMEOUT,
                                    source_address=(source, 0) if source else None)


read_to_eof = proxyd_test.read_to_eof


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        b = sock.recv(min(65536, n - len(data)))
        if not b:
            raise AssertionError("closed after %d of %d bytes: %r" % (len(data), n, data[:200]))
        data += b
    return data


def read_line(sock):
    data = b""
    while not data.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise AssertionError("closed before a whole line: %r" % data)
        data += b
    return data[:-1].decode()


def exchange(port, data, host="127.0.0.1", shut_write=True):
    """Sends data on a fresh connection, closes the write side; returns all that came back."""
    s = connect(port, host)
    try:
        if data:
            s.sendall(data)
        if shut_write:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:  # the proxy may have closed already (a broken PROXY header)
                pass
        return read_to_eof(s)
    finally:
        s.close()


def echo_once(port, data, host="127.0.0.1"):
    """Sends data on a fresh connection and reads as many bytes back, then closes."""
    with connect(port, host) as s:
        s.sendall(data)
        return read_exactly(s, len(data))


def name_of_next(port, source=None):
    """The name a named() backend says on a fresh connection through the proxy (the
    connection is then closed)."""
    s = connect(port, source=source)
    try:
        return read_line(s)
    finally:
        s.close()


def pump(sock, payload):
    """Sends payload from a thread while this one reads as many bytes back; returns them."""
    errors = []

    def send():
        try:
            sock.sendall(payload)
        except OSError as e:
            errors.append(e)
    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        return read_exactly(sock, len(payload))
    finally:
        t.join(3 * TIMEOUT)
        if errors:
            raise AssertionError("sending failed: %r" % errors[0])


def bound(host, port):
    """Whether someone holds host:port (binding it fails)."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        s.bind((host, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


# ---------------------------------------------------------------- test classes

def for_each_target(cls):
    """Class decorator: cls_proxyd and cls_nginx (as STREAM_E2E_TARGETS says); nginx needs its
    stream module."""
    return proxyd_test.per_target(
        cls, TARGETS, globals(),
        lambda: None if os.path.exists(NGINX_STREAM_MODULE)
        else "nginx's stream module (libnginx-mod-stream) is missing")


def proxyd_only(cls):
    """Class decorator for proxyd's own directives: a proxyd class only."""
    return proxyd_test.per_target(cls, [t for t in TARGETS if t == "proxyd"], globals())


class StreamCase(unittest.TestCase):
    """One server for the whole class. BACKENDS maps a name to a callable making the backend
    (started first); PORTS names the ports the server listens on. In CONF, %(name)d is one of
    PORTS, %(name)s a backend's address, TMP/ the server's directory. LISTEN6 names the ports
    listened on [::1] rather than 127.0.0.1."""
    KIND = None
    PROXYD_BUGS = {}
    CONF = None
    PORTS = ()
    LISTEN6 = ()
    BACKENDS = {}

    @classmethod
    def setUpClass(cls):
        cls.backends = {}
        cls.srv = None
        cls.setup_error = None
        try:
            for name, make in cls.BACKENDS.items():
                cls.backends[name] = make()
            cls.ports = {name: proxyd_test.free_port() for name in cls.PORTS}
            values = dict(cls.ports)
            for name, b in cls.backends.items():
                values[name] = b.address
            cls.srv = make_server(cls.KIND, cls.CONF % values)
            cls.srv.start()
            cls.wait_listening()
        except Exception as e:
            cls.tearDownClass()
            if not (cls.KIND == "proxyd" and cls.PROXYD_BUGS):
                raise
            # the class's tests then fail (as expected ones) with what stopped the server
            cls.setup_error = e
            cls.srv = None
            cls.backends = {}

    def setUp(self):
        if self._testMethodName not in self.PROXYD_BUGS:
            self.check_started()

    def check_started(self):
        if self.setup_error:
            raise AssertionError("the server did not start: %s" % self.setup_error)

    @classmethod
    def wait_listening(cls):
        # a probe connection would be a session, and take a turn of a balancer or a
        # backend's report: a port that cannot be bound is one the server holds
        deadline = time.time() + 5
        for name, port in cls.ports.items():
            host = "::1" if name in cls.LISTEN6 else "127.0.0.1"
            while not bound(host, port):
                if cls.srv.proc.poll() is not None or time.time() > deadline:
                    said = cls.srv.proc.stderr.read().decode() if cls.srv.proc.poll() is not None \
                        else ""
                    raise RuntimeError("%s did not listen on %s:%d:\n%s%s" % (
                        cls.KIND, host, port, said, cls.srv.read_error_log()))
                time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        if cls.srv:
            cls.srv.cleanup()
        for b in cls.backends.values():
            b.close()
        cls.srv = None
        cls.backends = {}

    def log_path(self, name):
        return os.path.join(self.srv.dir, name + ".log")

    def log_lines(self, name):
        try:
            with open(self.log_path(name)) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_log(self, name, count):
        """The access log name's lines once it has count of them (sessions are logged as they
        end); AssertionError after TIMEOUT."""
        deadline = time.time() + TIMEOUT
        while True:
            lines = self.log_lines(name)
            if len(lines) >= count or time.time() > deadline:
                break
            time.sleep(0.02)
        self.assertGreaterEqual(len(lines), count, "access log %s: %r" % (name, lines))
        return lines

    def next_line(self, name, action):
        """Runs action() and returns the line it added to access log name."""
        before = len(self.log_lines(name))
        action()
        return self.wait_log(name, before + 1)[before]

    def error_log_offset(self):
        return os.path.getsize(self.srv.error_log) if os.path.exists(self.srv.error_log) else 0

    def assert_logged(self, offset, pattern, level):
        """The error log gets, past offset, a line at level for a session (*N) whose message
        matches the regular expression pattern up to the line's end."""
        regex = re.compile(r"\[%s\] \d+#\d+: \*\d+ (%s)$" % (level, pattern), re.M)
        deadline = time.time() + TIMEOUT
        while True:
            with open(self.srv.error_log, "rb") as f:
                f.seek(offset)
                text = f.read().decode("latin-1")
            m = regex.search(text)
            if m or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertIsNotNone(m, "no [%s] line matching %r in:\n%s" % (level, pattern, text[-3000:]))

    def assert_closed(self, sock):
        """The proxy closes sock without sending anything."""
        self.assertEqual(read_to_eof(sock), b"")


# ---------------------------------------------------------------- bytes both ways

ECHO_CONF = """
stream {
  log_format addrs '$remote_addr|$server_addr|$server_port|$upstream_addr|$status';
  upstream group { server %(echo)s; }
  server { listen 127.0.0.1:%(plain)d reuseport backlog=64; proxy_pass %(echo)s; }
  server { listen 127.0.0.1:%(small)d; proxy_pass %(echo)s; proxy_buffer_size 1k; }
  server { listen 127.0.0.1:%(group)d; proxy_pass group; }
  server { listen 127.0.0.1:%(unix)d; proxy_pass %(echo_unix)s; access_log TMP/unix.log addrs; }
  server { listen [::1]:%(v6)d; proxy_pass %(echo6)s; access_log TMP/v6.log addrs; }
  server { listen 127.0.0.1:%(slow)d; proxy_pass %(blast)s; proxy_buffer_size 4k; }
  server { listen 127.0.0.1:%(eof)d; proxy_pass %(reply)s; }
  server { listen 127.0.0.1:%(upeof)d; proxy_pass %(closer)s; }
}
"""


def unix_echo():
    d = tempfile.mkdtemp(prefix="proxyd-e2e-stream-sock-")
    os.chmod(d, 0o755)
    b = Backend(echo, unix_path=os.path.join(d, "echo.sock"))
    close = b.close

    def close_and_remove():
        close()
        shutil.rmtree(d, ignore_errors=True)
    b.close = close_and_remove
    return b


@for_each_target
class EchoTest(StreamCase):
    CONF = ECHO_CONF
    PORTS = ("plain", "small", "group", "unix", "v6", "eof", "upeof", "slow")
    LISTEN6 = ("v6",)
    BACKENDS = {"echo": lambda: Backend(echo), "echo6": lambda: Backend(echo, host="::1"),
                "echo_unix": unix_echo, "reply": lambda: Backend(reply_after_eof),
                "closer": lambda: Backend(close_write_first), "blast": lambda: Backend(blast)}

    def test_bytes_pass_both_ways_in_turns(self):
        s = connect(self.ports["plain"])
        with s:
            for message in (b"hello", b"\x00\xff binary \r\n", b"x" * 3000):
                s.sendall(message)
                self.assertEqual(read_exactly(s, len(message)), message)

    def test_several_mib_pass_intact_both_ways(self):
        payload = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)
        payload += b"tail"
        with connect(self.ports["plain"]) as s:
            s.settimeout(3 * TIMEOUT)
            got = pump(s, payload)
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(payload).hexdigest())

    def test_a_small_proxy_buffer_size_still_carries_a_large_transfer(self):
        payload = os.urandom(1024 * 1024 + 7)
        with connect(self.ports["small"]) as s:
            s.settimeout(3 * TIMEOUT)
            got = pump(s, payload)
        self.assertTrue(got == payload, "the bytes came back changed")

    def test_a_slow_client_gets_every_byte_sent_before_the_backend_closed(self):
        with connect(self.ports["slow"]) as s:
            time.sleep(0.5)  # the backend has closed by now or is held back by the proxy
            s.settimeout(3 * TIMEOUT)
            got = read_to_eof(s)
        self.assertEqual(len(got), len(BLAST))
        self.assertTrue(got == BLAST, "the bytes came changed")

    def test_concurrent_sessions_keep_their_bytes_apart(self):
        socks = [connect(self.ports["plain"]) for _ in range(20)]
        try:
            for i, s in enumerate(socks):
                s.sendall(b"session %d\n" % i)
            for i, s in enumerate(socks):
                self.assertEqual(read_line(s), "session %d" % i)
        finally:
            for s in socks:
                s.close()

    def test_proxy_pass_to_an_upstream_group_by_name(self):
        self.assertEqual(echo_once(self.ports["group"], b"via the group"), b"via the group")

    def test_proxy_pass_to_a_unix_socket(self):
        line = self.next_line("unix", lambda: self.assertEqual(
            echo_once(self.ports["unix"], b"over unix"), b"over unix"))
        self.assertEqual(line, "127.0.0.1|127.0.0.1|%d|%s|200" % (
            self.ports["unix"], self.backends["echo_unix"].address))

    def test_ipv6_listen_and_ipv6_backend(self):
        line = self.next_line("v6", lambda: self.assertEqual(
            echo_once(self.ports["v6"], b"over v6", host="::1"), b"over v6"))
        self.assertEqual(line, "::1|::1|%d|[::1]:%d|200" % (
            self.ports["v6"], self.backends["echo6"].port))

    def test_client_eof_ends_the_whole_session_without_proxy_half_close(self):
        # nginx's default (proxy_half_close off): the client's EOF closes both connections,
        # so what the backend answers after it is lost
        self.assertEqual(exchange(self.ports["eof"], b"question"), b"")
        self.assertEqual(self.backends["reply"].event(), ("got", b"question"))

    def test_backend_eof_ends_the_whole_session_without_proxy_half_close(self):
        s = connect(self.ports["upeof"])
        with s:
            self.assertEqual(read_to_eof(s), b"bye")
        self.assertEqual(self.backends["closer"].event(), ("got", b""))


HALF_CLOSE_CONF = """
stream {
  proxy_half_close on;
  server { listen 127.0.0.1:%(eof)d; proxy_pass %(reply)s; }
  server { listen 127.0.0.1:%(upeof)d; proxy_pass %(closer)s; }
}
"""


@for_each_target
class HalfCloseTest(StreamCase):
    """proxy_half_close on (nginx 1.21.4): each direction ends on its own."""
    CONF = HALF_CLOSE_CONF
    PORTS = ("eof", "upeof")
    BACKENDS = {"reply": lambda: Backend(reply_after_eof),
                "closer": lambda: Backend(close_write_first)}

    def test_client_half_close_reaches_the_backend_and_its_reply_still_comes_back(self):
        self.assertEqual(exchange(self.ports["eof"], b"question"), b"reply:question")
        self.assertEqual(self.backends["reply"].event(), ("got", b"question"))

    def test_backend_half_close_reaches_the_client_which_can_still_send(self):
        s = connect(self.ports["upeof"])
        with s:
            self.assertEqual(read_exactly(s, 3), b"bye")
            self.assertEqual(s.recv(10), b"")
            s.sendall(b"after your eof")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        self.assertEqual(self.backends["closer"].event(), ("got", b"after your eof"))


# ---------------------------------------------------------------- load balancing

BALANCE_CONF = """
stream {
  upstream rr { server %(b1)s; server %(b2)s; server %(b3)s; }
  upstream weighted { server %(b1)s weight=2; server %(b2)s; }
  upstream least { least_conn; server %(b1)s; server %(b2)s; server %(b3)s; }
  upstream hashed { hash $remote_addr; server %(b1)s; server %(b2)s; server %(b3)s; }
  upstream consistent {
    hash $remote_addr consistent;
    server %(b1)s;
    server %(b2)s;
    server %(b3)s;
  }
  upstream random { random; server %(b1)s down; server %(b2)s; server %(b3)s; }
  upstream random_two { random two; server %(b1)s down; server %(b2)s; server %(b3)s; }
  upstream capped { server %(b1)s max_conns=1; server %(b2)s; }
  upstream backup { server %(b1)s; server %(b2)s backup; }
  upstream dead_primary { server %(dead)s; server %(b3)s backup; }
  upstream down { server %(b1)s down; server %(b2)s; server %(b3)s; }
  server { listen 127.0.0.1:%(p_rr)d; proxy_pass rr; }
  server { listen 127.0.0.1:%(p_weighted)d; proxy_pass weighted; }
  server { listen 127.0.0.1:%(p_least)d; proxy_pass least; }
  server { listen 127.0.0.1:%(p_hashed)d; proxy_pass hashed; }
  server { listen 127.0.0.1:%(p_consistent)d; proxy_pass consistent; }
  server { listen 127.0.0.1:%(p_random)d; proxy_pass random; }
  server { listen 127.0.0.1:%(p_random_two)d; proxy_pass random_two; }
  server { listen 127.0.0.1:%(p_capped)d; proxy_pass capped; }
  server { listen 127.0.0.1:%(p_backup)d; proxy_pass backup; }
  server { listen 127.0.0.1:%(p_dead_primary)d; proxy_pass dead_primary; }
  server { listen 127.0.0.1:%(p_down)d; proxy_pass down; }
}
"""


@for_each_target
class BalanceTest(StreamCase):
    """Three backends that say their name on connect; each group has its own listen."""
    CONF = BALANCE_CONF
    PORTS = ("p_rr", "p_weighted", "p_least", "p_hashed", "p_consistent", "p_random",
             "p_random_two", "p_capped", "p_backup", "p_dead_primary", "p_down")
    BACKENDS = {"b1": lambda: Backend(named("b1")), "b2": lambda: Backend(named("b2")),
                "b3": lambda: Backend(named("b3")), "dead": Dead}

    def names(self, group, count, source=None):
        return [name_of_next(self.ports["p_" + group], source) for _ in range(count)]

    def test_round_robin_takes_the_servers_in_turn(self):
        self.assertEqual(self.names("rr", 6), ["b1", "b2", "b3", "b1", "b2", "b3"])

    def test_weights_two_to_one_are_interleaved(self):
        self.assertEqual(self.names("weighted", 6), ["b1", "b2", "b1", "b1", "b2", "b1"])

    def test_least_conn_picks_the_server_with_fewest_open_sessions(self):
        held = {}
        try:
            for _ in range(3):
                s = connect(self.ports["p_least"])
                held[read_line(s)] = s
            self.assertEqual(sorted(held), ["b1", "b2", "b3"])
            held.pop("b2").close()
            # the proxy sees the close once the backend's side is gone too
            deadline = time.time() + TIMEOUT
            while True:
                s = connect(self.ports["p_least"])
                name = read_line(s)
                if name == "b2" or time.time() > deadline:
                    break
                s.close()
            held["new " + name] = s
            self.assertEqual(name, "b2")
            for _ in range(2):
                s = connect(self.ports["p_least"])
                name = read_line(s)
                held["then %s %d" % (name, len(held))] = s
                self.assertIn(name, ("b1", "b2", "b3"))
        finally:
            for s in held.values():
                s.close()

    def test_hash_of_remote_addr_sends_a_client_to_one_server(self):
        for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            with self.subTest(source=source):
                names = self.names("hashed", 4, source)
                self.assertEqual(len(set(names)), 1, names)

    def test_consistent_hash_of_remote_addr_sends_a_client_to_one_server(self):
        for source in ("127.0.0.1", "127.0.0.2", "127.0.0.3"):
            with self.subTest(source=source):
                names = self.names("consistent", 4, source)
                self.assertEqual(len(set(names)), 1, names)

    def test_hash_spreads_many_clients_over_the_servers(self):
        seen = {name_of_next(self.ports["p_hashed"], "127.0.0.%d" % i) for i in range(1, 31)}
        self.assertEqual(seen, {"b1", "b2", "b3"})

    def test_random_never_picks_a_server_marked_down(self):
        names = self.names("random", 20)
        self.assertNotIn("b1", names)
        self.assertEqual(set(names), {"b2", "b3"})

    def test_random_two_never_picks_a_server_marked_down(self):
        names = self.names("random_two", 20)
        self.assertEqual(set(names), {"b2", "b3"})

    def test_max_conns_caps_the_open_sessions_of_a_server(self):
        held = []
        try:
            names = []
            for _ in range(4):
                held.append(connect(self.ports["p_capped"]))
                names.append(read_line(held[-1]))
            self.assertEqual(names, ["b1", "b2", "b2", "b2"])
        finally:
            for s in held:
                s.close()

    def test_backup_is_unused_while_the_primary_is_up(self):
        self.assertEqual(self.names("backup", 4), ["b1"] * 4)

    def test_backup_takes_over_when_the_primary_is_dead(self):
        self.assertEqual(self.names("dead_primary", 3), ["b3"] * 3)

    def test_a_server_marked_down_is_never_used(self):
        self.assertEqual(self.names("down", 6), ["b2", "b3"] * 3)


# ---------------------------------------------------------------- failures

FAILURE_CONF = """
stream {
  log_format f '$upstream_addr|$status|$bytes_sent|$bytes_received';
  log_format ct '$upstream_connect_time';
  upstream next_on { server %(dead)s; server %(b2)s; }
  upstream next_off { server %(dead)s; server %(b2)s; }
  upstream tries1 { server %(dead)s; server %(b2)s; }
  upstream tries2 { server %(dead)s; server %(dead2)s; server %(b2)s; }
  upstream remembered { server %(dead)s max_fails=1 fail_timeout=10s; server %(b2)s; }
  upstream forgotten { server %(dead)s max_fails=0; server %(b2)s; }
  upstream all_dead { server %(dead)s; server %(dead2)s; }
  upstream exhausted { server %(dead)s; server %(dead2)s; }
  upstream ct_refused { server %(dead)s; server %(dead2)s; }
  upstream ct_next { server %(dead)s; server %(b2)s; }
  server {
    listen 127.0.0.1:%(p_next_off)d;
    proxy_pass next_off;
    proxy_next_upstream off;
    access_log TMP/next_off.log f;
  }
  server {
    listen 127.0.0.1:%(p_tries1)d;
    proxy_pass tries1;
    proxy_next_upstream_tries 1;
    access_log TMP/tries1.log f;
  }
  server {
    listen 127.0.0.1:%(p_tries2)d;
    proxy_pass tries2;
    proxy_next_upstream_tries 2;
    access_log TMP/tries2.log f;
  }
  server { listen 127.0.0.1:%(p_next_on)d; proxy_pass next_on; access_log TMP/next_on.log f; }
  server {
    listen 127.0.0.1:%(p_remembered)d; proxy_pass remembered; access_log TMP/remembered.log f;
  }
  server {
    listen 127.0.0.1:%(p_forgotten)d; proxy_pass forgotten; access_log TMP/forgotten.log f;
  }
  server { listen 127.0.0.1:%(p_all_dead)d; proxy_pass all_dead; access_log TMP/all_dead.log f; }
  server {
    listen 127.0.0.1:%(p_exhausted)d; proxy_pass exhausted; access_log TMP/exhausted.log f;
  }
  server {
    listen 127.0.0.1:%(p_ct_refused)d; proxy_pass ct_refused; access_log TMP/ct_refused.log ct;
  }
  server { listen 127.0.0.1:%(p_ct_next)d; proxy_pass ct_next; access_log TMP/ct_next.log ct; }
  server {
    listen 127.0.0.1:%(p_direct_dead)d; proxy_pass %(dead)s; access_log TMP/direct_dead.log f;
  }
}
"""


@for_each_target
class FailureTest(StreamCase):
    """Refused connects (a port nothing listens on). Each test has its own group: a group's
    turn and its servers' failures are its own."""
    CONF = FAILURE_CONF
    PORTS = ("p_next_on", "p_next_off", "p_tries1", "p_tries2", "p_remembered", "p_forgotten",
             "p_all_dead", "p_exhausted", "p_ct_refused", "p_ct_next", "p_direct_dead")
    BACKENDS = {"b2": lambda: Backend(named("b2")), "dead": Dead, "dead2": Dead}

    def addr(self, name):
        return self.backends[name].address

    def session(self, name):
        """A session through listen p_<name>: the backend's name, or "" when closed first."""
        with connect(self.ports["p_" + name]) as s:
            data = b""
            while not data.endswith(b"\n"):
                b = s.recv(64)
                if not b:
                    break
                data += b
            return data.decode().strip()

    def test_next_upstream_on_moves_past_a_refused_server(self):
        self.assertEqual(self.session("next_on"), "b2")
        self.assertEqual(self.wait_log("next_on", 1)[0], "%s, %s|200|3|0" % (
            self.addr("dead"), self.addr("b2")))

    def test_upstream_connect_time_has_a_dash_for_each_refused_attempt(self):
        self.assertEqual(self.session("ct_refused"), "")
        self.assertEqual(self.wait_log("ct_refused", 1)[0], "-, -")
        self.assertEqual(self.session("ct_next"), "b2")
        self.assertRegex(self.wait_log("ct_next", 1)[0], r"^-, \d+\.\d{3}$")

    def test_next_upstream_off_closes_the_client_on_a_refused_server(self):
        self.assertEqual(self.session("next_off"), "")
        self.assertEqual(self.wait_log("next_off", 1)[0], "%s|502|0|0" % self.addr("dead"))

    def test_next_upstream_tries_1_makes_one_attempt(self):
        self.assertEqual(self.session("tries1"), "")
        self.assertEqual(self.wait_log("tries1", 1)[0], "%s|502|0|0" % self.addr("dead"))

    def test_next_upstream_tries_2_stops_after_two_refused_servers(self):
        self.assertEqual(self.session("tries2"), "")
        self.assertEqual(self.wait_log("tries2", 1)[0], "%s, %s|502|0|0" % (
            self.addr("dead"), self.addr("dead2")))

    def test_a_failed_server_is_skipped_for_its_fail_timeout(self):
        names = [self.session("remembered") for _ in range(4)]
        self.assertEqual(names, ["b2"] * 4)
        addrs = [line.split("|")[0] for line in self.wait_log("remembered", 4)]
        self.assertEqual(addrs, ["%s, %s" % (self.addr("dead"), self.addr("b2"))]
                         + [self.addr("b2")] * 3)

    def test_max_fails_0_keeps_trying_a_failed_server(self):
        names = [self.session("forgotten") for _ in range(4)]
        self.assertEqual(names, ["b2"] * 4)
        addrs = [line.split("|")[0] for line in self.wait_log("forgotten", 4)]
        tried_dead = [self.addr("dead") in a for a in addrs]
        self.assertTrue(tried_dead[0], addrs)
        self.assertIn(True, tried_dead[1:], addrs)

    def test_every_server_dead_closes_the_client_and_logs_502(self):
        self.assertEqual(self.session("all_dead"), "")
        self.assertEqual(self.wait_log("all_dead", 1)[0], "%s, %s|502|0|0" % (
            self.addr("dead"), self.addr("dead2")))

    def test_a_group_whose_servers_all_failed_has_no_live_upstreams(self):
        self.assertEqual(self.session("exhausted"), "")
        off = self.error_log_offset()
        # both servers are now failed for fail_timeout: no connect is tried at all
        self.assertEqual(self.session("exhausted"), "")
        self.assertEqual(self.wait_log("exhausted", 2)[1], "exhausted|502|0|0")
        self.assert_logged(off, r'no live upstreams while connecting to upstream, client: '
                           r'127\.0\.0\.1, server: 127\.0\.0\.1:%d, upstream: "exhausted", '
                           r'bytes from/to client:0/0, bytes from/to upstream:0/0'
                           % self.ports["p_exhausted"], "error")

    def test_a_refused_address_without_a_group_logs_502(self):
        self.assertEqual(self.session("direct_dead"), "")
        self.assertEqual(self.wait_log("direct_dead", 1)[0], "%s|502|0|0" % self.addr("dead"))
        # one server: it is tried every time, however often it failed
        self.assertEqual(self.session("direct_dead"), "")
        self.assertEqual(self.wait_log("direct_dead", 2)[1], "%s|502|0|0" % self.addr("dead"))

    def test_a_refused_connect_is_logged_with_the_session_counts(self):
        off = self.error_log_offset()
        self.assertEqual(self.session("direct_dead"), "")
        self.assert_logged(off, r'connect\(\) failed \(111: Connection refused\) while '
                           r'connecting to upstream, client: 127\.0\.0\.1, server: '
                           r'127\.0\.0\.1:%d, upstream: "%s", bytes from/to client:0/0, '
                           r'bytes from/to upstream:0/0' % (self.ports["p_direct_dead"],
                                                           re.escape(self.addr("dead"))),
                           "error")


# ---------------------------------------------------------------- timeouts

TIMEOUT_CONF = """
stream {
  proxy_timeout 1s;
  proxy_connect_timeout 1s;
  log_format f '$upstream_addr|$status';
  upstream silent_then_echo { server %(silent)s; server %(echo)s; }
  upstream silent_then_echo_2 { server %(silent)s; server %(echo)s; }
  server { listen 127.0.0.1:%(idle)d; proxy_pass %(echo)s; access_log TMP/idle.log f; }
  server { listen 127.0.0.1:%(patient)d; proxy_pass %(echo)s; proxy_timeout 30s; }
  server {
    listen 127.0.0.1:%(silent_only)d;
    proxy_pass %(silent)s;
    access_log TMP/silent_only.log f;
  }
  server {
    listen 127.0.0.1:%(silent_group)d;
    proxy_pass silent_then_echo;
    proxy_timeout 30s;
    access_log TMP/silent_group.log f;
  }
  server {
    listen 127.0.0.1:%(hurried)d;
    proxy_pass silent_then_echo_2;
    proxy_next_upstream_timeout 500ms;
    access_log TMP/hurried.log f;
  }
}
"""


@for_each_target
class TimeoutTest(StreamCase):
    """proxy_timeout and proxy_connect_timeout of 1s at the stream{} level; a listener with a
    full accept queue never completes a connect."""
    CONF = TIMEOUT_CONF
    PORTS = ("idle", "patient", "silent_only", "silent_group", "hurried")
    BACKENDS = {"echo": lambda: Backend(echo), "silent": FullBacklog}

    def idle_session(self):
        with connect(self.ports["idle"]) as s:
            s.sendall(b"ping")
            self.assertEqual(read_exactly(s, 4), b"ping")
            self.assertEqual(read_to_eof(s), b"")

    def test_an_idle_session_is_closed_after_proxy_timeout(self):
        self.assertRegex(self.next_line("idle", self.idle_session),
                         r"^%s\|200$" % re.escape(self.backends["echo"].address))

    def test_an_idle_timeout_is_logged_at_info_with_the_session_counts(self):
        off = self.error_log_offset()
        self.idle_session()
        self.assert_logged(off, r"connection timed out \(110: Connection timed out\) while "
                           r"proxying connection, client: 127\.0\.0\.1, server: 127\.0\.0\.1:%d, "
                           r'upstream: "%s", bytes from/to client:4/4, bytes from/to '
                           r"upstream:4/4" % (self.ports["idle"],
                                              re.escape(self.backends["echo"].address)), "info")

    def test_a_server_level_proxy_timeout_overrides_the_stream_level_one(self):
        with connect(self.ports["patient"]) as s:
            time.sleep(2)
            s.sendall(b"still here")
            self.assertEqual(read_exactly(s, 10), b"still here")

    def test_traffic_keeps_a_session_past_proxy_timeout(self):
        with connect(self.ports["idle"]) as s:
            for _ in range(6):
                s.sendall(b"tick")
                self.assertEqual(read_exactly(s, 4), b"tick")
                time.sleep(0.4)

    def silent_session(self):
        with connect(self.ports["silent_only"]) as s:
            self.assert_closed(s)

    def test_connect_timeout_closes_the_client_and_logs_502(self):
        self.assertEqual(self.next_line("silent_only", self.silent_session),
                         "%s|502" % self.backends["silent"].address)

    def test_connect_timeout_is_logged_with_the_session_counts(self):
        off = self.error_log_offset()
        self.silent_session()
        self.assert_logged(off, r"upstream timed out \(110: Connection timed out\) while "
                           r"connecting to upstream, client: 127\.0\.0\.1, server: "
                           r'127\.0\.0\.1:%d, upstream: "%s", bytes from/to client:0/0, '
                           r"bytes from/to upstream:0/0" % (
                               self.ports["silent_only"],
                               re.escape(self.backends["silent"].address)), "error")

    def test_connect_timeout_moves_on_to_the_next_server(self):
        with connect(self.ports["silent_group"]) as s:
            s.sendall(b"late but fine")
            self.assertEqual(read_exactly(s, 13), b"late but fine")
        self.assertEqual(self.wait_log("silent_group", 1)[0], "%s, %s|200" % (
            self.backends["silent"].address, self.backends["echo"].address))

    def test_next_upstream_timeout_spent_on_a_connect_stops_the_tries(self):
        with connect(self.ports["hurried"]) as s:
            self.assert_closed(s)
        self.assertEqual(self.wait_log("hurried", 1)[0], "%s|502" % self.backends["silent"].address)


# ---------------------------------------------------------------- access log

LOG_CONF = """
stream {
  log_format all '$remote_addr|$remote_port|$server_addr|$server_port|$protocol|'
                 '$bytes_sent|$bytes_received|$upstream_addr|$upstream_bytes_sent|'
                 '$upstream_bytes_received|$status|$connection|$pid|$hostname|'
                 '$session_time|$upstream_connect_time|$msec|$time_local|$time_iso8601';
  log_format pp '$proxy_protocol_addr|$proxy_protocol_port|$proxy_protocol_server_addr|'
                '$proxy_protocol_server_port';
  access_log TMP/inherited.log all;
  server { listen 127.0.0.1:%(p_all)d; proxy_pass %(reply)s; access_log TMP/all.log all; }
  server { listen 127.0.0.1:%(p_pp)d; proxy_pass %(reply)s; access_log TMP/pp.log pp; }
  server { listen 127.0.0.1:%(p_inherit)d; proxy_pass %(reply)s; }
  server { listen 127.0.0.1:%(p_off)d; proxy_pass %(reply)s; access_log off; }
}
"""


@for_each_target
class AccessLogTest(StreamCase):
    CONF = LOG_CONF
    PORTS = ("p_all", "p_inherit", "p_off", "p_pp")
    BACKENDS = {"reply": lambda: Backend(reply_line)}

    def test_every_variable_of_a_session(self):
        s = connect(self.ports["p_all"])
        before = len(self.log_lines("all"))
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"012345678\n")
            self.assertEqual(read_to_eof(s), b"reply:012345678\n")
        fields = self.wait_log("all", before + 1)[before].split("|")
        self.assertEqual(len(fields), 19, fields)
        self.assertEqual(fields[:11], [
            "127.0.0.1", str(cport), "127.0.0.1", str(self.ports["p_all"]), "TCP",
            "16", "10", self.backends["reply"].address, "10", "16", "200"])
        connection, pid, hostname, session_time, connect_time, msec, local, iso = fields[11:19]
        self.assertRegex(connection, r"^[1-9][0-9]*$")
        self.assertEqual(int(pid), self.worker_pid())
        self.assertEqual(hostname, socket.gethostname())
        self.assertRegex(session_time, r"^\d+\.\d{3}$")
        self.assertRegex(connect_time, r"^\d+\.\d{3}$")
        self.assertRegex(msec, r"^\d{10}\.\d{3}$")
        self.assertLess(abs(float(msec) - time.time()), 60)
        self.assertRegex(local, r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$")
        self.assertRegex(iso, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)$")

    def test_proxy_protocol_variables_without_a_header_are_logged_as_dashes(self):
        self.assertEqual(self.next_line("pp", lambda: exchange(
            self.ports["p_pp"], b"x\n", shut_write=False)), "-|-|-|-")

    def worker_pid(self):
        out = subprocess.run(["pgrep", "-P", str(self.srv.proc.pid)], capture_output=True,
                             text=True).stdout.split()
        self.assertEqual(len(out), 1, out)
        return int(out[0])

    def test_connection_numbers_grow(self):
        first, second = (int(self.next_line("all", lambda: exchange(
            self.ports["p_all"], b"x\n", shut_write=False)).split("|")[11]) for _ in range(2))
        self.assertGreater(second, first)

    def test_a_server_inherits_the_stream_level_access_log(self):
        fields = self.next_line("inherited", lambda: exchange(
            self.ports["p_inherit"], b"ab\n", shut_write=False)).split("|")
        self.assertEqual(fields[3:11], [str(self.ports["p_inherit"]), "TCP", "9", "3",
                                        self.backends["reply"].address, "3", "9", "200"])

    def test_access_log_off_writes_nothing(self):
        exchange(self.ports["p_off"], b"abc\n", shut_write=False)
        # the session is logged as it ends, before the client reads the EOF
        before = len(self.log_lines("inherited"))
        exchange(self.ports["p_inherit"], b"marker\n", shut_write=False)
        ports = [line.split("|")[3] for line in self.wait_log("inherited", before + 1)]
        self.assertNotIn(str(self.ports["p_off"]), ports)


SESSION_CONF = """
stream {
  log_format f '$status|$bytes_sent|$bytes_received|$upstream_bytes_sent|$upstream_bytes_received';
  server { listen 127.0.0.1:%(p_echo)d; proxy_pass %(echo)s; access_log TMP/echo.log f; }
  server { listen 127.0.0.1:%(p_reset)d; proxy_pass %(reset)s; access_log TMP/reset.log f; }
  server { listen 127.0.0.1:%(p_reply)d; proxy_pass %(reply)s; }
}
"""


@for_each_target
class SessionLogTest(StreamCase):
    """What the error log (at info) says of a session: its start, its upstream connection,
    its end, and a reset on either side."""
    CONF = SESSION_CONF
    PORTS = ("p_echo", "p_reset", "p_reply")
    BACKENDS = {"echo": lambda: Backend(echo), "reset": lambda: Backend(reset_after_a_line),
                "reply": lambda: Backend(reply_line)}

    def test_a_session_logs_its_client_its_upstream_connection_and_its_end(self):
        off = self.error_log_offset()
        s = connect(self.ports["p_echo"])
        with s:
            cport = s.getsockname()[1]
            self.assertEqual(pump(s, b"hello"), b"hello")
        self.assert_logged(off, r"client 127\.0\.0\.1:%d connected to 127\.0\.0\.1:%d"
                           % (cport, self.ports["p_echo"]), "info")
        self.assert_logged(off, r"proxy 127\.0\.0\.1:\d+ connected to %s"
                           % re.escape(self.backends["echo"].address), "info")
        self.assert_logged(off, r"client disconnected, bytes from/to client:5/5, bytes from/to "
                           r"upstream:5/5", "info")

    def test_an_upstream_that_closes_is_logged_as_upstream_disconnected(self):
        off = self.error_log_offset()
        self.assertEqual(exchange(self.ports["p_reply"], b"q\n", shut_write=False), b"reply:q\n")
        self.assert_logged(off, r"upstream disconnected, bytes from/to client:2/8, bytes from/to "
                           r"upstream:8/2", "info")

    def client_reset(self):
        s = connect(self.ports["p_echo"])
        self.assertEqual(pump(s, b"hello"), b"hello")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def test_a_client_reset_ends_the_session_with_status_200(self):
        self.assertEqual(self.next_line("echo", self.client_reset), "200|5|5|5|5")

    def test_a_client_reset_is_logged_at_info(self):
        off = self.error_log_offset()
        self.client_reset()
        self.assert_logged(off, r"recv\(\) failed \(104: Connection reset by peer\) while proxying "
                           r"and reading from client, client: 127\.0\.0\.1, server: "
                           r'127\.0\.0\.1:%d, upstream: "%s", bytes from/to client:5/5, bytes '
                           r"from/to upstream:5/5" % (self.ports["p_echo"],
                                                      re.escape(self.backends["echo"].address)),
                           "info")

    def upstream_reset(self):
        self.assertEqual(exchange(self.ports["p_reset"], b"hi\n", shut_write=False), b"")

    def test_an_upstream_reset_ends_the_session_with_status_200(self):
        self.assertEqual(self.next_line("reset", self.upstream_reset), "200|0|3|3|0")

    def test_an_upstream_reset_is_logged_as_an_error(self):
        off = self.error_log_offset()
        self.upstream_reset()
        self.assert_logged(off, r"recv\(\) failed \(104: Connection reset by peer\) while proxying "
                           r"and reading from upstream, client: 127\.0\.0\.1, server: "
                           r'127\.0\.0\.1:%d, upstream: "%s", bytes from/to client:3/0, bytes '
                           r"from/to upstream:0/3" % (self.ports["p_reset"],
                                                      re.escape(self.backends["reset"].address)),
                           "error")


# ---------------------------------------------------------------- PROXY protocol

PP_CONF = """
stream {
  log_format pp '$remote_addr|$proxy_protocol_addr|$proxy_protocol_port|'
                '$proxy_protocol_server_addr|$proxy_protocol_server_port|$bytes_received|'
                '$upstream_bytes_sent|$status';
  log_format realip '$remote_addr|$remote_port|$realip_remote_addr|$realip_remote_port';
  server {
    listen 127.0.0.1:%(p_recv)d proxy_protocol;
    proxy_pass %(rec)s;
    access_log TMP/recv.log pp;
  }
  server {
    listen 127.0.0.1:%(p_send)d;
    listen [::1]:%(p_send)d;
    proxy_pass %(rec)s;
    proxy_protocol on;
    access_log TMP/send.log pp;
  }
  server {
    listen 127.0.0.1:%(p_both)d proxy_protocol;
    proxy_pass %(rec)s;
    proxy_protocol on;
    access_log TMP/both.log pp;
  }
  server {
    listen 127.0.0.1:%(p_realip)d proxy_protocol;
    set_real_ip_from 127.0.0.1;
    proxy_pass %(rec)s;
    proxy_protocol on;
    access_log TMP/realip.log realip;
  }
  server {
    listen 127.0.0.1:%(p_hurry)d proxy_protocol;
    proxy_protocol_timeout 1s;
    proxy_pass %(rec)s;
    access_log TMP/hurry.log pp;
  }
  server {
    listen 127.0.0.1:%(p_untrusted)d proxy_protocol;
    set_real_ip_from 10.0.0.0/8;
    proxy_pass %(rec)s;
    proxy_protocol on;
    access_log TMP/untrusted.log realip;
  }
}
"""


@for_each_target
class ProxyProtocolTest(StreamCase):
    """The backend records every byte it receives (header included) until the client's EOF."""
    CONF = PP_CONF
    PORTS = ("p_recv", "p_send", "p_both", "p_realip", "p_untrusted", "p_hurry")
    BACKENDS = {"rec": lambda: Backend(record)}
    PROXYD_BUGS = {}

    def received(self):
        kind, data = self.backends["rec"].event()
        self.assertEqual(kind, "got", data)
        return data

    def test_a_received_v1_header_sets_the_variables_and_is_not_passed_on(self):
        line = self.next_line("recv", lambda: exchange(
            self.ports["p_recv"], b"PROXY TCP4 192.0.2.1 198.51.100.2 1000 2000\r\ndata"))
        self.assertEqual(self.received(), b"data")
        self.assertEqual(line,
                         "127.0.0.1|192.0.2.1|1000|198.51.100.2|2000|4|4|200")

    def test_a_received_v1_tcp6_header_sets_the_variables(self):
        line = self.next_line("recv", lambda: exchange(
            self.ports["p_recv"], b"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\nsix"))
        self.assertEqual(self.received(), b"six")
        self.assertEqual(line,
                         "127.0.0.1|2001:db8::1|1|2001:db8::2|65535|3|3|200")

    def test_a_received_v2_header_sets_the_variables(self):
        body = (socket.inet_aton("192.0.2.9") + socket.inet_aton("198.51.100.9")
                + struct.pack("!HH", 4242, 443))
        header = V2_SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body
        line = self.next_line("recv", lambda: exchange(self.ports["p_recv"], header + b"v2"))
        self.assertEqual(self.received(), b"v2")
        self.assertEqual(line,
                         "127.0.0.1|192.0.2.9|4242|198.51.100.9|443|2|2|200")

    def test_a_broken_header_closes_the_connection_before_any_upstream_with_status_400(self):
        accepted = self.backends["rec"].accepted
        line = self.next_line("recv", lambda: self.assertEqual(
            exchange(self.ports["p_recv"], b"GET / HTTP/1.0\r\n\r\n"), b""))
        fields = line.split("|")
        self.assertEqual(fields[:1] + fields[5:6] + fields[7:], ["127.0.0.1", "0", "400"])
        self.assertEqual(self.backends["rec"].accepted, accepted)

    def test_a_broken_header_session_has_no_upstream_values(self):
        line = self.next_line("recv", lambda: exchange(self.ports["p_recv"], b"junk\r\n"))
        self.assertEqual(line, "127.0.0.1|-|-|-|-|0|-|400")

    def test_a_broken_header_is_logged_with_the_bytes_that_came(self):
        for data in (b"GET / HTTP/1.0\r\n\r\n", b"PROXY TCP4 1.2.3.4 x\r\nrest"):
            with self.subTest(data=data):
                off = self.error_log_offset()
                self.assertEqual(exchange(self.ports["p_recv"], data), b"")
                # nginx quotes every byte of its first read, raw CR LF included; proxyd shows
                # the line up to its end and writes no raw control bytes into the log (README:
                # Differences from nginx)
                shown = data.decode() if self.KIND == "nginx" else data.decode().split("\r")[0]
                self.assert_logged(off, r'broken header: "%s" while reading PROXY protocol, '
                                   r'client: 127\.0\.0\.1, server: 127\.0\.0\.1:%d'
                                   % (re.escape(shown), self.ports["p_recv"]), "error")

    def silent_client(self):
        with connect(self.ports["p_hurry"]) as s:
            self.assert_closed(s)

    def test_proxy_protocol_timeout_closes_a_silent_client_with_status_200(self):
        self.assertEqual(self.next_line("hurry", self.silent_client),
                         "127.0.0.1|-|-|-|-|0|-|200")

    def test_proxy_protocol_timeout_is_logged_at_info(self):
        off = self.error_log_offset()
        self.silent_client()
        self.assert_logged(off, r"client timed out \(110: Connection timed out\) while reading "
                           r"PROXY protocol, client: 127\.0\.0\.1, server: 127\.0\.0\.1:%d"
                           % self.ports["p_hurry"], "info")

    def test_proxy_protocol_on_sends_a_v1_header_before_the_data(self):
        s = connect(self.ports["p_send"])
        before = len(self.log_lines("send"))
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"payload")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        header = b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n" % (cport, self.ports["p_send"])
        self.assertEqual(self.received(), header + b"payload")
        fields = self.wait_log("send", before + 1)[before].split("|")
        self.assertEqual(fields[:1] + fields[5:], ["127.0.0.1", "7", str(len(header) + 7), "200"])

    def test_proxy_protocol_on_from_ipv6_sends_tcp6(self):
        s = connect(self.ports["p_send"], host="::1")
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"six")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        self.assertEqual(self.received(), b"PROXY TCP6 ::1 ::1 %d %d\r\nsix"
                         % (cport, self.ports["p_send"]))

    def test_a_received_header_is_not_what_is_sent_on(self):
        # nginx 1.22 names the connection's own addresses, not the ones the header gave
        s = connect(self.ports["p_both"])
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"PROXY TCP4 192.0.2.1 198.51.100.2 1000 2000\r\ndata")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        self.assertEqual(self.received(), b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\ndata"
                         % (cport, self.ports["p_both"]))
        self.assertEqual(self.wait_log("both", 1)[0].split("|")[1:5],
                         ["192.0.2.1", "1000", "198.51.100.2", "2000"])


    def through_realip(self, name):
        """(client port, what the backend got, the access log line) for a session through
        listen p_<name> that starts with a v1 header."""
        s = connect(self.ports["p_" + name])
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"PROXY TCP4 192.0.2.1 198.51.100.2 1000 2000\r\ndata")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        return cport, self.received(), self.wait_log(name, 1)[0]

    def test_set_real_ip_from_makes_the_header_source_the_client(self):
        # the header sent on names the header's source and the address the client reached
        cport, got, line = self.through_realip("realip")
        self.assertEqual(got, b"PROXY TCP4 192.0.2.1 127.0.0.1 1000 %d\r\ndata"
                         % self.ports["p_realip"])
        self.assertEqual(line, "192.0.2.1|1000|127.0.0.1|%d" % cport)

    def test_set_real_ip_from_not_covering_the_sender_changes_nothing(self):
        cport, got, line = self.through_realip("untrusted")
        self.assertEqual(got, b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\ndata"
                         % (cport, self.ports["p_untrusted"]))
        self.assertEqual(line, "127.0.0.1|%d|127.0.0.1|%d" % (cport, cport))


PP2_CONF = """
stream {
  upstream send_v1 { server %(rec)s send-proxy; }
  upstream send_v2 { server %(rec)s send-proxy-v2; }
  server { listen 127.0.0.1:%(p_send_v1)d; proxy_pass send_v1; }
  server { listen 127.0.0.1:%(p_send_v2)d; proxy_pass send_v2; }
  server {
    listen 127.0.0.1:%(p_v2)d;
    listen [::1]:%(p_v2)d;
    proxy_pass %(rec)s;
    proxy_protocol on;
    proxy_protocol_version 2;
  }
  server {
    listen 127.0.0.1:%(p_v1)d;
    proxy_pass %(rec)s;
    proxy_protocol on;
    proxy_protocol_version 1;
  }
}
"""


@proxyd_only
class ProxyProtocolV2Test(StreamCase):
    """proxyd's proxy_protocol_version 2: the binary header (HAProxy's proxy-protocol.txt)."""
    CONF = PP2_CONF
    PORTS = ("p_v2", "p_v1", "p_send_v1", "p_send_v2")
    BACKENDS = {"rec": lambda: Backend(record)}

    def sent(self, port, host="127.0.0.1"):
        s = connect(port, host)
        with s:
            cport = s.getsockname()[1]
            s.sendall(b"data")
            s.shutdown(socket.SHUT_WR)
            read_to_eof(s)
        kind, data = self.backends["rec"].event()
        return cport, data

    def test_version_2_sends_a_binary_inet_header(self):
        cport, data = self.sent(self.ports["p_v2"])
        body = (socket.inet_aton("127.0.0.1") * 2 + struct.pack("!HH", cport, self.ports["p_v2"]))
        self.assertEqual(data, V2_SIG + b"\x21\x11" + struct.pack("!H", 12) + body + b"data")

    def test_version_2_from_ipv6_sends_an_inet6_header(self):
        cport, data = self.sent(self.ports["p_v2"], "::1")
        body = (socket.inet_pton(socket.AF_INET6, "::1") * 2
                + struct.pack("!HH", cport, self.ports["p_v2"]))
        self.assertEqual(data, V2_SIG + b"\x21\x21" + struct.pack("!H", 36) + body + b"data")

    def test_version_1_sends_text(self):
        cport, data = self.sent(self.ports["p_v1"])
        self.assertEqual(data, b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\ndata"
                         % (cport, self.ports["p_v1"]))

    def test_send_proxy_on_a_group_server_sends_text(self):
        cport, data = self.sent(self.ports["p_send_v1"])
        self.assertEqual(data, b"PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\ndata"
                         % (cport, self.ports["p_send_v1"]))

    def test_send_proxy_v2_on_a_group_server_sends_binary(self):
        cport, data = self.sent(self.ports["p_send_v2"])
        body = (socket.inet_aton("127.0.0.1") * 2
                + struct.pack("!HH", cport, self.ports["p_send_v2"]))
        self.assertEqual(data, V2_SIG + b"\x21\x11" + struct.pack("!H", 12) + body + b"data")


# ---------------------------------------------------------------- allow / deny

ACCESS_CONF = """
stream {
  log_format f '$remote_addr|$status';
  deny 127.0.0.4;
  allow all;
  server { listen 127.0.0.1:%(inherit)d; proxy_pass %(echo)s; access_log TMP/inherit.log f; }
  server {
    listen 127.0.0.1:%(own)d;
    proxy_pass %(echo)s;
    access_log TMP/own.log f;
    allow 127.0.0.2;
    deny 127.0.0.0/24;
    allow all;
  }
}
"""


@for_each_target
class AccessTest(StreamCase):
    """allow / deny: the first matching rule decides; a server with rules of its own does not
    inherit the stream{} level's; a denied client is closed, logged, and its status is 403."""
    CONF = ACCESS_CONF
    PORTS = ("inherit", "own")
    BACKENDS = {"echo": lambda: Backend(echo)}

    def from_(self, port, source):
        """What an echo through port gives a client at source: b"hi", or b"" when closed."""
        with connect(port, source=source) as s:
            try:
                s.sendall(b"hi")
                got = b""
                while len(got) < 2:
                    b = s.recv(2 - len(got))
                    if not b:
                        break
                    got += b
                return got
            except (ConnectionResetError, BrokenPipeError):
                return b""

    def test_the_first_matching_rule_decides(self):
        self.assertEqual(self.next_line("own", lambda: self.assertEqual(
            self.from_(self.ports["own"], "127.0.0.3"), b"")), "127.0.0.3|403")
        self.assertEqual(self.from_(self.ports["own"], "127.0.0.2"), b"hi")

    def test_a_server_without_rules_takes_the_stream_levels(self):
        self.assertEqual(self.next_line("inherit", lambda: self.assertEqual(
            self.from_(self.ports["inherit"], "127.0.0.4"), b"")), "127.0.0.4|403")
        self.assertEqual(self.from_(self.ports["inherit"], "127.0.0.3"), b"hi")

    def test_rules_of_its_own_replace_the_stream_levels(self):
        # 127.0.0.4 is denied at the stream{} level, but "own" has rules: deny 127.0.0.0/24
        self.assertEqual(self.from_(self.ports["own"], "127.0.0.4"), b"")

    def test_a_denied_client_is_logged(self):
        off = self.error_log_offset()
        self.from_(self.ports["own"], "127.0.0.5")
        self.assert_logged(off, r"access forbidden by rule while initializing session, client: 127\.0\.0\.5, server: "
                           r"127\.0\.0\.1:%d" % self.ports["own"], "error")


# ---------------------------------------------------------------- memcached behind the proxy

class Memcached:
    def __init__(self):
        self.port = proxyd_test.free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen([MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U",
                                      "0", "-u", "nobody", "-m", "16"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not proxyd_test.wait_port(self.port):
            self.close()
            raise RuntimeError("memcached did not listen on %d" % self.port)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


MEMCACHED_CONF = """
stream {
  upstream cache { server %(memcached)s; }
  server { listen 127.0.0.1:%(p_cache)d; proxy_pass cache; }
}
"""


@for_each_target
class MemcachedTest(StreamCase):
    CONF = MEMCACHED_CONF
    PORTS = ("p_cache",)
    BACKENDS = {"memcached": Memcached}

    @classmethod
    def setUpClass(cls):
        if not os.access(MEMCACHED, os.X_OK):
            raise unittest.SkipTest("memcached is not installed")
        super().setUpClass()

    def command(self, sock, line, value=None):
        sock.sendall(line + b"\r\n" + (value + b"\r\n" if value is not None else b""))

    def test_set_then_get_through_the_proxy(self):
        value = b"v" * 5000 + b"\x00\r\nend"
        key = b"k%d" % os.getpid()
        with connect(self.ports["p_cache"]) as s:
            self.command(s, b"set %s 7 0 %d" % (key, len(value)), value)
            self.assertEqual(read_exactly(s, 8), b"STORED\r\n")
        with connect(self.ports["p_cache"]) as s:
            self.command(s, b"get %s" % key)
            want = b"VALUE %s 7 %d\r\n%s\r\nEND\r\n" % (key, len(value), value)
            self.assertEqual(read_exactly(s, len(want)), want)
            self.command(s, b"get missing-key")
            self.assertEqual(read_exactly(s, 5), b"END\r\n")
            self.command(s, b"quit")
            self.assertEqual(read_to_eof(s), b"")


# ---------------------------------------------------------------- configuration errors

@for_each_target
class ConfigTest(unittest.TestCase):
    """`-t` on a file whose line 6 is the first of the text given (lines 1-5: main_conf)."""
    KIND = None

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="proxyd-e2e-stream-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, text):
        """(exit code, ["[level] message", ...]) with the directory shown as DIR."""
        path = os.path.join(self.dir, "x.conf")
        with open(path, "w") as f:
            f.write(main_conf(self.KIND, self.dir) + text.replace("PORT", str(
                proxyd_test.free_port())))
        cmd = [binary(self.KIND), "-t", "-p", self.dir + "/", "-c", path]
        if self.KIND == "nginx":
            cmd += ["-e", "stderr"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        lines = []
        for line in p.stderr.splitlines():
            m = re.search(r"\[(\w+)\] (?:\d+#\d+: )?(.*)$", line)
            if m:
                lines.append("[%s] %s" % (m.group(1), m.group(2).replace(self.dir, "DIR")))
        return p.returncode, lines

    def assert_emerg(self, text, message):
        self.assertEqual(self.check(text), (1, ["[emerg] " + message]))

    def test_every_directive_of_this_suite_passes(self):
        self.assertEqual(self.check(
            "stream {\n"
            "  log_format f '$remote_addr $status';\n"
            "  proxy_timeout 10m;\n  proxy_connect_timeout 5s;\n  proxy_next_upstream on;\n"
            "  proxy_next_upstream_tries 3;\n  proxy_next_upstream_timeout 10s;\n"
            "  proxy_buffer_size 16k;\n  proxy_protocol off;\n  access_log DIR/a.log f;\n"
            "  upstream u {\n    least_conn;\n"
            "    server 127.0.0.1:1 weight=3 max_fails=2 fail_timeout=5s;\n"
            "    server 127.0.0.1:2 backup;\n    server 127.0.0.1:3 down;\n  }\n"
            "  upstream h {\n    hash $remote_addr consistent;\n    server 127.0.0.1:1;\n  }\n"
            "  upstream r {\n    random;\n    server 127.0.0.1:1;\n  }\n"
            "  server {\n    listen 127.0.0.1:PORT proxy_protocol reuseport backlog=16;\n"
            "    proxy_pass u;\n    proxy_protocol on;\n    access_log off;\n  }\n"
            "  server {\n    listen [::1]:PORT;\n    proxy_pass unix:/tmp/x.sock;\n  }\n"
            "}\n".replace("DIR", self.dir)), (0, []))

    def test_two_access_logs_in_a_server_pass(self):
        self.assertEqual(self.check(
            "stream {\n  log_format f '$status';\n  server {\n    listen 127.0.0.1:PORT;\n"
            "    proxy_pass 127.0.0.1:1;\n    access_log DIR/a.log f;\n"
            "    access_log DIR/b.log f;\n  }\n}\n".replace("DIR", self.dir)), (0, []))

    def test_a_server_without_proxy_pass(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n  }\n}\n",
                          "no handler for server in DIR/x.conf:7")

    def test_a_server_without_listen(self):
        self.assert_emerg("stream {\n  server {\n    proxy_pass 127.0.0.1:1;\n  }\n}\n",
                          'no "listen" is defined for server in DIR/x.conf:7')

    def test_proxy_pass_to_an_unknown_group_name(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n    proxy_pass x;\n"
                          "  }\n}\n", 'no port in upstream "x" in DIR/x.conf:9')

    def test_proxy_pass_to_an_unresolvable_host(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n"
                          "    proxy_pass nosuchhost.invalid:80;\n  }\n}\n",
                          'host not found in upstream "nosuchhost.invalid" in DIR/x.conf:9')

    def test_proxy_pass_twice(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n"
                          "    proxy_pass 127.0.0.1:1;\n    proxy_pass 127.0.0.1:2;\n  }\n}\n",
                          '"proxy_pass" directive is duplicate in DIR/x.conf:10')

    def test_duplicate_listen(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:9;\n"
                          "    proxy_pass 127.0.0.1:1;\n  }\n  server {\n"
                          "    listen 127.0.0.1:9;\n    proxy_pass 127.0.0.1:1;\n  }\n}\n",
                          'duplicate "127.0.0.1:9" address and port pair in DIR/x.conf:12')

    def test_listen_without_an_argument(self):
        self.assert_emerg("stream {\n  server {\n    listen;\n    proxy_pass 127.0.0.1:1;\n"
                          "  }\n}\n", 'invalid number of arguments in "listen" directive in '
                          "DIR/x.conf:8")

    def test_listen_with_a_port_out_of_range(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:99999;\n"
                          "    proxy_pass 127.0.0.1:1;\n  }\n}\n",
                          'invalid port in "127.0.0.1:99999" of the "listen" directive in '
                          "DIR/x.conf:8")

    def test_listen_without_a_port_passes(self):
        # nginx 1.22's stream listen takes an address alone (it binds a port the kernel picks)
        self.assertEqual(self.check("stream {\n  server {\n    listen 127.0.0.1;\n"
                                    "    proxy_pass 127.0.0.1:1;\n  }\n}\n"), (0, []))

    def test_listen_with_an_unknown_parameter(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT bogus;\n"
                          "    proxy_pass 127.0.0.1:1;\n  }\n}\n",
                          'the invalid "bogus" parameter in DIR/x.conf:8')

    def test_listen_with_a_bad_backlog(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT backlog=abc;\n"
                          "    proxy_pass 127.0.0.1:1;\n  }\n}\n",
                          'invalid backlog "backlog=abc" in DIR/x.conf:8')

    def test_proxy_timeout_that_is_not_a_time(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n"
                          "    proxy_pass 127.0.0.1:1;\n    proxy_timeout abc;\n  }\n}\n",
                          '"proxy_timeout" directive invalid value in DIR/x.conf:10')

    def test_proxy_buffer_size_that_is_not_a_size(self):
        self.assert_emerg("stream {\n  proxy_buffer_size abc;\n}\n",
                          '"proxy_buffer_size" directive invalid value in DIR/x.conf:7')

    def test_proxy_next_upstream_that_is_not_on_or_off(self):
        self.assert_emerg("stream {\n  proxy_next_upstream maybe;\n}\n",
                          'invalid value "maybe" in "proxy_next_upstream" directive, it must be '
                          '"on" or "off" in DIR/x.conf:7')

    def test_proxy_next_upstream_tries_that_is_not_a_number(self):
        self.assert_emerg("stream {\n  proxy_next_upstream_tries abc;\n}\n",
                          '"proxy_next_upstream_tries" directive invalid number in DIR/x.conf:7')

    def test_stream_only_directives_in_http(self):
        for directive in ("proxy_timeout 1s", "proxy_protocol on"):
            with self.subTest(directive=directive):
                self.assert_emerg("http {\n  server {\n    %s;\n  }\n}\n" % directive,
                                  '"%s" directive is not allowed here in DIR/x.conf:8'
                                  % directive.split()[0])

    def test_a_stream_server_with_a_location(self):
        self.assert_emerg("stream {\n  server {\n    listen 127.0.0.1:PORT;\n"
                          "    proxy_pass 127.0.0.1:1;\n    location / {\n    }\n  }\n}\n",
                          '"location" directive is not allowed here in DIR/x.conf:10')

    def test_two_stream_blocks(self):
        self.assert_emerg("stream {\n}\nstream {\n}\n",
                          '"stream" directive is duplicate in DIR/x.conf:8')

    def test_an_empty_upstream(self):
        self.assert_emerg("stream {\n  upstream u {\n  }\n  server {\n"
                          "    listen 127.0.0.1:PORT;\n    proxy_pass u;\n  }\n}\n",
                          "no servers are inside upstream in DIR/x.conf:8")

    def test_a_duplicate_upstream(self):
        self.assert_emerg("stream {\n  upstream u {\n    server 127.0.0.1:1;\n  }\n"
                          "  upstream u {\n    server 127.0.0.1:1;\n  }\n}\n",
                          'duplicate upstream "u" in DIR/x.conf:10')

    def test_an_upstream_server_without_a_port(self):
        self.assert_emerg("stream {\n  upstream u {\n    server 127.0.0.1;\n  }\n}\n",
                          'no port in upstream "127.0.0.1" in DIR/x.conf:8')

    def test_an_upstream_server_with_weight_0(self):
        self.assert_emerg("stream {\n  upstream u {\n    server 127.0.0.1:1 weight=0;\n  }\n}\n",
                          'invalid parameter "weight=0" in DIR/x.conf:8')

    def test_an_upstream_server_with_an_unknown_parameter(self):
        self.assert_emerg("stream {\n  upstream u {\n    server 127.0.0.1:1 bogus=1;\n  }\n}\n",
                          'invalid parameter "bogus=1" in DIR/x.conf:8')

    def test_hash_without_a_key(self):
        self.assert_emerg("stream {\n  upstream u {\n    hash;\n    server 127.0.0.1:1;\n  }\n}\n",
                          'invalid number of arguments in "hash" directive in DIR/x.conf:8')

    def test_random_with_an_unknown_parameter(self):
        self.assert_emerg("stream {\n  upstream u {\n    random bogus;\n"
                          "    server 127.0.0.1:1;\n  }\n}\n",
                          'invalid parameter "bogus" in DIR/x.conf:8')

    def test_a_second_balancing_method_is_a_warning(self):
        rc, lines = self.check("stream {\n  upstream u {\n    server 127.0.0.1:1;\n"
                               "    least_conn;\n    hash $remote_addr;\n  }\n}\n")
        self.assertEqual((rc, lines), (0, ["[warn] load balancing method redefined in "
                                           "DIR/x.conf:10"]))

    def test_access_log_without_a_format(self):
        self.assert_emerg("stream {\n  access_log DIR/a.log;\n}\n".replace("DIR", self.dir),
                          "log format is not specified in DIR/x.conf:7")

    def test_access_log_with_an_unknown_format(self):
        self.assert_emerg("stream {\n  access_log DIR/a.log combined;\n}\n".replace(
            "DIR", self.dir), 'unknown log format "combined" in DIR/x.conf:7')

    def test_log_format_with_an_unknown_variable(self):
        self.assert_emerg("stream {\n  log_format f '$bogus';\n}\n", 'unknown "bogus" variable')

    def test_proxy_protocol_version_is_proxyds_own(self):
        rc, lines = self.check("stream {\n  proxy_protocol_version 2;\n}\n")
        if self.KIND == "nginx":
            self.assertEqual((rc, lines), (1, ['[emerg] unknown directive "proxy_protocol_version" '
                                               "in DIR/x.conf:7"]))
        else:
            self.assertEqual((rc, lines), (0, []))

    def test_proxy_protocol_version_3(self):
        if self.KIND == "nginx":
            self.skipTest("nginx has no proxy_protocol_version")
        self.assert_emerg("stream {\n  proxy_protocol_version 3;\n}\n",
                          'invalid value "3" in "proxy_protocol_version" directive, it must be '
                          '"1" or "2" in DIR/x.conf:7')


if __name__ == "__main__":
    proxyd_test.main()
