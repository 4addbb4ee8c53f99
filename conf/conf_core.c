/* Main-context directives (worker_processes, daemon, pid, error_log, user, ...) and the
 * events{} block. Their values land in the cycle, which core/ runs. */
#include <errno.h>
#include <unistd.h>

#include "conf/conf_module.h"
#include "conf/conf_value.h"
#include "core/px_log.h"

typedef struct {
    int worker_processes;
    int daemon;
    int master_process;
    px_str_t pid;
    px_str_t user, group;
    int rlimit_nofile;
    int64_t shutdown_timeout;
    px_str_t error_log;
    int error_log_level;
    int events_seen;
} core_conf_t;

typedef struct {
    int connections;
    int multi_accept;
    int accept_mutex;
    int64_t accept_mutex_delay;
    int use;
} events_conf_t;

static const char *dup_error(conf_ctx_t *cf, const conf_node_t *n)
{
    return px_psprintf(cf->pool, "\"%s\" directive is duplicate", n->name.data);
}

static const char *set_worker_processes(conf_ctx_t *cf, const conf_node_t *n,
                                        const conf_directive_t *d, void *conf)
{
    (void)d;
    core_conf_t *cc = conf;
    if (cc->worker_processes != CONF_UNSET)
        return dup_error(cf, n);
    if (px_str_eq_lit(n->args[0].value, "auto")) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cc->worker_processes = cpus > 0 ? (int)cpus : 1;
        return NULL;
    }
    int64_t v = conf_parse_number(n->args[0].value);
    if (v < 0 || v > 1024)
        return "\"worker_processes\" directive invalid value";
    cc->worker_processes = (int)v;
    return NULL;
}

/* "error_log FILE [LEVEL]" in the main context. */
static const char *set_error_log(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                 void *conf)
{
    (void)d;
    core_conf_t *cc = conf;
    if (cc->error_log.data)
        return "\"error_log\" directive is duplicate";
    if (n->args[0].value.len == 0)
        return px_psprintf(cf->pool, "invalid error log file name \"\"");
    if (px_str_eq_lit(n->args[0].value, "syslog") || strncmp(n->args[0].value.data, "syslog:", 7) == 0 ||
        strncmp(n->args[0].value.data, "memory:", 7) == 0)
        return px_psprintf(cf->pool, "error log target \"%s\" is not supported by proxyd",
                           n->args[0].value.data);
    cc->error_log = n->args[0].value;
    cc->error_log_level = PX_LOG_ERR;
    if (n->nargs == 2) {
        int level = px_log_level_from_name(n->args[1].value);
        if (level < 0)
            return px_psprintf(cf->pool, "invalid log level \"%s\"", n->args[1].value.data);
        cc->error_log_level = level;
    }
    return NULL;
}

static const char *set_user(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                            void *conf)
{
    (void)d;
    core_conf_t *cc = conf;
    if (cc->user.data)
        return dup_error(cf, n);
    if (geteuid() != 0) {
        conf_log(cf, PX_LOG_WARN, 0,
                 "the \"user\" directive makes sense only if the master process runs with "
                 "super-user privileges, ignored");
        cc->user = PX_STR("");
        return NULL;
    }
    cc->user = n->args[0].value;
    cc->group = n->nargs == 2 ? n->args[1].value : n->args[0].value;
    return NULL;
}

static const char *set_env(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                           void *conf)
{
    (void)d;
    (void)conf;
    const char **slot = px_array_push(&cf->cycle->env);
    if (slot == NULL)
        return CONF_ERROR;
    *slot = n->args[0].value.data;
    return NULL;
}

static const char *set_events(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                              void *conf)
{
    (void)d;
    core_conf_t *cc = conf;
    if (cc->events_seen)
        return "\"events\" directive is duplicate";
    cc->events_seen = 1;
    return conf_apply_block(cf, n, CONF_EVENTS) == PX_OK ? NULL : CONF_ERROR;
}

static void *create_core_conf(conf_ctx_t *cf)
{
    core_conf_t *cc = px_pcalloc(cf->pool, sizeof(*cc));
    cc->worker_processes = CONF_UNSET;
    cc->daemon = CONF_UNSET;
    cc->master_process = CONF_UNSET;
    cc->rlimit_nofile = CONF_UNSET;
    cc->shutdown_timeout = -1;
    cc->error_log_level = CONF_UNSET;
    return cc;
}

static const char *resolve_path(conf_ctx_t *cf, px_str_t path)
{
    if (path.data[0] == '/' || px_str_eq_lit(path, "stderr"))
        return path.data;
    return px_psprintf(cf->pool, "%s%s", cf->cycle->prefix, path.data);
}

static const char *init_core_conf(conf_ctx_t *cf, void *conf)
{
    core_conf_t *cc = conf;
    px_cycle_t *cycle = cf->cycle;
    if (!cc->events_seen)
        return "no \"events\" section in configuration";
    cycle->worker_processes = cc->worker_processes == CONF_UNSET ? 1 : cc->worker_processes;
    cycle->daemon = cc->daemon == CONF_UNSET ? 1 : cc->daemon;
    cycle->master_process = cc->master_process == CONF_UNSET ? 1 : cc->master_process;
    cycle->pid_path = cc->pid.data ? resolve_path(cf, cc->pid) : "/run/proxyd.pid";
    cycle->rlimit_nofile = cc->rlimit_nofile == CONF_UNSET ? -1 : cc->rlimit_nofile;
    cycle->shutdown_timeout = cc->shutdown_timeout < 0 ? 0 : (px_msec_t)cc->shutdown_timeout;
    if (cc->user.len) {
        cycle->user = cc->user.data;
        cycle->group = cc->group.data;
    }
    if (cc->error_log.data) {
        cycle->error_log_path = resolve_path(cf, cc->error_log);
        cycle->error_log_level = cc->error_log_level;
    } else if (cycle->error_log_cli) {
        cycle->error_log_path = cycle->error_log_cli;
        cycle->error_log_level = PX_LOG_ERR;
    } else {
        cycle->error_log_path = "stderr";
        cycle->error_log_level = PX_LOG_ERR;
    }
    return NULL;
}

