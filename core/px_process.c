/* Master: forks workers that share the listening sockets, respawns the ones that die,
 * reloads on HUP without closing a listening socket whose address stayed, reopens logs
 * on USR1, stops gracefully on QUIT and fast on TERM/INT. Worker: runs the event loop
 * and, on QUIT, stops accepting, closes idle connections and exits once the in-flight
 * requests are done (or worker_shutdown_timeout passes). */
#include "core/px_process.h"
#include "core/px_shm.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 1024

typedef struct {
    pid_t pid;
    unsigned generation;
    int slot;
    int exiting;
} worker_t;

static worker_t workers[MAX_WORKERS];
static int nworkers;
static unsigned generation;

static volatile sig_atomic_t sig_reload, sig_quit, sig_terminate, sig_reopen, sig_child;
/* Who sent the last signal of each kind, for the log line nginx writes ("received from"). */
static volatile sig_atomic_t sig_sender[NSIG];
static volatile sig_atomic_t terminate_signo;

static void on_signal(int signo, siginfo_t *info, void *context)
{
    (void)context;
    if (signo > 0 && signo < NSIG)
        sig_sender[signo] = info ? info->si_pid : 0;
    switch (signo) {
    case SIGHUP:
        sig_reload = 1;
        break;
    case SIGQUIT:
        sig_quit = 1;
        break;
    case SIGTERM:
    case SIGINT:
        sig_terminate = 1;
        terminate_signo = signo;
        break;
    case SIGUSR1:
        sig_reopen = 1;
        break;
    case SIGCHLD:
        sig_child = 1;
        break;
    default: /* SIGALRM only wakes the master up */
        break;
    }
}

/* "signal 1 (SIGHUP) received from 1234, reconfiguring", as nginx words it. */
static void log_signal(int signo, const char *name, const char *action)
{
    pid_t from = signo > 0 && signo < NSIG ? sig_sender[signo] : 0;
    if (from > 0)
        px_log_error(PX_LOG_NOTICE, NULL, 0, "signal %d (%s) received from %d, %s", signo, name,
                     (int)from, action);
    else
        px_log_error(PX_LOG_NOTICE, NULL, 0, "signal %d (%s) received, %s", signo, name, action);
}

static const int handled_signals[] = {SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGUSR1, SIGCHLD, SIGALRM};

static void install_signals(sigset_t *blocked)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigemptyset(blocked);
    for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++) {
        sigaction(handled_signals[i], &sa, NULL);
        sigaddset(blocked, handled_signals[i]);
    }
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_BLOCK, blocked, NULL);
}

int px_open_error_log(px_cycle_t *cycle)
{
    const char *path = cycle->error_log_path;
    if (path == NULL)
        return PX_OK;
    int fd = px_log_open_file(path);
    if (fd < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "open() \"%s\" failed", path);
        return PX_ERROR;
    }
    int old = px_errlog.fd;
    px_errlog.fd = fd;
    if (old > 2)
        close(old);
    if (cycle->error_log_level > 0)
        px_errlog.level = cycle->error_log_level;
    return PX_OK;
}

int px_write_pid_file(const char *path)
{
    if (path == NULL)
        return PX_OK;
    /* written beside it and renamed over it, so that nobody (proxyd -s, a script started just
     * after us) ever reads an empty pid file */
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp)) {
        px_log_error(PX_LOG_EMERG, NULL, ENAMETOOLONG, "open() \"%s\" failed", path);
        return PX_ERROR;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "open() \"%s\" failed", path);
        return PX_ERROR;
    }
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "write() \"%s\" failed", path);
        close(fd);
        unlink(tmp);
        return PX_ERROR;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "rename() \"%s\" to \"%s\" failed", tmp, path);
        unlink(tmp);
        return PX_ERROR;
    }
    return PX_OK;
}

