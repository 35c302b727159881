/*
 * timer_check.c - the tests every timer container of chapter 11 must
 * pass, and the property test against a model (see timer_check.h).
 */
#define _GNU_SOURCE
/* cmocka.h needs these before it, in this order. */
/* clang-format off */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
/* clang-format on */

#include "timer_check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

uint64_t
check_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------
 * The generic tests: a container, timers that log their firing, and an
 * optional action each runs in its callback.
 */

enum { LOG_MAX = 256 };

struct fixture {
    const struct timer_backend *b;
    struct timer_queue *q;
    int log[LOG_MAX];
    size_t nlog;
};

struct ftimer;
typedef void action_fn(struct ftimer *self);

struct ftimer {
    struct timer t;
    struct fixture *f;
    int id;
    int fired;
    action_fn *action; /* run inside the callback, after logging */
    struct ftimer *other;
    bool heap_allocated; /* the callback frees it */
};

/* The Kth step after the origin: on a tick boundary of every back end. */
static uint64_t
at(uint64_t k)
{
    return CHECK_ORIGIN + k * CHECK_STEP;
}

static void
fixture_init(struct fixture *f, void **state)
{
    memset(f, 0, sizeof *f);
    f->b = *state;
    f->q = f->b->make(CHECK_ORIGIN);
    assert_non_null(f->q);
}

static void
fixture_done(struct fixture *f)
{
    assert_true(f->b->valid(f->q));
    timer_queue_destroy(f->q);
}

static void
on_fire(struct timer *t, void *arg)
{
    struct ftimer *ft = arg;

    assert_ptr_equal(t, &ft->t);
    assert_false(timer_pending(t));
    assert_true(ft->f->nlog < LOG_MAX);
    ft->f->log[ft->f->nlog++] = ft->id;
    ft->fired++;
    if (ft->action)
        ft->action(ft);
    if (ft->heap_allocated)
        free(ft);
}

static void
ft_init(struct fixture *f, struct ftimer *ft, int id)
{
    memset(ft, 0, sizeof *ft);
    timer_init(&ft->t, on_fire, ft);
    ft->f = f;
    ft->id = id;
}

static void
ft_add(struct fixture *f, struct ftimer *ft, uint64_t expire)
{
    assert_int_equal(timer_add(f->q, &ft->t, expire), 0);
    assert_true(timer_pending(&ft->t));
    assert_true(f->b->valid(f->q));
}

static size_t
tick(struct fixture *f, uint64_t now)
{
    size_t n = timer_tick(f->q, now);
    assert_true(f->b->valid(f->q));
    return n;
}

void
check_empty(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 0);
    assert_int_equal(timer_count(f.q), 0);
    assert_true(timer_next(f.q) == TIMER_NEVER);
    assert_int_equal(tick(&f, at(100)), 0);
    assert_false(timer_del(f.q, &a.t));
    assert_int_equal(f.nlog, 0);
    fixture_done(&f);
}

void
check_fires_in_order(void **state)
{
    static const uint64_t steps[] = {5, 3, 8, 1, 7, 2, 6, 4};
    struct fixture f;
    struct ftimer t[ARRAY_LEN(steps)];

    fixture_init(&f, state);
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        ft_init(&f, &t[i], (int)steps[i]);
        ft_add(&f, &t[i], at(steps[i]));
    }
    assert_int_equal(timer_count(f.q), ARRAY_LEN(steps));
    assert_true(timer_next(f.q) == at(1));
    assert_int_equal(tick(&f, at(3)), 3);
    assert_true(timer_next(f.q) == at(4));
    assert_int_equal(timer_count(f.q), ARRAY_LEN(steps) - 3);
    assert_int_equal(tick(&f, at(100)), ARRAY_LEN(steps) - 3);
    assert_int_equal(f.nlog, ARRAY_LEN(steps));
    for (size_t i = 0; i < f.nlog; i++)
        assert_int_equal(f.log[i], (int)i + 1);
    assert_true(timer_next(f.q) == TIMER_NEVER);
    fixture_done(&f);
}

