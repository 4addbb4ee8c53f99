"""proxyd's command line, end to end: -t/-T/-q, -v/-V/-h, bad options, -s against a running
master, -p/-c/-e path resolution. Messages are nginx's, with "proxyd: " for "nginx: "."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

BIN = proxyd_test.PROXYD_BIN


def run(args, cwd=None):
    p = subprocess.run([os.path.abspath(BIN)] + list(args), capture_output=True, text=True,
                       timeout=30, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def wait_for(cond, timeout=10.0):
    """Polls cond() until it is true or the deadline passes; returns its last value."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class TempDirTest(proxyd_test.TempDirCase):
    PREFIX = "proxyd-e2e-cli-"

    def files(self):
        out = []
        for root, _, names in os.walk(self.dir):
            out += [os.path.relpath(os.path.join(root, n), self.dir) for n in names]
        return sorted(out)


class TestConfigTest(TempDirTest):
    """-t, -T, -q."""

    GOOD = "pid proxyd.pid;\nevents {\n}\nhttp {\n  server {\n    listen 127.0.0.1:%d;\n  }\n}\n"

    def test_t_on_good_config_says_syntax_ok_and_successful_and_exits_0(self):
        conf = self.write("proxyd.conf", self.GOOD % proxyd_test.free_port())
        rc, out, err = run(["-t", "-p", self.dir, "-c", conf])
        self.assertEqual(err, "proxyd: the configuration file %s syntax is ok\n"
                              "proxyd: configuration file %s test is successful\n" % (conf, conf))
        self.assertEqual(out, "")
        self.assertEqual(rc, 0)

    def test_q_suppresses_the_success_messages(self):
        conf = self.write("proxyd.conf", self.GOOD % proxyd_test.free_port())
        self.assertEqual(run(["-t", "-q", "-p", self.dir, "-c", conf]), (0, "", ""))

    def test_grouped_tq_is_the_same_as_t_q(self):
        conf = self.write("proxyd.conf", self.GOOD % proxyd_test.free_port())
        self.assertEqual(run(["-tq", "-p", self.dir, "-c", conf]), (0, "", ""))

    def test_q_keeps_the_emerg_line_and_the_failure_line(self):
        conf = self.write("proxyd.conf", "events {\n}\nnope;\n")
        rc, out, err = run(["-t", "-q", "-p", self.dir, "-c", conf])
        self.assertEqual(err, 'proxyd: [emerg] unknown directive "nope" in %s:3\n'
                              "proxyd: configuration file %s test failed\n" % (conf, conf))
        self.assertEqual(rc, 1)

    def test_warnings_are_printed_before_syntax_ok(self):
        port = proxyd_test.free_port()
        conf = self.write("proxyd.conf",
                          "events {\n}\nhttp {\n  server {\n    listen 127.0.0.1:%d;\n"
                          "    server_name a;\n  }\n  server {\n    listen 127.0.0.1:%d;\n"
                          "    server_name a;\n  }\n}\n" % (port, port))
        rc, out, err = run(["-t", "-p", self.dir, "-c", conf])
        self.assertEqual(err.splitlines(), [
            'proxyd: [warn] conflicting server name "a" on 127.0.0.1:%d, ignored' % port,
            "proxyd: the configuration file %s syntax is ok" % conf,
            "proxyd: configuration file %s test is successful" % conf])
        self.assertEqual(rc, 0)

    def test_T_dumps_every_file_read_with_includes_once_each_in_read_order(self):
        main_text = ("pid proxyd.pid;\nevents {\n  include common.conf;\n}\n"
                     "include common.conf;\nhttp {\n  include conf.d/*.conf;\n}")  # no final newline
        conf = self.write("proxyd.conf", main_text)
        self.write("common.conf", "# shared comment\n")
        b_text = "server {\n  listen 127.0.0.1:%d;\n}\n" % proxyd_test.free_port()
        self.write("conf.d/b.conf", b_text)
        self.write("conf.d/a.conf", "keepalive_timeout 5;\n")
        rc, out, err = run(["-T", "-p", self.dir, "-c", conf])
        d = self.dir
        # nginx writes each file as read, then one newline, whether or not the file ended in one.
        self.assertEqual(out,
                         "# configuration file %s:\n%s\n" % (conf, main_text)
                         + "# configuration file %s/common.conf:\n# shared comment\n\n" % d
                         + "# configuration file %s/conf.d/a.conf:\nkeepalive_timeout 5;\n\n" % d
                         + "# configuration file %s/conf.d/b.conf:\n%s\n" % (d, b_text))
        self.assertEqual(err, "proxyd: the configuration file %s syntax is ok\n"
                              "proxyd: configuration file %s test is successful\n" % (conf, conf))
        self.assertEqual(rc, 0)

    def test_T_with_q_still_dumps(self):
        conf = self.write("proxyd.conf", "events {\n}\n")
        rc, out, err = run(["-T", "-q", "-p", self.dir, "-c", conf])
        self.assertEqual((rc, out, err), (0, "# configuration file %s:\nevents {\n}\n\n" % conf, ""))

    def test_T_on_bad_config_dumps_nothing_and_exits_1(self):
        conf = self.write("proxyd.conf", "events {\n}\nhttp {\n  listen 80;\n}\n")
        rc, out, err = run(["-T", "-p", self.dir, "-c", conf])
        self.assertEqual(out, "")
        self.assertEqual(err, 'proxyd: [emerg] "listen" directive is not allowed here in %s:4\n'
                              "proxyd: configuration file %s test failed\n" % (conf, conf))
        self.assertEqual(rc, 1)

    def test_t_on_missing_config_file(self):
        conf = os.path.join(self.dir, "absent.conf")
        rc, out, err = run(["-t", "-p", self.dir, "-c", conf])
        self.assertEqual(err, 'proxyd: [emerg] open() "%s" failed (2: No such file or directory)\n'
                              "proxyd: configuration file %s test failed\n" % (conf, conf))
        self.assertEqual(rc, 1)

    def test_t_creates_no_pid_error_log_or_access_log_file(self):
        conf = self.write("proxyd.conf",
                          "pid run/proxyd.pid;\nerror_log logs/error.log info;\nevents {\n}\n"
                          "http {\n  access_log logs/access.log;\n  error_log logs/http_error.log;\n"
                          "  server {\n    listen 127.0.0.1:%d;\n    access_log srv_access.log;\n"
                          "    location / {\n      access_log loc_access.log;\n"
                          "      error_log loc_error.log;\n    }\n  }\n}\n" % proxyd_test.free_port())
        rc, out, err = run(["-t", "-p", self.dir + "/", "-c", conf])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.files(), ["proxyd.conf"])

    def test_t_with_e_does_not_create_the_e_file(self):
        conf = self.write("proxyd.conf", "events {\n}\n")
        rc, out, err = run(["-t", "-p", self.dir + "/", "-c", conf, "-e", "cli_error.log"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.files(), ["proxyd.conf"])

    def test_t_passes_while_the_listen_port_is_in_use_and_leaves_it_alone(self):
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(8)
        port = holder.getsockname()[1]
        conf = self.write("proxyd.conf", self.GOOD % port)
        rc, out, err = run(["-t", "-p", self.dir, "-c", conf])
        self.assertEqual(rc, 0, err)
        # The holder still owns the port: a client reaches it.
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn, _ = holder.accept()
        conn.close()
        c.close()


class TestOptions(TempDirTest):
    """-v, -V, -h and bad options: nginx's messages and exit codes."""

    def test_v_prints_version_on_stderr_and_exits_0(self):
        rc, out, err = run(["-v"])
        self.assertEqual((rc, out), (0, ""))
        self.assertRegex(err, r"\Aproxyd version: proxyd/\d+\.\d+\.\d+\n\Z")

    def test_V_prints_version_then_build_details(self):
        rc, out, err = run(["-V"])
        self.assertEqual((rc, out), (0, ""))
        lines = err.splitlines()
        self.assertRegex(lines[0], r"\Aproxyd version: proxyd/\d+\.\d+\.\d+\Z")
        self.assertTrue(any(line.startswith("configure arguments:") for line in lines[1:]), err)

    def test_h_prints_version_then_usage_on_stderr_and_exits_0(self):
        rc, out, err = run(["-h"])
        self.assertEqual((rc, out), (0, ""))
        lines = err.splitlines()
        self.assertRegex(lines[0], r"\Aproxyd version: proxyd/\d+\.\d+\.\d+\Z")
        self.assertEqual(lines[1], "Usage: proxyd [-?hvVtTq] [-s signal] [-p prefix]")
        for flag in ("-?,-h", "-v ", "-V ", "-t ", "-T ", "-q ", "-s signal", "-p prefix",
                     "-e filename", "-c filename", "-g directives"):
            self.assertIn("  " + flag, err)

    def test_question_mark_is_help(self):
        self.assertEqual(run(["-?"]), run(["-h"]))

    def test_v_with_h_is_the_same_as_h(self):
        self.assertEqual(run(["-vh"]), run(["-h"]))

    def test_V_with_h_prints_version_usage_then_build_details(self):
        rc, out, err = run(["-hV"])
        self.assertEqual((rc, out), (0, ""))
        usage = run(["-h"])[2]
        self.assertTrue(err.startswith(usage), err)
        self.assertTrue(err[len(usage):].endswith(run(["-V"])[2].split("\n", 1)[1]), err)

    def test_unknown_option_letter(self):
        self.assertEqual(run(["-x"]), (1, "", 'proxyd: invalid option: "x"\n'))

    def test_unknown_letter_grouped_after_a_good_one(self):
        self.assertEqual(run(["-tx"]), (1, "", 'proxyd: invalid option: "x"\n'))

    def test_unknown_option_wins_over_help(self):
        self.assertEqual(run(["-h", "-x"]), (1, "", 'proxyd: invalid option: "x"\n'))

    def test_argument_without_dash(self):
        self.assertEqual(run(["foo"]), (1, "", 'proxyd: invalid option: "foo"\n'))

    def test_double_dash(self):
        self.assertEqual(run(["--"]), (1, "", 'proxyd: invalid option: "-"\n'))

    def test_options_missing_their_value(self):
        for flag, what in (("-c", "file name"), ("-e", "file name"), ("-p", "directory name"),
                           ("-g", "parameter"), ("-s", "parameter")):
            with self.subTest(flag=flag):
                self.assertEqual(run(["-t", flag]),
                                 (1, "", 'proxyd: option "%s" requires %s\n' % (flag, what)))

    def test_s_with_unknown_signal_name(self):
        self.assertEqual(run(["-s", "restart"]), (1, "", 'proxyd: invalid option: "-s restart"\n'))

    def test_s_value_attached_to_the_flag(self):
        self.assertEqual(run(["-sbogus"]), (1, "", 'proxyd: invalid option: "-s bogus"\n'))

    def test_c_value_attached_to_the_flag(self):
        conf = self.write("proxyd.conf", "events {\n}\n")
        rc, out, err = run(["-t", "-q", "-c" + conf, "-p" + self.dir])
        self.assertEqual((rc, err), (0, ""))


class TestPaths(TempDirTest):
    """-p and -c resolve like nginx: a relative -c, -e, pid, error_log, access_log are under the
    prefix; a relative include is under the directory of the main configuration file."""

    def test_relative_c_is_under_the_prefix_not_the_cwd(self):
        self.write("p/my.conf", "events {\n}\n")
        self.write("my.conf", "garbage\n")  # in the cwd: must not be read
        rc, out, err = run(["-t", "-p", os.path.join(self.dir, "p"), "-c", "my.conf"], cwd=self.dir)
        conf = os.path.join(self.dir, "p", "my.conf")
        self.assertEqual(err, "proxyd: the configuration file %s syntax is ok\n"
                              "proxyd: configuration file %s test is successful\n" % (conf, conf))
        self.assertEqual(rc, 0)

    def test_relative_prefix_stays_relative_in_messages(self):
        self.write("p/my.conf", "events {\n}\nbad;\n")
        rc, out, err = run(["-t", "-p", "p", "-c", "my.conf"], cwd=self.dir)
        self.assertEqual(err, 'proxyd: [emerg] unknown directive "bad" in p/my.conf:3\n'
                              "proxyd: configuration file p/my.conf test failed\n")
        self.assertEqual(rc, 1)

    def test_relative_include_is_under_the_config_directory_not_the_prefix(self):
        conf = self.write("etc/main.conf", "events {\n}\ninclude sub/extra.conf;\n")
        self.write("etc/sub/extra.conf", "worker_processes 1;\nwrong_here;\n")
        self.write("prefix/sub/extra.conf", "worker_processes 1;\n")
        rc, out, err = run(["-t", "-p", os.path.join(self.dir, "prefix"), "-c", conf])
        self.assertEqual(err, 'proxyd: [emerg] unknown directive "wrong_here" in %s/etc/sub/extra.conf:2\n'
                              "proxyd: configuration file %s test failed\n" % (self.dir, conf))
        self.assertEqual(rc, 1)

    def test_running_master_puts_relative_pid_and_logs_under_the_prefix(self):
        port = proxyd_test.free_port()
        conf = self.write("etc/main.conf",
                          "pid run.pid;\nerror_log err.log info;\nevents {\n}\n"
                          "http {\n  include sites/*.conf;\n}\n")
        self.write("etc/sites/one.conf",
                   "server {\n  listen 127.0.0.1:%d;\n  access_log acc.log;\n  return 200 one;\n}\n"
                   % port)
        os.mkdir(os.path.join(self.dir, "prefix"))
        prefix = os.path.join(self.dir, "prefix")
        proc = self.start([os.path.abspath(BIN), "-p", prefix, "-c", conf, "-g", "daemon off;"])
        self.assertTrue(proxyd_test.wait_port(port), proc.stderr.read() if proc.poll() is not None else "")
        resp = proxyd_test.raw_request(port, b"GET / HTTP/1.0\r\n\r\n")
        self.assertTrue(resp.endswith(b"\r\n\r\none"), resp)
        self.assertTrue(wait_for(lambda: os.path.exists(os.path.join(prefix, "run.pid"))))
        with open(os.path.join(prefix, "run.pid")) as f:
            self.assertEqual(f.read().strip(), str(proc.pid))
        self.assertTrue(os.path.exists(os.path.join(prefix, "err.log")))
        self.assertTrue(wait_for(lambda: os.path.exists(os.path.join(prefix, "acc.log"))))

    def test_relative_e_is_under_the_prefix(self):
        port = proxyd_test.free_port()
        prefix = os.path.join(self.dir, "prefix")
        conf = self.write("prefix/proxyd.conf",
                          "pid run.pid;\nevents {\n}\nhttp {\n  server {\n    listen 127.0.0.1:%d;\n"
                          "  }\n}\n" % port)
        proc = self.start([os.path.abspath(BIN), "-p", prefix, "-c", "proxyd.conf", "-e", "cli.log",
                           "-g", "daemon off;"], cwd=self.dir)
        self.assertTrue(proxyd_test.wait_port(port))
        self.assertTrue(os.path.exists(os.path.join(prefix, "cli.log")))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "cli.log")))
        self.assertEqual(proc.poll(), None)

    def test_g_pid_is_used_by_the_running_master(self):
        port = proxyd_test.free_port()
        conf = self.write("proxyd.conf",
                          "events {\n}\nhttp {\n  server {\n    listen 127.0.0.1:%d;\n  }\n}\n" % port)
        proc = self.start([os.path.abspath(BIN), "-p", self.dir, "-c", conf,
                           "-g", "daemon off; pid from_g.pid; error_log stderr;"])
        self.assertTrue(proxyd_test.wait_port(port))
        pid_file = os.path.join(self.dir, "from_g.pid")
        # the file exists a moment before the number is in it
        def content():
            try:
                with open(pid_file) as f:
                    return f.read().strip()
            except OSError:
                return ""
        self.assertTrue(wait_for(lambda: content() != ""))
        self.assertEqual(content(), str(proc.pid))

    def start(self, argv, cwd=None):
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            proc.stderr.close()
        self.addCleanup(stop)
        return proc


