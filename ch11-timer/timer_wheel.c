/*
 * timer_wheel.c - Listing 11-5: a hashed time wheel.
 *
 * Differs from the printed listing: the slot advance is one well-defined
 * assignment (the book increments the index and assigns to it in the same
 * expression: two unsequenced modifications, undefined behaviour in C);
 * there is an adjust, where the book re-arms by delete plus add; the walk
 * of a slot is safe against callbacks that delete the next timer or their
 * own, because all due timers are unlinked before any callback runs; the
 * wheel follows the caller's `now` and catches up on every tick that has
 * passed (the book advances one slot per call, whatever the time); a
 * timer stores its absolute tick instead of a rotation count that every
 * visit decrements; nothing is printed, that is the caller's business.
 */
#include "timer_wheel.h"

#include <errno.h>
#include <stdlib.h>

#include "timer_chain.h"

struct timer_wheel {
    struct timer_queue q; /* first: what the generic calls receive */
    struct timer_chain *slots;
    size_t nslots;
    uint64_t tick_ms;
    uint64_t origin; /* the time of tick 0 */
    uint64_t cur;    /* the last tick walked: timers wait for later ones */
    size_t in_slots; /* timers in the slots */
    struct timer_chain due; /* taken out by the running tick */
    size_t count;           /* in_slots + due */
    bool ticking;
};

static struct timer_wheel *
wheel_of(struct timer_queue *q)
{
    return (struct timer_wheel *)q;
}

static const struct timer_wheel *
cwheel_of(const struct timer_queue *q)
{
    return (const struct timer_wheel *)q;
}

/* The tick an expiry of E fires on: the boundary at or after E, and
 * never one the wheel has walked already. */
static uint64_t
tick_of(const struct timer_wheel *w, uint64_t expire)
{
    uint64_t k = 0;

    if (expire > w->origin) {
        uint64_t d = expire - w->origin;
        k = d / w->tick_ms + (d % w->tick_ms != 0);
    }
    return k > w->cur ? k : w->cur + 1;
}

/* The time tick K starts, saturated below TIMER_NEVER. */
static uint64_t
time_of(const struct timer_wheel *w, uint64_t k)
{
    if (k > (TIMER_NEVER - 1 - w->origin) / w->tick_ms)
        return TIMER_NEVER - 1;
    return w->origin + k * w->tick_ms;
}

static struct timer_chain *
slot_of(struct timer_wheel *w, uint64_t k)
{
    return &w->slots[k % w->nslots];
}

static int
wheel_add(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    struct timer_wheel *w = wheel_of(q);

    t->expire = expire;
    t->tick = tick_of(w, expire);
    t->state = TIMER_PENDING;
    chain_push_back(slot_of(w, t->tick), t);
    w->in_slots++;
    w->count++;
    return 0;
}

static bool
wheel_del(struct timer_queue *q, struct timer *t)
{
    struct timer_wheel *w = wheel_of(q);

    switch (t->state) {
    case TIMER_IDLE:
        return false;
    case TIMER_DUE:
        chain_unlink(&w->due, t);
        break;
    case TIMER_PENDING:
        chain_unlink(slot_of(w, t->tick), t);
        w->in_slots--;
        break;
    }
    t->state = TIMER_IDLE;
    w->count--;
    return true;
}

static int
wheel_adjust(struct timer_queue *q, struct timer *t, uint64_t expire)
{
    /* O(1) either way: unlink from its slot (or the due chain), relink */
    wheel_del(q, t);
    return wheel_add(q, t, expire);
}

static size_t
wheel_tick(struct timer_queue *q, uint64_t now)
{
    struct timer_wheel *w = wheel_of(q);
    size_t fired;

    if (w->ticking)
        return 0;
    w->ticking = true;
    if (now >= w->origin) {
        uint64_t target = (now - w->origin) / w->tick_ms;
        while (w->cur < target) {
            if (w->in_slots == 0) { /* nothing to find: jump */
                w->cur = target;
                break;
            }
            w->cur = w->cur + 1;
            struct timer_chain *slot = slot_of(w, w->cur);
            struct timer *t = slot->head, *next;
            for (; t; t = next) {
                next = t->next;
                if (t->tick > w->cur)
                    continue; /* a later rotation */
                chain_unlink(slot, t);
                w->in_slots--;
                t->state = TIMER_DUE;
                chain_push_back(&w->due, t);
            }
        }
    }
    fired = chain_fire(&w->due, &w->count);
    w->ticking = false;
    return fired;
}

static uint64_t
wheel_next(const struct timer_queue *q)
{
    const struct timer_wheel *w = cwheel_of(q);
    uint64_t best = TIMER_NEVER;

    if (w->due.head)
        return time_of(w, w->due.head->tick);
    if (w->in_slots == 0)
        return TIMER_NEVER;
    /* one turn ahead: the first slot holding a timer of this rotation */
    for (uint64_t k = w->cur + 1; k <= w->cur + w->nslots; k++) {
        const struct timer_chain *slot = &w->slots[k % w->nslots];
        for (const struct timer *t = slot->head; t; t = t->next)
            if (t->tick == k)
                return time_of(w, k);
    }
    /* all of them are further away than one turn */
    for (size_t s = 0; s < w->nslots; s++)
        for (const struct timer *t = w->slots[s].head; t; t = t->next)
            if (t->tick < best)
                best = t->tick;
    return time_of(w, best);
}

static size_t
wheel_count(const struct timer_queue *q)
{
    return cwheel_of(q)->count;
}

static void
wheel_destroy(struct timer_queue *q)
{
    struct timer_wheel *w = wheel_of(q);
    struct timer *t;

    for (size_t s = 0; s < w->nslots; s++)
        while ((t = w->slots[s].head) != NULL) {
            chain_unlink(&w->slots[s], t);
            t->state = TIMER_IDLE;
        }
    while ((t = w->due.head) != NULL) {
        chain_unlink(&w->due, t);
        t->state = TIMER_IDLE;
    }
    free(w->slots);
    free(w);
}

static const struct timer_ops wheel_ops = {
    .name = "wheel",
    .add = wheel_add,
    .adjust = wheel_adjust,
    .del = wheel_del,
    .tick = wheel_tick,
    .next = wheel_next,
    .count = wheel_count,
    .destroy = wheel_destroy,
};

struct timer_queue *
timer_wheel_new(uint64_t now, size_t slots, uint64_t tick_ms)
{
    struct timer_wheel *w;

    if (slots == 0 || tick_ms == 0) {
        errno = EINVAL;
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->slots = calloc(slots, sizeof *w->slots);
    if (w->slots == NULL) {
        free(w);
        return NULL;
    }
    w->q.ops = &wheel_ops;
    w->nslots = slots;
    w->tick_ms = tick_ms;
    w->origin = now;
    return &w->q;
}

bool
timer_wheel_valid(const struct timer_queue *q)
{
    const struct timer_wheel *w = cwheel_of(q);
    size_t n = 0, due = 0;

    for (size_t s = 0; s < w->nslots; s++) {
        const struct timer *prev = NULL;
        for (const struct timer *t = w->slots[s].head; t; t = t->next) {
            if (t->prev != prev || t->state != TIMER_PENDING ||
                t->tick % w->nslots != s || t->tick <= w->cur)
                return false;
            prev = t;
            n++;
        }
        if (w->slots[s].tail != prev)
            return false;
    }
    for (const struct timer *t = w->due.head; t; t = t->next) {
        if (t->state != TIMER_DUE)
            return false;
        due++;
    }
    return n == w->in_slots && n + due == w->count;
}