int px_daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "fork() failed");
        return PX_ERROR;
    }
    if (pid > 0)
        _exit(0);
    if (setsid() < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "setsid() failed");
        return PX_ERROR;
    }
    umask(0);
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return PX_ERROR;
    dup2(fd, 0);
    dup2(fd, 1);
    if (px_errlog.fd != 2)
        dup2(fd, 2);
    if (fd > 2)
        close(fd);
    return PX_OK;
}

/* ---- worker ---- */

static px_cycle_t *worker_cycle;
static px_timer_t shutdown_timer;

static void worker_reopen_logs(px_cycle_t *cycle)
{
    px_open_error_log(cycle);
    px_worker_hooks_t *h = cycle->worker_hooks.elts;
    for (size_t i = 0; i < cycle->worker_hooks.nelts; i++) {
        if (h[i].reopen_logs)
            h[i].reopen_logs(cycle);
    }
}

static void drop_privileges(px_cycle_t *cycle)
{
    if (geteuid() != 0 || cycle->user == NULL)
        return;
    struct passwd *pw = getpwnam(cycle->user);
    if (pw == NULL) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "getpwnam(\"%s\") failed", cycle->user);
        exit(2);
    }
    gid_t gid = pw->pw_gid;
    if (cycle->group) {
        struct group *gr = getgrnam(cycle->group);
        if (gr == NULL) {
            px_log_error(PX_LOG_EMERG, NULL, errno, "getgrnam(\"%s\") failed", cycle->group);
            exit(2);
        }
        gid = gr->gr_gid;
    }
    if (setgid(gid) < 0 || initgroups(cycle->user, gid) < 0 || setuid(pw->pw_uid) < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "setuid(%s) failed", cycle->user);
        exit(2);
    }
}

/* env: workers see only TZ and the variables the configuration names (NAME or NAME=VALUE). */
static void apply_env(px_cycle_t *cycle)
{
    const char **names = cycle->env.elts;
    size_t n = cycle->env.nelts;
    char **saved = calloc(n + 1, sizeof(char *));
    const char *tz = getenv("TZ");
    char *tz_copy = tz ? strdup(tz) : NULL;
    for (size_t i = 0; saved && i < n; i++) {
        if (strchr(names[i], '=')) {
            saved[i] = strdup(names[i]);
        } else {
            const char *v = getenv(names[i]);
            if (v && (saved[i] = malloc(strlen(names[i]) + strlen(v) + 2)))
                sprintf(saved[i], "%s=%s", names[i], v);
        }
    }
    clearenv();
    if (tz_copy)
        setenv("TZ", tz_copy, 1);
    for (size_t i = 0; saved && i < n; i++) {
        if (saved[i])
            putenv(saved[i]); /* the strings stay allocated: putenv keeps them */
    }
    free(tz_copy);
    free(saved);
}

static void shutdown_expired(px_timer_t *t)
{
    (void)t;
    px_log_error(PX_LOG_NOTICE, NULL, 0, "worker_shutdown_timeout expired, closing %u connections",
                 px_conn_active);
    exit(0);
}

static void worker_begin_exit(px_cycle_t *cycle)
{
    if (px_worker_exiting)
        return;
    px_listening_t **ls = cycle->listening.elts;
    for (size_t i = 0; i < cycle->listening.nelts; i++)
        px_listening_stop(ls[i]);
    px_worker_exiting = 1;
    px_conn_close_idle();
    px_worker_hooks_t *h = cycle->worker_hooks.elts;
    for (size_t i = 0; i < cycle->worker_hooks.nelts; i++) {
        if (h[i].begin_exit)
            h[i].begin_exit(cycle);
    }
    if (cycle->shutdown_timeout) {
        px_timer_init(&shutdown_timer, shutdown_expired, NULL);
        px_timer_add(&shutdown_timer, cycle->shutdown_timeout);
    }
}

