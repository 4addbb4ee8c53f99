"""HTTP/2 (ngx_http_v2_module): h2 over TLS by ALPN, h2c with prior knowledge, proxying to an
HTTP/1.1 backend, many streams, request and response bodies under flow control, the phases and
variables, settings and limits, protocol errors (RFC 9113), graceful stop and reload.

Every class runs once per binary (FooTest_proxyd, FooTest_nginx; H2_E2E_TARGETS="proxyd" or
"nginx", default both) with the same expectation, so the expected answers are Debian's nginx
1.22. The configuration differs in one spelling only: nginx 1.22 enables HTTP/2 with
`listen ... http2`, proxyd follows current nginx (1.25.1+) with the `http2 on;` directive. The
few behaviours of current nginx that 1.22 lacks (HTTP/1.1 and h2c on one plain port, the
`http2` directive itself) are tested on proxyd only and say so. Where RFC 9113 lets a server
answer a malformed request either way and nginx answers 400 (or ignores the fault), proxyd's
RST_STREAM PROTOCOL_ERROR (libnghttp2) is accepted too, and the test says so. A class's
PROXYD_BUGS names its tests that fail on proxyd for a known bug: expected failures there.

Clients: python3-h2 over a plain or TLS socket (ALPN), raw frames built with struct and hpack
where h2 refuses to send something invalid, curl --http2 / --http2-prior-knowledge and h2load.
The backend is proxyd_test.RecordingBackend, which records what the proxy sent."""
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

TARGETS = [t for t in os.environ.get("H2_E2E_TARGETS", "proxyd,nginx").split(",") if t]
TIMEOUT = 10  # bound of every client exchange, in seconds
CERTS = None  # the module's certificate directory (setUpModule)
WWW = None  # the document root shared by the servers (setUpModule)
BIG = random.Random(2).randbytes(1 << 20)  # a 1 MiB body, served and posted

# RFC 9113 frame types and error codes
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3
FRAME_SIZE_ERROR, REFUSED_STREAM, ENHANCE_YOUR_CALM = 6, 7, 11
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def setUpModule():
    global CERTS, WWW
    CERTS = tempfile.mkdtemp(prefix="proxyd-e2e-h2-certs-")
    WWW = tempfile.mkdtemp(prefix="proxyd-e2e-h2-www-")
    os.chmod(WWW, 0o755)
    p = subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "a.key", "-out", "a.pem",
                        "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test"],
                       cwd=CERTS, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl failed: %s" % p.stderr.decode())
    files = {"index.html": b"hello index\n", "big.bin": BIG, "404.html": b"custom 404\n",
             "oops.html": b"oops page\n"}
    for name, data in files.items():
        with open(os.path.join(WWW, name), "wb") as f:
            f.write(data)
        os.chmod(os.path.join(WWW, name), 0o644)


def tearDownModule():
    for d in (CERTS, WWW):
        if d:
            shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- servers

def expand(kind, conf, **ports):
    """A configuration for kind: CERTS/ and WWW become absolute paths, %(name)d the ports,
    H2LISTEN the listen parameter nginx 1.22 needs ("http2") and H2ON the directive proxyd
    follows current nginx with ("http2 on;")."""
    conf = conf.replace("CERTS/", CERTS + "/").replace("WWW", WWW)
    conf = conf.replace("H2LISTEN", "http2" if kind == "nginx" else "")
    conf = conf.replace("H2ON", "" if kind == "nginx" else "http2 on;")
    return conf % ports


def make_server(kind, conf):
    return proxyd_test.Proxyd(conf) if kind == "proxyd" else proxyd_test.NginxRef(conf)


def wait_listening(kind, srv, ports, error):
    deadline = time.time() + 5
    for p in ports:
        while not proxyd_test.wait_port(p, timeout=0.2):
            if srv.proc.poll() is not None or time.time() > deadline:
                said = srv.proc.stderr.read().decode() if srv.proc.poll() is not None else ""
                raise error("%s did not listen on %d:\n%s%s" % (
                    kind, p, said, srv.read_error_log()))


def for_each_target(cls):
    """Class decorator: cls_proxyd and cls_nginx (as H2_E2E_TARGETS says)."""
    return proxyd_test.per_target(cls, TARGETS, globals())


def proxyd_only(cls):
    """Class decorator for current-nginx behaviours nginx 1.22 lacks: a proxyd class only."""
    return proxyd_test.per_target(cls, [t for t in TARGETS if t == "proxyd"], globals())


class TargetCase(unittest.TestCase):
    KIND = None
    PROXYD_BUGS = {}

    def assert_info_logged(self, srv, message):
        """srv's error log gets message at info for a connection (*N), as nginx logs it."""
        text = proxyd_test.wait_for_text(srv.error_log, message, timeout=1)
        self.assertRegex(text, r"\[info\] .*\*\d+ " + re.escape(message) + r"[ ,]")

    def start_server(self, conf, ports):
        srv = make_server(self.KIND, expand(self.KIND, conf, **ports))
        self.addCleanup(srv.cleanup)
        srv.start()
        wait_listening(self.KIND, srv, ports.values(), AssertionError)
        return srv


