/*
 * mux_select.c - the select(2) backend of echo_server (-m select).
 *
 * select takes three bitmaps of FD_SETSIZE (1024) bits, and the kernel
 * rewrites them in place: so every wait copies the two master sets,
 * hands the kernel nfds = highest fd + 1, and the kernel walks every one
 * of those fds, polls each socket that is set and, when nothing is ready,
 * hangs a wait-queue entry on every one of them before it sleeps (and
 * takes them all off after).  Back in user space the loop walks the same
 * range again to find the few bits that are set.  The cost of one wakeup
 * grows with the number of connections, ready or not.
 *
 * FD_SETSIZE is a hard wall: FD_SET on fd 1024 or above writes past the
 * end of the fd_set (built with _FORTIFY_SOURCE, glibc aborts instead).  add()
 * refuses such an fd with ERANGE, and echo_server closes that connection
 * and keeps serving the others.
 */
#define _GNU_SOURCE
#include "mux_backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/select.h>

struct mux {
    fd_set rset, wset;      /* what we watch; select gets copies */
    int maxfd;              /* highest fd in either set, -1 if none */
    bool known[FD_SETSIZE]; /* registered, even if watching nothing */
};

static struct mux *
sel_create(int max_events)
{
    (void)max_events;
    struct mux *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    FD_ZERO(&m->rset);
    FD_ZERO(&m->wset);
    m->maxfd = -1;
    return m;
}

static void
set_events(struct mux *m, int fd, unsigned events)
{
    FD_CLR(fd, &m->rset);
    FD_CLR(fd, &m->wset);
    if (events & MUX_IN)
        FD_SET(fd, &m->rset);
    if (events & MUX_OUT)
        FD_SET(fd, &m->wset);
}

static int
sel_add(struct mux *m, int fd, unsigned events)
{
    if (fd < 0 || fd >= FD_SETSIZE) {
        errno = ERANGE; /* no bit for it in an fd_set */
        return -1;
    }
    m->known[fd] = true;
    set_events(m, fd, events);
    if (fd > m->maxfd)
        m->maxfd = fd;
    return 0;
}

static int
sel_modify(struct mux *m, int fd, unsigned events)
{
    if (fd < 0 || fd >= FD_SETSIZE || !m->known[fd]) {
        errno = ENOENT;
        return -1;
    }
    set_events(m, fd, events);
    return 0;
}

static int
sel_del(struct mux *m, int fd)
{
    if (fd < 0 || fd >= FD_SETSIZE || !m->known[fd]) {
        errno = ENOENT;
        return -1;
    }
    set_events(m, fd, 0);
    m->known[fd] = false;
    while (m->maxfd >= 0 && !m->known[m->maxfd])
        m->maxfd--;
    return 0;
}

static int
sel_wait(struct mux *m, struct mux_event *ev, int max)
{
    fd_set r = m->rset, w = m->wset; /* select overwrites what it gets */
    int ready = select(m->maxfd + 1, &r, &w, NULL, NULL);
    if (ready < 0)
        return -1;
    /* the user-space half of the scan: every fd up to maxfd */
    int n = 0;
    for (int fd = 0; fd <= m->maxfd && n < max && n < ready; fd++) {
        unsigned e = 0;
        if (FD_ISSET(fd, &r))
            e |= MUX_IN;
        if (FD_ISSET(fd, &w))
            e |= MUX_OUT;
        if (e)
            ev[n++] = (struct mux_event){.fd = fd, .events = e};
    }
    return n;
}

static void
sel_destroy(struct mux *m)
{
    free(m);
}

const struct mux_ops mux_select_ops = {
    .name = "select",
    .wait_call = "select",
    .create = sel_create,
    .add = sel_add,
    .modify = sel_modify,
    .del = sel_del,
    .wait = sel_wait,
    .destroy = sel_destroy,
};