static void worker_exit(px_cycle_t *cycle, int code)
{
    px_worker_hooks_t *h = cycle->worker_hooks.elts;
    for (size_t i = 0; i < cycle->worker_hooks.nelts; i++) {
        if (h[i].exit_worker)
            h[i].exit_worker(cycle);
    }
    px_log_error(PX_LOG_NOTICE, NULL, 0, "exit");
    exit(code);
}

/* Runs the loop of one worker; never returns. slot picks reuseport sockets. */
int px_worker_slot;

/* ---- giving memory back after a burst ----
 * A burst of requests leaves the heap full of freed buffers and pools that malloc keeps; once
 * the worker has seen no socket event for TRIM_QUIET ms, free pages go back to the system
 * (8,000 keepalive connections opened at once, then idle: 607 -> ~300 bytes of worker RSS per
 * connection). The check is a timer armed only while there is activity: an idle worker is
 * not woken, a busy one looks at most every TRIM_QUIET ms. */
#define TRIM_QUIET 200
#define TRIM_MIN_FREE (1u << 20)
static px_timer_t trim_timer;
static unsigned long trim_seen;

static void trim_check(px_timer_t *t)
{
    if (px_event_count != trim_seen) {
        trim_seen = px_event_count;
        px_timer_add(t, TRIM_QUIET);
        return;
    }
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks >= TRIM_MIN_FREE)
        malloc_trim(0);
}

static void trim_watch(void)
{
    if (!px_timer_active(&trim_timer) && px_event_count != trim_seen) {
        trim_seen = px_event_count;
        px_timer_add(&trim_timer, TRIM_QUIET);
    }
}

static void worker_run(px_cycle_t *cycle, int slot, int single)
{
    worker_cycle = cycle;
    px_worker_slot = slot;
    px_shm_process_init();
    sigset_t blocked, empty;
    install_signals(&blocked);
    sigemptyset(&empty);
    if (!single)
        signal(SIGCHLD, SIG_DFL);

    if (cycle->rlimit_nofile > 0) {
        struct rlimit rl = {(rlim_t)cycle->rlimit_nofile, (rlim_t)cycle->rlimit_nofile};
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            px_log_error(PX_LOG_ALERT, NULL, errno, "setrlimit(RLIMIT_NOFILE, %ld) failed",
                         cycle->rlimit_nofile);
    }
    apply_env(cycle);
    px_accept_multi = cycle->multi_accept;

    px_time_update();
    if (px_event_init(512) != PX_OK || px_conn_pool_init(cycle->worker_connections) != PX_OK)
        exit(2);

    px_listening_t **ls = cycle->listening.elts;
    for (size_t i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i]->reuseport && (int)ls[i]->worker_slot != slot) {
            if (!single) {
                close(ls[i]->fd);
                ls[i]->fd = -1;
            }
            continue;
        }
        if (px_listening_enable(ls[i]) != PX_OK)
            exit(2);
    }
    px_worker_hooks_t *h = cycle->worker_hooks.elts;
    for (size_t i = 0; i < cycle->worker_hooks.nelts; i++) {
        if (h[i].init_worker && h[i].init_worker(cycle) != PX_OK)
            exit(2);
    }
    /* Log files are open by now, as root if we started as root, like nginx's master opens them. */
    if (!single)
        drop_privileges(cycle);

    px_timer_init(&trim_timer, trim_check, NULL);
    for (;;) {
        if (px_event_process(&empty) != PX_OK)
            exit(2);
        trim_watch();
        if (sig_terminate) {
            px_log_error(PX_LOG_NOTICE, NULL, 0, "exiting");
            worker_exit(cycle, 0);
        }
        if (sig_quit) {
            sig_quit = 0;
            px_log_error(PX_LOG_NOTICE, NULL, 0, "gracefully shutting down");
            worker_begin_exit(cycle);
        }
        if (sig_reopen) {
            sig_reopen = 0;
            px_log_error(PX_LOG_NOTICE, NULL, 0, "reopening logs");
            worker_reopen_logs(cycle);
        }
        if (px_worker_exiting && px_conn_active == 0) {
            px_log_error(PX_LOG_NOTICE, NULL, 0, "exiting");
            worker_exit(cycle, 0);
        }
    }
}

