/*
 * mux_epoll.c - the epoll(7) backends of echo_server: -m epoll-lt and
 * -m epoll-et, one file, the difference one flag (EPOLLET).
 *
 * epoll splits what select and poll do on every call in two.  The
 * interest list lives in the kernel: epoll_ctl adds, changes or removes
 * one fd, once, and the kernel hooks a callback on that socket's wait
 * queue.  When the socket becomes ready the callback puts it on a ready
 * list, and epoll_wait only copies that list out.  So one wakeup costs
 * the number of *ready* fds, not the number of connections: 10,000 idle
 * ones cost nothing.
 *
 * Level-triggered (the default): an fd stays on the ready list while it
 * is readable, so epoll_wait reports it again until it is drained.
 * Edge-triggered (EPOLLET): it is reported when it becomes ready, once;
 * the caller must read until EAGAIN or it will not hear of the rest.
 * echo_server always reads until EAGAIN, so both work; ET saves the
 * re-check the kernel makes of every LT fd it has just reported.
 *
 * epoll_ctl(EPOLL_CTL_MOD) re-checks the fd's state, which is what makes
 * the contract of modify() in mux_backend.h hold for ET too.
 */
#define _GNU_SOURCE
#include "mux_backend.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct mux {
    int epfd;
    bool et;
    struct epoll_event *ready; /* epoll_wait's output, max entries */
    int max;
};

static struct mux *
create(int max_events, bool et)
{
    struct mux *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->et = et;
    m->max = max_events > 0 ? max_events : 1;
    m->ready = calloc((size_t)m->max, sizeof *m->ready);
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!m->ready || m->epfd < 0) {
        int e = m->ready ? errno : ENOMEM;
        if (m->epfd >= 0)
            close(m->epfd);
        free(m->ready);
        free(m);
        errno = e;
        return NULL;
    }
    return m;
}

static struct mux *
lt_create(int max_events)
{
    return create(max_events, false);
}

static struct mux *
et_create(int max_events)
{
    return create(max_events, true);
}

static int
ctl(struct mux *m, int op, int fd, unsigned events)
{
    struct epoll_event e = {0};
    e.events = (events & MUX_IN ? EPOLLIN : 0) |
               (events & MUX_OUT ? EPOLLOUT : 0) | (m->et ? EPOLLET : 0);
    e.data.fd = fd;
    return epoll_ctl(m->epfd, op, fd, &e);
}

static int
ep_add(struct mux *m, int fd, unsigned events)
{
    return ctl(m, EPOLL_CTL_ADD, fd, events);
}

static int
ep_modify(struct mux *m, int fd, unsigned events)
{
    return ctl(m, EPOLL_CTL_MOD, fd, events);
}

static int
ep_del(struct mux *m, int fd)
{
    return epoll_ctl(m->epfd, EPOLL_CTL_DEL, fd, NULL);
}

static int
ep_wait(struct mux *m, struct mux_event *ev, int max)
{
    int n = epoll_wait(m->epfd, m->ready, max < m->max ? max : m->max, -1);
    for (int i = 0; i < n; i++) {
        unsigned r = m->ready[i].events, e = 0;
        if (r & EPOLLIN)
            e |= MUX_IN;
        if (r & EPOLLOUT)
            e |= MUX_OUT;
        if (r & (EPOLLERR | EPOLLHUP))
            e |= MUX_ERR;
        ev[i] = (struct mux_event){.fd = m->ready[i].data.fd, .events = e};
    }
    return n;
}

static void
ep_destroy(struct mux *m)
{
    close(m->epfd);
    free(m->ready);
    free(m);
}

const struct mux_ops mux_epoll_lt_ops = {
    .name = "epoll-lt",
    .wait_call = "epoll_wait",
    .create = lt_create,
    .add = ep_add,
    .modify = ep_modify,
    .del = ep_del,
    .wait = ep_wait,
    .destroy = ep_destroy,
};

const struct mux_ops mux_epoll_et_ops = {
    .name = "epoll-et",
    .wait_call = "epoll_wait",
    .create = et_create,
    .add = ep_add,
    .modify = ep_modify,
    .del = ep_del,
    .wait = ep_wait,
    .destroy = ep_destroy,
};
