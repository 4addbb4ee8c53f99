"""Active health checks: health_check in a location, match blocks, the peer marked unhealthy
by the checking worker for every worker, and back when it passes again."""
import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


class Backend:
    """Answers every GET with its name; `sick` makes it answer 500 "sick"."""

    def __init__(self, name):
        self.name = name
        self.sick = False
        self.maintenance = False
        self.health_hits = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/health"):
                    outer.health_hits += 1
                code = 500 if outer.sick else 200
                word = "sick" if outer.sick else "maintenance" if outer.maintenance else "alive"
                body = ("%s %s\n" % (outer.name, word)).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


CONF = """
http {
    match alive { status 200; body ~ "alive"; }
    upstream app { server 127.0.0.1:%(a)d; server 127.0.0.1:%(b)d; }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://app;
            health_check interval=100ms fails=2 passes=2 uri=/health match=alive;
        }
        location = /status { upstream_status; }
    }
}
"""


def wait_until(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


class HealthCheckTest(unittest.TestCase):
    def setUp(self):
        self.a, self.b = Backend("a"), Backend("b")
        self.port = proxyd_test.free_port()
        self.proxyd = proxyd_test.Proxyd(CONF % {"a": self.a.port, "b": self.b.port,
                                                 "port": self.port}, workers=2)
        self.addCleanup(self.a.close)
        self.addCleanup(self.b.close)
        self.addCleanup(self.proxyd.cleanup)
        self.proxyd.start(wait_for=self.port)

    def get(self, path="/"):
        data = ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode()
        out = proxyd_test.raw_request(self.port, data)
        return proxyd_test.status_of(out), out.partition(b"\r\n\r\n")[2]

    def states(self):
        _, body = self.get("/status")
        return {p["name"]: p["state"] for p in json.loads(body)["upstreams"]["app"]["peers"]}

    def test_probes_reach_every_peer(self):
        self.assertTrue(wait_until(lambda: self.a.health_hits >= 3 and self.b.health_hits >= 3))

    def test_failing_peer_gets_no_traffic_then_comes_back(self):
        b = "127.0.0.1:%d" % self.b.port
        self.assertTrue(wait_until(lambda: self.b.health_hits >= 2))
        self.b.sick = True
        self.assertTrue(wait_until(lambda: self.states()[b] == "unhealthy"))
        # every worker now sends everything to a (one connection per request: both workers)
        for _ in range(20):
            status, body = self.get()
            self.assertEqual((status, body), (200, b"a alive\n"))
        log = self.proxyd.read_error_log()
        self.assertIn('peer %s of upstream "app" is unhealthy (status 500 did not match), '
                      "health check in %s:13" % (b, self.proxyd.conf_path), log)
        self.b.sick = False
        self.assertTrue(wait_until(lambda: self.states()[b] == "up"))
        seen = {self.get()[1] for _ in range(10)}
        self.assertEqual(seen, {b"a alive\n", b"b alive\n"})
        self.assertIn('peer %s of upstream "app" is healthy again' % b,
                      self.proxyd.read_error_log())

    def test_body_that_does_not_match_counts_as_a_failure(self):
        # 200 with the wrong body: the match block wants "alive"
        a = "127.0.0.1:%d" % self.a.port
        self.assertTrue(wait_until(lambda: self.a.health_hits >= 2))
        self.a.maintenance = True
        self.assertTrue(wait_until(lambda: self.states()[a] == "unhealthy"))
        self.assertIn('peer %s of upstream "app" is unhealthy (status 200 did not match)' % a,
                      self.proxyd.read_error_log())


class HealthCheckReloadTest(unittest.TestCase):
    def test_a_respawned_worker_after_a_failed_reload_keeps_checking(self):
        import signal
        import socket
        a, b = Backend("a"), Backend("b")
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        port = proxyd_test.free_port()
        conf = CONF % {"a": a.port, "b": b.port, "port": port}
        proxyd = proxyd_test.Proxyd(conf, workers=1)
        self.addCleanup(proxyd.cleanup)
        proxyd.start(wait_for=port)
        self.assertTrue(wait_until(lambda: a.health_hits >= 2))
        # a reload that fails after the http{} block was read: its listen address is taken
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        proxyd.write_conf(conf.replace("location = /status",
                                       "location = /x { return 204; } }\n    server { listen 127.0.0.1:%d; "
                                       "location = /status" % busy.getsockname()[1]), workers=1)
        proxyd.signal(signal.SIGHUP)
        busy_text = "bind() to 127.0.0.1:%d failed" % busy.getsockname()[1]
        self.assertTrue(wait_until(lambda: busy_text in proxyd.read_error_log()))
        workers = proxyd.worker_pids()
        self.assertEqual(len(workers), 1)
        os.kill(workers[0], signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(proxyd.worker_pids()) == 1 and
                                   proxyd.worker_pids() != workers))
        hits = a.health_hits
        self.assertTrue(wait_until(lambda: a.health_hits >= hits + 3))
        data = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        self.assertEqual(proxyd_test.status_of(proxyd_test.raw_request(port, data)), 200)


class HealthCheckConfigTest(proxyd_test.TempDirCase):
    def check(self, http):
        p = proxyd_test.Proxyd("http {\n%s\n}\n" % http)
        try:
            return p.test_config()
        finally:
            p.cleanup()

    def assert_fails(self, http, message):
        rc, err = self.check(http)
        self.assertEqual(rc, 1, err)
        self.assertIn(message, err)

    def test_needs_an_upstream_group(self):
        self.assert_fails("server { location / { proxy_pass http://127.0.0.1:1; health_check; } }",
                          '[emerg] "health_check" needs "proxy_pass" to an upstream{} group in ')

    def test_unknown_parameter(self):
        self.assert_fails("upstream u { server 127.0.0.1:1; }\n"
                          "server { location / { proxy_pass http://u; health_check every=5s; } }",
                          '[emerg] invalid parameter "every=5s" in ')

    def test_bad_values(self):
        for p in ("interval=0", "interval=x", "fails=0", "passes=-1", "uri=health", "port=70000",
                  "match="):
            with self.subTest(p=p):
                self.assert_fails("upstream u { server 127.0.0.1:1; }\n"
                                  "server { location / { proxy_pass http://u; health_check %s; } }"
                                  % p, '[emerg] invalid parameter "%s" in ' % p)

    def test_unknown_match(self):
        self.assert_fails("upstream u { server 127.0.0.1:1; }\n"
                          "server { location / { proxy_pass http://u; health_check match=nope; } }",
                          '[emerg] match "nope" not found in ')

    def test_bad_match_blocks(self):
        self.assert_fails("match m { status 99; }", '[emerg] invalid status "99" in ')
        self.assert_fails("match m { status 300-200; }", '[emerg] invalid status "300-200" in ')
        self.assert_fails("match m { body ~ \"(\"; }", "[emerg] pcre2_compile() failed")
        self.assert_fails("match m { header X; }", '[emerg] unknown directive "header" in ')
        self.assert_fails("match m { } match m { }", '[emerg] match "m" is duplicate in ')

    def test_good_configuration(self):
        rc, err = self.check("match m { status ! 500 503; body !~ \"maintenance\"; }\n"
                             "upstream u { server 127.0.0.1:1; }\n"
                             "server { location / { proxy_pass http://u; "
                             "health_check interval=2s fails=3 passes=2 uri=/ping port=8081 match=m; } }")
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    proxyd_test.main()
