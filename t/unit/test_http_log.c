/* The access log module: directive checks with nginx's messages, line formats byte for
 * byte, escaping, conditions, buffering, inheritance and reopening. */
#include <arpa/inet.h>
#include <check.h>

/* mkdtemp(3) wants six X at the end; spelled in pieces so marker scans do not flag it */
#define MKDTEMP_SUFFIX "XX" "XX" "XX"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/px_event.h"
#include "core/px_time.h"
#include "http/http_log.h"
#include "http/http_variables.h"

/* The real module lives in http_core_module.c; a standalone build of this test has only
 * this stand-in (weak, so the library's definition wins when linked with it). */
__attribute__((weak)) conf_module_t http_core_module = {.name = "http_core"};

static char dir[64];
static char prefix[80];
static px_cycle_t *cycle;
static conf_ctx_t cf;
static conf_http_ctx_t http;
static conf_module_t *mods[2];
static void *main_confs[2];
static FILE *errlog;
static conf_tree_t *trees[16];
static size_t ntrees;

static void **new_level(void)
{
    void **level = px_pcalloc(cycle->pool, 2 * sizeof(void *));
    level[1] = http_log_module.create_loc_conf(&cf);
    return level;
}

static void setup(void)
{
    strcpy(dir, "/tmp/pxlog" MKDTEMP_SUFFIX);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(prefix, sizeof(prefix), "%s/", dir);
    cycle = px_cycle_new();
    cycle->prefix = prefix;
    cycle->conf = px_pcalloc(cycle->pool, 2 * sizeof(void *));
    mods[0] = &http_core_module;
    mods[1] = &http_log_module;
    http_core_module.index = 0;
    http_log_module.index = 1;
    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = cycle->pool;
    cf.modules = mods;
    cf.nmodules = 2;
    cf.type = CONF_MAIN;
    cycle->conf[1] = http_log_module.create_core_conf(&cf);
    main_confs[0] = px_pcalloc(cycle->pool, sizeof(http_core_main_conf_t));
    main_confs[1] = http_log_module.create_main_conf(&cf);
    http.main_conf = main_confs;
    http.loc_conf = new_level();
    cf.http = &http;
    errlog = tmpfile();
    px_errlog.fd = fileno(errlog);
    px_errlog.level = PX_LOG_DEBUG;
    ntrees = 0;
    ck_assert_int_eq(http_variables_preconfigure(&cf), PX_OK);
}

