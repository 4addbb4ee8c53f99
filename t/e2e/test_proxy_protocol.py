"""The PROXY protocol (HAProxy's proxy-protocol.txt, v1 text and v2 binary) received on http
listeners (`listen ... proxy_protocol`): the $proxy_protocol_* variables, realip's
`real_ip_header proxy_protocol`, keepalive and pipelining after one header, the header before a
TLS handshake and before HTTP/2, IPv6, bad headers and what is logged for them, and HAProxy's
send-proxy and send-proxy-v2 in front.

Every case runs under Debian's nginx 1.22 and proxyd with the same configuration and the same
expectation, so the expected answers are nginx's. PP_E2E_TARGETS="proxyd" (or "nginx", default
"proxyd,nginx") picks the binaries; each test class exists once per binary (FooTest_proxyd,
FooTest_nginx). A class's PROXYD_BUGS names its tests that fail on proxyd for a known bug
(expected failures there); NGINX_DIFFERS names tests where nginx 1.22 is laxer than the
protocol's text and proxyd follows the text (skipped on nginx, the reason says what nginx does).
$proxy_protocol_tlv_NAME came with nginx 1.23.2: those classes run on proxyd only.

Headers are built here with struct (v2) or as text (v1); clients are raw sockets, Python's ssl
module over a socket that first carried the header (or over memory BIOs, to send the header and
the ClientHello in one write), python3-h2, and HAProxy 2.6 (`haproxy -db`)."""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

TARGETS = [t for t in os.environ.get("PP_E2E_TARGETS", "proxyd,nginx").split(",") if t]
TIMEOUT = 5  # bound of every client exchange, in seconds
CERTS = None  # the module's certificate directory (setUpModule)
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V2_LOCAL, V2_PROXY = 0x20, 0x21
AF_UNSPEC, INET, INET6, UNIX = 0x00, 0x10, 0x20, 0x30
STREAM = 0x01
TLV_ALPN, TLV_AUTHORITY, TLV_UNIQUE_ID, TLV_SSL = 0x01, 0x02, 0x05, 0x20
SSL_VERSION, SSL_CN, SSL_CIPHER = 0x21, 0x22, 0x23


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="proxyd-e2e-pp-certs-")
    p = subprocess.run(["openssl", "req", "-x509", "-nodes", "-days", "30", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "a.key", "-out", "a.pem",
                        "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test"],
                       cwd=CERTS, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl failed: %s" % p.stderr.decode())


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


# ---------------------------------------------------------------- headers

def v1(proto="TCP4", src="192.0.2.10", dst="198.51.100.20", sport=40000, dport=8443):
    if proto == "UNKNOWN":
        return b"PROXY UNKNOWN\r\n"
    return ("PROXY %s %s %s %d %d\r\n" % (proto, src, dst, sport, dport)).encode()


def tlv(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def ssl_tlv(client, verify, *subs):
    return tlv(TLV_SSL, struct.pack("!BI", client, verify) + b"".join(subs))


def v2(command=V2_PROXY, family=INET, src="192.0.2.10", dst="198.51.100.20", sport=40000,
       dport=8443, tlvs=b"", addr=None):
    """A v2 header; addr replaces the address block built from src/dst/ports (to break it)."""
    if addr is None:
        if family == INET:
            addr = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
        elif family == INET6:
            addr = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
                    + struct.pack("!HH", sport, dport))
        else:
            addr = b""
    body = addr + tlvs
    return V2_SIG + bytes([command, family | STREAM]) + struct.pack("!H", len(body)) + body


def get(path="/", host="a.test", close=True):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        path, host, "Connection: close\r\n" if close else "")).encode()


# ---------------------------------------------------------------- clients

def exchange(port, data, host="127.0.0.1", source=None, shut_write=False):
    """Sends data on a fresh connection; returns every byte read until the server closed.
    AssertionError when the server keeps the connection open past TIMEOUT."""
    s = socket.create_connection((host, port), timeout=TIMEOUT,
                                 source_address=(source, 0) if source else None)
    try:
        if data:
            s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        return read_to_eof(s)
    finally:
        s.close()


read_to_eof = proxyd_test.read_to_eof


def body_of(data):
    """The one response in data: (status, body)."""
    responses = proxyd_test.parse_responses(data)
    if len(responses) != 1:
        raise AssertionError("expected one response, got %r" % data[:400])
    status, _, body = responses[0]
    return status, body


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(CERTS, "a.pem"))
    return ctx


# ---------------------------------------------------------------- servers

def make_server(kind, conf):
    return proxyd_test.Proxyd(conf) if kind == "proxyd" else proxyd_test.NginxRef(conf)


def binary(kind):
    return proxyd_test.PROXYD_BIN if kind == "proxyd" else proxyd_test.NGINX_BIN


def expand(conf, tmp, **ports):
    """CERTS/ and TMP/ become absolute paths, %(name)d the ports."""
    return conf.replace("CERTS/", CERTS + "/").replace("TMP/", tmp + "/") % ports


def wait_listening(kind, srv, addrs, error):
    deadline = time.time() + 5
    for host, port in addrs:
        while not proxyd_test.wait_port(port, timeout=0.2, host=host):
            if srv.proc.poll() is not None or time.time() > deadline:
                said = srv.proc.stderr.read().decode() if srv.proc.poll() is not None else ""
                raise error("%s did not listen on %s:%d:\n%s%s" % (
                    kind, host, port, said, srv.read_error_log()))


def for_each_target(cls):
    """Class decorator: cls_proxyd and cls_nginx (as PP_E2E_TARGETS says)."""
    return proxyd_test.per_target(cls, TARGETS, globals())


def proxyd_only(cls):
    """Class decorator for current-nginx behaviours nginx 1.22 lacks: a proxyd class only."""
    return proxyd_test.per_target(cls, [t for t in TARGETS if t == "proxyd"], globals())


