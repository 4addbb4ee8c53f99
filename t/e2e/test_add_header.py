"""add_header and expires (ngx_http_headers_module), differential against Debian's nginx: the
same configuration runs under both and every answer must match byte for byte once the Date
and Server values are set aside. Expires values computed from the current time are compared
as their distance from the response's own Date, which is exact whatever second each server
answered in; `expires @time` is checked against the next such local time after Date."""
import calendar
import email.utils
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
import test_config_errors  # noqa: E402

CONF = r"""
http {
    access_log off;
    add_header X-Http http-level always;

    server {
        listen 127.0.0.1:%(port)d;
        server_name localhost;

        location = /inherit-http { return 200 "x"; }
        location = /own { add_header X-Own own; return 200 "x"; }

        location = /ok { add_header X-A a; add_header X-B b always; return 200 "x"; }
        location = /ok-empty { add_header X-A a; add_header X-B b always; return 200; }
        location = /created { add_header X-A a; return 201 "x"; }
        location = /nocontent { add_header X-A a; expires 1h; return 204; }
        location = /partial { add_header X-A a; return 206 "x"; }
        location = /moved { add_header X-A a; add_header X-B b always; expires 1h; return 301 /x; }
        location = /found { add_header X-A a; return 302 "http://example.com/"; }
        location = /seeother { add_header X-A a; return 303 /x; }
        location = /notmod { add_header X-A a; expires 1h; return 304; }
        location = /temp { add_header X-A a; return 307 /x; }
        location = /perm { add_header X-A a; return 308 /x; }
        location = /accepted { add_header X-A a; add_header X-B b always; return 202 "x"; }
        location = /notfound { add_header X-A a; add_header X-B b always; expires 1h; return 404; }
        location = /gone { add_header X-A a; add_header X-B b always; return 410; }
        location = /error { add_header X-A a; add_header X-B b always; return 500; }
        location = /teapot { add_header X-A a; add_header X-B b always; return 418 "tea"; }

        location = /vars { add_header X-Uri "$uri?$args"; add_header X-Arg "[$arg_a]";
                           return 200 "x"; }
        location = /empty { add_header X-Literal ""; add_header X-Var $arg_none;
                            add_header X-Always-Empty "" always; add_header X-After after;
                            return 200 "x"; }
        location = /names { add_header x-lower lower; add_header "X-Two  Spaces" "a  b";
                            add_header X-Same 1; add_header X-Same 2; return 200 "x"; }

        location = /cc { add_header Cache-Control one; add_header Cache-Control two;
                         add_header Link "</a>; rel=preload"; add_header LINK "</b>";
                         return 200 "x"; }
        location = /etag { add_header ETag '"a"'; add_header X-Mid m; add_header etag '"b"';
                           return 200 "x"; }
        location = /etag-removed { add_header ETag '"a"'; add_header ETag ""; return 200 "x"; }
        location = /lastmod { add_header Last-Modified "Wed, 21 Oct 2015 07:28:00 GMT";
                              add_header X-Mid m;
                              add_header last-modified "Thu, 22 Oct 2015 07:28:00 GMT";
                              return 200 "x"; }
        location = /lastmod-removed { add_header Last-Modified junk; add_header Last-Modified "";
                                      return 200 "x"; }
        location = /lastmod-404 { add_header Last-Modified "Wed, 21 Oct 2015 07:28:00 GMT" always;
                                  return 404; }

        location = /e404 { error_page 404 /target; return 404; }
        location = /e404-200 { error_page 404 =200 /target; return 404; }
        location = /e404-same { error_page 404 = /target; return 404; }
        location = /e404-always { error_page 404 /target-always; return 404; }
        location = /target { add_header X-Target t; expires 1h; return 200 "target"; }
        location = /target-always { add_header X-Target t always; expires 1h; return 200 "t"; }

        location = /exp/1h { expires 1h; return 200 "x"; }
        location = /exp/plus { expires +1h; return 200 "x"; }
        location = /exp/compound { expires "1y 2M 3w 4d 5h 6m 7s"; return 200 "x"; }
        location = /exp/neg { expires -1h; return 200 "x"; }
        location = /exp/zero { expires 0; return 200 "x"; }
        location = /exp/minus-zero { expires -0; return 200 "x"; }
        location = /exp/epoch { expires epoch; return 200 "x"; }
        location = /exp/max { expires max; return 200 "x"; }
        location = /exp/off { expires off; return 200 "x"; }
        location = /exp/modified { expires modified 1h; return 200 "x"; }
        location = /exp/modified-neg { expires modified -30m; return 200 "x"; }
        location = /exp/modified-zero { expires modified 0; return 200 "x"; }
        location = /exp/modified-lastmod {
            add_header Last-Modified "Wed, 21 Oct 2015 07:28:00 GMT";
            expires modified 1h; return 200 "x"; }
        location = /exp/far { expires 10000y; return 200 "x"; }
        location = /exp/far-past { expires -100y; return 200 "x"; }
        location = /exp/wraps { expires 9223372036854775807; return 200 "x"; }
        location = /exp/with-cc { expires 1h; add_header Cache-Control private;
                                  add_header X-A a; return 200 "x"; }
        location = /exp/var { expires $arg_e; return 200 "x"; }
        location = /exp/var-modified { expires modified $arg_e; return 200 "x"; }
        location = /exp/daily { expires @15h30m; return 200 "x"; }
        location = /exp/midnight { expires @24h; return 200 "x"; }
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name srv.test;
        add_header X-Srv srv;
        add_header X-Always srv-always always;
        expires 2h;

        location = /inherit-srv { return 200 "x"; }
        location = /hides { add_header X-Loc loc; return 200 "x"; }
        location = /expires-own { expires 5m; return 200 "x"; }
        location = /expires-off { expires off; return 200 "x"; }
        location /outer {
            add_header X-Outer outer;
            location /outer/inner { return 200 "x"; }
            location /outer/own { add_header X-Inner inner; return 200 "x"; }
        }
        location = /srv404 { return 404; }
    }
}
"""


