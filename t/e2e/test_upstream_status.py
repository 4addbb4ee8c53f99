"""upstream_status: the JSON page of upstream{} groups, with the state all workers share."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

CONF = """
http {
    upstream app {
        server 127.0.0.1:%(live)d weight=2;
        server 127.0.0.1:%(dead)d max_fails=1 fail_timeout=30s;
        server 127.0.0.1:%(spare)d backup;
        server 127.0.0.1:%(off)d down;
    }
    upstream "other" { least_conn; server 127.0.0.1:%(live)d; }
    server {
        listen 127.0.0.1:%(port)d;
        location / { proxy_pass http://app; }
        location = /status { upstream_status; }
    }
}
"""


def get(port, path, method="GET"):
    data = ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % (method, path)).encode()
    out = proxyd_test.raw_request(port, data)
    head, _, body = out.partition(b"\r\n\r\n")
    return proxyd_test.status_of(out), head.decode("latin-1"), body


class UpstreamStatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.backend = proxyd_test.RecordingBackend()
        ports = {"live": cls.backend.port, "dead": proxyd_test.free_port(),
                 "spare": proxyd_test.free_port(), "off": proxyd_test.free_port(),
                 "port": proxyd_test.free_port()}
        cls.ports = ports
        cls.proxyd = proxyd_test.Proxyd(CONF % ports, workers=2)
        try:
            cls.proxyd.start(wait_for=ports["port"])
        except Exception:
            cls.backend.close()
            cls.proxyd.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.proxyd.cleanup()
        cls.backend.close()

    def status(self):
        code, head, body = get(self.ports["port"], "/status")
        self.assertEqual(code, 200)
        self.assertIn("Content-Type: application/json", head)
        return json.loads(body)

    def peers(self, doc, group="app"):
        return {p["name"]: p for p in doc["upstreams"][group]["peers"]}

    def test_groups_and_peers_are_listed_as_configured(self):
        doc = self.status()
        self.assertEqual(set(doc["upstreams"]), {"app", "other"})
        self.assertEqual(doc["upstreams"]["app"]["method"], "round_robin")
        self.assertEqual(doc["upstreams"]["other"]["method"], "least_conn")
        peers = self.peers(doc)
        live = peers["127.0.0.1:%d" % self.ports["live"]]
        self.assertEqual((live["weight"], live["backup"], live["max_fails"]), (2, False, 1))
        self.assertTrue(peers["127.0.0.1:%d" % self.ports["spare"]]["backup"])
        self.assertEqual(peers["127.0.0.1:%d" % self.ports["off"]]["state"], "down")
        self.assertEqual(peers["127.0.0.1:%d" % self.ports["dead"]]["fail_timeout_ms"], 30000)

    def test_counts_are_shared_by_the_workers_and_failures_mark_a_peer(self):
        before = self.peers(self.status())
        n = 12
        for _ in range(n):
            # one connection per request: the two workers both take some
            code, _, _ = get(self.ports["port"], "/")
            self.assertEqual(code, 200)
        after = self.peers(self.status())
        live = "127.0.0.1:%d" % self.ports["live"]
        dead = "127.0.0.1:%d" % self.ports["dead"]
        served = after[live]["requests"] - before[live]["requests"]
        tried_dead = after[dead]["requests"] - before[dead]["requests"]
        # every request reached the live peer; the dead one was tried at most once per
        # worker before max_fails=1 took it out for 30 s
        self.assertEqual(served, n)
        self.assertLessEqual(tried_dead, 2)
        self.assertEqual(after[dead]["failures"], after[dead]["requests"])
        if after[dead]["requests"]:
            self.assertEqual(after[dead]["state"], "unavailable")
        self.assertEqual(after[live]["active"], 0)
        self.assertEqual(after[live]["state"], "up")

    def test_other_methods_are_refused(self):
        code, _, _ = get(self.ports["port"], "/status", method="POST")
        self.assertEqual(code, 405)
        code, head, body = get(self.ports["port"], "/status", method="HEAD")
        self.assertEqual(code, 200)
        self.assertEqual(body, b"")


class UpstreamStatusConfigTest(proxyd_test.TempDirCase):
    def check(self, conf):
        p = proxyd_test.Proxyd(conf)
        try:
            return p.test_config()
        finally:
            p.cleanup()

    def test_arguments_are_refused(self):
        rc, err = self.check("http { server { location /s { upstream_status on; } } }\n")
        self.assertEqual(rc, 1)
        self.assertIn('[emerg] invalid number of arguments in "upstream_status" directive', err)

    def test_only_in_a_location(self):
        rc, err = self.check("http { server { upstream_status; } }\n")
        self.assertEqual(rc, 1)
        self.assertIn('[emerg] "upstream_status" directive is not allowed here', err)

    def test_not_together_with_proxy_pass(self):
        rc, err = self.check("http { server { location /s { proxy_pass http://127.0.0.1:1; "
                             "upstream_status; } } }\n")
        self.assertEqual(rc, 1)
        self.assertIn('[emerg] "upstream_status" directive is duplicate', err)


if __name__ == "__main__":
    proxyd_test.main()
