"""TLS termination (ngx_http_ssl_module), every case run under Debian's nginx and proxyd with the
same configuration and the same expectation, so the expected answers here are nginx's.

Certificates are made by the `openssl` CLI once for the module (setUpModule): a test CA, RSA
certificates for a.test and b.test, an ECDSA one for a.test (both on one server), a leaf with
an intermediate in its chain file, a client CA with client1 (directly), client2 (through one
intermediate) and client3 (through two), a client certificate from another CA, an encrypted
key, ticket key files and DH parameters.

Clients are Python's ssl module, `openssl s_client` (groups, early data, CA names) and curl.
SSL_E2E_TARGETS="proxyd" (or "nginx", default "proxyd,nginx") picks the binaries; each test
class exists once per binary: FooTest_proxyd and FooTest_nginx."""
import asyncio
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

try:
    import websockets
    import websockets.exceptions
except ImportError:  # the websocket case needs Debian's python3-websockets
    websockets = None

TARGETS = [t for t in os.environ.get("SSL_E2E_TARGETS", "proxyd,nginx").split(",") if t]
TIMEOUT = 10  # bound of every client exchange, in seconds
CERTS = None  # the module's certificate directory (setUpModule)

# ---------------------------------------------------------------- certificates

OPENSSL_CNF = "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n"
PASSWORD = "s3cret"
CLIENT1_SERIAL = "1A2B3C4D"
ISSUE = [
    # name, key type, subject, issuer (None: self-signed CA), extensions, serial
    ("ca", "ec", "/CN=Test CA", None, "ca", "01"),
    ("a", "rsa", "/CN=a.test", "ca", "DNS:a.test", "1001"),
    ("a_ec", "ec", "/CN=a.test", "ca", "DNS:a.test", "1002"),
    ("a2", "ec", "/O=Reloaded/CN=a.test", "ca", "DNS:a.test", "1003"),
    ("b", "rsa", "/CN=b.test", "ca", "DNS:b.test", "1004"),
    ("inter", "ec", "/CN=Test Intermediate CA", "ca", "ca", "02"),
    ("c", "ec", "/CN=c.test", "inter", "DNS:c.test", "1005"),
    ("cca", "ec", "/CN=Client CA", None, "ca", "03"),
    ("client1", "ec", "/O=Test Clients/CN=client1", "cca", "client", CLIENT1_SERIAL),
    ("cint", "ec", "/CN=Client Intermediate CA", "cca", "ca", "04"),
    ("client2", "ec", "/CN=client2", "cint", "client", "2002"),
    ("cint2", "ec", "/CN=Client Intermediate CA 2", "cint", "ca", "06"),
    ("client3", "ec", "/CN=client3", "cint2", "client", "2003"),
    ("oca", "ec", "/CN=Other CA", None, "ca", "05"),
    ("intruder", "ec", "/CN=intruder", "oca", "client", "3003"),
]


