"""The reference for proxy/proxy_uri.c: runs Debian's nginx with proxy_pass in front of a
backend that answers with the request line it received, and checks that nginx sends exactly
the URIs of the table in t/unit/test_proxy_uri.c (and the escaping of every byte, and
$proxy_host/$proxy_port). If nginx ever disagrees, the unit table is wrong, not nginx."""
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


class EchoLineBackend:
    """Answers each request with "request line\\nHost header" as the body."""

    def __init__(self, sock):
        self.sock = sock
        sock.listen(64)
        sock.settimeout(0.5)
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.serve(conn)

    @staticmethod
    def serve(conn):
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            lines = data.split(b"\r\n\r\n")[0].split(b"\r\n")
            host = b"-"
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"host":
                    host = value.strip()
            body = lines[0] + b"\n" + host
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


LOCATIONS = r"""
location /a/ { proxy_pass http://B/x/; }
location /b { proxy_pass http://B/x/; }
location /c/ { proxy_pass http://B; }
location /d/ { proxy_pass http://B/; }
location = /e { proxy_pass http://B/f; }
location ^~ /g/ { proxy_pass http://B/h; }
location /emptyloc { proxy_pass http://B/; }
location /pa/ { proxy_pass http://B/x/?a=1; }
location /q/ { proxy_pass http://B?x=1; }
location /u/ { proxy_pass http://unix:SOCK:/z/; }
location /un/ { proxy_pass http://unix:SOCK:; }
location ~ ^/re/ { proxy_pass http://B; }
location /nm/ { try_files /nonexistent @n; }
location @n { proxy_pass http://B; }
location /rw/ { rewrite ^/rw/(.*)$ /new/$1 break; proxy_pass http://B/x/; }
location /rwb/ { rewrite ^/rwb/(.*)$ /rwb/$1 break; proxy_pass http://B/x/; }
location /rwn/ { rewrite ^/rwn/(.*)$ /new/$1 break; proxy_pass http://B; }
location /rwa/ { rewrite ^ /new?z=1 break; proxy_pass http://B; }
location /rwc/ { rewrite ^/rwc/(.*)$ /rwc/$1 break; proxy_pass http://B; }
location /rwq/ { rewrite ^/rwq/(.*)$ /rwq/$1? break; proxy_pass http://B; }
location /rwl/ { rewrite ^/rwl/(.*)$ /c/$1 last; }
location /er/ { error_page 404 = /c/fallback%20x?k=v; return 404; }
location /er2/ { error_page 404 = /a/fall"b%41?k=v; return 404; }
location /var/ { proxy_pass http://$bh:BPORT/v/; }
location /varslash/ { proxy_pass http://$bh:BPORT/; }
location /varq/ { proxy_pass http://$bh:BPORT?x=1; }
location /varnouri/ { proxy_pass http://$bh:BPORT; }
location /rux/ { proxy_pass http://$bh:BPORT/p$uri; }
location /ru/ { proxy_pass http://$bh:BPORT$request_uri; }
location /ia/ { proxy_pass http://B/x/; if ($arg_q) { } }
location /nest/ { location /nest/in/ { proxy_pass http://B/x/; } }
location /z/ { proxy_pass http://127.0.0.1:0BPORT/; }
"""

