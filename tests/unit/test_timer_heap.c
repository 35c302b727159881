/*
 * test_timer_heap.c - unit and property tests of the min-heap timer
 * container (ch11-timer/timer_heap.c, listing 11-6).
 *
 * The tests every container passes come from timer_check.c, with the
 * model-based property test (which checks the heap property and every
 * stored index after each operation); here are the heap's own: 10^5
 * random timers pop in sorted order, the array doubles, and a deletion
 * whose replacement must move up rather than down.
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

#include <stdlib.h>

#include "../../ch11-timer/timer_heap.h"
#include "timer_check.h"

static struct timer_queue *
make_heap(uint64_t now)
{
    (void)now; /* a heap needs no clock */
    return timer_heap_new(0);
}

/* A heap that starts with room for one: grows all through the tests. */
static struct timer_queue *
make_tiny_heap(uint64_t now)
{
    (void)now;
    return timer_heap_new(1);
}

static const struct timer_backend heap_backend = {
    .name = "heap",
    .make = make_heap,
    .valid = timer_heap_valid,
    .tick_ms = 0,
    .fifo_ties = false,
};

static const struct timer_backend tiny_heap_backend = {
    .name = "heap (capacity 1)",
    .make = make_tiny_heap,
    .valid = timer_heap_valid,
    .tick_ms = 0,
    .fifo_ties = false,
};

struct sorted_check {
    uint64_t last;
    size_t fired;
    uint64_t now;
};

static void
check_sorted(struct timer *t, void *arg)
{
    struct sorted_check *s = arg;

    assert_true(t->expire >= s->last);
    assert_true(t->expire <= s->now);
    s->last = t->expire;
    s->fired++;
}

/* 10^5 random timers come out in sorted order, through many ticks. */
static void
test_1e5_pop_sorted(void **state)
{
    enum { N = 100000 };
    struct timer *t = calloc(N, sizeof *t);
    struct timer_queue *q = timer_heap_new(0);
    struct sorted_check s = {0, 0, 0};
    uint64_t rng = 42;
    (void)state;

    assert_non_null(t);
    assert_non_null(q);
    for (size_t i = 0; i < N; i++) {
        timer_init(&t[i], check_sorted, &s);
        assert_int_equal(timer_add(q, &t[i], 1 + check_rand(&rng) % 1000000),
                         0);
    }
    assert_true(timer_heap_valid(q));
    assert_int_equal(timer_count(q), N);
    while (timer_count(q) > 0) {
        s.now += check_rand(&rng) % 20000;
        size_t before = s.fired;
        size_t n = timer_tick(q, s.now);
        assert_int_equal(n, s.fired - before);
        assert_true(timer_next(q) > s.now);
    }
    assert_int_equal(s.fired, N);
    assert_true(timer_heap_valid(q));
    timer_queue_destroy(q);
    free(t);
}

static void
nothing(struct timer *t, void *arg)
{
    (void)t;
    (void)arg;
}

/* The array doubles when full: 4 -> 8 -> 16; a default heap starts at
 * a small capacity on its first add. */
static void
test_growth_doubles(void **state)
{
    struct timer t[17];
    struct timer_queue *q = timer_heap_new(4);
    (void)state;

    assert_non_null(q);
    assert_int_equal(timer_heap_capacity(q), 4);
    for (int i = 0; i < 17; i++) {
        timer_init(&t[i], nothing, NULL);
        assert_int_equal(timer_add(q, &t[i], 100 - (uint64_t)i), 0);
        size_t want = i < 4 ? 4 : i < 8 ? 8 : i < 16 ? 16 : 32;
        assert_int_equal(timer_heap_capacity(q), want);
        assert_true(timer_heap_valid(q));
    }
    assert_true(timer_next(q) == 84);
    timer_queue_destroy(q);

    q = timer_heap_new(0);
    assert_non_null(q);
    assert_int_equal(timer_heap_capacity(q), 0);
    timer_init(&t[0], nothing, NULL);
    assert_int_equal(timer_add(q, &t[0], 1), 0);
    assert_true(timer_heap_capacity(q) >= 1);
    timer_queue_destroy(q);
}

/*
 * Expiries added in this order stay where they land:
 *   index  0  1    2  3    4    5  6
 *   expiry 1  100  2  101  102  3  4
 * Deleting 101 (index 3) moves the last, 4, into its place, below 100:
 * it must move up, not down.
 */
static void
test_delete_sifts_up(void **state)
{
    static const uint64_t e[] = {1, 100, 2, 101, 102, 3, 4};
    enum { N = sizeof e / sizeof e[0] };
    struct timer t[N];
    struct sorted_check s = {0, 0, 1000};
    struct timer_queue *q = timer_heap_new(0);
    (void)state;

    assert_non_null(q);
    for (int i = 0; i < N; i++) {
        timer_init(&t[i], check_sorted, &s);
        assert_int_equal(timer_add(q, &t[i], e[i]), 0);
        assert_int_equal(t[i].index, (size_t)i);
    }
    assert_true(timer_del(q, &t[3]));
    assert_true(timer_heap_valid(q));
    assert_int_equal(t[6].index, 1); /* 4 went up past 100 */
    /* deleting the last element (3, at index 5) moves nothing */
    assert_int_equal(t[5].index, 5);
    assert_true(timer_del(q, &t[5]));
    assert_true(timer_heap_valid(q));
    assert_int_equal(timer_tick(q, 1000), N - 2);
    assert_int_equal(s.fired, N - 2);
    timer_queue_destroy(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TIMER_GENERIC_TESTS(heap_backend),
        cmocka_unit_test_prestate(check_property, (void *)&tiny_heap_backend),
        cmocka_unit_test(test_1e5_pop_sorted),
        cmocka_unit_test(test_growth_doubles),
        cmocka_unit_test(test_delete_sifts_up),
    };
    return cmocka_run_group_tests_name("timer_heap", tests, NULL, NULL);
}
