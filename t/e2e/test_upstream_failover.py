"""upstream{} failure handling, differential against Debian's nginx 1.22 (the harness is
test_upstream.py's): passive health (max_fails / fail_timeout, backup, down, max_conns) and
proxy_next_upstream (conditions, tries, timeout, non-idempotent requests, no retry once the
client got bytes, a server killed under load). $upstream_addr / $upstream_status come back
in X-Up / X-Us with each backend's port written as its name."""
import http.client
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402
from test_upstream import UpstreamCase, seq  # noqa: E402


REFUSED = "[error] connect() failed (111: Connection refused) while connecting to upstream"
DISABLED = "[warn] upstream server temporarily disabled while connecting to upstream"
NO_LIVE = "[error] no live upstreams while connecting to upstream"


def ctx(upstream, method="GET", host="PORT"):
    """The context nginx adds to a request's error log line (the server listens on PORT)."""
    return (', client: 127.0.0.1, server: , request: "%s / HTTP/1.1", upstream: "http://%s/", '
            'host: "%s"' % (method, upstream, host))

# a response header with a NUL byte: nginx's "invalid header"
INVALID_HEADER = b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 1\r\n\r\nx"
INVALID_HEADER_LOG = [
    '[error] upstream sent invalid header: "X: a\\x00..." while reading response header from '
    'upstream' + ctx("a")]
ERRORS = ("emerg", "alert", "crit", "error")


class PassiveHealthTest(UpstreamCase):

    def test_refused_server_is_skipped_after_one_failure_then_comes_back(self):
        def scenario(run):
            a = run.backends["a"]
            a.stop()
            first = run.get("/").key()
            run.wait_log("temporarily disabled")
            during = [run.get("/").key() for _ in range(4)]
            log = run.log_lines(ERRORS)
            a.start()
            time.sleep(3.1)  # past fail_timeout: nginx counts it in whole seconds
            after = [run.get("/").backend for _ in range(6)]
            return first, during, log, after
        ref = self.group("server @a@ max_fails=1 fail_timeout=2s; server @b@;", "", "ab", scenario)
        self.assertEqual(ref[0], (200, "b", "a, b", "502, 200", b"b"))
        self.assertEqual(ref[1], [(200, "b", "b", "200", b"b")] * 4)
        self.assertEqual(ref[2], [REFUSED + ctx("a")])
        # effective weight comes back one step per pick, as nginx's smooth round-robin
        self.assertEqual(ref[3], list("bbabab"))

    def test_all_servers_down_is_502_no_live_upstreams_with_the_group_name(self):
        def scenario(run):
            first = run.get("/").key()
            second = run.get("/").key()
            return first, second, run.log_lines(ERRORS)
        ref = self.group("server @a@; server @b@;", "", ["-a", "-b"], scenario)
        self.assertEqual(ref[0][:4], (502, None, "a, b", "502, 502"))
        self.assertEqual(ref[1][:4], (502, None, "u", "502"))
        self.assertEqual(ref[2][-1], NO_LIVE + ctx("u"))

    def test_max_fails_zero_never_takes_a_server_out(self):
        ref = self.group("server @a@ max_fails=0; server @b@;", "", ["-a", "b"],
                         lambda run: [run.get("/").up for _ in range(4)])
        self.assertEqual(ref, ["a, b", "b", "a, b", "b"])

    def test_down_server_with_a_backup(self):
        ref = self.group("server @a@ down; server @b@; server @c@ backup;", "", "abc",
                         lambda run: [run.get("/").up for _ in range(3)])
        self.assertEqual(ref, ["b", "b", "b"])

    def test_backup_takes_over_when_primaries_are_down_and_gives_back(self):
        def scenario(run):
            a = run.backends["a"]
            before = [run.get("/").backend for _ in range(3)]
            a.stop()
            over = [run.get("/").key() for _ in range(3)]
            a.start()
            time.sleep(2.1)  # past fail_timeout: nginx counts it in whole seconds
            back = [run.get("/").backend for _ in range(3)]
            return before, over, back
        ref = self.group("server @a@ fail_timeout=1s; server @c@ backup;", "", "ac", scenario)
        self.assertEqual(ref[0], list("aaa"))
        self.assertEqual(ref[1], [(200, "c", "a, c", "502, 200", b"c")]
                         + [(200, "c", "c", "200", b"c")] * 2)
        self.assertEqual(ref[2], list("aaa"))

    def test_max_conns_sends_the_next_request_elsewhere(self):
        def scenario(run):
            held = []
            t = threading.Thread(target=lambda: held.append(run.get("/hold").key()))
            t.start()
            run.backends["a"].wait_held()
            got = [run.get("/").key() for _ in range(3)]
            run.backends["a"].release()
            t.join(20)
            return held, got
        ref = self.group("server @a@ max_conns=1; server @b@;", "", "ab", scenario)
        self.assertEqual(ref, ([(200, "a", "a", "200", b"a")], [(200, "b", "b", "200", b"b")] * 3))

    def test_max_conns_reached_everywhere_is_502_no_live_upstreams(self):
        def scenario(run):
            held = []
            t = threading.Thread(target=lambda: held.append(run.get("/hold").key()))
            t.start()
            run.backends["a"].wait_held()
            got = run.get("/").key()
            run.backends["a"].release()
            t.join(20)
            return held, got, run.log_lines()
        ref = self.group("server @a@ max_conns=1;", "", "a", scenario)
        self.assertEqual(ref[1][:4], (502, None, "u", "502"))
        self.assertEqual(ref[2], [NO_LIVE + ctx("u")])

    def test_disabled_warning_follows_the_connect_error_and_names_the_action(self):
        def scenario(run):
            run.get("/")
            run.wait_log("temporarily disabled")
            return run.log_lines()
        ref = self.group("server @a@; server @b@;", "", ["-a", "b"], scenario)
        self.assertEqual(ref, [REFUSED + ctx("a"), DISABLED + ctx("a")])

    # nginx marks the peer failed first, then logs the timeout
    def test_disabled_warning_after_a_read_timeout_comes_before_the_error(self):
        def scenario(run):
            run.backends["a"].mode = "hang"
            run.get("/")
            return run.log_lines()
        ref = self.group("server @a@; server @b@;", "proxy_read_timeout 1s;", "ab", scenario)
        action = " while reading response header from upstream" + ctx("a")
        self.assertEqual(ref, ["[warn] upstream server temporarily disabled" + action,
                               "[error] upstream timed out (110: Connection timed out)" + action])


