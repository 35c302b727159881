/*
 * mux_uring.c - the io_uring backend of echo_server (-m uring).
 *
 * io_uring is a pair of rings shared with the kernel: the program puts
 * requests (SQEs) on the submission ring, the kernel puts results (CQEs)
 * on the completion ring, and one io_uring_enter(2) both submits what is
 * queued and waits for completions.
 *
 * This backend uses io_uring for *readiness*, not for the I/O itself:
 * each watched fd gets one multishot IORING_OP_POLL_ADD, which stays armed
 * and posts a CQE (res = the poll mask) every time the socket wakes up,
 * much like an edge-triggered epoll registration.  echo_server then does
 * the same recv/send calls as with every other backend.  That keeps the
 * loop identical and the comparison about the multiplexer only; it is not
 * the completion-based style (IORING_OP_RECV/SEND with buffers owned by
 * the kernel until they complete) where io_uring saves the most system
 * calls.  Here one wakeup costs one io_uring_enter, which also carries
 * whatever poll requests changed since the last one: there is no separate
 * epoll_ctl call.
 *
 * Changing what an fd is watched for removes its poll request and arms a
 * new one; a new poll checks the socket's current state at once, which is
 * the modify() contract of mux_backend.h.  Each request's user_data holds
 * the fd and a generation number, so a CQE of a request that was removed
 * (or of an fd closed and reused) is recognised and dropped.
 */
#define _GNU_SOURCE
#include "mux_backend.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

enum { RING_ENTRIES = 4096 };
#define IGNORED_CQE UINT64_MAX /* user_data of our poll-remove requests */

struct watch {
    uint32_t gen;    /* bumped whenever the old request becomes stale */
    unsigned events; /* MUX_IN | MUX_OUT */
    bool known;      /* registered with add */
    bool armed;      /* a multishot poll request is live */
};

struct mux {
    struct io_uring ring;
    struct watch *w; /* indexed by fd, grows */
    size_t cap;
};

static uint64_t
tag(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

static struct mux *
uring_create(int max_events)
{
    (void)max_events;
    struct mux *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* one task submits and reaps: let the kernel skip the cross-CPU
     * interrupts it would otherwise use to run completions at once */
    struct io_uring_params p = {
        .flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER,
    };
    int r = io_uring_queue_init_params(RING_ENTRIES, &m->ring, &p);
    if (r == -EINVAL) /* a kernel older than 6.0 */
        r = io_uring_queue_init(RING_ENTRIES, &m->ring, 0);
    if (r < 0) {
        free(m);
        errno = -r;
        return NULL;
    }
    return m;
}

/* An SQE, submitting what is queued if the ring is full; NULL (EBUSY). */
static struct io_uring_sqe *
get_sqe(struct mux *m)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&m->ring);
    if (!sqe) {
        io_uring_submit(&m->ring);
        sqe = io_uring_get_sqe(&m->ring);
    }
    if (!sqe)
        errno = EBUSY;
    return sqe;
}

static int
arm(struct mux *m, int fd)
{
    struct watch *w = &m->w[fd];
    if (!w->events)
        return 0;
    struct io_uring_sqe *sqe = get_sqe(m);
    if (!sqe)
        return -1;
    io_uring_prep_poll_multishot(sqe, fd,
                                 (w->events & MUX_IN ? POLLIN : 0) |
                                     (w->events & MUX_OUT ? POLLOUT : 0));
    io_uring_sqe_set_data64(sqe, tag(fd, w->gen));
    w->armed = true;
    return 0;
}

static int
disarm(struct mux *m, int fd)
{
    struct watch *w = &m->w[fd];
    if (w->armed) {
        struct io_uring_sqe *sqe = get_sqe(m);
        if (!sqe)
            return -1;
        io_uring_prep_poll_remove(sqe, tag(fd, w->gen));
        io_uring_sqe_set_data64(sqe, IGNORED_CQE);
        w->armed = false;
    }
    w->gen++; /* whatever the old request still posts is stale */
    return 0;
}

static struct watch *
find(struct mux *m, int fd)
{
    if (fd < 0 || (size_t)fd >= m->cap || !m->w[fd].known) {
        errno = ENOENT;
        return NULL;
    }
    return &m->w[fd];
}

static int
uring_add(struct mux *m, int fd, unsigned events)
{
    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    struct watch *w = mux_grow(m->w, &m->cap, sizeof *w, (size_t)fd);
    if (!w)
        return -1;
    m->w = w;
    if (w[fd].known) {
        errno = EEXIST;
        return -1;
    }
    w[fd].known = true;
    w[fd].gen++;
    w[fd].events = events;
    return arm(m, fd);
}

static int
uring_modify(struct mux *m, int fd, unsigned events)
{
    struct watch *w = find(m, fd);
    if (!w)
        return -1;
    if (w->armed && w->events == events)
        return 0;
    if (disarm(m, fd) < 0)
        return -1;
    w->events = events;
    return arm(m, fd);
}

static int
uring_del(struct mux *m, int fd)
{
    struct watch *w = find(m, fd);
    if (!w)
        return -1;
    int r = disarm(m, fd);
    w->known = false;
    w->events = 0;
    return r;
}

static int
uring_wait(struct mux *m, struct mux_event *ev, int max)
{
    struct io_uring *ring = &m->ring;
    int r = 0;
    /* one system call: submit the queued poll requests, wait for a CQE
     * (unless some are left over from the last round) */
    if (io_uring_cq_ready(ring) == 0)
        r = io_uring_submit_and_wait(ring, 1);
    else if (io_uring_sq_ready(ring) > 0)
        r = io_uring_submit(ring);
    if (r < 0 && r != -ETIME) {
        errno = -r;
        return -1;
    }

    int n = 0;
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(ring, head, cqe)
    {
        if (n == max)
            break;
        seen++;
        uint64_t data = io_uring_cqe_get_data64(cqe);
        if (data == IGNORED_CQE)
            continue;
        int fd = (int)(uint32_t)data;
        uint32_t gen = (uint32_t)(data >> 32);
        struct watch *w = fd >= 0 && (size_t)fd < m->cap ? &m->w[fd] : NULL;
        if (!w || !w->known || w->gen != gen)
            continue; /* removed or reused since */
        bool ended = !(cqe->flags & IORING_CQE_F_MORE);
        unsigned e = 0;
        if (cqe->res < 0 && cqe->res != -ECANCELED)
            e = MUX_ERR;
        else if (cqe->res > 0) {
            if (cqe->res & (POLLIN | POLLPRI))
                e |= MUX_IN;
            if (cqe->res & POLLOUT)
                e |= MUX_OUT;
            if (cqe->res & (POLLERR | POLLHUP))
                e |= MUX_ERR;
        }
        if (ended) { /* the kernel ended the multishot: arm a new one */
            w->armed = false;
            if (arm(m, fd) < 0)
                e |= MUX_ERR;
        }
        if (e)
            ev[n++] = (struct mux_event){.fd = fd, .events = e};
    }
    io_uring_cq_advance(ring, seen);
    return n;
}

static void
uring_destroy(struct mux *m)
{
    io_uring_queue_exit(&m->ring); /* cancels every poll still armed */
    free(m->w);
    free(m);
}

const struct mux_ops mux_uring_ops = {
    .name = "uring",
    .wait_call = "io_uring_enter",
    .create = uring_create,
    .add = uring_add,
    .modify = uring_modify,
    .del = uring_del,
    .wait = uring_wait,
    .destroy = uring_destroy,
};
