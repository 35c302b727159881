/*
 * timer_chain.h - a doubly linked chain of timers with head and tail.
 * Private to the three containers (the list itself, each wheel slot, and
 * the "due" chain every timer_tick fills before it runs callbacks).
 */
#ifndef HPSP_TIMER_CHAIN_H
#define HPSP_TIMER_CHAIN_H

#include <stddef.h>

#include "timer.h"

struct timer_chain {
    struct timer *head, *tail;
};

/* Link T after POS (NULL: at the front). */
static inline void
chain_insert_after(struct timer_chain *c, struct timer *pos, struct timer *t)
{
    t->prev = pos;
    t->next = pos ? pos->next : c->head;
    if (t->next)
        t->next->prev = t;
    else
        c->tail = t;
    if (pos)
        pos->next = t;
    else
        c->head = t;
}

static inline void
chain_push_back(struct timer_chain *c, struct timer *t)
{
    chain_insert_after(c, c->tail, t);
}

static inline void
chain_unlink(struct timer_chain *c, struct timer *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        c->head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        c->tail = t->prev;
    t->prev = t->next = NULL;
}

/*
 * The second half of every timer_tick: run the callbacks of the timers
 * collected in DUE, front to back.  Each is unlinked and made idle before
 * its callback runs, and never touched after it: the callback may free it,
 * re-arm it, or delete other due timers (which unlinks them from DUE).
 * *PENDING counts the container's timers.  Returns how many fired.
 */
static inline size_t
chain_fire(struct timer_chain *due, size_t *pending)
{
    size_t fired = 0;
    struct timer *t;

    while ((t = due->head) != NULL) {
        chain_unlink(due, t);
        t->state = TIMER_IDLE;
        (*pending)--;
        fired++;
        t->fn(t, t->arg);
    }
    return fired;
}

#endif /* HPSP_TIMER_CHAIN_H */