class NextUpstreamTest(UpstreamCase):

    def test_refused_server_is_retried_on_the_next_one_by_default(self):
        ref = self.group("server @a@; server @b@;", "", ["-a", "b"], seq(1))
        self.assertEqual(ref, [(200, "b", "a, b", "502, 200", b"b")])

    def status_case(self, listed, status):
        def scenario(run):
            run.backends["a"].mode = status
            run.backends["b"].mode = status
            return run.get("/").key()
        return self.group("server @a@; server @b@;", "proxy_next_upstream %s;" % listed, "ab",
                          scenario)

    def test_listed_http_statuses_move_on_and_the_last_answer_reaches_the_client(self):
        for status in (500, 502, 503, 504, 404, 429, 403):
            with self.subTest(status=status):
                ref = self.status_case("error http_%d" % status, status)
                self.assertEqual(ref, (status, "b", "a, b", "%d, %d" % (status, status), b"b"))

    def test_unlisted_http_statuses_reach_the_client(self):
        for status in (500, 502, 503, 504, 404, 429, 403):
            with self.subTest(status=status):
                ref = self.status_case("error timeout", status)
                self.assertEqual(ref, (status, "a", "a", str(status), b"a"))

    def test_listed_status_then_a_good_server(self):
        def scenario(run):
            run.backends["a"].mode = 503
            return [run.get("/").key() for _ in range(2)]
        ref = self.group("server @a@; server @b@;", "proxy_next_upstream error http_503;", "ab",
                         scenario)
        self.assertEqual(ref[0], (200, "b", "a, b", "503, 200", b"b"))

    def test_read_timeout_moves_on_by_default(self):
        def scenario(run):
            run.backends["a"].mode = "hang"
            return run.get("/").key(), run.log_lines(ERRORS)
        ref = self.group("server @a@; server @b@;", "proxy_read_timeout 1s;", "ab", scenario)
        self.assertEqual(ref, ((200, "b", "a, b", "504, 200", b"b"), [
            "[error] upstream timed out (110: Connection timed out) while reading response "
            "header from upstream" + ctx("a")]))

    def test_read_timeout_not_listed_is_504(self):
        def scenario(run):
            run.backends["a"].mode = "hang"
            return run.get("/").key()[:4]
        ref = self.group("server @a@; server @b@;",
                         "proxy_read_timeout 1s; proxy_next_upstream error;",
                         "ab", scenario)
        self.assertEqual(ref, (504, None, "a", "504"))

    def invalid_header_case(self, listed):
        def scenario(run):
            run.backends["a"].mode = INVALID_HEADER
            return run.get("/").key()[:4], run.log_lines(ERRORS)
        return self.group("server @a@; server @b@;", "proxy_next_upstream %s;" % listed, "ab",
                          scenario)

    def test_invalid_header_listed_moves_on(self):
        ref = self.invalid_header_case("error invalid_header")
        self.assertEqual(ref, ((200, "b", "a, b", "502, 200"), INVALID_HEADER_LOG))

    def test_invalid_header_not_listed_is_502_and_still_counts_as_a_failure(self):
        ref = self.invalid_header_case("error timeout")
        self.assertEqual(ref, ((502, None, "a", "502"), INVALID_HEADER_LOG))

    def test_off_answers_502_without_trying_the_next(self):
        ref = self.group("server @a@; server @b@;", "proxy_next_upstream off;", ["-a", "b"], seq(1))
        self.assertEqual(ref[0][:4], (502, None, "a", "502"))

    def test_tries_limits_the_attempts(self):
        ref = self.group("server @a@; server @b@; server @c@;", "proxy_next_upstream_tries 2;",
                         ["-a", "-b", "-c"], seq(1))
        self.assertEqual(ref[0][:4], (502, None, "a, b", "502, 502"))

    def test_without_tries_limit_every_server_is_tried(self):
        ref = self.group("server @a@; server @b@; server @c@;", "", ["-a", "-b", "-c"], seq(1))
        self.assertEqual(ref[0][:4], (502, None, "a, b, c", "502, 502, 502"))

    def test_next_upstream_timeout_stops_the_retries(self):
        # a times out at 1 s (within the 1.5 s budget: try b), b at 2 s (past it: stop)
        def scenario(run):
            for b in run.backends.values():
                b.mode = "hang"
            return run.get("/").key()[:4]
        ref = self.group("server @a@; server @b@; server @c@;",
                         "proxy_read_timeout 1s; proxy_next_upstream_timeout 1500ms;", "abc",
                         scenario)
        self.assertEqual(ref, (504, None, "a, b", "504, 504"))

    def test_post_is_not_retried_after_it_was_sent(self):
        def scenario(run):
            run.backends["a"].mode = "reset"
            r = run.get("/", "POST", b"data")
            return r.key()[:4], run.backends["b"].served
        ref = self.group("server @a@; server @b@;", "", "ab", scenario)
        self.assertEqual(ref, ((502, None, "a", "502"), 0))

    def test_post_is_retried_after_it_was_sent_with_non_idempotent(self):
        def scenario(run):
            run.backends["a"].mode = "reset"
            return run.get("/", "POST", b"data").key()
        ref = self.group("server @a@; server @b@;",
                         "proxy_next_upstream error timeout non_idempotent;",
                         "ab", scenario)
        self.assertEqual(ref, (200, "b", "a, b", "502, 200", b"b"))

    def test_post_is_retried_when_the_connection_was_refused(self):
        ref = self.group("server @a@; server @b@;", "", ["-a", "b"],
                         lambda run: run.get("/", "POST", b"data").key())
        self.assertEqual(ref, (200, "b", "a, b", "502, 200", b"b"))

    def test_get_is_retried_after_the_server_closed_without_answering(self):
        def scenario(run):
            run.backends["a"].mode = "close"
            return run.get("/").key()
        ref = self.group("server @a@; server @b@;", "", "ab", scenario)
        self.assertEqual(ref, (200, "b", "a, b", "502, 200", b"b"))

    def test_no_retry_once_response_bytes_reached_the_client(self):
        def scenario(run):
            run.backends["a"].mode = "partial"
            data = run.raw(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head, _, body = data.partition(b"\r\n\r\n")
            return (proxyd_test.status_of(data), body, run.backends["b"].served,
                    run.log_lines())
        ref = self.group("server @a@; server @b@;", "", "ab", scenario)
        self.assertEqual(ref, (200, b"partial", 0, [
            "[error] upstream prematurely closed connection while reading upstream"
            + ctx("a", host="x")]))

    def test_killed_server_under_load_costs_no_client_error(self):
        def scenario(run):
            errors, counts = [], {"a": 0, "b": 0}
            lock = threading.Lock()

            def client():
                c = http.client.HTTPConnection("127.0.0.1", run.port, timeout=20)
                for _ in range(250):
                    try:
                        c.request("GET", "/")
                        r = c.getresponse()
                        body = r.read()
                        with lock:
                            if r.status != 200:
                                errors.append((r.status, body))
                            else:
                                counts[body.decode()] += 1
                    except (OSError, http.client.HTTPException) as e:
                        errors.append(repr(e))
                        c.close()
                        c = http.client.HTTPConnection("127.0.0.1", run.port, timeout=20)
                c.close()
            threads = [threading.Thread(target=client) for _ in range(8)]
            for t in threads:
                t.start()
            deadline = time.time() + 20
            while run.backends["a"].served < 300 and time.time() < deadline:
                time.sleep(0.01)
            run.backends["a"].stop()
            for t in threads:
                t.join(60)
            return errors, sum(counts.values()), counts["b"] > 1000
        ref = self.group("server @a@; server @b@;", "", "ab", scenario)
        self.assertEqual(ref, ([], 2000, True))


if __name__ == "__main__":
    proxyd_test.main()