# (what, request target as the client sends it, URI nginx sends upstream); the same rows,
# by the same names, as uri_cases in t/unit/test_proxy_uri.c, plus a few around them.
CASES = [
    ("prefix replaced", b"/a/my-post", b"/x/my-post"),
    ("location itself", b"/a/", b"/x/"),
    ("args appended as sent", b"/a/x?y=1&z=%2F", b"/x/x?y=1&z=%2F"),
    ("empty args add no '?'", b"/a/x?", b"/x/x"),
    ("args with '?' kept", b"/a/x?a?b", b"/x/x?a?b"),
    ("no-slash location doubles slash", b"/b/my-post", b"/x//my-post"),
    ("no-slash location, exact", b"/b", b"/x/"),
    ("no-slash location, longer name", b"/bb/q", b"/x/b/q"),
    ("no-slash location, args", b"/b?x", b"/x/?x"),
    ("slash URI strips prefix", b"/d/users", b"/users"),
    ("exact location", b"/e", b"/f"),
    ("exact location with args", b"/e?x=1", b"/f?x=1"),
    ("URI without slash glues", b"/g/k", b"/hk"),
    ("prefix longer than URI part", b"/emptylocation/x", b"/ation/x"),
    ("location equal to prefix", b"/emptyloc", b"/"),
    ("URI part with args", b"/pa/k?z=1", b"/x/?a=1k?z=1"),
    ("URI part of args only", b"/q/k?z=1", b"?x=1k?z=1"),
    ("unix socket URI part", b"/u/k?z", b"/z/k?z"),
    ("no URI: raw, %2F kept", b"/c/a%2Fb?q=%20", b"/c/a%2Fb?q=%20"),
    ("no URI: raw, dots and slashes kept", b"/c//x/../y", b"/c//x/../y"),
    ("no URI: raw '?' alone kept", b"/c/x?", b"/c/x?"),
    ("no URI: raw quote kept", b'/c/x"?q=%20', b'/c/x"?q=%20'),
    ("regex location: raw", b"/re/%41b?c", b"/re/%41b?c"),
    ("unix socket without URI: raw", b"/un/k%41?z", b"/un/k%41?z"),
    ("named location after try_files: raw", b"/nm/x%41?a=b", b"/nm/x%41?a=b"),
    ("rewrite break drops URI part", b"/rw/p%20q?s=1", b"/new/p%20q?s=1"),
    ("rewrite break, same URI, URI part dropped", b"/rwb/y", b"/rwb/y"),
    ("rewrite break without URI: escaped", b"/rwn/p%20q?s=1", b"/new/p%20q?s=1"),
    ("rewrite break decodes %2F", b"/rwn/a%2Fb", b"/new/a/b"),
    ("rewrite break with new args", b"/rwa/k?old=1", b"/new?z=1&old=1"),
    ("rewrite break escapes quote", b'/rwc/a"b?x=%41', b"/rwc/a%22b?x=%41"),
    ("rewrite break dropping args", b"/rwq/k?x=1", b"/rwq/k"),
    ("rewrite last into no-URI location", b"/rwl/x%41?a=b", b"/c/xA?a=b"),
    ("error_page URI is escaped again", b"/er/x?orig=1", b"/c/fallback%2520x?k=v"),
    ("error_page into URI-part location", b"/er2/z", b"/x/fall%22b%2541?k=v"),
    ("variables: URI part replaces all", b"/var/k?z=1", b"/v/"),
    ("variables: '/' URI", b"/varslash/k?z=1", b"/"),
    ("variables: args-only URI gets '/'", b"/varq/k?z=1", b"/?x=1"),
    ("variables: no URI is raw", b"/varnouri/k%2F?z=1", b"/varnouri/k%2F?z=1"),
    ("variables: URI not escaped", b"/rux/%20?", b"/p/rux/ "),
    ("variables: $request_uri as URI", b"/ru/x%41?a=b", b"/ru/x%41?a=b"),
    ("quoted: decoded then escaped", b'/a/x"%41?q=%20', b"/x/x%22A?q=%20"),
    ("not quoted: raw bytes pass", b'/a/x"?q=%20', b'/x/x"?q=%20'),
    ("not quoted: raw unicode passes", b"/a/caf\xc3\xa9", b"/x/caf\xc3\xa9"),
    ("quoted: unicode escaped", b"/a/caf\xc3\xa9%41", b"/x/caf%C3%A9A"),
    ("not quoted: specials pass", b"/a/{}|\\^`", b"/x/{}|\\^`"),
    ("quoted: %2F merged", b"/a/%2F-", b"/x/-"),
    ("quoted: %3F escaped", b"/a/x%3Fy", b"/x/x%3Fy"),
    ("quoted: %23 escaped", b"/a/x%23y", b"/x/x%23y"),
    ("quoted: %25 escaped", b"/a/%25-", b"/x/%25-"),
    ("quoted: %20 escaped", b"/a/%20-", b"/x/%20-"),
    ("quoted: %2B decoded", b"/a/x%2By", b"/x/x+y"),
    ("quoted: %7E decoded", b"/a/%7E-", b"/x/~-"),
    ("quoted: dots resolved", b"/a/x%2F..%2Fy", b"/x/y"),
    ("dot segments resolved", b"/a/../a/k", b"/x/k"),
    ("double slash merged", b"/a//x", b"/x/x"),
    ("fragment dropped", b"/a/x#frag", b"/x/x"),
    ("nested location's own name", b"/nest/in/k", b"/x/k"),
    ("proxy_pass inherited into if", b"/ia/k?q=1", b"/x/k?q=1"),
]

# Bytes nginx leaves unescaped (the same string as in test_escape_matches_nginx_for_every_byte).
KEPT = b"!$&'()*+,-./0123456789:;=@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]_abcdefghijklmnopqrstuvwxyz~"

