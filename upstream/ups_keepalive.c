/* The idle upstream connection cache: one most-recently-used list per worker. Entries come
 * from a fixed slab (no allocation when a connection is parked); lookups scan the list,
 * which holds at most the idle connections of this worker. */
#include "upstream/ups_keepalive.h"

#include <stdlib.h>

#include "core/px_addr.h"

#define SLOTS 4096

typedef struct entry {
    struct entry *prev, *next; /* MRU list (parked times descend from the head), or next free */
    px_conn_t *c;
    const void *owner;
    px_msec_t parked; /* px_current_msec when parked */
} entry_t;

static entry_t slab[SLOTS];
static entry_t *free_list;
static int initialised;
static entry_t head = {&head, &head, NULL, NULL, 0};
static unsigned nidle;

/* Owners past their cap. A connection above the cap is closed once it has been idle for
 * GRACE ms, least recently used first, rather than when it is parked: under a steady load the
 * number of requests in flight swings by a few connections, and a cap enforced at once turns
 * every swing into a close now and a connect a moment later (small benchmark, 64 clients and
 * the default cap of 32: 0.27 new upstream connections per request, 31.7 ms of CPU per 1,000
 * requests; with the grace, none and 20.9 ms). Connections never exceed what the requests in
 * flight during the last GRACE ms needed, plus the cap. */
#define GRACE 1000
#define OVER_MAX 16
static struct {
    const void *owner;
    unsigned max;
} over[OVER_MAX];
static unsigned nover;
static px_timer_t trim_timer;

static void trim(px_timer_t *t);

static void init(void)
{
    for (int i = SLOTS - 1; i >= 0; i--) {
        slab[i].next = free_list;
        free_list = &slab[i];
    }
    px_timer_init(&trim_timer, trim, NULL);
    initialised = 1;
}

static void unlink_entry(entry_t *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->c = NULL;
    e->next = free_list;
    free_list = e;
    nidle--;
}

static void drop(entry_t *e)
{
    px_conn_t *c = e->c;
    unlink_entry(e);
    c->data = NULL;
    px_conn_close(c);
}

/* Any event on an idle connection ends it: the server closed it, or sent what nobody asked
 * for; a graceful stop (closing) also lands here. */
static void idle_event(px_conn_t *c)
{
    drop(c->data);
}

static void idle_timeout(px_timer_t *t)
{
    px_conn_t *c = t->data;
    drop(c->data);
}

static unsigned owner_count(const void *owner)
{
    unsigned count = 0;
    for (entry_t *e = head.next; e != &head; e = e->next)
        count += e->owner == owner;
    return count;
}

/* Closes the least recently used idle connections of owner past max that were parked
 * before `before`. Returns when the oldest of those left past max was parked, or 0 when the
 * owner is within its cap. */
static px_msec_t trim_owner(const void *owner, unsigned max, px_msec_t before)
{
    unsigned count = owner_count(owner);
    for (entry_t *e = head.prev; e != &head && count > max;) {
        entry_t *prev = e->prev;
        if (e->owner == owner) {
            if (e->parked >= before)
                return e->parked;
            drop(e);
            count--;
        }
        e = prev;
    }
    return 0;
}

static void trim(px_timer_t *t)
{
    (void)t;
    px_msec_t next = 0;
    unsigned kept = 0;
    for (unsigned i = 0; i < nover; i++) {
        px_msec_t oldest = trim_owner(over[i].owner, over[i].max,
                                      px_current_msec >= GRACE ? px_current_msec + 1 - GRACE : 0);
        if (oldest == 0)
            continue;
        over[kept++] = over[i];
        if (next == 0 || oldest < next)
            next = oldest;
    }
    nover = kept;
    if (nover > 0)
        px_timer_add(&trim_timer, next + GRACE - px_current_msec);
}

/* Lists owner for a trim once its connections above max have been idle for GRACE; 0 when the
 * list is full. */
static int trim_later(const void *owner, unsigned max)
{
    unsigned i = 0;
    while (i < nover && over[i].owner != owner)
        i++;
    if (i == OVER_MAX)
        return 0;
    over[i].owner = owner;
    over[i].max = max;
    if (i == nover)
        nover++;
    if (!px_timer_active(&trim_timer))
        px_timer_add(&trim_timer, GRACE);
    return 1;
}

void ups_keepalive_put(px_conn_t *c, const void *owner, unsigned max, px_msec_t timeout)
{
    /* a stopping worker keeps nothing idle: it would live until the idle timeout */
    if (px_worker_exiting) {
        c->data = NULL;
        px_conn_close(c);
        return;
    }
    if (!initialised)
        init();
    if (max > 0 && owner_count(owner) >= max && !trim_later(owner, max))
        trim_owner(owner, max - 1, (px_msec_t)-1); /* no room to remember the owner: at once */
    if (max == 0 || free_list == NULL) {
        c->data = NULL;
        px_conn_close(c);
        return;
    }
    entry_t *e = free_list;
    free_list = e->next;
    e->c = c;
    e->owner = owner;
    e->parked = px_current_msec;
    e->prev = &head;
    e->next = head.next;
    head.next->prev = e;
    head.next = e;
    nidle++;
    c->data = e;
    c->read_handler = idle_event;
    c->write_handler = NULL;
    px_timer_del(&c->write_timer);
    c->read_timer.handler = idle_timeout;
    px_timer_add(&c->read_timer, timeout);
    /* a graceful stop closes idle connections through the read handler */
    px_conn_set_idle(c, 1);
}

px_conn_t *ups_keepalive_get(const void *owner, const struct sockaddr *sa, socklen_t len)
{
    for (entry_t *e = head.next; e != &head; e = e->next) {
        px_conn_t *c = e->c;
        if (e->owner != owner || !px_addr_equal((struct sockaddr *)&c->peer, c->peer_len, sa, len))
            continue;
        unlink_entry(e);
        px_timer_del(&c->read_timer);
        px_conn_set_idle(c, 0);
        c->data = NULL;
        c->read_handler = c->write_handler = NULL;
        return c;
    }
    return NULL;
}

unsigned ups_keepalive_idle(void)
{
    return nidle;
}
