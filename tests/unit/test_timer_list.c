/*
 * test_timer_list.c - unit and property tests of the sorted-list timer
 * container (ch11-timer/timer_list.c, listing 11-2).
 *
 * The tests every container passes come from timer_check.c, with the
 * model-based property test; here are the list's own: the order of equal
 * expiries, and adjust searching in both directions from where a timer
 * was (the printed listing could only move a timer later).
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

#include <string.h>

#include "../../ch11-timer/timer_list.h"
#include "timer_check.h"

static struct timer_queue *
make_list(uint64_t now)
{
    (void)now; /* a list needs no clock */
    return timer_list_new();
}

static const struct timer_backend list_backend = {
    .name = "list",
    .make = make_list,
    .valid = timer_list_valid,
    .tick_ms = 0,
    .fifo_ties = true,
};

enum { LOG_MAX = 64 };
static int fire_log[LOG_MAX];
static size_t fire_n;

static void
log_fire(struct timer *t, void *arg)
{
    (void)t;
    assert_true(fire_n < LOG_MAX);
    fire_log[fire_n++] = (int)(intptr_t)arg;
}

/* Ten timers at 10, 20 ... 100; move the one at I to every other place,
 * earlier and later, and check the order it fires in each time. */
static void
test_adjust_to_every_place(void **state)
{
    enum { N = 10 };
    (void)state;
    for (int from = 0; from < N; from++) {
        for (int to = 0; to <= N; to++) {
            struct timer_queue *q = timer_list_new();
            struct timer t[N];
            assert_non_null(q);
            for (int i = 0; i < N; i++) {
                timer_init(&t[i], log_fire, (void *)(intptr_t)i);
                assert_int_equal(timer_add(q, &t[i], 10 * (i + 1)), 0);
            }
            /* between the others: 5, 15, ... 105 */
            uint64_t e = 10 * (uint64_t)to + 5;
            assert_int_equal(timer_adjust(q, &t[from], e), 0);
            assert_true(timer_list_valid(q));
            fire_n = 0;
            assert_int_equal(timer_tick(q, 1000), N);
            /* the moved one fires after the `to` timers before it */
            int seen_before = 0;
            for (int k = 0; k < N; k++) {
                if (fire_log[k] == from) {
                    assert_int_equal(seen_before, to - (from < to));
                    break;
                }
                seen_before++;
            }
            timer_queue_destroy(q);
        }
    }
}

/* Equal expiries fire in the order they were added or last adjusted. */
static void
test_ties_fifo_after_adjust(void **state)
{
    struct timer_queue *q = timer_list_new();
    struct timer t[4];
    (void)state;

    assert_non_null(q);
    for (int i = 0; i < 4; i++) {
        timer_init(&t[i], log_fire, (void *)(intptr_t)i);
        assert_int_equal(timer_add(q, &t[i], 50), 0);
    }
    /* 1 moves away and back: now the last of the 50s */
    assert_int_equal(timer_adjust(q, &t[1], 10), 0);
    assert_int_equal(timer_adjust(q, &t[1], 50), 0);
    /* 2 "moves" to where it is: also goes behind its equals */
    assert_int_equal(timer_adjust(q, &t[2], 50), 0);
    assert_true(timer_list_valid(q));
    fire_n = 0;
    assert_int_equal(timer_tick(q, 50), 4);
    static const int want[] = {0, 3, 1, 2};
    assert_memory_equal(fire_log, want, sizeof want);
    timer_queue_destroy(q);
}

static size_t count_fired;

static void
count_fire(struct timer *t, void *arg)
{
    (void)t;
    (void)arg;
    count_fired++;
}

/* Idle timeouts: each new one is the latest, and goes to the tail. */
static void
test_idle_timeouts_append(void **state)
{
    enum { N = 1000 };
    static struct timer t[N];
    struct timer_queue *q = timer_list_new();
    (void)state;

    assert_non_null(q);
    for (int i = 0; i < N; i++) {
        timer_init(&t[i], count_fire, NULL);
        assert_int_equal(timer_add(q, &t[i], 3000 + (uint64_t)i), 0);
        /* a read pushes an older connection back to the tail */
        if (i % 10 == 9)
            assert_int_equal(timer_adjust(q, &t[i - 5], 3000 + (uint64_t)i), 0);
    }
    assert_true(timer_list_valid(q));
    assert_int_equal(timer_count(q), N);
    count_fired = 0;
    assert_int_equal(timer_tick(q, 3000 + N), N);
    assert_int_equal(count_fired, N);
    timer_queue_destroy(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        TIMER_GENERIC_TESTS(list_backend),
        cmocka_unit_test(test_adjust_to_every_place),
        cmocka_unit_test(test_ties_fifo_after_adjust),
        cmocka_unit_test(test_idle_timeouts_append),
    };
    return cmocka_run_group_tests_name("timer_list", tests, NULL, NULL);
}
