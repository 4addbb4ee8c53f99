"""proxy_pass https:// (TLS toward upstreams) and the proxy_ssl_* directives, differential
against Debian's nginx 1.22: each case runs the same proxy configuration under proxyd and under
nginx (as the proxy), sends the same requests, and checks that both give the expected answer:
status, body, what the TLS backend saw, and the error log lines.

The TLS backends are shared by the whole module (setUpModule):
  - Debian's nginx (daemon off, master_process off) with four servers: GOOD (TLS, a
    certificate for a.test from the test CA, ssl_verify_client optional_no_ca, / answers
    what it saw of the TLS connection: SNI, session reuse, protocol, cipher, client DN,
    $connection; /big.bin is 1 MiB), SELF (TLS, a self-signed a.test certificate), IPCERT
    (TLS, a certificate from the CA naming only IP:127.0.0.1) and PLAIN (plain HTTP);
  - ECHO, a Python ssl server answering each request with its body's length and SHA-256.
Certificates are made with the openssl CLI: a CA, a.test and the IP one from it, a
self-signed a.test, an "other" CA, a client certificate from the CA with its key encrypted and a password file.

Backend ports appear in log lines as GOOD/SELF/IPCERT/PLAIN/ECHO and the proxy's own as PORT.
PROXY_SSL_SIDES=nginx runs the nginx half alone (to check the expectations)."""
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

SIDES = tuple(os.environ.get("PROXY_SSL_SIDES", "proxyd,nginx").split(","))
PASSWORD = "s3cret"
LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")
ERRORS = ("emerg", "alert", "crit", "error")
BIG_SIZE = 1 << 20
POST_SIZE = 100 * 1024

CERTS = None    # certificate directory
BACKEND = None  # the nginx TLS backend (BackendNginx)
ECHO = None     # the Python TLS echo backend (EchoBackend)
PORTS = {}      # name -> port of the backends

# ---------------------------------------------------------------- certificates

ISSUE = [
    # name, subject, issuer (None: self-signed), kind (or a server's subjectAltName)
    ("ca", "/CN=Test CA", None, "ca"),
    ("a", "/CN=a.test", "ca", "DNS:a.test"),
    ("self", "/CN=a.test", None, "DNS:a.test"),
    ("ip", "/CN=ip", "ca", "IP:127.0.0.1"),
    ("oca", "/CN=Other CA", None, "ca"),
    ("client", "/O=Test Clients/CN=client1", "ca", "client"),
]


def openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def make_certs(d):
    with open(os.path.join(d, "min.cnf"), "w") as f:
        f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n")
    for serial, (name, subject, issuer, kind) in enumerate(ISSUE, 1):
        args = ["req", "-config", "min.cnf", "-x509", "-nodes", "-days", "30",
                "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-keyout", name + ".key", "-out", name + ".pem", "-subj", subject,
                "-set_serial", str(serial)]
        if issuer:
            args += ["-CA", issuer + ".pem", "-CAkey", issuer + ".key"]
        if kind == "ca":
            args += ["-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        elif kind == "client":
            args += ["-addext", "basicConstraints=CA:FALSE",
                     "-addext", "extendedKeyUsage=clientAuth"]
        else:
            args += ["-addext", "basicConstraints=CA:FALSE",
                     "-addext", "subjectAltName=" + kind]
        openssl(*args, cwd=d)
    openssl("pkey", "-in", "client.key", "-aes256", "-passout", "pass:" + PASSWORD,
            "-out", "client_enc.key", cwd=d)
    with open(os.path.join(d, "password"), "w") as f:
        f.write(PASSWORD + "\n")
    os.makedirs(os.path.join(d, "www"))
    with open(os.path.join(d, "www", "big.bin"), "wb") as f:
        f.write(os.urandom(BIG_SIZE))
    for root, dirs, files in os.walk(d):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
        for n in files:
            os.chmod(os.path.join(root, n), 0o644)


def cert(name):
    return os.path.join(CERTS, name)

# ---------------------------------------------------------------- backends

BACKEND_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    ssl_certificate %(certs)s/a.pem;
    ssl_certificate_key %(certs)s/a.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:1m;
    server {
        listen 127.0.0.1:%(GOOD)d ssl;
        ssl_verify_client optional_no_ca;
        location / {
            return 200 "reused=$ssl_session_reused proto=$ssl_protocol cipher=$ssl_cipher conn=$connection sni=[$ssl_server_name] dn=[$ssl_client_s_dn]";
        }
        location = /big.bin { root %(certs)s/www; }
    }
    server {
        listen 127.0.0.1:%(SELF)d ssl;
        ssl_certificate %(certs)s/self.pem;
        ssl_certificate_key %(certs)s/self.key;
        location / { return 200 "self"; }
    }
    server {
        listen 127.0.0.1:%(IPCERT)d ssl;
        ssl_certificate %(certs)s/ip.pem;
        ssl_certificate_key %(certs)s/ip.key;
        location / { return 200 "ip"; }
    }
    server {
        listen 127.0.0.1:%(PLAIN)d;
        location / { return 200 "plain"; }
    }
}
"""


class BackendNginx:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="proxyd-e2e-sslbackend-")
        self.conf = os.path.join(self.dir, "nginx.conf")
        args = dict(PORTS, dir=self.dir, certs=CERTS)
        with open(self.conf, "w") as f:
            f.write(BACKEND_CONF % args)
        self.proc = subprocess.Popen(
            [proxyd_test.NGINX_BIN, "-p", self.dir + "/", "-e", self.dir + "/error.log",
             "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name in ("GOOD", "SELF", "IPCERT", "PLAIN"):
            if not proxyd_test.wait_port(PORTS[name]):
                self.close()
                raise RuntimeError("backend nginx did not start")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class EchoBackend:
    """A TLS HTTP/1.1 server (certificate a.test) answering each request with
    "len=N sha256=HEX" of its Content-Length body, then closing the connection."""

    def __init__(self, port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert("a.pem"), cert("a.key"))
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.running = True
        self.threads = []
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def serve(self, raw):
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                b = conn.recv(65536)
                if not b:
                    return
                buf += b
            head, _, body = buf.partition(b"\r\n\r\n")
            n = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            while len(body) < n:
                b = conn.recv(65536)
                if not b:
                    break
                body += b
            text = b"len=%d sha256=%s" % (len(body), hashlib.sha256(body).hexdigest().encode())
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(text) + text)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.running = False
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        for t in self.threads:
            t.join(5)


def setUpModule():
    global CERTS, BACKEND, ECHO
    CERTS = tempfile.mkdtemp(prefix="proxyd-e2e-proxyssl-certs-")
    try:
        make_certs(CERTS)
        for name in ("GOOD", "SELF", "IPCERT", "PLAIN", "ECHO"):
            PORTS[name] = proxyd_test.free_port()
        BACKEND = BackendNginx()
        ECHO = EchoBackend(PORTS["ECHO"])
    except BaseException:
        tearDownModule()
        raise


def tearDownModule():
    global BACKEND, ECHO
    if ECHO:
        ECHO.close()
        ECHO = None
    if BACKEND:
        BACKEND.close()
        BACKEND = None
    if CERTS:
        shutil.rmtree(CERTS, ignore_errors=True)

# ---------------------------------------------------------------- the proxy under test

HTTP = """
http {
    access_log off;
    %(upstreams)s
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            add_header X-Us $upstream_status always;
            %(location)s
        }
    }
}
"""


class Response:
    def __init__(self, data):
        self.raw = data
        parsed = proxyd_test.parse_responses(data)
        if parsed:
            self.status, self.headers, self.body = parsed[0]
        else:
            self.status, self.headers, self.body = None, {}, data

    def info(self):
        """The GOOD backend's /info answer as a dict (sni and dn keep their brackets off)."""
        out = {}
        for m in re.finditer(r"(\w+)=(\[[^\]]*\]|\S*)", self.body.decode()):
            out[m.group(1)] = m.group(2).strip("[]")
        return out


