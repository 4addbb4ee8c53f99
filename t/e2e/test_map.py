"""The map directive end to end: exact keys (matched ignoring case), `hostnames` wildcards,
regexes in the order written with their captures, values with variables, `default`,
`include`, `volatile`, lazy evaluation, and the [emerg] lines of bad map blocks.

Requests run against proxyd and Debian's nginx on the same configuration and the answers are
compared byte for byte (Date, Server and the port made equal); configuration errors are checked
against nginx's own output for the same files."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import proxyd_test  # noqa: E402


def get(path, host="map.test", extra=b""):
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"Connection: close\r\n" + extra + b"\r\n")


MAP_CONF = r"""
http {
    access_log off;
    map_hash_max_size 4096;
    map_hash_bucket_size 128;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        ''      close;
    }

    map $arg_a $exact {
        default     dflt;
        Foo         foo;
        ""          empty;
        \default    kw-default;
        \~x         kw-tilde;
        \\back      kw-backslash;
        hostnames   kw-hostnames;
        volatile    kw-volatile;
    }

    map $arg_r $re {
        default                 none;
        firstexact              exact-beats-regex;
        ~^/u/(?<uname>[a-z]+)$  "user:$uname";
        ~^/p/(\d+)/(\d+)$       "p:$1:$2";
        ~*^CASELESS$            caseless;
        ~^Sensitive$            sensitive;
        ~^first                 first;
        ~^fir                   second;
        ~^$                     empty-regex;
        ~^first                 never;
    }

    map $arg_h $host_map {
        hostnames;
        default          none;
        example.com      exact;
        *.example.com    star;
        .example.org     dot;
        *.a.example.org  deepstar;
        www.example.*    tail;
        www.*            shorttail;
        Mixed.Case.TEST  mixed;
        ~^ww             regex;
    }

    map $arg_h $plain_map {
        *.example.com    literal-star;
        default          none;
        hostnames;
        *.late.test      late-wildcard;
    }

    map $scheme:$arg_k $multi {
        http:1   one;
        default  "other-$arg_k";
    }

    map $arg_v $with_vars {
        default  "$arg_k-$uri";
        lit      "plain";
    }

    map $arg_i $included {
        include  map_inc.conf;
        default  none;
    }

    map $uri $lazy {
        ~^/lazy[a-z]*/(?<lname>.+)$  hit;
    }

    map $arg_n $no_default {
        a  1;
    }

    map $arg_a $twice {
        default first;
    }

    map $arg_a $twice {
        default second;
    }

    map $uri $cached_uri {
        default "u:$uri";
    }

    map $uri $volatile_uri {
        volatile;
        default "u:$uri";
    }

    server {
        listen 127.0.0.1:%(port)d;
        server_name map.test;
        location /ws { return 200 "$connection_upgrade\n"; }
        location /exact { return 200 "[$exact]\n"; }
        location /re { return 200 "[$re]\n"; }
        location /cap { return 200 "[$re][$1][$2]\n"; }
        location /host { return 200 "[$host_map]\n"; }
        location /plain { return 200 "[$plain_map]\n"; }
        location /multi { return 200 "[$multi]\n"; }
        location /vars { return 200 "[$with_vars]\n"; }
        location /inc { return 200 "[$included]\n"; }
        location /lazy/ { return 200 "[$lname]\n"; }
        location /lazyused/ { return 200 "[$lazy][$lname]\n"; }
        location /twice { return 200 "[$twice]\n"; }
        location /nodefault { return 200 "[$no_default]\n"; }
        location /vol { error_page 404 = "/vol-target?from=$cached_uri,$volatile_uri"; return 404; }
        location /vol-target { return 200 "[$cached_uri][$volatile_uri][$arg_from]\n"; }
    }
}
"""

INCLUDED = "one  1;\nTwo  2;\n"


class MapTest(proxyd_test.Differential):
    CONF = MAP_CONF

    @classmethod
    def prepare(cls, server):
        with open(server.path("map_inc.conf"), "w") as f:
            f.write(INCLUDED)

    def body_of(self, data):
        answer = self.exchange(data)
        self.assertEqual(proxyd_test.status_of(answer), 200, answer[:300])
        return answer.partition(b"\r\n\r\n")[2]

    def assert_map(self, path, expected, **kw):
        self.assertEqual(self.body_of(get(path, **kw)), expected)

    # ---- the websocket idiom ----

    def test_connection_upgrade_is_upgrade_when_the_client_asks_for_it(self):
        self.assert_map("/ws", b"upgrade\n", extra=b"Upgrade: websocket\r\n")

    def test_connection_upgrade_is_close_without_upgrade_header(self):
        self.assert_map("/ws", b"close\n")

    # ---- exact keys ----

    def test_exact_key_matches_ignoring_case(self):
        for arg in ("foo", "FOO", "Foo"):
            self.assert_map("/exact?a=" + arg, b"[foo]\n")

    def test_no_match_gives_default(self):
        self.assert_map("/exact?a=bar", b"[dflt]\n")

    def test_empty_key_matches_empty_and_missing_value(self):
        self.assert_map("/exact?a=", b"[empty]\n")
        self.assert_map("/exact", b"[empty]\n")

    def test_backslash_makes_special_words_keys(self):
        self.assert_map("/exact?a=default", b"[kw-default]\n")
        self.assert_map("/exact?a=~x", b"[kw-tilde]\n")

    def test_escaped_backslash_is_removed_once(self):
        self.assert_map("/exact?a=back", b"[kw-backslash]\n")

    def test_hostnames_and_volatile_with_a_value_are_keys(self):
        self.assert_map("/exact?a=hostnames", b"[kw-hostnames]\n")
        self.assert_map("/exact?a=volatile", b"[kw-volatile]\n")

    def test_map_without_default_gives_empty_string(self):
        self.assert_map("/nodefault?n=a", b"[1]\n")
        self.assert_map("/nodefault?n=b", b"[]\n")

    # ---- regexes ----

    def test_named_capture_in_value(self):
        self.assert_map("/re?r=/u/alice", b"[user:alice]\n")

    def test_positional_captures_in_value(self):
        self.assert_map("/re?r=/p/12/34", b"[p:12:34]\n")

    def test_map_regex_captures_are_the_requests_captures_afterwards(self):
        self.assert_map("/cap?r=/p/5/6", b"[p:5:6][5][6]\n")

    def test_tilde_star_is_caseless(self):
        self.assert_map("/re?r=caseless", b"[caseless]\n")
        self.assert_map("/re?r=CaseLess", b"[caseless]\n")

    def test_tilde_is_case_sensitive(self):
        self.assert_map("/re?r=Sensitive", b"[sensitive]\n")
        self.assert_map("/re?r=sensitive", b"[none]\n")

    def test_first_matching_regex_in_order_wins(self):
        self.assert_map("/re?r=firstly", b"[first]\n")
        self.assert_map("/re?r=fir", b"[second]\n")

    def test_exact_key_wins_over_earlier_regex(self):
        self.assert_map("/re?r=firstexact", b"[exact-beats-regex]\n")

    def test_empty_value_never_reaches_the_regexes(self):
        self.assert_map("/re?r=", b"[none]\n")

    # ---- hostnames ----

    def test_hostnames_exact_ignores_case_and_one_trailing_dot(self):
        self.assert_map("/host?h=example.com", b"[exact]\n")
        self.assert_map("/host?h=EXAMPLE.Com.", b"[exact]\n")

    def test_hostnames_star_prefix_matches_subdomains_only(self):
        self.assert_map("/host?h=x.example.com", b"[star]\n")
        self.assert_map("/host?h=y.x.example.com", b"[star]\n")

    def test_hostnames_dot_prefix_matches_domain_and_subdomains(self):
        self.assert_map("/host?h=example.org", b"[dot]\n")
        self.assert_map("/host?h=b.example.org", b"[dot]\n")

    def test_hostnames_longest_head_wildcard_wins(self):
        self.assert_map("/host?h=b.a.example.org", b"[deepstar]\n")
        self.assert_map("/host?h=a.example.org", b"[dot]\n")

    def test_hostnames_tail_wildcards_longest_first(self):
        self.assert_map("/host?h=www.example.net", b"[tail]\n")
        self.assert_map("/host?h=www.example.co.uk", b"[tail]\n")
        self.assert_map("/host?h=www.foo.net", b"[shorttail]\n")
        self.assert_map("/host?h=www.example", b"[shorttail]\n")

    def test_hostnames_head_wildcard_wins_over_tail(self):
        self.assert_map("/host?h=www.example.com", b"[star]\n")

    def test_hostnames_tail_needs_a_dot_after_the_prefix(self):
        self.assert_map("/host?h=www", b"[regex]\n")

    def test_hostnames_mixed_case_key(self):
        self.assert_map("/host?h=mixed.case.test", b"[mixed]\n")

    def test_hostnames_nothing_matches_gives_default(self):
        self.assert_map("/host?h=other.test", b"[none]\n")
        self.assert_map("/host?h=.", b"[none]\n")
        self.assert_map("/host?h=", b"[none]\n")

    def test_wildcard_before_hostnames_is_a_literal_key(self):
        self.assert_map("/plain?h=*.example.com", b"[literal-star]\n")
        self.assert_map("/plain?h=x.example.com", b"[none]\n")

    def test_wildcard_after_hostnames_is_a_wildcard(self):
        self.assert_map("/plain?h=x.late.test", b"[late-wildcard]\n")

    # ---- source and values ----

    def test_source_may_hold_several_variables(self):
        self.assert_map("/multi?k=1", b"[one]\n")
        self.assert_map("/multi?k=2", b"[other-2]\n")

    def test_value_with_variables(self):
        self.assert_map("/vars?v=x&k=K", b"[K-/vars]\n")
        self.assert_map("/vars?v=lit", b"[plain]\n")

    def test_included_keys(self):
        self.assert_map("/inc?i=one", b"[1]\n")
        self.assert_map("/inc?i=two", b"[2]\n")
        self.assert_map("/inc?i=three", b"[none]\n")

    # nginx's later map (like any later definer) takes over.
    def test_later_map_of_the_same_variable_wins(self):
        self.assert_map("/twice", b"[second]\n")

    # ---- evaluation ----

    def test_unused_map_is_not_evaluated(self):
        # Its regex would set $lname; unread, the capture stays empty.
        self.assert_map("/lazy/bob", b"[]\n")

    def test_reading_the_map_runs_its_regex(self):
        self.assert_map("/lazyused/bob", b"[hit][bob]\n")

    # nginx keeps cached variable values across internal redirects.
    def test_value_is_cached_unless_volatile(self):
        # Both maps are first read in /vol (for error_page's URI), then again after the internal
        # redirect: the cached one keeps /vol, the volatile one sees /vol-target.
        self.assert_map("/vol", b"[u:/vol][u:/vol-target][u:/vol,u:/vol]\n")


class MapCycleTest(unittest.TestCase):
    # A map reading itself through another: nginx (1.22) bounds nested variables and logs
    # "cycle while evaluating variable"; proxyd bounds nested maps the same way and answers.
    def test_map_cycle_is_logged_and_answered(self):
        port = proxyd_test.free_port()
        srv = proxyd_test.Proxyd(
            "http { access_log off; map $arg_a $x { default \"<$y>\"; } "
            "map $arg_a $y { default \"[$x]\"; } "
            "server { listen 127.0.0.1:%d; return 200 \"$x\\n\"; } }" % port)
        self.addCleanup(srv.cleanup)
        srv.start(wait_for=port)
        answer = proxyd_test.raw_request(port, get("/?a=1"))
        self.assertEqual(proxyd_test.status_of(answer), 200, answer)
        body = answer.partition(b"\r\n\r\n")[2]
        self.assertEqual(body, b"<[" * 50 + b"]>" * 50 + b"\n")
        log = proxyd_test.wait_for_text(srv.error_log, "cycle while evaluating variable")
        self.assertIn('[error] ', log)
        self.assertIn('cycle while evaluating variable "x"', log)


# ---------------------------------------------------------------------------------------------
# configuration errors, each checked against nginx's own output

HEAD = "pid proxyd.pid;\nevents {\n}\n"  # three lines: line numbers below count from here


class MapConfigTest(proxyd_test.TempDirCase):
    PREFIX = "proxyd-e2e-map-"

    def run_t(self, binary, extra=()):
        conf = os.path.join(self.dir, "proxyd.conf")
        p = subprocess.run([binary, "-t", "-p", self.dir + "/", "-c", conf] + list(extra),
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr

    def nginx_lines(self):
        rc, err = self.run_t(proxyd_test.NGINX_BIN, ["-e", "stderr"])
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

    def assert_fails(self, conf, emerg):
        """conf: the http{} text after HEAD; emerg: nginx's message with DIR for the temp dir."""
        self.write("proxyd.conf", HEAD + conf)
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        expected = ["proxyd: [emerg] " + emerg,
                    "proxyd: configuration file DIR/proxyd.conf test failed"]
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(), expected)
        self.assertEqual(rc, 1)
        if os.access(proxyd_test.NGINX_BIN, os.X_OK):
            self.assertEqual(self.nginx_lines(), (1, expected), "nginx disagrees")

    def assert_ok(self, conf):
        self.write("proxyd.conf", HEAD + conf)
        rc, err = self.run_t(proxyd_test.PROXYD_BIN)
        self.assertEqual(err.replace(self.dir, "DIR").splitlines(),
                         ["proxyd: the configuration file DIR/proxyd.conf syntax is ok",
                          "proxyd: configuration file DIR/proxyd.conf test is successful"])
        self.assertEqual(rc, 0)
        if os.access(proxyd_test.NGINX_BIN, os.X_OK):
            self.assertEqual(self.nginx_lines()[0], 0, "nginx disagrees")

    # ---- the map directive ----

    def test_map_in_server_is_not_allowed_here(self):
        self.assert_fails("http {\n  server {\n    map $arg_a $x { a 1; }\n  }\n}\n",
                          '"map" directive is not allowed here in DIR/proxyd.conf:6')

    def test_map_in_location_is_not_allowed_here(self):
        self.assert_fails("http {\n  server {\n    location / {\n      map $arg_a $x { a 1; }\n"
                          "    }\n  }\n}\n",
                          '"map" directive is not allowed here in DIR/proxyd.conf:7')

    def test_map_in_main_is_not_allowed_here(self):
        self.assert_fails("map $arg_a $x { a 1; }\n",
                          '"map" directive is not allowed here in DIR/proxyd.conf:4')

    def test_map_with_one_argument(self):
        self.assert_fails("http {\n  map $arg_a {\n  }\n}\n",
                          'invalid number of arguments in "map" directive in DIR/proxyd.conf:5')

    def test_map_with_three_arguments(self):
        self.assert_fails("http {\n  map $arg_a $x $y {\n  }\n}\n",
                          'invalid number of arguments in "map" directive in DIR/proxyd.conf:5')

    def test_map_without_block(self):
        self.assert_fails("http {\n  map $arg_a $x;\n}\n",
                          'directive "map" has no opening "{" in DIR/proxyd.conf:5')

    def test_map_variable_without_dollar(self):
        self.assert_fails("http {\n  map $arg_a x {\n  }\n}\n",
                          'invalid variable name "x" in DIR/proxyd.conf:5')

    def test_map_variable_of_only_dollar(self):
        self.assert_fails("http {\n  map $arg_a $ {\n  }\n}\n",
                          'invalid variable name "$" in DIR/proxyd.conf:5')

    def test_map_defining_a_builtin_variable_is_duplicate(self):
        self.assert_fails("http {\n  map $arg_a $host {\n    default 1;\n  }\n}\n",
                          'the duplicate "host" variable in DIR/proxyd.conf:5')

    def test_map_source_with_unknown_variable(self):
        self.assert_fails("http {\n  map $nosuchvar $x {\n  }\n}\n",
                          'unknown "nosuchvar" variable')

    def test_map_source_with_bad_variable_name(self):
        self.assert_fails("http {\n  map \"a$\" $x {\n  }\n}\n",
                          'invalid variable name in DIR/proxyd.conf:5')

    # ---- the block ----

    def test_duplicate_key_ignoring_case_conflicts_and_is_named_lowercase(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    Foo 1;\n    FOO 2;\n  }\n}\n",
                          'conflicting parameter "foo" in DIR/proxyd.conf:7')

    def test_duplicate_empty_key_conflicts(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    '' 1;\n    \"\" 2;\n  }\n}\n",
                          'conflicting parameter "" in DIR/proxyd.conf:7')

    def test_duplicate_default(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    default 1;\n    default 2;\n  }\n}\n",
                          'duplicate default map parameter in DIR/proxyd.conf:7')

    def test_default_without_value(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    default;\n  }\n}\n",
                          'invalid number of the map parameters in DIR/proxyd.conf:6')

    def test_key_without_value(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a;\n  }\n}\n",
                          'invalid number of the map parameters in DIR/proxyd.conf:6')

    def test_key_with_two_values(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a b c;\n  }\n}\n",
                          'invalid number of the map parameters in DIR/proxyd.conf:6')

    def test_entry_with_a_block_is_unexpected_brace(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a b {\n    }\n  }\n}\n",
                          'unexpected "{" in DIR/proxyd.conf:6')

    def test_invalid_regex(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    ~(a 1;\n  }\n}\n",
                          'pcre2_compile() failed: missing closing parenthesis in "(a" '
                          'in DIR/proxyd.conf:6')

    def test_invalid_caseless_regex(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a 1;\n    ~*(a 1;\n  }\n}\n",
                          'pcre2_compile() failed: missing closing parenthesis in "(a" '
                          'in DIR/proxyd.conf:7')

    def test_regex_named_capture_of_builtin_variable(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    \"~(?<host>.)\" 1;\n  }\n}\n",
                          'the duplicate "host" variable in DIR/proxyd.conf:6')

    def test_value_with_bad_variable_name(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a \"$\";\n  }\n}\n",
                          'invalid variable name in DIR/proxyd.conf:6')

    def test_value_with_unclosed_bracket(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a \"${b\";\n  }\n}\n",
                          'the closing bracket in "b" variable is missing in DIR/proxyd.conf:6')

    def test_value_with_unknown_variable(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    a $nosuchvar;\n  }\n}\n",
                          'unknown "nosuchvar" variable')

    def test_include_of_missing_file(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    include nope.conf;\n  }\n}\n",
                          'open() "DIR/nope.conf" failed (2: No such file or directory) '
                          'in DIR/proxyd.conf:6')

    # Bug in conf/conf_parse.c: the parser expands `include` everywhere with its own arity check,
    # where nginx's map block takes "include" as a two-word entry like any other.
    @unittest.expectedFailure
    def test_include_with_two_files_is_invalid_number_of_map_parameters(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    include a b;\n  }\n}\n",
                          'invalid number of the map parameters in DIR/proxyd.conf:6')

    def test_conflict_in_included_file_names_that_file(self):
        self.write("keys.conf", "a 1;\nb 2;\nA 3;\n")
        self.assert_fails("http {\n  map $arg_a $x {\n    include keys.conf;\n  }\n}\n",
                          'conflicting parameter "a" in DIR/keys.conf:3')

    # ---- hostnames ----

    def test_hostnames_exact_then_dot_wildcard_conflict(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    Ex.com 1;\n"
                          "    .EX.com 2;\n  }\n}\n",
                          'conflicting parameter ".ex.com" in DIR/proxyd.conf:8')

    def test_hostnames_dot_wildcard_then_exact_conflict(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    .ex.com 1;\n"
                          "    ex.com 2;\n  }\n}\n",
                          'conflicting parameter "ex.com" in DIR/proxyd.conf:8')

    def test_hostnames_dot_and_star_wildcard_conflict(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    .ex.com 1;\n"
                          "    *.EX.com 2;\n  }\n}\n",
                          'conflicting parameter "*.ex.com" in DIR/proxyd.conf:8')

    def test_hostnames_duplicate_tail_wildcard_conflict(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    www.ex.* 1;\n"
                          "    WWW.ex.* 2;\n  }\n}\n",
                          'conflicting parameter "www.ex.*" in DIR/proxyd.conf:8')

    def test_hostnames_star_in_the_middle_is_invalid(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    WWW.*.com 1;\n  }\n}\n",
                          'invalid hostname or wildcard "WWW.*.com" in DIR/proxyd.conf:7')

    def test_hostnames_empty_label_is_invalid(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    a..b 1;\n  }\n}\n",
                          'invalid hostname or wildcard "a..b" in DIR/proxyd.conf:7')

    def test_hostnames_lone_star_is_invalid(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    * 1;\n  }\n}\n",
                          'invalid hostname or wildcard "*" in DIR/proxyd.conf:7')

    def test_hostnames_two_stars_are_invalid(self):
        self.assert_fails("http {\n  map $arg_a $x {\n    hostnames;\n    *.a.* 1;\n  }\n}\n",
                          'invalid hostname or wildcard "*.a.*" in DIR/proxyd.conf:7')

    # ---- map_hash_* ----

    def test_map_hash_max_size_must_be_a_number(self):
        self.assert_fails("http {\n  map_hash_max_size 1k;\n}\n",
                          '"map_hash_max_size" directive invalid number in DIR/proxyd.conf:5')

    def test_map_hash_bucket_size_must_be_a_number(self):
        self.assert_fails("http {\n  map_hash_bucket_size abc;\n}\n",
                          '"map_hash_bucket_size" directive invalid number in DIR/proxyd.conf:5')

    def test_map_hash_max_size_twice_is_duplicate(self):
        self.assert_fails("http {\n  map_hash_max_size 10;\n  map_hash_max_size 10;\n}\n",
                          '"map_hash_max_size" directive is duplicate in DIR/proxyd.conf:6')

    def test_map_hash_bucket_size_in_server_is_not_allowed_here(self):
        self.assert_fails("http {\n  server {\n    map_hash_bucket_size 64;\n  }\n}\n",
                          '"map_hash_bucket_size" directive is not allowed here in '
                          'DIR/proxyd.conf:6')

    def test_map_hash_max_size_with_two_arguments(self):
        self.assert_fails("http {\n  map_hash_max_size 1 2;\n}\n",
                          'invalid number of arguments in "map_hash_max_size" directive in '
                          'DIR/proxyd.conf:5')

    def test_map_hash_max_size_after_a_map_is_duplicate(self):
        # The first map fixes the hash sizes (to their defaults when unset).
        self.assert_fails("http {\n  map $arg_a $x {\n  }\n  map_hash_max_size 4096;\n}\n",
                          '"map_hash_max_size" directive is duplicate in DIR/proxyd.conf:7')

    def test_map_hash_bucket_size_after_a_map_is_duplicate(self):
        self.assert_fails("http {\n  map $arg_a $x {\n  }\n  map_hash_bucket_size 128;\n}\n",
                          '"map_hash_bucket_size" directive is duplicate in DIR/proxyd.conf:7')

    # ---- accepted ----

    def test_empty_map_is_accepted(self):
        self.assert_ok("http {\n  map $arg_a $x {\n  }\n}\n")

    def test_map_hash_sizes_are_accepted(self):
        self.assert_ok("http {\n  map_hash_max_size 0;\n  map_hash_bucket_size 128;\n}\n")

    def test_repeated_hostnames_and_volatile_are_accepted(self):
        self.assert_ok("http {\n  map $arg_a $x {\n    volatile;\n    volatile;\n    hostnames;\n"
                       "    hostnames;\n  }\n}\n")

    def test_two_maps_may_define_one_variable(self):
        self.assert_ok("http {\n  map $arg_a $x {\n  }\n  map $arg_b $x {\n  }\n}\n")

    def test_star_wildcard_and_exact_domain_do_not_conflict(self):
        self.assert_ok("http {\n  map $arg_a $x {\n    hostnames;\n    *.a.com 1;\n    a.com 2;\n"
                       "  }\n}\n")

    def test_same_key_as_exact_and_as_tail_prefix_do_not_conflict(self):
        self.assert_ok("http {\n  map $arg_a $x {\n    hostnames;\n    a.* 1;\n    a. 2;\n"
                       "  }\n}\n")

    def test_the_same_regex_twice_is_accepted(self):
        self.assert_ok("http {\n  map $arg_a $x {\n    ~a 1;\n    ~a 2;\n    \\~a 3;\n  }\n}\n")

    def test_websocket_idiom_is_accepted(self):
        self.assert_ok("http {\n  map $http_upgrade $connection_upgrade {\n"
                       "    default upgrade;\n    '' close;\n  }\n}\n")


if __name__ == "__main__":
    proxyd_test.main()
