/*
 * timer_list.c - Listing 11-2: a doubly linked list sorted by expiry.
 *
 * Differs from the printed listing: adjust moves a timer in both
 * directions (the book's only moves it later, so a timer brought forward
 * stays behind later ones and fires late); the search for a place starts
 * from the tail, where idle timeouts go; the caller owns the timers, so
 * tick frees nothing and a callback may delete any timer, its own
 * included; times are CLOCK_MONOTONIC milliseconds passed in by the
 * caller instead of time(NULL); the header includes what it uses.
 */
#include "timer_list.h"

#include <stdlib.h>

#include "timer_chain.h"

struct timer_list {
    struct timer_queue q;       /* first: what the generic calls receive */
    struct timer_chain pending; /* sorted by expire, ties in FIFO order */
    struct timer_chain due;     /* taken out by the running tick */
    size_t count;               /* pending + due */
    bool ticking;
};

static struct timer_list *
list_of(struct timer_queue *q)
{
    return (struct timer_list *)q;
}

static const struct timer_list *
clist_of(const struct timer_queue *q)
{
    return (const struct timer_list *)q;
}

/* Link T after the last timer at or before T->expire, searching backwards
 * from FROM (NULL: from the front, nothing can come before). */
static void
insert_backwards(struct timer_list *l, struct timer *from, struct timer *t)
{
    struct timer *pos = from;

    while (pos && pos->expire > t->expire)
        pos = pos->prev;
    chain_insert_after(&l->pending, pos, t);
}

/* The same, searching forwards from just after FROM (NULL: the front). */
static void
insert_forwards(struct timer_list *l, struct timer *from, struct timer *t)
{
    struct timer *pos = from;
    struct timer *after = from ? from->next : l->pending.head;

    while (after && after->expire <= t->expire) {
        pos = after;
        after = after->next;
    }
    chain_insert_after(&l->pending, pos, t);
}

static int
list_add(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    struct timer_list *l = list_of(q);

    t->expire = expire;
    t->state = TIMER_PENDING;
    insert_backwards(l, l->pending.tail, t);
    l->count++;
    return 0;
}

static int
list_adjust(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    struct timer_list *l = list_of(q);
    struct timer *before;

    if (t->state == TIMER_IDLE)
        return list_add(q, t, expire);
    if (t->state == TIMER_DUE) {
        /* re-armed before its turn in a running tick: it waits again */
        chain_unlink(&l->due, t);
        l->count--;
        return list_add(q, t, expire);
    }
    /* Pending: take it out and search from where it was, in the
     * direction it moves.  Everything before it is <= the old expiry,
     * everything after it >= the old expiry. */
    before = t->prev;
    chain_unlink(&l->pending, t);
    if (expire >= t->expire) {
        t->expire = expire;
        insert_forwards(l, before, t);
    } else {
        t->expire = expire;
        insert_backwards(l, before, t);
    }
    return 0;
}

static bool
list_del(struct timer_queue *q, struct timer *t)
{
    struct timer_list *l = list_of(q);

    if (t->state == TIMER_IDLE)
        return false;
    chain_unlink(t->state == TIMER_DUE ? &l->due : &l->pending, t);
    t->state = TIMER_IDLE;
    l->count--;
    return true;
}

static size_t
list_tick(struct timer_queue *q, uint64_t now)
{
    struct timer_list *l = list_of(q);
    struct timer *t;
    size_t fired;

    if (l->ticking)
        return 0;
    l->ticking = true;
    /* sorted: the due timers are the front of the list */
    while ((t = l->pending.head) != NULL && t->expire <= now) {
        chain_unlink(&l->pending, t);
        t->state = TIMER_DUE;
        chain_push_back(&l->due, t);
    }
    fired = chain_fire(&l->due, &l->count);
    l->ticking = false;
    return fired;
}

static uint64_t
list_next(const struct timer_queue *q)
{
    const struct timer_list *l = clist_of(q);

    if (l->due.head)
        return l->due.head->expire;
    return l->pending.head ? l->pending.head->expire : TIMER_NEVER;
}

static size_t
list_count(const struct timer_queue *q)
{
    return clist_of(q)->count;
}

static void
list_destroy(struct timer_queue *q)
{
    struct timer_list *l = list_of(q);
    struct timer *t;

    while ((t = l->pending.head) != NULL) {
        chain_unlink(&l->pending, t);
        t->state = TIMER_IDLE;
    }
    while ((t = l->due.head) != NULL) {
        chain_unlink(&l->due, t);
        t->state = TIMER_IDLE;
    }
    free(l);
}

static const struct timer_ops list_ops = {
    .name = "list",
    .add = list_add,
    .adjust = list_adjust,
    .del = list_del,
    .tick = list_tick,
    .next = list_next,
    .count = list_count,
    .destroy = list_destroy,
};

struct timer_queue *
timer_list_new(void)
{
    struct timer_list *l = calloc(1, sizeof *l);

    if (l == NULL)
        return NULL;
    l->q.ops = &list_ops;
    return &l->q;
}

bool
timer_list_valid(const struct timer_queue *q)
{
    const struct timer_list *l = clist_of(q);
    const struct timer *prev = NULL;
    size_t n = 0;

    for (const struct timer *t = l->pending.head; t; t = t->next) {
        if (t->prev != prev || t->state != TIMER_PENDING)
            return false;
        if (prev && prev->expire > t->expire)
            return false;
        prev = t;
        n++;
    }
    if (l->pending.tail != prev)
        return false;
    prev = NULL;
    for (const struct timer *t = l->due.head; t; t = t->next) {
        if (t->prev != prev || t->state != TIMER_DUE)
            return false;
        prev = t;
        n++;
    }
    return l->due.tail == prev && n == l->count;
}