def openssl(*args, cwd=None, input=None):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, input=input, capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def make_certs(d):
    with open(os.path.join(d, "min.cnf"), "w") as f:
        f.write(OPENSSL_CNF)
    for name, kind, subject, issuer, ext, serial in ISSUE:
        key = ["-newkey", "rsa:2048"] if kind == "rsa" else [
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        args = ["req", "-config", "min.cnf", "-x509", "-nodes", "-days", "30"] + key + [
            "-keyout", name + ".key", "-out", name + ".pem", "-subj", subject,
            "-set_serial", "0x" + serial]
        if issuer:
            args += ["-CA", issuer + ".pem", "-CAkey", issuer + ".key"]
        if ext == "ca":
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        elif ext == "client":
            args += ["-addext", "basicConstraints=CA:FALSE",
                     "-addext", "extendedKeyUsage=clientAuth"]
        else:
            args += ["-addext", "basicConstraints=CA:FALSE", "-addext", "subjectAltName=" + ext]
        openssl(*args, cwd=d)

    def cat(out, *names):
        with open(os.path.join(d, out), "wb") as f:
            for n in names:
                with open(os.path.join(d, n), "rb") as g:
                    f.write(g.read())
    cat("c_chain.pem", "c.pem", "inter.pem")
    cat("client2_chain.pem", "client2.pem", "cint.pem")
    cat("client3_chain.pem", "client3.pem", "cint2.pem", "cint.pem")
    openssl("pkey", "-in", "a_ec.key", "-aes256", "-passout", "pass:" + PASSWORD,
            "-out", "enc.key", cwd=d)
    openssl("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
            "-out", "dh.pem", cwd=d)
    files = {"pw_good": PASSWORD + "\n", "pw_multi": "wrong\nnope\n" + PASSWORD + "\n",
             "pw_bad": "wrong\n"}
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    for name, size in (("ticket80.key", 80), ("ticket48.key", 48), ("ticket50.key", 50)):
        with open(os.path.join(d, name), "wb") as f:
            f.write(os.urandom(size))


def cert_file(name):
    return os.path.join(CERTS, name)


def der(name):
    with open(cert_file(name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def setUpModule():
    global CERTS
    CERTS = tempfile.mkdtemp(prefix="proxyd-e2e-ssl-certs-")
    try:
        make_certs(CERTS)
    except BaseException:
        shutil.rmtree(CERTS, ignore_errors=True)
        raise


def tearDownModule():
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)


def expand(conf, **ports):
    """CERTS/x in a configuration becomes the absolute path; %(name)d the ports given."""
    return conf.replace("CERTS/", CERTS + "/") % ports


# ---------------------------------------------------------------- servers

def make_server(kind, conf, workers=1):
    """A server (not started) for the http{} text conf under kind ("proxyd" or "nginx")."""
    if kind == "proxyd":
        return proxyd_test.Proxyd(conf, workers=workers)
    srv = proxyd_test.NginxRef(conf)
    if workers != 1:
        with open(srv.conf_path) as f:
            text = f.read()
        with open(srv.conf_path, "w") as f:
            f.write(text.replace("worker_processes 1;", "worker_processes %d;" % workers, 1))
    return srv


def binary(kind):
    return proxyd_test.PROXYD_BIN if kind == "proxyd" else proxyd_test.NGINX_BIN


def check_config(kind, path, prefix):
    """Runs `-t` on a configuration file; returns (exit code, [[level] message, ...]) with the
    "N#N: " pid part nginx prints dropped and the temp dir written as DIR."""
    cmd = [binary(kind), "-t", "-p", prefix + "/", "-c", path]
    if kind == "nginx":
        cmd += ["-e", "stderr"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    lines = []
    for line in p.stderr.splitlines():
        m = re.search(r"\[(\w+)\] (?:\d+#\d+: )?(.*)$", line)
        if m:
            lines.append("[%s] %s" % (m.group(1), m.group(2).replace(prefix, "DIR")
                                      .replace(CERTS, "CERTS")))
    return p.returncode, lines


def wait_listening(kind, srv, ports, error):
    """Waits until srv listens on every port; raises error with what it said when it exits or
    does not listen within 5 seconds."""
    deadline = time.time() + 5
    for p in ports:
        while not proxyd_test.wait_port(p, timeout=0.2):
            if srv.proc.poll() is not None or time.time() > deadline:
                said = srv.proc.stderr.read().decode() if srv.proc.poll() is not None else ""
                raise error("%s did not listen on %d:\n%s%s" % (
                    kind, p, said, srv.read_error_log()))


class TargetCase(unittest.TestCase):
    """A test run against one binary: KIND is "proxyd" or "nginx" (set by for_each_target)."""
    KIND = None

    def start_server(self, conf, ports, workers=1):
        """Starts conf (http{} text with CERTS/ and %(name)d placeholders for the ports dict)
        for this test; waits on every port; stopped and removed at cleanup."""
        srv = make_server(self.KIND, expand(conf, **ports), workers=workers)
        self.addCleanup(srv.cleanup)
        srv.start()
        wait_listening(self.KIND, srv, ports.values(), AssertionError)
        return srv

    def assert_canonical(self, resp, expected):
        head, _, body = resp.partition(b"\r\n\r\n")
        m = re.search(rb"(?mi)^Content-Length: ([0-9]+)", head)
        self.assertIsNotNone(m, resp[:300])
        self.assertEqual(int(m.group(1)), len(body), "Content-Length is not the body's length")
        self.assertEqual(canonical(resp), expected)

    def older_nginx(self, version):
        """True when this run is Debian's nginx older than version (where current nginx, which
        proxyd follows, changed the behaviour)."""
        return self.KIND == "nginx" and nginx_version() < version


class ClassServer(TargetCase):
    """One server for the whole class: CONF with the port names in PORTS."""
    CONF = None
    PORTS = ()
    WORKERS = 1

    @classmethod
    def setUpClass(cls):
        cls.ports = {name: proxyd_test.free_port() for name in cls.PORTS}
        cls.srv = make_server(cls.KIND, expand(cls.CONF, **cls.ports), workers=cls.WORKERS)
        try:
            cls.srv.start()
            wait_listening(cls.KIND, cls.srv, cls.ports.values(), RuntimeError)
        except BaseException:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()


def for_each_target(cls):
    """Class decorator: cls_proxyd and cls_nginx (as SSL_E2E_TARGETS says)."""
    return proxyd_test.per_target(cls, TARGETS, globals())


# ---------------------------------------------------------------- clients

def client_context(verify=True, version=None, ciphers=None, cert=None, alpn=None):
    """A client SSLContext trusting the test CA. version: "TLSv1.2"/"TLSv1.3" to offer only that
    one; cert: a name whose .pem (or a chain file name) and .key present a client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        ctx.load_verify_locations(cert_file("ca.pem"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version:
        v = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}[version]
        ctx.minimum_version = ctx.maximum_version = v
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        pem, key = cert if isinstance(cert, tuple) else (cert + ".pem", cert + ".key")
        ctx.load_cert_chain(cert_file(pem), cert_file(key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def tls_connect(port, ctx=None, sni="a.test", session=None):
    """A TLS socket to 127.0.0.1:port, handshake done (raises ssl.SSLError when it fails)."""
    ctx = ctx or client_context()
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(raw, server_hostname=sni, session=session)
    except BaseException:
        raw.close()
        raise


def request_bytes(path="/", host="a.test", keepalive=False):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        path, host, "" if keepalive else "Connection: close\r\n")).encode()


def tls_get(port, path="/", ctx=None, sni="a.test", host=None, session=None):
    """One request on a fresh TLS connection: (status, headers, body, socket's session info)
    where info is {"reused": bool, "session": SSLSession, "cipher": name, "version": str,
    "cert": peer certificate DER}."""
    s = tls_connect(port, ctx, sni, session)
    try:
        s.sendall(request_bytes(path, host or sni or "a.test"))
        data, _ = proxyd_test.recv_response(s)
        info = {"reused": s.session_reused, "session": s.session, "cipher": s.cipher()[0],
                "version": s.version(), "cert": s.getpeercert(binary_form=True)}
    finally:
        s.close()
    (status, headers, body), = proxyd_test.parse_responses(data)
    return status, headers, body, info


def s_client(port, *args, input=b"", sni="a.test"):
    """Runs `openssl s_client` against 127.0.0.1:port; returns its stdout+stderr as text."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-CAfile",
           cert_file("ca.pem")] + (["-servername", sni] if sni else ["-noservername"]) + list(args)
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=TIMEOUT)
    return (p.stdout + p.stderr).decode("latin-1")


def tls_exchange(port, data, ctx=None, sni="a.test"):
    """Sends data on a fresh TLS connection; returns every byte read until the server closed."""
    s = tls_connect(port, ctx, sni)
    try:
        s.sendall(data)
        return read_to_eof(s)
    finally:
        s.close()


def read_to_eof(sock):
    """What sock yields until the peer closes: b"" when it closed with nothing more to say.
    AssertionError when the peer keeps it open past the socket's timeout."""
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except (ssl.SSLEOFError, ConnectionResetError):
            break
        except socket.timeout:
            got = b"".join(chunks)
            raise AssertionError("the server kept the connection open for %ss (read so far: %d "
                                 "bytes: %r...)" % (sock.gettimeout(), len(got), got[:200]))
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def canonical(resp):
    """A whole response with what legitimately differs between nginx and proxyd made equal:
    Date, Server, the server's name in error pages, and so the Content-Length value (checked
    against the body separately by assert_canonical)."""
    data = proxyd_test.normalize_response(resp)
    return re.sub(rb"(?m)^Content-Length: [0-9]+", b"Content-Length: X", data)


def error_page(status, title, reason=None):
    """nginx's error page for status, normalised like canonical()."""
    text = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
            "<center><h1>%d %s</h1></center>\r\n" % (
                status, reason or title, status, title))
    if reason:
        text += "<center>%s</center>\r\n" % reason
    return (text + "<hr><center>X</center>\r\n</body>\r\n</html>\r\n").encode()


def error_response(reason):
    """The whole 400 response nginx sends for an SSL reason (plain HTTP, client certificate)."""
    return (b"HTTP/1.1 400 Bad Request\r\nServer: X\r\nDate: X\r\nContent-Type: text/html\r\n"
            b"Content-Length: X\r\nConnection: close\r\n\r\n"
            + error_page(400, "Bad Request", reason))


NGINX_VERSION = None


def nginx_version():
    global NGINX_VERSION
    if NGINX_VERSION is None:
        p = subprocess.run([proxyd_test.NGINX_BIN, "-v"], capture_output=True, text=True)
        m = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", p.stderr)
        NGINX_VERSION = tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
    return NGINX_VERSION


# ================================================================ handshake, protocols, ciphers

SHOW = ('return 200 "$ssl_protocol $scheme $https [$ssl_server_name] $ssl_session_reused '
        '$ssl_cipher\\n";')


@for_each_target
class HandshakeTest(ClassServer):
    PORTS = ("main", "tls12", "tls13", "default", "plain", "ciphers", "prefer", "curve", "dh",
             "nodh", "chain", "builtin", "none")
    CONF = r"""
http {
    server_tokens off;
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    server {
        listen 127.0.0.1:%(main)d ssl;
        server_name a.test;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate CERTS/a.pem;
        ssl_certificate_key CERTS/a.key;
        ssl_certificate CERTS/a_ec.pem;
        ssl_certificate_key CERTS/a_ec.key;
        location / { SHOW }
        location /n { return 200 "$connection_requests\n"; }
    }
    server { listen 127.0.0.1:%(tls12)d ssl; ssl_protocols TLSv1.2; location / { SHOW } }
    server { listen 127.0.0.1:%(tls13)d ssl; ssl_protocols TLSv1.3; location / { SHOW } }
    server { listen 127.0.0.1:%(default)d ssl; location / { SHOW } }
    server {
        listen 127.0.0.1:%(plain)d;
        location / { return 200 "$ssl_protocol|$scheme|$https|$ssl_server_name|$ssl_cipher\n"; }
    }
    server {
        listen 127.0.0.1:%(ciphers)d ssl;
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(prefer)d ssl;
        ssl_protocols TLSv1.2;
        ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384;
        ssl_prefer_server_ciphers on;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(curve)d ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve secp384r1;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(dh)d ssl;
        ssl_protocols TLSv1.2;
        ssl_dhparam CERTS/dh.pem;
        location / { SHOW }
    }
    server { listen 127.0.0.1:%(nodh)d ssl; ssl_protocols TLSv1.2; location / { SHOW } }
    server {
        listen 127.0.0.1:%(chain)d ssl;
        server_name c.test;
        ssl_certificate CERTS/c_chain.pem;
        ssl_certificate_key CERTS/c.key;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(builtin)d ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache builtin:1000;
        ssl_session_tickets off;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(none)d ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache none;
        ssl_session_tickets off;
        location / { SHOW }
    }
}
""".replace("SHOW", SHOW)

    def get(self, port_name, **kw):
        return tls_get(self.ports[port_name], **kw)

    def protocol_shown(self, port_name, version):
        """$ssl_protocol as a client offering only version sees it."""
        return self.get(port_name, ctx=client_context(version=version))[2].split(b" ")[0]

    def test_tls13_request_shows_protocol_scheme_https_and_server_name(self):
        status, headers, body, info = self.get("main", ctx=client_context(version="TLSv1.3"))
        self.assertEqual(status, 200)
        self.assertEqual(info["version"], "TLSv1.3")
        self.assertEqual(body.decode(), "TLSv1.3 https on [a.test] . %s\n" % info["cipher"])

    def test_tls12_request_shows_tls12_and_the_negotiated_cipher(self):
        status, headers, body, info = self.get("main", ctx=client_context(version="TLSv1.2"))
        self.assertEqual(status, 200)
        self.assertEqual(info["version"], "TLSv1.2")
        self.assertEqual(body.decode(), "TLSv1.2 https on [a.test] . %s\n" % info["cipher"])

    def test_client_offering_both_versions_gets_tls13(self):
        status, headers, body, info = self.get("main")
        self.assertEqual(info["version"], "TLSv1.3")
        self.assertTrue(body.startswith(b"TLSv1.3 https on "), body)

    def test_tls12_only_server_refuses_a_tls13_only_client(self):
        with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
            self.get("tls12", ctx=client_context(version="TLSv1.3"))
        self.assertEqual(self.protocol_shown("tls12", "TLSv1.2"), b"TLSv1.2")

    def test_tls13_only_server_refuses_a_tls12_only_client(self):
        with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
            self.get("tls13", ctx=client_context(version="TLSv1.2"))
        self.assertEqual(self.protocol_shown("tls13", "TLSv1.3"), b"TLSv1.3")

    def test_default_protocols_include_tls12(self):
        self.assertEqual(self.protocol_shown("default", "TLSv1.2"), b"TLSv1.2")

    def test_default_protocols_include_tls13(self):
        # Current nginx (1.23.4+) defaults to "TLSv1.2 TLSv1.3"; Debian's 1.22 to
        # "TLSv1 TLSv1.1 TLSv1.2", so under it a TLSv1.3-only client fails.
        if self.older_nginx((1, 23, 4)):
            with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
                self.get("default", ctx=client_context(version="TLSv1.3"))
            return
        self.assertEqual(self.protocol_shown("default", "TLSv1.3"), b"TLSv1.3")

    def test_plain_server_has_empty_ssl_variables_and_http_scheme(self):
        resp = proxyd_test.raw_request(self.ports["plain"], request_bytes())
        (status, headers, body), = proxyd_test.parse_responses(resp)
        self.assertEqual((status, body), (200, b"|http|||\n"))

    def test_ecdsa_cipher_gets_the_ecdsa_certificate_and_rsa_cipher_the_rsa_one(self):
        info = self.get("main", ctx=client_context(
            version="TLSv1.2", ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))[3]
        self.assertEqual(info["cipher"], "ECDHE-ECDSA-AES128-GCM-SHA256")
        self.assertEqual(info["cert"], der("a_ec.pem"))
        info = self.get("main", ctx=client_context(
            version="TLSv1.2", ciphers="ECDHE-RSA-AES128-GCM-SHA256"))[3]
        self.assertEqual(info["cipher"], "ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(info["cert"], der("a.pem"))

    def test_ssl_ciphers_limits_the_tls12_ciphers(self):
        with self.assertRaisesRegex(ssl.SSLError, "HANDSHAKE_FAILURE"):
            self.get("ciphers", ctx=client_context(ciphers="ECDHE-RSA-CHACHA20-POLY1305"))
        body = self.get("ciphers", ctx=client_context(ciphers="ECDHE-RSA-AES256-GCM-SHA384"))[2]
        self.assertEqual(body, b"TLSv1.2 https on [a.test] . ECDHE-RSA-AES256-GCM-SHA384\n")

    def test_client_cipher_order_wins_without_ssl_prefer_server_ciphers(self):
        ctx = client_context(ciphers="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(self.get("ciphers", ctx=ctx)[3]["cipher"], "ECDHE-RSA-AES256-GCM-SHA384")

    def test_server_cipher_order_wins_with_ssl_prefer_server_ciphers_on(self):
        ctx = client_context(ciphers="ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")
        self.assertEqual(self.get("prefer", ctx=ctx)[3]["cipher"], "ECDHE-RSA-AES128-GCM-SHA256")

    def test_ssl_ecdh_curve_limits_the_key_exchange_groups(self):
        out = s_client(self.ports["curve"], "-groups", "X25519", "-tls1_3", "-brief")
        self.assertNotIn("CONNECTION ESTABLISHED", out)
        # OpenSSL answers either alert (it varies from run to run under nginx too)
        self.assertRegex(out, "alert (handshake failure|protocol version)")
        out = s_client(self.ports["curve"], "-groups", "X25519:secp384r1", "-brief")
        self.assertIn("CONNECTION ESTABLISHED", out)
        self.assertIn("Server Temp Key: ECDH, secp384r1, 384 bits", out)

    def test_ssl_dhparam_enables_dhe_ciphers(self):
        body = self.get("dh", ctx=client_context(ciphers="DHE-RSA-AES128-GCM-SHA256"))[2]
        self.assertEqual(body, b"TLSv1.2 https on [a.test] . DHE-RSA-AES128-GCM-SHA256\n")

    def test_without_ssl_dhparam_dhe_ciphers_are_not_offered(self):
        with self.assertRaisesRegex(ssl.SSLError, "HANDSHAKE_FAILURE"):
            self.get("nodh", ctx=client_context(ciphers="DHE-RSA-AES128-GCM-SHA256"))

    def test_certificate_file_with_intermediate_lets_the_client_verify(self):
        # the client trusts only the root: the intermediate must come from the chain file
        status, headers, body, info = self.get("chain", sni="c.test")
        self.assertEqual(status, 200)
        self.assertEqual(info["cert"], der("c.pem"))
        out = s_client(self.ports["chain"], "-showcerts", sni="c.test")
        self.assertEqual(out.count("-----BEGIN CERTIFICATE-----"), 2, out)
        self.assertIn("Verify return code: 0 (ok)", out)

    def test_alpn_selects_http11_and_refuses_h2_only(self):
        s = tls_connect(self.ports["main"], client_context(alpn=["h2", "http/1.1"]))
        try:
            self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        finally:
            s.close()
        with self.assertRaisesRegex(ssl.SSLError, "no application protocol"):
            tls_connect(self.ports["main"], client_context(alpn=["h2"])).close()

    def test_curl_https_request(self):
        port = self.ports["main"]
        p = subprocess.run(["curl", "-sS", "--cacert", cert_file("ca.pem"), "--resolve",
                            "a.test:%d:127.0.0.1" % port, "https://a.test:%d/" % port],
                           capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(p.stdout.startswith(b"TLSv1.3 https on [a.test] . TLS_"), p.stdout)

    def test_plain_http_request_to_tls_port_gets_400_plain_http_page(self):
        for req in (request_bytes(keepalive=True), b"GET / HTTP/1.0\r\n\r\n"):
            resp = proxyd_test.raw_request(self.ports["main"], req)
            self.assert_canonical(resp, error_response(
                "The plain HTTP request was sent to HTTPS port"))

    def test_several_requests_on_one_keepalive_tls_connection(self):
        s = tls_connect(self.ports["main"])
        try:
            buf = b""
            for n in range(1, 6):
                s.sendall(request_bytes("/n", keepalive=True))
                resp, buf = proxyd_test.recv_response(s, buf)
                (status, headers, body), = proxyd_test.parse_responses(resp)
                self.assertEqual((status, body), (200, b"%d\n" % n))
                self.assertEqual(headers.get("connection"), "keep-alive")
            self.assertFalse(s.session_reused)
        finally:
            s.close()

    def test_pipelined_requests_in_one_tls_write(self):
        data = request_bytes("/n", keepalive=True) * 3 + request_bytes("/n")
        resp = tls_exchange(self.ports["main"], data)
        got = [(st, b) for st, h, b in proxyd_test.parse_responses(resp)]
        self.assertEqual(got, [(200, b"1\n"), (200, b"2\n"), (200, b"3\n"), (200, b"4\n")])

    def test_builtin_session_cache_resumes_with_one_worker(self):
        ctx = client_context()
        first = self.get("builtin", ctx=ctx)
        self.assertTrue(first[2].startswith(b"TLSv1.3 https on [a.test] . "), first[2])
        for _ in range(3):
            status, headers, body, info = self.get("builtin", ctx=ctx, session=first[3]["session"])
            self.assertTrue(info["reused"])
            self.assertTrue(body.startswith(b"TLSv1.3 https on [a.test] r "), body)

    def test_session_cache_none_without_tickets_never_resumes(self):
        ctx = client_context()
        first = self.get("none", ctx=ctx)
        for _ in range(3):
            status, headers, body, info = self.get("none", ctx=ctx, session=first[3]["session"])
            self.assertFalse(info["reused"])
            self.assertTrue(body.startswith(b"TLSv1.3 https on [a.test] . "), body)


# ================================================================ SNI

@for_each_target
class SniTest(ClassServer):
    PORTS = ("sni", "reject")
    CONF = r"""
http {
    server {
        listen 127.0.0.1:%(sni)d ssl default_server;
        server_name a.test;
        ssl_certificate CERTS/a.pem;
        ssl_certificate_key CERTS/a.key;
        location / { return 200 "a [$ssl_server_name]\n"; }
    }
    server {
        listen 127.0.0.1:%(sni)d ssl;
        server_name b.test;
        ssl_certificate CERTS/b.pem;
        ssl_certificate_key CERTS/b.key;
        location / { return 200 "b [$ssl_server_name]\n"; }
    }
    server {
        listen 127.0.0.1:%(reject)d ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen 127.0.0.1:%(reject)d ssl;
        server_name b.test;
        ssl_certificate CERTS/b.pem;
        ssl_certificate_key CERTS/b.key;
        location / { return 200 "b [$ssl_server_name]\n"; }
    }
}
"""

    def test_sni_a_gets_a_certificate_and_server(self):
        status, headers, body, info = tls_get(self.ports["sni"], sni="a.test")
        self.assertEqual(info["cert"], der("a.pem"))
        self.assertEqual(body, b"a [a.test]\n")

    def test_sni_b_gets_b_certificate_and_server(self):
        status, headers, body, info = tls_get(self.ports["sni"], sni="b.test")
        self.assertEqual(info["cert"], der("b.pem"))
        self.assertEqual(body, b"b [b.test]\n")

    def test_unknown_sni_gets_the_default_server_certificate(self):
        status, headers, body, info = tls_get(self.ports["sni"], sni="c.test",
                                              ctx=client_context(verify=False))
        self.assertEqual(info["cert"], der("a.pem"))
        self.assertEqual(body, b"a [c.test]\n")

    def test_no_sni_gets_the_default_certificate_and_empty_ssl_server_name(self):
        status, headers, body, info = tls_get(self.ports["sni"], sni=None, host="a.test",
                                              ctx=client_context(verify=False))
        self.assertEqual(info["cert"], der("a.pem"))
        self.assertEqual(body, b"a []\n")

    def test_host_header_picks_the_server_after_the_handshake(self):
        # nginx: the certificate follows SNI, the server for the request follows Host
        status, headers, body, info = tls_get(self.ports["sni"], sni="a.test", host="b.test")
        self.assertEqual(info["cert"], der("a.pem"))
        self.assertEqual(body, b"b [a.test]\n")

    def test_reject_handshake_default_server_still_serves_named_server(self):
        status, headers, body, info = tls_get(self.ports["reject"], sni="b.test")
        self.assertEqual(info["cert"], der("b.pem"))
        self.assertEqual((status, body), (200, b"b [b.test]\n"))

    def test_reject_handshake_refuses_unknown_name_with_unrecognized_name_alert(self):
        with self.assertRaisesRegex(ssl.SSLError, "UNRECOGNIZED_NAME"):
            tls_get(self.ports["reject"], sni="c.test", ctx=client_context(verify=False))
        text = proxyd_test.wait_for_text(self.srv.error_log, "handshake rejected")
        self.assertRegex(text, r"\[info\] [^\n]*handshake rejected while SSL handshaking, "
                               r"client: 127\.0\.0\.1, server: 127\.0\.0\.1:%d\n"
                         % self.ports["reject"])

    def test_reject_handshake_refuses_client_without_sni(self):
        with self.assertRaisesRegex(ssl.SSLError, "UNRECOGNIZED_NAME"):
            tls_get(self.ports["reject"], sni=None, host="b.test", ctx=client_context(verify=False))


# ================================================================ client certificates

VERIFY_SHOW = ('return 200 "$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|'
               '$ssl_client_serial|$ssl_client_fingerprint\\n";')


def fingerprint(name):
    return hashlib.sha1(der(name)).hexdigest()


@for_each_target
class ClientCertTest(ClassServer):
    PORTS = ("on", "optional", "noca", "depth2", "trusted")
    CONF = r"""
http {
    server_tokens off;
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_client_certificate CERTS/cca.pem;
    server { listen 127.0.0.1:%(on)d ssl; ssl_verify_client on; location / { SHOW } }
    server { listen 127.0.0.1:%(optional)d ssl; ssl_verify_client optional; location / { SHOW } }
    server { listen 127.0.0.1:%(noca)d ssl; ssl_verify_client optional_no_ca; location / { SHOW } }
    server {
        listen 127.0.0.1:%(depth2)d ssl;
        ssl_verify_client on;
        ssl_verify_depth 2;
        location / { SHOW }
    }
    server {
        listen 127.0.0.1:%(trusted)d ssl;
        ssl_verify_client on;
        ssl_client_certificate CERTS/oca.pem;
        ssl_trusted_certificate CERTS/cca.pem;
        location / { SHOW }
    }
}
""".replace("SHOW", VERIFY_SHOW)

    CLIENT1 = "SUCCESS|CN=client1,O=Test Clients|CN=Client CA|%s|%%s\n" % CLIENT1_SERIAL

    def exchange(self, port_name, cert=None, version=None):
        return tls_exchange(self.ports[port_name], request_bytes(),
                            client_context(cert=cert, version=version))

    def body(self, port_name, cert=None, version=None):
        (status, headers, body), = proxyd_test.parse_responses(
            self.exchange(port_name, cert, version))
        self.assertEqual(status, 200, body)
        return body.decode()

    def test_verify_on_without_certificate_is_400_no_required_certificate(self):
        self.assert_canonical(self.exchange("on"),
                              error_response("No required SSL certificate was sent"))
        text = proxyd_test.wait_for_text(self.srv.error_log, "no required SSL certificate")
        self.assertRegex(text, r"\[info\] [^\n]*client sent no required SSL certificate while "
                               r"reading client request headers, client: 127\.0\.0\.1")

    def test_verify_on_with_certificate_from_another_ca_is_400_certificate_error(self):
        self.assert_canonical(self.exchange("on", "intruder"),
                              error_response("The SSL certificate error"))
        text = proxyd_test.wait_for_text(self.srv.error_log, "certificate verify error")
        self.assertRegex(text, r"\[info\] [^\n]*client SSL certificate verify error: "
                               r"\(21:unable to verify the first certificate\) while reading "
                               r"client request headers, client: 127\.0\.0\.1")

    def test_verify_on_with_good_certificate_sets_client_variables(self):
        self.assertEqual(self.body("on", "client1"), self.CLIENT1 % fingerprint("client1.pem"))

    def test_verify_on_with_good_certificate_over_tls12(self):
        self.assertEqual(self.body("on", "client1", "TLSv1.2"),
                         self.CLIENT1 % fingerprint("client1.pem"))

    def test_verify_optional_without_certificate_is_none(self):
        self.assertEqual(self.body("optional"), "NONE||||\n")

    def test_verify_optional_with_good_certificate_is_success(self):
        self.assertEqual(self.body("optional", "client1"),
                         self.CLIENT1 % fingerprint("client1.pem"))

    def test_verify_optional_with_certificate_from_another_ca_is_400(self):
        self.assert_canonical(self.exchange("optional", "intruder"),
                              error_response("The SSL certificate error"))

    def test_optional_no_ca_with_certificate_from_another_ca_is_failed_with_reason(self):
        self.assertEqual(self.body("noca", "intruder"),
                         "FAILED:unable to verify the first certificate|CN=intruder|CN=Other CA|"
                         "3003|%s\n" % fingerprint("intruder.pem"))

    def test_optional_no_ca_without_certificate_is_none(self):
        self.assertEqual(self.body("noca"), "NONE||||\n")

    def test_one_intermediate_is_within_the_default_verify_depth(self):
        self.assertEqual(self.body("on", ("client2_chain.pem", "client2.key")),
                         "SUCCESS|CN=client2|CN=Client Intermediate CA|2002|%s\n"
                         % fingerprint("client2.pem"))

    def test_chain_longer_than_ssl_verify_depth_is_400_and_accepted_with_larger_depth(self):
        chain = ("client3_chain.pem", "client3.key")
        self.assert_canonical(self.exchange("on", chain),
                              error_response("The SSL certificate error"))
        self.assertEqual(self.body("depth2", chain),
                         "SUCCESS|CN=client3|CN=Client Intermediate CA 2|2003|%s\n"
                         % fingerprint("client3.pem"))

    def test_trusted_certificate_verifies_clients_but_is_not_advertised(self):
        self.assertEqual(self.body("trusted", "client1"), self.CLIENT1 % fingerprint("client1.pem"))
        out = s_client(self.ports["trusted"])
        names = out.partition("Acceptable client certificate CA names")[2].split("Requested")[0]
        self.assertIn("CN = Other CA", names, out)
        self.assertNotIn("Client CA", names, out)


# ================================================================ sessions

@for_each_target
class SessionTest(ClassServer):
    WORKERS = 2
    PORTS = ("shared", "tickets", "off", "tk1", "tk2", "tk48a", "tk48b", "timeout")
    CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:%(shared)d ssl;
        ssl_session_cache shared:SSL:1m;
        ssl_session_tickets off;
        location / { return 200 "$ssl_session_reused"; }
    }
    server { listen 127.0.0.1:%(tickets)d ssl; location / { return 200 "$ssl_session_reused"; } }
    server {
        listen 127.0.0.1:%(off)d ssl;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / { return 200 "$ssl_session_reused"; }
    }
    server {
        listen 127.0.0.1:%(tk1)d ssl;
        ssl_session_ticket_key CERTS/ticket80.key;
        location / { return 200 "tk1 $ssl_session_reused"; }
    }
    server {
        listen 127.0.0.1:%(tk2)d ssl;
        ssl_session_ticket_key CERTS/ticket80.key;
        location / { return 200 "tk2 $ssl_session_reused"; }
    }
    server {
        listen 127.0.0.1:%(tk48a)d ssl;
        ssl_session_ticket_key CERTS/ticket48.key;
        location / { return 200 "tk48a $ssl_session_reused"; }
    }
    server {
        listen 127.0.0.1:%(tk48b)d ssl;
        ssl_session_ticket_key CERTS/ticket48.key;
        location / { return 200 "tk48b $ssl_session_reused"; }
    }
    server {
        listen 127.0.0.1:%(timeout)d ssl;
        ssl_session_cache shared:T:1m;
        ssl_session_timeout 123s;
        location / { return 200 "$ssl_session_reused"; }
    }
}
"""
    ROUNDS = 12

    def resumptions(self, port_name, version, rounds=None, other=None):
        """[(body, reused)] of a first connection and `rounds` more (to port other when given)
        each offering the first connection's session."""
        ctx = client_context(version=version)
        status, headers, body, info = tls_get(self.ports[port_name], ctx=ctx)
        out = [(body, info["reused"])]
        for _ in range(self.ROUNDS if rounds is None else rounds):
            status, headers, body, again = tls_get(self.ports[other or port_name], ctx=ctx,
                                                   session=info["session"])
            self.assertEqual(status, 200)
            out.append((body, again["reused"]))
        return out

    def test_shared_cache_without_tickets_resumes_across_fresh_connections(self):
        # two workers: only a cache shared between them can resume every time
        for version in ("TLSv1.3", "TLSv1.2"):
            with self.subTest(version=version):
                self.assertEqual(self.resumptions("shared", version),
                                 [(b".", False)] + [(b"r", True)] * self.ROUNDS)

    def test_session_tickets_resume_by_default(self):
        for version in ("TLSv1.3", "TLSv1.2"):
            with self.subTest(version=version):
                self.assertEqual(self.resumptions("tickets", version),
                                 [(b".", False)] + [(b"r", True)] * self.ROUNDS)

    def test_cache_off_and_tickets_off_never_resume(self):
        for version in ("TLSv1.3", "TLSv1.2"):
            with self.subTest(version=version):
                self.assertEqual(self.resumptions("off", version, rounds=4), [(b".", False)] * 5)

    def test_ticket_key_file_lets_two_servers_resume_each_other_sessions(self):
        for first, second, key in (("tk1", "tk2", b"tk2"), ("tk48a", "tk48b", b"tk48b")):
            for version in ("TLSv1.3", "TLSv1.2"):
                with self.subTest(key=first, version=version):
                    got = self.resumptions(first, version, rounds=3, other=second)
                    self.assertEqual(got[1:], [(key + b" r", True)] * 3)

    def test_servers_with_their_own_ticket_keys_do_not_resume_each_other_sessions(self):
        got = self.resumptions("tickets", "TLSv1.3", rounds=2, other="tk1")
        self.assertEqual(got[1:], [(b"tk1 .", False)] * 2)

    def test_ssl_session_timeout_is_the_session_ticket_lifetime(self):
        for flag in ("-tls1_3", "-tls1_2"):
            with self.subTest(flag=flag):
                out = s_client(self.ports["timeout"], flag, "-ign_eof", input=request_bytes())
                self.assertIn("TLS session ticket lifetime hint: 123 (seconds)", out)


@for_each_target
class EarlyDataTest(ClassServer):
    """TLSv1.3 early data (0-RTT) with `openssl s_client -early_data`; $ssl_early_data is "1"
    for a request handled while the handshake is still in early data (what a location passes
    on to guard against replays), empty otherwise. proxyd does not accept early data and
    refuses `ssl_early_data on` (README, differences; ConfigErrorsTest checks the message), so
    this runs against nginx only."""

    @classmethod
    def setUpClass(cls):
        if cls.KIND == "proxyd":
            raise unittest.SkipTest("proxyd refuses ssl_early_data on")
        super().setUpClass()
    PORTS = ("early", "noearly")
    CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.1:%(early)d ssl;
        ssl_early_data on;
        location / { return 200 "early=$ssl_early_data $ssl_session_reused\n"; }
    }
    server {
        listen 127.0.0.1:%(noearly)d ssl;
        location / { return 200 "early=$ssl_early_data $ssl_session_reused\n"; }
    }
}
"""

    def session_file(self):
        d = tempfile.mkdtemp(prefix="proxyd-e2e-ssl-sess-")
        self.addCleanup(shutil.rmtree, d, True)
        return os.path.join(d, "sess.pem"), os.path.join(d, "req.txt")

    def test_early_data_on_accepts_a_request_sent_as_early_data(self):
        sess, req = self.session_file()
        with open(req, "wb") as f:
            f.write(request_bytes())
        out = s_client(self.ports["early"], "-sess_out", sess, "-ign_eof", input=request_bytes())
        self.assertIn("Max Early Data: 16384", out)
        self.assertIn("early= .", out)
        out = s_client(self.ports["early"], "-sess_in", sess, "-early_data", req, "-ign_eof")
        self.assertIn("Early data was accepted", out)
        # "1" when the request is handled before the client's Finished arrives, which is a
        # race on loopback (nginx answers either way)
        self.assertRegex(out, "early=1? r\n")

    def test_early_data_off_by_default_sessions_allow_none(self):
        sess, req = self.session_file()
        with open(req, "wb") as f:
            f.write(request_bytes())
        out = s_client(self.ports["noearly"], "-sess_out", sess, "-ign_eof", input=request_bytes())
        self.assertIn("Max Early Data: 0", out)
        out = s_client(self.ports["noearly"], "-sess_in", sess, "-early_data", req, "-ign_eof",
                       input=request_bytes())
        self.assertIn("Early data was not sent", out)
        self.assertIn("early= r", out)


# ================================================================ proxying over TLS

BIG = hashlib.shake_256(b"proxyd-ssl").digest(1 << 20)


def backend_answer(req):
    if req.target.startswith(b"/big"):
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG
    body = b"got %d" % len(req.data)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


@for_each_target
class ProxyTest(ClassServer):
    PORTS = ("tls", "plain", "small")
    CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 4m;
    client_body_buffer_size 4m;
    proxy_max_temp_file_size 0;
    server {
        listen 127.0.0.1:%(plain)d;
        server_name a.test;
        return 301 https://$host$request_uri;
    }
    server {
        listen 127.0.0.1:%(tls)d ssl;
        server_name a.test;
        location / {
            proxy_pass http://BACKEND;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-SSL "$ssl_protocol|$https|$ssl_server_name";
        }
    }
    server {
        listen 127.0.0.1:%(small)d ssl;
        ssl_buffer_size 1k;
        location / { proxy_pass http://BACKEND; }
    }
}
"""

    @classmethod
    def setUpClass(cls):
        cls.backend = proxyd_test.RecordingBackend(response=backend_answer)
        cls.CONF = cls.CONF.replace("BACKEND", cls.backend.address)
        try:
            super().setUpClass()
        except BaseException:
            cls.backend.close()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.backend.close()

    def test_plain_port_redirects_to_https_with_host_and_uri(self):
        resp = proxyd_test.raw_request(self.ports["plain"], request_bytes("/some/path?x=1&y=2"))
        (status, headers, body), = proxyd_test.parse_responses(resp)
        self.assertEqual(status, 301)
        self.assertEqual(headers["location"], "https://a.test/some/path?x=1&y=2")

    def test_backend_sees_x_forwarded_proto_https_and_ssl_variables(self):
        status, headers, body, info = tls_get(self.ports["tls"], "/fwd")
        self.assertEqual((status, body), (200, b"got 0"))
        req = [r for r in self.backend.requests if r.target == b"/fwd"][-1]
        self.assertEqual(req.header("X-Forwarded-Proto"), b"https")
        self.assertEqual(req.header("X-SSL"), b"TLSv1.3|on|a.test")

    def big_response(self, port_name):
        s = tls_connect(self.ports[port_name])
        try:
            s.sendall(request_bytes("/big"))
            resp = read_to_eof(s)
        finally:
            s.close()
        (status, headers, body), = proxyd_test.parse_responses(resp)
        self.assertEqual(status, 200)
        self.assertEqual(len(body), len(BIG))
        self.assertEqual(hashlib.sha256(body).digest(), hashlib.sha256(BIG).digest())

    def test_one_mib_response_over_tls_arrives_intact(self):
        self.big_response("tls")

    def test_one_mib_response_with_small_ssl_buffer_size_arrives_intact(self):
        self.big_response("small")

    def test_one_mib_request_body_over_tls_reaches_the_backend_intact(self):
        s = tls_connect(self.ports["tls"])
        try:
            s.sendall(b"POST /upload HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(BIG) + BIG)
            resp = read_to_eof(s)
        finally:
            s.close()
        (status, headers, body), = proxyd_test.parse_responses(resp)
        self.assertEqual((status, body), (200, b"got %d" % len(BIG)))
        req = [r for r in self.backend.requests if r.target == b"/upload"][-1]
        self.assertEqual(hashlib.sha256(req.data).digest(), hashlib.sha256(BIG).digest())


# ================================================================ websocket over TLS

class WsEcho:
    """A websockets echo server on loopback in a thread (plain ws: proxyd terminates TLS)."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        async def handler(ws):
            try:
                async for message in ws:
                    await ws.send(message)
            except websockets.exceptions.ConnectionClosed:
                pass

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(websockets.serve(
                handler, "127.0.0.1", 0, ping_interval=None, max_size=None))
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("the websockets server did not start")

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()


@for_each_target
@unittest.skipIf(websockets is None, "python3-websockets is not installed")
class WebSocketTest(TargetCase):
    CONF = r"""
http {
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:%(tls)d ssl;
        ssl_certificate CERTS/a.pem;
        ssl_certificate_key CERTS/a.key;
        location / {
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_pass http://127.0.0.1:%(backend)d;
        }
    }
}
"""

    def test_websocket_echo_over_tls(self):
        backend = WsEcho()
        self.addCleanup(backend.close)
        port = proxyd_test.free_port()
        conf = self.CONF.replace("%(backend)d", str(backend.port))
        self.start_server(conf, {"tls": port})
        big = hashlib.shake_256(b"ws-tls").digest(256 * 1024)

        async def session():
            async with websockets.connect(
                    "wss://a.test:%d/echo" % port, ssl=client_context(), host="127.0.0.1",
                    port=port, server_hostname="a.test", ping_interval=None,
                    max_size=None) as ws:
                got = []
                for message in ("hello over tls", big):
                    await ws.send(message)
                    got.append(await ws.recv())
                await ws.close(1000, "bye")
                return got, ws.close_code
        got, code = asyncio.run(asyncio.wait_for(session(), 20))
        self.assertEqual(got[0], "hello over tls")
        self.assertEqual(hashlib.sha256(got[1]).digest(), hashlib.sha256(big).digest())
        self.assertEqual(code, 1000)


# ================================================================ encrypted keys

@for_each_target
class PasswordTest(ClassServer):
    PORTS = ("good", "multi")
    CONF = r"""
