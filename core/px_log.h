/* The error log: nginx's line format, levels, and per-connection context. */
#ifndef PX_LOG_H
#define PX_LOG_H

#include <stddef.h>
#include "core/px_string.h"

enum {
    PX_LOG_STDERR = 0,
    PX_LOG_EMERG,
    PX_LOG_ALERT,
    PX_LOG_CRIT,
    PX_LOG_ERR,
    PX_LOG_WARN,
    PX_LOG_NOTICE,
    PX_LOG_INFO,
    PX_LOG_DEBUG
};

typedef struct px_log px_log_t;
/* Appends context such as ", client: 1.2.3.4, server: x, request: \"GET / HTTP/1.1\"". */
typedef size_t (*px_log_handler_t)(px_log_t *log, char *buf, size_t len);

struct px_log {
    int fd;
    int level;
    unsigned long connection; /* 0: none */
    px_log_handler_t handler;
    void *data;
    const char *action; /* "while connecting to upstream" */
};

extern px_log_t px_errlog;     /* the process-wide error log */
extern int px_log_to_stderr;   /* also echo emerg/alert lines as "proxyd: [emerg] ..." to stderr */
extern int px_log_pid_tag;     /* value printed after '#' */

int px_log_level_from_name(px_str_t name);
const char *px_log_level_name(int level);

void px_log_error_core(int level, px_log_t *log, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define px_log_error(lvl_, log_, err_, ...)                                                        \
    do {                                                                                           \
        px_log_t *px_l_ = (log_) ? (log_) : &px_errlog;                                           \
        if ((lvl_) <= px_l_->level)                                                                \
            px_log_error_core((lvl_), px_l_, (err_), __VA_ARGS__);                                 \
    } while (0)

/* "proxyd: [emerg] msg" to stderr only (used by -t and before logs are open). */
void px_log_stderr(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Opens path for appending ("stderr" means fd 2). Returns fd or -1 with errno set. */
int px_log_open_file(const char *path);

#endif