/* ---- master ---- */

static int spawn_worker(px_cycle_t *cycle, int slot)
{
    pid_t pid = fork();
    if (pid < 0) {
        px_log_error(PX_LOG_ALERT, NULL, errno, "fork() failed while spawning \"worker process\"");
        return PX_ERROR;
    }
    if (pid == 0)
        worker_run(cycle, slot, 0);
    int i;
    for (i = 0; i < nworkers; i++) {
        if (workers[i].pid == 0)
            break;
    }
    if (i == nworkers) {
        if (nworkers == MAX_WORKERS)
            return PX_ERROR;
        nworkers++;
    }
    workers[i].pid = pid;
    workers[i].generation = generation;
    workers[i].slot = slot;
    workers[i].exiting = 0;
    px_log_error(PX_LOG_NOTICE, NULL, 0, "start worker process %d", (int)pid);
    return PX_OK;
}

static void spawn_workers(px_cycle_t *cycle)
{
    px_log_error(PX_LOG_NOTICE, NULL, 0, "start worker processes");
    for (int i = 0; i < cycle->worker_processes; i++)
        spawn_worker(cycle, i);
}

static void signal_workers(int signo, int only_old)
{
    for (int i = 0; i < nworkers; i++) {
        if (workers[i].pid == 0)
            continue;
        if (only_old && workers[i].generation == generation)
            continue;
        if (signo == SIGQUIT || signo == SIGTERM)
            workers[i].exiting = 1;
        if (kill(workers[i].pid, signo) < 0 && errno != ESRCH)
            px_log_error(PX_LOG_ALERT, NULL, errno, "kill(%d, %d) failed", (int)workers[i].pid,
                         signo);
    }
}

static int live_workers(void)
{
    int n = 0;
    for (int i = 0; i < nworkers; i++)
        n += workers[i].pid != 0;
    return n;
}

static void reap_children(px_cycle_t *cycle, int stopping)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        int i;
        for (i = 0; i < nworkers; i++) {
            if (workers[i].pid == pid)
                break;
        }
        if (i == nworkers)
            continue;
        worker_t w = workers[i];
        workers[i].pid = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            px_shm_release_dead(cycle, pid);
        if (WIFSIGNALED(status))
            px_log_error(PX_LOG_ALERT, NULL, 0, "worker process %d exited on signal %d", (int)pid,
                         WTERMSIG(status));
        else if (WEXITSTATUS(status) != 0 || !w.exiting)
            px_log_error(PX_LOG_ALERT, NULL, 0, "worker process %d exited with code %d", (int)pid,
                         WEXITSTATUS(status));
        else
            px_log_error(PX_LOG_NOTICE, NULL, 0, "worker process %d exited with code 0", (int)pid);
        /* A worker that dies on its own is replaced; one that failed to start (exit 2) is not,
         * or a broken setup would fork in a loop. */
        if (!stopping && !w.exiting && w.generation == generation &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 2))
            spawn_worker(cycle, w.slot);
    }
}

static void master_exit(px_cycle_t *cycle, int code)
{
    if (cycle->pid_path)
        unlink(cycle->pid_path);
    px_cycle_close_unused(cycle);
    px_log_error(PX_LOG_NOTICE, NULL, 0, "exit");
    exit(code);
}

