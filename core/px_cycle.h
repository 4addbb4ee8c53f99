/* A loaded configuration: main-context settings, listening sockets, and the modules'
 * configuration. The master keeps one current cycle; reload builds a new one. */
#ifndef PX_CYCLE_H
#define PX_CYCLE_H

#include <sys/types.h>

#include "core/px_conn.h"
#include "core/px_pool.h"

typedef struct px_cycle px_cycle_t;

/* Something a protocol module wants run in each worker after fork (e.g. build caches),
 * and when the worker stops. */
typedef struct {
    int (*init_worker)(px_cycle_t *cycle);
    void (*exit_worker)(px_cycle_t *cycle);
    void (*reopen_logs)(px_cycle_t *cycle);
    /* a graceful stop began: connections busy with requests hear of it (HTTP/2's GOAWAY) */
    void (*begin_exit)(px_cycle_t *cycle);
} px_worker_hooks_t;

struct px_cycle {
    px_pool_t *pool;
    const char *prefix;      /* -p, with trailing slash */
    const char *conf_file;   /* absolute path */
    const char *conf_prefix; /* directory of conf_file, with trailing slash */
    const char *error_log_cli; /* -e */

    int worker_processes;
    int daemon;
    int master_process;
    const char *pid_path;
    const char *error_log_path;
    int error_log_level;
    const char *user, *group;
    long rlimit_nofile;
    px_msec_t shutdown_timeout;
    unsigned worker_connections;
    int multi_accept;
    int accept_mutex;

    px_array_t listening; /* px_listening_t* */
    px_array_t env;       /* char* "NAME" or "NAME=value" */
    px_array_t worker_hooks; /* px_worker_hooks_t */
    px_array_t shm_zones;    /* px_shm_zone_t* (px_shm.h), mapped by the master */
    void **conf;          /* per-module configuration, indexed by module index */
    px_array_t files;     /* char* paths read (for -T) */
    void *conf_tree;      /* the parsed tree, for -T dumps */
};

px_cycle_t *px_cycle_new(void);
void px_cycle_free(px_cycle_t *cycle);

/* Adds a listening socket for addr unless one with the same text exists; returns it. */
px_listening_t *px_cycle_add_listening(px_cycle_t *cycle, const struct sockaddr *sa,
                                       socklen_t len, const char *text);
/* With reuseport, each worker gets a socket of its own: adds worker_processes - 1 copies. */
int px_cycle_clone_reuseport(px_cycle_t *cycle);
/* Opens the cycle's sockets, taking over those of old with the same address. */
int px_cycle_open_listening(px_cycle_t *cycle, px_cycle_t *old);
/* Closes sockets of old that cycle did not take over. */
void px_cycle_close_unused(px_cycle_t *old);

#endif
