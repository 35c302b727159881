/*
 * timer_check.h - what the three timer containers of chapter 11 must all
 * do, as cmocka tests that take the back end as their state, and the
 * property test that drives one against a model.
 *
 * Every back end is wrapped as a struct timer_backend; the generic tests
 * use expiries on the wheel's tick boundaries, so a wheel behaves there
 * exactly like the exact containers, and the property test knows the
 * wheel's rounding rule (timer_wheel.h) and checks it to the tick.
 */
#ifndef HPSP_TIMER_CHECK_H
#define HPSP_TIMER_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../ch11-timer/timer.h"

struct timer_backend {
    const char *name;
    /* a new, empty container whose clock starts at NOW */
    struct timer_queue *(*make)(uint64_t now);
    /* its internal invariants */
    bool (*valid)(const struct timer_queue *q);
    /* 0: exact (fires at the first tick with now >= expire); else the
     * wheel's tick in ms (fires at the boundary at or after expire) */
    uint64_t tick_ms;
    /* equal expiries fire in the order they were added (not the heap) */
    bool fifo_ties;
};

/* The time every generic test starts its container at: a multiple of
 * every tick the tests use, far from 0 so "in the past" is possible. */
#define CHECK_ORIGIN 1000000u
/* The unit of the generic tests' expiries: a multiple of the wheel tick. */
#define CHECK_STEP 10u

/* The generic tests: each takes `const struct timer_backend *` as its
 * cmocka state (cmocka_unit_test_prestate). */
void check_empty(void **state);
void check_fires_in_order(void **state);
void check_never_early(void **state);
void check_equal_expiries(void **state);
void check_adjust_both_ways(void **state);
void check_adjust_idle_adds(void **state);
void check_add_pending_refused(void **state);
void check_delete(void **state);
void check_cb_deletes_itself(void **state);
void check_cb_deletes_others(void **state);
void check_cb_rearms_itself(void **state);
void check_cb_adds_due_timer(void **state);
void check_cb_adjusts_due_timer(void **state);
void check_cb_frees_its_timer(void **state);
void check_tick_not_reentrant(void **state);
void check_destroy_with_pending(void **state);
void check_property(void **state);

/* All of them for one back end B (a `static const struct timer_backend`). */
#define TIMER_GENERIC_TESTS(b)                                                 \
    cmocka_unit_test_prestate(check_empty, (void *)&(b)),                      \
        cmocka_unit_test_prestate(check_fires_in_order, (void *)&(b)),         \
        cmocka_unit_test_prestate(check_never_early, (void *)&(b)),            \
        cmocka_unit_test_prestate(check_equal_expiries, (void *)&(b)),         \
        cmocka_unit_test_prestate(check_adjust_both_ways, (void *)&(b)),       \
        cmocka_unit_test_prestate(check_adjust_idle_adds, (void *)&(b)),       \
        cmocka_unit_test_prestate(check_add_pending_refused, (void *)&(b)),    \
        cmocka_unit_test_prestate(check_delete, (void *)&(b)),                 \
        cmocka_unit_test_prestate(check_cb_deletes_itself, (void *)&(b)),      \
        cmocka_unit_test_prestate(check_cb_deletes_others, (void *)&(b)),      \
        cmocka_unit_test_prestate(check_cb_rearms_itself, (void *)&(b)),       \
        cmocka_unit_test_prestate(check_cb_adds_due_timer, (void *)&(b)),      \
        cmocka_unit_test_prestate(check_cb_adjusts_due_timer, (void *)&(b)),   \
        cmocka_unit_test_prestate(check_cb_frees_its_timer, (void *)&(b)),     \
        cmocka_unit_test_prestate(check_tick_not_reentrant, (void *)&(b)),     \
        cmocka_unit_test_prestate(check_destroy_with_pending, (void *)&(b)),   \
        cmocka_unit_test_prestate(check_property, (void *)&(b))

/*
 * The property test on its own: OPS random operations (add, adjust,
 * delete, advance time and tick; callbacks that delete, re-arm and add)
 * from SEED, on POOL timers, against a model.  After every operation:
 * the container's invariants, its count and its next expiry; on every
 * tick: exactly the due timers fire, each once, in order of expiry (the
 * wheel: of its tick), never before its expiry, and on the wheel never
 * later than the first tick boundary at or after it.
 *
 * check_property runs a fixed list of seeds; TIMER_SEED=N (and
 * TIMER_OPS=M) in the environment runs that one seed instead, to
 * reproduce a failure, whose message names the seed and the step.
 */
void timer_property_run(const struct timer_backend *b, uint64_t seed,
                        size_t ops, size_t pool);

/* A small deterministic generator (splitmix64), for the tests. */
uint64_t check_rand(uint64_t *state);

#endif /* HPSP_TIMER_CHECK_H */