class Run:
    """One proxy (proxyd or nginx) running a configuration, for a scenario."""

    def __init__(self, server, port):
        self.server = server
        self.port = port

    def get(self, path="/", method="GET", body=b""):
        req = "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" % (method, path)
        if method == "POST":
            req += "Content-Length: %d\r\n" % len(body)
        data = proxyd_test.raw_request(self.port, req.encode() + b"\r\n" + body, timeout=15)
        return Response(data)

    def names(self, text):
        for name, port in PORTS.items():
            text = text.replace("127.0.0.1:%d" % port, name)
        return text.replace("127.0.0.1:%d" % self.port, "PORT")

    def log_lines(self, levels=ERRORS):
        out = []
        for line in self.server.read_error_log().splitlines():
            m = LOG_LINE.match(line)
            if m and m.group(1) in levels:
                out.append(self.names("[%s] %s" % (m.group(1), m.group(2))))
        return out


def ctx(upstream, path="/"):
    """What nginx appends to an error line of a request for `path` proxied to `upstream`."""
    return (', client: 127.0.0.1, server: , request: "GET %s HTTP/1.1", upstream: "https://%s%s", '
            'host: "t"' % (path, upstream, path))


HANDSHAKING = " while SSL handshaking to upstream"


class ProxySslCase(unittest.TestCase):

    def conf(self, location, upstreams="", port=0):
        text = HTTP % {"upstreams": upstreams, "port": port, "location": location}
        for name, p in PORTS.items():
            text = text.replace("@%s@" % name, "127.0.0.1:%d" % p)
        return text.replace("@CERTS@", CERTS)

    def run_side(self, side, location, upstreams, scenario):
        port = proxyd_test.free_port()
        text = self.conf(location, upstreams, port)
        server = proxyd_test.Proxyd(text) if side == "proxyd" else proxyd_test.NginxRef(text)
        try:
            server.start(wait_for=port)
            return scenario(Run(server, port))
        finally:
            server.cleanup()

    def both(self, location, scenario, upstreams="", sides=SIDES):
        """Runs scenario(Run) under each side; checks they agree and returns the answer."""
        results = {}
        sides = [s for s in sides if s in SIDES]
        if not sides:
            self.skipTest("not run on %s" % ",".join(SIDES))
        for side in sides:
            results[side] = self.run_side(side, location, upstreams, scenario)
        values = list(results.values())
        for side, value in results.items():
            self.assertEqual(value, values[0], "%s disagrees with %s" % (side, sides[0]))
        return values[0]

# ---------------------------------------------------------------- the cases


def seen(*keys):
    """A scenario: one GET /, the status and those fields of the backend's /info answer."""
    def scenario(run):
        r = run.get("/")
        info = r.info()
        return r.status, {k: info.get(k) for k in keys}
    return scenario


