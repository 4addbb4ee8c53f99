"""realip (ngx_http_realip_module), differential against Debian's nginx: set_real_ip_from,
real_ip_header (X-Real-IP, X-Forwarded-For, any field, proxy_protocol), real_ip_recursive,
$realip_remote_addr/$realip_remote_port, the address seen by $remote_addr, $remote_port,
$binary_remote_addr, the access log and the error log's "client:", its restoration on a
keepalive connection, and settings that exist only in a location (applied in preaccess, so
not before a `return`). The test client connects from 127.0.0.1: servers trust it or not as
each case needs; its own source port is replaced by CPORT before answers are compared."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
import test_config_errors  # noqa: E402

SHOW = '"$remote_addr|$realip_remote_addr|$remote_port|$realip_remote_port\\n"'
ADDR_HEADER = 'add_header X-Addr "$remote_addr|$realip_remote_addr|$remote_port" always;'

CONF = r"""
http {
    log_format realip '$host $remote_addr $realip_remote_addr $binary_remote_addr $status';
    access_log access.log realip;
    client_max_body_size 10;

    server {
        listen 127.0.0.1:%(port)d default_server;
        server_name xrealip;
        set_real_ip_from 127.0.0.1;
        location / { return 200 SHOW; }
        location /proxied { proxy_pass http://BACKEND; ADDR_HEADER }
        location /location-xff {
            real_ip_header X-Forwarded-For;
            proxy_pass http://BACKEND;
            ADDR_HEADER
        }
        location /redirect {
            error_page 418 = /location-xff;
            return 418;
        }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name xff;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        location / { return 200 SHOW; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name xff-recursive;
        set_real_ip_from 127.0.0.1;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from 2001:db8::/32;
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / { return 200 SHOW; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name untrusted;
        set_real_ip_from 10.0.0.0/8;
        set_real_ip_from ::1;
        location / { return 200 SHOW; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name field;
        set_real_ip_from 127.0.0.0/8;
        real_ip_header X-Client;
        location / { return 200 SHOW; }
        location /lowercase-xff {
            real_ip_header x-forwarded-for;
            proxy_pass http://BACKEND;
            ADDR_HEADER
        }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name proxy-protocol;
        set_real_ip_from 127.0.0.1;
        real_ip_header proxy_protocol;
        location / { return 200 SHOW; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name location-only;
        location /in { set_real_ip_from 127.0.0.1; proxy_pass http://BACKEND; ADDR_HEADER }
        location /in-return { set_real_ip_from 127.0.0.1; return 200 SHOW; }
        location /out { proxy_pass http://BACKEND; ADDR_HEADER }
        location /recursive {
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            real_ip_recursive on;
            proxy_pass http://BACKEND;
            ADDR_HEADER
        }
    }
}
""".replace("SHOW", SHOW).replace("ADDR_HEADER", ADDR_HEADER)


def request(host, path="/", headers=(), extra=b""):
    head = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host)
    for name, value in headers:
        head += "%s: %s\r\n" % (name, value)
    return head.encode() + b"\r\n" + extra


def exchange_from(port, data):
    """Sends data on a fresh connection and reads until close; the client's own port in the
    answer becomes CPORT, so answers from two servers compare."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        cport = s.getsockname()[1]
        s.sendall(data)
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    finally:
        s.close()
    out = proxyd_test.normalize_response(out)
    out = out.replace(str(port).encode(), b"PORT")
    return re.sub(rb"\b%d\b" % cport, b"CPORT", out)


class RealipTest(proxyd_test.BackendDifferential):
    TEMPLATE = CONF

    @classmethod
    def make_backend(cls):
        return proxyd_test.RecordingBackend(keepalive=True)

    def exchange(self, data):
        got = exchange_from(self.port, data)
        ref = exchange_from(self.nginx_port, data)
        self.assertEqual(got, ref, "proxyd and nginx answer %r differently" % data[:200])
        return got

    def body(self, host, path="/", headers=()):
        """The body of the answer, checked equal to nginx's."""
        return self.exchange(request(host, path, headers)).partition(b"\r\n\r\n")[2].decode()

    def addr_header(self, host, path, headers=()):
        got = self.exchange(request(host, path, headers))
        m = re.search(rb"(?m)^X-Addr: ([^\r\n]*)", got)
        self.assertIsNotNone(m, got)
        return m.group(1).decode()

    # ---- X-Real-IP (the default) ----

    def test_without_header_the_peer_stays(self):
        self.assertEqual(self.body("xrealip"), "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    def test_x_real_ip_from_trusted_peer_replaces_address(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "192.0.2.7")]),
                         "192.0.2.7|127.0.0.1||CPORT\n")

    def test_x_real_ip_with_port_replaces_port(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "192.0.2.7:5678")]),
                         "192.0.2.7|127.0.0.1|5678|CPORT\n")

    def test_x_real_ip_ipv6_plain_and_bracketed_with_port(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "2001:db8::1")]),
                         "2001:db8::1|127.0.0.1||CPORT\n")
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "[2001:DB8::2]:8080")]),
                         "2001:db8::2|127.0.0.1|8080|CPORT\n")
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "::ffff:192.0.2.1")]),
                         "::ffff:192.0.2.1|127.0.0.1||CPORT\n")
        # a whole IPv6 address is no address:port
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "::1:80")]),
                         "::0.1.0.128|127.0.0.1||CPORT\n")

    def test_x_real_ip_bracketed_ipv4_with_port_is_accepted(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "[192.0.2.9]:443")]),
                         "192.0.2.9|127.0.0.1|443|CPORT\n")

    def test_x_real_ip_invalid_values_leave_the_peer(self):
        for value in ["garbage", "300.1.1.1", "192.0.2.7:0", "192.0.2.7:65536", "192.0.2.7:",
                      "192.0.2.7:80x", "[2001:db8::1]", "[2001:db8::1]x80", "255.255.255.255",
                      "1.2.3", "2001:db8::1%eth0", "unix:", "192.0.2.7 extra?", ","]:
            with self.subTest(value=value):
                self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", value)]),
                                 "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    def test_x_real_ip_empty_value_leaves_the_peer(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "")]),
                         "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    def test_x_real_ip_list_takes_its_last_item(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "192.0.2.1, 192.0.2.2")]),
                         "192.0.2.2|127.0.0.1||CPORT\n")

    def test_x_real_ip_first_of_several_fields_wins(self):
        self.assertEqual(self.body("xrealip", headers=[("X-Real-IP", "192.0.2.1"),
                                                       ("x-real-ip", "192.0.2.2")]),
                         "192.0.2.1|127.0.0.1||CPORT\n")

    def test_x_real_ip_name_is_caseless(self):
        self.assertEqual(self.body("xrealip", headers=[("x-REAL-ip", "192.0.2.3")]),
                         "192.0.2.3|127.0.0.1||CPORT\n")

    def test_untrusted_peer_keeps_its_address(self):
        self.assertEqual(self.body("untrusted", headers=[("X-Real-IP", "192.0.2.7")]),
                         "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    # ---- X-Forwarded-For ----

    def test_xff_takes_the_last_item_without_recursion(self):
        self.assertEqual(self.body("xff", headers=[("X-Forwarded-For", "192.0.2.1, 10.0.0.2")]),
                         "10.0.0.2|127.0.0.1||CPORT\n")
        self.assertEqual(self.body("xff", headers=[("X-Forwarded-For", "192.0.2.1,192.0.2.2")]),
                         "192.0.2.2|127.0.0.1||CPORT\n")

    def test_xff_separators_and_odd_lists(self):
        for value, expected in [("192.0.2.1,, ,", "192.0.2.1"), (" ,192.0.2.4", "127.0.0.1"),
                                ("192.0.2.1 192.0.2.5", "192.0.2.5"), ("192.0.2.1, bad", "127.0.0.1"),
                                (",", "127.0.0.1"), (", ,", "127.0.0.1"),
                                ("192.0.2.1:81, [2001:db8::7]:82", "2001:db8::7")]:
            with self.subTest(value=value):
                self.assertEqual(self.body("xff", headers=[("X-Forwarded-For", value)]).split("|")[0],
                                 expected)

    def test_xff_without_recursion_reads_only_the_last_field(self):
        self.assertEqual(self.body("xff", headers=[("X-Forwarded-For", "192.0.2.1"),
                                                   ("X-Forwarded-For", "10.0.0.2")]),
                         "10.0.0.2|127.0.0.1||CPORT\n")

    def test_xff_x_real_ip_is_ignored(self):
        self.assertEqual(self.body("xff", headers=[("X-Real-IP", "192.0.2.9")]),
                         "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    def test_recursive_skips_trusted_items_from_the_right(self):
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "192.0.2.1, 192.0.2.2, 10.0.0.2, 10.1.1.1")]),
            "192.0.2.2|127.0.0.1||CPORT\n")

    def test_recursive_all_trusted_gives_the_leftmost(self):
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "10.0.0.1:1234, 10.0.0.2, 10.0.0.3")]),
            "10.0.0.1|127.0.0.1|1234|CPORT\n")

    def test_recursive_stops_at_an_invalid_item(self):
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "192.0.2.1, bad, 10.0.0.3")]),
            "10.0.0.3|127.0.0.1||CPORT\n")
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", ",10.0.0.3")]),
            "127.0.0.1|127.0.0.1|CPORT|CPORT\n")
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", ", 10.0.0.3")]),
            "10.0.0.3|127.0.0.1||CPORT\n")

    def test_recursive_walks_several_fields_from_the_last(self):
        for fields, expected in [
                (["192.0.2.1", "10.0.0.2"], "192.0.2.1"),
                (["192.0.2.3, 10.0.0.5", "10.0.0.6, 10.0.0.7"], "192.0.2.3"),
                (["10.0.0.1", "192.0.2.4, 10.0.0.2"], "192.0.2.4"),
                (["bad", "10.0.0.2"], "10.0.0.2"),
                (["10.0.0.1", "bad"], "127.0.0.1"),
                (["10.0.0.8", "10.0.0.9"], "10.0.0.8")]:
            with self.subTest(fields=fields):
                got = self.body("xff-recursive", headers=[("X-Forwarded-For", f) for f in fields])
                self.assertEqual(got.split("|")[0], expected)

    def test_recursive_trusts_ipv6_ranges_and_ipv4_mapped_addresses(self):
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "192.0.2.1, [2001:db8::5]:443, 2001:db8:1::6")]),
            "192.0.2.1|127.0.0.1||CPORT\n")
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "192.0.2.2, ::ffff:10.0.0.9")]),
            "192.0.2.2|127.0.0.1||CPORT\n")
        self.assertEqual(self.body("xff-recursive", headers=[
            ("X-Forwarded-For", "192.0.2.3, 2001:db9::1")]),
            "2001:db9::1|127.0.0.1||CPORT\n")

    # ---- other fields, proxy_protocol ----

    def test_named_field_replaces_address(self):
        self.assertEqual(self.body("field", headers=[("X-Client", "192.0.2.8"),
                                                     ("X-Real-IP", "192.0.2.9")]),
                         "192.0.2.8|127.0.0.1||CPORT\n")

    def test_lowercase_special_name_is_a_plain_field(self):
        # "x-forwarded-for" is not nginx's X-Forwarded-For: only its first field is read
        self.assertEqual(self.addr_header("field", "/lowercase-xff", [
            ("X-Forwarded-For", "192.0.2.1, 192.0.2.2"), ("X-Forwarded-For", "192.0.2.3")]),
            "192.0.2.2|127.0.0.1|")

    def test_proxy_protocol_without_proxy_protocol_address_changes_nothing(self):
        self.assertEqual(self.body("proxy-protocol", headers=[("X-Real-IP", "192.0.2.7")]),
                         "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    # ---- phases: server level in post-read, location level in preaccess ----

    def test_location_only_settings_apply_before_content(self):
        self.assertEqual(self.addr_header("location-only", "/in", [("X-Real-IP", "192.0.2.7:5678")]),
                         "192.0.2.7|127.0.0.1|5678")
        self.assertEqual(self.addr_header("location-only", "/out", [("X-Real-IP", "192.0.2.7")]),
                         "127.0.0.1|127.0.0.1|CPORT")
        self.assertEqual(self.addr_header("location-only", "/recursive", [
            ("X-Forwarded-For", "192.0.2.1, 10.0.0.2")]), "192.0.2.1|127.0.0.1|")

    def test_location_only_settings_come_after_return(self):
        self.assertEqual(self.body("location-only", "/in-return", [("X-Real-IP", "192.0.2.7")]),
                         "127.0.0.1|127.0.0.1|CPORT|CPORT\n")

    def test_server_level_result_is_not_replaced_by_the_location(self):
        self.assertEqual(self.addr_header("xrealip", "/location-xff", [
            ("X-Real-IP", "192.0.2.1"), ("X-Forwarded-For", "192.0.2.2")]), "192.0.2.1|127.0.0.1|")

    def test_location_header_applies_when_server_level_found_nothing(self):
        self.assertEqual(self.addr_header("xrealip", "/location-xff", [
            ("X-Forwarded-For", "192.0.2.2")]), "192.0.2.2|127.0.0.1|")

    def test_internal_redirect_does_not_apply_realip_again(self):
        self.assertEqual(self.addr_header("xrealip", "/redirect", [
            ("X-Real-IP", "127.0.0.1"), ("X-Forwarded-For", "192.0.2.2")]), "127.0.0.1|127.0.0.1|")

    # ---- where the address is seen ----

    def test_keepalive_next_request_starts_from_the_real_peer(self):
        def run(port):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                cport = s.getsockname()[1]
                answers, buf = [], b""
                for headers in ([("X-Real-IP", "192.0.2.7:5678")], [],
                                [("X-Real-IP", "192.0.2.8")]):
                    s.sendall(request("xrealip", headers=headers).replace(
                        b"Connection: close\r\n", b""))
                    resp, buf = proxyd_test.recv_response(s, buf)
                    answers.append(resp.partition(b"\r\n\r\n")[2].replace(
                        str(cport).encode(), b"CPORT"))
                return answers
            finally:
                s.close()
        got = run(self.port)
        self.assertEqual(got, [b"192.0.2.7|127.0.0.1|5678|CPORT\n", b"127.0.0.1|127.0.0.1|CPORT|CPORT\n",
                               b"192.0.2.8|127.0.0.1||CPORT\n"])
        self.assertEqual(run(self.nginx_port), got)

    def test_access_log_sees_the_replaced_address(self):
        mark = "log-%d.test" % proxyd_test.free_port()
        for headers in ([("X-Real-IP", "192.0.2.7")], [("X-Real-IP", "2001:db8::9")], []):
            self.exchange(request(mark, headers=headers))
        lines = []
        for server in (self.proxyd, self.nginx):
            text = proxyd_test.wait_for_text(server.path("access.log"), mark + " 127.0.0.1 ")
            lines.append([line for line in text.splitlines() if line.startswith(mark)])
        self.assertEqual(lines[0], [
            mark + r" 192.0.2.7 127.0.0.1 \xC0\x00\x02\x07 200",
            mark + r" 2001:db8::9 127.0.0.1  \x01\x0D\xB8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09 200",
            mark + r" 127.0.0.1 127.0.0.1 \x7F\x00\x00\x01 200"])
        self.assertEqual(lines[1], lines[0])

    def test_error_log_client_is_the_replaced_address(self):
        mark = "err-%d.test" % proxyd_test.free_port()
        self.exchange(request(mark, headers=[("X-Real-IP", "192.0.2.77"),
                                             ("Content-Length", "100")], extra=b"x" * 100))
        lines = []
        for server in (self.proxyd, self.nginx):
            text = proxyd_test.wait_for_text(server.error_log, '"' + mark + '"')
            found = [re.sub(r"^.*\[error\] \d+#\d+: (\*\d+ )?", "", line)
                     for line in text.splitlines() if mark in line and "[error]" in line]
            lines.append(found)
        self.assertEqual(lines[0], [
            'client intended to send too large body: 100 bytes, client: 192.0.2.77, '
            'server: xrealip, request: "GET / HTTP/1.1", host: "%s"' % mark])
        self.assertEqual(lines[1], lines[0])


class RealipUnixSocketTest(proxyd_test.TempDirCase):
    """set_real_ip_from unix: trusts every unix-socket client."""

    def run_server(self, cls, sock):
        conf = ('http { access_log off; server { listen unix:%s; set_real_ip_from unix:;\n'
                'location / { return 200 %s; } } }\n' % (sock, SHOW))
        server = cls(conf)
        self.addCleanup(server.cleanup)
        server.start()
        answers = []
        for headers in ([("X-Real-IP", "192.0.2.7:5678")], []):
            for _ in range(50):
                if os.path.exists(sock):
                    break
                time.sleep(0.1)
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(sock)
            s.sendall(request("unix", headers=headers))
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
            s.close()
            answers.append(out.partition(b"\r\n\r\n")[2])
        return answers

    def test_unix_peer_trusted_with_unix_colon(self):
        got = self.run_server(proxyd_test.Proxyd, os.path.join(self.dir, "p.sock"))
        self.assertEqual(got, [b"192.0.2.7|unix:|5678|\n", b"unix:|unix:||\n"])
        self.assertEqual(self.run_server(proxyd_test.NginxRef, os.path.join(self.dir, "n.sock")), got)


class RealipConfigTest(proxyd_test.TempDirCase):
    """The exact [emerg] and [warn] lines, checked against nginx's."""
    PREFIX = "proxyd-e2e-realip-"
    run_t = test_config_errors.ConfigErrorsTest.run_t
    nginx_lines = test_config_errors.ConfigErrorsTest.nginx_lines
    assert_fails = test_config_errors.ConfigErrorsTest.assert_fails
    assert_ok = test_config_errors.ConfigErrorsTest.assert_ok

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "proxyd.conf")

    def http(self, directive):
        return "http {\n  %s\n  server { listen 127.0.0.1:{port}; }\n}\n" % directive

    def assert_warns(self, conf, warn):
        self.write("proxyd.conf", test_config_errors.HEAD + conf.replace(
            "{port}", str(proxyd_test.free_port())))
        expected = ["proxyd: [warn] " + warn,
                    "proxyd: the configuration file DIR/proxyd.conf syntax is ok",
                    "proxyd: configuration file DIR/proxyd.conf test is successful"]
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual((rc, err.replace(self.dir, "DIR").splitlines()), (0, expected))
        if test_config_errors.nginx_available():
            self.assertEqual(self.nginx_lines(()), (0, expected), "nginx disagrees")

    def test_set_real_ip_from_invalid_address_is_host_not_found(self):
        for value in ["300.1.1.1", "10.0.0.1/33", "::1/129", "1.2.3.4/", "10.0.0.1:80", "[::1]",
                      "unix:/x", "UNIX:", "all", "nosuchhost.invalid"]:
            with self.subTest(value=value):
                self.assert_fails(self.http("set_real_ip_from %s;" % value),
                                  'host not found in set_real_ip_from "%s" in DIR/proxyd.conf:5'
                                  % value)

    def test_set_real_ip_from_empty_is_host_not_found(self):
        self.assert_fails(self.http('set_real_ip_from "";'),
                          'host not found in set_real_ip_from "" in DIR/proxyd.conf:5')

    def test_set_real_ip_from_low_bits_warn(self):
        self.assert_warns(self.http("set_real_ip_from 10.0.0.1/8;"),
                          "low address bits of 10.0.0.1/8 are meaningless in DIR/proxyd.conf:5")
        self.assert_warns(self.http("set_real_ip_from fe80::1/16;"),
                          "low address bits of fe80::1/16 are meaningless in DIR/proxyd.conf:5")

    def test_valid_forms_are_accepted(self):
        self.assert_ok(self.http("set_real_ip_from 10.0.0.0/8; set_real_ip_from 192.0.2.1;\n"
                                 "  set_real_ip_from 2001:db8::/32; set_real_ip_from unix:;\n"
                                 "  set_real_ip_from localhost; real_ip_header proxy_protocol;\n"
                                 "  real_ip_recursive on;"))

    def test_arity_and_flag_errors(self):
        self.assert_fails(self.http("set_real_ip_from 10.0.0.0/8 1;"),
                          'invalid number of arguments in "set_real_ip_from" directive in '
                          'DIR/proxyd.conf:5')
        self.assert_fails(self.http("real_ip_header;"),
                          'invalid number of arguments in "real_ip_header" directive in '
                          'DIR/proxyd.conf:5')
        self.assert_fails(self.http("real_ip_recursive maybe;"),
                          'invalid value "maybe" in "real_ip_recursive" directive, it must be "on" '
                          'or "off" in DIR/proxyd.conf:5')

    def test_not_allowed_in_main_context(self):
        self.assert_fails("set_real_ip_from 10.0.0.0/8;\n",
                          '"set_real_ip_from" directive is not allowed here in DIR/proxyd.conf:4')


if __name__ == "__main__":
    proxyd_test.main()