class TestSignals(unittest.TestCase):
    """-s against a master found through the pid file of the same configuration."""

    def setUp(self):
        self.port = proxyd_test.free_port()
        self.px = proxyd_test.Proxyd(self.server_conf("first"))
        self.addCleanup(self.px.cleanup)

    def server_conf(self, body):
        return ("http {\n  access_log access.log;\n  server {\n    listen 127.0.0.1:%d;\n"
                "    return 200 %s;\n  }\n}\n" % (self.port, body))

    def signal_cmd(self, name):
        return run(["-p", self.px.dir + "/", "-c", self.px.conf_path, "-s", name])

    def body(self):
        resp = proxyd_test.raw_request(self.port, b"GET / HTTP/1.0\r\n\r\n")
        return resp.partition(b"\r\n\r\n")[2]

    def start(self):
        self.px.start(wait_for=self.port)
        self.assertTrue(wait_for(lambda: os.path.exists(self.px.pid_path)))

    def test_s_reload_makes_the_running_master_serve_the_new_config(self):
        self.start()
        self.assertEqual(self.body(), b"first")
        self.px.write_conf(self.server_conf("second"))
        self.assertEqual(self.signal_cmd("reload"), (0, "", ""))
        self.assertEqual(wait_for(lambda: self.body() == b"second"), True)
        self.assertIsNone(self.px.proc.poll())

    def test_s_reopen_makes_the_master_reopen_its_logs(self):
        self.start()
        self.body()
        log = self.px.path("access.log")
        self.assertTrue(wait_for(lambda: os.path.exists(log)))
        os.rename(log, log + ".1")
        self.assertEqual(self.signal_cmd("reopen"), (0, "", ""))
        self.assertTrue(wait_for(lambda: os.path.exists(log)), "access.log was not reopened")
        self.assertIsNone(self.px.proc.poll())

    def test_s_quit_stops_the_master(self):
        self.start()
        self.assertEqual(self.signal_cmd("quit"), (0, "", ""))
        self.assertEqual(self.px.proc.wait(20), 0)
        self.assertFalse(proxyd_test.wait_port(self.port, timeout=0.5))

    def test_s_stop_stops_the_master(self):
        self.start()
        self.assertEqual(self.signal_cmd("stop"), (0, "", ""))
        self.assertEqual(self.px.proc.wait(20), 0)

    def test_s_with_missing_pid_file_reports_open_error(self):
        rc, out, err = self.signal_cmd("reload")
        self.assertEqual(err, 'proxyd: [error] open() "%s" failed (2: No such file or directory)\n'
                         % self.px.pid_path)
        self.assertEqual(rc, 1)

    def test_s_with_garbage_in_pid_file(self):
        with open(self.px.pid_path, "w") as f:
            f.write("garbage\n")
        rc, out, err = self.signal_cmd("stop")
        self.assertEqual(err, 'proxyd: [error] invalid PID number "garbage" in "%s"\n'
                         % self.px.pid_path)
        self.assertEqual(rc, 1)

    def test_s_with_empty_pid_file(self):
        open(self.px.pid_path, "w").close()
        rc, out, err = self.signal_cmd("stop")
        self.assertEqual(err, 'proxyd: [error] invalid PID number "" in "%s"\n' % self.px.pid_path)
        self.assertEqual(rc, 1)

    def test_s_with_pid_of_a_process_that_is_gone_reports_kill_failure(self):
        gone = subprocess.Popen(["true"])
        gone.wait()  # reaped: its pid names no process now
        with open(self.px.pid_path, "w") as f:
            f.write("%d\n" % gone.pid)
        rc, out, err = self.signal_cmd("stop")
        self.assertEqual(err, "proxyd: [alert] kill(%d, 15) failed (3: No such process)\n" % gone.pid)
        self.assertEqual(rc, 1)

    def test_s_on_bad_config_reports_the_config_error(self):
        with open(self.px.conf_path, "a") as f:
            f.write("oops;\n")
        with open(self.px.conf_path) as f:
            lineno = f.read().count("\n")
        rc, out, err = self.signal_cmd("reload")
        self.assertEqual(err, 'proxyd: [emerg] unknown directive "oops" in %s:%d\n'
                         % (self.px.conf_path, lineno))
        self.assertEqual(rc, 1)

    def test_s_does_not_create_log_files(self):
        open(self.px.pid_path, "w").close()
        self.signal_cmd("stop")
        self.assertEqual(sorted(os.listdir(self.px.dir)), ["proxyd.conf", "proxyd.pid"])


if __name__ == "__main__":
    proxyd_test.main()