# $proxy_host|$proxy_port for targets nothing needs to answer on: read from the access log.
PROXY_HOST_CASES = [
    ("/s1/", "https://127.0.0.1:443/", "127.0.0.1|443"),
    ("/s2/", "https://127.0.0.1/", "127.0.0.1|443"),
    ("/s3/", "https://127.0.0.1:80/", "127.0.0.1:80|80"),
    ("/s4/", "http://127.0.0.1:443/", "127.0.0.1:443|443"),
    ("/s5/", "http://127.0.0.1:80/", "127.0.0.1|80"),
    ("/s6/", "http://127.0.0.1/", "127.0.0.1|80"),
    ("/s7/", "https://[::1]/", "[::1]|443"),
    ("/s8/", "http://[::1]:8/", "[::1]:8|8"),
    ("/s9/", "http://unix:/nonexistent.sock:/", "localhost|"),
]


def ask(port, target):
    """(status, [request line, Host]) for a GET of target through nginx."""
    answer = proxyd_test.raw_request(port, b"GET " + target + b" HTTP/1.0\r\nHost: client\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    return proxyd_test.status_of(head), body.split(b"\n")


class NginxProxyUriReference(unittest.TestCase):
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
        tcp = socket.socket()
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", 0))
        cls.bport = tcp.getsockname()[1]
        cls.cleanups.append(EchoLineBackend(tcp).close)

        cls.port = proxyd_test.free_port()
        cls.nginx = proxyd_test.NginxRef("")
        cls.cleanups.append(cls.nginx.cleanup)
        # nginx's workers may run as another user: let them reach the socket.
        os.chmod(cls.nginx.dir, 0o755)
        sock_path = cls.nginx.path("b.sock")
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(sock_path)
        os.chmod(sock_path, 0o777)
        cls.cleanups.append(EchoLineBackend(unix).close)

        locations = (LOCATIONS.replace("BPORT", str(cls.bport)).replace("SOCK", sock_path)
                     .replace("http://B", "http://127.0.0.1:%d" % cls.bport))
        for prefix, target, _ in PROXY_HOST_CASES:
            locations += "location %s { proxy_pass %s; }\n" % (prefix, target)
        cls.access_log = cls.nginx.path("ph.log")
        conf = ("http {\n map $uri $bh { default 127.0.0.1; }\n"
                " log_format ph '$uri $proxy_host|$proxy_port';\n"
                " proxy_connect_timeout 2s; proxy_read_timeout 2s;\n"
                " server {\n  listen 127.0.0.1:%d;\n  access_log %s ph;\n  root %s;\n%s }\n}\n"
                % (cls.port, cls.access_log, cls.nginx.dir, locations))
        with open(cls.nginx.conf_path, "a") as f:
            f.write(conf)
        cls.nginx.start(wait_for=cls.port)

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            cleanup()

    def test_uri_table(self):
        for what, target, sent in CASES:
            with self.subTest(what):
                status, lines = ask(self.port, target)
                self.assertEqual(status, 200, "%r" % target)
                self.assertEqual(lines[0], b"GET " + sent + b" HTTP/1.0", "%r" % target)

    def test_escaping_of_every_byte(self):
        for byte in range(1, 256):
            with self.subTest(byte=byte):
                status, lines = ask(self.port, b"/a/%%%02X-" % byte)
                self.assertEqual(status, 200)
                if byte in KEPT and byte != ord("/"):
                    want = b"/x/" + bytes([byte]) + b"-"
                elif byte == ord("/"):
                    want = b"/x/-"  # "/a//-" is merged before anything is sent
                else:
                    want = b"/x/%%%02X-" % byte
                self.assertEqual(lines[0], b"GET " + want + b" HTTP/1.0")

    def test_nul_escape_is_refused_before_proxying(self):
        status, _ = ask(self.port, b"/a/%00-")
        self.assertEqual(status, 400)

    def test_host_header_keeps_the_port_as_written(self):
        status, lines = ask(self.port, b"/z/k")
        self.assertEqual(status, 200)
        self.assertEqual(lines[1], b"127.0.0.1:0%d" % self.bport)

    def test_proxy_host_and_port(self):
        for prefix, _, _ in PROXY_HOST_CASES:
            ask(self.port, prefix.encode() + b"k")
        want = {prefix + "k": expect for prefix, _, expect in PROXY_HOST_CASES}
        last = PROXY_HOST_CASES[-1][0] + "k "
        text = proxyd_test.wait_for_text(self.access_log, last)
        self.assertIn(last, text, "the access log never listed the last request")
        got = {}
        for line in text.splitlines():
            uri, _, value = line.partition(" ")
            if uri in want:
                got[uri] = value
        self.assertEqual(got, want)


if __name__ == "__main__":
    proxyd_test.main()