void
check_never_early(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 1);
    ft_add(&f, &a, at(5));
    assert_int_equal(tick(&f, at(5) - 1), 0);
    assert_true(timer_pending(&a.t));
    assert_int_equal(tick(&f, at(5)), 1);
    assert_int_equal(a.fired, 1);
    assert_int_equal(tick(&f, at(500)), 0); /* exactly once */
    assert_int_equal(a.fired, 1);
    fixture_done(&f);
}

void
check_equal_expiries(void **state)
{
    enum { N = 50 };
    struct fixture f;
    struct ftimer t[N];
    bool seen[N] = {false};

    fixture_init(&f, state);
    for (int i = 0; i < N; i++) {
        ft_init(&f, &t[i], i);
        ft_add(&f, &t[i], at(3));
    }
    assert_int_equal(tick(&f, at(3) - 1), 0);
    assert_int_equal(tick(&f, at(3)), N);
    assert_int_equal(f.nlog, N);
    for (int i = 0; i < N; i++) {
        assert_false(seen[f.log[i]]);
        seen[f.log[i]] = true;
        if (f.b->fifo_ties)
            assert_int_equal(f.log[i], i);
    }
    fixture_done(&f);
}

void
check_adjust_both_ways(void **state)
{
    struct fixture f;
    struct ftimer a, b, c;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    ft_init(&f, &c, 'c');
    ft_add(&f, &a, at(10));
    ft_add(&f, &b, at(20));
    ft_add(&f, &c, at(30));
    /* earlier: the book's list left c behind a and b */
    assert_int_equal(timer_adjust(f.q, &c.t, at(5)), 0);
    assert_true(f.b->valid(f.q));
    /* later, past b */
    assert_int_equal(timer_adjust(f.q, &a.t, at(25)), 0);
    assert_true(f.b->valid(f.q));
    /* to where it already is */
    assert_int_equal(timer_adjust(f.q, &b.t, at(20)), 0);
    assert_true(f.b->valid(f.q));
    assert_int_equal(timer_count(f.q), 3);
    assert_true(timer_next(f.q) == at(5));
    assert_int_equal(tick(&f, at(5)), 1);
    assert_int_equal(f.log[0], 'c');
    assert_int_equal(tick(&f, at(19)), 0);
    assert_int_equal(tick(&f, at(20)), 1);
    assert_int_equal(f.log[1], 'b');
    assert_int_equal(tick(&f, at(24)), 0);
    assert_int_equal(tick(&f, at(25)), 1);
    assert_int_equal(f.log[2], 'a');
    fixture_done(&f);
}

void
check_adjust_idle_adds(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 1);
    assert_int_equal(timer_adjust(f.q, &a.t, at(2)), 0);
    assert_true(timer_pending(&a.t));
    assert_int_equal(timer_count(f.q), 1);
    assert_int_equal(tick(&f, at(2)), 1);
    fixture_done(&f);
}

void
check_add_pending_refused(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 1);
    ft_add(&f, &a, at(2));
    errno = 0;
    assert_int_equal(timer_add(f.q, &a.t, at(3)), -1);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(timer_count(f.q), 1);
    assert_true(a.t.expire == at(2));
    assert_int_equal(tick(&f, at(2)), 1);
    fixture_done(&f);
}

void
check_delete(void **state)
{
    struct fixture f;
    struct ftimer a, b;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    ft_add(&f, &a, at(1));
    ft_add(&f, &b, at(2));
    assert_true(timer_del(f.q, &a.t));
    assert_false(timer_pending(&a.t));
    assert_false(timer_del(f.q, &a.t));
    assert_true(f.b->valid(f.q));
    assert_int_equal(timer_count(f.q), 1);
    assert_true(timer_next(f.q) == at(2));
    assert_int_equal(tick(&f, at(10)), 1);
    assert_int_equal(f.log[0], 'b');
    assert_int_equal(a.fired, 0);
    assert_false(timer_del(f.q, &b.t)); /* fired: no longer pending */
    /* a deleted timer can be added again */
    ft_add(&f, &a, at(12));
    assert_int_equal(tick(&f, at(12)), 1);
    assert_int_equal(a.fired, 1);
    fixture_done(&f);
}

static void
delete_self(struct ftimer *self)
{
    assert_false(timer_del(self->f->q, &self->t));
}

