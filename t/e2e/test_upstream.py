"""upstream{} groups behind proxy_pass, differential against Debian's nginx 1.22: each case
starts its own set of named loopback backends (Backend below) for nginx and for proxyd, runs
the same configuration under both, sends the same requests, and compares what matters: which
backend answered, $upstream_addr / $upstream_status (echoed in X-Up / X-Us response headers,
each backend's port written as its name), the status, the error log lines, and how many TCP
connections each backend accepted.

Where current nginx (1.29.7+) differs from 1.22, proxyd follows current nginx and the case
runs under proxyd alone: keepalive to upstream{} groups is on by default (1.22: HTTP/1.0 and a
connection per request) and `keepalive 0` turns it off (1.22 rejects it). Where keepalive is
compared, nginx gets `proxy_http_version 1.1; proxy_set_header Connection "";`.

Config errors at -t are compared line for line with nginx's output for the same file.
UPSTREAM_SIDES=nginx runs the nginx half alone (to check the cases against the reference)."""
import http.client
import os
import random
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

SIDES = tuple(os.environ.get("UPSTREAM_SIDES", "nginx,proxyd").split(","))

_GIVEN_PORTS = set()


def steady_port():
    """A loopback port below the kernel's ephemeral range that nobody listens on now: a case
    binds it once per side, and no outgoing connection (ours or another test's) can take it
    in between, as it could a port from free_port()."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rng = random.Random()
    for _ in range(1000):
        port = rng.randrange(max(1024, low - 12000), low)
        if port in _GIVEN_PORTS:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _GIVEN_PORTS.add(port)
        return port
    return proxyd_test.free_port()


LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")


class Backend:
    """A threaded loopback HTTP/1.1 server that answers each request with its own name.

    mode (settable at any time) says what it does with the next requests:
      "ok"      200, body and X-Backend = name (keep-alive unless asked to close)
      int N     status N, body = name
      "close"   reads the request, closes without answering
      "close-next"  as "close" once, then "ok" again
      "reset"   reads the request, resets the connection (RST)
      "hang"    reads the request, never answers (until close())
      bytes     sends these, then closes
      "partial" sends a head announcing 100 bytes, 7 of them, then closes
    idle_close: after each answer keep the connection 0.1 s, then close it.
    A request with "hold" in its target waits for release() before answering (as "ok").
    accepted: TCP connections accepted; served: requests read. stop() closes the listening
    socket (connections to the port are refused), start() listens on the same port again."""

    def __init__(self, name, port=None):
        self.name = name
        self.mode = "ok"
        self.idle_close = False
        self.port = port
        self.accepted = 0
        self.served = 0
        self.held = 0
        self.lock = threading.Condition()
        self.release_event = threading.Event()
        self.conns = {}  # open connection -> the thread serving it
        self.threads = []
        self.sock = None
        self.running = True
        self.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", self.port or 0))
        except OSError:
            s.close()
            raise
        self.port = s.getsockname()[1]
        s.listen(128)
        self.sock = s
        t = threading.Thread(target=self.accept_loop, args=(s,), daemon=True)
        self.threads.append(t)
        t.start()

    def stop(self):
        """Stops listening (new connections are refused) and resets the open ones."""
        s, self.sock = self.sock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            conns, self.conns = self.conns, {}
        for c in conns:
            reset(c)
        # the RSTs are sent once the serving threads let go of their sockets: wait for that,
        # so the proxy sees them before the test's next request
        for t in conns.values():
            if t is not threading.current_thread():
                t.join(5)

    def accept_loop(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            with self.lock:
                if self.sock is not s:
                    reset(c)
                    return
                self.accepted += 1
                t = threading.Thread(target=self.serve, args=(c,), daemon=True)
                self.conns[c] = t
                self.threads.append(t)
                t.start()

    def serve(self, c):
        c.settimeout(15)
        buf = b""
        try:
            while self.running:
                while b"\r\n\r\n" not in buf:
                    b = c.recv(65536)
                    if not b:
                        return
                    buf += b
                head, _, buf = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    b = c.recv(65536)
                    if not b:
                        return
                    buf += b
                buf = buf[need:]
                line = head.split(b"\r\n", 1)[0]
                with self.lock:
                    self.served += 1
                    self.lock.notify_all()
                mode = self.mode
                if b"hold" in line.split(b" ")[1]:
                    with self.lock:
                        self.held += 1
                        self.lock.notify_all()
                    self.release_event.wait(15)
                    mode = "ok"
                if mode == "close":
                    return
                if mode == "close-next":
                    self.mode = "ok"
                    return
                if mode == "reset":
                    reset(c)
                    return
                if mode == "hang":
                    while self.running and c.recv(65536):
                        pass
                    return
                body = self.name.encode()
                if isinstance(mode, bytes):
                    c.sendall(mode)
                    return
                if mode == "partial":
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Backend: "
                              + body + b"\r\n\r\npartial")
                    time.sleep(0.1)
                    return
                status = 200 if mode == "ok" else mode
                close = (re.search(rb"(?im)^connection:\s*close", head) is not None
                         or line.endswith(b"HTTP/1.0"))
                c.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nX-Backend: %s\r\n%s\r\n%s"
                          % (status, len(body), body, b"Connection: close\r\n" if close else b"",
                             body))
                if close or self.idle_close:
                    if self.idle_close:
                        time.sleep(0.1)
                    return
        except OSError:
            return
        finally:
            with self.lock:
                self.conns.pop(c, None)
            c.close()

    def wait_held(self, n=1, timeout=10):
        """Waits until n requests are held (arrived and waiting for release())."""
        deadline = time.time() + timeout
        with self.lock:
            while self.held < n:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("%s: %d held requests, wanted %d"
                                         % (self.name, self.held, n))
                self.lock.wait(left)

    def release(self):
        self.release_event.set()

    def close(self):
        self.running = False
        self.release_event.set()
        self.stop()
        for t in self.threads:
            t.join(5)


def reset(c):
    """Closes a socket with an RST instead of a FIN, at once even when another thread is
    blocked reading it (shutting the read side down wakes that thread; until it lets go of
    the socket the kernel would not close it)."""
    try:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    c.close()


class Answer:
    """One response as compared: status, the backend that answered (X-Backend), X-Up / X-Us
    with ports written as backend names, the body (the server's name in error pages made
    equal)."""

    def __init__(self, status, backend, up, us, body):
        self.status, self.backend, self.up, self.us, self.body = status, backend, up, us, body

    def key(self):
        return (self.status, self.backend, self.up, self.us, self.body)

    def __repr__(self):
        return "Answer%r" % (self.key(),)


class Run:
    """One side (nginx or proxyd) of one case: its backends (name -> Backend; names given as
    "-x" are refused ports nobody listens on), the server, and helpers to talk to it."""

    def __init__(self, test, side, http_text, names, ports, nginx_extra=""):
        self.test, self.side = test, side
        self.backends = {}
        self.dead = {}
        for n in names:
            if n.startswith("-"):
                self.dead[n[1:]] = ports[n]
            else:
                self.backends[n] = Backend(n, ports[n])
                test.addCleanup(self.backends[n].close)
        self.port = ports["@"]
        text = http_text
        for n, b in self.backends.items():
            text = text.replace("@" + n + "@", b.address)
        for n, p in self.dead.items():
            text = text.replace("@" + n + "@", "127.0.0.1:%d" % p)
        text = text.replace("@PORT@", str(self.port))
        text = text.replace("@NGINX@", nginx_extra if side == "nginx" else "")
        self.server = (proxyd_test.NginxRef(text) if side == "nginx" else proxyd_test.Proxyd(text))
        test.addCleanup(self.server.cleanup)
        self.server.start(wait_for=self.port)

    def close(self):
        self.server.cleanup()
        for b in self.backends.values():
            b.close()

    def names(self, value):
        """A header value with each backend's address written as its name."""
        if value is None:
            return None
        for n, b in self.backends.items():
            value = value.replace(b.address, n)
        for n, p in self.dead.items():
            value = value.replace("127.0.0.1:%d" % p, n)
        return value

    def get(self, target, method="GET", body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request(method, target, body=body, headers=headers or {})
            r = c.getresponse()
            data = proxyd_test.normalize_response(r.read())
            return Answer(r.status, r.getheader("X-Backend"), self.names(r.getheader("X-Up")),
                          self.names(r.getheader("X-Us")), data)
        finally:
            c.close()

    def raw(self, data):
        return proxyd_test.raw_request(self.port, data, timeout=20)

    def log_lines(self, levels=("emerg", "alert", "crit", "error", "warn")):
        """The error log's lines of those levels, as "[level] message, context" with ports
        written as names (the server's own as PORT)."""
        out = []
        for line in self.server.read_error_log().splitlines():
            m = LOG_LINE.match(line)
            if m and m.group(1) in levels:
                text = "[%s] %s" % (m.group(1), m.group(2))
                out.append(self.names(text).replace("127.0.0.1:%d" % self.port, "PORT"))
        return out

    def wait_log(self, needle, timeout=5):
        return proxyd_test.wait_for_text(self.server.error_log, needle, timeout)

    def accepted(self):
        return {n: b.accepted for n, b in self.backends.items()}


HTTP = """
http {
    access_log off;
    %s
    server {
        listen 127.0.0.1:@PORT@;
        add_header X-Up $upstream_addr always;
        add_header X-Us $upstream_status always;
        %s
    }
}
"""


class UpstreamCase(unittest.TestCase):
    """Runs a scenario on both sides and compares what it returns."""
    maxDiff = None

    def on_both(self, http_text, names, scenario, nginx_extra="", sides=None):
        """scenario(run) -> comparable result, run on each side in turn with the same ports
        (the consistent hash depends on the addresses); returns nginx's result, checked
        equal to proxyd's."""
        out = {}
        ports = {n: steady_port() for n in list(names) + ["@"]}
        sides = [s for s in (sides or SIDES) if s in SIDES]
        if not sides:
            self.skipTest("runs under %s only" % " and ".join(SIDES))
        for side in sides:
            run = Run(self, side, http_text, names, ports, nginx_extra)
            try:
                out[side] = scenario(run)
            finally:
                run.close()
        if "nginx" in out and "proxyd" in out:
            self.assertEqual(out["proxyd"], out["nginx"], "proxyd differs from nginx")
        return out.get("nginx", out.get("proxyd"))

    def group(self, upstream, location, names, scenario, extra_http="", nginx_extra="",
              sides=None):
        """upstream: the lines inside `upstream u {}`; location: the lines of `location /`
        after `proxy_pass http://u;`."""
        text = HTTP % ("upstream u {\n%s\n}\n%s" % (upstream, extra_http),
                       "location / { proxy_pass http://u; %s @NGINX@ }" % location)
        return self.on_both(text, names, scenario, nginx_extra, sides)


def seq(n, target="/"):
    return lambda run: [run.get(target).key() for _ in range(n)]


class RoundRobinTest(UpstreamCase):

    def test_weights_5_1_1_pick_in_nginx_smooth_order(self):
        ref = self.group("server @a@ weight=5; server @b@; server @c@;", "", "abc",
                         lambda run: [run.get("/").backend for _ in range(14)])
        self.assertEqual(ref, list("aabacaa") * 2)

    def test_700_requests_follow_weights_5_1_1(self):
        def scenario(run):
            for _ in range(700):
                run.get("/")
            return {n: b.served for n, b in run.backends.items()}
        ref = self.group("server @a@ weight=5; server @b@; server @c@;", "", "abc", scenario)
        self.assertAlmostEqual(ref["a"], 500, delta=50)
        self.assertAlmostEqual(ref["b"], 100, delta=20)
        self.assertAlmostEqual(ref["c"], 100, delta=20)

    def test_equal_weights_take_turns(self):
        ref = self.group("server @a@; server @b@; server @c@;", "", "abc",
                         lambda run: [run.get("/").backend for _ in range(6)])
        self.assertEqual(ref, list("abcabc"))

    def test_down_server_is_never_used(self):
        def scenario(run):
            got = [run.get("/").backend for _ in range(6)]
            return got, run.accepted()["a"]
        ref = self.group("server @a@ down; server @b@; server @c@;", "", "abc", scenario)
        self.assertEqual(ref, (list("bcbcbc"), 0))

    def test_upstream_addr_names_the_peer(self):
        ref = self.group("server @a@;", "", "a", seq(1))
        self.assertEqual(ref, [(200, "a", "a", "200", b"a")])


class MethodsTest(UpstreamCase):

    def test_least_conn_sends_new_requests_to_idle_servers(self):
        def scenario(run):
            results = []
            t = threading.Thread(target=lambda: results.append(run.get("/hold").key()))
            t.start()
            held = [b for b in run.backends.values()]
            deadline = time.time() + 10
            while not any(b.held for b in held) and time.time() < deadline:
                time.sleep(0.02)
            got = [run.get("/").backend for _ in range(6)]
            for b in held:
                b.release()
            t.join(20)
            return got, results
        ref = self.group("least_conn; server @a@; server @b@; server @c@;", "", "abc", scenario)
        self.assertEqual(ref, (list("bcbcbc"), [(200, "a", "a", "200", b"a")]))

    def test_ip_hash_keeps_a_client_on_the_server_nginx_picks(self):
        ref = self.group("ip_hash; server @a@; server @b@; server @c@; server @d@;", "", "abcd",
                         lambda run: sorted(set(run.get("/").backend for _ in range(8))))
        self.assertEqual(len(ref), 1)

    def test_ip_hash_picks_per_client_network_as_nginx(self):
        # realip gives each request the client address ip_hash sees; nginx hashes the first
        # three octets, so .1 and .200 of a /24 land together
        def scenario(run):
            out = []
            for i in range(20):
                net = "%d.%d.%d." % (i * 37 + 1, i * 7, i * 13)
                out.append([run.get("/", headers={"X-Real-IP": net + last}).backend
                            for last in ("1", "200")])
            return out
        ref = self.group("ip_hash; server @a@; server @b@; server @c@; server @d@;", "", "abcd",
                         scenario,
                         extra_http="set_real_ip_from 127.0.0.1; real_ip_header X-Real-IP;")
        self.assertTrue(all(p[0] == p[1] for p in ref), ref)
        self.assertGreater(len(set(p[0] for p in ref)), 1)

    def test_hash_of_an_argument_picks_the_server_nginx_picks(self):
        ref = self.group("hash $arg_k; server @a@; server @b@; server @c@;", "", "abc",
                         lambda run: [run.get("/?k=key%d" % i).backend for i in range(20)])
        self.assertEqual(set(ref), set("abc"))

    def test_consistent_hash_of_an_argument_picks_the_server_nginx_picks(self):
        ref = self.group("hash $arg_k consistent; server @a@; server @b@; server @c@;", "", "abc",
                         lambda run: [run.get("/?k=key%d" % i).backend for i in range(20)])
        self.assertEqual(set(ref), set("abc"))

    def test_hash_with_an_empty_key_falls_back_to_round_robin(self):
        ref = self.group("hash $arg_k; server @a@; server @b@; server @c@;", "", "abc",
                         lambda run: [run.get("/").backend for i in range(6)])
        self.assertEqual(ref, list("abcabc"))

    def test_random_reaches_every_server(self):
        def scenario(run):
            for _ in range(90):
                run.get("/")
            return sorted(n for n, b in run.backends.items() if b.served)
        self.assertEqual(self.group("random; server @a@; server @b@; server @c@;", "", "abc",
                                    scenario), list("abc"))

    def test_random_two_least_conn_reaches_every_server(self):
        def scenario(run):
            for _ in range(90):
                run.get("/")
            return sorted(n for n, b in run.backends.items() if b.served)
        self.assertEqual(self.group("random two least_conn; server @a@; server @b@; server @c@;",
                                    "", "abc", scenario), list("abc"))


# nginx 1.22 only: what makes it keep upstream connections as current nginx does
NGINX_KEEPALIVE = 'proxy_http_version 1.1; proxy_set_header Connection "";'


class KeepaliveTest(UpstreamCase):
    """The backends count the TCP connections they accepted."""

    def sequential(self, n, targets=("/",)):
        def scenario(run):
            statuses = [run.get(targets[i % len(targets)]).status for i in range(n)]
            return statuses == [200] * n, run.accepted()
        return scenario

    def test_keepalive_reuses_connections(self):
        ref = self.group("server @a@; keepalive 16;", "", "a", self.sequential(200),
                         nginx_extra=NGINX_KEEPALIVE)
        self.assertTrue(ref[0])
        self.assertLess(ref[1]["a"], 10)

    def test_keepalive_pool_is_shared_by_the_locations_of_the_group(self):
        text = HTTP % ("upstream u { server @a@; keepalive 16; }",
                       "location /1 { proxy_pass http://u; @NGINX@ } "
                       "location /2 { proxy_pass http://u; @NGINX@ }")
        ref = self.on_both(text, "a", self.sequential(100, ("/1", "/2")), NGINX_KEEPALIVE)
        self.assertEqual(ref, (True, {"a": 1}))

    def test_keepalive_with_two_servers_reuses_on_each(self):
        ref = self.group("server @a@; server @b@; keepalive 16;", "", "ab", self.sequential(200),
                         nginx_extra=NGINX_KEEPALIVE)
        self.assertTrue(ref[0])
        self.assertLess(ref[1]["a"], 10)
        self.assertLess(ref[1]["b"], 10)

    def test_older_style_http11_and_empty_connection_keeps_working(self):
        ref = self.group("server @a@; keepalive 16;",
                         'proxy_http_version 1.1; proxy_set_header Connection "";', "a",
                         self.sequential(200))
        self.assertTrue(ref[0])
        self.assertLess(ref[1]["a"], 10)

    def test_keepalive_requests_caps_the_requests_per_connection(self):
        ref = self.group("server @a@; keepalive 16; keepalive_requests 10;", "", "a",
                         self.sequential(100), nginx_extra=NGINX_KEEPALIVE)
        self.assertEqual(ref, (True, {"a": 10}))

    def test_keepalive_is_on_by_default_for_a_group_as_current_nginx(self):
        # nginx 1.29.7+ (not 1.22): keepalive to upstream{} groups is on by default
        ref = self.group("server @a@;", "", "a", self.sequential(200), sides=["proxyd"])
        self.assertTrue(ref[0])
        self.assertLess(ref[1]["a"], 10)

    def test_keepalive_zero_opens_a_connection_per_request_as_current_nginx(self):
        # nginx 1.29.7+ (1.22 rejects `keepalive 0`)
        ref = self.group("server @a@; keepalive 0;", "", "a", self.sequential(50), sides=["proxyd"])
        self.assertEqual(ref, (True, {"a": 50}))

    def test_http10_upstream_opens_a_connection_per_request(self):
        ref = self.group("server @a@; keepalive 16;", "proxy_http_version 1.0;", "a",
                         self.sequential(20))
        self.assertEqual(ref, (True, {"a": 20}))

    def test_connection_closed_by_the_server_while_idle_is_not_an_error(self):
        def scenario(run):
            run.backends["a"].idle_close = True
            out = []
            for _ in range(5):
                out.append(run.get("/").key())
                time.sleep(0.3)  # the backend closes the idle connection meanwhile
            return out
        ref = self.group("server @a@; keepalive 16;", "", "a", scenario,
                         nginx_extra=NGINX_KEEPALIVE)
        self.assertEqual(ref, [(200, "a", "a", "200", b"a")] * 5)

    def test_stale_pooled_connection_is_retried_transparently(self):
        def scenario(run):
            run.get("/")
            # the backend now closes its idle connection without the proxy seeing it first:
            # the next request is written on it and meets a reset
            run.backends["a"].mode = "close-next"
            return [run.get("/").key() for _ in range(3)], run.accepted()
        ref = self.group("server @a@; keepalive 16;", "", "a", scenario,
                         nginx_extra=NGINX_KEEPALIVE)
        # nginx retries on a fresh connection even in a group of one, and lists both tries
        self.assertEqual(ref, ([(200, "a", "a, a", "502, 200", b"a")]
                               + [(200, "a", "a", "200", b"a")] * 2,
                               {"a": 2}))


# -t on bad configurations: lines 1-4 are these, so the first line of a case is line 5
CONF_HEAD = "pid x.pid;\nevents {\n}\nhttp {\n"
CONF_TAIL = "\n}\n"


class ConfigCheckTest(proxyd_test.TempDirCase):
    """`proxyd -t` prints nginx's exact [emerg]/[warn] lines with file:line; each case also
    runs nginx -t on the same file and checks it says the same."""
    PREFIX = "proxyd-e2e-upstream-conf-"

    def run_t(self, binary, extra=()):
        conf = os.path.join(self.dir, "x.conf")
        p = subprocess.run([binary, "-t", "-p", self.dir + "/", "-c", conf] + list(extra),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr.replace(self.dir, "DIR").splitlines()

    def nginx_lines(self):
        """nginx's stderr turned into proxyd's form ("proxyd: [emerg] msg")."""
        rc, lines = self.run_t(proxyd_test.NGINX_BIN, ["-e", "stderr"])
        out = []
        for line in lines:
            m = LOG_LINE.match(line)
            if m:
                out.append("proxyd: [%s] %s" % (m.group(1), m.group(2)))
            elif line.startswith("nginx: "):
                out.append("proxyd: " + line[len("nginx: "):])
            else:
                out.append(line)
        return rc, out

    def check(self, body, expected_rc, first_lines, nginx=True):
        self.write("x.conf", CONF_HEAD + body + CONF_TAIL)
        if expected_rc == 0:
            tail = ["proxyd: the configuration file DIR/x.conf syntax is ok",
                    "proxyd: configuration file DIR/x.conf test is successful"]
        else:
            tail = ["proxyd: configuration file DIR/x.conf test failed"]
        expected = (expected_rc, first_lines + tail)
        if nginx:
            self.assertEqual(self.nginx_lines(), expected, "nginx says otherwise")
        self.assertEqual(self.run_t(proxyd_test.PROXYD_BIN), expected)

    def assert_fails(self, body, emerg, line=5):
        self.check(body, 1, ["proxyd: [emerg] %s in DIR/x.conf:%d" % (emerg, line)])

    def assert_ok(self, body, warn=None, line=5, nginx=True):
        self.check(body, 0, ["proxyd: [warn] %s in DIR/x.conf:%d" % (warn, line)] if warn else [],
                   nginx)

    def test_server_parameters_with_bad_values(self):
        for p in ("weight=0", "weight=x", "weight=", "weight=-1", "max_fails=-1", "max_fails=x",
                  "fail_timeout=x", "max_conns=x", "max_conns=-1", "foo=1", "bogus", "Weight=2",
                  "slow_start=1s", "resolve"):
            with self.subTest(param=p):
                self.assert_fails("upstream u { server 127.0.0.1:1 %s; }" % p,
                                  'invalid parameter "%s"' % p)

    def test_server_parameters_accepted(self):
        self.assert_ok("upstream u { server 127.0.0.1:1 weight=2 max_fails=0 fail_timeout=0 "
                       "max_conns=0; server 127.0.0.1:2 backup max_conns=5; "
                       "server 127.0.0.1:3 down weight=1000000 fail_timeout=1m; }")

    def test_large_weight_is_accepted_as_nginx(self):
        self.assert_ok("upstream u { server 127.0.0.1:1 weight=1000001; }")

    def test_repeated_server_parameter_keeps_the_last(self):
        self.assert_ok("upstream u { server 127.0.0.1:1 weight=2 weight=3; }")

    def test_server_without_address(self):
        self.assert_fails("upstream u { server; }",
                          'invalid number of arguments in "server" directive')

    def test_backup_after_a_method_without_backups(self):
        for method in ("ip_hash;", "hash $uri;", "hash $uri consistent;", "random;",
                       "random two least_conn;"):
            with self.subTest(method=method):
                self.assert_fails("upstream u {\n %s\n server 127.0.0.1:1 backup;\n}" % method,
                                  'balancing method does not support parameter "backup"', 7)

    def test_backup_before_ip_hash_is_accepted(self):
        self.assert_ok("upstream u { server 127.0.0.1:1; server 127.0.0.1:2 backup; ip_hash; }")

    def test_least_conn_allows_backup(self):
        self.assert_ok("upstream u { least_conn; server 127.0.0.1:1; server 127.0.0.1:2 backup; }")

    def test_method_redefined_is_a_warning(self):
        self.assert_ok("upstream u {\n least_conn;\n ip_hash;\n server 127.0.0.1:1;\n}",
                       "load balancing method redefined", 7)

    def test_same_method_twice_is_a_warning_too(self):
        self.assert_ok("upstream u { least_conn; least_conn; server 127.0.0.1:1; }",
                       "load balancing method redefined")

    def test_empty_upstream_is_named_at_the_closing_brace(self):
        self.assert_fails("upstream u {\n\n}", "no servers are inside upstream", 7)

    def test_only_backup_servers_names_the_upstream_line(self):
        self.write("x.conf", CONF_HEAD + "upstream u {\n server 127.0.0.1:1 backup;\n}" + CONF_TAIL)
        expected = (1, ['proxyd: [emerg] no servers in upstream "u" in DIR/x.conf:5',
                        "proxyd: configuration file DIR/x.conf test failed"])
        self.assertEqual(self.nginx_lines(), expected, "nginx says otherwise")
        self.assertEqual(self.run_t(proxyd_test.PROXYD_BIN), expected)

    def test_duplicate_upstream(self):
        self.assert_fails("upstream u { server 127.0.0.1:1; }\nupstream u { server 127.0.0.1:2; }",
                          'duplicate upstream "u"', 6)

    def test_bad_addresses(self):
        for addr, msg in (("http://127.0.0.1:1", "invalid host"), ("/path", "invalid host"),
                          ("127.0.0.1:99999", "invalid port"),
                          ("no.such.host.invalid:80", "host not found")):
            with self.subTest(addr=addr):
                self.assert_fails("upstream u { server %s; }" % addr,
                                  '%s in upstream "%s"' % (msg, addr))

    def test_address_forms_accepted(self):
        self.assert_ok("upstream u { server 127.0.0.1; server [::1]:1; server unix:/tmp/x.sock; "
                       "server localhost:81; }")

    def test_hash_arguments(self):
        self.assert_fails("upstream u { hash; server 127.0.0.1:1; }",
                          'invalid number of arguments in "hash" directive')
        self.assert_fails("upstream u { hash $x foo; server 127.0.0.1:1; }",
                          'invalid parameter "foo"')

    def test_random_arguments(self):
        self.assert_fails("upstream u { random three; server 127.0.0.1:1; }",
                          'invalid parameter "three"')
        self.assert_fails("upstream u { random two foo; server 127.0.0.1:1; }",
                          'invalid parameter "foo"')

    def test_ip_hash_takes_no_argument(self):
        self.assert_fails("upstream u { ip_hash x; server 127.0.0.1:1; }",
                          'invalid number of arguments in "ip_hash" directive')

    def test_keepalive_bad_values(self):
        for v in ("x", "-1"):
            with self.subTest(value=v):
                self.assert_fails("upstream u { keepalive %s; server 127.0.0.1:1; }" % v,
                                  'invalid value "%s" in "keepalive" directive' % v)

    def test_keepalive_twice(self):
        self.assert_fails("upstream u { keepalive 2; keepalive 3; server 127.0.0.1:1; }",
                          '"keepalive" directive is duplicate')

    def test_keepalive_zero_is_accepted_as_current_nginx(self):
        # nginx 1.29.7+ (not 1.22): `keepalive 0` turns the pool off
        self.assert_ok("upstream u { keepalive 0; server 127.0.0.1:1; }", nginx=False)

    def test_keepalive_requests_not_a_number(self):
        self.assert_fails("upstream u { keepalive_requests x; server 127.0.0.1:1; }",
                          '"keepalive_requests" directive invalid number')

    def test_keepalive_timeouts_not_a_time(self):
        for d in ("keepalive_timeout", "keepalive_time"):
            with self.subTest(directive=d):
                self.assert_fails("upstream u { %s x; server 127.0.0.1:1; }" % d,
                                  '"%s" directive invalid value' % d)

    def test_zone_size(self):
        self.assert_fails("upstream u { zone z 1k; server 127.0.0.1:1; }", 'zone "z" is too small')
        self.assert_fails("upstream u { zone z 31k; server 127.0.0.1:1; }", 'zone "z" is too small')
        self.assert_fails("upstream u { zone z x; server 127.0.0.1:1; }", 'invalid zone size "x"')
        self.assert_ok("upstream u { zone z 32k; server 127.0.0.1:1; }")

    def test_upstream_block_placement_and_arguments(self):
        self.assert_fails("upstream { server 127.0.0.1:1; }",
                          'invalid number of arguments in "upstream" directive')
        self.assert_fails("server { upstream u { server 127.0.0.1:1; } }",
                          '"upstream" directive is not allowed here')
        self.assert_fails("upstream u { server 127.0.0.1:1; location / {} }",
                          '"location" directive is not allowed here')

    def test_proxy_pass_to_a_group_with_a_port(self):
        self.assert_fails("upstream u { server 127.0.0.1:1; }\n"
                          "server { location / { proxy_pass http://u:8080; } }",
                          'upstream "u" may not have port 8080', 6)

    def test_proxy_pass_to_an_unknown_name(self):
        self.assert_fails("upstream u { server 127.0.0.1:1; }\n"
                          "server { location / { proxy_pass http://v; } }",
                          'host not found in upstream "v"', 6)


if __name__ == "__main__":
    proxyd_test.main()
