"""Configuration checking end to end: `proxyd -t` on bad configurations prints nginx's exact
[emerg] line, with the file and line nginx names, then "test failed", and exits 1.

Each case also runs Debian's nginx on the same files (when installed) and checks it says the
same thing, so the expected lines here are nginx's, not proxyd's own idea of them."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402

HEAD = "pid proxyd.pid;\nevents {\n}\n"  # three lines: line numbers below count from here


def nginx_available():
    return os.access(proxyd_test.NGINX_BIN, os.X_OK)


class ConfigErrorsTest(proxyd_test.TempDirCase):
    PREFIX = "proxyd-e2e-conf-"

    def setUp(self):
        super().setUp()
        self.conf = os.path.join(self.dir, "proxyd.conf")

    def run_t(self, binary, extra=()):
        p = subprocess.run([binary, "-t", "-p", self.dir + "/", "-c", self.conf] + list(extra),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr

    def nginx_lines(self, extra):
        """nginx's stderr with "-e stderr", turned into proxyd's form: "<ts> [emerg] N#N: msg"
        becomes "proxyd: [emerg] msg" and "nginx: " becomes "proxyd: "."""
        rc, err = self.run_t(proxyd_test.NGINX_BIN, ["-e", "stderr"] + list(extra))
        out = []
        for line in err.splitlines():
            line = line.replace(self.dir, "DIR")
            m = re.match(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (.*)$", line)
            if m:
                out.append("proxyd: [%s] %s" % (m.group(1), m.group(2)))
            elif line.startswith("nginx: "):
                out.append("proxyd: " + line[len("nginx: "):])
            else:
                out.append(line)
        return rc, out

    def assert_fails(self, conf, emerg, extra=(), nginx=True):
        """conf: the text after HEAD ({port} is a free port). emerg: the expected message with
        DIR for the temp dir; the whole stderr must be that one [emerg] line and "test failed"."""
        self.write("proxyd.conf", HEAD + conf.replace("{port}", str(proxyd_test.free_port())))
        rc, err = self.run_t(proxyd_test.PROXYD_BIN, extra)
        expected = ["proxyd: [emerg] " + emerg,
                    "proxyd: configuration file DIR/proxyd.conf test failed"]
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(), expected)
        self.assertEqual(rc, 1)
        if nginx and nginx_available():
            self.assertEqual(self.nginx_lines(extra), (1, expected), "nginx disagrees")

    def assert_ok(self, conf, extra=()):
        self.write("proxyd.conf", HEAD + conf.replace("{port}", str(proxyd_test.free_port())))
        rc, err = self.run_t(proxyd_test.PROXYD_BIN, extra)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(),
                         ["proxyd: the configuration file DIR/proxyd.conf syntax is ok",
                          "proxyd: configuration file DIR/proxyd.conf test is successful"])
        self.assertEqual(rc, 0)

    # ---- grammar ----

    def test_unknown_directive_names_file_and_line(self):
        self.assert_fails("worker_processes 1;\nfoo bar;\n",
                          'unknown directive "foo" in DIR/proxyd.conf:5')

    def test_unknown_directive_inside_location(self):
        self.assert_fails("http {\n  server {\n    location / {\n      proxy_passs x;\n    }\n  }\n}\n",
                          'unknown directive "proxy_passs" in DIR/proxyd.conf:7')

    def test_listen_in_http_is_not_allowed_here(self):
        self.assert_fails("http {\n  listen 80;\n}\n",
                          '"listen" directive is not allowed here in DIR/proxyd.conf:5')

    def test_server_in_server_is_not_allowed_here(self):
        self.assert_fails("http {\n  server {\n    server {\n    }\n  }\n}\n",
                          '"server" directive is not allowed here in DIR/proxyd.conf:6')

    def test_location_in_http_is_not_allowed_here(self):
        self.assert_fails("http {\n  location / {\n  }\n}\n",
                          '"location" directive is not allowed here in DIR/proxyd.conf:5')

    def test_worker_processes_in_http_is_not_allowed_here(self):
        self.assert_fails("http {\n  worker_processes 2;\n}\n",
                          '"worker_processes" directive is not allowed here in DIR/proxyd.conf:5')

    def test_too_many_arguments_is_invalid_number_of_arguments(self):
        self.assert_fails("worker_processes 1 2;\n",
                          'invalid number of arguments in "worker_processes" directive'
                          ' in DIR/proxyd.conf:4')

    def test_listen_without_arguments_is_invalid_number_of_arguments(self):
        self.assert_fails("http {\n  server {\n    listen;\n  }\n}\n",
                          'invalid number of arguments in "listen" directive in DIR/proxyd.conf:6')

    def test_flag_directive_with_two_arguments_is_invalid_number_of_arguments(self):
        self.assert_fails("daemon on off;\n",
                          'invalid number of arguments in "daemon" directive in DIR/proxyd.conf:4')

    def test_stray_closing_brace_is_unexpected(self):
        self.assert_fails("http {\n}\n}\n", 'unexpected "}" in DIR/proxyd.conf:6')

    def test_block_directive_without_semicolon_before_brace_is_unexpected_brace(self):
        self.assert_fails("http {\n  server {\n    location /\n  }\n}\n",
                          'unexpected "}" in DIR/proxyd.conf:7')

    def test_unclosed_block_is_unexpected_end_of_file(self):
        self.assert_fails("http {\n  server {\n", 'unexpected end of file, expecting "}" in DIR/proxyd.conf:6')

    def test_unclosed_nested_block_is_unexpected_end_of_file(self):
        # Regression: with two blocks open the syntax error used to be swallowed ("test failed" alone).
        self.assert_fails("http {\n  server {\n    location / {\n      location /a {\n",
                          'unexpected end of file, expecting "}" in DIR/proxyd.conf:8')

    def test_unclosed_http_reports_end_of_file_not_what_http_checks_at_its_end(self):
        # nginx stops at the syntax error, before resolving variables at the end of http{}.
        self.assert_fails("http {\n  server {\n    return 200 $nosuchvar;\n  }\n",
                          'unexpected end of file, expecting "}" in DIR/proxyd.conf:8')

    def test_error_before_the_syntax_error_wins(self):
        self.assert_fails("http {\n  foo;\n  server {\n",
                          'unknown directive "foo" in DIR/proxyd.conf:5')

    def test_missing_semicolon_at_end_of_file(self):
        self.assert_fails("worker_processes 1",
                          'unexpected end of file, expecting ";" or "}" in DIR/proxyd.conf:4')

    def test_block_directive_without_block_has_no_opening_brace(self):
        self.assert_fails("http {\n  server;\n}\n",
                          'directive "server" has no opening "{" in DIR/proxyd.conf:5')

    def test_simple_directive_with_block_is_not_terminated_by_semicolon(self):
        self.assert_fails("worker_processes 1 {\n}\n",
                          'directive "worker_processes" is not terminated by ";" in DIR/proxyd.conf:4')

    def test_missing_events_section_is_reported_after_syntax_ok(self):
        # nginx checks for events{} after parsing, so "syntax is ok" comes first.
        self.write("proxyd.conf", "pid proxyd.pid;\nworker_processes 1;\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(),
                         ["proxyd: the configuration file DIR/proxyd.conf syntax is ok",
                          'proxyd: [emerg] no "events" section in configuration',
                          "proxyd: configuration file DIR/proxyd.conf test failed"])

    def test_missing_events_section_fails_without_file_and_line(self):
        self.write("proxyd.conf", "pid proxyd.pid;\nworker_processes 1;\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertIn('proxyd: [emerg] no "events" section in configuration\n', err)
        self.assertTrue(err.endswith("proxyd: configuration file %s test failed\n" % self.conf))
        self.assertEqual(rc, 1)

    # ---- duplicates ----

    def test_worker_processes_twice_is_duplicate(self):
        self.assert_fails("worker_processes 1;\nworker_processes 2;\n",
                          '"worker_processes" directive is duplicate in DIR/proxyd.conf:5')

    def test_events_twice_is_duplicate(self):
        self.assert_fails("events {\n}\n", '"events" directive is duplicate in DIR/proxyd.conf:4')

    def test_http_twice_is_duplicate(self):
        self.assert_fails("http {\n}\nhttp {\n}\n", '"http" directive is duplicate in DIR/proxyd.conf:6')

    def test_keepalive_timeout_twice_in_one_location_is_duplicate(self):
        self.assert_fails("http {\n  keepalive_timeout 5;\n  keepalive_timeout 6;\n}\n",
                          '"keepalive_timeout" directive is duplicate in DIR/proxyd.conf:6')

    # ---- -g ----

    def test_g_directive_repeated_in_file_is_duplicate_at_the_file_line(self):
        # -g is applied first, so nginx blames the file's copy, with its line.
        self.assert_fails("daemon off;\n", '"daemon" directive is duplicate in DIR/proxyd.conf:4',
                          extra=["-g", "daemon off;"])

    def test_g_directive_twice_in_g_is_duplicate_in_command_line(self):
        self.assert_fails("", '"daemon" directive is duplicate in command line',
                          extra=["-g", "daemon off; daemon on;"])

    def test_g_unknown_directive_is_reported_in_command_line(self):
        self.assert_fails("", 'unknown directive "bogus" in command line', extra=["-g", "bogus;"])

    def test_g_without_semicolon_is_unexpected_end_of_parameter(self):
        self.assert_fails("", 'unexpected end of parameter, expecting ";" in command line',
                          extra=["-g", "daemon off"])

    def test_g_with_a_block_is_rejected(self):
        self.assert_fails("", "block directives are not supported in -g option in command line",
                          extra=["-g", "http {}"])

    def test_g_http_level_directive_is_not_allowed_here(self):
        self.assert_fails("", '"keepalive_timeout" directive is not allowed here in command line',
                          extra=["-g", "keepalive_timeout 5;"])

    def test_g_directive_not_in_file_is_accepted(self):
        self.assert_ok("", extra=["-g", "worker_processes 2; daemon off;"])

    # ---- values ----

    def test_bad_flag_value_must_be_on_or_off(self):
        self.assert_fails("daemon maybe;\n",
                          'invalid value "maybe" in "daemon" directive, it must be "on" or "off"'
                          ' in DIR/proxyd.conf:4')

    def test_bad_size_value(self):
        self.assert_fails("http {\n  client_max_body_size 10q;\n}\n",
                          '"client_max_body_size" directive invalid value in DIR/proxyd.conf:5')

    def test_bad_buffer_size_value(self):
        self.assert_fails("http {\n  client_header_buffer_size 1x;\n}\n",
                          '"client_header_buffer_size" directive invalid value in DIR/proxyd.conf:5')

    def test_bad_time_value(self):
        self.assert_fails("http {\n  send_timeout abc;\n}\n",
                          '"send_timeout" directive invalid value in DIR/proxyd.conf:5')

    def test_bad_keepalive_timeout_names_the_directive(self):
        # Regression: proxyd said just "invalid value".
        self.assert_fails("http {\n  keepalive_timeout 5x;\n}\n",
                          '"keepalive_timeout" directive invalid value in DIR/proxyd.conf:5')

    def test_bad_keepalive_timeout_header_value_names_the_directive(self):
        self.assert_fails("http {\n  keepalive_timeout 5 y;\n}\n",
                          '"keepalive_timeout" directive invalid value in DIR/proxyd.conf:5')

    def test_bad_number_value(self):
        self.assert_fails("worker_rlimit_nofile abc;\n",
                          '"worker_rlimit_nofile" directive invalid number in DIR/proxyd.conf:4')

    def test_bad_worker_processes_value(self):
        self.assert_fails("worker_processes many;\n",
                          '"worker_processes" directive invalid value in DIR/proxyd.conf:4')

    def test_bad_worker_connections_is_invalid_number(self):
        self.write("proxyd.conf", "pid proxyd.pid;\nevents {\n  worker_connections abc;\n}\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(),
                         ['proxyd: [emerg] invalid number "abc" in DIR/proxyd.conf:3',
                          "proxyd: configuration file DIR/proxyd.conf test failed"])
        self.assertEqual(rc, 1)

    def test_one_worker_connection_passes_the_test_as_in_nginx(self):
        # Regression: proxyd rejected it, without a file:line; nginx only complains at runtime.
        self.write("proxyd.conf", "pid proxyd.pid;\nevents {\n  worker_connections 1;\n}\n")
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(rc, 0, err)

    def test_bad_error_log_level(self):
        self.assert_fails("error_log err.log loud;\n", 'invalid log level "loud" in DIR/proxyd.conf:4')

    # ---- listen ----

    def test_listen_port_out_of_range(self):
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:99999;\n  }\n}\n",
                          'invalid port in "127.0.0.1:99999" of the "listen" directive'
                          ' in DIR/proxyd.conf:6')

    def test_listen_port_zero(self):
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:0;\n  }\n}\n",
                          'invalid port in "127.0.0.1:0" of the "listen" directive'
                          ' in DIR/proxyd.conf:6')

    def test_listen_unknown_parameter(self):
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:{port} fast;\n  }\n}\n",
                          'invalid parameter "fast" in DIR/proxyd.conf:6')

    def test_same_listen_twice_in_a_server_is_duplicate_listen(self):
        port = proxyd_test.free_port()
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:%d;\n    listen 127.0.0.1:%d;\n"
                          "  }\n}\n" % (port, port),
                          "a duplicate listen 127.0.0.1:%d in DIR/proxyd.conf:7" % port)

    def test_two_default_servers_on_one_address(self):
        port = proxyd_test.free_port()
        self.assert_fails("http {\n  server {\n    listen 127.0.0.1:%d default_server;\n  }\n"
                          "  server {\n    listen 127.0.0.1:%d default_server;\n  }\n}\n" % (port, port),
                          "a duplicate default server for 127.0.0.1:%d in DIR/proxyd.conf:9" % port)

    # ---- location ----

    def test_bad_location_modifier(self):
        self.assert_fails("http {\n  server {\n    location ~~ /a {\n    }\n  }\n}\n",
                          'invalid location modifier "~~" in DIR/proxyd.conf:6')

    def test_location_without_uri_is_invalid_number_of_arguments(self):
        self.assert_fails("http {\n  server {\n    location {\n    }\n  }\n}\n",
                          'invalid number of arguments in "location" directive in DIR/proxyd.conf:6')

    def test_same_prefix_location_twice_is_duplicate(self):
        self.assert_fails("http {\n  server {\n    location /a {\n    }\n    location /a {\n    }\n"
                          "  }\n}\n", 'duplicate location "/a" in DIR/proxyd.conf:8')

    def test_location_inside_named_location(self):
        self.assert_fails("http {\n  server {\n    location @a {\n      location /b {\n      }\n"
                          "    }\n  }\n}\n",
                          'location "/b" cannot be inside the named location "@a" in DIR/proxyd.conf:7')

    def test_regex_location_that_does_not_compile(self):
        self.assert_fails("http {\n  server {\n    location ~ ^/(a {\n    }\n  }\n}\n",
                          'pcre2_compile() failed: missing closing parenthesis in "^/(a"'
                          ' in DIR/proxyd.conf:6')

    # ---- variables, return, error_page ----

    def test_unknown_variable_in_return_text_has_no_file_line(self):
        # nginx finds unknown variables at the end of http{}, where no directive is current.
        self.assert_fails("http {\n  server {\n    return 200 \"x $nosuchvar\";\n  }\n}\n",
                          'unknown "nosuchvar" variable')

    def test_dollar_at_end_of_return_text_is_invalid_variable_name(self):
        self.assert_fails("http {\n  server {\n    return 200 \"a$\";\n  }\n}\n",
                          "invalid variable name in DIR/proxyd.conf:6")

    def test_unclosed_variable_bracket_in_return_text(self):
        self.assert_fails("http {\n  server {\n    return 200 \"${host\";\n  }\n}\n",
                          'the closing bracket in "host" variable is missing in DIR/proxyd.conf:6')

    def test_return_code_over_999(self):
        self.assert_fails("http {\n  server {\n    return 1000;\n  }\n}\n",
                          'invalid return code "1000" in DIR/proxyd.conf:6')

    def test_error_page_code_below_300(self):
        self.assert_fails("http {\n  server {\n    error_page 99 /e;\n  }\n}\n",
                          'value "99" must be between 300 and 599 in DIR/proxyd.conf:6')

    def test_error_page_code_499_is_invalid_value(self):
        # Regression: proxyd said 'value "499" must be between 300 and 599'.
        self.assert_fails("http {\n  server {\n    error_page 499 /e;\n  }\n}\n",
                          'invalid value "499" in DIR/proxyd.conf:6')

    def test_error_page_code_not_a_number_is_invalid_value(self):
        self.assert_fails("http {\n  server {\n    error_page abc /e;\n  }\n}\n",
                          'invalid value "abc" in DIR/proxyd.conf:6')

    def test_error_page_bad_response_code(self):
        self.assert_fails("http {\n  server {\n    error_page 404 =abc /e;\n  }\n}\n",
                          'invalid value "=abc" in DIR/proxyd.conf:6')

    def test_error_page_without_uri(self):
        self.assert_fails("http {\n  server {\n    error_page 404;\n  }\n}\n",
                          'invalid number of arguments in "error_page" directive in DIR/proxyd.conf:6')

    # ---- include ----

    def test_include_of_missing_file_names_the_resolved_path_and_the_include_line(self):
        self.assert_fails("http {\n  include missing.conf;\n}\n",
                          'open() "DIR/missing.conf" failed (2: No such file or directory)'
                          ' in DIR/proxyd.conf:5')

    def test_error_in_included_file_names_that_file_and_its_line(self):
        self.write("conf.d/a.conf", "# first\nbogus_one;\n")
        self.assert_fails("http {\n  include conf.d/*.conf;\n}\n",
                          'unknown directive "bogus_one" in DIR/conf.d/a.conf:2')

    def test_include_glob_matching_nothing_is_fine(self):
        self.assert_ok("http {\n  include nothing.d/*.conf;\n}\n")

    def test_include_glob_reads_files_in_name_order(self):
        # b.conf duplicates what a.conf set: the error is in b, the later one.
        self.write("conf.d/b.conf", "\nkeepalive_timeout 2;\n")
        self.write("conf.d/a.conf", "keepalive_timeout 1;\n")
        self.assert_fails("http {\n  include conf.d/*.conf;\n}\n",
                          '"keepalive_timeout" directive is duplicate in DIR/conf.d/b.conf:2')


if __name__ == "__main__":
    proxyd_test.main()
