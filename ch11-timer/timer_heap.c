/*
 * timer_heap.c - Listing 11-6: a binary min-heap of timers.
 *
 * Differs from the printed listing (C++ with dynamic exception
 * specifications, which C++17 rejects): C; delete is real, O(log n),
 * because every timer knows its index, where the book only cleared the
 * callback and left the node in the heap until it reached the top; that
 * index also gives adjust in both directions; a popped slot is cleared,
 * not left holding a stale pointer; sizes are size_t, and growth checks
 * for overflow and reports ENOMEM instead of NULL checks after `new` that
 * can never fire; times are CLOCK_MONOTONIC milliseconds from the caller.
 */
#include "timer_heap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "timer_chain.h"

/* Capacity of a heap made with timer_heap_new(0). */
enum { HEAP_DEFAULT_CAPACITY = 64 };

struct timer_heap {
    struct timer_queue q; /* first: what the generic calls receive */
    struct timer **a;     /* a[0] expires first; a[i]->index == i */
    size_t n, cap;
    struct timer_chain due; /* taken out by the running tick */
    size_t count;           /* n + due */
    bool ticking;
};

static struct timer_heap *
heap_of(struct timer_queue *q)
{
    return (struct timer_heap *)q;
}

static const struct timer_heap *
cheap_of(const struct timer_queue *q)
{
    return (const struct timer_heap *)q;
}

static void
place(struct timer_heap *h, size_t i, struct timer *t)
{
    h->a[i] = t;
    t->index = i;
}

/* Move the timer at I towards the root while it expires before its
 * parent.  The hole moves up; the timer is written once, at the end. */
static void
sift_up(struct timer_heap *h, size_t i)
{
    struct timer *t = h->a[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->a[parent]->expire <= t->expire)
            break;
        place(h, i, h->a[parent]);
        i = parent;
    }
    place(h, i, t);
}

/* Move the timer at I towards the leaves while a child expires first. */
static void
sift_down(struct timer_heap *h, size_t i)
{
    struct timer *t = h->a[i];

    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n)
            break;
        if (child + 1 < h->n && h->a[child + 1]->expire < h->a[child]->expire)
            child++;
        if (t->expire <= h->a[child]->expire)
            break;
        place(h, i, h->a[child]);
        i = child;
    }
    place(h, i, t);
}

static int
grow(struct timer_heap *h)
{
    size_t cap = h->cap ? h->cap : HEAP_DEFAULT_CAPACITY;
    struct timer **a;

    if (h->cap) {
        if (cap > SIZE_MAX / 2 / sizeof *a) {
            errno = ENOMEM;
            return -1;
        }
        cap *= 2;
    }
    a = realloc(h->a, cap * sizeof *a);
    if (a == NULL)
        return -1;
    h->a = a;
    h->cap = cap;
    return 0;
}

/* Put the idle (or just unlinked) T into the array. */
static int
push(struct timer_heap *h, struct timer *t, uint64_t expire)
{
    if (h->n == h->cap && grow(h) < 0)
        return -1;
    t->expire = expire;
    t->state = TIMER_PENDING;
    h->a[h->n] = t;
    t->index = h->n++;
    sift_up(h, t->index);
    return 0;
}

/* Take the timer at I out of the array. */
static void
remove_at(struct timer_heap *h, size_t i)
{
    struct timer *gone = h->a[i];
    struct timer *last = h->a[--h->n];

    h->a[h->n] = NULL;
    if (i < h->n) {
        place(h, i, last);
        if (last->expire < gone->expire)
            sift_up(h, i);
        else
            sift_down(h, i);
    }
}

static int
heap_add(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    struct timer_heap *h = heap_of(q);

    if (push(h, t, expire) < 0)
        return -1;
    h->count++;
    return 0;
}

