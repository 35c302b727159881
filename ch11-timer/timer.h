/*
 * timer.h - the one interface of chapter 11's three timer containers.
 *
 *   timer_list.c   11-2  doubly linked list sorted by expiry
 *   timer_wheel.c  11-5  hashed time wheel (N slots of T ms, rotations)
 *   timer_heap.c   11-6  binary min-heap, each timer knows its index
 *
 * Each module has a constructor returning a struct timer_queue *; from then
 * on a program drives any of them through the same calls below, so the
 * back end can be picked at run time (idle_conn_server -b, timer_bench).
 *
 * Times are absolute CLOCK_MONOTONIC milliseconds (uint64_t).  The
 * containers never read a clock: the caller passes `now` to timer_tick,
 * which lets the tests drive them with a fake clock.
 *
 * Timers are intrusive: the caller owns each struct timer (typically a
 * member of its connection record), and the containers only link it.  So
 * adding never allocates (the heap's array aside), and a callback may free
 * the record its timer lives in: once a callback has been called, the
 * container never touches that timer again.
 *
 * During timer_tick(q, now):
 *   - every timer due at NOW is first taken out of the container, then
 *     their callbacks run one by one, in order of expiry (the wheel: in
 *     order of its ticks);
 *   - a callback may add, adjust or delete any timer, its own included:
 *     deleting a timer that is due but has not fired yet stops it firing;
 *     deleting its own timer is a no-op (it is no longer pending);
 *     adjusting its own timer re-arms it;
 *   - a timer added or re-armed by a callback never fires in the same
 *     timer_tick call, even if it is already due: it fires in the next one,
 *     so a callback that re-arms itself with a past time cannot loop;
 *   - timer_tick itself is not reentrant: called from a callback, it
 *     does nothing and returns 0.
 */
#ifndef HPSP_TIMER_H
#define HPSP_TIMER_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "No timer": what timer_next returns for an empty container. */
#define TIMER_NEVER UINT64_MAX

struct timer;
typedef void timer_fn(struct timer *t, void *arg);

/* Where a timer is.  Private to the containers. */
enum timer_state {
    TIMER_IDLE = 0, /* in no container: may be added, or freed */
    TIMER_PENDING,  /* waiting in a container */
    TIMER_DUE,      /* taken out by a running timer_tick, about to fire */
};

struct timer {
    uint64_t expire; /* absolute expiry, ms; read it, set it via the calls */
    timer_fn *fn;    /* called as fn(t, arg) when it expires */
    void *arg;
    /* bookkeeping of the container that holds it: do not touch */
    struct timer *prev, *next; /* list, wheel slot, or the due list */
    uint64_t tick;             /* wheel: the tick it fires on */
    size_t index;              /* heap: its position in the array */
    enum timer_state state;
};

struct timer_queue;

/* What every back end implements; see the inline wrappers below. */
struct timer_ops {
    const char *name;
    int (*add)(struct timer_queue *q, struct timer *t, uint64_t expire);
    int (*adjust)(struct timer_queue *q, struct timer *t, uint64_t expire);
    bool (*del)(struct timer_queue *q, struct timer *t);
    size_t (*tick)(struct timer_queue *q, uint64_t now);
    uint64_t (*next)(const struct timer_queue *q);
    size_t (*count)(const struct timer_queue *q);
    void (*destroy)(struct timer_queue *q);
};

/* The first member of every back end's container. */
struct timer_queue {
    const struct timer_ops *ops;
};

/* Prepare T (once, before its first add): callback FN(T, ARG). */
static inline void
timer_init(struct timer *t, timer_fn *fn, void *arg)
{
    t->expire = 0;
    t->fn = fn;
    t->arg = arg;
    t->prev = t->next = NULL;
    t->tick = 0;
    t->index = 0;
    t->state = TIMER_IDLE;
}

/* True while T is in a container (pending, or due in a running tick). */
static inline bool
timer_pending(const struct timer *t)
{
    return t->state != TIMER_IDLE;
}

/* Add the idle timer T, expiring at EXPIRE.  0; -1 with errno EBUSY if T
 * is pending already, ENOMEM if the container could not grow (heap). */
static inline int
timer_add(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    if (timer_pending(t)) {
        errno = EBUSY;
        return -1;
    }
    return q->ops->add(q, t, expire);
}

/* Move T to EXPIRE, earlier or later; an idle T is added.  0, or -1 with
 * errno ENOMEM (only when T was idle and the heap could not grow). */
static inline int
timer_adjust(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    return q->ops->adjust(q, t, expire);
}

/* Cancel T: true if it was pending (it will not fire), false if idle. */
static inline bool
timer_del(struct timer_queue *q, struct timer *t)
{
    return q->ops->del(q, t);
}

/* Fire every timer due at NOW (see above); returns how many fired. */
static inline size_t
timer_tick(struct timer_queue *q, uint64_t now)
{
    return q->ops->tick(q, now);
}

/* The earliest time at which timer_tick would fire something, or
 * TIMER_NEVER.  Exact for the list and the heap; for the wheel, the tick
 * boundary at or after the earliest expiry. */
static inline uint64_t
timer_next(const struct timer_queue *q)
{
    return q->ops->next(q);
}

/* Timers pending (due ones of a running tick included). */
static inline size_t
timer_count(const struct timer_queue *q)
{
    return q->ops->count(q);
}

/* "list", "wheel" or "heap". */
static inline const char *
timer_queue_name(const struct timer_queue *q)
{
    return q->ops->name;
}

/* Free the container.  Timers still in it become idle (they are the
 * caller's, so they are not freed); their callbacks are not called. */
static inline void
timer_queue_destroy(struct timer_queue *q)
{
    if (q)
        q->ops->destroy(q);
}

/* CLOCK_MONOTONIC in milliseconds: what programs pass as `now`. */
static inline uint64_t
timer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif /* HPSP_TIMER_H */
