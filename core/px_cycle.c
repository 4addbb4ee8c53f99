/* Cycle lifetime and the hand-over of listening sockets between configurations. */
#include "core/px_cycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/un.h>
#include <unistd.h>

px_cycle_t *px_cycle_new(void)
{
    px_pool_t *pool = px_pool_create(16384);
    if (pool == NULL)
        return NULL;
    px_cycle_t *c = px_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->worker_processes = 1;
    c->daemon = 1;
    c->master_process = 1;
    c->error_log_level = -1;
    c->rlimit_nofile = -1;
    c->worker_connections = 512;
    c->multi_accept = 0;
    c->shutdown_timeout = 0;
    px_array_init(&c->listening, pool, 8, sizeof(px_listening_t *));
    px_array_init(&c->env, pool, 4, sizeof(char *));
    px_array_init(&c->worker_hooks, pool, 4, sizeof(px_worker_hooks_t));
    px_array_init(&c->shm_zones, pool, 2, sizeof(void *));
    px_array_init(&c->files, pool, 4, sizeof(char *));
    return c;
}

void px_cycle_free(px_cycle_t *cycle)
{
    if (cycle)
        px_pool_destroy(cycle->pool);
}

px_listening_t *px_cycle_add_listening(px_cycle_t *cycle, const struct sockaddr *sa,
                                       socklen_t len, const char *text)
{
    px_listening_t **ls = cycle->listening.elts;
    for (size_t i = 0; i < cycle->listening.nelts; i++) {
        if (strcmp(ls[i]->text, text) == 0)
            return ls[i];
    }
    px_listening_t *l = px_pcalloc(cycle->pool, sizeof(*l));
    px_listening_t **slot = px_array_push(&cycle->listening);
    if (l == NULL || slot == NULL)
        return NULL;
    memcpy(&l->addr, sa, len);
    l->addrlen = len;
    snprintf(l->text, sizeof(l->text), "%s", text);
    l->fd = -1;
    l->backlog = 511;
    l->rcvbuf = l->sndbuf = -1;
    l->ipv6only = -1;
    *slot = l;
    return l;
}

static int same_socket(const px_listening_t *a, const px_listening_t *b)
{
    return strcmp(a->text, b->text) == 0 && a->reuseport == b->reuseport &&
           a->worker_slot == b->worker_slot && a->ipv6only == b->ipv6only;
}

int px_cycle_open_listening(px_cycle_t *cycle, px_cycle_t *old)
{
    px_listening_t **ls = cycle->listening.elts;
    for (size_t i = 0; i < cycle->listening.nelts; i++) {
        if (old) {
            px_listening_t **ols = old->listening.elts;
            for (size_t j = 0; j < old->listening.nelts; j++) {
                if (ols[j]->fd >= 0 && !ols[j]->kept && same_socket(ls[i], ols[j])) {
                    ls[i]->fd = ols[j]->fd;
                    ols[j]->kept = 1;
                    break;
                }
            }
        }
        if (ls[i]->fd >= 0)
            continue;
        if (px_listening_open(ls[i]) != PX_OK)
            return PX_ERROR;
    }
    return PX_OK;
}

void px_cycle_close_unused(px_cycle_t *old)
{
    px_listening_t **ls = old->listening.elts;
    for (size_t i = 0; i < old->listening.nelts; i++) {
        if (ls[i]->fd >= 0 && !ls[i]->kept) {
            close(ls[i]->fd);
            if (ls[i]->addr.ss_family == AF_UNIX)
                unlink(((struct sockaddr_un *)&ls[i]->addr)->sun_path);
        }
        ls[i]->fd = -1;
    }
}

int px_cycle_clone_reuseport(px_cycle_t *cycle)
{
    size_t n = cycle->listening.nelts;
    for (size_t i = 0; i < n; i++) {
        px_listening_t *orig = ((px_listening_t **)cycle->listening.elts)[i];
        if (!orig->reuseport || orig->worker_slot != 0)
            continue;
        /* one socket per worker, so the kernel spreads connections among them */
        for (int w = 1; w < cycle->worker_processes; w++) {
            px_listening_t *l = px_palloc(cycle->pool, sizeof(*l));
            px_listening_t **slot = px_array_push(&cycle->listening);
            if (l == NULL || slot == NULL)
                return PX_ERROR;
            *l = *orig;
            l->worker_slot = (unsigned)w;
            *slot = l;
        }
    }
    return PX_OK;
}