class TargetCase(unittest.TestCase):
    KIND = None
    PROXYD_BUGS = {}
    NGINX_DIFFERS = {}

    def setUp(self):
        srv = getattr(self, "srv", None)
        self.log_offset = os.path.getsize(srv.error_log) if srv and os.path.exists(
            srv.error_log) else 0

    def assert_logged(self, srv, pattern, level="error"):
        """srv's error log gets, after this test began, a line at level for a connection (*N)
        whose message matches the regular expression pattern (from the message's start to the
        line's end; the message may span lines, as nginx writes a header's raw bytes)."""
        regex = re.compile(r"\[%s\] \d+#\d+: \*\d+ (%s)$" % (level, pattern), re.M | re.S)
        deadline = time.time() + 3
        while True:
            with open(srv.error_log, "rb") as f:  # bytes: CR LF of a header stay as sent
                f.seek(self.log_offset)
                text = f.read().decode("latin-1")
            m = regex.search(text)
            if m or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertIsNotNone(m, "no [%s] line matching %r in:\n%s" % (level, pattern, text[-3000:]))


class ClassServer(TargetCase):
    """One server for the whole class: CONF (http{} text) with %(name)d for each of PORTS;
    LISTEN6 names the ports also listened on [::1]."""
    CONF = None
    PORTS = ()
    LISTEN6 = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="proxyd-e2e-pp-")
        cls.ports = {name: proxyd_test.free_port() for name in cls.PORTS}
        cls.srv = make_server(cls.KIND, expand(cls.CONF, cls.tmp, **cls.ports))
        try:
            cls.srv.start()
            addrs = [("127.0.0.1", p) for p in cls.ports.values()]
            addrs += [("::1", cls.ports[n]) for n in cls.LISTEN6]
            wait_listening(cls.KIND, cls.srv, addrs, RuntimeError)
        except BaseException:
            cls.srv.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server_text(self, name):
        return "127.0.0.1:%d" % self.ports[name]


# ---------------------------------------------------------------- variables and realip

VARS = ('"$proxy_protocol_addr|$proxy_protocol_port|$proxy_protocol_server_addr|'
        '$proxy_protocol_server_port|$remote_addr|$remote_port|$realip_remote_addr"')

VARIABLES_CONF = """
http {
  log_format pp '$proxy_protocol_addr:$proxy_protocol_port $remote_addr "$request"';
  access_log TMP/access.log pp;
  server {
    listen 127.0.0.1:%(pp)d proxy_protocol;
    listen [::1]:%(pp)d proxy_protocol;
    location / { return 200 VARS; }
  }
  server {
    listen 127.0.0.1:%(realip)d proxy_protocol;
    listen [::1]:%(realip)d proxy_protocol;
    set_real_ip_from 127.0.0.1;
    set_real_ip_from ::1;
    real_ip_header proxy_protocol;
    location / { return 200 VARS; }
    location /server { return 200 "$server_addr|$server_port|$binary_remote_addr"; }
  }
  server {
    listen 127.0.0.1:%(other)d proxy_protocol;
    set_real_ip_from 10.0.0.0/8;
    real_ip_header proxy_protocol;
    location / { return 200 VARS; }
  }
  server {
    listen 127.0.0.1:%(plain)d;
    location / { return 200 VARS; }
  }
}
""".replace("VARS", VARS)