static int
heap_adjust(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    struct timer_heap *h = heap_of(q);
    uint64_t old = t->expire;

    switch (t->state) {
    case TIMER_IDLE:
        return heap_add(q, t, expire);
    case TIMER_DUE:
        /* re-armed before its turn in a running tick: back in the heap
         * (idle if the array cannot grow: callbacks may have filled it) */
        chain_unlink(&h->due, t);
        t->state = TIMER_IDLE;
        h->count--;
        return heap_add(q, t, expire);
    case TIMER_PENDING:
        break;
    }
    t->expire = expire;
    if (expire < old)
        sift_up(h, t->index);
    else if (expire > old)
        sift_down(h, t->index);
    return 0;
}

static bool
heap_del(struct timer_queue *q, struct timer *t)
{
    struct timer_heap *h = heap_of(q);

    switch (t->state) {
    case TIMER_IDLE:
        return false;
    case TIMER_DUE:
        chain_unlink(&h->due, t);
        break;
    case TIMER_PENDING:
        remove_at(h, t->index);
        break;
    }
    t->state = TIMER_IDLE;
    h->count--;
    return true;
}

static size_t
heap_tick(struct timer_queue *q, uint64_t now)
{
    struct timer_heap *h = heap_of(q);
    size_t fired;

    if (h->ticking)
        return 0;
    h->ticking = true;
    while (h->n > 0 && h->a[0]->expire <= now) {
        struct timer *t = h->a[0];
        remove_at(h, 0);
        t->state = TIMER_DUE;
        chain_push_back(&h->due, t);
    }
    fired = chain_fire(&h->due, &h->count);
    h->ticking = false;
    return fired;
}

static uint64_t
heap_next(const struct timer_queue *q)
{
    const struct timer_heap *h = cheap_of(q);

    if (h->due.head)
        return h->due.head->expire;
    return h->n ? h->a[0]->expire : TIMER_NEVER;
}

static size_t
heap_count(const struct timer_queue *q)
{
    return cheap_of(q)->count;
}

static void
heap_destroy(struct timer_queue *q)
{
    struct timer_heap *h = heap_of(q);
    struct timer *t;

    for (size_t i = 0; i < h->n; i++)
        h->a[i]->state = TIMER_IDLE;
    while ((t = h->due.head) != NULL) {
        chain_unlink(&h->due, t);
        t->state = TIMER_IDLE;
    }
    free(h->a);
    free(h);
}

static const struct timer_ops heap_ops = {
    .name = "heap",
    .add = heap_add,
    .adjust = heap_adjust,
    .del = heap_del,
    .tick = heap_tick,
    .next = heap_next,
    .count = heap_count,
    .destroy = heap_destroy,
};

struct timer_queue *
timer_heap_new(size_t capacity)
{
    struct timer_heap *h = calloc(1, sizeof *h);

    if (h == NULL)
        return NULL;
    h->q.ops = &heap_ops;
    if (capacity > 0) {
        if (capacity > SIZE_MAX / sizeof *h->a) {
            free(h);
            errno = ENOMEM;
            return NULL;
        }
        h->a = malloc(capacity * sizeof *h->a);
        if (h->a == NULL) {
            free(h);
            return NULL;
        }
        h->cap = capacity;
    }
    return &h->q;
}

bool
timer_heap_valid(const struct timer_queue *q)
{
    const struct timer_heap *h = cheap_of(q);
    size_t due = 0;

    if (h->n > h->cap)
        return false;
    for (size_t i = 0; i < h->n; i++) {
        const struct timer *t = h->a[i];
        if (t->index != i || t->state != TIMER_PENDING)
            return false;
        if (i > 0 && h->a[(i - 1) / 2]->expire > t->expire)
            return false;
    }
    for (const struct timer *t = h->due.head; t; t = t->next) {
        if (t->state != TIMER_DUE)
            return false;
        due++;
    }
    return h->n + due == h->count;
}

size_t
timer_heap_capacity(const struct timer_queue *q)
{
    return cheap_of(q)->cap;
}
