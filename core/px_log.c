/* Error log writer: "2026/01/02 03:04:05 [error] PID#0: *CONN message, context". */
#include "core/px_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/px_time.h"

px_log_t px_errlog = {2, PX_LOG_ERR, 0, NULL, NULL, NULL};
int px_log_to_stderr;
int px_log_pid_tag;

static const char *level_names[] = {"",     "emerg",  "alert", "crit", "error",
                                    "warn", "notice", "info",  "debug"};

int px_log_level_from_name(px_str_t name)
{
    for (int i = PX_LOG_EMERG; i <= PX_LOG_DEBUG; i++) {
        if (px_str_eq_lit(name, level_names[i]))
            return i;
    }
    return -1;
}

const char *px_log_level_name(int level)
{
    return level_names[level];
}

static size_t append_err(char *buf, size_t pos, size_t cap, int err)
{
    if (err && pos < cap) {
        int n = snprintf(buf + pos, cap - pos, " (%d: %s)", err, strerror(err));
        if (n > 0)
            pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    }
    return pos;
}

void px_log_error_core(int level, px_log_t *log, int err, const char *fmt, ...)
{
    char buf[4096];
    const size_t cap = sizeof(buf) - 1;
    px_str_t t = px_time_err_log();
    int n = snprintf(buf, cap, "%.*s [%s] %d#0: ", (int)t.len, t.data, level_names[level],
                     (int)getpid());
    size_t pos = (size_t)n;
    if (log->connection)
        pos += (size_t)snprintf(buf + pos, cap - pos, "*%lu ", log->connection);
    size_t msg_start = pos;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    pos = append_err(buf, pos, cap, err);
    size_t msg_end = pos;
    if (log->action && pos < cap)
        pos += (size_t)snprintf(buf + pos, cap - pos, " %s", log->action);
    if (pos > cap)
        pos = cap;
    if (log->handler && pos < cap)
        pos += log->handler(log, buf + pos, cap - pos);
    if (pos > cap)
        pos = cap;
    buf[pos++] = '\n';
    if (log->fd >= 0 && write(log->fd, buf, pos) < 0) {
        /* nothing sensible to do when the error log itself fails */
    }
    if (px_log_to_stderr && level <= PX_LOG_WARN && log->fd != 2) {
        char out[4200];
        int m = snprintf(out, sizeof(out), "proxyd: [%s] %.*s\n", level_names[level],
                         (int)(msg_end - msg_start), buf + msg_start);
        if (m > 0 && write(2, out, (size_t)m < sizeof(out) ? (size_t)m : sizeof(out) - 1) < 0) {
        }
    }
}

void px_log_stderr(int level, int err, const char *fmt, ...)
{
    char buf[4096];
    const size_t cap = sizeof(buf) - 1;
    int n = snprintf(buf, cap, "proxyd: [%s] ", level_names[level]);
    size_t pos = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    n = vsnprintf(buf + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
    pos = append_err(buf, pos, cap, err);
    if (pos > cap)
        pos = cap;
    buf[pos++] = '\n';
    if (write(2, buf, pos) < 0) {
    }
}

int px_log_open_file(const char *path)
{
    if (strcmp(path, "stderr") == 0)
        return 2;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}
