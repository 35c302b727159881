/*
 * test_timer_wheel.c - unit and property tests of the time-wheel timer
 * container (ch11-timer/timer_wheel.c, listing 11-5).
 *
 * The tests every container passes come from timer_check.c, run on a
 * book-shaped wheel (60 slots) with expiries on its tick boundaries; the
 * property test also runs on a 7-slot and a 1-slot wheel, where most
 * timers share slots across rotations.  Here are the wheel's own: a timer
 * beyond one turn waits out its rotations, an expiry between boundaries
 * fires at the next one (never early, at most one tick late), a time jump
 * over many turns fires everything in tick order.
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

#include <errno.h>
#include <stdlib.h>

#include "../../ch11-timer/timer_wheel.h"
#include "timer_check.h"

enum { SLOTS = TIMER_WHEEL_BOOK_SLOTS, TICK = 10 };

static struct timer_queue *
make_wheel(uint64_t now)
{
    return timer_wheel_new(now, SLOTS, TICK);
}

static struct timer_queue *
make_small_wheel(uint64_t now)
{
    return timer_wheel_new(now, 7, 3);
}

static struct timer_queue *
make_one_slot_wheel(uint64_t now)
{
    return timer_wheel_new(now, 1, 1);
}

static const struct timer_backend wheel_backend = {
    .name = "wheel 60x10ms",
    .make = make_wheel,
    .valid = timer_wheel_valid,
    .tick_ms = TICK,
    .fifo_ties = true,
};

static const struct timer_backend small_wheel_backend = {
    .name = "wheel 7x3ms",
    .make = make_small_wheel,
    .valid = timer_wheel_valid,
    .tick_ms = 3,
    .fifo_ties = true,
};

static const struct timer_backend one_slot_backend = {
    .name = "wheel 1x1ms",
    .make = make_one_slot_wheel,
    .valid = timer_wheel_valid,
    .tick_ms = 1,
    .fifo_ties = true,
};

/* Tick number K of a wheel started at CHECK_ORIGIN. */
static uint64_t
tick_time(uint64_t k)
{
    return CHECK_ORIGIN + k * TICK;
}

struct record {
    uint64_t fired_at; /* the now of the tick that fired it; 0: never */
    uint64_t *now;
    uint64_t order;
    uint64_t *counter;
};

static void
record_fire(struct timer *t, void *arg)
{
    struct record *r = arg;
    (void)t;
    assert_true(r->fired_at == 0);
    r->fired_at = *r->now;
    r->order = (*r->counter)++;
}

/* A timer 150 ticks away shares its slot with ticks 30 and 90 of the
 * first turns: it waits out two rotations and fires on tick 150. */
static void
test_rotations(void **state)
{
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    uint64_t now = CHECK_ORIGIN, counter = 0;
    struct timer near, far;
    struct record rn = {0, &now, 0, &counter}, rf = {0, &now, 0, &counter};
    (void)state;

    assert_non_null(q);
    timer_init(&near, record_fire, &rn);
    timer_init(&far, record_fire, &rf);
    assert_int_equal(timer_add(q, &far, tick_time(150)), 0);
    assert_int_equal(timer_add(q, &near, tick_time(30)), 0); /* same slot */
    assert_true(timer_next(q) == tick_time(30));
    for (uint64_t k = 1; k <= 200; k++) {
        now = tick_time(k);
        timer_tick(q, now);
        assert_true(timer_wheel_valid(q));
        if (k == 30)
            assert_true(timer_next(q) == tick_time(150));
    }
    assert_true(rn.fired_at == tick_time(30));
    assert_true(rf.fired_at == tick_time(150));
    timer_queue_destroy(q);
}

/* Between boundaries: an expiry at +25 ms fires on the tick at +30. */
static void
test_rounds_up_to_boundary(void **state)
{
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    uint64_t now, counter = 0;
    struct timer t;
    struct record r = {0, &now, 0, &counter};
    (void)state;

    assert_non_null(q);
    timer_init(&t, record_fire, &r);
    assert_int_equal(timer_add(q, &t, CHECK_ORIGIN + 25), 0);
    assert_true(timer_next(q) == CHECK_ORIGIN + 30);
    now = CHECK_ORIGIN + 25; /* due, but the wheel has not reached it */
    assert_int_equal(timer_tick(q, now), 0);
    now = CHECK_ORIGIN + 29;
    assert_int_equal(timer_tick(q, now), 0);
    now = CHECK_ORIGIN + 30;
    assert_int_equal(timer_tick(q, now), 1);
    timer_queue_destroy(q);
}

/* An expiry in the past fires on the next tick, not on one already
 * walked (which would never come round again). */
static void
test_past_expiry_next_tick(void **state)
{
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    uint64_t now = CHECK_ORIGIN + 55, counter = 0;
    struct timer t;
    struct record r = {0, &now, 0, &counter};
    (void)state;

    assert_non_null(q);
    timer_init(&t, record_fire, &r);
    assert_int_equal(timer_tick(q, now), 0); /* walked ticks 1..5 */
    assert_int_equal(timer_add(q, &t, CHECK_ORIGIN + 10), 0);
    assert_true(timer_next(q) == CHECK_ORIGIN + 60);
    now = CHECK_ORIGIN + 59;
    assert_int_equal(timer_tick(q, now), 0);
    now = CHECK_ORIGIN + 60;
    assert_int_equal(timer_tick(q, now), 1);
    timer_queue_destroy(q);
}