def http_date(value):
    return calendar.timegm(email.utils.parsedate(value))


def split_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(x.split(": ", 1)) for x in lines[1:]]
    return lines[0], headers, body


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[0] if values else None


def relative_expires(data):
    """Writes an Expires value as its distance from Date ("Date+3600"), the part that does
    not depend on when the request was answered. Values pinned to the ends of the range
    nginx writes (1970, 9999) and the fixed `max` date stay as they are."""
    _, headers, _ = split_response(data)
    date = header(headers, "Date")
    line = [(k, v) for k, v in headers if k.lower() == "expires"]
    if date is None or not line or email.utils.parsedate(line[0][1]) is None or \
            re.search(r" (1970|9999|2037) ", line[0][1]):
        return data
    name, expires = line[0]
    delta = http_date(expires) - http_date(date)
    return data.replace(("%s: %s" % (name, expires)).encode(), ("%s: Date%+d" % (name, delta)).encode())


class HeadersDifferential(proxyd_test.Differential):
    """Differential with helpers that compare whole answers and return the added headers."""

    def both(self, path, host="localhost", method="GET"):
        """Sends the request to proxyd and nginx, checks the answers match once Date,
        Server and time-relative Expires values are normalised; returns (status line,
        [(name, value)], body) of proxyd's raw answer."""
        req = ("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (method, path, host)).encode()
        raw = proxyd_test.raw_request(self.port, req)
        ref = proxyd_test.raw_request(self.nginx_port, req)
        got = proxyd_test.normalize_response(relative_expires(raw)).replace(str(self.port).encode(), b"PORT")
        want = proxyd_test.normalize_response(relative_expires(ref)).replace(
            str(self.nginx_port).encode(), b"PORT")
        self.assertEqual(got.decode("latin-1"), want.decode("latin-1"),
                         "proxyd and nginx answer %s differently" % path)
        return split_response(raw)

    def added(self, path, **kw):
        """The headers after the server's own (Connection is the last of those)."""
        _, headers, _ = self.both(path, **kw)
        names = [k for k, _ in headers]
        return headers[names.index("Connection") + 1:]


class AddHeaderTest(HeadersDifferential):
    CONF = CONF

    # ---- which statuses get the headers ----

    def test_return_200_adds_headers_after_the_servers_own(self):
        self.assertEqual(self.added("/ok"), [("X-A", "a"), ("X-B", "b")])

    def test_return_200_without_text_adds_headers(self):
        self.assertEqual(self.added("/ok-empty"), [("X-A", "a"), ("X-B", "b")])

    def test_every_status_in_nginxs_list_gets_the_headers(self):
        for path in ("/created", "/partial", "/seeother", "/temp", "/perm"):
            with self.subTest(path=path):
                self.assertEqual(self.added(path), [("X-A", "a")])

    def test_302_to_an_absolute_url_gets_headers_after_its_location(self):
        # nginx writes a Location that needs no completing among the other headers
        self.assertEqual(self.added("/found"), [("Location", "http://example.com/"), ("X-A", "a")])

    def test_204_gets_headers_and_expires(self):
        added = self.added("/nocontent")
        self.assertEqual([k for k, _ in added], ["Expires", "Cache-Control", "X-A"])

    def test_304_gets_headers_and_expires(self):
        req = b"GET /notmod HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        tails = []
        for port in (self.port, self.nginx_port):
            _, headers, _ = split_response(relative_expires(proxyd_test.raw_request(port, req)))
            tails.append(headers[[k for k, _ in headers].index("Connection") + 1:])
        self.assertEqual(tails[0], tails[1])
        self.assertEqual(tails[0], [("Expires", "Date+3600"), ("Cache-Control", "max-age=3600"),
                                    ("X-A", "a")])

    def test_return_304_head_is_nginxs(self):
        # nginx's `return 304` keeps "Content-Type: text/plain" and "Content-Length: 0".
        self.both("/notmod")

    def test_redirect_301_gets_headers_and_expires_after_location(self):
        _, headers, _ = self.both("/moved")
        names = [k for k, _ in headers]
        self.assertLess(names.index("Location"), names.index("Expires"))
        self.assertEqual(names[-4:], ["Expires", "Cache-Control", "X-A", "X-B"])

    def test_status_outside_the_list_gets_only_always_headers(self):
        for path in ("/accepted", "/notfound", "/gone", "/error", "/teapot"):
            with self.subTest(path=path):
                self.assertEqual(self.added(path), [("X-B", "b")])

    def test_404_gets_no_expires(self):
        _, headers, _ = self.both("/notfound")
        self.assertIsNone(header(headers, "Expires"))
        self.assertIsNone(header(headers, "Cache-Control"))

    def test_head_request_gets_the_same_headers(self):
        self.assertEqual(self.added("/ok", method="HEAD"), [("X-A", "a"), ("X-B", "b")])

    def test_bad_request_gets_always_headers_of_the_default_server(self):
        req = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"  # no Host: 400
        got = proxyd_test.normalize_response(proxyd_test.raw_request(self.port, req))
        ref = proxyd_test.normalize_response(proxyd_test.raw_request(self.nginx_port, req))
        self.assertEqual(got, ref)
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "))
        self.assertIn(b"\r\nConnection: close\r\nX-Http: http-level\r\n\r\n", got)

    # ---- error_page ----

    def test_error_page_target_keeps_the_error_status_so_only_always_headers(self):
        status, headers, body = self.both("/e404")
        self.assertTrue(status.startswith("HTTP/1.1 404"))
        self.assertIsNone(header(headers, "X-Target"))
        self.assertIsNone(header(headers, "Expires"))
        self.assertEqual(body, b"target")

    def test_error_page_with_always_header_in_target(self):
        _, headers, _ = self.both("/e404-always")
        self.assertEqual(header(headers, "X-Target"), "t")
        self.assertIsNone(header(headers, "Expires"))

    def test_error_page_with_new_status_200_adds_target_headers(self):
        self.assertEqual([k for k, _ in self.added("/e404-200")], ["Expires", "Cache-Control", "X-Target"])

    def test_error_page_equals_takes_the_targets_status_and_headers(self):
        self.assertEqual([k for k, _ in self.added("/e404-same")], ["Expires", "Cache-Control", "X-Target"])

    # ---- inheritance ----

    def test_location_without_add_header_inherits_http_level(self):
        self.assertEqual(self.added("/inherit-http"), [("X-Http", "http-level")])

    def test_location_with_add_header_hides_http_level(self):
        self.assertEqual(self.added("/own"), [("X-Own", "own")])

    def test_server_add_header_hides_http_level_and_is_inherited(self):
        added = self.added("/inherit-srv", host="srv.test")
        self.assertEqual([k for k, _ in added], ["Expires", "Cache-Control", "X-Srv", "X-Always"])
        self.assertEqual(header(added, "Cache-Control"), "max-age=7200")

    def test_location_add_header_hides_server_level_but_expires_is_inherited(self):
        added = self.added("/hides", host="srv.test")
        self.assertEqual([k for k, _ in added], ["Expires", "Cache-Control", "X-Loc"])

    def test_location_expires_overrides_server_expires(self):
        _, headers, _ = self.both("/expires-own", host="srv.test")
        self.assertEqual(header(headers, "Cache-Control"), "max-age=300")

    def test_location_expires_off_stops_server_expires(self):
        self.assertEqual(self.added("/expires-off", host="srv.test"),
                         [("X-Srv", "srv"), ("X-Always", "srv-always")])

    def test_nested_location_inherits_enclosing_location(self):
        self.assertEqual([k for k, _ in self.added("/outer/inner", host="srv.test")],
                         ["Expires", "Cache-Control", "X-Outer"])

    def test_nested_location_with_own_add_header_hides_enclosing(self):
        self.assertEqual([k for k, _ in self.added("/outer/own", host="srv.test")],
                         ["Expires", "Cache-Control", "X-Inner"])

    def test_inherited_always_header_on_error(self):
        self.assertEqual(self.added("/srv404", host="srv.test"), [("X-Always", "srv-always")])

    # ---- values ----

    def test_values_with_variables(self):
        self.assertEqual(self.added("/vars?a=1&b=2"), [("X-Uri", "/vars?a=1&b=2"), ("X-Arg", "[1]")])

    def test_empty_value_literal_or_evaluated_adds_nothing(self):
        self.assertEqual(self.added("/empty"), [("X-After", "after")])

    def test_names_keep_their_spelling_and_repeats_are_all_sent(self):
        self.assertEqual(self.added("/names"), [("x-lower", "lower"), ("X-Two  Spaces", "a  b"),
                                                ("X-Same", "1"), ("X-Same", "2")])

    def test_cache_control_and_link_may_repeat(self):
        self.assertEqual(self.added("/cc"), [("Cache-Control", "one"), ("Cache-Control", "two"),
                                             ("Link", "</a>; rel=preload"), ("LINK", "</b>")])

    def test_second_etag_replaces_the_first_in_place_with_its_spelling(self):
        self.assertEqual(self.added("/etag"), [("etag", '"b"'), ("X-Mid", "m")])

    def test_empty_etag_removes_an_earlier_one(self):
        self.assertEqual(self.added("/etag-removed"), [])

    def test_second_last_modified_replaces_the_first(self):
        self.assertEqual(self.added("/lastmod"),
                         [("last-modified", "Thu, 22 Oct 2015 07:28:00 GMT"), ("X-Mid", "m")])

    def test_empty_last_modified_removes_an_earlier_one(self):
        self.assertEqual(self.added("/lastmod-removed"), [])

    def test_last_modified_with_always_is_sent_on_404(self):
        self.assertEqual(self.added("/lastmod-404"),
                         [("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")])

    # ---- expires ----

    def expires_of(self, path, **kw):
        _, headers, _ = self.both(path, **kw)
        date, expires = header(headers, "Date"), header(headers, "Expires")
        return date, expires, header(headers, "Cache-Control")

    def assert_relative(self, path, delta, cache_control):
        date, expires, cc = self.expires_of(path)
        self.assertEqual(http_date(expires) - http_date(date), delta)
        self.assertEqual(cc, cache_control)

    def test_expires_time_is_date_plus_time_and_max_age(self):
        self.assert_relative("/exp/1h", 3600, "max-age=3600")

    def test_expires_plus_sign(self):
        self.assert_relative("/exp/plus", 3600, "max-age=3600")

    def test_expires_with_every_unit(self):
        t = 365 * 86400 + 2 * 30 * 86400 + 3 * 7 * 86400 + 4 * 86400 + 5 * 3600 + 6 * 60 + 7
        self.assert_relative("/exp/compound", t, "max-age=%d" % t)

    def test_negative_expires_is_in_the_past_and_no_cache(self):
        self.assert_relative("/exp/neg", -3600, "no-cache")

    def test_expires_zero_is_now_and_max_age_0(self):
        for path in ("/exp/zero", "/exp/minus-zero", "/exp/modified-zero"):
            with self.subTest(path=path):
                date, expires, cc = self.expires_of(path)
                self.assertEqual(expires, date)
                self.assertEqual(cc, "max-age=0")

    def test_expires_epoch(self):
        _, expires, cc = self.expires_of("/exp/epoch")
        self.assertEqual((expires, cc), ("Thu, 01 Jan 1970 00:00:01 GMT", "no-cache"))

    def test_expires_max(self):
        _, expires, cc = self.expires_of("/exp/max")
        self.assertEqual((expires, cc), ("Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000"))

    def test_expires_off_adds_nothing(self):
        self.assertEqual(self.added("/exp/off"), [("X-Http", "http-level")])

    def test_expires_modified_without_last_modified_counts_from_now(self):
        self.assert_relative("/exp/modified", 3600, "max-age=3600")
        self.assert_relative("/exp/modified-neg", -1800, "no-cache")

    def test_expires_runs_before_add_header_last_modified(self):
        self.assert_relative("/exp/modified-lastmod", 3600, "max-age=3600")

    def test_expires_beyond_year_9999_is_pinned_to_its_last_second(self):
        _, expires, cc = self.expires_of("/exp/far")
        self.assertEqual((expires, cc), ("Fri, 31 Dec 9999 23:59:59 GMT", "max-age=315360000000"))

    def test_expires_before_1970_is_pinned_to_the_epoch(self):
        _, expires, cc = self.expires_of("/exp/far-past")
        self.assertEqual((expires, cc), ("Thu, 01 Jan 1970 00:00:00 GMT", "no-cache"))

    def test_expires_that_overflows_wraps_as_nginx(self):
        _, expires, cc = self.expires_of("/exp/wraps")
        self.assertEqual((expires, cc), ("Thu, 01 Jan 1970 00:00:00 GMT", "max-age=9223372036854775807"))

    def test_expires_comes_before_add_header_cache_control(self):
        self.assertEqual([k for k, _ in self.added("/exp/with-cc")],
                         ["Expires", "Cache-Control", "Cache-Control", "X-A"])

    def test_expires_from_variable(self):
        self.assert_relative("/exp/var?e=2h", 7200, "max-age=7200")
        self.assert_relative("/exp/var?e=-5m", -300, "no-cache")
        self.assert_relative("/exp/var?e=+1h", 3600, "max-age=3600")
        _, expires, cc = self.expires_of("/exp/var?e=epoch")
        self.assertEqual((expires, cc), ("Thu, 01 Jan 1970 00:00:01 GMT", "no-cache"))
        _, expires, cc = self.expires_of("/exp/var?e=max")
        self.assertEqual((expires, cc), ("Thu, 31 Dec 2037 23:55:55 GMT", "max-age=315360000"))

    def test_expires_variable_that_is_not_a_time_adds_nothing(self):
        for value in ("", "abc", "off", "1ms", "@25h", "@", "Max", "modified"):
            with self.subTest(value=value):
                _, expires, cc = self.expires_of("/exp/var?e=" + value)
                self.assertEqual((expires, cc), (None, None))

    def test_expires_modified_variable_rejects_words_and_daily_times(self):
        for value in ("epoch", "max", "off", "@1h"):
            with self.subTest(value=value):
                self.assertEqual(self.expires_of("/exp/var-modified?e=" + value)[1:], (None, None))
        self.assert_relative("/exp/var-modified?e=1h", 3600, "max-age=3600")

    def next_local(self, date, seconds_of_day):
        """nginx's next time of day after date, in local time (the servers share our TZ)."""
        now = http_date(date)
        tm = time.localtime(now)
        t = time.mktime((tm.tm_year, tm.tm_mon, tm.tm_mday, seconds_of_day // 3600,
                         seconds_of_day % 3600 // 60, seconds_of_day % 60, 0, 0, tm.tm_isdst))
        if t <= now:
            t = time.mktime((tm.tm_year, tm.tm_mon, tm.tm_mday + 1, seconds_of_day // 3600,
                             seconds_of_day % 3600 // 60, seconds_of_day % 60, 0, 0, tm.tm_isdst))
        return int(t)

    def assert_daily(self, path, seconds_of_day):
        for port in (self.port, self.nginx_port):
            req = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode()
            _, headers, _ = split_response(proxyd_test.raw_request(port, req))
            date = header(headers, "Date")
            at = self.next_local(date, seconds_of_day)
            self.assertEqual(header(headers, "Expires"), email.utils.formatdate(at, usegmt=True))
            self.assertEqual(header(headers, "Cache-Control"), "max-age=%d" % (at - http_date(date)))

    def test_expires_daily_is_the_next_such_local_time(self):
        self.assert_daily("/exp/daily", 15 * 3600 + 30 * 60)

    def test_expires_daily_24h_is_next_midnight(self):
        self.assert_daily("/exp/midnight", 24 * 3600)

    def test_expires_daily_from_variable(self):
        self.assert_daily("/exp/var?e=@1h", 3600)


UPSTREAM_HEAD = ("HTTP/1.1 200 OK\r\nexpires: upstream\r\ncache-control: a\r\nX-M: m\r\n"
                 "Cache-Control: b\r\netag: \"q\"\r\n%sContent-Length: 1\r\nConnection: close\r\n\r\nx")


class Backend(socketserver.ThreadingTCPServer):
    """Answers every request with UPSTREAM_HEAD; a path ending in /lm adds a Last-Modified."""
    daemon_threads = True
    allow_reuse_address = True

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1]
            extra = "last-modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n" if path.endswith(b"/lm") else ""
            self.request.sendall((UPSTREAM_HEAD % extra).encode())

    def __init__(self):
        super().__init__(("127.0.0.1", 0), self.Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()


PROXIED_CONF = r"""
http {
    access_log off;
    server {
        listen 127.0.0.1:%(port)d;
        location /p/ { expires 1h; add_header ETag '"e2"'; add_header X-A a;
                       proxy_pass http://127.0.0.1:BACKEND; }
        location /epoch/ { expires epoch; proxy_pass http://127.0.0.1:BACKEND; }
        location /no-etag/ { add_header ETag ""; proxy_pass http://127.0.0.1:BACKEND; }
        location /modified/ { expires modified 1h; proxy_pass http://127.0.0.1:BACKEND; }
        location /lastmod/ { add_header Last-Modified "Mon, 07 Nov 1994 08:49:37 GMT";
                             proxy_pass http://127.0.0.1:BACKEND; }
    }
}
"""


class ProxiedHeadersTest(proxyd_test.BackendDifferential, HeadersDifferential):
    """expires and add_header on a proxied response that has Expires, Cache-Control, ETag and
    Last-Modified of its own: nginx rewrites those lines where they stand."""

    TEMPLATE = PROXIED_CONF

    @classmethod
    def make_backend(cls):
        return Backend()

    @classmethod
    def backend_address(cls):
        return str(cls.backend.port)

    def test_expires_rewrites_upstream_lines_in_place_and_drops_extra_cache_control(self):
        _, headers, _ = self.both("/p/")
        added = headers[[k for k, _ in headers].index("Connection") + 1:]
        self.assertEqual([k for k, _ in added], ["expires", "cache-control", "X-M", "ETag", "X-A"])
        self.assertEqual(http_date(header(added, "expires")) - http_date(header(headers, "Date")), 3600)
        self.assertEqual(added[1:], [("cache-control", "max-age=3600"), ("X-M", "m"), ("ETag", '"e2"'),
                                     ("X-A", "a")])

    def test_expires_epoch_over_upstream_lines(self):
        self.assertEqual(self.added("/epoch/"), [("expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
                                                 ("cache-control", "no-cache"), ("X-M", "m"),
                                                 ("etag", '"q"')])

    def test_empty_etag_removes_the_upstream_one(self):
        self.assertEqual(self.added("/no-etag/"), [("expires", "upstream"), ("cache-control", "a"),
                                                   ("X-M", "m"), ("Cache-Control", "b")])

    def test_expires_modified_counts_from_upstream_last_modified(self):
        _, headers, _ = split_response(proxyd_test.raw_request(
            self.port, b"GET /modified/lm HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
        self.assertEqual((header(headers, "Expires"), header(headers, "Cache-Control")),
                         ("Sun, 06 Nov 1994 09:49:37 GMT", "no-cache"))

    def test_add_header_last_modified_replaces_the_upstream_one(self):
        _, headers, _ = split_response(proxyd_test.raw_request(
            self.port, b"GET /lastmod/lm HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
        self.assertEqual([v for k, v in headers if k.lower() == "last-modified"],
                         ["Mon, 07 Nov 1994 08:49:37 GMT"])

    def test_upstream_last_modified_is_passed_where_nginx_puts_it(self):
        # nginx sends it as the upstream wrote it, in its place among the upstream's headers.
        self.both("/modified/lm")
        self.both("/lastmod/lm")


class AddHeaderInIfTest(proxyd_test.TempDirCase):
    """add_header and expires inside `if` in a location (needs the rewrite module's `if`)."""

    CONF = r"""
http {
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            add_header X-Loc loc;
            if ($arg_x) { add_header X-If if; expires 1h; }
            return 200 "x";
        }
    }
}
"""

    def test_if_in_location_has_its_own_headers(self):
        port = proxyd_test.free_port()
        p = proxyd_test.Proxyd(self.CONF % {"port": port})
        self.addCleanup(p.cleanup)
        rc, err = p.test_config()
        if 'unknown directive "if"' in err:
            self.skipTest("proxyd has no `if` yet")
        p.start(wait_for=port)
        req = b"GET /?x=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        _, headers, _ = split_response(proxyd_test.raw_request(port, req))
        self.assertEqual(header(headers, "X-If"), "if")
        self.assertIsNone(header(headers, "X-Loc"))
        self.assertEqual(header(headers, "Cache-Control"), "max-age=3600")
        req = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        _, headers, _ = split_response(proxyd_test.raw_request(port, req))
        self.assertEqual(header(headers, "X-Loc"), "loc")
        self.assertIsNone(header(headers, "Expires"))


class AddHeaderConfigTest(proxyd_test.TempDirCase):
    """`proxyd -t` on bad add_header/expires lines prints nginx's exact [emerg] line (each case
    is also run through nginx)."""
    PREFIX = "proxyd-e2e-headers-"
    run_t = test_config_errors.ConfigErrorsTest.run_t
    nginx_lines = test_config_errors.ConfigErrorsTest.nginx_lines
    assert_fails = test_config_errors.ConfigErrorsTest.assert_fails
    assert_ok = test_config_errors.ConfigErrorsTest.assert_ok

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "proxyd.conf")

    def in_location(self, line):
        # HEAD is three lines, so `line` is line 7 of the file
        return "http {\n  server {\n    location / {\n      %s\n    }\n  }\n}\n" % line

    def fails(self, line, message):
        self.assert_fails(self.in_location(line), message + " in DIR/proxyd.conf:7")

    def test_add_header_with_one_argument(self):
        self.fails("add_header X;", 'invalid number of arguments in "add_header" directive')

    def test_add_header_without_arguments(self):
        self.fails("add_header;", 'invalid number of arguments in "add_header" directive')

    def test_add_header_with_four_arguments(self):
        self.fails("add_header X y always z;", 'invalid number of arguments in "add_header" directive')

    def test_add_header_third_argument_not_always(self):
        self.fails("add_header X y z;", 'invalid parameter "z"')

    def test_add_header_always_is_case_sensitive(self):
        self.fails("add_header X y Always;", 'invalid parameter "Always"')

    def test_add_header_value_with_lone_dollar(self):
        self.fails("add_header X $;", "invalid variable name")

    def test_add_header_value_with_unclosed_bracket(self):
        self.fails('add_header X "${a";', 'the closing bracket in "a" variable is missing')

    def test_add_header_unknown_variable_has_no_file_line(self):
        self.assert_fails(self.in_location("add_header X $nosuchvar;"), 'unknown "nosuchvar" variable')

    def test_add_header_in_main_context_is_not_allowed(self):
        self.assert_fails("add_header X y;\n", '"add_header" directive is not allowed here in DIR/proxyd.conf:4')

    def test_expires_in_events_is_not_allowed(self):
        self.write("proxyd.conf", "events {\n  expires 1h;\n}\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines()[0],
                         'proxyd: [emerg] "expires" directive is not allowed here in DIR/proxyd.conf:2')
        self.assertEqual(rc, 1)

    def test_expires_not_a_time(self):
        for value in ("abc", "1H", "Max", "+max", '""', "+", "-", '" 1h"', '"+-1h"', "1ms",
                      "99999999999999999999", "modified", "modified epoch", "modified max",
                      "modified off", "foo 1h", "1h 1h", "@", "@-1h"):
            with self.subTest(value=value):
                self.fails("expires %s;" % value, '"expires" directive invalid value')

    def test_expires_without_arguments(self):
        self.fails("expires;", 'invalid number of arguments in "expires" directive')

    def test_expires_with_three_arguments(self):
        self.fails("expires modified 1h x;", 'invalid number of arguments in "expires" directive')

    def test_expires_daily_with_modified(self):
        self.fails("expires modified @1h;",
                   '"expires" directive daily time cannot be used with "modified" parameter')

    def test_expires_daily_over_24_hours(self):
        self.fails("expires @24h1s;", '"expires" directive daily time value must be less than 24 hours')

    def test_expires_twice_at_one_level_is_duplicate(self):
        self.fails("expires 1h; expires 2h;", '"expires" directive is duplicate')
        self.fails("expires off; expires off;", '"expires" directive is duplicate')
        self.fails("expires $arg_e; expires 1h;", '"expires" directive is duplicate')

    def test_expires_unknown_variable_has_no_file_line(self):
        self.assert_fails(self.in_location("expires $nosuchvar;"), 'unknown "nosuchvar" variable')

    def test_accepted_forms(self):
        for line in ("expires @24h;", "expires @0;", "expires modified -1h;", 'expires "1h 30m";',
                     "expires 100000000000y;", "expires modified $arg_e;", "expires -0;",
                     'add_header X "" always;', 'add_header "" x;', "add_header X $uri always;",
                     "add_header X y; add_header X z;"):
            with self.subTest(line=line):
                self.assert_ok(self.in_location(line))

    def test_accepted_at_every_level(self):
        self.assert_ok("http {\n  add_header A a;\n  expires 1h;\n  server {\n    add_header B b;\n"
                       "    expires max;\n    location / {\n      add_header C c always;\n"
                       "      expires epoch;\n    }\n  }\n}\n")


if __name__ == "__main__":
    proxyd_test.main()
