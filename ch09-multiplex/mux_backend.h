/*
 * mux_backend.h - the one interface behind which echo_server swaps its
 * I/O multiplexer: select, poll, epoll (level- or edge-triggered) or
 * io_uring.  One backend per file (mux_select.c, mux_poll.c, mux_epoll.c,
 * mux_uring.c); the echo loop in echo_server.c is the same for all of
 * them, so a benchmark of echo_server -m X measures X and nothing else.
 *
 * The contract every backend keeps:
 *
 *   add      start watching FD for EVENTS (MUX_IN, MUX_OUT, either or none)
 *   modify   change what FD is watched for; the new set is checked
 *            against the socket's current state, so data that arrived
 *            while MUX_IN was off is reported once it is back on, even by
 *            an edge-triggered backend
 *   del      stop watching FD (call it before closing FD)
 *   wait     block until something is ready, fill at most MAX events,
 *            return how many (-1 with errno EINTR after a signal)
 *
 * A reported event is a hint, not a promise: the caller's sockets are
 * non-blocking and it reads and writes until EAGAIN, which is what an
 * edge-triggered backend needs and a level-triggered one tolerates.
 * Errors and hang-ups come as MUX_ERR, whatever was asked for.
 */
#ifndef MUX_BACKEND_H
#define MUX_BACKEND_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { MUX_IN = 1, MUX_OUT = 2, MUX_ERR = 4 };

struct mux_event {
    int fd;
    unsigned events; /* MUX_IN | MUX_OUT | MUX_ERR */
};

struct mux; /* each backend defines its own */

struct mux_ops {
    const char *name;      /* as given to -m: "select", "epoll-et" ... */
    const char *wait_call; /* the system call its wait makes */
    /* MAX_EVENTS: the most events one wait will be asked for. */
    struct mux *(*create)(int max_events);
    int (*add)(struct mux *m, int fd, unsigned events);
    int (*modify)(struct mux *m, int fd, unsigned events);
    int (*del)(struct mux *m, int fd);
    int (*wait)(struct mux *m, struct mux_event *ev, int max);
    void (*destroy)(struct mux *m);
};

extern const struct mux_ops mux_select_ops;
extern const struct mux_ops mux_poll_ops;
extern const struct mux_ops mux_epoll_lt_ops;
extern const struct mux_ops mux_epoll_et_ops;
extern const struct mux_ops mux_uring_ops;

/*
 * The array ARR of *CAP elements of ELEM bytes, grown so that index NEED
 * is valid (new elements zeroed; *CAP updated).  Tables indexed by fd use
 * it, so they are as large as the highest fd seen, never a fixed 65536.
 * Returns the array, or NULL (ENOMEM) with ARR and *CAP unchanged.
 */
static inline void *
mux_grow(void *arr, size_t *cap, size_t elem, size_t need)
{
    if (need < *cap)
        return arr;
    size_t n = *cap ? *cap : 64;
    while (n <= need)
        n *= 2;
    char *q = realloc(arr, n * elem);
    if (!q)
        return NULL;
    memset(q + *cap * elem, 0, (n - *cap) * elem);
    *cap = n;
    return q;
}

#endif /* MUX_BACKEND_H */