void
check_cb_deletes_itself(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 1);
    a.action = delete_self;
    ft_add(&f, &a, at(1));
    assert_int_equal(tick(&f, at(1)), 1);
    assert_int_equal(timer_count(f.q), 0);
    fixture_done(&f);
}

/* delete OTHER (due in the same tick) and OTHER->other (not due) */
static void
delete_others(struct ftimer *self)
{
    struct timer_queue *q = self->f->q;

    assert_true(timer_del(q, &self->other->t));
    assert_true(timer_del(q, &self->other->other->t));
    assert_false(timer_del(q, &self->other->t));
}

void
check_cb_deletes_others(void **state)
{
    struct fixture f;
    struct ftimer a, b, c;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    ft_init(&f, &c, 'c');
    a.action = delete_others;
    a.other = &b;
    b.other = &c;
    ft_add(&f, &a, at(1));
    ft_add(&f, &b, at(2));
    ft_add(&f, &c, at(50));
    assert_int_equal(tick(&f, at(10)), 1); /* a and b were due */
    assert_int_equal(f.nlog, 1);
    assert_int_equal(f.log[0], 'a');
    assert_int_equal(timer_count(f.q), 0);
    assert_int_equal(tick(&f, at(100)), 0);
    assert_int_equal(b.fired + c.fired, 0);
    fixture_done(&f);
}

/* re-arm at the time it fired: due already, yet not in the same tick */
static void
rearm_self(struct ftimer *self)
{
    if (self->fired < 3) {
        assert_int_equal(timer_adjust(self->f->q, &self->t, self->t.expire), 0);
        assert_true(timer_pending(&self->t));
    }
}

void
check_cb_rearms_itself(void **state)
{
    struct fixture f;
    struct ftimer a;

    fixture_init(&f, state);
    ft_init(&f, &a, 1);
    a.action = rearm_self;
    ft_add(&f, &a, at(1));
    assert_int_equal(tick(&f, at(1)), 1);
    assert_int_equal(timer_count(f.q), 1);
    /* past due: fires at the next tick (the wheel: its next boundary) */
    assert_int_equal(tick(&f, at(2)), 1);
    assert_int_equal(tick(&f, at(3)), 1);
    assert_int_equal(a.fired, 3);
    assert_int_equal(timer_count(f.q), 0);
    assert_int_equal(tick(&f, at(100)), 0);
    fixture_done(&f);
}

static void
add_other_now(struct ftimer *self)
{
    assert_int_equal(timer_add(self->f->q, &self->other->t, self->t.expire), 0);
}

void
check_cb_adds_due_timer(void **state)
{
    struct fixture f;
    struct ftimer a, b;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    a.action = add_other_now;
    a.other = &b;
    ft_add(&f, &a, at(1));
    assert_int_equal(tick(&f, at(1)), 1);
    assert_int_equal(b.fired, 0);
    assert_true(timer_pending(&b.t));
    assert_int_equal(tick(&f, at(2)), 1);
    assert_int_equal(b.fired, 1);
    fixture_done(&f);
}

static void
postpone_other(struct ftimer *self)
{
    assert_int_equal(timer_adjust(self->f->q, &self->other->t, at(5)), 0);
}

void
check_cb_adjusts_due_timer(void **state)
{
    struct fixture f;
    struct ftimer a, b;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    a.action = postpone_other;
    a.other = &b;
    ft_add(&f, &a, at(1));
    ft_add(&f, &b, at(2));
    assert_int_equal(tick(&f, at(3)), 1);
    assert_int_equal(b.fired, 0);
    assert_int_equal(tick(&f, at(4)), 0);
    assert_int_equal(tick(&f, at(5)), 1);
    assert_int_equal(b.fired, 1);
    fixture_done(&f);
}

/* delete the other timer, then free it: the caller owns the memory */
static void
delete_and_free_other(struct ftimer *self)
{
    assert_true(timer_del(self->f->q, &self->other->t));
    free(self->other);
}

