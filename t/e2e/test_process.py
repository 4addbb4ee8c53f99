"""The process model: a master with its workers, the pid file, signals (HUP reload, QUIT
graceful stop, TERM/INT fast stop, USR1 log reopening), respawning a dead worker, and
worker_connections / worker_shutdown_timeout. nginx is the reference for every behaviour."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


def wait_until(predicate, timeout=10.0, step=0.02):
    """Polls predicate until it holds; returns its last value (bounded, never a timing check)."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() >= deadline:
            return value
        time.sleep(step)


def http_get(port, path="/", timeout=5.0):
    """One request on a fresh connection with Connection: close; returns (status, headers, body)."""
    data = proxyd_test.raw_request(
        port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        timeout=timeout)
    responses = proxyd_test.parse_responses(data)
    if not responses:
        raise AssertionError("no response: %r" % data)
    return responses[0]


def body_of(port, path="/"):
    return http_get(port, path)[2]


def try_body(port, path="/"):
    try:
        return body_of(port, path)
    except (OSError, AssertionError):
        return None


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


class ClosedEarly(ConnectionError):
    def __init__(self, received, text):
        super().__init__(text)
        self.received = received


def read_response(sock):
    """Reads one response with a Content-Length off a socket; returns (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError as e:
            raise ClosedEarly(len(data), "reset after %d bytes of a response head" % len(data)) from e
        if not chunk:
            raise ClosedEarly(len(data), "closed after %d bytes of a response head" % len(data))
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed after %d of %d body bytes" % (len(rest), n))
        rest += chunk
    return int(lines[0].split()[1]), headers, rest[:n]


def recv_eof(sock, timeout=10.0):
    """True when the peer closes the connection (orderly or by reset) within timeout."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class ProcessTest(unittest.TestCase):
    def start(self, http, workers=2, main="", events="worker_connections 1024;", wait_for=None):
        px = proxyd_test.Proxyd("", raw=True)
        self.addCleanup(px.cleanup)
        self.write(px, http, workers=workers, main=main, events=events)
        px.start(wait_for=wait_for)
        if wait_for is not None:
            self.assertTrue(wait_until(lambda: len(px.worker_pids()) == self.expected_workers(workers)),
                            px.read_error_log())
        return px

    @staticmethod
    def expected_workers(workers):
        return os.sysconf("SC_NPROCESSORS_ONLN") if workers == "auto" else workers

    @staticmethod
    def write(px, http, workers=2, main="", events="worker_connections 1024;"):
        px.write_conf("worker_processes %s;\npid %s;\nerror_log %s info;\n%s"
                      "events { %s }\nhttp {\n%s\n}\n"
                      % (workers, px.pid_path, px.error_log, main, events, http), raw=True)

    @staticmethod
    def server(port, text, extra=""):
        return ("    server { listen 127.0.0.1:%d; %s\n        location / { return 200 \"%s\"; } }\n"
                % (port, extra, text))

    def wait_log(self, px, pattern, timeout=10.0):
        """Waits for a regex in the error log; returns the match."""
        found = wait_until(lambda: re.search(pattern, px.read_error_log(), re.M), timeout)
        self.assertTrue(found, "no /%s/ in the error log:\n%s" % (pattern, px.read_error_log()))
        return found

    def wait_exit(self, px, timeout=10.0):
        try:
            return px.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("master did not exit within %ss:\n%s" % (timeout, px.read_error_log()))

    def reload(self, px, http, **kw):
        """Writes a new configuration and sends HUP; returns the error log length before it."""
        mark = len(px.read_error_log())
        self.write(px, http, **kw)
        px.signal(signal.SIGHUP)
        return mark

    def wait_reloaded(self, px, old_workers, workers=2):
        """Waits until every old worker has exited and the new generation is complete."""
        self.assertTrue(
            wait_until(lambda: not set(old_workers) & set(px.worker_pids())
                       and len(px.worker_pids()) == workers),
            "old workers %s still running or new ones missing (%s):\n%s"
            % (old_workers, px.worker_pids(), px.read_error_log()))

    # ---- start and stop ----

    def test_master_runs_configured_workers_and_writes_its_pid_file(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), workers=2, wait_for=port)
        workers = px.worker_pids()
        self.assertEqual(len(workers), 2)
        with open(px.pid_path) as f:
            self.assertEqual(f.read(), "%d\n" % px.master_pid())
        self.assertEqual(body_of(port), b"ok")
        px.signal(signal.SIGQUIT)
        self.assertEqual(self.wait_exit(px), 0)
        self.assertFalse(os.path.exists(px.pid_path))
        # The master waited for (and reaped) every worker before exiting.
        self.assertEqual([pid for pid in workers if os.path.exists("/proc/%d" % pid)], [])

    def test_worker_processes_auto_starts_one_worker_per_online_cpu(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), workers="auto", wait_for=port)
        self.assertEqual(len(px.worker_pids()), os.sysconf("SC_NPROCESSORS_ONLN"))

    def test_fast_stop_on_sigterm_does_not_wait_for_a_slow_client(self):
        self.check_fast_stop(signal.SIGTERM, "SIGTERM")

    def test_fast_stop_on_sigint_does_not_wait_for_a_slow_client(self):
        self.check_fast_stop(signal.SIGINT, "SIGINT")

    def check_fast_stop(self, signo, name):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), wait_for=port)
        # A half-sent head would hold a graceful stop for client_header_timeout (60 s).
        slow = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(slow.close)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        self.assertEqual(body_of(port), b"ok")
        px.signal(signo)
        self.assertEqual(self.wait_exit(px, timeout=10), 0)
        self.assertTrue(recv_eof(slow))
        self.assertFalse(os.path.exists(px.pid_path))
        self.assertTrue(refused(port))
        self.assertIn("signal %d (%s) received from %d, exiting" % (signo, name, os.getpid()),
                      px.read_error_log())

    # ---- a dead worker ----

    def test_killed_worker_is_respawned_and_its_death_logged_as_alert(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), wait_for=port)
        before = px.worker_pids()
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        self.wait_log(px, r"\[alert\] \d+#\d+: worker process %d exited on signal 9$" % victim)
        self.assertTrue(wait_until(lambda: len(px.worker_pids()) == 2 and victim not in px.worker_pids()),
                        px.read_error_log())
        self.assertIn(before[1], px.worker_pids())
        self.assertEqual(body_of(port), b"ok")
        # Kill the other original too: only respawned workers are left to answer.
        os.kill(before[1], signal.SIGKILL)
        self.assertTrue(wait_until(lambda: len(px.worker_pids()) == 2 and before[1] not in px.worker_pids()))
        self.assertEqual(body_of(port), b"ok")
        self.assertEqual(px.proc.poll(), None)

    # ---- reload ----

    def test_reload_applies_new_config_replaces_workers_and_keeps_master(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "one"), wait_for=port)
        old = px.worker_pids()
        self.assertEqual(body_of(port), b"one")
        mark = self.reload(px, self.server(port, "two"))
        self.wait_reloaded(px, old)
        self.assertEqual(body_of(port), b"two")
        self.assertEqual(px.proc.poll(), None)
        with open(px.pid_path) as f:
            self.assertEqual(int(f.read()), px.master_pid())
        log = px.read_error_log()[mark:]
        self.assertRegex(log, r"\[notice\] \d+#\d+: signal 1 \(SIGHUP\) received from \d+, reconfiguring")
        self.assertNotRegex(log, r"\[(alert|emerg|crit)\]")

    def test_reload_with_invalid_config_logs_emerg_and_old_workers_keep_serving(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "one"), wait_for=port)
        old = px.worker_pids()
        mark = self.reload(px, self.server(port, "two") + "    bogus_directive on;\n")
        # Line 8: main context (3), events, "http {", the server's two lines come first.
        found = self.wait_log(
            px, r'\[emerg\] \d+#\d+: unknown directive "bogus_directive" in %s:%d$'
            % (re.escape(px.conf_path), 8))
        self.assertGreater(found.start(), mark)
        self.assertEqual(body_of(port), b"one")
        self.assertEqual(sorted(px.worker_pids()), sorted(old))
        # The master is still fine: a corrected config reloads.
        self.reload(px, self.server(port, "three"))
        self.wait_reloaded(px, old)
        self.assertEqual(body_of(port), b"three")

    def test_reload_with_port_in_use_logs_bind_emerg_and_keeps_old_config(self):
        port = proxyd_test.free_port()
        busy = socket.socket()
        self.addCleanup(busy.close)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        busy_port = busy.getsockname()[1]
        px = self.start(self.server(port, "one"), wait_for=port)
        old = px.worker_pids()
        self.reload(px, self.server(port, "two") + self.server(busy_port, "x"))
        self.wait_log(px, r"\[emerg\] \d+#\d+: bind\(\) to 127\.0\.0\.1:%d failed \(98: Address already in use\)$"
                      % busy_port)
        self.assertEqual(body_of(port), b"one")
        self.assertEqual(sorted(px.worker_pids()), sorted(old))
        # The sockets the failed cycle took over went back to the running one: a later
        # reload still carries the port over.
        self.reload(px, self.server(port, "three"))
        self.wait_reloaded(px, old)
        self.assertEqual(body_of(port), b"three")

    def test_reload_changing_worker_processes_starts_the_new_count(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "one"), workers=2, wait_for=port)
        old = px.worker_pids()
        self.reload(px, self.server(port, "two"), workers=3)
        self.wait_reloaded(px, old, workers=3)
        self.assertEqual(body_of(port), b"two")

    def test_signal_option_reloads_and_quits_the_master_named_in_the_pid_file(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "one"), wait_for=port)
        old = px.worker_pids()
        self.write(px, self.server(port, "two"))
        for action in ("reload", "quit"):
            p = subprocess.run([px.binary, "-p", px.dir + "/", "-c", px.conf_path, "-s", action],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual((p.returncode, p.stderr), (0, ""))
            if action == "reload":
                self.wait_reloaded(px, old)
                self.assertEqual(body_of(port), b"two")
        self.assertEqual(self.wait_exit(px), 0)
        self.assertRegex(px.read_error_log(),
                         r"signal 1 \(SIGHUP\) received from \d+, reconfiguring\n(.*\n)*.*signal 3 \(SIGQUIT\) "
                         r"received from \d+, shutting down")

    def test_reload_adding_a_listen_port_serves_it(self):
        port, port2 = proxyd_test.free_port(), proxyd_test.free_port()
        px = self.start(self.server(port, "one"), wait_for=port)
        self.assertTrue(refused(port2))
        old = px.worker_pids()
        self.reload(px, self.server(port, "one") + self.server(port2, "second"))
        self.wait_reloaded(px, old)
        self.assertEqual(body_of(port2), b"second")
        self.assertEqual(body_of(port), b"one")

    def test_reload_removing_a_listen_port_stops_listening_on_it(self):
        port, port2 = proxyd_test.free_port(), proxyd_test.free_port()
        px = self.start(self.server(port, "one") + self.server(port2, "second"), wait_for=port)
        self.assertEqual(body_of(port2), b"second")
        old = px.worker_pids()
        self.reload(px, self.server(port, "one"))
        self.wait_reloaded(px, old)
        self.assertEqual(body_of(port), b"one")
        # No process may still hold the socket: the kernel would accept into a backlog
        # nobody reads, and the client would hang instead of being refused.
        self.assertTrue(wait_until(lambda: refused(port2)), "port %d still accepts" % port2)

    def test_reloads_under_client_load_lose_no_request(self):
        port = proxyd_test.free_port()
        configs = [self.server(port, "alpha"), self.server(port, "bravo")]
        px = self.start(configs[0], wait_for=port)
        load = ClientLoad(port, {b"alpha", b"bravo"})
        load.start()
        self.addCleanup(load.stop)
        try:
            for i in range(10):
                time.sleep(0.3)
                self.reload(px, configs[(i + 1) % 2])
            time.sleep(0.3)
        finally:
            load.stop()
        print("\n  %d requests, %d on reused connections, %d retried after a keepalive close"
              % (load.ok, load.keepalive_reused, load.retried), file=sys.stderr)
        self.assertEqual(load.failures, [], "%d ok, failures:\n%s" % (load.ok, "\n".join(load.failures[:20])))
        self.assertGreater(load.ok, 0)
        self.assertGreater(load.keepalive_reused, 0)
        self.assertEqual(px.proc.poll(), None)
        # Ten generations come and go; only the last stays, and it answers "alpha".
        self.assertTrue(wait_until(lambda: len(px.worker_pids()) == 2, timeout=20), px.worker_pids())
        self.assertEqual(body_of(port), b"alpha")
        self.assertNotRegex(px.read_error_log(), r"\[(alert|emerg|crit)\]")

    # ---- graceful stop ----

    def test_graceful_quit_finishes_in_flight_request_and_closes_idle_keepalive(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "done"), workers=1, wait_for=port)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(idle.close)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(read_response(idle)[2], b"done")
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(slow.close)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        # Let the worker read the first half before the signal.
        time.sleep(0.2)
        px.signal(signal.SIGQUIT)
        self.assertTrue(recv_eof(idle), "idle keepalive connection was not closed")
        self.assertTrue(wait_until(lambda: refused(port)), "new connections still accepted after QUIT")
        self.assertEqual(px.proc.poll(), None)
        slow.sendall(b"X-Rest: 1\r\n\r\n")
        status, headers, body = read_response(slow)
        self.assertEqual((status, body), (200, b"done"))
        self.assertEqual(headers.get("connection"), "close")
        self.assertTrue(recv_eof(slow))
        self.assertEqual(self.wait_exit(px), 0)
        self.assertFalse(os.path.exists(px.pid_path))
        log = px.read_error_log()
        self.assertIn("signal 3 (SIGQUIT) received from %d, shutting down" % os.getpid(), log)
        self.assertRegex(log, r"\[notice\] \d+#\d+: worker process \d+ exited with code 0")

    def test_worker_shutdown_timeout_bounds_graceful_stop_with_stuck_client(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), workers=1, main="worker_shutdown_timeout 1s;\n",
                        wait_for=port)
        stuck = socket.create_connection(("127.0.0.1", port))
        self.addCleanup(stuck.close)
        stuck.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        time.sleep(0.2)
        px.signal(signal.SIGQUIT)
        # Without the timeout the worker would wait client_header_timeout (60 s).
        self.assertEqual(self.wait_exit(px, timeout=15), 0)
        self.assertTrue(recv_eof(stuck, timeout=1))

    # ---- logs ----

    def test_sigusr1_reopens_error_and_access_logs_at_their_paths(self):
        port = proxyd_test.free_port()
        px = proxyd_test.Proxyd("", raw=True)
        self.addCleanup(px.cleanup)
        access = px.path("access.log")
        self.write(px, "    log_format plain \"$request_uri\";\n    access_log %s plain;\n%s"
                   % (access, self.server(port, "ok")))
        px.start(wait_for=port)
        self.assertTrue(wait_until(lambda: len(px.worker_pids()) == 2))
        workers = px.worker_pids()
        self.assertEqual(body_of(port, "/before"), b"ok")
        self.assertTrue(wait_until(lambda: "/before" in read_file(access)))
        os.rename(access, access + ".1")
        os.rename(px.error_log, px.error_log + ".1")
        px.signal(signal.SIGUSR1)
        # As nginx, the master and each worker say so in the log they are about to leave.
        self.assertTrue(wait_until(lambda: read_file(px.error_log + ".1").count("reopening logs") == 4),
                        read_file(px.error_log + ".1"))
        self.assertRegex(read_file(px.error_log + ".1"),
                         r"\[notice\] %d#\d+: signal 10 \(SIGUSR1\) received from %d, reopening logs"
                         % (px.master_pid(), os.getpid()))
        self.assertTrue(wait_until(lambda: os.path.exists(access) and os.path.exists(px.error_log)))
        self.assertEqual(body_of(port, "/after"), b"ok")
        self.assertTrue(wait_until(lambda: "/after" in read_file(access)))
        self.assertEqual(read_file(access + ".1"), "/before\n")
        self.assertEqual(read_file(access), "/after\n")
        # The master and the workers write their next lines to the new error log.
        self.reload(px, "    access_log off;\n" + self.server(port, "ok"))
        self.wait_reloaded(px, workers)
        log = px.read_error_log()
        self.assertIn("signal 1 (SIGHUP) received from %d, reconfiguring" % os.getpid(), log)
        for pid in workers:
            self.assertRegex(log, r"\[notice\] %d#\d+: gracefully shutting down" % pid)
        self.assertNotIn("SIGHUP", read_file(px.error_log + ".1"))

    # ---- worker_connections ----

    def test_worker_connections_exhausted_logs_alert_and_serves_queued_client_later(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), workers=1, events="worker_connections 8;", wait_for=port)
        worker = px.worker_pids()[0]
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(8):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        # The kernel completes the handshake; the worker leaves the connection queued.
        late = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(late.close)
        late.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        for _ in range(11):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        self.wait_log(px, r"\[alert\] \d+#\d+: 8 worker_connections are not enough$")
        ticks_before = cpu_ticks(worker)
        time.sleep(1.0)
        # A worker woken again and again by the pending connections would burn about a
        # second of CPU here.
        self.assertLess(cpu_ticks(worker) - ticks_before, os.sysconf("SC_CLK_TCK") // 2)
        self.assertEqual(px.worker_pids(), [worker])
        for s in held:
            s.close()
        held.clear()
        self.assertEqual(read_response(late)[2], b"ok")
        self.assertEqual(wait_until(lambda: try_body(port)), b"ok")
        # Full service again: as many concurrent keepalive connections as the slots allow.
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
        held.extend(conns)
        for s in conns:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        for s in conns:
            self.assertEqual(read_response(s)[2], b"ok")
        self.assertEqual(px.worker_pids(), [worker])

    def test_worker_connections_exhausted_reuses_oldest_idle_keepalive_connection(self):
        port = proxyd_test.free_port()
        px = self.start(self.server(port, "ok"), workers=1, events="worker_connections 8;", wait_for=port)
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            idle.append(s)
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(s)[2], b"ok")
        # nginx's answer to a full table: close the oldest idle keepalive connection.
        self.assertEqual(body_of(port), b"ok")
        self.wait_log(px, r"\[warn\] \d+#\d+: 8 worker_connections are not enough, reusing connections$")
        self.assertTrue(recv_eof(idle[0]))
        for s in idle[1:]:
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(s)[2], b"ok")
        self.assertNotIn("[alert]", px.read_error_log())