/* 600 timers over ten turns, added in random order; one jump of the
 * clock fires them all, in the order of their ticks. */
static void
test_jump_fires_in_tick_order(void **state)
{
    enum { N = 600 };
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    static struct timer t[N];
    static struct record r[N];
    uint64_t now = CHECK_ORIGIN + 100000, counter = 0, rng = 7;
    int perm[N];
    (void)state;

    assert_non_null(q);
    for (int i = 0; i < N; i++)
        perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(check_rand(&rng) % (uint64_t)(i + 1));
        int x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    for (int i = 0; i < N; i++) {
        int k = perm[i];
        r[k] = (struct record){0, &now, 0, &counter};
        timer_init(&t[k], record_fire, &r[k]);
        assert_int_equal(timer_add(q, &t[k], tick_time((uint64_t)k + 1)), 0);
    }
    assert_true(timer_next(q) == tick_time(1));
    assert_int_equal(timer_tick(q, now), N);
    for (int k = 0; k < N; k++)
        assert_int_equal(r[k].order, (uint64_t)k);
    timer_queue_destroy(q);
}

/* One slot, many rotations: cancel its head, middle and tail. */
static void
test_crowded_slot(void **state)
{
    enum { N = 20 };
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    struct timer t[N];
    struct record r[N];
    uint64_t now = CHECK_ORIGIN, counter = 0;
    (void)state;

    assert_non_null(q);
    for (int i = 0; i < N; i++) {
        r[i] = (struct record){0, &now, 0, &counter};
        timer_init(&t[i], record_fire, &r[i]);
        /* ticks 7, 67, 127 ...: all in slot 7 */
        assert_int_equal(
            timer_add(q, &t[i], tick_time(7 + SLOTS * (uint64_t)i)), 0);
    }
    assert_true(timer_del(q, &t[0]));
    assert_true(timer_del(q, &t[N / 2]));
    assert_true(timer_del(q, &t[N - 1]));
    assert_true(timer_wheel_valid(q));
    assert_true(timer_next(q) == tick_time(7 + SLOTS));
    for (uint64_t k = 1; k <= 7 + SLOTS * N; k++) {
        now = tick_time(k);
        timer_tick(q, now);
    }
    for (int i = 0; i < N; i++) {
        if (i == 0 || i == N / 2 || i == N - 1)
            assert_true(r[i].fired_at == 0);
        else
            assert_true(r[i].fired_at == tick_time(7 + SLOTS * (uint64_t)i));
    }
    assert_int_equal(timer_count(q), 0);
    timer_queue_destroy(q);
}

/* An empty wheel jumps to the present at once, and timers added after
 * the jump count from there. */
static void
test_idle_jump(void **state)
{
    struct timer_queue *q = timer_wheel_new(CHECK_ORIGIN, SLOTS, TICK);
    uint64_t now = CHECK_ORIGIN + 1000000 + 3, counter = 0;
    struct timer t;
    struct record r = {0, &now, 0, &counter};
    (void)state;

    assert_non_null(q);
    timer_init(&t, record_fire, &r);
    assert_int_equal(timer_tick(q, now), 0);
    assert_int_equal(timer_add(q, &t, now + 20), 0); /* ...1023 -> ...1030 */
    assert_true(timer_next(q) == CHECK_ORIGIN + 1000030);
    now = CHECK_ORIGIN + 1000029;
    assert_int_equal(timer_tick(q, now), 0);
    now = CHECK_ORIGIN + 1000030;
    assert_int_equal(timer_tick(q, now), 1);
    timer_queue_destroy(q);
}

static void
test_new_refuses_zero(void **state)
{
    (void)state;
    errno = 0;
    assert_null(timer_wheel_new(0, 0, 10));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(timer_wheel_new(0, 60, 0));
    assert_int_equal(errno, EINVAL);
}

/* The property test on the small wheels, under names of their own: a
 * lab grades each cmocka test by its name (labs/timer-wheel). */
static void
check_property_7_slots(void **state)
{
    check_property(state);
}

static void
check_property_1_slot(void **state)
{
    check_property(state);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TIMER_GENERIC_TESTS(wheel_backend),
        cmocka_unit_test_prestate(check_property_7_slots,
                                  (void *)&small_wheel_backend),
        cmocka_unit_test_prestate(check_property_1_slot,
                                  (void *)&one_slot_backend),
        cmocka_unit_test(test_rotations),
        cmocka_unit_test(test_rounds_up_to_boundary),
        cmocka_unit_test(test_past_expiry_next_tick),
        cmocka_unit_test(test_jump_fires_in_tick_order),
        cmocka_unit_test(test_crowded_slot),
        cmocka_unit_test(test_idle_jump),
        cmocka_unit_test(test_new_refuses_zero),
    };
    return cmocka_run_group_tests_name("timer_wheel", tests, NULL, NULL);
}