static px_cycle_t *master_reload(px_cycle_t *cycle, px_reload_fn reload)
{
    log_signal(SIGHUP, "SIGHUP", "reconfiguring");
    px_log_error(PX_LOG_NOTICE, NULL, 0, "reconfiguring");
    px_cycle_t *next = reload(cycle);
    if (next == NULL)
        return cycle;
    if (px_cycle_open_listening(next, cycle) != PX_OK || px_shm_map(next) != PX_OK) {
        /* Give back what the new cycle took over; close what it opened. */
        px_listening_t **ls = next->listening.elts;
        px_listening_t **ols = cycle->listening.elts;
        for (size_t j = 0; j < cycle->listening.nelts; j++)
            ols[j]->kept = 0;
        for (size_t i = 0; i < next->listening.nelts; i++) {
            int shared = 0;
            for (size_t j = 0; j < cycle->listening.nelts; j++)
                shared |= ols[j]->fd == ls[i]->fd;
            if (!shared && ls[i]->fd >= 0)
                close(ls[i]->fd);
            ls[i]->fd = -1;
        }
        px_cycle_free(next);
        return cycle;
    }
    if (next->pid_path && (cycle->pid_path == NULL || strcmp(next->pid_path, cycle->pid_path))) {
        px_write_pid_file(next->pid_path);
        if (cycle->pid_path)
            unlink(cycle->pid_path);
    }
    px_open_error_log(next);
    /* Before the fork: a new worker would otherwise inherit the sockets of removed listen
     * addresses and keep them listening, with nobody accepting, for as long as it lives. */
    px_cycle_close_unused(cycle);
    generation++;
    spawn_workers(next);
    signal_workers(SIGQUIT, 1);
    px_cycle_free(cycle);
    return next;
}

int px_master_run(px_cycle_t *cycle, px_reload_fn reload)
{
    sigset_t blocked, empty;
    install_signals(&blocked);
    sigemptyset(&empty);
    if (px_write_pid_file(cycle->pid_path) != PX_OK)
        return 1;
    px_log_error(PX_LOG_NOTICE, NULL, 0, "proxyd/%s", PROXYD_VERSION);
    spawn_workers(cycle);

    int stopping = 0;
    px_msec_t kill_at = 0;
    for (;;) {
        if (stopping) {
            /* Wake up periodically to escalate a stop that takes too long. */
            alarm(1);
        }
        sigsuspend(&empty);
        px_time_update();
        if (sig_child) {
            sig_child = 0;
            reap_children(cycle, stopping);
        }
        if (stopping) {
            if (live_workers() == 0)
                master_exit(cycle, 0);
            if (kill_at && px_current_msec >= kill_at) {
                signal_workers(SIGKILL, 0);
                kill_at = 0;
            }
        }
        if (sig_terminate) {
            sig_terminate = 0;
            log_signal(terminate_signo, terminate_signo == SIGINT ? "SIGINT" : "SIGTERM",
                       "exiting");
            signal_workers(SIGTERM, 0);
            stopping = 1;
            kill_at = px_current_msec + 5000;
        }
        if (sig_quit) {
            sig_quit = 0;
            log_signal(SIGQUIT, "SIGQUIT", "shutting down");
            signal_workers(SIGQUIT, 0);
            stopping = 1;
            /* Listening sockets close now so a new instance can bind while workers drain. */
            px_cycle_close_unused(cycle);
        }
        if (stopping && live_workers() == 0)
            master_exit(cycle, 0);
        if (stopping)
            continue;
        if (sig_reload) {
            sig_reload = 0;
            cycle = master_reload(cycle, reload);
        }
        if (sig_reopen) {
            sig_reopen = 0;
            log_signal(SIGUSR1, "SIGUSR1", "reopening logs");
            px_log_error(PX_LOG_NOTICE, NULL, 0, "reopening logs");
            px_open_error_log(cycle);
            signal_workers(SIGUSR1, 0);
        }
    }
}

int px_single_run(px_cycle_t *cycle, px_reload_fn reload)
{
    (void)reload;
    if (px_write_pid_file(cycle->pid_path) != PX_OK)
        return 1;
    worker_run(cycle, 0, 1);
    return 0;
}