static const conf_directive_t core_directives[] = {
    {"worker_processes", CONF_MAIN, CONF_TAKE1, set_worker_processes, CONF_CORE_CONF, 0, NULL},
    {"daemon", CONF_MAIN, CONF_FLAG, conf_set_flag, CONF_CORE_CONF, offsetof(core_conf_t, daemon), NULL},
    {"master_process", CONF_MAIN, CONF_FLAG, conf_set_flag, CONF_CORE_CONF,
     offsetof(core_conf_t, master_process), NULL},
    {"pid", CONF_MAIN, CONF_TAKE1, conf_set_str, CONF_CORE_CONF, offsetof(core_conf_t, pid), NULL},
    {"error_log", CONF_MAIN, CONF_TAKE12, set_error_log, CONF_CORE_CONF, 0, NULL},
    {"user", CONF_MAIN, CONF_TAKE12, set_user, CONF_CORE_CONF, 0, NULL},
    {"worker_rlimit_nofile", CONF_MAIN, CONF_TAKE1, conf_set_num, CONF_CORE_CONF,
     offsetof(core_conf_t, rlimit_nofile), NULL},
    {"worker_shutdown_timeout", CONF_MAIN, CONF_TAKE1, conf_set_msec, CONF_CORE_CONF,
     offsetof(core_conf_t, shutdown_timeout), NULL},
    {"env", CONF_MAIN, CONF_TAKE1, set_env, CONF_CORE_CONF, 0, NULL},
    {"events", CONF_MAIN, CONF_BLOCK | CONF_NOARGS, set_events, CONF_CORE_CONF, 0, NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t conf_core_module = {
    .name = "core",
    .directives = core_directives,
    .create_core_conf = create_core_conf,
    .init_core_conf = init_core_conf,
};

/* ---- events {} ---- */

enum { EVENTS_EPOLL = 1 };
static const conf_enum_t event_methods[] = {{"epoll", EVENTS_EPOLL}, {NULL, 0}};

static const char *set_use(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                           void *conf)
{
    (void)d;
    events_conf_t *ec = conf;
    if (ec->use != CONF_UNSET)
        return dup_error(cf, n);
    for (const conf_enum_t *e = event_methods; e->name; e++) {
        if (px_str_eq_lit(n->args[0].value, e->name)) {
            ec->use = e->value;
            return NULL;
        }
    }
    return px_psprintf(cf->pool, "invalid event type \"%s\"", n->args[0].value.data);
}

static const char *set_connections(conf_ctx_t *cf, const conf_node_t *n, const conf_directive_t *d,
                                   void *conf)
{
    (void)d;
    events_conf_t *ec = conf;
    if (ec->connections != CONF_UNSET)
        return dup_error(cf, n);
    int64_t v = conf_parse_number(n->args[0].value);
    if (v < 0 || v > 1000000)
        return px_psprintf(cf->pool, "invalid number \"%s\"", n->args[0].value.data);
    ec->connections = (int)v;
    return NULL;
}

static void *create_events_conf(conf_ctx_t *cf)
{
    events_conf_t *ec = px_pcalloc(cf->pool, sizeof(*ec));
    ec->connections = CONF_UNSET;
    ec->multi_accept = CONF_UNSET;
    ec->accept_mutex = CONF_UNSET;
    ec->accept_mutex_delay = -1;
    ec->use = CONF_UNSET;
    return ec;
}

static const char *init_events_conf(conf_ctx_t *cf, void *conf)
{
    events_conf_t *ec = conf;
    cf->cycle->worker_connections = ec->connections == CONF_UNSET ? 512 : (unsigned)ec->connections;
    cf->cycle->multi_accept = ec->multi_accept == 1;
    cf->cycle->accept_mutex = ec->accept_mutex == 1;
    /* Too few connections is not a configuration error for nginx either: a worker short of
     * connections logs "worker_connections are not enough" when it accepts. */
    return NULL;
}

static const conf_directive_t events_directives[] = {
    {"worker_connections", CONF_EVENTS, CONF_TAKE1, set_connections, CONF_CORE_CONF, 0, NULL},
    {"use", CONF_EVENTS, CONF_TAKE1, set_use, CONF_CORE_CONF, 0, NULL},
    {"multi_accept", CONF_EVENTS, CONF_FLAG, conf_set_flag, CONF_CORE_CONF,
     offsetof(events_conf_t, multi_accept), NULL},
    {"accept_mutex", CONF_EVENTS, CONF_FLAG, conf_set_flag, CONF_CORE_CONF,
     offsetof(events_conf_t, accept_mutex), NULL},
    {"accept_mutex_delay", CONF_EVENTS, CONF_TAKE1, conf_set_msec, CONF_CORE_CONF,
     offsetof(events_conf_t, accept_mutex_delay), NULL},
    {NULL, 0, 0, NULL, 0, 0, NULL},
};

conf_module_t conf_events_module = {
    .name = "events",
    .directives = events_directives,
    .create_core_conf = create_events_conf,
    .init_core_conf = init_events_conf,
};
