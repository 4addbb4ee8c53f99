/* proxyd's command line: nginx's flags, then test, signal, or run the master. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf_module.h"
#include "core/modules.h"
#include "core/px_log.h"
#include "core/px_process.h"
#include "core/px_shm.h"

#define DEFAULT_PREFIX "/etc/proxyd/"
#define DEFAULT_CONF "/etc/proxyd/proxyd.conf"

typedef struct {
    int help, version, version_full, test, dump, quiet;
    const char *signal;
    const char *prefix;
    const char *conf;
    const char *error_log;
    const char *directives;
} options_t;

static options_t opt;
static conf_load_opts_t load_opts;

static void usage(void)
{
    fprintf(stderr,
            "Usage: proxyd [-?hvVtTq] [-s signal] [-p prefix]\n"
            "              [-e filename] [-c filename] [-g directives]\n\n"
            "Options:\n"
            "  -?,-h         : this help\n"
            "  -v            : show version and exit\n"
            "  -V            : show version and configure options then exit\n"
            "  -t            : test configuration and exit\n"
            "  -T            : test configuration, dump it and exit\n"
            "  -q            : suppress non-error messages during configuration testing\n"
            "  -s signal     : send signal to a master process: stop, quit, reopen, reload\n"
            "  -p prefix     : set prefix path (default: " DEFAULT_PREFIX ")\n"
            "  -e filename   : set error log file (default: stderr)\n"
            "  -c filename   : set configuration file (default: " DEFAULT_CONF ")\n"
            "  -g directives : set global directives out of configuration file\n\n");
}

/* nginx's option syntax: flags may be grouped (-tq); a value may follow attached or apart. */
static int parse_options(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *p = argv[i];
        if (*p++ != '-') {
            fprintf(stderr, "proxyd: invalid option: \"%s\"\n", argv[i]);
            return -1;
        }
        while (*p) {
            char c = *p++;
            const char **target = NULL;
            const char *what = NULL;
            switch (c) {
            case '?':
            case 'h':
                opt.help = opt.version = 1; /* nginx's help starts with the version line */
                continue;
            case 'v':
                opt.version = 1;
                continue;
            case 'V':
                opt.version = opt.version_full = 1;
                continue;
            case 't':
                opt.test = 1;
                continue;
            case 'T':
                opt.test = opt.dump = 1;
                continue;
            case 'q':
                opt.quiet = 1;
                continue;
            case 'p':
                target = &opt.prefix, what = "directory name";
                break;
            case 'e':
                target = &opt.error_log, what = "file name";
                break;
            case 'c':
                target = &opt.conf, what = "file name";
                break;
            case 'g':
                target = &opt.directives, what = "parameter";
                break;
            case 's':
                target = &opt.signal, what = "parameter";
                break;
            default:
                fprintf(stderr, "proxyd: invalid option: \"%c\"\n", c);
                return -1;
            }
            if (*p) {
                *target = p;
            } else if (i + 1 < argc) {
                *target = argv[++i];
            } else {
                fprintf(stderr, "proxyd: option \"-%c\" requires %s\n", c, what);
                return -1;
            }
            if (c == 's' && strcmp(opt.signal, "stop") && strcmp(opt.signal, "quit") &&
                strcmp(opt.signal, "reopen") && strcmp(opt.signal, "reload")) {
                fprintf(stderr, "proxyd: invalid option: \"-s %s\"\n", opt.signal);
                return -1;
            }
            break;
        }
    }
    return 0;
}

static char *with_slash(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 2);
    memcpy(p, dir, n);
    if (n == 0 || dir[n - 1] != '/')
        p[n++] = '/';
    p[n] = '\0';
    return p;
}

static char *under_prefix(const char *prefix, const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    size_t plen = strlen(prefix), len = strlen(path);
    char *p = malloc(plen + len + 1);
    memcpy(p, prefix, plen);
    memcpy(p + plen, path, len + 1);
    return p;
}

static px_cycle_t *reload_config(px_cycle_t *old)
{
    (void)old;
    int saved = px_log_to_stderr;
    px_log_to_stderr = 0;
    load_opts.test_only = 0;
    px_cycle_t *c = conf_load(&load_opts);
    px_log_to_stderr = saved;
    return c;
}