http {
    ssl_certificate CERTS/a_ec.pem;
    ssl_certificate_key CERTS/enc.key;
    server {
        listen 127.0.0.1:%(good)d ssl;
        ssl_password_file CERTS/pw_good;
        location / { return 200 "good"; }
    }
    server {
        listen 127.0.0.1:%(multi)d ssl;
        ssl_password_file CERTS/pw_multi;
        location / { return 200 "multi"; }
    }
}
"""

    def test_encrypted_key_loads_with_password_file(self):
        status, headers, body, info = tls_get(self.ports["good"])
        self.assertEqual((status, body), (200, b"good"))
        self.assertEqual(info["cert"], der("a_ec.pem"))

    def test_password_file_lines_are_tried_in_turn(self):
        status, headers, body, info = tls_get(self.ports["multi"])
        self.assertEqual((status, body), (200, b"multi"))
        self.assertEqual(info["cert"], der("a_ec.pem"))


# ================================================================ reload

def rewrite_http(srv, conf):
    """Replaces what follows the 4 main-context lines Proxyd/NginxRef put first."""
    with open(srv.conf_path) as f:
        head = f.read().split("\n")[:4]
    with open(srv.conf_path, "w") as f:
        f.write("\n".join(head) + "\n" + conf)


@for_each_target
class ReloadTest(TargetCase):
    CONF = r"""
