"""valid_referers and $invalid_referer (ngx_http_referer_module), differential against Debian's
nginx: the same configuration runs under both, every referer of a table goes to every
location of it, and both must give the backend the same $invalid_referer ("" valid, "1"
invalid). Covers none, blocked, server_names (plain, wildcard and regex names), exact hosts
with and without a URI prefix, head and tail wildcards, ~regexes, the port and the scheme's
case, inheritance between server and location, the first of several Referer headers, and
the configuration errors with nginx's exact [emerg] lines."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
import test_config_errors  # noqa: E402


def echo_invalid(req):
    """Backend answer: the X-Invalid header it received, as the body ("-" when absent)."""
    v = req.header("X-Invalid")
    body = b"-" if v is None else v
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


# brackets: proxy_set_header drops a header whose value is empty
SHOW = 'proxy_set_header X-Invalid "[$invalid_referer]"; proxy_pass http://BACKEND;'

CONF = r"""
http {
    server {
        listen 127.0.0.1:%(port)d default_server;
        server_name main.test;
        location /unset { SHOW }
        location /plain { valid_referers example.com; SHOW }
        location /none { valid_referers none blocked example.com; SHOW }
        location /uri { valid_referers example.com/galleries/ *.img.org/Pics; SHOW }
        location /wild {
            valid_referers *.example.com .dot.org www.example.* *.deep.dot.org;
            SHOW
        }
        location /regex { valid_referers ~\.google\. "~^foo:8080/x" other.com; SHOW }
        location /mixed { valid_referers example.com/ok ~example; SHOW }
        location /empty-host { valid_referers /root; SHOW }
        location /upper { valid_referers Example.COM/Path; SHOW }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name ref.test *.ref.test "~^re\d+\.ex$";
        valid_referers blocked server_names ~inherited;
        location / { SHOW }
        location /nested { location /nested/inner { SHOW } }
        location /own { valid_referers a.com; SHOW }
        location /own-names { valid_referers none server_names; SHOW }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name noname.test;
        location / { valid_referers none server_names; SHOW }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name .dotted.test;
        location / { valid_referers server_names; SHOW }
    }
}
""".replace("SHOW", SHOW)

LONG_HOST = "a" * 252 + ".com"  # 256 bytes: the longest host nginx looks at

REFERERS = [
    None, "", "example.com", "http://example.com", "http://example.com/",
    "https://EXAMPLE.com:8080/galleries/x", "http://example.com/galleries/",
    "http://example.com/Galleries/", "http://a.b", "http://a.bc", "ftp://example.com/",
    "http://evil.com/", "http://a.example.com/", "http://example.com.evil.com/",
    "http://dot.org/", "http://x.dot.org/", "http://deep.dot.org/", "http://x.deep.dot.org/",
    "http://www.example.co.uk/", "http://www.example/", "http://www.google.com/search",
    "http://foo:8080/xyz", "HTTP://FOO:8080/X", "http://a.img.org/Pics/1",
    "http://a.img.org/pics/1", "http://example.com/no", "http://example.net/ok",
    "http://example.com/ok/x", "http:///root", "http://:80/root", "HTTPS://WWW.EXAMPLE.ORG",
    "http://user@example.com/", "http://%s/" % LONG_HOST, "http://a%s/" % LONG_HOST,
    "http://ref.test/", "http://sub.ref.test/x", "http://re12.ex/", "http://RE12.EX:1/",
    "http://re12.ex.evil/", "http://inherited.net/", "https://a.com/", "http://example.com/Path",
    "http://EXAMPLE.com/Path/x", "http://example.com/path", "http://dotted.test/",
    "http://x.dotted.test/", "http://noname.test/", "example.com/x", "http://example.com?x",
]

PATHS = [("main.test", p) for p in
         ("/unset", "/plain", "/none", "/uri", "/wild", "/regex", "/mixed", "/empty-host",
          "/upper")]
PATHS += [("ref.test", p) for p in ("/", "/nested/inner", "/own", "/own-names")]
PATHS += [("noname.test", "/"), ("dotted.test", "/")]


def request(host, path, referers):
    head = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host)
    for r in referers:
        head += "Referer: %s\r\n" % r
    return (head + "\r\n").encode()


class RefererDifferentialTest(proxyd_test.BackendDifferential):
    TEMPLATE = CONF

    @classmethod
    def make_backend(cls):
        return proxyd_test.RecordingBackend(response=echo_invalid)

    def answer(self, port, data):
        resp = proxyd_test.raw_request(port, data)
        parsed = proxyd_test.parse_responses(resp)
        self.assertTrue(parsed, "no response to %r" % data)
        status, _, body = parsed[0]
        return status, body.decode("latin-1")

    def both(self, host, path, referers):
        data = request(host, path, referers)
        got = self.answer(self.port, data)
        ref = self.answer(self.nginx_port, data)
        self.assertEqual(got, ref, "%s%s with Referer %r" % (host, path, referers))
        return got[1]

    def test_every_referer_in_every_location_as_nginx(self):
        table = {}
        for host, path in PATHS:
            for referer in REFERERS:
                with self.subTest(host=host, path=path, referer=referer):
                    table[(host, path, referer)] = self.both(
                        host, path, [] if referer is None else [referer])
        # a few anchors, so the table cannot pass by both sides being broken the same way
        self.assertEqual(table[("main.test", "/unset", "http://evil.com/")], "[]")
        self.assertEqual(table[("main.test", "/plain", "http://evil.com/")], "[1]")
        self.assertEqual(table[("main.test", "/plain", "http://example.com")], "[]")
        self.assertEqual(table[("main.test", "/none", None)], "[]")
        self.assertEqual(table[("main.test", "/plain", None)], "[1]")

    def test_first_referer_header_decides(self):
        self.assertEqual(self.both("main.test", "/plain",
                                   ["http://example.com/", "http://evil.com/"]), "[]")
        self.assertEqual(self.both("main.test", "/plain",
                                   ["http://evil.com/", "http://example.com/"]), "[1]")

    def test_referer_header_name_is_case_insensitive(self):
        data = (b"GET /plain HTTP/1.1\r\nHost: main.test\r\nREFERER: http://example.com/\r\n"
                b"Connection: close\r\n\r\n")
        self.assertEqual(self.answer(self.port, data), self.answer(self.nginx_port, data))
        self.assertEqual(self.answer(self.port, data)[1], "[]")

    def test_location_without_valid_referers_gives_empty_value(self):
        self.assertEqual(self.both("main.test", "/unset", ["garbage"]), "[]")

    def test_server_level_list_is_inherited_by_locations(self):
        self.assertEqual(self.both("ref.test", "/nested/inner", ["http://sub.ref.test/"]), "[]")
        self.assertEqual(self.both("ref.test", "/nested/inner", ["http://evil.test/"]), "[1]")
        self.assertEqual(self.both("ref.test", "/", ["no-scheme"]), "[]")

    def test_location_list_replaces_server_list_but_keeps_its_regexes(self):
        # nginx merges the ~regexes (its own and the server's regex names) even into a
        # level with its own valid_referers; none/blocked and plain names are not merged
        self.assertEqual(self.both("ref.test", "/own", ["http://inherited.net/"]), "[]")
        self.assertEqual(self.both("ref.test", "/own", ["http://re7.ex/"]), "[]")
        self.assertEqual(self.both("ref.test", "/own", ["http://ref.test/"]), "[1]")
        self.assertEqual(self.both("ref.test", "/own", ["no-scheme"]), "[1]")


GUARD_CONF = r"""
http {
    server {
        listen 127.0.0.1:%(port)d;
        server_name guard.test;
        location / {
            valid_referers none blocked server_names *.example.com;
            if ($invalid_referer) { return 403; }
            return 200 "ok";
        }
        location /images/ {
            valid_referers example.com/galleries/;
            if ($invalid_referer) { return 403; }
            proxy_pass http://BACKEND;
        }
    }
}
"""


class RefererGuardTest(proxyd_test.BackendDifferential):
    """The documented use: `if ($invalid_referer) { return 403; }`, same answers as nginx."""

    TEMPLATE = GUARD_CONF

    @classmethod
    def make_backend(cls):
        return proxyd_test.RecordingBackend(response=echo_invalid)

    def status(self, path, referer):
        data = request("guard.test", path, [] if referer is None else [referer])
        got = proxyd_test.status_of(proxyd_test.raw_request(self.port, data))
        ref = proxyd_test.status_of(proxyd_test.raw_request(self.nginx_port, data))
        self.assertEqual(got, ref, "%s with Referer %r" % (path, referer))
        return got

    def test_valid_referers_pass_the_guard(self):
        for referer in (None, "no-scheme", "http://guard.test/", "https://a.example.com/x"):
            with self.subTest(referer=referer):
                self.assertEqual(self.status("/", referer), 200)

    def test_invalid_referers_get_403(self):
        for referer in ("http://evil.com/", "http://example.com/", "https://guard.test.evil/"):
            with self.subTest(referer=referer):
                self.assertEqual(self.status("/", referer), 403)

    def test_uri_prefix_guard_before_proxy_pass(self):
        self.assertEqual(self.status("/images/a.png", "http://example.com/galleries/1"), 200)
        self.assertEqual(self.status("/images/a.png", "http://example.com/other/"), 403)
        self.assertEqual(self.status("/images/a.png", None), 403)


class RefererConfigErrorsTest(proxyd_test.TempDirCase):
    """`proxyd -t` prints nginx's line for every bad valid_referers / referer_hash_* setting
    (nginx runs the same file and must agree)."""
    PREFIX = "proxyd-e2e-referer-"
    run_t = test_config_errors.ConfigErrorsTest.run_t
    nginx_lines = test_config_errors.ConfigErrorsTest.nginx_lines
    assert_fails = test_config_errors.ConfigErrorsTest.assert_fails
    assert_ok = test_config_errors.ConfigErrorsTest.assert_ok

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "proxyd.conf")

    @staticmethod
    def server(body):
        """http{} with one server whose body is line 7 of the file; the http block ends on line 9."""
        return ("http {\n  server {\n    listen 127.0.0.1:{port};\n    " + body +
                "\n  }\n}\n")

    def fails_at_line_7(self, body, msg):
        self.assert_fails(self.server(body), msg + " in DIR/proxyd.conf:7")

    def test_empty_argument_is_invalid_referer(self):
        self.fails_at_line_7('valid_referers "";', 'invalid referer ""')

    def test_lone_tilde_is_empty_regex(self):
        self.fails_at_line_7("valid_referers ~;", 'empty regex in "~"')

    def test_bad_regex_reports_pcre_message(self):
        self.fails_at_line_7("valid_referers ~(a;",
                             'pcre2_compile() failed: missing closing parenthesis in "(a"')

    def test_no_arguments(self):
        self.fails_at_line_7("valid_referers;",
                             'invalid number of arguments in "valid_referers" directive')

    def test_invalid_wildcards(self):
        for arg in ("www.*.com", "*", "a..b", "*.*", "**.a", "*.", "a.*.*", "WWW.*.A",
                    "www.*.com/path"):
            with self.subTest(arg=arg):
                shown = arg.split("/")[0]
                self.fails_at_line_7("valid_referers %s;" % arg,
                                     'invalid hostname or wildcard "%s"' % shown)

    def test_conflicting_names_are_reported_lowercased(self):
        for args, shown in (("a.com a.com", "a.com"), ("a.com/x A.COM/y", "a.com"),
                            (".a.com a.com", "a.com"), ("a.com .a.com", ".a.com"),
                            ("*.a.com .A.com", ".a.com"), ("*.a.com *.A.COM", "*.a.com"),
                            ("www.a.* WWW.A.*", "www.a.*")):
            with self.subTest(args=args):
                self.fails_at_line_7("valid_referers %s;" % args,
                                     'conflicting parameter "%s"' % shown)

    def test_server_names_conflict_is_reported_at_end_of_http(self):
        self.assert_fails(self.server("server_name a.com; valid_referers server_names a.com;"),
                          'conflicting parameter "a.com" in DIR/proxyd.conf:9')

    def test_invalid_server_name_wildcard_is_reported_at_end_of_http(self):
        self.assert_fails(self.server("server_name www.*.a.com; valid_referers server_names;"),
                          'invalid hostname or wildcard "www.*.a.com" in DIR/proxyd.conf:9')

    def test_none_or_blocked_without_valid_referer(self):
        msg = ('the "none" or "blocked" referers are specified in the "valid_referers" '
               'directive without any valid referer')
        for body in ("valid_referers none;", "valid_referers blocked;",
                     "valid_referers none ~regex;",
                     'server_name "~^a"; valid_referers none server_names;',
                     "valid_referers none; location / { valid_referers a.com; }"):
            with self.subTest(body=body):
                self.assert_fails(self.server(body), msg)

    def test_hash_sizes(self):
        long_host = "a" * 45 + ".com"
        for body, msg in (
                ("referer_hash_max_size 0; valid_referers a.com;",
                 "could not build referer_hash, you should increase referer_hash_max_size: 0"),
                ("referer_hash_bucket_size 0; valid_referers *.a.com;",
                 "could not build referer_hash, you should increase referer_hash_bucket_size: 0"),
                ("referer_hash_bucket_size 65473; valid_referers a.com;",
                 "could not build referer_hash, too large referer_hash_bucket_size: 65536"),
                ("valid_referers %s;" % long_host,
                 "could not build referer_hash, you should increase referer_hash_bucket_size: 64"),
                ("valid_referers *.%s.com;" % ("b" * 62),
                 "could not build referer_hash, you should increase referer_hash_bucket_size: 64")):
            with self.subTest(body=body):
                self.assert_fails(self.server(body), msg)

    def test_hash_size_values(self):
        for body, msg in (
                ("referer_hash_max_size abc;", '"referer_hash_max_size" directive invalid number'),
                ("referer_hash_max_size -1;", '"referer_hash_max_size" directive invalid number'),
                ("referer_hash_bucket_size 1k;",
                 '"referer_hash_bucket_size" directive invalid number'),
                ("referer_hash_max_size 5; referer_hash_max_size 6;",
                 '"referer_hash_max_size" directive is duplicate'),
                ("referer_hash_bucket_size 1 2;",
                 'invalid number of arguments in "referer_hash_bucket_size" directive')):
            with self.subTest(body=body):
                self.fails_at_line_7(body, msg)

    def test_not_allowed_in_http_or_if(self):
        for directive in ("valid_referers a.com;", "referer_hash_max_size 1;",
                          "referer_hash_bucket_size 64;"):
            name = directive.split()[0]
            with self.subTest(directive=directive, where="http"):
                self.assert_fails("http {\n  %s\n}\n" % directive,
                                  '"%s" directive is not allowed here in DIR/proxyd.conf:5' % name)
            with self.subTest(directive=directive, where="if"):
                self.fails_at_line_7("location / { if ($uri) { %s } }" % directive,
                                     '"%s" directive is not allowed here' % name)

    def test_accepted_forms(self):
        for body in ("valid_referers /foo . .* *.a.com a.com;",
                     "valid_referers a.com; valid_referers b.com;",
                     "referer_hash_bucket_size 1; valid_referers a.com;",
                     "referer_hash_max_size 0;",
                     "referer_hash_bucket_size 0; valid_referers ~only-regex;",
                     "valid_referers none server_names;",
                     "set $invalid_referer 1;",
                     "location / { valid_referers a.com; referer_hash_bucket_size 65; }"):
            with self.subTest(body=body):
                self.assert_ok(self.server(body))

    def assert_warnings(self, body, warn, count):
        """`-t` succeeds after printing warn count times, and nginx prints the same."""
        self.write("proxyd.conf", test_config_errors.HEAD + self.server(body).replace(
            "{port}", str(proxyd_test.free_port())))
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        expected = ["proxyd: [warn] " + warn] * count + [
                    "proxyd: the configuration file DIR/proxyd.conf syntax is ok",
                    "proxyd: configuration file DIR/proxyd.conf test is successful"]
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(), expected)
        self.assertEqual(rc, 0)
        if test_config_errors.nginx_available():
            self.assertEqual(self.nginx_lines(()), (0, expected))

    @staticmethod
    def not_optimal(max_size, bucket_size):
        return ("could not build optimal referer_hash, you should increase either "
                "referer_hash_max_size: %d or referer_hash_bucket_size: %d; ignoring "
                "referer_hash_bucket_size" % (max_size, bucket_size))

    def test_not_optimal_hash_is_a_warning_per_hash_like_nginx(self):
        self.assert_warnings("referer_hash_max_size 1; valid_referers a.* b.* c.* d.* e.* f.* "
                             "g.* h.* 1.com 2.com 3.com 4.com 5.com 6.com 7.com;",
                             self.not_optimal(1, 64), 2)

    def test_names_with_colliding_hashes_warn_like_nginx(self):
        self.assert_warnings("valid_referers a~xxxxxxxxxxxxxxxxxxxx b_xxxxxxxxxxxxxxxxxxxx;",
                             self.not_optimal(2048, 64), 1)


if __name__ == "__main__":
    proxyd_test.main()
