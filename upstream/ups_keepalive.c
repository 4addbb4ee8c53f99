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

/* Owners past their cap, trimmed once the loop's current batch of events is handled: within
 * one batch, the responses that complete return their connections before the client requests
 * of the same batch take them again (px_io_t.early), so a cap enforced at each return would
 * close connections that the same batch then has to open again. Between batches no owner
 * holds more than its cap. */
#define OVER_MAX 16
static struct {
    const void *owner;
    unsigned max;
} over[OVER_MAX];
static unsigned nover;
static px_post_t trim_post;

static void trim(void *data);

static void init(void)
{
    for (int i = SLOTS - 1; i >= 0; i--) {
        slab[i].next = free_list;
        free_list = &slab[i];
    }
    px_post_init(&trim_post, trim, NULL);
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

/* Closes the least recently used idle connections of owner past max. */
static void trim_owner(const void *owner, unsigned max)
{
    unsigned count = 0;
    for (entry_t *e = head.next; e != &head; e = e->next)
        count += e->owner == owner;
    for (entry_t *e = head.prev; e != &head && count > max;) {
        entry_t *prev = e->prev;
        if (e->owner == owner) {
            drop(e);
            count--;
        }
        e = prev;
    }
}

static void trim(void *data)
{
    (void)data;
    for (unsigned i = 0; i < nover; i++)
        trim_owner(over[i].owner, over[i].max);
    nover = 0;
}

/* Lists owner for the trim after this batch; 0 when the list is full. */
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
    px_post(&trim_post);
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
    unsigned count = 0;
    for (entry_t *e = head.next; e != &head; e = e->next)
        count += e->owner == owner;
    if (count >= max && max > 0 && !trim_later(owner, max))
        trim_owner(owner, max - 1); /* no room to remember the owner: at once */
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