http {
    server {
        listen 127.0.0.1:%(tls)d ssl;
        ssl_certificate CERTS/CERTNAME.pem;
        ssl_certificate_key CERTS/CERTNAME.key;
        location / { return 200 "VERSION"; }
        location /slow { proxy_pass http://BACKEND; }
    }
}
"""

    def conf(self, cert_name, version):
        return self.CONF.replace("CERTNAME", cert_name).replace("VERSION", version).replace(
            "BACKEND", self.backend.address)

    def reload_with(self, hold):
        """Starts v1 (certificate a) with two TLS keepalive connections that each had a request
        answered; the first (busy) then has a request in flight at a backend that answers when
        the returned gate is set; reloads to v2 (certificate a2) and waits until a new
        connection gets v2. hold(busy, buf, idle, gate) runs after that."""
        gate = threading.Event()

        def slow(req):
            gate.wait(TIMEOUT)
            return b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow"
        self.backend = proxyd_test.RecordingBackend(response=slow)
        self.addCleanup(self.backend.close)
        self.addCleanup(gate.set)
        port = proxyd_test.free_port()
        srv = self.start_server(self.conf("a", "v1"), {"tls": port})

        busy = tls_connect(port)
        self.addCleanup(busy.close)
        busy.sendall(request_bytes(keepalive=True))
        resp, buf = proxyd_test.recv_response(busy)
        self.assertEqual(proxyd_test.parse_responses(resp)[0][2], b"v1")
        self.assertEqual(busy.getpeercert(True), der("a.pem"))
        busy.sendall(request_bytes("/slow", keepalive=True))
        self.backend.wait_request()  # the request is in flight in the old worker

        idle = tls_connect(port)
        self.addCleanup(idle.close)
        idle.sendall(request_bytes(keepalive=True))
        resp, _ = proxyd_test.recv_response(idle)
        self.assertEqual(proxyd_test.parse_responses(resp)[0][2], b"v1")

        rewrite_http(srv, expand(self.conf("a2", "v2"), tls=port))
        os.kill(srv.proc.pid, signal.SIGHUP)
        deadline = time.time() + TIMEOUT
        while True:
            try:
                status, headers, body, info = tls_get(port)
            except (OSError, ValueError) as e:  # nginx answers every connection across a reload
                raise AssertionError("a new connection during the reload got no answer: %r" % e)
            if body == b"v2" or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(body, b"v2")
        self.assertEqual(info["cert"], der("a2.pem"))
        hold(busy, buf, idle, gate)

    def test_reload_in_flight_request_finishes_on_its_tls_connection_which_then_closes(self):
        def hold(busy, buf, idle, gate):
            gate.set()
            resp, buf = proxyd_test.recv_response(busy, buf)
            (status, headers, body), = proxyd_test.parse_responses(resp)
            self.assertEqual((status, body), (200, b"slow"))
            self.assertEqual(buf + read_to_eof(busy), b"")
        self.reload_with(hold)

    def test_reload_closes_idle_keepalive_tls_connections_of_the_old_generation(self):
        # nginx closes them at once when the old worker starts its graceful shutdown
        def hold(busy, buf, idle, gate):
            self.assertEqual(read_to_eof(idle), b"")
        self.reload_with(hold)


# ================================================================ logging of handshake failures

@for_each_target
class LoggingTest(TargetCase):
    CONF = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.3;
    server { listen 127.0.0.1:%(info)d ssl; error_log info.log info; return 200 "ok"; }
    server { listen 127.0.0.1:%(error)d ssl; error_log error-only.log error; return 200 "ok"; }
}
"""
    # no error_log below main: the harness's main-context log (at info) gets the handshakes
    CONF_MAIN = r"""
http {
    ssl_certificate CERTS/a.pem;
    ssl_certificate_key CERTS/a.key;
    ssl_protocols TLSv1.3;
    server { listen 127.0.0.1:%(main)d ssl; return 200 "ok"; }
}
"""
    # what the client sends, the OpenSSL reason nginx logs, whether nginx 1.22 logs it at
    # crit (1.23.4 lowered "packet length too long" and "length too short" to info)
    CASES = [
        ("tls12", "unsupported protocol", False),
        (b"\x16\x03\x01\x00\x05hello", "unexpected message", False),
        (b"\x16\x00\x00\x00\x05hello", "wrong version number", False),
        (b"\x16\x03\x01\xff\xffhello", "packet length too long", True),
        (b"\x16\x03\x01\x00\x04\x01\x00\x00\x00", "length too short", True),
    ]

    def provoke(self, port):
        for what, reason, crit in self.CASES:
            if what == "tls12":
                with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
                    tls_get(port, ctx=client_context(version="TLSv1.2"))
            else:
                answer = proxyd_test.raw_request(port, what)
                if reason != "wrong version number":
                    self.assertEqual(answer[:1], b"\x15", "a TLS alert for %r" % what)
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
        # one worker: once this is answered, the failures before it have been logged
        self.assertEqual(tls_get(port)[2], b"ok")

    def expected_line(self, reason, crit, port):
        level = "crit" if crit and self.older_nginx((1, 23, 4)) else "info"
        return level, (r"\[%s\] [^\n]*SSL_do_handshake\(\) failed \(SSL: error:[0-9A-F]+:"
                       r"SSL routines::%s\) while SSL handshaking, client: 127\.0\.0\.1, "
                       r"server: 127\.0\.0\.1:%d\n" % (level, reason, port))

    def test_handshake_failures_go_to_the_main_error_log_without_a_server_one(self):
        ports = {"main": proxyd_test.free_port()}
        srv = self.start_server(self.CONF_MAIN, ports)
        self.provoke(ports["main"])
        text = srv.read_error_log()
        for what, reason, crit in self.CASES:
            self.assertRegex(text, self.expected_line(reason, crit, ports["main"])[1])

    def test_handshake_failures_are_logged_at_info_not_error(self):
        ports = {"info": proxyd_test.free_port(), "error": proxyd_test.free_port()}
        srv = self.start_server(self.CONF, ports)
        self.provoke(ports["info"])
        self.provoke(ports["error"])
        with open(srv.path("info.log")) as f:
            info = f.read()
        with open(srv.path("error-only.log")) as f:
            error = f.read()
        for what, reason, crit in self.CASES:
            self.assertRegex(info, self.expected_line(reason, crit, ports["info"])[1])
            level, line = self.expected_line(reason, crit, ports["error"])
            if level == "crit":
                self.assertRegex(error, line)
            else:
                self.assertNotIn(reason, error)
        self.assertRegex(info, r"\[info\] [^\n]*client closed connection while SSL handshaking, "
                               r"client: 127\.0\.0\.1, server: 127\.0\.0\.1:%d\n" % ports["info"])
        if not self.older_nginx((1, 23, 4)):
            self.assertEqual(error, "")


# ================================================================ configuration errors

HEAD = "pid proxyd.pid;\nevents {\n}\n"  # three lines: line numbers below count from here
GOOD = "    ssl_certificate CERTS/a.pem;\n    ssl_certificate_key CERTS/a.key;\n"


def server_conf(*lines):
    """http { server { listen ssl; lines... } }: server on line 5, listen 6, lines from 7."""
    return ("http {\n  server {\n    listen 127.0.0.1:{port} ssl;\n" + "".join(
        "    %s\n" % line for line in lines) + "  }\n}\n")


@for_each_target
class ConfigErrorsTest(TargetCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="proxyd-e2e-ssl-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, conf):
        path = os.path.join(self.dir, "proxyd.conf")
        with open(path, "w") as f:
            f.write(HEAD + expand(conf.replace("{port}", str(proxyd_test.free_port()))))
        return check_config(self.KIND, path, self.dir)

    def assert_emerg(self, conf, message=None, prefix=None, contains=()):
        """`-t` fails with exactly one [emerg] line: message (whole), or starting with prefix
        and containing each of contains (OpenSSL's own reason text after nginx's part)."""
        rc, lines = self.check(conf)
        self.assertEqual(rc, 1, lines)
        self.assertEqual(len(lines), 1, lines)
        if message is not None:
            self.assertEqual(lines[0], "[emerg] " + message)
        else:
            self.assertTrue(lines[0].startswith("[emerg] " + prefix), lines[0])
            for text in contains:
                self.assertIn(text, lines[0])

    def test_valid_tls_configuration_passes(self):
        rc, lines = self.check(server_conf(
            "ssl_certificate CERTS/a.pem;", "ssl_certificate_key CERTS/a.key;",
            "ssl_certificate CERTS/a_ec.pem;", "ssl_certificate_key CERTS/enc.key;",
            "ssl_password_file CERTS/pw_good;", "ssl_protocols TLSv1.2 TLSv1.3;",
            "ssl_ciphers HIGH:!aNULL:!MD5;", "ssl_prefer_server_ciphers on;",
            "ssl_ecdh_curve X25519:prime256v1;", "ssl_session_cache shared:SSL:1m;",
            "ssl_session_timeout 10m;", "ssl_session_tickets off;",
            "ssl_session_ticket_key CERTS/ticket80.key;", "ssl_dhparam CERTS/dh.pem;",
            "ssl_verify_client optional;", "ssl_client_certificate CERTS/cca.pem;",
            "ssl_trusted_certificate CERTS/oca.pem;", "ssl_verify_depth 2;",
            "ssl_buffer_size 4k;"))
        self.assertEqual((rc, lines), (0, []))

    def test_missing_certificate_file(self):
        self.assert_emerg(server_conf("ssl_certificate /x/missing.pem;",
                                      "ssl_certificate_key CERTS/a.key;"),
                          prefix='cannot load certificate "/x/missing.pem": BIO_new_file() failed',
                          contains=["No such file or directory"])

    def test_missing_certificate_key_file(self):
        self.assert_emerg(server_conf("ssl_certificate CERTS/a.pem;",
                                      "ssl_certificate_key /x/missing.key;"),
                          prefix='cannot load certificate key "/x/missing.key": BIO_new_file() '
                                 'failed', contains=["No such file or directory"])

    def test_listen_ssl_without_certificate_names_the_server_line(self):
        # nginx names the line of "server {", not the one of "listen"
        self.assert_emerg(server_conf("server_name x;"),
                          'no "ssl_certificate" is defined for the "listen ... ssl" directive '
                          'in DIR/proxyd.conf:5')

    def test_certificate_without_key(self):
        self.assert_emerg(server_conf("ssl_certificate CERTS/a.pem;"),
                          'no "ssl_certificate_key" is defined for certificate "CERTS/a.pem"')

    def test_key_not_matching_certificate(self):
        self.assert_emerg(server_conf("ssl_certificate CERTS/a.pem;",
                                      "ssl_certificate_key CERTS/b.key;"),
                          prefix='SSL_CTX_use_PrivateKey("CERTS/b.key") failed (SSL: ',
                          contains=["key values mismatch"])

    def test_bad_ssl_protocols_value(self):
        self.assert_emerg(server_conf("ssl_protocols TLSv1.2 TLSv1.4;"),
                          'invalid value "TLSv1.4" in DIR/proxyd.conf:7')

    def test_bad_ssl_session_cache_values(self):
        for value in ("shared:SSL", "bogus", "shared:SSL:1x", "builtin:abc", "shared::1m"):
            with self.subTest(value=value):
                self.assert_emerg("http {\n  ssl_session_cache %s;\n}\n" % value,
                                  'invalid session cache "%s" in DIR/proxyd.conf:5' % value)

    def test_too_small_shared_session_cache(self):
        self.assert_emerg("http {\n  ssl_session_cache shared:SSL:1k;\n}\n",
                          'session cache "shared:SSL:1k" is too small in DIR/proxyd.conf:5')

    def test_verify_client_with_only_trusted_certificate(self):
        # accepted by current nginx (1.27.2+: "ssl_client_certificate is not required");
        # Debian's 1.22 still asks for ssl_client_certificate
        conf = server_conf("ssl_verify_client on;", "ssl_trusted_certificate CERTS/cca.pem;",
                           GOOD.strip())
        if self.older_nginx((1, 27, 2)):
            self.assert_emerg(conf, "no ssl_client_certificate for ssl_verify_client")
        else:
            self.assertEqual(self.check(conf), (0, []))

    def test_verify_client_without_client_certificate(self):
        # current nginx (1.27.2+) also accepts ssl_trusted_certificate alone, and says so
        if self.older_nginx((1, 27, 2)):
            message = "no ssl_client_certificate for ssl_verify_client"
        else:
            message = "no ssl_client_certificate or ssl_trusted_certificate for ssl_verify_client"
        self.assert_emerg(server_conf("ssl_verify_client on;", GOOD.strip()), message)

    def test_bad_ssl_verify_client_value(self):
        self.assert_emerg("http {\n  ssl_verify_client maybe;\n}\n",
                          'invalid value "maybe" in DIR/proxyd.conf:5')

    def test_ticket_key_file_of_wrong_size_names_the_end_of_http(self):
        # nginx reads the key when it merges the server, so the line is http's closing brace
        self.assert_emerg(server_conf("ssl_session_ticket_key CERTS/ticket50.key;", GOOD.strip()),
                          '"CERTS/ticket50.key" must be 48 or 80 bytes in DIR/proxyd.conf:%d'
                          % self.ticket_key_line())

    def ticket_key_line(self):
        # nginx reads ticket keys when it merges the server and names http's closing brace;
        # proxyd reads them at the directive and names its line (README, differences)
        return 11 if self.KIND == "nginx" else 7

    def test_missing_ticket_key_file(self):
        self.assert_emerg(server_conf("ssl_session_ticket_key /x/missing.key;", GOOD.strip()),
                          'open() "/x/missing.key" failed (2: No such file or directory) in '
                          'DIR/proxyd.conf:%d' % self.ticket_key_line())

    def test_early_data_on_is_refused_by_proxyd(self):
        if self.KIND == "nginx":
            self.skipTest("nginx accepts early data")
        self.assert_emerg(server_conf("ssl_early_data on;", GOOD.strip()),
                          '"ssl_early_data on" is not supported by proxyd in DIR/proxyd.conf:7')

    def test_wrong_password_for_encrypted_key(self):
        self.assert_emerg(server_conf("ssl_certificate CERTS/a_ec.pem;",
                                      "ssl_certificate_key CERTS/enc.key;",
                                      "ssl_password_file CERTS/pw_bad;"),
                          prefix='cannot load certificate key "CERTS/enc.key": ',
                          contains=["bad decrypt"])

    def test_missing_password_file_names_its_line(self):
        self.assert_emerg(server_conf("ssl_certificate CERTS/a_ec.pem;",
                                      "ssl_certificate_key CERTS/enc.key;",
                                      "ssl_password_file /x/pw;"),
                          'open() "/x/pw" failed (2: No such file or directory) in '
                          'DIR/proxyd.conf:9')

    def test_unknown_cipher_list(self):
        self.assert_emerg(server_conf("ssl_ciphers NOSUCHCIPHER;", GOOD.strip()),
                          prefix='SSL_CTX_set_cipher_list("NOSUCHCIPHER") failed (SSL: ',
                          contains=["no cipher match"])

    def test_unknown_ecdh_curve(self):
        self.assert_emerg(server_conf("ssl_ecdh_curve nosuchcurve;", GOOD.strip()),
                          prefix='SSL_CTX_set1_curves_list("nosuchcurve") failed (SSL: ')

    def test_missing_dhparam_file(self):
        self.assert_emerg(server_conf("ssl_dhparam /x/dh.pem;", GOOD.strip()),
                          prefix='BIO_new_file("/x/dh.pem") failed (SSL: ',
                          contains=["No such file or directory"])

    def test_missing_client_certificate_file(self):
        self.assert_emerg(server_conf("ssl_verify_client on;",
                                      "ssl_client_certificate /x/ca.pem;", GOOD.strip()),
                          prefix='SSL_CTX_load_verify_locations("/x/ca.pem") failed (SSL: ',
                          contains=["No such file or directory"])

    def test_bad_flag_values(self):
        for name in ("ssl_early_data", "ssl_session_tickets", "ssl_prefer_server_ciphers",
                     "ssl_reject_handshake"):
            with self.subTest(name=name):
                self.assert_emerg("http {\n  %s yes;\n}\n" % name,
                                  'invalid value "yes" in "%s" directive, it must be "on" or '
                                  '"off" in DIR/proxyd.conf:5' % name)

    def test_bad_size_time_and_number_values(self):
        for line, message in (
                ("ssl_buffer_size 1q;", '"ssl_buffer_size" directive invalid value'),
                ("ssl_session_timeout abc;", '"ssl_session_timeout" directive invalid value'),
                ("ssl_verify_depth x;", '"ssl_verify_depth" directive invalid number')):
            with self.subTest(line=line):
                self.assert_emerg("http {\n  %s\n}\n" % line, message + " in DIR/proxyd.conf:5")

    def test_reject_handshake_server_needs_no_certificate(self):
        rc, lines = self.check(server_conf("ssl_reject_handshake on;"))
        self.assertEqual((rc, lines), (0, []))


if __name__ == "__main__":
    proxyd_test.main()