class HandshakeTest(ProxySslCase):

    def test_proxy_pass_https_without_verify_gets_the_backends_answer(self):
        def scenario(run):
            r = run.get("/")
            return r.status, r.body.startswith(b"reused=. proto=TLSv1."), run.log_lines()
        self.assertEqual(self.both("proxy_pass https://@GOOD@;", scenario), (200, True, []))

    def test_default_protocols_include_tlsv13(self):
        # current nginx's default (TLSv1.2 TLSv1.3); 1.22's stops at TLSv1.2: proxyd alone
        r = self.both("proxy_pass https://@GOOD@;", seen("proto"), sides=("proxyd",))
        self.assertEqual((r[0], r[1]["proto"]), (200, "TLSv1.3"))

    def test_protocols_tlsv13_makes_a_tls13_connection(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.3;", seen("proto"))
        self.assertEqual((r[0], r[1]["proto"]), (200, "TLSv1.3"))

    def test_a_self_signed_backend_is_accepted_without_verify(self):
        self.assertEqual(self.both("proxy_pass https://@SELF@;",
                                   lambda run: (run.get("/").status, run.get("/").body)),
                         (200, b"self"))

    def test_no_sni_is_sent_by_default_even_with_proxy_ssl_name(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_name b.test;", seen("sni"))
        self.assertEqual((r[0], r[1]["sni"]), (200, ""))

    def test_server_name_on_sends_proxy_ssl_name_as_sni(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_server_name on; proxy_ssl_name b.test;",
                      seen("sni"))
        self.assertEqual((r[0], r[1]["sni"]), (200, "b.test"))

    def test_server_name_on_strips_the_port_from_proxy_ssl_name(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_server_name on; "
                      "proxy_ssl_name b.test:8443;", seen("sni"))
        self.assertEqual((r[0], r[1]["sni"]), (200, "b.test"))

    def test_server_name_on_defaults_to_the_upstream_group_name(self):
        r = self.both("proxy_pass https://a.test; proxy_ssl_server_name on;", seen("sni"),
                      upstreams="upstream a.test { server @GOOD@; }")
        self.assertEqual((r[0], r[1]["sni"]), (200, "a.test"))

    def test_server_name_on_sends_no_sni_for_an_ip_address(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_server_name on;", seen("sni"))
        self.assertEqual((r[0], r[1]["sni"]), (200, ""))

    def test_protocols_tlsv12_makes_a_tls12_connection(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.2;", seen("proto"))
        self.assertEqual((r[0], r[1]["proto"]), (200, "TLSv1.2"))

    def test_ciphers_choose_the_tls12_cipher(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.2; "
                      "proxy_ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;", seen("proto", "cipher"))
        self.assertEqual((r[0], r[1]["proto"], r[1]["cipher"]),
                         (200, "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"))

    def test_plain_http_backend_is_502_with_a_handshake_error(self):
        def scenario(run):
            r = run.get("/")
            return r.status, r.body if r.status != 502 else None, run.log_lines()
        status, body, log = self.both("proxy_pass https://@PLAIN@;", scenario)
        self.assertEqual((status, body), (502, None))
        self.assertEqual(len(log), 1, log)
        self.assertTrue(log[0].startswith("[error] SSL_do_handshake() failed ("), log)
        self.assertTrue(log[0].endswith(")" + HANDSHAKING + ctx("PLAIN")), log)


class VerifyTest(ProxySslCase):
    VERIFY = "proxy_ssl_verify on; proxy_ssl_trusted_certificate @CERTS@/%s;"

    def scenario(self, run):
        r = run.get("/")
        return r.status, r.body if r.status == 200 else None, run.log_lines()

    def test_verify_with_the_right_ca_and_name_is_200(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_name a.test; "
                        + self.VERIFY % "ca.pem", lambda run: (run.get("/").status, run.log_lines()))
        self.assertEqual(got, (200, []))

    def test_verify_a_self_signed_backend_is_502_with_the_verify_error(self):
        got = self.both("proxy_pass https://@SELF@; proxy_ssl_name a.test; "
                        + self.VERIFY % "ca.pem", self.scenario)
        self.assertEqual(got, (502, None, [
            "[error] upstream SSL certificate verify error: (18:self-signed certificate)"
            + HANDSHAKING + ctx("SELF")]))

    def test_verify_against_another_ca_is_502_unable_to_verify_the_first_certificate(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_name a.test; "
                        + self.VERIFY % "oca.pem", self.scenario)
        self.assertEqual(got, (502, None, [
            "[error] upstream SSL certificate verify error: "
            "(21:unable to verify the first certificate)" + HANDSHAKING + ctx("GOOD")]))

    def test_verify_with_a_name_the_certificate_lacks_is_502_does_not_match(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_name c.test; "
                        + self.VERIFY % "ca.pem", self.scenario)
        self.assertEqual(got, (502, None, [
            '[error] upstream SSL certificate does not match "c.test"' + HANDSHAKING
            + ctx("GOOD")]))

    def test_verify_checks_the_ip_address_as_name_by_default(self):
        # proxy_ssl_name defaults to the proxy_pass host: 127.0.0.1 is not in a.test's cert
        got = self.both("proxy_pass https://@GOOD@; " + self.VERIFY % "ca.pem", self.scenario)
        self.assertEqual(got, (502, None, [
            '[error] upstream SSL certificate does not match "127.0.0.1"' + HANDSHAKING
            + ctx("GOOD")]))

    def test_verify_matches_names_not_ip_address_entries(self):
        # nginx checks proxy_ssl_name with X509_check_host: an IP:127.0.0.1 entry is no match
        got = self.both("proxy_pass https://@IPCERT@; " + self.VERIFY % "ca.pem", self.scenario)
        self.assertEqual(got, (502, None, [
            '[error] upstream SSL certificate does not match "127.0.0.1"' + HANDSHAKING
            + ctx("IPCERT")]))

    def test_failed_verify_moves_on_to_the_next_server_of_the_group(self):
        def scenario(run):
            r = run.get("/")
            return r.status, r.headers.get("x-us"), r.info().get("sni"), run.log_lines()
        got = self.both("proxy_pass https://u; proxy_ssl_name a.test; " + self.VERIFY % "ca.pem",
                        scenario, upstreams="upstream u { server @SELF@; server @GOOD@; }")
        self.assertEqual(got, (200, "502, 200", "", [
            "[error] upstream SSL certificate verify error: (18:self-signed certificate)"
            + HANDSHAKING + ctx("SELF")]))

    def test_verify_without_trusted_certificate_fails_the_config_test(self):
        port = proxyd_test.free_port()
        text = self.conf("proxy_pass https://@GOOD@; proxy_ssl_verify on;", port=port)
        p = proxyd_test.Proxyd(text)
        try:
            rc, err = p.test_config()
        finally:
            p.cleanup()
        lines = err.replace(p.dir, "DIR").splitlines()
        self.assertEqual((rc, lines), (1, [
            "proxyd: [emerg] no proxy_ssl_trusted_certificate for proxy_ssl_verify",
            "proxyd: configuration file DIR/proxyd.conf test failed"]))
        if "nginx" in SIDES:
            n = proxyd_test.NginxRef(text)
            try:
                r = subprocess.run([proxyd_test.NGINX_BIN, "-t", "-p", n.dir + "/", "-e", "stderr",
                                    "-c", n.conf_path], capture_output=True, text=True, timeout=30)
            finally:
                n.cleanup()
            ref = [re.sub(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: ",
                          r"nginx: [\1] ", line).replace(n.dir, "DIR").replace("nginx.conf",
                                                                                "proxyd.conf")
                   for line in r.stderr.splitlines()]
            self.assertEqual((r.returncode, ref), (1, [
                line.replace("proxyd: ", "nginx: ") for line in lines]), "nginx disagrees")


class ClientCertificateTest(ProxySslCase):

    def test_client_certificate_reaches_the_backend(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_certificate @CERTS@/client.pem; "
                      "proxy_ssl_certificate_key @CERTS@/client.key;", seen("dn"))
        self.assertEqual((r[0], r[1]["dn"]), (200, "CN=client1,O=Test Clients"))

    def test_encrypted_client_key_with_password_file(self):
        r = self.both("proxy_pass https://@GOOD@; proxy_ssl_certificate @CERTS@/client.pem; "
                      "proxy_ssl_certificate_key @CERTS@/client_enc.key; "
                      "proxy_ssl_password_file @CERTS@/password;", seen("dn"))
        self.assertEqual((r[0], r[1]["dn"]), (200, "CN=client1,O=Test Clients"))

    def test_no_client_certificate_by_default(self):
        r = self.both("proxy_pass https://@GOOD@;", seen("dn"))
        self.assertEqual((r[0], r[1]["dn"]), (200, ""))


def reused_sequence(run, n=3):
    out = []
    for _ in range(n):
        r = run.get("/")
        out.append((r.status, r.info()["reused"]))
    return out


class SessionTest(ProxySslCase):
    CLOSE = "proxy_set_header Connection close; "

    def test_new_connections_resume_the_session_by_default(self):
        got = self.both("proxy_pass https://@GOOD@; " + self.CLOSE, reused_sequence)
        self.assertEqual(got, [(200, "."), (200, "r"), (200, "r")])

    def test_new_connections_resume_the_tls13_session(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.3; " + self.CLOSE,
                        reused_sequence)
        self.assertEqual(got, [(200, "."), (200, "r"), (200, "r")])

    def test_session_reuse_off_makes_full_tls13_handshakes(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.3; "
                        "proxy_ssl_session_reuse off; " + self.CLOSE, reused_sequence)
        self.assertEqual(got, [(200, "."), (200, "."), (200, ".")])

    def test_keepalive_0_group_resumes_the_tls12_session_on_each_new_connection(self):
        # keepalive 0 (current nginx; 1.22 rejects it): proxyd alone
        def scenario(run):
            out = []
            for _ in range(3):
                info = run.get("/").info()
                out.append((info["reused"], info["conn"]))
            return out
        got = self.both("proxy_pass https://u; proxy_ssl_protocols TLSv1.2;", scenario,
                        sides=("proxyd",), upstreams="upstream u { server @GOOD@; keepalive 0; }")
        self.assertEqual([g[0] for g in got], [".", "r", "r"])
        self.assertEqual(len(set(g[1] for g in got)), 3)

    def test_session_reuse_off_makes_full_handshakes(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_session_reuse off; " + self.CLOSE,
                        reused_sequence)
        self.assertEqual(got, [(200, "."), (200, "."), (200, ".")])

    def test_session_is_resumed_over_tls12_too(self):
        got = self.both("proxy_pass https://@GOOD@; proxy_ssl_protocols TLSv1.2; " + self.CLOSE,
                        reused_sequence)
        self.assertEqual(got, [(200, "."), (200, "r"), (200, "r")])

    def test_keepalive_0_group_resumes_the_session_on_each_new_connection(self):
        # keepalive 0 (current nginx; 1.22 rejects it): proxyd alone
        def scenario(run):
            out = []
            for _ in range(3):
                info = run.get("/").info()
                out.append((info["reused"], info["conn"]))
            return out
        got = self.both("proxy_pass https://u;", scenario, sides=("proxyd",),
                        upstreams="upstream u { server @GOOD@; keepalive 0; }")
        self.assertEqual([g[0] for g in got], [".", "r", "r"])
        self.assertEqual(len(set(g[1] for g in got)), 3)

    def test_upstream_keepalive_reuses_one_tls_connection(self):
        def scenario(run):
            infos = [run.get("/") for _ in range(4)]
            return ([r.status for r in infos], len(set(r.info()["conn"] for r in infos)),
                    [r.info()["reused"] for r in infos])
        got = self.both("proxy_pass https://u; proxy_http_version 1.1; "
                        'proxy_set_header Connection "";', scenario,
                        upstreams="upstream u { server @GOOD@; keepalive 4; }")
        self.assertEqual(got, ([200] * 4, 1, ["."] * 4))


class BodyTest(ProxySslCase):

    def test_one_mib_response_arrives_intact(self):
        with open(os.path.join(CERTS, "www", "big.bin"), "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()

        def scenario(run):
            r = run.get("/big.bin")
            return r.status, len(r.body), hashlib.sha256(r.body).hexdigest()
        self.assertEqual(self.both("proxy_pass https://@GOOD@;", scenario),
                         (200, BIG_SIZE, want))

    def test_one_mib_response_unbuffered_arrives_intact(self):
        with open(os.path.join(CERTS, "www", "big.bin"), "rb") as f:
            want = hashlib.sha256(f.read()).hexdigest()

        def scenario(run):
            r = run.get("/big.bin")
            return r.status, len(r.body), hashlib.sha256(r.body).hexdigest()
        self.assertEqual(self.both("proxy_pass https://@GOOD@; proxy_buffering off;", scenario),
                         (200, BIG_SIZE, want))

    def test_post_body_of_100_kib_reaches_the_backend_intact(self):
        body = os.urandom(POST_SIZE)
        want = b"len=%d sha256=%s" % (POST_SIZE, hashlib.sha256(body).hexdigest().encode())

        def scenario(run):
            r = run.get("/upload", "POST", body)
            return r.status, r.body
        self.assertEqual(self.both("proxy_pass https://@ECHO@; client_max_body_size 1m;",
                                   scenario), (200, want))


if __name__ == "__main__":
    proxyd_test.main()
