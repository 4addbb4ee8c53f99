/* Shared memory zones and their locks: see px_shm.h. */
#include "core/px_shm.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/px_log.h"

/* the lock sits at the start of the mapping, the usable bytes after it, cache-line aligned */
#define ZONE_HEADER 64

px_shm_zone_t *px_shm_zone_add(px_cycle_t *cycle, const char *name, size_t size,
                               px_shm_init_fn init, void *data)
{
    px_shm_zone_t *z = px_pcalloc(cycle->pool, sizeof(*z));
    px_shm_zone_t **slot = px_array_push(&cycle->shm_zones);
    if (z == NULL || slot == NULL)
        return NULL;
    z->name = px_pstrdup(cycle->pool, name, strlen(name));
    z->size = size;
    z->init = init;
    z->data = data;
    *slot = z;
    return z;
}

static void unmap_zone(void *arg)
{
    px_shm_zone_t *z = arg;
    if (z->addr)
        munmap((char *)z->addr - ZONE_HEADER, z->size + ZONE_HEADER);
    z->addr = NULL;
    z->lock = NULL;
}

int px_shm_map(px_cycle_t *cycle)
{
    px_shm_zone_t **zones = cycle->shm_zones.elts;
    for (size_t i = 0; i < cycle->shm_zones.nelts; i++) {
        px_shm_zone_t *z = zones[i];
        size_t len = z->size + ZONE_HEADER;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            px_log_error(PX_LOG_EMERG, NULL, errno, "mmap(MAP_ANONYMOUS|MAP_SHARED, %zu) failed",
                         len);
            return PX_ERROR;
        }
        z->lock = p;
        z->addr = (char *)p + ZONE_HEADER;
        if (px_pool_cleanup_add(cycle->pool, unmap_zone, z) != PX_OK) {
            unmap_zone(z);
            return PX_ERROR;
        }
        if (z->init && z->init(z) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

void px_shm_release_dead(px_cycle_t *cycle, pid_t pid)
{
    px_shm_zone_t **zones = cycle->shm_zones.elts;
    for (size_t i = 0; i < cycle->shm_zones.nelts; i++) {
        int expected = (int)pid;
        if (zones[i]->lock && atomic_compare_exchange_strong(&zones[i]->lock->holder, &expected, 0))
            px_log_error(PX_LOG_ALERT, NULL, 0, "shared memory zone \"%s\" was locked by %d",
                         zones[i]->name, (int)pid);
    }
}

/* The holder's pid, kept so that taking a lock costs no system call; set after fork by
 * px_shm_process_init (0: ask the kernel, for processes that never called it). */
static int self_pid;

void px_shm_process_init(void)
{
    self_pid = (int)getpid();
}

int px_shmtx_trylock(px_shmtx_t *m)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&m->holder, &expected, self_pid ? self_pid : (int)getpid());
}

void px_shmtx_lock(px_shmtx_t *m)
{
    /* holders only update a few words: spin briefly, then let the holder run */
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (atomic_load_explicit(&m->holder, memory_order_relaxed) == 0 && px_shmtx_trylock(m))
                return;
        }
        sched_yield();
    }
}

void px_shmtx_unlock(px_shmtx_t *m)
{
    atomic_store(&m->holder, 0);
}
