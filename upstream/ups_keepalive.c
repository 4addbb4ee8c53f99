/* The idle upstream connection cache: one most-recently-used list per worker. Entries come
 * from a fixed slab (no allocation when a connection is parked); lookups scan the list,
 * which holds at most the idle connections of this worker. */
#include "upstream/ups_keepalive.h"

#include <stdlib.h>

#include "core/px_addr.h"

#define SLOTS 4096

typedef struct entry {
    struct entry *prev, *next; /* MRU list, or next free */
    px_conn_t *c;
    const void *owner;
} entry_t;

static entry_t slab[SLOTS];
static entry_t *free_list;
static int initialised;
static entry_t head = {&head, &head, NULL, NULL};
static unsigned nidle;

static void init(void)
{
    for (int i = SLOTS - 1; i >= 0; i--) {
        slab[i].next = free_list;
        free_list = &slab[i];
    }
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

void ups_keepalive_put(px_conn_t *c, const void *owner, unsigned max, px_msec_t timeout)
{
    if (!initialised)
        init();
    unsigned count = 0;
    entry_t *oldest = NULL;
    for (entry_t *e = head.next; e != &head; e = e->next) {
        if (e->owner == owner) {
            count++;
            oldest = e;
        }
    }
    if (count >= max && oldest)
        drop(oldest);
    if (max == 0 || free_list == NULL) {
        c->data = NULL;
        px_conn_close(c);
        return;
    }
    entry_t *e = free_list;
    free_list = e->next;
    e->c = c;
    e->owner = owner;
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