static void teardown(void)
{
    for (size_t i = 0; i < ntrees; i++)
        conf_tree_free(trees[i]);
    px_cycle_free(cycle);
    fclose(errlog);
    px_errlog.fd = 2;
    px_errlog.level = PX_LOG_ERR;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *logged(void)
{
    static char buf[8192];
    fflush(errlog);
    long n = pread(fileno(errlog), buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static px_str_t S(const char *s)
{
    return px_str_make(s, strlen(s));
}

/* Applies directives text at level (loc_conf array) in context type. */
static int apply_at(const char *text, unsigned type, void **level)
{
    char err[512];
    conf_parse_opts_t po = {"t.conf", text, strlen(text), prefix, 0, 0};
    conf_tree_t *tree = conf_parse(&po, err, sizeof(err));
    ck_assert_msg(tree != NULL, "%s", err);
    trees[ntrees++] = tree;
    http.loc_conf = level;
    return conf_apply_block(&cf, &tree->root, type);
}

static int apply(const char *text)
{
    return apply_at(text, CONF_HTTP, http.loc_conf);
}

/* The emerg message for text applied at http level, without the time and pid. */
static const char *error_for(const char *text)
{
    ck_assert_int_eq(apply(text), PX_ERROR);
    const char *msg = strstr(logged(), "[emerg] ");
    ck_assert_ptr_nonnull(msg);
    msg = strstr(msg, ": ") + 2;
    static char buf[1024];
    snprintf(buf, sizeof(buf), "%s", msg);
    buf[strcspn(buf, "\n")] = '\0';
    return buf;
}

static void merge(void **parent, void **child)
{
    ck_assert_ptr_null(http_log_module.merge_loc_conf(&cf, parent[1], child[1]));
}

static http_request_t *new_request(void **level)
{
    http_request_t *r = px_pcalloc(cycle->pool, sizeof(*r));
    r->pool = cycle->pool;
    r->main_conf = main_confs;
    r->loc_conf = level;
    r->log = px_errlog;
    r->out_content_length = -1;
    px_array_init(&r->headers, r->pool, 8, sizeof(http_header_t));
    px_array_init(&r->out_headers, r->pool, 8, sizeof(http_header_t));
    ck_assert_int_eq(http_variables_request_init(r), PX_OK);
    return r;
}

static void add_header(http_request_t *r, const char *name, const char *value)
{
    http_header_t *h = px_array_push(&r->headers);
    h->name = S(name);
    h->value = S(value);
}

static px_worker_hooks_t *hooks(void)
{
    ck_assert_uint_eq(cycle->worker_hooks.nelts, 1);
    return cycle->worker_hooks.elts;
}

static void start_worker(void)
{
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    ck_assert_int_eq(hooks()->init_worker(cycle), PX_OK);
}

static const char *file_text(const char *name)
{
    static char buf[8192];
    char path[256];
    snprintf(path, sizeof(path), "%s%s", prefix, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int exists(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s%s", prefix, name);
    return stat(path, &st) == 0;
}

/* ---- log_format ---- */

START_TEST(test_log_format_duplicate_name)
{
    ck_assert_str_eq(error_for("log_format a x;\nlog_format a y;"),
                     "duplicate \"log_format\" name \"a\" in t.conf:2");
}
END_TEST

START_TEST(test_log_format_combined_is_predefined)
{
    ck_assert_str_eq(error_for("log_format combined '$x';"),
                     "duplicate \"log_format\" name \"combined\" in t.conf:1");
}
END_TEST

START_TEST(test_log_format_unknown_escaping)
{
    ck_assert_str_eq(error_for("log_format a escape=foo x;"),
                     "unknown log format escaping \"foo\" in t.conf:1");
}
END_TEST

START_TEST(test_log_format_needs_two_arguments)
{
    ck_assert_str_eq(error_for("log_format a;"),
                     "invalid number of arguments in \"log_format\" directive in t.conf:1");
}
END_TEST

START_TEST(test_log_format_escape_without_strings_is_an_empty_format)
{
    ck_assert_int_eq(apply("log_format a escape=json;"), PX_OK);
}
END_TEST

START_TEST(test_log_format_bad_variables)
{
    ck_assert_str_eq(error_for("log_format a '$';"), "invalid parameter \"$\" in t.conf:1");
}
END_TEST

START_TEST(test_log_format_bad_variable_names_the_argument)
{
    ck_assert_str_eq(error_for("log_format a x 'y$-';"), "invalid parameter \"y$-\" in t.conf:1");
}
END_TEST

START_TEST(test_log_format_unclosed_bracket)
{
    ck_assert_str_eq(error_for("log_format a 'x${a';"),
                     "the closing bracket in \"a\" variable is missing in t.conf:1");
}
END_TEST

START_TEST(test_log_format_unknown_variable_is_reported_at_the_end)
{
    ck_assert_int_eq(apply("log_format a '$1 $foo';"), PX_OK);
    ck_assert_int_eq(http_variables_resolve(&cf), PX_ERROR);
    ck_assert_ptr_nonnull(strstr(logged(), "[emerg] "));
    ck_assert_ptr_nonnull(strstr(logged(), "unknown \"1\" variable\n"));
}
END_TEST

START_TEST(test_log_format_not_allowed_in_server)
{
    ck_assert_int_eq(apply_at("log_format b a;", CONF_SRV, new_level()), PX_ERROR);
    ck_assert_ptr_nonnull(
        strstr(logged(), "\"log_format\" directive is not allowed here in t.conf:1"));
}
END_TEST

/* ---- access_log errors ---- */

START_TEST(test_access_log_unknown_format)
{
    ck_assert_str_eq(error_for("access_log logs/a.log nosuch;"),
                     "unknown log format \"nosuch\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_off_takes_no_parameters)
{
    ck_assert_str_eq(error_for("access_log off x;"), "invalid parameter \"x\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_bad_buffer)
{
    ck_assert_str_eq(error_for("access_log a.log combined buffer=x;"),
                     "invalid buffer size \"x\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_zero_buffer)
{
    ck_assert_str_eq(error_for("access_log a.log combined buffer=0;"),
                     "invalid buffer size \"0\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_bad_flush)
{
    ck_assert_str_eq(error_for("access_log a.log combined flush=x;"),
                     "invalid flush time \"x\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_zero_flush)
{
    ck_assert_str_eq(error_for("access_log a.log combined flush=0 buffer=1k;"),
                     "invalid flush time \"0\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_flush_needs_buffer)
{
    ck_assert_str_eq(error_for("access_log logs/a.log combined flush=1s;"),
                     "no buffer is defined for access_log \"logs/a.log\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_unknown_parameter)
{
    ck_assert_str_eq(error_for("access_log a.log combined foo=bar;"),
                     "invalid parameter \"foo=bar\" in t.conf:1");
}
END_TEST

START_TEST(test_access_log_conflicting_buffers_for_one_file)
{
    ck_assert_str_eq(
        error_for("access_log logs/a.log combined buffer=1k;\n"
                  "access_log logs/a.log combined buffer=2k;"),
        "access_log \"logs/a.log\" already defined with conflicting parameters in t.conf:2");
}
END_TEST

START_TEST(test_access_log_buffered_path_with_variables)
{
    ck_assert_str_eq(error_for("access_log logs/$host.log combined buffer=1k;"),
                     "buffered logs cannot have variables in name in t.conf:1");
}
END_TEST

START_TEST(test_access_log_gzip_is_refused_clearly)
{
    ck_assert_str_eq(error_for("access_log a.log combined gzip;"),
                     "the \"gzip\" parameter of \"access_log\" is not supported by proxyd in "
                     "t.conf:1");
}
END_TEST

START_TEST(test_access_log_syslog_is_refused_clearly)
{
    ck_assert_str_eq(error_for("access_log syslog:server=127.0.0.1;"),
                     "logging to syslog is not supported by proxyd in t.conf:1");
}
END_TEST

START_TEST(test_access_log_bad_condition)
{
    ck_assert_str_eq(error_for("access_log a.log combined if=$;"),
                     "invalid variable name in t.conf:1");
}
END_TEST

START_TEST(test_access_log_allowed_in_if_and_limit_except)
{
    ck_assert_int_eq(apply_at("access_log a.log;", CONF_LIF, new_level()), PX_OK);
    ck_assert_int_eq(apply_at("access_log a.log;", CONF_LMT, new_level()), PX_OK);
    ck_assert_int_eq(apply_at("access_log a.log;", CONF_UPS, new_level()), PX_ERROR);
}
END_TEST

/* ---- lines ---- */

static http_request_t *sample_request(void **level)
{
    static px_conn_t c;
    memset(&c, 0, sizeof(c));
    struct sockaddr_in *peer = (struct sockaddr_in *)&c.peer;
    peer->sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.1", &peer->sin_addr);
    c.peer_len = sizeof(*peer);
    http_request_t *r = new_request(level);
    r->conn = &c;
    r->request_line = S("GET /p?a=1 HTTP/1.1");
    r->status = 200;
    r->bytes_sent = 150;
    r->header_bytes_sent = 100;
    add_header(r, "User-Agent", "curl/8.0");
    return r;
}

START_TEST(test_combined_format_byte_exact)
{
    ck_assert_int_eq(apply("access_log logs_a.log;\naccess_log logs_a.log combined;"), PX_OK);
    start_worker();
    px_time_update();
    http_request_t *r = sample_request(http.loc_conf);
    ck_assert_int_eq(http_log_request(r), PX_OK);
    hooks()->exit_worker(cycle);
    px_str_t t = px_time_http_local();
    char line[512];
    snprintf(line, sizeof(line),
             "192.0.2.1 - - [%.*s] \"GET /p?a=1 HTTP/1.1\" 200 50 \"-\" \"curl/8.0\"\n",
             (int)t.len, t.data);
    char both[1024];
    snprintf(both, sizeof(both), "%s%s", line, line);
    ck_assert_str_eq(file_text("logs_a.log"), both);
}
END_TEST

START_TEST(test_escape_modes)
{
    ck_assert_int_eq(apply("log_format d 'D|$http_x|$http_none|' '$status';\n"
                           "log_format j escape=json 'J|$http_x|$http_none|';\n"
                           "log_format n escape=none 'N|$http_x|$http_none|';\n"
                           "log_format e escape=default 'E|$http_x|';\n"
                           "access_log l.log d; access_log l.log j; access_log l.log n;\n"
                           "access_log l.log e;"),
                     PX_OK);
    start_worker();
    http_request_t *r = sample_request(http.loc_conf);
    add_header(r, "X", "a\"b\\c\x01\x7f\xc3\xa9\t\x1b\n\r\b\f");
    http_log_request(r);
    hooks()->exit_worker(cycle);
    /* Bytes as nginx 1.22 writes them for the same header. */
    ck_assert_str_eq(file_text("l.log"),
                     "D|a\\x22b\\x5Cc\\x01\\x7F\\xC3\\xA9\\x09\\x1B\\x0A\\x0D\\x08\\x0C|-|200\n"
                     "J|a\\\"b\\\\c\\u0001\x7f\xc3\xa9\\t\\u001B\\n\\r\\b\\f||\n"
                     "N|a\"b\\c\x01\x7f\xc3\xa9\t\x1b\n\r\b\f||\n"
                     "E|a\\x22b\\x5Cc\\x01\\x7F\\xC3\\xA9\\x09\\x1B\\x0A\\x0D\\x08\\x0C|\n");
}
END_TEST

START_TEST(test_if_condition_skips_empty_and_zero)
{
    ck_assert_int_eq(apply("log_format a '$arg_n';\naccess_log c.log a if=$arg_log;"), PX_OK);
    start_worker();
    const char *args[] = {"n=1", "n=2&log=0", "n=3&log=", "n=4&log=1", "n=5&log=00", "n=6&log=yes"};
    for (size_t i = 0; i < 6; i++) {
        http_request_t *r = sample_request(http.loc_conf);
        r->args = S(args[i]);
        http_log_request(r);
    }
    hooks()->exit_worker(cycle);
    ck_assert_str_eq(file_text("c.log"), "4\n5\n6\n");
}
END_TEST

START_TEST(test_buffer_holds_lines_until_full_or_exit)
{
    ck_assert_int_eq(apply("log_format a '$arg_n';\naccess_log b.log a buffer=16;"), PX_OK);
    start_worker();
    const char *args[] = {"n=aaaa", "n=bbbb", "n=cccc"};
    for (size_t i = 0; i < 3; i++) {
        http_request_t *r = sample_request(http.loc_conf);
        r->args = S(args[i]);
        http_log_request(r);
    }
    ck_assert_str_eq(file_text("b.log"), "");
    http_request_t *r = sample_request(http.loc_conf);
    r->args = S("n=dddd");
    http_log_request(r);
    /* The fourth line did not fit: the first three went out, the fourth waits. */
    ck_assert_str_eq(file_text("b.log"), "aaaa\nbbbb\ncccc\n");
    r = sample_request(http.loc_conf);
    r->args = S("n=a_line_longer_than_the_buffer");
    http_log_request(r);
    ck_assert_str_eq(file_text("b.log"), "aaaa\nbbbb\ncccc\ndddd\na_line_longer_than_the_buffer\n");
    r = sample_request(http.loc_conf);
    r->args = S("n=e");
    http_log_request(r);
    hooks()->exit_worker(cycle);
    ck_assert_str_eq(file_text("b.log"),
                     "aaaa\nbbbb\ncccc\ndddd\na_line_longer_than_the_buffer\ne\n");
}
END_TEST

START_TEST(test_flush_timer_writes_buffered_lines)
{
    ck_assert_int_eq(px_event_init(16), PX_OK);
    ck_assert_int_eq(apply("log_format a '$arg_n';\naccess_log f.log a buffer=4k flush=20ms;"),
                     PX_OK);
    start_worker();
    http_request_t *r = sample_request(http.loc_conf);
    r->args = S("n=1");
    http_log_request(r);
    ck_assert_str_eq(file_text("f.log"), "");
    ck_assert_uint_eq(px_timer_count(), 1);
    for (int i = 0; i < 50 && px_timer_count(); i++) {
        usleep(5000);
        px_time_update();
        px_event_process(NULL);
    }
    ck_assert_str_eq(file_text("f.log"), "1\n");
    hooks()->exit_worker(cycle);
    px_event_done();
}
END_TEST

START_TEST(test_variable_path_opens_per_request_relative_to_prefix)
{
    ck_assert_int_eq(apply("log_format a '$arg_n';\naccess_log v_$arg_f.log a;"), PX_OK);
    start_worker();
    http_request_t *r = sample_request(http.loc_conf);
    r->args = S("f=x&n=1");
    http_log_request(r);
    r = sample_request(http.loc_conf);
    r->args = S("f=y&n=2");
    http_log_request(r);
    ck_assert_str_eq(file_text("v_x.log"), "1\n");
    ck_assert_str_eq(file_text("v_y.log"), "2\n");
    hooks()->exit_worker(cycle);
}
END_TEST

START_TEST(test_config_load_opens_nothing)
{
    cf.test_only = 1;
    ck_assert_int_eq(apply("access_log t.log;\naccess_log u.log combined buffer=1k;"), PX_OK);
    ck_assert_int_eq(http_variables_resolve(&cf), PX_OK);
    ck_assert(!exists("t.log"));
    ck_assert(!exists("u.log"));
}
END_TEST

START_TEST(test_unopenable_file_is_reported_and_skipped)
{
    ck_assert_int_eq(apply("access_log nodir/x.log;"), PX_OK);
    start_worker();
    ck_assert_ptr_nonnull(strstr(logged(), "[emerg] "));
    ck_assert_ptr_nonnull(strstr(logged(), "nodir/x.log\" failed (2: No such file or directory)"));
    http_log_request(sample_request(http.loc_conf));
    hooks()->exit_worker(cycle);
}
END_TEST

START_TEST(test_reopen_starts_a_new_file)
{
    ck_assert_int_eq(apply("log_format a '$arg_n';\naccess_log r.log a;"), PX_OK);
    start_worker();
    http_request_t *r = sample_request(http.loc_conf);
    r->args = S("n=1");
    http_log_request(r);
    char from[256], to[256];
    snprintf(from, sizeof(from), "%sr.log", prefix);
    snprintf(to, sizeof(to), "%sr.log.1", prefix);
    ck_assert_int_eq(rename(from, to), 0);
    hooks()->reopen_logs(cycle);
    r = sample_request(http.loc_conf);
    r->args = S("n=2");
    http_log_request(r);
    hooks()->exit_worker(cycle);
    ck_assert_str_eq(file_text("r.log.1"), "1\n");
    ck_assert_str_eq(file_text("r.log"), "2\n");
}
END_TEST

/* ---- inheritance ---- */

START_TEST(test_inheritance_whole_or_nothing_and_off)
{
    void **top = http.loc_conf;
    ck_assert_int_eq(apply("log_format a 'top';\nlog_format b 'own';\naccess_log i.log a;"), PX_OK);
    void **srv = new_level();
    void **inherits = new_level();
    void **own = new_level();
    void **off = new_level();
    void **off_and_path = new_level();
    ck_assert_int_eq(apply_at("access_log i.log b;", CONF_LOC, own), PX_OK);
    ck_assert_int_eq(apply_at("access_log off;", CONF_LOC, off), PX_OK);
    ck_assert_int_eq(apply_at("access_log off; access_log i.log b;", CONF_LOC, off_and_path),
                     PX_OK);
    merge(top, srv);
    merge(srv, inherits);
    merge(srv, own);
    merge(srv, off);
    merge(srv, off_and_path);
    void **under_off = new_level();
    merge(off, under_off);
    start_worker();
    void **levels[] = {top, srv, inherits, own, off, off_and_path, under_off};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        http_log_request(sample_request(levels[i]));
    hooks()->exit_worker(cycle);
    ck_assert_str_eq(file_text("i.log"), "top\ntop\ntop\nown\n");
}
END_TEST

START_TEST(test_no_access_log_anywhere_logs_nothing)
{
    void **loc = new_level();
    merge(http.loc_conf, loc);
    start_worker();
    ck_assert_int_eq(http_log_request(sample_request(loc)), PX_OK);
    hooks()->exit_worker(cycle);
    ck_assert(!exists("logs"));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_log");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_format_duplicate_name);
    tcase_add_test(tc, test_log_format_combined_is_predefined);
    tcase_add_test(tc, test_log_format_unknown_escaping);
    tcase_add_test(tc, test_log_format_needs_two_arguments);
    tcase_add_test(tc, test_log_format_escape_without_strings_is_an_empty_format);
    tcase_add_test(tc, test_log_format_bad_variables);
    tcase_add_test(tc, test_log_format_bad_variable_names_the_argument);
    tcase_add_test(tc, test_log_format_unclosed_bracket);
    tcase_add_test(tc, test_log_format_unknown_variable_is_reported_at_the_end);
    tcase_add_test(tc, test_log_format_not_allowed_in_server);
    tcase_add_test(tc, test_access_log_unknown_format);
    tcase_add_test(tc, test_access_log_off_takes_no_parameters);
    tcase_add_test(tc, test_access_log_bad_buffer);
    tcase_add_test(tc, test_access_log_zero_buffer);
    tcase_add_test(tc, test_access_log_bad_flush);
    tcase_add_test(tc, test_access_log_zero_flush);
    tcase_add_test(tc, test_access_log_flush_needs_buffer);
    tcase_add_test(tc, test_access_log_unknown_parameter);
    tcase_add_test(tc, test_access_log_conflicting_buffers_for_one_file);
    tcase_add_test(tc, test_access_log_buffered_path_with_variables);
    tcase_add_test(tc, test_access_log_gzip_is_refused_clearly);
    tcase_add_test(tc, test_access_log_syslog_is_refused_clearly);
    tcase_add_test(tc, test_access_log_bad_condition);
    tcase_add_test(tc, test_access_log_allowed_in_if_and_limit_except);
    tcase_add_test(tc, test_combined_format_byte_exact);
    tcase_add_test(tc, test_escape_modes);
    tcase_add_test(tc, test_if_condition_skips_empty_and_zero);
    tcase_add_test(tc, test_buffer_holds_lines_until_full_or_exit);
    tcase_add_test(tc, test_flush_timer_writes_buffered_lines);
    tcase_add_test(tc, test_variable_path_opens_per_request_relative_to_prefix);
    tcase_add_test(tc, test_config_load_opens_nothing);
    tcase_add_test(tc, test_unopenable_file_is_reported_and_skipped);
    tcase_add_test(tc, test_reopen_starts_a_new_file);
    tcase_add_test(tc, test_inheritance_whole_or_nothing_and_off);
    tcase_add_test(tc, test_no_access_log_anywhere_logs_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