void
check_cb_frees_its_timer(void **state)
{
    enum { N = 6 };
    struct fixture f;
    struct ftimer *t[N];

    fixture_init(&f, state);
    for (int i = 0; i < N; i++) {
        t[i] = malloc(sizeof *t[i]);
        assert_non_null(t[i]);
        ft_init(&f, t[i], i);
        t[i]->heap_allocated = true; /* on_fire frees it */
    }
    /* 0 frees 1 (due in the same tick) without it firing */
    t[0]->action = delete_and_free_other;
    t[0]->other = t[1];
    for (int i = 0; i < N; i++)
        ft_add(&f, t[i], at(1 + (uint64_t)i / 2));
    assert_int_equal(tick(&f, at(100)), N - 1);
    assert_int_equal(f.nlog, N - 1);
    assert_int_equal(f.log[0], 0);
    for (size_t i = 1; i < f.nlog; i++)
        assert_int_not_equal(f.log[i], 1);
    assert_int_equal(timer_count(f.q), 0);
    fixture_done(&f);
}

static void
tick_inside(struct ftimer *self)
{
    assert_int_equal(timer_tick(self->f->q, at(1000)), 0);
}

void
check_tick_not_reentrant(void **state)
{
    struct fixture f;
    struct ftimer a, b, c;

    fixture_init(&f, state);
    ft_init(&f, &a, 'a');
    ft_init(&f, &b, 'b');
    ft_init(&f, &c, 'c');
    a.action = tick_inside;
    ft_add(&f, &a, at(1));
    ft_add(&f, &b, at(2));
    ft_add(&f, &c, at(50));
    assert_int_equal(tick(&f, at(5)), 2);
    assert_int_equal(a.fired + b.fired, 2);
    assert_int_equal(c.fired, 0); /* the inner tick did nothing */
    assert_int_equal(timer_count(f.q), 1);
    assert_int_equal(tick(&f, at(50)), 1);
    fixture_done(&f);
}

void
check_destroy_with_pending(void **state)
{
    struct fixture f;
    struct ftimer t[3];

    fixture_init(&f, state);
    for (int i = 0; i < 3; i++) {
        ft_init(&f, &t[i], i);
        ft_add(&f, &t[i], at(1 + (uint64_t)i * 100));
    }
    timer_queue_destroy(f.q);
    for (int i = 0; i < 3; i++) {
        assert_false(timer_pending(&t[i].t));
        assert_int_equal(t[i].fired, 0);
    }
}

/* ------------------------------------------------------------------------
 * The property test: random operations against a model.
 */

struct mtimer {
    struct timer t;
    struct prop *p;
    int id;
    bool pending;       /* the model says it is in the container */
    bool due_now;       /* due at the start of the running tick */
    bool armed_in_tick; /* (re)armed by a callback of the running tick */
    uint64_t expire;
    uint64_t due; /* when the back end must fire it: the expiry, or the
                     wheel's boundary */
};

struct prop {
    const struct timer_backend *b;
    struct timer_queue *q;
    struct mtimer *m;
    size_t n;
    uint64_t rng;
    uint64_t seed;
    size_t step; /* operation number, for messages */
    uint64_t origin;
    uint64_t now; /* of the last (or running) tick */
    bool in_tick;
    size_t fired; /* in the running tick */
    bool have_key;
    uint64_t last_key; /* order of the running tick */
    uint64_t fired_total;
};

#define PCHECK(p, cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            char msg_[256];                                                    \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                          \
            fail_msg("%s: seed %" PRIu64 " step %zu: %s (%s)", (p)->b->name,   \
                     (p)->seed, (p)->step, msg_, #cond);                       \
        }                                                                      \
    } while (0)

static uint64_t
prand(struct prop *p, uint64_t n)
{
    return n ? check_rand(&p->rng) % n : 0;
}

/* When the back end fires a timer (re)armed now with expiry E. */
static uint64_t
model_due(const struct prop *p, uint64_t e)
{
    uint64_t tk = p->b->tick_ms, cur, k = 0;

    if (tk == 0)
        return e;
    cur = (p->now - p->origin) / tk; /* the ticks walked so far */
    if (e > p->origin)
        k = (e - p->origin) / tk + ((e - p->origin) % tk != 0);
    if (k <= cur)
        k = cur + 1;
    return p->origin + k * tk;
}