@for_each_target
class VariablesTest(ClassServer):
    CONF = VARIABLES_CONF
    PORTS = ("pp", "realip", "other", "plain")
    LISTEN6 = ("pp", "realip")

    def vars(self, name, data, host="127.0.0.1"):
        """The fields of VARS answered to data on a fresh connection to port name."""
        status, body = body_of(exchange(self.ports[name], data, host=host))
        self.assertEqual(status, 200, body)
        return body.decode().split("|")

    def peer_port(self, fields):
        """The connection's own port ($remote_port without realip) is not knowable ahead."""
        self.assertRegex(fields[5], r"^[0-9]+$")
        return fields[:5] + ["PORT"] + fields[6:]

    # -------------------------------------------------------- what the header says

    def test_v1_tcp4_header_sets_the_variables_and_leaves_remote_addr(self):
        fields = self.vars("pp", v1() + get())
        self.assertEqual(self.peer_port(fields), [
            "192.0.2.10", "40000", "198.51.100.20", "8443", "127.0.0.1", "PORT", "127.0.0.1"])

    def test_v1_tcp6_header_sets_the_variables(self):
        fields = self.vars("pp", v1("TCP6", "2001:db8::10", "2001:db8::20", 1, 65535) + get())
        self.assertEqual(self.peer_port(fields), [
            "2001:db8::10", "1", "2001:db8::20", "65535", "127.0.0.1", "PORT", "127.0.0.1"])

    def test_v1_unknown_header_leaves_the_variables_empty(self):
        fields = self.vars("pp", v1("UNKNOWN") + get())
        self.assertEqual(self.peer_port(fields), ["", "", "", "", "127.0.0.1", "PORT", "127.0.0.1"])

    def test_v1_unknown_header_with_addresses_ignores_them(self):
        fields = self.vars("pp", b"PROXY UNKNOWN 192.0.2.10 198.51.100.20 1 2\r\n" + get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_v2_inet_header_sets_the_variables(self):
        fields = self.vars("pp", v2(sport=5555, dport=443) + get())
        self.assertEqual(self.peer_port(fields), [
            "192.0.2.10", "5555", "198.51.100.20", "443", "127.0.0.1", "PORT", "127.0.0.1"])

    def test_v2_inet6_header_sets_the_variables(self):
        fields = self.vars("pp", v2(family=INET6, src="2001:db8::a", dst="2001:db8::b") + get())
        self.assertEqual(fields[:5], ["2001:db8::a", "40000", "2001:db8::b", "8443", "127.0.0.1"])

    def test_v2_header_with_tlvs_sets_the_variables(self):
        tlvs = tlv(TLV_ALPN, b"h2") + tlv(TLV_AUTHORITY, b"a.test") + tlv(0xE0, b"\x00\xff")
        fields = self.vars("pp", v2(tlvs=tlvs) + get())
        self.assertEqual(fields[:5], ["192.0.2.10", "40000", "198.51.100.20", "8443", "127.0.0.1"])

    def test_v2_local_header_leaves_the_variables_empty(self):
        fields = self.vars("pp", v2(command=V2_LOCAL, family=AF_UNSPEC) + get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_v2_local_header_with_an_address_block_ignores_it(self):
        fields = self.vars("pp", v2(command=V2_LOCAL) + get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_v2_proxy_with_unspecified_family_leaves_the_variables_empty(self):
        fields = self.vars("pp", v2(family=AF_UNSPEC) + get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_v2_header_of_900_bytes_is_read_whole(self):
        padding = tlv(0x04, b"\x00" * 880)  # NOOP
        fields = self.vars("pp", v2(src="192.0.2.90", tlvs=padding + tlv(0xE1, b"x")) + get())
        self.assertEqual(fields[:5], ["192.0.2.90", "40000", "198.51.100.20", "8443", "127.0.0.1"])

    def test_v2_unix_family_is_accepted_without_addresses(self):
        addr = b"/tmp/a.sock".ljust(108, b"\x00") + b"/tmp/b.sock".ljust(108, b"\x00")
        fields = self.vars("realip", v2(family=UNIX, addr=addr) + get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_access_log_line_shows_the_header_address(self):
        self.vars("pp", v1(src="192.0.2.77", sport=4321) + get("/logged-v1"))
        self.vars("pp", v2(src="192.0.2.78", sport=4322) + get("/logged-v2"))
        text = proxyd_test.wait_for_text(os.path.join(self.tmp, "access.log"), "/logged-v2")
        self.assertIn('192.0.2.77:4321 127.0.0.1 "GET /logged-v1 HTTP/1.1"\n', text)
        self.assertIn('192.0.2.78:4322 127.0.0.1 "GET /logged-v2 HTTP/1.1"\n', text)

    def test_listener_without_proxy_protocol_has_empty_variables(self):
        fields = self.vars("plain", get())
        self.assertEqual(fields[:5], ["", "", "", "", "127.0.0.1"])

    def test_header_sent_to_a_listener_without_proxy_protocol_is_a_bad_request(self):
        data = exchange(self.ports["plain"], v1() + get())
        self.assertEqual(proxyd_test.status_of(data), 400, data[:200])

    # -------------------------------------------------------- realip

    def test_realip_takes_the_v1_source_address_and_port(self):
        fields = self.vars("realip", v1(src="192.0.2.44", sport=4444) + get())
        self.assertEqual(fields, ["192.0.2.44", "4444", "198.51.100.20", "8443", "192.0.2.44",
                                  "4444", "127.0.0.1"])

    def test_realip_takes_the_v2_source_address(self):
        fields = self.vars("realip", v2(family=INET6, src="2001:db8::44", dst="2001:db8::1",
                                        sport=4445) + get())
        self.assertEqual(fields[4:], ["2001:db8::44", "4445", "127.0.0.1"])

    def test_realip_changes_neither_server_addr_nor_server_port(self):
        status, body = body_of(exchange(self.ports["realip"],
                                        v1(src="192.0.2.45") + get("/server")))
        self.assertEqual((status, body), (200, b"127.0.0.1|%d|\xc0\x00\x02\x2d"
                                          % self.ports["realip"]))

    def test_realip_keeps_the_peer_when_set_real_ip_from_does_not_cover_it(self):
        fields = self.vars("other", v1(src="192.0.2.44") + get())
        self.assertEqual(fields[0], "192.0.2.44")
        self.assertEqual(fields[4], "127.0.0.1")
        self.assertEqual(fields[6], "127.0.0.1")

    def test_realip_keeps_the_peer_for_an_unknown_header(self):
        fields = self.vars("realip", v1("UNKNOWN") + get())
        self.assertEqual(fields[4], "127.0.0.1")
        fields = self.vars("realip", v2(command=V2_LOCAL, family=AF_UNSPEC) + get())
        self.assertEqual(fields[4], "127.0.0.1")

    # -------------------------------------------------------- one header, several requests

    def test_keepalive_requests_after_one_header_all_see_it(self):
        s = socket.create_connection(("127.0.0.1", self.ports["realip"]), timeout=TIMEOUT)
        try:
            s.sendall(v1(src="192.0.2.55", sport=5555))
            buf = b""
            for i in range(3):
                s.sendall(get("/k%d" % i, close=(i == 2)))
                resp, buf = proxyd_test.recv_response(s, buf)
                status, body = body_of(resp)
                self.assertEqual((status, body.decode().split("|")[:5]), (200, [
                    "192.0.2.55", "5555", "198.51.100.20", "8443", "192.0.2.55"]), i)
        finally:
            s.close()

    def test_header_and_pipelined_requests_in_one_write(self):
        data = v2(src="192.0.2.56", sport=5656) + get("/a", close=False) + get("/b")
        responses = proxyd_test.parse_responses(exchange(self.ports["pp"], data))
        self.assertEqual(len(responses), 2)
        for status, _, body in responses:
            self.assertEqual((status, body.decode().split("|")[:2]), (200, ["192.0.2.56", "5656"]))

    def test_header_request_with_a_body_and_another_request_in_one_write(self):
        body = b"x" * 20000
        post = (b"POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body)
        responses = proxyd_test.parse_responses(exchange(
            self.ports["pp"], v1(src="192.0.2.57", sport=5757) + post + get("/after")))
        self.assertEqual([(st, b.decode().split("|")[:2]) for st, _, b in responses],
                         [(200, ["192.0.2.57", "5757"])] * 2)

    # -------------------------------------------------------- IPv6 listener

    def test_ipv6_listener_with_a_v1_tcp6_header(self):
        fields = self.vars("pp", v1("TCP6", "2001:db8::66", "2001:db8::1", 6666, 80) + get(),
                           host="::1")
        self.assertEqual(self.peer_port(fields), [
            "2001:db8::66", "6666", "2001:db8::1", "80", "::1", "PORT", "::1"])

    def test_ipv6_listener_with_a_v2_inet6_header_and_realip(self):
        fields = self.vars("realip", v2(family=INET6, src="2001:db8::67", dst="2001:db8::1",
                                        sport=6767) + get(), host="::1")
        self.assertEqual(fields[4:], ["2001:db8::67", "6767", "::1"])

    def test_ipv6_listener_with_a_v1_tcp4_header_and_realip(self):
        fields = self.vars("realip", v1(src="192.0.2.68", sport=6868) + get(), host="::1")
        self.assertEqual(fields[4:], ["192.0.2.68", "6868", "::1"])


# ---------------------------------------------------------------- bad headers

BAD_CONF = """
http {
  client_header_timeout 1s;
  server {
    listen 127.0.0.1:%(pp)d proxy_protocol;
    location / { return 200 "ok $proxy_protocol_addr"; }
  }
}
"""


@for_each_target
class BadHeaderTest(ClassServer):
    """Each bad header gets the connection closed without a response and one line in the error
    log. nginx 1.22 writes the raw bytes it read between the quotes of "broken header", CR and
    LF included; the tests accept the line's text up to its end (an optional CRLF)."""
    CONF = BAD_CONF
    PORTS = ("pp",)
    PROXYD_BUGS = {}
    NGINX_DIFFERS = {
        "test_oversize_v1_line": "nginx 1.22 has no 107-byte bound on a v1 line: a well-formed "
                                 "116-byte TCP6 line is accepted",
        "test_v1_address_that_is_no_address": "nginx 1.22 checks only the characters of a v1 "
                                              "address: 1.2.3.999 is accepted and shown as is",
        "test_header_split_across_writes_is_read_whole": "nginx 1.22 parses the first read "
                                                         "alone: 'broken header' for the first "
                                                         "part",
    }

    def assert_closed(self, data, shut_write=False):
        got = exchange(self.ports["pp"], data, shut_write=shut_write)
        self.assertEqual(got, b"", "the server answered a bad header")

    def assert_broken(self, shown):
        """nginx's line for a bad header whose first bytes are shown."""
        self.assert_logged(self.srv, r'broken header: "%s(\r\n)?" while reading PROXY protocol, '
                           r"client: 127\.0\.0\.1, server: %s" % (
                               re.escape(shown), re.escape(self.server_text("pp"))))

    def test_no_header_at_all(self):
        self.assert_closed(b"GET /no-header HTTP/1.1\r\n")
        self.assert_broken("GET /no-header HTTP/1.1")

    def test_truncated_v1_header_then_close(self):
        self.assert_closed(b"PROXY TCP4 192.0.2.1", shut_write=True)
        self.assert_broken("PROXY TCP4 192.0.2.1")

    def test_truncated_v2_header_then_close(self):
        self.assert_closed(v2(src="192.0.2.2")[:20], shut_write=True)
        self.assert_logged(self.srv, r"header is too large while reading PROXY protocol, "
                           r"client: 127\.0\.0\.1, server: %s" % re.escape(self.server_text("pp")))

    def test_malformed_v1_address(self):
        self.assert_closed(b"PROXY TCP4 192.0.2.x 198.51.100.20 1 2\r\n")
        self.assert_broken("PROXY TCP4 192.0.2.x 198.51.100.20 1 2")

    def test_v1_port_out_of_range(self):
        self.assert_closed(b"PROXY TCP4 192.0.2.3 198.51.100.20 1 65536\r\n")
        self.assert_broken("PROXY TCP4 192.0.2.3 198.51.100.20 1 65536")

    def test_v1_missing_port(self):
        self.assert_closed(b"PROXY TCP4 192.0.2.4 198.51.100.20 1\r\n")
        self.assert_broken("PROXY TCP4 192.0.2.4 198.51.100.20 1")

    def test_v1_unknown_protocol(self):
        self.assert_closed(b"PROXY TCP5 192.0.2.5 198.51.100.20 1 2\r\n")
        self.assert_broken("PROXY TCP5 192.0.2.5 198.51.100.20 1 2")

    def test_v1_line_ending_in_lf_only(self):
        self.assert_closed(b"PROXY TCP4 192.0.2.6 198.51.100.20 1 2\n")
        self.assert_logged(self.srv, r'broken header: "PROXY TCP4 192\.0\.2\.6 198\.51\.100\.20 '
                           r'1 2(\n)?" while reading PROXY protocol, client: 127\.0\.0\.1, '
                           r"server: %s" % re.escape(self.server_text("pp")))

    def test_v1_double_space(self):
        self.assert_closed(b"PROXY  TCP4 192.0.2.7 198.51.100.20 1 2\r\n")
        self.assert_broken("PROXY  TCP4 192.0.2.7 198.51.100.20 1 2")

    def test_oversize_v1_line(self):
        # well-formed but over the protocol's 107 bytes: a mapped IPv6 address written long
        long6 = "0000:0000:0000:0000:0000:ffff:255.255.255.255"
        line = "PROXY TCP6 %s %s 65535 65535" % (long6, long6)
        self.assertGreater(len(line) + 2, 107)
        self.assert_closed(line.encode() + b"\r\n" + get())
        self.assert_logged(self.srv, r'broken header: "PROXY TCP6 %s[^"]*" while reading PROXY '
                           r"protocol, client: 127\.0\.0\.1, server: %s"
                           % (re.escape(long6), re.escape(self.server_text("pp"))))

    def test_v1_address_that_is_no_address(self):
        self.assert_closed(v1(src="1.2.3.999") + get())
        self.assert_logged(self.srv, r'broken header: "PROXY TCP4 1\.2\.3\.999[^"]*" while '
                           r"reading PROXY protocol, client: 127\.0\.0\.1, server: %s"
                           % re.escape(self.server_text("pp")))

    def test_v2_wrong_version(self):
        header = bytearray(v2(src="192.0.2.9"))
        header[12] = 0x31  # version 3, command PROXY
        self.assert_closed(bytes(header) + get())
        self.assert_logged(self.srv, r"unknown PROXY protocol version: 3 while reading PROXY "
                           r"protocol, client: 127\.0\.0\.1, server: %s"
                           % re.escape(self.server_text("pp")))

    def test_v2_address_block_too_short(self):
        # nginx closes without a word above debug level here
        self.assert_closed(v2(family=INET, addr=b"\xc0\x00\x02\x0a") + get())
        self.assert_closed(v2(family=INET6, addr=b"\x00" * 12) + get())

    def test_v2_header_over_4096_bytes(self):
        self.assert_closed(v2(src="192.0.2.15", tlvs=tlv(0x04, b"\x00" * 5000)) + get())
        self.assert_logged(self.srv, r"header is too large while reading PROXY protocol, "
                           r"client: 127\.0\.0\.1, server: %s" % re.escape(self.server_text("pp")))

    def test_v2_signature_with_a_wrong_byte(self):
        header = v2(src="192.0.2.11")
        self.assert_closed(header[:11] + b"X" + header[12:] + get())
        # nginx writes the bytes as they came; written escaped (\x0D...) they say the same
        self.assert_logged(self.srv, r'broken header: "(\r\n\r\n\x00\r\nQUITX|\\x0D\\x0A\\x0D'
                           r'\\x0A\\x00\\x0D\\x0AQUITX).*" while reading PROXY protocol, '
                           r"client: 127\.0\.0\.1, server: %s" % re.escape(self.server_text("pp")))

    def test_nothing_sent_times_out_after_client_header_timeout(self):
        self.assert_closed(b"")
        self.assert_logged(self.srv, r"client timed out \(110: Connection timed out\) while "
                           r"reading PROXY protocol, client: 127\.0\.0\.1, server: %s"
                           % re.escape(self.server_text("pp")), level="info")

    def test_header_start_then_nothing_is_closed(self):
        # the first bytes of a header and then silence: nginx 1.22 parses what the first read
        # gave and calls it broken at once; a server that waits for the rest is bounded by
        # client_header_timeout (1s) instead. Either way the connection closes unanswered.
        self.assert_closed(b"PROXY TCP4 192.0.2.12 ")
        self.assert_logged(self.srv, r'(broken header: "PROXY TCP4 192\.0\.2\.12 "|client timed '
                           r"out \(110: Connection timed out\)) while reading PROXY protocol, "
                           r"client: 127\.0\.0\.1, server: %s" % re.escape(self.server_text("pp")),
                           level="(?:error|info)")

    def test_header_split_across_writes_is_read_whole(self):
        s = socket.create_connection(("127.0.0.1", self.ports["pp"]), timeout=TIMEOUT)
        try:
            s.sendall(b"PROXY TCP4 192.0.2.13 ")
            time.sleep(0.2)
            s.sendall(b"198.51.100.20 1 2\r\n" + get())
            self.assertEqual(body_of(read_to_eof(s)), (200, b"ok 192.0.2.13"))
        finally:
            s.close()

    def test_good_header_after_bad_ones_still_works(self):
        self.assertEqual(body_of(exchange(self.ports["pp"], v1(src="192.0.2.14") + get())),
                         (200, b"ok 192.0.2.14"))


# ---------------------------------------------------------------- TLS after the header

TLS_CONF = """
http {
  server {
    listen 127.0.0.1:%(tls)d ssl proxy_protocol;
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    location / { return 200 RETURN; }
  }
}
""".replace("RETURN", '"%s"' % "|".join([
    "$proxy_protocol_addr", "$proxy_protocol_port", "$remote_addr", "$https", "$ssl_server_name"]))


@for_each_target
class TlsTest(ClassServer):
    CONF = TLS_CONF
    PORTS = ("tls",)

    def tls_request(self, header, requests=(get(),)):
        raw = socket.create_connection(("127.0.0.1", self.ports["tls"]), timeout=TIMEOUT)
        try:
            if header:
                raw.sendall(header)
            s = client_tls_context().wrap_socket(raw, server_hostname="a.test")
            out, buf = [], b""
            for req in requests:
                s.sendall(req)
                resp, buf = proxyd_test.recv_response(s, buf)
                out.append(body_of(resp))
            s.close()
            return out
        finally:
            raw.close()

    def test_v1_header_then_tls_handshake(self):
        (answer,) = self.tls_request(v1(src="192.0.2.21", sport=2121))
        self.assertEqual(answer, (200, b"192.0.2.21|2121|192.0.2.21|on|a.test"))

    def test_v2_header_with_tlvs_then_tls_handshake(self):
        (answer,) = self.tls_request(v2(src="192.0.2.22", sport=2222,
                                        tlvs=tlv(TLV_AUTHORITY, b"a.test")))
        self.assertEqual(answer, (200, b"192.0.2.22|2222|192.0.2.22|on|a.test"))

    def test_header_and_client_hello_in_one_write(self):
        sock = socket.create_connection(("127.0.0.1", self.ports["tls"]), timeout=TIMEOUT)
        try:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = client_tls_context().wrap_bio(incoming, outgoing, server_hostname="a.test")
            first = True
            while True:
                try:
                    tls.do_handshake()
                    done = True
                except ssl.SSLWantReadError:
                    done = False
                out = outgoing.read()
                if first:
                    out, first = v1(src="192.0.2.24", sport=2424) + out, False
                if out:
                    sock.sendall(out)
                if done:
                    break
                data = sock.recv(65536)
                if not data:
                    raise AssertionError("the server closed during the handshake")
                incoming.write(data)
            tls.write(get())
            sock.sendall(outgoing.read())
            plain = b""
            while True:
                try:
                    chunk = tls.read(65536)
                    if not chunk:
                        break
                    plain += chunk
                except ssl.SSLWantReadError:
                    data = sock.recv(65536)
                    if not data:
                        break
                    incoming.write(data)
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    break
            self.assertEqual(body_of(plain), (200, b"192.0.2.24|2424|192.0.2.24|on|a.test"))
        finally:
            sock.close()

    def test_keepalive_tls_requests_after_one_header(self):
        answers = self.tls_request(v1(src="192.0.2.23", sport=2323),
                                   (get(close=False), get(close=False), get()))
        self.assertEqual(answers, [(200, b"192.0.2.23|2323|192.0.2.23|on|a.test")] * 3)

    def test_tls_handshake_without_a_header_is_refused(self):
        with self.assertRaises((ssl.SSLError, OSError)):
            self.tls_request(b"")
        self.assert_logged(self.srv, r'broken header: ".*" while reading PROXY protocol, '
                           r"client: 127\.0\.0\.1, server: %s" % re.escape(self.server_text("tls")))


# ---------------------------------------------------------------- HTTP/2 after the header

H2_CONF = """
http {
  server {
    listen 127.0.0.1:%(h2c)d http2 proxy_protocol;
    listen 127.0.0.1:%(h2tls)d ssl http2 proxy_protocol;
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    location / { return 200 RETURN; }
  }
}
""".replace("RETURN", '"%s"' % "|".join([
    "$proxy_protocol_addr", "$proxy_protocol_port", "$remote_addr", "$server_protocol"]))


def h2_get(sock, paths):
    """GETs paths as HTTP/2 streams on sock (header and TLS, if any, done); the bodies."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding=None))
    conn.initiate_connection()
    sids = []
    for path in paths:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(b":method", b"GET"), (b":path", path.encode()),
                                (b":scheme", b"http"), (b":authority", b"a.test")],
                          end_stream=True)
        sids.append(sid)
    sock.sendall(conn.data_to_send())
    bodies, ended = {sid: b"" for sid in sids}, set()
    while len(ended) < len(sids):
        data = sock.recv(65536)
        if not data:
            raise AssertionError("the server closed the HTTP/2 connection")
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                raise AssertionError("stream %d reset" % event.stream_id)
        out = conn.data_to_send()
        if out:
            sock.sendall(out)
    return [bodies[sid] for sid in sids]


@for_each_target
class Http2Test(ClassServer):
    CONF = H2_CONF
    PORTS = ("h2c", "h2tls")

    def test_h2c_prior_knowledge_after_the_header(self):
        s = socket.create_connection(("127.0.0.1", self.ports["h2c"]), timeout=TIMEOUT)
        try:
            s.sendall(v1(src="192.0.2.31", sport=3131))
            self.assertEqual(h2_get(s, ["/a", "/b"]), [b"192.0.2.31|3131|192.0.2.31|HTTP/2.0"] * 2)
        finally:
            s.close()

    def test_h2_over_tls_after_a_v2_header(self):
        raw = socket.create_connection(("127.0.0.1", self.ports["h2tls"]), timeout=TIMEOUT)
        try:
            raw.sendall(v2(src="192.0.2.32", sport=3232))
            ctx = client_tls_context()
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(raw, server_hostname="a.test")
            self.assertEqual(s.selected_alpn_protocol(), "h2")
            self.assertEqual(h2_get(s, ["/a"]), [b"192.0.2.32|3232|192.0.2.32|HTTP/2.0"])
            s.close()
        finally:
            raw.close()


# ---------------------------------------------------------------- HAProxy in front

BEHIND_CONF = """
http {
  server {
    listen 127.0.0.1:%(pp)d proxy_protocol;
    set_real_ip_from 127.0.0.1;
    real_ip_header proxy_protocol;
    location / { return 200 RETURN; }
  }
}
""".replace("RETURN", '"%s"' % "|".join([
    "$remote_addr", "$realip_remote_addr", "$proxy_protocol_addr", "$proxy_protocol_server_addr",
    "$proxy_protocol_server_port"]))

HAPROXY_CONF = """global
  maxconn 100
defaults
  mode %(mode)s
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend fe
  bind %(bind)s
  default_backend be
backend be
  server s1 127.0.0.1:%(port)d %(send)s
"""


@for_each_target
class HaproxyTest(ClassServer):
    """client (127.0.0.3 or ::1) -> HAProxy (127.0.0.2 or ::1) -> the server (127.0.0.1) with
    the PROXY header HAProxy writes: the client's address must come through, not HAProxy's."""
    CONF = BEHIND_CONF
    PORTS = ("pp",)

    def start_haproxy(self, mode, send, bind_host):
        port = proxyd_test.free_port()
        bind = "[%s]:%d" % (bind_host, port) if ":" in bind_host else "%s:%d" % (bind_host, port)
        path = os.path.join(self.tmp, "haproxy-%d.cfg" % port)
        with open(path, "w") as f:
            f.write(HAPROXY_CONF % {"mode": mode, "bind": bind, "port": self.ports["pp"],
                                    "send": send})
        proc = subprocess.Popen([HAPROXY, "-db", "-f", path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

        def stop():
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(stop)
        if not proxyd_test.wait_port(port, host=bind_host):
            stop()
            self.fail("haproxy did not listen on %s" % bind)
        return port

    def through(self, mode, send, bind_host, source):
        port = self.start_haproxy(mode, send, bind_host)
        status, body = body_of(exchange(port, get(), host=bind_host, source=source))
        self.assertEqual(status, 200, body)
        return body.decode().split("|")

    def test_haproxy_http_mode_send_proxy(self):
        fields = self.through("http", "send-proxy", "127.0.0.2", "127.0.0.3")
        self.assertEqual(fields, ["127.0.0.3", "127.0.0.1", "127.0.0.3", "127.0.0.2",
                                  fields[4]])

    def test_haproxy_http_mode_send_proxy_v2(self):
        fields = self.through("http", "send-proxy-v2", "127.0.0.2", "127.0.0.3")
        self.assertEqual(fields[:4], ["127.0.0.3", "127.0.0.1", "127.0.0.3", "127.0.0.2"])

    def test_haproxy_tcp_mode_send_proxy(self):
        fields = self.through("tcp", "send-proxy", "127.0.0.2", "127.0.0.3")
        self.assertEqual(fields[:4], ["127.0.0.3", "127.0.0.1", "127.0.0.3", "127.0.0.2"])

    def test_haproxy_tcp_mode_send_proxy_v2_from_ipv6(self):
        fields = self.through("tcp", "send-proxy-v2", "::1", None)
        self.assertEqual(fields[:4], ["::1", "127.0.0.1", "::1", "::1"])

    def test_haproxy_http_mode_send_proxy_from_ipv6(self):
        fields = self.through("http", "send-proxy", "::1", None)
        self.assertEqual(fields[:4], ["::1", "127.0.0.1", "::1", "::1"])


# ---------------------------------------------------------------- configuration

@for_each_target
class ConfigTest(TargetCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="proxyd-e2e-pp-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, http):
        """`-t` on a configuration with http; (exit code, [[level] message, ...])."""
        path = os.path.join(self.dir, "x.conf")
        with open(path, "w") as f:
            f.write("error_log %s/error.log;\npid %s/x.pid;\nevents {}\n%s" % (
                self.dir, self.dir, http.replace("PORT", str(proxyd_test.free_port()))))
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

    def test_proxy_protocol_listen_parameter_passes(self):
        rc, lines = self.check("http {\n  server {\n    listen 127.0.0.1:PORT proxy_protocol;\n"
                               "    listen [::1]:PORT ssl proxy_protocol;\n"
                               "    ssl_certificate %s/a.pem;\n    ssl_certificate_key %s/a.key;\n"
                               "    set_real_ip_from 127.0.0.1;\n"
                               "    real_ip_header proxy_protocol;\n"
                               "    return 200 \"$proxy_protocol_addr $proxy_protocol_port "
                               "$proxy_protocol_server_addr $proxy_protocol_server_port\";\n"
                               "  }\n}\n" % (CERTS, CERTS))
        self.assertEqual((rc, lines), (0, []))

    def test_proxy_protocol_with_a_value_is_an_invalid_parameter(self):
        rc, lines = self.check("http {\n  server {\n    listen 127.0.0.1:PORT proxy_protocol=on;\n"
                               "  }\n}\n")
        self.assertEqual((rc, lines), (1, ['[emerg] invalid parameter "proxy_protocol=on" in '
                                           'DIR/x.conf:6']))


# ---------------------------------------------------------------- TLVs (nginx >= 1.23.2)

TLV_CONF = """
http {
  server {
    listen 127.0.0.1:%(pp)d proxy_protocol;
    location / {
      return 200 RETURN;
    }
    location /ssl-hex {
      return 200 "$proxy_protocol_tlv_ssl_0x21|$proxy_protocol_tlv_ssl_0x22";
    }
    location /bogus {
      return 200 "[$proxy_protocol_tlv_bogus]";
    }
  }
}
""".replace("RETURN", '"%s"' % "|".join("$proxy_protocol_tlv_" + name for name in (
    "alpn", "authority", "unique_id", "ssl_version", "ssl_cn", "ssl_cipher", "ssl_verify", "0xe0",
    "0x01", "0x2")))


@proxyd_only
class TlvTest(ClassServer):
    CONF = TLV_CONF
    PORTS = ("pp",)
    PROXYD_BUGS = {}

    def fields(self, header, path="/"):
        status, body = body_of(exchange(self.ports["pp"], header + get(path)))
        self.assertEqual(status, 200, body)
        return body.decode().split("|")

    def test_tlv_variables_by_name_and_by_number(self):
        tlvs = (tlv(TLV_ALPN, b"h2") + tlv(TLV_AUTHORITY, b"a.test")
                + tlv(TLV_UNIQUE_ID, b"conn-42")
                + ssl_tlv(0x07, 0, tlv(SSL_VERSION, b"TLSv1.3"), tlv(SSL_CN, b"client1"),
                          tlv(SSL_CIPHER, b"TLS_AES_128_GCM_SHA256"))
                + tlv(0xE0, b"custom"))
        self.assertEqual(self.fields(v2(tlvs=tlvs)), [
            "h2", "a.test", "conn-42", "TLSv1.3", "client1", "TLS_AES_128_GCM_SHA256", "0",
            "custom", "h2", "a.test"])

    def test_ssl_verify_shows_the_verify_field(self):
        tlvs = ssl_tlv(0x03, 20, tlv(SSL_VERSION, b"TLSv1.2"))
        self.assertEqual(self.fields(v2(tlvs=tlvs))[3:7], ["TLSv1.2", "", "", "20"])

    def test_ssl_sub_tlvs_by_number(self):
        tlvs = ssl_tlv(0x01, 0, tlv(SSL_VERSION, b"TLSv1.3"), tlv(SSL_CN, b"c1"))
        self.assertEqual(self.fields(v2(tlvs=tlvs), "/ssl-hex"), ["TLSv1.3", "c1"])

    def test_absent_tlvs_are_empty(self):
        self.assertEqual(self.fields(v2(tlvs=tlv(TLV_ALPN, b"http/1.1"))),
                         ["http/1.1", "", "", "", "", "", "", "", "http/1.1", ""])

    def test_tlvs_of_a_v1_header_are_empty(self):
        self.assertEqual(self.fields(v1()), [""] * 10)

    def test_tlvs_of_a_local_header_are_not_read(self):
        # nginx keeps nothing of a header that is not PROXY over INET or INET6
        self.assertEqual(self.fields(v2(command=V2_LOCAL, family=AF_UNSPEC,
                                        tlvs=tlv(TLV_ALPN, b"h2"))), [""] * 10)

    def test_unknown_tlv_name_is_empty_and_logged(self):
        # current nginx: $proxy_protocol_tlv_ is a prefix variable, so any name passes the
        # configuration; an unknown one is logged when asked for and has no value
        status, body = body_of(exchange(self.ports["pp"], v2(tlvs=tlv(TLV_ALPN, b"h2"))
                                        + get("/bogus")))
        self.assertEqual((status, body), (200, b"[]"))
        self.assert_logged(self.srv, r'unknown PROXY protocol TLV "bogus", client: 127\.0\.0\.1, '
                           r'server: [^,]*, request: "GET /bogus HTTP/1\.1", host: "a\.test"')

    def test_unknown_tlv_name_passes_the_configuration_test(self):
        d = tempfile.mkdtemp(prefix="proxyd-e2e-pp-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "x.conf")
        with open(path, "w") as f:
            f.write("error_log %s/error.log;\nevents {}\nhttp {\n  server {\n"
                    "    listen 127.0.0.1:%d proxy_protocol;\n"
                    "    return 200 $proxy_protocol_tlv_bogus;\n  }\n}\n"
                    % (d, proxyd_test.free_port()))
        p = subprocess.run([proxyd_test.PROXYD_BIN, "-t", "-p", d + "/", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)



# ---------------------------------------------------------------- sending (HAProxy's spelling)

SEND_HAPROXY = """global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend v1
  bind 127.0.0.1:%(hv1)d accept-proxy
  http-request return status 200 content-type text/plain lf-string "%%[src]|%%[src_port]|%%[dst]|%%[dst_port]"
frontend v2
  bind 127.0.0.1:%(hv2)d accept-proxy
  http-request return status 200 content-type text/plain lf-string "%%[src]|%%[src_port]|%%[dst]|%%[dst_port]"
frontend tls
  bind 127.0.0.1:%(htls)d accept-proxy ssl crt %(pem)s
  http-request return status 200 content-type text/plain lf-string "%%[src]|%%[src_port]|%%[dst]|%%[dst_port]"
"""

SEND_CONF = """
http {
  upstream v1 { server 127.0.0.1:%(hv1)d send-proxy; keepalive 8; }
  upstream v2 { server 127.0.0.1:%(hv2)d send-proxy-v2; keepalive 8; }
  upstream tls { server 127.0.0.1:%(htls)d send-proxy-v2; }
  server {
    listen 127.0.0.1:%(px)d;
    listen [::1]:%(px)d;
    location /v1 { proxy_pass http://v1; }
    location /v2 { proxy_pass http://v2; }
    location /tls { proxy_pass https://tls; }
  }
  server {
    listen 127.0.0.1:%(pp)d proxy_protocol;
    location /v1 { proxy_pass http://v1; }
    location /v2 { proxy_pass http://v2; }
  }
}
"""


@proxyd_only
class SendTest(ClassServer):
    """proxyd -> HAProxy 2.6 (`bind ... accept-proxy`), which answers with the addresses the
    PROXY header gave it: the client's, whether it reached proxyd directly (from 127.0.0.3,
    127.0.0.4 or ::1) or came with a header of its own. nginx's http proxy has no way to send
    one (`server ... send-proxy` is HAProxy's spelling), hence proxyd only."""
    CONF = SEND_CONF
    PORTS = ("hv1", "hv2", "htls", "px", "pp")

    @classmethod
    def setUpClass(cls):
        # HAProxy first; proxyd then waits on its own ports only
        cls.tmp = tempfile.mkdtemp(prefix="proxyd-e2e-pp-")
        cls.ports = {name: proxyd_test.free_port() for name in cls.PORTS}
        pem = os.path.join(cls.tmp, "haproxy.pem")
        with open(pem, "w") as out:
            for name in ("a.pem", "a.key"):
                with open(os.path.join(CERTS, name)) as f:
                    out.write(f.read())
        path = os.path.join(cls.tmp, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(SEND_HAPROXY % dict(cls.ports, pem=pem))
        cls.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", path], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        cls.srv = make_server(cls.KIND, expand(cls.CONF, cls.tmp, **cls.ports))
        try:
            if not all(proxyd_test.wait_port(cls.ports[n]) for n in ("hv1", "hv2", "htls")):
                raise RuntimeError("haproxy did not listen")
            cls.srv.start()
            wait_listening(cls.KIND, cls.srv, [("127.0.0.1", cls.ports["px"]),
                                               ("127.0.0.1", cls.ports["pp"])], RuntimeError)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        proc = getattr(cls, "haproxy", None)
        if proc:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        super().tearDownClass()

    def seen(self, path, port=None, host="127.0.0.1", source=None, prefix=b""):
        status, body = body_of(exchange(port or self.ports["px"], prefix + get(path), host=host,
                                        source=source))
        self.assertEqual(status, 200, body)
        return body.decode().split("|")

    def test_send_proxy_names_the_client_and_the_address_it_reached(self):
        src, sport, dst, dport = self.seen("/v1", source="127.0.0.3")
        self.assertEqual((src, dst, dport), ("127.0.0.3", "127.0.0.1", str(self.ports["px"])))
        self.assertTrue(sport.isdigit() and int(sport) > 0, sport)

    def test_send_proxy_v2_names_the_client(self):
        src, _, dst, dport = self.seen("/v2", source="127.0.0.3")
        self.assertEqual((src, dst, dport), ("127.0.0.3", "127.0.0.1", str(self.ports["px"])))

    def test_send_proxy_v2_goes_before_the_tls_handshake_of_an_https_upstream(self):
        src, _, dst, _ = self.seen("/tls", source="127.0.0.3")
        self.assertEqual((src, dst), ("127.0.0.3", "127.0.0.1"))

    def test_an_ipv6_client_is_named_with_its_ipv6_address(self):
        for path in ("/v1", "/v2"):
            with self.subTest(path=path):
                src, _, dst, dport = self.seen(path, host="::1")
                self.assertEqual((src, dst, dport), ("::1", "::1", str(self.ports["px"])))

    def test_the_header_a_client_came_with_is_passed_on(self):
        for path, header in (("/v1", v1(src="192.0.2.7", dst="198.51.100.9", sport=4242,
                                         dport=8443)),
                             ("/v2", v2(src="192.0.2.8", dst="198.51.100.9", sport=4243,
                                        dport=8443))):
            with self.subTest(path=path):
                fields = self.seen(path, port=self.ports["pp"], prefix=header)
                want = ["192.0.2.7", "4242"] if path == "/v1" else ["192.0.2.8", "4243"]
                self.assertEqual(fields, want + ["198.51.100.9", "8443"])

    def test_a_connection_that_named_one_client_is_not_reused_for_another(self):
        # keepalive 8 in the group: without the rule the second client would be named as the first
        for source in ("127.0.0.3", "127.0.0.4", "127.0.0.3", "127.0.0.4"):
            with self.subTest(source=source):
                self.assertEqual(self.seen("/v1", source=source)[0], source)
                self.assertEqual(self.seen("/v2", source=source)[0], source)

    def test_send_proxy_v3_is_an_invalid_parameter(self):
        d = tempfile.mkdtemp(prefix="proxyd-e2e-pp-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "x.conf")
        with open(path, "w") as f:
            f.write("error_log %s/error.log;\npid %s/x.pid;\nevents {}\nhttp {\n"
                    "  upstream u {\n    server 127.0.0.1:1 send-proxy-v3;\n  }\n}\n" % (d, d))
        p = subprocess.run([binary("proxyd"), "-t", "-p", d + "/", "-c", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn('[emerg] invalid parameter "send-proxy-v3" in %s:6' % path, p.stderr)


if __name__ == "__main__":
    proxyd_test.main()
