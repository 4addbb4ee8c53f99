"""events { multi_accept }: with it on, a woken worker accepts until the queue is empty (its
last accept4() answers EAGAIN); off, it takes one connection per wake-up and never sees
EAGAIN. The only place the difference shows is the worker's system calls, read with strace."""
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


@unittest.skipIf(shutil.which("strace") is None, "strace is not installed")
class MultiAcceptTest(unittest.TestCase):
    def accept_calls(self, setting):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd("http { access_log off; server { listen 127.0.0.1:%d; return 200 x; } }"
                                 % port)
        srv.write_conf("pid %s;\nerror_log %s info;\nevents { multi_accept %s; }\n"
                       "http { access_log off; server { listen 127.0.0.1:%d; return 200 x; } }\n"
                       % (srv.pid_path, srv.error_log, setting, port), raw=True)
        self.addCleanup(srv.cleanup)
        srv.start(wait_for=port)
        worker = srv.worker_pids()[0]
        trace = srv.path("trace")
        tracer = subprocess.Popen(["strace", "-e", "trace=accept4", "-o", trace, "-p", str(worker)],
                                  stderr=subprocess.DEVNULL)
        self.addCleanup(tracer.kill)
        # strace reports attaching on stderr; wait for it (bounded) before connecting
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(trace):
            time.sleep(0.02)
        time.sleep(0.2)
        conns = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(30)]
        for c in conns:
            c.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        for c in conns:
            self.assertTrue(c.recv(100).startswith(b"HTTP/1.1 200"))
            c.close()
        # The worker may still be in its accept loop after the last answer went out: read the
        # trace until it shows every accept (and, with multi_accept on, the loop's closing
        # EAGAIN), bounded in time.
        deadline = time.time() + 10
        while True:
            with open(trace) as f:
                lines = [line for line in f if "accept4(" in line and "= " in line]
            accepted = sum(1 for line in lines if "EAGAIN" not in line)
            again = sum(1 for line in lines if "EAGAIN" in line)
            if (accepted >= 30 and (again or setting == "off")) or time.time() > deadline:
                break
            time.sleep(0.05)
        tracer.terminate()
        tracer.wait(10)
        if not lines:
            self.skipTest("strace could not trace the worker here")
        return accepted, again

    def test_multi_accept_on_drains_the_queue_on_each_wakeup(self):
        accepted, again = self.accept_calls("on")
        self.assertEqual(accepted, 30)
        self.assertGreaterEqual(again, 1)

    def test_multi_accept_off_takes_one_connection_per_wakeup(self):
        accepted, again = self.accept_calls("off")
        self.assertEqual(accepted, 30)
        self.assertEqual(again, 0)


if __name__ == "__main__":
    proxyd_test.main()