/* A random expiry around now: due, soon, in a while, beyond several
 * turns of the wheel, in the past. */
static uint64_t
random_expiry(struct prop *p)
{
    uint64_t r = prand(p, 100);

    if (r < 10)
        return p->now;
    if (r < 20)
        return p->now - prand(p, 60);
    if (r < 50)
        return p->now + prand(p, 40);
    if (r < 85)
        return p->now + prand(p, 400);
    return p->now + prand(p, 3000);
}

static void
model_arm(struct prop *p, struct mtimer *m, uint64_t expire)
{
    m->pending = true;
    m->due_now = false;
    m->armed_in_tick = p->in_tick;
    m->expire = expire;
    m->due = model_due(p, expire);
    /* the wheel's promise, checked on the model itself: never early, at
     * most one tick late (from when it was armed, if in the past) */
    if (p->b->tick_ms) {
        uint64_t from = expire > p->now ? expire : p->now;
        PCHECK(p, m->due >= expire && m->due <= from + p->b->tick_ms,
               "model: due %" PRIu64 " for expiry %" PRIu64, m->due, expire);
    }
}

static void
op_add(struct prop *p, struct mtimer *m)
{
    uint64_t e = random_expiry(p);

    if (m->pending) {
        errno = 0;
        PCHECK(p, timer_add(p->q, &m->t, e) == -1 && errno == EBUSY,
               "add of pending timer %d accepted", m->id);
        return;
    }
    PCHECK(p, timer_add(p->q, &m->t, e) == 0, "add of timer %d failed", m->id);
    model_arm(p, m, e);
}

static void
op_adjust(struct prop *p, struct mtimer *m)
{
    uint64_t e = random_expiry(p);

    PCHECK(p, timer_adjust(p->q, &m->t, e) == 0, "adjust of %d failed", m->id);
    model_arm(p, m, e);
}

static void
op_del(struct prop *p, struct mtimer *m)
{
    bool was = m->pending;

    PCHECK(p, timer_del(p->q, &m->t) == was,
           "del of timer %d returned %d, model says pending=%d", m->id, !was,
           was);
    m->pending = m->due_now = false;
}

static void
check_state(struct prop *p)
{
    uint64_t next = TIMER_NEVER;
    size_t count = 0;

    PCHECK(p, p->b->valid(p->q), "invariants broken");
    for (size_t i = 0; i < p->n; i++) {
        const struct mtimer *m = &p->m[i];
        PCHECK(p, timer_pending(&m->t) == m->pending,
               "timer %d: pending %d, model %d", m->id, timer_pending(&m->t),
               m->pending);
        if (!m->pending)
            continue;
        count++;
        if (m->due < next)
            next = m->due;
    }
    PCHECK(p, timer_count(p->q) == count, "count %zu, model %zu",
           timer_count(p->q), count);
    PCHECK(p, timer_next(p->q) == next, "next %" PRIu64 ", model %" PRIu64,
           timer_next(p->q), next);
}

/* A callback, at times, does something to the container. */
static void
reenter(struct prop *p, struct mtimer *self)
{
    struct mtimer *other = &p->m[prand(p, p->n)];

    switch (prand(p, 10)) {
    case 0:
        PCHECK(p, !timer_del(p->q, &self->t), "callback deleted itself");
        break;
    case 1:
    case 2:
        op_del(p, other); /* maybe due in this very tick */
        break;
    case 3:
        op_adjust(p, other); /* maybe due, maybe itself: re-armed */
        break;
    case 4:
        op_add(p, other);
        break;
    case 5:
        PCHECK(p, timer_tick(p->q, p->now + 100000) == 0,
               "tick inside a callback fired something");
        break;
    default:
        break;
    }
}

