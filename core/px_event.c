/* epoll loop with a binary-heap timer queue and a FIFO of posted calls. */
#include "core/px_event.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/px_log.h"

static int epfd = -1;
static struct epoll_event *events;
static int nevents;

static px_timer_t **heap; /* 1-based */
static size_t heap_len, heap_cap;

static px_post_t *post_head, *post_tail;

void (*px_event_batch_done)(void);
unsigned long px_event_count;

int px_event_init(int max_events)
{
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        px_log_error(PX_LOG_EMERG, NULL, errno, "epoll_create1() failed");
        return PX_ERROR;
    }
    nevents = max_events > 0 ? max_events : 512;
    events = calloc((size_t)nevents, sizeof(*events));
    heap_cap = 1024;
    heap = calloc(heap_cap + 1, sizeof(*heap));
    heap_len = 0;
    if (events == NULL || heap == NULL)
        return PX_ERROR;
    return PX_OK;
}

void px_event_done(void)
{
    if (epfd >= 0)
        close(epfd);
    epfd = -1;
    free(events);
    free(heap);
    events = NULL;
    heap = NULL;
    heap_len = heap_cap = 0;
}

int px_event_add(px_io_t *io, int exclusive_accept)
{
    struct epoll_event ev;
    ev.data.ptr = io;
    if (exclusive_accept)
        ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    else
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
        px_log_error(PX_LOG_ALERT, NULL, errno, "epoll_ctl(ADD, %d) failed", io->fd);
        return PX_ERROR;
    }
    return PX_OK;
}

int px_event_del(px_io_t *io)
{
    if (epoll_ctl(epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0 && errno != EBADF && errno != ENOENT) {
        px_log_error(PX_LOG_ALERT, NULL, errno, "epoll_ctl(DEL, %d) failed", io->fd);
        return PX_ERROR;
    }
    return PX_OK;
}

/* ---- timers ---- */

static void heap_swap(size_t a, size_t b)
{
    px_timer_t *t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    heap[a]->heap_index = a;
    heap[b]->heap_index = b;
}

static void heap_up(size_t i)
{
    while (i > 1 && heap[i / 2]->deadline > heap[i]->deadline) {
        heap_swap(i, i / 2);
        i /= 2;
    }
}

static void heap_down(size_t i)
{
    for (;;) {
        size_t l = i * 2, r = l + 1, m = i;
        if (l <= heap_len && heap[l]->deadline < heap[m]->deadline)
            m = l;
        if (r <= heap_len && heap[r]->deadline < heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(i, m);
        i = m;
    }
}

void px_timer_init(px_timer_t *t, px_timer_handler_t handler, void *data)
{
    t->deadline = 0;
    t->heap_index = 0;
    t->handler = handler;
    t->data = data;
}

void px_timer_add(px_timer_t *t, px_msec_t after)
{
    px_msec_t deadline = px_current_msec + after;
    if (t->heap_index) {
        /* A timer pushed later by a few ms is left alone: saves heap work per request. */
        if (deadline >= t->deadline && deadline - t->deadline < 100 && after > 1000)
            return;
        t->deadline = deadline;
        heap_up(t->heap_index);
        heap_down(t->heap_index);
        return;
    }
    if (heap_len == heap_cap) {
        px_timer_t **n = realloc(heap, (heap_cap * 2 + 1) * sizeof(*heap));
        if (n == NULL) {
            px_log_error(PX_LOG_ALERT, NULL, errno, "timer heap realloc() failed");
            return;
        }
        heap = n;
        heap_cap *= 2;
    }
    t->deadline = deadline;
    heap[++heap_len] = t;
    t->heap_index = heap_len;
    heap_up(heap_len);
}

void px_timer_del(px_timer_t *t)
{
    size_t i = t->heap_index;
    if (i == 0)
        return;
    t->heap_index = 0;
    if (i == heap_len) {
        heap_len--;
        return;
    }
    heap[i] = heap[heap_len--];
    heap[i]->heap_index = i;
    heap_up(i);
    heap_down(heap[i]->heap_index);
}

size_t px_timer_count(void)
{
    return heap_len;
}

static void run_timers(void)
{
    while (heap_len && heap[1]->deadline <= px_current_msec) {
        px_timer_t *t = heap[1];
        px_timer_del(t);
        t->handler(t);
    }
}

/* ---- posted calls ---- */

void px_post_init(px_post_t *p, void (*handler)(void *), void *data)
{
    p->next = NULL;
    p->handler = handler;
    p->data = data;
    p->queued = 0;
}

void px_post(px_post_t *p)
{
    if (p->queued)
        return;
    p->queued = 1;
    p->next = NULL;
    if (post_tail)
        post_tail->next = p;
    else
        post_head = p;
    post_tail = p;
}

void px_post_cancel(px_post_t *p)
{
    if (!p->queued)
        return;
    px_post_t **pp = &post_head, *prev = NULL;
    while (*pp && *pp != p) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = p->next;
        if (post_tail == p)
            post_tail = prev;
    }
    p->queued = 0;
}

static void run_posted(void)
{
    /* Only what was queued before this pass runs now; handlers may queue more. */
    px_post_t *end = post_tail;
    while (post_head) {
        px_post_t *p = post_head;
        post_head = p->next;
        if (post_head == NULL)
            post_tail = NULL;
        p->queued = 0;
        p->handler(p->data);
        if (p == end)
            break;
    }
}

static void dispatch(px_io_t *io, unsigned ev)
{
    unsigned e = 0;
    if (ev & (EPOLLIN | EPOLLPRI))
        e |= PX_IO_READ;
    if (ev & EPOLLOUT)
        e |= PX_IO_WRITE;
    if (ev & (EPOLLRDHUP | EPOLLHUP))
        e |= PX_IO_HUP | PX_IO_READ;
    if (ev & EPOLLERR)
        e |= PX_IO_ERR | PX_IO_READ | PX_IO_WRITE;
    io->handler(io, e);
}

int px_event_process(const void *sigmask)
{
    int timeout = -1;
    if (post_head)
        timeout = 0;
    else if (heap_len) {
        px_time_update();
        px_msec_t d = heap[1]->deadline;
        timeout = d > px_current_msec ? (int)(d - px_current_msec) : 0;
    }
    int n = epoll_pwait(epfd, events, nevents, timeout, (const sigset_t *)sigmask);
    int err = errno;
    px_time_update();
    if (n < 0) {
        if (err == EINTR)
            return PX_OK;
        px_log_error(PX_LOG_ALERT, NULL, err, "epoll_wait() failed");
        return PX_ERROR;
    }
    px_event_count += (unsigned long)n;
    /* two passes: the early sockets' events first (see px_io_t) */
    for (int pass = 0; pass < 2; pass++) {
        unsigned early = pass == 0;
        for (int i = 0; i < n; i++) {
            px_io_t *io = events[i].data.ptr;
            if (io->fd >= 0 && io->early == early)
                dispatch(io, events[i].events);
        }
    }
    run_timers();
    run_posted();
    if (px_event_batch_done)
        px_event_batch_done();
    return PX_OK;
}