class ClassServer(TargetCase):
    """One server (and, when BACKEND appears in CONF, one RecordingBackend answering with
    backend_answer) for the whole class."""
    CONF = None
    PORTS = ()

    @classmethod
    def setUpClass(cls):
        cls.backend = None
        conf = cls.CONF
        if "BACKEND" in conf:
            cls.backend = proxyd_test.RecordingBackend(response=cls.backend_answer, keepalive=True)
            conf = conf.replace("BACKEND", cls.backend.address)
        cls.ports = {name: proxyd_test.free_port() for name in cls.PORTS}
        cls.srv = make_server(cls.KIND, expand(cls.KIND, conf, **cls.ports))
        try:
            cls.srv.start()
            wait_listening(cls.KIND, cls.srv, cls.ports.values(), RuntimeError)
        except BaseException:
            cls.srv.cleanup()
            if cls.backend:
                cls.backend.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        if cls.backend:
            cls.backend.close()

    @staticmethod
    def backend_answer(req):
        return backend_answer(req)

    def backend_request(self, target, timeout=5.0):
        """The request the backend got for target (bytes), waiting for it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in list(self.backend.requests):
                if r.target == target:
                    return r
            time.sleep(0.01)
        raise AssertionError("the backend got no request for %r; it got %r" % (
            target, [r.target for r in self.backend.requests][-10:]))

    def backend_requests_for(self, target):
        return [r for r in self.backend.requests if r.target == target]

    def assert_alive(self, port, tls=True):
        """The server still answers a new connection after an error on another one."""
        c = H2Client(port, tls=tls)
        try:
            st = c.get("/alive")
            self.assertEqual(st.status, 200)
        finally:
            c.close()


def backend_answer(req):
    """The backend's answers: /up/big is BIG, /up/chunked is chunked; anything else says
    what it got, with the connection headers a proxy must not forward."""
    if req.target.endswith(b"/big"):
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG
    if req.target.endswith(b"/chunked"):
        return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Backend: yes\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    body = b"uri=%s method=%s len=%d" % (req.target, req.method, len(req.data))
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/x-test\r\nContent-Length: %d\r\n"
            b"Connection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Backend: yes\r\n\r\n"
            % len(body) + body)


# ---------------------------------------------------------------- clients

def tls_context(alpn=("h2", "http/1.1")):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(list(alpn))
    return ctx


def connect(port, tls, alpn=("h2", "http/1.1")):
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    if not tls:
        return raw
    try:
        return tls_context(alpn).wrap_socket(raw, server_hostname="a.test")
    except BaseException:
        raw.close()
        raise


class Stream:
    """What one stream received: status, headers [(name, value)] (bytes), body, the length of
    each DATA frame, trailers, ended (END_STREAM seen), reset (the RST_STREAM error code)."""

    def __init__(self, sid):
        self.sid = sid
        self.headers = None
        self.body = b""
        self.frames = []
        self.trailers = None
        self.ended = False
        self.reset = None

    @property
    def status(self):
        return int(self.header(":status")) if self.headers else None

    def header(self, name):
        vals = self.header_all(name)
        return vals[0] if vals else None

    def header_all(self, name):
        name = name.encode() if isinstance(name, str) else name
        return [v.decode() for k, v in self.headers or () if k == name]

    def names(self):
        return [k.decode() for k, _ in self.headers or ()]

    def __repr__(self):
        return "Stream(%d, headers=%r, body=%r, reset=%r)" % (
            self.sid, self.headers, self.body[:200], self.reset)


class H2Client:
    """A python3-h2 client connection: over TLS (ALPN h2) or cleartext (prior knowledge).
    settings: our initial SETTINGS (e.g. a small INITIAL_WINDOW_SIZE). Received DATA is
    acknowledged as it arrives (so the windows open gradually), unless auto_ack is False."""

    def __init__(self, port, tls=True, settings=None, config=None, auto_ack=True):
        self.tls = tls
        self.sock = connect(port, tls)
        if tls and self.sock.selected_alpn_protocol() != "h2":
            alpn = self.sock.selected_alpn_protocol()
            self.sock.close()
            raise AssertionError("ALPN selected %r, not h2" % alpn)
        self.conn = h2.connection.H2Connection(
            config or h2.config.H2Configuration(client_side=True, header_encoding=None))
        if settings:
            self.conn.local_settings = h2.settings.Settings(client=True, initial_values=settings)
        self.auto_ack = auto_ack
        self.streams = {}
        self.goaway = None  # (error code, last stream id, debug data)
        self.goaway_before = None  # which streams had ended when GOAWAY came
        self.eof = False
        self.settings_seen = False
        self.conn.initiate_connection()
        self.flush()

    def close(self):
        self.sock.close()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def send_request(self, path, method="GET", headers=(), body=None, end_stream=True,
                     authority="a.test", one_write=False):
        """Opens a stream; body (when given) follows as the windows allow, or, one_write, in
        the same write as HEADERS (body within the initial windows and one frame)."""
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(b":method", method.encode()), (b":path", path.encode()),
                (b":scheme", b"https" if self.tls else b"http"),
                (b":authority", authority.encode())]
        hdrs += [(k.encode() if isinstance(k, str) else k, v.encode() if isinstance(v, str) else v)
                 for k, v in headers]
        self.streams[sid] = Stream(sid)
        self.conn.send_headers(sid, hdrs, end_stream=end_stream and body is None)
        if one_write:
            self.conn.send_data(sid, body, end_stream=end_stream)
            self.flush()
            return sid
        self.flush()
        if body is not None:
            self.send_body(sid, body, end_stream)
        return sid

    def send_body(self, sid, body, end_stream=True):
        """Sends body as DATA frames as the peer's windows allow, waiting for WINDOW_UPDATE."""
        pos = 0
        st = self.streams[sid]
        while pos < len(body):
            n = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size,
                    len(body) - pos)
            if n <= 0:
                self.pump(lambda: st.reset is not None or st.ended or
                          self.conn.local_flow_control_window(sid) > 0)
                if st.reset is not None or st.ended:
                    return
                continue
            self.conn.send_data(sid, body[pos:pos + n])
            self.flush()
            pos += n
        if end_stream:
            self.conn.end_stream(sid)
            self.flush()

    def read_once(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("the server sent nothing for %ss" % TIMEOUT)
        except (ConnectionResetError, ssl.SSLEOFError):
            data = b""
        if not data:
            self.eof = True
            return
        for ev in self.conn.receive_data(data):
            self.handle(ev)
        try:
            self.flush()
        except OSError:
            self.eof = True

    def handle(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = ev.headers
        elif isinstance(ev, h2.events.TrailersReceived):
            st.trailers = ev.headers
        elif isinstance(ev, h2.events.DataReceived):
            st.body += ev.data
            st.frames.append(len(ev.data))
            if self.auto_ack and ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = (ev.error_code, ev.last_stream_id, ev.additional_data)
            self.goaway_before = {s.sid for s in self.streams.values() if s.ended}
        elif isinstance(ev, h2.events.RemoteSettingsChanged):
            self.settings_seen = True

    def pump(self, done, timeout=TIMEOUT):
        """Reads until done() or the server closed; AssertionError after timeout seconds."""
        deadline = time.time() + timeout
        while not done() and not self.eof:
            if time.time() > deadline:
                raise AssertionError("no answer within %ss: %r" % (timeout, self.streams))
            self.read_once()

    def response(self, sid, timeout=TIMEOUT):
        st = self.streams[sid]
        self.pump(lambda: st.ended or st.reset is not None, timeout)
        return st

    def get(self, path, **kw):
        return self.response(self.send_request(path, **kw))


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def headers_frame(sid, headers, flags=END_HEADERS | END_STREAM, encoder=None):
    """A HEADERS frame; headers as (name, value) str pairs sent as they are (no checks).
    Without the connection's encoder, the block uses no dynamic table entry already made."""
    block = (encoder or hpack.Encoder()).encode([(k.encode(), v.encode()) for k, v in headers])
    return frame(HEADERS, flags, sid, block)


class RawH2:
    """An HTTP/2 connection spoken with raw frames (for what python3-h2 refuses to send): TLS
    with ALPN h2, or cleartext. The preface and an empty SETTINGS are sent first unless
    preface=False; the server's SETTINGS are acknowledged as they come."""

    def __init__(self, port, tls=True, preface=True):
        self.sock = connect(port, tls, alpn=("h2",))
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoded = {}  # stream id -> the server's last header list on it
        self.frames = []
        self.eof = False
        self.buf = b""
        if preface:
            self.send(PREFACE + frame(SETTINGS, 0, 0))

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def headers(self, sid, headers, flags=END_HEADERS | END_STREAM):
        return headers_frame(sid, headers, flags, self.encoder)

    def read_until(self, done, timeout=TIMEOUT):
        """Reads frames into self.frames [(type, flags, stream, payload)] until done(frame)
        is true for one (returned) or the server closed (None)."""
        deadline = time.time() + timeout
        while True:
            while len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) < 9 + n:
                    break
                ftype, flags, sid = struct.unpack(">BBI", self.buf[3:9])
                f = (ftype, flags, sid & 0x7fffffff, self.buf[9:9 + n])
                self.buf = self.buf[9 + n:]
                self.frames.append(f)
                if ftype == HEADERS:
                    self.decoded[f[2]] = dict(self.decoder.decode(f[3]))
                if ftype == SETTINGS and not flags & ACK:
                    try:
                        self.send(frame(SETTINGS, ACK, 0))
                    except OSError:
                        pass
                if done(f):
                    return f
            if self.eof:
                return None
            if time.time() > deadline:
                raise AssertionError("no such frame within %ss; got %r" % (timeout, self.frames))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError("no such frame within %ss; got %r" % (timeout, self.frames))
            except (ConnectionResetError, ssl.SSLEOFError):
                data = b""
            if not data:
                self.eof = True
            self.buf += data

    def goaway(self):
        """(error code, last stream id) of the GOAWAY the server sends, or None when it closes
        without one; AssertionError when it keeps the connection open."""
        f = self.read_until(lambda f: f[0] == GOAWAY)
        if f is None:
            return None
        last, code = struct.unpack(">II", f[3][:8])
        return code, last & 0x7fffffff

    def closed_after(self):
        """True when the server closes the connection (after whatever it sends)."""
        self.read_until(lambda f: False)
        return self.eof

    def stream_answer(self, sid):
        """("reset", error code) or ("status", int) for what the server answered on sid
        (or ("goaway", code) when it ended the connection instead)."""
        f = self.read_until(lambda f: f[2] == sid and f[0] in (RST_STREAM, HEADERS) or
                            f[0] == GOAWAY)
        if f is None:
            return ("closed", None)
        if f[0] == GOAWAY:
            return ("goaway", struct.unpack(">I", f[3][4:8])[0])
        if f[0] == RST_STREAM:
            return ("reset", struct.unpack(">I", f[3])[0])
        return ("status", int(self.decoded[sid][":status"]))


def curl(*args):
    """Runs curl (bounded); returns (exit code, stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-sS", "-k", "--max-time", str(TIMEOUT)] + list(args),
                       capture_output=True, timeout=TIMEOUT + 5)
    return p.returncode, p.stdout, p.stderr.decode("latin-1")


def http11(port, path, tls, alpn=("http/1.1",)):
    """One HTTP/1.1 GET on a fresh connection: (status, headers, body, negotiated ALPN)."""
    s = connect(port, tls, alpn)
    try:
        proto = s.selected_alpn_protocol() if tls else None
        s.sendall(b"GET %s HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n" % path.encode())
        data, _ = proxyd_test.recv_response(s)
    finally:
        s.close()
    (status, headers, body), = proxyd_test.parse_responses(data)
    return status, headers, body, proto


# ================================================================ one server for most cases

MAIN_CONF = r"""
http {
    log_format h2 '"$request" $status $server_protocol "$http2"';
    access_log access.log h2;
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    client_max_body_size 2m;
    server {
        listen 127.0.0.1:%(tls)d ssl H2LISTEN;
        listen 127.0.0.1:%(h1)d;
        H2ON
        server_name a.test;
        root WWW;
        error_page 404 /404.html;
        error_page 502 /oops.html;
        location = /vars { return 200 "$http2 $server_protocol $scheme"; }
        location = /alive { return 200 "alive"; }
        location = /old { return 301 /new; }
        location /rw/ { rewrite ^/rw/(.*)$ /echo/$1 last; }
        location /echo/ { return 200 "echo $uri"; }
        location = /bad { return 502; }
        location /proxy/ {
            proxy_pass http://BACKEND/up/;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Real-IP $remote_addr;
            add_header X-Added yes;
        }
        location /raw/ { proxy_pass http://BACKEND; }
        location = /limited { client_max_body_size 10; proxy_pass http://BACKEND; }
    }
    server {
        listen 127.0.0.1:%(h2c)d H2LISTEN;
        H2ON
        location = /vars { return 200 "$http2 $server_protocol $scheme"; }
        location / { return 200 "h2c $uri"; }
    }
    server {
        listen 127.0.0.1:%(pre0)d ssl H2LISTEN;
        H2ON
        http2_body_preread_size 0;
        location /proxy/ { proxy_pass http://BACKEND/up/; }
    }
}
"""


@for_each_target
class TlsTest(ClassServer):
    """h2 over TLS (ALPN), h2c by prior knowledge, proxying, bodies, phases and variables."""
    CONF = MAIN_CONF
    PORTS = ("tls", "h1", "h2c", "pre0")
    PROXYD_BUGS = {}

    def setUp(self):
        self.c = H2Client(self.ports["tls"])
        self.addCleanup(self.c.close)

    # -------------------------------------------------------- negotiation

    def test_curl_http2_over_tls_gets_h2(self):
        rc, out, err = curl("--http2", "-w", "\n%{http_version} %{response_code}",
                            "https://127.0.0.1:%d/index.html" % self.ports["tls"])
        self.assertEqual((rc, out), (0, b"hello index\n\n2 200"), err)

    def test_http11_on_the_tls_port_when_alpn_offers_only_http11(self):
        status, headers, body, proto = http11(self.ports["tls"], "/vars", True)
        self.assertEqual((status, body, proto), (200, b" HTTP/1.1 https", "http/1.1"))
        rc, out, err = curl("--http1.1", "-w", " %{http_version}",
                            "https://127.0.0.1:%d/vars" % self.ports["tls"])
        self.assertEqual((rc, out), (0, b" HTTP/1.1 https 1.1"), err)

    def test_alpn_selects_h2_when_offered_first(self):
        s = connect(self.ports["tls"], True, ("h2", "http/1.1"))
        try:
            self.assertEqual(s.selected_alpn_protocol(), "h2")
        finally:
            s.close()

    def test_h2c_prior_knowledge_with_curl(self):
        rc, out, err = curl("--http2-prior-knowledge", "-w", " %{http_version}",
                            "http://127.0.0.1:%d/vars" % self.ports["h2c"])
        self.assertEqual((rc, out), (0, b"h2c HTTP/2.0 http 2"), err)

    def test_h2c_with_python_h2(self):
        c = H2Client(self.ports["h2c"], tls=False)
        try:
            st = c.get("/x/y")
        finally:
            c.close()
        self.assertEqual((st.status, st.body), (200, b"h2c /x/y"))

    # -------------------------------------------------------- variables, phases, logging

    def test_http2_variable_is_h2_over_tls(self):
        st = self.c.get("/vars")
        self.assertEqual((st.status, st.body), (200, b"h2 HTTP/2.0 https"))

    def test_http2_variable_is_empty_for_http11(self):
        status, _, body, _ = http11(self.ports["h1"], "/vars", False)
        self.assertEqual((status, body), (200, b" HTTP/1.1 http"))

    def test_return_301_sets_absolute_location(self):
        st = self.c.get("/old")
        self.assertEqual(st.status, 301)
        self.assertEqual(st.header("location"), "https://a.test:%d/new" % self.ports["tls"])
        self.assertIn(b"<title>301 Moved Permanently</title>", st.body)

    def test_rewrite_last_runs_the_new_location(self):
        st = self.c.get("/rw/abc")
        self.assertEqual((st.status, st.body), (200, b"echo /echo/abc"))

    def test_error_page_for_a_returned_status(self):
        st = self.c.get("/bad")
        self.assertEqual((st.status, st.body), (502, b"oops page\n"))

    def test_missing_file_gets_the_404_error_page(self):
        st = self.c.get("/missing")
        self.assertEqual((st.status, st.body), (404, b"custom 404\n"))

    def test_static_file_with_root(self):
        st = self.c.get("/index.html")
        self.assertEqual((st.status, st.body), (200, b"hello index\n"))
        self.assertEqual(st.header("content-length"), "12")
        self.assertEqual(st.header("content-type"), "text/html")
        self.assertIsNotNone(st.header("last-modified"))
        self.assertIsNotNone(st.header("etag"))

    def test_head_of_a_static_file_has_length_and_no_body(self):
        st = self.c.get("/index.html", method="HEAD")
        self.assertEqual((st.status, st.body, st.header("content-length")), (200, b"", "12"))

    def test_access_log_line_says_http2(self):
        self.c.get("/index.html?log=1")
        line = '"GET /index.html?log=1 HTTP/2.0" 200 HTTP/2.0 "h2"'
        text = proxyd_test.wait_for_text(self.srv.path("access.log"), line)
        self.assertIn(line, text)

    def test_pseudo_headers_are_first_and_connection_headers_absent(self):
        st = self.c.get("/index.html")
        self.assertEqual(st.names()[0], ":status")
        for name in ("connection", "keep-alive", "transfer-encoding"):
            self.assertNotIn(name, st.names())

    # -------------------------------------------------------- proxying to HTTP/1.1

    def test_backend_sees_an_http11_request_with_host_from_authority(self):
        st = self.c.get("/proxy/a/b?x=1", headers=[("x-custom", "v1"), ("user-agent", "h2test")])
        self.assertEqual(st.status, 200)
        req = self.backend_request(b"/up/a/b?x=1")
        self.assertEqual(req.request_line, b"GET /up/a/b?x=1 HTTP/1.1")
        self.assertEqual(req.header("host"), b"a.test")
        self.assertEqual(req.header("x-custom"), b"v1")
        self.assertEqual(req.header("user-agent"), b"h2test")
        self.assertEqual(req.header("x-forwarded-for"), b"127.0.0.1")
        self.assertEqual(req.header("x-real-ip"), b"127.0.0.1")
        self.assertIsNone(req.header("connection"))
        for name in req.header_names():
            self.assertFalse(name.startswith(b":"), req)

    def test_x_forwarded_for_appends_the_client(self):
        self.c.get("/proxy/xff", headers=[("x-forwarded-for", "10.0.0.1")])
        req = self.backend_request(b"/up/xff")
        self.assertEqual(req.header("x-forwarded-for"), b"10.0.0.1, 127.0.0.1")

    def test_proxy_pass_without_uri_passes_the_request_uri(self):
        st = self.c.get("/raw/a%20b?q=%41")
        self.assertEqual(st.status, 200)
        req = self.backend_request(b"/raw/a%20b?q=%41")
        self.assertEqual(req.header("host"), self.backend.address.encode())
        # nginx 1.22 proxies with HTTP/1.0 by default; proxyd follows nginx 1.29.7+ (HTTP/1.1
        # without Connection: close), whatever the client's protocol
        if self.KIND == "nginx":
            self.assertEqual(req.request_line, b"GET /raw/a%20b?q=%41 HTTP/1.0")
            self.assertEqual(req.header("connection"), b"close")
        else:
            self.assertEqual(req.request_line, b"GET /raw/a%20b?q=%41 HTTP/1.1")
            self.assertIsNone(req.header("connection"))

    def test_client_gets_backend_headers_without_connection_headers(self):
        st = self.c.get("/proxy/hdrs")
        body = b"uri=/up/hdrs method=GET len=0"
        self.assertEqual((st.status, st.body), (200, body))
        self.assertEqual(st.header("content-type"), "text/x-test")
        self.assertEqual(st.header("content-length"), str(len(body)))
        self.assertEqual(st.header("x-backend"), "yes")
        self.assertEqual(st.header("x-added"), "yes")
        self.assertTrue(st.header("server").startswith(self.KIND), st.headers)
        self.assertRegex(st.header("date"), r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$")
        for name in ("connection", "keep-alive", "transfer-encoding"):
            self.assertNotIn(name, st.names())

    def test_chunked_backend_response_reaches_the_client_unframed(self):
        st = self.c.get("/proxy/chunked")
        self.assertEqual((st.status, st.body), (200, b"hello world"))
        for name in ("connection", "keep-alive", "transfer-encoding", "content-length"):
            self.assertNotIn(name, st.names())
        self.assertEqual(st.header("x-backend"), "yes")

    def test_cookie_fields_are_joined_for_the_backend(self):
        self.c.get("/proxy/cookies", headers=[("cookie", "a=1"), ("cookie", "b=2"),
                                              ("cookie", "c=3")])
        req = self.backend_request(b"/up/cookies")
        self.assertEqual(req.header_all("cookie"), [b"a=1; b=2; c=3"])

    # -------------------------------------------------------- request bodies

    def test_post_with_content_length_reaches_the_backend(self):
        sid = self.c.send_request("/proxy/post-small", method="POST", body=b"hello body",
                                  headers=[("content-length", "10")])
        st = self.c.response(sid)
        self.assertEqual((st.status, st.body), (200, b"uri=/up/post-small method=POST len=10"))
        req = self.backend_request(b"/up/post-small")
        self.assertEqual((req.data, req.header("content-length")), (b"hello body", b"10"))

    def test_post_of_1mib_opens_the_flow_control_window(self):
        sid = self.c.send_request("/proxy/post-big", method="POST", body=BIG,
                                  headers=[("content-length", str(len(BIG)))])
        st = self.c.response(sid)
        self.assertEqual(st.status, 200, st)
        req = self.backend_request(b"/up/post-big")
        self.assertEqual(len(req.data), len(BIG))
        self.assertTrue(req.data == BIG, "the backend got other bytes")

    def test_post_with_a_zero_preread_window_is_read_once_the_request_wants_it(self):
        # SETTINGS_INITIAL_WINDOW_SIZE 0: the client may send no DATA until the server
        # opens the stream's window, which it must do when the body is read
        c = H2Client(self.ports["pre0"])
        self.addCleanup(c.close)
        # nginx refuses a stream with a body sent before its SETTINGS are acknowledged
        c.pump(lambda: c.settings_seen)
        body = b"y" * 100000
        sid = c.send_request("/proxy/pre0", method="POST", body=body,
                             headers=[("content-length", str(len(body)))])
        st = c.response(sid)
        self.assertEqual(st.status, 200, st)
        req = self.backend_request(b"/up/pre0")
        self.assertTrue(req.data == body, "the backend got %d other bytes" % len(req.data))

    def test_post_without_content_length_is_sent_with_its_length(self):
        body = b"x" * 40000 + b"end"
        sid = self.c.send_request("/proxy/post-nolen", method="POST", body=body)
        st = self.c.response(sid)
        self.assertEqual(st.status, 200, st)
        req = self.backend_request(b"/up/post-nolen")
        self.assertTrue(req.data == body, "the backend got %d other bytes" % len(req.data))
        self.assertEqual(req.header("content-length"), str(len(body)).encode())

    def test_body_over_client_max_body_size_by_content_length_is_413(self):
        sid = self.c.send_request("/limited", method="POST", body=b"x" * 11,
                                  headers=[("content-length", "11")])
        st = self.c.response(sid)
        self.assertEqual(st.status, 413)
        self.assertIn(b"<title>413 Request Entity Too Large</title>", st.body)

    def test_body_over_client_max_body_size_without_length_is_413(self):
        sid = self.c.send_request("/limited", method="POST", body=b"x" * 11, one_write=True)
        st = self.c.response(sid)
        self.assertEqual(st.status, 413)
        self.assertEqual(self.backend_requests_for(b"/limited"), [])

    def test_post_without_content_length_in_the_headers_write_reaches_the_backend(self):
        sid = self.c.send_request("/proxy/post-one-write", method="POST", body=b"hello",
                                  one_write=True)
        self.assertEqual(self.c.response(sid).status, 200)
        req = self.backend_request(b"/up/post-one-write")
        self.assertEqual((req.data, req.header("content-length")), (b"hello", b"5"))

    def test_body_shorter_than_content_length_is_400_or_a_protocol_error_reset(self):
        # nginx answers 400 ("client prematurely closed stream: only 3 out of 10 bytes of
        # request body received"); RFC 9113 8.1.1 makes it a malformed request, which proxyd
        # (libnghttp2) answers with RST_STREAM PROTOCOL_ERROR; either way nothing is proxied
        sid = self.c.send_request("/proxy/short", method="POST", body=b"abc",
                                  headers=[("content-length", "10")])
        st = self.c.response(sid)
        answer = ("reset", st.reset) if st.reset is not None else ("status", st.status)
        allowed = {("status", 400)} if self.KIND == "nginx" else {
            ("status", 400), ("reset", PROTOCOL_ERROR)}
        self.assertIn(answer, allowed)
        self.assertEqual(self.c.get("/alive").status, 200)
        self.assertEqual(self.backend_requests_for(b"/up/short"), [])

    # -------------------------------------------------------- response bodies, windows

    def small_window_client(self):
        c = H2Client(self.ports["tls"], settings={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE:
                                                  16384})
        self.addCleanup(c.close)
        return c

    def test_static_1mib_through_a_16k_window(self):
        st = self.small_window_client().get("/big.bin")
        self.assertEqual(st.status, 200)
        self.assertEqual(len(st.body), len(BIG))
        self.assertTrue(st.body == BIG, "the body differs")

    def test_proxied_1mib_through_a_16k_window(self):
        st = self.small_window_client().get("/proxy/big")
        self.assertEqual(st.status, 200)
        self.assertEqual(len(st.body), len(BIG))
        self.assertTrue(st.body == BIG, "the body differs")

    # -------------------------------------------------------- many streams

    def test_100_streams_opened_before_reading_get_their_own_bodies(self):
        sids = {}
        for i in range(100):
            sids[self.c.send_request("/proxy/s%d" % i)] = i
        for sid, i in sids.items():
            st = self.c.response(sid)
            self.assertEqual((st.status, st.body),
                             (200, b"uri=/up/s%d method=GET len=0" % i))

    def test_h2load_2000_requests_on_4_connections_50_streams_each(self):
        p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "50", "-T", "10", "-N", "10",
                            "https://127.0.0.1:%d/proxy/load" % self.ports["tls"]],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        self.assertEqual(m.groups(), ("2000", "0", "0", "0"), p.stdout)
        self.assertIn("2000 succeeded, 0 failed, 0 errored", p.stdout)



# ================================================================ settings and limits

LIMITS_CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    http2_max_concurrent_streams 3;
    http2_chunk_size 1k;
    large_client_header_buffers 2 1k;
    server {
        listen 127.0.0.1:%(tls)d ssl H2LISTEN;
        H2ON
        root WWW;
        location = /alive { return 200 "alive"; }
        location = /post { proxy_pass http://127.0.0.1:9; }
    }
}
"""


def request_headers(path="/alive", method="GET"):
    return [(":method", method), (":path", path), (":scheme", "https"), (":authority", "a.test")]


@for_each_target
class LimitsTest(ClassServer):
    CONF = LIMITS_CONF
    PORTS = ("tls",)
    PROXYD_BUGS = {}

    def test_max_concurrent_streams_is_advertised(self):
        c = H2Client(self.ports["tls"])
        self.addCleanup(c.close)
        c.pump(lambda: c.settings_seen)
        self.assertEqual(c.conn.remote_settings.max_concurrent_streams, 3)

    def test_stream_over_max_concurrent_streams_is_refused(self):
        self.refuse_fourth_stream()

    def test_refused_stream_is_logged_at_info(self):
        self.refuse_fourth_stream()
        self.assert_info_logged(self.srv, "concurrent streams exceeded 3")

    def refuse_fourth_stream(self):
        # four requests whose bodies never come, so the first three stay open
        r = RawH2(self.ports["tls"])
        self.addCleanup(r.close)
        r.send(b"".join(r.headers(sid, request_headers("/post", "POST"), flags=END_HEADERS)
                        for sid in (1, 3, 5, 7)))
        self.assertEqual(r.stream_answer(7), ("reset", REFUSED_STREAM))
        self.assert_alive(self.ports["tls"])

    def test_chunk_size_bounds_data_frames(self):
        c = H2Client(self.ports["tls"])
        self.addCleanup(c.close)
        st = c.get("/big.bin")
        self.assertEqual(st.status, 200)
        self.assertTrue(st.body == BIG, "the body differs")
        self.assertLessEqual(max(st.frames), 1024)

    def header_answer(self, extra):
        r = RawH2(self.ports["tls"])
        self.addCleanup(r.close)
        r.encoder.huffman = False  # the sizes below are the sizes on the wire
        r.send(r.headers(1, request_headers() + extra))
        return r.stream_answer(1)

    def test_header_field_within_the_buffer_size_is_accepted(self):
        self.assertEqual(self.header_answer([("x-big", "a" * 1000)]), ("status", 200))

    def test_header_field_over_the_buffer_size_is_enhance_your_calm(self):
        # nginx 1.22 measures a field by its largest decoded size (8/5 of the buffer size:
        # 1638 bytes here passes); 2000 is over both
        self.assertEqual(self.header_answer([("x-big", "a" * 2000)]),
                         ("goaway", ENHANCE_YOUR_CALM))
        self.assert_alive(self.ports["tls"])

    def test_too_large_header_field_is_logged_at_info(self):
        self.header_answer([("x-big", "a" * 2000)])
        self.assert_info_logged(self.srv, "client sent too large header field")

    def test_header_block_within_size_times_num_is_accepted(self):
        # names and values of every field, pseudo-headers included, count: 2041 of 2048
        self.assertEqual(self.header_answer([("x-h%d" % i, "b" * 660) for i in range(3)]),
                         ("status", 200))

    def test_header_block_over_size_times_num_is_enhance_your_calm(self):
        self.assertEqual(self.header_answer([("x-h%d" % i, "b" * 900) for i in range(3)]),
                         ("goaway", ENHANCE_YOUR_CALM))
        self.assert_alive(self.ports["tls"])

    def test_too_large_header_block_is_logged_at_info(self):
        self.header_answer([("x-h%d" % i, "b" * 900) for i in range(3)])
        self.assert_info_logged(self.srv, "client sent too large header")


# ================================================================ protocol errors

PLAIN_CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    server {
        listen 127.0.0.1:%(tls)d ssl H2LISTEN;
        H2ON
        location / { return 200 "ok"; }
    }
}
"""


# what proxyd logs for ProtocolErrorTest.test_protocol_errors_are_logged_at_info's cases after
# the first: the GOAWAY's error code, or libnghttp2's reason for a stream error
GOAWAY_LINE = "client sent invalid http2 data, connection closed with "
PROXYD_LINES = [None, GOAWAY_LINE + "PROTOCOL_ERROR", GOAWAY_LINE + "PROTOCOL_ERROR",
                GOAWAY_LINE + "FRAME_SIZE_ERROR", GOAWAY_LINE + "PROTOCOL_ERROR",
                GOAWAY_LINE + "FLOW_CONTROL_ERROR",
                "client sent invalid frame: Invalid HTTP header field was received",
                "client sent invalid frame: Violation in HTTP messaging rule"]


@for_each_target
class ProtocolErrorTest(ClassServer):
    """RFC 9113 errors, each on its own TLS h2 connection; the server keeps serving others."""
    CONF = PLAIN_CONF
    PORTS = ("tls",)
    PROXYD_BUGS = {}

    def raw(self, preface=True):
        r = RawH2(self.ports["tls"], preface=preface)
        self.addCleanup(r.close)
        return r

    def assert_goaway(self, r, code):
        self.assertEqual(r.goaway()[0], code)
        self.assert_alive(self.ports["tls"])

    def test_bad_connection_preface_is_goaway_protocol_error(self):
        r = self.raw(preface=False)
        r.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0))
        self.assertEqual(r.goaway(), (PROTOCOL_ERROR, 0))
        self.assertTrue(r.closed_after())
        self.assert_alive(self.ports["tls"])

    def test_http11_request_after_alpn_h2_is_goaway_protocol_error(self):
        r = self.raw(preface=False)
        r.send(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
        self.assertEqual(r.goaway(), (PROTOCOL_ERROR, 0))

    def test_data_on_stream_0_is_goaway_protocol_error(self):
        r = self.raw()
        r.send(frame(DATA, 0, 0, b"abc"))
        self.assert_goaway(r, PROTOCOL_ERROR)

    def test_headers_on_an_even_stream_is_goaway_protocol_error(self):
        r = self.raw()
        r.send(r.headers(2, request_headers()))
        self.assert_goaway(r, PROTOCOL_ERROR)

    def test_ping_with_a_wrong_length_is_goaway_frame_size_error(self):
        r = self.raw()
        r.send(frame(PING, 0, 0, b"x" * 9))
        self.assert_goaway(r, FRAME_SIZE_ERROR)

    def test_frame_over_the_advertised_max_frame_size_is_goaway_frame_size_error(self):
        r = self.raw()
        f = r.read_until(lambda f: f[0] == SETTINGS and not f[1] & ACK)
        settings = dict(struct.unpack(">HI", f[3][i:i + 6]) for i in range(0, len(f[3]), 6))
        limit = settings.get(5, 16384)
        if limit >= (1 << 24) - 1:
            self.skipTest("the server advertises the largest frame size (%d, as nginx does): "
                          "no frame can exceed it" % limit)
        r.send(r.headers(1, request_headers("/", "POST"), flags=END_HEADERS)
               + frame(DATA, 0, 1, b"x" * (limit + 1)))
        self.assert_goaway(r, FRAME_SIZE_ERROR)

    def test_window_update_overflowing_the_connection_window_is_flow_control_error(self):
        r = self.raw()
        r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)))
        self.assert_goaway(r, FLOW_CONTROL_ERROR)

    def test_window_update_of_zero_is_goaway_protocol_error(self):
        r = self.raw()
        r.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)))
        self.assert_goaway(r, PROTOCOL_ERROR)

    def stream_answer(self, headers):
        r = self.raw()
        r.send(r.headers(1, headers))
        answer = r.stream_answer(1)
        self.assert_alive(self.ports["tls"])
        return answer

    def test_uppercase_header_name_resets_the_stream_with_protocol_error(self):
        self.assertEqual(self.stream_answer(request_headers() + [("X-Upper", "v")]),
                         ("reset", PROTOCOL_ERROR))

    def test_crlf_in_a_header_value_resets_the_stream_with_protocol_error(self):
        self.assertEqual(self.stream_answer(request_headers() + [("x-a", "b\r\nc")]),
                         ("reset", PROTOCOL_ERROR))

    def test_missing_path_is_400_or_a_protocol_error_reset(self):
        # nginx answers 400; RFC 9113 8.1.1 makes it a malformed request, which a server may
        # also answer with RST_STREAM PROTOCOL_ERROR (proxyd through libnghttp2)
        answer = self.stream_answer(request_headers()[:1] + request_headers()[2:])
        allowed = {("status", 400)} if self.KIND == "nginx" else {
            ("status", 400), ("reset", PROTOCOL_ERROR)}
        self.assertIn(answer, allowed)

    def test_unknown_pseudo_header_is_400_or_a_protocol_error_reset(self):
        answer = self.stream_answer(request_headers() + [(":foo", "x")])
        allowed = {("status", 400)} if self.KIND == "nginx" else {
            ("status", 400), ("reset", PROTOCOL_ERROR)}
        self.assertIn(answer, allowed)

    def test_connection_specific_headers(self):
        # nginx 1.22 ignores them and answers 200; RFC 9113 8.2.2 makes such a request
        # malformed, and proxyd (libnghttp2) resets the stream with PROTOCOL_ERROR
        for extra in (("connection", "keep-alive"), ("keep-alive", "5"),
                      ("transfer-encoding", "chunked"), ("upgrade", "h2c"), ("te", "gzip")):
            with self.subTest(header=extra[0]):
                answer = self.stream_answer(request_headers() + [extra])
                allowed = {("status", 200)} if self.KIND == "nginx" else {
                    ("status", 400), ("reset", PROTOCOL_ERROR)}
                self.assertIn(answer, allowed)

    def test_protocol_errors_are_logged_at_info(self):
        cases = [
            (b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "invalid connection preface"),
            (frame(DATA, 0, 0, b"abc"), "client sent DATA frame with incorrect identifier"),
            (headers_frame(2, request_headers()),
             "client sent HEADERS frame with incorrect identifier 2, the last was 0"),
            (frame(PING, 0, 0, b"x" * 9), "client sent PING frame with incorrect length 9"),
            (frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0)),
             "client sent WINDOW_UPDATE frame with incorrect window increment 0"),
            (frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)),
             "client violated connection flow control: received WINDOW_UPDATE frame with "
             "window increment 2147483647 not allowed for window 65535"),
            (headers_frame(1, request_headers() + [("X-Upper", "v")]),
             'client sent invalid header name: "X-Upper"'),
            (headers_frame(1, request_headers()[1:]), "client sent no :method header"),
        ]
        if self.KIND == "proxyd":
            # proxyd logs nginx's line for a bad preface and libnghttp2's description of the
            # other errors (README: Differences from nginx)
            cases = [(data, message if data.startswith(b"PRI") else PROXYD_LINES[i])
                     for i, (data, message) in enumerate(cases)]
        for data, message in cases:
            with self.subTest(message=message):
                r = self.raw(preface=not data.startswith(b"PRI"))
                r.send(data)
                r.read_until(lambda f: f[0] in (GOAWAY, RST_STREAM, HEADERS))
                self.assert_info_logged(self.srv, message)

    def test_te_trailers_is_allowed(self):
        self.assertEqual(self.stream_answer(request_headers() + [("te", "trailers")]),
                         ("status", 200))



# ================================================================ graceful stop and reload

SLOW_CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    server {
        listen 127.0.0.1:%(tls)d ssl H2LISTEN;
        H2ON
        location = /alive { return 200 "alive"; }
        location = /slow { proxy_pass http://BACKEND; }
    }
}
"""
SLOW_BODY = bytes(range(256)) * 200  # within the initial windows: no WINDOW_UPDATE needed


@for_each_target
class GracefulTest(TargetCase):
    """A stream waiting on the backend when the master is told to reload or to quit: the
    client gets GOAWAY NO_ERROR naming it, and the stream still ends with its whole body.
    Raw frames, since python3-h2 refuses frames after a GOAWAY."""

    def setUp(self):
        self.arrived = threading.Event()
        self.release = threading.Event()

        def answer(req):
            self.arrived.set()
            self.release.wait(TIMEOUT)
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(SLOW_BODY) + SLOW_BODY
        backend = proxyd_test.RecordingBackend(response=answer)
        self.addCleanup(backend.close)
        self.addCleanup(self.release.set)  # before the backend closes (cleanups run LIFO)
        self.port = proxyd_test.free_port()
        self.srv = self.start_server(SLOW_CONF.replace("BACKEND", backend.address),
                                     {"tls": self.port})

    def in_flight_then(self, signo):
        """Starts /slow, sends signo once the backend holds it; returns (raw connection,
        (code, last stream id) of the GOAWAY, the stream's body)."""
        r = RawH2(self.port)
        self.addCleanup(r.close)
        r.send(r.headers(1, request_headers("/slow")))
        self.assertTrue(self.arrived.wait(TIMEOUT), "the backend got no request")
        self.srv.proc.send_signal(signo)
        f = r.read_until(lambda f: f[0] == GOAWAY or f[2] == 1 and f[1] & END_STREAM)
        self.assertIsNotNone(f, "the server closed without GOAWAY: %r" % r.frames)
        self.assertEqual(f[0], GOAWAY, "the stream ended before GOAWAY came: %r" % r.frames)
        last, code = struct.unpack(">II", f[3][:8])
        self.release.set()
        r.read_until(lambda f: f[2] == 1 and f[1] & END_STREAM or f[0] == RST_STREAM)
        body = b"".join(f[3] for f in r.frames if f[0] == DATA and f[2] == 1)
        self.assertEqual(r.decoded[1][":status"], "200")
        return r, (code, last & 0x7fffffff), body

    def test_reload_sends_goaway_and_finishes_the_stream(self):
        r, goaway, body = self.in_flight_then(signal.SIGHUP)
        self.assertEqual(goaway, (NO_ERROR, 1))
        self.assertTrue(body == SLOW_BODY, "the body differs (%d bytes)" % len(body))
        self.assertTrue(r.closed_after())
        c = H2Client(self.port)
        self.addCleanup(c.close)
        self.assertEqual(c.get("/alive").body, b"alive")

    def test_graceful_quit_sends_goaway_and_finishes_the_stream(self):
        r, goaway, body = self.in_flight_then(signal.SIGQUIT)
        self.assertEqual(goaway, (NO_ERROR, 1))
        self.assertTrue(body == SLOW_BODY, "the body differs (%d bytes)" % len(body))
        self.assertTrue(r.closed_after())
        r.close()  # else the worker lingers on it (lingering_timeout) before it exits
        self.assertIsNotNone(self.srv.proc.wait(TIMEOUT))



# ================================================================ current nginx only (proxyd)

BOTH_CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    http2 on;
    server {
        listen 127.0.0.1:%(plain)d;
        listen 127.0.0.1:%(tls)d ssl;
        location = /vars { return 200 "$http2 $server_protocol $scheme"; }
    }
    server {
        listen 127.0.0.1:%(off)d ssl;
        http2 off;
        location = /vars { return 200 "$http2 $server_protocol $scheme"; }
    }
}
"""


@proxyd_only
class CurrentNginxTest(ClassServer):
    """`http2 on;` as nginx 1.25.1+ has it (1.22 has only `listen ... http2`): set in http{}
    it reaches the servers, and a plain listener takes both HTTP/1.1 and h2c."""
    CONF = BOTH_CONF
    PORTS = ("plain", "tls", "off")

    def test_plain_port_with_http2_on_takes_h2c_prior_knowledge(self):
        rc, out, err = curl("--http2-prior-knowledge", "-w", " %{http_version}",
                            "http://127.0.0.1:%d/vars" % self.ports["plain"])
        self.assertEqual((rc, out), (0, b"h2c HTTP/2.0 http 2"), err)

    def test_plain_port_with_http2_on_takes_http11(self):
        status, _, body, _ = http11(self.ports["plain"], "/vars", False)
        self.assertEqual((status, body), (200, b" HTTP/1.1 http"))

    def test_http2_on_in_http_context_offers_h2_by_alpn(self):
        c = H2Client(self.ports["tls"])
        self.addCleanup(c.close)
        st = c.get("/vars")
        self.assertEqual((st.status, st.body), (200, b"h2 HTTP/2.0 https"))

    def test_http2_off_in_server_offers_only_http11(self):
        status, _, body, proto = http11(self.ports["off"], "/vars", True, ("h2", "http/1.1"))
        self.assertEqual((status, body, proto), (200, b" HTTP/1.1 https", "http/1.1"))


# ================================================================ configuration

def check_config(kind, text):
    """Runs `-t` on text written to DIR/x.conf; returns (exit code, ["[level] message"]) with
    the pid part nginx prints dropped and the directory written as DIR."""
    d = tempfile.mkdtemp(prefix="proxyd-e2e-h2-conf-")
    try:
        path = os.path.join(d, "x.conf")
        with open(path, "w") as f:
            f.write(text.replace("CERTS/", CERTS + "/"))
        cmd = [proxyd_test.PROXYD_BIN if kind == "proxyd" else proxyd_test.NGINX_BIN,
               "-t", "-p", d + "/", "-c", path]
        if kind == "nginx":
            cmd += ["-e", "stderr"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    lines = []
    for line in p.stderr.splitlines():
        m = re.search(r"\[(\w+)\] (?:\d+#\d+: )?(.*)$", line)
        if m:
            lines.append("[%s] %s" % (m.group(1), m.group(2).replace(d, "DIR")))
    return p.returncode, lines


def http_conf(*lines):
    """events{} on line 1, then http{} with lines from line 3."""
    return "events {}\nhttp {\n%s\n}\n" % "\n".join("    " + line for line in lines)


class ConfigCase(TargetCase):
    def assert_emerg(self, text, message):
        rc, lines = check_config(self.KIND, text)
        self.assertNotEqual(rc, 0)
        self.assertIn("[emerg] " + message, lines)


@for_each_target
class ConfigTest(ConfigCase):
    PROXYD_BUGS = {}

    def test_max_concurrent_streams_0_is_accepted(self):
        self.assertEqual(check_config(self.KIND, http_conf("http2_max_concurrent_streams 0;")),
                         (0, []))

    def test_max_concurrent_streams_negative_is_invalid_number(self):
        self.assert_emerg(http_conf("http2_max_concurrent_streams -1;"),
                          '"http2_max_concurrent_streams" directive invalid number in '
                          'DIR/x.conf:3')

    def test_chunk_size_0_is_refused(self):
        self.assert_emerg(http_conf("http2_chunk_size 0;"),
                          "the http2 chunk size cannot be zero in DIR/x.conf:3")

    def test_flag_directive_message(self):
        # the generic flag message `http2 maybe;` must give (nginx's own, for tcp_nodelay)
        self.assert_emerg(http_conf("tcp_nodelay maybe;"),
                          'invalid value "maybe" in "tcp_nodelay" directive, it must be "on" '
                          'or "off" in DIR/x.conf:3')


@proxyd_only
class CurrentNginxConfigTest(ConfigCase):
    """The `http2` directive and the deprecated `listen ... http2` as in nginx 1.25.1+."""

    def test_http2_on_in_http_and_server_contexts_is_accepted(self):
        text = http_conf("http2 on;", "server {", "    listen 127.0.0.1:8443 ssl;",
                         "    http2 on;", "    ssl_certificate CERTS/a.pem;",
                         "    ssl_certificate_key CERTS/a.key;", "}")
        self.assertEqual(check_config(self.KIND, text), (0, []))

    def test_http2_off_is_accepted(self):
        self.assertEqual(check_config(self.KIND, http_conf("http2 off;")), (0, []))

    def test_http2_with_a_bad_value(self):
        self.assert_emerg(http_conf("http2 maybe;"),
                          'invalid value "maybe" in "http2" directive, it must be "on" or "off" '
                          "in DIR/x.conf:3")

    def test_http2_in_location_is_not_allowed(self):
        self.assert_emerg(http_conf("server {", "    location / { http2 on; }", "}"),
                          '"http2" directive is not allowed here in DIR/x.conf:4')

    def test_http2_without_a_value(self):
        self.assert_emerg(http_conf("http2;"),
                          'invalid number of arguments in "http2" directive in DIR/x.conf:3')

    def test_listen_http2_is_accepted_with_a_deprecation_warning(self):
        rc, lines = check_config(self.KIND, http_conf("server {",
                                                      "    listen 127.0.0.1:8080 http2;", "}"))
        self.assertEqual((rc, lines), (0, [
            '[warn] the "listen ... http2" directive is deprecated, use the "http2" directive '
            "instead in DIR/x.conf:4"]))


if __name__ == "__main__":
    proxyd_test.main()