static void
prop_fire(struct timer *t, void *arg)
{
    struct mtimer *m = arg;
    struct prop *p = m->p;
    uint64_t key = p->b->tick_ms ? m->due : m->expire;

    PCHECK(p, t == &m->t && p->in_tick, "callback outside a tick");
    PCHECK(p, m->due_now,
           "timer %d fired at %" PRIu64 " but was not due (expire %" PRIu64
           ", due %" PRIu64 ", pending %d)",
           m->id, p->now, m->expire, m->due, m->pending);
    PCHECK(p, p->now >= m->expire, "timer %d fired early", m->id);
    PCHECK(p, !timer_pending(t), "timer %d still pending in its callback",
           m->id);
    PCHECK(p, !p->have_key || key >= p->last_key,
           "timer %d (key %" PRIu64 ") fired after one with key %" PRIu64,
           m->id, key, p->last_key);
    p->have_key = true;
    p->last_key = key;
    m->pending = m->due_now = false;
    p->fired++;
    reenter(p, m);
}

static void
op_tick(struct prop *p, uint64_t now)
{
    size_t want = 0, got;

    p->now = now;
    for (size_t i = 0; i < p->n; i++) {
        struct mtimer *m = &p->m[i];
        m->armed_in_tick = false;
        m->due_now = m->pending && m->due <= now;
        want += m->due_now;
    }
    p->in_tick = true;
    p->fired = 0;
    p->have_key = false;
    got = timer_tick(p->q, now);
    p->in_tick = false;
    PCHECK(p, got == p->fired, "tick returned %zu, callbacks counted %zu", got,
           p->fired);
    PCHECK(p, p->fired <= want, "more fired than were due");
    for (size_t i = 0; i < p->n; i++) {
        const struct mtimer *m = &p->m[i];
        PCHECK(p, !m->due_now,
               "timer %d was due (%" PRIu64 " <= %" PRIu64 ") and did not fire",
               m->id, m->due, now);
        PCHECK(p, !m->pending || m->armed_in_tick || m->due > now,
               "timer %d left pending although due", m->id);
    }
    p->fired_total += got;
}

static uint64_t
random_advance(struct prop *p)
{
    uint64_t r = prand(p, 100);

    if (r < 15)
        return 0;
    if (r < 80)
        return prand(p, 25);
    if (r < 95)
        return prand(p, 200);
    return prand(p, 2500);
}

void
timer_property_run(const struct timer_backend *b, uint64_t seed, size_t ops,
                   size_t pool)
{
    struct prop p;

    memset(&p, 0, sizeof p);
    p.b = b;
    p.seed = seed;
    p.rng = seed;
    /* the clock starts anywhere, off the tick boundaries */
    p.origin = 1000000 + prand(&p, 1000000);
    p.now = p.origin;
    p.q = b->make(p.origin);
    assert_non_null(p.q);
    p.n = pool;
    p.m = calloc(pool, sizeof *p.m);
    assert_non_null(p.m);
    for (size_t i = 0; i < pool; i++) {
        timer_init(&p.m[i].t, prop_fire, &p.m[i]);
        p.m[i].p = &p;
        p.m[i].id = (int)i;
    }
    for (p.step = 0; p.step < ops; p.step++) {
        struct mtimer *m = &p.m[prand(&p, pool)];
        uint64_t r = prand(&p, 100);
        if (r < 30)
            op_add(&p, m);
        else if (r < 55)
            op_adjust(&p, m);
        else if (r < 70)
            op_del(&p, m);
        else
            op_tick(&p, p.now + random_advance(&p));
        check_state(&p);
    }
    /* drain: everything fires */
    op_tick(&p, p.now + 1000000);
    op_tick(&p, p.now + 1000000); /* what callbacks re-armed */
    while (timer_count(p.q) > 0)
        op_tick(&p, p.now + 1000000);
    check_state(&p);
    PCHECK(&p, p.fired_total > ops / 10, "only %" PRIu64 " timers fired",
           p.fired_total);
    timer_queue_destroy(p.q);
    free(p.m);
}

void
check_property(void **state)
{
    const struct timer_backend *b = *state;
    const char *seed = getenv("TIMER_SEED");
    const char *ops = getenv("TIMER_OPS");

    if (seed) {
        timer_property_run(b, strtoull(seed, NULL, 0),
                           ops ? strtoul(ops, NULL, 0) : 20000, 64);
        return;
    }
    /* small pools crowd the slots and collide; large ones spread out */
    for (uint64_t s = 1; s <= 6; s++)
        timer_property_run(b, s, 20000, s % 2 ? 16 : 200);
}
