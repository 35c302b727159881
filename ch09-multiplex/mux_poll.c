/*
 * mux_poll.c - the poll(2) backend of echo_server (-m poll).
 *
 * poll has no FD_SETSIZE: it takes an array of struct pollfd, as long as
 * the caller likes, and writes the results into each entry's revents, so
 * the array need not be rebuilt.  But every call still copies the whole
 * array into the kernel and back, and the kernel polls every entry (and,
 * when nothing is ready, queues itself on every socket) before sleeping:
 * the cost of one wakeup is the number of connections, as with select.
 * The loop then walks the array for the entries with revents set.
 *
 * Removing an entry moves the last one into its slot; where each fd sits
 * is kept in a table indexed by fd that grows with the highest fd.
 */
#define _GNU_SOURCE
#include "mux_backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

struct mux {
    struct pollfd *pfd; /* what poll gets, n entries in use */
    size_t n, cap;
    int *slot; /* slot[fd] = index in pfd + 1, 0 = not watched */
    size_t slot_cap;
};

static struct mux *
poll_create(int max_events)
{
    (void)max_events;
    return calloc(1, sizeof(struct mux));
}

static short
to_poll(unsigned events)
{
    return (short)((events & MUX_IN ? POLLIN : 0) |
                   (events & MUX_OUT ? POLLOUT : 0));
}

static int
poll_add(struct mux *m, int fd, unsigned events)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    int *slot = mux_grow(m->slot, &m->slot_cap, sizeof *slot, (size_t)fd);
    if (!slot)
        return -1;
    m->slot = slot;
    if (m->slot[fd]) {
        errno = EEXIST;
        return -1;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap;
        struct pollfd *p = mux_grow(m->pfd, &cap, sizeof *p, m->n);
        if (!p)
            return -1;
        m->pfd = p;
        m->cap = cap;
    }
    m->pfd[m->n] = (struct pollfd){.fd = fd, .events = to_poll(events)};
    m->slot[fd] = (int)++m->n;
    return 0;
}

static struct pollfd *
find(struct mux *m, int fd)
{
    if (fd < 0 || (size_t)fd >= m->slot_cap || !m->slot[fd]) {
        errno = ENOENT;
        return NULL;
    }
    return &m->pfd[m->slot[fd] - 1];
}

static int
poll_modify(struct mux *m, int fd, unsigned events)
{
    struct pollfd *p = find(m, fd);
    if (!p)
        return -1;
    p->events = to_poll(events);
    return 0;
}

static int
poll_del(struct mux *m, int fd)
{
    struct pollfd *p = find(m, fd);
    if (!p)
        return -1;
    struct pollfd *last = &m->pfd[m->n - 1];
    if (p != last) {
        *p = *last;
        m->slot[p->fd] = (int)(p - m->pfd) + 1;
    }
    m->n--;
    m->slot[fd] = 0;
    return 0;
}

static int
poll_wait(struct mux *m, struct mux_event *ev, int max)
{
    int ready = poll(m->pfd, (nfds_t)m->n, -1);
    if (ready < 0)
        return -1;
    int n = 0;
    for (size_t i = 0; i < m->n && n < max && n < ready; i++) {
        short r = m->pfd[i].revents;
        if (!r)
            continue;
        unsigned e = 0;
        if (r & (POLLIN | POLLPRI))
            e |= MUX_IN;
        if (r & POLLOUT)
            e |= MUX_OUT;
        if (r & (POLLERR | POLLHUP | POLLNVAL))
            e |= MUX_ERR;
        ev[n++] = (struct mux_event){.fd = m->pfd[i].fd, .events = e};
    }
    return n;
}

static void
poll_destroy(struct mux *m)
{
    free(m->pfd);
    free(m->slot);
    free(m);
}

const struct mux_ops mux_poll_ops = {
    .name = "poll",
    .wait_call = "poll",
    .create = poll_create,
    .add = poll_add,
    .modify = poll_modify,
    .del = poll_del,
    .wait = poll_wait,
    .destroy = poll_destroy,
};
