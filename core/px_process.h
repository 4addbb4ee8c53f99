/* The master process (signals, workers, reload) and the worker's event loop. */
#ifndef PX_PROCESS_H
#define PX_PROCESS_H

#include "core/px_cycle.h"

/* Builds a new cycle from the configuration files, or NULL after logging why. */
typedef px_cycle_t *(*px_reload_fn)(px_cycle_t *old);

/* Runs the master until QUIT/TERM; returns the process exit code. */
/* The worker's slot (0 .. worker_processes - 1): work done by one worker only (health
 * checks) runs in slot 0. */
extern int px_worker_slot;

int px_master_run(px_cycle_t *cycle, px_reload_fn reload);
/* master_process off: one process serving directly (for debugging, as nginx). */
int px_single_run(px_cycle_t *cycle, px_reload_fn reload);
/* Detaches from the terminal (daemon on). */
int px_daemonize(void);
/* Opens the main error log of the cycle and makes it the process log. */
int px_open_error_log(px_cycle_t *cycle);
int px_write_pid_file(const char *path);

#endif
