/* Shared memory zones: memory the master maps before it forks, so that every worker sees
 * the same bytes (upstream peer state, later limits and caches). A module asks for a zone
 * while the configuration is read; the master maps the zones of a cycle once the cycle is
 * accepted (never under -t) and runs each zone's init. Each zone starts with a lock that a
 * worker holds only for short, non-blocking updates; the master frees the lock of a worker
 * that died holding it. */
#ifndef PX_SHM_H
#define PX_SHM_H

#include <stdatomic.h>
#include <sys/types.h>

#include "core/px_cycle.h"

typedef struct {
    _Atomic int holder; /* pid of the process holding the lock, 0 when free */
} px_shmtx_t;

typedef struct px_shm_zone px_shm_zone_t;
/* Lays out a freshly mapped (zeroed) zone. PX_OK or PX_ERROR (logged). */
typedef int (*px_shm_init_fn)(px_shm_zone_t *zone);

struct px_shm_zone {
    const char *name;
    size_t size; /* usable bytes at addr */
    void *addr;  /* NULL until mapped */
    px_shmtx_t *lock;
    px_shm_init_fn init;
    void *data; /* the module's own */
};

/* Asks for a zone of size bytes in cycle; mapped later by px_shm_map. NULL on allocation
 * failure. Names are for messages only: two zones never share memory. */
px_shm_zone_t *px_shm_zone_add(px_cycle_t *cycle, const char *name, size_t size,
                               px_shm_init_fn init, void *data);
/* Maps every zone of cycle and runs the inits (the master, before forking workers).
 * The mappings go when the cycle's pool is destroyed. */
int px_shm_map(px_cycle_t *cycle);
/* After a worker died: frees every lock of cycle that pid held. */
void px_shm_release_dead(px_cycle_t *cycle, pid_t pid);

/* Called in each process that takes locks (a worker after fork): locks then cost no
 * getpid() system call. */
void px_shm_process_init(void);

void px_shmtx_lock(px_shmtx_t *m);
int px_shmtx_trylock(px_shmtx_t *m);
void px_shmtx_unlock(px_shmtx_t *m);

#endif
