/*
 * timer_wheel.c - lab timer-wheel, starter code: the hashed time wheel of
 * Listing 11-5, behind the interface of timer.h.
 *
 * What it must do: timer_wheel.h says it (slots, ticks, rotations, the
 * rounding rule) and timer.h says what every container promises (the
 * order of callbacks, what a callback may do).  The container's
 * structure, add, delete, adjust, count, destroy and the validity check
 * are written for you; the rounding rule (tick_of), the walk of the wheel
 * (wheel_tick) and the next expiry (wheel_next) are yours: look for
 * TODO(lab).  The handout is labs/timer-wheel/README.md.
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

/*
 * The tick an expiry of E fires on.
 *
 * TODO(lab): the rounding rule of timer_wheel.h: the first tick boundary
 * at or after E (tick k starts at origin + k * tick_ms), and never a tick
 * the wheel has walked already (w->cur or earlier).  The stand-in below
 * puts every timer on the next tick, whatever its expiry.
 */
static uint64_t
tick_of(const struct timer_wheel *w, uint64_t expire)
{
    (void)expire;
    return w->cur + 1;
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
    /* TODO(lab): walk the wheel forward, one tick at a time, up to the
     * last tick that has started at NOW (none before the origin).  At
     * each tick, visit its slot: a timer of this tick is unlinked, made
     * TIMER_DUE and appended to w->due (keep w->in_slots right); a timer
     * of a later rotation stays where it is.  Callbacks do not run here:
     * chain_fire() below runs them once everything due is collected.
     * A wheel with no timers in its slots may jump straight to NOW. */
    (void)now;
    fired = chain_fire(&w->due, &w->count);
    w->ticking = false;
    return fired;
}

/*
 * TODO(lab): the time of the earliest tick that holds a timer, or
 * TIMER_NEVER when there is none: the due chain first (timers a running
 * tick has collected), then the slots ahead, one turn of the wheel; a
 * timer may be more than a turn away.  time_of() converts a tick to a
 * time.  The stand-in answers "the next tick" whenever any timer exists.
 */
static uint64_t
wheel_next(const struct timer_queue *q)
{
    const struct timer_wheel *w = cwheel_of(q);

    return w->count > 0 ? time_of(w, w->cur + 1) : TIMER_NEVER;
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