static void dump_config(px_cycle_t *cycle)
{
    conf_tree_t *tree = cycle->conf_tree;
    for (size_t i = 0; i < tree->nfiles; i++) {
        printf("# configuration file %s:\n", tree->files[i].path);
        /* nginx adds one newline whether or not the file ends with one. */
        fwrite(tree->files[i].content, 1, tree->files[i].len, stdout);
        putchar('\n');
    }
    fflush(stdout);
}

static int send_signal(px_cycle_t *cycle)
{
    static const struct {
        const char *name;
        int signo;
    } map[] = {{"stop", SIGTERM}, {"quit", SIGQUIT}, {"reopen", SIGUSR1}, {"reload", SIGHUP}};
    const char *path = cycle->pid_path;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        px_log_stderr(PX_LOG_ERR, errno, "open() \"%s\" failed", path);
        return 1;
    }
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    int64_t pid = px_atoi(buf, n);
    if (pid <= 0) {
        px_log_stderr(PX_LOG_ERR, 0, "invalid PID number \"%s\" in \"%s\"", buf, path);
        return 1;
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].name, opt.signal) == 0) {
            if (kill((pid_t)pid, map[i].signo) < 0) {
                px_log_stderr(PX_LOG_ALERT, errno, "kill(%d, %d) failed", (int)pid, map[i].signo);
                return 1;
            }
            return 0;
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (parse_options(argc, argv) != 0)
        return 1;
    if (opt.version) {
        fprintf(stderr, "proxyd version: proxyd/%s\n", PROXYD_VERSION);
        if (opt.help)
            usage();
        if (opt.version_full)
            fprintf(stderr, "built with OpenSSL 3, PCRE2, zlib, libnghttp2\n"
                            "configure arguments: (cmake)\n");
        return 0;
    }

    px_time_update();
    px_errlog.fd = -1;
    px_errlog.level = PX_LOG_NOTICE;
    px_log_to_stderr = 1;

    /* As nginx: a relative -c or -e names a file under the prefix, and a relative prefix
     * stays relative (proxyd never changes directory), so messages name files as nginx does. */
    char *prefix = with_slash(opt.prefix ? opt.prefix : DEFAULT_PREFIX);
    const char *conf_arg = opt.conf ? opt.conf : DEFAULT_CONF;
    char *conf = under_prefix(prefix, conf_arg); /* what conf_load reads, for messages */
    const char *error_log = NULL;
    if (opt.error_log)
        error_log = strcmp(opt.error_log, "stderr") == 0 ? opt.error_log
                                                         : under_prefix(prefix, opt.error_log);
    if (error_log && !opt.test && !opt.signal) {
        int fd = px_log_open_file(error_log);
        if (fd < 0) {
            px_log_stderr(PX_LOG_ALERT, errno,
                          "could not open error log file: open() \"%s\" failed", error_log);
            return 1;
        }
        px_errlog.fd = fd;
    }

    load_opts.prefix = prefix;
    load_opts.conf_file = conf_arg;
    load_opts.g_directives = opt.directives;
    load_opts.error_log_cli = error_log;
    load_opts.test_only = opt.test || opt.signal;
    load_opts.modules = (conf_module_t **)px_modules;
    load_opts.nmodules = px_nmodules;

    load_opts.announce_syntax_ok = opt.test && !opt.quiet;
    load_opts.announce_name = conf;
    px_cycle_t *cycle = conf_load(&load_opts);
    if (opt.test) {
        if (cycle == NULL) {
            fprintf(stderr, "proxyd: configuration file %s test failed\n", conf);
            return 1;
        }
        if (!opt.quiet)
            fprintf(stderr, "proxyd: configuration file %s test is successful\n", conf);
        if (opt.dump)
            dump_config(cycle);
        return 0;
    }
    if (cycle == NULL)
        return 1;
    if (opt.signal)
        return send_signal(cycle);

    if (px_cycle_open_listening(cycle, NULL) != PX_OK || px_shm_map(cycle) != PX_OK)
        return 1;
    if (px_open_error_log(cycle) != PX_OK)
        return 1;
    if (cycle->daemon && px_daemonize() != PX_OK)
        return 1;
    px_log_to_stderr = 0;
    if (cycle->master_process)
        return px_master_run(cycle, reload_config);
    return px_single_run(cycle, reload_config);
}