def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class ClientLoad:
    """Threads sending requests in a loop, some on keepalive connections, some one per
    connection; counts every failure. A request that finds its reused keepalive connection
    closed before any byte of the answer is retried on a new connection, as HTTP clients do
    (RFC 9112 9.3.1): a server may close an idle connection at any time, nginx included."""

    def __init__(self, port, answers, threads=4, max_requests=200000, max_seconds=30):
        self.port = port
        self.answers = answers
        self.threads = [threading.Thread(target=self.run, args=(i % 2 == 0,), daemon=True)
                        for i in range(threads)]
        self.budget = max_requests
        self.deadline = time.time() + max_seconds
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.keepalive_reused = 0
        self.retried = 0
        self.failures = []

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopped.set()
        for t in self.threads:
            t.join(10)

    def running(self):
        with self.lock:
            self.budget -= 1
            return self.budget >= 0 and not self.stopped.is_set() and time.time() < self.deadline

    def record(self, failure=None, reused=False):
        with self.lock:
            if failure:
                self.failures.append(failure)
            else:
                self.ok += 1
                self.keepalive_reused += reused

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def run(self, keepalive):
        sock = None
        while self.running():
            reused = sock is not None
            try:
                if sock is None:
                    sock = self.connect()
                head = b"GET / HTTP/1.1\r\nHost: t\r\n" + (b"" if keepalive else b"Connection: close\r\n")
                sock.sendall(head + b"\r\n")
                status, headers, body = read_response(sock)
            except (ConnectionError, OSError) as e:
                sock.close() if sock else None
                sock = None
                unanswered = isinstance(e, (ClosedEarly, BrokenPipeError, ConnectionResetError)) and \
                    getattr(e, "received", 0) == 0
                if reused and unanswered:
                    # The keepalive connection was closed under us: retry on a new one.
                    with self.lock:
                        self.retried += 1
                    try:
                        sock = self.connect()
                        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                        status, headers, body = read_response(sock)
                    except (ConnectionError, OSError) as e2:
                        self.record("retry on a new connection: %r" % e2)
                        sock.close() if sock else None
                        sock = None
                        continue
                else:
                    self.record("%s request: %r" % ("keepalive" if keepalive else "single", e))
                    continue
            if status != 200 or body not in self.answers:
                self.record("wrong answer %d %r" % (status, body))
            else:
                self.record(reused=reused)
            if headers.get("connection") == "close" or not keepalive:
                sock.close()
                sock = None
        if sock:
            sock.close()


if __name__ == "__main__":
    proxyd_test.main()
